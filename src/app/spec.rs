//! The spec file of a running application (`rowguard app SPEC`): TOML,
//! read once and checked against the fixture before anything starts.
//!
//! It names how to start the application (`[app]`), the fixture it runs
//! on (`[fixture]`: SQL per database), the versions under test
//! (`[[version]]`), requests run once the application answers
//! (`[[setup]]`), and each operation as a request with the kinds of its
//! fields and the policy of what it may write (`[[op]]`). docs/app.md is
//! the reference a team writes one from.
//!
//! Everything a spec names is checked here, each with one line naming the
//! spec, the op and the field: a policy table or column the fixture does
//! not have, a key field without rows, a path placeholder that is no field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::fixture::Tables;

/// Largest spec file read.
const MAX_SPEC: u64 = 1 << 20;

/// A spec file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    #[serde(default)]
    source: Vec<String>,
    openapi: Option<String>,
    app: AppFile,
    fixture: FixtureFile,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    setup: Vec<RequestFile>,
    #[serde(default)]
    version: Vec<VersionFile>,
    #[serde(default)]
    op: Vec<OpFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    serve: Option<String>,
    url: Option<String>,
    ready: Option<String>,
    ready_timeout: Option<f64>,
    timeout: Option<f64>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    sqlite: Option<String>,
    mysql: Option<String>,
    postgres: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    method: Option<String>,
    path: String,
    #[serde(default)]
    form: BTreeMap<String, toml::Value>,
    json: Option<toml::Value>,
    #[serde(default)]
    query: BTreeMap<String, toml::Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    save: BTreeMap<String, SaveFile>,
}

/// A value a setup request's answer holds, kept for `{name}` in headers and fixed fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveFile {
    /// A JSON pointer into a JSON answer (`/token`).
    json: Option<String>,
    /// A regex whose first group is the value (`name="csrf" value="([^"]+)"`).
    regex: Option<String>,
    /// A header of the answer.
    header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    name: String,
    serve: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    bug: Option<String>,
    trigger: Option<String>,
    #[serde(default)]
    databases: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpFile {
    name: String,
    operation: Option<String>,
    method: Option<String>,
    path: Option<String>,
    body: Option<String>,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    policy: PolicyFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    table: String,
    key: String,
    column: Option<String>,
    #[serde(default)]
    writable: Vec<String>,
    #[serde(default)]
    side_effects: Vec<SideEffectFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideEffectFile {
    table: String,
    column: String,
    #[serde(default)]
    insert: bool,
    #[serde(default)]
    update: bool,
    #[serde(default)]
    delete: bool,
}

/// A checked spec.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    /// The spec file's folder: what relative paths are taken in.
    pub dir: PathBuf,
    /// Folders of the application's source, for words (absolute).
    pub sources: Vec<PathBuf>,
    pub app: App,
    /// The fixture's SQL per database (`sqlite`, `mysql`, `postgres`).
    pub fixture: BTreeMap<&'static str, String>,
    /// The tables the fixture declares (from its first SQL file).
    pub tables: Tables,
    pub headers: Vec<(String, String)>,
    pub setup: Vec<Request>,
    pub versions: Vec<Version>,
    pub ops: Vec<Op>,
}

/// How the application is started and reached.
#[derive(Debug, Clone)]
pub struct App {
    /// The command that starts it (`sh -c`), or none: attach to `url`.
    pub serve: Option<String>,
    /// Its base URL (`{port}`: the port rowguard picked).
    pub url: String,
    pub ready: String,
    pub ready_timeout: f64,
    pub timeout: f64,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

/// A fixed request (`[[setup]]`).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub json: Option<serde_json::Value>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// Values of its answer kept under a name.
    pub save: Vec<(String, Save)>,
}

/// Where a kept value is in a setup request's answer.
#[derive(Debug, Clone)]
pub enum Save {
    Json(String),
    Regex(regex::Regex),
    Header(String),
}

/// One version of the application.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: &'static str,
    pub serve: Option<String>,
    pub env: Vec<(String, String)>,
    pub bug: &'static str,
    pub trigger: &'static str,
    pub databases: &'static [&'static str],
}

/// Where an operation's fields other than the path's go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Form,
    Json,
    Query,
}

/// What the fuzzer may write in one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Free text: the fuzzer's.
    Text,
    /// A key of the fixture: one of these values.
    Key(Vec<serde_json::Value>),
    /// One of these values.
    OneOf(Vec<serde_json::Value>),
    /// An integer in this range.
    Int(i64, i64),
    /// Always this value (not part of the operation's JSON).
    Fixed(serde_json::Value),
}

/// One operation: a request and its policy.
#[derive(Debug, Clone)]
pub struct Op {
    pub name: String,
    pub method: String,
    pub path: String,
    pub body: Body,
    pub fields: Vec<(String, Field)>,
    pub headers: Vec<(String, String)>,
    pub policy: OpPolicy,
}

/// What one operation may write.
#[derive(Debug, Clone)]
pub struct OpPolicy {
    pub table: String,
    /// The field holding the target key.
    pub key: String,
    pub column: String,
    pub writable: Vec<String>,
    pub side_effects: Vec<crate::guard::SideEffect>,
}

impl Op {
    /// The fields an operation's JSON holds (all but the fixed ones).
    pub fn free(&self) -> impl Iterator<Item = &(String, Field)> {
        self.fields
            .iter()
            .filter(|(_, f)| !matches!(f, Field::Fixed(_)))
    }

    /// The names of the path's `{placeholders}`.
    pub fn placeholders(&self) -> Vec<String> {
        placeholders(&self.path)
    }
}

fn placeholders(path: &str) -> Vec<String> {
    use super::http::Piece;
    let names = super::http::pieces(path).into_iter();
    names
        .filter_map(|p| match p {
            Piece::Name(n) => Some(n.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Largest fixture SQL file read.
const MAX_FIXTURE: u64 = 64 << 20;

/// A file the spec names, relative to its folder: a regular file (a FIFO
/// or a device is refused, not waited on), at most `limit` bytes.
fn read_beside(dir: &Path, name: &str, limit: u64) -> Result<Vec<u8>, String> {
    let p = dir.join(name);
    let file = crate::tools::input::open_regular(&p).map_err(|e| e.to_string())?;
    crate::tools::input::read_open_file(file, &p, limit).map_err(|e| e.to_string())
}

/// Reads and checks the spec at `path`.
pub fn load(path: &Path) -> crate::Result<Spec> {
    let file = crate::tools::input::open_regular(path)?;
    let bytes = crate::tools::input::read_open_file(file, path, MAX_SPEC).map_err(|_| {
        crate::Error::Usage(format!(
            "{}: larger than {MAX_SPEC} bytes: not a spec",
            path.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        crate::Error::Usage(format!("{}: not UTF-8 text: not a spec", path.display()))
    })?;
    let bad = |what: String| crate::Error::Usage(format!("{}: {what}", path.display()));
    let file: File = toml::from_str(&text).map_err(|e| {
        // toml's message is several lines: where, the line drawn, and what
        let text = e.to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let what = match (lines.first(), lines.last()) {
            (Some(at), Some(what)) if at != what => format!("{what} ({at})"),
            (Some(at), _) => at.to_string(),
            _ => "unreadable TOML".into(),
        };
        bad(format!("not a spec: {what}"))
    })?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| crate::Error::io(path, e))?;
    check(file, path, dir).map_err(bad)
}

fn check(file: File, path: &Path, dir: PathBuf) -> Result<Spec, String> {
    let name = file
        .name
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into());
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("name `{name}`: letters, digits, - and _ only"));
    }
    let mut fixture = BTreeMap::new();
    for (db, file_name) in [
        ("sqlite", &file.fixture.sqlite),
        ("mysql", &file.fixture.mysql),
        ("postgres", &file.fixture.postgres),
    ] {
        if let Some(f) = file_name {
            let text = read_beside(&dir, f, MAX_FIXTURE)
                .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".into()))
                .map_err(|e| format!("[fixture] {db}: {e}"))?;
            fixture.insert(db, text);
        }
    }
    if fixture.is_empty() {
        return Err("[fixture] names no SQL file (sqlite, mysql or postgres)".into());
    }
    let mut tables: Option<Tables> = None;
    for (db, text) in &fixture {
        let t = Tables::parse(db, text).map_err(|e| format!("[fixture] {db}: {e}"))?;
        tables.get_or_insert(t);
    }
    let tables = tables.expect("a fixture was read");

    let app = file.app;
    let timeout = |v: Option<f64>, default: f64, what: &str| match v {
        None => Ok(default),
        Some(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        Some(s) => Err(format!(
            "[app] {what} = {s}: seconds, above 0 and at most 3600"
        )),
    };
    let app = App {
        serve: app.serve.filter(|s| !s.trim().is_empty()),
        url: app
            .url
            .unwrap_or_else(|| "http://127.0.0.1:{port}".into())
            .trim_end_matches('/')
            .to_string(),
        ready: app.ready.unwrap_or_else(|| "/".into()),
        ready_timeout: timeout(app.ready_timeout, 30.0, "ready_timeout")?,
        timeout: timeout(app.timeout, 10.0, "timeout")?,
        cwd: dir.join(app.cwd.unwrap_or_else(|| ".".into())),
        env: app.env.into_iter().collect(),
    };
    if !app.url.starts_with("http://") {
        return Err(format!(
            "[app] url `{}`: rowguard speaks plain http:// to the application (on loopback)",
            app.url
        ));
    }
    if !app.ready.starts_with('/') {
        return Err(format!(
            "[app] ready `{}`: a path, starting with /",
            app.ready
        ));
    }

    let mut versions = Vec::new();
    for v in file.version {
        if versions.iter().any(|o: &Version| o.name == v.name) {
            return Err(format!("[[version]] `{}` twice", v.name));
        }
        let databases: Vec<&'static str> = v
            .databases
            .into_iter()
            .map(|d| match d.as_str() {
                "sqlite" | "postgres" | "mysql" => Ok(leak(d)),
                _ => Err(format!(
                    "[[version]] `{}`: database `{d}` (sqlite, postgres or mysql)",
                    v.name
                )),
            })
            .collect::<Result<_, _>>()?;
        versions.push(Version {
            serve: v.serve.or_else(|| app.serve.clone()),
            env: v.env.into_iter().collect(),
            // the first version is the correct one; the others are planted
            bug: leak(v.bug.unwrap_or_else(|| {
                if versions.is_empty() {
                    "none"
                } else {
                    "planted"
                }
                .into()
            })),
            trigger: leak(v.trigger.unwrap_or_else(|| "none".into())),
            databases: Box::leak(databases.into_boxed_slice()),
            name: leak(v.name),
        });
    }
    if versions.is_empty() {
        versions.push(Version {
            name: "app",
            serve: app.serve.clone(),
            env: Vec::new(),
            bug: "none",
            trigger: "none",
            databases: &[],
        });
    }

    let setup = file
        .setup
        .into_iter()
        .enumerate()
        .map(|(i, r)| request(r).map_err(|e| format!("[[setup]] {}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;

    if file.op.is_empty() {
        return Err("no [[op]]: name at least one operation".into());
    }
    let openapi = match &file.openapi {
        Some(f) => {
            let text = read_beside(&dir, f, MAX_SPEC * 16).map_err(|e| format!("openapi: {e}"))?;
            let doc: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| format!("openapi: {f}: not a JSON OpenAPI document ({e})"))?;
            Some(doc)
        }
        None => None,
    };
    let mut ops: Vec<Op> = Vec::new();
    for o in file.op {
        let name = o.name.clone();
        if ops.iter().any(|p| p.name == name) {
            return Err(format!("[[op]] `{name}` twice"));
        }
        ops.push(op(o, &tables, openapi.as_ref()).map_err(|e| format!("op `{name}`: {e}"))?);
    }
    let sources = file.source.iter().map(|s| dir.join(s)).collect();
    Ok(Spec {
        name,
        dir,
        sources,
        app,
        fixture,
        tables,
        headers: file.headers.into_iter().collect(),
        setup,
        versions,
        ops,
    })
}

fn method(m: Option<String>, default: &str) -> Result<String, String> {
    let m = m.unwrap_or_else(|| default.into()).to_ascii_uppercase();
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("method `{m}`: an HTTP method (GET, POST, ...)"));
    }
    Ok(m)
}

fn path_of(p: String) -> Result<String, String> {
    if !p.starts_with('/') || p.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("path `{p}`: starts with / and holds no space"));
    }
    Ok(p)
}

/// A TOML value as the JSON value sent.
fn json(v: toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A value as the text a form or query carries.
pub fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pairs(m: BTreeMap<String, toml::Value>) -> Vec<(String, String)> {
    m.into_iter().map(|(k, v)| (k, text_of(&json(v)))).collect()
}

fn request(r: RequestFile) -> Result<Request, String> {
    Ok(Request {
        method: method(r.method, "POST")?,
        path: path_of(r.path)?,
        form: pairs(r.form),
        json: r.json.map(json),
        query: pairs(r.query),
        headers: r.headers.into_iter().collect(),
        save: r
            .save
            .into_iter()
            .map(|(name, s)| {
                let how = match (s.json, s.regex, s.header) {
                    (Some(p), None, None) if p.is_empty() || p.starts_with('/') => Save::Json(p),
                    (None, Some(r), None) => {
                        let re = regex::Regex::new(&r).map_err(|e| format!("save `{name}`: regex: {}", e.to_string().replace('\n', " ")))?;
                        if re.captures_len() < 2 {
                            return Err(format!("save `{name}`: the regex has no (group) to keep"));
                        }
                        Save::Regex(re)
                    }
                    (None, None, Some(h)) => Save::Header(h),
                    _ => return Err(format!("save `{name}`: one of json = \"/pointer\", regex = \"...(group)...\" or header = \"Name\"")),
                };
                Ok((name, how))
            })
            .collect::<Result<_, String>>()?,
    })
}

fn field(name: &str, v: toml::Value, tables: &Tables) -> Result<Field, String> {
    let kinds = "\"text\", { key = \"table.column\" }, { one_of = [...] }, { int = [low, high] } or { fixed = value }";
    match v {
        toml::Value::String(s) if s == "text" => Ok(Field::Text),
        toml::Value::Table(t) if t.len() == 1 => {
            let (kind, v) = t.into_iter().next().expect("one entry");
            match (kind.as_str(), v) {
                ("key", toml::Value::String(at)) => {
                    let (table, column) = at
                        .split_once('.')
                        .ok_or_else(|| format!("field `{name}`: key `{at}`: table.column"))?;
                    let values = tables
                        .values(table, column)
                        .map_err(|e| format!("field `{name}`: {e}"))?;
                    if values.is_empty() {
                        return Err(format!("field `{name}`: the fixture has no row in {table} to draw {column} from"));
                    }
                    Ok(Field::Key(values))
                }
                ("one_of", toml::Value::Array(a)) if !a.is_empty() => {
                    Ok(Field::OneOf(a.into_iter().map(json).collect()))
                }
                ("int", toml::Value::Array(a)) => match a.as_slice() {
                    [toml::Value::Integer(lo), toml::Value::Integer(hi)] if lo <= hi => {
                        Ok(Field::Int(*lo, *hi))
                    }
                    _ => Err(format!("field `{name}`: int = [low, high], low <= high")),
                },
                ("fixed", v) => Ok(Field::Fixed(json(v))),
                _ => Err(format!("field `{name}`: {kinds}")),
            }
        }
        _ => Err(format!("field `{name}`: {kinds}")),
    }
}

fn op(mut o: OpFile, tables: &Tables, openapi: Option<&serde_json::Value>) -> Result<Op, String> {
    if let Some(id) = &o.operation {
        let doc = openapi.ok_or("it names an operation, and the spec names no openapi document")?;
        let shape = super::openapi::shape(doc, id)?;
        o.method = o.method.or(Some(shape.method));
        o.path = o.path.or(Some(shape.path));
        o.body = o.body.or(shape.body.map(str::to_string));
        // the spec's own fields win; the document's fill in the rest, in its order
        let mut fields = toml::Table::new();
        for (name, kind) in shape.fields {
            let kind = o.fields.remove(&name).unwrap_or(kind);
            fields.insert(name, kind);
        }
        fields.extend(std::mem::take(&mut o.fields));
        o.fields = fields;
    }
    let method = method(o.method, "POST")?;
    let path = path_of(
        o.path
            .ok_or("no path (and no operation of an openapi document)")?,
    )?;
    let body = match o.body.as_deref() {
        None if method == "GET" || method == "HEAD" || method == "DELETE" => Body::Query,
        None | Some("form") => Body::Form,
        Some("json") => Body::Json,
        Some("query") => Body::Query,
        Some(b) => return Err(format!("body `{b}`: form, json or query")),
    };
    let mut fields = Vec::new();
    for (name, v) in o.fields {
        if name == "op" {
            return Err(
                "a field may not be called `op` (the operation's name in a reproducer)".into(),
            );
        }
        fields.push((name.clone(), field(&name, v, tables)?));
    }
    for p in placeholders(&path) {
        if !fields.iter().any(|(n, _)| *n == p) {
            return Err(format!("path `{path}`: {{{p}}} is no field of the op"));
        }
    }
    let p = o.policy;
    tables
        .column(&p.table, None)
        .map_err(|e| format!("policy: {e}"))?;
    let Some((_, key_field)) = fields.iter().find(|(n, _)| *n == p.key) else {
        return Err(format!("policy: key `{}` is no field of the op", p.key));
    };
    if matches!(key_field, Field::Text) {
        return Err(format!(
            "policy: key `{}` is free text: a key field is {{ key = \"table.column\" }}, {{ int = [...] }}, {{ one_of = [...] }} or {{ fixed = ... }}",
            p.key
        ));
    }
    let column = p.column.unwrap_or_else(|| "id".into());
    tables
        .column(&p.table, Some(&column))
        .map_err(|e| format!("policy: {e}"))?;
    for c in &p.writable {
        tables
            .column(&p.table, Some(c))
            .map_err(|e| format!("policy: writable: {e}"))?;
    }
    let mut side_effects = Vec::new();
    for s in p.side_effects {
        tables
            .column(&s.table, Some(&s.column))
            .map_err(|e| format!("policy: side_effects: {e}"))?;
        let mut e = crate::guard::SideEffect::new(s.table, s.column);
        e.insert = s.insert;
        e.update = s.update;
        e.delete = s.delete;
        side_effects.push(e);
    }
    Ok(Op {
        name: o.name,
        method,
        path,
        body,
        fields,
        headers: o.headers.into_iter().collect(),
        policy: OpPolicy {
            table: p.table,
            key: p.key,
            column,
            writable: p.writable,
            side_effects,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read_in_order() {
        assert_eq!(placeholders("/a/{id}/b/{day}"), vec!["id", "day"]);
        assert!(placeholders("/a/{unclosed").is_empty());
    }
}

#[cfg(test)]
mod files {
    use super::*;

    const FIXTURE: &str =
        "CREATE TABLE loans (id INTEGER PRIMARY KEY, comment TEXT, member INTEGER);
INSERT INTO loans VALUES (1, '', 7), (2, '', 7), (3, '', 8);";

    fn spec(op: &str) -> Result<Spec, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.sql"), FIXTURE).unwrap();
        let text = format!(
            "[app]\nserve = \"true\"\n[fixture]\nsqlite = \"f.sql\"\n[[op]]\nname = \"renew\"\npath = \"/loans/{{id}}\"\n{op}"
        );
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        load(&path).map_err(|e| e.to_string())
    }

    const FIELDS: &str = "[op.fields]\nid = { key = \"loans.id\" }\ncomment = \"text\"\n";

    #[test]
    fn a_spec_reads_and_each_mistake_is_named() {
        let ok = spec(&format!(
            "{FIELDS}[op.policy]\ntable = \"loans\"\nkey = \"id\"\nwritable = [\"comment\"]\n"
        ))
        .unwrap();
        assert_eq!(ok.versions[0].name, "app");
        assert_eq!(
            ok.ops[0].fields[0].1,
            Field::Key(vec![1.into(), 2.into(), 3.into()])
        );
        let bad = [
            (
                "[op.policy]\ntable = \"loanz\"\nkey = \"id\"\n",
                "table `loanz` is not in the fixture",
            ),
            (
                "[op.policy]\ntable = \"loans\"\nkey = \"id\"\nwritable = [\"due\"]\n",
                "column `due`",
            ),
            (
                "[op.policy]\ntable = \"loans\"\nkey = \"comment\"\n",
                "is free text",
            ),
            (
                "[op.policy]\ntable = \"loans\"\nkey = \"nope\"\n",
                "key `nope` is no field",
            ),
            (
                "[op.policy]\ntable = \"loans\"\nkey = \"id\"\ncolumn = \"nope\"\n",
                "column `nope`",
            ),
        ];
        for (policy, says) in bad {
            let e = spec(&format!("{FIELDS}{policy}")).unwrap_err();
            assert!(e.contains(says), "{says}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = spec(
            "[op.fields]\ncomment = \"text\"\n[op.policy]\ntable = \"loans\"\nkey = \"comment\"\n",
        )
        .unwrap_err();
        assert!(e.contains("{id} is no field"), "{e}");
        let e = spec("[op.fields]\nid = { key = \"loans.nope\" }\n[op.policy]\ntable = \"loans\"\nkey = \"id\"\n").unwrap_err();
        assert!(e.contains("column `nope`"), "{e}");
        let e = spec(
            "[op.fields]\nid = { whatever = 1 }\n[op.policy]\ntable = \"loans\"\nkey = \"id\"\n",
        )
        .unwrap_err();
        assert!(e.contains("{ key = "), "{e}");
    }
}

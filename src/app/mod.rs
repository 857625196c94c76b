//! A running application as the code under test, in any language, from a
//! spec file (`rowguard app SPEC COMMAND`): the spec becomes a harness
//! ([`Domain`]) whose versions connect themselves, so every command works
//! on it as on a Rust harness, and every row the application changes is
//! judged at the database ([`crate::guard::watch`]).
//!
//! ```text
//!   spec.toml ──spec──▶ AppDomain (ops, policies, fixture) ── versions ──▶ AppVersion
//!                                                                          │ prepare(target): serve + wait + [[setup]]
//!   engine / repro / gate ──execute──▶ Watched fixture ◀── SQL ── app ◀────┘ run_at(op): one HTTP request
//! ```
//!
//! An operation is JSON (`{"op": "reschedule", "id": 7, "notes": "..."}`):
//! one request, its free fields the spec's; the reproducer of an input is
//! the sequence of them. Each op's transcript (the request, its answer,
//! the `curl` command sending the same bytes, what the application printed)
//! goes with the execution; the texts of each answer are words for the
//! engine. An application that dies, never answers or hangs ends the
//! command with one line and exit 2; findings already made are kept.

pub mod fixture;
pub mod http;
pub mod openapi;
pub mod serve;
pub mod spec;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value as Json};

use crate::guard::watch::Target;
use crate::guard::{Db, DbError, ErrorClass, Policy, Value};
use crate::harness::domain::{Domain, Exchange, Fixture, OpValue, Pipeline};

use http::{Body, Client, Prepared};
use serve::{Server, Start};
use spec::{Field, Spec};

/// The spec's harness.
struct AppDomain {
    spec: Spec,
    name: &'static str,
    sources: &'static [&'static str],
    pipelines: OnceLock<Vec<&'static dyn Pipeline>>,
    versions: OnceLock<Vec<&'static AppVersion>>,
}

/// One version: one running application per fixture (a fuzzing worker has
/// a fixture of its own, so `--jobs N` runs N applications side by side).
struct AppVersion {
    domain: &'static AppDomain,
    version: spec::Version,
    /// The applications, by the fixture (target URL) they run against.
    running: Mutex<HashMap<String, Arc<Mutex<Running>>>>,
    /// Each thread's last exchange ([`Pipeline::exchange`]).
    last: Mutex<HashMap<ThreadId, Exchange>>,
}

/// One application, started against one fixture.
struct Running {
    server: Server,
    client: Client,
    /// The setup's lines, for the first op after a start.
    started: Vec<String>,
    /// What the setup's answers held (`save`).
    saved: Saved,
    /// When an operation last ran on it: one unused for [`IDLE`] belongs to
    /// a fixture that is gone (a worker's or a minimizer's session) and is stopped.
    used: Instant,
}

/// How long an application may sit unused before it is taken for abandoned.
const IDLE: Duration = Duration::from_secs(10);

/// The application harnesses this process loaded (stopped at its end).
static LOADED: Mutex<Vec<&'static AppDomain>> = Mutex::new(Vec::new());

/// Reads the spec at `path` and makes it a harness; also returns the
/// spec's folder.
pub fn load(path: &Path) -> crate::Result<(&'static dyn Domain, std::path::PathBuf)> {
    let spec = spec::load(path)?;
    let sources: Vec<&'static str> = spec
        .sources
        .iter()
        .map(|p| &*Box::leak(p.display().to_string().into_boxed_str()))
        .collect();
    let domain: &'static AppDomain = Box::leak(Box::new(AppDomain {
        name: Box::leak(spec.name.clone().into_boxed_str()),
        sources: Box::leak(sources.into_boxed_slice()),
        spec,
        pipelines: OnceLock::new(),
        versions: OnceLock::new(),
    }));
    let versions: Vec<&'static AppVersion> = domain
        .spec
        .versions
        .iter()
        .map(|v| {
            &*Box::leak(Box::new(AppVersion {
                domain,
                version: v.clone(),
                running: Mutex::new(HashMap::new()),
                last: Mutex::new(HashMap::new()),
            }))
        })
        .collect();
    let _ = domain.pipelines.set(
        versions
            .iter()
            .map(|v| *v as &'static dyn Pipeline)
            .collect(),
    );
    let _ = domain.versions.set(versions);
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.push(domain);
    }
    Ok((domain, domain.spec.dir.clone()))
}

/// Stops every application this process started.
pub fn stop_all() {
    let loaded = LOADED.lock().map(|l| l.clone()).unwrap_or_default();
    for domain in loaded {
        for v in domain.versions.get().into_iter().flatten() {
            let all: Vec<_> = v
                .running
                .lock()
                .map(|mut r| r.drain().collect())
                .unwrap_or_default();
            for (_, app) in all {
                if let Ok(mut app) = app.lock() {
                    app.server.stop();
                }
            }
        }
    }
}

/// A JSON value as the guard's.
fn value(v: &Json) -> Value {
    match v {
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .or_else(|| n.as_f64().map(Value::Real))
            .unwrap_or(Value::Null),
        Json::String(s) => Value::Text(s.clone()),
        Json::Bool(b) => Value::Integer(i64::from(*b)),
        Json::Null => Value::Null,
        other => Value::Text(other.to_string()),
    }
}

impl AppDomain {
    fn op<'a>(&'a self, op: &'a OpValue) -> Result<(&'a spec::Op, &'a Map<String, Json>), String> {
        let obj = op.as_object().ok_or("an operation is a JSON object")?;
        let name = obj
            .get("op")
            .and_then(Json::as_str)
            .ok_or("an operation names its kind in \"op\"")?;
        let o = self
            .spec
            .ops
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.spec.ops.iter().map(|o| o.name.as_str()).collect();
                format!("no op `{name}` in the spec (it has: {})", known.join(", "))
            })?;
        Ok((o, obj))
    }

    /// The value `op` gives field `name` (a fixed field's own, with the
    /// setup's `saved` values in it).
    fn field(o: &spec::Op, obj: &Map<String, Json>, name: &str, saved: &Saved) -> Json {
        match o.fields.iter().find(|(n, _)| n == name) {
            Some((_, Field::Fixed(v))) => filled(v, saved),
            _ => obj.get(name).cloned().unwrap_or(Json::Null),
        }
    }

    /// The request `op` is.
    fn request(&self, op: &OpValue, saved: &Saved) -> Result<(String, Prepared), String> {
        let (o, obj) = self.op(op)?;
        let placeholders = o.placeholders();
        let path = http::fill_path(&o.path, |name| {
            spec::text_of(&Self::field(o, obj, name, saved))
        });
        let rest: Vec<(String, Json)> = o
            .fields
            .iter()
            .filter(|(n, _)| !placeholders.contains(n))
            .map(|(n, _)| (n.clone(), Self::field(o, obj, n, saved)))
            .collect();
        let text = |rest: Vec<(String, Json)>| -> Vec<(String, String)> {
            rest.into_iter()
                .map(|(k, v)| (k, spec::text_of(&v)))
                .collect()
        };
        let (query, body) = match o.body {
            spec::Body::Query => (text(rest), Body::None),
            spec::Body::Form => (Vec::new(), Body::Form(text(rest))),
            spec::Body::Json => (
                Vec::new(),
                Body::Json(Json::Object(rest.into_iter().collect())),
            ),
        };
        let headers = self.headers(&o.headers, saved);
        Ok((
            o.name.clone(),
            Prepared {
                method: o.method.clone(),
                path,
                query,
                body,
                headers,
            },
        ))
    }

    /// The spec's headers and `own`, with the `saved` values in them.
    fn headers(&self, own: &[(String, String)], saved: &Saved) -> Vec<(String, String)> {
        let all = self.spec.headers.iter().chain(own);
        all.map(|(k, v)| (k.clone(), fill(v, saved))).collect()
    }

    /// A `[[setup]]` request, with the values earlier ones saved in it.
    fn setup_request(&self, r: &spec::Request, saved: &Saved) -> Prepared {
        let pairs = |p: &[(String, String)]| -> Vec<(String, String)> {
            p.iter().map(|(k, v)| (k.clone(), fill(v, saved))).collect()
        };
        let body = match (&r.json, r.form.is_empty()) {
            (Some(j), _) => Body::Json(filled(j, saved)),
            (None, false) => Body::Form(pairs(&r.form)),
            (None, true) => Body::None,
        };
        Prepared {
            method: r.method.clone(),
            path: r.path.clone(),
            query: pairs(&r.query),
            body,
            headers: self.headers(&r.headers, saved),
        }
    }
}

/// Values `[[setup]]` answers held, by name (`save`).
type Saved = Vec<(String, String)>;

/// `text` with each saved `{name}` replaced.
fn fill(text: &str, saved: &Saved) -> String {
    let vars: Vec<(&str, String)> = saved.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    serve::fill(text, &vars)
}

/// A JSON value with each saved `{name}` replaced in its strings.
fn filled(v: &Json, saved: &Saved) -> Json {
    match v {
        Json::String(s) => Json::String(fill(s, saved)),
        Json::Array(a) => Json::Array(a.iter().map(|v| filled(v, saved)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), filled(v, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The value `how` finds in an answer.
fn saved_value(how: &spec::Save, a: &http::Answer) -> Option<String> {
    match how {
        spec::Save::Json(pointer) => {
            let v: Json = serde_json::from_slice(&a.body).ok()?;
            v.pointer(pointer).map(spec::text_of)
        }
        spec::Save::Regex(re) => {
            let text = String::from_utf8_lossy(&a.body);
            re.captures(&text)?.get(1).map(|m| m.as_str().to_string())
        }
        spec::Save::Header(name) => a
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone()),
    }
}

impl Domain for AppDomain {
    fn name(&self) -> &'static str {
        self.name
    }
    fn pipelines(&self) -> &[&'static dyn Pipeline] {
        self.pipelines.get().map_or(&[], Vec::as_slice)
    }
    fn fixture(&self) -> Fixture {
        let f = &self.spec.fixture;
        let mut fixture = match f.get("sqlite") {
            Some(sql) => Fixture::sql(sql.clone()),
            // the words and keys of a server-only fixture; the application
            // never runs on it ([`AppVersion::prepare`] refuses a SQLite target)
            None => Fixture::sql(self.spec.tables.sqlite_copy()),
        };
        fixture.postgres = f.get("postgres").cloned();
        fixture.mysql = f.get("mysql").cloned();
        fixture
    }
    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<OpValue> {
        let o = u.choose(&self.spec.ops)?;
        let mut obj = Map::new();
        obj.insert("op".into(), o.name.clone().into());
        for (name, f) in o.free() {
            let v = match f {
                Field::Text => String::arbitrary(u)?.into(),
                Field::Key(vals) | Field::OneOf(vals) => u.choose(vals)?.clone(),
                Field::Int(lo, hi) => u.int_in_range(*lo..=*hi)?.into(),
                Field::Fixed(v) => v.clone(),
            };
            obj.insert(name.clone(), v);
        }
        Ok(Json::Object(obj))
    }
    fn check(&self, op: &OpValue) -> Result<(), String> {
        let (o, obj) = self.op(op)?;
        for key in obj.keys().filter(|k| *k != "op") {
            if !o.free().any(|(n, _)| n == key) {
                return Err(format!("op `{}` has no free field `{key}`", o.name));
            }
        }
        for (name, f) in o.free() {
            let v = obj
                .get(name)
                .ok_or_else(|| format!("op `{}` lacks field `{name}`", o.name))?;
            let fits = match f {
                Field::Text => v.is_string(),
                Field::Int(..) => v.is_i64(),
                _ => v.is_string() || v.is_number(),
            };
            if !fits {
                return Err(format!(
                    "op `{}`: field `{name}` holds {v}, not a {f:?}",
                    o.name
                ));
            }
        }
        Ok(())
    }
    fn reads(&self, op: &OpValue) -> bool {
        self.check(op).is_ok()
    }
    fn policy(&self, op: &OpValue, _db: &mut dyn Db) -> Result<Policy, DbError> {
        let (o, obj) = self
            .op(op)
            .map_err(|e| DbError::new(ErrorClass::Other, e))?;
        let p = &o.policy;
        let mut policy = Policy::new(&p.table, &p.column)
            .key(value(&Self::field(o, obj, &p.key, &Saved::new())))
            .writable(p.writable.iter().cloned());
        policy.side_effects = p.side_effects.clone();
        Ok(policy)
    }
    fn example(&self) -> OpValue {
        let o = &self.spec.ops[0];
        let mut obj = Map::new();
        obj.insert("op".into(), o.name.clone().into());
        for (name, f) in o.free() {
            let v = match f {
                Field::Text => "hello".into(),
                Field::Key(vals) | Field::OneOf(vals) => vals[0].clone(),
                Field::Int(lo, _) => (*lo).into(),
                Field::Fixed(v) => v.clone(),
            };
            obj.insert(name.clone(), v);
        }
        Json::Object(obj)
    }
    fn sources(&self) -> &'static [&'static str] {
        self.sources
    }
    fn resized(&self, _rows: usize) -> Option<&'static dyn Domain> {
        None
    }
    fn describe(&self, _op: &OpValue) -> Option<String> {
        None
    }
}

impl AppVersion {
    /// Starts the application against `target`, waits for it, runs the setup.
    fn start(&self, target: &Target) -> Result<Running, String> {
        let spec = &self.domain.spec;
        let mut env = spec.app.env.clone();
        env.extend(self.version.env.iter().cloned());
        let mut server = Server::start(
            Start {
                serve: self.version.serve.as_deref(),
                url: &spec.app.url,
                cwd: &spec.app.cwd,
                env,
            },
            target,
        )?;
        let client = Client::new(Duration::from_secs_f64(spec.app.timeout));
        server.wait_ready(
            &client,
            &spec.app.ready,
            Duration::from_secs_f64(spec.app.ready_timeout),
        )?;
        let mut lines = vec![format!(
            "application `{}` at APP={} (its database: {target})",
            self.version.name, server.base
        )];
        let jar = !spec.setup.is_empty();
        let mut saved = Saved::new();
        for (i, r) in spec.setup.iter().enumerate() {
            let req = self.domain.setup_request(r, &saved);
            let what = format!("setup request {} ({} {})", i + 1, req.method, req.path);
            match client.send(&server.base, &req) {
                Ok(a) if a.status < 400 => {
                    for (name, how) in &r.save {
                        let value = saved_value(how, &a).ok_or_else(|| {
                            format!(
                                "{what}: its answer holds no `{name}` to save ({how:?}): {}",
                                first_line(&a.body)
                            )
                        })?;
                        saved.retain(|(k, _)| k != name);
                        saved.push((name.clone(), value));
                    }
                }
                Ok(a) => {
                    return Err(format!(
                        "{what} answered {}: {}",
                        a.status,
                        first_line(&a.body)
                    ))
                }
                Err(e) => return Err(format!("{what} got no answer: {}{}", e.0, server.tail())),
            }
            lines.push(format!("setup: {}", http::curl(&req, jar)));
        }
        Ok(Running {
            server,
            client,
            started: lines,
            saved,
            used: Instant::now(),
        })
    }
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty)")
        .to_string()
}

impl Pipeline for AppVersion {
    fn harness(&self) -> &'static dyn Domain {
        self.domain
    }
    fn name(&self) -> &'static str {
        self.version.name
    }
    fn bug_class(&self) -> &'static str {
        self.version.bug
    }
    fn trigger(&self) -> &'static str {
        self.version.trigger
    }
    fn databases(&self) -> &'static [&'static str] {
        self.version.databases
    }
    fn run(&self, _op: &OpValue, _db: &mut dyn Db) -> Result<(), DbError> {
        Err(DbError::new(
            ErrorClass::Api,
            "a running application connects itself: it runs on a fixture of its own",
        ))
    }
    fn connects(&self) -> bool {
        true
    }
    fn prepare(&self, target: &Target) -> Result<(), String> {
        if target.kind() == crate::guard::BackendKind::Sqlite
            && !self.domain.spec.fixture.contains_key("sqlite")
        {
            return Err(format!(
                "the spec of `{}` has no sqlite fixture: give --database (a {} URL)",
                self.domain.name,
                self.domain
                    .spec
                    .fixture
                    .keys()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        let mut running = self
            .running
            .lock()
            .map_err(|_| "the applications' table is poisoned")?;
        // applications of fixtures no session uses any more
        let idle: Vec<String> = running
            .iter()
            .filter(|(t, app)| {
                *t != target.url() && app.try_lock().is_ok_and(|a| a.used.elapsed() > IDLE)
            })
            .map(|(t, _)| t.clone())
            .collect();
        for t in idle {
            if let Some(app) = running.remove(&t) {
                if let Ok(mut app) = app.lock() {
                    app.server.stop();
                }
            }
        }
        let existing = running.get(target.url()).cloned();
        // the table is not held while an application starts or is waited for
        drop(running);
        let forget = || {
            if let Ok(mut running) = self.running.lock() {
                running.remove(target.url());
            }
        };
        if let Some(app) = existing {
            let mut app = app
                .lock()
                .map_err(|_| "the application's state is poisoned")?;
            let Some(exit) = app.server.exited() else {
                app.used = Instant::now();
                return Ok(());
            };
            let tail = app.server.tail();
            drop(app);
            forget();
            return Err(format!("the application {exit} between two inputs{tail}"));
        }
        let app = Arc::new(Mutex::new(self.start(target)?));
        self.running
            .lock()
            .map_err(|_| "the applications' table is poisoned")?
            .insert(target.url().to_string(), app);
        Ok(())
    }
    fn run_at(&self, op: &OpValue, target: &Target) -> Result<(), DbError> {
        let poisoned = || DbError::new(ErrorClass::Other, "the application's state is poisoned");
        let app = self
            .running
            .lock()
            .map_err(|_| poisoned())?
            .get(target.url())
            .cloned()
            .ok_or_else(|| DbError::new(ErrorClass::Other, "the application is not running"))?;
        let mut guard = app.lock().map_err(|_| poisoned())?;
        let app = &mut *guard;
        app.used = Instant::now();
        let (name, req) = self
            .domain
            .request(op, &app.saved)
            .map_err(|e| DbError::new(ErrorClass::Other, e))?;
        let mut x = Exchange {
            transcript: std::mem::take(&mut app.started),
            ..Exchange::default()
        };
        let mark = app.server.mark();
        let answer = app.client.send(&app.server.base, &req);
        let jar = !self.domain.spec.setup.is_empty();
        let result = match answer {
            Ok(a) => {
                x.transcript.push(format!(
                    "request: {} {} -> {} in {} ms",
                    req.method, req.path, a.status, a.millis
                ));
                x.words = http::words(&a.body);
                if a.status >= 400 {
                    Err(DbError::new(
                        ErrorClass::Other,
                        format!("HTTP {}: {}", a.status, first_line(&a.body)),
                    ))
                } else {
                    Ok(())
                }
            }
            Err(e) => {
                // give a dying process a moment to be reaped
                std::thread::sleep(Duration::from_millis(50));
                let how = app
                    .server
                    .exited()
                    .unwrap_or_else(|| "gave no answer".to_string());
                x.broken = Some(format!(
                    "the application {how} on op `{name}` ({} {}): {}{}",
                    req.method,
                    req.path,
                    e.0,
                    app.server.tail()
                ));
                Err(DbError::new(ErrorClass::Other, e.0))
            }
        };
        x.transcript
            .push(format!("curl: {}", http::curl(&req, jar)));
        let printed = app.server.since(mark);
        if !printed.is_empty() {
            x.transcript.push(format!("application output: {printed}"));
        }
        if x.broken.is_some() {
            // stopped now, so its connections (and any lock a stuck request
            // holds) are gone before rowguard drops the fixture; a later
            // input (the minimizer's) starts it again
            app.server.stop();
            drop(guard);
            if let Ok(mut running) = self.running.lock() {
                running.remove(target.url());
            }
        }
        if let Ok(mut last) = self.last.lock() {
            last.insert(std::thread::current().id(), x);
        }
        result
    }
    fn exchange(&self) -> Option<Exchange> {
        self.last.lock().ok()?.remove(&std::thread::current().id())
    }
}

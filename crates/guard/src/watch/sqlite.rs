//! A watched fixture on a SQLite file: the code under test opens the file
//! with any client, in any process, and commits.
//!
//! SQLite has no privileges: whatever opens the file may drop a trigger or
//! empty a log. So the capture here is checked, not trusted:
//! - triggers in the file log which row (table and key) every insert,
//!   update and delete touched, in order (`rowguard_log`);
//! - after every operation the schema is compared with the one built (a
//!   capture trigger or the log changed is a finding), and the whole
//!   fixture is read and compared with its state before the operation: the
//!   row images judged come from that diff, and a changed row the log does
//!   not name is a finding (the capture was emptied or walked around);
//! - a connection still inside a write transaction (the write lock held) is
//!   a finding; its writes never reached the file, and the fixture is
//!   rebuilt beside it.
//!
//! Putting back: the rows that differ from the built fixture are deleted and
//! inserted again from the built images (never updated, so an update
//! trigger of the fixture does not fire), the sequences too; the whole
//! fixture is then compared with the built one, and rebuilt on a difference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};

use super::{left_open, tampered, Capture, Restored, Side, Taken, Target};
use crate::backend::BackendKind;
use crate::policy::{Cell, RowChange, TableInfo};
use crate::stored::encode;
use crate::{DbError, Finding, Kind, Value};

type Build = Box<dyn Fn(&Connection) -> rusqlite::Result<()> + Send>;

/// How long rowguard waits for a writer to finish before it calls the
/// write lock held by a transaction left open.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// One row: its encoding (compared) and its values (written back).
#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    values: Vec<Value>,
}

/// Every table's rows by key, and the sequences.
#[derive(Debug, Clone, Default)]
struct Picture {
    tables: Vec<BTreeMap<String, Row>>,
    sequences: Vec<(String, i64)>,
}

/// One log row: its number, table, and the keys before and after.
type Logged = (i64, String, Option<String>, Option<String>);

/// The watched SQLite file.
pub struct SqliteWatch {
    dir: PathBuf,
    target: Target,
    conn: Connection,
    build: Build,
    /// How many files were built (each rebuild takes a new name: a
    /// connection left open keeps the old one).
    generation: usize,
    tables: Vec<TableInfo>,
    /// The schema as built, capture included (`type name sql` lines).
    schema: Vec<String>,
    built: Picture,
    /// The fixture before the current operation.
    before: Picture,
    /// The last log row of an earlier operation.
    seq: i64,
    /// A transaction left open holds the file: rebuild beside it.
    stuck: bool,
    capture: Capture,
}

impl SqliteWatch {
    /// Builds the fixture with `build` in a new file of a temporary folder.
    pub fn open(
        build: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
        capture: Capture,
    ) -> crate::Result<SqliteWatch> {
        let dir = scratch().join(format!(
            "rowguard-watch-{}-{:08x}",
            std::process::id(),
            crate::server::run::random() as u32 ^ next_id()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::Error::Setup(format!("{}: {e}", dir.display())))?;
        let build: Build = Box::new(build);
        let (conn, target, tables, schema, built) = match make(&dir, 0, &build, capture) {
            Ok(made) => made,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        Ok(SqliteWatch {
            dir,
            target,
            conn,
            build,
            generation: 0,
            tables,
            schema,
            before: built.clone(),
            built,
            seq: 0,
            stuck: false,
            capture,
        })
    }

    fn rebuild(&mut self, why: String) -> crate::Result<Restored> {
        self.generation += 1;
        let old = PathBuf::from(self.target.url());
        let (conn, target, tables, schema, built) =
            make(&self.dir, self.generation, &self.build, self.capture)?;
        self.conn = conn;
        self.target = target;
        self.tables = tables;
        self.schema = schema;
        self.before = built.clone();
        self.built = built;
        self.seq = 0;
        self.stuck = false;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", old.display()));
        }
        Ok(Restored::Rebuilt(why))
    }

    fn picture(&self) -> rusqlite::Result<Picture> {
        picture(&self.conn, &self.tables)
    }

    fn log_since(&self, seq: i64) -> rusqlite::Result<Vec<Logged>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, tbl, old_key, new_key FROM main.rowguard_log WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect();
        rows
    }

    /// Takes the write lock (a writer still inside its transaction is one left open).
    fn lock(&self) -> rusqlite::Result<bool> {
        match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for SqliteWatch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the fixture files go: memory (`/dev/shm`) where there is one, so
/// the code's commits cost no disk flush; else the temporary folder.
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let writable = std::fs::metadata(shm).is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn next_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9)
}

type Made = (Connection, Target, Vec<TableInfo>, Vec<String>, Picture);

/// Builds generation `n` of the fixture file in `dir`, with its capture.
fn make(dir: &Path, n: usize, build: &Build, capture: Capture) -> crate::Result<Made> {
    let path = dir.join(format!("fixture-{n}.db"));
    let conn = Connection::open(&path)?;
    conn.busy_timeout(LOCK_WAIT)?;
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    build(&conn)?;
    let tables: Vec<TableInfo> = crate::dynamic::protected_tables(&conn)?
        .into_iter()
        .filter(|t| !t.name.starts_with("rowguard_"))
        .collect();
    if capture == Capture::On {
        conn.execute_batch(&capture_sql(&tables))?;
    }
    let schema = schema(&conn)?;
    let built = picture(&conn, &tables)?;
    let target = Target::new(BackendKind::Sqlite, path.display().to_string());
    Ok((conn, target, tables, schema, built))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL that gives a row's key as one text: `quote()` of each key column.
fn key_expr(table: &TableInfo, prefix: &str) -> String {
    table
        .key
        .iter()
        .map(|&i| format!("quote({prefix}{})", quoted(&table.columns[i])))
        .collect::<Vec<_>>()
        .join(" || char(31) || ")
}

/// The log and one trigger per table and event.
fn capture_sql(tables: &[TableInfo]) -> String {
    let mut sql = String::from(
        "CREATE TABLE main.rowguard_log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, old_key TEXT, new_key TEXT);\n",
    );
    for (i, t) in tables.iter().enumerate() {
        let name = quoted(&t.name);
        let tbl = format!("'{}'", t.name.replace('\'', "''"));
        let (old, new) = (key_expr(t, "OLD."), key_expr(t, "NEW."));
        for (event, keys) in [
            ("INSERT", format!("NULL, {new}")),
            ("UPDATE", format!("{old}, {new}")),
            ("DELETE", format!("{old}, NULL")),
        ] {
            sql += &format!(
                "CREATE TRIGGER main.rowguard_{i}_{event} AFTER {event} ON {name} BEGIN \
                 INSERT INTO rowguard_log (tbl, old_key, new_key) VALUES ({tbl}, {keys}); END;\n"
            );
        }
    }
    sql
}

fn schema(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM main.sqlite_schema ORDER BY type, name",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?.collect();
    rows
}

fn picture(conn: &Connection, tables: &[TableInfo]) -> rusqlite::Result<Picture> {
    let mut out = Picture::default();
    for t in tables {
        let columns: Vec<String> = t.columns.iter().map(|c| quoted(c)).collect();
        let sql = format!(
            "SELECT {}, {} FROM main.{}",
            key_expr(t, ""),
            columns.join(", "),
            quoted(&t.name)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([])?;
        let mut map = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let key: String = r.get(0)?;
            let mut row = Row {
                cells: Vec::with_capacity(columns.len()),
                values: Vec::with_capacity(columns.len()),
            };
            for i in 1..=columns.len() {
                let v: ValueRef<'_> = r.get_ref(i)?;
                row.cells.push(encode(v));
                row.values.push(owned(v));
            }
            map.insert(key, row);
        }
        out.tables.push(map);
    }
    let has_sequences: bool = conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if has_sequences {
        let mut stmt =
            conn.prepare_cached("SELECT name, seq FROM main.sqlite_sequence ORDER BY name")?;
        out.sequences = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(out)
}

/// The rows of table `t` that differ between `a` and `b`, by key.
fn differences<'p>(
    a: &'p BTreeMap<String, Row>,
    b: &'p BTreeMap<String, Row>,
) -> Vec<(&'p String, Option<&'p Row>, Option<&'p Row>)> {
    let mut out = Vec::new();
    for (k, ra) in a {
        match b.get(k) {
            Some(rb) if rb.cells == ra.cells => {}
            rb => out.push((k, Some(ra), rb)),
        }
    }
    for (k, rb) in b {
        if !a.contains_key(k) {
            out.push((k, None, Some(rb)));
        }
    }
    out
}

impl Side for SqliteWatch {
    fn target(&self) -> &Target {
        &self.target
    }

    fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    fn mark(&mut self) -> crate::Result<()> {
        if !self.stuck {
            self.seq = self.conn.query_row(
                "SELECT coalesce(max(seq), 0) FROM main.rowguard_log",
                [],
                |r| r.get(0),
            )?;
        }
        Ok(())
    }

    fn take(&mut self) -> crate::Result<Taken> {
        let mut taken = Taken::default();
        if self.stuck {
            return Ok(taken);
        }
        if !self.lock()? {
            taken.findings.push(left_open(
                "a connection to the SQLite file holds its write lock",
                "unknown: SQLite keeps it in that connection",
                false,
            ));
            self.stuck = true;
            return Ok(taken);
        }
        let read =
            (|| -> rusqlite::Result<_> { Ok((schema(&self.conn)?, self.log_since(self.seq)?)) })();
        let (now_schema, log) = match read {
            Ok(r) => r,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                taken
                    .findings
                    .push(tampered(&format!("the log cannot be read: {e}")));
                self.stuck = true;
                return Ok(taken);
            }
        };
        if now_schema != self.schema {
            let ours = |line: &String| {
                line.split(' ')
                    .nth(1)
                    .is_some_and(|n| n.starts_with("rowguard_"))
            };
            let changed: Vec<&String> = now_schema
                .iter()
                .filter(|l| !self.schema.contains(l))
                .chain(self.schema.iter().filter(|l| !now_schema.contains(l)))
                .collect();
            if changed.iter().any(|l| ours(l)) {
                taken
                    .findings
                    .push(tampered("a capture trigger or the log changed"));
            }
            if changed.iter().any(|l| !ours(l)) {
                taken.findings.push(Finding::new(
                    Kind::SchemaChange,
                    "the operation changed the fixture's schema".to_string(),
                ));
            }
        }
        let after = match self.picture() {
            Ok(p) => p,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                taken.findings.push(Finding::new(
                    Kind::SchemaChange,
                    format!("the fixture can no longer be read: {e}"),
                ));
                self.stuck = true;
                return Ok(taken);
            }
        };
        self.conn.execute_batch("ROLLBACK")?;
        // the order the log saw; a row it never named comes last, and is a finding
        let logged: Vec<(usize, String)> = log
            .iter()
            .filter_map(|(_, tbl, old, new)| {
                let t = self.tables.iter().position(|t| &t.name == tbl)?;
                Some(
                    [old, new]
                        .into_iter()
                        .flatten()
                        .map(move |k| (t, k.clone())),
                )
            })
            .flatten()
            .collect();
        let mut unrecorded = 0;
        let mut changes: Vec<(usize, usize, RowChange)> = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            for (key, old, new) in differences(&self.before.tables[t], &after.tables[t]) {
                let at = logged.iter().position(|(lt, lk)| *lt == t && lk == key);
                if at.is_none() {
                    unrecorded += 1;
                }
                changes.push((
                    at.unwrap_or(usize::MAX),
                    t,
                    RowChange {
                        table: table.name.clone(),
                        old: old.map(|r| r.cells.clone()),
                        new: new.map(|r| r.cells.clone()),
                    },
                ));
            }
        }
        if unrecorded > 0 {
            taken.findings.push(tampered(&format!(
                "{unrecorded} changed row(s) the capture did not record"
            )));
        }
        changes.sort_by_key(|(at, _, _)| *at);
        taken.rows = changes.into_iter().map(|(_, t, c)| (t, c)).collect();
        self.before = after;
        Ok(taken)
    }

    fn restore(&mut self) -> crate::Result<Restored> {
        if self.stuck {
            return self.rebuild("a transaction left open holds the file".into());
        }
        for _ in 0..3 {
            let now = match self.picture() {
                Ok(p) => p,
                Err(e) => return self.rebuild(format!("the fixture cannot be read: {e}")),
            };
            if same(&now, &self.built) && schema(&self.conn)? == self.schema {
                self.conn.execute_batch("DELETE FROM main.rowguard_log")?;
                self.before = now;
                self.seq = 0;
                return Ok(Restored::Clean);
            }
            if let Err(e) = put_back(&self.conn, &self.tables, &now, &self.built) {
                return self.rebuild(format!("putting it back failed: {e}"));
            }
        }
        self.rebuild("putting it back did not give the built fixture".into())
    }

    fn read(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), crate::db::row_values)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn same(a: &Picture, b: &Picture) -> bool {
    a.sequences == b.sequences
        && a.tables.len() == b.tables.len()
        && a.tables
            .iter()
            .zip(&b.tables)
            .all(|(x, y)| differences(x, y).is_empty())
}

/// Deletes the rows of `now` that differ from `built` and inserts the built
/// ones, sequences last, in one transaction, its foreign keys checked at
/// its end: a parent row goes back while its children are still there.
fn put_back(
    conn: &Connection,
    tables: &[TableInfo],
    now: &Picture,
    built: &Picture,
) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON")?;
    let run = || -> rusqlite::Result<()> {
        // every delete first, then every insert: a unique value moving between rows never meets itself
        for inserting in [false, true] {
            for (t, table) in tables.iter().enumerate() {
                let name = quoted(&table.name);
                let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
                for (_, current, wanted) in differences(&now.tables[t], &built.tables[t]) {
                    match (inserting, current, wanted) {
                        (false, Some(row), _) => {
                            let key_where = table
                                .key
                                .iter()
                                .enumerate()
                                .map(|(n, &i)| format!("{} IS ?{}", columns[i], n + 1))
                                .collect::<Vec<_>>()
                                .join(" AND ");
                            let key: Vec<&Value> =
                                table.key.iter().map(|&i| &row.values[i]).collect();
                            conn.prepare_cached(&format!(
                                "DELETE FROM main.{name} WHERE {key_where}"
                            ))?
                            .execute(rusqlite::params_from_iter(key))?;
                        }
                        (true, _, Some(row)) => {
                            let marks: Vec<String> =
                                (1..=columns.len()).map(|i| format!("?{i}")).collect();
                            conn.prepare_cached(&format!(
                                "INSERT INTO main.{name} ({}) VALUES ({})",
                                columns.join(", "),
                                marks.join(", ")
                            ))?
                            .execute(rusqlite::params_from_iter(&row.values))?;
                        }
                        _ => {}
                    }
                }
            }
        }
        if now.sequences != built.sequences {
            conn.execute_batch("DELETE FROM main.sqlite_sequence")?;
            for (name, seq) in &built.sequences {
                conn.execute(
                    "INSERT INTO main.sqlite_sequence (name, seq) VALUES (?1, ?2)",
                    (name, seq),
                )?;
            }
        }
        conn.execute_batch("DELETE FROM main.rowguard_log")
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

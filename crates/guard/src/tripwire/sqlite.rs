//! [`Tripwire`] on SQLite: the application's `rusqlite::Connection` (a real
//! database file, any journal mode) with the guard's capture installed once:
//! SQLite's pre-update hook when SQLite is built with it
//! ([`crate::capture::hook`]; every table read as the triggers would), the
//! TEMP-trigger capture otherwise. Either is private to the connection:
//! other connections see nothing, and the file holds nothing of the
//! tripwire. Rows the operation's policy allows are counted without being
//! encoded ([`crate::clean`]); only the others reach the judge.
//!
//! One operation ([`Tripwire::run`]): `BEGIN IMMEDIATE` (the write lock
//! first, so no other writer interleaves and a busy database waits at the
//! start instead of failing at COMMIT), the operation's calls through a
//! [`Db`] over the connection (statements cached), each call's captured rows
//! judged as it returns (after a failed call, only the rows of statements
//! SQLite did not roll back: by their generation markers with triggers, by
//! `changes()` with the hook), then COMMIT, or ROLLBACK on any finding or
//! error.
//!
//! While an operation's SQL is prepared, the guard's authorizer denies
//! transaction control, ATTACH/DETACH, PRAGMA, DDL and the capture's own
//! functions and temp tables: the operation cannot commit around the
//! tripwire or blind it. The tripwire's own BEGIN/COMMIT/ROLLBACK are
//! cached (their parse was a fifth of the tripwire's cost); the operation's
//! calls never get them from the cache: a call whose text is one of them is
//! prepared afresh, so the authorizer sees it and denies it.
//!
//! Differences from the plain connection the application had: with the
//! trigger capture, `recursive_triggers = ON` (REPLACE conflict deletes fire
//! delete triggers; the app's own recursive triggers now recurse); with the
//! hook, SQLite skips its truncate optimization (`DELETE FROM t` deletes row
//! by row). Writes made through [`Tripwire::connection`] outside `run` are
//! not checked.

use std::sync::{Arc, Mutex};

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::hooks::{AuthContext, Authorization};
use rusqlite::{params_from_iter, Batch, Connection};

use super::{judge, SpareChecks, TripError};
use crate::capture::{self, Capture, Log};
use crate::db::row_values;
use crate::dynamic::{authorize, lock, protected_tables, AuthState};
use crate::policy::{Names, TableInfo};
use crate::{Api, Db, DbError, Finding, Policy, StatementCheck, Value, Verdict};

/// Operations between two clean-ups of the capture's generation markers.
const MARKER_SWEEP: u64 = 1024;

/// The tripwire's own transaction control, cached on the connection.
const BEGIN: &str = "BEGIN IMMEDIATE";
const COMMIT: &str = "COMMIT";
const ROLLBACK: &str = "ROLLBACK";

/// Runs one of the tripwire's own statements ([`BEGIN`], [`COMMIT`], [`ROLLBACK`]).
fn own(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// `main`'s schema version (moved by every schema change, from any
/// connection), read by one statement prepared once: what every operation
/// pays for never judging with a stale table list.
struct SchemaVersion {
    stmt: *mut rusqlite::ffi::sqlite3_stmt,
}

// SAFETY: the statement belongs to the tripwire's connection and is used
// only through it, on whichever thread holds the tripwire.
unsafe impl Send for SchemaVersion {}

impl SchemaVersion {
    fn prepare(conn: &Connection) -> rusqlite::Result<SchemaVersion> {
        use rusqlite::ffi;
        let sql = c"PRAGMA main.schema_version";
        let mut stmt = std::ptr::null_mut();
        // SAFETY: a live connection handle and a NUL-terminated text; the
        // statement is finalized in Drop, before the connection closes.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                conn.handle(),
                sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK || stmt.is_null() {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("preparing PRAGMA main.schema_version".into()),
            ));
        }
        Ok(SchemaVersion { stmt })
    }

    fn read(&self) -> rusqlite::Result<i64> {
        use rusqlite::ffi;
        // SAFETY: the statement is live (finalized only in Drop).
        unsafe {
            let rc = ffi::sqlite3_step(self.stmt);
            let v = ffi::sqlite3_column_int64(self.stmt, 0);
            ffi::sqlite3_reset(self.stmt);
            if rc == ffi::SQLITE_ROW {
                Ok(v)
            } else {
                Err(rusqlite::Error::SqliteFailure(
                    ffi::Error::new(rc),
                    Some("reading PRAGMA main.schema_version".into()),
                ))
            }
        }
    }
}

impl Drop for SchemaVersion {
    fn drop(&mut self) {
        // SAFETY: finalized once, before the connection closes (the
        // tripwire declares it before `conn`, so it is dropped first).
        unsafe {
            rusqlite::ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// Prepares a call's `sql` (cached, as the application's own code would),
/// except text the cache keys (trimmed) as one of the tripwire's own: that
/// is prepared afresh, so the authorizer sees it.
fn prepared<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    if [BEGIN, COMMIT, ROLLBACK].contains(&sql.trim()) {
        f(&mut conn.prepare(sql)?)
    } else {
        let mut cached = conn.prepare_cached(sql)?;
        f(&mut cached)
    }
}

/// A SQLite connection whose every [`Tripwire::run`] commits only what its
/// policy allows.
///
/// ```
/// use rowguard_guard::tripwire::{TripError, Tripwire};
/// use rowguard_guard::{Db, Policy};
///
/// let conn = rusqlite::Connection::open_in_memory().unwrap();
/// conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
///                     INSERT INTO t VALUES (1, 'a'), (2, 'b');").unwrap();
/// let mut tw = Tripwire::new(conn)?;
/// let policy = Policy::new("t", "id").key(1).writable(["v"]);
/// // A clean write commits.
/// tw.run(&policy, |db| db.execute("UPDATE t SET v = 'x' WHERE id = 1", &[])).unwrap();
/// // A write outside row 1 rolls the whole operation back.
/// let e = tw.run(&policy, |db| {
///     db.execute("UPDATE t SET v = 'y' WHERE id = 1", &[])?;
///     db.execute("UPDATE t SET v = 'y'", &[])
/// }).unwrap_err();
/// let TripError::Tripped { verdict } = e else { panic!("{e}") };
/// assert_eq!(verdict.outside().map(|c| &*c.key).collect::<Vec<_>>(), ["2"]);
/// let v: Vec<String> = tw.connection().prepare("SELECT v FROM t ORDER BY id").unwrap()
///     .query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(v, ["x", "b"]);
/// # Ok::<(), rowguard_guard::Error>(())
/// ```
pub struct Tripwire {
    /// Declared before `conn`: the hook is removed, and the statement
    /// finalized, before the connection closes.
    capture: Capture,
    schema_version: SchemaVersion,
    conn: Connection,
    tables: Vec<TableInfo>,
    names: Vec<Names>,
    log: Arc<Mutex<Log>>,
    auth: Arc<Mutex<AuthState>>,
    /// `main`'s schema version the capture was built for: another
    /// connection's DDL (a migration) moves it, and the next operation
    /// rebuilds the capture before it runs.
    schema: i64,
    operations: u64,
    spare: SpareChecks,
}

impl Tripwire {
    /// Installs the capture on `conn` (every table of `main` is protected)
    /// and the authorizer that is active while an operation's SQL is prepared.
    pub fn new(mut conn: Connection) -> crate::Result<Tripwire> {
        let schema_version = SchemaVersion::prepare(&conn)?;
        let schema = schema_version.read()?;
        let tables = protected_tables(&conn)?;
        let (capture, log) = Self::install_capture(&conn, &tables)?;
        let auth = Arc::new(Mutex::new(AuthState::default()));
        let hook = Arc::clone(&auth);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let mut state = lock(&hook);
            if state.enabled {
                authorize(&mut state, &ctx)
            } else {
                Authorization::Allow
            }
        }))?;
        Ok(Tripwire {
            capture,
            schema_version,
            conn,
            names: tables.iter().map(Names::of).collect(),
            tables,
            log,
            auth,
            schema,
            operations: 0,
            spare: SpareChecks::default(),
        })
    }

    /// The pre-update hook when SQLite has it and it reads every protected
    /// table as the triggers would; the TEMP triggers otherwise.
    fn install_capture(
        conn: &Connection,
        tables: &[TableInfo],
    ) -> rusqlite::Result<(Capture, Arc<Mutex<Log>>)> {
        let installed = Capture::install(conn, tables, false)?;
        {
            let mut log = capture::lock(&installed.1);
            log.paused = true;
            log.count_clean_rows();
        }
        Ok(installed)
    }

    /// Builds the capture anew for `main`'s tables as they are now (a table
    /// created, renamed or dropped, a column added, by another connection):
    /// no row of a table the tripwire did not know is ever skipped.
    fn rebuild(&mut self, schema: i64) -> rusqlite::Result<()> {
        // The old capture goes first: a hook dropped after the new one is
        // installed would unregister the new one.
        self.capture = Capture::Triggers;
        let old: Vec<String> = self
            .conn
            .prepare("SELECT name FROM temp.sqlite_schema WHERE type = 'trigger' AND name LIKE 'rg\\_%' ESCAPE '\\'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut drop = String::from("DROP TABLE IF EXISTS temp.rg_log;\n");
        for name in old {
            drop += &format!(
                "DROP TRIGGER IF EXISTS temp.\"{}\";\n",
                name.replace('"', "\"\"")
            );
        }
        self.conn.execute_batch(&drop)?;
        let tables = protected_tables(&self.conn)?;
        let (capture, log) = Self::install_capture(&self.conn, &tables)?;
        self.names = tables.iter().map(Names::of).collect();
        self.tables = tables;
        self.capture = capture;
        self.log = log;
        self.spare.clear();
        self.schema = schema;
        Ok(())
    }

    /// How changed rows are captured: `"pre-update hook"` or `"triggers"`
    /// (SQLite built without the hook, or a table with hidden or generated
    /// columns).
    pub fn capture(&self) -> &'static str {
        self.capture.name()
    }

    /// The connection, for reads (writes through it are not checked).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs one operation under `policy`: commits its writes when every
    /// change is allowed; otherwise rolls all of them back and says why.
    pub fn run<T>(
        &mut self,
        policy: &Policy,
        op: impl FnOnce(&mut dyn Db) -> Result<T, DbError>,
    ) -> Result<T, TripError> {
        let sql_error = |e: rusqlite::Error| TripError::Database(e.to_string());
        if !self.conn.is_autocommit() {
            // An earlier operation panicked inside its transaction.
            own(&self.conn, ROLLBACK).map_err(sql_error)?;
        }
        self.operations += 1;
        if matches!(self.capture, Capture::Triggers) && self.operations % MARKER_SWEEP == 0 {
            self.conn
                .execute_batch("DELETE FROM temp.rg_log")
                .map_err(sql_error)?;
        }
        own(&self.conn, BEGIN).map_err(sql_error)?;
        // Under the write lock no other connection changes the schema until
        // COMMIT (and the operation's own DDL is denied). When it moved
        // since the capture was built, the capture is built again outside
        // any transaction (TEMP triggers made inside one would go with its
        // rollback), and the write lock taken again.
        loop {
            let schema = self.schema_version.read().map_err(sql_error)?;
            if schema == self.schema {
                break;
            }
            own(&self.conn, ROLLBACK).map_err(sql_error)?;
            self.rebuild(schema).map_err(sql_error)?;
            own(&self.conn, BEGIN).map_err(sql_error)?;
        }
        {
            let mut log = capture::lock(&self.log);
            log.set_policy(policy, &self.tables);
            log.paused = false;
        }
        let mut call = Calls {
            tw: self,
            policy,
            verdict: Verdict::default(),
        };
        let result = op(&mut call);
        let verdict = call.verdict;
        capture::lock(&self.log).paused = true;
        let outcome = match result {
            Err(error) => Err(TripError::Failed { error, verdict }),
            Ok(_) if !verdict.is_clean() => Err(TripError::Tripped { verdict }),
            Ok(value) => match own(&self.conn, COMMIT) {
                Ok(()) => {
                    self.spare.keep(verdict.statements);
                    return Ok(value);
                }
                Err(e) => Err(TripError::Database(format!("COMMIT failed: {e}"))),
            },
        };
        if !self.conn.is_autocommit() {
            own(&self.conn, ROLLBACK).map_err(sql_error)?;
        }
        outcome
    }

    /// Runs one call of the operation with the authorizer on; judges the rows it changed.
    fn call<T>(
        &mut self,
        policy: &Policy,
        check: &mut StatementCheck,
        run: impl FnOnce(&Connection, &Mutex<Log>) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        {
            let mut a = lock(&self.auth);
            a.enabled = true;
            a.denied.clear();
        }
        capture::lock(&self.log).start_call();
        let result = run(&self.conn, &self.log);
        let denied = {
            let mut a = lock(&self.auth);
            a.enabled = false;
            a.accesses.clear();
            std::mem::take(&mut a.denied)
        };
        for (kind, what) in denied {
            check.add(Finding::new(
                kind,
                format!("denied by the tripwire: {what}"),
            ));
        }
        if let Err(e) = &result {
            check.error = Some(e.to_string());
        }
        if self.conn.is_autocommit() {
            check.add(Finding::new(
                crate::Kind::ForbiddenAction,
                "the statement ended the tripwire's transaction",
            ));
        }
        let (flagged, clean) = {
            let mut log = capture::lock(&self.log);
            if let Some(fault) = log.fault.take() {
                check.add(Finding::new(crate::Kind::ForbiddenAction, fault));
            }
            self.capture.settle(&mut log, &self.conn, result.is_err())?;
            log.take_flagged()
        };
        check.changed_rows += clean;
        let tables = &self.tables;
        let changes = flagged.into_iter().map(|r| (r.table, r.to_change(tables)));
        judge(check, policy, tables, &self.names, changes);
        result.map_err(DbError::from)
    }
}

/// The operation's view of the connection: every call checked.
struct Calls<'a> {
    tw: &'a mut Tripwire,
    policy: &'a Policy,
    verdict: Verdict,
}

impl Calls<'_> {
    fn checked<T>(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
        run: impl FnOnce(&Connection, &Mutex<Log>) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let mut check = self.tw.spare.check(api, sql, params);
        let result = self.tw.call(self.policy, &mut check, run);
        self.verdict.statements.push(check);
        result
    }
}

impl Db for Calls<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.checked(Api::Execute, sql, params, |conn, _| {
            prepared(conn, sql, |s| s.execute(params_from_iter(params)))
        })
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.checked(Api::ExecuteBatch, sql, &[], |conn, log| {
            let mut batch = Batch::new(conn, sql);
            while let Some(mut stmt) = batch.next()? {
                // Each statement its own generation: a failing one is undone alone.
                capture::lock(log).next_statement();
                stmt.raw_query().next()?;
            }
            Ok(())
        })
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        self.checked(Api::QueryRow, sql, params, |conn, _| {
            prepared(conn, sql, |s| {
                s.query_row(params_from_iter(params), row_values)
            })
        })
    }
}

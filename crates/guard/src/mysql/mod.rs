//! The MariaDB/MySQL backend: [`MyGuard`] runs the same checks as the SQLite
//! [`super::Guard`] on a real server, behind the [`Backend`] seam, with the
//! same [`Policy`], finding kinds, blast radius and undo statements.
//!
//! Safety of the user's server ([`run`]): each guard works in a database it
//! creates and a user it creates, both dropped when the guard is dropped
//! (or, after a run killed with SIGKILL, by the next run). A server holding
//! databases rowguard did not create is refused unless the caller says it
//! is rowguard's.
//!
//! Isolation by construction ([`setup`]): the code under test logs in as a
//! user with row rights on the fixture tables only. Each input is one XA
//! transaction with a secret id, always rolled back: inside an active XA
//! transaction the server refuses COMMIT, ROLLBACK, BEGIN, XA END of any
//! other id, and every statement that would commit implicitly (DDL, LOCK
//! TABLES, ANALYZE, FLUSH...), so nothing the code sends can end or commit
//! the input. MySQL's statements are atomic, so a failed one left nothing
//! and the others stand; the guard judges exactly the logged rows that
//! stand. Nothing is split or skipped by reading the SQL: a batch goes to
//! the server whole (the client's multi-statements flag, text protocol), a
//! call with parameters goes alone (prepared, binary protocol). What the
//! server refuses the app user is a finding from its error code.
//!
//! After each call, in one round trip, the guard reads the new log rows
//! (in the order of a SEQUENCE no statement can move, set back or reuse;
//! never an AUTO_INCREMENT, which `insert_id` moves), whether the
//! transaction is still open, whether the server cut a statement at its
//! time bound (even one that then reported success), and the session
//! settings it relies on (`sql_mode`, `foreign_key_checks`, timeouts,
//! isolation, `insert_id`, the AUTO_INCREMENT step, a frozen `timestamp`,
//! the current database and user...): a change is a finding and is undone.
//! After each input the session is reset (`COM_RESET_CONNECTION`: user
//! variables, prepared statements, user locks) and AUTO_INCREMENT counters
//! the input moved are put back, so no input sees another.
//!
//! Bounds the input cannot lift: `max_statement_time` as the user's default
//! (checked after every call), and a [`Watchdog`] that kills the query
//! (`KILL QUERY`), then the connection, of a call past its wall-clock limit.
//! Either cut is a `resource-limit` finding, however the statement ended.
//! A signal ([`crate::interrupt`]) kills the query in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use crate::backend::BackendKind;
use crate::interrupt;
use crate::policy::TableInfo;
use crate::server::backend::ServerInput;
use crate::server::call::{fatal_error, noting_fatal};
use crate::server::judging::Judging;
use crate::server::watchdog::Watchdog;
use crate::server::ServerOptions;
use crate::static_check::Dialect;
use crate::{DbError, ErrorClass, Kind, Policy, Value};

mod call;
/// The mysql lexer ([`crate::dialect::mysql`]) under its old name.
pub use crate::dialect::mysql as lex;
mod raw;
pub(crate) mod run;
pub(crate) mod setup;
pub mod values;

pub use raw::MyRaw;

/// The app user's default `max_statement_time`, in seconds.
pub(crate) const STATEMENT_TIMEOUT_S: u64 = 3;
/// The wall-clock limit of one call (its statements and the guard's reading after it).
const CALL_LIMIT: Duration = Duration::from_millis(STATEMENT_TIMEOUT_S * 1000 + 1000);
/// Wall-clock limit of all the calls of one input (as on SQLite).
const INPUT_TIME: Duration = crate::dynamic::INPUT_TIME;
/// Prepared statements the client keeps per connection.
const STATEMENT_CACHE: usize = 256;

/// Session settings the guard depends on, read after every call; a call
/// that changes one is a finding and the session is reset. Beside what the
/// guard's own reading needs (the result character set, the SELECT bounds),
/// the settings that change what later statements write without saying so
/// in their text: a pending `insert_id`, the AUTO_INCREMENT step and offset,
/// a frozen `timestamp` (shown as the value it is frozen at, else `now`).
/// `last_insert_id` is not among them: every INSERT moves it. `rand_seed1/2`
/// are not either: reading them shows the generator's state, which any
/// `RAND()` moves. `pseudo_thread_id` and `sql_log_bin` need SUPER.
const WATCHED: [&str; 27] = [
    "@@session.sql_mode",
    "@@session.foreign_key_checks",
    "@@session.unique_checks",
    "@@session.autocommit",
    "@@session.max_statement_time",
    "@@session.innodb_lock_wait_timeout",
    "@@session.lock_wait_timeout",
    "@@session.sql_safe_updates",
    "@@session.tx_isolation",
    "@@session.tx_read_only",
    "@@session.character_set_client",
    "@@session.collation_connection",
    "@@session.check_constraint_checks",
    "@@session.sql_select_limit",
    // a short one would have the server close the guard's connection between calls
    "@@session.wait_timeout",
    "IFNULL(DATABASE(), '')",
    "CURRENT_USER()",
    "IFNULL(CURRENT_ROLE(), '')",
    // how the log's images reach the guard, and what may stop its reading
    "IFNULL(@@session.character_set_results, 'binary')",
    "@@session.max_join_size",
    "@@session.sql_big_selects",
    // what the next INSERT's AUTO_INCREMENT value is, and what NOW() says
    "@@session.insert_id",
    "@@session.auto_increment_increment",
    "@@session.auto_increment_offset",
    "IF(ABS(@@session.timestamp - UNIX_TIMESTAMP(SYSDATE(6))) > 2, @@session.timestamp, 'now')",
    "@@session.max_recursive_iterations",
    // the warnings the guard reads after every call (a recursion cut short)
    "@@session.max_error_count",
];

/// The session's count of statements the server cut at `max_statement_time`
/// (MariaDB's `Max_statement_time_exceeded`). A statement cut there does not
/// always fail: `DO SLEEP(n)`, `BENCHMARK(...)` and a `GET_LOCK` wait end
/// with success (or NULL) when interrupted, so the guard reads this count
/// at the input's start and after every call that ran long enough to have
/// met the bound, and a rise is a finding. (A statement that lowered its
/// own bound with `SET STATEMENT max_statement_time` and was cut within a
/// short call is counted at the next long call of the input, if any: the
/// static layer reports the `SET STATEMENT`, and a cut statement writes
/// nothing.)
pub(crate) const TIME_CUTS: &str = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS \
     WHERE VARIABLE_NAME = 'MAX_STATEMENT_TIME_EXCEEDED'";

/// Put in front of the guard's second reading after a call that changed the
/// watched settings or whose first reading failed: the bounds a statement
/// may have lowered for the session (`sql_select_limit`, `max_join_size`)
/// do not cut what the guard reads (the watch reports the change; the read
/// must still be whole). Only then: `SET STATEMENT` costs a round trip's
/// worth of server time.
pub(crate) const PINNED: &str =
    "SET STATEMENT sql_select_limit = 18446744073709551615, max_join_size = 18446744073709551615 FOR ";

/// A MariaDB/MySQL connection whose every statement is checked against a policy.
pub struct MyGuard {
    /// The code under test's connection (as the app user).
    conn: Option<Conn>,
    /// The `--database` user's connection: holds the liveness lock, creates and drops [`run::Objects`].
    admin: Option<Conn>,
    objects: run::Objects,
    tables: Vec<TableInfo>,
    judging: Judging,
    /// The input's XA transaction id (secret: the code under test cannot end it).
    xid: String,
    /// The input's XA transaction is open.
    in_input: bool,
    /// The last change-log row read (its `rowguard_seq` value).
    read_after: i64,
    /// The session's [`TIME_CUTS`] after the last call (or the input's start).
    time_cuts: Option<String>,
    /// When the current input's time is up ([`INPUT_TIME`] after it began).
    input_deadline: Option<Instant>,
    /// [`WATCHED`] as the app session starts with them.
    baseline: String,
    /// AUTO_INCREMENT counters as the fixture leaves them.
    counters: String,
    /// The one query that reads a call's outcome (without the log part).
    status_sql: String,
    /// Set by the client when a statement asked it for a local file.
    infile: Arc<std::sync::Mutex<Vec<String>>>,
    /// The connection broke: every later call fails and the input ends in an error.
    fatal: Option<String>,
    watchdog: Watchdog,
    _interrupt: interrupt::Registration,
}

/// A one-line form of a client error.
pub(crate) fn one_line(e: &mysql::Error) -> String {
    let text = match e {
        mysql::Error::MySqlError(m) => format!("ERROR {} ({}): {}", m.code, m.state, m.message),
        other => other.to_string(),
    };
    text.replace(['\n', '\r'], " ")
}

/// The server's error code, if the server sent the error.
fn code(e: &mysql::Error) -> Option<u16> {
    match e {
        mysql::Error::MySqlError(m) => Some(m.code),
        _ => None,
    }
}

/// The [`DbError`] of a client error, its class from the server's error code
/// (a connection failure has none: [`ErrorClass::Other`]).
pub(crate) fn db_error(e: &mysql::Error) -> DbError {
    let class = match code(e) {
        Some(1044 | 1045 | 1142 | 1143 | 1148 | 1227 | 1370 | 1397..=1401) => ErrorClass::Denied,
        Some(1205 | 1213 | 1317 | 1969 | 3024 | 1040 | 1037 | 1038 | 1114 | 1104 | 1153 | 1301) => {
            ErrorClass::Limit
        }
        Some(1062 | 1451 | 1452 | 1048 | 1364 | 4025 | 1216 | 1217) => ErrorClass::Constraint,
        Some(1064 | 1054 | 1146 | 1149) => ErrorClass::Syntax,
        _ => ErrorClass::Other,
    };
    DbError::new(class, one_line(e))
}

/// The finding a server error is: the server's own reading of what the
/// statement tried (its code; a refused privilege or transaction command
/// is a schema change when the text holds DDL, as the XA wall or the
/// missing right stops DDL before it runs).
fn error_kind(code: u16, text: &str) -> Kind {
    match code {
        1044 | 1045 | 1142 | 1143 | 1227 | 1370 | 1397..=1401 if lex::has_ddl(text) => {
            Kind::SchemaChange
        }
        1044 | 1045 | 1142 | 1143 | 1227 | 1370 | 1397..=1401 => Kind::ForbiddenAction,
        1205 | 1213 | 1317 | 1969 | 3024 | 1040 | 1037 | 1038 | 1114 | 1104 | 1153 | 1301 => {
            Kind::ResourceLimit
        }
        _ => Kind::SqlError,
    }
}

impl MyGuard {
    /// Connects to the server in `options` (`mysql://` or `mariadb://`),
    /// builds `schema_sql` (DDL and rows, MySQL dialect) in a fresh database
    /// and installs the isolation.
    pub fn open(
        options: &ServerOptions,
        schema_sql: &str,
        policy: Policy,
    ) -> crate::Result<MyGuard> {
        let (opts, mut admin) = run::admin(options)?;
        let objects = run::Objects::create(&mut admin, true)?;
        let infile: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let asked = Arc::clone(&infile);
        let built = setup::build(&opts, &objects, schema_sql, move |name| {
            if let Ok(mut a) = asked.lock() {
                a.push(String::from_utf8_lossy(name).into_owned());
            }
        })
        .and_then(|b| Self::start(b, &opts));
        let (built, baseline, watchdog, registration) = match built {
            Ok(b) => b,
            Err(e) => {
                objects.drop_all(&mut admin);
                return Err(e);
            }
        };
        let status_sql = format!(
            "SELECT @@in_transaction, CONCAT_WS(' | ', {})",
            WATCHED.join(", ")
        );
        Ok(MyGuard {
            conn: Some(built.conn),
            admin: Some(admin),
            xid: format!(
                "rowguard{:016x}{:016x}",
                crate::server::run::random(),
                crate::server::run::random()
            ),
            objects,
            tables: built.tables,
            judging: Judging::new(policy),
            in_input: false,
            read_after: 0,
            time_cuts: None,
            input_deadline: None,
            baseline,
            counters: built.counters,
            status_sql,
            infile,
            fatal: None,
            watchdog,
            _interrupt: registration,
        })
    }

    /// The app session's baseline settings, its watchdog and its signal registration.
    fn start(
        mut built: setup::Built,
        opts: &OptsBuilder,
    ) -> crate::Result<(setup::Built, String, Watchdog, interrupt::Registration)> {
        let baseline = run::column(
            &mut built.conn,
            &format!("SELECT CONCAT_WS(' | ', {})", WATCHED.join(", ")),
        )
        .map_err(run::my("reading the app session"))?
        .concat();
        let id = built.conn.connection_id();
        let kill = |what: &'static str, opts: OptsBuilder| {
            move || {
                if let Ok(mut a) = Conn::new(opts.clone()) {
                    let _ = a.query_drop(format!("KILL {what} {id}"));
                }
            }
        };
        let registration = interrupt::register(kill("QUERY", opts.clone()));
        let watchdog = Watchdog::start(
            kill("QUERY", opts.clone()),
            kill("CONNECTION", opts.clone()),
        );
        Ok((built, baseline, watchdog, registration))
    }

    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("the connection is open until the guard is dropped")
    }

    /// The server threads (`performance_schema.threads.THREAD_OS_ID`) of
    /// this guard's two connections: whose CPU `rowguard bench` reads when
    /// the server is local. Empty when `performance_schema` is off.
    pub fn server_threads(&mut self) -> Vec<u32> {
        let sql = "SELECT THREAD_OS_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()";
        [self.conn.as_mut(), self.admin.as_mut()]
            .into_iter()
            .flatten()
            .filter_map(|c| {
                c.query_first::<Option<u64>, _>(sql)
                    .ok()
                    .flatten()
                    .flatten()
            })
            .map(|p| p as u32)
            .collect()
    }

    /// The database this guard created and works in.
    pub fn database_name(&self) -> &str {
        &self.objects.database
    }

    /// The user the code under test runs as (`'name'@'host'`).
    pub fn app_user(&self) -> String {
        self.objects.user()
    }

    /// The protected tables, as the triggers log them.
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// Runs rowguard's own SQL on the app connection (not checked); a broken connection is fatal.
    fn own(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        let mut out = Vec::new();
        let ran = (|| -> mysql::Result<()> {
            let mut result = self.conn().query_iter(sql)?;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row?;
                    out.push((0..row.len()).map(|i| text_of(row.as_ref(i))).collect());
                }
            }
            Ok(())
        })();
        match ran {
            Ok(()) => Ok(out),
            Err(e) => {
                let error = db_error(&e);
                if code(&e).is_none() {
                    self.fatal = Some(error.message.clone());
                }
                Err(error)
            }
        }
    }

    fn fatal_error(&self) -> crate::Result<()> {
        fatal_error(&self.fatal, crate::Error::Mysql)
    }

    /// Every row of every fixture table and every AUTO_INCREMENT counter,
    /// as text, sorted: a comparable picture of the fixture (outside any input).
    pub fn dump(&mut self) -> crate::Result<Vec<String>> {
        let mut out = Vec::new();
        let tables: Vec<TableInfo> = self.tables.clone();
        for t in tables {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("x.{}", run::ident(c)))
                .collect();
            let sql = format!(
                "SELECT JSON_ARRAY({}) FROM {} x",
                cols.join(", "),
                run::ident(&t.name)
            );
            for r in self.own(&sql).map_err(|e| crate::Error::Mysql(e.message))? {
                out.push(format!("{}: {}", t.name, r[0].as_deref().unwrap_or("")));
            }
        }
        let counters = setup::counters_sql(&self.objects.database);
        for r in self
            .own(&counters)
            .map_err(|e| crate::Error::Mysql(e.message))?
        {
            out.push(format!("auto_increment {}", r[0].as_deref().unwrap_or("")));
        }
        out.sort();
        Ok(out)
    }

    /// Ends the input's XA transaction (rolled back) and puts back what a
    /// rollback does not: the session itself (user variables, prepared
    /// statements, user locks, settings), then AUTO_INCREMENT counters (read
    /// on the clean session, put back from the admin connection).
    fn roll_back(&mut self) -> crate::Result<()> {
        let end = format!("XA END '{x}'; XA ROLLBACK '{x}'", x = self.xid);
        if self.in_input {
            // An XA transaction the server already rolled back (deadlock) ends in an error: nothing to undo.
            let _ = self.own(&end);
            self.in_input = false;
        }
        self.fatal_error()?;
        let reset = self.conn().reset();
        reset.map_err(|e| {
            let m = one_line(&e);
            self.fatal = Some(m.clone());
            crate::Error::Mysql(format!("resetting the app session: {m}"))
        })?;
        let counters = setup::counters_sql(&self.objects.database);
        let now = self
            .own(&counters)
            .map_err(|e| crate::Error::Mysql(e.message))?;
        let now = now
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        if now != self.counters {
            self.reset_counters(&now)?;
        }
        Ok(())
    }

    /// `ALTER TABLE ... AUTO_INCREMENT = 1` (the server makes it max + 1)
    /// on each table whose counter is not what the fixture left.
    fn reset_counters(&mut self, now: &str) -> crate::Result<()> {
        let before: Vec<&str> = self.counters.split(',').collect();
        let db = run::ident(&self.objects.database);
        let admin = self.admin.as_mut().expect("open until dropped");
        for pair in now.split(',').filter(|p| !before.contains(p)) {
            let table = pair.rsplit_once('=').map_or(pair, |(t, _)| t);
            admin
                .query_drop(format!(
                    "ALTER TABLE {db}.{} AUTO_INCREMENT = 1",
                    run::ident(table)
                ))
                .map_err(run::my("resetting an AUTO_INCREMENT counter"))?;
        }
        Ok(())
    }
}

/// A result cell as text (rowguard's own queries).
fn text_of(v: Option<&mysql::Value>) -> Option<String> {
    match v? {
        mysql::Value::NULL => None,
        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

impl Drop for MyGuard {
    fn drop(&mut self) {
        // The app connection first: the run's objects are dropped after it.
        drop(self.conn.take());
        if let Some(admin) = self.admin.as_mut() {
            self.objects.drop_all(admin);
        }
    }
}

impl ServerInput for MyGuard {
    const KIND: BackendKind = BackendKind::Mysql;

    fn begin(&mut self) -> crate::Result<()> {
        if self.in_input {
            self.roll_back()?;
        }
        let started = self
            .own(&format!("XA START '{}'; {TIME_CUTS}", self.xid))
            .map_err(|e| {
                crate::Error::Mysql(format!("starting the input's transaction: {}", e.message))
            })?;
        self.in_input = true;
        self.time_cuts = started.first().and_then(|r| r.first().cloned().flatten());
        // Nothing in the log ever commits: whatever it holds from here on is this input's.
        self.read_after = 0;
        self.input_deadline = Some(Instant::now() + INPUT_TIME);
        Ok(())
    }

    fn end(&mut self) -> crate::Result<()> {
        self.roll_back()
    }

    fn query(&mut self, text: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let ran = self
            .conn()
            .exec_map(text, values::params(params), |row: mysql::Row| {
                values::row_values(&row)
            });
        ran.map_err(|e| noting_fatal(&mut self.fatal, db_error(&e), code(&e).is_none()))
    }
}

crate::server::call::server_guard!(MyGuard, "mysql", Dialect::Mysql, crate::Error::Mysql);

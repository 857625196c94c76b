//! The PostgreSQL backend: [`PgGuard`] runs the same checks as the SQLite
//! [`super::Guard`] on a real server, behind the [`Backend`] seam, with the
//! same [`Policy`], finding kinds, blast radius and undo statements.
//!
//! Safety of the user's server ([`run`]): each guard works in a database it
//! creates from `template0` and roles it creates, all marked as rowguard's
//! and dropped when the guard is dropped (or, after a run killed with
//! SIGKILL, by the next run). The database named in `--database` is only
//! where rowguard connects; one holding objects rowguard did not create is
//! refused unless the caller says it is rowguard's.
//!
//! Isolation by construction ([`setup`]): the code under test logs in as a
//! role that owns nothing and can become no other role; the fixture, the
//! change log and its triggers belong to a NOLOGIN owner. Each input is one
//! transaction, always rolled back, that can never commit (a deferred
//! trigger raises at COMMIT) and outside which no fixture table can be
//! written; each call runs in a savepoint. Nothing is split or skipped by
//! reading the SQL: a batch goes to the server whole (simple query protocol,
//! the server splits it, rows stream past), a call with parameters goes
//! alone (extended protocol). What the server refuses the app role is a
//! finding from its SQLSTATE. The only statement refused before it is sent
//! is `COPY` (the guard serves no copy stream; one it misses breaks the
//! connection: an error, never a clean verdict). After each call, in one round trip, the guard reads
//! the new log rows, the role, the transaction (still the input's?), the
//! capture triggers (all enabled?), temporary objects and the session
//! settings it depends on: any change is a finding, and the guard restores
//! them (a new input transaction when the old one was ended).
//!
//! Bounds the input cannot lift: `temp_file_limit` (a superuser setting) on
//! the app role; `statement_timeout`, `lock_timeout` and `work_mem` set on
//! the role and checked after every call; a watchdog ([`crate::server::watchdog`]) that cancels, then
//! terminates, a call past its wall-clock limit; text with a run of operator
//! characters long enough to stall PostgreSQL's lexer is never sent.
//! A signal ([`crate::interrupt`]) cancels the call in flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};

use crate::backend::BackendKind;
use crate::interrupt;
use crate::policy::TableInfo;
use crate::server::backend::ServerInput;
use crate::static_check::Dialect;
use crate::{DbError, ErrorClass, Kind, Policy, Value};

mod call;
/// The postgres lexer ([`crate::dialect::postgres`]) under its old name.
pub use crate::dialect::postgres as lex;
mod raw;
pub(crate) mod run;
pub(crate) mod setup;
mod status;
pub mod values;

use crate::server::call::noting_fatal;
use crate::server::judging::Judging;
use crate::server::watchdog::Watchdog;
/// The server options under the PostgreSQL backend's old name.
pub use crate::server::ServerOptions as PgOptions;
pub use raw::PgRaw;
pub(crate) use raw::StatementCache;
use status::{status_sql, watched_sql};

/// Per-statement limits the server enforces (set on the app role).
const STATEMENT_TIMEOUT_MS: u64 = 3000;
/// The wall-clock limit of one call (its statements and the guard's reading
/// after it): past it the watchdog cancels the call, then ends it.
const CALL_LIMIT: Duration = Duration::from_millis(STATEMENT_TIMEOUT_MS + 1000);
/// Wall-clock limit of all the calls of one input (as on SQLite).
const INPUT_TIME: Duration = crate::dynamic::INPUT_TIME;
/// Prepared statements kept per connection before the cache is emptied.
const STATEMENT_CACHE: usize = 256;

/// A PostgreSQL connection whose every statement is checked against a policy.
pub struct PgGuard {
    /// The code under test's connection (as the app role).
    conn: Option<Client>,
    /// The `--database` user's connection: creates and drops [`run::Objects`].
    admin: Option<Client>,
    objects: run::Objects,
    tables: Vec<TableInfo>,
    judging: Judging,
    statements: HashMap<String, Statement>,
    /// The input's transaction id (`rowguard.begin()`).
    xid: String,
    /// The last change-log row read.
    read_after: i64,
    /// When the current input's time is up ([`INPUT_TIME`] after it began).
    input_deadline: Option<Instant>,
    /// The previous call's savepoint is still open (released when the next call opens its own).
    savepoint_open: bool,
    /// [`WATCHED`] as the app role's session starts with them.
    baseline: String,
    /// The one query that reads a call's outcome (see [`PgGuard::collect`]).
    status_sql: String,
    /// The connection broke: every later call fails and the input ends in an error.
    fatal: Option<String>,
    watchdog: Watchdog,
    _interrupt: interrupt::Registration,
}

/// A one-line form of a client error.
pub(crate) fn one_line(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    };
    text.replace('\n', " ")
}

/// The [`DbError`] of a client error, its class taken from the SQLSTATE
/// (a connection failure has none: [`ErrorClass::Other`]).
pub(crate) fn db_error(e: &postgres::Error) -> DbError {
    let class = match e.as_db_error().map(|d| d.code().code()) {
        Some("42501") | Some("P0001") => ErrorClass::Denied,
        Some("57014") | Some("55P03") => ErrorClass::Limit,
        Some(c) if c.starts_with("53") || c.starts_with("54") => ErrorClass::Limit,
        Some(c) if c.starts_with("23") => ErrorClass::Constraint,
        Some(c) if c.starts_with("42") => ErrorClass::Syntax,
        _ => ErrorClass::Other,
    };
    DbError::new(class, one_line(e))
}

/// The finding a server error is, if any: the server's own reading of what
/// the statement tried (its SQLSTATE, and for a refused privilege whether
/// the object was a schema or an owner's right).
fn error_kind(code: &str, message: &str, bound_values: bool) -> Option<Kind> {
    match code {
        "42501"
            if message.starts_with("must be owner")
                || message.starts_with("permission denied for schema")
                || message.starts_with("permission denied to create") =>
        {
            Some(Kind::SchemaChange)
        }
        "42501" | "2D000" | "0A000" => Some(Kind::ForbiddenAction),
        "P0001" if message.starts_with("rowguard:") => Some(Kind::ForbiddenAction),
        c if c.starts_with("25") || c.starts_with("3B") => Some(Kind::ForbiddenAction),
        "57014" | "55P03" => Some(Kind::ResourceLimit),
        c if c.starts_with("53") || c.starts_with("54") => Some(Kind::ResourceLimit),
        // A bound value the server cannot store (text with NUL): data, not SQL.
        "22021" | "22P05" if bound_values => None,
        _ => Some(Kind::SqlError),
    }
}

impl PgGuard {
    /// Connects to the server in `options`, builds `schema_sql` (DDL and rows,
    /// PostgreSQL dialect) in a fresh database and installs the isolation.
    pub fn open(options: &PgOptions, schema_sql: &str, policy: Policy) -> crate::Result<PgGuard> {
        let (config, mut admin) = run::admin(options)?;
        let objects = run::Objects::create(&mut admin, options, true)?;
        let built = setup::build(&config, &objects, schema_sql)
            .and_then(|(conn, tables)| Self::start(conn, &config, &objects).map(|s| (s, tables)));
        let ((conn, baseline, watchdog, registration), tables) = match built {
            Ok(b) => b,
            Err(e) => {
                objects.drop_all(&mut admin);
                return Err(e);
            }
        };
        let status_sql = status_sql();
        Ok(PgGuard {
            conn: Some(conn),
            admin: Some(admin),
            objects,
            tables,
            judging: Judging::new(policy),
            statements: HashMap::new(),
            xid: String::new(),
            read_after: 0,
            input_deadline: None,
            savepoint_open: false,
            baseline,
            status_sql,
            fatal: None,
            watchdog,
            _interrupt: registration,
        })
    }

    /// The app connection's baseline settings, its watchdog and its signal registration.
    fn start(
        mut conn: Client,
        config: &Config,
        objects: &run::Objects,
    ) -> crate::Result<(Client, String, Watchdog, interrupt::Registration)> {
        let first = run::rows(
            conn.simple_query(&format!(
                "SELECT pg_catalog.pg_backend_pid()::text, {}",
                watched_sql()
            ))
            .map_err(run::pg("reading the app session"))?,
        );
        let (pid, baseline) = match first.first().map(Vec::as_slice) {
            Some([Some(pid), Some(b)]) => (pid.clone(), b.clone()),
            _ => {
                return Err(crate::Error::Postgres(
                    "reading the app session: no row".into(),
                ))
            }
        };
        let token = conn.cancel_token();
        let cancel = {
            let t = token.clone();
            move || {
                let _ = t.cancel_query(NoTls);
            }
        };
        let admin_config = config.clone();
        let database = objects.database.clone();
        let terminate = move || {
            if let Ok(mut a) = admin_config.connect(NoTls) {
                let _ = a.execute(
                    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE pid = $1::text::int AND datname = $2",
                    &[&pid, &database],
                );
            }
        };
        let registration = interrupt::register(move || {
            let _ = token.cancel_query(NoTls);
        });
        Ok((
            conn,
            baseline,
            Watchdog::start(cancel, terminate),
            registration,
        ))
    }

    fn conn(&mut self) -> &mut Client {
        self.conn
            .as_mut()
            .expect("the connection is open until the guard is dropped")
    }

    /// The server processes (`pg_backend_pid()`) of this guard's two
    /// connections, the code under test's and the admin one: whose CPU
    /// `rowguard bench` reads when the server is local.
    pub fn backend_pids(&mut self) -> Vec<u32> {
        [self.conn.as_mut(), self.admin.as_mut()]
            .into_iter()
            .flatten()
            .filter_map(|c| c.query_one("SELECT pg_backend_pid()", &[]).ok())
            .filter_map(|row| row.try_get::<_, i32>(0).ok())
            .map(|p| p as u32)
            .collect()
    }

    /// The fixture schema (tables are found through `search_path`).
    pub fn schema(&self) -> &str {
        "public"
    }

    /// The database this guard created and works in.
    pub fn database_name(&self) -> &str {
        &self.objects.database
    }

    /// The role the code under test runs as.
    pub fn app_role(&self) -> &str {
        &self.objects.app
    }

    /// The protected tables, as the triggers log them.
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// Runs rowguard's own SQL (not checked); a broken connection is fatal.
    fn own(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        let r = self.conn().simple_query(sql);
        r.map_err(|e| {
            let error = db_error(&e);
            if e.as_db_error().is_none() || self.conn.as_ref().is_some_and(Client::is_closed) {
                self.fatal = Some(error.message.clone());
            }
            error
        })
    }

    /// Every row of every fixture table and every sequence value, as text,
    /// sorted: a comparable picture of the fixture (outside any input).
    pub fn dump(&mut self) -> crate::Result<Vec<String>> {
        let mut out = Vec::new();
        let tables: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        for t in tables {
            let sql = format!("SELECT to_jsonb(x)::text FROM public.{} x", run::ident(&t));
            for r in run::rows(
                self.own(&sql)
                    .map_err(|e| crate::Error::Postgres(e.message))?,
            ) {
                out.push(format!("{t}: {}", r[0].as_deref().unwrap_or("")));
            }
        }
        let seq = "SELECT sequencename || '=' || coalesce(last_value::text, 'unused') FROM pg_catalog.pg_sequences WHERE schemaname = 'public'";
        for r in run::rows(
            self.own(seq)
                .map_err(|e| crate::Error::Postgres(e.message))?,
        ) {
            out.push(format!("sequence {}", r[0].as_deref().unwrap_or("")));
        }
        out.sort();
        Ok(out)
    }

    fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.conn().prepare(sql)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if self.fatal.is_none() {
                let _ = conn.batch_execute("ROLLBACK");
            }
            drop(conn);
        }
        if let Some(admin) = self.admin.as_mut() {
            self.objects.drop_all(admin);
        }
    }
}

impl ServerInput for PgGuard {
    const KIND: BackendKind = BackendKind::Postgres;

    fn begin(&mut self) -> crate::Result<()> {
        // ROLLBACK outside a transaction is only a warning.
        let messages = self
            .own("ROLLBACK; BEGIN; SELECT rowguard.begin()")
            .map_err(|e| crate::Error::Postgres(e.message))?;
        self.xid = run::rows(messages)
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        self.savepoint_open = false;
        self.input_deadline = Some(Instant::now() + INPUT_TIME);
        Ok(())
    }

    fn end(&mut self) -> crate::Result<()> {
        // What a rollback does not undo: sequences, advisory locks, and
        // statements the input PREPAREd (a later input could EXECUTE them).
        let left = self
            .own("ROLLBACK; SELECT rowguard.reset_sequences(), pg_catalog.pg_advisory_unlock_all(), \
                  (SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql)::text")
            .map_err(|e| crate::Error::Postgres(e.message))?;
        let prepared = run::rows(left)
            .first()
            .and_then(|r| r.get(2).cloned().flatten())
            .is_some_and(|n| n != "0");
        if prepared {
            self.statements.clear();
            self.own("DEALLOCATE ALL")
                .map_err(|e| crate::Error::Postgres(e.message))?;
        }
        Ok(())
    }

    fn query(&mut self, text: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let run = |g: &mut PgGuard| -> Result<Vec<Vec<Value>>, postgres::Error> {
            let stmt = g.prepared(text)?;
            let conn = g.conn();
            values::with_bound(params, |refs| {
                conn.query(&stmt, refs)?
                    .iter()
                    .map(values::row_values)
                    .collect()
            })
        };
        run(self)
            .map_err(|e| noting_fatal(&mut self.fatal, db_error(&e), e.as_db_error().is_none()))
    }
}

crate::server::call::server_guard!(
    PgGuard,
    "postgres",
    Dialect::Postgres,
    crate::Error::Postgres
);

/// A connect timeout for URLs that set none: an unreachable server is an error, not a hang.
pub(crate) fn config_of(url: &str) -> crate::Result<Config> {
    let mut config: Config = url.parse().map_err(|e: postgres::Error| {
        crate::Error::Postgres(format!("not a PostgreSQL URL: {}", one_line(&e)))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    Ok(config)
}

/// Connects with `config`, one-line error on failure.
pub(crate) fn connect(config: &Config, what: &str) -> crate::Result<Client> {
    config
        .connect(NoTls)
        .map_err(|e| crate::Error::Postgres(format!("cannot connect {what}: {}", one_line(&e))))
}

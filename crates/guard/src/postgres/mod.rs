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
//! written; each call runs in a savepoint. Nothing is split, classified or
//! skipped by reading the SQL: a batch goes to the server whole (simple
//! query protocol, the server splits it), a call with parameters goes alone
//! (extended protocol). What the server refuses the app role is a finding
//! from its SQLSTATE. After each call, in one round trip, the guard reads
//! the new log rows, the role, the transaction (still the input's?), the
//! capture triggers (all enabled?), temporary objects and the session
//! settings it depends on: any change is a finding, and the guard restores
//! them (a new input transaction when the old one was ended).
//!
//! Bounds the input cannot lift: `temp_file_limit` (a superuser setting) on
//! the app role; `statement_timeout`, `lock_timeout` and `work_mem` set on
//! the role and checked after every call; a [`watchdog`] that cancels, then
//! terminates, a call past its wall-clock limit; text with a run of operator
//! characters long enough to stall PostgreSQL's lexer is never sent.
//! A signal ([`crate::interrupt`]) cancels the call in flight.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};

use crate::backend::{Backend, BackendKind};
use crate::interrupt;
use crate::memo::Memo;
use crate::policy::{undo, RowChange, TableInfo};
use crate::static_check::{compiled_text, Dialect, StaticView};
use crate::{Api, Db, DbError, ErrorClass, Finding, Kind, Policy, StatementCheck, Value, Verdict};

pub mod lex;
mod raw;
pub(crate) mod run;
mod setup;
pub mod values;
mod watchdog;

pub use raw::PgRaw;
pub use run::PgOptions;
use watchdog::{Acted, Watchdog};

/// Per-statement limits the server enforces (set on the app role).
const STATEMENT_TIMEOUT_MS: u64 = 3000;
/// The wall-clock limit of one call (its statements and the guard's reading
/// after it): past it the watchdog cancels the call, then ends it.
const CALL_LIMIT: Duration = Duration::from_millis(STATEMENT_TIMEOUT_MS + 1000);
/// Prepared statements kept per connection before the cache is emptied.
const STATEMENT_CACHE: usize = 256;

/// Settings on the app role. `temp_file_limit` (kB) only a superuser can
/// change; the others any role can, so [`WATCHED`] checks them after every call.
pub(crate) const ROLE_SETTINGS: [(&str, &str); 6] = [
    ("statement_timeout", "3000"),
    ("lock_timeout", "1000"),
    ("temp_file_limit", "65536"),
    ("work_mem", "4096"),
    ("hash_mem_multiplier", "1"),
    ("client_connection_check_interval", "1000"),
];

/// Session settings the guard depends on; a call that changes one is a finding.
const WATCHED: [&str; 8] = [
    "statement_timeout",
    "lock_timeout",
    "work_mem",
    "hash_mem_multiplier",
    "maintenance_work_mem",
    "client_connection_check_interval",
    "idle_in_transaction_session_timeout",
    "search_path",
];

/// A PostgreSQL connection whose every statement is checked against a policy.
pub struct PgGuard {
    /// The code under test's connection (as the app role).
    conn: Option<Client>,
    /// The `--database` user's connection: creates and drops [`run::Objects`].
    admin: Option<Client>,
    objects: run::Objects,
    tables: Vec<TableInfo>,
    policy: Policy,
    templates: Option<VecDeque<String>>,
    verdict: Verdict,
    memo: Memo,
    statements: HashMap<String, Statement>,
    /// The input's transaction id (`rowguard.begin()`).
    xid: String,
    /// The last change-log row read.
    read_after: i64,
    /// The previous call's savepoint is still open (released when the next call opens its own).
    savepoint_open: bool,
    /// [`WATCHED`] as the app role's session starts with them.
    baseline: String,
    /// The one query that reads a call's outcome (see [`PgGuard::collect`]).
    status_sql: String,
    /// The connection broke: every later call fails and the input ends in an error.
    fatal: Option<String>,
    last_view: StaticView,
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

/// What one statement's run gave back.
enum Ran {
    Rows(usize),
    Row(Vec<Value>),
    Done,
}

/// What the guard read after a call.
struct Status {
    user: String,
    session_user: String,
    in_input: bool,
    xid: String,
    temp: i64,
    triggers: usize,
    settings: String,
    rows: Vec<(String, Option<String>, Option<String>)>,
    last_seq: i64,
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
        let mut memo = Memo::default();
        memo.set_policy(&policy);
        let status_sql = status_sql();
        Ok(PgGuard {
            conn: Some(conn),
            admin: Some(admin),
            objects,
            tables,
            policy,
            templates: None,
            verdict: Verdict::default(),
            memo,
            statements: HashMap::new(),
            xid: String::new(),
            read_after: 0,
            savepoint_open: false,
            baseline,
            status_sql,
            fatal: None,
            last_view: StaticView::default(),
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

    fn fatal_error(&self) -> crate::Result<()> {
        match &self.fatal {
            Some(f) => Err(crate::Error::Postgres(f.clone())),
            None => Ok(()),
        }
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

    fn next_template(&mut self) -> Option<Option<String>> {
        self.templates.as_mut().map(|t| t.pop_front())
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

    /// Runs one call: a batch whole (the server splits it), anything else
    /// alone with bound values. A cached statement the code under test
    /// deallocated (`DEALLOCATE ALL`) is prepared again once.
    fn run_one(&mut self, api: Api, sql: &str, params: &[Value]) -> Result<Ran, postgres::Error> {
        if api == Api::ExecuteBatch {
            return self.conn().simple_query(sql).map(|_| Ran::Done);
        }
        let ran = self.run_prepared(api, sql, params);
        match &ran {
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "26000") => {
                self.statements.clear();
                self.run_prepared(api, sql, params)
            }
            _ => ran,
        }
    }

    fn run_prepared(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
    ) -> Result<Ran, postgres::Error> {
        let stmt = self.prepared(sql)?;
        let conn = self.conn();
        values::with_bound(params, |refs| match api {
            Api::QueryRow => match conn.query(&stmt, refs)?.first() {
                Some(r) => Ok(Ran::Row(values::row_values(r)?)),
                None => Ok(Ran::Done),
            },
            _ => Ok(Ran::Rows(conn.execute(&stmt, refs)? as usize)),
        })
    }

    /// Checks and runs one call under the watchdog.
    fn guarded(&mut self, api: Api, sql: &str, params: &[Value]) -> Result<Ran, DbError> {
        if interrupt::requested() && self.fatal.is_none() {
            self.fatal = Some("interrupted by a signal".into());
        }
        let (compiled, tail) = compiled_text(sql);
        let text = lex::dollar_params(compiled, !params.is_empty());
        let mut check = StatementCheck::new(api, sql, params, tail);
        let template = self.next_template();
        let view = self.memo.view(
            &text,
            Dialect::Postgres,
            &self.policy,
            template.as_ref().and_then(|t| t.as_deref()),
        );
        check.add_static(&view, &template, tail, "sent to the server");
        self.last_view = view;
        self.watchdog.arm(CALL_LIMIT);
        let result = self.run_dynamic(&mut check, api, &text, params);
        let acted = self.watchdog.disarm();
        if acted != Acted::Nothing && !interrupt::requested() {
            check.add(Finding::new(
                Kind::ResourceLimit,
                format!(
                    "the call ran past its wall-clock limit of {} ms: the guard {} it",
                    CALL_LIMIT.as_millis(),
                    if acted == Acted::Cancelled {
                        "cancelled"
                    } else {
                        "ended the connection of"
                    }
                ),
            ));
        }
        self.verdict.statements.push(check);
        result
    }

    fn run_dynamic(
        &mut self,
        check: &mut StatementCheck,
        api: Api,
        text: &str,
        params: &[Value],
    ) -> Result<Ran, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        // Feedback only (which statements the text starts): never what runs.
        check.accesses = lex::statements(text)
            .iter()
            .map(|p| lex::leading_words(p, 2).join(" ").to_ascii_lowercase())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let run = lex::longest_operator_run(text);
        if run > lex::MAX_OPERATOR_RUN {
            let why = format!(
                "a run of {run} operator characters (more than {}): PostgreSQL's lexer takes quadratic time on it and cannot be interrupted; not sent",
                lex::MAX_OPERATOR_RUN
            );
            check.add(Finding::new(Kind::ResourceLimit, why.clone()));
            return Err(DbError::new(ErrorClass::Limit, why));
        }
        self.open_savepoint(check)?;
        let ran = self.run_one(api, text, params);
        let result = match ran {
            Ok(r) => Ok(r),
            Err(e) => {
                let message = one_line(&e);
                if interrupt::requested() {
                    self.fatal = Some("interrupted by a signal".into());
                    return Err(DbError::new(ErrorClass::Other, message));
                }
                if e.as_db_error().is_none() && self.conn.as_ref().is_some_and(Client::is_closed) {
                    self.fatal = Some(message.clone());
                    return Err(DbError::new(ErrorClass::Other, message));
                }
                check.error = Some(message.clone());
                let kind = match e.as_db_error() {
                    Some(db) => error_kind(db.code().code(), db.message(), !params.is_empty()),
                    // Client-side: a value that cannot be bound to the parameter's type.
                    None => Some(Kind::SqlError),
                };
                if let Some(kind) = kind {
                    check.add(Finding::new(kind, message.clone()));
                }
                if let Some(rows) = e.as_db_error().and_then(|d| self.denied_commit_rows(d)) {
                    // What the transaction wrote before the denied COMMIT undid it.
                    self.judge(check, rows);
                }
                Err(db_error(&e))
            }
        };
        self.collect(check, result.is_err())?;
        match result {
            Ok(Ran::Done) if api == Api::QueryRow => Err(DbError::no_rows()),
            other => other,
        }
    }

    /// The call's savepoint, in the round trip that releases the previous
    /// call's: released after the previous call was read, so a call that
    /// releases or rolls back the guard's savepoint hides none of its writes,
    /// and is found here (a finding on this call; a new input transaction).
    fn open_savepoint(&mut self, check: &mut StatementCheck) -> Result<(), DbError> {
        let sql = if self.savepoint_open {
            "RELEASE SAVEPOINT rowguard_statement; SAVEPOINT rowguard_statement"
        } else {
            "SAVEPOINT rowguard_statement"
        };
        if self.own(sql).is_err() {
            if let Some(f) = &self.fatal {
                return Err(DbError::new(ErrorClass::Other, f.clone()));
            }
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the previous statement released or rolled back the guard's savepoint (savepoint control): denied; the guard began a new transaction".to_string(),
            ));
            self.restart_input()?;
            self.own("SAVEPOINT rowguard_statement")?;
        }
        self.savepoint_open = true;
        Ok(())
    }

    /// After a call: undoes it when it failed, then in one round trip reads
    /// its log rows and checks the role, the transaction, the capture, the
    /// temporary objects and the settings. Any of these tampered with is a
    /// finding; an input transaction the call ended (or broke) is replaced
    /// by a new one.
    fn collect(&mut self, check: &mut StatementCheck, failed: bool) -> Result<(), DbError> {
        let rolled_back = !failed || self.own("ROLLBACK TO SAVEPOINT rowguard_statement").is_ok();
        let status = if rolled_back {
            let sql = format!(
                "{}; SELECT * FROM rowguard.read({})",
                self.status_sql, self.read_after
            );
            self.own(&sql)
                .ok()
                .map(|m| parse_status(m, self.read_after))
        } else {
            None
        };
        if self.fatal.is_some() {
            return Err(DbError::new(
                ErrorClass::Other,
                self.fatal.clone().unwrap_or_default(),
            ));
        }
        let xid = self.xid.clone();
        let ended = |s: &Status| !(s.in_input && s.xid == xid);
        let status = match status {
            Some(s) if ended(&s) => {
                // A transaction of the code's own (it can write only when
                // marked as an input, and then never commit): judged too.
                self.judge(check, s.rows);
                None
            }
            other => other,
        };
        let Some(status) = status else {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement ended or broke the input's transaction (COMMIT, ROLLBACK or savepoint control): denied; the guard began a new one".to_string(),
            ));
            return self.restart_input();
        };
        self.read_after = status.last_seq;
        if status.user != self.objects.app || status.session_user != self.objects.app {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!(
                    "the statement changed the role to `{}` (session `{}`): denied",
                    status.user, status.session_user
                ),
            ));
        }
        if status.triggers != setup::capture_triggers(&self.tables) + 1 {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement disabled or dropped the guard's capture triggers".to_string(),
            ));
        }
        if status.temp > 0 {
            check.add(Finding::new(
                Kind::SchemaChange,
                format!("the statement created {} temporary object(s)", status.temp),
            ));
        }
        if status.settings != self.baseline {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!(
                    "the statement changed session settings the guard relies on ({}): denied, reset",
                    changed_settings(&self.baseline, &status.settings)
                ),
            ));
            self.own("RESET ALL")?;
        }
        self.judge(check, status.rows);
        Ok(())
    }

    /// The log rows after [`PgGuard::read_after`] that a denied COMMIT
    /// reported in its error's DETAIL (the rollback that followed erased them).
    fn denied_commit_rows(
        &self,
        db: &postgres::error::DbError,
    ) -> Option<Vec<(String, Option<String>, Option<String>)>> {
        if db.code().code() != "P0001" || !db.message().starts_with("rowguard: COMMIT") {
            return None;
        }
        let rows: Vec<(String, String, Option<String>, Option<String>)> =
            serde_json::from_str(db.detail()?).ok()?;
        Some(
            rows.into_iter()
                .filter(|r| r.0.parse::<i64>().is_ok_and(|seq| seq > self.read_after))
                .map(|(_, tbl, old, new)| (tbl, old, new))
                .collect(),
        )
    }

    /// A new input transaction after the code under test ended the old one.
    fn restart_input(&mut self) -> Result<(), DbError> {
        self.savepoint_open = false;
        let messages = self.own("ROLLBACK; RESET ALL; BEGIN; SELECT rowguard.begin()")?;
        self.xid = run::rows(messages)
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        Ok(())
    }

    /// Compares logged row changes with the policy (as the SQLite backend does).
    fn judge(
        &mut self,
        check: &mut StatementCheck,
        rows: Vec<(String, Option<String>, Option<String>)>,
    ) {
        check.changed_rows = rows.len();
        let mut outside = Vec::new();
        let mut undos = Vec::new();
        for (tbl, old, new) in rows {
            let Some(table) = self.tables.iter().find(|t| t.name == tbl) else {
                continue;
            };
            let change = RowChange {
                old: values::cells_of_image(old.as_deref(), &table.columns),
                new: values::cells_of_image(new.as_deref(), &table.columns),
                table: tbl,
            };
            if change.old.is_none() && change.new.is_none() {
                continue;
            }
            let cells = self.policy.violations(&change, table);
            if !cells.is_empty() {
                outside.extend(cells);
                undos.push(undo(&change, table));
            }
        }
        if !outside.is_empty() {
            check.add(Finding::write_outside(outside, undos));
        }
    }
}

/// `concat_ws` of the [`WATCHED`] settings.
fn watched_sql() -> String {
    let parts: Vec<String> = WATCHED
        .iter()
        .map(|w| format!("pg_catalog.current_setting('{w}')"))
        .collect();
    format!("pg_catalog.concat_ws(' | ', {})", parts.join(", "))
}

/// The status query of [`PgGuard::collect`] (one row).
fn status_sql() -> String {
    format!(
        "SELECT current_user::text, session_user::text, rowguard.in_input()::text, pg_catalog.pg_current_xact_id()::text, \
         (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())::text, \
         (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgname IN ('rowguard_log', 'rowguard_input', 'rowguard_truncate', 'deny_commit') AND tgenabled = 'O')::text, \
         {}",
        watched_sql()
    )
}

/// The status row, then the log rows after `after`.
fn parse_status(messages: Vec<SimpleQueryMessage>, after: i64) -> Status {
    let mut part = 0;
    let mut s = Status {
        user: String::new(),
        session_user: String::new(),
        in_input: false,
        xid: String::new(),
        temp: 0,
        triggers: 0,
        settings: String::new(),
        rows: Vec::new(),
        last_seq: after,
    };
    for m in messages {
        match m {
            SimpleQueryMessage::CommandComplete(_) => part += 1,
            SimpleQueryMessage::Row(r) if part == 0 => {
                let g = |i: usize| r.get(i).unwrap_or("").to_string();
                s.user = g(0);
                s.session_user = g(1);
                s.in_input = g(2) == "true";
                s.xid = g(3);
                s.temp = g(4).parse().unwrap_or(0);
                s.triggers = g(5).parse().unwrap_or(0);
                s.settings = g(6);
            }
            SimpleQueryMessage::Row(r) if part == 1 => {
                if let Some(seq) = r.get(0).and_then(|q| q.parse::<i64>().ok()) {
                    s.last_seq = s.last_seq.max(seq);
                }
                s.rows.push((
                    r.get(1).unwrap_or("").to_string(),
                    r.get(2).map(str::to_string),
                    r.get(3).map(str::to_string),
                ));
            }
            _ => {}
        }
    }
    s
}

/// `name: before -> after` of each watched setting that differs.
fn changed_settings(before: &str, after: &str) -> String {
    WATCHED
        .iter()
        .zip(before.split(" | ").zip(after.split(" | ")))
        .filter(|(_, (a, b))| a != b)
        .map(|(name, (a, b))| format!("{name}: {a} -> {b}"))
        .collect::<Vec<_>>()
        .join(", ")
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

impl Backend for PgGuard {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn begin_input(&mut self) -> crate::Result<()> {
        if interrupt::requested() {
            return Err(crate::Error::Postgres("interrupted by a signal".into()));
        }
        self.fatal_error()?;
        // ROLLBACK outside a transaction is only a warning.
        let messages = self
            .own("ROLLBACK; BEGIN; SELECT rowguard.begin()")
            .map_err(|e| crate::Error::Postgres(e.message))?;
        self.xid = run::rows(messages)
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        self.savepoint_open = false;
        Ok(())
    }

    fn end_input(&mut self) -> crate::Result<Verdict> {
        let verdict = self.take_verdict();
        self.fatal_error()?;
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
        Ok(verdict)
    }

    fn set_policy(&mut self, policy: Policy) {
        self.memo.set_policy(&policy);
        self.policy = policy;
    }

    fn set_templates(&mut self, shapes: Option<Vec<String>>) {
        self.templates = shapes.map(VecDeque::from);
    }

    fn shape_of(&self, sql: &str) -> String {
        let text = lex::dollar_params(compiled_text(sql).0, false);
        self.memo.shape(&text, Dialect::Postgres)
    }

    fn query_unchecked(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        let text = lex::dollar_params(sql, !params.is_empty());
        let run = |g: &mut PgGuard| -> Result<Vec<Vec<Value>>, postgres::Error> {
            let stmt = g.prepared(&text)?;
            let conn = g.conn();
            values::with_bound(params, |refs| {
                conn.query(&stmt, refs)?
                    .iter()
                    .map(values::row_values)
                    .collect()
            })
        };
        run(self).map_err(|e| {
            let error = db_error(&e);
            if e.as_db_error().is_none() {
                self.fatal = Some(error.message.clone());
            }
            error
        })
    }

    fn take_verdict(&mut self) -> Verdict {
        std::mem::take(&mut self.verdict)
    }

    fn as_db(&mut self) -> &mut dyn Db {
        self
    }
}

impl Db for PgGuard {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        match self.guarded(Api::Execute, sql, params)? {
            Ran::Rows(n) => Ok(n),
            _ => Ok(0),
        }
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.guarded(Api::ExecuteBatch, sql, &[]).map(|_| ())
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        match self.guarded(Api::QueryRow, sql, params)? {
            Ran::Row(r) => Ok(r),
            _ => Err(DbError::no_rows()),
        }
    }

    fn database(&self) -> &'static str {
        "postgres"
    }
}

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

//! The PostgreSQL backend: [`PgGuard`] runs the same checks as the SQLite
//! [`super::Guard`] on a real server, behind the [`Backend`] seam, with the
//! same [`Policy`], finding kinds, blast radius and undo statements.
//!
//! Safety of the user's server ([`setup`]): rowguard works only in two
//! schemas it creates (`rowguard_<pid>_<n>` for the fixture and `..._scratch`
//! for its change log) and two roles it creates (a login role that owns
//! both, and a NOLOGIN role the code under test runs as); it drops all four
//! when the guard is dropped. A database that already holds tables rowguard
//! did not create is refused unless the caller says it is rowguard's.
//!
//! Isolation, per input: one transaction, always rolled back, under
//! `SET LOCAL ROLE <app>` (SELECT/INSERT/UPDATE/DELETE on the fixture tables
//! and nothing else), `statement_timeout` and `lock_timeout`; sequences are
//! reset after it, so the fixture is identical input after input. Per call:
//! a savepoint; each statement of a batch is sent alone with the extended
//! protocol (which refuses two statements in one), after a look at its first
//! words denies transaction control, `SET`/`RESET`, `COPY`, DDL and the like
//! (never run). Row-level AFTER triggers in the scratch schema log
//! `to_jsonb(OLD)`/`to_jsonb(NEW)` of every changed row of every fixture
//! table (audit-trigger and cascade rows included); a statement-level
//! trigger denies `TRUNCATE`, which row triggers would not see. After each
//! call the guard reads and clears the log, checks the role is still the
//! restricted one and that no temporary object appeared.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};

use crate::backend::{Backend, BackendKind};
use crate::memo::Memo;
use crate::policy::{undo, RowChange, TableInfo};
use crate::static_check::{compiled_text, Dialect, StaticView};
use crate::{Api, Db, DbError, ErrorClass, Finding, Kind, Policy, StatementCheck, Value, Verdict};

pub mod lex;
mod raw;
mod setup;
pub mod values;

pub use raw::PgRaw;
pub use setup::PgOptions;

/// Per-statement limits (the server enforces them).
const STATEMENT_TIMEOUT_MS: u64 = 3000;
const LOCK_TIMEOUT_MS: u64 = 1000;
/// Prepared statements kept per connection before the cache is emptied.
const STATEMENT_CACHE: usize = 256;

/// Names of everything rowguard creates for one guard.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// Fixture schema (also the login role's name).
    pub schema: String,
    pub scratch: String,
    pub owner: String,
    pub app: String,
}

impl Names {
    fn next() -> Names {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = format!(
            "rowguard_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Names {
            scratch: format!("{base}_scratch"),
            owner: base.clone(),
            app: format!("{base}_app"),
            schema: base,
        }
    }
}

/// A PostgreSQL connection whose every statement is checked against a policy.
pub struct PgGuard {
    admin: Option<Client>,
    conn: Option<Client>,
    names: Names,
    tables: Vec<TableInfo>,
    /// Resets every fixture sequence to its value after setup.
    reset_sequences: String,
    policy: Policy,
    templates: Option<VecDeque<String>>,
    verdict: Verdict,
    memo: Memo,
    statements: HashMap<String, Statement>,
    /// Temporary objects seen at the end of the last call of this input.
    temp_objects: i64,
    /// The connection broke: every later call fails and the input ends in an error.
    fatal: Option<String>,
    last_view: StaticView,
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

/// What the first words of a statement say it is, when it is never allowed.
fn denied(words: &[String]) -> Option<(Kind, String)> {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let what = words.join(" ");
    let forbidden = |why: &str| Some((Kind::ForbiddenAction, format!("`{what}`: {why}")));
    match w(0) {
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => {
            forbidden("transaction control")
        }
        "PREPARE" if w(1) == "TRANSACTION" => forbidden("transaction control"),
        "SET" | "RESET" => {
            forbidden("changes the session (role, search path, settings) the guard checks in")
        }
        "COPY" => forbidden("COPY reads or writes outside SQL (files, programs, the client)"),
        "PREPARE" | "EXECUTE" | "DEALLOCATE" | "DISCARD" | "LISTEN" | "UNLISTEN" | "LOAD"
        | "CHECKPOINT" | "VACUUM" | "ANALYZE" | "CLUSTER" | "REINDEX" | "DECLARE" | "FETCH"
        | "MOVE" | "CLOSE" => forbidden("session or maintenance command"),
        "TRUNCATE" => forbidden("TRUNCATE fires no row trigger"),
        "CREATE" | "ALTER" | "DROP" | "COMMENT" | "GRANT" | "REVOKE" | "SECURITY" | "REFRESH"
        | "IMPORT" => Some((Kind::SchemaChange, format!("`{what}`: schema change"))),
        _ => None,
    }
}

/// The finding a server error is, if any.
fn error_kind(code: &str, message: &str, bound_values: bool) -> Option<Kind> {
    match code {
        "42501" | "2D000" => Some(Kind::ForbiddenAction),
        "P0001" if message.starts_with("rowguard:") => Some(Kind::ForbiddenAction),
        c if c.starts_with("25") => Some(Kind::ForbiddenAction),
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

impl PgGuard {
    /// Connects to the server in `options`, builds `schema_sql` (DDL and rows,
    /// PostgreSQL dialect) in a fresh schema and installs the isolation.
    pub fn open(options: &PgOptions, schema_sql: &str, policy: Policy) -> crate::Result<PgGuard> {
        let names = Names::next();
        let (admin, conn, tables, reset_sequences) = setup::build(options, &names, schema_sql)?;
        let mut memo = Memo::default();
        memo.set_policy(&policy);
        Ok(PgGuard {
            admin: Some(admin),
            conn: Some(conn),
            names,
            tables,
            reset_sequences,
            policy,
            templates: None,
            verdict: Verdict::default(),
            memo,
            statements: HashMap::new(),
            temp_objects: 0,
            fatal: None,
            last_view: StaticView::default(),
        })
    }

    fn conn(&mut self) -> &mut Client {
        self.conn
            .as_mut()
            .expect("the connection is open until the guard is dropped")
    }

    /// The fixture schema (tables are found through `search_path`).
    pub fn schema(&self) -> &str {
        &self.names.schema
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
            let sql = format!("SELECT to_jsonb(x)::text FROM \"{t}\" x");
            for m in self
                .own(&sql)
                .map_err(|e| crate::Error::Postgres(e.message))?
            {
                if let SimpleQueryMessage::Row(r) = m {
                    out.push(format!("{t}: {}", r.get(0).unwrap_or("")));
                }
            }
        }
        let seq = "SELECT sequencename || '=' || coalesce(last_value::text, 'unused') FROM pg_sequences WHERE schemaname = current_schema()";
        for m in self
            .own(seq)
            .map_err(|e| crate::Error::Postgres(e.message))?
        {
            if let SimpleQueryMessage::Row(r) = m {
                out.push(format!("sequence {}", r.get(0).unwrap_or("")));
            }
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

    /// Runs one statement with bound values.
    fn run_one(&mut self, api: Api, sql: &str, params: &[Value]) -> Result<Ran, postgres::Error> {
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

    /// Checks and runs one call.
    fn guarded(&mut self, api: Api, sql: &str, params: &[Value]) -> Result<Ran, DbError> {
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
        let result = self.run_dynamic(&mut check, api, &text, params);
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
        let pieces: Vec<&str> = match api {
            Api::ExecuteBatch => lex::statements(text),
            _ => vec![text],
        };
        check.accesses = pieces
            .iter()
            .map(|p| lex::leading_words(p, 2).join(" ").to_ascii_lowercase())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.own("SAVEPOINT rowguard_statement")?;
        let nested = pieces.len() > 1;
        let mut result: Result<Ran, DbError> = Ok(Ran::Done);
        for piece in &pieces {
            if let Some((kind, why)) = denied(&lex::leading_words(piece, 3)) {
                check.add(Finding::new(kind, format!("denied by the guard: {why}")));
                result = Err(DbError::new(
                    ErrorClass::Denied,
                    format!("rowguard denied {why}"),
                ));
                break;
            }
            if nested {
                self.own("SAVEPOINT rowguard_piece")?;
            }
            let ran = self.run_one(api, piece, params);
            match ran {
                Ok(r) => {
                    if nested {
                        self.own("RELEASE SAVEPOINT rowguard_piece")?;
                    }
                    result = Ok(r);
                }
                Err(e) => {
                    let message = one_line(&e);
                    if e.as_db_error().is_none()
                        && self.conn.as_ref().is_some_and(Client::is_closed)
                    {
                        self.fatal = Some(message.clone());
                        return Err(DbError::new(ErrorClass::Other, message));
                    }
                    let back = if nested {
                        "rowguard_piece"
                    } else {
                        "rowguard_statement"
                    };
                    self.own(&format!("ROLLBACK TO SAVEPOINT {back}"))?;
                    check.error = Some(message.clone());
                    let kind = match e.as_db_error() {
                        Some(db) => error_kind(db.code().code(), db.message(), !params.is_empty()),
                        // Client-side: a value that cannot be bound to the parameter's type.
                        None => Some(Kind::SqlError),
                    };
                    if let Some(kind) = kind {
                        check.add(Finding::new(kind, message.clone()));
                    }
                    result = Err(db_error(&e));
                    break;
                }
            }
        }
        self.collect(check)?;
        match result {
            Ok(Ran::Done) if api == Api::QueryRow => Err(DbError::no_rows()),
            other => other,
        }
    }

    /// Reads and clears the log, checks role and temporary objects, and ends
    /// the call's savepoint, in one round trip.
    fn collect(&mut self, check: &mut StatementCheck) -> Result<(), DbError> {
        let n = self.names.clone();
        let sql = format!(
            "SELECT current_user::text, (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())::text;\n\
             RESET ROLE;\n\
             DELETE FROM \"{s}\".rowguard_log RETURNING seq::text, tbl, old::text, new::text;\n\
             SET LOCAL ROLE \"{a}\";\n\
             RELEASE SAVEPOINT rowguard_statement",
            s = n.scratch,
            a = n.app
        );
        let messages = self.own(&sql)?;
        let mut part = 0;
        let mut role = String::new();
        let mut temp = 0i64;
        let mut rows: Vec<(i64, String, Option<String>, Option<String>)> = Vec::new();
        for m in messages {
            match m {
                SimpleQueryMessage::CommandComplete(_) => part += 1,
                SimpleQueryMessage::Row(r) if part == 0 => {
                    role = r.get(0).unwrap_or("").to_string();
                    temp = r.get(1).and_then(|t| t.parse().ok()).unwrap_or(0);
                }
                SimpleQueryMessage::Row(r) if part == 2 => rows.push((
                    r.get(0).and_then(|s| s.parse().ok()).unwrap_or(0),
                    r.get(1).unwrap_or("").to_string(),
                    r.get(2).map(str::to_string),
                    r.get(3).map(str::to_string),
                )),
                _ => {}
            }
        }
        if role != n.app {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!("the statement changed the role to `{role}` (SET ROLE, RESET ROLE or set_config): denied"),
            ));
        }
        if temp > self.temp_objects {
            check.add(Finding::new(
                Kind::SchemaChange,
                format!(
                    "the statement created {} temporary object(s)",
                    temp - self.temp_objects
                ),
            ));
        }
        self.temp_objects = temp;
        rows.sort_by_key(|r| r.0);
        self.judge(check, rows);
        Ok(())
    }

    /// Compares logged row changes with the policy (as the SQLite backend does).
    fn judge(
        &mut self,
        check: &mut StatementCheck,
        rows: Vec<(i64, String, Option<String>, Option<String>)>,
    ) {
        check.changed_rows = rows.len();
        let mut outside = Vec::new();
        let mut undos = Vec::new();
        for (_, tbl, old, new) in rows {
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

impl Drop for PgGuard {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.batch_execute("ROLLBACK");
            drop(conn);
        }
        if let Some(admin) = self.admin.as_mut() {
            setup::teardown(admin, &self.names);
        }
    }
}

impl Backend for PgGuard {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn begin_input(&mut self) -> crate::Result<()> {
        self.fatal_error()?;
        let sql = format!(
            "ROLLBACK; BEGIN; SET LOCAL ROLE \"{}\"; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}; SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}",
            self.names.app
        );
        // ROLLBACK outside a transaction is only a warning.
        self.own(&sql)
            .map_err(|e| crate::Error::Postgres(e.message))?;
        self.temp_objects = 0;
        Ok(())
    }

    fn end_input(&mut self) -> crate::Result<Verdict> {
        let verdict = self.take_verdict();
        self.fatal_error()?;
        let sql = format!(
            "ROLLBACK; {} SELECT pg_advisory_unlock_all()",
            self.reset_sequences
        );
        self.own(&sql)
            .map_err(|e| crate::Error::Postgres(e.message))?;
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

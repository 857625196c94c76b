//! The dynamic layer and the [`Guard`] connection wrapper.
//!
//! Setup ([`Guard::new`]): for every table of `main`, TEMP triggers (AFTER
//! INSERT/UPDATE/DELETE, built by [`super::capture`]) hand each changed row,
//! OLD and NEW, to the capture log in Rust; with `recursive_triggers = ON` so
//! REPLACE conflict deletes are seen too; triggers also defeat the truncate
//! optimisation of a WHERE-less DELETE, and fire for WITHOUT ROWID tables and
//! foreign-key cascades. The cost is per changed row, never per table or database.
//!
//! Per input: an outer transaction, always rolled back. Per call: the
//! statement is prepared under the authorizer (which runs at prepare time and
//! records the trace), bounded by the progress handler and SQLite limits,
//! then the log is taken and compared with the policy.
//! If a statement still ends the transaction (`OR ROLLBACK`, an interrupt),
//! that is a finding and the guard opens a new one before anything else runs.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{params_from_iter, Batch, Connection, ErrorCode};

use super::builtins;
use super::capture::{self, Capture};
use super::coverage::{ObservedWrite, SchemaEffects};
use super::isolation::{isolate, Counters, MAX_LENGTH};
use super::memo::Memo;
use super::policy::{undo_changed, Names, TableInfo};
use super::profile::{Breakdown, Part, Profile};
use super::static_check::{compiled_text, Dialect, StaticView, FORBIDDEN_FUNCTIONS};
use super::watchdog::Watchdog;
use super::{Api, Db, DbError, Finding, Kind, Policy, StatementCheck, Value, Verdict};
use crate::db::row_values;

/// Progress-handler calls (of 1000 VM steps each) one statement may use.
const STEP_BUDGET: i64 = 20_000;
/// Wall-clock limit per statement (`time`), for steps that are each
/// expensive (e.g. `hex(randomblob(100000))` per row of a join): the step
/// budget alone bounds the count of VM steps, not their cost. The watchdog
/// enforces it between steps; one step (one function call) is bounded by
/// `builtins.rs`.
pub const STATEMENT_TIME: Duration = Duration::from_secs(3);
/// Wall-clock limit for all the statements of one input (`input-time`), so
/// no input, however many statements it sends, runs longer.
pub const INPUT_TIME: Duration = Duration::from_secs(8);
/// Statements one `execute_batch` call may hold (counted as `;`): past it
/// nothing of the text runs and the call gets a `resource-limit` finding
/// (`batch-statements`). The static layer already reports such a text as
/// `multiple-statements` and past its own `statements` limit; without this
/// bound a million tiny statements run for minutes.
pub const MAX_BATCH_STATEMENTS: usize = 10_000;
/// Process-wide heap ceiling for SQLite (bytes): with the static layer's
/// limits it keeps a whole `check` under 1 GB resident (BENCHMARKS.md).
pub const HEAP_LIMIT: i64 = 512 << 20;
/// Prepared statements kept for reuse (rusqlite's cache; the default is 16).
const STATEMENT_CACHE: usize = 256;
/// Prefix of the guard's own objects; user SQL may not write them.
const OWN: &str = "rg_";

#[derive(Default)]
pub(crate) struct AuthState {
    pub(crate) enabled: bool,
    pub(crate) accesses: BTreeSet<String>,
    pub(crate) denied: Vec<(Kind, String)>,
}

/// A connection whose every statement is checked against a policy.
///
/// One input is `begin_input`, any number of `Db` calls (with `set_policy`
/// between operations), then `end_input`, which rolls everything back and
/// returns the [`Verdict`]; [`Guard::check`] does the three for a closure.
///
/// ```
/// use rowguard_guard::{Db, Guard, Kind, Policy};
/// let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
///               INSERT INTO t VALUES (1, 'a'), (2, 'b');";
/// let mut g = Guard::open_memory(schema, Policy::new("t", "id").key(1).writable(["v"]))?;
/// g.begin_input()?;
/// g.execute("UPDATE t SET v = ?1 WHERE id = 1", &["x".to_string().into()]).unwrap();
/// let _ = g.execute_batch("UPDATE t SET v = 'y'");
/// let verdict = g.end_input()?;
/// assert!(verdict.statements[0].findings.is_empty());
/// assert_eq!(verdict.kinds().into_iter().collect::<Vec<_>>(), [Kind::WriteOutsideTarget]);
/// let cells: Vec<_> = verdict.outside().map(|c| (&*c.key, &*c.column)).collect();
/// assert_eq!(cells, [("2", "v")]); // row 1 was the target's own column
/// # Ok::<(), rowguard_guard::Error>(())
/// ```
pub struct Guard {
    /// Declared before `conn`: a pre-update hook is removed before the
    /// connection closes.
    capture: Capture,
    conn: Connection,
    tables: Vec<TableInfo>,
    /// The tables' names, shared by the cells of every blast radius.
    names: Vec<Names>,
    policy: Policy,
    dialect: Dialect,
    auth: Arc<Mutex<AuthState>>,
    budget: Arc<AtomicI64>,
    watchdog: Watchdog,
    /// When the running input's time is up (set by [`Guard::begin_input`]).
    input_deadline: Option<Instant>,
    /// Per-input baselines of the connection's counters (see [`isolate`]).
    counters: Arc<Counters>,
    templates: Option<VecDeque<String>>,
    verdict: Verdict,
    effects: SchemaEffects,
    /// The static view and the observed writes of the last call.
    last_view: Arc<StaticView>,
    last_observed: Vec<ObservedWrite>,
    memo: Memo,
    profile: Profile,
    /// The rows the capture hands over during a call.
    log: Arc<Mutex<capture::Log>>,
}

pub(crate) fn lock(auth: &Mutex<AuthState>) -> std::sync::MutexGuard<'_, AuthState> {
    auth.lock().unwrap_or_else(|p| p.into_inner())
}

/// The authorizer's decision for one action while user SQL is prepared.
pub(crate) fn authorize(state: &mut AuthState, ctx: &AuthContext<'_>) -> Authorization {
    let ours = ctx.accessor.is_some_and(|a| a.starts_with(OWN));
    let deny = |state: &mut AuthState, kind: Kind, what: String| {
        state.denied.push((kind, what));
        Authorization::Deny
    };
    use AuthAction as A;
    let write = |table: &str| -> Option<String> {
        (!ours && (table.starts_with(OWN) || table.starts_with("sqlite_")))
            .then(|| format!("writes the guard's or SQLite's own table `{table}`"))
    };
    match ctx.action {
        A::Transaction { operation } => deny(
            state,
            Kind::ForbiddenAction,
            format!("transaction control ({operation:?})"),
        ),
        A::Savepoint {
            operation,
            savepoint_name,
        } => deny(
            state,
            Kind::ForbiddenAction,
            format!("transaction control ({operation:?} savepoint {savepoint_name})"),
        ),
        A::Attach { filename } => deny(
            state,
            Kind::ForbiddenAction,
            format!("ATTACH of {filename:?} (or VACUUM INTO)"),
        ),
        A::Detach { database_name } => deny(
            state,
            Kind::ForbiddenAction,
            format!("DETACH of {database_name}"),
        ),
        A::Pragma { pragma_name, .. } => deny(
            state,
            Kind::ForbiddenAction,
            format!("PRAGMA {pragma_name}"),
        ),
        A::Reindex { .. } | A::Analyze { .. } => {
            deny(state, Kind::ForbiddenAction, format!("{:?}", ctx.action))
        }
        A::Function { function_name }
            if !ours && function_name.to_ascii_lowercase().starts_with(OWN) =>
        {
            deny(
                state,
                Kind::ForbiddenAction,
                format!("calls the guard's own function {function_name}()"),
            )
        }
        A::Function { function_name }
            if FORBIDDEN_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(function_name)) =>
        {
            deny(
                state,
                Kind::ForbiddenAction,
                format!("calls {function_name}()"),
            )
        }
        A::CreateIndex { .. }
        | A::CreateTable { .. }
        | A::CreateTempIndex { .. }
        | A::CreateTempTable { .. }
        | A::CreateTempTrigger { .. }
        | A::CreateTempView { .. }
        | A::CreateTrigger { .. }
        | A::CreateView { .. }
        | A::DropIndex { .. }
        | A::DropTable { .. }
        | A::DropTempIndex { .. }
        | A::DropTempTable { .. }
        | A::DropTempTrigger { .. }
        | A::DropTempView { .. }
        | A::DropTrigger { .. }
        | A::DropView { .. }
        | A::AlterTable { .. }
        | A::CreateVtable { .. }
        | A::DropVtable { .. } => deny(state, Kind::SchemaChange, format!("{:?}", ctx.action)),
        // Only `main` is guarded (and `temp` is the connection's own): a
        // write to an attached database is never one the judge can see.
        A::Insert { table_name } | A::Delete { table_name } | A::Update { table_name, .. }
            if !ours
                && ctx
                    .database_name
                    .is_some_and(|d| d != "main" && d != "temp") =>
        {
            let database = ctx.database_name.unwrap_or_default();
            deny(
                state,
                Kind::ForbiddenAction,
                format!("writes {database}.{table_name}, a database the guard does not protect"),
            )
        }
        A::Insert { table_name } | A::Delete { table_name } | A::Update { table_name, .. }
            if write(table_name).is_some() =>
        {
            let what = write(table_name).unwrap_or_default();
            // A write to the schema table is how CREATE VIEW/INDEX first shows up.
            let schema_table = [
                "sqlite_master",
                "sqlite_schema",
                "sqlite_temp_master",
                "sqlite_temp_schema",
            ]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(table_name));
            let kind = if schema_table {
                Kind::SchemaChange
            } else {
                Kind::ForbiddenAction
            };
            deny(state, kind, what)
        }
        // The guard's capture lives in the temp schema (its triggers in
        // temp.sqlite_master); user SQL can create nothing there, so any
        // read of it is a look at the guard (`count(*)` reads with an empty column).
        A::Read { table_name, .. }
            if !ours
                && (ctx.database_name == Some("temp")
                    || table_name.eq_ignore_ascii_case("sqlite_temp_master")
                    || table_name.eq_ignore_ascii_case("sqlite_temp_schema")) =>
        {
            deny(
                state,
                Kind::ForbiddenAction,
                format!("reads the temp schema ({table_name}), where the guard keeps its capture"),
            )
        }
        A::Unknown { code, .. } => deny(
            state,
            Kind::ForbiddenAction,
            format!("unknown authorizer action {code}"),
        ),
        _ => {
            if !ours {
                let entry = match ctx.action {
                    A::Insert { table_name } => format!("insert {table_name}"),
                    A::Delete { table_name } => format!("delete {table_name}"),
                    A::Update {
                        table_name,
                        column_name,
                    } => format!("update {table_name}.{column_name}"),
                    A::Read { table_name, .. } => format!("read {table_name}"),
                    A::Function { function_name } => {
                        format!("function {}", function_name.to_ascii_lowercase())
                    }
                    A::Select => "select".into(),
                    A::Recursive => "recursive".into(),
                    _ => format!("{:?}", ctx.action),
                };
                state.accesses.insert(entry);
            }
            Authorization::Allow
        }
    }
}

/// The protected tables of a guard (for the coverage module's tests).
#[cfg(test)]
pub(crate) fn tables_of(g: &Guard) -> Vec<TableInfo> {
    g.tables.clone()
}

/// Reads every table of `main`, its logged columns and key.
pub(crate) fn protected_tables(conn: &Connection) -> rusqlite::Result<Vec<TableInfo>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::new();
    for name in names {
        let cols: Vec<(String, String, i64)> = conn
            .prepare("SELECT name, type, pk FROM pragma_table_info(?1, 'main') ORDER BY cid")?
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let has_rowid = conn
            .prepare(&format!("SELECT rowid FROM main.\"{name}\" LIMIT 0"))
            .is_ok();
        let pk: Vec<usize> = {
            let mut pk: Vec<(i64, usize)> = cols
                .iter()
                .enumerate()
                .filter(|(_, c)| c.2 > 0)
                .map(|(i, c)| (c.2, i))
                .collect();
            pk.sort();
            pk.into_iter().map(|(_, i)| i).collect()
        };
        // An INTEGER PRIMARY KEY is the rowid itself: log it once, as the key.
        let rowid_alias = pk.len() == 1 && cols[pk[0]].1.eq_ignore_ascii_case("INTEGER");
        let mut columns: Vec<String> = Vec::new();
        let extra = usize::from(has_rowid && !rowid_alias);
        if extra == 1 {
            columns.push("rowid".into());
        }
        columns.extend(cols.iter().map(|c| c.0.clone()));
        let key = if extra == 1 {
            vec![0]
        } else {
            pk.iter().map(|i| i + extra).collect()
        };
        tables.push(TableInfo { name, columns, key });
    }
    Ok(tables)
}

fn set_limits(conn: &Connection) -> rusqlite::Result<()> {
    static HEAP: OnceLock<()> = OnceLock::new();
    HEAP.get_or_init(|| {
        // SAFETY: sets a process-wide SQLite setting; no pointers involved.
        unsafe { rusqlite::ffi::sqlite3_hard_heap_limit64(HEAP_LIMIT) };
    });
    for (limit, value) in [
        (Limit::SQLITE_LIMIT_LENGTH, MAX_LENGTH),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_LENGTH),
        (Limit::SQLITE_LIMIT_EXPR_DEPTH, 200),
        (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 64),
        (Limit::SQLITE_LIMIT_VDBE_OP, 250_000),
        (Limit::SQLITE_LIMIT_FUNCTION_ARG, 64),
        (Limit::SQLITE_LIMIT_ATTACHED, 0),
        (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 10_000),
        (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 16),
    ] {
        conn.set_limit(limit, value)?;
    }
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    // One plan per statement text, whatever its bound values: without it a
    // cached statement whose plan looked at a parameter (a range on an
    // indexed column, LIMIT ?) is prepared again at every new binding
    // (the series walk `id > ?2` was, once per member: 11% of a clean input's
    // instructions). Results never depend on the plan.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// SQLite's messages for a statement that hit a limit at prepare time
/// (they come with the generic SQLITE_ERROR code).
const LIMIT_MESSAGES: [&str; 9] = [
    "string or blob too big",
    "Recursion limit",
    "Expression tree is too large",
    "too many terms in compound SELECT",
    "too many levels of trigger recursion",
    "too many FROM clause terms",
    "too many arguments on function",
    "LIKE or GLOB pattern too complex",
    "too many columns",
];

fn is_resource_error(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::OperationInterrupted | ErrorCode::TooBig | ErrorCode::OutOfMemory)
    ) || {
        let msg = e.to_string();
        LIMIT_MESSAGES.iter().any(|m| msg.contains(m))
    }
}

impl Guard {
    /// Wraps a connection holding the protected tables (in `main`): installs
    /// the change log, limits and hooks. Checks calls against `policy`.
    pub fn new(conn: Connection, policy: Policy) -> crate::Result<Guard> {
        let tables = protected_tables(&conn)?;
        let effects = SchemaEffects::load(&conn, &tables)?;
        // Before the log: changing temp_store drops every TEMP object.
        let counters = isolate(&conn)?;
        let (capture, log) = Capture::install(&conn, &tables, true)?;
        {
            let mut log = capture::lock(&log);
            log.observe_clean_rows();
            log.set_policy(&policy, &tables);
        }
        set_limits(&conn)?;
        // After the limits: the private connection of the bounded built-ins copies them.
        builtins::install(&conn)?;
        let auth = Arc::new(Mutex::new(AuthState::default()));
        let hook_state = Arc::clone(&auth);
        let mut conn = conn;
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let mut state = lock(&hook_state);
            if state.enabled {
                authorize(&mut state, &ctx)
            } else {
                Authorization::Allow
            }
        }))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut memo = Memo::default();
        memo.set_policy(&policy);
        let budget = Arc::new(AtomicI64::new(i64::MAX));
        let left = Arc::clone(&budget);
        conn.progress_handler(
            1000,
            Some(move || left.fetch_sub(1, Ordering::Relaxed) <= 0),
        )?;
        let watchdog = Watchdog::start(conn.get_interrupt_handle()).map_err(|e| {
            crate::Error::Setup(format!("could not start the guard's watchdog thread: {e}"))
        })?;
        Ok(Guard {
            capture,
            conn,
            names: tables.iter().map(Names::of).collect(),
            tables,
            policy,
            dialect: Dialect::Sqlite,
            auth,
            budget,
            watchdog,
            input_deadline: None,
            counters,
            templates: None,
            verdict: Verdict::default(),
            effects,
            last_view: Arc::default(),
            last_observed: Vec::new(),
            memo,
            profile: Profile::default(),
            log,
        })
    }

    /// How changed rows are captured: `"pre-update hook"` (SQLite built
    /// with it, every protected table read as the triggers would, every
    /// trigger of `main` an AFTER trigger and `recursive_triggers` off) or
    /// `"triggers"`.
    pub fn capture(&self) -> &'static str {
        self.capture.name()
    }

    /// An in-memory database built by `schema_sql` (DDL and rows; foreign
    /// keys on), guarded by `policy`.
    pub fn open_memory(schema_sql: &str, policy: Policy) -> crate::Result<Guard> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(schema_sql)?;
        Guard::new(conn, policy)
    }

    /// Runs one input: opens its transaction, lets `f` make its calls through
    /// the guard, rolls everything back and returns `f`'s result with the verdict.
    pub fn check<T>(&mut self, f: impl FnOnce(&mut Guard) -> T) -> crate::Result<(T, Verdict)> {
        self.begin_input()?;
        let out = f(self);
        Ok((out, self.end_input()?))
    }

    /// The static layer's dialect (for statements captured from other databases).
    pub fn with_dialect(mut self, dialect: Dialect) -> Guard {
        self.set_dialect(dialect);
        self
    }

    /// [`Guard::with_dialect`] on a guard in place.
    pub fn set_dialect(&mut self, dialect: Dialect) {
        self.dialect = dialect;
        self.memo.clear();
    }

    /// The policy the next statement is judged by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sets the policy the next calls are checked against.
    pub fn set_policy(&mut self, policy: Policy) {
        self.memo.set_policy(&policy);
        capture::lock(&self.log).set_policy(&policy, &self.tables);
        self.policy = policy;
    }

    /// Shapes of the statements the same operation makes on placeholder text,
    /// in order; each following call is compared with the next one.
    pub fn set_templates(&mut self, shapes: Option<Vec<String>>) {
        self.templates = shapes.map(VecDeque::from);
    }

    /// The shape of a SQL string as the static layer computes it.
    pub fn shape_of(&self, sql: &str) -> String {
        let t = self.profile.start();
        let shape = self.memo.shape(compiled_text(sql).0, self.dialect);
        self.profile.add(Part::Template, t);
        shape
    }

    /// Switches the per-part stopwatch on or off (off by default; for
    /// `rowguard bench throughput`).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile.set(on);
    }

    /// The time spent per part since the last take (zero when profiling is off).
    pub fn take_profile(&mut self) -> Breakdown {
        self.profile.take()
    }

    /// The wrapped connection, for reads outside any check.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Reads with the authorizer off and nothing recorded (the harness's own
    /// queries, e.g. a series' members).
    pub fn query_unchecked(
        &self,
        sql: &str,
        params: &[Value],
    ) -> rusqlite::Result<Vec<Vec<Value>>> {
        let t = self.profile.start();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params_from_iter(params), row_values)?;
        let rows = rows.collect();
        self.profile.add(Part::Template, t);
        rows
    }

    /// Opens the input's outer transaction (rolling back any left open).
    pub fn begin_input(&mut self) -> crate::Result<()> {
        let t = self.profile.start();
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.conn.execute_batch("BEGIN")?;
        self.counters.reset(&self.conn);
        self.input_deadline = Some(Instant::now() + INPUT_TIME);
        self.profile.add(Part::Savepoints, t);
        Ok(())
    }

    /// Rolls the input's changes back and returns the verdict of its calls.
    pub fn end_input(&mut self) -> crate::Result<Verdict> {
        let t = self.profile.start();
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.profile.add(Part::Savepoints, t);
        Ok(self.take_verdict())
    }

    /// The kinds of write the last call was seen to make (table, operation,
    /// changed columns), through any channel.
    pub fn last_observed(&self) -> &[ObservedWrite] {
        &self.last_observed
    }

    /// The differential check of the last call: observed writes that the
    /// static layer's view (closed over the schema's triggers, foreign-key
    /// actions and REPLACE deletes) calls impossible. Non-empty means a bug
    /// in one of the layers; empty when the static layer could not parse the text.
    pub fn last_uncovered(&self) -> Vec<ObservedWrite> {
        if self.last_view.statements.is_none() {
            return Vec::new();
        }
        self.effects
            .uncovered(&self.last_view.writes, &self.last_observed)
    }

    /// The checks recorded since the last take.
    pub fn take_verdict(&mut self) -> Verdict {
        std::mem::take(&mut self.verdict)
    }

    fn next_template(&mut self) -> Option<Option<String>> {
        self.templates.as_mut().map(|t| t.pop_front())
    }

    /// Checks and runs one call. `run` prepares and executes under the hooks.
    fn guarded<T>(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
        run: impl FnOnce(&Connection, &str) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let t = self.profile.start();
        let (compiled, tail) = compiled_text(sql);
        let mut check = StatementCheck::new(api, sql, params, tail);
        let template = self.next_template();
        let view = self.memo.view(
            compiled,
            self.dialect,
            &self.policy,
            template.as_ref().and_then(|t| t.as_deref()),
        );
        self.last_observed.clear();
        check.add_static(&view, &template, tail, "compiled by SQLite");
        self.last_view = view;
        self.profile.add(Part::Static, t);
        let result = self.run_dynamic(&mut check, compiled, run);
        self.verdict.statements.push(check);
        result
    }

    fn run_dynamic<T>(
        &mut self,
        check: &mut StatementCheck,
        compiled: &str,
        run: impl FnOnce(&Connection, &str) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let t = self.profile.start();
        // The input's transaction holds every call; a failed statement is
        // undone by SQLite itself (and its captured rows dropped), so a call
        // needs no savepoint of its own.
        if self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("BEGIN") {
                check.add(Finding::new(
                    Kind::ResourceLimit,
                    format!("guard could not open a transaction: {e}"),
                ));
                return Err(e.into());
            }
        }
        self.profile.add(Part::Savepoints, t);
        let t = self.profile.start();
        {
            let mut a = lock(&self.auth);
            a.enabled = true;
            a.accesses.clear();
            a.denied.clear();
        }
        self.budget.store(STEP_BUDGET, Ordering::Relaxed);
        let started = Instant::now();
        let statement_deadline = started + STATEMENT_TIME;
        let (deadline, clock) = match self.input_deadline {
            Some(input) if input < statement_deadline => (input, ("input-time", INPUT_TIME)),
            _ => (statement_deadline, ("time", STATEMENT_TIME)),
        };
        self.watchdog.arm(deadline);
        let total_before = self.conn.total_changes();
        capture::lock(&self.log).start_call();
        let result = run(&self.conn, compiled);
        self.counters.after_statement(&self.conn, total_before);
        let timed_out = self.watchdog.disarm();
        let steps_out = self.budget.load(Ordering::Relaxed) <= 0;
        self.budget.store(i64::MAX, Ordering::Relaxed);
        self.profile.add(Part::Execute, t);
        let t = self.profile.start();
        let (recorded, denied) = {
            let mut a = lock(&self.auth);
            a.enabled = false;
            (
                std::mem::take(&mut a.accesses).into_iter().collect(),
                std::mem::take(&mut a.denied),
            )
        };
        check.accesses = self.memo.trace(compiled, recorded);
        for (kind, what) in &denied {
            check.add(Finding::new(*kind, format!("denied by the guard: {what}")));
        }
        if let Err(e) = &result {
            check.error = Some(e.to_string());
            if is_resource_error(e) || timed_out {
                let why = if timed_out {
                    format!(
                        "wall-clock limit `{}` ({} ms) reached after {} ms",
                        clock.0,
                        clock.1.as_millis(),
                        started.elapsed().as_millis()
                    )
                } else if steps_out {
                    format!("step budget `steps` ({STEP_BUDGET}000 VM steps) used up")
                } else {
                    e.to_string()
                };
                check.add(Finding::new(
                    Kind::ResourceLimit,
                    format!("statement stopped: {why}"),
                ));
            } else if denied.is_empty() && !matches!(e, rusqlite::Error::QueryReturnedNoRows) {
                // A query that finds no row is an answer, not SQL that SQLite rejected.
                check.add(Finding::new(Kind::SqlError, e.to_string()));
            }
        }
        if self.conn.is_autocommit() {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement ended the guard's transaction (its changes were rolled back)",
            ));
            // A fresh outer transaction: nothing may ever run in autocommit.
            // The call's changes were rolled back with the transaction.
            capture::lock(&self.log).take();
            self.conn.execute_batch("BEGIN")?;
        } else {
            self.collect_changes(check, result.is_err())?;
            self.profile.add(Part::Verdict, t);
        }
        result.map_err(DbError::from)
    }

    /// Takes the call's captured rows (after a failed call, only those of
    /// statements SQLite did not roll back); records writes outside the policy.
    fn collect_changes(&mut self, check: &mut StatementCheck, failed: bool) -> Result<(), DbError> {
        let rows = {
            let mut log = capture::lock(&self.log);
            if let Some(fault) = log.fault.take() {
                check.add(Finding::new(Kind::ForbiddenAction, fault));
            }
            self.capture.settle(&mut log, &self.conn, failed)?;
            log.take()
        };
        check.changed_rows = rows.len();
        let mut outside = Vec::new();
        let mut undos = Vec::new();
        let mut observed = BTreeSet::new();
        // Each kind of write once: (table, operation, changed columns). A
        // statement's rows are mostly of one kind: the last one is looked
        // at first, without building a key.
        let mut kinds = BTreeSet::new();
        let mut last: Option<&capture::Logged> = None;
        // Every column: what an insert or a delete changes.
        let mut all = Vec::new();
        for row in &rows {
            let t = row.table;
            let table = &self.tables[t];
            let op = row.rows();
            let columns: &[usize] = if op == (true, true) {
                &row.changed
            } else {
                &[]
            };
            if !last.is_some_and(|l| {
                l.table == t && l.rows() == op && (op != (true, true) || l.changed == row.changed)
            }) {
                let kind = (t, op, columns.to_vec());
                if !kinds.contains(&kind) {
                    observed.insert(ObservedWrite::of_changed(op, columns, table));
                    kinds.insert(kind);
                }
                last = Some(row);
            }
            if row.clean {
                // Allowed whole (no cell of it was encoded): only its kind of write counts.
                continue;
            }
            let changed: &[usize] = if op == (true, true) {
                &row.changed
            } else {
                all.clear();
                all.extend(0..table.columns.len());
                &all
            };
            let change = row.view(table);
            if self
                .policy
                .violations_into(change, table, changed, &self.names[t], &mut outside)
            {
                let t = self.profile.start();
                undos.push(undo_changed(change, table, changed));
                self.profile.carve(Part::Verdict, Part::Undo, t);
            }
        }
        self.last_observed.extend(observed);
        if !outside.is_empty() {
            check.add(Finding::write_outside(outside, undos));
        }
        Ok(())
    }
}

/// Prepares the one statement of `sql`, refusing a second, as rusqlite's
/// `prepare` does, without its recursion: rusqlite checks the tail by
/// preparing it whole, which recurses (and holds a prepared statement) once
/// per remaining statement, so 60,000 `;SELECT 1` overflow the stack. Here
/// the tail is checked by preparing just its next statement. SQLite ends a
/// statement only at `;` or the end, so text without `;` takes the cache
/// (as does nothing longer than the memo keeps, whose traces it reuses).
fn with_one_statement<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    if !sql.contains(';') && sql.len() <= super::memo::MAX_KEY {
        return f(&mut *conn.prepare_cached(sql)?);
    }
    let mut batch = Batch::new(conn, sql);
    let Some(mut first) = batch.next()? else {
        return Err(rusqlite::Error::Empty);
    };
    if batch.next()?.is_some() {
        return Err(rusqlite::Error::MultipleStatement);
    }
    f(&mut first)
}

impl Db for Guard {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.guarded(Api::Execute, sql, params, |conn, compiled| {
            with_one_statement(conn, compiled, |s| s.execute(params_from_iter(params)))
        })
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        let log = Arc::clone(&self.log);
        self.guarded(Api::ExecuteBatch, sql, &[], move |conn, compiled| {
            // Counted before anything runs: stepping through a huge batch
            // costs rusqlite's Batch time per remaining byte, so the bound
            // must hold before the first statement (a `;` inside a literal
            // counts too: past the bound, failing closed is the point).
            if compiled.bytes().filter(|&b| b == b';').count() >= MAX_BATCH_STATEMENTS {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_TOOBIG),
                    Some(format!(
                        "limit `batch-statements` reached: {MAX_BATCH_STATEMENTS} or more `;` in one batch; not run"
                    )),
                ));
            }
            let mut batch = Batch::new(conn, compiled);
            while let Some(mut stmt) = batch.next()? {
                // SQLite forgets an interrupt that lands between two
                // statements (the next one to start clears it), so a batch
                // of many short statements looks for it before each.
                // SAFETY: reads a flag of the live connection.
                if unsafe { rusqlite::ffi::sqlite3_is_interrupted(conn.handle()) } != 0 {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                        Some("interrupted".into()),
                    ));
                }
                capture::lock(&log).next_statement();
                stmt.raw_query().next()?;
            }
            Ok(())
        })
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        self.guarded(Api::QueryRow, sql, params, |conn, compiled| {
            with_one_statement(conn, compiled, |s| {
                s.query_row(params_from_iter(params), row_values)
            })
        })
    }
}

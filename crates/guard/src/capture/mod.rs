//! Change capture: TEMP triggers that hand every changed row to Rust
//! (this module), or, when SQLite is built with the pre-update hook, that
//! hook ([`hook`]), both filling one [`Log`] ([`Capture`] picks one).
//!
//! Every row change of a protected table fires its table's AFTER trigger
//! (with `recursive_triggers = ON`, REPLACE deletes too; WITHOUT ROWID tables
//! and foreign-key cascades alike). The trigger's WHEN clause calls
//! `rg_capture(table, op, OLD..., NEW...)`, a Rust function that copies
//! the row's values, in the guard's exact encoding ([`Cell`]), into the
//! [`Log`]. Nothing is encoded in SQL and nothing is written per row, and the
//! trigger text stays small: SQLite compiles the triggers into every new
//! statement text, so their size is paid per text, and the row work is paid
//! per changed cell: in an update, a column that kept its value is encoded
//! only when the policy reads it ([`super::Policy::read_columns`]). The
//! policy is not in the triggers: the Rust side judges the rows
//! ([`super::Policy::violations`]), so the triggers are built once. Each
//! logged row keeps its cells in one vector (an update's old row, then its
//! new one) and, for an update, the columns whose values changed (found on
//! the raw values, as the cells would compare): the judge reads both
//! borrowed ([`Logged::view`]), with no copy and no comparison of its own.
//!
//! SQLite undoes a failed statement's changes (the statement rollback), but
//! not Rust's log. So each top-level statement gets a generation
//! ([`Log::next_statement`]); the first row a generation logs makes the WHEN
//! clause true, and the trigger body inserts that generation into
//! `temp.rg_log`, which SQLite undoes with the statement. A statement's
//! changes are undone all together or not at all (no savepoint can be opened
//! by user SQL), so after a call that failed, the rows whose generation is
//! still in `temp.rg_log` are exactly the rows that stand
//! ([`Log::keep_generations`]). A call that succeeded rolled nothing back.
//!
//! The function takes at most [`CHUNK`] values per call (the guard's limit on
//! function arguments binds trigger bodies too), so a wide table's row comes
//! in several calls of one WHEN clause, evaluated left to right.
//!
//! [`Capture::install`] picks one: the pre-update hook when SQLite has it
//! and it reads every protected table as the triggers would (and, for the
//! guard, when `main`'s triggers are all AFTER triggers and
//! `recursive_triggers` is off, so that a failed statement is settled
//! exactly from `changes`: [`Log::settle_by_changes`]);
//! the triggers otherwise. The hook costs an UPDATE neither the trigger program
//! compiled into each new statement text nor the statement journal SQLite
//! opens for a statement that fires a trigger.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

#[cfg(rowguard_preupdate)]
pub(crate) mod hook;

use super::clean::CleanRows;
use super::policy::{Cell, RowChange, RowView, TableInfo};
use super::stored::{encode, same};
use super::Policy;

/// Values per `rg_capture` call (2 more arguments are the call's own; the
/// guard limits function arguments to 64).
const CHUNK: usize = 62;

/// How a connection's changed rows reach its [`Log`].
pub(crate) enum Capture {
    /// TEMP triggers calling Rust, with generation markers for the rows of
    /// a failed statement.
    Triggers,
    /// SQLite's pre-update hook (when SQLite is built with it), held for its
    /// `Drop`, which removes it.
    #[cfg(rowguard_preupdate)]
    Hook(#[allow(dead_code)] hook::Hook),
}

impl Capture {
    /// Installs the capture of `tables` on `conn`: the pre-update hook when
    /// SQLite has it and it reads every table as the triggers would, and,
    /// when `exact`, every trigger of `main` is an AFTER trigger and
    /// `recursive_triggers` is off (then a failed statement is settled
    /// exactly: [`Log::deletes_counted`]); the TEMP triggers otherwise.
    pub(crate) fn install(
        conn: &Connection,
        tables: &[TableInfo],
        exact: bool,
    ) -> rusqlite::Result<(Capture, Arc<Mutex<Log>>)> {
        #[cfg(rowguard_preupdate)]
        if hook::Hook::fits(conn, tables)? && (!exact || only_after_triggers(conn)?) {
            let log = Arc::new(Mutex::new(Log {
                deletes_counted: exact,
                ..Log::default()
            }));
            let hook = hook::Hook::install(conn, tables, Arc::clone(&log))?;
            return Ok((Capture::Hook(hook), log));
        }
        Ok((Capture::Triggers, install(conn, tables)?))
    }

    /// `"pre-update hook"` or `"triggers"`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Capture::Triggers => "triggers",
            #[cfg(rowguard_preupdate)]
            Capture::Hook(_) => "pre-update hook",
        }
    }

    /// After a call (`failed`: it returned an error): keeps in `log` the
    /// rows of the statements that stood.
    pub(crate) fn settle(
        &self,
        log: &mut Log,
        conn: &Connection,
        failed: bool,
    ) -> rusqlite::Result<()> {
        match self {
            Capture::Triggers => log.settle_by_markers(conn, failed),
            #[cfg(rowguard_preupdate)]
            Capture::Hook(_) => {
                if conn.is_autocommit() {
                    log.clear();
                } else if failed {
                    log.settle_by_changes(conn.changes());
                }
                Ok(())
            }
        }
    }
}

/// Whether every trigger of `main` is an AFTER trigger (none BEFORE, none
/// INSTEAD OF, none SQLite's parser would take that sqlparser cannot read)
/// and `recursive_triggers` is off (so none fires on a REPLACE delete):
/// then a statement's first change is its own, made outside a trigger, and
/// [`Log::settle_by_changes`] settles a failed statement exactly.
#[cfg(rowguard_preupdate)]
fn only_after_triggers(conn: &Connection) -> rusqlite::Result<bool> {
    use sqlparser::ast::{Statement, TriggerPeriod};
    let recursive: bool = conn.query_row("PRAGMA recursive_triggers", [], |r| r.get(0))?;
    let sqls: Vec<Option<String>> = conn
        .prepare("SELECT sql FROM main.sqlite_schema WHERE type = 'trigger'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(!recursive
        && sqls.iter().all(|sql| {
            let parsed = sql.as_deref().and_then(super::static_check::parse_sqlite);
            matches!(parsed.as_deref(), Some([Statement::CreateTrigger(t)])
                if t.period == Some(TriggerPeriod::After))
        }))
}

/// The marker table (created once per connection).
const SETUP: &str = "PRAGMA recursive_triggers = ON;\n\
     CREATE TEMP TABLE rg_log (g INTEGER PRIMARY KEY);\n";

/// One captured row change, before the judge reads it.
#[derive(Debug)]
pub(crate) struct Logged {
    generation: i64,
    /// Index into the guard's protected tables.
    pub(crate) table: usize,
    /// A row the policy allows whole ([`Log::count_clean_rows`]): counted,
    /// its cells not encoded (`old` and `new` are `None`).
    pub(crate) clean: bool,
    /// 0 insert, 1 update, 2 delete.
    pub(crate) op: u8,
    /// An update's changed columns (the columns whose values do not encode
    /// alike): always for a row that is not clean, for a clean one when the
    /// log keeps them ([`Log::observe_clean_rows`]); empty otherwise.
    pub(crate) changed: Vec<usize>,
    /// The encoded row: the new row (insert), the old one (delete), or the
    /// old then the new (update); empty for a clean row.
    cells: Vec<Cell>,
}

impl Logged {
    /// Whether the change has an old row and a new one (insert: no old;
    /// delete: no new).
    pub(crate) fn rows(&self) -> (bool, bool) {
        (self.op != 0, self.op != 2)
    }

    /// The change as the judge reads it, borrowed (`table` is its table);
    /// a row that is not clean.
    pub(crate) fn view<'a>(&'a self, table: &'a TableInfo) -> RowView<'a> {
        let (old, new) = match self.op {
            0 => (None, Some(&self.cells[..])),
            1 => {
                let (o, n) = self
                    .cells
                    .split_at(table.columns.len().min(self.cells.len()));
                (Some(o), Some(n))
            }
            _ => (Some(&self.cells[..]), None),
        };
        RowView {
            table: &table.name,
            old,
            new,
        }
    }

    /// The change, named after its table (its cells copied: the judge's
    /// own path reads them borrowed, [`Logged::view`]).
    pub(crate) fn to_change(&self, tables: &[TableInfo]) -> RowChange {
        let view = self.view(&tables[self.table]);
        RowChange {
            table: view.table.to_string(),
            old: view.old.map(<[Cell]>::to_vec),
            new: view.new.map(<[Cell]>::to_vec),
        }
    }
}

/// The rows the triggers captured during the current call.
#[derive(Debug, Default)]
pub(crate) struct Log {
    generation: i64,
    /// Whether the current generation's marker has been asked for.
    marked: bool,
    /// The first generation of the current call.
    call_start: i64,
    /// The row whose chunks are still arriving: its cells so far.
    partial: Vec<Cell>,
    /// Per table, the columns the policy reads even when unchanged
    /// ([`super::Policy::read_columns`]).
    read: Vec<Vec<bool>>,
    /// Whether rows the policy allows are logged as clean, not encoded
    /// ([`Log::count_clean_rows`]).
    count_clean: bool,
    /// Whether a clean update keeps its changed columns (what the guard's
    /// observed writes need; [`Log::observe_clean_rows`]).
    clean_changes: bool,
    /// The policy's clean-row test, when `count_clean`.
    clean: Option<CleanRows>,
    /// The policy `read` and `clean` were built for, without its keys.
    shape: Option<Policy>,
    /// Whether the current generation logged a change that SQLite counts in
    /// `changes` if the statement stands (hook capture).
    counted: bool,
    /// Whether a delete made outside a trigger is counted as well (hook
    /// capture on a schema whose triggers are all AFTER triggers, so that no
    /// trigger writes before its statement's first own change, and none
    /// fires on a REPLACE delete, `recursive_triggers` being off: a REPLACE
    /// delete, the one own change SQLite does not count, then always comes
    /// with the insert or update it makes room for, and a failed statement
    /// that made a change of its own stood exactly when `changes` > 0).
    pub(crate) deletes_counted: bool,
    rows: Vec<Logged>,
    /// A change the hook could not read (hook capture): the call that made
    /// it cannot be judged.
    pub(crate) fault: Option<String>,
    /// While set, nothing is captured (the tripwire between operations:
    /// the application's own writes are not judged and not kept).
    pub(crate) paused: bool,
}

impl Log {
    /// A new call: forgets every row (a previous call's rows were taken or
    /// belong to the guard's own writes).
    pub(crate) fn start_call(&mut self) {
        self.clear();
        self.next_statement();
        self.call_start = self.generation;
    }

    /// The policy the next calls are judged by. What it reads and allows
    /// per table depends on everything but its keys, so a policy of the same
    /// shape as the last one (the common case: one operation after another)
    /// only changes the keys.
    pub(crate) fn set_policy(&mut self, policy: &Policy, tables: &[TableInfo]) {
        if let Some(last) = &self.shape {
            if same_shape(last, policy) {
                if let Some(clean) = &mut self.clean {
                    clean.set_keys(&policy.keys);
                }
                return;
            }
        }
        self.read = tables.iter().map(|t| policy.read_columns(t)).collect();
        self.clean = self.count_clean.then(|| CleanRows::new(policy, tables));
        self.shape = Some(Policy {
            keys: Vec::new(),
            ..policy.clone()
        });
    }

    /// From the next [`Log::set_policy`] on, a row the policy allows whole
    /// is logged as clean (counted, not encoded): the caller judges only the
    /// others, and reads no cell of a clean row.
    pub(crate) fn count_clean_rows(&mut self) {
        self.count_clean = true;
        self.shape = None;
    }

    /// [`Log::count_clean_rows`], keeping each clean update's changed
    /// columns: the guard judges only the other rows, and still knows every
    /// kind of write (table, operation, changed columns) the call made.
    pub(crate) fn observe_clean_rows(&mut self) {
        self.count_clean_rows();
        self.clean_changes = true;
    }

    /// The next top-level statement of the call starts.
    pub(crate) fn next_statement(&mut self) {
        self.generation += 1;
        self.marked = false;
        self.counted = false;
    }

    /// After a call that failed with its transaction still open (hook
    /// capture, no markers): decides whether the failed statement (the
    /// call's last generation: the statements before it succeeded) stood,
    /// and drops its rows if not. SQLite undoes a failed statement whole or
    /// keeps it whole (FAIL), and when it halts sets `changes` to the
    /// statement's own (not trigger-made) inserts, updates and deletes if it
    /// kept it, to 0 if it undid it. So `changes` > 0: it stood; 0 although
    /// the statement made a change SQLite counts: it was undone; otherwise
    /// (only trigger-made changes or REPLACE deletes before the failure) the
    /// rows are kept: a change that may have stood is judged.
    pub(crate) fn settle_by_changes(&mut self, changes: u64) {
        let stood = changes > 0 || !self.counted;
        if !stood {
            let g = self.generation;
            self.rows.retain(|r| r.generation != g);
        }
    }

    /// Forgets the call's rows: SQLite rolled the whole transaction back.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.partial.clear();
    }

    /// The generations of this call, as `temp.rg_log` holds them.
    pub(crate) fn call_generations(&self) -> (i64, i64) {
        (self.call_start, self.generation)
    }

    /// Drops the rows of statements that SQLite rolled back: those whose
    /// generation is not in `standing`.
    pub(crate) fn keep_generations(&mut self, standing: &BTreeSet<i64>) {
        self.rows.retain(|r| standing.contains(&r.generation));
    }

    /// Whether no row was captured in this call.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Takes the call's rows, in the order they changed.
    pub(crate) fn take(&mut self) -> Vec<Logged> {
        std::mem::take(&mut self.rows)
    }

    /// Keeps the rows of the call's statements that stood: after a call
    /// that `failed`, only those whose generation marker SQLite kept in
    /// `temp.rg_log` (a call that succeeded rolled nothing back).
    pub(crate) fn settle_by_markers(
        &mut self,
        conn: &Connection,
        failed: bool,
    ) -> rusqlite::Result<()> {
        if failed && !self.is_empty() {
            let (first, last) = self.call_generations();
            let standing: BTreeSet<i64> = conn
                .prepare_cached("SELECT g FROM temp.rg_log WHERE g BETWEEN ?1 AND ?2")?
                .query_map([first, last], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            self.keep_generations(&standing);
        }
        Ok(())
    }

    /// The call's rows that are not clean, taken, and how many were clean
    /// (forgotten). A call whose rows are all clean keeps the log's buffer.
    pub(crate) fn take_flagged(&mut self) -> (Vec<Logged>, usize) {
        let clean = self.rows.iter().filter(|r| r.clean).count();
        if clean == self.rows.len() {
            self.rows.clear();
            return (Vec::new(), clean);
        }
        let flagged = self.take().into_iter().filter(|r| !r.clean).collect();
        (flagged, clean)
    }

    /// One `rg_capture` call: returns whether the trigger body must write the
    /// generation's marker (once per generation, on a row's last chunk).
    fn capture(&mut self, ctx: &Context<'_>, widths: &[usize]) -> rusqlite::Result<bool> {
        if self.paused {
            return Ok(false);
        }
        let table = ctx.get::<i64>(0)? as usize;
        let op = ctx.get::<i64>(1)?;
        let width = *widths
            .get(table)
            .ok_or_else(|| rusqlite::Error::UserFunctionError("unknown table".into()))?;
        let expected = if op == 1 { 2 * width } else { width };
        // At most CHUNK values per call (the triggers are built so): kept on the stack.
        let n = ctx.len() - 2;
        if n > CHUNK {
            return Err(rusqlite::Error::UserFunctionError("too many values".into()));
        }
        let mut buf = [ValueRef::Null; CHUNK];
        for (i, v) in buf.iter_mut().take(n).enumerate() {
            *v = ctx.get_raw(2 + i);
        }
        let values = &buf[..n];
        if n == expected && self.partial.is_empty() {
            return Ok(self.record(table, op, width, values, false));
        }
        // A wide row, in chunks.
        self.partial.reserve(expected);
        self.partial.extend(values.iter().map(|&v| encode(v)));
        if self.partial.len() < expected {
            return Ok(false);
        }
        let cells = std::mem::take(&mut self.partial);
        Ok(self.push(table, op, width, cells))
    }

    /// One whole row change of protected table `table`: `op` 0 (insert,
    /// `values` the new row), 1 (update, the old row then the new) or 2
    /// (delete, the old row), each row `width` values. `counted` says that
    /// SQLite counts it in `changes` if its statement stands
    /// ([`Log::settle_by_changes`]). Returns whether the trigger body must
    /// write the generation's marker.
    pub(crate) fn record(
        &mut self,
        table: usize,
        op: i64,
        width: usize,
        values: &[ValueRef<'_>],
        counted: bool,
    ) -> bool {
        self.counted |= counted;
        if let Some(clean) = &self.clean {
            let (old, new) = match op {
                0 => (None, Some(values)),
                1 if values.len() == 2 * width => (Some(&values[..width]), Some(&values[width..])),
                1 => (None, None),
                _ => (Some(values), None),
            };
            if (old.is_some() || new.is_some()) && clean.clean(table, old, new) {
                let changed = match (old, new) {
                    (Some(o), Some(n)) if self.clean_changes => (0..o.len().min(n.len()))
                        .filter(|&c| !same(o[c], n[c]))
                        .collect(),
                    _ => Vec::new(),
                };
                self.rows.push(Logged {
                    generation: self.generation,
                    table,
                    clean: true,
                    op: op_code(op),
                    changed,
                    cells: Vec::new(),
                });
                return !std::mem::replace(&mut self.marked, true);
            }
        }
        let read = self.read.get(table).filter(|r| r.len() == width);
        match (op, read) {
            // An update: a column that kept its value and that the judge
            // never reads unchanged costs no encoding.
            (1, Some(read)) if values.len() == 2 * width => {
                let (old, new) = values.split_at(width);
                let mut changed = Vec::new();
                let mut cells = Vec::with_capacity(values.len());
                cells.resize_with(values.len(), || Cell(String::new()));
                for c in 0..width {
                    let kept = same(old[c], new[c]);
                    if !kept {
                        changed.push(c);
                    }
                    if read[c] || !kept {
                        cells[c] = encode(old[c]);
                        cells[width + c] = encode(new[c]);
                    }
                }
                self.push_row(table, op, changed, cells)
            }
            _ => {
                let cells = values.iter().map(|&v| encode(v)).collect();
                self.push(table, op, width, cells)
            }
        }
    }

    /// Logs one row from its encoded `cells` (as [`Log::record`] takes its
    /// values): an update's changed columns are those whose cells differ.
    fn push(&mut self, table: usize, op: i64, width: usize, cells: Vec<Cell>) -> bool {
        let changed = match op {
            1 if cells.len() == 2 * width => {
                let (old, new) = cells.split_at(width);
                (0..width).filter(|&c| old[c] != new[c]).collect()
            }
            _ => Vec::new(),
        };
        self.push_row(table, op, changed, cells)
    }

    /// Logs one row that is not clean, its update's `changed` columns known.
    fn push_row(&mut self, table: usize, op: i64, changed: Vec<usize>, cells: Vec<Cell>) -> bool {
        self.rows.push(Logged {
            generation: self.generation,
            table,
            clean: false,
            op: op_code(op),
            changed,
            cells,
        });
        !std::mem::replace(&mut self.marked, true)
    }
}

/// [`Logged::op`] of a capture call's `op` (anything else than an insert or
/// an update is logged as a delete, as [`Log::push`] splits it).
fn op_code(op: i64) -> u8 {
    match op {
        0 => 0,
        1 => 1,
        _ => 2,
    }
}

/// Whether two policies differ at most in their keys.
fn same_shape(a: &Policy, b: &Policy) -> bool {
    crate::memo::same_static_part(a, b)
}

pub(crate) fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

fn column(prefix: &str, c: &str) -> String {
    if c == "rowid" {
        format!("{prefix}.rowid")
    } else {
        format!("{prefix}.\"{}\"", c.replace('"', "\"\""))
    }
}

/// The WHEN clause of one trigger: `rg_capture` over the row's values, in
/// chunks; true once per generation.
fn when(table: usize, op: usize, values: &[String]) -> String {
    let calls: Vec<String> = values
        .chunks(CHUNK)
        .map(|chunk| format!("rg_capture({table}, {op}, {})", chunk.join(", ")))
        .collect();
    if calls.is_empty() {
        format!("rg_capture({table}, {op})")
    } else {
        calls.join(" + ")
    }
}

/// Creates the marker table, the capture functions and the triggers of
/// `tables`; returns the log they fill.
pub(crate) fn install(
    conn: &Connection,
    tables: &[TableInfo],
) -> rusqlite::Result<Arc<Mutex<Log>>> {
    conn.execute_batch(SETUP)?;
    let log = Arc::new(Mutex::new(Log::default()));
    let widths: Vec<usize> = tables.iter().map(|t| t.columns.len()).collect();
    // Not deterministic: SQLite must call it once per row, as written.
    let flags = FunctionFlags::SQLITE_UTF8;
    let l = Arc::clone(&log);
    conn.create_scalar_function("rg_capture", -1, flags, move |ctx| {
        lock(&l).capture(ctx, &widths)
    })?;
    let l = Arc::clone(&log);
    conn.create_scalar_function("rg_generation", 0, flags, move |_| Ok(lock(&l).generation))?;
    let mut sql = String::new();
    for (i, t) in tables.iter().enumerate() {
        let values =
            |prefix: &str| -> Vec<String> { t.columns.iter().map(|c| column(prefix, c)).collect() };
        let both: Vec<String> = values("OLD").into_iter().chain(values("NEW")).collect();
        for (op, (event, args)) in [
            ("INSERT", values("NEW")),
            ("UPDATE", both),
            ("DELETE", values("OLD")),
        ]
        .into_iter()
        .enumerate()
        {
            sql += &format!(
                "CREATE TEMP TRIGGER rg_{}_{} AFTER {event} ON main.\"{}\" WHEN {} BEGIN \
                 INSERT INTO temp.rg_log (g) VALUES (rg_generation()); END;\n",
                i,
                event.to_ascii_lowercase(),
                t.name.replace('"', "\"\""),
                when(i, op, &args)
            );
        }
    }
    conn.execute_batch(&sql)?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use crate::{Db, Guard, Kind, Policy, Verdict};

    /// The captures a guard can have on this build: with a BEFORE trigger
    /// in `main`, the TEMP triggers; without, the pre-update hook when
    /// SQLite has it.
    const CAPTURES: &[(&str, &str)] = &[
        (
            "triggers",
            "CREATE TABLE side (x); CREATE TRIGGER side_b BEFORE INSERT ON side BEGIN SELECT 1; END;",
        ),
        #[cfg(rowguard_preupdate)]
        ("pre-update hook", ""),
    ];

    /// `t (id, v NOT NULL, r REAL)` with rows 1..=4, row 1 the target, and
    /// `extra` SQL, each capture (its name) in turn.
    fn guards(extra_columns: usize, extra: &str) -> Vec<(&'static str, Guard)> {
        let columns: String = (0..extra_columns)
            .map(|i| format!(", c{i} INTEGER DEFAULT {i}"))
            .collect();
        CAPTURES
            .iter()
            .map(|(capture, forces)| {
                let schema = format!(
                    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, r REAL{columns});
                     INSERT INTO t (id, v, r) VALUES (1, 'a', 0.0), (2, 'b', 0.1), (3, 'c', 1e300), (4, 'd', 2.5);
                     {extra} {forces}"
                );
                let g = Guard::open_memory(&schema, Policy::new("t", "id").key(1).writable(["v"]))
                    .unwrap();
                assert_eq!(g.capture(), *capture);
                (*capture, g)
            })
            .collect()
    }

    fn outside(v: &Verdict) -> Vec<(String, String, Option<String>, Option<String>)> {
        v.outside()
            .map(|c| {
                (
                    c.key.to_string(),
                    c.column.to_string(),
                    c.before.clone(),
                    c.after.clone(),
                )
            })
            .collect()
    }

    fn run(g: &mut Guard, sql: &str) -> Verdict {
        g.check(|g| {
            let _ = g.execute_batch(sql);
        })
        .unwrap()
        .1
    }

    /// `(table, key, column)` of each cell written outside the policy.
    fn cells(v: &Verdict) -> Vec<(String, String, String)> {
        v.outside()
            .map(|c| (c.table.to_string(), c.key.to_string(), c.column.to_string()))
            .collect()
    }

    #[test]
    fn a_statement_sqlite_rolled_back_reports_no_write() {
        for (capture, mut g) in guards(0, "") {
            // Rows 1 and 2 change, then row 3 fails NOT NULL: the statement is undone.
            let v = run(
                &mut g,
                "UPDATE t SET v = CASE WHEN id = 3 THEN NULL ELSE 'z' END",
            );
            assert_eq!(
                v.kinds().into_iter().collect::<Vec<_>>(),
                [Kind::SqlError],
                "{capture}"
            );
            assert_eq!(v.statements[0].changed_rows, 0, "{capture}");
            // OR FAIL keeps what changed before the failure: row 2 stands.
            let v = run(
                &mut g,
                "UPDATE OR FAIL t SET v = CASE WHEN id = 3 THEN NULL ELSE 'z' END",
            );
            let row2 = (
                "2".into(),
                "v".into(),
                Some("'b'".into()),
                Some("'z'".into()),
            );
            assert_eq!(outside(&v), [row2], "{capture}");
            assert_eq!(v.statements[0].changed_rows, 2, "{capture}");
            // In a batch, the statements before the failing one stand.
            let v = run(
                &mut g,
                "UPDATE t SET v = 'y' WHERE id = 4; UPDATE t SET v = NULL",
            );
            let row4 = (
                "4".into(),
                "v".into(),
                Some("'d'".into()),
                Some("'y'".into()),
            );
            assert_eq!(outside(&v), [row4], "{capture}");
            // The next call starts clean.
            let v = run(&mut g, "UPDATE t SET v = 'q' WHERE id = 1");
            assert!(v.kinds().is_empty(), "{capture}: {v:?}");
            assert_eq!(v.statements[0].changed_rows, 1, "{capture}");
        }
    }

    /// What a failed statement left is reported exactly, whichever channel
    /// wrote it: a delete a foreign key undid, an AFTER trigger's writes
    /// undone with their statement or kept by OR FAIL, a REPLACE whose
    /// insert failed.
    #[test]
    fn a_failed_statement_s_every_channel_is_settled_exactly() {
        let schema = "CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id));
             INSERT INTO c VALUES (1, 3);
             CREATE TABLE log (x);
             CREATE TRIGGER t_after AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (NEW.v); END;
             CREATE UNIQUE INDEX t_r ON t(r);";
        for (capture, mut g) in guards(0, schema) {
            // Row 3 is deleted, then the foreign key of c undoes the statement.
            let v = run(&mut g, "DELETE FROM t WHERE id >= 3");
            let error = v.statements[0].error.as_deref();
            assert_eq!(error, Some("FOREIGN KEY constraint failed"), "{capture}");
            assert_eq!(cells(&v), [], "{capture}");
            assert_eq!(v.statements[0].changed_rows, 0, "{capture}");
            // Rows 1 and 2 and their log rows, then row 3 fails: all undone.
            let sql = "UPDATE t SET v = CASE WHEN id = 3 THEN NULL ELSE 'z' END";
            assert_eq!(cells(&run(&mut g, sql)), [], "{capture}");
            // OR FAIL: row 1's log row, row 2 and its log row stand.
            let v = run(&mut g, &sql.replace("UPDATE", "UPDATE OR FAIL"));
            let mut got: Vec<_> = cells(&v).into_iter().map(|(t, k, _)| (t, k)).collect();
            got.dedup();
            assert_eq!(
                got,
                [
                    ("log".into(), "1".into()),
                    ("t".into(), "2".into()),
                    ("log".into(), "2".into())
                ],
                "{capture}"
            );
            // REPLACE deletes row 4 (same r), then NOT NULL fails the insert: undone.
            let v = run(&mut g, "REPLACE INTO t (id, v, r) VALUES (9, NULL, 2.5)");
            assert_eq!(cells(&v), [], "{capture}");
            // And when it stands, the REPLACE delete is reported with its insert.
            let v = run(&mut g, "REPLACE INTO t (id, v, r) VALUES (9, 'n', 2.5)");
            let mut keys: Vec<_> = cells(&v).into_iter().map(|(_, k, _)| k).collect();
            keys.dedup();
            assert_eq!(keys, ["4", "9"], "{capture}");
        }
    }

    #[test]
    fn the_guard_s_capture_follows_the_schema_s_triggers() {
        let with = |sql: &str| {
            let schema = format!(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE l (x); {sql}"
            );
            Guard::open_memory(&schema, Policy::new("t", "id").key(1))
                .unwrap()
                .capture()
        };
        let hook = if cfg!(rowguard_preupdate) {
            "pre-update hook"
        } else {
            "triggers"
        };
        assert_eq!(with(""), hook);
        assert_eq!(
            with("CREATE TRIGGER a AFTER UPDATE ON t BEGIN INSERT INTO l VALUES (1); END;"),
            hook
        );
        for before in [
            "CREATE TRIGGER b BEFORE UPDATE ON t BEGIN INSERT INTO l VALUES (1); END;",
            // No period is BEFORE.
            "CREATE TRIGGER b UPDATE ON t BEGIN INSERT INTO l VALUES (1); END;",
            "CREATE VIEW w AS SELECT * FROM t; CREATE TRIGGER b INSTEAD OF DELETE ON w BEGIN DELETE FROM t; END;",
            // A REPLACE delete fires triggers: a statement's first change may not count.
            "PRAGMA recursive_triggers = ON;",
        ] {
            assert_eq!(with(before), "triggers", "{before}");
        }
    }

    /// With `recursive_triggers` on, a REPLACE delete fires delete triggers;
    /// when one fails with FAIL, the delete is reported exactly when it
    /// stood.
    #[test]
    fn a_replace_delete_kept_by_a_failing_trigger_is_reported() {
        let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, r REAL UNIQUE);
             INSERT INTO t (id, v, r) VALUES (1, 'a', 0.0), (4, 'd', 2.5);
             PRAGMA recursive_triggers = ON;
             CREATE TRIGGER t_gone AFTER DELETE ON t BEGIN SELECT RAISE(FAIL, 'kept'); END;";
        let mut g =
            Guard::open_memory(schema, Policy::new("t", "id").key(1).writable(["v"])).unwrap();
        // The hook could not tell this statement's uncounted first change from an undone one.
        assert_eq!(g.capture(), "triggers");
        // Whether row 4 is still there, read inside the input (rolled back after it).
        let (left, v) = g
            .check(|g| {
                let _ = g.execute_batch("REPLACE INTO t (id, v, r) VALUES (9, 'n', 2.5)");
                g.query_row("SELECT count(*) FROM t WHERE id = 4", &[])
            })
            .unwrap();
        let error = v.statements[0].error.as_deref();
        assert!(error.is_some_and(|e| e.contains("kept")), "{v:?}");
        let left = left.unwrap();
        let mut keys: Vec<_> = cells(&v).into_iter().map(|(_, k, _)| k).collect();
        keys.dedup();
        let stood: &[&str] = if left == [crate::Value::Integer(0)] {
            &["4"]
        } else {
            &[]
        };
        assert_eq!(keys, stood);
    }

    #[test]
    fn reals_are_encoded_as_sqlite_quotes_them() {
        for (capture, mut g) in guards(0, "") {
            let v = run(&mut g, "UPDATE t SET r = -r");
            let got: Vec<_> = outside(&v)
                .into_iter()
                .map(|(k, _, b, a)| (k, b.unwrap(), a.unwrap()))
                .collect();
            let quoted: Vec<(String, String, String)> = g
                .connection()
                .prepare("SELECT id, quote(r), quote(-r) FROM t ORDER BY id")
                .unwrap()
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?, r.get(2)?))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            // SQLite stores -0.0 as 0.0 (row 1 is unchanged); every other row is reported.
            let changed: Vec<_> = quoted.into_iter().filter(|(_, b, a)| b != a).collect();
            assert_eq!(got, changed, "{capture}");
            assert_eq!(
                got[0],
                ("2".into(), "0.1".into(), "-0.1".into()),
                "{capture}"
            );
        }
    }

    #[test]
    fn a_table_wider_than_one_call_is_captured_whole() {
        for extra in [58, 59, 60, 61, 200] {
            for (capture, mut g) in guards(extra, "") {
                let last = format!("c{}", extra - 1);
                let v = run(&mut g, &format!("UPDATE t SET {last} = -1 WHERE id = 3"));
                assert_eq!(
                    outside(&v),
                    [(
                        "3".into(),
                        last.clone(),
                        Some((extra - 1).to_string()),
                        Some("-1".into())
                    )],
                    "{capture}: {extra} extra columns"
                );
                let v = run(&mut g, "DELETE FROM t WHERE id = 4");
                assert_eq!(
                    v.outside().count(),
                    3 + extra,
                    "{capture}: {extra} extra columns"
                );
            }
        }
    }

    #[test]
    fn user_sql_cannot_call_the_capture_functions() {
        let (capture, mut g) = guards(0, "").swap_remove(0);
        assert_eq!(capture, "triggers");
        for sql in [
            "SELECT rg_capture(0, 0, 1, 'x', 0.0)",
            "SELECT RG_Generation()",
        ] {
            let v = run(&mut g, sql);
            assert_eq!(
                v.kinds().into_iter().collect::<Vec<_>>(),
                [Kind::ForbiddenAction],
                "{sql}"
            );
        }
        // Nothing forged reached the log: a clean write stays clean.
        let v = run(&mut g, "UPDATE t SET v = 'q' WHERE id = 1");
        assert!(v.kinds().is_empty(), "{v:?}");
    }
}

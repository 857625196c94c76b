//! What both server backends read back after a call, judged alike: the
//! logged row changes against the policy (as the SQLite backend judges its
//! captured rows), and the watched session settings against their baseline.

use crate::policy::{undo, Cell, RowChange, TableInfo};
use crate::{Finding, Kind, Policy, StatementCheck};

/// One logged row change: table, old and new image (each server's text).
pub(crate) type LogRow = (String, Option<String>, Option<String>);

/// Compares logged row changes with the policy: `cells` reads a row image
/// of a table in the guard's encoding; `prelude` is the statement the undo
/// statements need first, if any.
pub(crate) fn judge(
    check: &mut StatementCheck,
    policy: &Policy,
    tables: &[TableInfo],
    rows: Vec<LogRow>,
    cells: impl Fn(Option<&str>, &TableInfo) -> Option<Vec<Cell>>,
    prelude: impl Fn(&[String]) -> Option<String>,
) {
    check.changed_rows = rows.len();
    let mut outside = Vec::new();
    let mut undos = Vec::new();
    for (tbl, old, new) in rows {
        let Some(table) = tables.iter().find(|t| t.name == tbl) else {
            continue;
        };
        let change = RowChange {
            old: cells(old.as_deref(), table),
            new: cells(new.as_deref(), table),
            table: tbl,
        };
        if change.old.is_none() && change.new.is_none() {
            continue;
        }
        let cells = policy.violations(&change, table);
        if !cells.is_empty() {
            outside.extend(cells);
            undos.push(undo(&change, table));
        }
    }
    if let Some(first) = prelude(&undos) {
        undos.insert(0, first);
    }
    if !outside.is_empty() {
        check.add(Finding::write_outside(outside, undos));
    }
}

/// Whether the watched settings (`watched`, their values joined by ` | `)
/// are what they were (`baseline`); when not, a finding naming each one
/// that changed (`name: before -> after`).
pub(crate) fn settings_kept(
    check: &mut StatementCheck,
    watched: &[&str],
    baseline: &str,
    now: &str,
) -> bool {
    if now == baseline {
        return true;
    }
    let changed = watched
        .iter()
        .zip(baseline.split(" | ").zip(now.split(" | ")))
        .filter(|(_, (a, b))| a != b)
        .map(|(name, (a, b))| format!("{name}: {a} -> {b}"))
        .collect::<Vec<_>>()
        .join(", ");
    check.add(Finding::new(
        Kind::ForbiddenAction,
        format!(
            "the statement changed session settings the guard relies on ({changed}): denied, reset"
        ),
    ));
    false
}

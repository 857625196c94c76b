//! Policy-aware change capture: the TEMP triggers that fill `temp.rg_log`.
//!
//! Every row change of a protected table fires its table's AFTER trigger
//! (with `recursive_triggers = ON`, REPLACE deletes too; WITHOUT ROWID tables
//! and foreign-key cascades alike). The trigger first asks whether the change
//! is one the current policy allows, in SQL, with the exact comparisons of
//! [`super::policy`] (same type and same bytes: what equal encodings mean):
//!
//! - target table, UPDATE: the old row's key column holds a target key, the
//!   row's key and key column are unchanged, and every column the policy
//!   does not make writable is unchanged;
//! - a side-effect table: the operation is allowed and the old and/or new
//!   row's column holds a target key;
//! - anything else is never allowed.
//!
//! An allowed change logs a small row: its table, operation and a bitmask of
//! the columns that changed (what the differential and `changed_rows` need).
//! Any other change logs OLD and NEW in full, encoded, as before: the Rust
//! side still judges those rows with [`super::Policy::violations`], so the
//! SQL test only decides what may skip the encoding, never a verdict.
//!
//! The target keys live in `temp.rg_keys`, rewritten when the keys change,
//! so the trigger text depends only on the policy's tables, columns and side
//! effects: the triggers are rebuilt only when those change (never between
//! the ops of the appointments pipeline). Both live in the temp schema, which
//! is transactional: a rebuild or key change inside an input is undone by
//! the input's rollback, so the guard tracks what is committed.

use rusqlite::Connection;

use super::policy::{Cell, TableInfo};
use super::Policy;

/// Tables with more columns than this always log full rows (the mask is an i64).
const MASK_BITS: usize = 62;

/// The log and the key table (created once per connection).
pub(crate) const SETUP: &str = "PRAGMA recursive_triggers = ON;\n\
     CREATE TEMP TABLE rg_log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, old TEXT, new TEXT, op INTEGER, mask INTEGER);\n\
     CREATE TEMP TABLE rg_keys (k TEXT PRIMARY KEY) WITHOUT ROWID;\n";

fn column(prefix: &str, c: &str) -> String {
    if c == "rowid" {
        format!("{prefix}.rowid")
    } else {
        format!("{prefix}.\"{c}\"")
    }
}

/// The exact encoding of one value ([`Cell`]).
fn encoded(v: &str) -> String {
    format!("CASE typeof({v}) WHEN 'text' THEN 'T' || hex({v}) ELSE quote({v}) END")
}

pub(crate) fn encoded_row(prefix: &str, t: &TableInfo) -> String {
    let cells: Vec<String> = t
        .columns
        .iter()
        .map(|c| encoded(&column(prefix, c)))
        .collect();
    format!("json_array({})", cells.join(", "))
}

/// True exactly when OLD and NEW of column `c` encode the same: same type,
/// same bytes (BINARY, whatever the column's collation), and for reals the
/// same printed value (-0.0 and 0.0 compare equal but print differently).
fn same(c: &str) -> String {
    let (o, n) = (column("OLD", c), column("NEW", c));
    format!(
        "({o} IS {n} COLLATE BINARY AND typeof({o}) = typeof({n}) AND (typeof({o}) <> 'real' OR quote({o}) = quote({n})))"
    )
}

/// Whether the value holds one of the target keys (compared encoded, as
/// `Policy::holds_key` does).
fn holds(v: &str) -> String {
    format!(
        "(({}) COLLATE BINARY IN (SELECT k FROM temp.rg_keys))",
        encoded(v)
    )
}

/// Bitmask of the changed columns among `columns` (indexes into the table's).
fn mask(t: &TableInfo, columns: impl Iterator<Item = usize>) -> String {
    let terms: Vec<String> = columns
        .map(|i| {
            format!(
                "CASE WHEN {} THEN 0 ELSE {} END",
                same(&t.columns[i]),
                1u64 << i
            )
        })
        .collect();
    if terms.is_empty() {
        "0".into()
    } else {
        terms.join(" + ")
    }
}

fn index(t: &TableInfo, c: &str) -> Option<usize> {
    t.columns.iter().position(|x| x.eq_ignore_ascii_case(c))
}

/// For each operation (insert, update, delete): the SQL condition under which
/// the policy allows the change, and the mask of its changed columns.
fn allowed(t: &TableInfo, p: &Policy) -> [Option<(String, String)>; 3] {
    if t.columns.len() > MASK_BITS {
        return [None, None, None];
    }
    if t.name.eq_ignore_ascii_case(&p.table) {
        let Some(kc) = index(t, &p.key_column) else {
            return [None, None, None];
        };
        let writable = |i: usize| {
            p.writable
                .iter()
                .any(|w| w.eq_ignore_ascii_case(&t.columns[i]))
        };
        let fixed = |i: usize| t.key.contains(&i) || i == kc || !writable(i);
        let mut conds = vec![holds(&column("OLD", &t.columns[kc]))];
        conds.extend(
            (0..t.columns.len())
                .filter(|&i| fixed(i))
                .map(|i| same(&t.columns[i])),
        );
        let m = mask(t, (0..t.columns.len()).filter(|&i| !fixed(i)));
        return [None, Some((format!("({})", conds.join(" AND ")), m)), None];
    }
    let mut ops: [Vec<String>; 3] = Default::default();
    for s in p
        .side_effects
        .iter()
        .filter(|s| s.table.eq_ignore_ascii_case(&t.name))
    {
        let Some(col) = index(t, &s.column) else {
            continue;
        };
        let (old, new) = (
            holds(&column("OLD", &t.columns[col])),
            holds(&column("NEW", &t.columns[col])),
        );
        if s.insert {
            ops[0].push(new.clone());
        }
        if s.update {
            ops[1].push(format!("({old} AND {new})"));
        }
        if s.delete {
            ops[2].push(old);
        }
    }
    let all = mask(t, 0..t.columns.len());
    let either = |v: &[String], m: &str| {
        (!v.is_empty()).then(|| (format!("({})", v.join(" OR ")), m.to_string()))
    };
    [
        either(&ops[0], "0"),
        either(&ops[1], &all),
        either(&ops[2], "0"),
    ]
}

/// Drops and creates the capture triggers of `tables` for `policy`.
pub(crate) fn install(
    conn: &Connection,
    tables: &[TableInfo],
    policy: &Policy,
) -> rusqlite::Result<()> {
    let mut sql = String::new();
    for t in tables {
        let n = &t.name;
        let (old, new) = (encoded_row("OLD", t), encoded_row("NEW", t));
        let full = [
            ("insert", "NULL".to_string(), new.clone()),
            ("update", old.clone(), new),
            ("delete", old, "NULL".to_string()),
        ];
        for ((op, (event, o, nw)), allow) in (0..).zip(full).zip(allowed(t, policy)) {
            let name = format!("rg_{n}_{event}");
            sql += &format!("DROP TRIGGER IF EXISTS temp.{name};\n");
            let body = match allow {
                None => {
                    format!("INSERT INTO temp.rg_log (tbl, old, new) VALUES ('{n}', {o}, {nw});")
                }
                // One INSERT: the policy test runs once per row (a subquery
                // without FROM is never flattened, so `m` is computed once).
                Some((cond, m)) => format!(
                    "INSERT INTO temp.rg_log (tbl, op, mask, old, new) SELECT '{n}', \
                     CASE WHEN m IS NULL THEN NULL ELSE {op} END, m, \
                     CASE WHEN m IS NULL THEN {o} END, CASE WHEN m IS NULL THEN {nw} END \
                     FROM (SELECT CASE WHEN {cond} THEN {m} END AS m);"
                ),
            };
            sql += &format!(
                "CREATE TEMP TRIGGER {name} AFTER {} ON main.\"{n}\" BEGIN\n  {body}\nEND;\n",
                event.to_ascii_uppercase()
            );
        }
    }
    conn.execute_batch(&sql)
}

/// Replaces the target keys.
pub(crate) fn set_keys(conn: &Connection, policy: &Policy) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM temp.rg_keys")?
        .execute([])?;
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO temp.rg_keys (k) VALUES (?1)")?;
    for k in &policy.keys {
        insert.execute([Cell::of(k).0])?;
    }
    Ok(())
}

//! What one operation may write, and the comparison of an observed row
//! change against it. Domain-free: the caller names the target table, its key
//! column, the key values, the writable columns and the side-effect writes it
//! allows (e.g. an audit-log insert or a child table's rows of the target).
//!
//! Cells are compared in an exact encoding ([`Cell`]) produced by the guard's
//! TEMP triggers: SQLite's `quote()` for numbers, NULL and blobs, and `T` + hex
//! of the bytes for text (so a NUL inside text is seen).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::db::Value;

/// The rows and columns an operation may change.
///
/// ```
/// use rowguard_guard::{Policy, SideEffect};
/// // Rescheduling appointment 7: its times and notes, its audit rows, its reminders.
/// let p = Policy::new("appointments", "id")
///     .key(7)
///     .writable(["start_at", "end_at", "notes"])
///     .allow(SideEffect::new("appointment_log", "appointment_id").inserts())
///     .allow(SideEffect::new("reminders", "appointment_id").inserts().updates().deletes());
/// assert_eq!(p.table, "appointments");
/// assert_eq!(p.side_effects.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The table holding the target row(s).
    pub table: String,
    /// The column that identifies target rows (usually the primary key).
    pub key_column: String,
    /// The key values of the target rows (one for a single-row op, a set for a series).
    pub keys: Vec<Value>,
    /// Columns of the target rows the op may change.
    pub writable: Vec<String>,
    /// Writes to other tables the op may cause.
    pub side_effects: Vec<SideEffect>,
}

/// Allowed writes to rows of another table whose `column` holds a target key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideEffect {
    /// The child table (e.g. an audit log or reminders).
    pub table: String,
    /// Its column holding the target key.
    pub column: String,
    /// Rows pointing at a target may be inserted.
    pub insert: bool,
    /// Rows pointing at a target may be updated.
    pub update: bool,
    /// Rows pointing at a target may be deleted.
    pub delete: bool,
}

impl Policy {
    /// A policy on `table` whose rows are identified by `key_column`, with no
    /// key, writable column or side effect yet: add them with the builders.
    ///
    /// ```
    /// use rowguard_guard::{Policy, SideEffect};
    /// let p = Policy::new("documents", "id")
    ///     .key(42)
    ///     .writable(["title", "body"])
    ///     .allow(SideEffect::new("document_log", "document_id").inserts());
    /// assert_eq!(p.keys.len(), 1);
    /// ```
    pub fn new(table: impl Into<String>, key_column: impl Into<String>) -> Policy {
        Policy {
            table: table.into(),
            key_column: key_column.into(),
            keys: Vec::new(),
            writable: Vec::new(),
            side_effects: Vec::new(),
        }
    }

    /// Adds one target key value.
    pub fn key(mut self, key: impl Into<Value>) -> Policy {
        self.keys.push(key.into());
        self
    }

    /// Adds target key values (a set of rows, e.g. a series).
    pub fn keys<V: Into<Value>>(mut self, keys: impl IntoIterator<Item = V>) -> Policy {
        self.keys.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Adds columns of the target rows the operation may change.
    pub fn writable<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Policy {
        self.writable.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Allows writes to another table's rows of the targets.
    pub fn allow(mut self, side_effect: SideEffect) -> Policy {
        self.side_effects.push(side_effect);
        self
    }
}

impl SideEffect {
    /// Rows of `table` whose `column` holds a target key; no operation allowed yet.
    pub fn new(table: impl Into<String>, column: impl Into<String>) -> SideEffect {
        SideEffect {
            table: table.into(),
            column: column.into(),
            insert: false,
            update: false,
            delete: false,
        }
    }

    /// Allows inserting such rows (e.g. an audit log a trigger fills).
    pub fn inserts(mut self) -> SideEffect {
        self.insert = true;
        self
    }

    /// Allows updating such rows (keeping them the target's).
    pub fn updates(mut self) -> SideEffect {
        self.update = true;
        self
    }

    /// Allows deleting such rows (e.g. an ON DELETE CASCADE child).
    pub fn deletes(mut self) -> SideEffect {
        self.delete = true;
        self
    }
}

/// One changed cell outside the policy: the blast radius, cell by cell.
/// `before`/`after` are SQL literals; `None` means the row did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellChange {
    /// The table of the changed cell.
    pub table: Arc<str>,
    /// The row's key (its primary key values, or its rowid), as text.
    pub key: Arc<str>,
    /// The column changed.
    pub column: Arc<str>,
    /// The value before, as an SQL literal (`None`: the row did not exist).
    pub before: Option<String>,
    /// The value after, as an SQL literal (`None`: the row was deleted).
    pub after: Option<String>,
}

/// One cell value in the guard's exact encoding: equal cells are equal
/// values of the same type with the same bytes. Text is `'` and the text
/// itself when it is valid UTF-8, else `T` and its bytes in hex; anything
/// else is written as SQLite's `quote()` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell(pub String);

/// A row change the TEMP triggers logged: `old` is absent for inserts, `new`
/// for deletes. In an update, a column that kept its value and that the
/// policy does not read ([`Policy::read_columns`]) may be an empty cell on
/// both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    /// The table of the row.
    pub table: String,
    /// The row before (`None` for an insert).
    pub old: Option<Vec<Cell>>,
    /// The row after (`None` for a delete).
    pub new: Option<Vec<Cell>>,
}

/// A row change as the judge reads it, borrowed (from a [`RowChange`], or
/// from the change log without building one): `old` is absent for an
/// insert, `new` for a delete.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    pub(crate) table: &'a str,
    pub(crate) old: Option<&'a [Cell]>,
    pub(crate) new: Option<&'a [Cell]>,
}

impl RowChange {
    pub(crate) fn view(&self) -> RowView<'_> {
        RowView {
            table: &self.table,
            old: self.old.as_deref(),
            new: self.new.as_deref(),
        }
    }
}

/// Column layout of a protected table as the triggers log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The column name.
    pub name: String,
    /// Logged columns; `rowid` first for rowid tables.
    pub columns: Vec<String>,
    /// Indexes (into `columns`) of the key: `rowid`, or the PRIMARY KEY of a WITHOUT ROWID table.
    pub key: Vec<usize>,
}

impl Cell {
    /// Encodes a bound value the way the triggers encode a stored one.
    pub fn of(value: &Value) -> Cell {
        Cell(match value {
            Value::Null => "NULL".into(),
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => format!("{f:?}"),
            Value::Text(t) => return Cell::text(t.as_bytes()),
            Value::Blob(b) => format!("X'{}'", hex(b)),
        })
    }

    /// Whether this cell is the encoding of `v` ([`Cell::of`], without
    /// building it).
    pub fn encodes(&self, v: &Value) -> bool {
        match v {
            Value::Null => self.0 == "NULL",
            // Integer cells are canonical decimal; no other cell parses as one.
            Value::Integer(i) => self.0.parse::<i64>() == Ok(*i),
            Value::Text(t) => self.0.strip_prefix('\'') == Some(t.as_str()),
            Value::Real(_) | Value::Blob(_) => *self == Cell::of(v),
        }
    }

    /// A text value's cell, from its bytes.
    pub fn text(bytes: &[u8]) -> Cell {
        Cell(match std::str::from_utf8(bytes) {
            Ok(s) => {
                let mut c = String::with_capacity(1 + s.len());
                c.push('\'');
                c.push_str(s);
                c
            }
            Err(_) => {
                let mut c = String::with_capacity(1 + 2 * bytes.len());
                c.push('T');
                push_hex(&mut c, bytes);
                c
            }
        })
    }

    /// The text of a text cell: `Ok` when valid UTF-8, else its bytes.
    fn text_value(&self) -> Option<Result<&str, Vec<u8>>> {
        if let Some(s) = self.0.strip_prefix('\'') {
            return Some(Ok(s));
        }
        let h = self.0.strip_prefix('T')?.as_bytes();
        let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
        Some(Err(h
            .chunks_exact(2)
            .map(|p| digit(p[0]) << 4 | digit(p[1]))
            .collect()))
    }

    /// A readable SQL literal (text shown lossily, quotes doubled).
    pub fn display(&self) -> String {
        match self.text_value() {
            Some(Ok(s)) => quoted(s),
            Some(Err(b)) => quoted(&String::from_utf8_lossy(&b)),
            None => self.0.clone(),
        }
    }

    /// An exact SQL literal, for undo statements.
    pub fn literal(&self) -> String {
        let mut l = String::new();
        self.write_literal(&mut l);
        l
    }

    fn write_literal(&self, out: &mut String) {
        match self.text_value() {
            Some(Ok(s)) if !s.contains('\0') => push_quoted(out, s),
            Some(Ok(s)) => {
                out.push_str("CAST(X'");
                push_hex(out, s.as_bytes());
                out.push_str("' AS TEXT)");
            }
            Some(Err(_)) => {
                out.push_str("CAST(X'");
                out.push_str(&self.0[1..]);
                out.push_str("' AS TEXT)");
            }
            None => out.push_str(&self.0),
        }
    }
}

/// `s` as an SQL string literal.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    push_quoted(&mut q, s);
    q
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('\'');
    for part in s.split_inclusive('\'') {
        out.push_str(part);
        if part.ends_with('\'') {
            out.push('\'');
        }
    }
    out.push('\'');
}

/// Appends the upper-case hex digits of `bytes` (as SQLite's `hex()`).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(2 * bytes.len());
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_hex(&mut s, bytes);
    s
}

/// A table's name and columns as shared text: the cells of a blast radius
/// point to them instead of each holding copies.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    table: Arc<str>,
    columns: Vec<Arc<str>>,
}

impl Names {
    pub(crate) fn of(table: &TableInfo) -> Names {
        Names {
            table: table.name.as_str().into(),
            columns: table.columns.iter().map(|c| c.as_str().into()).collect(),
        }
    }
}

impl TableInfo {
    fn index(&self, column: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
    }

    /// The row's key as text, e.g. `7` or `7, '2026-03-06 09:00'`.
    pub fn key_of(&self, row: &[Cell]) -> String {
        if let [i] = self.key[..] {
            return row[i].display();
        }
        self.key
            .iter()
            .map(|&i| row[i].display())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn write_key_condition(&self, row: &[Cell], out: &mut String) {
        for (n, &i) in self.key.iter().enumerate() {
            if n > 0 {
                out.push_str(" AND ");
            }
            out.push_str(&self.columns[i]);
            out.push_str(" = ");
            row[i].write_literal(out);
        }
    }
}

impl Policy {
    fn holds_key(&self, row: &[Cell], column: Option<usize>) -> bool {
        let Some(i) = column else { return false };
        self.keys.iter().any(|k| row[i].encodes(k))
    }

    /// The cells of `change` that lie outside the policy (empty when allowed).
    pub fn violations(&self, change: &RowChange, table: &TableInfo) -> Vec<CellChange> {
        let changed = changed_columns(change, table);
        let mut cells = Vec::new();
        self.violations_into(
            change.view(),
            table,
            &changed,
            &Names::of(table),
            &mut cells,
        );
        cells
    }

    /// [`Policy::violations`] of a borrowed change, given its
    /// [`changed_columns`] and its table's [`Names`] (shared by every cell
    /// of a blast radius): appends the cells outside the policy to `out`,
    /// and returns whether there were any.
    pub(crate) fn violations_into(
        &self,
        change: RowView<'_>,
        table: &TableInfo,
        changed: &[usize],
        names: &Names,
        out: &mut Vec<CellChange>,
    ) -> bool {
        let target = change.table.eq_ignore_ascii_case(&self.table);
        let (in_place, effect_ok) = if target {
            (self.target_in_place(change, table), false)
        } else {
            let ok = self.side_effects.iter().any(|s| {
                s.table.eq_ignore_ascii_case(change.table) && {
                    let col = table.index(&s.column);
                    let op_ok = match (change.old, change.new) {
                        (None, Some(_)) => s.insert,
                        (Some(_), Some(_)) => s.update,
                        (Some(_), None) => s.delete,
                        (None, None) => true,
                    };
                    op_ok
                        && change.old.is_none_or(|r| self.holds_key(r, col))
                        && change.new.is_none_or(|r| self.holds_key(r, col))
                }
            });
            (false, ok)
        };
        // For the target table: an update of a target row that keeps its
        // key may change the writable columns; nothing else is allowed.
        let allowed = |i: usize| {
            if target {
                in_place
                    && self
                        .writable
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(&table.columns[i]))
            } else {
                effect_ok
            }
        };
        if changed.iter().all(|&i| allowed(i)) {
            return false;
        }
        let key_row = change.old.or(change.new).expect("a change has a row");
        let key: Arc<str> = table.key_of(key_row).into();
        out.extend(
            changed
                .iter()
                .filter(|&&i| !allowed(i))
                .map(|&i| CellChange {
                    table: Arc::clone(&names.table),
                    key: Arc::clone(&key),
                    column: Arc::clone(&names.columns[i]),
                    before: change.old.map(|r| r[i].display()),
                    after: change.new.map(|r| r[i].display()),
                }),
        );
        true
    }

    /// The columns of `table` that [`Policy::violations`] and [`undo`] read
    /// even when unchanged: the key, the policy's key column and the side
    /// effects' columns. The other unchanged columns of an updated row may
    /// be left out of its [`RowChange`] (an empty cell on both sides).
    pub(crate) fn read_columns(&self, table: &TableInfo) -> Vec<bool> {
        let mut read = vec![false; table.columns.len()];
        let mut columns: Vec<&str> = self
            .side_effects
            .iter()
            .filter(|s| s.table.eq_ignore_ascii_case(&table.name))
            .map(|s| s.column.as_str())
            .collect();
        if table.name.eq_ignore_ascii_case(&self.table) {
            columns.push(&self.key_column);
        }
        for i in table
            .key
            .iter()
            .copied()
            .chain(columns.into_iter().filter_map(|c| table.index(c)))
        {
            read[i] = true;
        }
        read
    }

    /// Whether a change of the target table is an update of a target row
    /// that keeps its key (and the policy's key column).
    fn target_in_place(&self, change: RowView<'_>, table: &TableInfo) -> bool {
        let col = table.index(&self.key_column);
        match (change.old, change.new) {
            (Some(old), Some(new)) => {
                self.holds_key(old, col)
                    && table
                        .key
                        .iter()
                        .chain(col.iter())
                        .all(|&i| old[i] == new[i])
            }
            _ => false,
        }
    }
}

/// Indexes of the columns whose value differs (all columns for inserts and deletes).
pub(crate) fn changed_columns(change: &RowChange, table: &TableInfo) -> Vec<usize> {
    match (&change.old, &change.new) {
        (Some(o), Some(n)) => (0..table.columns.len()).filter(|&i| o[i] != n[i]).collect(),
        _ => (0..table.columns.len()).collect(),
    }
}

/// A statement that reverses one row change.
pub fn undo(change: &RowChange, table: &TableInfo) -> String {
    undo_changed(change.view(), table, &changed_columns(change, table))
}

/// [`undo`] of a borrowed change, given its [`changed_columns`].
pub(crate) fn undo_changed(change: RowView<'_>, table: &TableInfo, changed: &[usize]) -> String {
    let mut u = String::with_capacity(64);
    let t = &table.name;
    match (change.old, change.new) {
        (Some(old), Some(new)) => {
            u.push_str("UPDATE ");
            u.push_str(t);
            u.push_str(" SET ");
            for (n, &i) in changed.iter().enumerate() {
                if n > 0 {
                    u.push_str(", ");
                }
                u.push_str(&table.columns[i]);
                u.push_str(" = ");
                old[i].write_literal(&mut u);
            }
            u.push_str(" WHERE ");
            table.write_key_condition(new, &mut u);
        }
        (None, Some(new)) => {
            u.push_str("DELETE FROM ");
            u.push_str(t);
            u.push_str(" WHERE ");
            table.write_key_condition(new, &mut u);
        }
        (Some(old), None) => {
            u.push_str("INSERT INTO ");
            u.push_str(t);
            u.push_str(" (");
            u.push_str(&table.columns.join(", "));
            u.push_str(") VALUES (");
            for (n, c) in old.iter().enumerate() {
                if n > 0 {
                    u.push_str(", ");
                }
                c.write_literal(&mut u);
            }
            u.push(')');
        }
        (None, None) => return u,
    }
    u.push(';');
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<Cell> {
        v.iter().map(|s| Cell(s.to_string())).collect()
    }

    fn appointments() -> TableInfo {
        TableInfo {
            name: "appointments".into(),
            columns: vec!["rowid".into(), "id".into(), "notes".into(), "status".into()],
            key: vec![0],
        }
    }

    fn policy() -> Policy {
        Policy {
            table: "appointments".into(),
            key_column: "id".into(),
            keys: vec![Value::Integer(7)],
            writable: vec!["notes".into()],
            side_effects: vec![],
        }
    }

    #[test]
    fn a_writable_column_of_the_target_is_allowed_and_nothing_else() {
        let t = appointments();
        let ok = RowChange {
            table: "appointments".into(),
            old: Some(cells(&["7", "7", "'a", "'x"])),
            new: Some(cells(&["7", "7", "'b", "'x"])),
        };
        assert!(policy().violations(&ok, &t).is_empty());
        let status = RowChange {
            new: Some(cells(&["7", "7", "'a", "'y"])),
            ..ok.clone()
        };
        let v = policy().violations(&status, &t);
        assert_eq!(v.len(), 1);
        assert_eq!(&*v[0].column, "status");
        let other = RowChange {
            old: Some(cells(&["8", "8", "'a", "'x"])),
            new: Some(cells(&["8", "8", "'b", "'x"])),
            ..ok
        };
        assert_eq!(&*policy().violations(&other, &t)[0].key, "8");
        assert_eq!(
            undo(&other, &t),
            "UPDATE appointments SET notes = 'a' WHERE rowid = 8;"
        );
    }

    #[test]
    fn text_with_nul_is_exact() {
        let c = Cell::of(&Value::Text("a\0'".into()));
        assert_eq!(c.literal(), "CAST(X'610027' AS TEXT)");
        assert_eq!(Cell::of(&Value::Text("it's".into())).literal(), "'it''s'");
        // Text that is not UTF-8 keeps its bytes; equal bytes, equal cells.
        let c = Cell::text(b"\xff'");
        assert_eq!(c.literal(), "CAST(X'FF27' AS TEXT)");
        assert_eq!(c.display(), "'\u{fffd}'''");
        assert_eq!(c, Cell::text(b"\xff'"));
        assert_ne!(c, Cell::text("\u{fffd}'".as_bytes()));
        assert_ne!(Cell::text(b"1"), Cell::of(&Value::Integer(1)));
        assert_ne!(Cell::text(b"NULL"), Cell::of(&Value::Null));
    }
}

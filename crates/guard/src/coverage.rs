//! The differential oracle between the two layers: the static layer's view
//! of what a SQL string can write must cover every write the dynamic layer
//! observed. The static layer may be stricter (name writes that never
//! happen), never laxer: an observed write it calls impossible is a bug in
//! one of the layers, not a finding about the SQL.
//!
//! A statement writes more than its text names: the schema adds triggers,
//! foreign-key actions and REPLACE conflict deletes. [`SchemaEffects`] reads
//! them from the database once (triggers of `main` parsed with sqlparser,
//! `pragma_foreign_key_list` for the actions) and [`SchemaEffects::implied`]
//! closes a statement's writes over them. A trigger body sqlparser cannot
//! parse makes the closure "anything": no false alarm, less power.

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::policy::TableInfo;
use super::static_check::{parse_sqlite, writes_of, StaticWrite, WriteOp};

/// One kind of write the dynamic layer observed: a table, an operation and
/// (for updates) the columns whose value changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObservedWrite {
    /// The table written.
    pub table: String,
    /// Insert, update or delete.
    pub op: WriteOp,
    /// The columns an update changed (empty for inserts and deletes).
    pub columns: Vec<String>,
}

impl ObservedWrite {
    /// The observed write of a change with an old row and a new one as
    /// `rows` says, whose `changed` columns are as
    /// [`changed_columns`](crate::policy::changed_columns) finds
    /// them (read for updates only).
    pub(crate) fn of_changed(
        rows: (bool, bool),
        changed: &[usize],
        table: &TableInfo,
    ) -> ObservedWrite {
        let op = match rows {
            (false, _) => WriteOp::Insert,
            (true, true) => WriteOp::Update,
            (true, false) => WriteOp::Delete,
        };
        let columns = if op == WriteOp::Update {
            changed.iter().map(|&i| table.columns[i].clone()).collect()
        } else {
            Vec::new()
        };
        ObservedWrite {
            table: table.name.clone(),
            op,
            columns,
        }
    }
}

/// A foreign key's actions: what a write to `parent` does to `child`.
#[derive(Debug, Clone)]
struct ForeignKey {
    parent: String,
    child: String,
    columns: Vec<String>,
    on_delete: String,
    on_update: String,
}

/// The writes the schema adds to a statement's own.
#[derive(Debug, Clone, Default)]
pub struct SchemaEffects {
    /// (table the trigger is on, its body's writes; `None` = unparsable body).
    triggers: Vec<(String, Option<Vec<StaticWrite>>)>,
    foreign_keys: Vec<ForeignKey>,
    /// Per table, the names a `SET rowid = ..` changes in the log.
    rowid_names: Vec<(String, Vec<String>)>,
}

/// The closure of a statement's writes: explicit, triggered, cascaded.
#[derive(Debug, Clone, Default)]
pub struct Implied {
    /// Every write the statement or its schema effects can make.
    pub writes: Vec<StaticWrite>,
    /// A trigger whose body could not be read fires: anything may be written.
    pub anything: bool,
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl SchemaEffects {
    /// Reads triggers and foreign keys of `main` for the protected `tables`.
    pub fn load(conn: &Connection, tables: &[TableInfo]) -> rusqlite::Result<SchemaEffects> {
        let triggers: Vec<(String, String)> = conn
            .prepare(
                "SELECT tbl_name, sql FROM main.sqlite_schema WHERE type = 'trigger' ORDER BY name",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let triggers = triggers
            .into_iter()
            .map(|(table, sql)| {
                let body =
                    parse_sqlite(&sql).map(|stmts| stmts.iter().flat_map(writes_of).collect());
                (table, body)
            })
            .collect();
        let mut foreign_keys = Vec::new();
        let mut rowid_names = Vec::new();
        for t in tables {
            let mut stmt = conn.prepare(
                "SELECT id, \"table\", \"from\", on_update, on_delete FROM pragma_foreign_key_list(?1, 'main') ORDER BY id, seq",
            )?;
            let rows = stmt.query_map([&t.name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            // Rows of one (composite) key share its `id`, listed together.
            let mut last_id = None;
            for row in rows {
                let (id, parent, from, on_update, on_delete) = row?;
                match foreign_keys.last_mut() {
                    Some(ForeignKey { columns, .. }) if last_id == Some(id) => columns.push(from),
                    _ => foreign_keys.push(ForeignKey {
                        parent,
                        child: t.name.clone(),
                        columns: vec![from],
                        on_delete,
                        on_update,
                    }),
                }
                last_id = Some(id);
            }
            // `rowid` itself for a plain rowid table, else its INTEGER PRIMARY KEY alias.
            let mut names = vec!["rowid".to_string()];
            if t.key.len() == 1 {
                names.push(t.columns[t.key[0]].clone());
            }
            rowid_names.push((t.name.clone(), names));
        }
        Ok(SchemaEffects {
            triggers,
            foreign_keys,
            rowid_names,
        })
    }

    /// The writes a statement naming `writes` can cause, through every channel.
    pub fn implied(&self, writes: &[StaticWrite]) -> Implied {
        let mut out = Implied::default();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StaticWrite> = writes.to_vec();
        while let Some(w) = todo.pop() {
            let key = format!(
                "{:?} {} {:?} {}",
                w.op,
                w.table.to_ascii_lowercase(),
                w.columns,
                w.replaces
            );
            if !seen.insert(key) {
                continue;
            }
            let table = w.table.rsplit('.').next().unwrap_or(&w.table).to_string();
            let deletes = w.op == WriteOp::Delete || w.replaces;
            if w.replaces {
                todo.push(StaticWrite {
                    op: WriteOp::Delete,
                    table: table.clone(),
                    columns: Vec::new(),
                    replaces: false,
                });
            }
            for (on, body) in &self.triggers {
                if !same(on, &table) {
                    continue;
                }
                match body {
                    Some(ws) => todo.extend(ws.iter().cloned()),
                    None => out.anything = true,
                }
            }
            for fk in self
                .foreign_keys
                .iter()
                .filter(|fk| same(&fk.parent, &table))
            {
                let child = |op| StaticWrite {
                    op,
                    table: fk.child.clone(),
                    columns: fk.columns.clone(),
                    replaces: false,
                };
                let acts = |a: &str| {
                    ["CASCADE", "SET NULL", "SET DEFAULT"]
                        .iter()
                        .any(|x| same(x, a))
                };
                if deletes && same(&fk.on_delete, "CASCADE") {
                    todo.push(StaticWrite {
                        columns: Vec::new(),
                        ..child(WriteOp::Delete)
                    });
                } else if deletes && acts(&fk.on_delete) {
                    todo.push(child(WriteOp::Update));
                }
                if (w.op == WriteOp::Update || w.replaces) && acts(&fk.on_update) {
                    todo.push(child(WriteOp::Update));
                }
            }
            out.writes.push(StaticWrite { table, ..w });
        }
        out
    }

    fn rowid_names(&self, table: &str) -> &[String] {
        self.rowid_names
            .iter()
            .find(|(t, _)| same(t, table))
            .map_or(&[], |(_, n)| n.as_slice())
    }

    /// The observed writes no implied write covers (empty when the layers agree).
    pub fn uncovered(
        &self,
        writes: &[StaticWrite],
        observed: &[ObservedWrite],
    ) -> Vec<ObservedWrite> {
        let implied = self.implied(writes);
        if implied.anything {
            return Vec::new();
        }
        let is_rowid = |c: &str| ["rowid", "oid", "_rowid_"].iter().any(|r| same(r, c));
        let covers = |w: &StaticWrite, o: &ObservedWrite| {
            if !same(&w.table, &o.table) {
                return false;
            }
            match o.op {
                WriteOp::Insert => w.op == WriteOp::Insert,
                WriteOp::Delete => w.op == WriteOp::Delete || w.replaces,
                WriteOp::Update => {
                    w.op == WriteOp::Update
                        && (w.columns.is_empty()
                            || o.columns.iter().all(|c| {
                                w.columns.iter().any(|s| {
                                    same(s, c)
                                        || (is_rowid(s)
                                            && self
                                                .rowid_names(&o.table)
                                                .iter()
                                                .any(|n| same(n, c)))
                                })
                            }))
                }
            }
        };
        observed
            .iter()
            .filter(|o| !implied.writes.iter().any(|w| covers(w, o)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_check::{analyze, Dialect};

    fn effects() -> SchemaEffects {
        let conn = crate::tests::fixture();
        let g = crate::Guard::new(conn, crate::tests::policy7()).unwrap();
        let tables = super::super::dynamic::tables_of(&g);
        SchemaEffects::load(g.connection(), &tables).unwrap()
    }

    fn writes(sql: &str) -> Vec<StaticWrite> {
        analyze(sql, Dialect::Sqlite, &crate::tests::policy7(), None).writes
    }

    fn observed(table: &str, op: WriteOp, columns: &[&str]) -> ObservedWrite {
        ObservedWrite {
            table: table.into(),
            op,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn the_fixture_trigger_and_cascade_are_implied() {
        let e = effects();
        let update = e.implied(&writes("UPDATE appointments SET notes = 'x'"));
        assert!(!update.anything, "the audit trigger parses");
        assert!(update
            .writes
            .iter()
            .any(|w| w.op == WriteOp::Insert && w.table == "appointment_log"));
        let delete = e.implied(&writes("DELETE FROM appointments"));
        assert!(delete
            .writes
            .iter()
            .any(|w| w.op == WriteOp::Delete && w.table == "reminders"));
        let replace = e.implied(&writes("REPLACE INTO appointments (id) VALUES (1)"));
        assert!(replace
            .writes
            .iter()
            .any(|w| w.op == WriteOp::Delete && w.table == "reminders"));
    }

    #[test]
    fn a_write_the_text_does_not_name_is_uncovered() {
        let e = effects();
        let ws = writes("UPDATE appointments SET notes = 'x' WHERE id = 7");
        let ok = [
            observed("appointments", WriteOp::Update, &["notes"]),
            observed("appointment_log", WriteOp::Insert, &[]),
        ];
        assert!(e.uncovered(&ws, &ok).is_empty());
        for bad in [
            observed("appointments", WriteOp::Update, &["status"]),
            observed("appointments", WriteOp::Delete, &[]),
            observed("clients", WriteOp::Update, &["phone"]),
            observed("reminders", WriteOp::Delete, &[]),
        ] {
            assert_eq!(e.uncovered(&ws, std::slice::from_ref(&bad)), vec![bad]);
        }
        let rowid = writes("UPDATE appointments SET rowid = 9 WHERE id = 7");
        assert!(e
            .uncovered(
                &rowid,
                &[observed("appointments", WriteOp::Update, &["id"])]
            )
            .is_empty());
        assert!(!e.uncovered(&writes("SELECT 1"), &ok).is_empty());
    }
}

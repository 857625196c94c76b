//! The clean-row test: a [`Policy`] compiled against the protected tables
//! ([`CleanRows`]), deciding from a row change's raw values whether the
//! policy allows every cell of it, without encoding one. The production
//! tripwire counts such rows and encodes only the others, which the judge
//! ([`Policy::violations`]) then reads; so the test must never call a row
//! clean that the judge would flag. It mirrors the judge rule for rule, and
//! a test compares the two on generated rows.

use rusqlite::types::ValueRef;

use crate::policy::TableInfo;
use crate::stored::{encode, same};
use crate::{Policy, Value};

/// What the policy allows on one protected table.
#[derive(Debug)]
enum Rule {
    /// The policy's own table: an update of a target row that keeps its
    /// identity (`identity`: the table's key and the policy's key column)
    /// may change the `writable` columns.
    Target {
        key: Option<usize>,
        identity: Vec<usize>,
        writable: Vec<bool>,
    },
    /// Another table: the side effects the policy allows there.
    Other(Vec<Effect>),
}

/// One allowed side effect: rows whose `column` holds a target key.
#[derive(Debug)]
struct Effect {
    column: Option<usize>,
    insert: bool,
    update: bool,
    delete: bool,
}

/// A policy compiled against the protected tables (one rule per table, in
/// their order).
#[derive(Debug)]
pub(crate) struct CleanRows {
    keys: Vec<Value>,
    rules: Vec<Rule>,
}

impl CleanRows {
    pub(crate) fn new(policy: &Policy, tables: &[TableInfo]) -> CleanRows {
        let index =
            |t: &TableInfo, c: &str| t.columns.iter().position(|n| n.eq_ignore_ascii_case(c));
        let rules = tables
            .iter()
            .map(|t| {
                if t.name.eq_ignore_ascii_case(&policy.table) {
                    let key = index(t, &policy.key_column);
                    Rule::Target {
                        key,
                        identity: t.key.iter().copied().chain(key).collect(),
                        writable: t
                            .columns
                            .iter()
                            .map(|c| policy.writable.iter().any(|w| w.eq_ignore_ascii_case(c)))
                            .collect(),
                    }
                } else {
                    Rule::Other(
                        policy
                            .side_effects
                            .iter()
                            .filter(|s| s.table.eq_ignore_ascii_case(&t.name))
                            .map(|s| Effect {
                                column: index(t, &s.column),
                                insert: s.insert,
                                update: s.update,
                                delete: s.delete,
                            })
                            .collect(),
                    )
                }
            })
            .collect();
        CleanRows {
            keys: policy.keys.clone(),
            rules,
        }
    }

    /// The target keys of the next operation (a policy of the same shape).
    pub(crate) fn set_keys(&mut self, keys: &[Value]) {
        self.keys.clear();
        self.keys.extend_from_slice(keys);
    }

    /// Whether the policy allows every cell of this change of row `table`
    /// (`old` absent for an insert, `new` for a delete; each the whole row,
    /// in the table's logged column order).
    pub(crate) fn clean(
        &self,
        table: usize,
        old: Option<&[ValueRef<'_>]>,
        new: Option<&[ValueRef<'_>]>,
    ) -> bool {
        let holds = |row: Option<&[ValueRef<'_>]>, column: Option<usize>| match (row, column) {
            (None, _) => true,
            (Some(r), Some(c)) => r.get(c).is_some_and(|&v| self.holds_key(v)),
            (Some(_), None) => false,
        };
        match self.rules.get(table) {
            None => false,
            Some(Rule::Target {
                key,
                identity,
                writable,
            }) => {
                // An insert or a delete changes every column; only an
                // update in place may be allowed.
                let (Some(o), Some(n)) = (old, new) else {
                    return false;
                };
                if o.len() != writable.len() || n.len() != writable.len() {
                    return false;
                }
                let changed = |i: usize| !same(o[i], n[i]);
                if !(0..o.len()).any(changed) {
                    return true;
                }
                let in_place = holds(Some(o), *key) && identity.iter().all(|&i| !changed(i));
                in_place && (0..o.len()).all(|i| writable[i] || !changed(i))
            }
            Some(Rule::Other(effects)) => {
                let allowed = effects.iter().any(|e| {
                    let op = match (old, new) {
                        (None, Some(_)) => e.insert,
                        (Some(_), Some(_)) => e.update,
                        (Some(_), None) => e.delete,
                        (None, None) => true,
                    };
                    op && holds(old, e.column) && holds(new, e.column)
                });
                allowed
                    || match (old, new) {
                        // an update that changed nothing
                        (Some(o), Some(n)) => {
                            o.len() == n.len() && o.iter().zip(n).all(|(&a, &b)| same(a, b))
                        }
                        _ => false,
                    }
            }
        }
    }

    /// Whether the stored value `v` is one of the policy's keys, as the
    /// judge compares them (the value's encoding [`Cell::encodes`] the key).
    ///
    /// [`Cell::encodes`]: crate::policy::Cell::encodes
    fn holds_key(&self, v: ValueRef<'_>) -> bool {
        self.keys.iter().any(|k| match (v, k) {
            // An integer, NULL or text cell encodes only a key of its own type.
            (ValueRef::Null, k) => matches!(k, Value::Null),
            (ValueRef::Integer(i), k) => matches!(k, Value::Integer(j) if i == *j),
            (ValueRef::Text(t), k) => matches!(k, Value::Text(s) if s.as_bytes() == t),
            (ValueRef::Real(_) | ValueRef::Blob(_), k) => encode(v).encodes(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{changed_columns, Cell, RowChange};
    use crate::SideEffect;

    fn tables() -> Vec<TableInfo> {
        let t = |name: &str, cols: &[&str], key: Vec<usize>| TableInfo {
            name: name.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            key,
        };
        vec![
            t("Docs", &["rowid", "id", "title", "body", "owner"], vec![0]),
            t("doc_log", &["rowid", "doc_id", "what"], vec![0]),
            t("tags", &["doc", "tag"], vec![0, 1]),
        ]
    }

    /// Small values that collide in interesting ways (7 as integer, real,
    /// text and blob; NULL; equal texts).
    fn values() -> Vec<ValueRef<'static>> {
        vec![
            ValueRef::Integer(7),
            ValueRef::Integer(8),
            ValueRef::Real(7.0),
            ValueRef::Real(0.5),
            ValueRef::Text(b"7"),
            ValueRef::Text(b"x"),
            ValueRef::Text(b"\xff"),
            ValueRef::Blob(b"7"),
            ValueRef::Null,
        ]
    }

    fn policies() -> Vec<Policy> {
        vec![
            Policy::new("docs", "ID").key(7).writable(["TITLE", "body"]),
            Policy::new("docs", "id")
                .key(7)
                .writable(["title"])
                .allow(SideEffect::new("DOC_LOG", "doc_id").inserts())
                .allow(SideEffect::new("tags", "doc").deletes().updates()),
            Policy::new("docs", "rowid")
                .keys([Value::Real(0.5), Value::Text("x".into())])
                .writable(["owner"]),
            Policy::new("docs", "nope").key(7).writable(["title"]),
            Policy::new("tags", "doc")
                .key(Value::Blob(b"7".to_vec()))
                .writable(["tag"]),
        ]
    }

    /// Every row change the judge does not flag is clean, and only those,
    /// over many generated changes.
    #[test]
    fn agrees_with_the_judge() {
        let tables = tables();
        let vals = values();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut seen = [0usize; 2];
        for policy in policies() {
            let rules = CleanRows::new(&policy, &tables);
            for _ in 0..20_000 {
                let t = next(tables.len());
                let width = tables[t].columns.len();
                let mut row = || -> Vec<ValueRef<'static>> {
                    (0..width).map(|_| vals[next(vals.len())]).collect()
                };
                let old = row();
                // an update usually changes few columns
                let mut new = old.clone();
                for _ in 0..next(3) {
                    new[next(width)] = vals[next(vals.len())];
                }
                let (o, n) = match next(4) {
                    0 => (None, Some(new)),
                    1 => (Some(old), None),
                    _ => (Some(old), Some(new)),
                };
                let cells = |r: &Option<Vec<ValueRef<'_>>>| {
                    r.as_ref()
                        .map(|r| r.iter().map(|&v| encode(v)).collect::<Vec<Cell>>())
                };
                let change = RowChange {
                    table: tables[t].name.clone(),
                    old: cells(&o),
                    new: cells(&n),
                };
                assert!(!changed_columns(&change, &tables[t]).is_empty() || o.is_some());
                let judged = policy.violations(&change, &tables[t]).is_empty();
                let clean = rules.clean(t, o.as_deref(), n.as_deref());
                assert_eq!(clean, judged, "{policy:?} {change:?}");
                seen[usize::from(clean)] += 1;
            }
        }
        // both answers were exercised
        assert!(seen[0] > 1000 && seen[1] > 1000, "{seen:?}");
    }
}

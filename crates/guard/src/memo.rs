//! Memo tables that spare the guard repeated work without changing any
//! verdict (the throughput benchmark's ideas that keep the guard exact):
//!
//! - the static view of a statement text, per template shape (shared, not
//!   copied, with the caller: a clone and a drop per statement were 2% of a
//!   clean input): the view is a
//!   pure function of (text, template, dialect, policy without its key
//!   values), so the table is cleared whenever the policy's tables, columns
//!   or side effects change;
//! - the shape of a template text;
//! - the authorizer trace of a prepared statement: SQLite authorizes at
//!   prepare time only, so a statement reused from rusqlite's statement cache
//!   gets the trace recorded when it was prepared. Denied statements never
//!   prepare, so they are never reused.
//!
//! Each table is bounded: it is emptied when it reaches [`CAPACITY`] entries,
//! and texts longer than [`MAX_KEY`] bytes are never kept (4096 megabyte-long
//! notes would otherwise be gigabytes held between inputs).
//!
//! Every statement looks its text up three times (view, trace, shape of its
//! template), so the tables hash with [`Fx`] (rustc's hash: a multiply per
//! eight bytes) rather than SipHash, and are read by borrowed text: the
//! lookups cost a clean input 2.3% of its instructions with SipHash and an
//! owned key per view lookup.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::static_check::{self, Dialect, StaticView};
use super::Policy;

/// Entries per table before it is emptied.
pub const CAPACITY: usize = 4096;
/// Longest statement text remembered.
pub const MAX_KEY: usize = 16 * 1024;

/// rustc's FxHash: not keyed (the tables are bounded, and a text that
/// collides costs a comparison, never a wrong answer), fast on short texts.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// One text's views, each with the template it was judged against.
type PerTemplate = Vec<(Option<String>, Arc<StaticView>)>;

#[derive(Default)]
pub(crate) struct Memo {
    /// The last policy without its key values (what the views depend on).
    policy: Option<Policy>,
    /// Per text, its views per template (a text is usually met under one).
    views: FxMap<String, PerTemplate>,
    /// Views held in `views`.
    view_count: usize,
    shapes: RefCell<FxMap<String, String>>,
    traces: FxMap<String, Vec<String>>,
}

/// Whether two policies agree on the parts the static layer reads
/// (everything but the key values). Compared field by field: formatting
/// them for a comparison cost a clean input 4.7% of its instructions.
pub(crate) fn same_static_part(a: &Policy, b: &Policy) -> bool {
    a.table == b.table
        && a.key_column == b.key_column
        && a.writable == b.writable
        && a.side_effects == b.side_effects
}

fn bounded<K, V, S>(map: &mut HashMap<K, V, S>) -> &mut HashMap<K, V, S> {
    if map.len() >= CAPACITY {
        map.clear();
    }
    map
}

impl Memo {
    /// Forgets the static views when the policy's static part changed.
    pub(crate) fn set_policy(&mut self, policy: &Policy) {
        if self
            .policy
            .as_ref()
            .is_some_and(|last| same_static_part(last, policy))
        {
            return;
        }
        self.views.clear();
        self.view_count = 0;
        self.policy = Some(Policy {
            keys: Vec::new(),
            ..policy.clone()
        });
    }

    /// Forgets everything (e.g. the dialect changed).
    pub(crate) fn clear(&mut self) {
        self.views.clear();
        self.view_count = 0;
        self.shapes.borrow_mut().clear();
        self.traces.clear();
    }

    pub(crate) fn view(
        &mut self,
        sql: &str,
        dialect: Dialect,
        policy: &Policy,
        template: Option<&str>,
    ) -> Arc<StaticView> {
        let known = self
            .views
            .get(sql)
            .and_then(|per| per.iter().find(|(t, _)| t.as_deref() == template));
        if let Some((_, v)) = known {
            return Arc::clone(v);
        }
        let v = Arc::new(static_check::analyze(sql, dialect, policy, template));
        if sql.len() <= MAX_KEY {
            if self.view_count >= CAPACITY {
                self.views.clear();
                self.view_count = 0;
            }
            let per = self.views.entry(sql.to_string()).or_default();
            per.push((template.map(str::to_string), Arc::clone(&v)));
            self.view_count += 1;
        }
        v
    }

    pub(crate) fn shape(&self, sql: &str, dialect: Dialect) -> String {
        if let Some(s) = self.shapes.borrow().get(sql) {
            return s.clone();
        }
        let s = static_check::shape(sql, dialect);
        if sql.len() <= MAX_KEY {
            bounded(&mut self.shapes.borrow_mut()).insert(sql.to_string(), s.clone());
        }
        s
    }

    /// The trace to report for a prepared statement: the one just recorded
    /// (and remembered), or, when the statement came from the cache and the
    /// authorizer did not run, the one recorded when it was prepared.
    pub(crate) fn trace(&mut self, sql: &str, recorded: Vec<String>) -> Vec<String> {
        if recorded.is_empty() {
            return self.traces.get(sql).cloned().unwrap_or_default();
        }
        if sql.len() <= MAX_KEY {
            bounded(&mut self.traces).insert(sql.to_string(), recorded.clone());
        }
        recorded
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, Value};

    /// One text under several templates keeps a view per template, each as
    /// the static layer computes it afresh.
    #[test]
    fn views_are_kept_per_text_and_template() {
        use super::{static_check, Memo};
        use crate::static_check::Dialect;
        let policy = crate::tests::policy7();
        let mut memo = Memo::default();
        let sql = "UPDATE appointments SET notes = 'x' WHERE id = 7";
        let templates = [
            None,
            Some("UPDATE appointments SET notes = 'y' WHERE id = 7"),
            Some("DELETE FROM appointments"),
        ];
        for _ in 0..2 {
            for t in templates {
                let fresh = static_check::analyze(sql, Dialect::Sqlite, &policy, t);
                let kept = memo.view(sql, Dialect::Sqlite, &policy, t);
                assert_eq!(format!("{kept:?}"), format!("{fresh:?}"), "{t:?}");
            }
        }
        assert_eq!(memo.view_count, 3);
    }

    /// A statement reused from the caches gets the same verdict, trace and
    /// shape as the first time, on target and off target alike.
    #[test]
    fn a_reused_statement_is_judged_exactly_like_a_fresh_one() {
        let mut g = crate::Guard::new(crate::tests::fixture(), crate::tests::policy7()).unwrap();
        let sql = "UPDATE appointments SET notes = ?1 WHERE id = ?2";
        let (_, v) = g
            .check(|g| {
                for (i, id) in [7, 8, 7, 8].into_iter().enumerate() {
                    let notes = Value::Text(format!("n{i}"));
                    g.execute(sql, &[notes, Value::Integer(id)]).unwrap();
                }
            })
            .unwrap();
        let s = &v.statements;
        assert!(!s[0].accesses.is_empty());
        assert_eq!(s[0].accesses, s[2].accesses);
        assert_eq!(s[1].accesses, s[3].accesses);
        assert!(s[0].findings.is_empty() && s[2].findings.is_empty());
        let cells = |i: usize| -> Vec<(String, String)> {
            let outside = s[i].findings.iter().flat_map(|f| &f.outside);
            outside
                .map(|c| (c.table.to_string(), c.column.to_string()))
                .collect()
        };
        assert_eq!(s[3].findings[0].kind, crate::Kind::WriteOutsideTarget);
        assert_eq!(cells(1), cells(3));
        assert!(cells(1).contains(&("appointments".to_string(), "notes".to_string())));
    }
}

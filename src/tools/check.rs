//! `rowguard check`: statements someone pastes (from a log, a review, another
//! database's query capture) run against a harness's fixture under the
//! policy of its example operation on one target row, as one input that is
//! rolled back. With templates, each statement's shape is compared with its
//! template's (the same statement with benign text); without, a write that
//! reads other rows through a subquery is `shape-changed`. The static layer
//! parses with the chosen dialect; the dynamic layer is embedded SQLite, or
//! a PostgreSQL server (`database`, its own fixture; the static layer then
//! parses PostgreSQL).

use serde::Serialize;

use crate::guard::postgres::PgOptions;
use crate::guard::{CellChange, Dialect, Kind, Policy, StatementCheck, Value, Verdict};
use crate::harness::domain::Domain;
use crate::harness::execute::{policy_of, Session};
use crate::harness::ops;
use crate::offer::harnesses;

/// What to check and how.
#[derive(Clone)]
pub struct CheckOptions {
    /// The harness whose fixture and policy are used.
    pub harness: &'static dyn Domain,
    /// The row the example operation targets (default: the example's own).
    pub target: Option<i64>,
    /// Template statements: the i-th applies to the i-th statement; a single
    /// one applies to all.
    pub templates: Vec<String>,
    pub dialect: Dialect,
    /// Check on this PostgreSQL server instead of embedded SQLite.
    pub database: Option<PgOptions>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            harness: harnesses()[0],
            target: None,
            templates: Vec::new(),
            dialect: Dialect::Sqlite,
            database: None,
        }
    }
}

/// The verdict on the checked statements, and its JSON form.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub verdict: &'static str,
    pub target: i64,
    /// What the checked statements may write (the text report says it).
    #[serde(skip)]
    pub policy: Policy,
    pub kinds: Vec<Kind>,
    pub outside: Vec<CellChange>,
    pub statements: Vec<StatementCheck>,
}

/// Runs `statements` (each through `execute_batch`) against a fresh fixture.
pub fn check(statements: &[String], opts: &CheckOptions) -> crate::Result<CheckReport> {
    if statements.is_empty() {
        return Err(crate::Error::Usage("no SQL statement to check".into()));
    }
    let mut session = Session::open(opts.harness, opts.database.as_ref())?;
    let mut op = opts.harness.example();
    let key = match policy_of(&mut session, &op)?.keys.first() {
        Some(Value::Integer(k)) => *k,
        _ => {
            return Err(crate::Error::Usage(format!(
                "harness `{}`: its example operation has no integer target key",
                opts.harness.name()
            )))
        }
    };
    let target = opts.target.unwrap_or(key);
    ops::replace_number(&mut op, key, target);
    let policy = policy_of(&mut session, &op)?;
    if !session.has_row(&policy.table, &policy.key_column, target)? {
        return Err(crate::Error::Usage(format!(
            "no row {} = {target} in {} of the fixture",
            policy.key_column, policy.table
        )));
    }
    if let Some(g) = session.guard() {
        g.set_dialect(opts.dialect);
    }
    let guard = session.backend();
    guard.set_policy(policy.clone());
    guard.begin_input()?;
    for (i, sql) in statements.iter().enumerate() {
        let template = opts.templates.get(i).or(match opts.templates.len() {
            1 => opts.templates.first(),
            _ => None,
        });
        let shapes = template.map(|t| vec![guard.shape_of(t)]);
        let with_templates = !opts.templates.is_empty();
        // Past the last of several templates: "no statement at this position".
        guard.set_templates(shapes.or_else(|| with_templates.then(Vec::new)));
        let _ = guard.as_db().execute_batch(sql);
    }
    guard.set_templates(None);
    Ok(report(target, policy, guard.end_input()?))
}

fn report(target: i64, policy: Policy, verdict: Verdict) -> CheckReport {
    CheckReport {
        verdict: if verdict.is_clean() {
            "clean"
        } else {
            "finding"
        },
        target,
        policy,
        kinds: verdict.kinds().into_iter().collect(),
        outside: verdict.outside().cloned().collect(),
        statements: verdict.statements,
    }
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str, templates: &[&str]) -> CheckReport {
        let opts = CheckOptions {
            templates: templates.iter().map(|t| t.to_string()).collect(),
            ..CheckOptions::default()
        };
        check(&[sql.to_string()], &opts).unwrap()
    }

    #[test]
    fn a_target_write_is_clean_and_a_tautology_is_not() {
        assert!(run("UPDATE appointments SET notes = 'x' WHERE id = 7", &[]).is_clean());
        let r = run(
            "UPDATE appointments SET notes = 'x' WHERE id = 7 OR 1=1",
            &[],
        );
        assert_eq!(r.kinds, vec![Kind::WriteOutsideTarget]);
        assert_eq!(
            r.outside
                .iter()
                .filter(|c| &*c.table == "appointments")
                .count(),
            239
        );
    }

    #[test]
    fn templates_compare_shapes() {
        let t = "UPDATE appointments SET notes = 'aaaa' WHERE id = 7";
        assert!(run("UPDATE appointments SET notes = 'bbbb' WHERE id = 7", &[t]).is_clean());
        let r = run(
            "UPDATE appointments SET notes = '' || (SELECT 1) || '' WHERE id = 7",
            &[t],
        );
        assert_eq!(r.kinds, vec![Kind::ShapeChanged]);
    }

    #[test]
    fn an_unknown_target_is_a_usage_error() {
        let opts = CheckOptions {
            target: Some(0),
            ..CheckOptions::default()
        };
        assert!(matches!(
            check(&["SELECT 1".into()], &opts),
            Err(crate::Error::Usage(_))
        ));
    }
}

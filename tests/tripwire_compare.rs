//! The tripwire beside the runtime guards that exist (issue 27, item 3), on
//! SQLite: every planted pipeline's reproducers (`corpus/regressions/`) and
//! the `safe` pipeline over the seeds (`corpus/pipeline/`, series
//! reschedules included), and two sharpened forms of the incident's notes
//! on `legacy` (`' WHERE id = 7 OR 1=1 --`, `' WHERE id IN (7, 8) --`),
//! each op judged by four checks:
//!
//! - `tripwire`: the op really run through [`Tripwire`] on a fresh fixture;
//!   stopped = rolled back with a verdict;
//! - `key-in-where` (MySQL `sql_safe_updates`, as documented: an UPDATE or
//!   DELETE is refused unless its WHERE names a key column or it has a
//!   LIMIT);
//! - `where-present` (`pg-safeupdate`: an UPDATE or DELETE without WHERE is
//!   refused);
//! - `max-rows` (Vitess-style: a statement changing more than N rows is
//!   refused; N = the most rows any legitimate statement of the run changes,
//!   the tightest global number that blocks no legitimate write; rows
//!   counted by the guard, triggers and cascades included).
//!
//! The three re-implementations read the text SQLite compiles (up to a NUL),
//! with literals and comments blanked, statement by statement. An op counts
//! as stopped by a statement check when any statement it ran is refused (the
//! application is assumed to roll the op back on the error: the best case
//! for those checks). Run with `--nocapture` to print the table in BENCHMARKS.md.

use std::collections::BTreeMap;

use rowguard::guard::static_check::compiled_text;
use rowguard::guard::tripwire::{TripError, Tripwire};
use rowguard::guard::{Kind, StatementCheck};
use rowguard::harness::appointments::appointments_policy;
use rowguard::harness::execute::{execute, OpRun, Session};
use rowguard::harness::pipeline;
use rowguard::harness::scenario::{decode_file, Scenario};
use rowguard::harness::schema;

use crate::util::{files_under, reschedule7, root};

/// Key columns (primary keys and indexed columns) of the fixture's tables.
const KEYS: [&str; 4] = ["id", "series_id", "appointment_id", "send_at"];

/// `sql` with string literals, quoted identifiers' contents and comments
/// blanked, upper-cased, split into statements at `;`.
fn statements(sql: &str) -> Vec<String> {
    let (text, _) = compiled_text(sql);
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str(" 'L' ");
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                out.push(' ');
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            c => {
                out.push(c.to_ascii_uppercase() as char);
                i += 1;
            }
        }
    }
    out.split(';').map(str::to_string).collect()
}

fn words(stmt: &str) -> Vec<&str> {
    stmt.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

fn is_write(w: &[&str]) -> bool {
    // Skips a leading WITH ... clause's words only as far as the verb.
    w.iter()
        .find(|x| matches!(**x, "UPDATE" | "DELETE" | "INSERT" | "REPLACE" | "SELECT"))
        .is_some_and(|x| matches!(*x, "UPDATE" | "DELETE"))
}

/// `pg-safeupdate`: an UPDATE or DELETE without WHERE is refused.
fn where_present_refuses(sql: &str) -> bool {
    statements(sql).iter().any(|s| {
        let w = words(s);
        is_write(&w) && !w.contains(&"WHERE")
    })
}

/// `sql_safe_updates`: an UPDATE or DELETE is refused unless its WHERE names
/// a key column or it has a LIMIT.
fn key_in_where_refuses(sql: &str) -> bool {
    statements(sql).iter().any(|s| {
        let w = words(s);
        if !is_write(&w) || w.contains(&"LIMIT") {
            return false;
        }
        match w.iter().position(|x| *x == "WHERE") {
            None => true,
            Some(p) => !w[p..]
                .iter()
                .any(|x| KEYS.iter().any(|k| k.eq_ignore_ascii_case(x))),
        }
    })
}

fn refused_by(op: &OpRun, check: impl Fn(&StatementCheck) -> bool) -> bool {
    op.statements.iter().any(check)
}

fn violating(op: &OpRun) -> bool {
    op.statements.iter().any(|s| {
        s.findings
            .iter()
            .any(|f| f.kind == Kind::WriteOutsideTarget)
    })
}

/// The ops of `scenario` through the tripwire on a fresh fixture: which
/// were rolled back (tripped, or failed on their own: `Some(false)`).
fn tripwire_stops(pipeline: &dyn pipeline::Pipeline, runs: &[OpRun]) -> Vec<Option<bool>> {
    let mut tw = Tripwire::new(schema::open(schema::DEFAULT_SIZE).unwrap()).unwrap();
    runs.iter()
        .map(|r| {
            match tw.run(&appointments_policy(&r.targets), |db| {
                pipeline.run(&r.op, db)
            }) {
                Ok(()) => None,
                Err(TripError::Failed { .. }) => Some(false),
                Err(TripError::Tripped { .. }) => Some(true),
                Err(e) => panic!("{e}"),
            }
        })
        .collect()
}

#[derive(Default)]
struct Row {
    ops: usize,
    stopped: [usize; 4],
}

#[test]
fn the_tripwire_beside_key_where_and_row_count_checks() {
    let mut session = Session::new().unwrap();
    // (pipeline, legitimate?, the guard's run of the op, the tripwire's answer)
    let mut runs: Vec<(String, bool, OpRun, Option<bool>)> = Vec::new();
    let mut add_ops = |name: &str, label: &str, legit: bool, scenario: Scenario| {
        let p = pipeline::by_name(name).unwrap();
        let e = execute(&mut session, p, &scenario).unwrap();
        let stops = tripwire_stops(p, &e.ops);
        for (op, stopped) in e.ops.into_iter().zip(stops) {
            runs.push((label.to_string(), legit, op, stopped));
        }
    };
    let mut add = |name: &str, legit: bool, path: &std::path::Path| {
        let decoded = decode_file(
            rowguard::harness::appointments::harness(),
            &std::fs::read(path).unwrap(),
        )
        .unwrap();
        add_ops(name, name, legit, decoded.scenario);
    };
    for seed in files_under(&root().join("corpus/pipeline")) {
        add("safe", true, &seed);
    }
    let mut skipped = Vec::new();
    for p in pipeline::all().iter().filter(|p| p.name() != "safe") {
        if !p.databases().is_empty() && !p.databases().contains(&"sqlite") {
            skipped.push(p.name());
            continue;
        }
        for r in files_under(&root().join("corpus/regressions").join(p.name())) {
            add(p.name(), false, &r);
        }
    }
    // The incident's wording sharpened against the key and WHERE rules:
    // a key in the WHERE that an OR makes moot, and a second row by key.
    for notes in [
        "moved' WHERE id = 7 OR 1=1 --",
        "moved' WHERE id IN (7, 8) --",
    ] {
        add_ops(
            "legacy",
            "legacy, crafted",
            false,
            Scenario::of(vec![reschedule7(notes)]),
        );
    }
    // The tightest global row limit that blocks no legitimate statement.
    let max_rows = runs
        .iter()
        .filter(|r| r.1)
        .flat_map(|r| r.2.statements.iter().map(|s| s.changed_rows))
        .max()
        .unwrap_or(1);
    let mut table: BTreeMap<(bool, String), Row> = BTreeMap::new();
    for (name, legit, op, tripped) in &runs {
        // Legitimate rows count every op; planted rows count the findings.
        if !legit && !violating(op) {
            continue;
        }
        let row = table.entry((*legit, name.clone())).or_default();
        row.ops += 1;
        // A violating op that fails after its bad write is rolled back too.
        let stopped = match tripped {
            Some(true) => true,
            Some(false) => !legit,
            None => false,
        };
        let verdicts = [
            stopped,
            refused_by(op, |s| key_in_where_refuses(&s.sql)),
            refused_by(op, |s| where_present_refuses(&s.sql)),
            refused_by(op, |s| s.changed_rows > max_rows),
        ];
        for (n, v) in row.stopped.iter_mut().zip(verdicts) {
            *n += usize::from(v);
        }
    }
    println!("max-rows limit N = {max_rows} (largest legitimate statement); skipped on SQLite: {skipped:?}");
    println!("| pipeline | ops | tripwire | key-in-where | where-present | max-rows |");
    println!("|---|---|---|---|---|---|");
    for ((legit, name), row) in &table {
        let what = if *legit {
            "blocked (legit ops)"
        } else {
            "stopped (findings)"
        };
        let [a, b, c, d] = row.stopped;
        println!("| {name} ({what}) | {} | {a} | {b} | {c} | {d} |", row.ops);
    }
    // The tripwire stops every finding and blocks no legitimate op.
    for ((legit, name), row) in &table {
        let expected = if *legit { 0 } else { row.ops };
        assert_eq!(row.stopped[0], expected, "tripwire on {name}");
    }
    assert!(table.keys().any(|k| !k.0), "no planted finding replayed");
    assert!(
        runs.iter().any(|r| r.1 && r.2.targets.len() > 1),
        "no series reschedule among the legitimate ops"
    );
    // The baselines' rules, one line each.
    assert!(where_present_refuses("UPDATE t SET a = 1"));
    assert!(!where_present_refuses(
        "UPDATE t SET a = 'x; WHERE' WHERE id = 7 OR 1=1"
    ));
    assert!(!key_in_where_refuses(
        "UPDATE t SET a = 1 WHERE id = 7 OR 1=1"
    ));
    assert!(key_in_where_refuses("DELETE FROM t WHERE notes = 'id'"));
    assert!(key_in_where_refuses(
        "UPDATE t SET a = 1 WHERE id = 7; UPDATE t SET a = 2 -- WHERE id"
    ));
}

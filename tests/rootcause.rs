//! Issue 25: findings grouped by root cause. Each planted pipeline reports
//! exactly the root causes it has (written down here), `safe` none; two
//! seeds give the same signatures; each root cause's shortest reproducer
//! keeps its signature; a team's own harness gets root causes too.
//!
//! The runs are bounded by executions from the pipeline's committed
//! reproducer (no wall time), with minimization off except where tested.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rowguard::harness::pipeline::by_name;
use rowguard::tools::engine::{self, Config, Summary};

use crate::util::root;

/// Executions per run: enough for every root cause below to be found from
/// the committed reproducer on seeds 1 and 2 (the last comes within ~900).
const RUNS: u64 = 1_500;

/// The root causes each pipeline has, by the signature's definition (op
/// kind, text field, template statement; or op kind, template statement
/// and tables for a logic slip). The string-built pipelines paste two
/// fields (notes, reason) into the statements of three op kinds, and the
/// series reschedule has two templates (`WHERE series_id = ?` for a series,
/// `WHERE id = ?` for a one-off): edit-notes/notes, reschedule/{notes,
/// reason}, reschedule-series x {series, one-off} x {notes, reason} = 7.
/// `truncate` has the same 7 (any field's doubled quote cut at 64 leaves
/// its literal: a write when the reason follows, else a changed shape),
/// but a cut quote is rare: a bounded run finds the 3 common ones (notes of
/// reschedule and of both series templates) and never one legacy lacks.
/// `unicode` has legacy's 7 too (a smart quote folds to `'` in any field).
/// `series` is one logic slip. `wording` is legacy behind one word: the
/// word sits in the notes, so only escapes with it count.
/// `truncate`'s one-off series escape needs a 64-character cut on a
/// one-off target: it takes longer to find (a third number: its runs).
const EXPECTED: [(&str, usize, u64); 7] = [
    ("safe", 0, RUNS),
    ("legacy", 7, RUNS),
    ("stacked", 7, RUNS),
    ("truncate", 7, 4 * RUNS),
    ("blacklist", 7, RUNS),
    ("unicode", 7, 2 * RUNS),
    ("series", 1, RUNS),
];

fn fuzz(pipeline: &str, seed: u64, runs: u64) -> Summary {
    fuzz_with(pipeline, seed, runs, false)
}

/// [`fuzz`], with the words harvested from the pipelines' source when
/// `words` (what the gate gives a run by default).
fn fuzz_with(pipeline: &str, seed: u64, runs: u64, words: bool) -> Summary {
    let p = by_name(pipeline).unwrap();
    let mut cfg = Config::new(p);
    if words {
        cfg.dictionary =
            rowguard::tools::dict::harvest_sources(&[root().join("src/harness/pipeline")])
                .unwrap()
                .dictionary;
    }
    cfg.seed = seed;
    cfg.runs = Some(runs);
    let minimize = Duration::ZERO;
    cfg.minimize = minimize;
    let regressions = root().join("corpus/regressions").join(pipeline);
    if let Ok(dir) = std::fs::read_dir(regressions) {
        for e in dir.flatten() {
            cfg.seeds.push(std::fs::read(e.path()).unwrap());
        }
    }
    engine::run(&cfg, &AtomicBool::new(false)).unwrap()
}

fn ids(s: &Summary) -> BTreeSet<String> {
    s.root_causes.iter().map(|c| c.id.clone()).collect()
}

fn lines(s: &Summary) -> Vec<String> {
    s.root_causes.iter().map(|c| c.signature.line()).collect()
}

#[test]
fn each_planted_pipeline_has_its_root_causes_on_two_seeds() {
    for (pipeline, expected, runs) in EXPECTED {
        let one = fuzz(pipeline, 1, runs);
        let two = fuzz(pipeline, 2, runs);
        // a rare escape (the cut quote, a smart quote in a series reason)
        // may need more than a debug test's budget: every one found is one
        // of legacy's, both seeds find most, none is spurious
        if matches!(pipeline, "truncate" | "unicode") {
            let legacy = ids(&fuzz("legacy", 1, RUNS));
            for s in [&one, &two] {
                assert!(
                    ids(s).is_subset(&legacy) && s.root_causes.len() >= 3,
                    "{:#?}",
                    lines(s)
                );
                assert!(s.root_causes.len() <= expected);
            }
            continue;
        }
        assert_eq!(
            one.root_causes.len(),
            expected,
            "{pipeline}: {:#?}",
            lines(&one)
        );
        assert_eq!(
            ids(&one),
            ids(&two),
            "{pipeline}: {:#?} vs {:#?}",
            lines(&one),
            lines(&two)
        );
        // every finding belongs to one of them, and the counts add up
        let variants: usize = one.root_causes.iter().map(|c| c.variants).sum();
        assert_eq!(variants, one.findings.len(), "{pipeline}");
        assert!(one.findings.iter().all(|f| f
            .root_cause
            .as_ref()
            .is_some_and(|id| ids(&one).contains(id))));
    }
}

/// Text one op stored and a later op pasted (`onhold`): one root cause per
/// op kind that pastes it, named by the field that stored it, the same
/// whatever the payload or the op that stored it (before, each payload's statement was a "logic
/// slip" of its own: 39 root causes in 60 s).
#[test]
fn stored_text_is_one_root_cause_per_pasting_op() {
    use rowguard::tools::rootcause::Cause;
    let one = fuzz("onhold", 1, RUNS);
    let two = fuzz("onhold", 2, RUNS);
    for s in [&one, &two] {
        assert!((1..=3).contains(&s.root_causes.len()), "{:#?}", lines(s));
        for c in &s.root_causes {
            assert_eq!(c.signature.cause, Cause::StoredText, "{:#?}", lines(s));
            assert!(
                c.signature
                    .field
                    .as_deref()
                    .is_some_and(|f| f.ends_with("/notes")),
                "{:#?}",
                lines(s)
            );
        }
    }
    // the committed reproducer's (edit-notes stores, reschedule pastes) is on both seeds
    let common: BTreeSet<_> = ids(&one).intersection(&ids(&two)).cloned().collect();
    assert!(
        !common.is_empty(),
        "{:#?} vs {:#?}",
        lines(&one),
        lines(&two)
    );
}

/// The word-gated pipelines (the word from the source, from the fixture,
/// or built at run time) are string-built behind their gate: every root
/// cause is text in the notes (where the word goes), each one a place
/// legacy's text also leaves its literal or the gated path's own
/// statement, and `linked` (parameterised; a reference writes another row)
/// is the one statement its template does not make.
#[test]
fn word_gated_pipelines_have_text_root_causes_in_the_notes() {
    use rowguard::tools::rootcause::Cause;
    for pipeline in ["wording", "flagged", "roster", "linked"] {
        let s = fuzz_with(pipeline, 1, RUNS, true);
        assert!(!s.root_causes.is_empty(), "{pipeline}");
        for c in &s.root_causes {
            assert_eq!(
                c.signature.cause,
                Cause::Text,
                "{pipeline}: {:#?}",
                lines(&s)
            );
            assert!(
                c.signature
                    .field
                    .as_deref()
                    .is_some_and(|f| f.starts_with("/notes")),
                "{pipeline}: {:#?}",
                lines(&s)
            );
        }
        if pipeline == "linked" {
            assert_eq!(s.root_causes.len(), 1, "{:#?}", lines(&s));
        }
    }
}

#[test]
fn the_logic_slip_names_its_template_and_tables() {
    let s = fuzz("series", 1, RUNS);
    let c = &s.root_causes[0];
    assert_eq!(c.signature.cause, rowguard::tools::rootcause::Cause::Logic);
    assert_eq!(c.signature.field, None);
    assert!(c.signature.statement.contains("IS (SELECT"), "{c:#?}");
    assert!(
        c.signature.tables.contains(&"appointments".to_string()),
        "{c:#?}"
    );
}

#[test]
fn the_shortest_reproducer_keeps_the_signature_and_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let p = by_name("truncate").unwrap();
    let mut cfg = Config::new(p);
    cfg.seed = 1;
    cfg.runs = Some(300);
    cfg.artifacts = Some(dir.path().to_path_buf());
    cfg.minimize = Duration::from_secs(60);
    cfg.minimize_each = Duration::from_secs(20);
    let s = engine::run(&cfg, &AtomicBool::new(false)).unwrap();
    assert!(!s.root_causes.is_empty());
    let mut session = rowguard::harness::execute::Session::new().unwrap();
    for c in &s.root_causes {
        assert!(c.minimized, "{c:#?}");
        let path = c.artifact.as_ref().unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!("root-{}-", c.id)), "{name}");
        let decoded =
            rowguard::harness::scenario::decode(p.harness(), &std::fs::read(path).unwrap());
        let e = rowguard::harness::execute::execute(&mut session, p, &decoded.scenario).unwrap();
        assert!(
            rowguard::tools::rootcause::makes(&mut session, p, &e, &cfg.kinds, &c.signature)
                .unwrap()
        );
        // shorter than (or as short as) the input it started from
        assert!(decoded.scenario.to_json().len() <= c.scenario.to_json().len() + 1);
    }
}

#[test]
fn fuzz_json_and_text_lead_with_root_causes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args([
            "fuzz",
            "--pipeline",
            "legacy",
            "--runs",
            "200",
            "--seed",
            "1",
            "--format",
            "json",
            "--minimize-time",
            "2",
        ])
        .arg("--artifacts")
        .arg(dir.path())
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let causes = v["root_causes"].as_array().unwrap();
    assert!(!causes.is_empty());
    for c in causes {
        assert_eq!(c["id"].as_str().unwrap().len(), 16);
        assert!(c["signature"]["op"].is_string() && c["signature"]["statement"].is_string());
        assert!(c["kinds"].as_array().is_some_and(|k| !k.is_empty()));
        assert!(c["variants"].as_u64().unwrap() >= 1);
        assert!(c["repro"].as_str().unwrap().contains(" repro "));
    }
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["root_cause"].is_string()));
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args([
            "fuzz",
            "--pipeline",
            "legacy",
            "--runs",
            "200",
            "--seed",
            "1",
            "--minimize-time",
            "0",
        ])
        .arg("--artifacts")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].contains("root cause(s)"), "{text}");
    assert!(lines[2].starts_with("root cause "), "{text}");
}

#[test]
fn gate_junit_and_sarif_lead_with_root_causes() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, sarif) = (dir.path().join("g.xml"), dir.path().join("g.sarif"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(["gate", "--pipeline", "legacy", "--time", "2", "--seed", "1"])
        .arg("--corpus")
        .arg(root().join("corpus"))
        .arg("--artifacts")
        .arg(dir.path().join("a"))
        .arg("--junit")
        .arg(&junit)
        .arg("--sarif")
        .arg(&sarif)
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let fuzz = &xml[xml.find("name=\"fuzz\"").unwrap()..];
    let first = fuzz.find("<testcase").unwrap();
    assert!(
        fuzz[first..].starts_with("<testcase name=\"root cause "),
        "{fuzz}"
    );
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let fingerprinted: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["partialFingerprints"]["rowguardRootCause/v1"].is_string())
        .collect();
    assert!(!fingerprinted.is_empty());
    assert!(results[0]["partialFingerprints"]["rowguardRootCause/v1"].is_string());
    let ids: BTreeSet<&str> = fingerprinted
        .iter()
        .map(|r| {
            r["partialFingerprints"]["rowguardRootCause/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), fingerprinted.len(), "one result per root cause");
}

/// The same code path on PostgreSQL: `legacy` has the same signatures as
/// on SQLite (shapes are taken in one dialect). Skipped without a server
/// outside CI, as every PostgreSQL test.
#[test]
fn postgres_gives_the_same_signatures_as_sqlite() {
    let Some(server) = crate::postgres::server() else {
        return;
    };
    let p = by_name("legacy").unwrap();
    let mut cfg = Config::new(p);
    cfg.seed = 1;
    cfg.runs = Some(RUNS);
    cfg.minimize = Duration::ZERO;
    cfg.seeds.push(
        std::fs::read(root().join("corpus/regressions/legacy/incident-quote-comment.json"))
            .unwrap(),
    );
    let sqlite = engine::run(&cfg, &AtomicBool::new(false)).unwrap();
    cfg.database = Some(server);
    let postgres = engine::run(&cfg, &AtomicBool::new(false)).unwrap();
    assert!(!postgres.root_causes.is_empty());
    assert!(
        ids(&postgres).is_subset(&ids(&sqlite)),
        "{:#?} vs {:#?}",
        lines(&postgres),
        lines(&sqlite)
    );
    assert!(ids(&postgres).len() >= 3, "{:#?}", lines(&postgres));
}

//! The developer and CI workflow around the engine: `minimize` shrinks an
//! input and keeps its kind; the gate passes on the project's corpus, fails
//! when a reproducer is no longer a finding on its pipeline, errors (fails
//! closed) on what it cannot check; its JUnit and SARIF have the structure
//! CI systems read.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rowguard::guard::Kind;
use rowguard::harness::pipeline::Op;
use rowguard::harness::scenario::{decode_file, Reproducer, Scenario};
use rowguard::tools::gate::{self, GateConfig, GateReport, Outcome};
use rowguard::tools::minimize;
use rowguard::{harness::choice, harness::execute, harness::pipeline, report};

use crate::util::root;

#[test]
fn minimize_keeps_the_kind_and_shrinks() {
    let noisy = Scenario::of(vec![
        Op::EditNotes {
            id: 12,
            notes: "harmless note".into(),
        },
        Op::Reschedule {
            id: 40,
            day: 17,
            slot: 9,
            notes: "call back Tuesday é’ re: invoice 42'-- and more text".into(),
            reason: "the client phoned in to move it".into(),
        },
        Op::EditNotes {
            id: 7,
            notes: "x".repeat(50),
        },
    ]);
    let legacy = pipeline::by_name("legacy").unwrap();
    let mut session = execute::Session::new().unwrap();
    let min = minimize::minimize(&mut session, legacy, &noisy, Kind::WriteOutsideTarget).unwrap();
    let e = execute::execute(&mut session, legacy, &min.scenario).unwrap();
    assert!(
        e.kinds().contains(&Kind::WriteOutsideTarget),
        "{}",
        report::text(&e)
    );
    assert_eq!(min.scenario.ops.len(), 1, "{:?}", min.scenario);
    let text: usize = rowguard::harness::ops::texts(legacy.harness(), &min.scenario.ops[0])
        .iter()
        .map(|t| t.len())
        .sum();
    assert!(text <= 4, "texts not shortened: {:?}", min.scenario);
    let json = |s: &Scenario| Reproducer::new(s, legacy, vec![]).to_json().len();
    assert!(json(&min.scenario) < json(&noisy));
    // a clean input has nothing to keep
    let clean = Scenario::of(vec![noisy.ops[0].clone()]);
    assert!(minimize::minimize(&mut session, legacy, &clean, Kind::WriteOutsideTarget).is_err());
}

fn gate_on(corpus: &Path) -> GateReport {
    let artifacts = tempfile::tempdir().unwrap();
    let cfg = GateConfig {
        harness: rowguard::harness::appointments::harness(),
        pipeline: None,
        corpus: corpus.to_path_buf(),
        time: Duration::from_secs(3600),
        runs: Some(40),
        seed: 1,
        jobs: 1,
        artifacts: Some(artifacts.path().to_path_buf()),
        database: None,
        // the gate's default: the project's own pipeline code
        dictionary: rowguard::tools::dict::harvest_sources(&[
            root().join("src/appointments/pipeline")
        ])
        .unwrap()
        .dictionary,
    };
    gate::run(&cfg, &AtomicBool::new(false)).unwrap()
}

/// A copy of the project's corpus in a temp folder.
fn corpus_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("corpus");
    for f in crate::util::files_under(&src) {
        let to = dir.path().join(f.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    dir
}

#[test]
fn the_gate_passes_on_the_project_corpus() {
    let r = gate_on(&root().join("corpus"));
    let files = crate::util::files_under(&root().join("corpus")).len();
    assert_eq!(
        r.cases.len(),
        files + 1,
        "one case per file and one for the fuzz run"
    );
    assert_eq!(r.exit_code(), 0, "{:#?}", r.cases);
    assert_eq!(r.fuzz.as_ref().unwrap().execs, 40);
}

#[test]
fn the_gate_fails_when_a_reproducer_is_clean_on_its_pipeline() {
    let dir = corpus_copy();
    let path = dir
        .path()
        .join("regressions/legacy/incident-quote-comment.json");
    let defused = std::fs::read_to_string(&path)
        .unwrap()
        .replace("moved per phone call'--", "moved per phone call");
    std::fs::write(&path, defused).unwrap();
    let r = gate_on(dir.path());
    assert_eq!(r.exit_code(), 1, "{:#?}", r.cases);
    let failed: Vec<_> = r
        .cases
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(issues) => Some((c.name.clone(), issues.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(
        failed[0].0,
        "regressions/legacy/incident-quote-comment.json"
    );
    assert_eq!(failed[0].1[0].kind, Kind::WriteOutsideTarget);

    let xml = report::junit::junit(&r).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites.len(), 2);
    assert_eq!(parsed.tests, r.cases.len());
    assert_eq!(parsed.failures, 1);
    assert!(
        xml.contains("<testsuites") && xml.contains("<failure"),
        "{xml}"
    );

    let log = report::sarif::sarif(&r);
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rowguard");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, Kind::ALL.map(Kind::as_str).to_vec());
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "write-outside-target");
    assert_eq!(result["level"], "error");
    assert!(result["message"]["text"]
        .as_str()
        .unwrap()
        .contains("no longer makes"));
    let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.ends_with("regressions/legacy/incident-quote-comment.json"),
        "{uri}"
    );
    // the log reads back as the schema-generated SARIF types, and is valid against the schema
    let back: serde_sarif::sarif::Sarif = serde_json::from_value(log.clone()).unwrap();
    assert_eq!(back.runs.len(), 1);
    assert_valid_sarif(&log);
}

/// Validates against the OASIS SARIF 2.1.0 JSON schema (`tests/data/`, as
/// shipped in the `serde-sarif` crate).
#[track_caller]
fn assert_valid_sarif(log: &serde_json::Value) {
    let schema = root().join("tests/data/sarif-schema-2.1.0.json");
    let mut schemas = boon::Schemas::new();
    let index = boon::Compiler::new()
        .compile(schema.to_str().unwrap(), &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(log, index) {
        panic!("SARIF log is not valid against the 2.1.0 schema: {e:#}\n{log:#}");
    }
    let mut broken = log.clone();
    broken["version"] = "2.0.0".into();
    assert!(
        schemas.validate(&broken, index).is_err(),
        "the schema check can fail"
    );
}

#[test]
fn the_gate_fails_closed_on_what_it_cannot_check() {
    let dir = corpus_copy();
    std::fs::create_dir_all(dir.path().join("regressions/no-such-pipeline")).unwrap();
    std::fs::copy(
        root().join("corpus/regressions/legacy/incident-quote-comment.json"),
        dir.path().join("regressions/no-such-pipeline/x.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("pipeline/empty"), b"").unwrap();
    let r = gate_on(dir.path());
    assert_eq!(r.exit_code(), 2, "{:#?}", r.cases);
    let errors = r
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Error(_)))
        .count();
    assert_eq!(errors, 2);
    let log = report::sarif::sarif(&r);
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}

#[test]
fn a_minimized_reproducer_replays_through_decode_file() {
    let bytes = std::fs::read(root().join("corpus/regressions/legacy/incident-quote-comment.json"))
        .unwrap();
    let decoded = decode_file(rowguard::harness::appointments::harness(), &bytes).unwrap();
    let legacy =
        choice::choose_pipeline(rowguard::harness::appointments::harness(), None, &decoded)
            .unwrap();
    let mut session = execute::Session::new().unwrap();
    let min = minimize::minimize(
        &mut session,
        legacy,
        &decoded.scenario,
        Kind::WriteOutsideTarget,
    )
    .unwrap();
    let encode = |s: &Scenario| {
        Reproducer::new(s, legacy, vec![rowguard::guard::Kind::WriteOutsideTarget]).to_json()
    };
    let json = encode(&min.scenario);
    // the same encoding of the input before and after
    assert!(json.len() < encode(&decoded.scenario).len());
    let again = decode_file(rowguard::harness::appointments::harness(), json.as_bytes()).unwrap();
    assert_eq!(again.scenario, min.scenario);
    let e = execute::execute(&mut session, legacy, &again.scenario).unwrap();
    assert!(e.kinds().contains(&Kind::WriteOutsideTarget));
}

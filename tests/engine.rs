//! The built-in engine through its library API, bounded by `runs` (never by
//! time): runs repeat exactly, the planted `legacy` pipeline is found, `safe`
//! stays clean, and an engine artifact replays to the same kind through the
//! one decode path.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use rowguard::guard::Kind;
use rowguard::harness::scenario::decode_file;
use rowguard::tools::engine::{self, Config, Found, Summary};
use rowguard::{harness::choice, harness::execute, harness::pipeline, report};

fn config(pipeline_name: &str, seed: u64, runs: u64) -> Config {
    let mut cfg = Config::new(pipeline::by_name(pipeline_name).unwrap());
    cfg.seed = seed;
    cfg.runs = Some(runs);
    cfg
}

fn run(cfg: &Config) -> Summary {
    engine::run(cfg, &AtomicBool::new(false)).unwrap()
}

/// A finding without its clock reading.
fn timeless(f: &Found) -> (Kind, String, u64, u64, Option<String>) {
    (
        f.kind,
        f.shape.clone(),
        f.execs,
        f.count,
        f.artifact
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
    )
}

#[test]
fn same_seed_and_runs_with_one_job_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("legacy", 7, 150);
    cfg.artifacts = Some(dir.path().join("a"));
    let first = run(&cfg);
    cfg.artifacts = Some(dir.path().join("b"));
    let second = run(&cfg);
    assert!(!first.findings.is_empty(), "legacy should give findings");
    let keys: std::collections::HashSet<_> = first
        .findings
        .iter()
        .map(|f| (f.kind, f.shape.clone()))
        .collect();
    assert_eq!(
        keys.len(),
        first.findings.len(),
        "one finding per kind + shape"
    );
    assert!(
        first.findings.iter().any(|f| f.count > 1),
        "repeats are counted, not reported again"
    );
    let a: Vec<_> = first.findings.iter().map(timeless).collect();
    let b: Vec<_> = second.findings.iter().map(timeless).collect();
    assert_eq!(a, b);
    assert_eq!(
        (first.execs, first.shapes, first.corpus),
        (second.execs, second.shapes, second.corpus)
    );
    let other_seed = run(&config("legacy", 8, 150));
    assert_ne!(
        a,
        other_seed.findings.iter().map(timeless).collect::<Vec<_>>(),
        "the seed should matter"
    );
}

#[test]
fn legacy_is_found_by_write_outside_target_within_bounded_runs() {
    for seed in 1..=3 {
        for feedback in [true, false] {
            let mut cfg = config("legacy", seed, 400);
            cfg.kinds = BTreeSet::from([Kind::WriteOutsideTarget]);
            cfg.stop_on_first = true;
            cfg.feedback = feedback;
            let s = run(&cfg);
            // the run ends with the first input that makes a finding; every
            // distinct finding of that one input is kept
            assert!(!s.findings.is_empty(), "seed {seed}, feedback {feedback}");
            for f in &s.findings {
                assert_eq!(f.kind, Kind::WriteOutsideTarget);
                assert!(f.execs <= 400 && s.execs == f.execs, "{s:?}");
            }
            if !feedback {
                assert_eq!(s.corpus, 0, "plain random generation keeps nothing");
            }
        }
    }
}

#[test]
fn safe_stays_clean_for_bounded_runs_counting_every_kind() {
    let mut cfg = config("safe", 3, 400);
    cfg.kinds = Kind::ALL.into_iter().collect();
    cfg.seeds = crate::util::files_under(&crate::util::root().join("corpus"))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let s = run(&cfg);
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
    assert_eq!(s.execs, 400);
    assert!(
        s.shapes > 3,
        "safe makes several statement shapes: {}",
        s.shapes
    );
    assert!(
        s.corpus > 0,
        "feedback keeps inputs that show something new"
    );
}

#[test]
fn an_engine_artifact_replays_to_the_same_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("legacy", 1, 300);
    cfg.artifacts = Some(dir.path().to_path_buf());
    let s = run(&cfg);
    assert!(!s.findings.is_empty());
    for f in &s.findings {
        let path = f.artifact.as_ref().expect("artifact written");
        let bytes = std::fs::read(path).unwrap();
        let decoded = decode_file(rowguard::harness::appointments::harness(), &bytes).unwrap();
        assert_eq!(decoded.expect, vec![f.kind]);
        let p = choice::choose_pipeline(rowguard::harness::appointments::harness(), None, &decoded)
            .unwrap();
        assert_eq!(p.name(), "legacy");
        let mut session = execute::Session::new().unwrap();
        let e = execute::execute(&mut session, p, &decoded.scenario).unwrap();
        assert!(
            e.kinds().contains(&f.kind),
            "{} does not replay to {}:\n{}",
            path.display(),
            f.kind,
            report::text(&e)
        );
    }
    // nothing but finished artifacts in the folder (no temp files left behind)
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".tmp"), "{name}");
    }
}

#[test]
fn a_corpus_folder_is_read_and_grown() {
    let dir = tempfile::tempdir().unwrap();
    let seed = crate::util::root().join("corpus/pipeline/obrien.json");
    std::fs::copy(&seed, dir.path().join("obrien.json")).unwrap();
    let mut cfg = config("safe", 5, 60);
    cfg.corpus = Some(dir.path().to_path_buf());
    let s = run(&cfg);
    let files = crate::util::files_under(dir.path());
    assert!(
        s.corpus > 1 && files.len() > 1,
        "new interesting inputs are written"
    );
    assert!(files.len() <= s.corpus, "the seed is not written back");
    for f in files {
        decode_file(
            rowguard::harness::appointments::harness(),
            &std::fs::read(&f).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn a_stop_flag_ends_the_run_and_keeps_what_was_found() {
    // what Ctrl-C does, without a signal: the flag is set at the first finding
    static STOP: AtomicBool = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("legacy", 1, 1_000_000);
    cfg.artifacts = Some(dir.path().to_path_buf());
    cfg.on_finding = Some(|_| STOP.store(true, std::sync::atomic::Ordering::SeqCst));
    let s = engine::run(&cfg, &STOP).unwrap();
    assert!(s.interrupted);
    assert!(s.execs < 1_000_000);
    assert!(!s.findings.is_empty());
    for f in &s.findings {
        assert!(f.artifact.as_ref().unwrap().is_file(), "{f:?}");
    }
}

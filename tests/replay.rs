//! Every committed corpus file replayed through the one decode path and
//! judged by the one corpus oracle the CI gate uses
//! (`rowguard::harness::oracle`): each reproducer under
//! `corpus/regressions/<pipeline>/` still makes its kinds on its pipeline and
//! is clean on `safe`; every seed in `corpus/pipeline/` is clean on `safe`.
//! Each report is also an insta snapshot, so drift shows in review.

use rowguard::harness::execute::{execute, Execution, Session};
use rowguard::harness::oracle::{Judge, Rule};
use rowguard::harness::pipeline;
use rowguard::harness::scenario::decode_file;
use rowguard::report;

use crate::util::{files_under, root};

fn replay(path: &std::path::Path, pipeline_name: &str) -> Execution {
    let bytes = std::fs::read(path).unwrap();
    let decoded = decode_file(rowguard::harness::appointments::harness(), &bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut session = Session::new().unwrap();
    execute(
        &mut session,
        pipeline::by_name(pipeline_name).unwrap(),
        &decoded.scenario,
    )
    .unwrap()
}

fn snapshot_name(path: &std::path::Path, pipeline_name: &str) -> String {
    let rel = path.strip_prefix(root().join("corpus")).unwrap();
    format!("{}@{pipeline_name}", rel.display()).replace(['/', '\\'], "__")
}

/// Judges every file under `corpus/<top>` by its rule; returns the files.
fn judge_all(top: &str) -> Vec<(std::path::PathBuf, Rule)> {
    let corpus = root().join("corpus");
    let mut judge = Judge::new().unwrap();
    let files: Vec<_> = files_under(&corpus.join(top))
        .into_iter()
        .map(|f| {
            let rule = Rule::of(f.strip_prefix(&corpus).unwrap()).unwrap();
            (f, rule)
        })
        .collect();
    assert!(!files.is_empty(), "no files under corpus/{top}");
    for (f, rule) in &files {
        let problems = judge
            .judge(rule, f, &std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(problems.is_empty(), "{}: {problems:#?}", f.display());
    }
    files
}

#[test]
fn every_regression_is_found_on_its_pipeline_and_clean_on_safe() {
    for (file, rule) in judge_all("regressions") {
        let Rule::Regression { pipeline } = rule else {
            panic!("{}: not a regression", file.display())
        };
        let on_own = replay(&file, &pipeline);
        insta::assert_snapshot!(snapshot_name(&file, &pipeline), report::text(&on_own));
    }
}

#[test]
fn every_seed_is_clean_on_safe() {
    for (file, _) in judge_all("pipeline") {
        let e = replay(&file, "safe");
        insta::assert_snapshot!(snapshot_name(&file, "safe"), report::text(&e));
    }
}

//! Every committed corpus file replayed through the one decode path: its
//! report is an insta snapshot (drift shows in review); each reproducer under
//! `corpus/regressions/<pipeline>/` is a `write-outside-target` finding on its
//! pipeline and clean on `safe`; every seed in `corpus/pipeline/` is clean on `safe`.

use rowguard::guard::Kind;
use rowguard::scenario::decode_file;
use rowguard::{pipeline, report, target};

use crate::util::{files_under, root};

fn replay(path: &std::path::Path, pipeline_name: &str) -> target::Execution {
    let bytes = std::fs::read(path).unwrap();
    let decoded = decode_file(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut session = target::Session::new().unwrap();
    target::execute(
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

#[test]
fn every_regression_is_found_on_its_pipeline_and_clean_on_safe() {
    let regressions = root().join("corpus/regressions");
    let mut seen = 0;
    for dir in files_under(&regressions)
        .iter()
        .filter_map(|f| f.parent().map(|p| p.to_path_buf()))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in files_under(&dir) {
            seen += 1;
            let on_own = replay(&file, &name);
            assert!(
                on_own.kinds().contains(&Kind::WriteOutsideTarget),
                "{} is no longer a write-outside-target on {name}:\n{}",
                file.display(),
                report::text(&on_own)
            );
            let on_safe = replay(&file, "safe");
            assert!(
                on_safe.is_clean(),
                "{} is not clean on safe:\n{}",
                file.display(),
                report::text(&on_safe)
            );
            insta::assert_snapshot!(snapshot_name(&file, &name), report::text(&on_own));
        }
    }
    assert!(seen > 0, "no reproducers under {}", regressions.display());
}

#[test]
fn every_seed_is_clean_on_safe() {
    let seeds = files_under(&root().join("corpus/pipeline"));
    assert!(!seeds.is_empty());
    for file in seeds {
        let e = replay(&file, "safe");
        assert!(e.is_clean(), "{}:\n{}", file.display(), report::text(&e));
        insta::assert_snapshot!(snapshot_name(&file, "safe"), report::text(&e));
    }
}

//! The pipeline registry against its promises: every planted pipeline has a
//! committed reproducer (which `replay` checks is found on it and clean on
//! `safe`), and `rowguard pipelines` lists each with its bug class and trigger.

use rowguard::pipeline;

use crate::util::{files_under, root};

#[test]
fn every_planted_pipeline_has_a_committed_reproducer() {
    let names: Vec<&str> = pipeline::all().iter().map(|p| p.name()).collect();
    for name in [
        "legacy",
        "stacked",
        "truncate",
        "blacklist",
        "unicode",
        "series",
    ] {
        assert!(names.contains(&name), "{name} is not registered");
    }
    for p in pipeline::all().iter().filter(|p| p.name() != "safe") {
        let dir = root().join("corpus/regressions").join(p.name());
        assert!(
            files_under(&dir)
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == "json")),
            "no reproducer under {}",
            dir.display()
        );
    }
}

#[test]
fn the_pipelines_command_prints_name_bug_class_and_trigger() {
    let out = crate::util::rowguard(&["pipelines"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for p in pipeline::all() {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{} ", p.name())))
            .unwrap_or_else(|| panic!("no row for {}:\n{text}", p.name()));
        assert!(
            row.contains(p.bug_class()) && row.contains(p.trigger()),
            "{row}"
        );
    }
}

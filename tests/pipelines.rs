//! The pipeline registry against its promises: every planted pipeline has a
//! committed reproducer (which `replay` checks is found on it and clean on
//! `safe`), and `rowguard pipelines` lists each with its bug class and trigger.

use rowguard::guard::Kind;
use rowguard::harness::pipeline;

use crate::util::{files_under, reschedule7, root, run};

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
        "wording",
        "flagged",
        "linked",
        "roster",
        "onhold",
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

/// The word behind `wording`'s legacy branch: what the engines must learn
/// from the source, since nothing else may know it.
const WORD: &str = "telehealth";

#[test]
fn wording_breaks_only_when_the_notes_hold_its_word_in_any_case() {
    let kinds = |notes: &str| run("wording", vec![reschedule7(notes)]).kinds();
    assert!(kinds("moved per phone call'--").is_empty());
    // the word alone already switches the statement to the hand-built one
    // (its shape differs from the placeholder run's), but writes one row
    let word_only = kinds("telehealth follow-up");
    assert!(
        !word_only.contains(&Kind::WriteOutsideTarget),
        "{word_only:?}"
    );
    assert!(word_only.contains(&Kind::ShapeChanged), "{word_only:?}");
    for word in ["telehealth", "TELEHEALTH", "Telehealth", "teLEHealth"] {
        let k = kinds(&format!("{word} call'--"));
        assert!(k.contains(&Kind::WriteOutsideTarget), "{word}: {k:?}");
        assert!(run("safe", vec![reschedule7(&format!("{word} call'--"))])
            .kinds()
            .is_empty());
    }
}

/// No engine may find `wording` by luck of its own tables: the word is in
/// neither the shared dictionary nor any file of the generator (the shared
/// text generator, the appointments op generator), the engine or the
/// mutator.
#[test]
fn the_wording_word_is_in_no_dictionary_generator_or_engine_table() {
    for token in rowguard::harness::scenario::dict::tokens() {
        assert!(
            !token.to_lowercase().contains(WORD),
            "dictionary token {token:?}"
        );
    }
    let mut files = vec![root().join("fuzz/rowguard.dict")];
    for dir in [
        "src/harness/scenario",
        "src/appointments/generate.rs",
        "src/tools/engine",
        "src/tools/dict",
        "fuzz/fuzz_targets",
    ] {
        let dir = root().join(dir);
        assert!(dir.exists(), "{} moved: update this list", dir.display());
        if dir.is_file() {
            files.push(dir);
        } else {
            files.extend(files_under(&dir));
        }
    }
    assert!(files.len() > 5, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap().to_lowercase();
        assert!(!text.contains(WORD), "{} mentions the word", f.display());
    }
}

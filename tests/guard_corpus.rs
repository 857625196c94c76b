//! The `guard` fuzz target's committed corpus (`corpus/guard/`), replayed on
//! stable through the one corpus oracle the CI gate also uses
//! (`rowguard::harness::oracle`): every file must pass the guard's oracle
//! (differential, isolation, no file touched, the fixture unchanged).

use rowguard::harness::oracle::{Judge, Rule};
use rowguard::tools::gate;

use crate::util::{files_under, root};

#[test]
fn every_guard_corpus_file_passes_the_oracle() {
    let files = files_under(&root().join("corpus/guard"));
    assert!(files.len() >= 20, "corpus/guard has {} files", files.len());
    let mut judge = Judge::new().unwrap();
    let mut bugs = Vec::new();
    for f in &files {
        match judge.judge(&Rule::GuardSql, f, &std::fs::read(f).unwrap()) {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => bugs.push(format!("{}: {problems:?}", f.display())),
            Err(bug) => bugs.push(bug),
        }
    }
    assert!(bugs.is_empty(), "{}", bugs.join("\n\n"));
}

/// The gate judges `corpus/guard/` by the same oracle, so a file the oracle
/// rejects fails the gate. A guard bug cannot be committed on purpose, so the
/// escape is made by hand, the way a bug would make it: a write committed on
/// the guard's connection behind its back (the oracle's commit hook counts
/// it). The old gate only asked that the guard returned no error, and passed
/// this corpus; the oracle does not.
#[test]
fn the_gate_fails_a_guard_file_that_breaks_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("guard")).unwrap();
    std::fs::write(dir.path().join("guard/benign.sql"), "SELECT 1").unwrap();
    let mut judge = Judge::new().unwrap();
    let clean = gate::replay_corpus_with(&mut judge, dir.path()).unwrap();
    assert!(
        matches!(clean[0].outcome, gate::Outcome::Passed),
        "{:?}",
        clean[0].outcome
    );
    let conn = judge.guard_session().unwrap().guard().connection();
    let _ = conn.execute_batch("UPDATE clients SET phone = 'escaped' WHERE id = 1");
    let broken = gate::replay_corpus_with(&mut judge, dir.path()).unwrap();
    match &broken[0].outcome {
        gate::Outcome::Error(e) => assert!(e.contains("guard oracle"), "{e}"),
        other => panic!("the gate passed a file the oracle rejects: {other:?}"),
    }
}

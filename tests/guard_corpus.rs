//! The `guard` fuzz target's committed corpus (`corpus/guard/`), replayed on
//! stable through the same library function: every file must pass the
//! guard's oracle (no bug: differential, isolation, no file touched).

use rowguard::guard_target::{self, GuardSession};
use rowguard::schema;

use crate::util::{files_under, root};

#[test]
fn every_guard_corpus_file_passes_the_oracle() {
    let files = files_under(&root().join("corpus/guard"));
    assert!(files.len() >= 20, "corpus/guard has {} files", files.len());
    let mut session = GuardSession::new().unwrap();
    let pristine = schema::dump(session.guard().connection()).unwrap();
    let mut bugs = Vec::new();
    for f in &files {
        let input = guard_target::decode(&std::fs::read(f).unwrap());
        if let Err(bug) = guard_target::check(&mut session, &input) {
            bugs.push(format!("{}: {bug}", f.display()));
        }
    }
    assert!(bugs.is_empty(), "{}", bugs.join("\n\n"));
    assert_eq!(
        schema::dump(session.guard().connection()).unwrap(),
        pristine,
        "the corpus left the fixture changed"
    );
}

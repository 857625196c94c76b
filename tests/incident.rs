//! The incident's acceptance lines (issue 2): a note full of SQL-looking text
//! is stored byte for byte by `safe`; on `legacy`, a quote then a NUL byte
//! cuts the UPDATE before its WHERE and rewrites the calendar.

use rowguard::guard::Kind;
use rowguard::harness::execute::Session;
use rowguard::harness::schema;

use crate::util::{reschedule7, run};

#[test]
fn safe_stores_a_tricky_note_byte_for_byte_and_is_clean() {
    let note = "O'Brien's 10:00 -- please don't move; DROP-in welcome";
    let e = run("safe", vec![reschedule7(note)]);
    assert!(e.is_clean(), "{}", rowguard::report::text(&e));
    // Replay without rollback on a plain connection to read the stored note back.
    let mut conn = schema::open(schema::DEFAULT_SIZE).unwrap();
    rowguard::harness::pipeline::by_name("safe")
        .unwrap()
        .run_typed(&reschedule7(note), &mut conn)
        .unwrap();
    let stored: String = conn
        .query_row("SELECT notes FROM appointments WHERE id = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, note);
}

#[test]
fn legacy_quote_then_nul_rewrites_other_rows() {
    let e = run("legacy", vec![reschedule7("'\0")]);
    assert!(
        e.kinds().contains(&Kind::WriteOutsideTarget),
        "{}",
        rowguard::report::text(&e)
    );
    let first = &e.ops[0].statements[0];
    assert!(
        first.ignored_tail.is_some(),
        "the tail after NUL is reported"
    );
    assert!(first.findings.iter().any(|f| f
        .outside
        .iter()
        .any(|c| &*c.table == "appointments" && &*c.key != "7")));
    assert!(run("safe", vec![reschedule7("'\0")]).is_clean());
}

#[test]
fn a_session_is_reusable_and_restores_the_fixture() {
    let mut s = Session::new().unwrap();
    let before = schema::dump(s.guard().unwrap().connection()).unwrap();
    let legacy = rowguard::harness::pipeline::by_name("legacy").unwrap();
    let scenario = rowguard::harness::scenario::Scenario::of(vec![reschedule7("'--")]);
    let first = rowguard::harness::execute::execute(&mut s, legacy, &scenario).unwrap();
    let second = rowguard::harness::execute::execute(&mut s, legacy, &scenario).unwrap();
    assert_eq!(first, second, "the same input means the same thing twice");
    assert_eq!(
        schema::dump(s.guard().unwrap().connection()).unwrap(),
        before
    );
}

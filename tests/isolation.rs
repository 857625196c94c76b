//! The checker survives what it checks: injected transaction control cannot
//! end the guard's transaction, and the next input sees the pristine fixture.

use rowguard::pipeline::Op;
use rowguard::scenario::Scenario;
use rowguard::{pipeline, schema, target};

#[test]
fn injected_transaction_control_cannot_escape_and_the_fixture_stays_pristine() {
    let mut session = target::Session::new().unwrap();
    let pristine = schema::dump(session.guard().connection()).unwrap();
    let legacy = pipeline::by_name("legacy").unwrap();
    for payload in [
        "'; COMMIT; --",
        "' WHERE 1; COMMIT; --",
        "x' WHERE id = 7; ROLLBACK; --",
        "x' WHERE id = 7; RELEASE rg_statement; --",
        "x' WHERE id = 7; BEGIN; --",
        "'--",
        "' OR 1=1 --",
        "'\0",
    ] {
        let ops = vec![
            Op::EditNotes {
                id: 7,
                notes: payload.into(),
            },
            Op::Reschedule {
                id: 8,
                day: 3,
                slot: 1,
                notes: payload.into(),
                reason: payload.into(),
            },
        ];
        let _ = target::execute(&mut session, legacy, &Scenario { ops }).unwrap();
        assert!(
            session.guard().connection().is_autocommit(),
            "an input left a transaction open"
        );
        assert_eq!(
            schema::dump(session.guard().connection()).unwrap(),
            pristine,
            "after {payload:?}"
        );
    }
}

#[test]
fn or_rollback_ending_the_transaction_is_a_finding_and_nothing_leaks() {
    use rowguard::guard::{Guard, Kind};
    use rowguard::pipeline::Db;
    let mut g = Guard::new(
        schema::open(schema::DEFAULT_SIZE).unwrap(),
        target::appointments_policy(&[7]),
    )
    .unwrap();
    let pristine = schema::dump(g.connection()).unwrap();
    g.begin_input().unwrap();
    let _ = g.execute("UPDATE appointments SET notes = 'gone' WHERE id = 8", &[]);
    let _ = g.execute(
        "UPDATE OR ROLLBACK appointments SET id = 8 WHERE id = 7",
        &[],
    );
    let _ = g.execute("UPDATE appointments SET notes = 'after' WHERE id = 9", &[]);
    let v = g.end_input().unwrap();
    assert!(
        v.kinds().contains(&Kind::ForbiddenAction),
        "{:?}",
        v.kinds()
    );
    assert_eq!(schema::dump(g.connection()).unwrap(), pristine);
}

//! Bounded work: the progress handler and SQLite limits stop every statement
//! that would run long or grow large; each stop is a `resource-limit`
//! finding, never a hang, a crash or a `sql-error`, and the guard keeps
//! checking the next statement of the same input.

use std::time::{Duration, Instant};

use rowguard::guard::{Guard, Kind};
use rowguard::pipeline::Db;
use rowguard::{schema, target};

/// Generous: an unbounded statement below would run for minutes or exhaust memory.
const BOUND: Duration = Duration::from_secs(20);

#[track_caller]
fn assert_stopped(sql: &str) {
    let mut g = Guard::new(
        schema::open(schema::DEFAULT_SIZE).unwrap(),
        target::appointments_policy(&[7]),
    )
    .unwrap();
    g.begin_input().unwrap();
    let started = Instant::now();
    let result = g.execute_batch(sql);
    let took = started.elapsed();
    // The guard still works after the stop.
    g.execute("UPDATE appointments SET notes = 'after' WHERE id = 8", &[])
        .unwrap();
    let v = g.end_input().unwrap();
    let short: String = sql.chars().take(80).collect();
    assert!(result.is_err(), "{short}: ran to completion");
    assert!(took < BOUND, "{short}: took {took:?}");
    let first = &v.statements[0];
    assert!(
        first.findings.iter().any(|f| f.kind == Kind::ResourceLimit),
        "{short}: expected resource-limit, got {:?}",
        first.findings
    );
    assert!(
        !first.findings.iter().any(|f| f.kind == Kind::SqlError),
        "{short}: a stop is not a sql-error: {:?}",
        first.findings
    );
    assert!(
        v.statements[1]
            .findings
            .iter()
            .any(|f| f.kind == Kind::WriteOutsideTarget),
        "{short}: the next statement was not checked"
    );
}

#[test]
fn an_endless_recursive_cte_is_stopped() {
    assert_stopped(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    );
}

#[test]
fn a_huge_join_is_stopped() {
    assert_stopped(
        "SELECT count(*) FROM appointments a, appointments b, appointments c, appointments d",
    );
}

#[test]
fn a_recursive_write_is_stopped_and_rolled_back() {
    assert_stopped(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
         UPDATE appointments SET notes = (SELECT count(*) FROM c) WHERE id = 7",
    );
}

#[test]
fn huge_blobs_and_strings_are_stopped() {
    for sql in [
        "SELECT length(randomblob(2000000000))",
        "SELECT length(zeroblob(2000000000))",
        "SELECT length(printf('%.*c', 2000000000, 'x'))",
        "SELECT length(printf('%2000000000d', 1))",
        "UPDATE appointments SET notes = replace(hex(zeroblob(10000000)), '0', '00') WHERE id = 7",
        "SELECT length(group_concat(hex(randomblob(100000)))) FROM appointments a, appointments b",
    ] {
        assert_stopped(sql);
    }
}

#[test]
fn deep_expressions_are_stopped() {
    for sql in [
        format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("SELECT {}1", "- ".repeat(5000)),
        format!(
            "UPDATE appointments SET notes = 'x' WHERE {}id = 7",
            "NOT ".repeat(5000)
        ),
        format!("SELECT 1{}", " + 1".repeat(5000)),
        format!("SELECT {}1{}", "(SELECT ".repeat(1000), ")".repeat(1000)),
        format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(1000)),
    ] {
        assert_stopped(&sql);
    }
}

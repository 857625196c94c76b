//! The guard's own table tests (sqlparser's `verified_stmt` style): one line
//! per statement, checked against the reschedule policy of appointment 7.

use rowguard::guard::Kind;

use crate::util::{assert_clean, assert_finding};

#[test]
fn writes_to_the_target_row_are_clean() {
    assert_clean("UPDATE appointments SET notes = 'x' WHERE id = 7");
    assert_clean("UPDATE appointments SET start_at = '2026-03-02 09:00', end_at = '2026-03-02 09:30' WHERE id = 7");
    assert_clean("UPDATE appointments SET notes = 'O''Brien -- DROP TABLE x; ' WHERE id = 7");
    assert_clean("DELETE FROM reminders WHERE appointment_id = 7");
    assert_clean("INSERT INTO reminders (appointment_id, send_at) VALUES (7, '2026-03-01 09:00')");
    assert_clean("SELECT * FROM appointments");
    assert_clean("UPDATE appointments SET notes = 'x' WHERE id = 99999");
}

#[test]
fn writes_outside_the_target_are_findings() {
    assert_finding(
        "UPDATE appointments SET notes = 'x'",
        Kind::WriteOutsideTarget,
    );
    assert_finding(
        "UPDATE appointments SET notes = 'x' WHERE id = 7 OR 1=1",
        Kind::WriteOutsideTarget,
    );
    assert_finding(
        "UPDATE appointments SET notes = 'x' WHERE notes LIKE '%'",
        Kind::WriteOutsideTarget,
    );
    assert_finding(
        "UPDATE appointments SET status = 'cancelled' WHERE id = 7",
        Kind::WriteOutsideTarget,
    );
    assert_finding(
        "UPDATE appointments SET id = 100000 WHERE id = 8",
        Kind::WriteOutsideTarget,
    );
    assert_finding(
        "DELETE FROM appointments WHERE id = 8",
        Kind::WriteOutsideTarget,
    );
    assert_finding("DELETE FROM reminders", Kind::WriteOutsideTarget);
    assert_finding("DELETE FROM appointment_log", Kind::ForbiddenAction);
    assert_finding("UPDATE clients SET phone = '0'", Kind::WriteOutsideTarget);
    assert_finding(
        "INSERT OR REPLACE INTO appointments SELECT * FROM appointments WHERE id = 8",
        Kind::WriteOutsideTarget,
    );
}

#[test]
fn denied_actions_are_findings_and_never_run() {
    assert_finding("COMMIT", Kind::ForbiddenAction);
    assert_finding("ROLLBACK", Kind::ForbiddenAction);
    assert_finding("RELEASE rg_statement", Kind::ForbiddenAction);
    assert_finding("PRAGMA foreign_keys = OFF", Kind::ForbiddenAction);
    assert_finding("ATTACH DATABASE ':memory:' AS x", Kind::ForbiddenAction);
    assert_finding("DROP TABLE reminders", Kind::SchemaChange);
    assert_finding("CREATE TABLE x (a)", Kind::SchemaChange);
    assert_finding("SELECT load_extension('x')", Kind::ForbiddenAction);
    assert_finding(
        "UPDATE appointments SET notes = 'x' WHERE id = 7; DELETE FROM clients",
        Kind::MultipleStatements,
    );
    assert_finding(
        "UPDATE appointments SET notes = 'x' WHERE id = 7\0; DELETE FROM clients",
        Kind::MultipleStatements,
    );
    assert_finding("UPDATE appointments SET notes = 'x", Kind::SqlError);
    assert_finding(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        Kind::ResourceLimit,
    );
    assert_finding("SELECT length(randomblob(1000000000))", Kind::ResourceLimit);
}

/// Code that looks for the guard (its capture lives in the temp schema) and
/// writes every row when it finds none, as in production, is a finding, not
/// a clean verdict bought by the guard's own presence.
#[test]
fn looking_at_the_guard_is_a_finding() {
    for probe in [
        "(SELECT count(*) FROM temp.sqlite_master) = 0",
        "(SELECT count(*) FROM sqlite_temp_master) = 0",
        "(SELECT count(*) FROM sqlite_temp_schema) = 0",
        "NOT EXISTS (SELECT 1 FROM temp.sqlite_schema WHERE type = 'trigger')",
        "(SELECT count(*) FROM pragma_table_list WHERE schema = 'temp') = 0",
        "(SELECT count(*) FROM pragma_function_list WHERE name LIKE 'rg%') = 0",
    ] {
        let sql = format!("UPDATE appointments SET notes = 'x' WHERE id = 7 OR {probe}");
        assert_finding(&sql, Kind::ForbiddenAction);
    }
}

#[test]
fn a_write_that_reads_other_rows_is_shape_changed() {
    assert_finding(
        "UPDATE appointments SET notes = (SELECT group_concat(phone) FROM clients) WHERE id = 7",
        Kind::ShapeChanged,
    );
}

#[test]
fn a_query_that_finds_no_row_is_not_a_finding() {
    use rowguard::guard::{Db, ErrorClass, Value};
    let mut g =
        rowguard::harness::appointments::guard_for(rowguard::harness::schema::DEFAULT_SIZE, 7)
            .unwrap();
    let (r, v) = g
        .check(|g| {
            g.query_row(
                "SELECT series_id FROM appointments WHERE id = ?1",
                &[Value::Integer(0)],
            )
        })
        .unwrap();
    assert_eq!(
        r.unwrap_err().class,
        ErrorClass::NoRows,
        "no row is still an error to the caller, as in rusqlite"
    );
    assert!(v.is_clean(), "{:?}", v.kinds());
}

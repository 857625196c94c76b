//! One test per write channel (issue 5): every way a statement can change
//! data outside the target is reported with the right kind and blast radius
//! (table, key, column, before → after), and the same statement aimed only at
//! the target (appointment 7, unless the channel needs another) stays clean.

use std::path::{Path, PathBuf};

use rowguard::guard::{CellChange, Db, Guard, Kind, Verdict};
use rowguard::harness::appointments::appointments_policy;
use rowguard::harness::schema;

use crate::util::{assert_clean, check, check_on, fixture};

/// `(table, key, column, before, after)`; `None` = the row did not exist.
type Cell<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

fn cell_of(c: &CellChange) -> Cell<'_> {
    (
        &c.table,
        &c.key,
        &c.column,
        c.before.as_deref(),
        c.after.as_deref(),
    )
}

#[track_caller]
fn assert_kind(v: &Verdict, sql: &str, kind: Kind) {
    assert!(
        v.kinds().contains(&kind),
        "{sql:?}: expected {kind}, got {:#?}",
        v.findings().collect::<Vec<_>>()
    );
}

/// A `write-outside-target` finding whose blast radius holds every cell in `cells`.
#[track_caller]
fn assert_outside(v: &Verdict, sql: &str, cells: &[Cell<'_>]) {
    assert_kind(v, sql, Kind::WriteOutsideTarget);
    let outside: Vec<Cell<'_>> = v.outside().map(cell_of).collect();
    for c in cells {
        assert!(
            outside.contains(c),
            "{sql:?}: blast radius lacks {c:?}; first cells: {:?}",
            &outside[..outside.len().min(8)]
        );
    }
}

#[track_caller]
fn assert_clean_on(conn: rusqlite::Connection, keys: &[i64], sql: &str) {
    let v = check_on(conn, keys, sql);
    assert!(
        v.is_clean(),
        "{sql:?} should be clean: {:#?}",
        v.findings().collect::<Vec<_>>()
    );
}

/// Keys (as the blast radius shows them) of the rows changed outside the policy.
fn outside_rows(v: &Verdict, table: &str) -> Vec<String> {
    let mut keys: Vec<String> = v
        .outside()
        .filter(|c| &*c.table == table)
        .map(|c| c.key.to_string())
        .collect();
    keys.dedup();
    keys
}

const NOTES_1: Option<&str> = Some("'bring previous x-rays'");
const NOTES_8: Option<&str> = Some("'prefers mornings'");

#[test]
fn other_rows_of_the_same_table() {
    for (sql, key, before) in [
        (
            "UPDATE appointments SET notes = 'x' WHERE id = 7 OR 1=1",
            "8",
            NOTES_8,
        ),
        (
            "UPDATE appointments SET notes = 'x' WHERE id = 7 OR id = 8",
            "8",
            NOTES_8,
        ),
        (
            "UPDATE appointments SET notes = 'x' -- WHERE id = 7",
            "1",
            NOTES_1,
        ),
        (
            "UPDATE appointments SET notes = 'x' /* WHERE id = 7 */",
            "1",
            NOTES_1,
        ),
        (
            "UPDATE appointments SET notes = 'x' WHERE notes LIKE '%'",
            "1",
            NOTES_1,
        ),
        (
            "UPDATE appointments SET notes = 'x' WHERE notes GLOB '*'",
            "1",
            NOTES_1,
        ),
    ] {
        let v = check(sql);
        assert_outside(
            &v,
            sql,
            &[("appointments", key, "notes", before, Some("'x'"))],
        );
        assert!(!outside_rows(&v, "appointments").contains(&"7".to_string()));
    }
    let tautology = check("UPDATE appointments SET notes = 'x' WHERE id = 7 OR 1=1");
    assert_eq!(outside_rows(&tautology, "appointments").len(), 239);
    for sql in [
        "UPDATE appointments SET notes = 'x' WHERE id = 7",
        "UPDATE appointments SET notes = 'x' WHERE id = 7 -- OR 1=1",
        "UPDATE appointments SET notes = 'x' WHERE id = 7 AND notes LIKE '%'",
        "UPDATE appointments SET notes = 'x' WHERE id = 7 AND notes GLOB '*'",
    ] {
        assert_clean(sql);
    }
}

#[test]
fn other_columns_of_the_target_row() {
    let sql = "UPDATE appointments SET status = 'cancelled' WHERE id = 7";
    let v = check(sql);
    assert_outside(
        &v,
        sql,
        &[(
            "appointments",
            "7",
            "status",
            Some("'booked'"),
            Some("'cancelled'"),
        )],
    );
}

#[test]
fn other_tables() {
    let sql = "UPDATE clients SET phone = '0' WHERE id = 3";
    let v = check(sql);
    assert_outside(
        &v,
        sql,
        &[("clients", "3", "phone", Some("'555-0103'"), Some("'0'"))],
    );
    assert_kind(&v, sql, Kind::ForbiddenAction);
    let sql = "INSERT INTO appointment_log (appointment_id) VALUES (8)";
    assert_outside(
        &check(sql),
        sql,
        &[("appointment_log", "1", "appointment_id", None, Some("8"))],
    );
    assert_clean("INSERT INTO appointment_log (appointment_id) VALUES (7)");
}

#[test]
fn without_rowid_tables() {
    let sql = "UPDATE reminders SET send_at = '2026-03-09 09:00' WHERE appointment_id = 9 AND send_at < '2026-03-02'";
    let v = check(sql);
    assert_outside(
        &v,
        sql,
        &[(
            "reminders",
            "9, '2026-03-01 09:00'",
            "send_at",
            Some("'2026-03-01 09:00'"),
            Some("'2026-03-09 09:00'"),
        )],
    );
    let sql = "DELETE FROM reminders WHERE appointment_id = 9";
    assert_outside(
        &check(sql),
        sql,
        &[(
            "reminders",
            "9, '2026-03-02 07:00'",
            "send_at",
            Some("'2026-03-02 07:00'"),
            None,
        )],
    );
    assert_clean("UPDATE reminders SET send_at = '2026-03-09 09:00' WHERE appointment_id = 7 AND send_at = '2026-03-01 07:00'");
    assert_clean("DELETE FROM reminders WHERE appointment_id = 7");
}

#[test]
fn where_less_delete_defeats_no_hook() {
    let sql = "DELETE FROM reminders";
    let v = check(sql);
    assert_outside(
        &v,
        sql,
        &[(
            "reminders",
            "1, '2026-02-28 09:00'",
            "appointment_id",
            Some("1"),
            None,
        )],
    );
    assert_eq!(v.statements[0].changed_rows, 240);
    let sql = "DELETE FROM appointments";
    let v = check(sql);
    assert_outside(&v, sql, &[("appointments", "1", "notes", NOTES_1, None)]);
    assert_eq!(outside_rows(&v, "appointments").len(), 240);
    assert_clean("DELETE FROM reminders WHERE appointment_id = 7");
}

#[test]
fn replace_and_upsert_conflicts() {
    let row9 = "9, '2026-03-01 09:00'";
    for sql in [
        "REPLACE INTO reminders (appointment_id, send_at) VALUES (9, '2026-03-01 09:00')",
        "INSERT OR REPLACE INTO reminders (appointment_id, send_at) VALUES (9, '2026-03-01 09:00')",
    ] {
        let v = check(sql);
        assert_outside(
            &v,
            sql,
            &[("reminders", row9, "appointment_id", Some("9"), None)],
        );
    }
    let sql = "INSERT INTO reminders VALUES (9, '2026-03-01 09:00') ON CONFLICT DO UPDATE SET send_at = '2026-03-05 09:00'";
    assert_outside(
        &check(sql),
        sql,
        &[(
            "reminders",
            row9,
            "send_at",
            Some("'2026-03-01 09:00'"),
            Some("'2026-03-05 09:00'"),
        )],
    );
    let sql = "INSERT OR REPLACE INTO appointments (id, practitioner_id, client_id, start_at, end_at, status, updated_at) \
               VALUES (8, 1, 1, 'a', 'b', 'booked', 'c')";
    assert_outside(
        &check(sql),
        sql,
        &[("appointments", "8", "notes", NOTES_8, None)],
    );
    let sql = "INSERT INTO appointments (id, practitioner_id, client_id, start_at, end_at, status, updated_at) \
               VALUES (8, 1, 1, 'a', 'b', 'booked', 'c') ON CONFLICT(id) DO UPDATE SET notes = 'x'";
    assert_outside(
        &check(sql),
        sql,
        &[("appointments", "8", "notes", NOTES_8, Some("'x'"))],
    );
    // The same statements on the target's own reminder rewrite only the target's rows.
    assert_clean("REPLACE INTO reminders (appointment_id, send_at) VALUES (7, '2026-03-01 07:00')");
    assert_clean(
        "INSERT OR REPLACE INTO reminders (appointment_id, send_at) VALUES (7, '2026-03-01 07:00')",
    );
    assert_clean("INSERT INTO reminders VALUES (7, '2026-03-01 07:00') ON CONFLICT DO UPDATE SET send_at = '2026-03-05 09:00'");
}

#[test]
fn an_update_moving_the_primary_key_onto_another_row() {
    // Appointment 8 has no reminders, so its key may move (7's would break a foreign key).
    let sql = "UPDATE OR REPLACE appointments SET id = 10 WHERE id = 8";
    let v = check_on(fixture(), &[8], sql);
    assert_outside(
        &v,
        sql,
        &[
            (
                "appointments",
                "10",
                "start_at",
                Some("'2026-03-02 09:00'"),
                None,
            ),
            ("appointments", "8", "id", Some("8"), Some("10")),
        ],
    );
    let sql = "UPDATE appointments SET rowid = 100000 WHERE id = 8";
    let v = check_on(fixture(), &[8], sql);
    assert_outside(
        &v,
        sql,
        &[("appointments", "8", "id", Some("8"), Some("100000"))],
    );
    assert_clean_on(
        fixture(),
        &[8],
        "UPDATE appointments SET notes = 'x' WHERE id = 8",
    );
}

#[test]
fn trigger_side_effects_beyond_the_log_insert() {
    // The fixture's audit trigger logs a non-target row: outside.
    let sql = "UPDATE appointments SET notes = 'x' WHERE id = 8";
    assert_outside(
        &check(sql),
        sql,
        &[("appointment_log", "1", "appointment_id", None, Some("8"))],
    );
    // A user trigger that writes another table when the target's notes change.
    let with_trigger = || {
        let c = fixture();
        c.execute_batch(
            "CREATE TRIGGER touch_client AFTER UPDATE OF notes ON appointments BEGIN \
             UPDATE clients SET name = name || '*' WHERE id = NEW.client_id; END;",
        )
        .unwrap();
        c
    };
    let sql = "UPDATE appointments SET notes = 'x' WHERE id = 7";
    let v = check_on(with_trigger(), &[7], sql);
    assert_outside(
        &v,
        sql,
        &[(
            "clients",
            "10",
            "name",
            Some("'Client 10'"),
            Some("'Client 10*'"),
        )],
    );
    assert_eq!(
        v.outside().count(),
        1,
        "{:?}",
        v.outside().collect::<Vec<_>>()
    );
    assert_clean_on(
        with_trigger(),
        &[7],
        "UPDATE appointments SET start_at = '2026-03-02 09:00' WHERE id = 7",
    );
}

#[test]
fn foreign_key_cascades() {
    let sql = "DELETE FROM appointments WHERE id = 9";
    let v = check(sql);
    assert_outside(
        &v,
        sql,
        &[
            (
                "reminders",
                "9, '2026-03-01 09:00'",
                "appointment_id",
                Some("9"),
                None,
            ),
            ("appointments", "9", "id", Some("9"), None),
        ],
    );
    // Deleting the target itself is outside a reschedule, but its cascade is not.
    let v = check("DELETE FROM appointments WHERE id = 7");
    assert_eq!(outside_rows(&v, "appointments"), vec!["7".to_string()]);
    assert!(outside_rows(&v, "reminders").is_empty());
}

/// Every statement is denied (never runs) and reported as `kind`.
#[track_caller]
fn assert_denied(sqls: &[&str], kind: Kind) {
    for sql in sqls {
        let v = check(sql);
        assert_kind(&v, sql, kind);
        assert!(
            v.statements[0].error.is_some() && v.statements[0].changed_rows == 0,
            "{sql:?} ran: {:?}",
            v.statements[0]
        );
    }
}

#[test]
fn ddl_is_a_schema_change() {
    assert_denied(
        &[
            "CREATE TABLE x (a)",
            "CREATE TEMP TABLE x (a)",
            "DROP TABLE reminders",
            "ALTER TABLE appointments ADD COLUMN x",
            "ALTER TABLE clients RENAME TO c",
            "CREATE TRIGGER t AFTER UPDATE ON appointments BEGIN DELETE FROM clients; END",
            "DROP TRIGGER appointments_audit",
            "DROP TRIGGER temp.rg_appointments_update",
            "CREATE VIEW v AS SELECT 1",
            "CREATE INDEX i ON appointments(notes)",
            "DROP INDEX appointments_series",
            "CREATE VIRTUAL TABLE v USING json_each('[]')",
        ],
        Kind::SchemaChange,
    );
}

#[test]
fn attach_detach_vacuum_pragma_and_extensions_are_forbidden() {
    assert_denied(
        &[
            "ATTACH DATABASE ':memory:' AS x",
            "DETACH temp",
            "VACUUM",
            "VACUUM INTO ':memory:'",
            "PRAGMA foreign_keys = OFF",
            "PRAGMA user_version = 5",
            "PRAGMA writable_schema = ON",
            "PRAGMA recursive_triggers = OFF",
            "SELECT load_extension('libx')",
            "REINDEX",
            "ANALYZE",
            "UPDATE temp.rg_log SET g = 0",
            "DELETE FROM temp.rg_log",
        ],
        Kind::ForbiddenAction,
    );
    // The trigger capture's function is denied; with the pre-update hook
    // (the appointments schema's one trigger runs AFTER) there is none.
    let sql = "SELECT rg_capture(0, 1, 7)";
    let v = check(sql);
    let error = v.statements[0].error.as_deref().unwrap_or_default();
    assert!(
        v.kinds().contains(&Kind::ForbiddenAction)
            || error.starts_with("no such function: rg_capture"),
        "{sql:?}: {v:?}"
    );
    assert_eq!(v.statements[0].changed_rows, 0);
}

#[test]
fn several_statements_in_one_string() {
    let sql = "UPDATE appointments SET notes = 'x' WHERE id = 7; UPDATE appointments SET notes = 'y' WHERE id = 8";
    let v = check(sql);
    assert_kind(&v, sql, Kind::MultipleStatements);
    assert_outside(
        &v,
        sql,
        &[("appointments", "8", "notes", NOTES_8, Some("'y'"))],
    );
    // A statement sqlparser cannot parse still counts.
    let sql = "UPDATE appointments SET notes = 'x' WHERE id = 7; VACUUM INTO 'x.db'";
    assert_kind(&check(sql), sql, Kind::MultipleStatements);
    assert_clean("UPDATE appointments SET notes = 'x' WHERE id = 7;");
}

#[test]
fn text_after_an_embedded_nul_is_reported_and_never_runs() {
    let sql = "UPDATE appointments SET notes = 'x' WHERE id = 7\0; DELETE FROM clients";
    for api in 0..2 {
        let mut g = Guard::new(fixture(), appointments_policy(&[7])).unwrap();
        g.begin_input().unwrap();
        let _ = if api == 0 {
            g.execute(sql, &[]).map(|_| ())
        } else {
            g.execute_batch(sql)
        };
        let v = g.end_input().unwrap();
        assert_kind(&v, sql, Kind::MultipleStatements);
        let s = &v.statements[0];
        assert_eq!(s.ignored_tail.as_deref(), Some("\0; DELETE FROM clients"));
        assert_eq!(s.changed_rows, 2, "only the target and its log row changed");
        assert!(v.outside().next().is_none());
    }
}

#[test]
fn injected_transaction_control_never_ends_the_guards_transaction() {
    for control in [
        "COMMIT",
        "END",
        "ROLLBACK",
        "BEGIN",
        "BEGIN IMMEDIATE",
        "SAVEPOINT x",
        "RELEASE rg_statement",
        "ROLLBACK TO rg_statement",
    ] {
        let mut g = Guard::new(fixture(), appointments_policy(&[7])).unwrap();
        let pristine = schema::dump(g.connection()).unwrap();
        g.begin_input().unwrap();
        let _ = g.execute("UPDATE appointments SET notes = 'gone' WHERE id = 8", &[]);
        let _ = g.execute_batch(control);
        assert!(
            !g.connection().is_autocommit(),
            "{control} ended the transaction"
        );
        let v = g.end_input().unwrap();
        assert_kind(&v, control, Kind::ForbiddenAction);
        assert!(v.statements[1].error.is_some(), "{control} ran");
        assert_eq!(schema::dump(g.connection()).unwrap(), pristine, "{control}");
    }
}

#[test]
fn a_write_reading_other_rows_into_the_target_is_shape_changed() {
    for sql in [
        "UPDATE appointments SET notes = (SELECT group_concat(phone) FROM clients) WHERE id = 7",
        "UPDATE appointments SET notes = (SELECT notes FROM appointments WHERE id = 8) WHERE id = 7",
    ] {
        let v = check(sql);
        assert_kind(&v, sql, Kind::ShapeChanged);
        assert!(v.outside().next().is_none(), "the write itself stays on the target");
    }
    assert_clean("UPDATE appointments SET notes = 'x' WHERE id = 7");
}

static DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh empty folder under the system temp dir (absolute path).
fn empty_dir() -> PathBuf {
    let n = DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rowguard-channels-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn no_statement_creates_or_touches_a_file() {
    let dir = empty_dir();
    let abs = |name: &str| dir.join(name).display().to_string().replace('\'', "''");
    let relative = format!("rowguard-channels-{}.db", std::process::id());
    let sqls = [
        format!("ATTACH DATABASE '{}' AS a", abs("a.db")),
        format!("ATTACH '{}' AS a", abs("b.db")),
        format!("ATTACH 'file:{}?mode=rwc' AS a", abs("c.db")),
        format!("VACUUM INTO '{}'", abs("v.db")),
        format!("VACUUM main INTO '{}'", abs("w.db")),
        format!(
            "UPDATE appointments SET notes = 'x' WHERE id = 7; VACUUM INTO '{}'",
            abs("x.db")
        ),
        format!("ATTACH '{relative}' AS r"),
        format!("VACUUM INTO '{relative}'"),
    ];
    for sql in &sqls {
        for api in 0..3 {
            let mut g = Guard::new(fixture(), appointments_policy(&[7])).unwrap();
            g.begin_input().unwrap();
            let _ = match api {
                0 => g.execute(sql, &[]).map(|_| ()),
                1 => g.execute_batch(sql),
                _ => g.query_row(sql, &[]).map(|_| ()),
            };
            let v = g.end_input().unwrap();
            assert_kind(&v, sql, Kind::ForbiddenAction);
            assert_eq!(entries(&dir), Vec::<PathBuf>::new(), "{sql} (api {api})");
            assert!(!Path::new(&relative).exists(), "{sql} (api {api})");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

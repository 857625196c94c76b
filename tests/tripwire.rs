//! The tripwire on a SQLite file (issue 27): the incident's reproducer is
//! rolled back with its verdict and leaves the file byte for byte unchanged;
//! the `safe` seeds commit exactly what a plain connection commits; 4
//! threads x 2,500 mixed operations on a WAL file commit every clean one and
//! nothing else (checked against an independent replay on a plain
//! connection); a process killed inside an operation leaves the file as it
//! was.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rowguard::guard::tripwire::{TripError, Tripwire};
use rowguard::guard::{Db, DbError, Value};
use rowguard::harness::appointments::appointments_policy;
use rowguard::harness::pipeline::{self, Op, Pipeline};
use rowguard::harness::rng::Rng;
use rowguard::harness::scenario::decode_file;
use rowguard::harness::schema;
use rusqlite::Connection;

use crate::util::{files_under, root};

/// A fixture database file in `dir` (journal mode as given).
fn fixture_file(dir: &Path, journal: &str) -> std::path::PathBuf {
    let path = dir.join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", journal).unwrap();
    schema::build(&conn, schema::DEFAULT_SIZE).unwrap();
    path
}

/// The application's connection to the file, as an app opens it (a
/// writer waits its turn: four threads of debug-build operations can hold
/// the lock longer than rusqlite's default 5 s in total).
fn app(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(120))
        .unwrap();
    conn
}

/// The appointments an op may write: its series (read as of now), or itself.
pub fn targets(db: &mut dyn Db, op: &Op) -> Vec<i64> {
    if !op.is_series() {
        return vec![op.target()];
    }
    let mut ids = Vec::new();
    let mut i = 0;
    // One id per query: `Db` returns first rows only.
    loop {
        let row = db.query_row(
            "SELECT id FROM appointments WHERE (series_id = (SELECT series_id FROM appointments WHERE id = ?1) OR id = ?1) \
             ORDER BY id LIMIT 1 OFFSET ?2",
            &[Value::Integer(op.target()), Value::Integer(i)],
        );
        match row.ok().and_then(|r| r.into_iter().next()) {
            Some(Value::Integer(id)) => ids.push(id),
            _ => return ids,
        }
        i += 1;
    }
}

/// Runs `op` on `pipeline` through the tripwire, under its policy.
fn guarded(tw: &mut Tripwire, pipeline: &dyn Pipeline, op: &Op) -> Result<(), TripError> {
    let mut plain = Connection::open(tw.connection().path().unwrap()).unwrap();
    let keys = targets(&mut plain, op);
    tw.run(&appointments_policy(&keys), |db| pipeline.run_typed(op, db))
}

/// Every row of every table, sorted; `appointment_log` without its id
/// (concurrent writers interleave those).
fn picture(conn: &Connection) -> Vec<String> {
    let mut out = schema::dump(conn).unwrap();
    let mut stmt = conn
        .prepare("SELECT quote(appointment_id), quote(changed_at), quote(old_start_at), quote(new_start_at), quote(old_notes), quote(new_notes) FROM appointment_log")
        .unwrap();
    let logs: Vec<String> = stmt
        .query_map([], |r| {
            Ok((0..6)
                .map(|i| r.get::<_, String>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?
                .join(", "))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    out.retain(|l| !l.starts_with("appointment_log:"));
    out.extend(logs.into_iter().map(|l| format!("log: {l}")));
    out.sort();
    out
}

fn incident() -> Op {
    let bytes = std::fs::read(root().join("corpus/regressions/legacy/incident-quote-comment.json"))
        .unwrap();
    serde_json::from_value(
        decode_file(rowguard::harness::appointments::harness(), &bytes)
            .unwrap()
            .scenario
            .ops
            .remove(0),
    )
    .unwrap()
}

#[test]
fn the_incident_is_rolled_back_and_the_file_is_unchanged_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_file(dir.path(), "delete");
    let before = std::fs::read(&path).unwrap();
    let mut tw = Tripwire::new(app(&path)).unwrap();
    let legacy = pipeline::by_name("legacy").unwrap();
    let e = guarded(&mut tw, legacy, &incident()).unwrap_err();
    let TripError::Tripped { verdict } = &e else {
        panic!("not tripped: {e}");
    };
    let rows: std::collections::BTreeSet<&str> = verdict
        .outside()
        .filter(|c| &*c.table == "appointments")
        .map(|c| &*c.key)
        .collect();
    assert_eq!(
        rows.len(),
        schema::DEFAULT_SIZE - 1,
        "every other appointment: {e}"
    );
    assert!(!rows.contains("7"));
    assert!(verdict.findings().all(|f| !f.undo.is_empty()));
    drop(tw);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    assert!(!dir.path().join("app.db-journal").exists());
}

#[test]
fn the_safe_seeds_commit_exactly_what_a_plain_connection_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_file(dir.path(), "delete");
    let mut tw = Tripwire::new(app(&path)).unwrap();
    let mut plain = schema::open(schema::DEFAULT_SIZE).unwrap();
    let safe = pipeline::by_name("safe").unwrap();
    let mut ops = 0;
    for seed in files_under(&root().join("corpus/pipeline")) {
        let decoded = decode_file(
            rowguard::harness::appointments::harness(),
            &std::fs::read(&seed).unwrap(),
        )
        .unwrap();
        for op in &decoded.scenario.ops {
            let op: &Op = &serde_json::from_value(op.clone()).unwrap();
            let raw = safe.run_typed(op, &mut plain);
            match guarded(&mut tw, safe, op) {
                Ok(()) => assert!(raw.is_ok(), "{seed:?}: only the tripwire ran {op:?}"),
                Err(TripError::Failed { error, .. }) => {
                    assert_eq!(
                        Some(error.message),
                        raw.err().map(|e| e.message),
                        "{seed:?}"
                    )
                }
                Err(e) => panic!("{seed:?}: {op:?}: {e}"),
            }
            ops += 1;
        }
    }
    assert!(ops >= 4, "{ops} ops");
    assert_eq!(
        schema::dump(tw.connection()).unwrap(),
        schema::dump(&plain).unwrap()
    );
}

#[test]
fn the_operation_cannot_commit_around_the_tripwire() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_file(dir.path(), "delete");
    let before = picture(&app(&path));
    let mut tw = Tripwire::new(app(&path)).unwrap();
    let policy = appointments_policy(&[7]);
    for sql in [
        "UPDATE appointments SET notes = 'x' WHERE id = 8; COMMIT",
        "COMMIT; UPDATE appointments SET notes = 'x' WHERE id = 8",
        "SAVEPOINT a; UPDATE appointments SET notes = 'x' WHERE id = 8; RELEASE a",
        "DROP TRIGGER IF EXISTS temp.rg_0_update; UPDATE appointments SET notes = 'x' WHERE id = 8",
        "PRAGMA recursive_triggers = OFF",
    ] {
        let e = tw
            .run(&policy, |db| {
                let _ = db.execute_batch(sql);
                Ok::<_, DbError>(())
            })
            .unwrap_err();
        assert!(matches!(e, TripError::Tripped { .. }), "{sql}: {e}");
    }
    assert_eq!(picture(&app(&path)), before);
    // The tripwire's own BEGIN/COMMIT/ROLLBACK are cached on the connection
    // (a clean op ran first): the operation's text never gets them, through
    // any call, trimmed or not.
    tw.run(&policy, |db| {
        db.execute("UPDATE appointments SET notes = 'ok' WHERE id = 7", &[])
    })
    .unwrap();
    let before = picture(&app(&path));
    for sql in [
        "COMMIT",
        " COMMIT\n",
        "ROLLBACK",
        "BEGIN IMMEDIATE",
        "COMMIT;",
    ] {
        for call in 0..2 {
            let e = tw
                .run(&policy, |db| {
                    db.execute("UPDATE appointments SET notes = 'x' WHERE id = 8", &[])?;
                    let _ = if call == 0 {
                        db.execute(sql, &[]).map(|_| ())
                    } else {
                        db.query_row(sql, &[]).map(|_| ())
                    };
                    db.execute("UPDATE appointments SET notes = 'y' WHERE id = 8", &[])
                })
                .unwrap_err();
            assert!(matches!(e, TripError::Tripped { .. }), "{sql:?}: {e}");
        }
    }
    assert_eq!(picture(&app(&path)), before);
    // The tripwire still works after all that.
    tw.run(&policy, |db| {
        db.execute("UPDATE appointments SET notes = 'ok' WHERE id = 7", &[])
    })
    .unwrap();
}

/// One thread's share of the load: 2,500 ops on its own appointments (ids
/// congruent to `t` mod 4), one in four violating. Returns the clean ops.
pub fn load_ops(t: usize) -> Vec<(Op, bool)> {
    let mut rng = Rng::new(27 + t as u64);
    let ids: Vec<i64> = (1..=schema::DEFAULT_SIZE as i64)
        .filter(|i| i % 4 == t as i64)
        .collect();
    (0..2500)
        .map(|_| {
            let violating = rng.chance(1, 4);
            let notes = if violating {
                format!("moved by phone'-- {}", rng.below(1000))
            } else {
                format!("note {}", rng.below(1000))
            };
            let op = Op::Reschedule {
                id: *rng.pick(&ids),
                day: 1 + rng.below(27) as u8,
                slot: rng.below(16) as u8,
                notes,
                reason: "load".into(),
            };
            (op, violating)
        })
        .collect()
}

#[test]
fn four_threads_of_mixed_operations_on_a_wal_file_commit_exactly_the_clean_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_file(dir.path(), "wal");
    let legacy = pipeline::by_name("legacy").unwrap();
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let path = &path;
                s.spawn(move || {
                    let mut tw = Tripwire::new(app(path)).unwrap();
                    let (mut committed, mut tripped) = (0, 0);
                    for (op, violating) in load_ops(t) {
                        let policy = appointments_policy(&[op.target()]);
                        match tw.run(&policy, |db| legacy.run_typed(&op, db)) {
                            Ok(()) => {
                                assert!(!violating, "committed: {op:?}");
                                committed += 1;
                            }
                            Err(TripError::Tripped { verdict }) => {
                                assert!(violating, "false finding: {op:?}: {verdict:?}");
                                tripped += 1;
                            }
                            Err(e) => panic!("{op:?}: {e}"),
                        }
                    }
                    (committed, tripped)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // The independent diff: every clean op replayed on a plain connection.
    let mut expected = schema::open(schema::DEFAULT_SIZE).unwrap();
    for t in 0..4 {
        for (op, violating) in load_ops(t) {
            if !violating {
                legacy.run_typed(&op, &mut expected).unwrap();
            }
        }
    }
    let clean: usize = (0..4)
        .map(|t| load_ops(t).iter().filter(|o| !o.1).count())
        .sum();
    assert_eq!(outcomes.iter().map(|o| o.0).sum::<usize>(), clean);
    assert_eq!(outcomes.iter().map(|o| o.0 + o.1).sum::<usize>(), 10_000);
    assert_eq!(picture(&app(&path)), picture(&expected));
}

/// Not a test of its own: the child the kill test starts. It opens the
/// file named by `ROWGUARD_TRIPWIRE_CHILD`, writes inside an operation,
/// says so on stdout and waits to be killed.
#[test]
#[ignore = "run by a_process_killed_inside_an_operation_leaves_the_file_as_it_was"]
fn tripwire_child_pauses_inside_an_operation() {
    let path = std::env::var("ROWGUARD_TRIPWIRE_CHILD").expect("started by the kill test");
    let mut tw = Tripwire::new(app(Path::new(&path))).unwrap();
    let policy = appointments_policy(&[7]);
    let _ = tw.run(&policy, |db| {
        db.execute("UPDATE appointments SET notes = 'half' WHERE id = 7", &[])?;
        db.execute_batch("UPDATE appointments SET notes = 'everything'")?;
        println!("inside the operation");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        #[allow(unreachable_code)]
        Ok::<_, DbError>(())
    });
}

#[test]
fn a_process_killed_inside_an_operation_leaves_the_file_as_it_was() {
    for journal in ["delete", "wal"] {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture_file(dir.path(), journal);
        let before = picture(&app(&path));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tripwire::tripwire_child_pauses_inside_an_operation",
            ])
            .args(["--ignored", "--nocapture", "--test-threads", "1"])
            .env("ROWGUARD_TRIPWIRE_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let inside = lines.any(|l| l.is_ok_and(|l| l.contains("inside the operation")));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(inside, "{journal}: the child never reached the operation");
        assert_eq!(picture(&app(&path)), before, "{journal}");
    }
}

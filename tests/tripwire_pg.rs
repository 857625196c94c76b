//! The tripwire on PostgreSQL (issue 27), in a database each test creates
//! and drops: the incident is rolled back with its verdict and changes no
//! row; the `safe` seeds commit what a plain connection commits; an
//! operation cannot commit around the tripwire or empty its log; 4 threads x
//! 2,500 mixed operations commit every clean one and nothing else (against
//! an independent replay); a connection the server ends inside an operation
//! and a client process killed inside one change nothing; the server's
//! clean-path check (`settle`) never passes what the judge refuses; the C
//! module's arm and token check, driven by hand, refuse every other road.
//! Every test runs on both captures (the last on the C module only):
//! plpgsql, and the C module when `ROWGUARD_PG_TRIPWIRE_LIB` names it
//! (`.ci/postgres.sh` builds it; under CI=true it must).

use std::sync::atomic::{AtomicU32, Ordering};

use postgres::{Client, Config, NoTls};
use rowguard::guard::postgres::values;
use rowguard::guard::tripwire::postgres::Capture;
use rowguard::guard::tripwire::{PgTripwire, TripError};
use rowguard::guard::{Db, DbError, Value};
use rowguard::harness::appointments::appointments_policy;
use rowguard::harness::pipeline::{self, Op};
use rowguard::harness::scenario::decode_file;
use rowguard::harness::{schema, schema_pg};

use crate::postgres::server;
use crate::util::{files_under, root};

/// A database of its own, with the fixture and the tripwire installed; dropped with it.
pub struct Scratch {
    admin: Client,
    config: Config,
    name: String,
    url: String,
}

/// The captures to test: plpgsql, and the C module when it is built.
pub fn captures() -> Vec<Capture> {
    let built = std::env::var("ROWGUARD_PG_TRIPWIRE_LIB").is_ok_and(|v| !v.is_empty());
    if !built && std::env::var("CI").is_ok_and(|v| v == "true") && server().is_some() {
        panic!(
            "CI=true but ROWGUARD_PG_TRIPWIRE_LIB is not set (.ci/postgres.sh builds the C module)"
        );
    }
    let mut captures = vec![Capture::Plpgsql];
    if built {
        captures.push(Capture::Native);
    }
    captures
}

/// The token's SHA-256 in lowercase hex, computed apart from the guard
/// (the `sha2` crate), as the C module's arm commits to it.
pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the C module is built, for the tests of it alone; when it is
/// not, the test says why it skips (no server, or no module).
pub fn native() -> bool {
    if captures().contains(&Capture::Native) {
        return true;
    }
    if server().is_some() {
        crate::util::skip(
            "the tripwire's C module is not built (set ROWGUARD_PG_TRIPWIRE_LIB; .ci/postgres.sh builds it)",
        );
    }
    false
}

/// A scratch database with the C module installed, for the tests of it
/// alone; `None` (and the test skips, saying why) without a server or module.
pub fn native_scratch() -> Option<Scratch> {
    if !native() {
        return None;
    }
    Scratch::with(Capture::Native)
}

/// Installs `capture` on the `public` schema (again: as a migration does).
/// The test server's URL is a superuser's: C functions need one.
pub fn install(capture: Capture, owner: &mut Client) {
    match capture {
        Capture::Plpgsql => PgTripwire::install(owner, "public").unwrap(),
        Capture::Native => PgTripwire::install_native(
            owner,
            "public",
            &std::env::var("ROWGUARD_PG_TRIPWIRE_LIB").unwrap(),
        )
        .unwrap(),
    }
}

impl Scratch {
    pub fn with(capture: Capture) -> Option<Scratch> {
        static N: AtomicU32 = AtomicU32::new(0);
        let url = server()?.url;
        let mut config: Config = url.parse().unwrap();
        let mut admin = config.connect(NoTls).unwrap();
        let name = format!(
            "tripwire_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        config.dbname(&name);
        // the server's URL with this database in place of its own
        let base = url.split(['?', '#']).next().unwrap_or(&url);
        let url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));
        let scratch = Scratch {
            admin,
            config,
            name,
            url,
        };
        let mut owner = scratch.connect();
        owner
            .batch_execute(&schema_pg::sql(schema::DEFAULT_SIZE))
            .unwrap();
        install(capture, &mut owner);
        Some(scratch)
    }

    pub fn connect(&self) -> Client {
        self.config.connect(NoTls).unwrap()
    }

    /// The connection settings of the database's superuser.
    pub fn config(&self) -> Config {
        self.config.clone()
    }

    pub fn tripwire(&self) -> PgTripwire {
        PgTripwire::new(self.connect(), "public").unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Every row of the fixture tables as text, sorted; `appointment_log`
/// without its id (concurrent writers interleave those).
pub fn picture(client: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    for t in [
        "appointments",
        "appointment_log",
        "clients",
        "practitioners",
        "reminders",
    ] {
        let image = if t == "appointment_log" {
            "to_jsonb(x) - 'id'"
        } else {
            "to_jsonb(x)"
        };
        for r in client
            .query(&format!("SELECT ({image})::text FROM {t} x"), &[])
            .unwrap()
        {
            out.push(format!("{t}: {}", r.get::<_, String>(0)));
        }
    }
    out.sort();
    out
}

/// The same picture from a plain `Db` (a second database replayed by hand).
fn expected_picture(scratch: &Scratch, ops: &[Op]) -> Vec<String> {
    let mut client = scratch.connect();
    client
        .batch_execute("SET rowguard.tripwire = 'off'")
        .unwrap();
    let mut db = Plain(client);
    let legacy = pipeline::by_name("legacy").unwrap();
    for op in ops {
        legacy.run_typed(op, &mut db).unwrap();
    }
    picture(&mut db.0)
}

/// A plain client as a `Db` (no tripwire): the reference runs.
pub struct Plain(pub Client);

impl Db for Plain {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let text = rowguard::guard::postgres::lex::dollar_params(sql, !params.is_empty());
        let c = &mut self.0;
        values::with_bound(params, |refs| c.execute(text.as_str(), refs))
            .map(|n| n as usize)
            .map_err(|e| DbError::new(rowguard::guard::ErrorClass::Other, e.to_string()))
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0
            .batch_execute(sql)
            .map_err(|e| DbError::new(rowguard::guard::ErrorClass::Other, e.to_string()))
    }
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let text = rowguard::guard::postgres::lex::dollar_params(sql, !params.is_empty());
        let c = &mut self.0;
        let rows = values::with_bound(params, |refs| c.query(text.as_str(), refs))
            .map_err(|e| DbError::new(rowguard::guard::ErrorClass::Other, e.to_string()))?;
        match rows.first() {
            Some(r) => values::row_values(r)
                .map_err(|e| DbError::new(rowguard::guard::ErrorClass::Other, e.to_string())),
            None => Err(DbError::no_rows()),
        }
    }
    fn database(&self) -> &'static str {
        "postgres"
    }
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

/// Both captures give the same verdict: every cell outside the policy, with
/// its old and new value.
#[test]
fn the_incident_is_rolled_back_with_its_verdict_on_postgres() {
    let verdicts: Vec<Vec<String>> = captures()
        .into_iter()
        .filter_map(the_incident_is_rolled_back_with_its_verdict_on_postgres_with)
        .collect();
    for v in verdicts.iter().skip(1) {
        assert_eq!(v, &verdicts[0], "the captures disagree");
    }
}

fn the_incident_is_rolled_back_with_its_verdict_on_postgres_with(
    capture: Capture,
) -> Option<Vec<String>> {
    let scratch = Scratch::with(capture)?;
    let before = picture(&mut scratch.connect());
    let mut tw = scratch.tripwire();
    assert_eq!(tw.capture(), capture);
    let legacy = pipeline::by_name("legacy").unwrap();
    let e = tw
        .run(&appointments_policy(&[7]), |db| {
            legacy.run_typed(&incident(), db)
        })
        .unwrap_err();
    let TripError::Tripped { verdict } = &e else {
        panic!("{capture:?}: not tripped: {e}");
    };
    let rows: std::collections::BTreeSet<&str> = verdict
        .outside()
        .filter(|c| &*c.table == "appointments")
        .map(|c| &*c.key)
        .collect();
    assert_eq!(rows.len(), schema::DEFAULT_SIZE - 1, "{capture:?}: {e}");
    assert_eq!(picture(&mut scratch.connect()), before, "{capture:?}");
    if capture == Capture::Plpgsql {
        let left: i64 = scratch
            .connect()
            .query_one("SELECT count(*) FROM rowguard_tripwire.log", &[])
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "the log keeps nothing");
    }
    let mut cells: Vec<String> = verdict.outside().map(|c| format!("{c:?}")).collect();
    cells.sort();
    Some(cells)
}

#[test]
fn the_safe_seeds_commit_what_a_plain_connection_commits_on_postgres() {
    for capture in captures() {
        the_safe_seeds_commit_what_a_plain_connection_commits_on_postgres_with(capture);
    }
}

fn the_safe_seeds_commit_what_a_plain_connection_commits_on_postgres_with(capture: Capture) {
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    let Some(reference) = Scratch::with(capture) else {
        return;
    };
    let mut tw = scratch.tripwire();
    let mut plain = Plain(reference.connect());
    let safe = pipeline::by_name("safe").unwrap();
    for seed in files_under(&root().join("corpus/pipeline")) {
        let decoded = decode_file(
            rowguard::harness::appointments::harness(),
            &std::fs::read(&seed).unwrap(),
        )
        .unwrap();
        for op in &decoded.scenario.ops {
            let op: &Op = &serde_json::from_value(op.clone()).unwrap();
            let raw = safe.run_typed(op, &mut plain);
            let keys = crate::tripwire::targets(&mut Plain(reference.connect()), op);
            match tw.run(&appointments_policy(&keys), |db| safe.run_typed(op, db)) {
                Ok(()) => assert!(raw.is_ok(), "{seed:?}: only the tripwire ran {op:?}"),
                Err(TripError::Failed { .. }) => assert!(raw.is_err(), "{seed:?}: {op:?}"),
                Err(e) => panic!("{seed:?}: {op:?}: {e}"),
            }
        }
    }
    assert_eq!(picture(&mut scratch.connect()), picture(&mut plain.0));
}

#[test]
fn the_operation_cannot_commit_around_the_tripwire_on_postgres() {
    for capture in captures() {
        the_operation_cannot_commit_around_the_tripwire_on_postgres_with(capture);
    }
}

/// The C module's arm value for a token SQL could make up,
/// "0123456789abcdef": its SHA-256, then a policy allowing row 8.
macro_rules! forged {
    () => {
        "64:9f9f5111f7b27a781f1f1ddde5ebc2dd2b796bfc7365c9c28b548e564176929f,12:appointments,2:id,1:1,2:id,1:1,5:notes,1:1,15:appointment_log,14:appointment_id,1:i,1:1,1:8,1:0,"
    };
}
const FORGED: &str = forged!();
const FORGED_ARM: &str = concat!("SET rowguard_tripwire.arm = '", forged!(), "'");

fn the_operation_cannot_commit_around_the_tripwire_on_postgres_with(capture: Capture) {
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    let before = picture(&mut scratch.connect());
    let mut tw = scratch.tripwire();
    let policy = appointments_policy(&[7]);
    for sql in [
        "UPDATE appointments SET notes = 'x' WHERE id = 8; COMMIT".to_string(),
        "COMMIT; UPDATE appointments SET notes = 'x' WHERE id = 8".to_string(),
        "UPDATE appointments SET notes = 'x' WHERE id = 8; SELECT rowguard_tripwire.take('guess')".to_string(),
        "UPDATE appointments SET notes = 'x' WHERE id = 8; DELETE FROM rowguard_tripwire.log".to_string(),
        "TRUNCATE reminders CASCADE".to_string(),
        "SET rowguard.tripwire = 'off'; UPDATE appointments SET notes = 'x' WHERE id = 8".to_string(),
        "ROLLBACK; UPDATE appointments SET notes = 'x' WHERE id = 8".to_string(),
        "ROLLBACK; BEGIN; UPDATE appointments SET notes = 'x' WHERE id = 8".to_string(),
        // the C module's arm and settle, with a token the SQL made up (armed
        // with its SHA-256 and a policy allowing row 8), in the operation's
        // transaction or a new one
        format!("UPDATE appointments SET notes = 'x' WHERE id = 8; {FORGED_ARM}; \
         SELECT * FROM rowguard_tripwire.take('0123456789abcdef')"),
        format!("UPDATE appointments SET notes = 'x' WHERE id = 8; {FORGED_ARM}; \
         SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        format!("ROLLBACK; BEGIN; {FORGED_ARM}; \
         UPDATE appointments SET notes = 'x' WHERE id = 8; SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        // the same, a call per statement (the arm must be alone, outside a
        // transaction block), and through set_config()
        format!("ROLLBACK | {FORGED_ARM} | UPDATE appointments SET notes = 'x' WHERE id = 8 | SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        format!("ROLLBACK | BEGIN | SELECT set_config('rowguard_tripwire.arm', '{FORGED}', true) | UPDATE appointments SET notes = 'x' WHERE id = 8 | SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        // and from inside a function: a DO block, a function's SET clause
        format!("ROLLBACK | DO $$ BEGIN EXECUTE $a${FORGED_ARM}$a$; END $$ | UPDATE appointments SET notes = 'x' WHERE id = 8 | SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        format!("ROLLBACK | CREATE FUNCTION pg_temp.arm() RETURNS int LANGUAGE sql SET rowguard_tripwire.arm = '{FORGED}' AS 'SELECT 1' | BEGIN | SELECT pg_temp.arm() | UPDATE appointments SET notes = 'x' WHERE id = 8 | SAVEPOINT rowguard_settle_0123456789abcdef; COMMIT"),
        // the C module's settle procedure, with a made-up token, after a
        // forged arm, and from inside a DO block
        "UPDATE appointments SET notes = 'x' WHERE id = 8; CALL rowguard_tripwire.settle('0123456789abcdef')".to_string(),
        format!("UPDATE appointments SET notes = 'x' WHERE id = 8; {FORGED_ARM}; CALL rowguard_tripwire.settle('0123456789abcdef')"),
        format!("ROLLBACK | {FORGED_ARM} | UPDATE appointments SET notes = 'x' WHERE id = 8 | CALL rowguard_tripwire.settle('0123456789abcdef')"),
        format!("ROLLBACK | {FORGED_ARM} | UPDATE appointments SET notes = 'x' WHERE id = 8 | DO $$ BEGIN CALL rowguard_tripwire.settle('0123456789abcdef'); END $$"),
        "UPDATE appointments SET notes = 'x' WHERE id = 8; SELECT rowguard_tripwire.disarm('0123456789abcdef')".to_string(),
        "UPDATE appointments SET notes = 'x' WHERE id = 8; RESET ALL; DISCARD ALL".to_string(),
    ] {
        let e = tw
            .run(&policy, |db| {
                // ` | ` separates calls
                for call in sql.split(" | ") {
                    let _ = db.execute_batch(call);
                }
                Ok::<_, DbError>(())
            })
            .unwrap_err();
        assert!(!matches!(e, TripError::Failed { .. }), "{sql}: {e}");
        assert_eq!(picture(&mut scratch.connect()), before, "{sql}");
    }
    // the token is never readable, even by the operation's own SQL (on a
    // new connection: the cases above leave their own values set)
    let mut tw = scratch.tripwire();
    let seen = tw
        .run(&policy, |db| {
            db.execute("UPDATE appointments SET notes = 'ok' WHERE id = 7", &[])?;
            db.query_row(
                "SELECT coalesce(current_setting('rowguard_tripwire.arm', true), '') \
                 || coalesce((SELECT string_agg(setting, '') FROM pg_settings WHERE name LIKE 'rowguard_tripwire%'), '')",
                &[],
            )
        })
        .unwrap();
    assert_eq!(seen, [Value::Text(String::new())], "{capture:?}");
    let notes: String = scratch
        .connect()
        .query_one("SELECT notes FROM appointments WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(notes, "ok");
}

#[test]
fn four_threads_of_mixed_operations_on_postgres_commit_exactly_the_clean_ones() {
    for capture in captures() {
        four_threads_of_mixed_operations_on_postgres_commit_exactly_the_clean_ones_with(capture);
    }
}

fn four_threads_of_mixed_operations_on_postgres_commit_exactly_the_clean_ones_with(
    capture: Capture,
) {
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    let Some(reference) = Scratch::with(capture) else {
        return;
    };
    let legacy = pipeline::by_name("legacy").unwrap();
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let config = &scratch.config;
                s.spawn(move || {
                    let client = config.connect(NoTls).unwrap();
                    let mut tw = PgTripwire::new(client, "public").unwrap();
                    let (mut committed, mut tripped) = (0, 0);
                    for (op, violating) in crate::tripwire::load_ops(t) {
                        let policy = appointments_policy(&[op.target()]);
                        // Whole-table updates lock rows in different orders,
                        // and a clean update queued on a row between two of
                        // them can close the cycle: the server ends one
                        // transaction (as it would without the tripwire), the
                        // tripwire rolls it back, and the application retries,
                        // as applications on PostgreSQL must.
                        let mut attempts = 0;
                        let outcome = loop {
                            attempts += 1;
                            match tw.run(&policy, |db| legacy.run_typed(&op, db)) {
                                Err(TripError::Failed { error, .. })
                                    if error.message.contains("40P01") && attempts < 50 => {}
                                outcome => break outcome,
                            }
                        };
                        match outcome {
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
    let clean: Vec<Op> = (0..4)
        .flat_map(crate::tripwire::load_ops)
        .filter(|o| !o.1)
        .map(|o| o.0)
        .collect();
    assert_eq!(outcomes.iter().map(|o| o.0).sum::<usize>(), clean.len());
    assert_eq!(outcomes.iter().map(|o| o.0 + o.1).sum::<usize>(), 10_000);
    assert_eq!(
        picture(&mut scratch.connect()),
        expected_picture(&reference, &clean)
    );
}

#[test]
fn a_connection_ended_inside_an_operation_changes_nothing_on_postgres() {
    for capture in captures() {
        a_connection_ended_inside_an_operation_changes_nothing_on_postgres_with(capture);
    }
}

fn a_connection_ended_inside_an_operation_changes_nothing_on_postgres_with(capture: Capture) {
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    let before = picture(&mut scratch.connect());
    let mut tw = scratch.tripwire();
    let pid: i32 = tw
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let policy = appointments_policy(&[7]);
    let killer = scratch.connect();
    let e = tw
        .run(&policy, move |db| {
            db.execute("UPDATE appointments SET notes = 'half' WHERE id = 7", &[])?;
            // The client process dies here: its connection ends mid-transaction.
            let mut killer = killer;
            killer
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .unwrap();
            db.execute("UPDATE appointments SET notes = 'rest' WHERE id = 7", &[])
        })
        .unwrap_err();
    assert!(matches!(e, TripError::Failed { .. }), "{e}");
    assert_eq!(picture(&mut scratch.connect()), before);
}

/// Not a test of its own: the child the kill test starts. It connects to
/// the database `ROWGUARD_TRIPWIRE_PG_CHILD` names, writes inside an
/// operation, says so on stdout and waits to be killed.
#[test]
#[ignore = "run by a_client_process_killed_inside_an_operation_changes_nothing_on_postgres"]
fn tripwire_pg_child_pauses_inside_an_operation() {
    let url = std::env::var("ROWGUARD_TRIPWIRE_PG_CHILD").expect("started by the kill test");
    let mut tw = PgTripwire::new(Client::connect(&url, NoTls).unwrap(), "public").unwrap();
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
fn a_client_process_killed_inside_an_operation_changes_nothing_on_postgres() {
    for capture in captures() {
        a_client_process_killed_inside_an_operation_changes_nothing_on_postgres_with(capture);
    }
}

fn a_client_process_killed_inside_an_operation_changes_nothing_on_postgres_with(capture: Capture) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    let before = picture(&mut scratch.connect());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tripwire_pg::tripwire_pg_child_pauses_inside_an_operation",
        ])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env("ROWGUARD_TRIPWIRE_PG_CHILD", &scratch.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let inside = lines.any(|l| l.is_ok_and(|l| l.contains("inside the operation")));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(inside, "the child never reached the operation");
    // the server ends the dead client's session and rolls its transaction back
    let mut watcher = scratch.connect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let others: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed client's session is still there"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(picture(&mut watcher), before);
}

/// The server's clean-path check passes only what the judge allows: each
/// case commits exactly when the judge (the fuzzing guard's policy) says
/// clean, whichever path decided it.
#[test]
fn the_servers_clean_path_never_passes_what_the_judge_refuses() {
    for capture in captures() {
        the_servers_clean_path_never_passes_what_the_judge_refuses_with(capture);
    }
}

fn the_servers_clean_path_never_passes_what_the_judge_refuses_with(capture: Capture) {
    let Some(scratch) = Scratch::with(capture) else {
        return;
    };
    // (statements, policy keys as text or integer, expected to commit)
    let int = |k: i64| Value::Integer(k);
    let cases: Vec<(&str, Vec<Value>, bool)> = vec![
        // allowed: writable columns of the target, its audit row and reminders
        (
            "UPDATE appointments SET notes = 'a' WHERE id = 7",
            vec![int(7)],
            true,
        ),
        // a write rolled back to a savepoint is no change
        (
            "SAVEPOINT a; UPDATE appointments SET notes = 'z' WHERE id = 8; ROLLBACK TO SAVEPOINT a; \
             SAVEPOINT b; UPDATE appointments SET notes = 'z' WHERE id = 9; RELEASE SAVEPOINT b; \
             ROLLBACK TO SAVEPOINT a; UPDATE appointments SET notes = 'a' WHERE id = 7",
            vec![int(7)],
            true,
        ),
        (
            "SAVEPOINT a; UPDATE appointments SET notes = 'a' WHERE id = 7; RELEASE SAVEPOINT a; \
             SAVEPOINT b; UPDATE appointments SET reason = 'r' WHERE id = 7",
            vec![int(7)],
            true,
        ),
        (
            "UPDATE appointments SET notes = 'a', reason = 'b' WHERE id IN (7, 8)",
            vec![int(7), int(8)],
            true,
        ),
        (
            "DELETE FROM reminders WHERE appointment_id = 7",
            vec![int(7)],
            true,
        ),
        (
            "INSERT INTO reminders (appointment_id, send_at) VALUES (7, '2026-01-01 09:00')",
            vec![int(7)],
            true,
        ),
        (
            "UPDATE appointments SET notes = notes WHERE id = 7",
            vec![int(7)],
            true,
        ),
        // refused: another row, a column outside writable, the key moved
        (
            "UPDATE appointments SET notes = 'a' WHERE id IN (7, 8)",
            vec![int(7)],
            false,
        ),
        (
            "SAVEPOINT a; SAVEPOINT b; UPDATE appointments SET notes = 'z' WHERE id = 8; RELEASE SAVEPOINT b; \
             SAVEPOINT c; UPDATE appointments SET notes = 'a' WHERE id = 7; ROLLBACK TO SAVEPOINT c",
            vec![int(7)],
            false,
        ),
        (
            "UPDATE appointments SET status = 'x' WHERE id = 7",
            vec![int(7)],
            false,
        ),
        (
            "UPDATE appointments SET id = 8000 WHERE id = 7",
            vec![int(7), int(8000)],
            false,
        ),
        (
            "UPDATE appointments SET client_id = client_id + 1 WHERE id = 7",
            vec![int(7)],
            false,
        ),
        ("DELETE FROM appointments WHERE id = 7", vec![int(7)], false),
        (
            "INSERT INTO reminders (appointment_id, send_at) VALUES (8, '2026-01-01 09:00')",
            vec![int(7)],
            false,
        ),
        (
            "UPDATE reminders SET send_at = send_at || 'x' WHERE appointment_id = (SELECT min(appointment_id) FROM reminders WHERE appointment_id <> 7)",
            vec![int(7)],
            false,
        ),
        (
            "UPDATE clients SET name = 'x' WHERE id = 1",
            vec![int(7)],
            false,
        ),
        // a key of another type never matches (the judge compares typed values)
        (
            "UPDATE appointments SET notes = 'a' WHERE id = 7",
            vec![Value::Text("7".into())],
            false,
        ),
        (
            "UPDATE appointments SET notes = 'a' WHERE id = 7",
            vec![Value::Real(7.0)],
            false,
        ),
    ];
    let mut tw = scratch.tripwire();
    let mut judged = false;
    for (sql, keys, commits) in cases {
        let mut policy = appointments_policy(&[]);
        policy.keys = keys.clone();
        let before = picture(&mut scratch.connect());
        let outcome = tw.run(&policy, |db| db.execute_batch(sql));
        let after = picture(&mut scratch.connect());
        // the judge's own read of the rows (`take`) is prepared the first
        // time the server's check cannot settle: never on the clean cases,
        // which come first, so their clean path is the server's
        let take_prepared: i64 = tw
            .client()
            .query_one(
                "SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, chr(46) || 'take(') > 0",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(take_prepared > 0, !commits || judged, "{sql}");
        judged |= !commits;
        match (&outcome, commits) {
            (Ok(()), true) => {}
            (Err(TripError::Tripped { verdict }), false) => {
                assert!(verdict.outside().count() > 0, "{sql} {keys:?}");
                assert_eq!(after, before, "{sql} {keys:?}: tripped but changed");
            }
            // a constraint refused it before the judge could (the key moved under a reference)
            (Err(TripError::Failed { .. }), false) => {
                assert_eq!(after, before, "{sql} {keys:?}: failed but changed");
            }
            _ => panic!("{sql} with keys {keys:?}: expected commit={commits}, got {outcome:?}"),
        }
    }
}

/// The C module's own protocol, driven by hand: its SHA-256 (its own code,
/// not the server's) opens a commitment for tokens of every length around
/// the hash's block and padding boundaries, and nothing else opens it; the
/// arm begins a transaction block, only alone, only by a SET, and only on
/// a disarmed session.
#[test]
fn the_c_modules_arm_and_token_check_on_postgres() {
    let Some(scratch) = native_scratch() else {
        return;
    };
    let mut c = scratch.connect();
    c.batch_execute("SELECT rowguard_tripwire.loaded()")
        .unwrap();
    let arm = |t: &str| format!("SET rowguard_tripwire.arm = '64:{},'", sha256_hex(t));
    let code = |e: postgres::Error| e.code().map(|c| c.code().to_string()).unwrap_or_default();
    let take = "SELECT count(*) FROM rowguard_tripwire.take($1)";
    for len in [
        16, 17, 31, 32, 47, 55, 56, 57, 63, 64, 65, 100, 119, 120, 127, 128,
    ] {
        let token: String = (0..len)
            .map(|i| char::from(b"0123456789abcdef"[(i * 7 + len) % 16]))
            .collect();
        // the right token reads the rows, and the transaction commits
        c.batch_execute(&arm(&token)).unwrap();
        c.batch_execute(&format!(
            "UPDATE appointments SET notes = 'len {len}' WHERE id = 7"
        ))
        .unwrap();
        let rows: i64 = c.query_one(take, &[&token]).unwrap().get(0);
        assert_eq!(rows, 2, "{len}: the update and its audit row");
        c.batch_execute("COMMIT").unwrap();
        // one byte off reads nothing, commits nothing, disarms nothing
        let mut wrong = token.clone().into_bytes();
        wrong[len / 2] = if wrong[len / 2] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).unwrap();
        c.batch_execute(&arm(&token)).unwrap();
        c.batch_execute("UPDATE appointments SET notes = 'wrong' WHERE id = 7")
            .unwrap();
        assert_eq!(
            code(c.query_one(take, &[&wrong]).unwrap_err()),
            "42501",
            "{len}"
        );
        c.batch_execute("ROLLBACK").unwrap();
        let disarm = "SELECT rowguard_tripwire.disarm($1)";
        assert_eq!(
            code(c.execute(disarm, &[&wrong]).unwrap_err()),
            "42501",
            "{len}"
        );
        c.execute(disarm, &[&token]).unwrap();
    }
    let notes: String = c
        .query_one("SELECT notes FROM appointments WHERE id = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(notes, "len 128");
    // tokens shorter than 16 bytes or longer than 128 open nothing
    for token in ["0123456789abcde".to_string(), "a".repeat(129)] {
        c.batch_execute(&arm(&token)).unwrap();
        assert_eq!(code(c.query_one(take, &[&token]).unwrap_err()), "42501");
        c.batch_execute("ROLLBACK").unwrap();
        assert_eq!(
            code(
                c.execute("SELECT rowguard_tripwire.disarm($1)", &[&token])
                    .unwrap_err()
            ),
            "42501"
        );
        c.execute("SELECT rowguard_tripwire.disarm($1)", &[&"0".repeat(16)])
            .unwrap_err();
        // (a session armed with a token it cannot open stays armed: only a
        // new connection gets out)
        c = scratch.connect();
        c.batch_execute("SELECT rowguard_tripwire.loaded()")
            .unwrap();
    }
    // the arm: alone, by a SET, on a disarmed session
    let token = "fedcba9876543210fedcba9876543210";
    c.batch_execute("BEGIN").unwrap();
    assert_eq!(code(c.batch_execute(&arm(token)).unwrap_err()), "25001");
    c.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        code(
            c.batch_execute(&format!("{}; SELECT 1", arm(token)))
                .unwrap_err()
        ),
        "25001"
    );
    let value = format!("64:{},", sha256_hex(token));
    let set_config = "SELECT set_config('rowguard_tripwire.arm', $1, false)";
    assert!(c.execute(set_config, &[&value]).is_err());
    // not from inside a function either: a DO block, a function's SET clause
    let inside = format!("DO $$ BEGIN EXECUTE $a${}$a$; END $$", arm(token));
    assert_eq!(code(c.batch_execute(&inside).unwrap_err()), "25001");
    let clause = format!(
        "CREATE FUNCTION pg_temp.arm() RETURNS int LANGUAGE sql SET rowguard_tripwire.arm = '{value}' AS 'SELECT 1'"
    );
    assert_eq!(code(c.batch_execute(&clause).unwrap_err()), "22023");
    c.batch_execute(&arm(token)).unwrap();
    c.batch_execute("ROLLBACK").unwrap();
    assert_eq!(code(c.batch_execute(&arm(token)).unwrap_err()), "42501");
    c.execute("SELECT rowguard_tripwire.disarm($1)", &[&token])
        .unwrap();
    c.batch_execute(&arm(token)).unwrap();
    c.batch_execute("ROLLBACK").unwrap();
}

/// The judge never skips on PostgreSQL (issue 36): with a long-lived
/// tripwire, a column added while the application runs, a table a
/// migration adds (the install run again, as docs/production.md says) and a table
/// renamed are read from the catalog at judge time and judged. Each write
/// outside the policy commits nothing (every table of the schema, read by
/// the owner, unchanged), and a clean write still commits, on both captures.
#[test]
fn what_the_tripwire_did_not_know_when_built_is_judged_on_postgres() {
    for capture in captures() {
        let Some(scratch) = Scratch::with(capture) else {
            return;
        };
        let mut tw = scratch.tripwire();
        let mut owner = scratch.connect();
        let policy = appointments_policy(&[7]);
        let clean = |tw: &mut PgTripwire| {
            tw.run(&policy, |db| {
                db.execute("UPDATE appointments SET notes = 'clean' WHERE id = 7", &[])
            })
        };
        clean(&mut tw).unwrap();
        let everything = |c: &mut Client| -> Vec<String> {
            let tables: Vec<String> = c
                .query(
                    "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut rows = Vec::new();
            for t in tables {
                for r in c
                    .query(
                        &format!("SELECT to_jsonb(x)::text FROM public.\"{t}\" x"),
                        &[],
                    )
                    .unwrap()
                {
                    rows.push(format!("{t}: {}", r.get::<_, String>(0)));
                }
            }
            rows.sort();
            rows
        };
        let trips = |tw: &mut PgTripwire, owner: &mut Client, sql: &str| {
            let before = everything(owner);
            let e = tw.run(&policy, |db| db.execute_batch(sql)).unwrap_err();
            assert!(
                matches!(&e, TripError::Tripped { verdict } if verdict.outside().count() > 0),
                "{capture:?} {sql}: {e}"
            );
            assert_eq!(everything(owner), before, "{capture:?} {sql} committed");
        };
        // a column added while the application runs, written on the target row
        owner
            .batch_execute("ALTER TABLE appointments ADD COLUMN role text NOT NULL DEFAULT 'user'")
            .unwrap();
        trips(
            &mut tw,
            &mut owner,
            "UPDATE appointments SET role = 'admin' WHERE id = 7",
        );
        // a table a migration adds; the install runs again for its triggers
        owner
            .batch_execute("CREATE TABLE later (id int PRIMARY KEY, v text); INSERT INTO later VALUES (1, 'x')")
            .unwrap();
        install(capture, &mut owner);
        trips(&mut tw, &mut owner, "UPDATE later SET v = 'owned'");
        trips(&mut tw, &mut owner, "INSERT INTO later VALUES (2, 'new')");
        // a table renamed while the application runs
        owner
            .batch_execute("ALTER TABLE later RENAME TO renamed")
            .unwrap();
        trips(&mut tw, &mut owner, "DELETE FROM renamed");
        clean(&mut tw).unwrap();
    }
}

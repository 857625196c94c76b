//! The code under test against the guard on PostgreSQL (issue 21): it cannot
//! see, escape, blind or outlast the guard, and no run, interrupted or
//! killed, leaves anything on the server. The escapes and tamperings of one
//! statement are rows of the channel table in `postgres.rs`; here are what
//! needs a process, a signal, a chosen role or generated text.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rowguard::guard::postgres::{lex, PgOptions};
use rowguard::guard::{Backend, Db, Kind, Verdict};
use rowguard::harness::appointments::pg_guard_for;
use rowguard::harness::rng::Rng;
use rowguard::harness::schema;

use crate::postgres::server;

fn admin(options: &PgOptions) -> postgres::Client {
    postgres::Client::connect(&options.url, postgres::NoTls).unwrap()
}

/// Databases and roles of the process `pid` (all of rowguard's carry its pid in the name).
fn left_by(options: &PgOptions, pid: u32) -> i64 {
    let like = format!("rowguard\\_{pid}\\_%");
    admin(options)
        .query_one(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE $1) + (SELECT count(*) FROM pg_roles WHERE rolname LIKE $1)",
            &[&like],
        )
        .unwrap()
        .get(0)
}

/// Runs `sql` as one input aimed at appointment 7 on a guard made with `options`.
fn one_input(options: &PgOptions, sql: &str) -> Verdict {
    let mut g = pg_guard_for(options, schema::DEFAULT_SIZE, 7).unwrap();
    g.begin_input().unwrap();
    let _ = g.execute_batch(sql);
    g.end_input().unwrap()
}

#[test]
fn a_role_name_the_user_chooses_hides_the_guard_from_current_user() {
    let Some(mut options) = server() else { return };
    options.app_role = Some(format!("clinic_app_{}", std::process::id()));
    // In production current_user is the application's role: this writes every row.
    let v = one_input(
        &options,
        "UPDATE appointments SET notes = 'x' WHERE id = 7 OR current_user NOT LIKE 'rowguard%'",
    );
    assert!(v.kinds().contains(&Kind::WriteOutsideTarget), "{v:#?}");
    // Two guards of one process share the chosen role; the last one drops it.
    let a = pg_guard_for(&options, schema::DEFAULT_SIZE, 7).unwrap();
    let b = pg_guard_for(&options, schema::DEFAULT_SIZE, 7).unwrap();
    assert_eq!(a.app_role(), b.app_role());
    drop((a, b));
    let role = options.app_role.clone().unwrap();
    let left: i64 = admin(&options)
        .query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1", &[&role])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // The same from the command line; a name the server cannot take is one line, exit 2.
    let out = crate::util::rowguard(&[
        "check",
        "--database",
        &options.url,
        "--database-role",
        &role,
        "UPDATE appointments SET notes = 'x' WHERE id = 7 OR current_user NOT LIKE 'rowguard%'",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in ["x".repeat(64), "postgres".to_string()] {
        let out = crate::util::rowguard(&[
            "check",
            "--database",
            &options.url,
            "--database-role",
            &bad,
            "SELECT 1",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn an_input_that_turns_its_timeouts_off_still_ends_within_the_limit() {
    let Some(options) = server() else { return };
    for sql in [
        "SELECT set_config('statement_timeout', '0', true); SELECT pg_sleep(30)",
        "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; SELECT pg_sleep(30)",
        "DO $$ BEGIN PERFORM set_config('statement_timeout', '0', true); PERFORM pg_sleep(30); END $$",
    ] {
        // Ended by the server's own timeout (armed when the statement began)
        // or by the watchdog, never by pg_sleep running out.
        let v = one_input(&options, sql);
        assert!(v.kinds().contains(&Kind::ResourceLimit), "{sql}: {v:#?}");
    }
}

/// Calls each under every per-call limit still end with the input's.
#[test]
fn an_input_of_many_slow_calls_ends_within_the_input_limit() {
    let Some(options) = server() else { return };
    let mut g = pg_guard_for(&options, schema::DEFAULT_SIZE, 7).unwrap();
    g.begin_input().unwrap();
    for _ in 0..5 {
        let _ = g.execute_batch("SELECT pg_sleep(2.5)");
    }
    let v = g.end_input().unwrap();
    let input_limit = v
        .statements
        .iter()
        .flat_map(|s| &s.findings)
        .any(|f| f.kind == Kind::ResourceLimit && f.message.contains("input ran past"));
    assert!(input_limit, "{v:#?}");
}

#[test]
fn text_that_would_stall_the_servers_lexer_is_never_sent() {
    let Some(options) = server() else { return };
    for sql in [
        format!("SELECT 1 {}", "/*".repeat(100_000)),
        format!("SELECT 1 + {}1", "+-".repeat(50_000)),
        format!("SELECT '{}'", "*/".repeat(50_000)),
    ] {
        let v = one_input(&options, &sql);
        assert!(v.kinds().contains(&Kind::ResourceLimit), "{v:#?}");
        assert!(v.statements[0]
            .findings
            .iter()
            .any(|f| f.message.contains("not sent")));
    }
    assert_eq!(lex::longest_operator_run(&"/*".repeat(100_000)), 200_000);
}

/// Every object kind, and a schema named like rowguard's, makes a database foreign.
#[test]
fn a_database_holding_any_object_rowguard_did_not_make_is_refused() {
    let Some(options) = server() else { return };
    let mut a = admin(&options);
    let (base, _) = options.url.rsplit_once('/').unwrap();
    for (i, object) in [
        "CREATE SEQUENCE invoice_no",
        "CREATE SCHEMA rowguard_1_deadbeef_0",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE VIEW v AS SELECT 1 AS x",
        "CREATE TYPE mood AS ENUM ('ok')",
    ]
    .iter()
    .enumerate()
    {
        let db = format!("rowguard_foreign_{}_{i}", std::process::id());
        a.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .unwrap();
        a.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        let url = format!("{base}/{db}");
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .batch_execute(object)
            .unwrap();
        let out = crate::util::rowguard(&["check", "--database", &url, "SELECT 1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{object}: {stderr}");
        assert!(
            stderr.contains("already holds 1 object(s)") && stderr.trim().lines().count() == 1,
            "{object}: {stderr}"
        );
        a.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }
}

fn spawn_check(options: &PgOptions, sql: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(["check", "--database", &options.url, sql])
        .env_remove("ROWGUARD_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the child has made its database (its query is running).
fn wait_for_objects(options: &PgOptions, pid: u32) {
    let start = Instant::now();
    while left_by(options, pid) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run made nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Backends running `sleep` (each test sleeps for its own number of seconds).
fn running(options: &PgOptions, sleep: &str) -> i64 {
    let like = format!("%{sleep}%");
    admin(options)
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            &[&like],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_signal_cancels_the_query_and_drops_everything() {
    let Some(options) = server() else { return };
    for signal in ["TERM", "INT", "HUP"] {
        let child = spawn_check(&options, "SELECT pg_sleep(21)");
        let pid = child.id();
        wait_for_objects(&options, pid);
        Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("interrupted") && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert_eq!(left_by(&options, pid), 0, "SIG{signal} left objects");
        assert_eq!(
            running(&options, "pg_sleep(21)"),
            0,
            "SIG{signal}: the server still runs the query"
        );
    }
}

#[test]
fn what_a_killed_run_left_is_dropped_by_the_next_run() {
    let Some(options) = server() else { return };
    let mut child = spawn_check(&options, "SELECT pg_sleep(22)");
    let pid = child.id();
    wait_for_objects(&options, pid);
    child.kill().unwrap();
    child.wait().unwrap();
    // (any rowguard run started from now on may drop them: not asserted here)
    let next = crate::util::rowguard(&[
        "check",
        "--database",
        &options.url,
        "UPDATE appointments SET notes = 'n' WHERE id = 7",
    ]);
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(
        left_by(&options, pid),
        0,
        "the next run dropped the dead run's objects"
    );
    assert_eq!(running(&options, "pg_sleep(22)"), 0);
}

/// Generated text with the lexical forms where PostgreSQL's reading differs
/// from SQLite's: the statement count of `lex::statements` must be the
/// server's (it counts the commands it ran). The splitter only feeds the
/// engine's feedback; this keeps that feedback honest.
#[test]
fn the_statement_splitter_agrees_with_the_server() {
    let Some(options) = server() else { return };
    let pieces = [
        "SELECT 1",
        ";",
        " ",
        "\r",
        "\n",
        "\t",
        "\x0c",
        "-- c;",
        "-- c;\r",
        "-- c;\n",
        "/* ; */",
        "/* a /* ; */ b */",
        "'a;b'",
        "'it''s;'",
        "E'a\\\\';'",
        "E'\\';'",
        "$$;$$",
        "$t$;$$;$t$",
        "a$$b$$",
        "\"q;\"",
        "U&'x;'",
        "X'1F'",
        "B'01'",
        "1",
        "AS x",
        "(SELECT 2)",
        "x$1",
        "_$$",
    ];
    let mut c = admin(&options);
    let mut rng = Rng::new(21);
    let mut compared = 0;
    for _ in 0..600 {
        let n = 1 + rng.below(8);
        let text: String = (0..n).map(|_| *rng.pick(&pieces)).collect();
        let text = format!("SELECT 0 {text}");
        if let Ok(count) = commands(&mut c, &text) {
            assert_eq!(lex::statements(&text).len(), count, "{text:?}");
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} texts ran on the server");
}

/// How many commands the server ran for `text` (simple query protocol, in a
/// read-only transaction rolled back), or its error.
fn commands(c: &mut postgres::Client, text: &str) -> Result<usize, postgres::Error> {
    c.batch_execute("BEGIN READ ONLY")?;
    let n = c.simple_query(text).map(|m| {
        m.iter()
            .filter(|m| matches!(m, postgres::SimpleQueryMessage::CommandComplete(_)))
            .count()
    });
    c.batch_execute("ROLLBACK")?;
    n
}

/// Session state a rollback does not undo cannot carry one input into the next.
#[test]
fn a_statement_prepared_by_one_input_is_gone_for_the_next() {
    let Some(options) = server() else { return };
    let mut g = pg_guard_for(&options, schema::DEFAULT_SIZE, 7).unwrap();
    g.begin_input().unwrap();
    let _ = g.execute_batch("PREPARE later AS UPDATE appointments SET notes = 'x' WHERE id = 8");
    g.end_input().unwrap();
    g.begin_input().unwrap();
    let _ = g.execute_batch("EXECUTE later");
    let v = g.end_input().unwrap();
    assert!(!v.kinds().contains(&Kind::WriteOutsideTarget), "{v:#?}");
    assert!(v.kinds().contains(&Kind::SqlError), "{v:#?}");
    // and the guard's own statements still work after DEALLOCATE ALL
    g.begin_input().unwrap();
    g.execute(
        "UPDATE appointments SET notes = ?1 WHERE id = 7",
        &["n".to_string().into()],
    )
    .unwrap();
    assert!(g.end_input().unwrap().is_clean());
}

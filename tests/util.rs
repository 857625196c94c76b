//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use rowguard::guard::{Db, Guard, Kind, Verdict};
use rowguard::harness::appointments::appointments_policy;
use rowguard::harness::execute::{execute, Execution, Session};
use rowguard::harness::pipeline::{self, Op};
use rowguard::harness::scenario::Scenario;
use rowguard::harness::schema;

/// Says on one line that the running test is skipped and why, where
/// `cargo test` shows it even for a passing test (the process's own stderr,
/// not the captured output), and appends `<test>\t<why>` to the file named
/// by `ROWGUARD_TEST_SKIPPED`, when set: `.ci/run` runs the suite once
/// without servers and then exactly the tests that skipped, with them.
/// Said once per test and reason.
pub fn skip(why: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    static SAID: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    {
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        let this = (test.to_string(), why.to_string());
        if said.contains(&this) {
            return;
        }
        said.push(this);
    }
    let line = format!("test {test} skipped: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os("ROWGUARD_TEST_SKIPPED").filter(|p| !p.is_empty()) {
        let entry = format!("{test}\t{why}\n");
        // one write of one line to a file opened for appending: whole lines
        // even from tests running in parallel
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(entry.as_bytes()));
        if let Err(e) = written {
            panic!("ROWGUARD_TEST_SKIPPED={}: {e}", path.to_string_lossy());
        }
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file under `dir`, sorted (the engine's corpus walk); none
/// when `dir` does not exist.
/// The example binary `name`, brought up to date once per test run in the
/// test's own profile (`cargo test` builds examples, but a filtered run may
/// find a stale one).
pub fn example_bin(name: &'static str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let rowguard = PathBuf::from(env!("CARGO_BIN_EXE_rowguard"));
    let dir = rowguard.parent().unwrap();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(&name) {
        let mut cargo = std::process::Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--example", name]);
        if dir.file_name().is_some_and(|d| d == "release") {
            cargo.arg("--release");
        }
        let status = cargo.current_dir(root()).status().unwrap();
        assert!(status.success(), "cargo build --example {name}");
        built.push(name);
    }
    dir.join("examples").join(name)
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    rowguard::tools::engine::corpus::files_under(dir).unwrap_or_default()
}

/// Runs ops on a named pipeline in a fresh session.
pub fn run(pipeline_name: &str, ops: Vec<Op>) -> Execution {
    let mut s = Session::new().expect("session");
    execute(
        &mut s,
        pipeline::by_name(pipeline_name).expect("pipeline"),
        &Scenario::of(ops),
    )
    .expect("execute")
}

/// A reschedule of appointment 7 with these notes.
pub fn reschedule7(notes: &str) -> Op {
    Op::Reschedule {
        id: 7,
        day: 12,
        slot: 4,
        notes: notes.into(),
        reason: "client request".into(),
    }
}

/// Runs the `rowguard` binary in `cwd` with `ROWGUARD_PIPELINE` and `ROWGUARD_DATABASE_URL` unset.
pub fn rowguard_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ROWGUARD_PIPELINE")
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .expect("rowguard runs")
}

/// Runs the `rowguard` binary at the repository root.
pub fn rowguard(args: &[&str]) -> std::process::Output {
    rowguard_in(&root(), args)
}

/// The default fixture (appointment 7 is the default target).
pub fn fixture() -> rusqlite::Connection {
    schema::open(schema::DEFAULT_SIZE).expect("fixture builds")
}

/// Runs `sql` through `execute_batch` on `conn` under the reschedule policy
/// of `keys`, as one input; the input must leave no transaction open.
pub fn check_on(conn: rusqlite::Connection, keys: &[i64], sql: &str) -> Verdict {
    let mut g = Guard::new(conn, appointments_policy(keys)).expect("guard");
    g.begin_input().expect("begin_input");
    let _ = g.execute_batch(sql);
    let v = g.end_input().expect("end_input");
    assert!(g.connection().is_autocommit(), "{sql}: input left open");
    v
}

/// [`check_on`] the default fixture under the policy of appointment 7.
pub fn check(sql: &str) -> Verdict {
    check_on(fixture(), &[7], sql)
}

/// `sql` is clean under the policy of appointment 7.
#[track_caller]
pub fn assert_clean(sql: &str) -> Verdict {
    let v = check(sql);
    assert!(
        v.is_clean(),
        "{sql:?} should be clean: {:#?}",
        v.findings().collect::<Vec<_>>()
    );
    v
}

/// `sql` makes a `kind` finding under the policy of appointment 7.
#[track_caller]
pub fn assert_finding(sql: &str, kind: Kind) -> Verdict {
    let v = check(sql);
    assert!(
        v.kinds().contains(&kind),
        "{sql:?}: expected {kind}, got {:#?}",
        v.findings().collect::<Vec<_>>()
    );
    v
}

/// The `resource-limit` messages `rowguard check` gives `sql` (default options).
pub fn limit_messages(sql: &str) -> Vec<String> {
    use rowguard::tools::check::{check, CheckOptions};
    check(&[sql.to_string()], &CheckOptions::default())
        .unwrap()
        .statements
        .iter()
        .flat_map(|s| &s.findings)
        .filter(|f| f.kind == Kind::ResourceLimit)
        .map(|f| f.message.clone())
        .collect()
}

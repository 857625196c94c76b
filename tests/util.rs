//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use rowguard::pipeline::{self, Op};
use rowguard::scenario::Scenario;
use rowguard::target::{self, Execution, Session};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file under `dir`, sorted (the engine's corpus walk); none
/// when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    rowguard::engine::corpus::files_under(dir).unwrap_or_default()
}

/// Runs ops on a named pipeline in a fresh session.
pub fn run(pipeline_name: &str, ops: Vec<Op>) -> Execution {
    let mut s = Session::new().expect("session");
    target::execute(
        &mut s,
        pipeline::by_name(pipeline_name).expect("pipeline"),
        &Scenario { ops },
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

/// Runs the `rowguard` binary in `cwd` with `ROWGUARD_PIPELINE` unset.
pub fn rowguard_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ROWGUARD_PIPELINE")
        .output()
        .expect("rowguard runs")
}

/// Runs the `rowguard` binary at the repository root.
pub fn rowguard(args: &[&str]) -> std::process::Output {
    rowguard_in(&root(), args)
}

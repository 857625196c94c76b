//! The libFuzzer columns of `bench detect`: runs a built cargo-fuzz target
//! binary (libFuzzer, `--sanitizer none`, stable) from an empty scratch
//! corpus on one planted pipeline, counting only `write-outside-target`, and
//! reads time and executions to the first finding from libFuzzer's final
//! stats. Two columns: `libfuzzer` is the `pipeline_plain` target (libFuzzer's
//! own byte mutations, no dictionary); `libfuzzer+rowguard` is the `pipeline`
//! target (rowguard's structure-aware mutator and crossover) given `-dict=`
//! the words harvested from the pipeline source merged with the shared
//! token dictionary.
//!
//! Build both with `cd fuzz && cargo fuzz build -O --sanitizer none`; they
//! land in `fuzz/target/<host triple>/release/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One libFuzzer run's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Seconds to the first finding, `None` when the budget ran out first.
    pub found_after_s: Option<f64>,
    pub execs: u64,
}

/// The exact command line used, for the report.
pub fn command_line(
    binary: &Path,
    pipeline: &str,
    seed: u64,
    budget_s: u64,
    dict: Option<&Path>,
) -> String {
    let dict = dict.map_or(String::new(), |d| format!(" -dict={}", d.display()));
    format!(
        "ROWGUARD_PIPELINE={pipeline} ROWGUARD_KINDS=write-outside-target {} <empty dir> -seed={seed} -max_total_time={budget_s} -print_final_stats=1{dict}",
        binary.display()
    )
}

/// Runs the target once; `Err` when it cannot be started at all.
pub fn run(
    binary: &Path,
    pipeline: &str,
    seed: u64,
    budget_s: u64,
    dict: Option<&Path>,
) -> crate::Result<Run> {
    let scratch = std::env::temp_dir().join(format!(
        "rowguard-detect-{}-{pipeline}-{seed}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| crate::Error::io(&scratch, e))?;
    let start = Instant::now();
    let mut command = Command::new(binary);
    if let Some(d) = dict {
        command.arg(format!("-dict={}", d.display()));
    }
    let out = command
        .env("ROWGUARD_PIPELINE", pipeline)
        .env("ROWGUARD_KINDS", "write-outside-target")
        .arg(&scratch)
        .arg(format!("-seed={}", seed.max(1)))
        .arg(format!("-max_total_time={budget_s}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", scratch.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| crate::Error::io(binary, e))?;
    let elapsed = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&scratch);
    let log = String::from_utf8_lossy(&out.stderr);
    if let Some(bad) = log.lines().find(|l| l.contains("ParseDictionaryFile")) {
        return Err(crate::Error::Usage(format!(
            "libFuzzer rejected the dictionary: {bad}"
        )));
    }
    let execs = log
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let crashed = log.contains("rowguard finding");
    Ok(Run {
        found_after_s: crashed.then_some(elapsed),
        execs,
    })
}

//! `rowguard gate`: the CI gate (`rowguard::engine::gate`). Prints one line
//! per case, writes JUnit and SARIF on request (even when failing), and
//! exits 0 pass, 1 a finding or lost regression, 2 anything it could not
//! check (fails closed).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rowguard::engine::artifacts::write_atomic;
use rowguard::engine::gate::{self, GateConfig, Outcome};
use rowguard::report;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of fuzzing `safe` after the replay.
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a SARIF 2.1.0 log here.
    #[arg(long)]
    sarif: Option<PathBuf>,
    /// The corpus folder to replay and seed the fuzzer with.
    #[arg(long, default_value = "corpus")]
    corpus: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Where fuzz findings go.
    #[arg(long, default_value = "artifacts/safe")]
    artifacts: PathBuf,
    /// Write one self-contained HTML page here (one row per corpus file, failures first).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the gate's JSON summary here (what `rowguard report` reads).
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = GateConfig {
        corpus: args.corpus,
        time: Duration::from_secs(args.time),
        runs: None,
        seed: args.seed,
        jobs: args.jobs,
        artifacts: Some(args.artifacts),
    };
    let result = gate::run(&cfg, super::fuzz::stop_flag()?)?;
    for case in &result.cases {
        match &case.outcome {
            Outcome::Passed => println!("ok     {} {}", case.suite, case.name),
            Outcome::Failed(issues) => {
                println!("FAIL   {} {}", case.suite, case.name);
                for i in issues {
                    println!("       {}: {}", i.kind, i.message);
                    if let Some(p) = &i.path {
                        println!("       reproduce: rowguard repro {}", p.display());
                    }
                }
            }
            Outcome::Error(e) => println!("ERROR  {} {}: {e}", case.suite, case.name),
        }
    }
    if let Some(s) = &result.fuzz {
        println!(
            "fuzzed safe: {} execs in {:.1} s, {} shapes, {} finding(s)",
            s.execs,
            s.elapsed_s,
            s.shapes,
            s.findings.len()
        );
    }
    if let Some(path) = &args.junit {
        write_atomic(path, report::junit::junit(&result)?.as_bytes())
            .with_context(|| "writing the JUnit report")?;
    }
    if let Some(path) = &args.sarif {
        let text = serde_json::to_string_pretty(&report::sarif::sarif(&result))? + "\n";
        write_atomic(path, text.as_bytes()).with_context(|| "writing the SARIF log")?;
    }
    let summary = report::html::build::GateSummary::of(&result);
    if let Some(path) = &args.json {
        let text = serde_json::to_string(&summary)? + "\n";
        write_atomic(path, text.as_bytes()).with_context(|| "writing the JSON summary")?;
    }
    if let Some(path) = &args.html {
        let page = report::html::build::from_gate(&summary, "sqlite", &|p| p.to_path_buf())?;
        write_atomic(path, report::html::page(&page).as_bytes())
            .with_context(|| "writing the HTML report")?;
    }
    let code = result.exit_code();
    println!(
        "gate: {}",
        match code {
            0 => "passed",
            1 => "FAILED (finding)",
            _ => "FAILED (could not check everything)",
        }
    );
    Ok(ExitCode::from(code))
}

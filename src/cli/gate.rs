//! `rowguard gate`: the CI gate (`crate::tools::gate`). Prints one block
//! per root cause, one line per failed or unjudged case and one line for
//! the clean replays (`--verbose`: one line per case and every finding of
//! the fuzz stage), writes JUnit and SARIF on request (even when failing), and
//! exits 0 pass, 1 a finding or lost regression, 2 anything it could not
//! check (fails closed), an interruption, or a report it could not write.
//! A report that cannot be written is one line on stderr; the other report
//! and the verdict line are still written.

use super::outln;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::report;
use crate::tools::engine::artifacts::write_atomic;
use crate::tools::gate::{self, GateConfig, Outcome};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// Seconds of fuzzing the code under test after the replay.
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// The version under test (default: the harness's first, `safe`): seeds
    /// must be clean on it, and it is what the fuzz stage runs.
    #[arg(long)]
    pipeline: Option<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a SARIF 2.1.0 log here.
    #[arg(long)]
    sarif: Option<PathBuf>,
    /// The corpus folder to replay and seed the fuzzer with (default:
    /// corpus/ at the project's root, the Cargo workspace or package at or
    /// above the current folder).
    #[arg(long)]
    corpus: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Where fuzz findings go (default: artifacts/<pipeline> at the project's root).
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Source (Rust, or an application's in another language) to harvest words from for the fuzz stage; repeatable
    /// (default: the harness's own source folders, `Harness::sources`; a
    /// declared folder that is missing is an error).
    #[arg(long, value_name = "PATH")]
    source: Vec<PathBuf>,
    /// A libFuzzer dictionary whose words the fuzz stage uses; repeatable.
    #[arg(long = "dict", value_name = "FILE")]
    dict: Vec<PathBuf>,
    /// Write one self-contained HTML page here (one row per corpus file,
    /// failures first; cells too many to embed go to `<stem>-cells/` next to it).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the gate's JSON summary here (what `{bin} report` reads).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print every case and every distinct finding of the fuzz stage (by
    /// default: one block per root cause, the clean replays counted).
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // first, so a signal at any point ends the gate through its reports
    let stop = super::fuzz::stop_flag()?;
    let harness = super::harness(None)?;
    let mut sources = args.source;
    if sources.is_empty() {
        sources = super::default_sources(harness)?;
    }
    let dictionary = super::dict::words(&args.dict, &sources)?;
    let pipeline = match &args.pipeline {
        Some(name) => harness.pipeline(name)?,
        None => harness.safe()?,
    };
    let cfg = GateConfig {
        harness,
        pipeline: Some(pipeline.name().to_string()),
        dictionary,
        corpus: args
            .corpus
            .unwrap_or_else(|| super::in_project(Path::new("corpus"))),
        time: Duration::from_secs(args.time),
        runs: None,
        seed: args.seed,
        jobs: args.jobs,
        artifacts: Some(
            args.artifacts
                .unwrap_or_else(|| super::default_artifacts(pipeline.name())),
        ),
        database: args.db.options(),
    };
    let mut result = gate::run(&cfg, stop)?;
    if let Some(s) = &mut result.fuzz {
        report::fill_repro(s);
        for c in &s.root_causes {
            let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
            outln!(
                "ROOT   {} {}: {} variant(s) of {}",
                c.id,
                c.line().chars().take(200).collect::<String>(),
                c.variants,
                kinds.join(", ")
            );
            if let Some(r) = &c.repro {
                outln!("       reproduce: {r}");
            }
        }
    }
    let fuzzed = pipeline.name();
    let mut clean = 0;
    for case in &result.cases {
        // the fuzz case's name says what it fuzzed (`fuzz legacy (seed 1, 2 s)`)
        let label = if case.suite == "corpus" {
            format!("{} {}", case.suite, case.name)
        } else {
            case.name.clone()
        };
        if case.suite != "corpus" && clean > 0 {
            outln!("ok     corpus: {clean} file(s) judged as expected (--verbose lists them)");
            clean = 0;
        }
        match &case.outcome {
            Outcome::Passed if args.verbose => outln!("ok     {label}"),
            Outcome::Passed if case.suite == "corpus" => clean += 1,
            Outcome::Passed => outln!("ok     {label}"),
            Outcome::Failed(issues) if case.suite == "fuzz" && !args.verbose => {
                let causes = result.fuzz.as_ref().map_or(0, |s| s.root_causes.len());
                outln!(
                    "FAIL   {label}: {} distinct finding(s) in {causes} root cause(s) (ROOT above; --verbose lists each finding)",
                    issues.len()
                );
            }
            Outcome::Failed(issues) => {
                outln!("FAIL   {label}");
                for i in issues {
                    outln!("       {}: {}", i.kind, i.message);
                    if let Some(p) = &i.path {
                        outln!(
                            "       reproduce: {} repro {}",
                            crate::report::program(),
                            p.display()
                        );
                    }
                }
            }
            Outcome::Error(e) => outln!("ERROR  {label}: {e}"),
        }
    }
    if clean > 0 {
        outln!("ok     corpus: {clean} file(s) judged as expected (--verbose lists them)");
    }
    if let Some(s) = &result.fuzz {
        outln!(
            "fuzzed {fuzzed}: {} execs in {:.1} s, {} shapes, {} finding(s){}",
            s.execs,
            s.elapsed_s,
            s.shapes,
            s.findings.len(),
            if s.interrupted { " (interrupted)" } else { "" }
        );
    }
    // each report is written even when the other (or stdout) cannot be
    let mut unwritten = Vec::new();
    if let Some(path) = &args.junit {
        let written =
            report::junit::junit(&result).and_then(|xml| write_atomic(path, xml.as_bytes()));
        if let Err(e) = written {
            unwritten.push(format!("writing the JUnit report: {e}"));
        }
    }
    if let Some(path) = &args.sarif {
        let text = serde_json::to_string_pretty(&report::sarif::sarif(&result))? + "\n";
        if let Err(e) = write_atomic(path, text.as_bytes()) {
            unwritten.push(format!("writing the SARIF log: {e}"));
        }
    }
    let summary = report::html::build::GateSummary::of(&result);
    if let Some(path) = &args.json {
        let text = serde_json::to_string(&summary)? + "\n";
        if let Err(e) = write_atomic(path, text.as_bytes()) {
            unwritten.push(format!("writing the JSON summary: {e}"));
        }
    }
    if let Some(path) = &args.html {
        let written =
            report::html::build::from_gate(&summary, cfg.database.as_ref(), &|p| p.to_path_buf())
                .and_then(|page| report::html::write(&page, path));
        if let Err(e) = written {
            unwritten.push(format!("writing the HTML report: {e}"));
        }
    }
    for e in &unwritten {
        eprintln!("{}: {}", crate::report::name(), e.replace('\n', " "));
    }
    let code = match result.exit_code() {
        0 if !unwritten.is_empty() => 2,
        code => code,
    };
    outln!(
        "gate: {}",
        match code {
            0 => "passed",
            1 => "FAILED (finding)",
            _ if result.interrupted => "FAILED (interrupted: incomplete, not a pass)",
            _ if !result.errored() => "FAILED (a report could not be written)",
            _ => "FAILED (could not check everything)",
        }
    );
    Ok(ExitCode::from(code))
}

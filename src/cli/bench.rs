//! `rowguard bench detect|throughput|tripwire|scaling`: run a benchmark, print a table (or
//! one JSON object with `--format json`). Numbers only: no pass/fail, except
//! `bench instructions --baseline`, the regression gate (exit 1 on a rise).

use super::outln;
use std::process::ExitCode;

use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;

use crate::tools::bench::{self, detect, instructions, scaling, throughput, tripwire, watch};

use super::Format;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
    #[arg(long, value_enum, default_value = "text", global = true)]
    format: Format,
}

#[derive(Subcommand)]
enum Which {
    /// Time and executions to the first write-outside-target per planted pipeline.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Detect {
        /// Pipelines (default: every planted one).
        #[arg(long, value_delimiter = ',')]
        pipelines: Vec<String>,
        /// Seeds per pipeline and engine (1..=N).
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Budget per seed, in seconds.
        #[arg(long, default_value_t = 60)]
        time: u64,
        /// A built cargo-fuzz `pipeline` target (`cd fuzz && cargo fuzz build -O --sanitizer none`):
        /// measured as `libfuzzer+rowguard` (its mutator, `-dict=` the harvested words), and its
        /// sibling `pipeline_plain`, when present, as plain `libfuzzer`.
        #[arg(long)]
        cargo_fuzz: Option<PathBuf>,
        /// Source (Rust, or an application's) to harvest words from for the `rowguard+dict` engine; repeatable
        /// (default: the harness's own source folders, `Harness::sources`; a
        /// declared folder that is missing is an error).
        #[arg(long, value_name = "PATH")]
        source: Vec<PathBuf>,
        #[command(flatten)]
        db: super::DatabaseArgs,
    },
    /// Checked statements per second against the same statements run raw.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Throughput {
        /// Pipelines to measure.
        #[arg(long, value_delimiter = ',', default_value = "safe,legacy")]
        pipelines: Vec<String>,
        /// Generated inputs per round.
        #[arg(long, default_value_t = 300)]
        inputs: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        db: super::DatabaseArgs,
    },
    /// The harness's example operation through the production tripwire against the same operation raw.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Tripwire {
        /// Operations per round and side.
        #[arg(long, default_value_t = 2000)]
        operations: usize,
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// The operation to time, as JSON (default: the harness's example, a
        /// one-row `{op}`)
        #[arg(long, value_name = "JSON")]
        op: Option<String>,
        /// With --database: install the tripwire's C capture from this
        /// module (built from crates/guard/pg: a name in the server's
        /// $libdir, or an absolute path the server can read) instead of
        /// the plpgsql one.
        #[arg(long, value_name = "LIBRARY")]
        native_capture: Option<String>,
        #[command(flatten)]
        db: super::DatabaseArgs,
    },
    /// Versions that connect themselves: operations checked at the database
    /// against the same operations raw on the same database without capture.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Watch {
        /// The version to measure (default: the harness's first).
        #[arg(long)]
        pipeline: Option<String>,
        /// Generated inputs per round.
        #[arg(long, default_value_t = 200)]
        inputs: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        db: super::DatabaseArgs,
    },
    /// Instructions per operation of the in-process hot paths, counted by
    /// Valgrind's callgrind (installed: `apt-get install valgrind`); with
    /// --baseline, the regression gate: exit 1 when a path rises beyond the
    /// baseline's margin.
    #[command(
        after_help = "Exit codes: 0 counted (and with --baseline, no path beyond its margin), 1 a path rose beyond the baseline's margin, 2 bad usage, no valgrind, or a run that could not start."
    )]
    Instructions {
        /// Hot paths: clean (a checked safe input), raw (its statements
        /// replayed unchecked), finding (a checked legacy
        /// input that writes outside its target), tripwire (the harness's example
        /// operation through the SQLite tripwire).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "clean,raw,finding,tripwire"
        )]
        paths: Vec<String>,
        /// Repetitions counted per path (after one warm-up).
        #[arg(long, default_value_t = 20)]
        repeat: usize,
        /// The committed baseline to compare with (e.g. .ci/cost-baseline.json).
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Write the counts as a new baseline to FILE (with --margin and --why).
        #[arg(long, value_name = "FILE", conflicts_with = "baseline")]
        write_baseline: Option<PathBuf>,
        /// The written baseline's margin, a fraction (0.03 = 3%).
        #[arg(long, default_value_t = 0.03, requires = "write_baseline")]
        margin: f64,
        /// Why the baseline moves (kept in the file).
        #[arg(long, requires = "write_baseline")]
        why: Option<String>,
        /// Internal: run PATH inside the probe (what callgrind is given).
        #[arg(long, hide = true, value_name = "PATH")]
        inner: Option<String>,
    },
    /// Checked time per one-row statement at growing fixture sizes.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Scaling {
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Statements per round.
        #[arg(long, default_value_t = 2000)]
        statements: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let machine = bench::Machine::here();
    match args.which {
        Which::Detect {
            pipelines,
            seeds,
            time,
            cargo_fuzz,
            mut source,
            db,
        } => {
            let harness = super::harness(None)?;
            if source.is_empty() {
                source = super::default_sources(harness)?;
            }
            let words = super::dict::words(&[], &source)?;
            if time == 0 || seeds == 0 {
                anyhow::bail!("--time and --seeds must be positive");
            }
            if let Some(bin) = &cargo_fuzz {
                anyhow::ensure!(
                    bin.is_file(),
                    "{}: no such fuzz target binary",
                    bin.display()
                );
            }
            let r = detect::run(
                harness,
                &pipelines,
                seeds,
                Duration::from_secs(time),
                cargo_fuzz,
                &words,
                db.options().as_ref(),
            )?;
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "detect", "machine": machine, "database": r.database, "results": r.results, "budget_s": r.budget_s, "cargo_fuzz_command": r.cargo_fuzz_command})
                );
            } else {
                let show =
                    |v: Option<f64>| v.map_or("not found".to_string(), |s| format!("{s:.3}"));
                outln!("detect: first write-outside-target, {seeds} seeds, {time} s budget each, 1 job, {} build, on {}", machine.profile, r.database);
                outln!(
                    "{:<10} {:<13} {:>6} {:>11} {:>11} {:>13} {:>10} {:>24} {:>12}",
                    "pipeline",
                    "engine",
                    "found",
                    "median s",
                    "max s",
                    "median execs",
                    "execs/s",
                    "cpu s/seed min/med/max",
                    "execs/cpu s"
                );
                for r in &r.results {
                    let execs = r.median_execs.map_or("-".to_string(), |e| e.to_string());
                    outln!(
                        "{:<10} {:<13} {:>3}/{:<2} {:>11} {:>11} {:>13} {:>10.0} {:>24} {:>12.0}",
                        r.pipeline,
                        r.engine,
                        r.found,
                        r.seeds,
                        show(r.median_s),
                        show(r.max_s),
                        execs,
                        r.execs_per_s,
                        r.cpu_s.show(3),
                        r.execs_per_cpu_s
                    );
                }
                if let Some(c) = &r.cargo_fuzz_command {
                    outln!("cargo-fuzz: {c}");
                }
            }
        }
        Which::Tripwire {
            operations,
            rounds,
            op,
            native_capture,
            db,
        } => {
            anyhow::ensure!(
                operations > 0 && rounds > 0,
                "--operations and --rounds must be positive"
            );
            let op: Option<serde_json::Value> = op
                .map(|o| serde_json::from_str(&o))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--op is not JSON: {e}"))?;
            let r = tripwire::run(
                super::harness(None)?,
                op.as_ref(),
                operations,
                rounds,
                db.options().as_ref(),
                native_capture.as_deref(),
            )?;
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "tripwire", "machine": machine, "result": r})
                );
            } else {
                outln!(
                    "tripwire: one operation, {} ops x {} rounds per side (alternating op by op), {} build, {} cpus, on {}",
                    r.operations, r.rounds, machine.profile, machine.cpus, r.database
                );
                outln!(
                    "{:>8} {:>14} {:>10} {:>7}",
                    "",
                    "tripwire us/op",
                    "raw us/op",
                    "ratio"
                );
                for (name, t, raw, ratio) in [
                    ("median", r.tripwire_us, r.raw_us, r.ratio),
                    ("mean", r.tripwire_mean_us, r.raw_mean_us, r.mean_ratio),
                ] {
                    outln!("{name:>8} {t:>14.1} {raw:>10.1} {ratio:>6.2}x");
                }
                for line in r.cost.lines("rounds", "tripwire", "operation") {
                    outln!("{line}");
                }
            }
        }
        Which::Throughput {
            pipelines,
            inputs,
            rounds,
            seed,
            db,
        } => {
            anyhow::ensure!(
                inputs > 0 && rounds > 0,
                "--inputs and --rounds must be positive"
            );
            let names: Vec<&str> = pipelines.iter().map(String::as_str).collect();
            let r = throughput::run(
                super::harness(None)?,
                &names,
                inputs,
                rounds,
                seed,
                db.options().as_ref(),
            )?;
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "throughput", "machine": machine, "database": r.database, "ratio": r.ratio, "pipelines": r.pipelines, "engine": r.engine, "inputs": r.inputs, "rounds": r.rounds})
                );
            } else {
                outln!(
                    "throughput: {inputs} inputs, median of {rounds} rounds, {} cpus, {} build, on {}",
                    machine.cpus,
                    machine.profile,
                    r.database
                );
                outln!(
                    "{:<10} {:>10} {:>14} {:>14} {:>8}",
                    "pipeline",
                    "statements",
                    "checked/s",
                    "raw/s",
                    "ratio"
                );
                for p in &r.pipelines {
                    outln!(
                        "{:<10} {:>10} {:>14.0} {:>14.0} {:>7.2}x",
                        p.pipeline,
                        p.statements,
                        p.checked_per_s,
                        p.raw_per_s,
                        p.ratio
                    );
                }
                outln!("worst ratio: {:.2}x", r.ratio);
                for p in &r.pipelines {
                    for line in p.cost.lines(&p.pipeline, "checked", "statement") {
                        outln!("{line}");
                    }
                }
                if r.pipelines.iter().all(|p| p.breakdown.is_none()) {
                    return Ok(ExitCode::SUCCESS);
                }
                outln!("breakdown of a checked input, mean microseconds per input:");
                outln!(
                    "{:<10} {:>9} {:>8} {:>10} {:>8} {:>8} {:>8} {:>7} {:>7} {:>8}",
                    "pipeline",
                    "template",
                    "static",
                    "savepoints",
                    "sqlite",
                    "capture",
                    "verdict",
                    "undo",
                    "other",
                    "total"
                );
                for p in &r.pipelines {
                    let Some(b) = &p.breakdown else { continue };
                    outln!(
                        "{:<10} {:>9.1} {:>8.1} {:>10.1} {:>8.1} {:>8.1} {:>8.1} {:>7.1} {:>7.1} {:>8.1}",
                        p.pipeline, b.template_us, b.static_us, b.savepoints_us, b.sqlite_us, b.capture_us, b.verdict_us, b.undo_us, b.other_us, b.total_us
                    );
                }
                if let Some(e) = &r.engine {
                    outln!(
                        "engine on {} ({} inputs): {:.0} execs/s; same scenarios raw: {:.0}/s; engine/raw {:.2}",
                        e.pipeline, e.inputs, e.engine_execs_per_s, e.raw_scenarios_per_s, e.fraction
                    );
                    for line in e.cost.lines("engine", "engine", "input") {
                        outln!("{line}");
                    }
                }
            }
        }
        Which::Instructions {
            paths,
            repeat,
            baseline,
            write_baseline,
            margin,
            why,
            inner,
        } => {
            anyhow::ensure!(repeat > 0, "--repeat must be positive");
            let harness = super::harness(None)?;
            if let Some(path) = inner {
                let operations = instructions::inner(harness, &path, repeat)?;
                outln!("operations: {operations}");
                return Ok(ExitCode::SUCCESS);
            }
            for p in &paths {
                anyhow::ensure!(
                    instructions::PATHS.contains(&p.as_str()),
                    "no hot path `{p}` (one of {})",
                    instructions::PATHS.join(", ")
                );
            }
            let base = baseline
                .as_ref()
                .map(|f| -> anyhow::Result<instructions::Baseline> {
                    let text = std::fs::read_to_string(f)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                    serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{}: not a baseline: {e}", f.display()))
                })
                .transpose()?;
            anyhow::ensure!(
                write_baseline.is_none() || why.is_some(),
                "--write-baseline needs --why: the baseline moves only with a reason"
            );
            anyhow::ensure!(
                margin > 0.0 && margin < 1.0,
                "--margin is a fraction in (0, 1)"
            );
            let exe = std::env::current_exe()?;
            let counts = instructions::measure(&exe, &[], &paths, repeat)?;
            let verdicts = base.as_ref().map(|b| instructions::compare(b, &counts));
            if let Some(file) = &write_baseline {
                let b = instructions::Baseline {
                    margin,
                    why: why.unwrap_or_default(),
                    paths: counts.clone(),
                };
                std::fs::write(file, serde_json::to_string_pretty(&b)? + "\n")?;
            }
            let ratio = match (counts.get("clean"), counts.get("raw")) {
                (Some(c), Some(r)) => Some(c.instructions / r.instructions.max(1.0)),
                _ => None,
            };
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "instructions", "machine": machine, "tool": "valgrind --tool=callgrind", "repeat": repeat, "paths": counts, "clean_over_raw": ratio, "margin": base.as_ref().map(|b| b.margin), "verdicts": verdicts})
                );
            } else {
                outln!("instructions: callgrind, counted inside the probe only, {repeat} repetitions after a warm-up, {} build", machine.profile);
                outln!(
                    "{:<10} {:>16} {:>11}",
                    "path",
                    "instructions/op",
                    "operations"
                );
                for (p, c) in &counts {
                    outln!("{:<10} {:>16.0} {:>11}", p, c.instructions, c.operations);
                }
                if let Some(ratio) = ratio {
                    outln!(
                        "clean / raw: {ratio:.2}x instructions per input (safe, the same statements)"
                    );
                }
                if let (Some(b), Some(v)) = (&base, &verdicts) {
                    outln!("against the baseline (margin {:.1}%):", b.margin * 100.0);
                    for v in v {
                        outln!(
                            "{:<10} {:>16.0} -> {:>12.0} {:>+7.2}% {}",
                            v.path,
                            v.baseline,
                            v.measured,
                            v.change * 100.0,
                            v.status
                        );
                    }
                }
            }
            if let Some(v) = &verdicts {
                if !instructions::passes(v) {
                    eprintln!("bench instructions: a hot path rose beyond the baseline's margin (or is missing): see above");
                    return Ok(ExitCode::from(1));
                }
                if v.iter().any(|v| v.status == "fall") {
                    eprintln!("bench instructions: a hot path fell beyond the margin: move the baseline down (--write-baseline, in a commit that says why)");
                }
            }
        }
        Which::Watch {
            pipeline,
            inputs,
            rounds,
            seed,
            db,
        } => {
            anyhow::ensure!(
                inputs > 0 && rounds > 0,
                "--inputs and --rounds must be positive"
            );
            let harness = super::harness(None)?;
            let pipeline = match &pipeline {
                Some(name) => harness.pipeline(name)?,
                None => harness.safe()?,
            };
            let r = watch::run(
                harness,
                pipeline,
                inputs,
                rounds,
                seed,
                db.options().as_ref(),
            )?;
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "watch", "machine": machine, "result": r})
                );
            } else {
                outln!(
                    "watch: {} `{}` on {}, {} inputs ({} operations) per round, {} rounds, {} build",
                    r.harness, r.pipeline, r.database, r.inputs, r.operations, r.rounds, machine.profile
                );
                outln!(
                    "{:<8} {:>10} {:>14} {:>30}",
                    "side",
                    "ops/s",
                    "cpu µs/op",
                    "wall ms min/median/max"
                );
                for (name, s) in [("checked", &r.checked), ("raw", &r.raw)] {
                    outln!(
                        "{name:<8} {:>10.0} {:>14.1} {:>30}",
                        s.ops_per_s,
                        s.cpu_us_per_op,
                        format!(
                            "{:.0} / {:.0} / {:.0}",
                            s.wall_ms[0], s.wall_ms[1], s.wall_ms[2]
                        )
                    );
                }
                outln!(
                    "checked/raw: wall {:.2}x (min {:.2}, max {:.2}), this thread's CPU {:.2}x (min {:.2}, max {:.2})",
                    r.wall_ratio[1], r.wall_ratio[0], r.wall_ratio[2], r.cpu_ratio[1], r.cpu_ratio[0], r.cpu_ratio[2]
                );
            }
        }
        Which::Scaling {
            sizes,
            statements,
            rounds,
        } => {
            anyhow::ensure!(
                !sizes.is_empty() && sizes.iter().all(|&s| s > 0) && statements > 0 && rounds > 0,
                "--sizes, --statements and --rounds must be positive"
            );
            let r = scaling::run(super::harness(None)?, &sizes, statements, rounds)?;
            if args.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({"benchmark": "scaling", "machine": machine, "sizes": r.sizes, "ratio": r.ratio, "cpu_ratio": r.cpu_ratio, "statements_per_round": r.statements_per_round, "rounds": r.rounds})
                );
            } else {
                outln!("scaling: {statements} one-row safe statements per round, median of {rounds} rounds, {} build", machine.profile);
                outln!(
                    "{:>12} {:>16} {:>26} {:>26}",
                    "rows",
                    "ns/statement",
                    "wall ns min/med/max",
                    "cpu ns min/med/max"
                );
                for s in &r.sizes {
                    outln!(
                        "{:>12} {:>16.0} {:>26} {:>26}",
                        s.rows,
                        s.ns_per_statement,
                        s.wall_ns.show(0),
                        s.cpu_ns.show(0)
                    );
                }
                outln!(
                    "ratio largest/smallest: {:.2}x wall, {:.2}x cpu (target: at most 1.5x)",
                    r.ratio,
                    r.cpu_ratio
                );
                for s in r
                    .sizes
                    .iter()
                    .filter(|s| s.cpu_ns.disagree || s.wall_ns.disagree)
                {
                    outln!(
                        "{} rows: rounds disagree beyond {:.0}% (wall {:.0}%, cpu {:.0}% of the median)",
                        s.rows,
                        bench::cost::STAND_BEHIND * 100.0,
                        s.wall_ns.width * 100.0,
                        s.cpu_ns.width * 100.0
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

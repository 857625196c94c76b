//! `rowguard bench throughput|scaling`: run a benchmark, print a table (or
//! one JSON object with `--format json`). Numbers only: no pass/fail.

use std::process::ExitCode;

use clap::Subcommand;
use rowguard::bench::{self, scaling, throughput};

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
    /// Checked statements per second against the same statements run raw.
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
    },
    /// Checked time per one-row statement at growing fixture sizes.
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
        Which::Throughput {
            pipelines,
            inputs,
            rounds,
            seed,
        } => {
            let names: Vec<&str> = pipelines.iter().map(String::as_str).collect();
            let r = throughput::run(&names, inputs, rounds, seed)?;
            if args.format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({"benchmark": "throughput", "machine": machine, "ratio": r.ratio, "pipelines": r.pipelines, "inputs": r.inputs, "rounds": r.rounds})
                );
            } else {
                println!(
                    "throughput: {inputs} inputs, median of {rounds} rounds, {} cpus, {} build",
                    machine.cpus, machine.profile
                );
                println!(
                    "{:<10} {:>10} {:>14} {:>14} {:>8}",
                    "pipeline", "statements", "checked/s", "raw/s", "ratio"
                );
                for p in &r.pipelines {
                    println!(
                        "{:<10} {:>10} {:>14.0} {:>14.0} {:>7.2}x",
                        p.pipeline, p.statements, p.checked_per_s, p.raw_per_s, p.ratio
                    );
                }
                println!("worst ratio: {:.2}x (target: at most 2x)", r.ratio);
            }
        }
        Which::Scaling {
            sizes,
            statements,
            rounds,
        } => {
            if sizes.is_empty() || statements == 0 {
                anyhow::bail!("--sizes and --statements must be non-empty and positive");
            }
            let r = scaling::run(&sizes, statements, rounds)?;
            if args.format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({"benchmark": "scaling", "machine": machine, "sizes": r.sizes, "ratio": r.ratio, "statements_per_round": r.statements_per_round, "rounds": r.rounds})
                );
            } else {
                println!("scaling: {statements} one-row safe statements per round, median of {rounds} rounds, {} build", machine.profile);
                println!("{:>12} {:>16}", "appointments", "ns/statement");
                for s in &r.sizes {
                    println!("{:>12} {:>16.0}", s.appointments, s.ns_per_statement);
                }
                println!(
                    "ratio largest/smallest: {:.2}x (target: at most 1.5x)",
                    r.ratio
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

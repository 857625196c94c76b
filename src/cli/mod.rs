//! Command-line arms: one small file per subcommand, real work in the
//! library. Each arm returns the exit code (0 clean, 1 finding) or an error
//! (exit 2, printed by `main` on one line).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod check;
mod fuzz;
mod gate;
mod minimize;
mod pipelines;
mod report;
mod repro;
mod scan;
mod schema;

/// Input fuzzing and query-safety guard for SQL-writing code.
#[derive(Parser)]
#[command(name = "rowguard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay inputs (JSON reproducers, engine or cargo-fuzz artifacts, folders of them).
    Repro(repro::Args),
    /// Check SQL statements against the fixture under the policy of a reschedule.
    Check(check::Args),
    /// Print the SQL that builds the fixture.
    Schema(schema::Args),
    /// List the pipelines: name, bug class, what triggers it.
    Pipelines,
    /// Fuzz a pipeline with the built-in engine (stable Rust, no setup).
    Fuzz(fuzz::Args),
    /// Shrink an input to the smallest one with the same finding kind.
    Minimize(minimize::Args),
    /// CI gate: replay corpus/, then fuzz `safe` for a time budget.
    Gate(gate::Args),
    /// Benchmarks: throughput, scaling.
    Bench(bench::Args),
    /// Check each line of a notes file as the notes of one reschedule of the target.
    Scan(scan::Args),
    /// One self-contained HTML page from a fuzz or gate JSON summary and its artifacts.
    Report(report::Args),
}

/// Output format of report-printing commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if e.kind() == clap::error::ErrorKind::DisplayHelp
                || e.kind() == clap::error::ErrorKind::DisplayVersion =>
        {
            e.print()?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.print()?;
            return Ok(ExitCode::from(2));
        }
        Err(e) => anyhow::bail!("{}", one_line(&e.render().to_string())),
    };
    match cli.command {
        Command::Repro(args) => repro::run(args),
        Command::Check(args) => check::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Pipelines => pipelines::run(),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Minimize(args) => minimize::run(args),
        Command::Gate(args) => gate::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// clap's usage error on one line: its message lines up to `Usage:`, and a pointer to `--help`.
fn one_line(rendered: &str) -> String {
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty())
        .collect();
    let text = message.join(" ");
    format!(
        "{} (see --help)",
        text.strip_prefix("error: ").unwrap_or(&text)
    )
}

//! The command line: [`main`] runs it on the harnesses a binary hands over
//! (the `rowguard` binary: the built-in appointments one; a team's binary:
//! its own), with one small file per subcommand and the real work in the
//! layers below. Exit codes (ripgrep's convention): 0 clean, 1 at least one
//! finding, 2 bad usage or unreadable input. Every error is one line on
//! stderr; a panic is reported the same way, never as a backtrace.
//!
//! Each arm returns the exit code (0 clean, 1 finding) or an error (exit 2,
//! printed by [`main`] on one line).
//!
//! Every arm prints through [`outln!`] / [`out!`] (never `println!`, which
//! panics when stdout is gone): a closed stdout (`| head -1`, `| true`) ends
//! the printing quietly, a full one (`> /dev/full`) is one line on stderr,
//! and in both cases the command finishes its other work (report files,
//! artifacts) and exits with the code it would have had.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use clap::{Parser, Subcommand};

mod bench;
mod check;
mod dict;
mod differential;
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
    /// The harness to work on (default: a reproducer's own, else the binary's first).
    #[arg(long, global = true, value_name = "NAME")]
    harness: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// The `--harness` flag, for the arms.
static HARNESS_FLAG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The harness `--harness` names, else the one a reproducer's `bytes` name,
/// else the binary's first.
pub fn harness(
    bytes: Option<&[u8]>,
) -> anyhow::Result<&'static dyn crate::harness::domain::Domain> {
    let flag = HARNESS_FLAG.get().and_then(|f| f.as_deref());
    Ok(crate::offer::choose_harness(flag, bytes)?)
}

/// The harness `--harness` names, else `named` (what a summary says),
/// else the binary's first.
pub fn harness_or(
    named: Option<&str>,
) -> anyhow::Result<&'static dyn crate::harness::domain::Domain> {
    let flag = HARNESS_FLAG.get().and_then(|f| f.as_deref());
    Ok(crate::offer::choose_harness(flag.or(named), None)?)
}

/// `rel` in the project the command runs in: the folder of the workspace
/// (a `Cargo.toml` with `[workspace]`) or package at or above the current
/// folder, as cargo finds it, else the current folder. Said relative to the
/// current folder (`../artifacts/legacy` from `src/`), so a default output
/// folder is the same wherever in the project the command starts.
pub fn in_project(rel: &std::path::Path) -> std::path::PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return rel.to_path_buf();
    };
    let manifest = |d: &std::path::Path| std::fs::read_to_string(d.join("Cargo.toml")).ok();
    let mut package = None;
    let mut workspace = None;
    for dir in cwd.ancestors() {
        if let Some(text) = manifest(dir) {
            package.get_or_insert(dir);
            if text.lines().any(|l| l.trim() == "[workspace]") {
                workspace = Some(dir);
                break;
            }
        }
    }
    let Some(root) = workspace.or(package) else {
        return rel.to_path_buf();
    };
    let depth = cwd.strip_prefix(root).map_or(0, |p| p.components().count());
    let mut out = std::path::PathBuf::new();
    for _ in 0..depth {
        out.push("..");
    }
    out.join(rel)
}

/// Where a run's findings go by default: `artifacts/<pipeline>` of the project.
pub fn default_artifacts(pipeline: &str) -> std::path::PathBuf {
    in_project(&std::path::Path::new("artifacts").join(pipeline))
}

/// The harness's own source folders that exist here: the words of `gate`
/// and `bench detect` when no `--source` is given.
pub fn default_sources(harness: &dyn crate::harness::domain::Domain) -> Vec<std::path::PathBuf> {
    harness
        .sources()
        .iter()
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .collect()
}

/// Runs the command line on `harnesses` (the first is the default; none:
/// the built-in appointments harness) and returns the exit code. A team's
/// binary is `fn main() -> ExitCode { rowguard::cli::main(vec![register(MyHarness)]) }`.
pub fn main(harnesses: Vec<&'static dyn crate::harness::domain::Domain>) -> ExitCode {
    if !harnesses.is_empty() {
        crate::offer::install(harnesses);
    }
    // what a person types to reproduce: this binary's own name
    if let Some(name) = std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
    {
        crate::report::set_program(&name.to_string_lossy());
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "rowguard: internal error{place}: {}",
            msg.replace('\n', " ")
        );
    }));
    let result = std::panic::catch_unwind(run);
    finish_stdout();
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("rowguard: {}", error_line(&e));
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
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
    /// Harvest words from Rust source into a libFuzzer dictionary (comparison operands first).
    Dict(dict::Args),
    /// The same notes lines on SQLite and on each server (PostgreSQL, MariaDB/MySQL): every line whose verdicts differ, and why.
    Differential(differential::Args),
    /// One self-contained HTML page from a fuzz or gate JSON summary and its artifacts.
    Report(report::Args),
}

/// `--database`: the PostgreSQL or MariaDB/MySQL server a command runs on instead of embedded SQLite.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DatabaseArgs {
    /// Run on this PostgreSQL server (postgres://user:password@host:port/db) or
    /// MariaDB/MySQL server (mysql://user:password@host:port/, or mariadb://) in
    /// a database and roles (users) rowguard creates and drops; default
    /// $ROWGUARD_DATABASE_URL, else embedded SQLite.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Use --database even though it holds objects rowguard did not create
    /// (rowguard still writes only in the databases it creates).
    #[arg(long)]
    database_owned_by_rowguard: bool,
    /// The role name the code under test runs as on the server (what
    /// `current_user` says to it); rowguard creates it and drops it after.
    #[arg(long, value_name = "NAME")]
    database_role: Option<String>,
}

impl DatabaseArgs {
    /// The server to use, if any.
    pub fn options(&self) -> Option<crate::guard::postgres::PgOptions> {
        crate::harness::choice::database_options(
            self.database.as_deref(),
            self.database_owned_by_rowguard,
            self.database_role.as_deref(),
        )
    }
}

/// Set once a write to stdout failed: later output is dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// The first stdout failure that was not a closed pipe, reported once at the end.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout; the first failure stops all further output (see the module doc).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

fn stdout_failed(e: std::io::Error) {
    if !STDOUT_GONE.swap(true, Ordering::SeqCst) && e.kind() != std::io::ErrorKind::BrokenPipe {
        *STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// Flushes stdout and reports, in one line on stderr, a failure other than a
/// closed pipe (whoever read the output went away: that is not an error).
pub fn finish_stdout() {
    if !STDOUT_GONE.load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            stdout_failed(e);
        }
    }
    if let Some(e) = STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        eprintln!("rowguard: writing to stdout: {e} (output incomplete)");
    }
}

/// `print!` that never panics (see [`write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}
/// `println!` that never panics (see [`write_stdout`]).
macro_rules! outln {
    () => { $crate::cli::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use {out, outln};

/// Output format of report-printing commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if e.kind() == clap::error::ErrorKind::DisplayHelp
                || e.kind() == clap::error::ErrorKind::DisplayVersion =>
        {
            out!("{}", e.render());
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            return Ok(ExitCode::from(2));
        }
        Err(e) => anyhow::bail!("{}", one_line(&e.render().to_string())),
    };
    let _ = HARNESS_FLAG.set(cli.harness.clone());
    install_signal_handler()?;
    // fuzz and gate end a run on a signal by design (the summary says
    // `interrupted`); for any other command a clean answer cut short is no answer.
    let reports_interruption = matches!(cli.command, Command::Fuzz(_) | Command::Gate(_));
    let code = match cli.command {
        Command::Repro(args) => repro::run(args),
        Command::Check(args) => check::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Pipelines => pipelines::run(),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Minimize(args) => minimize::run(args),
        Command::Gate(args) => gate::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Dict(args) => dict::run(args),
        Command::Report(args) => report::run(args),
        Command::Differential(args) => differential::run(args),
    }?;
    if rowguard_guard::interrupt::requested() && !reports_interruption && code == ExitCode::SUCCESS
    {
        anyhow::bail!(
            "interrupted by a signal before the command finished (nothing was found up to then)"
        );
    }
    Ok(code)
}

/// SIGINT, SIGTERM and SIGHUP, for every command: the first asks everything
/// to stop ([`rowguard_guard::interrupt::request`]: the stop flag every loop
/// polls, and a cancel of any server-side query in flight), so each command
/// ends its work, drops what it made on a server and writes its reports; a
/// second one exits at once with 130.
fn install_signal_handler() -> anyhow::Result<()> {
    use anyhow::Context as _;
    ctrlc::set_handler(|| {
        if rowguard_guard::interrupt::requested() {
            std::process::exit(130);
        }
        rowguard_guard::interrupt::request();
    })
    .context("cannot install the signal handler")
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

/// The error and its causes on one line, each cause once: the library's
/// errors already print their source (`path: No such file...`), so a cause
/// whose text the line holds is not repeated.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line.replace('\n', " ")
}

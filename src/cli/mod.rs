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

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod app;
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
#[command(
    name = "rowguard",
    version,
    about,
    propagate_version = true,
    after_help = "Exit codes: 0 clean, 1 at least one finding, 2 bad usage or could not check; `{bin} <COMMAND> --help` says each command's."
)]
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

/// The spec's folder, under `app SPEC`: where its corpus and artifacts are.
static APP_HOME: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// `rel` in the project the command runs in (under `app SPEC`: the spec's folder): the folder of the workspace
/// (a `Cargo.toml` with `[workspace]`) or package at or above the current
/// folder, as cargo finds it, else the current folder. Said relative to the
/// current folder (`../artifacts/legacy` from `src/`), so a default output
/// folder is the same wherever in the project the command starts.
pub fn in_project(rel: &std::path::Path) -> std::path::PathBuf {
    // `app SPEC`: the project is the spec's folder
    if let Some(home) = APP_HOME.get() {
        let cwd = std::env::current_dir().ok();
        return match cwd.as_deref().and_then(|c| home.strip_prefix(c).ok()) {
            Some(inside) => inside.join(rel),
            None => home.join(rel),
        };
    }
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

/// Whether the command runs under `app SPEC`.
pub fn in_app() -> bool {
    APP_HOME.get().is_some()
}

/// Where a run's findings go by default: `artifacts/<pipeline>` of the project.
pub fn default_artifacts(pipeline: &str) -> std::path::PathBuf {
    in_project(&std::path::Path::new("artifacts").join(pipeline))
}

/// The harness's own source folders: the words of `gate` and `bench detect`
/// when no `--source` is given. An absolute folder (what
/// `rowguard::sources!` makes, in the harness crate's own directory) is
/// taken as it is, a relative one in the project the command runs in
/// ([`in_project`]); a declared folder that is missing is an error (exit 2:
/// the gate fails closed).
pub fn default_sources(
    harness: &dyn crate::harness::domain::Domain,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let folders = harness
        .sources()
        .iter()
        .map(std::path::Path::new)
        .map(|p| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                in_project(p)
            }
        })
        .collect();
    Ok(crate::tools::dict::sources::declared(
        harness.name(),
        folders,
    )?)
}

/// Runs the command line on `harnesses` (the first is the default; none:
/// the built-in appointments harness) and returns the exit code. A team's
/// binary is `fn main() -> ExitCode { rowguard::cli::main(vec![register(MyHarness)]) }`.
pub fn main(harnesses: Vec<&'static dyn crate::harness::domain::Domain>) -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // this binary's own name, and what a person types to run it again
    let argv0 = std::env::args_os().next();
    if let Some(name) = argv0
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
    {
        crate::report::set_program(&name.to_string_lossy());
    }
    let program = argv0
        .as_deref()
        .map(|a| invocation(std::path::Path::new(a)));
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
            "{}: internal error{place}: {}",
            crate::report::name(),
            msg.replace('\n', " ")
        );
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        // `app SPEC COMMAND ...`: the spec's harness is the process's only one
        let (harnesses, args, words) = match app::split(&args)? {
            Some((domain, line, words, home)) => {
                let _ = APP_HOME.set(home);
                (vec![domain], line, Some(words))
            }
            None => (harnesses, args, None),
        };
        if let Some(program) = program {
            let line = match words {
                Some(words) => format!("{program} {words}"),
                None => program,
            };
            crate::report::set_invocation(&line);
        }
        if !harnesses.is_empty() {
            crate::offer::install(harnesses);
        }
        run(args)
    }));
    crate::app::stop_all();
    finish_stdout();
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("{}: {}", crate::report::name(), error_line(&e));
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Replay inputs (JSON reproducers, engine or cargo-fuzz artifacts, folders of them).
    #[command(
        after_help = "Exit codes: 0 every input replays clean, 1 at least one finding, 2 bad usage or an input that could not be read or replayed."
    )]
    Repro(repro::Args),
    /// Check SQL statements against the {harness} fixture under the policy of one `{op}` operation.
    #[command(
        after_help = "Exit codes: 0 every statement allowed, 1 at least one finding, 2 bad usage or unreadable input."
    )]
    Check(check::Args),
    /// Print the SQL that builds the fixture.
    #[command(after_help = "Exit codes: 0 printed, 2 bad usage.")]
    Schema(schema::Args),
    /// List the pipelines (versions of the code under test): name, bug class, what triggers it.
    #[command(after_help = "Exit codes: 0 printed, 2 bad usage.")]
    Pipelines,
    /// Fuzz a pipeline with the built-in engine (stable Rust, no setup).
    #[command(
        after_help = "Exit codes: 0 no finding, 1 at least one finding (artifacts written), 2 bad usage, unreadable input, or a run that could not start."
    )]
    Fuzz(fuzz::Args),
    /// Shrink an input to the smallest one with the same finding kind.
    #[command(
        after_help = "Exit codes: 0 minimized (the smaller input written), 2 bad usage or an input without the finding."
    )]
    Minimize(minimize::Args),
    /// CI gate: replay corpus/, then fuzz a pipeline (default `safe`) for a time budget.
    #[command(
        after_help = "Exit codes: 0 passed, 1 a finding (corpus or fuzzing), 2 could not check everything (bad usage, a declared source folder missing, an unreadable corpus, a report not written, interrupted): never a pass."
    )]
    Gate(gate::Args),
    /// Benchmarks: detection, throughput, the tripwire, code with its own client, instructions, scaling.
    #[command(after_help = "Exit codes: 0 measured, 2 bad usage or a run that could not start.")]
    Bench(bench::Args),
    /// Check each line of a text file as a text field of one `{op}` operation on the target row.
    #[command(
        after_help = "Exit codes: 0 no line escapes, 1 at least one finding, 2 bad usage, unreadable input, or lines that could not be checked."
    )]
    Scan(scan::Args),
    /// Harvest words from source (Rust, or an application's) into a libFuzzer dictionary (comparison operands first).
    #[command(after_help = "Exit codes: 0 written, 2 bad usage or no source file to read.")]
    Dict(dict::Args),
    /// The same text lines on SQLite and on each server (PostgreSQL, MariaDB/MySQL): every line whose verdicts differ, and why.
    #[command(
        after_help = "Exit codes: 0 every difference explained, 1 at least one unexplained difference, 2 bad usage or no server."
    )]
    Differential(differential::Args),
    /// Any command on a running application, in any language, from its spec file: `app SPEC COMMAND [ARGS]`.
    #[command(
        after_help = "Exit codes: 0 clean, 1 a finding, 2 could not check, as COMMAND says them; 2 also for a spec that cannot be read or checked, an application that does not start, dies or hangs."
    )]
    App(app::Args),
    /// One self-contained HTML page from a fuzz or gate JSON summary and its artifacts.
    #[command(
        after_help = "Exit codes: 0 page written and the summary is clean, 1 page written and the summary holds findings, 2 page written for a run that could not check everything, or bad usage / an unreadable summary (no page)."
    )]
    Report(report::Args),
}

/// `--database`: the PostgreSQL or MariaDB/MySQL server a command runs on instead of embedded SQLite.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DatabaseArgs {
    /// Run on this PostgreSQL server (postgres://user:password@host:port/db) or
    /// MariaDB/MySQL server (mysql://user:password@host:port/, or mariadb://) in
    /// a database and roles (users) {bin} creates and drops; default
    /// $ROWGUARD_DATABASE_URL, else embedded SQLite.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Use --database even though it holds objects {bin} did not create
    /// ({bin} still writes only in the databases it creates).
    #[arg(long)]
    database_owned_by_rowguard: bool,
    /// The role name the code under test runs as on the server (what
    /// `current_user` says to it); {bin} creates it and drops it after.
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
        eprintln!(
            "{}: writing to stdout: {e} (output incomplete)",
            crate::report::name()
        );
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

/// What a person types to run this binary again from the current folder:
/// its bare name when the shell finds this very binary on `PATH`, else the
/// path it was started by (under `cargo run`, `target/release/rowguard`),
/// relative to the current folder when it lies below it; one shell word.
fn invocation(argv0: &std::path::Path) -> String {
    let Some(name) = argv0.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return crate::report::name().to_string();
    };
    let exe = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::canonicalize(dir.join(&name))
                .ok()
                .is_some_and(|p| Some(p) == exe)
        })
    });
    if on_path {
        return crate::report::html::shell_word(&name);
    }
    let path = exe.unwrap_or_else(|| argv0.to_path_buf());
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    let shown = match cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()) {
        Some(rel) if rel.components().count() == 1 => std::path::Path::new(".").join(rel),
        Some(rel) => rel.to_path_buf(),
        None => path,
    };
    crate::report::html::shell_word(&shown.to_string_lossy())
}

/// The words a team's `--help` is told in: `{bin}` (this binary's name),
/// `{harness}` (the default harness's name) and `{op}` (the kind of its
/// example operation) in every about, help and after-help text.
struct Words {
    bin: String,
    harness: String,
    op: String,
}

impl Words {
    fn of_default_harness() -> Self {
        let harness = crate::harness::choice::choose_harness(None, None).ok();
        let example = harness.map(|h| h.example());
        let op = example
            .as_ref()
            .and_then(|e| e.get("op"))
            .and_then(|o| o.as_str())
            .unwrap_or("example")
            .to_string();
        Words {
            bin: crate::report::name().to_string(),
            harness: harness.map_or("built-in", |h| h.name()).to_string(),
            op,
        }
    }

    fn say(&self, text: &str) -> String {
        text.replace("{bin}", &self.bin)
            .replace("{harness}", &self.harness)
            .replace("{op}", &self.op)
    }

    /// `cmd` and its subcommands, every text told in these words.
    fn tell(&self, mut cmd: clap::Command) -> clap::Command {
        if let Some(t) = cmd.get_about().map(|t| self.say(&t.to_string())) {
            cmd = cmd.about(t);
        }
        if let Some(t) = cmd.get_long_about().map(|t| self.say(&t.to_string())) {
            cmd = cmd.long_about(t);
        }
        if let Some(t) = cmd.get_after_help().map(|t| self.say(&t.to_string())) {
            cmd = cmd.after_help(t);
        }
        if let Some(t) = cmd.get_after_long_help().map(|t| self.say(&t.to_string())) {
            cmd = cmd.after_long_help(t);
        }
        let args: Vec<clap::Id> = cmd.get_arguments().map(|a| a.get_id().clone()).collect();
        for id in args {
            cmd = cmd.mut_arg(id, |mut a| {
                if let Some(t) = a.get_help().map(|t| self.say(&t.to_string())) {
                    a = a.help(t);
                }
                if let Some(t) = a.get_long_help().map(|t| self.say(&t.to_string())) {
                    a = a.long_help(t);
                }
                a
            });
        }
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        for sub in subs {
            cmd = cmd.mut_subcommand(sub, |c| self.tell(c));
        }
        cmd
    }
}

/// The command line of this binary: its name, its harness's words.
fn command() -> clap::Command {
    let words = Words::of_default_harness();
    let name = crate::report::name();
    words.tell(Cli::command().name(name).bin_name(name))
}

fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<ExitCode> {
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
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
        Command::App(_) => anyhow::bail!(
            "write `app SPEC COMMAND` right after the program's name, with no option before it"
        ),
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

//! `rowguard differential --database URL [--pipeline P]... [--format text|json] FILE...`:
//! every line of each FILE as the notes of one reschedule, through each
//! dialect-neutral pipeline on embedded SQLite and on the server; prints
//! each line whose verdicts differ with why ([`crate::tools::differential`]).
//! Exit 0 when every difference is explained, 1 when one is not, 2 when the
//! comparison could not run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::tools::differential::{self, Reason};

use super::outln;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// Pipelines to compare (repeatable; default: every dialect-neutral one).
    #[arg(long)]
    pipeline: Vec<String>,
    /// The appointment every line reschedules.
    #[arg(long)]
    target: Option<i64>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Notes files, one notes text per line.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn reason_text(r: &Reason) -> String {
    match r {
        Reason::PostgresRejected(e) => format!("PostgreSQL rejected a statement SQLite ran: {e}"),
        Reason::SqliteRejected(e) => format!("SQLite rejected a statement PostgreSQL ran: {e}"),
        Reason::BothRejected(e) => format!("both rejected a statement: {e}"),
        Reason::LimitOnOne(e) => format!("a limit stopped a statement on one database: {e}"),
        Reason::NotRun(e) => format!("neither database ran the line: {e}"),
        Reason::Unexplained(e) => format!("UNEXPLAINED: {e}"),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(database) = args.db.options() else {
        anyhow::bail!(
            "differential needs a PostgreSQL server: --database URL or $ROWGUARD_DATABASE_URL"
        );
    };
    let harness = super::harness(None)?;
    let pipelines = if args.pipeline.is_empty() {
        differential::dialect_neutral(harness)
    } else {
        args.pipeline
            .iter()
            .map(|n| harness.pipeline(n))
            .collect::<Result<_, _>>()?
    };
    let files: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    let report = differential::compare(&pipelines, &files, &database, args.target)?;
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            for d in &report.differences {
                let text: String = d.text.as_deref().unwrap_or("").chars().take(60).collect();
                let verdict = |kinds: &[crate::guard::Kind]| match d.reason {
                    Reason::NotRun(_) => "not run".to_string(),
                    _ => crate::guard::kinds_line(kinds.iter().copied()),
                };
                outln!(
                    "{} {}:{}: sqlite {} vs postgres {} ({}): text {text:?}",
                    d.pipeline,
                    d.file,
                    d.line,
                    verdict(&d.sqlite),
                    verdict(&d.postgres),
                    reason_text(&d.reason)
                );
            }
            outln!("pipeline     lines   same  explained  unexplained");
            for c in &report.pipelines {
                outln!(
                    "{:<10} {:>7} {:>6} {:>10} {:>12}",
                    c.pipeline,
                    c.lines,
                    c.same,
                    c.explained,
                    c.unexplained
                );
            }
        }
    }
    Ok(if report.unexplained() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

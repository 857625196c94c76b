//! `rowguard differential --database URL [--and-database URL]... [--pipeline P]... [--format text|json] FILE...`:
//! every line of each FILE as the notes of one reschedule, through each
//! pipeline that exists on both, on embedded SQLite and on each server
//! (PostgreSQL and MariaDB/MySQL: all three backends); prints each line
//! whose verdicts differ with why ([`crate::tools::differential`]).
//! Exit 0 when every difference is explained, 1 when one is not, 2 when the
//! comparison could not run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::guard::postgres::PgOptions;
use crate::guard::BackendKind;
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
    /// Another server to compare with SQLite too (repeatable), e.g. a
    /// mysql:// one beside a postgres:// --database.
    #[arg(long, value_name = "URL")]
    and_database: Vec<String>,
    /// Pipelines to compare (repeatable; default: every one whose bug exists on both databases).
    #[arg(long)]
    pipeline: Vec<String>,
    /// The row every line's `{op}` operation targets (default: the example operation's).
    #[arg(long)]
    target: Option<i64>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Text files, one text per line: each is a text field of one `{op}` operation.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn reason_text(r: &Reason) -> String {
    match r {
        Reason::ServerRejected(e) => format!("the server rejected a statement SQLite ran: {e}"),
        Reason::SqliteRejected(e) => format!("SQLite rejected a statement the server ran: {e}"),
        Reason::DialectReads(e) => format!("MySQL reads the text otherwise than SQLite: {e}"),
        Reason::BothRejected(e) => format!("both rejected a statement: {e}"),
        Reason::LimitOnOne(e) => format!("a limit stopped a statement on one database: {e}"),
        Reason::NotRun(e) => format!("neither database ran the line: {e}"),
        Reason::Unexplained(e) => format!("UNEXPLAINED: {e}"),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(database) = args.db.options() else {
        anyhow::bail!("differential needs a server: --database URL or $ROWGUARD_DATABASE_URL");
    };
    let harness = super::harness(None)?;
    let mut servers = vec![database.clone()];
    servers.extend(args.and_database.iter().map(|url| PgOptions {
        url: url.clone(),
        ..database.clone()
    }));
    let files: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    let mut unexplained = 0;
    let mut reports = Vec::new();
    for server in &servers {
        let kind = BackendKind::of_url(&server.url);
        let pipelines = if args.pipeline.is_empty() {
            differential::comparable_with(harness, kind)
        } else {
            args.pipeline
                .iter()
                .map(|n| harness.pipeline(n))
                .collect::<Result<_, _>>()?
        };
        let report = differential::compare(&pipelines, &files, server, args.target)?;
        unexplained += report.unexplained();
        reports.push((kind, report));
    }
    match args.format {
        Format::Json => {
            let all: Vec<_> = reports
                .iter()
                .map(|(kind, r)| serde_json::json!({"database": kind, "report": r}))
                .collect();
            outln!("{}", serde_json::to_string_pretty(&all)?)
        }
        Format::Text => print_text(&reports),
    }
    Ok(if unexplained == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(reports: &[(BackendKind, differential::Report)]) {
    for (kind, report) in reports {
        for d in &report.differences {
            let text: String = d.text.as_deref().unwrap_or("").chars().take(60).collect();
            let verdict = |kinds: &[crate::guard::Kind]| match d.reason {
                Reason::NotRun(_) => "not run".to_string(),
                _ => crate::guard::kinds_line(kinds.iter().copied()),
            };
            outln!(
                "{} {}:{}: sqlite {} vs {kind} {} ({}): text {text:?}",
                d.pipeline,
                d.file,
                d.line,
                verdict(&d.sqlite),
                verdict(&d.server),
                reason_text(&d.reason)
            );
        }
        outln!("sqlite vs {kind}: pipeline     lines   same  explained  unexplained");
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

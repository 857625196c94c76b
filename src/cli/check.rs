//! `rowguard check [--target N] [--template SQL] [--dialect D] [--format F] SQL...`:
//! statements against the fixture under the policy of a reschedule of
//! appointment N. `-` reads one SQL string from stdin. The work is
//! `rowguard::tools::check`; this arm parses, prints and picks the exit code.

use super::{out, outln};
use std::process::ExitCode;

use anyhow::Context;
use rowguard::guard::Dialect;
use rowguard::tools::check::{self, CheckOptions};

use super::Format;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DialectArg {
    Sqlite,
    Mysql,
    Postgres,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// SQL strings to check, in order, as one input (`-` reads stdin).
    #[arg(required = true)]
    sql: Vec<String>,
    /// The appointment the reschedule targets.
    #[arg(long, default_value_t = rowguard::harness::schema::DEFAULT_TARGET)]
    target: i64,
    /// The same statement with benign text, for the shape comparison (repeat for several statements).
    #[arg(long)]
    template: Vec<String>,
    /// Dialect the static layer parses with (the dynamic layer is always SQLite).
    #[arg(long, value_enum, default_value = "sqlite")]
    dialect: DialectArg,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut sql = Vec::with_capacity(args.sql.len());
    for s in args.sql {
        if s == "-" {
            let bytes =
                rowguard::tools::input::read_capped(std::io::stdin().lock(), "stdin".as_ref())?;
            sql.push(String::from_utf8(bytes).context("stdin: SQL is not valid UTF-8")?);
        } else {
            sql.push(s);
        }
    }
    let opts = CheckOptions {
        target: args.target,
        templates: args.template,
        dialect: match args.dialect {
            DialectArg::Sqlite => Dialect::Sqlite,
            DialectArg::Mysql => Dialect::Mysql,
            DialectArg::Postgres => Dialect::Postgres,
        },
        database: args.db.options(),
    };
    let report = check::check(&sql, &opts)?;
    match args.format {
        Format::Text => out!("{}", rowguard::report::check_text(&report)),
        Format::Json => outln!("{}", report.json()),
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

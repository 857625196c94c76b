//! `rowguard check [--target N] [--template SQL] [--dialect D] [--format F] SQL...`:
//! statements against the harness's fixture under the policy of its example
//! operation on row N. `-` reads one SQL string from stdin. The work is
//! `crate::tools::check`; this arm parses, prints and picks the exit code.

use super::{out, outln};
use std::process::ExitCode;

use crate::guard::Dialect;
use crate::tools::check::{self, CheckOptions};
use anyhow::Context;

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
    /// The row the example operation targets (default: the example's own).
    #[arg(long)]
    target: Option<i64>,
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
                crate::tools::input::read_capped(std::io::stdin().lock(), "stdin".as_ref())?;
            sql.push(String::from_utf8(bytes).context("stdin: SQL is not valid UTF-8")?);
        } else {
            sql.push(s);
        }
    }
    let opts = CheckOptions {
        harness: super::harness(None)?,
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
        Format::Text => out!("{}", crate::report::check_text(&report)),
        Format::Json => outln!("{}", report.json()),
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

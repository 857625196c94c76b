//! `rowguard schema [--dialect sqlite|postgres|mysql] [--size N]`: the SQL
//! (DDL, fixture rows) that builds the harness's fixture on SQLite,
//! PostgreSQL or MariaDB/MySQL.

use super::out;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SchemaDialect {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(clap::Args)]
pub struct Args {
    /// Rows of the main table, for a harness whose fixture has a size (default: its own).
    #[arg(long)]
    size: Option<usize>,
    /// The database the script is for.
    #[arg(long, value_enum, default_value = "sqlite")]
    dialect: SchemaDialect,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut harness = super::harness(None)?;
    if let Some(rows) = args.size {
        harness = harness.resized(rows).ok_or_else(|| {
            anyhow::anyhow!("harness `{}`: its fixture has no size", harness.name())
        })?;
    }
    let fixture = harness.fixture();
    match args.dialect {
        SchemaDialect::Sqlite => out!("{}", fixture.sqlite_text),
        SchemaDialect::Postgres => match fixture.postgres {
            Some(sql) => out!("{sql}"),
            None => anyhow::bail!("harness `{}` has no PostgreSQL fixture", harness.name()),
        },
        SchemaDialect::Mysql => match fixture.mysql {
            Some(sql) => out!("{sql}"),
            None => anyhow::bail!("harness `{}` has no MariaDB/MySQL fixture", harness.name()),
        },
    }
    Ok(ExitCode::SUCCESS)
}

//! `rowguard schema [--dialect sqlite|postgres|mysql]`: the SQL (DDL, fixture
//! rows) that builds the fixture on SQLite (with its pragmas), PostgreSQL or
//! MariaDB/MySQL.

use super::out;
use std::process::ExitCode;

use rowguard::harness::{schema, schema_mysql, schema_pg};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SchemaDialect {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(clap::Args)]
pub struct Args {
    /// Appointments in the fixture.
    #[arg(long, default_value_t = schema::DEFAULT_SIZE)]
    size: usize,
    /// The database the script is for.
    #[arg(long, value_enum, default_value = "sqlite")]
    dialect: SchemaDialect,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.dialect {
        SchemaDialect::Sqlite => out!("{}", schema::sql(args.size)),
        SchemaDialect::Postgres => out!("{}", schema_pg::sql(args.size)),
        SchemaDialect::Mysql => out!("{}", schema_mysql::sql(args.size)),
    }
    Ok(ExitCode::SUCCESS)
}

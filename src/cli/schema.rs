//! `rowguard schema`: the SQL (pragmas, DDL, fixture rows) that builds the fixture.

use super::out;
use std::process::ExitCode;

use rowguard::schema;

#[derive(clap::Args)]
pub struct Args {
    /// Appointments in the fixture.
    #[arg(long, default_value_t = schema::DEFAULT_SIZE)]
    size: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    out!("{}", schema::sql(args.size));
    Ok(ExitCode::SUCCESS)
}

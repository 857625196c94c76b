//! One pipeline choice and one kind choice for every consumer (DESIGN.md,
//! "Inputs"; the harness choice is `crate::offer`'s): the pipeline under test is the
//! `--pipeline` flag, else the reproducer's, else `ROWGUARD_PIPELINE`, else
//! the harness's first (its correct version); the kinds that count for a
//! cargo-fuzz target come from `ROWGUARD_KINDS`.

use std::collections::BTreeSet;

use super::domain::{Domain, Pipeline};
use super::scenario::Decoded;
use crate::guard::Kind;

// The harnesses a process offers (installed by a binary, else the built-in
// one) are chosen in `crate::offer`, above the built-in harness.
#[doc(hidden)]
pub use crate::offer::{choose_harness, harnesses, install}; // old path, kept for compatibility

/// Environment variable naming the pipeline when no flag or reproducer does.
pub const PIPELINE_ENV: &str = "ROWGUARD_PIPELINE";
/// Environment variable listing the kinds that fail the fuzz target.
pub const KINDS_ENV: &str = "ROWGUARD_KINDS";
/// Environment variable giving the PostgreSQL server when no `--database` flag does.
pub const DATABASE_ENV: &str = "ROWGUARD_DATABASE_URL";

/// The pipeline of `domain` under test: the flag, else the reproducer's,
/// else `ROWGUARD_PIPELINE`, else the harness's first (correct) version.
pub fn choose_pipeline(
    domain: &'static dyn Domain,
    flag: Option<&str>,
    decoded: &Decoded,
) -> crate::Result<&'static dyn Pipeline> {
    let env = std::env::var(PIPELINE_ENV).ok().filter(|s| !s.is_empty());
    match flag.or(decoded.pipeline.as_deref()).or(env.as_deref()) {
        Some(name) => domain.pipeline(name),
        None => domain.safe(),
    }
}

/// The kinds that count as a failure: `ROWGUARD_KINDS` (comma-separated), else all.
pub fn kinds_from_env() -> crate::Result<BTreeSet<Kind>> {
    match std::env::var(KINDS_ENV) {
        Ok(list) if !list.trim().is_empty() => parse_kinds(&list),
        _ => Ok(Kind::ALL.into_iter().collect()),
    }
}

/// Parses `write-outside-target,sql-error`.
pub fn parse_kinds(list: &str) -> crate::Result<BTreeSet<Kind>> {
    list.split(',')
        .map(|k| k.trim().parse::<Kind>().map_err(crate::Error::Usage))
        .collect()
}

/// The server to run on (PostgreSQL; MariaDB/MySQL for a `mysql://` or
/// `mariadb://` URL): the flag, else `ROWGUARD_DATABASE_URL`
/// (when set and not blank), else none (embedded SQLite).
pub fn database_options(
    flag: Option<&str>,
    owned_by_rowguard: bool,
    app_role: Option<&str>,
) -> Option<crate::guard::postgres::PgOptions> {
    let env = std::env::var(DATABASE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty());
    flag.map(str::to_string)
        .or(env)
        .map(|url| crate::guard::postgres::PgOptions {
            url,
            owned_by_rowguard,
            app_role: app_role.map(str::to_string),
        })
}

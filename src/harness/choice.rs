//! One harness choice, one pipeline choice and one kind choice for every
//! consumer (DESIGN.md, "Inputs"): the harness is the `--harness` flag, else
//! the reproducer's, else the binary's first; the pipeline under test is the
//! `--pipeline` flag, else the reproducer's, else `ROWGUARD_PIPELINE`, else
//! the harness's first (its correct version); the kinds that count for a
//! cargo-fuzz target come from `ROWGUARD_KINDS`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::domain::{Domain, Pipeline};
use super::scenario::Decoded;
use crate::guard::Kind;

static HARNESSES: OnceLock<Vec<&'static dyn Domain>> = OnceLock::new();

/// Sets the harnesses this process offers (a binary does it once, before
/// any command runs); without it the process offers the appointments one.
pub fn install(harnesses: Vec<&'static dyn Domain>) {
    let _ = HARNESSES.set(harnesses);
}

/// The harnesses this process offers, the default first.
pub fn harnesses() -> &'static [&'static dyn Domain] {
    HARNESSES.get_or_init(|| vec![super::appointments::harness()])
}

/// The harness to use: `flag`, else the one a reproducer's `bytes` name,
/// else the first installed.
pub fn choose_harness(
    flag: Option<&str>,
    bytes: Option<&[u8]>,
) -> crate::Result<&'static dyn Domain> {
    let named = bytes.and_then(super::scenario::harness_named);
    match flag.or(named.as_deref()) {
        None => Ok(harnesses()[0]),
        Some(name) => harnesses()
            .iter()
            .copied()
            .find(|h| h.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = harnesses().iter().map(|h| h.name()).collect();
                crate::Error::Usage(format!(
                    "unknown harness `{name}` (this binary has: {})",
                    known.join(", ")
                ))
            }),
    }
}

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

//! rowguard: an input-fuzzing and query-safety guard for SQL-writing code.
//!
//! Three layers, arrows pointing down only (DESIGN.md, "Parts"):
//!
//! ```text
//!   cli (+ src/main.rs)       the command line: flags in, report out, on any harness
//!   fuzzing                   the cargo-fuzz boundary (fuzz/ targets call it)
//!   report                    text, JSON, JUnit, SARIF renderings of the data below
//!   tools                     one module per command: engine, minimize, gate, scan, check, repro, bench
//!   offer, oracle             the harnesses a binary offers; what every corpus file must satisfy
//!   appointments              the built-in harness: schema in three dialects, policy, pipelines, generator
//!   harness                   the extension point: domain, ops, scenario, execute, oracles, choice, rng
//!   guard (crates/guard)      the domain-free invariant checker: Db, Policy, Verdict, static + dynamic layers
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`guard`] | the `rowguard-guard` crate, re-exported: what a team adds to guard its own SQL |
//! | [`harness`] | the extension point: the `Harness` trait, the one `decode`, `execute`, the corpus oracles |
//! | [`appointments`] | the built-in appointments harness, a harness like a team's: schemas, policy, pipelines |
//! | [`offer`] | the harnesses a binary offers (the built-in one by default), the harness choice |
//! | [`oracle`] | what every corpus file must satisfy, and the guard's own oracle |
//! | [`tools`] | the commands' logic, one module each |
//! | [`report`] | every rendering of the tools' and harness's data |
//! | [`fuzzing`] | `fuzz_one` and `fuzz_guard`, the cargo-fuzz targets' bodies |
//! | [`cli`] | the command line, on the harnesses a binary hands it (`src/main.rs`: the built-in one) |
//! | [`error`] | the library's `Error` (the tool could not do its job) |
//!
//! `tests/layers.rs` checks the arrows: no module imports a layer above it,
//! and no modules import each other in a circle.

pub use rowguard_guard as guard;

pub mod app;
pub mod appointments;
pub mod cli;
pub mod error;
pub mod fuzzing;
pub mod harness;
pub mod offer;
pub mod oracle;
pub mod report;
pub mod tools;

pub use error::{Error, Result};

/// The guide in `docs/`, one page per task: every Rust block of every page
/// is compiled (and, unless marked `no_run`, run) by `cargo test --doc`.
/// `tests/docs.rs` checks that every page is listed here.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/README.md")]
    pub struct Index;
    #[doc = include_str!("../docs/reproduce.md")]
    pub struct Reproduce;
    #[doc = include_str!("../docs/fuzz.md")]
    pub struct Fuzz;
    #[doc = include_str!("../docs/findings.md")]
    pub struct Findings;
    #[doc = include_str!("../docs/gate.md")]
    pub struct Gate;
    #[doc = include_str!("../docs/words.md")]
    pub struct Words;
    #[doc = include_str!("../docs/own-harness.md")]
    pub struct OwnHarness;
    #[doc = include_str!("../docs/own-client.md")]
    pub struct OwnClient;
    #[doc = include_str!("../docs/app.md")]
    pub struct App;
    #[doc = include_str!("../docs/own-sql.md")]
    pub struct OwnSql;
    #[doc = include_str!("../docs/servers.md")]
    pub struct Servers;
    #[doc = include_str!("../docs/production.md")]
    pub struct Production;
    #[doc = include_str!("../docs/guard-fuzzing.md")]
    pub struct GuardFuzzing;
    #[doc = include_str!("../docs/layout.md")]
    pub struct Layout;
    #[doc = include_str!("../docs/scan.md")]
    pub struct Scan;
    #[doc = include_str!("../docs/exit-codes.md")]
    pub struct ExitCodes;
}

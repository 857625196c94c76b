//! rowguard: an input-fuzzing and query-safety guard for SQL-writing code.
//!
//! Three layers, arrows pointing down only (DESIGN.md, "Parts"):
//!
//! ```text
//!   cli (+ src/main.rs)       the command line: flags in, report out, on any harness
//!   fuzzing                   the cargo-fuzz boundary (fuzz/ targets call it)
//!   report                    text, JSON, JUnit, SARIF renderings of the data below
//!   tools                     one module per command: engine, minimize, gate, scan, check, repro, bench
//!   harness                   the appointments domain: schema, policy, pipelines, scenario, execute, oracles
//!   guard (crates/guard)      the domain-free invariant checker: Db, Policy, Verdict, static + dynamic layers
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`guard`] | the `rowguard-guard` crate, re-exported: what a team adds to guard its own SQL |
//! | [`harness`] | the appointments schema, policy, pipelines, the one `decode`, `execute`, the corpus oracles |
//! | [`tools`] | the commands' logic, one module each |
//! | [`report`] | every rendering of the tools' and harness's data |
//! | [`fuzzing`] | `fuzz_one` and `fuzz_guard`, the cargo-fuzz targets' bodies |
//! | [`cli`] | the command line, on the harnesses a binary hands it (`src/main.rs`: the built-in one) |
//! | [`error`] | the library's `Error` (the tool could not do its job) |
//!
//! `tests/layers.rs` checks the arrows: no module imports a layer above it.

pub use rowguard_guard as guard;

pub mod cli;
pub mod error;
pub mod fuzzing;
pub mod harness;
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

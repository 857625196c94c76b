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

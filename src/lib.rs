//! rowguard: an input-fuzzing and query-safety guard for SQL-writing code.
//!
//! Three layers, arrows pointing down only (DESIGN.md, "Parts"):
//!
//! ```text
//!   src/main.rs, src/cli/     the `rowguard` binary: flags in, report out
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
//! | [`error`] | the library's `Error` (the tool could not do its job) |
//!
//! `tests/layers.rs` checks the arrows: no module imports a layer above it.

pub use rowguard_guard as guard;

pub mod error;
pub mod fuzzing;
pub mod harness;
pub mod report;
pub mod tools;

pub use error::{Error, Result};

// Short paths kept for code written against the flat layout of 0.1 (one
// module per part at the crate root); new code names the layer.
#[doc(hidden)]
pub use guard::db;
#[doc(hidden)]
pub use harness::{pipeline, scenario, schema};
#[doc(hidden)]
pub use tools::engine::mutator;
#[doc(hidden)]
pub use tools::{bench, check, dict, engine, input, scan};
#[doc(hidden)]
pub mod target {
    //! The flat layout's `target` module, now split over the harness.
    pub use crate::fuzzing::fuzz_one;
    pub use crate::harness::appointments::*;
    pub use crate::harness::choice::*;
    pub use crate::harness::execute::*;
}
#[doc(hidden)]
pub mod guard_target {
    //! The flat layout's `guard_target` module, now the harness's guard oracle.
    pub use crate::fuzzing::fuzz_guard;
    pub use crate::harness::oracle::guard::*;
}

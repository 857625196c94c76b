//! rowguard: an input-fuzzing and query-safety guard for SQL-writing code.
//!
//! The parts follow `DESIGN.md`, one module each, data flowing top to bottom:
//!
//! | module | owns |
//! |---|---|
//! | [`schema`] | the appointments schema and its deterministic fixture |
//! | [`db`] | the small `Db` trait pipelines run their SQL through |
//! | [`pipeline`] | the reschedule + notes pipeline: `safe` and the planted variants |
//! | [`scenario`] | fuzz input (`Scenario { ops }`) and the one `decode(bytes)` |
//! | [`guard`] | the invariant checker (static + dynamic) behind a `Policy` |
//! | [`target`] | the one entry point: scenario + pipeline → guarded execution |
//! | [`guard_target`] | the `guard` fuzz target's body: arbitrary SQL and policy → the guard's oracle |
//! | [`check`] | `rowguard check`: pasted statements against the fixture |
//! | [`dict`] | words harvested from the code under test (`syn`), libFuzzer dictionary files |
//! | [`engine`] | the built-in fuzz loop, minimization and the CI gate |
//! | [`mutator`] | libFuzzer custom mutator and crossover with rowguard's structure-aware mutations |
//! | [`report`] | text and JSON renderings of an execution; JUnit and SARIF of the gate |
//! | [`bench`] | `rowguard bench`: throughput, scaling and detection benchmarks |
//! | [`scan`] | a file of notes, one reschedule per line, streamed through the guard |
//!
//! The `rowguard` binary (`src/main.rs`, `src/cli/`) is a thin layer over this
//! library; the cargo-fuzz crate in `fuzz/` calls [`target::fuzz_one`].

pub mod bench;
pub mod check;
pub mod db;
pub mod dict;
pub mod engine;
pub mod error;
pub mod guard;
pub mod guard_target;
pub mod mutator;
pub mod pipeline;
pub mod report;
pub mod scan;
pub mod scenario;
pub mod schema;
pub mod target;

pub use error::{Error, Result};

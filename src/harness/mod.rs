//! The extension point: what a harness is ([`domain::Harness`]) and what
//! rowguard does with any harness, above the domain-free guard crate and
//! below the built-in harness (`crate::appointments`) and the tools.
//!
//! Arrows point down only: `harness` imports `rowguard_guard` (re-exported
//! as [`crate::guard`]) and nothing from the layers above it (a harness,
//! the tools, report, fuzzing, the binary).
//!
//! | module | owns |
//! |---|---|
//! | [`domain`] | the `Harness` trait, its fixture and versions, `register` |
//! | [`ops`] | a harness's operations as values (`OpValue`) |
//! | [`scenario`] | fuzz input (`Scenario { ops }`) and the one `decode(bytes)` |
//! | [`choice`] | the one pipeline choice (flag, reproducer, `ROWGUARD_PIPELINE`, `safe`) |
//! | [`execute`] | a scenario run by a pipeline through the guard: an [`execute::Execution`] |
//! | [`rng`] | the one PRNG |
//!
//! Where things go: **a harness** is a crate or module of its own that
//! implements [`domain::Harness`] (the built-in one is
//! `crate::appointments`); nothing here changes.

pub mod choice;
pub mod domain;
pub mod execute;
pub mod ops;
pub mod rng;
pub mod scenario;

// The built-in appointments harness and the corpus oracles lived here; their
// old paths keep working (the extension point itself uses none of them).
#[doc(hidden)]
pub use crate::appointments::{self, pipeline, schema, schema_mysql, schema_pg}; // old path, kept for compatibility
#[doc(hidden)]
pub use crate::oracle; // old path, kept for compatibility

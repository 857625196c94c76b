//! The appointments harness: everything rowguard knows about one clinic's
//! reschedule + notes pipeline, above the domain-free guard crate and below
//! the tools.
//!
//! Arrows point down only: `harness` imports `rowguard_guard` (re-exported
//! as [`crate::guard`]) and nothing from the layers above it (tools,
//! report, fuzzing, the binary).
//!
//! | module | owns |
//! |---|---|
//! | [`schema`] | the appointments schema and its deterministic fixture |
//! | [`schema_pg`] | the same fixture in PostgreSQL's dialect |
//! | [`appointments`] | the reschedule policy and "a guard over the fixture for target N" |
//! | [`pipeline`] | the reschedule + notes pipeline: `safe` and the planted variants |
//! | [`scenario`] | fuzz input (`Scenario { ops }`) and the one `decode(bytes)` |
//! | [`choice`] | the one pipeline choice (flag, reproducer, `ROWGUARD_PIPELINE`, `safe`) |
//! | [`execute`] | a scenario run by a pipeline through the guard: an [`execute::Execution`] |
//! | [`oracle`] | what every corpus file must satisfy, and the guard's own oracle |
//! | [`rng`] | the one PRNG |
//!
//! Where things go:
//! - **a planted pipeline**: one file in `pipeline/` implementing
//!   [`pipeline::Pipeline`], one line in `pipeline::all()`, a reproducer under
//!   `corpus/regressions/<name>/`; nothing else changes.
//! - **a write channel** (a new table, trigger or cascade in the fixture):
//!   `schema.rs`, and its side effect in [`appointments::appointments_policy`]
//!   when the reschedule may use it; the guard needs no change.

pub mod appointments;
pub mod choice;
pub mod domain;
pub mod execute;
pub mod ops;
pub mod oracle;
pub mod pipeline;
pub mod rng;
pub mod scenario;
pub mod schema;
pub mod schema_mysql;
pub mod schema_pg;

//! What every server backend shares (PostgreSQL in [`crate::postgres`],
//! MariaDB/MySQL in [`crate::mysql`]): the options that say where the
//! server is, the names a run gives what it makes there, and the wall-clock
//! watchdog over every call. Each backend keeps only its dialect and its
//! client; neither names the other's.
//!
//! | module | owns |
//! |---|---|
//! | [`backend`] | the `Backend` of every server guard, written once; what an input is, each backend's |
//! | [`call`] | the steps of one call both backends take alike, and what it gave back |
//! | [`judge`] | the logged row changes against the policy; the settings watch |
//! | [`judging`] | the policy, its memo, the replay's templates, the verdict |
//! | [`options`] | [`ServerOptions`]: the server's URL, whose database it is, the app role |
//! | [`run`] | the run id, the marker on what a run makes, database names, random bits |
//! | [`watchdog`] | the wall-clock bound on one call: cancel, then end the connection |
//! | [`tables`] | the protected tables from a catalog's rows: columns, primary key |
//! | [`values`] | a logged JSON row image's cells in the guard's encoding |

pub(crate) mod backend;
pub(crate) mod call;
pub(crate) mod judge;
pub(crate) mod judging;
pub mod options;
pub(crate) mod run;
pub(crate) mod tables;
pub mod values;
pub(crate) mod watchdog;

pub use options::ServerOptions;

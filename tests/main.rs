//! rowguard's integration tests: one binary (ripgrep style), one module per
//! concern. Run with `cargo test`.

mod util;

// every committed corpus file replayed, reports kept as insta snapshots
mod replay;
// the guard's table tests: one line per statement and its expected verdict
mod guard_table;
// injected transaction control cannot escape; each input sees the pristine fixture
mod isolation;
// seeded random inputs through the fuzz target's entry point on `safe`
mod smoke;

// one test per write channel: kind, blast radius, and the clean counterpart
mod channels;
// the `guard` fuzz target's corpus replayed through its library entry point
mod guard_corpus;
// bounded work: every runaway statement is a resource-limit finding
mod limits;
// `rowguard check`: exit codes and JSON fields
mod cli_check;

//! rowguard's integration tests: one binary (ripgrep style), one module per
//! concern. Run with `cargo test`.

mod util;
// the architecture: arrows point down only
mod layers;
// a team's own harness (examples/invoices.rs) through every command
mod own_harness;
// a team's binary speaks its own name and domain: every --help, its source folders from any folder
mod team_words;
// the README and the guide: links resolve, Rust blocks compiled, the pipelines block, exit codes
mod docs;

// every committed corpus file replayed, reports kept as insta snapshots
mod replay;
// the guard's table tests: one line per statement and its expected verdict
mod guard_table;
// injected transaction control cannot escape; each input sees the pristine fixture
mod isolation;
// the incident: safe stores tricky notes, legacy is cut by a NUL
mod incident;
// seeded random inputs through the fuzz target's entry point on `safe`
mod smoke;
// the built-in fuzz engine, bounded by runs: determinism, legacy found, safe clean, artifacts replay
mod engine;
// minimize, the CI gate and its JUnit / SARIF outputs
mod workflow;
// issue 25: findings grouped by root cause, the expected number per pipeline, stable across seeds
mod rootcause;
// the binary's contract for fuzz, minimize and gate (exit codes, JSON fields, report files)
mod cli;
// the third-party corpora through `scan` on safe, legacy and stacked, against a whole-database diff
mod scan_corpora;
// `rowguard scan` as a user runs it: jsonl fields, text summary, bad input and exit codes
mod scan_cli;
// the pipeline registry: a reproducer per planted pipeline, `rowguard pipelines`
mod pipelines;

// one test per write channel: kind, blast radius, and the clean counterpart
mod channels;
// the `guard` fuzz target's corpus replayed through its library entry point
mod guard_corpus;
// bounded work: every runaway statement is a resource-limit finding
mod limits;
// `rowguard check`: exit codes and JSON fields
mod cli_check;
// rowguard under process and file faults: signals, FIFOs, closed and full stdout, failed writes
mod faults;
// words from the code under test: `rowguard dict`, `--dict`/`--source`, a random word found from its source
mod words;
// words the code reads and builds: assembled words, row references, values read from the database, stored text
mod read_words;
// words from applications in other languages: PHP, Python, JavaScript, TypeScript, Ruby, Go, Java
mod words_foreign;
// the guard on a real PostgreSQL server: channel table, fixtures, isolation, the corpus oracle
mod postgres;
// hostile code against the guard on PostgreSQL: no escape, no blinding, nothing outlasts it or is left
mod postgres_hostile;
// the guard on a real MariaDB server: channel table, isolation, a killed run, a foreign server
mod mysql;
// the HTML report: attacker text from the corpora stays inert data
mod report_injection;
// the HTML report in headless Chromium: DOM after load, screenshots in target/browser/
mod browser;
// `rowguard report`: the page of a saved run; bad summaries and artifacts folders are exit 2
mod report_cli;
// the HTML report of a huge run: under 5 MB, every cut counted
mod report_size;
// issue 22: hostile source trees, corpus folders and summaries; big ordinary SQL stays clean
mod hostile;
// the guard in production: the tripwire on a SQLite file (incident, safe seeds, load, kill)
mod tripwire;
// the tripwire on PostgreSQL: incident, safe seeds, no commit around it, load, a connection ended mid-operation
mod tripwire_pg;
// the PostgreSQL tripwire against hostile roles: arm values that crashed the server, DDL, replication role, catalog writes
mod tripwire_pg_hostile;
// the tripwire beside key-in-WHERE, WHERE-present and max-rows checks over every reproducer (BENCHMARKS.md)
mod tripwire_compare;
// the tripwire's pre-update-hook capture against the guard's trigger capture
mod tripwire_capture;
// following the guide (docs/servers.md) never breaks the user's shell: the server scripts it says to source
mod setup;
// code with its own client judged at the database: SQLite file, PostgreSQL, MariaDB
mod watch;
// running applications in other languages (examples/apps: Python, PHP on SQLite and MariaDB) through `rowguard app SPEC`
mod apps;

//! The tools: one library module per `rowguard` command, above the harness
//! and below the report layer. A CLI arm (`src/cli/`) only parses flags, calls
//! one of these and prints what it returns through the report layer.
//!
//! Arrows point down only: tools import [`crate::harness`] and
//! [`crate::guard`]; they never import the report layer, the fuzzing boundary
//! or the binary.
//!
//! | module | command |
//! |---|---|
//! | [`engine`] | `rowguard fuzz`: the built-in fuzz loop |
//! | [`minimize`] | `rowguard minimize`: the smallest input with the same finding |
//! | [`hash`] | the content hash artifacts, corpus files and root causes are named by |
//! | [`rootcause`] | findings grouped by where the text left its literal (fuzz, gate) |
//! | [`input`] | bounded reads of the files rowguard is handed: regular files only, size-capped |
//! | [`gate`] | `rowguard gate`: corpus replay through [`crate::oracle`], then fuzzing `safe` |
//! | [`scan`] | `rowguard scan`: a file of notes streamed through the guard |
//! | [`check`] | `rowguard check`: pasted statements against the fixture |
//! | [`differential`] | `rowguard differential`: the same lines on SQLite and PostgreSQL, every difference explained |
//! | [`repro`] | `rowguard repro`: inputs decoded and replayed |
//! | [`bench`] | `rowguard bench`: detection, throughput and scaling |
//!
//! Where things go: **a CLI command** is one module here (its logic and the
//! data it returns), one file in `src/cli/` (flags and printing) and, if it
//! prints something new, one renderer in `src/report/`.

pub mod bench;
pub mod check;
pub mod dict;
pub mod differential;
pub mod engine;
pub mod gate;
pub mod hash;
pub mod input;
pub mod minimize;
pub mod repro;
pub mod rootcause;
pub mod scan;

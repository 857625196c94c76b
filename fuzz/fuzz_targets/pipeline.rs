//! cargo-fuzz target `pipeline`: bytes → `rowguard::harness::scenario::decode` → the
//! pipeline named by `ROWGUARD_PIPELINE` (default `safe`) → the guard. Panics
//! with the report on a finding of a kind in `ROWGUARD_KINDS` (default all).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rowguard::fuzzing::fuzz_one(data));

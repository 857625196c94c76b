//! cargo-fuzz target `guard`: SQL text (+ optional policy bytes after 0xFF)
//! → `rowguard::fuzzing::fuzz_guard`. Panics only on a guard bug.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rowguard::fuzzing::fuzz_guard(data));

//! cargo-fuzz target `guard`: SQL text (+ optional policy bytes after 0xFF)
//! → `rowguard::guard_target::fuzz_guard`. Panics only on a guard bug.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rowguard::guard_target::fuzz_guard(data));

//! cargo-fuzz target `pipeline_plain`: the `pipeline` target with
//! libFuzzer's own byte mutation only (the baseline `bench detect` compares
//! rowguard's mutator against).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rowguard::fuzzing::fuzz_one(data));

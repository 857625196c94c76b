//! cargo-fuzz target `pipeline`: bytes → `rowguard::harness::scenario::decode` → the
//! pipeline named by `ROWGUARD_PIPELINE` (default `safe`) → the guard. Panics
//! with the report on a finding of a kind in `ROWGUARD_KINDS` (default all).
//! libFuzzer mutates with rowguard's structure-aware mutator (ops, tokens,
//! the words of `-dict=FILE`, e.g. `rowguard dict` output) and crossover;
//! `pipeline_plain` is the same target with libFuzzer's byte mutation only.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rowguard::fuzzing::fuzz_one(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let harness = rowguard::harness::appointments::harness();
    let words = rowguard::tools::engine::mutator::libfuzzer_words();
    rowguard::tools::engine::mutator::mutate(harness, data, size, max_size, seed, words, libfuzzer_sys::fuzzer_mutate)
});

libfuzzer_sys::fuzz_crossover!(|data1: &[u8], data2: &[u8], out: &mut [u8], seed: u32| {
    let harness = rowguard::harness::appointments::harness();
    rowguard::tools::engine::mutator::crossover(harness, data1, data2, out, seed)
});

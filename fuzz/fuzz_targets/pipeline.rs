//! cargo-fuzz target `pipeline`: bytes → `rowguard::harness::scenario::decode` → the
//! pipeline named by `ROWGUARD_PIPELINE` (default `safe`) → the guard. Panics
//! with the report on a finding of a kind in `ROWGUARD_KINDS` (default all),
//! and on nothing else. libFuzzer mutates with rowguard's structure-aware
//! mutator (ops, tokens, the words of `-dict=FILE`, e.g. `rowguard dict`
//! output) and crossover; `pipeline_plain` is the same target with
//! libFuzzer's byte mutation only. docs/words.md shows this file's code as the
//! template of a team's own target (a test keeps the two the same).
#![no_main]
use rowguard::harness::domain::Domain;
use rowguard::tools::engine::mutator::{crossover, libfuzzer_words, mutate};

/// The harness fuzzed. Yours: `register(MyHarness)`, kept in a `static OnceLock`.
fn harness() -> &'static dyn Domain {
    rowguard::harness::appointments::harness()
}

// The version and the kinds that count: here from ROWGUARD_PIPELINE and
// ROWGUARD_KINDS; fixed in the target with e.g.
// `fuzz_one_with(harness(), Some("safe"), Some(&[Kind::WriteOutsideTarget]), data)`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rowguard::fuzzing::fuzz_one_with(harness(), None, None, data)
});

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    mutate(harness(), data, size, max_size, seed, libfuzzer_words(), libfuzzer_sys::fuzzer_mutate)
});

libfuzzer_sys::fuzz_crossover!(|data1: &[u8], data2: &[u8], out: &mut [u8], seed: u32| {
    crossover(harness(), data1, data2, out, seed)
});

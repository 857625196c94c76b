//! rowguard's mutations for libFuzzer: the body of the cargo-fuzz targets'
//! `fuzz_mutator!` and `fuzz_crossover!`, as library functions so a user's
//! own fuzz target uses them in one line and stable `cargo test` checks them.
//!
//! [`mutate`] decodes the input through the one decode path, applies the
//! built-in engine's structure-aware mutations (ops inserted, removed,
//! duplicated, spliced; tokens, runs, byte damage inside a text; harvested
//! words written into text fields in four case variants) and writes the
//! result back as a compact JSON reproducer; a third of the time (and
//! whenever the result would not fit) it hands the input to libFuzzer's own
//! byte mutation, passed in as `byte_mutate` (`libfuzzer_sys::fuzzer_mutate`).
//! [`crossover`] splices the ops of two inputs. Both are deterministic for a
//! seed (given the same `byte_mutate`).
//!
//! The words come from libFuzzer's own `-dict=FILE` (read from the command
//! line, so `rowguard dict` output passed to libFuzzer reaches the text
//! fields) and from `ROWGUARD_DICT` ([`libfuzzer_words`]).

use std::sync::OnceLock;

use crate::harness::domain::{Domain, OpValue};
use crate::harness::ops;
use crate::harness::scenario::{Reproducer, Scenario, MAX_OPS};
use crate::tools::dict::Dictionary;
use crate::tools::engine::corpus::Input;
use crate::tools::engine::mutate;
use crate::tools::engine::rng::Rng;

/// Out of this many calls, one goes to libFuzzer's byte mutation.
const BYTES_SHARE: usize = 3;

/// The words of libFuzzer's `-dict=FILE` argument and of the files in
/// `ROWGUARD_DICT` (`:`-separated), read once. A file that cannot be read
/// gives a one-line warning and no words (libFuzzer itself refuses a bad
/// `-dict`).
pub fn libfuzzer_words() -> &'static Dictionary {
    static WORDS: OnceLock<Dictionary> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut files: Vec<String> = std::env::args()
            .filter_map(|a| a.strip_prefix("-dict=").map(str::to_string))
            .collect();
        if let Ok(list) = std::env::var("ROWGUARD_DICT") {
            files.extend(
                list.split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
        let mut all = Vec::new();
        for f in files {
            match Dictionary::load(std::path::Path::new(&f)) {
                Ok(d) => all.push(d),
                Err(e) => eprintln!("rowguard mutator: warning: {e}"),
            }
        }
        Dictionary::merge(all)
    })
}

/// Compact JSON of `ops`, dropping ops from the end until it fits `max`.
fn encode(mut ops: Vec<OpValue>, max: usize) -> Option<Vec<u8>> {
    while !ops.is_empty() {
        let r = Reproducer {
            rowguard: 1,
            harness: None,
            pipeline: None,
            expect: Vec::new(),
            ops: ops.clone(),
        };
        let bytes = serde_json::to_vec(&r).ok()?;
        if bytes.len() <= max {
            return Some(bytes);
        }
        ops.pop();
    }
    None
}

fn write(data: &mut [u8], bytes: &[u8]) -> usize {
    data[..bytes.len()].copy_from_slice(bytes);
    bytes.len()
}

/// One mutation of `data[..size]` (an input of `harness`) in place (at
/// most `max_size` bytes); returns the new size. `byte_mutate(data, size,
/// max_size)` is libFuzzer's own mutation.
pub fn mutate(
    harness: &dyn Domain,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
    words: &Dictionary,
    byte_mutate: impl FnOnce(&mut [u8], usize, usize) -> usize,
) -> usize {
    let max_size = max_size.min(data.len());
    let size = size.min(max_size);
    let mut rng = Rng::new(u64::from(seed) ^ 0x726f_7767_7561_7264);
    if rng.chance(1, BYTES_SHARE) {
        return bytes(harness, data, size, max_size, byte_mutate);
    }
    let mut s = Input::new(harness, data[..size].to_vec()).scenario;
    if s.ops.is_empty() {
        s = Input::new(harness, mutate::generate(&mut rng)).scenario;
    }
    let other = s.clone();
    for _ in 0..1 + rng.below(3) {
        mutate::mutate_scenario(harness, &mut rng, &mut s, &other, words);
    }
    if !words.is_empty() && rng.chance(1, 2) {
        mutate::insert_word(harness, &mut rng, &mut s, words);
    }
    match encode(s.ops, max_size) {
        Some(bytes) => write(data, &bytes),
        None => bytes(harness, data, size, max_size, byte_mutate),
    }
}

/// libFuzzer's byte mutation, with every number it moved outside the
/// generator's bounds in a JSON reproducer put back inside them (the
/// bytes know nothing of the harness; an op naming a row the generator
/// never names would fail the correct version for nothing).
fn bytes(
    harness: &dyn Domain,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    byte_mutate: impl FnOnce(&mut [u8], usize, usize) -> usize,
) -> usize {
    let n = byte_mutate(data, size, max_size).min(data.len());
    let input = Input::new(harness, data[..n].to_vec());
    if !input.json {
        return n;
    }
    let mut ops = input.scenario.ops;
    let mut moved = false;
    for op in &mut ops {
        moved |= ops::clamp_numbers(harness, op);
    }
    match encode(ops, max_size).filter(|_| moved) {
        Some(bytes) => write(data, &bytes),
        None => n,
    }
}

/// Ops of `a` up to a cut, then ops of `b` from a cut, into `out`; returns
/// the size written (0 when neither decodes to an op).
pub fn crossover(harness: &dyn Domain, a: &[u8], b: &[u8], out: &mut [u8], seed: u32) -> usize {
    let mut rng = Rng::new(u64::from(seed) ^ 0x6372_6f73_736f_7672);
    let (x, y) = (
        Input::new(harness, a.to_vec()).scenario,
        Input::new(harness, b.to_vec()).scenario,
    );
    let cut_x = if x.ops.is_empty() {
        0
    } else {
        1 + rng.below(x.ops.len())
    };
    let cut_y = if y.ops.is_empty() {
        0
    } else {
        rng.below(y.ops.len())
    };
    let mut ops: Vec<_> = x.ops[..cut_x].to_vec();
    ops.extend(y.ops[cut_y..].iter().cloned());
    ops.truncate(MAX_OPS);
    match encode(ops, out.len()) {
        Some(bytes) => write(out, &bytes),
        None => 0,
    }
}

/// What [`mutate`] output decodes to (for tests and tools).
pub fn decoded(harness: &dyn Domain, bytes: &[u8]) -> Scenario {
    Input::new(harness, bytes.to_vec()).scenario
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::harness as h;
    use crate::appointments::pipeline::Op;
    use crate::tools::dict::Rank;

    /// A stand-in for libFuzzer's byte mutation: deterministic.
    fn flip(data: &mut [u8], size: usize, _max: usize) -> usize {
        if size > 0 {
            data[0] ^= 1;
        }
        size
    }

    #[test]
    fn mutants_decode_to_valid_scenarios_and_repeat_for_a_seed() {
        let words = Dictionary::from_words([(b"wordx".to_vec(), Rank::Compared)]);
        let mut buf = vec![0u8; 4096];
        let mut size = 0;
        let mut json = 0;
        let mut with_word = 0;
        for seed in 0..300u32 {
            let mut again = buf.clone();
            let n = mutate(h(), &mut buf, size, 4096, seed, &words, flip);
            let m = mutate(h(), &mut again, size, 4096, seed, &words, flip);
            assert_eq!(buf[..n], again[..m], "seed {seed}");
            assert!(n <= 4096);
            let s = decoded(h(), &buf[..n]);
            for op in &s.ops {
                let op: Op = serde_json::from_value(op.clone()).unwrap();
                op.validate().unwrap();
                if op
                    .texts()
                    .iter()
                    .any(|t| t.to_lowercase().contains("wordx"))
                {
                    with_word += 1;
                }
            }
            json += usize::from(buf[..n].starts_with(b"{"));
            size = n;
        }
        assert!(json > 100, "{json}");
        assert!(with_word > 20, "{with_word}");
    }

    #[test]
    fn reference_templates_of_a_dictionary_file_are_written_with_keys() {
        // what `rowguard dict` writes: a template, and the fixture's keys
        let file = "reference=\"zq~\"\nkey=\"4\"\nkey=\"9\"\n";
        let path = std::env::temp_dir().join(format!("rowguard-ref-{}.dict", std::process::id()));
        std::fs::write(&path, file).unwrap();
        let words = Dictionary::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(words.ranked(Rank::Reference).count(), 1);
        // as a word of its own, and where a prefix is read: at the start
        let (mut seen, mut first) = (0, 0);
        for seed in 0..3000u32 {
            let mut buf = vec![0u8; 4096];
            let n = mutate(h(), &mut buf, 0, 4096, seed, &words, flip);
            let s = decoded(h(), &buf[..n]);
            for t in s
                .ops
                .iter()
                .flat_map(|o| crate::harness::ops::texts(h(), o))
            {
                seen += usize::from(t.contains("zq~4") || t.contains("zq~9"));
                first += usize::from(t.starts_with("zq~4") || t.starts_with("zq~9"));
            }
        }
        assert!(seen > 10, "template and key written {seen} times");
        assert!(first > 2, "template and key at the start {first} times");
    }

    #[test]
    fn a_byte_mutation_never_leaves_a_number_outside_the_generators_bounds() {
        let one = |id: i64| {
            serde_json::to_vec(&serde_json::json!({"rowguard": 1, "ops": [
                {"op": "edit-notes", "id": id, "notes": "x"}]}))
            .unwrap()
        };
        for id in [0i64, -5, 100_000] {
            let mut buf = vec![0u8; 4096];
            // a byte mutation that writes a number no generator makes
            let n = bytes(h(), &mut buf, 0, 4096, |data, _, _| {
                let b = one(id);
                data[..b.len()].copy_from_slice(&b);
                b.len()
            });
            let s = decoded(h(), &buf[..n]);
            let got = s.ops[0]["id"].as_i64().unwrap();
            let rows = crate::appointments::schema::DEFAULT_SIZE as i64;
            assert!((1..=rows).contains(&got), "{id} -> {got}");
        }
    }

    #[test]
    fn small_buffers_are_respected() {
        let mut buf = vec![b'x'; 40];
        for seed in 0..50 {
            let n = mutate(h(), &mut buf, 40, 40, seed, &Dictionary::default(), flip);
            assert!(n <= 40);
        }
    }

    #[test]
    fn crossover_splices_ops_of_both_inputs() {
        let op = |notes: &str| {
            serde_json::to_value(Op::EditNotes {
                id: 7,
                notes: notes.into(),
            })
            .unwrap()
        };
        let enc = |ops| encode(ops, 4096).unwrap();
        let a = enc(vec![op("a1"), op("a2")]);
        let b = enc(vec![op("b1"), op("b2"), op("b3")]);
        let mut out = vec![0u8; 4096];
        let mut mixed = false;
        for seed in 0..40 {
            let n = crossover(h(), &a, &b, &mut out, seed);
            let s = decoded(h(), &out[..n]);
            assert!(!s.ops.is_empty() && s.ops[0] == op("a1"));
            mixed |= s
                .ops
                .iter()
                .any(|o| crate::harness::ops::texts(h(), o)[0].starts_with('b'));
            let mut again = vec![0u8; 4096];
            assert_eq!(crossover(h(), &a, &b, &mut again, seed), n);
            assert_eq!(again[..n], out[..n]);
        }
        assert!(mixed);
    }
}

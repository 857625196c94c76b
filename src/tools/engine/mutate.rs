//! Mutations, at two levels.
//!
//! - Bytes (as libFuzzer does): bit flips, random bytes, inserted and deleted
//!   ranges, duplicated ranges, dictionary tokens, long runs, splices with
//!   another input. Applied to an input read through `arbitrary`; the result
//!   is again raw bytes.
//! - Structure: insert / remove / duplicate ops, splice note texts between
//!   inputs, insert dictionary tokens (quotes, comment markers, keywords,
//!   typographic quotes) into a text, long runs of one character, byte-level
//!   damage inside one text, new ids, days and slots. The result is
//!   serialized as a JSON reproducer, so it is human-readable and decodes to
//!   exactly the mutated scenario everywhere.
//!
//! Every output goes through `scenario::decode` like any other input: a
//! mutation never bypasses the one decode path.

use arbitrary::Unstructured;

use super::corpus::Input;
use super::rng::Rng;
use crate::pipeline::{Op, DAYS, SLOTS};
use crate::scenario::{self, dict, Reproducer, Scenario, MAX_OPS, MAX_RUN};
use crate::schema;

/// Longest raw input the generator makes.
pub const MAX_GENERATED: usize = 512;
/// Longest text field a mutation grows (characters).
pub const MAX_TEXT: usize = 2048;
/// Characters a long run is made of.
const RUN_CHARS: [char; 9] = ['\'', ' ', 'x', '-', '\\', '\u{2019}', ';', 'é', '"'];

/// Plain random generation: bytes for `scenario::decode` (through `arbitrary`,
/// the generator the cargo-fuzz target uses).
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    let len = 1 + rng.below(MAX_GENERATED);
    rng.bytes(len)
}

/// A mutant of `base`, possibly mixed with `other`.
pub fn mutate(rng: &mut Rng, base: &Input, other: &Input) -> Vec<u8> {
    if !base.json && rng.chance(1, 2) {
        let mut bytes = base.bytes.clone();
        for _ in 0..1 + rng.below(4) {
            mutate_bytes(rng, &mut bytes, &other.bytes);
        }
        return bytes;
    }
    let mut s = base.scenario.clone();
    for _ in 0..1 + rng.below(3) {
        mutate_scenario(rng, &mut s, &other.scenario);
    }
    if s.ops.is_empty() {
        s = base.scenario.clone();
    }
    to_json(&s)
}

/// The canonical JSON form of a scenario (no pipeline, no expectation).
pub fn to_json(s: &Scenario) -> Vec<u8> {
    Reproducer {
        rowguard: 1,
        pipeline: None,
        expect: Vec::new(),
        ops: s.ops.clone(),
    }
    .to_json()
    .into_bytes()
}

fn token(rng: &mut Rng) -> &'static str {
    rng.pick(dict::tokens()).as_str()
}

fn mutate_bytes(rng: &mut Rng, b: &mut Vec<u8>, other: &[u8]) {
    if b.is_empty() {
        let n = 1 + rng.below(64);
        b.extend(rng.bytes(n));
        return;
    }
    let at = rng.below(b.len() + 1);
    match rng.below(8) {
        0 => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = rng.below(b.len());
            b[i] = rng.next_u64() as u8;
        }
        2 => {
            let n = 1 + rng.below(8.min(b.len()));
            let from = rng.below(b.len() - n + 1);
            b.drain(from..from + n);
        }
        3 => {
            let n = 1 + rng.below(8);
            let new = rng.bytes(n);
            b.splice(at..at, new);
        }
        4 => {
            let n = 1 + rng.below(16.min(b.len()));
            let from = rng.below(b.len() - n + 1);
            let copy = b[from..from + n].to_vec();
            b.splice(at..at, copy);
        }
        5 => {
            let t = token(rng).as_bytes().to_vec();
            b.splice(at..at, t);
        }
        6 => {
            let byte = *rng.pick(b"' -x\\;\"\0");
            let n = 1 + rng.below(MAX_RUN);
            b.splice(at..at, std::iter::repeat_n(byte, n));
        }
        _ => {
            if !other.is_empty() {
                let cut = rng.below(other.len());
                b.truncate(at);
                b.extend_from_slice(&other[cut..]);
            }
        }
    }
    b.truncate(4 * MAX_GENERATED);
}

pub(crate) fn texts_mut(op: &mut Op) -> Vec<&mut String> {
    match op {
        Op::Reschedule { notes, reason, .. } | Op::RescheduleSeries { notes, reason, .. } => {
            vec![notes, reason]
        }
        Op::EditNotes { notes, .. } => vec![notes],
    }
}

fn a_text<'a>(rng: &mut Rng, s: &'a mut Scenario) -> &'a mut String {
    let i = rng.below(s.ops.len());
    let mut texts = texts_mut(&mut s.ops[i]);
    let j = rng.below(texts.len());
    texts.swap_remove(j)
}

/// A char boundary of `t` chosen at random.
fn boundary(rng: &mut Rng, t: &str) -> usize {
    let bounds: Vec<usize> = t
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(t.len()))
        .collect();
    *rng.pick(&bounds)
}

fn fresh_op(rng: &mut Rng) -> Option<Op> {
    let n = 64 + rng.below(192);
    let bytes = rng.bytes(n);
    scenario::arbitrary_op(&mut Unstructured::new(&bytes)).ok()
}

fn mutate_scenario(rng: &mut Rng, s: &mut Scenario, other: &Scenario) {
    if s.ops.is_empty() {
        s.ops.extend(fresh_op(rng));
        return;
    }
    match rng.below(11) {
        0 if s.ops.len() < MAX_OPS => {
            let at = rng.below(s.ops.len() + 1);
            if let Some(op) = fresh_op(rng) {
                s.ops.insert(at, op);
            }
        }
        1 if s.ops.len() > 1 => {
            let at = rng.below(s.ops.len());
            s.ops.remove(at);
        }
        2 if s.ops.len() < MAX_OPS => {
            let at = rng.below(s.ops.len());
            let op = s.ops[at].clone();
            s.ops.insert(at, op);
        }
        3 if !other.ops.is_empty() => {
            // splice: own prefix + the other input's suffix of one text
            let mut donor = other.clone();
            let from = a_text(rng, &mut donor).clone();
            let cut_from = boundary(rng, &from);
            let t = a_text(rng, s);
            let cut = boundary(rng, t);
            t.truncate(cut);
            t.push_str(&from[cut_from..]);
        }
        4 | 5 => {
            let tok = token(rng);
            let t = a_text(rng, s);
            let at = boundary(rng, t);
            t.insert_str(at, tok);
        }
        6 => {
            let c = *rng.pick(&RUN_CHARS);
            let n = 1 + rng.below(MAX_RUN);
            let t = a_text(rng, s);
            let at = boundary(rng, t);
            t.insert_str(at, &c.to_string().repeat(n));
        }
        7 => {
            let t = a_text(rng, s);
            let mut b = std::mem::take(t).into_bytes();
            mutate_bytes(rng, &mut b, &[]);
            *t = String::from_utf8_lossy(&b).into_owned();
        }
        8 => {
            let t = a_text(rng, s);
            if !t.is_empty() {
                let a = boundary(rng, t);
                let b = boundary(rng, t);
                t.replace_range(a.min(b)..a.max(b), "");
            }
        }
        9 => {
            let n = 16 + rng.below(128);
            let bytes = rng.bytes(n);
            if let Ok(new) = scenario::arbitrary_text(&mut Unstructured::new(&bytes)) {
                *a_text(rng, s) = new;
            }
        }
        _ => {
            let i = rng.below(s.ops.len());
            let id = if rng.chance(1, 2) {
                schema::DEFAULT_TARGET
            } else {
                1 + rng.below(schema::DEFAULT_SIZE) as i64
            };
            let (new_day, new_slot) = (
                1 + rng.below(DAYS as usize) as u8,
                rng.below(SLOTS as usize) as u8,
            );
            match &mut s.ops[i] {
                Op::Reschedule {
                    id: x, day, slot, ..
                } => {
                    *x = id;
                    *day = new_day;
                    *slot = new_slot;
                }
                Op::RescheduleSeries { id: x, slot, .. } => {
                    *x = id;
                    *slot = new_slot;
                }
                Op::EditNotes { id: x, .. } => *x = id,
            }
        }
    }
    for op in &mut s.ops {
        for t in texts_mut(op) {
            if t.chars().count() > MAX_TEXT {
                *t = t.chars().take(MAX_TEXT).collect();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_decode_to_valid_ops_and_json_mutants_round_trip() {
        let mut rng = Rng::new(7);
        let seed = Input::new(generate(&mut rng));
        let other = Input::new(generate(&mut rng));
        let mut input = seed;
        for _ in 0..300 {
            let bytes = mutate(&mut rng, &input, &other);
            let next = Input::new(bytes);
            for op in &next.scenario.ops {
                op.validate().unwrap();
                assert!(op.texts().iter().all(|t| t.chars().count() <= MAX_TEXT));
            }
            if next.json {
                assert_eq!(to_json(&next.scenario), next.bytes);
            }
            if !next.scenario.ops.is_empty() {
                input = next;
            }
        }
    }
}

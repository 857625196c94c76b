//! Mutations, at two levels.
//!
//! - Bytes (as libFuzzer does): bit flips, random bytes, inserted and deleted
//!   ranges, duplicated ranges, dictionary tokens, long runs, splices with
//!   another input. Applied to an input read through `arbitrary`; the result
//!   is again raw bytes.
//! - Structure: insert / remove / duplicate ops, splice note texts between
//!   inputs, insert dictionary tokens (quotes, comment markers, keywords,
//!   typographic quotes) into a text, long runs of one character, byte-level
//!   damage inside one text, new numbers (keys, dates, quantities: those of
//!   a freshly generated op, or of the harness's example). The result is
//!   serialized as a JSON reproducer, so it is human-readable and decodes to
//!   exactly the mutated scenario everywhere.
//!
//! - Words (with a [`Dictionary`]: harvested from the code under test, the
//!   fixture's values and keys, the values the code read in this run): a
//!   word written into a text field (at its start, its end or anywhere) as
//!   written or in a case variant (lower, UPPER, Title), half the time
//!   followed by an injection token, so a branch taken on a word meets the
//!   quote that breaks its SQL. `Compared` words (and reference templates)
//!   are picked half the time. A third of the words are compositions: two
//!   words joined, or a reference to a row (`#12`, `order:12`) made of a
//!   word and a key; with reference templates (a prefix the code parses a
//!   key after, [`Rank::Reference`]), half the references are a template
//!   followed by a key. The key is one of the fixture's or one the code
//!   read, a key of another row than the operation's first (a number the
//!   operation holds is its target: a reference to it is rarely the bug).
//!   With an empty dictionary no random number is drawn for words.
//! - Sequences: an op that stores text (a word at its start), then another
//!   op on the same target, which reads it back.
//!
//! Texts are the operations' free-text fields, whatever the harness
//! ([`crate::harness::ops`]). Every output goes through `scenario::decode`
//! like any other input: a mutation never bypasses the one decode path.

use arbitrary::Unstructured;

use super::corpus::Input;
use super::rng::Rng;
use crate::harness::domain::{Domain, OpValue};
use crate::harness::ops;
use crate::harness::scenario::{self, dict, Scenario, MAX_OPS, MAX_RUN};
use crate::tools::dict::{compose, Dictionary, Rank};

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

/// A word of `d` (raw): a `Compared` word half the time; else, when the
/// code read values in this run, one of them a third of the time; else a
/// fixture word a third of the time, biased to the smallest tables (they
/// come first); else any word (keys aside). `None`, drawing no number,
/// when `d` has no word.
fn pick_raw(rng: &mut Rng, d: &Dictionary) -> Option<Vec<u8>> {
    let compared = d.compared_span();
    let stored = d.span(Rank::Stored);
    let composed = d.span(Rank::Composed);
    let recent = &d.recent.texts;
    let any = stored.end + composed.len();
    if any + recent.len() == 0 {
        return None;
    }
    let at = |i: usize| d.words[i].bytes.clone();
    Some(if !compared.is_empty() && rng.chance(1, 2) {
        at(compared.start + rng.below(compared.len()))
    } else if !recent.is_empty() && (any == 0 || rng.chance(1, 3)) {
        recent[rng.below(recent.len())].clone()
    } else if !stored.is_empty() && rng.chance(1, 3) {
        let skew = rng.below(stored.len()) + 1;
        at(stored.start + rng.below(skew))
    } else {
        let i = rng.below(any);
        at(if i < stored.end {
            i
        } else {
            composed.start + i - stored.end
        })
    })
}

/// How many draws [`pick_other_key`] makes for a key the operation does not
/// hold before it takes one it does.
const OTHER_ROW_DRAWS: usize = 4;

/// A key ([`pick_key`]) of another row than `op`'s: none of the integers
/// `op` holds (its target among them), three times out of four; when every
/// draw lands on one of them (a fixture of one row), the last draw.
fn pick_other_key(rng: &mut Rng, d: &Dictionary, op: &OpValue) -> Option<Vec<u8>> {
    let mut held = Vec::new();
    integers(op, &mut held);
    let mut k = pick_key(rng, d)?;
    if held.is_empty() || rng.chance(1, 4) {
        return Some(k);
    }
    for _ in 1..OTHER_ROW_DRAWS {
        if !held.contains(&k) {
            break;
        }
        k = pick_key(rng, d)?;
    }
    Some(k)
}

/// The integers of `op`, in decimal: the rows it names.
fn integers(op: &OpValue, out: &mut Vec<Vec<u8>>) {
    match op {
        OpValue::Number(n) if n.is_i64() || n.is_u64() => out.push(n.to_string().into_bytes()),
        OpValue::Array(items) => items.iter().for_each(|v| integers(v, out)),
        OpValue::Object(map) => map.values().for_each(|v| integers(v, out)),
        _ => {}
    }
}

/// A key: one the code read in this run a third of the time (when any),
/// else one of the fixture's.
fn pick_key(rng: &mut Rng, d: &Dictionary) -> Option<Vec<u8>> {
    let keys = d.span(Rank::Key);
    let recent = &d.recent.keys;
    if keys.is_empty() && recent.is_empty() {
        return None;
    }
    Some(
        if !recent.is_empty() && (keys.is_empty() || rng.chance(1, 3)) {
            recent[rng.below(recent.len())].clone()
        } else {
            d.words[keys.start + rng.below(keys.len())].bytes.clone()
        },
    )
}

/// A word of `d` as written half the time, else lower, UPPER or Title case
/// (see [`pick_raw`] for which word).
pub fn pick_word(rng: &mut Rng, d: &Dictionary) -> Option<String> {
    let w = String::from_utf8_lossy(&pick_raw(rng, d)?).into_owned();
    if rng.chance(1, 2) {
        return Some(w);
    }
    Some(match rng.below(3) {
        0 => w.to_lowercase(),
        1 => w.to_uppercase(),
        _ => {
            let lower = w.to_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    })
}

/// A composition: two words joined ([`compose::join`]) or a reference to
/// a row of another key than `op`'s ([`pick_other_key`]): half the time,
/// with reference templates, a template and the key ([`compose::template`]:
/// `see #12`, followed by a space, preceded by one half the time, so it is
/// a word of its own or the start of the text), else a word of `d` with the
/// key ([`compose::reference`]: `#12`, `order:12`), written as a word of its
/// own (spaces around it). `None` when `d` has no word.
fn composition(rng: &mut Rng, d: &Dictionary, op: &OpValue) -> Option<String> {
    if rng.chance(1, 2) {
        let templates = d.span(Rank::Reference);
        if !templates.is_empty() && rng.chance(1, 2) {
            let t = &d.words[templates.start + rng.below(templates.len())].bytes;
            // no key at all (a dictionary file without keys): a join below
            if let Some(k) = pick_other_key(rng, d, op) {
                let space = if rng.chance(1, 2) { " " } else { "" };
                let r = compose::template(t, &k);
                return Some(format!("{space}{} ", String::from_utf8_lossy(&r)));
            }
        }
        if let Some(k) = pick_other_key(rng, d, op) {
            let form = rng.below(compose::REFERENCE_FORMS);
            let w = if form == 0 || form == compose::REFERENCE_FORMS - 1 {
                Vec::new()
            } else {
                pick_word(rng, d)?.into_bytes()
            };
            let r = compose::reference(&w, &k, form);
            return Some(format!(" {} ", String::from_utf8_lossy(&r)));
        }
    }
    let a = pick_word(rng, d)?;
    let b = pick_word(rng, d)?;
    let sep = rng.below(compose::SEPARATORS.len());
    Some(String::from_utf8_lossy(&compose::join(a.as_bytes(), b.as_bytes(), sep)).into_owned())
}

/// Writes a word of `d` (a third of the time a [`composition`]; half the
/// time followed by an injection token) into one text field of `s`: at its
/// start a quarter of the time (a gate at a fixed position, `starts_with`),
/// at its end a quarter, else at a random place.
pub fn insert_word(domain: &dyn Domain, rng: &mut Rng, s: &mut Scenario, d: &Dictionary) {
    if s.ops.is_empty() || d.is_empty() {
        return;
    }
    // the op first: a reference names another row than its target
    let i = rng.below(s.ops.len());
    let word = if rng.chance(1, 3) {
        composition(rng, d, &s.ops[i])
    } else {
        pick_word(rng, d)
    };
    let Some(mut word) = word else {
        return;
    };
    if rng.chance(1, 2) {
        word.push_str(token(rng));
    }
    if let Some(t) = text_of(domain, rng, s, i) {
        let at = match rng.below(4) {
            0 => 0,
            1 => t.len(),
            _ => boundary(rng, t),
        };
        t.insert_str(at, &word);
    }
    clamp_texts(domain, s);
}

/// An operation that stores text followed by another operation on the same
/// target: after op `i` (half the time with a word of `d`, and maybe a
/// token, written at the start of one of its texts) comes a fresh op with
/// op `i`'s numbers (its key: [`ops::renumber`]) half the time, else a copy
/// of op `i`. What a bug needs when one operation stores text that a later
/// one reads back.
fn sequence(domain: &dyn Domain, rng: &mut Rng, s: &mut Scenario, d: &Dictionary) {
    if s.ops.len() >= MAX_OPS {
        return;
    }
    let i = rng.below(s.ops.len());
    let n = ops::text_count(domain, &s.ops[i]);
    if n == 0 {
        return;
    }
    if !d.is_empty() && rng.chance(1, 2) {
        if let Some(mut w) = pick_word(rng, d) {
            if rng.chance(1, 2) {
                w.push_str(token(rng));
            }
            let j = rng.below(n);
            if let Some(t) = ops::text_mut(domain, &mut s.ops[i], j) {
                t.insert_str(0, &w);
            }
        }
    }
    let fresh = if rng.chance(1, 2) {
        fresh_op(domain, rng)
    } else {
        None
    };
    let next = fresh
        .map(|mut f| {
            ops::renumber(domain, &mut f, &s.ops[i]);
            f
        })
        .filter(|f| ops::admits(domain, f).is_ok())
        .unwrap_or_else(|| s.ops[i].clone());
    s.ops.insert(i + 1, next);
}

/// A fresh input with a harvested word written into it (JSON), or the raw
/// generated bytes when they decode to no op.
pub fn generate_with_word(domain: &dyn Domain, rng: &mut Rng, d: &Dictionary) -> Vec<u8> {
    let bytes = generate(rng);
    let mut input = Input::new(domain, bytes);
    if input.scenario.ops.is_empty() {
        return input.bytes;
    }
    insert_word(domain, rng, &mut input.scenario, d);
    input.scenario.to_json()
}

/// A mutant of `base`, possibly mixed with `other`, using words of `d`.
pub fn mutate(
    domain: &dyn Domain,
    rng: &mut Rng,
    base: &Input,
    other: &Input,
    d: &Dictionary,
) -> Vec<u8> {
    if !base.json && rng.chance(1, 2) {
        let mut bytes = base.bytes.clone();
        for _ in 0..1 + rng.below(4) {
            mutate_bytes(rng, &mut bytes, &other.bytes);
        }
        return bytes;
    }
    let mut s = base.scenario.clone();
    for _ in 0..1 + rng.below(3) {
        mutate_scenario(domain, rng, &mut s, &other.scenario, d);
    }
    if s.ops.is_empty() {
        s = base.scenario.clone();
    }
    s.to_json()
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

/// One free-text field of `s`, chosen at random (`None` when its chosen
/// op has none).
fn a_text<'a>(domain: &dyn Domain, rng: &mut Rng, s: &'a mut Scenario) -> Option<&'a mut String> {
    let i = rng.below(s.ops.len());
    text_of(domain, rng, s, i)
}

/// One free-text field of op `i` of `s`, chosen at random (`None` when it
/// has none).
fn text_of<'a>(
    domain: &dyn Domain,
    rng: &mut Rng,
    s: &'a mut Scenario,
    i: usize,
) -> Option<&'a mut String> {
    let n = ops::text_count(domain, &s.ops[i]);
    if n == 0 {
        return None;
    }
    let j = rng.below(n);
    ops::text_mut(domain, &mut s.ops[i], j)
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

fn fresh_op(domain: &dyn Domain, rng: &mut Rng) -> Option<OpValue> {
    let n = 64 + rng.below(192);
    let bytes = rng.bytes(n);
    domain.generate(&mut Unstructured::new(&bytes)).ok()
}

/// One structure-aware mutation of `s` (ops inserted, removed, duplicated,
/// texts spliced with `other`, tokens and words inserted, runs, byte damage
/// inside a text, new numbers).
pub fn mutate_scenario(
    domain: &dyn Domain,
    rng: &mut Rng,
    s: &mut Scenario,
    other: &Scenario,
    d: &Dictionary,
) {
    if s.ops.is_empty() {
        s.ops.extend(fresh_op(domain, rng));
        return;
    }
    match rng.below(12) {
        11 => sequence(domain, rng, s, d),
        0 if s.ops.len() < MAX_OPS => {
            let at = rng.below(s.ops.len() + 1);
            if let Some(op) = fresh_op(domain, rng) {
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
            let Some(from) = a_text(domain, rng, &mut donor).cloned() else {
                return;
            };
            let cut_from = boundary(rng, &from);
            if let Some(t) = a_text(domain, rng, s) {
                let cut = boundary(rng, t);
                t.truncate(cut);
                t.push_str(&from[cut_from..]);
            }
        }
        4 | 5 if !d.is_empty() && rng.chance(1, 2) => insert_word(domain, rng, s, d),
        4 | 5 => {
            let tok = token(rng);
            if let Some(t) = a_text(domain, rng, s) {
                let at = boundary(rng, t);
                t.insert_str(at, tok);
            }
        }
        6 => {
            let c = *rng.pick(&RUN_CHARS);
            let n = 1 + rng.below(MAX_RUN);
            if let Some(t) = a_text(domain, rng, s) {
                let at = boundary(rng, t);
                t.insert_str(at, &c.to_string().repeat(n));
            }
        }
        7 => {
            if let Some(t) = a_text(domain, rng, s) {
                let mut b = std::mem::take(t).into_bytes();
                mutate_bytes(rng, &mut b, &[]);
                *t = String::from_utf8_lossy(&b).into_owned();
            }
        }
        8 => {
            if let Some(t) = a_text(domain, rng, s) {
                if !t.is_empty() {
                    let a = boundary(rng, t);
                    let b = boundary(rng, t);
                    t.replace_range(a.min(b)..a.max(b), "");
                }
            }
        }
        9 => {
            let n = 16 + rng.below(128);
            let bytes = rng.bytes(n);
            if let Ok(new) = scenario::arbitrary_text(&mut Unstructured::new(&bytes)) {
                if let Some(t) = a_text(domain, rng, s) {
                    *t = new;
                }
            }
        }
        _ => {
            // New numbers: those of the harness's example (its usual
            // target) half the time, else of a freshly generated op.
            let i = rng.below(s.ops.len());
            let donor = if rng.chance(1, 2) {
                Some(domain.example())
            } else {
                fresh_op(domain, rng)
            };
            if let Some(donor) = donor {
                let before = s.ops[i].clone();
                ops::renumber(domain, &mut s.ops[i], &donor);
                if ops::admits(domain, &s.ops[i]).is_err() {
                    s.ops[i] = before;
                }
            }
        }
    }
    clamp_texts(domain, s);
}

/// Cuts every text field to [`MAX_TEXT`] characters.
fn clamp_texts(domain: &dyn Domain, s: &mut Scenario) {
    for op in &mut s.ops {
        ops::for_each_text(domain, op, |_, t| {
            if t.chars().count() > MAX_TEXT {
                *t = t.chars().take(MAX_TEXT).collect();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::harness as h;
    use crate::appointments::pipeline::Op;

    fn typed(op: &OpValue) -> Op {
        serde_json::from_value(op.clone()).unwrap()
    }

    #[test]
    fn mutants_decode_to_valid_ops_and_json_mutants_round_trip() {
        let mut rng = Rng::new(7);
        let seed = Input::new(h(), generate(&mut rng));
        let other = Input::new(h(), generate(&mut rng));
        let mut input = seed;
        for _ in 0..300 {
            let bytes = mutate(h(), &mut rng, &input, &other, &Dictionary::default());
            let next = Input::new(h(), bytes);
            for op in &next.scenario.ops {
                let op = typed(op);
                op.validate().unwrap();
                assert!(op.texts().iter().all(|t| t.chars().count() <= MAX_TEXT));
            }
            if next.json {
                assert_eq!(next.scenario.to_json(), next.bytes);
            }
            if !next.scenario.ops.is_empty() {
                input = next;
            }
        }
    }

    #[test]
    fn words_go_into_texts_in_every_case_variant() {
        let d = Dictionary::from_words([
            (b"teleWord".to_vec(), Rank::Compared),
            (b"zzz other".to_vec(), Rank::Literal),
        ]);
        let mut rng = Rng::new(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let input = Input::new(h(), generate_with_word(h(), &mut rng, &d));
            let text: String = input
                .scenario
                .ops
                .iter()
                .flat_map(|o| ops::texts(h(), o))
                .collect::<Vec<_>>()
                .join("\n");
            for v in ["teleWord", "teleword", "TELEWORD", "Teleword"] {
                if text.contains(v) {
                    seen.insert(v);
                }
            }
            for op in &input.scenario.ops {
                typed(op).validate().unwrap();
            }
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
    }

    #[test]
    fn a_reference_template_is_written_with_another_row_s_key() {
        // a template harvested from source that parses a key after it
        let source = crate::tools::dict::harvest::harvest(
            "fn r(n: &str) -> Option<i64> { n.strip_prefix(\"vq~\")?.parse().ok() }",
        )
        .unwrap();
        let keys = (1..=6).map(|k| (k.to_string().into_bytes(), Rank::Key));
        let d = Dictionary::from_words(source.into_iter().chain(keys));
        assert_eq!(d.ranked(Rank::Reference).count(), 1, "{:?}", d.words);
        let mut rng = Rng::new(11);
        let (mut own, mut other, mut at_start) = (0, 0, 0);
        for _ in 0..3000 {
            let mut s = Scenario {
                ops: vec![serde_json::to_value(Op::EditNotes {
                    id: 3,
                    notes: "x".into(),
                })
                .unwrap()],
            };
            insert_word(h(), &mut rng, &mut s, &d);
            let notes = ops::texts(h(), &s.ops[0])[0].to_string();
            let Some(at) = notes.find("vq~") else {
                continue;
            };
            let key: String = notes[at + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            match key.as_str() {
                "3" => own += 1,
                "" => {}
                _ => other += 1,
            }
            at_start += usize::from(notes.starts_with("vq~"));
        }
        assert!(other > 50, "another row's key after the template: {other}");
        assert!(
            own * 8 < other,
            "its own row first? own {own}, other {other}"
        );
        assert!(at_start > 5, "at the start of the text: {at_start}");
    }

    #[test]
    fn an_empty_dictionary_changes_nothing() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let base = Input::new(h(), generate(&mut Rng::new(1)));
        let other = Input::new(h(), generate(&mut Rng::new(2)));
        for _ in 0..50 {
            let d = Dictionary::default();
            assert_eq!(
                mutate(h(), &mut a, &base, &other, &d),
                mutate(h(), &mut b, &base, &other, &d)
            );
        }
    }
}

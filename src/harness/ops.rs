//! Operations as the tools see them: JSON values of some harness's `Op`.
//! Their free-text fields are the JSON strings a different string can
//! replace (an enum tag or a unit variant cannot: the operation would no
//! longer read); which paths those are is learnt once per harness and path.
//!
//! Everything that walks an operation's text goes through here: the
//! placeholder run, the mutator, the minimizer, `scan` and the report.
//!
//! The numbers the tools make are bounded by what the harness's generator
//! makes: its bounds (`#[arbitrary(with = ...)]`, `int_in_range`) are
//! learnt once per harness from generated operations, and every mutation
//! and shrink passes [`admits`] (with the harness's `validate`) or is put
//! back inside them ([`clamp_numbers`]), so no tool makes an operation the
//! generator never could (a key of a row that does not exist). What a
//! person writes in a reproducer is read as `validate` says: a seed may
//! name a missing row on purpose.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::domain::{Domain, OpValue};

/// Every scalar leaf of `op` (string, number, flag, null) with its path
/// (`/lines/*/description`: array indexes are `*`) and its position, in
/// document order.
fn scalars(op: &Value) -> Vec<(String, Vec<usize>)> {
    fn walk(
        v: &Value,
        path: &mut String,
        at: &mut Vec<usize>,
        out: &mut Vec<(String, Vec<usize>)>,
    ) {
        let mut child =
            |i: usize, part: &str, item: &Value, path: &mut String, at: &mut Vec<usize>| {
                let len = path.len();
                path.push('/');
                path.push_str(part);
                at.push(i);
                walk(item, path, at, out);
                at.pop();
                path.truncate(len);
            };
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    child(i, "*", item, path, at);
                }
            }
            Value::Object(map) => {
                for (i, (k, item)) in map.iter().enumerate() {
                    child(i, k, item, path, at);
                }
            }
            _ => out.push((path.clone(), at.clone())),
        }
    }
    let mut out = Vec::new();
    walk(op, &mut String::new(), &mut Vec::new(), &mut out);
    out
}

/// Every string leaf of `op`, as [`scalars`] gives them.
fn string_leaves(op: &Value) -> Vec<(String, Vec<usize>)> {
    let mut out = scalars(op);
    out.retain(|(_, at)| matches!(at_value(op, at), Some(Value::String(_))));
    out
}

fn at_mut<'a>(op: &'a mut Value, at: &[usize]) -> Option<&'a mut Value> {
    let mut v = op;
    for &i in at {
        v = match v {
            Value::Array(items) => items.get_mut(i)?,
            Value::Object(map) => map.values_mut().nth(i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A registered harness's identity, for the caches learnt once per harness
/// (registered harnesses live for the process).
fn identity(domain: &dyn Domain) -> usize {
    domain as *const dyn Domain as *const () as usize
}

fn learnt() -> &'static Mutex<HashMap<(usize, String), bool>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<(usize, String), bool>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Whether the string at `at` (path `path`) of `op` is free text: another
/// string there still reads as an operation of `domain`.
fn is_text(domain: &dyn Domain, op: &Value, path: &str, at: &[usize]) -> bool {
    let key = (identity(domain), path.to_string());
    if let Some(&known) = learnt().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return known;
    }
    let mut probe = op.clone();
    let text = match at_mut(&mut probe, at) {
        Some(Value::String(s)) => {
            s.insert_str(0, "\u{1}rowguard probe ");
            domain.reads(&probe)
        }
        _ => false,
    };
    learnt()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, text);
    text
}

/// The positions of `op`'s free-text fields, in document order.
fn text_positions(domain: &dyn Domain, op: &Value) -> Vec<(String, Vec<usize>)> {
    let mut out = string_leaves(op);
    out.retain(|(path, at)| is_text(domain, op, path, at));
    out
}

/// The free-text fields of `op`, in document order.
pub fn texts<'a>(domain: &dyn Domain, op: &'a Value) -> Vec<&'a str> {
    text_positions(domain, op)
        .iter()
        .filter_map(|(_, at)| at_value(op, at)?.as_str())
        .collect()
}

/// The names of `op`'s free-text fields (their paths, `/` first), in
/// document order.
pub fn text_fields(domain: &dyn Domain, op: &Value) -> Vec<String> {
    text_positions(domain, op)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Applies `f` to every free-text field of `op`, in document order.
pub fn for_each_text(domain: &dyn Domain, op: &mut Value, mut f: impl FnMut(usize, &mut String)) {
    for (n, (_, at)) in text_positions(domain, op).into_iter().enumerate() {
        if let Some(Value::String(s)) = at_mut(op, &at) {
            f(n, s);
        }
    }
}

/// The `n`th free-text field of `op`, to change in place.
pub fn text_mut<'a>(domain: &dyn Domain, op: &'a mut Value, n: usize) -> Option<&'a mut String> {
    let at = text_positions(domain, op).into_iter().nth(n)?.1;
    match at_mut(op, &at)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The number of free-text fields of `op`.
pub fn text_count(domain: &dyn Domain, op: &Value) -> usize {
    text_positions(domain, op).len()
}

/// The same operation with each free-text field replaced by benign text of
/// the same length in characters: the template the guard compares
/// statement shapes with.
pub fn placeholder(domain: &dyn Domain, op: &OpValue) -> OpValue {
    let mut p = op.clone();
    for_each_text(domain, &mut p, |_, s| *s = "x".repeat(s.chars().count()));
    p
}

/// The operation's kind: its first string field that is not free text
/// (an enum tag such as `"op": "reschedule"`), else `"op"`.
pub fn kind(domain: &dyn Domain, op: &Value) -> String {
    string_leaves(op)
        .into_iter()
        .find(|(path, at)| !is_text(domain, op, path, at))
        .and_then(|(_, at)| at_value(op, &at)?.as_str().map(str::to_string))
        .unwrap_or_else(|| "op".into())
}

/// One line for a person: the kind, then every field as `name=value`
/// (texts quoted, cut at 80 characters).
pub fn describe(domain: &dyn Domain, op: &Value) -> String {
    let kind = kind(domain, op);
    let Value::Object(map) = op else {
        return format!("{kind} {op}");
    };
    let fields: Vec<String> = map
        .iter()
        .filter(|(_, v)| v.as_str() != Some(kind.as_str()))
        .map(|(k, v)| match v {
            Value::String(s) => {
                let cut: String = s.chars().take(80).collect();
                let more = if s.chars().count() > 80 { "…" } else { "" };
                format!("{k}={cut:?}{more}")
            }
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{kind} {}", fields.join(", "))
}

/// The scalar leaves of `op` that are not free text (numbers, flags, tags),
/// by path.
fn settings(domain: &dyn Domain, op: &Value) -> Vec<(String, Vec<usize>)> {
    let mut out = scalars(op);
    out.retain(|(path, at)| {
        !matches!(at_value(op, at), Some(Value::String(_))) || !is_text(domain, op, path, at)
    });
    out
}

fn at_value<'a>(op: &'a Value, at: &[usize]) -> Option<&'a Value> {
    let mut v = op;
    for &i in at {
        v = match v {
            Value::Array(items) => items.get(i)?,
            Value::Object(map) => map.values().nth(i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// `op` with the numbers `fresh` has at the same paths: new keys, dates,
/// quantities; its texts kept.
pub fn renumber(domain: &dyn Domain, op: &mut Value, fresh: &Value) {
    let theirs: HashMap<String, Value> = settings(domain, fresh)
        .into_iter()
        .filter_map(|(path, at)| Some((path, at_value(fresh, &at)?.clone())))
        .collect();
    for (path, at) in settings(domain, op) {
        if let (Some(new @ Value::Number(_)), Some(slot)) = (theirs.get(&path), at_mut(op, &at)) {
            *slot = new.clone();
        }
    }
}

/// Simpler versions of `op`, one number changed each, simplest first (as
/// proptest shrinks): 0, 1, the least number the generator makes there,
/// then the harness's example operation's value at the same place; only
/// those [`admits`] lets through. A number already at one of those is not
/// made less simple.
pub fn simpler(domain: &dyn Domain, op: &Value) -> Vec<Value> {
    let example = domain.example();
    let theirs: HashMap<String, Value> = settings(domain, &example)
        .into_iter()
        .filter_map(|(path, at)| Some((path, at_value(&example, &at)?.clone())))
        .collect();
    let bounds = bounds(domain);
    let kind = kind(domain, op);
    let mut out = Vec::new();
    for (path, at) in settings(domain, op) {
        let Some(Value::Number(now)) = at_value(op, &at) else {
            continue;
        };
        let mut candidates = vec![Value::from(0), Value::from(1)];
        if let Some(least) = bounds
            .get(&(kind.clone(), path.clone()))
            .and_then(Range::least)
        {
            candidates.push(least);
        }
        candidates.extend(theirs.get(&path).cloned());
        for c in candidates {
            if matches!(c, Value::Number(ref n) if n == now) {
                break;
            }
            let mut next = op.clone();
            if let Some(slot) = at_mut(&mut next, &at) {
                *slot = c;
            }
            if admits(domain, &next).is_ok() && !out.contains(&next) {
                out.push(next);
            }
        }
    }
    out
}

/// Whether the tools may make `op`: the harness reads it, its `validate`
/// accepts it, and every number is one the harness's generator makes at
/// that place (each side of a range counts once the generator
/// shows it: a side it never reaches twice in [`SAMPLES`] operations, as of
/// a plain `i64`, is open).
pub fn admits(domain: &dyn Domain, op: &Value) -> Result<(), String> {
    domain.check(op)?;
    let bounds = bounds(domain);
    if bounds.is_empty() {
        return Ok(());
    }
    let kind = kind(domain, op);
    for (path, at) in settings(domain, op) {
        let Some(v) = at_value(op, &at).and_then(Value::as_f64) else {
            continue;
        };
        if let Some(r) = bounds.get(&(kind.clone(), path.clone())) {
            if !r.allows(v) {
                return Err(format!(
                    "`{}` = {} is outside what the harness's generator makes there ({})",
                    path.trim_start_matches('/'),
                    at_value(op, &at).map_or_else(String::new, Value::to_string),
                    r.describe()
                ));
            }
        }
    }
    Ok(())
}

/// `op` with every number outside the generator's bounds at its place
/// moved to the nearest bound; whether any moved. (After a byte-level
/// mutation, which knows nothing of them.)
pub fn clamp_numbers(domain: &dyn Domain, op: &mut Value) -> bool {
    let bounds = bounds(domain);
    if bounds.is_empty() {
        return false;
    }
    let kind = kind(domain, op);
    let mut moved = false;
    for (path, at) in settings(domain, op) {
        let Some(r) = bounds.get(&(kind.clone(), path)) else {
            continue;
        };
        let Some(slot) = at_mut(op, &at) else {
            continue;
        };
        let Some(v) = slot.as_f64() else {
            continue;
        };
        let (lo, hi) = r.sides();
        let to = match (lo, hi) {
            (Some(lo), _) if v < lo => lo,
            (_, Some(hi)) if v > hi => hi,
            _ => continue,
        };
        if let Some(n) = number(to) {
            *slot = n;
            moved = true;
        }
    }
    moved
}

/// `v` as a JSON number: an integer when it is one.
fn number(v: f64) -> Option<Value> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Some(Value::from(v as i64))
    } else {
        serde_json::Number::from_f64(v).map(Value::Number)
    }
}

/// Operations generated to learn the generator's bounds.
pub const SAMPLES: usize = 2048;

/// The numbers the generator made at one place (an operation kind and a
/// path) over [`SAMPLES`] operations.
#[derive(Debug, Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
    /// How often the least and the greatest were made, and any number.
    at_min: u32,
    at_max: u32,
    seen: u32,
}

impl Range {
    /// Sides the generator shows as bounds: made at least twice, at a
    /// place it fills often enough to tell.
    fn sides(&self) -> (Option<f64>, Option<f64>) {
        let known = self.seen >= 16;
        (
            (known && self.at_min >= 2).then_some(self.min),
            (known && self.at_max >= 2).then_some(self.max),
        )
    }

    fn allows(&self, v: f64) -> bool {
        let (lo, hi) = self.sides();
        lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)
    }

    /// The least number the generator makes here, when it has a floor.
    fn least(&self) -> Option<Value> {
        number(self.sides().0?)
    }

    fn describe(&self) -> String {
        match self.sides() {
            (Some(lo), Some(hi)) => format!("{lo}..={hi}"),
            (Some(lo), None) => format!("{lo} or more"),
            (None, Some(hi)) => format!("{hi} or less"),
            (None, None) => "any".into(),
        }
    }
}

type Bounds = HashMap<(String, String), Range>;

/// What `domain`'s generator makes at each numeric place, learnt once per
/// harness from [`SAMPLES`] operations generated from fixed pseudo-random
/// bytes (so every run, and every tool, draws the same bounds).
fn bounds(domain: &dyn Domain) -> &'static Bounds {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<usize, &'static Bounds>>> =
        std::sync::OnceLock::new();
    let key = identity(domain);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(b) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return b;
    }
    let learnt: &'static Bounds = Box::leak(Box::new(learn_bounds(domain)));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, learnt);
    learnt
}

fn learn_bounds(domain: &dyn Domain) -> Bounds {
    let mut state = 0x726f_7767_7561_7264u64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = Bounds::new();
    let mut bytes = Vec::with_capacity(256);
    for i in 0..SAMPLES {
        bytes.clear();
        // short inputs too: a generator's defaults for running out of bytes
        let len = if i % 8 == 0 { i % 16 } else { 256 };
        while bytes.len() < len {
            bytes.extend_from_slice(&next().to_le_bytes());
        }
        bytes.truncate(len);
        let Ok(op) = domain.generate(&mut arbitrary::Unstructured::new(&bytes)) else {
            continue;
        };
        let kind = kind(domain, &op);
        for (path, at) in settings(domain, &op) {
            let Some(v) = at_value(&op, &at).and_then(Value::as_f64) else {
                continue;
            };
            let r = out.entry((kind.clone(), path)).or_insert(Range {
                min: v,
                max: v,
                at_min: 0,
                at_max: 0,
                seen: 0,
            });
            r.seen += 1;
            if v < r.min {
                (r.min, r.at_min) = (v, 0);
            }
            if v > r.max {
                (r.max, r.at_max) = (v, 0);
            }
            r.at_min += u32::from(v == r.min);
            r.at_max += u32::from(v == r.max);
        }
    }
    out
}

/// Replaces every number of `op` equal to `from` by `to` (how `scan`
/// moves the example operation to another target row).
pub fn replace_number(op: &mut Value, from: i64, to: i64) {
    match op {
        Value::Number(n) if n.as_i64() == Some(from) => *op = Value::from(to),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_number(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_number(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use arbitrary::{Arbitrary, Unstructured};
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::guard::{Db, DbError, Policy};
    use crate::harness::domain::{register, Fixture, Harness, Version};

    fn row(u: &mut Unstructured) -> arbitrary::Result<i64> {
        u.int_in_range(1..=30)
    }

    fn even(u: &mut Unstructured) -> arbitrary::Result<u16> {
        Ok(u.int_in_range(50..=60u16)? * 2)
    }

    #[derive(Debug, Clone, Serialize, Deserialize, Arbitrary)]
    #[serde(tag = "op", rename_all = "kebab-case")]
    enum TestOp {
        Edit {
            #[arbitrary(with = row)]
            row: i64,
            /// any i64: no bound on either side
            amount: i64,
            #[arbitrary(with = even)]
            qty: u16,
            text: String,
        },
        Other {
            #[arbitrary(with = row)]
            row: i64,
        },
    }

    struct Bounded;

    impl Harness for Bounded {
        type Op = TestOp;
        fn name(&self) -> &'static str {
            "bounded"
        }
        fn fixture(&self) -> Fixture {
            Fixture::sql("")
        }
        fn policy(&self, _op: &TestOp, _db: &mut dyn Db) -> Result<Policy, DbError> {
            Ok(Policy::new("t", "id"))
        }
        fn versions(&self) -> Vec<Version<TestOp>> {
            vec![Version::new("safe", |_, _| Ok(()))]
        }
        fn example(&self) -> TestOp {
            TestOp::Edit {
                row: 7,
                amount: 5,
                qty: 110,
                text: String::new(),
            }
        }
    }

    fn domain() -> &'static dyn Domain {
        static D: std::sync::OnceLock<&'static dyn Domain> = std::sync::OnceLock::new();
        *D.get_or_init(|| register(Bounded))
    }

    fn edit(row: i64, amount: i64, qty: u16) -> Value {
        serde_json::json!({"op": "edit", "row": row, "amount": amount, "qty": qty, "text": "x"})
    }

    #[test]
    fn the_generators_bounds_are_learnt_per_place_and_open_where_it_has_none() {
        let d = domain();
        assert!(admits(d, &edit(1, 0, 100)).is_ok());
        assert!(admits(d, &edit(30, i64::MAX, 120)).is_ok());
        assert!(admits(d, &edit(1, i64::MIN, 100)).is_ok());
        let e = admits(d, &edit(0, 0, 100)).unwrap_err();
        assert!(e.contains("`row` = 0") && e.contains("1..=30"), "{e}");
        assert!(admits(d, &edit(31, 0, 100)).is_err());
        assert!(admits(d, &edit(5, 0, 98)).is_err());
        assert!(admits(d, &edit(5, 0, 122)).is_err());
        let other = serde_json::json!({"op": "other", "row": 0});
        assert!(admits(d, &other).is_err());
    }

    #[test]
    fn shrinks_stay_inside_the_generators_bounds() {
        let d = domain();
        let op = edit(23, 77, 118);
        let simpler = simpler(d, &op);
        assert!(!simpler.is_empty());
        for s in &simpler {
            assert!(admits(d, s).is_ok(), "{s}");
        }
        // the row shrinks to the least the generator makes (1), not to 0
        assert!(simpler.iter().any(|s| s["row"] == 1), "{simpler:?}");
        assert!(simpler.iter().any(|s| s["qty"] == 100), "{simpler:?}");
        // an unbounded number still shrinks to 0
        assert!(simpler.iter().any(|s| s["amount"] == 0), "{simpler:?}");
    }

    #[test]
    fn numbers_outside_the_bounds_are_moved_to_the_nearest() {
        let d = domain();
        let mut op = edit(0, i64::MIN, 500);
        assert!(clamp_numbers(d, &mut op));
        assert_eq!(op, edit(1, i64::MIN, 120));
        assert!(!clamp_numbers(d, &mut op));
        // a seed may still name a missing row: decode reads what validate accepts
        let bytes = br#"{"rowguard": 1, "ops": [{"op": "edit", "row": 0, "amount": 1, "qty": 100, "text": "t"}]}"#;
        assert!(crate::harness::scenario::decode_file(d, bytes).is_ok());
    }
}

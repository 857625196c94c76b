//! Operations as the tools see them: JSON values of some harness's `Op`.
//! Their free-text fields are the JSON strings a different string can
//! replace (an enum tag or a unit variant cannot: the operation would no
//! longer read); which paths those are is learnt once per harness and path.
//!
//! Everything that walks an operation's text goes through here: the
//! placeholder run, the mutator, the minimizer, `scan` and the report.

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

fn learnt() -> &'static Mutex<HashMap<(usize, String), bool>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<(usize, String), bool>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Whether the string at `at` (path `path`) of `op` is free text: another
/// string there still reads as an operation of `domain`.
fn is_text(domain: &dyn Domain, op: &Value, path: &str, at: &[usize]) -> bool {
    let key = (
        domain as *const dyn Domain as *const () as usize,
        path.to_string(),
    );
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
/// proptest shrinks): 0, 1, then the harness's example operation's value
/// at the same place. A number already at one of those is not made less
/// simple.
pub fn simpler(domain: &dyn Domain, op: &Value) -> Vec<Value> {
    let example = domain.example();
    let theirs: HashMap<String, Value> = settings(domain, &example)
        .into_iter()
        .filter_map(|(path, at)| Some((path, at_value(&example, &at)?.clone())))
        .collect();
    let mut out = Vec::new();
    for (path, at) in settings(domain, op) {
        let Some(Value::Number(now)) = at_value(op, &at) else {
            continue;
        };
        let mut candidates = vec![Value::from(0), Value::from(1)];
        candidates.extend(theirs.get(&path).cloned());
        for c in candidates {
            if matches!(c, Value::Number(ref n) if n == now) {
                break;
            }
            let mut next = op.clone();
            if let Some(slot) = at_mut(&mut next, &at) {
                *slot = c;
            }
            if domain.check(&next).is_ok() {
                out.push(next);
            }
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

//! Fuzz input: `Scenario { ops }` (operations of one harness, as JSON), and
//! the one [`decode`] every consumer uses (the cargo-fuzz target, the
//! built-in engine, `rowguard repro`, the replay tests), so one input file
//! means the same thing everywhere.
//!
//! Bytes that hold a JSON reproducer (`{"rowguard": 1, "harness": ...,
//! "pipeline": ..., "expect": [...], "ops": [...]}`) are read as such; any
//! other bytes go through the harness's generator (`arbitrary`), whose text
//! fields [`arbitrary_text`] fills with anything (quotes, comment markers,
//! keywords, unicode, control characters, NUL, long runs), with dictionary
//! tokens made likely.

use arbitrary::{Arbitrary, Unstructured};
use serde::{Deserialize, Serialize};

use super::domain::{Domain, OpValue, Pipeline};
use crate::guard::Kind;

pub mod dict;

#[doc(hidden)]
pub use crate::appointments::generate::arbitrary_op; // old path, kept for compatibility

/// Ops in one generated scenario, at most.
pub const MAX_OPS: usize = 8;
/// Longest run of one repeated character the generator makes.
pub const MAX_RUN: usize = 300;

/// One fuzz input: operations (JSON, of one harness) run in order against
/// one fresh fixture.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scenario {
    pub ops: Vec<OpValue>,
}

impl Scenario {
    /// A scenario of typed operations (a harness's `Op`).
    pub fn of<T: Serialize>(ops: impl IntoIterator<Item = T>) -> Scenario {
        Scenario {
            ops: ops
                .into_iter()
                .map(|op| serde_json::to_value(op).expect("an operation serializes to JSON"))
                .collect(),
        }
    }

    /// The canonical JSON form (no pipeline, no expectation): what the
    /// engine keeps and writes for an input it mutated.
    pub fn to_json(&self) -> Vec<u8> {
        Reproducer {
            rowguard: 1,
            harness: None,
            pipeline: None,
            expect: Vec::new(),
            ops: self.ops.clone(),
        }
        .to_json()
        .into_bytes()
    }
}

/// The committed, human-editable form of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reproducer {
    /// Format version: 1.
    pub rowguard: u32,
    /// The harness whose operations `ops` are (absent: the binary's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<String>,
    /// The pipeline the input was found on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Finding kinds the input produces on that pipeline.
    #[serde(default)]
    pub expect: Vec<Kind>,
    pub ops: Vec<OpValue>,
}

/// How the bytes were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Json,
    Arbitrary,
}

/// A decoded input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub scenario: Scenario,
    pub encoding: Encoding,
    /// The reproducer's harness, if it named one.
    pub harness: Option<String>,
    /// The reproducer's pipeline, if it named one.
    pub pipeline: Option<String>,
    /// The reproducer's expected kinds.
    pub expect: Vec<Kind>,
}

/// Whether `bytes` would be read as a JSON reproducer attempt (first
/// non-blank byte `{`): [`decode_file`] refuses such bytes when they are not
/// a valid reproducer, so the engine never writes raw bytes of this shape.
pub fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The harness a JSON reproducer names, if `bytes` are one that does: how a
/// binary with several harnesses picks the one to decode with.
pub fn harness_named(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Head {
        harness: Option<String>,
    }
    if !looks_like_json(bytes) {
        return None;
    }
    serde_json::from_slice::<Head>(bytes).ok()?.harness
}

fn from_json(domain: &dyn Domain, bytes: &[u8]) -> Result<Reproducer, String> {
    let r: Reproducer =
        serde_json::from_slice(bytes).map_err(|e| format!("not a rowguard reproducer: {e}"))?;
    if r.rowguard != 1 {
        return Err(format!(
            "unsupported reproducer version {} (this rowguard reads 1)",
            r.rowguard
        ));
    }
    if let Some(h) = r.harness.as_deref().filter(|h| *h != domain.name()) {
        return Err(format!(
            "a reproducer of harness `{h}`, read as one of `{}`",
            domain.name()
        ));
    }
    for (i, op) in r.ops.iter().enumerate() {
        domain.check(op).map_err(|e| format!("op {}: {e}", i + 1))?;
    }
    Ok(r)
}

/// Decodes any bytes as operations of `domain`: a valid JSON reproducer as
/// such, everything else through the harness's generator. Never fails: the
/// fuzz boundary uses this.
pub fn decode(domain: &dyn Domain, bytes: &[u8]) -> Decoded {
    if looks_like_json(bytes) {
        if let Ok(r) = from_json(domain, bytes) {
            return Decoded {
                scenario: Scenario { ops: r.ops },
                encoding: Encoding::Json,
                harness: r.harness,
                pipeline: r.pipeline,
                expect: r.expect,
            };
        }
    }
    Decoded {
        scenario: generate(domain, Unstructured::new(bytes)).unwrap_or_default(),
        encoding: Encoding::Arbitrary,
        harness: None,
        pipeline: None,
        expect: Vec::new(),
    }
}

/// Operations from the harness's generator until the bytes run out (at
/// most [`MAX_OPS`]); any failure gives no scenario, as `arbitrary` does.
fn generate(domain: &dyn Domain, mut u: Unstructured<'_>) -> arbitrary::Result<Scenario> {
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        ops.push(domain.generate(&mut u)?);
    }
    Ok(Scenario { ops })
}

/// [`decode`] for files a person hands over: the same meaning for every
/// input it accepts, but an empty file, malformed JSON or bytes that decode
/// to no op are an error instead of an empty scenario.
pub fn decode_file(domain: &dyn Domain, bytes: &[u8]) -> crate::Result<Decoded> {
    if bytes.is_empty() {
        return Err(crate::Error::Decode("empty input".into()));
    }
    if looks_like_json(bytes) {
        if let Err(e) = from_json(domain, bytes) {
            return Err(crate::Error::Decode(e));
        }
    }
    let decoded = decode(domain, bytes);
    if decoded.scenario.ops.is_empty() {
        return Err(crate::Error::Decode(
            "input decodes to no operation (not a rowguard input?)".into(),
        ));
    }
    Ok(decoded)
}

impl Reproducer {
    /// A reproducer of `scenario` found on `pipeline` with `expect` kinds.
    pub fn new(scenario: &Scenario, pipeline: &dyn Pipeline, expect: Vec<Kind>) -> Self {
        Reproducer {
            rowguard: 1,
            harness: Some(pipeline.harness().name().to_string()),
            pipeline: Some(pipeline.name().to_string()),
            expect,
            ops: scenario.ops.clone(),
        }
    }

    /// Pretty JSON with a final newline: what gets committed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reproducer serializes") + "\n"
    }
}

/// Generates free text: raw unicode, or dictionary tokens mixed with short
/// raw pieces and long runs of one character.
pub fn arbitrary_text(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(1, 4)? {
        return Ok(<&str>::arbitrary(u)?.to_string());
    }
    let tokens = dict::tokens();
    let pieces = u.int_in_range(0..=6)?;
    let mut out = String::new();
    for _ in 0..pieces {
        match u.int_in_range(0..=9)? {
            0..=4 => out.push_str(u.choose(tokens)?),
            5..=7 => {
                let n = u.int_in_range(0..=8)?;
                for _ in 0..n {
                    out.push(char::arbitrary(u)?);
                }
            }
            8 => out.push_str(&<&str>::arbitrary(u)?.chars().take(32).collect::<String>()),
            _ => {
                let c = *u.choose(&['x', ' ', '\'', 'é', '-'])?;
                let n = u.int_in_range(1..=MAX_RUN)?;
                out.extend(std::iter::repeat_n(c, n));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::harness;
    use crate::appointments::pipeline::{self, Op};

    fn json(op: Op) -> OpValue {
        serde_json::to_value(op).unwrap()
    }

    #[test]
    fn json_reproducers_round_trip() {
        let s = Scenario {
            ops: vec![json(Op::EditNotes {
                id: 7,
                notes: "'\0 ’".into(),
            })],
        };
        let legacy = pipeline::by_name("legacy").unwrap();
        let r = Reproducer::new(&s, legacy, vec![Kind::WriteOutsideTarget]);
        let d = decode_file(harness(), r.to_json().as_bytes()).unwrap();
        assert_eq!(d.scenario, s);
        assert_eq!(d.encoding, Encoding::Json);
        assert_eq!(d.pipeline.as_deref(), Some("legacy"));
        assert_eq!(d.harness.as_deref(), Some("appointments"));
    }

    #[test]
    fn files_that_are_not_inputs_are_errors() {
        assert!(decode_file(harness(), b"").is_err());
        assert!(decode_file(harness(), b"{\"rowguard\": 1, \"ops\": [").is_err());
        assert!(decode_file(harness(), b"{\"rowguard\": 2, \"ops\": []}").is_err());
        let bad_day = br#"{"rowguard":1,"ops":[{"op":"reschedule","id":7,"day":40,"slot":1,"notes":"","reason":""}]}"#;
        assert!(decode_file(harness(), bad_day)
            .unwrap_err()
            .to_string()
            .contains("day 40"));
        // the fuzz boundary never fails: malformed JSON is just bytes
        let _ = decode(harness(), b"{\"rowguard\": 1, \"ops\": [");
    }
}

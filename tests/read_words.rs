//! Words the code reads and builds (issue 24): the built-in engine finds a
//! bug gated by a word assembled from constants, by a reference to another
//! row, by a value read from the database and by text a previous operation
//! stored — on the planted pipelines (`flagged`, `linked`, `roster`,
//! `onhold`) and on planted bugs of the same classes written here, whose
//! words those pipelines do not hold (chosen when the test runs, where a
//! source can hold them). Runs with the same seed repeat exactly.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use rowguard::guard::{Db, DbError, ErrorClass, Kind, Value};
use rowguard::harness::appointments::with_variant;
use rowguard::harness::pipeline::{self, Op, Pipeline, Variant};
use rowguard::tools::dict::{self, Dictionary, Rank};
use rowguard::tools::engine::{self, Config};

use crate::util::root;

fn config(p: &'static dyn Pipeline, d: Dictionary, seed: u64, runs: u64) -> Config {
    let mut cfg = Config::new(p);
    cfg.seed = seed;
    cfg.runs = Some(runs);
    cfg.kinds = BTreeSet::from([Kind::WriteOutsideTarget]);
    cfg.stop_on_first = true;
    cfg.save_corpus = false;
    cfg.dictionary = d;
    cfg
}

/// Executions to the first write outside the target, within `runs`.
fn first_write(p: &'static dyn Pipeline, d: Dictionary, seed: u64, runs: u64) -> Option<u64> {
    let s = engine::run(&config(p, d, seed, runs), &AtomicBool::new(false)).unwrap();
    s.findings.first().map(|f| f.execs)
}

fn harvested(dir: &std::path::Path) -> Dictionary {
    dict::harvest_sources(&[dir.to_path_buf()])
        .unwrap()
        .dictionary
}

fn pipeline_source() -> Dictionary {
    harvested(&root().join("src/appointments/pipeline"))
}

#[test]
fn the_planted_pipelines_of_each_class_are_found() {
    let d = pipeline_source();
    for name in ["flagged", "linked", "roster", "onhold"] {
        let p = pipeline::by_name(name).unwrap();
        assert!(
            first_write(p, d.clone(), 1, 40_000).is_some(),
            "{name} not found in 40000 executions"
        );
    }
}

#[test]
fn runs_that_read_words_repeat_exactly_for_a_seed() {
    let p = pipeline::by_name("roster").unwrap();
    let run = || {
        let mut cfg = config(p, pipeline_source(), 3, 1_500);
        cfg.stop_on_first = false;
        cfg.kinds = engine::default_kinds();
        let s = engine::run(&cfg, &AtomicBool::new(false)).unwrap();
        let found: Vec<_> = s
            .findings
            .iter()
            .map(|f| (f.kind, f.shape.clone(), f.execs, f.count))
            .collect();
        (s.execs, s.shapes, s.corpus, found)
    };
    let first = run();
    assert!(!first.3.is_empty(), "roster gives findings in 1500 runs");
    assert_eq!(first, run());
}

/// A word of `len` lower-case letters drawn from the clock when the test runs.
fn random_word(salt: u64, len: usize) -> String {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ salt.rotate_left(17)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn id_and_notes(op: &Op) -> (i64, &str) {
    match op {
        Op::Reschedule { id, notes, .. }
        | Op::EditNotes { id, notes }
        | Op::RescheduleSeries { id, notes, .. } => (*id, notes),
    }
}

/// The hand-built UPDATE every planted branch below falls into.
fn pasted(db: &mut dyn Db, id: i64, text: &str) -> Result<(), DbError> {
    db.execute(
        &format!("UPDATE appointments SET notes = '{text}', updated_at = 'x' WHERE id = {id}"),
        &[],
    )
    .map(|_| ())
}

fn bound(db: &mut dyn Db, id: i64, text: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE appointments SET notes = ?1 WHERE id = ?2",
        &[Value::Text(text.into()), Value::Integer(id)],
    )
    .map(|_| ())
}

/// A tag assembled with `[PREFIX, KIND].concat()` of two random halves.
struct Assembled {
    prefix: &'static str,
    kind: &'static str,
}

impl Variant for Assembled {
    fn name(&self) -> &'static str {
        "test-assembled"
    }
    fn bug_class(&self) -> &'static str {
        "a gate word assembled from two constants"
    }
    fn trigger(&self) -> &'static str {
        "the assembled word and a quote"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = id_and_notes(op);
        if notes.contains(&[self.prefix, self.kind].concat()) {
            pasted(db, id, notes)
        } else {
            bound(db, id, notes)
        }
    }
}

#[test]
fn an_unseen_word_assembled_from_constants_is_found_from_its_source() {
    let (prefix, kind) = (random_word(1, 4), random_word(2, 5));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tags.rs"),
        format!(
            "const PREFIX: &str = \"{prefix}\";\nconst KIND: &str = \"{kind}\";\n\
             fn tagged(notes: &str) -> bool {{ notes.contains(&[PREFIX, KIND].concat()) }}\n"
        ),
    )
    .unwrap();
    let d = harvested(dir.path());
    let word = format!("{prefix}{kind}");
    assert!(d.ranked(Rank::Compared).any(|w| w.bytes == word.as_bytes()));
    let p: &'static Assembled = Box::leak(Box::new(Assembled {
        prefix: leak(prefix),
        kind: leak(kind),
    }));
    assert!(
        first_write(with_variant(p), d, 1, 40_000).is_some(),
        "{word} not found"
    );
}

/// `<label><id>` (e.g. `visit:12`) in the notes writes the referenced row.
struct Reference {
    label: &'static str,
}

impl Variant for Reference {
    fn name(&self) -> &'static str {
        "test-reference"
    }
    fn bug_class(&self) -> &'static str {
        "a reference to another row in the notes writes that row"
    }
    fn trigger(&self) -> &'static str {
        "the label and the key of another existing row"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = id_and_notes(op);
        bound(db, id, notes)?;
        let other = notes
            .split_whitespace()
            .find_map(|w| w.strip_prefix(self.label)?.parse::<i64>().ok());
        if let Some(other) = other.filter(|o| *o != id) {
            // only a row that exists is linked
            match db.query_row(
                "SELECT id FROM appointments WHERE id = ?1",
                &[Value::Integer(other)],
            ) {
                Ok(_) => bound(db, other, "linked")?,
                Err(e) if e.class == ErrorClass::NoRows => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[test]
fn an_unseen_row_reference_form_is_found_with_the_fixture_keys() {
    let label = format!("{}:", random_word(3, 5));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("links.rs"),
        format!(
            "fn linked(notes: &str) -> Option<i64> {{ notes.split_whitespace().find_map(|w| w.strip_prefix(\"{label}\")?.parse().ok()) }}\n"
        ),
    )
    .unwrap();
    let d = harvested(dir.path());
    let p: &'static Reference = Box::leak(Box::new(Reference {
        label: leak(label.clone()),
    }));
    assert!(
        first_write(with_variant(p), d, 1, 40_000).is_some(),
        "{label}<key> not found"
    );
}

/// A branch on the target's client name, as the `clients` table spells it:
/// in no source file at all.
struct ClientGate;

impl Variant for ClientGate {
    fn name(&self) -> &'static str {
        "test-client-gate"
    }
    fn bug_class(&self) -> &'static str {
        "a gate read from the database"
    }
    fn trigger(&self) -> &'static str {
        "the target's client name and a quote"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = id_and_notes(op);
        let name = match db.query_row(
            "SELECT c.name FROM clients c JOIN appointments a ON a.client_id = c.id WHERE a.id = ?1",
            &[Value::Integer(id)],
        ) {
            Ok(row) => match row.into_iter().next() {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            },
            Err(e) if e.class == ErrorClass::NoRows => None,
            Err(e) => return Err(e),
        };
        match name {
            Some(n) if notes.contains(n.as_str()) => pasted(db, id, notes),
            _ => bound(db, id, notes),
        }
    }
}

#[test]
fn a_gate_read_from_the_database_is_found_without_any_source() {
    assert!(
        first_write(with_variant(&ClientGate), Dictionary::default(), 1, 40_000).is_some(),
        "the client-name gate not found"
    );
}

/// Stored notes that start with a random marker are pasted by the next
/// change of the row.
struct StoredMarker {
    marker: &'static str,
}

impl Variant for StoredMarker {
    fn name(&self) -> &'static str {
        "test-stored-marker"
    }
    fn bug_class(&self) -> &'static str {
        "stored text read back by a later operation"
    }
    fn trigger(&self) -> &'static str {
        "an op storing the marker and a quote, then another on the same row"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = id_and_notes(op);
        let stored = match db.query_row(
            "SELECT notes FROM appointments WHERE id = ?1",
            &[Value::Integer(id)],
        ) {
            Ok(row) => match row.into_iter().next() {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            },
            Err(e) if e.class == ErrorClass::NoRows => None,
            Err(e) => return Err(e),
        };
        match stored {
            Some(s) if s.starts_with(self.marker) => pasted(db, id, &s),
            _ => bound(db, id, notes),
        }
    }
}

#[test]
fn an_unseen_marker_on_stored_text_is_found_from_its_source() {
    let marker = format!("{}>", random_word(4, 5).to_uppercase());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hold.rs"),
        format!("fn held(stored: &str) -> bool {{ stored.starts_with(\"{marker}\") }}\n"),
    )
    .unwrap();
    let d = harvested(dir.path());
    let p: &'static StoredMarker = Box::leak(Box::new(StoredMarker {
        marker: leak(marker.clone()),
    }));
    assert!(
        first_write(with_variant(p), d, 1, 40_000).is_some(),
        "{marker} not found"
    );
}

/// `<label><id>` at the very start of the notes (the whole text, not a word
/// of it) writes the referenced row; the source reads the key with a
/// regular expression.
struct LeadingReference {
    label: &'static str,
}

impl Variant for LeadingReference {
    fn name(&self) -> &'static str {
        "test-leading-reference"
    }
    fn bug_class(&self) -> &'static str {
        "a reference at the start of the notes writes that row"
    }
    fn trigger(&self) -> &'static str {
        "the label, then the key of another existing row, first in the notes"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = id_and_notes(op);
        bound(db, id, notes)?;
        let digits: String = notes
            .strip_prefix(self.label)
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Some(other) = digits.parse::<i64>().ok().filter(|o| *o != id) {
            match db.query_row(
                "SELECT id FROM appointments WHERE id = ?1",
                &[Value::Integer(other)],
            ) {
                Ok(_) => bound(db, other, "linked")?,
                Err(e) if e.class == ErrorClass::NoRows => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The template comes from a regular expression's literal start, and the
/// engine writes it at the start of a text with another row's key.
#[test]
fn an_unseen_reference_read_by_a_regular_expression_is_found_from_its_source() {
    let label = format!("{}/", random_word(5, 5));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("refs.rs"),
        format!(
            "fn leading(notes: &str) -> Option<i64> {{\n    let re = regex::Regex::new(r\"^{label}(\\d+)\").unwrap();\n    re.captures(notes)?.get(1)?.as_str().parse().ok()\n}}\n"
        ),
    )
    .unwrap();
    let d = harvested(dir.path());
    assert!(
        d.ranked(Rank::Reference)
            .any(|w| w.bytes == label.as_bytes()),
        "{:?}",
        d.words
    );
    let p: &'static LeadingReference = Box::leak(Box::new(LeadingReference {
        label: leak(label.clone()),
    }));
    assert!(
        first_write(with_variant(p), d, 1, 20_000).is_some(),
        "{label}<key> at the start not found"
    );
}

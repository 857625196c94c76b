//! `wording`: like `safe`, except that notes mentioning a telehealth visit
//! (the word in any case) take the old video-visit code path, which was
//! never ported to bound parameters: it pastes the notes and reason between
//! quotes, exactly as `legacy` does. The bug hides behind one ordinary word
//! (the incident's "specific wording"): no quote or comment marker reaches
//! the concatenating branch unless the word is there too.
//!
//! The word is in no dictionary, generator or engine table (a test checks
//! that): a fuzzer can only learn it from this file, which is what
//! `rowguard dict --source` / `fuzz --source` do. [`Wording::new`] takes any
//! word, so a test can plant one nobody could know in advance.

use super::concat::Concat;
use super::safe::Safe;
use super::{Db, DbError, Op, Variant};

/// `safe` with a word-triggered legacy branch.
pub struct Wording {
    word: &'static str,
}

/// The registered instance.
pub const WORDING: Wording = Wording { word: "telehealth" };

/// The video-visit code path: text pasted between quotes.
const VIDEO_VISIT: Concat = Concat {
    literal: |text| text.to_string(),
    batch: false,
};

impl Wording {
    /// The pipeline whose legacy branch is taken by notes holding `word`
    /// (compared in ASCII lower case; pass it in lower case).
    pub const fn new(word: &'static str) -> Wording {
        Wording { word }
    }

    fn mentions_the_word(&self, op: &Op) -> bool {
        let notes = match op {
            Op::Reschedule { notes, .. }
            | Op::EditNotes { notes, .. }
            | Op::RescheduleSeries { notes, .. } => notes,
        };
        notes.to_ascii_lowercase().contains(self.word)
    }
}

impl Variant for Wording {
    fn name(&self) -> &'static str {
        "wording"
    }
    fn bug_class(&self) -> &'static str {
        "like safe, but notes holding one word take a legacy branch that builds SQL by hand"
    }
    fn trigger(&self) -> &'static str {
        "the word (any case) in the notes, plus a quote that ends the literal and SQL after it"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        if self.mentions_the_word(op) {
            VIDEO_VISIT.run(op, db)
        } else {
            Safe.run(op, db)
        }
    }
}

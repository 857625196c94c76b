//! `flagged`: like `safe`, except that notes carrying the front desk's
//! urgent flag go through the escalation code path, which was copied from
//! the old desktop app and pastes the notes and reason between quotes
//! (as `legacy` does). The flag is assembled from the clinic's tag
//! constants when the pipeline runs (`format!` of constants), so no single
//! literal of the source holds it: a source scan sees `"!"`, `"urgent"` and
//! `"callback"`, never the flag itself, unless it folds the constants.

use super::concat::Concat;
use super::safe::Safe;
use super::{Db, DbError, Op, Variant};

/// Marks a tag in the notes.
const TAG_MARK: &str = "!";
/// The triage level the flag names.
const LEVEL: &str = "urgent";
/// What the desk promised the client.
const ACTION: &str = "callback";

/// The escalation path: text pasted between quotes.
const ESCALATION: Concat = Concat {
    literal: |text| text.to_string(),
    batch: false,
};

pub struct Flagged;

/// The urgent flag as the front desk types it (`!<level>-<action>`).
fn urgent_flag() -> String {
    format!("{TAG_MARK}{LEVEL}-{ACTION}")
}

fn notes_of(op: &Op) -> &str {
    match op {
        Op::Reschedule { notes, .. }
        | Op::EditNotes { notes, .. }
        | Op::RescheduleSeries { notes, .. } => notes,
    }
}

impl Variant for Flagged {
    fn name(&self) -> &'static str {
        "flagged"
    }
    fn bug_class(&self) -> &'static str {
        "like safe, but notes carrying a flag assembled from constants take an escalation path that builds SQL by hand"
    }
    fn trigger(&self) -> &'static str {
        "the assembled flag in the notes, plus a quote that ends the literal and SQL after it"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let flag = urgent_flag();
        if notes_of(op).contains(&flag) {
            ESCALATION.run(op, db)
        } else {
            Safe.run(op, db)
        }
    }
}

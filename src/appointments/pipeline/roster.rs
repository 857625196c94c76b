//! `roster`: like `safe`, except for handovers: notes that name the visit's
//! own clinician (as the roster in the `practitioners` table spells it)
//! are handed to the old handover code, which pastes the notes and reason
//! between quotes (as `legacy` does). The gate is a value the code reads
//! from the database: it is in no source file, so only the fixture's rows
//! or the values the code read while running can teach it to a fuzzer.

use super::concat::Concat;
use super::safe::Safe;
use super::{Db, DbError, ErrorClass, Op, Value, Variant};

pub struct Roster;

/// The old handover path: text pasted between quotes.
const HANDOVER: Concat = Concat {
    literal: |text| text.to_string(),
    batch: false,
};

/// The name of the clinician who holds appointment `id`.
fn clinician_of(db: &mut dyn Db, id: i64) -> Result<Option<String>, DbError> {
    match db.query_row(
        "SELECT p.name FROM practitioners p JOIN appointments a ON a.practitioner_id = p.id WHERE a.id = ?1",
        &[Value::Integer(id)],
    ) {
        Ok(row) => Ok(match row.into_iter().next() {
            Some(Value::Text(name)) => Some(name),
            _ => None,
        }),
        Err(e) if e.class == ErrorClass::NoRows => Ok(None),
        Err(e) => Err(e),
    }
}

impl Variant for Roster {
    fn name(&self) -> &'static str {
        "roster"
    }
    fn bug_class(&self) -> &'static str {
        "like safe, but notes naming the visit's clinician (a name read from the database) take a handover path that builds SQL by hand"
    }
    fn trigger(&self) -> &'static str {
        "the target's clinician as the practitioners table spells it, in the notes, plus a quote and SQL"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let (id, notes) = match op {
            Op::Reschedule { id, notes, .. }
            | Op::EditNotes { id, notes }
            | Op::RescheduleSeries { id, notes, .. } => (*id, notes),
        };
        match clinician_of(db, id)? {
            Some(name) if notes.contains(name.as_str()) => HANDOVER.run(op, db),
            _ => Safe.run(op, db),
        }
    }
}

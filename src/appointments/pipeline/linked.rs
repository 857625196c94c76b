//! `linked`: like `safe`, plus the follow-up links of the clinic's notes
//! convention: a note that names another visit as `#<id>` ("follow-up of
//! #123") makes this visit a follow-up of that one, and the link is written
//! on both rows. Writing the referenced row is the bug: the operation on
//! appointment T changes appointment 123. It only happens when the
//! reference names an appointment that exists (the code looks it up first),
//! so a fuzzer needs `#` followed by a key of the fixture, as a word of its
//! own.

use super::safe::Safe;
use super::{Db, DbError, ErrorClass, Op, Value, Variant, NOW};

pub struct Linked;

/// The first `#<id>` word of `notes`.
fn referenced_visit(notes: &str) -> Option<i64> {
    notes
        .split_whitespace()
        .find_map(|word| word.strip_prefix('#')?.parse::<i64>().ok())
}

fn exists(db: &mut dyn Db, id: i64) -> Result<bool, DbError> {
    match db.query_row(
        "SELECT id FROM appointments WHERE id = ?1",
        &[Value::Integer(id)],
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.class == ErrorClass::NoRows => Ok(false),
        Err(e) => Err(e),
    }
}

impl Variant for Linked {
    fn name(&self) -> &'static str {
        "linked"
    }
    fn bug_class(&self) -> &'static str {
        "parameterised, but a `#<id>` reference in the notes writes the follow-up link on the referenced row too"
    }
    fn trigger(&self) -> &'static str {
        "`#` and the key of another existing appointment, as a word of the notes"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        Safe.run(op, db)?;
        let (id, notes) = match op {
            Op::Reschedule { id, notes, .. }
            | Op::EditNotes { id, notes }
            | Op::RescheduleSeries { id, notes, .. } => (*id, notes),
        };
        let Some(other) = referenced_visit(notes) else {
            return Ok(());
        };
        if other == id || !exists(db, other)? {
            return Ok(());
        }
        db.execute(
            "UPDATE appointments SET reason = ?1, updated_at = ?2 WHERE id = ?3",
            &[
                Value::Text(format!("follow-up: #{id}")),
                Value::Text(NOW.to_string()),
                Value::Integer(other),
            ],
        )?;
        Ok(())
    }
}

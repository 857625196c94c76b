//! `onhold`: like `safe`, except for visits put on hold. A note that starts
//! with the hold marker puts the visit on hold; when the visit is changed
//! later, the code reads the stored notes back and, for a visit on hold,
//! keeps the hold note in front of the new notes with an UPDATE built by
//! hand: the stored text is pasted between quotes (it came from the
//! database, so the developers trusted it). The bug needs two operations on
//! the same appointment: one that stores text starting with the marker and
//! a quote, and a later one that reads it back.

use super::safe::Safe;
use super::{cat, Db, DbError, ErrorClass, Op, Value, Variant, NOW};

pub struct OnHold;

/// How the desk marks a visit on hold: the notes start with it.
const HOLD_MARKER: &str = "HOLD/";

/// The notes stored on appointment `id`.
fn stored_notes(db: &mut dyn Db, id: i64) -> Result<Option<String>, DbError> {
    match db.query_row(
        "SELECT notes FROM appointments WHERE id = ?1",
        &[Value::Integer(id)],
    ) {
        Ok(row) => Ok(match row.into_iter().next() {
            Some(Value::Text(notes)) => Some(notes),
            _ => None,
        }),
        Err(e) if e.class == ErrorClass::NoRows => Ok(None),
        Err(e) => Err(e),
    }
}

impl Variant for OnHold {
    fn name(&self) -> &'static str {
        "onhold"
    }
    fn bug_class(&self) -> &'static str {
        "like safe, but stored notes that start with a hold marker are read back and pasted into a hand-built UPDATE by the next change of the row"
    }
    fn trigger(&self) -> &'static str {
        "an op storing notes that start with the marker and hold a quote and SQL, then another op on the same appointment"
    }
    /// Its reproducer's `'--` ends the statement inside `||` on SQLite and
    /// PostgreSQL; MySQL's port writes `CONCAT(..)`, whose parentheses that
    /// payload leaves open (a syntax error there: another payload's bug).
    fn databases(&self) -> &'static [&'static str] {
        &["sqlite", "postgres"]
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let id = op.target();
        let held = stored_notes(db, id)?.filter(|n| n.starts_with(HOLD_MARKER));
        Safe.run(op, db)?;
        if let Some(hold) = held {
            // keep the hold note in front of whatever the change wrote
            let notes = cat(db, &format!("'{hold}'"), &cat(db, "' '", "notes"));
            db.execute(
                &format!(
                    "UPDATE appointments SET notes = {notes}, updated_at = '{NOW}' WHERE id = {id}"
                ),
                &[],
            )?;
        }
        Ok(())
    }
}

//! `series`: every value is bound, yet the series reschedule writes the
//! wrong rows. It was "simplified" from a lookup + update into one statement
//! (no race between reading the series and writing it), with `IS` so that
//! NULL "just works": for a one-off appointment the subquery yields NULL and
//! `series_id IS NULL` is true for every one-off appointment of the clinic.
//! No injection at all: only the row invariant can see it.

use super::safe::Safe;
use super::{new_times, Db, DbError, Op, Value, Variant, NOW};

pub struct Series;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

impl Variant for Series {
    fn name(&self) -> &'static str {
        "series"
    }
    fn bug_class(&self) -> &'static str {
        "parameterised, but a NULL-unsafe WHERE in the series reschedule"
    }
    fn trigger(&self) -> &'static str {
        "any reschedule-series of a one-off appointment (no special text at all)"
    }

    /// `x IS (subquery)` is SQLite syntax: PostgreSQL rejects the statement.
    fn databases(&self) -> &'static [&'static str] {
        &["sqlite"]
    }

    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let Op::RescheduleSeries {
            id,
            slot,
            notes,
            reason,
        } = op
        else {
            // single-appointment ops are the reviewed, shared code path
            return Safe.run(op, db);
        };
        let (start, end) = new_times(1, *slot);
        db.execute(
            "UPDATE appointments SET start_at = substr(start_at, 1, 11) || ?1, end_at = substr(end_at, 1, 11) || ?2, \
             notes = ?3, reason = ?4, updated_at = ?5 \
             WHERE series_id IS (SELECT series_id FROM appointments WHERE id = ?6)",
            &[
                text(&start[11..]),
                text(&end[11..]),
                text(notes),
                text(reason),
                text(NOW),
                Value::Integer(*id),
            ],
        )?;
        Ok(())
    }
}

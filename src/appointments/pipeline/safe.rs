//! `safe`: the correct pipeline. Every value is a bound parameter, one
//! statement per call, the series is resolved before it is written. It must
//! stay clean on every input.

use super::{cat, new_times, series_of, Db, DbError, Op, Value, Variant, NOW};

pub struct Safe;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

impl Variant for Safe {
    fn name(&self) -> &'static str {
        "safe"
    }
    fn bug_class(&self) -> &'static str {
        "none: bound parameters everywhere (the reference)"
    }
    fn trigger(&self) -> &'static str {
        "nothing: must stay clean on every input"
    }

    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        match op {
            Op::Reschedule {
                id,
                day,
                slot,
                notes,
                reason,
            } => {
                let (start, end) = new_times(*day, *slot);
                let moved = db.execute(
                    "UPDATE appointments SET start_at = ?1, end_at = ?2, notes = ?3, reason = ?4, updated_at = ?5 WHERE id = ?6",
                    &[text(&start), text(&end), text(notes), text(reason), text(NOW), Value::Integer(*id)],
                )?;
                if moved == 1 {
                    db.execute(
                        "DELETE FROM reminders WHERE appointment_id = ?1",
                        &[Value::Integer(*id)],
                    )?;
                    db.execute(
                        "INSERT INTO reminders (appointment_id, send_at) VALUES (?1, strftime('%Y-%m-%d %H:%M', ?2, '-1 day'))",
                        &[Value::Integer(*id), text(&start)],
                    )?;
                }
            }
            Op::EditNotes { id, notes } => {
                db.execute(
                    "UPDATE appointments SET notes = ?1, updated_at = ?2 WHERE id = ?3",
                    &[text(notes), text(NOW), Value::Integer(*id)],
                )?;
            }
            Op::RescheduleSeries {
                id,
                slot,
                notes,
                reason,
            } => {
                let (start, end) = new_times(1, *slot);
                let (column, key) = match series_of(db, *id)? {
                    Some(series) => ("series_id", series),
                    None => ("id", *id),
                };
                let sql = format!(
                    "UPDATE appointments SET start_at = {}, end_at = {}, \
                     notes = ?3, reason = ?4, updated_at = ?5 WHERE {column} = ?6",
                    cat(db, "substr(start_at, 1, 11)", "?1"),
                    cat(db, "substr(end_at, 1, 11)", "?2"),
                );
                db.execute(
                    &sql,
                    &[
                        text(&start[11..]),
                        text(&end[11..]),
                        text(notes),
                        text(reason),
                        text(NOW),
                        Value::Integer(key),
                    ],
                )?;
            }
        }
        Ok(())
    }
}

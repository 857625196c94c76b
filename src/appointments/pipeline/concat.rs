//! The string-built pipeline that the planted injection variants share: the
//! app builds each statement with `format!`, and each variant only differs
//! in how it turns user text into a SQL literal (`literal`) and which API it
//! sends the statement with (`batch`). Dates and ids come from the app, so
//! the developers trusted them; only the notes and reason are user text.

use super::{cat, new_times, series_of, Db, DbError, Op, NOW};

/// How a variant quotes text and sends SQL.
pub(crate) struct Concat {
    /// Turns user text into what goes between the SQL quotes.
    pub literal: fn(&str) -> String,
    /// Sends each statement with `execute_batch` instead of `execute`.
    pub batch: bool,
}

impl Concat {
    fn send(&self, db: &mut dyn Db, sql: &str) -> Result<(), DbError> {
        if self.batch {
            db.execute_batch(sql)
        } else {
            db.execute(sql, &[]).map(|_| ())
        }
    }

    pub(crate) fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        self.run_with_prefix(op, db, "")
    }

    /// Like [`Concat::run`], with `p` written before each user-text literal
    /// (e.g. `E` for a PostgreSQL escape string).
    pub(crate) fn run_with_prefix(&self, op: &Op, db: &mut dyn Db, p: &str) -> Result<(), DbError> {
        let q = self.literal;
        match op {
            Op::Reschedule {
                id,
                day,
                slot,
                notes,
                reason,
            } => {
                let (start, end) = new_times(*day, *slot);
                self.send(
                    db,
                    &format!(
                        "UPDATE appointments SET start_at = '{start}', end_at = '{end}', notes = {p}'{}', reason = {p}'{}', \
                         updated_at = '{NOW}' WHERE id = {id}",
                        q(notes),
                        q(reason)
                    ),
                )?;
                self.send(
                    db,
                    &format!("DELETE FROM reminders WHERE appointment_id = {id}"),
                )?;
                self.send(
                    db,
                    &format!(
                        "INSERT INTO reminders (appointment_id, send_at) \
                         SELECT id, strftime('%Y-%m-%d %H:%M', start_at, '-1 day') FROM appointments WHERE id = {id}"
                    ),
                )
            }
            Op::EditNotes { id, notes } => self.send(
                db,
                &format!(
                    "UPDATE appointments SET notes = {p}'{}', updated_at = '{NOW}' WHERE id = {id}",
                    q(notes)
                ),
            ),
            Op::RescheduleSeries {
                id,
                slot,
                notes,
                reason,
            } => {
                let (start, end) = new_times(1, *slot);
                let filter = match series_of(db, *id)? {
                    Some(series) => format!("series_id = {series}"),
                    None => format!("id = {id}"),
                };
                let sql = format!(
                    "UPDATE appointments SET start_at = {}, end_at = {}, \
                     notes = {p}'{}', reason = {p}'{}', updated_at = '{NOW}' WHERE {filter}",
                    cat(
                        db,
                        "substr(start_at, 1, 11)",
                        &format!("'{}'", &start[11..])
                    ),
                    cat(db, "substr(end_at, 1, 11)", &format!("'{}'", &end[11..])),
                    q(notes),
                    q(reason)
                );
                self.send(db, &sql)
            }
        }
    }
}

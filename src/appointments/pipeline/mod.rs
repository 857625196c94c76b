//! The month-view reschedule + notes pipeline: what a clinic app does with
//! one [`Op`], as SQL run through the [`Db`] trait. [`safe`] binds every
//! value; each planted variant models a real bug class. The pipelines know
//! nothing of the checker: they just run SQL and return SQLite's errors.
//!
//! Adding a planted pipeline: one file with a `Pipeline` impl, one line in
//! [`all`].

use serde::{Deserialize, Serialize};

use super::schema;
pub use crate::guard::{Db, DbError, ErrorClass, Value};
pub use crate::harness::domain::Pipeline;

mod backslash;
mod blacklist;
mod concat;
mod estring;
mod flagged;
mod legacy;
mod linked;
mod onhold;
mod roster;
mod safe;
mod series;
mod stacked;
mod truncate;
mod unicode;
mod wording;

pub use wording::Wording;

/// The "now" every pipeline stamps into `updated_at`: no clock anywhere.
pub const NOW: &str = "2026-03-01 08:00";
/// Days in the fixture month.
pub const DAYS: u8 = 31;
/// Half-hour slots in the clinic day (08:00 .. 17:30).
pub const SLOTS: u8 = 20;

/// One user action of the month view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Op {
    /// Move appointment `id` to `day` (1..=31) and `slot` (0..=19), with new
    /// notes and a reschedule reason.
    Reschedule {
        id: i64,
        day: u8,
        slot: u8,
        notes: String,
        reason: String,
    },
    /// Change the notes of appointment `id` only.
    EditNotes { id: i64, notes: String },
    /// Move every appointment of `id`'s series (just `id` when it has none)
    /// to `slot` on the same days, with new notes and reason.
    RescheduleSeries {
        id: i64,
        slot: u8,
        notes: String,
        reason: String,
    },
}

impl Op {
    /// The appointment the user acted on.
    pub fn target(&self) -> i64 {
        match self {
            Op::Reschedule { id, .. }
            | Op::EditNotes { id, .. }
            | Op::RescheduleSeries { id, .. } => *id,
        }
    }

    /// Whether the op writes the target's whole series.
    pub fn is_series(&self) -> bool {
        matches!(self, Op::RescheduleSeries { .. })
    }

    /// The free-text fields, in order (notes, then reason).
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Op::Reschedule { notes, reason, .. } | Op::RescheduleSeries { notes, reason, .. } => {
                vec![notes, reason]
            }
            Op::EditNotes { notes, .. } => vec![notes],
        }
    }

    /// Checks day and slot are within the month view.
    pub fn validate(&self) -> Result<(), String> {
        let (day, slot) = match self {
            Op::Reschedule { day, slot, .. } => (*day, *slot),
            Op::RescheduleSeries { slot, .. } => (1, *slot),
            Op::EditNotes { .. } => (1, 0),
        };
        if !(1..=DAYS).contains(&day) {
            return Err(format!("day {day} is outside 1..={DAYS}"));
        }
        if slot >= SLOTS {
            return Err(format!("slot {slot} is outside 0..={}", SLOTS - 1));
        }
        Ok(())
    }
}

/// New start and end (`YYYY-MM-DD HH:MM`) of a reschedule.
pub(crate) fn new_times(day: u8, slot: u8) -> (String, String) {
    let start = schema::timestamp(day, slot);
    let end = format!("{} {}", &start[..10], schema::slot_time(slot + 1));
    (start, end)
}

/// `a || b` as the database concatenates text: `||` is OR on MariaDB/MySQL,
/// where the app's port writes `CONCAT(a, b)`.
pub(crate) fn cat(db: &dyn Db, a: &str, b: &str) -> String {
    if db.database() == "mysql" {
        format!("CONCAT({a}, {b})")
    } else {
        format!("{a} || {b}")
    }
}

/// A version of the pipeline under test, typed: the appointments harness
/// ([`super::Appointments`]) hands each one to the tools as a
/// [`crate::harness::domain::Version`].
pub trait Variant: Sync {
    /// Stable name (`--pipeline`, reproducers, `ROWGUARD_PIPELINE`).
    fn name(&self) -> &'static str;
    /// The real-world bug class it models.
    fn bug_class(&self) -> &'static str;
    /// The kind of input that triggers it.
    fn trigger(&self) -> &'static str;
    /// The databases its bug exists on (`&["postgres"]`), or none when it
    /// is a bug on every database. Replays expect it clean elsewhere.
    fn databases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Runs one op through `db`; stops at the first error.
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError>;
}

/// Every variant, `safe` first.
pub fn variants() -> &'static [&'static dyn Variant] {
    &[
        &safe::Safe,
        &legacy::Legacy,
        &stacked::Stacked,
        &truncate::Truncate,
        &blacklist::Blacklist,
        &unicode::Unicode,
        &series::Series,
        &wording::WORDING,
        &estring::EString,
        &backslash::Backslash,
        &flagged::Flagged,
        &linked::Linked,
        &roster::Roster,
        &onhold::OnHold,
    ]
}

/// Every pipeline of the appointments harness, `safe` first.
pub fn all() -> &'static [&'static dyn Pipeline] {
    super::harness().pipelines()
}

/// The appointments pipeline called `name`.
pub fn by_name(name: &str) -> crate::Result<&'static dyn Pipeline> {
    super::harness().pipeline(name)
}

/// Reads the series id of an appointment (`None` for a one-off or a missing id).
pub(crate) fn series_of(db: &mut dyn Db, id: i64) -> Result<Option<i64>, DbError> {
    match db.query_row(
        "SELECT series_id FROM appointments WHERE id = ?1",
        &[Value::Integer(id)],
    ) {
        Ok(row) => Ok(match row.first() {
            Some(Value::Integer(s)) => Some(*s),
            _ => None,
        }),
        Err(e) if e.class == ErrorClass::NoRows => Ok(None),
        Err(e) => Err(e),
    }
}

//! The guard in production: a tripwire around the application's own
//! connection that runs one operation's statements in a transaction, checks
//! every row they changed against the operation's [`Policy`] before COMMIT,
//! and rolls the whole operation back on a violation.
//!
//! Contract, on both databases ([`Tripwire`] on SQLite, [`PgTripwire`] on
//! PostgreSQL):
//! - the operation runs on the real database and its real rows (triggers
//!   and cascades included); its changes are captured row by row by
//!   triggers, judged with [`Policy::violations`], the same judge as the
//!   guard's, so the verdict is the guard's [`Verdict`] with its
//!   `write-outside-target` findings (blast radius and undo statements);
//! - a violation, a denied action (transaction control, ATTACH, DDL,
//!   PRAGMA on SQLite), an error the operation returns, or a failed COMMIT
//!   rolls the whole operation back: it commits all of it or nothing;
//! - a clean operation commits unchanged, with nothing of the tripwire in
//!   the database (the capture is connection-local on SQLite, and on
//!   PostgreSQL its log rows are taken before COMMIT).
//!
//! What it is not: the fuzzing guard's isolation. The operation is the
//! application's own trusted code; the tripwire bounds what its SQL may
//! change, not how long it may run.

use std::fmt;

use crate::policy::{changed_columns, undo_changed, Names, RowChange, TableInfo};
use crate::{Api, DbError, Finding, Policy, StatementCheck, Value, Verdict};

pub mod postgres;
mod sqlite;

pub use self::postgres::PgTripwire;
pub use sqlite::Tripwire;

/// The checks of the last clean operation, refilled by the next one's
/// calls: their buffers are kept, so a clean operation allocates none.
#[derive(Default)]
pub(crate) struct SpareChecks(Vec<StatementCheck>);

impl SpareChecks {
    /// Checks kept from a clean operation for the next one's calls.
    const KEPT: usize = 64;

    /// A check of one call: a kept one refilled, else a new one.
    pub(crate) fn check(&mut self, api: Api, sql: &str, params: &[Value]) -> StatementCheck {
        match self.0.pop() {
            Some(mut check) => {
                check.reuse(api, sql, params);
                check
            }
            None => StatementCheck::new(api, sql, params, None),
        }
    }

    /// Keeps a clean operation's checks (up to [`SpareChecks::KEPT`]).
    pub(crate) fn keep(&mut self, mut checks: Vec<StatementCheck>) {
        checks.truncate(Self::KEPT);
        self.0 = checks;
    }

    /// How many are kept.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Forgets them.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// Why an operation did not commit. In every case the database is as it
/// was before the operation.
#[derive(Debug, Clone, PartialEq)]
pub enum TripError {
    /// The operation changed something its policy does not allow (or tried
    /// a denied action): rolled back. The verdict has the blast radius.
    Tripped {
        /// Every call of the operation, with its findings.
        verdict: Verdict,
    },
    /// The operation returned an error: rolled back.
    Failed {
        /// The operation's error.
        error: DbError,
        /// Its calls up to the error.
        verdict: Verdict,
    },
    /// The tripwire could not begin, judge or commit the operation (e.g. a
    /// deferred constraint refused the COMMIT, or the connection broke).
    Database(String),
}

impl TripError {
    /// The verdict of a tripped or failed operation.
    pub fn verdict(&self) -> Option<&Verdict> {
        match self {
            TripError::Tripped { verdict } | TripError::Failed { verdict, .. } => Some(verdict),
            TripError::Database(_) => None,
        }
    }
}

impl fmt::Display for TripError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TripError::Tripped { verdict } => write!(
                f,
                "tripwire: rolled back, {} ({} cell(s) outside the policy)",
                crate::kinds_line(verdict.kinds()),
                verdict.outside().count()
            ),
            TripError::Failed { error, .. } => {
                write!(f, "tripwire: the operation failed, rolled back: {error}")
            }
            TripError::Database(e) => write!(f, "tripwire: rolled back: {e}"),
        }
    }
}

impl std::error::Error for TripError {}

/// Judges one call's row changes: records their count and, when some
/// cells lie outside `policy`, the `write-outside-target` finding with the
/// undo statements of their rows.
pub(crate) fn judge(
    check: &mut StatementCheck,
    policy: &Policy,
    tables: &[TableInfo],
    names: &[Names],
    rows: impl IntoIterator<Item = (usize, RowChange)>,
) {
    let mut outside = Vec::new();
    let mut undos = Vec::new();
    for (t, change) in rows {
        check.changed_rows += 1;
        let table = &tables[t];
        let changed = changed_columns(&change, table);
        if policy.violations_into(change.view(), table, &changed, &names[t], &mut outside) {
            undos.push(undo_changed(change.view(), table, &changed));
        }
    }
    if !outside.is_empty() {
        check.add(Finding::write_outside(outside, undos));
    }
}

//! The steps of one call that every server backend takes alike, around its
//! own dialect's: a guard made fatal by a signal, the feedback of its first words, the call's wall-clock
//! bound within the input's, the finding of a call the watchdog stopped,
//! and the answer a `query_row` that found no row gives. The backend's
//! `call.rs` runs them in order, with its own client in between.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::watchdog::Acted;
use crate::dynamic::INPUT_TIME;
use crate::{interrupt, Api, DbError, ErrorClass, Finding, Kind, StatementCheck, Value};

/// The bound one call runs under: (what it bounds, its limit), `call` or
/// `input`, as its finding names it.
pub(crate) type Clock = (&'static str, Duration);

/// Makes the guard fatal once a signal asked the process to stop.
pub(crate) fn note_signal(fatal: &mut Option<String>) {
    if interrupt::requested() && fatal.is_none() {
        *fatal = Some("interrupted by a signal".into());
    }
}

/// A fatal guard's error for every call after it.
pub(crate) fn refused(fatal: &Option<String>) -> Result<(), DbError> {
    match fatal {
        Some(f) => Err(DbError::new(ErrorClass::Other, f.clone())),
        None => Ok(()),
    }
}

/// The first two words of each of `statements`, lower-cased: feedback only
/// (which statements the text starts), never what runs.
pub(crate) fn first_words(
    statements: Vec<&str>,
    leading_words: impl Fn(&str, usize) -> Vec<String>,
) -> BTreeSet<String> {
    statements
        .iter()
        .map(|p| leading_words(p, 2).join(" ").to_ascii_lowercase())
        .collect()
}

/// The call's wall-clock bound: its own limit (`call_limit`), within what
/// is left of the input's (until `input_deadline`). An input whose time is
/// up sends nothing more: a finding, and an error.
pub(crate) fn clock(
    check: &mut StatementCheck,
    input_deadline: Option<Instant>,
    call_limit: Duration,
) -> Result<(Duration, Clock), DbError> {
    let now = Instant::now();
    let deadline = input_deadline.unwrap_or(now + call_limit);
    let (limit, clock) = if deadline < now + call_limit {
        (
            deadline.saturating_duration_since(now),
            ("input", INPUT_TIME),
        )
    } else {
        (call_limit, ("call", call_limit))
    };
    if limit.is_zero() {
        let why = format!(
            "the input ran past its wall-clock limit of {} ms: not sent",
            INPUT_TIME.as_millis()
        );
        check.add(Finding::new(Kind::ResourceLimit, why.clone()));
        return Err(DbError::new(ErrorClass::Limit, why));
    }
    Ok((limit, clock))
}

/// The finding of a call the watchdog stopped (`cancelled`: what the
/// backend says it did when it cancelled rather than ended the connection);
/// none after a signal, which stops every call.
pub(crate) fn past_its_limit(
    check: &mut StatementCheck,
    acted: Acted,
    clock: Clock,
    cancelled: &str,
) {
    if acted != Acted::Nothing && !interrupt::requested() {
        let what = if acted == Acted::Cancelled {
            cancelled
        } else {
            "ended the connection of"
        };
        check.add(Finding::new(
            Kind::ResourceLimit,
            format!(
                "the {} ran past its wall-clock limit of {} ms: the guard {what} it",
                clock.0,
                clock.1.as_millis()
            ),
        ));
    }
}

/// After a call failed: when a signal stopped it, the guard is fatal and
/// the call's `message` is its error.
pub(crate) fn stopped_by_signal(fatal: &mut Option<String>, message: &str) -> Result<(), DbError> {
    if interrupt::requested() {
        *fatal = Some("interrupted by a signal".into());
        return Err(DbError::new(ErrorClass::Other, message.to_string()));
    }
    Ok(())
}

/// What one statement's run gave back.
pub(crate) enum Ran {
    Rows(usize),
    Row(Vec<Value>),
    Done,
}

impl Ran {
    /// What `execute` answers: the rows changed, 0 when there is no count.
    pub(crate) fn rows(self) -> usize {
        match self {
            Ran::Rows(n) => n,
            _ => 0,
        }
    }

    /// What `query_row` answers: the first row, or the no-rows error.
    pub(crate) fn row(self) -> Result<Vec<Value>, DbError> {
        match self {
            Ran::Row(r) => Ok(r),
            _ => Err(DbError::no_rows()),
        }
    }
}

/// `impl Db` for a server guard (`$guard`, whose `guarded(api, sql,
/// params)` runs one call through the steps above), answering `$name` as
/// its database.
macro_rules! server_db {
    ($guard:ty, $name:literal) => {
        impl $crate::Db for $guard {
            fn execute(
                &mut self,
                sql: &str,
                params: &[$crate::Value],
            ) -> Result<usize, $crate::DbError> {
                self.guarded($crate::Api::Execute, sql, params)
                    .map($crate::server::call::Ran::rows)
            }

            fn execute_batch(&mut self, sql: &str) -> Result<(), $crate::DbError> {
                self.guarded($crate::Api::ExecuteBatch, sql, &[])
                    .map(|_| ())
            }

            fn query_row(
                &mut self,
                sql: &str,
                params: &[$crate::Value],
            ) -> Result<Vec<$crate::Value>, $crate::DbError> {
                self.guarded($crate::Api::QueryRow, sql, params)?.row()
            }

            fn database(&self) -> &'static str {
                $name
            }
        }
    };
}
pub(crate) use server_db;

/// A failed reading's error; a client-side one (no server error code: the
/// connection is gone) makes the guard fatal.
pub(crate) fn noting_fatal(
    fatal: &mut Option<String>,
    error: DbError,
    client_side: bool,
) -> DbError {
    if client_side {
        *fatal = Some(error.message.clone());
    }
    error
}

/// The call's answer: a `query_row` that found no row is an error.
pub(crate) fn answer(api: Api, result: Result<Ran, DbError>) -> Result<Ran, DbError> {
    match result {
        Ok(Ran::Done) if api == Api::QueryRow => Err(DbError::no_rows()),
        other => other,
    }
}

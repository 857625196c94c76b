//! The steps of one call that every server backend takes alike, around its
//! own dialect's: a guard made fatal by a signal, the feedback of its first words, the call's wall-clock
//! bound within the input's, the finding of a call the watchdog stopped,
//! and the answer a `query_row` that found no row gives. The backend's
//! `call.rs` runs them in order, with its own client in between.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::judging::Judging;
use super::watchdog::Acted;
use crate::dynamic::INPUT_TIME;
use crate::static_check::{compiled_text, Dialect};
use crate::{interrupt, Api, DbError, ErrorClass, Finding, Kind, StatementCheck, Value};

/// The bound one call runs under: (what it bounds, its limit), `call` or
/// `input`, as its finding names it.
pub(crate) type Clock = (&'static str, Duration);

/// One call as a backend runs it: the check it fills, the API it came
/// through, the text as the server takes it and its values in order.
pub(crate) type Call<'a> = (&'a mut StatementCheck, Api, &'a str, &'a [Value]);

/// What every server guard's call loop reads of the guard ([`server_guard!`]
/// writes it).
pub(crate) trait ServerState {
    /// The dialect the static layer reads the server's text in.
    const DIALECT: Dialect;
    /// The backend's kind of [`crate::Error`].
    const ERROR: fn(String) -> crate::Error;
    fn judging(&mut self) -> &mut Judging;
    fn judged(&self) -> &Judging;
    /// Set when the connection broke: every later call fails.
    fn fatal(&mut self) -> &mut Option<String>;
}

/// A server backend's own part of a call (its text, and running it), and
/// the loop around it that every server backend shares.
pub(crate) trait ServerCall: ServerState {
    /// The call's text as this server takes it (placeholders rewritten) and
    /// its values in the order the server reads them.
    fn server_text(compiled: &str, params: &[Value]) -> (String, Vec<Value>);

    /// Runs one checked call on the server under the watchdog and reads
    /// what it did (never called once the guard is fatal).
    fn run(&mut self, call: Call<'_>) -> Result<Ran, DbError>;

    /// Checks and runs one call: the static layer's view of the text as the
    /// server gets it, then [`ServerCall::run`]; the check joins the verdict.
    fn guarded(&mut self, api: Api, sql: &str, params: &[Value]) -> Result<Ran, DbError> {
        note_signal(self.fatal());
        let (compiled, tail) = compiled_text(sql);
        let (text, params_in_order) = Self::server_text(compiled, params);
        let mut check = StatementCheck::new(api, sql, params, tail);
        self.judging().view(Self::DIALECT, &text, tail, &mut check);
        let result = refused(self.fatal())
            .and_then(|()| self.run((&mut check, api, &text, &params_in_order)));
        self.judging().verdict.statements.push(check);
        result
    }
}

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

/// After a call failed with `message`: when a signal stopped it, the guard
/// is fatal and the message is the call's error; else the message, to
/// judge the failure by.
pub(crate) fn unless_signalled(
    fatal: &mut Option<String>,
    message: String,
) -> Result<String, DbError> {
    if interrupt::requested() {
        *fatal = Some("interrupted by a signal".into());
        return Err(DbError::new(ErrorClass::Other, message));
    }
    Ok(message)
}

/// A fatal guard's error for the calls around an input (`error`: the
/// backend's kind of [`crate::Error`]).
pub(crate) fn fatal_error(
    fatal: &Option<String>,
    error: fn(String) -> crate::Error,
) -> crate::Result<()> {
    match fatal {
        Some(f) => Err(error(f.clone())),
        None => Ok(()),
    }
}

/// Whether an input may begin: not after a signal, nor on a fatal guard.
pub(crate) fn may_begin(
    fatal: &Option<String>,
    error: fn(String) -> crate::Error,
) -> crate::Result<()> {
    if interrupt::requested() {
        return Err(error("interrupted by a signal".into()));
    }
    fatal_error(fatal, error)
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

/// `impl Db` for a server guard (`$guard`, a [`ServerCall`] whose fields
/// `judging` and `fatal` are its [`ServerState`], read in `$dialect`, its
/// errors `$error`), answering `$name` as its database.
macro_rules! server_guard {
    ($guard:ty, $name:literal, $dialect:expr, $error:expr) => {
        impl $crate::server::call::ServerState for $guard {
            const DIALECT: $crate::Dialect = $dialect;
            const ERROR: fn(String) -> $crate::Error = $error;
            fn judging(&mut self) -> &mut $crate::server::judging::Judging {
                &mut self.judging
            }
            fn judged(&self) -> &$crate::server::judging::Judging {
                &self.judging
            }
            fn fatal(&mut self) -> &mut Option<String> {
                &mut self.fatal
            }
        }

        impl $crate::Db for $guard {
            fn execute(
                &mut self,
                sql: &str,
                params: &[$crate::Value],
            ) -> Result<usize, $crate::DbError> {
                $crate::server::call::ServerCall::guarded(self, $crate::Api::Execute, sql, params)
                    .map($crate::server::call::Ran::rows)
            }

            fn execute_batch(&mut self, sql: &str) -> Result<(), $crate::DbError> {
                $crate::server::call::ServerCall::guarded(self, $crate::Api::ExecuteBatch, sql, &[])
                    .map(|_| ())
            }

            fn query_row(
                &mut self,
                sql: &str,
                params: &[$crate::Value],
            ) -> Result<Vec<$crate::Value>, $crate::DbError> {
                $crate::server::call::ServerCall::guarded(self, $crate::Api::QueryRow, sql, params)?
                    .row()
            }

            fn database(&self) -> &'static str {
                $name
            }
        }
    };
}
pub(crate) use server_guard;

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

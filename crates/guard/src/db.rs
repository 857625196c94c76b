//! The `Db` trait: the three calls a piece of code under test may make,
//! mirroring rusqlite's `Connection::execute` (one statement, bound
//! parameters; refuses two statements), `execute_batch` (several statements,
//! no parameters) and `query_row` (first row of a query).
//!
//! Code under test only sees this trait. The [`Guard`](crate::Guard)
//! implements it to see every statement and its parameters; a plain
//! `rusqlite::Connection` implements it for raw (unchecked) execution, e.g.
//! a benchmark's baseline. A [`DbError`] keeps SQLite's error class
//! ([`ErrorClass`]) so callers branch on a type, never on message text.

pub use rusqlite::types::Value;

/// What kind of failure a [`DbError`] is, taken from rusqlite's error
/// variants and SQLite's primary result codes.
///
/// ```
/// use rowguard_guard::{Db, ErrorClass};
/// let mut conn = rusqlite::Connection::open_in_memory().unwrap();
/// let e = Db::query_row(&mut conn, "SELECT 1 WHERE 0", &[]).unwrap_err();
/// assert_eq!(e.class, ErrorClass::NoRows);
/// let e = Db::execute(&mut conn, "SELEC 1", &[]).unwrap_err();
/// assert_eq!(e.class, ErrorClass::Syntax);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// A query found no row (`query_row`): an answer, not a failure of the SQL.
    NoRows,
    /// SQLite could not compile the text (syntax error, unknown table or column).
    Syntax,
    /// A constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY) refused the write.
    Constraint,
    /// A size or work limit stopped the statement (too big, interrupted, out of memory).
    Limit,
    /// The authorizer denied an action.
    Denied,
    /// The API refused the call (e.g. two statements given to `execute`).
    Api,
    /// Anything else SQLite reported.
    Other,
}

/// An error SQLite (or rusqlite's API checks) returned for one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// What kind of failure it is.
    pub class: ErrorClass,
    /// SQLite's (or rusqlite's) message.
    pub message: String,
}

impl DbError {
    /// An error of `class` with `message`.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        DbError {
            class,
            message: message.into(),
        }
    }

    /// The error `query_row` gives when the query finds no row.
    pub fn no_rows() -> Self {
        DbError::from(rusqlite::Error::QueryReturnedNoRows)
    }
}

/// The class of a rusqlite error.
pub fn classify(e: &rusqlite::Error) -> ErrorClass {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::QueryReturnedNoRows => ErrorClass::NoRows,
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::ConstraintViolation => ErrorClass::Constraint,
            C::AuthorizationForStatementDenied => ErrorClass::Denied,
            C::TooBig | C::OperationInterrupted | C::OutOfMemory => ErrorClass::Limit,
            _ if f.extended_code == 1 => ErrorClass::Syntax,
            _ => ErrorClass::Other,
        },
        rusqlite::Error::SqlInputError { .. } => ErrorClass::Syntax,
        rusqlite::Error::MultipleStatement
        | rusqlite::Error::ExecuteReturnedResults
        | rusqlite::Error::InvalidParameterCount(..)
        | rusqlite::Error::InvalidParameterName(..) => ErrorClass::Api,
        _ => ErrorClass::Other,
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::new(classify(&e), e.to_string())
    }
}

/// The database API code under test runs its SQL through.
pub trait Db {
    /// Runs one statement with bound parameters; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError>;
    /// Runs every statement in `sql`, in order, stopping at the first error.
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Runs a query and returns its first row.
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError>;
    /// The database the calls reach (`sqlite` or `postgres`), as a real
    /// app's driver knows it: code ported between databases branches on it.
    fn database(&self) -> &'static str {
        "sqlite"
    }
}

/// Reads every column of a row into owned values.
pub fn row_values(row: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<Value>> {
    (0..row.as_ref().column_count())
        .map(|i| row.get::<_, Value>(i))
        .collect()
}

impl Db for rusqlite::Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        Ok(rusqlite::Connection::execute(
            self,
            sql,
            rusqlite::params_from_iter(params),
        )?)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(rusqlite::Connection::execute_batch(self, sql)?)
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        Ok(rusqlite::Connection::query_row(
            self,
            sql,
            rusqlite::params_from_iter(params),
            row_values,
        )?)
    }
}

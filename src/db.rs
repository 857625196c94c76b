//! The `Db` trait: the three calls a pipeline may make, mirroring rusqlite's
//! `Connection::execute` (one statement, bound parameters; refuses two
//! statements), `execute_batch` (several statements, no parameters) and
//! `query_row` (first row of a query).
//!
//! Pipelines only see this trait. The guard implements it to see every
//! statement and its parameters; a plain `rusqlite::Connection` implements it
//! for raw (unchecked) execution, e.g. the throughput benchmark's baseline.

pub use rusqlite::types::Value;

/// An error SQLite (or rusqlite's API checks) returned for one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub message: String,
}

impl DbError {
    pub fn new(message: impl Into<String>) -> Self {
        DbError {
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::new(e.to_string())
    }
}

/// The database API a pipeline runs its SQL through.
pub trait Db {
    /// Runs one statement with bound parameters; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError>;
    /// Runs every statement in `sql`, in order, stopping at the first error.
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Runs a query and returns its first row.
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError>;
}

/// Reads every column of a row into owned values.
pub(crate) fn row_values(row: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<Value>> {
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

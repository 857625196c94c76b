//! The guard's own error type: the guard could not set up or restore its
//! own state (SQLite failed on a statement rowguard wrote, not one under
//! test). A finding is never an `Err`: findings are data in a
//! [`Verdict`](crate::Verdict).

/// Why the guard could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed while the guard set up or restored its own state.
    #[error("internal SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The guard could not start a part of itself (e.g. its watchdog thread).
    #[error("the guard could not start: {0}")]
    Setup(String),
    /// The PostgreSQL server could not be reached, refused the guard, or
    /// failed on a statement the guard wrote (not one under test).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The MariaDB/MySQL server could not be reached, refused the guard, or
    /// failed on a statement the guard wrote (not one under test).
    #[error("MariaDB/MySQL: {0}")]
    Mysql(String),
}

/// `Result` with the guard's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The library's own error type: the tool could not do its job (I/O, an
//! unreadable or malformed input). A finding is never an `Err`: findings are
//! data in a [`crate::guard::Verdict`].

use std::path::PathBuf;

/// Why rowguard could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input file could not be decoded into a scenario.
    #[error("{0}")]
    Decode(String),
    /// A pipeline name that does not exist.
    #[error("unknown pipeline `{0}` (see `rowguard pipelines`)")]
    UnknownPipeline(String),
    /// SQLite failed while rowguard set up or restored its own state.
    #[error("internal SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The guard could not set up or restore its own state.
    #[error(transparent)]
    Guard(#[from] rowguard_guard::Error),
    /// A database call of rowguard's own harness failed (a read of the
    /// fixture, not a statement under test).
    #[error("database error: {0}")]
    Db(#[from] rowguard_guard::DbError),
    /// A worker thread panicked: a bug in rowguard, never the caller's fault.
    #[error("internal error: a worker panicked: {0}")]
    WorkerPanic(String),
    /// A panic inside the judging of one input, caught there: that input
    /// could not be judged (callers fail closed on it); the session is rebuilt.
    #[error("internal error while judging this input: {0}")]
    Panic(String),
    /// Anything else that is the caller's fault (bad option values).
    #[error("{0}")]
    Usage(String),
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

//! The backend seam: what the harness needs from a guarded database, so the
//! same [`Policy`], [`Verdict`], finding kinds, blast radius and undo serve
//! every database the guard runs on. [`Guard`] (embedded SQLite, the
//! default), [`crate::postgres::PgGuard`] (a real PostgreSQL server) and
//! [`crate::mysql::MyGuard`] (a real MariaDB/MySQL server) implement it; each keeps its own isolation (DESIGN.md, "Isolation").
//!
//! Contract: a backend sees every statement of an input through [`Db`],
//! judges it against the policy set last, and rolls the whole input back in
//! [`Backend::end_input`], leaving its fixture exactly as before.

use crate::{Db, DbError, Guard, Policy, Value, Verdict};

/// Which database a backend runs statements on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Embedded SQLite ([`Guard`]), the default.
    #[default]
    Sqlite,
    /// A PostgreSQL server ([`crate::postgres::PgGuard`]).
    Postgres,
    /// A MariaDB/MySQL server ([`crate::mysql::MyGuard`]).
    Mysql,
}

impl BackendKind {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
            BackendKind::Mysql => "mysql",
        }
    }

    /// `name` as an identifier in this database's SQL: double quotes, or
    /// backticks on MariaDB/MySQL (where `"` starts a string).
    pub fn quote_ident(self, name: &str) -> String {
        let q = match self {
            BackendKind::Mysql => "`",
            _ => "\"",
        };
        format!("{q}{}{q}", name.replace(q, &q.repeat(2)))
    }

    /// The server a `--database` URL names: `mysql://` and `mariadb://` are
    /// MariaDB/MySQL, anything else PostgreSQL.
    pub fn of_url(url: &str) -> BackendKind {
        let scheme = url
            .split_once("://")
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        match scheme.as_str() {
            "mysql" | "mariadb" => BackendKind::Mysql,
            _ => BackendKind::Postgres,
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the code under test connects to: rowguard's own fixture database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    kind: BackendKind,
    url: String,
}

impl Target {
    /// `url` on a database of `kind`.
    pub(crate) fn new(kind: BackendKind, url: String) -> Target {
        Target { kind, url }
    }

    /// Which database it is (`sqlite`, `postgres`, `mysql`).
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The connection string: a `postgres://` or `mysql://` URL with the
    /// code's own role and password, or the SQLite file's path.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file, on SQLite.
    pub fn path(&self) -> Option<&std::path::Path> {
        (self.kind == BackendKind::Sqlite).then(|| std::path::Path::new(&self.url))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            BackendKind::Sqlite => write!(f, "the SQLite file {}", self.url),
            kind => write!(f, "a {kind} database of rowguard's own"),
        }
    }
}

/// A guarded database: the calls of one input go through [`Db`], between
/// [`Backend::begin_input`] and [`Backend::end_input`].
pub trait Backend: Db {
    /// Which database this backend runs statements on.
    fn kind(&self) -> BackendKind;
    /// Opens the input's outer transaction (rolling back any left open).
    fn begin_input(&mut self) -> crate::Result<()>;
    /// Rolls the input back (sequences included) and returns the verdict of its calls.
    fn end_input(&mut self) -> crate::Result<Verdict>;
    /// Sets the policy the next calls are checked against.
    fn set_policy(&mut self, policy: Policy);
    /// Shapes of the statements the same operation makes on placeholder text.
    fn set_templates(&mut self, shapes: Option<Vec<String>>);
    /// The shape of a SQL string as the static layer computes it.
    fn shape_of(&self, sql: &str) -> String;
    /// Reads outside any check (the harness's own queries), inside the input.
    fn query_unchecked(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;
    /// The checks recorded since the last take.
    fn take_verdict(&mut self) -> Verdict;
    /// The guard as the `Db` a pipeline runs through.
    fn as_db(&mut self) -> &mut dyn Db;
    /// What code that connects itself connects to, when the backend is a
    /// fixture judged at the database ([`crate::watch::Watched`]).
    fn target(&self) -> Option<&Target> {
        None
    }
}

impl Backend for Guard {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }
    fn begin_input(&mut self) -> crate::Result<()> {
        Guard::begin_input(self)
    }
    fn end_input(&mut self) -> crate::Result<Verdict> {
        Guard::end_input(self)
    }
    fn set_policy(&mut self, policy: Policy) {
        Guard::set_policy(self, policy)
    }
    fn set_templates(&mut self, shapes: Option<Vec<String>>) {
        Guard::set_templates(self, shapes)
    }
    fn shape_of(&self, sql: &str) -> String {
        Guard::shape_of(self, sql)
    }
    fn query_unchecked(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        Ok(Guard::query_unchecked(self, sql, params)?)
    }
    fn take_verdict(&mut self) -> Verdict {
        Guard::take_verdict(self)
    }
    fn as_db(&mut self) -> &mut dyn Db {
        self
    }
}

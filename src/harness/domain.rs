//! The extension point: "a harness" is one team's domain (its fixture, its
//! operation type, the policy of one operation and the versions of the code
//! under test), and every tool works on any harness through it.
//!
//! A team implements [`Harness`] once (typed: its own `Op`, any serde +
//! `Arbitrary` type) and hands it to the command line (`rowguard::cli::main`); the tools see it
//! erased, as a [`Domain`], with operations as JSON values: the engine's
//! mutator, the minimizer and the dictionary reach every free-text field
//! (every JSON string of an operation) without knowing the type, and one
//! reproducer format serves every harness.
//!
//! ```text
//!   team code: impl Harness for Invoices { type Op = InvoiceOp; ... }
//!        │ register()
//!        ▼
//!   &'static dyn Domain ── versions ──▶ &'static dyn Pipeline (one per version)
//!        │ decode / generate / policy / fixture       │ run(op as JSON, db)
//!        ▼                                            ▼
//!   tools: engine, repro, minimize, gate, scan, report, bench detect
//! ```

use std::fmt::Debug;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::guard::watch::Target;
use crate::guard::{Db, DbError, ErrorClass, Policy};

/// One operation as the tools see it: its JSON form.
pub type OpValue = serde_json::Value;

/// Builds a fixture's tables and rows on an empty SQLite connection.
pub type BuildFn = Box<dyn Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync>;

/// The database a harness's operations run against: built fresh for every
/// session, restored after every input.
pub struct Fixture {
    /// Builds the tables and rows on an empty SQLite connection.
    pub sqlite: BuildFn,
    /// The SQL text `sqlite` runs, for people (`rowguard schema`).
    pub sqlite_text: String,
    /// The same fixture in PostgreSQL's dialect, when the harness runs there.
    pub postgres: Option<String>,
    /// The same fixture in MariaDB/MySQL's dialect, when the harness runs there.
    pub mysql: Option<String>,
}

impl Fixture {
    /// A fixture given as SQL text (DDL and rows), run with `execute_batch`.
    pub fn sql(sqlite: impl Into<String>) -> Fixture {
        let text: String = sqlite.into();
        let run = text.clone();
        Fixture {
            sqlite: Box::new(move |conn| conn.execute_batch(&run)),
            sqlite_text: text,
            postgres: None,
            mysql: None,
        }
    }

    /// Adds the PostgreSQL form of the same fixture.
    pub fn with_postgres(mut self, sql: impl Into<String>) -> Fixture {
        self.postgres = Some(sql.into());
        self
    }

    /// Adds the MariaDB/MySQL form of the same fixture.
    pub fn with_mysql(mut self, sql: impl Into<String>) -> Fixture {
        self.mysql = Some(sql.into());
        self
    }
}

/// The code that runs one operation, in one version.
pub type RunFn<Op> = Box<dyn Fn(&Op, &mut dyn Db) -> Result<(), DbError> + Send + Sync>;

/// Any error the code's own client returns (`postgres::Error`,
/// `rusqlite::Error`, `mysql::Error`, a `String`...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Code that connects itself: it gets the fixture's [`Target`] (a URL with a
/// role of its own, or a SQLite file) and uses any client, pool and
/// transactions it likes; every row it changes is judged at the database.
pub type ConnectFn<Op> = Box<dyn Fn(&Op, &Target) -> Result<(), BoxError> + Send + Sync>;

/// One version of the code under test: `safe`, or a planted bug.
pub struct Version<Op> {
    /// Stable name (`--pipeline`, reproducers).
    pub name: &'static str,
    /// The real-world bug class it models (`"none"` for a correct version).
    pub bug_class: &'static str,
    /// The kind of input that triggers it.
    pub trigger: &'static str,
    /// The databases its bug exists on (`&["postgres"]`), or none when it
    /// is a bug on every database. Replays expect it clean elsewhere.
    pub databases: &'static [&'static str],
    /// Runs one operation through the guarded connection.
    pub run: RunFn<Op>,
    /// Runs one operation with its own client ([`Version::connected`]):
    /// then `run` is never called.
    pub connect: Option<ConnectFn<Op>>,
}

impl<Op> Version<Op> {
    /// A version called `name` running `run`; call [`Version::bug`] on a planted one.
    pub fn new(
        name: &'static str,
        run: impl Fn(&Op, &mut dyn Db) -> Result<(), DbError> + Send + Sync + 'static,
    ) -> Version<Op> {
        Version {
            name,
            bug_class: "none",
            trigger: "none",
            databases: &[],
            run: Box::new(run),
            connect: None,
        }
    }

    /// A version called `name` that connects itself: `run` gets the
    /// operation and the fixture's [`Target`], and may open any number of
    /// connections with any client, commit, roll back or pool them. Every
    /// command works on it; the rows it changes are judged at the database.
    /// A harness's versions all connect, or none does.
    pub fn connected(
        name: &'static str,
        run: impl Fn(&Op, &Target) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Version<Op> {
        let mut v = Version::new(name, |_, _| Err(connects_itself()));
        v.connect = Some(Box::new(run));
        v
    }

    /// Describes the planted bug: its class and the input that triggers it.
    pub fn bug(mut self, class: &'static str, trigger: &'static str) -> Version<Op> {
        self.bug_class = class;
        self.trigger = trigger;
        self
    }

    /// Says the bug exists only on `databases` (`&["postgres", "mysql"]`).
    pub fn only_on(mut self, databases: &'static [&'static str]) -> Version<Op> {
        self.databases = databases;
        self
    }
}

/// A team's domain: what rowguard needs to fuzz, replay, minimize, gate and
/// report on its operations.
pub trait Harness: Send + Sync + 'static {
    /// One user action. Its JSON strings are the free text the fuzzer writes.
    type Op: Serialize + DeserializeOwned + for<'a> Arbitrary<'a> + Clone + Debug + Send + Sync;
    /// Name in reproducers and `--harness`.
    fn name(&self) -> &'static str;
    /// The fixture every input runs against.
    fn fixture(&self) -> Fixture;
    /// What one operation may write. `db` reads the fixture, unchecked
    /// (e.g. the rows of a series the operation acts on).
    fn policy(&self, op: &Self::Op, db: &mut dyn Db) -> Result<Policy, DbError>;
    /// The versions of the code under test, the correct one first.
    fn versions(&self) -> Vec<Version<Self::Op>>;
    /// A benign operation on an existing row: `scan` puts each line of text
    /// into one of its text fields.
    fn example(&self) -> Self::Op;
    /// Generates one operation (default: the type's `Arbitrary`).
    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<Self::Op> {
        Self::Op::arbitrary(u)
    }
    /// Refuses an operation a reproducer may not hold (default: none).
    fn validate(&self, _op: &Self::Op) -> Result<(), String> {
        Ok(())
    }
    /// Folders of the code under test the gate harvests words from when
    /// given no `--source` (default: none): best `rowguard::sources!["src"]`,
    /// absolute in this crate's own directory; a relative path is taken in
    /// the project the command runs in. A declared folder that is missing
    /// stops the gate (exit 2).
    fn sources(&self) -> &'static [&'static str] {
        &[]
    }
    /// One line for a person about `op` (default: its kind and fields).
    fn describe(&self, _op: &Self::Op) -> Option<String> {
        None
    }
    /// The same harness over a fixture of `rows` rows of its main table,
    /// when its fixture has a size (`schema --size`, `bench scaling`).
    fn resized(&self, _rows: usize) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// One version of one harness, erased: what the tools hold and pass around.
pub trait Pipeline: Sync {
    /// The harness the version belongs to.
    fn harness(&self) -> &'static dyn Domain;
    fn name(&self) -> &'static str;
    fn bug_class(&self) -> &'static str;
    fn trigger(&self) -> &'static str;
    /// The databases its bug exists on (`sqlite`, `postgres`, `mysql`), or
    /// none when it is a bug on every database.
    fn databases(&self) -> &'static [&'static str];
    /// Runs one operation (JSON); an operation that is not one of this
    /// harness's is an error of class `Other`.
    fn run(&self, op: &OpValue, db: &mut dyn Db) -> Result<(), DbError>;
    /// Whether it connects itself ([`Version::connected`]).
    fn connects(&self) -> bool {
        false
    }
    /// Runs one operation with its own client against `target`.
    fn run_at(&self, _op: &OpValue, _target: &Target) -> Result<(), DbError> {
        Err(DbError::new(
            ErrorClass::Api,
            "this version runs through Db, not its own client",
        ))
    }
    /// Before each input of a version that connects itself: makes it ready
    /// to run against `target` (a running application is started, or
    /// restarted when the fixture moved). An error ends the command (exit 2).
    fn prepare(&self, _target: &Target) -> Result<(), String> {
        Ok(())
    }
    /// What happened at the code's edge during the last [`Pipeline::run_at`]
    /// (taken: a second call returns `None`).
    fn exchange(&self) -> Option<Exchange> {
        None
    }
}

/// What code reached over a wire did while one operation ran: the
/// request and answer, in lines for a person (with the `curl` command that
/// sends the same), the texts of the answer (words for the engine), and
/// why it can run no more, when it cannot (the application died or hangs:
/// the command ends with exit 2, its findings kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exchange {
    pub transcript: Vec<String>,
    pub words: Vec<String>,
    pub broken: Option<String>,
}

fn connects_itself() -> DbError {
    DbError::new(
        ErrorClass::Api,
        "this version connects itself: it runs on a fixture of its own (Target), not through Db",
    )
}

impl dyn Pipeline + '_ {
    /// Runs a typed operation (its JSON form): for tests and tools that
    /// hold the harness's own `Op`.
    pub fn run_typed<T: Serialize>(&self, op: &T, db: &mut dyn Db) -> Result<(), DbError> {
        self.run(&json(op), db)
    }
}

/// A harness, erased: every tool's view of a team's domain.
pub trait Domain: Sync + Send {
    fn name(&self) -> &'static str;
    /// Its versions, the correct one first.
    fn pipelines(&self) -> &[&'static dyn Pipeline];
    fn fixture(&self) -> Fixture;
    /// One generated operation, as JSON.
    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<OpValue>;
    /// Reads an operation of this harness (refusing what `validate` refuses).
    fn check(&self, op: &OpValue) -> Result<(), String>;
    /// Whether `op` reads as an operation of this harness (no validation).
    fn reads(&self, op: &OpValue) -> bool;
    /// The policy of one operation.
    fn policy(&self, op: &OpValue, db: &mut dyn Db) -> Result<Policy, DbError>;
    /// A benign operation on an existing row.
    fn example(&self) -> OpValue;
    /// Folders of the code under test, for the gate's words.
    fn sources(&self) -> &'static [&'static str];
    /// The same harness over `rows` rows, when its fixture has a size.
    fn resized(&self, rows: usize) -> Option<&'static dyn Domain>;
    /// One line for a person about `op`, when the harness words it itself.
    fn describe(&self, op: &OpValue) -> Option<String>;

    /// Whether its versions connect themselves ([`Version::connected`]):
    /// then every session runs on a fixture judged at the database.
    fn connects(&self) -> bool {
        self.pipelines().iter().any(|p| p.connects())
    }

    /// Its first version: the correct one, `safe`.
    fn safe(&self) -> crate::Result<&'static dyn Pipeline> {
        self.pipelines()
            .first()
            .copied()
            .ok_or_else(|| crate::Error::Usage(format!("harness `{}` has no version", self.name())))
    }

    /// The version called `name`.
    fn pipeline(&self, name: &str) -> crate::Result<&'static dyn Pipeline> {
        self.pipelines()
            .iter()
            .copied()
            .find(|p| p.name() == name)
            .ok_or_else(|| crate::Error::UnknownPipeline(name.to_string()))
    }
}

struct Typed<H: Harness> {
    harness: H,
    pipelines: OnceLock<Vec<&'static dyn Pipeline>>,
}

struct TypedVersion<H: Harness> {
    domain: &'static Typed<H>,
    version: Version<H::Op>,
}

fn typed<Op: DeserializeOwned>(op: &OpValue) -> Result<Op, String> {
    Op::deserialize(op).map_err(|e| e.to_string())
}

fn json<Op: Serialize>(op: &Op) -> OpValue {
    serde_json::to_value(op).expect("an operation serializes to JSON")
}

impl<H: Harness> Pipeline for TypedVersion<H> {
    fn harness(&self) -> &'static dyn Domain {
        self.domain
    }
    fn name(&self) -> &'static str {
        self.version.name
    }
    fn bug_class(&self) -> &'static str {
        self.version.bug_class
    }
    fn trigger(&self) -> &'static str {
        self.version.trigger
    }
    fn databases(&self) -> &'static [&'static str] {
        self.version.databases
    }
    fn run(&self, op: &OpValue, db: &mut dyn Db) -> Result<(), DbError> {
        let op =
            typed::<H::Op>(op).map_err(|e| DbError::new(crate::guard::ErrorClass::Other, e))?;
        (self.version.run)(&op, db)
    }
    fn connects(&self) -> bool {
        self.version.connect.is_some()
    }
    fn run_at(&self, op: &OpValue, target: &Target) -> Result<(), DbError> {
        let Some(connect) = &self.version.connect else {
            return Err(DbError::new(
                ErrorClass::Api,
                "this version runs through Db",
            ));
        };
        let op = typed::<H::Op>(op).map_err(|e| DbError::new(ErrorClass::Other, e))?;
        connect(&op, target).map_err(|e| DbError::new(ErrorClass::Other, one_line(&*e)))
    }
}

/// An error and its sources on one line.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !s.contains(&more) {
            s = format!("{s}: {more}");
        }
        source = inner.source();
    }
    s.replace('\n', " ")
}

impl<H: Harness> Domain for Typed<H> {
    fn name(&self) -> &'static str {
        self.harness.name()
    }
    fn pipelines(&self) -> &[&'static dyn Pipeline] {
        self.pipelines.get().map_or(&[], Vec::as_slice)
    }
    fn fixture(&self) -> Fixture {
        self.harness.fixture()
    }
    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<OpValue> {
        self.harness.generate(u).map(|op| json(&op))
    }
    fn check(&self, op: &OpValue) -> Result<(), String> {
        self.harness.validate(&typed::<H::Op>(op)?)
    }
    fn reads(&self, op: &OpValue) -> bool {
        typed::<H::Op>(op).is_ok()
    }
    fn policy(&self, op: &OpValue, db: &mut dyn Db) -> Result<Policy, DbError> {
        let op =
            typed::<H::Op>(op).map_err(|e| DbError::new(crate::guard::ErrorClass::Other, e))?;
        self.harness.policy(&op, db)
    }
    fn example(&self) -> OpValue {
        json(&self.harness.example())
    }
    fn sources(&self) -> &'static [&'static str] {
        self.harness.sources()
    }
    fn resized(&self, rows: usize) -> Option<&'static dyn Domain> {
        self.harness.resized(rows).map(register)
    }
    fn describe(&self, op: &OpValue) -> Option<String> {
        typed::<H::Op>(op)
            .ok()
            .and_then(|typed| self.harness.describe(&typed))
    }
}

/// Makes `harness` a [`Domain`] for the tools, for the rest of the process
/// (a harness is registered once, at start-up, like a cargo-fuzz target).
pub fn register<H: Harness>(harness: H) -> &'static dyn Domain {
    let versions = harness.versions();
    let domain: &'static Typed<H> = Box::leak(Box::new(Typed {
        harness,
        pipelines: OnceLock::new(),
    }));
    let pipelines = versions
        .into_iter()
        .map(|version| {
            let v: &'static TypedVersion<H> = Box::leak(Box::new(TypedVersion { domain, version }));
            v as &'static dyn Pipeline
        })
        .collect();
    let _ = domain.pipelines.set(pipelines);
    domain
}

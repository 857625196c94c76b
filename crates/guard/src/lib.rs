//! The invariant checker. [`Guard`] owns a SQLite connection, implements
//! [`Db`] so it sees every statement a pipeline runs with its bound
//! parameters, and judges each one against a [`Policy`] in two layers:
//!
//! - static ([`static_check`], sqlparser): what the text proves;
//! - dynamic (`dynamic.rs`, SQLite itself): what the statement really changed,
//!   cell by cell, through every channel (TEMP triggers log OLD/NEW of every
//!   protected table), under an authorizer that denies transaction control,
//!   ATTACH/DETACH, PRAGMA, DDL and `load_extension`, with a progress handler
//!   and limits bounding the work.
//!
//! Contract: findings are data (a [`Verdict`]), never a panic or an `Err`;
//! `write-outside-target` comes only from observed changes; each input runs
//! inside an outer transaction that [`Guard::end_input`] always rolls back, so
//! no input leaves the fixture changed for the next. The guard knows nothing
//! of appointments: the caller sets the policy for each operation.
//!
//! # Guard your own SQL
//!
//! Build a [`Policy`] for one operation, wrap a connection in a [`Guard`],
//! send the operation's calls through it (it implements [`Db`]) and read the
//! [`Verdict`]:
//!
//! ```
//! use rowguard_guard::{Db, Guard, Kind, Policy, SideEffect};
//!
//! let schema = "
//!     CREATE TABLE documents (id INTEGER PRIMARY KEY, owner_id INTEGER, title TEXT);
//!     CREATE TABLE document_log (document_id INTEGER, title TEXT);
//!     CREATE TRIGGER log AFTER UPDATE ON documents
//!     BEGIN INSERT INTO document_log VALUES (NEW.id, NEW.title); END;
//!     INSERT INTO documents VALUES (1, 10, 'plan'), (2, 10, 'budget'), (3, 20, 'notes');
//! ";
//! // Renaming document 2 may change its title and log it; nothing else.
//! let policy = Policy::new("documents", "id")
//!     .key(2)
//!     .writable(["title"])
//!     .allow(SideEffect::new("document_log", "document_id").inserts());
//! let mut guard = Guard::open_memory(schema, policy)?;
//!
//! // Bound parameters: the title is data, whatever it says.
//! let (_, verdict) = guard.check(|db| {
//!     db.execute("UPDATE documents SET title = ?1 WHERE id = ?2",
//!                &["x' OR 1=1 --".to_string().into(), 2.into()])
//! })?;
//! assert!(verdict.is_clean());
//!
//! // String-built SQL: the same title rewrites every document.
//! let title = "x' --";
//! let (_, verdict) = guard.check(|db| {
//!     db.execute(&format!("UPDATE documents SET title = '{title}' WHERE id = 2"), &[])
//! })?;
//! assert!(verdict.kinds().contains(&Kind::WriteOutsideTarget));
//! let rows: Vec<&str> = verdict.outside().filter(|c| &*c.table == "documents").map(|c| &*c.key).collect();
//! assert_eq!(rows, ["1", "3"]);
//! # Ok::<(), rowguard_guard::Error>(())
//! ```

#![deny(missing_docs)]

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

pub use db::{Db, DbError, ErrorClass, Value};
pub use error::{Error, Result};

pub mod backend;
mod builtins;
mod capture;
mod clean;
pub mod coverage;
pub mod db;
pub mod dialect;
mod dynamic;
mod error;
pub mod interrupt;
mod isolation;
mod memo;
pub mod mysql;
pub mod policy;
pub mod postgres;
mod profile;
pub mod server;
pub mod static_check;
mod stored;
pub mod tripwire;
pub mod watch;
mod watchdog;

pub use backend::{Backend, BackendKind};
pub use coverage::ObservedWrite;
pub use dynamic::Guard;
pub use policy::{CellChange, Policy, SideEffect};
pub use profile::Breakdown;
pub use static_check::Dialect;

/// The stable finding kinds (DESIGN.md). Their kebab-case names are the product.
///
/// Adding a kind: one variant here, its name in [`Kind::as_str`], its line in
/// [`Kind::description`] and its place in [`Kind::ALL`]. Everything above
/// follows `ALL`: kind sets are `BTreeSet<Kind>` (no bitmask to outgrow),
/// `--kinds`, the SARIF rules and the JUnit failures need no change.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An observed change outside the policy (always with its blast radius).
    WriteOutsideTarget,
    /// User text changed the statement's syntax tree, or a write reads other rows.
    ShapeChanged,
    /// Several statements, or text after an embedded NUL, in one SQL string.
    MultipleStatements,
    /// DDL: a statement creates, drops or alters schema objects.
    SchemaChange,
    /// Transaction control, ATTACH, PRAGMA, `load_extension`, or a write the policy never allows.
    ForbiddenAction,
    /// A statement hit the guard's work, time or size limits.
    ResourceLimit,
    /// SQLite rejected the statement (user text broke the syntax).
    SqlError,
}

impl Kind {
    /// Every kind, in report order. Kind sets are `BTreeSet<Kind>`, so they grow with this list.
    pub const ALL: [Kind; 7] = [
        Kind::WriteOutsideTarget,
        Kind::ShapeChanged,
        Kind::MultipleStatements,
        Kind::SchemaChange,
        Kind::ForbiddenAction,
        Kind::ResourceLimit,
        Kind::SqlError,
    ];

    /// The stable kebab-case name (`write-outside-target`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WriteOutsideTarget => "write-outside-target",
            Kind::ShapeChanged => "shape-changed",
            Kind::MultipleStatements => "multiple-statements",
            Kind::SchemaChange => "schema-change",
            Kind::ForbiddenAction => "forbidden-action",
            Kind::ResourceLimit => "resource-limit",
            Kind::SqlError => "sql-error",
        }
    }

    /// One line on what the kind means (SARIF rule text, `--help`).
    pub fn description(self) -> &'static str {
        match self {
            Kind::WriteOutsideTarget => "a statement changed a cell outside the target row(s) and columns",
            Kind::ShapeChanged => "user text changed the statement's syntax tree, or a write reads other rows",
            Kind::MultipleStatements => "several statements, or text after a NUL, in one SQL string",
            Kind::SchemaChange => "a statement creates, drops or alters schema objects",
            Kind::ForbiddenAction => "transaction control, ATTACH, PRAGMA, load_extension or a write the policy never allows",
            Kind::ResourceLimit => "a statement hit the guard's work or size limits",
            Kind::SqlError => "SQLite rejected the statement the pipeline built",
        }
    }
}

/// The one-line verdict over a set of kinds: `clean`, or `finding (kind, kind)`.
///
/// ```
/// use rowguard_guard::{kinds_line, Kind};
/// assert_eq!(kinds_line([]), "clean");
/// assert_eq!(kinds_line([Kind::WriteOutsideTarget, Kind::SqlError]),
///            "finding (write-outside-target, sql-error)");
/// ```
pub fn kinds_line(kinds: impl IntoIterator<Item = Kind>) -> String {
    let kinds: Vec<&str> = kinds.into_iter().map(Kind::as_str).collect();
    if kinds.is_empty() {
        "clean".into()
    } else {
        format!("finding ({})", kinds.join(", "))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown finding kind `{s}`"))
    }
}

/// One finding on one statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What kind of finding it is.
    pub kind: Kind,
    /// What the guard saw, in one line.
    pub message: String,
    /// The blast radius (`write-outside-target` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<CellChange>,
    /// Statements that reverse the changes outside the policy, newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undo: Vec<String>,
}

impl Finding {
    /// A finding of `kind` with no blast radius (yet).
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Finding {
            kind,
            message: message.into(),
            outside: Vec::new(),
            undo: Vec::new(),
        }
    }
}

/// Which `Db` call sent the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// `Db::execute`: one statement with bound parameters.
    Execute,
    /// `Db::execute_batch`: several statements, no parameters.
    ExecuteBatch,
    /// `Db::query_row`: the first row of a query.
    QueryRow,
    /// No call: the rows the code under test changed through its own
    /// connections, judged at the database ([`watch::Watched`]).
    Connection,
}

fn params_json<S: Serializer>(params: &[Value], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(params.iter().map(param_json))
}

/// A bound parameter as JSON (blobs as `X'..'` text).
pub fn param_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => (*f).into(),
        Value::Text(t) => t.clone().into(),
        Value::Blob(b) => format!("X'{}'", policy::hex(b)).into(),
    }
}

/// Everything the guard saw and decided about one `Db` call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementCheck {
    /// The `Db` call that sent it.
    pub api: Api,
    /// The SQL exactly as sent.
    pub sql: String,
    #[serde(serialize_with = "params_json")]
    /// The bound parameters, in order.
    pub params: Vec<Value>,
    /// Text after an embedded NUL, which SQLite never compiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored_tail: Option<String>,
    /// The statement's shape (syntax tree with literals abstracted).
    pub shape: String,
    /// Authorizer trace: distinct actions, e.g. `update appointments.notes`.
    pub accesses: Vec<String>,
    /// Rows changed by any channel (triggers and cascades included).
    pub changed_rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The error SQLite returned for the call, if any.
    pub error: Option<String>,
    /// What the guard found (empty when clean).
    pub findings: Vec<Finding>,
}

impl Finding {
    /// The `write-outside-target` finding of the cells changed outside the
    /// policy, with the undo statements of their rows in observation order
    /// (reversed here, so running them in order restores the rows).
    pub(crate) fn write_outside(outside: Vec<CellChange>, mut undo: Vec<String>) -> Finding {
        // A row's cells come together: count each run once, then distinct
        // runs. The cells of one row share their table and key (so the
        // texts are compared only where the pointers differ).
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        let mut rows = HashSet::new();
        let mut last: Option<&CellChange> = None;
        for c in &outside {
            if !last.is_some_and(|l| same(&l.table, &c.table) && same(&l.key, &c.key)) {
                rows.insert((&*c.table, &*c.key));
                last = Some(c);
            }
        }
        let mut f = Finding::new(
            Kind::WriteOutsideTarget,
            format!(
                "{} cell(s) in {} row(s) changed outside the policy",
                outside.len(),
                rows.len()
            ),
        );
        undo.reverse();
        f.outside = outside;
        f.undo = undo;
        f
    }
}

impl StatementCheck {
    /// A call about to be checked: what was sent, nothing seen yet. `tail`
    /// is the text after an embedded NUL that the database never sees.
    pub(crate) fn new(api: Api, sql: &str, params: &[Value], tail: Option<&str>) -> StatementCheck {
        StatementCheck {
            api,
            sql: sql.to_string(),
            params: params.to_vec(),
            ignored_tail: tail.map(str::to_string),
            shape: String::new(),
            accesses: Vec::new(),
            changed_rows: 0,
            error: None,
            findings: Vec::new(),
        }
    }

    /// This check emptied and refilled for a new call, keeping its buffers
    /// (and a text parameter's, where the new one is text too): the
    /// tripwire reuses the checks of a clean operation.
    pub(crate) fn reuse(&mut self, api: Api, sql: &str, params: &[Value]) {
        self.api = api;
        self.sql.clear();
        self.sql.push_str(sql);
        self.params.truncate(params.len());
        for (i, p) in params.iter().enumerate() {
            match (self.params.get_mut(i), p) {
                (Some(Value::Text(old)), Value::Text(new)) => {
                    old.clear();
                    old.push_str(new);
                }
                (Some(old), p) => *old = p.clone(),
                (None, p) => self.params.push(p.clone()),
            }
        }
        self.ignored_tail = None;
        self.shape.clear();
        self.accesses.clear();
        self.changed_rows = 0;
        self.error = None;
        self.findings.clear();
    }

    /// Records what the static layer saw, shared by every backend: the
    /// shape, a missing template (`Some(None)`: the placeholder run made no
    /// statement here), the static findings, and text after an embedded NUL
    /// that the database `never` sees (e.g. "compiled by SQLite").
    pub(crate) fn add_static(
        &mut self,
        view: &static_check::StaticView,
        template: &Option<Option<String>>,
        tail: Option<&str>,
        never: &str,
    ) {
        self.shape = view.shape.clone();
        if let Some(None) = template {
            self.add(Finding::new(
                Kind::ShapeChanged,
                "the placeholder run made no statement at this position",
            ));
        }
        for (kind, message) in &view.findings {
            self.add(Finding::new(*kind, message.clone()));
        }
        if let Some(tail) = tail.filter(|t| t.len() > 1) {
            let shown: String = tail[1..].chars().take(80).collect();
            self.add(Finding::new(
                Kind::MultipleStatements,
                format!(
                    "{} byte(s) after an embedded NUL are never {never}: {shown:?}",
                    tail.len() - 1
                ),
            ));
        }
    }

    /// Adds a finding unless one of the same kind and message is there.
    pub fn add(&mut self, f: Finding) {
        if !self
            .findings
            .iter()
            .any(|g| g.kind == f.kind && g.message == f.message)
        {
            self.findings.push(f);
        }
    }
}

/// The guard's judgement of a run of statements.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    /// Every call judged, in order.
    pub statements: Vec<StatementCheck>,
}

impl Verdict {
    /// Every finding of every statement, in order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.statements.iter().flat_map(|s| s.findings.iter())
    }

    /// Distinct kinds found, sorted.
    pub fn kinds(&self) -> BTreeSet<Kind> {
        self.findings().map(|f| f.kind).collect()
    }

    /// True when no statement has a finding.
    pub fn is_clean(&self) -> bool {
        self.findings().next().is_none()
    }

    /// Every cell changed outside the policy.
    pub fn outside(&self) -> impl Iterator<Item = &CellChange> {
        self.findings().flat_map(|f| f.outside.iter())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small appointments-like database with the channels the guard's
    /// unit tests need: an audit trigger, a cascading WITHOUT ROWID child
    /// table, and ten appointments. (The real fixture belongs to the harness
    /// above this crate; its tests live there.)
    pub(crate) fn fixture() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE practitioners (id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, phone TEXT);
             CREATE TABLE appointments (id INTEGER PRIMARY KEY, practitioner_id INTEGER,
                 client_id INTEGER, series_id INTEGER, start_at TEXT, end_at TEXT, notes TEXT,
                 reason TEXT, status TEXT, updated_at TEXT);
             CREATE TABLE appointment_log (id INTEGER PRIMARY KEY, appointment_id INTEGER,
                 changed_at TEXT, old_start_at TEXT, new_start_at TEXT, old_notes TEXT, new_notes TEXT);
             CREATE TRIGGER appointments_audit AFTER UPDATE ON appointments BEGIN
                 INSERT INTO appointment_log (appointment_id, changed_at, old_start_at,
                     new_start_at, old_notes, new_notes)
                 VALUES (NEW.id, NEW.updated_at, OLD.start_at, NEW.start_at, OLD.notes, NEW.notes);
             END;
             CREATE TABLE reminders (appointment_id INTEGER REFERENCES appointments ON DELETE CASCADE,
                 send_at TEXT, PRIMARY KEY (appointment_id, send_at)) WITHOUT ROWID;
             INSERT INTO practitioners VALUES (1, 'p');
             INSERT INTO clients VALUES (1, 'c', '555');
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
             INSERT INTO appointments SELECT i, 1, 1, NULL, '2026-01-01 09:00', '2026-01-01 09:30',
                 'n' || i, 'r', 'booked', '2026-01-01 00:00' FROM n;
             INSERT INTO reminders VALUES (7, '2026-01-01 08:00'), (8, '2026-01-01 08:00');",
        )
        .unwrap();
        conn
    }

    /// The reschedule policy of appointment 7, written out by hand.
    pub(crate) fn policy7() -> Policy {
        Policy {
            table: "appointments".into(),
            key_column: "id".into(),
            keys: vec![Value::Integer(7)],
            writable: ["start_at", "end_at", "notes", "reason", "updated_at"]
                .map(String::from)
                .to_vec(),
            side_effects: vec![
                SideEffect {
                    table: "appointment_log".into(),
                    column: "appointment_id".into(),
                    insert: true,
                    update: false,
                    delete: false,
                },
                SideEffect {
                    table: "reminders".into(),
                    column: "appointment_id".into(),
                    insert: true,
                    update: true,
                    delete: true,
                },
            ],
        }
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
    }
}

//! Judging at the database: code under test that brings its own client.
//!
//! The [`Guard`](crate::Guard) and the server guards see every statement
//! because the code sends it through [`Db`]. Real code does not: it calls
//! rusqlite, `postgres`, `mysql`, sqlx or another language's driver, through
//! pools, and commits. A [`Watched`] database is the fixture in a database of
//! rowguard's own that the code reaches through a [`Target`] (a file path or
//! a URL with a role of its own); every row that role changes is recorded on
//! the database side, whatever client, connection or transaction it used:
//!
//! ```text
//!   code under test ──(its own client, its own transactions)──▶ fixture
//!                                                                │ triggers (owner's rights)
//!   Watched ◀── rows changed since the op began (before, after) ─┘
//!      │ judge with the op's Policy (write-outside-target, blast radius, undo)
//!      │ sessions left in a transaction: a finding, then ended (rolled back)
//!      └─ end of input: put back from the before-images, verify the whole
//!         fixture against its checksum, rebuild it (and say so) on a difference
//! ```
//!
//! Each database keeps its own [`Side`]: [`sqlite`] (a file; no privilege can
//! stop another process, so the capture is checked intact and a whole-fixture
//! diff backs it up), [`postgres`] and [`mysql`] (the capture belongs to a
//! role the code cannot become; checked after every operation).

use crate::backend::{Backend, BackendKind};
use crate::policy::{Cell, Names, RowChange, TableInfo};
use crate::{
    Api, Db, DbError, Dialect, ErrorClass, Finding, Kind, Policy, StatementCheck, Value, Verdict,
};

mod mysql;
mod postgres;
mod proxy;
mod sqlite;

pub use self::postgres::PgWatch;
pub use mysql::MyWatch;
pub use sqlite::SqliteWatch;

pub use crate::backend::Target;

/// Whether a side installs its capture: `Off` is the raw side of a
/// benchmark (the same fixture, database, role and grants, nothing logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Triggers log every row change; the built fixture is kept to put back.
    On,
    /// Nothing logged, nothing kept.
    Off,
}

/// The same fixture as [`Watched`] builds, with the same role and grants
/// and no capture: what the code under test pays without rowguard (the raw
/// side of `bench watch`). Dropped with its database.
pub struct Bare {
    side: Box<dyn Side>,
}

impl Bare {
    /// On a SQLite file (`database` none), PostgreSQL or MariaDB/MySQL.
    pub fn open(
        database: Option<&crate::server::ServerOptions>,
        sqlite: impl Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
        server_sql: Option<&str>,
    ) -> crate::Result<Bare> {
        let missing = || crate::Error::Setup("no fixture for this database".into());
        let side: Box<dyn Side> = match database {
            None => Box::new(SqliteWatch::open(sqlite, Capture::Off)?),
            Some(o) if BackendKind::of_url(&o.url) == BackendKind::Mysql => Box::new(
                MyWatch::open(o, server_sql.ok_or_else(missing)?, Capture::Off)?,
            ),
            Some(o) => Box::new(PgWatch::open(
                o,
                server_sql.ok_or_else(missing)?,
                Capture::Off,
            )?),
        };
        Ok(Bare { side })
    }

    /// What the code under test connects to.
    pub fn target(&self) -> &Target {
        self.side.target()
    }
}

/// What one operation left behind, as a [`Side`] read it.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Row changes of the fixture tables (index into the side's tables), in order.
    pub rows: Vec<(usize, RowChange)>,
    /// What the database side found besides the rows (a transaction left
    /// open, a capture tampered with, a denied write...).
    pub findings: Vec<Finding>,
    /// The statements the code sent, in order, where the side sees them.
    pub statements: Vec<String>,
}

impl Taken {
    /// Adds a logged change of table `tbl` (none when it is no fixture
    /// table), its row images read by `cells`.
    pub(crate) fn push_logged(
        &mut self,
        tables: &[TableInfo],
        (tbl, old, new): (String, Option<String>, Option<String>),
        cells: impl Fn(Option<&str>, &TableInfo) -> Option<Vec<Cell>>,
    ) {
        let Some(t) = tables.iter().position(|t| t.name == tbl) else {
            return;
        };
        let (old, new) = (
            cells(old.as_deref(), &tables[t]),
            cells(new.as_deref(), &tables[t]),
        );
        self.rows.push((
            t,
            RowChange {
                table: tbl,
                old,
                new,
            },
        ));
    }
}

/// How the fixture was put back after an input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Restored {
    /// From the before-images; the whole-fixture checksum matched.
    Clean,
    /// The checksum differed (or the restore failed): rebuilt, for this reason.
    Rebuilt(String),
}

/// One database's side of a [`Watched`] fixture.
pub(crate) trait Side: Send {
    fn target(&self) -> &Target;
    /// The fixture tables, as the capture logs them.
    fn tables(&self) -> &[TableInfo];
    /// An operation starts: what it changes from here on is its own.
    fn mark(&mut self) -> crate::Result<()>;
    /// What the operation changed since [`Side::mark`], and what else the
    /// database side saw (sessions left open are ended here).
    fn take(&mut self) -> crate::Result<Taken>;
    /// Puts the fixture back as it was built and verifies it.
    fn restore(&mut self) -> crate::Result<Restored>;
    /// Reads the fixture (the harness's policy), outside any check.
    fn read(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;
}

/// A fixture the code under test reaches with its own client, judged at the
/// database ([`Backend`]: the same seam as the guards).
pub struct Watched {
    side: Box<dyn Side>,
    names: Vec<Names>,
    policy: Policy,
    verdict: Verdict,
    /// A read of the capture failed: the input ends in this error.
    failed: Option<crate::Error>,
    rebuilds: usize,
}

/// The SQL text of the check that holds a watched operation's rows and
/// findings: the last check of the operation, after the statements the code
/// sent where the database side sees them (PostgreSQL's pass-through).
pub const WATCHED_SQL: &str = "-- rows changed by the code's own connections";

impl Watched {
    fn new(side: Box<dyn Side>) -> Watched {
        Watched {
            names: side.tables().iter().map(Names::of).collect(),
            side,
            policy: Policy::new("", ""),
            verdict: Verdict::default(),
            failed: None,
            rebuilds: 0,
        }
    }

    /// The fixture as a SQLite file in a temporary folder of its own, built
    /// by `build` (removed when dropped).
    pub fn sqlite(
        build: impl Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> crate::Result<Watched> {
        Ok(Watched::new(Box::new(SqliteWatch::open(
            build,
            Capture::On,
        )?)))
    }

    /// The fixture (`schema_sql`, PostgreSQL dialect) in a database and
    /// roles of rowguard's own on the server `options` names.
    pub fn postgres(
        options: &crate::server::ServerOptions,
        schema_sql: &str,
    ) -> crate::Result<Watched> {
        Ok(Watched::new(Box::new(PgWatch::open(
            options,
            schema_sql,
            Capture::On,
        )?)))
    }

    /// The fixture (`schema_sql`, MariaDB/MySQL dialect) in a database and
    /// user of rowguard's own on the server `options` names.
    pub fn mysql(
        options: &crate::server::ServerOptions,
        schema_sql: &str,
    ) -> crate::Result<Watched> {
        Ok(Watched::new(Box::new(MyWatch::open(
            options,
            schema_sql,
            Capture::On,
        )?)))
    }

    /// What the code under test connects to.
    pub fn target(&self) -> &Target {
        self.side.target()
    }

    /// How many times the fixture was rebuilt because putting it back did
    /// not give the built fixture again.
    pub fn rebuilds(&self) -> usize {
        self.rebuilds
    }

    /// Judges what the operation since the last mark changed.
    fn judge(&mut self) -> crate::Result<StatementCheck> {
        let mut taken = self.side.take()?;
        let dialect = match self.side.target().kind() {
            BackendKind::Postgres => Dialect::Postgres,
            BackendKind::Mysql => Dialect::Mysql,
            BackendKind::Sqlite => Dialect::Sqlite,
        };
        // the statements the code sent: their shapes feed the engine, and the
        // static layer judges each (transaction and session control is the
        // code's own business here); the rows below are the last word
        for sql in std::mem::take(&mut taken.statements) {
            let mut seen = StatementCheck::new(Api::Connection, &sql, &[], None);
            let view = crate::static_check::analyze(&sql, dialect, &self.policy, None);
            seen.shape = view.shape;
            for (kind, message) in code_s_own(view.findings) {
                seen.add(Finding::new(kind, message));
            }
            self.verdict.statements.push(seen);
        }
        let mut check = StatementCheck::new(Api::Connection, WATCHED_SQL, &[], None);
        crate::tripwire::judge(
            &mut check,
            &self.policy,
            self.side.tables(),
            &self.names,
            taken.rows,
        );
        for f in taken.findings {
            check.add(f);
        }
        Ok(check)
    }
}

/// Statements a client sends on its own connection as a matter of course:
/// transactions and session settings are the code's own business when it
/// connects itself (they are findings for code run through `Db`).
const CONTROL: [&str; 13] = [
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "SET",
    "SHOW",
    "USE",
    "RESET",
    "DISCARD",
    "DEALLOCATE",
];

/// The static findings of one statement the code sent, without those about
/// its transaction and session control; several statements in one string
/// stay a finding when more than one of them is not control.
fn code_s_own(findings: Vec<(Kind, String)>) -> Vec<(Kind, String)> {
    let control = |m: &str| {
        m.strip_prefix('`')
            .and_then(|m| m.split_once("` statement is never allowed"))
            .is_some_and(|(word, _)| CONTROL.contains(&word))
    };
    let dropped = findings.iter().filter(|(_, m)| control(m)).count();
    findings
        .into_iter()
        .filter(|(kind, m)| match kind {
            Kind::MultipleStatements => m
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .is_none_or(|n| n.saturating_sub(dropped) > 1),
            _ => !control(m),
        })
        .collect()
}

impl Backend for Watched {
    fn kind(&self) -> BackendKind {
        self.side.target().kind()
    }

    fn begin_input(&mut self) -> crate::Result<()> {
        // each op marks where it begins in `set_policy`, after the policy's reads
        self.verdict = Verdict::default();
        self.failed = None;
        Ok(())
    }

    fn end_input(&mut self) -> crate::Result<Verdict> {
        let verdict = std::mem::take(&mut self.verdict);
        let failed = self.failed.take();
        match self.side.restore()? {
            Restored::Clean => {}
            Restored::Rebuilt(why) => {
                self.rebuilds += 1;
                eprintln!("rowguard: the fixture was rebuilt: {why}");
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(verdict),
        }
    }

    fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
        // what was changed before this op (e.g. the policy's own reads) is not its own
        if let Err(e) = self.side.mark() {
            self.failed.get_or_insert(e);
        }
    }

    fn set_templates(&mut self, _shapes: Option<Vec<String>>) {}

    fn shape_of(&self, _sql: &str) -> String {
        String::new()
    }

    fn query_unchecked(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        self.side.read(sql, params)
    }

    fn take_verdict(&mut self) -> Verdict {
        if self.failed.is_none() {
            match self.judge() {
                Ok(check) => self.verdict.statements.push(check),
                Err(e) => self.failed = Some(e),
            }
        }
        Verdict {
            statements: std::mem::take(&mut self.verdict.statements),
        }
    }

    fn as_db(&mut self) -> &mut dyn Db {
        self
    }

    fn target(&self) -> Option<&Target> {
        Some(self.side.target())
    }
}

/// Code that connects itself has no `Db` to call: a version that calls one
/// on a watched fixture gets this error.
impl Db for Watched {
    fn execute(&mut self, _: &str, _: &[Value]) -> Result<usize, DbError> {
        Err(refused())
    }
    fn execute_batch(&mut self, _: &str) -> Result<(), DbError> {
        Err(refused())
    }
    fn query_row(&mut self, _: &str, _: &[Value]) -> Result<Vec<Value>, DbError> {
        Err(refused())
    }
    fn database(&self) -> &'static str {
        self.side.target().kind().as_str()
    }
}

fn refused() -> DbError {
    DbError::new(
        ErrorClass::Api,
        "this fixture is reached through its target (Target::url), not through Db",
    )
}

/// How long a session that looks left open may take to close: a client
/// that dropped its connection after an error has sent its goodbye, and the
/// server ends the session a moment later.
const CLOSING: std::time::Duration = std::time::Duration::from_millis(300);

/// The sessions `look` finds, once they have had [`CLOSING`] to go away.
pub(crate) fn still_open<T>(
    mut look: impl FnMut() -> crate::Result<Vec<T>>,
) -> crate::Result<Vec<T>> {
    let until = std::time::Instant::now() + CLOSING;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let found = look()?;
        if found.is_empty() || std::time::Instant::now() >= until {
            return Ok(found);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}

/// The finding of a session the operation left inside a transaction: what
/// it wrote there commits or vanishes with whoever uses the connection next,
/// so it is judged as a finding of its own and the session is ended.
pub(crate) fn left_open(who: &str, last: &str, ended: bool) -> Finding {
    let last: String = last.chars().take(200).collect();
    let after = if ended {
        "rowguard ended the session, which rolled them back"
    } else {
        "the fixture was rebuilt beside it"
    };
    Finding::new(
        Kind::ForbiddenAction,
        format!(
            "a transaction left open by the operation ({who}; last statement: {last}): its writes were never committed; {after}"
        ),
    )
}

/// The finding of a change the capture did not record, or a capture found
/// changed (what the code under test can reach on a SQLite file).
pub(crate) fn tampered(what: &str) -> Finding {
    Finding::new(
        Kind::ForbiddenAction,
        format!("the capture was tampered with: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<Kind> {
        let policy = Policy::new("seats", "id").key(1).writable(["note"]);
        let view = crate::static_check::analyze(sql, Dialect::Postgres, &policy, None);
        code_s_own(view.findings)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn the_static_layer_judges_what_the_code_sent_but_its_own_control() {
        assert!(kinds("BEGIN").is_empty());
        assert!(kinds("SET application_name = 'x'").is_empty());
        assert!(kinds("UPDATE seats SET note = $1 WHERE id = $2").is_empty());
        assert!(kinds("BEGIN; UPDATE seats SET note = 'a' WHERE id = 1; COMMIT").is_empty());
        assert_eq!(kinds("DROP TABLE seats"), [Kind::SchemaChange]);
        assert!(
            kinds("UPDATE seats SET holder = 'x' WHERE id = 1").contains(&Kind::ForbiddenAction)
        );
        assert!(
            kinds("UPDATE seats SET note = 'a' WHERE id = 1; DELETE FROM seats")
                .contains(&Kind::MultipleStatements)
        );
    }
}

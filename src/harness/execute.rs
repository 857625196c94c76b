//! The one entry point every consumer shares (cargo-fuzz target, built-in
//! engine, `rowguard repro`, the replay tests): a scenario run by a pipeline
//! through the guard against the fixture, giving an [`Execution`].
//!
//! This is where a harness meets the domain-free guard: for each op it sets
//! the harness's policy of that op and the template shapes (the same op run
//! on placeholder text), then lets the pipeline run; the input's changes
//! are always rolled back at the end.

use std::collections::BTreeSet;

use serde::Serialize;

use super::domain::{Domain, OpValue, Pipeline};
use super::ops;
use super::scenario::Scenario;
use crate::guard::mysql::MyGuard;
use crate::guard::postgres::{PgGuard, PgOptions};
use crate::guard::watch::Watched;
use crate::guard::{
    Backend, BackendKind, Db, DbError, ErrorClass, Finding, Guard, Kind, Policy, StatementCheck,
    Value,
};

/// A guard over a fresh fixture of one harness, reused input after input:
/// embedded SQLite (the default), a PostgreSQL or a MariaDB/MySQL server
/// (`--database`).
pub struct Session {
    backend: SessionBackend,
    domain: &'static dyn Domain,
    database: Option<PgOptions>,
    /// What the code under test read in the last input ([`Session::read`]).
    read: Vec<Value>,
}

// one per session, made once and never moved: boxing the common case buys nothing
#[allow(clippy::large_enum_variant)]
enum SessionBackend {
    Sqlite(Guard),
    Postgres(Box<PgGuard>),
    Mysql(Box<MyGuard>),
    /// Versions that connect themselves: the fixture judged at the database.
    Watched(Box<Watched>),
}

impl Session {
    /// A session over `domain` resized to `rows` rows (`bench scaling`).
    pub fn resized(domain: &dyn Domain, rows: usize) -> crate::Result<Session> {
        let sized = domain.resized(rows).ok_or_else(|| {
            crate::Error::Usage(format!(
                "harness `{}`: its fixture has no size",
                domain.name()
            ))
        })?;
        Session::open(sized, None)
    }

    /// A session over `domain`'s fixture on `database` when given, else on
    /// embedded SQLite.
    pub fn open(
        domain: &'static dyn Domain,
        database: Option<&PgOptions>,
    ) -> crate::Result<Session> {
        let fixture = domain.fixture();
        // Each op sets its own policy before it runs.
        let nothing = Policy::new("", "");
        let connecting = domain.pipelines().iter().filter(|p| p.connects()).count();
        if connecting > 0 && connecting < domain.pipelines().len() {
            return Err(crate::Error::Usage(format!(
                "harness `{}`: its versions all connect themselves or none does ({connecting} of {} do)",
                domain.name(),
                domain.pipelines().len()
            )));
        }
        let backend = match database {
            _ if connecting > 0 => {
                SessionBackend::Watched(Box::new(watched(domain, fixture, database)?))
            }
            None => {
                let conn = rusqlite::Connection::open_in_memory()?;
                (fixture.sqlite)(&conn)?;
                SessionBackend::Sqlite(Guard::new(conn, nothing)?)
            }
            Some(options) if BackendKind::of_url(&options.url) == BackendKind::Mysql => {
                let sql = fixture.mysql.ok_or_else(|| {
                    crate::Error::Usage(format!(
                        "harness `{}` has no MariaDB/MySQL fixture",
                        domain.name()
                    ))
                })?;
                SessionBackend::Mysql(Box::new(MyGuard::open(options, &sql, nothing)?))
            }
            Some(options) => {
                let sql = fixture.postgres.ok_or_else(|| {
                    crate::Error::Usage(format!(
                        "harness `{}` has no PostgreSQL fixture",
                        domain.name()
                    ))
                })?;
                SessionBackend::Postgres(Box::new(PgGuard::open(options, &sql, nothing)?))
            }
        };
        Ok(Session {
            backend,
            domain,
            database: database.cloned(),
            read: Vec::new(),
        })
    }

    /// The fixture judged at the database, on a session of versions that
    /// connect themselves.
    pub fn watched(&mut self) -> Option<&mut Watched> {
        match &mut self.backend {
            SessionBackend::Watched(w) => Some(w),
            _ => None,
        }
    }

    /// The values the code under test received through `Db` (`query_row`
    /// results, in order) while running the last input [`execute`] ran: at
    /// most [`MAX_READ`] values, texts cut to [`MAX_READ_TEXT`] bytes. The
    /// built-in engine offers them to its next mutations (words the code read).
    pub fn read(&self) -> &[Value] {
        &self.read
    }

    /// The harness whose fixture the session holds.
    pub fn harness(&self) -> &'static dyn Domain {
        self.domain
    }

    /// The SQLite guard, on a SQLite session (for reads of its connection).
    pub fn guard(&mut self) -> Option<&mut Guard> {
        match &mut self.backend {
            SessionBackend::Sqlite(g) => Some(g),
            _ => None,
        }
    }

    /// The PostgreSQL guard, on a PostgreSQL session.
    pub fn postgres_guard(&mut self) -> Option<&mut PgGuard> {
        match &mut self.backend {
            SessionBackend::Postgres(g) => Some(g),
            _ => None,
        }
    }

    /// The MariaDB/MySQL guard, on a MariaDB/MySQL session.
    pub fn mysql_guard(&mut self) -> Option<&mut MyGuard> {
        match &mut self.backend {
            SessionBackend::Mysql(g) => Some(g),
            _ => None,
        }
    }

    /// The guarded database, whichever it is.
    pub fn backend(&mut self) -> &mut dyn Backend {
        match &mut self.backend {
            SessionBackend::Sqlite(g) => g,
            SessionBackend::Postgres(g) => g.as_mut(),
            SessionBackend::Mysql(g) => g.as_mut(),
            SessionBackend::Watched(w) => w.as_mut(),
        }
    }

    /// Whether the fixture holds a row of `table` whose `key_column` is `key`.
    pub fn has_row(&mut self, table: &str, key_column: &str, key: i64) -> crate::Result<bool> {
        let kind = self.kind();
        let sql = format!(
            "SELECT 1 FROM {} WHERE {} = ?1",
            kind.quote_ident(table),
            kind.quote_ident(key_column)
        );
        Ok(!self
            .backend()
            .query_unchecked(&sql, &[Value::Integer(key)])?
            .is_empty())
    }

    /// Which database the session runs on.
    pub fn kind(&self) -> BackendKind {
        match &self.backend {
            SessionBackend::Sqlite(_) => BackendKind::Sqlite,
            SessionBackend::Postgres(_) => BackendKind::Postgres,
            SessionBackend::Mysql(_) => BackendKind::Mysql,
            SessionBackend::Watched(w) => w.kind(),
        }
    }
}

/// The fixture of a harness whose versions connect themselves, on
/// `database` when given (PostgreSQL or MariaDB/MySQL), else on a SQLite file.
fn watched(
    domain: &dyn Domain,
    fixture: super::domain::Fixture,
    database: Option<&PgOptions>,
) -> crate::Result<Watched> {
    let missing = |dialect: &str| {
        crate::Error::Usage(format!(
            "harness `{}` has no {dialect} fixture",
            domain.name()
        ))
    };
    Ok(match database {
        None => {
            let build = fixture.sqlite;
            Watched::sqlite(move |conn| build(conn))?
        }
        Some(options) if BackendKind::of_url(&options.url) == BackendKind::Mysql => Watched::mysql(
            options,
            &fixture.mysql.ok_or_else(|| missing("MariaDB/MySQL"))?,
        )?,
        Some(options) => Watched::postgres(
            options,
            &fixture.postgres.ok_or_else(|| missing("PostgreSQL"))?,
        )?,
    })
}

/// One op of an execution and what the guard saw while it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRun {
    pub op: OpValue,
    /// The table of the op's policy.
    pub table: String,
    /// The target keys of the op's policy (integer keys).
    pub targets: Vec<i64>,
    pub statements: Vec<StatementCheck>,
    /// The error the pipeline stopped with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What happened at the code's edge, for code reached over a wire (the
    /// request, its answer, the `curl` command, the application's output).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<String>,
    /// The template: the SQL the same op sent on placeholder text, in order
    /// (what root causes compare the real statements with).
    #[serde(skip)]
    pub template_sql: Vec<String>,
    /// The template's statement shapes, as the guard computed them.
    #[serde(skip)]
    pub templates: Vec<String>,
}

impl OpRun {
    /// Where the op's text left its literal: the first statement whose
    /// shape differs from the template's statement at the same place (a
    /// statement the template does not have counts), if any.
    pub fn divergence(&self) -> Option<usize> {
        self.statements
            .iter()
            .enumerate()
            .find(|(k, s)| self.templates.get(*k) != Some(&s.shape))
            .map(|(k, _)| k)
    }
}

/// A whole scenario run on one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// The harness the pipeline belongs to.
    pub harness: String,
    pub pipeline: String,
    pub ops: Vec<OpRun>,
}

impl Execution {
    pub fn statements(&self) -> impl Iterator<Item = &StatementCheck> {
        self.ops.iter().flat_map(|o| o.statements.iter())
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.statements().flat_map(|s| s.findings.iter())
    }

    pub fn kinds(&self) -> BTreeSet<Kind> {
        self.findings().map(|f| f.kind).collect()
    }

    pub fn is_clean(&self) -> bool {
        self.findings().next().is_none()
    }

    /// `clean`, or `finding (kind, kind)` for the kinds found.
    pub fn verdict_line(&self) -> String {
        crate::guard::kinds_line(self.kinds())
    }
}

/// Records the SQL of an op run on placeholder text; reads go to the real
/// database, unchecked, so branches follow the same data.
struct Recorder<'g> {
    guard: &'g mut dyn Backend,
    sql: Vec<String>,
}

impl Db for Recorder<'_> {
    fn execute(&mut self, sql: &str, _: &[Value]) -> Result<usize, DbError> {
        self.sql.push(sql.to_string());
        Ok(1)
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.sql.push(sql.to_string());
        Ok(())
    }
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        self.sql.push(sql.to_string());
        let rows = self.guard.query_unchecked(sql, params)?;
        rows.into_iter().next().ok_or_else(DbError::no_rows)
    }
    fn database(&self) -> &'static str {
        self.guard.kind().as_str()
    }
}

/// Most values kept of what the code read while running one input.
pub const MAX_READ: usize = 256;
/// Longest text kept of one value the code read (bytes, cut at a char boundary).
pub const MAX_READ_TEXT: usize = 256;

/// The `Db` handed to the code under test: every call goes to the guard;
/// the values `query_row` returns are also kept (bounded) for
/// [`Session::read`].
struct Watch<'g> {
    db: &'g mut dyn Db,
    read: &'g mut Vec<Value>,
}

impl Db for Watch<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.db.execute(sql, params)
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.db.execute_batch(sql)
    }
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let row = self.db.query_row(sql, params)?;
        for v in &row {
            if self.read.len() >= MAX_READ {
                break;
            }
            self.read.push(match v {
                Value::Text(t) if t.len() > MAX_READ_TEXT => {
                    let mut end = MAX_READ_TEXT;
                    while !t.is_char_boundary(end) {
                        end -= 1;
                    }
                    Value::Text(t[..end].to_string())
                }
                Value::Blob(_) => continue,
                v => v.clone(),
            });
        }
        Ok(row)
    }
    fn database(&self) -> &'static str {
        self.db.database()
    }
}

/// Reads for a harness's policy: queries run unchecked, writes refused.
struct Reads<'g> {
    guard: &'g mut dyn Backend,
}

impl Db for Reads<'_> {
    fn execute(&mut self, sql: &str, _: &[Value]) -> Result<usize, DbError> {
        Err(DbError::new(
            ErrorClass::Other,
            format!("a policy may only read: {sql}"),
        ))
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.execute(sql, &[]).map(|_| ())
    }
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let rows = self.guard.query_unchecked(sql, params)?;
        rows.into_iter().next().ok_or_else(DbError::no_rows)
    }
    fn database(&self) -> &'static str {
        self.guard.kind().as_str()
    }
}

/// The policy of `op` in `session`'s fixture (what `execute` sets before
/// running it).
pub fn policy_of(session: &mut Session, op: &OpValue) -> crate::Result<Policy> {
    let domain = session.domain;
    domain
        .policy(
            op,
            &mut Reads {
                guard: session.backend(),
            },
        )
        .map_err(|e| crate::Error::Usage(format!("the harness's policy failed: {}", e.message)))
}

/// The statements `op` makes on placeholder text (each free-text field
/// replaced by benign text of the same length): the template its real run
/// is compared with. The placeholder run only fails where the real one
/// would, so what it sent before failing stays useful.
pub fn placeholder_sql(
    guard: &mut dyn Backend,
    pipeline: &dyn Pipeline,
    op: &OpValue,
) -> Vec<String> {
    let mut recorder = Recorder {
        guard,
        sql: Vec::new(),
    };
    let _ = pipeline.run(&ops::placeholder(pipeline.harness(), op), &mut recorder);
    recorder.sql
}

/// Runs `scenario` on `pipeline` under the guard; the fixture is restored
/// after. A panic while judging it is caught and is [`crate::Error::Panic`]
/// for this input alone: the session is rebuilt, so the next input runs on
/// a fresh guard (a stack overflow cannot be caught: the guard's limits are
/// what prevent those).
pub fn execute(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
) -> crate::Result<Execution> {
    let run = std::panic::AssertUnwindSafe(|| execute_here(session, pipeline, scenario));
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            *session = Session::open(session.domain, session.database.as_ref())?;
            Err(crate::Error::Panic(message))
        }
    }
}

fn execute_here(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
) -> crate::Result<Execution> {
    if !std::ptr::addr_eq(session.domain, pipeline.harness()) {
        return Err(crate::Error::Usage(format!(
            "pipeline `{}` of harness `{}` run on a session of `{}`",
            pipeline.name(),
            pipeline.harness().name(),
            session.domain.name()
        )));
    }
    let domain = session.domain;
    let mut read = std::mem::take(&mut session.read);
    read.clear();
    let guard = session.backend();
    if pipeline.connects() {
        if let Some(target) = guard.target().cloned() {
            pipeline.prepare(&target).map_err(crate::Error::Usage)?;
        }
    }
    guard.begin_input()?;
    let mut ops = Vec::with_capacity(scenario.ops.len());
    for op in &scenario.ops {
        let policy = domain
            .policy(op, &mut Reads { guard: &mut *guard })
            .map_err(|e| {
                crate::Error::Usage(format!("the harness's policy failed: {}", e.message))
            })?;
        let targets = policy
            .keys
            .iter()
            .filter_map(|k| match k {
                Value::Integer(i) => Some(*i),
                _ => None,
            })
            .collect();
        let table = policy.table.clone();
        guard.set_policy(policy);
        let target = guard.target().filter(|_| pipeline.connects()).cloned();
        // code with its own client sends nothing rowguard can record on placeholder text
        let template_sql = match target {
            Some(_) => Vec::new(),
            None => placeholder_sql(&mut *guard, pipeline, op),
        };
        let templates: Vec<String> = template_sql.iter().map(|sql| guard.shape_of(sql)).collect();
        guard.set_templates(Some(templates.clone()));
        let mut watch = Watch {
            db: guard.as_db(),
            read: &mut read,
        };
        let error = match &target {
            Some(target) => pipeline.run_at(op, target),
            None => pipeline.run(op, &mut watch),
        }
        .err()
        .map(|e| e.message);
        let exchange = pipeline.exchange().unwrap_or_default();
        if let Some(why) = exchange.broken {
            return Err(crate::Error::Usage(why));
        }
        for word in exchange.words {
            if read.len() < MAX_READ {
                read.push(Value::Text(word));
            }
        }
        guard.set_templates(None);
        ops.push(OpRun {
            op: op.clone(),
            table,
            targets,
            statements: guard.take_verdict().statements,
            error,
            transcript: exchange.transcript,
            template_sql,
            templates,
        });
    }
    guard.end_input()?;
    session.read = read;
    Ok(Execution {
        harness: domain.name().to_string(),
        pipeline: pipeline.name().to_string(),
        ops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::pipeline::{self, Op};

    fn run(pipeline: &str, ops: Vec<Op>) -> Execution {
        let mut s = Session::new().unwrap();
        execute(
            &mut s,
            pipeline::by_name(pipeline).unwrap(),
            &Scenario::of(ops),
        )
        .unwrap()
    }

    #[test]
    fn series_ops_target_the_whole_series() {
        let e = run(
            "safe",
            vec![Op::RescheduleSeries {
                id: 3,
                slot: 2,
                notes: "n".into(),
                reason: "r".into(),
            }],
        );
        assert!(e.ops[0].targets.len() > 1, "{:?}", e.ops[0].targets);
        assert!(e.is_clean(), "{e:#?}");
        let one_off = run(
            "safe",
            vec![Op::RescheduleSeries {
                id: 7,
                slot: 2,
                notes: "n".into(),
                reason: "r".into(),
            }],
        );
        assert_eq!(one_off.ops[0].targets, vec![7]);
        assert!(one_off.is_clean());
    }
}

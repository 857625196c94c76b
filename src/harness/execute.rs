//! The one entry point every consumer shares (cargo-fuzz target, built-in
//! engine, `rowguard repro`, the replay tests): a scenario run by a pipeline
//! through the guard against the fixture, giving an [`Execution`].
//!
//! This is where the appointments domain meets the domain-free guard: for
//! each op it sets the reschedule policy of the op's target (its series for
//! a series op, [`super::appointments`]) and the template shapes (the same
//! op run on placeholder text), then lets the pipeline run; the input's
//! changes are always rolled back at the end.

use std::collections::BTreeSet;

use serde::Serialize;

use super::appointments::{self, appointments_policy};
use super::pipeline::{Op, Pipeline};
use super::scenario::Scenario;
use super::schema;
use crate::guard::mysql::MyGuard;
use crate::guard::postgres::{PgGuard, PgOptions};
use crate::guard::{
    Backend, BackendKind, Db, DbError, Finding, Guard, Kind, StatementCheck, Value,
};

/// A guard over a fresh fixture, reused input after input: embedded SQLite
/// (the default), a PostgreSQL or a MariaDB/MySQL server (`--database`).
pub struct Session {
    backend: SessionBackend,
    size: usize,
    database: Option<PgOptions>,
}

// one per session, made once and never moved: boxing the common case buys nothing
#[allow(clippy::large_enum_variant)]
enum SessionBackend {
    Sqlite(Guard),
    Postgres(Box<PgGuard>),
    Mysql(Box<MyGuard>),
}

impl Session {
    /// A session over the default fixture on embedded SQLite.
    pub fn new() -> crate::Result<Session> {
        Session::with_size(schema::DEFAULT_SIZE)
    }

    /// A session over a fixture of `size` appointments on embedded SQLite.
    pub fn with_size(size: usize) -> crate::Result<Session> {
        Session::open_sized(None, size)
    }

    /// A session over the default fixture on `database` when given, else
    /// on embedded SQLite.
    pub fn open(database: Option<&PgOptions>) -> crate::Result<Session> {
        Session::open_sized(database, schema::DEFAULT_SIZE)
    }

    /// A session over a fixture of `size` appointments on `database` when
    /// given, else on embedded SQLite.
    pub fn open_sized(database: Option<&PgOptions>, size: usize) -> crate::Result<Session> {
        let backend = match database {
            None => SessionBackend::Sqlite(appointments::guard_for(size, schema::DEFAULT_TARGET)?),
            Some(options) if BackendKind::of_url(&options.url) == BackendKind::Mysql => {
                SessionBackend::Mysql(Box::new(appointments::my_guard_for(
                    options,
                    size,
                    schema::DEFAULT_TARGET,
                )?))
            }
            Some(options) => SessionBackend::Postgres(Box::new(appointments::pg_guard_for(
                options,
                size,
                schema::DEFAULT_TARGET,
            )?)),
        };
        Ok(Session {
            backend,
            size,
            database: database.cloned(),
        })
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
        }
    }

    /// Which database the session runs on.
    pub fn kind(&self) -> BackendKind {
        match &self.backend {
            SessionBackend::Sqlite(_) => BackendKind::Sqlite,
            SessionBackend::Postgres(_) => BackendKind::Postgres,
            SessionBackend::Mysql(_) => BackendKind::Mysql,
        }
    }
}

/// One op of an execution and what the guard saw while it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRun {
    pub op: Op,
    /// The target appointments of the op's policy.
    pub targets: Vec<i64>,
    pub statements: Vec<StatementCheck>,
    /// The error the pipeline stopped with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A whole scenario run on one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
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

/// The statements `op` makes on placeholder text (each free-text field
/// replaced by benign text of the same length): the template its real run
/// is compared with. The placeholder run only fails where the real one
/// would, so what it sent before failing stays useful.
pub fn placeholder_sql(guard: &mut dyn Backend, pipeline: &dyn Pipeline, op: &Op) -> Vec<String> {
    let mut recorder = Recorder {
        guard,
        sql: Vec::new(),
    };
    let _ = pipeline.run(&op.placeholder(), &mut recorder);
    recorder.sql
}

/// The appointments an op may write: its series, or itself.
fn targets(guard: &mut dyn Backend, op: &Op) -> crate::Result<Vec<i64>> {
    let id = op.target();
    if !op.is_series() {
        return Ok(vec![id]);
    }
    let rows = guard.query_unchecked(
        "SELECT id FROM appointments WHERE series_id = (SELECT series_id FROM appointments WHERE id = ?1) \
         UNION SELECT ?1 ORDER BY 1",
        &[Value::Integer(id)],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r.first() {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        })
        .collect())
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
            *session = Session::open_sized(session.database.as_ref(), session.size)?;
            Err(crate::Error::Panic(message))
        }
    }
}

fn execute_here(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
) -> crate::Result<Execution> {
    let guard = session.backend();
    guard.begin_input()?;
    let mut ops = Vec::with_capacity(scenario.ops.len());
    for op in &scenario.ops {
        let targets = targets(&mut *guard, op)?;
        guard.set_policy(appointments_policy(&targets));
        let shapes = placeholder_sql(&mut *guard, pipeline, op)
            .iter()
            .map(|sql| guard.shape_of(sql))
            .collect();
        guard.set_templates(Some(shapes));
        let error = pipeline.run(op, guard.as_db()).err().map(|e| e.message);
        guard.set_templates(None);
        ops.push(OpRun {
            op: op.clone(),
            targets,
            statements: guard.take_verdict().statements,
            error,
        });
    }
    guard.end_input()?;
    Ok(Execution {
        pipeline: pipeline.name().to_string(),
        ops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::pipeline;

    fn run(pipeline: &str, ops: Vec<Op>) -> Execution {
        let mut s = Session::new().unwrap();
        execute(
            &mut s,
            pipeline::by_name(pipeline).unwrap(),
            &Scenario { ops },
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

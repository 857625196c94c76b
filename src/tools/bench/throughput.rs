//! Checked against raw throughput, per pipeline, in one run.
//!
//! Checked side: `target::execute` on a fixed workload, exactly as the fuzz
//! loop runs it. Raw side: every statement that run sent, replayed through
//! the same `Db` call on a plain connection of the same fixture, each inside
//! a savepoint that is rolled back. Rounds alternate sides; the median round
//! of each side is reported. `ratio` = raw/s over checked/s (lower is better).

use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use super::{median, time, workload};
use crate::guard::{Api, StatementCheck};
use crate::scenario::Scenario;
use crate::target::{self, Session};
use crate::{pipeline, schema};

#[derive(Debug, Clone, Serialize)]
pub struct PipelineThroughput {
    pub pipeline: String,
    pub statements: usize,
    pub checked_per_s: f64,
    pub raw_per_s: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// The worst pipeline's ratio.
    pub ratio: f64,
    pub pipelines: Vec<PipelineThroughput>,
    pub inputs: usize,
    pub rounds: usize,
}

fn checked_round(
    session: &mut Session,
    p: &dyn pipeline::Pipeline,
    inputs: &[Scenario],
) -> crate::Result<Vec<StatementCheck>> {
    let mut statements = Vec::new();
    for s in inputs {
        let e = target::execute(session, p, s)?;
        statements.extend(e.ops.into_iter().flat_map(|o| o.statements));
    }
    Ok(statements)
}

fn raw_round(conn: &mut Connection, statements: &[StatementCheck]) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN")?;
    for s in statements {
        conn.execute_batch("SAVEPOINT raw")?;
        // Errors are part of the workload (legacy's broken SQL): same as checked.
        let _ = match s.api {
            Api::Execute => crate::db::Db::execute(conn, &s.sql, &s.params).map(|_| ()),
            Api::ExecuteBatch => crate::db::Db::execute_batch(conn, &s.sql),
            Api::QueryRow => crate::db::Db::query_row(conn, &s.sql, &s.params).map(|_| ()),
        };
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK TO raw; RELEASE raw")?;
        }
    }
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    Ok(())
}

/// Measures `pipelines` on `inputs` scenarios for `rounds` alternating rounds.
pub fn run(
    pipelines: &[&str],
    inputs: usize,
    rounds: usize,
    seed: u64,
) -> crate::Result<Throughput> {
    let work = workload(seed, inputs);
    let mut results = Vec::new();
    for name in pipelines {
        let p = pipeline::by_name(name)?;
        let mut session = Session::new()?;
        let mut raw = schema::open(schema::DEFAULT_SIZE)?;
        let statements = checked_round(&mut session, p, &work)?; // warm-up, and the raw workload
        let (mut checked_t, mut raw_t): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            checked_t.push(time(|| checked_round(&mut session, p, &work)).1);
            raw_t.push(time(|| raw_round(&mut raw, &statements)).1);
        }
        let n = statements.len() as f64;
        let checked_per_s = n / median(&mut checked_t).as_secs_f64().max(1e-9);
        let raw_per_s = n / median(&mut raw_t).as_secs_f64().max(1e-9);
        results.push(PipelineThroughput {
            pipeline: name.to_string(),
            statements: statements.len(),
            checked_per_s,
            raw_per_s,
            ratio: raw_per_s / checked_per_s,
        });
    }
    Ok(Throughput {
        ratio: results.iter().map(|r| r.ratio).fold(0.0, f64::max),
        pipelines: results,
        inputs,
        rounds,
    })
}

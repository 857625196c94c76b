//! `bench watch`: a harness whose versions connect themselves
//! ([`crate::harness::domain::Version::connected`]), checked at the database
//! (capture, judge, putting the fixture back after each input) against the
//! same operations run raw by the same code on a [`Bare`] fixture: the same
//! database, role and grants, with no capture. Rounds alternate the sides;
//! each reports wall time and this thread's CPU time (the client side:
//! the code under test and rowguard); the server's own work is in the wall
//! time only.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::guard::postgres::PgOptions;
use crate::guard::watch::Bare;
use crate::harness::domain::{Domain, Pipeline};
use crate::harness::execute::{execute, Session};
use crate::harness::scenario::Scenario;

/// One side's figures over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// Operations per second (wall clock), median of the rounds.
    pub ops_per_s: f64,
    /// Microseconds of this thread's CPU time per operation, median.
    pub cpu_us_per_op: f64,
    /// Wall time per round, min / median / max, in milliseconds.
    pub wall_ms: [f64; 3],
}

/// What `bench watch` measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchBench {
    pub harness: String,
    pub pipeline: String,
    pub database: String,
    pub inputs: usize,
    pub operations: usize,
    pub rounds: usize,
    pub checked: Side,
    pub raw: Side,
    /// Checked wall time over raw wall time per round: min / median / max.
    pub wall_ratio: [f64; 3],
    /// Checked CPU time over raw CPU time per round: min / median / max.
    pub cpu_ratio: [f64; 3],
}

/// This thread's CPU time so far, in nanoseconds, from
/// `/proc/thread-self/schedstat` (Linux; zero elsewhere, and the CPU
/// columns say nothing). The code under test and rowguard run on this
/// thread; a server's work is in the wall time only.
pub fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn spread(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => [0.0; 3],
        n => [v[0], v[n / 2], v[n - 1]],
    }
}

/// Runs `inputs` generated scenarios of `pipeline` `rounds` times on each side.
pub fn run(
    domain: &'static dyn Domain,
    pipeline: &'static dyn Pipeline,
    inputs: usize,
    rounds: usize,
    seed: u64,
    database: Option<&PgOptions>,
) -> crate::Result<WatchBench> {
    if !pipeline.connects() {
        return Err(crate::Error::Usage(format!(
            "pipeline `{}` runs through Db: `bench watch` is for versions that connect themselves (`bench throughput` measures the others)",
            pipeline.name()
        )));
    }
    let workload: Vec<Scenario> = super::workload(domain, seed, inputs);
    let operations: usize = workload.iter().map(|s| s.ops.len()).sum();
    let mut session = Session::open(domain, database)?;
    let fixture = domain.fixture();
    let server_sql = match database {
        Some(o)
            if crate::guard::BackendKind::of_url(&o.url) == crate::guard::BackendKind::Mysql =>
        {
            fixture.mysql.clone()
        }
        Some(_) => fixture.postgres.clone(),
        None => None,
    };
    let build = fixture.sqlite;
    let bare = Bare::open(database, move |c| build(c), server_sql.as_deref())?;
    let (mut checked, mut raw) = (Vec::new(), Vec::new());
    let prepare = |target: Option<&crate::guard::watch::Target>| match target {
        // a running application is (re)started against each side's fixture outside the clock
        Some(t) => pipeline.prepare(t).map_err(crate::Error::Usage),
        None => Ok(()),
    };
    for _ in 0..rounds {
        prepare(session.backend().target())?;
        let (cpu, start) = (thread_cpu(), Instant::now());
        for scenario in &workload {
            execute(&mut session, pipeline, scenario)?;
        }
        checked.push((start.elapsed(), thread_cpu().saturating_sub(cpu)));
        prepare(Some(bare.target()))?;
        let (cpu, start) = (thread_cpu(), Instant::now());
        for op in workload.iter().flat_map(|s| &s.ops) {
            // errors are part of the workload, as on the checked side
            let _ = pipeline.run_at(op, bare.target());
        }
        raw.push((start.elapsed(), thread_cpu().saturating_sub(cpu)));
    }
    let side = |runs: &[(Duration, Duration)]| Side {
        ops_per_s: spread(
            runs.iter()
                .map(|(w, _)| operations as f64 / w.as_secs_f64().max(1e-9))
                .collect(),
        )[1],
        cpu_us_per_op: spread(
            runs.iter()
                .map(|(_, c)| c.as_secs_f64() * 1e6 / operations.max(1) as f64)
                .collect(),
        )[1],
        wall_ms: spread(runs.iter().map(|(w, _)| w.as_secs_f64() * 1e3).collect()),
    };
    let ratio = |f: fn(&(Duration, Duration)) -> Duration| {
        spread(
            checked
                .iter()
                .zip(&raw)
                .map(|(c, r)| f(c).as_secs_f64() / f(r).as_secs_f64().max(1e-9))
                .collect(),
        )
    };
    Ok(WatchBench {
        harness: domain.name().to_string(),
        pipeline: pipeline.name().to_string(),
        database: session.kind().as_str().to_string(),
        inputs,
        operations,
        rounds,
        checked: side(&checked),
        raw: side(&raw),
        wall_ratio: ratio(|r| r.0),
        cpu_ratio: ratio(|r| r.1),
    })
}

//! Checked against raw throughput, per pipeline, in one run.
//!
//! Checked side: `execute` on a fixed workload, exactly as the fuzz
//! loop runs it. Raw side: every statement that run sent, replayed through
//! the same `Db` call on a plain connection of the same fixture, each inside
//! a savepoint that is rolled back. Rounds alternate sides; the median round
//! of each side is reported. `ratio` = raw/s over checked/s (lower is better).
//!
//! Breakdown: after the ratio rounds, the same number of rounds again with
//! the guard's per-part stopwatch on (and each raw statement's execution
//! timed on the raw side), reported as the mean microseconds per input of
//! each part. `capture` is the guard's statement execution minus the same
//! statements' raw execution: what the change capture (triggers, authorizer,
//! progress handler) adds to SQLite's own work. `other` is the rest of the
//! checked time (the pipeline's own Rust, policy building, `Execution`).
//!
//! Engine against ceiling (`safe` only): the built-in engine (`engine::run`,
//! feedback on, no corpus folder) fed the workload's inputs as seeds, against
//! the same scenarios run raw: a fresh fixture, then each scenario's ops run
//! by the pipeline on a plain connection in a transaction rolled back after
//! each input (no guard, no placeholder run). Both sides build their fixture
//! inside the timed part, as a fuzz run does.
//!
//! Beside wall time ([`super::cost`]), per statement (per input for the
//! engine), over the ratio rounds: each side's client CPU and waits (round
//! trips on a server) and, on a local server, its backends' CPU; the
//! per-round wall and CPU ratios, and what the rounds disagree on.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Serialize;

use super::cost::{measure, Comparison, Scope, Server};
use super::{median, time, workload};
use crate::guard::mysql::MyRaw;
use crate::guard::postgres::{PgOptions, PgRaw};
use crate::guard::BackendKind;
use crate::guard::{Api, Breakdown, StatementCheck};
use crate::harness::domain::{Domain, Pipeline};
use crate::harness::execute::{execute, Session};
use crate::harness::scenario::Scenario;
use crate::tools::engine;

#[derive(Debug, Clone, Serialize)]
pub struct PipelineThroughput {
    pub pipeline: String,
    pub statements: usize,
    pub checked_per_s: f64,
    pub raw_per_s: f64,
    pub ratio: f64,
    /// Where a checked input's time goes, microseconds per input (SQLite only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Parts>,
    /// Per statement, both sides: wall, client and server CPU, round trips,
    /// each over the ratio rounds (min, median, max).
    pub cost: Comparison,
}

/// Mean microseconds per input of each part of a checked input.
#[derive(Debug, Clone, Serialize)]
pub struct Parts {
    /// Placeholder run (template shapes; the unchecked reads it makes).
    pub template_us: f64,
    /// Static check (compiled text, memoized view, shape comparison).
    pub static_us: f64,
    /// The input's transaction (open and roll back).
    pub savepoints_us: f64,
    /// The statements' own work: their raw execution time.
    pub sqlite_us: f64,
    /// Change capture: execution under the guard minus raw execution.
    pub capture_us: f64,
    /// Reading the log, policy comparison, blast radius, trace.
    pub verdict_us: f64,
    /// Building undo statements.
    pub undo_us: f64,
    /// The rest: the pipeline's Rust, policy building, the `Execution`.
    pub other_us: f64,
    /// The whole checked input.
    pub total_us: f64,
}

/// The built-in engine against the raw-scenario ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct EngineCeiling {
    pub pipeline: String,
    pub inputs: usize,
    pub engine_execs_per_s: f64,
    pub raw_scenarios_per_s: f64,
    /// engine / raw (higher is better; the target is at least 0.5).
    pub fraction: f64,
    /// Per input: the engine (whole process, its workers included) against
    /// the raw scenarios; `cpu_ratio` is engine CPU over raw CPU.
    pub cost: Comparison,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// `sqlite`, or `postgres` / `mysql` with `--database` (both sides on the server).
    pub database: &'static str,
    /// The worst pipeline's ratio.
    pub ratio: f64,
    pub pipelines: Vec<PipelineThroughput>,
    /// Present when `safe` was measured.
    pub engine: Option<EngineCeiling>,
    pub inputs: usize,
    pub rounds: usize,
}

pub(super) fn checked_round(
    session: &mut Session,
    p: &dyn Pipeline,
    inputs: &[Scenario],
) -> crate::Result<Vec<StatementCheck>> {
    let mut statements = Vec::new();
    for s in inputs {
        let e = execute(session, p, s)?;
        statements.extend(e.ops.into_iter().flat_map(|o| o.statements));
    }
    Ok(statements)
}

/// One raw round; returns the time spent in the statements themselves
/// (savepoints excluded) when `timed`.
pub(super) fn raw_round(
    conn: &mut Connection,
    statements: &[StatementCheck],
    timed: bool,
) -> rusqlite::Result<Duration> {
    let mut spent = Duration::ZERO;
    conn.execute_batch("BEGIN")?;
    for s in statements {
        conn.execute_batch("SAVEPOINT raw")?;
        let start = timed.then(Instant::now);
        // Errors are part of the workload (legacy's broken SQL): same as checked.
        let _ = match s.api {
            Api::Execute => crate::guard::db::Db::execute(conn, &s.sql, &s.params).map(|_| ()),
            Api::ExecuteBatch => crate::guard::db::Db::execute_batch(conn, &s.sql),
            Api::QueryRow => crate::guard::db::Db::query_row(conn, &s.sql, &s.params).map(|_| ()),
            Api::Connection => Ok(()),
        };
        if let Some(t) = start {
            spent += t.elapsed();
        }
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK TO raw; RELEASE raw")?;
        }
    }
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    Ok(spent)
}

/// `rounds` alternating profiled rounds: the mean breakdown per input.
fn breakdown(
    session: &mut Session,
    raw: &mut Connection,
    p: &dyn Pipeline,
    work: &[Scenario],
    statements: &[StatementCheck],
    rounds: usize,
) -> crate::Result<Parts> {
    let (mut sum, mut raw_exec, mut total) = (Breakdown::default(), 0.0, 0.0);
    let profiling = |session: &mut Session, on: bool| -> crate::Result<Breakdown> {
        let guard = session.guard().ok_or_else(|| {
            crate::Error::Usage("the checking-cost breakdown is measured on SQLite only".into())
        })?;
        guard.set_profiling(on);
        Ok(guard.take_profile())
    };
    for _ in 0..rounds {
        profiling(session, true)?;
        let (r, t) = time(|| checked_round(session, p, work));
        let b = profiling(session, false)?;
        r?;
        total += t.as_secs_f64();
        sum.template_s += b.template_s;
        sum.static_s += b.static_s;
        sum.savepoints_s += b.savepoints_s;
        sum.execute_s += b.execute_s;
        sum.verdict_s += b.verdict_s;
        sum.undo_s += b.undo_s;
        raw_exec += raw_round(raw, statements, true)?.as_secs_f64();
    }
    let per = |s: f64| s * 1e6 / (rounds * work.len()) as f64;
    let parts = [
        sum.template_s,
        sum.static_s,
        sum.savepoints_s,
        sum.execute_s,
        sum.verdict_s,
        sum.undo_s,
    ];
    let sqlite = raw_exec.min(sum.execute_s);
    Ok(Parts {
        template_us: per(sum.template_s),
        static_us: per(sum.static_s),
        savepoints_us: per(sum.savepoints_s),
        sqlite_us: per(sqlite),
        capture_us: per(sum.execute_s - sqlite),
        verdict_us: per(sum.verdict_s),
        undo_us: per(sum.undo_s),
        other_us: per((total - parts.iter().sum::<f64>()).max(0.0)),
        total_us: per(total),
    })
}

/// The scenarios run by `p` on a fresh plain fixture, each input rolled back.
fn raw_scenarios(p: &dyn Pipeline, work: &[Scenario]) -> crate::Result<()> {
    let mut conn = plain_fixture(p.harness())?;
    for s in work {
        conn.execute_batch("BEGIN")?;
        for op in &s.ops {
            // A failing op is part of the workload, as in the engine.
            let _ = p.run(op, &mut conn);
        }
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
    }
    Ok(())
}

/// The built-in engine on `work` (as seeds) against the raw-scenario ceiling.
/// The harness's fixture on a plain in-memory connection.
pub(super) fn plain_fixture(domain: &dyn Domain) -> crate::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    (domain.fixture().sqlite)(&conn)?;
    Ok(conn)
}

fn engine_ceiling(
    p: &'static dyn Pipeline,
    work: &[Scenario],
    rounds: usize,
) -> crate::Result<EngineCeiling> {
    let name = p.name();
    let mut cfg = engine::Config::new(p);
    cfg.seeds = work.iter().map(Scenario::to_json).collect();
    cfg.runs = Some(work.len() as u64);
    cfg.save_corpus = false;
    let stop = AtomicBool::new(false);
    let (mut engine_t, mut raw_t) = (Vec::new(), Vec::new());
    let (mut engine_s, mut raw_s) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let (summary, s) = measure(Scope::Process, &Server::None, || engine::run(&cfg, &stop));
        summary?;
        engine_t.push(s.wall);
        engine_s.push(s);
        let (r, s) = measure(Scope::Process, &Server::None, || raw_scenarios(p, work));
        r?;
        raw_t.push(s.wall);
        raw_s.push(s);
    }
    let n = work.len() as f64;
    let engine_execs_per_s = n / median(&mut engine_t).as_secs_f64().max(1e-9);
    let raw_scenarios_per_s = n / median(&mut raw_t).as_secs_f64().max(1e-9);
    Ok(EngineCeiling {
        pipeline: name.to_string(),
        inputs: work.len(),
        engine_execs_per_s,
        raw_scenarios_per_s,
        fraction: engine_execs_per_s / raw_scenarios_per_s,
        cost: Comparison::of(&engine_s, &Server::None, &raw_s, &Server::None, work.len()),
    })
}

/// Measures `pipelines` on `inputs` scenarios for `rounds` alternating rounds.
pub fn run(
    harness: &'static dyn Domain,
    pipelines: &[&str],
    inputs: usize,
    rounds: usize,
    seed: u64,
    database: Option<&PgOptions>,
) -> crate::Result<Throughput> {
    let work = workload(harness, seed, inputs);
    let mut results = Vec::new();
    for name in pipelines {
        let p = harness.pipeline(name)?;
        let mut session = Session::open(harness, database)?;
        let statements = checked_round(&mut session, p, &work)?; // warm-up, and the raw workload
        let (mut checked_s, mut raw_s) = (Vec::new(), Vec::new());
        let (mut checked_server, mut raw_server) = (Server::None, Server::None);
        let breakdown = match database {
            None => {
                let mut raw = plain_fixture(harness)?;
                for _ in 0..rounds.max(1) {
                    let (r, s) = measure(Scope::Thread, &Server::None, || {
                        checked_round(&mut session, p, &work)
                    });
                    r?;
                    checked_s.push(s);
                    let (r, s) = measure(Scope::Thread, &Server::None, || {
                        raw_round(&mut raw, &statements, false)
                    });
                    r?;
                    raw_s.push(s);
                }
                Some(breakdown(
                    &mut session,
                    &mut raw,
                    p,
                    &work,
                    &statements,
                    rounds.max(1),
                )?)
            }
            Some(options) => {
                let fixture = harness.fixture();
                let kind = BackendKind::of_url(&options.url);
                let sql = match kind {
                    BackendKind::Mysql => fixture.mysql,
                    _ => fixture.postgres,
                };
                let sql = sql.ok_or_else(|| {
                    crate::Error::Usage(format!(
                        "harness `{}` has no {kind} fixture",
                        harness.name()
                    ))
                })?;
                let mut raw: Box<dyn crate::guard::Db> = match kind {
                    BackendKind::Mysql => Box::new(MyRaw::open(options, &sql)?),
                    _ => Box::new(PgRaw::open(options, &sql)?),
                };
                let local = |pids: Vec<u32>| match kind {
                    BackendKind::Mysql if pids.is_empty() => Server::Unavailable(
                        "MariaDB names no thread of a session while performance_schema is off"
                            .into(),
                    ),
                    _ => Server::local(&options.url, pids),
                };
                checked_server = local(session_pids(&mut session));
                raw_server = local(backend_pid(raw.as_mut(), kind));
                for _ in 0..rounds.max(1) {
                    let (r, s) = measure(Scope::Thread, &checked_server, || {
                        checked_round(&mut session, p, &work)
                    });
                    r?;
                    checked_s.push(s);
                    let (r, s) = measure(Scope::Thread, &raw_server, || {
                        server_raw_round(raw.as_mut(), &statements)
                    });
                    r?;
                    raw_s.push(s);
                }
                None
            }
        };
        let mut checked_t: Vec<Duration> = checked_s.iter().map(|s| s.wall).collect();
        let mut raw_t: Vec<Duration> = raw_s.iter().map(|s| s.wall).collect();
        let cost = Comparison::of(
            &checked_s,
            &checked_server,
            &raw_s,
            &raw_server,
            statements.len(),
        );
        let n = statements.len() as f64;
        let checked_per_s = n / median(&mut checked_t).as_secs_f64().max(1e-9);
        let raw_per_s = n / median(&mut raw_t).as_secs_f64().max(1e-9);
        results.push(PipelineThroughput {
            pipeline: name.to_string(),
            statements: statements.len(),
            checked_per_s,
            raw_per_s,
            ratio: raw_per_s / checked_per_s,
            breakdown,
            cost,
        });
    }
    // The engine's ceiling on the harness's correct version, when measured.
    let safe = harness.pipelines().first().copied();
    let engine = match safe.filter(|s| pipelines.contains(&s.name()) && database.is_none()) {
        Some(safe) => Some(engine_ceiling(safe, &work, rounds)?),
        None => None,
    };
    Ok(Throughput {
        database: database.map_or("sqlite", |d| BackendKind::of_url(&d.url).as_str()),
        ratio: results.iter().map(|r| r.ratio).fold(0.0, f64::max),
        pipelines: results,
        engine,
        inputs,
        rounds,
    })
}

/// The server processes behind a checked session's connections.
fn session_pids(session: &mut Session) -> Vec<u32> {
    if let Some(g) = session.postgres_guard() {
        g.backend_pids()
    } else if let Some(g) = session.mysql_guard() {
        g.server_threads()
    } else {
        Vec::new()
    }
}

/// The server process behind a raw connection: PostgreSQL's backend, or
/// MariaDB's connection thread when `performance_schema` names it.
fn backend_pid(raw: &mut dyn crate::guard::Db, kind: BackendKind) -> Vec<u32> {
    let sql = match kind {
        BackendKind::Mysql => {
            "SELECT THREAD_OS_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()"
        }
        _ => "SELECT pg_backend_pid()",
    };
    match raw.query_row(sql, &[]).ok().as_deref() {
        Some([crate::guard::Value::Integer(p)]) => vec![*p as u32],
        _ => Vec::new(),
    }
}

/// One raw round on the server (PostgreSQL or MariaDB/MySQL, the same SQL):
/// the input's transaction, each statement in a savepoint rolled back after
/// it (an error aborts only the savepoint).
fn server_raw_round(
    raw: &mut dyn crate::guard::Db,
    statements: &[StatementCheck],
) -> crate::Result<()> {
    raw.execute_batch("BEGIN")?;
    for s in statements {
        raw.execute_batch("SAVEPOINT raw")?;
        // Errors are part of the workload (legacy's broken SQL): same as checked.
        let _ = match s.api {
            Api::Execute => raw.execute(&s.sql, &s.params).map(|_| ()),
            Api::ExecuteBatch => raw.execute_batch(&s.sql),
            Api::QueryRow => raw.query_row(&s.sql, &s.params).map(|_| ()),
            Api::Connection => Ok(()),
        };
        raw.execute_batch("ROLLBACK TO SAVEPOINT raw; RELEASE SAVEPOINT raw")?;
    }
    Ok(raw.execute_batch("ROLLBACK")?)
}

//! `rowguard bench tripwire`: what the production tripwire costs a clean
//! write. One operation = the harness's example operation (or `--op`, e.g.
//! the one-row update `{"op":"edit-notes","id":7,"notes":""}`), run by its
//! correct version, on a target row that changes every operation and with a
//! new text in its first text field; the tripwire side runs it through
//! [`Tripwire::run`]/[`PgTripwire::run`] with the operation's policy (built
//! per operation, as an application does); the raw side runs the same
//! version on a plain connection in one transaction (`BEGIN` .. `COMMIT`),
//! every statement prepared once and reused as the tripwire's are.
//! Each side has its own copy of the fixture (the raw side has no trigger
//! at all). Rounds alternate
//! sides; the median round of each is reported; `ratio` = tripwire time over
//! raw time (lower is better).
//!
//! SQLite: two database files in the system temp folder, WAL with
//! `synchronous = NORMAL` on both (a common production setting, where a
//! commit does not wait for fsync, so the tripwire's own work is what shows).
//! PostgreSQL: two databases rowguard creates and drops ([`PgRaw`]), the
//! tripwire installed on one; the server's own commit settings; the raw
//! side caches with [`PgRaw::cache_statements`], so neither side pays a
//! parse round trip.
//!
//! Beside wall time ([`super::cost`]): each side's client CPU and waits,
//! read around every operation outside its timed part, and on a local
//! PostgreSQL each side's backend CPU per round. [`SqliteSide`] is the
//! SQLite tripwire side alone, for `bench instructions`.

use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use super::cost::{is_local, Comparison, Mark, Pinned, Sample, Scope, Server};
use super::{median, time};
use crate::guard::db::row_values;
use crate::guard::postgres::{PgOptions, PgRaw};
use crate::guard::tripwire::{PgTripwire, Tripwire};
use crate::guard::{BackendKind, Db, DbError, ErrorClass, Policy, Value};
use crate::harness::domain::{Domain, OpValue, Pipeline};
use crate::harness::ops;

#[derive(Debug, Clone, Serialize)]
pub struct TripwireCost {
    pub database: String,
    pub operations: usize,
    pub rounds: usize,
    /// Median microseconds of one operation.
    pub tripwire_us: f64,
    pub raw_us: f64,
    /// `tripwire_us / raw_us`: what a typical operation pays.
    pub ratio: f64,
    /// Mean microseconds per operation (every operation, the rare ones that
    /// meet a WAL checkpoint or a server hiccup included).
    pub tripwire_mean_us: f64,
    pub raw_mean_us: f64,
    /// `tripwire_mean_us / raw_mean_us`: the throughput cost.
    pub mean_ratio: f64,
    /// Per operation, both sides (`checked` is the tripwire side): wall,
    /// client CPU, round trips and, on a local server, its backend's CPU,
    /// each over rounds (min, median, max).
    pub cost: Comparison,
}

/// The operations one round runs: the example moved to `rows` target rows
/// in turn, each with its policy (read once from the fixture, as the
/// application knows what it is about to write).
struct Work {
    pipeline: &'static dyn Pipeline,
    ops: Vec<(OpValue, Policy)>,
}

impl Work {
    fn new(
        harness: &'static dyn Domain,
        example: &OpValue,
        fixture: &mut dyn Db,
        operations: usize,
    ) -> crate::Result<Work> {
        let pipeline = harness.safe()?;
        let example = example.clone();
        let policy = harness.policy(&example, fixture).map_err(failed)?;
        let key = match policy.keys.first() {
            Some(Value::Integer(k)) => *k,
            _ => return Err(failed("the example operation has no integer target key")),
        };
        // the target rows: the keys the fixture holds, from 1 up, at most 240
        let mut rows = Vec::new();
        for k in 1..=240i64 {
            let mut op = example.clone();
            ops::replace_number(&mut op, key, k);
            let p = harness.policy(&op, fixture).map_err(failed)?;
            // the tripwire's databases (SQLite, PostgreSQL) quote alike
            let q = |s: &str| BackendKind::Sqlite.quote_ident(s);
            let sql = format!(
                "SELECT 1 FROM {} WHERE {} = ?1",
                q(&p.table),
                q(&p.key_column)
            );
            if fixture.query_row(&sql, &[Value::Integer(k)]).is_ok() {
                rows.push(k);
            }
        }
        if rows.is_empty() {
            return Err(failed("no target row in the fixture"));
        }
        let mut out = Vec::with_capacity(operations);
        for i in 0..operations {
            let mut op = example.clone();
            ops::replace_number(&mut op, key, rows[i % rows.len()]);
            if let Some(t) = ops::text_mut(harness, &mut op, 0) {
                *t = format!("bench note {i}");
            }
            let policy = harness.policy(&op, fixture).map_err(failed)?;
            out.push((op, policy));
        }
        Ok(Work { pipeline, ops: out })
    }

    /// Operation `i` in its own transaction, on a plain connection.
    fn raw(&self, i: usize, db: &mut dyn Db) -> crate::Result<()> {
        db.execute("BEGIN", &[]).map_err(failed)?;
        self.pipeline.run(&self.ops[i].0, db).map_err(failed)?;
        db.execute("COMMIT", &[]).map_err(failed)?;
        Ok(())
    }
}

/// A plain SQLite connection whose statements are prepared once and
/// reused (`prepare_cached`), as the tripwire's are: the raw side pays no
/// parse the tripwire does not.
struct Cached(Connection);

impl Db for Cached {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let mut s = self.0.prepare_cached(sql)?;
        Ok(s.execute(rusqlite::params_from_iter(params))?)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let mut s = self.0.prepare_cached(sql)?;
        Ok(s.query_row(rusqlite::params_from_iter(params), row_values)?)
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Measures `operations` per round, `rounds` rounds per side.
pub fn run(
    harness: &'static dyn Domain,
    op: Option<&OpValue>,
    operations: usize,
    rounds: usize,
    database: Option<&PgOptions>,
    native_capture: Option<&str>,
) -> crate::Result<TripwireCost> {
    let example = match op {
        Some(op) => {
            harness.check(op).map_err(|e| {
                crate::Error::Usage(format!(
                    "--op is not an operation of `{}`: {e}",
                    harness.name()
                ))
            })?;
            op.clone()
        }
        None => harness.example(),
    };
    let ((mut t, mut r, tw_s, raw_s), [tw_server, raw_server], name) = match database {
        None if native_capture.is_some() => {
            return Err(crate::Error::Usage(
                "--native-capture is PostgreSQL's: give --database too".into(),
            ))
        }
        None => sqlite(harness, &example, operations, rounds)?,
        Some(options) => postgres(
            harness,
            &example,
            operations,
            rounds,
            options,
            native_capture,
        )?,
    };
    let mean = |d: &[Duration]| micros(d.iter().sum()) / d.len().max(1) as f64;
    let (t_mean, r_mean) = (mean(&t), mean(&r));
    let (t_med, r_med) = (micros(median(&mut t)), micros(median(&mut r)));
    Ok(TripwireCost {
        database: name,
        operations,
        rounds,
        tripwire_us: t_med,
        raw_us: r_med,
        ratio: t_med / r_med.max(1e-9),
        tripwire_mean_us: t_mean,
        raw_mean_us: r_mean,
        mean_ratio: t_mean / r_mean.max(1e-9),
        cost: Comparison::of(&tw_s, &tw_server, &raw_s, &raw_server, operations),
    })
}

/// Every operation's time (tripwire, raw) and each round's work (tripwire, raw).
type Alternated = (Vec<Duration>, Vec<Duration>, Vec<Sample>, Vec<Sample>);

/// [`Alternated`], each side's server, and the database's name.
type Rounds = (Alternated, [Server; 2], String);

fn failed(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Db(DbError::new(
        ErrorClass::Other,
        format!("tripwire benchmark: {e}"),
    ))
}

/// `rounds` rounds of `operations` operations on each side, the sides
/// alternating operation by operation (which side goes first alternates
/// too), so both meet the same moment of a shared, noisy machine. Returns
/// every operation's time (tripwire, raw) and each round's work per side
/// (client CPU and waits read around each operation, outside its timed
/// part; each side's server processes read at the round's ends).
fn alternate(
    rounds: usize,
    operations: usize,
    servers: [&Server; 2],
    mut raw: impl FnMut(usize) -> crate::Result<()>,
    mut tripwire: impl FnMut(usize) -> crate::Result<()>,
) -> crate::Result<Alternated> {
    let n = rounds * operations;
    let (mut t_ops, mut r_ops) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let marks = servers.map(|s| Mark::now(Scope::Thread, s));
        let mut sums = [Sample::default(); 2];
        for i in 0..operations {
            for side in [(round + i) % 2, (round + i + 1) % 2] {
                let mark = Mark::now(Scope::Thread, &Server::None);
                let (res, d) = if side == 0 {
                    time(|| raw(i))
                } else {
                    time(|| tripwire(i))
                };
                let mut s = mark.sample(&Server::None);
                res?;
                s.wall = d;
                sums[side] += s;
                if side == 0 { &mut r_ops } else { &mut t_ops }.push(d);
            }
        }
        for side in 0..2 {
            sums[side].server = marks[side].sample(servers[side]).server;
            samples[side].push(sums[side]);
        }
    }
    let [raw_s, tw_s] = samples;
    Ok((t_ops, r_ops, tw_s, raw_s))
}

fn sqlite(
    harness: &'static dyn Domain,
    example: &OpValue,
    operations: usize,
    rounds: usize,
) -> crate::Result<Rounds> {
    let dir = std::env::temp_dir().join(format!("rowguard-bench-tripwire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let result = (|| {
        let open = |name: &str| -> crate::Result<Connection> {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            let conn = Connection::open(&path)?;
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
            (harness.fixture().sqlite)(&conn)?;
            conn.execute_batch("PRAGMA foreign_keys = ON;")?;
            Ok(conn)
        };
        let mut raw = Cached(open("raw.db")?);
        let work = Work::new(harness, example, &mut raw, operations)?;
        let mut tw = Tripwire::new(open("tripwire.db")?)?;
        let capture = tw.capture();
        let alternated = alternate(
            rounds,
            operations,
            [&Server::None, &Server::None],
            |i| work.raw(i, &mut raw),
            |i| {
                let (op, policy) = &work.ops[i];
                tw.run(policy, |db| work.pipeline.run(op, db))
                    .map_err(failed)
            },
        )?;
        let name = format!("sqlite (WAL, synchronous=NORMAL; capture: {capture})");
        Ok((alternated, [Server::None, Server::None], name))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The tripwire side alone on SQLite, as [`run`] builds it (a WAL file in
/// the system temp folder, deleted on drop), running the harness's example
/// operation, for `bench instructions`.
pub struct SqliteSide {
    dir: std::path::PathBuf,
    tw: Tripwire,
    work: Work,
}

impl SqliteSide {
    pub fn open(harness: &'static dyn Domain, operations: usize) -> crate::Result<SqliteSide> {
        let dir = std::env::temp_dir().join(format!(
            "rowguard-bench-instructions-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let path = dir.join("tripwire.db");
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        (harness.fixture().sqlite)(&conn)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        let mut fixture = Cached(Connection::open(&path)?);
        let work = Work::new(harness, &harness.example(), &mut fixture, operations)?;
        drop(fixture);
        Ok(SqliteSide {
            dir,
            tw: Tripwire::new(conn)?,
            work,
        })
    }

    /// Operation `i` through the tripwire.
    pub fn run(&mut self, i: usize) -> crate::Result<()> {
        let (op, policy) = &self.work.ops[i % self.work.ops.len()];
        let pipeline = self.work.pipeline;
        self.tw
            .run(policy, |db| pipeline.run(op, db))
            .map_err(failed)
    }
}

impl Drop for SqliteSide {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn postgres(
    harness: &'static dyn Domain,
    example: &OpValue,
    operations: usize,
    rounds: usize,
    options: &PgOptions,
    native_capture: Option<&str>,
) -> crate::Result<Rounds> {
    let sql = harness.fixture().postgres.ok_or_else(|| {
        crate::Error::Usage(format!(
            "harness `{}` has no PostgreSQL fixture",
            harness.name()
        ))
    })?;
    let mut raw_db = PgRaw::open(options, &sql)?;
    // statements prepared once on both sides, as the tripwire does
    raw_db.cache_statements();
    let tw_db = PgRaw::open(options, &sql)?;
    let work = Work::new(harness, example, &mut raw_db, operations)?;
    let mut owner = tw_db.connect()?;
    match native_capture {
        Some(library) => {
            // C functions take a superuser: the server's URL is one
            let mut superuser = tw_db.connect()?;
            superuser
                .batch_execute("RESET ROLE")
                .map_err(|e| rowguard_guard::Error::Postgres(e.to_string()))?;
            PgTripwire::install_native(&mut superuser, "public", library)?
        }
        None => PgTripwire::install(&mut owner, "public")?,
    }
    let mut tw = PgTripwire::new(owner, "public")?;
    let capture = tw.capture().name();
    let tw_pid = tw
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .ok()
        .and_then(|r| r.try_get::<_, i32>(0).ok())
        .map(|p| p as u32);
    let raw_pid = match raw_db.query_row("SELECT pg_backend_pid()", &[]) {
        Ok(v) => match v.as_slice() {
            [Value::Integer(p)] => Some(*p as u32),
            _ => None,
        },
        Err(_) => None,
    };
    let tw_server = Server::local(&options.url, tw_pid.into_iter().collect());
    let raw_server = Server::local(&options.url, raw_pid.into_iter().collect());
    // Both sides' backends and this thread on one CPU, as long as the rounds run.
    let pids: Vec<u32> = tw_pid.into_iter().chain(raw_pid).collect();
    let pinned = match (is_local(&options.url), pids.len()) {
        (true, 2) => Pinned::together(&pids),
        _ => Err("the server is not on this machine".into()),
    };
    let placement = match &pinned {
        Ok(p) => format!("client and both backends pinned to cpu {}", p.cpu),
        Err(why) => format!("unpinned: {why}"),
    };
    let alternated = alternate(
        rounds,
        operations,
        [&raw_server, &tw_server],
        |i| work.raw(i, &mut raw_db),
        |i| {
            let (op, policy) = &work.ops[i];
            tw.run(policy, |db: &mut dyn Db| work.pipeline.run(op, db))
                .map_err(failed)
        },
    )?;
    Ok((
        alternated,
        [tw_server, raw_server],
        format!("postgres (loopback, server defaults; capture: {capture}; {placement})"),
    ))
}

//! `rowguard bench tripwire`: what the production tripwire costs a clean
//! write. One operation = one one-row UPDATE of an appointment's notes with
//! bound parameters; the tripwire side runs it through
//! [`Tripwire::run`]/[`PgTripwire::run`] with the operation's policy (built
//! per operation, as an application does); the raw side runs the same
//! prepared UPDATE on a plain connection in autocommit. Each side has its own
//! copy of the fixture (the raw side has no trigger at all). Rounds alternate
//! sides; the median round of each is reported; `ratio` = tripwire time over
//! raw time (lower is better).
//!
//! SQLite: two database files in the system temp folder, WAL with
//! `synchronous = NORMAL` on both (a common production setting, where a
//! commit does not wait for fsync, so the tripwire's own work is what shows).
//! PostgreSQL: two databases rowguard creates and drops ([`PgRaw`]), the
//! tripwire installed on one; the server's own commit settings.

use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use super::{median, time};
use crate::guard::postgres::{PgOptions, PgRaw};
use crate::guard::tripwire::{PgTripwire, Tripwire};
use crate::guard::{Db, DbError, ErrorClass, Value};
use crate::harness::appointments::appointments_policy;
use crate::harness::{schema, schema_pg};

/// The one-row write both sides run.
const UPDATE: &str = "UPDATE appointments SET notes = ?1, updated_at = ?2 WHERE id = ?3";

#[derive(Debug, Clone, Serialize)]
pub struct TripwireCost {
    pub database: String,
    pub operations: usize,
    pub rounds: usize,
    /// Median microseconds per operation.
    pub tripwire_us: f64,
    pub raw_us: f64,
    pub ratio: f64,
}

fn params(i: usize) -> (i64, Vec<Value>) {
    let id = 1 + (i % schema::DEFAULT_SIZE) as i64;
    let values = vec![
        Value::Text(format!("bench note {i}")),
        Value::Text("2026-12-03 21:00".into()),
        Value::Integer(id),
    ];
    (id, values)
}

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

/// Measures `operations` per round, `rounds` rounds per side.
pub fn run(
    operations: usize,
    rounds: usize,
    database: Option<&PgOptions>,
) -> crate::Result<TripwireCost> {
    let (tripwire, raw, name) = match database {
        None => sqlite(operations, rounds)?,
        Some(options) => postgres(operations, rounds, options)?,
    };
    let (mut t, mut r) = (tripwire, raw);
    let (t, r) = (median(&mut t), median(&mut r));
    Ok(TripwireCost {
        database: name,
        operations,
        rounds,
        tripwire_us: per_op(t, operations),
        raw_us: per_op(r, operations),
        ratio: t.as_secs_f64() / r.as_secs_f64().max(1e-12),
    })
}

type Rounds = (Vec<Duration>, Vec<Duration>, String);

fn failed(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Db(DbError::new(
        ErrorClass::Other,
        format!("tripwire benchmark: {e}"),
    ))
}

/// `rounds` rounds, each the raw side then the tripwire side, timed:
/// (tripwire times, raw times).
fn alternate(
    rounds: usize,
    mut raw: impl FnMut() -> crate::Result<()>,
    mut tripwire: impl FnMut() -> crate::Result<()>,
) -> crate::Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut t_rounds, mut r_rounds) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (res, d) = time(&mut raw);
        res?;
        r_rounds.push(d);
        let (res, d) = time(&mut tripwire);
        res?;
        t_rounds.push(d);
    }
    Ok((t_rounds, r_rounds))
}

fn sqlite(operations: usize, rounds: usize) -> crate::Result<Rounds> {
    let dir = std::env::temp_dir().join(format!("rowguard-bench-tripwire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let result = (|| {
        let open = |name: &str| -> crate::Result<Connection> {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            let conn = Connection::open(&path)?;
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
            schema::build(&conn, schema::DEFAULT_SIZE)?;
            conn.execute_batch("PRAGMA foreign_keys = ON;")?;
            Ok(conn)
        };
        let raw = open("raw.db")?;
        let mut tw = Tripwire::new(open("tripwire.db")?)?;
        let (t_rounds, r_rounds) = alternate(
            rounds,
            || {
                let mut stmt = raw.prepare_cached(UPDATE)?;
                for i in 0..operations {
                    let (_, p) = params(i);
                    stmt.execute(rusqlite::params_from_iter(&p))?;
                }
                Ok(())
            },
            || {
                for i in 0..operations {
                    let (id, p) = params(i);
                    tw.run(&appointments_policy(&[id]), |db| db.execute(UPDATE, &p))
                        .map_err(failed)?;
                }
                Ok(())
            },
        )?;
        Ok((
            t_rounds,
            r_rounds,
            "sqlite (WAL, synchronous=NORMAL)".to_string(),
        ))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn postgres(operations: usize, rounds: usize, options: &PgOptions) -> crate::Result<Rounds> {
    let sql = schema_pg::sql(schema::DEFAULT_SIZE);
    let raw_db = PgRaw::open(options, &sql)?;
    let tw_db = PgRaw::open(options, &sql)?;
    let mut raw = raw_db.connect()?;
    let mut owner = tw_db.connect()?;
    PgTripwire::install(&mut owner, "public")?;
    let mut tw = PgTripwire::new(owner, "public")?;
    let update = UPDATE.replace('?', "$");
    let stmt = raw.prepare(&update).map_err(failed)?;
    let (t_rounds, r_rounds) = alternate(
        rounds,
        || {
            for i in 0..operations {
                let (_, p) = params(i);
                crate::guard::postgres::values::with_bound(&p, |refs| raw.execute(&stmt, refs))
                    .map_err(failed)?;
            }
            Ok(())
        },
        || {
            for i in 0..operations {
                let (id, p) = params(i);
                tw.run(&appointments_policy(&[id]), |db: &mut dyn Db| {
                    db.execute(UPDATE, &p).map(|_| ())
                })
                .map_err(failed)?;
            }
            Ok(())
        },
    )?;
    Ok((
        t_rounds,
        r_rounds,
        "postgres (loopback, server defaults)".to_string(),
    ))
}

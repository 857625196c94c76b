//! Checked time per one-row `safe` statement at growing fixture sizes.
//!
//! For each size, a session over a built-in fixture of that many rows runs
//! the harness's example operation on `safe`, with a new text, on a spread
//! of target rows through the guard (one input per statement, rolled back),
//! and reports the median round's time per statement, with its wall and CPU
//! spread over rounds ([`super::cost`]). `ratio` = largest size over smallest: near 1 when the
//! check costs what the statement changes, not what the database holds.

use std::time::Duration;

use serde::Serialize;

use super::cost::{measure, Scope, Server, Spread};
use super::median;
use crate::guard::Value;
use crate::harness::execute::{execute, policy_of, Session};
use crate::harness::ops;
use crate::harness::scenario::Scenario;

#[derive(Debug, Clone, Serialize)]
pub struct Size {
    /// Rows of the target table (its JSON key is the built-in harness's).
    #[serde(rename = "appointments")]
    pub rows: usize,
    pub ns_per_statement: f64,
    /// Wall and CPU nanoseconds per statement over rounds (min, median, max).
    pub wall_ns: Spread,
    pub cpu_ns: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    pub sizes: Vec<Size>,
    pub ratio: f64,
    /// Largest size over smallest in median CPU time.
    pub cpu_ratio: f64,
    pub statements_per_round: usize,
    pub rounds: usize,
}

fn round(session: &mut Session, size: usize, statements: usize) -> crate::Result<()> {
    let harness = session.harness();
    let safe = harness.safe()?;
    let example = harness.example();
    let key = match policy_of(session, &example)?.keys.first() {
        Some(Value::Integer(k)) => *k,
        _ => return Err(crate::Error::Usage("the example has no integer key".into())),
    };
    for i in 0..statements {
        let id = 1 + (i * 7919) % size;
        let mut op = example.clone();
        ops::replace_number(&mut op, key, id as i64);
        if let Some(t) = ops::text_mut(harness, &mut op, 0) {
            *t = format!("call back re: visit {i}");
        }
        let e = execute(session, safe, &Scenario::of(vec![op]))?;
        debug_assert!(e.is_clean());
    }
    Ok(())
}

pub fn run(
    harness: &dyn crate::harness::domain::Domain,
    sizes: &[usize],
    statements: usize,
    rounds: usize,
) -> crate::Result<Scaling> {
    let mut out = Vec::new();
    for &size in sizes {
        let mut session = Session::resized(harness, size)?;
        round(&mut session, size, statements.min(100))?; // warm-up
        let mut times: Vec<Duration> = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..rounds.max(1) {
            let (r, s) = measure(Scope::Thread, &Server::None, || {
                round(&mut session, size, statements)
            });
            r?;
            times.push(s.wall);
            cpu.push(s.cpu.as_nanos() as f64 / statements as f64);
        }
        let wall: Vec<f64> = times
            .iter()
            .map(|t| t.as_nanos() as f64 / statements as f64)
            .collect();
        out.push(Size {
            rows: size,
            ns_per_statement: median(&mut times).as_nanos() as f64 / statements as f64,
            wall_ns: Spread::of(&wall),
            cpu_ns: Spread::of(&cpu),
        });
    }
    let ratio = match (out.first(), out.last()) {
        (Some(a), Some(b)) if a.ns_per_statement > 0.0 => b.ns_per_statement / a.ns_per_statement,
        _ => 0.0,
    };
    let cpu_ratio = match (out.first(), out.last()) {
        (Some(a), Some(b)) if a.cpu_ns.median > 0.0 => b.cpu_ns.median / a.cpu_ns.median,
        _ => 0.0,
    };
    Ok(Scaling {
        sizes: out,
        ratio,
        cpu_ratio,
        statements_per_round: statements,
        rounds,
    })
}

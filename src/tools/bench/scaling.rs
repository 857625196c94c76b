//! Checked time per one-row `safe` statement at growing fixture sizes.
//!
//! For each size, a session over that many appointments runs the `safe`
//! edit-notes statement on a spread of target rows through the guard (one
//! input per statement, rolled back), and reports the median round's time
//! per statement. `ratio` = largest size over smallest: near 1 when the
//! check costs what the statement changes, not what the database holds.

use std::time::Duration;

use serde::Serialize;

use super::{median, time};
use crate::harness::execute::{execute, Session};
use crate::harness::pipeline::{self, Op};
use crate::harness::scenario::Scenario;

#[derive(Debug, Clone, Serialize)]
pub struct Size {
    pub appointments: usize,
    pub ns_per_statement: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    pub sizes: Vec<Size>,
    pub ratio: f64,
    pub statements_per_round: usize,
    pub rounds: usize,
}

fn round(session: &mut Session, size: usize, statements: usize) -> crate::Result<()> {
    let safe = pipeline::by_name("safe")?;
    for i in 0..statements {
        let id = 1 + (i * 7919) % size;
        let op = Op::EditNotes {
            id: id as i64,
            notes: format!("call back re: visit {i}"),
        };
        let e = execute(session, safe, &Scenario { ops: vec![op] })?;
        debug_assert!(e.is_clean());
    }
    Ok(())
}

pub fn run(sizes: &[usize], statements: usize, rounds: usize) -> crate::Result<Scaling> {
    let mut out = Vec::new();
    for &size in sizes {
        let mut session = Session::with_size(size)?;
        round(&mut session, size, statements.min(100))?; // warm-up
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..rounds.max(1) {
            let (r, t) = time(|| round(&mut session, size, statements));
            r?;
            times.push(t);
        }
        out.push(Size {
            appointments: size,
            ns_per_statement: median(&mut times).as_nanos() as f64 / statements as f64,
        });
    }
    let ratio = match (out.first(), out.last()) {
        (Some(a), Some(b)) if a.ns_per_statement > 0.0 => b.ns_per_statement / a.ns_per_statement,
        _ => 0.0,
    };
    Ok(Scaling {
        sizes: out,
        ratio,
        statements_per_round: statements,
        rounds,
    })
}

//! `rowguard bench`: the benchmarks of DESIGN.md. Each measures both sides in
//! the same run on the same machine, alternating them round by round, so the
//! ratio holds on a noisy machine. Benchmarks report numbers; tests never
//! time anything.
//!
//! - [`throughput`]: checked statements per second (the fuzz loop's path:
//!   pipeline, template run, static + dynamic checks) against the same
//!   statements executed raw through the same `Db` API, each in a rolled-back
//!   savepoint.
//! - [`scaling`]: checked time per one-row `safe` statement at growing fixture
//!   sizes (the built-in harness: the one whose fixture has a size): the
//!   cost must follow the rows changed, not the database.
//! - [`tripwire`]: a one-row UPDATE through the production tripwire against
//!   the same UPDATE raw, on SQLite and PostgreSQL.
//! - [`watch`]: code with its own client, judged at the database, against
//!   the same code on the same database without capture.
//! - [`cost`]: what each side did beside its wall time (client and server
//!   CPU, round trips) and every figure's spread over rounds.
//! - [`instructions`]: callgrind instruction counts of the in-process hot
//!   paths, and the regression gate against `.ci/cost-baseline.json`.

use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use serde::Serialize;

use crate::harness::domain::Domain;
use crate::harness::rng::Rng;
use crate::harness::scenario::{Scenario, MAX_OPS};

pub mod cost;
pub mod detect;
pub mod instructions;
pub mod libfuzzer;
pub mod scaling;
pub mod throughput;
pub mod tripwire;
pub mod watch;

/// A deterministic workload: `n` non-empty scenarios of `harness`
/// generated from `seed` by the same generator the fuzzers use.
pub fn workload(harness: &dyn Domain, seed: u64, n: usize) -> Vec<Scenario> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let bytes: Vec<u8> = (0..64 + rng.next_u64() % 448)
            .map(|_| rng.next_u64() as u8)
            .collect();
        let mut u = Unstructured::new(&bytes);
        let ops = (0..1 + rng.next_u64() as usize % MAX_OPS)
            .map_while(|_| harness.generate(&mut u).ok())
            .collect::<Vec<_>>();
        if !ops.is_empty() {
            out.push(Scenario { ops });
        }
    }
    out
}

/// Median of a list of durations (the list is sorted in place).
pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Times `f` once.
pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Machine facts printed beside every table.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub profile: &'static str,
}

impl Machine {
    pub fn here() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

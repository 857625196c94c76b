//! Where a checked input's time goes: an opt-in stopwatch per part of the
//! guard's work, read by `rowguard bench throughput`. Off by default, and
//! then it costs one branch per part (no clock read), so the fuzz loop and
//! the benchmark's ratio rounds never pay for it. It never changes a verdict.

use std::cell::Cell;
use std::time::Instant;

use serde::Serialize;

/// The parts of the guard's work that are timed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    /// The placeholder run's calls (template shapes, unchecked reads).
    Template,
    /// Static layer: compiled text, memoized view, shape comparison.
    Static,
    /// The input's transaction (open and roll back).
    Savepoints,
    /// Preparing and running the statement under the hooks; the capture
    /// triggers fire inside it.
    Execute,
    /// Reading the change log, comparing with the policy, the blast radius.
    Verdict,
    /// Building the undo statements of a finding.
    Undo,
}

const PARTS: usize = 6;

/// Accumulated nanoseconds per part (interior mutability: `shape_of` and
/// `query_unchecked` take `&self`).
#[derive(Default)]
pub(crate) struct Profile {
    on: Cell<bool>,
    ns: [Cell<u64>; PARTS],
}

/// Seconds spent per part since profiling was switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// The placeholder (template) run and its unchecked reads.
    pub template_s: f64,
    /// The static layer (sqlparser, shapes, limits).
    pub static_s: f64,
    /// Opening and rolling back the input's transaction.
    pub savepoints_s: f64,
    /// Statement execution under the guard (SQLite's own work plus the change capture).
    pub execute_s: f64,
    /// Reading the change log and judging it against the policy.
    pub verdict_s: f64,
    /// Building the undo statements of the blast radius.
    pub undo_s: f64,
}

impl Profile {
    pub(crate) fn set(&self, on: bool) {
        self.on.set(on);
    }

    /// A start time when profiling is on.
    pub(crate) fn start(&self) -> Option<Instant> {
        self.on.get().then(Instant::now)
    }

    /// Adds the time since `start` to `part`.
    pub(crate) fn add(&self, part: Part, start: Option<Instant>) {
        if let Some(t) = start {
            let c = &self.ns[part as usize];
            c.set(c.get().wrapping_add(t.elapsed().as_nanos() as u64));
        }
    }

    /// Moves the time since `start` from `from` to `to` (a sub-part timed inside another).
    pub(crate) fn carve(&self, from: Part, to: Part, start: Option<Instant>) {
        if let Some(t) = start {
            let ns = t.elapsed().as_nanos() as u64;
            let f = &self.ns[from as usize];
            // wrapping: the enclosing part's own time is added after its sub-part's
            f.set(f.get().wrapping_sub(ns));
            let c = &self.ns[to as usize];
            c.set(c.get().wrapping_add(ns));
        }
    }

    /// The accumulated times, reset to zero.
    pub(crate) fn take(&self) -> Breakdown {
        let s = |p: Part| self.ns[p as usize].take() as f64 / 1e9;
        Breakdown {
            template_s: s(Part::Template),
            static_s: s(Part::Static),
            savepoints_s: s(Part::Savepoints),
            execute_s: s(Part::Execute),
            verdict_s: s(Part::Verdict),
            undo_s: s(Part::Undo),
        }
    }
}

//! The discovery time series of a run (what afl-plot draws): executions
//! against distinct statement shapes, corpus size and findings, at a bounded
//! number of points whatever the run's length.
//!
//! Contract: [`Series`] keeps at most [`MAX_POINTS`] points. It samples every
//! `stride` executions; when the buffer is full it drops every other point
//! and doubles the stride, so the points stay evenly spread over the whole
//! run (a run of 100 executions and one of 100 million both give at most
//! `MAX_POINTS` points). The last point of a run is always its final state.

use serde::{Deserialize, Serialize};

/// Points a series holds at most.
pub const MAX_POINTS: usize = 256;

/// The state of a run after `execs` executions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub execs: u64,
    pub elapsed_s: f64,
    /// Distinct statement shapes seen so far.
    pub shapes: usize,
    /// Inputs in the in-memory corpus.
    pub corpus: usize,
    /// Distinct findings so far.
    pub findings: usize,
}

/// A bounded, evenly thinned series of [`Point`]s.
#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<Point>,
    stride: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            points: Vec::with_capacity(MAX_POINTS),
            stride: 1,
        }
    }
}

impl Series {
    /// Offers the state after `p.execs` executions; kept when on the stride.
    pub fn offer(&mut self, p: Point) {
        if p.execs % self.stride != 0 {
            return;
        }
        if self.points.len() == MAX_POINTS {
            // keep the points on the doubled stride: evenly spread again
            self.stride *= 2;
            let stride = self.stride;
            self.points.retain(|q| q.execs % stride == 0);
            if p.execs % stride != 0 {
                return;
            }
        }
        self.points.push(p);
    }

    /// The points, with `last` (the run's final state) appended when it is newer.
    pub fn finish(mut self, last: Point) -> Vec<Point> {
        // with several jobs, points arrive nearly but not exactly in order
        self.points.sort_by_key(|p| p.execs);
        match self.points.last_mut() {
            Some(q) if q.execs == last.execs => *q = last,
            _ => {
                if self.points.len() == MAX_POINTS {
                    self.points.pop();
                }
                self.points.push(last);
            }
        }
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(execs: u64) -> Point {
        Point {
            execs,
            elapsed_s: execs as f64,
            shapes: execs as usize / 3,
            corpus: 0,
            findings: 0,
        }
    }

    #[test]
    fn a_long_run_stays_bounded_and_evenly_spread() {
        let mut s = Series::default();
        for n in 1..=1_000_000 {
            s.offer(point(n));
        }
        let points = s.finish(point(1_000_000));
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert!(points.len() >= MAX_POINTS / 2, "{}", points.len());
        assert_eq!(points.last().unwrap().execs, 1_000_000);
        // even spacing: every gap but the last is the same stride
        let gaps: Vec<u64> = points.windows(2).map(|w| w[1].execs - w[0].execs).collect();
        assert!(gaps[..gaps.len() - 1].iter().all(|g| *g == gaps[0]));
        assert!(points.windows(2).all(|w| w[0].execs < w[1].execs));
    }

    #[test]
    fn a_short_run_keeps_every_point() {
        let mut s = Series::default();
        for n in 1..=10 {
            s.offer(point(n));
        }
        assert_eq!(s.finish(point(10)).len(), 10);
    }
}

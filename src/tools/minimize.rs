//! `rowguard minimize`: the smallest input that still makes the same finding
//! kind on the same pipeline. Greedy passes until nothing changes: drop ops,
//! simplify numbers (to 0, 1, or the harness's example op's),
//! empty or shorten each free-text field (halving chunk
//! sizes, delta-debugging style), then turn each remaining character into a
//! plain `x` where that keeps the kind. Every candidate runs through
//! [`crate::harness::execute::execute`], so the result means the same everywhere.
//!
//! [`minimize_while`] keeps any property of the execution instead of a
//! kind (the fuzz engine keeps a root cause's signature), within a
//! [`Budget`]: past its deadline or its candidate count no candidate is
//! taken, and the best input so far is the result.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::guard::Kind;
use crate::harness::domain::Pipeline;
use crate::harness::execute::{execute, Execution, Session};
use crate::harness::ops;
use crate::harness::scenario::Scenario;

/// Passes over the whole input, at most (each pass only shrinks).
const MAX_PASSES: usize = 8;

/// The kind minimization keeps: the first of the reproducer's `expect` kinds
/// the input still makes, else `write-outside-target` when made, else the
/// first kind made (in [`Kind::ALL`] order).
pub fn target_kind(expect: &[Kind], made: &BTreeSet<Kind>) -> Option<Kind> {
    expect
        .iter()
        .copied()
        .find(|k| made.contains(k))
        .or_else(|| {
            made.contains(&Kind::WriteOutsideTarget)
                .then_some(Kind::WriteOutsideTarget)
        })
        .or_else(|| made.iter().next().copied())
}

/// The result of a minimization.
#[derive(Debug, Clone)]
pub struct Minimized {
    pub scenario: Scenario,
    /// Candidate executions tried.
    pub execs: u64,
}

/// How long a minimization may go on: no bound by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    /// No candidate runs after this instant.
    pub deadline: Option<Instant>,
    /// Candidate executions, at most.
    pub execs: Option<u64>,
}

impl Budget {
    fn spent(&self, execs: u64) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.execs.is_some_and(|max| execs >= max)
    }
}

/// What a candidate must keep: called with the session and the candidate's execution.
pub type Keep<'a> = dyn FnMut(&mut Session, &Execution) -> crate::Result<bool> + 'a;

struct Shrinker<'a, 'k> {
    session: &'a mut Session,
    pipeline: &'a dyn Pipeline,
    keep: &'a mut Keep<'k>,
    budget: Budget,
    execs: u64,
}

impl Shrinker<'_, '_> {
    fn keeps(&mut self, s: &Scenario) -> crate::Result<bool> {
        if self.budget.spent(self.execs) {
            return Ok(false);
        }
        self.execs += 1;
        let e = execute(self.session, self.pipeline, s)?;
        (self.keep)(self.session, &e)
    }

    /// Replaces `best` with `candidate` when it keeps the kind.
    fn try_take(&mut self, best: &mut Scenario, candidate: Scenario) -> crate::Result<bool> {
        if candidate != *best && self.keeps(&candidate)? {
            *best = candidate;
            return Ok(true);
        }
        Ok(false)
    }

    fn drop_ops(&mut self, best: &mut Scenario) -> crate::Result<bool> {
        let mut changed = false;
        let mut i = best.ops.len();
        while i > 0 && best.ops.len() > 1 {
            i -= 1;
            let mut c = best.clone();
            c.ops.remove(i);
            changed |= self.try_take(best, c)?;
        }
        Ok(changed)
    }

    fn simplify_numbers(&mut self, best: &mut Scenario) -> crate::Result<bool> {
        let mut changed = false;
        for i in 0..best.ops.len() {
            for op in ops::simpler(self.pipeline.harness(), &best.ops[i]) {
                let mut c = best.clone();
                c.ops[i] = op;
                if self.try_take(best, c)? {
                    changed = true;
                    break;
                }
            }
        }
        Ok(changed)
    }

    /// `best` with text `j` of op `i` set to `chars`.
    fn with_text(&self, best: &Scenario, i: usize, j: usize, chars: &[char]) -> Scenario {
        let mut c = best.clone();
        if let Some(t) = ops::text_mut(self.pipeline.harness(), &mut c.ops[i], j) {
            *t = chars.iter().collect();
        }
        c
    }

    fn shrink_text(&mut self, best: &mut Scenario, i: usize, j: usize) -> crate::Result<bool> {
        let start: Vec<char> = ops::texts(self.pipeline.harness(), &best.ops[i])
            .get(j)
            .map(|t| t.chars().collect())
            .unwrap_or_default();
        let mut chars = start.clone();
        if chars.is_empty() {
            return Ok(false);
        }
        if self.try_take(best, self.with_text(best, i, j, &[]))? {
            return Ok(true);
        }
        let mut chunk = chars.len().div_ceil(2);
        while chunk >= 1 {
            let mut at = 0;
            while at < chars.len() {
                let mut cut = chars.clone();
                cut.drain(at..(at + chunk).min(chars.len()));
                if self.try_take(best, self.with_text(best, i, j, &cut))? {
                    chars = cut;
                } else {
                    at += chunk;
                }
            }
            chunk /= 2;
        }
        for at in 0..chars.len() {
            if chars[at] != 'x' {
                let mut plain = chars.clone();
                plain[at] = 'x';
                if self.try_take(best, self.with_text(best, i, j, &plain))? {
                    chars = plain;
                }
            }
        }
        Ok(chars != start)
    }
}

/// Shrinks `scenario` while it keeps making `kind` on `pipeline`.
pub fn minimize(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
    kind: Kind,
) -> crate::Result<Minimized> {
    let mut keep = |_: &mut Session, e: &Execution| Ok(e.kinds().contains(&kind));
    minimize_while(session, pipeline, scenario, &mut keep, Budget::default())?.ok_or_else(|| {
        crate::Error::Usage(format!(
            "the input does not make a {kind} finding on {}",
            pipeline.name()
        ))
    })
}

/// Shrinks `scenario` while `keep` holds for its execution, within
/// `budget`; `None` when `scenario` itself does not keep it.
pub fn minimize_while(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
    keep: &mut Keep<'_>,
    budget: Budget,
) -> crate::Result<Option<Minimized>> {
    let mut s = Shrinker {
        session,
        pipeline,
        keep,
        budget: Budget::default(),
        execs: 0,
    };
    let mut best = scenario.clone();
    if !s.keeps(&best)? {
        return Ok(None);
    }
    s.budget = budget;
    for _ in 0..MAX_PASSES {
        let mut changed = s.drop_ops(&mut best)?;
        changed |= s.simplify_numbers(&mut best)?;
        for i in 0..best.ops.len() {
            for j in 0..ops::text_count(pipeline.harness(), &best.ops[i]) {
                changed |= s.shrink_text(&mut best, i, j)?;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(Some(Minimized {
        scenario: best,
        execs: s.execs,
    }))
}

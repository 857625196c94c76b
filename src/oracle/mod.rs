//! One oracle per corpus: what every committed corpus file must satisfy,
//! judged by the same functions in the CI gate, `cargo test` and the fuzz
//! targets, so the gate is exactly as strict as the tests. Above the
//! extension point and the built-in harness: `guard/*` files are judged on
//! the built-in appointments fixture, whatever the harness.
//!
//! | where | rule |
//! |---|---|
//! | `regressions/<pipeline>/*` | still makes its `expect` kinds (always including `write-outside-target`) on `<pipeline>`, and is clean on `safe`; on a database its pipeline's bug does not exist (`Pipeline::databases`), clean on both; on MySQL, a note's `--` without a blank after it (no comment there) is judged with one |
//! | `guard/*` | SQL text for the guard: passes the guard's own oracle ([`guard::check`]: differential, isolation, no file, no commit) and leaves the fixture unchanged (always on SQLite: the oracle compares with raw SQLite) |
//! | anything else (`pipeline/*`) | a seed: clean on `safe` |
//!
//! `safe` is the harness's first (correct) version.
//!
//! A [`Problem`] is a failed rule (the corpus file shows a finding or lost
//! one); an `Err` means the file could not be judged at all.

pub mod guard;

use std::collections::BTreeSet;
use std::path::Path;

use crate::guard::postgres::PgOptions;
use crate::guard::Kind;
use crate::harness::domain::{Domain, Pipeline};
use crate::harness::execute::{execute, Execution, Session};
use crate::harness::scenario::{decode_file, Decoded};

/// What a corpus file must satisfy, from where it sits under the corpus root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `regressions/<pipeline>/...`: a finding on its pipeline, clean on `safe`.
    Regression {
        /// The folder's pipeline name.
        pipeline: String,
    },
    /// `guard/...`: the guard's oracle holds.
    GuardSql,
    /// Anything else: clean on `safe`.
    Seed,
}

impl Rule {
    /// The rule of the file at `rel` (relative to the corpus root).
    pub fn of(rel: &Path) -> Result<Rule, String> {
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [top, name, _, ..] if top == "regressions" => Ok(Rule::Regression {
                pipeline: name.clone(),
            }),
            [top, ..] if top == "regressions" => {
                Err("reproducers belong in regressions/<pipeline>/".to_string())
            }
            [top, ..] if top == "guard" => Ok(Rule::GuardSql),
            _ => Ok(Rule::Seed),
        }
    }
}

/// One broken rule: the kind it is about and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The finding kind made, or the one lost.
    pub kind: Kind,
    /// What happened, naming the file.
    pub message: String,
}

/// Judges corpus files; holds the sessions it reuses between them.
pub struct Judge {
    domain: &'static dyn Domain,
    /// The version seeds must be clean on (default: the harness's first).
    safe: Option<&'static dyn Pipeline>,
    session: Session,
    guard: Option<guard::GuardSession>,
}

impl Judge {
    /// A judge over fresh fixtures of the appointments harness on embedded SQLite.
    pub fn new() -> crate::Result<Judge> {
        Judge::on(crate::appointments::harness(), None)
    }

    /// A judge whose pipelines (of `domain`) run on `database` when given
    /// (`guard/` files stay on SQLite).
    pub fn on(domain: &'static dyn Domain, database: Option<&PgOptions>) -> crate::Result<Judge> {
        Ok(Judge {
            domain,
            safe: None,
            session: Session::open(domain, database)?,
            guard: None,
        })
    }

    /// Judges the bytes of the corpus file `path` under `rule`: the broken
    /// rules, or `Err` when the file could not be judged.
    pub fn judge(
        &mut self,
        rule: &Rule,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Vec<Problem>, String> {
        match rule {
            Rule::Regression { pipeline } => self.regression(path, bytes, pipeline),
            Rule::Seed => {
                let on_safe = self.run(bytes, self.safe()?.name())?;
                Ok(findings_on(path, &on_safe))
            }
            Rule::GuardSql => self.guard_sql(path, bytes),
        }
    }

    /// Judges seeds and reproducers against `safe` instead of the
    /// harness's first version (`gate --pipeline`: the code under test).
    pub fn with_safe(mut self, safe: &'static dyn Pipeline) -> Judge {
        self.safe = Some(safe);
        self
    }

    /// The version everything must be clean on.
    fn safe(&self) -> Result<&'static dyn Pipeline, String> {
        match self.safe {
            Some(p) => Ok(p),
            None => self.domain.safe().map_err(|e| e.to_string()),
        }
    }

    fn run(&mut self, bytes: &[u8], pipeline_name: &str) -> Result<Execution, String> {
        let decoded = decode_as_repro(self.domain, bytes)?;
        let p = self
            .domain
            .pipeline(pipeline_name)
            .map_err(|e| e.to_string())?;
        execute(&mut self.session, p, &decoded.scenario).map_err(|e| e.to_string())
    }

    fn regression(
        &mut self,
        path: &Path,
        bytes: &[u8],
        name: &str,
    ) -> Result<Vec<Problem>, String> {
        let decoded = decode_as_repro(self.domain, bytes)?;
        // `repro FILE` replays a reproducer on the pipeline it names: the
        // corpus must be judged on the same run, so field and folder agree.
        if let Some(named) = decoded.pipeline.as_deref().filter(|n| *n != name) {
            return Err(format!(
                "names pipeline `{named}` but sits under regressions/{name}/ (move it, or fix its \"pipeline\")"
            ));
        }
        let mut expect: BTreeSet<Kind> = decoded.expect.iter().copied().collect();
        expect.insert(Kind::WriteOutsideTarget);
        let on_own = self.run(bytes, name)?;
        let on_safe = self.run(bytes, self.safe()?.name())?;
        let here = self.session.kind().as_str();
        let needs = self
            .domain
            .pipeline(name)
            .map_err(|e| e.to_string())?
            .databases();
        if !needs.is_empty() && !needs.contains(&here) {
            // Its bug exists only on another database: no finding here but
            // `sql-error` (its SQL may be the other database's own syntax,
            // e.g. `series`' `IS (subquery)`), and `safe` clean.
            let mut problems = findings_on(path, &on_own);
            problems.retain(|p| p.kind != Kind::SqlError);
            problems.extend(findings_on(path, &on_safe));
            return Ok(problems);
        }
        let mut made = on_own.kinds();
        // MySQL reads `--` as a comment only with a blank after it: a note
        // ending in `'--` is a syntax error there. Judged as the same note
        // written MySQL's way (a blank after each such `--`).
        if here == "mysql" && !expect.is_subset(&made) {
            if let Some(spaced) = blank_after_dashes(bytes) {
                made = self.run(&spaced, name)?.kinds();
            }
        }
        let mut problems: Vec<Problem> = expect
            .difference(&made)
            .map(|&k| Problem {
                kind: k,
                message: format!(
                    "{} no longer makes {k} on {name} (now: {})",
                    path.display(),
                    on_own.verdict_line()
                ),
            })
            .collect();
        problems.extend(findings_on(path, &on_safe));
        Ok(problems)
    }

    fn guard_sql(&mut self, path: &Path, bytes: &[u8]) -> Result<Vec<Problem>, String> {
        let session = self.guard_session().map_err(|e| e.to_string())?;
        let input = guard::decode(bytes);
        // A broken guard oracle is a bug in the guard, not a finding about
        // the file: the file could not be judged, and the gate fails closed.
        guard::check(session, &input)
            .and_then(|()| session.fixture_unchanged())
            .map_err(|bug| format!("{}: guard oracle: {bug}", path.display()))?;
        Ok(Vec::new())
    }

    /// The guard session `guard/` files run in (built on first use).
    pub fn guard_session(&mut self) -> crate::Result<&mut guard::GuardSession> {
        if self.guard.is_none() {
            self.guard = Some(guard::GuardSession::new()?);
        }
        Ok(self.guard.as_mut().expect("guard session set above"))
    }
}

/// Decodes a corpus file as `rowguard repro` does: a malformed file, or a
/// reproducer naming a pipeline that does not exist, is an error.
fn decode_as_repro(domain: &dyn Domain, bytes: &[u8]) -> Result<Decoded, String> {
    let decoded = decode_file(domain, bytes).map_err(|e| e.to_string())?;
    if let Some(named) = &decoded.pipeline {
        domain.pipeline(named).map_err(|e| e.to_string())?;
    }
    Ok(decoded)
}

/// Every kind `e` made, as problems of the file at `path`.
fn findings_on(path: &Path, e: &Execution) -> Vec<Problem> {
    e.kinds()
        .into_iter()
        .map(|k| Problem {
            kind: k,
            message: format!("{} on {}: {}", path.display(), e.pipeline, e.verdict_line()),
        })
        .collect()
}

/// `bytes` with a blank after every `--` that has none, or `None` when
/// there is no such `--`.
fn blank_after_dashes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    let mut changed = false;
    for (i, &b) in bytes.iter().enumerate() {
        out.push(b);
        let dash_pair =
            b == b'-' && i > 0 && bytes[i - 1] == b'-' && (i < 2 || bytes[i - 2] != b'-');
        if dash_pair && bytes.get(i + 1).is_none_or(|n| !n.is_ascii_whitespace()) {
            out.push(b' ');
            changed = true;
        }
    }
    changed.then_some(out)
}

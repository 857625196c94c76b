//! `rowguard gate`: the CI gate. Replays everything under the corpus folder,
//! then fuzzes `safe` for a time budget, and fails closed.
//!
//! - `regressions/<pipeline>/*`: each reproducer must still make its
//!   `expect` kinds (and always `write-outside-target`) on `<pipeline>`, and
//!   be clean on `safe`;
//! - `guard/*`: SQL text for the guard; the guard must judge it (an internal
//!   error is a failure);
//! - every other file (`pipeline/*`, seeds): clean on `safe`;
//! - then the engine fuzzes `safe` from all of them, every kind counting.
//!
//! The outcome is a list of [`Case`]s (one per corpus file, one for the fuzz
//! run) that `report::junit` and `report::sarif` render. A case that could
//! not be judged (unreadable file, unknown pipeline, a guard error) is an
//! [`Outcome::Error`]: the gate never passes what it could not check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::{corpus, Config, Summary};
use crate::guard::{Guard, Kind};
use crate::pipeline::{self, Db};
use crate::report::verdict_line;
use crate::scenario::decode_file;
use crate::target::{self, Session};
use crate::{schema, Error};

/// One problem the gate found: a rule (finding kind), a message, a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub kind: Kind,
    pub message: String,
    /// The reproducer or artifact that shows it.
    pub path: Option<PathBuf>,
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(Vec<Issue>),
    /// The case could not be judged.
    Error(String),
}

/// One test case: a corpus file or the fuzz run.
#[derive(Debug, Clone)]
pub struct Case {
    /// `corpus` or `fuzz`.
    pub suite: &'static str,
    pub name: String,
    pub file: Option<PathBuf>,
    pub time: Duration,
    pub outcome: Outcome,
}

/// Everything the gate did.
#[derive(Debug, Clone)]
pub struct GateReport {
    pub cases: Vec<Case>,
    pub fuzz: Option<Summary>,
}

impl GateReport {
    pub fn failed(&self) -> bool {
        self.cases
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Failed(_)))
    }

    pub fn errored(&self) -> bool {
        self.cases
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Error(_)))
    }

    /// 0 passed, 1 a finding or lost regression, 2 anything that could not be checked.
    pub fn exit_code(&self) -> u8 {
        if self.errored() {
            2
        } else if self.failed() {
            1
        } else {
            0
        }
    }
}

/// What the gate runs.
#[derive(Debug, Clone)]
pub struct GateConfig {
    pub corpus: PathBuf,
    /// Fuzz budget on `safe`.
    pub time: Duration,
    /// Fuzz executions bound (tests use this instead of time).
    pub runs: Option<u64>,
    pub seed: u64,
    pub jobs: usize,
    /// Where fuzz findings go.
    pub artifacts: Option<PathBuf>,
    /// Words for the fuzz stage (the CLI harvests the project's pipeline
    /// source into it by default).
    pub dictionary: crate::dict::Dictionary,
}

fn issues_on(path: &Path, e: &target::Execution) -> Vec<Issue> {
    e.kinds()
        .into_iter()
        .map(|k| Issue {
            kind: k,
            message: format!("{} on {}: {}", path.display(), e.pipeline, verdict_line(e)),
            path: Some(path.to_path_buf()),
        })
        .collect()
}

fn regression(session: &mut Session, path: &Path, pipeline_name: &str) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let decoded = decode_file(&bytes).map_err(|e| e.to_string())?;
    let own = pipeline::by_name(pipeline_name).map_err(|e| e.to_string())?;
    let mut expect: BTreeSet<Kind> = decoded
        .expect
        .iter()
        .map(|k| k.parse::<Kind>())
        .collect::<Result<_, _>>()?;
    expect.insert(Kind::WriteOutsideTarget);
    let run =
        |s: &mut Session, p| target::execute(s, p, &decoded.scenario).map_err(|e| e.to_string());
    let on_own = run(session, own)?;
    let on_safe = run(
        session,
        pipeline::by_name("safe").map_err(|e| e.to_string())?,
    )?;
    let made = on_own.kinds();
    let mut issues: Vec<Issue> = expect
        .difference(&made)
        .map(|&k| Issue {
            kind: k,
            message: format!(
                "{} no longer makes {k} on {pipeline_name} (now: {})",
                path.display(),
                verdict_line(&on_own)
            ),
            path: Some(path.to_path_buf()),
        })
        .collect();
    issues.extend(issues_on(path, &on_safe));
    Ok(if issues.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(issues)
    })
}

fn seed_clean_on_safe(session: &mut Session, path: &Path) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let decoded = decode_file(&bytes).map_err(|e| e.to_string())?;
    let safe = pipeline::by_name("safe").map_err(|e| e.to_string())?;
    let e = target::execute(session, safe, &decoded.scenario).map_err(|e| e.to_string())?;
    let issues = issues_on(path, &e);
    Ok(if issues.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(issues)
    })
}

fn guard_survives(path: &Path) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let sql = String::from_utf8_lossy(&bytes);
    let conn = schema::open(schema::DEFAULT_SIZE).map_err(|e| e.to_string())?;
    let mut guard = Guard::new(conn, target::appointments_policy(&[schema::DEFAULT_TARGET]))
        .map_err(|e| e.to_string())?;
    guard.begin_input().map_err(|e| e.to_string())?;
    let _ = guard.execute_batch(&sql);
    guard.end_input().map_err(|e| e.to_string())?;
    Ok(Outcome::Passed)
}

/// Replays the corpus folder, one case per file, in path order.
pub fn replay_corpus(dir: &Path) -> crate::Result<Vec<Case>> {
    let mut session = Session::new()?;
    let mut cases = Vec::new();
    for path in corpus::files_under(dir)? {
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let start = Instant::now();
        let result = match parts.as_slice() {
            [top, name, _, ..] if top == "regressions" => regression(&mut session, &path, name),
            [top, ..] if top == "regressions" => {
                Err("reproducers belong in regressions/<pipeline>/".to_string())
            }
            [top, ..] if top == "guard" => guard_survives(&path),
            _ => seed_clean_on_safe(&mut session, &path),
        };
        cases.push(Case {
            suite: "corpus",
            name: rel.display().to_string(),
            file: Some(path.clone()),
            time: start.elapsed(),
            outcome: result.unwrap_or_else(|e| Outcome::Error(format!("{}: {e}", path.display()))),
        });
    }
    Ok(cases)
}

/// Runs the whole gate. `stop` (Ctrl-C) ends the fuzz stage early.
pub fn run(cfg: &GateConfig, stop: &AtomicBool) -> crate::Result<GateReport> {
    if !cfg.corpus.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no corpus folder (run the gate from the project root or pass --corpus)",
            cfg.corpus.display()
        )));
    }
    let mut cases = replay_corpus(&cfg.corpus)?;
    let mut fuzz = Config::new(pipeline::by_name("safe")?);
    fuzz.seed = cfg.seed;
    fuzz.jobs = cfg.jobs;
    fuzz.time = Some(cfg.time);
    fuzz.runs = cfg.runs;
    fuzz.kinds = Kind::ALL.into_iter().collect();
    fuzz.corpus = Some(cfg.corpus.clone());
    fuzz.save_corpus = false;
    fuzz.artifacts = cfg.artifacts.clone();
    fuzz.dictionary = cfg.dictionary.clone();
    fuzz.status = true;
    let name = format!("fuzz safe (seed {}, {} s)", cfg.seed, cfg.time.as_secs());
    let start = Instant::now();
    let (outcome, summary) = match super::run(&fuzz, stop) {
        Ok(s) if s.findings.is_empty() => (Outcome::Passed, Some(s)),
        Ok(s) => {
            let issues = s
                .findings
                .iter()
                .map(|f| Issue {
                    kind: f.kind,
                    message: format!(
                        "{} on safe ({} input(s)) on statement shape {}: {}",
                        f.kind, f.count, f.shape, f.message
                    ),
                    path: f.artifact.clone(),
                })
                .collect();
            (Outcome::Failed(issues), Some(s))
        }
        Err(e) => (Outcome::Error(e.to_string()), None),
    };
    cases.push(Case {
        suite: "fuzz",
        name,
        file: None,
        time: start.elapsed(),
        outcome,
    });
    Ok(GateReport {
        cases,
        fuzz: summary,
    })
}

//! `rowguard gate`: the CI gate. Replays everything under the corpus folder,
//! then fuzzes `safe` for a time budget, and fails closed.
//!
//! - `regressions/<pipeline>/*`: each reproducer must still make its
//!   `expect` kinds (and always `write-outside-target`) on `<pipeline>`, and
//!   be clean on `safe`;
//! - `guard/*`: SQL text for the guard; it must pass the guard's own oracle
//!   (differential, isolation, no file, unchanged fixture);
//! - every other file (`pipeline/*`, seeds): clean on `safe`;
//!   (the rules are [`crate::oracle`]'s, shared with `cargo test`);
//! - then the engine fuzzes `safe` from all of them, every kind counting.
//!
//! Every file is read once ([`crate::tools::input::read_file`]: regular files only,
//! size-capped; a FIFO or device is an error, never opened) and decoded and
//! given a pipeline the way `rowguard repro` does: a reproducer naming an
//! unknown pipeline, or one other than its folder's, is an error naming the
//! file. The bytes read are the fuzz stage's seeds.
//!
//! The outcome is a list of [`Case`]s (one per corpus file, one for the fuzz
//! run) that `report::junit` and `report::sarif` render. A case that could
//! not be judged (unreadable file, unknown pipeline, a guard error) is an
//! [`Outcome::Error`]: the gate never passes what it could not check. An
//! interrupted gate (the `stop` flag: SIGINT, SIGTERM, SIGHUP) stops where it
//! is, keeps every finding made so far, and ends with an `Error` case saying
//! what was not done, so it exits 2 (1 with a finding), never 0.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::engine::{self, corpus, Config, Summary};
use crate::guard::Kind;
use crate::harness::domain::Domain;
use crate::oracle::{Judge, Rule};
use crate::Error;

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
    /// The version gated: seeds judged clean on it, the fuzz stage ran it.
    pub pipeline: String,
    pub cases: Vec<Case>,
    pub fuzz: Option<Summary>,
    /// The stop flag ended the gate before it finished: the reports are incomplete.
    pub interrupted: bool,
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

    /// 1 a finding or lost regression (even when something else could not
    /// be checked: a finding is never hidden), else 2 anything that could not
    /// be checked or an interruption, else 0 passed.
    pub fn exit_code(&self) -> u8 {
        if self.failed() {
            1
        } else if self.errored() || self.interrupted {
            2
        } else {
            0
        }
    }
}

/// What the gate runs.
#[derive(Clone)]
pub struct GateConfig {
    /// The harness whose corpus and code are gated.
    pub harness: &'static dyn Domain,
    /// The version under test (default: the harness's first, `safe`).
    pub pipeline: Option<String>,
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
    pub dictionary: crate::tools::dict::Dictionary,
    /// Replay and fuzz on this PostgreSQL server instead of SQLite.
    pub database: Option<crate::guard::postgres::PgOptions>,
}

/// Replays the corpus folder, one case per file, in path order, each judged
/// by `judge` ([`crate::oracle`]: exactly what `cargo test` judges
/// it by); its sessions are reused.
pub fn replay_corpus_with(judge: &mut Judge, dir: &Path) -> crate::Result<Vec<Case>> {
    Ok(replay(judge, dir, &AtomicBool::new(false))?.cases)
}

/// What the replay stage did.
struct Replayed {
    cases: Vec<Case>,
    /// The bytes of every file read: the fuzz stage's seeds.
    seeds: Vec<Vec<u8>>,
    /// Files not replayed because `stop` was set.
    skipped: usize,
    /// The folder could not be listed: nothing was replayed.
    unlisted: bool,
}

fn replay(judge: &mut Judge, dir: &Path, stop: &AtomicBool) -> crate::Result<Replayed> {
    let mut out = Replayed {
        cases: Vec::new(),
        seeds: Vec::new(),
        skipped: 0,
        unlisted: false,
    };
    let files = match corpus::files_under(dir) {
        Ok(files) => files,
        // a signal while listing: an incomplete gate with its report, not a bare error
        // a folder that cannot be listed (a signal, more files than the walk
        // takes, a link into /proc): an error case, and the reports are written
        Err(e) => {
            out.cases.push(Case {
                suite: "corpus",
                name: dir.display().to_string(),
                file: None,
                time: Duration::ZERO,
                outcome: Outcome::Error(e.to_string()),
            });
            out.unlisted = true;
            let signal = stop.load(Ordering::SeqCst) || crate::guard::interrupt::requested();
            out.skipped = usize::from(signal);
            return Ok(out);
        }
    };
    let mut seed_bytes = 0u64;
    for (i, path) in files.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            out.skipped = files.len() - i;
            break;
        }
        let rel = path.strip_prefix(dir).unwrap_or(path).to_path_buf();
        let start = Instant::now();
        let result = crate::tools::input::read_file(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let judged = Rule::of(&rel).and_then(|rule| judge.judge(&rule, path, &bytes));
                // every file is judged; the fuzz stage's seeds are bounded in all
                seed_bytes += bytes.len() as u64;
                if seed_bytes <= corpus::MAX_SEED_BYTES {
                    out.seeds.push(bytes);
                }
                judged
            });
        let outcome = match result {
            Ok(problems) if problems.is_empty() => Outcome::Passed,
            Ok(problems) => Outcome::Failed(
                problems
                    .into_iter()
                    .map(|p| Issue {
                        kind: p.kind,
                        message: p.message,
                        path: Some(path.clone()),
                    })
                    .collect(),
            ),
            Err(e) => Outcome::Error(format!("{}: {e}", path.display())),
        };
        out.cases.push(Case {
            suite: "corpus",
            name: rel.display().to_string(),
            file: Some(path.clone()),
            time: start.elapsed(),
            outcome,
        });
    }
    Ok(out)
}

/// Runs the whole gate. `stop` (Ctrl-C) ends the fuzz stage early.
pub fn run(cfg: &GateConfig, stop: &AtomicBool) -> crate::Result<GateReport> {
    engine::check_jobs(cfg.jobs)?;
    if !cfg.corpus.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no corpus folder (run the gate from the project root or pass --corpus)",
            cfg.corpus.display()
        )));
    }
    let safe = match &cfg.pipeline {
        Some(name) => cfg.harness.pipeline(name)?,
        None => cfg.harness.safe()?,
    };
    let mut judge = Judge::on(cfg.harness, cfg.database.as_ref())?.with_safe(safe);
    let replayed = replay(&mut judge, &cfg.corpus, stop)?;
    let mut cases = replayed.cases;
    let name = format!(
        "fuzz {} (seed {}, {} s)",
        safe.name(),
        cfg.seed,
        cfg.time.as_secs()
    );
    if replayed.skipped > 0 {
        cases.push(Case {
            suite: "fuzz",
            name,
            file: None,
            time: Duration::ZERO,
            outcome: Outcome::Error(format!(
                "interrupted (SIGINT, SIGTERM or SIGHUP) during the corpus replay: {} file(s) not replayed, {} not fuzzed",
                replayed.skipped,
                safe.name()
            )),
        });
        return Ok(GateReport {
            pipeline: safe.name().to_string(),
            cases,
            fuzz: None,
            interrupted: true,
        });
    }
    if replayed.unlisted {
        cases.push(Case {
            suite: "fuzz",
            name,
            file: None,
            time: Duration::ZERO,
            outcome: Outcome::Error(format!(
                "{} not fuzzed: the corpus folder could not be listed",
                safe.name()
            )),
        });
        return Ok(GateReport {
            pipeline: safe.name().to_string(),
            cases,
            fuzz: None,
            interrupted: false,
        });
    }
    let mut fuzz = Config::new(safe);
    fuzz.seed = cfg.seed;
    fuzz.jobs = cfg.jobs;
    fuzz.time = Some(cfg.time);
    fuzz.runs = cfg.runs;
    fuzz.kinds = Kind::ALL.into_iter().collect();
    // the bytes the replay read (a file that changed since is not re-read)
    fuzz.seeds = replayed.seeds;
    fuzz.save_corpus = false;
    fuzz.artifacts = cfg.artifacts.clone();
    fuzz.dictionary = cfg.dictionary.clone();
    fuzz.database = cfg.database.clone();
    fuzz.status = true;
    let start = Instant::now();
    let (outcome, summary) = match engine::run(&fuzz, stop) {
        Ok(s) if s.findings.is_empty() && s.interrupted => (
            Outcome::Error(format!(
                "interrupted (SIGINT, SIGTERM or SIGHUP) after {:.1} s of the {} s budget ({} execs, no finding): not a pass",
                s.elapsed_s,
                cfg.time.as_secs(),
                s.execs
            )),
            Some(s),
        ),
        Ok(s) if s.findings.is_empty() => (Outcome::Passed, Some(s)),
        Ok(s) => {
            let issues = s
                .findings
                .iter()
                .map(|f| Issue {
                    kind: f.kind,
                    message: format!(
                        "{} on {} ({} input(s)) on statement shape {}: {}",
                        f.kind,
                        safe.name(),
                        f.count,
                        f.shape,
                        f.message
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
    let interrupted = stop.load(Ordering::SeqCst);
    Ok(GateReport {
        pipeline: safe.name().to_string(),
        cases,
        fuzz: summary,
        interrupted,
    })
}

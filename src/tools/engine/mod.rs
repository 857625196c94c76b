//! The built-in fuzz engine: stable Rust, no setup, smart about SQL.
//!
//! Inputs are byte vectors decoded by [`crate::harness::scenario::decode`] and run by
//! [`crate::harness::execute::execute`], the same path as the cargo-fuzz target and
//! `rowguard repro`, so an artifact of either engine replays under the other.
//! The loop: take the next seed, else mutate a corpus input ([`mutate`]),
//! else generate one; run it; keep it when the guard saw something new
//! ([`feedback`]); write every new finding's input to the artifacts folder
//! ([`artifacts`]) *before* reporting it.
//!
//! Contract:
//! - findings are deduplicated by kind + statement shape; each is reported
//!   once, with a count, and the run goes on (unless `stop_on_first`);
//! - every distinct finding gets a root-cause signature when first seen
//!   ([`crate::tools::rootcause`]); the summary's `root_causes` group the
//!   findings by it, in the order first seen;
//! - after fuzzing, each root cause is minimized (same signature, and its
//!   gravest kind: `write-outside-target` when it has one) within
//!   [`Config::minimize`] in all and [`Config::minimize_each`] per root
//!   cause; its shortest reproducer is written to the artifacts folder as
//!   `root-<id>-<content hash>.json`;
//! - with `jobs == 1` and a `runs` bound, the same `seed` gives the same
//!   findings in the same order (nothing depends on the clock but the
//!   `elapsed_s` fields);
//! - the `stop` flag (Ctrl-C, SIGTERM, SIGHUP in the CLI) ends the run
//!   cleanly: everything found so far is already on disk and in the summary;
//! - a full disk never loses a finding: a failed artifact write keeps the
//!   finding with `artifact_error`; the first failed corpus write stops corpus
//!   writes and fuzzing goes on; both are in `warnings` (one line each).
//!
//! As a library (what a detection benchmark needs: feedback on or off, stop
//! at the first finding of a kind, executions and time to it):
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use rowguard::tools::engine::{self, Config};
//! use rowguard::guard::Kind;
//!
//! let mut cfg = Config::new(rowguard::appointments::pipeline::by_name("legacy")?);
//! cfg.seed = 1;
//! cfg.runs = Some(500);
//! cfg.kinds = [Kind::WriteOutsideTarget].into();
//! cfg.stop_on_first = true;
//! cfg.feedback = false; // plain random generation, the same generator
//! let summary = engine::run(&cfg, &AtomicBool::new(false))?;
//! let first = &summary.findings[0];
//! assert_eq!(first.kind, Kind::WriteOutsideTarget);
//! println!("found after {} execs, {:.3} s", first.execs, first.elapsed_s);
//! # Ok::<(), rowguard::Error>(())
//! ```

use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::guard::Kind;
use crate::harness::domain::Pipeline;
use crate::harness::execute::{execute, Execution, Session};
use crate::tools::rootcause::{self, RootCause};

pub mod artifacts;
pub mod corpus;
pub mod feedback;

pub mod mutate;
pub mod mutator;
pub use crate::harness::rng;
pub mod series;

use corpus::Input;
use feedback::Feedback;
use rng::Rng;

/// With feedback on, the share of inputs generated fresh rather than mutated
/// from the corpus (the generator's dictionary-dense texts are strong on
/// their own; the corpus adds depth).
const FRESH: (usize, usize) = (1, 2);

/// The kinds `rowguard fuzz` counts by default: every kind but `sql-error`.
/// A planted pipeline is "found" by `write-outside-target`; the `sql-error`
/// a lone quote gives is trivial and would drown the real findings (the gate
/// counts every kind: on `safe` even a SQL error is a bug).
pub fn default_kinds() -> BTreeSet<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| *k != Kind::SqlError)
        .collect()
}

/// Most worker threads a run starts: 4 per core (a thread per job, each
/// with its own SQLite database; more only adds memory and contention, and
/// thousands fail to spawn).
pub fn max_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 4
}

/// `--jobs` within 1..=[`max_jobs`].
pub fn check_jobs(jobs: usize) -> crate::Result<()> {
    if jobs == 0 || jobs > max_jobs() {
        return Err(crate::Error::Usage(format!(
            "--jobs {jobs} is out of range: 1..={} (4 per core on this machine)",
            max_jobs()
        )));
    }
    Ok(())
}

/// One fuzz run. Every field has a documented default in [`Config::new`].
#[derive(Clone)]
pub struct Config {
    /// The pipeline under test.
    pub pipeline: &'static dyn Pipeline,
    /// Seeds the PRNG (default 0).
    pub seed: u64,
    /// Worker threads, each with its own session (default 1).
    pub jobs: usize,
    /// Stop after this many executions in all (default: no bound).
    pub runs: Option<u64>,
    /// Stop after this long (default: no bound; with neither bound the run
    /// goes on until `stop` is set).
    pub time: Option<Duration>,
    /// Finding kinds that count (default [`default_kinds`]).
    pub kinds: BTreeSet<Kind>,
    /// Seeds are read from this folder (default none).
    pub corpus: Option<PathBuf>,
    /// Write new interesting inputs into `corpus` (default true).
    pub save_corpus: bool,
    /// Extra seeds run before the corpus folder's (default none).
    pub seeds: Vec<Vec<u8>>,
    /// Where finding inputs go (default none: the CLI passes `artifacts/<pipeline>/`).
    pub artifacts: Option<PathBuf>,
    /// Keep inputs that show something new and mutate them (default true);
    /// false is plain random generation with the same generator.
    pub feedback: bool,
    /// End the run after the first input that makes a counted finding (every
    /// distinct finding of that input is kept) (default false).
    pub stop_on_first: bool,
    /// A live status line on stderr, when stderr is a terminal (default false).
    pub status: bool,
    /// Called with each new finding, after its artifact is written, under the
    /// engine's lock: keep it short (default none).
    pub on_finding: Option<fn(&Found)>,
    /// Words harvested from the code under test (`--dict`, `--source`),
    /// written into text fields by generation and mutation (default empty:
    /// the shared token dictionary only).
    pub dictionary: crate::tools::dict::Dictionary,
    /// Run on this PostgreSQL server instead of embedded SQLite (default none).
    pub database: Option<crate::guard::postgres::PgOptions>,
    /// Time for minimizing the root causes after fuzzing, in all (default
    /// [`MINIMIZE_TOTAL`]; zero: none are minimized).
    pub minimize: Duration,
    /// Time for minimizing one root cause, at most (default [`MINIMIZE_EACH`]).
    pub minimize_each: Duration,
    /// With `feedback` on, words the run observes join `dictionary`: the
    /// text values and keys of the fixture ([`crate::tools::dict::fixture`])
    /// and the values the code read while running each input
    /// ([`crate::tools::dict::Recent`]) (default true).
    pub observe_words: bool,
}

/// Default time to minimize all root causes of a run.
pub const MINIMIZE_TOTAL: Duration = Duration::from_secs(10);
/// Default time to minimize one root cause.
pub const MINIMIZE_EACH: Duration = Duration::from_secs(2);
/// Candidate executions per root cause, at most (so a fast machine stops
/// at the same reproducer whatever its speed).
pub const MINIMIZE_EXECS: u64 = 2_000;

impl Config {
    /// Defaults for fuzzing `pipeline`.
    pub fn new(pipeline: &'static dyn Pipeline) -> Config {
        Config {
            pipeline,
            seed: 0,
            jobs: 1,
            runs: None,
            time: None,
            kinds: default_kinds(),
            corpus: None,
            save_corpus: true,
            seeds: Vec::new(),
            artifacts: None,
            feedback: true,
            stop_on_first: false,
            status: false,
            on_finding: None,
            dictionary: crate::tools::dict::Dictionary::default(),
            database: None,
            minimize: MINIMIZE_TOTAL,
            minimize_each: MINIMIZE_EACH,
            observe_words: true,
        }
    }
}

/// One distinct finding (kind + statement shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    pub kind: Kind,
    /// The artifact file holding the first input that made it.
    pub artifact: Option<PathBuf>,
    /// Why the artifact could not be written (a full disk): the finding stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_error: Option<String>,
    /// Seconds from the start of the run to the first occurrence.
    pub elapsed_s: f64,
    /// Executions up to and including the first occurrence.
    pub execs: u64,
    /// Inputs that made it (same kind and shape).
    pub count: u64,
    /// The shape of the statement it was found on.
    pub shape: String,
    /// The guard's message for the first occurrence.
    pub message: String,
    /// The id of its root cause ([`RootCause::id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// What happened at the code's edge on the op of the first occurrence,
    /// for code reached over a wire: the request, its answer, the `curl`
    /// command, the application's output meanwhile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<String>,
}

/// What a run did (`fuzz --format json`; `rowguard report` reads it back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The harness of the pipeline (the binary's first when a summary
    /// predates the field).
    #[serde(default)]
    pub harness: String,
    pub pipeline: String,
    /// The database the run checked on (`sqlite` when a summary predates the field).
    #[serde(default)]
    pub database: crate::guard::BackendKind,
    pub seed: u64,
    pub jobs: usize,
    pub execs: u64,
    pub elapsed_s: f64,
    /// Distinct statement shapes seen.
    pub shapes: usize,
    pub access_sets: usize,
    pub error_classes: usize,
    /// Inputs in the in-memory corpus at the end.
    pub corpus: usize,
    /// Harvested / `--dict` words the run used (0: shared tokens only).
    pub dictionary: usize,
    /// Whether the stop flag ended the run.
    pub interrupted: bool,
    /// The findings grouped by root cause, in the order first seen.
    #[serde(default)]
    pub root_causes: Vec<RootCause>,
    /// Distinct findings, in the order they were first seen.
    pub findings: Vec<Found>,
    /// What went wrong without ending the run, one line each: an artifact or
    /// corpus file not written, a worker that failed after a finding.
    pub warnings: Vec<String>,
    /// Discovery over time, at most [`series::MAX_POINTS`] points.
    #[serde(default)]
    pub series: Vec<series::Point>,
}

/// State the workers share.
struct Shared {
    feedback: Feedback,
    corpus: Vec<Input>,
    found: Vec<Found>,
    index: HashMap<(Kind, String), usize>,
    causes: Vec<RootCause>,
    cause_index: HashMap<String, usize>,
    series: series::Series,
    error: Option<crate::Error>,
    warnings: Vec<String>,
    /// Set at the first failed corpus write: the run goes on without saving.
    corpus_off: bool,
}

struct Run<'a> {
    cfg: &'a Config,
    start: Instant,
    stop: &'a AtomicBool,
    done: AtomicBool,
    execs: AtomicU64,
    next_seed: AtomicUsize,
    seeds: Vec<Vec<u8>>,
    /// `cfg.dictionary` with the fixture's words (`observe_words`): each
    /// worker starts from a copy and adds the values its code read.
    words: crate::tools::dict::Dictionary,
    shared: Mutex<Shared>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the engine until a bound, the first finding (`stop_on_first`) or `stop`.
pub fn run(cfg: &Config, stop: &AtomicBool) -> crate::Result<Summary> {
    check_jobs(cfg.jobs)?;
    // leftovers of killed runs (see artifacts::remove_stale_tmp)
    for dir in cfg.artifacts.iter().chain(&cfg.corpus) {
        artifacts::remove_stale_tmp(dir);
    }
    let mut seeds = cfg.seeds.clone();
    if let Some(dir) = &cfg.corpus {
        seeds.extend(corpus::read_seeds(dir)?);
    }
    let run = Run {
        cfg,
        start: Instant::now(),
        stop,
        done: AtomicBool::new(false),
        execs: AtomicU64::new(0),
        next_seed: AtomicUsize::new(0),
        seeds,
        words: if cfg.feedback && cfg.observe_words {
            crate::tools::dict::Dictionary::merge([
                cfg.dictionary.clone(),
                crate::tools::dict::fixture::fixture_words(cfg.pipeline.harness()),
            ])
        } else {
            cfg.dictionary.clone()
        },
        shared: Mutex::new(Shared {
            feedback: Feedback::default(),
            corpus: Vec::new(),
            found: Vec::new(),
            index: HashMap::new(),
            causes: Vec::new(),
            cause_index: HashMap::new(),
            series: series::Series::default(),
            error: None,
            warnings: Vec::new(),
            corpus_off: false,
        }),
    };
    let status = cfg.status && std::io::stderr().is_terminal();
    let root = Rng::new(cfg.seed);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cfg.jobs)
            .map(|j| {
                let run = &run;
                let rng = root.fork(j as u64);
                scope.spawn(move || {
                    if let Err(e) = run.worker(rng) {
                        lock(&run.shared).error.get_or_insert(e);
                        run.done.store(true, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        while status && workers.iter().any(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            run.print_status();
        }
        for w in workers {
            if let Err(panic) = w.join() {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "see the message above".into());
                lock(&run.shared)
                    .error
                    .get_or_insert(crate::Error::WorkerPanic(what));
            }
        }
    });
    if status {
        run.print_status();
        eprintln!();
    }
    let interrupted = stop.load(Ordering::SeqCst);
    let execs = run.execs.load(Ordering::SeqCst);
    let elapsed_s = run.start.elapsed().as_secs_f64();
    let mut shared = run.shared.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = shared.error {
        // a finding already made is never lost to a later failure
        if shared.found.is_empty() {
            return Err(e);
        }
        shared.warnings.push(format!("fuzzing stopped early: {e}"));
    }
    let execs = execs.min(cfg.runs.unwrap_or(u64::MAX));
    let mut causes = std::mem::take(&mut shared.causes);
    if !causes.is_empty() && !cfg.minimize.is_zero() && !stop.load(Ordering::SeqCst) {
        if let Err(e) = minimize_causes(cfg, &mut causes, stop) {
            shared
                .warnings
                .push(format!("root causes not minimized: {e}"));
        }
    }
    let last = series::Point {
        execs,
        elapsed_s,
        shapes: shared.feedback.shapes(),
        corpus: shared.corpus.len(),
        findings: shared.found.len(),
    };
    Ok(Summary {
        harness: cfg.pipeline.harness().name().to_string(),
        pipeline: cfg.pipeline.name().to_string(),
        database: match &cfg.database {
            Some(d) => crate::guard::BackendKind::of_url(&d.url),
            None => crate::guard::BackendKind::Sqlite,
        },
        seed: cfg.seed,
        jobs: cfg.jobs,
        execs,
        elapsed_s,
        shapes: shared.feedback.shapes(),
        access_sets: shared.feedback.access_sets(),
        error_classes: shared.feedback.error_classes(),
        corpus: shared.corpus.len(),
        dictionary: cfg.dictionary.words.len(),
        interrupted,
        root_causes: causes,
        findings: shared.found,
        warnings: shared.warnings,
        series: shared.series.finish(last),
    })
}

impl Run<'_> {
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.done.load(Ordering::Relaxed)
            || self.cfg.time.is_some_and(|t| self.start.elapsed() >= t)
    }

    /// The next input (and whether it is a seed): a seed, else a mutant of
    /// the corpus, else a fresh one.
    fn next_input(&self, rng: &mut Rng, words: &crate::tools::dict::Dictionary) -> (Vec<u8>, bool) {
        let i = self.next_seed.fetch_add(1, Ordering::SeqCst);
        if let Some(seed) = self.seeds.get(i) {
            return (seed.clone(), true);
        }
        if self.cfg.feedback && !rng.chance(FRESH.0, FRESH.1) {
            let picked = {
                let shared = lock(&self.shared);
                let n = shared.corpus.len();
                (n > 0).then(|| {
                    // half the time one of the newest inputs: recent finds are promising
                    let base = if rng.chance(1, 2) {
                        n - 1 - rng.below(n.min(16))
                    } else {
                        rng.below(n)
                    };
                    let other = rng.below(n);
                    (shared.corpus[base].clone(), shared.corpus[other].clone())
                })
            };
            if let Some((base, other)) = picked {
                return (
                    mutate::mutate(self.domain(), rng, &base, &other, words),
                    false,
                );
            }
        }
        // with harvested words, half the fresh inputs carry one
        if !words.is_empty() && rng.chance(1, 2) {
            return (mutate::generate_with_word(self.domain(), rng, words), false);
        }
        (mutate::generate(rng), false)
    }

    /// The harness of the pipeline under test.
    fn domain(&self) -> &'static dyn crate::harness::domain::Domain {
        self.cfg.pipeline.harness()
    }

    fn worker(&self, mut rng: Rng) -> crate::Result<()> {
        let mut session = Session::open(self.domain(), self.cfg.database.as_ref())?;
        let mut words = self.words.clone();
        let observe = self.cfg.feedback && self.cfg.observe_words;
        while !self.should_stop() {
            let n = self.execs.fetch_add(1, Ordering::SeqCst) + 1;
            if self.cfg.runs.is_some_and(|r| n > r) {
                break;
            }
            let (bytes, seed) = self.next_input(&mut rng, &words);
            let input = Input::new(self.domain(), bytes);
            if input.scenario.ops.is_empty() {
                continue;
            }
            let execution = execute(&mut session, self.cfg.pipeline, &input.scenario)?;
            if observe {
                words.recent.observe(session.read());
            }
            self.record(&mut session, input, seed, &execution, n)?;
        }
        Ok(())
    }

    /// Feedback, corpus and findings for one execution.
    fn record(
        &self,
        session: &mut Session,
        input: Input,
        seed: bool,
        e: &Execution,
        n: u64,
    ) -> crate::Result<()> {
        let mut shared = lock(&self.shared);
        let shared = &mut *shared;
        let steps = e.ops.iter().enumerate().flat_map(|(i, run)| {
            run.statements
                .iter()
                .enumerate()
                .map(move |(k, s)| (i, k, s))
        });
        // the root causes this input made, each counted once
        let mut touched = BTreeSet::new();
        for (i, k, s) in steps {
            for f in s
                .findings
                .iter()
                .filter(|f| self.cfg.kinds.contains(&f.kind))
            {
                let key = (f.kind, s.shape.clone());
                if let Some(&i) = shared.index.get(&key) {
                    shared.found[i].count += 1;
                    let id = shared.found[i].root_cause.as_ref();
                    touched.extend(id.and_then(|id| shared.cause_index.get(id)));
                    continue;
                }
                let written = self.cfg.artifacts.as_ref().map(|dir| {
                    artifacts::write(
                        dir,
                        &input.scenario,
                        &input.bytes,
                        self.cfg.pipeline,
                        f.kind,
                    )
                });
                let (artifact, artifact_error) = match written {
                    Some(Ok(path)) => (Some(path), None),
                    Some(Err(e)) => {
                        self.warn(shared, format!("{} artifact not written: {e}", f.kind));
                        (None, Some(e.to_string()))
                    }
                    None => (None, None),
                };
                shared.index.insert(key, shared.found.len());
                // memoised per distinct finding: a few executions, never per input
                let site = rootcause::site(session, self.cfg.pipeline, e, i, k, f)?;
                let signature = site.signature();
                let id = signature.id(self.cfg.pipeline);
                let elapsed_s = self.start.elapsed().as_secs_f64();
                match shared.cause_index.get(&id) {
                    Some(&c) => {
                        touched.insert(c);
                        let cause = &mut shared.causes[c];
                        cause.add(site);
                        if !cause.kinds.contains(&f.kind) {
                            cause.kinds.push(f.kind);
                            cause.kinds.sort();
                            // the input that makes the cause's gravest kind is
                            // the one its minimizer starts from
                            let kinds: BTreeSet<Kind> = cause.kinds.iter().copied().collect();
                            if crate::tools::minimize::target_kind(&[], &kinds) == Some(f.kind) {
                                cause.scenario = input.scenario.clone();
                                cause.artifact = artifact.clone();
                            }
                        }
                    }
                    None => {
                        touched.insert(shared.causes.len());
                        shared.cause_index.insert(id.clone(), shared.causes.len());
                        shared.causes.push(RootCause {
                            id: id.clone(),
                            signature,
                            kinds: vec![f.kind],
                            variants: 1,
                            sites: vec![rootcause::SiteCount { site, variants: 1 }],
                            inputs: 0,
                            elapsed_s,
                            execs: n,
                            artifact: artifact.clone(),
                            minimized: false,
                            repro: None,
                            scenario: input.scenario.clone(),
                        });
                    }
                }
                let found = Found {
                    kind: f.kind,
                    artifact,
                    artifact_error,
                    elapsed_s,
                    execs: n,
                    count: 1,
                    shape: s.shape.clone(),
                    message: f.message.clone(),
                    root_cause: Some(id),
                    transcript: e.ops[i].transcript.clone(),
                };
                if let Some(report) = self.cfg.on_finding {
                    report(&found);
                }
                shared.found.push(found);
                if self.cfg.stop_on_first {
                    self.done.store(true, Ordering::SeqCst);
                }
            }
        }
        for c in touched {
            shared.causes[c].inputs += 1;
        }
        if shared.feedback.observe(e) && self.cfg.feedback {
            if let (Some(dir), true, false, false) = (
                &self.cfg.corpus,
                self.cfg.save_corpus,
                seed,
                shared.corpus_off,
            ) {
                if let Err(e) = corpus::save(dir, self.domain(), &input) {
                    shared.corpus_off = true;
                    let why = format!("corpus writes stopped (fuzzing goes on): {e}");
                    self.warn(shared, why);
                }
            }
            shared.corpus.push(input);
        }
        let point = series::Point {
            execs: n,
            elapsed_s: self.start.elapsed().as_secs_f64(),
            shapes: shared.feedback.shapes(),
            corpus: shared.corpus.len(),
            findings: shared.found.len(),
        };
        shared.series.offer(point);
        Ok(())
    }

    /// Keeps a warning for the summary; with `status` on, also one line on stderr now.
    fn warn(&self, shared: &mut Shared, message: String) {
        if self.cfg.status {
            let clear = if std::io::stderr().is_terminal() {
                "\r\x1b[K"
            } else {
                ""
            };
            eprintln!("{clear}rowguard: warning: {message}");
        }
        shared.warnings.push(message);
    }

    fn print_status(&self) {
        let (corpus, shapes, findings) = {
            let s = lock(&self.shared);
            (s.corpus.len(), s.feedback.shapes(), s.found.len())
        };
        let execs = self.execs.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K#{execs} execs  {:.0}/s  corpus {corpus}  shapes {shapes}  findings {findings}  {secs:.0}s",
            execs as f64 / secs.max(1e-3)
        );
        let _ = err.flush();
    }
}

/// Minimizes each root cause (keeping its signature) within the run's
/// budgets, writing its shortest reproducer next to the findings' artifacts.
fn minimize_causes(cfg: &Config, causes: &mut [RootCause], stop: &AtomicBool) -> crate::Result<()> {
    let mut session = Session::open(cfg.pipeline.harness(), cfg.database.as_ref())?;
    let end = Instant::now() + cfg.minimize;
    for cause in causes.iter_mut() {
        let now = Instant::now();
        if now >= end || stop.load(Ordering::SeqCst) {
            break;
        }
        let budget = crate::tools::minimize::Budget {
            deadline: Some((now + cfg.minimize_each).min(end)),
            execs: Some(MINIMIZE_EXECS),
        };
        let wanted = cause.signature.clone();
        // the gravest kind it has (a write first) stays: a reproducer that
        // only changes a shape would hide what the bug does
        let made: BTreeSet<Kind> = cause.kinds.iter().copied().collect();
        let Some(kind) = crate::tools::minimize::target_kind(&[], &made) else {
            continue;
        };
        let only: BTreeSet<Kind> = [kind].into();
        let mut keep = |session: &mut Session, e: &Execution| {
            rootcause::makes(session, cfg.pipeline, e, &only, &wanted)
        };
        let Some(min) = crate::tools::minimize::minimize_while(
            &mut session,
            cfg.pipeline,
            &cause.scenario,
            &mut keep,
            budget,
        )?
        else {
            continue;
        };
        cause.minimized = true;
        if let Some(dir) = &cfg.artifacts {
            let path = artifacts::write_root(dir, &cause.id, &min.scenario, cfg.pipeline, &[kind])?;
            cause.artifact = Some(path);
        }
        cause.scenario = min.scenario;
    }
    Ok(())
}

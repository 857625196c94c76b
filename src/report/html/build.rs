//! Building a [`Report`] from what a run leaves: a fuzz [`Summary`] and its
//! artifacts, a gate's outcome, or replayed inputs. This is the part that
//! runs SQL (each artifact is replayed, and each op is run once more on
//! placeholder text to get its template statements); [`super::page`] only
//! renders.
//!
//! The gate's JSON summary ([`GateSummary`], `gate --json FILE`) is defined
//! here: one object per case (`suite, name, status, messages[], artifacts[]`)
//! and the fuzz stage's [`Summary`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Detail, FindingRow, GateRow, Report, RootCauseRow, RunInfo, Status, MAX_DETAILS};
use crate::guard::postgres::PgOptions;
use crate::guard::BackendKind;
use crate::harness::domain::{Domain, Pipeline};
use crate::harness::execute::placeholder_sql;
use crate::harness::execute::{execute, Execution, Session};
use crate::harness::scenario::{decode_file, Scenario};
use crate::offer::choose_harness;
use crate::tools::engine::{Found, Summary};
use crate::tools::gate::{GateReport, Outcome};

/// Per op, the statements the same op makes on placeholder text (the
/// template the guard compared shapes against), on the pristine fixture.
pub fn templates(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    scenario: &Scenario,
) -> Vec<Vec<String>> {
    let guard = session.backend();
    scenario
        .ops
        .iter()
        .map(|op| placeholder_sql(&mut *guard, pipeline, op))
        .collect()
}

/// Replays `scenario` on `pipeline` and keeps what the page shows.
pub fn detail(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    file: Option<PathBuf>,
    scenario: &Scenario,
) -> crate::Result<Detail> {
    let execution = execute(session, pipeline, scenario)?;
    let templates = templates(session, pipeline, scenario);
    Ok(Detail {
        file,
        execution,
        templates,
    })
}

/// Reads and decodes an input file of `harness` as `rowguard repro` does.
pub fn read_input(harness: &dyn Domain, path: &Path) -> crate::Result<Scenario> {
    let bytes = crate::tools::input::read_file(path)?;
    decode_file(harness, &bytes)
        .map(|d| d.scenario)
        .map_err(|e| crate::Error::Decode(format!("{}: {e}", path.display())))
}

/// The findings table rows of replayed executions (one row per finding kind
/// and statement shape, counted across the inputs).
fn rows_of(details: &[Detail]) -> Vec<FindingRow> {
    let mut rows: Vec<FindingRow> = Vec::new();
    for (i, d) in details.iter().enumerate() {
        for s in d.execution.statements() {
            for f in &s.findings {
                if let Some(r) = rows
                    .iter_mut()
                    .find(|r| r.kind == f.kind && r.shape == s.shape)
                {
                    r.count += 1;
                    continue;
                }
                rows.push(FindingRow {
                    kind: f.kind,
                    count: 1,
                    elapsed_s: None,
                    execs: None,
                    shape: s.shape.clone(),
                    message: f.message.clone(),
                    artifact: d.file.clone(),
                    detail: Some(i),
                });
            }
        }
    }
    rows
}

/// The page of `rowguard repro --format html`: every input in detail.
pub fn from_replays(details: Vec<Detail>, backend: &str) -> Report {
    let pipelines: Vec<&str> = {
        let mut p: Vec<&str> = details
            .iter()
            .map(|d| d.execution.pipeline.as_str())
            .collect();
        p.dedup();
        p
    };
    let mut report = Report {
        run: RunInfo {
            command: "repro".into(),
            pipeline: pipelines.join(", "),
            backend: backend.into(),
            ..RunInfo::default()
        },
        findings: rows_of(&details),
        ..Report::default()
    };
    report.details_left_out = details.len().saturating_sub(MAX_DETAILS);
    report.details = details.into_iter().take(MAX_DETAILS).collect();
    report
}

/// Findings in the order they get a detail: the first of each kind, then the rest.
fn detail_order(findings: &[Found]) -> Vec<usize> {
    let mut seen = Vec::new();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (i, f) in findings.iter().enumerate() {
        if seen.contains(&f.kind) {
            rest.push(i);
        } else {
            seen.push(f.kind);
            first.push(i);
        }
    }
    first.extend(rest);
    first
}

/// Adds the findings of a fuzz summary to `report`, replaying up to
/// [`MAX_DETAILS`] artifacts (`resolve` maps a summary's artifact path to
/// where it is now). A missing or unreadable artifact is an error.
pub fn add_fuzz(
    report: &mut Report,
    summary: &Summary,
    session: &mut Session,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> crate::Result<()> {
    let pipeline = session.harness().pipeline(&summary.pipeline)?;
    let mut by_file: HashMap<PathBuf, usize> = HashMap::new();
    // each root cause's shortest reproducer first
    for c in &summary.root_causes {
        let path = c.artifact.as_ref().map(|a| resolve(a));
        let mut detail_at = None;
        if let Some(path) = &path {
            if report.details.len() < MAX_DETAILS {
                let scenario = read_input(session.harness(), path)?;
                let d = detail(session, pipeline, Some(path.clone()), &scenario)?;
                by_file.insert(path.clone(), report.details.len());
                detail_at = Some(report.details.len());
                report.details.push(d);
            }
        }
        report.root_causes.push(RootCauseRow {
            id: c.id.clone(),
            line: c.line(),
            kinds: c.kinds.clone(),
            variants: c.variants,
            inputs: c.inputs,
            minimized: c.minimized,
            repro: path
                .as_deref()
                .map(|p| crate::report::repro_command(p, &summary.pipeline)),
            detail: detail_at,
        });
    }
    let mut detail_of = vec![None; summary.findings.len()];
    let mut left_out = 0;
    for i in detail_order(&summary.findings) {
        let Some(artifact) = &summary.findings[i].artifact else {
            continue;
        };
        let path = resolve(artifact);
        if let Some(&d) = by_file.get(&path) {
            detail_of[i] = Some(d);
            continue;
        }
        if report.details.len() >= MAX_DETAILS {
            left_out += 1;
            continue;
        }
        let scenario = read_input(session.harness(), &path)?;
        let d = detail(session, pipeline, Some(path.clone()), &scenario)?;
        by_file.insert(path, report.details.len());
        detail_of[i] = Some(report.details.len());
        report.details.push(d);
    }
    report.details_left_out += left_out;
    for (f, d) in summary.findings.iter().zip(detail_of) {
        report.findings.push(FindingRow {
            kind: f.kind,
            count: f.count,
            elapsed_s: Some(f.elapsed_s),
            execs: Some(f.execs),
            shape: f.shape.clone(),
            message: f.message.clone(),
            artifact: f.artifact.as_ref().map(|a| resolve(a)),
            detail: d,
        });
    }
    report.series = summary.series.clone();
    Ok(())
}

/// The run line of a fuzz summary.
pub fn fuzz_run(summary: &Summary, command: &str) -> RunInfo {
    RunInfo {
        command: command.into(),
        pipeline: summary.pipeline.clone(),
        backend: summary.database.as_str().into(),
        seed: Some(summary.seed),
        execs: Some(summary.execs),
        elapsed_s: Some(summary.elapsed_s),
        shapes: Some(summary.shapes),
        corpus: Some(summary.corpus),
        interrupted: summary.interrupted,
    }
}

/// The session a summary's findings replay in: the database the run
/// checked on (a PostgreSQL run needs `database`, the server to use).
fn replay_session(summary: &Summary, database: Option<&PgOptions>) -> crate::Result<Session> {
    let harness = choose_harness(
        Some(summary.harness.as_str()).filter(|h| !h.is_empty()),
        None,
    )?;
    match (summary.database, database) {
        (BackendKind::Sqlite, _) => Session::open(harness, None),
        (kind, Some(options)) if BackendKind::of_url(&options.url) == kind => {
            Session::open(harness, Some(options))
        }
        (kind, _) => {
            let name = match kind {
                BackendKind::Mysql => "MariaDB/MySQL",
                _ => "PostgreSQL",
            };
            Err(crate::Error::Usage(format!(
                "this run checked on {name}: give --database URL to replay its findings there"
            )))
        }
    }
}

/// The page of `rowguard fuzz --html` / `rowguard report` on a fuzz summary;
/// findings replay on the run's database (`database`: its server, if PostgreSQL).
pub fn from_fuzz(
    summary: &Summary,
    database: Option<&PgOptions>,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> crate::Result<Report> {
    let mut report = Report {
        run: fuzz_run(summary, "fuzz"),
        ..Report::default()
    };
    add_fuzz(
        &mut report,
        summary,
        &mut replay_session(summary, database)?,
        resolve,
    )?;
    Ok(report)
}

/// One gate case as the gate's JSON summary keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseJson {
    pub suite: String,
    pub name: String,
    /// `passed`, `failed` or `error`.
    pub status: Status,
    #[serde(default)]
    pub messages: Vec<String>,
    #[serde(default)]
    pub artifacts: Vec<PathBuf>,
}

/// The gate's JSON summary (`gate --json FILE`), what `rowguard report` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateSummary {
    /// The version gated (added in issue 41; older summaries lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// The fuzz stage's root causes, first (the same as `fuzz.root_causes`).
    #[serde(default)]
    pub root_causes: Vec<crate::tools::rootcause::RootCause>,
    pub cases: Vec<CaseJson>,
    pub fuzz: Option<Summary>,
}

impl GateSummary {
    pub fn of(g: &GateReport) -> GateSummary {
        let cases = g
            .cases
            .iter()
            .map(|c| {
                let (status, messages, artifacts) = match &c.outcome {
                    Outcome::Passed => (Status::Passed, vec![], vec![]),
                    Outcome::Failed(issues) => (
                        Status::Failed,
                        issues
                            .iter()
                            .map(|i| format!("{}: {}", i.kind, i.message))
                            .collect(),
                        issues.iter().filter_map(|i| i.path.clone()).collect(),
                    ),
                    Outcome::Error(e) => (Status::Error, vec![e.clone()], vec![]),
                };
                CaseJson {
                    suite: c.suite.to_string(),
                    name: c.name.clone(),
                    status,
                    messages,
                    artifacts,
                }
            })
            .collect();
        GateSummary {
            pipeline: Some(g.pipeline.clone()),
            root_causes: g
                .fuzz
                .as_ref()
                .map_or_else(Vec::new, |f| f.root_causes.clone()),
            cases,
            fuzz: g.fuzz.clone(),
        }
    }
}

/// The page of `gate --html` / `rowguard report` on a gate summary: one row
/// per case (failures first), the fuzz stage's findings in detail.
pub fn from_gate(
    g: &GateSummary,
    database: Option<&PgOptions>,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> crate::Result<Report> {
    let mut report = Report {
        run: match &g.fuzz {
            Some(s) => fuzz_run(s, "gate"),
            None => RunInfo {
                command: "gate".into(),
                pipeline: g.pipeline.clone().unwrap_or_else(|| "safe".into()),
                backend: match database {
                    Some(d) => BackendKind::of_url(&d.url).as_str().into(),
                    None => BackendKind::Sqlite.as_str().into(),
                },
                ..RunInfo::default()
            },
        },
        ..Report::default()
    };
    for c in &g.cases {
        let mut messages = c.messages.clone();
        for a in &c.artifacts {
            messages.push(format!(
                "reproduce: {} repro {}",
                crate::report::program(),
                super::shell_word(&resolve(a).display().to_string())
            ));
        }
        report.gate.push(GateRow {
            status: c.status,
            suite: c.suite.clone(),
            name: c.name.clone(),
            messages,
        });
    }
    if let Some(s) = &g.fuzz {
        add_fuzz(&mut report, s, &mut replay_session(s, database)?, resolve)?;
    }
    Ok(report)
}

/// Every execution's findings as replayed details, for callers that already ran them.
pub fn replayed(session: &mut Session, files: &[(PathBuf, Execution, Scenario)]) -> Vec<Detail> {
    files
        .iter()
        .map(|(f, e, s)| {
            let templates = session
                .harness()
                .pipeline(&e.pipeline)
                .map(|p| templates(session, p, s))
                .unwrap_or_default();
            Detail {
                file: Some(f.clone()),
                execution: e.clone(),
                templates,
            }
        })
        .collect()
}

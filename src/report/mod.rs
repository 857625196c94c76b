//! Renderings of an [`Execution`]: a text report for people (ops, every
//! statement with its parameters, findings with their blast radius and undo
//! statements) and JSON for tools; the gate's outcome as JUnit XML
//! ([`junit`]) and SARIF 2.1.0 ([`sarif`]). Output is deterministic: no clock, no
//! addresses, findings in the order they happened.

use std::fmt::Write as _;

use serde::Serialize;

use crate::guard::{param_json, Finding, Kind, Policy, StatementCheck};
use crate::harness::domain::OpValue;
use crate::harness::execute::Execution;
use crate::harness::ops;
use crate::offer::harnesses;

pub mod html;
pub mod junit;
pub mod sarif;

static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static INVOCATION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// This binary's name, for headings and messages (`rowguard`, or a team's
/// own binary built on `rowguard::cli::main`, which sets it).
pub fn name() -> &'static str {
    PROGRAM.get().map_or("rowguard", String::as_str)
}

/// The command a person types to reproduce: this binary as it can be run
/// again from the current folder (its name when it is on `PATH`, else the
/// path it was started by, e.g. `target/release/rowguard` under `cargo
/// run`), as the command line sets it at its start; else [`name`].
pub fn program() -> &'static str {
    INVOCATION.get().map_or_else(name, String::as_str)
}

/// Sets [`name`] once, for the whole process.
pub fn set_program(name: &str) {
    let _ = PROGRAM.set(name.to_string());
}

/// Sets [`program`] once, for the whole process.
pub fn set_invocation(command: &str) {
    let _ = INVOCATION.set(command.to_string());
}

/// The command that replays `artifact` on `pipeline`.
pub fn repro_command(artifact: &std::path::Path, pipeline: &str) -> String {
    format!(
        "{} repro {} --pipeline {pipeline}",
        program(),
        artifact.display()
    )
}

/// Fills in each root cause's `repro` command (the tools leave it to the
/// report layer, which knows the binary's name).
pub fn fill_repro(s: &mut crate::tools::engine::Summary) {
    for c in &mut s.root_causes {
        c.repro = c.artifact.as_deref().map(|a| repro_command(a, &s.pipeline));
    }
}

/// Cells of a blast radius listed in text before eliding.
pub const SHOWN_CELLS: usize = 12;

/// One line describing an op of the harness called `harness`: its kind and
/// fields (its JSON when this process has no such harness).
pub fn op_line(harness: &str, op: &OpValue) -> String {
    match harnesses().iter().find(|h| h.name() == harness) {
        Some(h) => h.describe(op).unwrap_or_else(|| ops::describe(*h, op)),
        None => op.to_string(),
    }
}

/// One line saying what a policy allows.
pub fn policy_line(p: &Policy) -> String {
    let keys: Vec<String> = p.keys.iter().map(|k| param_json(k).to_string()).collect();
    let mut out = format!(
        "may write {} where {} in ({})",
        p.table,
        p.key_column,
        clip(&keys.join(", "), 200)
    );
    if !p.writable.is_empty() {
        let _ = write!(out, ", columns {}", p.writable.join(", "));
    }
    for e in &p.side_effects {
        let what: Vec<&str> = [
            (e.insert, "insert"),
            (e.update, "update"),
            (e.delete, "delete"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect();
        let _ = write!(out, "; {} {} by {}", what.join("/"), e.table, e.column);
    }
    out
}

fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        let _ = write!(out, "… ({} bytes in all)", s.len());
    }
    out
}

fn statement_text(out: &mut String, n: usize, s: &StatementCheck) {
    let api = serde_json::to_value(s.api)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let _ = writeln!(out, "  [{n}] {api}: {}", clip(&format!("{:?}", s.sql), 400));
    if !s.params.is_empty() {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| clip(&param_json(p).to_string(), 120))
            .collect();
        let _ = writeln!(out, "      params: [{}]", params.join(", "));
    }
    if let Some(e) = &s.error {
        let _ = writeln!(out, "      error: {e}");
    }
    for f in &s.findings {
        finding_text(out, f, "      ");
    }
}

/// One finding: kind and message at `indent`, then its blast radius (the
/// first [`SHOWN_CELLS`] cells) and its undo statements, two spaces deeper.
pub fn finding_text(out: &mut String, f: &Finding, indent: &str) {
    let _ = writeln!(out, "{indent}FINDING {}: {}", f.kind, f.message);
    let show = |v: &Option<String>| v.as_deref().map_or("(no row)".to_string(), |v| clip(v, 60));
    for c in f.outside.iter().take(SHOWN_CELLS) {
        let (before, after) = (show(&c.before), show(&c.after));
        let _ = writeln!(
            out,
            "{indent}  {} [{}] {}: {before} -> {after}",
            c.table, c.key, c.column
        );
    }
    if f.outside.len() > SHOWN_CELLS {
        let _ = writeln!(
            out,
            "{indent}  … and {} more cell(s)",
            f.outside.len() - SHOWN_CELLS
        );
    }
    if let Some(first) = f.undo.first() {
        let _ = writeln!(
            out,
            "{indent}  undo ({} statement(s)), first: {}",
            f.undo.len(),
            clip(first, 200)
        );
    }
}

pub use crate::guard::kinds_line;

/// The one-line verdict: `clean` or `finding (kind, kind)`.
pub fn verdict_line(e: &Execution) -> String {
    e.verdict_line()
}

/// The text report of one execution.
pub fn text(e: &Execution) -> String {
    let mut out = format!("pipeline: {}\n", e.pipeline);
    let mut n = 0;
    for (i, run) in e.ops.iter().enumerate() {
        let _ = writeln!(
            out,
            "op {}: {}",
            i + 1,
            clip(&op_line(&e.harness, &run.op), 600)
        );
        let targets: Vec<String> = run.targets.iter().map(|t| t.to_string()).collect();
        let _ = writeln!(
            out,
            "  policy: may write {} {}",
            run.table,
            clip(&targets.join(", "), 200)
        );
        for s in &run.statements {
            n += 1;
            statement_text(&mut out, n, s);
        }
        if let Some(e) = &run.error {
            let _ = writeln!(out, "  pipeline stopped: {e}");
        }
        for line in &run.transcript {
            let _ = writeln!(out, "  {}", clip(line, 2000).replace('\n', "\n    "));
        }
    }
    let _ = writeln!(out, "verdict: {}", verdict_line(e));
    out
}

/// The JSON report of one execution (`rowguard repro --format json`).
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub verdict: &'static str,
    pub kinds: Vec<Kind>,
    #[serde(flatten)]
    pub execution: &'a Execution,
}

pub fn json(e: &Execution) -> serde_json::Value {
    let report = JsonReport {
        verdict: if e.is_clean() { "clean" } else { "finding" },
        kinds: e.kinds().into_iter().collect(),
        execution: e,
    };
    serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
}

/// The text form of `rowguard check`: each statement, its findings and blast
/// radius, the verdict.
pub fn check_text(r: &crate::tools::check::CheckReport) -> String {
    let mut out = format!("policy: {}\n", policy_line(&r.policy));
    for (n, s) in r.statements.iter().enumerate() {
        let _ = writeln!(out, "[{}] {:?}", n + 1, s.sql);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "    error: {e}");
        }
        for f in &s.findings {
            finding_text(&mut out, f, "    ");
        }
    }
    let _ = writeln!(out, "verdict: {}", kinds_line(r.kinds.iter().copied()));
    out
}

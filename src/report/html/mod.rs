//! One self-contained HTML page per run, for the person who opens a CI
//! failure (`rowguard report`, `fuzz --html`, `gate --html`,
//! `repro --format html`): the run, the findings table, each finding's ops,
//! statements diffed against their templates, blast radius, undo statements
//! and commands, the discovery plot, and for the gate one row per corpus file.
//!
//! Contract:
//! - self-contained: inline CSS and SVG, no script at all, no network
//!   resource; a Content-Security-Policy meta (`default-src 'none'`, inline
//!   styles only) makes any script that slipped in inert anyway;
//! - attacker text is data: every note, reason, statement, message and
//!   file name goes through [`escape`] (hand-written, tested; no template
//!   engine, so nothing is ever inserted unescaped by default);
//! - bounded: at most [`MAX_DETAILS`] findings in detail and nothing more in
//!   detail past [`PAGE_STOP`] bytes, [`MAX_ROWS`] table rows,
//!   [`blast::SHOWN_ROWS`] rows per blast-radius table, statements cut at
//!   [`STATEMENT_BYTES`], [`SHOWN_UNDO`] undo statements, `data:` downloads
//!   within [`DOWNLOAD_BUDGET`] and the other cells in files next to the page
//!   ([`write`]); each cut is said on the page with a count;
//! - deterministic apart from the run's own numbers (no clock is read here).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::guard::Kind;
use crate::harness::execute::Execution;
use crate::tools::engine::artifacts::write_atomic;
use crate::tools::engine::series::Point;

pub mod blast;
pub mod build;
pub mod escape;
pub mod plot;
pub mod sqldiff;

use escape::text;

/// Findings shown in detail (the first of each kind first); the rest are
/// rows of the findings table.
pub const MAX_DETAILS: usize = 40;
/// Bytes of one statement's text shown.
pub const STATEMENT_BYTES: usize = 4_000;
/// Bytes of `data:` downloads one page embeds at most; larger blast radii
/// go to files next to the page (see [`write`]).
pub const DOWNLOAD_BUDGET: usize = 1_500_000;
/// Undo statements shown per finding.
pub const SHOWN_UNDO: usize = 100;
/// Characters of one undo statement shown.
pub const UNDO_CHARS: usize = 400;
/// Rows of the findings table and the gate table.
pub const MAX_ROWS: usize = 500;
/// Bytes of page past which no further statement or finding is shown in
/// detail (each is counted instead): with one statement's block on top, the
/// page stays under 5 MB whatever the run.
pub const PAGE_STOP: usize = 4_000_000;

/// The Content-Security-Policy of every page: nothing may load or run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = include_str!("style.css");

/// What the run was.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// `fuzz`, `gate` or `repro`.
    pub command: String,
    pub pipeline: String,
    pub backend: String,
    pub seed: Option<u64>,
    pub execs: Option<u64>,
    pub elapsed_s: Option<f64>,
    pub shapes: Option<usize>,
    pub corpus: Option<usize>,
    pub interrupted: bool,
}

/// One row of the findings table.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub kind: Kind,
    pub count: u64,
    pub elapsed_s: Option<f64>,
    pub execs: Option<u64>,
    pub shape: String,
    pub message: String,
    pub artifact: Option<PathBuf>,
    /// Index into [`Report::details`] of the replay of `artifact`.
    pub detail: Option<usize>,
}

/// One row of the root-cause table (`crate::tools::rootcause`).
#[derive(Debug, Clone)]
pub struct RootCauseRow {
    pub id: String,
    /// The signature in one line.
    pub line: String,
    pub kinds: Vec<Kind>,
    pub variants: usize,
    pub inputs: u64,
    pub minimized: bool,
    /// The command that replays its shortest reproducer.
    pub repro: Option<String>,
    /// Index into [`Report::details`] of the replay of that reproducer.
    pub detail: Option<usize>,
}

/// One replayed input shown in full.
#[derive(Debug, Clone)]
pub struct Detail {
    pub file: Option<PathBuf>,
    pub execution: Execution,
    /// Per op, the SQL of the same op run on placeholder text, in order.
    pub templates: Vec<Vec<String>>,
}

/// How a gate case ended (`error`, `failed`, `passed` in the gate's JSON
/// summary); the order is the gate table's, failures first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Error,
    Failed,
    Passed,
}

/// One gate case (a corpus file, or the fuzz run).
#[derive(Debug, Clone)]
pub struct GateRow {
    pub status: Status,
    pub suite: String,
    pub name: String,
    pub messages: Vec<String>,
}

/// Everything one page shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub run: RunInfo,
    /// The findings grouped by root cause: the page leads with these.
    pub root_causes: Vec<RootCauseRow>,
    pub findings: Vec<FindingRow>,
    pub details: Vec<Detail>,
    /// Findings with an artifact that were not replayed in detail.
    pub details_left_out: usize,
    pub series: Vec<Point>,
    pub gate: Vec<GateRow>,
}

impl Report {
    /// `clean`, `finding` or `could not check`.
    pub fn verdict(&self) -> &'static str {
        if self.gate.iter().any(|g| g.status == Status::Error) {
            "could not check"
        } else if !self.findings.is_empty() || self.gate.iter().any(|g| g.status == Status::Failed)
        {
            "finding"
        } else {
            "clean"
        }
    }
}

/// A file name as one shell word (quoted when it needs to be).
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn fmt_secs(s: Option<f64>) -> String {
    s.map_or("–".into(), |s| format!("{s:.2} s"))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("–".into(), |v| v.to_string())
}

/// A rendered page and the files it links to.
#[derive(Debug, Clone)]
pub struct Page {
    pub html: String,
    /// Cells too many to embed, for the folder named in [`render`].
    pub attachments: Vec<blast::Attachment>,
}

/// The whole page, for stdout: cells over the download budget are not kept
/// (the page says how to print them).
pub fn page(r: &Report) -> String {
    render(r, None).html
}

/// The folder next to a page written to `path` that holds its attachments:
/// `<file stem>-cells`, in characters safe in a relative URL.
pub fn attachments_folder(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-cells")
}

/// Writes the page to `path` (atomically) and, when some blast radius does
/// not fit the page, its cells into [`attachments_folder`] next to it.
pub fn write(r: &Report, path: &Path) -> crate::Result<()> {
    let folder = attachments_folder(path);
    let page = render(r, Some(&folder));
    let dir = path.parent().unwrap_or(Path::new("")).join(&folder);
    for a in &page.attachments {
        write_atomic(&dir.join(&a.name), &a.bytes)?;
    }
    write_atomic(path, page.html.as_bytes())
}

/// The whole page; cells over the download budget become attachments
/// linked under `folder` (a path relative to the page), or, without one,
/// are left out with a count.
pub fn render(r: &Report, folder: Option<&str>) -> Page {
    let mut out = String::with_capacity(64 * 1024);
    let verdict = r.verdict();
    let title = format!(
        "{} {} {}: {verdict}",
        crate::report::name(),
        r.run.command,
        r.run.pipeline
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        text(&title)
    );
    let class = verdict.replace(' ', "-");
    let _ = write!(
        out,
        "<header class=\"{class}\"><h1>{} {} <span class=\"pipeline\">{}</span></h1>\
         <p class=\"verdict\" id=\"verdict\">{}</p></header><main>",
        text(crate::report::name()),
        text(&r.run.command),
        text(&r.run.pipeline),
        verdict.to_uppercase()
    );
    run_section(&mut out, r);
    if !r.root_causes.is_empty() {
        causes_section(&mut out, &r.root_causes);
    }
    if !r.gate.is_empty() {
        gate_section(&mut out, &r.gate);
    }
    // the details come after the findings table and the plot, but which of
    // them fit decides which table rows link to one: render the table with
    // every link first (an upper bound on its size), then again if needed
    let mut findings = String::new();
    findings_section(&mut findings, r, r.details.len());
    let mut plot = String::new();
    plot_section(&mut plot, &r.series);
    let limit = PAGE_STOP.saturating_sub(out.len() + findings.len() + plot.len());
    let mut budget = blast::Budget {
        bytes: DOWNLOAD_BUDGET,
        folder: folder.map(String::from),
        attachments: Vec::new(),
    };
    let mut details = String::new();
    let mut shown = 0;
    for (i, d) in r.details.iter().enumerate() {
        if details.len() >= limit {
            break;
        }
        detail_section(&mut details, i, d, &mut budget, limit);
        shown += 1;
    }
    let stopped = r.details.len() - shown;
    if stopped > 0 {
        findings.clear();
        findings_section(&mut findings, r, shown);
    }
    out.push_str(&findings);
    out.push_str(&plot);
    out.push_str(&details);
    if r.details_left_out + stopped > 0 {
        let _ = write!(
            out,
            "<p class=\"left-out\" id=\"details-left-out\">{} more finding(s) are not shown in detail (the first {} are, one of each kind first{}); \
             their artifacts are in the findings table.</p>",
            r.details_left_out + stopped,
            shown,
            if stopped > 0 {
                "; the page stopped there to stay small"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "</main><footer>{} report · self-contained page: no script, no network · attacker text shown as data</footer></body></html>",
        text(crate::report::name())
    );
    Page {
        html: out,
        attachments: budget.attachments,
    }
}

fn run_section(out: &mut String, r: &Report) {
    let run = &r.run;
    let rate = match (run.execs, run.elapsed_s) {
        (Some(n), Some(s)) if s > 0.0 => format!(" ({:.0}/s)", n as f64 / s),
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<section id=\"run\"><h2>The run</h2><dl class=\"run\">\
         <dt>pipeline</dt><dd>{}</dd><dt>backend</dt><dd>{}</dd><dt>seed</dt><dd>{}</dd>\
         <dt>executions</dt><dd>{}{rate}</dd><dt>time</dt><dd>{}{}</dd><dt>distinct shapes</dt><dd>{}</dd>\
         <dt>corpus</dt><dd>{}</dd><dt>verdict</dt><dd class=\"v\">{}</dd></dl></section>",
        text(&run.pipeline),
        text(&run.backend),
        opt(run.seed),
        opt(run.execs),
        fmt_secs(run.elapsed_s),
        if run.interrupted { " (interrupted)" } else { "" },
        opt(run.shapes),
        opt(run.corpus),
        r.verdict()
    );
}

fn gate_section(out: &mut String, rows: &[GateRow]) {
    let mut sorted: Vec<&GateRow> = rows.iter().collect();
    sorted.sort_by_key(|g| g.status);
    let failing = rows.iter().filter(|g| g.status != Status::Passed).count();
    let _ = write!(
        out,
        "<section id=\"gate\"><h2>Gate: {} case(s), {failing} not passing</h2>\
         <table class=\"gate\"><thead><tr><th>result</th><th>suite</th><th>case</th><th>why</th></tr></thead><tbody>",
        rows.len()
    );
    for g in sorted.iter().take(MAX_ROWS) {
        let (class, label) = match g.status {
            Status::Error => ("error", "ERROR"),
            Status::Failed => ("failed", "FAIL"),
            Status::Passed => ("passed", "ok"),
        };
        let _ = write!(
            out,
            "<tr class=\"gate-row {class}\"><td class=\"status\">{label}</td><td>{}</td><td>{}</td><td>",
            text(&g.suite),
            text(&g.name)
        );
        for m in &g.messages {
            let _ = write!(out, "<div>{}</div>", text(m));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if rows.len() > MAX_ROWS {
        let _ = write!(
            out,
            "<p class=\"left-out\">{} passing case(s) left out of the table.</p>",
            rows.len() - MAX_ROWS
        );
    }
    out.push_str("</section>");
}

/// The findings table; rows whose detail is one of the first `linked`
/// link to it.
/// The root causes, one row each: signature, kinds, variants, the command
/// replaying the shortest reproducer (linked to its detail).
fn causes_section(out: &mut String, causes: &[RootCauseRow]) {
    let _ = write!(
        out,
        "<section id=\"root-causes\"><h2><span id=\"n-root-causes\">{}</span> root cause(s)</h2>\
         <p>Findings grouped by where the user's text left its literal (or, with no text implicated, \
         the template statement and the tables it wrote); each with its shortest reproducer.</p>\
         <table class=\"root-causes\"><thead><tr><th>#</th><th>root cause</th><th>kinds</th><th>variants</th>\
         <th>inputs</th><th>reproduce</th></tr></thead><tbody>",
        causes.len()
    );
    for (i, c) in causes.iter().enumerate().take(MAX_ROWS) {
        let link = match c.detail {
            Some(d) => format!("<a href=\"#finding-{d}\">{}</a>", i + 1),
            None => (i + 1).to_string(),
        };
        let kinds: String = c
            .kinds
            .iter()
            .map(|k| format!("<span class=\"kind {k}\">{k}</span> ", k = k.as_str()))
            .collect();
        let repro = match &c.repro {
            Some(r) => format!(
                "<code class=\"repro\">{}</code>{}",
                text(r),
                if c.minimized { " (minimized)" } else { "" }
            ),
            None => "–".into(),
        };
        let _ = write!(
            out,
            "<tr class=\"root-cause-row\" id=\"root-cause-{}\"><td>{link}</td><td><code class=\"signature\">{}</code></td>\
             <td>{kinds}</td><td>{}</td><td>{}</td><td>{repro}</td></tr>",
            text(&c.id),
            text(&clip(&c.line, 400)),
            c.variants,
            c.inputs
        );
    }
    out.push_str("</tbody></table></section>");
}

fn findings_section(out: &mut String, r: &Report, linked: usize) {
    let inputs: u64 = r.findings.iter().map(|f| f.count).sum();
    let _ = write!(
        out,
        "<section id=\"findings\"><h2><span id=\"n-findings\">{}</span> distinct finding(s), {inputs} input(s)</h2>",
        r.findings.len()
    );
    // with root causes above, the per-shape rows are one click away
    let collapsed = !r.root_causes.is_empty() && !r.findings.is_empty();
    if collapsed {
        out.push_str(
            "<details id=\"findings-by-shape\"><summary>by kind and statement shape</summary>",
        );
    }
    if r.findings.is_empty() {
        out.push_str("<p>No finding: every statement stayed inside its target row.</p></section>");
        return;
    }
    out.push_str(
        "<table class=\"findings\"><thead><tr><th>#</th><th>kind</th><th>count</th><th>first seen</th>\
         <th>statement shape</th><th>message</th></tr></thead><tbody>",
    );
    for (i, f) in r.findings.iter().enumerate().take(MAX_ROWS) {
        let first = match (f.elapsed_s, f.execs) {
            (Some(s), Some(n)) => format!("{s:.2} s, {n} execs"),
            _ => "–".into(),
        };
        let link = match f.detail {
            Some(d) if d < linked => format!("<a href=\"#finding-{d}\">{}</a>", i + 1),
            _ => (i + 1).to_string(),
        };
        let _ = write!(
            out,
            "<tr class=\"finding-row\"><td>{link}</td><td><span class=\"kind {k}\">{k}</span></td><td>{}</td><td>{first}</td>\
             <td><code class=\"shape\">{}</code></td><td>{}</td></tr>",
            f.count,
            text(&clip(&f.shape, 300)),
            text(&clip(&f.message, 300)),
            k = f.kind.as_str()
        );
    }
    out.push_str("</tbody></table>");
    if r.findings.len() > MAX_ROWS {
        let _ = write!(
            out,
            "<p class=\"left-out\">{} finding(s) left out of the table (all are in the JSON summary and the artifacts folder).</p>",
            r.findings.len() - MAX_ROWS
        );
    }
    if collapsed {
        out.push_str("</details>");
    }
    out.push_str("</section>");
}

fn plot_section(out: &mut String, series: &[Point]) {
    out.push_str("<section id=\"discovery\"><h2>Discovery over time</h2>");
    match plot::svg(series) {
        Some(svg) => {
            out.push_str(&svg);
            if let Some(last) = series.last() {
                let _ = write!(
                    out,
                    "<p class=\"dim\">{} point(s) over {} executions in {:.1} s: {} shapes, corpus {}, {} finding(s) at the end.</p>",
                    series.len(),
                    last.execs,
                    last.elapsed_s,
                    last.shapes,
                    last.corpus,
                    last.findings
                );
            }
        }
        None => out.push_str(
            "<p class=\"dim\">No time series: this page replays inputs, it is not a fuzz run.</p>",
        ),
    }
    out.push_str("</section>");
}

fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// An op for the page: its kind, then each field; the free-text fields
/// (what the user typed) in `code.user`.
fn op_html(harness: &str, op: &crate::harness::domain::OpValue) -> String {
    let Some(h) = crate::offer::harnesses()
        .iter()
        .find(|h| h.name() == harness)
    else {
        return format!("<code>{}</code>", text(&clip(&op.to_string(), 2_000)));
    };
    let kind = crate::harness::ops::kind(*h, op);
    let texts = crate::harness::ops::text_fields(*h, op);
    let serde_json::Value::Object(map) = op else {
        return format!("<code>{}</code>", text(&clip(&op.to_string(), 2_000)));
    };
    let fields: Vec<String> = map
        .iter()
        .filter(|(_, v)| v.as_str() != Some(kind.as_str()))
        .map(|(name, v)| match v {
            serde_json::Value::String(s) if texts.iter().any(|t| t == &format!("/{name}")) => {
                format!(
                    "<span class=\"field\">{}</span> <code class=\"user\">{}</code>",
                    text(name),
                    text(&clip(s, 2_000))
                )
            }
            other => format!("{} {}", text(name), text(&clip(&other.to_string(), 200))),
        })
        .collect();
    format!("{} {}", text(&kind), fields.join("; "))
}

/// One finding in detail; no statement is started once `out` holds
/// `limit` bytes.
fn detail_section(
    out: &mut String,
    i: usize,
    d: &Detail,
    budget: &mut blast::Budget,
    limit: usize,
) {
    let e = &d.execution;
    let kinds = crate::report::verdict_line(e);
    let file = d.file.as_ref().map(|p| p.display().to_string());
    let _ = write!(
        out,
        "<section class=\"finding\" id=\"finding-{i}\"><h2>Finding {}: {}</h2>",
        i + 1,
        text(&kinds)
    );
    if let Some(f) = &file {
        let _ = write!(
            out,
            "<p class=\"dim\">input <code>{}</code> on pipeline <b>{}</b></p>",
            text(f),
            text(&e.pipeline)
        );
    }
    let mut n = 0;
    for (k, run_op) in e.ops.iter().enumerate() {
        let targets: Vec<String> = run_op.targets.iter().map(|t| format!("#{t}")).collect();
        let _ = write!(
            out,
            "<div class=\"op\"><h3>Op {}</h3><p>{}</p><p class=\"dim\">policy: may write {} {}</p>",
            k + 1,
            op_html(&e.harness, &run_op.op),
            text(&run_op.table),
            text(&clip(&targets.join(", "), 300))
        );
        let templates = d.templates.get(k).map(Vec::as_slice).unwrap_or(&[]);
        for (j, s) in run_op.statements.iter().enumerate() {
            if out.len() >= limit {
                let _ = write!(
                    out,
                    "<p class=\"left-out\">{} more statement(s) of this op left out to keep the page small: \
                     <code>rowguard repro FILE</code> prints every one.</p>",
                    run_op.statements.len() - j
                );
                break;
            }
            n += 1;
            statement(
                out,
                n,
                s,
                templates.get(j).map(String::as_str),
                &format!("finding-{i}-stmt-{n}"),
                budget,
            );
        }
        if let Some(err) = &run_op.error {
            let _ = write!(
                out,
                "<p class=\"error\">pipeline stopped: {}</p>",
                text(err)
            );
        }
        if !run_op.transcript.is_empty() {
            let lines: Vec<String> = run_op
                .transcript
                .iter()
                .map(|l| text(&clip(l, 2000)))
                .collect();
            let _ = write!(out, "<pre class=\"transcript\">{}</pre>", lines.join("\n"));
        }
        out.push_str("</div>");
    }
    if let Some(f) = &file {
        let p = shell_word(f);
        let pipe = shell_word(&e.pipeline);
        let _ = write!(
            out,
            "<h4>Replay and shrink</h4><pre class=\"copy commands\">{prog} repro {} --pipeline {}\n{prog} minimize {} --pipeline {} -o min.json</pre>",
            text(&p),
            text(&pipe),
            text(&p),
            text(&pipe),
            prog = text(crate::report::program())
        );
    }
    out.push_str("</section>");
}

fn statement(
    out: &mut String,
    n: usize,
    s: &crate::guard::StatementCheck,
    template: Option<&str>,
    name: &str,
    budget: &mut blast::Budget,
) {
    let api = serde_json::to_value(s.api)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let class = if s.findings.is_empty() {
        "stmt clean"
    } else {
        "stmt bad"
    };
    let _ = write!(
        out,
        "<div class=\"{class}\"><h4>Statement {n} <span class=\"dim\">{}</span></h4>",
        text(&api)
    );
    match template {
        Some(t) => {
            let d = sqldiff::diff(&s.sql, t, STATEMENT_BYTES);
            let note = if d.escaped_tokens > 0 {
                format!("<p class=\"escaped\">User text left its literal: {} token(s) of SQL that the template does not have (marked red).</p>", d.escaped_tokens)
            } else {
                "<p class=\"dim\">Same tokens as the template; user text stayed inside its literals (marked yellow).</p>".to_string()
            };
            let _ = write!(
                out,
                "{note}<div class=\"pair\"><div><div class=\"cap\">statement as run</div><pre class=\"sql\">{}</pre></div>\
                 <div><div class=\"cap\">template (same op, placeholder text)</div><pre class=\"sql template\">{}</pre></div></div>",
                d.statement, d.template
            );
        }
        None => {
            let _ = write!(
                out,
                "<pre class=\"sql\">{}</pre>",
                sqldiff::plain(&s.sql, STATEMENT_BYTES)
            );
        }
    }
    if !s.params.is_empty() {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| clip(&crate::guard::param_json(p).to_string(), 200))
            .collect();
        let _ = write!(
            out,
            "<p class=\"params\">parameters: <code>[{}]</code></p>",
            text(&params.join(", "))
        );
    }
    if let Some(t) = &s.ignored_tail {
        let _ = write!(
            out,
            "<p class=\"error\">ignored after NUL: <code>{}</code></p>",
            text(&clip(t, 500))
        );
    }
    if let Some(e) = &s.error {
        let _ = write!(out, "<p class=\"error\">error: {}</p>", text(&clip(e, 500)));
    }
    for f in &s.findings {
        let _ = write!(
            out,
            "<div class=\"kind-box\"><span class=\"kind {k}\">{k}</span> {}</div>",
            text(&clip(&f.message, 1_000)),
            k = f.kind.as_str()
        );
        if !f.outside.is_empty() {
            blast::render(out, &f.outside, name, budget);
        }
        if !f.undo.is_empty() {
            let _ = write!(
                out,
                "<h4>Undo ({} statement(s), newest change first)</h4><pre class=\"copy undo\">",
                f.undo.len()
            );
            for u in f.undo.iter().take(SHOWN_UNDO) {
                escape::push(out, &clip(u, UNDO_CHARS));
                out.push('\n');
            }
            out.push_str("</pre>");
            let cut = f
                .undo
                .iter()
                .take(SHOWN_UNDO)
                .filter(|u| u.chars().nth(UNDO_CHARS).is_some())
                .count();
            if cut > 0 {
                let _ = write!(
                    out,
                    "<p class=\"left-out\">{cut} undo statement(s) cut at {UNDO_CHARS} characters (ending in …): <code>{} repro FILE --format json</code> prints them whole.</p>", text(crate::report::program())
                );
            }
            if f.undo.len() > SHOWN_UNDO {
                let _ = write!(
                    out,
                    "<p class=\"left-out\">{} more undo statement(s) left out: <code>{} repro FILE --format json</code> prints all.</p>",
                    f.undo.len() - SHOWN_UNDO,
                    text(crate::report::program())
                );
            }
        }
    }
    out.push_str("</div>");
}

//! `rowguard fuzz`: the built-in engine (`crate::tools::engine`) on one
//! pipeline. On a terminal: a live status line and a line for the first
//! finding of each kind on stderr;
//! the summary (text, or one JSON object) on stdout at the end. Ctrl-C,
//! SIGTERM or SIGHUP ends the run and keeps everything found: artifacts are
//! written before a finding is reported, the summary says `interrupted`, and
//! the exit code is still by what was found (1 a finding, else 0).

use super::outln;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use crate::guard::Kind;
use crate::tools::engine::{self, Found, Summary};
use crate::{harness::choice, report};
use anyhow::Context;

use super::Format;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// Pipeline to fuzz (default: $ROWGUARD_PIPELINE, else safe).
    #[arg(long)]
    pipeline: Option<String>,
    /// Stop after this many seconds.
    #[arg(long, conflicts_with = "runs")]
    time: Option<u64>,
    /// Stop after this many executions (with --jobs 1, repeats exactly).
    #[arg(long)]
    runs: Option<u64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads, each with its own database.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Finding kinds that count, comma-separated, or `all` (default: all but sql-error).
    #[arg(long)]
    kinds: Option<String>,
    /// Folder of seed inputs; new interesting inputs are written into it.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where each finding's input goes (default: artifacts/<pipeline>/ at the
    /// project's root, the Cargo workspace or package at or above the current folder).
    #[arg(long)]
    artifacts: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// A libFuzzer dictionary (`{bin} dict` writes one) whose words go into text fields, in
    /// four case variants; repeatable.
    #[arg(long = "dict", value_name = "FILE")]
    dict: Vec<PathBuf>,
    /// Source file or folder to harvest words from (Rust, PHP, Python, JS/TS, Ruby, Go, Java; quoted strings of other languages), comparison operands first; repeatable (under `app`: default the spec's `source`).
    #[arg(long, value_name = "PATH")]
    source: Vec<PathBuf>,
    /// Also write the run as one self-contained HTML page here (cells of a
    /// blast radius too large to embed go to `<stem>-cells/` next to it).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Seconds to minimize the root causes after fuzzing, in all (at most 2 s each; 0: off).
    #[arg(long, value_name = "SECS", default_value_t = engine::MINIMIZE_TOTAL.as_secs())]
    minimize_time: u64,
    /// Also list every distinct finding by kind and statement shape (by
    /// default: one block per root cause and one line per kind).
    #[arg(long)]
    verbose: bool,
}

/// The process-wide stop flag: SIGINT (Ctrl-C), SIGTERM (`timeout`, Docker,
/// a cancelled CI job) and SIGHUP (a closed terminal) set it and cancel any
/// server-side query in flight ([`rowguard_guard::interrupt`]); the handler
/// is installed for every command by [`super::run`]. A second signal exits
/// at once with 130 (artifacts are already on disk).
pub fn stop_flag() -> anyhow::Result<&'static AtomicBool> {
    Ok(rowguard_guard::interrupt::flag())
}

/// `all` or a comma-separated list of kinds.
pub fn kinds(list: &str) -> anyhow::Result<std::collections::BTreeSet<Kind>> {
    if list.trim() == "all" {
        return Ok(Kind::ALL.into_iter().collect());
    }
    Ok(choice::parse_kinds(list)?)
}

/// On a terminal, one line for the first finding of each kind (the status
/// line counts the rest).
fn announce(f: &Found) {
    static SEEN: Mutex<BTreeSet<Kind>> = Mutex::new(BTreeSet::new());
    let first = SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(f.kind);
    if !first {
        return;
    }
    let at = f
        .artifact
        .as_ref()
        .map(|p| format!(" -> {}", p.display()))
        .unwrap_or_default();
    eprintln!(
        "\r\x1b[Kfirst {} after {:.2} s ({} execs){at}",
        f.kind, f.elapsed_s, f.execs
    );
}

fn print_text(s: &Summary, verbose: bool) {
    outln!(
        "pipeline {}, seed {}, jobs {}: {} execs in {:.1} s ({:.0}/s); {} shapes, {} access sets, {} error classes; corpus {}{}",
        s.pipeline,
        s.seed,
        s.jobs,
        s.execs,
        s.elapsed_s,
        s.execs as f64 / s.elapsed_s.max(1e-3),
        s.shapes,
        s.access_sets,
        s.error_classes,
        s.corpus,
        if s.interrupted { " (interrupted)" } else { "" }
    );
    for w in &s.warnings {
        outln!("warning: {w}");
    }
    if s.findings.is_empty() {
        outln!("no findings");
        return;
    }
    outln!(
        "{} root cause(s), {} distinct finding(s):",
        s.root_causes.len(),
        s.findings.len()
    );
    for c in &s.root_causes {
        let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
        outln!(
            "root cause {}: {} ({} variant(s), {} input(s), first after {:.2} s)",
            c.id,
            kinds.join(", "),
            c.variants,
            c.inputs,
            c.elapsed_s
        );
        outln!("  {}", c.line().chars().take(300).collect::<String>());
        if let Some(r) = &c.repro {
            let min = if c.minimized { " (minimized)" } else { "" };
            outln!("  reproduce{min}: {r}");
        }
    }
    if !verbose {
        let by_kind: Vec<String> = Kind::ALL
            .into_iter()
            .filter_map(|kind| {
                let of_kind: Vec<&Found> = s.findings.iter().filter(|f| f.kind == kind).collect();
                let inputs: u64 = of_kind.iter().map(|f| f.count).sum();
                (!of_kind.is_empty())
                    .then(|| format!("{kind} {} shape(s) {inputs} input(s)", of_kind.len()))
            })
            .collect();
        outln!(
            "findings by kind: {} (--verbose lists each; all in --format json and the artifacts folder)",
            by_kind.join("; ")
        );
        return;
    }
    outln!("findings by kind and statement shape:");
    for kind in Kind::ALL {
        let of_kind: Vec<&Found> = s.findings.iter().filter(|f| f.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let inputs: u64 = of_kind.iter().map(|f| f.count).sum();
        outln!(
            "{kind}: {} distinct statement shape(s), {inputs} input(s)",
            of_kind.len()
        );
        for f in &of_kind {
            outln!(
                "  x{} first after {:.2} s ({} execs): {}",
                f.count,
                f.elapsed_s,
                f.execs,
                f.message.chars().take(200).collect::<String>()
            );
            outln!(
                "    shape: {}",
                f.shape.chars().take(200).collect::<String>()
            );
            for line in &f.transcript {
                outln!("    {}", line.chars().take(400).collect::<String>());
            }
            if let Some(e) = &f.artifact_error {
                outln!("    artifact not written: {e}");
            }
            if let Some(p) = &f.artifact {
                outln!(
                    "    reproduce: {} repro {} --pipeline {}",
                    report::program(),
                    p.display(),
                    s.pipeline
                );
            }
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let harness = super::harness(None)?;
    let decoded = crate::harness::scenario::decode(harness, b"");
    let pipeline = choice::choose_pipeline(harness, args.pipeline.as_deref(), &decoded)?;
    let mut cfg = engine::Config::new(pipeline);
    cfg.database = args.db.options();
    cfg.seed = args.seed;
    cfg.jobs = args.jobs;
    cfg.runs = args.runs;
    cfg.time = args.time.map(Duration::from_secs);
    if let Some(list) = &args.kinds {
        cfg.kinds = kinds(list)?;
    }
    cfg.corpus = args.corpus;
    // under `app SPEC`, the spec's `source` is read without being told
    // (a spec names it for its words; a Rust harness's fuzz takes --source)
    let source = match args.source.is_empty() && super::in_app() {
        true => super::default_sources(harness)?,
        false => args.source,
    };
    cfg.dictionary = super::dict::words(&args.dict, &source)?;
    cfg.artifacts = Some(
        args.artifacts
            .unwrap_or_else(|| super::default_artifacts(pipeline.name())),
    );
    cfg.status = true;
    if args.format == Format::Text && std::io::stderr().is_terminal() {
        cfg.on_finding = Some(announce);
    }
    cfg.minimize = Duration::from_secs(args.minimize_time);
    let mut summary = engine::run(&cfg, stop_flag()?)?;
    report::fill_repro(&mut summary);
    if let Some(path) = &args.html {
        let page =
            report::html::build::from_fuzz(&summary, cfg.database.as_ref(), &|p| p.to_path_buf())?;
        report::html::write(&page, path).with_context(|| "writing the HTML report")?;
    }
    match args.format {
        Format::Text => print_text(&summary, args.verbose),
        Format::Json => outln!("{}", serde_json::to_string(&summary)?),
    }
    Ok(if summary.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

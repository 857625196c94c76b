//! `rowguard minimize FILE`: the smallest input that makes the same finding
//! kind on the same pipeline (`crate::tools::minimize`), written as a
//! human-readable JSON reproducer to `-o OUT` or stdout. Exit 0 when written;
//! 2 when the input makes no finding (nothing to keep) or cannot be read.

use super::out;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::harness::choice::choose_pipeline;
use crate::harness::execute::{execute, Session};
use crate::harness::scenario::{self, Reproducer};
use crate::tools::engine::artifacts;
use crate::tools::minimize;
use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The input: a JSON reproducer, an engine or cargo-fuzz artifact.
    input: PathBuf,
    /// Pipeline (default: the reproducer's, else $ROWGUARD_PIPELINE, else safe).
    #[arg(long)]
    pipeline: Option<String>,
    /// Write the reproducer here instead of stdout.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = &args.input;
    let bytes = crate::tools::input::read_file(path)?;
    let harness = super::harness(Some(&bytes))?;
    let decoded =
        scenario::decode_file(harness, &bytes).with_context(|| format!("{}", path.display()))?;
    let pipeline = choose_pipeline(harness, args.pipeline.as_deref(), &decoded)?;
    let mut session = Session::open(harness, None)?;
    let made = execute(&mut session, pipeline, &decoded.scenario)?.kinds();
    let Some(kind) = minimize::target_kind(&decoded.expect, &made) else {
        anyhow::bail!(
            "{}: clean on {}, nothing to minimize",
            path.display(),
            pipeline.name()
        );
    };
    let min = minimize::minimize(&mut session, pipeline, &decoded.scenario, kind)?;
    let json = Reproducer::new(&min.scenario, pipeline, vec![kind]).to_json();
    eprintln!(
        "{}: kept {kind} on {}: {} op(s) -> {}, {} -> {} bytes ({} candidate runs)",
        crate::report::name(),
        pipeline.name(),
        decoded.scenario.ops.len(),
        min.scenario.ops.len(),
        bytes.len(),
        json.len(),
        min.execs
    );
    match &args.output {
        Some(out) => artifacts::write_atomic(out, json.as_bytes())?,
        None => out!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

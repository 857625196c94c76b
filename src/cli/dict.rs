//! `rowguard dict --source PATH... [-o FILE]`: words harvested from the code
//! under test (`crate::tools::dict`), with the harness fixture's words and
//! keys and their compositions (what libFuzzer cannot learn while running),
//! written as one libFuzzer dictionary merged with `fuzz/rowguard.dict`:
//! comparison operands first. For
//! `rowguard fuzz --dict FILE` and libFuzzer's `-dict=FILE` alike.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::tools::dict::{self, Rank};
use crate::tools::engine::artifacts::write_atomic;
use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Source files or folders: Rust, PHP, Python, JavaScript, TypeScript, Ruby, Go and Java parsed; the quoted strings of other languages.
    #[arg(long, required = true, num_args = 1..)]
    source: Vec<PathBuf>,
    /// Write the dictionary here (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Harvests `paths`, printing one warning line per file skipped.
pub fn harvest(paths: &[PathBuf]) -> anyhow::Result<dict::Dictionary> {
    let h = dict::harvest_sources(paths)?;
    for s in &h.skipped {
        eprintln!(
            "{}: warning: {}: {}, skipped",
            crate::report::name(),
            s.path.display(),
            s.reason.replace('\n', " ")
        );
    }
    if h.cut > 0 {
        eprintln!(
            "{}: warning: {} harvested words left out: a dictionary holds at most {} (compared words kept first)",
 crate::report::name(),
            h.cut,
            dict::MAX_WORDS
        );
    }
    anyhow::ensure!(
        h.files > 0,
        "no source file under {} could be read",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(h.dictionary)
}

/// The words of `--dict` files and `--source` paths, merged (empty when none given).
pub fn words(dicts: &[PathBuf], sources: &[PathBuf]) -> anyhow::Result<dict::Dictionary> {
    let mut all = Vec::new();
    for d in dicts {
        all.push(dict::Dictionary::load(d)?);
    }
    if !sources.is_empty() {
        all.push(harvest(sources)?);
    }
    Ok(dict::Dictionary::merge(all))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let harvested = harvest(&args.source)?;
    // what libFuzzer cannot learn at run time: the fixture's words and keys, and compositions
    let d = harvested.with_fixture(super::harness(None)?);
    let sources: Vec<String> = args
        .source
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let text = d.to_libfuzzer(&format!(
        "{} dict --source {}\nlibFuzzer format; names are ranks: reference templates are prefixes the code parses a key after;\ncompared words guard a branch;\nstored words and keys are the fixture's, composed ones join words and keys",
        crate::report::name(),
        sources.join(" ")
    ));
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    eprintln!(
        "{}: {} words ({} reference templates, {} compared, {} literals, {} fragments, {} stored, {} keys, {} composed) + {} shared tokens",
        crate::report::name(),
        d.words.len(),
        d.ranked(Rank::Reference).count(),
        d.ranked(Rank::Compared).count(),
        d.ranked(Rank::Literal).count(),
        d.ranked(Rank::Fragment).count(),
        d.ranked(Rank::Stored).count(),
        d.ranked(Rank::Key).count(),
        d.ranked(Rank::Composed).count(),
        crate::harness::scenario::dict::tokens().len()
    );
    Ok(ExitCode::SUCCESS)
}

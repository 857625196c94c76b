//! `rowguard repro FILE|DIR...`: replay inputs and print the decoded ops,
//! every statement with its parameters, the verdict and the blast radius.
//! Every file is replayed even when one is unreadable (its error is one line
//! on stderr): a finding already made is never lost.

use super::{out, outln};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::tools::repro;
use crate::{harness::execute, report};
use anyhow::Context;

/// Output format of `repro`: the shared text and JSON, or one HTML page for all inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Html,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// Input files or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Pipeline to replay on (default: the reproducer's, else $ROWGUARD_PIPELINE, else safe).
    #[arg(long)]
    pipeline: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Regular files under each path, folders walked in sorted order (the
/// engine's corpus walk: hidden files skipped).
pub fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            out.extend(crate::tools::engine::corpus::files_under(p)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn replay(
    path: &Path,
    args: &Args,
    session: &mut execute::Session,
    pages: &mut Vec<report::html::Detail>,
) -> anyhow::Result<bool> {
    let replay = repro::replay_file(session, path, args.pipeline.as_deref())?;
    let execution = &replay.execution;
    let found = !execution.is_clean();
    match args.format {
        Format::Text => {
            outln!("== {} ({:?} input)", path.display(), replay.encoding);
            out!("{}", report::text(execution));
            if found {
                outln!(
                    "reproduce: {} repro {} --pipeline {}",
                    report::program(),
                    shell_word(&path.display().to_string()),
                    execution.pipeline
                );
            }
        }
        Format::Json => {
            let mut v = report::json(execution);
            v["file"] = path.display().to_string().into();
            outln!("{v}");
        }
        Format::Html => {
            let templates =
                report::html::build::templates(session, replay.pipeline, &replay.scenario);
            pages.push(report::html::Detail {
                file: Some(path.to_path_buf()),
                execution: replay.execution,
                templates,
            });
        }
    }
    Ok(found)
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = expand(&args.inputs)?;
    if files.is_empty() {
        anyhow::bail!("no input files under {}", args.inputs[0].display());
    }
    // the harness the first file names, unless --harness says
    let first = crate::tools::input::read_file(&files[0]).ok();
    let harness = super::harness(first.as_deref())?;
    if let Some(p) = &args.pipeline {
        harness.pipeline(p)?;
    }
    let mut session = execute::Session::open(harness, args.db.options().as_ref())?;
    let (mut found, mut failed) = (false, false);
    let mut pages = Vec::new();
    for f in &files {
        match replay(f, &args, &mut session, &mut pages) {
            Ok(hit) => found |= hit,
            Err(e) => {
                eprintln!("{}: {}", crate::report::name(), super::error_line(&e));
                failed = true;
            }
        }
    }
    if args.format == Format::Html {
        let page = report::html::build::from_replays(pages, session.kind().as_str());
        print!("{}", report::html::page(&page));
    }
    Ok(if found {
        ExitCode::from(1)
    } else if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

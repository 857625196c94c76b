//! `rowguard report SUMMARY [--artifacts DIR] [-o FILE]`: the HTML page of a
//! run from what it left, the JSON summary of `fuzz --format json` or of
//! `gate --json`, and its artifacts folder (each finding's input is replayed
//! for the page). A missing or malformed summary, an artifact that is not
//! there, or a file in the artifacts folder that is not a rowguard artifact
//! is a one-line error (exit 2): a page is never built from half the data.
//! Exit code otherwise follows the run: 0 clean, 1 finding.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use rowguard::engine::artifacts::write_atomic;
use rowguard::engine::Summary;
use rowguard::guard::Kind;
use rowguard::report::html::{self, build};

#[derive(clap::Args)]
pub struct Args {
    /// The JSON summary of `rowguard fuzz --format json` or `rowguard gate --json`.
    summary: PathBuf,
    /// The artifacts folder the run wrote (default: the paths in the summary).
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Write the page here (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Whether a file name is an artifact's: `<kind>-<16 hex digits>[.json]`.
fn artifact_name(name: &str) -> bool {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    Kind::ALL.iter().any(|k| {
        stem.strip_prefix(k.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// Every file of the artifacts folder must be an artifact that decodes.
fn check_artifacts(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{}: not an artifacts folder", dir.display());
    }
    for f in rowguard::engine::corpus::files_under(dir)? {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !artifact_name(&name) {
            bail!(
                "{}: not a rowguard artifact (expected <kind>-<hash>[.json])",
                f.display()
            );
        }
        build::read_input(&f)?;
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // bounded and regular files only, like every input (a FIFO or /dev/zero is one line)
    let bytes = rowguard::tools::input::read_file(&args.summary)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("{}: empty summary", args.summary.display());
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a JSON summary", args.summary.display()))?;
    if let Some(dir) = &args.artifacts {
        check_artifacts(dir)?;
    }
    let dir = args.artifacts.clone();
    let resolve = move |p: &Path| match (&dir, p.file_name()) {
        (Some(d), Some(name)) => d.join(name),
        _ => p.to_path_buf(),
    };
    let what = || {
        format!(
            "{}: not a rowguard fuzz or gate summary",
            args.summary.display()
        )
    };
    let report = if value.get("cases").is_some() {
        let g: build::GateSummary = serde_json::from_value(value).with_context(what)?;
        build::from_gate(&g, "sqlite", &resolve)?
    } else {
        let s: Summary = serde_json::from_value(value).with_context(what)?;
        build::from_fuzz(&s, "sqlite", &resolve)?
    };
    let page = html::page(&report);
    match &args.output {
        Some(path) => {
            write_atomic(path, page.as_bytes()).with_context(|| "writing the HTML report")?
        }
        None => print!("{page}"),
    }
    Ok(match report.verdict() {
        "clean" => ExitCode::SUCCESS,
        "finding" => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

#[cfg(test)]
mod tests {
    use super::artifact_name;

    #[test]
    fn artifact_names_are_kind_dash_hash() {
        assert!(artifact_name("write-outside-target-0123456789abcdef.json"));
        assert!(artifact_name("sql-error-0123456789abcdef"));
        assert!(!artifact_name("notes.txt"));
        assert!(!artifact_name("sql-error-0123.json"));
    }
}

//! `rowguard report SUMMARY [--artifacts DIR] [-o FILE]`: the HTML page of a
//! run from what it left, the JSON summary of `fuzz --format json` or of
//! `gate --json`, and its artifacts folder (each finding's input is replayed
//! for the page). A missing or malformed summary, an artifact that is not
//! there, or anything in the artifacts folder that is not one of the run's
//! artifacts (another name, a folder, a device, content that does not have
//! the hash its name says, more than 16 MiB) is a one-line error (exit 2): a
//! page is never built from half the data or from junk.
//!
//! Artifacts are read only from the artifacts folder given, else the
//! summary's own folder, and by file name only: whatever path a finding's
//! `artifact` names (absolute, `../`), only its last component is used, it
//! must be a `<kind>-<hash>[.json]` (or `root-<id>-<hash>.json`) name, a regular file that is not a
//! symbolic link, and its content must have the hash in its name (the hash
//! the summary recorded). Anything else is refused (exit 2): the page never
//! embeds bytes of a file outside that folder.
//! Exit code otherwise follows the run: 0 clean, 1 finding.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::guard::Kind;
use crate::harness::domain::Domain;
use crate::report::html::{self, build};
use crate::tools::engine::artifacts::content_hash;
use crate::tools::engine::{Found, Summary};
use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// The server a PostgreSQL run's findings replay on.
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// The JSON summary of `{bin} fuzz --format json` or `{bin} gate --json`.
    summary: PathBuf,
    /// The artifacts folder the run wrote (default: the paths in the summary).
    #[arg(long)]
    artifacts: Option<PathBuf>,
    /// Write the page here (default: stdout); cells too many to embed go to
    /// `<stem>-cells/` next to it.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// The hash part of an artifact's file name, `<kind>-<16 hex digits>[.json]`,
/// or a root cause's `root-<16 hex id>-<16 hex digits>.json`.
fn artifact_hash(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    let hex = |h: &str| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some((id, hash)) = stem.strip_prefix("root-").and_then(|r| r.split_once('-')) {
        return (hex(id) && hex(hash)).then_some(hash);
    }
    Kind::ALL.iter().find_map(|k| {
        stem.strip_prefix(k.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .filter(|h| hex(h))
    })
}

/// Every entry of the artifacts folder must be an artifact the run wrote:
/// a regular file named `<kind>-<hash>[.json]` whose content has that hash
/// (the engine names artifacts after their content) and that decodes. The
/// folder is flat; the engine's own `.tmp-*` leftovers of an interrupted
/// write are skipped.
fn check_artifacts(harness: &dyn Domain, dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{}: not an artifacts folder", dir.display());
    }
    let entries = std::fs::read_dir(dir).with_context(|| dir.display().to_string())?;
    for (n, entry) in entries.enumerate() {
        let entry = entry.with_context(|| dir.display().to_string())?;
        if n >= crate::tools::input::walk::MAX_ENTRIES {
            bail!("{}: more entries than any run writes", dir.display());
        }
        let (path, name) = (entry.path(), entry.file_name());
        let name = name.to_string_lossy();
        if name.starts_with(".tmp-") {
            continue;
        }
        // the entry itself, not what a link names
        let meta = std::fs::symlink_metadata(&path).with_context(|| path.display().to_string())?;
        if meta.is_dir() {
            bail!(
                "{}: a folder inside the artifacts folder (it holds only <kind>-<hash>[.json] files)",
                path.display()
            );
        }
        if artifact_hash(&name).is_none() {
            bail!(
                "{}: not a rowguard artifact (expected <kind>-<hash>[.json])",
                path.display()
            );
        }
        verified(&path)?;
        build::read_input(harness, &path)?;
    }
    Ok(())
}

/// Reads the artifact at `path`, which must be a regular file (not a
/// symbolic link, FIFO or device) of at most 16 MiB whose content has the
/// hash its name says.
fn verified(path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some(hash) = artifact_hash(&name) else {
        bail!("{}: not a rowguard artifact name", path.display());
    };
    let file = crate::tools::input::open_no_follow(path)?;
    let bytes = crate::tools::input::read_open_file(file, path, crate::tools::input::MAX_INPUT)?;
    if content_hash(&bytes) != hash.to_ascii_lowercase() {
        bail!(
            "{}: its content does not have the hash in its name (not the file the run wrote)",
            path.display()
        );
    }
    Ok(())
}

/// Every artifact a summary names must be in `folder`, by file name, with
/// an artifact's name and the content that name's hash says, replayed or not.
fn check_referenced(findings: &[Found], folder: &Path) -> anyhow::Result<()> {
    for f in findings {
        let Some(a) = &f.artifact else { continue };
        let name = a.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name.filter(|n| artifact_hash(n).is_some()) else {
            bail!(
                "{}: the artifact of a {} finding is not named <kind>-<hash>[.json]; report reads artifacts by file name from {} only",
                a.display(),
                f.kind,
                folder.display()
            );
        };
        let path = folder.join(&name);
        if std::fs::symlink_metadata(&path).is_err() {
            bail!(
                "{}: the artifact of a {} finding is not there (pass the run's artifacts folder with --artifacts)",
                path.display(),
                f.kind
            );
        }
        verified(&path)?;
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // bounded and regular files only, like every input (a FIFO or /dev/zero is one line)
    let bytes = crate::tools::input::read_file(&args.summary)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("{}: empty summary", args.summary.display());
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a JSON summary", args.summary.display()))?;
    // the harness the run was on (a gate's fuzz stage says it too)
    let named = value
        .get("harness")
        .or_else(|| value.get("fuzz").and_then(|f| f.get("harness")))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());
    let harness = super::harness_or(named)?;
    if let Some(dir) = &args.artifacts {
        check_artifacts(harness, dir)?;
    }
    // artifacts come from this folder, by file name only
    let folder = match &args.artifacts {
        Some(d) => d.clone(),
        None => match args.summary.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let at = folder.clone();
    let resolve = move |p: &Path| at.join(p.file_name().unwrap_or_default());
    let what = || {
        format!(
            "{}: not a rowguard fuzz or gate summary",
            args.summary.display()
        )
    };
    let report = if value.get("cases").is_some() {
        let g: build::GateSummary = serde_json::from_value(value).with_context(what)?;
        if let Some(s) = &g.fuzz {
            check_referenced(&s.findings, &folder)?;
        }
        build::from_gate(&g, args.db.options().as_ref(), &resolve)?
    } else {
        let s: Summary = serde_json::from_value(value).with_context(what)?;
        check_referenced(&s.findings, &folder)?;
        build::from_fuzz(&s, args.db.options().as_ref(), &resolve)?
    };
    match &args.output {
        Some(path) => html::write(&report, path).with_context(|| "writing the HTML report")?,
        None => print!("{}", html::page(&report)),
    }
    Ok(match report.verdict() {
        "clean" => ExitCode::SUCCESS,
        "finding" => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

#[cfg(test)]
mod tests {
    use super::artifact_hash;

    #[test]
    fn artifact_names_are_kind_dash_hash() {
        assert_eq!(
            artifact_hash("write-outside-target-0123456789abcdef.json"),
            Some("0123456789abcdef")
        );
        assert_eq!(
            artifact_hash("sql-error-0123456789abcdef"),
            Some("0123456789abcdef")
        );
        assert_eq!(
            artifact_hash("root-0123456789abcdef-fedcba9876543210.json"),
            Some("fedcba9876543210")
        );
        assert_eq!(artifact_hash("root-0123-fedcba9876543210.json"), None);
        assert_eq!(artifact_hash("notes.txt"), None);
        assert_eq!(artifact_hash("sql-error-0123.json"), None);
        assert_eq!(artifact_hash("no-kind-0123456789abcdef.json"), None);
    }
}

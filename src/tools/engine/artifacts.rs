//! Finding artifacts: each finding's input, written atomically (a temp file
//! in the same folder, then a rename) before the finding is reported, so an
//! interrupted run never leaves a half-written or missing artifact.
//!
//! An artifact is a JSON reproducer naming the pipeline and the kind found
//! (`{"rowguard": 1, "pipeline": ..., "expect": [kind], "ops": [...]}`),
//! named `<kind>-<content hash>.json`: a person can read it, `rowguard repro`
//! replays it on the right pipeline, and the cargo-fuzz target decodes it
//! the same way. Should an input ever not survive the JSON round trip, its
//! raw bytes are written instead (`<kind>-<hash>`).
//!
//! A failed write (full disk, no permission) does not lose the finding: the
//! engine keeps it in its summary with the error instead of a path.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::guard::Kind;
use crate::harness::domain::Pipeline;
use crate::harness::scenario::{self, Reproducer, Scenario};
pub use crate::tools::hash::content_hash;

/// Writes `bytes` to `path` through a temp file and a rename; creates the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(crate::Error::io(path, e));
    }
    Ok(())
}

/// A temp file older than this is stale whoever made it (a write takes milliseconds).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether the `.tmp-<pid>-<n>` file at `path` was left by a run that is
/// gone: its process no longer exists (Linux: no `/proc/<pid>`), or it is
/// older than [`STALE_AFTER`]. A live run's temp file is never touched.
fn is_stale_tmp(path: &Path, name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix(".tmp-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") && !Path::new(&format!("/proc/{pid}")).exists() {
        return true;
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER)
}

/// Removes the temp files that killed runs left in `dir` (a `kill -9`
/// between the write and the rename); returns how many. Reading skips
/// hidden files anyway, so a leftover is clutter, never an input.
pub fn remove_stale_tmp(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            e.file_type().is_ok_and(|t| t.is_file())
                && is_stale_tmp(&e.path(), &name)
                && std::fs::remove_file(e.path()).is_ok()
        })
        .count()
}

/// The artifact bytes of an input that made `kind` on `pipeline`, and its file name.
pub fn artifact(
    scenario: &Scenario,
    raw: &[u8],
    pipeline: &dyn Pipeline,
    kind: Kind,
) -> (String, Vec<u8>) {
    let json = Reproducer::new(scenario, pipeline, vec![kind])
        .to_json()
        .into_bytes();
    if scenario::decode(pipeline.harness(), &json).scenario == *scenario {
        (format!("{kind}-{}.json", content_hash(&json)), json)
    } else {
        (format!("{kind}-{}", content_hash(raw)), raw.to_vec())
    }
}

/// Writes the artifact of a finding into `dir`; returns its path.
pub fn write(
    dir: &Path,
    scenario: &Scenario,
    raw: &[u8],
    pipeline: &dyn Pipeline,
    kind: Kind,
) -> crate::Result<PathBuf> {
    let (name, bytes) = artifact(scenario, raw, pipeline, kind);
    let path = dir.join(name);
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Writes a root cause's shortest reproducer into `dir` as
/// `root-<signature id>-<content hash>.json`; returns its path.
pub fn write_root(
    dir: &Path,
    id: &str,
    scenario: &Scenario,
    pipeline: &dyn Pipeline,
    kinds: &[Kind],
) -> crate::Result<PathBuf> {
    let json = Reproducer::new(scenario, pipeline, kinds.to_vec())
        .to_json()
        .into_bytes();
    let path = dir.join(format!("root-{id}-{}.json", content_hash(&json)));
    write_atomic(&path, &json)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_eq!(content_hash(b"a"), "af63dc4c8601ec8c");
    }
}

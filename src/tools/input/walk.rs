//! The one folder walk, shared by `dict --source`, `fuzz --corpus`,
//! `repro DIR` and the gate's corpus: every file under a folder, in sorted
//! path order (so a run repeats), hidden entries skipped, bounded whatever
//! the folder holds.
//!
//! - a folder is entered at most once, identified by device and inode: a
//!   symbolic link to a folder is followed the first time it is reached,
//!   and a link loop (`a -> .`, `a -> b -> a`) ends there;
//! - entries that are neither a regular file nor a folder (FIFO, device,
//!   socket, dangling link, anything on `/proc` or `/sys`) are never opened:
//!   they come back in [`Walk::special`] with what they are, and the caller
//!   skips them with a warning or refuses them, as its contract says;
//! - at most [`MAX_FILES`] files and [`MAX_ENTRIES`] entries: past either,
//!   the walk is an error (a caller must not check half a corpus and pass);
//! - a signal (SIGINT, SIGTERM, SIGHUP: [`crate::guard::interrupt`]) ends
//!   the walk with an error at the next entry.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::Error;

/// Most regular files one walk returns.
pub const MAX_FILES: usize = 50_000;
/// Most entries (files, folders, others) one walk looks at.
pub const MAX_ENTRIES: usize = 200_000;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files (links to regular files included), sorted by path.
    pub files: Vec<PathBuf>,
    /// Entries that are not regular files or folders, with what they are.
    pub special: Vec<(PathBuf, String)>,
}

impl Walk {
    /// Every path found, regular or not, sorted: for callers that refuse
    /// the special ones when they read them.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = self
            .files
            .iter()
            .cloned()
            .chain(self.special.iter().map(|(p, _)| p.clone()))
            .collect();
        all.sort();
        all
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The sorted, non-hidden entries of `dir`; a folder on a pseudo file
/// system is refused.
fn entries(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    let handle = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
    if let Some(fs) = super::pseudo_fs(&handle) {
        return Err(super::refused(
            dir,
            format!("is on {fs} (a pseudo file system); rowguard reads regular files only"),
        ));
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for (n, e) in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .enumerate()
    {
        // one folder of millions of entries is not listed into memory
        if n >= MAX_ENTRIES {
            return Err(too_many(dir, "entries", MAX_ENTRIES));
        }
        let Ok(e) = e else { continue };
        if !e.file_name().to_string_lossy().starts_with('.') {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

fn interrupted(root: &Path) -> Error {
    Error::Usage(format!(
        "{}: interrupted (SIGINT, SIGTERM or SIGHUP) while listing the folder",
        root.display()
    ))
}

/// Walks the folder `root` (see the module doc). `root` itself must be a
/// readable folder that is not on a pseudo file system.
pub fn walk(root: &Path) -> crate::Result<Walk> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(super::refused(root, "is not a folder".into()));
    }
    let mut seen: HashSet<(u64, u64)> = HashSet::from([identity(&meta)]);
    let mut stack = vec![entries(root)?.into_iter()];
    let mut out = Walk::default();
    let mut looked = 0usize;
    while let Some(top) = stack.last_mut() {
        let Some(path) = top.next() else {
            stack.pop();
            continue;
        };
        if crate::guard::interrupt::requested() {
            return Err(interrupted(root));
        }
        looked += 1;
        if looked > MAX_ENTRIES {
            return Err(too_many(root, "entries", MAX_ENTRIES));
        }
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                out.special.push((path, format!("cannot be read: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            if !seen.insert(identity(&meta)) {
                continue; // a folder already walked (a link to it, or a loop)
            }
            match entries(&path) {
                Ok(e) => stack.push(e.into_iter()),
                Err(crate::Error::Io { source, .. }) => {
                    out.special.push((path, source.to_string()))
                }
                Err(e) => out.special.push((path, e.to_string())),
            }
        } else if meta.is_file() {
            out.files.push(path);
            if out.files.len() > MAX_FILES {
                return Err(too_many(root, "files", MAX_FILES));
            }
        } else {
            out.special
                .push((path, super::not_regular_reason(meta.file_type())));
        }
    }
    Ok(out)
}

fn too_many(root: &Path, what: &str, limit: usize) -> Error {
    Error::Usage(format!(
        "{}: more than {limit} {what} under it; rowguard walks at most {limit}",
        root.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_followed_once_and_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/f"), b"x").unwrap();
        symlink(d.join("a"), d.join("a/b/up")).unwrap(); // a loop
        symlink(d, d.join("self")).unwrap(); // the root itself
        symlink(d.join("a/b"), d.join("z")).unwrap(); // a second way to b
        symlink(d.join("missing"), d.join("dangling")).unwrap();
        let w = walk(d).unwrap();
        assert_eq!(w.files, vec![d.join("a/b/f")]);
        assert_eq!(w.special.len(), 1, "{:?}", w.special);
        assert!(w.special[0].0.ends_with("dangling"));
    }

    #[test]
    fn special_files_are_listed_never_opened_and_proc_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/dev/zero", dir.path().join("zero.rs")).unwrap();
        let w = walk(dir.path()).unwrap();
        assert!(w.files.is_empty());
        assert!(
            w.special[0].1.contains("character device"),
            "{:?}",
            w.special
        );
        #[cfg(target_os = "linux")]
        {
            let e = walk(Path::new("/proc/self")).unwrap_err().to_string();
            assert!(e.contains("/proc"), "{e}");
            symlink("/proc/self", dir.path().join("proc")).unwrap();
            let w = walk(dir.path()).unwrap();
            assert!(w
                .special
                .iter()
                .any(|(p, why)| p.ends_with("proc") && why.contains("/proc")));
        }
    }
}

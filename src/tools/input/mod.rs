//! The one file-input layer: every file rowguard is handed (reproducers,
//! artifacts, corpus files, summaries, Rust sources, notes) is opened and
//! read here, and every folder is walked by [`walk`], so a FIFO, a device,
//! a `/proc` entry or a multi-GB file is a one-line error (or a skip the
//! caller reports) instead of a hang or an unbounded allocation.
//!
//! - the type is checked on the opened handle (`fstat`), not only on the
//!   path: only regular files are read. The path is checked first too, so a
//!   device or FIFO is never even opened; the open is non-blocking, so a
//!   FIFO swapped in between the two checks cannot hang it;
//! - files of a pseudo file system (`/proc`, `/sys`: sizes that read 0,
//!   contents that never end) are refused from the handle's file system;
//! - reads are capped by the bytes actually read (`take(limit + 1)`), not by
//!   the size the metadata claims, so a file that grows while read, or one
//!   whose size reads 0, is caught too;
//! - [`open_no_follow`] refuses a symbolic link (for files that must be
//!   inside a given folder: `rowguard report`'s artifacts).
//!
//! Why 16 MiB: the guard bounds every string SQLite makes at 16 MiB, so no
//! input above it can be checked as a whole anyway; the largest committed
//! reproducer is a few KiB.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::Error;

pub mod walk;

/// Largest input, in bytes, read whole.
pub const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// What a non-regular file is, for the error message.
fn file_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

pub(crate) fn refused(path: &Path, why: String) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
    )
}

/// Why a file of type `t` is not read (without its path).
pub(crate) fn not_regular_reason(t: std::fs::FileType) -> String {
    format!("is {}; rowguard reads regular files only", file_kind(t))
}

fn not_regular(path: &Path, t: std::fs::FileType) -> Error {
    refused(path, not_regular_reason(t))
}

/// The pseudo file system `file` lives on (`/proc`, `/sys`, ...), if any.
#[cfg(target_os = "linux")]
pub(crate) fn pseudo_fs(file: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    // SAFETY: fstatfs writes into the zeroed struct we own; the fd is open.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut s) } != 0 {
        return None;
    }
    // linux/magic.h
    match s.f_type as i64 {
        0x9fa0 => Some("/proc"),
        0x6265_6572 => Some("/sys"),
        0x6462_6720 => Some("debugfs"),
        0x7472_6163 => Some("tracefs"),
        0x6367_7270 | 0x2701_2012 => Some("a cgroup file system"),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pseudo_fs(_: &File) -> Option<&'static str> {
    None
}

/// Errors unless `path` is a regular file (symlinks followed). Nothing is opened.
pub fn check_regular(path: &Path) -> crate::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    Ok(meta)
}

fn open_with(path: &Path, no_follow: bool) -> crate::Result<File> {
    let meta = if no_follow {
        std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?
    } else {
        std::fs::metadata(path).map_err(|e| Error::io(path, e))?
    };
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | follow);
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    if let Some(fs) = pseudo_fs(&file) {
        return Err(refused(
            path,
            format!("is on {fs} (a pseudo file system); rowguard reads regular files only"),
        ));
    }
    Ok(file)
}

/// Opens the regular file at `path` (symlinks followed), checked on the handle.
pub fn open_regular(path: &Path) -> crate::Result<File> {
    open_with(path, false)
}

/// [`open_regular`], but a symbolic link (at the last component) is refused.
pub fn open_no_follow(path: &Path) -> crate::Result<File> {
    open_with(path, true)
}

/// The whole regular file at `path`, at most [`MAX_INPUT`] bytes.
pub fn read_file(path: &Path) -> crate::Result<Vec<u8>> {
    read_open_file(open_regular(path)?, path, MAX_INPUT)
}

/// Everything `r` gives (named `what` in errors), at most [`MAX_INPUT`] bytes.
pub fn read_capped(r: impl Read, what: &Path) -> crate::Result<Vec<u8>> {
    read_limited(r, what, MAX_INPUT)
}

/// The whole of an opened file, at most `limit` bytes: the size its metadata
/// claims is checked first (a sparse 3 GB file is not read), the bytes read
/// are what bounds it.
pub fn read_limited(r: impl Read, what: &Path, limit: u64) -> crate::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(what, e))?;
    if buf.len() as u64 > limit {
        return Err(too_big(what, limit));
    }
    Ok(buf)
}

/// [`read_limited`] on a file: refused from its claimed size before any read.
pub fn read_open_file(file: File, what: &Path, limit: u64) -> crate::Result<Vec<u8>> {
    let claimed = file.metadata().map_err(|e| Error::io(what, e))?.len();
    if claimed > limit {
        return Err(too_big(what, limit));
    }
    read_limited(file, what, limit)
}

fn too_big(path: &Path, limit: u64) -> Error {
    refused(
        path,
        format!("more than {limit} bytes; rowguard reads inputs up to {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_proc_are_refused_and_reads_are_capped() {
        let e = read_file(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
        assert!(read_file(Path::new("/")).is_err());
        #[cfg(target_os = "linux")]
        {
            let e = read_file(Path::new("/proc/self/status"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("/proc"), "{e}");
        }
        let zeros = std::io::repeat(0);
        let e = read_capped(zeros, Path::new("stdin"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than"), "{e}");
        assert_eq!(read_capped(&b"abc"[..], Path::new("x")).unwrap(), b"abc");
    }

    #[test]
    fn a_symlink_is_refused_where_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_regular(&link).is_ok());
        let e = open_no_follow(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
    }
}

//! Bounded reads of the files rowguard is handed (reproducers, artifacts,
//! corpus files, SQL on stdin): every whole-file read goes through here, so a
//! FIFO, a device or a multi-GB file is a one-line error instead of a hang or
//! an unbounded allocation.
//!
//! - only regular files are opened: a FIFO would block the open (no writer)
//!   or stream forever, a device (`/dev/zero`) never ends; both are refused
//!   from their metadata, before any open;
//! - at most [`MAX_INPUT`] bytes are read (`take(MAX_INPUT + 1)`, so a file
//!   that grows while read is caught too).
//!
//! Why 16 MiB: the guard bounds every string SQLite makes at 16 MiB, so no
//! input above it can be checked as a whole anyway; the largest committed
//! reproducer is a few KiB.

use std::io::Read;
use std::path::Path;

use crate::Error;

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
    } else {
        "not a regular file"
    }
}

fn refused(path: &Path, why: String) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
    )
}

/// Errors unless `path` is a regular file (symlinks followed). Nothing is opened.
pub fn check_regular(path: &Path) -> crate::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(refused(
            path,
            format!(
                "is {}; rowguard reads regular files only",
                file_kind(meta.file_type())
            ),
        ));
    }
    Ok(meta)
}

/// The whole regular file at `path`, at most [`MAX_INPUT`] bytes.
pub fn read_file(path: &Path) -> crate::Result<Vec<u8>> {
    let meta = check_regular(path)?;
    if meta.len() > MAX_INPUT {
        return Err(too_big(path, &format!("{} bytes", meta.len())));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_capped(file, path)
}

/// Everything `r` gives (named `what` in errors), at most [`MAX_INPUT`] bytes.
pub fn read_capped(r: impl Read, what: &Path) -> crate::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(what, e))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(too_big(what, &format!("more than {MAX_INPUT} bytes")));
    }
    Ok(buf)
}

fn too_big(path: &Path, size: &str) -> Error {
    refused(
        path,
        format!("{size}; rowguard reads inputs up to {MAX_INPUT} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_folders_are_refused_and_reads_are_capped() {
        let e = read_file(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
        assert!(read_file(Path::new("/")).is_err());
        let zeros = std::io::repeat(0);
        let e = read_capped(zeros, Path::new("stdin"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than"), "{e}");
        assert_eq!(read_capped(&b"abc"[..], Path::new("x")).unwrap(), b"abc");
    }
}

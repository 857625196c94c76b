//! The engine's corpus: inputs worth mutating further, and the `--corpus`
//! folder they are read from (seeds, walked in sorted order so a run
//! repeats) and written to (new interesting inputs, named by content hash).

use std::path::{Path, PathBuf};

use super::artifacts::{content_hash, write_atomic};
use crate::scenario::{self, Encoding, Scenario};

/// One input: its bytes and what `scenario::decode` makes of them.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub scenario: Scenario,
    /// Whether the bytes are a JSON reproducer (else read through `arbitrary`).
    pub json: bool,
}

impl Input {
    /// Decodes `bytes` through the one decode path.
    pub fn new(bytes: Vec<u8>) -> Input {
        let d = scenario::decode(&bytes);
        Input {
            json: d.encoding == Encoding::Json,
            scenario: d.scenario,
            bytes,
        }
    }
}

/// Every regular file under `dir` (hidden ones skipped), sorted by path.
pub fn files_under(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(files_under(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// The seeds under `dir` (a missing folder is an empty corpus: it is created
/// when the first interesting input is written).
pub fn read_seeds(dir: &Path) -> crate::Result<Vec<Vec<u8>>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    files_under(dir)?
        .into_iter()
        .map(|p| crate::input::read_file(&p))
        .collect()
}

/// Writes an interesting input into the corpus folder as `<hash>` (`.json`
/// for a reproducer); an input already there is left alone.
pub fn save(dir: &Path, input: &Input) -> crate::Result<PathBuf> {
    let ext = if input.json { ".json" } else { "" };
    let path = dir.join(format!("{}{ext}", content_hash(&input.bytes)));
    if !path.exists() {
        write_atomic(&path, &input.bytes)?;
    }
    Ok(path)
}

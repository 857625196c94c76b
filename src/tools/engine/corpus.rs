//! The engine's corpus: inputs worth mutating further, and the `--corpus`
//! folder they are read from (seeds, walked in sorted order so a run
//! repeats) and written to (new interesting inputs, named by content hash).

use std::path::{Path, PathBuf};

use super::artifacts::{content_hash, write_atomic};
use crate::harness::domain::Domain;
use crate::harness::scenario::{self, Encoding, Scenario};

/// One input: its bytes and what `scenario::decode` makes of them.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub scenario: Scenario,
    /// Whether the bytes are a JSON reproducer (else read through `arbitrary`).
    pub json: bool,
}

impl Input {
    /// Decodes `bytes` as operations of `domain`, through the one decode path.
    pub fn new(domain: &dyn Domain, bytes: Vec<u8>) -> Input {
        let d = scenario::decode(domain, &bytes);
        Input {
            json: d.encoding == Encoding::Json,
            scenario: d.scenario,
            bytes,
        }
    }
}

/// Every file under `dir` (hidden ones skipped), sorted by path, through the
/// one bounded walk ([`crate::tools::input::walk`]): a FIFO, device or socket is
/// listed (reading it is then refused, naming it), never opened.
pub fn files_under(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    Ok(crate::tools::input::walk::walk(dir)?.all())
}

/// Most bytes of seeds read from one corpus folder (past it, a one-line error).
pub const MAX_SEED_BYTES: u64 = 256 << 20;

/// The seeds under `dir` (a missing folder is an empty corpus: it is created
/// when the first interesting input is written). A file that is not a
/// regular file, or seeds above [`MAX_SEED_BYTES`] in all, is an error.
pub fn read_seeds(dir: &Path) -> crate::Result<Vec<Vec<u8>>> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(Vec::new());
    }
    let mut total = 0u64;
    let mut seeds = Vec::new();
    for p in files_under(dir)? {
        let bytes = crate::tools::input::read_file(&p)?;
        total += bytes.len() as u64;
        if total > MAX_SEED_BYTES {
            return Err(crate::Error::Usage(format!(
                "{}: more than {MAX_SEED_BYTES} bytes of seeds in all",
                dir.display()
            )));
        }
        seeds.push(bytes);
    }
    Ok(seeds)
}

/// The bytes a corpus file holds for `input`, and whether they are JSON:
/// its own bytes, except raw bytes that start with `{` (which `repro`,
/// `minimize` and the gate would take for a malformed reproducer): those are
/// written as the canonical JSON reproducer of the same scenario. `None`
/// when even that would not read back the same (never seen; not written).
pub fn file_form(domain: &dyn Domain, input: &Input) -> Option<(Vec<u8>, bool)> {
    if input.json || !scenario::looks_like_json(&input.bytes) {
        return Some((input.bytes.clone(), input.json));
    }
    let json = input.scenario.to_json();
    (scenario::decode(domain, &json).scenario == input.scenario).then_some((json, true))
}

/// Writes an interesting input into the corpus folder as `<hash>` (`.json`
/// for a reproducer; see [`file_form`]); an input already there is left
/// alone. `None` when the input has no faithful file form.
pub fn save(dir: &Path, domain: &dyn Domain, input: &Input) -> crate::Result<Option<PathBuf>> {
    let Some((bytes, json)) = file_form(domain, input) else {
        return Ok(None);
    };
    let ext = if json { ".json" } else { "" };
    let path = dir.join(format!("{}{ext}", content_hash(&bytes)));
    if !path.exists() {
        write_atomic(&path, &bytes)?;
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_inputs_that_look_like_json_are_saved_as_reproducers_of_the_same_scenario() {
        // raw bytes that start with `{`, decoded through `arbitrary`
        let mut bytes = b"{ not a reproducer".to_vec();
        bytes.extend((0u8..=255).cycle().take(600));
        let input = Input::new(crate::appointments::harness(), bytes);
        assert!(!input.json && !input.scenario.ops.is_empty());
        assert!(
            scenario::decode_file(crate::appointments::harness(), &input.bytes).is_err(),
            "repro refuses the raw bytes"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = save(dir.path(), crate::appointments::harness(), &input)
            .unwrap()
            .unwrap();
        let back = scenario::decode_file(
            crate::appointments::harness(),
            &crate::tools::input::read_file(&path).unwrap(),
        )
        .unwrap();
        assert_eq!(back.scenario, input.scenario);
        // plain raw bytes stay raw
        let plain = Input::new(
            crate::appointments::harness(),
            (0u8..=255).cycle().skip(1).take(600).collect(),
        );
        let path = save(dir.path(), crate::appointments::harness(), &plain)
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap(), plain.bytes);
    }
}

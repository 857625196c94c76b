//! `rowguard repro`: an input file decoded by the one `decode`, its pipeline
//! chosen by the one choice (flag, reproducer, `ROWGUARD_PIPELINE`, `safe`),
//! and replayed through the guard.

use std::path::{Path, PathBuf};

use crate::harness::choice::choose_pipeline;
use crate::harness::domain::Pipeline;
use crate::harness::execute::{execute, Execution, Session};
use crate::harness::scenario::{decode_file, Encoding, Scenario};

/// One replayed input.
#[derive(Clone)]
pub struct Replay {
    /// The file replayed.
    pub path: PathBuf,
    /// How its bytes were read.
    pub encoding: Encoding,
    /// The ops replayed.
    pub scenario: Scenario,
    /// The pipeline chosen.
    pub pipeline: &'static dyn Pipeline,
    /// Everything the guard saw.
    pub execution: Execution,
}

/// Reads, decodes and replays the input at `path` on the pipeline `flag`
/// names (else the reproducer's, else `ROWGUARD_PIPELINE`, else `safe`).
pub fn replay_file(
    session: &mut Session,
    path: &Path,
    flag: Option<&str>,
) -> crate::Result<Replay> {
    let bytes = super::input::read_file(path)?;
    let decoded = decode_file(session.harness(), &bytes)
        .map_err(|e| crate::Error::Decode(format!("{}: {e}", path.display())))?;
    let pipeline = choose_pipeline(session.harness(), flag, &decoded)?;
    Ok(Replay {
        path: path.to_path_buf(),
        encoding: decoded.encoding,
        execution: execute(session, pipeline, &decoded.scenario)?,
        scenario: decoded.scenario,
        pipeline,
    })
}

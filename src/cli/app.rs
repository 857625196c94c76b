//! `rowguard app SPEC COMMAND [ARGS]`: any command on a running application
//! described by a spec file (docs/app.md). The spec is read first and
//! becomes the only harness of the process ([`crate::app::load`]); the rest
//! of the line is parsed as usual, so `app clinic.toml fuzz --time 60`,
//! `app clinic.toml repro crash.json` and `app clinic.toml gate` are the
//! commands a Rust harness has. Every application started is stopped when
//! the command ends ([`crate::app::stop_all`]).

use std::ffi::OsString;
use std::path::PathBuf;

/// `app`'s line, for its help page; [`split`] does the real work before clap.
#[derive(clap::Args)]
pub struct Args {
    /// The spec file (TOML): how to start the application, its fixture, its operations as requests and their policies.
    pub spec: PathBuf,
    /// The command to run on it, and its arguments (fuzz, repro, minimize, gate, report, pipelines, bench watch, ...).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

/// The spec's harness, the command line without `app SPEC`, the words
/// that put it back in front of a command a person runs again, and the
/// spec's folder (the project: its `corpus/` and `artifacts/`).
pub type Split = (
    &'static dyn crate::harness::domain::Domain,
    Vec<OsString>,
    String,
    PathBuf,
);

/// When `args` is `PROGRAM app SPEC COMMAND ...`: loads the spec.
pub fn split(args: &[OsString]) -> crate::Result<Option<Split>> {
    let [program, app, spec, command, rest @ ..] = args else {
        return Ok(None);
    };
    if app != "app"
        || spec.to_string_lossy().starts_with('-')
        || command.to_string_lossy().starts_with('-')
    {
        return Ok(None);
    }
    let (domain, home) = crate::app::load(std::path::Path::new(spec))?;
    let mut line = vec![program.clone(), command.clone()];
    line.extend(rest.iter().cloned());
    let words = format!(
        "app {}",
        crate::report::html::shell_word(&spec.to_string_lossy())
    );
    Ok(Some((domain, line, words, home)))
}

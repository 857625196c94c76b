//! `rowguard scan --pipeline P --text FILE [--field F] [--target N] [--format text|jsonl]`:
//! each line of FILE is one free-text field of the harness's example
//! operation on the target row; the work is [`crate::tools::scan`]. Text prints the lines that need a look, then a
//! summary; jsonl prints one object per line of FILE, as it goes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::harness::choice;
use crate::tools::scan::{LineReport, Scan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Text,
    Jsonl,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: super::DatabaseArgs,
    /// Pipeline to scan (default: $ROWGUARD_PIPELINE, else the harness's first).
    #[arg(long)]
    pipeline: Option<String>,
    /// Text file, one text per line (`-` reads standard input). Its name
    /// in version 0.1 is still read, unlisted (the built-in harness's word).
    #[arg(long, alias = "notes")]
    text: PathBuf,
    /// The text field each line goes into (default: the example operation's first).
    #[arg(long, value_name = "FIELD")]
    field: Option<String>,
    /// The row every line's operation targets (default: the example operation's).
    #[arg(long)]
    target: Option<i64>,
    #[arg(long, value_enum, default_value = "text")]
    format: ScanFormat,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = std::env::var(choice::PIPELINE_ENV)
        .ok()
        .filter(|s| !s.is_empty());
    let harness = super::harness(None)?;
    let pipeline = match args.pipeline.as_deref().or(env.as_deref()) {
        Some(name) => harness.pipeline(name)?,
        None => harness.safe()?,
    };
    let mut scan = Scan::on(
        pipeline,
        args.target,
        args.field.as_deref(),
        args.db.options().as_ref(),
    )?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let format = args.format;
    // the first failure to write stdout: the scan stops there (see `cli`'s module doc)
    let mut out_failed: Option<std::io::Error> = None;
    let result = scan.run_file(&args.text, |r: &LineReport| {
        let written = match format {
            ScanFormat::Jsonl => serde_json::to_writer(&mut out, r)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
            ScanFormat::Text => match r.text() {
                Some(line) => writeln!(out, "{line}"),
                None => Ok(()),
            },
        };
        // Each judged line is flushed before the next is judged: whatever
        // stops the scan later, the lines already judged are out.
        let written = written.and_then(|()| out.flush());
        written.map_err(|e| {
            let again = std::io::Error::new(e.kind(), e.to_string());
            out_failed.get_or_insert(e);
            again
        })
    });
    let summary = scan.summary().clone();
    if out_failed.is_none() {
        let finish = (|| {
            if format == ScanFormat::Text && summary.lines > 0 {
                write!(out, "{}", summary.text())?;
            }
            out.flush()
        })();
        out_failed = finish.err();
    }
    let result = match (result, &out_failed) {
        // the output failed, not the input: what was scanned decides the exit code
        (Err(crate::Error::Io { .. }), Some(_)) => Ok(()),
        (other, _) => other,
    };
    // whoever read the output went away (`| head`): stop quietly, like other line tools
    if let Some(e) = out_failed.filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
        eprintln!(
            "{}: writing to stdout: {e} (output incomplete)",
            crate::report::name()
        );
    }
    match result {
        // the library's message already names the file and the cause
        Err(e) if summary.findings == 0 => Err(anyhow::anyhow!("{e}")),
        Err(e) => {
            eprintln!(
                "{}: {}",
                crate::report::name(),
                e.to_string().replace('\n', " ")
            );
            Ok(ExitCode::from(1))
        }
        Ok(()) if summary.findings > 0 => Ok(ExitCode::from(1)),
        Ok(()) if summary.errors > 0 => Ok(ExitCode::from(2)),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

//! `rowguard pipelines`: the table of pipelines and the bug class each models.

use super::outln;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let all = rowguard::pipeline::all();
    let name = all.iter().map(|p| p.name().len()).max().unwrap_or(0);
    let class = all
        .iter()
        .map(|p| p.bug_class().chars().count())
        .max()
        .unwrap_or(0);
    outln!("{:<name$}  {:<class$}  trigger", "name", "bug class");
    for p in all {
        outln!(
            "{:<name$}  {:<class$}  {}",
            p.name(),
            p.bug_class(),
            p.trigger()
        );
    }
    Ok(ExitCode::SUCCESS)
}

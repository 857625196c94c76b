//! `rowguard pipelines`: the table of pipelines, the database each bug needs
//! (`any`, or the databases it exists on) and the bug class each models.

use super::outln;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let all = super::harness(None)?.pipelines();
    let name = all.iter().map(|p| p.name().len()).max().unwrap_or(0);
    let class = all
        .iter()
        .map(|p| p.bug_class().chars().count())
        .max()
        .unwrap_or(0);
    outln!(
        "{:<name$}  {:<15}  {:<class$}  trigger",
        "name",
        "database",
        "bug class"
    );
    for p in all {
        outln!(
            "{:<name$}  {:<15}  {:<class$}  {}",
            p.name(),
            match p.databases() {
                [] => "any".to_string(),
                some => some.join(","),
            },
            p.bug_class(),
            p.trigger()
        );
    }
    Ok(ExitCode::SUCCESS)
}

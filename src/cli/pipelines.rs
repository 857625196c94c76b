//! `rowguard pipelines`: the table of pipelines and the bug class each models.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    println!("{:<10} {:<60} trigger", "name", "bug class");
    for p in rowguard::pipeline::all() {
        println!("{:<10} {:<60} {}", p.name(), p.bug_class(), p.trigger());
    }
    Ok(ExitCode::SUCCESS)
}

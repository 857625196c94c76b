//! The `rowguard` binary: parses the command line and hands each subcommand
//! to its arm in `cli/`. Exit codes (ripgrep's convention): 0 clean, 1 at
//! least one finding, 2 bad usage or unreadable input. Every error is one
//! line on stderr; a panic is reported the same way, never as a backtrace.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "rowguard: internal error{place}: {}",
            msg.replace('\n', " ")
        );
    }));
    let result = std::panic::catch_unwind(cli::run);
    cli::finish_stdout();
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("rowguard: {}", cli::error_line(&e));
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}

//! The `rowguard` binary: the command line of [`rowguard::cli`] on the
//! built-in appointments harness. A team's own binary is the same one line
//! with its own harness (docs/own-harness.md).

fn main() -> std::process::ExitCode {
    rowguard::cli::main(Vec::new())
}

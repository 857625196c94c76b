//! The `rowguard` binary: the command line of [`rowguard::cli`] on the
//! built-in appointments harness. A team's own binary is the same one line
//! with its own harness (docs/own-harness.md).

/// Rust's allocations (a checked input makes many small ones) go to
/// mimalloc; SQLite's own stay with the C library's malloc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rowguard::cli::main(Vec::new())
}

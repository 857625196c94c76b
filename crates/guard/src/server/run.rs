//! The names a run gives what it makes on a server: this process's run id
//! (`rowguard_<pid>_<8 hex>`, also the marker comment `rowguard run <id>`
//! on everything it makes, by which the next run tells a dead run's leftovers
//! from anything else) and a fresh name for each database, and the random
//! bits behind them (and behind passwords).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// 64 bits nobody else can predict (std's per-process random hash keys).
pub(crate) fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// This process's run id: `rowguard_<pid>_<8 hex>` (the random part keeps
/// two hosts' pids from meeting on one server).
pub(crate) fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("rowguard_{}_{:08x}", std::process::id(), random() as u32))
}

/// The marker comment on everything a run makes.
pub(crate) fn marker() -> String {
    format!("rowguard run {}", run_id())
}

/// A fresh name for one database of this run.
pub(crate) fn next_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}_{}", run_id(), N.fetch_add(1, Ordering::Relaxed))
}

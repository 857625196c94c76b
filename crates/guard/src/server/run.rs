//! The names a run gives what it makes on a server: this process's run id
//! (`rowguard_<pid>_<8 hex>`, also the marker comment `rowguard run <id>`
//! on everything it makes, by which the next run tells a dead run's leftovers
//! from anything else) and a fresh name for each database, and the random
//! bits behind them (and behind passwords); and a connection to a database
//! of the run's own that drops what the run made once it is closed.

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

/// What a run made on one server (its database, users or roles), dropped
/// through the admin connection that made it.
pub(crate) trait Made {
    /// The admin connection's type.
    type Admin;

    /// Drops everything the run made.
    fn drop_all(&self, admin: &mut Self::Admin);
}

/// A connection (`client`) to a database of the run's own and what the run
/// made for it: when dropped, the connection first, then all it made.
pub(crate) struct OwnDatabase<C, M: Made> {
    pub(crate) client: Option<C>,
    pub(crate) admin: M::Admin,
    pub(crate) objects: M,
}

impl<C, M: Made> Drop for OwnDatabase<C, M> {
    fn drop(&mut self) {
        drop(self.client.take());
        self.objects.drop_all(&mut self.admin);
    }
}

//! One process-wide interrupt: a signal handler (the binary installs it)
//! calls [`request`]; long work polls [`requested`]. [`request`] also asks
//! every live server-side query registered here (a PostgreSQL guard's
//! current call) to stop, so a signal ends a call the server is still
//! running instead of waiting for it.
//!
//! The guard crate installs no handler itself: a library must not take a
//! process's signals. What it owns is the flag and the cancel registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(1);

type Cancel = Box<dyn Fn() + Send>;

fn registry() -> &'static Mutex<HashMap<u64, Cancel>> {
    static R: std::sync::OnceLock<Mutex<HashMap<u64, Cancel>>> = std::sync::OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Asks everything to stop: sets the flag and runs every registered cancel
/// (each one a request to a server; it does not wait for the work to end).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    for cancel in r.values() {
        cancel();
    }
}

/// Whether [`request`] was called.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The flag itself, for loops that take a `&AtomicBool`.
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

/// A registered cancel; dropping it removes the registration.
pub struct Registration(u64);

/// Registers `cancel`, run by [`request`] until the registration is dropped.
/// Registering after a request runs `cancel` at once.
pub fn register(cancel: impl Fn() + Send + 'static) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if requested() {
        cancel();
    }
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, Box::new(cancel));
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

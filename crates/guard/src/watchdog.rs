//! The wall-clock watchdog: one thread per guard connection that interrupts
//! SQLite from outside the running step (`sqlite3_interrupt` through
//! rusqlite's interrupt handle).
//!
//! Why a thread: the progress handler counts virtual-machine steps, not
//! time, so a statement of few but costly steps (a function over megabyte
//! strings per row of a join) stays within its step budget for minutes; a
//! clock outside the connection stops it. Neither reaches inside one step:
//! SQLite looks at an interrupt only between steps, so one function call
//! must end quickly by itself, which `builtins.rs` makes sure of for every
//! built-in function.
//!
//! Contract: [`Watchdog::arm`] before a user statement and
//! [`Watchdog::disarm`] after it; an interrupt can only happen between the
//! two (it is sent with the lock held and only while armed), and `disarm`
//! says whether it fired. Once fired, it interrupts again every [`REFIRE`]
//! until disarmed, so an interrupt SQLite forgot (sent before the statement
//! started) is sent again. The clean path costs two uncontended lock/unlock
//! pairs: arming never wakes the thread, which polls every [`POLL`] while
//! idle and, once it sees a deadline, sleeps exactly until it.
//!
//! Determinism: a clock makes a verdict depend on the machine. The guard's
//! primary bound stays the progress handler's step budget, which counts
//! work and repeats exactly; the watchdog is a backstop whose limit is far
//! above what any step-bounded statement takes, and its finding names the
//! `time` limit so a clock-made verdict is recognisable as one.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::InterruptHandle;

/// How often an idle watchdog looks for a deadline (shorter than any limit,
/// so it is never late).
const POLL: Duration = Duration::from_millis(500);

/// How often a fired watchdog interrupts again while still armed: SQLite
/// forgets an interrupt that lands before the statement starts (the first
/// statement to start clears it), so one sent just after [`Watchdog::arm`]
/// with a deadline already past would be lost.
const REFIRE: Duration = Duration::from_millis(5);

#[derive(Default)]
struct State {
    deadline: Option<Instant>,
    fired: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A thread that interrupts one connection when an armed deadline passes.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog of the connection behind `handle`.
    pub(crate) fn start(handle: InterruptHandle) -> std::io::Result<Watchdog> {
        let shared = Arc::new(Shared::default());
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rowguard-watchdog".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(&inner, &handle))?;
        Ok(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    /// Interrupts the connection if it is still armed at `deadline`.
    pub(crate) fn arm(&self, deadline: Instant) {
        let mut s = self.shared.lock();
        s.deadline = Some(deadline);
        s.fired = false;
    }

    /// Disarms; true if the interrupt was sent since [`Watchdog::arm`].
    pub(crate) fn disarm(&self) -> bool {
        let mut s = self.shared.lock();
        s.deadline = None;
        std::mem::take(&mut s.fired)
    }
}

fn watch(shared: &Shared, handle: &InterruptHandle) {
    let mut s = shared.lock();
    while !s.stop {
        let wait = match s.deadline {
            None => POLL,
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    handle.interrupt();
                    s.fired = true;
                    s.deadline = Some(now + REFIRE);
                    continue;
                }
                deadline - now
            }
        };
        s = shared
            .wake
            .wait_timeout(s, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_deadline_interrupts_and_a_disarmed_one_does_not() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let w = Watchdog::start(conn.get_interrupt_handle()).unwrap();
        w.arm(Instant::now() + Duration::from_secs(3600));
        assert!(!w.disarm());
        w.arm(Instant::now());
        let r: rusqlite::Result<i64> = conn.query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            [],
            |r| r.get(0),
        );
        assert!(w.disarm());
        assert_eq!(
            r.unwrap_err().sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted)
        );
    }
}

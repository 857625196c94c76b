//! A wall-clock bound on every call a server guard makes (PostgreSQL's or
//! MariaDB's), whatever the server or the code under test does to its own
//! timeouts: a thread per guard that, once a call is past its limit, asks
//! the server to cancel it (the backend's `cancel`: a cancel request, or
//! `KILL QUERY`, on a connection of its own) and, if the call still has not
//! returned after a grace period, ends the guard's connection (the
//! backend's `terminate`: `pg_terminate_backend`, `KILL CONNECTION`). The call then returns
//! an error and the guard is fatal (a fresh one is built by whoever needs it).
//!
//! What neither reaches: a PostgreSQL backend busy where the server checks
//! no interrupt (its lexer on a long run of operator characters is quadratic
//! and checks none): that guard never sends such text
//! ([`crate::dialect::postgres::longest_operator_run`]).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between the cancel and the termination of a call that does not stop.
const TERMINATE_AFTER: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    /// When the armed call must be cancelled (then terminated).
    deadline: Option<Instant>,
    /// What the watchdog did to the armed call: 0 nothing, 1 cancelled, 2 terminated.
    acted: u8,
    quit: bool,
}

/// The watchdog of one guard.
pub(crate) struct Watchdog {
    shared: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// What the watchdog did to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acted {
    Nothing,
    Cancelled,
    Terminated,
}

impl Watchdog {
    /// Starts the thread; `cancel` and `terminate` are run from it.
    pub(crate) fn start(
        cancel: impl Fn() + Send + 'static,
        terminate: impl Fn() + Send + 'static,
    ) -> Watchdog {
        let shared: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rowguard-pg-watchdog".into())
            .spawn(move || watch(&s, cancel, terminate))
            .ok();
        Watchdog { shared, thread }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock of a call that may run for `limit`.
    pub(crate) fn arm(&self, limit: Duration) {
        let mut s = self.lock();
        s.deadline = Some(Instant::now() + limit);
        s.acted = 0;
        self.shared.1.notify_all();
    }

    /// Stops the clock; says what was done to the call.
    pub(crate) fn disarm(&self) -> Acted {
        let mut s = self.lock();
        s.deadline = None;
        let acted = std::mem::take(&mut s.acted);
        self.shared.1.notify_all();
        match acted {
            0 => Acted::Nothing,
            1 => Acted::Cancelled,
            _ => Acted::Terminated,
        }
    }
}

fn watch(shared: &(Mutex<State>, Condvar), cancel: impl Fn(), terminate: impl Fn()) {
    let (lock, wake) = shared;
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if s.quit {
            return;
        }
        let Some(deadline) = s.deadline else {
            s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let now = Instant::now();
        if now < deadline {
            s = wake
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        // Past the deadline: act without holding the lock (the call may end meanwhile).
        let step = s.acted;
        s.acted = step + 1;
        s.deadline = (step == 0).then(|| now + TERMINATE_AFTER);
        drop(s);
        if step == 0 {
            cancel();
        } else {
            terminate();
        }
        s = lock.lock().unwrap_or_else(|e| e.into_inner());
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        {
            let mut s = self.lock();
            s.quit = true;
            self.shared.1.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_call_past_its_limit_is_cancelled_then_terminated() {
        let cancels = Arc::new(AtomicUsize::new(0));
        let terminations = Arc::new(AtomicUsize::new(0));
        let (c, t) = (Arc::clone(&cancels), Arc::clone(&terminations));
        let w = Watchdog::start(
            move || {
                c.fetch_add(1, Ordering::SeqCst);
            },
            move || {
                t.fetch_add(1, Ordering::SeqCst);
            },
        );
        w.arm(Duration::from_secs(60));
        assert_eq!(w.disarm(), Acted::Nothing);
        w.arm(Duration::from_millis(1));
        while cancels.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert_eq!(w.disarm(), Acted::Cancelled);
        assert_eq!(terminations.load(Ordering::SeqCst), 0);
    }
}

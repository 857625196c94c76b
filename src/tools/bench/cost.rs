//! The work a benchmark side did, measured beside its wall time, and the
//! spread of every figure over rounds.
//!
//! - Client CPU: the kernel's CPU clock of the calling thread
//!   (`CLOCK_THREAD_CPUTIME_ID`, the side's own work: a guard's watchdog
//!   thread is not in it) or of the whole process
//!   (`CLOCK_PROCESS_CPUTIME_ID`, for the engine, which runs workers), or
//!   of the child processes waited for (`RUSAGE_CHILDREN`: libFuzzer).
//! - Waits: `getrusage`'s voluntary context switches of the same scope. A client blocks once
//!   per reply it waits for, so on a server these are its round trips (an
//!   upper bound: any other block counts too); in-process SQLite makes none.
//! - Server CPU: the on-CPU nanoseconds of the server processes that served
//!   the side (PostgreSQL: its backends, `pg_backend_pid()`), read from
//!   `/proc/<pid>/schedstat` (`/proc/<pid>/stat` ticks when that is absent),
//!   so only when the server runs on this machine; otherwise
//!   [`Server::Unavailable`] says why.
//! - [`Spread`]: min, median and max over rounds, and whether the rounds
//!   disagree by more than [`STAND_BEHIND`].
//! - [`Pinned`]: a client thread and the server processes it talks to held
//!   on one CPU while measured, so a round trip costs the same whichever
//!   side it is on (unpinned, the scheduler decides per round whether the
//!   two run on one core or two, and a round's CPU per operation moves by
//!   up to 2x with it).

use std::time::{Duration, Instant};

use serde::Serialize;

/// The widest (max - min) / median over rounds a reported median is stood
/// behind: beyond it the command says the rounds disagree.
pub const STAND_BEHIND: f64 = 0.10;

/// Whose CPU time a [`Mark`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The calling thread.
    Thread,
    /// The whole process (every thread).
    Process,
    /// The child processes this process started and has waited for
    /// (`getrusage(RUSAGE_CHILDREN)`, microseconds).
    Children,
}

/// CPU time (the kernel's nanosecond run-time clock) and voluntary context
/// switches (`getrusage`) of `scope` so far.
fn usage(scope: Scope) -> (Duration, u64) {
    let (clock, who) = match scope {
        Scope::Thread => (Some(libc::CLOCK_THREAD_CPUTIME_ID), libc::RUSAGE_THREAD),
        Scope::Process => (Some(libc::CLOCK_PROCESS_CPUTIME_ID), libc::RUSAGE_SELF),
        Scope::Children => (None, libc::RUSAGE_CHILDREN),
    };
    // SAFETY: both calls only write the structs they are given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return (Duration::ZERO, 0);
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    let cpu = match clock {
        Some(c) if unsafe { libc::clock_gettime(c, &mut ts) } == 0 => {
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        }
        _ => tv(u.ru_utime) + tv(u.ru_stime),
    };
    (cpu, u.ru_nvcsw as u64)
}

/// The server processes that serve one side, or why their CPU is unknown.
#[derive(Debug, Clone)]
pub enum Server {
    /// In-process (SQLite): there is no server.
    None,
    Pids(Vec<u32>),
    Unavailable(String),
}

impl Server {
    /// The processes `pids` of a server at `url`, when it is local and
    /// their `/proc` entries are readable here.
    pub fn local(url: &str, pids: Vec<u32>) -> Server {
        if !is_local(url) {
            return Server::Unavailable("the server is not on this machine".into());
        }
        match pids.iter().find(|&&p| server_cpu(p).is_none()) {
            Some(p) => Server::Unavailable(format!(
                "/proc/{p} is not readable here (a server in a container or under another user)"
            )),
            None if pids.is_empty() => Server::Unavailable("no server process id".into()),
            None => Server::Pids(pids),
        }
    }

    fn cpu(&self) -> Option<Duration> {
        match self {
            Server::Pids(p) => p.iter().map(|&p| server_cpu(p)).sum(),
            _ => None,
        }
    }

    /// Why there is no server CPU figure (None when there is one).
    pub fn unavailable(&self) -> Option<String> {
        match self {
            Server::None => Some("in-process: no server".into()),
            Server::Pids(_) => None,
            Server::Unavailable(why) => Some(why.clone()),
        }
    }
}

/// The calling thread and some server processes held on one CPU until
/// dropped (the thread's own affinity is given back then; the processes
/// keep theirs: they are the measurement's own backends, ended with it).
pub struct Pinned {
    saved: libc::cpu_set_t,
    /// The CPU they run on.
    pub cpu: usize,
}

impl Pinned {
    /// Pins the calling thread and `pids` to the last CPU it may run on;
    /// `Err` says why not (no permission over another user's processes,
    /// a single-CPU affinity, ...), and then nothing was changed.
    pub fn together(pids: &[u32]) -> Result<Pinned, String> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: plain calls on zeroed cpu sets of the size passed.
        unsafe {
            let mut saved: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut saved) != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &saved))
                .collect();
            let Some(&cpu) = cpus.last().filter(|_| cpus.len() > 1) else {
                return Err("this thread may run on one CPU only".into());
            };
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            let mut before = Vec::new();
            for &pid in pids {
                let mut theirs: libc::cpu_set_t = std::mem::zeroed();
                let ok = libc::sched_getaffinity(pid as libc::pid_t, size, &mut theirs) == 0
                    && libc::sched_setaffinity(pid as libc::pid_t, size, &one) == 0;
                if !ok {
                    let e = std::io::Error::last_os_error();
                    for (p, set) in before {
                        libc::sched_setaffinity(p, size, &set);
                    }
                    return Err(format!("cannot pin server process {pid}: {e}"));
                }
                before.push((pid as libc::pid_t, theirs));
            }
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            Ok(Pinned { saved, cpu })
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: gives the calling thread back the set it had.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.saved);
        }
    }
}

/// Whether a database URL names this machine (loopback or a Unix socket).
pub fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    let socket = url.contains("host=%2F") || url.contains("host=/") || url.contains("socket=");
    socket || matches!(host, "" | "localhost" | "127.0.0.1" | "::1")
}

/// On-CPU time of process `pid` so far: schedstat nanoseconds, else stat ticks.
pub fn server_cpu(pid: u32) -> Option<Duration> {
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/schedstat")) {
        if let Some(ns) = s.split_whitespace().next().and_then(|n| n.parse().ok()) {
            return Some(Duration::from_nanos(ns));
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the parenthesised command: utime and stime are 14 and 15
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// A point to measure from.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    wall: Instant,
    cpu: Duration,
    waits: u64,
    server: Option<Duration>,
    scope: Scope,
}

/// What one side did between two marks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub waits: u64,
    pub server: Option<Duration>,
}

impl std::ops::AddAssign for Sample {
    fn add_assign(&mut self, o: Sample) {
        self.wall += o.wall;
        self.cpu += o.cpu;
        self.waits += o.waits;
        self.server = match (self.server, o.server) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

impl Mark {
    pub fn now(scope: Scope, server: &Server) -> Mark {
        let server = server.cpu();
        let (cpu, waits) = usage(scope);
        Mark {
            wall: Instant::now(),
            cpu,
            waits,
            server,
            scope,
        }
    }

    pub fn sample(&self, server: &Server) -> Sample {
        let wall = self.wall.elapsed();
        let (cpu, waits) = usage(self.scope);
        let server = match (server.cpu(), self.server) {
            (Some(b), Some(a)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        Sample {
            wall,
            cpu: cpu.saturating_sub(self.cpu),
            waits: waits.saturating_sub(self.waits),
            server,
        }
    }
}

/// Runs `f` once and measures it.
pub fn measure<T>(scope: Scope, server: &Server, f: impl FnOnce() -> T) -> (T, Sample) {
    let mark = Mark::now(scope, server);
    let out = f();
    (out, mark.sample(server))
}

/// A figure over rounds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// (max - min) / median.
    pub width: f64,
    /// `width` beyond [`STAND_BEHIND`]: the median is not a figure to plan on.
    pub disagree: bool,
}

impl Spread {
    /// The spread of `values` (empty: all zero).
    pub fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let (min, max) = (
            v.first().copied().unwrap_or(0.0),
            v.last().copied().unwrap_or(0.0),
        );
        let median = match v.len() {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        let width = if median > 0.0 {
            (max - min) / median
        } else {
            0.0
        };
        Spread {
            min,
            median,
            max,
            width,
            disagree: width > STAND_BEHIND,
        }
    }

    /// `min / median / max` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!(
            "{:.d$} / {:.d$} / {:.d$}",
            self.min,
            self.median,
            self.max,
            d = digits
        )
    }
}

/// One side's work over rounds, per unit (statement, operation, input).
#[derive(Debug, Clone, Serialize)]
pub struct SideCost {
    /// Wall microseconds per unit.
    pub wall_us: Spread,
    /// Client CPU microseconds per unit.
    pub cpu_us: Spread,
    /// Client waits (round trips on a server) per unit.
    pub round_trips: Spread,
    /// Server CPU microseconds per unit, when the server is local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us: Option<Spread>,
    /// Why `server_cpu_us` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_unavailable: Option<String>,
}

impl SideCost {
    /// The spreads of `rounds`, each divided by `units`.
    pub fn of(rounds: &[Sample], units: usize, server: &Server) -> SideCost {
        let per = |f: &dyn Fn(&Sample) -> f64| {
            Spread::of(
                &rounds
                    .iter()
                    .map(|s| f(s) / units.max(1) as f64)
                    .collect::<Vec<_>>(),
            )
        };
        let server_cpu_us = rounds
            .iter()
            .all(|s| s.server.is_some())
            .then(|| per(&|s| s.server.unwrap_or_default().as_secs_f64() * 1e6))
            .filter(|_| !rounds.is_empty());
        SideCost {
            wall_us: per(&|s| s.wall.as_secs_f64() * 1e6),
            cpu_us: per(&|s| s.cpu.as_secs_f64() * 1e6),
            round_trips: per(&|s| s.waits as f64),
            server_cpu_unavailable: match server_cpu_us {
                Some(_) => None,
                None => server.unavailable(),
            },
            server_cpu_us,
        }
    }

    /// Client CPU plus server CPU (when known), microseconds per unit, per round.
    fn work(rounds: &[Sample], units: usize) -> Vec<f64> {
        rounds
            .iter()
            .map(|s| {
                (s.cpu + s.server.unwrap_or_default()).as_secs_f64() * 1e6 / units.max(1) as f64
            })
            .collect()
    }
}

/// Two sides measured round by round: the checked (or tripwire) side against raw.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub checked: SideCost,
    pub raw: SideCost,
    /// Per-round wall ratio (checked over raw, round i against round i).
    pub wall_ratio: Spread,
    /// Per-round CPU ratio: client CPU plus server CPU (when known).
    pub cpu_ratio: Spread,
    /// What the rounds disagree on beyond [`STAND_BEHIND`], in words.
    pub disagreements: Vec<String>,
}

impl Comparison {
    pub fn of(
        checked: &[Sample],
        checked_server: &Server,
        raw: &[Sample],
        raw_server: &Server,
        units: usize,
    ) -> Comparison {
        let ratios = |a: Vec<f64>, b: Vec<f64>| {
            Spread::of(
                &a.iter()
                    .zip(&b)
                    .map(|(a, b)| a / b.max(1e-9))
                    .collect::<Vec<_>>(),
            )
        };
        let wall = |r: &[Sample]| r.iter().map(|s| s.wall.as_secs_f64()).collect();
        let c = SideCost::of(checked, units, checked_server);
        let r = SideCost::of(raw, units, raw_server);
        let wall_ratio = ratios(wall(checked), wall(raw));
        let cpu_ratio = ratios(SideCost::work(checked, units), SideCost::work(raw, units));
        let mut disagreements = Vec::new();
        let mut note = |what: &str, s: &Spread| {
            if s.disagree {
                disagreements.push(format!(
                    "{what}: rounds span {} ({:.0}% of the median, beyond {:.0}%)",
                    s.show(2),
                    s.width * 100.0,
                    STAND_BEHIND * 100.0
                ));
            }
        };
        note("wall ratio", &wall_ratio);
        note("cpu ratio", &cpu_ratio);
        note("checked cpu us", &c.cpu_us);
        note("raw cpu us", &r.cpu_us);
        if let Some(s) = &c.server_cpu_us {
            note("checked server cpu us", s);
        }
        if let Some(s) = &r.server_cpu_us {
            note("raw server cpu us", s);
        }
        Comparison {
            checked: c,
            raw: r,
            wall_ratio,
            cpu_ratio,
            disagreements,
        }
    }

    /// The lines a text table prints under its figures.
    pub fn lines(&self, label: &str, checked: &str, unit: &str) -> Vec<String> {
        let mut out = vec![
            format!(
                "{label}: per {unit}, min / median / max over rounds: {checked} wall {} us, cpu {} us, waits {}; raw wall {} us, cpu {} us, waits {}",
                self.checked.wall_us.show(1),
                self.checked.cpu_us.show(1),
                self.checked.round_trips.show(2),
                self.raw.wall_us.show(1),
                self.raw.cpu_us.show(1),
                self.raw.round_trips.show(2),
            ),
        ];
        match (&self.checked.server_cpu_us, &self.raw.server_cpu_us) {
            (Some(c), Some(r)) => out.push(format!(
                "{label}: server cpu per {unit}: {checked} {} us, raw {} us",
                c.show(1),
                r.show(1)
            )),
            _ => {
                let why = self
                    .checked
                    .server_cpu_unavailable
                    .clone()
                    .or_else(|| self.raw.server_cpu_unavailable.clone())
                    .unwrap_or_default();
                out.push(format!("{label}: server cpu unavailable ({why})"));
            }
        }
        out.push(format!(
            "{label}: ratio per round, wall {}x; cpu (client + server) {}x",
            self.wall_ratio.show(2),
            self.cpu_ratio.show(2)
        ));
        for d in &self.disagreements {
            out.push(format!("{label}: rounds disagree, {d}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max_and_flags_a_wide_one() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert!(s.disagree, "width 1.0 is beyond {STAND_BEHIND}");
        let even = Spread::of(&[10.0, 10.4, 10.2, 10.6]);
        assert!((even.median - 10.3).abs() < 1e-9);
        assert!(!even.disagree, "width {} is within", even.width);
        let beyond = Spread::of(&[100.0, 100.0, 100.0 + STAND_BEHIND * 100.0 + 1.0]);
        assert!(beyond.disagree, "{beyond:?}");
        let within = Spread::of(&[100.0, 100.0, 100.0 + STAND_BEHIND * 100.0 - 1.0]);
        assert!(!within.disagree, "{within:?}");
        assert_eq!(Spread::of(&[]).median, 0.0);
        assert!(!Spread::of(&[0.0, 0.0]).disagree);
    }

    #[test]
    fn comparison_pairs_rounds_and_names_what_disagrees() {
        let ms = |w: u64, c: u64| Sample {
            wall: Duration::from_millis(w),
            cpu: Duration::from_millis(c),
            waits: 2,
            server: None,
        };
        let checked = [ms(20, 10), ms(22, 10), ms(40, 10)];
        let raw = [ms(10, 5), ms(11, 5), ms(10, 5)];
        let c = Comparison::of(&checked, &Server::None, &raw, &Server::None, 2);
        assert_eq!(c.cpu_ratio.median, 2.0);
        assert!(!c.cpu_ratio.disagree);
        assert_eq!((c.wall_ratio.min, c.wall_ratio.max), (2.0, 4.0));
        assert!(c.wall_ratio.disagree);
        assert_eq!(c.disagreements.len(), 1, "{:?}", c.disagreements);
        assert!(c.disagreements[0].starts_with("wall ratio"));
        assert_eq!(c.checked.cpu_us.median, 5000.0, "per unit");
        assert_eq!(c.checked.round_trips.median, 1.0);
        assert!(c.checked.server_cpu_us.is_none());
        assert!(c.checked.server_cpu_unavailable.is_some());
    }

    #[test]
    fn server_cpu_counts_only_when_every_round_has_it() {
        let s = |server| Sample {
            wall: Duration::from_millis(1),
            cpu: Duration::from_millis(1),
            waits: 0,
            server,
        };
        let some = [
            s(Some(Duration::from_millis(3))),
            s(Some(Duration::from_millis(3))),
        ];
        let c = Comparison::of(&some, &Server::None, &some, &Server::None, 1);
        assert_eq!(c.checked.server_cpu_us.unwrap().median, 3000.0);
        assert_eq!(c.cpu_ratio.median, 1.0);
        let partial = [s(Some(Duration::from_millis(3))), s(None)];
        let why = Server::Unavailable("remote".into());
        let c = Comparison::of(&partial, &why, &some, &Server::None, 1);
        assert!(c.checked.server_cpu_us.is_none());
        assert_eq!(c.checked.server_cpu_unavailable.as_deref(), Some("remote"));
    }

    #[test]
    fn local_urls_and_this_process() {
        for url in [
            "postgres://u@localhost:5432/db",
            "postgresql://u:p@127.0.0.1/db",
            "postgres://u@[::1]:5/db",
            "postgres:///db?host=/tmp",
            "mysql://root@localhost/x?socket=/run/m.sock",
        ] {
            assert!(is_local(url), "{url}");
        }
        assert!(!is_local("postgres://u@db.example.com:5432/db"));
        assert!(!is_local("mysql://u@10.0.0.5/db"));
        let me = std::process::id();
        assert!(server_cpu(me).is_some());
        assert!(matches!(
            Server::local("postgres://u@db.example.com/x", vec![me]),
            Server::Unavailable(_)
        ));
        assert!(matches!(
            Server::local("postgres://u@localhost/x", vec![me]),
            Server::Pids(_)
        ));
        assert!(matches!(
            Server::local("postgres://u@localhost/x", vec![]),
            Server::Unavailable(_)
        ));
    }

    #[test]
    fn a_mark_sees_this_threads_work() {
        let (_, s) = measure(Scope::Thread, &Server::None, || {
            let mut x = 0u64;
            for i in 0..50_000_000u64 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
        });
        assert!(s.cpu > Duration::ZERO && s.cpu <= s.wall + Duration::from_millis(5));
        assert!(s.server.is_none());
        let (_, c) = measure(Scope::Children, &Server::None, || {
            std::process::Command::new("sh")
                .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
                .status()
        });
        assert!(c.cpu > Duration::ZERO, "a waited-for child's CPU: {c:?}");
    }
}

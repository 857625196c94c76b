//! The application as a process: started with the spec's `serve` command
//! against the fixture's connection (in its environment and in the
//! command's `{placeholders}`), waited for until it answers, its output
//! kept (the last [`KEEP_LOG`] bytes, so each operation's share can go with
//! its finding), and stopped: its whole process group, SIGTERM then
//! SIGKILL. It dies with rowguard too (`PR_SET_PDEATHSIG`), so a killed run
//! leaves no server behind.
//!
//! Without `serve` the spec attaches to an application already running at
//! `url`; rowguard then starts and stops nothing.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::guard::watch::Target;
use crate::guard::BackendKind;

/// Output of the application kept (stdout and stderr together).
const KEEP_LOG: usize = 256 << 10;
/// Output shown with one operation.
pub const SHOWN_LOG: usize = 2 << 10;

/// The application's output, the newest [`KEEP_LOG`] bytes.
#[derive(Default)]
struct Log {
    kept: Vec<u8>,
    /// Bytes written in all (a mark is a position in this count).
    total: usize,
}

impl Log {
    fn push(&mut self, bytes: &[u8]) {
        self.kept.extend_from_slice(bytes);
        self.total += bytes.len();
        if self.kept.len() > KEEP_LOG {
            let cut = self.kept.len() - KEEP_LOG;
            self.kept.drain(..cut);
        }
    }
}

/// A running (or attached) application.
pub struct Server {
    child: Option<Child>,
    /// Its base URL.
    pub base: String,
    /// The fixture connection it was started against.
    pub target: String,
    log: Arc<Mutex<Log>>,
    /// The threads reading its stdout and stderr into `log`.
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How long an exited application's last output may take to reach `log`
/// (its pipes close when it exits, unless a child it left holds them).
const DRAIN: Duration = Duration::from_millis(500);

/// The values a spec's `{placeholders}` and the environment take.
pub fn variables(target: &Target, port: u16) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("port", port.to_string()),
        ("database_url", target.url().to_string()),
        ("db_kind", target.kind().as_str().to_string()),
    ];
    match target.kind() {
        BackendKind::Sqlite => vars.push(("db_path", target.url().to_string())),
        _ => {
            if let Ok(u) = url::Url::parse(target.url()) {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                let default_port = if target.kind() == BackendKind::Mysql {
                    3306
                } else {
                    5432
                };
                vars.push(("db_host", decode(u.host_str().unwrap_or("localhost"))));
                vars.push(("db_port", u.port().unwrap_or(default_port).to_string()));
                vars.push(("db_user", decode(u.username())));
                vars.push(("db_password", decode(u.password().unwrap_or(""))));
                vars.push(("db_name", decode(u.path().trim_start_matches('/'))));
            }
        }
    }
    vars
}

/// `text` with every `{name}` of `vars` replaced.
pub fn fill<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
    text: &str,
    vars: impl IntoIterator<Item = &'a (K, V)>,
) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("{{{}}}", name.as_ref()), value.as_ref());
    }
    out
}

/// A port free on loopback now.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn keep(mut from: impl Read + Send + 'static, log: Arc<Mutex<Log>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut l) = log.lock() {
                l.push(&buf[..n]);
            }
        }
    })
}

/// Spawns `cmd` from one thread that lives as long as the process:
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends,
/// and the engines start applications from worker threads that do.
fn spawn(cmd: Command) -> std::io::Result<Child> {
    type Order = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<std::sync::mpsc::Sender<Order>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Order>();
        std::thread::Builder::new()
            .name("rowguard-app-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("a thread to start applications from");
        Mutex::new(tx)
    });
    let (reply, answer) = std::sync::mpsc::channel();
    let gone = || std::io::Error::other("the thread that starts applications is gone");
    spawner
        .lock()
        .map_err(|_| gone())?
        .send((cmd, reply))
        .map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// What `serve` needs to start one application.
pub struct Start<'a> {
    pub serve: Option<&'a str>,
    pub url: &'a str,
    pub cwd: &'a std::path::Path,
    pub env: Vec<(String, String)>,
}

impl Server {
    /// Starts the application against `target` (or attaches to `url`);
    /// does not wait for it.
    pub fn start(how: Start<'_>, target: &Target) -> Result<Server, String> {
        let port = match how.serve {
            Some(_) => free_port()?,
            None => 0,
        };
        let vars = variables(target, port);
        let base = fill(how.url, &vars);
        let log = Arc::new(Mutex::new(Log::default()));
        let Some(serve) = how.serve else {
            return Ok(Server {
                child: None,
                base,
                target: target.url().into(),
                log,
                readers: Vec::new(),
            });
        };
        let command = fill(serve, &vars);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(how.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (name, value) in &vars {
            cmd.env(format!("ROWGUARD_{}", name.to_ascii_uppercase()), value);
        }
        cmd.env("PORT", port.to_string());
        for (name, value) in &how.env {
            cmd.env(name, fill(value, &vars));
        }
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = spawn(cmd).map_err(|e| {
            format!(
                "cannot start the application (`{command}` in {}): {e}",
                how.cwd.display()
            )
        })?;
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(keep(out, log.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(keep(err, log.clone()));
        }
        Ok(Server {
            child: Some(child),
            base,
            target: target.url().into(),
            log,
            readers,
        })
    }

    /// Waits until `ready` answers with any HTTP status, the process exits
    /// or `within` passes.
    pub fn wait_ready(
        &mut self,
        client: &super::http::Client,
        ready: &str,
        within: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(exit) = self.exited() {
                return Err(format!(
                    "the application {exit} before it answered at {}{ready}{}",
                    self.base,
                    self.tail()
                ));
            }
            if client.answers(&self.base, ready) {
                return Ok(());
            }
            if crate::guard::interrupt::requested() {
                return Err("interrupted while waiting for the application".into());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the application did not answer at {}{ready} within {} s{}",
                    self.base,
                    within.as_secs_f64(),
                    self.tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How it ended, when it did (`exited with status 255`), else `None`;
    /// once it did, what it printed last is in its output (waited for up
    /// to [`DRAIN`]).
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                let deadline = Instant::now() + DRAIN;
                while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Some(
                    match (
                        status.code(),
                        std::os::unix::process::ExitStatusExt::signal(&status),
                    ) {
                        (Some(code), _) => format!("exited with status {code}"),
                        (None, Some(sig)) => format!("was killed by signal {sig}"),
                        _ => "exited".into(),
                    },
                )
            }
            _ => None,
        }
    }

    /// A position in its output.
    pub fn mark(&self) -> usize {
        self.log.lock().map_or(0, |l| l.total)
    }

    /// What it printed since `mark` (the last [`SHOWN_LOG`] bytes of it).
    pub fn since(&self, mark: usize) -> String {
        let Ok(l) = self.log.lock() else {
            return String::new();
        };
        let start = l.total - l.kept.len();
        let from = mark.max(start) - start;
        let new = &l.kept[from..];
        let new = &new[new.len().saturating_sub(SHOWN_LOG)..];
        String::from_utf8_lossy(new).trim_end().to_string()
    }

    /// `: its last output` (a few lines), for an error.
    pub fn tail(&self) -> String {
        let text = self.since(0);
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        if lines.is_empty() {
            return String::new();
        }
        let joined: Vec<&str> = lines.into_iter().rev().collect();
        format!("; its last output: {}", joined.join(" | "))
    }

    /// Stops it: its process group gets SIGTERM, then SIGKILL after 2 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id() as libc::pid_t;
        // SAFETY: signalling a process group rowguard made.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                // the group may hold children of its own
                unsafe { libc::kill(-group, libc::SIGKILL) };
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

//! One version of a running application: the process started against
//! each fixture (`prepare`: serve, wait until it answers, run the
//! `[[setup]]`), one HTTP request per operation (`run_at`), and what came
//! of it (`exchange`: the request, its answer, the `curl` command, the
//! application's output, and whether it can run no more).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::http::{self, Client};
use super::serve::{Server, Start};
use super::{spec, AppDomain, Saved};
use crate::guard::watch::Target;
use crate::guard::{Db, DbError, ErrorClass};
use crate::harness::domain::{Domain, Exchange, OpValue, Pipeline};
use serde_json::Value as Json;

/// One version: one running application per fixture (a fuzzing worker has
/// a fixture of its own, so `--jobs N` runs N applications side by side).
pub(super) struct AppVersion {
    pub(super) domain: &'static AppDomain,
    pub(super) version: spec::Version,
    /// The applications, by the fixture (target URL) they run against.
    pub(super) running: Mutex<HashMap<String, Arc<Mutex<Running>>>>,
    /// Each thread's last exchange ([`Pipeline::exchange`]).
    pub(super) last: Mutex<HashMap<ThreadId, Exchange>>,
}

/// One application, started against one fixture.
pub(super) struct Running {
    pub(super) server: Server,
    client: Client,
    /// The setup's lines, for the first op after a start.
    started: Vec<String>,
    /// What the setup's answers held (`save`).
    saved: Saved,
    /// When an operation last ran on it: one unused for [`IDLE`] belongs to
    /// a fixture that is gone (a worker's or a minimizer's session) and is stopped.
    used: Instant,
}

/// How long an application may sit unused before it is taken for abandoned.
const IDLE: Duration = Duration::from_secs(10);

/// The value `how` finds in an answer.
fn saved_value(how: &spec::Save, a: &http::Answer) -> Option<String> {
    match how {
        spec::Save::Json(pointer) => {
            let v: Json = serde_json::from_slice(&a.body).ok()?;
            v.pointer(pointer).map(spec::text_of)
        }
        spec::Save::Regex(re) => {
            let text = String::from_utf8_lossy(&a.body);
            re.captures(&text)?.get(1).map(|m| m.as_str().to_string())
        }
        spec::Save::Header(name) => a
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone()),
    }
}

impl AppVersion {
    /// Starts the application against `target`, waits for it, runs the setup.
    fn start(&self, target: &Target) -> Result<Running, String> {
        let spec = &self.domain.spec;
        let mut env = spec.app.env.clone();
        env.extend(self.version.env.iter().cloned());
        let mut server = Server::start(
            Start {
                serve: self.version.serve.as_deref(),
                url: &spec.app.url,
                cwd: &spec.app.cwd,
                env,
            },
            target,
        )?;
        let client = Client::new(Duration::from_secs_f64(spec.app.timeout));
        server.wait_ready(
            &client,
            &spec.app.ready,
            Duration::from_secs_f64(spec.app.ready_timeout),
        )?;
        let mut lines = vec![format!(
            "application `{}` at APP={} (its database: {target})",
            self.version.name, server.base
        )];
        let jar = !spec.setup.is_empty();
        let mut saved = Saved::new();
        for (i, r) in spec.setup.iter().enumerate() {
            let req = self.domain.setup_request(r, &saved);
            let what = format!("setup request {} ({} {})", i + 1, req.method, req.path);
            match client.send(&server.base, &req) {
                Ok(a) if a.status < 400 => {
                    for (name, how) in &r.save {
                        let value = saved_value(how, &a).ok_or_else(|| {
                            format!(
                                "{what}: its answer holds no `{name}` to save ({how:?}): {}",
                                first_line(&a.body)
                            )
                        })?;
                        saved.retain(|(k, _)| k != name);
                        saved.push((name.clone(), value));
                    }
                }
                Ok(a) => {
                    return Err(format!(
                        "{what} answered {}: {}",
                        a.status,
                        first_line(&a.body)
                    ))
                }
                Err(e) => return Err(format!("{what} got no answer: {}{}", e.0, server.tail())),
            }
            lines.push(format!("setup: {}", http::curl(&req, jar)));
        }
        Ok(Running {
            server,
            client,
            started: lines,
            saved,
            used: Instant::now(),
        })
    }
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty)")
        .to_string()
}

impl Pipeline for AppVersion {
    fn harness(&self) -> &'static dyn Domain {
        self.domain
    }
    fn name(&self) -> &'static str {
        self.version.name
    }
    fn bug_class(&self) -> &'static str {
        self.version.bug
    }
    fn trigger(&self) -> &'static str {
        self.version.trigger
    }
    fn databases(&self) -> &'static [&'static str] {
        self.version.databases
    }
    fn run(&self, _op: &OpValue, _db: &mut dyn Db) -> Result<(), DbError> {
        Err(DbError::new(
            ErrorClass::Api,
            "a running application connects itself: it runs on a fixture of its own",
        ))
    }
    fn connects(&self) -> bool {
        true
    }
    fn prepare(&self, target: &Target) -> Result<(), String> {
        if target.kind() == crate::guard::BackendKind::Sqlite
            && !self.domain.spec.fixture.contains_key("sqlite")
        {
            return Err(format!(
                "the spec of `{}` has no sqlite fixture: give --database (a {} URL)",
                self.domain.name,
                self.domain
                    .spec
                    .fixture
                    .keys()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        let mut running = self
            .running
            .lock()
            .map_err(|_| "the applications' table is poisoned")?;
        // applications of fixtures no session uses any more
        let idle: Vec<String> = running
            .iter()
            .filter(|(t, app)| {
                *t != target.url() && app.try_lock().is_ok_and(|a| a.used.elapsed() > IDLE)
            })
            .map(|(t, _)| t.clone())
            .collect();
        for t in idle {
            if let Some(app) = running.remove(&t) {
                if let Ok(mut app) = app.lock() {
                    app.server.stop();
                }
            }
        }
        let existing = running.get(target.url()).cloned();
        // the table is not held while an application starts or is waited for
        drop(running);
        let forget = || {
            if let Ok(mut running) = self.running.lock() {
                running.remove(target.url());
            }
        };
        if let Some(app) = existing {
            let mut app = app
                .lock()
                .map_err(|_| "the application's state is poisoned")?;
            let Some(exit) = app.server.exited() else {
                app.used = Instant::now();
                return Ok(());
            };
            let tail = app.server.tail();
            drop(app);
            forget();
            return Err(format!("the application {exit} between two inputs{tail}"));
        }
        let app = Arc::new(Mutex::new(self.start(target)?));
        self.running
            .lock()
            .map_err(|_| "the applications' table is poisoned")?
            .insert(target.url().to_string(), app);
        Ok(())
    }
    fn run_at(&self, op: &OpValue, target: &Target) -> Result<(), DbError> {
        let poisoned = || DbError::new(ErrorClass::Other, "the application's state is poisoned");
        let app = self
            .running
            .lock()
            .map_err(|_| poisoned())?
            .get(target.url())
            .cloned()
            .ok_or_else(|| DbError::new(ErrorClass::Other, "the application is not running"))?;
        let mut guard = app.lock().map_err(|_| poisoned())?;
        let app = &mut *guard;
        app.used = Instant::now();
        let (name, req) = self
            .domain
            .request(op, &app.saved)
            .map_err(|e| DbError::new(ErrorClass::Other, e))?;
        let mut x = Exchange {
            transcript: std::mem::take(&mut app.started),
            ..Exchange::default()
        };
        let mark = app.server.mark();
        let answer = app.client.send(&app.server.base, &req);
        let jar = !self.domain.spec.setup.is_empty();
        let result = match answer {
            Ok(a) => {
                x.transcript.push(format!(
                    "request: {} {} -> {} in {} ms",
                    req.method, req.path, a.status, a.millis
                ));
                x.words = http::words(&a.body);
                if a.status >= 400 {
                    Err(DbError::new(
                        ErrorClass::Other,
                        format!("HTTP {}: {}", a.status, first_line(&a.body)),
                    ))
                } else {
                    Ok(())
                }
            }
            Err(e) => {
                // give a dying process a moment to be reaped
                std::thread::sleep(Duration::from_millis(50));
                let how = app
                    .server
                    .exited()
                    .unwrap_or_else(|| "gave no answer".to_string());
                x.broken = Some(format!(
                    "the application {how} on op `{name}` ({} {}): {}{}",
                    req.method,
                    req.path,
                    e.0,
                    app.server.tail()
                ));
                Err(DbError::new(ErrorClass::Other, e.0))
            }
        };
        x.transcript
            .push(format!("curl: {}", http::curl(&req, jar)));
        let printed = app.server.since(mark);
        if !printed.is_empty() {
            x.transcript.push(format!("application output: {printed}"));
        }
        if x.broken.is_some() {
            // stopped now, so its connections (and any lock a stuck request
            // holds) are gone before rowguard drops the fixture; a later
            // input (the minimizer's) starts it again
            app.server.stop();
            drop(guard);
            if let Ok(mut running) = self.running.lock() {
                running.remove(target.url());
            }
        }
        if let Ok(mut last) = self.last.lock() {
            last.insert(std::thread::current().id(), x);
        }
        result
    }
    fn exchange(&self) -> Option<Exchange> {
        self.last.lock().ok()?.remove(&std::thread::current().id())
    }
}

//! A running application as the code under test, in any language, from a
//! spec file (`rowguard app SPEC COMMAND`): the spec becomes a harness
//! ([`Domain`]) whose versions connect themselves, so every command works
//! on it as on a Rust harness, and every row the application changes is
//! judged at the database ([`crate::guard::watch`]).
//!
//! ```text
//!   spec.toml ──spec──▶ AppDomain (ops, policies, fixture) ── versions ──▶ AppVersion
//!                                                                          │ prepare(target): serve + wait + [[setup]]
//!   engine / repro / gate ──execute──▶ Watched fixture ◀── SQL ── app ◀────┘ run_at(op): one HTTP request
//! ```
//!
//! An operation is JSON (`{"op": "reschedule", "id": 7, "notes": "..."}`):
//! one request, its free fields the spec's; the reproducer of an input is
//! the sequence of them. Each op's transcript (the request, its answer,
//! the `curl` command sending the same bytes, what the application printed)
//! goes with the execution; the texts of each answer are words for the
//! engine. An application that dies, never answers or hangs ends the
//! command with one line and exit 2; findings already made are kept.

pub mod fixture;
pub mod http;
pub mod openapi;
pub mod serve;
pub mod spec;
mod version;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value as Json};

use crate::guard::{Db, DbError, ErrorClass, Policy, Value};
use crate::harness::domain::{Domain, Fixture, OpValue, Pipeline};

use http::{Body, Prepared};
use spec::{Field, Spec};
use version::AppVersion;

/// The spec's harness.
struct AppDomain {
    spec: Spec,
    name: &'static str,
    sources: &'static [&'static str],
    pipelines: OnceLock<Vec<&'static dyn Pipeline>>,
    versions: OnceLock<Vec<&'static AppVersion>>,
}

/// The application harnesses this process loaded (stopped at its end).
static LOADED: Mutex<Vec<&'static AppDomain>> = Mutex::new(Vec::new());

/// Reads the spec at `path` and makes it a harness; also returns the
/// spec's folder.
pub fn load(path: &Path) -> crate::Result<(&'static dyn Domain, std::path::PathBuf)> {
    let spec = spec::load(path)?;
    let sources: Vec<&'static str> = spec
        .sources
        .iter()
        .map(|p| &*Box::leak(p.display().to_string().into_boxed_str()))
        .collect();
    let domain: &'static AppDomain = Box::leak(Box::new(AppDomain {
        name: Box::leak(spec.name.clone().into_boxed_str()),
        sources: Box::leak(sources.into_boxed_slice()),
        spec,
        pipelines: OnceLock::new(),
        versions: OnceLock::new(),
    }));
    let versions: Vec<&'static AppVersion> = domain
        .spec
        .versions
        .iter()
        .map(|v| {
            &*Box::leak(Box::new(AppVersion {
                domain,
                version: v.clone(),
                running: Mutex::new(HashMap::new()),
                last: Mutex::new(HashMap::new()),
            }))
        })
        .collect();
    let _ = domain.pipelines.set(
        versions
            .iter()
            .map(|v| *v as &'static dyn Pipeline)
            .collect(),
    );
    let _ = domain.versions.set(versions);
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.push(domain);
    }
    Ok((domain, domain.spec.dir.clone()))
}

/// Stops every application this process started.
pub fn stop_all() {
    let loaded = LOADED.lock().map(|l| l.clone()).unwrap_or_default();
    for domain in loaded {
        for v in domain.versions.get().into_iter().flatten() {
            let all: Vec<_> = v
                .running
                .lock()
                .map(|mut r| r.drain().collect())
                .unwrap_or_default();
            for (_, app) in all {
                if let Ok(mut app) = app.lock() {
                    app.server.stop();
                }
            }
        }
    }
}

/// A JSON value as the guard's.
fn value(v: &Json) -> Value {
    match v {
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .or_else(|| n.as_f64().map(Value::Real))
            .unwrap_or(Value::Null),
        Json::String(s) => Value::Text(s.clone()),
        Json::Bool(b) => Value::Integer(i64::from(*b)),
        Json::Null => Value::Null,
        other => Value::Text(other.to_string()),
    }
}

impl AppDomain {
    fn op<'a>(&'a self, op: &'a OpValue) -> Result<(&'a spec::Op, &'a Map<String, Json>), String> {
        let obj = op.as_object().ok_or("an operation is a JSON object")?;
        let name = obj
            .get("op")
            .and_then(Json::as_str)
            .ok_or("an operation names its kind in \"op\"")?;
        let o = self
            .spec
            .ops
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.spec.ops.iter().map(|o| o.name.as_str()).collect();
                format!("no op `{name}` in the spec (it has: {})", known.join(", "))
            })?;
        Ok((o, obj))
    }

    /// The value `op` gives field `name` (a fixed field's own, with the
    /// setup's `saved` values in it).
    fn field(o: &spec::Op, obj: &Map<String, Json>, name: &str, saved: &Saved) -> Json {
        match o.fields.iter().find(|(n, _)| n == name) {
            Some((_, Field::Fixed(v))) => filled(v, saved),
            _ => obj.get(name).cloned().unwrap_or(Json::Null),
        }
    }

    /// The request `op` is.
    fn request(&self, op: &OpValue, saved: &Saved) -> Result<(String, Prepared), String> {
        let (o, obj) = self.op(op)?;
        let placeholders = o.placeholders();
        let path = http::fill_path(&o.path, |name| {
            spec::text_of(&Self::field(o, obj, name, saved))
        });
        let rest: Vec<(String, Json)> = o
            .fields
            .iter()
            .filter(|(n, _)| !placeholders.contains(n))
            .map(|(n, _)| (n.clone(), Self::field(o, obj, n, saved)))
            .collect();
        let text = |rest: Vec<(String, Json)>| -> Vec<(String, String)> {
            rest.into_iter()
                .map(|(k, v)| (k, spec::text_of(&v)))
                .collect()
        };
        let (query, body) = match o.body {
            spec::Body::Query => (text(rest), Body::None),
            spec::Body::Form => (Vec::new(), Body::Form(text(rest))),
            spec::Body::Json => (
                Vec::new(),
                Body::Json(Json::Object(rest.into_iter().collect())),
            ),
        };
        let headers = self.headers(&o.headers, saved);
        Ok((
            o.name.clone(),
            Prepared {
                method: o.method.clone(),
                path,
                query,
                body,
                headers,
            },
        ))
    }

    /// The spec's headers and `own`, with the `saved` values in them.
    fn headers(&self, own: &[(String, String)], saved: &Saved) -> Vec<(String, String)> {
        let all = self.spec.headers.iter().chain(own);
        all.map(|(k, v)| (k.clone(), serve::fill(v, saved)))
            .collect()
    }

    /// A `[[setup]]` request, with the values earlier ones saved in it.
    fn setup_request(&self, r: &spec::Request, saved: &Saved) -> Prepared {
        let pairs = |p: &[(String, String)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.clone(), serve::fill(v, saved)))
                .collect()
        };
        let body = match (&r.json, r.form.is_empty()) {
            (Some(j), _) => Body::Json(filled(j, saved)),
            (None, false) => Body::Form(pairs(&r.form)),
            (None, true) => Body::None,
        };
        Prepared {
            method: r.method.clone(),
            path: r.path.clone(),
            query: pairs(&r.query),
            body,
            headers: self.headers(&r.headers, saved),
        }
    }
}

/// Values `[[setup]]` answers held, by name (`save`).
type Saved = Vec<(String, String)>;

/// A JSON value with each saved `{name}` replaced in its strings.
fn filled(v: &Json, saved: &Saved) -> Json {
    match v {
        Json::String(s) => Json::String(serve::fill(s, saved)),
        Json::Array(a) => Json::Array(a.iter().map(|v| filled(v, saved)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), filled(v, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Domain for AppDomain {
    fn name(&self) -> &'static str {
        self.name
    }
    fn pipelines(&self) -> &[&'static dyn Pipeline] {
        self.pipelines.get().map_or(&[], Vec::as_slice)
    }
    fn fixture(&self) -> Fixture {
        let f = &self.spec.fixture;
        let mut fixture = match f.get("sqlite") {
            Some(sql) => Fixture::sql(sql.clone()),
            // the words and keys of a server-only fixture; the application
            // never runs on it ([`AppVersion::prepare`] refuses a SQLite target)
            None => Fixture::sql(self.spec.tables.sqlite_copy()),
        };
        fixture.postgres = f.get("postgres").cloned();
        fixture.mysql = f.get("mysql").cloned();
        fixture
    }
    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<OpValue> {
        let o = u.choose(&self.spec.ops)?;
        let mut obj = Map::new();
        obj.insert("op".into(), o.name.clone().into());
        for (name, f) in o.free() {
            let v = match f {
                Field::Text => String::arbitrary(u)?.into(),
                Field::Key(vals) | Field::OneOf(vals) => u.choose(vals)?.clone(),
                Field::Int(lo, hi) => u.int_in_range(*lo..=*hi)?.into(),
                Field::Fixed(v) => v.clone(),
            };
            obj.insert(name.clone(), v);
        }
        Ok(Json::Object(obj))
    }
    fn check(&self, op: &OpValue) -> Result<(), String> {
        let (o, obj) = self.op(op)?;
        for key in obj.keys().filter(|k| *k != "op") {
            if !o.free().any(|(n, _)| n == key) {
                return Err(format!("op `{}` has no free field `{key}`", o.name));
            }
        }
        for (name, f) in o.free() {
            let v = obj
                .get(name)
                .ok_or_else(|| format!("op `{}` lacks field `{name}`", o.name))?;
            let fits = match f {
                Field::Text => v.is_string(),
                Field::Int(..) => v.is_i64(),
                _ => v.is_string() || v.is_number(),
            };
            if !fits {
                return Err(format!(
                    "op `{}`: field `{name}` holds {v}, not a {f:?}",
                    o.name
                ));
            }
        }
        Ok(())
    }
    fn reads(&self, op: &OpValue) -> bool {
        self.check(op).is_ok()
    }
    fn policy(&self, op: &OpValue, _db: &mut dyn Db) -> Result<Policy, DbError> {
        let (o, obj) = self
            .op(op)
            .map_err(|e| DbError::new(ErrorClass::Other, e))?;
        let p = &o.policy;
        let mut policy = Policy::new(&p.table, &p.column)
            .key(value(&Self::field(o, obj, &p.key, &Saved::new())))
            .writable(p.writable.iter().cloned());
        policy.side_effects = p.side_effects.clone();
        Ok(policy)
    }
    fn example(&self) -> OpValue {
        let o = &self.spec.ops[0];
        let mut obj = Map::new();
        obj.insert("op".into(), o.name.clone().into());
        for (name, f) in o.free() {
            let v = match f {
                Field::Text => "hello".into(),
                Field::Key(vals) | Field::OneOf(vals) => vals[0].clone(),
                Field::Int(lo, _) => (*lo).into(),
                Field::Fixed(v) => v.clone(),
            };
            obj.insert(name.clone(), v);
        }
        Json::Object(obj)
    }
    fn sources(&self) -> &'static [&'static str] {
        self.sources
    }
    fn resized(&self, _rows: usize) -> Option<&'static dyn Domain> {
        None
    }
    fn describe(&self, _op: &OpValue) -> Option<String> {
        None
    }
}

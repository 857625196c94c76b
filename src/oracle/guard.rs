//! The guard's oracle: arbitrary SQL text and an arbitrary policy fed to the
//! static and dynamic checkers through [`Guard`]'s three `Db` calls, and
//! what counts as a bug in the guard (never a finding about the SQL). The
//! cargo-fuzz `guard` target, `cargo test` and the CI gate all judge through
//! [`check`] and [`GuardSession::fixture_unchanged`]:
//!
//! - no panic, hang or stack overflow (the progress handler, SQLite limits
//!   and sqlparser's recursion limit bound everything);
//! - the guard's own calls never fail, nothing is ever committed (a commit
//!   hook counts commits, and turns them into rollbacks), and after each
//!   input the connection is back in autocommit;
//! - no file appears: neither in the working folder nor at any path named by
//!   a string literal of the SQL;
//! - the fixture is byte for byte what it was before the input;
//! - the differential: every write the dynamic layer observed is one the
//!   static layer's view (closed over triggers, foreign-key actions and
//!   REPLACE deletes) calls possible, whenever sqlparser parsed the text.
//!
//! Input layout: the SQL text, then optionally a 0xFF byte (never in UTF-8)
//! and policy bytes read with `arbitrary`. Without policy bytes the text runs
//! through `execute`, `execute_batch` and `query_row` in turn, under the
//! reschedule policy of appointment 7: a corpus file is plain SQL.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arbitrary::Unstructured;

use crate::appointments::{self, schema};
use crate::guard::{Api, Db, Guard, Policy, SideEffect, Value};

/// Separates the SQL text from the policy bytes.
pub const POLICY_MARK: u8 = 0xFF;

/// One decoded guard input.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardInput {
    pub sql: String,
    pub policy: Policy,
    /// The calls the text is sent through, each in its own input.
    pub calls: Vec<(Api, Vec<Value>)>,
}

const TABLES: [&str; 5] = [
    "appointments",
    "reminders",
    "appointment_log",
    "clients",
    "practitioners",
];
const COLUMNS: [&str; 14] = [
    "id",
    "rowid",
    "appointment_id",
    "practitioner_id",
    "client_id",
    "series_id",
    "start_at",
    "end_at",
    "notes",
    "reason",
    "status",
    "updated_at",
    "send_at",
    "phone",
];

fn name(u: &mut Unstructured<'_>, names: &[&str]) -> arbitrary::Result<String> {
    let i = u.choose_index(names.len() + 1)?;
    Ok(match names.get(i) {
        Some(n) => n.to_string(),
        None => u.arbitrary::<String>()?,
    })
}

fn value(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    Ok(match u.choose_index(5)? {
        0 => Value::Integer(u.int_in_range(-2..=250)?),
        1 => Value::Integer(u.arbitrary()?),
        2 => Value::Text(u.arbitrary()?),
        3 => Value::Real(u.arbitrary()?),
        _ => Value::Null,
    })
}

fn values(u: &mut Unstructured<'_>, max: usize) -> arbitrary::Result<Vec<Value>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| value(u)).collect()
}

fn policy(u: &mut Unstructured<'_>) -> arbitrary::Result<Policy> {
    let mut side_effects = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        side_effects.push(SideEffect {
            table: name(u, &TABLES)?,
            column: name(u, &COLUMNS)?,
            insert: u.arbitrary()?,
            update: u.arbitrary()?,
            delete: u.arbitrary()?,
        });
    }
    let mut writable = Vec::new();
    for c in COLUMNS {
        if u.arbitrary()? {
            writable.push(c.to_string());
        }
    }
    Ok(Policy {
        table: name(u, &TABLES)?,
        key_column: name(u, &COLUMNS)?,
        keys: values(u, 4)?,
        writable,
        side_effects,
    })
}

/// Decodes bytes; never fails (missing policy bytes give defaults).
pub fn decode(bytes: &[u8]) -> GuardInput {
    let (text, rest) = match bytes.iter().rposition(|&b| b == POLICY_MARK) {
        Some(i) => (&bytes[..i], Some(&bytes[i + 1..])),
        None => (bytes, None),
    };
    let sql = String::from_utf8_lossy(text).into_owned();
    let default = || GuardInput {
        sql: sql.clone(),
        policy: appointments::appointments_policy(&[schema::DEFAULT_TARGET]),
        calls: vec![
            (Api::Execute, Vec::new()),
            (Api::ExecuteBatch, Vec::new()),
            (Api::QueryRow, Vec::new()),
        ],
    };
    let Some(rest) = rest.filter(|r| !r.is_empty()) else {
        return default();
    };
    let mut u = Unstructured::new(rest);
    let decoded = (|| -> arbitrary::Result<GuardInput> {
        let api = [Api::Execute, Api::ExecuteBatch, Api::QueryRow][u.choose_index(3)?];
        let params = values(&mut u, 3)?;
        Ok(GuardInput {
            sql: sql.clone(),
            policy: policy(&mut u)?,
            calls: vec![(api, params)],
        })
    })();
    decoded.unwrap_or_else(|_| default())
}

/// A guard over the fixture, the count of commits since it was set up, and
/// the fixture as it was then.
pub struct GuardSession {
    guard: Guard,
    commits: Arc<AtomicUsize>,
    pristine: Vec<String>,
}

impl GuardSession {
    /// A session over the default fixture, armed to count commits.
    pub fn new() -> crate::Result<GuardSession> {
        let mut conn = schema::open(schema::DEFAULT_SIZE)?;
        // Armed once the guard is set up (its setup commits its TEMP objects).
        let commits = Arc::new(AtomicUsize::new(usize::MAX));
        let seen = Arc::clone(&commits);
        // The guard only ever rolls back: any commit is a bug (made a rollback here).
        conn.commit_hook(Some(move || {
            seen.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                // Lazily: `n + 1` overflows while unarmed.
                (n != usize::MAX).then(|| n + 1)
            })
            .is_ok()
        }))?;
        let guard = Guard::new(
            conn,
            appointments::appointments_policy(&[schema::DEFAULT_TARGET]),
        )?;
        commits.store(0, Ordering::Relaxed);
        let pristine = schema::dump(guard.connection())?;
        Ok(GuardSession {
            guard,
            commits,
            pristine,
        })
    }

    /// `Err` when the fixture differs from what it was when the session was
    /// set up: some input escaped the rollback.
    pub fn fixture_unchanged(&self) -> Result<(), String> {
        let now = schema::dump(self.guard.connection()).map_err(|e| format!("dump: {e}"))?;
        if now == self.pristine {
            Ok(())
        } else {
            Err("the fixture changed: an input escaped the guard's rollback".into())
        }
    }

    /// The guarded connection (e.g. to compare the fixture before and after).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }
}

/// Names in the working folder.
fn folder_names() -> BTreeSet<String> {
    std::fs::read_dir(".")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Paths named by the SQL's string literals (a crude scan: any `'...'`).
fn literal_paths(sql: &str) -> Vec<String> {
    sql.split('\'')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty() && s.len() < 4096)
        .flat_map(|s| {
            let path = s.strip_prefix("file:").unwrap_or(s);
            let path = path.split('?').next().unwrap_or(path).to_string();
            [path.clone(), format!("{path}-journal")]
        })
        .take(64)
        .collect()
}

fn existing(paths: &[String]) -> Vec<bool> {
    paths.iter().map(|p| Path::new(p).exists()).collect()
}

/// Runs one input through the guard and checks the oracle. `Err` is a bug in
/// the guard (the fuzz target panics with it; the corpus test fails).
pub fn check(session: &mut GuardSession, input: &GuardInput) -> Result<(), String> {
    let before_names = folder_names();
    let paths = literal_paths(&input.sql);
    let before_paths = existing(&paths);
    let guard = &mut session.guard;
    for (api, params) in &input.calls {
        guard.set_policy(input.policy.clone());
        guard
            .begin_input()
            .map_err(|e| format!("begin_input: {e}"))?;
        let _ = match api {
            Api::Execute => guard.execute(&input.sql, params).map(|_| ()),
            Api::ExecuteBatch => guard.execute_batch(&input.sql),
            Api::QueryRow => guard.query_row(&input.sql, params).map(|_| ()),
            // no SQL call to replay: rows judged at the database
            Api::Connection => Ok(()),
        };
        let uncovered = guard.last_uncovered();
        let verdict = guard.end_input().map_err(|e| format!("end_input: {e}"))?;
        if !uncovered.is_empty() {
            return Err(format!(
                "differential: {api:?} observed writes the static layer calls impossible: {uncovered:?}\nstatic view: {:?}\nverdict: {verdict:#?}",
                crate::guard::static_check::analyze(
                    crate::guard::static_check::compiled_text(&input.sql).0,
                    crate::guard::Dialect::Sqlite,
                    &input.policy,
                    None
                )
                .writes
            ));
        }
        if !guard.connection().is_autocommit() {
            return Err(format!("{api:?}: the input left a transaction open"));
        }
        if session.commits.load(Ordering::Relaxed) != 0 {
            return Err(format!("{api:?}: something committed"));
        }
    }
    let new_names: Vec<String> = folder_names()
        .difference(&before_names)
        .filter(|n| input.sql.contains(n.trim_end_matches("-journal")))
        .cloned()
        .collect();
    if !new_names.is_empty() {
        return Err(format!(
            "files appeared in the working folder: {new_names:?}"
        ));
    }
    let created: Vec<&String> = paths
        .iter()
        .zip(before_paths)
        .zip(existing(&paths))
        .filter(|((_, was), is)| !was && *is)
        .map(|((p, _), _)| p)
        .collect();
    if !created.is_empty() {
        return Err(format!("files appeared: {created:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_runs_through_every_call_under_the_default_policy() {
        let i = decode(b"SELECT 1");
        assert_eq!(i.sql, "SELECT 1");
        assert_eq!(i.calls.len(), 3);
        assert_eq!(i.policy, appointments::appointments_policy(&[7]));
        let j = decode(b"SELECT 1\xff\x01\x02\x03\x04\x05\x06");
        assert_eq!(j.sql, "SELECT 1");
        assert_eq!(j.calls.len(), 1);
    }

    #[test]
    fn a_commit_is_a_bug_and_is_rolled_back() {
        let mut s = GuardSession::new().unwrap();
        let input = decode(b"SELECT 1");
        assert_eq!(check(&mut s, &input), Ok(()));
        let conn = s.guard().connection();
        let r = conn.execute_batch("BEGIN; UPDATE clients SET phone = 'x'; COMMIT;");
        assert!(r.is_err(), "the hook turns the commit into a rollback");
        let phone: String = conn
            .query_row("SELECT phone FROM clients WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(phone, "555-0101");
        assert!(check(&mut s, &input).unwrap_err().contains("committed"));
    }

    #[test]
    fn smoke() {
        let mut rng = crate::harness::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next_u64();
        let words: [&[u8]; 12] = [
            b"UPDATE appointments SET notes = 'x' WHERE id = 7",
            b" OR 1=1",
            b"; ",
            b"DELETE FROM reminders",
            b" WHERE appointment_id = 9",
            b"\0",
            b"'",
            b"--",
            b"REPLACE INTO reminders VALUES (9, '2026-03-01 09:00')",
            b"WITH c AS (SELECT 1) ",
            b"\xff",
            b"COMMIT",
        ];
        let mut s = GuardSession::new().unwrap();
        for _ in 0..300 {
            let mut bytes = Vec::new();
            for _ in 0..next() % 6 {
                bytes.extend_from_slice(words[(next() % 12) as usize]);
            }
            for _ in 0..next() % 8 {
                bytes.push(next() as u8);
            }
            let input = decode(&bytes);
            if let Err(bug) = check(&mut s, &input) {
                panic!("guard bug on {:?}: {bug}", input.sql);
            }
        }
    }
}

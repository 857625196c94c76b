//! The built-in appointments harness, in a room of its own as a team's
//! harness would be: the clinic's month view as one [`Harness`] (its
//! fixture, the reschedule policy of DESIGN.md "The invariant", the
//! pipelines as versions), and the constructors for "a guard over the
//! fixture for target N" that `check` and the tests use. It stands on the
//! extension point ([`crate::harness`]) like any other harness; nothing
//! below it names it.
//!
//! | module | owns |
//! |---|---|
//! | [`schema`] | the appointments schema and its deterministic fixture |
//! | [`schema_pg`] | the same fixture in PostgreSQL's dialect |
//! | [`schema_mysql`] | the same fixture in MariaDB/MySQL's dialect |
//! | [`pipeline`] | the reschedule + notes pipeline: `safe` and the planted variants |
//! | [`generate`] | fuzz bytes as one appointments op |
//! | (this file) | the harness, the reschedule policy, guards over the fixture |
//!
//! Where things go:
//! - **a planted pipeline**: one file in `pipeline/` implementing
//!   [`pipeline::Pipeline`], one line in `pipeline::all()`, a reproducer under
//!   `corpus/regressions/<name>/`; nothing else changes.
//! - **a write channel** (a new table, trigger or cascade in the fixture):
//!   `schema.rs`, and its side effect in [`appointments_policy`] when the
//!   reschedule may use it; the guard needs no change.

pub mod generate;
pub mod pipeline;
pub mod schema;
pub mod schema_mysql;
pub mod schema_pg;

use std::sync::OnceLock;

use arbitrary::Unstructured;

use self::pipeline::Op;
use crate::guard::mysql::MyGuard;
use crate::guard::postgres::{PgGuard, PgOptions};
use crate::guard::{
    Backend, BackendKind, Db, DbError, ErrorClass, Guard, Policy, SideEffect, Value,
};
use crate::harness::domain::{register, Domain, Fixture, Harness, Pipeline, Version};
use crate::harness::execute::Session;

/// The month view of a clinic of `size` appointments, with the built-in
/// variants and `extra` ones (a test's own planted bug).
pub struct Appointments {
    pub size: usize,
    pub extra: Vec<&'static dyn pipeline::Variant>,
}

impl Harness for Appointments {
    type Op = Op;

    fn name(&self) -> &'static str {
        "appointments"
    }

    fn fixture(&self) -> Fixture {
        let size = self.size;
        Fixture {
            sqlite: Box::new(move |conn| schema::build(conn, size)),
            sqlite_text: schema::sql(size),
            postgres: Some(schema_pg::sql(size)),
            mysql: Some(schema_mysql::sql(size)),
        }
    }

    fn policy(&self, op: &Op, db: &mut dyn Db) -> Result<Policy, DbError> {
        Ok(appointments_policy(&targets(db, op)?))
    }

    fn versions(&self) -> Vec<Version<Op>> {
        pipeline::variants()
            .iter()
            .chain(&self.extra)
            .map(|&v| Version {
                name: v.name(),
                bug_class: v.bug_class(),
                trigger: v.trigger(),
                databases: v.databases(),
                run: Box::new(move |op: &Op, db: &mut dyn Db| v.run(op, db)),
                connect: None,
            })
            .collect()
    }

    fn example(&self) -> Op {
        Op::Reschedule {
            id: schema::DEFAULT_TARGET,
            day: 12,
            slot: 4,
            notes: String::new(),
            reason: "client request".into(),
        }
    }

    fn generate(&self, u: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
        generate::arbitrary_op(u)
    }

    fn validate(&self, op: &Op) -> Result<(), String> {
        op.validate()
    }

    fn sources(&self) -> &'static [&'static str] {
        // absolute in this crate's own directory, as `rowguard::sources!` makes it
        &[concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/appointments/pipeline"
        )]
    }

    fn describe(&self, op: &Op) -> Option<String> {
        Some(match op {
            Op::Reschedule {
                id,
                day,
                slot,
                notes,
                reason,
            } => format!(
                "reschedule #{id} to day {day} slot {slot}, notes {notes:?}, reason {reason:?}"
            ),
            Op::EditNotes { id, notes } => format!("edit-notes #{id}, notes {notes:?}"),
            Op::RescheduleSeries {
                id,
                slot,
                notes,
                reason,
            } => format!(
                "reschedule-series of #{id} to slot {slot}, notes {notes:?}, reason {reason:?}"
            ),
        })
    }

    fn resized(&self, rows: usize) -> Option<Appointments> {
        Some(Appointments {
            size: rows,
            extra: self.extra.clone(),
        })
    }
}

/// The appointments harness over the default fixture, registered once.
pub fn harness() -> &'static dyn Domain {
    static ONE: OnceLock<&'static dyn Domain> = OnceLock::new();
    *ONE.get_or_init(|| {
        register(Appointments {
            size: schema::DEFAULT_SIZE,
            extra: Vec::new(),
        })
    })
}

/// `variant` as a pipeline of its own appointments harness (the built-in
/// variants and it): how a test fuzzes a planted bug it writes itself.
pub fn with_variant(variant: &'static dyn pipeline::Variant) -> &'static dyn Pipeline {
    let domain = register(Appointments {
        size: schema::DEFAULT_SIZE,
        extra: vec![variant],
    });
    *domain
        .pipelines()
        .last()
        .expect("the harness holds the variant it was given")
}

/// The appointments an op may write: its series, or itself.
fn targets(db: &mut dyn Db, op: &Op) -> Result<Vec<i64>, DbError> {
    let id = op.target();
    if !op.is_series() {
        return Ok(vec![id]);
    }
    let mut out = vec![id];
    let series = match db.query_row(
        "SELECT series_id FROM appointments WHERE id = ?1",
        &[Value::Integer(id)],
    ) {
        Ok(row) => row.first().cloned(),
        Err(e) if e.class == ErrorClass::NoRows => None,
        Err(e) => return Err(e),
    };
    if let Some(Value::Integer(series)) = series {
        let mut k = 0;
        // `Db` reads one row per call: walk the series by id.
        loop {
            match db.query_row(
                "SELECT id FROM appointments WHERE series_id = ?1 AND id > ?2 ORDER BY id LIMIT 1",
                &[Value::Integer(series), Value::Integer(k)],
            ) {
                Ok(row) => match row.first() {
                    Some(Value::Integer(i)) => {
                        k = *i;
                        out.push(*i);
                    }
                    _ => break,
                },
                Err(e) if e.class == ErrorClass::NoRows => break,
                Err(e) => return Err(e),
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Columns a reschedule may change on its target rows.
pub const WRITABLE: [&str; 5] = ["start_at", "end_at", "notes", "reason", "updated_at"];

/// The reschedule policy for target appointments `keys`: their writable
/// columns, the audit rows the trigger logs for them, and their reminders.
pub fn appointments_policy(keys: &[i64]) -> Policy {
    let child = |table: &str, update: bool, delete: bool| SideEffect {
        table: table.into(),
        column: "appointment_id".into(),
        insert: true,
        update,
        delete,
    };
    Policy {
        table: "appointments".into(),
        key_column: "id".into(),
        keys: keys.iter().map(|&k| Value::Integer(k)).collect(),
        writable: WRITABLE.map(String::from).to_vec(),
        side_effects: vec![
            child("appointment_log", false, false),
            child("reminders", true, true),
        ],
    }
}

/// A guard over a fresh fixture of `size` appointments, with the reschedule
/// policy of appointment `target`.
pub fn guard_for(size: usize, target: i64) -> crate::Result<Guard> {
    Ok(Guard::new(
        schema::open(size)?,
        appointments_policy(&[target]),
    )?)
}

/// The same guard on the MariaDB/MySQL server of `options` (a `mysql://`
/// or `mariadb://` URL): the fixture built in a database rowguard creates
/// (and drops with the guard).
pub fn my_guard_for(options: &PgOptions, size: usize, target: i64) -> crate::Result<MyGuard> {
    Ok(MyGuard::open(
        options,
        &schema_mysql::sql(size),
        appointments_policy(&[target]),
    )?)
}

/// The guard on the server `options` names, whichever database it is.
pub fn server_guard_for(
    options: &PgOptions,
    size: usize,
    target: i64,
) -> crate::Result<Box<dyn Backend>> {
    Ok(match BackendKind::of_url(&options.url) {
        BackendKind::Mysql => Box::new(my_guard_for(options, size, target)?),
        _ => Box::new(pg_guard_for(options, size, target)?),
    })
}

/// The same guard on the PostgreSQL server of `options`: the fixture built
/// in a schema rowguard creates (and drops with the guard).
pub fn pg_guard_for(options: &PgOptions, size: usize, target: i64) -> crate::Result<PgGuard> {
    Ok(PgGuard::open(
        options,
        &schema_pg::sql(size),
        appointments_policy(&[target]),
    )?)
}

// The built-in harness's session: the extension point's `Session` with this
// harness as its default, defined here so that the extension point names no
// domain.

impl Session {
    /// A session over the appointments fixture on embedded SQLite.
    pub fn new() -> crate::Result<Session> {
        Session::open(harness(), None)
    }
}

//! The appointments policy: what one reschedule of target appointments may
//! write (DESIGN.md, "The invariant"), and the one constructor for "a guard
//! over the fixture for target N" that every tool and test uses.

use super::{schema, schema_mysql, schema_pg};
use crate::guard::mysql::MyGuard;
use crate::guard::postgres::{PgGuard, PgOptions};
use crate::guard::{Backend, BackendKind, Guard, Policy, SideEffect, Value};

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

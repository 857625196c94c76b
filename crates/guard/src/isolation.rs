//! Connection state that a rollback keeps, made per input, so the verdict of
//! an input depends on that input alone (DESIGN.md, Isolation), and
//! temporary storage that never touches a file.
//!
//! - `total_changes()` and `changes()` count since the connection opened and
//!   survive the rollback: both SQL functions are replaced, per connection,
//!   by ones relative to the input's start (`total_changes()` counts from 0;
//!   `changes()` is what the last user statement of this input that changed
//!   rows changed, 0 before one did; the guard's own log clearing never counts).
//! - `last_insert_rowid()` survives too: it is set back to 0 when an input begins.
//! - `random()` and `randomblob(N)` draw from SQLite's process-wide
//!   generator, shared with every other connection and thread: both are
//!   replaced by a generator of the guard's own, reseeded when an input begins.
//! - `temp_store = MEMORY`: TEMP tables, sorters and transient indices stay
//!   in memory. The authorizer denies PRAGMA to user SQL, so no statement can
//!   change it; `.cargo/config.toml` also builds SQLite with
//!   `SQLITE_TEMP_STORE=3` (memory, always) for rowguard's own binaries.
//!
//! These were chosen over denying the functions so that `safe` code that
//! reads `changes()` or `last_insert_rowid()` after its own write stays clean.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::Connection;

/// The generator's state at the start of every input.
/// Largest string or blob, and longest SQL text, a statement may make.
pub const MAX_LENGTH: i32 = 16 * 1024 * 1024;

const SEED: u64 = 0x726f_7767_7561_7264; // "rowguard"

/// The per-input baselines of one connection.
#[derive(Default)]
pub(crate) struct Counters {
    total_at_start: AtomicI64,
    /// Rows the last user statement of this input that changed any changed.
    last_changes: AtomicI64,
    rng: AtomicU64,
}

impl Counters {
    /// Called when an input begins.
    pub(crate) fn reset(&self, conn: &Connection) {
        self.total_at_start
            .store(conn.total_changes() as i64, Ordering::Relaxed);
        self.rng.store(SEED, Ordering::Relaxed);
        self.last_changes.store(0, Ordering::Relaxed);
        // SAFETY: the handle is the live connection's own; this call only
        // stores an integer in it.
        unsafe { rusqlite::ffi::sqlite3_set_last_insert_rowid(conn.handle(), 0) };
    }

    /// After a user statement that started when `total_changes` was
    /// `before`: what `changes()` reports next. The guard's own statements
    /// (clearing its change log) never count.
    pub(crate) fn after_statement(&self, conn: &Connection, before: u64) {
        if conn.total_changes() > before {
            self.last_changes
                .store(conn.changes() as i64, Ordering::Relaxed);
        }
    }

    /// splitmix64: small, fast, and the same sequence on every machine.
    fn next(&self) -> u64 {
        let s = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `total_changes()` of this input so far.
    fn total(&self, ctx: &Context<'_>) -> rusqlite::Result<i64> {
        // SAFETY: the reference is used on this thread within this call only.
        let conn = unsafe { ctx.get_connection()? };
        Ok(conn.total_changes() as i64 - self.total_at_start.load(Ordering::Relaxed))
    }
}

/// Sets temporary storage to memory and installs the per-input functions.
pub(crate) fn isolate(conn: &Connection) -> rusqlite::Result<Arc<Counters>> {
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let counters = Arc::new(Counters::default());
    let flags = FunctionFlags::SQLITE_UTF8;
    let c = Arc::clone(&counters);
    conn.create_scalar_function("total_changes", 0, flags, move |ctx| c.total(ctx))?;
    let c = Arc::clone(&counters);
    conn.create_scalar_function("changes", 0, flags, move |_| {
        Ok(c.last_changes.load(Ordering::Relaxed))
    })?;
    let c = Arc::clone(&counters);
    conn.create_scalar_function("random", 0, flags, move |_| Ok(c.next() as i64))?;
    let c = Arc::clone(&counters);
    conn.create_scalar_function("randomblob", 1, flags, move |ctx| {
        let n = ctx
            .get::<Option<i64>>(0)
            .unwrap_or(None)
            .unwrap_or(1)
            .max(1);
        if n > MAX_LENGTH as i64 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_TOOBIG),
                Some("string or blob too big".into()),
            ));
        }
        let mut blob = Vec::with_capacity(n as usize);
        while blob.len() < n as usize {
            blob.extend_from_slice(&c.next().to_le_bytes());
        }
        blob.truncate(n as usize);
        Ok(blob)
    })?;
    Ok(counters)
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, Value};

    /// What the counters read at the start of an input, after `before` ran
    /// in an earlier input of the same guard.
    fn first_reads(before: Option<&str>) -> Vec<Value> {
        let mut g = crate::Guard::new(crate::tests::fixture(), crate::tests::policy7()).unwrap();
        if let Some(sql) = before {
            let _ = g.check(|g| g.execute_batch(sql)).unwrap();
        }
        let (row, _) = g
            .check(|g| {
                g.query_row(
                    "SELECT total_changes(), changes(), last_insert_rowid(), random(), hex(randomblob(8))",
                    &[],
                )
            })
            .unwrap();
        row.unwrap()
    }

    #[test]
    fn counters_and_randomness_do_not_carry_over_between_inputs() {
        let alone = first_reads(None);
        assert_eq!(
            alone[..3],
            [Value::Integer(0), Value::Integer(0), Value::Integer(0)]
        );
        for before in [
            "UPDATE appointments SET notes = 'x'",
            "INSERT INTO reminders VALUES (7, '2031-01-01 00:00')",
            "DELETE FROM appointment_log",
            "SELECT random(), randomblob(100)",
        ] {
            assert_eq!(first_reads(Some(before)), alone, "after {before}");
        }
    }

    #[test]
    fn counters_still_count_within_one_input() {
        let mut g = crate::Guard::new(crate::tests::fixture(), crate::tests::policy7()).unwrap();
        let (row, _) = g
            .check(|g| {
                g.execute("UPDATE appointments SET notes = 'a' WHERE id = 7", &[])
                    .unwrap();
                g.query_row("SELECT changes(), total_changes() > 0", &[])
            })
            .unwrap();
        assert_eq!(row.unwrap(), [Value::Integer(1), Value::Integer(1)]);
    }
}

//! Change capture through SQLite's pre-update hook, for the production
//! tripwire and the guard ([`super::Capture::install`]): SQLite calls Rust with the old and new values of every row it
//! is about to insert, update or delete, before the change, from inside the
//! statement (direct changes, trigger-made ones, foreign-key cascades and
//! REPLACE deletes alike; the truncate optimization is off while a hook is
//! set). No trigger, no statement journal for one-row writes, no SQL per
//! row: on a one-row update this is what makes the tripwire cheap.
//!
//! It needs SQLite built with `SQLITE_ENABLE_PREUPDATE_HOOK`, which this
//! repository's `.cargo/config.toml` asks of libsqlite3-sys; the guard's
//! build script compiles this module only when that flag is in
//! `LIBSQLITE3_FLAGS` (otherwise the tripwire captures with triggers).
//!
//! A hook cannot write, so there is no generation marker: whether a failed
//! statement's rows stood is read from `changes` ([`Log::settle_by_changes`]),
//! with `counted` set for the changes SQLite surely counts there: depth 0
//! (not made by a trigger) inserts and updates, and deletes too on a schema
//! without triggers ([`Log::deletes_counted`](super::Log)).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Arc, Mutex};

use rusqlite::ffi;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{lock, Log};
use crate::policy::TableInfo;

/// What the hook needs, owned by [`Hook`] and lent to SQLite.
struct State {
    log: Arc<Mutex<Log>>,
    /// Per protected table: its name and the logged row's width (its
    /// declared columns, after a `rowid` when that is not one of them).
    tables: Vec<(Vec<u8>, usize)>,
    /// The database's text encoding is UTF-8.
    utf8: bool,
}

/// The pre-update hook installed on one connection; removed on drop.
pub(crate) struct Hook {
    db: *mut ffi::sqlite3,
    state: *mut State,
}

impl Hook {
    /// Whether the hook can stand in for the triggers on `tables`: every
    /// table's logged columns are its declared columns (and the rowid), with
    /// no hidden or generated column whose numbering would differ.
    pub(crate) fn fits(conn: &Connection, tables: &[TableInfo]) -> rusqlite::Result<bool> {
        for t in tables {
            let hidden: i64 = conn.query_row(
                "SELECT count(*) FROM pragma_table_xinfo(?1, 'main') WHERE hidden <> 0",
                [&t.name],
                |r| r.get(0),
            )?;
            if hidden > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Installs the hook on `conn`, filling `log` for `tables`.
    ///
    /// The hook must be dropped before `conn` is closed.
    pub(crate) fn install(
        conn: &Connection,
        tables: &[TableInfo],
        log: Arc<Mutex<Log>>,
    ) -> rusqlite::Result<Hook> {
        let encoding: String = conn.query_row("PRAGMA encoding", [], |r| r.get(0))?;
        let state = Box::into_raw(Box::new(State {
            log,
            utf8: encoding.eq_ignore_ascii_case("UTF-8"),
            tables: tables
                .iter()
                .map(|t| (t.name.as_bytes().to_vec(), t.columns.len()))
                .collect(),
        }));
        // SAFETY: the handle is the live connection's; `state` stays valid
        // until `Drop` unregisters the hook and frees it.
        unsafe {
            let db = conn.handle();
            ffi::sqlite3_preupdate_hook(db, Some(preupdate), state.cast());
            Ok(Hook { db, state })
        }
    }
}

// SAFETY: the hook's state is read only by SQLite's callback, on whichever
// thread runs the connection it is installed on; the hook moves with that
// connection (inside the tripwire) and the state's fields are `Send`.
unsafe impl Send for Hook {}

impl Drop for Hook {
    fn drop(&mut self) {
        // SAFETY: unregisters before freeing what the hook reads; the
        // connection outlives the hook (the tripwire drops it first).
        unsafe {
            ffi::sqlite3_preupdate_hook(self.db, None, std::ptr::null_mut());
            drop(Box::from_raw(self.state));
        }
    }
}

/// A protected value as a [`ValueRef`] (valid until the hook returns).
/// `utf8`: the database's text is UTF-8, so a text value's bytes are read
/// as they are stored (`sqlite3_value_blob`), without the copy
/// `sqlite3_value_text` makes to add a terminator.
///
/// # Safety
/// `v` must be a protected value handed out by SQLite and still alive.
unsafe fn value<'a>(v: *mut ffi::sqlite3_value, utf8: bool) -> ValueRef<'a> {
    let bytes = |p: *const u8| {
        let n = ffi::sqlite3_value_bytes(v);
        if p.is_null() || n <= 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(p, n as usize)
        }
    };
    match ffi::sqlite3_value_type(v) {
        ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(v)),
        ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(v)),
        ffi::SQLITE_TEXT if utf8 => ValueRef::Text(bytes(ffi::sqlite3_value_blob(v).cast())),
        ffi::SQLITE_TEXT => ValueRef::Text(bytes(ffi::sqlite3_value_text(v))),
        ffi::SQLITE_BLOB => ValueRef::Blob(bytes(ffi::sqlite3_value_blob(v).cast())),
        _ => ValueRef::Null,
    }
}

/// Reads one side of the row about to change into `out` (exactly its
/// width): the rowid first when the logged row has one of its own, then
/// every declared column.
///
/// # Safety
/// Only from inside the pre-update callback of `db`, with `read` one of
/// `sqlite3_preupdate_old`/`_new` valid for the operation.
unsafe fn row<'a>(
    db: *mut ffi::sqlite3,
    read: unsafe extern "C" fn(*mut ffi::sqlite3, c_int, *mut *mut ffi::sqlite3_value) -> c_int,
    rowid: Option<i64>,
    utf8: bool,
    out: &mut [ValueRef<'a>],
) -> bool {
    let columns = match rowid {
        Some(id) => {
            out[0] = ValueRef::Integer(id);
            &mut out[1..]
        }
        None => out,
    };
    for (i, slot) in columns.iter_mut().enumerate() {
        let mut v = std::ptr::null_mut();
        if read(db, i as c_int, &mut v) != ffi::SQLITE_OK || v.is_null() {
            return false;
        }
        *slot = value(v, utf8);
    }
    true
}

unsafe extern "C" fn preupdate(
    ctx: *mut c_void,
    db: *mut ffi::sqlite3,
    op: c_int,
    z_db: *const c_char,
    z_name: *const c_char,
    key1: i64,
    key2: i64,
) {
    // No panic may cross into SQLite.
    let _ = std::panic::catch_unwind(|| {
        let state = &*(ctx as *const State);
        if z_db.is_null() || z_name.is_null() {
            return;
        }
        let database = CStr::from_ptr(z_db).to_bytes();
        let name = CStr::from_ptr(z_name).to_bytes();
        // The connection's own temp tables are private to it; everything
        // else is judged, or trips: a row is never skipped.
        if database == b"temp" {
            return;
        }
        let mut log = lock(&state.log);
        if log.paused {
            return;
        }
        let known = (database == b"main")
            .then(|| {
                state
                    .tables
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .flatten();
        let Some(t) = known else {
            log.fault = Some(format!(
                "a write to {}.{}, a table the tripwire does not guard",
                String::from_utf8_lossy(database),
                String::from_utf8_lossy(name)
            ));
            return;
        };
        let width = state.tables[t].1;
        let utf8 = state.utf8;
        // The logged row is the declared columns, after the rowid when the
        // table has one that is none of them.
        let extra = match width.checked_sub(ffi::sqlite3_preupdate_count(db).max(0) as usize) {
            Some(0) => false,
            Some(1) => true,
            _ => {
                log.fault = Some(format!(
                    "table {} changed shape under the tripwire",
                    String::from_utf8_lossy(name)
                ));
                return;
            }
        };
        // Rows of up to 32 columns on the stack.
        let n = if op == ffi::SQLITE_UPDATE {
            2 * width
        } else {
            width
        };
        let mut stack = [ValueRef::Null; 64];
        let mut heap = Vec::new();
        let values: &mut [ValueRef<'_>] = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, ValueRef::Null);
            &mut heap
        };
        let (code, ok) = match op {
            ffi::SQLITE_INSERT => (
                0,
                row(
                    db,
                    ffi::sqlite3_preupdate_new,
                    extra.then_some(key2),
                    utf8,
                    values,
                ),
            ),
            ffi::SQLITE_UPDATE => {
                let (old, new) = values.split_at_mut(width);
                (
                    1,
                    row(
                        db,
                        ffi::sqlite3_preupdate_old,
                        extra.then_some(key1),
                        utf8,
                        old,
                    ) && row(
                        db,
                        ffi::sqlite3_preupdate_new,
                        extra.then_some(key2),
                        utf8,
                        new,
                    ),
                )
            }
            _ => (
                2,
                row(
                    db,
                    ffi::sqlite3_preupdate_old,
                    extra.then_some(key1),
                    utf8,
                    values,
                ),
            ),
        };
        if !ok {
            log.fault = Some(format!(
                "the pre-update hook could not read a changed row of {}",
                String::from_utf8_lossy(name)
            ));
            return;
        }
        let counted = ffi::sqlite3_preupdate_depth(db) == 0
            && (op != ffi::SQLITE_DELETE || log.deletes_counted);
        log.record(t, code, width, values, counted);
    });
}

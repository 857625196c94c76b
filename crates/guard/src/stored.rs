//! The exact encoding of one stored SQLite value ([`Cell`]: type and
//! bytes, whatever the column's collation), and whether two stored values
//! encode alike: what the change capture and the clean-row test both read
//! rows with.

use std::ffi::{c_char, CStr};

use rusqlite::types::ValueRef;

use crate::policy::{push_hex, Cell};

/// A real as SQLite's `quote()` prints it (`%!0.17g`: exact, and infinity
/// as `9.0e+999`), through SQLite's own printf.
fn real_literal(f: f64) -> String {
    let mut buf = [0 as c_char; 64];
    // SAFETY: SQLite writes at most `buf.len()` bytes, NUL included, into
    // the buffer; the format takes exactly one double.
    unsafe {
        rusqlite::ffi::sqlite3_snprintf(buf.len() as i32, buf.as_mut_ptr(), c"%!0.17g".as_ptr(), f);
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// Whether two stored values have the same encoding: same type, same
/// bytes, and for reals the same bits (`%!0.17g` tells any two apart).
pub(crate) fn same(a: ValueRef<'_>, b: ValueRef<'_>) -> bool {
    match (a, b) {
        (ValueRef::Null, ValueRef::Null) => true,
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x == y,
        (ValueRef::Real(x), ValueRef::Real(y)) => x.to_bits() == y.to_bits(),
        (ValueRef::Text(x), ValueRef::Text(y)) | (ValueRef::Blob(x), ValueRef::Blob(y)) => x == y,
        _ => false,
    }
}

/// The exact encoding of one stored value ([`Cell`]: type and bytes,
/// whatever the column's collation).
pub(crate) fn encode(v: ValueRef<'_>) -> Cell {
    Cell(match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => real_literal(f),
        ValueRef::Text(t) => return Cell::text(t),
        ValueRef::Blob(b) => {
            let mut s = String::with_capacity(3 + 2 * b.len());
            s.push_str("X'");
            push_hex(&mut s, b);
            s.push('\'');
            s
        }
    })
}

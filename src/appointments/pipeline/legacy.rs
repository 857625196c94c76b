//! `legacy`: the incident. The original month view pasted the notes (and the
//! reason) straight between quotes; a quote in the text ends the literal and
//! the rest of the note is SQL. `'` followed by `--` or a NUL byte drops the
//! WHERE clause and every appointment is rewritten.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Legacy;

const SQL: Concat = Concat {
    literal: |text| text.to_string(),
    batch: false,
};

impl Variant for Legacy {
    fn name(&self) -> &'static str {
        "legacy"
    }
    fn bug_class(&self) -> &'static str {
        "notes concatenated into the UPDATE string (the incident)"
    }
    fn trigger(&self) -> &'static str {
        "a quote that ends the literal, then SQL: `'--`, `' OR 1=1 --`, `'` + NUL"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
    }
}

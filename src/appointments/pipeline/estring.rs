//! `estring` (PostgreSQL, and MySQL): the app doubles quotes, as SQLite and
//! standard SQL need, and on PostgreSQL writes the value as an escape string
//! `E'...'` (the port wanted `\n` in notes to become a newline). Inside
//! `E'...'` a backslash escapes the next character, so a note holding `\'`
//! becomes `\''`: an escaped quote, then a quote that ends the literal, and
//! the rest of the note is SQL. On SQLite the same doubling is plain
//! standard quoting and always safe: the bug exists only on the server. On
//! MySQL no prefix is written, but every literal reads backslashes as
//! `E'...'` does, so the same note breaks out there too.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct EString;

fn double_quotes(text: &str) -> String {
    text.replace('\'', "''")
}

const SQL: Concat = Concat {
    literal: double_quotes,
    batch: false,
};

impl Variant for EString {
    fn name(&self) -> &'static str {
        "estring"
    }
    fn bug_class(&self) -> &'static str {
        "quotes doubled, but written as a PostgreSQL E'...' literal (on MySQL every literal is read so)"
    }
    fn trigger(&self) -> &'static str {
        "notes with a backslash before a quote (`\\' --`): `\\''` is an escaped quote, then the end of the literal"
    }
    /// MySQL reads every literal the way PostgreSQL reads `E'...'`.
    fn databases(&self) -> &'static [&'static str] {
        &["postgres", "mysql"]
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        let prefix = if db.database() == "postgres" { "E" } else { "" };
        SQL.run_with_prefix(op, db, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::execute::{execute, Session};
    use crate::harness::scenario::Scenario;

    #[test]
    fn doubled_quotes_are_clean_on_sqlite() {
        let mut s = Session::new().unwrap();
        let op = Op::EditNotes {
            id: 7,
            notes: "\\' --".into(),
        };
        let estring = crate::appointments::pipeline::by_name("estring").unwrap();
        let e = execute(&mut s, estring, &Scenario::of(vec![op])).unwrap();
        assert!(e.is_clean(), "{}", e.verdict_line());
    }
}

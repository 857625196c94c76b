//! `backslash` (MariaDB/MySQL only): the app doubles quotes, as standard SQL,
//! SQLite and PostgreSQL need, and leaves backslashes as they are. MySQL
//! reads a backslash inside a string as an escape (unless `sql_mode` has
//! `NO_BACKSLASH_ESCAPES`), so a note holding `\'` becomes `\''`: an
//! escaped quote, then a quote that ends the literal, and the rest of the
//! note is SQL. On SQLite and PostgreSQL (standard strings) a backslash is
//! an ordinary character and the doubling is always safe: the bug exists
//! only on MySQL, the incident's kind of database.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Backslash;

fn double_quotes(text: &str) -> String {
    text.replace('\'', "''")
}

const SQL: Concat = Concat {
    literal: double_quotes,
    batch: false,
};

impl Variant for Backslash {
    fn name(&self) -> &'static str {
        "backslash"
    }
    fn bug_class(&self) -> &'static str {
        "quotes doubled, backslashes left as they are: MySQL reads `\\'` as an escaped quote (MariaDB/MySQL only)"
    }
    fn trigger(&self) -> &'static str {
        "notes with a backslash before a quote (`\\' --`): `\\''` is an escaped quote, then the end of the literal"
    }
    fn databases(&self) -> &'static [&'static str] {
        &["mysql"]
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
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
            notes: "C:\\scans\\' -- see folder".into(),
        };
        let backslash = crate::appointments::pipeline::by_name("backslash").unwrap();
        let e = execute(&mut s, backslash, &Scenario::of(vec![op])).unwrap();
        assert!(e.is_clean(), "{}", e.verdict_line());
    }
}

//! `stacked`: ported from the MySQL version of the app, with its escaping.
//! MySQL reads `\'` inside a string as a quote; SQLite does not (a backslash
//! is an ordinary character there), so `\'` is a backslash followed by the
//! end of the literal. The port also sends every statement with
//! `execute_batch`, which runs every statement in the string: a note such as
//! `'; DELETE FROM appointments; --` ends the literal and appends statements.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Stacked;

/// `mysql_real_escape_string` for the characters that matter in a note.
fn mysql_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

const SQL: Concat = Concat {
    literal: mysql_escape,
    // the MySQL driver ran the reminder reset in the same round trip; the
    // batch call keeps that behaviour on SQLite
    batch: true,
};

impl Variant for Stacked {
    fn name(&self) -> &'static str {
        "stacked"
    }
    fn bug_class(&self) -> &'static str {
        "MySQL backslash escaping on SQLite + a multi-statement API"
    }
    fn trigger(&self) -> &'static str {
        "a quote (escaped to `\\'`, which SQLite ends at the quote), then `; <statement>; --`"
    }
    /// On MySQL its escaping is the server's own: the bug is not there.
    fn databases(&self) -> &'static [&'static str] {
        &["sqlite", "postgres"]
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_mysql_way() {
        assert_eq!(mysql_escape(r"O'Brien \ x"), r"O\'Brien \\ x");
        assert_eq!(mysql_escape("a\0b\n"), r"a\0b\n");
    }
}

//! `blacklist`: instead of escaping, the notes are "sanitized" by deleting
//! the tokens SQL injection cheat sheets show (comment markers, `;`, the
//! boolean and set keywords), with one `replace_all`. Apostrophes are kept
//! because clients are called O'Brien. The strip runs once, not until
//! nothing changes, so deleting a token can join its neighbours into a new
//! one: `-OR-` becomes `--`, `DR;OP` becomes `DROP`. A quote followed by a
//! rebuilt comment ends the literal and comments out the WHERE.

use std::sync::LazyLock;

use regex::Regex;

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Blacklist;

/// Tokens removed from free text before it goes into SQL.
static DANGEROUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)--|#|;|/\*|\*/|\b(?:or|and|union|select|insert|update|delete|drop|exec)\b")
        .expect("the blacklist pattern compiles")
});

fn strip_dangerous(text: &str) -> String {
    DANGEROUS.replace_all(text, "").into_owned()
}

const SQL: Concat = Concat {
    literal: strip_dangerous,
    batch: false,
};

impl Variant for Blacklist {
    fn name(&self) -> &'static str {
        "blacklist"
    }
    fn bug_class(&self) -> &'static str {
        "a non-recursive regex strip of dangerous tokens instead of escaping"
    }
    fn trigger(&self) -> &'static str {
        "a quote, then a token that the strip rebuilds: `x' -OR-` becomes `x' --`"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_once_so_nested_tokens_collapse() {
        assert_eq!(strip_dangerous("x' OR 1=1 --"), "x'  1=1 ");
        assert_eq!(strip_dangerous("x' -OR-"), "x' --");
        assert_eq!(strip_dangerous("O'Brien, ordered"), "O'Brien, ordered");
    }
}

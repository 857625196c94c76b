//! `truncate`: quotes are doubled correctly, but the text is then cut to the
//! column width the old schema had (`VARCHAR(64)`) so the write "never
//! fails". Cutting after escaping can split a doubled quote: an odd quote
//! left at the end of the cut text closes the literal early, the SQL text up
//! to the next quote becomes part of the note, and the next free-text field
//! (the reschedule reason) is read as SQL.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Truncate;

/// Width of the notes and reason columns in the original schema, in characters.
pub const COLUMN_WIDTH: usize = 64;

/// Escapes quotes, then fits the text to the column.
fn fit_column(text: &str) -> String {
    text.replace('\'', "''")
        .chars()
        .take(COLUMN_WIDTH)
        .collect()
}

const SQL: Concat = Concat {
    literal: fit_column,
    batch: false,
};

impl Variant for Truncate {
    fn name(&self) -> &'static str {
        "truncate"
    }
    fn bug_class(&self) -> &'static str {
        "quotes doubled, then cut to the column width (64 chars)"
    }
    fn trigger(&self) -> &'static str {
        "notes whose 64th escaped char is the first half of a doubled quote; the reason then runs as SQL (`--`)"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_can_split_a_doubled_quote() {
        assert_eq!(fit_column("O'Brien"), "O''Brien");
        let odd = format!("{}'", "a".repeat(COLUMN_WIDTH - 1));
        assert!(fit_column(&odd).ends_with("a'"));
        assert_eq!(fit_column(&odd).chars().count(), COLUMN_WIDTH);
    }
}

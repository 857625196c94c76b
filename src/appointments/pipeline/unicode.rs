//! `unicode`: quotes are doubled, then typographic quotes pasted from phones
//! and word processors are folded to ASCII so the printed day sheet and the
//! SMS gateway show plain text. The fold runs after the escaping, so a `’`
//! becomes a lone `'` that nothing escaped: it ends the literal.

use super::concat::Concat;
use super::{Db, DbError, Op, Variant};

pub struct Unicode;

/// Right and left single quotes, the modifier-letter apostrophe and the
/// fullwidth apostrophe: what autocorrect puts where people type `'`.
const SMART_QUOTES: [char; 4] = ['\u{2019}', '\u{2018}', '\u{02BC}', '\u{FF07}'];

fn sql_text(text: &str) -> String {
    let escaped = text.replace('\'', "''");
    escaped.replace(SMART_QUOTES, "'")
}

const SQL: Concat = Concat {
    literal: sql_text,
    batch: false,
};

impl Variant for Unicode {
    fn name(&self) -> &'static str {
        "unicode"
    }
    fn bug_class(&self) -> &'static str {
        "quotes escaped, then smart quotes folded to ASCII (after escaping)"
    }
    fn trigger(&self) -> &'static str {
        "a typographic quote (’ ‘ ʼ ＇) where the quote would go: `’--`"
    }
    fn run(&self, op: &Op, db: &mut dyn Db) -> Result<(), DbError> {
        SQL.run(op, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_after_escaping() {
        assert_eq!(sql_text("O'Brien"), "O''Brien");
        assert_eq!(sql_text("client’s"), "client's");
        assert_eq!(sql_text("ʼ＇‘"), "'''");
    }
}

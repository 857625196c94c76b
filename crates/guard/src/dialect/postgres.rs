//! Just enough of PostgreSQL's lexer for two jobs that never decide what
//! runs: where `?N` placeholders (the `Db` trait's rusqlite style) stand,
//! and what a statement's first words are (the feedback the fuzzing engine
//! keeps, as SQLite's authorizer trace is on the other backend). The guard
//! never splits, classifies or drops SQL with it: a batch goes to the server
//! whole and the server splits it (see `crate::postgres`).
//!
//! It follows the server's rules where they differ from SQLite's: `'...'`
//! (quotes doubled; `standard_conforming_strings` on, so a backslash is a
//! plain character), `E'...'` (a backslash escapes the next character),
//! `$tag$...$tag$` (a `$` inside an identifier, as in `a$$b`, starts none),
//! `"..."`, `--` comments ended by LF or CR, nested `/* */` comments.
//! `tests/postgres.rs` checks the statement count against the server's on
//! generated text.
//!
//! [`longest_operator_run`] is the one check that keeps text away from the
//! server: PostgreSQL's lexer takes quadratic time on a long run of operator
//! characters (it matches the run, then gives back all but a `/*` or `--`
//! start) and checks no interrupt meanwhile, so neither a timeout nor a
//! cancel ends it. It counts runs over the raw bytes, literals included, so
//! no disagreement between this lexer and the server's can hide one.

use super::{pieces, quoted, rewrite_code, Region};

/// Longest run of operator characters the guard sends (PostgreSQL 15 lexes
/// a 4,096-character run of `*/` in well under 0.1 s, 80,000 in 6 s).
pub const MAX_OPERATOR_RUN: usize = 4096;

/// The longest run of PostgreSQL operator characters (`+-*/<>=~!@#%^&|\`?`)
/// anywhere in `sql`.
pub fn longest_operator_run(sql: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for &c in sql.as_bytes() {
        if b"+-*/<>=~!@#%^&|`?".contains(&c) {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Splits `sql` into (region, start, end) spans.
fn spans(sql: &str) -> Vec<(Region, usize, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut code_start = 0;
    let flush = |out: &mut Vec<(Region, usize, usize)>, from: usize, to: usize| {
        if to > from {
            out.push((Region::Code, from, to));
        }
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let start = i;
        let (region, end) = match c {
            b'-' if next == Some(b'-') => {
                let end = sql[i..].find(['\n', '\r']).map_or(b.len(), |n| i + n + 1);
                (Region::Comment, end)
            }
            b'/' if next == Some(b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    if j + 1 >= b.len() {
                        break (Region::Comment, b.len());
                    }
                    if b[j] == b'/' && b[j + 1] == b'*' {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b[j + 1] == b'/' {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break (Region::Comment, j);
                        }
                    } else {
                        j += 1;
                    }
                }
            }
            b'\'' => (Region::Literal, quoted(b, i + 1, b'\'', false)),
            b'"' => (Region::Literal, quoted(b, i + 1, b'"', false)),
            b'E' | b'e' if next == Some(b'\'') => (Region::Literal, quoted(b, i + 2, b'\'', true)),
            // An identifier (`$` continues one), a number, or a parameter `$N`: code.
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                i += b[i..]
                    .iter()
                    .take_while(|&&c| is_word(c) || c == b'$')
                    .count();
                continue;
            }
            c if c.is_ascii_digit() => {
                i += b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                continue;
            }
            b'$' if next.is_some_and(|n| n.is_ascii_digit()) => {
                i += 1;
                continue;
            }
            b'$' => match dollar_tag(&sql[i..]) {
                Some(tag) => {
                    let body = i + tag.len();
                    let end = sql[body..]
                        .find(tag)
                        .map_or(b.len(), |n| body + n + tag.len());
                    (Region::Literal, end)
                }
                None => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        flush(&mut out, code_start, start);
        out.push((region, start, end));
        i = end;
        code_start = end;
    }
    flush(&mut out, code_start, b.len());
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// `$$` or `$tag$` at the start of `s` (a tag is an identifier, not a number).
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let ok = tag.is_empty() || (!tag.as_bytes()[0].is_ascii_digit() && tag.bytes().all(is_word));
    ok.then(|| &s[..end + 2])
}

/// The statements of `sql`, cut at top-level `;` (pieces of only blanks and
/// comments are dropped; the `;` is not kept).
pub fn statements(sql: &str) -> Vec<&str> {
    let blank = |piece: &str| {
        spans(piece)
            .iter()
            .all(|(r, s, e)| *r == Region::Comment || piece[*s..*e].trim().is_empty())
    };
    pieces(sql, &spans(sql))
        .into_iter()
        .map(|(a, b)| &sql[a..b])
        .filter(|piece| !blank(piece))
        .collect()
}

/// `sql` with each `?N` outside literals and comments written `$N`, and each
/// bare `?` numbered in order when there are parameters (rusqlite's styles).
pub fn dollar_params(sql: &str, has_params: bool) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut bare = 0;
    rewrite_code(sql, &spans(sql), &mut out, |text, out| {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'?' {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    out.push('$');
                    out.push_str(&text[i + 1..i + 1 + digits]);
                    i += 1 + digits;
                    continue;
                }
                if has_params {
                    bare += 1;
                    out.push_str(&format!("${bare}"));
                    i += 1;
                    continue;
                }
            }
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    });
    out
}

/// The first `n` words of a statement, upper-cased, skipping blanks,
/// comments and opening parentheses.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    super::leading_words(sql, &spans(sql), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_only_at_top_level_semicolons() {
        assert_eq!(
            statements("SELECT ';'; SELECT $$a;b$$; /* ; */ SELECT E'\\';'; -- x;\n"),
            ["SELECT ';'", " SELECT $$a;b$$", " /* ; */ SELECT E'\\';'"]
        );
        assert_eq!(statements("  ;; -- only\n"), Vec::<&str>::new());
        assert_eq!(
            statements("DO $f$ BEGIN x; END $f$"),
            ["DO $f$ BEGIN x; END $f$"]
        );
    }

    #[test]
    fn a_backslash_quote_ends_a_plain_literal_but_not_an_e_literal() {
        // Standard strings: the backslash is data, the quote ends the literal.
        assert_eq!(
            statements("SELECT 'a\\'; DELETE FROM t"),
            ["SELECT 'a\\'", " DELETE FROM t"]
        );
        assert_eq!(statements("SELECT E'a\\'; DELETE FROM t'").len(), 1);
    }

    #[test]
    fn the_server_ends_a_line_comment_at_cr_and_reads_dollars_in_identifiers() {
        assert_eq!(
            statements("--x\rUPDATE t SET a = 1; SELECT 2"),
            ["--x\rUPDATE t SET a = 1", " SELECT 2"]
        );
        assert_eq!(
            statements("SELECT 1 AS a$$b$$; UPDATE clients SET name = 'x'"),
            ["SELECT 1 AS a$$b$$", " UPDATE clients SET name = 'x'"]
        );
        // after a parameter or a number, `$$` does open a dollar quote
        assert_eq!(statements("SELECT $1$$;$$").len(), 1);
        assert_eq!(statements("SELECT 1$$;$$").len(), 1);
        assert_eq!(leading_words("-- c\rcommit", 1), ["COMMIT"]);
    }

    #[test]
    fn operator_runs_are_counted_over_the_raw_bytes() {
        assert_eq!(longest_operator_run("SELECT 1 + 2"), 1);
        assert_eq!(longest_operator_run("SELECT '/*/*/*' -- x"), 6);
        assert_eq!(longest_operator_run(&"*/".repeat(5000)), 10_000);
        assert_eq!(longest_operator_run("a"), 0);
    }

    #[test]
    fn question_mark_parameters_become_dollar_parameters_outside_literals() {
        assert_eq!(
            dollar_params("UPDATE t SET a = ?1, b = '?2' WHERE id = ?2 -- ?3", true),
            "UPDATE t SET a = $1, b = '?2' WHERE id = $2 -- ?3"
        );
        assert_eq!(dollar_params("SELECT ?, ?", true), "SELECT $1, $2");
        assert_eq!(dollar_params("SELECT j ? 'k'", false), "SELECT j ? 'k'");
    }

    #[test]
    fn leading_words_skip_comments_and_parentheses() {
        assert_eq!(leading_words("/* c */ ( select 1)", 2), ["SELECT", "1"]);
        assert_eq!(leading_words("-- x\n reset role", 2), ["RESET", "ROLE"]);
        assert_eq!(leading_words("COMMIT", 2), ["COMMIT"]);
    }
}

//! Just enough of MariaDB/MySQL's lexer for jobs that never decide what
//! runs: where the `Db` trait's `?N` placeholders stand (the server takes
//! bare `?` only, so they are rewritten and the values put in order), what
//! a statement's first words are (the fuzzing engine's feedback), and the
//! text the static layer judges: executable comments unwrapped
//! ([`server_text`]) and `SET STATEMENT ... FOR` taken apart
//! ([`set_statement`]). A batch goes to the server whole and the server
//! splits it (see `crate::mysql`).
//!
//! MySQL's rules, where they differ from SQLite's and PostgreSQL's: `'...'`
//! and `"..."` are strings in which a backslash escapes the next character
//! (default `sql_mode`, without `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES`) and
//! a doubled quote is one quote; `` `...` `` is an identifier; `#` starts a
//! comment to the end of the line, and so does `--` followed by a blank or
//! control character; `/* ... */` does not nest, and `/*! ... */` (or
//! `/*!50000 ...*/`, MariaDB's `/*M! ... */`) is code the server runs.

use super::{pieces, quoted, rewrite_code, Region};
use crate::Value;

/// Splits `sql` into (region, start, end) spans. The opener and closer of
/// an executable comment are markers; what is between them is code. A
/// version (five digits, or six when a sixth follows, as MariaDB reads it)
/// is part of the opener; fewer than five digits are code, as on the
/// server. Whatever version it names, the content counts as code here.
fn spans(sql: &str) -> Vec<(Region, usize, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut code_start) = (0, 0);
    let mut executable = false;
    while i < b.len() {
        let next = b.get(i + 1).copied();
        let start = i;
        let (region, end) = match b[i] {
            b'#' => (Region::Comment, line_end(sql, i)),
            b'-' if next == Some(b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                (Region::Comment, line_end(sql, i))
            }
            b'/' if next == Some(b'*') => {
                let bang = match (b.get(i + 2), b.get(i + 3)) {
                    (Some(b'!'), _) => Some(i + 3),
                    (Some(b'M'), Some(b'!')) => Some(i + 4),
                    _ => None,
                };
                match bang {
                    Some(after) if !executable => {
                        executable = true;
                        let digits = b[after..].iter().take_while(|c| c.is_ascii_digit()).count();
                        let version = match digits {
                            0..=4 => 0,
                            5 => 5,
                            _ => 6,
                        };
                        (Region::Marker, after + version)
                    }
                    _ => {
                        let end = sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                        (Region::Comment, end)
                    }
                }
            }
            b'*' if executable && next == Some(b'/') => {
                executable = false;
                (Region::Marker, i + 2)
            }
            q @ (b'\'' | b'"') => (Region::Literal, quoted(b, i + 1, q, true)),
            b'`' => (Region::Literal, quoted(b, i + 1, b'`', false)),
            _ => {
                i += 1;
                continue;
            }
        };
        if start > code_start {
            out.push((Region::Code, code_start, start));
        }
        out.push((region, start, end));
        i = end;
        code_start = end;
    }
    if b.len() > code_start {
        out.push((Region::Code, code_start, b.len()));
    }
    out
}

fn line_end(sql: &str, from: usize) -> usize {
    sql[from..].find('\n').map_or(sql.len(), |n| from + n + 1)
}

/// `sql` with each `?N` outside literals and comments written `?`, and the
/// values in the order the server reads them (`?N` takes value N, a bare
/// `?` the next one after the bare ones before it). A placeholder naming no
/// value is bound to NULL; the server then has as many values as marks.
pub fn question_params(sql: &str, params: &[Value]) -> (String, Vec<Value>) {
    if params.is_empty() {
        return (sql.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(sql.len());
    let mut ordered = Vec::new();
    let mut bare = 0;
    rewrite_code(sql, &spans(sql), &mut out, |text, out| {
        let mut rest = text;
        while let Some(q) = rest.find('?') {
            out.push_str(&rest[..=q]);
            let digits = rest[q + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let n = if digits > 0 {
                rest[q + 1..q + 1 + digits].parse::<usize>().unwrap_or(0)
            } else {
                bare += 1;
                bare
            };
            ordered.push(
                n.checked_sub(1)
                    .and_then(|i| params.get(i))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            rest = &rest[q + 1 + digits..];
        }
        out.push_str(rest);
    });
    (out, ordered)
}

/// The statements of `sql`, cut at top-level `;` (pieces of only blanks
/// and comments are dropped).
pub fn statements(sql: &str) -> Vec<&str> {
    pieces(sql, &spans(sql))
        .into_iter()
        .map(|(a, b)| &sql[a..b])
        .filter(|p| !leading_words(p, 1).is_empty())
        .collect()
}

/// The first `n` words of a statement, upper-cased, skipping blanks,
/// comments and opening parentheses.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    super::leading_words(sql, &spans(sql), n)
}

/// The text as the server reads it: each executable comment's opener and
/// closer blanked (same length, so offsets hold), its content left as code.
/// A version-gated comment counts as run whatever its version: the static
/// layer may be stricter than the server, never laxer.
pub fn server_text(sql: &str) -> std::borrow::Cow<'_, str> {
    let markers: Vec<(usize, usize)> = spans(sql)
        .into_iter()
        .filter(|(r, _, _)| *r == Region::Marker)
        .map(|(_, s, e)| (s, e))
        .collect();
    if markers.is_empty() {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for (s, e) in markers {
        out.push_str(&sql[from..s]);
        out.extend(std::iter::repeat_n(' ', e - s));
        from = e;
    }
    out.push_str(&sql[from..]);
    std::borrow::Cow::Owned(out)
}

/// Words of the code regions of `sql` with their byte ranges and the
/// parenthesis depth they stand at.
fn words(sql: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (region, s, e) in spans(sql) {
        if region != Region::Code {
            continue;
        }
        let mut start = None;
        for (k, c) in sql[s..e]
            .char_indices()
            .chain(std::iter::once((e - s, ' ')))
        {
            if c.is_alphanumeric() || c == '_' || c == '$' {
                start.get_or_insert(s + k);
                continue;
            }
            if let Some(a) = start.take() {
                out.push((a, s + k, depth));
            }
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    out
}

/// `SET STATEMENT name = value, ... FOR statement` (one statement of
/// [`statements`]): the byte length of the prefix up to and including its
/// `FOR`, and the settings' text, when `stmt` has that form. The server runs
/// the statement after `FOR` with those settings for its duration only: the
/// settings never show in the session afterwards.
pub fn set_statement(stmt: &str) -> Option<(usize, &str)> {
    let w = words(stmt);
    let word = |i: usize| w.get(i).map(|&(a, b, _)| &stmt[a..b]);
    if !word(0)?.eq_ignore_ascii_case("SET") || !word(1)?.eq_ignore_ascii_case("STATEMENT") {
        return None;
    }
    let settings_start = w[1].1;
    let &(a, b, _) = w[2..]
        .iter()
        .find(|&&(a, b, d)| d == 0 && stmt[a..b].eq_ignore_ascii_case("FOR"))?;
    Some((b, stmt[settings_start..a].trim()))
}

/// Whether any statement of `sql` starts with a word that changes the schema.
pub fn has_ddl(sql: &str) -> bool {
    statements(sql).iter().any(|s| {
        leading_words(s, 1).first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_escapes_a_quote_and_executable_comments_are_code() {
        assert_eq!(
            statements(
                r"SELECT 'a\';b'; SELECT 1 # ; x
; /*! DELETE FROM t */; -- ;
SELECT `a;b`"
            ),
            [
                r"SELECT 'a\';b'",
                " SELECT 1 # ; x\n",
                " /*! DELETE FROM t */",
                " -- ;\nSELECT `a;b`"
            ]
        );
        assert_eq!(
            leading_words("/*!50000 delete */ from t", 2),
            ["DELETE", "FROM"]
        );
        // `--` without a blank after it is two minus signs, not a comment.
        assert_eq!(statements("SELECT 1--1; SELECT 2").len(), 2);
    }

    #[test]
    fn numbered_placeholders_become_bare_ones_with_values_in_order() {
        let p = [Value::Integer(1), Value::Text("x".into())];
        let (sql, values) = question_params("UPDATE t SET a = ?2, b = '?1' WHERE id = ?1 # ?2", &p);
        assert_eq!(sql, "UPDATE t SET a = ?, b = '?1' WHERE id = ? # ?2");
        assert_eq!(values, [p[1].clone(), p[0].clone()]);
        let (_, values) = question_params("VALUES (?, ?)", &p);
        assert_eq!(values, p);
    }

    #[test]
    fn executable_comments_are_unwrapped_as_the_server_reads_them() {
        assert_eq!(
            server_text("UPDATE t SET a = 1 /*! OR 1 */ /*!50000 x*/ /*M!100000 SET y = 2 */"),
            "UPDATE t SET a = 1     OR 1             x              SET y = 2   "
        );
        // Fewer than five digits are code; a sixth digit is part of the version.
        assert_eq!(server_text("/*!123 z*/"), "   123 z  ");
        assert_eq!(server_text("/*!1000001*/"), "         1  ");
        // Inside literals and plain comments nothing is unwrapped.
        let plain = "SELECT '/*! x */', /* /*! y */ 1";
        assert_eq!(server_text(plain), plain);
    }

    #[test]
    fn set_statement_is_taken_apart() {
        let s = "set  Statement insert_id = 5, sql_mode = 'FOR' for UPDATE t SET a = 1";
        let (n, settings) = set_statement(s).unwrap();
        assert_eq!(settings, "insert_id = 5, sql_mode = 'FOR'");
        assert_eq!(&s[n..], " UPDATE t SET a = 1");
        let sub = "SET STATEMENT x = (SELECT 1 FOR UPDATE) FOR DELETE FROM t";
        assert_eq!(&sub[set_statement(sub).unwrap().0..], " DELETE FROM t");
        assert_eq!(set_statement("SET @x = 1"), None);
        assert_eq!(set_statement("SET STATEMENT x = 1"), None);
    }

    #[test]
    fn ddl_is_seen_in_any_statement_of_a_batch() {
        assert!(has_ddl("UPDATE t SET a = 1; /* x */ drop table t"));
        assert!(!has_ddl("UPDATE t SET a = 'drop table'"));
    }
}

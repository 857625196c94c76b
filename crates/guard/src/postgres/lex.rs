//! Just enough of PostgreSQL's lexer for the guard: where statements end,
//! where `?N` placeholders (the `Db` trait's rusqlite style) stand, and what
//! a statement's first words are. It knows the literal forms whose ends
//! differ from SQLite's: `'...'` (quotes doubled; `standard_conforming_strings`
//! on, so a backslash is a plain character), `E'...'` (a backslash escapes
//! the next character, so `\'` does not end it), `$tag$...$tag$`, `"..."`,
//! `--` and nested `/* */` comments.
//!
//! Why it is safe to be approximate: every piece is sent with the extended
//! protocol, which the server refuses when a piece holds two statements; a
//! wrong cut only makes a syntax error, never an unchecked statement.

/// One lexical region of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Code,
    Literal,
    Comment,
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
                let end = sql[i..].find('\n').map_or(b.len(), |n| i + n + 1);
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
            b'E' | b'e' if next == Some(b'\'') && (i == 0 || !is_word(b[i - 1])) => {
                (Region::Literal, quoted(b, i + 2, b'\'', true))
            }
            b'$' if i == 0 || !is_word(b[i - 1]) => match dollar_tag(&sql[i..]) {
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

/// End (exclusive) of a literal opened before `i`; a doubled quote continues
/// it; with `escapes`, a backslash skips the next byte.
fn quoted(b: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
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
    let mut pieces = Vec::new();
    let mut from = 0;
    for (region, s, e) in spans(sql) {
        if region != Region::Code {
            continue;
        }
        for (k, c) in sql[s..e].char_indices() {
            if c == ';' {
                pieces.push((from, s + k));
                from = s + k + 1;
            }
        }
    }
    pieces.push((from, sql.len()));
    let blank = |piece: &str| {
        spans(piece)
            .iter()
            .all(|(r, s, e)| *r == Region::Comment || piece[*s..*e].trim().is_empty())
    };
    pieces
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
    for (region, s, e) in spans(sql) {
        let text = &sql[s..e];
        if region != Region::Code || !text.contains('?') {
            out.push_str(text);
            continue;
        }
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
    }
    out
}

/// The first `n` words of a statement, upper-cased, skipping blanks,
/// comments and opening parentheses.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for (region, s, e) in spans(sql) {
        match region {
            Region::Comment => continue,
            Region::Literal => break,
            Region::Code => {}
        }
        for c in sql[s..e].chars() {
            if c.is_alphanumeric() || c == '_' {
                current.push(c.to_ascii_uppercase());
                continue;
            }
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            if words.len() >= n || !(c.is_whitespace() || c == '(') {
                words.truncate(n);
                return words;
            }
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words.truncate(n);
    words
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

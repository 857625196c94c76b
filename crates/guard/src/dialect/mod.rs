//! What each server's SQL text is made of, as far as the guard needs it:
//! one lexer a dialect ([`postgres`], [`mysql`]), each splitting text into
//! code, literals and comments, and what they share on top of that split
//! (the lexical [`Region`]s, quoted literals, the cut at top-level `;`, a
//! statement's first words). Below the static layer, which reads MariaDB's
//! executable comments and `SET STATEMENT` prefixes through [`mysql`], and
//! below the server backends, which keep each lexer under its old name
//! (`postgres::lex`, `mysql::lex`).

pub mod mysql;
pub mod postgres;

/// One lexical region of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    Code,
    Literal,
    Comment,
    /// The opener (`/*!`, `/*!50000`, `/*M!100000`...) or closer (`*/`) of
    /// a MariaDB/MySQL executable comment: a comment to everything but
    /// [`mysql::server_text`]. No other dialect has one.
    Marker,
}

/// End (exclusive) of a literal opened before `i`; a doubled quote continues
/// it; with `escapes`, a backslash skips the next byte.
pub(crate) fn quoted(b: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
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

/// The (start, end) pieces of `sql` between top-level `;` in its code
/// regions (`spans`), the last one included, blank or not.
pub(crate) fn pieces(sql: &str, spans: &[(Region, usize, usize)]) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for &(region, s, e) in spans {
        if region == Region::Code {
            for (k, _) in sql[s..e].match_indices(';') {
                pieces.push((from, s + k));
                from = s + k + 1;
            }
        }
    }
    pieces.push((from, sql.len()));
    pieces
}

/// `sql` again into `out`: each code region holding a `?` (where a
/// placeholder may stand) through `write`, every other region as it is.
pub(crate) fn rewrite_code(
    sql: &str,
    spans: &[(Region, usize, usize)],
    out: &mut String,
    mut write: impl FnMut(&str, &mut String),
) {
    for &(region, s, e) in spans {
        let text = &sql[s..e];
        if region != Region::Code || !text.contains('?') {
            out.push_str(text);
            continue;
        }
        write(text, out);
    }
}

/// The first `n` words of a statement whose regions are `spans`,
/// upper-cased, skipping blanks, comments, markers and opening parentheses;
/// a literal ends them.
pub(crate) fn leading_words(sql: &str, spans: &[(Region, usize, usize)], n: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for &(region, s, e) in spans {
        match region {
            Region::Comment | Region::Marker => continue,
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

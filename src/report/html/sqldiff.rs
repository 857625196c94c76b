//! A statement next to its template (the same op run on placeholder text),
//! as a token-level diff: where the user's text stayed inside its literal,
//! and where it left it and became SQL.
//!
//! A small SQL lexer of its own (never fails: an unterminated literal or
//! comment runs to the end, as in SQLite), then a longest-common-subsequence
//! match of the two token lists in which any string literal matches any
//! other (the template's `'xxxx'` stands for the user's text). Tokens of the
//! statement with no partner in the template are the user text that left
//! its literal; literals that matched but differ hold user text as data.

use super::escape;

/// Token cells (statement tokens times template tokens) the LCS may use;
/// beyond it the whole differing middle is marked.
const MAX_LCS_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Comment,
    Str,
    Ident,
    Number,
    Word,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    class: Class,
    text: &'a str,
}

fn quoted(s: &str, open: char, close: char) -> usize {
    let mut it = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        if c == close {
            // a doubled closing quote is an escaped one (not for `[...]`)
            if open == close && it.peek().is_some_and(|(_, n)| *n == close) {
                it.next();
                continue;
            }
            return i + c.len_utf8();
        }
    }
    s.len()
}

fn lex(sql: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let (class, len) = if c.is_whitespace() {
            let n = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            (Class::Space, n)
        } else if rest.starts_with("--") {
            (Class::Comment, rest.find('\n').unwrap_or(rest.len()))
        } else if let Some(body) = rest.strip_prefix("/*") {
            (
                Class::Comment,
                body.find("*/").map_or(rest.len(), |i| i + 4),
            )
        } else if c == '\'' {
            (Class::Str, quoted(rest, '\'', '\''))
        } else if c == '"' || c == '`' {
            (Class::Ident, quoted(rest, c, c))
        } else if c == '[' {
            (Class::Ident, quoted(rest, '[', ']'))
        } else if c.is_ascii_digit() {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len());
            (Class::Number, n)
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let n = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len());
            (Class::Word, n)
        } else {
            (Class::Punct, c.len_utf8())
        };
        out.push(Token {
            class,
            text: &rest[..len],
        });
        rest = &rest[len..];
    }
    out
}

fn same(a: &Token, b: &Token) -> bool {
    a.class == b.class && (a.class == Class::Str || a.text.eq_ignore_ascii_case(b.text))
}

/// For each non-space token of `a`, the index of its partner in `b`.
fn matches(a: &[Token], b: &[Token]) -> Vec<Option<usize>> {
    let ai: Vec<usize> = (0..a.len())
        .filter(|&i| a[i].class != Class::Space)
        .collect();
    let bi: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].class != Class::Space)
        .collect();
    let mut partner = vec![None; a.len()];
    let mut pre = 0;
    while pre < ai.len() && pre < bi.len() && same(&a[ai[pre]], &b[bi[pre]]) {
        partner[ai[pre]] = Some(bi[pre]);
        pre += 1;
    }
    let mut suf = 0;
    while suf < ai.len() - pre
        && suf < bi.len() - pre
        && same(&a[ai[ai.len() - 1 - suf]], &b[bi[bi.len() - 1 - suf]])
    {
        partner[ai[ai.len() - 1 - suf]] = Some(bi[bi.len() - 1 - suf]);
        suf += 1;
    }
    let (am, bm) = (&ai[pre..ai.len() - suf], &bi[pre..bi.len() - suf]);
    if am.is_empty() || bm.is_empty() || am.len() * bm.len() > MAX_LCS_CELLS {
        return partner;
    }
    // classic LCS table over the differing middle
    let (n, m) = (am.len(), bm.len());
    let mut t = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * (m + 1) + j] = if same(&a[am[i]], &b[bm[j]]) {
                t[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                t[(i + 1) * (m + 1) + j].max(t[i * (m + 1) + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if same(&a[am[i]], &b[bm[j]]) {
            partner[am[i]] = Some(bm[j]);
            i += 1;
            j += 1;
        } else if t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    // an `=` matched alone between unmatched tokens is a coincidence of the
    // LCS, not the template's `=`: count it with the text around it
    let solid: Vec<usize> = ai.clone();
    for w in solid.windows(3) {
        let [p, k, n] = [w[0], w[1], w[2]];
        if partner[p].is_none() && partner[n].is_none() && a[k].class != Class::Str {
            partner[k] = None;
        }
    }
    partner
}

/// The two sides of a statement diff, as HTML, and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// The statement: `<mark class="out">` where user text left its
    /// literal, `<mark class="lit">` on literals that hold user text.
    pub statement: String,
    /// The template: `<mark class="gone">` on tokens the statement lost.
    pub template: String,
    /// Non-space tokens of the statement outside any template token.
    pub escaped_tokens: usize,
}

/// Renders `tokens` with a class per token, stopping after `max` bytes of
/// source text; space between two marked tokens is marked too.
fn render(
    tokens: &[Token],
    class_of: &dyn Fn(usize) -> Option<&'static str>,
    max: usize,
) -> String {
    let mut out = String::new();
    let mut shown = 0;
    let marked = |i: usize| -> Option<&'static str> {
        if tokens[i].class != Class::Space {
            return class_of(i);
        }
        let prev = (0..i).rev().find(|&k| tokens[k].class != Class::Space)?;
        let next = (i + 1..tokens.len()).find(|&k| tokens[k].class != Class::Space)?;
        match (class_of(prev), class_of(next)) {
            (Some(p), Some(n)) if p == n && p != "lit" => Some(p),
            _ => None,
        }
    };
    let mut open: Option<&'static str> = None;
    for (i, t) in tokens.iter().enumerate() {
        let class = marked(i);
        if class != open {
            if open.is_some() {
                out.push_str("</mark>");
            }
            if let Some(c) = class {
                out.push_str(&format!("<mark class=\"{c}\">"));
            }
            open = class;
        }
        let room = max.saturating_sub(shown);
        if t.text.len() > room {
            let cut = (0..=room)
                .rev()
                .find(|&k| t.text.is_char_boundary(k))
                .unwrap_or(0);
            escape::push(&mut out, &t.text[..cut]);
            shown += cut;
            break;
        }
        escape::push(&mut out, t.text);
        shown += t.text.len();
    }
    if open.is_some() {
        out.push_str("</mark>");
    }
    let total: usize = tokens.iter().map(|t| t.text.len()).sum();
    if shown < total {
        out.push_str(&format!(
            "<span class=\"cut\">… {} more bytes (all in the JSON download and `repro --format json`)</span>",
            total - shown
        ));
    }
    out
}

/// The diff of `statement` against `template`, each shown up to `max` bytes.
pub fn diff(statement: &str, template: &str, max: usize) -> Diff {
    let (a, b) = (lex(statement), lex(template));
    let partner = matches(&a, &b);
    let mut in_template = vec![false; b.len()];
    for j in partner.iter().flatten() {
        in_template[*j] = true;
    }
    let escaped_tokens = (0..a.len())
        .filter(|&i| a[i].class != Class::Space && partner[i].is_none())
        .count();
    let a_class = |i: usize| match partner[i] {
        None => Some("out"),
        Some(j) if a[i].class == Class::Str && a[i].text != b[j].text => Some("lit"),
        Some(_) => None,
    };
    let b_class = |j: usize| (!in_template[j]).then_some("gone");
    Diff {
        statement: render(&a, &a_class, max),
        template: render(&b, &b_class, max),
        escaped_tokens,
    }
}

/// `sql` escaped, without a template, up to `max` bytes.
pub fn plain(sql: &str, max: usize) -> String {
    let tokens = lex(sql);
    render(&tokens, &|_| None, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexer_never_loses_a_byte() {
        for sql in [
            "UPDATE t SET a = 'it''s' WHERE id = 7",
            "x' OR 1=1 --",
            "/* open",
            "'unterminated",
            "[br\u{e9}cket",
            "\"a\"\"b\" 1.5e3 $x",
        ] {
            let joined: String = lex(sql).iter().map(|t| t.text).collect();
            assert_eq!(joined, sql);
        }
    }

    #[test]
    fn text_that_breaks_out_of_its_literal_is_marked_out() {
        let d = diff(
            "UPDATE appointments SET notes = 'x' OR 1=1 --' WHERE id = 7",
            "UPDATE appointments SET notes = 'xxxxxxxxxxxx' WHERE id = 7",
            10_000,
        );
        assert_eq!(d.escaped_tokens, 5, "{d:?}"); // OR 1 = 1 --' ...
        assert!(
            d.statement
                .contains("<mark class=\"out\">OR 1=1 --&#39; WHERE id = 7</mark>"),
            "{}",
            d.statement
        );
        assert!(
            d.template.contains("<mark class=\"gone\">"),
            "{}",
            d.template
        );
    }

    #[test]
    fn text_that_stays_data_is_marked_as_a_literal_only() {
        let d = diff(
            "UPDATE a SET notes = 'hello <b>' WHERE id = 7",
            "UPDATE a SET notes = 'xxxxxxxxx' WHERE id = 7",
            10_000,
        );
        assert_eq!(d.escaped_tokens, 0);
        assert!(
            d.statement
                .contains("<mark class=\"lit\">&#39;hello &lt;b&gt;&#39;</mark>"),
            "{}",
            d.statement
        );
        assert!(!d.template.contains("gone"));
    }

    #[test]
    fn long_statements_are_cut_with_a_count() {
        let sql = format!("SELECT '{}'", "a".repeat(5000));
        let html = plain(&sql, 100);
        assert!(html.contains("more bytes"), "{html}");
        assert!(html.len() < 400);
    }
}

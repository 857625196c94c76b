//! Words from source in a language no grammar here reads (Perl, Lua, C#,
//! Kotlin, shell, Elixir, ...): its quoted strings and regular expressions,
//! found by a lexer that knows quotes and nothing else. What this is not:
//! a parser. A string is ranked by what stands next to it on its line:
//!
//! - [`Rank::Compared`]: after or before a comparison (`==`, `!=`, `eq`,
//!   `ne`, `===`, `~=`, `<>`, `=~`, `in`, `when`, `case`), or the first
//!   argument of a call whose name compares text (`contains`, `index`,
//!   `match`, `find`, `starts_with`, `include`, `equal`, `like`, `grep`,
//!   `has`, ...); and the literal start of a regular expression given to
//!   `=~` / `!~` (`$notes =~ /whole month/i`: `whole month`);
//! - [`Rank::Reference`]: the literal start of a pattern before a group or
//!   digit class (`/^see #(\d+)/`: `see #`), as the other harvests read it;
//! - [`Rank::Literal`] / [`Rank::Fragment`]: every other string.
//!
//! A string does not span lines (an apostrophe in a comment would otherwise
//! swallow the file); a line is at most [`MAX_LINE`] bytes.

use super::harvest::{literal_words, regex_start};
use super::Rank;

/// Extensions of the languages read this way (in messages, in this order).
pub const EXTENSIONS: &[&str] = &[
    "pl", "pm", "lua", "sh", "bash", "cs", "kt", "kts", "scala", "swift", "ex", "exs", "erl",
    "clj", "dart", "r", "cr", "nim", "jl", "groovy", "c", "h", "cc", "cpp", "hpp", "m", "tcl",
    "ps1", "coffee", "elm", "zig", "v", "d", "fs", "hs", "ml", "vb", "cfm", "jsp", "erb", "vue",
    "svelte",
];

/// Longest line read; the rest of a longer one is not.
pub const MAX_LINE: usize = 4096;

/// Operators before a string that compare it.
const OPERATORS: &[&str] = &["==", "!=", "===", "!==", "~=", "<>", "=~"];
/// Words before a string that compare it.
const WORDS: &[&str] = &["eq", "ne", "in", "when", "case"];
/// Parts of a call's name that compare text.
const CALLS: &[&str] = &[
    "contain", "index", "match", "find", "start", "end", "include", "equal", "like", "grep", "has",
    "search", "compare", "prefix", "suffix", "strstr", "is",
];

/// The words of `source`.
pub fn harvest(source: &str) -> Vec<(Vec<u8>, Rank)> {
    let mut out = Vec::new();
    for line in source.lines() {
        let mut end = line.len().min(MAX_LINE);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        harvest_line(&line[..end], &mut out);
    }
    out
}

/// The text of a string starting at `b[start]` (a quote), and the index past its end.
fn quoted(b: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let q = b[start];
    let mut text = Vec::new();
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                text.push(b[i]);
                text.push(b[i + 1]);
                i += 2;
            }
            c if c == q => return Some((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    None
}

/// An escaped string's bytes as the program sees them (`\n`, `\'`...).
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            out.push(match raw[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            });
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

fn compared_before(before: &str) -> bool {
    let t = before.trim_end();
    let word = |w: &&str| {
        t.strip_suffix(*w)
            .is_some_and(|rest| rest.ends_with(|c: char| !c.is_alphanumeric() && c != '_'))
    };
    if OPERATORS.iter().any(|w| t.ends_with(w)) || WORDS.iter().any(word) {
        return true;
    }
    // the first argument of a call that compares: name( or name(x,
    let Some(open) = t.rfind('(') else {
        return false;
    };
    let args = &t[open + 1..];
    if args.contains('(') || args.contains(')') {
        return false;
    }
    // The call's name: the identifier right before `(`, after its last `.`, `:` or `?`.
    let callee = &t[..open];
    let start = callee
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| {
            i + callee[i..].chars().next().map_or(1, char::len_utf8)
        });
    let last = callee[start..].to_ascii_lowercase();
    !last.is_empty() && CALLS.iter().any(|c| last.contains(c))
}

fn compared_after(after: &str) -> bool {
    let t = after.trim_start();
    ["==", "!=", "===", "~=", "=~", "eq ", "ne "]
        .iter()
        .any(|w| t.starts_with(w))
}

fn pattern(p: &[u8], out: &mut Vec<(Vec<u8>, Rank)>) {
    if let Some((start, keyed)) = regex_start(p) {
        let start = start.trim();
        if !start.is_empty() {
            out.push((
                start.as_bytes().to_vec(),
                if keyed {
                    Rank::Reference
                } else {
                    Rank::Compared
                },
            ));
        }
    }
}

fn harvest_line(line: &str, out: &mut Vec<(Vec<u8>, Rank)>) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // a regular expression given to =~ or !~ (Perl, Ruby, awk): /.../ or m{...}
        if (b[i] == b'=' || b[i] == b'!') && b.get(i + 1) == Some(&b'~') {
            let mut j = i + 2;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            if j < b.len()
                && b[j] == b'm'
                && b.get(j + 1).is_some_and(|c| !c.is_ascii_alphanumeric())
            {
                j += 1;
            }
            if j < b.len() && b[j] == b'/' {
                if let Some((raw, next)) = quoted(b, j) {
                    pattern(&raw, out);
                    i = next;
                    continue;
                }
            }
            i += 2;
            continue;
        }
        if matches!(b[i], b'"' | b'\'' | b'`') {
            let Some((raw, next)) = quoted(b, i) else {
                break;
            };
            let text = unescape(&raw);
            if !text.is_empty() {
                let compared = compared_before(&line[..i]) || compared_after(&line[next..]);
                if text
                    .windows(2)
                    .any(|w| w == b"\\d" || w == b"(\\" || w == b"[0")
                    || raw.windows(2).any(|w| w == b"\\d")
                {
                    pattern(&raw, out);
                }
                if compared {
                    out.push((text.clone(), Rank::Compared));
                }
                literal_words(text, out);
            }
            i = next;
            continue;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(src: &str, rank: Rank) -> Vec<String> {
        harvest(src)
            .into_iter()
            .filter(|(_, r)| *r == rank)
            .map(|(w, _)| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn perl_lua_and_csharp_comparisons() {
        let perl = r#"if ($notes =~ /whole month/i) { move_all(); }
if ($action eq 'cancel all') { ... }
my $ref = $1 if $notes =~ m/^see #(\d+)/;
print "moved";"#;
        let c = ranked(perl, Rank::Compared);
        assert!(c.contains(&"whole month".to_string()), "{c:?}");
        assert!(c.contains(&"cancel all".to_string()), "{c:?}");
        assert_eq!(ranked(perl, Rank::Reference), ["see #"]);
        assert!(!c.contains(&"moved".to_string()));
        let lua = r#"if string.find(note, "free all", 1, true) then x = 1 end
if kind == "vip" then"#;
        let c = ranked(lua, Rank::Compared);
        assert_eq!(c, ["free all", "vip"]);
        let cs = r#"if (notes.Contains("reset week")) { } var s = "SELECT 1";"#;
        assert_eq!(ranked(cs, Rank::Compared), ["reset week"]);
    }

    #[test]
    fn an_unclosed_quote_ends_its_line_only() {
        let w = ranked("# don't panic\nif x == 'yes' then", Rank::Compared);
        assert_eq!(w, ["yes"]);
    }
}

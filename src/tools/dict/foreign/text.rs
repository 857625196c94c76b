//! The text of a literal as the program sees it: a string node's literal
//! runs (split where an interpolation stands: PHP `"..$x.."`, Python
//! f-strings, JavaScript template literals, Ruby `"#{..}"`), its escapes
//! decoded (or kept, in a raw string or a regular expression), a character
//! literal's character, and the pattern inside a PHP regular expression's
//! delimiters.

use tree_sitter::Node;

/// Nodes whose text is literal text (their `escape_sequence` children decoded).
const CONTENT: &[&str] = &[
    "string_content",
    "string_fragment",
    "nowdoc_string",
    "heredoc_content",
    "interpreted_string_literal_content",
    "raw_string_literal_content",
    "multiline_string_fragment",
];

/// Nodes read through: the parts of a literal held in another node.
const CONTAINERS: &[&str] = &["heredoc_body", "nowdoc_body", "string"];

/// Named nodes of a literal that are neither text nor an interpolation.
const DELIMITERS: &[&str] = &[
    "string_start",
    "string_end",
    "heredoc_start",
    "heredoc_end",
    "heredoc_beginning",
    "comment",
];

/// Deepest nest of literals read through (a concatenation of strings).
const MAX_NEST: usize = 4;

/// The literal runs of string node `n`, in order, each decoded unless `raw`
/// (a Python `r"..."` string is raw whatever `raw` says).
pub(super) fn parts(n: Node, src: &[u8], raw: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    collect(n, src, raw, &mut run, &mut out, 0);
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// The whole value of string node `n` when it has no interpolation.
pub(super) fn whole(n: Node, src: &[u8]) -> Option<Vec<u8>> {
    let mut p = parts(n, src, false);
    (p.len() == 1).then(|| p.remove(0))
}

fn collect(n: Node, src: &[u8], raw: bool, run: &mut Vec<u8>, out: &mut Vec<Vec<u8>>, nest: usize) {
    let raw = raw || is_raw_python(n, src);
    let mut cursor = n.walk();
    for c in n.children(&mut cursor) {
        let k = c.kind();
        if CONTENT.contains(&k) {
            content(c, src, raw, run);
        } else if k == "escape_sequence" || k == "escape_interpolation" {
            escape(c, src, raw, run);
        } else if CONTAINERS.contains(&k) && nest < MAX_NEST {
            collect(c, src, raw, run, out, nest + 1);
        } else if !c.is_named() || DELIMITERS.contains(&k) {
            // quotes and delimiters
        } else if !run.is_empty() {
            // an interpolation: the literal text around it are words of their own
            out.push(std::mem::take(run));
        }
    }
}

/// A Python string whose prefix holds `r` (`r"\d"`, `Rb'..'`).
fn is_raw_python(n: Node, src: &[u8]) -> bool {
    n.kind() == "string"
        && n.child(0).is_some_and(|s| {
            s.kind() == "string_start"
                && src[s.byte_range()].iter().any(|b| matches!(b, b'r' | b'R'))
        })
}

/// Content node `c`'s text, its escape children decoded.
fn content(c: Node, src: &[u8], raw: bool, run: &mut Vec<u8>) {
    let mut at = c.start_byte();
    let mut cursor = c.walk();
    for e in c.children(&mut cursor) {
        if e.kind() == "escape_sequence" || e.kind() == "escape_interpolation" {
            run.extend_from_slice(&src[at..e.start_byte()]);
            escape(e, src, raw, run);
            at = e.end_byte();
        }
    }
    run.extend_from_slice(&src[at..c.end_byte().max(at)]);
}

fn escape(e: Node, src: &[u8], raw: bool, run: &mut Vec<u8>) {
    let text = &src[e.byte_range()];
    if raw {
        run.extend_from_slice(text);
    } else {
        run.extend(decode(text));
    }
}

/// The text of a character literal (`'#'`, `'\n'`): what is between its quotes, decoded.
pub(super) fn char_literal(n: Node, src: &[u8]) -> Option<Vec<u8>> {
    let t = &src[n.byte_range()];
    let open = t.iter().position(|&b| b == b'\'')?;
    let close = t.iter().rposition(|&b| b == b'\'')?;
    let inner = t.get(open + 1..close)?;
    if inner.is_empty() {
        return None;
    }
    Some(if inner[0] == b'\\' {
        decode(inner)
    } else {
        inner.to_vec()
    })
}

/// What escape sequence `e` stands for. An escape of a letter no language
/// here gives a meaning keeps its backslash (`\d` in a pattern).
pub(crate) fn decode(e: &[u8]) -> Vec<u8> {
    match e {
        b"{{" => return b"{".to_vec(),
        b"}}" => return b"}".to_vec(),
        [b'\\', ..] if e.len() >= 2 => {}
        _ => return e.to_vec(),
    }
    let rest = &e[2..];
    let char_of = |digits: &[u8], radix: u32| -> Option<Vec<u8>> {
        let s = std::str::from_utf8(digits).ok()?;
        let s = s.trim_start_matches('{').trim_end_matches('}');
        let c = char::from_u32(u32::from_str_radix(s, radix).ok()?)?;
        Some(c.to_string().into_bytes())
    };
    let one = |b: u8| Some(vec![b]);
    let decoded = match e[1] {
        b'n' => one(b'\n'),
        b't' => one(b'\t'),
        b'r' => one(b'\r'),
        b'a' => one(7),
        b'b' => one(8),
        b'f' => one(12),
        b'v' => one(11),
        b'e' => one(27),
        b'x' => char_of(rest, 16),
        b'u' | b'U' => char_of(rest, 16),
        b'0'..=b'7' => char_of(&e[1..], 8),
        b'\n' | b'\r' => Some(Vec::new()),
        c if c.is_ascii_alphanumeric() => None,
        _ => Some(e[1..].to_vec()),
    };
    decoded.unwrap_or_else(|| e.to_vec())
}

/// The pattern inside a PHP regular expression's delimiters (`/^see #(\d+)/i`:
/// `^see #(\d+)`); `None` when the text does not start with a delimiter.
pub(super) fn undelimit(p: &[u8]) -> Option<&[u8]> {
    let start = p.iter().position(|b| !b.is_ascii_whitespace())?;
    let s = &p[start..];
    let d = s[0];
    if d.is_ascii_alphanumeric() || d == b'\\' || d >= 0x80 {
        return None;
    }
    let close = match d {
        b'(' => b')',
        b'[' => b']',
        b'{' => b'}',
        b'<' => b'>',
        d => d,
    };
    let end = s.iter().rposition(|&c| c == close)?;
    (end > 0).then(|| &s[1..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_the_languages_read_them() {
        for (e, want) in [
            (&b"\\n"[..], &b"\n"[..]),
            (b"\\'", b"'"),
            (b"\\\\", b"\\"),
            (b"\\x41", b"A"),
            (b"\\u00e9", "\u{e9}".as_bytes()),
            (b"\\u{1F600}", "\u{1F600}".as_bytes()),
            (b"\\101", b"A"),
            (b"\\d", b"\\d"),
            (b"{{", b"{"),
            (b"\\uZZZZ", b"\\uZZZZ"),
        ] {
            assert_eq!(decode(e), want, "{:?}", String::from_utf8_lossy(e));
        }
    }

    #[test]
    fn a_php_pattern_is_read_inside_its_delimiters() {
        assert_eq!(undelimit(b"/^see #(\\d+)/i"), Some(&b"^see #(\\d+)"[..]));
        assert_eq!(undelimit(b"#ref:(\\d+)#"), Some(&b"ref:(\\d+)"[..]));
        assert_eq!(undelimit(b"{id=(\\d+)}u"), Some(&b"id=(\\d+)"[..]));
        assert_eq!(undelimit(b"plain"), None);
        assert_eq!(undelimit(b"/"), None);
    }
}

//! The SQL token dictionary, parsed from `fuzz/rowguard.dict` (libFuzzer's
//! format) so libFuzzer, the generator and the built-in engine start from the
//! same knowledge.

use std::sync::OnceLock;

const SOURCE: &str = include_str!("../../../fuzz/rowguard.dict");

/// Every token of the dictionary, in file order.
pub fn tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| parse(SOURCE))
}

/// Parses libFuzzer dictionary lines: `"token"` or `name="token"`, with
/// `\\`, `\"` and `\xNN` escapes; comments and blank lines skipped.
pub fn parse(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let start = line.find('"')?;
            let end = line.rfind('"')?;
            (end > start).then(|| unescape(&line[start + 1..end]))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'x')) => match s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 4;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            (b'\\', Some(&c)) => {
                out.push(c);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_decode_to_the_bytes_they_name() {
        let t = super::parse("\"\\xe2\\x80\\x99\"\n\"\\\\'\"\n\"\\x00\"\nkw=\"OR\"\n# c\n");
        assert_eq!(t, vec!["\u{2019}", "\\'", "\0", "OR"]);
    }

    #[test]
    fn the_shared_dictionary_has_the_literal_breakers() {
        let t = super::tokens();
        for needed in ["'", "--", "\0", "\u{2019}", "-OR-", ";"] {
            assert!(t.iter().any(|x| x == needed), "{needed:?} missing");
        }
    }
}

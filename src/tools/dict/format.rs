//! libFuzzer's dictionary format, read and written exactly as libFuzzer's
//! `ParseDictionaryFile` does (`FuzzerUtil.cpp`): one entry a line,
//! `"value"` or `name="value"`; blank lines and lines starting with `#` are
//! skipped; inside the quotes only printable ASCII and spaces, with the
//! escapes `\\`, `\"` and `\xNN`; an empty value (`""`) and any other
//! escape make libFuzzer reject the whole file, so [`parse`] rejects it too,
//! naming the line. libFuzzer also silently drops entries longer than 64
//! bytes ([`MAX_ENTRY`]): [`write_entry`] never writes one.
//!
//! The name before `=` is free text to libFuzzer; rowguard writes the rank
//! there (`compared="..."`) so a dictionary it wrote keeps its order of
//! importance when it is read back with `fuzz --dict`.

/// libFuzzer's `Word::GetMaxSize()`: longer entries are ignored.
pub const MAX_ENTRY: usize = 64;

/// One parsed entry: the optional name before `=` and the value's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Option<String>,
    pub value: Vec<u8>,
}

/// C `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `isprint` in the "C" locale.
fn is_print(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// Parses one non-comment line like libFuzzer's `ParseOneDictionaryEntry`.
fn parse_entry(line: &[u8]) -> Result<Entry, &'static str> {
    let (mut l, mut r) = (0, line.len().saturating_sub(1));
    while l < r && is_space(line[l]) {
        l += 1;
    }
    while r > l && is_space(line[r]) {
        r -= 1;
    }
    if r - l < 2 {
        return Err("too short for a quoted non-empty value");
    }
    if line[r] != b'"' {
        return Err("does not end with a double quote");
    }
    let name_start = l;
    r -= 1;
    while l < r && line[l] != b'"' {
        l += 1;
    }
    if l >= r {
        return Err("no opening double quote (or an empty value)");
    }
    let name = String::from_utf8_lossy(&line[name_start..l])
        .trim_end_matches('=')
        .trim()
        .to_string();
    l += 1;
    let mut value = Vec::new();
    let mut i = l;
    while i <= r {
        let b = line[i];
        if !is_print(b) && !is_space(b) {
            return Err("a byte that is not printable ASCII (write it as \\xNN)");
        }
        if b == b'\\' {
            match line.get(i + 1).filter(|_| i < r) {
                Some(&c @ (b'\\' | b'"')) => {
                    value.push(c);
                    i += 2;
                }
                Some(b'x')
                    if i + 3 <= r
                        && line[i + 2].is_ascii_hexdigit()
                        && line[i + 3].is_ascii_hexdigit() =>
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).unwrap_or("00");
                    value.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                    i += 4;
                }
                _ => return Err("an escape other than \\\\, \\\" or \\xNN"),
            }
        } else {
            value.push(b);
            i += 1;
        }
    }
    Ok(Entry {
        name: (!name.is_empty()).then_some(name),
        value,
    })
}

/// Parses a whole dictionary file; the first line libFuzzer would reject is
/// an error naming it (1-based). An empty file is an error too (libFuzzer
/// refuses it as "does not exist or is empty").
pub fn parse(text: &[u8]) -> Result<Vec<Entry>, String> {
    if text.is_empty() {
        return Err("empty dictionary".into());
    }
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let first = line.iter().position(|&b| !is_space(b));
        match first {
            None => continue,
            Some(p) if line[p] == b'#' => continue,
            Some(_) => {}
        }
        let entry = parse_entry(line).map_err(|why| {
            let shown: String = String::from_utf8_lossy(line).chars().take(60).collect();
            format!("line {}: {why}: {shown:?}", n + 1)
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// Escapes `value` for a dictionary line: printable ASCII as is, `\\` and
/// `\"` escaped, every other byte as `\xNN`.
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for &b in value {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// One dictionary line (`name="value"`, or `"value"` without a name), or
/// `None` for a value libFuzzer would reject (empty) or drop (too long).
pub fn write_entry(name: Option<&str>, value: &[u8]) -> Option<String> {
    if value.is_empty() || value.len() > MAX_ENTRY {
        return None;
    }
    let name = name
        .map(|n| {
            n.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .unwrap_or_default();
    Some(if name.is_empty() {
        format!("\"{}\"", escape(value))
    } else {
        format!("{name}=\"{}\"", escape(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Vec<u8>> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn reads_what_libfuzzer_reads() {
        let v = values("# c\n\n  \"a\"\nkw=\"OR\"  \n\"\\\\\\\"\"\n\"\\x00\\xE2\"\n\"a\"b\"\n");
        assert_eq!(
            v,
            vec![
                b"a".to_vec(),
                b"OR".to_vec(),
                b"\\\"".to_vec(),
                vec![0, 0xe2],
                b"a\"b".to_vec()
            ]
        );
        let e = &parse(b"compared=\"x\"").unwrap()[0];
        assert_eq!(e.name.as_deref(), Some("compared"));
    }

    #[test]
    fn rejects_what_libfuzzer_rejects_with_the_line_number() {
        for bad in [
            "\"\"",
            "\"a",
            "a",
            "\"\\n\"",
            "\"\\x4\"",
            "\"caf\u{e9}\"",
            "\"tab\\t\"",
        ] {
            let text = format!("\"ok\"\n{bad}\n");
            let err = parse(text.as_bytes()).unwrap_err();
            assert!(err.starts_with("line 2: "), "{bad:?}: {err}");
        }
        assert!(parse(b"").is_err());
    }

    #[test]
    fn every_written_value_reads_back_to_the_same_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(40) {
            let line = write_entry(Some("compared"), chunk).unwrap();
            assert_eq!(parse(line.as_bytes()).unwrap()[0].value, chunk);
        }
        for s in ["'", "\\'", "\"", "’--", " x ", "a\"b"] {
            let line = write_entry(None, s.as_bytes()).unwrap();
            assert_eq!(parse(line.as_bytes()).unwrap()[0].value, s.as_bytes());
        }
        assert_eq!(write_entry(None, b""), None);
        assert_eq!(write_entry(None, &[b'a'; MAX_ENTRY + 1]), None);
    }
}

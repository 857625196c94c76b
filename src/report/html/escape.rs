//! HTML escaping: the one door through which any text (attacker-controlled
//! notes, SQL, messages, file names) enters the page.
//!
//! Contract: [`text`] output is inert both as element content and inside a
//! double- or single-quoted attribute value: `&`, `<`, `>`, `"` and `'` are
//! character references, and every character HTML treats specially or that
//! could confuse a reader (NUL and other C0/C1 controls, lone carriage
//! returns, the Unicode bidi overrides) becomes a visible `\u{..}` marker so
//! the page shows what the bytes were instead of hiding them.

/// `s` escaped for element content and quoted attribute values.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push(&mut out, s);
    out
}

/// Appends `s`, escaped, to `out`.
pub fn push(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if visible_marker(c) => {
                out.push_str(&format!("<span class=\"ctl\">\\u{{{:x}}}</span>", c as u32))
            }
            c => out.push(c),
        }
    }
}

/// Characters shown as a `\u{..}` marker: controls (HTML drops or
/// normalises them) and bidi / zero-width format characters (they reorder
/// or hide the text around them, the "Trojan Source" trick).
fn visible_marker(c: char) -> bool {
    c.is_control()
        || matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff)
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn markup_becomes_character_references() {
        assert_eq!(
            text(r#"<script>alert('x')</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(text(r#"" onload="x"#), "&quot; onload=&quot;x");
        assert_eq!(text("a & b"), "a &amp; b");
        assert_eq!(text("&lt;"), "&amp;lt;");
    }

    #[test]
    fn controls_and_bidi_overrides_are_visible_markers() {
        assert_eq!(text("a\0b"), "a<span class=\"ctl\">\\u{0}</span>b");
        assert_eq!(text("\u{202e}"), "<span class=\"ctl\">\\u{202e}</span>");
        assert_eq!(text("x\ny\tz"), "x\ny\tz");
        assert_eq!(text("\r"), "<span class=\"ctl\">\\u{d}</span>");
    }

    #[test]
    fn plain_and_non_ascii_text_is_unchanged() {
        assert_eq!(text("rendez-vous à 9h ’ok’ 😀"), "rendez-vous à 9h ’ok’ 😀");
    }

    #[test]
    fn no_output_contains_a_raw_angle_bracket_or_quote() {
        let nasty = "<>\"'&\u{0}\u{7f}\u{85}\u{2028}<!--]]>`";
        let out = text(nasty);
        // the only raw `<`, `>` and `"` are those of the marker spans we emit
        let stripped = out
            .replace("<span class=\"ctl\">", "")
            .replace("</span>", "");
        assert!(!stripped.contains(['<', '>', '"', '\'']), "{out}");
    }
}

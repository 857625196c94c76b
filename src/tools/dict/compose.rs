//! Compositions: words no single source holds, made of two that one does.
//! A word assembled at run time from two constants (`[PREFIX, KIND].concat()`
//! of values the harvest cannot fold), and a reference to another row
//! (`#12`, `order:12`): a word of the code or the fixture with a key of the
//! fixture, or a row-reference template the code parses a key after
//! ([`Rank::Reference`]: `see #`) with a key ([`template`]). The built-in
//! engine composes at run time ([`join`], [`reference`], [`template`]); an
//! engine that only reads a dictionary file (libFuzzer's `-dict=`) gets a
//! bounded list of them ([`compositions`]).

use super::{Dictionary, Rank};

/// Separators two words are joined with.
pub const SEPARATORS: [&str; 7] = ["", " ", "-", "_", ":", "/", "."];

/// Forms of a reference to the row of key `k` (with a word `w`): `#k`,
/// `wk`, `w:k`, `w#k`, `w-k`, `w k`, `w/k`, `k`.
pub const REFERENCE_FORMS: usize = 8;

/// Most compositions [`compositions`] writes.
pub const MAX_COMPOSED: usize = 1024;

/// `a` and `b` joined by separator `sep` (an index into [`SEPARATORS`]).
pub fn join(a: &[u8], b: &[u8], sep: usize) -> Vec<u8> {
    let mut out = a.to_vec();
    out.extend_from_slice(SEPARATORS[sep % SEPARATORS.len()].as_bytes());
    out.extend_from_slice(b);
    out
}

/// Form `form` (< [`REFERENCE_FORMS`]) of a reference to key `k` with word `w`.
pub fn reference(w: &[u8], k: &[u8], form: usize) -> Vec<u8> {
    let sep: &[u8] = match form % REFERENCE_FORMS {
        0 => return [b"#", k].concat(),
        7 => return k.to_vec(),
        1 => b"",
        2 => b":",
        3 => b"#",
        4 => b"-",
        5 => b" ",
        _ => b"/",
    };
    [w, sep, k].concat()
}

/// Row-reference template `t` (a prefix the code parses a key after)
/// followed by key `k`: `see #` and `12` make `see #12`.
pub fn template(t: &[u8], k: &[u8]) -> Vec<u8> {
    [t, k].concat()
}

/// What `d` composes into, for a dictionary file: each of its first 16
/// reference templates with its first 16 keys; `#k` for its first 64
/// keys; each of its first 16 compared words with its first 8 keys in
/// every form; its first 8 compared words joined pairwise. At most
/// [`MAX_COMPOSED`], ranked [`Rank::Composed`].
pub fn compositions(d: &Dictionary) -> Vec<(Vec<u8>, Rank)> {
    let keys: Vec<&[u8]> = d.ranked(Rank::Key).map(|w| &w.bytes[..]).collect();
    let compared: Vec<&[u8]> = d.ranked(Rank::Compared).map(|w| &w.bytes[..]).collect();
    let mut out = Vec::new();
    for t in d.ranked(Rank::Reference).take(16) {
        for k in keys.iter().take(16) {
            out.push(template(&t.bytes, k));
        }
    }
    for k in keys.iter().take(64) {
        out.push(reference(b"", k, 0));
    }
    for w in compared.iter().take(16) {
        for k in keys.iter().take(8) {
            for form in 1..REFERENCE_FORMS - 1 {
                out.push(reference(w, k, form));
            }
        }
    }
    for a in compared.iter().take(8) {
        for b in compared.iter().take(8) {
            if a != b {
                out.push(join(a, b, 0));
                out.push(join(a, b, 1));
            }
        }
    }
    out.truncate(MAX_COMPOSED);
    out.into_iter().map(|w| (w, Rank::Composed)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_joins() {
        assert_eq!(reference(b"order", b"42", 0), b"#42");
        assert_eq!(reference(b"order", b"42", 2), b"order:42");
        assert_eq!(reference(b"order", b"42", 7), b"42");
        assert_eq!(join(b"stat", b"urgent", 2), b"stat-urgent");
        let d = Dictionary::from_words([
            (b"appt".to_vec(), Rank::Compared),
            (b"prio".to_vec(), Rank::Compared),
            (b"12".to_vec(), Rank::Key),
        ]);
        let c: Vec<Vec<u8>> = compositions(&d).into_iter().map(|c| c.0).collect();
        for w in [
            &b"#12"[..],
            b"appt:12",
            b"appt#12",
            b"prioappt",
            b"appt prio",
        ] {
            assert!(c.iter().any(|x| x == w), "{:?}", String::from_utf8_lossy(w));
        }
        assert!(c.len() <= MAX_COMPOSED);
    }

    #[test]
    fn reference_templates_are_composed_with_keys_first() {
        let d = Dictionary::from_words([
            (b"appt".to_vec(), Rank::Compared),
            (b"see #".to_vec(), Rank::Reference),
            (b"#".to_vec(), Rank::Reference),
            (b"12".to_vec(), Rank::Key),
            (b"3".to_vec(), Rank::Key),
        ]);
        let c: Vec<Vec<u8>> = compositions(&d).into_iter().map(|c| c.0).collect();
        assert_eq!(
            c[..4],
            [
                b"see #12".to_vec(),
                b"see #3".to_vec(),
                b"#12".to_vec(),
                b"#3".to_vec()
            ]
        );
    }
}

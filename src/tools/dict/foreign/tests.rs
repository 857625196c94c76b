use super::*;

fn ranked(ext: &str, src: &str) -> Vec<(String, Rank)> {
    harvest(ext, src)
        .unwrap()
        .into_iter()
        .map(|(v, r)| (String::from_utf8_lossy(&v).into_owned(), r))
        .collect()
}

fn rank_of(words: &[(String, Rank)], w: &str) -> Option<Rank> {
    words.iter().filter(|x| x.0 == w).map(|x| x.1).min()
}

#[test]
fn interpolations_split_a_string_into_its_literal_parts() {
    for (ext, src) in [
        ("php", "<?php $q = \"see #$id here\";"),
        ("py", "q = f\"see #{id} here\""),
        ("js", "const q = `see #${id} here`;"),
        ("rb", "q = \"see ##{id} here\""),
    ] {
        let w = ranked(ext, src);
        assert_eq!(rank_of(&w, "see #"), Some(Rank::Literal), "{ext}: {w:?}");
        assert_eq!(rank_of(&w, " here"), Some(Rank::Literal), "{ext}: {w:?}");
        assert!(w.iter().all(|x| !x.0.contains("id")), "{ext}: {w:?}");
    }
}

#[test]
fn a_constant_compared_by_name_and_a_regex_start_are_compared() {
    let w = ranked(
        "php",
        "<?php class A { const FLAG = 'flagged'; private $other = 'unused';\n\
         function f($t) { return $t == self::FLAG || preg_match('~^urgent~i', $t); } }",
    );
    assert_eq!(rank_of(&w, "flagged"), Some(Rank::Compared), "{w:?}");
    assert_eq!(rank_of(&w, "urgent"), Some(Rank::Compared), "{w:?}");
    assert_eq!(rank_of(&w, "unused"), Some(Rank::Literal), "{w:?}");
    let w = ranked(
        "py",
        "PREFIX = 'id='\ndef f(s):\n    if s.startswith(PREFIX):\n        return int(s[3:])\n",
    );
    assert_eq!(rank_of(&w, "id="), Some(Rank::Reference), "{w:?}");
    assert_eq!(w[0].0, "id=", "{w:?}");
}

#[test]
fn a_prefix_without_a_number_read_is_compared_not_a_reference() {
    let w = ranked("go", "package a\nimport \"strings\"\nfunc f(s string) bool { return strings.HasPrefix(s, \"plain:\") }\n");
    assert_eq!(rank_of(&w, "plain:"), Some(Rank::Compared), "{w:?}");
}

#[test]
fn a_syntax_error_is_an_error_with_its_line_not_a_panic() {
    for (ext, bad) in [
        ("py", "x = 1\ndef (:\n"),
        ("java", "class {"),
        ("php", "<?php function ("),
        ("go", "func"),
    ] {
        let e = harvest(ext, bad).unwrap_err();
        assert!(
            e.contains("not parseable") && e.contains("line"),
            "{ext}: {e}"
        );
    }
    assert!(harvest("txt", "x").is_err());
}

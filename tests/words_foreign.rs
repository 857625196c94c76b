//! Words from applications in other languages (issue 38): one small,
//! realistic source file per language (PHP, Python, JavaScript, TypeScript,
//! TSX, Ruby, Go, Java), harvested with its tree-sitter grammar: the words
//! it compares come out `compared`, the prefixes and patterns it parses a
//! key out of `reference`, other literals lower, a comment's or docstring's
//! text never; `rowguard dict --source` shows them; a file with a syntax
//! error is skipped with a warning, a binary one is a one-line exit 2.

use rowguard::tools::dict::{self, format, Rank};

use crate::util::rowguard;

/// Each language's file, and the words (and ranks) it must give. Every
/// file compares `telehealth` (through a case conversion), `walk-in` (an
/// equality), `series` (a `switch` / `case` / `match` arm) and `urgent` (a
/// constant compared by name); parses a key after `ref:` (a prefix
/// followed by a number read) and after `see #` (a regular expression);
/// builds SQL around an interpolation; has a plain `plainlabel` and a
/// comment holding `commentword`.
const SOURCES: &[(&str, &str)] = &[
    (
        "billing.php",
        r#"<?php
const URGENT = 'urgent';
define('HOLD', 'onhold');

function rowsToTouch(string $text, string $kind, int $id): array
{
    // commentword: a comment is not code
    $rows = [];
    if (str_contains(strtolower($text), 'telehealth')) { $rows[] = 1; }
    if ($text === "walk-in") { $rows[] = 2; }
    switch ($kind) {
        case 'series': $rows[] = 3; break;
    }
    $bulk = match ($kind) { 'bulk', 'mass' => true, default => false };
    if (stripos($text, URGENT) !== false || strpos($text, HOLD) !== false) { $rows[] = 4; }
    if (preg_match('/^see #(\d+)/i', $text, $m)) { $rows[] = $m[1]; }
    $sql = "UPDATE invoices SET memo_line = '$text' WHERE id = {$id}";
    $label = 'plainlabel';
    return $rows;
}

function linked(string $text): ?int
{
    if (str_starts_with($text, 'ref:')) {
        return intval(substr($text, 4));
    }
    return null;
}
"#,
    ),
    (
        "billing.py",
        r#"import re

URGENT = "urgent"


def rows_to_touch(text: str, kind: str, id: int) -> list:
    """docword: a docstring is not code"""
    # commentword: a comment is not code
    rows = []
    if "telehealth" in text.lower():
        rows.append(1)
    if text == "walk-in":
        rows.append(2)
    match kind:
        case "series" | "bulk":
            rows.append(3)
    if URGENT in text:
        rows.append(4)
    m = re.search(r"see #(\d+)", text)
    sql = f"UPDATE invoices SET memo_line = '{text}' WHERE id = {id}"
    label = "plainlabel"
    return rows


def linked(text: str):
    if text.startswith("ref:"):
        return int(text[4:])
    return None
"#,
    ),
    (
        "billing.js",
        r#"const URGENT = "urgent";

export function rowsToTouch(text, kind, id) {
  // commentword: a comment is not code
  const rows = [];
  if (text.toLowerCase().includes("telehealth")) rows.push(1);
  if (text === "walk-in") rows.push(2);
  switch (kind) {
    case "series":
      rows.push(3);
      break;
  }
  if (text.includes(URGENT)) rows.push(4);
  const m = /see #(\d+)/.exec(text);
  const sql = `UPDATE invoices SET memo_line = '${text}' WHERE id = ${id}`;
  const label = "plainlabel";
  return rows;
}

export function linked(text) {
  if (text.startsWith("ref:")) return parseInt(text.slice(4), 10);
  return null;
}
"#,
    ),
    (
        "billing.ts",
        r#"const URGENT: string = "urgent";

export function rowsToTouch(text: string, kind: "series" | "single", id: number): number[] {
  // commentword: a comment is not code
  const rows: number[] = [];
  if (text.toLowerCase().includes("telehealth")) rows.push(1);
  if (text === "walk-in") rows.push(2);
  switch (kind) {
    case "series":
      rows.push(3);
      break;
  }
  if (text.indexOf(URGENT) >= 0) rows.push(4);
  const m = text.match(new RegExp("see #(\\d+)"));
  const sql = `UPDATE invoices SET memo_line = '${text}' WHERE id = ${id}`;
  const label = "plainlabel";
  return rows;
}

export function linked(text: string): number | null {
  if (text.startsWith("ref:")) return Number(text.slice(4));
  return null;
}
"#,
    ),
    (
        "Rows.tsx",
        r#"const URGENT = "urgent";

export function Badge({ text, kind }: { text: string; kind: string }) {
  // commentword: a comment is not code
  const hot = text.toLowerCase().includes("telehealth") || text === "walk-in";
  const label = "plainlabel";
  switch (kind) {
    case "series":
      return <span className="series-badge">{label}</span>;
  }
  const m = /see #(\d+)/.exec(text);
  const sql = `UPDATE invoices SET memo_line = '${text}' WHERE id = 1`;
  return <span>{text.includes(URGENT) ? sql : hot}</span>;
}

export function linked(text: string): number | null {
  return text.startsWith("ref:") ? parseInt(text.slice(4), 10) : null;
}
"#,
    ),
    (
        "billing.rb",
        r#"URGENT = "urgent"

# commentword: a comment is not code
def rows_to_touch(text, kind, id)
  rows = []
  rows << 1 if text.downcase.include?("telehealth")
  rows << 2 if text == "walk-in"
  case kind
  when "series", "bulk" then rows << 3
  end
  rows << 4 if text.include?(URGENT)
  rows << $1.to_i if text =~ /see #(\d+)/
  sql = "UPDATE invoices SET memo_line = '#{text}' WHERE id = #{id}"
  label = 'plainlabel'
  rows
end

def linked(text)
  text.delete_prefix("ref:").to_i if text.start_with?("ref:")
end
"#,
    ),
    (
        "billing.go",
        r#"package billing

import (
	"regexp"
	"strconv"
	"strings"
)

const Urgent = "urgent"

var seeRe = regexp.MustCompile(`see #(\d+)`)

// RowsToTouch says which rows an edit touches. commentword: a comment is not code.
func RowsToTouch(text, kind string, id int) []int {
	rows := []int{}
	if strings.Contains(strings.ToLower(text), "telehealth") {
		rows = append(rows, 1)
	}
	if text == "walk-in" {
		rows = append(rows, 2)
	}
	switch kind {
	case "series", "bulk":
		rows = append(rows, 3)
	}
	if strings.Contains(text, Urgent) {
		rows = append(rows, 4)
	}
	sql := "UPDATE invoices SET memo_line = '" + text + "' WHERE id = " + strconv.Itoa(id)
	label := "plainlabel"
	_, _ = sql, label
	return rows
}

func Linked(text string) (int, error) {
	if strings.HasPrefix(text, "ref:") {
		return strconv.Atoi(text[4:])
	}
	return 0, nil
}
"#,
    ),
    (
        "Rows.java",
        r#"package billing;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

public class Rows {
    static final String URGENT = "urgent";
    private static final Pattern SEE = Pattern.compile("see #(\\d+)");

    /** commentword: a comment is not code */
    List<Integer> rowsToTouch(String text, String kind, int id) {
        List<Integer> rows = new ArrayList<>();
        if (text.toLowerCase().contains("telehealth")) rows.add(1);
        if ("walk-in".equals(text)) rows.add(2);
        switch (kind) {
            case "series":
            case "bulk":
                rows.add(3);
                break;
            default:
                break;
        }
        if (text.contains(URGENT)) rows.add(4);
        String sql = "UPDATE invoices SET memo_line = '" + text + "' WHERE id = " + id;
        String label = "plainlabel";
        return rows;
    }

    Integer linked(String text) {
        if (text.startsWith("ref:")) return Integer.parseInt(text.substring(4));
        return null;
    }
}
"#,
    ),
];

/// The words one file gives, through the harvest `--source` runs.
fn words_of(name: &str, text: &str) -> dict::Dictionary {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    let h = dict::harvest_sources(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(h.files, 1, "{name}: {:?}", h.skipped);
    assert!(h.skipped.is_empty(), "{name}: {:?}", h.skipped);
    h.dictionary
}

fn rank_of(d: &dict::Dictionary, w: &str) -> Option<Rank> {
    d.words
        .iter()
        .find(|x| x.bytes == w.as_bytes())
        .map(|x| x.rank)
}

#[test]
fn every_language_gives_its_compared_words_and_reference_templates() {
    for (name, text) in SOURCES {
        let d = words_of(name, text);
        let all = || {
            d.words
                .iter()
                .map(|w| format!("{}={}", w.rank.as_str(), String::from_utf8_lossy(&w.bytes)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        for w in ["telehealth", "walk-in", "series", "urgent"] {
            assert_eq!(
                rank_of(&d, w),
                Some(Rank::Compared),
                "{name}: {w}: {}",
                all()
            );
        }
        for t in ["ref:", "see #"] {
            assert_eq!(
                rank_of(&d, t),
                Some(Rank::Reference),
                "{name}: {t}: {}",
                all()
            );
        }
        // the first words are the templates
        assert_eq!(d.words[0].rank, Rank::Reference, "{name}: {}", all());
        assert_eq!(
            rank_of(&d, "plainlabel"),
            Some(Rank::Literal),
            "{name}: {}",
            all()
        );
        // the SQL around an interpolation: its literal part, and its words
        assert_eq!(
            rank_of(&d, "UPDATE invoices SET memo_line = '"),
            Some(Rank::Literal),
            "{name}: {}",
            all()
        );
        // (`UPDATE`, `WHERE`: shared tokens every engine has already)
        assert_eq!(
            rank_of(&d, "memo_line"),
            Some(Rank::Fragment),
            "{name}: {}",
            all()
        );
        for never in ["commentword", "docword"] {
            assert_eq!(rank_of(&d, never), None, "{name}: {never}: {}", all());
        }
    }
}

#[test]
fn each_language_s_own_ways_of_comparing() {
    let php = words_of("a.php", SOURCES[0].1);
    for w in ["bulk", "mass", "onhold"] {
        assert_eq!(rank_of(&php, w), Some(Rank::Compared), "php {w}");
    }
    let py = words_of("a.py", SOURCES[1].1);
    assert_eq!(rank_of(&py, "bulk"), Some(Rank::Compared));
    let ruby = words_of("a.rb", SOURCES[5].1);
    assert_eq!(rank_of(&ruby, "bulk"), Some(Rank::Compared));
    let go = words_of("a.go", SOURCES[6].1);
    assert_eq!(rank_of(&go, "bulk"), Some(Rank::Compared));
    let java = words_of("A.java", SOURCES[7].1);
    assert_eq!(rank_of(&java, "bulk"), Some(Rank::Compared));
    // a literal only assigned, in a language whose strings are all read the same way
    let js = words_of(
        "b.js",
        "const x = 'kept'; if (['alpha', 'beta'].includes(y) || y in {gamma: 1}) {}\n",
    );
    assert_eq!(rank_of(&js, "kept"), Some(Rank::Literal));
    assert_eq!(rank_of(&js, "alpha"), Some(Rank::Compared));
    assert_eq!(rank_of(&js, "beta"), Some(Rank::Compared));
    // an enum member compared by name gives its value
    let ts = words_of(
        "c.ts",
        "enum Status { Paid = \"paid\", Void = \"void\" }\nexport const ok = (s: string) => s === Status.Paid;\n",
    );
    assert_eq!(rank_of(&ts, "paid"), Some(Rank::Compared));
    assert_eq!(rank_of(&ts, "void"), Some(Rank::Literal));
}

#[test]
fn dict_shows_the_words_of_a_mixed_tree_and_skips_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("app");
    std::fs::create_dir(&src).unwrap();
    for (name, text) in SOURCES {
        std::fs::write(src.join(name), text).unwrap();
    }
    std::fs::write(src.join("broken.py"), "def rows(:\n    return 'zzbroken'\n").unwrap();
    std::fs::write(src.join("README.txt"), "not read: 'readmeword'").unwrap();
    // installed packages and minified scripts are not the application's words
    std::fs::create_dir_all(src.join("node_modules/left-pad")).unwrap();
    std::fs::write(
        src.join("node_modules/left-pad/index.js"),
        "if (x === 'padword') {}",
    )
    .unwrap();
    std::fs::write(src.join("app.min.js"), "if(x==='minword'){}").unwrap();
    let out = rowguard(&["dict", "--source", src.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("broken.py") && err.contains("skipped"),
        "{err}"
    );
    assert!(err.contains("not parseable Python"), "{err}");
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    let entries = format::parse(&out.stdout).unwrap();
    let named = |n: &str, v: &str| {
        entries
            .iter()
            .any(|e| e.name.as_deref() == Some(n) && e.value == v.as_bytes())
    };
    assert!(
        named("compared", "telehealth"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(named("reference", "see #"));
    assert!(named("reference", "ref:"));
    for never in [&b"zzbroken"[..], b"readmeword", b"padword", b"minword"] {
        assert!(!entries.iter().any(|e| e.value == never), "{never:?}");
    }
}

#[test]
fn a_binary_file_or_a_tree_with_nothing_to_read_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin.php");
    std::fs::write(&bin, b"<?php echo 'x';\0\xff\xfe").unwrap();
    let empty = dir.path().join("docs");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "text").unwrap();
    for (path, says) in [
        (&bin, "binary file"),
        (&empty, "no source file rowguard reads"),
    ] {
        let out = rowguard(&["dict", "--source", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("rowguard: ") && err.contains(says), "{err}");
    }
    let out = rowguard(&["dict", "--source", empty.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".rs .php .py"), "{err}");
}

#[test]
fn hostile_text_in_a_foreign_file_is_skipped_or_read_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("<?php $x = {}1{};", "(".repeat(50_000), ")".repeat(50_000));
    let garbage: String = (0..20_000)
        .map(|i| ["{", "'", "\"", "/*", "`", "$"][i % 6])
        .collect();
    std::fs::write(dir.path().join("deep.php"), deep).unwrap();
    std::fs::write(dir.path().join("garbage.js"), &garbage).unwrap();
    std::fs::write(dir.path().join("garbage.rb"), &garbage).unwrap();
    std::fs::write(
        dir.path().join("ok.go"),
        "package a\nfunc f(s string) bool { return s == \"zebra\" }\n",
    )
    .unwrap();
    let h = dict::harvest_sources(&[dir.path().to_path_buf()]).unwrap();
    assert!(h.files >= 1, "{:?}", h.skipped);
    assert_eq!(rank_of(&h.dictionary, "zebra"), Some(Rank::Compared));
    for s in &h.skipped {
        assert!(!s.reason.contains("panicked"), "{s:?}");
    }
}

//! `rowguard scan` as a user runs it: the jsonl fields and line splitting of
//! DESIGN.md, the text summary, and bad input (missing file, a directory,
//! an empty file, a 10 MB single line, bytes that are not UTF-8) giving a
//! one-line error or a correct result with the exit code of DESIGN.md.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::util::rowguard;

/// Writes `bytes` to a fresh file under cargo's per-test scratch folder.
fn notes_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[track_caller]
fn assert_one_line_error(out: &Output, contains: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(contains), "{err}");
    assert!(!err.contains("panic"), "{err}");
}

#[test]
fn jsonl_has_one_object_per_line_with_the_design_fields() {
    let f = notes_file("three.txt", b"fine\nmoved per phone call'--\n\n");
    let out = rowguard(&[
        "scan",
        "--pipeline",
        "legacy",
        "--notes",
        f.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines = jsonl(&out);
    assert_eq!(lines.len(), 3, "a final newline ends the last line");
    let verdicts: Vec<&str> = lines
        .iter()
        .map(|l| l["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["clean", "finding", "clean"]);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["line"], i + 1);
        assert_eq!(l["target"], 7, "the default target");
    }
    assert_eq!(lines[2]["notes"], "", "an empty line is empty notes");
    let hit = &lines[1];
    assert_eq!(hit["notes"], "moved per phone call'--");
    assert!(hit["kinds"]
        .as_array()
        .unwrap()
        .contains(&"write-outside-target".into()));
    let statements = hit["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    assert!(statements[0]["sql"]
        .as_str()
        .unwrap()
        .contains("notes = 'moved per phone call'--'"));
    assert!(statements[0]["params"].as_array().unwrap().is_empty());
    let outside = hit["outside"].as_array().unwrap();
    assert!(outside.len() > 100, "the whole calendar was rewritten");
    for field in ["table", "key", "column", "before", "after"] {
        assert!(outside[0].get(field).is_some(), "outside[] has {field}");
    }
}

#[test]
fn statements_are_recorded_as_sent_with_params_and_failures() {
    let f = notes_file("quote.txt", b"O'Brien");
    let safe = rowguard(&[
        "scan",
        "--pipeline",
        "safe",
        "--notes",
        f.to_str().unwrap(),
        "--format",
        "jsonl",
        "--target",
        "9",
    ]);
    assert_eq!(safe.status.code(), Some(0), "{safe:?}");
    let l = &jsonl(&safe)[0];
    assert_eq!(l["target"], 9);
    assert_eq!(l["statements"][0]["params"][2], "O'Brien");
    assert_eq!(l["statements"][0]["params"][5], 9);
    let legacy = rowguard(&[
        "scan",
        "--pipeline",
        "legacy",
        "--notes",
        f.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(legacy.status.code(), Some(1));
    let l = &jsonl(&legacy)[0];
    assert_eq!(l["kinds"][1], "sql-error");
    assert_eq!(
        l["statements"].as_array().unwrap().len(),
        1,
        "the failed statement is listed"
    );
    assert!(l["statements"][0]["error"]
        .as_str()
        .unwrap()
        .contains("syntax error"));
}

#[test]
fn text_output_lists_what_needs_a_look_and_ends_with_a_summary() {
    let f = notes_file("mixed.txt", b"ok\nx'--\r\nO'Brien\n");
    let out = rowguard(&[
        "scan",
        "--pipeline",
        "legacy",
        "--notes",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // the `\r` stays in the notes, and a `--` comment runs to `\n` only
    assert!(
        lines[0].starts_with("line 2: finding (write-outside-target, shape-changed), 2388 cell(s)"),
        "{text}"
    );
    assert!(lines[0].ends_with(r#"notes "x'--\r""#), "{text}");
    assert!(
        lines[1].starts_with("line 3: finding (shape-changed, sql-error)"),
        "{text}"
    );
    assert_eq!(
        &lines[2..],
        [
            "lines: 3, clean: 1, findings: 2, errors: 0",
            "  write-outside-target: 1 line(s)",
            "  shape-changed: 2 line(s)",
            "  sql-error: 1 line(s)",
        ]
    );
}

#[test]
fn bad_notes_files_are_one_line_errors() {
    let missing = rowguard(&["scan", "--notes", "/nonexistent/notes.txt"]);
    assert_one_line_error(&missing, "/nonexistent/notes.txt");
    let dir = notes_file("x", b"").parent().unwrap().to_path_buf();
    assert_one_line_error(
        &rowguard(&["scan", "--notes", dir.to_str().unwrap()]),
        "is a directory",
    );
    let empty = notes_file("empty.txt", b"");
    assert_one_line_error(
        &rowguard(&["scan", "--notes", empty.to_str().unwrap()]),
        "empty file, no line to scan",
    );
    let f = notes_file("ok.txt", b"ok\n");
    let unknown = rowguard(&["scan", "--pipeline", "nope", "--notes", f.to_str().unwrap()]);
    assert_one_line_error(&unknown, "unknown pipeline");
    let target = rowguard(&["scan", "--notes", f.to_str().unwrap(), "--target", "100000"]);
    assert_one_line_error(&target, "not in the fixture");
}

#[test]
fn unreadable_lines_are_error_records_and_exit_2_only_without_a_finding() {
    let mut bytes = vec![b'a'; 10 * 1024 * 1024];
    bytes.extend_from_slice(b"\nfine\n\xff\xfe\n");
    let f = notes_file("huge.txt", &bytes);
    let safe = rowguard(&[
        "scan",
        "--pipeline",
        "safe",
        "--notes",
        f.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(safe.status.code(), Some(2), "{:?}", safe.stderr);
    let lines = jsonl(&safe);
    let verdicts: Vec<&str> = lines
        .iter()
        .map(|l| l["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["error", "clean", "error"]);
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("10485760 bytes"));
    assert!(lines[0].get("notes").is_none());
    assert!(lines[2]["error"].as_str().unwrap().contains("UTF-8"));
    bytes.extend_from_slice(b"x'--\n");
    let f = notes_file("huge-and-hit.txt", &bytes);
    let legacy = rowguard(&[
        "scan",
        "--pipeline",
        "legacy",
        "--notes",
        f.to_str().unwrap(),
    ]);
    assert_eq!(
        legacy.status.code(),
        Some(1),
        "a finding wins over unreadable lines"
    );
    let text = String::from_utf8(legacy.stdout).unwrap();
    assert!(
        text.contains("lines: 4, clean: 1, findings: 1, errors: 2"),
        "{text}"
    );
}

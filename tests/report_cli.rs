//! `rowguard report SUMMARY [--artifacts DIR] [-o FILE]` as a user runs it:
//! the page of a saved fuzz run, and every bad input (a missing, empty,
//! truncated, binary, huge or foreign summary; an artifacts folder with junk,
//! binary content, a folder, a FIFO, a huge file, or without an artifact the
//! summary names) is one line on stderr and exit 2, never a page built from
//! half the data.

use std::path::Path;
use std::sync::OnceLock;

use crate::util::rowguard_in;

/// A saved legacy run: `summary.json` and its `artifacts/legacy/` folder,
/// made once and copied into each test's own folder.
fn saved_run() -> tempfile::TempDir {
    static RUN: OnceLock<tempfile::TempDir> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = rowguard_in(
            dir.path(),
            &[
                "fuzz",
                "--pipeline",
                "legacy",
                "--runs",
                "40",
                "--seed",
                "1",
                "--format",
                "json",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        std::fs::write(dir.path().join("summary.json"), &out.stdout).unwrap();
        dir
    });
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        run.path().join("summary.json"),
        copy.path().join("summary.json"),
    )
    .unwrap();
    let (from, to) = (
        run.path().join("artifacts/legacy"),
        copy.path().join("moved"),
    );
    std::fs::create_dir(&to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
    copy
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Asserts exit 2 with one `rowguard: ` line on stderr; returns that line.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = rowguard_in(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.starts_with("rowguard: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "{args:?}: no page on stdout");
    err
}

#[test]
fn report_of_a_saved_fuzz_run_is_its_page() {
    let run = saved_run();
    let dir = run.path();
    let out = rowguard_in(
        dir,
        &[
            "report",
            "summary.json",
            "--artifacts",
            "moved",
            "-o",
            "page.html",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a finding: {out:?}");
    let page = std::fs::read_to_string(dir.join("page.html")).unwrap();
    let n = summary(dir)["findings"].as_array().unwrap().len();
    assert!(
        page.contains(&format!("<span id=\"n-findings\">{n}</span>")),
        "{n} findings"
    );
    assert_eq!(page.matches("<tr class=\"finding-row\">").count(), n);
    assert!(page.contains("<svg id=\"discovery-plot\""));
    // cells too many to embed are files next to the page, and they are there
    for link in page.split("href=\"page-cells/").skip(1) {
        let name = &link[..link.find('"').unwrap()];
        assert!(dir.join("page-cells").join(name).is_file(), "{name}");
    }
    // the engine's leftover of an interrupted write is not junk
    std::fs::write(dir.join("moved/.tmp-1-2"), b"half").unwrap();
    let out = rowguard_in(dir, &["report", "summary.json", "--artifacts", "moved"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!DOCTYPE html>"));
}

#[test]
fn a_bad_summary_is_one_line_and_exit_2() {
    let run = saved_run();
    let dir = run.path();
    let whole = std::fs::read(dir.join("summary.json")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.json", vec![]),
        ("blank.json", b" \n\t\n".to_vec()),
        ("truncated.json", whole[..whole.len() / 2].to_vec()),
        ("binary.json", (0..=255u8).cycle().take(4096).collect()),
        ("foreign.json", br#"{"name": "not rowguard"}"#.to_vec()),
        ("array.json", b"[1, 2, 3]".to_vec()),
        (
            "bad-status.json",
            br#"{"cases": [{"suite": "s", "name": "n", "status": "maybe"}], "fuzz": null}"#
                .to_vec(),
        ),
    ];
    for (name, bytes) in &cases {
        std::fs::write(dir.join(name), bytes).unwrap();
        let err = refused(dir, &["report", name, "--artifacts", "moved"]);
        assert!(err.contains(name), "{name}: names the file: {err}");
    }
    refused(dir, &["report", "missing.json"]);
    refused(dir, &["report", "moved"]);
    let huge = std::fs::File::create(dir.join("huge.json")).unwrap();
    huge.set_len(17 << 20).unwrap();
    refused(dir, &["report", "huge.json"]);
    assert!(!dir.join("page.html").exists());
}

#[test]
fn an_artifacts_folder_with_anything_but_the_runs_artifacts_is_refused() {
    let run = saved_run();
    let dir = run.path();
    let moved = dir.join("moved");
    let args = [
        "report",
        "summary.json",
        "--artifacts",
        "moved",
        "-o",
        "page.html",
    ];
    let first = std::fs::read_dir(&moved)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let kept = std::fs::read(&first).unwrap();

    std::fs::write(moved.join("notes.txt"), b"junk").unwrap();
    assert!(refused(dir, &args).contains("notes.txt: not a rowguard artifact"));
    std::fs::remove_file(moved.join("notes.txt")).unwrap();

    std::fs::create_dir(moved.join("sub")).unwrap();
    assert!(refused(dir, &args).contains("sub: a folder inside the artifacts folder"));
    std::fs::remove_dir(moved.join("sub")).unwrap();

    // the right name, other bytes: binary junk, then one byte changed
    std::fs::write(
        &first,
        (0..=255u8).rev().cycle().take(3000).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(refused(dir, &args).contains("does not have the hash in its name"));
    let mut edited = kept.clone();
    let at = edited.iter().rposition(|&b| b == b'"').unwrap();
    edited.insert(at, b'x');
    std::fs::write(&first, &edited).unwrap();
    assert!(refused(dir, &args).contains("does not have the hash in its name"));

    std::fs::File::create(&first)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    assert!(refused(dir, &args).contains("rowguard reads inputs up to"));

    std::fs::remove_file(&first).unwrap();
    let fifo = moved.join("sql-error-0123456789abcdef.json");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert!(refused(dir, &args).contains("sql-error-0123456789abcdef.json"));
    std::fs::remove_file(&fifo).unwrap();

    // every artifact the summary names must be there, replayed or not
    let named: Vec<String> = summary(dir)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["artifact"].as_str().map(String::from))
        .collect();
    let last = Path::new(named.last().unwrap()).file_name().unwrap();
    std::fs::write(&first, &kept).unwrap();
    std::fs::remove_file(moved.join(last)).unwrap();
    assert!(refused(dir, &args).contains("is not there"));

    refused(dir, &["report", "summary.json", "--artifacts", "nowhere"]);
    refused(
        dir,
        &["report", "summary.json", "--artifacts", "summary.json"],
    );
    assert!(
        !dir.join("page.html").exists(),
        "no page from half the data"
    );
}

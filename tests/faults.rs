//! rowguard under process and file faults (issue 11), each for real: a real
//! signal sent to a real child process, a real FIFO, a real closed pipe,
//! `/dev/full`, a write that fails (a folder that is a file; a small full
//! tmpfs when the machine allows mounting one), a file truncated while read.
//! The gate never fails open and no finding is ever lost.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{root, rowguard_in};

const LEGACY: &str = "corpus/regressions/legacy/incident-quote-comment.json";

fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rowguard"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("ROWGUARD_PIPELINE")
        .stdin(Stdio::null());
    c
}

/// Waits for `child`, killing it after a minute: a hang fails the test
/// (a guard against hangs, not a timing assertion).
/// Its pipes are drained meanwhile: a summary larger than a pipe's buffer
/// would otherwise block the child's write and look like a hang.
fn finish(mut child: Child) -> Output {
    fn drain(
        pipe: Option<impl std::io::Read + Send + 'static>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            let stdout = out.join().unwrap();
            panic!(
                "hung (killed after 60 s): {status:?}, stdout {}",
                String::from_utf8_lossy(&stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -s {sig}");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One line on stderr, no panic.
fn one_line_error(o: &Output) -> String {
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        !e.contains("internal error") && !e.contains("panicked"),
        "{e}"
    );
    e
}

/// A corpus folder with one seed and, when `defused`, a legacy reproducer
/// that no longer makes its finding (a lost regression: exit 1).
fn small_corpus(defused: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("corpus");
    std::fs::create_dir_all(c.join("pipeline")).unwrap();
    std::fs::copy(
        root().join("corpus/pipeline/obrien.json"),
        c.join("pipeline/obrien.json"),
    )
    .unwrap();
    if defused {
        std::fs::create_dir_all(c.join("regressions/legacy")).unwrap();
        let text = std::fs::read_to_string(root().join(LEGACY))
            .unwrap()
            .replace("moved per phone call'--", "moved per phone call");
        std::fs::write(c.join("regressions/legacy/defused.json"), text).unwrap();
    }
    dir
}

fn gate_args(time: &str) -> Vec<&str> {
    vec![
        "gate",
        "--time",
        time,
        "--corpus",
        "corpus",
        "--junit",
        "gate.xml",
        "--sarif",
        "gate.sarif",
        "--artifacts",
        "artifacts",
    ]
}

#[test]
fn an_interrupted_gate_is_never_a_pass_and_says_so_in_both_reports() {
    for (sig, defused, code) in [
        ("INT", false, 2),
        ("TERM", false, 2),
        ("HUP", false, 2),
        ("TERM", true, 1),
    ] {
        let dir = small_corpus(defused);
        let child = command(dir.path(), &gate_args("600"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        signal(&child, sig);
        let out = finish(child);
        assert_eq!(out.status.code(), Some(code), "SIG{sig}: {out:?}");
        let text = stdout(&out);
        let verdict = if code == 1 {
            "gate: FAILED (finding)"
        } else {
            "gate: FAILED (interrupted"
        };
        assert!(text.contains(verdict), "SIG{sig}: {text}");
        let junit = std::fs::read_to_string(dir.path().join("gate.xml")).unwrap();
        assert!(junit.contains("rowguard.incomplete"), "{junit}");
        let sarif: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("gate.sarif")).unwrap()).unwrap();
        let inv = &sarif["runs"][0]["invocations"][0];
        assert_eq!(inv["properties"]["incomplete"], true, "{inv}");
        assert_eq!(inv["executionSuccessful"], false, "{inv}");
        assert_eq!(inv["exitCode"], code, "{inv}");
    }
}

#[test]
fn fuzz_ends_on_sigterm_and_sighup_like_ctrl_c_and_start_clears_stale_temp_files() {
    for sig in ["TERM", "HUP"] {
        let dir = tempfile::tempdir().unwrap();
        // a temp file a killed run left behind: its process is gone
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let stale = dir
            .path()
            .join(format!("artifacts/legacy/.tmp-{}-0", gone.id()));
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, b"half").unwrap();
        let args = [
            "fuzz",
            "--pipeline",
            "legacy",
            "--seed",
            "1",
            "--format",
            "json",
        ];
        let child = command(dir.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        signal(&child, sig);
        let out = finish(child);
        assert_eq!(out.status.code(), Some(1), "SIG{sig}: {out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["interrupted"], true, "{v}");
        let findings = v["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{v}");
        for f in findings {
            let artifact = f["artifact"].as_str().expect("artifact written");
            assert!(dir.path().join(artifact).is_file(), "{artifact}");
        }
        assert!(!stale.exists(), "stale temp file left");
    }
}

#[test]
fn the_gate_judges_a_reproducer_with_repros_pipeline_choice() {
    for (named, folder) in [("nosuch", "legacy"), ("stacked", "legacy")] {
        let dir = small_corpus(false);
        let text = std::fs::read_to_string(root().join(LEGACY))
            .unwrap()
            .replace(
                "\"pipeline\": \"legacy\"",
                &format!("\"pipeline\": \"{named}\""),
            );
        let rel = format!("corpus/regressions/{folder}/renamed.json");
        std::fs::create_dir_all(dir.path().join(format!("corpus/regressions/{folder}"))).unwrap();
        std::fs::write(dir.path().join(&rel), text).unwrap();
        if named == "nosuch" {
            let repro = rowguard_in(dir.path(), &["repro", &rel]);
            assert_eq!(repro.status.code(), Some(2), "{repro:?}");
        }
        let out = rowguard_in(dir.path(), &gate_args("0"));
        assert_eq!(out.status.code(), Some(2), "{named}: {out:?}");
        let text = stdout(&out);
        let line = text
            .lines()
            .find(|l| l.starts_with("ERROR") && l.contains("renamed.json"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(named), "{line}");
    }
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn fifos_and_devices_are_refused_without_hanging() {
    let dir = small_corpus(false);
    mkfifo(&dir.path().join("corpus/pipeline/fifo"));
    mkfifo(&dir.path().join("notes"));
    let child = command(dir.path(), &gate_args("0"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stdout(&out).contains("is a FIFO"), "{}", stdout(&out));
    assert!(dir.path().join("gate.xml").is_file(), "JUnit written");
    let fifo = "corpus/pipeline/fifo";
    for args in [
        vec!["repro", fifo],
        vec!["minimize", fifo],
        vec!["scan", "--notes", "notes"],
        vec!["repro", "/dev/zero"],
        vec!["minimize", "/dev/null"],
        vec!["scan", "--notes", "/dev/zero"],
    ] {
        let out = finish(
            command(dir.path(), &args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let e = one_line_error(&out);
        assert!(e.contains("FIFO") || e.contains("device"), "{args:?}: {e}");
    }
}

#[test]
fn inputs_and_jobs_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // a sparse file bigger than any input: refused from its size, not read
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    for args in [vec!["repro", "big.json"], vec!["minimize", "big.json"]] {
        let out = rowguard_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(one_line_error(&out).contains("bytes"), "{out:?}");
    }
    // endless stdin for `check -`
    let out = command(dir.path(), &["check", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(one_line_error(&out).contains("more than"), "{out:?}");
    for cmd in ["fuzz", "gate"] {
        let out = rowguard_in(dir.path(), &[cmd, "--jobs", "3000", "--time", "1"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(one_line_error(&out).contains("--jobs 3000"), "{out:?}");
    }
}

#[test]
fn one_unwritable_report_keeps_the_other_and_the_verdict() {
    for (defused, code) in [(false, 2), (true, 1)] {
        let dir = small_corpus(defused);
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let args = [
            "gate",
            "--time",
            "0",
            "--corpus",
            "corpus",
            "--junit",
            "file/gate.xml",
            "--sarif",
            "ok.sarif",
        ];
        let out = rowguard_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(code), "{out:?}");
        assert!(dir.path().join("ok.sarif").is_file());
        assert!(stdout(&out).contains("gate: FAILED"), "{out:?}");
        assert!(one_line_error(&out).contains("JUnit"), "{out:?}");
    }
}

/// Every command as a user runs it, with the exit code it has on a normal stdout.
fn commands(dir: &Path) -> Vec<(Vec<String>, i32)> {
    let legacy = root().join(LEGACY).display().to_string();
    std::fs::write(dir.join("notes"), "O'Brien\nfine\n").unwrap();
    let small = small_corpus(false);
    let corpus = small.keep().join("corpus").display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["pipelines"],
        vec!["schema"],
        vec!["repro", &legacy],
        vec!["minimize", &legacy],
        vec!["check", "UPDATE appointments SET notes = 'x'"],
        vec![
            "fuzz",
            "--pipeline",
            "legacy",
            "--runs",
            "60",
            "--seed",
            "1",
            "--format",
            "json",
        ],
        vec!["scan", "--pipeline", "legacy", "--notes", "notes"],
        vec![
            "gate", "--time", "0", "--corpus", &corpus, "--junit", "g.xml", "--sarif", "g.sarif",
        ],
    ];
    cases
        .into_iter()
        .map(|args| {
            let normal = rowguard_in(dir, &args);
            let code = normal.status.code().unwrap();
            assert!(code == 0 || code == 1, "{args:?}: {normal:?}");
            (args.iter().map(|s| s.to_string()).collect(), code)
        })
        .collect()
}

#[test]
fn a_closed_or_full_stdout_keeps_every_exit_code_and_every_report() {
    let dir = tempfile::tempdir().unwrap();
    for (args, code) in commands(dir.path()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for report in ["g.xml", "g.sarif"] {
            let _ = std::fs::remove_file(dir.path().join(report));
        }
        // the reader is gone before the first byte is written (`| true`)
        let mut child = command(dir.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = finish(child);
        assert_eq!(out.status.code(), Some(code), "closed: {args:?}: {out:?}");
        let e = stderr(&out);
        assert!(
            !e.contains("stdout") && !e.contains("internal error"),
            "closed: {args:?}: {e}"
        );
        if args[0] == "gate" {
            assert!(dir.path().join("g.xml").is_file() && dir.path().join("g.sarif").is_file());
        }
        // a full device
        let out = command(dir.path(), &args)
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "full: {args:?}: {out:?}");
        let e = stderr(&out);
        assert!(!e.contains("internal error"), "full: {args:?}: {e}");
        assert_eq!(
            e.lines().filter(|l| l.contains("stdout")).count(),
            1,
            "full: {args:?}: {e}"
        );
    }
}

/// Runs `fuzz` on legacy with its corpus and artifacts under `under`, where
/// nothing can be written.
fn fuzz_where_writes_fail(under: &Path) {
    let corpus = under.join("corpus").display().to_string();
    let artifacts = under.join("artifacts").display().to_string();
    let args = [
        "fuzz",
        "--pipeline",
        "legacy",
        "--runs",
        "300",
        "--seed",
        "1",
        "--format",
        "json",
        "--corpus",
        &corpus,
        "--artifacts",
        &artifacts,
    ];
    let out = rowguard_in(&root(), &args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{v}");
    for f in findings {
        assert!(f["artifact"].is_null(), "{f}");
        assert!(f["artifact_error"].is_string(), "{f}");
    }
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("corpus writes stopped")),
        "{warnings:?}"
    );
    assert_eq!(
        warnings.iter().filter(|w| w.starts_with("corpus")).count(),
        1,
        "corpus writes stop at the first failure"
    );
}

#[test]
fn failed_writes_never_lose_a_finding() {
    // injected: the folders would be under a regular file
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"").unwrap();
    fuzz_where_writes_fail(&dir.path().join("file"));
}

/// Unmounts on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_file_system_never_loses_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        crate::util::skip(
            "no tmpfs mount here (not root?): the injected write failure test covers it",
        );
        return;
    }
    let _guard = Mounted(dir.path().to_path_buf());
    std::fs::create_dir_all(dir.path().join("corpus")).unwrap();
    std::fs::create_dir_all(dir.path().join("artifacts")).unwrap();
    let mut fill = std::fs::File::create(dir.path().join("fill")).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut fill, &block).is_ok() {}
    drop(fill);
    fuzz_where_writes_fail(dir.path());
}

#[test]
fn every_file_the_engine_writes_replays_with_the_same_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    // a raw seed that starts with `{`: its byte mutants often do too (before
    // one decode, this run kept 5 such raw mutants, and repro refused them)
    let mut seed = b"{'-- ".to_vec();
    seed.extend((0u8..=255).cycle().take(300));
    std::fs::write(corpus.join("brace"), &seed).unwrap();
    let args = [
        "fuzz",
        "--pipeline",
        "legacy",
        "--runs",
        "200",
        "--seed",
        "4",
        "--corpus",
        "corpus",
        "--artifacts",
        "artifacts",
    ];
    let out = rowguard_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let written: Vec<PathBuf> = crate::util::files_under(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with("corpus/brace"))
        .collect();
    assert!(written.len() > 3, "{written:?}");
    let mut args = vec!["repro", "--pipeline", "legacy", "--format", "json"];
    let paths: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = rowguard_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "every file decodes");
    let replayed: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replayed.len(), written.len());
    let legacy = rowguard::harness::pipeline::by_name("legacy").unwrap();
    let mut session = rowguard::harness::execute::Session::new().unwrap();
    for (f, v) in written.iter().zip(&replayed) {
        assert_eq!(v["file"], f.display().to_string());
        // what the engine made of the same bytes
        let engine = rowguard::harness::scenario::decode(
            rowguard::harness::appointments::harness(),
            &std::fs::read(f).unwrap(),
        );
        let e =
            rowguard::harness::execute::execute(&mut session, legacy, &engine.scenario).unwrap();
        let kinds: Vec<String> = e.kinds().iter().map(|k| k.to_string()).collect();
        let repro: Vec<String> = v["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(repro, kinds, "{}", f.display());
    }
}

#[test]
fn scan_says_so_when_its_file_is_cut_while_read() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    let line = |i: usize| format!("note {i:06} call back about the invoice please\n");
    let text: String = (0..12_000).map(line).collect();
    std::fs::write(&notes, &text).unwrap();
    let mut child = command(
        dir.path(),
        &["scan", "--notes", "notes", "--format", "jsonl"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("\"line\":1"), "{first}");
    // cut mid-line, well past what the scan has read so far
    let per = line(0).len();
    let keep = 8_000 * per + per / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&notes)
        .unwrap()
        .set_len(keep as u64)
        .unwrap();
    let records: Vec<serde_json::Value> = std::iter::once(first)
        .chain(reader.lines().map(Result::unwrap))
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = one_line_error(&out);
    assert!(e.contains("shrank") && e.contains("line 8001"), "{e}");
    // the lines before the cut keep their records; the cut one has none
    assert_eq!(records.len(), 8_000);
    assert_eq!(records.last().unwrap()["line"], 8_000);
}

//! A team's own harness, as a user builds it: `examples/invoices.rs` (the
//! guide's worked example, docs/own-harness.md, a domain the tools know nothing of) gets every
//! command through `rowguard::cli::main`: fuzz finds its planted bug, the
//! artifact replays and minimizes, the gate fails on the bug and passes on
//! the safe version, the HTML page shows the blast radius.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::root;

/// The invoices example, up to date.
pub(crate) fn invoices_bin() -> PathBuf {
    crate::util::example_bin("invoices")
}

pub(crate) fn invoices(cwd: &Path, args: &[&str]) -> Output {
    Command::new(invoices_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("ROWGUARD_PIPELINE")
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fuzzes `memo-concat` with words from the example's source; returns the
/// summary and the artifacts folder.
fn fuzz_planted(dir: &Path, seed: u64) -> (serde_json::Value, PathBuf) {
    let artifacts = dir.join(format!("artifacts-{seed}"));
    let source = root().join("examples/invoices.rs");
    let o = invoices(
        dir,
        &[
            "fuzz",
            "--pipeline",
            "memo-concat",
            "--runs",
            "20000",
            "--seed",
            &seed.to_string(),
            "--kinds",
            "write-outside-target",
            "--source",
            source.to_str().unwrap(),
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "seed {seed}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (serde_json::from_slice(&o.stdout).unwrap(), artifacts)
}

#[test]
fn fuzz_finds_the_planted_bug_and_its_artifact_replays_and_minimizes() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=3 {
        let (summary, _) = fuzz_planted(dir.path(), seed);
        assert_eq!(summary["harness"], "invoices");
        assert_eq!(summary["pipeline"], "memo-concat");
        let found = summary["findings"].as_array().unwrap();
        assert!(
            found.iter().any(|f| f["kind"] == "write-outside-target"),
            "{summary}"
        );
    }
    let (summary, _) = fuzz_planted(dir.path(), 1);
    let artifact = summary["findings"][0]["artifact"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = std::fs::read(dir.path().join(&artifact)).unwrap();
    let repro: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        repro["harness"], "invoices",
        "the reproducer says its harness"
    );
    // replays on the pipeline it names, with the blast radius in the invoices table
    let r = invoices(dir.path(), &["repro", &artifact, "--format", "json"]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let replay: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(
        replay.to_string().contains("\"table\":\"invoices\""),
        "{replay}"
    );
    // minimizes to one edit-memo op, still a finding
    let min = dir.path().join("min.json");
    let m = invoices(
        dir.path(),
        &["minimize", &artifact, "-o", min.to_str().unwrap()],
    );
    assert_eq!(
        m.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let small: serde_json::Value = serde_json::from_slice(&std::fs::read(&min).unwrap()).unwrap();
    assert_eq!(small["ops"].as_array().unwrap().len(), 1, "{small}");
    assert_eq!(small["ops"][0]["op"], "edit-memo");
    assert!(std::fs::metadata(&min).unwrap().len() <= bytes.len() as u64);
    let again = invoices(dir.path(), &["repro", min.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    // the built-in binary knows no invoices: one line, exit 2
    let other = crate::util::rowguard_in(dir.path(), &["repro", min.to_str().unwrap()]);
    assert_eq!(other.status.code(), Some(2));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("unknown harness `invoices`") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn the_gate_fails_on_the_planted_bug_and_passes_on_safe() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(corpus.join("pipeline")).unwrap();
    std::fs::write(
        corpus.join("pipeline/memo.json"),
        r#"{"rowguard": 1, "harness": "invoices", "ops": [{"op": "edit-memo", "invoice": 3, "memo": "net 60"}]}"#,
    )
    .unwrap();
    let source = root().join("examples");
    let gate = |pipeline: &str, corpus: &Path, junit: &Path| {
        invoices(
            dir.path(),
            &[
                "gate",
                "--pipeline",
                pipeline,
                "--corpus",
                corpus.to_str().unwrap(),
                "--time",
                "5",
                "--seed",
                "1",
                "--source",
                source.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ],
        )
    };
    // the planted version: the fuzz stage finds it
    let junit = dir.path().join("bug.xml");
    let bug = gate("memo-concat", &corpus, &junit);
    assert_eq!(
        bug.status.code(),
        Some(1),
        "{}{}",
        stdout(&bug),
        String::from_utf8_lossy(&bug.stderr)
    );
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("write-outside-target"));
    // its reproducer, committed, keeps the gate honest on the fixed version
    let (summary, _) = fuzz_planted(dir.path(), 2);
    let artifact = summary["findings"][0]["artifact"].as_str().unwrap();
    std::fs::create_dir_all(corpus.join("regressions/memo-concat")).unwrap();
    std::fs::copy(
        dir.path().join(artifact),
        corpus.join("regressions/memo-concat/void.json"),
    )
    .unwrap();
    let junit = dir.path().join("safe.xml");
    let ok = invoices(
        dir.path(),
        &[
            "gate",
            "--corpus",
            corpus.to_str().unwrap(),
            "--time",
            "2",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        stdout(&ok),
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn the_html_page_shows_the_blast_radius_in_the_teams_tables() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let artifacts = dir.path().join("artifacts");
    let o = invoices(
        dir.path(),
        &[
            "fuzz",
            "--pipeline",
            "memo-concat",
            "--runs",
            "20000",
            "--seed",
            "3",
            "--source",
            root().join("examples").to_str().unwrap(),
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in [
        "memo-concat",
        "invoices",
        "audit",
        "edit-memo",
        "write-outside-target",
    ] {
        assert!(html.contains(needle), "{needle} not on the page");
    }
    // schema and pipelines speak of the team's domain
    let schema = stdout(&invoices(dir.path(), &["schema"]));
    assert!(schema.contains("CREATE TABLE invoices"), "{schema}");
    let pipelines = stdout(&invoices(dir.path(), &["pipelines"]));
    assert!(
        pipelines.contains("memo-concat") && !pipelines.contains("legacy"),
        "{pipelines}"
    );
}

/// The guide's page on a team's harness shows the whole example (its first
/// Rust block, which `cargo test --doc` compiles).
#[test]
fn the_guide_shows_the_whole_example() {
    let page = std::fs::read_to_string(root().join("docs/own-harness.md")).unwrap();
    let code = std::fs::read_to_string(root().join("examples/invoices.rs")).unwrap();
    let block = page
        .split("```rust,no_run\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/own-harness.md has the example's block");
    assert_eq!(
        block, code,
        "docs/own-harness.md's example differs from examples/invoices.rs"
    );
}

/// Issue 25: a team's own harness gets root causes, computed from the
/// erased domain alone: memo-concat's one escape (the memo of edit-memo
/// into the VOID branch's statement) is one root cause, on two seeds.
#[test]
fn invoices_get_one_root_cause_per_escape_on_two_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigs = Vec::new();
    let source = root().join("examples/invoices.rs");
    for seed in ["1", "2"] {
        let out = invoices(
            dir.path(),
            &[
                "fuzz",
                "--pipeline",
                "memo-concat",
                "--runs",
                "3000",
                "--seed",
                seed,
                "--format",
                "json",
                "--minimize-time",
                "0",
                "--source",
                source.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let causes = v["root_causes"].as_array().unwrap();
        assert_eq!(causes.len(), 1, "{causes:#?}");
        assert_eq!(causes[0]["signature"]["cause"], "text");
        let sites = causes[0]["sites"].as_array().unwrap();
        assert!(
            sites
                .iter()
                .all(|s| s["op"] == "edit-memo" && s["field"] == "/memo"),
            "{sites:#?}"
        );
        // the VOID branch's string-built statement: the memo leaves its
        // literal there (and, inside it, chooses that branch)
        assert!(sites.iter().any(|s| s["escape"] == "literal"), "{sites:#?}");
        sigs.push(causes[0]["id"].clone());
    }
    assert_eq!(sigs[0], sigs[1]);
}

/// The guide's invoices walkthrough (docs/own-harness.md), run line by line as printed (bash, at
/// the root): each line's exit code is the one its comment names, the
/// minimized reproducer names an invoice the generator makes (never 0), the
/// gate passes on `safe` with it among the seeds and fails on the planted
/// version, and nothing is written outside `target/`.
#[test]
fn the_guides_walkthrough_runs_as_printed() {
    let readme = std::fs::read_to_string(root().join("docs/own-harness.md")).unwrap();
    let start = readme
        .find("```sh\ncargo run -q --example invoices -- pipelines")
        .expect("the walkthrough's block in docs/own-harness.md");
    let block = &readme[start + "```sh\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 8, "{block}");
    let outside_target = || -> std::collections::BTreeSet<String> {
        let o = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .current_dir(root())
            .output();
        match o {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l[3..].starts_with("target/"))
                .map(str::to_string)
                .collect(),
            _ => Default::default(), // not a git checkout: nothing to compare
        }
    };
    let _ = std::fs::remove_dir_all(root().join("target/invoices"));
    invoices_bin(); // built once, in this profile, before the lines run
    let before = outside_target();
    for line in &lines {
        let expected: i32 = line
            .split("# exit ")
            .nth(1)
            .and_then(|c| c.split(':').next())
            .map_or(0, |c| {
                c.trim().parse().expect("an exit code in the comment")
            });
        let mut bash = Command::new("bash");
        bash.args(["-c", line])
            .current_dir(root())
            .env_remove("ROWGUARD_PIPELINE")
            .env_remove("ROWGUARD_DATABASE_URL");
        let o = bash.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(expected),
            "{line}\nstdout: {}\nstderr: {}",
            stdout(&o).chars().take(4000).collect::<String>(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let void = std::fs::read_to_string(
        root().join("target/invoices/corpus/regressions/memo-concat/void.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&void).unwrap();
    for op in v["ops"].as_array().unwrap() {
        let invoice = op["invoice"].as_i64().unwrap();
        assert!((1..=30).contains(&invoice), "{void}");
    }
    assert!(root().join("target/invoices/page.html").is_file());
    assert!(root().join("target/invoices/junit.xml").is_file());
    assert_eq!(
        outside_target(),
        before,
        "the walkthrough wrote outside target/"
    );
}

//! The `rowguard` binary's contract for the engine workflow: exit codes
//! (0 clean, 1 finding, 2 error with one line on stderr), the fuzz JSON
//! summary's fields, `minimize -o`, and the gate's report files.

use crate::util::{root, rowguard_in};

#[test]
fn fuzz_json_summary_has_the_contract_fields_and_artifacts_replay() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "fuzz",
        "--pipeline",
        "legacy",
        "--runs",
        "60",
        "--seed",
        "1",
        "--format",
        "json",
    ];
    let out = rowguard_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "pipeline",
        "seed",
        "execs",
        "elapsed_s",
        "shapes",
        "findings",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["execs"], 60);
    let first = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "write-outside-target")
        .expect("legacy found");
    assert!(first["elapsed_s"].is_f64());
    let artifact = first["artifact"].as_str().unwrap();
    assert!(
        artifact.starts_with("artifacts/legacy/write-outside-target-"),
        "{artifact}"
    );

    let replay = rowguard_in(dir.path(), &["repro", artifact]);
    assert_eq!(replay.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&replay.stdout).contains("FINDING write-outside-target"));

    let min = rowguard_in(dir.path(), &["minimize", artifact, "-o", "min.json"]);
    assert_eq!(min.status.code(), Some(0), "{min:?}");
    let text = std::fs::read_to_string(dir.path().join("min.json")).unwrap();
    assert!(text.len() < std::fs::read(dir.path().join(artifact)).unwrap().len());
    assert!(
        text.contains("\"expect\": [\n    \"write-outside-target\"\n  ]"),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["fuzz", "--pipeline", "nope", "--runs", "1"][..],
        &["fuzz", "--kinds", "bogus", "--runs", "1"],
        &["minimize", "missing.json"],
        &["gate", "--corpus", "missing", "--time", "0"],
        &["check"],
        &["fuzz", "--bogus"],
        &["bench", "scaling", "--sizes", "0"],
        &["bench", "throughput", "--inputs", "0"],
        &["bench", "instructions", "--paths", "nope"],
        &["bench", "instructions", "--repeat", "0"],
        &["bench", "instructions", "--write-baseline", "b.json"],
    ] {
        let out = rowguard_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("rowguard: "), "{err}");
    }
}

#[test]
fn bench_instructions_inner_runs_each_hot_path_without_valgrind() {
    // what callgrind is given: set up, warm, run the path, print its operations
    let dir = tempfile::tempdir().unwrap();
    for (path, operations) in [("clean", 20), ("raw", 20), ("finding", 1), ("tripwire", 10)] {
        let args = ["bench", "instructions", "--inner", path, "--repeat", "1"];
        let out = rowguard_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{path}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), format!("operations: {operations}"), "{path}");
    }
    let out = rowguard_in(dir.path(), &["bench", "instructions", "--inner", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn gate_writes_junit_and_sarif_and_exits_1_on_a_lost_regression() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let src = root().join("corpus");
    for f in crate::util::files_under(&src) {
        let to = corpus.join(f.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let args = [
        "gate",
        "--time",
        "0",
        "--junit",
        "gate.xml",
        "--sarif",
        "gate.sarif",
    ];
    let ok = rowguard_in(dir.path(), &args);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let repro = corpus.join("regressions/legacy/incident-quote-comment.json");
    let defused = std::fs::read_to_string(&repro).unwrap().replace("'--", "");
    std::fs::write(&repro, defused).unwrap();
    let failed = rowguard_in(dir.path(), &args);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let xml = std::fs::read_to_string(dir.path().join("gate.xml")).unwrap();
    assert!(xml.contains("<failure") && xml.contains("incident-quote-comment.json"));
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("gate.sarif")).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"][0]["ruleId"],
        "write-outside-target"
    );
}

/// Default output folders belong to the project, not to the folder the
/// command starts in: `fuzz` run from `src/` of a workspace writes its
/// artifacts to `<root>/artifacts/<pipeline>/` (named from where it ran),
/// never `src/artifacts/`; outside any Cargo project, the current folder.
#[test]
fn default_artifacts_go_to_the_project_root_wherever_fuzz_starts() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/app\"]\n",
    )
    .unwrap();
    let deep = project.path().join("crates/app/src");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(
        project.path().join("crates/app/Cargo.toml"),
        "[package]\nname = \"app\"\n",
    )
    .unwrap();
    let args = [
        "fuzz",
        "--pipeline",
        "legacy",
        "--runs",
        "300",
        "--seed",
        "1",
        "--kinds",
        "write-outside-target",
        "--format",
        "json",
    ];
    let o = rowguard_in(&deep, &args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let written = crate::util::files_under(&project.path().join("artifacts/legacy"));
    assert!(!written.is_empty());
    assert!(
        !deep.join("artifacts").exists() && !project.path().join("crates/app/artifacts").exists()
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let artifact = summary["findings"][0]["artifact"]
        .as_str()
        .unwrap_or_default();
    assert!(
        artifact.starts_with("../../../artifacts/legacy/"),
        "{artifact}"
    );
    // no Cargo project above: the current folder
    let bare = tempfile::tempdir().unwrap();
    let o = rowguard_in(bare.path(), &args);
    assert_eq!(o.status.code(), Some(1));
    assert!(!crate::util::files_under(&bare.path().join("artifacts/legacy")).is_empty());
}

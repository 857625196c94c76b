//! `rowguard check` as a user runs it: exit codes 0/1/2 and the JSON fields
//! DESIGN.md promises (`verdict, kinds[], outside[{table, key, column, before, after}]`).

use std::process::Output;

use crate::util::rowguard;

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn check_exit_codes_and_json() {
    let clean = rowguard(&[
        "check",
        "--format",
        "json",
        "UPDATE appointments SET notes = 'x' WHERE id = 7",
    ]);
    assert_eq!(clean.status.code(), Some(0));
    let v = json(&clean);
    assert_eq!(v["verdict"], "clean");
    assert_eq!(v["kinds"], serde_json::json!([]));
    assert_eq!(v["outside"], serde_json::json!([]));

    let hit = rowguard(&[
        "check",
        "--target",
        "8",
        "--format",
        "json",
        "UPDATE appointments SET notes = 'x' WHERE id = 8 OR id = 9",
    ]);
    assert_eq!(hit.status.code(), Some(1));
    let v = json(&hit);
    assert_eq!(v["verdict"], "finding");
    assert_eq!(v["kinds"], serde_json::json!(["write-outside-target"]));
    let first = &v["outside"][0];
    assert_eq!(first["table"], "appointments");
    assert_eq!(first["key"], "9");
    assert_eq!(first["column"], "notes");
    assert_eq!(first["before"], "'follow-up'");
    assert_eq!(first["after"], "'x'");

    let shape = rowguard(&[
        "check",
        "--template",
        "UPDATE appointments SET notes = 'aaaaaaaaaaaaaaa' WHERE id = 7",
        "UPDATE appointments SET notes = '' || (SELECT 1) || '' WHERE id = 7",
    ]);
    assert_eq!(shape.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&shape.stdout).contains("shape-changed"));

    for bad in [
        &["check"][..],
        &["check", "--target", "0", "SELECT 1"],
        &["check", "--dialect", "oracle", "SELECT 1"],
    ] {
        let out = rowguard(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
}

#[test]
fn check_accepts_other_dialects_for_the_static_layer() {
    for dialect in ["mysql", "postgres"] {
        let out = rowguard(&[
            "check",
            "--dialect",
            dialect,
            "UPDATE appointments SET notes = 'x' WHERE id = 7",
        ]);
        assert_eq!(out.status.code(), Some(0), "{dialect}");
    }
}

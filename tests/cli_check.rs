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

/// Issue 36, part 4: the static layer judges what MariaDB runs: the
/// statement after `SET STATEMENT ... FOR` and the settings it carries, and
/// executable comments unwrapped (version-gated ones count as run).
/// `--dialect mysql` without a server: the dynamic layer is SQLite, to which
/// all these comments are comments, so each kind here is the static layer's.
#[test]
fn check_mysql_judges_the_statement_the_server_runs() {
    let kinds = |sql: &str, template: Option<&str>| {
        let mut args = vec!["check", "--dialect", "mysql", "--format", "json"];
        if let Some(t) = template {
            args.extend(["--template", t]);
        }
        args.push(sql);
        let out = rowguard(&args);
        let v = json(&out);
        let kinds: Vec<String> = v["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            out.status.code(),
            Some(if kinds.is_empty() { 0 } else { 1 }),
            "{sql}"
        );
        kinds
    };
    let finding = [
        // the two forms
        ("SET STATEMENT insert_id = 5 FOR INSERT INTO reminders (appointment_id, send_at) VALUES (8, 'z')", "forbidden-action"),
        ("/*M!100000 SET insert_id = 1000000 */", "forbidden-action"),
        // forms the issue does not name
        ("set statement max_statement_time = 0 for UPDATE appointments SET notes = 'x' WHERE id = 7", "forbidden-action"),
        ("SET STATEMENT foreign_key_checks = 0, unique_checks = 0 FOR DELETE FROM reminders WHERE appointment_id = 7", "forbidden-action"),
        ("SET STATEMENT sql_mode = '' FOR SET STATEMENT insert_id = 1 FOR UPDATE appointments SET notes = 'x' WHERE id = 7", "forbidden-action"),
        ("SET STATEMENT insert_id = 1 FOR DROP TABLE clients", "schema-change"),
        ("/*!SET insert_id = 5*/", "forbidden-action"),
        ("/*!50000 SET timestamp = 1 */", "forbidden-action"),
        ("/*M! SET STATEMENT insert_id = 1 FOR UPDATE appointments SET notes = 'x' WHERE id = 7 */", "forbidden-action"),
        ("/*!50000 DROP TABLE clients */", "schema-change"),
        ("/*! DELETE FROM clients */", "forbidden-action"),
        // a version this server may not run still counts as run
        ("UPDATE appointments SET notes = 'x' /*!99999 , status = 'gone' */ WHERE id = 7", "forbidden-action"),
        ("UPDATE appointments SET notes = 'x' WHERE id = 7 /*M!999999 ; DELETE FROM clients */", "multiple-statements"),
    ];
    let mut missed = Vec::new();
    for (sql, kind) in finding {
        let got = kinds(sql, None);
        if !got.iter().any(|k| k == kind) {
            missed.push(format!("{sql}: want {kind}, got {got:?}"));
        }
    }
    // An executable comment changes the shape the template has.
    let got = kinds(
        "UPDATE appointments SET notes = 'x' WHERE id = 7 /*! OR id = 8 */",
        Some("UPDATE appointments SET notes = 'x' WHERE id = 7"),
    );
    if !got.iter().any(|k| k == "shape-changed") {
        missed.push(format!(
            "an executable comment against the template: {got:?}"
        ));
    }
    assert!(missed.is_empty(), "{missed:#?}");
    // Still clean: the same words inside literals, plain comments, and the
    // template's own shape.
    for sql in [
        "UPDATE appointments SET notes = '/*! , status = ''gone'' */ SET STATEMENT x = 1 FOR' WHERE id = 7",
        "UPDATE appointments SET notes = 'x' WHERE id = 7 /* SET STATEMENT insert_id = 1 FOR */",
        "UPDATE appointments SET notes = 'x' /*!50000 , reason = 'moved' */ WHERE id = 7",
    ] {
        assert_eq!(kinds(sql, None), Vec::<String>::new(), "{sql}");
    }
}

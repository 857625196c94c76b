//! The architecture, checked: arrows point down only (DESIGN.md "Parts",
//! `src/lib.rs`). Each library file belongs to a layer by its folder; every
//! `crate::<module>` path it names must be in its own layer or one below.
//! The guard crate names nothing of rowguard's and depends only on what
//! guarding needs.

use std::path::Path;

use crate::util::{files_under, root};

/// Layers bottom to top; `error` is shared by every layer of the package.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "guard" | "error" | "Error" | "Result" => 0,
        "harness" => 1,
        "tools" => 2,
        "report" => 3,
        "fuzzing" => 4,
        // The 0.1 flat paths `src/lib.rs` still re-exports, by the layer they name.
        "db" => 0,
        "schema" | "pipeline" | "scenario" | "target" | "guard_target" => 1,
        "engine" | "check" | "scan" | "bench" | "input" | "dict" | "mutator" => 2,
        _ => return None,
    })
}

/// The layer of a file under `src/`.
fn layer_of(rel: &Path) -> Option<&'static str> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(match first {
        "harness" => "harness",
        "tools" => "tools",
        "report" => "report",
        "fuzzing.rs" => "fuzzing",
        _ => return None, // lib.rs, error.rs, main.rs, cli/: the roots and the binary
    })
}

/// `crate::<name>` paths in the code (comments skipped).
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
            rest = after;
        }
        // `use crate::{a, b}` names several modules at once.
        if let Some(i) = code.find("crate::{") {
            let inner = &code[i + "crate::{".len()..];
            let inner = inner.split('}').next().unwrap_or("");
            out.extend(
                inner
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").trim().to_string()),
            );
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = root().join("src");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in files_under(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(layer) = layer_of(rel) else { continue };
        let mine = rank(layer).unwrap();
        checked += 1;
        for name in crate_paths(&std::fs::read_to_string(&file).unwrap()) {
            match rank(&name) {
                Some(r) if r <= mine => {}
                Some(_) => wrong.push(format!("{} ({layer}) imports crate::{name}", rel.display())),
                None => wrong.push(format!(
                    "{} ({layer}) names crate::{name}, which is not a layer (name the layer)",
                    rel.display()
                )),
            }
        }
    }
    assert!(checked > 30, "only {checked} files checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_guard_crate_is_domain_free_and_small() {
    let guard = root().join("crates/guard");
    for file in files_under(&guard.join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for banned in [
            "rowguard::",
            "appointments_policy",
            "crate::harness",
            "crate::schema",
        ] {
            let hits: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//") && l.contains(banned))
                .collect();
            assert!(hits.is_empty(), "{}: {banned}: {hits:?}", file.display());
        }
    }
    let manifest = std::fs::read_to_string(guard.join("Cargo.toml")).unwrap();
    let deps: Vec<&str> = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.split('=').next().unwrap().trim())
        .collect();
    let allowed = [
        "rusqlite",
        "sqlparser",
        "serde",
        "serde_json",
        "thiserror",
        "stacker",
        // the PostgreSQL backend's client (guard::postgres)
        "postgres",
        // the MariaDB/MySQL backend's client (guard::mysql)
        "mysql",
    ];
    for d in &deps {
        assert!(allowed.contains(d), "the guard crate depends on {d}");
    }
    assert!(deps.contains(&"rusqlite") && deps.contains(&"sqlparser"));
}

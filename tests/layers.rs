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
        "cli" => 5,
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
        "cli" => "cli",
        _ => return None, // lib.rs, error.rs, main.rs: the roots
    })
}

/// `crate::<name>` paths in the code (comments skipped).
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        // A doc link (`[`crate::tools`]`) is an arrow in the drawing of the
        // imports too: collect those from comments.
        if let Some(i) = line.find("//") {
            let mut rest = &line[i..];
            while let Some(j) = rest.find("[`crate::").or_else(|| rest.find("[crate::")) {
                let after = rest[j..].trim_start_matches("[`").trim_start_matches('[');
                let after = &after["crate::".len()..];
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
                rest = after;
            }
        }
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
        // the PostgreSQL tripwire's C capture is armed with a token's
        // SHA-256 (already in the tree through postgres)
        "sha2",
    ];
    for d in &deps {
        assert!(allowed.contains(d), "the guard crate depends on {d}");
    }
    assert!(deps.contains(&"rusqlite") && deps.contains(&"sqlparser"));
}

/// The sibling modules a library file names (`super::x`, or `crate::…::x`
/// through its folder's own path), outside its test module.
fn siblings_named(file: &Path, src: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let dir = file.parent().unwrap();
    let folder: Vec<String> = dir
        .strip_prefix(src)
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut prefixes = vec!["super::".to_string()];
    if !folder.is_empty() {
        prefixes.push(format!("crate::{}::", folder.join("::")));
    } else {
        prefixes.push("crate::".to_string());
    }
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        for p in &prefixes {
            let mut rest = line;
            while let Some(i) = rest.find(p.as_str()) {
                let after = &rest[i + p.len()..];
                let inner: Vec<&str> = match after.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![after],
                };
                for name in inner {
                    let name: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    out.push(name);
                }
                rest = after;
            }
        }
    }
    out
}

#[test]
fn no_two_files_import_each_other() {
    let mut circles = Vec::new();
    for src in [root().join("src"), root().join("crates/guard/src")] {
        let files: Vec<_> = files_under(&src)
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
            .filter(|f| {
                f.file_name()
                    .is_some_and(|n| n != "mod.rs" && n != "lib.rs" && n != "main.rs")
            })
            .collect();
        let module = |f: &Path| f.file_stem().unwrap().to_string_lossy().into_owned();
        for a in &files {
            for b in &files {
                if a >= b || a.parent() != b.parent() {
                    continue;
                }
                if siblings_named(a, &src).contains(&module(b))
                    && siblings_named(b, &src).contains(&module(a))
                {
                    circles.push(format!("{} <-> {}", a.display(), b.display()));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "file-level import circles:\n{}",
        circles.join("\n")
    );
}

/// Lines of `text` outside its test module, without comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.split("//").next().unwrap_or("")))
}

#[test]
fn tools_report_and_cli_name_no_domain() {
    // The appointments model is one harness among others: the layers that
    // work on any harness never name it. A JSON key or flag rowguard 0.1
    // gave a name of its first harness is kept for compatibility, on a
    // line that says so (`rename =` / `alias =`).
    let words = ["appointment", "reschedul", "notes", "month", "series_id"];
    let mut hits = Vec::new();
    let mut checked = 0;
    for layer in ["tools", "report", "cli"] {
        for file in files_under(&root().join("src").join(layer)) {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in code_lines(&text) {
                let lower = line.to_lowercase();
                if lower.contains("rename =") || lower.contains("alias =") {
                    continue;
                }
                for w in words {
                    if lower.contains(w) {
                        hits.push(format!("{}:{n}: {w}: {}", file.display(), line.trim()));
                    }
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} files checked");
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

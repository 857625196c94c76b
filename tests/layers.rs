//! The architecture, checked: arrows point down only (DESIGN.md "Parts",
//! `src/lib.rs`). Each library file belongs to a layer by its folder; every
//! `crate::<module>` path it names must be in its own layer or one below,
//! in `src/` and in the guard crate (`GUARD_LAYERS`, `SRC_LAYERS`); the
//! server backends name none of each other's names; no modules import each
//! other in a circle of any length (`graph.rs` reads the imports). The
//! guard crate names nothing of rowguard's and depends only on what
//! guarding needs.

use std::path::Path;

use crate::util::{files_under, root};

mod graph;

/// Layers bottom to top; `error` is shared by every layer of the package.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "guard" | "error" | "Error" | "Result" => 0,
        "harness" => 1,
        "appointments" => 2,
        "offer" | "oracle" => 3,
        "tools" => 4,
        "report" => 5,
        "app" => 6,
        "fuzzing" => 7,
        "cli" => 8,
        _ => return None,
    })
}

/// The layer of a file under `src/`.
fn layer_of(rel: &Path) -> Option<&'static str> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(match first {
        "harness" => "harness",
        "appointments" => "appointments",
        "offer.rs" => "offer",
        "oracle" => "oracle",
        "tools" => "tools",
        "report" => "report",
        "app" => "app",
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
        // Test modules are no arrows (a test of the extension point runs
        // the built-in harness), nor is a re-export of an old path.
        let text = std::fs::read_to_string(&file).unwrap();
        let text: Vec<&str> = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_end().ends_with(graph::COMPAT))
            .collect();
        for name in crate_paths(&text.join("\n")) {
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

#[test]
fn no_import_circles_of_any_length() {
    // Between sibling modules at every depth: an arrow from `a::b::c` to
    // `a::d` is one from `a::b` to `a::d`. A module and its own folder's
    // root (`super::` from a child) are one room, not a circle.
    let mut found = Vec::new();
    for src in [root().join("src"), root().join("crates/guard/src")] {
        let arrows = graph::arrows(&src);
        assert!(
            arrows.len() > 100,
            "only {} arrows read in {}",
            arrows.len(),
            src.display()
        );
        for circle in graph::circles(&arrows) {
            found.push(format!("{}:\n{}", src.display(), circle.join("\n")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The guard crate's layers, bottom to top: a module names only modules of
/// its own layer or below. In a layer of peers (the server backends) no
/// module names another.
const GUARD_LAYERS: &[(&str, bool, &[&str])] = &[
    (
        "ground",
        false,
        &[
            "error",
            "db",
            "interrupt",
            "profile",
            "isolation",
            "builtins",
            "watchdog",
        ],
    ),
    ("policy", false, &["policy"]),
    (
        "the text: what each dialect's SQL is made of",
        false,
        &["dialect", "static_check"],
    ),
    (
        "what the text and the policy say",
        false,
        &["coverage", "memo"],
    ),
    ("SQLite capture", false, &["stored", "clean", "capture"]),
    ("the SQLite guard", false, &["dynamic"]),
    ("what every guard offers", false, &["backend"]),
    ("what every server backend shares", false, &["server"]),
    ("server backends (peers)", true, &["postgres", "mysql"]),
    // `watch`: judges code that brings its own client.
    ("tripwires and watches", false, &["tripwire", "watch"]),
];

/// The rowguard package's layers, bottom to top.
const SRC_LAYERS: &[(&str, bool, &[&str])] = &[
    ("ground", false, &["error"]),
    ("the extension point", false, &["harness"]),
    ("the built-in domain", false, &["appointments"]),
    (
        "what this package offers on its harnesses",
        false,
        &["offer", "oracle"],
    ),
    ("tools", false, &["tools"]),
    ("report", false, &["report"]),
    // a harness read from a spec file at run time (a running application):
    // it reads files through the tools' input layer, and only the command line calls it
    ("a running application's harness", false, &["app"]),
    ("fuzzing", false, &["fuzzing"]),
    ("cli", false, &["cli"]),
];

fn arrows_up(src: &Path, layers: &[(&str, bool, &[&str])]) -> Vec<String> {
    let layer = |top: &str| layers.iter().position(|(_, _, mods)| mods.contains(&top));
    let mut wrong = Vec::new();
    let arrows = graph::arrows(src);
    assert!(
        arrows.len() > 100,
        "only {} arrows read in {}",
        arrows.len(),
        src.display()
    );
    for a in &arrows {
        let (Some(from), Some(to)) = (a.from.first(), a.to.first()) else {
            continue; // the crate root names everything it declares
        };
        if from == to {
            continue;
        }
        let (Some(lf), Some(lt)) = (layer(from), layer(to)) else {
            for m in [from, to].into_iter().filter(|m| layer(m).is_none()) {
                wrong.push(format!(
                    "{}: module `{m}` is in no layer (put it in one in tests/layers.rs)",
                    a.file.display()
                ));
            }
            continue;
        };
        if lt > lf {
            wrong.push(format!(
                "{} ({}) names {} ({}): an arrow up",
                a.file.display(),
                layers[lf].0,
                a.path,
                layers[lt].0
            ));
        } else if lt == lf && layers[lf].1 {
            wrong.push(format!(
                "{} names {}: peers in `{}` name none of each other's names",
                a.file.display(),
                a.path,
                layers[lf].0
            ));
        }
    }
    wrong.sort();
    wrong.dedup();
    wrong
}

#[test]
fn no_arrow_runs_up_in_either_crate() {
    let mut wrong = arrows_up(&root().join("crates/guard/src"), GUARD_LAYERS);
    wrong.extend(arrows_up(&root().join("src"), SRC_LAYERS));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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

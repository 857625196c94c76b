//! The drawing of a crate's imports, read from its text: every module (one
//! `.rs` file, a folder's `mod.rs` being the folder), every path it names
//! (`use crate::…`, `super::…`, `self::…`, fully qualified `crate::x::y` in
//! code, `{a, b::c}` groups over several lines), each resolved to the module
//! that defines it (through `pub use` re-exports), and the circles among
//! them. Test modules and comments are not read: they are no arrows, nor
//! is a re-export of an old public path on a line that ends with
//! [`COMPAT`] (it is followed when another path goes through it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::files_under;

/// The mark of a `pub use` kept only so that an old public path compiles.
pub const COMPAT: &str = "// old path, kept for compatibility";

/// A module's path below the crate root (`["harness", "pipeline"]`); the
/// root is empty.
pub type Module = Vec<String>;

/// One arrow: `from` (a file) names `path`, which is defined in `to`.
#[derive(Debug, Clone)]
pub struct Arrow {
    pub file: PathBuf,
    pub from: Module,
    pub to: Module,
    pub path: String,
}

/// The modules of the crate rooted at `src` (its `lib.rs`) and the arrows
/// between them. A binary root (`main.rs`) is a crate of its own: left out.
pub fn arrows(src: &Path) -> Vec<Arrow> {
    let mut texts = BTreeMap::new();
    for file in files_under(src) {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = file.strip_prefix(src).unwrap();
        if rel == Path::new("main.rs") || rel.starts_with("bin") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let arrows: String = text
            .lines()
            .filter(|l| !l.trim_end().ends_with(COMPAT))
            .collect::<Vec<_>>()
            .join("\n");
        texts.insert(module_of(rel), (file, code(&text), code(&arrows)));
    }
    let modules: BTreeSet<Module> = texts.keys().cloned().collect();
    // `pub use` re-exports: (module, name) -> the path it stands for.
    let mut reexports: BTreeMap<(Module, String), Option<Module>> = BTreeMap::new();
    for (module, (_, code, _)) in &texts {
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(rest) = ["pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|p| stmt.rfind(p).map(|i| &stmt[i + p.len()..]))
            else {
                continue;
            };
            for (path, alias) in expand(rest) {
                let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
                let abs = absolute(module, &path, &modules);
                reexports.insert((module.clone(), name), abs);
            }
        }
    }
    let mut out = Vec::new();
    for (module, (file, _, code)) in &texts {
        for path in paths_in(code) {
            let Some(abs) = absolute(module, &path, &modules) else {
                continue;
            };
            let Some(to) = resolve(abs, &modules, &reexports, 0) else {
                continue;
            };
            out.push(Arrow {
                file: file.clone(),
                from: module.clone(),
                to,
                path: path.join("::"),
            });
        }
    }
    out
}

/// `harness/pipeline/mod.rs` -> `harness::pipeline`.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib") {
        parts.push(stem.to_string());
    }
    parts
}

/// The text before the file's test module, without comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::`/`super::`/`self::` path in `code`, groups expanded.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let before = at.checked_sub(1).map(|j| bytes[j] as char);
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            out.extend(expand(&code[at..]).into_iter().map(|(p, _)| p));
        }
    }
    out
}

/// The paths one path expression names: `a::{b, c::{d}}` -> `a::b`, `a::c::d`,
/// with an `as` alias where there is one.
fn expand(text: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    walk(text.trim_start(), Vec::new(), &mut out);
    // `a::{self, b}` names `a` itself.
    for (path, _) in &mut out {
        if path.len() > 1 && path.last().is_some_and(|s| s == "self") {
            path.pop();
        }
    }
    out
}

fn walk(
    mut s: &str,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let total = s.len();
    loop {
        s = s.trim_start();
        if let Some(group) = s.strip_prefix('{') {
            let mut rest = group;
            loop {
                rest = rest.trim_start();
                if let Some(r) = rest.strip_prefix('}') {
                    return total - r.len();
                }
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                    continue;
                }
                if rest.is_empty() {
                    return total;
                }
                let used = walk(rest, prefix.clone(), out);
                if used == 0 {
                    return total;
                }
                rest = &rest[used..];
            }
        }
        let ident: String = s
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if !prefix.is_empty() {
                out.push((prefix, None));
            }
            return total - s.len();
        }
        s = &s[ident.len()..];
        prefix.push(ident);
        let after = s.trim_start();
        if let Some(r) = after.strip_prefix("::") {
            s = r;
            continue;
        }
        if let Some(r) = after.strip_prefix("as ") {
            let r = r.trim_start();
            let alias: String = r
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let remaining = &r[alias.len()..];
            out.push((prefix, Some(alias)));
            return total - remaining.len();
        }
        out.push((prefix, None));
        return total - s.len();
    }
}

/// `path` as named from `module`, from the crate root; `None` when it names
/// another crate.
fn absolute(module: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut here = module.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            here.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                here.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A `pub use child::x` in a folder's root names its child.
            let mut child = module.clone();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    here.extend(rest.iter().cloned());
    Some(here)
}

/// The module that defines `path`: its longest module prefix, followed
/// through that module's re-exports.
fn resolve(
    path: Module,
    modules: &BTreeSet<Module>,
    reexports: &BTreeMap<(Module, String), Option<Module>>,
    depth: u8,
) -> Option<Module> {
    let n = (0..=path.len())
        .rev()
        .find(|&n| modules.contains(&path[..n].to_vec()))?;
    let module = path[..n].to_vec();
    if depth < 8 {
        if let Some(name) = path.get(n) {
            if let Some(target) = reexports.get(&(module.clone(), name.clone())) {
                let mut target = target.clone()?;
                target.extend(path[n + 1..].iter().cloned());
                return resolve(target, modules, reexports, depth + 1);
            }
        }
    }
    Some(module)
}

/// The arrows between sibling modules: an arrow from `a::b::c` to `a::d::e`
/// is one from `a::b` to `a::d`; one between a module and its own folder's
/// root (a parent and its child) is none.
pub fn sibling_arrows(arrows: &[Arrow]) -> Vec<(Module, Module, &Arrow)> {
    let mut out = Vec::new();
    for arrow in arrows {
        let k = arrow
            .from
            .iter()
            .zip(&arrow.to)
            .take_while(|(a, b)| a == b)
            .count();
        if k == arrow.from.len() || k == arrow.to.len() {
            continue;
        }
        out.push((arrow.from[..=k].to_vec(), arrow.to[..=k].to_vec(), arrow));
    }
    out
}

/// The circles among sibling modules (strongly connected sets of two or
/// more, any length), each with the arrows that make it.
pub fn circles(arrows: &[Arrow]) -> Vec<Vec<String>> {
    let edges = sibling_arrows(arrows);
    let mut next: BTreeMap<&Module, BTreeSet<&Module>> = BTreeMap::new();
    for (a, b, _) in &edges {
        next.entry(a).or_default().insert(b);
    }
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for n in next.get(&m).into_iter().flatten() {
                if seen.insert((*n).clone()) {
                    todo.push((*n).clone());
                }
            }
        }
        seen
    };
    let nodes: BTreeSet<&Module> = edges.iter().flat_map(|(a, b, _)| [a, b]).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for &node in &nodes {
        if done.contains(node) {
            continue;
        }
        let forward = reach(node);
        if !forward.contains(node) {
            continue;
        }
        // The circle through `node`: everything it reaches that reaches it.
        let members: BTreeSet<Module> = forward
            .into_iter()
            .filter(|m| reach(m).contains(node))
            .collect();
        let lines = edges
            .iter()
            .filter(|(a, b, _)| members.contains(a) && members.contains(b))
            .map(|(a, b, arrow)| {
                format!(
                    "  {} -> {}  ({} names {})",
                    a.join("::"),
                    b.join("::"),
                    arrow.file.display(),
                    arrow.path
                )
            })
            .collect::<BTreeSet<_>>();
        let names: Vec<String> = members.iter().map(|m| m.join("::")).collect();
        let mut circle = vec![format!("circle: {}", names.join(" -> "))];
        circle.extend(lines);
        done.extend(members);
        out.push(circle);
    }
    out
}

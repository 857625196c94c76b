//! The README and the guide (`docs/`) as a newcomer reads them: every
//! relative link (and its `#anchor`) leads somewhere, every page's Rust
//! blocks are compiled (`cargo test --doc`: the `guide` module of
//! `src/lib.rs` includes every page) or are, byte for byte, a file a build
//! compiles, the pipelines block is what `rowguard pipelines` prints, and
//! the exit-codes page has a row for every command.

use std::path::{Path, PathBuf};

use crate::util::{root, rowguard};

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 10, "{docs:?}");
    pages.extend(docs);
    pages
}

/// The page's lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The fenced blocks of a page: (info string, content).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        match &mut open {
            None if line.starts_with("```") => {
                open = Some((
                    line.trim_start_matches('`').trim().to_string(),
                    String::new(),
                ))
            }
            Some(_) if line.starts_with("```") => out.push(open.take().unwrap()),
            Some((_, body)) => body.push_str(line),
            None => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .into_iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// The targets of `[text](target)` links in a line, outside inline code.
fn links(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let outside_code: String = line
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(" ");
    let mut rest = outside_code.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

#[test]
fn every_relative_link_in_the_readme_and_the_guide_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for line in prose(&text) {
            for link in links(line) {
                if link.contains("://") || link.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
                let target = if path.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(path)
                };
                if !target.exists() {
                    broken.push(format!("{}: {link}: no such file", page.display()));
                    continue;
                }
                if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                    let there = std::fs::read_to_string(&target).unwrap();
                    if !anchors(&there).iter().any(|a| a == anchor) {
                        broken.push(format!("{}: {link}: no such heading", page.display()));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
    assert!(checked >= 30, "only {checked} links checked");
}

#[test]
fn every_page_is_compiled_by_the_doctests() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    for page in pages() {
        let rel = page.strip_prefix(root()).unwrap().display().to_string();
        assert!(
            lib.contains(&format!("include_str!(\"../{rel}\")")),
            "{rel} is not in src/lib.rs's guide module: its Rust blocks would not be compiled"
        );
    }
}

/// A Rust block that `cargo test --doc` does not compile (`ignore`) must be
/// a file a build compiles, byte for byte (from its `#![no_main]` for a
/// fuzz target); every block names its language, since rustdoc compiles a
/// bare block as Rust.
#[test]
fn every_rust_block_is_compiled_or_is_a_built_file() {
    let built: Vec<String> = ["examples", "fuzz/fuzz_targets", "crates/guard/examples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        // examples/apps/ holds applications in other languages, not Rust
        .filter(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .map(|code| match code.find("#![no_main]") {
            Some(i) => code[i..].to_string(),
            None => code,
        })
        .collect();
    let mut rust = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (info, body) in blocks(&text) {
            assert!(
                !info.is_empty(),
                "{}: a code block without a language (rustdoc would compile it as Rust):\n{body}",
                page.display()
            );
            let Some(attrs) = info.strip_prefix("rust") else {
                continue;
            };
            rust += 1;
            match attrs {
                "" | ",no_run" => {}
                ",ignore" => assert!(
                    built.contains(&body),
                    "{}: an ignored Rust block that is no built file:\n{body}",
                    page.display()
                ),
                other => panic!("{}: Rust block marked {other:?}", page.display()),
            }
        }
    }
    assert!(rust >= 10, "only {rust} Rust blocks");
}

#[test]
fn the_pipelines_block_is_what_the_binary_prints() {
    let page = std::fs::read_to_string(root().join("docs/layout.md")).unwrap();
    let section = page.split("## Pipelines").nth(1).expect("the section");
    let (_, block) = blocks(section)
        .into_iter()
        .find(|(info, _)| info == "text")
        .expect("the pipelines block");
    let out = rowguard(&["pipelines"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(block, String::from_utf8(out.stdout).unwrap());
}

/// Every command of `rowguard --help` has a row on the exit-codes page and
/// a line of exit codes in its own `--help`.
#[test]
fn every_command_has_its_exit_codes_documented() {
    let page = std::fs::read_to_string(root().join("docs/exit-codes.md")).unwrap();
    let help = String::from_utf8(rowguard(&["--help"]).stdout).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(commands.len(), 13, "{help}");
    for command in commands {
        assert!(
            page.contains(&format!("| `{command}` |")),
            "no row for {command} in docs/exit-codes.md"
        );
        let own = rowguard(&[command, "--help"]);
        let own = String::from_utf8(own.stdout).unwrap();
        assert!(own.contains("Exit codes: 0 "), "{command} --help:\n{own}");
    }
    assert!(Path::new(&root().join("docs/exit-codes.md")).is_file());
}

//! Attacker text is data in the HTML report (issue 16 item 3): pages built
//! from the third-party naughty-strings and SQL-injection corpora of
//! `tests/data/corpora/` (plus a few probes that would change the page if
//! they ran) are parsed with a real HTML5 parser (`scraper`/html5ever) and
//! must hold:
//! - every element, attribute, class, id and link is one the renderer
//!   itself writes (an allowlist), no attribute is an event handler, there
//!   is no comment node and no script element;
//! - the page carries a Content-Security-Policy meta, in its head before any
//!   content, whose effective `script-src` is `'none'` and `base-uri 'none'`;
//! - every payload is on the page as text: the text content holds it as the
//!   reader should see it (controls as `\u{..}` markers);
//! - the probes' raw markup is nowhere in the page source.
//!
//! The pages: `rowguard repro --format html`'s pages of legacy replays whose
//! notes and reasons are the corpus lines (real statements, messages, blast
//! radii and undo statements), one synthetic detail putting a payload into
//! every other field the renderer shows (file name, table, key, column,
//! parameters, errors, ignored tail, template), `rowguard report`'s page of a
//! gate summary whose case names, suites, messages and artifact paths are the
//! payloads, and the page of a real `rowguard gate --html` over a corpus of
//! files named after the payloads (passing, failing and erroring cases). The checker is shown to fail on a page where one
//! payload is left unescaped, or where the policy is missing.
//! `tests/browser.rs` opens the same page in Chromium.

use std::path::PathBuf;

use rowguard::guard::{Api, CellChange, Finding, Kind, StatementCheck, Value};
use rowguard::harness::execute::{Execution, OpRun, Session};
use rowguard::harness::pipeline::{self, Op};
use rowguard::harness::scenario::Scenario;
use rowguard::report::html::{self, build, escape, Detail, MAX_DETAILS};
use scraper::Html;

use crate::util::{root, rowguard_in};

/// Markup that would change the page if it ran or parsed as markup: the
/// browser test checks that the title stays and no `pwned` element exists.
pub const PROBES: &[&str] = &[
    "<script>document.title='pwned'</script>",
    "</title><script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "\"><svg onload=\"document.title='pwned'\"><div id=\"pwned\">",
    "'><div id='pwned' class='kind'>injected</div>",
    "</pre></code></section><h1 id=\"pwned\">injected</h1>",
    "<style>body{display:none}</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://example.com/\">",
    "<base href=\"https://example.com/\"><a href=\"javascript:document.title='pwned'\">x</a>",
    "<!-- open comment",
    "<iframe srcdoc=\"<script>parent.document.title='pwned'</script>\"></iframe>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"document.title='pwned'\">",
];

/// The corpus lines (naughty strings, SQL-injection payloads) and the probes.
pub fn payloads() -> Vec<String> {
    let mut out: Vec<String> = PROBES.iter().map(|p| p.to_string()).collect();
    for file in ["naughty-strings.txt", "sqli-payloads-dev.txt"] {
        let path = root().join("tests/data/corpora").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.extend(text.split('\n').filter(|l| !l.is_empty()).map(String::from));
    }
    out
}

/// A fake but complete detail: one payload in every field the page shows.
fn synthetic_detail(p: &[String]) -> Detail {
    let at = |i: usize| p[i % p.len()].clone();
    let cells: Vec<CellChange> = (0..40)
        .map(|i| CellChange {
            table: at(i / 8).into(),
            key: at(i + 3).into(),
            column: at(i % 5 + 7).into(),
            before: Some(at(i + 11)),
            after: (i % 3 != 0).then(|| at(i + 13)),
        })
        .collect();
    let mut finding = Finding::new(Kind::WriteOutsideTarget, at(0));
    finding.outside = cells;
    finding.undo = (0..12).map(|i| at(i + 2)).collect();
    let statement = StatementCheck {
        api: Api::Execute,
        sql: at(1),
        params: vec![Value::Text(at(2)), Value::Text(at(3))],
        ignored_tail: Some(at(4)),
        shape: at(5),
        accesses: vec![at(6)],
        changed_rows: 3,
        error: Some(at(7)),
        findings: vec![finding, Finding::new(Kind::SqlError, at(8))],
    };
    Detail {
        file: Some(PathBuf::from(at(9))),
        execution: Execution {
            harness: "appointments".into(),
            pipeline: at(10),
            ops: vec![OpRun {
                table: "appointments".into(),
                op: serde_json::to_value(Op::RescheduleSeries {
                    id: 3,
                    slot: 2,
                    notes: at(11),
                    reason: at(12),
                })
                .unwrap(),
                targets: vec![3, 4],
                statements: vec![statement],
                error: Some(at(13)),
                transcript: vec![],
                template_sql: vec![],
                templates: vec![],
            }],
        },
        templates: vec![vec![at(14)]],
    }
}

/// Pages the corpus lines are spread over, so that each shows all of its
/// inputs in detail within the page's size stop.
pub const PAGES: usize = 3;

/// The repro pages: legacy replays of every payload as notes and reasons,
/// [`PAGES`] pages of at most [`MAX_DETAILS`]` / 3` inputs each; the first
/// page also has the synthetic detail.
pub fn repro_pages() -> Vec<String> {
    let p = payloads();
    let legacy = pipeline::by_name("legacy").unwrap();
    let mut session = Session::new().unwrap();
    let inputs = MAX_DETAILS / 3;
    let mut pages = Vec::new();
    for (page, part) in p.chunks(p.len().div_ceil(PAGES)).enumerate() {
        let mut details = Vec::new();
        if page == 0 {
            details.push(synthetic_detail(&p));
        }
        for (n, chunk) in part.chunks(part.len().div_ceil(inputs)).enumerate() {
            let ops: Vec<Op> = chunk
                .chunks(2)
                .enumerate()
                .map(|(k, pair)| match pair {
                    [notes, reason] => Op::Reschedule {
                        id: 1 + (n * 31 + k) as i64 % 400,
                        day: 3,
                        slot: 2,
                        notes: notes.clone(),
                        reason: reason.clone(),
                    },
                    [notes] => Op::EditNotes {
                        id: 5,
                        notes: notes.clone(),
                    },
                    _ => unreachable!(),
                })
                .collect();
            let file = PathBuf::from(format!("corpus-{page}-{n}.json"));
            details
                .push(build::detail(&mut session, legacy, Some(file), &Scenario::of(ops)).unwrap());
        }
        let html = html::page(&build::from_replays(details, "sqlite"));
        assert!(
            !html.contains("id=\"details-left-out\""),
            "page {page} shows every input"
        );
        pages.push(html);
    }
    pages
}

/// `rowguard report` on a gate summary whose every text is a payload.
pub fn gate_page(dir: &std::path::Path) -> String {
    let p = payloads();
    let cases: Vec<serde_json::Value> = p
        .chunks(4)
        .enumerate()
        .map(|(i, c)| {
            let at = |k: usize| c[k % c.len()].clone();
            let status = ["passed", "failed", "error"][i % 3];
            serde_json::json!({
                "suite": at(0),
                "name": at(1),
                "status": status,
                "messages": [at(2), at(3)],
                "artifacts": [format!("artifacts/{}", at(1).replace('/', "_"))],
            })
        })
        .collect();
    let summary = serde_json::json!({ "cases": cases, "fuzz": null });
    let path = dir.join("gate.json");
    std::fs::write(&path, serde_json::to_vec(&summary).unwrap()).unwrap();
    let out = rowguard_in(dir, &["report", "gate.json", "-o", "gate.html"]);
    // an error case makes the run "could not check": exit 2 with a page
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    std::fs::read_to_string(dir.join("gate.html")).unwrap()
}

/// How the page shows `s` as text: controls and bidi/zero-width format
/// characters become `\u{..}` markers (see `report::html::escape`).
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control()
                || matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff)
            {
                if c == '\n' || c == '\t' {
                    c.to_string()
                } else {
                    format!("\\u{{{:x}}}", c as u32)
                }
            } else {
                c.to_string()
            }
        })
        .collect()
}

const ELEMENTS: &[&str] = &[
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section", "h1",
    "h2", "h3", "h4", "h5", "p", "span", "div", "b", "dl", "dt", "dd", "table", "thead", "tbody",
    "tr", "th", "td", "a", "code", "pre", "mark", "svg", "line", "polyline", "text",
];
const ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "class",
    "id",
    "href",
    "download",
    "data-table",
    "xmlns",
    "viewbox",
    "viewBox",
    "width",
    "height",
    "role",
    "aria-label",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "points",
    "text-anchor",
];
const CLASSES: &[&str] = &[
    "finding",
    "clean",
    "could-not-check",
    "pipeline",
    "verdict",
    "run",
    "v",
    "findings",
    "finding-row",
    "kind",
    "shape",
    "left-out",
    "dim",
    "op",
    "field",
    "user",
    "stmt",
    "bad",
    "escaped",
    "pair",
    "cap",
    "sql",
    "template",
    "params",
    "error",
    "kind-box",
    "copy",
    "undo",
    "commands",
    "blast",
    "n-cells",
    "counts",
    "radius",
    "radius-row",
    "key",
    "before",
    "after",
    "none",
    "scroll",
    "downloads",
    "gate",
    "gate-row",
    "failed",
    "passed",
    "status",
    "ctl",
    "axis",
    "tick",
    "label",
    "shapes",
    "corpus",
    "out",
    "lit",
    "gone",
    "cut",
];
const IDS: &[&str] = &[
    "run",
    "findings",
    "n-findings",
    "verdict",
    "discovery",
    "discovery-plot",
    "gate",
    "details-left-out",
];

fn is_id(v: &str) -> bool {
    IDS.contains(&v)
        || v.strip_prefix("finding-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_href(v: &str) -> bool {
    let b64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    };
    v.strip_prefix("#finding-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || v.strip_prefix("data:text/csv;base64,").is_some_and(b64)
        || v.strip_prefix("data:application/json;base64,")
            .is_some_and(b64)
        // cells too many to embed: files in `<stem>-cells/` next to the page
        || v.split_once("-cells/finding-").is_some_and(|(stem, file)| {
            let safe = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            safe(stem) && safe(file) && (file.ends_with(".csv") || file.ends_with(".json"))
        })
}

/// The directives of a policy, by name.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter_map(|d| {
            let mut w = d.split_whitespace();
            Some((
                w.next()?.to_ascii_lowercase(),
                w.map(String::from).collect(),
            ))
        })
        .collect()
}

/// Why `page` lets attacker text act, or `Ok` when every payload is inert data.
pub fn check_inert(page: &str, payloads: &[String]) -> Result<(), String> {
    let doc = Html::parse_document(page);
    // the policy: one meta, in the head, before anything but the charset
    let head: Vec<_> = doc
        .root_element()
        .child_elements()
        .find(|e| e.value().name() == "head")
        .ok_or("no head")?
        .child_elements()
        .collect();
    let csp_at = head
        .iter()
        .position(|e| {
            e.value()
                .attr("http-equiv")
                .is_some_and(|h| h.eq_ignore_ascii_case("content-security-policy"))
        })
        .ok_or("no Content-Security-Policy meta in the head")?;
    if head[..csp_at]
        .iter()
        .any(|e| e.value().attr("charset").is_none())
    {
        return Err("the policy comes after other head content".into());
    }
    let policy = directives(head[csp_at].value().attr("content").unwrap_or(""));
    let get = |name: &str| {
        policy
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let scripts = get("script-src").or_else(|| get("default-src"));
    if scripts.as_deref() != Some(&["'none'".to_string()][..]) {
        return Err(format!("script-src is {scripts:?}, not 'none'"));
    }
    if get("base-uri").as_deref() != Some(&["'none'".to_string()][..]) {
        return Err("base-uri is not 'none'".into());
    }
    let mut title = None;
    for node in doc.tree.root().descendants() {
        let v = node.value();
        if v.is_comment() || v.as_processing_instruction().is_some() {
            return Err("a comment or processing instruction".into());
        }
        let Some(e) = v.as_element() else { continue };
        let name = e.name();
        if !ELEMENTS.contains(&name) {
            return Err(format!("element <{name}> is not one the renderer writes"));
        }
        if name == "meta" && e.attr("http-equiv").is_some() && node.id() != head[csp_at].id() {
            return Err("a second http-equiv meta".into());
        }
        if name == "style"
            && node.parent().map(|p| p.id()) != Some(head[csp_at].parent().unwrap().id())
        {
            return Err("a style element outside the head".into());
        }
        if name == "title" {
            if title.is_some() {
                return Err("two titles".into());
            }
            title = Some(
                scraper::ElementRef::wrap(node)
                    .unwrap()
                    .text()
                    .collect::<String>(),
            );
        }
        for (attr, value) in e.attrs() {
            if !ATTRIBUTES.contains(&attr) || attr.starts_with("on") {
                return Err(format!("attribute {attr}={value:?} on <{name}>"));
            }
            let ok = match attr {
                "id" => is_id(value),
                "href" => is_href(value),
                "class" => value
                    .split_ascii_whitespace()
                    .all(|c| CLASSES.contains(&c) || Kind::ALL.iter().any(|k| k.as_str() == c)),
                "download" => value.starts_with("finding-"),
                _ => true,
            };
            if !ok {
                return Err(format!("{attr}={value:?} on <{name}>"));
            }
        }
    }
    let title = title.ok_or("no title")?;
    if !title.starts_with("rowguard ") || title.len() > 200 {
        return Err(format!("title {title:?}"));
    }
    let text: String = doc.root_element().text().collect();
    for p in payloads {
        if !text.contains(&shown(p)) {
            return Err(format!("payload {p:?} is not on the page as text"));
        }
    }
    // the renderer writes well-formed HTML: an error means text became markup
    if !doc.errors.is_empty() {
        return Err(format!(
            "HTML parse errors: {:?}",
            &doc.errors[..doc.errors.len().min(5)]
        ));
    }
    for p in PROBES {
        if page.contains(p) {
            return Err(format!("probe {p:?} is in the page source unescaped"));
        }
    }
    Ok(())
}

#[test]
fn repro_pages_of_corpus_payloads_keep_every_payload_inert() {
    let p = payloads();
    assert!(p.len() > 1_800, "the corpora are there: {} lines", p.len());
    let pages = repro_pages();
    let part = p.len().div_ceil(PAGES);
    for (i, page) in pages.iter().enumerate() {
        let mine: Vec<String> = p.iter().skip(i * part).take(part).cloned().collect();
        check_inert(page, &mine).unwrap_or_else(|e| panic!("page {i}: {e}"));
        // real findings: the payloads broke legacy's literals
        assert!(page.contains("<span class=\"kind write-outside-target\">"));
        assert!(page.contains("class=\"radius-row\""));
    }
    // the synthetic detail's payloads are on the first page too
    check_inert(&pages[0], &p[..20]).unwrap();
}

#[test]
fn gate_page_of_payload_file_names_keeps_every_payload_inert() {
    let dir = tempfile::tempdir().unwrap();
    let page = gate_page(dir.path());
    check_inert(&page, &payloads()).unwrap();
    assert!(page.contains("class=\"gate-row failed\""));
}

#[test]
fn the_checker_fails_an_unescaped_payload_or_a_missing_policy() {
    let p = payloads();
    let page = html::page(&build::from_replays(vec![synthetic_detail(&p)], "sqlite"));
    let shown: Vec<String> = p.iter().take(15).cloned().collect();
    check_inert(&page, &shown).unwrap();
    for probe in PROBES {
        let escaped = escape::text(probe);
        assert!(page.contains(&escaped), "{probe} is on the synthetic page");
        let raw = page.replacen(&escaped, probe, 1);
        let err = check_inert(&raw, &shown).expect_err(probe);
        // markup in the title is text (RCDATA); anywhere else the parse
        // tree itself must show it, not only the source search
        let in_title = page.find(&escaped) < page.find("</title>");
        assert!(
            in_title || !err.starts_with("probe "),
            "{probe}: only the source search saw it: {err}"
        );
    }
    let no_policy = page.replacen("http-equiv=\"Content-Security-Policy\"", "name=\"x\"", 1);
    assert!(check_inert(&no_policy, &shown).is_err());
    let loose = page.replacen("default-src 'none'", "default-src 'self'", 1);
    assert!(check_inert(&loose, &shown).is_err());
}

/// A payload as a file name: no `/` or NUL, at most 200 bytes.
fn file_name(p: &str) -> Option<String> {
    let name: String = p.replace('/', "_");
    (!name.contains('\0')
        && !name.trim().is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200)
        .then_some(name)
}

#[test]
fn a_real_gate_over_files_named_after_payloads_keeps_every_name_inert() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let mut names = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in payloads()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0 || *i < PROBES.len())
    {
        let Some(name) = file_name(p) else { continue };
        if !seen.insert(name.clone()) {
            continue;
        }
        let notes = serde_json::to_string(p).unwrap();
        // passing seeds, lost regressions (FAIL), and unknown pipelines (ERROR)
        let (folder, body) = match i % 3 {
            0 => ("pipeline", format!(r#"{{"rowguard": 1, "expect": [], "ops": [{{"op": "edit-notes", "id": 7, "notes": {notes}}}]}}"#)),
            1 => ("regressions/legacy", r#"{"rowguard": 1, "pipeline": "legacy", "expect": ["write-outside-target"], "ops": [{"op": "edit-notes", "id": 7, "notes": "harmless"}]}"#.to_string()),
            _ => ("pipeline", format!(r#"{{"rowguard": 1, "pipeline": {notes}, "expect": [], "ops": [{{"op": "edit-notes", "id": 7, "notes": "x"}}]}}"#)),
        };
        let path = corpus.join(folder).join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        names.push(name);
    }
    assert!(names.len() > 400, "{} files", names.len());
    let out = rowguard_in(
        dir.path(),
        &[
            "gate",
            "--time",
            "1",
            "--corpus",
            "corpus",
            "--html",
            "gate.html",
            "--json",
            "gate.json",
        ],
    );
    // lost regressions are findings (exit 1 wins over the ERROR cases)
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let page = std::fs::read_to_string(dir.path().join("gate.html")).unwrap();
    check_inert(&page, &names).unwrap();
    for class in ["gate-row error", "gate-row failed", "gate-row passed"] {
        assert!(page.contains(&format!("class=\"{class}\"")), "{class}");
    }
}

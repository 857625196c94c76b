//! The HTML report in a real browser (issue 16 item 4): headless Chromium
//! opens the page, `--dump-dom` gives the DOM after load, and a screenshot
//! lands in `target/browser/` for a person to look at.
//!
//! - the legacy fuzz page: root causes first (issue 25: the number the
//!   header says equals the rows, each links to its shortest reproducer's
//!   detail, which is the first detail), the per-shape findings in a
//!   collapsed `<details>` after them; the number of findings the header
//!   says equals the findings table's rows, the blast-radius rows and the
//!   discovery plot are in the DOM as rendered;
//! - the injection page of `report_injection`: the title is still the
//!   report's, no element any payload would have made exists;
//! - controls, so the checks can fail: a page whose own inline script sets
//!   the title does set it in this browser, and does not once the report's
//!   Content-Security-Policy is added.
//!
//! Chromium is `$ROWGUARD_CHROMIUM`, else the first of `chromium`,
//! `chromium-browser`, `google-chrome` on PATH. When there is none the test
//! says so in one line and passes, except under `CI=true`, where it fails
//! (`.ci/run` installs Debian's `chromium`). Every run has a deadline and
//! its whole process group is killed past it, so a hang cannot block CI.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rowguard::report::html::CSP;
use scraper::{Html, Selector};

use crate::util::{root, rowguard_in};

/// Longest one Chromium run may take.
const DEADLINE: Duration = Duration::from_secs(90);

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The browser, or `None` after saying why (fails under `CI=true`).
fn chromium() -> Option<PathBuf> {
    let found = match std::env::var_os("ROWGUARD_CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)),
        None => ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|n| on_path(n)),
    };
    if found.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true and no Chromium: install Debian's `chromium` (.ci/run does) or set ROWGUARD_CHROMIUM"
        );
        crate::util::skip(
            "no Chromium on PATH (apt-get install chromium, or set ROWGUARD_CHROMIUM)",
        );
    }
    found
}

fn shots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `page` with `args`; its stdout.
fn run(browser: &Path, page: &Path, args: &[String]) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let (out, err) = (scratch.path().join("out"), scratch.path().join("err"));
    let mut child = {
        use std::os::unix::process::CommandExt as _;
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-extensions",
            ])
            .arg(format!(
                "--user-data-dir={}",
                scratch.path().join("profile").display()
            ))
            .args(args)
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            // its own group: a timeout kills the renderer and GPU children too
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", browser.display()))
    };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {DEADLINE:?} on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(status.success(), "chromium {status}: {stderr}");
    std::fs::read_to_string(&out).unwrap()
}

/// The DOM after load.
fn dom(browser: &Path, page: &Path) -> Html {
    let dumped = run(browser, page, &["--dump-dom".into()]);
    assert!(dumped.contains("</html>"), "no DOM dumped: {dumped:.300}");
    Html::parse_document(&dumped)
}

/// Saves a screenshot of `page` as `target/browser/<name>.png`.
fn screenshot(browser: &Path, page: &Path, name: &str) -> PathBuf {
    let png = shots().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    run(
        browser,
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
            "--hide-scrollbars".into(),
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 10_000,
        "an empty screenshot: {} bytes",
        bytes.len()
    );
    png
}

fn count(doc: &Html, css: &str) -> usize {
    doc.select(&Selector::parse(css).unwrap()).count()
}

fn text_of(doc: &Html, css: &str) -> Option<String> {
    doc.select(&Selector::parse(css).unwrap())
        .next()
        .map(|e| e.text().collect())
}

#[test]
fn legacy_fuzz_page_shows_its_findings_blast_radius_and_plot_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = rowguard_in(
        dir.path(),
        &[
            "fuzz",
            "--pipeline",
            "legacy",
            "--runs",
            "100",
            "--seed",
            "1",
            "--html",
            "page.html",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let page = dir.path().join("page.html");
    let source = Html::parse_document(&std::fs::read_to_string(&page).unwrap());
    let doc = dom(&browser, &page);

    let causes: usize = text_of(&doc, "#n-root-causes").unwrap().parse().unwrap();
    assert!(causes > 0, "legacy has root causes");
    assert_eq!(count(&doc, "#root-causes tr.root-cause-row"), causes);
    let sections: Vec<String> = doc
        .select(&Selector::parse("main > section").unwrap())
        .filter_map(|s| s.value().attr("id").map(String::from))
        .collect();
    assert_eq!(sections[1], "root-causes", "root causes lead: {sections:?}");
    let first = doc
        .select(&Selector::parse("tr.root-cause-row a").unwrap())
        .next()
        .and_then(|a| a.value().attr("href"))
        .map(String::from);
    assert_eq!(
        first.as_deref(),
        Some("#finding-0"),
        "its reproducer is the first detail"
    );
    assert!(text_of(&doc, "tr.root-cause-row code.repro").is_some_and(|r| r.contains(" repro ")));
    // the per-shape rows: there, collapsed
    assert!(doc
        .select(&Selector::parse("details#findings-by-shape").unwrap())
        .next()
        .is_some_and(|d| d.value().attr("open").is_none()));
    let n: usize = text_of(&doc, "#n-findings").unwrap().parse().unwrap();
    assert!(n > 0, "legacy has findings");
    assert_eq!(count(&doc, "details#findings-by-shape tr.finding-row"), n);
    assert_eq!(
        count(&doc, "tr.finding-row"),
        n,
        "one table row per finding"
    );
    let radius = count(&doc, "table.radius tr.radius-row");
    assert!(radius > 0, "a blast radius is shown");
    assert_eq!(radius, count(&source, "tr.radius-row"));
    assert!(count(&doc, "section.finding") > 0);
    assert_eq!(count(&doc, "#discovery svg#discovery-plot polyline"), 3);
    assert_eq!(
        text_of(&doc, "title"),
        text_of(&source, "title"),
        "the title is the report's"
    );
    assert_eq!(text_of(&doc, "#verdict").as_deref(), Some("FINDING"));
    // every download is embedded or a file next to the page that is there
    let links: Vec<String> = doc
        .select(&Selector::parse("p.downloads a").unwrap())
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert!(links.iter().any(|h| h.starts_with("data:")), "embedded");
    assert!(
        links.iter().any(|h| h.starts_with("page-cells/")),
        "and files"
    );
    for href in &links {
        if !href.starts_with("data:") {
            let file = dir.path().join(href);
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{href}: {e}"));
            assert!(
                text.starts_with("table,key,column,before,after\n") || text.starts_with("[{"),
                "{href}"
            );
        }
    }
    let png = screenshot(&browser, &page, "legacy");
    println!("screenshot: {}", png.display());
}

#[test]
fn injection_page_runs_no_payload_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();

    // controls: this browser runs an inline script, and the policy stops it
    let script = "<script>document.title='ran';document.body.insertAdjacentHTML('beforeend','<p id=\"pwned\">x</p>')</script>";
    let plain = dir.path().join("control.html");
    std::fs::write(
        &plain,
        format!(
            "<!DOCTYPE html><html><head><title>before</title></head><body>{script}</body></html>"
        ),
    )
    .unwrap();
    let ran = dom(&browser, &plain);
    assert_eq!(text_of(&ran, "title").as_deref(), Some("ran"));
    assert_eq!(count(&ran, "#pwned"), 1);
    let guarded = dir.path().join("control-csp.html");
    std::fs::write(
        &guarded,
        format!(
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
             <title>before</title></head><body>{script}</body></html>"
        ),
    )
    .unwrap();
    let blocked = dom(&browser, &guarded);
    assert_eq!(text_of(&blocked, "title").as_deref(), Some("before"));
    assert_eq!(count(&blocked, "#pwned"), 0);

    let mut pages: Vec<(String, String)> = crate::report_injection::repro_pages()
        .into_iter()
        .enumerate()
        .map(|(i, html)| (format!("injection-{i}"), html))
        .collect();
    pages.push((
        "injection-gate".into(),
        crate::report_injection::gate_page(dir.path()),
    ));
    for (name, html) in pages {
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, &html).unwrap();
        let doc = dom(&browser, &page);
        let source = Html::parse_document(&html);
        let title = text_of(&source, "title").unwrap();
        assert!(title.starts_with("rowguard "), "{title}");
        assert_eq!(text_of(&doc, "title"), Some(title), "{name}: title changed");
        assert_eq!(count(&doc, "#pwned"), 0, "{name}: injected element");
        for tag in [
            "script", "img", "iframe", "base", "math", "object", "embed", "form",
        ] {
            assert_eq!(count(&doc, tag), 0, "{name}: a <{tag}> element");
        }
        assert_eq!(
            count(&doc, "meta[http-equiv]"),
            1,
            "{name}: one http-equiv meta"
        );
        assert_eq!(count(&doc, "style"), 1, "{name}: one style element");
        // the same elements before and after load: nothing was added or removed
        assert_eq!(
            count(&doc, "*"),
            count(&source, "*"),
            "{name}: element count"
        );
        if name == "injection-0" || name == "injection-gate" {
            let png = screenshot(&browser, &page, &name);
            println!("screenshot: {}", png.display());
        }
    }
}

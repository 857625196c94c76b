//! Issue 22: hostile source trees, corpus folders and summaries. Every
//! command that reads a file or walks a folder meets FIFOs, devices,
//! `/proc`, symlink loops, deep nesting and huge harvests with a warning or
//! a one-line exit 2, never a hang, a crash or a read outside what it was
//! given; ordinary big SQL stays clean. Each run is bounded by `timeout`
//! (a guard against hangs, not a timing assertion).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::root;

/// Runs rowguard in `cwd`, killed after 60 s: a hang or a crash fails the test.
fn bounded(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "60", env!("CARGO_BIN_EXE_rowguard")])
        .args(args)
        .current_dir(cwd)
        .env_remove("ROWGUARD_PIPELINE")
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .expect("timeout runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "{args:?}: {err}"
    );
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{args:?}: {out:?}"
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2 and one `rowguard: ` line naming `what`.
fn refused(cwd: &Path, args: &[&str], what: &str) {
    let out = bounded(cwd, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("rowguard: ") && err.contains(what),
        "{args:?}: {err}"
    );
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A folder with one good file and every kind of trap: a FIFO, a link to
/// `/dev/zero`, a link to `/proc/self`, a dangling link, link loops.
fn trapped(dir: &Path, good: (&str, &[u8])) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join(good.0), good.1).unwrap();
    mkfifo(&dir.join(format!("a{}", ext(good.0))));
    symlink("/dev/zero", dir.join(format!("zero{}", ext(good.0)))).unwrap();
    symlink("/proc/self", dir.join("proc")).unwrap();
    symlink("/nonexistent", dir.join(format!("dangling{}", ext(good.0)))).unwrap();
    symlink("..", dir.join("sub/up")).unwrap();
    symlink(dir, dir.join("sub/root")).unwrap();
    symlink(dir.join("sub"), dir.join("sub2")).unwrap();
}

fn ext(name: &str) -> &str {
    name.rfind('.').map_or("", |i| &name[i..])
}

#[test]
fn a_source_folder_of_special_files_and_link_loops_is_harvested_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    trapped(&src, ("ok.rs", b"fn f(s: &str) -> bool { s == \"zebra\" }"));
    let out = bounded(dir.path(), &["dict", "--source", "src"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("compared=\"zebra\""));
    for (name, why) in [
        ("a.rs", "FIFO"),
        ("zero.rs", "character device"),
        ("dangling.rs", "cannot be read"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(line.contains(why) && line.ends_with("skipped"), "{line}");
    }
    // a special file or a pseudo file system named as the source is refused
    for (arg, what) in [
        ("src/a.rs", "FIFO"),
        ("src/zero.rs", "character device"),
        ("/proc/self", "/proc"),
        ("/dev/zero", "character device"),
    ] {
        refused(dir.path(), &["dict", "--source", arg], what);
    }
    refused(
        dir.path(),
        &["fuzz", "--runs", "1", "--source", "/proc/self"],
        "/proc",
    );
}

#[test]
fn corpus_folders_with_link_loops_end_and_special_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus/pipeline");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::copy(
        root().join("corpus/pipeline/obrien.json"),
        corpus.join("obrien.json"),
    )
    .unwrap();
    symlink("..", corpus.join("up")).unwrap();
    symlink(&corpus, corpus.join("self")).unwrap();
    let fuzz = [
        "fuzz",
        "--runs",
        "20",
        "--corpus",
        "corpus",
        "--artifacts",
        "art",
    ];
    let gate = [
        "gate", "--time", "0", "--corpus", "corpus", "--junit", "gate.xml",
    ];
    // loops alone: every command ends, clean
    for args in [&["repro", "corpus"][..], &fuzz, &gate] {
        let out = bounded(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    // a device behind a link and a FIFO: named, never read
    symlink("/dev/zero", corpus.join("zero.json")).unwrap();
    mkfifo(&corpus.join("fifo.json"));
    // repro goes on to the next file: one line per file it could not read
    let out = bounded(dir.path(), &["repro", "corpus"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.contains("fifo.json: is a FIFO") && err.contains("zero.json: is a character device"),
        "{err}"
    );
    refused(dir.path(), &fuzz, "FIFO");
    let out = bounded(dir.path(), &gate);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is a FIFO") && text.contains("character device"),
        "{text}"
    );
    assert!(
        dir.path().join("gate.xml").is_file(),
        "the gate still reports"
    );
    // a link out to the whole file system: the walk's bound ends it, the gate still reports
    let wide = dir.path().join("wide/pipeline");
    std::fs::create_dir_all(&wide).unwrap();
    symlink("/", wide.join("root")).unwrap();
    refused(dir.path(), &["repro", "wide"], "more than");
    let gate = [
        "gate", "--time", "0", "--corpus", "wide", "--junit", "wide.xml",
    ];
    let out = bounded(dir.path(), &gate);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let junit = std::fs::read_to_string(dir.path().join("wide.xml")).unwrap();
    assert!(junit.contains("more than"), "{junit}");
    for args in [
        &["repro", "/proc/self"][..],
        &["fuzz", "--runs", "1", "--corpus", "/proc/self"],
    ] {
        refused(dir.path(), args, "/proc");
    }
}

#[test]
fn source_nested_too_deep_of_any_kind_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("ok.rs"),
        "fn f(s: &str) -> bool { s == \"zebra\" }",
    )
    .unwrap();
    let deep = [
        (
            "parens",
            format!(
                "fn f() {{ x({}1{}) }}",
                "(".repeat(4_000),
                ")".repeat(4_000)
            ),
        ),
        (
            "blocks",
            format!("fn f() {}{}", "{".repeat(50_000), "}".repeat(50_000)),
        ),
        (
            "ifs",
            format!(
                "fn f() {{ {}{} }}",
                "if a { ".repeat(20_000),
                "}".repeat(20_000)
            ),
        ),
        (
            "macros",
            format!(
                "fn f() {{ {}x{}; }}",
                "m!(".repeat(5_000),
                ")".repeat(5_000)
            ),
        ),
        (
            "chain",
            format!("fn f() {{ x = {}1; }}", "1 + ".repeat(500_000)),
        ),
        (
            "unary",
            format!("fn f() {{ x = {}y; }}", "!".repeat(200_000)),
        ),
        (
            "types",
            format!(
                "type T = {}u8{};",
                "Vec<".repeat(20_000),
                ">".repeat(20_000)
            ),
        ),
        (
            "closures",
            format!("fn f() {{ x = {}1; }}", "|| ".repeat(50_000)),
        ),
        (
            "calls",
            format!("fn f() {{ x{}; }}", ".a()".repeat(100_000)),
        ),
        (
            "elseif",
            format!("fn f() {{ if a {{}} {} }}", "else if a {} ".repeat(50_000)),
        ),
    ];
    for (name, text) in &deep {
        std::fs::write(src.join(format!("{name}.rs")), text).unwrap();
    }
    let out = bounded(dir.path(), &["dict", "--source", "src"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for (name, _) in &deep {
        let file = format!("{name}.rs");
        assert!(
            err.lines()
                .any(|l| l.contains(&file) && l.ends_with("skipped")),
            "{file}: {err}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("compared=\"zebra\""));
    // the gate harvests the same folder and still writes its report
    let corpus = dir.path().join("corpus/pipeline");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::copy(
        root().join("corpus/pipeline/obrien.json"),
        corpus.join("obrien.json"),
    )
    .unwrap();
    let gate = [
        "gate", "--time", "0", "--source", "src", "--junit", "gate.xml",
    ];
    let out = bounded(dir.path(), &gate);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("gate.xml").is_file());
}

#[test]
fn a_huge_harvest_is_capped_and_what_was_cut_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for f in 0..3 {
        let words: String = (0..25_000).map(|i| format!("\"w{f}x{i}\", ")).collect();
        std::fs::write(
            src.join(format!("f{f}.rs")),
            format!("const A: &[&str] = &[{words}];"),
        )
        .unwrap();
    }
    let chars = "'a', ".repeat(500_000); // 2.5 MB of char literals
    std::fs::write(
        src.join("chars.rs"),
        format!("const C: &[char] = &[{chars}];"),
    )
    .unwrap();
    let out = bounded(dir.path(), &["dict", "--source", "src", "-o", "words.dict"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("chars.rs") && err.contains("larger than"),
        "{err}"
    );
    assert!(err.contains("words left out"), "{err}");
    let text = std::fs::read(dir.path().join("words.dict")).unwrap();
    let entries = rowguard::tools::dict::format::parse(&text).unwrap();
    let shared = rowguard::harness::scenario::dict::tokens().len();
    assert_eq!(entries.len(), rowguard::tools::dict::MAX_WORDS + shared);
}

/// A saved legacy run in `dir`: `summary.json`, `artifacts/legacy/`, and
/// the artifacts copied next to the summary in `here/`.
fn saved_run(dir: &Path) -> serde_json::Value {
    let out = bounded(
        dir,
        &[
            "fuzz",
            "--pipeline",
            "legacy",
            "--runs",
            "40",
            "--seed",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    std::fs::write(dir.join("summary.json"), &out.stdout).unwrap();
    std::fs::create_dir(dir.join("here")).unwrap();
    std::fs::copy(dir.join("summary.json"), dir.join("here/summary.json")).unwrap();
    for f in std::fs::read_dir(dir.join("artifacts/legacy")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join("here").join(f.file_name())).unwrap();
    }
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn report_reads_artifacts_only_by_name_from_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let summary = saved_run(dir);
    // the summary's own folder, by file name
    let out = bounded(dir, &["report", "here/summary.json", "-o", "page.html"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::fs::remove_file(dir.join("page.html")).unwrap();
    let first = summary["findings"][0]["artifact"]
        .as_str()
        .unwrap()
        .to_string();
    let name = Path::new(&first)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let write = |file: &str, artifact: &str| {
        let mut s = summary.clone();
        s["findings"][0]["artifact"] = artifact.into();
        std::fs::write(dir.join(file), serde_json::to_vec(&s).unwrap()).unwrap();
    };
    write("abs.json", "/etc/passwd");
    write("up.json", "../../../../../../etc/passwd");
    write("dir.json", "/etc/");
    for file in ["abs.json", "up.json", "dir.json"] {
        refused(dir, &["report", file, "-o", "page.html"], "by file name");
        let args = [
            "report",
            file,
            "--artifacts",
            "artifacts/legacy",
            "-o",
            "page.html",
        ];
        refused(dir, &args, "by file name");
    }
    // a link inside the artifacts folder pointing out, even to the real artifact
    std::fs::create_dir(dir.join("links")).unwrap();
    for f in std::fs::read_dir(dir.join("here")).unwrap() {
        let f = f.unwrap();
        if f.file_name() != "summary.json" {
            symlink(f.path(), dir.join("links").join(f.file_name())).unwrap();
        }
    }
    refused(
        dir,
        &["report", "summary.json", "--artifacts", "links"],
        "symbolic link",
    );
    std::fs::remove_file(dir.join("links").join(&name)).unwrap();
    symlink("/etc/passwd", dir.join("links").join(&name)).unwrap();
    refused(
        dir,
        &["report", "summary.json", "--artifacts", "links"],
        "symbolic link",
    );
    // content that is not what the hash in the summary's name says
    let changed = dir.join("here").join(&name);
    let mut bytes = std::fs::read(&changed).unwrap();
    bytes.push(b' ');
    std::fs::write(&changed, bytes).unwrap();
    refused(dir, &["report", "here/summary.json"], "hash");
    std::fs::copy(&changed, dir.join("artifacts/legacy").join(&name)).unwrap();
    refused(
        dir,
        &["report", "summary.json", "--artifacts", "artifacts/legacy"],
        "hash",
    );
    assert!(!dir.join("page.html").exists(), "no page from any of them");
}

#[test]
fn ordinary_big_statements_are_clean_and_hostile_ones_stay_bounded() {
    use rowguard::guard::Kind;
    use rowguard::tools::check::{check, CheckOptions};
    let opts = CheckOptions::default();
    let ids: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let ordinary =
        [
            format!(
                "UPDATE appointments SET notes = 'x' WHERE id = 7 AND id IN ({})",
                ids.join(", ")
            ),
            format!(
                "UPDATE appointments SET notes = {}'x'{} WHERE id = 7",
                "(".repeat(40),
                ")".repeat(40)
            ),
            format!(
            "UPDATE appointments SET notes = 'x' WHERE id = 7 AND (id, client_id) IN (VALUES {})",
            ids.iter().map(|i| format!("({i}, {i})")).collect::<Vec<_>>().join(", ")
        ),
            format!(
                "UPDATE appointments SET notes = CASE {} ELSE notes END WHERE id = 7",
                ids[..2_000]
                    .iter()
                    .map(|i| format!("WHEN client_id = {i} THEN 'n{i}' "))
                    .collect::<String>()
            ),
        ];
    for sql in ordinary {
        let r = check(std::slice::from_ref(&sql), &opts).unwrap();
        let kinds: Vec<Kind> = r
            .statements
            .iter()
            .flat_map(|s| &s.findings)
            .map(|f| f.kind)
            .collect();
        assert!(kinds.is_empty(), "{}: {kinds:?}", &sql[..70]);
    }
    for (sql, limit) in [
        (format!("SELECT 1{}", " + 1".repeat(200_000)), "`tokens`"),
        (
            format!("SELECT 1, ({}1)", "1 * ".repeat(5_000)),
            "`operators`",
        ),
        (
            format!("SELECT {}1{}", "(".repeat(50_000), ")".repeat(50_000)),
            "`nesting`",
        ),
        (
            format!(
                "SELECT {}1{}",
                "CASE WHEN 1 THEN ".repeat(5_000),
                " END".repeat(5_000)
            ),
            "`nesting`",
        ),
        ("SELECT 1;".repeat(100_000), "`statements`"),
    ] {
        let messages = crate::util::limit_messages(&sql);
        assert!(
            messages.iter().any(|m| m.contains(limit)),
            "{limit}: {messages:?}"
        );
    }
}

/// `differential`: a line neither database ran (not UTF-8) is `not-run`
/// with its reason, never unexplained (skipped without a PostgreSQL server,
/// like `tests/postgres.rs`).
#[test]
fn a_line_neither_database_ran_is_not_unexplained() {
    use rowguard::harness::pipeline;
    use rowguard::tools::differential::{compare, Reason};
    let Some(options) = crate::postgres::server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"fine\n\xff\xfe not utf-8\nO'Brien\n").unwrap();
    let safe = pipeline::by_name("safe").unwrap();
    let report = compare(&[safe], &[notes.as_path()], &options, Some(7)).unwrap();
    assert_eq!(report.pipelines[0].lines, 3);
    assert_eq!(report.unexplained(), 0, "{:#?}", report.differences);
    let d = &report.differences;
    assert!(
        d.len() == 1
            && d[0].line == 2
            && matches!(&d[0].reason, Reason::NotRun(why) if !why.is_empty()),
        "{d:#?}"
    );
}

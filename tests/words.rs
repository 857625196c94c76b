//! Words from the code under test: `rowguard dict` harvests the pipeline
//! source (the `wording` word ranked among the compared ones), writes a
//! dictionary libFuzzer's rules accept, rejects bad input with exit 2; the
//! built-in engine finds `wording` from `--source`, and finds a pipeline
//! whose word is chosen at random when the test runs (so no table in the
//! code can know it) from its source alone, within a bounded number of
//! executions.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use rowguard::guard::Kind;
use rowguard::harness::pipeline::{self, Pipeline, Wording};
use rowguard::tools::dict::{self, format, Rank};
use rowguard::tools::engine::{self, Config};

use crate::util::{root, rowguard};

/// The engine on `p` with `d`, bounded by runs, stopping at the first write outside the target.
fn first_write(p: &'static dyn Pipeline, d: dict::Dictionary, seed: u64, runs: u64) -> Option<u64> {
    let mut cfg = Config::new(p);
    cfg.seed = seed;
    cfg.runs = Some(runs);
    cfg.kinds = BTreeSet::from([Kind::WriteOutsideTarget]);
    cfg.stop_on_first = true;
    cfg.dictionary = d;
    let s = engine::run(&cfg, &AtomicBool::new(false)).unwrap();
    s.findings.first().map(|f| f.execs)
}

#[test]
fn dict_ranks_the_wording_word_among_the_compared_and_writes_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("words.dict");
    let run = rowguard(&[
        "dict",
        "--source",
        "src/appointments/pipeline",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read(&out).unwrap();
    let entries = format::parse(&text).unwrap();
    // reference templates (`#` of `linked`), then the compared words
    let first_literal = entries
        .iter()
        .position(|e| !matches!(e.name.as_deref(), Some("reference" | "compared")))
        .unwrap();
    assert_eq!(entries[0].name.as_deref(), Some("reference"));
    let word = entries
        .iter()
        .position(|e| e.value == b"telehealth")
        .expect("the word is harvested");
    assert!(word < first_literal, "ranked after a literal");
    assert_eq!(entries[word].name.as_deref(), Some("compared"));
    // merged with the shared token dictionary
    for t in rowguard::harness::scenario::dict::tokens() {
        assert!(entries.iter().any(|e| e.value == t.as_bytes()), "{t:?}");
    }
    // and read back by the engine with its ranks
    let d = dict::Dictionary::load(&out).unwrap();
    assert!(d.ranked(Rank::Compared).any(|w| w.bytes == b"telehealth"));
}

#[test]
fn bad_input_is_one_line_and_exit_2_and_broken_rust_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(p("bin.rs"), b"fn f() {}\0\xff\xfe").unwrap();
    std::fs::write(p("bad.dict"), "\"ok\"\n\"caf\u{e9}\"\n").unwrap();
    std::fs::create_dir(p("src")).unwrap();
    std::fs::write(p("src/broken.rs"), "fn (").unwrap();
    std::fs::write(p("src/good.rs"), "fn f(s: &str) -> bool { s == \"zebra\" }").unwrap();
    for args in [
        vec!["dict", "--source", "no/such/path"],
        vec!["dict", "--source", &p("bin.rs")],
        vec!["fuzz", "--runs", "1", "--dict", &p("bad.dict")],
        vec!["fuzz", "--runs", "1", "--dict", "no/such.dict"],
        vec!["fuzz", "--runs", "1", "--source", &p("bin.rs")],
    ] {
        let out = rowguard(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("rowguard: "), "{args:?}: {err}");
    }
    let out = rowguard(&["dict", "--source", &p("src")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("broken.rs") && err.contains("skipped"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("compared=\"zebra\""));
}

#[test]
fn the_engine_finds_wording_from_the_pipeline_source() {
    let d = dict::harvest_sources(&[root().join("src/appointments/pipeline")])
        .unwrap()
        .dictionary;
    let wording = pipeline::by_name("wording").unwrap();
    for seed in 1..=3 {
        assert!(
            first_write(wording, d.clone(), seed, 20_000).is_some(),
            "seed {seed}"
        );
    }
}

/// A lower-case word nobody could have written into a table: drawn from the
/// clock and the process id when the test runs, and in no shared token.
fn random_word() -> String {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ u64::from(std::process::id()).rotate_left(32);
    loop {
        let len = 6 + (x % 5) as usize;
        let word: String = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        if !rowguard::harness::scenario::dict::tokens()
            .iter()
            .any(|t| t.to_lowercase().contains(&word))
        {
            return word;
        }
    }
}

#[test]
fn a_word_chosen_at_random_is_found_from_the_source_alone() {
    let word = random_word();
    let source = std::fs::read_to_string(root().join("src/appointments/pipeline/wording.rs"))
        .unwrap()
        .replace("telehealth", &word);
    assert!(source.contains(&format!("\"{word}\"")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("video_visit.rs"), source).unwrap();
    let d = dict::harvest_sources(&[dir.path().to_path_buf()])
        .unwrap()
        .dictionary;
    assert!(
        d.ranked(Rank::Compared).any(|w| w.bytes == word.as_bytes()),
        "{word} not ranked compared"
    );
    let p: &'static Wording = Box::leak(Box::new(Wording::new(Box::leak(
        word.clone().into_boxed_str(),
    ))));
    let found = first_write(
        rowguard::harness::appointments::with_variant(p),
        d,
        1,
        20_000,
    );
    assert!(found.is_some(), "{word} not found in 20000 executions");
}

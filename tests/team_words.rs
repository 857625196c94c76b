//! A team's binary speaks its own name and domain (issue 41): every
//! `--help` of `examples/invoices.rs` names nothing of the built-in
//! appointments domain and says the binary's own name where a command is
//! named; the harness's declared source folders resolve in its own crate,
//! so the gate harvests them from any folder, and a declared folder that is
//! missing is an error, never a pass on no words.

use std::path::Path;

use rowguard::guard::{Db, DbError, Policy};
use rowguard::harness::domain::{register, Fixture, Harness, Version};

use crate::own_harness::invoices;

/// Words of the appointments domain a team's `--help` must not say.
const FOREIGN: [&str; 5] = ["reschedul", "appointment", "notes", "clinic", "edit-notes"];

/// Where "rowguard" is a name of its own and not the binary's: the flag
/// `--database-owned-by-rowguard`, the variables `ROWGUARD_*` (upper case,
/// not matched), and the built-in engine's labels in `bench detect`.
const ROWGUARD_NAMES: [&str; 3] = [
    "database-owned-by-rowguard",
    "libfuzzer+rowguard",
    "rowguard+dict",
];

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

fn help_of(cwd: &Path, path: &[String]) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let o = invoices(cwd, &args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {o:?}");
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn every_help_of_a_teams_binary_speaks_its_own_domain() {
    let dir = tempfile::tempdir().unwrap();
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let help = help_of(dir.path(), &path);
        seen += 1;
        let lower = help.to_lowercase();
        for word in FOREIGN {
            assert!(
                !lower.contains(word),
                "`invoices {} --help` says {word:?}:\n{help}",
                path.join(" ")
            );
        }
        let mut own = help.clone();
        for name in ROWGUARD_NAMES {
            own = own.replace(name, "");
        }
        assert!(
            !own.contains("rowguard"),
            "`invoices {} --help` says rowguard where the binary's name belongs:\n{help}",
            path.join(" ")
        );
        assert!(help.contains("invoices"), "{help}");
        for placeholder in ["{bin}", "{harness}", "{op}"] {
            assert!(
                !help.contains(placeholder),
                "{placeholder} left in:\n{help}"
            );
        }
        assert!(
            help.contains("Exit codes: 0 "),
            "no exit codes in {path:?}:\n{help}"
        );
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            pending.push(next);
        }
    }
    // the top level, its thirteen commands and bench's six
    assert_eq!(seen, 1 + 13 + 6);
    // the harness's own terms: its name and its example operation
    let check = help_of(dir.path(), &["check".into()]);
    assert!(
        check.contains("invoices fixture") && check.contains("`edit-memo`"),
        "{check}"
    );
    let gate = help_of(dir.path(), &["gate".into()]);
    assert!(gate.contains("what `invoices report` reads"), "{gate}");
}

/// Started in a folder outside the project, the gate still finds the
/// harness's own source folder (`rowguard::sources!`, in the example's
/// crate): its words are in the summary.
#[test]
fn the_gate_harvests_the_harness_sources_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let o = invoices(
        dir.path(),
        &["gate", "--time", "1", "--seed", "1", "--json", "gate.json"],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("fuzzed safe: "), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("gate.json")).unwrap())
            .unwrap();
    let words = v["fuzz"]["dictionary"].as_u64().unwrap();
    assert!(words > 0, "no words harvested from another folder: {v}");
}

/// A team's binary whose harness declares a folder that does not exist:
/// its gate stops with one line naming the folder and exit 2 (before any
/// replay or fuzzing), and writes no report that could read as a pass.
#[test]
fn the_gate_fails_closed_when_a_declared_source_folder_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let o = std::process::Command::new(crate::util::example_bin("missing_sources"))
        .args([
            "gate",
            "--time",
            "1",
            "--junit",
            "gate.xml",
            "--json",
            "gate.json",
        ])
        .current_dir(dir.path())
        .env_remove("ROWGUARD_PIPELINE")
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("missing_sources: ")
            && err.contains("no-such-folder")
            && err.contains("gone harness"),
        "{err}"
    );
    assert!(!dir.path().join("gate.xml").exists() && !dir.path().join("gate.json").exists());
    // given --source, the same binary gates
    let src = crate::util::root().join("tests/bins");
    let o = std::process::Command::new(crate::util::example_bin("missing_sources"))
        .args(["gate", "--time", "1", "--source"])
        .arg(&src)
        .current_dir(dir.path())
        .env_remove("ROWGUARD_PIPELINE")
        .env_remove("ROWGUARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, arbitrary::Arbitrary)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Touch {
    Touch { id: i64 },
}

/// A harness whose declared source folder does not exist.
struct Gone;

impl Harness for Gone {
    type Op = Touch;
    fn name(&self) -> &'static str {
        "gone"
    }
    fn fixture(&self) -> Fixture {
        Fixture::sql("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
    }
    fn policy(&self, _op: &Touch, _db: &mut dyn Db) -> Result<Policy, DbError> {
        Ok(Policy::new("t", "id").key(1))
    }
    fn versions(&self) -> Vec<Version<Touch>> {
        vec![Version::new("safe", |_: &Touch, _: &mut dyn Db| Ok(()))]
    }
    fn example(&self) -> Touch {
        Touch::Touch { id: 1 }
    }
    fn sources(&self) -> &'static [&'static str] {
        &["/nonexistent/rowguard-test/src"]
    }
}

/// A declared folder that is missing is an error of one line naming it
/// (the gate and `bench detect` exit 2 with it), never an empty harvest.
#[test]
fn a_missing_declared_source_folder_is_an_error() {
    let e = rowguard::cli::default_sources(register(Gone)).unwrap_err();
    let line = rowguard::cli::error_line(&e);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.contains("/nonexistent/rowguard-test/src") && line.contains("gone harness"),
        "{line}"
    );
}

/// `rowguard::sources!` makes each folder absolute in the crate that
/// writes it: the example's is this checkout's `examples/`.
#[test]
fn sources_macro_resolves_in_the_writing_crate() {
    let dirs: &'static [&'static str] = rowguard::sources!["examples", "src"];
    assert_eq!(
        Path::new(dirs[0]),
        crate::util::root().join("examples").as_path()
    );
    assert!(dirs.iter().all(|d| Path::new(d).is_dir()));
}

/// `gate --pipeline NAME` says what it fuzzed, and its text is one block
/// per root cause (`--verbose`: every finding); the JSON summary names the
/// version gated (an added field).
#[test]
fn the_gate_text_is_bounded_and_names_what_it_fuzzed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let run = |verbose: bool| {
        let mut args = vec![
            "gate",
            "--pipeline",
            "memo-concat",
            "--time",
            "8",
            "--seed",
            "1",
            "--json",
            "gate.json",
        ];
        if verbose {
            args.push("--verbose");
        }
        let o = invoices(dir.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run(false);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("gate.json")).unwrap())
            .unwrap();
    assert_eq!(v["pipeline"], "memo-concat", "{v}");
    let causes = v["root_causes"].as_array().unwrap().len();
    let findings = v["fuzz"]["findings"].as_array().unwrap().len();
    assert!(causes >= 1 && findings > causes, "{v}");
    // ROOT + reproduce per cause, the fuzz case, fuzzed ..., the verdict
    assert_eq!(text.lines().count(), 2 * causes + 3, "{text}");
    assert!(text.contains("\nfuzzed memo-concat: "), "{text}");
    assert!(
        text.contains("FAIL   fuzz memo-concat (seed 1, 8 s): "),
        "{text}"
    );
    assert!(!text.contains("fuzzed safe"), "{text}");
    assert!(text.ends_with("gate: FAILED (finding)\n"), "{text}");
    let verbose = run(true);
    assert!(
        verbose.lines().count() > text.lines().count() + findings,
        "{verbose}"
    );
}

/// `fuzz`'s text is one block per root cause and a line of counts by kind;
/// `--verbose` lists every distinct finding.
#[test]
fn the_fuzz_text_is_one_block_per_root_cause() {
    let dir = tempfile::tempdir().unwrap();
    let source = crate::util::root().join("examples/invoices.rs");
    let run = |verbose: bool| {
        let mut args = vec![
            "fuzz",
            "--pipeline",
            "memo-concat",
            "--runs",
            "3000",
            "--seed",
            "1",
            "--minimize-time",
            "0",
            "--artifacts",
            "a",
            "--source",
            source.to_str().unwrap(),
        ];
        if verbose {
            args.push("--verbose");
        }
        let o = invoices(dir.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run(false);
    let causes = text
        .lines()
        .filter(|l| l.starts_with("root cause "))
        .count();
    assert_eq!(causes, 1, "{text}");
    // the run, the count, per cause its line, its sites and its command, the kinds
    assert_eq!(text.lines().count(), 2 + 3 * causes + 1, "{text}");
    // the hint runs as printed, from where the command ran, though the
    // binary is on no PATH (it is started by its path, as `cargo run` does)
    let hint = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .expect("a reproduce hint");
    assert!(hint.contains(" repro "), "{hint}");
    let replay = std::process::Command::new("bash")
        .args(["-c", hint])
        .current_dir(dir.path())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(1), "{hint}: {replay:?}");
    let verbose = run(true);
    assert!(verbose.contains("    shape: "), "{verbose}");
    assert!(verbose.lines().count() > text.lines().count(), "{verbose}");
}

//! `rowguard bench instructions`: instruction counts of the in-process hot
//! paths, which do not move with the machine's load, and the regression gate
//! that compares them with a committed baseline.
//!
//! The paths: `clean` (one input of the `safe` workload checked, as
//! `bench throughput` runs it), `raw` (the statements those inputs sent,
//! replayed on a plain connection as `bench throughput`'s raw side does,
//! per input: `clean / raw` is the instruction ratio beside the wall-clock
//! one), `finding` (the first workload input `legacy`
//! writes outside its target on, checked) and `tripwire` (one SQLite
//! tripwire operation, the harness's example, as `bench tripwire` runs it;
//! ten a repetition). Each is set up and warmed once, then run `repeat`
//! times inside
//! [`probe`]; Valgrind's callgrind counts only inside it
//! (`--collect-atstart=no --toggle-collect=`), so fixture building and the
//! interpreter's start are not in the figure. The parent process runs one
//! callgrind child per path (`bench instructions --inner PATH`) and reads the
//! `totals:` line of its output.
//!
//! The gate ([`compare`]): a path fails when its count per operation rises
//! beyond the baseline's margin; a fall beyond it is reported (move the
//! baseline down in a commit that says why) but passes.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::throughput;
use super::tripwire::SqliteSide;
use super::workload;
use crate::harness::domain::Domain;
use crate::harness::execute::{execute, Session};
use crate::harness::scenario::Scenario;

/// The paths, in the order they are measured.
pub const PATHS: [&str; 4] = ["clean", "raw", "finding", "tripwire"];

/// Clean inputs per repetition of the `clean` path (the workload's first ones).
const CLEAN_INPUTS: usize = 20;

/// Counted only while this runs (callgrind's `--toggle-collect` names it).
#[inline(never)]
pub fn probe<T>(f: impl FnOnce() -> T) -> T {
    std::hint::black_box(f())
}

/// The symbol pattern callgrind toggles collection on.
const PROBE_SYMBOL: &str = "*bench::instructions::probe*";

/// Sets `path` up, warms it, then runs it `repeat` times inside [`probe`].
/// Returns the operations run (what a count is divided by).
pub fn inner(harness: &'static dyn Domain, path: &str, repeat: usize) -> crate::Result<usize> {
    let repeat = repeat.max(1);
    match path {
        "clean" => {
            let safe = harness.safe()?;
            let work = workload(harness, 1, CLEAN_INPUTS);
            let mut session = Session::open(harness, None)?;
            let round = |session: &mut Session| -> crate::Result<()> {
                for s in &work {
                    execute(session, safe, s)?;
                }
                Ok(())
            };
            round(&mut session)?;
            probe(|| (0..repeat).try_for_each(|_| round(&mut session)))?;
            Ok(repeat * work.len())
        }
        "raw" => {
            let safe = harness.safe()?;
            let work = workload(harness, 1, CLEAN_INPUTS);
            let mut session = Session::open(harness, None)?;
            let statements = throughput::checked_round(&mut session, safe, &work)?;
            let mut conn = throughput::plain_fixture(harness)?;
            throughput::raw_round(&mut conn, &statements, false)?;
            probe(|| {
                (0..repeat).try_for_each(|_| {
                    throughput::raw_round(&mut conn, &statements, false).map(|_| ())
                })
            })?;
            Ok(repeat * work.len())
        }
        "finding" => {
            let legacy = harness
                .pipelines()
                .iter()
                .copied()
                .find(|p| p.name() != harness.safe().map(|s| s.name()).unwrap_or(""))
                .ok_or_else(|| crate::Error::Usage("the harness has no planted pipeline".into()))?;
            let legacy = harness.pipeline("legacy").unwrap_or(legacy);
            let mut session = Session::open(harness, None)?;
            let input = first_finding(&mut session, legacy, &workload(harness, 1, 500))?;
            execute(&mut session, legacy, &input)?;
            probe(|| {
                (0..repeat).try_for_each(|_| execute(&mut session, legacy, &input).map(|_| ()))
            })?;
            Ok(repeat)
        }
        "tripwire" => {
            let mut side = SqliteSide::open(harness, 240)?;
            for i in 0..240 {
                side.run(i)?;
            }
            // ten operations a repetition: the update moves over the target rows
            let n = repeat * 10;
            probe(|| (0..n).try_for_each(|i| side.run(i)))?;
            Ok(n)
        }
        other => Err(crate::Error::Usage(format!(
            "no hot path `{other}` (one of {})",
            PATHS.join(", ")
        ))),
    }
}

fn first_finding(
    session: &mut Session,
    p: &dyn crate::harness::domain::Pipeline,
    work: &[Scenario],
) -> crate::Result<Scenario> {
    for s in work {
        if !execute(session, p, s)?.is_clean() {
            return Ok(s.clone());
        }
    }
    Err(crate::Error::Usage(format!(
        "no finding for `{}` in the first {} workload inputs",
        p.name(),
        work.len()
    )))
}

/// One path's count.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Count {
    /// Instructions per operation (input or tripwire operation).
    pub instructions: f64,
    /// Operations counted.
    pub operations: usize,
}

/// The committed baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// The largest rise over `paths` that passes, as a fraction (0.03 = 3%).
    pub margin: f64,
    /// Why the margin is what it is, and why the counts last moved.
    pub why: String,
    pub paths: BTreeMap<String, Count>,
}

/// A path's count against the baseline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub path: String,
    pub baseline: f64,
    pub measured: f64,
    /// measured / baseline - 1.
    pub change: f64,
    /// `rise` (beyond the margin: fails), `fall` (beyond it: passes, move
    /// the baseline down) or `within`; `missing` when one side lacks it (fails).
    pub status: &'static str,
}

/// Every path of the baseline and of `measured`, compared.
pub fn compare(baseline: &Baseline, measured: &BTreeMap<String, Count>) -> Vec<Verdict> {
    let mut names: Vec<&String> = baseline.paths.keys().chain(measured.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let (b, m) = (
                baseline.paths.get(name).map(|c| c.instructions),
                measured.get(name).map(|c| c.instructions),
            );
            let (b0, m0) = (b.unwrap_or(0.0), m.unwrap_or(0.0));
            let change = if b0 > 0.0 { m0 / b0 - 1.0 } else { 0.0 };
            let status = match (b, m) {
                (Some(_), Some(_)) if change > baseline.margin => "rise",
                (Some(_), Some(_)) if change < -baseline.margin => "fall",
                (Some(_), Some(_)) => "within",
                _ => "missing",
            };
            Verdict {
                path: name.clone(),
                baseline: b0,
                measured: m0,
                change,
                status,
            }
        })
        .collect()
}

/// Whether the gate passes on `verdicts`.
pub fn passes(verdicts: &[Verdict]) -> bool {
    verdicts
        .iter()
        .all(|v| v.status == "within" || v.status == "fall")
}

/// The `totals:` (or `summary:`) count of a callgrind output file.
pub fn callgrind_total(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("totals:"))
        .or_else(|| text.lines().find(|l| l.starts_with("summary:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `paths` each under callgrind in a child of `exe` and returns their counts.
pub fn measure(
    exe: &FsPath,
    harness_args: &[String],
    paths: &[String],
    repeat: usize,
) -> crate::Result<BTreeMap<String, Count>> {
    let dir = std::env::temp_dir().join(format!("rowguard-bench-callgrind-{}", std::process::id()));
    let io = |e: std::io::Error| crate::Error::Usage(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let result = (|| {
        let mut out = BTreeMap::new();
        for path in paths {
            let file = dir.join(format!("{path}.out"));
            let output = Command::new("valgrind")
                .arg("--tool=callgrind")
                .arg("--collect-atstart=no")
                .arg(format!("--toggle-collect={PROBE_SYMBOL}"))
                .arg(format!("--callgrind-out-file={}", file.display()))
                .arg(exe)
                .args(harness_args)
                .args(["bench", "instructions", "--inner", path])
                .arg(format!("--repeat={repeat}"))
                .output()
                .map_err(|e| {
                    crate::Error::Usage(format!(
                        "valgrind could not start ({e}): install it (Debian: apt-get install valgrind)"
                    ))
                })?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
                return Err(crate::Error::Usage(format!(
                    "callgrind run of `{path}` failed ({}): {}",
                    output.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            let operations: usize = stdout
                .lines()
                .find_map(|l| l.strip_prefix("operations: "))
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| crate::Error::Usage(format!("`{path}`: no operation count")))?;
            let text = std::fs::read_to_string(&file).map_err(io)?;
            let total = callgrind_total(&text).ok_or_else(|| {
                crate::Error::Usage(format!("`{path}`: no totals in {}", file.display()))
            })?;
            if total == 0 {
                return Err(crate::Error::Usage(format!(
                    "`{path}`: callgrind counted nothing inside {PROBE_SYMBOL} (symbol not found?)"
                )));
            }
            out.insert(
                path.clone(),
                Count {
                    instructions: total as f64 / operations.max(1) as f64,
                    operations,
                },
            );
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(margin: f64, paths: &[(&str, f64)]) -> Baseline {
        Baseline {
            margin,
            why: String::new(),
            paths: paths
                .iter()
                .map(|(p, i)| {
                    (
                        p.to_string(),
                        Count {
                            instructions: *i,
                            operations: 1,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_gate_fails_on_a_rise_beyond_the_margin_only() {
        let b = baseline(
            0.03,
            &[("clean", 1000.0), ("finding", 2000.0), ("tripwire", 500.0)],
        );
        let m = baseline(
            0.0,
            &[("clean", 1029.0), ("finding", 1900.0), ("tripwire", 500.0)],
        )
        .paths;
        let v = compare(&b, &m);
        let status: Vec<&str> = v.iter().map(|v| v.status).collect();
        assert_eq!(status, ["within", "fall", "within"]);
        assert!(passes(&v), "a fall passes");
        let m = baseline(
            0.0,
            &[("clean", 1031.0), ("finding", 2000.0), ("tripwire", 500.0)],
        )
        .paths;
        let v = compare(&b, &m);
        assert_eq!(v[0].status, "rise");
        assert!((v[0].change - 0.031).abs() < 1e-9);
        assert!(!passes(&v));
    }

    #[test]
    fn a_path_on_one_side_only_fails() {
        let b = baseline(0.03, &[("clean", 1000.0)]);
        let m = baseline(0.0, &[("clean", 1000.0), ("tripwire", 10.0)]).paths;
        let v = compare(&b, &m);
        assert_eq!(
            v.iter().map(|v| v.status).collect::<Vec<_>>(),
            ["within", "missing"]
        );
        assert!(!passes(&v));
        assert!(!passes(&compare(&b, &BTreeMap::new())));
    }

    #[test]
    fn callgrind_totals_are_read() {
        let text = "version: 1\ncmd: x\nevents: Ir\nfn=(1) main\n3 4\nsummary: 9\ntotals: 123456\n";
        assert_eq!(callgrind_total(text), Some(123456));
        assert_eq!(callgrind_total("summary: 77\n"), Some(77));
        assert_eq!(callgrind_total("events: Ir\n"), None);
    }

    #[test]
    fn the_committed_baseline_reads_and_names_every_path() {
        let text = include_str!("../../../.ci/cost-baseline.json");
        let b: Baseline = serde_json::from_str(text).expect("baseline JSON");
        assert!(b.margin > 0.0 && b.margin < 0.2, "margin {}", b.margin);
        assert!(!b.why.is_empty());
        let names: Vec<&str> = b.paths.keys().map(String::as_str).collect();
        let mut want = PATHS.to_vec();
        want.sort();
        assert_eq!(names, want);
    }
}

//! Time and executions to the first `write-outside-target` on each planted
//! pipeline, over several seeds, one job, for every engine measured in the
//! same run: the built-in engine with its SQL-shape feedback (`rowguard`),
//! the same generator with feedback off (`random`), given words harvested
//! from the pipeline source the built-in engine with them (`rowguard+dict`),
//! and, when the cargo-fuzz binaries are given, plain libFuzzer
//! (`libfuzzer`: the `pipeline_plain` target) and libFuzzer with rowguard's
//! mutator and the harvested dictionary with the fixture's words, keys and
//! their compositions (`libfuzzer+rowguard`: the `pipeline` target,
//! `-dict=`; see [`libfuzzer`]). A seed not found within the budget counts as
//! infinite: a median or max that is infinite is reported as `null` ("not
//! found"), never omitted. Each row also gives the CPU seconds of a seed's
//! run over seeds ([`super::cost`]).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;

use super::cost::{measure, Scope, Server, Spread};
use super::libfuzzer;
use crate::guard::postgres::PgOptions;
use crate::guard::Kind;
use crate::harness::domain::{Domain, Pipeline};
use crate::tools::engine::{self, Config};

/// One pipeline × engine row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub pipeline: String,
    pub engine: String,
    pub seeds: usize,
    /// Seeds that found it within the budget.
    pub found: usize,
    pub median_s: Option<f64>,
    pub max_s: Option<f64>,
    pub median_execs: Option<u64>,
    /// Executions per second over all seeds' runs.
    pub execs_per_s: f64,
    /// CPU seconds of one seed's run (min, median, max over seeds): the
    /// process for the built-in engines, the libFuzzer child for cargo-fuzz.
    pub cpu_s: Spread,
    /// Executions per CPU second over all seeds' runs.
    pub execs_per_cpu_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Detect {
    /// `sqlite`, or `postgres` with `--database` (the built-in engines on the server).
    pub database: &'static str,
    pub results: Vec<Row>,
    pub budget_s: f64,
    /// The exact cargo-fuzz command line, when that engine ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cargo_fuzz_command: Option<String>,
}

/// A seed's outcome: time and execs to the first finding (None = not
/// found), execs, seconds run, CPU seconds.
type Outcome = (Option<(f64, u64)>, u64, f64, f64);

fn builtin(
    p: &'static dyn Pipeline,
    seed: u64,
    budget: Duration,
    feedback: bool,
    dictionary: &crate::tools::dict::Dictionary,
    database: Option<&PgOptions>,
) -> crate::Result<Outcome> {
    let mut cfg = Config::new(p);
    cfg.database = database.cloned();
    cfg.dictionary = dictionary.clone();
    cfg.seed = seed;
    cfg.jobs = 1;
    cfg.time = Some(budget);
    cfg.kinds = BTreeSet::from([Kind::WriteOutsideTarget]);
    cfg.feedback = feedback;
    cfg.stop_on_first = true;
    cfg.save_corpus = false;
    let (s, cost) = measure(Scope::Process, &Server::None, || {
        engine::run(&cfg, &AtomicBool::new(false))
    });
    let s = s?;
    let first = s
        .findings
        .iter()
        .filter(|f| f.kind == Kind::WriteOutsideTarget)
        .map(|f| (f.elapsed_s, f.execs))
        .next();
    Ok((first, s.execs, s.elapsed_s, cost.cpu.as_secs_f64()))
}

fn row(pipeline: &str, engine: &str, outcomes: &[Outcome]) -> Row {
    // None sorts last: a seed not found is infinite.
    let mut times: Vec<Option<(f64, u64)>> = outcomes.iter().map(|o| o.0).collect();
    times.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => x.0.total_cmp(&y.0),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut execs: Vec<Option<u64>> = outcomes.iter().map(|o| o.0.map(|f| f.1)).collect();
    execs.sort_by_key(|e| e.unwrap_or(u64::MAX));
    let mid = times.len() / 2;
    let (total_execs, total_s) = outcomes
        .iter()
        .fold((0u64, 0f64), |a, o| (a.0 + o.1, a.1 + o.2));
    let cpu: Vec<f64> = outcomes.iter().map(|o| o.3).collect();
    let total_cpu: f64 = cpu.iter().sum();
    Row {
        pipeline: pipeline.to_string(),
        engine: engine.to_string(),
        seeds: outcomes.len(),
        found: times.iter().filter(|t| t.is_some()).count(),
        median_s: times.get(mid).copied().flatten().map(|t| t.0),
        max_s: if times.iter().all(Option::is_some) {
            times.last().copied().flatten().map(|t| t.0)
        } else {
            None
        },
        median_execs: execs.get(mid).copied().flatten(),
        execs_per_s: if total_s > 0.0 {
            total_execs as f64 / total_s
        } else {
            0.0
        },
        cpu_s: Spread::of(&cpu),
        execs_per_cpu_s: if total_cpu > 0.0 {
            total_execs as f64 / total_cpu
        } else {
            0.0
        },
    }
}

/// Runs the benchmark on `pipelines` (default: every planted one); with a
/// non-empty `dictionary` (words harvested from the pipeline source) a
/// fourth engine, `rowguard+dict`, is the built-in engine using it.
pub fn run(
    harness: &'static dyn Domain,
    pipelines: &[String],
    seeds: u64,
    budget: Duration,
    cargo_fuzz: Option<PathBuf>,
    dictionary: &crate::tools::dict::Dictionary,
    database: Option<&PgOptions>,
) -> crate::Result<Detect> {
    if database.is_some() && cargo_fuzz.is_some() {
        return Err(crate::Error::Usage(
            "--cargo-fuzz runs on SQLite only: leave out --database to measure it".into(),
        ));
    }
    let here = database.map_or("sqlite", |d| {
        crate::guard::BackendKind::of_url(&d.url).as_str()
    });
    let names: Vec<String> = if pipelines.is_empty() {
        // every version but the first (the correct one)
        harness.pipelines()[1.min(harness.pipelines().len())..]
            .iter()
            .filter(|p| p.databases().is_empty() || p.databases().contains(&here))
            .map(|p| p.name().to_string())
            .collect()
    } else {
        pipelines.to_vec()
    };
    // libFuzzer's `-dict=` file: the harvested words and the shared tokens
    let dict_file = match &cargo_fuzz {
        Some(_) => Some(write_dict(&dictionary.clone().with_fixture(harness))?),
        None => None,
    };
    let mut results = Vec::new();
    for name in &names {
        let p = harness.pipeline(name)?;
        let none = crate::tools::dict::Dictionary::default();
        let mut engines = vec![("rowguard", true, &none), ("random", false, &none)];
        if !dictionary.is_empty() {
            engines.push(("rowguard+dict", true, dictionary));
        }
        for (engine, feedback, words) in engines {
            let outcomes = (1..=seeds.max(1))
                .map(|seed| builtin(p, seed, budget, feedback, words, database))
                .collect::<crate::Result<Vec<_>>>()?;
            results.push(row(name, engine, &outcomes));
        }
        if let Some(bin) = &cargo_fuzz {
            let plain = bin.with_file_name("pipeline_plain");
            let mut columns = Vec::new();
            if plain.is_file() {
                columns.push(("libfuzzer", plain, None));
            }
            columns.push(("libfuzzer+rowguard", bin.clone(), dict_file.as_deref()));
            for (engine, binary, dict) in columns {
                let mut outcomes = Vec::new();
                for seed in 1..=seeds.max(1) {
                    let (r, cost) = measure(Scope::Children, &Server::None, || {
                        libfuzzer::run(&binary, name, seed, budget.as_secs().max(1), dict)
                    });
                    let r = r?;
                    let ran = r.found_after_s.unwrap_or(budget.as_secs_f64());
                    outcomes.push((
                        r.found_after_s.map(|t| (t, r.execs)),
                        r.execs,
                        ran,
                        cost.cpu.as_secs_f64(),
                    ));
                }
                results.push(row(name, engine, &outcomes));
            }
        }
    }
    Ok(Detect {
        database: here,
        results,
        budget_s: budget.as_secs_f64(),
        cargo_fuzz_command: cargo_fuzz.map(|b| {
            libfuzzer::command_line(
                &b,
                "<pipeline>",
                1,
                budget.as_secs().max(1),
                dict_file.as_deref(),
            )
        }),
    })
}

/// Writes `dictionary` (with the shared tokens) where libFuzzer can read it.
fn write_dict(dictionary: &crate::tools::dict::Dictionary) -> crate::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("rowguard-detect-{}.dict", std::process::id()));
    let text = dictionary.to_libfuzzer(
        "rowguard bench detect: harvested words, the fixture's words, keys and compositions + fuzz/rowguard.dict",
    );
    std::fs::write(&path, text).map_err(|e| crate::Error::io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_not_found_counts_as_infinite() {
        let found = |t: f64, e: u64| (Some((t, e)), e, t, t / 2.0);
        let missed = (None, 100, 5.0, 2.5);
        let r = row("x", "rowguard", &[found(1.0, 10), missed, found(2.0, 20)]);
        assert_eq!(
            (r.found, r.median_s, r.max_s, r.median_execs),
            (2, Some(2.0), None, Some(20))
        );
        let r = row("x", "random", &[missed, missed, found(2.0, 20)]);
        assert_eq!((r.found, r.median_s, r.median_execs), (1, None, None));
        let r = row(
            "x",
            "rowguard",
            &[found(3.0, 30), found(1.0, 10), found(2.0, 20)],
        );
        assert_eq!(
            (r.median_s, r.max_s, r.median_execs),
            (Some(2.0), Some(3.0), Some(20))
        );
        assert_eq!((r.cpu_s.min, r.cpu_s.median, r.cpu_s.max), (0.5, 1.0, 1.5));
        assert_eq!(r.execs_per_cpu_s, 60.0 / 3.0);
    }
}

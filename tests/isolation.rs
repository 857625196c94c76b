//! The checker survives what it checks: injected transaction control cannot
//! end the guard's transaction, and the next input sees the pristine fixture.

use rowguard::harness::pipeline::Op;
use rowguard::harness::scenario::Scenario;
use rowguard::{
    harness::appointments, harness::choice, harness::execute, harness::pipeline, harness::schema,
};

#[test]
fn injected_transaction_control_cannot_escape_and_the_fixture_stays_pristine() {
    let mut session = execute::Session::new().unwrap();
    let pristine = schema::dump(session.guard().unwrap().connection()).unwrap();
    let legacy = pipeline::by_name("legacy").unwrap();
    for payload in [
        "'; COMMIT; --",
        "' WHERE 1; COMMIT; --",
        "x' WHERE id = 7; ROLLBACK; --",
        "x' WHERE id = 7; RELEASE rg_statement; --",
        "x' WHERE id = 7; BEGIN; --",
        "'--",
        "' OR 1=1 --",
        "'\0",
    ] {
        let ops = vec![
            Op::EditNotes {
                id: 7,
                notes: payload.into(),
            },
            Op::Reschedule {
                id: 8,
                day: 3,
                slot: 1,
                notes: payload.into(),
                reason: payload.into(),
            },
        ];
        let _ = execute::execute(&mut session, legacy, &Scenario::of(ops)).unwrap();
        assert!(
            session.guard().unwrap().connection().is_autocommit(),
            "an input left a transaction open"
        );
        assert_eq!(
            schema::dump(session.guard().unwrap().connection()).unwrap(),
            pristine,
            "after {payload:?}"
        );
    }
}

#[test]
fn or_rollback_ending_the_transaction_is_a_finding_and_nothing_leaks() {
    use rowguard::guard::{Guard, Kind};
    use rowguard::harness::pipeline::Db;
    let mut g = Guard::new(
        schema::open(schema::DEFAULT_SIZE).unwrap(),
        appointments::appointments_policy(&[7]),
    )
    .unwrap();
    let pristine = schema::dump(g.connection()).unwrap();
    g.begin_input().unwrap();
    let _ = g.execute("UPDATE appointments SET notes = 'gone' WHERE id = 8", &[]);
    let _ = g.execute(
        "UPDATE OR ROLLBACK appointments SET id = 8 WHERE id = 7",
        &[],
    );
    let _ = g.execute("UPDATE appointments SET notes = 'after' WHERE id = 9", &[]);
    let v = g.end_input().unwrap();
    assert!(
        v.kinds().contains(&Kind::ForbiddenAction),
        "{:?}",
        v.kinds()
    );
    assert_eq!(schema::dump(g.connection()).unwrap(), pristine);
}

/// SQLite's temporary files, as the operating system shows them: open file
/// descriptors of this process that point at one (an `O_TMPFILE` shows as
/// `<dir>/#<inode> (deleted)`, a named one as `etilqs_*`), and `etilqs_*`
/// entries in the temp folders.
fn sqlite_temp_files() -> std::collections::BTreeSet<String> {
    let dirs: Vec<String> = ["/var/tmp", "/usr/tmp", "/tmp"]
        .into_iter()
        .map(String::from)
        .chain(std::env::var("TMPDIR").ok())
        .chain(std::env::var("SQLITE_TMPDIR").ok())
        .collect();
    let mut out = std::collections::BTreeSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy().to_string();
            if t.contains("etilqs_") || dirs.iter().any(|d| t.starts_with(&format!("{d}/#"))) {
                out.insert(t);
            }
        }
    }
    for d in &dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("etilqs_") {
                out.insert(e.path().display().to_string());
            }
        }
    }
    out
}

/// Issue 10, class 5: the worst temp-heavy statements create no file. A
/// thread watches the process's file descriptors while they run (sorter
/// files live only during the statement), and the connection's own temp
/// database is looked for before the input ends.
#[test]
fn temp_heavy_statements_create_no_file() {
    use rowguard::guard::Guard;
    use rowguard::harness::pipeline::Db;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let before = sqlite_temp_files();
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                seen.lock().unwrap().extend(sqlite_temp_files());
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let mut g = Guard::new(
        schema::open(schema::DEFAULT_SIZE).unwrap(),
        appointments::appointments_policy(&[7]),
    )
    .unwrap();
    g.begin_input().unwrap();
    for sql in [
        "UPDATE appointments SET notes = printf('%.*c',3000000,'x') WHERE id = 7",
        "SELECT length(b) FROM (SELECT randomblob(20000) AS b FROM appointments a, appointments c LIMIT 5000) ORDER BY b LIMIT 1",
        "SELECT count(DISTINCT hex(randomblob(500))) FROM appointments a, appointments c",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c ORDER BY random() LIMIT 1",
        "UPDATE appointments SET notes = printf('%.*c', 200000, 'y') WHERE id > 0",
    ] {
        let _ = g.execute_batch(sql);
    }
    let during = sqlite_temp_files();
    g.end_input().unwrap();
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.is_subset(&before) && during.is_subset(&before),
        "temporary files: {seen:?} {during:?}"
    );
    assert_eq!(sqlite_temp_files(), before);
}

/// Issue 10, class 6: the verdict of an input depends on that input alone.
/// Every pipeline corpus file and reproducer is replayed alone, then after
/// every other one in the same session; every `corpus/guard/` file alone,
/// then after all the others in one session.
#[test]
fn every_corpus_file_gets_the_same_verdict_alone_and_after_any_other() {
    use crate::util::{files_under, root};
    use rowguard::harness::scenario::decode_file;
    let inputs: Vec<(String, &dyn pipeline::Pipeline, Scenario)> =
        ["corpus/pipeline", "corpus/regressions"]
            .iter()
            .flat_map(|d| files_under(&root().join(d)))
            .map(|f| {
                let decoded = decode_file(
                    rowguard::harness::appointments::harness(),
                    &std::fs::read(&f).unwrap(),
                )
                .unwrap();
                let p = choice::choose_pipeline(
                    rowguard::harness::appointments::harness(),
                    None,
                    &decoded,
                )
                .unwrap();
                (f.display().to_string(), p, decoded.scenario)
            })
            .collect();
    assert!(inputs.len() >= 8, "{}", inputs.len());
    let verdict = |session: &mut execute::Session,
                   (_, p, s): &(String, &dyn pipeline::Pipeline, Scenario)| {
        let e = execute::execute(session, *p, s).unwrap();
        (
            e.kinds(),
            e.findings()
                .flat_map(|f| f.outside.clone())
                .collect::<Vec<_>>(),
        )
    };
    let alone: Vec<_> = inputs
        .iter()
        .map(|i| verdict(&mut execute::Session::new().unwrap(), i))
        .collect();
    let mut session = execute::Session::new().unwrap();
    for (a, first) in inputs.iter().enumerate() {
        for (b, then) in inputs.iter().enumerate() {
            verdict(&mut session, first);
            assert_eq!(
                verdict(&mut session, then),
                alone[b],
                "{} after {}",
                then.0,
                inputs[a].0
            );
        }
    }

    use rowguard::guard::{Api, Guard};
    use rowguard::harness::oracle::guard as guard_target;
    use rowguard::harness::pipeline::Db;
    let new_guard = || {
        Guard::new(
            schema::open(schema::DEFAULT_SIZE).unwrap(),
            appointments::appointments_policy(&[7]),
        )
        .unwrap()
    };
    let run = |g: &mut Guard, f: &std::path::Path| {
        let input = guard_target::decode(&std::fs::read(f).unwrap());
        let mut out = Vec::new();
        for (api, params) in &input.calls {
            g.set_policy(input.policy.clone());
            let (_, v) = g
                .check(|g| match api {
                    Api::Execute => g.execute(&input.sql, params).map(|_| ()),
                    Api::ExecuteBatch => g.execute_batch(&input.sql),
                    Api::QueryRow => g.query_row(&input.sql, params).map(|_| ()),
                    Api::Connection => Ok(()),
                })
                .unwrap();
            out.push((v.kinds(), v.outside().cloned().collect::<Vec<_>>()));
        }
        out
    };
    let guard_files = files_under(&root().join("corpus/guard"));
    let alone: Vec<_> = guard_files
        .iter()
        .map(|f| run(&mut new_guard(), f))
        .collect();
    let mut g = new_guard();
    for (f, alone) in guard_files.iter().zip(&alone) {
        assert_eq!(
            &run(&mut g, f),
            alone,
            "{} after the files before it",
            f.display()
        );
    }
}

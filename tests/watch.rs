//! Judging at the database (`rowguard_guard::watch`): code with its own
//! client, its own connections and its own transactions, on a SQLite file,
//! PostgreSQL and MariaDB. Each case writes through a real client library,
//! never through `Db`: a commit inside the policy is clean, a commit in a
//! second connection outside it is `write-outside-target`, a transaction
//! left open is a finding and is gone afterwards, and every input starts
//! from the built fixture again. Then the seats example
//! (`examples/seats.rs`) through the command line.

use std::process::Command;

use rowguard::guard::watch::{Bare, Target, Watched, WATCHED_SQL};
use rowguard::guard::{Backend, BackendKind, Kind, Policy, Value, Verdict};

use crate::util::root;

const SQLITE: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, note TEXT NOT NULL DEFAULT '');
INSERT INTO items (name) VALUES ('a'), ('b'), ('c');";
const POSTGRES: &str =
    "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, note text NOT NULL DEFAULT '');
INSERT INTO items (name) VALUES ('a'), ('b'), ('c');";
const MYSQL: &str = "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, note VARCHAR(255) NOT NULL DEFAULT '') ENGINE=InnoDB;
INSERT INTO items (name) VALUES ('a'), ('b'), ('c');";

/// A connection of the code under test, with the client its database takes.
enum Client {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
    Mysql(mysql::Conn),
}

impl Client {
    fn open(target: &Target) -> Client {
        match target.kind() {
            BackendKind::Sqlite => {
                Client::Sqlite(rusqlite::Connection::open(target.url()).unwrap())
            }
            BackendKind::Postgres => {
                Client::Postgres(postgres::Client::connect(target.url(), postgres::NoTls).unwrap())
            }
            BackendKind::Mysql => Client::Mysql(
                mysql::Conn::new(mysql::Opts::from_url(target.url()).unwrap()).unwrap(),
            ),
        }
    }

    fn batch(&mut self, sql: &str) {
        match self {
            Client::Sqlite(c) => c.execute_batch(sql).unwrap(),
            Client::Postgres(c) => c.batch_execute(sql).unwrap(),
            Client::Mysql(c) => mysql::prelude::Queryable::query_drop(c, sql).unwrap(),
        }
    }
}

fn policy(id: i64) -> Policy {
    Policy::new("items", "id").key(id).writable(["note"])
}

/// Runs `code` as one operation on `id` and returns its verdict.
fn op(w: &mut Watched, id: i64, code: impl FnOnce(&Target)) -> Verdict {
    w.set_policy(policy(id));
    let target = w.target().clone();
    code(&target);
    w.take_verdict()
}

fn names(w: &mut Watched) -> Vec<Vec<Value>> {
    w.query_unchecked("SELECT id, name, note FROM items ORDER BY id", &[])
        .unwrap()
}

fn kinds(v: &Verdict) -> Vec<Kind> {
    v.kinds().into_iter().collect()
}

/// The contract every database keeps.
fn contract(mut w: Watched) {
    let built = names(&mut w);
    assert_eq!(built.len(), 3);

    // a commit inside the policy, then one in a second connection outside it
    w.begin_input().unwrap();
    let inside = op(&mut w, 1, |t| {
        Client::open(t).batch("UPDATE items SET note = 'ok' WHERE id = 1")
    });
    assert!(inside.kinds().is_empty(), "{inside:?}");
    // the rows are judged on the last check; before it, the statements the
    // code sent, where the database side sees them (the servers' pass-throughs)
    let rows = inside.statements.last().unwrap();
    assert_eq!((rows.sql.as_str(), rows.changed_rows), (WATCHED_SQL, 1));
    let sent: Vec<&str> = inside.statements.iter().map(|s| s.sql.as_str()).collect();
    let update = "UPDATE items SET note = 'ok' WHERE id = 1";
    match w.kind() {
        BackendKind::Postgres => {
            assert_eq!(sent, [update, WATCHED_SQL]);
            assert!(!inside.statements[0].shape.is_empty());
        }
        BackendKind::Mysql => {
            // the `mysql` crate asks for `@@max_allowed_packet` as it connects
            assert_eq!(sent[sent.len() - 2..], [update, WATCHED_SQL], "{sent:?}");
            assert!(sent[..sent.len() - 2]
                .iter()
                .all(|s| s.starts_with("SELECT @@")));
            assert!(!inside.statements[sent.len() - 2].shape.is_empty());
        }
        BackendKind::Sqlite => assert_eq!(sent, [WATCHED_SQL]),
    }
    let outside = op(&mut w, 1, |t| {
        Client::open(t).batch("UPDATE items SET note = 'mine' WHERE id = 1");
        Client::open(t).batch("UPDATE items SET note = 'theirs' WHERE id = 2");
    });
    assert_eq!(kinds(&outside), [Kind::WriteOutsideTarget], "{outside:?}");
    let f = outside.findings().next().unwrap();
    assert_eq!(f.outside.len(), 1, "{f:?}");
    assert_eq!(&*f.outside[0].column, "note");
    // inserts and deletes, in an explicit transaction, committed
    let rows = op(&mut w, 3, |t| {
        Client::open(t).batch(
            "BEGIN; INSERT INTO items (name) VALUES ('d'); DELETE FROM items WHERE id = 3; COMMIT",
        )
    });
    assert_eq!(judged(&rows), [Kind::WriteOutsideTarget], "{rows:?}");
    if w.kind() == BackendKind::Postgres {
        // and the statement the code sent, by the static layer (its own BEGIN and COMMIT are not findings)
        let sent: Vec<Kind> = rows.statements[0].findings.iter().map(|f| f.kind).collect();
        assert_eq!(
            sent,
            [Kind::MultipleStatements, Kind::ForbiddenAction],
            "{rows:?}"
        );
    }
    w.end_input().unwrap();
    assert_eq!(names(&mut w), built, "the built fixture after the input");
    assert_eq!(w.rebuilds(), 0);

    // a transaction left open: a finding, and nothing of it stays
    w.begin_input().unwrap();
    let mut kept = None;
    let open = op(&mut w, 1, |t| {
        let mut c = Client::open(t);
        c.batch("BEGIN; UPDATE items SET note = 'pending' WHERE id = 2");
        kept = Some(c);
    });
    assert!(open.kinds().contains(&Kind::ForbiddenAction), "{open:?}");
    let message = &open.findings().next().unwrap().message;
    assert!(message.contains("left open"), "{message}");
    w.end_input().unwrap();
    drop(kept);
    // the next input runs on the built fixture, and the same id gets the same row
    w.begin_input().unwrap();
    let again = op(&mut w, 2, |t| {
        Client::open(t).batch("INSERT INTO items (name) VALUES ('e')")
    });
    assert_eq!(judged(&again), [Kind::WriteOutsideTarget]);
    let inserted = again.statements.last().unwrap().findings[0].outside[0]
        .key
        .clone();
    w.end_input().unwrap();
    w.begin_input().unwrap();
    let same = op(&mut w, 2, |t| {
        Client::open(t).batch("INSERT INTO items (name) VALUES ('e')")
    });
    assert_eq!(
        same.statements.last().unwrap().findings[0].outside[0].key,
        inserted,
        "the counter was put back"
    );
    w.end_input().unwrap();
    assert_eq!(names(&mut w), built);
}

/// The kinds of the last check: the rows the code changed, judged (the
/// static layer's findings on the statements it sent come before it).
fn judged(v: &Verdict) -> Vec<Kind> {
    let rows = v.statements.last().unwrap();
    assert_eq!(rows.sql, WATCHED_SQL);
    rows.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_sqlite_file_is_judged_whatever_connection_writes_it() {
    contract(Watched::sqlite(|c| c.execute_batch(SQLITE)).unwrap());
}

#[test]
fn a_sqlite_capture_emptied_or_dropped_is_a_finding() {
    let mut w = Watched::sqlite(|c| c.execute_batch(SQLITE)).unwrap();
    let built = names(&mut w);
    w.begin_input().unwrap();
    let emptied = op(&mut w, 1, |t| {
        Client::open(t).batch("UPDATE items SET name = 'z' WHERE id = 2; DELETE FROM rowguard_log")
    });
    let text: Vec<&str> = emptied.findings().map(|f| f.message.as_str()).collect();
    assert!(
        text.iter().any(|m| m.contains("did not record")),
        "{text:?}"
    );
    assert!(
        emptied.kinds().contains(&Kind::WriteOutsideTarget),
        "the diff still judges the row"
    );
    let dropped = op(&mut w, 1, |t| {
        Client::open(t)
            .batch("DROP TRIGGER rowguard_0_UPDATE; UPDATE items SET name = 'y' WHERE id = 3")
    });
    let text: Vec<&str> = dropped.findings().map(|f| f.message.as_str()).collect();
    assert!(
        text.iter().any(|m| m.contains("capture trigger")),
        "{text:?}"
    );
    assert!(dropped.kinds().contains(&Kind::WriteOutsideTarget));
    w.end_input().unwrap();
    assert_eq!(names(&mut w), built);
    assert_eq!(
        w.rebuilds(),
        1,
        "a dropped trigger is put back by rebuilding"
    );
}

#[test]
fn postgres_is_judged_whatever_connection_writes_it() {
    let Some(options) = crate::postgres::server() else {
        return;
    };
    contract(Watched::postgres(&options, POSTGRES).unwrap());
}

#[test]
fn mariadb_is_judged_whatever_connection_writes_it() {
    let Some((options, _lock)) = crate::mysql::server() else {
        return;
    };
    contract(Watched::mysql(&options, MYSQL).unwrap());
}

#[test]
fn mariadb_statements_are_seen_through_the_pass_through() {
    use mysql::prelude::Queryable;
    let Some((options, _lock)) = crate::mysql::server() else {
        return;
    };
    let mut w = Watched::mysql(&options, MYSQL).unwrap();
    assert!(
        w.target().url().starts_with("mysql://") && w.target().url().contains("@127.0.0.1:"),
        "the code is given the pass-through"
    );
    w.begin_input().unwrap();
    let v = op(&mut w, 1, |t| {
        // a client that would compress goes on uncompressed, as the greeting tells it
        let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(t.url()).unwrap())
            .compress(Some(mysql::Compression::default()));
        let mut c = mysql::Conn::new(opts).unwrap();
        c.exec_drop("UPDATE items SET note = ? WHERE id = ?", ("prepared", 1))
            .unwrap();
        c.query_drop("SET @rg = 'two'; SELECT @rg").unwrap();
    });
    assert!(v.kinds().is_empty(), "{v:?}");
    let sent: Vec<&str> = v.statements.iter().map(|s| s.sql.as_str()).collect();
    let n = sent.len();
    assert_eq!(
        sent[n - 3..],
        [
            "UPDATE items SET note = ? WHERE id = ?",
            "SET @rg = 'two'; SELECT @rg",
            WATCHED_SQL
        ],
        "{sent:?}"
    );
    assert_eq!(v.statements[n - 1].changed_rows, 1);
    w.end_input().unwrap();
    // what an earlier operation sent is not the next one's
    w.begin_input().unwrap();
    let none = op(&mut w, 1, |_| {});
    assert_eq!(none.statements.len(), 1, "{none:?}");
    w.end_input().unwrap();
}

/// The raw side of `bench watch`: the same fixture, role and grants, no
/// capture; the code's writes land and nothing logs them.
fn bare(database: Option<&rowguard::guard::postgres::PgOptions>, server_sql: Option<&str>) {
    let bare = Bare::open(database, |c| c.execute_batch(SQLITE), server_sql).unwrap();
    let mut c = Client::open(bare.target());
    c.batch("UPDATE items SET note = 'raw' WHERE id = 2");
    c.batch("INSERT INTO items (name) VALUES ('d')");
    let logged = match &mut c {
        Client::Sqlite(c) => c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'rowguard%'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap(),
        Client::Postgres(c) => c
            .query_one(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'rowguard%'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0),
        Client::Mysql(c) => mysql::prelude::Queryable::query_first::<i64, _>(
            c,
            "SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE 'rowguard%'",
        )
        .unwrap()
        .unwrap(),
    };
    assert_eq!(logged, 0, "no capture on the raw side");
}

#[test]
fn a_bare_fixture_runs_the_same_code_without_capture() {
    bare(None, None);
    if let Some(options) = crate::postgres::server() {
        bare(Some(&options), Some(POSTGRES));
    }
    if let Some((options, _lock)) = crate::mysql::server() {
        bare(Some(&options), Some(MYSQL));
    }
}

#[test]
fn the_app_role_cannot_reach_the_postgres_capture() {
    let Some(options) = crate::postgres::server() else {
        return;
    };
    let w = Watched::postgres(&options, POSTGRES).unwrap();
    let mut c = postgres::Client::connect(w.target().url(), postgres::NoTls).unwrap();
    for sql in [
        "DELETE FROM rowguard_watch.log",
        "ALTER TABLE items DISABLE TRIGGER ALL",
        "DROP TRIGGER rowguard_watch_log ON items",
        "TRUNCATE items",
        "SET session_replication_role = replica",
        "SELECT * FROM rowguard_watch.built_0",
    ] {
        assert!(c.batch_execute(sql).is_err(), "the app role ran {sql}");
    }
}

#[test]
fn the_seats_example_gets_every_command_on_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = |args: &[&str]| {
        Command::new(crate::util::example_bin("seats"))
            .args(args)
            .current_dir(root())
            .env_remove("ROWGUARD_PIPELINE")
            .env_remove("ROWGUARD_DATABASE_URL")
            .output()
            .unwrap()
    };
    let artifacts = dir.path().display().to_string();
    for (pipeline, kind) in [
        ("same-holder", "write-outside-target"),
        ("row-release", "write-outside-target"),
        ("pending", "forbidden-action"),
    ] {
        let o = out(&[
            "fuzz",
            "--pipeline",
            pipeline,
            "--seed",
            "1",
            "--runs",
            "800",
            "--source",
            "examples/seats.rs",
            "--artifacts",
            &artifacts,
            "--format",
            "json",
        ]);
        let summary: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{pipeline}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert_eq!(o.status.code(), Some(1), "{pipeline}: {summary}");
        let found = summary.to_string();
        assert!(found.contains(kind), "{pipeline}: {found}");
    }
    let safe = out(&[
        "fuzz",
        "--pipeline",
        "safe",
        "--seed",
        "1",
        "--runs",
        "300",
        "--source",
        "examples/seats.rs",
        "--artifacts",
        &artifacts,
    ]);
    assert_eq!(
        safe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&safe.stdout)
    );
    // every artifact replays with its finding on its version and clean on safe, and minimizes
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file = path.display().to_string();
        assert_eq!(out(&["repro", &file]).status.code(), Some(1), "{file}");
        assert_eq!(
            out(&["repro", &file, "--pipeline", "safe"]).status.code(),
            Some(0),
            "{file} on safe"
        );
        replayed += 1;
    }
    assert!(replayed >= 3, "{replayed} artifacts");
    let corpus = tempfile::tempdir().unwrap();
    let corpus = corpus.path().display().to_string();
    let gate = |pipeline: &str| {
        out(&[
            "gate",
            "--pipeline",
            pipeline,
            "--time",
            "5",
            "--corpus",
            &corpus,
            "--source",
            "examples/seats.rs",
            "--artifacts",
            &artifacts,
        ])
    };
    let failed = gate("same-holder");
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&failed.stdout)
    );
    let passed = gate("safe");
    assert_eq!(
        passed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&passed.stdout)
    );
}

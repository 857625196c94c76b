//! The third-party corpora in `tests/data/corpora/` (copied verbatim from
//! `../shared/corpora/`; sources and licences in its `SOURCES.md`) through
//! `rowguard::tools::scan` on `safe`, `legacy` and `stacked`, judged against ground
//! truth this test computes itself, without the guard: the same pipeline
//! runs the same op on a plain rusqlite connection of the fixture, the whole
//! database (every table, every cell) is diffed before and after each `Db`
//! call, and every changed cell outside the reschedule policy of the target
//! is a violation.
//!
//! Asserted per corpus and pipeline: zero false negatives (a violation the
//! guard did not report as `write-outside-target`), zero false positives (a
//! `write-outside-target` with no violation), and the guard's blast radius
//! is exactly the violated cells. On `safe`, every line is clean and stored
//! byte for byte. The counts are printed (`-- --nocapture`) for docs/scan.md.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use rowguard::guard::Kind;
use rowguard::harness::pipeline::{self, Db, DbError, Op, Pipeline};
use rowguard::harness::schema;
use rowguard::tools::scan::{LineReport, LineVerdict, Scan};

/// What `scan` makes of a line on the built-in harness: its example
/// operation, a reschedule to day 12, slot 4, for a client request.
const DAY: u8 = 12;
const SLOT: u8 = 4;
const REASON: &str = "client request";
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use crate::util::root;

const TARGET: i64 = 7;
/// The policy of a reschedule of TARGET, written out independently of `rowguard::target`.
const WRITABLE: [&str; 5] = ["start_at", "end_at", "notes", "reason", "updated_at"];
const CORPORA: [&str; 3] = [
    "sqli-payloads-dev.txt",
    "benign-dev.txt",
    "naughty-strings.txt",
];

/// One table of the database as the diff sees it.
struct Table {
    name: String,
    columns: Vec<String>,
    /// Indexes of the key columns (the primary key, else the rowid).
    key: Vec<usize>,
}

/// (table index, rendered key) -> one hash per column. Hashing each cell as
/// SQLite returns it (type and exact bytes) keeps a whole-database snapshot
/// cheap enough to take around every statement.
type Snapshot = BTreeMap<(usize, String), Vec<u64>>;
/// A changed cell: (table, key, column).
type CellId = (String, String, String);

/// A key rendered the way the guard renders one (`7`, `7, '2026-03-11 09:00'`).
fn render(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!(
            "X'{}'",
            b.iter().map(|x| format!("{x:02X}")).collect::<String>()
        ),
    }
}

fn cell_hash(v: ValueRef<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    match v {
        ValueRef::Null => 0u8.hash(&mut h),
        ValueRef::Integer(i) => (1u8, i).hash(&mut h),
        ValueRef::Real(f) => (2u8, f.to_bits()).hash(&mut h),
        ValueRef::Text(t) => (3u8, t).hash(&mut h),
        ValueRef::Blob(b) => (4u8, b).hash(&mut h),
    }
    h.finish()
}

fn tables(conn: &Connection) -> Vec<Table> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    names
        .into_iter()
        .map(|name| {
            let info: Vec<(String, i64)> = conn
                .prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")
                .unwrap()
                .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let mut pk: Vec<(i64, usize)> = info
                .iter()
                .enumerate()
                .filter(|(_, c)| c.1 > 0)
                .map(|(i, c)| (c.1, i))
                .collect();
            pk.sort();
            let mut columns: Vec<String> = info.into_iter().map(|c| c.0).collect();
            // a table without a primary key is keyed by its rowid
            let key = if pk.is_empty() {
                columns.insert(0, "rowid".into());
                vec![0]
            } else {
                pk.into_iter().map(|p| p.1).collect()
            };
            Table { name, columns, key }
        })
        .collect()
}

fn snapshot(conn: &Connection, tables: &[Table]) -> Snapshot {
    let mut out = Snapshot::new();
    for (t, table) in tables.iter().enumerate() {
        let rowid = if table.columns[0] == "rowid" {
            "rowid, "
        } else {
            ""
        };
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {rowid}* FROM \"{}\"", table.name))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<u64> = (0..table.columns.len())
                .map(|i| cell_hash(row.get_ref(i).unwrap()))
                .collect();
            let key: Vec<String> = table
                .key
                .iter()
                .map(|&i| render(row.get_ref(i).unwrap()))
                .collect();
            out.insert((t, key.join(", ")), cells);
        }
    }
    out
}

/// The cells that differ between two snapshots and lie outside the
/// reschedule policy of TARGET.
fn violations(tables: &[Table], before: &Snapshot, after: &Snapshot) -> BTreeSet<CellId> {
    let target = cell_hash(ValueRef::Integer(TARGET));
    let keys: BTreeSet<&(usize, String)> = before.keys().chain(after.keys()).collect();
    let mut out = BTreeSet::new();
    for k in keys {
        let (old, new) = (before.get(k), after.get(k));
        if old == new {
            continue;
        }
        let table = &tables[k.0];
        let col = |name: &str| table.columns.iter().position(|c| c == name);
        let is_target = |row: Option<&Vec<u64>>, name: &str| {
            row.zip(col(name)).is_some_and(|(r, i)| r[i] == target)
        };
        for (i, column) in table.columns.iter().enumerate() {
            if let (Some(o), Some(n)) = (old, new) {
                if o[i] == n[i] {
                    continue;
                }
            }
            let allowed = match table.name.as_str() {
                "appointments" => {
                    old.is_some()
                        && new.is_some()
                        && is_target(old, "id")
                        && is_target(new, "id")
                        && WRITABLE.contains(&column.as_str())
                }
                "appointment_log" => old.is_none() && is_target(new, "appointment_id"),
                "reminders" => {
                    old.is_none_or(|_| is_target(old, "appointment_id"))
                        && new.is_none_or(|_| is_target(new, "appointment_id"))
                }
                _ => false,
            };
            if !allowed {
                out.insert((table.name.clone(), k.1.clone(), column.clone()));
            }
        }
    }
    out
}

/// A plain connection that diffs the whole database around every call.
struct Observed {
    conn: Connection,
    tables: Vec<Table>,
    /// The fixture as built; every line starts from it (each line is rolled back).
    pristine: Snapshot,
    before: Snapshot,
    violated: BTreeSet<CellId>,
    budget: Arc<AtomicI64>,
}

impl Observed {
    fn new() -> Observed {
        let mut conn = schema::open(schema::DEFAULT_SIZE).unwrap();
        // No guard here, so nothing else stops a runaway statement.
        let budget = Arc::new(AtomicI64::new(i64::MAX));
        let left = Arc::clone(&budget);
        let _ = conn.progress_handler(
            1000,
            Some(move || left.fetch_sub(1, Ordering::Relaxed) <= 0),
        );
        let tables = tables(&conn);
        let before = snapshot(&conn, &tables);
        Observed {
            conn,
            tables,
            pristine: before.clone(),
            before,
            violated: BTreeSet::new(),
            budget,
        }
    }

    fn observe<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        self.budget.store(i64::MAX, Ordering::Relaxed);
        let after = snapshot(&self.conn, &self.tables);
        self.violated
            .extend(violations(&self.tables, &self.before, &after));
        self.before = after;
        r
    }

    fn arm(&self) {
        self.budget.store(100_000, Ordering::Relaxed);
    }
}

impl Db for Observed {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.arm();
        let r = Db::execute(&mut self.conn, sql, params);
        self.observe(r)
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.arm();
        let r = Db::execute_batch(&mut self.conn, sql);
        self.observe(r)
    }
    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        self.arm();
        let r = Db::query_row(&mut self.conn, sql, params);
        self.observe(r)
    }
}

/// Ground truth for one line: the violated cells and the notes stored on the target.
fn ground_truth(
    db: &mut Observed,
    p: &dyn Pipeline,
    notes: &str,
) -> (BTreeSet<CellId>, Option<Vec<u8>>) {
    db.conn.execute_batch("BEGIN").unwrap();
    db.violated.clear();
    let op = Op::Reschedule {
        id: TARGET,
        day: DAY,
        slot: SLOT,
        notes: notes.to_string(),
        reason: REASON.to_string(),
    };
    let _ = p.run_typed(&op, db);
    let stored: Option<Vec<u8>> = db
        .conn
        .query_row(
            "SELECT CAST(notes AS BLOB) FROM appointments WHERE id = ?1",
            [TARGET],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    let violated = std::mem::take(&mut db.violated);
    if db.conn.is_autocommit() {
        // a statement ended the transaction: start over from a fresh fixture
        *db = Observed::new();
    } else {
        db.conn.execute_batch("ROLLBACK").unwrap();
        db.before = db.pristine.clone();
    }
    (violated, stored)
}

/// The lines of a corpus file, split independently of `rowguard::tools::scan`.
fn corpus_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") || bytes.is_empty() {
        lines.pop();
    }
    lines
}

#[derive(Default, Debug)]
struct Counts {
    lines: usize,
    findings: usize,
    writes: usize,
    truth: usize,
    false_negatives: usize,
    false_positives: usize,
}

fn run_corpus(file: &str, pipeline_name: &str) -> Counts {
    let path = root().join("tests/data/corpora").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expected = corpus_lines(&bytes);
    let p = pipeline::by_name(pipeline_name).unwrap();
    let mut reports: Vec<LineReport> = Vec::new();
    let mut scan = Scan::new(p, TARGET).unwrap();
    scan.run(&mut &bytes[..], Path::new(file), |r| {
        reports.push(r.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(reports.len(), expected.len(), "{file}: line count");
    let mut db = Observed::new();
    let mut c = Counts {
        lines: reports.len(),
        ..Counts::default()
    };
    for (r, line) in reports.iter().zip(&expected) {
        let at = format!("{file}:{} on {pipeline_name}", r.line);
        let notes =
            std::str::from_utf8(line).unwrap_or_else(|_| panic!("{at}: corpus line is not UTF-8"));
        assert_eq!(
            r.text.as_deref(),
            Some(notes),
            "{at}: scan read a different line"
        );
        assert_ne!(r.verdict, LineVerdict::Error, "{at}: {:?}", r.error);
        let (truth, stored) = ground_truth(&mut db, p, notes);
        let wrote = r.kinds.contains(&Kind::WriteOutsideTarget);
        c.findings += usize::from(r.verdict == LineVerdict::Finding);
        c.writes += usize::from(wrote);
        c.truth += usize::from(!truth.is_empty());
        c.false_negatives += usize::from(!truth.is_empty() && !wrote);
        c.false_positives += usize::from(truth.is_empty() && wrote);
        let reported: BTreeSet<CellId> = r
            .outside
            .iter()
            .map(|o| (o.table.to_string(), o.key.to_string(), o.column.to_string()))
            .collect();
        assert_eq!(
            reported, truth,
            "{at}: blast radius differs from the database diff; notes {notes:?}"
        );
        if pipeline_name == "safe" {
            assert_eq!(r.verdict, LineVerdict::Clean, "{at}: {:?}", r.kinds);
            assert_eq!(
                stored.as_deref(),
                Some(*line),
                "{at}: notes not stored byte for byte"
            );
            assert!(
                r.statements[0]
                    .params
                    .iter()
                    .any(|v| v.as_str() == Some(notes)),
                "{at}: the notes were not bound as sent"
            );
        }
    }
    println!(
        "{file:<24} {pipeline_name:<8} lines {:>5}  findings {:>4}  write-outside-target {:>3}  ground truth {:>3}  FN {}  FP {}",
        c.lines, c.findings, c.writes, c.truth, c.false_negatives, c.false_positives
    );
    c
}

#[test]
fn corpora_on_safe_are_clean_and_stored_byte_for_byte() {
    for file in CORPORA {
        let c = run_corpus(file, "safe");
        assert_eq!((c.findings, c.truth), (0, 0), "{file}: {c:?}");
    }
}

#[test]
fn corpora_on_legacy_match_the_database_diff() {
    let mut truth = 0;
    for file in CORPORA {
        let c = run_corpus(file, "legacy");
        assert_eq!(c.false_negatives, 0, "{file}: {c:?}");
        assert_eq!(c.false_positives, 0, "{file}: {c:?}");
        truth += c.truth;
    }
    // the comparison means something only if some lines really do write outside
    assert!(
        truth > 0,
        "no corpus line wrote outside the target on legacy"
    );
}

#[test]
fn corpora_on_stacked_match_the_database_diff() {
    // the one planted pipeline with another API (execute_batch: several
    // statements per call, foreign-key cascades); the other planted ones
    // send what legacy sends and are left to their reproducers
    for file in CORPORA {
        let c = run_corpus(file, "stacked");
        assert_eq!(c.false_negatives, 0, "{file}: {c:?}");
        assert_eq!(c.false_positives, 0, "{file}: {c:?}");
    }
}

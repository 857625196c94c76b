//! Stopping a bad write in production with the tripwire.
//!
//! A `documents` database file and a "rename document" operation written two
//! ways: with a bound parameter, and with the title pasted into the SQL. Both
//! run on the real file through a [`Tripwire`] whose policy says "document
//! N's title, plus its audit-log row, and nothing else". The clean rename
//! commits; the string-built one, fed a title that ends its literal, would
//! rename every document: the tripwire rolls it back before COMMIT and
//! returns the verdict (blast radius and undo statements). The file keeps
//! only the clean rename.
//!
//! Run: `cargo run -p rowguard-guard --example tripwire` (exits 0 when the
//! bad write was stopped and the good one committed).

use std::process::ExitCode;

use rowguard_guard::tripwire::{TripError, Tripwire};
use rowguard_guard::{Db, DbError, Policy, SideEffect, Value};

const SCHEMA: &str = "
CREATE TABLE documents (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, title TEXT NOT NULL);
CREATE TABLE document_log (document_id INTEGER NOT NULL, old_title TEXT, new_title TEXT);
CREATE TRIGGER documents_log AFTER UPDATE OF title ON documents
BEGIN INSERT INTO document_log VALUES (NEW.id, OLD.title, NEW.title); END;
INSERT INTO documents VALUES (1, 1, 'plan'), (2, 1, 'budget'), (3, 2, 'minutes');
";

/// What renaming document `id` may change.
fn rename_policy(id: i64) -> Policy {
    Policy::new("documents", "id")
        .key(id)
        .writable(["title"])
        .allow(SideEffect::new("document_log", "document_id").inserts())
}

/// The good version: the title is a bound parameter.
fn rename(db: &mut dyn Db, id: i64, title: &str) -> Result<usize, DbError> {
    db.execute(
        "UPDATE documents SET title = ?1 WHERE id = ?2",
        &[Value::Text(title.into()), Value::Integer(id)],
    )
}

/// The bad version: the title pasted into the SQL.
fn rename_by_hand(db: &mut dyn Db, id: i64, title: &str) -> Result<usize, DbError> {
    db.execute_batch(&format!(
        "UPDATE documents SET title = '{title}' WHERE id = {id}"
    ))?;
    Ok(1)
}

fn titles(tw: &Tripwire) -> Vec<String> {
    tw.connection()
        .prepare("SELECT title FROM documents ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let dir =
        std::env::temp_dir().join(format!("rowguard-tripwire-example-{}", std::process::id()));
    let path = dir.join("documents.db");
    let run = || -> Result<bool, Box<dyn std::error::Error>> {
        std::fs::create_dir_all(&dir)?;
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(SCHEMA)?;
        // Once, on the application's connection.
        let mut tw = Tripwire::new(conn)?;
        println!("capture: {}", tw.capture());

        // A clean operation commits.
        tw.run(&rename_policy(2), |db| rename(db, 2, "budget 2027"))?;
        println!("clean rename committed: {:?}", titles(&tw));

        // The same operation built by hand, with a title that ends its literal.
        let stopped = match tw.run(&rename_policy(2), |db| rename_by_hand(db, 2, "x' --")) {
            Ok(_) => false,
            Err(TripError::Tripped { verdict }) => {
                println!(
                    "bad rename rolled back: {}",
                    rowguard_guard::kinds_line(verdict.kinds())
                );
                for c in verdict.outside() {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                    println!(
                        "  {} row {} {}: {} -> {}",
                        c.table,
                        c.key,
                        c.column,
                        show(&c.before),
                        show(&c.after)
                    );
                }
                true
            }
            Err(other) => return Err(other.into()),
        };
        let after = titles(&tw);
        println!("file after both: {after:?}");
        Ok(stopped && after == ["plan", "budget 2027", "minutes"])
    };
    let outcome = run();
    let _ = std::fs::remove_dir_all(&dir);
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("the bad write was not stopped");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

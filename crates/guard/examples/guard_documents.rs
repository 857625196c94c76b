//! Guarding your own SQL-writing code with rowguard's library API.
//!
//! A small `documents` table (each row has an `owner_id`) and two versions
//! of a "rename document" function: one binds the title as a parameter, one
//! builds the SQL string by hand. Each rename runs through a [`Guard`] whose
//! policy says "document N's title, plus its audit-log row, and nothing
//! else"; the verdict shows which version writes outside that.
//!
//! Run: `cargo run -p rowguard-guard --example guard_documents` (exits 1 when the string-built
//! version is caught, as it should be).

use std::process::ExitCode;

use rowguard_guard::{Db, DbError, Guard, Policy, SideEffect, Verdict};

const SCHEMA: &str = "
CREATE TABLE owners (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  owner_id INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  body TEXT
);
CREATE TABLE document_log (document_id INTEGER NOT NULL, old_title TEXT, new_title TEXT);
CREATE TRIGGER documents_log AFTER UPDATE OF title ON documents
BEGIN INSERT INTO document_log VALUES (NEW.id, OLD.title, NEW.title); END;
INSERT INTO owners VALUES (1, 'ada'), (2, 'ben');
INSERT INTO documents VALUES
  (1, 1, 'plan', 'q1'), (2, 1, 'budget', 'q2'), (3, 2, 'minutes', 'm'), (4, 2, 'draft', NULL);
";

/// The right way: the title is a bound parameter.
fn rename_safe(db: &mut dyn Db, id: i64, title: &str) -> Result<usize, DbError> {
    db.execute(
        "UPDATE documents SET title = ?1 WHERE id = ?2",
        &[title.to_string().into(), id.into()],
    )
}

/// The bug class rowguard exists for: user text concatenated into SQL.
fn rename_concat(db: &mut dyn Db, id: i64, title: &str) -> Result<usize, DbError> {
    db.execute(
        &format!("UPDATE documents SET title = '{title}' WHERE id = {id}"),
        &[],
    )
}

/// The policy of renaming document `id`.
fn rename_policy(id: i64) -> Policy {
    Policy::new("documents", "id")
        .key(id)
        .writable(["title"])
        .allow(SideEffect::new("document_log", "document_id").inserts())
}

fn report(name: &str, title: &str, verdict: &Verdict) {
    let kinds: Vec<String> = verdict.kinds().iter().map(|k| k.to_string()).collect();
    println!(
        "{name:>14} {title:?}: {}",
        if kinds.is_empty() {
            "clean".into()
        } else {
            kinds.join(", ")
        }
    );
    for c in verdict.outside().take(6) {
        println!(
            "{:>16}{} [{}] {}: {} -> {}",
            "",
            c.table,
            c.key,
            c.column,
            c.before.as_deref().unwrap_or("(no row)"),
            c.after.as_deref().unwrap_or("(no row)")
        );
    }
}

fn main() -> Result<ExitCode, rowguard_guard::Error> {
    let mut guard = Guard::open_memory(SCHEMA, rename_policy(2))?;
    let mut caught = false;
    for title in [
        "Budget 2026",
        "O'Brien's notes",
        "x' --",
        "x', owner_id = 2 --",
    ] {
        let (_, safe) = guard.check(|db| rename_safe(db, 2, title))?;
        report("bound params", title, &safe);
        assert!(safe.is_clean(), "the bound version must stay clean");
        let (_, concat) = guard.check(|db| rename_concat(db, 2, title))?;
        report("concatenated", title, &concat);
        caught |= !concat.is_clean();
    }
    // the exit code a gate would give, said in words too
    Ok(if caught {
        println!(
            "caught: the concatenated rename writes outside document 2 (exit 1, as a gate fails)"
        );
        ExitCode::from(1)
    } else {
        println!("nothing caught: the concatenated rename stayed inside document 2 (exit 0)");
        ExitCode::SUCCESS
    })
}

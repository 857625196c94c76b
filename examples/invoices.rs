//! A team's own rowguard binary: invoices with line items, a cascade and an
//! audit trigger, guarded with every rowguard command (docs/own-harness.md).
//! `cargo run --example invoices -- fuzz --pipeline memo-concat`.

use arbitrary::{Arbitrary, Unstructured};
use rowguard::guard::{Db, DbError, Policy, SideEffect, Value};
use rowguard::harness::domain::{register, Fixture, Harness, Version};
use serde::{Deserialize, Serialize};

const FIXTURE: &str = "
PRAGMA foreign_keys = ON;
CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL,
  memo TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open', total INTEGER NOT NULL DEFAULT 0);
CREATE TABLE lines (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL
  REFERENCES invoices(id) ON DELETE CASCADE, item TEXT NOT NULL, cents INTEGER NOT NULL);
CREATE TABLE audit (id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL, what TEXT NOT NULL);
CREATE TRIGGER invoices_audit AFTER UPDATE ON invoices
  BEGIN INSERT INTO audit (invoice_id, what) VALUES (NEW.id, NEW.status); END;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)
  INSERT INTO invoices (id, customer, memo) SELECT i, 'Customer ' || i, 'net 30' FROM n;
INSERT INTO lines (invoice_id, item, cents) SELECT id, 'consulting', 1000 * id FROM invoices;
";

fn invoice(u: &mut Unstructured) -> arbitrary::Result<i64> {
    u.int_in_range(1..=30)
}

/// One action of the billing page.
#[derive(Debug, Clone, Serialize, Deserialize, Arbitrary)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum InvoiceOp {
    AddLine {
        #[arbitrary(with = invoice)]
        invoice: i64,
        item: String,
        cents: u16,
    },
    EditMemo {
        #[arbitrary(with = invoice)]
        invoice: i64,
        memo: String,
    },
}

fn add_line(invoice: i64, item: &str, cents: u16, db: &mut dyn Db) -> Result<(), DbError> {
    let (id, item, cents) = (
        Value::Integer(invoice),
        Value::Text(item.into()),
        Value::Integer(cents.into()),
    );
    db.execute(
        "INSERT INTO lines (invoice_id, item, cents) VALUES (?1, ?2, ?3)",
        &[id.clone(), item, cents],
    )?;
    db.execute("UPDATE invoices SET total = (SELECT SUM(cents) FROM lines WHERE invoice_id = ?1) WHERE id = ?1", &[id])?;
    Ok(())
}

/// The correct billing page: every value bound.
fn safe(op: &InvoiceOp, db: &mut dyn Db) -> Result<(), DbError> {
    match op {
        InvoiceOp::AddLine {
            invoice,
            item,
            cents,
        } => add_line(*invoice, item, *cents, db),
        InvoiceOp::EditMemo { invoice, memo } => db
            .execute(
                "UPDATE invoices SET memo = ?1 WHERE id = ?2",
                &[Value::Text(memo.clone()), Value::Integer(*invoice)],
            )
            .map(|_| ()),
    }
}

/// The planted bug: a memo marked VOID takes an old code path that pastes it into the SQL.
fn memo_concat(op: &InvoiceOp, db: &mut dyn Db) -> Result<(), DbError> {
    match op {
        InvoiceOp::EditMemo { invoice, memo } if memo.contains("VOID") => db
            .execute(
                &format!(
                    "UPDATE invoices SET status = 'void', memo = '{memo}' WHERE id = {invoice}"
                ),
                &[],
            )
            .map(|_| ()),
        other => safe(other, db),
    }
}

struct Invoices;

impl Harness for Invoices {
    type Op = InvoiceOp;
    fn name(&self) -> &'static str {
        "invoices"
    }
    fn fixture(&self) -> Fixture {
        Fixture::sql(FIXTURE)
    }
    fn policy(&self, op: &InvoiceOp, _db: &mut dyn Db) -> Result<Policy, DbError> {
        let (InvoiceOp::AddLine { invoice, .. } | InvoiceOp::EditMemo { invoice, .. }) = op;
        Ok(Policy::new("invoices", "id")
            .key(*invoice)
            .writable(["memo", "status", "total"])
            .allow(SideEffect::new("lines", "invoice_id").inserts())
            .allow(SideEffect::new("audit", "invoice_id").inserts()))
    }
    fn versions(&self) -> Vec<Version<InvoiceOp>> {
        vec![
            Version::new("safe", safe),
            Version::new("memo-concat", memo_concat)
                .bug("memo pasted into the SQL", "VOID and a quote"),
        ]
    }
    fn example(&self) -> InvoiceOp {
        InvoiceOp::EditMemo {
            invoice: 7,
            memo: String::new(),
        }
    }
    fn sources(&self) -> &'static [&'static str] {
        rowguard::sources!["examples"]
    }
}

fn main() -> std::process::ExitCode {
    rowguard::cli::main(vec![register(Invoices)])
}

//! A team's harness whose code brings its own client: theatre seats held
//! through rusqlite, `postgres` or `mysql` directly, with its own
//! transactions and commits, judged at the database (README, "Code with
//! its own client"). `cargo run --example seats -- fuzz --pipeline row-release`;
//! add `--database $URL` for PostgreSQL or MariaDB.

use std::sync::Mutex;

use arbitrary::{Arbitrary, Unstructured};
use rowguard::guard::watch::Target;
use rowguard::guard::{BackendKind, Db, DbError, Policy};
use rowguard::harness::domain::{register, BoxError, Fixture, Harness, Version};
use serde::{Deserialize, Serialize};

const SQLITE: &str = "
CREATE TABLE seats (id INTEGER PRIMARY KEY, row_label TEXT NOT NULL, holder TEXT, note TEXT NOT NULL DEFAULT '');
INSERT INTO seats VALUES (1, 'A', 'ana', ''), (2, 'A', 'ben', ''), (3, 'A', NULL, ''),
  (4, 'B', 'ana', 'aisle'), (5, 'B', NULL, ''), (6, 'C', 'cleo', '');
";
const POSTGRES: &str = "
CREATE TABLE seats (id integer PRIMARY KEY, row_label text NOT NULL, holder text, note text NOT NULL DEFAULT '');
INSERT INTO seats VALUES (1, 'A', 'ana', ''), (2, 'A', 'ben', ''), (3, 'A', NULL, ''),
  (4, 'B', 'ana', 'aisle'), (5, 'B', NULL, ''), (6, 'C', 'cleo', '');
";
const MYSQL: &str = "
CREATE TABLE seats (id INT PRIMARY KEY, row_label VARCHAR(8) NOT NULL, holder VARCHAR(255) NULL,
  note VARCHAR(1024) NOT NULL DEFAULT '') ENGINE=InnoDB;
INSERT INTO seats VALUES (1, 'A', 'ana', ''), (2, 'A', 'ben', ''), (3, 'A', NULL, ''),
  (4, 'B', 'ana', 'aisle'), (5, 'B', NULL, ''), (6, 'C', 'cleo', '');
";

/// The box-office command that frees every seat of the row.
const RELEASE: &str = "release row";
/// A hold the box office confirms later (its transaction is kept open).
const LATER: &str = "confirm later";

fn seat(u: &mut Unstructured) -> arbitrary::Result<i64> {
    u.int_in_range(1..=6)
}

/// One action of the box office: hold a seat for someone, with a note.
#[derive(Debug, Clone, Serialize, Deserialize, Arbitrary)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum SeatOp {
    Hold {
        #[arbitrary(with = seat)]
        seat: i64,
        holder: String,
        note: String,
    },
}

/// A connection of whichever client the target's database takes.
enum Client {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
    Mysql(mysql::Conn),
}

impl Client {
    fn open(target: &Target) -> Result<Client, BoxError> {
        Ok(match target.kind() {
            BackendKind::Sqlite => Client::Sqlite(rusqlite::Connection::open(target.url())?),
            BackendKind::Postgres => {
                Client::Postgres(postgres::Client::connect(target.url(), postgres::NoTls)?)
            }
            BackendKind::Mysql => {
                Client::Mysql(mysql::Conn::new(mysql::Opts::from_url(target.url())?)?)
            }
        })
    }

    /// Runs `sql` (`$1`-style parameters, each once and in order) with text or integer values.
    fn run(&mut self, sql: &str, params: &[&dyn Param]) -> Result<(), BoxError> {
        match self {
            Client::Sqlite(c) => {
                let values: Vec<rusqlite::types::Value> =
                    params.iter().map(|p| p.sqlite()).collect();
                rusqlite::Connection::execute(c, sql, rusqlite::params_from_iter(values))?;
            }
            Client::Postgres(c) => {
                let values: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p.postgres()).collect();
                c.execute(sql, &values)?;
            }
            Client::Mysql(c) => {
                use mysql::prelude::Queryable;
                let mut text = sql.to_string();
                for n in (1..=params.len()).rev() {
                    text = text.replace(&format!("${n}"), "?");
                }
                let values: Vec<mysql::Value> = params.iter().map(|p| p.mysql()).collect();
                c.exec_drop(text, values)?;
            }
        }
        Ok(())
    }
}

/// A bound value, for every client.
trait Param {
    fn sqlite(&self) -> rusqlite::types::Value;
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync);
    fn mysql(&self) -> mysql::Value;
}

impl Param for String {
    fn sqlite(&self) -> rusqlite::types::Value {
        self.clone().into()
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
    fn mysql(&self) -> mysql::Value {
        self.as_str().into()
    }
}

impl Param for i32 {
    fn sqlite(&self) -> rusqlite::types::Value {
        i64::from(*self).into()
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
    fn mysql(&self) -> mysql::Value {
        (*self).into()
    }
}

fn hold(client: &mut Client, seat: i32, holder: &String, note: &String) -> Result<(), BoxError> {
    client.run("BEGIN", &[])?;
    client.run(
        "UPDATE seats SET holder = $1, note = $2 WHERE id = $3",
        &[holder, note, &seat],
    )?;
    client.run("COMMIT", &[])
}

/// The correct box office: one transaction, every value bound.
fn safe(op: &SeatOp, target: &Target) -> Result<(), BoxError> {
    let SeatOp::Hold { seat, holder, note } = op;
    hold(&mut Client::open(target)?, *seat as i32, holder, note)
}

/// A note command frees the seat's whole row, on a second connection.
fn row_release(op: &SeatOp, target: &Target) -> Result<(), BoxError> {
    let SeatOp::Hold { seat, holder, note } = op;
    hold(&mut Client::open(target)?, *seat as i32, holder, note)?;
    if note.to_lowercase().contains(RELEASE) {
        let mut second = Client::open(target)?;
        second.run(
            "UPDATE seats SET holder = NULL WHERE row_label = (SELECT row_label FROM (SELECT row_label FROM seats WHERE id = $1) s)",
            &[&(*seat as i32)],
        )?;
    }
    Ok(())
}

/// A logic slip: the note goes to every seat the same person holds.
fn same_holder(op: &SeatOp, target: &Target) -> Result<(), BoxError> {
    let SeatOp::Hold { seat, holder, note } = op;
    let mut c = Client::open(target)?;
    c.run(
        "UPDATE seats SET holder = $1 WHERE id = $2",
        &[holder, &(*seat as i32)],
    )?;
    c.run(
        "UPDATE seats SET note = $1 WHERE holder = $2",
        &[note, holder],
    )
}

/// Connections kept for later: a hold to confirm later stays in its transaction.
static POOL: Mutex<Vec<Client>> = Mutex::new(Vec::new());

/// A hold "confirmed later" is left inside an open transaction in the pool.
fn pending(op: &SeatOp, target: &Target) -> Result<(), BoxError> {
    let SeatOp::Hold { seat, holder, note } = op;
    let mut c = Client::open(target)?;
    if !note.contains(LATER) {
        return hold(&mut c, *seat as i32, holder, note);
    }
    c.run("BEGIN", &[])?;
    c.run(
        "UPDATE seats SET holder = $1 WHERE id = $2",
        &[holder, &(*seat as i32)],
    )?;
    POOL.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    Ok(())
}

struct Seats;

impl Harness for Seats {
    type Op = SeatOp;

    fn name(&self) -> &'static str {
        "seats"
    }

    fn fixture(&self) -> Fixture {
        Fixture::sql(SQLITE)
            .with_postgres(POSTGRES)
            .with_mysql(MYSQL)
    }

    fn policy(&self, op: &SeatOp, _db: &mut dyn Db) -> Result<Policy, DbError> {
        let SeatOp::Hold { seat, .. } = op;
        Ok(Policy::new("seats", "id")
            .key(*seat)
            .writable(["holder", "note"]))
    }

    fn versions(&self) -> Vec<Version<SeatOp>> {
        vec![
            Version::connected("safe", safe),
            Version::connected("row-release", row_release)
                .bug("command in free text", "a box-office command in the note"),
            Version::connected("same-holder", same_holder)
                .bug("logic slip", "a holder who holds another seat"),
            Version::connected("pending", pending)
                .bug("transaction left open", "a hold confirmed later"),
        ]
    }

    fn example(&self) -> SeatOp {
        SeatOp::Hold {
            seat: 3,
            holder: "dana".into(),
            note: "wheelchair space".into(),
        }
    }

    fn validate(&self, op: &SeatOp) -> Result<(), String> {
        let SeatOp::Hold { seat, .. } = op;
        match seat {
            1..=6 => Ok(()),
            _ => Err(format!("seat {seat}: the fixture has seats 1 to 6")),
        }
    }

    fn sources(&self) -> &'static [&'static str] {
        rowguard::sources!["examples"]
    }
}

fn main() -> std::process::ExitCode {
    rowguard::cli::main(vec![register(Seats)])
}

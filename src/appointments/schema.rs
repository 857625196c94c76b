//! The appointments schema and its deterministic fixture: one month (March
//! 2026) of a small clinic. Knows nothing about fuzzing or checking.
//!
//! Contract (DESIGN.md): at least 200 appointments, some in weekly series,
//! some one-off; appointment 7 is a one-off with reminders; `reminders` is a
//! WITHOUT ROWID table with ON DELETE CASCADE; an AFTER UPDATE trigger fills
//! `appointment_log`; foreign keys are on. No clock, no randomness: the same
//! size always gives the same rows.
//!
//! [`build`] fills a connection through prepared inserts; [`sql`] renders the
//! same rows as a SQL script (`rowguard schema`). A test checks both paths
//! give the same database.

use rusqlite::{params, Connection};

/// Appointments in the default fixture.
pub const DEFAULT_SIZE: usize = 240;
/// The default target appointment of `scan` and `check`.
pub const DEFAULT_TARGET: i64 = 7;
/// The month the fixture covers (31 days).
pub const MONTH: &str = "2026-03";
/// Settings every connection gets before anything runs.
pub const PRAGMAS: &str = "PRAGMA foreign_keys = ON;";

/// The DDL, in creation order.
pub const DDL: &str = "\
CREATE TABLE practitioners (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE clients (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  phone TEXT
);
CREATE TABLE appointments (
  id INTEGER PRIMARY KEY,
  practitioner_id INTEGER NOT NULL REFERENCES practitioners(id),
  client_id INTEGER NOT NULL REFERENCES clients(id),
  series_id INTEGER NULL,
  start_at TEXT NOT NULL,
  end_at TEXT NOT NULL,
  notes TEXT,
  reason TEXT,
  status TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX appointments_series ON appointments(series_id);
CREATE TABLE appointment_log (
  id INTEGER PRIMARY KEY,
  appointment_id INTEGER NOT NULL,
  changed_at TEXT,
  old_start_at TEXT,
  new_start_at TEXT,
  old_notes TEXT,
  new_notes TEXT
);
CREATE TABLE reminders (
  appointment_id INTEGER NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
  send_at TEXT NOT NULL,
  PRIMARY KEY (appointment_id, send_at)
) WITHOUT ROWID;
CREATE TRIGGER appointments_audit AFTER UPDATE ON appointments
BEGIN
  INSERT INTO appointment_log (appointment_id, changed_at, old_start_at, new_start_at, old_notes, new_notes)
  VALUES (NEW.id, NEW.updated_at, OLD.start_at, NEW.start_at, OLD.notes, NEW.notes);
END;
";

const PRACTITIONERS: [&str; 4] = [
    "Dr. Ada Okafor",
    "Dr. Ben Lindqvist",
    "Dr. Chen Wei",
    "Dr. Dana Ruiz",
];
const CLIENTS: usize = 40;
const STATUSES: [&str; 3] = ["booked", "confirmed", "cancelled"];
const NOTES: [&str; 6] = [
    "first visit",
    "bring previous x-rays",
    "prefers mornings",
    "follow-up",
    "",
    "allergic to latex",
];

/// One appointments row of the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: i64,
    pub practitioner_id: i64,
    pub client_id: i64,
    pub series_id: Option<i64>,
    pub start_at: String,
    pub end_at: String,
    pub notes: String,
    pub reason: Option<String>,
    pub status: &'static str,
    pub updated_at: &'static str,
}

/// `HH:MM` of a half-hour slot of the clinic day (slot 0 = 08:00, 19 = 17:30).
pub fn slot_time(slot: u8) -> String {
    let minutes = 8 * 60 + 30 * u32::from(slot);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `YYYY-MM-DD HH:MM` of a day of the fixture month and a slot.
pub fn timestamp(day: u8, slot: u8) -> String {
    format!("{MONTH}-{day:02} {}", slot_time(slot))
}

/// The i-th appointment (1-based) of the fixture. Eight a day; one in three
/// belongs to one of eight weekly series; the rest are one-off.
pub fn appointment(id: i64) -> Appointment {
    let i = id - 1;
    let day = (i / 8) % 31 + 1;
    let slot = (i % 8) * 2 + (i / 248) % 2;
    let series_id = (id % 3 == 0).then(|| (id % 24) / 3 + 1);
    Appointment {
        id,
        practitioner_id: id % 4 + 1,
        client_id: (id * 7) % CLIENTS as i64 + 1,
        series_id,
        start_at: timestamp(day as u8, slot as u8),
        end_at: timestamp(day as u8, slot as u8 + 1),
        notes: NOTES[(id % 6) as usize].to_string(),
        reason: (id % 5 != 0).then(|| format!("visit {}", id % 7)),
        status: STATUSES[(id % 7 % 3) as usize],
        updated_at: "2026-02-20 12:00",
    }
}

/// Reminders of an appointment: odd ids have two (day before 09:00, same day 07:00).
pub fn reminders(a: &Appointment) -> Vec<String> {
    if a.id % 2 == 0 {
        return Vec::new();
    }
    let day: u32 = a.start_at[8..10].parse().unwrap_or(1);
    let before = if day == 1 {
        "2026-02-28 09:00".to_string()
    } else {
        format!("{MONTH}-{:02} 09:00", day - 1)
    };
    vec![before, format!("{} 07:00", &a.start_at[..10])]
}

/// Opens an in-memory connection with the schema and a fixture of `size` appointments.
pub fn open(size: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    build(&conn, size)?;
    Ok(conn)
}

/// Creates the schema and inserts the fixture through prepared statements.
pub fn build(conn: &Connection, size: usize) -> rusqlite::Result<()> {
    conn.execute_batch(PRAGMAS)?;
    conn.execute_batch(DDL)?;
    conn.execute_batch("BEGIN")?;
    {
        let mut p = conn.prepare("INSERT INTO practitioners (id, name) VALUES (?1, ?2)")?;
        for (i, name) in PRACTITIONERS.iter().enumerate() {
            p.execute(params![i as i64 + 1, name])?;
        }
        let mut c = conn.prepare("INSERT INTO clients (id, name, phone) VALUES (?1, ?2, ?3)")?;
        for i in 1..=CLIENTS as i64 {
            c.execute(params![
                i,
                format!("Client {i:02}"),
                format!("555-01{i:02}")
            ])?;
        }
        let mut a = conn.prepare(
            "INSERT INTO appointments (id, practitioner_id, client_id, series_id, start_at, end_at, notes, reason, status, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut r =
            conn.prepare("INSERT INTO reminders (appointment_id, send_at) VALUES (?1, ?2)")?;
        for id in 1..=size as i64 {
            let x = appointment(id);
            a.execute(params![
                x.id,
                x.practitioner_id,
                x.client_id,
                x.series_id,
                x.start_at,
                x.end_at,
                x.notes,
                x.reason,
                x.status,
                x.updated_at
            ])?;
            for send_at in reminders(&x) {
                r.execute(params![x.id, send_at])?;
            }
        }
    }
    conn.execute_batch("COMMIT")
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt_lit(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), lit)
}

/// The complete SQL script (pragmas, DDL, fixture rows) that builds the fixture.
pub fn sql(size: usize) -> String {
    let mut out = format!("{PRAGMAS}\n{DDL}BEGIN;\n");
    for (i, name) in PRACTITIONERS.iter().enumerate() {
        out += &format!(
            "INSERT INTO practitioners (id, name) VALUES ({}, {});\n",
            i + 1,
            lit(name)
        );
    }
    for i in 1..=CLIENTS {
        out += &format!(
            "INSERT INTO clients (id, name, phone) VALUES ({i}, 'Client {i:02}', '555-01{i:02}');\n"
        );
    }
    for id in 1..=size as i64 {
        let x = appointment(id);
        out += &format!(
            "INSERT INTO appointments (id, practitioner_id, client_id, series_id, start_at, end_at, notes, reason, status, updated_at) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {});\n",
            x.id,
            x.practitioner_id,
            x.client_id,
            x.series_id.map_or_else(|| "NULL".to_string(), |s| s.to_string()),
            lit(&x.start_at),
            lit(&x.end_at),
            lit(&x.notes),
            opt_lit(x.reason.as_deref()),
            lit(x.status),
            lit(x.updated_at),
        );
        for send_at in reminders(&x) {
            out += &format!(
                "INSERT INTO reminders (appointment_id, send_at) VALUES ({}, {});\n",
                x.id,
                lit(&send_at)
            );
        }
    }
    out + "COMMIT;\n"
}

/// Every row of every table, as text, sorted: a comparable picture of a database.
pub fn dump(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\""))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let values = crate::guard::db::row_values(row)?;
            out.push(format!("{t}: {values:?}"));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_builds_the_same_database_as_the_library() -> rusqlite::Result<()> {
        let built = open(DEFAULT_SIZE)?;
        let scripted = Connection::open_in_memory()?;
        scripted.execute_batch(&sql(DEFAULT_SIZE))?;
        assert_eq!(dump(&built)?, dump(&scripted)?);
        let objects = "SELECT type, name, sql FROM sqlite_schema ORDER BY name";
        let schema = |c: &Connection| -> rusqlite::Result<Vec<(String, String, Option<String>)>> {
            c.prepare(objects)?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        };
        assert_eq!(schema(&built)?, schema(&scripted)?);
        Ok(())
    }

    #[test]
    fn fixture_matches_the_contract() -> rusqlite::Result<()> {
        let c = open(DEFAULT_SIZE)?;
        let count: i64 = c.query_row("SELECT count(*) FROM appointments", [], |r| r.get(0))?;
        assert!(count >= 200);
        let (series, reminders): (Option<i64>, i64) = c.query_row(
            "SELECT series_id, (SELECT count(*) FROM reminders WHERE appointment_id = 7) FROM appointments WHERE id = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!(series, None, "appointment 7 is a one-off");
        assert!(reminders > 0, "appointment 7 has reminders");
        let series_rows: i64 = c.query_row(
            "SELECT count(*) FROM appointments WHERE series_id IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        assert!(series_rows > 0 && series_rows < count);
        let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        assert_eq!(fk, 1);
        Ok(())
    }
}

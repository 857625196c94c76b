//! The appointments fixture on MariaDB/MySQL: the same tables, columns,
//! keys and rows as [`super::schema`] (SQLite), in MySQL's dialect. Text
//! columns are LONGTEXT (SQLite text has no width; `send_at` is a key, so a
//! VARCHAR), integer keys AUTO_INCREMENT (SQLite's rowid gives max + 1 and
//! so does the counter, which the guard puts back after an input moved it),
//! but `appointment_log`'s, which every reschedule writes: a BEFORE INSERT
//! trigger gives it max + 1, as SQLite does, and there is no counter to
//! put back after each input (an ALTER TABLE per input).
//! InnoDB runs foreign-key cascades without firing triggers, so the
//! reminders' ON DELETE CASCADE is a BEFORE DELETE trigger on appointments
//! (REPLACE's conflict delete fires it too) and the foreign key only
//! restricts; `strftime(format, time, modifier)` is SQLite's, for the one
//! form the pipelines use (NULL on bad input, as SQLite). `rowguard schema
//! --dialect mysql` prints [`sql`]; rows come from the very script SQLite runs.

use super::schema;

/// The DDL, in creation order (the database is the connection's).
pub const DDL: &str = "\
CREATE TABLE practitioners (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name LONGTEXT NOT NULL
) ENGINE=InnoDB;
CREATE TABLE clients (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name LONGTEXT NOT NULL,
  phone LONGTEXT
) ENGINE=InnoDB;
CREATE TABLE appointments (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  practitioner_id BIGINT NOT NULL REFERENCES practitioners(id),
  client_id BIGINT NOT NULL REFERENCES clients(id),
  series_id BIGINT NULL,
  start_at LONGTEXT NOT NULL,
  end_at LONGTEXT NOT NULL,
  notes LONGTEXT,
  reason LONGTEXT,
  status LONGTEXT NOT NULL,
  updated_at LONGTEXT NOT NULL,
  FOREIGN KEY (practitioner_id) REFERENCES practitioners(id),
  FOREIGN KEY (client_id) REFERENCES clients(id)
) ENGINE=InnoDB;
CREATE INDEX appointments_series ON appointments(series_id);
CREATE TABLE appointment_log (
  id BIGINT NOT NULL DEFAULT 0 PRIMARY KEY,
  appointment_id BIGINT NOT NULL,
  changed_at LONGTEXT,
  old_start_at LONGTEXT,
  new_start_at LONGTEXT,
  old_notes LONGTEXT,
  new_notes LONGTEXT
) ENGINE=InnoDB;
CREATE TABLE reminders (
  appointment_id BIGINT NOT NULL,
  send_at VARCHAR(255) NOT NULL,
  PRIMARY KEY (appointment_id, send_at),
  FOREIGN KEY (appointment_id) REFERENCES appointments(id)
) ENGINE=InnoDB;
CREATE TRIGGER appointment_log_id BEFORE INSERT ON appointment_log FOR EACH ROW
  SET NEW.id = IF(NEW.id = 0, (SELECT COALESCE(MAX(id), 0) + 1 FROM appointment_log), NEW.id);
CREATE TRIGGER appointments_audit AFTER UPDATE ON appointments FOR EACH ROW
  INSERT INTO appointment_log (appointment_id, changed_at, old_start_at, new_start_at, old_notes, new_notes)
  VALUES (NEW.id, NEW.updated_at, OLD.start_at, NEW.start_at, OLD.notes, NEW.notes);
CREATE TRIGGER appointments_cascade BEFORE DELETE ON appointments FOR EACH ROW
  DELETE FROM reminders WHERE appointment_id = OLD.id;
CREATE FUNCTION strftime(fmt LONGTEXT, ts LONGTEXT, modifier LONGTEXT) RETURNS LONGTEXT DETERMINISTIC
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION RETURN NULL;
  IF fmt IS NULL OR ts IS NULL OR fmt <> '%Y-%m-%d %H:%M' OR modifier NOT REGEXP '^[-+]?[0-9]+ days?$' THEN
    RETURN NULL;
  END IF;
  RETURN DATE_FORMAT(STR_TO_DATE(ts, '%Y-%m-%d %H:%i') + INTERVAL CAST(SUBSTRING_INDEX(modifier, ' ', 1) AS SIGNED) DAY,
    '%Y-%m-%d %H:%i');
END;
";

/// The complete MySQL script (DDL, then the fixture rows in one transaction).
pub fn sql(size: usize) -> String {
    let sqlite = schema::sql(size);
    let prefix = format!("{}\n{}", schema::PRAGMAS, schema::DDL);
    let rows = sqlite
        .strip_prefix(&prefix)
        .expect("schema::sql starts with the pragmas and the DDL");
    format!("{DDL}{rows}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_has_every_row_and_no_backslash() {
        let my = sql(schema::DEFAULT_SIZE);
        let inserts = |s: &str| s.lines().filter(|l| l.starts_with("INSERT")).count();
        assert_eq!(inserts(&my), inserts(&schema::sql(schema::DEFAULT_SIZE)));
        // MySQL reads a backslash in a literal as an escape: the rows must hold none.
        assert!(!my.contains('\\') && !my.contains("PRAGMA") && !my.contains("WITHOUT ROWID"));
    }
}

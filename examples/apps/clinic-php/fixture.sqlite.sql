-- The clinic's fixture (SQLite): the same tables as fixture.mysql.sql.
CREATE TABLE patients (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE appointments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  patient_id INTEGER NOT NULL REFERENCES patients(id),
  day TEXT NOT NULL,
  slot INTEGER NOT NULL,
  notes TEXT NOT NULL,
  updated_at TEXT
);
CREATE TABLE appointment_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  appointment_id INTEGER NOT NULL REFERENCES appointments(id),
  action TEXT NOT NULL,
  notes TEXT NOT NULL
);
INSERT INTO patients (id, name) VALUES
  (1, 'Alice Martin'), (2, 'Bruno Keller'), (3, 'Chloe Dubois'), (4, 'Dmitri Ivanov'), (5, 'Eva Lindqvist');
INSERT INTO appointments (id, patient_id, day, slot, notes) VALUES
  (1, 1, '2026-03-02', 3, 'first visit'),
  (2, 2, '2026-03-02', 5, ''),
  (3, 1, '2026-03-09', 3, 'follow-up, keep the whole month at 9:00'),
  (4, 3, '2026-03-10', 7, 'bring the x-rays'),
  (5, 2, '2026-03-16', 5, ''),
  (6, 4, '2026-03-17', 2, 'interpreter needed'),
  (7, 1, '2026-03-23', 3, ''),
  (8, 3, '2026-03-24', 8, 'called to confirm'),
  (9, 4, '2026-03-30', 2, ''),
  (10, 2, '2026-04-06', 5, 'moved from March'),
  (11, 5, '2026-04-07', 1, ''),
  (12, 5, '2026-04-14', 1, 'wheelchair access');

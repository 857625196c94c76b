-- The library's fixture (SQLite): members, their loans, the renewal log.
CREATE TABLE members (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE loans (
  id INTEGER PRIMARY KEY,
  member_id INTEGER NOT NULL REFERENCES members(id),
  title TEXT NOT NULL,
  due TEXT NOT NULL,
  renewals INTEGER NOT NULL DEFAULT 0,
  comment TEXT NOT NULL DEFAULT ''
);
CREATE TABLE renewal_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  loan_id INTEGER NOT NULL REFERENCES loans(id),
  weeks INTEGER NOT NULL,
  comment TEXT NOT NULL
);
INSERT INTO members (id, name) VALUES
  (1, 'Ada Byron'), (2, 'Brian Kernighan'), (3, 'Grace Hopper'), (4, 'Dennis Ritchie');
INSERT INTO loans (id, member_id, title, due, renewals, comment) VALUES
  (1, 2, 'The C Programming Language', '2025-12-19', 0, ''),
  (2, 1, 'Notes on the Analytical Engine', '2025-12-22', 1, 'renewed once over the holiday closure'),
  (3, 1, 'Structure and Interpretation of Computer Programs', '2026-01-09', 0, ''),
  (4, 3, 'A Manual of Operation for the Automatic Sequence Controlled Calculator', '2025-12-30', 2, 'reading room copy'),
  (5, 4, 'The UNIX Programming Environment', '2026-01-14', 0, ''),
  (6, 2, 'The Practice of Programming', '2025-12-23', 0, 'member asked for a reminder'),
  (7, 3, 'Compiling Routines', '2026-01-20', 1, ''),
  (8, 4, 'Lions'' Commentary on UNIX', '2025-12-27', 0, 'due back before inventory');
INSERT INTO renewal_log (loan_id, weeks, comment) VALUES (2, 2, 'renewed once over the holiday closure');

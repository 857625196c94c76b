-- The clinic's fixture (MariaDB / MySQL): patients, their appointments (the
-- month view), the log of changes.
CREATE TABLE patients (
  id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE appointments (
  id INT AUTO_INCREMENT PRIMARY KEY,
  patient_id INT NOT NULL,
  day DATE NOT NULL,
  slot INT NOT NULL,
  notes TEXT NOT NULL,
  updated_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE appointment_log (
  id INT AUTO_INCREMENT PRIMARY KEY,
  appointment_id INT NOT NULL,
  action VARCHAR(20) NOT NULL,
  notes TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
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

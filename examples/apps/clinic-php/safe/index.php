<?php
// The clinic, as it should be: a reschedule moves one appointment, every
// value a parameter of a prepared statement, and logs it.
declare(strict_types=1);
require __DIR__ . '/../app/common.php';

function reschedule(PDO $db, int $id, string $day, int $slot, string $notes): void
{
    q($db, 'UPDATE appointments SET day = ?, slot = ?, notes = ?, updated_at = ? WHERE id = ?', [$day, $slot, $notes, now(), $id]);
    q($db, 'INSERT INTO appointment_log (appointment_id, action, notes) VALUES (?, ?, ?)', [$id, 'reschedule', $notes]);
}

run('reschedule');

<?php
// The clinic with the reschedule written by hand: day and slot are checked,
// but the notes are pasted into the SQL text between quotes. A quote in
// the notes ends the string and the rest is SQL (SQL injection).
declare(strict_types=1);
require __DIR__ . '/../app/common.php';

function reschedule(PDO $db, int $id, string $day, int $slot, string $notes): void
{
    $sql = "UPDATE appointments SET day = '$day', slot = $slot, notes = '$notes', updated_at = '" . now() . "' WHERE id = $id";
    error_log('sql: ' . $sql);
    $db->exec($sql);
    q($db, 'INSERT INTO appointment_log (appointment_id, action, notes) VALUES (?, ?, ?)', [$id, 'reschedule', $notes]);
}

run('reschedule');

<?php
// The clinic with the month view's shortcut: notes that ask to keep the
// slot for the whole month move the patient's other appointments of that
// month to the same slot. The shortcut's WHERE compares patient_id with
// itself (meant: with the patient's id), so it moves every appointment of
// the month: a logic slip behind a few words of free text.
declare(strict_types=1);
require __DIR__ . '/../app/common.php';

function reschedule(PDO $db, int $id, string $day, int $slot, string $notes): void
{
    q($db, 'UPDATE appointments SET day = ?, slot = ?, notes = ?, updated_at = ? WHERE id = ?', [$day, $slot, $notes, now(), $id]);
    if (stripos($notes, 'whole month') !== false) {
        // same slot for the patient's whole month
        $first = substr($day, 0, 7) . '-01';
        $next = date('Y-m-d', strtotime("$first +1 month"));
        $patient = appointment($db, $id)['patient_id'];
        q($db, 'UPDATE appointments SET slot = ?, updated_at = ? WHERE day >= ? AND day < ? AND patient_id = patient_id', [$slot, now(), $first, $next]);
    }
    q($db, 'INSERT INTO appointment_log (appointment_id, action, notes) VALUES (?, ?, ?)', [$id, 'reschedule', $notes]);
}

run('reschedule');

<?php
// The clinic's month view: appointments of one month, and the requests that
// change one appointment. Every version shares this file; each one's
// index.php defines reschedule() (the code under test) and calls run().
//
// Served with PHP's built-in server, the version's index.php as the router:
//   php -S 127.0.0.1:8000 -t safe safe/index.php
// Its database, from the environment (rowguard's spec maps its own values):
//   CLINIC_DB=sqlite  CLINIC_DB_PATH=clinic.sqlite
//   CLINIC_DB=mysql   CLINIC_DB_HOST, CLINIC_DB_PORT, CLINIC_DB_USER,
//                     CLINIC_DB_PASSWORD, CLINIC_DB_NAME
// Each request opens its own connection (autocommit: each statement is
// committed) and every statement is written to stderr (`sql: ...`).
//
// Routes:
//   GET  /?month=YYYY-MM                  the month view (text)
//   POST /appointments/{id}/reschedule    form: day (YYYY-MM-DD), slot (1-16), notes
//   POST /appointments/{id}/notes         form: notes

declare(strict_types=1);

final class HttpError extends Exception {}

function db(): PDO
{
    $options = [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC];
    $kind = getenv('CLINIC_DB') ?: 'sqlite';
    if ($kind === 'mysql') {
        $dsn = sprintf(
            'mysql:host=%s;port=%s;dbname=%s;charset=utf8mb4',
            getenv('CLINIC_DB_HOST') ?: '127.0.0.1',
            getenv('CLINIC_DB_PORT') ?: '3306',
            getenv('CLINIC_DB_NAME') ?: 'clinic'
        );
        return new PDO($dsn, getenv('CLINIC_DB_USER') ?: 'clinic', getenv('CLINIC_DB_PASSWORD') ?: '', $options);
    }
    if ($kind === 'sqlite') {
        $path = getenv('CLINIC_DB_PATH') ?: 'clinic.sqlite';
        if (!is_file($path)) {
            throw new HttpError("no database file $path", 500);
        }
        $db = new PDO('sqlite:' . $path, null, null, $options);
        $db->exec('PRAGMA busy_timeout = 5000');
        return $db;
    }
    throw new HttpError("CLINIC_DB=$kind: sqlite or mysql", 500);
}

/** Runs one statement with its parameters, written to stderr first. */
function q(PDO $db, string $sql, array $params = []): PDOStatement
{
    error_log('sql: ' . $sql . ($params ? ' ' . json_encode($params, JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE) : ''));
    $stmt = $db->prepare($sql);
    $stmt->execute($params);
    return $stmt;
}

/** The appointment `$id`, or a 404. */
function appointment(PDO $db, int $id): array
{
    $row = q($db, 'SELECT id, patient_id, day, slot, notes FROM appointments WHERE id = ?', [$id])->fetch();
    if (!$row) {
        throw new HttpError("no appointment $id", 404);
    }
    return $row;
}

function now(): string
{
    return date('Y-m-d H:i:s');
}

/** A day of the calendar (YYYY-MM-DD), or a 400. */
function day_field(string $day): string
{
    if (!preg_match('/^(\d{4})-(\d{2})-(\d{2})$/', $day, $m) || !checkdate((int) $m[2], (int) $m[3], (int) $m[1])) {
        throw new HttpError('day: YYYY-MM-DD', 400);
    }
    return $day;
}

/** A slot of the day (1-16), or a 400. */
function slot_field(string $slot): int
{
    if (!preg_match('/^\d{1,2}$/', $slot) || (int) $slot < 1 || (int) $slot > 16) {
        throw new HttpError('slot: 1 to 16', 400);
    }
    return (int) $slot;
}

function month_view(PDO $db, string $month): string
{
    if (!preg_match('/^\d{4}-\d{2}$/', $month)) {
        throw new HttpError('month: YYYY-MM', 400);
    }
    $rows = q(
        $db,
        'SELECT a.id, a.day, a.slot, p.name, a.notes FROM appointments a JOIN patients p ON p.id = a.patient_id
         WHERE a.day >= ? AND a.day < ? ORDER BY a.day, a.slot',
        ["$month-01", date('Y-m-d', strtotime("$month-01 +1 month"))]
    )->fetchAll();
    $out = "appointments of $month\n";
    foreach ($rows as $r) {
        $out .= sprintf("%s slot %2d  #%d %s  %s\n", $r['day'], $r['slot'], $r['id'], $r['name'], $r['notes']);
    }
    return $out;
}

function answer(int $status, $body): void
{
    http_response_code($status);
    if (is_string($body)) {
        header('Content-Type: text/plain; charset=utf-8');
        echo $body;
    } else {
        header('Content-Type: application/json');
        echo json_encode($body, JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
    }
}

/** Serves one request; `reschedule` is the version's. */
function run(callable $reschedule): void
{
    $method = $_SERVER['REQUEST_METHOD'];
    $path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/';
    try {
        if ($method === 'GET' && $path === '/') {
            answer(200, month_view(db(), (string) ($_GET['month'] ?? '2026-03')));
            return;
        }
        if ($method === 'POST' && preg_match('#^/appointments/(\d+)/(reschedule|notes)$#', $path, $m)) {
            $db = db();
            $id = (int) $m[1];
            appointment($db, $id);
            $notes = (string) ($_POST['notes'] ?? '');
            if ($m[2] === 'reschedule') {
                $reschedule($db, $id, day_field((string) ($_POST['day'] ?? '')), slot_field((string) ($_POST['slot'] ?? '')), $notes);
            } else {
                q($db, 'UPDATE appointments SET notes = ?, updated_at = ? WHERE id = ?', [$notes, now(), $id]);
            }
            answer(200, appointment($db, $id));
            return;
        }
        throw new HttpError("no route $method $path", 404);
    } catch (HttpError $e) {
        answer($e->getCode(), ['error' => $e->getMessage()]);
    } catch (PDOException $e) {
        error_log('error: ' . $e->getMessage());
        answer(500, ['error' => 'database: ' . $e->getMessage()]);
    }
}

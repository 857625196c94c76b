//! What a [`super::PgGuard`] reads after every call, in one round trip,
//! and what counts as tampering: the role, the transaction (still the
//! input's?), the capture triggers (all there and enabled?), temporary
//! objects, the session settings the guard relies on, and the new rows of
//! the change log. Also the settings the app role starts with.

use postgres::SimpleQueryMessage;

use crate::server::judge::LogRow;

/// Settings on the app role. `temp_file_limit` (kB) only a superuser can
/// change; the others any role can, so [`WATCHED`] checks them after every call.
pub(crate) const ROLE_SETTINGS: [(&str, &str); 6] = [
    ("statement_timeout", "3000"),
    ("lock_timeout", "1000"),
    ("temp_file_limit", "65536"),
    ("work_mem", "4096"),
    ("hash_mem_multiplier", "1"),
    ("client_connection_check_interval", "1000"),
];

/// Session settings the guard depends on; a call that changes one is a finding.
pub(super) const WATCHED: [&str; 8] = [
    "statement_timeout",
    "lock_timeout",
    "work_mem",
    "hash_mem_multiplier",
    "maintenance_work_mem",
    "client_connection_check_interval",
    "idle_in_transaction_session_timeout",
    "search_path",
];

/// What the guard read after a call.
pub(super) struct Status {
    pub(super) user: String,
    pub(super) session_user: String,
    pub(super) in_input: bool,
    pub(super) xid: String,
    pub(super) temp: i64,
    pub(super) triggers: usize,
    pub(super) settings: String,
    pub(super) rows: Vec<LogRow>,
    pub(super) last_seq: i64,
}

/// `concat_ws` of the [`WATCHED`] settings.
pub(super) fn watched_sql() -> String {
    let parts: Vec<String> = WATCHED
        .iter()
        .map(|w| format!("pg_catalog.current_setting('{w}')"))
        .collect();
    format!("pg_catalog.concat_ws(' | ', {})", parts.join(", "))
}

/// The status query of [`PgGuard::collect`] (one row).
pub(super) fn status_sql() -> String {
    format!(
        "SELECT current_user::text, session_user::text, rowguard.in_input()::text, pg_catalog.pg_current_xact_id()::text, \
         (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())::text, \
         (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgname IN ('rowguard_log', 'rowguard_input', 'rowguard_truncate', 'deny_commit') AND tgenabled = 'O')::text, \
         {}",
        watched_sql()
    )
}

/// The status row, then the log rows after `after`.
pub(super) fn parse_status(messages: Vec<SimpleQueryMessage>, after: i64) -> Status {
    let mut part = 0;
    let mut s = Status {
        user: String::new(),
        session_user: String::new(),
        in_input: false,
        xid: String::new(),
        temp: 0,
        triggers: 0,
        settings: String::new(),
        rows: Vec::new(),
        last_seq: after,
    };
    for m in messages {
        match m {
            SimpleQueryMessage::CommandComplete(_) => part += 1,
            SimpleQueryMessage::Row(r) if part == 0 => {
                let g = |i: usize| r.get(i).unwrap_or("").to_string();
                s.user = g(0);
                s.session_user = g(1);
                s.in_input = g(2) == "true";
                s.xid = g(3);
                s.temp = g(4).parse().unwrap_or(0);
                s.triggers = g(5).parse().unwrap_or(0);
                s.settings = g(6);
            }
            SimpleQueryMessage::Row(r) if part == 1 => {
                if let Some(seq) = r.get(0).and_then(|q| q.parse::<i64>().ok()) {
                    s.last_seq = s.last_seq.max(seq);
                }
                s.rows.push((
                    r.get(1).unwrap_or("").to_string(),
                    r.get(2).map(str::to_string),
                    r.get(3).map(str::to_string),
                ));
            }
            _ => {}
        }
    }
    s
}

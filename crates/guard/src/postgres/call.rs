//! One call of the code under test on PostgreSQL: the guard's savepoint,
//! the call itself (a batch whole, or one statement with bound values)
//! under the watchdog's clock, then the reading of what it did
//! ([`super::status`]) and the judgement of every changed row against the
//! policy. A call that ended or broke the input's transaction is a finding
//! and the guard begins a new one.

use postgres::Client;

use super::status::{parse_status, Status, WATCHED};
use super::{db_error, error_kind, lex, one_line, run, setup, values, PgGuard, CALL_LIMIT};
use crate::policy::TableInfo;
use crate::server::call::{self, Call, Ran, ServerCall};
use crate::server::judge::{self, LogRow};
use crate::{Api, DbError, ErrorClass, Finding, Kind, StatementCheck, Value};

impl PgGuard {
    /// Runs one call: a batch whole (the server splits it), anything else
    /// alone with bound values. A cached statement the code under test
    /// deallocated (`DEALLOCATE ALL`) is prepared again once.
    pub(super) fn run_one(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
    ) -> Result<Ran, postgres::Error> {
        if api == Api::ExecuteBatch {
            // Rows are read and dropped as they come: a batch that selects
            // millions holds none of them in memory.
            return self.conn().batch_execute(sql).map(|()| Ran::Done);
        }
        let ran = self.run_prepared(api, sql, params);
        match &ran {
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "26000") => {
                self.statements.clear();
                self.run_prepared(api, sql, params)
            }
            _ => ran,
        }
    }

    pub(super) fn run_prepared(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
    ) -> Result<Ran, postgres::Error> {
        let stmt = self.prepared(sql)?;
        let conn = self.conn();
        values::with_bound(params, |refs| match api {
            // The first row only; the rest stream past (never all in memory).
            Api::QueryRow => {
                let mut rows = conn.query_raw(&stmt, refs.iter().copied())?;
                match postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
                    Some(r) => Ok(Ran::Row(values::row_values(&r)?)),
                    None => Ok(Ran::Done),
                }
            }
            _ => Ok(Ran::Rows(conn.execute(&stmt, refs)? as usize)),
        })
    }

    /// The call's savepoint, in the round trip that releases the previous
    /// call's: released after the previous call was read, so a call that
    /// releases or rolls back the guard's savepoint hides none of its writes,
    /// and is found here (a finding on this call; a new input transaction).
    pub(super) fn open_savepoint(&mut self, check: &mut StatementCheck) -> Result<(), DbError> {
        let sql = if self.savepoint_open {
            "RELEASE SAVEPOINT rowguard_statement; SAVEPOINT rowguard_statement"
        } else {
            "SAVEPOINT rowguard_statement"
        };
        if self.own(sql).is_err() {
            if let Some(f) = &self.fatal {
                return Err(DbError::new(ErrorClass::Other, f.clone()));
            }
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the previous statement released or rolled back the guard's savepoint (savepoint control): denied; the guard began a new transaction".to_string(),
            ));
            self.restart_input()?;
            self.own("SAVEPOINT rowguard_statement")?;
        }
        self.savepoint_open = true;
        Ok(())
    }

    /// After a call: undoes it when it failed, then in one round trip reads
    /// its log rows and checks the role, the transaction, the capture, the
    /// temporary objects and the settings. Any of these tampered with is a
    /// finding; an input transaction the call ended (or broke) is replaced
    /// by a new one.
    pub(super) fn collect(
        &mut self,
        check: &mut StatementCheck,
        failed: bool,
    ) -> Result<(), DbError> {
        let rolled_back = !failed || self.own("ROLLBACK TO SAVEPOINT rowguard_statement").is_ok();
        let status = if rolled_back {
            let sql = format!(
                "{}; SELECT * FROM rowguard.read({})",
                self.status_sql, self.read_after
            );
            self.own(&sql)
                .ok()
                .map(|m| parse_status(m, self.read_after))
        } else {
            None
        };
        if self.fatal.is_some() {
            return Err(DbError::new(
                ErrorClass::Other,
                self.fatal.clone().unwrap_or_default(),
            ));
        }
        let xid = self.xid.clone();
        let ended = |s: &Status| !(s.in_input && s.xid == xid);
        let status = match status {
            Some(s) if ended(&s) => {
                // A transaction of the code's own (it can write only when
                // marked as an input, and then never commit): judged too.
                self.judge(check, s.rows);
                None
            }
            other => other,
        };
        let Some(status) = status else {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement ended or broke the input's transaction (COMMIT, ROLLBACK or savepoint control): denied; the guard began a new one".to_string(),
            ));
            return self.restart_input();
        };
        self.read_after = status.last_seq;
        if status.user != self.objects.app || status.session_user != self.objects.app {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!(
                    "the statement changed the role to `{}` (session `{}`): denied",
                    status.user, status.session_user
                ),
            ));
        }
        if status.triggers != setup::capture_triggers(&self.tables) + 1 {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement disabled or dropped the guard's capture triggers".to_string(),
            ));
        }
        if status.temp > 0 {
            check.add(Finding::new(
                Kind::SchemaChange,
                format!("the statement created {} temporary object(s)", status.temp),
            ));
        }
        if !judge::settings_kept(check, &WATCHED, &self.baseline, &status.settings) {
            self.own("RESET ALL")?;
        }
        self.judge(check, status.rows);
        Ok(())
    }

    /// The log rows after [`PgGuard::read_after`] that a denied COMMIT
    /// reported in its error's DETAIL (the rollback that followed erased them).
    pub(super) fn denied_commit_rows(&self, db: &postgres::error::DbError) -> Option<Vec<LogRow>> {
        if db.code().code() != "P0001" || !db.message().starts_with("rowguard: COMMIT") {
            return None;
        }
        let rows: Vec<(String, String, Option<String>, Option<String>)> =
            serde_json::from_str(db.detail()?).ok()?;
        Some(
            rows.into_iter()
                .filter(|r| r.0.parse::<i64>().is_ok_and(|seq| seq > self.read_after))
                .map(|(_, tbl, old, new)| (tbl, old, new))
                .collect(),
        )
    }

    /// A new input transaction after the code under test ended the old one.
    pub(super) fn restart_input(&mut self) -> Result<(), DbError> {
        self.savepoint_open = false;
        let messages = self.own("ROLLBACK; RESET ALL; BEGIN; SELECT rowguard.begin()")?;
        self.xid = run::rows(messages)
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        Ok(())
    }

    /// Compares logged row changes with the policy (as the SQLite backend does).
    pub(super) fn judge(&mut self, check: &mut StatementCheck, rows: Vec<LogRow>) {
        let cells =
            |image: Option<&str>, table: &TableInfo| values::cells_of_image(image, &table.columns);
        self.judging
            .judge(check, &self.tables, rows, cells, |_| None);
    }
}

impl ServerCall for PgGuard {
    fn server_text(compiled: &str, params: &[Value]) -> (String, Vec<Value>) {
        (
            lex::dollar_params(compiled, !params.is_empty()),
            params.to_vec(),
        )
    }

    fn run(&mut self, call: Call<'_>) -> Result<Ran, DbError> {
        let (check, api, text, params) = call;
        let firsts = call::first_words(lex::statements(text), lex::leading_words);
        // COPY switches the protocol to a data stream the client would have to
        // serve (FROM STDIN) or swallow (TO STDOUT): refused before it is sent.
        // A COPY this reading misses breaks the connection: an error, never clean.
        if let Some(copy) = firsts.iter().find(|w| w.split(' ').next() == Some("copy")) {
            let why = format!("`{copy} ...`: COPY reads or writes outside SQL (files, programs, the client's streams): denied, not sent");
            check.add(Finding::new(Kind::ForbiddenAction, why.clone()));
            check.accesses = firsts.into_iter().collect();
            return Err(DbError::new(ErrorClass::Denied, why));
        }
        check.accesses = firsts.into_iter().collect();
        let run = lex::longest_operator_run(text);
        if run > lex::MAX_OPERATOR_RUN {
            let why = format!(
                "a run of {run} operator characters (more than {}): PostgreSQL's lexer takes quadratic time on it and cannot be interrupted; not sent",
                lex::MAX_OPERATOR_RUN
            );
            check.add(Finding::new(Kind::ResourceLimit, why.clone()));
            return Err(DbError::new(ErrorClass::Limit, why));
        }
        let (limit, clock) = call::clock(check, self.input_deadline, CALL_LIMIT)?;
        self.open_savepoint(check)?;
        self.watchdog.arm(limit);
        let ran = self.run_one(api, text, params);
        call::past_its_limit(check, self.watchdog.disarm(), clock, "cancelled");
        let result = match ran {
            Ok(r) => Ok(r),
            Err(e) => {
                let message = call::unless_signalled(&mut self.fatal, one_line(&e))?;
                if e.as_db_error().is_none() && self.conn.as_ref().is_some_and(Client::is_closed) {
                    self.fatal = Some(message.clone());
                    return Err(DbError::new(ErrorClass::Other, message));
                }
                check.error = Some(message.clone());
                let kind = match e.as_db_error() {
                    Some(db) => error_kind(db.code().code(), db.message(), !params.is_empty()),
                    // Client-side: a value that cannot be bound to the parameter's type.
                    None => Some(Kind::SqlError),
                };
                if let Some(kind) = kind {
                    check.add(Finding::new(kind, message.clone()));
                }
                if let Some(rows) = e.as_db_error().and_then(|d| self.denied_commit_rows(d)) {
                    // What the transaction wrote before the denied COMMIT undid it.
                    self.judge(check, rows);
                }
                Err(db_error(&e))
            }
        };
        // The guard's own reading has a clock of its own: a call that used up
        // its time cannot make the reading fail (and look like tampering).
        self.watchdog.arm(CALL_LIMIT);
        let collected = self.collect(check, result.is_err());
        self.watchdog.disarm();
        collected?;
        call::answer(api, result)
    }
}

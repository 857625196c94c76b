//! One call of the code under test on MariaDB/MySQL: the call itself (a
//! batch whole through the text protocol, anything else alone as a
//! prepared statement with bound values) under the watchdog's clock, then
//! the reading of what it did (one round trip: the last statement's
//! warnings, whether the input's XA transaction is still open, the watched
//! settings, the server's count of statements cut at the time bound, the
//! new change-log rows) and the judgement of every changed row against the
//! policy.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::{
    code, db_error, error_kind, lex, one_line, run, text_of, values, MyGuard, CALL_LIMIT, PINNED,
    TIME_CUTS, WATCHED,
};
use crate::policy::TableInfo;
use crate::server::call::{self, Call, Ran, ServerCall};
use crate::server::judge::{self, LogRow};
use crate::{Api, DbError, ErrorClass, Finding, Kind, StatementCheck, Value};

/// What the round trip after a call read.
#[derive(Default)]
struct Read {
    /// The call's last statement's warnings and errors: (code, message).
    warnings: Vec<(u16, String)>,
    /// `@@in_transaction`.
    open: String,
    /// The session's [`TIME_CUTS`], when it was read.
    time_cuts: Option<String>,
    /// A server error stopped the reading after the status row.
    incomplete: bool,
    /// The [`WATCHED`] settings, joined.
    settings: String,
    /// The change log after the last row read before, in the sequence's order.
    log: Vec<LogRow>,
    /// The sequence value of the last of them.
    last: i64,
}

/// What a warning (or a note of an error the statement swallowed) says cut
/// the statement short, if it does: an interrupted query (`DO SLEEP(n)`
/// reports success), or a recursive CTE stopped at `max_recursive_iterations`
/// with a result that may be incomplete.
fn cut_short(code: u16) -> Option<&'static str> {
    match code {
        1317 | 1969 | 3024 => Some("interrupted"),
        1931 => Some("max_recursive_iterations"),
        _ => None,
    }
}

impl MyGuard {
    /// Runs one call: a batch whole (the server splits it; every result
    /// set is read and dropped as it comes), anything else prepared.
    fn run_one(&mut self, api: Api, sql: &str, params: &[Value]) -> mysql::Result<Ran> {
        let conn = self.conn();
        if api == Api::ExecuteBatch {
            let mut result = conn.query_iter(sql)?;
            while let Some(set) = result.iter() {
                for row in set {
                    row?;
                }
            }
            return Ok(Ran::Done);
        }
        let mut result = conn.exec_iter(sql, values::params(params))?;
        let mut ran = Ran::Done;
        if let Some(set) = result.iter() {
            let affected = set.affected_rows();
            for row in set {
                let row = row?;
                if api == Api::QueryRow && matches!(ran, Ran::Done) {
                    ran = Ran::Row(values::row_values(&row));
                }
            }
            if api == Api::Execute {
                ran = Ran::Rows(affected as usize);
            }
        }
        while let Some(set) = result.iter() {
            for row in set {
                row?;
            }
        }
        Ok(ran)
    }

    /// After a call, in one round trip: what the server said about the
    /// call's last statement (its warnings, when it counted any), is the
    /// input's transaction open, did a watched setting change, the new
    /// change-log rows and, after a `long` call, did the server cut a
    /// statement at its time bound. A cut
    /// statement is a `resource-limit` finding; a closed transaction or a
    /// changed setting is a finding (the transaction begun again, the
    /// session reset); the log rows not judged before are judged.
    fn collect(
        &mut self,
        check: &mut StatementCheck,
        long: bool,
        warned: bool,
    ) -> Result<(), DbError> {
        // The rows after the last one read, in the sequence's order. An
        // explicit LIMIT is above any sql_select_limit.
        let log = format!(
            "SELECT seq, tbl, old, new FROM {}.rowguard_log WHERE seq > {} ORDER BY seq LIMIT 18446744073709551615",
            run::ident(&self.objects.database),
            self.read_after
        );
        let mut sql = format!("{}; {log}", self.status_sql);
        if long {
            sql += &format!("; {TIME_CUTS}");
        }
        if warned {
            sql = format!("SHOW WARNINGS; {sql}");
        }
        let mut read = self.read_status(&sql, warned)?;
        if read.incomplete || read.settings != self.baseline {
            // The session's bounds may have cut the reading: again, pinned.
            let again = self
                .own(&format!("{PINNED}{log}; {PINNED}{TIME_CUTS}"))
                .map_err(|e| {
                    self.fatal = Some(e.message.clone());
                    DbError::new(
                        ErrorClass::Other,
                        format!("reading what the call did: {}", e.message),
                    )
                })?;
            read.log = again
                .iter()
                .filter(|r| r.len() == 4)
                .map(|r| {
                    let seq = r[0].as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
                    read.last = read.last.max(seq);
                    (r[1].clone().unwrap_or_default(), r[2].clone(), r[3].clone())
                })
                .collect();
            read.time_cuts = again
                .iter()
                .find(|r| r.len() == 1)
                .and_then(|r| r[0].clone());
        }
        // One `resource-limit` per call: the server's error, the watchdog's or these.
        let limited = |c: &StatementCheck| c.findings.iter().any(|f| f.kind == Kind::ResourceLimit);
        for (code, message) in &read.warnings {
            if let Some(why) = cut_short(*code).filter(|_| !limited(check)) {
                check.add(Finding::new(
                    Kind::ResourceLimit,
                    format!("the server cut the statement short ({why}): {message}"),
                ));
            }
        }
        let cuts_before = match &read.time_cuts {
            Some(now) => self.time_cuts.replace(now.clone()),
            None => None,
        };
        if cuts_before.is_some_and(|b| Some(b) != read.time_cuts) && !limited(check) {
            check.add(Finding::new(
                Kind::ResourceLimit,
                format!(
                    "a statement ran past the statement time limit of {} s: the server cut it \
                     (even where the statement then reported success)",
                    super::STATEMENT_TIMEOUT_S
                ),
            ));
        }
        let (open, settings) = (read.open, read.settings);
        if open != "1" {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement ended or broke the input's transaction: denied; the guard began a new one".to_string(),
            ));
        }
        self.read_after = self.read_after.max(read.last);
        self.judge(check, read.log);
        let kept = judge::settings_kept(check, &WATCHED, &self.baseline, &settings);
        if open != "1" || !kept {
            self.roll_back()
                .map_err(|e| DbError::new(ErrorClass::Other, e.to_string()))?;
            let deadline = self.input_deadline;
            crate::Backend::begin_input(self)
                .map_err(|e| DbError::new(ErrorClass::Other, e.to_string()))?;
            self.input_deadline = deadline;
        }
        Ok(())
    }

    /// The round trip of [`MyGuard::collect`], read.
    fn read_status(&mut self, sql: &str, warnings: bool) -> Result<Read, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        let mut read = Read::default();
        // Without SHOW WARNINGS first, the status row is the first part.
        let mut part = usize::from(!warnings);
        let ran = (|| -> mysql::Result<()> {
            let mut result = self.conn().query_iter(sql)?;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row?;
                    let cell = |i: usize| text_of(row.as_ref(i));
                    match part {
                        0 => read.warnings.push((
                            cell(1).and_then(|c| c.parse().ok()).unwrap_or(0),
                            cell(2).unwrap_or_default(),
                        )),
                        1 => {
                            read.open = cell(0).unwrap_or_default();
                            read.settings = cell(1).unwrap_or_default();
                        }
                        2 => {
                            let seq = cell(0).and_then(|s| s.parse().ok()).unwrap_or(0);
                            read.last = read.last.max(seq);
                            read.log
                                .push((cell(1).unwrap_or_default(), cell(2), cell(3)));
                        }
                        _ => read.time_cuts = cell(0),
                    }
                }
                part += 1;
            }
            Ok(())
        })();
        if let Err(e) = ran {
            // A server error once the status row is in (a bound the session
            // lowered refused the reading): the caller reads again, pinned.
            if part >= 2 && code(&e).is_some() {
                read.incomplete = true;
                return Ok(read);
            }
            let message = one_line(&e);
            self.fatal = Some(message.clone());
            return Err(DbError::new(
                ErrorClass::Other,
                format!("reading what the call did: {message}"),
            ));
        }
        Ok(read)
    }

    /// Compares logged row changes with the policy (as the SQLite backend does).
    fn judge(&mut self, check: &mut StatementCheck, rows: Vec<LogRow>) {
        let cells = |image: Option<&str>, table: &TableInfo| {
            values::cells_of_image(image, table.columns.len())
        };
        // The undo statements double quotes and keep backslashes as they are.
        let prelude = |undos: &[String]| {
            undos.iter().any(|u| u.contains('\\')).then(|| {
                "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');".to_string()
            })
        };
        self.judging
            .judge(check, &self.tables, rows, cells, prelude);
    }
}

impl ServerCall for MyGuard {
    fn server_text(compiled: &str, params: &[Value]) -> (String, Vec<Value>) {
        lex::question_params(compiled, params)
    }

    fn run(&mut self, call: Call<'_>) -> Result<Ran, DbError> {
        let (check, api, text, params) = call;
        let firsts = call::first_words(lex::statements(text), lex::leading_words);
        check.accesses = firsts.into_iter().collect();
        let (limit, clock) = call::clock(check, self.input_deadline, CALL_LIMIT)?;
        self.watchdog.arm(limit);
        let started = Instant::now();
        let ran = self.run_one(api, text, params);
        // Only a call this long can hold a statement the server cut at its bound.
        let long = started.elapsed() + Duration::from_millis(100)
            >= Duration::from_secs(super::STATEMENT_TIMEOUT_S);
        // The server counts the last statement's warnings in its last packet:
        // only then is SHOW WARNINGS worth its part of the round trip.
        let warned = ran.is_err() || self.conn.as_ref().is_none_or(|c| c.warnings() > 0);
        call::past_its_limit(check, self.watchdog.disarm(), clock, "killed the query of");
        let result = match ran {
            Ok(r) => Ok(r),
            Err(e) => {
                let message = call::unless_signalled(&mut self.fatal, one_line(&e))?;
                match code(&e) {
                    Some(c) => {
                        check.error = Some(message.clone());
                        check.add(Finding::new(error_kind(c, text), message));
                    }
                    // Client side: a broken connection, or a value it could not read.
                    None => {
                        self.fatal = Some(message.clone());
                        return Err(DbError::new(ErrorClass::Other, message));
                    }
                }
                Err(db_error(&e))
            }
        };
        let asked: Vec<String> =
            std::mem::take(&mut *self.infile.lock().unwrap_or_else(|e| e.into_inner()));
        for file in asked {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!(
                    "LOAD DATA LOCAL asked the client for the file {file:?}: denied, nothing sent"
                ),
            ));
        }
        self.watchdog.arm(CALL_LIMIT);
        let collected = self.collect(check, long, warned);
        self.watchdog.disarm();
        collected?;
        call::answer(api, result)
    }
}

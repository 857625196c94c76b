//! One call of the code under test on MariaDB/MySQL: the call itself (a
//! batch whole through the text protocol, anything else alone as a
//! prepared statement with bound values) under the watchdog's clock, then
//! the reading of what it did (one round trip: whether the input's XA
//! transaction is still open, the watched settings, the new log rows) and
//! the judgement of every changed row against the policy.

use std::collections::BTreeSet;
use std::time::Instant;

use mysql::prelude::Queryable;

use super::{
    code, db_error, error_kind, lex, one_line, run, text_of, values, MyGuard, Ran, CALL_LIMIT,
    INPUT_TIME, WATCHED,
};
use crate::interrupt;
use crate::policy::{undo, RowChange};
use crate::postgres::watchdog::Acted;
use crate::static_check::{compiled_text, Dialect};
use crate::{Api, DbError, ErrorClass, Finding, Kind, StatementCheck, Value};

/// One logged row change: table, old and new image.
type LogRow = (String, Option<String>, Option<String>);

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

    /// Checks and runs one call under the watchdog.
    pub(super) fn guarded(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
    ) -> Result<Ran, DbError> {
        if interrupt::requested() && self.fatal.is_none() {
            self.fatal = Some("interrupted by a signal".into());
        }
        let (compiled, tail) = compiled_text(sql);
        let (text, ordered) = lex::question_params(compiled, params);
        let mut check = StatementCheck::new(api, sql, params, tail);
        let template = self.next_template();
        let view = self.memo.view(
            &text,
            Dialect::Mysql,
            &self.policy,
            template.as_ref().and_then(|t| t.as_deref()),
        );
        check.add_static(&view, &template, tail, "sent to the server");
        self.last_view = view;
        let result = self.run_dynamic(&mut check, api, &text, &ordered);
        self.verdict.statements.push(check);
        result
    }

    fn run_dynamic(
        &mut self,
        check: &mut StatementCheck,
        api: Api,
        text: &str,
        params: &[Value],
    ) -> Result<Ran, DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        // Feedback only (which statements the text starts): never what runs.
        let firsts: BTreeSet<String> = lex::statements(text)
            .iter()
            .map(|p| lex::leading_words(p, 2).join(" ").to_ascii_lowercase())
            .collect();
        check.accesses = firsts.into_iter().collect();
        let now = Instant::now();
        let deadline = self.input_deadline.unwrap_or(now + CALL_LIMIT);
        let (limit, clock) = if deadline < now + CALL_LIMIT {
            (
                deadline.saturating_duration_since(now),
                ("input", INPUT_TIME),
            )
        } else {
            (CALL_LIMIT, ("call", CALL_LIMIT))
        };
        if limit.is_zero() {
            let why = format!(
                "the input ran past its wall-clock limit of {} ms: not sent",
                INPUT_TIME.as_millis()
            );
            check.add(Finding::new(Kind::ResourceLimit, why.clone()));
            return Err(DbError::new(ErrorClass::Limit, why));
        }
        self.watchdog.arm(limit);
        let ran = self.run_one(api, text, params);
        let acted = self.watchdog.disarm();
        if acted != Acted::Nothing && !interrupt::requested() {
            let what = if acted == Acted::Cancelled {
                "killed the query of"
            } else {
                "ended the connection of"
            };
            check.add(Finding::new(
                Kind::ResourceLimit,
                format!(
                    "the {} ran past its wall-clock limit of {} ms: the guard {what} it",
                    clock.0,
                    clock.1.as_millis()
                ),
            ));
        }
        let result = match ran {
            Ok(r) => Ok(r),
            Err(e) => {
                let message = one_line(&e);
                if interrupt::requested() {
                    self.fatal = Some("interrupted by a signal".into());
                    return Err(DbError::new(ErrorClass::Other, message));
                }
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
        let collected = self.collect(check);
        self.watchdog.disarm();
        collected?;
        match result {
            Ok(Ran::Done) if api == Api::QueryRow => Err(DbError::no_rows()),
            other => other,
        }
    }

    /// After a call, in one round trip: is the input's transaction open,
    /// did a watched setting change, and which rows did it log. Any of the
    /// first two is a finding (the transaction begun again, the session
    /// reset); the rows are judged.
    fn collect(&mut self, check: &mut StatementCheck) -> Result<(), DbError> {
        let sql = format!(
            "{}; SELECT seq, tbl, old, new FROM {}.rowguard_log WHERE seq > {} ORDER BY seq",
            self.status_sql,
            run::ident(&self.objects.database),
            self.read_after
        );
        let (status, rows) = self.read_status(&sql)?;
        let (open, settings) = status;
        if open != "1" {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                "the statement ended or broke the input's transaction: denied; the guard began a new one".to_string(),
            ));
        }
        self.judge(check, rows);
        if settings != self.baseline {
            check.add(Finding::new(
                Kind::ForbiddenAction,
                format!(
                    "the statement changed session settings the guard relies on ({}): denied, reset",
                    changed_settings(&self.baseline, &settings)
                ),
            ));
        }
        if open != "1" || settings != self.baseline {
            self.roll_back()
                .map_err(|e| DbError::new(ErrorClass::Other, e.to_string()))?;
            let deadline = self.input_deadline;
            crate::Backend::begin_input(self)
                .map_err(|e| DbError::new(ErrorClass::Other, e.to_string()))?;
            self.input_deadline = deadline;
        }
        Ok(())
    }

    /// The status row and the log rows after [`MyGuard::read_after`].
    fn read_status(&mut self, sql: &str) -> Result<((String, String), Vec<LogRow>), DbError> {
        if let Some(f) = &self.fatal {
            return Err(DbError::new(ErrorClass::Other, f.clone()));
        }
        let mut status = (String::new(), String::new());
        let mut rows = Vec::new();
        let mut last = self.read_after;
        let ran = (|| -> mysql::Result<()> {
            let mut result = self.conn().query_iter(sql)?;
            let mut part = 0;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row?;
                    let cell = |i: usize| text_of(row.as_ref(i));
                    if part == 0 {
                        status = (cell(0).unwrap_or_default(), cell(1).unwrap_or_default());
                    } else {
                        last = last.max(cell(0).and_then(|s| s.parse().ok()).unwrap_or(0));
                        rows.push((cell(1).unwrap_or_default(), cell(2), cell(3)));
                    }
                }
                part += 1;
            }
            Ok(())
        })();
        if let Err(e) = ran {
            let message = one_line(&e);
            self.fatal = Some(message.clone());
            return Err(DbError::new(
                ErrorClass::Other,
                format!("reading what the call did: {message}"),
            ));
        }
        self.read_after = last;
        Ok((status, rows))
    }

    /// Compares logged row changes with the policy (as the SQLite backend does).
    fn judge(&mut self, check: &mut StatementCheck, rows: Vec<LogRow>) {
        check.changed_rows = rows.len();
        let mut outside = Vec::new();
        let mut undos = Vec::new();
        for (tbl, old, new) in rows {
            let Some(table) = self.tables.iter().find(|t| t.name == tbl) else {
                continue;
            };
            let width = table.columns.len();
            let change = RowChange {
                old: values::cells_of_image(old.as_deref(), width),
                new: values::cells_of_image(new.as_deref(), width),
                table: tbl,
            };
            if change.old.is_none() && change.new.is_none() {
                continue;
            }
            let cells = self.policy.violations(&change, table);
            if !cells.is_empty() {
                outside.extend(cells);
                undos.push(undo(&change, table));
            }
        }
        // The undo statements double quotes and keep backslashes as they are.
        if undos.iter().any(|u| u.contains('\\')) {
            undos.insert(
                0,
                "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');".into(),
            );
        }
        if !outside.is_empty() {
            check.add(Finding::write_outside(outside, undos));
        }
    }
}

/// `name: before -> after` of each watched setting that differs.
fn changed_settings(before: &str, after: &str) -> String {
    WATCHED
        .iter()
        .zip(before.split(" | ").zip(after.split(" | ")))
        .filter(|(_, (a, b))| a != b)
        .map(|(name, (a, b))| format!("{name}: {a} -> {b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

//! [`PgTripwire`] on PostgreSQL: the application's own `postgres::Client`,
//! and a capture the schema owner installs once, like a migration
//! ([`PgTripwire::install`], plpgsql, or [`PgTripwire::install_native`], the
//! C module in `crates/guard/pg`; both in [`install`]). The protocol is the
//! same on both:
//!
//! - `arm(token)` arms the session for one operation with a per-operation
//!   random token; rows the operation changes are captured by an AFTER ROW
//!   trigger; a transaction holding captured rows nobody checked cannot
//!   commit, so a COMMIT the operation sends itself, or a write after it in
//!   autocommit, never commits unchecked;
//! - the settle: the clean path's check on the server, with the token. It
//!   passes a row only when it is certainly allowed (an in-place update of
//!   a target row touching writable columns only, or an allowed side effect
//!   on a row holding a target key; stricter than the judge, never looser),
//!   then empties the capture. Anything else raises `RG001` and goes to the
//!   judge in Rust;
//! - `take(token)` returns and empties the captured rows; without the
//!   token, SQL the operation sends can neither read nor empty them.
//!
//! One clean operation costs two round trips of the tripwire's own, as many
//! as the `BEGIN` and `COMMIT` of a plain transaction. plpgsql: `SET
//! rowguard.tripwire = 'on'; COMMIT; BEGIN; SELECT arm(token)` (returns the
//! transaction it armed), and after the operation `SAVEPOINT; SELECT
//! settle(token, policy); COMMIT; RESET rowguard.tripwire`. The C module:
//! `SET rowguard_tripwire.arm = sha256(token) + policy` (its hook begins
//! the transaction block), and `CALL rowguard_tripwire.settle($1)`, prepared
//! once and bound with the token: its hook checks and ends the block for
//! the commit (`SELECT 1`), or changes nothing (`SELECT 0`), no savepoint
//! and nothing parsed (the module still takes `SAVEPOINT
//! rowguard_settle_<token>; COMMIT` too). When the settle cannot pass a row,
//! the tripwire (plpgsql: after rolling back to the savepoint) reads the rows with
//! `take(token)` (in the transaction it armed?) and judges them in Rust,
//! which has the last word: COMMIT, or ROLLBACK with the verdict. The rows
//! are read once, so a blast radius is reported on the operation's last
//! call.
//!
//! Not covered, on plpgsql only: SQL that itself sets `rowguard.tripwire`
//! to `off` (the setting is readable and settable by any session) is not
//! logged while off; the operation is the application's code, and SQL
//! injected into it that knows the tripwire can blind it. `take` then finds
//! the setting off and trips if it was left off; and it can end the
//! transaction and arm one of its own; with the setting off, its DDL event
//! trigger lets DDL through too. The C module's arming is a backend
//! variable that only the token clears, an armed session cannot be armed
//! again, and while armed its hooks refuse DDL, catalog writes and any
//! replication role but origin ([`install`]).

use std::hash::{BuildHasher, Hasher};

use postgres::{Client, SimpleQueryMessage, Statement};

use super::{judge, SpareChecks, TripError};
use crate::policy::{Names, RowChange, TableInfo};
use crate::postgres::run::{literal, push_literal, rows};
use crate::postgres::StatementCache;
use crate::postgres::{db_error, lex, one_line, values};
use crate::{Api, Db, DbError, Finding, Kind, Policy, StatementCheck, Value, Verdict};

pub mod install;
pub use install::Capture;

/// Prepared statements kept per connection before the cache is emptied.
const STATEMENT_CACHE: usize = 256;

/// The capture's schema.
pub const SCHEMA: &str = "rowguard_tripwire";

/// The SQLSTATE `settle` raises when it cannot say a change is allowed.
const UNSETTLED: &str = "RG001";

/// A PostgreSQL connection whose every [`PgTripwire::run`] commits only
/// what its policy allows.
pub struct PgTripwire {
    client: Client,
    /// The schema of the guarded tables, read again at judge time when a
    /// captured row names a table or a column `tables` does not have.
    schema: String,
    tables: Vec<TableInfo>,
    names: Vec<Names>,
    statements: StatementCache,
    take: Option<Statement>,
    /// The C module's `CALL settle($1)`, prepared once.
    settle: Option<Statement>,
    spare: SpareChecks,
    capture: Capture,
    /// The C module's policy netstrings for the last policy's shape: (that
    /// policy without its keys, its netstrings without the keys).
    policy_shape: Option<(Policy, String)>,
}

pub(super) fn pg_error(what: &str) -> impl Fn(postgres::Error) -> crate::Error + '_ {
    move |e| crate::Error::Postgres(format!("{what}: {}", one_line(&e)))
}

impl PgTripwire {
    /// Installs (or re-installs) the plpgsql capture on every table of
    /// `schema`: run once, as the tables' owner, like a migration, and again
    /// after adding a table. The schema `rowguard_tripwire` is replaced.
    pub fn install(client: &mut Client, schema: &str) -> crate::Result<()> {
        install::install(client, schema, Capture::Plpgsql, "")
    }

    /// Installs the C capture instead (same protocol, a fraction of the
    /// server's work per operation): `library` is the module built from
    /// `crates/guard/pg` (`make install` puts it in the server's `$libdir`:
    /// pass `"rowguard_tripwire"`), or an absolute path the server can
    /// read. Creating C functions takes a superuser.
    pub fn install_native(client: &mut Client, schema: &str, library: &str) -> crate::Result<()> {
        install::install(client, schema, Capture::Native, library)
    }

    /// Wraps `client` (connected as any role that may write the tables of
    /// `schema`, where [`PgTripwire::install`] or
    /// [`PgTripwire::install_native`] has run; it finds which).
    pub fn new(mut client: Client, schema: &str) -> crate::Result<PgTripwire> {
        let tables = crate::postgres::setup::tables_in(&mut client, schema)?;
        let capture = Capture::installed(&mut client)?;
        Ok(PgTripwire {
            capture,
            policy_shape: None,
            client,
            schema: schema.to_string(),
            names: tables.iter().map(Names::of).collect(),
            tables,
            statements: StatementCache::new(STATEMENT_CACHE),
            take: None,
            settle: None,
            spare: SpareChecks::default(),
        })
    }

    /// The capture installed on the server.
    pub fn capture(&self) -> Capture {
        self.capture
    }

    /// The connection, for reads (writes through it outside [`PgTripwire::run`] are not checked).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Runs one operation under `policy`: commits its writes when every
    /// change is allowed; otherwise rolls all of them back and says why.
    /// The operation is its own transaction: call it with no transaction
    /// open on the connection (the C module refuses to arm inside one).
    pub fn run<T>(
        &mut self,
        policy: &Policy,
        op: impl FnOnce(&mut dyn Db) -> Result<T, DbError>,
    ) -> Result<T, TripError> {
        let token = token();
        // the server's clean-path check: None sends every change to the judge
        let check = self.clean_check(policy);
        let arm = match self.capture {
            // the setting is committed before BEGIN: a ROLLBACK the
            // operation sends must not turn it off with the transaction
            Capture::Plpgsql => format!(
                "SET rowguard.tripwire = 'on'; COMMIT; BEGIN; SELECT {SCHEMA}.arm({})",
                literal(&token)
            ),
            // the token's hash (only the settle reveals the token), the policy
            // (the module's hook reads it and begins the transaction block)
            Capture::Native => native_arm(&token, check.as_deref().unwrap_or("")),
        };
        // the transaction plpgsql's arm() returns (the C module checks its own)
        let armed = match self.capture {
            Capture::Plpgsql => self.client.simple_query(&arm).map(first_value),
            Capture::Native => self.client.batch_execute(&arm).map(|()| None),
        };
        let xid = match armed {
            Ok(xid) => xid,
            Err(e) => {
                self.abandon(&token);
                return Err(TripError::Database(one_line(&e)));
            }
        };
        let mut calls = Calls {
            tw: self,
            verdict: Verdict::default(),
        };
        calls.verdict.statements.reserve(calls.tw.spare.len());
        let result = op(&mut calls);
        let mut verdict = calls.verdict;
        let outcome = match result {
            Err(error) => Err(TripError::Failed { error, verdict }),
            Ok(value) => match self.settle(&token, check.as_deref()) {
                Settled::Committed => {
                    self.spare.keep(verdict.statements);
                    return Ok(value);
                }
                Settled::Failed(e) => Err(TripError::Database(e)),
                Settled::ToJudge => match self.take(&token, xid.as_deref()) {
                    Err(e) => Err(TripError::Database(e)),
                    Ok(changes) => {
                        let mut check = verdict
                            .statements
                            .pop()
                            .unwrap_or_else(|| StatementCheck::new(Api::Execute, "", &[], None));
                        check.changed_rows = 0;
                        judge(&mut check, policy, &self.tables, &self.names, changes);
                        verdict.statements.push(check);
                        if !verdict.is_clean() {
                            Err(TripError::Tripped { verdict })
                        } else {
                            match self.client.batch_execute(self.commit()) {
                                Ok(()) => return Ok(value),
                                Err(e) => Err(TripError::Database(format!(
                                    "COMMIT failed: {}",
                                    one_line(&e)
                                ))),
                            }
                        }
                    }
                },
            },
        };
        self.abandon(&token);
        outcome
    }

    /// The clean path in one round trip: the server checks every row the
    /// operation changed against the policy (`check`, from
    /// [`PgTripwire::clean_check`]) and, when each one is certainly allowed
    /// (an in-place update of a target row touching only writable columns,
    /// or an allowed side effect on a row holding a target key: stricter
    /// than the judge, never looser), empties the capture and commits.
    /// Anything it cannot settle is rolled back to before the check and
    /// judged in Rust ([`PgTripwire::take`]), which has the last word and
    /// writes the verdict.
    fn settle(&mut self, token: &str, check: Option<&str>) -> Settled {
        let Some(check) = check else {
            return Settled::ToJudge;
        };
        // the C module: a prepared CALL, no savepoint (see settle_native)
        if self.capture == Capture::Native {
            return self.settle_native(token);
        }
        let message = format!(
            "SAVEPOINT rowguard_settle; SELECT {SCHEMA}.settle({}, {check}); {}",
            literal(token),
            self.commit()
        );
        match self.client.batch_execute(&message) {
            Ok(()) => Settled::Committed,
            Err(e) if e.code().is_some_and(|c| c.code() == UNSETTLED) => {
                match self
                    .client
                    .batch_execute("ROLLBACK TO SAVEPOINT rowguard_settle")
                {
                    Ok(()) => Settled::ToJudge,
                    Err(e) => Settled::Failed(one_line(&e)),
                }
            }
            Err(e) => Settled::Failed(format!("COMMIT failed: {}", one_line(&e))),
        }
    }

    /// The C module's settle: `CALL settle(token)`, prepared once, checks
    /// with the policy the arm carried and, when every row is certainly
    /// allowed, commits (`SELECT 1`); otherwise changes nothing (`SELECT
    /// 0`) and the rows go to the judge. No savepoint, nothing parsed.
    fn settle_native(&mut self, token: &str) -> Settled {
        let stmt = match &self.settle {
            Some(s) => s.clone(),
            None => match self.client.prepare(&format!("CALL {SCHEMA}.settle($1)")) {
                Ok(s) => {
                    self.settle = Some(s.clone());
                    s
                }
                Err(e) => return Settled::Failed(one_line(&e)),
            },
        };
        match self.client.execute(&stmt, &[&token]) {
            Ok(1) => Settled::Committed,
            Ok(_) => Settled::ToJudge,
            Err(e) => Settled::Failed(format!("COMMIT failed: {}", one_line(&e))),
        }
    }

    /// `policy` as the server's clean-path check reads it (plpgsql: a jsonb
    /// literal for `settle`; the C module: netstrings the arm carries), or
    /// `None` when a key is neither an integer nor a text, or a name holds
    /// a NUL (those are judged in Rust only).
    fn clean_check(&mut self, policy: &Policy) -> Option<String> {
        let (mut ints, mut texts) = (Vec::new(), Vec::new());
        for k in &policy.keys {
            match k {
                Value::Integer(i) => ints.push(i.to_string()),
                Value::Text(t) => texts.push(t.as_str()),
                _ => return None,
            }
        }
        // columns an in-place update keeps: the table's key and the policy's
        let fixed = |tables: &[TableInfo]| -> Vec<String> {
            let table = tables.iter().find(|t| t.name == policy.table);
            let key = table.map(|t| t.key.iter().map(|&i| t.columns[i].clone()));
            key.into_iter()
                .flatten()
                .chain([policy.key_column.clone()])
                .collect()
        };
        if self.capture == Capture::Plpgsql {
            // keys as their jsonb text, as `to_jsonb(row) -> column` prints them
            let keys: Vec<String> = ints
                .iter()
                .cloned()
                .chain(texts.iter().filter_map(|t| serde_json::to_string(t).ok()))
                .collect();
            let json = serde_json::json!({
                "table": policy.table,
                "key": policy.key_column,
                "keys": keys,
                "pk": fixed(&self.tables),
                "writable": policy.writable,
                "side": policy.side_effects,
            });
            return Some(literal(&json.to_string()));
        }
        // the C module's netstrings (see parse_policy in crates/guard/pg): the
        // policy's shape (kept while the policy keeps it), then the keys
        let same = self.policy_shape.as_ref().is_some_and(|(p, _)| {
            p.table == policy.table
                && p.key_column == policy.key_column
                && p.writable == policy.writable
                && p.side_effects == policy.side_effects
        });
        if !same {
            let shape = Policy {
                keys: Vec::new(),
                ..policy.clone()
            };
            let mut items = vec![policy.table.clone(), policy.key_column.clone()];
            for list in [fixed(&self.tables), policy.writable.clone()] {
                items.push(list.len().to_string());
                items.extend(list);
            }
            items.push(policy.side_effects.len().to_string());
            for s in &policy.side_effects {
                let ops = [(s.insert, 'i'), (s.update, 'u'), (s.delete, 'd')];
                let ops = ops.iter().filter(|(on, _)| *on).map(|(_, c)| *c);
                items.extend([s.table.clone(), s.column.clone(), ops.collect()]);
            }
            if items.iter().any(|s| s.contains('\0')) {
                return None;
            }
            let tail = items.iter().map(|s| netstring(s)).collect();
            self.policy_shape = Some((shape, tail));
        }
        let tail = self.policy_shape.as_ref().map_or("", |(_, t)| t.as_str());
        if texts.iter().any(|t| t.contains('\0')) {
            return None;
        }
        let mut value = String::with_capacity(tail.len() + 16 * (ints.len() + texts.len() + 2));
        value.push_str(tail);
        push_netstring(&mut value, &ints.len().to_string());
        ints.iter().for_each(|i| push_netstring(&mut value, i));
        push_netstring(&mut value, &texts.len().to_string());
        texts.iter().for_each(|t| push_netstring(&mut value, t));
        Some(value)
    }

    /// The end of the clean path's message: COMMIT, and disarming the
    /// session (the C module disarms itself at a settled COMMIT).
    fn commit(&self) -> &'static str {
        match self.capture {
            Capture::Plpgsql => "COMMIT; RESET rowguard.tripwire",
            Capture::Native => "COMMIT",
        }
    }

    /// Rolls back whatever is open and disarms the session.
    fn abandon(&mut self, token: &str) {
        let disarm = match self.capture {
            Capture::Plpgsql => "RESET rowguard.tripwire".to_string(),
            Capture::Native => format!("SELECT {SCHEMA}.disarm({})", literal(token)),
        };
        let _ = self.client.batch_execute(&format!("ROLLBACK; {disarm}"));
    }

    /// This transaction's log rows (if it is still the one armed as `xid`).
    fn take(&mut self, token: &str, xid: Option<&str>) -> Result<Vec<(usize, RowChange)>, String> {
        let stmt = match &self.take {
            Some(s) => s.clone(),
            None => {
                // the C module's take() itself refuses another transaction
                let now = match self.capture {
                    Capture::Plpgsql => "pg_catalog.pg_current_xact_id()::text",
                    Capture::Native => "NULL::text",
                };
                let s = self
                    .client
                    .prepare(&format!(
                        "SELECT {now}, t.tbl, t.old, t.new \
                         FROM (SELECT 1) one LEFT JOIN {SCHEMA}.take($1) t ON true"
                    ))
                    .map_err(|e| one_line(&e))?;
                self.take = Some(s.clone());
                s
            }
        };
        let got = self
            .client
            .query(&stmt, &[&token])
            .map_err(|e| one_line(&e))?;
        let mut changes = Vec::new();
        for row in got {
            let now: Option<String> = row.get(0);
            if self.capture == Capture::Plpgsql && now.as_deref() != xid {
                return Err("the operation ended the tripwire's transaction".into());
            }
            let (Some(tbl), old, new) = (
                row.get::<_, Option<String>>(1),
                row.get::<_, Option<String>>(2),
                row.get::<_, Option<String>>(3),
            ) else {
                continue;
            };
            let fits = |tables: &[TableInfo]| {
                let t = tables.iter().position(|t| t.name == tbl)?;
                let columns = &tables[t].columns;
                (values::image_fits(old.as_deref(), columns)
                    && values::image_fits(new.as_deref(), columns))
                .then_some(t)
            };
            // A table or column the tripwire did not know when it was built
            // (a migration since, or DDL in the operation): the catalog is
            // read again, inside the operation's transaction, and the row
            // judged; a row still unreadable ends the operation.
            let t = match fits(&self.tables) {
                Some(t) => t,
                None => {
                    self.refresh()?;
                    fits(&self.tables).ok_or_else(|| {
                        format!("a change of {tbl} that the catalog does not explain: rolled back")
                    })?
                }
            };
            let columns = &self.tables[t].columns;
            changes.push((
                t,
                RowChange {
                    old: values::cells_of_image(old.as_deref(), columns),
                    new: values::cells_of_image(new.as_deref(), columns),
                    table: tbl,
                },
            ));
        }
        Ok(changes)
    }

    /// Reads the guarded tables from the catalog again.
    fn refresh(&mut self) -> Result<(), String> {
        let tables = crate::postgres::setup::tables_in(&mut self.client, &self.schema)
            .map_err(|e| e.to_string())?;
        self.names = tables.iter().map(Names::of).collect();
        self.tables = tables;
        // the C module's policy part names the tables' fixed columns
        self.policy_shape = None;
        Ok(())
    }

    fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.statements.get(&mut self.client, sql)
    }
}

/// How `settle` ended.
enum Settled {
    /// Every change was allowed: committed.
    Committed,
    /// A change needs the judge: rolled back to before the check.
    ToJudge,
    /// The check or the COMMIT failed: the transaction is over.
    Failed(String),
}

/// `SET rowguard_tripwire.arm = '<the token's SHA-256><check>'`, the value
/// quoted as a literal.
fn native_arm(token: &str, check: &str) -> String {
    let mut sql = String::with_capacity(SCHEMA.len() + 96 + check.len() + check.len() / 8);
    sql.push_str("SET ");
    sql.push_str(SCHEMA);
    sql.push_str(".arm = ");
    let mut value = netstring(&sha256_hex(token));
    value.push_str(check);
    push_literal(&mut sql, &value);
    sql
}

/// 128 bits of std's per-process random hash keys and the clock.
fn token() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let mut b = std::collections::hash_map::RandomState::new().build_hasher();
    b.write_u64(a.finish());
    let mut out = String::with_capacity(32);
    push_hex(&mut out, &a.finish().to_be_bytes());
    push_hex(&mut out, &b.finish().to_be_bytes());
    out
}

/// `bytes` in lowercase hex at the end of `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    let mut out = String::with_capacity(64);
    push_hex(&mut out, &sha2::Sha256::digest(token.as_bytes()));
    out
}

/// `s` as a netstring, `<bytes>:<s>,`, at the end of `out`.
fn push_netstring(out: &mut String, s: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{}:{s},", s.len());
}

/// `s` as a netstring.
fn netstring(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    push_netstring(&mut out, s);
    out
}

fn first_value(messages: Vec<SimpleQueryMessage>) -> Option<String> {
    rows(messages).into_iter().next()?.into_iter().next()?
}

/// The operation's view of the connection: every call recorded.
struct Calls<'a> {
    tw: &'a mut PgTripwire,
    verdict: Verdict,
}

impl Calls<'_> {
    fn record(&mut self, api: Api, sql: &str, params: &[Value], error: Option<&DbError>) {
        let mut check = self.tw.spare.check(api, sql, params);
        if let Some(e) = error {
            check.error = Some(e.message.clone());
            if e.message.contains("rowguard tripwire") {
                check.add(Finding::new(Kind::ForbiddenAction, e.message.clone()));
            }
        }
        self.verdict.statements.push(check);
    }

    fn prepared_call<T>(
        &mut self,
        api: Api,
        sql: &str,
        params: &[Value],
        run: impl FnOnce(&mut Client, &Statement) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let text = lex::dollar_params(sql, !params.is_empty());
        let result = self
            .tw
            .prepared(&text)
            .and_then(|stmt| run(&mut self.tw.client, &stmt))
            .map_err(|e| db_error(&e));
        self.record(api, sql, params, result.as_ref().err());
        result
    }
}

impl Db for Calls<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.prepared_call(Api::Execute, sql, params, |client, stmt| {
            values::with_bound(params, |refs| client.execute(stmt, refs)).map(|n| n as usize)
        })
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        let result = self.tw.client.batch_execute(sql).map_err(|e| db_error(&e));
        self.record(Api::ExecuteBatch, sql, &[], result.as_ref().err());
        result
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        self.prepared_call(Api::QueryRow, sql, params, |client, stmt| {
            values::with_bound(params, |refs| match client.query(stmt, refs)?.first() {
                Some(r) => values::row_values(r).map(Some),
                None => Ok(None),
            })
        })?
        .ok_or_else(DbError::no_rows)
    }

    fn database(&self) -> &'static str {
        "postgres"
    }
}

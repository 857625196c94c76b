//! [`PgTripwire`] on PostgreSQL: the application's own `postgres::Client`,
//! and a capture the schema owner installs once, like a migration
//! ([`PgTripwire::install`]), in schema `rowguard_tripwire`:
//!
//! - `log` (UNLOGGED: its rows never outlive their transaction) and an AFTER
//!   ROW trigger on every table of the protected schema whose SECURITY
//!   DEFINER function logs `to_jsonb(OLD)`/`to_jsonb(NEW)` only while the
//!   session setting `rowguard.tripwire` is `on`: other connections, and this
//!   one between operations, log nothing and pay one setting read per row;
//! - a deferred constraint trigger on `log`: a transaction that still holds
//!   log rows at COMMIT fails. So a COMMIT the operation sends itself, or a
//!   write after it in autocommit, can never commit unchecked (the setting is
//!   a session one for the operation's whole length, not `SET LOCAL`);
//! - every lookup goes through the index on `(xid, seq)`: this
//!   transaction's rows, in order, however many dead rows the log holds
//!   between vacuums (`arm` is plpgsql, so its INSERT's plan is cached for
//!   the session, where a SQL function re-plans it on every call);
//! - `arm(token)`, which logs a first row holding a per-operation random
//!   token, and `take(token)`, which returns and deletes this transaction's
//!   rows only when that first row holds the same token: SQL the operation
//!   sends cannot empty the log behind the tripwire's back;
//! - a BEFORE TRUNCATE trigger that refuses TRUNCATE while armed (no row
//!   trigger sees one).
//!
//! - `settle(token, policy)`: the clean path's check on the server. It
//!   passes a row only when it is certainly allowed (an in-place update of
//!   a target row touching writable columns only, or an allowed side effect
//!   on a row holding a target key; values compared as their jsonb text, so
//!   it is stricter than the judge, never looser), then empties the log.
//!   Anything else raises `RG001` and goes to the judge in Rust.
//!
//! One clean operation costs two round trips of the tripwire's own, as many
//! as the `BEGIN` and `COMMIT` of a plain transaction: `BEGIN; SET
//! rowguard.tripwire = 'on'; SELECT arm(token)` (returns the transaction
//! id), and after the operation `SAVEPOINT; SELECT settle(token, policy);
//! COMMIT; RESET rowguard.tripwire` in one message. When `settle` cannot
//! pass a row, the tripwire rolls back to the savepoint, reads the rows
//! with `take(token)` (with the transaction id: still ours?) and judges
//! them in Rust, which has the last word: COMMIT, or ROLLBACK with the
//! verdict. The rows are read once, so a blast radius is reported on the
//! operation's last call.
//!
//! Not covered: SQL that itself sets `rowguard.tripwire` to `off` (the
//! setting is readable and settable by any session) is not logged while
//! off; the operation is the application's code, and SQL injected into it
//! that knows the tripwire can blind it. `take` then finds the setting off
//! and trips if it was left off.

use std::hash::{BuildHasher, Hasher};

use postgres::{Client, SimpleQueryMessage, Statement};

use super::{judge, TripError};
use crate::policy::{Names, RowChange, TableInfo};
use crate::postgres::run::{ident, literal, rows};
use crate::postgres::StatementCache;
use crate::postgres::{db_error, lex, one_line, values};
use crate::{Api, Db, DbError, Finding, Kind, Policy, StatementCheck, Value, Verdict};

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
    tables: Vec<TableInfo>,
    names: Vec<Names>,
    statements: StatementCache,
    take: Option<Statement>,
}

fn pg_error(what: &str) -> impl Fn(postgres::Error) -> crate::Error + '_ {
    move |e| crate::Error::Postgres(format!("{what}: {}", one_line(&e)))
}

impl PgTripwire {
    /// Installs (or re-installs) the capture on every table of `schema`:
    /// run once, as the tables' owner, like a migration, and again after
    /// adding a table. The schema `rowguard_tripwire` is replaced.
    pub fn install(client: &mut Client, schema: &str) -> crate::Result<()> {
        let tables = crate::postgres::setup::tables_in(client, schema)?;
        let mut sql = format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;\n\
             CREATE SCHEMA {SCHEMA};\n\
             REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;\n\
             CREATE UNLOGGED TABLE {SCHEMA}.log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n\
               xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), tbl text NOT NULL, old jsonb, new jsonb);\n\
             CREATE INDEX ON {SCHEMA}.log (xid, seq);\n\
             CREATE FUNCTION {SCHEMA}.log_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               IF current_setting('rowguard.tripwire', true) = 'on' THEN\n\
                 INSERT INTO {SCHEMA}.log (tbl, old, new) VALUES (TG_TABLE_NAME,\n\
                   CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,\n\
                   CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);\n\
               END IF;\n\
               RETURN NULL;\n\
             END $rg$;\n\
             CREATE FUNCTION {SCHEMA}.untaken() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               IF EXISTS (SELECT 1 FROM {SCHEMA}.log WHERE xid = NEW.xid) THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: writes the tripwire has not checked cannot commit';\n\
               END IF;\n\
               RETURN NULL;\n\
             END $rg$;\n\
             CREATE CONSTRAINT TRIGGER untaken AFTER INSERT ON {SCHEMA}.log DEFERRABLE INITIALLY DEFERRED\n\
               FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.untaken();\n\
             CREATE FUNCTION {SCHEMA}.no_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               IF current_setting('rowguard.tripwire', true) = 'on' THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: TRUNCATE of % is denied', TG_TABLE_NAME;\n\
               END IF;\n\
               RETURN NULL;\n\
             END $rg$;\n\
             CREATE FUNCTION {SCHEMA}.arm(token text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               INSERT INTO {SCHEMA}.log (tbl, old) VALUES ('', to_jsonb(token));\n\
               RETURN pg_current_xact_id()::text;\n\
             END $rg$;\n\
             CREATE FUNCTION {SCHEMA}.armed(token text) RETURNS void\n\
               LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               IF current_setting('rowguard.tripwire', true) IS DISTINCT FROM 'on' THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: the setting rowguard.tripwire was turned off';\n\
               END IF;\n\
               IF (SELECT l.old FROM {SCHEMA}.log l WHERE l.xid = pg_current_xact_id() ORDER BY l.seq LIMIT 1)\n\
                  IS DISTINCT FROM to_jsonb(token) THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: reading the log without the operation''s token';\n\
               END IF;\n\
             END $rg$;\n\
             CREATE FUNCTION {SCHEMA}.take(token text) RETURNS TABLE (xid text, tbl text, old text, new text)\n\
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               PERFORM {SCHEMA}.armed(token);\n\
               RETURN QUERY WITH d AS (DELETE FROM {SCHEMA}.log l WHERE l.xid = pg_current_xact_id() RETURNING l.seq, l.tbl, l.old, l.new)\n\
                 SELECT pg_current_xact_id()::text, d.tbl, d.old::text, d.new::text FROM d WHERE d.tbl <> '' ORDER BY d.seq;\n\
             END $rg$;\n\
             CREATE FUNCTION {SCHEMA}.settle(token text, policy jsonb) RETURNS bigint\n\
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             DECLARE r record; n bigint := 0; ok boolean; first bigint; armed boolean := false;\n\
             BEGIN\n\
               IF current_setting('rowguard.tripwire', true) IS DISTINCT FROM 'on' THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: the setting rowguard.tripwire was turned off';\n\
               END IF;\n\
               FOR r IN DELETE FROM {SCHEMA}.log l WHERE l.xid = pg_current_xact_id() RETURNING l.seq, l.tbl, l.old, l.new LOOP\n\
                 IF first IS NULL OR r.seq < first THEN\n\
                   first := r.seq;\n\
                   armed := r.tbl = '' AND r.old = to_jsonb(token);\n\
                 END IF;\n\
                 CONTINUE WHEN r.tbl = '';\n\
                 n := n + 1;\n\
                 IF r.tbl = policy->>'table' THEN\n\
                   ok := r.old IS NOT NULL AND r.new IS NOT NULL\n\
                     AND coalesce((policy->'keys') ? ((r.old -> (policy->>'key'))::text), false)\n\
                     AND coalesce((policy->'keys') ? ((r.new -> (policy->>'key'))::text), false)\n\
                     AND NOT EXISTS (SELECT 1 FROM jsonb_each(r.new) e\n\
                       WHERE (r.old -> e.key)::text IS DISTINCT FROM e.value::text\n\
                         AND (NOT coalesce((policy->'writable') ? e.key, false)\n\
                              OR coalesce((policy->'pk') ? e.key, true)))\n\
                     AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(r.old) k WHERE NOT r.new ? k);\n\
                 ELSE\n\
                   ok := EXISTS (SELECT 1 FROM jsonb_array_elements(policy->'side') s\n\
                     WHERE s->>'table' = r.tbl\n\
                       AND CASE WHEN r.old IS NULL THEN s->'insert' WHEN r.new IS NULL THEN s->'delete' ELSE s->'update' END = 'true'::jsonb\n\
                       AND (r.old IS NULL OR coalesce((policy->'keys') ? ((r.old -> (s->>'column'))::text), false))\n\
                       AND (r.new IS NULL OR coalesce((policy->'keys') ? ((r.new -> (s->>'column'))::text), false)));\n\
                 END IF;\n\
                 IF NOT coalesce(ok, false) THEN\n\
                   RAISE EXCEPTION 'rowguard tripwire: not settled on the server' USING ERRCODE = '{UNSETTLED}';\n\
                 END IF;\n\
               END LOOP;\n\
               IF NOT armed THEN\n\
                 RAISE EXCEPTION 'rowguard tripwire: reading the log without the operation''s token';\n\
               END IF;\n\
               RETURN n;\n\
             END $rg$;\n\
             REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;\n\
             GRANT USAGE ON SCHEMA {SCHEMA} TO PUBLIC;\n\
             GRANT EXECUTE ON FUNCTION {SCHEMA}.arm(text), {SCHEMA}.take(text), {SCHEMA}.settle(text, jsonb) TO PUBLIC;\n"
        );
        for t in &tables {
            let name = format!("{}.{}", ident(schema), ident(&t.name));
            sql += &format!(
                "CREATE TRIGGER rowguard_tripwire AFTER INSERT OR UPDATE OR DELETE ON {name} FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.log_row();\n\
                 CREATE TRIGGER rowguard_tripwire_truncate BEFORE TRUNCATE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.no_truncate();\n"
            );
        }
        // Triggers of an earlier install on tables went with the schema (CASCADE).
        client
            .batch_execute(&format!("SET client_min_messages = warning; {sql}"))
            .map_err(pg_error("installing the tripwire"))
    }

    /// Wraps `client` (connected as any role that may write the tables of
    /// `schema`, where [`PgTripwire::install`] has run).
    pub fn new(mut client: Client, schema: &str) -> crate::Result<PgTripwire> {
        let tables = crate::postgres::setup::tables_in(&mut client, schema)?;
        Ok(PgTripwire {
            client,
            names: tables.iter().map(Names::of).collect(),
            tables,
            statements: StatementCache::new(STATEMENT_CACHE),
            take: None,
        })
    }

    /// The connection, for reads (writes through it outside [`PgTripwire::run`] are not checked).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Runs one operation under `policy`: commits its writes when every
    /// change is allowed; otherwise rolls all of them back and says why.
    pub fn run<T>(
        &mut self,
        policy: &Policy,
        op: impl FnOnce(&mut dyn Db) -> Result<T, DbError>,
    ) -> Result<T, TripError> {
        let token = token();
        let xid = match self.client.simple_query(&format!(
            "BEGIN; SET rowguard.tripwire = 'on'; SELECT {SCHEMA}.arm({})",
            literal(&token)
        )) {
            Ok(m) => first_value(m),
            Err(e) => {
                self.abandon();
                return Err(TripError::Database(one_line(&e)));
            }
        };
        let mut calls = Calls {
            tw: self,
            verdict: Verdict::default(),
        };
        let result = op(&mut calls);
        let mut verdict = calls.verdict;
        let outcome = match result {
            Err(error) => Err(TripError::Failed { error, verdict }),
            Ok(value) => match self.settle(&token, policy) {
                Settled::Committed(rows) => {
                    if let Some(last) = verdict.statements.last_mut() {
                        last.changed_rows = rows;
                    }
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
                            match self.client.batch_execute("COMMIT; RESET rowguard.tripwire") {
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
        self.abandon();
        outcome
    }

    /// The clean path in one round trip: the server checks every row the
    /// operation changed against `policy` and, when each one is certainly
    /// allowed (an in-place update of a target row touching only writable
    /// columns, or an allowed side effect on a row holding a target key,
    /// compared as text: stricter than the judge, never looser), empties the
    /// log and commits. Anything it cannot settle is rolled back to before
    /// the check and judged in Rust ([`PgTripwire::take`]), which has the
    /// last word and writes the verdict.
    fn settle(&mut self, token: &str, policy: &Policy) -> Settled {
        let Some(json) = self.settle_policy(policy) else {
            return Settled::ToJudge;
        };
        match self.client.simple_query(&format!(
            "SAVEPOINT rowguard_settle; SELECT {SCHEMA}.settle({}, {}); COMMIT; RESET rowguard.tripwire",
            literal(token),
            literal(&json)
        )) {
            Ok(messages) => Settled::Committed(
                first_value(messages)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            ),
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

    /// `policy` as `settle` reads it, or `None` when a key is neither an
    /// integer nor a text (those are judged in Rust only). Keys are their
    /// `jsonb` text, as `to_jsonb(row) -> column` prints them.
    fn settle_policy(&self, policy: &Policy) -> Option<String> {
        let keys = policy
            .keys
            .iter()
            .map(|k| match k {
                Value::Integer(i) => Some(i.to_string()),
                Value::Text(t) => serde_json::to_string(t).ok(),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()?;
        // columns an in-place update keeps: the table's key and the policy's
        let mut pk: Vec<&str> = self
            .tables
            .iter()
            .find(|t| t.name == policy.table)
            .map(|t| t.key.iter().map(|&i| t.columns[i].as_str()).collect())
            .unwrap_or_default();
        pk.push(&policy.key_column);
        Some(
            serde_json::json!({
                "table": policy.table,
                "key": policy.key_column,
                "keys": keys,
                "pk": pk,
                "writable": policy.writable,
                "side": policy.side_effects,
            })
            .to_string(),
        )
    }

    /// Rolls back whatever is open and disarms the session.
    fn abandon(&mut self) {
        let _ = self
            .client
            .batch_execute("ROLLBACK; RESET rowguard.tripwire");
    }

    /// This transaction's log rows (if it is still the one armed as `xid`).
    fn take(&mut self, token: &str, xid: Option<&str>) -> Result<Vec<(usize, RowChange)>, String> {
        let stmt = match &self.take {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .client
                    .prepare(&format!(
                        "SELECT pg_catalog.pg_current_xact_id()::text, t.tbl, t.old, t.new \
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
            if now.as_deref() != xid {
                return Err("the operation ended the tripwire's transaction".into());
            }
            let (Some(tbl), old, new) = (
                row.get::<_, Option<String>>(1),
                row.get::<_, Option<String>>(2),
                row.get::<_, Option<String>>(3),
            ) else {
                continue;
            };
            let Some(t) = self.tables.iter().position(|t| t.name == tbl) else {
                continue;
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

    fn prepared(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.statements.get(&mut self.client, sql)
    }
}

/// How `settle` ended.
enum Settled {
    /// Every change was allowed: committed, with this many rows changed.
    Committed(usize),
    /// A change needs the judge: rolled back to before the check.
    ToJudge,
    /// The check or the COMMIT failed: the transaction is over.
    Failed(String),
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
    format!("{:016x}{:016x}", a.finish(), b.finish())
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
        let mut check = StatementCheck::new(api, sql, params, None);
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

//! Installing the tripwire's capture on PostgreSQL, in schema
//! `rowguard_tripwire` (replaced at every install), in one of two forms:
//!
//! - [`Capture::Plpgsql`]: plain SQL and plpgsql, installable by any owner
//!   of the tables. `log` (UNLOGGED: its rows never outlive their
//!   transaction) and an AFTER ROW trigger on every table of the protected
//!   schema whose SECURITY DEFINER function logs `to_jsonb(OLD)`/`to_jsonb(NEW)`
//!   only while the session setting `rowguard.tripwire` is `on`; a deferred
//!   constraint trigger on `log` fails a transaction that still holds log
//!   rows at COMMIT; `arm`, `take` and `settle` guarded by the operation's
//!   random token; every lookup through the index on `(xid, seq)`.
//! - [`Capture::Native`]: the same functions, in C (`crates/guard/pg`, a
//!   PGXS module the server loads; creating C functions takes a superuser).
//!   Rows are kept in the backend's transaction memory, the arming is a
//!   backend variable only the token can clear, the COMMIT gate is a
//!   transaction callback, the arm is a `SET rowguard_tripwire.arm` its
//!   utility hook takes (and begins the transaction block with) and the
//!   settle a savepoint the hook reads at the COMMIT (the cheapest
//!   statements the server runs): no table, no plpgsql. `take`, `disarm`
//!   and `loaded` are functions.
//!
//! Both put a BEFORE TRUNCATE trigger on every table (no row trigger sees
//! a TRUNCATE) that refuses it while armed, and make both triggers ENABLE
//! ALWAYS, so they fire in every `session_replication_role`; a write or a
//! settle outside the origin role fails the operation. While an operation
//! is armed, the C module's utility hook refuses every utility statement
//! outside a short allow-list (DDL of any kind, DISABLE/DROP TRIGGER,
//! RENAME, CREATE RULE, `SET session_replication_role`, ...); the plpgsql
//! capture refuses DDL with a `ddl_command_start` event trigger, created
//! only when the installer is a superuser.

use postgres::Client;

use super::{SCHEMA, UNSETTLED};
use crate::postgres::run::{ident, literal};

/// Which capture [`super::PgTripwire::install_native`] or
/// [`super::PgTripwire::install`] put on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// plpgsql functions and an UNLOGGED log table.
    Plpgsql,
    /// The C module `rowguard_tripwire` (`crates/guard/pg`).
    Native,
}

impl Capture {
    /// How benchmarks and reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Capture::Plpgsql => "plpgsql",
            Capture::Native => "C module",
        }
    }

    /// The capture installed in the database `client` is connected to.
    pub(super) fn installed(client: &mut Client) -> crate::Result<Capture> {
        // plpgsql's settle(), or the C module's loaded()
        let lang: Option<String> = client
            .query_opt(
                &format!(
                    "SELECT min(l.lanname::text) FROM pg_catalog.pg_proc p \
                     JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
                     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                     WHERE n.nspname = '{SCHEMA}' AND p.proname IN ('settle', 'loaded')"
                ),
                &[],
            )
            .map_err(super::pg_error("reading the tripwire's capture"))?
            .and_then(|r| r.get(0));
        match lang.as_deref() {
            Some("c") => {
                // loads the module in this backend: its settings exist from now on
                client
                    .batch_execute(&format!("SELECT {SCHEMA}.loaded()"))
                    .map_err(super::pg_error("loading the tripwire's C module"))?;
                Ok(Capture::Native)
            }
            Some(_) => Ok(Capture::Plpgsql),
            None => Err(crate::Error::Postgres(format!(
                "the tripwire is not installed in this database (no {SCHEMA}.settle): run PgTripwire::install first"
            ))),
        }
    }
}

/// Replaces schema `rowguard_tripwire` with `capture` and puts its triggers
/// on every table of `schema`.
pub(super) fn install(
    client: &mut Client,
    schema: &str,
    capture: Capture,
    library: &str,
) -> crate::Result<()> {
    let tables = crate::postgres::setup::tables_in(client, schema)?;
    let (mut sql, row_fn) = match capture {
        Capture::Plpgsql => (plpgsql(), "log_row"),
        Capture::Native => (native(library), "capture"),
    };
    for t in &tables {
        let name = format!("{}.{}", ident(schema), ident(&t.name));
        // ENABLE ALWAYS: they fire in every session_replication_role
        sql += &format!(
            "CREATE TRIGGER rowguard_tripwire AFTER INSERT OR UPDATE OR DELETE ON {name} FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.{row_fn}();\n\
             CREATE TRIGGER rowguard_tripwire_truncate BEFORE TRUNCATE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.no_truncate();\n\
             ALTER TABLE {name} ENABLE ALWAYS TRIGGER rowguard_tripwire, ENABLE ALWAYS TRIGGER rowguard_tripwire_truncate;\n"
        );
    }
    // Triggers of an earlier install on tables went with the schema (CASCADE).
    client
        .batch_execute(&format!("SET client_min_messages = warning; {sql}"))
        .map_err(super::pg_error("installing the tripwire"))
}

/// The C module's functions, loaded from `library` (a name in the server's
/// `dynamic_library_path`, or an absolute path the server can read).
fn native(library: &str) -> String {
    let lib = literal(library);
    let c = |name: &str, args: &str, returns: &str| {
        format!(
            "CREATE FUNCTION {SCHEMA}.{name}({args}) RETURNS {returns} LANGUAGE C VOLATILE \
             AS {lib}, 'rowguard_tripwire_{name}';\n"
        )
    };
    let mut sql = format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;\n\
         CREATE SCHEMA {SCHEMA};\n\
         REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;\n"
    );
    sql += &c("capture", "", "trigger");
    sql += &c("no_truncate", "", "trigger");
    sql += &c("loaded", "", "void");
    sql += &c("disarm", "token text", "void STRICT");
    sql += &c(
        "take",
        "token text",
        "TABLE (tbl text, old text, new text) STRICT ROWS 10",
    );
    // the settle: the module's utility hook takes every CALL of it
    sql += &format!(
        "CREATE PROCEDURE {SCHEMA}.settle(token text) LANGUAGE C AS {lib}, 'rowguard_tripwire_settle';\n"
    );
    sql += &format!(
        "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;\n\
         REVOKE ALL ON PROCEDURE {SCHEMA}.settle(text) FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA {SCHEMA} TO PUBLIC;\n\
         GRANT EXECUTE ON FUNCTION {SCHEMA}.loaded(), {SCHEMA}.disarm(text), {SCHEMA}.take(text) TO PUBLIC;\n\
         GRANT EXECUTE ON PROCEDURE {SCHEMA}.settle(text) TO PUBLIC;\n"
    );
    sql
}

/// The error both captures raise for a write or a settle outside the
/// origin replication role.
const REPLICA: &str =
    "rowguard tripwire: an operation runs with session_replication_role = origin only";

/// The plpgsql capture's schema, functions and log, and, when the installer
/// is a superuser (event triggers need one), an event trigger refusing DDL
/// while the session's operation is armed.
fn plpgsql() -> String {
    format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;\n\
         CREATE SCHEMA {SCHEMA};\n\
         REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;\n\
         CREATE UNLOGGED TABLE {SCHEMA}.log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n\
           xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), tbl text NOT NULL, old jsonb, new jsonb);\n\
         CREATE INDEX ON {SCHEMA}.log (xid, seq);\n\
         CREATE FUNCTION {SCHEMA}.log_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           IF current_setting('rowguard.tripwire', true) = 'on' THEN\n\
             IF current_setting('session_replication_role') <> 'origin' THEN\n\
               RAISE EXCEPTION '{REPLICA}' USING ERRCODE = '42501';\n\
             END IF;\n\
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
         ALTER TABLE {SCHEMA}.log ENABLE ALWAYS TRIGGER untaken;\n\
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
           IF current_setting('session_replication_role') <> 'origin' THEN\n\
             RAISE EXCEPTION '{REPLICA}' USING ERRCODE = '42501';\n\
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
         CREATE FUNCTION {SCHEMA}.no_ddl() RETURNS event_trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           IF current_setting('rowguard.tripwire', true) = 'on' THEN\n\
             RAISE EXCEPTION 'rowguard tripwire: % is refused while an operation is armed', TG_TAG USING ERRCODE = '42501';\n\
           END IF;\n\
         END $rg$;\n\
         DO $rg$ BEGIN\n\
           IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN\n\
             CREATE EVENT TRIGGER rowguard_tripwire_ddl ON ddl_command_start EXECUTE FUNCTION {SCHEMA}.no_ddl();\n\
             ALTER EVENT TRIGGER rowguard_tripwire_ddl ENABLE ALWAYS;\n\
           END IF;\n\
         END $rg$;\n\
         REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA {SCHEMA} TO PUBLIC;\n\
         GRANT EXECUTE ON FUNCTION {SCHEMA}.arm(text), {SCHEMA}.take(text), {SCHEMA}.settle(text, jsonb) TO PUBLIC;\n"
    )
}

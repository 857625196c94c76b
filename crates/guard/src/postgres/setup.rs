//! Building a [`super::PgGuard`]'s fixture and capture inside the database
//! [`super::run::Objects`] made for it, and connecting the code under test.
//!
//! Privilege separation by construction: everything (the fixture, the
//! change log, the triggers, the functions) belongs to a NOLOGIN owner role;
//! the code under test logs in as the app role, which is a member of no
//! role, so no `SET ROLE`, `RESET ROLE`, `set_config('role', ...)`, `SET
//! SESSION AUTHORIZATION` or `DO` block reaches the owner. The app role may
//! SELECT/INSERT/UPDATE/DELETE the fixture tables and call four functions of
//! the `rowguard` schema (owner's rights, fixed `search_path`): `begin()`
//! (marks the input's transaction), `read(after)` (log rows after a
//! sequence number), `in_input()` and `reset_sequences()`. It cannot read,
//! write, truncate or disable the log or its triggers, and none of the four
//! functions removes a log row: there is nothing to steal, so no secret.
//!
//! Transaction control by construction, not by reading the SQL:
//! - `begin()` inserts the transaction's id into `rowguard.input`, whose
//!   deferred constraint trigger raises at COMMIT (and at PREPARE
//!   TRANSACTION, or `SET CONSTRAINTS ALL IMMEDIATE`): a transaction that
//!   holds an input can never commit;
//! - a BEFORE statement trigger on every fixture table raises unless the
//!   current transaction holds an input: after a COMMIT or ROLLBACK the
//!   code under test sends, its writes fail instead of autocommitting.

use postgres::{Client, Config};

use super::connect;
use super::run::{ident, pg, rows, Objects};
use crate::policy::TableInfo;
use crate::server::tables::tables_of;

/// Builds the fixture (`schema_sql`, as the owner, in schema `public`) and
/// the capture in the guard's database, then connects as the app role.
/// Returns the app connection and the protected tables.
pub(super) fn build(
    config: &Config,
    objects: &Objects,
    schema_sql: &str,
) -> crate::Result<(Client, Vec<TableInfo>)> {
    let db_config = objects.config_for(config);
    let mut builder = connect(&db_config, "to rowguard's database")?;
    builder
        .batch_execute(&format!(
            "SET ROLE {}; SET search_path = public; SET standard_conforming_strings = on; SET client_min_messages = error;",
            ident(&objects.owner)
        ))
        .map_err(pg("setting up the build session"))?;
    builder
        .batch_execute(schema_sql)
        .map_err(pg("building the fixture"))?;
    let tables = tables_in(&mut builder, "public")?;
    let sequences = rows(
        builder
            .simple_query(
                "SELECT coalesce(string_agg(format('PERFORM pg_catalog.setval(%L, %s, %s);', format('%I.%I', schemaname, sequencename),                  coalesce(last_value, start_value), CASE WHEN last_value IS NULL THEN 'false' ELSE 'true' END), ' '), '')                  FROM pg_catalog.pg_sequences WHERE schemaname = 'public'",
            )
            .map_err(pg("reading the sequences"))?,
    );
    let reset = sequences
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    builder
        .batch_execute(&isolation_sql(&objects.app, &tables, &reset))
        .map_err(pg("installing the change log"))?;
    drop(builder);
    let mut app_config = db_config;
    app_config
        .user(&objects.app)
        .password(objects.password.as_str());
    let conn = connect(
        &app_config,
        "as rowguard's app role (pg_hba.conf must allow password login)",
    )?;
    Ok((conn, tables))
}

/// Every ordinary table of `schema`: columns in order, key = primary key
/// (every column when there is none). Shared with the tripwire.
pub(crate) fn tables_in(client: &mut Client, schema: &str) -> crate::Result<Vec<TableInfo>> {
    let sql = "SELECT c.relname::text, a.attname::text, \
         (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.relnamespace = $1::text::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum";
    let found = client
        .query(sql, &[&ident(schema)])
        .map_err(pg("reading the protected tables"))?;
    let rows = found
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get::<_, Option<i32>>(2)));
    Ok(tables_of(rows))
}

/// Log rows the COMMIT denial hands back (in its error's DETAIL): what the
/// transaction wrote before the code under test tried to commit it.
pub(super) const COMMIT_LOG_ROWS: usize = 100_000;

/// The capture in schema `rowguard`: the log and the input marker (owner
/// only), their triggers on every fixture table, the app role's grants.
fn isolation_sql(app: &str, tables: &[TableInfo], reset_sequences: &str) -> String {
    let app = ident(app);
    let mut sql = format!(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n\
         CREATE SCHEMA rowguard;\n\
         REVOKE ALL ON SCHEMA rowguard FROM PUBLIC;\n\
         CREATE TABLE rowguard.log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl text NOT NULL, old jsonb, new jsonb);\n\
         CREATE TABLE rowguard.input (xid xid8 PRIMARY KEY);\n\
         CREATE FUNCTION rowguard.log_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           INSERT INTO rowguard.log (tbl, old, new) VALUES (TG_TABLE_NAME,\n\
             CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,\n\
             CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);\n\
           RETURN NULL;\n\
         END $rg$;\n\
         CREATE FUNCTION rowguard.in_input() RETURNS boolean LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
           SELECT EXISTS (SELECT 1 FROM rowguard.input WHERE xid = pg_current_xact_id())\n\
         $rg$;\n\
         CREATE FUNCTION rowguard.require_input() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           IF NOT rowguard.in_input() THEN\n\
             RAISE EXCEPTION 'rowguard: a write outside the input''s transaction (after a COMMIT or ROLLBACK) is denied';\n\
           END IF;\n\
           RETURN NULL;\n\
         END $rg$;\n\
         CREATE FUNCTION rowguard.deny_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           RAISE EXCEPTION 'rowguard: COMMIT is denied (an input''s transaction is always rolled back)'\n\
             USING DETAIL = coalesce((SELECT json_agg(json_build_array(l.seq::text, l.tbl, l.old::text, l.new::text) ORDER BY l.seq)::text\n\
               FROM (SELECT g.* FROM rowguard.log g ORDER BY g.seq LIMIT {COMMIT_LOG_ROWS}) l), '[]');\n\
         END $rg$;\n\
         CREATE CONSTRAINT TRIGGER deny_commit AFTER INSERT ON rowguard.input DEFERRABLE INITIALLY DEFERRED\n\
           FOR EACH ROW EXECUTE FUNCTION rowguard.deny_commit();\n\
         CREATE FUNCTION rowguard.begin() RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
           INSERT INTO rowguard.input VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;\n\
           SELECT pg_current_xact_id()::text\n\
         $rg$;\n\
         CREATE FUNCTION rowguard.read(after bigint) RETURNS TABLE (seq text, tbl text, old text, new text)\n\
           LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
           SELECT seq::text, tbl, old::text, new::text FROM rowguard.log WHERE seq > after ORDER BY seq\n\
         $rg$;\n\
         CREATE FUNCTION rowguard.reset_sequences() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN {reset_sequences} END $rg$;\n\
         CREATE FUNCTION rowguard.deny_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           RAISE EXCEPTION 'rowguard: TRUNCATE of % is denied (no row trigger sees it)', TG_TABLE_NAME;\n\
         END $rg$;\n\
         REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rowguard FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA rowguard TO {app};\n\
         GRANT EXECUTE ON FUNCTION rowguard.begin(), rowguard.read(bigint), rowguard.in_input(), rowguard.reset_sequences() TO {app};\n"
    );
    for t in tables {
        let n = ident(&t.name);
        sql += &format!(
            "CREATE TRIGGER rowguard_log AFTER INSERT OR UPDATE OR DELETE ON public.{n} FOR EACH ROW EXECUTE FUNCTION rowguard.log_row();\n\
             CREATE TRIGGER rowguard_input BEFORE INSERT OR UPDATE OR DELETE ON public.{n} FOR EACH STATEMENT EXECUTE FUNCTION rowguard.require_input();\n\
             CREATE TRIGGER rowguard_truncate BEFORE TRUNCATE ON public.{n} FOR EACH STATEMENT EXECUTE FUNCTION rowguard.deny_truncate();\n"
        );
    }
    sql += &format!(
        "GRANT USAGE ON SCHEMA public TO {app};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app};\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app};\n"
    );
    sql
}

/// The number of capture triggers [`isolation_sql`] puts on `tables`.
pub(super) fn capture_triggers(tables: &[TableInfo]) -> usize {
    3 * tables.len()
}

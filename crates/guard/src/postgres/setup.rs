//! Building (and dropping) everything a [`super::PgGuard`] needs on the
//! server, and nothing outside it: two schemas and two roles, named
//! `rowguard_<pid>_<n>...`. Refuses a database that already holds tables
//! rowguard did not create, unless [`PgOptions::owned_by_rowguard`] says
//! the database is rowguard's to use.

use std::hash::{BuildHasher, Hasher};

use postgres::{Client, SimpleQueryMessage};

use super::{config_of, connect, one_line, Names};
use crate::policy::TableInfo;

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (or key=value form).
    pub url: String,
    /// The database may hold tables rowguard did not create (the user says
    /// it is rowguard's to use); rowguard still writes only in its own schemas.
    pub owned_by_rowguard: bool,
}

impl PgOptions {
    /// Options for the server at `url`, refusing a database with foreign tables.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            owned_by_rowguard: false,
        }
    }
}

fn pg(what: &str) -> impl Fn(postgres::Error) -> crate::Error + '_ {
    move |e| crate::Error::Postgres(format!("{what}: {}", one_line(&e)))
}

/// A password nobody else knows for rowguard's login role.
fn password() -> String {
    let s = std::collections::hash_map::RandomState::new();
    let (mut a, mut b) = (s.build_hasher(), s.build_hasher());
    a.write_u32(std::process::id());
    b.write_u64(0x5eed);
    format!("rg{:016x}{:016x}", a.finish(), b.finish())
}

fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<Option<String>>> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// Tables in the database that rowguard did not create.
const FOREIGN_TABLES: &str = "\
SELECT count(*)::text, min(n.nspname || '.' || c.relname) FROM pg_catalog.pg_class c \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT LIKE 'rowguard\\_%'";

/// Connects, checks the database, creates the schemas and roles, builds the
/// fixture and the change log. Returns the admin and guard connections, the
/// protected tables and the statement that resets the sequences.
pub(super) fn build(
    options: &PgOptions,
    names: &Names,
    schema_sql: &str,
) -> crate::Result<(Client, Client, Vec<TableInfo>, String)> {
    let config = config_of(&options.url)?;
    let mut admin = connect(&config, "to the --database server")?;
    let db = config.get_dbname().unwrap_or("(default)").to_string();
    if !options.owned_by_rowguard {
        let found = rows(
            admin
                .simple_query(FOREIGN_TABLES)
                .map_err(pg("reading the catalog"))?,
        );
        if let Some([Some(count), Some(first)]) = found.first().map(Vec::as_slice) {
            if count != "0" {
                return Err(crate::Error::Postgres(format!(
                    "database `{db}` already holds {count} table(s) rowguard did not create (e.g. {first}); \
                     point --database at an empty database, or pass --database-owned-by-rowguard"
                )));
            }
        }
    }
    let pw = password();
    let Names {
        schema,
        scratch,
        owner,
        app,
    } = names;
    let create = format!(
        "CREATE ROLE \"{owner}\" LOGIN PASSWORD '{pw}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; \
         CREATE ROLE \"{app}\" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; \
         GRANT \"{app}\" TO \"{owner}\"; \
         CREATE SCHEMA \"{schema}\" AUTHORIZATION \"{owner}\"; \
         CREATE SCHEMA \"{scratch}\" AUTHORIZATION \"{owner}\";"
    );
    if let Err(e) = admin.batch_execute(&create) {
        teardown(&mut admin, names);
        return Err(pg("cannot create rowguard's schemas and roles (needs CREATEROLE and CREATE on the database)")(e));
    }
    let built = (|| {
        let mut own = config.clone();
        own.user(owner).password(pw.as_str());
        let mut conn = connect(
            &own,
            "as rowguard's own role (pg_hba.conf must allow password login)",
        )?;
        conn.batch_execute(&format!(
            "SET search_path = \"{schema}\"; SET standard_conforming_strings = on; SET client_min_messages = error;"
        ))
        .map_err(pg("setting up the session"))?;
        conn.batch_execute(schema_sql)
            .map_err(pg("building the fixture"))?;
        let tables = protected_tables(&mut conn, schema)?;
        conn.batch_execute(&isolation_sql(names, &tables))
            .map_err(pg("installing the change log"))?;
        let reset = rows(
            conn.simple_query(&format!(
                "SELECT coalesce(string_agg(format('SELECT pg_catalog.setval(%L, %s, %s);', format('%I.%I', schemaname, sequencename), \
                 coalesce(last_value, start_value), CASE WHEN last_value IS NULL THEN 'false' ELSE 'true' END), ' '), '') FROM pg_catalog.pg_sequences WHERE schemaname = '{schema}'"
            ))
            .map_err(pg("reading the sequences"))?,
        );
        let reset = reset
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        Ok((conn, tables, reset))
    })();
    match built {
        Ok((conn, tables, reset)) => Ok((admin, conn, tables, reset)),
        Err(e) => {
            teardown(&mut admin, names);
            Err(e)
        }
    }
}

/// Every table of the fixture schema: columns in order, key = primary key
/// (every column when there is none).
fn protected_tables(conn: &mut Client, schema: &str) -> crate::Result<Vec<TableInfo>> {
    let sql = format!(
        "SELECT c.relname::text, a.attname::text, \
         (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.relnamespace = '\"{schema}\"'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum"
    );
    let mut tables: Vec<(TableInfo, Vec<(i64, usize)>)> = Vec::new();
    for r in rows(
        conn.simple_query(&sql)
            .map_err(pg("reading the fixture's tables"))?,
    ) {
        let (Some(name), Some(column)) = (r[0].clone(), r[1].clone()) else {
            continue;
        };
        if tables.last().is_none_or(|(t, _)| t.name != name) {
            tables.push((
                TableInfo {
                    name,
                    columns: Vec::new(),
                    key: Vec::new(),
                },
                Vec::new(),
            ));
        }
        let (t, pk) = tables.last_mut().expect("pushed above");
        if let Some(pos) = r[2].as_deref().and_then(|p| p.parse::<i64>().ok()) {
            pk.push((pos, t.columns.len()));
        }
        t.columns.push(column);
    }
    Ok(tables
        .into_iter()
        .map(|(mut t, mut pk)| {
            pk.sort();
            t.key = if pk.is_empty() {
                (0..t.columns.len()).collect()
            } else {
                pk.into_iter().map(|(_, i)| i).collect()
            };
            t
        })
        .collect())
}

/// The change log, its triggers, the TRUNCATE denial and the app role's grants.
fn isolation_sql(names: &Names, tables: &[TableInfo]) -> String {
    let Names {
        schema,
        scratch,
        app,
        ..
    } = names;
    let mut sql = format!(
        "CREATE TABLE \"{scratch}\".rowguard_log (seq bigint GENERATED ALWAYS AS IDENTITY, tbl text NOT NULL, old jsonb, new jsonb);\n\
         CREATE FUNCTION \"{scratch}\".rowguard_log_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           INSERT INTO \"{scratch}\".rowguard_log (tbl, old, new) VALUES (TG_TABLE_NAME,\n\
             CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,\n\
             CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);\n\
           RETURN NULL;\n\
         END $rg$;\n\
         CREATE FUNCTION \"{scratch}\".rowguard_deny_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
         BEGIN\n\
           RAISE EXCEPTION 'rowguard: TRUNCATE of % is denied (no row trigger sees it)', TG_TABLE_NAME;\n\
         END $rg$;\n"
    );
    for t in tables {
        let n = &t.name;
        sql += &format!(
            "CREATE TRIGGER rowguard_log AFTER INSERT OR UPDATE OR DELETE ON \"{schema}\".\"{n}\" FOR EACH ROW EXECUTE FUNCTION \"{scratch}\".rowguard_log_row();\n\
             CREATE TRIGGER rowguard_truncate BEFORE TRUNCATE ON \"{schema}\".\"{n}\" FOR EACH STATEMENT EXECUTE FUNCTION \"{scratch}\".rowguard_deny_truncate();\n"
        );
    }
    sql += &format!(
        "REVOKE ALL ON SCHEMA \"{scratch}\" FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA \"{schema}\" TO \"{app}\";\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO \"{app}\";\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO \"{app}\";\n"
    );
    sql
}

/// Drops what [`build`] created (best effort: the guard is going away).
pub(super) fn teardown(admin: &mut Client, names: &Names) {
    let Names {
        schema,
        scratch,
        owner,
        app,
    } = names;
    let _ = admin.batch_execute(&format!(
        "SET lock_timeout = '10s'; \
         DROP SCHEMA IF EXISTS \"{schema}\", \"{scratch}\" CASCADE; \
         DROP ROLE IF EXISTS \"{app}\"; DROP ROLE IF EXISTS \"{owner}\";"
    ));
}

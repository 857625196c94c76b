//! What rowguard makes on a PostgreSQL server, and how it finds and removes
//! it: one database per guard (`rowguard_<pid>_<random>_<n>`, built from
//! `template0`, so it holds nothing rowguard did not put there) and the
//! roles that own and use it. Every one of them carries a marker comment
//! `rowguard run <run id>`; a run is alive while an admin connection with
//! `application_name = <run id>` is (a process killed with SIGKILL loses
//! its connections at once, whatever it was doing), so the next run drops
//! what a dead run left, and only that: an object without the marker is
//! never rowguard's, whatever its name.
//!
//! The database named in `--database` is only where rowguard connects to
//! create its own; it is refused when it holds any object rowguard did not
//! create (tables, views, sequences, functions, types, schemas), unless the
//! user says it is rowguard's to use.

use std::sync::{Mutex, OnceLock};

use postgres::{Client, Config, SimpleQueryMessage};

use super::{config_of, connect, one_line};
use crate::server::run::{marker, next_name, random, run_id};
use crate::server::ServerOptions as PgOptions;

pub(super) fn pg(what: &str) -> impl Fn(postgres::Error) -> crate::Error + '_ {
    move |e| crate::Error::Postgres(format!("{what}: {}", one_line(&e)))
}

/// `"name"` quoted as an identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` quoted as a literal (standard_conforming_strings on).
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_literal(&mut out, text);
    out
}

/// [`literal`] at the end of `out`.
pub(crate) fn push_literal(out: &mut String, text: &str) {
    out.push('\'');
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            out.push_str("''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

pub(crate) fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<Option<String>>> {
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

/// Objects of the named database that rowguard did not create: any schema
/// but an empty `public`, any relation, function or free-standing type.
const FOREIGN_OBJECTS: &str = "\
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace \
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'), \
o AS ( \
  SELECT 'schema ' || nspname AS what FROM ns WHERE nspname <> 'public' \
  UNION ALL SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' \
    WHEN 'f' THEN 'foreign table ' ELSE 'table ' END || ns.nspname || '.' || c.relname \
    FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
  UNION ALL SELECT 'function ' || ns.nspname || '.' || p.proname FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace \
  UNION ALL SELECT 'type ' || ns.nspname || '.' || t.typname FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace \
    WHERE t.typrelid = 0 AND t.typelem = 0) \
SELECT count(*)::text, min(what) FROM o";

/// Databases and roles of runs whose admin connection is gone.
const DEAD: &str = "\
SELECT 'DATABASE', datname::text FROM pg_catalog.pg_database d, \
  LATERAL (SELECT pg_catalog.shobj_description(d.oid, 'pg_database') AS m) x \
  WHERE m LIKE 'rowguard run %' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.application_name = substr(m, 14)) \
UNION ALL SELECT 'ROLE', rolname::text FROM pg_catalog.pg_roles r, \
  LATERAL (SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') AS m) x \
  WHERE m LIKE 'rowguard run %' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.application_name = substr(m, 14)) \
ORDER BY 1";

/// Connects as the user of `--database`, marked with this run's id (this
/// connection only: it is the run's sign of life). Returns the unmarked
/// configuration for the run's other connections.
pub(crate) fn admin(options: &PgOptions) -> crate::Result<(Config, Client)> {
    let config = config_of(&options.url)?;
    let mut marked = config.clone();
    marked.application_name(run_id());
    let mut admin = connect(&marked, "to the --database server")?;
    drop_dead_runs(&mut admin);
    if !options.owned_by_rowguard {
        refuse_foreign(&mut admin, &config)?;
    }
    Ok((config, admin))
}

/// Drops what runs killed before they could clean up left (best effort:
/// another run may be dropping the same objects at the same moment).
fn drop_dead_runs(admin: &mut Client) {
    let Ok(found) = admin.simple_query(DEAD).map(rows) else {
        return;
    };
    for r in found {
        if let [Some(kind), Some(name)] = r.as_slice() {
            let sql = match kind.as_str() {
                "DATABASE" => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name)),
                _ => format!("DROP ROLE IF EXISTS {}", ident(name)),
            };
            let _ = admin.batch_execute(&sql);
        }
    }
}

fn refuse_foreign(admin: &mut Client, config: &Config) -> crate::Result<()> {
    let found = rows(
        admin
            .simple_query(FOREIGN_OBJECTS)
            .map_err(pg("reading the catalog"))?,
    );
    if let Some([Some(count), Some(first)]) = found.first().map(Vec::as_slice) {
        if count != "0" {
            let db = config.get_dbname().unwrap_or("(default)");
            return Err(crate::Error::Postgres(format!(
                "database `{db}` already holds {count} object(s) rowguard did not create (e.g. {first}); \
                 point --database at an empty database, or pass --database-owned-by-rowguard"
            )));
        }
    }
    Ok(())
}

/// App roles the user named, shared by this process's guards: created by
/// the first, dropped by the last.
/// Name -> (guards using it, its password).
fn shared_roles() -> &'static Mutex<std::collections::HashMap<String, (usize, String)>> {
    static R: OnceLock<Mutex<std::collections::HashMap<String, (usize, String)>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// One guard's database and roles on the server; [`Objects::drop_all`] removes them.
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    /// The database (also the base of the role names).
    pub database: String,
    /// NOLOGIN role owning the database and everything in it.
    pub owner: String,
    /// The login role the code under test runs as.
    pub app: String,
    /// Its password (random, never shown).
    pub password: String,
    /// `app` was named by the user (shared by this process's guards).
    shared_app: bool,
}

impl Objects {
    /// Creates the roles and the database (`with_app`: and the app role).
    pub(crate) fn create(
        admin: &mut Client,
        options: &PgOptions,
        with_app: bool,
    ) -> crate::Result<Objects> {
        if let Some(role) = &options.app_role {
            if role.is_empty() || role.len() > 63 || role.contains('\0') {
                return Err(crate::Error::Postgres(format!(
                    "--database-role {role:?}: a role name is 1 to 63 bytes, without NUL"
                )));
            }
        }
        let database = next_name();
        let mut objects = Objects {
            owner: format!("{database}_owner"),
            app: options
                .app_role
                .clone()
                .unwrap_or_else(|| format!("{database}_app")),
            password: format!("rg{:016x}{:016x}", random(), random()),
            shared_app: options.app_role.is_some(),
            database,
        };
        if !with_app {
            objects.app.clear();
        }
        let made = objects.make(admin);
        if let Err(e) = made {
            objects.drop_all(admin);
            return Err(e);
        }
        Ok(objects)
    }

    fn make(&mut self, admin: &mut Client) -> crate::Result<()> {
        let (db, owner, mark) = (
            ident(&self.database),
            ident(&self.owner),
            literal(&marker()),
        );
        admin
            .batch_execute(&format!(
                "CREATE ROLE {owner} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; \
                 COMMENT ON ROLE {owner} IS {mark}; GRANT {owner} TO CURRENT_USER;"
            ))
            .map_err(pg("cannot create rowguard's roles (needs CREATEROLE)"))?;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {db} OWNER {owner} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
            ))
            .map_err(pg("cannot create rowguard's database (needs CREATEDB)"))?;
        admin
            .batch_execute(&format!(
                "COMMENT ON DATABASE {db} IS {mark}; REVOKE ALL ON DATABASE {db} FROM PUBLIC;"
            ))
            .map_err(pg("marking rowguard's database"))?;
        if self.app.is_empty() {
            return Ok(());
        }
        self.make_app(admin)?;
        admin
            .batch_execute(&format!(
                "GRANT CONNECT ON DATABASE {db} TO {}",
                ident(&self.app)
            ))
            .map_err(pg("granting the app role its database"))
    }

    /// The app role: LOGIN, no attributes, member of nothing, with the
    /// bounds the server enforces per role. `temp_file_limit` is a superuser
    /// setting the role can never lift; the timeouts and memory settings are
    /// ones PostgreSQL lets any role change, so the guard checks them after
    /// every call and a watchdog bounds each call whatever they say.
    fn make_app(&mut self, admin: &mut Client) -> crate::Result<()> {
        let app = ident(&self.app);
        let mut roles = shared_roles().lock().unwrap_or_else(|e| e.into_inner());
        if self.shared_app {
            if let Some((n, password)) = roles.get_mut(&self.app) {
                *n += 1;
                self.password = password.clone();
                return Ok(());
            }
        }
        admin
            .batch_execute(&format!(
                "CREATE ROLE {app} LOGIN PASSWORD {pw} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT; \
                 COMMENT ON ROLE {app} IS {mark};",
                pw = literal(&self.password),
                mark = literal(&marker()),
            ))
            .map_err(|e| {
                let taken = e.as_db_error().is_some_and(|d| d.code().code() == "42710");
                if taken {
                    crate::Error::Postgres(format!(
                        "role `{}` already exists and rowguard did not create it: name another with --database-role",
                        self.app
                    ))
                } else {
                    pg("cannot create the app role (needs CREATEROLE)")(e)
                }
            })?;
        if self.shared_app {
            roles.insert(self.app.clone(), (1, self.password.clone()));
        }
        let bounds = super::status::ROLE_SETTINGS
            .iter()
            .map(|(name, value)| format!("ALTER ROLE {app} SET {name} = {}", literal(value)))
            .collect::<Vec<_>>()
            .join("; ");
        admin.batch_execute(&bounds).map_err(pg(
            "cannot bound the app role (temp_file_limit needs a superuser, or GRANT SET ON PARAMETER temp_file_limit)",
        ))
    }

    /// Drops the database (ending its sessions) and the roles (best effort:
    /// the guard is going away; what stays is found by the next run).
    pub(crate) fn drop_all(&self, admin: &mut Client) {
        // Each alone: DROP DATABASE refuses to run inside a (multi-statement) transaction.
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(&self.database)
        ));
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&self.owner)));
        if self.app.is_empty() {
            return;
        }
        if self.shared_app {
            let mut roles = shared_roles().lock().unwrap_or_else(|e| e.into_inner());
            match roles.get_mut(&self.app) {
                Some((n, _)) if *n > 1 => {
                    *n -= 1;
                    return;
                }
                _ => {
                    roles.remove(&self.app);
                }
            }
        }
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", ident(&self.app)));
    }

    /// `config` pointed at this guard's database.
    pub(crate) fn config_for(&self, config: &Config) -> Config {
        let mut c = config.clone();
        c.dbname(&self.database);
        c
    }
}

impl crate::server::run::Made for Objects {
    type Admin = Client;

    fn drop_all(&self, admin: &mut Client) {
        Objects::drop_all(self, admin);
    }
}

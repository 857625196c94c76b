//! A watched fixture on PostgreSQL: the code under test logs in with a URL
//! of its own (the app role), through any client and pool, and commits.
//!
//! Built as the server guard builds (a database and roles of rowguard's
//! own, refused when foreign): the fixture in `public` and the capture in
//! schema `rowguard_watch` belong to a NOLOGIN owner; the app role, a
//! member of nothing, may read and write the fixture tables and nothing
//! else. The capture by construction:
//! - an AFTER row trigger on every fixture table (owner's rights) logs the
//!   row's images (`to_jsonb`) with the session's pid; the app role cannot
//!   read, write, truncate or disable the log or its triggers, nor set
//!   `session_replication_role` (superuser only), and TRUNCATE of a fixture
//!   table raises;
//! - after every operation rowguard reads the rows logged since it began,
//!   checks that every capture trigger is still there and enabled, and ends
//!   every session of the app role still inside a transaction (a finding:
//!   its writes were never committed);
//! - a copy of the built fixture (`rowguard_watch.built_N`, owner only) is
//!   what the fixture is put back to after each input: rows that differ are
//!   deleted and the built ones inserted, without triggers
//!   (`session_replication_role = replica` when rowguard's user may set it),
//!   sequences reset; then every table is compared with its copy, and the
//!   fixture is rebuilt when one differs.
//!
//! The code reaches the server through a pass-through ([`super::proxy::pg`])
//! that keeps the text of every statement it sends, for the engine's
//! shape feedback and the reports (when the server is reached over TCP).

use postgres::{Client, Config, SimpleQueryMessage};

use super::proxy::{self, Proxy};
use super::{left_open, still_open, tampered, Capture, Restored, Side, Taken, Target};
use crate::backend::BackendKind;
use crate::policy::TableInfo;
use crate::postgres::run::{self, ident, literal, rows, Objects};
use crate::postgres::{connect, db_error, lex, one_line, values};
use crate::{DbError, Value};

/// The watched PostgreSQL fixture.
pub struct PgWatch {
    /// The `--database` user's connection: sees and ends the app role's sessions.
    admin: Option<Client>,
    /// rowguard's own connection to the fixture's database (as the owner).
    conn: Client,
    objects: Objects,
    target: Target,
    tables: Vec<TableInfo>,
    /// `INSERT` column lists (no generated column) per table.
    insertable: Vec<Vec<String>>,
    schema_sql: String,
    /// The statements that reset the sequences to their built values.
    sequences: String,
    /// rowguard's user may turn triggers off for the restore.
    replica: bool,
    /// The last log row of an earlier operation.
    seq: i64,
    capture: Capture,
    /// The statements the code sends, when it reaches the server over TCP.
    proxy: Option<Proxy>,
}

fn pg(what: &str) -> impl Fn(postgres::Error) -> crate::Error + '_ {
    move |e| crate::Error::Postgres(format!("{what}: {}", one_line(&e)))
}

fn first(messages: Vec<SimpleQueryMessage>) -> Option<String> {
    rows(messages).into_iter().next()?.into_iter().next()?
}

impl PgWatch {
    /// Builds `schema_sql` in a new database of rowguard's own on the server
    /// `options` names, with the capture and the app role.
    pub fn open(
        options: &crate::server::ServerOptions,
        schema_sql: &str,
        capture: Capture,
    ) -> crate::Result<PgWatch> {
        let (config, mut admin) = run::admin(options)?;
        let objects = Objects::create(&mut admin, options, true)?;
        let made = (|| {
            let conn = connect(&objects.config_for(&config), "to rowguard's database")?;
            // the pass-through only where the code would reach the server over TCP
            let proxy = match (capture, upstream(&config)) {
                (Capture::On, Some(addr)) => {
                    Some(Proxy::start(addr, proxy::pg::pass).map_err(|e| {
                        crate::Error::Setup(format!("the statement pass-through: {e}"))
                    })?)
                }
                _ => None,
            };
            let target = target_of(&config, &objects, proxy.as_ref().map(Proxy::port));
            Ok::<_, crate::Error>((conn, target, proxy))
        })();
        let (conn, target, proxy) = match made {
            Ok(m) => m,
            Err(e) => {
                objects.drop_all(&mut admin);
                return Err(e);
            }
        };
        let mut watch = PgWatch {
            admin: Some(admin),
            conn,
            objects,
            target,
            tables: Vec::new(),
            insertable: Vec::new(),
            schema_sql: schema_sql.to_string(),
            sequences: String::new(),
            replica: false,
            seq: 0,
            capture,
            proxy,
        };
        watch.build()?;
        Ok(watch)
    }

    /// Builds the fixture, its copy and the capture in `public` (dropping
    /// what an earlier build left).
    fn build(&mut self) -> crate::Result<()> {
        let owner = ident(&self.objects.owner);
        let app = ident(&self.objects.app);
        self.conn
            .batch_execute(&format!(
                "RESET ALL; SET ROLE {owner}; SET client_min_messages = error; \
                 DROP SCHEMA IF EXISTS rowguard_watch CASCADE; DROP SCHEMA IF EXISTS public CASCADE; \
                 CREATE SCHEMA public; REVOKE ALL ON SCHEMA public FROM PUBLIC; SET search_path = public;"
            ))
            .map_err(pg("clearing the fixture's database"))?;
        self.conn
            .batch_execute(&self.schema_sql)
            .map_err(pg("building the fixture"))?;
        self.conn
            .batch_execute("SET search_path = public")
            .map_err(pg("building the fixture"))?;
        self.tables = crate::postgres::setup::tables_in(&mut self.conn, "public")?;
        self.insertable = Vec::new();
        for t in &self.tables {
            let cols = rows(
                self.conn
                    .simple_query(&format!(
                        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_catalog.pg_attribute \
                         WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
                        literal(&format!("public.{}", ident(&t.name)))
                    ))
                    .map_err(pg("reading the fixture's columns"))?,
            );
            let list = cols.first().and_then(|r| r[0].clone()).unwrap_or_default();
            self.insertable.push(vec![list]);
        }
        self.sequences = first(
            self.conn
                .simple_query(
                    "SELECT coalesce(string_agg(format('SELECT pg_catalog.setval(%L, %s, %s);', format('%I.%I', schemaname, sequencename), \
                     coalesce(last_value, start_value), CASE WHEN last_value IS NULL THEN 'false' ELSE 'true' END), ' '), '') \
                     FROM pg_catalog.pg_sequences WHERE schemaname = 'public'",
                )
                .map_err(pg("reading the sequences"))?,
        )
        .unwrap_or_default();
        let mut sql = format!(
            "CREATE SCHEMA rowguard_watch; REVOKE ALL ON SCHEMA rowguard_watch FROM PUBLIC;\n\
             CREATE TABLE rowguard_watch.log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl text NOT NULL, \
               old jsonb, new jsonb, pid int NOT NULL DEFAULT pg_catalog.pg_backend_pid());\n\
             CREATE FUNCTION rowguard_watch.log_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $rg$\n\
             BEGIN\n\
               INSERT INTO rowguard_watch.log (tbl, old, new) VALUES (TG_TABLE_NAME,\n\
                 CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);\n\
               RETURN NULL;\n\
             END $rg$;\n\
             CREATE FUNCTION rowguard_watch.deny_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $rg$\n\
             BEGIN RAISE EXCEPTION 'rowguard: TRUNCATE of % is denied (no row trigger sees it)', TG_TABLE_NAME; END $rg$;\n\
             REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rowguard_watch FROM PUBLIC;\n\
             GRANT USAGE ON SCHEMA public TO {app};\n\
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app};\n\
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app};\n"
        );
        for (i, t) in self
            .tables
            .iter()
            .enumerate()
            .filter(|_| self.capture == Capture::On)
        {
            let n = ident(&t.name);
            sql += &format!(
                "CREATE TABLE rowguard_watch.built_{i} AS SELECT * FROM public.{n};\n\
                 CREATE TRIGGER rowguard_watch_log AFTER INSERT OR UPDATE OR DELETE ON public.{n} FOR EACH ROW EXECUTE FUNCTION rowguard_watch.log_row();\n\
                 CREATE TRIGGER rowguard_watch_truncate BEFORE TRUNCATE ON public.{n} FOR EACH STATEMENT EXECUTE FUNCTION rowguard_watch.deny_truncate();\n"
            );
        }
        self.conn
            .batch_execute(&sql)
            .map_err(pg("installing the capture"))?;
        self.replica = self
            .conn
            .batch_execute(
                "SET session_replication_role = replica; SET session_replication_role = origin",
            )
            .is_ok();
        self.seq = self.last_seq()?;
        Ok(())
    }

    fn last_seq(&mut self) -> crate::Result<i64> {
        let s = first(
            self.conn
                .simple_query("SELECT coalesce(max(seq), 0)::text FROM rowguard_watch.log")
                .map_err(pg("reading the capture"))?,
        );
        Ok(s.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Ends the app role's sessions that are inside a transaction or still
    /// running a statement; one finding each.
    fn end_open_sessions(&mut self, taken: &mut Taken) -> crate::Result<()> {
        let admin = self
            .admin
            .as_mut()
            .expect("the admin connection lives as long as the watch");
        let (database, app) = (&self.objects.database, &self.objects.app);
        let open = still_open(|| {
            admin
                .query(
                    "SELECT pid, state, left(query, 200) FROM pg_catalog.pg_stat_activity \
                     WHERE datname = $1 AND usename = $2 AND pid <> pg_catalog.pg_backend_pid() \
                     AND state IS DISTINCT FROM 'idle'",
                    &[database, app],
                )
                .map_err(pg("reading the app role's sessions"))
        })?;
        for row in &open {
            let (pid, state, query): (i32, Option<String>, Option<String>) =
                (row.get(0), row.get(1), row.get(2));
            taken.findings.push(left_open(
                &format!(
                    "session {pid}, {}",
                    state.as_deref().unwrap_or("unknown state")
                ),
                query.as_deref().unwrap_or(""),
                true,
            ));
            let _ = admin.execute("SELECT pg_catalog.pg_terminate_backend($1, 2000)", &[&pid]);
        }
        Ok(())
    }
}

/// The server's TCP address, when the URL names one.
fn upstream(config: &Config) -> Option<std::net::SocketAddr> {
    use postgres::config::Host;
    use std::net::ToSocketAddrs;
    let Some(Host::Tcp(host)) = config.get_hosts().first() else {
        return None;
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    (host.as_str(), port).to_socket_addrs().ok()?.next()
}

/// The URL the code under test connects with: the pass-through on `proxy`
/// when there is one, else the server's own address; the fixture's
/// database, the app role and its password.
fn target_of(config: &Config, objects: &Objects, proxy: Option<u16>) -> Target {
    use postgres::config::Host;
    let (host, port) = match (proxy, config.get_hosts().first()) {
        (Some(port), _) => ("127.0.0.1".to_string(), port),
        (None, host) => (
            match host {
                Some(Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
                Some(Host::Tcp(h)) => h.clone(),
                Some(Host::Unix(path)) => path.display().to_string().replace('/', "%2F"),
                None => "localhost".into(),
            },
            config.get_ports().first().copied().unwrap_or(5432),
        ),
    };
    Target::new(
        BackendKind::Postgres,
        format!(
            "postgres://{}:{}@{host}:{port}/{}",
            objects.app, objects.password, objects.database
        ),
    )
}

impl Drop for PgWatch {
    fn drop(&mut self) {
        if let Some(admin) = self.admin.as_mut() {
            self.objects.drop_all(admin);
        }
    }
}

impl Side for PgWatch {
    fn target(&self) -> &Target {
        &self.target
    }

    fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    fn mark(&mut self) -> crate::Result<()> {
        self.seq = self.last_seq()?;
        if let Some(p) = &self.proxy {
            p.take();
        }
        Ok(())
    }

    fn take(&mut self) -> crate::Result<Taken> {
        let mut taken = Taken {
            statements: self.proxy.as_ref().map(Proxy::take).unwrap_or_default(),
            ..Taken::default()
        };
        self.end_open_sessions(&mut taken)?;
        let triggers = first(
            self.conn
                .simple_query(
                    "SELECT count(*)::text FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
                     WHERE c.relnamespace = 'public'::regnamespace AND t.tgname IN ('rowguard_watch_log', 'rowguard_watch_truncate') \
                     AND t.tgenabled = 'O'",
                )
                .map_err(pg("checking the capture"))?,
        );
        if triggers != Some((2 * self.tables.len()).to_string()) {
            taken
                .findings
                .push(tampered("a capture trigger is missing or disabled"));
        }
        let logged = self
            .conn
            .query(
                "SELECT seq, tbl, old::text, new::text FROM rowguard_watch.log WHERE seq > $1 ORDER BY seq",
                &[&self.seq],
            )
            .map_err(pg("reading the capture"))?;
        for row in logged {
            let (seq, tbl, old, new): (i64, String, Option<String>, Option<String>) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            self.seq = self.seq.max(seq);
            taken.push_logged(&self.tables, (tbl, old, new), |image, t| {
                values::cells_of_image(image, &t.columns)
            });
        }
        Ok(taken)
    }

    fn restore(&mut self) -> crate::Result<Restored> {
        let mut taken = Taken::default();
        self.end_open_sessions(&mut taken)?;
        let mut sql = String::from("BEGIN; SET CONSTRAINTS ALL DEFERRED; ");
        if self.replica {
            sql += "SET LOCAL session_replication_role = replica; ";
        }
        let mut check = Vec::new();
        for (i, t) in self.tables.iter().enumerate() {
            let (n, cols) = (ident(&t.name), &self.insertable[i][0]);
            sql += &format!(
                "DELETE FROM public.{n} x WHERE NOT EXISTS (SELECT 1 FROM rowguard_watch.built_{i} y WHERE to_jsonb(x) = to_jsonb(y)); \
                 INSERT INTO public.{n} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM rowguard_watch.built_{i} y \
                   WHERE NOT EXISTS (SELECT 1 FROM public.{n} x WHERE to_jsonb(x) = to_jsonb(y)); "
            );
            check.push(format!(
                "(SELECT count(*) FROM (SELECT to_jsonb(x) FROM public.{n} x EXCEPT ALL SELECT to_jsonb(y) FROM rowguard_watch.built_{i} y) d) + \
                 (SELECT count(*) FROM (SELECT to_jsonb(y) FROM rowguard_watch.built_{i} y EXCEPT ALL SELECT to_jsonb(x) FROM public.{n} x) d)"
            ));
        }
        sql += &self.sequences;
        sql += " TRUNCATE rowguard_watch.log; COMMIT; ";
        let differs = match self.conn.batch_execute(&sql) {
            Ok(()) => {
                let query = format!(
                    "SELECT ({})::text",
                    if check.is_empty() {
                        "0".into()
                    } else {
                        check.join(" + ")
                    }
                );
                first(
                    self.conn
                        .simple_query(&query)
                        .map_err(pg("comparing the fixture"))?,
                )
                .filter(|n| n != "0")
                .map(|n| format!("{n} row(s) differ from the built fixture after putting it back"))
            }
            Err(e) => {
                let _ = self.conn.batch_execute("ROLLBACK");
                Some(format!("putting it back failed: {}", one_line(&e)))
            }
        };
        self.seq = self.last_seq()?;
        match differs {
            None => Ok(Restored::Clean),
            Some(why) => {
                self.build()?;
                Ok(Restored::Rebuilt(why))
            }
        }
    }

    fn read(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let text = lex::dollar_params(sql, !params.is_empty());
        let conn = &mut self.conn;
        values::with_bound(params, |refs| {
            conn.query(text.as_str(), refs)
                .map_err(|e| db_error(&e))?
                .iter()
                .map(|r| values::row_values(r).map_err(|e| db_error(&e)))
                .collect()
        })
    }
}

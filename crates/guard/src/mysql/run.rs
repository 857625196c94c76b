//! What rowguard makes on a MariaDB/MySQL server, and how it finds and
//! removes it: one database per guard (`rowguard_<pid>_<random>_<n>`,
//! `utf8mb4_bin`, with the comment `rowguard run <run id>`) and the user
//! the code under test logs in as (`<database>_app`). A guard is alive
//! while its admin connection holds the user-level lock named after its
//! database (`GET_LOCK`, taken before the database exists): a process
//! killed with SIGKILL loses its connections and so its locks, and the next
//! run drops the users, sessions and databases of every marked database
//! whose lock is free, and only those: a database without the marker is
//! never rowguard's, whatever its name.
//!
//! A server holding any database rowguard did not make (other than the
//! system ones and an empty database named in the URL) is refused, unless
//! the user says it is rowguard's to use.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};

use super::one_line;
use crate::server::run::{marker, next_name, random};
use crate::server::ServerOptions;

/// Schemas every server has.
const SYSTEM: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

pub(crate) fn my(what: &str) -> impl Fn(mysql::Error) -> crate::Error + '_ {
    move |e| crate::Error::Mysql(format!("{what}: {}", one_line(&e)))
}

/// `` `name` `` quoted as an identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `'text'` quoted as a literal whatever the `sql_mode` (backslashes and quotes escaped).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The connection options of a `mysql://` or `mariadb://` URL, with a
/// connect timeout (an unreachable server is an error, not a hang).
pub(crate) fn opts_of(url: &str) -> crate::Result<OptsBuilder> {
    let url = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    };
    let opts =
        Opts::from_url(&url).map_err(|e| crate::Error::Mysql(format!("not a MySQL URL: {e}")))?;
    Ok(OptsBuilder::from_opts(opts)
        .tcp_connect_timeout(Some(Duration::from_secs(10)))
        .prefer_socket(false))
}

/// Connects with `opts`, one-line error on failure.
pub(crate) fn connect(opts: OptsBuilder, what: &str) -> crate::Result<Conn> {
    Conn::new(opts)
        .map_err(|e| crate::Error::Mysql(format!("cannot connect {what}: {}", one_line(&e))))
}

/// The first column of every row of `sql`, as text.
pub(crate) fn column(conn: &mut Conn, sql: &str) -> mysql::Result<Vec<String>> {
    conn.query_map(sql, |row: mysql::Row| match row.as_ref(0) {
        Some(mysql::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(mysql::Value::Int(i)) => i.to_string(),
        Some(mysql::Value::UInt(i)) => i.to_string(),
        _ => String::new(),
    })
}

/// Connects as the user of `--database`, drops what dead runs left and
/// refuses a server holding foreign databases. Returns the options for the
/// run's other connections.
pub(crate) fn admin(options: &ServerOptions) -> crate::Result<(OptsBuilder, Conn)> {
    if options.app_role.is_some() {
        return Err(crate::Error::Mysql(
            "--database-role is for PostgreSQL; on MariaDB/MySQL the app user is always rowguard's own".into(),
        ));
    }
    let opts = opts_of(&options.url)?;
    let mut admin = connect(opts.clone(), "to the --database server")?;
    // The admin's own statements wait for locks at most this long (a dead run's session may hold one).
    admin
        .query_drop("SET SESSION lock_wait_timeout = 20, max_statement_time = 0")
        .map_err(my("setting up the admin session"))?;
    drop_dead_runs(&mut admin);
    if !options.owned_by_rowguard {
        refuse_foreign(&mut admin, Opts::from(opts.clone()).get_db_name())?;
    }
    Ok((opts, admin))
}

/// Drops what runs killed before they could clean up left (best effort:
/// another run may be dropping the same objects at the same moment).
fn drop_dead_runs(admin: &mut Conn) {
    let dead = column(
        admin,
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
         WHERE SCHEMA_COMMENT LIKE 'rowguard run %' AND IS_USED_LOCK(SCHEMA_NAME) IS NULL",
    )
    .unwrap_or_default();
    for database in dead {
        drop_database_and_user(admin, &database);
    }
}

/// Ends the app user's sessions, drops the user (every host) and the database.
fn drop_database_and_user(admin: &mut Conn, database: &str) {
    let app = literal(&format!("{database}_app"));
    let sessions = column(
        admin,
        &format!("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = {app}"),
    )
    .unwrap_or_default();
    for id in sessions {
        let _ = admin.query_drop(format!(
            "KILL CONNECTION {}",
            id.parse::<u64>().unwrap_or(0)
        ));
    }
    let hosts = column(
        admin,
        &format!("SELECT Host FROM mysql.user WHERE User = {app}"),
    )
    .unwrap_or_default();
    for host in hosts {
        let _ = admin.query_drop(format!("DROP USER IF EXISTS {app}@{}", literal(&host)));
    }
    let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {}", ident(database)));
}

fn refuse_foreign(admin: &mut Conn, url_database: Option<&str>) -> crate::Result<()> {
    let named = literal(url_database.unwrap_or(""));
    let found = column(
        admin,
        &format!(
            "SELECT CONCAT('database ', s.SCHEMA_NAME) FROM information_schema.SCHEMATA s \
             WHERE s.SCHEMA_NAME NOT IN ({SYSTEM}) AND s.SCHEMA_COMMENT NOT LIKE 'rowguard run %' \
               AND NOT (s.SCHEMA_NAME = {named} \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME) \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.ROUTINES r WHERE r.ROUTINE_SCHEMA = s.SCHEMA_NAME) \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.EVENTS e WHERE e.EVENT_SCHEMA = s.SCHEMA_NAME)) \
             ORDER BY 1"
        ),
    )
    .map_err(my("reading the catalog"))?;
    if let Some(first) = found.first() {
        return Err(crate::Error::Mysql(format!(
            "the server already holds {} database(s) rowguard did not create (e.g. {first}); \
             point --database at a server of rowguard's own, or pass --database-owned-by-rowguard",
            found.len()
        )));
    }
    Ok(())
}

/// One guard's database and user on the server; [`Objects::drop_all`] removes them.
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    /// The database (also the name of its liveness lock and the base of the user name).
    pub database: String,
    /// The user the code under test logs in as (`''` when the guard has none).
    pub app: String,
    /// The host part of the app user: where the admin connection comes from.
    pub host: String,
    /// Its password (random, never shown).
    pub password: String,
}

impl Objects {
    /// Takes the liveness lock, creates the marked database and (`with_app`) the app user.
    pub(crate) fn create(admin: &mut Conn, with_app: bool) -> crate::Result<Objects> {
        let database = next_name();
        let host = column(admin, "SELECT SUBSTRING_INDEX(USER(), '@', -1)")
            .map_err(my("reading the admin connection's host"))?
            .pop()
            .unwrap_or_else(|| "localhost".into());
        let objects = Objects {
            app: if with_app {
                format!("{database}_app")
            } else {
                String::new()
            },
            host,
            password: format!("rg{:016x}{:016x}", random(), random()),
            database,
        };
        if let Err(e) = objects.make(admin) {
            objects.drop_all(admin);
            return Err(e);
        }
        Ok(objects)
    }

    fn make(&self, admin: &mut Conn) -> crate::Result<()> {
        let locked = column(
            admin,
            &format!("SELECT GET_LOCK({}, 0)", literal(&self.database)),
        )
        .map_err(my("taking rowguard's liveness lock"))?;
        if locked.first().map(String::as_str) != Some("1") {
            return Err(crate::Error::Mysql(format!(
                "the lock `{}` is held by another session",
                self.database
            )));
        }
        admin
            .query_drop(format!(
                "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin COMMENT {}",
                ident(&self.database),
                literal(&marker())
            ))
            .map_err(my("cannot create rowguard's database (needs CREATE, and MariaDB 10.5+ for its comment)"))?;
        if self.app.is_empty() {
            return Ok(());
        }
        // MAX_STATEMENT_TIME is the session default the user starts with; it may
        // lower or raise its own, which the guard checks after every call.
        admin
            .query_drop(format!(
                "CREATE USER {} IDENTIFIED BY {} WITH MAX_USER_CONNECTIONS 2 MAX_STATEMENT_TIME {}",
                self.user(),
                literal(&self.password),
                super::STATEMENT_TIMEOUT_S
            ))
            .map_err(my("cannot create the app user (needs CREATE USER)"))
    }

    /// `'app'@'host'`.
    pub(crate) fn user(&self) -> String {
        format!("{}@{}", literal(&self.app), literal(&self.host))
    }

    /// Ends the app's sessions, drops the user and the database, and
    /// releases the lock (best effort: what stays is found by the next run).
    pub(crate) fn drop_all(&self, admin: &mut Conn) {
        drop_database_and_user(admin, &self.database);
        let _ = admin.query_drop(format!("DO RELEASE_LOCK({})", literal(&self.database)));
    }

    /// `opts` pointed at this guard's database.
    pub(crate) fn opts_for(&self, opts: &OptsBuilder) -> OptsBuilder {
        opts.clone().db_name(Some(self.database.clone()))
    }
}

impl crate::server::run::Made for Objects {
    type Admin = Conn;

    fn drop_all(&self, admin: &mut Conn) {
        Objects::drop_all(self, admin);
    }
}

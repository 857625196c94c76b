//! A watched fixture on MariaDB/MySQL: the code under test logs in with a
//! URL of its own (the app user), through any client and pool, and commits.
//!
//! Built as the server guard builds (a database and user of rowguard's
//! own): the fixture, the capture (the same triggers and log as the server
//! guard's) and a copy of the built fixture (`rowguard_built_N`) are made by
//! rowguard's user; the app user may read and write the fixture tables and
//! run its routines, nothing else: no right on the log, the copies, the
//! triggers or any DDL. After every operation rowguard reads the rows
//! logged since it began, checks every capture trigger is still there, and
//! ends every session of the app user still inside a transaction or still
//! running a statement (a finding). After each input the rows that differ
//! from the copy are deleted and the built ones inserted (foreign-key
//! checks off; the fixture's own triggers fire, so this repeats until the
//! fixture matches, at most three times), counters reset; a fixture still
//! different is rebuilt.
//!
//! The code reaches the server through a pass-through ([`super::proxy::my`])
//! that keeps the text of every statement it sends, for the engine's shape
//! feedback and the reports (when the server is reached over TCP; a URL
//! with a `socket` gives the code that socket, and no statements are seen).

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};

use super::proxy::{self, Proxy};
use super::{left_open, still_open, tampered, Capture, Restored, Side, Taken, Target};
use crate::backend::BackendKind;
use crate::mysql::run::{self, column, ident, literal, my, Objects};
use crate::mysql::{db_error, setup, values};
use crate::policy::TableInfo;
use crate::{DbError, Value};

/// How often InnoDB refreshes `information_schema.INNODB_TRX` (and a margin).
const TRX_CACHE: std::time::Duration = std::time::Duration::from_millis(120);

/// Connections the app user may hold at once (a pool's worth).
const APP_CONNECTIONS: u32 = 32;

/// The watched MariaDB/MySQL fixture.
pub struct MyWatch {
    admin: Conn,
    /// rowguard's own connection to the fixture's database.
    conn: Conn,
    objects: Objects,
    target: Target,
    tables: Vec<TableInfo>,
    schema_sql: String,
    /// `AUTO_INCREMENT` of every table as built ([`setup::counters_sql`]).
    counters: String,
    /// The last log row of an earlier operation.
    seq: i64,
    capture: Capture,
    /// The statements the code sends, when it reaches the server over TCP.
    proxy: Option<Proxy>,
}

impl MyWatch {
    /// Builds `schema_sql` in a new database of rowguard's own on the server
    /// `options` names, with the capture and the app user.
    pub fn open(
        options: &crate::server::ServerOptions,
        schema_sql: &str,
        capture: Capture,
    ) -> crate::Result<MyWatch> {
        let (opts, mut admin) = run::admin(options)?;
        let objects = Objects::create(&mut admin, true)?;
        let made = (|| {
            admin
                .query_drop(format!(
                    "ALTER USER {} WITH MAX_USER_CONNECTIONS {APP_CONNECTIONS}",
                    objects.user()
                ))
                .map_err(my("letting the app user hold a pool"))?;
            let conn = run::connect(objects.opts_for(&opts), "to rowguard's database")?;
            // the pass-through only where the code would reach the server over TCP
            let proxy = match (capture, upstream(&opts)) {
                (Capture::On, Some(addr)) => {
                    Some(Proxy::start(addr, proxy::my::pass).map_err(|e| {
                        crate::Error::Setup(format!("the statement pass-through: {e}"))
                    })?)
                }
                _ => None,
            };
            let target = target_of(&opts, &objects, proxy.as_ref().map(Proxy::port));
            Ok::<_, crate::Error>((conn, target, proxy))
        })();
        let (conn, target, proxy) = match made {
            Ok(m) => m,
            Err(e) => {
                objects.drop_all(&mut admin);
                return Err(e);
            }
        };
        let mut watch = MyWatch {
            admin,
            conn,
            objects,
            target,
            tables: Vec::new(),
            schema_sql: schema_sql.to_string(),
            counters: String::new(),
            seq: 0,
            capture,
            proxy,
        };
        if let Err(e) = watch.build() {
            watch.objects.drop_all(&mut watch.admin);
            return Err(e);
        }
        Ok(watch)
    }

    /// Builds the fixture, its copy and the capture (dropping what an
    /// earlier build left).
    fn build(&mut self) -> crate::Result<()> {
        let db = self.objects.database.clone();
        let mut drops = vec!["SET foreign_key_checks = 0".to_string()];
        let objects: Vec<(String, String)> = self
            .conn
            .query(format!(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} \
                 UNION ALL SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {0}",
                literal(&db)
            ))
            .map_err(my("reading the fixture's database"))?;
        for (name, kind) in objects {
            let what = match kind.as_str() {
                "SEQUENCE" => "SEQUENCE",
                "VIEW" | "SYSTEM VIEW" => "VIEW",
                "PROCEDURE" => "PROCEDURE",
                "FUNCTION" => "FUNCTION",
                _ => "TABLE",
            };
            drops.push(format!("DROP {what} IF EXISTS {}", ident(&name)));
        }
        drops.push("SET foreign_key_checks = 1".into());
        self.conn
            .query_drop(drops.join("; "))
            .map_err(my("clearing the fixture's database"))?;
        self.conn
            .query_drop(&self.schema_sql)
            .map_err(my("building the fixture"))?;
        self.tables = setup::tables_in(&mut self.conn, &db)?
            .into_iter()
            .filter(|t| !t.name.starts_with("rowguard_"))
            .collect();
        setup::refuse_cascades(&mut self.conn, &db)?;
        let binary = column(
            &mut self.conn,
            &format!(
                "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} \
                 AND DATA_TYPE IN ('binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit')",
                literal(&db)
            ),
        )
        .map_err(my("reading the column types"))?;
        let mut sql = match self.capture {
            Capture::On => setup::capture_sql(&self.tables, &binary),
            Capture::Off => String::new(),
        };
        let user = self.objects.user();
        sql += &format!("GRANT EXECUTE ON {}.* TO {user};\n", ident(&db));
        for (i, t) in self.tables.iter().enumerate() {
            let n = ident(&t.name);
            sql += &format!(
                "{copy}GRANT SELECT, INSERT, UPDATE, DELETE ON {}.{n} TO {user};\n",
                ident(&db),
                copy = match self.capture {
                    Capture::On => format!(
                        "CREATE TABLE rowguard_built_{i} LIKE {n}; INSERT INTO rowguard_built_{i} SELECT * FROM {n};\n"
                    ),
                    Capture::Off => String::new(),
                }
            );
        }
        self.conn
            .query_drop(sql)
            .map_err(my("installing the capture"))?;
        self.counters = column(&mut self.conn, &setup::counters_sql(&db))
            .map_err(my("reading the AUTO_INCREMENT counters"))?
            .concat();
        if self.capture == Capture::On {
            self.seq = self.last_seq()?;
        }
        Ok(())
    }

    fn last_seq(&mut self) -> crate::Result<i64> {
        let s = column(
            &mut self.conn,
            "SELECT IFNULL(MAX(seq), 0) FROM rowguard_log",
        )
        .map_err(my("reading the capture"))?;
        Ok(s.first().and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Ends the app user's sessions inside a transaction or still running a
    /// statement; one finding each.
    ///
    /// `INNODB_TRX` is a cache InnoDB refreshes at most every 100 ms, so a
    /// transaction begun since the last read may not be in it yet. So first
    /// a probe that needs no cache: a locking read of every fixture row
    /// (`NOWAIT`) fails when a transaction holds one it wrote; only then is
    /// the cache read, once it is fresh, to name and end the sessions.
    fn end_open_sessions(&mut self, taken: &mut Taken) -> crate::Result<()> {
        let locked = self.rows_locked();
        if locked {
            std::thread::sleep(TRX_CACHE);
        }
        let (admin, app) = (&mut self.admin, self.objects.app.as_str());
        let open: Vec<(u64, String, Option<String>)> = still_open(|| {
            admin
                .exec(
                    "SELECT p.ID, p.COMMAND, LEFT(COALESCE(t.trx_query, p.INFO), 200) FROM information_schema.PROCESSLIST p \
                     LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
                     WHERE p.USER = ? AND (t.trx_id IS NOT NULL OR p.COMMAND NOT IN ('Sleep', 'Killed'))",
                    (app,),
                )
                .map_err(my("reading the app user's sessions"))
        })?;
        if open.is_empty() && locked {
            // the rows are held, and the cache still does not say by whom: every session of the app user ends
            let sessions: Vec<u64> = self
                .admin
                .exec(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?",
                    (app,),
                )
                .map_err(my("reading the app user's sessions"))?;
            taken.findings.push(left_open(
                "a session of the app user holds rows it wrote",
                "unknown",
                true,
            ));
            for id in sessions {
                let _ = self.admin.query_drop(format!("KILL CONNECTION {id}"));
            }
        }
        for (id, command, query) in open {
            taken.findings.push(left_open(
                &format!("session {id}, {command}"),
                query.as_deref().unwrap_or(""),
                true,
            ));
            let _ = self.admin.query_drop(format!("KILL CONNECTION {id}"));
        }
        Ok(())
    }

    /// Whether another transaction holds a lock on a fixture row (a row it
    /// wrote, or inserted).
    fn rows_locked(&mut self) -> bool {
        // one statement per call, its rows read: `query_drop` drops a
        // result without reading the error that ends it
        let mut held = self.conn.query_drop("START TRANSACTION").is_err();
        for t in &self.tables {
            if held {
                break;
            }
            let probe = format!("SELECT 1 FROM {} FOR UPDATE NOWAIT", ident(&t.name));
            // rows read to the end: a lock met mid-way is an error after some rows
            held = self.conn.query::<u8, _>(probe).is_err();
        }
        let _ = self.conn.query_drop("ROLLBACK");
        held
    }

    /// The number of rows that differ between each table and its copy.
    fn differences(&mut self) -> crate::Result<u64> {
        if self.tables.is_empty() {
            return Ok(0);
        }
        let parts: Vec<String> = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let same = same_row(t);
                let n = ident(&t.name);
                format!(
                    "(SELECT COUNT(*) FROM {n} x WHERE NOT EXISTS (SELECT 1 FROM rowguard_built_{i} y WHERE {same})) + \
                     (SELECT COUNT(*) FROM rowguard_built_{i} y WHERE NOT EXISTS (SELECT 1 FROM {n} x WHERE {same}))"
                )
            })
            .collect();
        let n = column(&mut self.conn, &format!("SELECT {}", parts.join(" + ")))
            .map_err(my("comparing the fixture"))?;
        Ok(n.first().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX))
    }

    /// One pass of putting the fixture back.
    fn put_back(&mut self) -> crate::Result<()> {
        let mut sql = String::from("SET foreign_key_checks = 0; START TRANSACTION; ");
        for (i, t) in self.tables.iter().enumerate() {
            let (same, n) = (same_row(t), ident(&t.name));
            sql += &format!(
                "DELETE x FROM {n} x WHERE NOT EXISTS (SELECT 1 FROM rowguard_built_{i} y WHERE {same}); \
                 INSERT INTO {n} SELECT * FROM rowguard_built_{i} y WHERE NOT EXISTS (SELECT 1 FROM {n} x WHERE {same}); "
            );
        }
        sql += "DELETE FROM rowguard_log; COMMIT; SET foreign_key_checks = 1";
        let done = self.conn.query_drop(sql);
        if done.is_err() {
            let _ = self.conn.query_drop("ROLLBACK; SET foreign_key_checks = 1");
        }
        done.map_err(my("putting the fixture back"))?;
        Ok(())
    }

    /// Puts the `AUTO_INCREMENT` counters back where the build left them.
    fn reset_counters(&mut self) -> crate::Result<()> {
        let counters = column(&mut self.conn, &setup::counters_sql(&self.objects.database))
            .map_err(my("reading the AUTO_INCREMENT counters"))?
            .concat();
        if counters == self.counters {
            return Ok(());
        }
        // only the tables whose counter moved: each ALTER costs tens of ms
        let now: Vec<&str> = counters.split(',').collect();
        let reset: Vec<String> = self
            .counters
            .split(',')
            .filter(|pair| !now.contains(pair))
            .filter_map(|pair| pair.rsplit_once('='))
            .map(|(table, n)| format!("ALTER TABLE {} AUTO_INCREMENT = {n}", ident(table)))
            .collect();
        self.conn
            .query_drop(reset.join("; "))
            .map_err(my("resetting the AUTO_INCREMENT counters"))
    }
}

/// `x` and `y` hold the same row: every column equal, NULL-safe.
fn same_row(t: &TableInfo) -> String {
    t.columns
        .iter()
        .map(|c| format!("x.{0} <=> y.{0}", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The server's TCP address, when the URL names no socket.
fn upstream(opts: &OptsBuilder) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let opts = Opts::from(opts.clone());
    if opts.get_socket().is_some() {
        return None;
    }
    (opts.get_ip_or_hostname().as_ref(), opts.get_tcp_port())
        .to_socket_addrs()
        .ok()?
        .next()
}

/// The URL the code under test connects with: the pass-through on `proxy`
/// when there is one, else the server's own address or socket; the
/// fixture's database, the app user and its password. `prefer_socket=false`
/// keeps the `mysql` crate on the address it is given (on a loopback
/// address it would otherwise ask the server for its socket and move there,
/// past the pass-through).
fn target_of(opts: &OptsBuilder, objects: &Objects, proxy: Option<u16>) -> Target {
    let opts = Opts::from(opts.clone());
    let (host, port) = match proxy {
        Some(port) => ("127.0.0.1".to_string(), port),
        None => {
            let host = opts.get_ip_or_hostname();
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            (host, opts.get_tcp_port())
        }
    };
    let how = match opts.get_socket() {
        Some(path) if proxy.is_none() => format!("socket={}", query_value(path)),
        _ => "prefer_socket=false".to_string(),
    };
    Target::new(
        BackendKind::Mysql,
        format!(
            "mysql://{}:{}@{host}:{port}/{}?{how}",
            objects.app, objects.password, objects.database
        ),
    )
}

/// `text` as a URL query value (percent-encoded but for what never needs it).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for MyWatch {
    fn drop(&mut self) {
        self.objects.drop_all(&mut self.admin);
    }
}

impl Side for MyWatch {
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
        let triggers = column(
            &mut self.conn,
            &format!(
                "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {} AND TRIGGER_NAME LIKE 'rowguard\\_%'",
                literal(&self.objects.database)
            ),
        )
        .map_err(my("checking the capture"))?;
        if triggers.first() != Some(&(3 * self.tables.len()).to_string()) {
            taken
                .findings
                .push(tampered("a capture trigger is missing"));
        }
        let logged: Vec<(i64, String, Option<String>, Option<String>)> = self
            .conn
            .exec(
                "SELECT seq, tbl, old, new FROM rowguard_log WHERE seq > ? ORDER BY seq",
                (self.seq,),
            )
            .map_err(my("reading the capture"))?;
        for (seq, tbl, old, new) in logged {
            self.seq = self.seq.max(seq);
            taken.push_logged(&self.tables, (tbl, old, new), |image, t| {
                values::cells_of_image(image, t.columns.len())
            });
        }
        Ok(taken)
    }

    fn restore(&mut self) -> crate::Result<Restored> {
        let mut taken = Taken::default();
        self.end_open_sessions(&mut taken)?;
        let mut why = None;
        for pass in 0..=3 {
            let n = self.differences()?;
            if n == 0 {
                why = None;
                break;
            }
            why = Some(format!(
                "{n} row(s) differ from the built fixture after putting it back"
            ));
            if pass == 3 {
                break;
            }
            if let Err(e) = self.put_back() {
                why = Some(e.to_string());
                break;
            }
        }
        if why.is_none() {
            self.reset_counters()?;
        }
        self.seq = self.last_seq()?;
        match why {
            None => Ok(Restored::Clean),
            Some(why) => {
                self.build()?;
                Ok(Restored::Rebuilt(why))
            }
        }
    }

    fn read(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let (text, ordered) = crate::mysql::lex::question_params(sql, params);
        self.conn
            .exec_map(
                text.as_str(),
                values::params(&ordered),
                |row: mysql::Row| values::row_values(&row),
            )
            .map_err(|e| db_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Objects {
        Objects {
            database: "rowguard_1_2_3".into(),
            app: "rowguard_1_2_3_app".into(),
            host: "localhost".into(),
            password: "pw".into(),
        }
    }

    #[test]
    fn the_target_is_the_pass_through_or_the_socket() {
        let tcp = run::opts_of("mysql://admin:x@db.example:3307/").unwrap();
        assert_eq!(
            target_of(&tcp, &objects(), Some(4000)).url(),
            "mysql://rowguard_1_2_3_app:pw@127.0.0.1:4000/rowguard_1_2_3?prefer_socket=false"
        );
        assert_eq!(
            target_of(&tcp, &objects(), None).url(),
            "mysql://rowguard_1_2_3_app:pw@db.example:3307/rowguard_1_2_3?prefer_socket=false"
        );
        // a socket: no pass-through, the code is given the socket
        let socket =
            run::opts_of("mysql://admin:x@localhost/?socket=/run/my%20sql/s.sock").unwrap();
        assert_eq!(upstream(&socket), None);
        let url = target_of(&socket, &objects(), None);
        assert_eq!(
            url.url(),
            "mysql://rowguard_1_2_3_app:pw@localhost:3306/rowguard_1_2_3?socket=/run/my%20sql/s.sock"
        );
        let back = Opts::from_url(url.url()).unwrap();
        assert_eq!(back.get_socket(), Some("/run/my sql/s.sock"));
        assert!(upstream(&run::opts_of("mysql://admin:x@127.0.0.1:3307/").unwrap()).is_some());
    }
}

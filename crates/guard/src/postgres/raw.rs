//! [`PgRaw`]: a plain, unchecked PostgreSQL connection over its own copy of
//! a fixture, implementing [`Db`]: the baseline a benchmark compares the
//! guard with (as a plain `rusqlite::Connection` is on SQLite). It builds the
//! fixture in a database it creates (marked as rowguard's, like a guard's)
//! and drops it when dropped; it installs no trigger, role or limit.
//! [`StatementCache`]: prepared statements by text, as a long-lived
//! application connection keeps them (the tripwire's, and the raw side of
//! `bench tripwire` with [`PgRaw::cache_statements`]).

use std::collections::HashMap;

use postgres::{Client, Statement};

use super::run::{self, Objects};
use super::{connect, db_error, lex, one_line, values};
use crate::server::run::OwnDatabase;
use crate::{Db, DbError, Value};

/// Prepared statements by their text, emptied when it holds `capacity`
/// (0: none kept, each call prepares its text again).
pub(crate) struct StatementCache {
    statements: HashMap<String, Statement>,
    capacity: usize,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> StatementCache {
        StatementCache {
            statements: HashMap::new(),
            capacity,
        }
    }

    /// `sql` prepared on `client`: once, then from the cache.
    pub(crate) fn get(
        &mut self,
        client: &mut Client,
        sql: &str,
    ) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = client.prepare(sql)?;
        if self.capacity > 0 {
            if self.statements.len() >= self.capacity {
                self.statements.clear();
            }
            self.statements.insert(sql.to_string(), s.clone());
        }
        Ok(s)
    }
}

/// An unchecked connection to its own fixture database.
pub struct PgRaw {
    /// The connection, and the database it is on (dropped with it).
    db: OwnDatabase<Client, Objects>,
    /// Statements prepared once, or (the default, capacity 0) per call as
    /// `Client::execute(&str)` does.
    cache: StatementCache,
    /// Where [`PgRaw::connect`] connects: the fixture's database.
    config: postgres::Config,
}

impl PgRaw {
    /// Connects to the server in `options` and builds `schema_sql` in a fresh database.
    pub fn open(options: &super::PgOptions, schema_sql: &str) -> crate::Result<PgRaw> {
        let (config, mut admin) = run::admin(options)?;
        let objects = Objects::create(&mut admin, options, false)?;
        let built = connect(&objects.config_for(&config), "to rowguard's database").and_then(|mut client| {
            client
                .batch_execute(&format!(
                    "SET ROLE {}; SET standard_conforming_strings = on; SET client_min_messages = error;",
                    run::ident(&objects.owner)
                ))
                .and_then(|()| client.batch_execute(schema_sql))
                .map_err(|e| {
                    crate::Error::Postgres(format!("building the raw fixture: {}", one_line(&e)))
                })?;
            Ok(client)
        });
        match built {
            Ok(client) => Ok(PgRaw {
                config: objects.config_for(&config),
                db: OwnDatabase {
                    client: Some(client),
                    admin,
                    objects,
                },
                cache: StatementCache::new(0),
            }),
            Err(e) => {
                objects.drop_all(&mut admin);
                Err(e)
            }
        }
    }

    /// Another connection to the fixture's database, as the fixture's
    /// owner (e.g. the application's connection a benchmark wraps).
    pub fn connect(&self) -> crate::Result<Client> {
        let mut client = connect(&self.config, "to rowguard's database")?;
        client
            .batch_execute(&format!(
                "SET ROLE {}; SET standard_conforming_strings = on; SET client_min_messages = error;",
                run::ident(&self.db.objects.owner)
            ))
            .map_err(|e| crate::Error::Postgres(format!("connecting as the fixture's owner: {}", one_line(&e))))?;
        Ok(client)
    }

    /// From now on, each statement text is prepared once and reused (what
    /// an application's long-lived connection does; the tripwire does it).
    pub fn cache_statements(&mut self) {
        self.cache = StatementCache::new(256);
    }

    fn client(&mut self) -> &mut Client {
        self.db.client.as_mut().expect("open until dropped")
    }

    /// `sql` (with `?N` made `$N` when bound) prepared, and the client to run it on.
    fn prepared(
        &mut self,
        sql: &str,
        bound: bool,
    ) -> Result<(&mut Client, Statement), postgres::Error> {
        let text = lex::dollar_params(sql, bound);
        let client = self.db.client.as_mut().expect("open until dropped");
        let statement = self.cache.get(client, &text)?;
        Ok((client, statement))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Vec<postgres::Row>, postgres::Error> {
        let (client, s) = self.prepared(sql, !params.is_empty())?;
        values::with_bound(params, |refs| client.query(&s, refs))
    }
}

impl Db for PgRaw {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.prepared(sql, !params.is_empty())
            .and_then(|(client, s)| values::with_bound(params, |refs| client.execute(&s, refs)))
            .map(|n| n as usize)
            .map_err(|e| db_error(&e))
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client().batch_execute(sql).map_err(|e| db_error(&e))
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let rows = self.run(sql, params).map_err(|e| db_error(&e))?;
        match rows.first() {
            Some(r) => values::row_values(r).map_err(|e| db_error(&e)),
            None => Err(DbError::no_rows()),
        }
    }

    fn database(&self) -> &'static str {
        "postgres"
    }
}

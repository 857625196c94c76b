//! [`MyRaw`]: a plain, unchecked MariaDB/MySQL connection over its own copy
//! of a fixture, implementing [`Db`]: the baseline a benchmark compares the
//! guard with (as a plain `rusqlite::Connection` is on SQLite). It builds
//! the fixture in a database it creates (marked as rowguard's, like a
//! guard's) and drops it when dropped; it installs no trigger, user or limit.

use mysql::prelude::Queryable;
use mysql::Conn;

use super::run::{self, Objects};
use super::{db_error, lex, values};
use crate::server::run::OwnDatabase;
use crate::server::ServerOptions;
use crate::{Db, DbError, Value};

/// An unchecked connection to its own fixture database.
pub struct MyRaw {
    /// The connection, and the database it is on (dropped with it).
    db: OwnDatabase<Conn, Objects>,
}

impl MyRaw {
    /// Connects to the server in `options` and builds `schema_sql` in a fresh database.
    pub fn open(options: &ServerOptions, schema_sql: &str) -> crate::Result<MyRaw> {
        let (opts, mut admin) = run::admin(options)?;
        let objects = Objects::create(&mut admin, false)?;
        let built = run::connect(objects.opts_for(&opts), "to rowguard's database").and_then(
            |mut client| {
                client
                    .query_drop(schema_sql)
                    .map_err(run::my("building the raw fixture"))?;
                Ok(client)
            },
        );
        match built {
            Ok(client) => Ok(MyRaw {
                db: OwnDatabase {
                    client: Some(client),
                    admin,
                    objects,
                },
            }),
            Err(e) => {
                objects.drop_all(&mut admin);
                Err(e)
            }
        }
    }

    fn client(&mut self) -> &mut Conn {
        self.db.client.as_mut().expect("open until dropped")
    }
}

impl Db for MyRaw {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let (text, ordered) = lex::question_params(sql, params);
        let client = self.client();
        client
            .exec_drop(text.as_str(), values::params(&ordered))
            .map(|()| client.affected_rows() as usize)
            .map_err(|e| db_error(&e))
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client().query_drop(sql).map_err(|e| db_error(&e))
    }

    fn query_row(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Value>, DbError> {
        let (text, ordered) = lex::question_params(sql, params);
        let row: Option<mysql::Row> = self
            .client()
            .exec_first(text.as_str(), values::params(&ordered))
            .map_err(|e| db_error(&e))?;
        row.map(|r| values::row_values(&r))
            .ok_or_else(DbError::no_rows)
    }

    fn database(&self) -> &'static str {
        "mysql"
    }
}

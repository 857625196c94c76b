//! [`PgRaw`]: a plain, unchecked PostgreSQL connection over its own copy of
//! a fixture, implementing [`Db`]: the baseline a benchmark compares the
//! guard with (as a plain `rusqlite::Connection` is on SQLite). It builds the
//! fixture in a schema it creates (`rowguard_<pid>_<n>_raw`) and drops it
//! when dropped; it installs no trigger, role or limit.

use postgres::Client;

use super::{config_of, connect, db_error, lex, one_line, values, Names};
use crate::{Db, DbError, Value};

/// An unchecked connection whose `search_path` is its own fixture schema.
pub struct PgRaw {
    client: Client,
    schema: String,
}

impl PgRaw {
    /// Connects to the server in `options` and builds `schema_sql` in a fresh schema.
    pub fn open(options: &super::PgOptions, schema_sql: &str) -> crate::Result<PgRaw> {
        let config = config_of(&options.url)?;
        let client = connect(&config, "to the --database server")?;
        let schema = format!("{}_raw", Names::next().schema);
        let setup = format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path = \"{schema}\"; \
             SET standard_conforming_strings = on; SET client_min_messages = error;"
        );
        let mut raw = PgRaw { client, schema };
        raw.client
            .batch_execute(&setup)
            .and_then(|()| raw.client.batch_execute(schema_sql))
            .map_err(|e| {
                crate::Error::Postgres(format!("building the raw fixture: {}", one_line(&e)))
            })?;
        Ok(raw)
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Vec<postgres::Row>, postgres::Error> {
        let text = lex::dollar_params(sql, !params.is_empty());
        values::with_bound(params, |refs| self.client.query(text.as_str(), refs))
    }
}

impl Db for PgRaw {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let text = lex::dollar_params(sql, !params.is_empty());
        values::with_bound(params, |refs| self.client.execute(text.as_str(), refs))
            .map(|n| n as usize)
            .map_err(|e| db_error(&e))
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(|e| db_error(&e))
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

impl Drop for PgRaw {
    fn drop(&mut self) {
        let _ = self.client.batch_execute(&format!(
            "ROLLBACK; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ));
    }
}

//! Building a [`super::MyGuard`]'s fixture and capture inside the database
//! [`super::run::Objects`] made for it, and connecting the code under test.
//!
//! Privilege separation by construction: the fixture, the change log
//! `rowguard_log` and the triggers are made by the `--database` user; the
//! code under test logs in as the app user, granted SELECT, INSERT, UPDATE
//! and DELETE on the fixture tables, SELECT on the log and EXECUTE on the
//! fixture's routines, in this database only. It can create, alter, drop,
//! truncate, lock or disable nothing (no DDL, TRIGGER, CREATE ROUTINE,
//! CREATE TEMPORARY TABLES, LOCK TABLES, FILE, PROCESS or SUPER privilege),
//! and it cannot write the log, read other databases or become another user.
//!
//! Capture: an AFTER INSERT, UPDATE and DELETE trigger on every fixture
//! table logs the row images (`JSON_ARRAY` of the columns; a binary column
//! as `{"x": hex}`) in the same transaction, so a statement the server
//! rolls back takes its log rows with it. Triggers run with their
//! definer's rights: the app needs no right on the log to fill it. InnoDB
//! runs foreign-key cascades without firing triggers, so a schema with an
//! ON DELETE/UPDATE CASCADE or SET NULL is refused (write the cascade as a
//! trigger, as the appointments fixture does).

use mysql::prelude::Queryable;
use mysql::{Conn, LocalInfileHandler, OptsBuilder};

use super::run::{column, connect, ident, literal, my, Objects};
use crate::policy::TableInfo;
use crate::server::tables::tables_of;

/// What [`build`] hands back: the app connection, the protected tables and
/// the AUTO_INCREMENT counters as the fixture leaves them.
pub(super) struct Built {
    pub conn: Conn,
    pub tables: Vec<TableInfo>,
    pub counters: String,
}

/// The session every app connection starts with (and gets again after each
/// input's reset): bounded waits, and the fixture's database.
pub(super) fn session_sql(objects: &Objects) -> String {
    format!(
        "SET SESSION max_statement_time = {}, innodb_lock_wait_timeout = 1, lock_wait_timeout = 2; USE {}",
        super::STATEMENT_TIMEOUT_S,
        ident(&objects.database)
    )
}

/// `AUTO_INCREMENT` of every fixture table, as one comparable string (the
/// log's order is a sequence, which no input can move back).
pub(crate) fn counters_sql(database: &str) -> String {
    format!(
        "SELECT IFNULL(GROUP_CONCAT(TABLE_NAME, '=', AUTO_INCREMENT ORDER BY TABLE_NAME SEPARATOR ','), '') \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND AUTO_INCREMENT IS NOT NULL",
        literal(database)
    )
}

/// Builds the fixture (`schema_sql`) and the capture, grants the app user
/// its rights, then connects as it. `infile` is called when a statement
/// asks the client for a file (LOAD DATA LOCAL): it gets nothing.
pub(super) fn build(
    opts: &OptsBuilder,
    objects: &Objects,
    schema_sql: &str,
    infile: impl Fn(&[u8]) + Send + 'static,
) -> crate::Result<Built> {
    let db_opts = objects.opts_for(opts);
    let mut builder = connect(db_opts.clone(), "to rowguard's database")?;
    builder
        .query_drop(schema_sql)
        .map_err(my("building the fixture"))?;
    let tables = tables_in(&mut builder, &objects.database)?;
    refuse_cascades(&mut builder, &objects.database)?;
    let binary = column(
        &mut builder,
        &format!(
            "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} \
             AND DATA_TYPE IN ('binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit')",
            literal(&objects.database)
        ),
    )
    .map_err(my("reading the column types"))?;
    builder
        .query_drop(capture_sql(&tables, &binary))
        .map_err(my("installing the change log"))?;
    let counters = column(&mut builder, &counters_sql(&objects.database))
        .map_err(my("reading the AUTO_INCREMENT counters"))?
        .concat();
    let user = objects.user();
    let mut grants = format!(
        "GRANT SELECT ON {db}.rowguard_log TO {user}; GRANT EXECUTE ON {db}.* TO {user};",
        db = ident(&objects.database)
    );
    for t in &tables {
        grants += &format!(
            " GRANT SELECT, INSERT, UPDATE, DELETE ON {}.{} TO {user};",
            ident(&objects.database),
            ident(&t.name)
        );
    }
    builder
        .query_drop(grants)
        .map_err(my("granting the app user its tables"))?;
    drop(builder);
    let handler = LocalInfileHandler::new(move |name, _| {
        infile(name);
        Ok(())
    });
    let app_opts = db_opts
        .user(Some(objects.app.clone()))
        .pass(Some(objects.password.clone()))
        .init(vec![session_sql(objects)])
        .local_infile_handler(Some(handler))
        .stmt_cache_size(Some(super::STATEMENT_CACHE))
        // affected rows are the rows matched, as SQLite and PostgreSQL count them
        .additional_capabilities(mysql::consts::CapabilityFlags::CLIENT_FOUND_ROWS);
    let conn = connect(app_opts, "as rowguard's app user")?;
    Ok(Built {
        conn,
        tables,
        counters,
    })
}

/// Every base table of `database` but the log: columns in order, key = the
/// primary key (every column when there is none).
pub(crate) fn tables_in(conn: &mut Conn, database: &str) -> crate::Result<Vec<TableInfo>> {
    let sql = format!(
        "SELECT c.TABLE_NAME, c.COLUMN_NAME, IFNULL(k.ORDINAL_POSITION, 0) \
         FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
           ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' \
         LEFT JOIN information_schema.KEY_COLUMN_USAGE k ON k.TABLE_SCHEMA = c.TABLE_SCHEMA \
           AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY' \
         WHERE c.TABLE_SCHEMA = {} AND c.TABLE_NAME <> 'rowguard_log' \
         ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        literal(database)
    );
    let found: Vec<(String, String, u64)> = conn
        .query(sql)
        .map_err(my("reading the protected tables"))?;
    let rows = found
        .into_iter()
        .map(|(name, column, pk)| (name, column, (pk > 0).then_some(pk)));
    Ok(tables_of(rows))
}

/// Refuses foreign keys whose actions InnoDB runs without firing triggers.
pub(crate) fn refuse_cascades(conn: &mut Conn, database: &str) -> crate::Result<()> {
    let found = column(
        conn,
        &format!(
            "SELECT CONCAT(CONSTRAINT_NAME, ' on ', TABLE_NAME) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = {} AND (DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION') \
               OR UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION'))",
            literal(database)
        ),
    )
    .map_err(my("reading the foreign keys"))?;
    match found.first() {
        Some(fk) => Err(crate::Error::Mysql(format!(
            "foreign key {fk} cascades or sets NULL: InnoDB runs that without firing triggers, so rowguard \
             could not see its writes; write the cascade as a trigger"
        ))),
        None => Ok(()),
    }
}

/// The log table and three triggers per table (`binary`: `table.column` of
/// the columns logged as hex). The log's order is a SEQUENCE's (`NEXT
/// VALUE FOR rowguard_seq`), which nothing the session sets moves (unlike
/// an AUTO_INCREMENT column: `insert_id`, `auto_increment_increment` and
/// `_offset` move those), which never goes back (a rolled-back statement
/// or savepoint leaves its values unused), and on which the app user has
/// no right at all (no NEXTVAL, SETVAL or ALTER): the guard reads the rows
/// after the last one it read, and a row a statement logs is always after
/// it.
pub(crate) fn capture_sql(tables: &[TableInfo], binary: &[String]) -> String {
    let mut sql = String::from(
        "CREATE SEQUENCE rowguard_seq ENGINE=InnoDB; \
         CREATE TABLE rowguard_log (seq BIGINT NOT NULL PRIMARY KEY, tbl VARCHAR(64) NOT NULL, \
         old LONGTEXT NULL, new LONGTEXT NULL) ENGINE=InnoDB;\n",
    );
    for (i, t) in tables.iter().enumerate() {
        let image = |row: &str| {
            let cells: Vec<String> = t
                .columns
                .iter()
                .map(|c| match binary.contains(&format!("{}.{c}", t.name)) {
                    true => format!("JSON_OBJECT('x', HEX({row}.{}))", ident(c)),
                    false => format!("{row}.{}", ident(c)),
                })
                .collect();
            format!("JSON_ARRAY({})", cells.join(", "))
        };
        let (name, table) = (literal(&t.name), ident(&t.name));
        for (event, old, new) in [
            ("INSERT", "NULL".to_string(), image("NEW")),
            ("UPDATE", image("OLD"), image("NEW")),
            ("DELETE", image("OLD"), "NULL".to_string()),
        ] {
            sql += &format!(
                "CREATE TRIGGER rowguard_{i}_{ev} AFTER {event} ON {table} FOR EACH ROW \
                 INSERT INTO rowguard_log (seq, tbl, old, new) VALUES (NEXT VALUE FOR rowguard_seq, {name}, {old}, {new});\n",
                ev = &event[..1].to_ascii_lowercase()
            );
        }
    }
    sql
}

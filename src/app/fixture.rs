//! What a spec's fixture SQL declares: its tables, their columns and the
//! literal rows it inserts, read with sqlparser in the fixture's own
//! dialect. The spec is checked against it (a policy naming a table or a
//! column the fixture does not have is refused before anything starts), and
//! key fields draw their values from its rows.

use std::collections::BTreeMap;

use sqlparser::ast::{Expr, SetExpr, Statement, TableObject, UnaryOperator, Value};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// One table: its columns in order, and the rows inserted (by column).
#[derive(Debug, Clone, Default)]
struct Table {
    columns: Vec<String>,
    values: BTreeMap<String, Vec<serde_json::Value>>,
    /// The rows inserted, in column order (`None`: not a literal).
    rows: Vec<Vec<Option<serde_json::Value>>>,
}

/// The tables of one fixture.
#[derive(Debug, Clone, Default)]
pub struct Tables(BTreeMap<String, Table>);

fn unquote(name: &str) -> String {
    name.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        .to_ascii_lowercase()
}

/// A literal of an INSERT row as JSON: numbers, text; anything else is not a key.
fn literal(e: &Expr) -> Option<serde_json::Value> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n
                .parse::<i64>()
                .ok()
                .map(Into::into)
                .or_else(|| n.parse::<f64>().ok().map(Into::into)),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone().into()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(|i| (-i).into())
                .or_else(|| n.as_f64().map(|f| (-f).into())),
            _ => None,
        },
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

impl Tables {
    /// Reads the fixture SQL of database `db` (`sqlite`, `mysql`, `postgres`).
    pub fn parse(db: &str, sql: &str) -> Result<Tables, String> {
        let dialect: Box<dyn Dialect> = match db {
            "mysql" => Box::new(MySqlDialect {}),
            "postgres" => Box::new(PostgreSqlDialect {}),
            _ => Box::new(SQLiteDialect {}),
        };
        let statements = Parser::parse_sql(&*dialect, sql).map_err(|e| {
            format!("not SQL rowguard can read ({e}); write CREATE TABLE and INSERT ... VALUES statements")
        })?;
        let mut tables = Tables::default();
        for s in statements {
            match s {
                Statement::CreateTable(c) => {
                    let name = unquote(&c.name.to_string());
                    let columns = c.columns.iter().map(|d| unquote(&d.name.value)).collect();
                    tables.0.insert(
                        name,
                        Table {
                            columns,
                            values: BTreeMap::new(),
                            rows: Vec::new(),
                        },
                    );
                }
                Statement::Insert(i) => {
                    let TableObject::TableName(name) = &i.table else {
                        continue;
                    };
                    let name = unquote(&name.to_string());
                    let Some(table) = tables.0.get_mut(&name) else {
                        continue;
                    };
                    let columns: Vec<String> = if i.columns.is_empty() {
                        table.columns.clone()
                    } else {
                        i.columns.iter().map(|c| unquote(&c.to_string())).collect()
                    };
                    let Some(SetExpr::Values(values)) = i.source.as_ref().map(|q| &*q.body) else {
                        continue;
                    };
                    for row in &values.rows {
                        let mut kept_row = vec![None; table.columns.len()];
                        for (column, e) in columns.iter().zip(&row.content) {
                            if let Some(i) = table.columns.iter().position(|c| c == column) {
                                kept_row[i] = literal(e);
                            }
                        }
                        table.rows.push(kept_row);
                        for (column, e) in columns.iter().zip(&row.content) {
                            if let Some(v) = literal(e) {
                                let kept = table.values.entry(column.clone()).or_default();
                                if !kept.contains(&v) {
                                    kept.push(v);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if tables.0.is_empty() {
            return Err("no CREATE TABLE in it".into());
        }
        Ok(tables)
    }

    /// The same tables and literal rows as SQLite SQL, untyped: the words
    /// and keys of a fixture written for a server only (not a fixture an
    /// application runs on).
    pub fn sqlite_copy(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::new();
        for (name, t) in &self.0 {
            let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
            out.push_str(&format!(
                "CREATE TABLE {} ({});\n",
                quote(name),
                cols.join(", ")
            ));
            for row in &t.rows {
                let values: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        Some(serde_json::Value::String(s)) => {
                            format!("'{}'", s.replace('\'', "''"))
                        }
                        Some(serde_json::Value::Number(n)) => n.to_string(),
                        _ => "NULL".into(),
                    })
                    .collect();
                out.push_str(&format!(
                    "INSERT INTO {} VALUES ({});\n",
                    quote(name),
                    values.join(", ")
                ));
            }
        }
        out
    }

    fn table(&self, table: &str) -> Result<&Table, String> {
        self.0.get(&table.to_ascii_lowercase()).ok_or_else(|| {
            let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
            format!(
                "table `{table}` is not in the fixture (it has: {})",
                known.join(", ")
            )
        })
    }

    /// Checks `table` (and `column` of it) is in the fixture.
    pub fn column(&self, table: &str, column: Option<&str>) -> Result<(), String> {
        let t = self.table(table)?;
        match column {
            Some(c) if !t.columns.iter().any(|k| k.eq_ignore_ascii_case(c)) => Err(format!(
                "column `{c}` is not in the fixture's table `{table}` (it has: {})",
                t.columns.join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// The literal values the fixture inserts in `table.column`.
    pub fn values(&self, table: &str, column: &str) -> Result<Vec<serde_json::Value>, String> {
        self.column(table, Some(column))?;
        Ok(self
            .table(table)?
            .values
            .get(&column.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_columns_and_inserted_keys() {
        let t = Tables::parse(
            "mysql",
            "CREATE TABLE `visits` (id INT PRIMARY KEY, note TEXT);
             INSERT INTO visits VALUES (1, 'a'), (2, 'b');
             INSERT INTO visits (note, id) VALUES ('c', -3);",
        )
        .unwrap();
        assert_eq!(
            t.values("visits", "id").unwrap(),
            vec![
                serde_json::json!(1),
                serde_json::json!(2),
                serde_json::json!(-3)
            ]
        );
        assert!(t
            .column("visits", Some("nope"))
            .unwrap_err()
            .contains("id, note"));
        assert!(t.column("rooms", None).unwrap_err().contains("visits"));
        let copy = t.sqlite_copy();
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&copy).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM visits WHERE note = 'c' AND id = -3",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{copy}");
    }
}

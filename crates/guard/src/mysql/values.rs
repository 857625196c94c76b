//! Values across the wire: the `Db` trait's SQLite-typed [`Value`]s bound
//! as MySQL values, result columns read back as [`Value`]s (by column type:
//! the text protocol sends numbers as text), and the log's row images
//! (`JSON_ARRAY` of the columns, a binary one as `{"x": hex}`) turned into
//! the guard's exact cell encoding ([`Cell`]), the one the SQLite backend's
//! triggers produce, so blast radius and undo read alike.

use mysql::consts::ColumnType;
use mysql::{Column, Row};

use crate::db::Value;
use crate::policy::Cell;
use crate::server::values::cell_of_json;

/// `value` as the client binds it.
pub fn bound(value: &Value) -> mysql::Value {
    match value {
        Value::Null => mysql::Value::NULL,
        Value::Integer(i) => mysql::Value::Int(*i),
        Value::Real(f) => mysql::Value::Double(*f),
        Value::Text(t) => mysql::Value::Bytes(t.as_bytes().to_vec()),
        Value::Blob(b) => mysql::Value::Bytes(b.clone()),
    }
}

/// A positional parameter list.
pub fn params(values: &[Value]) -> mysql::Params {
    if values.is_empty() {
        mysql::Params::Empty
    } else {
        mysql::Params::Positional(values.iter().map(bound).collect())
    }
}

/// The binary character set's number: a string column in it holds bytes.
const BINARY: u16 = 63;

/// One result column as a [`Value`].
fn value_of(v: &mysql::Value, column: &Column) -> Value {
    use ColumnType::*;
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Integer(*i),
        mysql::Value::UInt(u) => {
            i64::try_from(*u).map_or_else(|_| Value::Text(u.to_string()), Value::Integer)
        }
        mysql::Value::Float(f) => Value::Real(f64::from(*f)),
        mysql::Value::Double(f) => Value::Real(*f),
        mysql::Value::Bytes(b) => {
            let text = std::str::from_utf8(b).ok();
            match (column.column_type(), text) {
                (
                    MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
                    | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR,
                    Some(t),
                ) => t
                    .parse()
                    .map_or_else(|_| Value::Text(t.into()), Value::Integer),
                (MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE, Some(t)) => t
                    .parse()
                    .map_or_else(|_| Value::Text(t.into()), Value::Real),
                (_, Some(t)) if column.character_set() != BINARY => Value::Text(t.into()),
                _ => Value::Blob(b.clone()),
            }
        }
        // Dates and times from the binary protocol, as the text protocol writes them.
        other => Value::Text(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Every column of a row as [`Value`]s.
pub fn row_values(row: &Row) -> Vec<Value> {
    let columns = row.columns_ref();
    (0..row.len())
        .map(|i| match row.as_ref(i) {
            Some(v) => value_of(v, &columns[i]),
            None => Value::Null,
        })
        .collect()
}

/// A logged row image as cells in column order: numbers as written, text
/// as [`Cell::text`], `{"x": hex}` as a blob, NULL as `NULL`.
pub fn cells_of_image(image: Option<&str>, width: usize) -> Option<Vec<Cell>> {
    let cells: Vec<serde_json::Value> = serde_json::from_str(image?).ok()?;
    if cells.len() != width {
        return None;
    }
    Some(
        cells
            .iter()
            .map(|c| match c.get("x") {
                Some(serde_json::Value::String(h)) => Cell(format!("X'{h}'")),
                Some(_) => Cell("NULL".into()),
                None => cell_of_json(Some(c)),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_images_encode_like_the_sqlite_triggers() {
        let cells =
            cells_of_image(Some(r#"[7, "it's", null, {"x": "00FF"}, {"x": null}]"#), 5).unwrap();
        assert_eq!(
            cells,
            [
                Cell::of(&Value::Integer(7)),
                Cell::of(&Value::Text("it's".into())),
                Cell::of(&Value::Null),
                Cell::of(&Value::Blob(vec![0, 255])),
                Cell::of(&Value::Null),
            ]
        );
        assert_eq!(cells_of_image(Some("[1]"), 2), None);
    }
}

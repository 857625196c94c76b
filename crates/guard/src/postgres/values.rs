//! Values across the wire: the `Db` trait's SQLite-typed [`Value`]s bound to
//! whatever type the server inferred for each parameter, and result columns
//! read back as [`Value`]s; and row images logged as `to_jsonb(row)` turned
//! into the guard's exact cell encoding ([`Cell`]), the same one the SQLite
//! backend's triggers produce, so blast radius and undo read alike.

use std::error::Error as StdError;

use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::db::Value;
use crate::policy::Cell;
pub use crate::server::values::cell_of_json;

type BoxError = Box<dyn StdError + Sync + Send>;

/// A bound parameter, converted to the type the server asks for.
#[derive(Debug)]
pub struct Param<'a>(pub &'a Value);

/// Calls `f` with `params` bound as the client's parameter list.
pub fn with_bound<T>(params: &[Value], f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> T) -> T {
    let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    f(&refs)
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, BoxError> {
        let mut int = |i: i64| -> Result<IsNull, BoxError> {
            match *ty {
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::FLOAT4 => (i as f32).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::OID => u32::try_from(i)?.to_sql(ty, out),
                _ => i.to_string().to_sql(&Type::TEXT, out),
            }
        };
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => int(*i),
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => f.to_string().to_sql(&Type::TEXT, out),
            },
            Value::Text(t) => match *ty {
                Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => int(t.trim().parse()?),
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                _ => t.as_str().to_sql(&Type::TEXT, out),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("cannot bind a blob to a {ty} parameter").into()),
            },
        }
    }

    /// The types whose binary form is the value's own bytes or a number.
    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::BOOL
                | Type::BYTEA
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::JSON
        )
    }

    to_sql_checked!();
}

/// One result column, read as the `Db` trait's [`Value`].
struct Column(Value);

impl<'a> FromSql<'a> for Column {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Column(match *ty {
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            // Text-like types travel as UTF-8; anything else is shown as its bytes.
            _ => match std::str::from_utf8(raw) {
                Ok(s) => Value::Text(s.to_string()),
                Err(_) => Value::Blob(raw.to_vec()),
            },
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Column(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Every column of a row as [`Value`]s.
pub fn row_values(row: &postgres::Row) -> Result<Vec<Value>, postgres::Error> {
    (0..row.len())
        .map(|i| row.try_get::<_, Column>(i).map(|c| c.0))
        .collect()
}

/// A logged row image (`to_jsonb(OLD)` text) as cells in `columns` order.
pub fn cells_of_image(image: Option<&str>, columns: &[String]) -> Option<Vec<Cell>> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(image?).ok()?;
    Some(
        columns
            .iter()
            .map(|c| cell_of_json(object.get(c)))
            .collect(),
    )
}

/// Whether every column `image` (a row's jsonb text) names is one of
/// `columns`: an image with a column the reader does not know would lose
/// that column's change.
pub fn image_fits(image: Option<&str>, columns: &[String]) -> bool {
    let Some(image) = image else { return true };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(image) {
        Ok(object) => object.keys().all(|k| columns.iter().any(|c| c == k)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_images_encode_like_the_sqlite_triggers() {
        let cols = ["id", "notes", "series_id"].map(String::from);
        let cells = cells_of_image(
            Some(r#"{"id": 7, "notes": "it's", "series_id": null}"#),
            &cols,
        )
        .unwrap();
        assert_eq!(
            cells,
            [
                Cell::of(&Value::Integer(7)),
                Cell::of(&Value::Text("it's".into())),
                Cell::of(&Value::Null)
            ]
        );
    }
}

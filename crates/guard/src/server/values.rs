//! Row images as the servers log them (JSON) read in the guard's exact cell
//! encoding ([`Cell`]), the one the SQLite backend's triggers produce.

use crate::policy::Cell;

/// One cell of a JSON row image (PostgreSQL's `to_jsonb`, MariaDB's
/// `JSON_ARRAY`) in the guard's encoding: numbers as
/// written, text as [`Cell::text`], NULL as `NULL`.
pub fn cell_of_json(v: Option<&serde_json::Value>) -> Cell {
    use serde_json::Value as J;
    Cell(match v {
        None | Some(J::Null) => "NULL".into(),
        Some(J::Number(n)) => n.to_string(),
        Some(J::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
        Some(J::String(s)) => return Cell::text(s.as_bytes()),
        Some(other) => return Cell::text(other.to_string().as_bytes()),
    })
}

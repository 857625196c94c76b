//! The protected tables as a server's catalog lists them, one row a column
//! (table, column, its place in the primary key if it has one), in table
//! and column order: each table's columns in order, its key the primary key
//! (every column when there is none).

use crate::policy::TableInfo;

/// The tables of catalog rows `(table, column, place in the primary key)`.
pub(crate) fn tables_of<K: Ord>(
    rows: impl IntoIterator<Item = (String, String, Option<K>)>,
) -> Vec<TableInfo> {
    let mut tables: Vec<(TableInfo, Vec<(K, usize)>)> = Vec::new();
    for (name, column, key) in rows {
        if tables.last().is_none_or(|(t, _)| t.name != name) {
            let table = TableInfo {
                name,
                columns: Vec::new(),
                key: Vec::new(),
            };
            tables.push((table, Vec::new()));
        }
        let (t, pk) = tables.last_mut().expect("pushed above");
        if let Some(pos) = key {
            pk.push((pos, t.columns.len()));
        }
        t.columns.push(column);
    }
    tables
        .into_iter()
        .map(|(mut t, mut pk)| {
            pk.sort();
            t.key = if pk.is_empty() {
                (0..t.columns.len()).collect()
            } else {
                pk.into_iter().map(|(_, i)| i).collect()
            };
            t
        })
        .collect()
}

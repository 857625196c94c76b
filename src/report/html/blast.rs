//! The blast radius of a `write-outside-target` finding as a person reads
//! it: a count per table and per column, then before/after tables grouped by
//! table (one row per key, one column per changed column), large radii
//! summarised, and every cell as CSV and JSON downloads: `data:` links (no
//! script) within the page's [`Budget`], then files next to the page
//! ([`Attachment`]s) when the page is written to a file.
//!
//! Contract: the counts always cover every cell; what the tables and the
//! downloads leave out is said with a count, never silently.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use super::escape::{push, text};
use crate::guard::CellChange;

/// Rows shown per table; the rest are counted.
pub const SHOWN_ROWS: usize = 25;
/// Columns shown per table (the most changed first); the rest are counted.
pub const SHOWN_COLUMNS: usize = 10;
/// Characters of one value shown in a table cell.
const VALUE_CHARS: usize = 60;

/// Tables shown per finding (the most changed first); the rest are counted.
pub const SHOWN_TABLES: usize = 8;

/// A file the page links to instead of embedding it: every cell of a blast
/// radius too large for the page's download budget.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name inside the attachments folder.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Bytes of `data:` downloads the whole page may still embed, and where the
/// cells go that do not fit.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub bytes: usize,
    /// The folder, relative to the page, that the caller writes
    /// [`Budget::attachments`] into; `None` (a page on stdout) keeps no
    /// file and says how to print the cells instead.
    pub folder: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Standard base64 (RFC 4648, with padding), for `data:` links.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn csv_field(s: Option<&str>) -> String {
    match s {
        None => String::new(),
        Some(s) => format!("\"{}\"", s.replace('"', "\"\"")),
    }
}

/// Every cell as CSV (`table,key,column,before,after`; an empty field is no row).
pub fn csv(cells: &[CellChange]) -> String {
    let mut out = String::from("table,key,column,before,after\n");
    for c in cells {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            csv_field(Some(&c.table)),
            csv_field(Some(&c.key)),
            csv_field(Some(&c.column)),
            csv_field(c.before.as_deref()),
            csv_field(c.after.as_deref())
        );
    }
    out
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(VALUE_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

fn value(out: &mut String, v: Option<&str>, class: &str) {
    match v {
        None => {
            let _ = write!(out, "<span class=\"{class} none\">no row</span>");
        }
        Some(v) => {
            let _ = write!(out, "<span class=\"{class}\">");
            push(out, &clip(v));
            out.push_str("</span>");
        }
    }
}

struct TableView<'a> {
    cells: usize,
    rows: HashSet<&'a str>,
    columns: BTreeMap<&'a str, usize>,
    /// The first [`SHOWN_ROWS`] keys, in the order seen, with their cells.
    shown: Vec<(&'a str, HashMap<&'a str, &'a CellChange>)>,
}

/// The blast radius section of one finding; `name` names the download files.
pub fn render(out: &mut String, cells: &[CellChange], name: &str, budget: &mut Budget) {
    let mut tables: BTreeMap<&str, TableView> = BTreeMap::new();
    for c in cells {
        let t = tables.entry(&c.table).or_insert_with(|| TableView {
            cells: 0,
            rows: HashSet::new(),
            columns: BTreeMap::new(),
            shown: Vec::new(),
        });
        t.cells += 1;
        t.rows.insert(&c.key);
        *t.columns.entry(&c.column).or_default() += 1;
        if let Some(row) = t.shown.iter_mut().find(|(k, _)| *k == &*c.key) {
            row.1.insert(&c.column, c);
        } else if t.shown.len() < SHOWN_ROWS {
            t.shown.push((&c.key, HashMap::from([(&*c.column, c)])));
        }
    }
    let rows: usize = tables.values().map(|t| t.rows.len()).sum();
    let _ = write!(
        out,
        "<div class=\"blast\"><h4>Blast radius: <span class=\"n-cells\">{}</span> cell(s) in {rows} row(s) of {} table(s)</h4>",
        cells.len(),
        tables.len()
    );
    out.push_str("<table class=\"counts\"><thead><tr><th>table</th><th>rows</th><th>cells</th><th>cells per column</th></tr></thead><tbody>");
    for (name, t) in &tables {
        let mut cols: Vec<(&&str, &usize)> = t.columns.iter().collect();
        cols.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let per: Vec<String> = cols
            .iter()
            .map(|(c, n)| format!("{} {n}", text(c)))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(name),
            t.rows.len(),
            t.cells,
            per.join(", ")
        );
    }
    out.push_str("</tbody></table>");
    // the most changed tables get a before/after table
    let mut order: Vec<(&&str, &TableView)> = tables.iter().collect();
    order.sort_by(|a, b| b.1.cells.cmp(&a.1.cells).then(a.0.cmp(b.0)));
    let hidden_tables = order.len().saturating_sub(SHOWN_TABLES);
    order.truncate(SHOWN_TABLES);
    for (table, t) in order {
        let mut cols: Vec<(&str, usize)> = t.columns.iter().map(|(c, n)| (*c, *n)).collect();
        cols.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let hidden_cols = cols.len().saturating_sub(SHOWN_COLUMNS);
        cols.truncate(SHOWN_COLUMNS);
        let _ = write!(
            out,
            "<h5>{} <span class=\"dim\">before → after</span></h5><div class=\"scroll\"><table class=\"radius\" data-table=\"{}\"><thead><tr><th>key</th>",
            text(table),
            text(table)
        );
        for (c, _) in &cols {
            let _ = write!(out, "<th>{}</th>", text(c));
        }
        out.push_str("</tr></thead><tbody>");
        for (key, row) in &t.shown {
            let _ = write!(
                out,
                "<tr class=\"radius-row\"><td class=\"key\">{}</td>",
                text(key)
            );
            for (c, _) in &cols {
                out.push_str("<td>");
                if let Some(cell) = row.get(c) {
                    value(out, cell.before.as_deref(), "before");
                    out.push_str(" → ");
                    value(out, cell.after.as_deref(), "after");
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        let hidden_rows = t.rows.len() - t.shown.len();
        if hidden_rows > 0 || hidden_cols > 0 {
            let _ = write!(
                out,
                "<p class=\"left-out\">Left out of this table: {hidden_rows} row(s), {hidden_cols} column(s) (counted above; every cell is in the downloads).</p>"
            );
        }
    }
    if hidden_tables > 0 {
        let _ = write!(
            out,
            "<p class=\"left-out\">{hidden_tables} more table(s) left out (counted above; every cell is in the downloads).</p>"
        );
    }
    downloads(out, cells, name, budget);
    out.push_str("</div>");
}

fn downloads(out: &mut String, cells: &[CellChange], name: &str, budget: &mut Budget) {
    let csv = csv(cells);
    let json = serde_json::to_string(cells).unwrap_or_default();
    // base64 grows a file by a third
    let cost = (csv.len() + json.len()).div_ceil(3) * 4;
    if cost <= budget.bytes {
        budget.bytes -= cost;
        let _ = write!(
            out,
            "<p class=\"downloads\">Every cell: <a download=\"{n}.csv\" href=\"data:text/csv;base64,{}\">CSV</a> · \
             <a download=\"{n}.json\" href=\"data:application/json;base64,{}\">JSON</a></p>",
            base64(csv.as_bytes()),
            base64(json.as_bytes()),
            n = text(name)
        );
        return;
    }
    let Some(folder) = &budget.folder else {
        let _ = write!(
            out,
            "<p class=\"left-out\">Downloads left out: the {} cells ({} bytes as CSV) exceed what is left of the page's size budget. \
             <code>rowguard repro FILE --format json</code> prints every one.</p>",
            cells.len(),
            csv.len()
        );
        return;
    };
    let _ = write!(
        out,
        "<p class=\"downloads\">Every cell ({} cells, {} bytes as CSV: too many to embed, in files next to this page): \
         <a download=\"{n}.csv\" href=\"{f}/{n}.csv\">CSV</a> · <a download=\"{n}.json\" href=\"{f}/{n}.json\">JSON</a></p>",
        cells.len(),
        csv.len(),
        n = text(name),
        f = text(folder)
    );
    budget.attachments.push(Attachment {
        name: format!("{name}.csv"),
        bytes: csv.into_bytes(),
    });
    budget.attachments.push(Attachment {
        name: format!("{name}.json"),
        bytes: json.into_bytes(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(table: &str, key: usize, column: &str) -> CellChange {
        CellChange {
            table: table.into(),
            key: key.to_string().into(),
            column: column.into(),
            before: Some(format!("<old {key}>")),
            after: (key % 2 == 0).then(|| "x".to_string()),
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn csv_quotes_every_field_and_keeps_missing_rows_empty() {
        let c = CellChange {
            table: "t".into(),
            key: "1".into(),
            column: "c".into(),
            before: Some("a\"b,\nc".into()),
            after: None,
        };
        assert_eq!(
            csv(&[c]),
            "table,key,column,before,after\n\"t\",\"1\",\"c\",\"a\"\"b,\nc\",\n"
        );
    }

    #[test]
    fn large_radii_are_counted_in_full_and_shown_in_part() {
        let mut cells: Vec<CellChange> =
            (0..300).map(|k| cell("appointments", k, "notes")).collect();
        cells.extend((0..40).map(|k| cell("reminders", k, "send_at")));
        let mut out = String::new();
        let mut budget = Budget {
            bytes: 100,
            ..Budget::default()
        };
        render(&mut out, &cells, "f1", &mut budget);
        assert!(
            out.contains("<span class=\"n-cells\">340</span> cell(s) in 340 row(s) of 2 table(s)"),
            "{out}"
        );
        assert_eq!(out.matches("class=\"radius-row\"").count(), 2 * SHOWN_ROWS);
        assert!(out.contains("Left out of this table: 275 row(s)"));
        assert!(out.contains("Downloads left out"));
        assert!(!out.contains("<old"), "values are escaped");
        let mut big = Budget {
            bytes: 1 << 20,
            ..Budget::default()
        };
        let mut out = String::new();
        render(&mut out, &cells, "f1", &mut big);
        assert!(out.contains("data:text/csv;base64,"));
        assert!(big.bytes < 1 << 20);
        assert!(big.attachments.is_empty());
    }

    #[test]
    fn cells_over_the_budget_become_files_next_to_the_page() {
        let cells: Vec<CellChange> = (0..300).map(|k| cell("appointments", k, "notes")).collect();
        let mut budget = Budget {
            bytes: 100,
            folder: Some("report-cells".into()),
            attachments: Vec::new(),
        };
        let mut out = String::new();
        render(&mut out, &cells, "finding-0-stmt-1", &mut budget);
        assert!(
            out.contains("href=\"report-cells/finding-0-stmt-1.csv\""),
            "{out}"
        );
        assert!(out.contains("href=\"report-cells/finding-0-stmt-1.json\""));
        assert!(!out.contains("Downloads left out"));
        let names: Vec<&str> = budget.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["finding-0-stmt-1.csv", "finding-0-stmt-1.json"]);
        assert_eq!(budget.attachments[0].bytes, csv(&cells).into_bytes());
        assert_eq!(budget.bytes, 100, "nothing embedded");
    }

    #[test]
    fn many_tables_show_the_most_changed_and_count_the_rest() {
        let cells: Vec<CellChange> = (0..SHOWN_TABLES + 3)
            .flat_map(|t| (0..=t).map(move |k| cell(&format!("t{t:02}"), k, "c")))
            .collect();
        let mut out = String::new();
        render(&mut out, &cells, "f", &mut Budget::default());
        assert_eq!(out.matches("<table class=\"radius\"").count(), SHOWN_TABLES);
        assert!(out.contains("3 more table(s) left out"));
        assert!(out.contains(&format!("data-table=\"t{:02}\"", SHOWN_TABLES + 2)));
        assert!(
            !out.contains("data-table=\"t00\""),
            "the least changed is left out"
        );
    }
}

//! The HTML report stays small enough to open (issue 16 item 6): the page of
//! a run with thousands of findings and a million changed cells is under
//! 5 MB, says with a count everything it leaves out, and keeps every cell
//! downloadable (files next to the page once the page's own budget is
//! spent). Asserted on the page's structure (rows rendered, the counts of
//! what is left out), never on time. `-- --nocapture` prints the size
//! quoted in BENCHMARKS.md.

use std::path::PathBuf;

use rowguard::guard::{Api, CellChange, Finding, Kind, StatementCheck};
use rowguard::harness::execute::{Execution, OpRun};
use rowguard::harness::pipeline::Op;
use rowguard::report::html::{
    self, blast, build, Detail, FindingRow, MAX_DETAILS, MAX_ROWS, SHOWN_UNDO,
};

/// Findings in the run (distinct kind and statement shape).
pub const FINDINGS: usize = 5_000;
/// Inputs replayed, each with [`CELLS`] / [`INPUTS`] changed cells.
pub const INPUTS: usize = 100;
/// Changed cells over all inputs.
pub const CELLS: usize = 1_000_000;
/// Tables each input's blast radius spans.
const TABLES: usize = 4;
/// Columns per table.
const COLUMNS: usize = 5;

fn detail(n: usize) -> Detail {
    let per = CELLS / INPUTS;
    let rows_per_table = per / TABLES / COLUMNS;
    let outside: Vec<CellChange> = (0..per)
        .map(|i| {
            let (t, rest) = (i / (per / TABLES), i % (per / TABLES));
            CellChange {
                table: format!("table_{t}").into(),
                key: (rest / COLUMNS).to_string().into(),
                column: format!("column_{}", rest % COLUMNS).into(),
                before: Some(format!("'value {i} before, with some text in it'")),
                after: Some(format!("'value {i} after ' OR 1=1 --'")),
            }
        })
        .collect();
    assert_eq!(outside.len() / TABLES / COLUMNS, rows_per_table);
    let mut finding = Finding::new(
        Kind::WriteOutsideTarget,
        format!(
            "{per} cell(s) in {} row(s) changed outside the policy",
            rows_per_table * TABLES
        ),
    );
    finding.undo = (0..per)
        .map(|i| {
            format!(
                "UPDATE table_{} SET column_{} = 'value {i} before' WHERE rowid = {i};",
                i % TABLES,
                i % COLUMNS
            )
        })
        .collect();
    finding.outside = outside;
    let notes = format!("{n}' OR 1=1 -- {}", "x".repeat(20_000));
    let sql = format!("UPDATE appointments SET notes = '{notes}' WHERE id = 7");
    Detail {
        file: Some(PathBuf::from(format!(
            "artifacts/legacy/write-outside-target-{n:016x}.json"
        ))),
        execution: Execution {
            harness: "appointments".into(),
            pipeline: "legacy".into(),
            ops: vec![OpRun {
                table: "appointments".into(),
                op: serde_json::to_value(Op::EditNotes { id: 7, notes }).unwrap(),
                targets: vec![7],
                statements: vec![StatementCheck {
                    api: Api::Execute,
                    sql,
                    params: vec![],
                    ignored_tail: None,
                    shape: "UPDATE appointments SET notes = ? OR ? = ?".into(),
                    accesses: vec!["update appointments.notes".into()],
                    changed_rows: rows_per_table * TABLES,
                    error: None,
                    findings: vec![finding],
                }],
                error: None,
                transcript: vec![],
                template_sql: vec![],
                templates: vec![],
            }],
        },
        templates: vec![vec![
            "UPDATE appointments SET notes = 'placeholder' WHERE id = 7".into(),
        ]],
    }
}

/// Every `#finding-N` link of the findings table has its section.
fn links_resolve(html: &str) {
    for link in html.split("href=\"#finding-").skip(1) {
        let n = &link[..link.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"finding-{n}\"")),
            "#finding-{n} links nowhere"
        );
    }
}

/// The page of the synthetic run, and its attachments.
pub fn huge_report() -> html::Report {
    let details: Vec<Detail> = (0..INPUTS).map(detail).collect();
    let mut report = build::from_replays(details, "sqlite");
    report.run.command = "fuzz".into();
    report.findings = (0..FINDINGS)
        .map(|i| FindingRow {
            kind: Kind::ALL[i % Kind::ALL.len()],
            count: 1 + i as u64,
            elapsed_s: Some(i as f64),
            execs: Some(i as u64 * 10),
            shape: format!(
                "UPDATE appointments SET notes = ? OR ? = ? -- shape {i} {}",
                "w ? ".repeat(200)
            ),
            message: format!("finding {i}: {}", "m".repeat(1_000)),
            artifact: Some(PathBuf::from(format!("artifacts/legacy/x-{i:016x}.json"))),
            detail: (i < MAX_DETAILS).then_some(i),
        })
        .collect();
    report
}

#[test]
fn a_million_cells_and_thousands_of_findings_fit_in_a_small_page() {
    let report = huge_report();
    let page = html::render(&report, Some("report-cells"));
    let (html, files) = (&page.html, &page.attachments);
    println!(
        "page of {FINDINGS} findings and {CELLS} changed cells: {} bytes ({} findings in detail), {} attachment(s) of {} bytes",
        html.len(),
        html.matches("<section class=\"finding\"").count(),
        files.len(),
        files.iter().map(|a| a.bytes.len()).sum::<usize>()
    );
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    links_resolve(html);

    // the findings table: MAX_ROWS rows, the rest counted
    assert_eq!(html.matches("<tr class=\"finding-row\">").count(), MAX_ROWS);
    assert!(html.contains(&format!(
        "{} finding(s) left out of the table",
        FINDINGS - MAX_ROWS
    )));
    assert!(html.contains(&format!("<span id=\"n-findings\">{FINDINGS}</span>")));
    // details: as many as fit before PAGE_STOP, the rest of the inputs counted
    let shown = html.matches("<section class=\"finding\"").count();
    assert!((1..=MAX_DETAILS).contains(&shown), "{shown}");
    assert!(html.contains(&format!(
        "{} more finding(s) are not shown in detail (the first {shown} are",
        INPUTS - shown
    )));
    // blast radius: every cell counted, SHOWN_ROWS rows per table shown
    let per = CELLS / INPUTS;
    let rows_per_table = per / TABLES / COLUMNS;
    assert_eq!(
        html.matches(&format!("<span class=\"n-cells\">{per}</span>"))
            .count(),
        shown
    );
    assert_eq!(
        html.matches("<tr class=\"radius-row\">").count(),
        shown * TABLES * blast::SHOWN_ROWS
    );
    assert_eq!(
        html.matches(&format!(
            "Left out of this table: {} row(s)",
            rows_per_table - blast::SHOWN_ROWS
        ))
        .count(),
        shown * TABLES
    );
    // undo: SHOWN_UNDO statements per finding, the rest counted
    assert_eq!(
        html.matches(&format!(
            "{} more undo statement(s) left out",
            per - SHOWN_UNDO
        ))
        .count(),
        shown
    );
    // every cell of every finding shown is downloadable: embedded within the
    // budget, in files next to the page past it
    let embedded = html.matches("href=\"data:text/csv;base64,").count();
    let linked = html.matches("href=\"report-cells/").count() / 2;
    assert_eq!(embedded + linked, shown);
    assert!(linked > 0, "a million cells do not fit the page");
    assert_eq!(files.len(), 2 * linked);
    for a in files.iter().filter(|a| a.name.ends_with(".csv")) {
        assert_eq!(
            a.bytes.iter().filter(|&&b| b == b'\n').count(),
            per + 1,
            "{}",
            a.name
        );
    }
}

#[test]
fn one_input_with_thousands_of_statements_stops_the_page_mid_detail() {
    // one op whose every statement writes outside: the page stops inside it
    let statements = 1_000;
    let mut d = detail(0);
    let s = d.execution.ops[0].statements[0].clone();
    let mut small = s.clone();
    small.findings[0].outside.truncate(2_000);
    small.findings[0].undo.truncate(2_000);
    d.execution.ops[0].statements = vec![small; statements];
    let page = html::render(&build::from_replays(vec![d], "sqlite"), None).html;
    let shown = page.matches("<div class=\"stmt bad\">").count();
    println!(
        "one input, {statements} statements: {} bytes ({shown} statements shown)",
        page.len()
    );
    assert!(page.len() < 5_000_000, "{} bytes", page.len());
    links_resolve(&page);
    assert!((1..statements).contains(&shown), "{shown}");
    assert!(page.contains(&format!(
        "{} more statement(s) of this op left out to keep the page small",
        statements - shown
    )));
    // with no folder for files, the cells past the budget are said, not lost
    assert!(page.contains("Downloads left out: the 2000 cells"));
}

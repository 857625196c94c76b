//! `rowguard differential`: the same text lines through the same pipeline
//! on embedded SQLite and on a server (PostgreSQL or MariaDB/MySQL; the
//! command compares SQLite with each server it is given, so all three
//! backends), line by line, and every line whose verdict differs, with why.
//!
//! Where both databases ran every statement, the verdict must be the same:
//! the same finding kinds and the same blast radius (table, key, column).
//! A difference is explained only when one database did not run what the
//! other ran, and the explanation names which and quotes its error:
//! PostgreSQL rejects what SQLite coerces (`'' OR true` is text OR boolean),
//! SQLite lacks a server function (`pg_sleep`), a server limit stopped a
//! statement. On MySQL one more: the text holds what MySQL's lexer reads
//! otherwise than SQLite's (a backslash escape, `#` or `/*! */` comments,
//! `--` without a blank after it, `||` as OR, `"` strings), so the same
//! SQL is another statement there ([`Reason::DialectReads`]). Anything else
//! is [`Reason::Unexplained`]: a guard that sees a write on one backend and
//! not on the other.
//!
//! Pipelines whose bug or syntax belongs to other databases
//! ([`Pipeline::databases`]) are not compared: they differ by design.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::scan::{LineReport, LineVerdict, Scan};
use crate::guard::postgres::PgOptions;
use crate::guard::{BackendKind, Kind};
use crate::harness::domain::{Domain, Pipeline};

/// Why a line's verdicts differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "error", rename_all = "kebab-case")]
pub enum Reason {
    /// The server rejected a statement SQLite ran (stricter types or grammar).
    ServerRejected(String),
    /// SQLite rejected a statement the server ran.
    SqliteRejected(String),
    /// MySQL's lexer reads the statement's text otherwise than SQLite's
    /// (the token that does it is named): the same SQL is another statement.
    DialectReads(String),
    /// Both rejected a statement; the static layers (one dialect each) differ.
    BothRejected(String),
    /// A work, time or size limit stopped a statement on one database only.
    LimitOnOne(String),
    /// Neither database ran the line: it could not be read as text (not
    /// UTF-8, too long), the same on both sides.
    NotRun(String),
    /// Both ran everything, yet the verdicts differ: a guard bug.
    Unexplained(String),
}

impl Reason {
    /// True for [`Reason::Unexplained`].
    pub fn is_unexplained(&self) -> bool {
        matches!(self, Reason::Unexplained(_))
    }
}

/// One line whose verdicts differ.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub pipeline: &'static str,
    pub file: String,
    pub line: u64,
    /// The line's text (JSON key of rowguard 0.1's first harness).
    #[serde(rename = "notes")]
    pub text: Option<String>,
    pub sqlite: Vec<Kind>,
    /// The server compared with SQLite.
    pub database: BackendKind,
    /// The server's kinds.
    pub server: Vec<Kind>,
    #[serde(flatten)]
    pub reason: Reason,
}

/// The counts of one pipeline's comparison.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineCounts {
    pub pipeline: &'static str,
    pub lines: u64,
    pub same: u64,
    pub explained: u64,
    pub unexplained: u64,
}

/// What a comparison found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub pipelines: Vec<PipelineCounts>,
    pub differences: Vec<Difference>,
}

impl Report {
    /// Lines whose difference no rule explains.
    pub fn unexplained(&self) -> usize {
        self.differences
            .iter()
            .filter(|d| d.reason.is_unexplained())
            .count()
    }
}

/// The pipelines of `harness` whose bug exists on both SQLite and `server`
/// (their SQL and bug alike).
pub fn comparable_with(harness: &dyn Domain, server: BackendKind) -> Vec<&'static dyn Pipeline> {
    let both = |p: &&'static dyn Pipeline| {
        let d = p.databases();
        d.is_empty() || (d.contains(&"sqlite") && d.contains(&server.as_str()))
    };
    harness.pipelines().iter().copied().filter(both).collect()
}

/// The first token in `sql` that MySQL's lexer reads otherwise than SQLite's.
pub fn mysql_reads_otherwise(sql: &str) -> Option<&'static str> {
    let b = sql.as_bytes();
    let dash = b
        .windows(3)
        .any(|w| w[0] == b'-' && w[1] == b'-' && !w[2].is_ascii_whitespace())
        || sql.ends_with("--");
    [
        (sql.contains('\\'), "a backslash escape"),
        (sql.contains('#'), "a # comment"),
        (
            sql.contains("/*!") || sql.contains("/*M!"),
            "an executable /*! */ comment",
        ),
        (dash, "-- without a blank after it (not a comment on MySQL)"),
        (sql.contains("||"), "|| (OR on MySQL)"),
        (sql.contains('"'), "a \" string"),
    ]
    .into_iter()
    .find_map(|(hit, what)| hit.then_some(what))
}

/// The first statement error on one side, else the line's error.
fn first_error(r: &LineReport) -> String {
    r.statements
        .iter()
        .find_map(|s| s.error.clone())
        .or_else(|| r.error.clone())
        .unwrap_or_default()
}

fn radius(r: &LineReport) -> BTreeSet<(&str, &str, &str)> {
    r.outside
        .iter()
        .map(|c| (&*c.table, &*c.key, &*c.column))
        .collect()
}

/// Why `sqlite` and `postgres` (the same line, on a `server` of that kind)
/// differ, or `None` when they agree.
pub fn classify_on(
    server: BackendKind,
    sqlite: &LineReport,
    postgres: &LineReport,
) -> Option<Reason> {
    let reason = classify(sqlite, postgres)?;
    if server == BackendKind::Mysql && reason.is_unexplained() {
        let token = postgres
            .statements
            .iter()
            .find_map(|s| mysql_reads_otherwise(&s.sql));
        if let Some(token) = token {
            return Some(Reason::DialectReads(token.to_string()));
        }
    }
    Some(reason)
}

/// Why `sqlite` and `postgres` (the same line) differ, or `None` when they agree.
pub fn classify(sqlite: &LineReport, postgres: &LineReport) -> Option<Reason> {
    let (s_none, p_none) = (
        sqlite.verdict == LineVerdict::Error,
        postgres.verdict == LineVerdict::Error,
    );
    if s_none && p_none && sqlite.error == postgres.error {
        // the line never reached either database: nothing to compare
        return Some(Reason::NotRun(sqlite.error.clone().unwrap_or_default()));
    }
    if s_none || p_none {
        let why = format!(
            "a guard could not check the line: {}",
            sqlite
                .error
                .clone()
                .or(postgres.error.clone())
                .unwrap_or_default()
        );
        return Some(Reason::Unexplained(why));
    }
    if sqlite.kinds == postgres.kinds && radius(sqlite) == radius(postgres) {
        return None;
    }
    let has = |r: &LineReport, k: Kind| r.kinds.contains(&k);
    let (s_err, p_err) = (has(sqlite, Kind::SqlError), has(postgres, Kind::SqlError));
    let (s_lim, p_lim) = (
        has(sqlite, Kind::ResourceLimit),
        has(postgres, Kind::ResourceLimit),
    );
    Some(match (s_err || s_lim, p_err || p_lim) {
        (false, true) if p_lim => {
            Reason::LimitOnOne(format!("the server: {}", first_error(postgres)))
        }
        (true, false) if s_lim => Reason::LimitOnOne(format!("SQLite: {}", first_error(sqlite))),
        (false, true) => Reason::ServerRejected(first_error(postgres)),
        (true, false) => Reason::SqliteRejected(first_error(sqlite)),
        (true, true) if p_lim != s_lim => Reason::LimitOnOne(format!(
            "SQLite: {}; the server: {}",
            first_error(sqlite),
            first_error(postgres)
        )),
        (true, true) => Reason::BothRejected(format!(
            "SQLite: {}; the server: {}",
            first_error(sqlite),
            first_error(postgres)
        )),
        (false, false) => Reason::Unexplained(format!(
            "both ran every statement: blast radius {} cell(s) on SQLite, {} on the server",
            sqlite.outside.len(),
            postgres.outside.len()
        )),
    })
}

/// Compares every line of `files` through each of `pipelines` on SQLite and
/// on the server of `database` (target row `target`, default the
/// harness's example's).
pub fn compare(
    pipelines: &[&'static dyn Pipeline],
    files: &[&Path],
    database: &PgOptions,
    target: Option<i64>,
) -> crate::Result<Report> {
    let mut report = Report::default();
    let kind = BackendKind::of_url(&database.url);
    for &p in pipelines {
        let mut sqlite = Scan::on(p, target, None, None)?;
        let mut postgres = Scan::on(p, target, None, Some(database))?;
        let mut counts = PipelineCounts {
            pipeline: p.name(),
            ..PipelineCounts::default()
        };
        for file in files {
            let name = file.display().to_string();
            let mut on_sqlite = Vec::new();
            sqlite.run_file(file, |r| {
                on_sqlite.push(r.clone());
                Ok(())
            })?;
            let mut i = 0;
            postgres.run_file(file, |pg| {
                counts.lines += 1;
                let Some(sq) = on_sqlite.get(i) else {
                    return Ok(());
                };
                i += 1;
                match classify_on(kind, sq, pg) {
                    None => counts.same += 1,
                    Some(reason) => {
                        if reason.is_unexplained() {
                            counts.unexplained += 1;
                        } else {
                            counts.explained += 1;
                        }
                        report.differences.push(Difference {
                            pipeline: p.name(),
                            file: name.clone(),
                            line: pg.line,
                            text: pg.text.clone(),
                            sqlite: sq.kinds.clone(),
                            database: kind,
                            server: pg.kinds.clone(),
                            reason,
                        });
                    }
                }
                Ok(())
            })?;
        }
        report.pipelines.push(counts);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::CellChange;
    use crate::tools::scan::Sent;

    fn line(kinds: Vec<Kind>, error: Option<&str>, outside: &[(&str, &str)]) -> LineReport {
        LineReport {
            line: 1,
            target: 7,
            text: Some("n".into()),
            verdict: if kinds.is_empty() {
                LineVerdict::Clean
            } else {
                LineVerdict::Finding
            },
            kinds,
            statements: vec![Sent {
                sql: "UPDATE ...".into(),
                params: Vec::new(),
                error: error.map(str::to_string),
            }],
            outside: outside
                .iter()
                .map(|(key, column)| CellChange {
                    table: "appointments".into(),
                    key: (*key).into(),
                    column: (*column).into(),
                    before: None,
                    after: None,
                })
                .collect(),
            error: None,
            field: "notes".into(),
        }
    }

    #[test]
    fn mysql_lexical_differences_are_named() {
        assert_eq!(
            mysql_reads_otherwise("SET notes = 'a\\' -- '"),
            Some("a backslash escape")
        );
        assert_eq!(
            mysql_reads_otherwise("SET notes = ''--"),
            Some("-- without a blank after it (not a comment on MySQL)")
        );
        assert_eq!(mysql_reads_otherwise("SET notes = 'a' -- x"), None);
        let unexplained = line(Vec::new(), None, &[]);
        let mut hash = line(vec![Kind::WriteOutsideTarget], None, &[("8", "notes")]);
        hash.statements[0].sql = "UPDATE t SET a = 1 # x".into();
        assert!(classify(&unexplained, &hash).unwrap().is_unexplained());
        assert_eq!(
            classify_on(BackendKind::Mysql, &unexplained, &hash),
            Some(Reason::DialectReads("a # comment".into()))
        );
    }

    #[test]
    fn agreeing_lines_are_no_difference() {
        let a = line(vec![Kind::WriteOutsideTarget], None, &[("8", "notes")]);
        assert_eq!(classify(&a, &a.clone()), None);
    }

    #[test]
    fn a_line_neither_database_ran_is_explained_by_its_error() {
        let mut sqlite = line(vec![], None, &[]);
        sqlite.verdict = LineVerdict::Error;
        sqlite.error = Some("not UTF-8".into());
        let postgres = sqlite.clone();
        let r = classify(&sqlite, &postgres).unwrap();
        assert_eq!(r, Reason::NotRun("not UTF-8".into()));
        assert!(!r.is_unexplained());
        // one side only could not check it: that is not explained
        let ran = line(vec![], None, &[]);
        assert!(classify(&sqlite, &ran).unwrap().is_unexplained());
    }

    #[test]
    fn a_write_seen_on_one_backend_only_is_unexplained() {
        let sqlite = line(vec![Kind::WriteOutsideTarget], None, &[("8", "notes")]);
        let postgres = line(Vec::new(), None, &[]);
        assert!(classify(&sqlite, &postgres).unwrap().is_unexplained());
        // the same kinds but another row: still a guard bug
        let elsewhere = line(vec![Kind::WriteOutsideTarget], None, &[("9", "notes")]);
        assert!(classify(&sqlite, &elsewhere).unwrap().is_unexplained());
    }

    #[test]
    fn a_statement_only_one_database_ran_explains_the_difference() {
        let sqlite = line(vec![Kind::WriteOutsideTarget], None, &[("8", "notes")]);
        let postgres = line(vec![Kind::SqlError], Some("operator does not exist"), &[]);
        assert_eq!(
            classify(&sqlite, &postgres),
            Some(Reason::ServerRejected("operator does not exist".into()))
        );
        let limit = line(vec![Kind::ResourceLimit], Some("statement timeout"), &[]);
        assert!(matches!(
            classify(&sqlite, &limit),
            Some(Reason::LimitOnOne(_))
        ));
    }
}

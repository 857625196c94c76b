//! `scan`: a file of candidate texts, one per line, each checked as one
//! free-text field (`--field`, default the first) of the harness's example
//! operation, moved to a target row (`--target`, default the example's own),
//! on one pipeline.
//!
//! Contract (DESIGN.md, `rowguard scan`):
//! - lines are split on `\n` only and nothing is trimmed (a `\r` stays in the
//!   text); a final `\n` ends the last line, so it never makes an empty
//!   last record; an empty file has no line and is an error;
//! - the input streams: one line is in memory at a time, and a line longer
//!   than [`MAX_LINE`] is skipped without being held (verdict `error`);
//! - every line gets a [`LineReport`]: `clean`, `finding` (with the kinds,
//!   every statement exactly as sent, in order, failed ones included, and
//!   the cells changed outside the policy), or `error` when the line cannot
//!   be checked (not UTF-8, too long, a guard failure);
//! - [`Summary`] counts lines, clean lines, findings by kind and errors;
//! - a file that shrinks while it is read (truncated by another process) is
//!   an error: its last, possibly cut, line is not scanned; the lines before
//!   it keep their reports.
//!
//! Why [`MAX_LINE`] is 4 MiB: the guard bounds every string SQLite makes at
//! 16 MiB (`MAX_LENGTH`), and its change log stores each changed text cell
//! hex-encoded (twice the bytes), so texts above ~8 MiB make even a correct
//! pipeline stop with `resource-limit`. 4 MiB keeps a wide margin for the
//! statement around the text and an audit row that copies it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead};
use std::path::Path;

use serde::Serialize;

use crate::guard::db::Value;
use crate::guard::postgres::PgOptions;
use crate::guard::{param_json, CellChange, Kind};
use crate::harness::domain::{OpValue, Pipeline};
use crate::harness::execute::{execute, policy_of, Session};
use crate::harness::ops;
use crate::harness::scenario::Scenario;
/// Longest line (in bytes, without its `\n`) that is checked.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// The outcome of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineVerdict {
    Clean,
    Finding,
    Error,
}

/// One statement as the pipeline sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    pub sql: String,
    pub params: Vec<serde_json::Value>,
    /// SQLite's error, when the statement failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What scanning one line found (one `jsonl` object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineReport {
    /// 1-based line number.
    pub line: u64,
    pub target: i64,
    /// The line's text (absent when the line could not be read as text).
    /// Its JSON key is the one of rowguard 0.1's first harness.
    #[serde(rename = "notes", skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub verdict: LineVerdict,
    pub kinds: Vec<Kind>,
    pub statements: Vec<Sent>,
    pub outside: Vec<CellChange>,
    /// Why the line could not be checked (`error` verdict only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The name of the text field the line went into (the text output says it).
    #[serde(skip)]
    pub field: String,
}

impl LineReport {
    fn error(line: u64, target: i64, error: String) -> LineReport {
        LineReport {
            line,
            target,
            text: None,
            verdict: LineVerdict::Error,
            kinds: Vec::new(),
            statements: Vec::new(),
            outside: Vec::new(),
            error: Some(error),
            field: String::new(),
        }
    }

    /// One line of text output; `None` for a clean line (text shows only what needs a look).
    pub fn text(&self) -> Option<String> {
        let head = format!("line {}", self.line);
        match self.verdict {
            LineVerdict::Clean => None,
            LineVerdict::Error => Some(format!(
                "{head}: error: {}",
                self.error.as_deref().unwrap_or("")
            )),
            LineVerdict::Finding => {
                let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
                let mut out = format!("{head}: finding ({})", kinds.join(", "));
                if !self.outside.is_empty() {
                    let _ = write!(out, ", {} cell(s) outside the target", self.outside.len());
                }
                let text: String = self
                    .text
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect();
                let _ = write!(out, ": {} {text:?}", self.field);
                if text.len() < self.text.as_ref().map_or(0, String::len) {
                    out.push('…');
                }
                Some(out)
            }
        }
    }
}

/// Counts over a whole scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub lines: u64,
    pub clean: u64,
    /// Lines with at least one finding.
    pub findings: u64,
    pub errors: u64,
    /// Lines with at least one finding of each kind.
    pub by_kind: BTreeMap<Kind, u64>,
}

impl Summary {
    fn add(&mut self, r: &LineReport) {
        self.lines += 1;
        match r.verdict {
            LineVerdict::Clean => self.clean += 1,
            LineVerdict::Finding => self.findings += 1,
            LineVerdict::Error => self.errors += 1,
        }
        for k in &r.kinds {
            *self.by_kind.entry(*k).or_default() += 1;
        }
    }

    /// The text summary that ends `rowguard scan` text output.
    pub fn text(&self) -> String {
        let mut out = format!(
            "lines: {}, clean: {}, findings: {}, errors: {}\n",
            self.lines, self.clean, self.findings, self.errors
        );
        for (k, n) in &self.by_kind {
            let _ = writeln!(out, "  {k}: {n} line(s)");
        }
        out
    }
}

/// One line read from the input.
enum Read {
    Line(Vec<u8>),
    /// A line longer than the cap: its length, its bytes dropped.
    TooLong(u64),
}

/// Reads up to the next `\n` (dropped) or the end, keeping at most `cap`
/// bytes in memory. `None` at the end of input.
/// `consumed` grows by the bytes taken from `r` (the `\n` included).
fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
    consumed: &mut u64,
) -> io::Result<Option<Read>> {
    buf.clear();
    let mut total: u64 = 0;
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        total += chunk.len() as u64;
        if total <= cap as u64 {
            buf.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        *consumed += used as u64;
        if done.is_some() {
            break;
        }
    }
    Ok(match (any, total > cap as u64) {
        (false, _) => None,
        (true, false) => Some(Read::Line(std::mem::take(buf))),
        (true, true) => Some(Read::TooLong(total)),
    })
}

/// A scan of text lines on one pipeline, target and field.
pub struct Scan {
    pipeline: &'static dyn Pipeline,
    target: i64,
    /// The example operation moved to the target; each line goes into text `field`.
    template: OpValue,
    field: usize,
    database: Option<PgOptions>,
    session: Session,
    summary: Summary,
}

impl Scan {
    /// A scan on row `target` (which must exist in the fixture) through the
    /// first text field.
    pub fn new(pipeline: &'static dyn Pipeline, target: i64) -> crate::Result<Scan> {
        Scan::on(pipeline, Some(target), None, None)
    }

    /// A scan on the PostgreSQL server `database` when given, else on
    /// SQLite: each line goes into the text field named `field` (a path
    /// such as `/notes`, or its last part; default the first) of the
    /// harness's example operation, moved to row `target` (default the
    /// example's own: every number equal to the example's key is replaced).
    pub fn on(
        pipeline: &'static dyn Pipeline,
        target: Option<i64>,
        field: Option<&str>,
        database: Option<&PgOptions>,
    ) -> crate::Result<Scan> {
        let domain = pipeline.harness();
        let mut session = Session::open(domain, database)?;
        let mut template = domain.example();
        let example = policy_of(&mut session, &template)?;
        let key = match example.keys.first() {
            Some(Value::Integer(k)) => *k,
            _ => {
                return Err(crate::Error::Usage(format!(
                    "harness `{}`: its example operation has no integer target key",
                    domain.name()
                )))
            }
        };
        let target = target.unwrap_or(key);
        ops::replace_number(&mut template, key, target);
        let policy = policy_of(&mut session, &template)?;
        let exists = session.has_row(&policy.table, &policy.key_column, target)?;
        if !exists {
            return Err(crate::Error::Usage(format!(
                "{} {target} is not in the fixture ({} has no {} = {target})",
                policy.table, policy.table, policy.key_column
            )));
        }
        let fields = ops::text_fields(domain, &template);
        let field = match field {
            None if fields.is_empty() => {
                return Err(crate::Error::Usage(format!(
                    "harness `{}`: its example operation has no text field",
                    domain.name()
                )))
            }
            None => 0,
            Some(name) => fields
                .iter()
                .position(|f| f == name || f.rsplit('/').next() == Some(name))
                .ok_or_else(|| {
                    crate::Error::Usage(format!(
                        "no text field `{name}` (the fields are: {})",
                        fields.join(", ")
                    ))
                })?,
        };
        Ok(Scan {
            pipeline,
            target,
            template,
            field,
            database: database.cloned(),
            session,
            summary: Summary::default(),
        })
    }

    /// The counts so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The name of the text field lines go into (its last path part).
    fn field_name(&self) -> String {
        ops::text_fields(self.pipeline.harness(), &self.template)
            .get(self.field)
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
            .unwrap_or_default()
    }

    /// The op a line of text becomes.
    pub fn op(&self, text: &str) -> OpValue {
        let mut op = self.template.clone();
        if let Some(t) = ops::text_mut(self.pipeline.harness(), &mut op, self.field) {
            *t = text.to_string();
        }
        op
    }

    /// Checks one line (its bytes without the `\n`).
    pub fn line(&mut self, number: u64, bytes: &[u8]) -> LineReport {
        let report = match std::str::from_utf8(bytes) {
            Err(e) => LineReport::error(number, self.target, format!("not valid UTF-8: {e}")),
            Ok(text) => self.check(number, text),
        };
        self.summary.add(&report);
        report
    }

    fn check(&mut self, number: u64, text: &str) -> LineReport {
        let scenario = Scenario::of(vec![self.op(text)]);
        let execution = match execute(&mut self.session, self.pipeline, &scenario) {
            Ok(e) => e,
            Err(e) => {
                // The guard's own state may be broken: start the next line afresh.
                let message = match Session::open(self.pipeline.harness(), self.database.as_ref()) {
                    Ok(s) => {
                        self.session = s;
                        format!("the guard failed: {e}")
                    }
                    Err(again) => format!("the guard failed: {e}; rebuilding it failed: {again}"),
                };
                return LineReport::error(number, self.target, message);
            }
        };
        let kinds: Vec<Kind> = execution.kinds().into_iter().collect();
        LineReport {
            line: number,
            target: self.target,
            text: Some(text.to_string()),
            verdict: if kinds.is_empty() {
                LineVerdict::Clean
            } else {
                LineVerdict::Finding
            },
            kinds,
            statements: execution
                .statements()
                .map(|s| Sent {
                    sql: s.sql.clone(),
                    params: s.params.iter().map(param_json).collect(),
                    error: s.error.clone(),
                })
                .collect(),
            outside: execution
                .findings()
                .flat_map(|f| f.outside.iter().cloned())
                .collect(),
            error: None,
            field: self.field_name(),
        }
    }

    /// Scans every line of the file at `path` (`-` is standard input); see [`Scan::run`].
    pub fn run_file(
        &mut self,
        path: &Path,
        each: impl FnMut(&LineReport) -> io::Result<()>,
    ) -> crate::Result<()> {
        if path == Path::new("-") {
            return self.run(&mut io::stdin().lock(), path, each);
        }
        // a FIFO, a device or /proc is refused, checked on the handle (`-` reads a stream)
        let file = crate::tools::input::open_regular(path)?;
        let size = file
            .metadata()
            .map_err(|e| crate::Error::io(path, e))?
            .len();
        let mut input = io::BufReader::with_capacity(1 << 16, file);
        self.run_sized(&mut input, path, Some(size), each)
    }

    /// Scans every line of `input` (named `path` in errors), handing each
    /// report to `each` as soon as it is made. An input with no line at all
    /// is an error.
    pub fn run(
        &mut self,
        input: &mut impl BufRead,
        path: &Path,
        each: impl FnMut(&LineReport) -> io::Result<()>,
    ) -> crate::Result<()> {
        self.run_sized(input, path, None, each)
    }

    /// [`Scan::run`] on an input that held `size` bytes when opened: if it
    /// ends before that (the file was truncated while read), the cut-off last
    /// line is not scanned and the scan ends with an error (the reports
    /// already handed to `each` stand).
    fn run_sized(
        &mut self,
        input: &mut impl BufRead,
        path: &Path,
        size: Option<u64>,
        mut each: impl FnMut(&LineReport) -> io::Result<()>,
    ) -> crate::Result<()> {
        let mut buf = Vec::new();
        let mut number = 0u64;
        let mut consumed = 0u64;
        let io_err = |e| crate::Error::io(path, e);
        let shrank = |consumed: u64, size: u64, what: String| {
            crate::Error::io(
                path,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the file shrank while it was read ({consumed} of {size} bytes){what}"),
                ),
            )
        };
        while let Some(read) =
            read_line_capped(input, &mut buf, MAX_LINE, &mut consumed).map_err(io_err)?
        {
            number += 1;
            if let Some(n) = size.filter(|&n| consumed < n) {
                // at the end already, short of the size it had: it was cut
                if input.fill_buf().map_err(io_err)?.is_empty() {
                    return Err(shrank(
                        consumed,
                        n,
                        format!(": line {number}, the last read, may be cut and was not scanned"),
                    ));
                }
            }
            let report = match read {
                Read::Line(bytes) => {
                    let r = self.line(number, &bytes);
                    buf = bytes;
                    r
                }
                Read::TooLong(len) => {
                    let r = LineReport::error(
                        number,
                        self.target,
                        format!("line is {len} bytes; scan checks lines up to {MAX_LINE} bytes"),
                    );
                    self.summary.add(&r);
                    r
                }
            };
            each(&report).map_err(|e| crate::Error::io("output", e))?;
        }
        if number == 0 {
            return Err(crate::Error::Usage(format!(
                "{}: empty file, no line to scan",
                path.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<Result<Vec<u8>, u64>> {
        let mut r = io::BufReader::with_capacity(3, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(read) = read_line_capped(&mut r, &mut buf, cap, &mut 0).unwrap() {
            out.push(match read {
                Read::Line(l) => Ok(l),
                Read::TooLong(n) => Err(n),
            });
        }
        out
    }

    #[test]
    fn splits_on_newline_only_and_trims_nothing() {
        let ok = |s: &str| Ok(s.as_bytes().to_vec());
        assert_eq!(lines(b"a\nb", 100), vec![ok("a"), ok("b")]);
        assert_eq!(lines(b"a\nb\n", 100), vec![ok("a"), ok("b")]);
        assert_eq!(lines(b"\n", 100), vec![ok("")]);
        assert_eq!(lines(b"a\n\n", 100), vec![ok("a"), ok("")]);
        assert_eq!(
            lines(b" a\r\n\tb \x0b\n", 100),
            vec![ok(" a\r"), ok("\tb \x0b")]
        );
        assert_eq!(lines(b"", 100), vec![]);
    }

    #[test]
    fn long_lines_are_measured_not_kept() {
        let ok = |s: &str| Ok(s.as_bytes().to_vec());
        assert_eq!(
            lines(b"abcdefgh\nxy\n0123456789", 4),
            vec![Err(8), ok("xy"), Err(10)]
        );
        assert_eq!(lines(b"abcd\n", 4), vec![ok("abcd")]);
    }

    #[test]
    fn each_line_gets_a_verdict_and_the_summary_counts_them() {
        let legacy = crate::appointments::pipeline::by_name("legacy").unwrap();
        let mut scan = Scan::new(legacy, 7).unwrap();
        let mut seen = Vec::new();
        let input = b"O'Brien\nfine\nmoved'--\n\xff\xfe\n";
        scan.run(&mut &input[..], Path::new("t"), |r| {
            seen.push((r.line, r.verdict));
            Ok(())
        })
        .unwrap();
        use LineVerdict::*;
        assert_eq!(
            seen,
            vec![(1, Finding), (2, Clean), (3, Finding), (4, Error)]
        );
        let s = scan.summary();
        assert_eq!((s.lines, s.clean, s.findings, s.errors), (4, 1, 2, 1));
        assert_eq!(s.by_kind.get(&Kind::WriteOutsideTarget), Some(&1));
        assert_eq!(s.by_kind.get(&Kind::SqlError), Some(&1));
    }

    #[test]
    fn empty_input_and_unknown_targets_are_errors() {
        let safe = crate::appointments::pipeline::by_name("safe").unwrap();
        assert!(Scan::new(safe, 99_999).is_err());
        let mut scan = Scan::new(safe, 7).unwrap();
        assert!(scan.run(&mut &b""[..], Path::new("t"), |_| Ok(())).is_err());
    }

    #[test]
    fn a_line_as_long_as_the_cap_is_checked_and_clean_on_safe() {
        // MAX_LINE must stay within what the guard can log (see the module doc)
        let safe = crate::appointments::pipeline::by_name("safe").unwrap();
        let mut scan = Scan::new(safe, 7).unwrap();
        let mut line = vec![b'\''; MAX_LINE];
        line.push(b'\n');
        let mut verdicts = Vec::new();
        scan.run(&mut &line[..], Path::new("t"), |r| {
            verdicts.push((r.verdict, r.kinds.clone()));
            Ok(())
        })
        .unwrap();
        assert_eq!(verdicts, vec![(LineVerdict::Clean, vec![])]);
    }
}

//! Root causes: one bug, one row. Findings are distinct by kind and
//! statement shape, so one string-built statement gives a row per tail of
//! SQL the fuzzer writes after the quote, under several kinds; and one
//! quoting mistake shows at every place the app pastes text. A root cause
//! groups them by *what the user's text did*, and lists the *sites*: where
//! it did it (ClusterFuzz groups crashes by stack signature; rowguard knows
//! more).
//!
//! A finding's **site** (computed from the erased [`Domain`] and the op's
//! JSON only, never from a harness's names):
//! - **text** (the op's text left its literal at or before the statement
//!   of the finding): the op kind ([`ops::kind`]), the text field (its JSON
//!   path, [`ops::text_fields`]) and the template statement where the text
//!   left its literal: the placeholder run's statement at the first place
//!   the real statement's shape differs from it ([`OpRun::divergence`]),
//!   as a shape (literals abstracted), so neither the payload nor the seed
//!   changes it;
//! - **stored text** (the op's own text did not leave its literal, but text
//!   an earlier op of the input stored did: the same ops with every text a
//!   placeholder give another statement at or before the finding): the op
//!   kind, the field that stored it and that all-placeholder run's
//!   statement where the shapes part;
//! - **logic** (no text implicated: every statement up to the finding has
//!   the template's shape): the op kind, the template statement that made
//!   the finding and the tables it wrote.
//!
//! A finding's **signature** (its root cause) is what made it, not where:
//! - text: user text reached the SQL (one bug: the app builds SQL from
//!   text somewhere); stored text: text an earlier op stored did;
//! - logic: the op kind, the template statement and the tables, as the
//!   site (a logic slip is its statement).
//!
//! So a pipeline that pastes two fields into the statements of three ops
//! through one quoting mistake has one root cause, with its 7 sites listed;
//! two string-built places in one pipeline are one root cause with both
//! sites until one is fixed (as a crash signature hides a second crash
//! behind the first). Each site also says how its text did it ([`Escape`]:
//! the same input with every quote, backslash, NUL and typographic quote in
//! the implicated texts made a space makes no finding of that kind in that
//! op: `literal`; else `value`, as a reference or a path the text chose).
//!
//! Which field: the op is rerun alone with one text field real and the
//! others placeholders; the field whose run diverges first (document order
//! breaks ties) is the one; when none diverges alone, every text field
//! together (`/a+/b`). This costs a few executions per *distinct* finding,
//! never per input.
//!
//! The id is a 64-bit FNV-1a hash of the harness, the pipeline and the
//! signature's JSON: the same across runs, seeds, jobs and databases
//! (shapes are taken in SQLite's dialect).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::guard::static_check::{compiled_text, shape};
use crate::guard::{Dialect, Finding, Kind, StatementCheck};
use crate::harness::domain::{OpValue, Pipeline};
use crate::harness::execute::{execute, Execution, OpRun, Session};
use crate::harness::ops;
use crate::harness::scenario::Scenario;
use crate::tools::hash::content_hash;

/// Whether user text caused the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The text left its literal.
    Text,
    /// Text an earlier op stored left its literal in this op's statement.
    StoredText,
    /// No text implicated: a logic slip.
    Logic,
}

/// How the text did its harm (text and stored-text sites).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Escape {
    /// It left its SQL literal: without its quote-like characters, no finding.
    Literal,
    /// It stayed inside its literal and still chose what was written.
    Value,
}

/// Where a finding's cause sits (module doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Site {
    pub cause: Cause,
    /// The operation kind.
    pub op: String,
    /// The text field (JSON path, `/notes`; several joined by `+`; for
    /// stored text the field that stored it), text causes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The template statement's shape.
    pub statement: String,
    /// The tables the statement wrote, logic causes only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// How the text did its harm, text causes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<Escape>,
}

impl Site {
    /// The root cause this site belongs to.
    pub fn signature(&self) -> Signature {
        match self.cause {
            Cause::Text | Cause::StoredText => Signature {
                cause: self.cause,
                op: None,
                statement: None,
                tables: Vec::new(),
            },
            Cause::Logic => Signature {
                cause: Cause::Logic,
                op: Some(self.op.clone()),
                statement: Some(self.statement.clone()),
                tables: self.tables.clone(),
            },
        }
    }

    /// One line for a person.
    pub fn line(&self) -> String {
        let field = self.field.as_deref().unwrap_or("?");
        match self.cause {
            Cause::Text => format!("{} {field} in {}", self.op, self.statement),
            Cause::StoredText => format!(
                "{}: stored by {field}, pasted in {}",
                self.op, self.statement
            ),
            Cause::Logic => format!(
                "{}: {} wrote {}",
                self.op,
                self.statement,
                self.tables.join(", ")
            ),
        }
    }
}

/// What makes two findings one bug (module doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub cause: Cause,
    /// The operation kind, logic causes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The template statement's shape, logic causes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The tables the statement wrote, logic causes only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
}

impl Signature {
    /// The stable id: 16 hex digits hashing the harness, the pipeline and
    /// the signature (one repository's pipelines share no alert).
    pub fn id(&self, pipeline: &dyn Pipeline) -> String {
        let key = format!(
            "{}/{}/{}",
            pipeline.harness().name(),
            pipeline.name(),
            serde_json::to_string(self).unwrap_or_default()
        );
        content_hash(key.as_bytes())
    }

    /// One line for a person; `escapes`: how the text did it at its sites.
    pub fn line(&self, escapes: &BTreeSet<Escape>) -> String {
        let how = match (
            escapes.contains(&Escape::Literal),
            escapes.contains(&Escape::Value),
        ) {
            (false, true) => "stayed inside its literal and chose what was written",
            (true, true) => "left its literal (or, inside it, chose the statement)",
            _ => "left its literal",
        };
        match self.cause {
            Cause::Text => format!("user text {how}"),
            Cause::StoredText => format!("text stored earlier {how} where it was pasted"),
            Cause::Logic => format!(
                "no text implicated: {} {} wrote {}",
                self.op.as_deref().unwrap_or("?"),
                self.statement.as_deref().unwrap_or("?"),
                self.tables.join(", ")
            ),
        }
    }
}

/// A site of a root cause and the distinct findings made there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCount {
    #[serde(flatten)]
    pub site: Site,
    pub variants: usize,
}

/// One root cause of a run: its findings, and its shortest reproducer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// [`Signature::id`].
    pub id: String,
    pub signature: Signature,
    /// Kinds of the findings under it, in [`Kind::ALL`] order.
    pub kinds: Vec<Kind>,
    /// Distinct findings (kind + statement shape) under it.
    pub variants: usize,
    /// Where it showed, in the order found, with the distinct findings at each.
    #[serde(default)]
    pub sites: Vec<SiteCount>,
    /// Inputs that made one of them.
    pub inputs: u64,
    /// Seconds from the start of the run to the first.
    pub elapsed_s: f64,
    /// Executions up to and including the first.
    pub execs: u64,
    /// Its shortest reproducer: the minimized input when minimization ran,
    /// else the first finding's artifact.
    pub artifact: Option<PathBuf>,
    /// Whether `artifact` was minimized (same signature, fewer or shorter parts).
    #[serde(default)]
    pub minimized: bool,
    /// The command that replays `artifact` (filled in by the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repro: Option<String>,
    /// The first input that made it (what minimization starts from).
    #[serde(skip)]
    pub scenario: Scenario,
}

impl RootCause {
    /// Counts one more distinct finding at `site`.
    pub fn add(&mut self, site: Site) {
        self.variants += 1;
        match self.sites.iter_mut().find(|s| s.site == site) {
            Some(s) => s.variants += 1,
            None => self.sites.push(SiteCount { site, variants: 1 }),
        }
    }

    /// One line for a person: the signature, then its sites (the first
    /// three, then how many more).
    pub fn line(&self) -> String {
        let escapes = self.sites.iter().filter_map(|s| s.site.escape).collect();
        let mut line = self.signature.line(&escapes);
        if self.signature.cause == Cause::Logic {
            return line;
        }
        let shown: Vec<String> = self.sites.iter().take(3).map(|s| s.site.line()).collect();
        line.push_str(&format!(
            " at {} site(s): {}",
            self.sites.len(),
            shown.join("; ")
        ));
        if self.sites.len() > 3 {
            line.push_str(&format!("; and {} more", self.sites.len() - 3));
        }
        line
    }
}

/// Normalised template statement: its shape in SQLite's dialect (the same
/// text gives the same signature on every database).
fn normal(sql: &str) -> String {
    shape(compiled_text(sql).0, Dialect::Sqlite)
}

/// The tables `s` wrote: those of `f`'s blast radius, else the writes of its
/// authorizer trace (`update appointments.notes`).
fn tables(s: &StatementCheck, f: &Finding) -> Vec<String> {
    let mut out: BTreeSet<String> = f.outside.iter().map(|c| c.table.to_string()).collect();
    if out.is_empty() {
        out = s
            .accesses
            .iter()
            .filter_map(|a| {
                let (verb, rest) = a.split_once(' ')?;
                matches!(verb, "insert" | "update" | "delete")
                    .then(|| rest.split('.').next().unwrap_or(rest).to_string())
            })
            .collect();
    }
    out.into_iter().collect()
}

/// The text field(s) whose text left its literal in `op` (module doc).
fn field(session: &mut Session, pipeline: &dyn Pipeline, op: &OpValue) -> crate::Result<String> {
    let domain = pipeline.harness();
    let fields = ops::text_fields(domain, op);
    if fields.len() < 2 {
        return Ok(fields.into_iter().next().unwrap_or_else(|| "-".into()));
    }
    let texts: Vec<String> = ops::texts(domain, op)
        .into_iter()
        .map(String::from)
        .collect();
    let mut best: Option<(usize, usize)> = None;
    for j in 0..fields.len() {
        let mut alone = ops::placeholder(domain, op);
        if let (Some(t), Some(real)) = (ops::text_mut(domain, &mut alone, j), texts.get(j)) {
            t.clone_from(real);
        }
        let e = execute(session, pipeline, &Scenario { ops: vec![alone] })?;
        if let Some(d) = e.ops.first().and_then(OpRun::divergence) {
            if best.is_none_or(|(at, _)| d < at) {
                best = Some((d, j));
            }
        }
    }
    Ok(match best {
        Some((_, j)) => fields[j].clone(),
        None => fields.join("+"),
    })
}

/// The site of finding `f` on statement `k` of op `i` of `e`.
pub fn site(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    e: &Execution,
    i: usize,
    k: usize,
    f: &Finding,
) -> crate::Result<Site> {
    let run = &e.ops[i];
    let op = ops::kind(pipeline.harness(), &run.op);
    let template = |at: usize| {
        run.template_sql
            .get(at)
            .map(|sql| normal(sql))
            .unwrap_or_else(|| ABSENT.into())
    };
    if let Some(d) = run.divergence().filter(|d| *d <= k) {
        return Ok(Site {
            cause: Cause::Text,
            op,
            field: Some(field(session, pipeline, &run.op)?),
            statement: template(d),
            tables: Vec::new(),
            escape: Some(escape(session, pipeline, e, i..i + 1, i, f.kind)?),
        });
    }
    if let Some((field, statement)) = stored(session, pipeline, e, i, k)? {
        return Ok(Site {
            cause: Cause::StoredText,
            op,
            field: Some(field),
            statement,
            tables: Vec::new(),
            escape: Some(escape(session, pipeline, e, 0..i, i, f.kind)?),
        });
    }
    Ok(Site {
        cause: Cause::Logic,
        op,
        field: None,
        statement: template(k),
        tables: run
            .statements
            .get(k)
            .map_or_else(Vec::new, |s| tables(s, f)),
        escape: None,
    })
}

/// Characters that can end or escape a SQL literal, in any dialect or
/// after a fold: quotes, backticks, backslashes, NUL, and the typographic
/// and fullwidth look-alikes a normaliser turns into them.
fn quote_like(c: char) -> bool {
    matches!(
        c,
        '\'' | '"' | '`' | '\\' | '\0'
            | '\u{00B4}'
            | '\u{02B9}'..='\u{02BD}'
            | '\u{02C8}'
            | '\u{055A}'
            | '\u{05F3}'
            | '\u{05F4}'
            | '\u{2018}'..='\u{201F}'
            | '\u{2032}'..='\u{2037}'
            | '\u{2216}'
            | '\u{A78B}'
            | '\u{A78C}'
            | '\u{FE68}'
            | '\u{FF02}'
            | '\u{FF07}'
            | '\u{FF3C}'
            | '\u{FF40}'
    )
}

/// How the texts of the ops in `texts` did their harm in op `i`: the input
/// (up to op `i`) is rerun with every quote-like character in those texts
/// made a space (lengths kept); when op `i` still makes a finding of
/// `kind`, the text did it from inside its literal.
fn escape(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    e: &Execution,
    texts: std::ops::Range<usize>,
    i: usize,
    kind: Kind,
) -> crate::Result<Escape> {
    let domain = pipeline.harness();
    let mut ops: Vec<OpValue> = e.ops[..=i].iter().map(|r| r.op.clone()).collect();
    for op in ops.iter_mut().take(texts.end).skip(texts.start) {
        ops::for_each_text(domain, op, |_, s| {
            if s.chars().any(quote_like) {
                *s = s
                    .chars()
                    .map(|c| if quote_like(c) { ' ' } else { c })
                    .collect();
            }
        });
    }
    let r = execute(session, pipeline, &Scenario { ops })?;
    let harm = r.ops.get(i).is_some_and(|run| {
        run.statements
            .iter()
            .any(|s| s.findings.iter().any(|g| g.kind == kind))
    });
    Ok(if harm { Escape::Value } else { Escape::Literal })
}

/// What a template run has no statement for.
const ABSENT: &str = "<a statement the template does not make>";

/// Where the statements of `real` first differ in shape from `base`'s.
fn parts(real: &OpRun, base: &OpRun) -> Option<usize> {
    real.statements
        .iter()
        .enumerate()
        .find(|(j, s)| base.statements.get(*j).map(|b| &b.shape) != Some(&s.shape))
        .map(|(j, _)| j)
}

/// Whether text an earlier op of `e` stored left its literal in op `i` at
/// or before statement `k`: op `i` runs otherwise after the same ops with
/// every text a placeholder. Then the storing field (of the earlier op
/// whose text in it alone makes op `i` part soonest; document order breaks
/// ties) and the all-placeholder statement where they part.
fn stored(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    e: &Execution,
    i: usize,
    k: usize,
) -> crate::Result<Option<(String, String)>> {
    if i == 0 {
        return Ok(None);
    }
    let domain = pipeline.harness();
    let blank: Vec<OpValue> = e.ops[..=i]
        .iter()
        .map(|r| ops::placeholder(domain, &r.op))
        .collect();
    let base = execute(session, pipeline, &Scenario { ops: blank.clone() })?;
    let Some(b) = base.ops.get(i) else {
        return Ok(None);
    };
    let Some(d) = parts(&e.ops[i], b).filter(|d| *d <= k) else {
        return Ok(None);
    };
    let statement = b
        .statements
        .get(d)
        .map_or_else(|| ABSENT.to_string(), |s| normal(&s.sql));
    // one earlier text real at a time; then, when no single one does it,
    // texts made real in document order, cumulatively: the field whose
    // text completes what op `i` pastes
    let mut best: Option<(usize, String)> = None;
    for cumulative in [false, true] {
        let mut try_ops = blank.clone();
        for (j, earlier) in e.ops[..i].iter().enumerate() {
            let texts = ops::texts(domain, &earlier.op);
            for (n, name) in ops::text_fields(domain, &earlier.op).iter().enumerate() {
                if !cumulative {
                    try_ops = blank.clone();
                }
                let real = texts.get(n).map(|t| t.to_string());
                if let (Some(t), Some(real)) = (ops::text_mut(domain, &mut try_ops[j], n), real) {
                    *t = real;
                }
                let r = execute(
                    session,
                    pipeline,
                    &Scenario {
                        ops: try_ops.clone(),
                    },
                )?;
                let at = r.ops.get(i).and_then(|ri| parts(ri, b));
                if let Some(at) = at.filter(|at| best.as_ref().is_none_or(|(b, _)| at < b)) {
                    best = Some((at, name.clone()));
                }
                if cumulative && best.is_some() {
                    break;
                }
            }
            if cumulative && best.is_some() {
                break;
            }
        }
        if best.is_some() {
            break;
        }
    }
    let field = best.map_or_else(|| "-".to_string(), |(_, f)| f);
    Ok(Some((field, statement)))
}

/// Whether `e` makes a finding of one of `kinds` with signature `wanted`
/// (what a root cause's minimization keeps).
pub fn makes(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    e: &Execution,
    kinds: &BTreeSet<Kind>,
    wanted: &Signature,
) -> crate::Result<bool> {
    for (i, run) in e.ops.iter().enumerate() {
        if wanted
            .op
            .as_ref()
            .is_some_and(|op| *op != ops::kind(pipeline.harness(), &run.op))
        {
            continue;
        }
        for (k, s) in run.statements.iter().enumerate() {
            for f in s.findings.iter().filter(|f| kinds.contains(&f.kind)) {
                if site(session, pipeline, e, i, k, f)?.signature() == *wanted {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

//! Root causes: one bug, one row. Findings are distinct by kind and
//! statement shape, so one string-built statement gives a row per tail of
//! SQL the fuzzer writes after the quote, under several kinds. A root
//! cause groups them by *where the user's text left its literal*
//! (ClusterFuzz groups crashes by stack signature; rowguard knows more).
//!
//! The signature of a finding (contract, `NOTE-25.md`; computed from the
//! erased [`Domain`] and the op's JSON only, never from a harness's names):
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
//!   kind, the field that stored it (its path: whichever earlier op stored
//!   the text, the bug is where it is pasted) and that all-placeholder
//!   run's statement where the shapes part, as a shape;
//! - **logic** (no text implicated: every statement up to the finding has
//!   the template's shape, so placeholder text gives the same statements):
//!   the op kind, the template statement that made the finding and the
//!   tables it wrote (outside the policy when it is a write finding, else
//!   the tables its authorizer trace writes).
//!
//! Which field: the op is rerun alone with one text field real and the
//! others placeholders; the field whose run diverges first (document order
//! breaks ties) is the one; when none diverges alone, every text field
//! together (`/a+/b`). This costs one execution per text field per
//! *distinct* finding, never per input.
//!
//! The id is a 64-bit FNV-1a hash of the signature's JSON: the same across
//! runs, seeds, jobs and databases (shapes are taken in SQLite's dialect).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::guard::static_check::{compiled_text, shape};
use crate::guard::{Dialect, Finding, Kind, StatementCheck};
use crate::harness::domain::{OpValue, Pipeline};
use crate::harness::execute::{execute, Execution, OpRun, Session};
use crate::harness::ops;
use crate::harness::scenario::Scenario;
use crate::tools::engine::artifacts::content_hash;

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

/// What makes two findings one bug (module doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
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
}

impl Signature {
    /// The stable id: 16 hex digits hashing the signature.
    pub fn id(&self) -> String {
        content_hash(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// One line for a person.
    pub fn line(&self) -> String {
        match self.cause {
            Cause::Text => format!(
                "{} {}: text left its literal in {}",
                self.op,
                self.field.as_deref().unwrap_or("?"),
                self.statement
            ),
            Cause::StoredText => format!(
                "{}: text stored in {} left its literal in {}",
                self.op,
                self.field.as_deref().unwrap_or("?"),
                self.statement
            ),
            Cause::Logic => format!(
                "{}: no text implicated; {} wrote {}",
                self.op,
                self.statement,
                self.tables.join(", ")
            ),
        }
    }
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

/// The signature of finding `f` on statement `k` of op `i` of `e`.
pub fn signature(
    session: &mut Session,
    pipeline: &dyn Pipeline,
    e: &Execution,
    i: usize,
    k: usize,
    f: &Finding,
) -> crate::Result<Signature> {
    let run = &e.ops[i];
    let op = ops::kind(pipeline.harness(), &run.op);
    let template = |at: usize| {
        run.template_sql
            .get(at)
            .map(|sql| normal(sql))
            .unwrap_or_else(|| ABSENT.into())
    };
    if let Some(d) = run.divergence().filter(|d| *d <= k) {
        return Ok(Signature {
            cause: Cause::Text,
            op,
            field: Some(field(session, pipeline, &run.op)?),
            statement: template(d),
            tables: Vec::new(),
        });
    }
    if let Some((field, statement)) = stored(session, pipeline, e, i, k)? {
        return Ok(Signature {
            cause: Cause::StoredText,
            op,
            field: Some(field),
            statement,
            tables: Vec::new(),
        });
    }
    Ok(Signature {
        cause: Cause::Logic,
        op,
        field: None,
        statement: template(k),
        tables: run
            .statements
            .get(k)
            .map_or_else(Vec::new, |s| tables(s, f)),
    })
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
        if ops::kind(pipeline.harness(), &run.op) != wanted.op {
            continue;
        }
        for (k, s) in run.statements.iter().enumerate() {
            for f in s.findings.iter().filter(|f| kinds.contains(&f.kind)) {
                if signature(session, pipeline, e, i, k, f)? == *wanted {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

//! The static layer: what the statement text alone proves, with sqlparser.
//!
//! It reads exactly the text SQLite compiles (cut at the first NUL), and
//! reports: several statements in one string; DDL (`schema-change`);
//! transaction control, PRAGMA, ATTACH/DETACH, VACUUM, `load_extension` and
//! writes to tables or columns the policy does not name (`forbidden-action`);
//! a statement shape different from the template's (`shape-changed`), or,
//! without a template, a write whose values read other rows through a
//! subquery. It never reports `write-outside-target`: only observed changes
//! do. Text sqlparser cannot parse gets no static verdict (SQLite decides).
//!
//! A shape is the syntax tree with every literal and parameter replaced by
//! `?`; when the text does not parse, the token stream with literals
//! replaced, comments and whitespace dropped.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, visit_expressions_mut, AssignmentTarget, Expr, FromTable, ObjectName,
    OnConflict, OnConflictAction, OnInsert, Statement, TableFactor, TableObject, Value,
    ValueWithSpan, Visit,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::{Kind, Policy};

/// The SQL dialect the static layer parses with (the dynamic layer is always SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    /// SQLite (the dialect the dynamic layer runs).
    Sqlite,
    /// MySQL, for the static layer only.
    Mysql,
    /// PostgreSQL, for the static layer only.
    Postgres,
}

impl Dialect {
    fn parser_dialect(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Dialect::Sqlite => Box::new(SQLiteDialect {}),
            Dialect::Mysql => Box::new(MySqlDialect {}),
            Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        }
    }
}

/// Recursion limit for sqlparser: deep nesting is an error, never a stack overflow.
/// (A parenthesis level costs one unit, a subquery level about three.)
const RECURSION_LIMIT: usize = 96;

/// The text SQLite compiles (up to the first NUL) and the tail it ignores.
pub fn compiled_text(sql: &str) -> (&str, Option<&str>) {
    match sql.find('\0') {
        Some(i) => (&sql[..i], Some(&sql[i..])),
        None => (sql, None),
    }
}

/// What a statement can write, as the text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticWrite {
    /// Insert, update or delete.
    pub op: WriteOp,
    /// The table written.
    pub table: String,
    /// Columns it assigns; empty means every column (INSERT without a list, DELETE).
    pub columns: Vec<String>,
    /// INSERT OR REPLACE / REPLACE INTO / UPSERT may delete or rewrite a conflicting row.
    pub replaces: bool,
}

/// The statement kind of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WriteOp {
    /// `INSERT` (and `REPLACE`'s insert).
    Insert,
    /// `UPDATE` (and an upsert's update).
    Update,
    /// `DELETE` (and `REPLACE`'s conflict delete).
    Delete,
}

/// The static layer's view of one SQL string.
#[derive(Debug, Clone, Default)]
pub struct StaticView {
    /// Statements parsed; `None` when sqlparser could not parse the text.
    pub statements: Option<usize>,
    /// The statement's syntax tree with literals abstracted.
    pub shape: String,
    /// Every write the text names.
    pub writes: Vec<StaticWrite>,
    /// What the text alone proves, with a message each.
    pub findings: Vec<(Kind, String)>,
}

/// Deepest operator chain a text may hold for sqlparser to parse it.
/// sqlparser's recursion limit bounds nesting, not a left-deep chain
/// (`1 + 1 + ...`, `1 XOR 1 XOR ...`, `SELECT 1 UNION SELECT 1 ...`,
/// `x::t::t`), which it builds in a loop into a tree whose every later walk
/// (clone, print, drop: derived code that sqlparser's stack protection does
/// not cover) recurses once per operator. Which words are infix operators
/// depends on the dialect (`XOR`, `DIV`, `MOD`, `ILIKE`, `OVERLAPS`,
/// `AT TIME ZONE`, ...), so every keyword and every symbol other than `,`
/// `;` `(` `)` `.` counts as one: an upper bound on any chain's depth in
/// every dialect. What is bounded is depth, not size: the count restarts at
/// every `,` (list items are siblings: a 10,000-id `IN` list or a long
/// `VALUES` list is flat) and at `WHEN`/`THEN`/`ELSE` (the branches of a
/// `CASE` are siblings too), and the depth at a token is its chain's count
/// plus the counts of every enclosing parenthesis or `CASE`, plus one per
/// level. SQLite itself stops expressions deeper than 200 (the guard's
/// `SQLITE_LIMIT_EXPR_DEPTH`).
pub const MAX_OPERATORS: usize = 200;
/// Deepest nesting of parentheses and `CASE` parsed (ordinary generated
/// SQL nests 40 deep; sqlparser stops at `RECURSION_LIMIT` too).
pub const MAX_NESTING: usize = 64;
/// Longest text (bytes) the static layer tokenizes: tokens cost ~100 bytes
/// each, so a megabyte of `;` is ~100 MB before any tree is built.
pub const MAX_STATIC_LENGTH: usize = 1 << 20;
/// Most tokens (whitespace and comments excluded) the static layer parses:
/// a flat list item's tree is a few hundred bytes, so this bounds the tree
/// at tens of MB while a 10,000-id `IN` list (20,000 tokens) or a
/// 10,000-row `VALUES` list stays clean.
pub const MAX_TOKENS: usize = 200_000;
/// Most statements in one string the static layer parses (one tree each).
pub const MAX_STATEMENTS: usize = 64;

/// Set operators chain whole queries, whose walk frames are far larger:
/// each counts this many times (150 of them overflow a 2 MB debug stack).
const SET_OPERATOR_WEIGHT: usize = 3;

/// Stack the static layer's tree work needs at most under the limits above;
/// a thread with less left runs it on a fresh stack segment of [`STACK`].
const RED_ZONE: usize = 4 << 20;
const STACK: usize = 16 << 20;

/// A static-layer limit an input went past: the text is not parsed, and the
/// statement gets a `resource-limit` finding that names the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit {
    /// The limit's name, as in the finding: `static-length`, `tokens`,
    /// `statements`, `operators` or `nesting`.
    pub name: &'static str,
    /// The limit's value.
    pub limit: usize,
    /// What the text had.
    pub found: usize,
}

impl LimitHit {
    /// The finding's message, naming the limit.
    pub fn message(&self) -> String {
        format!(
            "static layer limit `{}` reached: {} > {}; the text was not parsed",
            self.name, self.found, self.limit
        )
    }
}

/// Why a text has no syntax tree.
#[derive(Debug, Clone, PartialEq)]
enum Unparsed {
    /// Past a limit, checked before parsing.
    Limit(LimitHit),
    /// sqlparser could not parse it (or tokenize it: `None` tokens).
    Error,
}

fn tokenize(sql: &str, dialect: Dialect) -> Option<Vec<Token>> {
    if sql.len() > MAX_STATIC_LENGTH {
        return None;
    }
    Tokenizer::new(dialect.parser_dialect().as_ref(), sql)
        .tokenize()
        .ok()
}

/// The limits checked on the token stream before parsing: length first
/// (before any token is made), then statements, tokens, nesting, operators.
fn check_limits(sql: &str, tokens: Option<&[Token]>) -> Result<(), LimitHit> {
    let hit = |name, limit, found| Err(LimitHit { name, limit, found });
    if sql.len() > MAX_STATIC_LENGTH {
        return hit("static-length", MAX_STATIC_LENGTH, sql.len());
    }
    let Some(tokens) = tokens else {
        return Ok(());
    };
    let solid = || {
        tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
    };
    let mut statements = 0;
    let mut in_statement = false;
    // open parentheses (false) and CASEs (true), each with the depth and
    // chain count of its parent when it opened
    let mut open: Vec<(bool, usize, usize)> = Vec::new();
    let (mut base, mut chain, mut deepest_chain, mut deepest) = (0usize, 0usize, 0usize, 0usize);
    for t in solid() {
        if !matches!(t, Token::SemiColon) && !in_statement {
            in_statement = true;
            statements += 1;
        }
        let keyword = match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
            _ => None,
        };
        let opens = matches!(t, Token::LParen) || keyword == Some(Keyword::CASE);
        let case_ends = keyword == Some(Keyword::END) && open.last().is_some_and(|o| o.0);
        if opens {
            open.push((!matches!(t, Token::LParen), base, chain));
            base += chain + 1;
            chain = 0;
            deepest = deepest.max(open.len());
            continue;
        }
        if matches!(t, Token::RParen) || case_ends {
            // a `)` also closes the CASEs left open inside it
            while let Some(o) = open.pop() {
                (base, chain) = (o.1, o.2);
                if !o.0 || case_ends {
                    break;
                }
            }
            continue;
        }
        chain += match t {
            Token::SemiColon => {
                in_statement = false;
                open.clear();
                base = 0;
                chain = 0;
                0
            }
            Token::Comma => {
                chain = 0;
                0
            }
            _ if matches!(keyword, Some(Keyword::WHEN | Keyword::THEN | Keyword::ELSE)) => {
                chain = 0;
                0
            }
            Token::Period
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::Placeholder(_) => 0,
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                if matches!(
                    w.keyword,
                    Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT
                ) {
                    SET_OPERATOR_WEIGHT
                } else {
                    1
                }
            }
            Token::Word(_) => 0,
            _ => 1,
        };
        deepest_chain = deepest_chain.max(base + chain);
    }
    if statements > MAX_STATEMENTS {
        return hit("statements", MAX_STATEMENTS, statements);
    }
    let count = solid().count();
    if count > MAX_TOKENS {
        return hit("tokens", MAX_TOKENS, count);
    }
    if deepest > MAX_NESTING {
        return hit("nesting", MAX_NESTING, deepest);
    }
    if deepest_chain > MAX_OPERATORS {
        return hit("operators", MAX_OPERATORS, deepest_chain);
    }
    Ok(())
}

fn parse_tokens(
    sql: &str,
    tokens: Option<&[Token]>,
    dialect: Dialect,
) -> Result<Vec<Statement>, Unparsed> {
    check_limits(sql, tokens).map_err(Unparsed::Limit)?;
    if tokens.is_none() {
        return Err(Unparsed::Error);
    }
    let d = dialect.parser_dialect();
    Parser::new(d.as_ref())
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|_| Unparsed::Error)
}

/// Runs tree work where a tree within the limits cannot overflow the stack.
fn on_big_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(RED_ZONE, STACK, f)
}

/// Parses SQLite text with the guard's limits (`None` if it does not parse
/// or is past a limit).
pub fn parse_sqlite(sql: &str) -> Option<Vec<Statement>> {
    let tokens = tokenize(sql, Dialect::Sqlite);
    parse_tokens(sql, tokens.as_deref(), Dialect::Sqlite).ok()
}

/// The shape of `sql` (already cut at NUL).
pub fn shape(sql: &str, dialect: Dialect) -> String {
    let (sql, prefixes) = server_statements(sql, dialect);
    on_big_stack(|| {
        let tokens = tokenize(&sql, dialect);
        let shape = match parse_tokens(&sql, tokens.as_deref(), dialect) {
            Ok(stmts) => tree_shape(stmts),
            Err(u) => unparsed_shape(&u, tokens.as_deref()),
        };
        prefixed_shape(&prefixes, shape)
    })
}

/// MariaDB/MySQL: the statements as the server runs them, and the settings
/// of each `SET STATEMENT ... FOR` prefix. Executable comments (`/*! */`,
/// `/*!50000 */`, `/*M!100000 */`) are unwrapped, whatever version they
/// name, and each `SET STATEMENT settings FOR` prefix is blanked so the
/// statement after it is judged as any other; the settings are reported on
/// their own. Other dialects: the text as it is.
fn server_statements(sql: &str, dialect: Dialect) -> (std::borrow::Cow<'_, str>, Vec<String>) {
    use crate::dialect::mysql as lex;
    if dialect != Dialect::Mysql {
        return (std::borrow::Cow::Borrowed(sql), Vec::new());
    }
    let text = lex::server_text(sql);
    let mut blank: Vec<(usize, usize)> = Vec::new();
    let mut prefixes = Vec::new();
    for stmt in lex::statements(&text) {
        let mut at = stmt.as_ptr() as usize - text.as_ptr() as usize;
        let mut rest = stmt;
        // `SET STATEMENT a = 1 FOR SET STATEMENT b = 2 FOR ...`: every prefix.
        while let Some((len, settings)) = lex::set_statement(rest) {
            blank.push((at, at + len));
            prefixes.push(settings.to_string());
            at += len;
            rest = &rest[len..];
        }
    }
    if blank.is_empty() {
        return (text, prefixes);
    }
    let mut out = text.into_owned();
    for (a, b) in blank {
        out.replace_range(a..b, &" ".repeat(b - a));
    }
    (std::borrow::Cow::Owned(out), prefixes)
}

/// A shape with its `SET STATEMENT` prefixes in front (their settings, not
/// their values, are part of it).
fn prefixed_shape(prefixes: &[String], shape: String) -> String {
    if prefixes.is_empty() {
        return shape;
    }
    let names: Vec<String> = prefixes
        .iter()
        .map(|p| {
            p.split(',')
                .filter_map(|a| {
                    a.split_once('=')
                        .map(|(n, _)| n.trim().to_ascii_lowercase())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    format!("SET STATEMENT {} FOR {shape}", names.join(" / "))
}

/// The shape of text with no tree: its tokens, or the limit it went past
/// when even the tokens are too many to keep.
fn unparsed_shape(u: &Unparsed, tokens: Option<&[Token]>) -> String {
    match (u, tokens) {
        (Unparsed::Limit(hit), _) if matches!(hit.name, "static-length" | "tokens") => {
            format!("<not analysed: {} over {}>", hit.name, hit.limit)
        }
        (_, Some(tokens)) => token_shape(tokens),
        (_, None) => "<untokenizable>".to_string(),
    }
}

fn tree_shape(mut stmts: Vec<Statement>) -> String {
    let _ = visit_expressions_mut(&mut stmts, |e: &mut Expr| {
        if let Expr::Value(ValueWithSpan { value, .. }) = e {
            *value = Value::Placeholder("?".into());
        }
        ControlFlow::<()>::Continue(())
    });
    stmts
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn token_shape(tokens: &[Token]) -> String {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Whitespace(_) | Token::EOF => None,
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::Placeholder(_) => Some("?".to_string()),
            // Keywords are structure; any other word of text that does not
            // parse is as likely the input's own prose as a name, so it is
            // abstracted like a literal (one shape per broken structure).
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                Some(w.value.to_ascii_uppercase())
            }
            Token::Word(_) => Some("w".to_string()),
            other => Some(other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn table_name(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| {
            p.to_string()
                .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn column_name(name: &ObjectName) -> String {
    table_name(name)
}

fn factor_name(f: &TableFactor) -> String {
    match f {
        TableFactor::Table { name, .. } => table_name(name),
        other => other.to_string().to_ascii_lowercase(),
    }
}

/// Counts the queries (SELECTs, VALUES lists) nested anywhere in a node.
struct Queries(usize);

impl sqlparser::ast::Visitor for Queries {
    type Break = ();
    fn pre_visit_query(&mut self, _: &sqlparser::ast::Query) -> ControlFlow<()> {
        self.0 += 1;
        ControlFlow::Continue(())
    }
}

fn queries<V: sqlparser::ast::Visit>(v: &V) -> usize {
    let mut q = Queries(0);
    let _ = v.visit(&mut q);
    q.0
}

/// Whether the values a write stores come from a query of other rows.
fn reads_other_rows(stmt: &Statement) -> bool {
    match stmt {
        Statement::Update(u) => {
            u.assignments.iter().any(|a| queries(&a.value) > 0) || u.from.is_some()
        }
        Statement::Insert(i) => i.source.as_ref().is_some_and(|src| {
            !matches!(*src.body, sqlparser::ast::SetExpr::Values(_)) || queries(src) > 1
        }),
        _ => false,
    }
}

fn calls_forbidden_function<V: sqlparser::ast::Visit>(v: &V) -> Option<String> {
    let mut found = None;
    let _ = visit_expressions(v, |e: &Expr| {
        if let Expr::Function(f) = e {
            let name = table_name(&f.name);
            if FORBIDDEN_FUNCTIONS.contains(&name.as_str()) {
                found = Some(name);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    found
}

/// Functions no generated statement may call.
pub const FORBIDDEN_FUNCTIONS: [&str; 2] = ["load_extension", "fts3_tokenizer"];

const SCHEMA_WORDS: [&str; 3] = ["CREATE", "DROP", "ALTER"];

fn assigned_columns(assignments: &[sqlparser::ast::Assignment]) -> Vec<String> {
    let mut columns = Vec::new();
    for a in assignments {
        match &a.target {
            AssignmentTarget::ColumnName(n) => columns.push(column_name(n)),
            AssignmentTarget::Tuple(ns) => columns.extend(ns.iter().map(column_name)),
        }
    }
    columns
}

/// The writes of one INSERT, UPDATE or DELETE node (not of nested ones).
fn dml_writes(stmt: &Statement) -> Vec<StaticWrite> {
    match stmt {
        Statement::Insert(i) => {
            let table = match &i.table {
                TableObject::TableName(n) => table_name(n),
                other => other.to_string(),
            };
            let replaces = i.replace_into || i.or.is_some() || i.on.is_some();
            let mut columns: Vec<String> = i.columns.iter().map(column_name).collect();
            // MySQL `INSERT ... SET a = 1` names its columns in assignments.
            columns.extend(assigned_columns(&i.assignments));
            let mut out = vec![StaticWrite {
                op: WriteOp::Insert,
                table: table.clone(),
                columns,
                replaces,
            }];
            // An UPSERT's DO UPDATE (or MySQL's ON DUPLICATE KEY UPDATE)
            // rewrites the conflicting row: an update of its own columns.
            let upsert = match &i.on {
                Some(OnInsert::DuplicateKeyUpdate(a)) => Some(a),
                Some(OnInsert::OnConflict(OnConflict {
                    action: OnConflictAction::DoUpdate(d),
                    ..
                })) => Some(&d.assignments),
                _ => None,
            };
            if let Some(assignments) = upsert {
                out.push(StaticWrite {
                    op: WriteOp::Update,
                    table,
                    columns: assigned_columns(assignments),
                    replaces: false,
                });
            }
            out
        }
        Statement::Update(u) => vec![StaticWrite {
            op: WriteOp::Update,
            table: factor_name(&u.table.relation),
            columns: assigned_columns(&u.assignments),
            replaces: u.or.is_some(),
        }],
        Statement::Delete(d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let mut tables: Vec<String> = d.tables.iter().map(table_name).collect();
            if tables.is_empty() {
                tables.extend(from.first().map(|t| factor_name(&t.relation)));
            }
            tables
                .into_iter()
                .map(|table| StaticWrite {
                    op: WriteOp::Delete,
                    table,
                    columns: Vec::new(),
                    replaces: false,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Collects the writes of every DML node in a tree: `WITH c AS (..) UPDATE`
/// parses as a query whose body is an UPDATE.
struct Writes(Vec<StaticWrite>);

impl sqlparser::ast::Visitor for Writes {
    type Break = ();
    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<()> {
        self.0.extend(dml_writes(stmt));
        ControlFlow::Continue(())
    }
}

/// Every write a statement tree names, nested ones included.
pub fn writes_of(stmt: &Statement) -> Vec<StaticWrite> {
    let mut w = Writes(Vec::new());
    let _ = stmt.visit(&mut w);
    w.0
}

/// A statement's effect, from its tree.
fn classify(stmt: &Statement) -> Result<Vec<StaticWrite>, (Kind, String)> {
    match stmt {
        Statement::Query(_)
        | Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_) => Ok(writes_of(stmt)),
        other => {
            let text = other.to_string();
            let word = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            Err((
                word_kind(&word).unwrap_or(Kind::ForbiddenAction),
                format!(
                    "`{word}` statement is never allowed: {}",
                    text.chars().take(60).collect::<String>()
                ),
            ))
        }
    }
}

/// Statement-leading keywords that are never allowed, and their kind.
fn word_kind(word: &str) -> Option<Kind> {
    const FORBIDDEN: [&str; 12] = [
        "ATTACH",
        "DETACH",
        "PRAGMA",
        "VACUUM",
        "BEGIN",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "REINDEX",
        "ANALYZE",
    ];
    if SCHEMA_WORDS.contains(&word) {
        Some(Kind::SchemaChange)
    } else if FORBIDDEN.contains(&word) {
        Some(Kind::ForbiddenAction)
    } else {
        None
    }
}

/// For text sqlparser cannot parse: the first keyword of each statement, as
/// SQLite splits them (at `;` tokens). `EXPLAIN [QUERY PLAN]` is skipped.
fn leading_words(tokens: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    let mut first: Option<String> = None;
    let mut in_statement = false;
    for t in tokens {
        match t {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => {
                if in_statement {
                    out.push(first.take().unwrap_or_default());
                }
                in_statement = false;
            }
            Token::Word(w) if first.is_none() => {
                let up = w.value.to_ascii_uppercase();
                in_statement = true;
                if !(w.quote_style.is_none() && ["EXPLAIN", "QUERY", "PLAN"].contains(&up.as_str()))
                {
                    first = Some(up);
                }
            }
            _ => {
                in_statement = true;
                first.get_or_insert_with(String::new);
            }
        }
    }
    if in_statement {
        out.push(first.unwrap_or_default());
    }
    out
}

/// Checks one write against the policy's tables and columns.
fn policy_findings(w: &StaticWrite, policy: &Policy) -> Option<String> {
    let table = w.table.rsplit('.').next().unwrap_or(&w.table);
    if table.eq_ignore_ascii_case(&policy.table) {
        if w.op != WriteOp::Update || w.replaces {
            return Some(format!(
                "inserts or deletes whole rows of `{table}`, which the policy only updates"
            ));
        }
        let outside: Vec<&String> = w
            .columns
            .iter()
            .filter(|c| !policy.writable.iter().any(|p| p.eq_ignore_ascii_case(c)))
            .collect();
        return (!outside.is_empty()).then(|| {
            format!(
                "writes `{table}` column(s) {} outside the policy",
                outside
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    let allowed = policy.side_effects.iter().any(|s| {
        s.table.eq_ignore_ascii_case(table)
            && match w.op {
                WriteOp::Insert => s.insert && (!w.replaces || s.delete),
                WriteOp::Update => s.update && (!w.replaces || s.delete),
                WriteOp::Delete => s.delete,
            }
    });
    (!allowed).then(|| {
        format!(
            "{:?} on table `{table}`, which the policy does not allow",
            w.op
        )
    })
}

/// Analyses one SQL string (already cut at NUL) against the policy and,
/// when given, the shape of the same statement run on placeholder text.
/// Every syntax tree is made, walked and dropped on a stack deep enough for
/// any tree within the limits.
pub fn analyze(
    sql: &str,
    dialect: Dialect,
    policy: &Policy,
    template_shape: Option<&str>,
) -> StaticView {
    on_big_stack(|| analyze_here(sql, dialect, policy, template_shape))
}

fn analyze_here(
    sql: &str,
    dialect: Dialect,
    policy: &Policy,
    template_shape: Option<&str>,
) -> StaticView {
    let mut view = StaticView::default();
    let (sql, prefixes) = server_statements(sql, dialect);
    let sql: &str = &sql;
    for p in &prefixes {
        view.findings.push((
            Kind::ForbiddenAction,
            format!(
                "`SET STATEMENT ... FOR` runs the statement with session settings of its own: {}",
                p.chars().take(60).collect::<String>()
            ),
        ));
    }
    let tokens = tokenize(sql, dialect);
    let parsed = parse_tokens(sql, tokens.as_deref(), dialect);
    view.shape = prefixed_shape(
        &prefixes,
        match &parsed {
            Ok(stmts) => tree_shape(stmts.clone()),
            Err(u) => unparsed_shape(u, tokens.as_deref()),
        },
    );
    if let Some(t) = template_shape {
        if t != view.shape {
            view.findings.push((
                Kind::ShapeChanged,
                format!(
                    "statement shape differs from the placeholder run: expected `{t}`, got `{}`",
                    view.shape
                ),
            ));
        }
    }
    let stmts = match parsed {
        Ok(stmts) => stmts,
        Err(u) => {
            if let Unparsed::Limit(hit) = u {
                view.findings.push((Kind::ResourceLimit, hit.message()));
            }
            // No tree: still report what the statements' leading keywords prove.
            let words = match (&u, tokens.as_deref()) {
                (Unparsed::Limit(hit), _) if hit.name == "tokens" => Vec::new(),
                (_, Some(tokens)) => leading_words(tokens),
                (_, None) => Vec::new(),
            };
            if words.len() > 1 {
                view.findings.push((
                    Kind::MultipleStatements,
                    format!("{} statements in one string", words.len()),
                ));
            }
            for w in words {
                if let Some(kind) = word_kind(&w) {
                    view.findings
                        .push((kind, format!("`{w}` statement is never allowed")));
                }
            }
            return view;
        }
    };
    view.statements = Some(stmts.len());
    if stmts.len() > 1 {
        view.findings.push((
            Kind::MultipleStatements,
            format!("{} statements in one string", stmts.len()),
        ));
    }
    for stmt in &stmts {
        if let Some(f) = calls_forbidden_function(stmt) {
            view.findings
                .push((Kind::ForbiddenAction, format!("calls `{f}()`")));
        }
        match classify(stmt) {
            Err(finding) => view.findings.push(finding),
            Ok(writes) => {
                for w in &writes {
                    if let Some(msg) = policy_findings(w, policy) {
                        view.findings.push((Kind::ForbiddenAction, msg));
                    }
                }
                if let Some(w) = writes.first() {
                    if template_shape.is_none() && reads_other_rows(stmt) {
                        view.findings.push((
                            Kind::ShapeChanged,
                            format!(
                                "a write to `{}` takes its values from a subquery (reads other rows)",
                                w.table
                            ),
                        ));
                    }
                }
                view.writes.extend(writes);
            }
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_do_not_change_the_shape_but_injected_syntax_does() {
        let s = |q: &str| shape(q, Dialect::Sqlite);
        assert_eq!(
            s("UPDATE t SET a = 'x' WHERE id = 7"),
            s("UPDATE t SET a = 'it''s' WHERE id = 8")
        );
        assert_ne!(
            s("UPDATE t SET a = 'x' WHERE id = 7"),
            s("UPDATE t SET a = ''")
        );
        assert_eq!(s("UPDATE t SET a = 'x"), s("UPDATE t SET a = 'x"));
        assert!(s("UPDATE t SET a = 'x").starts_with("<untokenizable"));
    }

    #[test]
    fn prose_in_text_that_does_not_parse_is_abstracted() {
        let s = |q: &str| token_shape(&tokenize(q, Dialect::Sqlite).unwrap());
        assert_eq!(
            s("UPDATE t SET a = '' phone Bob"),
            s("UPDATE t SET a = '' ring Ann")
        );
        assert_ne!(
            s("UPDATE t SET a = '' phone Bob"),
            s("UPDATE t SET a = '' OR Bob")
        );
    }

    #[test]
    fn nul_cuts_the_compiled_text() {
        assert_eq!(compiled_text("a\0b"), ("a", Some("\0b")));
        assert_eq!(compiled_text("ab"), ("ab", None));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let v = analyze(&deep, Dialect::Sqlite, &crate::tests::policy7(), None);
        assert_eq!(v.statements, None);
    }

    #[test]
    fn unparsed_text_still_reports_its_leading_keywords() {
        let p = crate::tests::policy7();
        let v = analyze(
            "UPDATE t SET a = 1; /* x */ VACUUM INTO 'f.db'; EXPLAIN QUERY PLAN ATTACH 'g' AS g;",
            Dialect::Sqlite,
            &p,
            None,
        );
        assert_eq!(v.statements, None, "sqlparser does not know VACUUM INTO");
        let kinds: Vec<Kind> = v.findings.iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                Kind::MultipleStatements,
                Kind::ForbiddenAction,
                Kind::ForbiddenAction
            ]
        );
    }

    #[test]
    fn nested_and_upsert_writes_are_seen() {
        let p = crate::tests::policy7();
        let w = |sql: &str| {
            analyze(sql, Dialect::Sqlite, &p, None)
                .writes
                .into_iter()
                .map(|w| (w.op, w.table, w.columns))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            w("WITH c AS (SELECT 1) UPDATE clients SET phone = 1"),
            [(WriteOp::Update, "clients".into(), vec!["phone".to_string()])]
        );
        assert_eq!(
            w("INSERT INTO r (a) VALUES (1) ON CONFLICT DO UPDATE SET b = 2"),
            [
                (WriteOp::Insert, "r".into(), vec!["a".to_string()]),
                (WriteOp::Update, "r".into(), vec!["b".to_string()])
            ]
        );
    }

    /// The limit each text goes past, if any.
    fn limit_of(sql: &str, dialect: Dialect) -> Option<&'static str> {
        check_limits(sql, tokenize(sql, dialect).as_deref())
            .err()
            .map(|h| h.name)
    }

    #[test]
    fn long_operator_chains_are_not_parsed_into_deep_trees() {
        let p = crate::tests::policy7();
        // `SELECT` counts once; each repeat counts its words and symbols.
        for (chain, weight) in [
            (" + 1", 1),
            (" OR 1", 1),
            (" UNION ALL SELECT 1", SET_OPERATOR_WEIGHT + 2),
            (" || 'x'", 1),
            (" = 1", 1),
            (" XOR 1", 1),
        ] {
            let at_limit = format!("SELECT 1{}", chain.repeat((MAX_OPERATORS - 1) / weight));
            let v = analyze(&at_limit, Dialect::Sqlite, &p, None);
            assert_eq!(v.statements, Some(1), "{chain}");
            let long = format!("SELECT 1{}", chain.repeat(20_000));
            let v = analyze(&long, Dialect::Sqlite, &p, None);
            assert_eq!(v.statements, None, "{chain}");
            assert!(
                v.findings.iter().any(|f| f.0 == Kind::ResourceLimit),
                "{chain}: {:?}",
                v.findings
            );
        }
        let v = analyze(
            &format!("SELECT 1{}", "::int".repeat(5000)),
            Dialect::Postgres,
            &p,
            None,
        );
        assert_eq!(v.statements, None);
    }

    /// Issue 10, class 1: every infix form of every dialect, 5,000 deep,
    /// is a `resource-limit` naming the limit, never a stack overflow (this
    /// test thread has the default 2 MB stack).
    #[test]
    fn every_infix_chain_in_every_dialect_is_a_named_limit() {
        let p = crate::tests::policy7();
        let ops = [
            "XOR",
            "DIV",
            "MOD",
            "AND",
            "OR",
            "+",
            "-",
            "*",
            "/",
            "%",
            "||",
            "&",
            "|",
            "<<",
            ">>",
            "=",
            "<>",
            "<",
            "<=",
            "IS",
            "IS NOT",
            "LIKE",
            "ILIKE",
            "GLOB",
            "REGEXP",
            "RLIKE",
            "->",
            "->>",
            "#>",
            "@>",
            "<@",
            "&&",
            "^",
            "OVERLAPS",
            "<=>",
            "~",
            "!~",
            "SIMILAR TO",
        ];
        for dialect in [Dialect::Sqlite, Dialect::Mysql, Dialect::Postgres] {
            for op in ops {
                if dialect == Dialect::Mysql && op.starts_with('#') {
                    continue; // a MySQL comment: no chain at all
                }
                let sql = format!("SELECT 1{}", format!(" {op} 1").repeat(5_000));
                let v = analyze(&sql, dialect, &p, None);
                let limit = v
                    .findings
                    .iter()
                    .find(|f| f.0 == Kind::ResourceLimit)
                    .unwrap_or_else(|| panic!("{dialect:?} {op}: {:?}", v.findings));
                assert!(limit.1.contains("`operators`"), "{}", limit.1);
            }
        }
        for sql in [
            format!("SELECT 1{}", "[1]".repeat(10_000)),
            format!("SELECT x{}", " AT TIME ZONE 'UTC'".repeat(10_000)),
            format!("SELECT 1{}", " COLLATE nocase".repeat(10_000)),
        ] {
            let v = analyze(&sql, Dialect::Postgres, &p, None);
            assert_eq!(v.statements, None);
        }
    }

    #[test]
    fn length_tokens_statements_and_nesting_are_named_limits() {
        let d = Dialect::Sqlite;
        assert_eq!(
            limit_of(&";".repeat(MAX_STATIC_LENGTH + 1), d),
            Some("static-length")
        );
        assert_eq!(limit_of(&"1,".repeat(MAX_TOKENS), d), Some("tokens"));
        assert_eq!(
            limit_of(&"SELECT 1;".repeat(MAX_STATEMENTS + 1), d),
            Some("statements")
        );
        assert_eq!(limit_of(&"SELECT 1;".repeat(MAX_STATEMENTS), d), None);
        let nested = |n| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(limit_of(&nested(MAX_NESTING + 1), d), Some("nesting"));
        assert_eq!(limit_of(&nested(MAX_NESTING), d), None);
        // Size is not depth: long lists, CASE chains and 40 parentheses are clean.
        let ids: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let ordinary = [
            format!(
                "UPDATE t SET a = 1 WHERE id = 7 AND id IN ({})",
                ids.join(", ")
            ),
            format!(
                "INSERT INTO t VALUES {}",
                vec!["(1, 'a', NULL)"; 10_000].join(", ")
            ),
            format!(
                "UPDATE t SET a = CASE {} ELSE 0 END WHERE id = 7",
                (0..2_000)
                    .map(|i| format!("WHEN id = {i} THEN {i} + 1"))
                    .collect::<String>()
            ),
            format!(
                "UPDATE t SET a = {}1{} WHERE id = 7",
                "(".repeat(40),
                ")".repeat(40)
            ),
            format!(
                "SELECT {}1{}",
                "CASE WHEN 1 THEN ".repeat(40),
                " END".repeat(40)
            ),
        ];
        for sql in &ordinary {
            assert_eq!(limit_of(sql, d), None, "{}", &sql[..60]);
            let v = analyze(sql, d, &crate::tests::policy7(), None);
            assert_eq!(v.statements, Some(1), "{}", &sql[..60]);
        }
        // nesting of any kind past the limit, and a chain inside a list item
        let cases = format!(
            "SELECT {}1{}",
            "CASE WHEN 1 THEN ".repeat(5_000),
            " END".repeat(5_000)
        );
        assert_eq!(limit_of(&cases, d), Some("nesting"));
        let hidden = format!("SELECT 1, ({}), 2", "1 + ".repeat(5_000) + "1");
        assert_eq!(limit_of(&hidden, d), Some("operators"));
        let stepped = format!("SELECT {}1", "1 + 1 + 1 + (".repeat(60)) + &")".repeat(60);
        assert_eq!(
            limit_of(&stepped, d),
            Some("operators"),
            "depth adds up across levels"
        );
        // A long string literal is one token: a long note is no limit.
        let note = format!(
            "UPDATE t SET notes = '{}' WHERE id = 7",
            "x".repeat(500_000)
        );
        assert_eq!(limit_of(&note, d), None);
        // 100,000 statements: a limit, and no tree is built for them.
        let many = "SELECT 1;".repeat(100_000);
        let v = analyze(&many, d, &crate::tests::policy7(), None);
        assert!(v
            .findings
            .iter()
            .any(|f| f.0 == Kind::ResourceLimit && f.1.contains("`statements`")));
        assert!(v.findings.iter().any(|f| f.0 == Kind::MultipleStatements));
    }
}

//! Words from the code under test, read with a real Rust parser (`syn`):
//! every string, byte-string, char and byte literal of the source, ranked by
//! how directly it guards a branch.
//!
//! - [`Rank::Compared`]: an operand of `==` / `!=`, of a search or affix
//!   method (`contains`, `starts_with`, `ends_with`, `find`,
//!   `eq_ignore_ascii_case`, `strip_prefix`, ...), a `match` arm pattern,
//!   `matches!` or `assert_eq!`; also a literal bound to a name (a `const`,
//!   `static`, `let`, or struct field `word: "..."`) when that name is what
//!   gets compared (`text.contains(self.word)`): the branch the bug hides
//!   behind usually looks like one of these;
//! - [`Rank::Literal`]: any other literal of at most 64 bytes;
//! - [`Rank::Fragment`]: the words (runs of letters, digits, `_`) of longer
//!   or multi-word literals: keywords and names of the code's own SQL.
//!
//! Attributes (doc comments, `cfg` strings) are not code and are skipped.
//! Macro bodies are read as comma-separated expressions when they parse as
//! such (`format!`, `assert!`, `println!`), so the SQL inside `format!` counts;
//! at most 16 macros deep (each level re-reads the tokens under it).
//! Constant concatenations are folded into the word they make:
//! `concat!("zig", "zag")`, `[A, B].concat()`, `[A, B].join(SEP)` and
//! `format!("{A}-{}", B)` (names resolved through the file's `const`,
//! `static` and `let` bindings, and functions without arguments whose body
//! is a constant, `fn flag() -> String { format!("{A}{B}") }`), ranked like
//! any literal in their place (compared when the name they are bound to is).
//! A file `syn` cannot parse is skipped with a warning, never a panic (the
//! caller bounds its depth first: [`super::depth`]).

use std::collections::{HashMap, HashSet};

use syn::visit::{self, Visit};
use syn::{Expr, Lit, Pat};

use super::{Rank, MIN_FRAGMENT};

/// Methods whose literal operands decide a branch.
const SEARCHES: &[&str] = &[
    "contains",
    "starts_with",
    "ends_with",
    "find",
    "rfind",
    "eq_ignore_ascii_case",
    "strip_prefix",
    "strip_suffix",
    "split_once",
    "rsplit_once",
    "matches",
    "match_indices",
    "trim_start_matches",
    "trim_end_matches",
    "replace",
    "replacen",
    "eq",
    "ne",
];

/// Macros whose operands are compared.
const COMPARING_MACROS: &[&str] = &[
    "assert_eq",
    "assert_ne",
    "debug_assert_eq",
    "debug_assert_ne",
];

/// What one file gave: words with their rank, in source order.
#[derive(Default)]
pub(super) struct Harvest {
    pub words: Vec<(Vec<u8>, Rank)>,
    /// Names that are compared (`x.contains(NAME)`, `a == self.name`).
    compared_names: HashSet<String>,
    /// Constants bound to a name (`const NAME: &str = "..."`, `name: "..."`).
    bindings: Vec<(String, Vec<Part>)>,
    /// Concatenations met, resolved once every binding is known.
    folds: Vec<(Vec<Part>, Rank)>,
    /// Macro bodies being read, one inside the other.
    macro_depth: usize,
}

/// Deepest nest of macro bodies read: each level re-reads the tokens under
/// it, so a bound keeps a deep nest of macros around a wide body linear
/// (700 levels around 300,000 tokens took 29 s without it).
const MAX_MACRO_NEST: usize = 16;

/// A piece of a constant string: bytes, or a name still to resolve.
#[derive(Debug, Clone)]
enum Part {
    Bytes(Vec<u8>),
    Name(String),
}

/// The bytes `parts` make, every name resolved through `known`.
fn resolve(parts: &[Part], known: &HashMap<String, Vec<u8>>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Part::Bytes(b) => out.extend_from_slice(b),
            Part::Name(n) => out.extend_from_slice(known.get(n)?),
        }
        if out.len() > super::format::MAX_ENTRY {
            return None;
        }
    }
    Some(out)
}

/// Parses `source` and harvests it; `Err` with `syn`'s message when it is not Rust.
pub(super) fn harvest(source: &str) -> Result<Vec<(Vec<u8>, Rank)>, String> {
    let file = syn::parse_file(source).map_err(|e| e.to_string())?;
    let mut h = Harvest::default();
    h.visit_file(&file);
    let Harvest {
        mut words,
        compared_names,
        bindings,
        folds,
        macro_depth: _,
    } = h;
    // names to bytes, through chains of constants (a few rounds are enough)
    let mut known: HashMap<String, Vec<u8>> = HashMap::new();
    for _ in 0..4 {
        for (name, parts) in &bindings {
            if !known.contains_key(name) {
                if let Some(v) = resolve(parts, &known) {
                    known.insert(name.clone(), v);
                }
            }
        }
    }
    for (parts, rank) in folds {
        if let Some(v) = resolve(&parts, &known) {
            words.push((v, rank));
        }
    }
    for (name, parts) in bindings {
        if compared_names.contains(&name) {
            if let Some(v) = resolve(&parts, &known) {
                words.push((v, Rank::Compared));
            }
        }
    }
    Ok(words)
}

fn lit_bytes(lit: &Lit) -> Option<Vec<u8>> {
    match lit {
        Lit::Str(s) => Some(s.value().into_bytes()),
        Lit::ByteStr(s) => Some(s.value()),
        Lit::CStr(s) => Some(s.value().into_bytes()),
        Lit::Char(c) => Some(c.value().to_string().into_bytes()),
        Lit::Byte(b) => Some(vec![b.value()]),
        _ => None,
    }
}

/// The literal an operand is, through `&`, parentheses, groups and
/// conversions (`"x".to_string()`, `String::from("x")`).
fn literal_of(e: &Expr) -> Option<Vec<u8>> {
    match e {
        Expr::Lit(l) => lit_bytes(&l.lit),
        Expr::Reference(r) => literal_of(&r.expr),
        Expr::Paren(p) => literal_of(&p.expr),
        Expr::Group(g) => literal_of(&g.expr),
        Expr::MethodCall(m) if m.args.is_empty() => literal_of(&m.receiver),
        Expr::Call(c) if c.args.len() == 1 => literal_of(&c.args[0]),
        _ => None,
    }
}

/// The name an operand refers to (`NAME`, `self.word`, `&word`), if any.
fn name_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Expr::Field(f) => match &f.member {
            syn::Member::Named(i) => Some(i.to_string()),
            syn::Member::Unnamed(_) => None,
        },
        Expr::Reference(r) => name_of(&r.expr),
        Expr::Paren(p) => name_of(&p.expr),
        Expr::MethodCall(m) if m.args.is_empty() => name_of(&m.receiver),
        _ => None,
    }
}

/// The parts of a constant concatenation: `concat!(...)`, `[..].concat()`,
/// `[..].join(sep)` or `format!` of literals, names (constants, and
/// functions without arguments that return one) and nested concatenations.
///
/// Folding looks at most [`MAX_FOLD`] concatenations deep and reads
/// `concat!` arguments as tokens (never re-parsing a body), so every
/// expression of a deep nest costs a bounded amount of work.
fn fold_of(e: &Expr) -> Option<Vec<Part>> {
    fold_at(e, 0)
}

/// Deepest nest of concatenations folded.
const MAX_FOLD: usize = 8;

fn fold_at(e: &Expr, depth: usize) -> Option<Vec<Part>> {
    if depth > MAX_FOLD {
        return None;
    }
    match e {
        Expr::Reference(r) => fold_at(&r.expr, depth + 1),
        Expr::Paren(p) => fold_at(&p.expr, depth + 1),
        Expr::Macro(m) if m.mac.path.is_ident("concat") => {
            concat_tokens(m.mac.tokens.clone(), depth)
        }
        Expr::Macro(m) if m.mac.path.is_ident("format") => format_parts(&m.mac, depth),
        // a call of a function without arguments whose body is a constant
        // (`fn flag() -> String { format!("{A}{B}") }`), resolved later
        Expr::Call(c) if c.args.is_empty() => match &*c.func {
            Expr::Path(p) => Some(vec![Part::Name(p.path.segments.last()?.ident.to_string())]),
            _ => None,
        },
        Expr::MethodCall(m)
            if (m.method == "concat" && m.args.is_empty())
                || (m.method == "join" && m.args.len() == 1) =>
        {
            let mut r = &*m.receiver;
            while let Expr::Reference(x) = r {
                r = &x.expr;
            }
            let Expr::Array(a) = r else {
                return None;
            };
            // `join(sep)`: the separator between the pieces, a constant too
            let sep = match m.args.first() {
                None => None,
                Some(x) => Some(constant_part(x, depth + 1)?),
            };
            let mut parts = Vec::new();
            for (i, x) in a.elems.iter().enumerate() {
                if i > 0 {
                    parts.extend(sep.iter().flatten().cloned());
                }
                parts.extend(constant_part(x, depth + 1)?);
            }
            Some(parts)
        }
        _ => None,
    }
}

/// One piece of a constant concatenation: a literal, a name, or a nested
/// concatenation.
fn constant_part(x: &Expr, depth: usize) -> Option<Vec<Part>> {
    if let Some(v) = literal_of(x) {
        Some(vec![Part::Bytes(v)])
    } else if let Some(inner) = fold_at(x, depth) {
        Some(inner)
    } else if let Expr::Path(p) = x {
        Some(vec![Part::Name(p.path.segments.last()?.ident.to_string())])
    } else {
        None
    }
}

/// The parts of `format!("...", args)` when every piece is a constant:
/// inline names (`{A}`), positional (`{}`, `{0}`) and named (`{a}` with
/// `a = ...`) arguments that are literals, names or concatenations. A
/// format spec (`{:?}`, `{x:>4}`) is not folded.
fn format_parts(m: &syn::Macro, depth: usize) -> Option<Vec<Part>> {
    let args = m
        .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        .ok()?;
    let mut args = args.into_iter();
    let template = match args.next()? {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => s.value(),
        _ => return None,
    };
    let mut positional = Vec::new();
    let mut named = HashMap::new();
    for a in args {
        match a {
            Expr::Assign(x) => {
                let Expr::Path(p) = &*x.left else {
                    return None;
                };
                named.insert(
                    p.path.get_ident()?.to_string(),
                    constant_part(&x.right, depth + 1)?,
                );
            }
            x => positional.push(constant_part(&x, depth + 1)?),
        }
    }
    let mut parts = Vec::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inner.push(c);
                }
                if inner.contains(':') {
                    return None;
                }
                parts.push(Part::Bytes(std::mem::take(&mut text).into_bytes()));
                let inner = inner.trim();
                if inner.is_empty() {
                    parts.extend(positional.get(next)?.iter().cloned());
                    next += 1;
                } else if let Ok(i) = inner.parse::<usize>() {
                    parts.extend(positional.get(i)?.iter().cloned());
                } else if let Some(p) = named.get(inner) {
                    parts.extend(p.iter().cloned());
                } else if syn::parse_str::<syn::Ident>(inner).is_ok() {
                    parts.push(Part::Name(inner.to_string()));
                } else {
                    return None;
                }
            }
            '}' => return None,
            c => text.push(c),
        }
    }
    parts.push(Part::Bytes(text.into_bytes()));
    // a template without a single argument is a literal, harvested as one
    let inline = parts.iter().any(|p| matches!(p, Part::Name(_)));
    (inline || !positional.is_empty() || !named.is_empty()).then_some(parts)
}

/// The parts of a `concat!` body read as tokens: literals, commas and
/// nested `concat!(...)`.
fn concat_tokens(body: proc_macro2::TokenStream, depth: usize) -> Option<Vec<Part>> {
    use proc_macro2::TokenTree;
    if depth > MAX_FOLD {
        return None;
    }
    let mut parts = Vec::new();
    let mut tokens = body.into_iter();
    while let Some(t) = tokens.next() {
        match t {
            TokenTree::Literal(l) => parts.push(Part::Bytes(lit_bytes(&Lit::new(l))?)),
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            TokenTree::Ident(i) if i == "concat" => match (tokens.next(), tokens.next()) {
                (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(g)))
                    if bang.as_char() == '!' =>
                {
                    parts.extend(concat_tokens(g.stream(), depth + 1)?)
                }
                _ => return None,
            },
            _ => return None,
        }
    }
    Some(parts)
}

/// The literals a pattern matches.
fn pattern_literals(p: &Pat, out: &mut Vec<Vec<u8>>) {
    match p {
        Pat::Lit(l) => out.extend(lit_bytes(&l.lit)),
        Pat::Or(o) => o.cases.iter().for_each(|c| pattern_literals(c, out)),
        Pat::Paren(x) => pattern_literals(&x.pat, out),
        Pat::Reference(x) => pattern_literals(&x.pat, out),
        Pat::Tuple(t) => t.elems.iter().for_each(|c| pattern_literals(c, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|c| pattern_literals(c, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|c| pattern_literals(c, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pattern_literals(&f.pat, out)),
        Pat::Ident(i) => {
            if let Some((_, sub)) = &i.subpat {
                pattern_literals(sub, out);
            }
        }
        _ => {}
    }
}

impl Harvest {
    fn compared(&mut self, e: &Expr) {
        if let Some(v) = literal_of(e) {
            self.words.push((v, Rank::Compared));
        } else if let Some(parts) = fold_of(e) {
            self.folds.push((parts, Rank::Compared));
        } else if let Some(n) = name_of(e) {
            self.compared_names.insert(n);
        }
    }

    fn bind(&mut self, name: String, e: &Expr) {
        if let Some(v) = literal_of(e) {
            self.bindings.push((name, vec![Part::Bytes(v)]));
        } else if let Some(parts) = fold_of(e) {
            self.bindings.push((name, parts));
        } else if let Expr::Path(p) = e {
            // a constant defined as another (`const B: &str = A;`)
            if let Some(s) = p.path.segments.last() {
                self.bindings
                    .push((name, vec![Part::Name(s.ident.to_string())]));
            }
        }
    }

    fn compared_pattern(&mut self, p: &Pat) {
        let mut lits = Vec::new();
        pattern_literals(p, &mut lits);
        self.words
            .extend(lits.into_iter().map(|v| (v, Rank::Compared)));
    }
}

impl<'ast> Visit<'ast> for Harvest {
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_expr(&mut self, e: &'ast Expr) {
        // a concatenation anywhere is a word of its own (its pieces are too)
        if let Some(parts) = fold_of(e) {
            self.folds.push((parts, Rank::Literal));
        }
        visit::visit_expr(self, e);
    }

    fn visit_lit(&mut self, lit: &'ast Lit) {
        if let Some(v) = lit_bytes(lit) {
            let short = v.len() <= super::format::MAX_ENTRY;
            let prose = v.iter().any(u8::is_ascii_whitespace);
            if short {
                self.words.push((v.clone(), Rank::Literal));
            }
            if !short || prose {
                for w in v.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)) {
                    if w.len() >= MIN_FRAGMENT && w.len() <= super::format::MAX_ENTRY {
                        self.words.push((w.to_vec(), Rank::Fragment));
                    }
                }
            }
        }
    }

    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        if matches!(e.op, syn::BinOp::Eq(_) | syn::BinOp::Ne(_)) {
            self.compared(&e.left);
            self.compared(&e.right);
        }
        visit::visit_expr_binary(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        if SEARCHES.contains(&e.method.to_string().as_str()) {
            for a in &e.args {
                self.compared(a);
            }
            self.compared(&e.receiver);
        }
        visit::visit_expr_method_call(self, e);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.compared_pattern(&arm.pat);
        visit::visit_arm(self, arm);
    }

    fn visit_item_const(&mut self, c: &'ast syn::ItemConst) {
        self.bind(c.ident.to_string(), &c.expr);
        visit::visit_item_const(self, c);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        // a function without arguments whose body is a constant binds its name
        if f.sig.inputs.is_empty() {
            if let Some(syn::Stmt::Expr(tail, None)) = f.block.stmts.last() {
                self.bind(f.sig.ident.to_string(), tail);
            }
        }
        visit::visit_item_fn(self, f);
    }

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        self.bind(s.ident.to_string(), &s.expr);
        visit::visit_item_static(self, s);
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let (Pat::Ident(i), Some(init)) = (&l.pat, &l.init) {
            self.bind(i.ident.to_string(), &init.expr);
        }
        visit::visit_local(self, l);
    }

    fn visit_field_value(&mut self, f: &'ast syn::FieldValue) {
        if let syn::Member::Named(i) = &f.member {
            self.bind(i.to_string(), &f.expr);
        }
        visit::visit_field_value(self, f);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if self.macro_depth >= MAX_MACRO_NEST {
            return;
        }
        self.macro_depth += 1;
        self.visit_macro_body(m);
        self.macro_depth -= 1;
    }
}

impl Harvest {
    /// Reads a macro's body as expressions (or `matches!`'s pattern).
    fn visit_macro_body(&mut self, m: &syn::Macro) {
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if name == "matches" {
            let parsed = m.parse_body_with(|input: syn::parse::ParseStream| {
                let e: Expr = input.parse()?;
                input.parse::<syn::Token![,]>()?;
                let p = Pat::parse_multi_with_leading_vert(input)?;
                let _: proc_macro2::TokenStream = input.parse()?;
                Ok((e, p))
            });
            if let Ok((e, p)) = parsed {
                self.visit_expr(&e);
                self.compared_pattern(&p);
                self.visit_pat(&p);
            }
            return;
        }
        let args = m
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated);
        if let Ok(args) = args {
            if COMPARING_MACROS.contains(&name.as_str()) {
                args.iter().take(2).for_each(|a| self.compared(a));
            }
            for a in &args {
                self.visit_expr(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(src: &str) -> Vec<(String, Rank)> {
        harvest(src)
            .unwrap()
            .into_iter()
            .map(|(v, r)| (String::from_utf8_lossy(&v).into_owned(), r))
            .collect()
    }

    fn rank_of(words: &[(String, Rank)], w: &str) -> Option<Rank> {
        words.iter().filter(|x| x.0 == w).map(|x| x.1).min()
    }

    #[test]
    fn every_kind_of_literal_and_its_escapes() {
        let w = ranked(
            r####"
            fn f() {
                let a = "quote\"back\\slash\n";
                let b = b"by\x00te";
                let c = '\u{2019}';
                let d = b'\'';
                let e = r#"raw "x""#;
                let g = c"cstr";
            }
            "####,
        );
        for s in [
            "quote\"back\\slash\n",
            "by\0te",
            "\u{2019}",
            "'",
            "raw \"x\"",
            "cstr",
        ] {
            assert_eq!(rank_of(&w, s), Some(Rank::Literal), "{s:?} in {w:?}");
        }
    }

    #[test]
    fn comparison_operands_are_ranked_first() {
        let w = ranked(
            r#"
            const WORD: &str = "alpha";
            struct P { word: &'static str }
            const P1: P = P { word: "beta" };
            fn f(s: &str, p: &P) -> bool {
                let unused = "gamma";
                if s == "delta" || "eps" != s { return true; }
                match s { "zeta" | "eta" => return true, _ => {} }
                if matches!(s, "theta") { return true; }
                s.to_ascii_lowercase().contains(WORD)
                    || s.contains(p.word)
                    || s.starts_with("iota")
                    || s.strip_prefix("kappa").is_some()
                    || s.eq_ignore_ascii_case(&"lambda".to_string())
                    || s.find('\'').is_some()
            }
            #[doc = "doc text is not code"]
            fn g() { let q = format!("UPDATE t SET x = '{}' WHERE id = 1", "mu"); }
            "#,
        );
        for c in [
            "alpha", "beta", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lambda", "'",
        ] {
            assert_eq!(rank_of(&w, c), Some(Rank::Compared), "{c} in {w:?}");
        }
        assert_eq!(rank_of(&w, "gamma"), Some(Rank::Literal));
        assert_eq!(rank_of(&w, "mu"), Some(Rank::Literal));
        assert_eq!(rank_of(&w, "UPDATE"), Some(Rank::Fragment));
        assert_eq!(rank_of(&w, "WHERE"), Some(Rank::Fragment));
        assert_eq!(rank_of(&w, "doc text is not code"), None);
    }

    #[test]
    fn constant_concatenations_are_folded_into_their_word() {
        let w = ranked(
            r#"
            const A: &str = "zig";
            const B: &str = "zag";
            const AB: &str = concat!("mar", "mot");
            fn f(s: &str) -> bool {
                let joined = [A, "-", B].join("");
                s.contains(&[A, B].concat()) || s.contains(AB) || s == "x" || joined.is_empty()
                    || s.starts_with(concat!("ok", concat!("ap", "i")))
            }
            "#,
        );
        assert_eq!(rank_of(&w, "zigzag"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "marmot"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "okapi"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "zig-zag"), Some(Rank::Literal), "{w:?}");
    }

    #[test]
    fn format_and_join_of_constants_and_constant_functions_are_folded() {
        let w = ranked(
            r#"
            const MARK: &str = "!";
            const LEVEL: &str = "urg";
            const ACTION: &str = "cb";
            const SEP: &str = "/";
            const BASE: &str = "ba";
            const BASE2: &str = BASE;
            fn flag() -> String { format!("{MARK}{LEVEL}-{ACTION}") }
            fn f(s: &str, id: i64) -> bool {
                let tag = flag();
                let pos = format!("{}{}{0}", LEVEL, ACTION);
                let named = format!("<{x}>", x = BASE2);
                let spec = format!("{LEVEL:>9}");
                let run_time = format!("{LEVEL}{id}");
                s.contains(&tag)
                    || s.contains(&[LEVEL, ACTION, "z"].join(SEP))
                    || s.ends_with(&["q", "r"].join("+"))
                    || pos.is_empty() || named.is_empty() || spec.is_empty() || run_time.is_empty()
            }
            "#,
        );
        assert_eq!(rank_of(&w, "!urg-cb"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "urg/cb/z"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "q+r"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "urgcburg"), Some(Rank::Literal), "{w:?}");
        assert_eq!(rank_of(&w, "<ba>"), Some(Rank::Literal), "{w:?}");
        assert_eq!(rank_of(&w, "urg"), Some(Rank::Literal), "{w:?}");
    }

    #[test]
    fn macro_bodies_are_read_to_a_bounded_nest() {
        let nest = |n: usize, word: &str| {
            format!(
                "fn f() {{ {}\"{word}\"{}; }}",
                "m!(".repeat(n),
                ")".repeat(n)
            )
        };
        let w = ranked(&nest(MAX_MACRO_NEST, "shallow"));
        assert_eq!(rank_of(&w, "shallow"), Some(Rank::Literal), "{w:?}");
        let w = ranked(&nest(MAX_MACRO_NEST + 1, "deep"));
        assert_eq!(rank_of(&w, "deep"), None, "{w:?}");
    }

    #[test]
    fn source_that_is_not_rust_is_an_error_not_a_panic() {
        for bad in [
            "fn (",
            "}}}",
            "let x = \"unterminated",
            "\u{feff}fn f() { @@ }",
        ] {
            assert!(harvest(bad).is_err(), "{bad:?}");
        }
    }
}

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
//! Constants are evaluated as a compiler folds them (the evaluator is
//! [`super::fold`]; this file records where its words stand): named `const`s and
//! `static`s (strings, arrays, slices, tuples, one built from others),
//! `let` bindings (with the `push_str` / `+=` appended to them), and
//! functions without arguments whose body is a constant; over
//! them `concat!`, `[A, B].concat()`, `PARTS.join(SEP)`, `PARTS[1]`,
//! `PAIR.0`, `format!("{A}-{}", B)`, `A.to_string() + B`, `to_lowercase`,
//! `to_uppercase` and `chars().rev().collect()` make the word they make,
//! ranked like any literal in their place (compared when the name they are
//! bound to is, or they are an operand above). Bindings are file-wide (a
//! name bound twice keeps its first value); anything not constant (an
//! argument, a run-time value, a format spec) gives no word.
//! Row references: a prefix a function parses a number or key after
//! (the operand of `strip_prefix`, `split_once`, `split`, `starts_with`,
//! `find`, ... (a literal or a constant) in a function that calls `parse`,
//! `from_str`, `to_digit` or `is_ascii_digit`), and the literal start of a
//! regular expression before its first group or digit class
//! (`Regex::new(r"ref:(\d+)")`: `ref:`) are [`Rank::Reference`] templates,
//! written before every other word: the engines write them followed by a
//! key of the fixture ([`super::compose`], the engine's references).
//! A planted bug's description is never a word: the arguments of a
//! `.bug(..)` / `bug(..)` call (and the constants they name), fields
//! `trigger:` / `bug_class:`, and the bodies of functions named `bug`,
//! `bug_class` or `trigger`.
//! A file `syn` cannot parse is skipped with a warning, never a panic (the
//! caller bounds its depth first: [`super::depth`]).

use std::collections::HashSet;

use syn::visit::{self, Visit};
use syn::{Expr, Lit, Pat};

use super::fold::{
    self, constant_part, definition, fold_of, lit_bytes, literal_of, name_of, path_name, resolve,
    resolve_def, Def, Part, Val,
};
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
    /// Constants bound to a name (`const NAME: &str = "..."`, `name: "..."`,
    /// `static PARTS: [&str; 2] = [..]`), later `push_str`s appended.
    bindings: Vec<(String, Def)>,
    /// Names passed to `.bug(class, trigger)`: a planted bug's description,
    /// never a word.
    hidden: HashSet<String>,
    /// Prefixes the code parses a key out of (`strip_prefix("see #")` in a
    /// function that calls `parse`): reference templates, written first.
    references: Vec<Vec<Part>>,
    /// Regular expressions (`Regex::new(..)`'s pattern): their literal start
    /// before a group or digit class is a reference template.
    regexes: Vec<Vec<Part>>,
    /// Prefix operands of the function being read, and whether it parses.
    fn_prefixes: Vec<Vec<Part>>,
    fn_parses: bool,
    /// Concatenations met, resolved once every binding is known.
    folds: Vec<(Vec<Part>, Rank)>,
    /// Macro bodies being read, one inside the other.
    macro_depth: usize,
}

/// Deepest nest of macro bodies read: each level re-reads the tokens under
/// it, so a bound keeps a deep nest of macros around a wide body linear
/// (700 levels around 300,000 tokens took 29 s without it).
const MAX_MACRO_NEST: usize = 16;

/// Parses `source` and harvests it; `Err` with `syn`'s message when it is not Rust.
pub(crate) fn harvest(source: &str) -> Result<Vec<(Vec<u8>, Rank)>, String> {
    let file = syn::parse_file(source).map_err(|e| e.to_string())?;
    let mut h = Harvest::default();
    h.visit_file(&file);
    h.end_fn(false, Vec::new());
    let Harvest {
        words: found,
        compared_names,
        bindings,
        folds,
        hidden,
        references,
        regexes,
        ..
    } = h;
    let known = fold::evaluate(&bindings);
    let mut words: Vec<(Vec<u8>, Rank)> = references
        .iter()
        .filter_map(|p| resolve(p, &known))
        .chain(
            regexes
                .iter()
                .filter_map(|p| regex_template(&resolve(p, &known)?)),
        )
        // a separator of whitespace alone (`split(' ')`) is no template
        .filter(|v| !v.iter().all(u8::is_ascii_whitespace))
        .map(|v| (v, Rank::Reference))
        .collect();
    words.extend(found);
    for (parts, rank) in folds {
        if let Some(v) = resolve(&parts, &known) {
            words.push((v, rank));
        }
    }
    for (name, def) in &bindings {
        if compared_names.contains(name) {
            match resolve_def(def, &known) {
                Some(Val::Str(v)) => words.push((v, Rank::Compared)),
                Some(Val::Arr(items)) => {
                    words.extend(items.into_iter().map(|v| (v, Rank::Compared)))
                }
                None => {}
            }
        }
    }
    // a planted bug's description bound to a name and passed to `.bug(..)`
    let secret: HashSet<Vec<u8>> = hidden
        .iter()
        .filter_map(|n| match known.get(n) {
            Some(Val::Str(v)) => Some(v.clone()),
            _ => None,
        })
        .collect();
    words.retain(|(w, _)| !secret.contains(w));
    Ok(words)
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
        if let Some(def) = definition(e) {
            self.bindings.push((name, def));
        }
    }

    /// `name.push_str(e)` / `name += e`: `e` appended to the string `name`
    /// was last bound to (when both are constants).
    fn append(&mut self, name: &str, e: &Expr) {
        let Some(more) = constant_part(e, 0) else {
            return;
        };
        if let Some((_, Def::Str(parts))) = self.bindings.iter_mut().rev().find(|b| b.0 == name) {
            parts.extend(more);
        }
    }

    /// Ends the function being read: its prefix operands are references
    /// when it parses (`parses`), and the enclosing function's are restored.
    fn end_fn(&mut self, parses: bool, prefixes: Vec<Vec<Part>>) {
        if self.fn_parses {
            let mine = std::mem::take(&mut self.fn_prefixes);
            self.references.extend(mine);
        }
        self.fn_parses = parses;
        self.fn_prefixes = prefixes;
    }

    /// Reads a function body with its own prefix operands and parse flag.
    fn in_fn(&mut self, read: impl FnOnce(&mut Self)) {
        let parses = std::mem::take(&mut self.fn_parses);
        let prefixes = std::mem::take(&mut self.fn_prefixes);
        read(self);
        self.end_fn(parses, prefixes);
    }

    fn compared_pattern(&mut self, p: &Pat) {
        let mut lits = Vec::new();
        pattern_literals(p, &mut lits);
        self.words
            .extend(lits.into_iter().map(|v| (v, Rank::Compared)));
    }
}

/// Names of functions and fields that describe a planted bug: never read.
const BUG_METADATA: &[&str] = &["bug", "bug_class", "trigger"];

/// Methods whose operand is a prefix a key is parsed after.
const PREFIX_METHODS: &[&str] = &[
    "strip_prefix",
    "starts_with",
    "split_once",
    "rsplit_once",
    "split",
    "rsplit",
    "splitn",
    "rsplitn",
    "split_terminator",
    "trim_start_matches",
    "find",
    "rfind",
    "match_indices",
];

/// Methods and functions that read a number out of text: a function
/// calling one parses the key after its prefixes.
const PARSES: &[&str] = &[
    "parse",
    "from_str",
    "from_str_radix",
    "to_digit",
    "is_ascii_digit",
    "is_numeric",
    "is_digit",
];

/// Functions and macros whose first argument is a regular expression.
const REGEX_CONSTRUCTORS: &[&str] = &["Regex", "RegexBuilder", "regex", "lazy_regex"];

/// The literal start of regular expression `pattern` when a group or a
/// digit class follows it (`^see #(\d+)`: `see #`; `\bref:\s*(\w+)`:
/// `ref: `): what the text holds before the key the code captures. `None`
/// when nothing literal comes first, or no group or digit class follows.
pub(super) fn regex_template(pattern: &[u8]) -> Option<Vec<u8>> {
    let (out, keyed) = regex_start(pattern)?;
    (keyed && !out.trim().is_empty()).then(|| out.into_bytes())
}

/// The literal start of regular expression `pattern` (as
/// [`regex_template`] reads it) and whether a group or digit class follows it.
pub(super) fn regex_start(pattern: &[u8]) -> Option<(String, bool)> {
    let p = std::str::from_utf8(pattern).ok()?;
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    let mut keyed = false;
    while let Some(c) = chars.next() {
        match c {
            '^' if out.is_empty() => {}
            '\\' => match chars.next()? {
                'b' | 'A' if out.is_empty() => {}
                'd' => {
                    keyed = true;
                    break;
                }
                's' => out.push(' '),
                // `\#`, `\.`, `\ `: the character itself
                e if !e.is_alphanumeric() => out.push(e),
                _ => break,
            },
            '(' | '[' => {
                keyed = true;
                break;
            }
            // an optional character (`\s*`, `-?`): the template leaves it out
            '?' | '*' => {
                out.pop();
            }
            '{' => {
                out.pop();
                break;
            }
            '+' => {
                // one of it is written; whatever follows still counts
                if !matches!(chars.peek(), Some('(' | '[' | '\\')) {
                    break;
                }
            }
            '.' | '|' | '$' | ')' | ']' | '}' => break,
            c => out.push(c),
        }
    }
    Some((out, keyed))
}

/// The words of literal `v`: itself when it is at most
/// [`super::format::MAX_ENTRY`] bytes (a [`Rank::Literal`]), and the words
/// (runs of letters, digits, `_`) of a longer or multi-word one
/// ([`Rank::Fragment`]s: keywords and names of the code's own SQL).
pub(super) fn literal_words(v: Vec<u8>, out: &mut Vec<(Vec<u8>, Rank)>) {
    let short = v.len() <= super::format::MAX_ENTRY;
    let prose = v.iter().any(u8::is_ascii_whitespace);
    if short {
        out.push((v.clone(), Rank::Literal));
    }
    if !short || prose {
        for w in v.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)) {
            if w.len() >= MIN_FRAGMENT && w.len() <= super::format::MAX_ENTRY {
                out.push((w.to_vec(), Rank::Fragment));
            }
        }
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
            literal_words(v, &mut self.words);
        }
    }

    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*e.func {
            let last = p.path.segments.last().map(|s| s.ident.to_string());
            if last.as_deref() == Some("bug") {
                for a in &e.args {
                    if let Some(n) = path_name(a) {
                        self.hidden.insert(n);
                    }
                }
                return;
            }
            if last.as_deref().is_some_and(|l| PARSES.contains(&l)) {
                self.fn_parses = true;
            }
            // `Regex::new(PATTERN)`
            let n = p.path.segments.len();
            if n >= 2
                && matches!(last.as_deref(), Some("new"))
                && REGEX_CONSTRUCTORS.contains(&&*p.path.segments[n - 2].ident.to_string())
            {
                if let Some(pattern) = e.args.first().and_then(|a| constant_part(a, 0)) {
                    self.regexes.push(pattern);
                }
            }
        }
        visit::visit_expr_call(self, e);
    }

    fn visit_expr_path(&mut self, e: &'ast syn::ExprPath) {
        // `take_while(char::is_ascii_digit)`: a function read as a value
        if let Some(last) = e.path.segments.last() {
            if PARSES.contains(&&*last.ident.to_string()) {
                self.fn_parses = true;
            }
        }
        visit::visit_expr_path(self, e);
    }

    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        if matches!(e.op, syn::BinOp::AddAssign(_)) {
            if let Some(n) = path_name(&e.left) {
                self.append(&n, &e.right);
            }
        }
        if matches!(e.op, syn::BinOp::Eq(_) | syn::BinOp::Ne(_)) {
            self.compared(&e.left);
            self.compared(&e.right);
        }
        visit::visit_expr_binary(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        let method = e.method.to_string();
        if method == "bug" {
            // `Version::bug(class, trigger)`: the answer, not the question
            for a in &e.args {
                if let Some(n) = path_name(a) {
                    self.hidden.insert(n);
                }
            }
            self.visit_expr(&e.receiver);
            return;
        }
        if PARSES.contains(&method.as_str()) {
            self.fn_parses = true;
        }
        if PREFIX_METHODS.contains(&method.as_str()) {
            if let Some(v) = e.args.first().and_then(|a| constant_part(a, 0)) {
                self.fn_prefixes.push(v);
            }
        }
        if method == "push_str" && e.args.len() == 1 {
            if let Some(n) = path_name(&e.receiver) {
                self.append(&n, &e.args[0]);
            }
        }
        if SEARCHES.contains(&method.as_str()) {
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
        if BUG_METADATA.contains(&f.sig.ident.to_string().as_str()) {
            return;
        }
        // a function without arguments whose body is a constant binds its name
        if f.sig.inputs.is_empty() {
            if let Some(syn::Stmt::Expr(tail, None)) = f.block.stmts.last() {
                self.bind(f.sig.ident.to_string(), tail);
            }
        }
        self.in_fn(|h| visit::visit_item_fn(h, f));
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        // `fn trigger(&self) -> &'static str { ".." }`: a planted bug's description
        if BUG_METADATA.contains(&f.sig.ident.to_string().as_str()) {
            return;
        }
        self.in_fn(|h| visit::visit_impl_item_fn(h, f));
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if BUG_METADATA.contains(&f.sig.ident.to_string().as_str()) {
            return;
        }
        self.in_fn(|h| visit::visit_trait_item_fn(h, f));
    }

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        self.bind(s.ident.to_string(), &s.expr);
        visit::visit_item_static(self, s);
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        // `let x = ..` and `let x: String = ..`
        let pat = match &l.pat {
            Pat::Type(t) => &*t.pat,
            p => p,
        };
        if let (Pat::Ident(i), Some(init)) = (pat, &l.init) {
            self.bind(i.ident.to_string(), &init.expr);
        }
        visit::visit_local(self, l);
    }

    fn visit_field_value(&mut self, f: &'ast syn::FieldValue) {
        if let syn::Member::Named(i) = &f.member {
            // `Version { trigger: "..", bug_class: ".." }`: not a word
            if BUG_METADATA.contains(&i.to_string().as_str()) {
                if let Some(n) = path_name(&f.expr) {
                    self.hidden.insert(n);
                }
                return;
            }
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
            // `regex!(PATTERN)`
            if REGEX_CONSTRUCTORS.contains(&name.as_str()) {
                if let Some(pattern) = args.first().and_then(|a| constant_part(a, 0)) {
                    self.regexes.push(pattern);
                }
            }
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
pub(super) mod tests {
    use super::*;

    pub(in super::super) fn ranked(src: &str) -> Vec<(String, Rank)> {
        harvest(src)
            .unwrap()
            .into_iter()
            .map(|(v, r)| (String::from_utf8_lossy(&v).into_owned(), r))
            .collect()
    }

    pub(in super::super) fn rank_of(words: &[(String, Rank)], w: &str) -> Option<Rank> {
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
    fn a_prefix_a_key_is_parsed_after_is_a_reference_template_and_first() {
        let w = ranked(
            r#"
            fn f(notes: &str) -> Option<i64> {
                let x = "early";
                if notes == x { return None; }
                notes.strip_prefix("see #")?.parse::<i64>().ok()
            }
            fn g(notes: &str) -> Option<i64> {
                let (_, k) = notes.split_once("ref:")?;
                i64::from_str(k).ok()
            }
            fn h(notes: &str) -> bool { notes.split_once("kept:").is_some() }
            "#,
        );
        assert_eq!(rank_of(&w, "see #"), Some(Rank::Reference), "{w:?}");
        assert_eq!(rank_of(&w, "ref:"), Some(Rank::Reference), "{w:?}");
        // written before every other word: a dictionary's first words are
        // the templates composed with the fixture's keys
        assert_eq!(w[0].0, "see #", "{w:?}");
        assert_eq!(w[1].0, "ref:", "{w:?}");
        let d = super::super::Dictionary::from_words(
            harvest("fn h(n: &str) -> Option<i64> { let a = n == \"x\"; n.strip_prefix(\"id=\")?.parse().ok() }")
                .unwrap()
                .into_iter()
                .chain([(b"7".to_vec(), Rank::Key)]),
        );
        let c = super::super::compose::compositions(&d);
        assert!(c.iter().any(|(x, _)| x == b"id=7"), "{c:?}");
        assert_eq!(d.words[0].bytes, b"id=", "{:?}", d.words);
        // a prefix that is not followed by a parse is compared, not first
        assert_eq!(rank_of(&w, "kept:"), Some(Rank::Compared), "{w:?}");
        assert!(w.iter().position(|x| x.0 == "kept:") > w.iter().position(|x| x.0 == "early"));
    }

    #[test]
    fn every_way_code_parses_a_key_after_a_prefix_is_a_template() {
        let w = ranked(
            r##"
            const MARK: &str = "appt=";
            const PARTS: [&str; 2] = ["vi", "sit/"];
            const RE: &str = r"\bcase\s(\d+)";
            fn split(n: &str) -> Option<i64> { n.split("ticket:").nth(1)?.trim().parse().ok() }
            fn sliced(n: &str) -> Option<i64> {
                if n.starts_with("row@") { n["row@".len()..].parse().ok() } else { None }
            }
            fn found(n: &str) -> Option<u32> {
                let i = n.find("order~")?;
                n[i + 6..].chars().next()?.to_digit(10)
            }
            fn digits(n: &str) -> String {
                n.strip_prefix('%').unwrap_or("").chars().take_while(char::is_ascii_digit).collect()
            }
            fn named(n: &str) -> Option<i64> { n.strip_prefix(MARK)?.parse().ok() }
            fn joined(n: &str) -> Option<i64> { n.strip_prefix(&PARTS.concat())?.parse().ok() }
            fn captured(n: &str) -> Option<i64> {
                let re = regex::Regex::new(r"^see\ #(?P<id>\d+)").unwrap();
                re.captures(n)?.name("id")?.as_str().parse().ok()
            }
            fn constant_pattern(n: &str) -> bool { Regex::new(RE).unwrap().is_match(n) }
            fn spaced(n: &str) -> Option<i64> { n.split(' ').nth(1)?.parse().ok() }
            fn no_key(n: &str) -> bool { n.starts_with("plain") }
            "##,
        );
        for t in [
            "ticket:", "row@", "order~", "%", "appt=", "visit/", "see #", "case ",
        ] {
            assert_eq!(rank_of(&w, t), Some(Rank::Reference), "{t:?} in {w:?}");
        }
        assert_ne!(rank_of(&w, " "), Some(Rank::Reference), "{w:?}");
        assert_eq!(rank_of(&w, "plain"), Some(Rank::Compared), "{w:?}");
    }

    #[test]
    fn a_regular_expression_s_literal_start_before_its_key() {
        let t = |p: &str| regex_template(p.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(t(r"#(\d+)").as_deref(), Some("#"));
        assert_eq!(t(r"^ref:\s*(\w+)").as_deref(), Some("ref:"));
        assert_eq!(t(r"\bvisit\.\d+").as_deref(), Some("visit."));
        assert_eq!(t(r"id=[0-9]+").as_deref(), Some("id="));
        assert_eq!(t(r"no key here"), None);
        assert_eq!(t(r"(\d+)"), None);
        assert_eq!(t(r"a|b(\d)"), None);
    }

    #[test]
    fn a_planted_bug_s_description_is_never_harvested() {
        let w = ranked(
            r#"
            const TRIG: &str = "secret trigger text";
            fn versions() -> Vec<Version> {
                vec![
                    Version::new("v1").bug("leak class words", "a note saying quartz"),
                    Version::new("v2").bug(CLASS, TRIG),
                    Version::bug(Version::new("v3"), "plain call classy", "plain call trig"),
                    Version { name: "v4", trigger: "field trig", bug_class: "field class" },
                ]
            }
            const CLASS: &str = "named class";
            struct V;
            impl Variant for V {
                fn bug_class(&self) -> &'static str { "impl class text" }
                fn trigger(&self) -> &'static str { "impl trigger text" }
                fn name(&self) -> &'static str { "vname" }
                fn run(&self, notes: &str, name: String) -> bool {
                    notes.contains("real") || notes.contains(name.as_str())
                }
            }
            "#,
        );
        for secret in [
            "leak class words",
            "leak",
            "a note saying quartz",
            "quartz",
            "secret trigger text",
            "named class",
            "plain call classy",
            "plain call trig",
            "field trig",
            "field class",
            "impl class text",
            "impl trigger text",
        ] {
            assert_eq!(rank_of(&w, secret), None, "{secret:?} in {w:?}");
        }
        assert_eq!(rank_of(&w, "real"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "v1"), Some(Rank::Literal), "{w:?}");
        // a method's value is not a local of the same name that is compared
        assert_eq!(rank_of(&w, "vname"), Some(Rank::Literal), "{w:?}");
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

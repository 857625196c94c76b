//! The constant evaluator of the harvest: what the code under test computes
//! from constants, folded as a compiler folds it. It owns the evaluator's
//! terms ([`Part`], [`Def`], [`Val`]), reading an expression into them
//! ([`fold_of`], [`definition`], [`constant_part`]: literals, names,
//! `concat!`, `[..].concat()`, `join`, `format!`, `+`, indexing, case
//! changes, `chars().rev().collect()`), and resolving them through the
//! file's bindings ([`evaluate`], [`resolve`]). The literal and name an
//! operand is ([`literal_of`], [`name_of`]) live here too: the evaluator
//! reads them, and the harvest ([`super::harvest`]) reads them through it.
//!
//! Anything not constant (an argument, a run-time value, a format spec)
//! resolves to nothing. Every read is bounded: at most [`MAX_FOLD`]
//! concatenations deep, words at most [`super::format::MAX_ENTRY`] bytes.

use std::collections::HashMap;

use syn::{Expr, Lit};

/// A piece of a constant string: bytes, or an expression over names still
/// to resolve (the evaluator's terms).
#[derive(Debug, Clone)]
pub(super) enum Part {
    Bytes(Vec<u8>),
    /// The string a name is bound to.
    Name(String),
    /// The pieces of a named array (or slice, or tuple) joined by a
    /// separator (`PARTS.join("-")`; `None`: `PARTS.concat()`).
    Join(String, Option<Vec<Part>>),
    /// Element `i` of a named array or tuple (`PARTS[1]`, `PAIR.0`).
    Index(String, usize),
    /// A string transformed (`to_lowercase`, `chars().rev().collect()`).
    Map(Op, Vec<Part>),
}

/// A transformation of a constant string.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Lower,
    Upper,
    Rev,
}

/// What a name is bound to: a string, or an array (slice, tuple) of them.
#[derive(Debug, Clone)]
pub(super) enum Def {
    Str(Vec<Part>),
    Arr(Vec<Vec<Part>>),
}

/// A resolved [`Def`].
#[derive(Debug, Clone)]
pub(super) enum Val {
    Str(Vec<u8>),
    Arr(Vec<Vec<u8>>),
}

/// The bytes `parts` make, every name resolved through `known`; `None`
/// when a name is unknown (not a constant) or the word is too long.
pub(super) fn resolve(parts: &[Part], known: &HashMap<String, Val>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Part::Bytes(b) => out.extend_from_slice(b),
            Part::Name(n) => match known.get(n)? {
                Val::Str(v) => out.extend_from_slice(v),
                Val::Arr(_) => return None,
            },
            Part::Join(n, sep) => {
                let Val::Arr(items) = known.get(n)? else {
                    return None;
                };
                let sep = match sep {
                    Some(s) => resolve(s, known)?,
                    None => Vec::new(),
                };
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(&sep);
                    }
                    out.extend_from_slice(x);
                    if out.len() > super::format::MAX_ENTRY {
                        return None;
                    }
                }
            }
            Part::Index(n, i) => match known.get(n)? {
                Val::Arr(items) => out.extend_from_slice(items.get(*i)?),
                Val::Str(_) => return None,
            },
            Part::Map(op, inner) => {
                let v = resolve(inner, known)?;
                let s = String::from_utf8(v).ok()?;
                let m = match op {
                    Op::Lower => s.to_lowercase(),
                    Op::Upper => s.to_uppercase(),
                    Op::Rev => s.chars().rev().collect(),
                };
                out.extend_from_slice(m.as_bytes());
            }
        }
        if out.len() > super::format::MAX_ENTRY {
            return None;
        }
    }
    Some(out)
}

/// A definition resolved through `known`.
pub(super) fn resolve_def(d: &Def, known: &HashMap<String, Val>) -> Option<Val> {
    match d {
        Def::Str(p) => resolve(p, known).map(Val::Str),
        Def::Arr(items) => items
            .iter()
            .map(|p| resolve(p, known))
            .collect::<Option<Vec<_>>>()
            .map(Val::Arr),
    }
}

/// Names to values, through chains of constants: rounds until nothing more
/// resolves (at most [`MAX_FOLD`]: each round resolves one more level).
pub(super) fn evaluate(bindings: &[(String, Def)]) -> HashMap<String, Val> {
    let mut known: HashMap<String, Val> = HashMap::new();
    for _ in 0..MAX_FOLD {
        let mut progress = false;
        for (name, def) in bindings {
            if !known.contains_key(name) {
                if let Some(v) = resolve_def(def, &known) {
                    known.insert(name.clone(), v);
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    known
}

pub(super) fn lit_bytes(lit: &Lit) -> Option<Vec<u8>> {
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
pub(super) fn literal_of(e: &Expr) -> Option<Vec<u8>> {
    match e {
        Expr::Lit(l) => lit_bytes(&l.lit),
        Expr::Reference(r) => literal_of(&r.expr),
        Expr::Paren(p) => literal_of(&p.expr),
        Expr::Group(g) => literal_of(&g.expr),
        // a conversion (`"x".to_string()`), not a transformation the
        // evaluator folds (`"X".to_lowercase()`, `.chars().rev().collect()`)
        Expr::MethodCall(m)
            if m.args.is_empty()
                && case_op(&m.method).is_none()
                && !matches!(&*m.method.to_string(), "collect" | "rev") =>
        {
            literal_of(&m.receiver)
        }
        Expr::Call(c) if c.args.len() == 1 => literal_of(&c.args[0]),
        _ => None,
    }
}

/// The name an operand refers to (`NAME`, `self.word`, `&word`), if any.
pub(super) fn name_of(e: &Expr) -> Option<String> {
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
pub(super) fn fold_of(e: &Expr) -> Option<Vec<Part>> {
    fold_at(e, 0)
}

/// Deepest nest of concatenations folded.
pub(super) const MAX_FOLD: usize = 8;

pub(super) fn fold_at(e: &Expr, depth: usize) -> Option<Vec<Part>> {
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
        // `String::from(X)`, `String::from_str(X)` of a constant that is not a literal
        Expr::Call(c) if c.args.len() == 1 && is_conversion_call(&c.func) => {
            constant_part(&c.args[0], depth + 1)
        }
        // `A + B`, `A.to_string() + "-" + &B`
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => {
            let mut parts = constant_part(&b.left, depth + 1)?;
            parts.extend(constant_part(&b.right, depth + 1)?);
            Some(parts)
        }
        // `PARTS[1]`, `PAIR.0`
        Expr::Index(i) => {
            let Expr::Lit(syn::ExprLit {
                lit: Lit::Int(n), ..
            }) = &*i.index
            else {
                return None;
            };
            Some(vec![Part::Index(
                path_name(&i.expr)?,
                n.base10_parse().ok()?,
            )])
        }
        Expr::Field(f) => match &f.member {
            syn::Member::Unnamed(n) => {
                Some(vec![Part::Index(path_name(&f.base)?, n.index as usize)])
            }
            syn::Member::Named(_) => None,
        },
        Expr::MethodCall(m)
            if m.args.is_empty() && CONVERSIONS.contains(&&*m.method.to_string()) =>
        {
            match &*m.receiver {
                // a name converted (`A.to_string()`) is the name's value
                Expr::Path(_) => constant_part(&m.receiver, depth + 1),
                _ => fold_at(&m.receiver, depth + 1),
            }
        }
        Expr::MethodCall(m) if m.args.is_empty() && case_op(&m.method).is_some() => {
            Some(vec![Part::Map(
                case_op(&m.method)?,
                constant_part(&m.receiver, depth + 1)?,
            )])
        }
        // `X.chars().rev().collect::<String>()`
        Expr::MethodCall(m) if m.method == "collect" && m.args.is_empty() => {
            let Expr::MethodCall(rev) = &*m.receiver else {
                return None;
            };
            let Expr::MethodCall(chars) = &*rev.receiver else {
                return None;
            };
            (rev.method == "rev" && chars.method == "chars").then_some(())?;
            Some(vec![Part::Map(
                Op::Rev,
                constant_part(&chars.receiver, depth + 1)?,
            )])
        }
        Expr::MethodCall(m)
            if (m.method == "concat" && m.args.is_empty())
                || (m.method == "join" && m.args.len() == 1) =>
        {
            let mut r = &*m.receiver;
            while let Expr::Reference(x) = r {
                r = &x.expr;
            }
            // `join(sep)`: the separator between the pieces, a constant too
            let sep = match m.args.first() {
                None => None,
                Some(x) => Some(constant_part(x, depth + 1)?),
            };
            let Expr::Array(a) = r else {
                // a named array (slice, tuple) joined: `PARTS.join("")`
                return Some(vec![Part::Join(path_name(r)?, sep)]);
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

/// Methods that convert a string without changing it.
pub(super) const CONVERSIONS: &[&str] =
    &["to_string", "to_owned", "into", "as_str", "clone", "as_ref"];

/// The transformation a method without arguments makes of a string.
pub(super) fn case_op(method: &syn::Ident) -> Option<Op> {
    match method.to_string().as_str() {
        "to_lowercase" | "to_ascii_lowercase" => Some(Op::Lower),
        "to_uppercase" | "to_ascii_uppercase" => Some(Op::Upper),
        _ => None,
    }
}

/// A call that converts its one argument without changing it
/// (`String::from(X)`).
pub(super) fn is_conversion_call(f: &Expr) -> bool {
    let Expr::Path(p) = f else { return false };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(
        segs.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["String", "from"] | ["String", "from_str"] | ["str", "to_string"] | ["Cow", "from"]
    )
}

/// The name an expression is (`PARTS`, `&PARTS`, `self::PARTS`), if it is one.
pub(super) fn path_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => Some(p.path.segments.last()?.ident.to_string()),
        Expr::Reference(r) => path_name(&r.expr),
        Expr::Paren(p) => path_name(&p.expr),
        _ => None,
    }
}

/// One piece of a constant concatenation: a literal, a name, or a nested
/// concatenation.
pub(super) fn constant_part(x: &Expr, depth: usize) -> Option<Vec<Part>> {
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
pub(super) fn format_parts(m: &syn::Macro, depth: usize) -> Option<Vec<Part>> {
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
pub(super) fn concat_tokens(body: proc_macro2::TokenStream, depth: usize) -> Option<Vec<Part>> {
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

/// What an expression binds a name to: a constant string (a literal, a
/// fold, another name) or an array, slice or tuple of them; `None` for
/// anything not constant.
pub(super) fn definition(e: &Expr) -> Option<Def> {
    if let Some(v) = literal_of(e) {
        return Some(Def::Str(vec![Part::Bytes(v)]));
    }
    if let Some(parts) = fold_of(e) {
        return Some(Def::Str(parts));
    }
    match e {
        // a constant defined as another (`const B: &str = A;`)
        Expr::Path(p) => Some(Def::Str(vec![Part::Name(
            p.path.segments.last()?.ident.to_string(),
        )])),
        Expr::Reference(r) => definition(&r.expr),
        Expr::Paren(p) => definition(&p.expr),
        Expr::Array(a) => Some(Def::Arr(
            a.elems
                .iter()
                .map(|x| constant_part(x, 1))
                .collect::<Option<Vec<_>>>()?,
        )),
        Expr::Tuple(t) => Some(Def::Arr(
            t.elems
                .iter()
                .map(|x| constant_part(x, 1))
                .collect::<Option<Vec<_>>>()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::harvest::tests::{rank_of, ranked};
    use super::super::Rank;

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
    fn a_named_array_joined_later_is_its_word() {
        let w = ranked(
            r#"
            const PARTS: [&str; 2] = ["house", "call"];
            static SLICE: &[&str] = &["over", "due"];
            const PAIR: (&str, &str) = ("on", "hold");
            fn f(notes: &str) -> bool {
                notes.contains(&PARTS.join(""))
                    || notes.starts_with(&SLICE.join("-"))
                    || notes == PAIR.0.to_string() + PAIR.1
                    || notes.ends_with(&SLICE.concat().to_uppercase())
                    || notes.contains(PARTS[1])
            }
            "#,
        );
        assert_eq!(rank_of(&w, "housecall"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "over-due"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "onhold"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "OVERDUE"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "call"), Some(Rank::Compared), "{w:?}");
    }

    #[test]
    fn constants_built_from_constants_are_evaluated() {
        let w = ranked(
            r#"
            // defined before what they are built from
            const ALL: [&str; 2] = [WHOLE, HEAD];
            const WHOLE: &str = concat!("stat", "!");
            const WORDS: [&str; 2] = [HEAD, "x"];
            const HEAD: &str = "pri";
            const TAIL: [&str; 2] = ["ori", "ty"];
            fn key() -> String { [HEAD, TAIL[0], TAIL[1]].concat() }
            fn f(notes: &str) -> bool {
                notes.contains(&key()) || notes.contains(&WORDS.join("+"))
                    || notes.contains(&ALL.join(""))
            }
            "#,
        );
        assert_eq!(rank_of(&w, "priority"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "pri+x"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "stat!pri"), Some(Rank::Compared), "{w:?}");
    }

    #[test]
    fn let_bindings_through_a_small_function_are_evaluated() {
        let w = ranked(
            r#"
            const A: &str = "Mar";
            fn stem() -> String { let low = A.to_lowercase(); low + "k" }
            fn f(notes: &str) -> bool {
                let mut word = stem();
                word.push_str("ed");
                let mut loud = String::from(A);
                loud += "CH";
                let back: String = "nomis".chars().rev().collect();
                notes.contains(&word) || notes == loud || notes.starts_with(&back)
                    || notes.contains(&A.to_uppercase())
                    || notes.contains(&format!("{}-{}", stem(), A.to_ascii_lowercase()))
            }
            "#,
        );
        assert_eq!(
            rank_of(&w, "markeded"),
            None,
            "push_str appends once: {w:?}"
        );
        assert_eq!(rank_of(&w, "marked"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "MarCH"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "simon"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "MAR"), Some(Rank::Compared), "{w:?}");
        assert_eq!(rank_of(&w, "mark-mar"), Some(Rank::Compared), "{w:?}");
    }

    #[test]
    fn anything_not_constant_gives_no_word() {
        let w = ranked(
            r#"
            const A: &str = "con";
            fn f(notes: &str, other: &str, parts: &[&str]) -> bool {
                notes.contains(&(A.to_string() + other))
                    || notes.contains(&parts.join(""))
                    || notes.contains(&other.to_lowercase())
                    || notes.contains(&format!("{A}{}", other.len()))
            }
            "#,
        );
        // the literals themselves, and no fold
        assert!(
            w.iter().all(|(x, _)| ["con", "", "{A}{}"].contains(&&**x)),
            "{w:?}"
        );
        assert_eq!(rank_of(&w, "con"), Some(Rank::Literal), "{w:?}");
    }
}

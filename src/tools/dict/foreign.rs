//! Words from application source in other languages (PHP, Python,
//! JavaScript, TypeScript and TSX, Ruby, Go, Java), read with their
//! tree-sitter grammars, not grepped, and ranked as [`super::harvest`] ranks
//! Rust's: what this module owns is the reading of those languages; the
//! ranks, the literal and fragment words, and a regular expression's
//! template are the Rust harvest's own (`harvest::literal_words`,
//! `harvest::regex_template`). What each grammar calls a string, a call or
//! an arm is in `foreign/syntax.rs`; a literal's text (interpolations,
//! escapes, PHP's regex delimiters) in `foreign/text.rs`; the walk over a
//! file's tree and the ranks it gives in `foreign/walk.rs`, calls in
//! `foreign/calls.rs`.
//!
//! - [`Rank::Compared`]: a string or character literal that is an operand
//!   of `==`, `===`, `!=`, `!==`, `<>`, `in` / `not in` (Python), `=~`
//!   (Ruby); of a `switch` / `case` / `match` / `when` arm; of a call that
//!   compares text (`str_contains`, `strpos`, `startswith`, `includes`,
//!   `include?`, `strings.Contains`, `equals`, ...: `syntax.rs` lists them),
//!   its receiver included (`"x".equals(s)`, `['a', 'b'].includes(s)`);
//!   the elements of an array compared (`in ('a', 'b')`, `in_array`); an
//!   operand seen through a case conversion (`strtolower('X')`,
//!   `s.lower()`); a name bound to a literal (`const`, assignment, field,
//!   `define`) when that name is compared; and the literal start of every
//!   regular expression (`preg_match('/urgent/i', ..)`: `urgent`).
//! - [`Rank::Reference`]: the literal start of a regular expression before
//!   its first group or digit class (`preg_match('/^see #(\d+)/', ..)`,
//!   `re.match(r"ref:(\d+)", s)`, `/ref:(\d+)/`, `regexp.MustCompile`,
//!   `Pattern.compile`), and a literal (or a name bound to one) passed to a
//!   prefix call (`startswith`, `str_starts_with`, `explode`, `split`,
//!   `HasPrefix`, ...) in a function that reads a number (`int`,
//!   `intval`, `(int)`, `parseInt`, `to_i`, `strconv.Atoi`,
//!   `Integer.parseInt`, ...). The top level of a file is a function too,
//!   and a closure is part of the function it is written in.
//! - [`Rank::Literal`] and [`Rank::Fragment`]: every other string literal,
//!   as in Rust (the words of SQL inside strings are fragments).
//!
//! An interpolated string gives its literal parts, each a word of its own.
//! Comments are not code and Python docstrings are skipped. A file its
//! grammar reads with a syntax error is skipped with a warning (a missing
//! brace loses the words of that file, as `syn` does for Rust); a parse is
//! cancelled after [`PARSE_TIME`]. The tree is walked without recursion, so
//! a deep nest of code cannot overflow the stack.

mod calls;
mod syntax;
mod text;
mod walk;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tree_sitter::{Node, Parser, Tree};

use super::Rank;
use syntax::Syntax;
use walk::Walk;

/// Longest one file's parse may take before it is skipped.
pub const PARSE_TIME: Duration = Duration::from_secs(20);

/// Extensions of the files read besides `.rs` (in messages, in this order).
pub const EXTENSIONS: &[&str] = &[
    "php", "py", "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "rb", "go", "java",
];

/// Whether a file ending in `.ext` is read by a grammar here.
pub fn reads(ext: &str) -> bool {
    syntax::for_extension(ext).is_some()
}

/// Parses `source`, a file ending in `.ext`, and harvests it; `Err` says why
/// the file is skipped (no grammar, a syntax error, a parse too long).
pub(crate) fn harvest(ext: &str, source: &str) -> Result<Vec<(Vec<u8>, Rank)>, String> {
    let syn = syntax::for_extension(ext).ok_or_else(|| format!("no grammar reads .{ext}"))?;
    let tree = parse(syn, source)?;
    let mut w = Walk::new(syn, source.as_bytes());
    w.walk(tree.root_node());
    Ok(w.finish())
}

fn parse(syn: &Syntax, source: &str) -> Result<Tree, String> {
    let mut parser = Parser::new();
    parser
        .set_language(&(syn.language)())
        .map_err(|e| format!("the {} grammar does not load: {e}", syn.name))?;
    let bytes = source.as_bytes();
    let start = Instant::now();
    let mut progress = |_: &tree_sitter::ParseState| {
        if start.elapsed() > PARSE_TIME {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    let tree = parser
        .parse_with_options(
            &mut |i, _| bytes.get(i..).unwrap_or(&[]),
            None,
            Some(options),
        )
        .ok_or_else(|| format!("not parsed within {} s", PARSE_TIME.as_secs()))?;
    let root = tree.root_node();
    if root.has_error() {
        let line = first_error(root).start_position().row + 1;
        return Err(format!(
            "not parseable {} (a syntax error at line {line})",
            syn.name
        ));
    }
    Ok(tree)
}

/// The first error or missing node under `root`, which has one.
fn first_error(root: Node) -> Node {
    let mut n = root;
    loop {
        let mut cursor = n.walk();
        let children: Vec<Node> = n.children(&mut cursor).collect();
        if let Some(e) = children.iter().find(|c| c.is_error() || c.is_missing()) {
            return *e;
        }
        match children.into_iter().find(|c| c.has_error()) {
            Some(c) => n = c,
            None => return n,
        }
    }
}

#[cfg(test)]
mod tests;

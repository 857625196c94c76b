//! How deep `syn` would recurse on a Rust file, bounded from its tokens
//! before it is parsed: `syn`'s parser, its visitor and the drop of its tree
//! all recurse once per level of the syntax tree, so a file nested deep
//! enough (4,000 parentheses, 50,000 blocks, a 500,000-term `+` chain,
//! `!!!!...x`, `Vec<Vec<...>>`, `else if` chains, macros in macros)
//! overflows any stack. The tokenizer (`proc_macro2`) is iterative, so this
//! is safe on any input.
//!
//! The estimate: every level of the tree consumes at least one token (an
//! operator, a keyword, a bracket), so the depth at a token is at most the
//! number of tokens before it in its statement (since the last `;` or `,`
//! at the same bracket level, or since a block followed by a new item or
//! statement) plus the same count at every enclosing bracket level, plus
//! one per bracket. Ordinary code stays far below [`MAX_DEPTH`]: nesting
//! adds a short statement prefix per level.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Largest depth estimate parsed (a file past it is skipped with a warning).
pub const MAX_DEPTH: usize = 3_000;
/// Most tokens in one file parsed: `syn`'s tree costs a few hundred bytes per
/// token, so this bounds a file's tree at about 100 MB.
pub const MAX_TOKENS: usize = 400_000;

/// Why a file is not parsed: past a bound, with the value found.
#[derive(Debug, PartialEq, Eq)]
pub enum TooMuch {
    /// The depth estimate went past [`MAX_DEPTH`].
    Depth,
    /// More than [`MAX_TOKENS`] tokens.
    Tokens,
}

/// Whether a token after a `}` starts a new item or statement.
fn starts_anew(t: &TokenTree) -> bool {
    match t {
        TokenTree::Ident(i) => i != "else" && i != "as",
        TokenTree::Literal(_) => true,
        TokenTree::Punct(p) => p.as_char() == '#',
        TokenTree::Group(_) => false,
    }
}

/// Checks `tokens` against [`MAX_DEPTH`] and [`MAX_TOKENS`] without recursion.
pub fn check(tokens: TokenStream) -> Result<(), TooMuch> {
    // per open bracket level: its remaining tokens, the depth at its start,
    // the tokens of the current statement so far, whether it is a block
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, usize, usize, bool)> =
        vec![(tokens.into_iter(), 0, 0, false)];
    let mut count = 0usize;
    let mut after_block = false;
    let mut in_attribute = false;
    while let Some((iter, base, statement, _)) = stack.last_mut() {
        let Some(t) = iter.next() else {
            // a block's end may start a new statement; other groups never do
            after_block = stack.pop().is_some_and(|level| level.3);
            continue;
        };
        count += 1;
        if count > MAX_TOKENS {
            return Err(TooMuch::Tokens);
        }
        if after_block && starts_anew(&t) {
            *statement = 0;
        }
        after_block = false;
        // an attribute (`#[..]`, `#![..]`, every doc comment line) adds no
        // level to what follows it: its tokens do not count
        let attribute = match &t {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                in_attribute = true;
                true
            }
            TokenTree::Punct(p) if p.as_char() == '!' && in_attribute => true,
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket && in_attribute => {
                in_attribute = false;
                true
            }
            _ => {
                in_attribute = false;
                false
            }
        };
        if !attribute {
            *statement += 1;
        }
        let depth = *base + *statement;
        if depth > MAX_DEPTH {
            return Err(TooMuch::Depth);
        }
        match t {
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | ',') => *statement = 0,
            TokenTree::Group(g) => {
                let brace = g.delimiter() == Delimiter::Brace;
                stack.push((g.stream().into_iter(), depth + 1, 0, brace));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(src: &str) -> Result<(), TooMuch> {
        check(src.parse().unwrap())
    }

    #[test]
    fn ordinary_code_passes() {
        let items: String = (0..5_000)
            .map(|i| format!("fn f{i}() {{ let x = [1, 2, 3]; if x[0] == 1 {{ g(x) }} }}\n"))
            .collect();
        assert_eq!(of(&items), Ok(()));
        let arms: String = (0..5_000).map(|i| format!("{i} => {{ f() }}\n")).collect();
        assert_eq!(
            of(&format!(
                "fn f(x: u32) {{ match x {{ {arms} _ => {{}} }} }}"
            )),
            Ok(())
        );
        let list: String = (0..50_000).map(|i| format!("{i}, ")).collect();
        assert_eq!(of(&format!("const A: &[u32] = &[{list}];")), Ok(()));
        let docs = "/// a line of documentation\n".repeat(10_000);
        assert_eq!(
            of(&format!("//! module docs\n{docs}{docs}fn f() {{}}")),
            Ok(())
        );
    }

    #[test]
    fn every_kind_of_deep_nesting_is_caught() {
        let n = MAX_DEPTH + 1;
        for src in [
            format!("fn f() {{ {}1{} }}", "(".repeat(n), ")".repeat(n)),
            format!("fn f() {}{}", "{".repeat(n), "}".repeat(n)),
            format!("fn f() {{ x = {}1; }}", "1 + ".repeat(n)),
            format!("fn f() {{ x = {}y; }}", "!".repeat(n)),
            format!("type T = {}u8{};", "Vec<".repeat(n), ">".repeat(n)),
            format!("fn f() {{ if a {{}} {} }}", "else if a {} ".repeat(n)),
            format!("fn f() {{ {}x{} }}", "m!(".repeat(n), ")".repeat(n)),
            format!("fn f() {{ x{} }}", ".a()".repeat(n)),
            format!("fn f() {{ x = 1{}; }}", " + #[a] 1".repeat(n)),
        ] {
            assert_eq!(of(&src), Err(TooMuch::Depth), "{}", &src[..40]);
        }
        let many: String = "x, ".repeat(MAX_TOKENS);
        assert_eq!(of(&format!("m!({many})")), Err(TooMuch::Tokens));
    }
}

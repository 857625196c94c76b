//! The feedback libFuzzer lacks: what the pipeline *did* with an input, seen
//! through the guard. An input is interesting when one of its statements has
//! a shape (syntax tree with literals abstracted) never seen before, a new
//! set of authorizer actions, or a new class of SQLite error. Code coverage
//! cannot tell `notes = 'x'` from `notes = 'x' OR 1=1`; shapes can.

use std::collections::HashSet;

use crate::harness::execute::Execution;
use crate::harness::scenario::dict;

/// Everything seen so far.
#[derive(Debug, Default)]
pub struct Feedback {
    shapes: HashSet<String>,
    accesses: HashSet<String>,
    errors: HashSet<String>,
}

impl Feedback {
    /// Records what `e` showed; true when any of it was new. The shape of
    /// a statement SQLite could not even tokenize or parse is counted but is
    /// no reason to keep the input: it is mostly the input's own junk words,
    /// and its error class already says where the syntax broke.
    pub fn observe(&mut self, e: &Execution) -> bool {
        let mut new = false;
        for s in e.statements() {
            let new_shape = self.shapes.insert(s.shape.clone());
            new |= self.accesses.insert(s.accesses.join("|"));
            match &s.error {
                Some(err) => {
                    let class = error_class(err);
                    new |= new_shape && !is_syntax(&class);
                    new |= self.errors.insert(class);
                }
                None => new |= new_shape,
            }
        }
        new
    }

    /// Distinct statement shapes seen.
    pub fn shapes(&self) -> usize {
        self.shapes.len()
    }

    /// Distinct authorizer action sets seen.
    pub fn access_sets(&self) -> usize {
        self.accesses.len()
    }

    /// Distinct SQLite error classes seen.
    pub fn error_classes(&self) -> usize {
        self.errors.len()
    }
}

/// Whether an error class says SQLite could not tokenize or parse the text.
fn is_syntax(class: &str) -> bool {
    class.ends_with("syntax error")
        || class.starts_with("unrecognized token")
        || class.starts_with("incomplete input")
}

/// A SQLite error message with what came from the input abstracted, so a
/// class means "the syntax broke in a new way", not "new junk text":
/// `near "x": syntax error` and `near "é’": syntax error` are one class
/// (`near _: syntax error`), but a keyword the dictionary knows is kept
/// (`near OR: syntax error`: the text reached a new place in the grammar);
/// `unrecognized token: _`; `no such column: _`; otherwise quoted parts
/// become `_`, numbers `N`, and the statement text rusqlite appends
/// (` in UPDATE ... at offset N`) is dropped.
pub fn error_class(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("near \"") {
        if let Some(end) = rest.find("\": syntax error") {
            let token = rest[..end].to_ascii_uppercase();
            let known = dict::tokens().iter().any(|t| {
                t.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
                    && t.eq_ignore_ascii_case(&token)
            });
            return format!(
                "near {}: syntax error",
                if known { token.as_str() } else { "_" }
            );
        }
    }
    for prefix in [
        "unrecognized token:",
        "no such column:",
        "no such table:",
        "no such function:",
    ] {
        if message.starts_with(prefix) {
            return format!("{prefix} _");
        }
    }
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                out.push('_');
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('N') {
                    out.push('N');
                }
            }
            None => out.push(c),
        }
    }
    if let Some(at) = out.find(" in ") {
        out.truncate(at);
    }
    out.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::error_class;

    #[test]
    fn error_classes_abstract_the_input() {
        assert_eq!(
            error_class(r#"near "é’": syntax error"#),
            error_class(r#"near "x": syntax error"#)
        );
        assert_eq!(error_class("no such column: bob"), "no such column: _");
        assert_eq!(
            error_class(r#"near "1": syntax error in UPDATE t SET a = 'x' 1 at offset 31"#),
            "near _: syntax error"
        );
        assert_ne!(
            error_class("unrecognized token: \"'x\""),
            error_class("near \"x\": syntax error")
        );
        assert_eq!(
            error_class(r#"near "or": syntax error in UPDATE t SET a = 'x' or"#),
            "near OR: syntax error"
        );
        assert_eq!(
            error_class(r#"near "a"b": syntax error in UPDATE t"#),
            "near _: syntax error"
        );
        assert_eq!(
            error_class(r#"unrecognized token: "'a"b in c" in UPDATE t"#),
            "unrecognized token: _"
        );
    }
}

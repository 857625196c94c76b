//! The feedback libFuzzer lacks: what the pipeline *did* with an input, seen
//! through the guard. An input is interesting when one of its statements has
//! a shape (syntax tree with literals abstracted) never seen before, a new
//! set of authorizer actions, or a new class of SQLite error. Code coverage
//! cannot tell `notes = 'x'` from `notes = 'x' OR 1=1`; shapes can.

use std::collections::HashSet;

use crate::target::Execution;

/// Everything seen so far.
#[derive(Debug, Default)]
pub struct Feedback {
    shapes: HashSet<String>,
    accesses: HashSet<String>,
    errors: HashSet<String>,
}

impl Feedback {
    /// Records what `e` showed; true when any of it was new.
    pub fn observe(&mut self, e: &Execution) -> bool {
        let mut new = false;
        for s in e.statements() {
            new |= self.shapes.insert(s.shape.clone());
            new |= self.accesses.insert(s.accesses.join("|"));
            if let Some(err) = &s.error {
                new |= self.errors.insert(error_class(err));
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

/// A SQLite error message with what came from the input abstracted:
/// `near "OR": syntax error` and `near "x": syntax error` are one class
/// (`near _: syntax error`); numbers become `N`; the text after a colon that
/// names user data (`no such column: foo`) becomes `_`; the statement text
/// rusqlite appends (` in UPDATE ... at offset N`) is dropped.
pub fn error_class(message: &str) -> String {
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
    for prefix in ["no such column:", "no such table:", "no such function:"] {
        if out.starts_with(prefix) {
            return format!("{prefix} _");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_class;

    #[test]
    fn error_classes_abstract_the_input() {
        assert_eq!(
            error_class(r#"near "OR": syntax error"#),
            error_class(r#"near "x": syntax error"#)
        );
        assert_eq!(error_class("no such column: bob"), "no such column: _");
        assert_eq!(
            error_class(r#"near "OR": syntax error in UPDATE t SET a = 'x' OR 1 at offset 31"#),
            "near _: syntax error"
        );
        assert_ne!(
            error_class("unrecognized token: \"'x\""),
            error_class("near \"x\": syntax error")
        );
    }
}

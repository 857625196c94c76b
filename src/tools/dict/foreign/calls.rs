//! Calls, whatever the grammar's shape (a function, a method on a
//! receiver, a static or package function, `new`): which compare text,
//! take a prefix, read a number or build a regular expression
//! ([`super::syntax`] names them per language).

use tree_sitter::Node;

use super::text;
use super::walk::{Operand, Walk};

/// A call, whatever the grammar's shape: `name` is the last name of the
/// callee, `qual` the receiver's text when it is a plain name (`re`).
pub(super) struct CallView<'t> {
    pub(super) name: String,
    pub(super) qual: Option<String>,
    pub(super) receiver: Option<Node<'t>>,
    pub(super) args: Vec<Node<'t>>,
}

impl Walk<'_> {
    /// `n` as a call, when it is one.
    pub(super) fn call_view<'t>(&self, n: Node<'t>) -> Option<CallView<'t>> {
        let shape = self.syn.calls.iter().find(|c| c.kind == n.kind())?;
        let (name, receiver) = match shape.callee {
            Some(f) => {
                let callee = n.child_by_field_name(f)?;
                match self.syn.members.iter().find(|m| m.0 == callee.kind()) {
                    Some(&(_, object, name)) => (
                        callee.child_by_field_name(name)?,
                        callee.child_by_field_name(object),
                    ),
                    None => (callee, None),
                }
            }
            None => (
                n.child_by_field_name(shape.name?)?,
                shape.receiver.and_then(|r| n.child_by_field_name(r)),
            ),
        };
        let name = std::str::from_utf8(self.text(name)).ok()?;
        // `\App\str_contains`: the last name
        let name = name.rsplit('\\').next()?.trim().to_string();
        let qual =
            receiver.and_then(|r| self.name_of(r).filter(|q| q.len() == r.byte_range().len()));
        let mut args = Vec::new();
        if let Some(a) = n.child_by_field_name(shape.arguments) {
            if self.syn.strings.contains(&a.kind()) {
                args.push(a);
            } else {
                let mut cursor = a.walk();
                args.extend(
                    a.named_children(&mut cursor)
                        .filter(|c| c.kind() != "comment"),
                );
            }
        }
        Some(CallView {
            name,
            qual,
            receiver,
            args,
        })
    }

    /// Whether `call` is one of `names` (`name`, or `qual.name` for that receiver only).
    fn is(call: &CallView, names: &[&str]) -> bool {
        names.iter().any(|n| match n.rsplit_once('.') {
            Some((q, m)) => m == call.name && call.qual.as_deref() == Some(q),
            None => *n == call.name,
        })
    }

    pub(super) fn call(&mut self, call: CallView) {
        let syn = self.syn;
        let regex = Self::is(&call, syn.regex_calls);
        let mut args = call.args.as_slice();
        if regex {
            if let Some(op) = args.first().and_then(|a| self.operand(*a)) {
                self.regexes.push(op);
            }
            args = args.get(1..).unwrap_or(&[]);
        }
        if Self::is(&call, syn.compare_calls) {
            if let Some(r) = call.receiver {
                self.compared(r, 0);
            }
            for a in args {
                self.compared(*a, 0);
            }
        }
        if Self::is(&call, syn.prefix_calls) {
            let ops: Vec<Operand> = args.iter().filter_map(|a| self.operand(*a)).collect();
            self.scope().prefixes.extend(ops);
        }
        if Self::is(&call, syn.parse_calls) {
            self.scope().parses = true;
        }
        // PHP's `define('NAME', 'value')`
        if call.name == "define" && call.args.len() >= 2 {
            let name = self.unwrap(call.args[0]);
            if self.syn.strings.contains(&name.kind()) {
                if let (Some(n), Some(v)) =
                    (text::whole(name, self.src), self.literal(call.args[1]))
                {
                    let n = String::from_utf8_lossy(&n).into_owned();
                    self.bindings.entry(n).or_default().push(v);
                }
            }
        }
    }

    fn literal(&self, n: Node) -> Option<Vec<u8>> {
        let n = self.unwrap(n);
        if self.syn.strings.contains(&n.kind()) {
            text::whole(n, self.src)
        } else {
            None
        }
    }
}

//! The walk over one file's syntax tree ([`super`] says what it ranks how):
//! every node once, parents first, without recursion; what a comparison,
//! an arm, a binding or a regular expression gives; the words in order at
//! the end. Calls are read in [`super::calls`].

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::harvest::{literal_words, regex_start, regex_template};
use super::super::Rank;
use super::syntax::Syntax;
use super::text;

/// A literal's parts, or a name that may be bound to one.
pub(super) enum Operand {
    Lit(Vec<Vec<u8>>),
    Name(String),
}

/// What one function body (or a file's top level) holds of a reference.
#[derive(Default)]
pub(super) struct Scope {
    pub(super) parses: bool,
    pub(super) prefixes: Vec<Operand>,
}

/// Deepest nest of collections and case conversions read in one operand.
const MAX_OPERAND: usize = 6;

pub(super) struct Walk<'s> {
    pub(super) syn: &'static Syntax,
    pub(super) src: &'s [u8],
    pub(super) words: Vec<(Vec<u8>, Rank)>,
    /// Names compared (`$x == SOME_NAME`, `s.includes(prefix)`).
    pub(super) compared_names: HashSet<String>,
    /// Names bound to a whole literal, every value in source order.
    pub(super) bindings: HashMap<String, Vec<Vec<u8>>>,
    /// Prefix operands of functions that read a number.
    pub(super) references: Vec<Operand>,
    /// Regular expressions met (a PHP one still in its delimiters).
    pub(super) regexes: Vec<Operand>,
    pub(super) scopes: Vec<Scope>,
}

impl<'s> Walk<'s> {
    pub(super) fn new(syn: &'static Syntax, src: &'s [u8]) -> Self {
        Walk {
            syn,
            src,
            words: Vec::new(),
            compared_names: HashSet::new(),
            bindings: HashMap::new(),
            references: Vec::new(),
            regexes: Vec::new(),
            scopes: vec![Scope::default()],
        }
    }

    pub(super) fn text(&self, n: Node) -> &'s [u8] {
        &self.src[n.byte_range()]
    }

    /// Every node of the tree, parents first, each with its parent (kept
    /// here: tree-sitter finds a node's parent from the root down); a
    /// function's scope ends after its children.
    pub(super) fn walk(&mut self, root: Node) {
        let mut stack = vec![(root, None, false)];
        while let Some((n, parent, done)) = stack.pop() {
            if done {
                self.end_scope();
                continue;
            }
            if !self.enter(n, parent) {
                continue;
            }
            if self.syn.functions.contains(&n.kind()) {
                self.scopes.push(Scope::default());
                stack.push((n, parent, true));
            }
            let mut cursor = n.walk();
            let children: Vec<Node> = n.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev().map(|c| (c, Some(n), false)));
        }
    }

    fn end_scope(&mut self) {
        if let Some(s) = self.scopes.pop() {
            if s.parses {
                self.references.extend(s.prefixes);
            }
        }
    }

    pub(super) fn scope(&mut self) -> &mut Scope {
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
        self.scopes.last_mut().expect("a scope")
    }

    /// Reads node `n`, a child of `parent`; `false` when its children are
    /// not code (a docstring).
    fn enter(&mut self, n: Node, parent: Option<Node>) -> bool {
        let syn = self.syn;
        let k = n.kind();
        if syn.strings.contains(&k) {
            if self.is_docstring(parent) {
                return false;
            }
            // a string inside a concatenation is read with it
            if !parent.is_some_and(|p| syn.strings.contains(&p.kind())) {
                for part in text::parts(n, self.src, false) {
                    literal_words(part, &mut self.words);
                }
            }
        } else if syn.chars.contains(&k) {
            if let Some(c) = text::char_literal(n, self.src) {
                literal_words(c, &mut self.words);
            }
        } else if syn.regexes.contains(&k) {
            let pattern = self.regex_literal(n);
            self.regexes.push(pattern);
        } else if syn.binaries.contains(&k) {
            self.binary(n);
        } else if k == "cast_expression" && !syn.casts.is_empty() {
            let ty = n
                .child_by_field_name("type")
                .map(|t| self.text(t).to_ascii_lowercase());
            if ty.is_some_and(|t| syn.casts.iter().any(|c| c.as_bytes() == t.trim_ascii())) {
                self.scope().parses = true;
            }
        } else if k == "const_element" {
            let last = n.named_child_count().saturating_sub(1) as u32;
            if let (Some(name), Some(value)) = (n.named_child(0), n.named_child(last)) {
                self.bind(name, value);
            }
        }
        if let Some(&(_, field)) = syn.cases.iter().find(|c| c.0 == k) {
            self.case(n, field);
        }
        if let Some(&(_, name, value)) = syn.bindings.iter().find(|b| b.0 == k) {
            if let (Some(name), Some(value)) =
                (n.child_by_field_name(name), n.child_by_field_name(value))
            {
                self.bind(name, value);
            }
        }
        if let Some(call) = self.call_view(n) {
            self.call(call);
        }
        true
    }

    /// A Python string alone as a statement (its parent is `parent`).
    fn is_docstring(&self, parent: Option<Node>) -> bool {
        self.syn.docstrings
            && parent
                .is_some_and(|p| p.kind() == "expression_statement" && p.named_child_count() == 1)
    }

    fn binary(&mut self, n: Node) {
        let mut cursor = n.walk();
        let field = if self.syn.name == "Python" {
            "operators"
        } else {
            "operator"
        };
        let compares = n.children_by_field_name(field, &mut cursor).any(|op| {
            let t = String::from_utf8_lossy(self.text(op));
            let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
            self.syn.comparing.contains(&t.as_str())
        });
        if compares {
            let mut cursor = n.walk();
            let operands: Vec<Node> = n.named_children(&mut cursor).collect();
            for o in operands {
                self.compared(o, 0);
            }
        }
    }

    fn case(&mut self, n: Node, field: Option<&str>) {
        let mut cursor = n.walk();
        let values: Vec<Node> = match field {
            Some(f) => n.children_by_field_name(f, &mut cursor).collect(),
            None => {
                let mut all = Vec::new();
                if cursor.goto_first_child() {
                    loop {
                        if cursor.node().is_named() && cursor.field_name().is_none() {
                            all.push(cursor.node());
                        }
                        if !cursor.goto_next_sibling() {
                            break;
                        }
                    }
                }
                all
            }
        };
        for v in values {
            self.compared(v, 0);
            // every string of a pattern (`case "a" | "b":`, a tuple pattern)
            self.strings_within(v);
        }
    }

    /// Every string literal under `n`, compared.
    fn strings_within(&mut self, n: Node) {
        let mut stack = vec![n];
        while let Some(n) = stack.pop() {
            if self.syn.strings.contains(&n.kind()) {
                for p in text::parts(n, self.src, false) {
                    self.words.push((p, Rank::Compared));
                }
                continue;
            }
            let mut cursor = n.walk();
            stack.extend(n.named_children(&mut cursor));
        }
    }

    /// `n` without the nodes that only hold it (parentheses, an argument).
    pub(super) fn unwrap<'t>(&self, mut n: Node<'t>) -> Node<'t> {
        while self.syn.wrappers.contains(&n.kind()) && n.named_child_count() == 1 {
            match n.named_child(0) {
                Some(c) => n = c,
                None => break,
            }
        }
        n
    }

    /// An operand of a comparison: its literal parts are compared words, a
    /// name is compared (its bound literal, at the end).
    pub(super) fn compared(&mut self, n: Node, depth: usize) {
        if depth > MAX_OPERAND {
            return;
        }
        let n = self.unwrap(n);
        let k = n.kind();
        let syn = self.syn;
        if syn.strings.contains(&k) {
            for p in text::parts(n, self.src, false) {
                self.words.push((p, Rank::Compared));
            }
        } else if syn.chars.contains(&k) {
            if let Some(c) = text::char_literal(n, self.src) {
                self.words.push((c, Rank::Compared));
            }
        } else if syn.regexes.contains(&k) {
            // read (and ranked) as a regular expression when it is entered
        } else if syn.collections.contains(&k) || syn.wrappers.contains(&k) {
            let mut cursor = n.walk();
            let items: Vec<Node> = n.named_children(&mut cursor).collect();
            for i in items {
                self.compared(i, depth + 1);
            }
        } else if let Some(call) = self.call_view(n) {
            if syn.casings.contains(&call.name.as_str()) {
                if let Some(inner) = call.receiver.or(call.args.first().copied()) {
                    self.compared(inner, depth + 1);
                }
            }
        } else if let Some(name) = self.name_of(n) {
            self.compared_names.insert(name);
        }
    }

    /// A literal operand's parts, or a name.
    pub(super) fn operand(&self, n: Node) -> Option<Operand> {
        let n = self.unwrap(n);
        if self.syn.strings.contains(&n.kind()) {
            return Some(Operand::Lit(text::parts(n, self.src, false)));
        }
        if self.syn.regexes.contains(&n.kind()) {
            return None;
        }
        self.name_of(n).map(Operand::Name)
    }

    /// A regular-expression literal's pattern, as written.
    fn regex_literal(&self, n: Node) -> Operand {
        match n.child_by_field_name("pattern") {
            Some(p) => Operand::Lit(vec![self.text(p).to_vec()]),
            None => Operand::Lit(text::parts(n, self.src, true)),
        }
    }

    /// The last name of a plain name or member path (`$this->prefix`,
    /// `self::PREFIX`, `config.PREFIX`, `@prefix`): `None` for anything else.
    pub(super) fn name_of(&self, n: Node) -> Option<String> {
        if n.byte_range().len() > 256 || n.named_child_count() > 3 {
            return None;
        }
        let t = std::str::from_utf8(self.text(n)).ok()?;
        if t.contains(char::is_whitespace) {
            return None;
        }
        let mut last = None;
        for seg in t.split(['.', ':', '>']) {
            let seg = seg.trim().trim_end_matches(['-', '?']).trim();
            if seg.is_empty() {
                continue;
            }
            let seg = seg.trim_start_matches(['$', '@']);
            let mut chars = seg.chars();
            let ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_');
            if !ok {
                return None;
            }
            last = Some(seg);
        }
        last.map(str::to_string)
    }

    fn bind(&mut self, name: Node, value: Node) {
        let value = self.unwrap(value);
        if !self.syn.strings.contains(&value.kind()) {
            return;
        }
        let (Some(name), Some(v)) = (
            self.name_of(self.unwrap(name)),
            text::whole(value, self.src),
        ) else {
            return;
        };
        self.bindings.entry(name).or_default().push(v);
    }

    fn resolve(&self, op: &Operand) -> Vec<Vec<u8>> {
        match op {
            Operand::Lit(parts) => parts.clone(),
            Operand::Name(n) => self.bindings.get(n).cloned().unwrap_or_default(),
        }
    }

    /// The words in source order: reference templates first, then every
    /// literal's, then the literals bound to compared names.
    pub(super) fn finish(mut self) -> Vec<(Vec<u8>, Rank)> {
        while !self.scopes.is_empty() {
            self.end_scope();
        }
        let mut out: Vec<(Vec<u8>, Rank)> = self
            .references
            .iter()
            .flat_map(|op| self.resolve(op))
            .filter(|v| !v.iter().all(u8::is_ascii_whitespace))
            .map(|v| (v, Rank::Reference))
            .collect();
        let mut starts = Vec::new();
        for op in &self.regexes {
            // an interpolated pattern: its literal start is its first part
            let Some(p) = self.resolve(op).into_iter().next() else {
                continue;
            };
            let p = match self.syn.delimited_regex {
                true => match text::undelimit(&p) {
                    Some(inner) => inner.to_vec(),
                    None => continue,
                },
                false => p,
            };
            if let Some(t) = regex_template(&p) {
                out.push((t, Rank::Reference));
            } else if let Some((start, _)) = regex_start(&p) {
                if !start.trim().is_empty() {
                    starts.push((start.into_bytes(), Rank::Compared));
                }
            }
        }
        out.extend(starts);
        out.append(&mut self.words);
        let mut names: Vec<&String> = self.compared_names.iter().collect();
        names.sort();
        for n in names {
            for v in self.bindings.get(n).into_iter().flatten() {
                out.push((v.clone(), Rank::Compared));
            }
        }
        out
    }
}

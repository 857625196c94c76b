//! What each language's tree-sitter grammar calls the things the foreign
//! harvest reads ([`super`]): its string, character and regular-expression
//! literals, comparisons, calls, `switch` / `case` / `match` arms, function
//! bodies and bindings, and the names of the calls that compare text, take a
//! prefix, read a number or build a regular expression. One [`Syntax`] per
//! language; the node kinds are the grammars' own (their `node-types.json`).

/// A call shape: the node kind and the fields that hold its parts.
pub(super) struct Call {
    pub kind: &'static str,
    /// The callee expression (a name, or a member access split by [`Syntax::members`]).
    pub callee: Option<&'static str>,
    /// The method name, when the node holds it apart (`$o->name()`, `o.name()` in Java, Ruby).
    pub name: Option<&'static str>,
    /// The receiver, when the node holds it apart.
    pub receiver: Option<&'static str>,
    pub arguments: &'static str,
}

/// How a language's grammar spells what the harvest reads.
pub(super) struct Syntax {
    /// The language's name, in messages.
    pub name: &'static str,
    pub language: fn() -> tree_sitter::Language,
    /// String literals: their text is the content and escape children.
    pub strings: &'static [&'static str],
    /// Character literals: the text between the quotes.
    pub chars: &'static [&'static str],
    /// Regular-expression literals (`/ref:(\d+)/`), read as written.
    pub regexes: &'static [&'static str],
    /// Binary comparisons (field `operator`, or Python's `operators`).
    pub binaries: &'static [&'static str],
    /// The operators of [`Syntax::binaries`] whose operands are compared.
    pub comparing: &'static [&'static str],
    pub calls: &'static [Call],
    /// Member accesses a callee is split by: (kind, object field, name field).
    pub members: &'static [(&'static str, &'static str, &'static str)],
    /// Calls whose receiver and arguments are compared (`include?`).
    /// `recv.name` matches only that receiver (`re.search`).
    pub compare_calls: &'static [&'static str],
    /// Calls whose literal arguments are a prefix a key may be parsed after.
    pub prefix_calls: &'static [&'static str],
    /// Calls that read a number out of text.
    pub parse_calls: &'static [&'static str],
    /// Calls whose first argument is a regular expression.
    pub regex_calls: &'static [&'static str],
    /// Case conversions (and trims) an operand is looked through
    /// (`strtolower('X') == $x`, `"X".toLowerCase()`).
    pub casings: &'static [&'static str],
    /// `switch` / `match` arms: (kind, field of the compared values; `None`:
    /// every named child without a field name).
    pub cases: &'static [(&'static str, Option<&'static str>)],
    /// Named functions and methods: each has its own [`Rank::Reference`]
    /// scope (a closure shares its enclosing function's, as in Rust).
    ///
    /// [`Rank::Reference`]: super::Rank::Reference
    pub functions: &'static [&'static str],
    /// Bindings of a name to a value: (kind, name field, value field).
    pub bindings: &'static [(&'static str, &'static str, &'static str)],
    /// Collections whose elements are compared one by one (`in ('a', 'b')`).
    pub collections: &'static [&'static str],
    /// Nodes that hold one expression (a parenthesis, an argument).
    pub wrappers: &'static [&'static str],
    /// PHP: a regular expression is a string with delimiters (`'/x/i'`).
    pub delimited_regex: bool,
    /// Python: a string alone as a statement is a docstring, not code.
    pub docstrings: bool,
    /// The types of a `cast_expression` that reads a number (PHP's `(int)`).
    pub casts: &'static [&'static str],
}

#[rustfmt::skip]
const WRAPPERS: &[&str] = &[
    "parenthesized_expression",
    "argument",
    "expression_list",
    "array_element_initializer",
    "literal_element",
    "pattern",
    "case_pattern",
    "expression_statement",
];

#[rustfmt::skip]
pub(super) static PHP: Syntax = Syntax {
    name: "PHP",
    language: || tree_sitter_php::LANGUAGE_PHP.into(),
    strings: &["string", "encapsed_string", "heredoc", "nowdoc"],
    chars: &[],
    regexes: &[],
    binaries: &["binary_expression"],
    comparing: &["==", "===", "!=", "!==", "<>"],
    calls: &[
        Call { kind: "function_call_expression", callee: Some("function"), name: None, receiver: None, arguments: "arguments" },
        Call { kind: "member_call_expression", callee: None, name: Some("name"), receiver: Some("object"), arguments: "arguments" },
        Call { kind: "nullsafe_member_call_expression", callee: None, name: Some("name"), receiver: Some("object"), arguments: "arguments" },
        Call { kind: "scoped_call_expression", callee: None, name: Some("name"), receiver: Some("scope"), arguments: "arguments" },
    ],
    members: &[],
    compare_calls: &[
        "str_contains", "strpos", "stripos", "strrpos", "strstr", "stristr", "str_starts_with",
        "str_ends_with", "strcmp", "strcasecmp", "strncmp", "strncasecmp", "in_array",
        "array_search", "preg_match", "preg_match_all", "substr_count",
    ],
    prefix_calls: &[
        "str_starts_with", "strpos", "stripos", "strstr", "stristr", "explode", "strncmp",
        "strncasecmp", "str_replace", "substr_count", "ltrim",
    ],
    parse_calls: &["intval", "is_numeric", "ctype_digit", "filter_var", "sscanf", "settype", "floatval"],
    regex_calls: &[
        "preg_match", "preg_match_all", "preg_replace", "preg_replace_callback", "preg_split",
        "preg_grep",
    ],
    casings: &["strtolower", "strtoupper", "mb_strtolower", "mb_strtoupper", "ucfirst", "lcfirst"],
    cases: &[("case_statement", Some("value")), ("match_conditional_expression", Some("conditional_expressions"))],
    functions: &["function_definition", "method_declaration"],
    bindings: &[("assignment_expression", "left", "right"), ("property_element", "name", "default_value")],
    collections: &["array_creation_expression", "match_condition_list"],
    wrappers: WRAPPERS,
    delimited_regex: true,
    docstrings: false,
    casts: &["int", "integer", "float", "double"],
};

#[rustfmt::skip]
pub(super) static PYTHON: Syntax = Syntax {
    name: "Python",
    language: || tree_sitter_python::LANGUAGE.into(),
    strings: &["string", "concatenated_string"],
    chars: &[],
    regexes: &[],
    binaries: &["comparison_operator"],
    comparing: &["==", "!=", "<>", "in", "not in"],
    calls: &[Call { kind: "call", callee: Some("function"), name: None, receiver: None, arguments: "arguments" }],
    members: &[("attribute", "object", "attribute")],
    compare_calls: &[
        "startswith", "endswith", "find", "rfind", "index", "count", "removeprefix",
        "removesuffix", "partition", "re.search", "re.match", "re.fullmatch", "re.findall",
    ],
    prefix_calls: &["startswith", "removeprefix", "split", "partition", "find", "index", "lstrip"],
    parse_calls: &["int", "float", "isdigit", "isdecimal", "isnumeric", "literal_eval"],
    regex_calls: &[
        "re.match", "re.search", "re.fullmatch", "re.findall", "re.finditer", "re.compile",
        "re.sub", "re.split",
    ],
    casings: &["lower", "upper", "casefold", "title", "capitalize"],
    cases: &[("case_clause", None)],
    functions: &["function_definition"],
    bindings: &[("assignment", "left", "right")],
    collections: &["list", "tuple", "set"],
    wrappers: WRAPPERS,
    delimited_regex: false,
    docstrings: true,
    casts: &[],
};

#[rustfmt::skip]
const JS_CALLS: &[Call] = &[
    Call { kind: "call_expression", callee: Some("function"), name: None, receiver: None, arguments: "arguments" },
    Call { kind: "new_expression", callee: Some("constructor"), name: None, receiver: None, arguments: "arguments" },
];
#[rustfmt::skip]
const JS_COMPARE: &[&str] = &[
    "includes", "startsWith", "endsWith", "indexOf", "lastIndexOf", "match", "matchAll", "test",
    "search", "localeCompare",
];
#[rustfmt::skip]
const JS_PREFIX: &[&str] = &["startsWith", "split", "indexOf", "replace"];
#[rustfmt::skip]
const JS_PARSE: &[&str] = &["parseInt", "parseFloat", "Number", "BigInt", "isInteger"];
#[rustfmt::skip]
const JS_CASINGS: &[&str] = &["toLowerCase", "toUpperCase", "toLocaleLowerCase", "toLocaleUpperCase"];
#[rustfmt::skip]
const JS_FUNCTIONS: &[&str] = &[
    "function_declaration", "method_definition", "generator_function_declaration",
];
#[rustfmt::skip]
const JS_BINDINGS: &[(&str, &str, &str)] = &[
    ("variable_declarator", "name", "value"),
    ("assignment_expression", "left", "right"),
    ("field_definition", "property", "value"),
    ("public_field_definition", "name", "value"),
    // TypeScript: `enum Status { Paid = "paid" }`
    ("enum_assignment", "name", "value"),
];

#[rustfmt::skip]
pub(super) static JAVASCRIPT: Syntax = Syntax {
    name: "JavaScript",
    language: || tree_sitter_javascript::LANGUAGE.into(),
    ..JS_LIKE
};

#[rustfmt::skip]
pub(super) static TYPESCRIPT: Syntax = Syntax {
    name: "TypeScript",
    language: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
    ..JS_LIKE
};

#[rustfmt::skip]
pub(super) static TSX: Syntax = Syntax {
    name: "TSX",
    language: || tree_sitter_typescript::LANGUAGE_TSX.into(),
    ..JS_LIKE
};

#[rustfmt::skip]
const JS_LIKE: Syntax = Syntax {
    name: "",
    language: || tree_sitter_javascript::LANGUAGE.into(),
    strings: &["string", "template_string"],
    chars: &[],
    regexes: &["regex"],
    binaries: &["binary_expression"],
    comparing: &["==", "===", "!=", "!==", "in"],
    calls: JS_CALLS,
    members: &[("member_expression", "object", "property")],
    compare_calls: JS_COMPARE,
    prefix_calls: JS_PREFIX,
    parse_calls: JS_PARSE,
    regex_calls: &["RegExp"],
    casings: JS_CASINGS,
    cases: &[("switch_case", Some("value"))],
    functions: JS_FUNCTIONS,
    bindings: JS_BINDINGS,
    collections: &["array"],
    wrappers: WRAPPERS,
    delimited_regex: false,
    docstrings: false,
    casts: &[],
};

#[rustfmt::skip]
pub(super) static RUBY: Syntax = Syntax {
    name: "Ruby",
    language: || tree_sitter_ruby::LANGUAGE.into(),
    strings: &["string", "chained_string", "bare_string", "delimited_symbol", "heredoc_body"],
    chars: &[],
    regexes: &["regex"],
    binaries: &["binary"],
    comparing: &["==", "!=", "===", "=~", "!~", "eql?"],
    calls: &[Call { kind: "call", callee: None, name: Some("method"), receiver: Some("receiver"), arguments: "arguments" }],
    members: &[],
    compare_calls: &[
        "include?", "start_with?", "end_with?", "match", "match?", "index", "eql?", "equal?",
        "casecmp", "casecmp?", "scan", "delete_prefix", "delete_suffix",
    ],
    prefix_calls: &["start_with?", "delete_prefix", "split", "partition", "index", "sub", "lstrip"],
    parse_calls: &["to_i", "to_f", "Integer", "Float", "to_r"],
    regex_calls: &["Regexp.new", "Regexp.compile"],
    casings: &["downcase", "upcase", "capitalize", "swapcase"],
    cases: &[("when", Some("pattern")), ("in_clause", Some("pattern"))],
    functions: &["method", "singleton_method"],
    bindings: &[("assignment", "left", "right")],
    collections: &["array", "string_array"],
    wrappers: WRAPPERS,
    delimited_regex: false,
    docstrings: false,
    casts: &[],
};

#[rustfmt::skip]
pub(super) static GO: Syntax = Syntax {
    name: "Go",
    language: || tree_sitter_go::LANGUAGE.into(),
    strings: &["interpreted_string_literal", "raw_string_literal"],
    chars: &["rune_literal"],
    regexes: &[],
    binaries: &["binary_expression"],
    comparing: &["==", "!="],
    calls: &[Call { kind: "call_expression", callee: Some("function"), name: None, receiver: None, arguments: "arguments" }],
    members: &[("selector_expression", "operand", "field")],
    compare_calls: &[
        "Contains", "ContainsAny", "ContainsRune", "HasPrefix", "HasSuffix", "EqualFold", "Index",
        "IndexAny", "LastIndex", "TrimPrefix", "TrimSuffix", "CutPrefix", "CutSuffix", "Cut",
        "Compare", "Count", "MatchString",
    ],
    prefix_calls: &[
        "HasPrefix", "TrimPrefix", "CutPrefix", "Cut", "Split", "SplitN", "SplitAfter", "Index",
        "Sscanf",
    ],
    parse_calls: &["Atoi", "ParseInt", "ParseUint", "ParseFloat", "Sscanf", "Sscan", "IsDigit"],
    regex_calls: &["regexp.MustCompile", "regexp.Compile", "regexp.MatchString", "regexp.MustCompilePOSIX"],
    casings: &["ToLower", "ToUpper", "Title", "ToTitle"],
    cases: &[("expression_case", Some("value"))],
    functions: &["function_declaration", "method_declaration"],
    bindings: &[
        ("const_spec", "name", "value"),
        ("var_spec", "name", "value"),
        ("short_var_declaration", "left", "right"),
        ("assignment_statement", "left", "right"),
    ],
    collections: &["composite_literal", "literal_value"],
    wrappers: WRAPPERS,
    delimited_regex: false,
    docstrings: false,
    casts: &[],
};

#[rustfmt::skip]
pub(super) static JAVA: Syntax = Syntax {
    name: "Java",
    language: || tree_sitter_java::LANGUAGE.into(),
    strings: &["string_literal"],
    chars: &["character_literal"],
    regexes: &[],
    binaries: &["binary_expression"],
    comparing: &["==", "!="],
    calls: &[Call { kind: "method_invocation", callee: None, name: Some("name"), receiver: Some("object"), arguments: "arguments" }],
    members: &[],
    compare_calls: &[
        "equals", "equalsIgnoreCase", "contains", "startsWith", "endsWith", "matches", "indexOf",
        "lastIndexOf", "compareTo", "compareToIgnoreCase", "regionMatches", "contentEquals",
    ],
    prefix_calls: &["startsWith", "split", "indexOf", "replaceFirst"],
    parse_calls: &[
        "parseInt", "parseLong", "parseShort", "parseDouble", "Integer.valueOf", "Long.valueOf",
        "isDigit", "getNumericValue",
    ],
    regex_calls: &["Pattern.compile", "Pattern.matches", "matches", "replaceAll", "replaceFirst"],
    casings: &["toLowerCase", "toUpperCase", "strip", "trim"],
    cases: &[("switch_label", None)],
    functions: &["method_declaration", "constructor_declaration"],
    bindings: &[("variable_declarator", "name", "value")],
    collections: &["array_initializer"],
    wrappers: WRAPPERS,
    delimited_regex: false,
    docstrings: false,
    casts: &[],
};

/// The grammar that reads files ending in `.ext`, if rowguard reads them.
pub(super) fn for_extension(ext: &str) -> Option<&'static Syntax> {
    Some(match ext {
        "php" => &PHP,
        "py" => &PYTHON,
        "js" | "mjs" | "cjs" | "jsx" => &JAVASCRIPT,
        "ts" | "mts" | "cts" => &TYPESCRIPT,
        "tsx" => &TSX,
        "rb" => &RUBY,
        "go" => &GO,
        "java" => &JAVA,
        _ => return None,
    })
}

//! GraphQL documents typed on a `gql` line (pure): where the document ends
//! and its variables JSON begins, whether a line is still open under
//! GraphQL's bracket rules, and what operation a document is (its kind,
//! name and first root field with its arguments).
//!
//! This is not a GraphQL parser: the server parses and validates. It is a
//! lexer that knows enough (strings with escapes, `"""block strings"""`,
//! `#` comments, commas as whitespace) that a brace inside a string or a
//! comment is never taken for the end of the document, plus a walk over the
//! tokens to the first field of the first operation. A whole `@file.graphql`
//! is handled the same way as an inline document.

use std::collections::HashMap;

use serde_json::Value;
use thiserror::Error;

/// What is wrong with a `gql` document, one line each, saying what to type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GqlError {
    #[error("`gql` needs a GraphQL document; try `gql {{ hello }}` or `gql @file.graphql`")]
    Empty,
    #[error(
        "the GraphQL document never closes its `{open}` (character {at}); end it with `{close}` or continue it on the next line"
    )]
    Unclosed { open: char, close: char, at: usize },
    #[error(
        "a GraphQL string never closes its `\"` (character {at}); end it with `\"` on the same line, or use `\"\"\"` for text over several lines"
    )]
    UnclosedString { at: usize },
    #[error(
        "a GraphQL block string never closes its `\"\"\"` (character {at}); end it with `\"\"\"` or continue it on the next line"
    )]
    UnclosedBlockString { at: usize },
    #[error(
        "`{found}` at character {at} does not close the `{open}` at character {open_at}; close that one with `{close}` first"
    )]
    Mismatch {
        found: char,
        at: usize,
        open: char,
        open_at: usize,
        close: char,
    },
    #[error("`{found}` at character {at} closes nothing; remove it")]
    Stray { found: char, at: usize },
    #[error(
        "the GraphQL document has no `{{ … }}` selection set; try `gql {{ hello }}` or `gql subscription {{ messageAdded(room: \"lobby\") {{ id }} }}`"
    )]
    NoSelectionSet,
    #[error(
        "the variables after the GraphQL document must be a JSON object, like `{{\"room\": \"lobby\"}}`; {0}"
    )]
    BadVariables(String),
    #[error(
        "a GraphQL operation starts with `query`, `mutation`, `subscription` or `{{`, not `{0}`"
    )]
    NotAnOperation(String),
    #[error("the GraphQL document has only fragments; add an operation, such as `query {{ … }}`")]
    OnlyFragments,
    #[error("the GraphQL operation selects no field; name one, as in `{{ hello }}`")]
    NoField,
}

/// A `gql` line.
#[derive(Debug, Clone, PartialEq)]
pub enum GqlCommand {
    /// `gql QUERY [VARIABLES]` or `gql @file.graphql [VARIABLES]`.
    Doc {
        query: String,
        variables: Option<Value>,
        op: Operation,
    },
    /// `gql unsubscribe s1|ID|NAME|all`.
    Unsubscribe(String),
    /// `gql resubscribe`: subscribe every active document again.
    Resubscribe,
}

/// Parses what follows `gql`. A `@file` is read here (so the line's
/// errors come before anything is sent).
pub fn parse_command(rest: &str) -> Result<GqlCommand, String> {
    let rest = rest.trim();
    let (word, after) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, a)| (w, a.trim()));
    match word {
        "unsubscribe" => {
            if after.is_empty() || after.contains(char::is_whitespace) {
                return Err(
                    "`gql unsubscribe` needs one subscription; try `gql unsubscribe s1` \
                            (or its NAME, its full id, or `all`)"
                        .to_owned(),
                );
            }
            return Ok(GqlCommand::Unsubscribe(after.to_owned()));
        }
        "resubscribe" if after.is_empty() => return Ok(GqlCommand::Resubscribe),
        _ => {}
    }
    let (query, vars_text) = match rest.strip_prefix('@') {
        Some(file_and_vars) => {
            let (file, vars) = file_and_vars
                .split_once(char::is_whitespace)
                .map_or((file_and_vars, ""), |(f, v)| (f, v.trim()));
            if file.is_empty() {
                return Err("`gql @` needs a file name; try `gql @subscribe.graphql`".to_owned());
            }
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read the GraphQL document `{file}`: {e}"))?;
            (text, vars.to_owned())
        }
        None => {
            let (doc, vars) = split(rest).map_err(|e| e.to_string())?;
            (doc.to_owned(), vars.to_owned())
        }
    };
    let variables = variables(&vars_text).map_err(|e| e.to_string())?;
    let op = describe(&query, variables.as_ref()).map_err(|e| e.to_string())?;
    Ok(GqlCommand::Doc {
        query,
        variables,
        op,
    })
}

/// Splits an inline `gql` argument into the document and what follows it
/// (trimmed: the variables JSON, possibly empty).
///
/// The document ends at its first balanced top-level `}`, unless a word
/// comes next: that starts another definition (a `fragment`, or another
/// operation in a file), which belongs to the document too, while variables
/// JSON starts with `{`. Brackets inside strings, block strings and
/// comments do not count.
pub fn split(text: &str) -> Result<(&str, &str), GqlError> {
    let text = text.trim();
    let end = document_end(text)?;
    Ok((text[..end].trim_end(), text[end..].trim()))
}

/// The variables text that followed a document, as a JSON object: `None`
/// when there was none. Anything but an object is refused, as the server
/// would ("Could not parse variables as map").
pub fn variables(text: &str) -> Result<Option<Value>, GqlError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(other) => Err(GqlError::BadVariables(format!(
            "`{}` is not an object",
            crate::output::excerpt(&other.to_string(), 40)
        ))),
        Err(e) => Err(GqlError::BadVariables(e.to_string())),
    }
}

/// Whether the text of a `gql` command so far (with or without its `gql`
/// word, over one or more lines) leaves something open, so the command
/// continues on the next line: a GraphQL `{`, `(` or `[`, a block string,
/// or, once the document has closed, a JSON `{` or `[` of the variables.
///
/// The same shape as `multiline::is_incomplete`, which the prompt and the
/// script reader can call for a line whose command is `gql`. A mismatched
/// or stray closing bracket, or a plain string cut by the end of a line,
/// can never be completed: the command is complete and its error comes at
/// once. Text with no selection set at all (`gql unsubscribe s1`) never
/// continues.
pub fn is_incomplete(text: &str) -> bool {
    let t = text.trim_start();
    let t = match t.strip_prefix("gql") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        _ => t,
    };
    let t = t.trim_start();
    if let Some(file) = t.strip_prefix('@') {
        // `@file.graphql [VARIABLES]`: only the variables can be open.
        let vars = file.split_once(char::is_whitespace).map_or("", |(_, v)| v);
        return json_open(vars);
    }
    match document_end(t) {
        Ok(end) => json_open(&t[end..]),
        Err(GqlError::Unclosed { .. } | GqlError::UnclosedBlockString { .. }) => true,
        Err(_) => false,
    }
}

/// Whether variables JSON text has an unclosed `{` or `[`, by the JSON
/// payload rules.
fn json_open(vars: &str) -> bool {
    let vars = vars.trim();
    (vars.starts_with('{') || vars.starts_with('[')) && crate::lang::multiline::is_incomplete(vars)
}

/// The byte offset just past the `}` that ends the document in `text`.
fn document_end(text: &str) -> Result<usize, GqlError> {
    let mut lx = Lexer::new(text);
    // The open brackets, innermost last, with where each opened.
    let mut open: Vec<(char, usize)> = Vec::new();
    // Whether a top-level selection set has closed (and words followed).
    let mut closed_one = false;
    while let Some(tok) = lx.next()? {
        match tok.kind {
            Tok::Punct(c @ ('{' | '(' | '[')) => open.push((c, tok.start)),
            Tok::Punct(c @ ('}' | ')' | ']')) => {
                let Some((o, o_at)) = open.pop() else {
                    return Err(GqlError::Stray {
                        found: c,
                        at: lx.char_pos(tok.start),
                    });
                };
                if closer(o) != c {
                    return Err(GqlError::Mismatch {
                        found: c,
                        at: lx.char_pos(tok.start),
                        open: o,
                        open_at: lx.char_pos(o_at),
                        close: closer(o),
                    });
                }
                if open.is_empty() && c == '}' {
                    if !lx.clone().next_is_name() {
                        return Ok(lx.pos);
                    }
                    closed_one = true;
                }
            }
            _ => {}
        }
    }
    match open.last() {
        Some(&(o, at)) => Err(GqlError::Unclosed {
            open: o,
            close: closer(o),
            at: lx.char_pos(at),
        }),
        // Words after the last `}` that start nothing: the server will
        // say what is wrong with them.
        None if closed_one => Ok(text.len()),
        None if text.trim().is_empty() => Err(GqlError::Empty),
        None => Err(GqlError::NoSelectionSet),
    }
}

fn closer(open: char) -> char {
    match open {
        '{' => '}',
        '(' => ')',
        _ => ']',
    }
}

/// The kind of a GraphQL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    Subscription,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
            Kind::Subscription => "subscription",
        }
    }
}

/// What a document asks for: enough to name a subscription and show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub kind: Kind,
    /// The operation's own name (`operationName` on the wire), if it has one.
    pub operation_name: Option<String>,
    /// The first root field's name.
    pub field: String,
    /// The first root field's alias (`alias: field`), if it has one.
    pub alias: Option<String>,
    /// The first root field's arguments, name and value as display text,
    /// variables substituted where their values are known.
    pub arguments: Vec<(String, String)>,
}

impl Operation {
    /// The subscription's NAME: the operation name when given, else the
    /// root field.
    pub fn name(&self) -> &str {
        self.operation_name.as_deref().unwrap_or(&self.field)
    }

    /// The key under which the root field's value arrives in `data`.
    pub fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.field)
    }

    /// The root field as a call: `messageAdded(room: "lobby")`, or just
    /// the field when it has no arguments.
    pub fn call(&self) -> String {
        if self.arguments.is_empty() {
            return self.field.clone();
        }
        let args: Vec<String> = self
            .arguments
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!("{}({})", self.field, args.join(", "))
    }
}

/// Describes the first operation of `document` (inline or a whole file's
/// text). `variables` are substituted into the arguments shown; a variable
/// with no value shows its default, else stays `$name`.
pub fn describe(document: &str, variables: Option<&Value>) -> Result<Operation, GqlError> {
    let mut lx = Lexer::new(document);
    let mut toks = Vec::new();
    while let Some(t) = lx.next()? {
        toks.push(t);
    }
    let mut p = Walk {
        text: document,
        toks,
        i: 0,
        vars: variables,
        defaults: HashMap::new(),
    };
    let mut saw_fragment = false;
    loop {
        let Some(tok) = p.peek().cloned() else {
            return Err(if saw_fragment {
                GqlError::OnlyFragments
            } else {
                GqlError::Empty
            });
        };
        match tok {
            Tok::Name("fragment") => {
                saw_fragment = true;
                p.skip_to('{');
                p.skip_group();
            }
            Tok::Punct('{') => return p.operation(Kind::Query, None),
            Tok::Name(k @ ("query" | "mutation" | "subscription")) => {
                let kind = match k {
                    "query" => Kind::Query,
                    "mutation" => Kind::Mutation,
                    _ => Kind::Subscription,
                };
                p.i += 1;
                let name = match p.peek().cloned() {
                    Some(Tok::Name(n)) => {
                        p.i += 1;
                        Some(n.to_owned())
                    }
                    _ => None,
                };
                if p.peek() == Some(&Tok::Punct('(')) {
                    p.variable_definitions();
                }
                p.skip_to('{');
                return p.operation(kind, name);
            }
            _ => {
                let t = &p.toks[p.i];
                let text = &document[t.start..t.end];
                return Err(GqlError::NotAnOperation(crate::output::excerpt(text, 40)));
            }
        }
    }
}

/// A walk over a document's tokens.
struct Walk<'a, 'v> {
    text: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    vars: Option<&'v Value>,
    /// Default values from the variable definitions, as display text.
    defaults: HashMap<String, String>,
}

impl<'a> Walk<'a, '_> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.i).map(|t| &t.kind)
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.i).map(|t| t.kind.clone());
        self.i += 1;
        t
    }

    /// Moves to the next `c` (directives and anything else before it are
    /// passed over, groups whole).
    fn skip_to(&mut self, c: char) {
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct(p) if *p == c => return,
                Tok::Punct('(' | '[' | '{') => self.skip_group(),
                _ => self.i += 1,
            }
        }
    }

    /// Passes over the bracket group that starts here, whole.
    fn skip_group(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.bump() {
            match t {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// `($r: String = "lobby", …)`: records the defaults, passes the rest.
    fn variable_definitions(&mut self) {
        self.i += 1;
        let mut current: Option<&'a str> = None;
        while let Some(t) = self.bump() {
            match t {
                Tok::Punct(')') => return,
                Tok::Var(v) => current = Some(v),
                Tok::Punct('=') => {
                    let value = self.value();
                    if let Some(v) = current.take() {
                        self.defaults.insert(v.to_owned(), value);
                    }
                }
                Tok::Punct('(' | '[' | '{') => {
                    self.i -= 1;
                    self.skip_group();
                }
                _ => {}
            }
        }
    }

    /// At the operation's `{`: its first field, past any fragments.
    fn operation(
        &mut self,
        kind: Kind,
        operation_name: Option<String>,
    ) -> Result<Operation, GqlError> {
        if self.bump() != Some(Tok::Punct('{')) {
            return Err(GqlError::NoSelectionSet);
        }
        loop {
            match self.bump() {
                Some(Tok::Spread) => {
                    // `...Fragment` or `... on Type { … }`: not a field.
                    if self.peek() == Some(&Tok::Name("on")) {
                        self.skip_to('{');
                        self.skip_group();
                    } else {
                        self.i += 1;
                    }
                }
                Some(Tok::Name(first)) => {
                    let (alias, field) = if self.peek() == Some(&Tok::Punct(':')) {
                        self.i += 1;
                        match self.bump() {
                            Some(Tok::Name(f)) => (Some(first.to_owned()), f.to_owned()),
                            _ => return Err(GqlError::NoField),
                        }
                    } else {
                        (None, first.to_owned())
                    };
                    let arguments = if self.peek() == Some(&Tok::Punct('(')) {
                        self.arguments()
                    } else {
                        Vec::new()
                    };
                    return Ok(Operation {
                        kind,
                        operation_name,
                        field,
                        alias,
                        arguments,
                    });
                }
                Some(Tok::Punct('@')) => {
                    // A directive: its name and arguments.
                    self.i += 1;
                    if self.peek() == Some(&Tok::Punct('(')) {
                        self.skip_group();
                    }
                }
                _ => return Err(GqlError::NoField),
            }
        }
    }

    /// At `(`: `name: value` pairs up to `)`.
    fn arguments(&mut self) -> Vec<(String, String)> {
        self.i += 1;
        let mut args = Vec::new();
        while let Some(t) = self.bump() {
            match t {
                Tok::Punct(')') => break,
                Tok::Name(n) => {
                    if self.peek() == Some(&Tok::Punct(':')) {
                        self.i += 1;
                    }
                    args.push((n.to_owned(), self.value()));
                }
                _ => {}
            }
        }
        args
    }

    /// A value as display text: strings quoted as JSON, variables
    /// replaced by their values (compact JSON) when known.
    fn value(&mut self) -> String {
        let Some(t) = self.bump() else {
            return String::new();
        };
        match t {
            Tok::Var(v) => match self.vars.and_then(|vars| vars.get(v)) {
                Some(value) => value.to_string(),
                None => self.defaults.get(v).cloned().unwrap_or(format!("${v}")),
            },
            Tok::Str(s) => Value::String(s).to_string(),
            Tok::Name(n) | Tok::Num(n) => n.to_owned(),
            Tok::Punct('[') => {
                let items = self.items(']', |w| w.value());
                format!("[{}]", items.join(", "))
            }
            Tok::Punct('{') => {
                let fields = self.items('}', |w| {
                    let key = match w.bump() {
                        Some(Tok::Name(k)) => k.to_owned(),
                        _ => String::new(),
                    };
                    if w.peek() == Some(&Tok::Punct(':')) {
                        w.i += 1;
                    }
                    format!("{key}: {}", w.value())
                });
                format!("{{{}}}", fields.join(", "))
            }
            _ => {
                let t = &self.toks[self.i - 1];
                self.text[t.start..t.end].to_owned()
            }
        }
    }

    /// Items up to the closing `close`, each read by `item`.
    fn items(&mut self, close: char, mut item: impl FnMut(&mut Self) -> String) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct(c)) if *c == close => {
                    self.i += 1;
                    break;
                }
                Some(_) => out.push(item(self)),
            }
        }
        out
    }
}

/// A token and where it lies (byte offsets).
#[derive(Debug, Clone)]
struct Token<'a> {
    kind: Tok<'a>,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    /// One of `{}()[]:=!@|&`.
    Punct(char),
    Name(&'a str),
    /// `$name`, without the `$`.
    Var(&'a str),
    /// A string or block string, its value.
    Str(String),
    Num(&'a str),
    /// `...`
    Spread,
    /// Anything else, one character.
    Other(char),
}

/// GraphQL's lexical rules, as far as brackets and names need them.
#[derive(Clone)]
struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0 }
    }

    /// The 1-based character position of a byte offset, for messages.
    fn char_pos(&self, byte: usize) -> usize {
        self.text[..byte].chars().count() + 1
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// Whitespace, commas (insignificant in GraphQL), a byte order mark
    /// and `#` comments to the end of their line.
    fn skip_ignored(&mut self) {
        while let Some(c) = self.rest().chars().next() {
            if c.is_whitespace() || c == ',' || c == '\u{feff}' {
                self.pos += c.len_utf8();
            } else if c == '#' {
                let rest = self.rest();
                self.pos += rest.find(['\n', '\r']).unwrap_or(rest.len());
            } else {
                return;
            }
        }
    }

    fn next_is_name(&mut self) -> bool {
        matches!(
            self.next(),
            Ok(Some(Token {
                kind: Tok::Name(_),
                ..
            }))
        )
    }

    fn next(&mut self) -> Result<Option<Token<'a>>, GqlError> {
        self.skip_ignored();
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(None);
        };
        let kind = if rest.starts_with("\"\"\"") {
            self.block_string()?
        } else if c == '"' {
            self.string()?
        } else if rest.starts_with("...") {
            self.pos += 3;
            Tok::Spread
        } else if c == '$' {
            self.pos += 1;
            let n = self.take_while(is_name_char);
            Tok::Var(n)
        } else if c == '_' || c.is_ascii_alphabetic() {
            Tok::Name(self.take_while(is_name_char))
        } else if c == '-' || c.is_ascii_digit() {
            self.pos += 1;
            self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
            Tok::Num(&self.text[start..self.pos])
        } else {
            self.pos += c.len_utf8();
            if "{}()[]:=!@|&".contains(c) {
                Tok::Punct(c)
            } else {
                Tok::Other(c)
            }
        };
        Ok(Some(Token {
            kind,
            start,
            end: self.pos,
        }))
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c| !f(c)).unwrap_or(rest.len());
        self.pos += n;
        &rest[..n]
    }

    /// A `"…"` string: escapes pass over the next character; a line end
    /// before the closing quote is an error (GraphQL strings are one line).
    fn string(&mut self) -> Result<Tok<'a>, GqlError> {
        let start = self.pos;
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    let raw = &self.rest()[..=i];
                    self.pos += i + 1;
                    // GraphQL's escapes are JSON's, but for `\u{…}`.
                    let value = serde_json::from_str::<String>(raw)
                        .unwrap_or_else(|_| raw[1..raw.len() - 1].to_owned());
                    return Ok(Tok::Str(value));
                }
                '\n' | '\r' => break,
                _ => {}
            }
        }
        Err(GqlError::UnclosedString {
            at: self.char_pos(start),
        })
    }

    /// A `"""…"""` block string: only `\"""` is an escape.
    fn block_string(&mut self) -> Result<Tok<'a>, GqlError> {
        let start = self.pos;
        let body = &self.rest()[3..];
        let mut from = 0;
        while let Some(i) = body[from..].find("\"\"\"") {
            let at = from + i;
            if body[..at].ends_with('\\') {
                from = at + 3;
                continue;
            }
            self.pos += 3 + at + 3;
            let value = body[..at].replace("\\\"\"\"", "\"\"\"");
            return Ok(Tok::Str(value.trim().to_owned()));
        }
        Err(GqlError::UnclosedBlockString {
            at: self.char_pos(start),
        })
    }
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUB: &str =
        r#"subscription($r: String!) { messageAdded(room: $r) { id } } {"r":"lobby"}"#;

    #[test]
    fn splits_a_document_from_its_variables() {
        let (doc, vars) = split(SUB).unwrap();
        assert_eq!(
            doc,
            "subscription($r: String!) { messageAdded(room: $r) { id } }"
        );
        assert_eq!(vars, r#"{"r":"lobby"}"#);
        assert_eq!(split("{ hello }").unwrap(), ("{ hello }", ""));
        assert_eq!(split("  { hello }   ").unwrap(), ("{ hello }", ""));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = r#"{ hello(name: "a } \" {") } {"x":1}"#;
        assert_eq!(split(text).unwrap().1, r#"{"x":1}"#);
        let block = "{ hello(name: \"\"\"a } \\\"\"\" {\n\"\"\") } {}";
        assert_eq!(split(block).unwrap().1, "{}");
        let comment = "{ hello # not } here\n } {\"a\":1}";
        assert_eq!(split(comment).unwrap().1, "{\"a\":1}");
    }

    #[test]
    fn defaults_and_lists_before_the_selection_set() {
        let text = r#"query Q($x: In = {a: [1, 2]}, $y: [Int] = [3]) @dir(a: {b: 1}) { f(x: $x) } {"y":[4]}"#;
        let (doc, vars) = split(text).unwrap();
        assert!(doc.ends_with("{ f(x: $x) }"));
        assert_eq!(vars, r#"{"y":[4]}"#);
    }

    #[test]
    fn fragments_after_the_operation_belong_to_the_document() {
        let text = "{ ...F } fragment F on Query { hello } {\"a\":1}";
        let (doc, vars) = split(text).unwrap();
        assert_eq!(doc, "{ ...F } fragment F on Query { hello }");
        assert_eq!(vars, "{\"a\":1}");
    }

    #[test]
    fn words_after_the_document_stay_in_it() {
        // Not variables (those start with `{`): the server reports them.
        assert_eq!(split("{ hello } oops").unwrap(), ("{ hello } oops", ""));
        let two = "query A { a } query B { b }";
        assert_eq!(split(two).unwrap(), (two, ""));
    }

    #[test]
    fn errors_say_what_to_type() {
        let e = split("subscription { messageAdded(room: \"x\") { id }").unwrap_err();
        assert_eq!(
            e,
            GqlError::Unclosed {
                open: '{',
                close: '}',
                at: 14
            }
        );
        assert_eq!(
            e.to_string(),
            "the GraphQL document never closes its `{` (character 14); end it with `}` or continue it on the next line"
        );
        assert!(matches!(
            split("{ a(b: 1 }"),
            Err(GqlError::Mismatch {
                found: '}',
                open: '(',
                ..
            })
        ));
        assert_eq!(
            split("} {").unwrap_err(),
            GqlError::Stray { found: '}', at: 1 }
        );
        assert_eq!(
            split("{ a(b: \"x) }").unwrap_err(),
            GqlError::UnclosedString { at: 8 }
        );
        assert_eq!(
            split("{ a(b: \"\"\"x) }").unwrap_err(),
            GqlError::UnclosedBlockString { at: 8 }
        );
        assert_eq!(split("query Q").unwrap_err(), GqlError::NoSelectionSet);
        assert_eq!(split("  ").unwrap_err(), GqlError::Empty);
        for e in [split("{").unwrap_err(), split("query Q").unwrap_err()] {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn variables_must_be_an_object() {
        assert_eq!(variables("  ").unwrap(), None);
        assert_eq!(
            variables(r#"{"r":"lobby"}"#).unwrap(),
            Some(json!({"r": "lobby"}))
        );
        let e = variables("[1]").unwrap_err().to_string();
        assert!(e.contains("`[1]` is not an object"), "{e}");
        assert!(matches!(
            variables("{\"r\":"),
            Err(GqlError::BadVariables(_))
        ));
    }

    #[test]
    fn open_brackets_continue_the_line() {
        assert!(is_incomplete("gql subscription {"));
        assert!(is_incomplete("gql subscription($r: String!\n"));
        assert!(is_incomplete("gql { hello(name: \"\"\"a\nb"));
        assert!(is_incomplete("gql { hello } {\"a\":"));
        assert!(is_incomplete("gql @doc.graphql {\n \"r\": ["));
        assert!(is_incomplete("  { a { b }"));
        assert!(is_incomplete("gql {\n  # don't \"\n  hello"));
        assert!(!is_incomplete("gql { hello }"));
        assert!(!is_incomplete("gql { hello } {\"a\":1}"));
        assert!(!is_incomplete("gql @doc.graphql"));
        assert!(!is_incomplete("gql @doc.graphql {\"r\":1}"));
        assert!(!is_incomplete("gql unsubscribe s1"));
        assert!(!is_incomplete("gql"));
    }

    #[test]
    fn every_prefix_of_a_document_continues() {
        let text = "gql subscription On($r: [String!] = [\"\"\"a\n\"\"\"]) {\n  # the room's\n  m: messageAdded(room: $r) { id }\n}";
        let open_at = text.find('{').unwrap();
        for (i, _) in text.char_indices().skip(open_at + 1) {
            let prefix = &text[..i];
            assert!(is_incomplete(prefix), "{prefix:?}");
            assert!(split(&prefix[4..]).is_err(), "{prefix:?}");
            let _ = describe(&prefix[4..], None);
        }
        assert!(!is_incomplete(text));
        let op = describe(split(&text[4..]).unwrap().0, None).unwrap();
        assert_eq!(op.call(), "messageAdded(room: [\"a\"])");
    }

    #[test]
    fn what_can_never_close_ends_the_line() {
        // A string cut by the line end, or a mismatched bracket: the error
        // comes at once rather than swallowing the next lines.
        assert!(!is_incomplete("gql { hello(name: \"abc"));
        assert!(!is_incomplete("gql { hello(name: 1 }"));
        assert!(!is_incomplete("gql { # a { comment\n hello }"));
        assert!(is_incomplete("gql { # a } comment\n hello"));
    }

    #[test]
    fn describes_a_subscription_with_variables() {
        let (doc, vars) = split(SUB).unwrap();
        let vars = variables(vars).unwrap();
        let op = describe(doc, vars.as_ref()).unwrap();
        assert_eq!(op.kind, Kind::Subscription);
        assert_eq!(op.operation_name, None);
        assert_eq!(op.name(), "messageAdded");
        assert_eq!(op.call(), r#"messageAdded(room: "lobby")"#);
        // Without values the variable shows as written.
        assert_eq!(
            describe(doc, None).unwrap().call(),
            "messageAdded(room: $r)"
        );
    }

    #[test]
    fn the_operation_name_names_a_subscription() {
        let op = describe(
            "subscription OnMsg($r: String = \"hall\") { m: messageAdded(room: $r) { id } }",
            Some(&json!({})),
        )
        .unwrap();
        assert_eq!(op.name(), "OnMsg");
        assert_eq!(op.operation_name.as_deref(), Some("OnMsg"));
        assert_eq!(op.field, "messageAdded");
        assert_eq!(op.response_key(), "m");
        assert_eq!(op.call(), r#"messageAdded(room: "hall")"#);
    }

    #[test]
    fn describes_queries_and_mutations() {
        let op = describe("{ hello }", None).unwrap();
        assert_eq!((op.kind, op.call().as_str()), (Kind::Query, "hello"));
        let op = describe(
            r#"mutation { addMessage(room: "lobby", body: "hi \"you\"", tags: [A, B], meta: {n: 1.5e3, ok: true, x: null}) { id } }"#,
            None,
        )
        .unwrap();
        assert_eq!(op.kind, Kind::Mutation);
        assert_eq!(
            op.call(),
            r#"addMessage(room: "lobby", body: "hi \"you\"", tags: [A, B], meta: {n: 1.5e3, ok: true, x: null})"#
        );
        let op = describe(
            "query Q($n: Int) { a: hello(n: $n) }",
            Some(&json!({"n": {"k": [1]}})),
        )
        .unwrap();
        assert_eq!(op.call(), r#"hello(n: {"k":[1]})"#);
    }

    #[test]
    fn describes_a_whole_file() {
        let file = "# the room's messages\nfragment M on Message { id body }\n\nsubscription OnMessage($room: String!) {\n  # fields\n  messageAdded(room: $room) {\n    ...M\n  }\n}\n";
        let (doc, rest) = split(file).unwrap();
        assert_eq!(rest, "");
        assert_eq!(doc, file.trim());
        let op = describe(file, Some(&json!({"room": "lobby"}))).unwrap();
        assert_eq!(op.name(), "OnMessage");
        assert_eq!(op.call(), r#"messageAdded(room: "lobby")"#);
    }

    #[test]
    fn fragments_spreads_and_directives_are_passed_over() {
        let op = describe(
            "{ ...F ... on Query { x } @skip(if: false) hello(a: 1) }",
            None,
        );
        // A directive belongs to a field; the first field is still found.
        assert_eq!(op.unwrap().field, "hello");
    }

    #[test]
    fn describe_errors() {
        assert_eq!(describe("", None).unwrap_err(), GqlError::Empty);
        assert_eq!(
            describe("fragment F on Q { a }", None).unwrap_err(),
            GqlError::OnlyFragments
        );
        assert_eq!(describe("{ }", None).unwrap_err(), GqlError::NoField);
        assert_eq!(
            describe("subscribe { a }", None).unwrap_err(),
            GqlError::NotAnOperation("subscribe".into())
        );
        assert_eq!(
            describe("query Q", None).unwrap_err(),
            GqlError::NoSelectionSet
        );
        // Lexing errors come through too.
        assert_eq!(
            describe("{ a(b: \"x) }", None).unwrap_err(),
            GqlError::UnclosedString { at: 8 }
        );
    }
}

//! The built-in server's GraphQL recogniser: not an engine, but a small
//! parser for exactly the documents the demo schema can answer (query
//! `hello(name)`, mutation `addMessage(room, body)`, subscription
//! `messageAdded(room)`), with errors shaped as Absinthe shapes them
//! (docs/PROTOCOL.md §9).
//!
//! Pure: a document, its variables and an operation name in, a
//! [`Doc`] (what to run) or a list of [`GqlError`]s out. It knows
//! operations (anonymous `{ … }`, `query`, `mutation`, `subscription`,
//! named or not, with variable definitions), fields with aliases and
//! arguments, string, number, boolean, null, list and object literals and
//! `$variables`. Fragments and directives are refused with a message that
//! says what the schema knows.

use serde_json::{Map, Value};

/// What the schema knows, appended to errors about anything else.
pub const SCHEMA_HINT: &str = "The built-in server's schema knows only query hello(name: String), \
mutation addMessage(room: String!, body: String!) and subscription messageAdded(room: String!).";

/// A place in the document, 1-based, columns counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One GraphQL error: its message and where it points, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GqlError {
    pub message: String,
    pub at: Option<Pos>,
}

impl GqlError {
    fn at(at: Pos, message: impl Into<String>) -> GqlError {
        GqlError {
            message: message.into(),
            at: Some(at),
        }
    }
}

/// A field of the `Message` type, as selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageField {
    Id,
    Body,
    Room,
    Typename,
}

/// A selection on a `Message`: response key and field, in document order.
pub type Selection = Vec<(String, MessageField)>;

/// One root field, its arguments resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootField {
    Hello {
        key: String,
        name: Option<String>,
    },
    Typename {
        key: String,
    },
    AddMessage {
        key: String,
        room: String,
        body: String,
        selection: Selection,
    },
    MessageAdded {
        key: String,
        room: String,
        selection: Selection,
    },
}

/// The kind of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    Subscription,
}

impl Kind {
    fn root_type(self) -> &'static str {
        match self {
            Kind::Query => "RootQueryType",
            Kind::Mutation => "RootMutationType",
            Kind::Subscription => "RootSubscriptionType",
        }
    }
}

/// A recognised operation, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub kind: Kind,
    pub fields: Vec<RootField>,
}

/// The `Message` object a selection asks for, keys in Absinthe's order
/// (an Elixir map's, sorted; `serde_json::Map` sorts too).
pub fn message_json(selection: &Selection, id: &str, room: &str, body: &str) -> Value {
    let mut out = Map::new();
    for (key, field) in selection {
        let value = match field {
            MessageField::Id => id,
            MessageField::Body => body,
            MessageField::Room => room,
            MessageField::Typename => "Message",
        };
        out.insert(key.clone(), Value::String(value.to_owned()));
    }
    Value::Object(out)
}

/// Recognises `query` with `variables`, picking `operation` when the
/// document holds several.
pub fn recognise(
    query: &str,
    variables: &Map<String, Value>,
    operation: Option<&str>,
) -> Result<Doc, Vec<GqlError>> {
    let tokens = lex(query).map_err(|e| vec![e])?;
    if tokens.is_empty() {
        return Err(vec![GqlError {
            message: "No operations provided.".to_owned(),
            at: None,
        }]);
    }
    let ops = Parser { tokens, i: 0 }.document().map_err(|e| vec![e])?;
    let op = pick(&ops, operation)?;
    check(op, variables)
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(&'static str),
    Name(String),
    Str(String),
    Int(String),
    Float(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: Pos,
}

const PUNCTS: [&str; 14] = [
    "...", "!", "$", "&", "(", ")", ":", "=", "@", "[", "]", "{", "|", "}",
];

fn lex(src: &str) -> Result<Vec<Token>, GqlError> {
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut col) = (0, 1u32, 1u32);
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let at = Pos { line, column: col };
        match c {
            '\n' => {
                line += 1;
                col = 1;
                i += 1;
                continue;
            }
            ' ' | '\t' | '\r' | ',' | '\u{feff}' => {
                i += 1;
                col += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start = i;
        let tok = if c == '"' {
            let (s, end) = string(&chars, i).ok_or_else(|| failed_at(&chars, start, at))?;
            i = end;
            Tok::Str(s)
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Name(chars[start..i].iter().collect())
        } else if c == '-' || c.is_ascii_digit() {
            i = number_end(&chars, i).ok_or_else(|| failed_at(&chars, start, at))?;
            let text: String = chars[start..i].iter().collect();
            if text.contains(['.', 'e', 'E']) {
                Tok::Float(text)
            } else {
                Tok::Int(text)
            }
        } else if let Some(p) = PUNCTS
            .iter()
            .find(|p| chars[i..].iter().take(p.len()).copied().eq(p.chars()))
        {
            i += p.len();
            Tok::Punct(p)
        } else {
            return Err(failed_at(&chars, start, at));
        };
        col += (i - start) as u32;
        out.push(Token { tok, at });
    }
    Ok(out)
}

/// Absinthe's lexer error: the next ten characters.
fn failed_at(chars: &[char], i: usize, at: Pos) -> GqlError {
    let sample: String = chars[i..].iter().take(10).collect();
    GqlError::at(at, format!("Parsing failed at `{sample}`"))
}

/// A `"…"` string starting at `i` (no block strings, no line breaks): its
/// value and the index after it.
fn string(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    i += 1;
    loop {
        match *chars.get(i)? {
            '"' => return Some((out, i + 1)),
            '\n' | '\r' => return None,
            '\\' => {
                let e = *chars.get(i + 1)?;
                i += 2;
                match e {
                    '"' | '\\' | '/' => out.push(e),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = chars.get(i..i + 4)?.iter().collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        i += 4;
                    }
                    _ => return None,
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// The end of a number starting at `i`.
fn number_end(chars: &[char], mut i: usize) -> Option<usize> {
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > s
    };
    if chars[i] == '-' {
        i += 1;
    }
    if !digits(&mut i) {
        return None;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        i += 1;
        if matches!(chars.get(i), Some('+' | '-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    // A name may not follow a number directly (`12ab`).
    match chars.get(i) {
        Some(c) if c.is_ascii_alphabetic() || *c == '_' || *c == '.' => None,
        _ => Some(i),
    }
}

// ---------------------------------------------------------------- parser

#[derive(Debug, Clone)]
enum Val {
    Var(String),
    Str(String),
    Int(String),
    Float(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<Val>),
    Object(Vec<(String, Val)>),
}

#[derive(Debug)]
struct VarDef {
    name: String,
    ty: String,
    default: Option<Val>,
    at: Pos,
}

#[derive(Debug)]
struct Field {
    alias: Option<String>,
    name: String,
    args: Vec<(String, Val, Pos)>,
    selection: Option<Vec<Field>>,
    at: Pos,
}

impl Field {
    fn key(&self) -> String {
        self.alias.clone().unwrap_or_else(|| self.name.clone())
    }
}

#[derive(Debug)]
struct Op {
    kind: Kind,
    name: Option<String>,
    vars: Vec<VarDef>,
    selection: Vec<Field>,
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
}

type Parsed<T> = Result<T, GqlError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.i).map(|t| &t.tok)
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    /// yecc's message: `syntax error before: ` and the token as Erlang
    /// prints it; at the end of input, nothing, at the last token.
    fn syntax_error(&self) -> GqlError {
        let Some(token) = self.tokens.get(self.i) else {
            let at = self
                .tokens
                .last()
                .map_or(Pos { line: 1, column: 1 }, |t| t.at);
            return GqlError::at(at, "syntax error before: ");
        };
        let text = match &token.tok {
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Name(n) if KEYWORDS.contains(&n.as_str()) => n.clone(),
            Tok::Name(n) | Tok::Int(n) | Tok::Float(n) => format!("\"{n}\""),
            // Erlang prints the token's text, quotes included, as a string.
            Tok::Str(s) => serde_json::to_string(&format!("\"{s}\"")).unwrap_or_default(),
        };
        GqlError::at(token.at, format!("syntax error before: {text}"))
    }

    fn unsupported(&self, what: &str) -> GqlError {
        let at = self.tokens[self.i].at;
        GqlError::at(at, format!("{what} are not supported here. {SCHEMA_HINT}"))
    }

    fn expect(&mut self, p: &str) -> Parsed<Pos> {
        if self.is(p) {
            self.i += 1;
            Ok(self.tokens[self.i - 1].at)
        } else {
            Err(self.syntax_error())
        }
    }

    fn name(&mut self) -> Parsed<(String, Pos)> {
        match self.tokens.get(self.i) {
            Some(Token {
                tok: Tok::Name(n),
                at,
            }) => {
                self.i += 1;
                Ok((n.clone(), *at))
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn document(mut self) -> Parsed<Vec<Op>> {
        let mut ops = Vec::new();
        while self.i < self.tokens.len() {
            ops.push(self.operation()?);
        }
        Ok(ops)
    }

    fn operation(&mut self) -> Parsed<Op> {
        if self.is("{") {
            return Ok(Op {
                kind: Kind::Query,
                name: None,
                vars: Vec::new(),
                selection: self.selection_set()?,
            });
        }
        let kind = match self.peek() {
            Some(Tok::Name(n)) if n == "query" => Kind::Query,
            Some(Tok::Name(n)) if n == "mutation" => Kind::Mutation,
            Some(Tok::Name(n)) if n == "subscription" => Kind::Subscription,
            Some(Tok::Name(n)) if n == "fragment" => return Err(self.unsupported("Fragments")),
            _ => return Err(self.syntax_error()),
        };
        self.i += 1;
        let name = match self.peek() {
            Some(Tok::Name(_)) => Some(self.name()?.0),
            _ => None,
        };
        let mut vars = Vec::new();
        if self.is("(") {
            self.i += 1;
            loop {
                vars.push(self.var_def()?);
                if self.is(")") {
                    self.i += 1;
                    break;
                }
            }
        }
        if self.is("@") {
            return Err(self.unsupported("Directives"));
        }
        let selection = self.selection_set()?;
        Ok(Op {
            kind,
            name,
            vars,
            selection,
        })
    }

    fn var_def(&mut self) -> Parsed<VarDef> {
        let at = self.expect("$")?;
        let (name, _) = self.name()?;
        self.expect(":")?;
        let ty = self.type_ref()?;
        let default = if self.is("=") {
            self.i += 1;
            Some(self.value(true)?)
        } else {
            None
        };
        Ok(VarDef {
            name,
            ty,
            default,
            at,
        })
    }

    fn type_ref(&mut self) -> Parsed<String> {
        let mut ty = if self.is("[") {
            self.i += 1;
            let inner = self.type_ref()?;
            self.expect("]")?;
            format!("[{inner}]")
        } else {
            self.name()?.0
        };
        if self.is("!") {
            self.i += 1;
            ty.push('!');
        }
        Ok(ty)
    }

    fn selection_set(&mut self) -> Parsed<Vec<Field>> {
        self.expect("{")?;
        let mut fields = Vec::new();
        loop {
            if self.is("...") {
                return Err(self.unsupported("Fragments"));
            }
            fields.push(self.field()?);
            if self.is("}") {
                self.i += 1;
                return Ok(fields);
            }
        }
    }

    fn field(&mut self) -> Parsed<Field> {
        let (first, at) = self.name()?;
        let (alias, name, at) = if self.is(":") {
            self.i += 1;
            let (name, at) = self.name()?;
            (Some(first), name, at)
        } else {
            (None, first, at)
        };
        let mut args = Vec::new();
        if self.is("(") {
            self.i += 1;
            loop {
                let (arg, at) = self.name()?;
                self.expect(":")?;
                args.push((arg, self.value(false)?, at));
                if self.is(")") {
                    self.i += 1;
                    break;
                }
            }
        }
        if self.is("@") {
            return Err(self.unsupported("Directives"));
        }
        let selection = if self.is("{") {
            Some(self.selection_set()?)
        } else {
            None
        };
        Ok(Field {
            alias,
            name,
            args,
            selection,
            at,
        })
    }

    fn value(&mut self, constant: bool) -> Parsed<Val> {
        let Some(token) = self.tokens.get(self.i).cloned() else {
            return Err(self.syntax_error());
        };
        self.i += 1;
        Ok(match token.tok {
            Tok::Punct("$") if !constant => Val::Var(self.name()?.0),
            Tok::Str(s) => Val::Str(s),
            Tok::Int(n) => Val::Int(n),
            Tok::Float(n) => Val::Float(n),
            Tok::Name(n) => match n.as_str() {
                "true" => Val::Bool(true),
                "false" => Val::Bool(false),
                "null" => Val::Null,
                _ => Val::Enum(n),
            },
            Tok::Punct("[") => {
                let mut items = Vec::new();
                while !self.is("]") {
                    items.push(self.value(constant)?);
                }
                self.i += 1;
                Val::List(items)
            }
            Tok::Punct("{") => {
                let mut fields = Vec::new();
                while !self.is("}") {
                    let (key, _) = self.name()?;
                    self.expect(":")?;
                    fields.push((key, self.value(constant)?));
                }
                self.i += 1;
                Val::Object(fields)
            }
            Tok::Punct(_) => {
                self.i -= 1;
                return Err(self.syntax_error());
            }
        })
    }
}

/// Words Absinthe's lexer makes tokens of their own, which yecc prints bare.
const KEYWORDS: [&str; 7] = [
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "null",
    "directive",
];

// ---------------------------------------------------------------- checks

fn pick<'a>(ops: &'a [Op], name: Option<&str>) -> Result<&'a Op, Vec<GqlError>> {
    let bare = |message: String| vec![GqlError { message, at: None }];
    match (ops, name) {
        ([op], None) => Ok(op),
        (_, Some(name)) => ops
            .iter()
            .find(|op| op.name.as_deref() == Some(name))
            .ok_or_else(|| bare(format!("Unknown operation named \"{name}\"."))),
        _ => Err(bare(
            "Must provide a valid operation name if query contains multiple operations.".to_owned(),
        )),
    }
}

/// The variables' values, defaults applied, after checking their
/// definitions against what was sent.
fn bind(op: &Op, sent: &Map<String, Value>) -> Result<Map<String, Value>, Vec<GqlError>> {
    let mut errors = Vec::new();
    let mut bound = Map::new();
    for def in &op.vars {
        let base = def.ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        if base != "String" {
            errors.push(GqlError::at(def.at, format!("Unknown type \"{base}\".")));
            continue;
        }
        let value = match (sent.get(&def.name), &def.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => literal(d),
            (None, None) => Value::Null,
        };
        if value.is_null() && def.ty.ends_with('!') {
            errors.push(GqlError::at(
                def.at,
                format!("Variable \"{}\": Expected non-null, found null.", def.name),
            ));
        }
        bound.insert(def.name.clone(), value);
    }
    if errors.is_empty() {
        Ok(bound)
    } else {
        Err(errors)
    }
}

/// A constant literal as JSON.
fn literal(v: &Val) -> Value {
    match v {
        Val::Str(s) | Val::Enum(s) => Value::String(s.clone()),
        Val::Int(n) | Val::Float(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        Val::Bool(b) => Value::Bool(*b),
        Val::Null | Val::Var(_) => Value::Null,
        Val::List(items) => Value::Array(items.iter().map(literal).collect()),
        Val::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal(v)))
                .collect(),
        ),
    }
}

/// Checks the operation against the schema and resolves its arguments.
fn check(op: &Op, sent: &Map<String, Value>) -> Result<Doc, Vec<GqlError>> {
    let vars = bind(op, sent)?;
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    for field in &op.selection {
        match root_field(op, field, &vars) {
            Ok(f) => fields.push(f),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if op.kind == Kind::Subscription && op.selection.len() > 1 && errors.is_empty() {
        errors.push(GqlError::at(
            op.selection[1].at,
            "Only one field is permitted on the root level when subscribing.",
        ));
    }
    if errors.is_empty() {
        Ok(Doc {
            kind: op.kind,
            fields,
        })
    } else {
        Err(errors)
    }
}

/// The arguments each root field takes: name and whether it is required.
fn root_args(kind: Kind, name: &str) -> Option<&'static [(&'static str, bool)]> {
    match (kind, name) {
        (Kind::Query, "hello") => Some(&[("name", false)]),
        (Kind::Mutation, "addMessage") => Some(&[("room", true), ("body", true)]),
        (Kind::Subscription, "messageAdded") => Some(&[("room", true)]),
        (_, "__typename") => Some(&[]),
        _ => None,
    }
}

fn root_field(
    op: &Op,
    field: &Field,
    vars: &Map<String, Value>,
) -> Result<RootField, Vec<GqlError>> {
    let ty = op.kind.root_type();
    let Some(known) = root_args(op.kind, &field.name) else {
        return Err(vec![GqlError::at(
            field.at,
            format!(
                "Cannot query field \"{}\" on type \"{ty}\". {SCHEMA_HINT}",
                field.name
            ),
        )]);
    };
    let mut errors = Vec::new();
    let mut values: Vec<Option<String>> = vec![None; known.len()];
    for (arg, val, at) in &field.args {
        let Some(slot) = known.iter().position(|(k, _)| k == arg) else {
            errors.push(GqlError::at(
                *at,
                format!(
                    "Unknown argument \"{arg}\" on field \"{}\" of type \"{ty}\".",
                    field.name
                ),
            ));
            continue;
        };
        match string_arg(op, val, vars) {
            Ok(v) => values[slot] = v,
            Err(message) => errors.push(GqlError::at(*at, message)),
        }
    }
    for ((arg, required), value) in known.iter().zip(&values) {
        if *required && value.is_none() {
            let at = field
                .args
                .iter()
                .find(|(a, ..)| a == arg)
                .map_or(field.at, |(.., at)| *at);
            errors.push(GqlError::at(
                at,
                format!("In argument \"{arg}\": Expected type \"String!\", found null."),
            ));
        }
    }
    let selection = selection(field, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let key = field.key();
    let mut values = values.into_iter();
    let mut next = || values.next().flatten().unwrap_or_default();
    Ok(match field.name.as_str() {
        "hello" => RootField::Hello {
            key,
            name: values.next().flatten(),
        },
        "addMessage" => RootField::AddMessage {
            key,
            room: next(),
            body: next(),
            selection: selection.unwrap_or_default(),
        },
        "messageAdded" => RootField::MessageAdded {
            key,
            room: next(),
            selection: selection.unwrap_or_default(),
        },
        _ => RootField::Typename { key },
    })
}

/// An argument's value, which must be a string or null.
fn string_arg(op: &Op, val: &Val, vars: &Map<String, Value>) -> Result<Option<String>, String> {
    let value = match val {
        Val::Var(name) => match vars.get(name) {
            Some(v) => v.clone(),
            None => {
                return Err(match &op.name {
                    Some(o) => format!("Variable \"{name}\" is not defined by operation \"{o}\"."),
                    None => format!("Variable \"{name}\" is not defined."),
                });
            }
        },
        Val::Str(s) => Value::String(s.clone()),
        Val::Null => Value::Null,
        other => {
            return Err(format!("Argument has invalid value {}.", literal(other)));
        }
    };
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        other => Err(format!("Argument has invalid value {other}.")),
    }
}

/// The selection of a `Message` field (required), or none for a scalar
/// (`hello`, `__typename`, which must have none).
fn selection(field: &Field, errors: &mut Vec<GqlError>) -> Option<Selection> {
    let object = matches!(field.name.as_str(), "addMessage" | "messageAdded");
    match (&field.selection, object) {
        (None, false) => None,
        (Some(_), false) => {
            errors.push(GqlError::at(
                field.at,
                format!(
                    "Field \"{}\" must not have a selection since type \"String\" has no subfields.",
                    field.name
                ),
            ));
            None
        }
        (None, true) => {
            errors.push(GqlError::at(
                field.at,
                format!(
                    "Field \"{0}\" of type \"Message\" must have a selection of subfields. Did you mean \"{0} {{ ... }}\"?",
                    field.name
                ),
            ));
            None
        }
        (Some(subs), true) => {
            let mut out = Vec::new();
            for sub in subs {
                let f = match sub.name.as_str() {
                    "id" => MessageField::Id,
                    "body" => MessageField::Body,
                    "room" => MessageField::Room,
                    "__typename" => MessageField::Typename,
                    other => {
                        errors.push(GqlError::at(
                            sub.at,
                            format!(
                                "Cannot query field \"{other}\" on type \"Message\". It has id, body and room."
                            ),
                        ));
                        continue;
                    }
                };
                if !sub.args.is_empty() || sub.selection.is_some() {
                    errors.push(GqlError::at(
                        sub.at,
                        format!("Field \"{}\" takes no arguments or selection.", sub.name),
                    ));
                    continue;
                }
                out.push((sub.key(), f));
            }
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    fn ok(query: &str, variables: &str) -> Doc {
        recognise(query, &vars(variables), None).unwrap()
    }

    fn errors(query: &str, variables: &str) -> Vec<(String, Option<(u32, u32)>)> {
        recognise(query, &vars(variables), None)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.message, e.at.map(|p| (p.line, p.column))))
            .collect()
    }

    #[test]
    fn anonymous_and_named_queries_of_hello() {
        assert_eq!(
            ok("{ hello }", "{}").fields,
            [RootField::Hello {
                key: "hello".into(),
                name: None
            }]
        );
        let doc = ok(
            "query Greet($n: String) { hi: hello(name: $n) }",
            r#"{"n":"phoenix"}"#,
        );
        assert_eq!(doc.kind, Kind::Query);
        assert_eq!(
            doc.fields,
            [RootField::Hello {
                key: "hi".into(),
                name: Some("phoenix".into())
            }]
        );
    }

    #[test]
    fn mutation_with_escaped_literals_and_a_selection_in_order() {
        let doc = ok(
            r#"mutation { addMessage(room: "lo\"bby", body: "h\u00e9\n") { room id } }"#,
            "{}",
        );
        assert_eq!(
            doc.fields,
            [RootField::AddMessage {
                key: "addMessage".into(),
                room: "lo\"bby".into(),
                body: "hé\n".into(),
                selection: vec![
                    ("room".into(), MessageField::Room),
                    ("id".into(), MessageField::Id)
                ],
            }]
        );
    }

    #[test]
    fn subscription_with_a_variable() {
        let doc = ok(
            "subscription($r: String!){ messageAdded(room: $r){ id body room } }",
            r#"{"r":"lobby"}"#,
        );
        assert_eq!(doc.kind, Kind::Subscription);
        assert!(
            matches!(&doc.fields[0], RootField::MessageAdded { room, selection, .. } if room == "lobby" && selection.len() == 3)
        );
    }

    #[test]
    fn unknown_field_uses_absinthes_wording_and_the_hint() {
        let e = errors("{ nope }", "{}");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].0
                .starts_with("Cannot query field \"nope\" on type \"RootQueryType\". "),
            "{e:?}"
        );
        assert!(e[0].0.contains("hello") && e[0].0.contains("messageAdded"));
        assert_eq!(e[0].1, Some((1, 3)));
    }

    #[test]
    fn missing_required_variable_gives_both_errors_of_the_transcript() {
        let e = errors(
            "subscription($r: String!){ messageAdded(room: $r){ id body room } }",
            "{}",
        );
        assert_eq!(
            e,
            [(
                "Variable \"r\": Expected non-null, found null.".to_owned(),
                Some((1, 14))
            )]
        );
    }

    #[test]
    fn syntax_errors_point_at_the_token_or_the_last_one() {
        assert_eq!(
            errors("{ hello(", "{}"),
            [("syntax error before: ".to_owned(), Some((1, 8)))]
        );
        assert_eq!(
            errors("{ hello }\n}", "{}"),
            [("syntax error before: '}'".to_owned(), Some((2, 1)))]
        );
        assert_eq!(
            errors("query { hello(name: ) }", "{}"),
            [("syntax error before: ')'".to_owned(), Some((1, 21)))]
        );
        assert_eq!(
            errors("{ hello(name: \"x) }", "{}")[0].0,
            "Parsing failed at `\"x) }`"
        );
    }

    #[test]
    fn fragments_and_directives_are_refused_with_the_hint() {
        let e = errors("{ ...F } fragment F on X { hello }", "{}");
        assert!(e[0].0.starts_with("Fragments are not supported"), "{e:?}");
        assert!(e[0].0.contains(SCHEMA_HINT));
    }

    #[test]
    fn required_arguments_and_selections_are_checked() {
        let e = errors("mutation { addMessage(room: \"x\") { id } }", "{}");
        assert_eq!(
            e[0].0,
            "In argument \"body\": Expected type \"String!\", found null."
        );
        let e = errors("subscription { messageAdded(room: \"x\") }", "{}");
        assert!(
            e[0].0.contains("must have a selection of subfields"),
            "{e:?}"
        );
        let e = errors("{ hello { id } }", "{}");
        assert!(e[0].0.contains("must not have a selection"), "{e:?}");
        let e = errors(
            "mutation { addMessage(room: \"x\", body: \"y\") { sender } }",
            "{}",
        );
        assert!(
            e[0].0
                .starts_with("Cannot query field \"sender\" on type \"Message\".")
        );
    }

    #[test]
    fn operations_are_picked_by_name() {
        let q = "query A { hello } mutation B { addMessage(room: \"r\", body: \"b\") { id } }";
        let b = recognise(q, &Map::new(), Some("B")).unwrap();
        assert_eq!(b.kind, Kind::Mutation);
        assert!(recognise(q, &Map::new(), None).is_err());
        let e = recognise(q, &Map::new(), Some("C")).unwrap_err();
        assert_eq!(e[0].message, "Unknown operation named \"C\".");
    }

    #[test]
    fn undefined_variables_and_wrong_types() {
        let e = errors("query Q { hello(name: $x) }", "{}");
        assert_eq!(e[0].0, "Variable \"x\" is not defined by operation \"Q\".");
        let e = errors("query($n: String) { hello(name: $n) }", r#"{"n":5}"#);
        assert_eq!(e[0].0, "Argument has invalid value 5.");
        let e = errors("query($n: Int) { hello(name: $n) }", "{}");
        assert_eq!(e[0].0, "Unknown type \"Int\".");
    }

    #[test]
    fn message_json_keys_are_sorted_like_an_elixir_map() {
        let sel = vec![
            ("room".to_owned(), MessageField::Room),
            ("id".to_owned(), MessageField::Id),
        ];
        assert_eq!(
            message_json(&sel, "1", "lobby", "hi").to_string(),
            r#"{"id":"1","room":"lobby"}"#
        );
    }
}

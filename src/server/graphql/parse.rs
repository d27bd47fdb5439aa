//! The lexer and parser of the GraphQL recogniser: document text to
//! operations, or the error Absinthe's lexer or parser would give
//! (docs/PROTOCOL.md §9). What the operations mean is `mod.rs`'s business.

use super::{GqlError, Kind, Pos, SCHEMA_HINT};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(&'static str),
    Name(String),
    Str(String),
    Int(String),
    Float(String),
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    tok: Tok,
    at: Pos,
}

const PUNCTS: [&str; 14] = [
    "...", "!", "$", "&", "(", ")", ":", "=", "@", "[", "]", "{", "|", "}",
];

pub(super) fn lex(src: &str) -> Result<Vec<Token>, GqlError> {
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

#[derive(Debug, Clone)]
pub(super) enum Val {
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
pub(super) struct VarDef {
    pub(super) name: String,
    pub(super) ty: String,
    pub(super) default: Option<Val>,
    pub(super) at: Pos,
}

#[derive(Debug)]
pub(super) struct Field {
    pub(super) alias: Option<String>,
    pub(super) name: String,
    pub(super) args: Vec<(String, Val, Pos)>,
    pub(super) selection: Option<Vec<Field>>,
    pub(super) at: Pos,
}

impl Field {
    pub(super) fn key(&self) -> String {
        self.alias.clone().unwrap_or_else(|| self.name.clone())
    }
}

#[derive(Debug)]
pub(super) struct Op {
    pub(super) kind: Kind,
    pub(super) name: Option<String>,
    pub(super) vars: Vec<VarDef>,
    pub(super) selection: Vec<Field>,
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Token>,
    pub(super) i: usize,
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

    pub(super) fn document(mut self) -> Parsed<Vec<Op>> {
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

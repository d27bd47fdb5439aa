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
//! says what the schema knows. This file owns the types and the checks
//! against the schema; `parse.rs` turns the text into operations.

use serde_json::{Map, Value};

mod parse;

use parse::{Field, Op, Parser, Val, lex};

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

/// The variables' values, defaults applied, and the errors of their
/// definitions against what was sent (reported after the fields' errors,
/// in Absinthe's order).
fn bind(op: &Op, sent: &Map<String, Value>) -> (Map<String, Value>, Vec<GqlError>) {
    let mut errors = Vec::new();
    let mut bound = Map::new();
    for def in &op.vars {
        let base = def.ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        if base != "String" {
            errors.push(GqlError::at(def.at, format!("Unknown type \"{base}\".")));
            bound.insert(def.name.clone(), Value::Null);
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
    (bound, errors)
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
    let (vars, mut var_errors) = bind(op, sent);
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
    errors.append(&mut var_errors);
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
    // An argument already reported as invalid is not reported missing too.
    let mut invalid = vec![false; known.len()];
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
        match string_arg(op, arg, val, vars) {
            Ok(v) => values[slot] = v,
            Err(message) => {
                invalid[slot] = true;
                errors.push(GqlError::at(*at, message));
            }
        }
    }
    for (((arg, required), value), invalid) in known.iter().zip(&values).zip(&invalid) {
        if *required && value.is_none() && !invalid {
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
fn string_arg(
    op: &Op,
    arg: &str,
    val: &Val,
    vars: &Map<String, Value>,
) -> Result<Option<String>, String> {
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
            return Err(format!(
                "Argument \"{arg}\" has invalid value {}.",
                literal(other)
            ));
        }
    };
    match (value, val) {
        (Value::String(s), _) => Ok(Some(s)),
        (Value::Null, _) => Ok(None),
        (_, Val::Var(name)) => Err(format!("Argument \"{arg}\" has invalid value ${name}.")),
        (other, _) => Err(format!("Argument \"{arg}\" has invalid value {other}.")),
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
            [
                (
                    "In argument \"room\": Expected type \"String!\", found null.".to_owned(),
                    Some((1, 41))
                ),
                (
                    "Variable \"r\": Expected non-null, found null.".to_owned(),
                    Some((1, 14))
                )
            ]
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
        assert_eq!(e[0].0, "Argument \"name\" has invalid value $n.");
        assert_eq!(e.len(), 1, "{e:?}");
        let e = errors("mutation { addMessage(room: 5, body: \"b\") { id } }", "{}");
        assert_eq!(
            e,
            [(
                "Argument \"room\" has invalid value 5.".to_owned(),
                Some((1, 23))
            )]
        );
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

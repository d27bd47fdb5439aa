//! The Absinthe control channel of the built-in server, `__absinthe__:control`
//! (docs/PROTOCOL.md §9): what a `doc` push asks for and the JSON of the
//! answers, the `subscription:data` frames, and subscription ids.
//!
//! Pure: `routes.rs` hands a `doc` payload to [`doc`] and gets back an
//! [`Outcome`]; queries and errors are answered here, while subscribing
//! and mutating need the server-wide registry (`hub.rs`) and are carried
//! out by `peer.rs`. The documents themselves are recognised by
//! `graphql/`.

use serde_json::{Map, Value, json};

use super::graphql::{self, Doc, GqlError, Kind, RootField, Selection};
use crate::core::protocol::{self, Frame, Payload};

/// The topic a client joins; `__absinthe__:*` routes to this channel.
pub const CONTROL_TOPIC: &str = "__absinthe__:control";

/// What every `__absinthe__:` topic starts with.
pub const TOPIC_PREFIX: &str = "__absinthe__:";

/// The event of a subscription's pushes.
pub const DATA_EVENT: &str = "subscription:data";

/// What a `doc` push comes to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Answer with this status and response, nothing else to do.
    Reply { ok: bool, response: Value },
    /// Subscribe the socket and answer with the new id.
    Subscribe(Subscription),
    /// Run these `addMessage` (and `__typename`) fields in order, publish
    /// each message, then answer with `{"data": …}`.
    Mutate(Vec<RootField>),
    /// The payload is no map: Absinthe's `handle_in` raises and the
    /// channel crashes.
    Crash,
}

/// A `messageAdded` subscription, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Stands for the document in the id, as Absinthe's hash does.
    pub hash: String,
    /// The response key of the field (its alias, or `messageAdded`).
    pub key: String,
    pub room: String,
    pub selection: Selection,
}

/// Decides what a `doc` push with `payload` does.
pub fn doc(payload: &Payload) -> Outcome {
    let Some(Value::Object(map)) = payload
        .json()
        .and_then(|j| serde_json::from_str::<Value>(j.get()).ok())
    else {
        return Outcome::Crash;
    };
    // A missing or null `variables` is an empty map; anything else that is
    // no map is refused before the document is looked at.
    let variables = match map.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(vars)) => vars.clone(),
        Some(_) => {
            return Outcome::Reply {
                ok: false,
                response: json!({"error": "Could not parse variables as map"}),
            };
        }
    };
    let query = match map.get("query") {
        None => "",
        Some(Value::String(q)) => q.as_str(),
        Some(_) => {
            return errors(&[GqlError {
                message: "An unknown error occurred during parsing: the query is not a string"
                    .to_owned(),
                at: None,
            }]);
        }
    };
    // absinthe_phoenix passes only `variables` to the pipeline: an
    // `operationName` is ignored (docs/PROTOCOL.md §9), so it is here too.
    match graphql::recognise(query, &variables, None) {
        Ok(doc) => run(doc, query, &variables),
        Err(e) => errors(&e),
    }
}

fn run(doc: Doc, query: &str, variables: &Map<String, Value>) -> Outcome {
    match doc.kind {
        Kind::Query => {
            let mut data = Map::new();
            for field in doc.fields {
                match field {
                    RootField::Hello { key, name } => {
                        let name = name.as_deref().unwrap_or("world");
                        data.insert(key, Value::String(format!("hello {name}")));
                    }
                    RootField::Typename { key } => {
                        data.insert(key, "RootQueryType".into());
                    }
                    _ => {}
                }
            }
            Outcome::Reply {
                ok: true,
                response: json!({ "data": data }),
            }
        }
        Kind::Mutation => Outcome::Mutate(doc.fields),
        Kind::Subscription => match doc.fields.into_iter().next() {
            Some(RootField::MessageAdded {
                key,
                room,
                selection,
            }) => Outcome::Subscribe(Subscription {
                hash: document_hash(query, variables),
                key,
                room,
                selection,
            }),
            // `__typename` alone: Absinthe answers it like a query.
            _ => Outcome::Reply {
                ok: true,
                response: json!({"data": {"__typename": "RootSubscriptionType"}}),
            },
        },
    }
}

/// `{"errors": […]}` with status error, as Absinthe answers a document
/// that fails to parse or validate.
fn errors(errors: &[GqlError]) -> Outcome {
    let list: Vec<Value> = errors
        .iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("message".into(), e.message.clone().into());
            if let Some(at) = e.at {
                m.insert(
                    "locations".into(),
                    json!([{"line": at.line, "column": at.column}]),
                );
            }
            Value::Object(m)
        })
        .collect();
    Outcome::Reply {
        ok: false,
        response: json!({ "errors": list }),
    }
}

/// The `data` of a mutation's reply: each field's message, by key.
/// `messages` holds, per `addMessage` field in order, its id.
pub fn mutation_data(fields: &[RootField], ids: &[String]) -> Value {
    let mut data = Map::new();
    let mut ids = ids.iter();
    for field in fields {
        match field {
            RootField::AddMessage {
                key,
                room,
                body,
                selection,
            } => {
                let id = ids.next().map_or("", String::as_str);
                data.insert(
                    key.clone(),
                    graphql::message_json(selection, id, room, body),
                );
            }
            RootField::Typename { key } => {
                data.insert(key.clone(), "RootMutationType".into());
            }
            _ => {}
        }
    }
    json!({ "data": data })
}

/// `__absinthe__:doc:<n>:<hash>`: Absinthe's shape, a unique number and a
/// hash of the document with its variables.
pub fn subscription_id(n: u64, hash: &str) -> String {
    format!("{TOPIC_PREFIX}doc:{n}:{hash}")
}

/// FNV-1a (64 bits) of the document and its variables, in upper-case hex.
/// Absinthe uses SHA-256 here; clients treat the id as opaque, and any
/// stable hash shows the same thing: equal documents, equal suffixes.
fn document_hash(query: &str, variables: &Map<String, Value>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let vars = Value::Object(variables.clone()).to_string();
    for b in query.bytes().chain([0]).chain(vars.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// The push that carries one result to a subscription: a broadcast on the
/// subscription id, join_ref and ref null.
pub fn data_frame(id: &str, key: &str, value: Value) -> Frame {
    let payload = json!({
        "result": {"data": {key: value}},
        "subscriptionId": id,
    });
    Frame::new(
        None,
        None,
        id,
        DATA_EVENT,
        protocol::raw(payload.to_string()),
    )
}

/// The reply response to `unsubscribe`, or `None` when the payload has no
/// `subscriptionId` string (no `handle_in` clause matches: a crash).
pub fn unsubscribe_id(payload: &Payload) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Unsubscribe {
        #[serde(rename = "subscriptionId")]
        id: String,
    }
    let json = payload.json()?;
    serde_json::from_str::<Unsubscribe>(json.get())
        .ok()
        .map(|u| u.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(json: &str) -> Outcome {
        doc(&Payload::Json(protocol::raw(json.to_owned()).into()))
    }

    fn reply(json: &str) -> (bool, String) {
        match outcome(json) {
            Outcome::Reply { ok, response } => (ok, response.to_string()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hello_answers_world_or_the_name() {
        assert_eq!(
            reply(r#"{"query":"{ hello }"}"#),
            (true, r#"{"data":{"hello":"hello world"}}"#.to_owned())
        );
        assert_eq!(
            reply(
                r#"{"query":"query($n: String){ hello(name: $n) }","variables":{"n":"phoenix"}}"#
            ),
            (true, r#"{"data":{"hello":"hello phoenix"}}"#.to_owned())
        );
    }

    #[test]
    fn errors_are_shaped_as_absinthe_shapes_them() {
        assert_eq!(
            reply(r#"{"query":"{ hello("}"#),
            (
                false,
                r#"{"errors":[{"locations":[{"column":8,"line":1}],"message":"syntax error before: "}]}"#
                    .to_owned()
            )
        );
        assert_eq!(
            reply(r#"{"query":"{ hello }","variables":"not-a-map"}"#),
            (
                false,
                r#"{"error":"Could not parse variables as map"}"#.to_owned()
            )
        );
        assert_eq!(
            reply(r#"{"query":""}"#).1,
            r#"{"errors":[{"message":"No operations provided."}]}"#
        );
    }

    #[test]
    fn a_subscription_hashes_the_document_and_its_variables() {
        let sub = |vars: &str| match outcome(&format!(
            r#"{{"query":"subscription($r: String!){{ messageAdded(room: $r){{ id }} }}","variables":{vars}}}"#
        )) {
            Outcome::Subscribe(s) => s,
            other => panic!("{other:?}"),
        };
        let (a, b, c) = (
            sub(r#"{"r":"x"}"#),
            sub(r#"{"r":"x"}"#),
            sub(r#"{"r":"y"}"#),
        );
        assert_eq!(a, b);
        assert_ne!(a.hash, c.hash);
        assert_eq!((a.room.as_str(), a.key.as_str()), ("x", "messageAdded"));
        assert_eq!(a.hash.len(), 16);
        assert_eq!(
            subscription_id(3, &a.hash),
            format!("__absinthe__:doc:3:{}", a.hash)
        );
    }

    #[test]
    fn a_payload_that_is_no_map_crashes_the_channel() {
        assert_eq!(outcome("[1]"), Outcome::Crash);
        assert_eq!(doc(&Payload::Binary(vec![1])), Outcome::Crash);
    }

    #[test]
    fn mutation_data_and_data_frames() {
        let Outcome::Mutate(fields) = outcome(
            r#"{"query":"mutation { m: addMessage(room: \"r\", body: \"b\") { body id } }"}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            mutation_data(&fields, &["7".to_owned()]).to_string(),
            r#"{"data":{"m":{"body":"b","id":"7"}}}"#
        );
        assert_eq!(
            data_frame("__absinthe__:doc:1:AB", "messageAdded", json!({"id": "1"})).encode(),
            r#"[null,null,"__absinthe__:doc:1:AB","subscription:data",{"result":{"data":{"messageAdded":{"id":"1"}}},"subscriptionId":"__absinthe__:doc:1:AB"}]"#
        );
    }

    #[test]
    fn unsubscribe_needs_a_subscription_id_string() {
        let p = |s: &str| Payload::Json(protocol::raw(s.to_owned()).into());
        assert_eq!(
            unsubscribe_id(&p(r#"{"subscriptionId":"x"}"#)).as_deref(),
            Some("x")
        );
        assert_eq!(unsubscribe_id(&p("{}")), None);
    }
}

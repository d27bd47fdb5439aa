//! GraphQL over Absinthe's control channel (docs/PROTOCOL.md §9): the
//! `gql` command joins `__absinthe__:control` on first use and pushes
//! `doc`; a subscription gets a short name (`s1`) and its
//! `subscription:data` pushes print as `← gql s1 messageAdded {…}`;
//! `gql unsubscribe` and `gql resubscribe` manage them, and after the
//! control channel crashed and rejoined every subscription is made again.
//!
//! The state is per client (subscriptions belong to a socket) and lives
//! in its `Peer`. The document scanner is `lang::gql`'s; `wait gql` and
//! `refute gql` match through `checks`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Runner;
use crate::core::channel::ChannelState;
use crate::core::event::ToNet;
use crate::core::protocol::Frame;
use crate::core::session::{Reply, Request, Transition};
use crate::lang::gql::{GqlCommand, Kind, Operation};
use crate::output::display_json;
use crate::output::records::{self, Payload};

/// The event of a subscription's data push.
pub const DATA_EVENT: &str = "subscription:data";

/// An active subscription.
#[derive(Debug, Clone)]
pub(super) struct Sub {
    /// `s1`, `s2`, … for this session.
    pub short: String,
    /// Its NAME: the operation name, else the root field.
    pub name: String,
    /// Where the root field's value is in `data`.
    pub key: String,
    /// `messageAdded(room: "lobby")`.
    pub call: String,
    /// The server's id: the topic its data arrives on.
    pub id: String,
    query: String,
    variables: Option<Value>,
}

/// A `doc` sent, until its reply.
#[derive(Debug)]
struct Doc {
    op: Operation,
    query: String,
    variables: Option<Value>,
    line: Option<usize>,
    /// Subscribing again: the short name it keeps.
    again: Option<String>,
    /// By `gql resubscribe`: the old subscription is live on the server,
    /// so it is stopped once the new one is made.
    manual: bool,
}

/// A client's GraphQL state.
#[derive(Debug, Default)]
pub(super) struct Gql {
    pub subs: Vec<Sub>,
    /// The control topic's join went out.
    join_sent: bool,
    /// Docs sent, by command id until they go out, then by ref.
    by_id: HashMap<u64, Doc>,
    by_ref: HashMap<String, Doc>,
    /// The control channel crashed or dropped: once it has rejoined, the
    /// subscriptions are made again.
    lost: bool,
}

impl Gql {
    /// Whether a reply answers one of our documents.
    pub fn answers(&self, ref_: Option<&str>) -> bool {
        ref_.is_some_and(|r| self.by_ref.contains_key(r))
    }

    /// Whether command `id` is a `doc` not sent yet.
    pub fn joining(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The subscription whose data arrives on `topic`.
    pub fn sub_on(&self, topic: &str) -> Option<&Sub> {
        self.subs.iter().find(|s| s.id == topic)
    }

    /// The subscriptions `name` means: a short name, a full id, a NAME
    /// (all with it), or `all`.
    pub fn matching(&self, name: &str) -> Vec<Sub> {
        self.subs
            .iter()
            .filter(|s| name == "all" || s.short == name || s.id == name || s.name == name)
            .cloned()
            .collect()
    }

    fn listing(&self) -> String {
        if self.subs.is_empty() {
            return "none".to_owned();
        }
        self.subs
            .iter()
            .map(|s| format!("{} {}", s.short, s.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The root field's value in a `subscription:data` payload, as JSON text.
pub fn field_value(payload: &str, key: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    v.get("result")?.get("data")?.get(key).map(Value::to_string)
}

impl Runner {
    /// The control topic: `--gql-topic`, else Absinthe's.
    fn control(&self) -> String {
        self.settings.gql_topic.clone()
    }

    /// `gql …`.
    pub(super) fn gql(&mut self, cmd: GqlCommand, id: u64, n: usize) {
        match cmd {
            GqlCommand::Doc {
                query,
                variables,
                op,
            } => {
                let doc = Doc {
                    op,
                    query,
                    variables,
                    line: self.line_label(n),
                    again: None,
                    manual: false,
                };
                self.send_doc(doc, id, n, true);
            }
            GqlCommand::Unsubscribe(name) => self.unsubscribe(&name, id, n),
            GqlCommand::Resubscribe => {
                if self.peer.gql.subs.is_empty() {
                    self.info(
                        crate::output::Info::Gql {
                            what: "resubscribe",
                            subscription: None,
                        },
                        "no active subscription to subscribe again",
                    );
                    return;
                }
                self.resubscribe(Some((id, n)));
            }
        }
    }

    /// Pushes `doc` on the control topic, joining it first if needed. The
    /// line waits for its reply when `waits`.
    fn send_doc(&mut self, doc: Doc, id: u64, n: usize, waits: bool) {
        let control = self.control();
        if !self.peer.gql.join_sent && !self.peer.topics.contains(&control) {
            self.peer.gql.join_sent = true;
            let join = self.issue_id();
            let request = Request::Join {
                topic: control.clone(),
                payload: json_payload(&json!({})),
            };
            // Its push is held by the session until the join is answered.
            self.net
                .send_to(self.clients.active, ToNet::Request { id: join, request });
        }
        let mut payload = json!({
            "query": doc.query,
            "variables": doc.variables.clone().unwrap_or_else(|| json!({})),
        });
        if let Some(name) = &doc.op.operation_name {
            payload["operationName"] = json!(name);
        }
        let request = Request::Push {
            topic: control,
            event: "doc".to_owned(),
            payload: json_payload(&payload),
            cast: false,
        };
        self.peer.gql.by_id.insert(id, doc);
        if waits {
            if self.interactive() {
                self.peer.replies.awaiting(id);
            }
            self.send(ToNet::Request { id, request }, id, n);
        } else {
            self.net
                .send_to(self.clients.active, ToNet::Request { id, request });
        }
    }

    /// `gql unsubscribe s1|ID|NAME|all`.
    fn unsubscribe(&mut self, name: &str, id: u64, n: usize) {
        let subs = self.peer.gql.matching(name);
        if subs.is_empty() {
            let text = format!(
                "no subscription `{name}` (subscriptions: {}); `status` lists them",
                self.peer.gql.listing()
            );
            self.error(&text, self.line_label(n));
            self.mark_failed();
            return;
        }
        self.peer
            .gql
            .subs
            .retain(|s| !subs.iter().any(|x| x.id == s.id));
        let last = subs.len() - 1;
        for (i, sub) in subs.iter().enumerate() {
            if i == last {
                let request = self.unsubscribe_request(&sub.id);
                self.send(ToNet::Request { id, request }, id, n);
            } else {
                self.stop_on_server(&sub.id);
            }
            let text = format!("unsubscribed {} {}", sub.short, label(&sub.name, &sub.call));
            self.info(
                crate::output::Info::Gql {
                    what: "unsubscribed",
                    subscription: Some(&sub.short),
                },
                &text,
            );
        }
    }

    /// Stops subscription `id` on the server, answering no line.
    fn stop_on_server(&mut self, id: &str) {
        let request = self.unsubscribe_request(id);
        let other = self.issue_id();
        self.net
            .send_to(self.clients.active, ToNet::Request { id: other, request });
    }

    /// The `unsubscribe` push of subscription `id`.
    fn unsubscribe_request(&self, id: &str) -> Request {
        Request::Push {
            topic: self.control(),
            event: "unsubscribe".to_owned(),
            payload: json_payload(&json!({ "subscriptionId": id })),
            cast: false,
        }
    }

    /// Subscribes every active document again; with a line, it waits for
    /// the last reply.
    fn resubscribe(&mut self, line: Option<(u64, usize)>) {
        let subs = self.peer.gql.subs.clone();
        let last = subs.len().saturating_sub(1);
        for (i, sub) in subs.into_iter().enumerate() {
            let Ok(op) = crate::lang::gql::describe(&sub.query, sub.variables.as_ref()) else {
                continue;
            };
            let doc = Doc {
                op,
                query: sub.query,
                variables: sub.variables,
                line: line.and_then(|(_, n)| self.line_label(n)),
                again: Some(sub.short),
                manual: line.is_some(),
            };
            match line {
                Some((id, n)) if i == last => self.send_doc(doc, id, n, true),
                _ => {
                    let id = self.issue_id();
                    self.send_doc(doc, id, 0, false);
                }
            }
        }
    }

    /// A request went out: a `doc` is now known by its ref.
    pub(super) fn gql_sent(&mut self, id: u64, frame: &Frame) {
        if let Some(doc) = self.peer.gql.by_id.remove(&id)
            && let Some(r) = &frame.ref_
        {
            self.peer.gql.by_ref.insert(r.to_string(), doc);
        }
    }

    /// A reply: if it answers a `doc`, it is shown readably (and true is
    /// returned when it carries GraphQL errors: an error reply). A refused
    /// control join is explained.
    pub(super) fn gql_reply(&mut self, r: &Reply) -> bool {
        let control = self.control();
        if r.frame.topic == control && r.request.as_deref() == Some("phx_join") && r.is_error() {
            self.peer.gql.join_sent = false;
            let unmatched = r.response.json_value().get().contains("unmatched topic");
            if unmatched {
                self.error(
                    &format!(
                        "this socket does not serve GraphQL subscriptions (no {} channel); \
                         is it the socket that uses Absinthe.Phoenix.Socket?",
                        control.split(':').next().unwrap_or("__absinthe__")
                    ),
                    None,
                );
                self.mark_failed();
            }
            return false;
        }
        let Some(ref_) = r.frame.ref_.as_deref() else {
            return false;
        };
        let Some(doc) = self.peer.gql.by_ref.remove(ref_) else {
            return false;
        };
        let response: Value =
            serde_json::from_str(r.response.json_value().get()).unwrap_or(Value::Null);
        let errors = response.get("errors").filter(|e| !e.is_null());
        let failed = r.is_error() || errors.is_some();
        let sub_id = response.get("subscriptionId").and_then(Value::as_str);
        match (doc.op.kind, sub_id, failed) {
            (Kind::Subscription, Some(id), false) => self.subscribed(doc, id),
            _ => self.show_result(&doc, &response, failed),
        }
        if let Some(errs) = errors.and_then(Value::as_array)
            && errs.iter().any(|e| {
                e.get("message").and_then(Value::as_str).is_some_and(|m| {
                    m.starts_with("syntax error") || m.starts_with("Parsing failed")
                })
            })
        {
            self.note(
                "warning: after a document with a syntax error, an absinthe_phoenix 2.0 control \
                 channel may stop delivering this socket's subscriptions (and crash on the next \
                 subscribe); `gql resubscribe` subscribes them again",
            );
        }
        failed
    }

    /// A subscription was made (or made again).
    fn subscribed(&mut self, doc: Doc, id: &str) {
        let (short, previous) = match &doc.again {
            Some(short) => {
                let previous = self
                    .peer
                    .gql
                    .subs
                    .iter_mut()
                    .find(|s| &s.short == short)
                    .map(|s| std::mem::replace(&mut s.id, id.to_owned()));
                (short.clone(), previous)
            }
            None => {
                self.gql_shorts += 1;
                let short = format!("s{}", self.gql_shorts);
                self.peer.gql.subs.push(Sub {
                    short: short.clone(),
                    name: doc.op.name().to_owned(),
                    key: doc.op.response_key().to_owned(),
                    call: doc.op.call(),
                    id: id.to_owned(),
                    query: doc.query.clone(),
                    variables: doc.variables.clone(),
                });
                self.tell(crate::lang::vocab::Word::Subscription(short.clone()));
                self.tell(crate::lang::vocab::Word::Subscription(
                    doc.op.name().to_owned(),
                ));
                (short, None)
            }
        };
        if let (Some(old), true) = (&previous, doc.manual) {
            self.stop_on_server(old);
        }
        let call = label(doc.op.name(), &doc.op.call());
        if self.settings.style.json {
            let rec = records::GqlResult {
                line: doc.line,
                operation: "subscription",
                name: doc.op.name(),
                status: "ok",
                data: None,
                errors: None,
                subscription_id: Some(id),
                short: Some(&short),
                previous_id: previous.as_deref(),
            };
            records::push(&mut self.screen.out, &rec);
            return;
        }
        let text = match previous {
            Some(old) => format!("resubscribed {short} {call}: {old} → {id}"),
            None => format!("subscribed {short} {call}"),
        };
        self.note(&text);
    }

    /// A query's or mutation's result, or any document's errors.
    fn show_result(&mut self, doc: &Doc, response: &Value, failed: bool) {
        let data = response.get("data").filter(|d| !d.is_null());
        let errors = response.get("errors").filter(|e| !e.is_null());
        let data_text = data.map(Value::to_string);
        let errors_text = errors.map(Value::to_string).or_else(|| {
            // `{"error": "Could not parse variables as map"}`.
            response
                .get("error")
                .map(|e| json!([{ "message": e }]).to_string())
        });
        let rec = records::GqlResult {
            line: doc.line,
            operation: doc.op.kind.as_str(),
            name: doc.op.name(),
            status: if failed { "error" } else { "ok" },
            data: data_text.as_deref().map(Payload::Json),
            errors: errors_text.as_deref().map(Payload::Json),
            subscription_id: None,
            short: None,
            previous_id: None,
        };
        if failed {
            // An error reply even with status ok: the JUnit report's too.
            self.report.record(&rec);
        }
        if self.settings.style.json {
            records::push(&mut self.screen.out, &rec);
            return;
        }
        let head = format!("← gql {} {}", doc.op.kind.as_str(), doc.op.name());
        let mut text = match data {
            Some(d) => format!("{head} {}\n", display_json(&d.to_string())),
            None => format!("{head}\n"),
        };
        for e in errors.and_then(Value::as_array).into_iter().flatten() {
            text.push_str(&format!("  error: {}\n", error_text(e)));
        }
        if let Some(e) = response.get("error").and_then(Value::as_str) {
            text.push_str(&format!(
                "  error: {}\n",
                display_json(&json!(e).to_string())
            ));
        }
        self.screen.out.push_str(&text);
    }

    /// A `subscription:data` push of a known subscription, shown as its
    /// field's value; false for any other message.
    pub(super) fn gql_data(&mut self, frame: &Frame) -> bool {
        if frame.event != DATA_EVENT {
            return false;
        }
        let Some(sub) = self.peer.gql.sub_on(&frame.topic).cloned() else {
            return false;
        };
        let payload = frame.payload.json_value();
        let value = field_value(payload.get(), &sub.key).unwrap_or_else(|| "null".to_owned());
        if self.settings.style.json {
            let result = serde_json::from_str::<Value>(payload.get())
                .ok()
                .and_then(|v| v.get("result").map(Value::to_string))
                .unwrap_or_else(|| "null".to_owned());
            let rec = records::GqlData {
                short: &sub.short,
                name: &sub.name,
                subscription_id: &sub.id,
                value: Payload::Json(&value),
                result: Payload::Json(&result),
            };
            records::push(&mut self.screen.out, &rec);
        } else {
            let line = format!(
                "← gql {} {} {}\n",
                sub.short,
                sub.name,
                display_json(&value)
            );
            self.screen.out.push_str(&line);
        }
        true
    }

    /// The control channel's state: once it has rejoined after a crash
    /// or a dropped socket, its subscriptions are made again.
    pub(super) fn gql_channel(&mut self, t: &Transition) {
        if t.topic != self.control() || self.peer.gql.subs.is_empty() {
            return;
        }
        match t.to {
            ChannelState::Errored => self.peer.gql.lost = true,
            ChannelState::Joined if self.peer.gql.lost => {
                self.peer.gql.lost = false;
                self.note("the GraphQL control channel rejoined: subscribing again");
                self.resubscribe(None);
            }
            _ => {}
        }
    }

    /// `status`: the active subscriptions.
    pub(super) fn gql_status(&mut self) {
        if self.peer.gql.subs.is_empty() || self.settings.style.json {
            return;
        }
        let mut text = String::from("  gql subscriptions:\n");
        for s in &self.peer.gql.subs {
            text.push_str(&format!(
                "    {} {}  {}\n",
                s.short,
                label(&s.name, &s.call),
                s.id
            ));
        }
        self.screen.out.push_str(&text);
    }

    fn note(&mut self, text: &str) {
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.note(text, &mut s);
        self.screen.out = s;
    }

    /// A `wait gql`/`refute gql` line: what NAME means now.
    pub(super) fn start_gql_watch(
        &mut self,
        name: String,
        timeout: Option<std::time::Duration>,
        payload: Option<Value>,
        refute: bool,
        line: usize,
    ) {
        let subs = self.peer.gql.matching(&name);
        if subs.is_empty() || name == "all" {
            let text = format!(
                "no subscription `{name}` (subscriptions: {}); subscribe first with `gql subscription {{ … }}`",
                self.peer.gql.listing()
            );
            self.error(&text, self.line_label(line));
            self.mark_failed();
            return;
        }
        let targets = subs.into_iter().map(|s| (s.id, s.key)).collect();
        self.start_data_watch(name, targets, timeout, payload, refute, line);
    }
}

/// A subscription as shown: its call, after its NAME when that is an
/// operation name (`Watch: messageAdded(room: "lobby")`).
fn label(name: &str, call: &str) -> String {
    if call.split('(').next() == Some(name) {
        call.to_owned()
    } else {
        format!("{name}: {call}")
    }
}

/// A JSON value as a frame's payload.
fn json_payload(v: &Value) -> crate::core::protocol::Payload {
    let raw = crate::core::protocol::raw(v.to_string());
    crate::core::protocol::Payload::Json(raw.into())
}

/// One GraphQL error: its message, path and location.
fn error_text(e: &Value) -> String {
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("(no message)");
    let mut text = crate::output::clean(message).into_owned();
    if let Some(path) = e.get("path").and_then(Value::as_array) {
        let p: Vec<String> = path
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect();
        text.push_str(&format!(" at {}", p.join(".")));
    }
    for l in e
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(line), Some(col)) = (l.get("line"), l.get("column")) {
            text.push_str(&format!(" (line {line}, column {col})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_value_comes_from_result_data() {
        let p = r#"{"result":{"data":{"messageAdded":{"id":"1"}}},"subscriptionId":"x"}"#;
        assert_eq!(
            field_value(p, "messageAdded").as_deref(),
            Some(r#"{"id":"1"}"#)
        );
        assert_eq!(field_value(p, "other"), None);
    }

    #[test]
    fn an_error_names_its_message_path_and_location() {
        let e = json!({"message": "Cannot query field \"nope\"", "path": ["a", 0], "locations": [{"line": 1, "column": 3}]});
        assert_eq!(
            error_text(&e),
            r#"Cannot query field "nope" at a.0 (line 1, column 3)"#
        );
    }
}

//! Channel routing for one connection of the built-in server: which topics
//! are joined under which join_ref, which topics the socket's mount routes
//! (`/gql` has only `__absinthe__:*`), the ids of the GraphQL control
//! channel's live subscriptions, and what the server answers to each
//! incoming frame (docs/PROTOCOL.md §3, §9).
//!
//! Pure: no sockets, threads or clock (the LiveViews of a `/live`
//! connection, run by `live/`, share their secret and chat room with
//! other connections, and are given the time for their ticks). [`Connection::handle_text`] turns one
//! client text frame into a list of [`Action`]s; `peer.rs` carries them out
//! (writes, broadcasts through the registry, floods, close), and `flood.rs`
//! writes a flood's pushes. Keeping the rules
//! here lets every route be unit-tested without a socket.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::value::RawValue;

use super::absinthe::{self, Outcome, Subscription};
use super::connect::Mount;
use super::flood::Flood;
use super::graphql::RootField;
use super::live::Views;
use crate::core::protocol::{self, Frame, Payload, Side, Vsn};

/// Close code sent when a client frame cannot be decoded (RFC 6455 "internal
/// error"): Phoenix crashes the whole connection process on such a frame
/// (docs/PROTOCOL.md §3, last bullet), which the client sees as a server error.
pub const CLOSE_UNDECODABLE: u16 = 1011;

/// Close code of `kick`: Phoenix's server-side disconnect as the client sees
/// it when the connection process is brought down (internal error).
pub const CLOSE_KICKED: u16 = 1011;

/// Something the connection loop must do in answer to a client frame, in
/// list order.
#[derive(Debug)]
pub enum Action {
    /// Send this frame to the client.
    Send(Frame),
    /// Send this frame (a `[null, null, topic, event, payload]` broadcast) to
    /// every connection joined to its topic, this one included.
    Broadcast(Frame),
    /// Start receiving broadcasts for this topic.
    Subscribe(String),
    /// Stop receiving broadcasts for this topic.
    Unsubscribe(String),
    /// Send this frame after a delay, as a channel that answers later with
    /// `reply/2` does (docs/PROTOCOL.md §3).
    SendLater(std::time::Duration, Frame),
    /// Start streaming a `flood:N` channel's pushes after what was sent so far.
    Flood(Flood),
    /// Stop reading and writing this connection for a while, as a server
    /// whose network went silent.
    Stall(std::time::Duration),
    /// Drop every connection of the server (close 1012, as a Phoenix node
    /// shutting down does) and refuse new ones for this long.
    Restart(std::time::Duration),
    /// Track this connection's presence on a `room:*` topic: push
    /// `presence_state` (with this join_ref) and broadcast the join diff.
    Track {
        topic: String,
        join_ref: Option<String>,
    },
    /// Stop tracking it (the channel is gone) and broadcast the leave diff.
    Untrack(String),
    /// Subscribe the socket to GraphQL results (docs/PROTOCOL.md §9), then
    /// reply to `to` with the new id (`add_subscription` records it).
    GqlSubscribe {
        join_ref: Option<String>,
        to: Frame,
        subscription: Subscription,
    },
    /// Run a mutation's fields (each `addMessage` publishes to every
    /// subscriber of its room, this socket's first), then reply to `to`.
    GqlMutate {
        join_ref: Option<String>,
        to: Frame,
        fields: Vec<RootField>,
    },
    /// End these GraphQL subscriptions of this socket.
    GqlEnd(Vec<String>),
    /// Tell the other connections subscribed to this registry topic that
    /// it changed (a LiveView's PubSub broadcast); they ask their
    /// [`Connection::live_notice`] what that means for them.
    Notify(String),
    /// Close the WebSocket with this code and short reason; `detail` is
    /// for the server log only.
    Close {
        code: u16,
        reason: &'static str,
        detail: String,
    },
}

/// What a topic routes to; first match wins, as in a Phoenix socket's
/// `channel` declarations (docs/PROTOCOL.md §3, "Routes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `room:*`: a chat-like channel with test events (echo, shout, …).
    Room,
    /// `miami:weather`: the topic of the Phoenix guides' client example.
    Weather,
    /// `private:*`: a channel whose join always refuses.
    Private,
    /// `flood:N`: joins, then pushes N messages as fast as the client reads.
    Flood(u64),
    /// `__absinthe__:*`: Absinthe's control channel (docs/PROTOCOL.md §9).
    Absinthe,
    /// `lv:*` on `/live`: a LiveView (docs/PROTOCOL.md §10), run by `live/`.
    Live,
}

impl Route {
    fn of(topic: &str, mount: Mount) -> Option<Route> {
        if mount == Mount::Live {
            // LiveView's socket declares `live "lv:*"` alone.
            topic.starts_with("lv:").then_some(Route::Live)
        } else if topic.starts_with(absinthe::TOPIC_PREFIX) {
            Some(Route::Absinthe)
        } else if mount == Mount::Gql {
            // The `/gql` socket declares the Absinthe channel alone.
            None
        } else if topic.starts_with("room:") {
            Some(Route::Room)
        } else if topic == "miami:weather" {
            Some(Route::Weather)
        } else if topic.starts_with("private:") {
            Some(Route::Private)
        } else {
            let n = topic.strip_prefix("flood:")?;
            // Digits only: `u64::from_str` would also take a leading `+`.
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok().map(Route::Flood)
        }
    }
}

/// One joined channel.
#[derive(Debug)]
struct Channel {
    route: Route,
    /// Ref of the join that created this instance; the join's `ref` when its
    /// join_ref was null (docs/PROTOCOL.md §2).
    join_ref: Option<String>,
    /// Distinguishes instances even when two joins carry the same join_ref.
    instance: u64,
}

/// The channels one WebSocket connection has joined.
#[derive(Debug, Default)]
pub struct Connection {
    channels: HashMap<String, Channel>,
    instances: u64,
    /// The serializer the client asked for with `vsn`.
    vsn: Vsn,
    /// `mute_heartbeats` was pushed: heartbeats get no reply from now on.
    heartbeats_muted: bool,
    /// What the socket's connect_info exposes (auth token, user, vsn).
    connect_info: Option<Box<RawValue>>,
    /// The socket this connection reached, which decides its routes.
    mount: Mount,
    /// The ids of the control channel's live GraphQL subscriptions.
    gql_subscriptions: Vec<String>,
    /// The LiveViews of a `/live` connection.
    live: Option<Views>,
}

impl Connection {
    #[cfg(test)]
    pub fn new() -> Connection {
        Connection::default()
    }

    /// Sets what the `connect_info` event of `room:*` answers.
    pub fn with_connect_info(mut self, info: Box<RawValue>) -> Connection {
        self.connect_info = Some(info);
        self
    }

    /// A connection whose text frames use serializer `vsn`.
    pub fn with_vsn(vsn: Vsn) -> Connection {
        Connection {
            vsn,
            ..Connection::default()
        }
    }

    /// Routes as the socket at `mount` does.
    pub fn with_mount(mut self, mount: Mount) -> Connection {
        self.mount = mount;
        self
    }

    /// Runs `lv:*` topics with `views` (a `/live` connection).
    pub fn with_live(mut self, views: Views) -> Connection {
        self.live = Some(views);
        self
    }

    /// The diffs the LiveViews push for ticks due at `now()` (read only
    /// on a `/live` connection).
    pub fn live_due(&mut self, now: impl FnOnce() -> Instant) -> Vec<Frame> {
        let Some(live) = self.live.as_mut() else {
            return Vec::new();
        };
        let frames = live.due(now());
        // A view that navigated away on its own timer is gone.
        for topic in live.take_ended() {
            self.channels.remove(topic.as_str());
        }
        frames
    }

    /// When the next LiveView tick is due.
    pub fn live_deadline(&self) -> Option<Instant> {
        self.live.as_ref().and_then(Views::deadline)
    }

    /// What a registry notice on `topic` (an [`Action::Notify`] of another
    /// connection) makes the LiveViews push; `None` when it is no
    /// LiveView notice.
    pub fn live_notice(&mut self, topic: &str) -> Option<Vec<Frame>> {
        self.live.as_mut().and_then(|l| l.notice(topic))
    }

    /// Records a subscription [`Action::GqlSubscribe`] made.
    pub fn add_subscription(&mut self, id: String) {
        self.gql_subscriptions.push(id);
    }

    /// Whether `topic` is a live GraphQL subscription of this socket, whose
    /// results it receives without having joined it.
    pub fn has_subscription(&self, topic: &str) -> bool {
        self.gql_subscriptions.iter().any(|id| id == topic)
    }

    /// Whether `topic` is joined now.
    pub fn is_joined(&self, topic: &str) -> bool {
        self.channels.contains_key(topic)
    }

    /// The id of the channel instance joined on `topic`, if any.
    pub fn instance(&self, topic: &str) -> Option<u64> {
        self.channels.get(topic).map(|c| c.instance)
    }

    /// Every joined topic, and the registry topic the LiveViews subscribed.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        let live = self.live.as_ref().and_then(Views::subscription);
        self.channels.keys().map(String::as_str).chain(live)
    }

    /// Answers one text frame from the client. An undecodable frame closes
    /// the connection, as it crashes a Phoenix socket (docs/PROTOCOL.md §3).
    pub fn handle_text(&mut self, text: &str) -> Vec<Action> {
        self.handle_decoded(self.vsn.decode(text))
    }

    /// Answers one binary frame (a V2 kind-0 push, docs/PROTOCOL.md §2); under
    /// V1, or when it does not decode, it closes the connection like an
    /// undecodable text frame.
    pub fn handle_binary(&mut self, data: &[u8]) -> Vec<Action> {
        let decoded = match self.vsn {
            Vsn::V2 => protocol::decode_binary(data, Side::Client),
            Vsn::V1 => Err(protocol::DecodeError::BinaryOnV1),
        };
        self.handle_decoded(decoded)
    }

    fn handle_decoded(&mut self, decoded: Result<Frame, protocol::DecodeError>) -> Vec<Action> {
        match decoded {
            Ok(frame) => self.handle_frame(frame),
            Err(e) => vec![Action::Close {
                code: CLOSE_UNDECODABLE,
                reason: "undecodable frame",
                detail: e.to_string(),
            }],
        }
    }

    /// Answers one decoded frame, in the order of docs/PROTOCOL.md §3.
    pub fn handle_frame(&mut self, frame: Frame) -> Vec<Action> {
        // Heartbeats are answered before any channel lookup.
        if frame.topic == protocol::PHOENIX_TOPIC && frame.event == protocol::HEARTBEAT {
            if self.heartbeats_muted {
                return Vec::new();
            }
            return vec![reply(None, &frame, "ok", protocol::empty_object())];
        }
        // A join is handled whatever its join_ref: a join of a joined topic
        // replaces the old channel instead of being dropped as stale.
        if frame.event == protocol::PHX_JOIN {
            return self.join(frame);
        }
        let Some(channel) = self.channels.get(frame.topic.as_str()) else {
            return if frame.event == protocol::PHX_LEAVE {
                // Leaving what is not joined succeeds, echoing the join_ref.
                vec![reply(
                    frame.join_ref.as_deref(),
                    &frame,
                    "ok",
                    protocol::empty_object(),
                )]
            } else {
                vec![unmatched(&frame)]
            };
        };
        // Phoenix 1.8.12 drops a message for an older instance of the
        // channel; a null join_ref is accepted (docs/PROTOCOL.md §3, last row).
        if frame.join_ref.is_some() && frame.join_ref.as_deref() != channel.join_ref.as_deref() {
            return Vec::new();
        }
        let route = channel.route;
        let join_ref = channel.join_ref.clone();
        let jr = join_ref.as_deref();
        if route == Route::Live {
            return self.live_event(jr, &frame);
        }
        if frame.event == protocol::PHX_LEAVE {
            let mut out = vec![reply(jr, &frame, "ok", protocol::empty_object())];
            out.extend(self.close_channel(&frame.topic, protocol::PHX_CLOSE));
            return out;
        }
        match route {
            Route::Room => self.room_event(jr, &frame),
            Route::Weather if frame.event == "report_emergency" => {
                vec![reply(jr, &frame, "ok", protocol::empty_object())]
            }
            Route::Absinthe => self.absinthe_event(jr, frame),
            // Any event the channel has no handle_in clause for: the
            // channel process dies and the client gets phx_error.
            _ => self.close_channel(&frame.topic, protocol::PHX_ERROR),
        }
    }

    /// Answers an event on a joined `room:*` channel: the demo events.
    fn room_event(&mut self, jr: Option<&str>, frame: &Frame) -> Vec<Action> {
        match frame.event.as_str() {
            "echo" => {
                let response = frame.payload.clone();
                vec![reply(jr, frame, "ok", response)]
            }
            // `broadcast!(socket, event, payload)` and `{:noreply, socket}`,
            // as the chat channel of Phoenix's guide answers `new_msg`: the
            // broadcast goes to every subscriber, the sender included, and
            // no reply comes (a client sends these with `cast`).
            "shout" | "new_msg" => vec![Action::Broadcast(Frame {
                join_ref: None,
                ref_: None,
                topic: frame.topic.clone(),
                event: frame.event.clone(),
                payload: frame.payload.clone(),
            })],
            // Replies ok with the payload after `ms` milliseconds (default
            // 1000, at most 60 000): a slow handler, for reply timeouts.
            "slow" => {
                let ms = delay_ms(&frame.payload);
                match reply(jr, frame, "ok", frame.payload.clone()) {
                    Action::Send(f) => {
                        vec![Action::SendLater(std::time::Duration::from_millis(ms), f)]
                    }
                    other => vec![other],
                }
            }
            "fail" => vec![reply(jr, frame, "error", reason("nope"))],
            // What the socket knows about the connection: the auth token
            // from the subprotocol header, the presence key and the vsn.
            "connect_info" => {
                let info = self
                    .connect_info
                    .clone()
                    .unwrap_or_else(protocol::empty_object);
                vec![reply(jr, frame, "ok", info)]
            }
            // `{:noreply, socket}`: nothing is sent; the client times out.
            "noreply" => Vec::new(),
            // `{:stop, :normal, :ok, socket}`: the reply, then phx_close.
            "stop" => {
                let mut out = vec![reply(jr, frame, "ok", protocol::empty_object())];
                out.extend(self.close_channel(&frame.topic, protocol::PHX_CLOSE));
                out
            }
            // Fault injection, so failures can be rehearsed and tested over
            // real sockets.
            "kick" => vec![Action::Close {
                code: CLOSE_KICKED,
                reason: "kicked",
                detail: format!("kicked from {}", frame.topic),
            }],
            "mute_heartbeats" => {
                self.heartbeats_muted = true;
                vec![reply(jr, frame, "ok", protocol::empty_object())]
            }
            "stall" => {
                let ms = delay_ms_or(&frame.payload, 60_000);
                vec![
                    reply(jr, frame, "ok", protocol::empty_object()),
                    Action::Stall(std::time::Duration::from_millis(ms)),
                ]
            }
            "restart" => {
                let ms = delay_ms_or(&frame.payload, 0);
                vec![
                    reply(jr, frame, "ok", protocol::empty_object()),
                    Action::Restart(std::time::Duration::from_millis(ms)),
                ]
            }
            // `crash`, and any event the channel has no handle_in clause for:
            // the channel process dies and the client gets phx_error.
            _ => self.close_channel(&frame.topic, protocol::PHX_ERROR),
        }
    }

    /// Answers `doc` and `unsubscribe` on the control channel; any other
    /// event, or a payload no clause matches, crashes it as in Absinthe.
    fn absinthe_event(&mut self, jr: Option<&str>, frame: Frame) -> Vec<Action> {
        let join_ref = jr.map(str::to_owned);
        match frame.event.as_str() {
            "doc" => match absinthe::doc(&frame.payload) {
                Outcome::Reply { ok, response } => {
                    let status = if ok { "ok" } else { "error" };
                    vec![reply(
                        jr,
                        &frame,
                        status,
                        protocol::raw(response.to_string()),
                    )]
                }
                Outcome::Subscribe(subscription) => vec![Action::GqlSubscribe {
                    join_ref,
                    to: frame,
                    subscription,
                }],
                Outcome::Mutate(fields) => vec![Action::GqlMutate {
                    join_ref,
                    to: frame,
                    fields,
                }],
                Outcome::Crash => self.close_channel(&frame.topic, protocol::PHX_ERROR),
            },
            "unsubscribe" => match absinthe::unsubscribe_id(&frame.payload) {
                // Replies ok even for an id already gone, as Absinthe does.
                Some(id) => {
                    self.gql_subscriptions.retain(|s| *s != id);
                    let response = serde_json::json!({ "subscriptionId": &id });
                    vec![
                        Action::GqlEnd(vec![id]),
                        reply(jr, &frame, "ok", protocol::raw(response.to_string())),
                    ]
                }
                None => self.close_channel(&frame.topic, protocol::PHX_ERROR),
            },
            _ => self.close_channel(&frame.topic, protocol::PHX_ERROR),
        }
    }

    /// Ends the GraphQL subscriptions of a control channel that is gone.
    fn end_subscriptions(&mut self, route: Route) -> Option<Action> {
        (route == Route::Absinthe && !self.gql_subscriptions.is_empty())
            .then(|| Action::GqlEnd(std::mem::take(&mut self.gql_subscriptions)))
    }

    fn join(&mut self, frame: Frame) -> Vec<Action> {
        let Some(route) = Route::of(&frame.topic, self.mount) else {
            return vec![unmatched(&frame)];
        };
        if route == Route::Live {
            return self.join_live(frame);
        }
        // A duplicate join kills the old instance (docs/PROTOCOL.md §3); its
        // phx_close goes out after the new join's reply.
        let old = self.channels.remove(frame.topic.as_str());
        let mut out = join_reply(route, old.is_some(), &frame);
        // What `handle_info(:after_join, …)` does, once `join/3` has
        // returned and its reply is out (docs/PROTOCOL.md §3, "Order after a
        // join"): presence for `room:*`.
        let after_join = (route == Route::Room).then(|| Action::Track {
            topic: frame.topic.to_string(),
            join_ref: frame
                .join_ref
                .as_ref()
                .or(frame.ref_.as_ref())
                .map(|r| r.to_string()),
        });
        if let Some(old) = &old {
            let jr = old.join_ref.as_deref();
            out.push(Action::Send(Frame::new(
                jr,
                jr,
                &frame.topic,
                protocol::PHX_CLOSE,
                protocol::empty_object(),
            )));
            out.extend(self.end_subscriptions(old.route));
        }
        // Absinthe's channel joins `__absinthe__:control` only; another
        // topic matches no `join/3` clause, so the join crashes.
        let refused = route == Route::Private
            || (route == Route::Absinthe && frame.topic != absinthe::CONTROL_TOPIC);
        if refused {
            if old.is_some() {
                out.push(Action::Unsubscribe(frame.topic.into_string()));
            }
            return out;
        }
        self.instances += 1;
        let channel = Channel {
            route,
            join_ref: frame
                .join_ref
                .as_ref()
                .or(frame.ref_.as_ref())
                .map(|r| r.to_string()),
            instance: self.instances,
        };
        if old.is_none() && route != Route::Room {
            out.push(Action::Subscribe(frame.topic.to_string()));
        }
        if let Route::Flood(count) = route {
            out.push(Action::Flood(Flood {
                topic: frame.topic.to_string(),
                join_ref: channel.join_ref.clone(),
                instance: channel.instance,
                count,
                body: flood_body(&frame.payload),
            }));
        }
        self.channels.insert(frame.topic.into_string(), channel);
        out.extend(after_join);
        out
    }

    /// Joins a LiveView: the ok reply with its tree, or `stale`; then, as
    /// for any duplicate join, the old instance's `phx_close`.
    fn join_live(&mut self, frame: Frame) -> Vec<Action> {
        let old = self.channels.remove(frame.topic.as_str());
        let Some(live) = self.live.as_mut() else {
            return vec![unmatched(&frame)];
        };
        let join_ref = frame
            .join_ref
            .as_ref()
            .or(frame.ref_.as_ref())
            .map(|r| r.to_string());
        let client_jr = frame.join_ref.as_deref();
        let mut out = match live.join(&frame, join_ref.as_deref()) {
            Ok(response) => {
                self.instances += 1;
                let channel = Channel {
                    route: Route::Live,
                    join_ref,
                    instance: self.instances,
                };
                self.channels.insert(frame.topic.to_string(), channel);
                vec![reply(client_jr, &frame, "ok", protocol::raw(response))]
            }
            Err(why) => vec![reply(client_jr, &frame, "error", reason(why))],
        };
        if let Some(old) = &old {
            let jr = old.join_ref.as_deref();
            out.push(Action::Send(Frame::new(
                jr,
                jr,
                &frame.topic,
                protocol::PHX_CLOSE,
                protocol::empty_object(),
            )));
        }
        out.extend(
            live.take_subscription()
                .map(|t| Action::Subscribe(t.to_owned())),
        );
        out
    }

    /// A message for a joined LiveView: `phx_leave`, or an event.
    fn live_event(&mut self, jr: Option<&str>, frame: &Frame) -> Vec<Action> {
        let Some(live) = self.live.as_mut() else {
            return Vec::new();
        };
        if frame.event == protocol::PHX_LEAVE {
            self.channels.remove(frame.topic.as_str());
            return live
                .leave(frame, jr)
                .into_iter()
                .map(Action::Send)
                .collect();
        }
        let handled = live.event(frame, jr);
        if handled.stopped {
            self.channels.remove(frame.topic.as_str());
        }
        let mut out: Vec<Action> = handled.frames.into_iter().map(Action::Send).collect();
        out.extend(handled.publish.map(|t| Action::Notify(t.to_owned())));
        out
    }

    /// Ends the channel on `topic` with `phx_close` or `phx_error`, both
    /// carrying ref = join_ref (docs/PROTOCOL.md §3, `{:stop, …}`).
    fn close_channel(&mut self, topic: &str, event: &str) -> Vec<Action> {
        let Some(channel) = self.channels.remove(topic) else {
            return Vec::new();
        };
        let payload = if event == protocol::PHX_ERROR {
            reason("channel_crash")
        } else {
            protocol::empty_object()
        };
        let jr = channel.join_ref.as_deref();
        let mut out = vec![
            Action::Send(Frame::new(jr, jr, topic, event, payload)),
            Action::Unsubscribe(topic.to_owned()),
        ];
        if channel.route == Route::Room {
            out.push(Action::Untrack(topic.to_owned()));
        }
        out.extend(self.end_subscriptions(channel.route));
        out
    }
}

/// What a join of `route` answers, before the channel exists: the reply,
/// and for `room:*` the subscription (or, when `rejoined` says an old
/// instance of the topic was just replaced, the old one's untracking).
fn join_reply(route: Route, rejoined: bool, frame: &Frame) -> Vec<Action> {
    let client_jr = frame.join_ref.as_deref();
    match route {
        Route::Private => vec![reply(client_jr, frame, "error", reason("unauthorized"))],
        Route::Room => {
            let topic = frame.topic.to_string();
            let first = if rejoined {
                Action::Untrack(topic)
            } else {
                Action::Subscribe(topic)
            };
            let response = protocol::raw(format!(
                "{{\"joined\":{}}}",
                protocol::json_str(&frame.topic)
            ));
            vec![first, reply(client_jr, frame, "ok", response)]
        }
        Route::Absinthe if frame.topic != absinthe::CONTROL_TOPIC => {
            vec![reply(client_jr, frame, "error", reason("join crashed"))]
        }
        Route::Weather | Route::Flood(_) | Route::Absinthe | Route::Live => {
            vec![reply(client_jr, frame, "ok", protocol::empty_object())]
        }
    }
}

/// The `body` string of a `flood:N` join's payload, which every push then
/// carries; anything else (no `body`, not a string, binary) carries none.
fn flood_body(payload: &Payload) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Join {
        body: Option<serde_json::Value>,
    }
    let json = payload.json()?;
    match serde_json::from_str::<Join>(json.get()).ok()?.body? {
        serde_json::Value::String(body) => Some(body),
        _ => None,
    }
}

/// A `phx_reply` to `to`, echoing its ref; for the replies `peer.rs`
/// makes after a GraphQL subscribe or mutation.
pub fn reply_frame(join_ref: Option<&str>, to: &Frame, status: &str, response: &str) -> Frame {
    reply_to(join_ref, to, status, protocol::raw(response.to_owned()))
}

/// [`reply_to`] as an action.
fn reply(join_ref: Option<&str>, to: &Frame, status: &str, response: impl Into<Payload>) -> Action {
    Action::Send(reply_to(join_ref, to, status, response))
}

/// A `phx_reply` to `to`, echoing its ref. A binary response makes a
/// binary reply (kind 1).
fn reply_to(
    join_ref: Option<&str>,
    to: &Frame,
    status: &str,
    response: impl Into<Payload>,
) -> Frame {
    let payload = match response.into() {
        Payload::Json(json) => Payload::Json(protocol::reply_payload(status, &json)),
        Payload::Binary(data) | Payload::BinaryReply { response: data, .. } => {
            Payload::BinaryReply {
                status: status.to_owned(),
                response: data,
            }
        }
    };
    Frame {
        join_ref: join_ref.map(Into::into),
        ref_: to.ref_.clone(),
        topic: to.topic.clone(),
        event: protocol::PHX_REPLY.into(),
        payload,
    }
}

/// The reply to a join with no route or a message for a topic not joined:
/// join_ref null (docs/PROTOCOL.md §3).
fn unmatched(to: &Frame) -> Action {
    reply(None, to, "error", reason("unmatched topic"))
}

/// `{"reason": text}`.
/// The `ms` field of a `slow` payload: default 1000, at most 60 000.
fn delay_ms(payload: &Payload) -> u64 {
    delay_ms_or(payload, 1000)
}

/// The `ms` field of a payload, or `default`; at most 60 000.
fn delay_ms_or(payload: &Payload, default: u64) -> u64 {
    #[derive(serde::Deserialize)]
    struct Delay {
        ms: Option<u64>,
    }
    let Some(json) = payload.json() else {
        return default;
    };
    serde_json::from_str::<Delay>(json.get())
        .ok()
        .and_then(|s| s.ms)
        .unwrap_or(default)
        .min(60_000)
}

fn reason(text: &str) -> Box<RawValue> {
    protocol::raw(format!("{{\"reason\":{}}}", protocol::json_str(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` and renders the actions as strings: frames as their V2
    /// text, the rest as short tags.
    fn run(conn: &mut Connection, text: &str) -> Vec<String> {
        conn.handle_text(text).into_iter().map(render).collect()
    }

    fn render(action: Action) -> String {
        match action {
            Action::Send(f) => f.encode(),
            Action::Broadcast(f) => format!("broadcast {}", f.encode()),
            Action::SendLater(d, f) => format!("after {}ms {}", d.as_millis(), f.encode()),
            Action::Subscribe(t) => format!("subscribe {t}"),
            Action::Unsubscribe(t) => format!("unsubscribe {t}"),
            Action::Stall(d) => format!("stall {}ms", d.as_millis()),
            Action::Restart(d) => format!("restart down {}ms", d.as_millis()),
            Action::Flood(f) => format!(
                "flood {} {:?} #{} x{}",
                f.topic, f.join_ref, f.instance, f.count
            ),
            Action::Track { topic, join_ref } => format!("track {topic} {join_ref:?}"),
            Action::Untrack(t) => format!("untrack {t}"),
            Action::GqlSubscribe {
                join_ref,
                to,
                subscription,
            } => format!(
                "gql subscribe {join_ref:?} ref {:?} room {} key {}",
                to.ref_, subscription.room, subscription.key
            ),
            Action::GqlMutate {
                join_ref,
                to,
                fields,
            } => {
                format!(
                    "gql mutate {join_ref:?} ref {:?} x{}",
                    to.ref_,
                    fields.len()
                )
            }
            Action::GqlEnd(ids) => format!("gql end {ids:?}"),
            Action::Notify(t) => format!("notify {t}"),
            Action::Close {
                code,
                reason,
                detail,
            } => format!("close {code} {reason}: {detail}"),
        }
    }

    fn joined_lobby() -> Connection {
        let mut c = Connection::new();
        run(&mut c, r#"["1","1","room:lobby","phx_join",{}]"#);
        c
    }

    #[test]
    fn slow_replies_later_with_the_payload() {
        let mut c = Connection::new();
        run(&mut c, r#"["1","1","room:a","phx_join",{}]"#);
        assert_eq!(
            run(&mut c, r#"["1","2","room:a","slow",{"ms":250}]"#),
            [r#"after 250ms ["1","2","room:a","phx_reply",{"status":"ok","response":{"ms":250}}]"#]
        );
        assert_eq!(
            run(&mut c, r#"["1","3","room:a","slow",{}]"#),
            [r#"after 1000ms ["1","3","room:a","phx_reply",{"status":"ok","response":{}}]"#]
        );
    }

    #[test]
    fn heartbeat_gets_an_ok_reply_with_null_join_ref() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"[null,"4","phoenix","heartbeat",{}]"#),
            [r#"[null,"4","phoenix","phx_reply",{"status":"ok","response":{}}]"#]
        );
    }

    #[test]
    fn room_join_replies_with_the_topic_and_subscribes() {
        let mut c = Connection::new();
        // The reply first; presence is tracked after it, as an app's
        // `:after_join` does once `join/3` has returned.
        assert_eq!(
            run(&mut c, r#"["1","1","room:lobby","phx_join",{"user":"x"}]"#),
            [
                "subscribe room:lobby",
                r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{"joined":"room:lobby"}}]"#,
                r#"track room:lobby Some("1")"#,
            ]
        );
        assert!(c.is_joined("room:lobby"));
        assert_eq!(c.topics().collect::<Vec<_>>(), ["room:lobby"]);
    }

    #[test]
    fn weather_join_replies_with_an_empty_object() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["3","3","miami:weather","phx_join",{}]"#),
            [
                r#"["3","3","miami:weather","phx_reply",{"status":"ok","response":{}}]"#,
                "subscribe miami:weather",
            ]
        );
    }

    #[test]
    fn weather_accepts_report_emergency_and_crashes_on_other_events() {
        let mut c = Connection::new();
        run(&mut c, r#"["3","3","miami:weather","phx_join",{}]"#);
        assert_eq!(
            run(
                &mut c,
                r#"["3","4","miami:weather","report_emergency",{"a":1}]"#
            ),
            [r#"["3","4","miami:weather","phx_reply",{"status":"ok","response":{}}]"#]
        );
        assert_eq!(
            run(&mut c, r#"["3","5","miami:weather","echo",{}]"#),
            [
                r#"["3","3","miami:weather","phx_error",{"reason":"channel_crash"}]"#,
                "unsubscribe miami:weather",
            ]
        );
        assert!(!c.is_joined("miami:weather"));
    }

    #[test]
    fn private_join_is_refused_with_the_clients_join_ref() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["1","1","private:x","phx_join",{}]"#),
            [
                r#"["1","1","private:x","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#
            ]
        );
        assert!(!c.is_joined("private:x"));
    }

    #[test]
    fn unrouted_join_is_unmatched_with_null_join_ref() {
        let mut c = Connection::new();
        for topic in [
            "nope",
            "flood:",
            "flood:x",
            "flood:+5",
            "flood:-1",
            "miami:rain",
        ] {
            let text = format!(r#"["1","2","{topic}","phx_join",{{}}]"#);
            assert_eq!(
                run(&mut c, &text),
                [format!(
                    r#"[null,"2","{topic}","phx_reply",{{"status":"error","response":{{"reason":"unmatched topic"}}}}]"#
                )],
                "{topic}"
            );
        }
    }

    #[test]
    fn flood_join_replies_then_starts_the_flood() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["7","7","flood:1000000","phx_join",{}]"#),
            [
                r#"["7","7","flood:1000000","phx_reply",{"status":"ok","response":{}}]"#,
                "subscribe flood:1000000",
                r#"flood flood:1000000 Some("7") #1 x1000000"#,
            ]
        );
        assert_eq!(c.instance("flood:1000000"), Some(1));
    }

    #[test]
    fn flood_of_zero_still_starts_so_done_is_sent() {
        let mut c = Connection::new();
        let out = run(&mut c, r#"["1","1","flood:0","phx_join",{}]"#);
        assert_eq!(out[2], r#"flood flood:0 Some("1") #1 x0"#);
    }

    fn flood_body_of(text: &str) -> Option<String> {
        let mut c = Connection::new();
        c.handle_text(text).into_iter().find_map(|a| match a {
            Action::Flood(f) => Some(f.body),
            _ => None,
        })?
    }

    #[test]
    fn flood_join_with_a_body_string_puts_it_in_every_push() {
        assert_eq!(
            flood_body_of(r#"["1","1","flood:2","phx_join",{"body":"x\"y"}]"#).as_deref(),
            Some("x\"y")
        );
        for payload in ["{}", r#"{"body":5}"#, r#"{"body":null}"#, "[1]"] {
            let join = format!(r#"["1","1","flood:2","phx_join",{payload}]"#);
            assert_eq!(flood_body_of(&join), None, "{payload}");
        }
    }

    #[test]
    fn flood_channel_crashes_on_any_event() {
        let mut c = Connection::new();
        run(&mut c, r#"["1","1","flood:3","phx_join",{}]"#);
        assert_eq!(
            run(&mut c, r#"["1","2","flood:3","echo",{}]"#),
            [
                r#"["1","1","flood:3","phx_error",{"reason":"channel_crash"}]"#,
                "unsubscribe flood:3",
            ]
        );
        assert_eq!(c.instance("flood:3"), None);
    }

    #[test]
    fn join_with_null_join_ref_uses_its_ref() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"[null,"5","room:a","phx_join",{}]"#)[1],
            r#"[null,"5","room:a","phx_reply",{"status":"ok","response":{"joined":"room:a"}}]"#
        );
        assert_eq!(
            run(&mut c, r#"[null,"6","room:a","crash",{}]"#)[0],
            r#"["5","5","room:a","phx_error",{"reason":"channel_crash"}]"#
        );
    }

    #[test]
    fn duplicate_join_replies_then_closes_the_old_instance() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["2","2","room:lobby","phx_join",{}]"#),
            [
                "untrack room:lobby",
                r#"["2","2","room:lobby","phx_reply",{"status":"ok","response":{"joined":"room:lobby"}}]"#,
                r#"["1","1","room:lobby","phx_close",{}]"#,
                r#"track room:lobby Some("2")"#,
            ]
        );
        // The topic stays joined, now under the new join_ref.
        assert_eq!(
            run(&mut c, r#"["2","3","room:lobby","echo",{"x":1}]"#),
            [r#"["2","3","room:lobby","phx_reply",{"status":"ok","response":{"x":1}}]"#]
        );
        assert!(run(&mut c, r#"["1","4","room:lobby","echo",{}]"#).is_empty());
    }

    #[test]
    fn duplicate_flood_join_starts_a_new_instance() {
        let mut c = Connection::new();
        run(&mut c, r#"["1","1","flood:5","phx_join",{}]"#);
        assert_eq!(
            run(&mut c, r#"["2","2","flood:5","phx_join",{}]"#),
            [
                r#"["2","2","flood:5","phx_reply",{"status":"ok","response":{}}]"#,
                r#"["1","1","flood:5","phx_close",{}]"#,
                r#"flood flood:5 Some("2") #2 x5"#,
            ]
        );
        assert_eq!(c.instance("flood:5"), Some(2));
    }

    #[test]
    fn leave_replies_then_closes_and_unsubscribes() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","9","room:lobby","phx_leave",{}]"#),
            [
                r#"["1","9","room:lobby","phx_reply",{"status":"ok","response":{}}]"#,
                r#"["1","1","room:lobby","phx_close",{}]"#,
                "unsubscribe room:lobby",
                "untrack room:lobby",
            ]
        );
        assert!(!c.is_joined("room:lobby"));
    }

    #[test]
    fn leave_with_null_join_ref_uses_the_channels() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"[null,"9","room:lobby","phx_leave",{}]"#)[0],
            r#"["1","9","room:lobby","phx_reply",{"status":"ok","response":{}}]"#
        );
    }

    #[test]
    fn leave_of_a_topic_not_joined_echoes_the_join_ref_without_close() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["8","9","room:x","phx_leave",{}]"#),
            [r#"["8","9","room:x","phx_reply",{"status":"ok","response":{}}]"#]
        );
    }

    #[test]
    fn stale_join_ref_is_dropped_silently() {
        let mut c = joined_lobby();
        assert!(run(&mut c, r#"["0","5","room:lobby","echo",{}]"#).is_empty());
        assert!(run(&mut c, r#"["0","6","room:lobby","phx_leave",{}]"#).is_empty());
        assert!(c.is_joined("room:lobby"));
    }

    #[test]
    fn null_join_ref_is_accepted_on_a_joined_topic() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"[null,"5","room:lobby","echo",[1,2]]"#),
            [r#"["1","5","room:lobby","phx_reply",{"status":"ok","response":[1,2]}]"#]
        );
    }

    #[test]
    fn event_on_a_topic_not_joined_is_unmatched() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","echo",{}]"#),
            [
                r#"[null,"2","room:lobby","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
            ]
        );
        assert_eq!(
            run(&mut c, r#"[null,"3","phoenix","other",{}]"#),
            [
                r#"[null,"3","phoenix","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
            ]
        );
    }

    #[test]
    fn echo_replies_with_the_payload_verbatim() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","echo",{ "body" : "hi" }]"#),
            [r#"["1","2","room:lobby","phx_reply",{"status":"ok","response":{ "body" : "hi" }}]"#]
        );
    }

    #[test]
    fn shout_broadcasts_and_does_not_reply() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","shout",{"body":"hi"}]"#),
            [r#"broadcast [null,null,"room:lobby","shout",{"body":"hi"}]"#]
        );
    }

    #[test]
    fn fail_replies_error_nope() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","fail",{}]"#),
            [
                r#"["1","2","room:lobby","phx_reply",{"status":"error","response":{"reason":"nope"}}]"#
            ]
        );
    }

    #[test]
    fn noreply_sends_nothing() {
        let mut c = joined_lobby();
        assert!(run(&mut c, r#"["1","2","room:lobby","noreply",{}]"#).is_empty());
        assert!(c.is_joined("room:lobby"));
    }

    #[test]
    fn crash_sends_phx_error_and_unjoins() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","crash",{}]"#),
            [
                r#"["1","1","room:lobby","phx_error",{"reason":"channel_crash"}]"#,
                "unsubscribe room:lobby",
                "untrack room:lobby",
            ]
        );
        assert_eq!(
            run(&mut c, r#"["1","3","room:lobby","echo",{}]"#),
            [
                r#"[null,"3","room:lobby","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
            ]
        );
    }

    #[test]
    fn unknown_room_event_crashes_like_a_missing_handle_in() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","no_such_event",{}]"#)[0],
            r#"["1","1","room:lobby","phx_error",{"reason":"channel_crash"}]"#
        );
    }

    #[test]
    fn new_msg_is_broadcast_without_a_reply_like_the_phoenix_guide_chat() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","new_msg",{"body":"hi"}]"#),
            [r#"broadcast [null,null,"room:lobby","new_msg",{"body":"hi"}]"#]
        );
    }

    #[test]
    fn stop_replies_then_closes() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","stop",{}]"#),
            [
                r#"["1","2","room:lobby","phx_reply",{"status":"ok","response":{}}]"#,
                r#"["1","1","room:lobby","phx_close",{}]"#,
                "unsubscribe room:lobby",
                "untrack room:lobby",
            ]
        );
        assert!(!c.is_joined("room:lobby"));
    }

    #[test]
    fn undecodable_frame_closes_the_connection() {
        let mut c = joined_lobby();
        let out = run(&mut c, r#"{"topic":"room:lobby"}"#);
        assert_eq!(out.len(), 1);
        assert!(
            out[0].starts_with("close 1011 undecodable frame: expected a V2 frame"),
            "{}",
            out[0]
        );
    }

    #[test]
    fn topics_with_quotes_are_escaped_in_replies() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["1","1","room:\"q\"","phx_join",{}]"#)[1],
            r#"["1","1","room:\"q\"","phx_reply",{"status":"ok","response":{"joined":"room:\"q\""}}]"#
        );
    }

    #[test]
    fn binary_echo_replies_with_a_binary_reply() {
        let mut c = joined_lobby();
        let push = b"\x00\x01\x01\x0a\x04\x31\x32room:lobbyecho\xde\xad";
        let out: Vec<Action> = c.handle_binary(push);
        match &out[..] {
            [Action::Send(f)] => {
                assert_eq!(f.ref_.as_deref(), Some("2"));
                assert!(matches!(
                    &f.payload,
                    Payload::BinaryReply { status, response } if status == "ok" && response == &[0xde, 0xad]
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_shout_broadcasts_the_bytes() {
        let mut c = joined_lobby();
        let out = c.handle_binary(b"\x00\x01\x01\x0a\x05\x31\x33room:lobbyshout\x01");
        assert!(
            matches!(&out[0], Action::Broadcast(f) if matches!(&f.payload, Payload::Binary(d) if d == &[1]))
        );
    }

    #[test]
    fn v1_connections_read_objects_and_refuse_binary() {
        let mut c = Connection::with_vsn(Vsn::V1);
        let out = c.handle_text(
            r#"{"topic":"room:a","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}"#,
        );
        assert!(matches!(&out[1], Action::Send(f) if f.ref_.as_deref() == Some("1")));
        assert!(c.is_joined("room:a"));
        let out = c.handle_binary(b"\x00\x00\x00\x01\x01te");
        assert!(matches!(
            &out[0],
            Action::Close {
                code: CLOSE_UNDECODABLE,
                ..
            }
        ));
    }

    #[test]
    fn kick_closes_the_socket_with_1011() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","kick",{}]"#),
            ["close 1011 kicked: kicked from room:lobby"]
        );
    }

    #[test]
    fn mute_heartbeats_stops_heartbeat_replies() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","mute_heartbeats",{}]"#),
            [r#"["1","2","room:lobby","phx_reply",{"status":"ok","response":{}}]"#]
        );
        assert!(run(&mut c, r#"[null,"3","phoenix","heartbeat",{}]"#).is_empty());
        assert_eq!(
            run(&mut c, r#"["1","4","room:lobby","echo",{}]"#).len(),
            1,
            "other events are still answered"
        );
    }

    #[test]
    fn stall_and_restart_reply_then_act() {
        let mut c = joined_lobby();
        assert_eq!(
            run(&mut c, r#"["1","2","room:lobby","stall",{"ms":500}]"#)[1],
            "stall 500ms"
        );
        assert_eq!(
            run(&mut c, r#"["1","3","room:lobby","stall",{}]"#)[1],
            "stall 60000ms"
        );
        assert_eq!(
            run(&mut c, r#"["1","4","room:lobby","restart",{}]"#),
            [
                r#"["1","4","room:lobby","phx_reply",{"status":"ok","response":{}}]"#,
                "restart down 0ms"
            ]
        );
    }

    fn joined_control() -> Connection {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["1","1","__absinthe__:control","phx_join",{}]"#),
            [
                r#"["1","1","__absinthe__:control","phx_reply",{"status":"ok","response":{}}]"#,
                "subscribe __absinthe__:control",
            ]
        );
        c
    }

    #[test]
    fn absinthe_queries_and_errors_are_answered_at_once() {
        let mut c = joined_control();
        assert_eq!(
            run(
                &mut c,
                r#"["1","2","__absinthe__:control","doc",{"query":"{ hello }"}]"#
            ),
            [
                r#"["1","2","__absinthe__:control","phx_reply",{"status":"ok","response":{"data":{"hello":"hello world"}}}]"#
            ]
        );
        assert_eq!(
            run(
                &mut c,
                r#"["1","3","__absinthe__:control","doc",{"query":"{ hello(","variables":null}]"#
            ),
            [
                r#"["1","3","__absinthe__:control","phx_reply",{"status":"error","response":{"errors":[{"locations":[{"column":8,"line":1}],"message":"syntax error before: "}]}}]"#
            ]
        );
        assert_eq!(
            run(
                &mut c,
                r#"["1","4","__absinthe__:control","doc",{"query":"{ hello }","variables":[]}]"#
            ),
            [
                r#"["1","4","__absinthe__:control","phx_reply",{"status":"error","response":{"error":"Could not parse variables as map"}}]"#
            ]
        );
    }

    #[test]
    fn absinthe_subscriptions_and_mutations_go_to_the_registry() {
        let mut c = joined_control();
        let sub = r#"["1","2","__absinthe__:control","doc",{"query":"subscription($r: String!){ messageAdded(room: $r){ id } }","variables":{"r":"lobby"}}]"#;
        assert_eq!(
            run(&mut c, sub),
            [r#"gql subscribe Some("1") ref Some("2") room lobby key messageAdded"#]
        );
        let mutation = r#"["1","3","__absinthe__:control","doc",{"query":"mutation { addMessage(room: \"lobby\", body: \"hi\") { id } }"}]"#;
        assert_eq!(
            run(&mut c, mutation),
            [r#"gql mutate Some("1") ref Some("3") x1"#]
        );
    }

    #[test]
    fn absinthe_unsubscribe_replies_with_the_id_even_when_gone() {
        let mut c = joined_control();
        c.add_subscription("__absinthe__:doc:1:X".to_owned());
        assert!(c.has_subscription("__absinthe__:doc:1:X"));
        let unsub = r#"["1","5","__absinthe__:control","unsubscribe",{"subscriptionId":"__absinthe__:doc:1:X"}]"#;
        let answer = [
            r#"gql end ["__absinthe__:doc:1:X"]"#,
            r#"["1","5","__absinthe__:control","phx_reply",{"status":"ok","response":{"subscriptionId":"__absinthe__:doc:1:X"}}]"#,
        ];
        assert_eq!(run(&mut c, unsub), answer);
        assert!(!c.has_subscription("__absinthe__:doc:1:X"));
        assert_eq!(run(&mut c, unsub), answer);
    }

    #[test]
    fn absinthe_channel_crash_or_leave_ends_its_subscriptions() {
        let mut c = joined_control();
        c.add_subscription("S1".to_owned());
        assert_eq!(
            run(
                &mut c,
                r#"["1","2","__absinthe__:control","unsubscribe",{}]"#
            ),
            [
                r#"["1","1","__absinthe__:control","phx_error",{"reason":"channel_crash"}]"#,
                "unsubscribe __absinthe__:control",
                r#"gql end ["S1"]"#,
            ]
        );
        assert!(!c.has_subscription("S1"));
        let mut c = joined_control();
        c.add_subscription("S2".to_owned());
        assert_eq!(
            run(&mut c, r#"["1","2","__absinthe__:control","phx_leave",{}]"#)[3],
            r#"gql end ["S2"]"#
        );
        let mut c = joined_control();
        c.add_subscription("S3".to_owned());
        assert!(
            run(&mut c, r#"["2","2","__absinthe__:control","phx_join",{}]"#)
                .contains(&r#"gql end ["S3"]"#.to_owned())
        );
    }

    #[test]
    fn other_absinthe_topics_crash_the_join() {
        let mut c = Connection::new();
        assert_eq!(
            run(&mut c, r#"["1","1","__absinthe__:other","phx_join",{}]"#),
            [
                r#"["1","1","__absinthe__:other","phx_reply",{"status":"error","response":{"reason":"join crashed"}}]"#
            ]
        );
        assert!(!c.is_joined("__absinthe__:other"));
    }

    #[test]
    fn the_gql_mount_routes_only_absinthe_topics() {
        let mut c = Connection::new().with_mount(Mount::Gql);
        assert_eq!(
            run(&mut c, r#"["15","15","room:lobby","phx_join",{}]"#),
            [
                r#"[null,"15","room:lobby","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
            ]
        );
        assert_eq!(
            run(&mut c, r#"["1","1","__absinthe__:control","phx_join",{}]"#).len(),
            2
        );
    }
}

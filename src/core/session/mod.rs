//! Client-side protocol state: refs, join refs, pending requests, channel
//! states, and what each incoming frame means (pure).
//!
//! Driven by the connection thread with requests to send, frames received and
//! the current time; it never sleeps, prints or touches a socket, so every
//! rule here is unit-tested with made-up instants. The rules follow the
//! official JS client and docs/PROTOCOL.md §5 and §8.
//!
//! This file owns the [`Session`] and turns requests into frames; its parts
//! each have a file: `channels.rs` (the channels, their changes of state and
//! rejoins), `receive.rs` (what an incoming frame means), `pending.rs`
//! (requests awaiting replies, timeouts and late replies), `held.rs` (pushes
//! waiting for their topic to join) and `heartbeat.rs` (the automatic
//! heartbeat's figures).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::core::channel::Channel;
use crate::core::protocol::{Frame, HEARTBEAT, PHOENIX_TOPIC, PHX_JOIN, Payload, empty_object};

mod channels;
mod heartbeat;
mod held;
mod pending;
mod receive;

pub use crate::core::channel::ChannelState;
pub use channels::{Rejoining, TopicInfo, TopicStatus, Transition};
pub use heartbeat::HeartbeatStats;
pub use held::Dropped;
pub use pending::{Expired, Unanswered};
pub use receive::{Incoming, Message, MessageKind, Reply};

/// A request that gets a ref and, from the server, a reply.
#[derive(Debug, Clone)]
pub enum Request {
    Join {
        topic: String,
        payload: Payload,
    },
    Leave {
        topic: Option<String>,
    },
    /// `cast` marks a push sent without waiting for a reply (`cast`): it
    /// gets no deadline, is never timed out or orphaned, and a reply that
    /// does come is still matched to it.
    Push {
        topic: String,
        event: String,
        payload: Payload,
        cast: bool,
    },
    /// `auto` marks the periodic heartbeat (hidden unless asked for).
    Heartbeat {
        auto: bool,
    },
}

/// Why a request could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// `leave` without a topic while zero or several topics are joined.
    WhichTopic(Vec<String>),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::WhichTopic(joined) if joined.is_empty() => {
                f.write_str("no topic is joined, so `leave` needs a topic; try `leave room:lobby`")
            }
            SessionError::WhichTopic(joined) => write!(
                f,
                "several topics are joined ({}); say which: `leave {}`",
                joined.join(", "),
                joined[0]
            ),
        }
    }
}

impl std::error::Error for SessionError {}

/// Refs, channels and pending requests of one connection.
#[derive(Debug)]
pub struct Session {
    last_ref: u64,
    channels: BTreeMap<String, Channel>,
    /// State changes not yet collected.
    transitions: Vec<Transition>,
    requests: pending::Requests,
    held: held::Holding,
    heartbeat: heartbeat::Heartbeat,
}

impl Session {
    pub fn new(timeout: Duration) -> Session {
        Session {
            last_ref: 0,
            channels: BTreeMap::new(),
            transitions: Vec::new(),
            requests: pending::Requests::new(timeout),
            held: held::Holding::default(),
            heartbeat: heartbeat::Heartbeat::default(),
        }
    }

    /// The next ref: "1", "2", … (one counter for the whole session, across
    /// reconnects, so a ref never names two requests).
    pub fn next_ref(&mut self) -> String {
        self.last_ref += 1;
        self.last_ref.to_string()
    }

    /// Builds the frame for `req`, records it as pending and updates the
    /// channel state.
    pub fn prepare(&mut self, req: Request, now: Instant) -> Result<Frame, SessionError> {
        let (frame, auto, cast) = match req {
            Request::Join { topic, payload } => {
                (self.join_frame(topic, payload, now), false, false)
            }
            Request::Leave { topic } => (self.leave_frame(topic, now)?, false, false),
            Request::Push {
                topic,
                event,
                payload,
                cast,
            } => {
                // Without a live channel there is no current join_ref to
                // send, so it is null. A server with no channel on the topic
                // answers "unmatched topic" whatever the join_ref; one that
                // still has an instance we think is gone handles a null
                // join_ref on 1.7 and 1.8.12 and drops it on 1.8.3–1.8.11
                // (§3).
                let join_ref = self.current_join_ref(&topic).map(str::to_owned);
                let r = self.next_ref();
                let frame = Frame {
                    join_ref: join_ref.map(Into::into),
                    ref_: Some(r.into()),
                    topic: topic.into(),
                    event: event.into(),
                    payload,
                };
                (frame, false, cast)
            }
            Request::Heartbeat { auto } => {
                let r = self.next_ref();
                let frame = Frame {
                    join_ref: None,
                    ref_: Some(r.into()),
                    topic: PHOENIX_TOPIC.into(),
                    event: HEARTBEAT.into(),
                    payload: empty_object().into(),
                };
                (frame, auto, false)
            }
        };
        let r = frame
            .ref_
            .as_deref()
            .map(str::to_owned)
            .expect("requests always carry a ref");
        self.track(&frame, r, auto, cast, now);
        Ok(frame)
    }

    /// Records a sent request as pending. Automatic heartbeats have no
    /// reply deadline: they are judged when the next one is due (§5).
    fn track(&mut self, frame: &Frame, r: String, auto: bool, cast: bool, now: Instant) {
        if auto {
            self.heartbeat.sent(r.clone(), now);
        }
        self.requests
            .track(r, &frame.topic, &frame.event, auto, cast, now);
    }

    /// Holds a push to a topic that is joining or waiting to rejoin, to be
    /// sent once it has joined (as the JS client buffers pushes), for at
    /// most the reply timeout. Gives the request back if it is not such a
    /// push.
    pub fn hold(&mut self, id: u64, req: Request, now: Instant) -> Result<(), Request> {
        match req {
            Request::Push {
                topic,
                event,
                payload,
                cast,
            } if self.channels.get(&topic).is_some_and(Channel::coming_back) => {
                let deadline = now + self.requests.timeout;
                self.held.hold(id, topic, event, payload, cast, deadline);
                Ok(())
            }
            other => Err(other),
        }
    }

    /// Whether any of the `take_*` lists has something: a cheap check for
    /// the per-frame path.
    pub fn has_effects(&self) -> bool {
        !self.transitions.is_empty() || self.requests.has_unanswered() || self.held.has_effects()
    }

    /// Held pushes whose topic has joined: send them now, in order.
    pub fn take_released(&mut self) -> Vec<(u64, Request)> {
        self.held.take_released()
    }

    /// Held pushes that will not be sent.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        self.held.take_dropped()
    }

    /// Channel state changes since the last call.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// Requests orphaned since the last call (see `Unanswered`).
    pub fn take_unanswered(&mut self) -> Vec<Unanswered> {
        self.requests.take_unanswered()
    }

    /// Marks requests whose deadline has passed as timed out and returns
    /// them. Their replies are still matched if they arrive later. A join
    /// that timed out errors its channel, if it is still the current one.
    /// Held pushes past their deadline are dropped (see `take_dropped`).
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let out = self.requests.expire(now);
        for e in out.iter().filter(|e| e.event == PHX_JOIN) {
            let is_current = self
                .channels
                .get(&e.topic)
                .is_some_and(|ch| ch.join_ref == e.ref_ && ch.state == ChannelState::Joining);
            if is_current {
                self.change(&e.topic, now, "join timed out", |ch| ch.errored(now));
            }
        }
        self.held.expire(now, self.requests.timeout);
        out
    }

    /// When the next pending request times out (or a held push is dropped).
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let held = self.held.next_deadline();
        match self.requests.next_deadline() {
            Some(reply) => Some(held.map_or(reply, |h| h.min(reply))),
            None => held,
        }
    }

    /// Moves every pending deadline `by` later: while the client is not
    /// reading (its output is behind), replies may be waiting unread, and
    /// that time is the client's, not the server's.
    pub fn postpone(&mut self, by: Duration) {
        self.requests.postpone(by);
        self.held.postpone(by);
    }

    /// The transport is gone: every channel on the server is gone with it,
    /// and no pending request will be answered.
    pub fn transport_closed(&mut self, now: Instant) {
        let topics: Vec<String> = self.channels.keys().cloned().collect();
        for topic in topics {
            self.change(&topic, now, "disconnected", Channel::transport_lost);
        }
        self.requests.disconnected();
        self.heartbeat.disconnected();
    }

    /// The automatic heartbeat still waiting for its reply, and when it
    /// was sent.
    pub fn unanswered_heartbeat(&self) -> Option<Instant> {
        self.heartbeat.unanswered()
    }

    /// Counts a heartbeat that got no reply in time.
    pub fn heartbeat_missed(&mut self) {
        self.heartbeat.missed();
    }

    pub fn heartbeat_stats(&self, now: Instant) -> HeartbeatStats {
        self.heartbeat.stats(now)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::{decode, raw};

    pub(super) const T: Duration = Duration::from_secs(10);

    pub(super) fn join(s: &mut Session, topic: &str, now: Instant) -> Frame {
        s.prepare(
            Request::Join {
                topic: topic.into(),
                payload: empty_object().into(),
            },
            now,
        )
        .unwrap()
    }

    /// Joins `topic` and answers the join with ok.
    pub(super) fn joined(s: &mut Session, topic: &str, now: Instant) -> Frame {
        let f = join(s, topic, now);
        let r = f.ref_.clone().unwrap();
        let ok =
            format!(r#"["{r}","{r}","{topic}","phx_reply",{{"status":"ok","response":{{}}}}]"#);
        reply(s, &ok, now);
        f
    }

    pub(super) fn push(s: &mut Session, topic: &str, event: &str, now: Instant) -> Frame {
        s.prepare(
            Request::Push {
                topic: topic.into(),
                event: event.into(),
                payload: raw(r#"{"a":1}"#.into()).into(),
                cast: false,
            },
            now,
        )
        .unwrap()
    }

    pub(super) fn recv(s: &mut Session, text: &str, now: Instant) -> Incoming {
        s.receive(decode(text).unwrap(), now)
    }

    pub(super) fn reply(s: &mut Session, text: &str, now: Instant) -> Reply {
        match recv(s, text, now) {
            Incoming::Reply(r) => r,
            other => panic!("{other:?}"),
        }
    }

    pub(super) fn message(s: &mut Session, text: &str, now: Instant) -> Message {
        match recv(s, text, now) {
            Incoming::Message(m) => m,
            other => panic!("{other:?}"),
        }
    }

    pub(super) fn state(s: &Session, topic: &str) -> ChannelState {
        s.topics()
            .into_iter()
            .find(|t| t.topic == topic)
            .unwrap()
            .state
    }

    #[test]
    fn refs_count_up_from_one_as_strings() {
        let mut s = Session::new(T);
        assert_eq!(s.next_ref(), "1");
        assert_eq!(s.next_ref(), "2");
    }

    #[test]
    fn pushes_carry_the_current_join_ref_or_null() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        assert_eq!(push(&mut s, "room:a", "new_msg", t0).join_ref, None);
        join(&mut s, "room:a", t0);
        assert_eq!(
            push(&mut s, "room:a", "new_msg", t0).join_ref.as_deref(),
            Some("2")
        );
    }

    #[test]
    fn heartbeat_goes_to_phoenix_with_null_join_ref() {
        let mut s = Session::new(T);
        let f = s
            .prepare(Request::Heartbeat { auto: false }, Instant::now())
            .unwrap();
        assert_eq!(f.encode(), r#"[null,"1","phoenix","heartbeat",{}]"#);
    }

    #[test]
    fn join_timeout_errors_the_channel() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.expire(t0 + T);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
    }

    #[test]
    fn transport_close_errors_live_channels() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.transport_closed(t0);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        assert_eq!(s.next_deadline(), None);
    }

    pub(super) fn crash(s: &mut Session, topic: &str, join_ref: &str, now: Instant) {
        message(
            s,
            &format!(r#"["{join_ref}","{join_ref}","{topic}","phx_error",{{}}]"#),
            now,
        );
    }
}

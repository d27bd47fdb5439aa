//! Client-side protocol state: refs, join refs, pending requests, channel
//! states, and what each incoming frame means (pure).
//!
//! Driven by the connection thread with requests to send, frames received and
//! the current time; it never sleeps, prints or touches a socket, so every
//! rule here is unit-tested with made-up instants. The rules follow the
//! official JS client and PROTOCOL.md §5 and §8.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::protocol::{
    Frame, HEARTBEAT, PHOENIX_TOPIC, PHX_CLOSE, PHX_ERROR, PHX_JOIN, PHX_LEAVE, PHX_REPLY, Payload,
    empty_object, parse_reply,
};

/// How many timed-out requests are remembered so a late reply can still be
/// matched to its request.
const LATE_MEMORY: usize = 1024;

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
    Push {
        topic: String,
        event: String,
        payload: Payload,
    },
    /// `auto` marks the periodic heartbeat (hidden unless asked for).
    Heartbeat {
        auto: bool,
    },
}

/// The lifecycle state of a channel, named as in the JS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Joining,
    Joined,
    Leaving,
    Closed,
    Errored,
}

impl ChannelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Joining => "joining",
            ChannelState::Joined => "joined",
            ChannelState::Leaving => "leaving",
            ChannelState::Closed => "closed",
            ChannelState::Errored => "errored",
        }
    }
}

#[derive(Debug)]
struct Channel {
    join_ref: String,
    state: ChannelState,
}

#[derive(Debug)]
struct Pending {
    topic: String,
    event: String,
    sent_at: Instant,
    auto: bool,
    timed_out: bool,
}

/// One row of the `topics` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub topic: String,
    pub join_ref: String,
    pub state: ChannelState,
}

/// A reply (`phx_reply`) with what it answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub frame: Frame,
    /// `None` when the payload has no string `status` (a malformed reply).
    pub status: Option<String>,
    pub response: Payload,
    /// The event of the matched request, if any.
    pub request: Option<String>,
    pub latency: Option<Duration>,
    /// The request had already been reported as timed out.
    pub late: bool,
    /// The reply to a periodic heartbeat.
    pub auto: bool,
}

impl Reply {
    pub fn is_error(&self) -> bool {
        self.status.as_deref() != Some("ok")
    }
}

/// What kind of non-reply frame arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A push from the channel to this client (has a join_ref).
    Push,
    /// A broadcast to the topic (null join_ref).
    Broadcast,
    /// `phx_error`: the channel crashed.
    Error,
    /// `phx_close`: the channel closed. `requested` when it follows our leave.
    Close { requested: bool },
}

/// A non-reply frame.
#[derive(Debug, Clone)]
pub struct Message {
    pub frame: Frame,
    pub kind: MessageKind,
    /// Carries a join_ref that is not the topic's current one: it belongs to
    /// an earlier instance of the channel and does not change its state.
    pub stale: bool,
}

/// What a received frame is.
#[derive(Debug, Clone)]
pub enum Incoming {
    Reply(Reply),
    Message(Message),
}

/// A request whose reply did not arrive in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub ref_: String,
    pub topic: String,
    pub event: String,
    pub auto: bool,
    pub after: Duration,
}

/// A request that will never be answered because its channel crashed or
/// closed before replying (`push room:lobby crash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub ref_: String,
    pub topic: String,
    pub event: String,
    /// `phx_error` or `phx_close`.
    pub because: &'static str,
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

/// Refs, channels and pending requests of one connection.
#[derive(Debug)]
pub struct Session {
    timeout: Duration,
    last_ref: u64,
    channels: BTreeMap<String, Channel>,
    pending: HashMap<String, Pending>,
    /// Refs in send order; deadlines are monotonic because the timeout is fixed.
    deadlines: VecDeque<(Instant, String)>,
    /// Timed-out refs still remembered for late replies, oldest first.
    late: VecDeque<String>,
    /// Requests orphaned by a channel crash or close, not yet collected.
    unanswered: Vec<Unanswered>,
}

impl Session {
    pub fn new(timeout: Duration) -> Session {
        Session {
            timeout,
            last_ref: 0,
            channels: BTreeMap::new(),
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            late: VecDeque::new(),
            unanswered: Vec::new(),
        }
    }

    /// The next ref: "1", "2", … (one counter per connection).
    pub fn next_ref(&mut self) -> String {
        self.last_ref += 1;
        self.last_ref.to_string()
    }

    /// Builds the frame for `req`, records it as pending and updates the
    /// channel state.
    pub fn prepare(&mut self, req: Request, now: Instant) -> Result<Frame, SessionError> {
        let (frame, auto) = match req {
            Request::Join { topic, payload } => {
                let r = self.next_ref();
                // A join of a topic already joined replaces it, as Phoenix
                // does (§3): frames for the old join_ref become stale.
                self.channels.insert(
                    topic.clone(),
                    Channel {
                        join_ref: r.clone(),
                        state: ChannelState::Joining,
                    },
                );
                (
                    Frame {
                        join_ref: Some(r.clone()),
                        ref_: Some(r),
                        topic,
                        event: PHX_JOIN.to_owned(),
                        payload,
                    },
                    false,
                )
            }
            Request::Leave { topic } => {
                let topic = match topic {
                    Some(t) => t,
                    None => self.only_joined_topic()?,
                };
                // The last join_ref even for a channel we think is dead: if
                // it is alive after all (a join that timed out, say) only
                // the matching join_ref leaves it, and a dead one is
                // answered ok whatever the join_ref (§3).
                let join_ref = self.channels.get_mut(&topic).map(|ch| {
                    if ch.is_live() {
                        ch.state = ChannelState::Leaving;
                    }
                    ch.join_ref.clone()
                });
                let r = self.next_ref();
                (
                    Frame {
                        join_ref,
                        ref_: Some(r),
                        topic,
                        event: PHX_LEAVE.to_owned(),
                        payload: empty_object().into(),
                    },
                    false,
                )
            }
            Request::Push {
                topic,
                event,
                payload,
            } => {
                // Without a live channel, send a null join_ref so the server
                // answers "unmatched topic" instead of silently dropping a
                // frame for a dead instance (§3, 1.8.3+).
                let join_ref = self.current_join_ref(&topic).map(str::to_owned);
                let r = self.next_ref();
                (
                    Frame {
                        join_ref,
                        ref_: Some(r),
                        topic,
                        event,
                        payload,
                    },
                    false,
                )
            }
            Request::Heartbeat { auto } => {
                let r = self.next_ref();
                (
                    Frame {
                        join_ref: None,
                        ref_: Some(r),
                        topic: PHOENIX_TOPIC.to_owned(),
                        event: HEARTBEAT.to_owned(),
                        payload: empty_object().into(),
                    },
                    auto,
                )
            }
        };
        let r = frame.ref_.clone().expect("requests always carry a ref");
        let deadline = now + self.timeout;
        self.pending.insert(
            r.clone(),
            Pending {
                topic: frame.topic.clone(),
                event: frame.event.clone(),
                sent_at: now,
                auto,
                timed_out: false,
            },
        );
        self.deadlines.push_back((deadline, r));
        Ok(frame)
    }

    /// Classifies a received frame and applies it to the channel states.
    pub fn receive(&mut self, frame: Frame, now: Instant) -> Incoming {
        if frame.event == PHX_REPLY {
            return Incoming::Reply(self.receive_reply(frame, now));
        }
        let current = self.channels.get(&frame.topic);
        let stale = match (&frame.join_ref, current) {
            (None, _) => false,
            (Some(jr), Some(ch)) => *jr != ch.join_ref,
            (Some(_), None) => true,
        };
        let kind = match frame.event.as_str() {
            PHX_ERROR => MessageKind::Error,
            PHX_CLOSE => MessageKind::Close {
                requested: current.is_some_and(|ch| {
                    matches!(ch.state, ChannelState::Leaving | ChannelState::Closed)
                }),
            },
            _ if frame.join_ref.is_none() => MessageKind::Broadcast,
            _ => MessageKind::Push,
        };
        if !stale && let Some(ch) = self.channels.get_mut(&frame.topic) {
            let because = match kind {
                MessageKind::Error => Some((ChannelState::Errored, PHX_ERROR)),
                MessageKind::Close { .. } => Some((ChannelState::Closed, PHX_CLOSE)),
                _ => None,
            };
            if let Some((state, because)) = because {
                ch.state = state;
                self.orphan(&frame.topic, because);
            }
        }
        Incoming::Message(Message { frame, kind, stale })
    }

    fn receive_reply(&mut self, frame: Frame, now: Instant) -> Reply {
        let parsed = parse_reply(&frame.payload);
        let (status, response) = match parsed {
            Some(p) => (Some(p.status), p.response),
            None => (None, frame.payload.clone()),
        };
        let pending = frame.ref_.as_ref().and_then(|r| self.pending.remove(r));
        let Some(p) = pending else {
            return Reply {
                frame,
                status,
                response,
                request: None,
                latency: None,
                late: false,
                auto: false,
            };
        };
        if p.timed_out {
            self.late.retain(|r| Some(r) != frame.ref_.as_ref());
        }
        let ok = status.as_deref() == Some("ok");
        if let Some(ch) = self.channels.get_mut(&p.topic) {
            let is_current = frame.ref_.as_deref() == Some(ch.join_ref.as_str());
            match p.event.as_str() {
                // Only the reply to the current join moves the channel: a
                // reply to a replaced join must not. A late ok still joins.
                PHX_JOIN
                    if is_current
                        && matches!(ch.state, ChannelState::Joining | ChannelState::Errored) =>
                {
                    ch.state = if ok {
                        ChannelState::Joined
                    } else {
                        ChannelState::Errored
                    };
                }
                PHX_LEAVE if ch.state == ChannelState::Leaving => {
                    ch.state = ChannelState::Closed;
                }
                // "unmatched topic" with a null join_ref: the server has no
                // channel for this topic (§8.5), whatever we thought.
                _ if !ok
                    && frame.join_ref.is_none()
                    && ch.is_live()
                    && is_unmatched_topic(&response) =>
                {
                    ch.state = ChannelState::Closed;
                }
                _ => {}
            }
        }
        Reply {
            frame,
            status,
            response,
            request: Some(p.event),
            latency: Some(now.saturating_duration_since(p.sent_at)),
            late: p.timed_out,
            auto: p.auto,
        }
    }

    /// The channel on `topic` is gone: its unanswered requests never will be.
    fn orphan(&mut self, topic: &str, because: &'static str) {
        let refs: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.topic == topic && !p.timed_out)
            .map(|(r, _)| r.clone())
            .collect();
        for r in refs {
            if let Some(p) = self.pending.remove(&r) {
                self.unanswered.push(Unanswered {
                    ref_: r,
                    topic: p.topic,
                    event: p.event,
                    because,
                });
            }
        }
        self.unanswered
            .sort_by_key(|u| u.ref_.parse::<u64>().unwrap_or(u64::MAX));
    }

    /// Requests orphaned since the last call (see `Unanswered`).
    pub fn take_unanswered(&mut self) -> Vec<Unanswered> {
        std::mem::take(&mut self.unanswered)
    }

    /// Marks requests whose deadline has passed as timed out and returns
    /// them. Their replies are still matched if they arrive later.
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let (_, r) = self.deadlines.pop_front().expect("front exists");
            let Some(p) = self.pending.get_mut(&r) else {
                continue; // answered in time
            };
            p.timed_out = true;
            out.push(Expired {
                ref_: r.clone(),
                topic: p.topic.clone(),
                event: p.event.clone(),
                auto: p.auto,
                after: now.saturating_duration_since(p.sent_at),
            });
            if p.event == PHX_JOIN
                && let Some(ch) = self.channels.get_mut(&p.topic)
                && ch.join_ref == r
                && ch.state == ChannelState::Joining
            {
                ch.state = ChannelState::Errored;
            }
            self.late.push_back(r);
            if self.late.len() > LATE_MEMORY
                && let Some(old) = self.late.pop_front()
            {
                self.pending.remove(&old);
            }
        }
        out
    }

    /// When the next pending request times out.
    ///
    /// Entries of answered requests are dropped from the front here, so a
    /// long script of request/reply pairs costs O(1) per call.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some((deadline, r)) = self.deadlines.front() {
            if self.pending.get(r).is_some_and(|p| !p.timed_out) {
                return Some(*deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// Moves every pending deadline `by` later: while the client is not
    /// reading (its output is behind), replies may be waiting unread, and
    /// that time is the client's, not the server's.
    pub fn postpone(&mut self, by: Duration) {
        for (deadline, _) in &mut self.deadlines {
            *deadline += by;
        }
    }

    /// The transport is gone: every channel on the server is gone with it.
    pub fn transport_closed(&mut self) {
        for ch in self.channels.values_mut() {
            if ch.is_live() {
                ch.state = ChannelState::Errored;
            }
        }
        self.pending.clear();
        self.deadlines.clear();
        self.late.clear();
    }

    /// Every topic seen, with its join_ref and state, sorted by topic.
    pub fn topics(&self) -> Vec<TopicInfo> {
        self.channels
            .iter()
            .map(|(t, ch)| TopicInfo {
                topic: t.clone(),
                join_ref: ch.join_ref.clone(),
                state: ch.state,
            })
            .collect()
    }

    /// The join_ref to put on a message for `topic`, if its channel is live.
    pub fn current_join_ref(&self, topic: &str) -> Option<&str> {
        self.channels
            .get(topic)
            .filter(|ch| ch.is_live())
            .map(|ch| ch.join_ref.as_str())
    }

    fn only_joined_topic(&self) -> Result<String, SessionError> {
        let live: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| matches!(ch.state, ChannelState::Joined | ChannelState::Joining))
            .map(|(t, _)| t.clone())
            .collect();
        if live.len() == 1 {
            Ok(live.into_iter().next().expect("one element"))
        } else {
            Err(SessionError::WhichTopic(live))
        }
    }
}

/// Whether a reply's response is Phoenix's `{"reason":"unmatched topic"}`.
fn is_unmatched_topic(response: &Payload) -> bool {
    let Some(response) = response.json() else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Reason<'a> {
        #[serde(borrow)]
        reason: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Reason<'_>>(response.get())
        .ok()
        .and_then(|r| r.reason)
        .is_some_and(|r| r == "unmatched topic")
}

impl Channel {
    fn is_live(&self) -> bool {
        matches!(
            self.state,
            ChannelState::Joining | ChannelState::Joined | ChannelState::Leaving
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode, raw};

    const T: Duration = Duration::from_secs(10);

    fn join(s: &mut Session, topic: &str, now: Instant) -> Frame {
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
    fn joined(s: &mut Session, topic: &str, now: Instant) -> Frame {
        let f = join(s, topic, now);
        let r = f.ref_.clone().unwrap();
        let ok =
            format!(r#"["{r}","{r}","{topic}","phx_reply",{{"status":"ok","response":{{}}}}]"#);
        reply(s, &ok, now);
        f
    }

    fn push(s: &mut Session, topic: &str, event: &str, now: Instant) -> Frame {
        s.prepare(
            Request::Push {
                topic: topic.into(),
                event: event.into(),
                payload: raw(r#"{"a":1}"#.into()).into(),
            },
            now,
        )
        .unwrap()
    }

    fn recv(s: &mut Session, text: &str, now: Instant) -> Incoming {
        s.receive(decode(text).unwrap(), now)
    }

    fn reply(s: &mut Session, text: &str, now: Instant) -> Reply {
        match recv(s, text, now) {
            Incoming::Reply(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn message(s: &mut Session, text: &str, now: Instant) -> Message {
        match recv(s, text, now) {
            Incoming::Message(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn state(s: &Session, topic: &str) -> ChannelState {
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
    fn join_uses_its_ref_as_join_ref() {
        let mut s = Session::new(T);
        let f = join(&mut s, "room:lobby", Instant::now());
        assert_eq!(f.encode(), r#"["1","1","room:lobby","phx_join",{}]"#);
        assert_eq!(state(&s, "room:lobby"), ChannelState::Joining);
    }

    #[test]
    fn join_reply_ok_joins_and_reports_latency() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:lobby", t0);
        let r = reply(
            &mut s,
            r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{"joined":"room:lobby"}}]"#,
            t0 + Duration::from_millis(2),
        );
        assert_eq!(r.status.as_deref(), Some("ok"));
        assert_eq!(r.request.as_deref(), Some("phx_join"));
        assert_eq!(r.latency, Some(Duration::from_millis(2)));
        assert_eq!(r.response.to_json(), r#"{"joined":"room:lobby"}"#);
        assert_eq!(state(&s, "room:lobby"), ChannelState::Joined);
    }

    #[test]
    fn join_error_reply_errors_the_channel() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "private:x", t0);
        let r = reply(
            &mut s,
            r#"["1","1","private:x","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#,
            t0,
        );
        assert!(r.is_error());
        assert_eq!(state(&s, "private:x"), ChannelState::Errored);
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
    fn leave_without_topic_needs_exactly_one_joined() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        let none = s.prepare(Request::Leave { topic: None }, t0).unwrap_err();
        assert_eq!(none, SessionError::WhichTopic(vec![]));
        join(&mut s, "room:a", t0);
        let f = s.prepare(Request::Leave { topic: None }, t0).unwrap();
        assert_eq!(f.encode(), r#"["1","2","room:a","phx_leave",{}]"#);
        join(&mut s, "room:b", t0);
        join(&mut s, "room:c", t0);
        let two = s.prepare(Request::Leave { topic: None }, t0).unwrap_err();
        assert_eq!(
            two,
            SessionError::WhichTopic(vec!["room:b".into(), "room:c".into()])
        );
        assert!(two.to_string().contains("`leave room:b`"));
    }

    #[test]
    fn leave_reply_then_close_closes_as_requested() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.prepare(
            Request::Leave {
                topic: Some("room:a".into()),
            },
            t0,
        )
        .unwrap();
        assert_eq!(state(&s, "room:a"), ChannelState::Leaving);
        let r = reply(
            &mut s,
            r#"["1","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert_eq!(r.request.as_deref(), Some("phx_leave"));
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert_eq!(m.kind, MessageKind::Close { requested: true });
        assert!(!m.stale);
    }

    #[test]
    fn unmatched_topic_means_the_channel_is_gone() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "x", t0);
        reply(
            &mut s,
            r#"[null,"2","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#,
            t0,
        );
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
    }

    #[test]
    fn a_late_ok_to_a_timed_out_join_joins() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.expire(t0 + T);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        let r = reply(
            &mut s,
            r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0 + T,
        );
        assert!(r.late);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
    }

    #[test]
    fn leave_of_an_errored_channel_keeps_its_join_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.expire(t0 + T);
        let f = s
            .prepare(
                Request::Leave {
                    topic: Some("room:a".into()),
                },
                t0,
            )
            .unwrap();
        assert_eq!(f.join_ref.as_deref(), Some("1"));
    }

    #[test]
    fn server_close_is_unrequested() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert_eq!(m.kind, MessageKind::Close { requested: false });
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
    }

    #[test]
    fn phx_error_errors_the_channel() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        let m = message(
            &mut s,
            r#"["1","1","room:a","phx_error",{"reason":"channel_crash"}]"#,
            t0,
        );
        assert_eq!(m.kind, MessageKind::Error);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        assert_eq!(push(&mut s, "room:a", "x", t0).join_ref, None);
    }

    #[test]
    fn a_crash_orphans_the_channels_pending_requests() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "crash", t0);
        push(&mut s, "room:b", "other", t0);
        message(&mut s, r#"["1","1","room:a","phx_error",{}]"#, t0);
        assert_eq!(
            s.take_unanswered(),
            vec![Unanswered {
                ref_: "2".into(),
                topic: "room:a".into(),
                event: "crash".into(),
                because: "phx_error",
            }]
        );
        assert!(s.take_unanswered().is_empty());
        let expired = s.expire(t0 + T);
        assert_eq!(expired.len(), 1, "only room:b's push is still pending");
        assert_eq!(expired[0].topic, "room:b");
    }

    #[test]
    fn a_stale_close_orphans_nothing() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert!(s.take_unanswered().is_empty());
    }

    #[test]
    fn duplicate_join_close_for_old_join_ref_is_stale() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        reply(
            &mut s,
            r#"["2","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert!(m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
        assert_eq!(s.current_join_ref("room:a"), Some("2"));
    }

    #[test]
    fn broadcasts_and_pushes_are_told_apart() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        let b = message(&mut s, r#"[null,null,"room:a","shout",{}]"#, t0);
        assert_eq!((b.kind, b.stale), (MessageKind::Broadcast, false));
        let p = message(&mut s, r#"["1",null,"room:a","msg",{}]"#, t0);
        assert_eq!((p.kind, p.stale), (MessageKind::Push, false));
        let old = message(&mut s, r#"["9",null,"room:a","msg",{}]"#, t0);
        assert!(old.stale);
    }

    #[test]
    fn unmatched_replies_have_no_request() {
        let mut s = Session::new(T);
        let r = reply(
            &mut s,
            r#"[null,"42","x","phx_reply",{"status":"ok","response":{}}]"#,
            Instant::now(),
        );
        assert_eq!((r.request, r.latency), (None, None));
    }

    #[test]
    fn malformed_reply_payload_has_no_status() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "t", "e", t0);
        let r = reply(&mut s, r#"[null,"1","t","phx_reply",[1]]"#, t0);
        assert_eq!(r.status, None);
        assert!(r.is_error());
        assert_eq!(r.response.to_json(), "[1]");
    }

    #[test]
    fn requests_time_out_and_late_replies_are_marked() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "noreply", t0);
        assert_eq!(s.next_deadline(), Some(t0 + T));
        assert!(s.expire(t0 + T - Duration::from_millis(1)).is_empty());
        let expired = s.expire(t0 + T);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].ref_, "1");
        assert_eq!(expired[0].event, "noreply");
        assert_eq!(s.next_deadline(), None);
        let r = reply(
            &mut s,
            r#"[null,"1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0 + T + T,
        );
        assert!(r.late);
        assert_eq!(r.request.as_deref(), Some("noreply"));
    }

    #[test]
    fn answered_requests_never_time_out() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "echo", t0);
        reply(
            &mut s,
            r#"[null,"1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert_eq!(s.next_deadline(), None);
        assert!(s.expire(t0 + T + T).is_empty());
    }

    #[test]
    fn answered_requests_do_not_pile_up_in_the_deadlines() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        for i in 1..=1000 {
            push(&mut s, "room:a", "echo", t0);
            reply(
                &mut s,
                &format!(r#"[null,"{i}","room:a","phx_reply",{{"status":"ok","response":{{}}}}]"#),
                t0,
            );
            assert_eq!(s.next_deadline(), None);
        }
        assert!(s.deadlines.is_empty());
    }

    #[test]
    fn postponed_deadlines_move_later() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "echo", t0);
        s.postpone(Duration::from_secs(3));
        assert!(s.expire(t0 + T).is_empty());
        assert_eq!(s.expire(t0 + T + Duration::from_secs(3)).len(), 1);
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
    fn late_memory_is_bounded() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        for _ in 0..LATE_MEMORY + 10 {
            push(&mut s, "t", "e", t0);
        }
        s.expire(t0 + T);
        assert_eq!(s.pending.len(), LATE_MEMORY);
    }

    #[test]
    fn transport_close_errors_live_channels() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.transport_closed();
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        assert_eq!(s.next_deadline(), None);
    }
}

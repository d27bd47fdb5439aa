//! Client-side protocol state: refs, join refs, pending requests, channel
//! states, and what each incoming frame means (pure).
//!
//! Driven by the connection thread with requests to send, frames received and
//! the current time; it never sleeps, prints or touches a socket, so every
//! rule here is unit-tested with made-up instants. The rules follow the
//! official JS client and PROTOCOL.md §5 and §8.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use crate::core::channel::ChannelState;
use crate::core::channel::{Channel, Rejoin};
use crate::core::protocol::{
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

#[derive(Debug)]
struct Pending {
    topic: String,
    event: String,
    sent_at: Instant,
    auto: bool,
    /// Given up on: timed out, or orphaned by a crash or close. A reply is
    /// still matched to its request, and marked late.
    timed_out: bool,
    /// Orphaned by a `phx_error` or `phx_close` of its channel: a reply
    /// that still comes (the server's `unmatched topic` for a request that
    /// reached it after the crash) must not move the channel's state.
    orphaned: bool,
}

/// One row of the `topics` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub topic: String,
    pub join_ref: String,
    pub state: ChannelState,
}

/// One topic in `status`: `TopicInfo` plus what it was joined with and
/// when it comes back.
#[derive(Debug, Clone)]
pub struct TopicStatus {
    pub topic: String,
    pub join_ref: String,
    pub state: ChannelState,
    pub payload: Payload,
    /// Time left before the rejoin, `Some(ZERO)` when it waits for the
    /// socket; `None` when no rejoin is planned.
    pub rejoin_in: Option<Duration>,
    /// Rejoins since it was last joined.
    pub attempts: u32,
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
    /// The timeout it was given. Not the time measured since sending: time
    /// spent paused behind a slow reader or a backlog does not count against
    /// a reply, so the measured wait can be longer than the budget.
    pub after: Duration,
}

/// A request that will never be answered because its channel crashed or
/// closed before replying (`push room:lobby crash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub ref_: String,
    pub topic: String,
    pub event: String,
    /// `phx_error`, `phx_close`, or `disconnected` (the socket dropped).
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
/// A channel changed state (for `--json` `channel_state` records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub topic: String,
    /// `None` for a topic seen for the first time.
    pub from: Option<ChannelState>,
    pub to: ChannelState,
    /// What caused it: `join`, `joined`, `join refused`, `join timed out`,
    /// `phx_error`, `phx_close`, `leave`, `left`, `left while offline`,
    /// `unmatched topic`, `disconnected`, `rejoin`.
    pub why: &'static str,
    /// When an errored channel will be rejoined: `Some(ZERO)` when it waits
    /// for the socket to reopen.
    pub rejoin_in: Option<Duration>,
}

/// A push held until its topic has (re)joined.
#[derive(Debug)]
struct Held {
    id: u64,
    topic: String,
    event: String,
    payload: Payload,
    deadline: Instant,
}

/// A held push that will not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub id: u64,
    pub topic: String,
    pub event: String,
    pub why: String,
}

/// An automatic rejoin to send.
#[derive(Debug, Clone)]
pub struct Rejoining {
    pub frame: Frame,
    /// 1 for the first rejoin since the channel was last joined.
    pub attempt: u32,
}

/// Heartbeat figures for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatStats {
    /// Round-trip time of the last answered heartbeat.
    pub last_rtt: Option<Duration>,
    /// Heartbeat timeouts, over the whole session: a heartbeat with no
    /// reply by the time the next was due while no other frame arrived
    /// either, for which the connection was closed as dead. A beat let
    /// pass because frames kept arriving is not counted (see `waiting`).
    pub missed: u64,
    /// How long the oldest heartbeat still unanswered has waited: it grows
    /// past the interval only while other frames keep the connection
    /// counted as alive (see the heartbeat rule in `connection.rs`).
    pub waiting: Option<Duration>,
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
    /// State changes not yet collected.
    transitions: Vec<Transition>,
    /// Pushes waiting for their topic to join, in arrival order.
    held: Vec<Held>,
    /// Held pushes whose topic joined, not yet collected.
    released: Vec<(u64, Request)>,
    /// Held pushes given up on, not yet collected.
    dropped: Vec<Dropped>,
    /// The automatic heartbeat awaiting its reply: ref and when it was sent.
    heartbeat: Option<(String, Instant)>,
    /// When the oldest automatic heartbeat without a reply went out; any
    /// heartbeat reply clears it.
    heartbeat_since: Option<Instant>,
    heartbeat_stats: HeartbeatStats,
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
            transitions: Vec::new(),
            held: Vec::new(),
            released: Vec::new(),
            dropped: Vec::new(),
            heartbeat: None,
            heartbeat_since: None,
            heartbeat_stats: HeartbeatStats::default(),
        }
    }

    /// The next ref: "1", "2", … (one counter for the whole session, across
    /// reconnects, so a ref never names two requests).
    pub fn next_ref(&mut self) -> String {
        self.last_ref += 1;
        self.last_ref.to_string()
    }

    /// Applies `f` to the channel on `topic` and records the change, if any.
    /// Pushes held for the topic are released once it is joined and dropped
    /// once it is not coming back.
    fn change(
        &mut self,
        topic: &str,
        now: Instant,
        why: &'static str,
        f: impl FnOnce(&mut Channel),
    ) {
        let Some(ch) = self.channels.get_mut(topic) else {
            return;
        };
        let from = ch.state;
        f(ch);
        let (to, coming_back, rejoin) = (ch.state, ch.coming_back(), ch.rejoin);
        if to != from {
            self.transitions.push(Transition {
                topic: topic.to_owned(),
                from: Some(from),
                to,
                why,
                rejoin_in: rejoin_in(rejoin, now),
            });
        }
        if to == ChannelState::Joined {
            self.release(topic);
        } else if !coming_back {
            let why = match to {
                ChannelState::Leaving => "the topic is being left",
                ChannelState::Closed => "the channel closed",
                _ => "the join failed",
            };
            self.drop_held(|h| h.topic == topic, why);
        }
    }

    fn release(&mut self, topic: &str) {
        let (go, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.topic == topic);
        self.held = keep;
        self.released.extend(go.into_iter().map(|h| {
            (
                h.id,
                Request::Push {
                    topic: h.topic,
                    event: h.event,
                    payload: h.payload,
                },
            )
        }));
    }

    fn drop_held(&mut self, which: impl Fn(&Held) -> bool, why: &str) {
        let (gone, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| which(h));
        self.held = keep;
        self.dropped.extend(gone.into_iter().map(|h| Dropped {
            id: h.id,
            topic: h.topic,
            event: h.event,
            why: why.to_owned(),
        }));
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
            } if self.channels.get(&topic).is_some_and(Channel::coming_back) => {
                self.held.push(Held {
                    id,
                    topic,
                    event,
                    payload,
                    deadline: now + self.timeout,
                });
                Ok(())
            }
            other => Err(other),
        }
    }

    /// The user leaves `topic` while the socket is down. Its server channel
    /// went with the connection, so it is closed here at once, as the JS
    /// client does, and not rejoined; the `phx_leave` itself still goes out
    /// once the socket is back (and is answered ok).
    pub fn leave_offline(&mut self, topic: &str, now: Instant) {
        self.change(topic, now, "left while offline", |ch| {
            if ch.leaving() {
                ch.left();
            }
        });
    }

    /// Whether any of the `take_*` lists has something: a cheap check for
    /// the per-frame path.
    pub fn has_effects(&self) -> bool {
        !(self.transitions.is_empty()
            && self.unanswered.is_empty()
            && self.dropped.is_empty()
            && self.released.is_empty())
    }

    /// Held pushes whose topic has joined: send them now, in order.
    pub fn take_released(&mut self) -> Vec<(u64, Request)> {
        std::mem::take(&mut self.released)
    }

    /// Held pushes that will not be sent.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        std::mem::take(&mut self.dropped)
    }

    /// Channel state changes since the last call.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// Builds the frame for `req`, records it as pending and updates the
    /// channel state.
    pub fn prepare(&mut self, req: Request, now: Instant) -> Result<Frame, SessionError> {
        let (frame, auto) = match req {
            Request::Join { topic, payload } => {
                let r = self.next_ref();
                // A join of a topic already joined replaces it, as Phoenix
                // does (§3): frames for the old join_ref become stale.
                let frame = Frame {
                    join_ref: Some(r.as_str().into()),
                    ref_: Some(r.as_str().into()),
                    topic: topic.as_str().into(),
                    event: PHX_JOIN.into(),
                    payload: payload.clone(),
                };
                if self.channels.contains_key(&topic) {
                    self.change(&topic, now, "join", |ch| ch.join(r, payload));
                } else {
                    self.channels
                        .insert(topic.clone(), Channel::joining(r, payload));
                    self.transitions.push(Transition {
                        topic,
                        from: None,
                        to: ChannelState::Joining,
                        why: "join",
                        rejoin_in: None,
                    });
                }
                (frame, false)
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
                let join_ref = self.channels.get(&topic).map(|ch| ch.join_ref.clone());
                self.change(&topic, now, "leave", |ch| {
                    ch.leaving();
                });
                let r = self.next_ref();
                (
                    Frame {
                        join_ref: join_ref.map(Into::into),
                        ref_: Some(r.into()),
                        topic: topic.into(),
                        event: PHX_LEAVE.into(),
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
                        join_ref: join_ref.map(Into::into),
                        ref_: Some(r.into()),
                        topic: topic.into(),
                        event: event.into(),
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
                        ref_: Some(r.into()),
                        topic: PHOENIX_TOPIC.into(),
                        event: HEARTBEAT.into(),
                        payload: empty_object().into(),
                    },
                    auto,
                )
            }
        };
        let r = frame
            .ref_
            .as_deref()
            .map(str::to_owned)
            .expect("requests always carry a ref");
        self.track(&frame, r, auto, now);
        Ok(frame)
    }

    /// Records a sent request as pending. Automatic heartbeats have no
    /// reply deadline: they are judged when the next one is due (§5).
    fn track(&mut self, frame: &Frame, r: String, auto: bool, now: Instant) {
        self.pending.insert(
            r.clone(),
            Pending {
                topic: frame.topic.to_string(),
                event: frame.event.to_string(),
                sent_at: now,
                auto,
                timed_out: false,
                orphaned: false,
            },
        );
        if auto {
            self.heartbeat = Some((r, now));
            self.heartbeat_since.get_or_insert(now);
        } else {
            self.deadlines.push_back((now + self.timeout, r));
        }
    }

    /// Joins again every channel whose rejoin is due, with its join payload
    /// and a new join_ref.
    pub fn rejoins_due(&mut self, now: Instant) -> Vec<Rejoining> {
        let due: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.rejoin_due(now))
            .map(|(t, _)| t.clone())
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for topic in due {
            let r = self.next_ref();
            let Some(ch) = self.channels.get(&topic) else {
                continue;
            };
            let (payload, attempt) = (ch.payload.clone(), ch.attempts.max(1));
            self.change(&topic, now, "rejoin", |ch| ch.rejoin(r.clone()));
            let frame = Frame {
                join_ref: Some(r.as_str().into()),
                ref_: Some(r.as_str().into()),
                topic: topic.into(),
                event: PHX_JOIN.into(),
                payload,
            };
            self.track(&frame, r, false, now);
            out.push(Rejoining { frame, attempt });
        }
        out
    }

    /// When the next timed rejoin is due.
    pub fn next_rejoin(&self) -> Option<Instant> {
        self.channels.values().filter_map(Channel::rejoin_at).min()
    }

    /// The socket is open again: channels waiting for it rejoin now.
    pub fn reconnected(&mut self, now: Instant) {
        for ch in self.channels.values_mut() {
            ch.reconnected(now);
        }
    }

    /// The automatic heartbeat still waiting for its reply, and when it
    /// was sent.
    pub fn unanswered_heartbeat(&self) -> Option<Instant> {
        self.heartbeat.as_ref().map(|(_, at)| *at)
    }

    /// Counts a heartbeat that got no reply in time.
    pub fn heartbeat_missed(&mut self) {
        self.heartbeat_stats.missed += 1;
    }

    pub fn heartbeat_stats(&self, now: Instant) -> HeartbeatStats {
        HeartbeatStats {
            waiting: self
                .heartbeat_since
                .map(|t| now.saturating_duration_since(t)),
            ..self.heartbeat_stats
        }
    }

    /// Classifies a received frame and applies it to the channel states.
    pub fn receive(&mut self, frame: Frame, now: Instant) -> Incoming {
        if frame.event == PHX_REPLY {
            return Incoming::Reply(self.receive_reply(frame, now));
        }
        let (kind, stale) = self.receive_message(&frame, now);
        Incoming::Message(Message { frame, kind, stale })
    }

    /// [`Session::receive`] for a frame that is not a `phx_reply`: what kind
    /// of message it is and whether it is stale. The frame is only looked
    /// at, so the network thread moves it once, into its batch.
    pub fn receive_message(&mut self, frame: &Frame, now: Instant) -> (MessageKind, bool) {
        self.receive_parts(
            frame.join_ref.as_deref(),
            frame.ref_.as_deref(),
            &frame.topic,
            &frame.event,
            now,
        )
    }

    /// [`Session::receive_message`] for a frame's parts, which need not be
    /// a [`Frame`] yet.
    pub fn receive_parts(
        &mut self,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        now: Instant,
    ) -> (MessageKind, bool) {
        let current = self.channels.get(topic);
        // Phoenix sends phx_close and phx_error with ref = join_ref (§8.2),
        // so the ref tells the instance even where the frame has no join_ref
        // (V1): the old instance's close after a duplicate join must not
        // close the new one.
        let instance = match (join_ref, event) {
            (None, PHX_CLOSE | PHX_ERROR) => ref_,
            (jr, _) => jr,
        };
        let stale = match (instance, current) {
            (None, _) => false,
            (Some(jr), Some(ch)) => jr != ch.join_ref,
            (Some(_), None) => true,
        };
        let kind = match event {
            PHX_ERROR => MessageKind::Error,
            PHX_CLOSE => MessageKind::Close {
                requested: current.is_some_and(|ch| {
                    matches!(ch.state, ChannelState::Leaving | ChannelState::Closed)
                }),
            },
            _ if join_ref.is_none() => MessageKind::Broadcast,
            _ => MessageKind::Push,
        };
        if !stale && current.is_some() {
            match kind {
                MessageKind::Error => {
                    self.change(topic, now, "phx_error", |ch| {
                        if ch.state != ChannelState::Leaving {
                            ch.errored(now);
                        } else {
                            ch.left();
                        }
                    });
                    self.orphan(topic, PHX_ERROR);
                }
                MessageKind::Close { .. } => {
                    self.change(topic, now, "phx_close", Channel::closed);
                    self.orphan(topic, PHX_CLOSE);
                }
                _ => {}
            }
        }
        (kind, stale)
    }

    /// [`Session::receive`] for a `phx_reply`.
    pub fn receive_reply(&mut self, frame: Frame, now: Instant) -> Reply {
        let parsed = parse_reply(&frame.payload);
        let (status, response) = match parsed {
            Some(p) => (Some(p.status), p.response),
            None => (None, frame.payload.clone()),
        };
        let pending = frame
            .ref_
            .as_ref()
            .and_then(|r| self.pending.remove(r.as_str()));
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
            self.late
                .retain(|r| Some(r.as_str()) != frame.ref_.as_deref());
        }
        let latency = now.saturating_duration_since(p.sent_at);
        if p.auto {
            if self
                .heartbeat
                .as_ref()
                .is_some_and(|(r, _)| Some(r.as_str()) == frame.ref_.as_deref())
            {
                self.heartbeat = None;
            }
            self.heartbeat_since = None;
            self.heartbeat_stats.last_rtt = Some(latency);
        }
        let ok = status.as_deref() == Some("ok");
        if let Some(ch) = self.channels.get(&p.topic).filter(|_| !p.orphaned) {
            let is_current = frame.ref_.as_deref() == Some(ch.join_ref.as_str());
            let state = ch.state;
            match p.event.as_str() {
                // Only the reply to the current join moves the channel: a
                // reply to a replaced join must not. A late ok still joins.
                PHX_JOIN
                    if is_current
                        && matches!(state, ChannelState::Joining | ChannelState::Errored) =>
                {
                    if ok {
                        self.change(&p.topic, now, "joined", Channel::join_ok);
                    } else {
                        self.change(&p.topic, now, "join refused", Channel::join_refused);
                    }
                }
                PHX_LEAVE if state == ChannelState::Leaving => {
                    self.change(&p.topic, now, "left", Channel::left);
                }
                // "unmatched topic" with a null join_ref: the server has no
                // channel for this topic (§8.5), whatever we thought.
                _ if !ok
                    && frame.join_ref.is_none()
                    && state.is_live()
                    && is_unmatched_topic(&response) =>
                {
                    self.change(&p.topic, now, "unmatched topic", Channel::closed);
                }
                _ => {}
            }
        }
        Reply {
            frame,
            status,
            response,
            request: Some(p.event),
            latency: Some(latency),
            late: p.timed_out,
            auto: p.auto,
        }
    }

    /// The channel on `topic` is gone: its unanswered requests are reported
    /// as such. They stay matchable, like timed-out ones: a request that
    /// reached the server after the crash is still answered (`unmatched
    /// topic`), and that reply belongs to it, marked late.
    fn orphan(&mut self, topic: &str, because: &'static str) {
        let refs: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.topic == topic && !p.timed_out)
            .map(|(r, _)| r.clone())
            .collect();
        for r in refs {
            if let Some(p) = self.pending.get_mut(&r) {
                p.timed_out = true;
                p.orphaned = true;
                self.unanswered.push(Unanswered {
                    ref_: r.clone(),
                    topic: p.topic.clone(),
                    event: p.event.clone(),
                    because,
                });
                self.remember_late(r);
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
    /// them. Their replies are still matched if they arrive later. Held
    /// pushes past their deadline are dropped (see `take_dropped`).
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let (_, r) = self.deadlines.pop_front().expect("front exists");
            let Some(p) = self.pending.get_mut(&r).filter(|p| !p.timed_out) else {
                continue; // answered in time, or orphaned by a crash
            };
            p.timed_out = true;
            out.push(Expired {
                ref_: r.clone(),
                topic: p.topic.clone(),
                event: p.event.clone(),
                auto: p.auto,
                after: self.timeout,
            });
            if p.event == PHX_JOIN {
                let topic = p.topic.clone();
                let is_current = self
                    .channels
                    .get(&topic)
                    .is_some_and(|ch| ch.join_ref == r && ch.state == ChannelState::Joining);
                if is_current {
                    self.change(&topic, now, "join timed out", |ch| ch.errored(now));
                }
            }
            self.remember_late(r);
        }
        if self.held.iter().any(|h| h.deadline <= now) {
            let ms = self.timeout.as_millis();
            let why = if ms.is_multiple_of(1000) {
                format!("its topic did not join within {} s", ms / 1000)
            } else {
                format!("its topic did not join within {ms} ms")
            };
            self.drop_held(|h| h.deadline <= now, &why);
        }
        out
    }

    /// Keeps a given-up request matchable for a late reply, forgetting the
    /// oldest beyond `LATE_MEMORY`.
    fn remember_late(&mut self, r: String) {
        self.late.push_back(r);
        if self.late.len() > LATE_MEMORY
            && let Some(old) = self.late.pop_front()
        {
            self.pending.remove(&old);
        }
    }

    /// When the next pending request times out (or a held push is dropped).
    ///
    /// Entries of answered requests are dropped from the front here, so a
    /// long script of request/reply pairs costs O(1) per call.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let held = self.held.iter().map(|h| h.deadline).min();
        while let Some((deadline, r)) = self.deadlines.front() {
            if self.pending.get(r).is_some_and(|p| !p.timed_out) {
                return Some(held.map_or(*deadline, |h| h.min(*deadline)));
            }
            self.deadlines.pop_front();
        }
        held
    }

    /// Moves every pending deadline `by` later: while the client is not
    /// reading (its output is behind), replies may be waiting unread, and
    /// that time is the client's, not the server's.
    pub fn postpone(&mut self, by: Duration) {
        for (deadline, _) in &mut self.deadlines {
            *deadline += by;
        }
        for h in &mut self.held {
            h.deadline += by;
        }
    }

    /// The transport is gone: every channel on the server is gone with it,
    /// and no pending request will be answered.
    pub fn transport_closed(&mut self, now: Instant) {
        let topics: Vec<String> = self.channels.keys().cloned().collect();
        for topic in topics {
            self.change(&topic, now, "disconnected", Channel::transport_lost);
        }
        let mut orphans: Vec<Unanswered> = self
            .pending
            .drain()
            .filter(|(_, p)| !p.timed_out && !p.auto)
            .map(|(r, p)| Unanswered {
                ref_: r,
                topic: p.topic,
                event: p.event,
                because: "disconnected",
            })
            .collect();
        orphans.sort_by_key(|u| u.ref_.parse::<u64>().unwrap_or(u64::MAX));
        self.unanswered.extend(orphans);
        self.deadlines.clear();
        self.late.clear();
        self.heartbeat = None;
        self.heartbeat_since = None;
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

    /// Every topic with its join payload and rejoin countdown, sorted.
    pub fn topic_status(&self, now: Instant) -> Vec<TopicStatus> {
        self.channels
            .iter()
            .map(|(t, ch)| TopicStatus {
                topic: t.clone(),
                join_ref: ch.join_ref.clone(),
                state: ch.state,
                payload: ch.payload.clone(),
                rejoin_in: rejoin_in(ch.rejoin, now),
                attempts: ch.attempts,
            })
            .collect()
    }

    /// The join_ref to put on a message for `topic`, if its channel is live.
    pub fn current_join_ref(&self, topic: &str) -> Option<&str> {
        self.channels
            .get(topic)
            .filter(|ch| ch.state.is_live())
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

fn rejoin_in(rejoin: Rejoin, now: Instant) -> Option<Duration> {
    match rejoin {
        Rejoin::Never => None,
        Rejoin::OnReconnect => Some(Duration::ZERO),
        Rejoin::At(t) => Some(t.saturating_duration_since(now)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::{decode, raw};

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
    fn a_reply_to_an_orphaned_request_is_its_own_and_moves_no_state() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "crash", t0);
        push(&mut s, "room:a", "echo", t0);
        message(&mut s, r#"["1","1","room:a","phx_error",{}]"#, t0);
        assert_eq!(s.take_unanswered().len(), 2);
        // The rejoin is already on its way when the echo's answer comes.
        let rejoin = s.rejoins_due(t0 + Duration::from_secs(1));
        assert_eq!(rejoin.len(), 1);
        let r = reply(
            &mut s,
            r#"[null,"3","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#,
            t0,
        );
        assert_eq!(r.request.as_deref(), Some("echo"));
        assert!(r.late, "reported unanswered before, so it is late");
        assert_eq!(state(&s, "room:a"), ChannelState::Joining);
        assert!(s.expire(t0 + T * 3).iter().all(|e| e.event != "echo"));
    }

    #[test]
    fn a_leave_while_offline_closes_the_topic_for_good() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.transport_closed(t0);
        s.take_transitions();
        s.leave_offline("room:a", t0);
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
        let t = s.take_transitions();
        assert_eq!((t.len(), t[0].why), (1, "left while offline"));
        s.reconnected(t0);
        assert!(s.rejoins_due(t0).is_empty());
    }

    #[test]
    fn without_a_join_ref_a_close_or_error_is_told_apart_by_its_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        reply(
            &mut s,
            r#"[null,"2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        // V1 frames carry no join_ref; the ref of a close is the join_ref.
        let m = message(&mut s, r#"[null,"1","room:a","phx_close",{}]"#, t0);
        assert!(m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
        let m = message(&mut s, r#"[null,"2","room:a","phx_error",{}]"#, t0);
        assert!(!m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
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
        s.transport_closed(t0);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        assert_eq!(s.next_deadline(), None);
    }

    fn crash(s: &mut Session, topic: &str, join_ref: &str, now: Instant) {
        message(
            s,
            &format!(r#"["{join_ref}","{join_ref}","{topic}","phx_error",{{}}]"#),
            now,
        );
    }

    #[test]
    fn a_crashed_channel_rejoins_with_its_payload_and_a_new_join_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        s.prepare(
            Request::Join {
                topic: "room:a".into(),
                payload: raw(r#"{"user":"ana"}"#.into()).into(),
            },
            t0,
        )
        .unwrap();
        reply(
            &mut s,
            r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        crash(&mut s, "room:a", "1", t0);
        assert_eq!(s.next_rejoin(), Some(t0 + Duration::from_secs(1)));
        assert!(s.rejoins_due(t0 + Duration::from_millis(999)).is_empty());
        let due = s.rejoins_due(t0 + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempt, 1);
        assert_eq!(
            due[0].frame.encode(),
            r#"["2","2","room:a","phx_join",{"user":"ana"}]"#
        );
        assert_eq!(state(&s, "room:a"), ChannelState::Joining);
        assert_eq!(s.next_rejoin(), None);
    }

    #[test]
    fn transitions_are_reported_with_their_cause() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        crash(&mut s, "room:a", "1", t0);
        let got: Vec<(Option<ChannelState>, ChannelState, &str, Option<Duration>)> = s
            .take_transitions()
            .into_iter()
            .map(|t| (t.from, t.to, t.why, t.rejoin_in))
            .collect();
        use ChannelState::*;
        assert_eq!(
            got,
            [
                (None, Joining, "join", None),
                (Some(Joining), Joined, "joined", None),
                (
                    Some(Joined),
                    Errored,
                    "phx_error",
                    Some(Duration::from_secs(1))
                ),
            ]
        );
        assert!(s.take_transitions().is_empty());
    }

    #[test]
    fn a_lost_transport_orphans_requests_and_rejoins_on_reconnect() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        joined(&mut s, "room:b", t0);
        push(&mut s, "room:a", "echo", t0);
        s.transport_closed(t0);
        let orphans = s.take_unanswered();
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].because, "disconnected");
        assert!(s.rejoins_due(t0 + T).is_empty(), "not while offline");
        s.reconnected(t0 + T);
        let topics: Vec<String> = s
            .rejoins_due(t0 + T)
            .into_iter()
            .map(|r| r.frame.topic.into_string())
            .collect();
        assert_eq!(topics, ["room:a", "room:b"]);
    }

    #[test]
    fn pushes_to_a_rejoining_topic_are_held_until_it_joins() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.transport_closed(t0);
        let req = Request::Push {
            topic: "room:a".into(),
            event: "echo".into(),
            payload: empty_object().into(),
        };
        assert!(s.hold(7, req, t0).is_ok());
        let other = Request::Push {
            topic: "room:b".into(),
            event: "echo".into(),
            payload: empty_object().into(),
        };
        assert!(s.hold(8, other, t0).is_err(), "room:b is not coming back");
        s.reconnected(t0);
        s.rejoins_due(t0);
        assert!(s.take_released().is_empty());
        reply(
            &mut s,
            r#"["2","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        let released = s.take_released();
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].0, 7);
    }

    #[test]
    fn held_pushes_are_dropped_after_the_timeout_or_a_refusal() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "private:x", t0);
        let p = |t: &str| Request::Push {
            topic: t.into(),
            event: "e".into(),
            payload: empty_object().into(),
        };
        s.hold(1, p("room:a"), t0).unwrap();
        s.hold(2, p("private:x"), t0).unwrap();
        reply(
            &mut s,
            r#"["2","2","private:x","phx_reply",{"status":"error","response":{}}]"#,
            t0,
        );
        let dropped = s.take_dropped();
        assert_eq!(
            (dropped[0].id, dropped[0].why.as_str()),
            (2, "the join failed")
        );
        assert_eq!(s.next_deadline(), Some(t0 + T));
        s.expire(t0 + T);
        let dropped = s.take_dropped();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].why, "its topic did not join within 10 s");
    }

    #[test]
    fn automatic_heartbeats_wait_for_the_next_beat_not_the_timeout() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        s.prepare(Request::Heartbeat { auto: true }, t0).unwrap();
        assert_eq!(s.next_deadline(), None);
        assert_eq!(s.unanswered_heartbeat(), Some(t0));
        assert!(s.expire(t0 + T + T).is_empty());
        // A second beat while the first is unanswered: the wait counts
        // from the first.
        let t1 = t0 + Duration::from_secs(30);
        s.prepare(Request::Heartbeat { auto: true }, t1).unwrap();
        assert_eq!(s.unanswered_heartbeat(), Some(t1));
        let waited = s.heartbeat_stats(t1 + Duration::from_secs(5)).waiting;
        assert_eq!(waited, Some(Duration::from_secs(35)));
        let r = reply(
            &mut s,
            r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
            t1 + Duration::from_millis(3),
        );
        assert!(r.auto);
        assert_eq!(s.unanswered_heartbeat(), None);
        let stats = s.heartbeat_stats(t1);
        assert_eq!(stats.last_rtt, Some(Duration::from_millis(3)));
        assert_eq!(stats.waiting, None);
    }

    #[test]
    fn status_shows_payloads_and_rejoin_countdowns() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        crash(&mut s, "room:a", "1", t0);
        let st = s.topic_status(t0 + Duration::from_millis(400));
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].state, ChannelState::Errored);
        assert_eq!(st[0].payload.to_json(), "{}");
        assert_eq!(st[0].rejoin_in, Some(Duration::from_millis(600)));
        assert_eq!(st[0].attempts, 1);
    }
}

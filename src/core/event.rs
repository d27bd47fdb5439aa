//! What the network thread and the front end say to each other: the
//! [`Event`]s it reports, in batches, and the [`ToNet`] work it is given.
//! Plain data, so the renderers can read events without depending on the
//! transport that produced them.

use std::time::Duration;

use crate::core::packed::Packed;
use crate::core::protocol::Frame;
use crate::core::session::{
    Expired, HeartbeatStats, Message as PhxMessage, Reply, Request, TopicInfo, TopicStatus,
    Transition, Unanswered,
};

/// Which client (one socket and its session) an event is from or a
/// command is for. The first client is 0; the front end numbers the
/// others as it opens them (`connect`, `--clients`).
pub type ClientId = u32;

/// What the network thread reports.
#[derive(Debug)]
pub enum Event {
    /// The events after this one in the batch are this client's, until the
    /// next `Client`. A batch begins with client 0's, so a run with one
    /// client never sees this event.
    Client(ClientId),
    /// The WebSocket handshake succeeded (again, after a reconnect).
    Connected,
    /// Connecting failed and will not be retried; this is the last event.
    ConnectFailed(String),
    /// The open socket ended: a reconnect follows, unless a `Closed` with
    /// `reported` does (after the requests it left unanswered).
    /// `by_client` is true when we closed it: at the front end's request,
    /// or with 1000 "heartbeat timeout" (`HeartbeatTimeout` comes first).
    Disconnected {
        code: Option<u16>,
        reason: String,
        by_client: bool,
    },
    /// Waiting `delay` before connect attempt `attempt` (1, 2, …, counted
    /// since the socket was last open); `error` is why the previous
    /// attempt failed, if it did.
    Reconnecting {
        attempt: u32,
        delay: Duration,
        error: Option<String>,
        /// The error is the same as the previous attempt's.
        repeated: bool,
        /// No connection has opened yet: retrying the first (`--retry`).
        first: bool,
    },
    /// No reply to the last heartbeat by the time the next was due: the
    /// connection is closed as dead.
    HeartbeatTimeout {
        after: Duration,
    },
    /// A channel is joined again automatically; its `phx_join` follows as
    /// a `Sent` event without an id.
    Rejoining {
        topic: String,
        attempt: u32,
    },
    /// A channel changed state.
    ChannelState(Transition),
    /// The answer to `status`.
    Status {
        id: u64,
        status: Box<Status>,
    },
    /// A command is held until its topic has joined (`joining`) or the
    /// socket is open again (`offline`); a `Sent` or `Rejected` with the
    /// same id follows.
    Queued {
        id: u64,
        topic: Option<String>,
        until: &'static str,
    },
    /// A push or cast goes to a topic that is not joined (nor joining):
    /// it is still sent, and its `Sent` follows. `joined` lists the joined
    /// topics, sorted.
    NotJoined {
        topic: String,
        joined: Vec<String>,
    },
    /// A request went out (`id` is `None` for automatic heartbeats).
    /// `cast`: a push that waits for no reply.
    Sent {
        id: Option<u64>,
        frame: Frame,
        auto: bool,
        cast: bool,
    },
    SentRaw {
        id: u64,
        text: String,
    },
    /// A command could not be sent; nothing went out.
    Rejected {
        id: u64,
        message: String,
    },
    /// Boxed: replies are rarer than messages and much larger, and every
    /// event is moved into a batch.
    Reply(Box<Reply>),
    Message(PhxMessage),
    /// Pushes and broadcasts in a row, from current channel instances and
    /// with JSON payloads, not presence events: most of a flood. Packed,
    /// they cost the network thread one copy each and no allocation.
    Messages(Box<Packed>),
    /// Pushes and broadcasts in a row that the front end asked only to
    /// count (`Options::count_messages`): how many.
    Counted(u32),
    TimedOut(Expired),
    /// A request's channel crashed or closed before it was answered.
    Unanswered(Unanswered),
    Topics {
        id: u64,
        topics: Vec<TopicInfo>,
    },
    /// A frame that does not decode with the connection's serializer
    /// (`text` is a binary frame's bytes as `hex:…`).
    Undecodable {
        error: String,
        text: String,
    },
    /// The connection is over; this is the last event. `by_client` as for
    /// `Disconnected`; `lost` unless the front end asked to close it;
    /// `reported` when a `Disconnected` just before already said so.
    Closed {
        code: Option<u16>,
        reason: String,
        by_client: bool,
        lost: bool,
        reported: bool,
    },
}

/// Work for the network thread.
#[derive(Debug)]
pub enum ToNet {
    Request {
        id: u64,
        request: Request,
    },
    Raw {
        id: u64,
        text: String,
    },
    Topics {
        id: u64,
    },
    /// The connection's health and every topic's (`status`).
    Status {
        id: u64,
    },
    /// Close the client's socket with a normal close frame; its `Closed`
    /// event is its last.
    Close,
    /// Connect from now on to `url` with `headers`, and drop the open
    /// socket, if any, to reconnect there: a LiveView's reload after
    /// `stale` brings a new cookie and CSRF token, which are bound when
    /// the socket connects (docs/PROTOCOL.md §10).
    Retarget {
        url: url::Url,
        headers: Vec<(String, String)>,
    },
}

/// The connection as `status` shows it.
#[derive(Debug, Clone)]
pub struct Status {
    /// How long the current socket has been open; `None` while offline.
    pub up: Option<Duration>,
    /// Since the network thread started.
    pub session: Duration,
    /// Successful reconnects so far.
    pub reconnects: u32,
    /// While offline: the next attempt's number and the time left before it.
    pub next_attempt: Option<(u32, Duration)>,
    /// No connection has opened yet: `next_attempt` retries the first
    /// (`--retry`), it does not reconnect.
    pub first: bool,
    pub heartbeat_interval: Option<Duration>,
    pub heartbeat: HeartbeatStats,
    pub topics: Vec<TopicStatus>,
}

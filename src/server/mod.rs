//! The built-in Phoenix-compatible server: a Phoenix socket speaking V2
//! (text and binary) and V1, by the client's `vsn`, at
//! `/socket/websocket` with a few demo channels (`room:*`, `miami:weather`,
//! `private:*`, `flood:N`), for trying the REPL out and for tests.
//!
//! This file owns the public API ([`spawn`], [`run`]), the accept loop and
//! the [`Registry`] of topic subscribers that carries broadcasts between
//! connections. `handshake.rs` answers the HTTP upgrade, `peer.rs` runs one
//! connection's socket loop and `routes.rs` decides what each frame gets
//! back. Only `crate::core::protocol` is shared with the client.

mod handshake;
mod longpoll;
mod peer;
mod routes;

pub use handshake::Policy;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;
use std::time::Instant;

use polling::Poller;
use tungstenite::Message;

use crate::core::protocol::{Frame, Side, Vsn, Wire, push_json_str};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Close a connection after this long without a frame from its client.
    pub idle_timeout: Duration,
    /// Log connections and disconnections to stderr.
    pub log: bool,
    /// Serve TLS (wss://) with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Auth token and Origin checks on the upgrade.
    pub policy: Policy,
}

/// Starts serving `listener` on background threads and returns at once.
pub fn spawn(listener: TcpListener, options: Options) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let server = Arc::new(Server::new(options));
    thread::Builder::new()
        .name("phx-server-accept".to_owned())
        .spawn(move || {
            if let Err(e) = accept_loop(&listener, &server) {
                server.log(format_args!("stopped accepting: {e}"));
            }
        })?;
    Ok(addr)
}

/// Serves `listener` on the calling thread, forever.
pub fn run(listener: TcpListener, options: Options) -> io::Result<()> {
    accept_loop(&listener, &Arc::new(Server::new(options)))
}

/// State shared by every connection of one server.
struct Server {
    options: Options,
    registry: Registry,
    presence: PresenceRegistry,
    longpoll: longpoll::Sessions,
    next_conn: AtomicU64,
    /// Bumped by `restart`: connections opened under an older value close.
    generation: AtomicU64,
    /// The waker of every open connection, for `restart`.
    wakers: Mutex<HashMap<u64, Arc<Poller>>>,
    /// After a `restart`, new connections are refused until then.
    down_until: Mutex<Option<Instant>>,
}

impl Server {
    fn new(options: Options) -> Server {
        Server {
            options,
            registry: Registry::default(),
            presence: PresenceRegistry::default(),
            longpoll: longpoll::Sessions::default(),
            next_conn: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            wakers: Mutex::new(HashMap::new()),
            down_until: Mutex::new(None),
        }
    }

    /// Drops every connection, as a restarting server does, and refuses
    /// new ones for `down`.
    fn restart(&self, down: Duration) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + down);
        self.generation.fetch_add(1, Ordering::SeqCst);
        let wakers: Vec<Arc<Poller>> = self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for w in wakers {
            let _ = w.notify();
        }
    }

    /// Whether a `restart` is still refusing connections.
    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| Instant::now() < t)
    }

    /// One line to stderr when logging is on; stdout belongs to `main`.
    fn log(&self, line: fmt::Arguments<'_>) {
        if self.options.log {
            eprintln!("[server] {line}");
        }
    }
}

/// Accepts connections until the listener fails for good, one thread each.
fn accept_loop(listener: &TcpListener, server: &Arc<Server>) -> io::Result<()> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Not a listening socket: nothing will ever be accepted.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
            Err(e) => {
                // Aborted handshakes and running out of descriptors or memory
                // pass; the pause keeps the latter from spinning the CPU.
                server.log(format_args!("accept failed: {e}"));
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) {
                    thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        if server.is_down() {
            // Restarting: the connection is dropped before the handshake.
            server.log(format_args!("{peer} refused: restarting"));
            drop(stream);
            continue;
        }
        let id = server.next_conn.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(server);
        let started = thread::Builder::new()
            .name(format!("phx-conn-{id}"))
            .spawn(move || peer::serve(stream, peer, id, &shared));
        if let Err(e) = started {
            server.log(format_args!("{peer} dropped: cannot start a thread: {e}"));
        }
    }
}

/// A broadcast queued for one connection.
struct Outbound {
    topic: Arc<str>,
    /// The frame, shared by every recipient.
    broadcast: Arc<Broadcast>,
}

/// A broadcast frame, encoded at most once per serializer as Phoenix does
/// (PROTOCOL.md §3), by the first recipient that speaks it.
pub(crate) struct Broadcast {
    frame: Frame,
    v1: OnceLock<Option<Message>>,
    v2: OnceLock<Option<Message>>,
}

impl Broadcast {
    fn new(frame: Frame) -> Broadcast {
        Broadcast {
            frame,
            v1: OnceLock::new(),
            v2: OnceLock::new(),
        }
    }

    /// The message for a `vsn` connection; `None` when the frame has no
    /// form there (binary data to a V1 client).
    fn message(&self, vsn: Vsn) -> Option<Message> {
        let cell = match vsn {
            Vsn::V1 => &self.v1,
            Vsn::V2 => &self.v2,
        };
        cell.get_or_init(|| vsn.encode(&self.frame, Side::Server).ok().map(wire_message))
            .clone()
    }
}

/// A WebSocket message for an encoded frame.
fn wire_message(wire: Wire) -> Message {
    match wire {
        Wire::Text(text) => Message::text(text),
        Wire::Binary(data) => Message::binary(data),
    }
}

/// Where to queue broadcasts for one connection, and how to wake it.
#[derive(Clone)]
struct Mailbox {
    queue: Sender<Outbound>,
    waker: Arc<Poller>,
}

impl Mailbox {
    fn deliver(&self, outbound: Outbound) {
        // A closed queue means the connection is ending and will unsubscribe.
        if self.queue.send(outbound).is_ok() {
            let _ = self.waker.notify();
        }
    }
}

/// Which connections are joined to which topic, for broadcasts.
#[derive(Default)]
struct Registry {
    topics: Mutex<HashMap<String, Vec<(u64, Mailbox)>>>,
}

impl Registry {
    /// The map, even if a thread panicked while holding the lock: every
    /// update leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<(u64, Mailbox)>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes connection `conn` to `topic` (once, however often called).
    fn subscribe(&self, topic: &str, conn: u64, mailbox: &Mailbox) {
        let mut topics = self.lock();
        let subscribers = topics.entry(topic.to_owned()).or_default();
        if !subscribers.iter().any(|(id, _)| *id == conn) {
            subscribers.push((conn, mailbox.clone()));
        }
    }

    fn unsubscribe(&self, topic: &str, conn: u64) {
        let mut topics = self.lock();
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.retain(|(id, _)| *id != conn);
            if subscribers.is_empty() {
                topics.remove(topic);
            }
        }
    }

    /// Queues `broadcast` for every subscriber of `topic` except connection
    /// `from`, which writes its own copy in order with its reply.
    fn broadcast(&self, topic: &str, from: u64, broadcast: &Arc<Broadcast>) {
        // Copy the mailboxes out so no lock is held while waking threads.
        let recipients: Vec<Mailbox> = match self.lock().get(topic) {
            Some(subscribers) => subscribers
                .iter()
                .filter(|(id, _)| *id != from)
                .map(|(_, mailbox)| mailbox.clone())
                .collect(),
            None => return,
        };
        let topic: Arc<str> = Arc::from(topic);
        for mailbox in recipients {
            mailbox.deliver(Outbound {
                topic: Arc::clone(&topic),
                broadcast: Arc::clone(broadcast),
            });
        }
    }
}

/// One tracked presence: which connection, under which `phx_ref`.
#[derive(Debug, Clone)]
struct Tracked {
    conn: u64,
    phx_ref: String,
}

/// Presence on `room:*` topics, as Phoenix.Presence keeps it for an app
/// that tracks each socket by user (PROTOCOL.md §6): topic → key → one
/// meta per connection.
#[derive(Default)]
struct PresenceRegistry {
    topics: Mutex<HashMap<String, BTreeMap<String, Vec<Tracked>>>>,
    next_ref: AtomicU64,
}

impl PresenceRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, Vec<Tracked>>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tracks connection `conn` on `topic` under `key`. Returns the
    /// `presence_state` payload (this connection included) and the
    /// `presence_diff` payload announcing it.
    fn track(&self, topic: &str, key: &str, conn: u64) -> (String, String) {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed) + 1;
        let tracked = Tracked {
            conn,
            phx_ref: format!("P{n}"),
        };
        let mut topics = self.lock();
        let keys = topics.entry(topic.to_owned()).or_default();
        keys.entry(key.to_owned())
            .or_default()
            .push(tracked.clone());
        let state = entries(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        let diff = diff_payload(Some((key, &tracked)), None);
        (state, diff)
    }

    /// Stops tracking `conn` on `topic`; the `presence_diff` payload for
    /// the leave, if it was tracked.
    fn untrack(&self, topic: &str, conn: u64) -> Option<String> {
        let mut topics = self.lock();
        let keys = topics.get_mut(topic)?;
        let (key, i) = keys.iter().find_map(|(k, v)| {
            v.iter()
                .position(|t| t.conn == conn)
                .map(|i| (k.clone(), i))
        })?;
        let list = keys.get_mut(&key)?;
        let left = list.remove(i);
        if list.is_empty() {
            keys.remove(&key);
        }
        if keys.is_empty() {
            topics.remove(topic);
        }
        Some(diff_payload(None, Some((&key, &left))))
    }
}

/// `{"key": {"metas": [{"phx_ref": …}, …]}, …}`.
fn entries<'a>(list: impl Iterator<Item = (&'a str, &'a [Tracked])>) -> String {
    let mut out = String::from("{");
    for (i, (key, tracked)) in list.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, key);
        out.push_str(":{\"metas\":[");
        for (j, t) in tracked.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"phx_ref\":");
            push_json_str(&mut out, &t.phx_ref);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push('}');
    out
}

/// `{"joins": {…}, "leaves": {…}}` with at most one key on each side.
fn diff_payload(join: Option<(&str, &Tracked)>, leave: Option<(&str, &Tracked)>) -> String {
    let side = |one: Option<(&str, &Tracked)>| {
        entries(one.map(|(k, t)| (k, std::slice::from_ref(t))).into_iter())
    };
    format!("{{\"joins\":{},\"leaves\":{}}}", side(join), side(leave))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn mailbox() -> (Mailbox, mpsc::Receiver<Outbound>) {
        let (queue, inbox) = mpsc::channel();
        let waker = Arc::new(Poller::new().expect("poller"));
        (Mailbox { queue, waker }, inbox)
    }

    fn hi() -> Arc<Broadcast> {
        let frame = Frame::new(
            None,
            None,
            "room:x",
            "hi",
            crate::core::protocol::empty_object(),
        );
        Arc::new(Broadcast::new(frame))
    }

    #[test]
    fn broadcast_is_encoded_per_serializer() {
        let b = hi();
        let text = |m: Option<Message>| m.unwrap().into_text().unwrap().to_string();
        assert_eq!(text(b.message(Vsn::V2)), r#"[null,null,"room:x","hi",{}]"#);
        assert_eq!(
            text(b.message(Vsn::V1)),
            r#"{"topic":"room:x","event":"hi","payload":{},"ref":null}"#
        );
        let mut frame = b.frame.clone();
        frame.payload = crate::core::protocol::Payload::Binary(vec![1]);
        let bin = Broadcast::new(frame);
        assert!(bin.message(Vsn::V1).is_none());
        assert_eq!(
            bin.message(Vsn::V2).unwrap().into_data().as_ref(),
            b"\x02\x06\x02room:xhi\x01"
        );
    }

    #[test]
    fn broadcast_reaches_other_subscribers_once_and_skips_the_sender() {
        let registry = Registry::default();
        let (a, a_inbox) = mailbox();
        let (b, b_inbox) = mailbox();
        registry.subscribe("room:x", 1, &a);
        registry.subscribe("room:x", 2, &b);
        registry.subscribe("room:x", 2, &b);
        registry.broadcast("room:x", 1, &hi());
        assert!(a_inbox.try_recv().is_err());
        let got = b_inbox.try_recv().expect("b gets the broadcast");
        assert_eq!((&*got.topic, &*got.broadcast.frame.event), ("room:x", "hi"));
        assert!(b_inbox.try_recv().is_err());
    }

    #[test]
    fn unsubscribed_connections_get_nothing() {
        let registry = Registry::default();
        let (b, b_inbox) = mailbox();
        registry.subscribe("room:x", 2, &b);
        registry.unsubscribe("room:x", 2);
        registry.broadcast("room:x", 1, &hi());
        assert!(b_inbox.try_recv().is_err());
        assert!(registry.lock().is_empty());
    }

    #[test]
    fn presence_tracks_each_connection_under_its_key() {
        let p = PresenceRegistry::default();
        let (state, diff) = p.track("room:a", "alice", 1);
        assert_eq!(state, r#"{"alice":{"metas":[{"phx_ref":"P1"}]}}"#);
        assert_eq!(
            diff,
            r#"{"joins":{"alice":{"metas":[{"phx_ref":"P1"}]}},"leaves":{}}"#
        );
        let (state, _) = p.track("room:a", "alice", 2);
        assert_eq!(
            state,
            r#"{"alice":{"metas":[{"phx_ref":"P1"},{"phx_ref":"P2"}]}}"#
        );
        assert_eq!(
            p.untrack("room:a", 1).unwrap(),
            r#"{"joins":{},"leaves":{"alice":{"metas":[{"phx_ref":"P1"}]}}}"#
        );
        assert!(p.untrack("room:a", 1).is_none());
        assert!(p.untrack("room:a", 2).is_some());
        assert!(p.lock().is_empty());
    }
}

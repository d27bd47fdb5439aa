//! What every connection of one built-in server shares: the [`Options`],
//! the [`Registry`] of topic subscribers that carries broadcasts between
//! connections, presence, connection ids, and the `restart` switch.
//!
//! Connections reach each other only through here: a broadcast is queued
//! in each subscriber's [`Mailbox`] and its thread woken. Reading and
//! writing sockets is left to `peer.rs` and `longpoll.rs`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use polling::Poller;
use tungstenite::Message;

use super::connect::Policy;
use super::presence::PresenceRegistry;
use crate::core::protocol::{Frame, Side, Vsn, Wire};

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

/// State shared by every connection of one server.
pub struct Server {
    pub options: Options,
    pub registry: Registry,
    pub presence: PresenceRegistry,
    /// The id of the next connection, for logs and registries.
    pub next_conn: AtomicU64,
    /// Bumped by `restart`: connections opened under an older value close.
    pub generation: AtomicU64,
    /// The waker of every open connection, for `restart`.
    wakers: Mutex<HashMap<u64, Arc<Poller>>>,
    /// After a `restart`, new connections are refused until then.
    down_until: Mutex<Option<Instant>>,
}

impl Server {
    pub fn new(options: Options) -> Server {
        Server {
            options,
            registry: Registry::default(),
            presence: PresenceRegistry::default(),
            next_conn: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            wakers: Mutex::new(HashMap::new()),
            down_until: Mutex::new(None),
        }
    }

    /// Drops every connection, as a restarting server does, and refuses
    /// new ones for `down`.
    pub fn restart(&self, down: Duration) {
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

    /// Lets `restart` wake connection `id` through `waker`.
    pub fn watch(&self, id: u64, waker: &Arc<Poller>) {
        self.wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(waker));
    }

    /// Forgets the waker of a connection that ended.
    pub fn unwatch(&self, id: u64) {
        self.wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Whether a `restart` is still refusing connections.
    pub fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| Instant::now() < t)
    }

    /// One line to stderr when logging is on; stdout belongs to `main`.
    pub fn log(&self, line: fmt::Arguments<'_>) {
        if self.options.log {
            eprintln!("[server] {line}");
        }
    }
}

/// A broadcast queued for one connection.
pub struct Outbound {
    pub topic: Arc<str>,
    /// The frame, shared by every recipient.
    pub broadcast: Arc<Broadcast>,
}

/// A broadcast frame, encoded at most once per serializer as Phoenix does
/// (docs/PROTOCOL.md §3), by the first recipient that speaks it.
pub struct Broadcast {
    frame: Frame,
    v1: OnceLock<Option<Message>>,
    v2: OnceLock<Option<Message>>,
}

impl Broadcast {
    pub fn new(frame: Frame) -> Broadcast {
        Broadcast {
            frame,
            v1: OnceLock::new(),
            v2: OnceLock::new(),
        }
    }

    /// The message for a `vsn` connection; `None` when the frame has no
    /// form there (binary data to a V1 client).
    pub fn message(&self, vsn: Vsn) -> Option<Message> {
        let cell = match vsn {
            Vsn::V1 => &self.v1,
            Vsn::V2 => &self.v2,
        };
        cell.get_or_init(|| vsn.encode(&self.frame, Side::Server).ok().map(wire_message))
            .clone()
    }
}

/// A WebSocket message for an encoded frame.
pub fn wire_message(wire: Wire) -> Message {
    match wire {
        Wire::Text(text) => Message::text(text),
        Wire::Binary(data) => Message::binary(data),
    }
}

/// Where to queue broadcasts for one connection, and how to wake it.
#[derive(Clone)]
pub struct Mailbox {
    pub queue: Sender<Outbound>,
    pub waker: Arc<Poller>,
}

impl Mailbox {
    pub fn deliver(&self, outbound: Outbound) {
        // A closed queue means the connection is ending and will unsubscribe.
        if self.queue.send(outbound).is_ok() {
            let _ = self.waker.notify();
        }
    }
}

/// Which connections are joined to which topic, for broadcasts.
#[derive(Default)]
pub struct Registry {
    topics: Mutex<HashMap<String, Vec<(u64, Mailbox)>>>,
}

impl Registry {
    /// The map, even if a thread panicked while holding the lock: every
    /// update leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<(u64, Mailbox)>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes connection `conn` to `topic` (once, however often called).
    pub fn subscribe(&self, topic: &str, conn: u64, mailbox: &Mailbox) {
        let mut topics = self.lock();
        let subscribers = topics.entry(topic.to_owned()).or_default();
        if !subscribers.iter().any(|(id, _)| *id == conn) {
            subscribers.push((conn, mailbox.clone()));
        }
    }

    pub fn unsubscribe(&self, topic: &str, conn: u64) {
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
    pub fn broadcast(&self, topic: &str, from: u64, broadcast: &Arc<Broadcast>) {
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
}

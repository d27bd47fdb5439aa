//! What every connection of one built-in server shares: the [`Options`],
//! the [`Registry`] of topic subscribers that carries broadcasts between
//! connections, the [`GqlRegistry`] of GraphQL subscriptions and message
//! ids, presence, connection ids, and the `restart` switch.
//!
//! Connections reach each other only through here: broadcasts through
//! the [`Registry`] (`registry.rs`), GraphQL subscription data through
//! the [`GqlRegistry`]. Reading and writing sockets is left to `peer.rs`
//! and `longpoll.rs`.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use polling::Poller;

use super::absinthe::{self, Subscription};
use super::connect::Policy;
use super::graphql;
use super::live;
use super::presence::PresenceRegistry;
use super::registry::{Broadcast, Mailbox, Outbound, Registry};
use crate::core::protocol::Frame;

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
    /// The LiveView format of the `/live` pages.
    pub liveview: live::Format,
}

/// State shared by every connection of one server.
pub struct Server {
    pub options: Options,
    pub registry: Registry,
    pub presence: PresenceRegistry,
    pub gql: GqlRegistry,
    /// The LiveView pages' secret and chat room.
    pub live: Arc<live::Shared>,
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
            live: Arc::new(live::Shared::new(options.liveview)),
            options,
            registry: Registry::default(),
            presence: PresenceRegistry::default(),
            gql: GqlRegistry::default(),
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
        // As an app redeployed with a new `secret_key_base`.
        self.live.rotate();
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
    /// Formatted first and written whole: stderr is unbuffered, and
    /// `eprintln!` writes each piece of an address separately, a dozen
    /// system calls a line with a thousand clients coming and going.
    pub fn log(&self, line: fmt::Arguments<'_>) {
        if self.options.log {
            let line = format!("[server] {line}\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// One live `messageAdded` subscription.
struct GqlSub {
    id: String,
    conn: u64,
    mailbox: Arc<Mailbox>,
    sub: Subscription,
}

#[derive(Default)]
struct GqlState {
    /// The last subscription number and message id handed out.
    subscriptions: u64,
    messages: u64,
    /// Oldest first, the order results are published in.
    live: Vec<GqlSub>,
}

/// Every GraphQL subscription of the server, so that a mutation on one
/// socket feeds subscribers on all of them (docs/PROTOCOL.md §9).
#[derive(Default)]
pub struct GqlRegistry {
    state: Mutex<GqlState>,
}

impl GqlRegistry {
    fn lock(&self) -> MutexGuard<'_, GqlState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes connection `conn`; the new subscription's id. The same
    /// document twice gives two ids, as in Absinthe.
    pub fn subscribe(&self, conn: u64, mailbox: &Arc<Mailbox>, sub: Subscription) -> String {
        let mut state = self.lock();
        state.subscriptions += 1;
        let id = absinthe::subscription_id(state.subscriptions, &sub.hash);
        state.live.push(GqlSub {
            id: id.clone(),
            conn,
            mailbox: Arc::clone(mailbox),
            sub,
        });
        id
    }

    /// Ends subscription `id` if connection `conn` holds it (as Absinthe
    /// unsubscribes only the calling channel's own).
    pub fn unsubscribe(&self, conn: u64, id: &str) {
        self.lock().live.retain(|s| !(s.conn == conn && s.id == id));
    }

    /// Ends every subscription of connection `conn`.
    pub fn end(&self, conn: u64) {
        self.lock().live.retain(|s| s.conn != conn);
    }

    /// Adds a message to `room`: its id, and the `subscription:data`
    /// frames for connection `from`'s own subscriptions, which it writes
    /// itself so they precede its reply. Other connections' frames are
    /// queued in their mailboxes.
    pub fn add_message(&self, from: u64, room: &str, body: &str) -> (String, Vec<Frame>) {
        let mut own = Vec::new();
        let mut others = Vec::new();
        let id = {
            let mut state = self.lock();
            state.messages += 1;
            let id = state.messages.to_string();
            for s in state.live.iter().filter(|s| s.sub.room == room) {
                let value = graphql::message_json(&s.sub.selection, &id, room, body);
                let frame = absinthe::data_frame(&s.id, &s.sub.key, value);
                if s.conn == from {
                    own.push(frame);
                } else {
                    others.push((Arc::clone(&s.mailbox), frame));
                }
            }
            id
        };
        // Woken without the lock held.
        for (mailbox, frame) in others {
            mailbox.deliver_alone(Outbound {
                topic: Arc::from(frame.topic.as_str()),
                broadcast: Arc::new(Broadcast::new(frame)),
            });
        }
        (id, own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::registry::tests::mailbox;
    fn lobby_sub() -> Subscription {
        Subscription {
            hash: "H".into(),
            key: "messageAdded".into(),
            room: "lobby".into(),
            selection: vec![("id".into(), graphql::MessageField::Id)],
        }
    }

    #[test]
    fn a_message_feeds_every_socket_and_returns_the_senders_own_frames() {
        let gql = GqlRegistry::default();
        let (a, a_inbox) = mailbox();
        let (b, b_inbox) = mailbox();
        let a1 = gql.subscribe(1, &a, lobby_sub());
        let b1 = gql.subscribe(2, &b, lobby_sub());
        assert_eq!(a1, "__absinthe__:doc:1:H");
        assert_eq!(b1, "__absinthe__:doc:2:H");
        let (id, own) = gql.add_message(1, "lobby", "hi");
        assert_eq!(id, "1");
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].topic, a1.as_str());
        assert!(a_inbox.try_recv().is_err());
        let got = b_inbox.try_recv().expect("b is fed");
        assert_eq!(&*got.topic, b1.as_str());
        // Other rooms feed nobody; ids count up per server.
        assert_eq!(gql.add_message(2, "other", "x").0, "2");
        assert!(b_inbox.try_recv().is_err());
        // Only the holder can unsubscribe; ending a connection ends all.
        gql.unsubscribe(1, &b1);
        assert_eq!(gql.add_message(1, "lobby", "y").1.len(), 1);
        assert!(b_inbox.try_recv().is_ok());
        gql.end(2);
        gql.unsubscribe(1, &a1);
        assert!(gql.lock().live.is_empty());
    }
}

//! How a broadcast travels from one connection of the built-in server to
//! the others: the [`Registry`] of each topic's subscribers, the
//! [`Mailbox`] a broadcast is queued in for one connection, and the
//! registry's two threads.
//!
//! A broadcast is queued in each subscriber's mailbox, and the subscriber
//! is listed for the flusher, a thread of the registry's own ([`Worker`]),
//! which puts what the mailbox holds in the subscriber's write buffer and
//! writes it out when the subscriber is idle ([`Deliver`]), or else wakes
//! the subscriber's thread to do it. A socket that several broadcasts
//! reached meanwhile gets them all in one pass and one write. A join on a
//! busy topic is a presence diff to every other socket on it: waking each
//! one's thread for each diff cost about ten times what the writes do, one
//! write per diff still most of the rest, and the sender filling each
//! buffer itself, one diff at a time, a sixth of the server's time in a
//! 1,000-socket fan-out. A presence leave is broadcast by the other
//! thread, the tracker ([`Registry::broadcast_later`]), once its
//! connection has gone, as Phoenix's tracker does: a thousand sockets
//! closing at once no longer each wait their turn behind the others'
//! leaves to the rest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use polling::Poller;
use tungstenite::Message;

use crate::core::protocol::{Frame, Side, Vsn, Wire};

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

/// A connection that another thread may serve while its own thread
/// sleeps.
pub trait Deliver: Send + Sync {
    /// Puts what its mailbox holds in its write buffer, in order, and
    /// writes it out. False when its thread must be woken: it holds the
    /// connection (in a turn that may have drained the mailbox already),
    /// the mailbox held more than one turn's worth, or the write would
    /// block or failed.
    fn flush_now(&self) -> bool;
}

/// Where to queue broadcasts for one connection, who may write them, and
/// how to wake it.
pub struct Mailbox {
    queue: Sender<Outbound>,
    waker: Arc<Poller>,
    writer: Arc<dyn Deliver>,
    /// On the flusher's list, not yet flushed.
    unflushed: AtomicBool,
}

impl Mailbox {
    pub fn new(queue: Sender<Outbound>, waker: Arc<Poller>, writer: Arc<dyn Deliver>) -> Mailbox {
        Mailbox {
            queue,
            waker,
            writer,
            unflushed: AtomicBool::new(false),
        }
    }

    /// Queues a broadcast, for whoever next serves the connection to
    /// write after what was queued before. True when the connection must
    /// now be flushed and is not yet on the list of those that will be.
    #[must_use]
    fn deliver(&self, outbound: Outbound) -> bool {
        // A closed queue means the connection is ending and will unsubscribe.
        if self.queue.send(outbound).is_err() {
            return false;
        }
        !self.unflushed.swap(true, Ordering::SeqCst)
    }

    /// Delivers one frame and writes it out at once.
    pub(super) fn deliver_alone(&self, outbound: Outbound) {
        if self.deliver(outbound) {
            self.flush();
        }
    }

    /// Writes out what was buffered, or has the connection's thread do it.
    fn flush(&self) {
        // Cleared first: a sender that queues more after this puts the
        // mailbox on the list again.
        self.unflushed.store(false, Ordering::SeqCst);
        if !self.writer.flush_now() {
            self.wake();
        }
    }

    fn wake(&self) {
        let _ = self.waker.notify();
    }
}

/// Work handed to a thread of the registry's own, started on first use:
/// senders hand items over and go on, and the thread takes all that piled
/// up at once and works through them in order. The flusher's items are
/// mailboxes to fill and write out: while it writes one sweep, the
/// broadcasts that arrive meanwhile pile up for the next, so the busier
/// the topic, the more each write carries (as group commit does), and no
/// connection's own turn waits for a sweep. The tracker's are presence
/// leaves ([`Registry::broadcast_later`]).
struct Worker<T> {
    state: Mutex<Pile<T>>,
    wake: Condvar,
    /// Whether the thread could be started, once the first items came.
    started: OnceLock<bool>,
}

struct Pile<T> {
    items: Vec<T>,
    /// The thread is waiting for items.
    idle: bool,
    /// The server is gone: the thread ends.
    stop: bool,
}

impl<T> Default for Worker<T> {
    fn default() -> Self {
        Worker {
            state: Mutex::new(Pile {
                items: Vec::new(),
                idle: false,
                stop: false,
            }),
            wake: Condvar::new(),
            started: OnceLock::new(),
        }
    }
}

impl<T: Send + 'static> Worker<T> {
    fn lock(&self) -> MutexGuard<'_, Pile<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `items` to the thread, which is started the first time as
    /// `name`, doing what `work` makes. They are handed back when no
    /// thread can be had.
    fn hand<W>(
        self: &Arc<Self>,
        name: &str,
        items: Vec<T>,
        work: impl FnOnce() -> W,
    ) -> Result<(), Vec<T>>
    where
        W: FnMut(Vec<T>) + Send + 'static,
    {
        let running = *self.started.get_or_init(|| {
            let (me, mut work) = (Arc::clone(self), work());
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || me.run(&mut work))
                .is_ok()
        });
        if !running {
            return Err(items);
        }
        let mut pile = self.lock();
        pile.items.extend(items);
        if pile.idle {
            pile.idle = false;
            self.wake.notify_one();
        }
        Ok(())
    }

    fn run(&self, work: &mut impl FnMut(Vec<T>)) {
        loop {
            let taken = {
                let mut pile = self.lock();
                while pile.items.is_empty() && !pile.stop {
                    pile.idle = true;
                    pile = self.wake.wait(pile).unwrap_or_else(PoisonError::into_inner);
                }
                if pile.stop {
                    return;
                }
                std::mem::take(&mut pile.items)
            };
            work(taken);
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }
}

/// Topic → each subscribed connection's id and mailbox.
type Topics = HashMap<String, Vec<(u64, Arc<Mailbox>)>>;

/// Which connections are joined to which topic, for broadcasts.
#[derive(Default)]
pub struct Registry {
    shared: Arc<Shared>,
    /// Sends presence leaves.
    tracker: Arc<Worker<Deferred>>,
}

/// What the registry's own threads share with it.
#[derive(Default)]
struct Shared {
    topics: Mutex<Topics>,
    /// Fills and writes out the mailboxes broadcasts were queued in.
    flusher: Arc<Worker<Arc<Mailbox>>>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.tracker.stop();
        self.shared.flusher.stop();
    }
}

impl Registry {
    /// The map, even if a thread panicked while holding the lock: every
    /// update leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, Topics> {
        self.shared.lock()
    }

    /// Subscribes connection `conn` to `topic` (once, however often called).
    pub fn subscribe(&self, topic: &str, conn: u64, mailbox: &Arc<Mailbox>) {
        let mut topics = self.lock();
        let subscribers = topics.entry(topic.to_owned()).or_default();
        if !subscribers.iter().any(|(id, _)| *id == conn) {
            subscribers.push((conn, Arc::clone(mailbox)));
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
        self.shared.broadcast(topic, from, broadcast);
    }

    /// Broadcasts as [`Registry::broadcast`] does, soon, from another
    /// thread, in the order asked: to those subscribed then.
    pub fn broadcast_later(&self, topic: &str, from: u64, broadcast: Arc<Broadcast>) {
        let later = Deferred {
            topic: topic.to_owned(),
            from,
            broadcast,
        };
        let shared = &self.shared;
        let sent = self.tracker.hand("tracker", vec![later], || {
            let shared = Arc::clone(shared);
            move |taken: Vec<Deferred>| taken.iter().for_each(|d| d.send(&shared))
        });
        if let Err(left) = sent {
            // No thread to be had: it goes out now.
            left.iter().for_each(|d| d.send(shared));
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Topics> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn broadcast(&self, topic: &str, from: u64, broadcast: &Arc<Broadcast>) {
        let topic: Arc<str> = Arc::from(topic);
        // Queuing is a channel send and a flag, so it is done under the
        // lock; only the mailboxes newly listed for the flusher are kept.
        let to_flush: Vec<Arc<Mailbox>> = match self.lock().get(&*topic) {
            Some(subscribers) => subscribers
                .iter()
                .filter(|(id, mailbox)| {
                    *id != from
                        && mailbox.deliver(Outbound {
                            topic: Arc::clone(&topic),
                            broadcast: Arc::clone(broadcast),
                        })
                })
                .map(|(_, mailbox)| Arc::clone(mailbox))
                .collect(),
            None => return,
        };
        if to_flush.is_empty() {
            return;
        }
        let flush = |mailboxes: Vec<Arc<Mailbox>>| mailboxes.iter().for_each(|m| m.flush());
        if let Err(left) = self.flusher.hand("flusher", to_flush, || flush) {
            // No thread to be had: the sender writes them out itself.
            flush(left);
        }
    }
}

/// A broadcast [`Registry::broadcast_later`] was asked for. Sent by the
/// tracker thread, in the order asked: how a presence leave reaches a
/// topic in Phoenix, whose tracker learns of a channel's exit by a
/// message and broadcasts the diff in its own time (docs/PROTOCOL.md §6).
/// A closing socket hands its leaves over and is gone; when many close at
/// once, each leave reaches those still subscribed when it goes out.
struct Deferred {
    topic: String,
    from: u64,
    broadcast: Arc<Broadcast>,
}

impl Deferred {
    fn send(&self, shared: &Shared) {
        shared.broadcast(&self.topic, self.from, &self.broadcast);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// A connection that is always busy: its own thread writes.
    struct Busy;

    impl Deliver for Busy {
        fn flush_now(&self) -> bool {
            true
        }
    }

    /// A connection that is always idle: it takes every broadcast into
    /// its buffer and counts the flushes.
    #[derive(Default)]
    struct Idle {
        flushes: AtomicU64,
    }

    impl Deliver for Idle {
        fn flush_now(&self) -> bool {
            self.flushes.fetch_add(1, Ordering::SeqCst);
            true
        }
    }

    #[test]
    fn queued_broadcasts_are_written_by_the_flusher() {
        let registry = Registry::default();
        let idle: Vec<Arc<Idle>> = (0..3).map(|_| Arc::new(Idle::default())).collect();
        let mut inboxes = Vec::new();
        for (i, writer) in idle.iter().enumerate() {
            let (queue, inbox) = mpsc::channel();
            let waker = Arc::new(Poller::new().expect("poller"));
            let writer = Arc::clone(writer) as Arc<dyn Deliver>;
            let mailbox = Arc::new(Mailbox::new(queue, waker, writer));
            registry.subscribe("room:x", i as u64 + 10, &mailbox);
            inboxes.push(inbox);
        }
        for _ in 0..5 {
            registry.broadcast("room:x", 1, &hi());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while idle.iter().any(|w| w.flushes.load(Ordering::SeqCst) == 0) {
            assert!(
                Instant::now() < deadline,
                "a buffered mailbox was never flushed"
            );
            std::thread::yield_now();
        }
        // Each got all five, in its queue for the writer to take.
        for inbox in &inboxes {
            assert_eq!(inbox.try_iter().count(), 5);
        }
    }

    /// A mailbox whose connection is always busy, and what it was given.
    pub(in crate::server) fn mailbox() -> (Arc<Mailbox>, mpsc::Receiver<Outbound>) {
        let (queue, inbox) = mpsc::channel();
        let waker = Arc::new(Poller::new().expect("poller"));
        let mailbox = Mailbox::new(queue, waker, Arc::new(Busy));
        (Arc::new(mailbox), inbox)
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
    fn later_broadcasts_go_out_in_order_and_skip_the_sender() {
        let registry = Registry::default();
        let (a, a_inbox) = mailbox();
        let (b, b_inbox) = mailbox();
        registry.subscribe("room:x", 1, &a);
        registry.subscribe("room:x", 2, &b);
        for event in ["one", "two", "three"] {
            let frame = Frame::new(
                None,
                None,
                "room:x",
                event,
                crate::core::protocol::empty_object(),
            );
            registry.broadcast_later("room:x", 1, Arc::new(Broadcast::new(frame)));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = b_inbox
                .recv_timeout(left)
                .expect("b gets every later broadcast");
            got.push(next.broadcast.frame.event.clone());
        }
        assert_eq!(got, ["one", "two", "three"]);
        assert!(a_inbox.try_recv().is_err(), "the sender gets none");
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

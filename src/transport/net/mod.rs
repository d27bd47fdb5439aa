//! The network thread: the one thread that owns every client's socket and
//! `Session`; nothing else touches either.
//!
//! It blocks in `poll` on all the sockets and on a waker, so a queued
//! command goes on the wire at once, a frame is handled as soon as it
//! arrives, and heartbeats and reply timeouts are deadlines in the same
//! loop. It does no formatting: it reports `Event`s through the `emit`
//! callback, in batches (one per wake-up), so a flood costs one hand-over
//! per batch rather than one per frame. The events of a client other than
//! the first follow an `Event::Client` marker.
//!
//! Each client is a small state machine (`client.rs`): waiting before an
//! attempt, fetching credentials, connecting (`transport::dial`, which
//! never blocks), open, done. A turn of the loop serves only the clients
//! with something to do: a socket the poller reported ready, a helper
//! thread's wake-up, a deadline that passed (each client caches its next
//! one), a command, or frames left unread. So one client that is lost,
//! reconnecting or stuck connecting delays no other, and a thousand idle
//! clients cost a scan of their cached deadlines per turn.
//!
//! Each `Session` outlives its sockets: when one drops, its client
//! reconnects with the JS client's backoff (docs/PROTOCOL.md §5), holding
//! commands typed meanwhile, and rejoins every topic with its payload
//! (`channel.rs` has the rules). A heartbeat left unanswered until the
//! next one is due closes the socket as dead.
//!
//! The state is split so: this file holds the loop's own (poller, command
//! queue, the clients) and drives it; `flow` the batches to the front end
//! and their credits; `client` one client's states; `conn` its connection
//! (session, open socket, timers); `reconnect` its schedule between
//! sockets.

mod client;
mod conn;
mod flow;
mod reconnect;

use std::io::ErrorKind;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use polling::{Events, Poller};
use tungstenite::protocol::WebSocketConfig;
use url::Url;

use self::client::{Client, Cx};
use self::flow::{Credits, Delivery, Flow};
use crate::core::event::{ClientId, Event, ToNet};
use crate::core::protocol::Vsn;
use crate::transport::fresh::Fresh;
use crate::transport::tls::Trust;

/// After a reply to a command, how long the network thread spins waiting
/// for the next command before it sleeps. A script that waits for each
/// reply sends its next line within microseconds; a sleeping thread would
/// need a wake-up for it, which costs tens of microseconds on an idle VM.
/// With a single CPU there is no spinning: it would hold up the very thread
/// that is to send the command.
const SPIN: Duration = Duration::from_micros(100);

/// The WebSocket buffers of a client opened with [`Handle::open`]: small,
/// so that a thousand idle clients fit in a few MiB. tungstenite's default
/// reserves a 128 KiB read buffer per socket (zeroed on the first read);
/// the first client keeps it, since a flood into one socket reads faster
/// with it. Larger frames still grow the buffer as they need.
const SMALL_READ_BUFFER: usize = 4 * 1024;

/// What the front end sends: work for a client, or a new client.
enum Cmd {
    To(ClientId, ToNet),
    /// Boxed: rare, and far larger than the work.
    Open(ClientId, Box<(Target, Options)>),
}

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// Whom to trust for `wss://`.
    pub trust: Trust,
    /// Commands whose output is a param or the auth token, run before
    /// every attempt (`--param-cmd`, `--auth-token-cmd`).
    pub fresh: Fresh,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub heartbeat: Option<Duration>,
    pub timeout: Duration,
    /// The serializer, as the URL's `vsn` asks.
    pub vsn: Vsn,
    /// Reconnect after the connection drops.
    pub reconnect: bool,
    /// Retry a first connection that fails (otherwise it is fatal).
    pub retry: bool,
    /// Give up after this many failed attempts in a row; `None`: never.
    pub max_retries: Option<u32>,
    /// Hand pushes and broadcasts over as a count ([`Event::Counted`]),
    /// not as messages: a fan-out whose script and output never look at
    /// them, where most frames are the presence of a busy topic.
    pub count_messages: bool,
}

/// The front ends' side of the network thread.
pub struct Handle {
    tx: Sender<Cmd>,
    poller: Arc<Poller>,
    credits: Credits,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    /// Queues work for the first client and wakes the network thread.
    /// False if it has ended.
    pub fn send(&self, msg: ToNet) -> bool {
        self.send_to(0, msg)
    }

    /// Queues work for one client and wakes the network thread. False if
    /// it has ended. Work for a client that does not exist, or has ended,
    /// is answered with `Event::Rejected` (when it has an id).
    pub fn send_to(&self, client: ClientId, msg: ToNet) -> bool {
        self.queue(Cmd::To(client, msg))
    }

    /// Opens another client: a socket of its own to `target`, with its own
    /// session, heartbeats and reconnects, served by the same thread. Its
    /// events follow an `Event::Client(client)`. False if the thread has
    /// ended. Ids are the caller's to pick, once each; an id in use is
    /// ignored.
    pub fn open(&self, client: ClientId, target: Target, options: Options) -> bool {
        self.queue(Cmd::Open(client, Box::new((target, options))))
    }

    fn queue(&self, cmd: Cmd) -> bool {
        let ok = self.tx.send(cmd).is_ok();
        if ok {
            let _ = self.poller.notify();
        }
        ok
    }

    /// Tells the network thread that one batch of events has been handled,
    /// so it may read more, and gives the batch back to be filled again (a
    /// flood then reuses a few vectors instead of growing new ones). Events
    /// still in it are dropped by the network thread, which allocated them.
    pub fn batch_done(&self, handled: Vec<Event>) {
        if self.credits.batch_done(handled) {
            let _ = self.poller.notify();
        }
    }

    /// Closes every client still open (as `ToNet::Close` would) and waits
    /// for the network thread to end.
    pub fn join(self) {
        let Handle {
            tx,
            poller,
            credits,
            thread,
        } = self;
        // No more work: the thread closes what is open.
        drop(tx);
        // Free every slot: the thread may be waiting to hand over its last
        // event, which nobody will read now.
        drop(credits);
        let _ = poller.notify();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Starts the network thread, which connects the first client (0) to
/// `target` and then serves it, and any client opened later. `emit`
/// receives every event, in order and in batches, and returns false when
/// nobody listens any more.
pub fn start(
    target: Target,
    options: Options,
    emit: impl FnMut(Vec<Event>) -> bool + Send + 'static,
) -> std::io::Result<Handle> {
    let poller = Arc::new(Poller::new()?);
    let (tx, rx) = mpsc::channel();
    let (flow, credits) = flow::channel(Box::new(emit));
    let mut first = Client::new(0, target, options, None);
    first.queued = true;
    let net = Net {
        poller: Arc::clone(&poller),
        rx,
        early: None,
        may_spin: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        flow,
        clients: vec![Some(first)],
        woken: Arc::new(Mutex::new(Vec::new())),
        due: vec![0],
        hanging_up: false,
        answered: false,
    };
    let thread = std::thread::Builder::new()
        .name("network".into())
        .spawn(move || net.run())?;
    Ok(Handle {
        tx,
        poller,
        credits,
        thread: Some(thread),
    })
}

/// How long the loop may sleep: not at all while frames wait unread,
/// else until the earliest deadline (forever without one).
fn sleep_for(earliest: Option<Instant>, unread: bool, now: Instant) -> Option<Duration> {
    if unread {
        Some(Duration::ZERO)
    } else {
        earliest.map(|d| d.saturating_duration_since(now))
    }
}

/// The network thread's state: the loop's own, and the clients.
struct Net {
    poller: Arc<Poller>,
    rx: Receiver<Cmd>,
    /// A command taken off the queue while spinning, to run first.
    early: Option<Cmd>,
    /// There is more than one CPU: spinning cannot hold up the front end.
    may_spin: bool,
    flow: Flow,
    /// By id; a client's slot stays (as `Done`) after it ends, and ids are
    /// never reused.
    clients: Vec<Option<Client>>,
    /// Clients a helper thread woke (name lookups, credential commands,
    /// long-poll connects).
    woken: Arc<Mutex<Vec<ClientId>>>,
    /// The clients to serve this turn (each has `queued` set).
    due: Vec<ClientId>,
    /// The front end dropped its handle: every client is closing, and the
    /// thread ends once all are done.
    hanging_up: bool,
    /// A reply to a command arrived since the loop last blocked (see
    /// `SPIN`).
    answered: bool,
}

impl Net {
    /// Serves every client until the front end is gone, or until it has
    /// dropped its handle and every client is done.
    fn run(mut self) {
        let mut events = Events::new();
        loop {
            // Commands first: they go out before we block again.
            self.commands();
            self.collect(&events);
            // Seen: a turn that follows a spin, without a wait, must not
            // take them for new readiness.
            events.clear();
            self.serve_due();
            if self.hanging_up && self.clients.iter().flatten().all(Client::done) {
                break;
            }
            let now = Instant::now();
            let echo_hold = self.flow.hold_echoes(now);
            if echo_hold.is_none() && !self.deliver() {
                break;
            }
            let mut earliest = echo_hold;
            let mut unread = false;
            // While paused, frames left unread wait for the resume.
            let reading = !self.flow.paused();
            for c in self.clients.iter().flatten() {
                unread |= c.unread && reading;
                if let Some(d) = c.deadline
                    && earliest.is_none_or(|e| d < e)
                {
                    earliest = Some(d);
                }
            }
            // Clients queued by the resume above are served at once.
            let timeout = sleep_for(earliest, unread || !self.due.is_empty(), now);
            if timeout != Some(Duration::ZERO)
                && std::mem::take(&mut self.answered)
                && self.may_spin
                && self.spin_for_command()
            {
                continue;
            }
            if let Err(e) = self.poller.wait(&mut events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                // Nothing sensible is left to do without a poller.
                break;
            }
        }
        for c in self.clients.iter_mut().flatten() {
            c.abandon(&self.poller);
        }
        self.flow.deliver_last();
    }

    /// Marks a client to be served this turn.
    fn enqueue(&mut self, id: ClientId) {
        if let Some(Some(c)) = self.clients.get_mut(id as usize)
            && !c.queued
        {
            c.queued = true;
            self.due.push(id);
        }
    }

    /// Gathers who has something to do: sockets the poller reported,
    /// clients a helper thread woke, deadlines that passed, frames unread.
    fn collect(&mut self, events: &Events) {
        for ev in events.iter() {
            self.enqueue(ev.key as ClientId);
        }
        let woken = match self.woken.lock() {
            Ok(mut w) if !w.is_empty() => std::mem::take(&mut *w),
            _ => Vec::new(),
        };
        for id in woken {
            self.enqueue(id);
        }
        let now = Instant::now();
        let reading = !self.flow.paused();
        for (id, slot) in self.clients.iter_mut().enumerate() {
            if let Some(c) = slot
                && !c.queued
                && ((c.unread && reading) || c.deadline.is_some_and(|d| d <= now))
            {
                c.queued = true;
                self.due.push(id as ClientId);
            }
        }
    }

    /// Serves the clients collected for this turn.
    fn serve_due(&mut self) {
        let mut due = std::mem::take(&mut self.due);
        for &id in &due {
            let Some(Some(c)) = self.clients.get_mut(id as usize) else {
                continue;
            };
            c.queued = false;
            let mut cx = Cx {
                poller: &self.poller,
                flow: &mut self.flow,
                woken: &self.woken,
            };
            c.serve(&mut cx);
            if std::mem::take(&mut c.conn.answered) && c.serving() {
                self.answered = true;
            }
            if self.flow.full() {
                // Handed over now, so the clients after this one read
                // into a fresh batch (or wait, unread, for a free slot).
                self.deliver();
            }
        }
        // Clients queued meanwhile (a resume during a hand-over above)
        // stay queued for the next turn.
        due.clear();
        due.append(&mut self.due);
        self.due = due;
    }

    /// Carries out the queued commands. When the front end has dropped its
    /// handle, every client starts closing.
    fn commands(&mut self) {
        loop {
            let next = match self.early.take() {
                Some(cmd) => Ok(cmd),
                None => self.rx.try_recv(),
            };
            match next {
                Ok(Cmd::To(id, msg)) => self.command(id, msg),
                Ok(Cmd::Open(id, open)) => self.open(id, *open),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    if !self.hanging_up {
                        self.hanging_up = true;
                        for id in 0..self.clients.len() {
                            self.command(id as ClientId, ToNet::Close);
                        }
                    }
                    return;
                }
            }
        }
    }

    fn command(&mut self, id: ClientId, msg: ToNet) {
        let mut cx = Cx {
            poller: &self.poller,
            flow: &mut self.flow,
            woken: &self.woken,
        };
        match self.clients.get_mut(id as usize) {
            Some(Some(c)) => {
                if matches!(msg, ToNet::Close) && c.done() {
                    return;
                }
                c.command(msg, &mut cx);
                self.enqueue(id);
            }
            _ => {
                cx.flow.serve(id);
                if let Some(e) = reconnect::reject(msg, "no such client") {
                    cx.flow.push(e);
                }
            }
        }
    }

    /// A new client, served from this turn on.
    fn open(&mut self, id: ClientId, (target, options): (Target, Options)) {
        let at = id as usize;
        if self.clients.len() <= at {
            self.clients.resize_with(at + 1, || None);
        }
        if self.clients[at].is_some() {
            return;
        }
        let config = WebSocketConfig::default().read_buffer_size(SMALL_READ_BUFFER);
        self.clients[at] = Some(Client::new(id, target, options, Some(config)));
        self.enqueue(id);
        if self.hanging_up {
            self.command(id, ToNet::Close);
        }
    }

    /// Hands the batch over if a slot is free, and applies a pause or its
    /// end to every client; false if nobody listens any more.
    fn deliver(&mut self) -> bool {
        let was_paused = self.flow.paused();
        match self.flow.deliver() {
            Delivery::Handed { resumed } => {
                // Reply timeouts do not count the pause; sockets muted
                // during it, or with frames left unread, are read again.
                if let Some(paused) = resumed {
                    let mut to_read = Vec::new();
                    for (id, c) in self.clients.iter_mut().enumerate() {
                        if let Some(c) = c {
                            c.resumed(paused);
                            if c.to_read() {
                                to_read.push(id as ClientId);
                            }
                        }
                    }
                    // Served next turn, whose batch carries what they read:
                    // read now, it would wait in this one, undelivered.
                    for id in to_read {
                        self.enqueue(id);
                    }
                }
                true
            }
            Delivery::Paused => {
                if !was_paused {
                    for c in self.clients.iter_mut().flatten() {
                        c.pause_began();
                    }
                }
                true
            }
            Delivery::Closed => false,
        }
    }

    /// Waits up to `SPIN` for the front end's next command without
    /// sleeping; true if one came (it is in `early`).
    fn spin_for_command(&mut self) -> bool {
        let until = Instant::now() + SPIN;
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => {
                    self.early = Some(cmd);
                    return true;
                }
                Err(TryRecvError::Empty) if Instant::now() < until => std::hint::spin_loop(),
                Err(_) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_sleeps_until_the_earliest_deadline_unless_frames_wait() {
        let now = Instant::now();
        let soon = now + Duration::from_millis(5);
        assert_eq!(
            sleep_for(Some(soon), false, now),
            Some(Duration::from_millis(5))
        );
        assert_eq!(sleep_for(Some(soon), true, now), Some(Duration::ZERO));
        assert_eq!(sleep_for(None, false, now), None);
        // A deadline already past: no sleep.
        assert_eq!(sleep_for(Some(now), false, soon), Some(Duration::ZERO));
    }
}

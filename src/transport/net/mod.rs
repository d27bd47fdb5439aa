//! The network thread: the one thread that owns the socket and the
//! `Session` after connecting; nothing else touches either.
//!
//! It blocks in `poll` on the socket and on a waker, so a queued command
//! goes on the wire at once, a frame is handled as soon as it arrives, and
//! heartbeats and reply timeouts are deadlines in the same loop. It does no
//! formatting: it reports `Event`s through the `emit` callback, in batches
//! (one per wake-up), so a flood costs one hand-over per batch rather than
//! one per frame.
//!
//! The `Session` outlives each socket: when one drops, the thread reconnects
//! with the JS client's backoff (docs/PROTOCOL.md §5), holding commands typed
//! meanwhile, and rejoins every topic with its payload (`channel.rs` has the
//! rules). A heartbeat left unanswered until the next one is due closes the
//! socket as dead.
//!
//! The state is split as a thread serving many connections would need it:
//! this file holds the loop's own (poller, command queue) and drives it;
//! `flow` the batches to the front end and their credits; `conn` one
//! connection (session, open socket, timers); `reconnect` its schedule
//! between sockets. Opening a socket is `transport::websocket` or
//! `transport::longpoll`.

mod conn;
mod flow;
mod reconnect;

use std::io::{self, ErrorKind};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use polling::{Events, PollMode, Poller};
use url::Url;

use self::conn::{Conn, Ending, Link};
use self::flow::{Credits, Delivery, Flow};
use self::reconnect::{Next, tries};
use crate::core::event::{ClientId, Event, ToNet};
use crate::core::protocol::Vsn;
use crate::transport::fresh::{self, Fresh, FreshError, Running, Slot};
use crate::transport::longpoll::{self, LongPollError};
use crate::transport::tls::Trust;
use crate::transport::websocket::{self, ConnectError, Socket, tcp_of};

/// After a reply to a command, how long the network thread spins waiting
/// for the next command before it sleeps. A script that waits for each
/// reply sends its next line within microseconds; a sleeping thread would
/// need a wake-up for it, which costs tens of microseconds on an idle VM.
/// With a single CPU there is no spinning: it would hold up the very thread
/// that is to send the command.
const SPIN: Duration = Duration::from_micros(100);
const SOCKET_KEY: usize = 1;

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
}

/// Why opening a socket failed, whichever the transport.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error(transparent)]
    WebSocket(#[from] ConnectError),
    #[error(transparent)]
    LongPoll(#[from] LongPollError),
}

/// Opens a socket to `target`: a WebSocket, or for an `http(s)://` URL a
/// long-poll session bridged to one.
fn open(target: &Target, timeout: Duration) -> Result<Socket, OpenError> {
    let (url, headers, trust) = (&target.url, &target.headers, &target.trust);
    Ok(match longpoll::endpoint(url) {
        Some(lp) => longpoll::connect(&lp, headers, trust, timeout)?,
        None => websocket::connect(url, headers, trust, timeout)?,
    })
}

/// How one attempt to connect went.
enum Attempt {
    /// Boxed: a socket is large, and this is once per connection.
    Open(Box<Socket>),
    Failed(String),
    /// The front end asked to close while the credentials were fetched.
    Closed,
}

/// How a wait between connections ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// The time was up.
    Due,
    /// What it waited for is ready.
    Ready,
    /// The front end asked to close.
    Closed,
}

/// The front ends' side of the network thread.
pub struct Handle {
    tx: Sender<ToNet>,
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
    /// it has ended, or if there is no such client.
    pub fn send_to(&self, client: ClientId, msg: ToNet) -> bool {
        if client != 0 {
            return false;
        }
        let ok = self.tx.send(msg).is_ok();
        if ok {
            let _ = self.poller.notify();
        }
        ok
    }

    /// Opens another client: a socket of its own to `target`, with its own
    /// session, heartbeats and reconnects, served by the same thread. Its
    /// events follow an `Event::Client(client)`. False if the thread has
    /// ended.
    pub fn open(&self, client: ClientId, target: Target, options: Options) -> bool {
        let _ = (client, target, options);
        false
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

    /// Waits for the network thread to end.
    pub fn join(mut self) {
        // Free every slot: the thread may be waiting to hand over its last
        // event, which nobody will read now.
        drop(self.credits);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the network thread, which connects to `target` and then serves
/// the socket. `emit` receives every event, in order and in batches, and
/// returns false when nobody listens any more.
pub fn start(
    target: Target,
    options: Options,
    emit: impl FnMut(Vec<Event>) -> bool + Send + 'static,
) -> io::Result<Handle> {
    let poller = Arc::new(Poller::new()?);
    let (tx, rx) = mpsc::channel();
    let (flow, credits) = flow::channel(Box::new(emit));
    let net = Net {
        poller: Arc::clone(&poller),
        rx,
        early: None,
        may_spin: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        flow,
        conn: Conn::new(options),
    };
    let thread = std::thread::Builder::new()
        .name("network".into())
        .spawn(move || net.run(&target))?;
    Ok(Handle {
        tx,
        poller,
        credits,
        thread: Some(thread),
    })
}

/// The network thread's state: the loop's own, and the one connection it
/// serves. The socket itself lives in a `Link` while it is open, so a
/// reconnect serves a new one with the same session.
struct Net {
    poller: Arc<Poller>,
    rx: Receiver<ToNet>,
    /// A command taken off the queue while spinning, to run first.
    early: Option<ToNet>,
    /// There is more than one CPU: spinning cannot hold up the front end.
    may_spin: bool,
    flow: Flow,
    conn: Conn,
}

impl Net {
    /// Connects, serves the socket, and reconnects with the JS client's
    /// backoff when it drops (docs/PROTOCOL.md §5), until the front end closes
    /// it or the retry budget is spent. The session outlives each socket,
    /// so channels are rejoined with their payloads after a reconnect.
    ///
    /// The loop sees a transport only through `open` and `serve_socket`
    /// (frames in and out, and how it ended); another transport can take
    /// their place without touching the session or the reconnect logic.
    fn run(mut self, target: &Target) {
        loop {
            let (ending, was_open, error) = match self.attempt(target) {
                Attempt::Open(ws) => {
                    self.conn.schedule.up(Instant::now());
                    self.flow.push(Event::Connected);
                    self.conn.session.reconnected(Instant::now());
                    let mut ending = self.serve_socket(*ws);
                    if ending.code == Some(longpoll::CLOSE_ERROR)
                        && longpoll::endpoint(&target.url).is_some()
                    {
                        // The long-poll bridge's code for a failed request,
                        // not the server's: a lost connection.
                        ending.code = None;
                    }
                    (ending, true, None)
                }
                Attempt::Failed(e) if !self.conn.schedule.opened && !self.conn.options.retry => {
                    self.flow.push(Event::ConnectFailed(e));
                    self.flow.deliver_last();
                    return;
                }
                Attempt::Failed(e) => (Ending::lost(e.clone()), false, Some(e)),
                Attempt::Closed => return self.finish(Ending::closed_by_client(), false),
            };
            let again = self.conn.schedule.again(ending.by_client);
            self.conn.schedule.down();
            if was_open {
                self.disconnected(&ending, again);
            }
            if !again {
                self.finish(ending, was_open);
                return;
            }
            match self.conn.schedule.next(error, Instant::now()) {
                Next::GiveUp { max, error } => return self.give_up(max, error),
                Next::Retry {
                    attempt,
                    delay,
                    error,
                    repeated,
                    first,
                    at,
                } => {
                    self.flow.push(Event::Reconnecting {
                        attempt,
                        delay,
                        error,
                        repeated,
                        first,
                    });
                    if self.wait_offline(at, || false) == Waited::Closed {
                        return self.finish(Ending::closed_by_client(), false);
                    }
                }
            }
        }
    }

    /// One attempt: fresh credentials first, if any, then the socket.
    fn attempt(&mut self, target: &Target) -> Attempt {
        if target.fresh.sources.is_empty() {
            return match open(target, self.conn.options.timeout) {
                Ok(ws) => Attempt::Open(Box::new(ws)),
                Err(e) => Attempt::Failed(e.to_string()),
            };
        }
        let values = match self.fetch(&target.fresh.sources) {
            Ok(Some(values)) => values,
            Ok(None) => return Attempt::Closed,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        // Learnt before anything can print them.
        fresh::learn(&mut target.fresh.redactor.clone(), &values);
        let (url, headers) = fresh::apply(&target.url, &target.headers, &values);
        let fetched = Target {
            url,
            headers,
            trust: target.trust.clone(),
            fresh: Fresh::default(),
        };
        match open(&fetched, self.conn.options.timeout) {
            Ok(ws) => Attempt::Open(Box::new(ws)),
            Err(e) => Attempt::Failed(e.to_string()),
        }
    }

    /// Runs the credential commands, all at once, each off this thread,
    /// while serving what is served offline. Their values in order; `None`
    /// if the front end asked to close; the first error otherwise. The
    /// commands still running at the deadline or after an error are killed.
    fn fetch(
        &mut self,
        sources: &[fresh::Source],
    ) -> Result<Option<Vec<(Slot, String)>>, FreshError> {
        let timeout = self.conn.options.timeout;
        let until = Instant::now() + timeout;
        let mut running: Vec<Running> = Vec::with_capacity(sources.len());
        for source in sources {
            let poller = Arc::clone(&self.poller);
            running.push(source.start(move || {
                let _ = poller.notify();
            })?);
        }
        let mut values: Vec<Option<String>> = vec![None; sources.len()];
        let mut failed = None;
        let waited = self.wait_offline(until, || {
            for (i, run) in running.iter().enumerate() {
                if values[i].is_none() {
                    match run.poll() {
                        Some(Ok(v)) => values[i] = Some(v),
                        Some(Err(e)) => failed = Some(e),
                        None => {}
                    }
                }
            }
            failed.is_some() || values.iter().all(Option::is_some)
        });
        // Kills whatever still runs.
        drop(running);
        if let Some(e) = failed {
            return Err(e);
        }
        match waited {
            Waited::Closed => Ok(None),
            Waited::Ready => Ok(Some(
                sources
                    .iter()
                    .zip(values)
                    .map(|(s, v)| (s.slot.clone(), v.unwrap_or_default()))
                    .collect(),
            )),
            Waited::Due => {
                let late = sources.iter().zip(&values).find(|(_, v)| v.is_none());
                Err(late.map_or(sources[0].timed_out(timeout), |(s, _)| s.timed_out(timeout)))
            }
        }
    }

    /// The open socket ended: said first, before the requests it left
    /// unanswered; when no reconnect follows, `Closed` ends it without a
    /// line.
    fn disconnected(&mut self, ending: &Ending, again: bool) {
        self.flow.push(Event::Disconnected {
            code: ending.code,
            reason: ending.reason.clone(),
            by_client: ending.by_client || ending.dead_peer,
        });
        self.conn.session.transport_closed(Instant::now());
        if !again {
            // No channel is coming back: "rejoins once reconnected" would
            // be untrue.
            self.conn.session.take_transitions();
        }
        let _ = self.conn.settle(None, &mut self.flow);
    }

    /// The retry budget is spent: after an open connection, it ends; before
    /// one, the last error is fatal.
    fn give_up(&mut self, max: u32, error: Option<String>) {
        let tries = tries(max);
        if self.conn.schedule.opened {
            let ending = Ending::lost(format!("gave up after {max} reconnect {tries}"));
            self.finish(ending, false);
        } else {
            let last = error.unwrap_or_default();
            self.flow.push(Event::ConnectFailed(format!(
                "{last} (gave up after {max} more {tries})"
            )));
            self.flow.deliver_last();
        }
    }

    /// Reports the end of the connection (the last event) and stops;
    /// `reported` when a `Disconnected` event already told how it ended.
    fn finish(&mut self, ending: Ending, reported: bool) {
        // Commands still held will never run.
        for msg in self.conn.offline.take() {
            if let Some(rejected) = reconnect::reject(msg, "the connection is closed") {
                self.flow.push(rejected);
            }
        }
        self.flow.push(Event::Closed {
            code: ending.code,
            reason: ending.reason,
            by_client: ending.by_client || ending.dead_peer,
            lost: !ending.by_client,
            reported,
        });
        self.flow.deliver_last();
    }

    /// Hands the batch over if a slot is free, and applies a pause or its
    /// end to the connection; false if nobody listens any more.
    fn deliver(&mut self) -> bool {
        match self.flow.deliver() {
            Delivery::Handed { resumed } => {
                // Reply timeouts do not count the pause.
                if let Some(paused) = resumed {
                    self.conn.session.postpone(paused);
                }
                true
            }
            Delivery::Paused => {
                // The pause takes over from the backlog (see `Conn::read`).
                if let Some(since) = self.conn.backlog.take() {
                    self.conn.session.postpone(since.elapsed());
                }
                self.conn.paused_since_beat = true;
                true
            }
            Delivery::Closed => false,
        }
    }

    /// Between connections: answers what can be answered, holds commands
    /// for the next socket, and drops held ones past their deadline, until
    /// `until` or until `ready` (asked after each wake-up) says yes.
    fn wait_offline(&mut self, until: Instant, mut ready: impl FnMut() -> bool) -> Waited {
        let mut events = Events::new();
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(ToNet::Close) | Err(TryRecvError::Disconnected) => return Waited::Closed,
                    Ok(msg) => self.conn.command_offline(msg, &mut self.flow),
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.conn.expire_offline(now, &mut self.flow);
            let _ = self.conn.settle(None, &mut self.flow);
            if !self.deliver() {
                return Waited::Closed;
            }
            if ready() {
                return Waited::Ready;
            }
            if now >= until {
                return Waited::Due;
            }
            let deadline = [
                Some(until),
                self.conn.offline.next_deadline(),
                // Pushes held for a topic give up on time, offline too.
                self.conn.session.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(until);
            events.clear();
            let timeout = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = self.poller.wait(&mut events, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                return Waited::Due;
            }
        }
    }

    /// Serves one open socket until it ends.
    fn serve_socket(&mut self, ws: Socket) -> Ending {
        let mut link = Link::new(ws, self.conn.options.heartbeat);
        let Some(tcp) = tcp_of(&link.ws) else {
            return Ending::lost("unsupported stream".into());
        };
        // SAFETY: the socket is deleted from the poller below, before
        // `link` (and the socket in it) is dropped.
        let added = unsafe {
            self.poller
                .add_with_mode(tcp, polling::Event::readable(SOCKET_KEY), PollMode::Level)
        };
        if let Err(e) = added {
            return Ending::lost(format!("cannot watch the socket: {e}"));
        }
        let Err(ending) = self.serve(&mut link);
        if let Some(tcp) = tcp_of(&link.ws) {
            let _ = self.poller.delete(tcp);
        }
        ending
    }

    /// The loop around one open socket: commands, reading, timers, the
    /// hand-over, then a wait in the poller. Returns only how it ended.
    fn serve(&mut self, link: &mut Link) -> Result<std::convert::Infallible, Ending> {
        let mut events = Events::new();
        let mut interest = polling::Event::readable(SOCKET_KEY);
        self.conn.opened(link, &mut self.flow)?;
        loop {
            // Commands first: they go out before we block again.
            if link.closing.is_none() {
                self.commands(link)?;
            }
            let want_write = link.flush()?;
            let read = self.conn.read(link, &mut self.flow)?;
            if self.conn.timers(link, Instant::now(), &mut self.flow)? {
                continue; // a heartbeat went out: flush it before blocking
            }

            let echo_hold = self.flow.hold_echoes(Instant::now());
            if echo_hold.is_none() && !self.deliver() {
                return Err(Ending::output_closed());
            }
            let paused = self.flow.paused();
            let deadline = self
                .conn
                .deadline(link, paused)
                .into_iter()
                .chain(echo_hold)
                .min();
            // Frames written since the flush above (rejoins, requests
            // released by a join reply) must go out before we block.
            let want_write = want_write || link.flush()?;
            let wanted = polling::Event::new(SOCKET_KEY, !paused, want_write);
            if (wanted.readable, wanted.writable) != (interest.readable, interest.writable)
                && let Some(tcp) = tcp_of(&link.ws)
                && self
                    .poller
                    .modify_with_mode(tcp, wanted, PollMode::Level)
                    .is_ok()
            {
                interest = wanted;
            }
            events.clear();
            let timeout = if read.drained || paused {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if timeout != Some(Duration::ZERO)
                && std::mem::take(&mut self.conn.answered)
                && self.may_spin
                && link.closing.is_none()
                && self.spin_for_command()
            {
                continue;
            }
            if let Err(e) = self.poller.wait(&mut events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                return Err(Ending::lost(format!("poll failed: {e}")));
            }
        }
    }

    /// Carries out the queued commands; on `Close` (or a front end that is
    /// gone) starts closing the socket.
    fn commands(&mut self, link: &mut Link) -> Result<(), Ending> {
        loop {
            let next = match self.early.take() {
                Some(msg) => Ok(msg),
                None => self.rx.try_recv(),
            };
            match next {
                Ok(ToNet::Close) | Err(TryRecvError::Disconnected) => {
                    link.close();
                    return Ok(());
                }
                Ok(msg) => self.conn.command(&mut link.ws, msg, &mut self.flow)?,
                Err(TryRecvError::Empty) => return Ok(()),
            }
        }
    }

    /// Waits up to `SPIN` for the front end's next command without
    /// sleeping; true if one came (it is in `early`).
    fn spin_for_command(&mut self) -> bool {
        let until = Instant::now() + SPIN;
        loop {
            match self.rx.try_recv() {
                Ok(msg) => {
                    self.early = Some(msg);
                    return true;
                }
                Err(TryRecvError::Empty) if Instant::now() < until => std::hint::spin_loop(),
                Err(_) => return false,
            }
        }
    }
}

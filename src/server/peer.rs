//! One connection of the built-in server: the thread that owns its
//! WebSocket from the accepted upgrade to the close (the handshake is
//! `handshake.rs`'s, and `longpoll.rs` bridges its sessions in here).
//!
//! The socket is non-blocking and watched by a `polling::Poller`. Each turn
//! reads what the client sent (answered by `routes.rs`), delivers queued
//! broadcasts, pushes the diffs of LiveView ticks that are due (their next
//! one is a deadline of the wait, like an idle timeout), writes the next
//! batch of any `flood:N` pushes and flushes. Writes that would block stay
//! in tungstenite's buffer; the loop then also waits for writability and
//! generates no more flood frames until the buffer drains, which keeps
//! memory flat however slowly the client reads.
//!
//! Broadcasts from other connections are queued in this one's mailbox.
//! The socket and the channel state that decides whether a broadcast still
//! goes out are a [`Link`] behind a lock, which the loop holds for its
//! whole turn and releases while it sleeps: the registry's flusher, when
//! it finds it free, puts the queue in the socket's write buffer, in
//! order, and writes it out (`registry::Deliver`); only a connection
//! whose own thread holds it, or whose mailbox holds more than a turn's
//! worth, is woken. The client sees what it would see if its own thread
//! had written the broadcasts between two turns.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use polling::{Event, Events, PollMode, Poller};
use tungstenite::{Error, Message, WebSocket};

use super::absinthe;
use super::connect::{ConnectInfo, Mount};
use super::flood::FloodRun;
use super::graphql::RootField;
use super::hub::Server;
use super::link::{Ended, Link, lock};
use super::live::Views;
use super::registry::{Broadcast, Deliver, Mailbox, wire_message};
use super::routes::{self, Action, Connection};
use super::stream::ServerStream;
use crate::core::presence::{PRESENCE_DIFF, PRESENCE_STATE};
use crate::core::protocol::{self, Frame, Side};

/// The poller key of the socket (the only source; notify needs none).
const SOCKET: usize = 0;
/// Flood frames written per turn, so a flood still lets the loop read and
/// answer the client (heartbeats, pushes) between batches.
const FLOOD_BATCH: u64 = 4096;
/// Client messages handled per turn, so a chatty client cannot starve its
/// own flood or the broadcasts queued for it.
const READ_BUDGET: usize = 1024;

/// Serves a WebSocket whose upgrade was accepted, until it closes; also
/// the server end of each long-poll session.
pub fn serve_upgraded(
    ws: WebSocket<ServerStream>,
    connect: ConnectInfo,
    peer: SocketAddr,
    id: u64,
    server: &Server,
) {
    server.log(format_args!("{peer} connected"));
    // Presence is keyed by the `user` connect param, or a generated id.
    let user = connect.user.clone().unwrap_or_else(|| format!("user-{id}"));
    // What connect_info exposes, for the `connect_info` event of room:*.
    let mut info = String::from("{\"auth_token\":");
    protocol::push_opt_str(&mut info, connect.auth_token.as_deref());
    info.push_str(",\"user\":");
    protocol::push_json_str(&mut info, &user);
    info.push_str(",\"vsn\":");
    protocol::push_json_str(&mut info, connect.vsn.as_param());
    info.push('}');
    let reason = match Conn::new(ws, &connect, user, protocol::raw(info), peer, id, server) {
        Ok(mut conn) => conn.run(),
        Err(e) => Ended::Setup(e),
    };
    server.log(format_args!("{peer} disconnected: {reason}"));
}

/// What follows a turn.
enum Next {
    /// Work is left: another turn at once.
    Turn,
    /// Sleep until woken, or until the deadline if there is one.
    Sleep(Option<Instant>),
}

struct Conn<'s> {
    server: &'s Server,
    peer: SocketAddr,
    id: u64,
    /// This connection's presence key.
    user: String,
    poller: Arc<Poller>,
    /// Given to the registry so other connections can queue broadcasts.
    mailbox: Arc<Mailbox>,
    link: Arc<Mutex<Link>>,
    floods: VecDeque<FloodRun>,
    /// The read budget ran out with input left, so the next turn must not
    /// wait.
    more_input: bool,
    /// What the poller watches the socket for (readable, writable). Level
    /// triggered, it holds across sleeps, so it is changed only when it
    /// must be: one system call less per sleep.
    watching: (bool, bool),
    /// When a frame last came from the client (idle timeout, docs/PROTOCOL.md §4).
    last_seen: Instant,
    /// Replies to send later (`slow`), in due order.
    later: Vec<(Instant, Frame)>,
    /// The server's restart generation when this connection opened.
    generation: u64,
}

impl<'s> Conn<'s> {
    fn new(
        ws: WebSocket<ServerStream>,
        connect: &ConnectInfo,
        user: String,
        connect_info: Box<serde_json::value::RawValue>,
        peer: SocketAddr,
        id: u64,
        server: &'s Server,
    ) -> io::Result<Conn<'s>> {
        let (vsn, mount) = (connect.vsn, connect.mount);
        let mut channels = Connection::with_vsn(vsn)
            .with_connect_info(connect_info)
            .with_mount(mount);
        if mount == Mount::Live {
            let (cookie, csrf) = (connect.cookie.clone(), connect.csrf_token.clone());
            channels = channels.with_live(Views::new(Arc::clone(&server.live), cookie, csrf));
        }
        let stream = ws.get_ref().tcp();
        stream.set_read_timeout(None)?;
        stream.set_write_timeout(None)?;
        stream.set_nonblocking(true)?;
        // Replies are small and awaited one by one; don't let Nagle hold them.
        stream.set_nodelay(true)?;
        let poller = Arc::new(Poller::new()?);
        // SAFETY: the stream lives in `ws`, which `Conn` owns; `Drop for
        // Conn` deletes it from the poller before `ws` is dropped. If
        // building `Conn` could fail after this line the stream would leak
        // from the poller, so nothing fallible follows.
        unsafe { poller.add_with_mode(stream, Event::readable(SOCKET), PollMode::Level)? };
        server.watch(id, &poller);
        let (queue, inbox) = mpsc::channel();
        let link = Arc::new(Mutex::new(Link {
            ws,
            vsn,
            channels,
            inbox,
            write_blocked: false,
            more_inbox: false,
            closing: None,
            stalled_until: None,
            failed: None,
        }));
        let writer = Arc::clone(&link) as Arc<dyn Deliver>;
        let mailbox = Arc::new(Mailbox::new(queue, Arc::clone(&poller), writer));
        Ok(Conn {
            server,
            peer,
            id,
            user,
            poller,
            mailbox,
            link,
            floods: VecDeque::new(),
            more_input: false,
            watching: (true, false),
            last_seen: Instant::now(),
            later: Vec::new(),
            generation: server.generation.load(Ordering::SeqCst),
        })
    }

    /// Runs the connection to its end: each turn holds the link, each
    /// sleep lets it go so that senders can write broadcasts themselves.
    fn run(&mut self) -> Ended {
        let mut events = Events::new();
        let link = Arc::clone(&self.link);
        loop {
            let next = {
                let mut l = lock(&link);
                match self.turn(&mut l).and_then(|()| self.arm(&mut l)) {
                    Ok(next) => next,
                    Err(ended) => return ended,
                }
            };
            if let Next::Sleep(deadline) = next
                && let Err(ended) = self.sleep(&mut events, deadline)
            {
                return ended;
            }
        }
    }

    /// One pass over everything that may have work.
    fn turn(&mut self, l: &mut Link) -> Result<(), Ended> {
        if let Some(ended) = l.failed.take() {
            return Err(ended);
        }
        if let Some(until) = l.stalled_until {
            if Instant::now() < until {
                return Ok(());
            }
            l.stalled_until = None;
            self.last_seen = Instant::now();
        }
        if l.closing.is_none() && self.server.generation.load(Ordering::SeqCst) != self.generation {
            self.later.clear();
            self.start_close(l, 1012, "restart", "server restart".to_owned())?;
        }
        if l.write_blocked {
            l.flush()?;
        }
        self.read_input(l)?;
        if l.stalled_until.is_some() {
            return Ok(());
        }
        if l.closing.is_none() {
            l.deliver_broadcasts()?;
            // LiveView timers (the counter's tick).
            for frame in l.channels.live_due(Instant::now) {
                self.send_frame(l, &frame)?;
            }
            if !l.write_blocked {
                self.pump_flood(l)?;
            }
        }
        l.flush()?;
        self.check_deadlines(l)
    }

    /// Sets what wakes the next sleep: the socket (readable, or writable
    /// when writes are pending), a notify, or the deadline.
    fn arm(&mut self, l: &mut Link) -> Result<Next, Ended> {
        if let Some(until) = l.stalled_until {
            // Deaf and mute: only the end of the stall wakes us.
            self.watch(l, Event::none(SOCKET))?;
            return Ok(Next::Sleep(Some(until)));
        }
        let flooding = !self.floods.is_empty() && !l.write_blocked && l.closing.is_none();
        if self.more_input || l.more_inbox || flooding {
            return Ok(Next::Turn);
        }
        // Input was read to the end, so readable means new bytes.
        self.watch(l, Event::new(SOCKET, true, l.write_blocked))?;
        Ok(Next::Sleep(self.deadline(l)))
    }

    /// Watches the socket for `interest` from now on, if it changed.
    fn watch(&mut self, l: &Link, interest: Event) -> Result<(), Ended> {
        let wanted = (interest.readable, interest.writable);
        if self.watching != wanted {
            self.poller
                .modify_with_mode(l.ws.get_ref().tcp(), interest, PollMode::Level)
                .map_err(Ended::PollFailed)?;
            self.watching = wanted;
        }
        Ok(())
    }

    /// Sleeps until the socket is ready, a notify, or `deadline`.
    fn sleep(&self, events: &mut Events, deadline: Option<Instant>) -> Result<(), Ended> {
        events.clear();
        let waited = match deadline {
            Some(deadline) => self.poller.wait_deadline(events, deadline),
            None => self.poller.wait(events, None),
        };
        match waited {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(Ended::PollFailed(e)),
        }
    }

    fn deadline(&self, l: &Link) -> Option<Instant> {
        let later = self.later.first().map(|(at, _)| *at);
        match &l.closing {
            Some((at, _)) => Some(*at),
            // None when the timeout is too large to add: no idle deadline.
            None => [self.idle_deadline(), later, l.channels.live_deadline()]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        self.last_seen.checked_add(self.server.options.idle_timeout)
    }

    /// Sends the delayed replies that are due.
    fn send_due(&mut self, l: &mut Link) -> Result<(), Ended> {
        let now = Instant::now();
        let due = self.later.partition_point(|(at, _)| *at <= now);
        for (_, frame) in self.later.drain(..due).collect::<Vec<_>>() {
            self.send_frame(l, &frame)?;
        }
        Ok(())
    }

    fn check_deadlines(&mut self, l: &mut Link) -> Result<(), Ended> {
        if l.closing.is_none() && !self.later.is_empty() {
            self.send_due(l)?;
            l.flush()?;
        }
        let deadline = match &l.closing {
            Some((at, _)) => *at,
            None => match self.idle_deadline() {
                Some(d) => d,
                None => return Ok(()),
            },
        };
        if Instant::now() < deadline {
            return Ok(());
        }
        match &l.closing {
            Some((_, reason)) => Err(Ended::NoCloseReply(reason.clone())),
            None => {
                self.start_close(l, 1000, "idle timeout", "idle timeout".to_owned())?;
                l.flush()
            }
        }
    }

    /// Reads and handles what the client sent, up to the budget.
    fn read_input(&mut self, l: &mut Link) -> Result<(), Ended> {
        self.more_input = false;
        for _ in 0..READ_BUDGET {
            if l.stalled_until.is_some() {
                return Ok(());
            }
            let message = match l.ws.read() {
                Ok(message) => message,
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => {
                    return Err(l.gone(Ended::ConnectionClosed));
                }
                Err(e) => return Err(l.gone(Ended::ReadFailed(e))),
            };
            // Any frame counts as activity, heartbeats and pings included.
            self.last_seen = Instant::now();
            match message {
                // After our close only the client's close reply matters.
                Message::Text(text) if l.closing.is_none() => {
                    let actions = l.channels.handle_text(&text);
                    self.apply(l, actions)?;
                }
                Message::Binary(data) if l.closing.is_none() => {
                    let actions = l.channels.handle_binary(&data);
                    self.apply(l, actions)?;
                }
                Message::Close(frame) => {
                    // tungstenite queued the close reply; send it if we can.
                    let _ = l.ws.flush();
                    return Err(l.gone(Ended::ByClient(frame)));
                }
                // Pongs are queued by tungstenite itself and go out with the
                // next flush.
                _ => {}
            }
        }
        self.more_input = true;
        Ok(())
    }

    /// Carries out what `routes.rs` decided, in order.
    fn apply(&mut self, l: &mut Link, actions: Vec<Action>) -> Result<(), Ended> {
        for action in actions {
            match action {
                // A channel handles one message at a time: while a `slow`
                // reply is pending, what the channel sends next waits
                // behind it (heartbeats, answered by the socket, do not).
                Action::Send(frame) => match self.busy_until(&frame.topic) {
                    Some(at) => self.send_at(at, frame),
                    None => self.send_frame(l, &frame)?,
                },
                Action::Broadcast(frame) => {
                    let topic = frame.topic.clone();
                    let broadcast = Arc::new(Broadcast::new(frame));
                    self.server.registry.broadcast(&topic, self.id, &broadcast);
                    // Our own copy goes out now, so it precedes the reply.
                    if let Some(message) = broadcast.message(l.vsn) {
                        l.send(message)?;
                    }
                }
                Action::Subscribe(topic) => {
                    self.server
                        .registry
                        .subscribe(&topic, self.id, &self.mailbox);
                }
                Action::Unsubscribe(topic) => self.server.registry.unsubscribe(&topic, self.id),
                Action::SendLater(delay, frame) => {
                    let start = self.busy_until(&frame.topic).unwrap_or_else(Instant::now);
                    self.send_at(start + delay, frame);
                }
                Action::Flood(spec) => self.floods.push_back(FloodRun::new(spec)),
                Action::Stall(d) => {
                    // What was queued before (the reply) still goes out.
                    l.flush()?;
                    l.stalled_until = Some(Instant::now() + d);
                    return Ok(());
                }
                Action::Restart(down) => self.server.restart(down),
                Action::Track { topic, join_ref } => {
                    let (state, diff) = self.server.presence.track(&topic, &self.user, self.id);
                    // As an app's `:after_join` does: `Presence.track`
                    // broadcasts the join to everyone, then the list (with
                    // us in it) is pushed to us (the order in Phoenix's
                    // transcripts).
                    self.broadcast_join(l, &topic, diff)?;
                    let state = Frame::new(
                        join_ref.as_deref(),
                        None,
                        &topic,
                        PRESENCE_STATE,
                        protocol::raw(state),
                    );
                    self.send_frame(l, &state)?;
                }
                Action::Untrack(topic) => self.untrack(&topic),
                Action::GqlSubscribe {
                    join_ref,
                    to,
                    subscription,
                } => {
                    let id = self
                        .server
                        .gql
                        .subscribe(self.id, &self.mailbox, subscription);
                    l.channels.add_subscription(id.clone());
                    let response = serde_json::json!({ "subscriptionId": id }).to_string();
                    let reply = routes::reply_frame(join_ref.as_deref(), &to, "ok", &response);
                    self.send_frame(l, &reply)?;
                }
                Action::GqlMutate {
                    join_ref,
                    to,
                    fields,
                } => self.mutate(l, join_ref.as_deref(), &to, &fields)?,
                Action::Notify(topic) => {
                    let frame = Frame::new(None, None, &topic, "changed", protocol::empty_object());
                    let broadcast = Arc::new(Broadcast::new(frame));
                    self.server.registry.broadcast(&topic, self.id, &broadcast);
                }
                Action::GqlEnd(ids) => {
                    for id in ids {
                        self.server.gql.unsubscribe(self.id, &id);
                    }
                }
                Action::Close {
                    code,
                    reason,
                    detail,
                } => return self.start_close(l, code, reason, format!("{reason}: {detail}")),
            }
        }
        Ok(())
    }

    /// Runs a mutation: each message is published (to this socket's own
    /// subscriptions first, written before the reply, as the resolver
    /// publishes inside the channel before it answers), then the reply.
    fn mutate(
        &mut self,
        l: &mut Link,
        jr: Option<&str>,
        to: &Frame,
        fields: &[RootField],
    ) -> Result<(), Ended> {
        let mut ids = Vec::new();
        for field in fields {
            if let RootField::AddMessage { room, body, .. } = field {
                let (id, own) = self.server.gql.add_message(self.id, room, body);
                for frame in own {
                    self.send_frame(l, &frame)?;
                }
                ids.push(id);
            }
        }
        let response = absinthe::mutation_data(fields, &ids).to_string();
        self.send_frame(l, &routes::reply_frame(jr, to, "ok", &response))
    }

    /// When the last reply the channel on `topic` still owes is due.
    fn busy_until(&self, topic: &str) -> Option<Instant> {
        self.later
            .iter()
            .rev()
            .find(|(_, f)| f.topic.as_str() == topic)
            .map(|(at, _)| *at)
    }

    /// Queues `frame` to go out at `at`, after those due no later.
    fn send_at(&mut self, at: Instant, frame: Frame) {
        let i = self.later.partition_point(|(t, _)| *t <= at);
        self.later.insert(i, (at, frame));
    }

    /// Broadcasts the `presence_diff` of our join to the topic, this
    /// connection included.
    fn broadcast_join(&mut self, l: &mut Link, topic: &str, diff: String) -> Result<(), Ended> {
        let broadcast = presence_diff(topic, diff);
        self.server.registry.broadcast(topic, self.id, &broadcast);
        if let Some(message) = broadcast.message(l.vsn) {
            l.send(message)?;
        }
        Ok(())
    }

    /// Stops tracking us on `topic`. The leave reaches the others from the
    /// registry's own thread, as Phoenix's tracker broadcasts a leave once
    /// it learns that the channel process exited (docs/PROTOCOL.md §6):
    /// a socket that closes does not wait for it.
    fn untrack(&self, topic: &str) {
        if let Some(diff) = self.server.presence.untrack(topic, self.id) {
            let broadcast = presence_diff(topic, diff);
            self.server
                .registry
                .broadcast_later(topic, self.id, broadcast);
        }
    }

    /// Writes the next batch of the first flood, then moves it to the back
    /// so several floods take turns.
    fn pump_flood(&mut self, l: &mut Link) -> Result<(), Ended> {
        let Some(mut run) = self.floods.pop_front() else {
            return Ok(());
        };
        // The channel instance that started it was left, closed, crashed or
        // replaced by a new join: its pushes stop, as its process would.
        if l.channels.instance(&run.spec.topic) != Some(run.spec.instance) {
            return Ok(());
        }
        let mut written = 0;
        while !run.finished() && written < FLOOD_BATCH && !l.write_blocked {
            l.send(Message::text(run.message(l.vsn, run.sent + 1)))?;
            run.sent += 1;
            written += 1;
        }
        if !run.finished() {
            self.floods.push_back(run);
        } else {
            self.send_frame(l, &run.done())?;
        }
        Ok(())
    }

    /// Queues a frame. One that cannot be encoded (binary data to a V1
    /// client) is logged and skipped, not sent half-formed.
    fn send_frame(&self, l: &mut Link, frame: &Frame) -> Result<(), Ended> {
        match l.vsn.encode(frame, Side::Server).map(wire_message) {
            Ok(message) => l.send(message),
            Err(e) => {
                self.server.log(format_args!(
                    "{} not sent to {}: {e}",
                    frame.event, self.peer
                ));
                Ok(())
            }
        }
    }

    /// Sends a close frame and stops everything but waiting for the reply.
    fn start_close(
        &mut self,
        l: &mut Link,
        code: u16,
        reason: &str,
        log: String,
    ) -> Result<(), Ended> {
        self.floods.clear();
        l.start_close(code, reason, log)
    }
}

/// A `presence_diff` broadcast on `topic`.
fn presence_diff(topic: &str, diff: String) -> Arc<Broadcast> {
    let frame = Frame::new(None, None, topic, PRESENCE_DIFF, protocol::raw(diff));
    Arc::new(Broadcast::new(frame))
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        self.server.unwatch(self.id);
        // The control channel dies with the socket, and its subscriptions.
        self.server.gql.end(self.id);
        let l = lock(&self.link);
        for topic in l.channels.topics() {
            self.server.registry.unsubscribe(topic, self.id);
            // The socket is gone, so its presence leaves (to the others).
            self.untrack(topic);
        }
        // Must happen before `ws` (and so the stream) is dropped; see `new`.
        // Senders may still hold the link (through the registry's
        // mailboxes) after this, but never poll it.
        let _ = self.poller.delete(l.ws.get_ref().tcp());
    }
}

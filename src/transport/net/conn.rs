//! One connection: its `Session`, which outlives each socket, the reconnect
//! schedule and commands held while it is down (`reconnect.rs`), and while
//! a socket is open, what serving it needs: reading a batch of frames,
//! carrying out commands, and the timers (heartbeat, rejoins, reply
//! timeouts).
//!
//! It does not block and does not wait: the loop (`net/mod.rs`) owns the
//! poller and the command queue, and decides when to call in. Events go
//! into the loop's [`Flow`], the one batch to the front end.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use data_encoding::HEXLOWER;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Message, WebSocket};

use super::Options;
use super::flow::Flow;
use super::reconnect::{Offline, Schedule};
use crate::core::event::{Event, Status, ToNet};
use crate::core::presence::{PRESENCE_DIFF, PRESENCE_STATE};
use crate::core::protocol::{self, Frame, Side, Vsn, Wire};
use crate::core::session::{Message as PhxMessage, MessageKind, Request, Session};
use crate::transport::websocket::{Counted, Socket, frame_bytes};

/// How long to wait for the server's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames read before looking at commands and timers again, so a flood
/// cannot starve heartbeats or the user's commands.
pub(super) const READ_BATCH: usize = 512;
/// A packed message counts this much less against `READ_BATCH` than an
/// event does.
pub(super) const PACKED_SHARE: usize = 8;
/// A batch also ends once it holds this many bytes of frames, so the
/// batches in flight bound memory however large the server's frames are.
const READ_BATCH_BYTES: usize = 1 << 20;

/// How serving a socket ended.
pub(super) struct Ending {
    pub(super) code: Option<u16>,
    pub(super) reason: String,
    pub(super) by_client: bool,
    /// We closed it because the peer seemed dead (a heartbeat timeout):
    /// closed by the client, yet a reconnect follows.
    pub(super) dead_peer: bool,
}

impl Ending {
    /// The front end closed it between sockets.
    pub(super) fn closed_by_client() -> Ending {
        Ending {
            by_client: true,
            ..Ending::lost(String::new())
        }
    }

    /// Ended without a close frame, for `reason`.
    pub(super) fn lost(reason: String) -> Ending {
        Ending {
            code: None,
            reason,
            by_client: false,
            dead_peer: false,
        }
    }
}

/// A frame this many times the socket's read buffer, or larger, has the
/// socket given a fresh buffer once it holds nothing unread.
const OVERSIZED: usize = 2;

/// The open socket and its timers.
pub(super) struct Link {
    pub(super) ws: Socket,
    /// When the next heartbeat is due.
    pub(super) next_heartbeat: Option<Instant>,
    /// We sent our close frame and wait until then for the server's.
    pub(super) closing: Option<Instant>,
    /// The bytes of the frames read so far, as `frame_bytes` counts them:
    /// never more than tungstenite read, and equal to it only when its
    /// buffer holds nothing.
    consumed: u64,
    /// A frame larger than the read buffer grew it, and it keeps that
    /// capacity until replaced.
    oversized: bool,
}

impl Link {
    pub(super) fn new(ws: Socket, heartbeat: Option<Duration>) -> Link {
        Link {
            ws,
            next_heartbeat: heartbeat.map(|d| Instant::now() + d),
            closing: None,
            consumed: 0,
            oversized: false,
        }
    }

    /// Counts a message read, and notes whether it grew the read buffer.
    fn consumed(&mut self, payload: usize) {
        self.consumed += frame_bytes(payload);
        if payload >= OVERSIZED * self.ws.get_config().read_buffer_size {
            self.oversized = true;
        }
    }

    /// Gives the socket a fresh read buffer after a large frame grew it (a
    /// presence list naming a thousand users is 60 KB; a thousand clients
    /// each keeping such a buffer held 60 MB). Only when nothing is lost:
    /// every byte read is in a frame already handed out, everything
    /// written went out, and the socket is open. Otherwise it waits for a
    /// later read.
    fn renew_buffer(&mut self) {
        if !self.oversized
            || self.closing.is_some()
            || !self.ws.can_write()
            || self.ws.get_ref().bytes_read() != self.consumed
            || self.ws.flush().is_err()
        {
            return;
        }
        let config = *self.ws.get_config();
        let Some(stream) = self.ws.get_mut().take() else {
            return;
        };
        self.ws = WebSocket::from_raw_socket(Counted::new(stream, 0), Role::Client, Some(config));
        self.consumed = 0;
        self.oversized = false;
    }

    /// Sends a normal close frame and starts waiting for the answer.
    pub(super) fn close(&mut self) {
        let _ = self.ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }));
        self.closing = Some(Instant::now() + CLOSE_TIMEOUT);
    }

    /// Pushes out what tungstenite holds; true when the socket cannot take
    /// it all now (then the loop waits for it to be writable).
    pub(super) fn flush(&mut self) -> Result<bool, Ending> {
        match self.ws.flush() {
            Ok(()) => Ok(false),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(failed(e, self.closing.is_some())),
        }
    }
}

/// What reading one batch found.
pub(super) struct Read {
    /// The socket had no more: the next wait may block.
    pub(super) drained: bool,
}

/// One connection.
pub(super) struct Conn {
    pub(super) session: Session,
    pub(super) options: Options,
    pub(super) schedule: Schedule,
    pub(super) offline: Offline,
    /// Reading was paused at some point since the last heartbeat went out,
    /// so its reply may be sitting unread: it cannot count as missed.
    pub(super) paused_since_beat: bool,
    /// Since when every read batch has come back full: the socket holds
    /// more than we have read, and a reply may be waiting in it. Like a
    /// pause, that time does not count against reply timeouts.
    pub(super) backlog: Option<Instant>,
    /// When the last message came in on the socket.
    last_frame: Instant,
    /// A reply to a command arrived since the loop last blocked (see
    /// `SPIN` in `net/mod.rs`).
    pub(super) answered: bool,
}

impl Conn {
    pub(super) fn new(options: Options) -> Conn {
        let now = Instant::now();
        Conn {
            session: Session::new(options.timeout),
            schedule: Schedule::new(options.reconnect, options.retry, options.max_retries, now),
            offline: Offline::new(options.timeout),
            options,
            paused_since_beat: false,
            backlog: None,
            last_frame: now,
            answered: false,
        }
    }

    /// Answers `status`.
    pub(super) fn status(&mut self, id: u64, flow: &mut Flow) {
        let now = Instant::now();
        let s = &self.schedule;
        let status = Status {
            up: s.up_since.map(|t| now.saturating_duration_since(t)),
            session: now.saturating_duration_since(s.started),
            reconnects: s.reconnects,
            next_attempt: s
                .next_attempt
                .map(|(n, at)| (n, at.saturating_duration_since(now))),
            first: !s.opened,
            heartbeat_interval: self.options.heartbeat,
            heartbeat: self.session.heartbeat_stats(now),
            topics: self.session.topic_status(now),
        };
        flow.push(Event::Status {
            id,
            status: Box::new(status),
        });
    }

    /// A command while the socket is down (not `Close`): answered if it
    /// can be, else held for the next socket.
    pub(super) fn command_offline(&mut self, msg: ToNet, flow: &mut Flow) {
        match msg {
            ToNet::Topics { id } => {
                let topics = self.session.topics();
                flow.push(Event::Topics { id, topics });
            }
            ToNet::Status { id } => self.status(id, flow),
            ToNet::Request { id, request } => {
                let now = Instant::now();
                let topic = request_topic(&request);
                if let Request::Leave { topic: Some(t) } = &request {
                    self.session.leave_offline(t, now);
                }
                match self.session.hold(id, request, now) {
                    Ok(()) => flow.push(queued(id, topic, "offline")),
                    Err(request) => {
                        self.hold_offline(id, ToNet::Request { id, request }, now, flow)
                    }
                }
            }
            ToNet::Raw { id, text } => {
                self.hold_offline(id, ToNet::Raw { id, text }, Instant::now(), flow);
            }
            // The client itself carries these out.
            ToNet::Close | ToNet::Retarget { .. } => {}
        }
    }

    /// Holds a command until the socket is open again. It waits for no
    /// topic (`topic: None`), unlike a push held for a rejoin.
    fn hold_offline(&mut self, id: u64, msg: ToNet, now: Instant, flow: &mut Flow) {
        self.offline.hold(msg, now);
        flow.push(queued(id, None, "offline"));
    }

    /// Drops commands held offline, and pushes held for a topic, past
    /// their deadline.
    pub(super) fn expire_offline(&mut self, now: Instant, flow: &mut Flow) {
        for e in self.offline.expire(now) {
            flow.push(e);
        }
        for e in self.session.expire(now) {
            flow.push(Event::TimedOut(e));
        }
    }

    /// Reports what the session changed, and sends pushes it released.
    pub(super) fn settle(
        &mut self,
        ws: Option<&mut Socket>,
        flow: &mut Flow,
    ) -> Result<(), Ending> {
        for t in self.session.take_transitions() {
            flow.push(Event::ChannelState(t));
        }
        for u in self.session.take_unanswered() {
            flow.push(Event::Unanswered(u));
        }
        for d in self.session.take_dropped() {
            flow.push(Event::Rejected {
                id: d.id,
                message: format!("push `{}` to `{}` not sent: {}", d.event, d.topic, d.why),
            });
        }
        let released = self.session.take_released();
        if let Some(ws) = ws {
            for (id, request) in released {
                self.send_request(ws, Some(id), request, Instant::now(), flow)?;
            }
        }
        Ok(())
    }

    /// A socket opened: what was typed while offline goes first, then the
    /// rejoins.
    pub(super) fn opened(&mut self, link: &mut Link, flow: &mut Flow) -> Result<(), Ending> {
        self.paused_since_beat = false;
        self.backlog = None;
        for msg in self.offline.take() {
            self.command(&mut link.ws, msg, flow)?;
        }
        Ok(())
    }

    /// Carries out one command from the front end (not `Close`).
    pub(super) fn command(
        &mut self,
        ws: &mut Socket,
        msg: ToNet,
        flow: &mut Flow,
    ) -> Result<(), Ending> {
        match msg {
            ToNet::Request { id, request } => {
                let now = Instant::now();
                let topic = request_topic(&request);
                match self.session.hold(id, request, now) {
                    Ok(()) => {
                        flow.push(queued(id, topic, "joining"));
                        Ok(())
                    }
                    Err(request) => self.send_request(ws, Some(id), request, now, flow),
                }
            }
            ToNet::Raw { id, text } => {
                write(ws, Message::text(text.clone()))?;
                flow.push(Event::SentRaw { id, text });
                Ok(())
            }
            ToNet::Topics { id } => {
                let topics = self.session.topics();
                flow.push(Event::Topics { id, topics });
                Ok(())
            }
            ToNet::Status { id } => {
                self.status(id, flow);
                Ok(())
            }
            ToNet::Close | ToNet::Retarget { .. } => Ok(()),
        }
    }

    fn send_request(
        &mut self,
        ws: &mut Socket,
        id: Option<u64>,
        request: Request,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), Ending> {
        let auto = matches!(request, Request::Heartbeat { auto: true });
        let cast = matches!(request, Request::Push { cast: true, .. });
        // Refused before it takes a ref, so nothing of it remains.
        if let Request::Push {
            topic,
            event,
            payload,
            ..
        } = &request
            && let Err(e) = self.options.vsn.check(topic, event, payload)
        {
            if let Some(id) = id {
                flow.push(Event::Rejected {
                    id,
                    message: e.to_string(),
                });
            }
            return Ok(());
        }
        if let (Some(_), Request::Push { topic, .. }) = (id, &request)
            && let Some(joined) = self.session.not_joined(topic)
        {
            flow.push(Event::NotJoined {
                topic: topic.clone(),
                joined,
            });
        }
        match self.session.prepare(request, now) {
            Ok(frame) => {
                write(ws, self.wire(&frame))?;
                flow.push(Event::Sent {
                    id,
                    frame,
                    auto,
                    cast,
                });
            }
            Err(e) => {
                if let Some(id) = id {
                    flow.push(Event::Rejected {
                        id,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// A prepared frame as a WebSocket message in the connection's serializer.
    fn wire(&self, frame: &Frame) -> Message {
        match self.options.vsn.encode(frame, Side::Client) {
            Ok(Wire::Text(text)) => Message::text(text),
            Ok(Wire::Binary(data)) => Message::binary(data),
            // `check` lets through only pushes that encode; joins, leaves
            // and heartbeats always do.
            Err(e) => unreachable!("checked frame failed to encode: {e}"),
        }
    }

    /// Reads up to one batch of frames (unless reading is paused), and
    /// keeps the backlog clock (see `backlog`).
    pub(super) fn read(&mut self, link: &mut Link, flow: &mut Flow) -> Result<Read, Ending> {
        // Frames may remain in tungstenite's buffer after a full batch or
        // a pause, where readiness cannot see them: then the loop polls
        // without blocking.
        let mut drained = false;
        let mut read_any = false;
        // A full batch (many clients reading at once) is handed over
        // before more is read: the rest waits as unread.
        if !flow.paused() && !flow.full() {
            let mut batch_bytes = 0;
            // One clock reading per batch: a frame's arrival time (a
            // reply's latency) is when we started reading it, at most one
            // batch of processing early, and a flood does not pay for a
            // clock call per frame.
            let read_at = Instant::now();
            // A packed message costs the batch one unit, any other event
            // `PACKED_SHARE`: packed, it is far smaller and cheaper.
            let mut budget = READ_BATCH * PACKED_SHARE;
            while budget > 0 && !flow.full() {
                match link.ws.read() {
                    Ok(Message::Close(frame)) => return Err(closed(link, frame)),
                    Ok(msg) => {
                        link.consumed(msg.len());
                        read_any = true;
                        batch_bytes += msg.len();
                        let packed = self.incoming(msg, read_at, flow);
                        budget = budget.saturating_sub(if packed { 1 } else { PACKED_SHARE });
                        if self.session.has_effects() {
                            self.settle(Some(&mut link.ws), flow)?;
                        }
                        if batch_bytes >= READ_BATCH_BYTES {
                            break;
                        }
                    }
                    Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                        drained = true;
                        link.renew_buffer();
                        break;
                    }
                    Err(e) => return Err(failed(e, link.closing.is_some())),
                }
            }
        }
        let now = Instant::now();
        if read_any {
            self.last_frame = now;
        }
        if !flow.paused() {
            if drained {
                if let Some(since) = self.backlog.take() {
                    self.session.postpone(now.saturating_duration_since(since));
                }
            } else {
                self.backlog.get_or_insert(now);
            }
        }
        Ok(Read { drained })
    }

    /// Runs what is due at `now`: the close deadline, the heartbeat, rejoins
    /// and reply timeouts. `Ok(true)` when a heartbeat went out, to be
    /// flushed before the loop blocks.
    pub(super) fn timers(
        &mut self,
        link: &mut Link,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<bool, Ending> {
        if link.closing.is_some_and(|d| now >= d) {
            return Err(Ending {
                code: Some(1000),
                reason: "closed (the server did not confirm)".into(),
                by_client: true,
                dead_peer: false,
            });
        }
        if link.closing.is_some() {
            return Ok(false);
        }
        if let Some(due) = link.next_heartbeat
            && now >= due
        {
            self.heartbeat(link, now, flow)?;
            return Ok(true);
        }
        for rejoin in self.session.rejoins_due(now) {
            flow.push(Event::Rejoining {
                topic: rejoin.frame.topic.to_string(),
                attempt: rejoin.attempt,
            });
            write(&mut link.ws, self.wire(&rejoin.frame))?;
            flow.push(Event::Sent {
                id: None,
                frame: rejoin.frame,
                auto: false,
                cast: false,
            });
        }
        // Paused, or still reading a backlog, replies may sit unread: the
        // clock stops (see `Flow::deliver` and `backlog`).
        if !flow.paused() && self.backlog.is_none() {
            for expired in self.session.expire(now) {
                flow.push(Event::TimedOut(expired));
            }
        }
        self.settle(Some(&mut link.ws), flow)?;
        Ok(false)
    }

    /// The heartbeat is due: judges the previous one, then sends the next.
    fn heartbeat(&mut self, link: &mut Link, now: Instant, flow: &mut Flow) -> Result<(), Ending> {
        // The JS client's rule (docs/PROTOCOL.md §5): the previous heartbeat
        // must be answered by the time the next is due. A reply we have
        // not read because our output is behind does not count against
        // the server.
        //
        // Where phx-repl is more lenient: while frames keep arriving the
        // connection is alive, and the reply may be queued behind them (a
        // flood); it is judged once the traffic stops.
        if let Some(sent) = self.session.unanswered_heartbeat()
            && !self.paused_since_beat
            && !flow.paused()
            && self.last_frame < sent
        {
            self.session.heartbeat_missed();
            // Since the oldest unanswered beat: earlier ones may have been
            // let pass while frames kept arriving.
            let after = self
                .session
                .heartbeat_stats(now)
                .waiting
                .unwrap_or_else(|| now.saturating_duration_since(sent));
            flow.push(Event::HeartbeatTimeout { after });
            // Like the JS client: close with 1000 and move on without
            // waiting for an answer from a dead peer.
            let _ = link.ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "heartbeat timeout".into(),
            }));
            let _ = link.ws.flush();
            return Err(Ending {
                code: Some(1000),
                reason: "heartbeat timeout".into(),
                by_client: false,
                dead_peer: true,
            });
        }
        self.paused_since_beat = flow.paused();
        let interval = self.options.heartbeat.unwrap_or_default();
        link.next_heartbeat = Some(now + interval);
        self.send_request(
            &mut link.ws,
            None,
            Request::Heartbeat { auto: true },
            now,
            flow,
        )
    }

    /// The earliest of the socket's deadlines: heartbeat, reply timeouts
    /// (not while paused), rejoins, and the close.
    pub(super) fn deadline(&mut self, link: &Link, paused: bool) -> Option<Instant> {
        let open = link.closing.is_none();
        let reply_deadline = if paused {
            None
        } else {
            self.session.next_deadline()
        };
        [
            link.next_heartbeat.filter(|_| open),
            reply_deadline,
            self.session.next_rejoin().filter(|_| open),
            link.closing,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles one received WebSocket message (not a close); true if it
    /// was packed.
    fn incoming(&mut self, msg: Message, now: Instant, flow: &mut Flow) -> bool {
        // A push or broadcast changes no channel's state
        // (`Session::receive_parts`), so one that is only counted needs
        // nothing but its envelope.
        if let (Message::Text(text), Vsn::V2) = (&msg, self.options.vsn)
            && self.options.count_messages
            && protocol::is_message(text)
        {
            flow.count();
            return true;
        }
        if let (Message::Text(text), Vsn::V2) = (&msg, self.options.vsn)
            && let Some(v) = protocol::decode_view(text)
            && v.event != protocol::PHX_REPLY
        {
            let (kind, stale) = self
                .session
                .receive_parts(v.join_ref, v.ref_, v.topic, v.event, now);
            if !stale
                && matches!(kind, MessageKind::Push | MessageKind::Broadcast)
                && v.event != PRESENCE_STATE
                && v.event != PRESENCE_DIFF
            {
                // The envelope around the parts is printable ASCII, so the
                // whole text tells about the parts.
                let ascii = protocol::printable_ascii(text.as_bytes(), false);
                if flow.pack(&v, ascii, READ_BATCH * PACKED_SHARE) {
                    return true;
                }
            }
            let frame = v.to_frame();
            flow.push(Event::Message(PhxMessage { frame, kind, stale }));
            return false;
        }
        let decoded = match &msg {
            Message::Text(text) => self.options.vsn.decode(text),
            Message::Binary(data) => protocol::decode_binary(data, Side::Server),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return false;
            }
        };
        let event = match decoded {
            Ok(frame) if frame.event == protocol::PHX_REPLY => {
                let reply = self.session.receive_reply(frame, now);
                self.answered |= reply.request.is_some() && !reply.auto;
                Event::Reply(Box::new(reply))
            }
            Ok(frame) => {
                let (kind, stale) = self.session.receive_message(&frame, now);
                Event::Message(PhxMessage { frame, kind, stale })
            }
            Err(e) => Event::Undecodable {
                error: e.to_string(),
                text: match msg {
                    Message::Text(text) => text.as_str().to_owned(),
                    other => {
                        let data = other.into_data();
                        format!("hex:{}", HEXLOWER.encode(&data[..data.len().min(256)]))
                    }
                },
            },
        };
        flow.push(event);
        false
    }
}

/// The server's close, or its answer to ours: either way the connection is
/// over now, even if the server keeps the TCP connection open.
fn closed(link: &mut Link, frame: Option<CloseFrame>) -> Ending {
    let _ = link.ws.flush();
    let (code, reason) = match frame {
        Some(cf) => (Some(u16::from(cf.code)), cf.reason.to_string()),
        None => (None, String::new()),
    };
    // While we close, a normal close is the echo of ours; any other code
    // is the server's own.
    Ending {
        by_client: link.closing.is_some() && code == Some(1000),
        dead_peer: false,
        code,
        reason,
    }
}

fn queued(id: u64, topic: Option<String>, until: &'static str) -> Event {
    Event::Queued { id, topic, until }
}

/// Queues a message; if tungstenite's buffer is full because the peer is
/// not reading, pushes out what it can and retries once.
fn write(ws: &mut Socket, msg: Message) -> Result<(), Ending> {
    match ws.write(msg) {
        Ok(()) => Ok(()),
        // The message is queued; the socket took only part of the buffer
        // (a peer that reads slowly or not at all). The loop flushes the
        // rest when the socket is writable again.
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
        Err(tungstenite::Error::WriteBufferFull(msg)) => {
            let _ = ws.flush();
            ws.write(*msg).map_err(|e| failed(e, false))
        }
        Err(e) => Err(failed(e, false)),
    }
}

/// How a socket error ends the connection.
fn failed(e: tungstenite::Error, closing: bool) -> Ending {
    let reason = match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => String::new(),
        // What a server process that stops (or a dropped network path)
        // leaves behind: the TCP connection ends without a close frame.
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => "the connection was reset without a close frame: the server stopped, or the network dropped it".into(),
        tungstenite::Error::Protocol(p) => format!("protocol error: {p}"),
        tungstenite::Error::Utf8(e) => {
            format!("the server sent a text frame that is not valid UTF-8: {e}")
        }
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => format!(
            "the server sent a message of {size} bytes, over the limit of {} MiB",
            max_size >> 20
        ),
        other => other.to_string(),
    };
    Ending {
        code: None,
        reason,
        by_client: closing,
        dead_peer: false,
    }
}

/// The topic a request is about, if it names one.
fn request_topic(request: &Request) -> Option<String> {
    match request {
        Request::Join { topic, .. } | Request::Push { topic, .. } => Some(topic.clone()),
        Request::Leave { topic } => topic.clone(),
        Request::Heartbeat { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::{TcpListener, TcpStream};
    use tungstenite::protocol::WebSocketConfig;
    use tungstenite::stream::MaybeTlsStream;

    /// A client link over loopback with a 4 KiB read buffer, and the raw
    /// server end to write frames to.
    fn link_pair() -> (Link, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Reads give up quickly, as the non-blocking socket does at once.
        client
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let stream = Counted::new(MaybeTlsStream::Plain(client), 0);
        let ws = WebSocket::from_raw_socket(stream, Role::Client, Some(config));
        (Link::new(ws, None), server)
    }

    /// An unmasked text frame, as a server sends it.
    fn text_frame(payload: &str) -> Vec<u8> {
        let mut out = vec![0x81];
        match payload.len() {
            n @ 0..=125 => out.push(n as u8),
            n => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(payload.as_bytes());
        out
    }

    /// What `Conn::read` does with one read: counts the message, or renews
    /// the buffer when the socket has nothing more.
    fn read_once(link: &mut Link) -> Option<String> {
        match link.ws.read() {
            Ok(msg) => {
                link.consumed(msg.len());
                Some(msg.into_text().unwrap().to_string())
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                link.renew_buffer();
                None
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    fn next_text(link: &mut Link) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(text) = read_once(link) {
                return text;
            }
            assert!(Instant::now() < deadline, "no message came");
        }
    }

    #[test]
    fn frame_bytes_count_the_shortest_header() {
        assert_eq!(frame_bytes(0), 2);
        assert_eq!(frame_bytes(125), 127);
        assert_eq!(frame_bytes(126), 130);
        assert_eq!(frame_bytes(70_000), 70_010);
    }

    #[test]
    fn a_large_frame_leaves_a_fresh_buffer_once_nothing_is_unread() {
        let (mut link, mut server) = link_pair();
        let big = "x".repeat(40_000);
        // The large frame, then the first half of a small one.
        let mut bytes = text_frame(&big);
        let tail = text_frame("world!");
        bytes.extend_from_slice(&tail[..4]);
        server.write_all(&bytes).unwrap();
        assert_eq!(next_text(&mut link), big);
        assert!(link.oversized);
        // Until the half frame is in tungstenite's buffer, nothing more to
        // read might still renew it; after, it must not.
        let deadline = Instant::now() + Duration::from_secs(5);
        while link.ws.get_ref().bytes_read() < bytes.len() as u64 {
            assert!(read_once(&mut link).is_none());
            assert!(Instant::now() < deadline, "the half frame never came");
        }
        if link.oversized {
            for _ in 0..3 {
                assert!(read_once(&mut link).is_none());
            }
            assert!(link.oversized, "renewed with half a frame unread");
        }
        server.write_all(&tail[4..]).unwrap();
        assert_eq!(next_text(&mut link), "world!");
        assert!(read_once(&mut link).is_none());
        assert!(!link.oversized, "the buffer was not renewed");
        assert_eq!(link.consumed, 0);
        // The renewed socket reads on, and writes.
        server.write_all(&text_frame("again")).unwrap();
        assert_eq!(next_text(&mut link), "again");
        link.ws.send(Message::text("up")).unwrap();
    }

    #[test]
    fn socket_errors_end_the_connection_with_a_reason() {
        assert_eq!(
            request_topic(&Request::Leave { topic: None }),
            None,
            "a bare leave names no topic"
        );
        let e = failed(
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ),
            true,
        );
        assert!(e.by_client && e.code.is_none());
        assert!(
            e.reason
                .starts_with("the connection was reset without a close frame")
        );
        assert_eq!(
            failed(tungstenite::Error::ConnectionClosed, false).reason,
            ""
        );
    }
}

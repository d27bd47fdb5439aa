//! The socket: connecting (TCP, TLS for `wss://` only, the WebSocket
//! handshake) and the one thread that owns the WebSocket afterwards.
//!
//! That thread holds the socket and the `Session`; nothing else touches
//! either. It blocks in `poll` on the socket and on a waker, so a queued
//! command goes on the wire at once, a frame is handled as soon as it
//! arrives, and heartbeats and reply timeouts are deadlines in the same loop.
//! It does no formatting: it reports `Event`s through the `emit` callback,
//! in batches (one per wake-up), so a flood costs one hand-over per batch
//! rather than one per frame.

use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use data_encoding::HEXLOWER;
use polling::{Events, PollMode, Poller};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use url::Url;

use crate::protocol::{self, Frame, Side, Vsn, Wire};
use crate::session::{
    Expired, Incoming, Message as PhxMessage, MessageKind, Reply, Request, Session, TopicInfo,
    Unanswered,
};

/// The connected WebSocket.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How long connecting and the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames read before looking at commands and timers again, so a flood
/// cannot starve heartbeats or the user's commands.
const READ_BATCH: usize = 512;
const SOCKET_KEY: usize = 1;

/// Why connecting failed. Each variant renders as one line with a hint.
#[derive(Debug)]
pub enum ConnectError {
    Resolve { host: String, error: String },
    Tcp { addr: String, error: io::Error },
    Http { status: u16, body: String },
    Tls(String),
    Handshake(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve { host, error } => {
                write!(f, "cannot resolve `{host}`: {error}; check the host name")
            }
            ConnectError::Tcp { addr, error } => match error.kind() {
                ErrorKind::ConnectionRefused => write!(
                    f,
                    "connection refused by {addr}; is the server running (`mix phx.server`) on that port?"
                ),
                ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                    write!(
                        f,
                        "timed out connecting to {addr}; check the host, port and firewall"
                    )
                }
                _ => write!(f, "cannot connect to {addr}: {error}"),
            },
            ConnectError::Http { status, body } => {
                write!(
                    f,
                    "the server answered HTTP {status} instead of upgrading to a WebSocket"
                )?;
                let body = body.trim();
                if !body.is_empty() {
                    write!(f, " (body: {})", crate::output::excerpt(body, 200))?;
                }
                match status {
                    403 => f.write_str(
                        "; 403 usually means connect/3 refused the params (check -p token=…), \
                         an unsupported vsn, or check_origin rejected the Origin header",
                    ),
                    404 => f.write_str(
                        "; 404 usually means a wrong socket path: use the path of `socket \"/socket\", …` \
                         in your endpoint.ex, e.g. ws://localhost:4000/socket",
                    ),
                    400 => f.write_str("; the URL may not point at a WebSocket endpoint"),
                    _ => Ok(()),
                }
            }
            ConnectError::Tls(e) => write!(f, "TLS error: {e}"),
            ConnectError::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects and performs the WebSocket handshake, blocking. TLS roots are
/// loaded only for `wss://`.
pub fn connect(url: &Url, headers: &[(String, String)]) -> Result<Socket, ConnectError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let addrs: Vec<SocketAddr> = url
        .socket_addrs(|| match url.scheme() {
            "wss" => Some(443),
            _ => Some(80),
        })
        .or_else(|_| {
            let port = url.port_or_known_default().unwrap_or(80);
            (host.trim_matches(['[', ']']), port)
                .to_socket_addrs()
                .map(Iterator::collect)
        })
        .map_err(|e| ConnectError::Resolve {
            host: host.clone(),
            error: e.to_string(),
        })?;
    let mut last_err = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, HANDSHAKE_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some((addr.to_string(), e)),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            let (addr, error) = last_err.unwrap_or_else(|| {
                (
                    host.clone(),
                    io::Error::new(ErrorKind::NotFound, "no address"),
                )
            });
            return Err(ConnectError::Tcp { addr, error });
        }
    };
    let io_err = |e: io::Error| ConnectError::Handshake(e.to_string());
    stream.set_nodelay(true).map_err(io_err)?;
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(io_err)?;

    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Handshake(e.to_string()))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConnectError::Handshake(format!("invalid header name `{name}`")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| ConnectError::Handshake(format!("invalid value for header `{name}`")))?;
        request.headers_mut().append(name, value);
    }

    let (ws, _response) = tungstenite::client_tls_with_config(request, stream, None, None)
        .map_err(|e| match e {
            HandshakeError::Failure(e) => handshake_failure(e),
            HandshakeError::Interrupted(_) => {
                ConnectError::Handshake("the server did not answer the upgrade in time".into())
            }
        })?;
    let tcp = tcp_of(&ws).ok_or_else(|| ConnectError::Handshake("unsupported stream".into()))?;
    tcp.set_read_timeout(None).map_err(io_err)?;
    tcp.set_write_timeout(None).map_err(io_err)?;
    tcp.set_nonblocking(true).map_err(io_err)?;
    Ok(ws)
}

fn handshake_failure(e: tungstenite::Error) -> ConnectError {
    match e {
        tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            ConnectError::Http {
                status: resp.status().as_u16(),
                body,
            }
        }
        tungstenite::Error::Tls(e) => ConnectError::Tls(e.to_string()),
        tungstenite::Error::Io(e) if tls_error(&e).is_some() => {
            ConnectError::Tls(tls_error(&e).unwrap_or_default())
        }
        tungstenite::Error::Io(e)
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            ConnectError::Handshake("the server did not answer the upgrade in time".into())
        }
        other => ConnectError::Handshake(other.to_string()),
    }
}

/// Describes a rustls error carried inside an I/O error, in words.
fn tls_error(e: &io::Error) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let text = match tls {
        rustls::Error::InvalidCertificate(cert) => {
            use rustls::CertificateError as C;
            let what = match cert {
                C::UnknownIssuer => "it is signed by an unknown certificate authority".to_owned(),
                C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "it is not valid for this host name".to_owned()
                }
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
                C::Revoked => "it has been revoked".to_owned(),
                other => format!("{other:?}"),
            };
            format!("the server's certificate was rejected: {what}")
        }
        other => other.to_string(),
    };
    Some(text)
}

fn tcp_of(ws: &Socket) -> Option<&TcpStream> {
    match ws.get_ref() {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
        _ => None,
    }
}

/// What the network thread reports.
#[derive(Debug)]
pub enum Event {
    /// The WebSocket handshake succeeded.
    Connected,
    /// Connecting failed; this is the last event.
    ConnectFailed(String),
    /// A request went out (`id` is `None` for automatic heartbeats).
    Sent {
        id: Option<u64>,
        frame: Frame,
        auto: bool,
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
    Reply(Reply),
    Message(PhxMessage),
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
    /// The connection is over; this is the last event.
    Closed {
        code: Option<u16>,
        reason: String,
        by_client: bool,
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
    /// Close with a normal close frame and end the thread.
    Close,
}

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub heartbeat: Option<Duration>,
    pub timeout: Duration,
    /// The serializer, as the URL's `vsn` asks.
    pub vsn: Vsn,
}

/// Event batches handed over but not yet taken by the front end. When they
/// run out, the network thread stops reading the socket (the server then
/// sees backpressure) but keeps sending commands and heartbeats.
const BATCHES_IN_FLIGHT: usize = 4;

/// The front ends' side of the network thread.
pub struct Handle {
    tx: Sender<ToNet>,
    poller: Arc<Poller>,
    /// One token per batch handed over; taking one back frees a slot.
    credits: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    /// Queues work and wakes the network thread. False if it has ended.
    pub fn send(&self, msg: ToNet) -> bool {
        let ok = self.tx.send(msg).is_ok();
        if ok {
            let _ = self.poller.notify();
        }
        ok
    }

    /// Tells the network thread that one batch of events has been handled,
    /// so it may read more.
    pub fn batch_done(&self) {
        if self.credits.try_recv().is_ok() {
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
    let (credits_tx, credits) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
    let net = Net {
        poller: Arc::clone(&poller),
        rx,
        emit: Box::new(emit),
        batch: Vec::new(),
        credits: credits_tx,
        paused: None,
        session: Session::new(options.timeout),
        options,
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

/// The network thread's state. The socket itself is passed to `serve`, so
/// a later reconnect can serve a new one with the same session.
struct Net {
    poller: Arc<Poller>,
    rx: Receiver<ToNet>,
    emit: Box<dyn FnMut(Vec<Event>) -> bool + Send>,
    /// Events not yet handed over.
    batch: Vec<Event>,
    credits: SyncSender<()>,
    /// Every batch slot is taken since this instant: stop reading until one
    /// frees up.
    paused: Option<Instant>,
    session: Session,
    options: Options,
}

/// How serving a socket ended.
struct Ending {
    code: Option<u16>,
    reason: String,
    by_client: bool,
}

impl Ending {
    fn output_closed() -> Ending {
        Ending {
            code: None,
            reason: "output closed".into(),
            by_client: true,
        }
    }
}

impl Net {
    fn run(mut self, target: &Target) {
        let mut ws = match connect(&target.url, &target.headers) {
            Ok(ws) => ws,
            Err(e) => {
                self.batch.push(Event::ConnectFailed(e.to_string()));
                self.deliver_last();
                return;
            }
        };
        self.batch.push(Event::Connected);
        let ending = match tcp_of(&ws) {
            // SAFETY: the socket is deleted from the poller below, before
            // `ws` is dropped.
            Some(tcp) => match unsafe {
                self.poller.add_with_mode(
                    tcp,
                    polling::Event::readable(SOCKET_KEY),
                    PollMode::Level,
                )
            } {
                Ok(()) => {
                    let ending = self.serve(&mut ws);
                    if let Some(tcp) = tcp_of(&ws) {
                        let _ = self.poller.delete(tcp);
                    }
                    ending
                }
                Err(e) => Ending {
                    code: None,
                    reason: format!("cannot watch the socket: {e}"),
                    by_client: false,
                },
            },
            None => Ending {
                code: None,
                reason: "unsupported stream".into(),
                by_client: false,
            },
        };
        self.session.transport_closed();
        self.batch.push(Event::Closed {
            code: ending.code,
            reason: ending.reason,
            by_client: ending.by_client,
        });
        self.deliver_last();
    }

    fn serve(&mut self, ws: &mut Socket) -> Ending {
        let mut events = Events::new();
        let mut next_heartbeat = self.options.heartbeat.map(|d| Instant::now() + d);
        let mut closing: Option<Instant> = None;
        let mut interest = polling::Event::readable(SOCKET_KEY);
        loop {
            // Commands first: they go out before we block again.
            if closing.is_none() {
                loop {
                    match self.rx.try_recv() {
                        Ok(ToNet::Close) | Err(TryRecvError::Disconnected) => {
                            let _ = ws.close(Some(CloseFrame {
                                code: CloseCode::Normal,
                                reason: "".into(),
                            }));
                            closing = Some(Instant::now() + CLOSE_TIMEOUT);
                            break;
                        }
                        Ok(ToNet::Request { id, request }) => {
                            if let Err(e) = self.send_request(ws, Some(id), request, Instant::now())
                            {
                                return e;
                            }
                        }
                        Ok(ToNet::Raw { id, text }) => {
                            if let Err(e) = write(ws, Message::text(text.clone())) {
                                return e;
                            }
                            self.batch.push(Event::SentRaw { id, text });
                        }
                        Ok(ToNet::Topics { id }) => {
                            let topics = self.session.topics();
                            self.batch.push(Event::Topics { id, topics });
                        }
                        Err(TryRecvError::Empty) => break,
                    }
                }
            }

            let want_write = match ws.flush() {
                Ok(()) => false,
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => true,
                Err(e) => return failed(e, closing.is_some()),
            };

            // Frames may remain in tungstenite's buffer after a full batch,
            // where readiness cannot see them: then poll without blocking.
            let mut drained = true;
            if self.paused.is_none() {
                drained = false;
                for _ in 0..READ_BATCH {
                    match ws.read() {
                        Ok(Message::Close(frame)) => {
                            // The server's close, or its answer to ours:
                            // either way the connection is over now, even
                            // if the server keeps the TCP connection open.
                            let _ = ws.flush();
                            let (code, reason) = match frame {
                                Some(cf) => (Some(u16::from(cf.code)), cf.reason.to_string()),
                                None => (None, String::new()),
                            };
                            // While we close, a normal close is the echo of
                            // ours; any other code is the server's own.
                            return Ending {
                                by_client: closing.is_some() && code == Some(1000),
                                code,
                                reason,
                            };
                        }
                        Ok(msg) => self.incoming(msg),
                        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                            drained = true;
                            break;
                        }
                        Err(e) => return failed(e, closing.is_some()),
                    }
                }
            }

            let now = Instant::now();
            if closing.is_some_and(|d| now >= d) {
                return Ending {
                    code: Some(1000),
                    reason: "closed (the server did not confirm)".into(),
                    by_client: true,
                };
            }
            if closing.is_none() {
                if let Some(due) = next_heartbeat
                    && now >= due
                {
                    let interval = self.options.heartbeat.unwrap_or_default();
                    next_heartbeat = Some(now + interval);
                    if let Err(e) =
                        self.send_request(ws, None, Request::Heartbeat { auto: true }, now)
                    {
                        return e;
                    }
                    continue; // flush it before blocking
                }
                // Paused, replies may sit unread: the clock stops (see resume).
                if self.paused.is_none() {
                    for expired in self.session.expire(now) {
                        self.batch.push(Event::TimedOut(expired));
                    }
                }
            }

            if !self.deliver() {
                return Ending::output_closed();
            }

            let reply_deadline = match self.paused {
                None => self.session.next_deadline(),
                Some(_) => None,
            };
            let deadline = [
                next_heartbeat.filter(|_| closing.is_none()),
                reply_deadline,
                closing,
            ]
            .into_iter()
            .flatten()
            .min();
            let wanted = polling::Event::new(SOCKET_KEY, self.paused.is_none(), want_write);
            if (wanted.readable, wanted.writable) != (interest.readable, interest.writable)
                && let Some(tcp) = tcp_of(ws)
                && self
                    .poller
                    .modify_with_mode(tcp, wanted, PollMode::Level)
                    .is_ok()
            {
                interest = wanted;
            }
            events.clear();
            let timeout = if drained || self.paused.is_some() {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poller.wait(&mut events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                return Ending {
                    code: None,
                    reason: format!("poll failed: {e}"),
                    by_client: false,
                };
            }
        }
    }

    fn send_request(
        &mut self,
        ws: &mut Socket,
        id: Option<u64>,
        request: Request,
        now: Instant,
    ) -> Result<(), Ending> {
        let auto = matches!(request, Request::Heartbeat { auto: true });
        // Refused before it takes a ref, so nothing of it remains.
        if let Request::Push {
            topic,
            event,
            payload,
        } = &request
            && let Err(e) = self.options.vsn.check(topic, event, payload)
        {
            if let Some(id) = id {
                self.batch.push(Event::Rejected {
                    id,
                    message: e.to_string(),
                });
            }
            return Ok(());
        }
        match self.session.prepare(request, now) {
            Ok(frame) => {
                let message = match self.options.vsn.encode(&frame, Side::Client) {
                    Ok(Wire::Text(text)) => Message::text(text),
                    Ok(Wire::Binary(data)) => Message::binary(data),
                    // `check` above lets through only what encodes.
                    Err(e) => unreachable!("checked frame failed to encode: {e}"),
                };
                write(ws, message)?;
                self.batch.push(Event::Sent { id, frame, auto });
            }
            Err(e) => {
                if let Some(id) = id {
                    self.batch.push(Event::Rejected {
                        id,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Hands the batched events over if a slot is free; false if nobody
    /// listens any more.
    fn deliver(&mut self) -> bool {
        if self.batch.is_empty() {
            self.resume();
            return true;
        }
        match self.credits.try_send(()) {
            Ok(()) => {
                self.resume();
                let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(64));
                (self.emit)(batch)
            }
            Err(TrySendError::Full(())) => {
                self.paused.get_or_insert_with(Instant::now);
                true
            }
            Err(TrySendError::Disconnected(())) => false,
        }
    }

    /// Reads again after a pause; reply timeouts do not count the pause.
    fn resume(&mut self) {
        if let Some(since) = self.paused.take() {
            self.session.postpone(since.elapsed());
        }
    }

    /// Hands over the final events, waiting for a slot if need be.
    fn deliver_last(&mut self) {
        if self.credits.send(()).is_ok() {
            let batch = std::mem::take(&mut self.batch);
            (self.emit)(batch);
        }
    }

    /// Handles one received WebSocket message (not a close).
    fn incoming(&mut self, msg: Message) {
        let decoded = match &msg {
            Message::Text(text) => self.options.vsn.decode(text),
            Message::Binary(data) => protocol::decode_binary(data, Side::Server),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => return,
        };
        let event = match decoded {
            Ok(frame) => match self.session.receive(frame, Instant::now()) {
                Incoming::Reply(r) => Event::Reply(r),
                Incoming::Message(m) => {
                    let orphans = matches!(m.kind, MessageKind::Error | MessageKind::Close { .. });
                    self.batch.push(Event::Message(m));
                    if orphans {
                        let unanswered = self.session.take_unanswered();
                        self.batch
                            .extend(unanswered.into_iter().map(Event::Unanswered));
                    }
                    return;
                }
            },
            Err(e) => Event::Undecodable {
                error: e.0,
                text: match msg {
                    Message::Text(text) => text.as_str().to_owned(),
                    other => {
                        let data = other.into_data();
                        format!("hex:{}", HEXLOWER.encode(&data[..data.len().min(256)]))
                    }
                },
            },
        };
        self.batch.push(event);
    }
}

/// Queues a message; if tungstenite's buffer is full because the peer is
/// not reading, pushes out what it can and retries once.
fn write(ws: &mut Socket, msg: Message) -> Result<(), Ending> {
    match ws.write(msg) {
        Ok(()) => Ok(()),
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
        tungstenite::Error::Protocol(p) => format!("protocol error: {p}"),
        other => other.to_string(),
    };
    Ending {
        code: None,
        reason,
        by_client: closing,
    }
}

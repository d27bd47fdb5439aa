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
//!
//! The `Session` outlives each socket: when one drops, the thread reconnects
//! with the JS client's backoff (PROTOCOL.md §5), holding commands typed
//! meanwhile, and rejoins every topic with its payload (`channel.rs` has the
//! rules). A heartbeat left unanswered until the next one is due closes the
//! socket as dead.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use tungstenite::{Connector, Message, WebSocket};
use url::Url;

use crate::core::channel::reconnect_delay;
use crate::core::event::{Event, Status, ToNet};
use crate::core::packed::Packed;
use crate::core::presence::{PRESENCE_DIFF, PRESENCE_STATE};
use crate::core::protocol::{self, Frame, Side, Vsn, Wire};
use crate::core::session::{Message as PhxMessage, MessageKind, Request, Session};
use crate::transport::tls::{self, Trust};

/// The connected WebSocket.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How long opening a TCP connection may take, per address.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames read before looking at commands and timers again, so a flood
/// cannot starve heartbeats or the user's commands.
const READ_BATCH: usize = 512;
/// A packed message counts this much less against `READ_BATCH` than an
/// event does.
const PACKED_SHARE: usize = 8;
/// The text a new pack has room for.
const PACK_BYTES: usize = 64 * 1024;
/// Packs handed back bigger than this are freed, not kept for reuse.
const SPARE_PACK_BYTES: usize = 256 * 1024;
/// How long the echo of a request may wait for more events (usually its
/// reply) before it is handed over alone: a script's round trip then wakes
/// the front end once instead of twice. Short enough not to be seen at the
/// prompt.
const ECHO_HOLD: Duration = Duration::from_millis(1);
/// A batch also ends once it holds this many bytes of frames, so the
/// batches in flight bound memory however large the server's frames are.
const READ_BATCH_BYTES: usize = 1 << 20;
/// After a reply to a command, how long the network thread spins waiting
/// for the next command before it sleeps. A script that waits for each
/// reply sends its next line within microseconds; a sleeping thread would
/// need a wake-up for it, which costs tens of microseconds on an idle VM.
/// With a single CPU there is no spinning: it would hold up the very thread
/// that is to send the command.
const SPIN: Duration = Duration::from_micros(100);
const SOCKET_KEY: usize = 1;

/// Why connecting failed. Each variant renders as one line with a hint.
#[derive(Debug)]
pub enum ConnectError {
    Resolve {
        host: String,
        error: String,
    },
    Tcp {
        addr: String,
        error: io::Error,
    },
    Http {
        status: u16,
        body: String,
    },
    Tls(String),
    Handshake(String),
    /// A long-poll request failed or was answered with something other
    /// than a session; the text says which.
    LongPoll(String),
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
                        "; 403 usually means connect/3 refused the params (check -p token=…) \
                         or the token (--auth-token), an unsupported vsn, or check_origin \
                         rejected the Origin header (set the one your app expects with --origin)",
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
            ConnectError::LongPoll(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects and performs the WebSocket handshake, blocking; the TLS and
/// WebSocket handshakes get `timeout` in total. TLS roots are loaded only
/// for `wss://`.
pub fn connect(
    url: &Url,
    headers: &[(String, String)],
    trust: &Trust,
    timeout: Duration,
) -> Result<Socket, ConnectError> {
    if let Some(lp) = crate::transport::longpoll::endpoint(url) {
        return crate::transport::longpoll::connect(&lp, headers, trust, timeout);
    }
    let stream = tcp_connect(url)?;
    let io_err = |e: io::Error| ConnectError::Handshake(e.to_string());
    stream.set_nodelay(true).map_err(io_err)?;
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;

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

    let connector = match url.scheme() {
        "wss" => Some(Connector::Rustls(
            tls::client_config(trust).map_err(|e| ConnectError::Tls(e.to_string()))?,
        )),
        _ => None,
    };
    let too_slow = || {
        ConnectError::Handshake(format!(
            "the server did not answer the upgrade within {}; is this a Phoenix socket \
             endpoint? (--timeout sets the limit)",
            secs(timeout)
        ))
    };
    let watchdog = Watchdog::start(&stream, timeout).map_err(io_err)?;
    let result = tungstenite::client_tls_with_config(request, stream, None, connector);
    if watchdog.finish() {
        return Err(too_slow());
    }
    let (ws, _response) = result.map_err(|e| match e {
        HandshakeError::Failure(tungstenite::Error::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            too_slow()
        }
        HandshakeError::Failure(e) => handshake_failure(e),
        HandshakeError::Interrupted(_) => too_slow(),
    })?;
    let tcp = tcp_of(&ws).ok_or_else(|| ConnectError::Handshake("unsupported stream".into()))?;
    tcp.set_read_timeout(None).map_err(io_err)?;
    tcp.set_write_timeout(None).map_err(io_err)?;
    tcp.set_nonblocking(true).map_err(io_err)?;
    Ok(ws)
}

/// Resolves the URL's host and opens a TCP connection to the first address
/// that answers (`wss`/`https` default to port 443, others to 80).
pub(crate) fn tcp_connect(url: &Url) -> Result<TcpStream, ConnectError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let addrs: Vec<SocketAddr> = url
        .socket_addrs(|| match url.scheme() {
            "wss" | "https" => Some(443),
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
    match stream {
        Some(s) => Ok(s),
        None => {
            let (addr, error) = last_err.unwrap_or_else(|| {
                (
                    host.clone(),
                    io::Error::new(ErrorKind::NotFound, "no address"),
                )
            });
            Err(ConnectError::Tcp { addr, error })
        }
    }
}

/// Ends a handshake that runs past its deadline by shutting the socket
/// down from another thread. A read timeout alone is not enough: it starts
/// again with every byte, so a server trickling its answer would hold the
/// client forever.
struct Watchdog {
    done: Option<Sender<()>>,
    thread: Option<JoinHandle<bool>>,
}

impl Watchdog {
    fn start(stream: &TcpStream, limit: Duration) -> io::Result<Watchdog> {
        let stream = stream.try_clone()?;
        let (done, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("handshake-deadline".into())
            .spawn(move || match rx.recv_timeout(limit) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    true
                }
                _ => false,
            })?;
        Ok(Watchdog {
            done: Some(done),
            thread: Some(thread),
        })
    }

    /// Stops the watchdog; true if it had already fired.
    fn finish(mut self) -> bool {
        drop(self.done.take());
        self.thread
            .take()
            .is_some_and(|t| t.join().unwrap_or(false))
    }
}

/// `1 s`, `0.5 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
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
        tungstenite::Error::Protocol(tungstenite::error::ProtocolError::HandshakeIncomplete) => {
            ConnectError::Handshake(
                "the server closed the connection before answering the upgrade".into(),
            )
        }
        // Browsers let this pass; tungstenite refuses it. A server that
        // does not take the token in the subprotocol header (Phoenix 1.7,
        // or 1.8 without `auth_token: true`) answers without one.
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                tungstenite::error::SubProtocolError::NoSubProtocol,
            ),
        ) => ConnectError::Handshake(
            "the server chose no subprotocol, so it does not take `--auth-token` \
             (Phoenix 1.8 sockets with `auth_token: true` do); \
             pass the token as a connect param instead: `-p token=…`"
                .into(),
        ),
        // A TLS server answers a plain request with a TLS alert.
        tungstenite::Error::Protocol(tungstenite::error::ProtocolError::HttparseError(e)) => {
            ConnectError::Handshake(format!(
                "the server's answer is not HTTP ({e}); if it speaks TLS, use a wss:// URL"
            ))
        }
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
pub(crate) fn tls_error(e: &io::Error) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let text = match tls {
        rustls::Error::InvalidCertificate(cert) => {
            use rustls::CertificateError as C;
            let what = match cert {
                C::UnknownIssuer => "it is signed by an unknown certificate authority; \
                     if the server uses a private CA, trust it with `--ca-cert CA.pem` \
                     (or skip verification with `--insecure`)"
                    .to_owned(),
                C::Expired | C::ExpiredContext { .. } => "it has expired; renew it on the \
                     server, or skip verification with `--insecure`"
                    .to_owned(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "it is not valid for this host name; connect with a name the \
                     certificate lists, or skip verification with `--insecure`"
                        .to_owned()
                }
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet; \
                     check the clocks, or skip verification with `--insecure`"
                    .to_owned(),
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

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// Whom to trust for `wss://`.
    pub trust: Trust,
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
    /// Set while the network thread waits for a free slot: only then does
    /// freeing one need to wake it.
    starved: Arc<AtomicBool>,
    /// Emptied batches going back to the network thread.
    spare: SyncSender<Vec<Event>>,
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
    /// so it may read more, and gives the batch back to be filled again (a
    /// flood then reuses a few vectors instead of growing new ones). Events
    /// still in it are dropped by the network thread, which allocated them.
    pub fn batch_done(&self, handled: Vec<Event>) {
        let _ = self.spare.try_send(handled);
        if self.credits.try_recv().is_ok() && self.starved.load(Ordering::SeqCst) {
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
    let starved = Arc::new(AtomicBool::new(false));
    let (spare, spares) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
    let net = Net {
        poller: Arc::clone(&poller),
        rx,
        emit: Box::new(emit),
        batch: Vec::new(),
        credits: credits_tx,
        starved: Arc::clone(&starved),
        spares,
        paused: None,
        echo_held: None,
        paused_since_beat: false,
        last_frame: Instant::now(),
        answered: false,
        may_spin: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        early: None,
        backlog: None,
        started: Instant::now(),
        up_since: None,
        reconnects: 0,
        next_attempt: None,
        opened: false,
        session: Session::new(options.timeout),
        spare_packs: Vec::new(),
        offline: VecDeque::new(),
        options,
    };
    let thread = std::thread::Builder::new()
        .name("network".into())
        .spawn(move || net.run(&target))?;
    Ok(Handle {
        tx,
        poller,
        credits,
        starved,
        spare,
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
    /// Shared with `Handle`: we wait for a slot.
    starved: Arc<AtomicBool>,
    /// Emptied batches handed back by the front end, to reuse.
    spares: Receiver<Vec<Event>>,
    /// Every batch slot is taken since this instant: stop reading until one
    /// frees up.
    paused: Option<Instant>,
    /// Reading was paused at some point since the last heartbeat went out,
    /// so its reply may be sitting unread: it cannot count as missed.
    paused_since_beat: bool,
    /// The batch holds only echoes of sent requests, waiting until then
    /// for company (see `ECHO_HOLD`).
    echo_held: Option<Instant>,
    /// When the last message came in on the socket.
    last_frame: Instant,
    /// A reply to a command arrived since we last blocked (see `SPIN`).
    answered: bool,
    /// There is more than one CPU: spinning cannot hold up the front end.
    may_spin: bool,
    /// A command taken off the queue while spinning, to run first.
    early: Option<ToNet>,
    /// Since when every read batch has come back full: the socket holds
    /// more than we have read, and a reply may be waiting in it. Like a
    /// pause, that time does not count against reply timeouts.
    backlog: Option<Instant>,
    /// For `status`: when the thread started, when the socket opened,
    /// reconnects so far, and the next attempt while offline.
    started: Instant,
    up_since: Option<Instant>,
    reconnects: u32,
    next_attempt: Option<(u32, Instant)>,
    /// A connection has opened at least once (else `--retry` is retrying
    /// the first).
    opened: bool,
    session: Session,
    /// Packed messages handed back in spent batches, to pack into again.
    spare_packs: Vec<Packed>,
    /// Commands that arrived while the socket was down, with their
    /// deadlines; they run once it is open again.
    offline: VecDeque<(Instant, ToNet)>,
    options: Options,
}

/// How serving a socket ended.
struct Ending {
    code: Option<u16>,
    reason: String,
    by_client: bool,
    /// We closed it because the peer seemed dead (a heartbeat timeout):
    /// closed by the client, yet a reconnect follows.
    dead_peer: bool,
}

impl Ending {
    fn output_closed() -> Ending {
        Ending {
            code: None,
            reason: "output closed".into(),
            by_client: true,
            dead_peer: false,
        }
    }
}

impl Net {
    /// Connects, serves the socket, and reconnects with the JS client's
    /// backoff when it drops (PROTOCOL.md §5), until the front end closes
    /// it or the retry budget is spent. The session outlives each socket,
    /// so channels are rejoined with their payloads after a reconnect.
    ///
    /// The loop sees a transport only through `connect` and `serve_socket`
    /// (frames in and out, and how it ended); another transport can take
    /// their place without touching the session or the reconnect logic.
    fn run(mut self, target: &Target) {
        let mut attempt: u32 = 0;
        let mut opened = false;
        // Why the previous attempt failed, to say "the same way" instead of
        // repeating a long message every few seconds.
        let mut last_error: Option<String> = None;
        loop {
            let (ending, was_open, error) = match connect(
                &target.url,
                &target.headers,
                &target.trust,
                self.options.timeout,
            ) {
                Ok(mut ws) => {
                    if opened {
                        self.reconnects += 1;
                    }
                    last_error = None;
                    attempt = 0;
                    opened = true;
                    self.opened = true;
                    self.up_since = Some(Instant::now());
                    self.next_attempt = None;
                    self.batch.push(Event::Connected);
                    let now = Instant::now();
                    self.session.reconnected(now);
                    let mut ending = self.serve_socket(&mut ws);
                    if ending.code == Some(crate::transport::longpoll::CLOSE_ERROR)
                        && crate::transport::longpoll::endpoint(&target.url).is_some()
                    {
                        // The long-poll bridge's code for a failed request,
                        // not the server's: a lost connection.
                        ending.code = None;
                    }
                    (ending, true, None)
                }
                Err(e) if !opened && !self.options.retry => {
                    self.batch.push(Event::ConnectFailed(e.to_string()));
                    self.deliver_last();
                    return;
                }
                Err(e) => (
                    Ending {
                        code: None,
                        reason: e.to_string(),
                        by_client: false,
                        dead_peer: false,
                    },
                    false,
                    Some(e.to_string()),
                ),
            };
            let retry = if opened {
                self.options.reconnect
            } else {
                self.options.retry
            };
            let again = retry && !ending.by_client;
            self.up_since = None;
            if was_open {
                // Said first, before the requests it left unanswered; when
                // no reconnect follows, `Closed` ends it without a line.
                self.batch.push(Event::Disconnected {
                    code: ending.code,
                    reason: ending.reason.clone(),
                    by_client: ending.by_client || ending.dead_peer,
                });
                self.session.transport_closed(Instant::now());
                if !again {
                    // No channel is coming back: "rejoins once reconnected"
                    // would be untrue.
                    self.session.take_transitions();
                }
                let _ = self.settle(None);
            }
            if !again {
                self.finish(ending, was_open);
                return;
            }
            attempt += 1;
            if let Some(max) = self.options.max_retries
                && attempt > max
            {
                let tries = if max == 1 { "attempt" } else { "attempts" };
                if opened {
                    self.finish(
                        Ending {
                            code: None,
                            reason: format!("gave up after {max} reconnect {tries}"),
                            by_client: false,
                            dead_peer: false,
                        },
                        false,
                    );
                } else {
                    let last = error.unwrap_or_default();
                    self.batch.push(Event::ConnectFailed(format!(
                        "{last} (gave up after {max} more {tries})"
                    )));
                    self.deliver_last();
                }
                return;
            }
            let delay = reconnect_delay(attempt);
            let error = if was_open { None } else { error };
            let repeated = error.is_some() && error == last_error;
            last_error.clone_from(&error);
            self.batch.push(Event::Reconnecting {
                attempt,
                delay,
                error,
                repeated,
                first: !opened,
            });
            let at = Instant::now() + delay;
            self.next_attempt = Some((attempt, at));
            if !self.wait_offline(at) {
                self.finish(
                    Ending {
                        code: None,
                        reason: String::new(),
                        by_client: true,
                        dead_peer: false,
                    },
                    false,
                );
                return;
            }
        }
    }

    /// Answers `status`.
    fn status(&mut self, id: u64) {
        let now = Instant::now();
        let status = Status {
            up: self.up_since.map(|t| now.saturating_duration_since(t)),
            session: now.saturating_duration_since(self.started),
            reconnects: self.reconnects,
            next_attempt: self
                .next_attempt
                .map(|(n, at)| (n, at.saturating_duration_since(now))),
            first: !self.opened,
            heartbeat_interval: self.options.heartbeat,
            heartbeat: self.session.heartbeat_stats(now),
            topics: self.session.topic_status(now),
        };
        self.batch.push(Event::Status {
            id,
            status: Box::new(status),
        });
    }

    /// Reports the end of the connection (the last event) and stops;
    /// `reported` when a `Disconnected` event already told how it ended.
    fn finish(&mut self, ending: Ending, reported: bool) {
        // Commands still held will never run.
        for (_, msg) in std::mem::take(&mut self.offline) {
            self.reject_offline(msg, "the connection is closed");
        }
        self.batch.push(Event::Closed {
            code: ending.code,
            reason: ending.reason,
            by_client: ending.by_client || ending.dead_peer,
            lost: !ending.by_client,
            reported,
        });
        self.deliver_last();
    }

    /// Between connections: answers what can be answered, holds commands
    /// for the next socket, and drops held ones past their deadline. False
    /// when the front end asked to close.
    fn wait_offline(&mut self, until: Instant) -> bool {
        let mut events = Events::new();
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(ToNet::Close) | Err(TryRecvError::Disconnected) => return false,
                    Ok(ToNet::Topics { id }) => {
                        let topics = self.session.topics();
                        self.batch.push(Event::Topics { id, topics });
                    }
                    Ok(ToNet::Status { id }) => self.status(id),
                    Ok(ToNet::Request { id, request }) => {
                        let now = Instant::now();
                        let topic = request_topic(&request);
                        if let Request::Leave { topic: Some(t) } = &request {
                            self.session.leave_offline(t, now);
                        }
                        match self.session.hold(id, request, now) {
                            Ok(()) => self.queued(id, topic, "offline"),
                            Err(request) => {
                                self.hold_offline(id, ToNet::Request { id, request }, now);
                            }
                        }
                    }
                    Ok(ToNet::Raw { id, text }) => {
                        self.hold_offline(id, ToNet::Raw { id, text }, Instant::now());
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.expire_offline(now);
            let _ = self.settle(None);
            if !self.deliver() {
                return false;
            }
            if now >= until {
                return true;
            }
            let deadline = [
                Some(until),
                self.offline.front().map(|(d, _)| *d),
                // Pushes held for a topic give up on time, offline too.
                self.session.next_deadline(),
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
                return true;
            }
        }
    }

    /// Holds a command until the socket is open again. It waits for no
    /// topic (`topic: None`), unlike a push held for a rejoin.
    fn hold_offline(&mut self, id: u64, msg: ToNet, now: Instant) {
        self.offline.push_back((now + self.options.timeout, msg));
        self.queued(id, None, "offline");
    }

    fn queued(&mut self, id: u64, topic: Option<String>, until: &'static str) {
        self.batch.push(Event::Queued { id, topic, until });
    }

    /// Drops commands held offline past their deadline.
    fn expire_offline(&mut self, now: Instant) {
        while self.offline.front().is_some_and(|(d, _)| *d <= now) {
            let (_, msg) = self.offline.pop_front().expect("front exists");
            let why = format!(
                "still not connected after {}",
                fmt_secs(self.options.timeout)
            );
            self.reject_offline(msg, &why);
        }
        for e in self.session.expire(now) {
            self.batch.push(Event::TimedOut(e));
        }
    }

    fn reject_offline(&mut self, msg: ToNet, why: &str) {
        let (id, what) = match msg {
            ToNet::Request { id, request } => (id, describe(&request)),
            ToNet::Raw { id, .. } => (id, "raw frame".to_owned()),
            ToNet::Topics { id } | ToNet::Status { id } => (id, String::new()),
            ToNet::Close => return,
        };
        let message = if what.is_empty() {
            format!("not sent: {why}")
        } else {
            format!("{what} not sent: {why}")
        };
        self.batch.push(Event::Rejected { id, message });
    }

    /// Reports what the session changed, and sends pushes it released.
    fn settle(&mut self, ws: Option<&mut Socket>) -> Result<(), Ending> {
        for t in self.session.take_transitions() {
            self.batch.push(Event::ChannelState(t));
        }
        for u in self.session.take_unanswered() {
            self.batch.push(Event::Unanswered(u));
        }
        for d in self.session.take_dropped() {
            self.batch.push(Event::Rejected {
                id: d.id,
                message: format!("push `{}` to `{}` not sent: {}", d.event, d.topic, d.why),
            });
        }
        let released = self.session.take_released();
        if let Some(ws) = ws {
            for (id, request) in released {
                self.send_request(ws, Some(id), request, Instant::now())?;
            }
        }
        Ok(())
    }

    /// Serves one open WebSocket until it ends.
    fn serve_socket(&mut self, ws: &mut Socket) -> Ending {
        match tcp_of(ws) {
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
                    let ending = self.serve(ws);
                    if let Some(tcp) = tcp_of(ws) {
                        let _ = self.poller.delete(tcp);
                    }
                    ending
                }
                Err(e) => Ending {
                    code: None,
                    reason: format!("cannot watch the socket: {e}"),
                    by_client: false,
                    dead_peer: false,
                },
            },
            None => Ending {
                code: None,
                reason: "unsupported stream".into(),
                by_client: false,
                dead_peer: false,
            },
        }
    }

    fn serve(&mut self, ws: &mut Socket) -> Ending {
        let mut events = Events::new();
        let mut next_heartbeat = self.options.heartbeat.map(|d| Instant::now() + d);
        let mut closing: Option<Instant> = None;
        let mut interest = polling::Event::readable(SOCKET_KEY);
        self.paused_since_beat = false;
        self.backlog = None;
        // What was typed while offline goes first, then the rejoins.
        for (_, msg) in std::mem::take(&mut self.offline) {
            if let Err(e) = self.command(ws, msg) {
                return e;
            }
        }
        loop {
            // Commands first: they go out before we block again.
            if closing.is_none() {
                loop {
                    let next = match self.early.take() {
                        Some(msg) => Ok(msg),
                        None => self.rx.try_recv(),
                    };
                    match next {
                        Ok(ToNet::Close) | Err(TryRecvError::Disconnected) => {
                            let _ = ws.close(Some(CloseFrame {
                                code: CloseCode::Normal,
                                reason: "".into(),
                            }));
                            closing = Some(Instant::now() + CLOSE_TIMEOUT);
                            break;
                        }
                        Ok(msg) => {
                            if let Err(e) = self.command(ws, msg) {
                                return e;
                            }
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

            // Frames may remain in tungstenite's buffer after a full batch
            // or a pause, where readiness cannot see them: then poll without
            // blocking.
            let mut drained = false;
            let mut read_any = false;
            if self.paused.is_none() {
                let mut batch_bytes = 0;
                // One clock reading per batch: a frame's arrival time (a
                // reply's latency) is when we started reading it, at most
                // one batch of processing early, and a flood does not pay
                // for a clock call per frame.
                let read_at = Instant::now();
                // A packed message costs the batch one unit, any other
                // event `PACKED_SHARE`: packed, it is far smaller and cheaper.
                let mut budget = READ_BATCH * PACKED_SHARE;
                while budget > 0 {
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
                                dead_peer: false,
                                code,
                                reason,
                            };
                        }
                        Ok(msg) => {
                            read_any = true;
                            batch_bytes += msg.len();
                            let packed = self.incoming(msg, read_at);
                            budget = budget.saturating_sub(if packed { 1 } else { PACKED_SHARE });
                            if self.session.has_effects()
                                && let Err(e) = self.settle(Some(ws))
                            {
                                return e;
                            }
                            if batch_bytes >= READ_BATCH_BYTES {
                                break;
                            }
                        }
                        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                            drained = true;
                            break;
                        }
                        Err(e) => return failed(e, closing.is_some()),
                    }
                }
            }

            let now = Instant::now();
            if read_any {
                self.last_frame = now;
            }
            if self.paused.is_none() {
                if drained {
                    if let Some(since) = self.backlog.take() {
                        self.session.postpone(now.saturating_duration_since(since));
                    }
                } else {
                    self.backlog.get_or_insert(now);
                }
            }
            if closing.is_some_and(|d| now >= d) {
                return Ending {
                    code: Some(1000),
                    reason: "closed (the server did not confirm)".into(),
                    by_client: true,
                    dead_peer: false,
                };
            }
            if closing.is_none() {
                if let Some(due) = next_heartbeat
                    && now >= due
                {
                    // The JS client's rule (PROTOCOL.md §5): the previous
                    // heartbeat must be answered by the time the next is
                    // due. A reply we have not read because our output is
                    // behind does not count against the server.
                    //
                    // Where phx-repl is more lenient: while frames keep
                    // arriving the connection is alive, and the reply may be
                    // queued behind them (a flood); it is judged once the
                    // traffic stops.
                    if let Some(sent) = self.session.unanswered_heartbeat()
                        && !self.paused_since_beat
                        && self.paused.is_none()
                        && self.last_frame < sent
                    {
                        self.session.heartbeat_missed();
                        // Since the oldest unanswered beat: earlier ones may
                        // have been let pass while frames kept arriving.
                        let after = self
                            .session
                            .heartbeat_stats(now)
                            .waiting
                            .unwrap_or_else(|| now.saturating_duration_since(sent));
                        self.batch.push(Event::HeartbeatTimeout { after });
                        // Like the JS client: close with 1000 and move on
                        // without waiting for an answer from a dead peer.
                        let _ = ws.close(Some(CloseFrame {
                            code: CloseCode::Normal,
                            reason: "heartbeat timeout".into(),
                        }));
                        let _ = ws.flush();
                        return Ending {
                            code: Some(1000),
                            reason: "heartbeat timeout".into(),
                            by_client: false,
                            dead_peer: true,
                        };
                    }
                    self.paused_since_beat = self.paused.is_some();
                    let interval = self.options.heartbeat.unwrap_or_default();
                    next_heartbeat = Some(now + interval);
                    if let Err(e) =
                        self.send_request(ws, None, Request::Heartbeat { auto: true }, now)
                    {
                        return e;
                    }
                    continue; // flush it before blocking
                }
                for rejoin in self.session.rejoins_due(now) {
                    self.batch.push(Event::Rejoining {
                        topic: rejoin.frame.topic.to_string(),
                        attempt: rejoin.attempt,
                    });
                    if let Err(e) = write(ws, self.wire(&rejoin.frame)) {
                        return e;
                    }
                    self.batch.push(Event::Sent {
                        id: None,
                        frame: rejoin.frame,
                        auto: false,
                    });
                }
                // Paused, or still reading a backlog, replies may sit
                // unread: the clock stops (see resume and `backlog`).
                if self.paused.is_none() && self.backlog.is_none() {
                    for expired in self.session.expire(now) {
                        self.batch.push(Event::TimedOut(expired));
                    }
                }
                if let Err(e) = self.settle(Some(ws)) {
                    return e;
                }
            }

            let echo_hold = self.hold_echoes(Instant::now());
            if echo_hold.is_none() && !self.deliver() {
                return Ending::output_closed();
            }

            let reply_deadline = match self.paused {
                None => self.session.next_deadline(),
                Some(_) => None,
            };
            let deadline = [
                next_heartbeat.filter(|_| closing.is_none()),
                reply_deadline,
                self.session.next_rejoin().filter(|_| closing.is_none()),
                closing,
                echo_hold,
            ]
            .into_iter()
            .flatten()
            .min();
            // Frames written since the flush above (rejoins, requests
            // released by a join reply) must go out before we block.
            let want_write = want_write
                || match ws.flush() {
                    Ok(()) => false,
                    Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => true,
                    Err(e) => return failed(e, closing.is_some()),
                };
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
            if timeout != Some(Duration::ZERO)
                && std::mem::take(&mut self.answered)
                && self.may_spin
                && closing.is_none()
                && self.spin_for_command()
            {
                continue;
            }
            if let Err(e) = self.poller.wait(&mut events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                return Ending {
                    code: None,
                    reason: format!("poll failed: {e}"),
                    by_client: false,
                    dead_peer: false,
                };
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

    /// While the batch holds nothing but echoes of sent requests, and for
    /// at most `ECHO_HOLD`, says until when to keep it back.
    fn hold_echoes(&mut self, now: Instant) -> Option<Instant> {
        let only_echoes =
            !self.batch.is_empty() && self.batch.iter().all(|e| matches!(e, Event::Sent { .. }));
        if !only_echoes {
            self.echo_held = None;
            return None;
        }
        let until = *self.echo_held.get_or_insert(now + ECHO_HOLD);
        (now < until).then_some(until)
    }

    /// Carries out one command from the front end (not `Close`).
    fn command(&mut self, ws: &mut Socket, msg: ToNet) -> Result<(), Ending> {
        match msg {
            ToNet::Request { id, request } => {
                let now = Instant::now();
                let topic = request_topic(&request);
                match self.session.hold(id, request, now) {
                    Ok(()) => {
                        self.queued(id, topic, "joining");
                        Ok(())
                    }
                    Err(request) => self.send_request(ws, Some(id), request, now),
                }
            }
            ToNet::Raw { id, text } => {
                write(ws, Message::text(text.clone()))?;
                self.batch.push(Event::SentRaw { id, text });
                Ok(())
            }
            ToNet::Topics { id } => {
                let topics = self.session.topics();
                self.batch.push(Event::Topics { id, topics });
                Ok(())
            }
            ToNet::Status { id } => {
                self.status(id);
                Ok(())
            }
            ToNet::Close => Ok(()),
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
                write(ws, self.wire(&frame))?;
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
                let fresh = self.fresh_batch();
                let batch = std::mem::replace(&mut self.batch, fresh);
                (self.emit)(batch)
            }
            Err(TrySendError::Full(())) => {
                // Say we are waiting, then look once more: a slot freed
                // before the flag was seen is found here, one freed after
                // it wakes us (see `Handle::batch_done`).
                self.starved.store(true, Ordering::SeqCst);
                if self.credits.try_send(()).is_ok() {
                    self.starved.store(false, Ordering::SeqCst);
                    self.resume();
                    let fresh = self.fresh_batch();
                    let batch = std::mem::replace(&mut self.batch, fresh);
                    return (self.emit)(batch);
                }
                // The pause takes over from the backlog (see resume).
                if let Some(since) = self.backlog.take() {
                    self.session.postpone(since.elapsed());
                }
                self.paused.get_or_insert_with(Instant::now);
                self.paused_since_beat = true;
                true
            }
            Err(TrySendError::Disconnected(())) => false,
        }
    }

    /// An empty batch, reused if the front end has given one back.
    fn fresh_batch(&mut self) -> Vec<Event> {
        match self.spares.try_recv() {
            Ok(mut handled) => {
                for ev in handled.drain(..) {
                    // One too small would grow step by step, one too big
                    // would keep memory.
                    if let Event::Messages(mut pack) = ev
                        && (PACK_BYTES..=SPARE_PACK_BYTES).contains(&pack.capacity())
                        && self.spare_packs.len() < BATCHES_IN_FLIGHT
                    {
                        pack.clear();
                        self.spare_packs.push(*pack);
                    }
                }
                handled
            }
            Err(_) => Vec::with_capacity(64),
        }
    }

    /// Reads again after a pause; reply timeouts do not count the pause.
    fn resume(&mut self) {
        self.starved.store(false, Ordering::SeqCst);
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

    /// Handles one received WebSocket message (not a close); true if it
    /// was packed.
    fn incoming(&mut self, msg: Message, now: Instant) -> bool {
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
                // A message that does not fit (very long refs or names)
                // takes no new pack; in an open one, `push_checked` refuses.
                if !matches!(self.batch.last(), Some(Event::Messages(_))) && Packed::fits(&v) {
                    // Sized for a full batch of small messages at once:
                    // growing step by step would touch far more memory.
                    let pack = self.spare_packs.pop().unwrap_or_else(|| {
                        Packed::with_capacity(READ_BATCH * PACKED_SHARE, PACK_BYTES)
                    });
                    self.batch.push(Event::Messages(Box::new(pack)));
                }
                // The envelope around the parts is printable ASCII, so
                // the whole text tells about the parts.
                let ascii = protocol::printable_ascii(text.as_bytes(), false);
                if let Some(Event::Messages(pack)) = self.batch.last_mut()
                    && pack.push_checked(&v, ascii)
                {
                    return true;
                }
            }
            let frame = v.to_frame();
            self.batch
                .push(Event::Message(PhxMessage { frame, kind, stale }));
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
        self.batch.push(event);
        false
    }
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

/// A request as a user typed it, for messages: `leave room:lobby`.
fn describe(request: &Request) -> String {
    match request {
        Request::Join { topic, .. } => format!("`join {topic}`"),
        Request::Leave { topic: Some(t) } => format!("`leave {t}`"),
        Request::Leave { topic: None } => "`leave`".to_owned(),
        Request::Push { topic, event, .. } => format!("push `{event}` to `{topic}`"),
        Request::Heartbeat { .. } => "`heartbeat`".to_owned(),
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

/// `10 s`, `250 ms`.
fn fmt_secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

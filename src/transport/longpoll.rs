//! The long-poll transport (docs/PROTOCOL.md §7), for networks that do not let
//! WebSockets through.
//!
//! Phoenix's long-poll speaks the same frames over plain HTTP: a GET
//! without a token opens a session (`{"status":410,"token":…}`), GETs with
//! the token wait for messages (`200` with `messages`, or `204`), and POSTs
//! carry the client's frames as NDJSON. The HTTP status is always 200; the
//! real one is the JSON `status`.
//!
//! Everything above the transport (session, reconnects, rejoins, output)
//! is written against a WebSocket, so long-poll plugs in beneath it as a
//! bridge: [`connect`] opens the long-poll session, then hands back a
//! WebSocket connected over loopback to a bridge thread that turns each
//! frame it receives into a POST and each polled message into a frame. When
//! the session ends (410 with a token, a failed request), the bridge closes
//! the WebSocket with the JS client's codes (3410, 1011), and the usual
//! reconnect logic takes over. Heartbeats are not sent on long-poll, as in
//! the JS client; the caller turns them off.
//!
//! Each request is one blocking HTTP/1.1 exchange with `Connection: close`
//! on the bridge's own threads; `httparse` reads the answer's head and its
//! chunk sizes. TCP connect and the TLS descriptions come from
//! `transport::websocket`; the network thread sees only the WebSocket.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use data_encoding::BASE64;
use polling::{Events, Poller};
use serde::Deserialize;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Message, WebSocket};
use url::Url;

use crate::core::endpoint;
use crate::transport::tls::Trust;
use crate::transport::websocket::{
    Asked, ConnectError, Counted, HttpAnswer, Socket, TlsFailure, secs, tcp_connect,
    tls_connection, tls_error,
};

/// How long one poll may take: the server answers within its window
/// (10 s in Phoenix); the JS client gives up after 20 s.
const POLL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a POST may take. The opening GET gets `--timeout`, like the
/// WebSocket upgrade.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read: a hostile endpoint must not grow memory
/// without bound.
const MAX_ANSWER: usize = 64 << 20;
/// Frames per POST, as Phoenix accepts at most 100 lines (docs/PROTOCOL.md §4).
const MAX_BATCH: usize = 100;
/// The JS client's close codes for a session that is gone and for a
/// failed request (docs/PROTOCOL.md §5). The server sends neither: long-poll
/// has no close frames. The connection loop reports a bridge close with
/// `CLOSE_ERROR` as a lost connection, without the code.
const CLOSE_SESSION_GONE: u16 = 3410;
pub const CLOSE_ERROR: u16 = 1011;

/// Why a long-poll request, or opening a session, failed. Each renders as
/// one line.
#[derive(Debug, thiserror::Error)]
pub enum LongPollError {
    /// Resolving, TCP or TLS: told as for a WebSocket.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server answered `path` with another HTTP status than 200, which
    /// every long-poll answer has.
    #[error("{}", AnswerAt(.path, .answer))]
    Http { path: String, answer: HttpAnswer },
    /// Reading or writing the request failed.
    #[error("long-poll request failed: {0}")]
    Request(io::Error),
    /// The whole answer did not arrive within the request's time.
    #[error("the long-poll endpoint gave no complete answer within {}", secs(*.0))]
    TooSlow(Duration),
    /// The connection closed before a byte of the answer.
    #[error("the server closed the connection without answering")]
    NoAnswer,
    /// The answer is not an HTTP response.
    #[error("the long-poll answer is not HTTP: {0}")]
    NotHttp(#[from] NotHttp),
    /// The body is not the JSON of a long-poll answer.
    #[error("the long-poll endpoint did not answer JSON ({error}): {excerpt}")]
    NotJson {
        error: serde_json::Error,
        excerpt: String,
    },
    /// Opening the session was refused (status 403).
    #[error(
        "the long-poll endpoint refused the session (status 403): connect/3 refused \
         the params (check -p token=…) or the token (--auth-token), the vsn is not \
         supported, or check_origin rejected the Origin header (set the one your app \
         expects with --origin)"
    )]
    Refused,
    /// Opening the session was answered with another status than 410.
    #[error(
        "the long-poll endpoint answered status {0} to a new session (expected 410 and a token)"
    )]
    NoSession(u16),
    /// The loopback WebSocket or its threads could not be set up.
    #[error("long-poll bridge: {0}")]
    Bridge(io::Error),
}

/// An unexpected answer in long-poll words.
struct AnswerAt<'a>(&'a str, &'a HttpAnswer);

impl std::fmt::Display for AnswerAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.1.describe(f, self.0, Asked::LongPoll)
    }
}

/// What makes an answer not HTTP.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotHttp {
    #[error("the answer ended within its headers")]
    Incomplete,
    #[error("headers are not UTF-8")]
    NotUtf8,
    #[error("no status line")]
    NoStatus,
    #[error("bad header: {0}")]
    BadHeader(httparse::Error),
    #[error("bad chunked body")]
    BadChunks,
}

/// The long-poll endpoint of a URL: `http(s)://…/longpoll…` means
/// long-poll; `ws(s)://` does not.
pub fn endpoint(url: &Url) -> Option<Url> {
    matches!(url.scheme(), "http" | "https").then(|| url.clone())
}

/// The body of every long-poll answer.
#[derive(Debug, Deserialize)]
struct Answer {
    status: u16,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    messages: Vec<String>,
}

/// How to reach the endpoint: URL, headers and trust, shared by the
/// bridge's requests.
#[derive(Debug, Clone)]
struct Endpoint {
    url: Url,
    headers: Vec<(String, String)>,
    trust: Trust,
}

impl Endpoint {
    /// One request with `token` (if any) added to the query; the answer's
    /// JSON body.
    fn request(
        &self,
        method: &str,
        token: Option<&str>,
        body: Option<&Body>,
        timeout: Duration,
    ) -> Result<Answer, LongPollError> {
        let mut url = self.url.clone();
        if let Some(t) = token {
            url.query_pairs_mut().append_pair("token", t);
        }
        let answer = http(&url, method, &self.headers, body, &self.trust, timeout)?;
        if answer.status != 200 {
            return Err(LongPollError::Http {
                path: url.path().to_owned(),
                answer,
            });
        }
        serde_json::from_str(&answer.body).map_err(|error| LongPollError::NotJson {
            error,
            excerpt: crate::output::excerpt(&answer.body, 120),
        })
    }
}

/// Opens a long-poll session at `url` and returns a WebSocket bridged to it.
pub fn connect(
    url: &Url,
    headers: &[(String, String)],
    trust: &Trust,
    timeout: Duration,
) -> Result<Socket, LongPollError> {
    // The token travels in its own header on long-poll (docs/PROTOCOL.md §1);
    // the subprotocol header means nothing here.
    let mut lp_headers = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            if let Some(token) = bearer_token(value) {
                lp_headers.push(("X-Phoenix-AuthToken".to_owned(), token));
            }
        } else {
            lp_headers.push((name.clone(), value.clone()));
        }
    }
    let endpoint = Endpoint {
        url: url.clone(),
        headers: lp_headers,
        trust: trust.clone(),
    };
    let opened = endpoint.request("GET", None, None, timeout)?;
    let token = match (opened.status, opened.token) {
        (410, Some(token)) => token,
        (403, _) => return Err(LongPollError::Refused),
        (status, _) => return Err(LongPollError::NoSession(status)),
    };
    bridge(endpoint, token).map_err(LongPollError::Bridge)
}

/// Why a request of a running session failed, in long-poll terms (the
/// connect-time wording of `ConnectError` speaks of a handshake).
fn failed(method: &str, e: &LongPollError) -> String {
    let detail = match e {
        LongPollError::Request(e) => e.to_string(),
        other => other.to_string(),
    };
    let mut text = format!("a long-poll {method} failed: {detail}");
    // It travels as a close frame's reason: at most 123 bytes.
    if text.len() > 123 {
        let mut end = 120;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The token in a `phoenix, base64url.bearer.phx.<Base64>` header value.
fn bearer_token(value: &str) -> Option<String> {
    let encoded = value
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(endpoint::AUTH_TOKEN_PREFIX))?;
    String::from_utf8(endpoint::decode_auth_token(encoded)?).ok()
}

/// Starts the bridge thread and returns the client end of the loopback
/// WebSocket, non-blocking, as `websocket::connect` returns one.
fn bridge(endpoint: Endpoint, token: String) -> io::Result<Socket> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr)?;
    let ours = client.local_addr()?;
    let server = accept_ours(&listener, ours)?;
    server.set_nodelay(true)?;
    client.set_nodelay(true)?;
    // Both ends already are WebSockets: no HTTP upgrade on loopback.
    let server_ws = WebSocket::from_raw_socket(server, Role::Server, None);
    let ws = WebSocket::from_raw_socket(
        Counted::new(tungstenite::stream::MaybeTlsStream::Plain(client), 0),
        Role::Client,
        None,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let poller = Arc::new(Poller::new()?);
    let token = Arc::new(Mutex::new(token));
    let (tx, rx) = mpsc::channel();
    {
        let endpoint = endpoint.clone();
        let (token, stop, poller) = (Arc::clone(&token), Arc::clone(&stop), Arc::clone(&poller));
        thread::Builder::new()
            .name("longpoll-get".into())
            .spawn(move || poll_loop(&endpoint, &token, &stop, &tx, &poller))?;
    }
    thread::Builder::new()
        .name("longpoll-bridge".into())
        .spawn(move || {
            let mut pump = Pump {
                endpoint,
                token,
                stop,
                poller,
                rx,
                ws: server_ws,
            };
            pump.run();
            pump.stop.store(true, Ordering::Relaxed);
        })?;
    if let Some(tungstenite::stream::MaybeTlsStream::Plain(s)) = ws.get_ref().get_ref() {
        s.set_nonblocking(true)?;
    }
    Ok(ws)
}

/// Accepts the loopback connection we just made, and no other. It is
/// already queued, so this does not wait.
fn accept_ours(listener: &TcpListener, ours: SocketAddr) -> io::Result<TcpStream> {
    loop {
        let (stream, peer) = listener.accept()?;
        if peer == ours {
            return Ok(stream);
        }
    }
}

/// What the polling thread tells the bridge.
enum Polled {
    Messages(Vec<String>),
    /// The session is over: close with this code and reason.
    Ended(u16, String),
}

/// GETs until stopped, handing messages to the bridge.
fn poll_loop(
    endpoint: &Endpoint,
    token: &Mutex<String>,
    stop: &AtomicBool,
    tx: &Sender<Polled>,
    waker: &Poller,
) {
    while !stop.load(Ordering::Relaxed) {
        let current = token.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let polled = match endpoint.request("GET", Some(&current), None, POLL_TIMEOUT) {
            Ok(answer) => {
                if let Some(t) = answer.token.clone()
                    && answer.status != 410
                {
                    *token.lock().unwrap_or_else(PoisonError::into_inner) = t;
                }
                match answer.status {
                    200 => Polled::Messages(answer.messages),
                    204 => continue,
                    410 => Polled::Ended(CLOSE_SESSION_GONE, "session gone".into()),
                    403 => Polled::Ended(1008, "forbidden".into()),
                    other => Polled::Ended(CLOSE_ERROR, format!("poll answered status {other}")),
                }
            }
            Err(e) => Polled::Ended(CLOSE_ERROR, failed("GET", &e)),
        };
        let ended = matches!(polled, Polled::Ended(..));
        if tx.send(polled).is_err() {
            return;
        }
        let _ = waker.notify();
        if ended {
            return;
        }
    }
}

/// The bridge: frames from the WebSocket go out as POSTs, polled messages
/// come in as frames.
struct Pump {
    endpoint: Endpoint,
    token: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    poller: Arc<Poller>,
    rx: Receiver<Polled>,
    ws: WebSocket<TcpStream>,
}

impl Pump {
    fn run(&mut self) {
        if self.ws.get_ref().set_nonblocking(true).is_err() {
            return;
        }
        // SAFETY: deleted from the poller before `ws` is dropped, below.
        if unsafe {
            self.poller
                .add(self.ws.get_ref(), polling::Event::readable(0))
        }
        .is_err()
        {
            return;
        }
        let mut events = Events::new();
        let result = loop {
            let want_write = match self.turn() {
                Ok(w) => w,
                Err(e) => break e,
            };
            events.clear();
            let _ = self
                .poller
                .modify(self.ws.get_ref(), polling::Event::new(0, true, want_write));
            if self.poller.wait(&mut events, None).is_err() {
                break None;
            }
        };
        if let Some((code, reason)) = result {
            let _ = self.ws.close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            }));
            // Blocking, so the close frame surely goes out.
            let _ = self.ws.get_ref().set_nonblocking(false);
            let _ = self.ws.flush();
        }
        let _ = self.poller.delete(self.ws.get_ref());
    }

    /// One pass: polled messages to the socket, socket frames to a POST.
    /// `Ok(true)` when frames wait for the socket to take them;
    /// `Err(Some(close))` ends the session with a close frame, `Err(None)`
    /// without one (the client closed).
    fn turn(&mut self) -> Result<bool, Option<(u16, String)>> {
        while let Ok(polled) = self.rx.try_recv() {
            match polled {
                Polled::Messages(messages) => {
                    for m in messages {
                        let message = if m.starts_with('[') || m.starts_with('{') {
                            Message::text(m)
                        } else {
                            match BASE64.decode(m.as_bytes()) {
                                Ok(data) => Message::binary(data),
                                Err(_) => Message::text(m),
                            }
                        };
                        self.send(message)?;
                    }
                }
                Polled::Ended(code, reason) => return Err(Some((code, reason))),
            }
        }
        let mut batch: Vec<String> = Vec::new();
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => batch.push(t.as_str().to_owned()),
                Ok(Message::Binary(b)) => batch.push(BASE64.encode(&b)),
                Ok(Message::Close(_)) => {
                    let _ = self.ws.flush();
                    return Err(None);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return Err(None),
            }
        }
        for body in bodies(&batch) {
            self.post(&body)?;
        }
        match self.ws.flush() {
            Ok(()) => Ok(false),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(true),
            Err(_) => Err(None),
        }
    }

    fn send(&mut self, message: Message) -> Result<(), Option<(u16, String)>> {
        match self.ws.write(message) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(_) => Err(None),
        }
    }

    /// POSTs one body of frames (see [`bodies`]).
    fn post(&mut self, body: &Body) -> Result<(), Option<(u16, String)>> {
        let token = self
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match self
            .endpoint
            .request("POST", Some(&token), Some(body), REQUEST_TIMEOUT)
        {
            Ok(Answer { status: 200, .. }) => Ok(()),
            Ok(Answer { status: 410, .. }) => {
                Err(Some((CLOSE_SESSION_GONE, "session gone".to_owned())))
            }
            Ok(Answer { status, .. }) => Err(Some((
                CLOSE_ERROR,
                format!("the server answered status {status} to a POST"),
            ))),
            Err(e) => Err(Some((CLOSE_ERROR, failed("POST", &e)))),
        }
    }
}

/// Splits frames into POST bodies. One JSON frame goes alone as
/// `application/json`, which every Phoenix version takes. Several go as
/// `application/x-ndjson`, at most [`MAX_BATCH`] lines, where Phoenix reads
/// a line starting with `[` as a V2 frame and any other line as Base64
/// binary (docs/PROTOCOL.md §7). A V1 frame (`{…}`) would be taken for Base64
/// there, so each goes in a body of its own.
fn bodies(frames: &[String]) -> Vec<Body> {
    let mut out = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let flush = |lines: &mut Vec<&str>, out: &mut Vec<Body>| {
        match lines.as_slice() {
            [] => {}
            [one] if one.starts_with('[') => out.push(Body {
                text: (*one).to_owned(),
                content_type: "application/json",
            }),
            many => out.push(Body {
                text: many.join("\n"),
                content_type: "application/x-ndjson",
            }),
        }
        lines.clear();
    };
    for frame in frames {
        if frame.starts_with('{') {
            flush(&mut lines, &mut out);
            out.push(Body {
                text: frame.clone(),
                content_type: "application/json",
            });
        } else {
            lines.push(frame);
            if lines.len() == MAX_BATCH {
                flush(&mut lines, &mut out);
            }
        }
    }
    flush(&mut lines, &mut out);
    out
}

/// A request body and its type.
#[derive(Debug, PartialEq)]
struct Body {
    text: String,
    content_type: &'static str,
}

/// A minimal HTTP/1.1 exchange with `Connection: close`: the status and the
/// body as text. Enough for Phoenix's long-poll answers (JSON, with a
/// Content-Length, chunked, or up to the close). `timeout` bounds the whole
/// exchange, not each read, so a server trickling bytes cannot hold it.
fn http(
    url: &Url,
    method: &str,
    headers: &[(String, String)],
    body: Option<&Body>,
    trust: &Trust,
    timeout: Duration,
) -> Result<HttpAnswer, LongPollError> {
    let deadline = Instant::now() + timeout;
    let tcp = tcp_connect(url)?;
    let clock = tcp.try_clone().map_err(LongPollError::Request)?;
    let io_err = |e: io::Error| match tls_error(&e) {
        Some(t) => LongPollError::Connect(ConnectError::Tls(t.clone().into())),
        None if e.kind() == ErrorKind::TimedOut => LongPollError::TooSlow(timeout),
        None => LongPollError::Request(e),
    };
    tcp.set_read_timeout(Some(timeout)).map_err(io_err)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io_err)?;
    let req = request_text(url, method, headers, body);
    let mut raw = Vec::new();
    if url.scheme() == "https" {
        let conn = tls_connection(url, trust)?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let exchanged = stream
            .write_all(req.as_bytes())
            .and_then(|()| read_to_close(&mut stream, &clock, deadline, &mut raw));
        match exchanged {
            Err(e)
                if stream.conn.is_handshaking()
                    && matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof
                            | ErrorKind::ConnectionReset
                            | ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(ConnectError::Tls(TlsFailure::ClosedInHandshake).into());
            }
            other => other.map_err(io_err)?,
        }
    } else {
        let mut stream = tcp;
        stream.write_all(req.as_bytes()).map_err(io_err)?;
        read_to_close(&mut stream, &clock, deadline, &mut raw).map_err(io_err)?;
    }
    if raw.is_empty() {
        return Err(LongPollError::NoAnswer);
    }
    Ok(parse_response(&raw)?)
}

/// The request's bytes: request line, headers, and the body if any.
fn request_text(
    url: &Url,
    method: &str,
    headers: &[(String, String)],
    body: Option<&Body>,
) -> String {
    let host = url.host_str().unwrap_or_default();
    let mut req = format!(
        "{method} {}{} HTTP/1.1\r\nHost: {host}{}\r\nAccept: application/json\r\nConnection: close\r\n",
        url.path(),
        url.query().map(|q| format!("?{q}")).unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            b.content_type,
            b.text.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(&b.text);
    }
    req
}

/// Reads until the server closes, by `deadline` and at most `MAX_ANSWER`
/// bytes. A TLS peer that closes without close_notify still delivered the
/// whole answer. `tcp` is the stream's socket, whose read timeout is set
/// to what is left before each read.
fn read_to_close(
    stream: &mut impl Read,
    tcp: &TcpStream,
    deadline: Instant,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let too_slow = || io::Error::new(ErrorKind::TimedOut, "no complete answer in time");
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(too_slow());
        }
        tcp.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) if out.len() + n > MAX_ANSWER => {
                return Err(io::Error::other(format!(
                    "the answer is larger than {} MiB",
                    MAX_ANSWER >> 20
                )));
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !out.is_empty() => return Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(too_slow());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Headers read from an answer; Phoenix sends about ten.
const MAX_HEADERS: usize = 64;

/// Reads an HTTP/1.x response, read to the end: its status line, headers
/// and body.
/// As lenient as a browser with a header line it cannot read: it is
/// skipped (only the framing headers matter here).
fn parse_response(raw: &[u8]) -> Result<HttpAnswer, NotHttp> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let parsed = httparse::ParserConfig::default()
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true)
        .parse_response(&mut response, raw);
    let head_len = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        // The whole answer is in: a head without its blank line (or
        // bytes that never were a head) ended early.
        Ok(httparse::Status::Partial) => return Err(NotHttp::Incomplete),
        Err(_) if !raw.windows(4).any(|w| w == b"\r\n\r\n") => return Err(NotHttp::Incomplete),
        Err(httparse::Error::Status | httparse::Error::Version) => return Err(NotHttp::NoStatus),
        Err(e) => return Err(NotHttp::BadHeader(e)),
    };
    if std::str::from_utf8(&raw[..head_len]).is_err() {
        return Err(NotHttp::NotUtf8);
    }
    response.code.ok_or(NotHttp::NoStatus)?;
    let mut chunked = false;
    let mut length = None;
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        let value = value.trim();
        if header.name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
            chunked = true;
        } else if header.name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = &raw[head_len..];
    let decoded;
    if chunked {
        decoded = dechunk(body).ok_or(NotHttp::BadChunks)?;
        body = &decoded;
    } else if let Some(n) = length {
        body = &body[..n.min(body.len())];
    }
    Ok(HttpAnswer::from_head(&response, body))
}

/// The data of a chunked body (RFC 9112 §7.1); trailers are ignored.
/// `httparse` reads each chunk's size line, extensions and all.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Ok(httparse::Status::Complete((start, size))) = httparse::parse_chunk_size(body) else {
            return None;
        };
        let size = usize::try_from(size).ok()?;
        body = &body[start..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        // The CRLF after the data is skipped, not checked: a sloppy
        // server's answer still reads.
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(bodies: &[Body]) -> Vec<(&str, usize)> {
        bodies
            .iter()
            .map(|b| (b.content_type, b.text.lines().count()))
            .collect()
    }

    #[test]
    fn v1_frames_are_posted_one_per_json_body_never_as_ndjson_lines() {
        let v1 = |n: usize| format!(r#"{{"topic":"t","event":"e","payload":{{}},"ref":"{n}"}}"#);
        let v2 = |n: usize| format!(r#"["1","{n}","t","e",{{}}]"#);
        let bodies = bodies(&[v1(1), v1(2)]);
        assert_eq!(
            kinds(&bodies),
            [("application/json", 1), ("application/json", 1)]
        );
        assert_eq!(bodies[1].text, v1(2));

        // V2 frames and Base64 binary share NDJSON bodies of at most 100 lines.
        let frames: Vec<String> = (0..150).map(v2).chain(["AAE=".to_owned()]).collect();
        let b = super::bodies(&frames);
        assert_eq!(
            kinds(&b),
            [("application/x-ndjson", 100), ("application/x-ndjson", 51)]
        );
        assert!(b[1].text.ends_with("\nAAE="));
        assert_eq!(kinds(&super::bodies(&[v2(1)])), [("application/json", 1)]);
        assert_eq!(
            kinds(&super::bodies(&["AAE=".to_owned()])),
            [("application/x-ndjson", 1)]
        );
        assert!(super::bodies(&[]).is_empty());
    }

    fn status_body(raw: &[u8]) -> (u16, String) {
        let answer = parse_response(raw).unwrap();
        (answer.status, answer.body)
    }

    #[test]
    fn responses_with_length_chunks_or_neither_are_read() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk";
        assert_eq!(status_body(r), (200, "{}".to_owned()));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(status_body(r), (200, "{\"a\":1}".to_owned()));
        let r = b"HTTP/1.1 404 Not Found\r\n\r\nnope";
        assert_eq!(status_body(r), (404, "nope".to_owned()));
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn chunk_extensions_and_unreadable_header_lines_are_taken_in_stride() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\n{}\r\n0\r\n\r\n";
        assert_eq!(status_body(r), (200, "{}".to_owned()));
        let r = b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\n{}junk";
        assert_eq!(status_body(r), (200, "{}".to_owned()));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
        assert_eq!(parse_response(r), Err(NotHttp::BadChunks));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n"),
            Err(NotHttp::Incomplete)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Err(NotHttp::NoStatus)
        );
    }

    #[test]
    fn a_failed_request_is_told_in_long_poll_terms_and_fits_a_close_frame() {
        let e = LongPollError::Request(io::Error::new(
            ErrorKind::ConnectionReset,
            "connection reset",
        ));
        assert_eq!(
            failed("GET", &e),
            "a long-poll GET failed: connection reset"
        );
        let long = LongPollError::NoSession(0);
        let long = LongPollError::NotJson {
            error: serde_json::from_str::<Answer>("x").unwrap_err(),
            excerpt: format!("{long}{}", "é".repeat(100)),
        };
        let text = failed("POST", &long);
        assert!(text.len() <= 123 && text.ends_with('…'), "{text}");
    }

    #[test]
    fn an_answer_that_is_not_200_is_told_in_long_poll_words() {
        let raw = b"HTTP/1.0 404 File not found\r\nContent-Type: text/html\r\n\r\n<html>";
        let answer = parse_response(raw).unwrap();
        assert_eq!((answer.minor, answer.status), (0, 404));
        let text = LongPollError::Http {
            path: "/longpoll".into(),
            answer,
        }
        .to_string();
        assert_eq!(
            text,
            "the server answered HTTP/1.0 404 File not found to /longpoll instead of a \
             long-poll answer; is this the socket path? Phoenix serves it at /socket/longpoll \
             (the path of `socket \"/socket\", …` in endpoint.ex)"
        );
        let answer = parse_response(b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down").unwrap();
        let text = LongPollError::Http {
            path: "/socket/longpoll".into(),
            answer,
        }
        .to_string();
        assert!(
            text.ends_with(
                "long-poll answer (body: upstream down); the server failed: its log says why"
            ),
            "{text}"
        );
        assert!(!text.contains("WebSocket"), "{text}");
    }

    #[test]
    fn the_bearer_token_is_read_back_from_the_subprotocol_value() {
        let (_, value) = crate::core::endpoint::auth_token_header("s3cret");
        assert_eq!(bearer_token(&value).as_deref(), Some("s3cret"));
        assert_eq!(bearer_token("phoenix"), None);
    }

    #[test]
    fn only_http_urls_are_long_poll() {
        let lp = Url::parse("http://h/socket/longpoll?vsn=2.0.0").unwrap();
        assert!(endpoint(&lp).is_some());
        let ws = Url::parse("ws://h/socket/websocket").unwrap();
        assert!(endpoint(&ws).is_none());
    }
}

//! Opening a WebSocket: the TCP connection (each address with a deadline),
//! TLS for `wss://` only, and the HTTP upgrade; and, when that fails, one
//! line saying why and what to try ([`ConnectError`]).
//!
//! Nothing here waits on its own: the network thread's dialer
//! (`transport::dial`) resolves and connects without blocking, then drives
//! [`Handshake`] as the socket is ready, with the deadlines as its timers.
//! What happens on the socket once it is open belongs to `transport::net`;
//! the long-poll transport (`transport::longpoll`) reuses the blocking TCP
//! connect ([`tcp_connect`], on its own threads) and the TLS descriptions.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::{HeaderName, HeaderValue, StatusCode};
use tungstenite::protocol::Role;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use url::Url;

use crate::transport::tls::{self, Trust};

/// The connected WebSocket.
pub type Socket = WebSocket<Counted>;

/// The stream under an open WebSocket, counting the bytes read through it.
/// tungstenite's read buffer keeps the capacity of the largest frame it
/// ever read; against the bytes of the frames handed out, the count tells
/// when that buffer holds nothing, so that the socket can be given a fresh
/// one (`net/conn.rs`).
#[derive(Debug)]
pub struct Counted {
    /// `None` only in a socket being replaced, which is never read again.
    stream: Option<MaybeTlsStream<TcpStream>>,
    read: u64,
}

impl Counted {
    /// `buffered` bytes were read before, into the new socket's buffer.
    pub fn new(stream: MaybeTlsStream<TcpStream>, buffered: usize) -> Counted {
        Counted {
            stream: Some(stream),
            read: buffered as u64,
        }
    }

    /// Every byte read through it, and those it started with.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    pub fn get_ref(&self) -> Option<&MaybeTlsStream<TcpStream>> {
        self.stream.as_ref()
    }

    /// Moves the stream out, to build a new socket on it; this one fails
    /// every read and write from then on.
    pub fn take(&mut self) -> Option<MaybeTlsStream<TcpStream>> {
        self.stream.take()
    }

    fn stream(&mut self) -> io::Result<&mut MaybeTlsStream<TcpStream>> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(ErrorKind::NotConnected))
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream()?.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream()?.flush()
    }
}

/// How many bytes tungstenite read for a message that came as one frame
/// from a server (which never masks): the payload and the shortest header
/// for its length. A message in several frames, or with a longer header
/// than needed, took more, never less.
pub fn frame_bytes(payload: usize) -> u64 {
    let header = match payload {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    (header + payload) as u64
}

/// Headers read from the answer to an upgrade: as many as tungstenite
/// reads, so that a head it took is one this file can find the end of.
const MAX_HEADERS: usize = 124;

/// How long opening a TCP connection may take, per address.
pub(crate) const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why connecting failed. Each variant renders as one line with a hint.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name gave no address.
    Resolve { host: String, error: io::Error },
    /// No address of the host took a TCP connection.
    Tcp { addr: String, error: io::Error },
    /// The server answered the upgrade at `path` with something else than
    /// `101 Switching Protocols`, in any HTTP version.
    Http { path: String, answer: HttpAnswer },
    /// The TLS handshake failed, or TLS could not start.
    Tls(TlsFailure),
    /// The trust for `wss://` could not be built (`--ca-cert`).
    TlsConfig(tls::TlsError),
    /// The WebSocket upgrade failed.
    Handshake(Upgrade),
}

/// An HTTP answer that is not the one asked for: not the upgrade, or on
/// long-poll not `200`. Enough of it to say what the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The minor version: 0 for `HTTP/1.0` (what `python3 -m http.server`
    /// answers), 1 for `HTTP/1.1`.
    pub minor: u8,
    pub status: u16,
    /// The reason phrase as sent; empty if there was none.
    pub reason: String,
    /// Where a redirect points.
    pub location: Option<String>,
    pub body: String,
}

/// Which request an [`HttpAnswer`] answered, for its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    Upgrade,
    LongPoll,
}

impl HttpAnswer {
    /// The answer from a parsed head and its body.
    pub(crate) fn from_head(head: &httparse::Response<'_, '_>, body: &[u8]) -> HttpAnswer {
        let location = head
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("location"))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
            .filter(|l| !l.is_empty());
        HttpAnswer {
            minor: head.version.unwrap_or(1),
            status: head.code.unwrap_or_default(),
            reason: head.reason.unwrap_or_default().trim().to_owned(),
            location,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The answer at the start of `raw`, all that was read of it: its head
    /// (which must be complete) and the body as far as it came, or as far
    /// as its `Content-Length`. None if it is no HTTP head.
    fn read(raw: &[u8]) -> Option<HttpAnswer> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(n) = head.parse(raw).ok()? else {
            return None;
        };
        let mut body = &raw[n..];
        let length = head
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            });
        if let Some(len) = length {
            body = &body[..len.min(body.len())];
        }
        Some(HttpAnswer::from_head(&head, body))
    }

    /// `HTTP/1.0 404 Not Found`; a missing reason phrase is filled in.
    pub fn status_line(&self) -> String {
        let reason = if self.reason.is_empty() {
            StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or_default()
        } else {
            &self.reason
        };
        format!("HTTP/1.{} {} {reason}", self.minor, self.status)
            .trim_end()
            .to_owned()
    }

    /// The body, if it is worth a place on the error line: not empty and
    /// not a web page.
    fn shown_body(&self) -> Option<String> {
        let body = self.body.trim();
        (!body.is_empty() && !body.starts_with('<')).then(|| crate::output::excerpt(body, 200))
    }

    /// One line: what came back, and the likely cause with what to try.
    pub(crate) fn describe(
        &self,
        f: &mut fmt::Formatter<'_>,
        path: &str,
        asked: Asked,
    ) -> fmt::Result {
        let (instead, socket_path) = match asked {
            Asked::Upgrade => ("instead of upgrading to a WebSocket", "/socket/websocket"),
            Asked::LongPoll => ("instead of a long-poll answer", "/socket/longpoll"),
        };
        write!(
            f,
            "the server answered {} to {path} {instead}",
            self.status_line()
        )?;
        if let Some(body) = self.shown_body() {
            write!(f, " (body: {body})")?;
        }
        match (self.status, &self.location) {
            (403, _) => f.write_str(
                "; 403 usually means connect/3 refused the params (check -p token=…) \
                 or the token (--auth-token), an unsupported vsn, or check_origin \
                 rejected the Origin header (set the one your app expects with --origin)",
            ),
            (300..=399, Some(to)) => write!(f, "; it redirects to {to}: connect to that URL"),
            (500..=599, _) => f.write_str("; the server failed: its log says why"),
            _ => write!(
                f,
                "; is this the socket path? Phoenix serves it at {socket_path} \
                 (the path of `socket \"/socket\", …` in endpoint.ex)"
            ),
        }
    }
}

/// Why TLS failed once the trust was built.
#[derive(Debug, thiserror::Error)]
pub enum TlsFailure {
    /// The server answered the TLS hello with something else than TLS:
    /// a plain HTTP port.
    #[error("this port does not speak TLS; try ws:// or http://")]
    NotTls,
    /// The server hung up before the TLS handshake was done.
    #[error(
        "the server closed the connection during the TLS handshake; \
         if this port does not speak TLS, try ws:// or http://"
    )]
    ClosedInHandshake,
    /// rustls refused the server (its certificate, most often), told in
    /// words with what to do.
    #[error("{}", describe_tls(.0))]
    Rustls(rustls::Error),
    /// tungstenite could not start TLS, in its words.
    #[error("{0}")]
    Start(tungstenite::error::TlsError),
    /// The host cannot be a TLS server name.
    #[error("bad server name `{host}`: {error}")]
    ServerName {
        host: String,
        error: rustls::pki_types::InvalidDnsNameError,
    },
}

impl From<rustls::Error> for TlsFailure {
    /// A TLS record of a type that does not exist is the first byte of a
    /// plain answer, as `HTTP/1.1 400`: the port does not speak TLS.
    fn from(e: rustls::Error) -> TlsFailure {
        match e {
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                TlsFailure::NotTls
            }
            other => TlsFailure::Rustls(other),
        }
    }
}

/// Why the WebSocket upgrade failed, after TCP (and TLS) got through.
#[derive(Debug, thiserror::Error)]
pub enum Upgrade {
    /// A `-H` header name is not a valid HTTP header name.
    #[error("invalid header name `{0}`")]
    HeaderName(String),
    /// A `-H` header value is not a valid HTTP header value.
    #[error("invalid value for header `{0}`")]
    HeaderValue(String),
    /// The URL does not make an upgrade request.
    #[error("{0}")]
    Request(tungstenite::Error),
    /// Setting up the TCP socket failed.
    #[error("{0}")]
    Socket(io::Error),
    /// The whole upgrade ran past `--timeout`.
    #[error(
        "the server did not answer the upgrade within {}; is this a Phoenix socket \
         endpoint? (--timeout sets the limit)",
        secs(*.0)
    )]
    TooSlow(Duration),
    /// A read or write of the upgrade timed out.
    #[error("the server did not answer the upgrade in time")]
    TimedOut,
    /// The server hung up without an answer.
    #[error("the server closed the connection before answering the upgrade")]
    Unanswered,
    /// `--auth-token` went in the subprotocol header and the server
    /// accepted none.
    #[error(
        "the server chose no subprotocol, so it does not take `--auth-token` \
         (Phoenix 1.8 sockets with `auth_token: true` do); \
         pass the token as a connect param instead: `-p token=…`"
    )]
    NoSubprotocol,
    /// The answer is not HTTP: likely a TLS server spoken to in plain.
    #[error("the server's answer is not HTTP ({0}); if it speaks TLS, use a wss:// URL")]
    NotHttp(httparse::Error),
    /// The socket is of a kind the network thread cannot watch.
    #[error("unsupported stream")]
    UnsupportedStream,
    /// Anything else tungstenite refused, in its words.
    #[error("{0}")]
    Refused(tungstenite::Error),
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
            ConnectError::Http { path, answer } => answer.describe(f, path, Asked::Upgrade),
            ConnectError::Tls(e @ (TlsFailure::NotTls | TlsFailure::ClosedInHandshake)) => {
                write!(f, "{e}")
            }
            ConnectError::Tls(e) => write!(f, "TLS error: {e}"),
            ConnectError::TlsConfig(e) => write!(f, "TLS error: {e}"),
            ConnectError::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Resolve { error, .. } | ConnectError::Tcp { error, .. } => Some(error),
            ConnectError::TlsConfig(e) => Some(e),
            ConnectError::Handshake(e) => Some(e),
            ConnectError::Tls(e) => Some(e),
            _ => None,
        }
    }
}

/// The upgrade request for `url`, with the `-H` headers.
fn upgrade_request(
    url: &Url,
    headers: &[(String, String)],
) -> Result<tungstenite::handshake::client::Request, ConnectError> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Handshake(Upgrade::Request(e)))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConnectError::Handshake(Upgrade::HeaderName(name.clone())))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| ConnectError::Handshake(Upgrade::HeaderValue(name.to_string())))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

/// What the upgrade has read so far, and whether TLS was still shaking
/// hands when the stream last failed. It lives outside the stream because
/// a failed handshake takes the stream with it.
#[derive(Default)]
struct Seen {
    bytes: Vec<u8>,
    in_tls_handshake: bool,
}

/// The stream under the upgrade: it keeps what is read through it, so an
/// answer that is not the upgrade can be told in full, whatever its HTTP
/// version (tungstenite refuses an HTTP/1.0 answer before it looks at the
/// status).
struct Tee {
    inner: MaybeTlsStream<TcpStream>,
    seen: Arc<Mutex<Seen>>,
}

impl Tee {
    /// Notes whether TLS was still shaking hands when `e` happened.
    fn note(&self, e: io::Error) -> io::Error {
        if e.kind() != ErrorKind::WouldBlock
            && let Ok(mut seen) = self.seen.lock()
        {
            seen.in_tls_handshake =
                matches!(&self.inner, MaybeTlsStream::Rustls(s) if s.conn.is_handshaking());
        }
        e
    }
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| self.note(e))?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.bytes.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.note(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.note(e))
    }
}

/// Where an upgrade stands.
enum Shaking {
    /// Nothing sent yet.
    Start(Box<tungstenite::handshake::client::Request>, Tee),
    /// Waiting for the socket (TLS records, the request, the answer).
    Mid(MidHandshake<ClientHandshake<Tee>>),
}

/// How far [`Handshake::resume`] got.
pub(crate) enum Shake {
    /// The socket has nothing more for now: call again when it is ready.
    Pending,
    /// Boxed: a socket is large, and this is once per connection.
    Done(Box<Socket>),
    Failed(ConnectError),
}

/// TLS (for `wss://`) and the WebSocket upgrade on a connected,
/// non-blocking TCP socket, resumed each time the socket is ready. The
/// caller keeps the deadline (`--timeout` for the whole of it) and calls
/// [`Handshake::too_slow`] when it passes.
pub(crate) struct Handshake {
    shaking: Option<Shaking>,
    seen: Arc<Mutex<Seen>>,
    path: String,
    timeout: Duration,
    config: Option<WebSocketConfig>,
}

impl Handshake {
    /// Prepares the upgrade of `url` on `tcp`; nothing is sent yet. TLS
    /// roots are loaded only for `wss://`.
    pub(crate) fn new(
        url: &Url,
        headers: &[(String, String)],
        trust: &Trust,
        tcp: TcpStream,
        timeout: Duration,
        config: Option<WebSocketConfig>,
    ) -> Result<Handshake, ConnectError> {
        let io_err = |e: io::Error| ConnectError::Handshake(Upgrade::Socket(e));
        tcp.set_nodelay(true).map_err(io_err)?;
        tcp.set_nonblocking(true).map_err(io_err)?;
        let request = upgrade_request(url, headers)?;
        let inner = match url.scheme() {
            "wss" => {
                MaybeTlsStream::Rustls(rustls::StreamOwned::new(tls_connection(url, trust)?, tcp))
            }
            _ => MaybeTlsStream::Plain(tcp),
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tee = Tee {
            inner,
            seen: Arc::clone(&seen),
        };
        Ok(Handshake {
            shaking: Some(Shaking::Start(Box::new(request), tee)),
            seen,
            path: url.path().to_owned(),
            timeout,
            config,
        })
    }

    fn stream(&self) -> Option<&MaybeTlsStream<TcpStream>> {
        match self.shaking.as_ref()? {
            Shaking::Start(_, tee) => Some(&tee.inner),
            Shaking::Mid(mid) => Some(&mid.get_ref().get_ref().inner),
        }
    }

    /// The TCP socket under it, to watch.
    pub(crate) fn tcp(&self) -> Option<&TcpStream> {
        match self.stream()? {
            MaybeTlsStream::Plain(s) => Some(s),
            MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
            _ => None,
        }
    }

    /// TLS has records to send that the socket did not take yet.
    pub(crate) fn wants_write(&self) -> bool {
        matches!(self.stream(), Some(MaybeTlsStream::Rustls(s)) if s.conn.wants_write())
    }

    /// Runs the handshake as far as the socket allows.
    pub(crate) fn resume(&mut self) -> Shake {
        let result = match self.shaking.take() {
            Some(Shaking::Start(request, tee)) => {
                tungstenite::client::client_with_config(*request, tee, self.config)
            }
            Some(Shaking::Mid(mid)) => mid.handshake(),
            None => return Shake::Failed(self.too_slow()),
        };
        match result {
            Ok((ws, _)) => Shake::Done(Box::new(self.socket(ws.into_inner()))),
            Err(HandshakeError::Interrupted(mid)) => {
                self.shaking = Some(Shaking::Mid(mid));
                Shake::Pending
            }
            Err(HandshakeError::Failure(e)) => Shake::Failed(self.failure(e)),
        }
    }

    /// The error for a handshake that ran past its deadline.
    pub(crate) fn too_slow(&self) -> ConnectError {
        ConnectError::Handshake(Upgrade::TooSlow(self.timeout))
    }

    fn failure(&self, e: tungstenite::Error) -> ConnectError {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            tungstenite::Error::Io(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                self.too_slow()
            }
            tungstenite::Error::Io(e)
                if seen.in_tls_handshake
                    && matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof
                            | ErrorKind::ConnectionReset
                            | ErrorKind::BrokenPipe
                    ) =>
            {
                ConnectError::Tls(TlsFailure::ClosedInHandshake)
            }
            e => handshake_failure(e, &seen.bytes, &self.path),
        }
    }

    /// The open socket. What came after the head is the first WebSocket
    /// bytes: the socket starts with them, as tungstenite's own handshake
    /// does.
    fn socket(&self, tee: Tee) -> Socket {
        let seen = std::mem::take(&mut self.seen.lock().unwrap_or_else(|p| p.into_inner()).bytes);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let head = match httparse::Response::new(&mut headers).parse(&seen) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => seen.len(),
        };
        let part = seen[head..].to_vec();
        let stream = Counted::new(tee.inner, part.len());
        WebSocket::from_partially_read(stream, part, Role::Client, self.config)
    }
}

/// A TLS client for the URL's host with the trust of `--ca-cert` or
/// `--insecure`.
pub(crate) fn tls_connection(
    url: &Url,
    trust: &Trust,
) -> Result<rustls::ClientConnection, ConnectError> {
    let config = tls::client_config(trust).map_err(ConnectError::TlsConfig)?;
    let host = url.host_str().unwrap_or_default();
    let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|error| {
            ConnectError::Tls(TlsFailure::ServerName {
                host: host.to_owned(),
                error,
            })
        })?;
    rustls::ClientConnection::new(config, name).map_err(|e| ConnectError::Tls(e.into()))
}

/// The addresses of the URL's host (`wss`/`https` default to port 443,
/// others to 80). Blocks on a name lookup unless [`needs_lookup`] says
/// there is none.
pub(crate) fn resolve(url: &Url) -> Result<Vec<SocketAddr>, ConnectError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    url.socket_addrs(|| match url.scheme() {
        "wss" | "https" => Some(443),
        _ => Some(80),
    })
    .or_else(|_| {
        let port = url.port_or_known_default().unwrap_or(80);
        (host.trim_matches(['[', ']']), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
    .map_err(|error| ConnectError::Resolve { host, error })
}

/// The host is a name, not an IP address: resolving it asks the system's
/// resolver, which may take long.
pub(crate) fn needs_lookup(url: &Url) -> bool {
    matches!(url.host(), Some(url::Host::Domain(_)))
}

/// Why no address of the host took a TCP connection: the last address's
/// error.
pub(crate) fn tcp_failed(url: &Url, last: Option<(String, io::Error)>) -> ConnectError {
    let (addr, error) = last.unwrap_or_else(|| {
        (
            url.host_str().unwrap_or_default().to_owned(),
            io::Error::new(ErrorKind::NotFound, "no address"),
        )
    });
    ConnectError::Tcp { addr, error }
}

/// Resolves the URL's host and opens a TCP connection to the first address
/// that answers, blocking (the long-poll transport's threads use it).
pub(crate) fn tcp_connect(url: &Url) -> Result<TcpStream, ConnectError> {
    let mut last_err = None;
    for addr in &resolve(url)? {
        match TcpStream::connect_timeout(addr, TCP_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last_err = Some((addr.to_string(), e)),
        }
    }
    Err(tcp_failed(url, last_err))
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

/// Why the upgrade of `path` failed, from tungstenite's error and the bytes
/// the server answered (`seen`).
fn handshake_failure(e: tungstenite::Error, seen: &[u8], path: &str) -> ConnectError {
    use tungstenite::error::{ProtocolError, SubProtocolError};
    let http = |answer| ConnectError::Http {
        path: path.to_owned(),
        answer,
    };
    let upgrade = match e {
        tungstenite::Error::Http(resp) => {
            return http(HttpAnswer::read(seen).unwrap_or_else(|| {
                HttpAnswer {
                    minor: 1,
                    status: resp.status().as_u16(),
                    reason: String::new(),
                    location: None,
                    body: resp
                        .body()
                        .as_deref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                }
            }));
        }
        // An HTTP/1.0 answer, refused for its version before its status
        // was read: told like any other answer that is not the upgrade.
        tungstenite::Error::Protocol(ProtocolError::WrongHttpVersion)
            if HttpAnswer::read(seen).is_some() =>
        {
            return http(HttpAnswer::read(seen).expect("checked above"));
        }
        tungstenite::Error::Tls(e) => return ConnectError::Tls(TlsFailure::Start(e)),
        tungstenite::Error::Io(e) if tls_error(&e).is_some() => {
            let tls = tls_error(&e).cloned().expect("checked above");
            return ConnectError::Tls(tls.into());
        }
        tungstenite::Error::Protocol(ProtocolError::HandshakeIncomplete) => Upgrade::Unanswered,
        // Browsers let this pass; tungstenite refuses it. A server that
        // does not take the token in the subprotocol header (Phoenix 1.7,
        // or 1.8 without `auth_token: true`) answers without one.
        tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol,
        )) => Upgrade::NoSubprotocol,
        // A TLS server answers a plain request with a TLS alert.
        tungstenite::Error::Protocol(ProtocolError::HttparseError(e)) => Upgrade::NotHttp(e),
        tungstenite::Error::Io(e)
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            Upgrade::TimedOut
        }
        other => Upgrade::Refused(other),
    };
    ConnectError::Handshake(upgrade)
}

/// The rustls error carried inside an I/O error, if it is one.
pub(crate) fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A rustls error in words; a rejected certificate says what to do.
fn describe_tls(tls: &rustls::Error) -> String {
    match tls {
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
    }
}

pub(crate) fn tcp_of(ws: &Socket) -> Option<&TcpStream> {
    match ws.get_ref().get_ref()? {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{ProtocolError, SubProtocolError};

    fn http(status: u16, body: &str) -> tungstenite::Error {
        let response = tungstenite::http::Response::builder()
            .status(status)
            .body(Some(body.as_bytes().to_vec()))
            .unwrap();
        tungstenite::Error::Http(Box::new(response))
    }

    /// What the user reads when the server answers `raw` to an upgrade of
    /// `/socket/websocket`, with tungstenite's error for it.
    fn answered(e: tungstenite::Error, raw: &str) -> String {
        handshake_failure(e, raw.as_bytes(), "/socket/websocket").to_string()
    }

    #[test]
    fn an_http_answer_names_its_status_line_body_and_the_likely_cause() {
        let text = answered(
            http(403, " denied\n"),
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 8\r\n\r\n denied\n",
        );
        assert!(
            text.starts_with(
                "the server answered HTTP/1.1 403 Forbidden to /socket/websocket instead of \
                 upgrading to a WebSocket (body: denied); 403 usually means"
            ),
            "{text}"
        );
        assert!(text.contains("--auth-token"), "{text}");
        let text = answered(http(404, ""), "HTTP/1.1 404 Not Found\r\n\r\n");
        assert_eq!(
            text,
            "the server answered HTTP/1.1 404 Not Found to /socket/websocket instead of \
             upgrading to a WebSocket; is this the socket path? Phoenix serves it at \
             /socket/websocket (the path of `socket \"/socket\", …` in endpoint.ex)"
        );
        let text = answered(http(500, ""), "HTTP/1.1 500 \r\n\r\n");
        assert_eq!(
            text,
            "the server answered HTTP/1.1 500 Internal Server Error to /socket/websocket \
             instead of upgrading to a WebSocket; the server failed: its log says why"
        );
        let text = answered(
            http(301, ""),
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://h/socket/websocket\r\n\r\n",
        );
        assert!(
            text.ends_with("; it redirects to https://h/socket/websocket: connect to that URL"),
            "{text}"
        );
        // A web page is not worth quoting; the status line says enough.
        let text = answered(
            http(200, "<!DOCTYPE html><html>"),
            "HTTP/1.1 200 OK\r\n\r\n<!DOCTYPE html><html>",
        );
        assert!(
            text.starts_with("the server answered HTTP/1.1 200 OK to "),
            "{text}"
        );
        assert!(!text.contains("(body:"), "{text}");
        // Without the bytes, tungstenite's response still tells it.
        let text = handshake_failure(http(404, "gone"), b"", "/x").to_string();
        assert!(
            text.starts_with("the server answered HTTP/1.1 404 Not Found to /x instead of upgrading to a WebSocket (body: gone)"),
            "{text}"
        );
    }

    #[test]
    fn an_http_1_0_answer_is_told_by_its_status_not_its_version() {
        use tungstenite::error::ProtocolError;
        let wrong = || tungstenite::Error::Protocol(ProtocolError::WrongHttpVersion);
        for (raw, line) in [
            (
                "HTTP/1.0 404 File not found\r\nContent-Type: text/html\r\n\r\n<html>",
                "HTTP/1.0 404 File not found",
            ),
            ("HTTP/1.0 200 OK\r\n\r\nhello", "HTTP/1.0 200 OK"),
            ("HTTP/1.0 302\r\n\r\n", "HTTP/1.0 302 Found"),
        ] {
            let text = answered(wrong(), raw);
            assert!(
                text.starts_with(&format!(
                    "the server answered {line} to /socket/websocket instead of upgrading"
                )),
                "{text}"
            );
            assert!(!text.contains("HTTP version"), "{text}");
        }
        // Bytes that are no HTTP head keep tungstenite's words.
        assert!(answered(wrong(), "").contains("HTTP version"));
    }

    #[test]
    fn a_tls_hello_answered_in_plain_text_means_the_port_does_not_speak_tls() {
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let io = io::Error::new(ErrorKind::InvalidData, plain);
        assert_eq!(
            handshake_failure(tungstenite::Error::Io(io), b"", "/").to_string(),
            "this port does not speak TLS; try ws:// or http://"
        );
    }

    #[test]
    fn protocol_failures_of_the_upgrade_say_what_to_try() {
        let text = |e| handshake_failure(e, b"", "/socket/websocket").to_string();
        assert_eq!(
            text(tungstenite::Error::Protocol(
                ProtocolError::HandshakeIncomplete
            )),
            "WebSocket handshake failed: the server closed the connection before answering the upgrade"
        );
        let none = tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol,
        ));
        assert!(text(none).contains("pass the token as a connect param instead: `-p token=…`"));
        let not_http =
            tungstenite::Error::Protocol(ProtocolError::HttparseError(httparse::Error::Version));
        assert!(text(not_http).ends_with("if it speaks TLS, use a wss:// URL"));
        let slow = tungstenite::Error::Io(io::Error::from(ErrorKind::TimedOut));
        assert_eq!(
            text(slow),
            "WebSocket handshake failed: the server did not answer the upgrade in time"
        );
    }

    #[test]
    fn tcp_failures_point_at_the_server_or_the_network() {
        let tcp = |kind| {
            ConnectError::Tcp {
                addr: "127.0.0.1:4000".into(),
                error: io::Error::from(kind),
            }
            .to_string()
        };
        assert!(tcp(ErrorKind::ConnectionRefused).contains("is the server running"));
        assert!(tcp(ErrorKind::TimedOut).starts_with("timed out connecting to 127.0.0.1:4000"));
        let resolve = ConnectError::Resolve {
            host: "nowhere".into(),
            error: io::Error::other("no such host"),
        };
        assert_eq!(
            resolve.to_string(),
            "cannot resolve `nowhere`: no such host; check the host name"
        );
    }

    #[test]
    fn a_rejected_certificate_inside_an_io_error_says_what_to_do() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(ErrorKind::InvalidData, unknown);
        let e = handshake_failure(tungstenite::Error::Io(io), b"", "/").to_string();
        assert!(
            e.starts_with("TLS error: the server's certificate was rejected: it is signed by an unknown certificate authority"),
            "{e}"
        );
        assert!(e.contains("--ca-cert CA.pem"), "{e}");
        assert!(tls_error(&io::Error::other("plain")).is_none());
    }

    #[test]
    fn seconds_are_whole_when_they_can_be() {
        assert_eq!(secs(Duration::from_secs(10)), "10 s");
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
    }
}

//! Opening a WebSocket: the TCP connection (each address with a deadline),
//! TLS for `wss://` only, and the HTTP upgrade; and, when that fails, one
//! line saying why and what to try ([`ConnectError`]).
//!
//! Connecting blocks the calling thread (the network thread, between
//! sockets). What happens on the socket once it is open belongs to
//! `transport::net`; the long-poll transport (`transport::longpoll`) reuses
//! the TCP connect and the TLS descriptions from here.

use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, WebSocket};
use url::Url;

use crate::transport::tls::{self, Trust};

/// The connected WebSocket.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How long opening a TCP connection may take, per address.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why connecting failed. Each variant renders as one line with a hint.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name gave no address.
    Resolve { host: String, error: io::Error },
    /// No address of the host took a TCP connection.
    Tcp { addr: String, error: io::Error },
    /// The server answered the upgrade (or a long-poll request) with an
    /// HTTP error status.
    Http { status: u16, body: String },
    /// The TLS handshake failed, or TLS could not start.
    Tls(TlsFailure),
    /// The trust for `wss://` could not be built (`--ca-cert`).
    TlsConfig(tls::TlsError),
    /// The WebSocket upgrade failed.
    Handshake(Upgrade),
}

/// Why TLS failed once the trust was built.
#[derive(Debug, thiserror::Error)]
pub enum TlsFailure {
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

/// Connects and performs the WebSocket handshake, blocking; the TLS and
/// WebSocket handshakes get `timeout` in total. TLS roots are loaded only
/// for `wss://`.
pub fn connect(
    url: &Url,
    headers: &[(String, String)],
    trust: &Trust,
    timeout: Duration,
) -> Result<Socket, ConnectError> {
    let stream = tcp_connect(url)?;
    let io_err = |e: io::Error| ConnectError::Handshake(Upgrade::Socket(e));
    stream.set_nodelay(true).map_err(io_err)?;
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;

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

    let connector = match url.scheme() {
        "wss" => Some(Connector::Rustls(
            tls::client_config(trust).map_err(ConnectError::TlsConfig)?,
        )),
        _ => None,
    };
    let too_slow = || ConnectError::Handshake(Upgrade::TooSlow(timeout));
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
    let tcp = tcp_of(&ws).ok_or(ConnectError::Handshake(Upgrade::UnsupportedStream))?;
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
        .map_err(|error| ConnectError::Resolve {
            host: host.clone(),
            error,
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
    use tungstenite::error::{ProtocolError, SubProtocolError};
    let upgrade = match e {
        tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return ConnectError::Http {
                status: resp.status().as_u16(),
                body,
            };
        }
        tungstenite::Error::Tls(e) => return ConnectError::Tls(TlsFailure::Start(e)),
        tungstenite::Error::Io(e) if tls_error(&e).is_some() => {
            let tls = tls_error(&e).cloned().expect("checked above");
            return ConnectError::Tls(TlsFailure::Rustls(tls));
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
    match ws.get_ref() {
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

    #[test]
    fn an_http_answer_names_its_status_body_and_the_likely_cause() {
        let text = handshake_failure(http(403, " denied\n")).to_string();
        assert!(
            text.starts_with(
                "the server answered HTTP 403 instead of upgrading to a WebSocket (body: denied)"
            ),
            "{text}"
        );
        assert!(text.contains("--auth-token"), "{text}");
        let text = handshake_failure(http(404, "")).to_string();
        assert!(
            text.contains("404 usually means a wrong socket path"),
            "{text}"
        );
        assert!(!text.contains("(body:"), "{text}");
        let text = handshake_failure(http(500, "")).to_string();
        assert_eq!(
            text,
            "the server answered HTTP 500 instead of upgrading to a WebSocket"
        );
    }

    #[test]
    fn protocol_failures_of_the_upgrade_say_what_to_try() {
        let text = |e| handshake_failure(e).to_string();
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
        let e = handshake_failure(tungstenite::Error::Io(io)).to_string();
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

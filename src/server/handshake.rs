//! The HTTP side of the built-in server: upgrading a fresh TCP connection to
//! a WebSocket, or refusing it with a status and a short text body
//! (PROTOCOL.md §1, the handshake table).
//!
//! The checks on the request target (path, `vsn`, connect params) are pure
//! functions, tested below; [`accept`] runs them inside tungstenite's
//! handshake. Everything after the upgrade belongs to `peer.rs`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode, header};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error, WebSocket};

use crate::core::protocol::Vsn;

/// Where the socket is mounted: `socket "/socket", UserSocket` plus the
/// WebSocket transport suffix (PROTOCOL.md §1).
pub const SOCKET_PATH: &str = "/socket/websocket";

/// How long a client may take to send its upgrade request (and to read our
/// answer) before the connection is dropped, so a silent client does not pin
/// a thread forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the request is kept to explain a failed upgrade; the request
/// line is all that is needed.
const RECORD_LIMIT: usize = 64 * 1024;

/// How a handshake ended, when it did not give a WebSocket.
#[derive(Debug)]
pub enum Refused {
    /// We answered with this status (404, 403 or 400) and body.
    Status(StatusCode, String),
    /// The client went quiet or away, or the socket failed.
    Failed(String),
    /// Not an upgrade but a request for the long-poll endpoint: the stream
    /// and what was read of the request, for `longpoll.rs` to answer.
    LongPoll { stream: ServerStream, head: Vec<u8> },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Status(s, body) => write!(f, "handshake refused with {s}: {body}"),
            Refused::Failed(e) => write!(f, "handshake failed: {e}"),
            Refused::LongPoll { .. } => f.write_str("a long-poll request"),
        }
    }
}

/// A connection's byte stream: plain TCP, or TLS over it (`--tls-cert`).
#[derive(Debug)]
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl ServerStream {
    /// The TCP socket underneath, for timeouts and the poller.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(s) => s,
            ServerStream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.write(buf),
            ServerStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(s) => s.flush(),
            ServerStream::Tls(s) => s.flush(),
        }
    }
}

/// What the server checks in an upgrade request besides its target.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Refuse a request without this auth token (PROTOCOL.md §1).
    pub require_auth_token: Option<String>,
    /// Refuse a request whose Origin is set and differs (check_origin).
    pub check_origin: Option<String>,
}

/// Reads the upgrade request from `stream` and answers it: 101 and a
/// WebSocket on success, else an HTTP error response. Over TLS, the TLS
/// handshake happens inside the first read.
pub fn accept(
    mut stream: ServerStream,
    config: WebSocketConfig,
    policy: &Policy,
) -> Result<(WebSocket<ServerStream>, Upgrade), Refused> {
    let timeouts = stream
        .tcp()
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .and_then(|()| stream.tcp().set_write_timeout(Some(HANDSHAKE_TIMEOUT)));
    if let Err(e) = timeouts {
        return Err(Refused::Failed(e.to_string()));
    }
    let mut seen = Vec::new();
    let recording = Recording {
        stream: &mut stream,
        seen: &mut seen,
    };
    let mut upgrade = Upgrade::default();
    let gate = Gate {
        upgrade: &mut upgrade,
        policy,
    };
    let failure = match tungstenite::accept_hdr_with_config(recording, gate, Some(config)) {
        // The handshake read exactly the request (tungstenite refuses bytes
        // after it), so a fresh WebSocket over the same stream loses nothing.
        Ok(ws) => {
            drop(ws);
            let ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
            return Ok((ws, upgrade));
        }
        // A blocking socket only reports WouldBlock when the read timeout
        // expires (TimedOut on Windows, which arrives as a Failure).
        Err(HandshakeError::Interrupted(_)) => {
            return Err(Refused::Failed("timed out".to_owned()));
        }
        Err(HandshakeError::Failure(e)) => e,
    };
    match failure {
        Error::Http(resp) => {
            let body = resp.body().as_deref().unwrap_or_default();
            let body = String::from_utf8_lossy(body).into_owned();
            Err(Refused::Status(resp.status(), body))
        }
        Error::Io(e) => Err(Refused::Failed(e.to_string())),
        // The client left without sending a request.
        other if seen.is_empty() => Err(Refused::Failed(other.to_string())),
        // A request for the long-poll endpoint, answered elsewhere.
        _ if request_path(&seen) == Some(super::longpoll::LONGPOLL_PATH) => {
            Err(Refused::LongPoll { stream, head: seen })
        }
        // Not an upgrade request at all (plain GET, POST, missing headers,
        // bad key…): tungstenite does not answer those, so we do, with 404
        // for a wrong path (a browser or curl gets the hint) and 400 as
        // Phoenix does for a non-upgrade request to the socket.
        other => {
            let (status, body) = match request_path(&seen) {
                Some(path) if path != SOCKET_PATH => not_found(path),
                _ => (
                    StatusCode::BAD_REQUEST,
                    format!("expected a WebSocket upgrade request ({other})"),
                ),
            };
            let mut out = Vec::new();
            let written = tungstenite::handshake::server::write_response(
                &mut out,
                &error_response(status, body.clone()),
            );
            if written.is_ok() {
                out.extend_from_slice(body.as_bytes());
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&out).and_then(|()| stream.flush());
            }
            Err(Refused::Status(status, body))
        }
    }
}

/// Checks the request target of an upgrade: the socket path, `vsn` (the
/// serializer to speak) and the `token` connect param.
pub fn check_target(path: &str, query: Option<&str>) -> Result<Vsn, (StatusCode, String)> {
    if path != SOCKET_PATH {
        return Err(not_found(path));
    }
    let mut vsn = None;
    let mut bad_token = false;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "vsn" => vsn = Some(value.into_owned()),
            // A stand-in for an app's `connect/3` refusing the params.
            "token" if value == "bad" => bad_token = true,
            _ => {}
        }
    }
    // A missing vsn means V1 (PROTOCOL.md §1); anything but full semver
    // 1.x.y or 2.x.y fails, as in Phoenix (which answers 403 with an
    // empty body; a short reason helps more here).
    let vsn = match vsn.as_deref() {
        None => Vsn::V1,
        Some(v) => Vsn::from_param(v).ok_or_else(|| {
            (
                StatusCode::FORBIDDEN,
                format!("vsn {v} is not supported: the built-in server speaks 1.0.0 and 2.0.0"),
            )
        })?,
    };
    if bad_token {
        return Err((
            StatusCode::FORBIDDEN,
            "connect refused: the token was rejected".to_owned(),
        ));
    }
    Ok(vsn)
}

/// What an accepted upgrade asked for.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub vsn: Vsn,
    /// The `user` connect param, which keys the connection's presence.
    pub user: Option<String>,
    /// The auth token from the subprotocol header, as
    /// `connect_info[:auth_token]` exposes it.
    pub auth_token: Option<String>,
}

/// Runs [`check_target`] and [`check_headers`] on the upgrade request
/// inside tungstenite's handshake, turning a refusal into the response to
/// send and recording what an accepted one asked for.
struct Gate<'a> {
    upgrade: &'a mut Upgrade,
    policy: &'a Policy,
}

impl Callback for Gate<'_> {
    fn on_request(self, req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
        let checked = check_target(req.uri().path(), req.uri().query()).and_then(|vsn| {
            let origin = req
                .headers()
                .get(header::ORIGIN)
                .map(|v| v.to_str().unwrap_or("?"));
            let protocols: Vec<&str> = req
                .headers()
                .get_all(header::SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            check_headers(origin, &protocols, self.policy).map(|h| (vsn, h))
        });
        match checked {
            Ok((vsn, headers)) => {
                self.upgrade.vsn = vsn;
                self.upgrade.user = param(req.uri().query(), "user");
                if headers.subprotocol {
                    resp.headers_mut().insert(
                        header::SEC_WEBSOCKET_PROTOCOL,
                        HeaderValue::from_static(PHOENIX_SUBPROTOCOL),
                    );
                }
                self.upgrade.auth_token = headers.auth_token;
                Ok(resp)
            }
            Err((status, body)) => Err(error_response(status, body)),
        }
    }
}

/// The subprotocol a Phoenix socket answers with (PROTOCOL.md §1).
const PHOENIX_SUBPROTOCOL: &str = "phoenix";
/// The prefix of the subprotocol entry that carries an auth token.
const TOKEN_PREFIX: &str = "base64url.bearer.phx.";

/// What the request's headers asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// Answer with subprotocol `phoenix`.
    pub subprotocol: bool,
    pub auth_token: Option<String>,
}

/// Checks the Origin and Sec-WebSocket-Protocol headers as a Phoenix 1.8
/// socket with `auth_token: true` and `check_origin` does: the token entry
/// is taken out and decoded (standard Base64, padding optional), and the
/// other offered subprotocols must include `phoenix`.
pub fn check_headers(
    origin: Option<&str>,
    protocols: &[&str],
    policy: &Policy,
) -> Result<Headers, (StatusCode, String)> {
    let forbidden = |m: String| Err((StatusCode::FORBIDDEN, m));
    if let (Some(allowed), Some(origin)) = (&policy.check_origin, origin)
        && !origin
            .trim_end_matches('/')
            .eq_ignore_ascii_case(allowed.trim_end_matches('/'))
    {
        return forbidden(format!(
            "origin {origin} is not allowed (check_origin allows {allowed})"
        ));
    }
    let mut auth_token = None;
    let mut offered = Vec::new();
    for p in protocols.iter().flat_map(|v| v.split(',')).map(str::trim) {
        match p.strip_prefix(TOKEN_PREFIX) {
            Some(encoded) => {
                let encoded = encoded.trim_end_matches('=');
                let bytes = data_encoding::BASE64_NOPAD
                    .decode(encoded.as_bytes())
                    .map_err(|_| {
                        (
                            StatusCode::FORBIDDEN,
                            "the auth token entry is not Base64".to_owned(),
                        )
                    })?;
                auth_token = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            None if !p.is_empty() => offered.push(p),
            None => {}
        }
    }
    if !offered.is_empty() && !offered.contains(&PHOENIX_SUBPROTOCOL) {
        return forbidden(format!(
            "none of the offered subprotocols ({}) is `phoenix`",
            offered.join(", ")
        ));
    }
    if let Some(required) = &policy.require_auth_token {
        match &auth_token {
            None => return forbidden("an auth token is required".to_owned()),
            Some(t) if t != required => return forbidden("the auth token was rejected".to_owned()),
            Some(_) => {}
        }
    }
    Ok(Headers {
        subprotocol: !offered.is_empty(),
        auth_token,
    })
}

/// The first value of query param `key`.
pub(super) fn param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn not_found(path: &str) -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        format!("no socket at {path}; try {SOCKET_PATH}"),
    )
}

/// A text/plain error response that closes the connection.
fn error_response(status: StatusCode, body: String) -> ErrorResponse {
    let mut resp = ErrorResponse::new(None);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    *resp.body_mut() = Some(body);
    resp
}

/// The path of the request line in `head` (`GET /path?q HTTP/1.1`).
pub(super) fn request_path(head: &[u8]) -> Option<&str> {
    let line = head.split(|&b| b == b'\n').next()?;
    let target = std::str::from_utf8(line).ok()?.split(' ').nth(1)?;
    Some(target.split('?').next().unwrap_or(target))
}

/// The handshake's view of the stream: it keeps a copy of what was read so a
/// request tungstenite rejects can still be answered by path.
struct Recording<'a> {
    stream: &'a mut ServerStream,
    seen: &'a mut Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        let room = RECORD_LIMIT.saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
}

impl Write for Recording<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vsn(query: &str) -> Vsn {
        check_target("/socket/websocket", Some(query)).unwrap()
    }

    #[test]
    fn vsn_picks_the_serializer_and_none_means_v1() {
        assert_eq!(vsn("vsn=2.0.0"), Vsn::V2);
        assert_eq!(vsn("vsn=1.0.0"), Vsn::V1);
        assert_eq!(vsn("token=abc"), Vsn::V1);
    }

    fn status(path: &str, query: Option<&str>) -> Option<u16> {
        check_target(path, query).err().map(|(s, _)| s.as_u16())
    }

    #[test]
    fn accepts_vsn_2_0_0_at_the_socket_path() {
        assert_eq!(status("/socket/websocket", Some("vsn=2.0.0")), None);
        assert_eq!(
            status("/socket/websocket", Some("token=abc&vsn=2.0.0&x[y]=1")),
            None
        );
        assert_eq!(status("/socket/websocket", Some("vsn=2.1.3")), None);
    }

    #[test]
    fn other_paths_are_not_found_with_a_hint() {
        let (s, body) = check_target("/socket", Some("vsn=2.0.0")).unwrap_err();
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, "no socket at /socket; try /socket/websocket");
    }

    #[test]
    fn vsn_other_than_full_1_x_y_or_2_x_y_is_forbidden() {
        for q in [
            Some("vsn=2.0"),
            Some("vsn=3.0.0"),
            Some("vsn=2.0.0-rc"),
            Some("vsn=2..0"),
        ] {
            assert_eq!(status("/socket/websocket", q), Some(403), "{q:?}");
        }
        let (_, body) = check_target("/socket/websocket", Some("vsn=3.0.0")).unwrap_err();
        assert!(body.contains("speaks 1.0.0 and 2.0.0"), "{body}");
    }

    #[test]
    fn token_bad_is_refused() {
        let (s, body) = check_target("/socket/websocket", Some("vsn=2.0.0&token=bad")).unwrap_err();
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(body, "connect refused: the token was rejected");
    }

    fn headers(origin: Option<&str>, protocols: &[&str], policy: &Policy) -> Result<Headers, u16> {
        check_headers(origin, protocols, policy).map_err(|(s, _)| s.as_u16())
    }

    #[test]
    fn the_auth_token_entry_is_decoded_and_phoenix_is_answered() {
        let h = headers(
            None,
            &["phoenix, base64url.bearer.phx.YWJjMQ"],
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(
            h,
            Headers {
                subprotocol: true,
                auth_token: Some("abc1".into())
            }
        );
        // Padding is accepted too.
        let h = headers(
            None,
            &["base64url.bearer.phx.YWJjMQ==", "phoenix"],
            &Policy::default(),
        );
        assert_eq!(h.unwrap().auth_token.as_deref(), Some("abc1"));
        assert_eq!(
            headers(None, &[], &Policy::default()).unwrap(),
            Headers {
                subprotocol: false,
                auth_token: None
            }
        );
    }

    #[test]
    fn other_subprotocols_and_bad_tokens_are_forbidden() {
        let p = Policy::default();
        assert_eq!(headers(None, &["mqtt"], &p), Err(403));
        assert_eq!(
            headers(None, &["phoenix, base64url.bearer.phx.!!"], &p),
            Err(403)
        );
    }

    #[test]
    fn a_required_token_must_match() {
        let p = Policy {
            require_auth_token: Some("abc1".into()),
            check_origin: None,
        };
        assert!(headers(None, &["phoenix, base64url.bearer.phx.YWJjMQ"], &p).is_ok());
        assert_eq!(headers(None, &[], &p), Err(403));
        assert_eq!(
            headers(None, &["phoenix, base64url.bearer.phx.eHl6"], &p),
            Err(403)
        );
    }

    #[test]
    fn check_origin_refuses_other_origins_but_not_a_missing_one() {
        let p = Policy {
            require_auth_token: None,
            check_origin: Some("https://app.example".into()),
        };
        assert!(headers(None, &[], &p).is_ok());
        assert!(headers(Some("https://APP.example/"), &[], &p).is_ok());
        let e = check_headers(Some("https://evil.example"), &[], &p).unwrap_err();
        assert_eq!(e.0.as_u16(), 403);
        assert!(e.1.contains("check_origin"), "{}", e.1);
    }

    #[test]
    fn request_path_reads_the_request_line() {
        assert_eq!(
            request_path(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n"),
            Some("/x")
        );
        assert_eq!(request_path(b"POST / HTTP/1.1\r\n"), Some("/"));
        assert_eq!(request_path(b"garbage"), None);
    }
}

//! The WebSocket side of the built-in server's HTTP: upgrading a fresh
//! connection to a WebSocket with tungstenite, or refusing it with a status
//! and a short text body (docs/PROTOCOL.md §1, the handshake table).
//!
//! What to accept is decided by `connect.rs`; [`accept`] runs those checks
//! inside tungstenite's handshake. A request for the long-poll endpoint is
//! handed back untouched for `longpoll.rs`, and everything after the
//! upgrade belongs to `peer.rs`.

use std::io::{self, Read, Write};
use std::time::Duration;

use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode, header};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error, WebSocket};

use super::connect::{self, ConnectInfo, Mount, PHOENIX_SUBPROTOCOL, Policy, Refusal};
use super::http;
use super::live;
use super::stream::ServerStream;

/// How long a client may take to send its upgrade request (and to read our
/// answer) before the connection is dropped, so a silent client does not pin
/// a thread forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the request is kept to explain a failed upgrade; the request
/// line is all that is needed.
const RECORD_LIMIT: usize = 64 * 1024;

/// How a handshake ended, when it did not give a WebSocket.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The connect checks refused it; we answered with its status and text.
    #[error("handshake refused with {}: {}", .0.status(), .0)]
    Refusal(Refusal),
    /// Not an upgrade request (plain GET, POST, missing headers, bad
    /// key…); we answered 400.
    #[error(
        "handshake refused with {}: expected a WebSocket upgrade request ({})",
        StatusCode::BAD_REQUEST,
        .0
    )]
    NotUpgrade(Error),
    /// The client sent no request within [`HANDSHAKE_TIMEOUT`].
    #[error("handshake failed: timed out")]
    TimedOut,
    /// The socket failed.
    #[error("handshake failed: {0}")]
    Io(#[from] io::Error),
    /// The client went away before sending a request.
    #[error("handshake failed: {0}")]
    Gone(Error),
    /// Not an upgrade but a request for the long-poll endpoint: the stream
    /// and what was read of the request, for `longpoll.rs` to answer.
    #[error("a long-poll request")]
    LongPoll { stream: ServerStream, head: Vec<u8> },
    /// Not an upgrade but a request for a LiveView page, for
    /// `live/page.rs` to answer.
    #[error("a page request")]
    Page { stream: ServerStream, head: Vec<u8> },
}

/// Reads the upgrade request from `stream` and answers it: 101 and a
/// WebSocket on success, else an HTTP error response. Over TLS, the TLS
/// handshake happens inside the first read.
pub fn accept(
    mut stream: ServerStream,
    config: WebSocketConfig,
    policy: &Policy,
) -> Result<(WebSocket<ServerStream>, ConnectInfo), Refused> {
    stream.tcp().set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.tcp().set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut seen = Vec::new();
    let recording = Recording {
        stream: &mut stream,
        seen: &mut seen,
    };
    let mut gate = Gate {
        accepted: ConnectInfo::default(),
        refusal: None,
        policy,
    };
    let failure = match tungstenite::accept_hdr_with_config(recording, &mut gate, Some(config)) {
        // The handshake read exactly the request (tungstenite refuses bytes
        // after it), so a fresh WebSocket over the same stream loses nothing.
        Ok(ws) => {
            drop(ws);
            let ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
            return Ok((ws, gate.accepted));
        }
        // A blocking socket only reports WouldBlock when the read timeout
        // expires (TimedOut on Windows, which arrives as a Failure).
        Err(HandshakeError::Interrupted(_)) => return Err(Refused::TimedOut),
        Err(HandshakeError::Failure(e)) => e,
    };
    // The gate refused it, and tungstenite sent the gate's answer.
    if let (Error::Http(_), Some(refusal)) = (&failure, gate.refusal) {
        return Err(Refused::Refusal(refusal));
    }
    match failure {
        Error::Io(e) => Err(Refused::Io(e)),
        // The client left without sending a request.
        other if seen.is_empty() => Err(Refused::Gone(other)),
        // A request for the long-poll endpoint, answered elsewhere.
        _ if http::request_path(&seen).is_some_and(|p| Mount::of_longpoll(p).is_some()) => {
            Err(Refused::LongPoll { stream, head: seen })
        }
        // A LiveView page, answered elsewhere.
        _ if http::request_path(&seen).is_some_and(live::page::is_page) => {
            Err(Refused::Page { stream, head: seen })
        }
        // tungstenite does not answer a request that is no upgrade, so we
        // do, with 404 for a wrong path (a browser or curl gets the hint)
        // and 400 as Phoenix does for a non-upgrade request to the socket.
        other => {
            let (refused, response) = match http::request_path(&seen) {
                Some(path) if Mount::of_websocket(path).is_none() => {
                    let refusal = Refusal::NotFound {
                        path: path.to_owned(),
                    };
                    let response = http::text_response(refusal.status(), refusal.to_string());
                    (Refused::Refusal(refusal), response)
                }
                _ => {
                    let body = format!("expected a WebSocket upgrade request ({other})");
                    let response = http::text_response(StatusCode::BAD_REQUEST, body);
                    (Refused::NotUpgrade(other), response)
                }
            };
            // Best effort: the client may already be gone.
            let _ = stream
                .write_all(&http::to_bytes(&response))
                .and_then(|()| stream.flush());
            Err(refused)
        }
    }
}

/// Runs the connect checks on the upgrade request inside tungstenite's
/// handshake, turning a refusal into the response to send and recording
/// what an accepted one asked for.
struct Gate<'a> {
    accepted: ConnectInfo,
    refusal: Option<Refusal>,
    policy: &'a Policy,
}

impl Gate<'_> {
    fn check(&mut self, req: &Request, resp: &mut Response) -> Result<(), Refusal> {
        let (mount, vsn) = connect::check_target(req.uri().path(), req.uri().query())?;
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
        let headers = connect::check_headers(origin, &protocols, self.policy)?;
        self.accepted.vsn = vsn;
        self.accepted.mount = mount;
        self.accepted.user = connect::param(req.uri().query(), "user");
        self.accepted.csrf_token = connect::param(req.uri().query(), "_csrf_token");
        self.accepted.cookie = req
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if headers.subprotocol {
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(PHOENIX_SUBPROTOCOL),
            );
        }
        self.accepted.auth_token = headers.auth_token;
        Ok(())
    }
}

impl Callback for &mut Gate<'_> {
    fn on_request(self, req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
        match self.check(req, &mut resp) {
            Ok(()) => Ok(resp),
            Err(refusal) => {
                let answer = http::text_response(refusal.status(), refusal.to_string());
                self.refusal = Some(refusal);
                Err(answer)
            }
        }
    }
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

    #[test]
    fn refusals_log_the_status_and_the_reason() {
        let not_found = Refused::Refusal(Refusal::NotFound {
            path: "/x".to_owned(),
        });
        assert_eq!(
            not_found.to_string(),
            "handshake refused with 404 Not Found: no socket at /x; try /socket/websocket"
        );
        assert_eq!(
            Refused::Refusal(Refusal::TokenRejected).to_string(),
            "handshake refused with 403 Forbidden: connect refused: the token was rejected"
        );
        let not_upgrade = Refused::NotUpgrade(Error::ConnectionClosed);
        assert_eq!(
            not_upgrade.to_string(),
            format!(
                "handshake refused with 400 Bad Request: expected a WebSocket upgrade request ({})",
                Error::ConnectionClosed
            )
        );
        assert_eq!(Refused::TimedOut.to_string(), "handshake failed: timed out");
    }
}

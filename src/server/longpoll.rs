//! The built-in server's long-poll endpoint, `/socket/longpoll`
//! (docs/PROTOCOL.md §7): sessions over plain HTTP requests.
//!
//! A session is a WebSocket connection served by `peer.rs` like any other,
//! over a loopback socket pair: its channels, presence and broadcasts are
//! the same code. A thread per session writes the frames POSTed to it into
//! that socket and queues what comes back until a GET collects it. HTTP
//! answers are always 200 with the real status in the JSON body, as in
//! Phoenix, and every answer closes its connection.
//!
//! The request head is parsed and the answer written by `http.rs`, and a
//! session opens after the checks of `connect.rs`; the WebSocket side of a
//! session is `peer.rs`'s.

use std::collections::{HashMap, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use data_encoding::BASE64;
use polling::{Events, Poller};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

use super::connect::{self, ConnectInfo, Refusal};
use super::http::{self, Head, HeadError};
use super::hub::Server;
use super::peer;
use super::stream::ServerStream;
use crate::core::protocol::push_json_str;

/// How long a GET waits for messages before answering 204.
const WINDOW: Duration = Duration::from_secs(10);
/// A session nobody polls or posts to for this long ends (1.5 × window).
const IDLE: Duration = Duration::from_secs(15);
/// How often the session pings its socket so the idle timeout of the
/// socket (which long-poll clients, sending no heartbeats, would hit) does
/// not end it.
const KEEPALIVE: Duration = Duration::from_secs(20);
/// The most a request body may be.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Why a long-poll request failed; logged, while the client gets only a
/// status.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error("a body of {0} bytes is too large")]
    BodyTooLarge(usize),
    #[error("{0}")]
    ReadBody(io::Error),
    #[error("NDJSON line is neither `[…]` nor Base64: {0:.40}")]
    NotBase64(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("cannot make a socket pair: {0}")]
    SocketPair(io::Error),
    /// A poller or thread for the session could not be made.
    #[error("{0}")]
    Start(io::Error),
}

/// Every open long-poll session, by token.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    next: AtomicU64,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, token: &str) -> Option<Arc<Session>> {
        self.lock()
            .get(token)
            .filter(|s| !s.gone.load(Ordering::Relaxed))
            .cloned()
    }
}

/// One long-poll session.
struct Session {
    /// Frames POSTed, for the session thread to write.
    to_socket: Mutex<Sender<Message>>,
    waker: Arc<Poller>,
    /// Frames from the socket, waiting for a GET.
    inbox: Mutex<VecDeque<String>>,
    arrived: Condvar,
    gone: AtomicBool,
    last_seen: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// A request: its head, borrowed from what the handshake read, and its
/// whole body.
struct Request<'b> {
    head: Head<'b>,
    body: Vec<u8>,
}

impl Request<'_> {
    fn query(&self) -> &str {
        self.head.query.unwrap_or("")
    }
}

/// Answers one long-poll request on `stream`, of which `head` was read.
pub fn answer(
    mut stream: ServerStream,
    head: &[u8],
    peer: SocketAddr,
    server: &Arc<Server>,
    sessions: &Arc<Sessions>,
) {
    // `/socket/longpoll` or `/gql/longpoll`: the handshake sent only these.
    let mount = http::request_path(head)
        .and_then(connect::Mount::of_longpoll)
        .unwrap_or_default();
    let body = match read_request(&mut stream, head) {
        Ok(req) => handle(&req, mount, peer, server, sessions),
        Err(e) => {
            server.log(format_args!("{peer} bad long-poll request: {e}"));
            status_body(400, None, &[])
        }
    };
    let response = http::to_bytes(&http::json_response(body));
    let _ = stream.write_all(&response).and_then(|()| stream.flush());
    stream.close_notify();
}

fn read_request<'b>(stream: &mut ServerStream, bytes: &'b [u8]) -> Result<Request<'b>, Failure> {
    let head = http::parse_head(bytes)?;
    let length: usize = head
        .header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(Failure::BodyTooLarge(length));
    }
    let mut body = bytes[head.len..].to_vec();
    body.truncate(length);
    let mut rest = vec![0; length - body.len()];
    stream.read_exact(&mut rest).map_err(Failure::ReadBody)?;
    body.extend_from_slice(&rest);
    Ok(Request { head, body })
}

/// The JSON answer to one request.
fn handle(
    req: &Request<'_>,
    mount: connect::Mount,
    peer: SocketAddr,
    server: &Arc<Server>,
    sessions: &Arc<Sessions>,
) -> String {
    let token = url::form_urlencoded::parse(req.query().as_bytes())
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .last();
    let session = token.as_deref().and_then(|t| sessions.get(t));
    match (req.head.method, session, token) {
        ("OPTIONS", ..) => status_body(200, None, &[]),
        ("GET", Some(session), Some(token)) => poll(&session, &token),
        ("POST", Some(session), _) => {
            session.touch();
            match post(&session, req) {
                Ok(()) => status_body(200, None, &[]),
                Err(why) => {
                    server.log(format_args!("{peer} bad long-poll POST: {why}"));
                    status_body(400, None, &[])
                }
            }
        }
        // No session (or an unknown token): a GET opens one, anything
        // else is told the session is gone.
        ("GET", None, _) => match open(req, mount, peer, server, sessions) {
            Ok(token) => status_body(410, Some(&token), &[]),
            Err(why) => {
                server.log(format_args!("{peer} long-poll refused: {why}"));
                status_body(403, None, &[])
            }
        },
        _ => status_body(410, None, &[]),
    }
}

/// `{"status":S,"token":T,"messages":[…]}`.
fn status_body(status: u16, token: Option<&str>, messages: &[String]) -> String {
    let mut out = format!("{{\"status\":{status}");
    if let Some(t) = token {
        out.push_str(",\"token\":");
        push_json_str(&mut out, t);
    }
    out.push_str(",\"messages\":[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, m);
    }
    out.push_str("]}");
    out
}

/// Waits up to the window for messages.
fn poll(session: &Session, token: &str) -> String {
    session.touch();
    let deadline = Instant::now() + WINDOW;
    let mut inbox = session.inbox.lock().unwrap_or_else(PoisonError::into_inner);
    while inbox.is_empty() && !session.gone.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        inbox = session
            .arrived
            .wait_timeout(inbox, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    let messages: Vec<String> = inbox.drain(..).collect();
    drop(inbox);
    session.touch();
    if !messages.is_empty() {
        status_body(200, Some(token), &messages)
    } else if session.gone.load(Ordering::Relaxed) {
        status_body(410, None, &[])
    } else {
        status_body(204, Some(token), &[])
    }
}

/// Hands the POSTed frames to the session: the body is one text frame, or
/// with `application/x-ndjson` one per line, where, as in Phoenix, a line
/// starting with `[` is a text frame and any other is Base64 binary. A
/// line that is not Base64 fails the whole POST (Phoenix raises), before
/// any of its frames is handed over.
fn post(session: &Session, req: &Request<'_>) -> Result<(), Failure> {
    let body = String::from_utf8_lossy(&req.body);
    let ndjson = req
        .head
        .header("content-type")
        .is_some_and(|t| t.contains("ndjson"));
    let messages: Vec<Message> = if ndjson {
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                if line.starts_with('[') {
                    Ok(Message::text(line.to_owned()))
                } else {
                    BASE64
                        .decode(line.as_bytes())
                        .map(Message::binary)
                        .map_err(|_| Failure::NotBase64(line.to_owned()))
                }
            })
            .collect::<Result<_, _>>()?
    } else {
        // Any other type is one frame, whatever its line breaks.
        let frame = body.trim();
        (!frame.is_empty())
            .then(|| Message::text(frame.to_owned()))
            .into_iter()
            .collect()
    };
    let to = session
        .to_socket
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for message in messages {
        let _ = to.send(message);
    }
    drop(to);
    let _ = session.waker.notify();
    Ok(())
}

/// Opens a session after the checks a WebSocket upgrade gets; its token.
fn open(
    req: &Request<'_>,
    mount: connect::Mount,
    peer: SocketAddr,
    server: &Arc<Server>,
    sessions: &Arc<Sessions>,
) -> Result<String, Failure> {
    let info = ConnectInfo {
        mount,
        ..check_connect(req, &server.options.policy)?
    };
    let (ours, theirs) = socket_pair().map_err(Failure::SocketPair)?;
    let n = sessions.next.fetch_add(1, Ordering::Relaxed) + 1;
    let token = format!("lp.{n}.{:x}", nonce());
    let waker = Arc::new(Poller::new().map_err(Failure::Start)?);
    let (tx, rx) = mpsc::channel();
    let session = Arc::new(Session {
        to_socket: Mutex::new(tx),
        waker: Arc::clone(&waker),
        inbox: Mutex::new(VecDeque::new()),
        arrived: Condvar::new(),
        gone: AtomicBool::new(false),
        last_seen: Mutex::new(Instant::now()),
    });
    // The channel side: a connection like any WebSocket one.
    let id = server.next_conn.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::clone(server);
    thread::Builder::new()
        .name(format!("phx-conn-{id}"))
        .spawn(move || {
            let ws = WebSocket::from_raw_socket(ServerStream::Plain(theirs), Role::Server, None);
            peer::serve_upgraded(ws, info, peer, id, &shared);
        })
        .map_err(Failure::Start)?;
    // The session side: frames between the requests and the socket.
    let all = Arc::clone(sessions);
    let (s, t) = (Arc::clone(&session), token.clone());
    thread::Builder::new()
        .name(format!("phx-longpoll-{n}"))
        .spawn(move || {
            run_session(&s, ours, &rx, &waker);
            s.gone.store(true, Ordering::Relaxed);
            s.arrived.notify_all();
            all.lock().remove(&t);
        })
        .map_err(Failure::Start)?;
    sessions.lock().insert(token.clone(), session);
    Ok(token)
}

/// The checks a WebSocket upgrade gets, on a long-poll GET.
fn check_connect(req: &Request<'_>, policy: &connect::Policy) -> Result<ConnectInfo, Refusal> {
    let (_, vsn) = connect::check_target(connect::SOCKET_PATH, Some(req.query()))?;
    // The token comes in its own header on long-poll (docs/PROTOCOL.md §1).
    let protocols: Vec<String> = req
        .head
        .header("x-phoenix-authtoken")
        .map(|t| crate::core::endpoint::auth_token_header(t).1)
        .into_iter()
        .collect();
    let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
    let checked = connect::check_headers(req.head.header("origin"), &protocols, policy)?;
    Ok(ConnectInfo {
        vsn,
        mount: connect::Mount::Socket,
        user: connect::param(Some(req.query()), "user"),
        auth_token: checked.auth_token,
        cookie: req.head.header("cookie").map(str::to_owned),
        csrf_token: connect::param(Some(req.query()), "_csrf_token"),
    })
}

/// Some bits that differ between runs, so tokens are not guessable from
/// their counter alone.
fn nonce() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
}

/// Two connected TCP sockets on loopback.
fn socket_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let a = TcpStream::connect(listener.local_addr()?)?;
    let ours = a.local_addr()?;
    loop {
        let (b, from) = listener.accept()?;
        if from == ours {
            a.set_nodelay(true)?;
            b.set_nodelay(true)?;
            return Ok((a, b));
        }
    }
}

/// Moves frames between the session's requests and its socket until the
/// socket closes or the session goes idle.
fn run_session(session: &Session, stream: TcpStream, rx: &Receiver<Message>, waker: &Poller) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut ws = WebSocket::from_raw_socket(stream, Role::Client, None);
    // SAFETY: deleted from the poller before `ws` is dropped, below.
    if unsafe { waker.add(ws.get_ref(), polling::Event::readable(0)) }.is_err() {
        return;
    }
    let mut events = Events::new();
    let mut last_ping = Instant::now();
    loop {
        while let Ok(message) = rx.try_recv() {
            if ws.write(message).is_err() {
                break;
            }
        }
        if last_ping.elapsed() >= KEEPALIVE {
            last_ping = Instant::now();
            let _ = ws.write(Message::Ping(Vec::new().into()));
        }
        let pending = matches!(ws.flush(), Err(tungstenite::Error::Io(ref e)) if e.kind() == ErrorKind::WouldBlock);
        let mut arrived = Vec::new();
        let ended = loop {
            match ws.read() {
                Ok(Message::Text(t)) => arrived.push(t.as_str().to_owned()),
                Ok(Message::Binary(b)) => arrived.push(BASE64.encode(&b)),
                Ok(Message::Close(_)) => break true,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        if !arrived.is_empty() {
            session
                .inbox
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(arrived);
            session.arrived.notify_all();
        }
        if ended {
            break;
        }
        let idle = session
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        if idle >= IDLE {
            let _ = ws.close(None);
            let _ = ws.flush();
            break;
        }
        events.clear();
        let _ = waker.modify(ws.get_ref(), polling::Event::new(0, true, pending));
        if waker
            .wait(&mut events, Some(Duration::from_secs(1)))
            .is_err()
        {
            break;
        }
    }
    let _ = waker.delete(ws.get_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::Vsn;

    #[test]
    fn answers_carry_status_token_and_messages_as_strings() {
        assert_eq!(
            status_body(410, Some("t1"), &[]),
            r#"{"status":410,"token":"t1","messages":[]}"#
        );
        assert_eq!(
            status_body(200, Some("t1"), &[r#"[null,null,"a","b",{}]"#.to_owned()]),
            r#"{"status":200,"token":"t1","messages":["[null,null,\"a\",\"b\",{}]"]}"#
        );
        assert_eq!(
            status_body(403, None, &[]),
            r#"{"status":403,"messages":[]}"#
        );
    }

    #[test]
    fn vsn_default_is_checked_like_a_websocket() {
        // The long-poll open reuses the upgrade's target check.
        assert_eq!(
            connect::check_target(connect::SOCKET_PATH, Some("vsn=2.0.0"))
                .unwrap()
                .1,
            Vsn::V2
        );
    }
}

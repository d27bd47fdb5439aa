//! Opening one client's socket without blocking the network thread: each
//! step is resumed when the poller says its socket is ready, when a helper
//! thread wakes it, or when its deadline passes.
//!
//! - Resolving: an IP address needs no lookup; a host name is looked up on
//!   a short-lived thread that wakes the poller when done.
//! - TCP: a non-blocking `connect` (EINPROGRESS) to each address in turn,
//!   finished when the socket is writable (`SO_ERROR` says how), each
//!   address with its own deadline.
//! - TLS and the upgrade: [`Handshake`] (`transport::websocket`), resumed
//!   on readiness, with `--timeout` for the whole of it.
//! - Long-poll: its connect (HTTP requests, then the bridge threads) runs
//!   on a short-lived thread of its own, whose result wakes the poller.
//!
//! The messages are those of `ConnectError` and `LongPollError`, the same
//! whichever way the socket was opened.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polling::{PollMode, Poller};
use socket2::{Domain, Protocol, Type};
use tungstenite::protocol::WebSocketConfig;
use url::Url;

use crate::core::event::ClientId;
use crate::transport::longpoll;
use crate::transport::tls::Trust;
use crate::transport::websocket::{
    self, ConnectError, Handshake, Shake, Socket, TCP_TIMEOUT, tcp_failed,
};

/// Wakes the network thread for one client, from another thread: the
/// client's id goes in the shared list, then the poller is notified.
#[derive(Clone)]
pub struct Wake {
    pub poller: Arc<Poller>,
    pub woken: Arc<Mutex<Vec<ClientId>>>,
    pub client: ClientId,
}

impl Wake {
    pub fn wake(&self) {
        if let Ok(mut woken) = self.woken.lock() {
            woken.push(self.client);
        }
        let _ = self.poller.notify();
    }
}

/// Where to connect, with the values fetched for this attempt in place.
pub struct Dest<'a> {
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    pub trust: &'a Trust,
}

/// How far [`Dial::advance`] got.
pub enum Progress {
    Pending,
    /// Boxed: a socket is large, and this is once per connection.
    Open(Box<Socket>),
    /// Why it failed, in the words the user reads.
    Failed(String),
}

/// The step an attempt is at.
enum Step {
    Resolving(Receiver<Result<Vec<SocketAddr>, ConnectError>>),
    Tcp {
        addrs: Vec<SocketAddr>,
        /// The address being tried is `addrs[next - 1]`.
        next: usize,
        stream: TcpStream,
        until: Instant,
        last: Option<(String, io::Error)>,
    },
    Handshake {
        shake: Box<Handshake>,
        until: Instant,
    },
    LongPoll(Receiver<Result<Socket, String>>),
}

/// One attempt to open a socket. Its TCP socket, while it has one, is in
/// the poller under `key`; [`Dial::cancel`] (or the end of the attempt)
/// takes it out.
pub struct Dial {
    step: Step,
    url: Url,
    headers: Vec<(String, String)>,
    trust: Trust,
    timeout: Duration,
    config: Option<WebSocketConfig>,
    key: usize,
    /// What the socket is watched for now: (readable, writable).
    watching: Option<(bool, bool)>,
}

impl Dial {
    /// Starts an attempt; an error that needs no I/O to find comes back
    /// at once.
    pub fn start(
        dest: &Dest<'_>,
        timeout: Duration,
        config: Option<WebSocketConfig>,
        wake: Wake,
        poller: &Poller,
    ) -> Result<Dial, String> {
        let key = wake.client as usize;
        let mut dial = Dial {
            step: Step::LongPoll(mpsc::channel().1),
            url: dest.url.clone(),
            headers: dest.headers.to_vec(),
            trust: dest.trust.clone(),
            timeout,
            config,
            key,
            watching: None,
        };
        if let Some(lp) = longpoll::endpoint(dest.url) {
            let (tx, rx) = mpsc::channel();
            let (headers, trust) = (dial.headers.clone(), dial.trust.clone());
            std::thread::Builder::new()
                .name("longpoll-connect".into())
                .spawn(move || {
                    let opened = longpoll::connect(&lp, &headers, &trust, timeout);
                    let _ = tx.send(opened.map_err(|e| e.to_string()));
                    wake.wake();
                })
                .map_err(|e| format!("cannot start the long-poll connect: {e}"))?;
            dial.step = Step::LongPoll(rx);
            return Ok(dial);
        }
        if websocket::needs_lookup(dest.url) {
            let (tx, rx) = mpsc::channel();
            let url = dest.url.clone();
            std::thread::Builder::new()
                .name("resolve".into())
                .spawn(move || {
                    let _ = tx.send(websocket::resolve(&url));
                    wake.wake();
                })
                .map_err(|e| format!("cannot start the name lookup: {e}"))?;
            dial.step = Step::Resolving(rx);
            return Ok(dial);
        }
        let addrs = websocket::resolve(dest.url).map_err(|e| e.to_string())?;
        match dial.tcp(addrs, 0, None, poller, Instant::now()) {
            Progress::Failed(e) => Err(e),
            _ => Ok(dial),
        }
    }

    /// When this step gives up, if it has a deadline of its own.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.step {
            Step::Tcp { until, .. } | Step::Handshake { until, .. } => Some(*until),
            Step::Resolving(_) | Step::LongPoll(_) => None,
        }
    }

    /// Goes as far as the sockets, threads and clock allow.
    pub fn advance(&mut self, poller: &Poller, now: Instant) -> Progress {
        match &mut self.step {
            Step::Resolving(rx) => match rx.try_recv() {
                Ok(Ok(addrs)) => self.tcp(addrs, 0, None, poller, now),
                Ok(Err(e)) => Progress::Failed(e.to_string()),
                Err(TryRecvError::Empty) => Progress::Pending,
                Err(TryRecvError::Disconnected) => Progress::Failed(format!(
                    "cannot resolve `{}`: the lookup failed; check the host name",
                    self.url.host_str().unwrap_or_default()
                )),
            },
            Step::LongPoll(rx) => match rx.try_recv() {
                Ok(Ok(ws)) => Progress::Open(Box::new(ws)),
                Ok(Err(e)) => Progress::Failed(e),
                Err(TryRecvError::Empty) => Progress::Pending,
                Err(TryRecvError::Disconnected) => {
                    Progress::Failed("the long-poll connect ended without an answer".into())
                }
            },
            Step::Tcp {
                addrs,
                next,
                stream,
                until,
                last,
            } => {
                let addr = addrs[*next - 1];
                let failed = match connected(stream) {
                    Ok(true) => None,
                    Ok(false) if now < *until => return Progress::Pending,
                    Ok(false) => Some(io::Error::from(ErrorKind::TimedOut)),
                    Err(e) => Some(e),
                };
                if let Some(e) = failed {
                    let _ = last.insert((addr.to_string(), e));
                    let (addrs, next, last) = (std::mem::take(addrs), *next, last.take());
                    self.unwatch(poller);
                    return self.tcp(addrs, next, last, poller, now);
                }
                // Out of the poller, and out of the step, by value: the
                // handshake registers it again under the same key.
                self.unwatch(poller);
                let idle = Step::LongPoll(mpsc::channel().1);
                let Step::Tcp { stream, .. } = std::mem::replace(&mut self.step, idle) else {
                    unreachable!("in the TCP step")
                };
                self.handshake(stream, poller, now)
            }
            Step::Handshake { shake, until } => match shake.resume() {
                Shake::Pending if now >= *until => {
                    let e = shake.too_slow();
                    self.unwatch(poller);
                    Progress::Failed(e.to_string())
                }
                Shake::Pending => {
                    let wants_write = shake.wants_write();
                    self.watch(poller, (true, wants_write));
                    Progress::Pending
                }
                // The handshake has given its stream up by now: the open
                // socket carries it on, and a failed one closed it, which
                // took it out of the poller.
                Shake::Done(ws) => {
                    if self.watching.take().is_some()
                        && let Some(tcp) = websocket::tcp_of(&ws)
                    {
                        let _ = poller.delete(tcp);
                    }
                    Progress::Open(ws)
                }
                Shake::Failed(e) => {
                    self.watching = None;
                    Progress::Failed(e.to_string())
                }
            },
        }
    }

    /// Tries the addresses from `addrs[next]` on until one is connecting.
    fn tcp(
        &mut self,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        mut last: Option<(String, io::Error)>,
        poller: &Poller,
        now: Instant,
    ) -> Progress {
        while let Some(&addr) = addrs.get(next) {
            next += 1;
            match connect(addr) {
                Ok(stream) => {
                    self.step = Step::Tcp {
                        addrs,
                        next,
                        stream,
                        until: now + TCP_TIMEOUT,
                        last,
                    };
                    self.watch(poller, (false, true));
                    return Progress::Pending;
                }
                Err(e) => last = Some((addr.to_string(), e)),
            }
        }
        Progress::Failed(tcp_failed(&self.url, last).to_string())
    }

    /// TCP is connected: TLS and the upgrade follow, within `--timeout`.
    fn handshake(&mut self, stream: TcpStream, poller: &Poller, now: Instant) -> Progress {
        let dest = (&self.url, &self.headers, &self.trust);
        let shake = Handshake::new(dest.0, dest.1, dest.2, stream, self.timeout, self.config);
        match shake {
            Ok(shake) => {
                self.step = Step::Handshake {
                    shake: Box::new(shake),
                    until: now + self.timeout,
                };
                self.advance(poller, now)
            }
            Err(e) => Progress::Failed(e.to_string()),
        }
    }

    /// The socket being connected, if the step has one.
    fn socket(&self) -> Option<&TcpStream> {
        match &self.step {
            Step::Tcp { stream, .. } => Some(stream),
            Step::Handshake { shake, .. } => shake.tcp(),
            Step::Resolving(_) | Step::LongPoll(_) => None,
        }
    }

    fn watch(&mut self, poller: &Poller, (readable, writable): (bool, bool)) {
        if self.watching == Some((readable, writable)) {
            return;
        }
        let Some(socket) = self.socket() else { return };
        let interest = polling::Event::new(self.key, readable, writable);
        let done = match self.watching {
            Some(_) => poller.modify_with_mode(socket, interest, PollMode::Level),
            // SAFETY: the socket leaves the poller (`unwatch`) before it is
            // dropped: when the step moves on, and in `cancel`.
            None => unsafe { poller.add_with_mode(socket, interest, PollMode::Level) },
        };
        if done.is_ok() {
            self.watching = Some((readable, writable));
        }
    }

    fn unwatch(&mut self, poller: &Poller) {
        if self.watching.take().is_some()
            && let Some(socket) = self.socket()
        {
            let _ = poller.delete(socket);
        }
    }

    /// Gives the attempt up (the client is closing): its socket leaves the
    /// poller; a helper thread still running finishes on its own.
    pub fn cancel(mut self, poller: &Poller) {
        self.unwatch(poller);
    }
}

/// Starts a non-blocking connect to `addr`.
fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket =
        socket2::Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// Whether a non-blocking connect is done: `Ok(false)` while it is still
/// under way, its error (`SO_ERROR`) if it failed.
fn connected(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

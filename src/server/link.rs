//! What other threads may touch of one built-in server connection: its
//! socket and the channel state that decides whether a broadcast still
//! goes out, behind a lock ([`Link`]). The connection's own thread
//! (`peer.rs`) holds it for a whole turn; the registry's flusher, finding
//! it free, writes queued broadcasts into the socket itself
//! (`registry::Deliver`).
//! Also why a connection ended ([`Ended`]), for the log.

use std::io;
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Error, Message, Utf8Bytes, WebSocket};

use super::registry::{Deliver, Outbound, wire_message};
use super::routes::Connection;
use super::stream::ServerStream;
use crate::core::protocol::{Side, Vsn};

/// Broadcasts written per turn, so a busy topic cannot starve the
/// connection's own client.
const INBOX_BUDGET: usize = 4096;
/// How long to wait for the client's close reply after we sent a close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why the loop ended, for the log line.
#[derive(Debug, thiserror::Error)]
pub(super) enum Ended {
    /// We closed, for this reason, and the client answered (or left).
    #[error("{0}")]
    Closed(String),
    /// We closed, for this reason, and the client never answered.
    #[error("{0} (no close reply)")]
    NoCloseReply(String),
    #[error("{}", closed_by_client(.0.as_ref()))]
    ByClient(Option<CloseFrame>),
    #[error("connection closed")]
    ConnectionClosed,
    #[error("read failed: {0}")]
    ReadFailed(Error),
    #[error("write failed: {0}")]
    WriteFailed(Error),
    #[error("poll failed: {0}")]
    PollFailed(io::Error),
    #[error("socket setup failed: {0}")]
    Setup(io::Error),
}

/// How the client's close reads in the log.
fn closed_by_client(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(f) if f.reason.is_empty() => format!("closed by client ({})", f.code),
        Some(f) => format!("closed by client ({} {})", f.code, f.reason),
        None => "closed by client".to_owned(),
    }
}

/// What a sender may touch to write broadcasts for this connection: the
/// socket, and the channels that decide whether a broadcast still goes
/// out. The connection's own thread holds it for a whole turn.
pub(super) struct Link {
    pub(super) ws: WebSocket<ServerStream>,
    /// The serializer the client asked for.
    pub(super) vsn: Vsn,
    pub(super) channels: Connection,
    pub(super) inbox: Receiver<Outbound>,
    /// The last write or flush could not finish: wait for writability and
    /// generate nothing new meanwhile.
    pub(super) write_blocked: bool,
    /// The inbox budget ran out with broadcasts left.
    pub(super) more_inbox: bool,
    /// Set once we sent a close: give up waiting for the reply at this time.
    pub(super) closing: Option<(Instant, String)>,
    /// `stall`: neither read nor write until then.
    pub(super) stalled_until: Option<Instant>,
    /// A write another thread made for us failed: the connection ends so.
    pub(super) failed: Option<Ended>,
}

/// Locks a link, even if a thread panicked holding it: every update
/// leaves it consistent.
pub(super) fn lock(link: &Mutex<Link>) -> MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Deliver for Mutex<Link> {
    fn flush_now(&self) -> bool {
        // Its own thread may be at the end of a turn, its mailbox drained
        // before the last broadcast came: wake it for another.
        let Ok(mut l) = self.try_lock() else {
            return false;
        };
        if l.failed.is_some() {
            return false;
        }
        // Its thread delivers when the socket is writable or the stall
        // ends; a closing connection takes no more broadcasts.
        if l.write_blocked || l.stalled_until.is_some() || l.closing.is_some() {
            return true;
        }
        match l.deliver_broadcasts().and_then(|()| l.flush()) {
            Ok(()) => !(l.write_blocked || l.more_inbox),
            Err(ended) => {
                l.failed = Some(ended);
                false
            }
        }
    }
}

impl Link {
    /// Writes broadcasts other connections queued for us, up to the budget.
    pub(super) fn deliver_broadcasts(&mut self) -> Result<(), Ended> {
        self.more_inbox = false;
        for _ in 0..INBOX_BUDGET {
            let Ok(outbound) = self.inbox.try_recv() else {
                return Ok(());
            };
            let topic = &outbound.topic;
            // A LiveView notice: the views say what it changes for them.
            if let Some(frames) = self.channels.live_notice(topic) {
                for frame in frames {
                    // LiveView frames are JSON text, which every
                    // serializer encodes.
                    if let Ok(message) = self.vsn.encode(&frame, Side::Server).map(wire_message) {
                        self.send(message)?;
                    }
                }
                continue;
            }
            // Queued before we left the topic (or ended the subscription):
            // the channel is gone, drop it.
            if (self.channels.is_joined(topic) || self.channels.has_subscription(topic))
                && let Some(message) = outbound.broadcast.message(self.vsn)
            {
                self.send(message)?;
            }
        }
        self.more_inbox = true;
        Ok(())
    }

    /// Queues a message. A write that would block has still queued it.
    pub(super) fn send(&mut self, message: Message) -> Result<(), Ended> {
        let retry = match self.ws.write(message) {
            Ok(()) => return Ok(()),
            Err(Error::WriteBufferFull(message)) => message,
            Err(e) => return self.write_failed(e),
        };
        // Only possible with a capped write buffer (the default is not):
        // push out what is queued, then try once more.
        self.flush()?;
        match self.ws.write(*retry) {
            Ok(()) => Ok(()),
            Err(e) => self.write_failed(e),
        }
    }

    pub(super) fn flush(&mut self) -> Result<(), Ended> {
        match self.ws.flush() {
            Ok(()) => {
                self.write_blocked = false;
                Ok(())
            }
            Err(e) => self.write_failed(e),
        }
    }

    pub(super) fn write_failed(&mut self, e: Error) -> Result<(), Ended> {
        match e {
            Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.write_blocked = true;
                Ok(())
            }
            Error::ConnectionClosed | Error::AlreadyClosed => {
                Err(self.gone(Ended::ConnectionClosed))
            }
            e => Err(self.gone(Ended::WriteFailed(e))),
        }
    }

    /// Sends a close frame with `code` and `reason`; `log` says why in the
    /// log line.
    pub(super) fn start_close(
        &mut self,
        code: u16,
        reason: &str,
        log: String,
    ) -> Result<(), Ended> {
        // RFC 6455 caps a close reason at 123 bytes.
        let mut cut = reason.len().min(123);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from(&reason[..cut]),
        };
        self.closing = Some((Instant::now() + CLOSE_GRACE, log));
        match self.ws.close(Some(frame)) {
            Ok(()) => Ok(()),
            Err(e) => self.write_failed(e),
        }
    }

    /// The reason to log when the connection ends: ours if we were closing.
    pub(super) fn gone(&self, what: Ended) -> Ended {
        match &self.closing {
            Some((_, reason)) => Ended::Closed(reason.clone()),
            None => what,
        }
    }
}

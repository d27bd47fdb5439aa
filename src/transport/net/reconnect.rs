//! Between sockets, for one connection: when to try again (the JS client's
//! backoff, docs/PROTOCOL.md §5, and the retry budget), what `status` says about
//! uptime and reconnects, and the commands typed while the socket is down,
//! each held until it opens or its deadline passes.
//!
//! All of it is pure bookkeeping over `Instant`s; waiting, connecting and
//! reporting belong to the loop (`net/mod.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::core::channel::reconnect_delay;
use crate::core::event::{Event, ToNet};
use crate::core::session::Request;

/// The reconnect schedule and the connection's history, for `status`.
pub(super) struct Schedule {
    /// Reconnect after an open connection drops.
    reconnect: bool,
    /// Retry a first connection that fails.
    retry: bool,
    /// Give up after this many failed attempts in a row.
    max_retries: Option<u32>,
    /// Failed attempts since the last open socket.
    attempt: u32,
    /// Why the previous attempt failed, to say "the same way" instead of
    /// repeating a long message every few seconds.
    last_error: Option<String>,
    /// For `status`: when the connection began, when the socket opened,
    /// reconnects so far, and the next attempt while offline.
    pub(super) started: Instant,
    pub(super) up_since: Option<Instant>,
    pub(super) reconnects: u32,
    pub(super) next_attempt: Option<(u32, Instant)>,
    /// A socket has opened at least once (else `--retry` is retrying the
    /// first).
    pub(super) opened: bool,
}

/// What follows a socket that ended or an attempt that failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Wait `delay` (until `at`), then try again.
    Retry {
        attempt: u32,
        delay: Duration,
        /// Why the attempt failed; `None` after an open socket dropped.
        error: Option<String>,
        /// The same error as the attempt before.
        repeated: bool,
        /// No socket has opened yet.
        first: bool,
        at: Instant,
    },
    /// `max` attempts in a row have failed: stop. `error`: why the last
    /// one did.
    GiveUp { max: u32, error: Option<String> },
}

impl Schedule {
    pub(super) fn new(
        reconnect: bool,
        retry: bool,
        max_retries: Option<u32>,
        now: Instant,
    ) -> Schedule {
        Schedule {
            reconnect,
            retry,
            max_retries,
            attempt: 0,
            last_error: None,
            started: now,
            up_since: None,
            reconnects: 0,
            next_attempt: None,
            opened: false,
        }
    }

    /// A socket opened.
    pub(super) fn up(&mut self, now: Instant) {
        if self.opened {
            self.reconnects += 1;
        }
        self.last_error = None;
        self.attempt = 0;
        self.opened = true;
        self.up_since = Some(now);
        self.next_attempt = None;
    }

    /// The socket closed, or an attempt failed.
    pub(super) fn down(&mut self) {
        self.up_since = None;
    }

    /// Whether a connection that ended so (`by_client`: we closed it) is
    /// tried again: `--reconnect` once one has opened, `--retry` before.
    pub(super) fn again(&self, by_client: bool) -> bool {
        let retry = if self.opened {
            self.reconnect
        } else {
            self.retry
        };
        retry && !by_client
    }

    /// Counts a failed attempt (or a dropped socket, `error: None`) and
    /// says what follows.
    pub(super) fn next(&mut self, error: Option<String>, now: Instant) -> Next {
        self.attempt += 1;
        if let Some(max) = self.max_retries
            && self.attempt > max
        {
            return Next::GiveUp { max, error };
        }
        let delay = reconnect_delay(self.attempt);
        let repeated = error.is_some() && error == self.last_error;
        self.last_error.clone_from(&error);
        let at = now + delay;
        self.next_attempt = Some((self.attempt, at));
        Next::Retry {
            attempt: self.attempt,
            delay,
            error,
            repeated,
            first: !self.opened,
            at,
        }
    }
}

/// `attempt` or `attempts`, after a count.
pub(super) fn tries(n: u32) -> &'static str {
    if n == 1 { "attempt" } else { "attempts" }
}

/// Commands that arrived while the socket was down, with their deadlines;
/// they run once it is open again.
pub(super) struct Offline {
    held: VecDeque<(Instant, ToNet)>,
    /// How long a command may wait (`--timeout`).
    timeout: Duration,
}

impl Offline {
    pub(super) fn new(timeout: Duration) -> Offline {
        Offline {
            held: VecDeque::new(),
            timeout,
        }
    }

    /// Holds a command until the socket is open again, or `timeout`.
    pub(super) fn hold(&mut self, msg: ToNet, now: Instant) {
        self.held.push_back((now + self.timeout, msg));
    }

    /// The earliest deadline of a held command.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.held.front().map(|(d, _)| *d)
    }

    /// Every held command, oldest first, to run now.
    pub(super) fn take(&mut self) -> impl Iterator<Item = ToNet> + use<> {
        std::mem::take(&mut self.held)
            .into_iter()
            .map(|(_, msg)| msg)
    }

    /// Drops commands held past their deadline: their rejections.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        while self.held.front().is_some_and(|(d, _)| *d <= now) {
            let (_, msg) = self.held.pop_front().expect("front exists");
            let why = format!("still not connected after {}", fmt_secs(self.timeout));
            out.extend(reject(msg, &why));
        }
        out
    }
}

/// The event that tells a command was not sent, and why.
pub(super) fn reject(msg: ToNet, why: &str) -> Option<Event> {
    let (id, what) = match msg {
        ToNet::Request { id, request } => (id, describe(&request)),
        ToNet::Raw { id, .. } => (id, "raw frame".to_owned()),
        ToNet::Topics { id } | ToNet::Status { id } => (id, String::new()),
        ToNet::Close | ToNet::Retarget { .. } => return None,
    };
    let message = if what.is_empty() {
        format!("not sent: {why}")
    } else {
        format!("{what} not sent: {why}")
    };
    Some(Event::Rejected { id, message })
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

/// `10 s`, `250 ms`.
fn fmt_secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(next: Next) -> (u32, Option<String>, bool, bool) {
        match next {
            Next::Retry {
                attempt,
                error,
                repeated,
                first,
                ..
            } => (attempt, error, repeated, first),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retries_follow_the_backoff_and_say_when_an_error_repeats() {
        let now = Instant::now();
        let mut s = Schedule::new(true, true, None, now);
        let e = || Some("refused".to_owned());
        let first = s.next(e(), now);
        assert_eq!(
            first,
            Next::Retry {
                attempt: 1,
                delay: reconnect_delay(1),
                error: e(),
                repeated: false,
                first: true,
                at: now + reconnect_delay(1),
            }
        );
        assert_eq!(s.next_attempt, Some((1, now + reconnect_delay(1))));
        assert_eq!(retry(s.next(e(), now)), (2, e(), true, true));
        assert_eq!(
            retry(s.next(Some("reset".into()), now)),
            (3, Some("reset".into()), false, true)
        );

        // Opening starts the count again; a drop carries no error.
        s.up(now);
        assert_eq!((s.attempt, s.next_attempt, s.reconnects), (0, None, 0));
        s.down();
        assert_eq!(retry(s.next(None, now)), (1, None, false, false));
        s.up(now);
        assert_eq!(s.reconnects, 1);
    }

    #[test]
    fn the_budget_gives_up_after_max_failures_in_a_row() {
        let now = Instant::now();
        let mut s = Schedule::new(true, true, Some(2), now);
        assert!(matches!(s.next(None, now), Next::Retry { attempt: 1, .. }));
        assert!(matches!(s.next(None, now), Next::Retry { attempt: 2, .. }));
        assert_eq!(
            s.next(Some("refused".into()), now),
            Next::GiveUp {
                max: 2,
                error: Some("refused".into())
            }
        );
        assert_eq!((tries(1), tries(2)), ("attempt", "attempts"));
    }

    #[test]
    fn retry_applies_before_the_first_open_and_reconnect_after() {
        let now = Instant::now();
        let mut s = Schedule::new(false, true, None, now);
        assert!(s.again(false));
        assert!(!s.again(true), "closed by us: never again");
        s.up(now);
        assert!(!s.again(false));
        let s = Schedule::new(true, false, None, now);
        assert!(!s.again(false));
    }

    #[test]
    fn held_commands_expire_at_their_deadline_with_a_reason() {
        let now = Instant::now();
        let mut q = Offline::new(Duration::from_millis(250));
        q.hold(
            ToNet::Request {
                id: 7,
                request: Request::Leave {
                    topic: Some("room:1".into()),
                },
            },
            now,
        );
        q.hold(ToNet::Status { id: 8 }, now + Duration::from_millis(100));
        assert_eq!(q.next_deadline(), Some(now + Duration::from_millis(250)));
        assert!(q.expire(now + Duration::from_millis(249)).is_empty());
        let gone = q.expire(now + Duration::from_millis(250));
        assert!(
            matches!(&gone[..], [Event::Rejected { id: 7, message }]
                if message == "`leave room:1` not sent: still not connected after 250 ms"),
            "{gone:?}"
        );
        let rest: Vec<ToNet> = q.take().collect();
        assert!(matches!(rest[..], [ToNet::Status { id: 8 }]));
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn rejections_name_what_was_not_sent() {
        let text = |msg| match reject(msg, "why") {
            Some(Event::Rejected { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text(ToNet::Raw {
                id: 1,
                text: "x".into()
            }),
            "raw frame not sent: why"
        );
        assert_eq!(text(ToNet::Topics { id: 1 }), "not sent: why");
        assert!(reject(ToNet::Close, "why").is_none());
        assert_eq!(fmt_secs(Duration::from_secs(10)), "10 s");
    }
}

//! The connection as the runner sees it: open or not, how often it
//! opened, whether it ended for good and why, and closing it at the end.
//!
//! The socket itself is the network thread's (`transport::net`); this
//! file keeps what the runner needs for the prompt text, the exit status
//! and shutting down.

use std::time::{Duration, Instant};

use super::flow::Step;
use super::{Mode, Runner};
use crate::output::Info;

/// Reconnect lines shown one per attempt during an outage; after them,
/// one line at most every `RECONNECT_EVERY` (`status` tells all, `--json`
/// keeps a record per attempt).
const RECONNECT_LINES: u32 = 3;
const RECONNECT_EVERY: Duration = Duration::from_secs(30);

/// An outage's reconnect lines so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outage {
    start: Instant,
    last_line: Instant,
}

/// What to print for a reconnect attempt.
pub(super) enum ReconnectLine {
    /// The usual line.
    Full,
    /// Nothing: a line was printed less than `RECONNECT_EVERY` ago.
    Hidden,
    /// A summary line instead.
    Summary(String),
}

/// How long to wait for the server to confirm our close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub(super) struct Link {
    /// The socket is open now.
    pub connected: bool,
    /// Times the socket has opened, reconnects included.
    pub opened: u32,
    /// The network thread has sent its last event: nothing more can be sent.
    pub ended: bool,
    /// The connection dropped.
    pub lost: bool,
    /// Connecting failed, for this reason.
    pub connect_error: Option<String>,
    /// The network thread is stuck connecting and was given up on.
    pub abandon_net: bool,
    /// The current outage's reconnect lines, while reconnecting.
    pub outage: Option<Outage>,
    /// `disconnect NAME` closes it: its end is no failure.
    pub closing: bool,
}

impl Link {
    /// Whether and how to show the wait before connect attempt `attempt`
    /// (1, 2, … since the socket was last open), `delay` from now.
    pub(super) fn reconnect_line(
        &mut self,
        attempt: u32,
        delay: Duration,
        now: Instant,
    ) -> ReconnectLine {
        let fresh = Outage {
            start: now,
            last_line: now,
        };
        let o = self.outage.get_or_insert(fresh);
        if attempt <= 1 {
            *o = fresh;
        }
        if attempt <= RECONNECT_LINES {
            o.last_line = now;
            return ReconnectLine::Full;
        }
        if now.duration_since(o.last_line) < RECONNECT_EVERY {
            return ReconnectLine::Hidden;
        }
        o.last_line = now;
        ReconnectLine::Summary(format!(
            "still reconnecting: {} attempts in {} s, next in {}",
            attempt - 1,
            now.duration_since(o.start).as_secs(),
            crate::output::fmt_latency_short(delay)
        ))
    }
}

impl Runner {
    pub(super) fn begin_close(&mut self) {
        self.enter(0);
        // Between connections the network thread may be inside a connect
        // attempt that takes a while: do not wait for it at exit.
        if !self.peer.link.connected {
            self.peer.link.abandon_net = true;
        }
        if self.close_all() {
            self.step = Step::Closing {
                deadline: Instant::now() + CLOSE_WAIT,
            };
        } else {
            self.step = Step::Done;
        }
    }

    /// Tells the prompt about the connection state.
    pub(super) fn update_prompt(&self) {
        if let Mode::Interactive { prompt, base, .. } = &self.settings.mode {
            let _ = prompt.send(self.prompt_text(base));
        }
    }

    pub(super) fn on_connected(&mut self) {
        self.peer.link.connected = true;
        self.peer.link.opened += 1;
        self.peer.link.outage = None;
        let active = self.clients.active;
        self.opened(active);
        let url = self.clients.get(active).shown_url.clone();
        if self.live_retargeted() {
            // A LiveView navigation or reload moved the socket: its join
            // at the new page is what is said.
        } else if self.peer.link.opened > 1 {
            let n = self.peer.link.opened - 1;
            self.info(
                Info::Connected {
                    url: &url,
                    reconnects: Some(n),
                },
                &format!("reconnected to {url} (reconnect {n})"),
            );
        } else {
            let hint = if self.interactive() && active == 0 {
                "; type `help` for commands, `quit` to leave"
            } else {
                ""
            };
            self.info(
                Info::Connected {
                    url: &url,
                    reconnects: None,
                },
                &format!("connected to {url}{hint}"),
            );
        }
        if self.settings.insecure {
            self.info(
                Info::Insecure,
                "warning: --insecure: the server's TLS certificate was not verified, \
                 so anyone between you and it could read or change this session",
            );
        }
        self.update_prompt();
        if matches!(self.step, Step::Connecting) {
            // `phx-repl live URL`: the first line waits for the view.
            self.step = self.pending_join_step().unwrap_or(Step::Idle);
        }
    }

    pub(super) fn on_connect_failed(&mut self, message: &str) {
        let active = self.clients.active;
        if active != 0 {
            // Another client: said, a failure, and the run goes on.
            let name = self.clients.get(active).name.clone();
            self.peer.link.ended = true;
            self.peer.link.connect_error = Some(message.to_owned());
            // A script waits on its `connect` line: the failure names it.
            let line = match self.step {
                Step::Opening { id, line } if id == active => Some(line),
                _ => None,
            };
            self.opened(active);
            self.error(
                &format!("client `{name}` could not connect: {message}"),
                line,
            );
            self.mark_failed();
            // `connect`/`live` made it current: the prompt says so now.
            self.update_prompt();
            return;
        }
        // Printed by main as the fatal error; in JSON mode it is a
        // record on stdout too.
        if self.settings.style.json {
            let mut s = std::mem::take(&mut self.screen.out);
            self.settings.style.error(message, None, &mut s);
            self.screen.out = s;
        }
        self.peer.link.connect_error = Some(message.to_owned());
        self.peer.link.ended = true;
        self.step = Step::Done;
    }

    pub(super) fn on_disconnected(&mut self) {
        self.peer.link.connected = false;
        self.update_prompt();
    }

    /// The network thread is done: the connection was closed or lost.
    pub(super) fn on_closed(&mut self, lost: bool) {
        self.peer.link.connected = false;
        self.peer.link.ended = true;
        if self.clients.active != 0 {
            let active = self.clients.active;
            self.opened(active);
            self.client_ended(lost);
            if matches!(self.step, Step::Closing { .. }) && self.all_closed() {
                self.step = Step::Done;
            }
            return;
        }
        if matches!(self.step, Step::Closing { .. }) && !self.all_closed() {
            // The others' `Closed` ends the run.
            return;
        }
        if lost {
            self.peer.link.lost = true;
        }
        if !self.interactive() || matches!(self.step, Step::Closing { .. }) || !lost {
            self.step = Step::Done;
        } else {
            // At the prompt the user reads what happened and quits.
            self.step = Step::Idle;
            self.update_prompt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(l: ReconnectLine) -> Option<String> {
        match l {
            ReconnectLine::Full => Some("full".into()),
            ReconnectLine::Hidden => None,
            ReconnectLine::Summary(s) => Some(s),
        }
    }

    #[test]
    fn an_outage_shows_three_lines_then_one_every_30_s() {
        let mut link = Link::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let d = Duration::from_secs(5);
        for a in 1..=3 {
            assert_eq!(
                shown(link.reconnect_line(a, d, at(u64::from(a)))).as_deref(),
                Some("full")
            );
        }
        assert_eq!(shown(link.reconnect_line(4, d, at(1_000))), None);
        assert_eq!(shown(link.reconnect_line(9, d, at(29_000))), None);
        assert_eq!(
            shown(link.reconnect_line(10, d, at(30_003))).as_deref(),
            Some("still reconnecting: 9 attempts in 30 s, next in 5 s")
        );
        assert_eq!(shown(link.reconnect_line(11, d, at(40_000))), None);
        assert_eq!(
            shown(link.reconnect_line(17, d, at(60_003))).as_deref(),
            Some("still reconnecting: 16 attempts in 60 s, next in 5 s")
        );
        // A new outage starts over.
        link.outage = None;
        assert_eq!(
            shown(link.reconnect_line(1, d, at(90_000))).as_deref(),
            Some("full")
        );
    }
}

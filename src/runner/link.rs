//! The connection as the runner sees it: open or not, how often it
//! opened, whether it ended for good and why, and closing it at the end.
//!
//! The socket itself is the network thread's (`transport::net`); this
//! file keeps what the runner needs for the prompt text, the exit status
//! and shutting down.

use std::time::{Duration, Instant};

use super::flow::Step;
use super::{Mode, Runner};
use crate::core::event::ToNet;
use crate::output::Info;

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
}

impl Runner {
    pub(super) fn begin_close(&mut self) {
        // Between connections the network thread may be inside a connect
        // attempt that takes a while: do not wait for it at exit.
        if !self.link.connected {
            self.link.abandon_net = true;
        }
        if !self.link.ended && self.net.send(ToNet::Close) {
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
            let text = if self.link.connected {
                format!("{base}> ")
            } else if self.link.ended {
                format!("{base} (disconnected)> ")
            } else {
                format!("{base} (reconnecting)> ")
            };
            let _ = prompt.send(text);
        }
    }

    pub(super) fn on_connected(&mut self) {
        self.link.connected = true;
        self.link.opened += 1;
        let url = self.settings.shown_url.clone();
        if self.link.opened > 1 {
            let n = self.link.opened - 1;
            self.info(
                Info::Connected {
                    url: &url,
                    reconnects: Some(n),
                },
                &format!("reconnected to {url} (reconnect {n})"),
            );
        } else {
            let hint = if self.interactive() {
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
            self.step = Step::Idle;
        }
    }

    pub(super) fn on_connect_failed(&mut self, message: &str) {
        // Printed by main as the fatal error; in JSON mode it is a
        // record on stdout too.
        if self.settings.style.json {
            let mut s = std::mem::take(&mut self.screen.out);
            self.settings.style.error(message, None, &mut s);
            self.screen.out = s;
        }
        self.link.connect_error = Some(message.to_owned());
        self.link.ended = true;
        self.step = Step::Done;
    }

    pub(super) fn on_disconnected(&mut self) {
        self.link.connected = false;
        self.update_prompt();
    }

    /// The network thread is done: the connection was closed or lost.
    pub(super) fn on_closed(&mut self, lost: bool) {
        self.link.connected = false;
        self.link.ended = true;
        if lost {
            self.link.lost = true;
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

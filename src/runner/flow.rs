//! What the runner waits for before it runs the next line (the [`Step`]),
//! and the moves between steps that are not tied to one kind of event:
//! running queued lines while idle, deadlines, a request going out or
//! being answered.
//!
//! The queue of lines is `queue`'s; what a `wait` is and how it fails is
//! `checks`'; what each network event does is `events`'.

use std::time::Instant;

use super::Runner;
use super::checks::Wait;
use crate::core::event::ClientId;
use crate::lang::clients::split_client;

/// What the runner is waiting for before it runs the next line.
#[derive(Debug)]
pub(super) enum Step {
    Connecting,
    /// A script's `connect NAME` (or `disconnect NAME`) on `line`:
    /// waiting for that client to open (or close).
    Opening {
        id: ClientId,
        line: usize,
    },
    Idle,
    /// The network thread has the command; waiting for it to go out.
    Sending {
        id: u64,
        line: usize,
        /// Wait for the reply before the next line (scripts, -e and -f).
        scripted: bool,
    },
    Reply {
        /// Refs are per client.
        client: ClientId,
        ref_: String,
        /// The script line that sent it, named if it times out.
        line: Option<usize>,
    },
    Waiting(Wait),
    Sleeping {
        deadline: Instant,
    },
    Closing {
        deadline: Instant,
    },
    Done,
}

impl Step {
    /// When the runner should stop waiting for input, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Step::Waiting(Wait { deadline, .. })
            | Step::Sleeping { deadline }
            | Step::Closing { deadline } => Some(*deadline),
            _ => None,
        }
    }
}

impl Runner {
    /// Runs queued lines while nothing is pending; starts closing at the end
    /// of input.
    pub(super) fn advance(&mut self) {
        while matches!(self.step, Step::Idle) {
            if let Some(line) = self.queue.pop() {
                if let Some(step) = self.reply_first(&line.text) {
                    self.queue.put_back(line);
                    self.step = step;
                    break;
                }
                self.scripted = line.scripted || !self.interactive();
                self.run_line(line.n, &line.text);
            } else if self.queue.eof {
                self.begin_close();
            } else {
                break;
            }
        }
    }

    /// What an `expect` at the prompt waits for first: the reply to the
    /// latest request, when it has not come yet.
    fn reply_first(&mut self, line: &str) -> Option<Step> {
        if !self.interactive() {
            return None;
        }
        let (name, line) = split_client(line).ok()?;
        if line.split_whitespace().next() != Some("expect") {
            return None;
        }
        let client = match name {
            Some(name) => self.clients.find(name)?,
            None => self.clients.current,
        };
        let (id, ref_) = self.peer_of(client).replies.unreplied()?;
        Some(match ref_ {
            Some(r) => Step::Reply {
                client,
                ref_: r.clone(),
                line: None,
            },
            // Still held (the topic is joining, or offline).
            None => Step::Sending {
                id: *id,
                line: 0,
                scripted: true,
            },
        })
    }

    pub(super) fn on_deadline(&mut self) {
        match std::mem::replace(&mut self.step, Step::Idle) {
            Step::Waiting(wait) => {
                // Said as the client that waited.
                self.enter(wait.client);
                self.wait_missed(wait);
            }
            Step::Closing { .. } => self.step = Step::Done,
            Step::Sleeping { .. } => {}
            other => self.step = other,
        }
    }

    /// The request with `ref_` was answered or given up on.
    pub(super) fn end_reply_wait(&mut self, ref_: &str) {
        self.peer.replies.ended(ref_);
        if let Step::Reply {
            ref_: want, client, ..
        } = &self.step
            && want == ref_
            && *client == self.clients.active
        {
            self.step = Step::Idle;
        }
    }

    /// Command `id` went out (or was dealt with without going out).
    pub(super) fn sent(&mut self, id: u64) {
        if let Step::Sending { id: want, .. } = self.step
            && want == id
        {
            self.step = Step::Idle;
        }
    }
}

//! Runs lines against the connection and prints everything that happens;
//! shared by the piped (script) and interactive front ends.
//!
//! The runner is the only consumer of one channel that carries input lines
//! (from stdin or the prompt), Ctrl-C, and batches of network events, so
//! incoming frames are printed as they arrive even while a script waits for
//! a reply, and there is a single writer to the terminal. In a script,
//! `join`, `leave`, `push` and `heartbeat` wait for their reply before the
//! next line runs; at the prompt they do not. The runner also keeps the
//! exit status.
//!
//! This file owns the public types, the loop and the inputs that are not
//! network events. The rest is split by concern, each file owning its part
//! of the state: `queue` (lines waiting to run), `read_ahead` (how far a
//! script is read ahead), `flow` (what the runner waits for), `lines`
//! (running a line), `events` (network events), `replies` (the replies
//! awaited), `checks` (`expect`, `wait`, the tally), `link` (the
//! connection's state), `screen` (writing output), `completion` (words
//! for the prompt), `recording`, `mute` and `roster` (presence), `gql`
//! (GraphQL) and `live` (LiveView pages). The prompt itself is `prompt`'s
//! and the recording file `recorder`'s.

mod checks;
mod clients;
mod completion;
mod connect;
mod events;
mod flow;
mod gql;
mod lines;
mod link;
mod live;
mod mute;
mod queue;
mod read_ahead;
mod recording;
mod replies;
pub mod report;
mod roster;
mod screen;
mod values;

pub mod fanout;
pub mod prompt;
pub mod recorder;

pub use connect::Base;
pub use live::{LiveError, LiveOptions, Prepared, prepare};

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use rustyline::ExternalPrinter;

use crate::core::endpoint::Redactor;
use crate::core::event::Event;
use crate::lang::vocab::Word;
use crate::output::{Info, Style};
use crate::transport::net::Handle;
use checks::Checks;
use clients::{Clients, Peer};
use completion::Told;
use flow::Step;
use mute::Mutes;
use queue::Queue;
pub use read_ahead::{ReadAhead, spawn_stdin_reader};
use recorder::Recorder;
use recording::Recording;
use screen::{FLUSH_AT, Screen};

/// The input channel's sender is gone: nothing more will come.
#[derive(Debug)]
pub struct Gone;

/// The next input, or `None` when `deadline` passed first.
pub(crate) fn next_input(
    rx: &Receiver<Input>,
    deadline: Option<Instant>,
) -> Result<Option<Input>, Gone> {
    match deadline {
        Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
            Ok(i) => Ok(Some(i)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Gone),
        },
        None => rx.recv().map(Some).map_err(|_| Gone),
    }
}

/// Everything the runner reacts to.
pub enum Input {
    Line(String),
    /// Lines from `-e` and `-f`, run before anything else; each waits for
    /// its reply, as in a script, even before the prompt.
    First(Vec<String>),
    /// No more lines (end of the script, Ctrl-D, `quit` at the prompt).
    Eof,
    /// Ctrl-C at the prompt: cancel what is pending.
    Interrupt,
    /// The prompt is reading again: held output can be printed.
    Reading,
    /// Network events, in order, one batch per network wake-up.
    Net(Vec<Event>),
    /// SIGINT (piped) or SIGTERM: close the socket politely and exit with
    /// this code.
    Terminate(u8),
    /// A LiveView page fetched on a helper thread (`live`).
    Page(Box<live::Fetched>),
}

/// Where output goes.
pub enum Sink {
    /// Plain stdout; in human mode errors go to stderr.
    Stdout { errors_to_stderr: bool },
    /// Above the rustyline prompt.
    Printer(Box<dyn ExternalPrinter + Send>),
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A script line failed: invalid, timed out, or an error under `--fail`.
    Failed,
    /// The connection dropped.
    ConnectionLost,
    /// Connecting failed, for this reason.
    CouldNotConnect(String),
    /// Ended by a signal; exit with this code.
    Terminated(u8),
}

/// A script line failed.
pub const EXIT_FAILED: u8 = 1;
/// The server could not be reached, or the connection was lost.
pub const EXIT_CONNECTION: u8 = 3;

impl Outcome {
    /// The process's exit code for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => EXIT_FAILED,
            Outcome::ConnectionLost | Outcome::CouldNotConnect(_) => EXIT_CONNECTION,
            Outcome::Terminated(code) => *code,
        }
    }
}

/// Interactive or piped.
pub enum Mode {
    /// Lines wait for their replies; failures set the exit status. The
    /// reader of stdin takes room in `read_ahead` per line; it is given
    /// back as each line runs, so a script is not read far ahead.
    Script { read_ahead: Arc<ReadAhead> },
    /// Lines do not wait for replies; `prompt` gets the prompt text
    /// whenever the connection state changes.
    Interactive {
        prompt: Sender<String>,
        /// `phx-repl HOST:PORT`
        base: String,
        /// Set while the editor is reading a line: only then is printing
        /// above the prompt sure to keep its order (see `prompt`).
        ready: Arc<AtomicBool>,
        /// Topics and events for tab completion (see `vocab`).
        words: Sender<Word>,
    },
}

pub struct Settings {
    pub style: Style,
    pub timeout: Duration,
    pub fail: bool,
    /// Stop a script at its first failure.
    pub bail: bool,
    /// Print the summary line on stderr at the end (piped runs without `--quiet`).
    pub summary: bool,
    pub mode: Mode,
    /// The socket URL as shown to the user (secrets redacted).
    pub shown_url: String,
    /// The LiveView page of `phx-repl live URL` (secrets redacted).
    pub page_url: Option<String>,
    /// The first client's name (`--as`, else `main`).
    pub name: String,
    /// What `connect NAME` starts from.
    pub base: Base,
    /// Absinthe's control topic (`--gql-topic`).
    pub gql_topic: String,
    /// `--record FILE`, already created.
    pub record: Option<Recorder>,
    /// `--insecure` on a wss:// URL: warn on every connect.
    pub insecure: bool,
    /// Secrets kept out of everything printed (empty with `--show-secrets`).
    pub redactor: Redactor,
    /// `--junit FILE`: the report of the script.
    pub junit: Option<report::Junit>,
    /// Where a LiveView page fetched on a helper thread is handed back
    /// (`Input::Page`); `None`: fetched on the runner's thread.
    pub inputs: Option<Sender<Input>>,
}

pub struct Runner {
    rx: Receiver<Input>,
    net: Handle,
    settings: Settings,
    step: Step,
    /// The running line came from a script, -e or -f.
    scripted: bool,
    queue: Queue,
    /// The state of the client being served (see `clients`).
    peer: Peer,
    clients: Clients,
    /// The id for the next command, unique across clients.
    next_id: u64,
    /// Subscriptions made so far, for their short names (`s1`, …).
    gql_shorts: u32,
    /// Values kept by `let`, for `${NAME}`; shared by every client.
    vars: std::collections::HashMap<String, String>,
    checks: Checks,
    /// Check records kept for `--junit`.
    report: report::Tap,
    screen: Screen,
    recording: Recording,
    mutes: Mutes,
    /// Words already sent to the prompt's completion.
    told: Told,
    /// Set by SIGINT/SIGTERM: the exit code.
    terminated: Option<u8>,
}

impl Runner {
    pub fn new(rx: Receiver<Input>, net: Handle, sink: Sink, mut settings: Settings) -> Runner {
        let clients = Clients::new(settings.name.clone(), settings.shown_url.clone());
        let recording = Recording::new(settings.record.take());
        // The screen scrubs everything written, so the secrets go there.
        let screen = Screen::new(sink, &settings.mode, std::mem::take(&mut settings.redactor));
        let report = report::Tap::new(settings.junit.take(), settings.style);
        Runner {
            rx,
            net,
            settings,
            step: Step::Connecting,
            scripted: false,
            queue: Queue::default(),
            peer: Peer::new(),
            clients,
            next_id: 0,
            vars: std::collections::HashMap::new(),
            gql_shorts: 0,
            checks: Checks::new(),
            report,
            screen,
            recording,
            mutes: Mutes::default(),
            told: Told::default(),
            terminated: None,
        }
    }

    /// The id for the next command.
    fn issue_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn interactive(&self) -> bool {
        matches!(self.settings.mode, Mode::Interactive { .. })
    }

    /// The script line to name in a message (none at the prompt).
    fn line_label(&self, line: usize) -> Option<usize> {
        self.scripted.then_some(line)
    }

    /// Prints an `info` line (e.g. that the built-in server started).
    pub fn info(&mut self, info: Info<'_>, text: &str) {
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.info(&info, text, &mut s);
        self.screen.out = s;
    }

    /// Runs until the input ends or the connection drops.
    pub fn run(mut self) -> Outcome {
        loop {
            self.advance();
            if matches!(self.step, Step::Done) || self.screen.closed {
                break;
            }
            self.flush();
            let Ok(input) = next_input(&self.rx, self.step.deadline()) else {
                break;
            };
            match input {
                Some(i) => {
                    self.handle(i);
                    self.drain_burst();
                }
                None => self.on_deadline(),
            }
        }
        if !matches!(self.step, Step::Done) {
            // Output closed or the channel ended: close the sockets politely.
            self.close_all();
        }
        let outcome = self.outcome();
        if self.settings.style.json && !self.interactive() && self.peer.link.connect_error.is_none()
        {
            // The last record: the summary line's counts, and how the
            // run exits.
            let record = self.checks.tally.record(Some(outcome.exit_code()));
            self.screen.set_tag(None);
            crate::output::records::push(&mut self.screen.out, &record);
        }
        let record = self.checks.tally.record(Some(outcome.exit_code()));
        if let Err(e) = self
            .report
            .write(&record, self.peer.link.connect_error.as_deref())
        {
            let _ = writeln!(io::stderr(), "phx-repl: error: {e}");
        }
        self.final_flush();
        if self.settings.summary && self.peer.link.connect_error.is_none() {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "{}", self.checks.tally.line());
            let _ = stderr.flush();
        }
        self.finish(outcome)
    }

    /// Handles what has already arrived without blocking, so a burst is
    /// printed as one batch. Stops early only when a line is ready to run.
    fn drain_burst(&mut self) {
        while self.screen.out.len() < FLUSH_AT
            && (!matches!(self.step, Step::Idle) || self.queue.is_empty())
        {
            match self.rx.try_recv() {
                Ok(i) => self.handle(i),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }

    /// Waits for the network thread (unless it was given up on) and says
    /// how the run ended.
    fn finish(self, outcome: Outcome) -> Outcome {
        if !self.peer.link.abandon_net {
            self.net.join();
        }
        outcome
    }

    /// How the run ended; nothing that decides it changes once the loop
    /// is over.
    fn outcome(&self) -> Outcome {
        if let Some(code) = self.terminated {
            Outcome::Terminated(code)
        } else if let Some(e) = &self.peer.link.connect_error {
            Outcome::CouldNotConnect(e.clone())
        } else if self.peer.link.lost {
            Outcome::ConnectionLost
        } else if self.checks.failed && matches!(self.settings.mode, Mode::Script { .. }) {
            Outcome::Failed
        } else {
            Outcome::Ok
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            // The loop flushes held output before it next waits.
            Input::Reading => {}
            Input::Line(l) => self.on_lines(&l),
            Input::First(lines) => {
                for line in lines {
                    self.push_line(line, true);
                }
                self.queue.end_partial();
            }
            Input::Eof => self.on_eof(),
            Input::Interrupt => self.interrupt(),
            Input::Terminate(code) => self.terminate(code),
            Input::Net(events) => self.on_batch(events),
            Input::Page(fetched) => self.on_page(*fetched),
        }
    }

    /// Lines typed or read from the script.
    fn on_lines(&mut self, l: &str) {
        if self.checks.bailed {
            return;
        }
        // A paste at the prompt arrives as one multi-line string.
        let scripted = !self.interactive();
        for part in l.split('\n') {
            self.push_line(part.to_owned(), scripted);
        }
        if !scripted {
            // The prompt only sends whole commands.
            self.queue.end_partial();
        }
    }

    /// Queues a line, joining the lines of a multi-line JSON payload into
    /// one command (see `multiline`).
    fn push_line(&mut self, part: String, scripted: bool) {
        if self.queue.push(part, scripted)
            && let Mode::Script { read_ahead } = &self.settings.mode
        {
            // A line merged into another runs no command of its own:
            // give its read-ahead credit back now.
            read_ahead.give_back();
        }
    }

    fn on_eof(&mut self) {
        self.queue.end_partial();
        // At the prompt, Ctrl-D or `quit` ends the session now, not
        // after a pending sleep or wait or the lines behind them.
        if self.interactive() {
            self.queue.clear();
            if matches!(
                self.step,
                Step::Waiting(_) | Step::Sleeping { .. } | Step::Sending { .. }
            ) {
                self.step = Step::Idle;
            }
        }
        self.queue.eof = true;
    }

    /// SIGINT (piped) or SIGTERM: close politely; a second signal stops
    /// waiting for the close.
    fn terminate(&mut self, code: u8) {
        if self.terminated.is_some() {
            self.peer.link.abandon_net = true;
            self.step = Step::Done;
            return;
        }
        self.terminated = Some(code);
        self.queue.clear();
        self.queue.eof = true;
        if matches!(self.step, Step::Connecting) {
            self.peer.link.abandon_net = true;
            self.step = Step::Done;
        } else if !matches!(self.step, Step::Closing { .. } | Step::Done) {
            self.begin_close();
        }
    }

    /// Ctrl-C: drops queued lines and stops waiting for a reply, a message
    /// or a sleep.
    fn interrupt(&mut self) {
        if matches!(self.step, Step::Connecting) {
            // The handshake may take its full timeout; stop waiting for it.
            self.peer.link.connect_error = Some("cancelled while connecting".to_owned());
            self.peer.link.abandon_net = true;
            self.step = Step::Done;
            return;
        }
        let dropped = self.queue.clear();
        let pending = match self.step {
            Step::Waiting(_) => Some("the wait"),
            Step::Sleeping { .. } => Some("the sleep"),
            Step::Reply { .. } | Step::Sending { .. } => Some("waiting for the reply"),
            _ => None,
        };
        if pending.is_some() {
            self.step = Step::Idle;
        }
        let queued = match dropped {
            0 => None,
            1 => Some("1 queued line".to_owned()),
            n => Some(format!("{n} queued lines")),
        };
        let text = match (pending, queued) {
            (Some(p), Some(q)) => format!("cancelled {p} and {q}"),
            (Some(p), None) => format!("cancelled {p}"),
            (None, Some(q)) => format!("cancelled {q}"),
            (None, None) => return,
        };
        self.info(Info::Interrupted, &text);
    }
}

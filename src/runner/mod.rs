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

pub mod prompt;
pub mod recorder;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustyline::ExternalPrinter;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::core::endpoint::Redactor;
use crate::core::event::{Event, ToNet};
use crate::core::packed::{Packed, Recent};
use crate::core::presence::{self, PRESENCE_DIFF, PRESENCE_STATE};
use crate::core::protocol::{Frame, PHX_JOIN, Payload, View, json_str};
use crate::core::session::{Message as PhxMessage, MessageKind};
use crate::lang::command::{self, Command};
use crate::lang::matcher;
use crate::lang::multiline;
use crate::lang::vars;
use crate::lang::vocab::Word;
use crate::output::{Expectation, Style, display_json};
use crate::transport::net::Handle;
use recorder::Recorder;

/// Messages kept for `wait` to find, at most (oldest dropped first).
const WAIT_MEMORY: usize = 10_000;
/// And at most this much of them (their text, plus an estimate of the
/// bookkeeping), so a flood of large frames keeps memory flat.
const WAIT_MEMORY_BYTES: usize = 256 * 1024;
/// Output is written once this much is buffered, even mid-burst.
const FLUSH_AT: usize = 64 * 1024;
/// Packed messages are printed this many at a time (see `FLUSH_AT`).
const FLUSH_EVERY: usize = 256;
/// How long to wait for the server to confirm our close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

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
        /// above the prompt sure to keep its order (see `repl`).
        ready: Arc<AtomicBool>,
        /// Topics and events for tab completion (see `vocab`).
        words: Sender<Word>,
    },
}

/// How far the reader of a script may run ahead of the lines that ran,
/// in lines. The reader takes room for the lines it reads and the runner
/// gives it back line by line; a reader that ran out is woken only once
/// half the room is free again, so a long script costs the two threads one
/// wake-up per batch of lines instead of one per line.
pub struct ReadAhead {
    free: Mutex<usize>,
    freed: Condvar,
    size: usize,
}

impl ReadAhead {
    pub fn new(size: usize) -> ReadAhead {
        ReadAhead {
            free: Mutex::new(size.max(1)),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    /// Below this much free room the reader waits.
    fn low_water(&self) -> usize {
        (self.size / 2).max(1)
    }

    /// For the reader: waits until there is room, and says how many lines
    /// it may read now.
    pub fn room(&self) -> usize {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if *free == 0 {
            while *free < self.low_water() {
                free = self
                    .freed
                    .wait(free)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        *free
    }

    /// For the reader: `lines` more are on their way to the runner.
    pub fn take(&self, lines: usize) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free = free.saturating_sub(lines);
    }

    /// For the runner: a line read ahead has run.
    pub fn give_back(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if *free < self.size {
            *free += 1;
            if *free == self.low_water() {
                self.freed.notify_one();
            }
        }
    }
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
    /// `--record FILE`, already created.
    pub record: Option<Recorder>,
    /// `--insecure` on a wss:// URL: warn on every connect.
    pub insecure: bool,
    /// Secrets kept out of everything printed (empty with `--show-secrets`).
    pub redactor: Redactor,
}

/// What the runner is waiting for before it runs the next line.
#[derive(Debug)]
enum Step {
    Connecting,
    Idle,
    /// The network thread has the command; waiting for it to go out.
    Sending {
        id: u64,
        line: usize,
        /// Wait for the reply before the next line (scripts, -e and -f).
        scripted: bool,
    },
    Reply {
        ref_: String,
    },
    Waiting {
        topic: String,
        event: String,
        payload: Option<Value>,
        /// The last message with that topic and event whose payload did
        /// not match, to show when the wait fails.
        near_miss: Option<String>,
        deadline: Instant,
        timeout: Duration,
        line: usize,
    },
    Sleeping {
        deadline: Instant,
    },
    Closing {
        deadline: Instant,
    },
    Done,
}

pub struct Runner {
    rx: Receiver<Input>,
    net: Handle,
    sink: Sink,
    settings: Settings,
    step: Step,
    /// (line number, text, scripted: waits for its reply).
    queue: VecDeque<(usize, String, bool)>,
    /// The running line came from a script, -e or -f.
    scripted: bool,
    /// A command whose JSON payload is not closed yet: (first line number,
    /// text so far, scripted).
    partial: Option<(usize, String, bool)>,
    /// Refs of automatic rejoins not yet answered: their replies are not
    /// what `expect` checks, what the summary counts, or what is recorded.
    rejoin_refs: std::collections::HashSet<String>,
    /// Events already told to the prompt for completion, by topic, and
    /// how many pairs that is.
    told: std::collections::HashMap<String, std::collections::HashSet<String>>,
    told_pairs: usize,
    lines_read: usize,
    eof: bool,
    next_id: u64,
    /// Messages not yet consumed by `wait`.
    recent: Recent,
    /// What the latest request got, for `expect`.
    last_reply: Option<LastReply>,
    /// Who is present on each topic.
    presence: presence::Tracker,
    tally: Tally,
    /// `--bail` stopped the script: later lines are ignored.
    bailed: bool,
    /// Muted events and topics, each with how many messages it hid.
    muted: Vec<(String, u64)>,
    /// `record FILE` / `--record FILE`.
    recorder: Option<Recorder>,
    /// Each live topic's `join` line as typed, so that a recording started
    /// later begins by joining them (its replay needs them).
    join_lines: Vec<(String, String)>,
    /// At the prompt, the latest request (its id, and its ref once sent)
    /// until its reply, timeout or failure: an `expect` typed before then
    /// waits for it, as it would in a script.
    unreplied: Option<(u64, Option<String>)>,
    out: String,
    err: String,
    failed: bool,
    connection_lost: bool,
    connect_error: Option<String>,
    /// The socket is open now.
    connected: bool,
    /// Times the socket has opened, reconnects included.
    opened: u32,
    /// The network thread has sent its last event: nothing more can be sent.
    ended: bool,
    stdout_closed: bool,
    /// The network thread is stuck connecting and was given up on.
    abandon_net: bool,
    /// Set by SIGINT/SIGTERM: the exit code.
    terminated: Option<u8>,
}

impl Runner {
    pub fn new(rx: Receiver<Input>, net: Handle, sink: Sink, mut settings: Settings) -> Runner {
        let recorder = settings.record.take();
        Runner {
            recorder,
            rx,
            net,
            sink,
            settings,
            step: Step::Connecting,
            queue: VecDeque::new(),
            scripted: false,
            partial: None,
            rejoin_refs: std::collections::HashSet::new(),
            told: std::collections::HashMap::new(),
            told_pairs: 0,
            lines_read: 0,
            eof: false,
            next_id: 0,
            recent: Recent::new(WAIT_MEMORY, WAIT_MEMORY_BYTES),
            last_reply: None,
            presence: presence::Tracker::new(),
            tally: Tally::default(),
            bailed: false,
            muted: Vec::new(),
            join_lines: Vec::new(),
            unreplied: None,
            out: String::new(),
            err: String::new(),
            failed: false,
            connection_lost: false,
            connect_error: None,
            connected: false,
            opened: 0,
            ended: false,
            stdout_closed: false,
            abandon_net: false,
            terminated: None,
        }
    }

    fn interactive(&self) -> bool {
        matches!(self.settings.mode, Mode::Interactive { .. })
    }

    /// Prints an `info` line (e.g. that the built-in server started).
    pub fn info(&mut self, event: &str, text: &str, fields: &[(&str, String)]) {
        let mut s = std::mem::take(&mut self.out);
        self.settings.style.info(event, text, fields, &mut s);
        self.out = s;
    }

    /// Runs until the input ends or the connection drops.
    pub fn run(mut self) -> Outcome {
        loop {
            self.advance();
            if matches!(self.step, Step::Done) || self.stdout_closed {
                break;
            }
            self.flush();
            let input = match self.deadline() {
                Some(d) => match self
                    .rx
                    .recv_timeout(d.saturating_duration_since(Instant::now()))
                {
                    Ok(i) => Some(i),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(i) => Some(i),
                    Err(_) => break,
                },
            };
            match input {
                Some(i) => {
                    self.handle(i);
                    // Drain a burst without blocking, printing it as one batch.
                    // Stop early only when a line is ready to run.
                    while self.out.len() < FLUSH_AT
                        && (!matches!(self.step, Step::Idle) || self.queue.is_empty())
                    {
                        match self.rx.try_recv() {
                            Ok(i) => self.handle(i),
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                }
                None => self.on_deadline(),
            }
        }
        if !matches!(self.step, Step::Done) {
            // Output closed or the channel ended: close the socket politely.
            self.net.send(ToNet::Close);
        }
        self.final_flush();
        if self.settings.summary && self.connect_error.is_none() {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "{}", self.tally.line());
            let _ = stderr.flush();
        }
        let Runner {
            net,
            connection_lost,
            connect_error,
            failed,
            settings,
            abandon_net,
            terminated,
            ..
        } = self;
        if !abandon_net {
            net.join();
        }
        if let Some(code) = terminated {
            Outcome::Terminated(code)
        } else if let Some(e) = connect_error {
            Outcome::CouldNotConnect(e)
        } else if connection_lost {
            Outcome::ConnectionLost
        } else if failed && matches!(settings.mode, Mode::Script { .. }) {
            Outcome::Failed
        } else {
            Outcome::Ok
        }
    }

    /// Runs queued lines while nothing is pending; starts closing at the end
    /// of input.
    fn advance(&mut self) {
        while matches!(self.step, Step::Idle) {
            if let Some((n, line, scripted)) = self.queue.pop_front() {
                if let Some(step) = self.reply_first(&line) {
                    self.queue.push_front((n, line, scripted));
                    self.step = step;
                    break;
                }
                self.scripted = scripted || !self.interactive();
                self.run_line(n, &line);
            } else if self.eof {
                self.begin_close();
            } else {
                break;
            }
        }
    }

    /// What an `expect` at the prompt waits for first: the reply to the
    /// latest request, when it has not come yet.
    fn reply_first(&self, line: &str) -> Option<Step> {
        if !self.interactive() || line.split_whitespace().next() != Some("expect") {
            return None;
        }
        let (id, ref_) = self.unreplied.as_ref()?;
        Some(match ref_ {
            Some(r) => Step::Reply { ref_: r.clone() },
            // Still held (the topic is joining, or offline).
            None => Step::Sending {
                id: *id,
                line: 0,
                scripted: true,
            },
        })
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.step {
            Step::Waiting { deadline, .. }
            | Step::Sleeping { deadline }
            | Step::Closing { deadline } => Some(*deadline),
            _ => None,
        }
    }

    fn on_deadline(&mut self) {
        match std::mem::replace(&mut self.step, Step::Idle) {
            Step::Waiting {
                topic,
                event,
                payload,
                near_miss,
                timeout,
                line,
                ..
            } => {
                self.tally.failed += 1;
                match payload {
                    None => {
                        let msg = format!(
                            "no `{event}` on `{topic}` within {}; raise it with `wait {topic} {event} 30s`",
                            fmt_duration(timeout)
                        );
                        self.error(&msg, self.line_label(line));
                    }
                    Some(want) => {
                        let (got, detail) = match &near_miss {
                            Some(p) => (
                                display_json(p).into_owned(),
                                matcher::subset_text(&want, p).map(|m| m.to_string()),
                            ),
                            None => (format!("no `{event}` on `{topic}`"), None),
                        };
                        let summary = format!(
                            "no `{event}` on `{topic}` with a matching payload within {}",
                            fmt_duration(timeout)
                        );
                        self.expectation(Expectation {
                            passed: false,
                            summary: &summary,
                            expected: &want.to_string(),
                            got: &got,
                            detail: detail.as_deref(),
                            line: self.line_label(line),
                        });
                    }
                }
                self.mark_failed();
            }
            Step::Closing { .. } => self.step = Step::Done,
            Step::Sleeping { .. } => {}
            other => self.step = other,
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            // The loop flushes held output before it next waits.
            Input::Reading => {}
            Input::Line(l) => {
                if self.bailed {
                    return;
                }
                // A paste at the prompt arrives as one multi-line string.
                let scripted = !self.interactive();
                for part in l.split('\n') {
                    self.push_line(part.to_owned(), scripted);
                }
                if !scripted {
                    // The prompt only sends whole commands.
                    self.end_partial();
                }
            }
            Input::First(lines) => {
                for line in lines {
                    self.push_line(line, true);
                }
                self.end_partial();
            }
            Input::Eof => {
                self.end_partial();
                // At the prompt, Ctrl-D or `quit` ends the session now, not
                // after a pending sleep or wait or the lines behind them.
                if self.interactive() {
                    self.queue.clear();
                    if matches!(
                        self.step,
                        Step::Waiting { .. } | Step::Sleeping { .. } | Step::Sending { .. }
                    ) {
                        self.step = Step::Idle;
                    }
                }
                self.eof = true;
            }
            Input::Interrupt => self.interrupt(),
            Input::Terminate(code) => {
                if self.terminated.is_some() {
                    // A second signal: stop waiting for the close.
                    self.abandon_net = true;
                    self.step = Step::Done;
                    return;
                }
                self.terminated = Some(code);
                self.queue.clear();
                self.eof = true;
                if matches!(self.step, Step::Connecting) {
                    self.abandon_net = true;
                    self.step = Step::Done;
                } else if !matches!(self.step, Step::Closing { .. } | Step::Done) {
                    self.begin_close();
                }
            }
            Input::Net(mut events) => {
                let mut held = 0;
                for ev in &mut events {
                    held += held_len(ev);
                    match ev {
                        Event::Messages(pack) => self.on_messages(pack),
                        ev => self.on_net(ev),
                    }
                }
                // The events go back to the network thread, which drops
                // them when it reuses the batch: memory is then freed by
                // the thread that allocated it, which keeps the two threads
                // from contending for the allocator in a flood. A batch
                // holding much (big frames, a long undecodable one) is freed
                // here instead, so it is not kept on the way back.
                if held > HELD_BYTES {
                    events.clear();
                }
                self.net.batch_done(events);
            }
        }
    }

    /// Queues a line, joining the lines of a multi-line JSON payload into
    /// one command (see `multiline`).
    fn push_line(&mut self, part: String, scripted: bool) {
        self.lines_read += 1;
        let n = self.lines_read;
        if let Some((start, mut text, s)) = self.partial.take() {
            if !multiline::starts_command(&part) {
                // A line merged into another runs no command of its own:
                // give its read-ahead credit back now.
                if let Mode::Script { read_ahead } = &self.settings.mode {
                    read_ahead.give_back();
                }
                text.push('\n');
                text.push_str(&part);
                if multiline::is_incomplete(&text) {
                    self.partial = Some((start, text, s));
                } else {
                    self.queue.push_back((start, text, s));
                }
                return;
            }
            self.queue.push_back((start, text, s));
        }
        if multiline::is_incomplete(&part) {
            self.partial = Some((n, part, scripted));
        } else {
            self.queue.push_back((n, part, scripted));
        }
    }

    /// Queues an unfinished command as it is (its parse error says why).
    fn end_partial(&mut self) {
        if let Some(p) = self.partial.take() {
            self.queue.push_back(p);
        }
    }

    /// Tells the prompt's completion about topics and events.
    fn tell(&mut self, word: Word) {
        let Mode::Interactive { words, .. } = &self.settings.mode else {
            return;
        };
        if let Word::Seen { topic, event } = &word {
            // Each pair once; a server inventing names stops being heard.
            if self.told_pairs >= 100_000 || self.was_told(topic, event) {
                return;
            }
            self.told
                .entry(topic.clone())
                .or_default()
                .insert(event.clone());
            self.told_pairs += 1;
        }
        let _ = words.send(word);
    }

    /// Ctrl-C: drops queued lines and stops waiting for a reply, a message
    /// or a sleep.
    fn interrupt(&mut self) {
        if matches!(self.step, Step::Connecting) {
            // The handshake may take its full timeout; stop waiting for it.
            self.connect_error = Some("cancelled while connecting".to_owned());
            self.abandon_net = true;
            self.step = Step::Done;
            return;
        }
        let dropped = self.queue.len();
        self.queue.clear();
        let pending = match self.step {
            Step::Waiting { .. } => Some("the wait"),
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
        self.info("interrupted", &text, &[]);
    }

    fn line_label(&self, line: usize) -> Option<usize> {
        self.scripted.then_some(line)
    }

    fn run_line(&mut self, n: usize, line: &str) {
        if let Mode::Script { read_ahead } = &self.settings.mode {
            read_ahead.give_back();
        }
        let typed = line;
        let substituted;
        let line = if line.trim_start().starts_with('#') {
            line
        } else {
            // The values of secret-named variables (`${TOKEN}`) are hidden
            // in output and recordings like secret connect params.
            let secrets = std::cell::RefCell::new(Vec::new());
            let result = vars::substitute(line, |name| {
                let value = std::env::var(name).ok();
                if let Some(v) = &value
                    && crate::core::endpoint::is_secret_key(name)
                {
                    secrets.borrow_mut().push(v.clone());
                }
                value
            });
            for v in secrets.into_inner() {
                self.settings.redactor.learn(&v);
                if let Some(rec) = &mut self.recorder {
                    rec.learn_secret(&v);
                }
            }
            match result {
                Ok(l) => {
                    substituted = l;
                    substituted.as_str()
                }
                Err(e) => {
                    self.error(&e.to_string(), self.line_label(n));
                    self.mark_failed();
                    return;
                }
            }
        };
        let cmd = match command::parse_line(line) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
                return;
            }
        };
        self.tally.commands += 1;
        if let Some(rec) = &mut self.recorder
            && !matches!(cmd, Command::Record(_) | Command::Help(_) | Command::Quit)
        {
            rec.line(typed);
        }
        if let Command::Request(crate::core::session::Request::Join { topic, .. }) = &cmd {
            self.join_lines.retain(|(t, _)| t != topic);
            self.join_lines.push((topic.clone(), typed.to_owned()));
        }
        let id = self.next_id;
        self.next_id += 1;
        let to_net = match cmd {
            Command::Request(request) => {
                if self.interactive() {
                    self.unreplied = Some((id, None));
                }
                ToNet::Request { id, request }
            }
            Command::Raw(text) => ToNet::Raw { id, text },
            Command::Topics => ToNet::Topics { id },
            Command::Presence(topic) => {
                self.show_presence(topic.as_deref());
                return;
            }
            Command::Status => ToNet::Status { id },
            Command::Sleep(d) => {
                self.step = Step::Sleeping {
                    deadline: Instant::now() + d,
                };
                return;
            }
            Command::Wait {
                topic,
                event,
                timeout,
                payload,
            } => {
                self.start_wait(topic, event, timeout, payload, n);
                return;
            }
            Command::Expect { ok, response } => {
                self.check_expectation(ok, response.as_ref(), n);
                return;
            }
            Command::Help(name) => {
                match command::help(name.as_deref()) {
                    Ok(text) => {
                        let mut s = std::mem::take(&mut self.out);
                        self.settings.style.help(&text, &mut s);
                        self.out = s;
                    }
                    Err(e) => {
                        self.error(&e.to_string(), self.line_label(n));
                        self.mark_failed();
                    }
                }
                return;
            }
            Command::Display(change) => {
                self.display(change);
                return;
            }
            Command::Record(action) => {
                self.record(action, n);
                return;
            }
            Command::Mute(name) => {
                self.mute(name);
                return;
            }
            Command::Unmute(name) => {
                match name {
                    None => self.muted.clear(),
                    Some(name) => {
                        let before = self.muted.len();
                        self.muted.retain(|(m, _)| *m != name);
                        if self.muted.len() == before {
                            let msg = format!(
                                "`{}` is not muted; `mute` lists what is",
                                crate::output::excerpt(&name, 40)
                            );
                            self.error(&msg, self.line_label(n));
                            return;
                        }
                    }
                }
                self.mute(None);
                return;
            }
            Command::Quit => {
                self.queue.clear();
                self.begin_close();
                return;
            }
        };
        // While reconnecting the network thread holds commands for the
        // next connection; only once it has given up is nothing sent.
        if self.ended || !self.net.send(to_net) {
            self.error(
                "the connection is closed for good, so nothing was sent; type `quit` and start phx-repl again",
                self.line_label(n),
            );
            self.mark_failed();
            return;
        }
        self.step = Step::Sending {
            id,
            line: n,
            scripted: self.scripted,
        };
    }

    fn start_wait(
        &mut self,
        topic: String,
        event: String,
        timeout: Option<Duration>,
        payload: Option<Value>,
        line: usize,
    ) {
        let mut near_miss = None;
        let found = self.recent.take_first(|v| {
            if !matches_wait(&topic, &event, v.topic, v.event) {
                return false;
            }
            match &payload {
                Some(want) if matcher::subset_text(want, v.payload).is_some() => {
                    near_miss = Some(v.payload.to_owned());
                    false
                }
                _ => true,
            }
        });
        if found {
            self.wait_passed();
            return;
        }
        let timeout = timeout.unwrap_or(self.settings.timeout);
        self.step = Step::Waiting {
            topic,
            event,
            payload,
            near_miss,
            deadline: Instant::now() + timeout,
            timeout,
            line,
        };
    }

    /// Counts a `wait` that found its message.
    fn wait_passed(&mut self) {
        self.tally.passed += 1;
    }

    /// `expect ok|error [JSON]` against the latest request's outcome.
    fn check_expectation(&mut self, ok: bool, response: Option<&Value>, line: usize) {
        let want_status = if ok { "ok" } else { "error" };
        let expected = match response {
            Some(r) => format!("{want_status} {r}"),
            None => want_status.to_owned(),
        };
        let command = format!("expect {expected}");
        let (passed, summary, got, detail) = match &self.last_reply {
            None => (
                false,
                "no reply to check yet; `expect` checks the reply to the latest join, leave, push or heartbeat".to_owned(),
                "no reply".to_owned(),
                None,
            ),
            Some(LastReply::Missing { what, why }) => (
                false,
                format!("{what} got no reply ({why})"),
                format!("no reply ({why})"),
                None,
            ),
            Some(LastReply::Reply {
                what,
                status,
                response: got_response,
            }) => {
                let status = status.as_deref().unwrap_or("(no status)");
                let got = format!("{} {}", status, display_json(got_response.get()));
                if status != want_status {
                    (false, format!("{what} replied {status}"), got, None)
                } else {
                    match response.and_then(|r| matcher::subset_text(r, got_response.get())) {
                        None => (true, String::new(), got, None),
                        Some(m) => (
                            false,
                            format!("{what} replied {status} with a different response"),
                            got,
                            Some(m.to_string()),
                        ),
                    }
                }
            }
        };
        let summary = if passed { command.clone() } else { summary };
        self.expectation(Expectation {
            passed,
            summary: &summary,
            expected: &expected,
            got: &got,
            detail: detail.as_deref(),
            line: self.line_label(line),
        });
        if passed {
            self.tally.passed += 1;
        } else {
            self.tally.failed += 1;
            self.mark_failed();
        }
    }

    fn expectation(&mut self, e: Expectation<'_>) {
        if e.passed {
            let mut s = std::mem::take(&mut self.out);
            self.settings.style.expectation(&e, &mut s);
            self.out = s;
        } else {
            let mut s = std::mem::take(&mut self.err);
            self.settings.style.expectation(&e, &mut s);
            self.err = s;
            self.flush_errors();
        }
    }

    /// `display`: shows the switches, or sets one.
    fn display(&mut self, change: Option<(command::Switch, Option<bool>)>) {
        let d = &mut self.settings.style.display;
        if let Some((switch, value)) = change {
            let flag = match switch {
                command::Switch::Timestamps => &mut d.timestamps,
                command::Switch::Pretty => &mut d.pretty,
                command::Switch::Raw => &mut d.raw,
            };
            *flag = value.unwrap_or(!*flag);
        }
        let d = self.settings.style.display;
        let onoff = |b: bool| if b { "on" } else { "off" };
        let text = format!(
            "display: timestamps {}, pretty {}, raw {}",
            onoff(d.timestamps),
            onoff(d.pretty),
            onoff(d.raw)
        );
        self.info(
            "display",
            &text,
            &[
                ("timestamps", d.timestamps.to_string()),
                ("pretty", d.pretty.to_string()),
                ("raw", d.raw.to_string()),
            ],
        );
    }

    /// `record FILE`, `record stop`, `record`.
    fn record(&mut self, action: command::Record, line: usize) {
        match action {
            command::Record::Status => {
                let text = match &self.recorder {
                    Some(r) => {
                        format!("recording to {}; `record stop` ends it", r.path().display())
                    }
                    None => "not recording; `record FILE` starts".to_owned(),
                };
                self.info("record", &text, &[]);
            }
            command::Record::Stop => {
                let text = match self.recorder.take() {
                    Some(mut r) => {
                        let _ = r.flush();
                        format!("stopped recording to {}", r.path().display())
                    }
                    None => "not recording; `record FILE` starts".to_owned(),
                };
                self.info("record", &text, &[]);
            }
            command::Record::Start(file) => {
                let mut stopped = String::new();
                if let Some(mut old) = self.recorder.take() {
                    let _ = old.flush();
                    stopped = format!("stopped recording to {}; ", old.path().display());
                }
                let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
                let path = recorder::expand_home(&file, home.as_deref());
                let created = Recorder::create(&path, &self.settings.shown_url)
                    .map(|r| r.scrubbing(self.settings.redactor.clone()));
                match created {
                    Ok(mut r) => {
                        let joined: Vec<&str> =
                            self.join_lines.iter().map(|(_, l)| l.as_str()).collect();
                        if !joined.is_empty() {
                            r.joined_before(&joined);
                        }
                        self.recorder = Some(r);
                        let text = format!(
                            "{stopped}recording to {}; `record stop` ends it",
                            path.display()
                        );
                        self.info("record", &text, &[("file", json_str(&file))]);
                    }
                    Err(e) => {
                        let msg = format!(
                            "cannot record to `{}`: {e}; try a path in a writable directory",
                            path.display()
                        );
                        self.error(&msg, self.line_label(line));
                        self.mark_failed();
                    }
                }
            }
        }
    }

    fn was_told(&self, topic: &str, event: &str) -> bool {
        self.told
            .get(topic)
            .is_some_and(|events| events.contains(event))
    }

    /// Feeds tab completion from a frame.
    fn learn(&mut self, ev: &Event) {
        // Only the prompt completes; a flood repeats the same pair, which
        // is looked up without copying it.
        if !self.interactive() {
            return;
        }
        let seen = |f: &crate::core::protocol::Frame| Word::Seen {
            topic: f.topic.to_string(),
            event: f.event.to_string(),
        };
        match ev {
            Event::Sent {
                frame, auto: false, ..
            } if frame.topic != crate::core::protocol::PHOENIX_TOPIC => self.tell(seen(frame)),
            Event::Reply(r) if !r.auto => match r.request.as_deref() {
                Some(crate::core::protocol::PHX_JOIN) if !r.is_error() => {
                    self.tell(Word::Joined(r.frame.topic.to_string()));
                }
                Some(crate::core::protocol::PHX_LEAVE) => {
                    self.tell(Word::Left(r.frame.topic.to_string()));
                }
                _ => {}
            },
            Event::Message(m) => {
                if !self.was_told(&m.frame.topic, &m.frame.event) {
                    self.tell(seen(&m.frame));
                }
                if !m.stale && matches!(m.kind, MessageKind::Error | MessageKind::Close { .. }) {
                    self.tell(Word::Left(m.frame.topic.to_string()));
                }
            }
            _ => {}
        }
    }

    /// Writes what came back into the recording, as comments.
    fn record_event(&mut self, ev: &Event) {
        let Some(rec) = &mut self.recorder else {
            return;
        };
        match ev {
            Event::Reply(r) if !r.auto => {
                // A late reply answers an earlier line, not the latest:
                // as an `expect` it would check the wrong request.
                if let (true, Some(request)) = (r.late, &r.request) {
                    rec.note(&format!(
                        "late reply to {request} on {}: {} {}",
                        r.frame.topic,
                        r.status.as_deref().unwrap_or("(no status)"),
                        r.response.to_json()
                    ));
                } else if r.request.is_some() {
                    rec.reply(r.status.as_deref(), &r.response.to_json());
                } else {
                    rec.message(&r.frame.topic, &r.frame.event, &r.frame.payload.to_json());
                }
            }
            Event::Message(m) => {
                rec.message(&m.frame.topic, &m.frame.event, &m.frame.payload.to_json());
            }
            Event::TimedOut(e) if !e.auto => rec.note(&format!(
                "no reply to {} on {} (timed out)",
                e.event, e.topic
            )),
            Event::Unanswered(u) => rec.note(&format!(
                "no reply to {} on {} ({})",
                u.event, u.topic, u.because
            )),
            _ => {}
        }
        if rec.failed() {
            let msg = format!(
                "writing the recording {} failed; recording stopped",
                rec.path().display()
            );
            self.recorder = None;
            self.error(&msg, None);
        }
    }

    /// `mute NAME` adds a name; `mute` alone lists them.
    fn mute(&mut self, name: Option<String>) {
        if let Some(n) = name
            && !self.muted.iter().any(|(m, _)| *m == n)
        {
            self.muted.push((n, 0));
        }
        let text = if self.muted.is_empty() {
            "nothing is muted; `mute EVENT` or `mute TOPIC` hides such messages".to_owned()
        } else {
            let list: Vec<String> = self
                .muted
                .iter()
                .map(|(m, hidden)| format!("{m} ({hidden} hidden)"))
                .collect();
            format!("muted: {}", list.join(", "))
        };
        let names: Vec<String> = self.muted.iter().map(|(m, _)| json_str(m)).collect();
        self.info(
            "muted",
            &text,
            &[("muted", format!("[{}]", names.join(",")))],
        );
    }

    /// Whether a message is hidden by `mute` (never in JSON output).
    fn hidden(&mut self, ev: &Event) -> bool {
        if self.muted.is_empty() || self.settings.style.json {
            return false;
        }
        let Event::Message(m) = ev else {
            return false;
        };
        let (topic, event) = (&m.frame.topic, &m.frame.event);
        for (name, hidden) in &mut self.muted {
            let hit = match name.strip_suffix('*') {
                Some(prefix) => topic.starts_with(prefix) || event.starts_with(prefix),
                None => name == topic || name == event,
            };
            if hit {
                *hidden += 1;
                return true;
            }
        }
        false
    }

    /// Records a failure; with `--bail` a script stops here.
    fn mark_failed(&mut self) {
        self.failed = true;
        if self.settings.bail && !self.interactive() && !self.bailed {
            self.bailed = true;
            self.queue.clear();
            self.eof = true;
            self.info("bail", "stopping at the first failure (--bail)", &[]);
        }
    }

    fn begin_close(&mut self) {
        // Between connections the network thread may be inside a connect
        // attempt that takes a while: do not wait for it at exit.
        if !self.connected {
            self.abandon_net = true;
        }
        if !self.ended && self.net.send(ToNet::Close) {
            self.step = Step::Closing {
                deadline: Instant::now() + CLOSE_WAIT,
            };
        } else {
            self.step = Step::Done;
        }
    }

    /// Tells the prompt about the connection state.
    fn update_prompt(&self) {
        if let Mode::Interactive { prompt, base, .. } = &self.settings.mode {
            let text = if self.connected {
                format!("{base}> ")
            } else if self.ended {
                format!("{base} (disconnected)> ")
            } else {
                format!("{base} (reconnecting)> ")
            };
            let _ = prompt.send(text);
        }
    }

    fn on_net(&mut self, ev: &Event) {
        match ev {
            Event::Connected => {
                self.connected = true;
                self.opened += 1;
                let url = self.settings.shown_url.clone();
                if self.opened > 1 {
                    let n = self.opened - 1;
                    self.info(
                        "connected",
                        &format!("reconnected to {url} (reconnect {n})"),
                        &[("url", json_str(&url)), ("reconnects", n.to_string())],
                    );
                } else {
                    let hint = if self.interactive() {
                        "; type `help` for commands, `quit` to leave"
                    } else {
                        ""
                    };
                    self.info(
                        "connected",
                        &format!("connected to {url}{hint}"),
                        &[("url", json_str(&url))],
                    );
                }
                if self.settings.insecure {
                    self.info(
                        "insecure",
                        "warning: --insecure: the server's TLS certificate was not verified, \
                         so anyone between you and it could read or change this session",
                        &[],
                    );
                }
                self.update_prompt();
                if matches!(self.step, Step::Connecting) {
                    self.step = Step::Idle;
                }
                return;
            }
            Event::ConnectFailed(message) => {
                // Printed by main as the fatal error; in JSON mode it is a
                // record on stdout too.
                if self.settings.style.json {
                    let mut s = std::mem::take(&mut self.out);
                    self.settings.style.error(message, None, &mut s);
                    self.out = s;
                }
                self.connect_error = Some(message.clone());
                self.ended = true;
                self.step = Step::Done;
                return;
            }
            Event::Rejected { id, message } => {
                // Reported with the script line it came from.
                let line = match self.step {
                    Step::Sending { line, .. } => self.line_label(line),
                    _ => None,
                };
                let (id, message) = (*id, message.clone());
                if matches!(self.unreplied, Some((u, _)) if u == id) {
                    self.unreplied = None;
                }
                self.error(&message, line);
                self.sent(id);
                self.mark_failed();
                return;
            }
            _ => {}
        }
        let is_error =
            matches!(ev, Event::Undecodable { .. }) || matches!(ev, Event::TimedOut(e) if !e.auto);
        let rejoin = match ev {
            Event::Sent {
                id: None,
                auto: false,
                frame,
            } => {
                if let Some(r) = &frame.ref_ {
                    self.rejoin_refs.insert(r.to_string());
                }
                false
            }
            Event::Reply(r) => r
                .frame
                .ref_
                .as_ref()
                .is_some_and(|x| self.rejoin_refs.remove(x.as_str())),
            _ => false,
        };
        if !rejoin {
            self.record_event(ev);
        }
        if self.interactive() {
            self.learn(ev);
        }
        if !self.hidden(ev) {
            let mut s = std::mem::take(if is_error {
                &mut self.err
            } else {
                &mut self.out
            });
            self.settings.style.event(ev, &mut s);
            if is_error {
                self.err = s;
                self.flush_errors();
            } else {
                self.out = s;
            }
        }
        self.track_presence(ev);
        if let Event::ChannelState(t) = ev
            && !t.to.is_live()
            && t.rejoin_in.is_none()
        {
            // Left, closed, or refused: a replay should not join it.
            self.join_lines.retain(|(topic, _)| *topic != t.topic);
        }

        let script = !self.interactive();
        match ev {
            Event::Sent {
                id: Some(id),
                frame,
                ..
            } => {
                if matches!(self.unreplied, Some((u, _)) if u == *id) {
                    self.unreplied = frame.ref_.as_deref().map(|r| (*id, Some(r.to_owned())));
                }
                if let Step::Sending {
                    id: want, scripted, ..
                } = self.step
                    && want == *id
                {
                    self.step = match &frame.ref_ {
                        Some(ref_) if scripted => Step::Reply {
                            ref_: ref_.to_string(),
                        },
                        _ => Step::Idle,
                    };
                }
            }
            Event::SentRaw { id, .. } | Event::Topics { id, .. } => self.sent(*id),
            Event::Reply(r) => {
                if r.auto {
                    return;
                }
                if let Some(ref_) = &r.frame.ref_ {
                    self.end_reply_wait(&ref_.clone());
                }
                if let Some(request) = &r.request
                    && !r.late
                    && !rejoin
                {
                    if r.is_error() {
                        self.tally.error += 1;
                    } else {
                        self.tally.ok += 1;
                    }
                    self.last_reply = Some(LastReply::Reply {
                        what: format!("{request} on {}", r.frame.topic),
                        status: r.status.clone(),
                        response: r.response.json_value().to_raw(),
                    });
                }
                if self.settings.fail && r.is_error() {
                    self.mark_failed();
                }
                // A reply that answers none of our requests (one to a `raw`
                // frame, say) is a message like any other for `wait`.
                if r.request.is_none() {
                    self.saw(&r.frame);
                }
            }
            Event::Message(m) => {
                if self.settings.fail
                    && !m.stale
                    && matches!(
                        m.kind,
                        MessageKind::Error | MessageKind::Close { requested: false }
                    )
                {
                    self.mark_failed();
                }
                // A stale frame is from a channel instance that no longer
                // exists (an earlier join of the topic): it satisfies no
                // `wait`, now or later.
                if !m.stale {
                    self.saw(&m.frame);
                }
            }
            Event::TimedOut(e) => {
                if e.auto {
                    return;
                }
                self.tally.timed_out += 1;
                self.last_reply = Some(LastReply::Missing {
                    what: format!("{} on {}", e.event, e.topic),
                    why: "timed out",
                });
                self.end_reply_wait(&e.ref_);
                self.mark_failed();
            }
            Event::Unanswered(u) => {
                self.tally.unanswered += 1;
                self.last_reply = Some(LastReply::Missing {
                    what: format!("{} on {}", u.event, u.topic),
                    why: match u.because {
                        "phx_error" => "the channel crashed",
                        "disconnected" => "the connection dropped",
                        _ => "the channel closed",
                    },
                });
                self.end_reply_wait(&u.ref_);
            }
            Event::Disconnected { .. } => {
                self.connected = false;
                self.update_prompt();
            }
            Event::Status { id, status } => {
                let mut s = std::mem::take(&mut self.out);
                self.settings
                    .style
                    .status(status, &self.settings.shown_url, &mut s);
                self.out = s;
                self.sent(*id);
            }
            Event::Queued { id, .. } => {
                // At the prompt the line is done; a script line waits for
                // the push to go out (or be given up on).
                if !script {
                    self.sent(*id);
                }
            }
            Event::Closed { lost, .. } => {
                self.connected = false;
                self.ended = true;
                if *lost {
                    self.connection_lost = true;
                }
                if script || matches!(self.step, Step::Closing { .. }) || !lost {
                    self.step = Step::Done;
                } else {
                    // At the prompt the user reads what happened and quits.
                    self.step = Step::Idle;
                    self.update_prompt();
                }
            }
            Event::Sent { id: None, .. }
            // Handled by `on_messages`.
            | Event::Messages(_)
            | Event::Undecodable { .. }
            | Event::Connected
            | Event::ConnectFailed(_)
            | Event::Rejected { .. }
            | Event::Reconnecting { .. }
            | Event::HeartbeatTimeout { .. }
            | Event::Rejoining { .. }
            | Event::ChannelState(_) => {}
        }
    }

    /// Follows joins and presence messages (PROTOCOL.md §6) and shows who
    /// joined and left.
    fn track_presence(&mut self, ev: &Event) {
        let applied = match ev {
            Event::Sent { frame, .. } if frame.event == PHX_JOIN => {
                self.presence
                    .joining(&frame.topic, frame.join_ref.as_deref());
                return;
            }
            Event::Message(m) if !m.stale && matches!(m.kind, MessageKind::Close { .. }) => {
                self.presence.forget(&m.frame.topic);
                return;
            }
            Event::Message(m) if !m.stale => {
                let Some(payload) = m.frame.payload.json() else {
                    return;
                };
                match m.frame.event.as_str() {
                    PRESENCE_STATE => self.presence.on_state(&m.frame.topic, payload.get()),
                    PRESENCE_DIFF => self
                        .presence
                        .on_diff(&m.frame.topic, payload.get())
                        .map(|a| a.into_iter().collect()),
                    _ => return,
                }
            }
            _ => return,
        };
        match applied {
            Ok(applied) => {
                let mut s = std::mem::take(&mut self.out);
                for a in &applied {
                    self.settings.style.presence(a, &mut s);
                }
                self.out = s;
            }
            Err(e) => self.error(&e, None),
        }
    }

    /// The `presence` command.
    fn show_presence(&mut self, topic: Option<&str>) {
        let lists: Vec<(&str, &presence::State)> = match topic {
            Some(t) => match self.presence.list(t) {
                Some(state) => vec![(t, state)],
                None => {
                    let message = format!(
                        "no presence on `{t}` yet; it arrives as presence_state after a join{}",
                        match self.presence.topics().first() {
                            Some(known) => format!(" (try `presence {known}`)"),
                            None => String::new(),
                        }
                    );
                    self.error(&message, None);
                    return;
                }
            },
            None => self
                .presence
                .topics()
                .into_iter()
                .filter_map(|t| self.presence.list(t).map(|s| (t, s)))
                .collect(),
        };
        let mut s = std::mem::take(&mut self.out);
        self.settings.style.presence_list(&lists, &mut s);
        self.out = s;
    }

    fn end_reply_wait(&mut self, ref_: &str) {
        if matches!(&self.unreplied, Some((_, Some(r))) if r == ref_) {
            self.unreplied = None;
        }
        if let Step::Reply { ref_: want } = &self.step
            && want == ref_
        {
            self.step = Step::Idle;
        }
    }

    fn sent(&mut self, id: u64) {
        if let Step::Sending { id: want, .. } = self.step
            && want == id
        {
            self.step = Step::Idle;
        }
    }

    /// Offers an incoming message to a pending `wait`, or keeps it for a later one.
    /// What is kept is a copy: the frame itself goes back to the network
    /// thread (see `Input::Net`).
    fn saw(&mut self, frame: &Frame) {
        let payload = frame.payload.json_value();
        let v = frame.view(payload.get());
        if !self.wait_sees(&v) {
            self.recent.push(&v);
        }
    }

    /// Shows a message to a pending `wait`: true if it was the one waited
    /// for (it is then not kept for a later one).
    fn wait_sees(&mut self, v: &View<'_>) -> bool {
        if let Step::Waiting {
            topic: wt,
            event: we,
            payload: want,
            near_miss,
            ..
        } = &mut self.step
            && matches_wait(wt, we, v.topic, v.event)
        {
            let matched = match want {
                Some(w) => matcher::subset_text(w, v.payload).is_none(),
                None => true,
            };
            if matched {
                self.step = Step::Idle;
                self.wait_passed();
                return true;
            }
            *near_miss = Some(v.payload.to_owned());
        }
        false
    }

    /// Packed messages from the network thread. Where the runner would only
    /// print them, keep them for `wait` and learn their names for tab
    /// completion (no recording, no mutes, no `--raw`), that is done
    /// straight from the packed text; otherwise each goes the usual way.
    fn on_messages(&mut self, pack: &mut Packed) {
        let style = self.settings.style;
        let plain = self.recorder.is_none()
            && (self.muted.is_empty() || style.json)
            && (style.json || !style.display.raw);
        if !plain {
            for v in pack.iter() {
                let ev = Event::Message(PhxMessage {
                    frame: v.to_frame(),
                    kind: crate::core::packed::kind(&v),
                    stale: false,
                });
                self.on_net(&ev);
            }
            return;
        }
        // Printed a slice at a time, so the output buffer stays small.
        let mut taken = None;
        let mut at = 0;
        let interactive = self.interactive();
        // The names of the previous message: a flood repeats them.
        let (mut topic, mut event) = (String::new(), String::new());
        while at < pack.len() {
            let to = pack.len().min(at + FLUSH_EVERY);
            let mut out = std::mem::take(&mut self.out);
            style.plain_messages(pack, at..to, &mut out, |i, v| {
                if taken.is_none() && matches!(self.step, Step::Waiting { .. }) && self.wait_sees(v)
                {
                    taken = Some(i);
                }
                if interactive && (v.topic != topic || v.event != event) {
                    topic.clear();
                    topic.push_str(v.topic);
                    event.clear();
                    event.push_str(v.event);
                    if !self.was_told(v.topic, v.event) {
                        self.tell(Word::Seen {
                            topic: v.topic.to_owned(),
                            event: v.event.to_owned(),
                        });
                    }
                }
            });
            self.out = out;
            if self.out.len() >= FLUSH_AT {
                self.flush();
            }
            at = to;
        }
        self.recent.keep(pack, taken);
    }

    fn error(&mut self, message: &str, line: Option<usize>) {
        let mut s = std::mem::take(&mut self.err);
        self.settings.style.error(message, line, &mut s);
        self.err = s;
        self.flush_errors();
    }

    /// Errors go to stderr in piped human mode; elsewhere they join the
    /// output stream in order.
    fn flush_errors(&mut self) {
        if self.err.is_empty() {
            return;
        }
        if matches!(
            self.sink,
            Sink::Stdout {
                errors_to_stderr: true
            }
        ) {
            self.flush();
            let mut stderr = io::stderr().lock();
            let err = self.settings.redactor.scrub(&self.err);
            let _ = stderr.write_all(err.as_bytes());
            let _ = stderr.flush();
            self.err.clear();
        } else {
            let err = std::mem::take(&mut self.err);
            self.out.push_str(&err);
        }
    }

    /// Whether output may be written now (see `Mode::Interactive::ready`).
    fn may_print(&self) -> bool {
        match (&self.sink, &self.settings.mode) {
            (Sink::Printer(_), Mode::Interactive { ready, .. }) => ready.load(Ordering::SeqCst),
            _ => true,
        }
    }

    /// Writes what is left, waiting a little for the prompt to be ready.
    fn final_flush(&mut self) {
        let until = Instant::now() + Duration::from_millis(500);
        while !self.out.is_empty() && !self.may_print() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(RecvTimeoutError::Disconnected) = self.rx.recv_timeout(left) {
                break;
            }
        }
        if let Some(rec) = &mut self.recorder {
            let _ = rec.flush();
        }
        self.force_flush();
        // rustyline shows printed text from the prompt thread, later; the
        // process must not exit before. Its queue holds one message, so
        // once a second empty one has been taken from it, the last real
        // one has been written.
        if let Sink::Printer(p) = &mut self.sink {
            for _ in 0..2 {
                if p.print(String::new()).is_err() {
                    break;
                }
            }
        }
    }

    /// Writes buffered output, unless the prompt is not ready for it.
    fn flush(&mut self) {
        if let Some(rec) = &mut self.recorder {
            let _ = rec.flush();
        }
        if self.may_print() {
            self.force_flush();
        }
    }

    /// Writes buffered output.
    fn force_flush(&mut self) {
        if self.out.is_empty() || self.stdout_closed {
            self.out.clear();
            return;
        }
        if let std::borrow::Cow::Owned(clean) = self.settings.redactor.scrub(&self.out) {
            self.out = clean;
        }
        match &mut self.sink {
            Sink::Stdout { .. } => {
                let mut stdout = io::stdout().lock();
                let res = stdout
                    .write_all(self.out.as_bytes())
                    .and_then(|()| stdout.flush());
                if res.is_err() {
                    // A closed pipe (`| head`) ends the run quietly.
                    self.stdout_closed = true;
                }
            }
            Sink::Printer(p) => {
                if p.print(std::mem::take(&mut self.out)).is_err() {
                    self.stdout_closed = true;
                }
            }
        }
        self.out.clear();
    }
}

/// What the latest request got, for `expect`.
#[derive(Debug)]
enum LastReply {
    Reply {
        /// `push on room:lobby`
        what: String,
        status: Option<String>,
        response: Box<RawValue>,
    },
    /// It timed out, or its channel crashed or closed first.
    Missing { what: String, why: &'static str },
}

/// Counts for the summary line at the end of a piped run.
#[derive(Debug, Default)]
struct Tally {
    commands: usize,
    ok: usize,
    error: usize,
    timed_out: usize,
    unanswered: usize,
    /// `expect` and `wait` lines that passed or failed.
    passed: usize,
    failed: usize,
}

impl Tally {
    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut s = format!(
            "summary: {} run; replies: {} ok, {} error, {} timed out",
            plural(self.commands, "command", "commands"),
            self.ok,
            self.error,
            self.timed_out
        );
        if self.unanswered > 0 {
            s.push_str(&format!(", {} unanswered", self.unanswered));
        }
        s.push_str(&format!(
            "; expectations: {} passed, {} failed",
            self.passed, self.failed
        ));
        s
    }
}

/// Bytes of frames and text a batch may hold on its way back to the
/// network thread (see `Input::Net`); a bigger one is freed here.
const HELD_BYTES: usize = 256 * 1024;

/// About how many bytes an event holds: its frame's strings and payload,
/// a reply's response, the text of a frame that did not decode.
fn held_len(ev: &Event) -> usize {
    fn frame_len(f: &Frame) -> usize {
        let payload = match &f.payload {
            Payload::Json(j) => j.get().len(),
            Payload::Binary(d) => d.len(),
            Payload::BinaryReply { response, .. } => response.len(),
        };
        f.topic.len() + f.event.len() + payload
    }
    match ev {
        Event::Message(m) => frame_len(&m.frame),
        Event::Reply(r) => frame_len(&r.frame) * 2,
        Event::Sent { frame, .. } => frame_len(frame),
        Event::SentRaw { text, .. } | Event::Undecodable { text, .. } => text.len(),
        Event::Messages(pack) => pack.text_len(),
        _ => 0,
    }
}

fn matches_wait(want_topic: &str, want_event: &str, topic: &str, event: &str) -> bool {
    // The event first: in a flood it differs from the one awaited more
    // often than the topic does.
    (want_event == "*" || want_event == event) && (want_topic == "*" || want_topic == topic)
}

fn fmt_duration(d: Duration) -> String {
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

    #[test]
    fn wait_matches_topic_and_event_with_wildcards() {
        assert!(matches_wait("room:a", "shout", "room:a", "shout"));
        assert!(matches_wait("*", "shout", "room:b", "shout"));
        assert!(matches_wait("room:a", "*", "room:a", "x"));
        assert!(!matches_wait("room:a", "shout", "room:b", "shout"));
        assert!(!matches_wait("room:a", "shout", "room:a", "other"));
    }

    #[test]
    fn the_summary_counts_everything() {
        let t = Tally {
            commands: 1,
            ok: 3,
            error: 1,
            timed_out: 0,
            unanswered: 0,
            passed: 2,
            failed: 1,
        };
        assert_eq!(
            t.line(),
            "summary: 1 command run; replies: 3 ok, 1 error, 0 timed out; expectations: 2 passed, 1 failed"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
    }
}

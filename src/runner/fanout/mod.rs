//! Fan-out: `--clients N` runs one script on N clients at once, named
//! `c1` … `cN`, all served by the one network thread.
//!
//! Each copy of the script has its own place in it, its own `${CLIENT}`
//! and `${N}`, and its own replies and messages (`copy`). This loop opens
//! the clients at a bounded rate, hands each client's events to its copy,
//! runs the copies' lines, and at the end prints the summary the counts
//! add up to (`tally`). Per-line output is off unless `--verbose` or
//! `--json`; failing lines always print, the first
//! [`tally::SHOWN_FAILURES`] in full. Before it starts, the open-files
//! limit is raised to what N sockets need ([`open_files_for`]).

mod copy;
mod output;
pub mod tally;

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use self::copy::Copy;
pub use self::output::Output;
use self::tally::FanTally;
use super::queue::Queue;
use super::{Input, Outcome};
use crate::core::event::{ClientId, Event, ToNet};
use crate::lang::command::{self, Command};
use crate::lang::watch::{Watch, Watched};
use crate::transport::net::{Handle, Options, Target};

/// Clients connecting at once when `--ramp` sets no rate: enough to keep
/// a server's accept queue busy without overflowing it.
const CONNECTING_AT_ONCE: usize = 64;
/// How long to wait for the server to confirm our closes.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// The progress line is redrawn at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A line of the script, numbered by its first line.
#[derive(Debug, Clone)]
pub struct Line {
    pub n: usize,
    pub text: String,
}

/// How a fan-out run goes.
pub struct Settings {
    pub clients: usize,
    /// Clients opened per second; `None`: as fast as the server accepts.
    pub ramp: Option<f64>,
    pub timeout: Duration,
    pub fail: bool,
    pub bail: bool,
    pub quiet: bool,
    /// Where the first client connects; the others connect there too.
    pub target: Target,
    pub options: Options,
}

/// What a copy needs of the run while it handles an event or a line.
pub struct Ctx<'a> {
    pub net: &'a Handle,
    pub tally: &'a mut FanTally,
    pub out: &'a mut Output,
    next_id: &'a mut u64,
    /// The script has a `wait`: messages are kept for it.
    pub keeps: bool,
    pub timeout: Duration,
    pub fail: bool,
    bail: bool,
    bailed: &'a mut bool,
}

impl Ctx<'_> {
    pub fn issue(&mut self) -> u64 {
        *self.next_id += 1;
        *self.next_id
    }

    /// A line failed.
    pub fn failed(&mut self) {
        self.tally.failures += 1;
        if self.bail {
            *self.bailed = true;
        }
    }

    pub fn bailed(&self) -> bool {
        *self.bailed
    }
}

/// The script's lines, multi-line payloads joined; an error for a command
/// that has no meaning when N copies run it.
pub fn script(text: &str) -> Result<Vec<Line>, String> {
    let mut queue = Queue::default();
    for part in text.lines() {
        queue.push(part.to_owned(), true);
    }
    queue.end_partial();
    let mut lines = Vec::new();
    while let Some(l) = queue.pop() {
        lines.push(Line {
            n: l.n,
            text: l.text,
        });
    }
    for l in &lines {
        let first = l.text.split_whitespace().next().unwrap_or("");
        // Parsed for the check with the variables as the first copy has
        // them. A name it does not know yet (a `let` value, known when the
        // copy gets there, or a variable nobody sets, which each copy then
        // reports) stands in as `0`: the line's command can still be
        // judged, its payload not.
        let probe = Copy::new(0);
        let dynamic = std::cell::Cell::new(false);
        let text = crate::lang::vars::substitute(&l.text, |name| match name {
            "CLIENT" => Some(probe.name.clone()),
            "N" => Some("1".to_owned()),
            _ => std::env::var(name).ok().or_else(|| {
                dynamic.set(true);
                Some("0".to_owned())
            }),
        })
        .unwrap_or_else(|_| l.text.clone());
        let refused = match command::parse_line(&text) {
            Ok(Some(
                Command::Request(_)
                | Command::Raw(_)
                | Command::Sleep(_)
                | Command::Wait(Watch {
                    what: Watched::Message { .. },
                    ..
                })
                | Command::Refute(Watch {
                    what: Watched::Message { .. },
                    ..
                })
                | Command::Let { .. }
                | Command::Expect { .. }
                | Command::Quit,
            ))
            | Ok(None) => false,
            Ok(Some(_)) => true,
            Err(_) if dynamic.get() => false,
            // Every copy would fail it the same way: said before anything
            // connects.
            Err(e) => return Err(format!("line {}: {e}", l.n)),
        };
        if refused || first.starts_with('@') {
            return Err(refused_line(l.n, first));
        }
    }
    Ok(lines)
}

/// Why line `n`, a `first` command, cannot run under `--clients`.
fn refused_line(n: usize, first: &str) -> String {
    format!(
        "line {n}: `{first}` does not run under --clients, where every client runs the \
         whole script; use join, leave, push, cast, heartbeat, raw, sleep, wait, refute, let and expect"
    )
}

/// N clients need N sockets: raises the soft open-files limit as far as
/// the hard one allows, or says how to raise it.
pub fn open_files_for(n: usize, built_in: bool) -> Result<(), String> {
    // Room for the process's own files and the poller; a built-in server
    // holds four per client too: the socket and its connection's poller
    // (an epoll, an eventfd to wake it and a timerfd for its deadlines).
    let per_client = if built_in { 5 } else { 1 };
    let needed = (n as u64) * per_client + 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Ok(());
        }
        if lim.rlim_cur >= needed {
            return Ok(());
        }
        if lim.rlim_max >= needed {
            let raised = libc::rlimit {
                rlim_cur: needed,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Ok(());
            }
        }
    }
    Err(format!(
        "--clients {n} needs about {needed} open files, but this process may open {}; \
         raise the limit first, e.g. `ulimit -n {}`, or run fewer clients",
        lim.rlim_cur,
        needed.next_power_of_two()
    ))
}

/// Whether a line of the script waits for messages or refutes them: then
/// each copy keeps what came since its previous line began, which both
/// look back over, and the messages must come as messages, not counts.
pub fn watches_messages(script: &[Line]) -> bool {
    script
        .iter()
        .any(|l| matches!(l.text.split_whitespace().next(), Some("wait" | "refute")))
}

/// Client `id`'s copy of `base`: `${N}` and `${CLIENT}` in its URL (as
/// given with `-p 'user=u${N}'`) and headers become its own.
pub fn target_for(base: &Target, id: ClientId) -> Target {
    let n = (id + 1).to_string();
    let name = format!("c{n}");
    let swap = |s: &str| s.replace("${N}", &n).replace("${CLIENT}", &name);
    let mut t = base.clone();
    // Compared decoded: however the query spells `${N}`.
    let pairs: Vec<(String, String)> = base
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), swap(&v)))
        .collect();
    if pairs
        .iter()
        .zip(base.url.query_pairs())
        .any(|((_, a), (_, b))| *a != *b)
    {
        t.url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    for (_, v) in &mut t.headers {
        *v = swap(v);
    }
    t
}

/// The fan-out loop.
pub struct FanOut {
    rx: Receiver<Input>,
    net: Handle,
    settings: Settings,
    script: Vec<Line>,
    copies: Vec<Copy>,
    tally: FanTally,
    out: Output,
    next_id: u64,
    keeps: bool,
    bailed: bool,
    /// Clients opened so far (client 0 is opened by `net::start`).
    opened: usize,
    started: Instant,
    terminated: Option<u8>,
    /// Ended by a second signal: the network thread is not waited for.
    abandon: bool,
    last_progress: Option<Instant>,
}

impl FanOut {
    pub fn new(
        rx: Receiver<Input>,
        net: Handle,
        settings: Settings,
        script: Vec<Line>,
        out: Output,
    ) -> FanOut {
        let keeps = watches_messages(&script);
        let mut tally = FanTally::default();
        tally.clients = settings.clients;
        FanOut {
            rx,
            net,
            copies: vec![Copy::new(0)],
            settings,
            script,
            tally,
            out,
            next_id: 0,
            keeps,
            bailed: false,
            opened: 1,
            started: Instant::now(),
            terminated: None,
            abandon: false,
            last_progress: None,
        }
    }

    fn ctx(&mut self) -> (Ctx<'_>, &mut Vec<Copy>, &[Line]) {
        (
            Ctx {
                net: &self.net,
                tally: &mut self.tally,
                out: &mut self.out,
                next_id: &mut self.next_id,
                keeps: self.keeps,
                timeout: self.settings.timeout,
                fail: self.settings.fail,
                bail: self.settings.bail,
                bailed: &mut self.bailed,
            },
            &mut self.copies,
            &self.script,
        )
    }

    /// Runs until every copy is done and closed; how it ended.
    pub fn run(mut self) -> Outcome {
        let mut closing: Option<Instant> = None;
        loop {
            self.open_more();
            if closing.is_none() && self.copies.len() == self.settings.clients && self.all_done() {
                self.close_all();
                closing = Some(Instant::now() + CLOSE_WAIT);
            }
            if closing.is_some() && self.copies.iter().all(|c| c.ended) {
                break;
            }
            self.progress(false);
            self.out.flush();
            let deadline = [
                closing,
                self.next_open(),
                self.next_deadline(),
                self.next_progress(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Ok(input) = super::next_input(&self.rx, deadline) else {
                break;
            };
            match input {
                Some(Input::Net(batch)) => self.on_batch(batch),
                Some(Input::Terminate(_)) if self.terminated.is_some() => {
                    // A second signal: stop waiting for anything.
                    self.abandon = true;
                    break;
                }
                Some(Input::Terminate(code)) => {
                    self.terminated = Some(code);
                    self.bailed = true;
                    self.close_all();
                    closing = Some(Instant::now() + CLOSE_WAIT);
                }
                Some(_) => {}
                None => {
                    if closing.is_some_and(|c| Instant::now() >= c) {
                        break;
                    }
                    self.on_deadlines();
                }
            }
        }
        self.finish()
    }

    /// Opens clients up to the ramp's rate and the connecting window.
    fn open_more(&mut self) {
        let now = Instant::now();
        while self.opened < self.settings.clients && !self.bailed {
            if let Some(rate) = self.settings.ramp {
                let due = self.started + Duration::from_secs_f64(self.opened as f64 / rate);
                if due > now {
                    return;
                }
            } else {
                let connecting = self
                    .copies
                    .iter()
                    .rev()
                    .take(CONNECTING_AT_ONCE + 1)
                    .filter(|c| !c.ever_connected && !c.ended)
                    .count();
                if connecting >= CONNECTING_AT_ONCE {
                    return;
                }
            }
            let id = self.opened as ClientId;
            let mut copy = Copy::new(id);
            let target = target_for(&self.settings.target, id);
            if !self.net.open(id, target, self.settings.options.clone()) {
                // The network thread has ended: this client never opens.
                copy.give_up();
                self.tally.clients_failed += 1;
                self.tally.failures += 1;
            }
            self.copies.push(copy);
            self.opened += 1;
        }
    }

    /// When the next client is due under `--ramp`.
    fn next_open(&self) -> Option<Instant> {
        let rate = self.settings.ramp?;
        (self.opened < self.settings.clients && !self.bailed)
            .then(|| self.started + Duration::from_secs_f64(self.opened as f64 / rate))
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.copies.iter().filter_map(Copy::deadline).min()
    }

    fn all_done(&self) -> bool {
        self.copies.iter().all(Copy::done)
    }

    fn close_all(&mut self) {
        for c in &mut self.copies {
            if !c.ended && !c.closing {
                c.closing = true;
                self.net.send_to(c.id, ToNet::Close);
            }
        }
    }

    fn on_batch(&mut self, mut batch: Vec<Event>) {
        let mut who: ClientId = 0;
        {
            let (mut ctx, copies, script) = self.ctx();
            for ev in &mut batch {
                if let Event::Client(id) = ev {
                    who = *id;
                    continue;
                }
                let Some(copy) = copies.get_mut(who as usize) else {
                    continue;
                };
                ctx.out.event(copy, ev);
                copy.on_event(ev, &mut ctx);
                copy.advance(script, &mut ctx);
            }
        }
        self.net.batch_done(batch);
    }

    fn on_deadlines(&mut self) {
        let now = Instant::now();
        let (mut ctx, copies, script) = self.ctx();
        for copy in copies.iter_mut() {
            if copy.deadline().is_some_and(|d| d <= now) {
                copy.on_deadline(now, &mut ctx);
                copy.advance(script, &mut ctx);
            }
        }
    }

    /// Whether the progress line is drawn: stderr is a terminal, and
    /// nothing else prints per line.
    fn shows_progress(&self) -> bool {
        !self.settings.quiet && !self.out.verbose() && io::stderr().is_terminal()
    }

    /// When the progress line is next redrawn, so it moves on while every
    /// client sleeps or waits.
    fn next_progress(&self) -> Option<Instant> {
        self.shows_progress()
            .then(|| self.last_progress.map(|t| t + PROGRESS_EVERY))
            .flatten()
    }

    /// The progress line on stderr, when it is a terminal.
    fn progress(&mut self, last: bool) {
        if !self.shows_progress() {
            return;
        }
        let now = Instant::now();
        if !last && self.last_progress.is_some_and(|t| now - t < PROGRESS_EVERY) {
            return;
        }
        self.last_progress = Some(now);
        let done = self.copies.iter().filter(|c| c.done()).count();
        let mut e = io::stderr().lock();
        if last {
            let _ = write!(e, "\r\x1b[K");
        } else {
            let _ = write!(
                e,
                "\r\x1b[K{}/{} connected, {} done, {} failing lines, {} frames in",
                self.tally.connected,
                self.settings.clients,
                done,
                self.tally.failures,
                self.tally.frames_in
            );
        }
        let _ = e.flush();
    }

    fn finish(mut self) -> Outcome {
        self.progress(true);
        let outcome = if let Some(code) = self.terminated {
            Outcome::Terminated(code)
        } else if self.tally.connected == 0 {
            let why = self
                .out
                .first_connect_error
                .clone()
                .unwrap_or_else(|| "no client connected".to_owned());
            Outcome::CouldNotConnect(why)
        } else if self.tally.failures > 0 {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        self.out.summary(&mut self.tally, outcome.exit_code());
        self.out.flush();
        if !self.abandon {
            self.net.join();
        }
        outcome
    }
}

//! One copy of the script in a fan-out run: its client's place in the
//! script, what it waits for, the reply `expect` checks and the messages
//! a `wait` may still find, and what each of its client's events does.
//!
//! The loop that drives every copy, opens the clients and prints is
//! `fanout`'s; the counts are `tally`'s.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::{Ctx, Line};
use crate::core::event::{ClientId, Event, ToNet};
use crate::core::protocol::{Frame, View};
use crate::core::session::MessageKind;
use crate::lang::command::{self, Command};
use crate::lang::path::{Path, substitution};
use crate::lang::vars;
use crate::lang::watch::{Watch, Watched};
use crate::output::Expectation;
use crate::runner::checks::{LastReply, Missed, Wait, verdict};
use crate::runner::replies::Rejoins;

/// Messages kept per copy for a later `wait`, at most.
const KEPT: usize = 64;

/// What a copy waits for before its next line.
#[derive(Debug)]
enum Step {
    Connecting,
    Idle,
    Sending {
        id: u64,
    },
    Reply {
        ref_: String,
    },
    Waiting(Wait),
    Sleeping(Instant),
    /// Its script is over, or its client ended.
    Done,
}

/// A message kept for `wait`.
#[derive(Debug)]
struct Kept {
    topic: String,
    event: String,
    payload: String,
    /// How many lines had begun when it came (see `Copy::begun`).
    during: usize,
}

pub struct Copy {
    pub id: ClientId,
    /// `c1` … `cN`.
    pub name: String,
    /// 1 … N.
    pub n: usize,
    /// The next line to run.
    pc: usize,
    step: Step,
    /// The line that is running, for messages.
    line: usize,
    last_reply: Option<LastReply>,
    /// What `let` reads (JSON text).
    last_value: Option<String>,
    /// Values kept by `let`, this copy's own.
    vars: HashMap<String, String>,
    kept: VecDeque<Kept>,
    /// Lines begun so far: a `wait` or `refute` looks back over what came
    /// since the line before it began, not further.
    begun: usize,
    /// Its client's own rejoins, whose replies are not the script's.
    rejoins: Rejoins,
    pub connected: bool,
    pub ever_connected: bool,
    /// Its client sent its last event.
    pub ended: bool,
    /// We asked its client to close.
    pub closing: bool,
}

impl Copy {
    pub fn new(id: ClientId) -> Copy {
        Copy {
            id,
            name: format!("c{}", id + 1),
            n: id as usize + 1,
            pc: 0,
            step: Step::Connecting,
            line: 0,
            last_reply: None,
            last_value: None,
            vars: HashMap::new(),
            kept: VecDeque::new(),
            begun: 0,
            rejoins: Rejoins::default(),
            connected: false,
            ever_connected: false,
            ended: false,
            closing: false,
        }
    }

    /// Its client could not be opened at all.
    pub fn give_up(&mut self) {
        self.ended = true;
        self.step = Step::Done;
    }

    /// Its script is over (or cannot go on).
    pub fn done(&self) -> bool {
        matches!(self.step, Step::Done)
    }

    /// When it stops waiting, if it waits for a time.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.step {
            Step::Waiting(w) => Some(w.deadline),
            Step::Sleeping(at) => Some(*at),
            _ => None,
        }
    }

    /// A deadline passed.
    pub fn on_deadline(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        match &self.step {
            Step::Sleeping(at) if *at <= now => self.step = Step::Idle,
            Step::Waiting(w) if w.deadline <= now => {
                let Step::Waiting(wait) = std::mem::replace(&mut self.step, Step::Idle) else {
                    return;
                };
                if wait.refute {
                    ctx.tally.counts.passed += 1;
                    return;
                }
                ctx.tally.counts.failed += 1;
                match wait.missed() {
                    Missed::Nothing(msg) => ctx.out.error(self, &msg, Some(wait.line)),
                    Missed::Mismatch {
                        summary,
                        expected,
                        got,
                        detail,
                    } => ctx.out.expectation(
                        self,
                        &Expectation {
                            passed: false,
                            summary: &summary,
                            expected: &expected,
                            got: &got,
                            detail: detail.as_deref(),
                            line: Some(wait.line),
                        },
                    ),
                }
                ctx.failed();
            }
            _ => {}
        }
    }

    /// Runs lines while nothing is pending; at the end of the script the
    /// copy is done.
    pub fn advance(&mut self, script: &[Line], ctx: &mut Ctx<'_>) {
        while matches!(self.step, Step::Idle) {
            let Some(line) = script.get(self.pc) else {
                self.step = Step::Done;
                return;
            };
            self.pc += 1;
            if ctx.bailed() {
                self.step = Step::Done;
                return;
            }
            self.line = line.n;
            self.begun += 1;
            // What came before the previous line began is out of reach.
            let begun = self.begun;
            self.kept.retain(|k| k.during + 1 >= begun);
            self.run(line, ctx);
        }
    }

    /// `${CLIENT}` and `${N}`, then the environment.
    fn substitute(&self, text: &str) -> Result<String, crate::lang::error::VarError> {
        vars::substitute(text, |name| match name {
            _ if self.vars.contains_key(name) => self.vars.get(name).cloned(),
            "CLIENT" => Some(self.name.clone()),
            "N" => Some(self.n.to_string()),
            _ => std::env::var(name).ok(),
        })
    }

    fn run(&mut self, line: &Line, ctx: &mut Ctx<'_>) {
        let parsed = self
            .substitute(&line.text)
            .map_err(|e| e.to_string())
            .and_then(|l| command::parse_line(&l).map_err(|e| e.to_string()));
        let cmd = match parsed {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                ctx.out.error(self, &e, Some(line.n));
                ctx.failed();
                return;
            }
        };
        ctx.tally.counts.commands += 1;
        let id = ctx.issue();
        match cmd {
            Command::Request(request) => self.send(ToNet::Request { id, request }, id, ctx),
            Command::Raw(text) => self.send(ToNet::Raw { id, text }, id, ctx),
            Command::Sleep(d) => self.step = Step::Sleeping(Instant::now() + d),
            Command::Wait(w) => self.start_watch(w, false, ctx),
            Command::Refute(w) => self.start_watch(w, true, ctx),
            Command::Let { name, path } => self.let_value(name, &path, ctx),
            Command::Expect { ok, response } => {
                let v = verdict(self.last_reply.as_ref(), ok, response.as_ref());
                if v.passed {
                    ctx.tally.counts.passed += 1;
                } else {
                    ctx.tally.counts.failed += 1;
                }
                ctx.out.expectation(
                    self,
                    &Expectation {
                        passed: v.passed,
                        summary: &v.summary,
                        expected: &v.expected,
                        got: &v.got,
                        detail: v.detail.as_deref(),
                        line: Some(line.n),
                    },
                );
                if !v.passed {
                    ctx.failed();
                }
            }
            Command::Quit => self.pc = usize::MAX,
            // Refused before the run starts (see `fanout::check_script`).
            _ => {}
        }
    }

    fn send(&mut self, msg: ToNet, id: u64, ctx: &mut Ctx<'_>) {
        if self.ended || !ctx.net.send_to(self.id, msg) {
            ctx.out.error(
                self,
                "the connection is closed for good, so nothing was sent",
                Some(self.line),
            );
            ctx.failed();
            self.step = Step::Done;
            return;
        }
        self.step = Step::Sending { id };
    }

    fn start_watch(&mut self, watch: Watch, refute: bool, ctx: &mut Ctx<'_>) {
        let Watched::Message { topic, event } = watch.what else {
            // Refused before the run starts (see `fanout::script`).
            return;
        };
        let mut wait = Wait {
            client: self.id,
            ..Wait::start(
                topic,
                event,
                watch.payload,
                watch.timeout,
                ctx.timeout,
                refute,
                self.line,
            )
        };
        let found = self.kept.iter().position(|k| {
            wait.offer(&View {
                join_ref: None,
                ref_: None,
                topic: &k.topic,
                event: &k.event,
                payload: &k.payload,
            })
        });
        let hit = if refute {
            found
                .and_then(|i| self.kept.get(i))
                .map(|k| k.payload.clone())
        } else {
            found.and_then(|i| self.kept.remove(i)).map(|k| k.payload)
        };
        match hit {
            Some(payload) => self.hit(&wait, &payload, ctx),
            None => self.step = Step::Waiting(wait),
        }
    }

    /// A message matched a `wait` (passed) or a `refute` (failed).
    fn hit(&mut self, wait: &Wait, payload: &str, ctx: &mut Ctx<'_>) {
        if !wait.refute {
            return self.wait_passed(wait, payload, ctx);
        }
        ctx.tally.counts.failed += 1;
        let summary = format!(
            "`{}` on `{}` came, and `refute` says it must not",
            wait.event, wait.topic
        );
        let expected = format!("no {}", wait.described());
        ctx.out.expectation(
            self,
            &Expectation {
                passed: false,
                summary: &summary,
                expected: &expected,
                got: payload,
                detail: None,
                line: Some(wait.line),
            },
        );
        ctx.failed();
    }

    /// `let NAME = PATH`, from the last reply or matched message.
    fn let_value(&mut self, name: String, path: &Path, ctx: &mut Ctx<'_>) {
        let found = self
            .last_value
            .as_deref()
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|v| path.find(&v).map(|f| substitution(f).into_owned()));
        match found {
            Some(v) => {
                self.vars.insert(name, v);
            }
            None => {
                let text = format!(
                    "`{path}` finds nothing in {}",
                    self.last_value
                        .as_deref()
                        .unwrap_or("nothing yet (no reply or matched message)")
                );
                ctx.out.error(self, &text, Some(self.line));
                ctx.failed();
            }
        }
    }

    fn wait_passed(&mut self, wait: &Wait, payload: &str, ctx: &mut Ctx<'_>) {
        ctx.tally.counts.passed += 1;
        self.last_value = Some(payload.to_owned());
        ctx.out.wait_passed(self, wait, payload);
    }

    /// A message from the server: the awaited one, or kept for later.
    fn saw(&mut self, v: &View<'_>, ctx: &mut Ctx<'_>) {
        if let Step::Waiting(wait) = &mut self.step
            && wait.offer(v)
            && let Step::Waiting(wait) = std::mem::replace(&mut self.step, Step::Idle)
        {
            self.hit(&wait, v.payload, ctx);
            return;
        }
        if ctx.keeps {
            if self.kept.len() == KEPT {
                self.kept.pop_front();
            }
            self.kept.push_back(Kept {
                topic: v.topic.to_owned(),
                event: v.event.to_owned(),
                payload: v.payload.to_owned(),
                during: self.begun,
            });
        }
    }

    fn saw_frame(&mut self, frame: &Frame, ctx: &mut Ctx<'_>) {
        let payload = frame.payload.json_value();
        self.saw(&frame.view(payload.get()), ctx);
    }

    /// One of its client's events.
    pub fn on_event(&mut self, ev: &mut Event, ctx: &mut Ctx<'_>) {
        if self.rejoins.observe(ev) {
            // The reply to its client's own rejoin: a frame, not the script's.
            ctx.tally.frames_in += 1;
            return;
        }
        match ev {
            Event::Connected => {
                self.connected = true;
                if !self.ever_connected {
                    self.ever_connected = true;
                    ctx.tally.connected += 1;
                }
                if matches!(self.step, Step::Connecting) {
                    self.step = Step::Idle;
                }
            }
            Event::ConnectFailed(message) => {
                ctx.tally.clients_failed += 1;
                self.ended = true;
                self.step = Step::Done;
                let text = format!("could not connect: {message}");
                ctx.out.error(self, &text, None);
                ctx.failed();
            }
            Event::Sent {
                id, frame, cast, ..
            } => {
                ctx.tally.frames_out += 1;
                if let (Some(id), Step::Sending { id: want }) = (id, &self.step)
                    && id == want
                {
                    self.step = match &frame.ref_ {
                        Some(r) if !*cast => Step::Reply {
                            ref_: r.to_string(),
                        },
                        _ => Step::Idle,
                    };
                }
            }
            Event::SentRaw { id, .. } => {
                ctx.tally.frames_out += 1;
                self.sent(*id);
            }
            Event::Rejected { id, message } => {
                ctx.out.error(self, message, Some(self.line));
                ctx.failed();
                self.sent(*id);
            }
            Event::Reply(r) => self.on_reply(r, ctx),
            Event::Message(m) => {
                ctx.tally.frames_in += 1;
                if ctx.fail
                    && !m.stale
                    && matches!(
                        m.kind,
                        MessageKind::Error | MessageKind::Close { requested: false }
                    )
                {
                    let what = match m.kind {
                        MessageKind::Error => "crashed (phx_error)",
                        _ => "was closed by the server (phx_close)",
                    };
                    let text = format!(
                        "`{}` {what}, which fails the run under --fail",
                        m.frame.topic
                    );
                    ctx.out.error(self, &text, Some(self.line));
                    ctx.failed();
                }
                if !m.stale {
                    self.saw_frame(&m.frame, ctx);
                }
            }
            Event::Counted(n) => ctx.tally.frames_in += u64::from(*n),
            Event::Messages(pack) => {
                ctx.tally.frames_in += pack.len() as u64;
                if ctx.keeps || matches!(self.step, Step::Waiting(_)) {
                    for v in pack.iter() {
                        self.saw(&v, ctx);
                    }
                }
            }
            Event::TimedOut(e) if !e.auto => {
                ctx.tally.counts.timed_out += 1;
                self.last_reply = Some(LastReply::Missing {
                    what: format!("{} on {}", e.event, e.topic),
                    why: "timed out",
                });
                // The line that waits for it, if one does.
                let line = matches!(&self.step, Step::Reply { ref_ } if *ref_ == e.ref_)
                    .then_some(self.line);
                ctx.out.timeout(self, e, line);
                ctx.failed();
                let ref_ = e.ref_.clone();
                self.ended_reply(&ref_);
            }
            Event::Unanswered(u) if self.rejoins.given_up(&u.ref_) => {}
            Event::Unanswered(u) => {
                ctx.tally.counts.unanswered += 1;
                self.last_reply = Some(LastReply::Missing {
                    what: format!("{} on {}", u.event, u.topic),
                    why: "the channel crashed or closed",
                });
                let ref_ = u.ref_.clone();
                self.ended_reply(&ref_);
            }
            Event::Disconnected { .. } => self.connected = false,
            Event::Closed { lost, reason, .. } => {
                self.connected = false;
                self.ended = true;
                if *lost && !self.closing {
                    ctx.tally.clients_failed += 1;
                    if self.ever_connected {
                        ctx.tally.lost_after_connecting += 1;
                    }
                    let text = format!("lost its connection for good: {reason}");
                    ctx.out.error(self, &text, None);
                    ctx.failed();
                }
                self.step = Step::Done;
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, r: &crate::core::session::Reply, ctx: &mut Ctx<'_>) {
        ctx.tally.frames_in += 1;
        if r.auto {
            return;
        }
        let answered = !r.late && r.request.is_some();
        if answered {
            if r.is_error() {
                ctx.tally.counts.error += 1;
            } else {
                ctx.tally.counts.ok += 1;
            }
            if let Some(l) = r.latency {
                ctx.tally.latency(l);
            }
            if ctx.fail && r.is_error() {
                let text = format!(
                    "{} on {} replied error, which fails the run under --fail",
                    r.request.as_deref().unwrap_or("a request"),
                    r.frame.topic
                );
                ctx.out.error(self, &text, Some(self.line));
                ctx.failed();
            }
        }
        if let (Some(_), false) = (&r.request, r.late || r.cast) {
            self.last_value = Some(r.response.json_value().get().to_owned());
        }
        if let (Some(request), false) = (&r.request, r.late || r.cast) {
            self.last_reply = Some(LastReply::Reply {
                what: format!("{request} on {}", r.frame.topic),
                status: r.status.clone(),
                response: r.response.json_value().to_raw(),
            });
        }
        if let Some(ref_) = &r.frame.ref_ {
            self.ended_reply(ref_);
        }
        if r.request.is_none() {
            self.saw_frame(&r.frame, ctx);
        }
    }

    fn sent(&mut self, id: u64) {
        if matches!(self.step, Step::Sending { id: want } if want == id) {
            self.step = Step::Idle;
        }
    }

    fn ended_reply(&mut self, ref_: &str) {
        if matches!(&self.step, Step::Reply { ref_: want } if want == ref_) {
            self.step = Step::Idle;
        }
    }
}

//! What a fan-out run prints: every client's lines only with `--verbose`
//! or `--json` (each marked with the client's name), failing lines always
//! (the first few in full, on stderr for people), and the summary.
//!
//! Rendering is `output`'s; the marks are `clients::Tag`'s.

use std::io::{self, IsTerminal, Write};

use super::copy::Copy;
use super::tally::{FanTally, SHOWN_FAILURES};
use crate::core::endpoint::Redactor;
use crate::core::event::Event;
use crate::core::session::{Expired, Message as PhxMessage};
use crate::output::{Expectation, Style, WaitPass};
use crate::runner::checks::Wait;
use crate::runner::clients::Tag;

pub struct Output {
    style: Style,
    /// Every client's lines, not just failures.
    verbose: bool,
    /// The summary on stderr (human mode, without `--quiet`).
    summary: bool,
    out: String,
    err: String,
    /// Failing lines printed so far.
    shown: usize,
    redactor: Redactor,
    /// The first client's reason for not connecting, for the exit message.
    pub first_connect_error: Option<String>,
}

impl Output {
    pub fn new(style: Style, verbose: bool, summary: bool, redactor: Redactor) -> Output {
        Output {
            style,
            verbose: verbose || style.json,
            summary,
            out: String::new(),
            err: String::new(),
            shown: 0,
            redactor,
            first_connect_error: None,
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    fn tag(&self, copy: &Copy) -> Tag {
        if self.style.json {
            Tag::Field(format!("\"client\":\"{}\",", copy.name))
        } else {
            Tag::Prefix(format!("{} ", copy.name))
        }
    }

    /// A client's event, with `--verbose` or `--json`.
    pub fn event(&mut self, copy: &Copy, ev: &Event) {
        if let Event::ConnectFailed(m) = ev
            && self.first_connect_error.is_none()
        {
            self.first_connect_error = Some(m.clone());
        }
        if !self.verbose {
            return;
        }
        let from = self.out.len();
        match ev {
            Event::Messages(pack) => {
                for v in pack.iter() {
                    let m = Event::Message(PhxMessage {
                        frame: v.to_frame(),
                        kind: crate::core::packed::kind(&v),
                        stale: false,
                    });
                    self.style.event(&m, &mut self.out);
                }
            }
            ev => self.style.event(ev, &mut self.out),
        }
        self.tag(copy).apply(&mut self.out, from);
    }

    /// A failing line, or `true` when it should not print (past the cap,
    /// for people).
    fn failing(&mut self) -> bool {
        self.shown += 1;
        !self.style.json && self.shown > SHOWN_FAILURES
    }

    /// Where a failure goes: stderr for people, the one record stream
    /// (in order) for `--json`.
    fn failures(&mut self) -> &mut String {
        if self.style.json {
            &mut self.out
        } else {
            &mut self.err
        }
    }

    /// A failing line of `copy`, rendered by `render`, unless past the cap.
    fn failure(&mut self, copy: &Copy, render: impl FnOnce(&Style, &mut String)) {
        if self.failing() {
            return;
        }
        let tag = self.tag(copy);
        let style = self.style;
        let buf = self.failures();
        let from = buf.len();
        render(&style, buf);
        tag.apply(buf, from);
    }

    pub fn error(&mut self, copy: &Copy, message: &str, line: Option<usize>) {
        self.failure(copy, |style, buf| style.error(message, line, buf));
    }

    /// A request that timed out; `line` is the script line waiting for
    /// it. A push is told it may want `cast`.
    pub fn timeout(&mut self, copy: &Copy, e: &Expired, line: Option<usize>) {
        self.failure(copy, |style, buf| style.timeout(e, line, e.is_push(), buf));
    }

    pub fn expectation(&mut self, copy: &Copy, e: &Expectation<'_>) {
        if e.passed {
            if self.verbose {
                let from = self.out.len();
                self.style.expectation(e, &mut self.out);
                self.tag(copy).apply(&mut self.out, from);
            }
            return;
        }
        self.failure(copy, |style, buf| style.expectation(e, buf));
    }

    pub(in crate::runner) fn wait_passed(&mut self, copy: &Copy, wait: &Wait, payload: &str) {
        if !self.verbose {
            return;
        }
        let expected = wait.described();
        let from = self.out.len();
        self.style.wait_passed(
            &WaitPass {
                expected: &expected,
                topic: &wait.topic,
                event: &wait.event,
                payload,
                line: Some(wait.line),
            },
            &mut self.out,
        );
        self.tag(copy).apply(&mut self.out, from);
    }

    /// The summary: lines on stderr (unless `--quiet`), and with `--json`
    /// a record as well, as a single client's run has both.
    pub fn summary(&mut self, tally: &mut FanTally, exit_code: u8) {
        if self.style.json {
            crate::output::records::push(&mut self.out, &tally.record(exit_code));
        }
        if self.summary {
            for l in tally.lines() {
                self.err.push_str(&l);
                self.err.push('\n');
            }
        }
    }

    /// Writes what is held: failures to stderr for people (in JSON they
    /// are records in the one stream), the rest to stdout.
    pub fn flush(&mut self) {
        if !self.out.is_empty() {
            let text = self.redactor.scrub(&self.out);
            let mut o = io::stdout().lock();
            let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
            self.out.clear();
        }
        if !self.err.is_empty() {
            let text = self.redactor.scrub(&self.err);
            let mut e = io::stderr().lock();
            if e.is_terminal() {
                // Over the progress line.
                let _ = e.write_all(b"\r\x1b[K");
            }
            let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
            self.err.clear();
        }
    }
}

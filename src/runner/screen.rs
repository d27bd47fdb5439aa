//! The screen: output gathered into a buffer and written in batches, to
//! stdout or above the prompt, with secrets scrubbed on the way out.
//!
//! The runner is the only writer to the terminal and this is where it
//! writes. Formatting is `output`'s (the runner renders into `out` and
//! `err`); when the prompt is ready for output is the prompt's (see
//! `Mode::Interactive::ready`).

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::clients::Tag;
use super::{Mode, Runner, Sink};
use crate::core::endpoint::Redactor;

/// Output is written once this much is buffered, even mid-burst.
pub(super) const FLUSH_AT: usize = 64 * 1024;

pub(super) struct Screen {
    sink: Sink,
    /// Rendered, not yet written.
    pub out: String,
    /// Errors rendered, not yet written (see `Runner::flush_errors`).
    pub err: String,
    /// Set while the editor is reading a line; `None` when output does
    /// not go above a prompt.
    ready: Option<Arc<AtomicBool>>,
    /// Secrets kept out of everything written.
    redactor: Redactor,
    /// Writing failed (a closed pipe): the run ends, quietly.
    pub closed: bool,
    /// With several clients: how lines written since `tagged` are marked
    /// as the current client's (see `clients`).
    tag: Option<Tag>,
    /// Where untagged text starts in `out` and `err`.
    tagged: (usize, usize),
}

impl Screen {
    pub fn new(sink: Sink, mode: &Mode, redactor: Redactor) -> Screen {
        let ready = match (&sink, mode) {
            (Sink::Printer(_), Mode::Interactive { ready, .. }) => Some(ready.clone()),
            _ => None,
        };
        Screen {
            sink,
            out: String::new(),
            err: String::new(),
            ready,
            redactor,
            closed: false,
            tag: None,
            tagged: (0, 0),
        }
    }

    /// Lines written from now on are marked with `tag`; those before are
    /// marked with the previous one.
    pub fn set_tag(&mut self, tag: Option<Tag>) {
        self.apply_tag();
        self.tag = tag;
    }

    /// Marks what was written since the last mark.
    fn apply_tag(&mut self) {
        if let Some(tag) = &self.tag {
            tag.apply(&mut self.out, self.tagged.0);
            tag.apply(&mut self.err, self.tagged.1);
        }
        self.tagged = (self.out.len(), self.err.len());
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// A secret learnt while running (a `${TOKEN}` value).
    pub fn learn_secret(&mut self, value: &str) {
        self.redactor.learn(value);
    }

    /// Whether output may be written now (see `Mode::Interactive::ready`).
    pub fn may_print(&self) -> bool {
        self.ready
            .as_ref()
            .is_none_or(|ready| ready.load(Ordering::SeqCst))
    }

    /// Errors go to stderr in piped human mode; elsewhere they join the
    /// output stream in order.
    fn errors_to_stderr(&self) -> bool {
        matches!(
            self.sink,
            Sink::Stdout {
                errors_to_stderr: true
            }
        )
    }

    /// Writes the held errors to stderr.
    fn write_errors(&mut self) {
        self.apply_tag();
        let mut stderr = io::stderr().lock();
        let err = self.redactor.scrub(&self.err);
        let _ = stderr.write_all(err.as_bytes());
        let _ = stderr.flush();
        self.err.clear();
        self.tagged.1 = 0;
    }

    /// Writes buffered output.
    pub fn write(&mut self) {
        self.apply_tag();
        self.tagged.0 = 0;
        if self.out.is_empty() || self.closed {
            self.out.clear();
            return;
        }
        if let Cow::Owned(clean) = self.redactor.scrub(&self.out) {
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
                    self.closed = true;
                }
            }
            Sink::Printer(p) => {
                if p.print(std::mem::take(&mut self.out)).is_err() {
                    self.closed = true;
                }
            }
        }
        self.out.clear();
    }

    /// Waits until the prompt has shown everything printed above it.
    fn drain_printer(&mut self) {
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
}

impl Runner {
    pub(super) fn error(&mut self, message: &str, line: Option<usize>) {
        self.report.error(message, line);
        let mut s = std::mem::take(&mut self.screen.err);
        self.settings.style.error(message, line, &mut s);
        self.screen.err = s;
        self.flush_errors();
    }

    /// Errors go to stderr in piped human mode; elsewhere they join the
    /// output stream in order.
    pub(super) fn flush_errors(&mut self) {
        if self.screen.err.is_empty() {
            return;
        }
        if self.screen.errors_to_stderr() {
            self.flush();
            self.screen.write_errors();
        } else {
            self.screen.apply_tag();
            let err = std::mem::take(&mut self.screen.err);
            self.screen.out.push_str(&err);
            self.screen.tagged = (self.screen.out.len(), 0);
        }
    }

    /// Writes buffered output, unless the prompt is not ready for it.
    pub(super) fn flush(&mut self) {
        if let Some(rec) = &mut self.recording.recorder {
            let _ = rec.flush();
        }
        if self.screen.may_print() {
            self.screen.write();
        }
    }

    /// Writes what is left, waiting a little for the prompt to be ready.
    pub(super) fn final_flush(&mut self) {
        let until = Instant::now() + Duration::from_millis(500);
        while !self.screen.out.is_empty() && !self.screen.may_print() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(RecvTimeoutError::Disconnected) = self.rx.recv_timeout(left) {
                break;
            }
        }
        if let Some(rec) = &mut self.recording.recorder {
            let _ = rec.finish();
        }
        self.screen.write();
        self.screen.drain_printer();
    }
}

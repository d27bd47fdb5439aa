//! The runner's side of recording: the `record` command, and what goes
//! into an open recording (the lines run, what came back, and the joins a
//! recording started later must begin with). A LiveView client's frames
//! are written as a person would script them: see `record_event` and
//! `record_shown`.
//!
//! The file and its format are `recorder`'s.

use super::Runner;
use super::recorder::{self, Recorder};
use crate::core::event::{ClientId, Event};
use crate::lang::command;
use crate::output::Info;

/// An open recording, if any, and the joins it would need.
#[derive(Default)]
pub(super) struct Recording {
    /// `record FILE` / `--record FILE`.
    pub recorder: Option<Recorder>,
    /// Each live topic's `join` line as typed, so that a recording started
    /// later begins by joining them (its replay needs them).
    join_lines: Vec<((ClientId, String), String)>,
    /// A typed `wait` line, written once it has passed (without the
    /// `# wait` comment of the message it took) or failed.
    pub pending_wait: Option<String>,
    /// The message the pending `wait` took: topic, event, payload.
    pub took: Option<(String, String, String)>,
}

impl Recording {
    pub fn new(recorder: Option<Recorder>) -> Recording {
        Recording {
            recorder,
            join_lines: Vec::new(),
            pending_wait: None,
            took: None,
        }
    }

    /// `client`'s `topic` was joined by `typed`, replacing an earlier
    /// join of it.
    pub fn joined(&mut self, client: ClientId, topic: &str, typed: &str) {
        self.gone(client, topic);
        self.join_lines
            .push(((client, topic.to_owned()), typed.to_owned()));
    }

    /// `client`'s `topic` was left, closed, or refused: a replay should
    /// not join it.
    pub fn gone(&mut self, client: ClientId, topic: &str) {
        self.join_lines
            .retain(|((c, t), _)| *c != client || t != topic);
    }

    /// The join lines of the live topics, in the order they were joined.
    fn join_lines(&self) -> Vec<&str> {
        self.join_lines.iter().map(|(_, l)| l.as_str()).collect()
    }
}

impl Runner {
    /// Writes the pending `wait` line, leaving out the `# wait` comment of
    /// the message it took, if it took one.
    pub(super) fn write_pending_wait(&mut self) {
        let Some(line) = self.recording.pending_wait.take() else {
            return;
        };
        let took = self.recording.took.take();
        if let Some(rec) = &mut self.recording.recorder {
            let took = took
                .as_ref()
                .map(|(t, e, p)| (t.as_str(), e.as_str(), p.as_str()));
            rec.wait_line(&line, took);
        }
    }

    /// A typed line's `-H` header values (a `Cookie:`, an
    /// `Authorization:`), `--auth-token` and secret-looking `-p` params
    /// (`token=…`) are secrets like the command line's: learnt before the
    /// line is shown or recorded, so both say `REDACTED` (a
    /// `${SESSION_COOKIE}` is recorded as typed).
    pub(super) fn learn_typed_secrets(&mut self, cmd: &command::Command) {
        for value in cmd.typed_secret_params() {
            // Every clone shares what is learnt.
            self.screen.redactor().clone().learn(value);
            if let Some(rec) = &mut self.recording.recorder {
                rec.learn_secret(value);
            }
        }
        let Some((headers, token)) = cmd.typed_credentials() else {
            return;
        };
        let mut headers = headers.to_vec();
        if let Some(t) = token {
            headers.push(crate::core::endpoint::auth_token_header(t));
        }
        // Every clone shares what is learnt (the recorder's too).
        let mut redactor = self.screen.redactor().clone();
        redactor.learn_headers(&headers, token);
        if let Some(rec) = &mut self.recording.recorder {
            rec.learn_headers(&headers, token);
        }
    }

    /// The message a pending `wait` is taking (see `write_pending_wait`).
    pub(super) fn note_took(&mut self, v: &crate::core::protocol::View<'_>) {
        if self.recording.pending_wait.is_some() {
            self.recording.took =
                Some((v.topic.to_owned(), v.event.to_owned(), v.payload.to_owned()));
        }
    }

    /// `record FILE`, `record stop`, `record`.
    pub(super) fn record(&mut self, action: command::Record, line: usize) {
        match action {
            command::Record::Status => {
                let text = match &self.recording.recorder {
                    Some(r) => {
                        format!("recording to {}; `record stop` ends it", r.path().display())
                    }
                    None => "not recording; `record FILE` starts".to_owned(),
                };
                self.info(Info::Record { file: None }, &text);
            }
            command::Record::Stop => {
                let text = match self.recording.recorder.take() {
                    Some(mut r) => {
                        let _ = r.finish();
                        format!("stopped recording to {}", r.path().display())
                    }
                    None => "not recording; `record FILE` starts".to_owned(),
                };
                self.info(Info::Record { file: None }, &text);
            }
            command::Record::Start(file) => self.record_start(file, line),
        }
    }

    /// `record FILE`: stops a recording in progress, starts the new one.
    fn record_start(&mut self, file: String, line: usize) {
        let mut stopped = String::new();
        if let Some(mut old) = self.recording.recorder.take() {
            let _ = old.finish();
            stopped = format!("stopped recording to {}; ", old.path().display());
        }
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let path = recorder::expand_home(&file, home.as_deref());
        let created = Recorder::create(
            &path,
            &self.settings.shown_url,
            self.settings.page_url.as_deref(),
        )
        .map(|r| r.scrubbing(self.screen.redactor().clone()));
        match created {
            Ok(mut r) => {
                // The other clients still open come first, then the joins.
                let connects = self.open_connect_lines();
                let mut joined: Vec<&str> = connects.iter().map(String::as_str).collect();
                joined.extend(self.recording.join_lines());
                if !joined.is_empty() {
                    r.joined_before(&joined);
                }
                self.recording.recorder = Some(r);
                let text = format!(
                    "{stopped}recording to {}; `record stop` ends it",
                    path.display()
                );
                self.info(Info::Record { file: Some(&file) }, &text);
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

    /// After `text [SELECTOR]` / `html SELECTOR` showed `matches` of
    /// `page`: the `# expect` that holds on it, so that removing the `# `
    /// asserts what was seen.
    pub(super) fn record_shown(
        &mut self,
        html: bool,
        selector: Option<&str>,
        matches: &[String],
        page: &str,
    ) {
        let Some(rec) = &mut self.recording.recorder else {
            return;
        };
        let check = recorder::shown_check(html, selector, matches, || {
            crate::core::live::html::text_of(page)
        });
        if let Some(check) = check {
            let active = self.clients.active;
            rec.set_client((active != 0).then(|| self.clients.get(active).name.as_str()));
            rec.check(&check);
        }
    }

    /// Writes what came back into the recording, as comments.
    pub(super) fn record_event(&mut self, ev: &Event) {
        let Some(rec) = &mut self.recording.recorder else {
            return;
        };
        // Refs repeat across clients: the recorder knows them by both.
        let active = self.clients.active;
        let who = (active != 0).then(|| self.clients.get(active).name.as_str());
        rec.set_client(who);
        let q = |r: &str| format!("{active}:{r}");
        // A LiveView client's view and nested views (docs/PROTOCOL.md §10).
        let on_view = |topic: &str| self.peer.live.is_some() && topic.starts_with("lv:");
        match ev {
            // The view's join: its id and first render are new on every
            // run, and `live` itself already waits for it to succeed.
            Event::Reply(r)
                if !r.auto
                    && !r.late
                    && on_view(&r.frame.topic)
                    && r.request.as_deref() == Some("phx_join")
                    && !r.is_error() => {}
            // The leaves the client sends itself when a `live_redirect`
            // moves it to another view: not a typed line's answer.
            Event::Reply(r)
                if on_view(&r.frame.topic) && r.request.as_deref() == Some("phx_leave") => {}
            // The view's messages (diffs, `live_patch`, `phx_error`) are
            // news, not a step of the script, and name this run's view id,
            // so a `# wait` on them could never replay: the page checks
            // (`wait text …`) are how a script waits for them.
            Event::Message(m) if on_view(&m.frame.topic) => {}
            Event::Reply(r) if r.request.is_none() && on_view(&r.frame.topic) => {}
            Event::Sent {
                id: Some(id),
                frame,
                ..
            } => {
                if let Some(r) = &frame.ref_ {
                    rec.push_sent(*id, &q(r));
                }
            }
            Event::Reply(r) if !r.auto => {
                // A late reply answers an earlier line, not the latest:
                // as an `expect` it would check the wrong request.
                if let (true, Some(request)) = (r.late, &r.request) {
                    if let Some(ref_) = &r.frame.ref_ {
                        rec.push_ended(&q(ref_), false);
                    }
                    rec.note(&format!(
                        "late reply to {request} on {}: {} {}",
                        r.frame.topic,
                        r.status.as_deref().unwrap_or("(no status)"),
                        r.response.to_json()
                    ));
                } else if r.request.is_some() {
                    // Under the push it answers, even if lines were typed
                    // since (at the prompt, commands do not wait).
                    // An event's reply holds the diff in the wire's form:
                    // its status is what a script asserts.
                    let json = r.response.to_json();
                    let response = (!on_view(&r.frame.topic)).then_some(&*json);
                    match &r.frame.ref_ {
                        Some(ref_) => rec.push_answered(&q(ref_), r.status.as_deref(), response),
                        None => rec.reply(r.status.as_deref(), response),
                    }
                } else {
                    rec.message(&r.frame.topic, &r.frame.event, &r.frame.payload.to_json());
                }
            }
            Event::Message(m) => {
                rec.message(&m.frame.topic, &m.frame.event, &m.frame.payload.to_json());
            }
            Event::TimedOut(e) if !e.auto => {
                rec.push_ended(&q(&e.ref_), true);
                rec.note(&format!(
                    "no reply to {} on {} (timed out; recorded as `cast`)",
                    e.event, e.topic
                ));
            }
            Event::Unanswered(u) => {
                rec.push_ended(&q(&u.ref_), false);
                rec.note(&format!(
                    "no reply to {} on {} ({})",
                    u.event, u.topic, u.because
                ));
            }
            _ => {}
        }
        if rec.failed() {
            let msg = format!(
                "writing the recording {} failed; recording stopped",
                rec.path().display()
            );
            self.recording.recorder = None;
            self.error(&msg, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_begins_with_the_live_joins_latest_last() {
        let mut r = Recording::default();
        r.joined(0, "room:a", "join room:a");
        r.joined(0, "room:b", "join room:b {\"x\":1}");
        r.joined(0, "room:a", "join room:a {\"again\":true}");
        // Another client's join of the same topic is its own.
        r.joined(1, "room:a", "@bob join room:a");
        assert_eq!(
            r.join_lines(),
            [
                "join room:b {\"x\":1}",
                "join room:a {\"again\":true}",
                "@bob join room:a"
            ]
        );
        r.gone(0, "room:b");
        r.gone(0, "room:c");
        r.gone(1, "room:a");
        assert_eq!(r.join_lines(), ["join room:a {\"again\":true}"]);
    }
}

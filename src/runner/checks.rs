//! Script checks: `wait` (a message to come, or one kept from before) and
//! `expect` (the latest request's outcome), what a failure does (the exit
//! status, `--bail`), and the tally behind the summary line.
//!
//! The verdicts themselves are pure ([`Wait::offer`], [`Wait::missed`],
//! [`verdict`], [`Tally::line`]); the runner methods here print them.
//! Matching a payload is `lang::matcher`'s; printing is `output`'s.

use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;

use super::Runner;
use super::flow::Step;
use crate::core::event::ClientId;
use crate::core::protocol::{Frame, View};
use crate::lang::matcher;
use crate::lang::watch::{REFUTE_DEFAULT, Watch, Watched};
use crate::output::records;
use crate::output::{Expectation, Info, WaitPass, display_json};

/// What the checks remember between lines.
pub(super) struct Checks {
    pub tally: Tally,
    /// Something failed: a script exits with failure.
    pub failed: bool,
    /// `--bail` stopped the script: later lines are ignored.
    pub bailed: bool,
}

impl Checks {
    pub fn new() -> Checks {
        Checks {
            tally: Tally::default(),
            failed: false,
            bailed: false,
        }
    }
}

/// A pending `wait TOPIC EVENT [TIMEOUT] [JSON]`.
#[derive(Debug)]
pub(super) struct Wait {
    pub topic: String,
    pub event: String,
    pub payload: Option<Value>,
    /// The last message with that topic and event whose payload did not
    /// match, to show when the wait fails.
    pub near_miss: Option<String>,
    pub deadline: Instant,
    pub timeout: Duration,
    pub line: usize,
    /// Whose messages it waits for.
    pub client: ClientId,
    /// A `refute`: the message must not come.
    pub refute: bool,
    /// `wait gql`/`refute gql`: the subscriptions' ids and the key of
    /// their root field; the payload is matched against that field's value.
    pub gql: Vec<(String, String)>,
    /// `wait text|html …`/`refute …`: a check on a LiveView page, looked
    /// at as the page changes (`runner::live`), never on messages.
    pub page: Option<crate::lang::live::PageCheck>,
}

/// How a `wait` failed, ready to print.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Missed {
    /// Nothing with that topic and event came.
    Nothing(String),
    /// Messages came, but no payload matched.
    Mismatch {
        summary: String,
        expected: String,
        got: String,
        detail: Option<String>,
    },
}

impl Wait {
    /// Shows a message to the wait: true if it is the one waited for.
    /// One with the right names but the wrong payload is kept as the near
    /// miss.
    pub fn offer(&mut self, v: &View<'_>) -> bool {
        if self.page.is_some() {
            return false;
        }
        let value;
        let payload = if self.gql.is_empty() {
            if !matches_wait(&self.topic, &self.event, v.topic, v.event) {
                return false;
            }
            v.payload
        } else {
            let Some((_, key)) = self.gql.iter().find(|(id, _)| id == v.topic) else {
                return false;
            };
            if v.event != crate::runner::gql::DATA_EVENT {
                return false;
            }
            value = crate::runner::gql::field_value(v.payload, key)
                .unwrap_or_else(|| "null".to_owned());
            &value
        };
        let matched = match &self.payload {
            Some(w) => matcher::subset_text(w, payload).is_none(),
            None => true,
        };
        if !matched {
            self.near_miss = Some(payload.to_owned());
        }
        matched
    }

    /// A `wait` (or, with `refute`, a `refute`) starting now, for the
    /// first client and a channel message: its window is `timeout`, else
    /// `wait_default` for a `wait` and [`REFUTE_DEFAULT`] for a `refute`.
    pub fn start(
        topic: String,
        event: String,
        payload: Option<Value>,
        timeout: Option<Duration>,
        wait_default: Duration,
        refute: bool,
        line: usize,
    ) -> Wait {
        let timeout = timeout.unwrap_or(if refute { REFUTE_DEFAULT } else { wait_default });
        Wait {
            topic,
            event,
            payload,
            near_miss: None,
            deadline: Instant::now() + timeout,
            timeout,
            line,
            client: 0,
            refute,
            gql: Vec::new(),
            page: None,
        }
    }

    /// The line after `wait `/`refute ` but the timeout, as the `✓` lines
    /// and the records show it: `TOPIC EVENT [JSON]`.
    pub fn described(&self) -> String {
        if self.page.is_some() {
            return self.event.clone();
        }
        match &self.payload {
            Some(p) => format!("{} {} {p}", self.topic, self.event),
            None => format!("{} {}", self.topic, self.event),
        }
    }

    /// What a matched message gives `let` and the `✓` line: its payload,
    /// or for `wait gql` its root field's value.
    pub fn value_of(&self, v_topic: &str, payload: &str) -> String {
        match self.gql.iter().find(|(id, _)| id == v_topic) {
            Some((_, key)) => {
                crate::runner::gql::field_value(payload, key).unwrap_or_else(|| "null".to_owned())
            }
            None => payload.to_owned(),
        }
    }

    /// What to say when the deadline passed.
    pub fn missed(&self) -> Missed {
        let Wait {
            topic,
            event,
            timeout,
            ..
        } = self;
        match &self.payload {
            None if !self.gql.is_empty() => Missed::Nothing(format!(
                "no data of subscription `{event}` within {}; raise it with `wait gql {event} 30s`",
                fmt_duration(*timeout)
            )),
            None => Missed::Nothing(format!(
                "no `{event}` on `{topic}` within {}; raise it with `wait {topic} {event} 30s`",
                fmt_duration(*timeout)
            )),
            Some(want) => {
                let (got, detail) = match &self.near_miss {
                    Some(p) => (
                        display_json(p).into_owned(),
                        matcher::subset_text(want, p).map(|m| m.to_string()),
                    ),
                    None => (format!("no `{event}` on `{topic}`"), None),
                };
                Missed::Mismatch {
                    summary: format!(
                        "no `{event}` on `{topic}` with a matching payload within {}",
                        fmt_duration(*timeout)
                    ),
                    expected: want.to_string(),
                    got,
                    detail,
                }
            }
        }
    }
}

/// What the latest request got, for `expect`.
#[derive(Debug)]
pub(super) enum LastReply {
    Reply {
        /// `push on room:lobby`
        what: String,
        status: Option<String>,
        response: Box<RawValue>,
    },
    /// It timed out, or its channel crashed or closed first.
    Missing { what: String, why: &'static str },
}

/// The outcome of an `expect`, ready to print.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Verdict {
    pub passed: bool,
    pub summary: String,
    pub expected: String,
    pub got: String,
    pub detail: Option<String>,
}

/// `expect ok|error [JSON]` against what the latest request got.
pub(super) fn verdict(last: Option<&LastReply>, ok: bool, response: Option<&Value>) -> Verdict {
    let want_status = if ok { "ok" } else { "error" };
    let expected = match response {
        Some(r) => format!("{want_status} {r}"),
        None => want_status.to_owned(),
    };
    let command = format!("expect {expected}");
    let (passed, summary, got, detail) = match last {
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
    let summary = if passed { command } else { summary };
    Verdict {
        passed,
        summary,
        expected,
        got,
        detail,
    }
}

/// Counts for the summary line at the end of a piped run.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub commands: usize,
    pub ok: usize,
    pub error: usize,
    pub timed_out: usize,
    pub unanswered: usize,
    /// `expect` and `wait` lines that passed or failed.
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    /// The `summary` record: the counts of [`Tally::line`].
    pub fn record(&self, exit_code: Option<u8>) -> records::Summary {
        records::Summary {
            commands: self.commands,
            replies: records::SummaryReplies {
                ok: self.ok,
                error: self.error,
                timed_out: self.timed_out,
                unanswered: self.unanswered,
            },
            expectations: records::SummaryExpectations {
                passed: self.passed,
                failed: self.failed,
            },
            clients: None,
            latency_ms: None,
            frames: None,
            exit_code,
        }
    }

    pub fn line(&self) -> String {
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

impl Runner {
    /// `wait` (passes at once on a kept message, else waits for one) or
    /// `refute` (fails at once on a message kept since the previous line
    /// began, else watches until its window ends).
    pub(super) fn start_watch(&mut self, watch: Watch, refute: bool, line: usize) {
        let (topic, event) = match watch.what {
            Watched::Message { topic, event } => (topic, event),
            Watched::Gql(name) => {
                return self.start_gql_watch(name, watch.timeout, watch.payload, refute, line);
            }
            Watched::Page(check) => {
                return self.start_page_watch(check, watch.timeout, refute, line);
            }
        };
        self.begin_watch(
            topic,
            event,
            Vec::new(),
            watch.timeout,
            watch.payload,
            refute,
            line,
        );
    }

    /// `wait gql NAME`/`refute gql NAME`: data on these subscriptions.
    pub(super) fn start_data_watch(
        &mut self,
        name: String,
        targets: Vec<(String, String)>,
        timeout: Option<Duration>,
        payload: Option<Value>,
        refute: bool,
        line: usize,
    ) {
        self.begin_watch(
            "gql".to_owned(),
            name,
            targets,
            timeout,
            payload,
            refute,
            line,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn begin_watch(
        &mut self,
        topic: String,
        event: String,
        gql: Vec<(String, String)>,
        timeout: Option<Duration>,
        payload: Option<Value>,
        refute: bool,
        line: usize,
    ) {
        let mut wait = Wait {
            client: self.clients.active,
            gql,
            ..Wait::start(
                topic,
                event,
                payload,
                timeout,
                self.settings.timeout,
                refute,
                line,
            )
        };
        if refute {
            let found = self
                .peer
                .recent
                .find_since(self.peer.marks.0, |v| wait.offer(v))
                .map(|v| wait.value_of(v.topic, v.payload));
            match found {
                Some(payload) => self.refuted(&wait, &payload),
                None => self.step = Step::Waiting(wait),
            }
            return;
        }
        let mut found = None;
        let mut took = None;
        if self.peer.recent.take_first(|v| {
            let hit = wait.offer(v);
            if hit {
                found = Some(wait.value_of(v.topic, v.payload));
                took = Some((v.topic.to_owned(), v.event.to_owned(), v.payload.to_owned()));
            }
            hit
        }) {
            if self.recording.pending_wait.is_some() {
                self.recording.took = took;
            }
            self.wait_passed(&wait, found.as_deref().unwrap_or("null"));
            return;
        }
        // Counted from now: looking through the kept messages took time.
        wait.deadline = Instant::now() + wait.timeout;
        self.step = Step::Waiting(wait);
    }

    /// A message matched a pending `wait` (passed) or `refute` (failed).
    pub(super) fn watch_hit(&mut self, wait: &Wait, payload: &str) {
        if wait.refute {
            self.refuted(wait, payload);
        } else {
            self.wait_passed(wait, payload);
        }
    }

    /// A `refute` saw what must not come.
    fn refuted(&mut self, wait: &Wait, payload: &str) {
        self.checks.tally.failed += 1;
        let expected = format!("no {}", wait.described());
        let summary = if wait.page.is_some() {
            format!(
                "the page had {} within {}, and `refute` says it must not",
                wait.event,
                fmt_duration(wait.timeout)
            )
        } else {
            format!(
                "`{}` on `{}` came within {}, and `refute` says it must not",
                wait.event,
                wait.topic,
                fmt_duration(wait.timeout)
            )
        };
        let got = format!("{} {} {}", wait.topic, wait.event, display_json(payload));
        self.expectation(Expectation {
            passed: false,
            summary: &summary,
            expected: &expected,
            got: &got,
            detail: None,
            line: self.line_label(wait.line),
        });
        self.mark_failed();
    }

    /// A `refute` whose window passed with nothing matching.
    fn refute_passed(&mut self, wait: &Wait) {
        self.checks.tally.passed += 1;
        let expected = wait.described();
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings
            .style
            .refute_passed(&expected, self.line_label(wait.line), &mut s);
        self.screen.out = s;
        self.report
            .refute_passed(&expected, self.line_label(wait.line));
    }

    /// Counts and shows a `wait` that found its message, whose payload
    /// is `payload`.
    pub(super) fn wait_passed(&mut self, wait: &Wait, payload: &str) {
        self.checks.tally.passed += 1;
        let what = format!("the `{}` message on `{}`", wait.event, wait.topic);
        self.keep_value(what, payload);
        let expected = wait.described();
        let pass = WaitPass {
            expected: &expected,
            topic: &wait.topic,
            event: &wait.event,
            payload,
            line: self.line_label(wait.line),
        };
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.wait_passed(&pass, &mut s);
        self.screen.out = s;
        self.report.wait_passed(&pass);
    }

    /// Offers an incoming message to a pending `wait`, or keeps it for a later one.
    /// What is kept is a copy: the frame itself goes back to the network
    /// thread (see `Input::Net`).
    pub(super) fn saw(&mut self, frame: &Frame) {
        let payload = frame.payload.json_value();
        let v = frame.view(payload.get());
        if !self.wait_sees(&v) {
            self.peer.recent.push(&v);
        }
    }

    /// Shows a message to a pending `wait`: true if it was the one waited
    /// for (it is then not kept for a later one).
    pub(super) fn wait_sees(&mut self, v: &View<'_>) -> bool {
        match self.wait_takes(v) {
            Some(wait) => {
                let value = wait.value_of(v.topic, v.payload);
                self.note_took(v);
                self.watch_hit(&wait, &value);
                self.write_pending_wait();
                true
            }
            None => false,
        }
    }

    /// Shows a message to a pending `wait` and, if it was the one waited
    /// for, ends the wait and returns it, for the caller to pass with
    /// [`Runner::wait_passed`] where its line belongs.
    pub(super) fn wait_takes(&mut self, v: &View<'_>) -> Option<Wait> {
        if let Step::Waiting(wait) = &mut self.step
            && wait.client == self.clients.active
            && wait.offer(v)
            && let Step::Waiting(wait) = std::mem::replace(&mut self.step, Step::Idle)
        {
            return Some(wait);
        }
        None
    }

    /// The deadline of a `wait` passed.
    pub(super) fn wait_missed(&mut self, wait: Wait) {
        self.write_pending_wait();
        if wait.refute {
            return self.refute_passed(&wait);
        }
        self.checks.tally.failed += 1;
        if wait.page.is_some() {
            self.page_wait_missed(&wait);
            return self.mark_failed();
        }
        match wait.missed() {
            Missed::Nothing(msg) => self.error(&msg, self.line_label(wait.line)),
            Missed::Mismatch {
                summary,
                expected,
                got,
                detail,
            } => self.expectation(Expectation {
                passed: false,
                summary: &summary,
                expected: &expected,
                got: &got,
                detail: detail.as_deref(),
                line: self.line_label(wait.line),
            }),
        }
        self.mark_failed();
    }

    /// `expect ok|error [JSON]` against the latest request's outcome.
    pub(super) fn check_expectation(&mut self, ok: bool, response: Option<&Value>, line: usize) {
        let v = verdict(self.peer.last_reply.as_ref(), ok, response);
        self.expectation(Expectation {
            passed: v.passed,
            summary: &v.summary,
            expected: &v.expected,
            got: &v.got,
            detail: v.detail.as_deref(),
            line: self.line_label(line),
        });
        if v.passed {
            self.checks.tally.passed += 1;
        } else {
            self.checks.tally.failed += 1;
            self.mark_failed();
        }
    }

    pub(super) fn expectation(&mut self, e: Expectation<'_>) {
        self.report.expectation(&e);
        if e.passed {
            let mut s = std::mem::take(&mut self.screen.out);
            self.settings.style.expectation(&e, &mut s);
            self.screen.out = s;
        } else {
            let mut s = std::mem::take(&mut self.screen.err);
            self.settings.style.expectation(&e, &mut s);
            self.screen.err = s;
            self.flush_errors();
        }
    }

    /// Records a failure; with `--bail` a script stops here.
    pub(super) fn mark_failed(&mut self) {
        self.checks.failed = true;
        if self.settings.bail && !self.interactive() && !self.checks.bailed {
            self.checks.bailed = true;
            self.queue.clear();
            self.queue.eof = true;
            self.info(Info::Bail, "stopping at the first failure (--bail)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view<'a>(topic: &'a str, event: &'a str, payload: &'a str) -> View<'a> {
        View {
            topic,
            event,
            payload,
            join_ref: None,
            ref_: None,
        }
    }

    fn wait(topic: &str, event: &str, payload: Option<Value>) -> Wait {
        Wait {
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
            near_miss: None,
            deadline: Instant::now(),
            timeout: Duration::from_secs(5),
            line: 3,
            client: 0,
            refute: false,
            gql: Vec::new(),
            page: None,
        }
    }

    #[test]
    fn wait_matches_topic_and_event_with_wildcards() {
        assert!(matches_wait("room:a", "shout", "room:a", "shout"));
        assert!(matches_wait("*", "shout", "room:b", "shout"));
        assert!(matches_wait("room:a", "*", "room:a", "x"));
        assert!(!matches_wait("room:a", "shout", "room:b", "shout"));
        assert!(!matches_wait("room:a", "shout", "room:a", "other"));
    }

    #[test]
    fn a_wait_takes_a_matching_payload_and_remembers_the_near_miss() {
        let mut w = wait("room:a", "shout", Some(json!({"n": 2})));
        assert!(!w.offer(&view("room:b", "shout", r#"{"n":2}"#)));
        assert_eq!(w.near_miss, None);
        assert!(!w.offer(&view("room:a", "shout", r#"{"n":1}"#)));
        assert_eq!(w.near_miss.as_deref(), Some(r#"{"n":1}"#));
        assert!(w.offer(&view("room:a", "shout", r#"{"n":2,"m":0}"#)));
    }

    #[test]
    fn a_missed_wait_says_what_came_instead() {
        let w = wait("room:a", "shout", None);
        assert_eq!(
            w.missed(),
            Missed::Nothing(
                "no `shout` on `room:a` within 5 s; raise it with `wait room:a shout 30s`"
                    .to_owned()
            )
        );
        let mut w = wait("room:a", "shout", Some(json!({"n": 2})));
        let Missed::Mismatch { got, detail, .. } = w.missed() else {
            panic!("a payload was wanted");
        };
        assert_eq!((got.as_str(), detail), ("no `shout` on `room:a`", None));
        w.offer(&view("room:a", "shout", r#"{"n":1}"#));
        let Missed::Mismatch {
            summary, detail, ..
        } = w.missed()
        else {
            panic!("a payload was wanted");
        };
        assert_eq!(
            summary,
            "no `shout` on `room:a` with a matching payload within 5 s"
        );
        assert!(detail.is_some());
    }

    #[test]
    fn expect_checks_status_then_response() {
        let reply = |status: &str, response: &str| LastReply::Reply {
            what: "push on room:a".to_owned(),
            status: Some(status.to_owned()),
            response: RawValue::from_string(response.to_owned()).unwrap(),
        };
        let v = verdict(
            Some(&reply("ok", r#"{"a":1}"#)),
            true,
            Some(&json!({"a": 1})),
        );
        assert!(v.passed);
        assert_eq!(v.summary, r#"expect ok {"a":1}"#);
        let v = verdict(Some(&reply("error", "{}")), true, None);
        assert!(!v.passed);
        assert_eq!(v.summary, "push on room:a replied error");
        let v = verdict(
            Some(&reply("ok", r#"{"a":2}"#)),
            true,
            Some(&json!({"a": 1})),
        );
        assert_eq!(
            (v.passed, v.summary.as_str()),
            (false, "push on room:a replied ok with a different response")
        );
        assert!(v.detail.is_some());
    }

    #[test]
    fn expect_without_a_reply_fails() {
        let v = verdict(None, true, None);
        assert!(!v.passed);
        assert_eq!(v.got, "no reply");
        let missing = LastReply::Missing {
            what: "join on room:a".to_owned(),
            why: "timed out",
        };
        let v = verdict(Some(&missing), false, None);
        assert_eq!(v.summary, "join on room:a got no reply (timed out)");
        assert_eq!(v.expected, "error");
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
    fn the_summary_record_holds_the_summary_lines_counts() {
        let t = Tally {
            commands: 4,
            ok: 3,
            error: 1,
            timed_out: 2,
            unanswered: 0,
            passed: 5,
            failed: 6,
        };
        let mut out = String::new();
        records::push_at(&mut out, &t.record(Some(1)), "T");
        assert_eq!(
            out,
            "{\"type\":\"summary\",\"time\":\"T\",\"commands\":4,\
             \"replies\":{\"ok\":3,\"error\":1,\"timed_out\":2,\"unanswered\":0},\
             \"expectations\":{\"passed\":5,\"failed\":6},\"exit_code\":1}\n"
        );
    }

    #[test]
    fn the_summary_names_unanswered_requests_only_when_there_are_some() {
        let t = Tally {
            commands: 2,
            unanswered: 1,
            ..Tally::default()
        };
        assert_eq!(
            t.line(),
            "summary: 2 commands run; replies: 0 ok, 0 error, 0 timed out, 1 unanswered; expectations: 0 passed, 0 failed"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
    }
}

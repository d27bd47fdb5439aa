//! The JUnit report of a run (`--junit FILE`): the tap that keeps a
//! script's check records on the side, and the one converter from NDJSON
//! records to a `junit::Suite`, which `phx-repl test` uses too (on each
//! file's `--json` output).
//!
//! The tap renders, with a JSON style, only what a report needs: passes
//! (`expect_passed`, `wait_passed`, `refute_passed`), failures and errors,
//! timeouts, `let`, replies and the final `summary`, and remembers each
//! line's text by its number, to name the cases. The runner calls it with
//! one line where it already renders those things; everything here is a
//! no-op without `--junit`.
//!
//! The converter makes a case of every `expect`, `wait` and `refute`
//! record and of every timed-out reply; any other failure (a bad line, a
//! failed `let`, an error reply or a GraphQL error under `--fail`, a failed
//! connection) is a failing case too, and a run that failed with no such
//! record gets one saying so, so a failed run never shows a green report.
//! A case's time is the time since the previous case's record (or the
//! start of the run), from the records' `time` fields.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::core::event::Event;
use crate::core::session::Expired;
use crate::output::junit::{Case, Outcome, Suite};
use crate::output::records::{self, Summary};
use crate::output::{Expectation, Style, WaitPass};

/// Where a normal run's report goes, and what it calls the script.
#[derive(Debug, Clone)]
pub struct Junit {
    pub path: PathBuf,
    /// The script's name in the report: the `-f` file, or `stdin`.
    pub file: String,
    /// `--fail`: error replies fail the run, so they are failing cases.
    pub fail: bool,
}

/// The side buffer of check records; off without `--junit`.
pub(super) struct Tap {
    on: Option<On>,
}

struct On {
    junit: Junit,
    style: Style,
    records: String,
    lines: BTreeMap<usize, String>,
    started: SystemTime,
}

impl Tap {
    pub fn new(junit: Option<Junit>, style: Style) -> Tap {
        Tap {
            on: junit.map(|junit| On {
                junit,
                style: Style {
                    json: true,
                    ..style
                },
                records: String::new(),
                lines: BTreeMap::new(),
                started: SystemTime::now(),
            }),
        }
    }

    /// Renders into the side buffer, when there is one.
    fn with(&mut self, f: impl FnOnce(&Style, &mut String)) {
        if let Some(on) = &mut self.on {
            f(&on.style, &mut on.records);
        }
    }

    /// Line `n` is about to run: its text names its case.
    pub fn line(&mut self, n: usize, text: &str) {
        if let Some(on) = &mut self.on {
            on.lines.insert(n, text.to_owned());
        }
    }

    pub fn error(&mut self, message: &str, line: Option<usize>) {
        self.with(|s, out| s.error(message, line, out));
    }

    pub fn expectation(&mut self, e: &Expectation<'_>) {
        self.with(|s, out| s.expectation(e, out));
    }

    pub fn wait_passed(&mut self, w: &WaitPass<'_>) {
        self.with(|s, out| s.wait_passed(w, out));
    }

    pub fn refute_passed(&mut self, expected: &str, line: Option<usize>) {
        self.with(|s, out| s.refute_passed(expected, line, out));
    }

    pub fn let_value(&mut self, name: &str, value: &str, line: Option<usize>) {
        self.with(|s, out| s.let_value(name, value, line, out));
    }

    pub fn timeout(&mut self, e: &Expired, line: Option<usize>, hint: bool) {
        self.with(|s, out| s.timeout(e, line, hint, out));
    }

    /// A record as it is, e.g. a `gql_result` with errors.
    pub fn record<R: crate::output::records::Record>(&mut self, record: &R) {
        if let Some(on) = &mut self.on {
            crate::output::records::push(&mut on.records, record);
        }
    }

    /// A reply with status error: a failing case under `--fail`. Other
    /// events are not kept, so a long run does not grow the buffer.
    pub fn event(&mut self, ev: &Event) {
        if self.on.is_some() && matches!(ev, Event::Reply(r) if !r.auto && r.is_error()) {
            self.with(|s, out| s.event(ev, out));
        }
    }

    /// Writes the report, ending with the run's summary; `connect_error`
    /// is why the first connection failed. An error says why it could
    /// not be written.
    pub fn write(&mut self, summary: &Summary, connect_error: Option<&str>) -> Result<(), String> {
        let Some(on) = &mut self.on else {
            return Ok(());
        };
        if connect_error.is_none() {
            records::push(&mut on.records, summary);
        }
        let mut reader = Reader::new(&on.junit.file, on.lines.clone(), on.junit.fail, on.started);
        for line in on.records.lines() {
            reader.record(line);
        }
        let exit = summary.exit_code.unwrap_or(0);
        let read = reader.finish(Some(exit), connect_error);
        let elapsed = on.started.elapsed().unwrap_or_default();
        let report = crate::output::junit::Report {
            name: "phx-repl".into(),
            suites: vec![read.suite(&on.junit.file, on.started, elapsed)],
        };
        std::fs::write(&on.junit.path, report.to_xml()).map_err(|e| {
            format!(
                "cannot write the JUnit report `{}`: {e}",
                on.junit.path.display()
            )
        })
    }
}

/// A failure as the human output shows it (`phx-repl test` prints them
/// under a failed file's line).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A failed `expect` (or `wait` with JSON, or `refute`).
    Expect {
        line: Option<usize>,
        message: String,
        expected: String,
        got: String,
        detail: Option<String>,
    },
    Timeout {
        line: Option<usize>,
        message: String,
    },
    /// Any other error record, or the run's fatal error.
    Error {
        line: Option<usize>,
        message: String,
    },
}

/// What one script's records said.
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub cases: Vec<Case>,
    pub failures: Vec<Failure>,
    /// `expectations` of the `summary` record: passed, failed.
    pub expectations: Option<(usize, usize)>,
    /// When the first record was written.
    pub first: Option<SystemTime>,
}

impl Read {
    /// The JUnit suite of the file.
    pub fn suite(&self, file: &str, started: SystemTime, time: Duration) -> Suite {
        Suite {
            name: file.to_owned(),
            file: file.to_owned(),
            timestamp: self.first.unwrap_or(started).min(started),
            time,
            cases: self.cases.clone(),
            system_out: None,
        }
    }

    /// Cases that did not pass.
    pub fn failed_cases(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| !matches!(c.outcome, Outcome::Passed | Outcome::Skipped { .. }))
            .count()
    }
}

/// Turns a script's NDJSON records, one at a time, into cases.
pub struct Reader {
    file: String,
    lines: BTreeMap<usize, String>,
    fail: bool,
    /// The previous case's time: the next case took what came after.
    last: SystemTime,
    read: Read,
    /// A failing case without a line (the connection, say) was seen.
    lineless_failure: bool,
    /// The last case was an error reply: a `gql_result` right after it
    /// is the same failure, named better.
    error_reply: bool,
}

impl Reader {
    /// `lines` are the script's lines by number; `fail` is `--fail`.
    pub fn new(
        file: &str,
        lines: BTreeMap<usize, String>,
        fail: bool,
        started: SystemTime,
    ) -> Reader {
        Reader {
            file: file.to_owned(),
            lines,
            fail,
            last: started,
            read: Read::default(),
            lineless_failure: false,
            error_reply: false,
        }
    }

    /// Lines numbered from 1, as a script file's text gives them.
    pub fn numbered(text: &str) -> BTreeMap<usize, String> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r').to_owned()))
            .collect()
    }

    /// Takes one NDJSON record; anything else is ignored.
    pub fn record(&mut self, record: &str) {
        let Ok(v) = serde_json::from_str::<Value>(record) else {
            return;
        };
        let time = v["time"]
            .as_str()
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if let Some(t) = time {
            self.read.first.get_or_insert(t);
        }
        let line = v["line"].as_u64().map(|n| n as usize);
        match (v["type"].as_str(), v["event"].as_str(), v["kind"].as_str()) {
            (Some("info"), Some("expect_passed" | "wait_passed" | "refute_passed"), _) => {
                self.case(line, None, time, Outcome::Passed);
            }
            (Some("error"), _, Some("expect")) => self.expect_failed(&v, line, time),
            (Some("error"), _, Some("timeout")) => self.timed_out(&v, line, time),
            (Some("error"), _, Some("protocol")) => {}
            (Some("error"), _, _) => self.error(line, &text(&v, "message"), time),
            (Some("reply"), _, _)
                if self.fail && v["status"] == "error" && !v["request"].is_null() =>
            {
                self.error_reply(&v, time);
            }
            (Some("gql_result"), _, _) if self.fail && v["status"] == "error" => {
                self.gql_error(&v, line, time);
            }
            (Some("summary"), _, _) => {
                let e = &v["expectations"];
                self.read.expectations = Some((
                    e["passed"].as_u64().unwrap_or(0) as usize,
                    e["failed"].as_u64().unwrap_or(0) as usize,
                ));
            }
            _ => {}
        }
    }

    /// A failed `expect` (or `wait` with JSON, or `refute`).
    fn expect_failed(&mut self, v: &Value, line: Option<usize>, time: Option<SystemTime>) {
        let (expected, got) = (text(v, "expected"), text(v, "got"));
        let kind = self.verb(line).to_owned();
        self.read.failures.push(Failure::Expect {
            line,
            message: text(v, "message"),
            expected: expected.clone(),
            got: got.clone(),
            detail: v["detail"].as_str().map(str::to_owned),
        });
        let outcome = Outcome::Failed {
            kind,
            message: text(v, "message"),
            expected,
            got,
        };
        self.case(line, None, time, outcome);
    }

    /// A reply that did not come in time.
    fn timed_out(&mut self, v: &Value, line: Option<usize>, time: Option<SystemTime>) {
        let what = format!("{} on {}", text(v, "event"), text(v, "topic"));
        self.read.failures.push(Failure::Timeout {
            line,
            message: text(v, "message"),
        });
        let outcome = Outcome::Failed {
            kind: "timeout".into(),
            message: text(v, "message"),
            expected: format!("a reply to {what}"),
            got: "no reply in time".into(),
        };
        self.case(line, Some(format!("reply to {what}")), time, outcome);
    }

    /// A reply with status error, under `--fail`. The record has no line.
    fn error_reply(&mut self, v: &Value, time: Option<SystemTime>) {
        let what = format!("{} on {}", text(v, "request"), text(v, "topic"));
        let got = format!("error {}", v["response"]);
        self.read.failures.push(Failure::Error {
            line: None,
            message: format!("the reply to {what} was an error (--fail): {got}"),
        });
        let outcome = Outcome::Failed {
            kind: "reply".into(),
            message: "an error reply (--fail)".into(),
            expected: "ok".into(),
            got,
        };
        self.case(None, Some(format!("reply to {what}")), time, outcome);
        self.error_reply = true;
    }

    /// A `gql` answer with errors, under `--fail`: it replaces the case of
    /// its error reply, if that came just before.
    fn gql_error(&mut self, v: &Value, line: Option<usize>, time: Option<SystemTime>) {
        if self.error_reply {
            self.read.cases.pop();
            self.read.failures.pop();
        }
        let message = format!("GraphQL errors (--fail): {}", v["errors"]);
        self.read.failures.push(Failure::Error {
            line,
            message: message.clone(),
        });
        let outcome = Outcome::Error {
            kind: "gql".into(),
            message,
        };
        self.case(
            line,
            Some(format!("gql {}", text(v, "name"))),
            time,
            outcome,
        );
    }

    /// An `error` record of no particular kind: a failed `wait` when its
    /// line is one, else a line that could not run.
    fn error(&mut self, line: Option<usize>, message: &str, time: Option<SystemTime>) {
        self.read.failures.push(Failure::Error {
            line,
            message: message.to_owned(),
        });
        let verb = self.verb(line);
        let outcome = if verb == "wait" {
            let text = line.and_then(|n| self.lines.get(&n)).map(String::as_str);
            Outcome::Failed {
                kind: "wait".into(),
                message: message.to_owned(),
                expected: text.unwrap_or("wait").trim().to_owned(),
                got: message.to_owned(),
            }
        } else {
            Outcome::Error {
                kind: if verb == "let" { "let" } else { "line" }.into(),
                message: message.to_owned(),
            }
        };
        let name = line.is_none().then(|| "error".to_owned());
        self.case(line, name, time, outcome);
    }

    /// The command word of line `n` (`expect`, `wait`, `let`…), after
    /// any `@CLIENT`.
    fn verb(&self, line: Option<usize>) -> &str {
        let Some(text) = line.and_then(|n| self.lines.get(&n)) else {
            return "expect";
        };
        let mut words = text.split_whitespace();
        match words.next() {
            Some(w) if w.starts_with('@') => words.next().unwrap_or(""),
            Some(w) => w,
            None => "",
        }
    }

    /// Adds a case, named by its line (or `name` when it has none).
    fn case(
        &mut self,
        line: Option<usize>,
        name: Option<String>,
        time: Option<SystemTime>,
        outcome: Outcome,
    ) {
        let took = time
            .and_then(|t| t.duration_since(self.last).ok())
            .unwrap_or_default();
        if let Some(t) = time {
            self.last = self.last.max(t);
        }
        if line.is_none() && outcome != Outcome::Passed {
            self.lineless_failure = true;
        }
        self.error_reply = false;
        let case = match line {
            Some(n) => {
                let text = self.lines.get(&n).map(String::as_str).unwrap_or("");
                Case::line(&self.file, n, text, took, outcome)
            }
            None => Case {
                name: name.unwrap_or_else(|| "run".to_owned()),
                classname: self.file.clone(),
                time: took,
                outcome,
            },
        };
        self.read.cases.push(case);
    }

    /// The result: `exit` is the run's exit code and `fatal` the error
    /// that ended it before it ran (a refused connection), if known. A run
    /// that failed with no failing case gets one.
    pub fn finish(mut self, exit: Option<u8>, fatal: Option<&str>) -> Read {
        if let Some(message) = fatal
            && !self.lineless_failure
        {
            self.read.failures.push(Failure::Error {
                line: None,
                message: message.to_owned(),
            });
            let outcome = Outcome::Error {
                kind: "connection".into(),
                message: message.to_owned(),
            };
            self.case(None, Some("connect".into()), None, outcome);
        }
        if let Some(code) = exit
            && code != 0
            && self.read.failed_cases() == 0
        {
            let message = format!("the run failed (exit code {code})");
            self.read.failures.push(Failure::Error {
                line: None,
                message: message.clone(),
            });
            let outcome = Outcome::Error {
                kind: "run".into(),
                message,
            };
            self.case(None, Some("run".into()), None, outcome);
        }
        self.read
    }
}

/// Field `k` of a record as text, or empty.
fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(script: &str, records: &[&str], fail: bool, exit: u8) -> Read {
        let mut r = Reader::new(
            "t.phx",
            Reader::numbered(script),
            fail,
            SystemTime::UNIX_EPOCH,
        );
        for rec in records {
            r.record(rec);
        }
        r.finish(Some(exit), None)
    }

    #[test]
    fn passes_and_failures_become_named_cases_with_times() {
        let script = "join room:lobby\nexpect ok {\"a\":1}\nwait room:lobby shout\nlet x = .y\n";
        let r = read(
            script,
            &[
                r#"{"type":"info","time":"1970-01-01T00:00:01.000Z","event":"expect_passed","line":2,"expected":"ok {\"a\":1}"}"#,
                r#"{"type":"error","time":"1970-01-01T00:00:03.500Z","message":"no shout came","line":3}"#,
                r#"{"type":"error","time":"1970-01-01T00:00:03.500Z","message":"`.y` finds nothing","line":4}"#,
                r#"{"type":"summary","time":"1970-01-01T00:00:04.000Z","expectations":{"passed":1,"failed":1}}"#,
            ],
            false,
            1,
        );
        assert_eq!(r.cases.len(), 3);
        assert_eq!(r.cases[0].name, "line 2: expect ok {\"a\":1}");
        assert_eq!(r.cases[0].time, Duration::from_secs(1));
        assert_eq!(r.cases[1].time, Duration::from_millis(2500));
        assert!(matches!(&r.cases[1].outcome, Outcome::Failed { kind, .. } if kind == "wait"));
        assert!(matches!(&r.cases[2].outcome, Outcome::Error { kind, .. } if kind == "let"));
        assert_eq!(r.expectations, Some((1, 1)));
    }

    #[test]
    fn a_failed_run_is_never_green() {
        let r = read("join x\n", &[], false, 1);
        assert_eq!(r.failed_cases(), 1);
        let mut reader = Reader::new("t.phx", BTreeMap::new(), false, SystemTime::UNIX_EPOCH);
        reader.record("not json");
        let r = reader.finish(Some(3), Some("could not connect"));
        assert_eq!(r.cases[0].name, "connect");
        assert_eq!(r.failed_cases(), 1);
    }

    #[test]
    fn error_replies_count_only_under_fail() {
        let reply = r#"{"type":"reply","time":"1970-01-01T00:00:01.000Z","topic":"r","status":"error","response":{"reason":"no"},"request":"push"}"#;
        assert!(read("", &[reply], false, 0).cases.is_empty());
        let r = read("", &[reply], true, 1);
        assert_eq!(r.cases[0].name, "reply to push on r");
        assert!(
            matches!(&r.cases[0].outcome, Outcome::Failed { got, .. } if got == "error {\"reason\":\"no\"}")
        );
    }

    #[test]
    fn a_gql_error_after_its_error_reply_is_one_case_named_by_its_line() {
        let reply = r#"{"type":"reply","time":"1970-01-01T00:00:01.000Z","topic":"__absinthe__:control","status":"error","response":{"errors":[]},"request":"doc"}"#;
        let gql = r#"{"type":"gql_result","time":"1970-01-01T00:00:01.000Z","line":1,"name":"nosuch","status":"error","errors":[{"message":"no"}]}"#;
        let r = read("gql { nosuch }\n", &[reply, gql], true, 1);
        assert_eq!(r.cases.len(), 1);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.cases[0].name, "line 1: gql { nosuch }");
    }
}

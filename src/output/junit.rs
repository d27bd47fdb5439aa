//! The JUnit XML report (`--junit FILE`): its types and their writing
//! into a `String`, which the caller saves.
//!
//! The shape is the one GitHub Actions, GitLab and Jenkins read, checked in
//! the tests against the Jenkins xunit plugin's `junit-10.xsd` kept in
//! `tests/data/`: `<testsuites>` with totals, one `<testsuite>` per script
//! file, one `<testcase>` per checked line, and a `<failure>`, `<error>` or
//! `<skipped>` inside a case that did not pass. Text from scripts and
//! servers is escaped, and characters XML 1.0 forbids (control characters
//! other than tab, newline and carriage return, U+FFFE and U+FFFF) are
//! written as `\u{…}`, so the file always parses.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// A whole report: one suite per script file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The name on `<testsuites>`, such as `phx-repl`.
    pub name: String,
    pub suites: Vec<Suite>,
}

/// One script file's results.
#[derive(Debug, Clone)]
pub struct Suite {
    /// What the file is called in the report (usually its path).
    pub name: String,
    /// The script file's path.
    pub file: String,
    /// When the file started running.
    pub timestamp: SystemTime,
    /// How long the whole file took.
    pub time: Duration,
    pub cases: Vec<Case>,
    /// What the run printed, if the caller keeps it.
    pub system_out: Option<String>,
}

/// One checked line.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `line N: TEXT`.
    pub name: String,
    /// The script file.
    pub classname: String,
    pub time: Duration,
    pub outcome: Outcome,
}

/// How a line turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// A check that did not hold: an `expect`, `wait` or `refute` that
    /// failed, or a reply that never came.
    Failed {
        /// What kind of check (`expect`, `wait`, `refute`, `timeout`…),
        /// the `type` attribute.
        kind: String,
        message: String,
        expected: String,
        got: String,
    },
    /// A line that could not run at all: a bad line, a failed `let`, a
    /// refused connection.
    Error {
        kind: String,
        message: String,
    },
    /// A line not run (after `--bail` stopped the file).
    Skipped {
        message: String,
    },
}

impl Case {
    /// A case for line `line` of `file`, named by its number and text.
    pub fn line(file: &str, line: usize, text: &str, time: Duration, outcome: Outcome) -> Case {
        Case {
            name: format!("line {line}: {}", text.trim()),
            classname: file.to_owned(),
            time,
            outcome,
        }
    }
}

/// A suite's or a report's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }
}

impl Suite {
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            tests: self.cases.len(),
            ..Totals::default()
        };
        for case in &self.cases {
            match case.outcome {
                Outcome::Passed => {}
                Outcome::Failed { .. } => t.failures += 1,
                Outcome::Error { .. } => t.errors += 1,
                Outcome::Skipped { .. } => t.skipped += 1,
            }
        }
        t
    }

    fn write(&self, out: &mut String) {
        let t = self.totals();
        out.push_str("  <testsuite name=\"");
        attr(&self.name, out);
        let _ = write!(
            out,
            "\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" file=\"",
            t.tests,
            t.failures,
            t.errors,
            t.skipped,
            seconds(self.time),
            humantime::format_rfc3339_seconds(self.timestamp.max(SystemTime::UNIX_EPOCH)),
        );
        attr(&self.file, out);
        out.push_str("\">\n");
        for case in &self.cases {
            case.write(out);
        }
        if let Some(text) = &self.system_out {
            out.push_str("    <system-out>");
            text_content(text, out);
            out.push_str("</system-out>\n");
        }
        out.push_str("  </testsuite>\n");
    }
}

impl Case {
    fn write(&self, out: &mut String) {
        out.push_str("    <testcase name=\"");
        attr(&self.name, out);
        out.push_str("\" classname=\"");
        attr(&self.classname, out);
        let _ = write!(out, "\" time=\"{}\"", seconds(self.time));
        match &self.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Failed {
                kind,
                message,
                expected,
                got,
            } => {
                let text = format!("expected: {expected}\ngot:      {got}");
                child("failure", Some(kind), message, Some(&text), out);
            }
            Outcome::Error { kind, message } => child("error", Some(kind), message, None, out),
            Outcome::Skipped { message } => child("skipped", None, message, None, out),
        }
    }
}

/// Closes the `<testcase` start tag, writes `<NAME type message>TEXT`
/// inside it and closes the case.
fn child(name: &str, kind: Option<&str>, message: &str, text: Option<&str>, out: &mut String) {
    let _ = write!(out, ">\n      <{name}");
    if let Some(kind) = kind {
        out.push_str(" type=\"");
        attr(kind, out);
        out.push('"');
    }
    out.push_str(" message=\"");
    attr(message, out);
    out.push('"');
    match text {
        Some(text) => {
            out.push('>');
            text_content(text, out);
            let _ = writeln!(out, "</{name}>");
        }
        None => out.push_str("/>\n"),
    }
    out.push_str("    </testcase>\n");
}

impl Report {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.suites {
            t.add(s.totals());
        }
        t
    }

    /// The XML document, declaration first.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Appends the XML document to `out`.
    pub fn write(&self, out: &mut String) {
        let t = self.totals();
        let time: Duration = self.suites.iter().map(|s| s.time).sum();
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
        attr(&self.name, out);
        // `junit-10.xsd` has no `skipped` on `<testsuites>`; each suite
        // carries its own.
        let _ = writeln!(
            out,
            "\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
            t.tests,
            t.failures,
            t.errors,
            seconds(time)
        );
        for suite in &self.suites {
            suite.write(out);
        }
        out.push_str("</testsuites>\n");
    }
}

/// Seconds with three decimals, as JUnit readers expect: `1.250`.
fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Whether XML 1.0 allows `c` at all (its `Char` production).
fn xml_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes for element text. A forbidden character is written as
/// `\u{…}` text so that the report still shows something was there.
fn text_content(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // Only needed in `]]>`, but always escaping it is simpler.
            '>' => out.push_str("&gt;"),
            // A bare CR would be read back as a newline.
            '\r' => out.push_str("&#13;"),
            c if !xml_allows(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Escapes for a double-quoted attribute value. Tab, newline and CR are
/// written as character references, since a parser turns literal ones
/// into spaces.
fn attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => text_content(c.encode_utf8(&mut [0; 4]), out),
        }
    }
}

/// Checks that a report can be written to `path` before a run starts,
/// without emptying a report already there: an interrupted run then
/// leaves the last report (or none), never an empty file.
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn failed(expected: &str, got: &str) -> Outcome {
        Outcome::Failed {
            kind: "expect".into(),
            message: "expected ok, got error".into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// Two files: one all green, one with every outcome and hostile text.
    fn sample() -> Report {
        let a = "smoke/a.phx";
        let b = "smoke/b \"&<>\".phx";
        Report {
            name: "phx-repl".into(),
            suites: vec![
                Suite {
                    name: a.into(),
                    file: a.into(),
                    timestamp: at(1_700_000_000),
                    time: Duration::from_millis(1250),
                    cases: vec![Case::line(
                        a,
                        3,
                        "  expect ok {\"joined\":true}",
                        Duration::from_micros(1500),
                        Outcome::Passed,
                    )],
                    system_out: None,
                },
                Suite {
                    name: b.into(),
                    file: b.into(),
                    timestamp: at(1_700_000_002),
                    time: Duration::from_secs(2),
                    cases: vec![
                        Case::line(
                            b,
                            1,
                            "wait room:a shout {\"x\":\"<]]>\"}",
                            Duration::ZERO,
                            Outcome::Passed,
                        ),
                        Case::line(
                            b,
                            2,
                            "expect ok {\"a\":1}",
                            Duration::from_millis(7),
                            failed("ok {\"a\":1}", "error {\"a\":\"\u{1b}[2J\u{0}\r\"}"),
                        ),
                        Case::line(
                            b,
                            3,
                            "let id = .x y",
                            Duration::ZERO,
                            Outcome::Error {
                                kind: "let".into(),
                                message: "bad\tpath\n`.x y`\u{7}\u{fffe}".into(),
                            },
                        ),
                        Case::line(
                            b,
                            4,
                            "refute room:a shout",
                            Duration::ZERO,
                            Outcome::Skipped {
                                message: "--bail stopped the file".into(),
                            },
                        ),
                    ],
                    system_out: Some("← room:a push shout {\"a\":1}\n\u{8}done".into()),
                },
            ],
        }
    }

    #[test]
    fn totals_count_each_outcome() {
        let r = sample();
        assert_eq!(
            r.totals(),
            Totals {
                tests: 5,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
        assert_eq!(r.suites[0].totals().failures, 0);
    }

    #[test]
    fn writes_the_junit_shape() {
        let xml = sample().to_xml();
        let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="phx-repl" tests="5" failures="1" errors="1" time="3.250">
  <testsuite name="smoke/a.phx" tests="1" failures="0" errors="0" skipped="0" time="1.250" timestamp="2023-11-14T22:13:20Z" file="smoke/a.phx">
    <testcase name="line 3: expect ok {&quot;joined&quot;:true}" classname="smoke/a.phx" time="0.002"/>
  </testsuite>
  <testsuite name="smoke/b &quot;&amp;&lt;&gt;&quot;.phx" tests="4" failures="1" errors="1" skipped="1" time="2.000" timestamp="2023-11-14T22:13:22Z" file="smoke/b &quot;&amp;&lt;&gt;&quot;.phx">
    <testcase name="line 1: wait room:a shout {&quot;x&quot;:&quot;&lt;]]&gt;&quot;}" classname="smoke/b &quot;&amp;&lt;&gt;&quot;.phx" time="0.000"/>
    <testcase name="line 2: expect ok {&quot;a&quot;:1}" classname="smoke/b &quot;&amp;&lt;&gt;&quot;.phx" time="0.007">
      <failure type="expect" message="expected ok, got error">expected: ok {"a":1}
got:      error {"a":"\u{1b}[2J\u{0}&#13;"}</failure>
    </testcase>
    <testcase name="line 3: let id = .x y" classname="smoke/b &quot;&amp;&lt;&gt;&quot;.phx" time="0.000">
      <error type="let" message="bad&#9;path&#10;`.x y`\u{7}\u{fffe}"/>
    </testcase>
    <testcase name="line 4: refute room:a shout" classname="smoke/b &quot;&amp;&lt;&gt;&quot;.phx" time="0.000">
      <skipped message="--bail stopped the file"/>
    </testcase>
    <system-out>← room:a push shout {"a":1}
\u{8}done</system-out>
  </testsuite>
</testsuites>
"#;
        for (got, want) in xml.lines().zip(want.lines()) {
            assert_eq!(got, want);
        }
        assert_eq!(xml, want);
    }

    #[test]
    fn an_empty_report_is_still_a_document() {
        let xml = Report::default().to_xml();
        assert!(xml.ends_with("<testsuites name=\"\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"0.000\">\n</testsuites>\n"));
    }

    #[test]
    fn forbidden_characters_never_reach_the_file() {
        let mut out = String::new();
        let all: String = (0u32..0x110000).filter_map(char::from_u32).collect();
        text_content(&all, &mut out);
        attr(&all, &mut out);
        assert!(out.chars().all(|c| xml_allows(c) && c != '\r'));
    }

    /// The report validates against the Jenkins/Ant JUnit schema kept in
    /// the repository, with a real validator. `.ci/run` installs xmllint;
    /// without it this fails rather than passing untested.
    #[test]
    fn validates_against_the_junit_schema() {
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit-10.xsd");
        let dir = tempfile::tempdir().unwrap();
        let empty = Report {
            name: "phx-repl".into(),
            suites: vec![Suite {
                name: "empty.phx".into(),
                file: "empty.phx".into(),
                timestamp: at(0),
                time: Duration::ZERO,
                cases: vec![],
                system_out: Some(String::new()),
            }],
        };
        for (name, report) in [("sample.xml", sample()), ("empty.xml", empty)] {
            let file = dir.path().join(name);
            std::fs::write(&file, report.to_xml()).unwrap();
            let run = Command::new("xmllint")
                .args(["--noout", "--schema", schema])
                .arg(&file)
                .output()
                .expect(
                    "xmllint is needed to check the JUnit report: apt-get install libxml2-utils",
                );
            assert!(
                run.status.success(),
                "{name} does not validate against {schema}:\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
        }
    }

    /// The check itself can fail: a report missing a required attribute
    /// is refused.
    #[test]
    fn the_schema_check_refuses_a_bad_report() {
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit-10.xsd");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.xml");
        let bad = sample().to_xml().replacen(" tests=\"1\"", "", 1);
        std::fs::write(&file, bad).unwrap();
        let run = Command::new("xmllint")
            .args(["--noout", "--schema", schema])
            .arg(&file)
            .output()
            .expect("xmllint is needed to check the JUnit report: apt-get install libxml2-utils");
        assert!(!run.status.success());
    }
}

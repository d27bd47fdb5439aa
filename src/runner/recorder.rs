//! `record FILE` / `--record FILE`: a session written down as a script.
//!
//! Every line run from then on is written as typed (before `${NAME}`
//! substitution, so tokens stay out of the file), and what came back is
//! written under it as `#` comment lines that are themselves commands:
//! `# expect ok {…}` for a reply and `# wait TOPIC EVENT {…}` for a
//! message. Replaying the file runs the same commands; removing the `# `
//! in front of a comment turns what was seen into an assertion. The file is
//! created readable only by its owner, since lines may hold tokens.
//!
//! A LiveView session reads the same way: its view's join reply is not
//! written (the view's id and first render differ on every run), an
//! event's reply is `# expect ok` without the diff (the wire form of the
//! change, not something to assert on), and after `text [SEL]` / `html
//! SEL` comes `# expect text [SEL] "…"` / `# expect html SEL` with what it
//! showed.
//!
//! A `push` that gets no reply (its handler returns `{:noreply, socket}`)
//! is written as `cast`, so the replay does not wait out the timeout for
//! it. Until its reply or timeout says which, the push line and everything
//! after it are held back, then written in order. A reply's `# expect`
//! goes under the push it answers, before any line typed after that push
//! (at the prompt, commands do not wait), so that a replay, which runs
//! each push to its reply, checks each line against its own reply.
//!
//! This file owns the file and its format. What is written and when (which
//! lines, which events, the joins a late recording begins with) is the
//! runner's, in `recording`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::core::endpoint::Redactor;
use crate::output::{display_json, rfc3339};

/// An open recording.
pub struct Recorder {
    path: PathBuf,
    file: BufWriter<File>,
    /// Set after a write error, which is reported once and ends the recording.
    failed: bool,
    /// Secrets to keep out of the file.
    redactor: Redactor,
    /// Text held back behind a push whose fate is not known yet: empty
    /// unless such a push was recorded.
    held: VecDeque<Chunk>,
    /// `@NAME ` of the client whose answers are being written, or empty
    /// for the first client.
    who: String,
    /// `# wait` comments of messages since the last line, kept back so
    /// that the one a typed `wait` then takes can be left out: uncommented,
    /// it would take the message before the typed line could.
    waits: Vec<String>,
}

/// A piece of held-back text.
enum Chunk {
    /// Comments: what came back.
    Text(String),
    /// A line that was run (not a `push`).
    Line(String),
    /// A `push` line; `cast` is `Some` once its reply or timeout came.
    Push {
        id: u64,
        ref_: Option<String>,
        line: String,
        cast: Option<bool>,
    },
}

impl Recorder {
    /// Creates (or truncates) `path` with mode 0600 and writes the header.
    /// `page` is the LiveView page of a `phx-repl live` run, which its
    /// replay must open again.
    pub fn create(path: &Path, url: &str, page: Option<&str>) -> io::Result<Recorder> {
        let mut open = OpenOptions::new();
        open.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let file = open.open(path)?;
        #[cfg(unix)]
        {
            // An existing file keeps its mode on open; tighten it.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let mut rec = Recorder {
            path: path.to_owned(),
            file: BufWriter::new(file),
            failed: false,
            redactor: Redactor::default(),
            held: VecDeque::new(),
            who: String::new(),
            waits: Vec::new(),
        };
        let mut started = String::new();
        rfc3339(SystemTime::now(), &mut started);
        let (opened, replay) = match page {
            Some(page) => (format!("opened the LiveView page {page}"), "live URL"),
            None => (format!("connected to {url}"), "URL"),
        };
        rec.write(&format!(
            "# phx-repl recording, started {started}, {opened}\n\
             # Replay: phx-repl {replay} < {name}   (add --bail to stop at the first failure)\n\
             # `# expect …` and `# wait …` lines are what came back: remove the `# ` to assert them.\n",
            name = path.display()
        ));
        rec.flush()?;
        Ok(rec)
    }

    /// Keeps the secrets `redactor` knows out of everything written from
    /// now on (the header has the URL already redacted).
    pub fn scrubbing(mut self, redactor: Redactor) -> Recorder {
        self.redactor = redactor;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A line that was run, as typed.
    pub fn line(&mut self, text: &str) {
        self.flush_waits();
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\n');
        if self.held.is_empty() {
            self.write_now(&s);
        } else {
            self.held.push_back(Chunk::Line(s));
        }
    }

    /// A `push` line (command `id`), held until it is known whether a
    /// reply came (see [`Recorder::push_ended`]).
    pub fn push_line(&mut self, id: u64, text: &str) {
        self.flush_waits();
        self.held.push_back(Chunk::Push {
            id,
            ref_: None,
            line: text.to_owned(),
            cast: None,
        });
    }

    /// Command `id` went out with `ref_`.
    pub fn push_sent(&mut self, id: u64, ref_: &str) {
        for c in &mut self.held {
            if let Chunk::Push { id: i, ref_: r, .. } = c
                && *i == id
            {
                *r = Some(ref_.to_owned());
            }
        }
    }

    /// The push sent with `ref_` was answered (`timed_out` false) or got
    /// no reply in time (written as `cast`).
    pub fn push_ended(&mut self, ref_: &str, timed_out: bool) {
        self.settle(
            |c| matches!(c, Chunk::Push { ref_: Some(r), .. } if r == ref_),
            timed_out,
        );
    }

    /// The push sent with `ref_` was answered with `status` and
    /// `response`: its `# expect` goes under its own line and what came
    /// back before the reply, ahead of any line typed since.
    /// `response` `None` writes the status alone.
    pub fn push_answered(&mut self, ref_: &str, status: Option<&str>, response: Option<&str>) {
        let expect = expect_line(&self.who, status, response);
        let at = self
            .held
            .iter()
            .position(|c| matches!(c, Chunk::Push { ref_: Some(r), .. } if r == ref_));
        let Some(at) = at else {
            // Not held (a reply to a line that was not a push): in order.
            return self.write(&expect);
        };
        let end = (at + 1..self.held.len())
            .find(|&i| !matches!(self.held[i], Chunk::Text(_)))
            .unwrap_or(self.held.len());
        self.held.insert(end, Chunk::Text(expect));
        self.push_ended(ref_, false);
    }

    /// Command `id` was not sent: its line is written as typed.
    pub fn push_rejected(&mut self, id: u64) {
        self.settle(
            |c| matches!(c, Chunk::Push { id: i, .. } if *i == id),
            false,
        );
    }

    fn settle(&mut self, which: impl Fn(&Chunk) -> bool, as_cast: bool) {
        for c in &mut self.held {
            if which(c)
                && let Chunk::Push { cast, .. } = c
                && cast.is_none()
            {
                *cast = Some(as_cast);
            }
        }
        self.release(false);
    }

    /// Writes the held text up to the first push still undecided (with
    /// `all`, everything, undecided pushes as typed).
    fn release(&mut self, all: bool) {
        while let Some(front) = self.held.front() {
            if !all && matches!(front, Chunk::Push { cast: None, .. }) {
                break;
            }
            let text = match self.held.pop_front().expect("front exists") {
                Chunk::Text(t) | Chunk::Line(t) => t,
                Chunk::Push { line, cast, .. } => {
                    let line = if cast == Some(true) {
                        as_cast(&line)
                    } else {
                        line
                    };
                    line + "\n"
                }
            };
            self.write_now(&text);
        }
    }

    /// Writes everything held and flushes: the recording ends.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush_waits();
        self.release(true);
        self.flush()
    }

    /// What came back from now on is client `name`'s (`None`: the first
    /// client's): its `# expect` and `# wait` lines say `@name`, so they
    /// check that client when uncommented.
    pub fn set_client(&mut self, name: Option<&str>) {
        self.who = name.map(|n| format!("@{n} ")).unwrap_or_default();
    }

    /// Hides the secrets of typed headers from now on (see
    /// `Redactor::learn_headers`).
    pub fn learn_headers(&mut self, headers: &[(String, String)], token: Option<&str>) {
        self.redactor.learn_headers(headers, token);
    }

    /// Hides `value` from now on (see `Redactor::learn`).
    pub fn learn_secret(&mut self, value: &str) {
        self.redactor.learn(value);
    }

    /// The `join` lines of topics joined before the recording started,
    /// written first so that the replay joins them too.
    pub fn joined_before(&mut self, lines: &[&str]) {
        self.write("# joined before the recording started:\n");
        for l in lines {
            self.line(l);
        }
    }

    /// A reply to one of our requests, as the `expect` that would pass
    /// (`response` `None`: on its status alone).
    pub fn reply(&mut self, status: Option<&str>, response: Option<&str>) {
        let line = expect_line(&self.who, status, response);
        self.write(&line);
    }

    /// A message, as the `wait` that would match it.
    pub fn message(&mut self, topic: &str, event: &str, payload: &str) {
        let line = self.wait_comment(topic, event, payload);
        self.waits.push(line);
    }

    fn wait_comment(&self, topic: &str, event: &str, payload: &str) -> String {
        format!(
            "# {}wait {} {} {}\n",
            self.who,
            word(topic),
            word(event),
            one_line(payload)
        )
    }

    /// A typed `wait` line that took the message `topic event payload`
    /// (if any): that message's `# wait` comment is left out, the others
    /// go first, then the line.
    pub fn wait_line(&mut self, text: &str, took: Option<(&str, &str, &str)>) {
        if let Some((topic, event, payload)) = took {
            let comment = self.wait_comment(topic, event, payload);
            if let Some(i) = self.waits.iter().rposition(|c| *c == comment) {
                self.waits.remove(i);
            }
        }
        self.line(text);
    }

    /// Writes the `# wait` comments kept back.
    fn flush_waits(&mut self) {
        for c in std::mem::take(&mut self.waits) {
            self.write(&c);
        }
    }

    /// A check that holds now (`expect text h1 "Count: 1"`), as a
    /// comment, under the line that showed what it checks.
    pub fn check(&mut self, command: &str) {
        let line = format!("# {}{}\n", self.who, one_line(command));
        self.write(&line);
    }

    /// Anything else worth a note (a timeout, a crash).
    pub fn note(&mut self, text: &str) {
        let line = format!("# {}\n", crate::output::excerpt(text, 500));
        self.write(&line);
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// Whether a write has failed (the caller reports it and stops).
    pub fn failed(&self) -> bool {
        self.failed
    }

    fn write(&mut self, s: &str) {
        if !self.waits.is_empty() {
            // What came before goes first.
            self.flush_waits();
        }
        if self.held.is_empty() {
            return self.write_now(s);
        }
        match self.held.back_mut() {
            Some(Chunk::Text(t)) => t.push_str(s),
            _ => self.held.push_back(Chunk::Text(s.to_owned())),
        }
    }

    fn write_now(&mut self, s: &str) {
        let s = self.redactor.scrub(s);
        if !self.failed && self.file.write_all(s.as_bytes()).is_err() {
            self.failed = true;
        }
    }
}

impl Drop for Recorder {
    /// A recording dropped without [`Recorder::finish`] (a write error,
    /// a fatal end) still gets the lines it held back.
    fn drop(&mut self) {
        self.release(true);
    }
}

/// The `# expect` comment for a reply.
fn expect_line(who: &str, status: Option<&str>, response: Option<&str>) -> String {
    let status = status.unwrap_or("(no status)");
    match response {
        Some(r) => format!("# {who}expect {status} {}\n", one_line(r)),
        None => format!("# {who}expect {status}\n"),
    }
}

/// The `expect` that holds on what `text [SELECTOR]` (`html` false) or
/// `html SELECTOR` just showed: `matches` is what it printed, `page_text`
/// the page's whole text (what `expect text "…"` without a selector looks
/// in). `None` when nothing matched, or for `html` without a selector
/// (`expect html` needs one).
pub fn shown_check(
    html: bool,
    selector: Option<&str>,
    matches: &[String],
    page_text: impl FnOnce() -> String,
) -> Option<String> {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    // A selector with a space or a quote is one argument only quoted.
    let sel = |s: &str| {
        if s.is_empty() || s.contains(char::is_whitespace) || s.starts_with('"') {
            quote(s)
        } else {
            s.to_owned()
        }
    };
    match (html, selector) {
        (true, None) => None,
        (true, Some(s)) => (!matches.is_empty()).then(|| format!("expect html {}", sel(s))),
        (false, None) => {
            let text = page_text();
            let text = text.trim();
            (!text.is_empty()).then(|| format!("expect text {}", quote(text)))
        }
        (false, Some(s)) => {
            // `expect text SEL "T"` holds when any match contains T.
            let first = matches.iter().map(|m| m.trim()).find(|m| !m.is_empty())?;
            Some(format!("expect text {} {}", sel(s), quote(first)))
        }
    }
}

/// A typed `push`/`send` line with `cast` as its command word.
fn as_cast(line: &str) -> String {
    // After an `@NAME ` prefix, if any.
    let mut start = line.len() - line.trim_start().len();
    if line[start..].starts_with('@')
        && let Some(space) = line[start..].find(char::is_whitespace)
    {
        let after = &line[start + space..];
        start += space + (after.len() - after.trim_start().len());
    }
    let rest = &line[start..];
    let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
    format!("{}cast{}", &line[..start], &rest[word..])
}

/// A payload on one safe line.
fn one_line(json: &str) -> String {
    display_json(json).into_owned()
}

/// A topic or event as one word (control characters and spaces escaped).
fn word(s: &str) -> String {
    crate::output::clean(s).replace(' ', "\\u0020")
}

/// Expands a leading `~/` (typed at the prompt, where no shell does it).
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let home = Path::new("/home/ana");
        assert_eq!(
            expand_home("~/s.phx", Some(home)),
            PathBuf::from("/home/ana/s.phx")
        );
        assert_eq!(expand_home("s.phx", Some(home)), PathBuf::from("s.phx"));
        assert_eq!(expand_home("~/s.phx", None), PathBuf::from("~/s.phx"));
    }

    #[test]
    fn a_push_line_of_another_client_becomes_a_cast_line() {
        assert_eq!(
            as_cast("@bob push room:1 new_msg {}"),
            "@bob cast room:1 new_msg {}"
        );
    }

    #[test]
    fn a_push_line_becomes_a_cast_line() {
        assert_eq!(
            as_cast("push room:lobby new_msg body=hi"),
            "cast room:lobby new_msg body=hi"
        );
        assert_eq!(as_cast("  send t e"), "  cast t e");
    }

    #[test]
    fn text_after_an_undecided_push_waits_for_it() {
        let dir = std::env::temp_dir().join(format!("phx-rec-{}", std::process::id()));
        let mut rec = Recorder::create(&dir, "ws://x", None).unwrap();
        rec.push_line(1, "push t shout");
        rec.push_sent(1, "5");
        rec.message("t", "shout", "{}");
        rec.line("push t echo");
        rec.push_ended("5", true);
        rec.finish().unwrap();
        let text = std::fs::read_to_string(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert!(
            text.ends_with("cast t shout\n# wait t shout {}\npush t echo\n"),
            "{text}"
        );
    }

    #[test]
    fn each_expect_goes_under_the_push_it_answers() {
        let dir = std::env::temp_dir().join(format!("phx-rec-order-{}", std::process::id()));
        let mut rec = Recorder::create(&dir, "ws://x", None).unwrap();
        rec.push_line(1, "push t slow");
        rec.push_sent(1, "2");
        rec.message("t", "tick", "{}");
        rec.push_line(3, "push t echo");
        rec.push_sent(3, "4");
        rec.line("join u");
        rec.reply(Some("ok"), Some("{}"));
        rec.push_line(5, "push t last");
        rec.push_sent(5, "6");
        // The echo's reply first, then the slow one's, then the last's.
        rec.push_answered("4", Some("ok"), Some("{\"q\":1}"));
        rec.push_answered("2", Some("ok"), Some("{\"ms\":300}"));
        rec.push_answered("6", Some("error"), None);
        rec.finish().unwrap();
        let text = std::fs::read_to_string(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        let body: Vec<&str> = text.lines().skip(3).collect();
        assert_eq!(
            body,
            [
                "push t slow",
                "# wait t tick {}",
                "# expect ok {\"ms\":300}",
                "push t echo",
                "# expect ok {\"q\":1}",
                "join u",
                "# expect ok {}",
                "push t last",
                "# expect error",
            ],
            "{text}"
        );
    }

    #[test]
    fn what_text_and_html_showed_becomes_an_expect_that_holds() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = || String::new();
        assert_eq!(
            shown_check(false, Some("h1"), &m(&["", " Count: 7 "]), none).as_deref(),
            Some("expect text h1 \"Count: 7\"")
        );
        assert_eq!(
            shown_check(false, Some("ul li"), &m(&["say \"hi\""]), none).as_deref(),
            Some("expect text \"ul li\" \"say \\\"hi\\\"\"")
        );
        assert_eq!(shown_check(false, Some("h2"), &[], none), None);
        assert_eq!(
            shown_check(false, None, &m(&["Count: 7"]), || " Count: 7 Ticks: 0 "
                .into())
            .as_deref(),
            Some("expect text \"Count: 7 Ticks: 0\"")
        );
        assert_eq!(
            shown_check(true, Some("h1"), &m(&["<h1>x</h1>"]), none).as_deref(),
            Some("expect html h1")
        );
        assert_eq!(shown_check(true, Some("h1"), &[], none), None);
        assert_eq!(shown_check(true, None, &m(&["<p>"]), none), None);
    }

    #[test]
    fn payloads_stay_on_one_line() {
        assert_eq!(one_line("{\n  \"a\": 1\n}"), "{  \"a\": 1}");
        assert_eq!(word("room lobby"), "room\\u0020lobby");
    }
}

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
//! This file owns the file and its format. What is written and when (which
//! lines, which events, the joins a late recording begins with) is the
//! runner's, in `recording`.

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
}

impl Recorder {
    /// Creates (or truncates) `path` with mode 0600 and writes the header.
    pub fn create(path: &Path, url: &str) -> io::Result<Recorder> {
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
        };
        let mut started = String::new();
        rfc3339(SystemTime::now(), &mut started);
        rec.write(&format!(
            "# phx-repl recording, started {started}, connected to {url}\n\
             # Replay: phx-repl URL < {name}   (add --bail to stop at the first failure)\n\
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
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\n');
        self.write(&s);
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

    /// A reply to one of our requests, as the `expect` that would pass.
    pub fn reply(&mut self, status: Option<&str>, response: &str) {
        let status = status.unwrap_or("(no status)");
        let line = format!("# expect {status} {}\n", one_line(response));
        self.write(&line);
    }

    /// A message, as the `wait` that would match it.
    pub fn message(&mut self, topic: &str, event: &str, payload: &str) {
        let line = format!(
            "# wait {} {} {}\n",
            word(topic),
            word(event),
            one_line(payload)
        );
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
        let s = self.redactor.scrub(s);
        if !self.failed && self.file.write_all(s.as_bytes()).is_err() {
            self.failed = true;
        }
    }
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
    fn payloads_stay_on_one_line() {
        assert_eq!(one_line("{\n  \"a\": 1\n}"), "{  \"a\": 1}");
        assert_eq!(word("room lobby"), "room\\u0020lobby");
    }
}

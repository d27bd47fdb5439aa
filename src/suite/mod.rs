//! `phx-repl test FILE|DIR|GLOB…`: script files run as tests, for CI.
//!
//! Each file runs in a child process of this executable (`child`), so it
//! has a fresh connection, its own `let` values and its own tally; the
//! files to run are `files`'. The child's `--json` records are read back
//! with `runner::report`'s converter, the same one a normal `--junit`
//! run uses, into a line per file (and its failures), a total, and the
//! JUnit report. With `--jobs N` up to N files run at once; each file's
//! output is printed whole when it finishes, in the order they finish.
//!
//! This layer sits above `runner`; `main` starts the built-in server when
//! no URL is given and hands its URL here.

mod child;
mod files;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use colored::Colorize;

use crate::core::protocol::Vsn;
use crate::output::junit::{Report, Suite};
use crate::output::records::{self, Summary, SummaryExpectations, SummaryReplies};
use crate::output::{Display, Expectation, Style};
use crate::runner::report::{Failure, Read, Reader};
use child::{FileRun, Plan};

pub use files::glob_match;

/// Why `test` could not run its files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments name no file, or one that cannot be read: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The report could not be written, or a child could not start.
    #[error("{0}")]
    Failed(String),
}

/// What `phx-repl test` was asked to do (`cli` builds it from the flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Files, directories and globs.
    pub paths: Vec<String>,
    /// `--jobs N`; one after another without it.
    pub jobs: Option<usize>,
    pub bail: bool,
    pub junit: Option<PathBuf>,
    pub json: bool,
    pub fail: bool,
    /// Flags passed on to each file's run as they go on its command
    /// line (`--timeout`, `0.5`, …); `--fail` and `--bail` come from above.
    pub pass: Vec<String>,
    /// Passed on in the child's environment.
    pub auth_token: Option<String>,
}

/// Exit code when no file could connect at all.
const EXIT_NO_CONNECTION: u8 = 3;

/// A script to run: its path as shown, and its lines.
struct Script {
    path: String,
    text: String,
}

/// Runs the files against `url`; the exit code: 0 all passed, 1 one
/// failed, 3 none could connect.
pub fn run(args: &Options, url: &str) -> Result<u8, Error> {
    let scripts = files::collect(&args.paths)?
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| {
                Error::Usage(format!("cannot read the script `{}`: {e}", p.display()))
            })?;
            Ok(Script {
                path: p.display().to_string(),
                text,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if let Some(path) = &args.junit {
        // Found unwritable now, not after the whole run.
        crate::output::junit::check_writable(path).map_err(|e| junit_error(path, &e))?;
    }
    let plan = Plan::new(url, args)
        .map_err(|e| Error::Failed(format!("cannot find this executable to run the files: {e}")))?;
    let mut shown = Shown::new(args);
    let mut reads: Vec<Option<(FileRun, Read)>> = (0..scripts.len()).map(|_| None).collect();
    let jobs = args.jobs.unwrap_or(1).min(scripts.len()).max(1);
    run_all(&plan, &scripts, jobs, args.bail, |run| {
        let script = &scripts[run.index];
        let read = read(script, &run, args.fail);
        shown.file(script, &run, &read);
        let index = run.index;
        reads[index] = Some((run, read));
    });
    let done: Vec<(&Script, &FileRun, &Read)> = scripts
        .iter()
        .zip(&reads)
        .filter_map(|(s, r)| r.as_ref().map(|(run, read)| (s, run, read)))
        .collect();
    shown.total(&done, scripts.len());
    if let Some(path) = &args.junit {
        let report = Report {
            name: "phx-repl".into(),
            suites: done
                .iter()
                .map(|(s, run, read)| suite(s, run, read))
                .collect(),
        };
        std::fs::write(path, report.to_xml()).map_err(|e| junit_error(path, &e))?;
    }
    let failed = done.iter().any(|(_, run, _)| !run.passed());
    let none_connected = !done.is_empty()
        && done
            .iter()
            .all(|(_, run, _)| run.code == Some(EXIT_NO_CONNECTION.into()));
    Ok(if none_connected {
        EXIT_NO_CONNECTION
    } else {
        u8::from(failed)
    })
}

fn junit_error(path: &Path, e: &io::Error) -> Error {
    Error::Usage(format!(
        "cannot write the JUnit report `{}`: {e}",
        path.display()
    ))
}

/// Runs the files on `jobs` threads, calling `done` for each as it
/// finishes; once one has failed, `bail` starts no more.
fn run_all(
    plan: &Plan,
    scripts: &[Script],
    jobs: usize,
    bail: bool,
    mut done: impl FnMut(FileRun),
) {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(script) = scripts.get(i) else {
                        break;
                    };
                    let run = plan.run(i, &script.path);
                    // Here, not when the result is printed: the next
                    // file must not start after a failure.
                    if bail && !run.passed() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    if tx.send(run).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for run in rx {
            done(run);
        }
    });
}

/// A file's records, read into cases and failures.
fn read(script: &Script, run: &FileRun, fail: bool) -> Read {
    let mut reader = Reader::new(
        &script.path,
        Reader::numbered(&script.text),
        fail,
        run.started,
    );
    for line in run.stdout.lines() {
        reader.record(line);
    }
    let exit = run.code.map(|c| u8::try_from(c).unwrap_or(1)).or(Some(1));
    let fatal = if run.code == Some(0) {
        None
    } else {
        run.fatal()
    };
    reader.finish(exit, fatal)
}

fn suite(script: &Script, run: &FileRun, read: &Read) -> Suite {
    read.suite(&script.path, run.started, run.elapsed)
}

/// `(passed, failed)` for a file's line: its expectations, and its other
/// failing cases (bad lines, errors) as failures too.
fn counts(read: &Read) -> (usize, usize) {
    let (passed, failed) = read.expectations.unwrap_or((0, 0));
    (passed, failed.max(read.failed_cases()))
}

/// What is printed: human lines, or the children's records with `file`.
struct Shown {
    json: bool,
    style: Style,
    out: io::Stdout,
}

impl Shown {
    fn new(args: &Options) -> Shown {
        Shown {
            json: args.json,
            style: Style {
                json: false,
                dim_sent: false,
                at_prompt: false,
                show_heartbeats: false,
                display: Display::PLAIN,
                vsn: Vsn::V2,
            },
            out: io::stdout(),
        }
    }

    /// Writes `text` whole; a closed stdout is no reason to stop the run.
    fn write(&mut self, text: &str) {
        let mut out = self.out.lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn file(&mut self, script: &Script, run: &FileRun, read: &Read) {
        let text = if self.json {
            json_file(&script.path, run)
        } else {
            self.human_file(&script.path, run, read)
        };
        self.write(&text);
    }

    /// `✓ smoke/join.phx  4 passed  (0.21 s)`, and under a failed file
    /// its failures as a script run shows them.
    fn human_file(&self, path: &str, run: &FileRun, read: &Read) -> String {
        let (passed, failed) = counts(read);
        let time = format!("({:.2} s)", run.elapsed.as_secs_f64());
        let mut s = if run.passed() {
            format!("{} {path}  {passed} passed  {time}\n", "✓".green())
        } else if run.code == Some(EXIT_NO_CONNECTION.into()) && read.expectations.is_none() {
            format!("{} {path}  could not connect  {time}\n", "✗".red())
        } else {
            format!(
                "{} {path}  {failed} failed, {passed} passed  {time}\n",
                "✗".red()
            )
        };
        if run.passed() {
            return s;
        }
        let mut lines = String::new();
        for f in &read.failures {
            self.failure(f, &mut lines);
        }
        for l in lines.lines() {
            s.push_str("  ");
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    fn failure(&self, f: &Failure, out: &mut String) {
        match f {
            Failure::Expect {
                line,
                message,
                expected,
                got,
                detail,
            } => self.style.expectation(
                &Expectation {
                    passed: false,
                    summary: message,
                    expected,
                    got,
                    detail: detail.as_deref(),
                    line: *line,
                },
                out,
            ),
            Failure::Timeout { line, message } => {
                let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
                out.push_str(&format!("{} {at}{message}\n", "timeout:".red().bold()));
            }
            Failure::Error { line, message } => self.style.error(message, *line, out),
        }
    }

    /// `3 files: 2 passed, 1 failed; expectations: 9 passed, 1 failed`.
    fn total(&mut self, done: &[(&Script, &FileRun, &Read)], all: usize) {
        if self.json {
            return;
        }
        let ok = done.iter().filter(|(_, r, _)| r.passed()).count();
        let (mut passed, mut failed) = (0, 0);
        for (_, _, read) in done {
            // The files' own counts, so that the total adds them up.
            let (p, f) = counts(read);
            passed += p;
            failed += f;
        }
        let files = if done.len() == 1 { "file" } else { "files" };
        let mut text = format!(
            "{} {files}: {ok} passed, {} failed; expectations: {passed} passed, {failed} failed\n",
            done.len(),
            done.len() - ok
        );
        if done.len() < all {
            text.push_str(&format!(
                "stopped at the first failing file (--bail): {} not run\n",
                all - done.len()
            ));
        }
        self.write(&text);
    }
}

/// A file's records with `file` added, ending with its summary (made up
/// when the file could not connect and so printed none).
fn json_file(path: &str, run: &FileRun) -> String {
    let mut out = String::new();
    let mut summary = false;
    let mut error = false;
    for line in run.stdout.lines().filter(|l| l.starts_with('{')) {
        summary |= line.starts_with("{\"type\":\"summary\"");
        error |= line.starts_with("{\"type\":\"error\"");
        out.push_str(&with_file(line, path));
        out.push('\n');
    }
    if !summary {
        let mut rec = String::new();
        if !error && let Some(message) = run.fatal() {
            records::push(
                &mut rec,
                &records::Error {
                    message,
                    line: None,
                },
            );
            out.push_str(&with_file(&rec, path));
            out.push('\n');
            rec.clear();
        }
        let exit = run.code.map(|c| u8::try_from(c).unwrap_or(1)).unwrap_or(1);
        records::push(&mut rec, &empty_summary(exit));
        out.push_str(&with_file(&rec, path));
        out.push('\n');
    }
    out
}

fn empty_summary(exit: u8) -> Summary {
    Summary {
        commands: 0,
        replies: SummaryReplies {
            ok: 0,
            error: 0,
            timed_out: 0,
            unanswered: 0,
        },
        expectations: SummaryExpectations {
            passed: 0,
            failed: 0,
        },
        clients: None,
        latency_ms: None,
        frames: None,
        exit_code: Some(exit),
    }
}

/// `record` with `"file"` after its `type` and `time`, where every
/// record starts (see `records::push`).
fn with_file(record: &str, file: &str) -> String {
    let quoted = serde_json::to_string(file).unwrap_or_else(|_| "\"\"".to_owned());
    let field = format!(",\"file\":{quoted}");
    const TIME: &str = ",\"time\":\"";
    let at = record.find(TIME).and_then(|i| {
        let from = i + TIME.len();
        record[from..].find('"').map(|j| from + j + 1)
    });
    match at {
        Some(i) => format!("{}{field}{}", &record[..i], &record[i..]),
        None if record.starts_with('{') && record.len() > 2 => {
            format!("{{{},{}", &field[1..], &record[1..])
        }
        None => record.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_goes_after_type_and_time() {
        assert_eq!(
            with_file(
                r#"{"type":"summary","time":"2026-01-01T00:00:00.000Z","commands":1}"#,
                "a \"b\".phx"
            ),
            r#"{"type":"summary","time":"2026-01-01T00:00:00.000Z","file":"a \"b\".phx","commands":1}"#
        );
        assert_eq!(with_file(r#"{"x":1}"#, "f"), r#"{"file":"f","x":1}"#);
    }
}

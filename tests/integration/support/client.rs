//! The client under test: [`Script`] builds its command line and stdin,
//! then either runs it to the end or starts it ([`Running`]) so a test can
//! read its lines and type more while it runs. Both kill the client at the
//! deadline and fail with everything it printed.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{DEADLINE, Home, Output, Server, command, drain, text, wait_with_deadline};

/// The client command builder: a URL (or none, for the built-in server),
/// arguments and a script on stdin.
pub struct Script {
    url: Option<String>,
    args: Vec<OsString>,
    stdin: String,
    deadline: Duration,
    home: Home,
    /// Pass `--quiet` (the default), so stderr holds only what a test is about.
    quiet: bool,
    env: Vec<(String, String)>,
}

impl Script {
    /// A client of `server`.
    pub fn new(server: &Server) -> Script {
        Script::with_url(&server.url)
    }

    /// A client given `url` exactly as typed.
    pub fn with_url(url: &str) -> Script {
        let mut s = Script::without_url();
        s.url = Some(url.to_owned());
        s
    }

    /// A client with no URL: it starts the built-in server in-process.
    pub fn without_url() -> Script {
        Script {
            url: None,
            args: Vec::new(),
            stdin: String::new(),
            deadline: DEADLINE,
            home: Home::new(),
            quiet: true,
            env: Vec::new(),
        }
    }

    /// Leaves out `--quiet`, so a piped run ends with its summary line.
    pub fn with_summary(mut self) -> Script {
        self.quiet = false;
        self
    }

    /// Sets an environment variable for the client.
    pub fn env(mut self, key: &str, value: &str) -> Script {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Script {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Script
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The script piped to the client.
    pub fn stdin(mut self, script: &str) -> Script {
        self.stdin = script.to_owned();
        self
    }

    fn command(&self) -> Command {
        let mut cmd = command(&self.home);
        if let Some(url) = &self.url {
            cmd.arg(url);
        }
        cmd.args(&self.args);
        if self.quiet {
            cmd.arg("--quiet");
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Describes the command line, for failure messages.
    fn describe(&self) -> String {
        let mut s = String::from("phx-repl");
        for a in self.url.iter().map(OsString::from).chain(self.args.clone()) {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Runs to completion (or the deadline, which fails the test).
    pub fn run(self) -> Output {
        let started = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the client");
        let mut stdin = child.stdin.take().expect("client stdin");
        let script = self.stdin.clone();
        let writer = thread::spawn(move || {
            // The client may exit before reading everything (e.g. after a
            // dropped connection): a broken pipe here is not a failure.
            let _ = stdin.write_all(script.as_bytes());
        });
        let (stdout, out_reader) = drain(child.stdout.take().expect("client stdout"));
        let (stderr, err_reader) = drain(child.stderr.take().expect("client stderr"));
        let status = wait_with_deadline(&mut child, self.deadline);
        let _ = writer.join();
        let _ = out_reader.join();
        let _ = err_reader.join();
        let output = Output {
            command: self.describe(),
            stdin: self.stdin.clone(),
            code: None,
            stdout: text(&stdout),
            stderr: text(&stderr),
            elapsed: started.elapsed(),
        };
        match status {
            Ok(status) => Output {
                code: status.code(),
                ..output
            },
            Err(after) => panic!(
                "the client was still running after {after:?} and was killed\n{}",
                output.report()
            ),
        }
    }

    /// Starts the client and returns at once, with stdin left open: for
    /// tests where something must happen while it runs.
    pub fn spawn(self) -> Running {
        let started = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the client");
        let mut stdin = child.stdin.take().expect("client stdin");
        stdin
            .write_all(self.stdin.as_bytes())
            .expect("write the script");
        let stdout = child.stdout.take().expect("client stdout");
        let (tx, rx) = mpsc::channel();
        let out_reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let (stderr, err_reader) = drain(child.stderr.take().expect("client stderr"));
        Running {
            command: self.describe(),
            script: self.stdin,
            child,
            stdin: Some(stdin),
            lines: rx,
            seen: Vec::new(),
            stderr,
            readers: vec![out_reader, err_reader],
            started,
            deadline: self.deadline,
            _home: self.home,
        }
    }
}

/// A client started with [`Script::spawn`].
pub struct Running {
    command: String,
    script: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line read so far.
    seen: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
    deadline: Duration,
    _home: Home,
}

impl Running {
    /// The client's process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout until a line satisfies `pred`, returning it; fails the
    /// test if none does before the deadline or the output ends.
    pub fn expect_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no stdout line {what} within {DEADLINE:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("stdout ended without a line {what}"))
                }
            }
        }
    }

    /// Writes one more script line to the client's stdin.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            self.fail(&format!("cannot write `{line}` to the client: {e}"));
        }
    }

    /// Closes stdin (end of the script) and waits for the exit.
    pub fn finish(mut self) -> Output {
        drop(self.stdin.take());
        let status = wait_with_deadline(&mut self.child, self.deadline);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let output = self.output(None);
        match status {
            Ok(status) => Output {
                code: status.code(),
                ..output
            },
            Err(after) => panic!(
                "the client was still running after {after:?} and was killed\n{}",
                output.report()
            ),
        }
    }

    fn output(&self, code: Option<i32>) -> Output {
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        Output {
            command: self.command.clone(),
            stdin: self.script.clone(),
            code,
            stdout,
            stderr: text(&self.stderr),
            elapsed: self.started.elapsed(),
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("{why}\n{}", self.output(None).report());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Helpers for the integration tests: a real built-in server on an
//! OS-assigned port, one command builder for the client, and output
//! normalisation so whole transcripts can be compared.
//!
//! Every child process runs in a clean environment (no colour variables, a
//! fresh `HOME` and history file) and has a deadline after which it is
//! killed and the test fails with what it printed. Nothing here sleeps to
//! let things settle: waits are on a condition with a deadline.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long any child process may run before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a deadline loop looks at its condition again.
const POLL: Duration = Duration::from_millis(5);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_phx-repl")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "phx-repl-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the client keeps its history in this directory.
    pub fn history(&self) -> PathBuf {
        self.path.join("history")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A command for the binary with a clean environment rooted at `home`:
/// no colour variables, no inherited `PHX_REPL_*` or XDG data dir, `HOME`
/// and `PHX_REPL_HISTORY` inside `home`.
pub fn command(home: &TempDir) -> Command {
    let mut cmd = Command::new(bin());
    for var in [
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "XDG_DATA_HOME",
        "TERM",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PHX_REPL") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home.path())
        .env("PHX_REPL_HISTORY", home.history());
    cmd
}

/// Starts a client with `args`, writes `script` to its stdin and closes
/// it, and leaves stdout and stderr piped for the test to read as it likes
/// (slowly, or not at all).
pub fn spawn_piped(home: &TempDir, args: &[&str], script: &str) -> std::process::Child {
    let mut child = command(home)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::io::Write::write_all(&mut stdin, script.as_bytes()).expect("write the script");
    child
}

/// Reads a pipe to the end on its own thread, into a shared buffer.
fn drain<R: Read + Send + 'static>(mut pipe: R) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let handle = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buf, handle)
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// Waits for `child` to exit, killing it at the deadline. `Err` holds how
/// long it had run when it was killed.
fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Result<ExitStatus, Duration> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Ok(status);
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start.elapsed());
        }
        thread::sleep(POLL);
    }
}

/// `phx-repl serve --listen 127.0.0.1:0` as a child process, killed on drop.
pub struct Server {
    child: Child,
    _home: TempDir,
    /// `ws://127.0.0.1:PORT/socket` (`wss://` with `--tls-cert`), from the
    /// server's first line.
    pub url: String,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        Server::with_args(&[])
    }

    /// A server that closes connections idle for `secs` seconds.
    pub fn with_idle_timeout(secs: &str) -> Server {
        Server::with_args(&["--idle-timeout", secs])
    }

    pub fn with_args(extra: &[&str]) -> Server {
        Server::listening_on("127.0.0.1:0", extra)
    }

    /// A server on a given address (to start one where a client is already
    /// trying to connect).
    pub fn listening_on(listen: &str, extra: &[&str]) -> Server {
        let home = TempDir::new();
        let mut child = command(&home)
            .args(["serve", "--listen", listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let (stderr, _) = drain(child.stderr.take().expect("server stderr"));
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let first = match rx.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server printed no first line within {DEADLINE:?}; stderr:\n{}",
                    text(&stderr)
                );
            }
        };
        let parsed = first.strip_prefix("listening on ").and_then(|url| {
            let port = url
                .strip_prefix("ws://127.0.0.1:")
                .or_else(|| url.strip_prefix("wss://127.0.0.1:"))?
                .strip_suffix("/socket")?
                .parse()
                .ok()?;
            Some((url.to_owned(), port))
        });
        let Some((url, port)) = parsed else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first server line: {first:?}");
        };
        Server {
            child,
            _home: home,
            url,
            port,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client command builder: a URL (or none, for the built-in server),
/// arguments and a script on stdin.
pub struct Script {
    url: Option<String>,
    args: Vec<OsString>,
    stdin: String,
    deadline: Duration,
    home: TempDir,
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
            home: TempDir::new(),
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
    _home: TempDir,
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

/// What a finished client did.
#[derive(Debug, Clone)]
pub struct Output {
    pub command: String,
    pub stdin: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Everything about the run, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nscript:\n{}\nexit code: {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}--- end ---",
            self.command,
            indent(&self.stdin),
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "wrong exit code\n{}", self.report());
        self
    }

    pub fn assert_success(&self) -> &Output {
        self.assert_code(0)
    }

    /// Compares normalised stdout with `expected` exactly.
    pub fn assert_stdout(&self, expected: &str) -> &Output {
        assert_text("stdout", expected, &normalize(&self.stdout), self);
        self
    }

    /// Compares normalised stderr with `expected` exactly.
    pub fn assert_stderr(&self, expected: &str) -> &Output {
        assert_text("stderr", expected, &normalize(&self.stderr), self);
        self
    }

    /// Looks for `needle` in normalised stdout.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        self.assert_has("stdout", &self.stdout, needle, true)
    }

    /// Checks that normalised stdout lacks `needle`.
    pub fn assert_stdout_lacks(&self, needle: &str) -> &Output {
        self.assert_has("stdout", &self.stdout, needle, false)
    }

    /// Looks for `needle` in normalised stderr.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        self.assert_has("stderr", &self.stderr, needle, true)
    }

    /// Checks that normalised stderr lacks `needle`.
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Output {
        self.assert_has("stderr", &self.stderr, needle, false)
    }

    fn assert_has(&self, name: &str, text: &str, needle: &str, want: bool) -> &Output {
        let has = normalize(text).contains(needle);
        let verb = if want { "lacks" } else { "has" };
        assert!(has == want, "{name} {verb} {needle:?}\n{}", self.report());
        self
    }

    /// Parses every stdout line as JSON, failing on the first that is not.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "stdout line {} is not JSON ({e}): {line:?}\n{}",
                        i + 1,
                        self.report()
                    )
                })
            })
            .collect()
    }
}

fn indent(s: &str) -> String {
    s.lines().fold(String::new(), |mut out, l| {
        // Scripts with megabyte payloads would bury the failure.
        match l.char_indices().nth(300) {
            Some((cut, _)) => {
                let _ = writeln!(out, "    {}… ({} bytes)", &l[..cut], l.len());
            }
            None => {
                let _ = writeln!(out, "    {l}");
            }
        }
        out
    })
}

/// Fails with expected vs got, marking the first line that differs.
fn assert_text(stream: &str, expected: &str, got: &str, output: &Output) {
    if expected == got {
        return;
    }
    let exp: Vec<&str> = expected.split('\n').collect();
    let act: Vec<&str> = got.split('\n').collect();
    let first = exp
        .iter()
        .zip(&act)
        .position(|(a, b)| a != b)
        .unwrap_or(exp.len().min(act.len()));
    let mut diff = String::new();
    for i in 0..exp.len().max(act.len()) {
        let e = exp.get(i).copied();
        let a = act.get(i).copied();
        let mark = if e == a { ' ' } else { '!' };
        let _ = writeln!(
            diff,
            "{mark} {:>3} expected: {:?}",
            i + 1,
            e.unwrap_or("<none>")
        );
        if e != a {
            let _ = writeln!(
                diff,
                "{mark} {:>3}      got: {:?}",
                i + 1,
                a.unwrap_or("<none>")
            );
        }
    }
    panic!(
        "{stream} differs (normalised), first at line {}:\n{diff}\n--- expected ---\n{expected}--- got ---\n{got}--- full run ---\n{}",
        first + 1,
        output.report()
    );
}

/// Makes output comparable: latencies in `(ref N, 0.3 ms)` become
/// `(ref N, _)` and any `127.0.0.1:PORT` loses its port number.
pub fn normalize(s: &str) -> String {
    normalize_ports(&normalize_latencies(s))
}

fn normalize_latencies(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("(ref ") {
        out.push_str(&rest[..i]);
        let group = &rest[i..];
        let Some(close) = group.find(')') else {
            out.push_str(group);
            return out;
        };
        let inner = &group[..close];
        match inner.split_once(", ") {
            Some((head, latency)) if is_latency(latency) => {
                out.push_str(head);
                out.push_str(", _)");
            }
            _ => out.push_str(&group[..=close]),
        }
        rest = &group[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `43 µs`, `0.3 ms`, `12 ms`, `1.25 s`.
fn is_latency(s: &str) -> bool {
    match s.rsplit_once(' ') {
        Some((num, "µs" | "ms" | "s")) => num.parse::<f64>().is_ok(),
        _ => false,
    }
}

fn normalize_ports(s: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        let after = &rest[i + HOST.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Removes the common leading indentation of the non-blank lines and the
/// first line break, so expected transcripts can sit indented in the code.
pub fn dedent(s: &str) -> String {
    let s = s.strip_prefix('\n').unwrap_or(s);
    let margin = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(line[margin..].trim_end_matches(' '));
            out.push('\n');
        }
    }
    // A closing line of only spaces (the quote's indentation) adds nothing.
    if s.ends_with(' ') && out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A port on 127.0.0.1 where nothing listens: bound by the OS, then freed.
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("local addr").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_and_ports_are_normalised() {
        assert_eq!(
            normalize(
                "← t reply ok to e (ref 2, 0.3 ms) {}\n(ref 10, 12 ms) (ref 3, 1.25 s) (ref 4) (ref 5, 43 µs)"
            ),
            "← t reply ok to e (ref 2, _) {}\n(ref 10, _) (ref 3, _) (ref 4) (ref 5, _)"
        );
        assert_eq!(
            normalize("ws://127.0.0.1:4567/socket 127.0.0.1:x"),
            "ws://127.0.0.1:PORT/socket 127.0.0.1:x"
        );
    }

    #[test]
    fn dedent_keeps_relative_indentation() {
        assert_eq!(dedent("\n    a\n      b\n    "), "a\n  b\n");
    }
}

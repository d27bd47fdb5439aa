//! Helpers shared by the integration tests: a real built-in server on an
//! OS-assigned port (`server`), one builder for the client (`client`),
//! output normalisation so whole transcripts can be compared (`output`),
//! the transcript lines many tests expect (`transcript`), and the client
//! in a pseudo-terminal (`pty`). What only one module needs (a misbehaving
//! peer, a test CA) stays in that module.
//!
//! Every child process runs in a clean environment (no colour variables, a
//! fresh `HOME` and history file) and has a deadline after which it is
//! killed and the test fails with what it printed. Nothing here sleeps to
//! let things settle: waits are on a condition with a deadline.

mod client;
pub mod live;
mod output;
pub mod pty;
mod server;
mod transcript;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use client::Script;
pub use output::{Output, dedent, normalize};
pub use server::Server;
pub use transcript::{joined, lobby_joined, transcript};

/// How long any child process may run before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a deadline loop looks at its condition again.
const POLL: Duration = Duration::from_millis(5);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_phx-repl")
}

/// A fresh directory under the system temp dir for a test's files,
/// removed on drop.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("phx-repl-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// A child process's home: a fresh directory, removed on drop, that holds
/// its `HOME` and its history file.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: scratch_dir() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the client keeps its history in this directory.
    pub fn history(&self) -> PathBuf {
        self.dir.path().join("history")
    }
}

/// A command for the binary with a clean environment rooted at `home`:
/// no colour variables, no inherited `PHX_REPL_*` or XDG data dir, `HOME`
/// and `PHX_REPL_HISTORY` inside `home`.
pub fn command(home: &Home) -> Command {
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
pub fn spawn_piped(home: &Home, args: &[&str], script: &str) -> Child {
    let mut child = command(home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(script.as_bytes())
        .expect("write the script");
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

/// A port on 127.0.0.1 where nothing listens: bound by the OS, then freed.
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("local addr").port()
}

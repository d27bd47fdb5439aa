//! The client in a pseudo-terminal (rexpect), for the tests of the
//! interactive REPL: starting it, typing, and waiting for it to exit with
//! a deadline. What to type and expect is each test's business.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_with_options};

use super::{DEADLINE, Home, Server, command};

/// How long each `exp_*` may wait.
const EXPECT_MS: u64 = 10_000;

/// Starts `cmd` in a pty, its output read with colour codes stripped.
pub fn in_pty(cmd: Command) -> PtySession {
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(EXPECT_MS))
        .strip_ansi_escape_codes(true);
    spawn_with_options(cmd, options).expect("spawn in a pty")
}

/// The client against `server` with `extra` arguments, history in `home`,
/// once it has said it is connected.
pub fn repl(server: &Server, home: &Home, extra: &[&str]) -> PtySession {
    let mut cmd = command(home);
    cmd.env("TERM", "xterm")
        .arg(server.url.as_str())
        .args(extra);
    let mut repl = in_pty(cmd);
    repl.exp_string("connected to ")
        .expect("the connected line");
    repl
}

/// The prompt the client shows for `server`.
pub fn prompt(server: &Server) -> String {
    format!("phx-repl {}> ", server.addr())
}

pub fn type_keys(repl: &mut PtySession, keys: &str) {
    repl.send(keys).expect("type");
    repl.flush().expect("flush the pty");
}

/// Types `line` and presses Enter (a carriage return, as a terminal sends).
pub fn type_line(repl: &mut PtySession, line: &str) {
    repl.send(line).expect("type");
    repl.send("\r").expect("press Enter");
    repl.flush().expect("flush the pty");
}

/// Waits for the child to exit, killing it at the deadline.
pub fn exit_status(repl: &mut PtySession) -> WaitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        match repl.process().status() {
            Some(WaitStatus::StillAlive) | None => {}
            Some(status) => return status,
        }
        if Instant::now() >= end {
            let _ = repl.process_mut().exit();
            panic!("the REPL did not exit within {DEADLINE:?}");
        }
        // Keep reading so the child never blocks on a full pty.
        let _ = repl.try_read();
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for the REPL to exit and checks it exited with status 0.
pub fn assert_exited_cleanly(repl: &mut PtySession) {
    match exit_status(repl) {
        WaitStatus::Exited(_, 0) => {}
        other => panic!("the REPL did not exit cleanly: {other:?}"),
    }
}

/// Ctrl-D, then the exit status must be 0.
pub fn quit(repl: &mut PtySession) {
    repl.send_control('d').expect("Ctrl-D");
    assert_exited_cleanly(repl);
}

//! The flood at the prompt: phx-repl on a pseudo-terminal printing a flood
//! above a half-typed line, and its floor, a plain program (this one, run
//! as `bench pty-floor N`) writing the same lines to the same kind of
//! pseudo-terminal. This module owns the pseudo-terminal and reading it;
//! the flood itself comes from the built-in server, and the figures are
//! judged in `targets`.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::measure::{Env, Sample, wait4};

/// How long `Terminal::until` waits for its text.
const PATIENCE: Duration = Duration::from_secs(60);

/// phx-repl at an interactive prompt in a pseudo-terminal: types `join
/// flood:N`, then half of another line while the flood prints, and
/// finishes that line after `done`. The sample's wall time runs from the
/// Enter to the `done` line; true if the half-typed line was kept (its join
/// was answered).
pub fn phx_at_prompt(env: &Env, n: u64) -> Result<(Sample, bool), BenchError> {
    let mut cmd = Command::new(&env.phx);
    cmd.args([env.server.url.as_str(), "--no-history", "--color", "never"]);
    in_pty(env, cmd, |term| {
        term.until(b"connected to ")?;
        term.until(b"> ")?;
        term.type_text(&format!("join flood:{n}\r"))?;
        let start = Instant::now();
        term.until(b"push msg {\"i\":1}")?;
        term.type_text("join room:lob")?;
        term.until(format!("push done {{\"count\":{n}}}").as_bytes())?;
        let wall = start.elapsed();
        term.type_text("by\r")?;
        let kept = term.until(b"room:lobby reply ok to phx_join").is_ok();
        term.type_text("quit\r")?;
        Ok((wall, kept))
    })
}

/// The floor of the prompt's flood: this program writing the flood's
/// lines to the same kind of pseudo-terminal, 64 KiB at a time, read the
/// same way. What is left is what the terminal itself costs.
pub fn floor_at_prompt(env: &Env, n: u64) -> Result<Sample, BenchError> {
    let mut cmd = Command::new(&env.me);
    cmd.args(["pty-floor", &n.to_string()]);
    let (sample, _) = in_pty(env, cmd, |term| {
        term.until(b"ready")?;
        term.type_text("go\r")?;
        let start = Instant::now();
        term.until(format!("push done {{\"count\":{n}}}").as_bytes())?;
        Ok((start.elapsed(), true))
    })?;
    Ok(sample)
}

/// `bench pty-floor N`: writes the lines of a flood of `n` to stdout once
/// a line is read from stdin (see [`floor_at_prompt`]).
pub fn floor_writer(args: &[String]) -> Result<(), BenchError> {
    let [n] = args else {
        return Err(BenchError::Usage("pty-floor N"));
    };
    let n: u64 = n.parse()?;
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut line = String::new();
    writeln!(out, "ready")?;
    out.flush()?;
    io::stdin().read_line(&mut line)?;
    for i in 1..=n {
        writeln!(out, "← flood:{n} push msg {{\"i\":{i}}}")?;
    }
    writeln!(out, "← flood:{n} push done {{\"count\":{n}}}")?;
    out.flush()?;
    Ok(())
}

/// A new pseudo-terminal of 40×120: (controlling side, the program's side).
fn open_pty() -> Result<(OwnedFd, OwnedFd), BenchError> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid out-pointers; no name buffer or termios is passed.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if r != 0 {
        return Err(BenchError::OpenPty(io::Error::last_os_error()));
    }
    // SAFETY: openpty returned two fresh descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}

/// Runs `cmd` on a new pseudo-terminal (`TERM=xterm`) and lets `drive`
/// talk to it; the wall time is the one `drive` measures.
fn in_pty(
    env: &Env,
    mut cmd: Command,
    drive: impl FnOnce(&mut Terminal) -> Result<(Duration, bool), BenchError>,
) -> Result<(Sample, bool), BenchError> {
    use std::os::unix::process::CommandExt;

    let (master, slave) = open_pty()?;
    cmd.env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave.try_clone()?));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server_before = env.server.cpu();
    let mut child = cmd.spawn()?;
    drop(slave);
    drop(cmd);
    let mut term = Terminal {
        file: fs::File::from(master),
        seen: Vec::new(),
        searched: 0,
    };
    let result = drive(&mut term);
    if result.is_err() {
        let _ = child.kill();
    }
    // Keep reading so the child can print its last lines and exit.
    let reader = std::thread::spawn(move || {
        let _ = io::copy(&mut term.file, &mut io::sink());
    });
    let reaped = wait4(&child)?;
    let _ = reader.join();
    let (wall, kept) = result?;
    if !reaped.ok {
        return Err(BenchError::PtyChildFailed);
    }
    let sample = Sample {
        wall,
        cpu: reaped.cpu,
        rss_kib: reaped.rss_kib,
        server_cpu: env.server.cpu().saturating_sub(server_before),
    };
    Ok((sample, kept))
}

/// The controlling side of a pseudo-terminal, with everything read so far.
struct Terminal {
    file: fs::File,
    seen: Vec<u8>,
    /// Where the next search starts (earlier matches were consumed).
    searched: usize,
}

impl Terminal {
    fn type_text(&mut self, text: &str) -> Result<(), BenchError> {
        Ok(self.file.write_all(text.as_bytes())?)
    }

    /// Reads until `needle` appears after the previous match; gives up
    /// after 60 s without it.
    fn until(&mut self, needle: &[u8]) -> Result<(), BenchError> {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.found(needle) {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BenchError::PromptTimeout(
                    String::from_utf8_lossy(needle).into_owned(),
                ));
            }
            if !readable(&self.file, left) {
                continue;
            }
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => return Err(BenchError::TerminalClosed),
                Ok(k) => {
                    // Keep memory small: drop what was searched already.
                    if self.searched > 1 << 20 {
                        self.seen.drain(..self.searched);
                        self.searched = 0;
                    }
                    self.seen.extend_from_slice(&buf[..k]);
                }
            }
        }
    }

    /// Whether `needle` is in what was read since the last match; if so,
    /// it is consumed.
    fn found(&mut self, needle: &[u8]) -> bool {
        if let Some(at) = self.seen[self.searched..]
            .windows(needle.len())
            .position(|w| w == needle)
        {
            self.searched += at + needle.len();
            return true;
        }
        // Only the tail can still hold the start of a match.
        self.searched = self
            .searched
            .max(self.seen.len().saturating_sub(needle.len() - 1));
        false
    }
}

/// Waits up to `left` for `file` to have something to read.
fn readable(file: &fs::File, left: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(seen: &[u8]) -> Terminal {
        Terminal {
            file: fs::File::open("/dev/null").unwrap(),
            seen: seen.to_vec(),
            searched: 0,
        }
    }

    #[test]
    fn a_match_is_consumed() {
        let mut t = terminal(b"> join > ");
        assert!(t.found(b"> "));
        assert!(t.found(b"> "));
        assert!(!t.found(b"> "));
    }

    #[test]
    fn a_miss_keeps_the_tail_that_could_start_a_match() {
        let mut t = terminal(b"push do");
        assert!(!t.found(b"push done"));
        t.seen.extend_from_slice(b"ne {}");
        assert!(t.found(b"push done"));
    }
}

//! Fresh credentials: `--param-cmd KEY=COMMAND` and `--auth-token-cmd
//! COMMAND` run their command with `sh -c` before every connect and
//! reconnect, and the trimmed stdout becomes a connect param or the auth
//! token of that attempt. Tokens expire; a client that rejoins with the one
//! it started with breaks after an outage.
//!
//! The command is a child process in its own process group, whose output a
//! short-lived thread collects; the network thread only polls for the
//! result (the thread wakes it), so a slow secret store never stalls the
//! loop. The deadline is the network thread's: past it, the group is
//! killed. What the output means ([`value_of`]) and where a value goes
//! ([`apply`]) are pure.

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use nix::sys::signal::{self, SigSet, Signal};
use nix::unistd::Pid;
use url::Url;

use crate::core::endpoint::{self, Redactor};

/// Where a command's value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A connect param in the socket URL's query (`--param-cmd KEY=…`).
    Param(String),
    /// The auth token (`--auth-token-cmd`).
    AuthToken,
}

impl Slot {
    /// The flag as the user typed it, for errors.
    fn flag(&self) -> String {
        match self {
            Slot::Param(key) => format!("--param-cmd {key}="),
            Slot::AuthToken => "--auth-token-cmd ".to_owned(),
        }
    }
}

/// One command and where its value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub slot: Slot,
    pub command: String,
}

/// The commands to run before each attempt, and the redactor that learns
/// each value they print.
#[derive(Debug, Clone, Default)]
pub struct Fresh {
    pub sources: Vec<Source>,
    pub redactor: Redactor,
}

/// Why a command gave no value; the attempt stops with this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshError {
    #[error("`{flag}{command}` could not start: {reason}")]
    Spawn {
        flag: String,
        command: String,
        reason: String,
    },
    #[error("`{flag}{command}` failed with {status}{detail}")]
    Failed {
        flag: String,
        command: String,
        status: String,
        /// `: ` and the last line of its stderr, if any.
        detail: String,
    },
    #[error("`{flag}{command}` timed out after {secs} s (--timeout)")]
    TimedOut {
        flag: String,
        command: String,
        secs: u64,
    },
    #[error("`{flag}{command}` printed nothing; it must print the value on stdout")]
    Empty { flag: String, command: String },
    #[error("`{flag}{command}` printed more than one line; it must print the value alone")]
    SeveralLines { flag: String, command: String },
    #[error("`{flag}{command}` printed bytes that are not UTF-8")]
    NotUtf8 { flag: String, command: String },
}

impl Source {
    /// The value in a finished command's output, or why there is none.
    pub fn value_of(&self, out: &Output) -> Result<String, FreshError> {
        let (flag, command) = (self.slot.flag(), self.command.clone());
        if !out.status.success() {
            let status = match (out.status.code(), signal_of(&out.status)) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                (None, None) => out.status.to_string(),
            };
            let detail = last_line(&out.stderr).map_or(String::new(), |l| format!(": {l}"));
            return Err(FreshError::Failed {
                flag,
                command,
                status,
                detail,
            });
        }
        let Ok(text) = std::str::from_utf8(&out.stdout) else {
            return Err(FreshError::NotUtf8 { flag, command });
        };
        match text.trim() {
            "" => Err(FreshError::Empty { flag, command }),
            v if v.contains(['\n', '\r']) => Err(FreshError::SeveralLines { flag, command }),
            v => Ok(v.to_owned()),
        }
    }

    /// The error for a command still running at the deadline.
    pub fn timed_out(&self, timeout: Duration) -> FreshError {
        FreshError::TimedOut {
            flag: self.slot.flag(),
            command: self.command.clone(),
            secs: timeout.as_secs_f64().ceil() as u64,
        }
    }

    /// Starts the command; `wake` is called (from another thread) when its
    /// result is ready.
    pub fn start(&self, wake: impl FnOnce() + Send + 'static) -> Result<Running, FreshError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: between fork and exec only `pthread_sigmask` runs, which
        // is async-signal-safe. The command gets the signals this process
        // blocks in every thread (its signal thread takes them) back.
        unsafe {
            cmd.pre_exec(|| {
                let mut set = SigSet::empty();
                set.add(Signal::SIGINT);
                set.add(Signal::SIGTERM);
                set.thread_unblock().map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().map_err(|e| FreshError::Spawn {
            flag: self.slot.flag(),
            command: self.command.clone(),
            reason: e.to_string(),
        })?;
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let finished = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let done = Arc::clone(&finished);
        let source = self.clone();
        std::thread::Builder::new()
            .name("credentials".into())
            .spawn(move || {
                let result = match child.wait_with_output() {
                    Ok(out) => source.value_of(&out),
                    Err(e) => Err(FreshError::Spawn {
                        flag: source.slot.flag(),
                        command: source.command.clone(),
                        reason: e.to_string(),
                    }),
                };
                done.store(true, Ordering::Release);
                let _ = tx.send(result);
                wake();
            })
            .map_err(|e| FreshError::Spawn {
                flag: self.slot.flag(),
                command: self.command.clone(),
                reason: e.to_string(),
            })?;
        Ok(Running {
            rx,
            group,
            finished,
        })
    }
}

/// A command that was started.
#[derive(Debug)]
pub struct Running {
    rx: Receiver<Result<String, FreshError>>,
    group: Pid,
    finished: Arc<AtomicBool>,
}

impl Running {
    /// Its value or error once it has ended; `None` while it runs.
    pub fn poll(&self) -> Option<Result<String, FreshError>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            // The collecting thread died: say so rather than wait forever.
            Err(TryRecvError::Disconnected) => Some(Err(FreshError::Spawn {
                flag: String::new(),
                command: String::new(),
                reason: "its output was lost".into(),
            })),
        }
    }
}

impl Drop for Running {
    /// Kills the command and whatever it started if it is still running
    /// (timed out, or the run is ending); its thread then ends too.
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) {
            let _ = signal::killpg(self.group, Signal::SIGKILL);
        }
    }
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// The last non-blank line of a command's stderr, cut to a readable length.
fn last_line(stderr: &[u8]) -> Option<String> {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    })
}

/// The socket URL and handshake headers with the fresh values in place: a
/// param appended to the query, the auth token as the subprotocol entry.
pub fn apply(
    url: &Url,
    headers: &[(String, String)],
    values: &[(Slot, String)],
) -> (Url, Vec<(String, String)>) {
    let mut url = url.clone();
    let mut headers = headers.to_vec();
    for (slot, value) in values {
        match slot {
            Slot::Param(key) => {
                url.query_pairs_mut().append_pair(key, value);
            }
            Slot::AuthToken => headers.push(endpoint::auth_token_header(value)),
        }
    }
    (url, headers)
}

/// Teaches `redactor` the values, in every form they take on the wire.
pub fn learn(redactor: &mut Redactor, values: &[(Slot, String)]) {
    for (slot, value) in values {
        match slot {
            Slot::Param(_) => redactor.learn(value),
            Slot::AuthToken => redactor.learn_auth_token(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    fn param(key: &str, command: &str) -> Source {
        Source {
            slot: Slot::Param(key.into()),
            command: command.into(),
        }
    }

    #[test]
    fn the_value_is_stdout_trimmed() {
        let s = param("token", "cat t");
        assert_eq!(
            s.value_of(&output(0, "  abc123\n", "")),
            Ok("abc123".into())
        );
    }

    #[test]
    fn a_failure_names_the_flag_the_status_and_the_last_stderr_line() {
        let s = param("token", "vault read x");
        let e = s.value_of(&output(2, "", "warming up\npermission denied\n\n"));
        assert_eq!(
            e.unwrap_err().to_string(),
            "`--param-cmd token=vault read x` failed with exit status 2: permission denied"
        );
        let killed = Output {
            status: ExitStatus::from_raw(9),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        assert_eq!(
            s.value_of(&killed).unwrap_err().to_string(),
            "`--param-cmd token=vault read x` failed with signal 9"
        );
    }

    #[test]
    fn nothing_or_several_lines_or_non_utf8_is_refused() {
        let s = Source {
            slot: Slot::AuthToken,
            command: "get".into(),
        };
        assert_eq!(
            s.value_of(&output(0, " \n\t\n", ""))
                .unwrap_err()
                .to_string(),
            "`--auth-token-cmd get` printed nothing; it must print the value on stdout"
        );
        assert!(matches!(
            s.value_of(&output(0, "a\nb\n", "")),
            Err(FreshError::SeveralLines { .. })
        ));
        let bad = Output {
            stdout: vec![0xff, 0xfe],
            ..output(0, "", "")
        };
        assert!(matches!(s.value_of(&bad), Err(FreshError::NotUtf8 { .. })));
    }

    #[test]
    fn a_timeout_says_how_long_it_waited() {
        let s = param("token", "sleep 60");
        assert_eq!(
            s.timed_out(Duration::from_millis(1500)).to_string(),
            "`--param-cmd token=sleep 60` timed out after 2 s (--timeout)"
        );
    }

    #[test]
    fn values_go_to_the_query_and_the_subprotocol_header() {
        let url = Url::parse("ws://h/socket/websocket?vsn=2.0.0").unwrap();
        let values = [
            (Slot::Param("token".into()), "a b&c".into()),
            (Slot::AuthToken, "abc1".into()),
        ];
        let (url, headers) = apply(&url, &[("Origin".into(), "http://o".into())], &values);
        assert_eq!(url.query(), Some("vsn=2.0.0&token=a+b%26c"));
        assert_eq!(headers[1], endpoint::auth_token_header("abc1"));
    }

    #[test]
    fn learnt_values_are_hidden_by_every_clone() {
        let mut r = Redactor::default();
        let screen = r.clone();
        learn(
            &mut r,
            &[
                (Slot::Param("user".into()), "fresh-user".into()),
                (Slot::AuthToken, "fresh-token".into()),
            ],
        );
        let b64 = data_encoding::BASE64_NOPAD.encode(b"fresh-token");
        let text = format!("fresh-user fresh-token {b64}");
        assert_eq!(screen.scrub(&text), "REDACTED REDACTED REDACTED");
        let mut shown = Redactor::disabled();
        learn(&mut shown, &[(Slot::AuthToken, "fresh-token".into())]);
        assert_eq!(shown.scrub("fresh-token"), "fresh-token");
    }

    #[test]
    fn a_command_runs_off_the_thread_and_a_dropped_one_is_killed() {
        let (tx, rx) = mpsc::channel();
        let s = param("token", "printf 'v1\\n'");
        let running = s.start(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(running.poll(), Some(Ok("v1".into())));

        let (tx, rx) = mpsc::channel();
        let slow = param("token", "sleep 30; echo late");
        let running = slow.start(move || tx.send(()).unwrap()).unwrap();
        assert_eq!(running.poll(), None);
        drop(running);
        // Killed: the collecting thread wakes at once, not after 30 s.
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
}

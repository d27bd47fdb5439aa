//! The built-in server as a child process (`phx-repl serve`) on an
//! OS-assigned port, read for its URL and killed on drop. Clients of it
//! are `client`'s business.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Instant;

use super::{DEADLINE, Home, POLL, command, drain, text};

/// `phx-repl serve --listen 127.0.0.1:0` as a child process, killed on drop.
pub struct Server {
    child: Child,
    _home: Home,
    /// Its log (stderr), as far as it has come.
    log: Arc<Mutex<Vec<u8>>>,
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
        let home = Home::new();
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
            log: stderr,
            url,
            port,
        }
    }

    /// Its log once `done` holds for it, within the deadline.
    pub fn wait_log(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let log = text(&self.log);
            if done(&log) {
                return log;
            }
            assert!(
                Instant::now() < until,
                "the server never logged {what}:\n{log}"
            );
            thread::sleep(POLL);
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

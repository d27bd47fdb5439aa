//! One script file's run: `phx-repl URL --json --exit -f FILE` with the
//! flags `test` passes on, as a child process of this same executable,
//! so each file has its own connection, variables and tally, and a file
//! that hangs or crashes takes nothing else down.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::{TestArgs, Transport};

/// How every file is run.
pub struct Plan {
    exe: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

/// A finished file.
pub struct FileRun {
    /// Its place in the sorted list.
    pub index: usize,
    /// The exit code; `None` if a signal ended it or it could not start.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub started: SystemTime,
    pub elapsed: Duration,
}

impl Plan {
    /// Runs this executable against `url`, with what `args` passes on.
    pub fn new(url: &str, args: &TestArgs) -> std::io::Result<Plan> {
        let mut a: Vec<OsString> = vec![
            url.into(),
            "--json".into(),
            "--exit".into(),
            "--quiet".into(),
            "--no-history".into(),
            "--color".into(),
            "never".into(),
        ];
        let mut flag = |name: &str, value: Option<String>| {
            a.push(name.into());
            if let Some(v) = value {
                a.push(v.into());
            }
        };
        if args.fail {
            flag("--fail", None);
        }
        if args.bail {
            flag("--bail", None);
        }
        if args.insecure {
            flag("--insecure", None);
        }
        if let Some(t) = &args.timeout {
            flag("--timeout", Some(t.clone()));
        }
        for (k, v) in &args.params {
            flag("--param", Some(format!("{k}={v}")));
        }
        for (k, v) in &args.headers {
            flag("--header", Some(format!("{k}: {v}")));
        }
        if let Some(o) = &args.origin {
            flag("--origin", Some(o.clone()));
        }
        if let Some(c) = &args.ca_cert {
            flag("--ca-cert", Some(c.display().to_string()));
        }
        if let Some(t) = args.transport {
            let t = match t {
                Transport::Websocket => "websocket",
                Transport::Longpoll => "longpoll",
            };
            flag("--transport", Some(t.to_owned()));
        }
        if let Some(v) = &args.vsn {
            flag("--vsn", Some(v.clone()));
        }
        if let Some(t) = &args.gql_topic {
            flag("--gql-topic", Some(t.clone()));
        }
        // In the environment, not on the command line, where `ps` shows it.
        let env = args
            .auth_token
            .iter()
            .map(|t| ("PHX_REPL_AUTH_TOKEN".to_owned(), t.clone()))
            .collect();
        Ok(Plan {
            exe: std::env::current_exe()?,
            args: a,
            env,
        })
    }

    /// Runs file `index`, at `path`, to its end.
    pub fn run(&self, index: usize, path: &str) -> FileRun {
        let started = SystemTime::now();
        let clock = Instant::now();
        let output = Command::new(&self.exe)
            .args(&self.args)
            .arg("--file")
            .arg(path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output();
        let elapsed = clock.elapsed();
        match output {
            Ok(out) => FileRun {
                index,
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                started,
                elapsed,
            },
            Err(e) => FileRun {
                index,
                code: None,
                stdout: String::new(),
                stderr: format!(
                    "phx-repl: error: cannot run `{}`: {e}\n",
                    self.exe.display()
                ),
                started,
                elapsed,
            },
        }
    }
}

impl FileRun {
    /// The child's fatal error, from its last `phx-repl: error:` line.
    pub fn fatal(&self) -> Option<&str> {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("phx-repl: error: "))
    }

    pub fn passed(&self) -> bool {
        self.code == Some(0)
    }
}

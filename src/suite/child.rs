//! One script file's run: `phx-repl URL --json --exit -f FILE` with the
//! flags `test` passes on, as a child process of this same executable,
//! so each file has its own connection, variables and tally, and a file
//! that hangs or crashes takes nothing else down.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::Options;

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
    /// Runs this executable against `url`, with what `options` passes on.
    pub fn new(url: &str, options: &Options) -> std::io::Result<Plan> {
        let mut args: Vec<OsString> = [
            url,
            "--json",
            "--exit",
            "--quiet",
            "--no-history",
            "--color",
            "never",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        if options.fail {
            args.push("--fail".into());
        }
        if options.bail {
            args.push("--bail".into());
        }
        args.extend(options.pass.iter().map(OsString::from));
        // In the environment, not on the command line, where `ps` shows it.
        let env = options
            .auth_token
            .iter()
            .map(|t| ("PHX_REPL_AUTH_TOKEN".to_owned(), t.clone()))
            .collect();
        Ok(Plan {
            exe: std::env::current_exe()?,
            args,
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

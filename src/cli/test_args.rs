//! The flags of `phx-repl test`, and how they are handed to `suite`: the
//! ones each file's run takes are written out as on its command line.
//! Parsing shares its checks with the client's flags (`cli.rs`).

use std::path::PathBuf;

use clap::Args;

use super::{ColorChoice, Transport, parse_header, parse_param, parse_timeout, parse_vsn};

/// `phx-repl test`: each file runs as `phx-repl URL --json --exit -f FILE`
/// in a child process. Passed on to every child: `--timeout`, `--fail`,
/// `--bail`, `-p`, `-H`, `--auth-token`, `--origin`, `--ca-cert`,
/// `--insecure`, `--transport`, `--vsn` and `--gql-topic`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Script files, directories (their *.phx files, not recursive) or globs (`*` and `?` in the file name)
    #[arg(value_name = "FILE|DIR|GLOB", required = true)]
    pub paths: Vec<String>,

    /// Socket URL for every file (default: the built-in server, started once)
    #[arg(long, value_name = "URL", env = "PHX_REPL_URL")]
    pub url: Option<String>,

    /// Run up to N files at once (default: one after another); results print as files finish
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,

    /// Stop at the first failing file (and, inside a file, at its first failure)
    #[arg(long)]
    pub bail: bool,

    /// Write a JUnit XML report to FILE: a testsuite per file, a testcase per checked line
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Print the files' NDJSON records, each with its `file`, instead of the per-file lines
    #[arg(long)]
    pub json: bool,

    /// A reply with status error, or a crashed channel, fails the file
    #[arg(long)]
    pub fail: bool,

    /// Seconds to wait for a reply, and the default for `wait`
    #[arg(long, value_name = "SECS", value_parser = parse_timeout_text)]
    pub timeout: Option<String>,

    /// Connect param, added to the URL query (repeatable)
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,

    /// Extra HTTP header for the WebSocket handshake (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Auth token, sent the Phoenix 1.8 way (passed to each file's run in its environment)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PHX_REPL_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<String>,

    /// Origin header to send
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,

    /// Also trust the CA certificates in this PEM file for wss://
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify the server's TLS certificate
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,

    /// Transport: websocket or longpoll
    #[arg(long, value_enum, value_name = "TRANSPORT")]
    pub transport: Option<Transport>,

    /// Serializer: 2.0.0 or 1.0.0
    #[arg(long, value_name = "VSN", value_parser = parse_vsn_text)]
    pub vsn: Option<String>,

    /// The topic of Absinthe's control channel, which `gql` joins
    #[arg(long, value_name = "TOPIC")]
    pub gql_topic: Option<String>,

    /// When to use colours
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", env = "PHX_REPL_COLOR")]
    pub color: ColorChoice,
}

impl TestArgs {
    /// What `suite::run` needs: the flags passed on to each file's run
    /// written out as they go on its command line.
    pub fn into_options(self) -> crate::suite::Options {
        let mut pass: Vec<String> = Vec::new();
        let mut flag = |name: &str, value: Option<String>| {
            pass.push(name.to_owned());
            pass.extend(value);
        };
        if self.insecure {
            flag("--insecure", None);
        }
        if let Some(t) = self.timeout {
            flag("--timeout", Some(t));
        }
        for (k, v) in self.params {
            flag("--param", Some(format!("{k}={v}")));
        }
        for (k, v) in self.headers {
            flag("--header", Some(format!("{k}: {v}")));
        }
        if let Some(o) = self.origin {
            flag("--origin", Some(o));
        }
        if let Some(c) = self.ca_cert {
            flag("--ca-cert", Some(c.display().to_string()));
        }
        if let Some(t) = self.transport {
            let t = match t {
                Transport::Websocket => "websocket",
                Transport::Longpoll => "longpoll",
            };
            flag("--transport", Some(t.to_owned()));
        }
        if let Some(v) = self.vsn {
            flag("--vsn", Some(v));
        }
        if let Some(t) = self.gql_topic {
            flag("--gql-topic", Some(t));
        }
        crate::suite::Options {
            paths: self.paths,
            jobs: self.jobs,
            bail: self.bail,
            junit: self.junit,
            json: self.json,
            fail: self.fail,
            pass,
            auth_token: self.auth_token,
        }
    }
}

/// `--timeout` for `test`: checked here, passed on to each file's run as given.
fn parse_timeout_text(s: &str) -> Result<String, String> {
    parse_timeout(s).map(|_| s.trim().to_owned())
}

/// `--vsn` for `test`: checked here, passed on as given.
fn parse_vsn_text(s: &str) -> Result<String, String> {
    parse_vsn(s).map(|_| s.trim().to_owned())
}

/// `--jobs N`: at least one.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a number of files to run at once; try `--jobs 4`"
        )),
    }
}

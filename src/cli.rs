//! Command-line definitions (clap derive) and their resolution into a
//! `Config`, once, before anything connects.
//!
//! House rules: doc comments are the help text; values are validated here so
//! the rest of the program never sees a malformed flag. No I/O: whether the
//! terminal is a TTY is decided in `main` and passed in.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::core::endpoint;
use crate::core::protocol::Vsn;
use crate::lang::command;
use crate::transport::fresh::{Slot, Source};
use crate::transport::tls::Trust;

/// Text shown after the options in `--help`: the REPL language, from the
/// same table that `help` uses at the prompt.
fn after_help() -> String {
    let mut out =
        String::from("REPL commands (one per line; `help COMMAND` at the prompt explains each):\n");
    for c in command::COMMANDS {
        let summary = c.summary.split(';').next().unwrap_or(c.summary);
        out.push_str(&format!(
            "  {:<w$} {summary}\n",
            c.usage,
            w = command::usage_width()
        ));
    }
    out.push_str(
        "\nPAYLOAD (default {}): JSON {\"a\":1}, the shorthand <\"a\":1>, or pairs a=text n:=3;\n\
         @FILE (JSON from a file); binary: hex:DEADBEEF, base64:3q2+7w==, @@FILE (a file's bytes)\n\
         \nExamples:\n  \
         phx-repl                                    the REPL on the built-in server\n  \
         phx-repl ws://localhost:4000/socket -p token=abc\n  \
         phx-repl localhost:4000/socket --fail < smoke.phx\n\
         \nPiped input runs as a script: each join/leave/push waits for its reply (a cast does not).\n\
         Smoke tests: `phx-repl test smoke/ --url URL --junit report.xml` runs each file on its own connection.\n\
         Exit codes: 0 ok; 1 a line failed (invalid, a failed expect or wait, a reply\n\
         timed out, or an error with --fail); 2 usage error; 3 could not connect, or\n\
         the connection was lost for good (--no-reconnect, or --max-retries attempts failed).",
    );
    out
}

/// The full command definition, with the REPL commands after the options.
pub fn command() -> clap::Command {
    Cli::command().after_help(after_help())
}

/// Parses the command line, exiting with a usage error (code 2) if it is wrong.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.client.first = first_lines_in_order(&matches, &cli.client);
    if let (Some(Sub::Live(args)), Some(m)) = (&mut cli.command, matches.subcommand_matches("live"))
    {
        args.client.first = first_lines_in_order(m, &args.client);
    }
    cli
}

/// `-e` and `-f` in the order they were given.
fn first_lines_in_order(matches: &clap::ArgMatches, args: &ClientArgs) -> Vec<First> {
    let mut all: Vec<(usize, First)> = Vec::new();
    if let Some(idx) = matches.indices_of("exec") {
        all.extend(idx.zip(args.exec.iter().cloned().map(First::Exec)));
    }
    if let Some(idx) = matches.indices_of("file") {
        all.extend(idx.zip(args.file.iter().cloned().map(First::File)));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, f)| f).collect()
}

/// A line or script to run before the prompt (or stdin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum First {
    Exec(String),
    File(PathBuf),
}

mod test_args;

pub use test_args::TestArgs;

/// A REPL for Phoenix Channels: join, push, and watch every frame live.
#[derive(Debug, Parser)]
#[command(name = "phx-repl", version)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Sub>,

    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Run the built-in Phoenix-compatible server (for trying things out and for tests)
    Serve(ServeArgs),
    /// Print shell completions for phx-repl's options: bash, zsh, fish, powershell or elvish
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `phx-repl man > phx-repl.1`
    Man,
    /// Run script files as tests, each on its own connection, with a summary per file (for CI)
    #[command(after_help = TEST_AFTER_HELP)]
    Test(TestArgs),
    /// Open a LiveView page: fetch it, join its view on the /live socket, print it and its changes
    ///
    /// URL is the page, e.g. http://localhost:4000/counter (default: the
    /// built-in server's /counter). Every client option applies; the REPL
    /// commands click, submit, change, key, hook, html, text and
    /// `expect text …` act on the page.
    Live(LiveArgs),
}

/// `phx-repl live [URL] [options]`: the client's options, whose URL is
/// the page's.
#[derive(Debug, Args)]
// PHX_REPL_URL names a socket, not a page: `live` does not read it.
#[command(mut_arg("url", |a| a
    .env(None::<&'static str>)
    .help("The page's URL, e.g. http://localhost:4000/counter (default: the built-in server's /counter)")
    .long_help("The page's URL, e.g. http://localhost:4000/counter (default: the built-in server's \
/counter); its LiveView socket is /live (--live-path) on the same host")))]
// Refused with `live` (fan-out of pages is not built): not listed in its
// help.
#[command(
    mut_arg("clients", |a| a.hide(true)),
    mut_arg("ramp", |a| a.hide(true)),
    mut_arg("verbose", |a| a.hide(true))
)]
pub struct LiveArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What `phx-repl test --help` says after the options.
const TEST_AFTER_HELP: &str = "\
Each file runs as `phx-repl URL --json --exit -f FILE`, on a connection of its own. \
Passed on to it: --timeout, --fail, --bail, -p, -H, --auth-token (in its environment), \
--origin, --ca-cert, --insecure, --transport, --vsn and --gql-topic.

Exit codes: 0 every file passed; 1 a file failed; 2 no file matched, or one cannot be read; \
3 no file could connect.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:4000", value_name = "HOST:PORT", value_parser = parse_listen)]
    pub listen: String,

    /// Close a connection after this many seconds without a frame from the client
    #[arg(long, default_value = "60", value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Duration,

    /// Serve wss:// with this PEM certificate chain (needs --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Refuse connections (403) that do not send this auth token the Phoenix 1.8 way
    #[arg(long, value_name = "TOKEN")]
    pub require_auth_token: Option<String>,

    /// Refuse connections (403) whose Origin header is set and is not this one, like check_origin
    #[arg(long, value_name = "ORIGIN")]
    pub check_origin: Option<String>,

    /// The LiveView format of every page (/counter, /chat, /demo, /login, /private): 1.1 (LiveView 1.1.33) or 0.20 (0.20.17)
    #[arg(long, default_value = "1.1", value_name = "VERSION", value_parser = parse_liveview)]
    pub liveview: crate::server::LiveFormat,
}

/// `0.20` or `1.1` for `serve --liveview`.
fn parse_liveview(s: &str) -> Result<crate::server::LiveFormat, String> {
    crate::server::LiveFormat::parse(s)
        .ok_or_else(|| format!("unknown LiveView version {s:?}; use 1.1 or 0.20"))
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("first").args(["exec", "file"]).multiple(true))]
pub struct ClientArgs {
    /// Socket URL, e.g. ws://localhost:4000/socket (default: the built-in server)
    ///
    /// ws://, wss://, http://, https:// or host:port/path. No path means
    /// Phoenix's default `/socket`; `/websocket` and `vsn=2.0.0` are added
    /// when missing.
    #[arg(value_name = "URL", env = "PHX_REPL_URL")]
    pub url: Option<String>,

    /// Connect param, added to the URL query (repeatable)
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,

    /// Extra HTTP header for the WebSocket handshake (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Auth token, sent the Phoenix 1.8 way in the Sec-WebSocket-Protocol header (for `auth_token: true` sockets)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PHX_REPL_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<String>,

    /// Run COMMAND (with sh -c) before every connect and reconnect; its trimmed stdout is connect param KEY (repeatable; a secret, redacted)
    #[arg(long = "param-cmd", value_name = "KEY=COMMAND", value_parser = parse_param_cmd)]
    pub param_cmds: Vec<(String, String)>,

    /// Run COMMAND (with sh -c) before every connect and reconnect; its trimmed stdout is the auth token, as --auth-token
    #[arg(long, value_name = "COMMAND", value_parser = parse_token_cmd)]
    pub auth_token_cmd: Option<String>,

    /// Origin header to send (Phoenix's check_origin answers 403 to an Origin it does not expect)
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,

    /// Also trust the CA certificates in this PEM file for wss://
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,

    /// Do not verify the server's TLS certificate (a warning is printed on every connect)
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,

    /// Transport: websocket, or longpoll (Phoenix's HTTP fallback; no heartbeats, as in the JS client)
    #[arg(long, value_enum, default_value_t = Transport::Websocket, value_name = "TRANSPORT")]
    pub transport: Transport,

    /// Serializer: 2.0.0 (JSON arrays, binary frames) or 1.0.0 (JSON objects); a vsn in the URL wins
    #[arg(long, default_value = "2.0.0", value_name = "VSN", value_parser = parse_vsn)]
    pub vsn: Vsn,

    /// Seconds between heartbeats; 0 turns them off
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs, env = "PHX_REPL_HEARTBEAT")]
    pub heartbeat: Duration,

    /// Seconds to wait for a reply, and for connecting and the upgrade (the default for `wait` too)
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_timeout, env = "PHX_REPL_TIMEOUT")]
    pub timeout: Duration,

    /// Print one JSON object per line (NDJSON) instead of human-readable lines
    #[arg(long)]
    pub json: bool,

    /// When to use colours
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", env = "PHX_REPL_COLOR")]
    pub color: ColorChoice,

    /// Show heartbeats and their replies
    #[arg(long)]
    pub show_heartbeats: bool,

    /// Start each line with the time (UTC, to the millisecond)
    #[arg(long)]
    pub timestamps: bool,

    /// Indent payloads over several lines
    #[arg(long)]
    pub pretty: bool,

    /// Show frames exactly as sent and received (the V2 JSON array)
    #[arg(long)]
    pub raw: bool,

    /// Show long payloads in full at the prompt (they are cut after 4 KiB there; scripts and --json always show everything)
    #[arg(long)]
    pub full: bool,

    /// Exit 1 when a reply has status error or a channel crashes or is closed by the server
    #[arg(long)]
    pub fail: bool,

    /// Do not read or write the history file
    #[arg(long)]
    pub no_history: bool,

    /// Print secrets as they are: connect params such as token or password, --auth-token, the values of --param-cmd and --auth-token-cmd, and Authorization/Cookie headers are otherwise shown as REDACTED
    #[arg(long)]
    pub show_secrets: bool,

    /// Stop a script at its first failure (a failed expect or wait, an invalid line, a timeout)
    #[arg(long)]
    pub bail: bool,

    /// Do not print the summary line on stderr at the end of a piped run
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Run COMMAND first, then go on at the prompt (or with stdin); repeatable
    #[arg(short = 'e', long = "exec", value_name = "COMMAND")]
    pub exec: Vec<String>,

    /// Run the script FILE first, then go on at the prompt (or with stdin); repeatable
    #[arg(short = 'f', long = "file", value_name = "SCRIPT")]
    pub file: Vec<PathBuf>,

    /// Write a JUnit XML report of the piped or -f script to FILE (a testcase per expect, wait, refute and failed line)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write every line run to FILE as a replayable script, with replies and messages as comments
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Exit after the -e and -f commands instead of going on at the prompt or with stdin
    #[arg(long, requires = "first")]
    pub exit: bool,

    /// `-e` and `-f` in command-line order (filled in by `parse`).
    #[arg(skip)]
    pub first: Vec<First>,
    /// Do not reconnect when the connection drops: end the run (exit code 3)
    #[arg(long)]
    pub no_reconnect: bool,

    /// Retry the first connection too, with the reconnect backoff, if it fails
    #[arg(long)]
    pub retry: bool,

    /// Give up after N failed connection attempts in a row [default: unlimited at the prompt, 10 in scripts]
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,

    /// Run the piped script on N clients at once, named c1 … cN (`${CLIENT}`, `${N}`); prints an aggregated summary
    #[arg(long, value_name = "N", value_parser = parse_clients)]
    pub clients: Option<usize>,

    /// With --clients: open at most this many clients per second [default: as fast as the server accepts them]
    #[arg(long, value_name = "PER_SECOND", requires = "clients", value_parser = parse_ramp)]
    pub ramp: Option<f64>,

    /// With --clients: print every client's lines, not only failures and the summary
    #[arg(short = 'v', long, requires = "clients")]
    pub verbose: bool,

    /// The topic of Absinthe's control channel, which `gql` joins
    #[arg(long, value_name = "TOPIC", default_value = "__absinthe__:control")]
    pub gql_topic: String,

    /// The first client's name, shown once `connect NAME` opens another (default: main)
    #[arg(long = "as", value_name = "NAME", default_value = "main", value_parser = parse_client_name)]
    pub name: String,

    /// The LiveView socket's path on the page's host, for `live`
    #[arg(long, value_name = "PATH", default_value = "/live", value_parser = parse_live_path)]
    pub live_path: String,

    /// `live`: follow a redirect away from the page (e.g. to a login page) instead of stopping
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Websocket,
    Longpoll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A normalised socket URL.
    Url(url::Url),
    /// Start the built-in server and connect to it.
    BuiltIn,
}

/// Client settings, resolved once from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    /// Connect params for the built-in target (a real URL has them in its query).
    pub params: Vec<(String, String)>,
    /// Handshake headers: `-H`, plus Origin and the auth token's
    /// Sec-WebSocket-Protocol.
    pub headers: Vec<(String, String)>,
    /// `--transport longpoll` (the built-in target needs to know).
    pub longpoll: bool,
    /// Whom to trust for wss://.
    pub trust: Trust,
    /// The serializer to ask for when the URL names none.
    pub vsn: Vsn,
    /// `None` when heartbeats are off.
    pub heartbeat: Option<Duration>,
    pub timeout: Duration,
    pub json: bool,
    pub color: ColorChoice,
    /// `--timestamps`, `--pretty`, `--raw`.
    pub display: crate::output::Display,
    pub show_heartbeats: bool,
    pub fail: bool,
    pub history: bool,
    /// `--show-secrets`: print secret values instead of `REDACTED`.
    pub show_secrets: bool,
    pub bail: bool,
    pub quiet: bool,
    /// `-e` lines and `-f` scripts to run first, in order.
    pub first: Vec<First>,
    /// Exit after them.
    pub exit: bool,
    /// `--record FILE`.
    pub record: Option<PathBuf>,
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    pub reconnect: bool,
    pub retry: bool,
    /// `None`: the mode's default (unlimited at the prompt, 10 piped).
    pub max_retries: Option<u32>,
    /// `--param-cmd` and `--auth-token-cmd`, run before every attempt.
    pub fresh: Vec<Source>,
    /// `--as NAME`: the first client's name.
    pub name: String,
    /// `--clients N`: fan-out.
    pub clients: Option<usize>,
    /// `--gql-topic`.
    pub gql_topic: String,
    pub ramp: Option<f64>,
    pub verbose: bool,
    /// `--live-path`.
    pub live_path: String,
    /// `--follow`.
    pub follow: bool,
}

impl Config {
    /// What a LiveView is opened with (`live`), from the flags.
    pub fn live_options(&self) -> crate::runner::LiveOptions {
        crate::runner::LiveOptions {
            trust: self.trust.clone(),
            headers: self.headers.clone(),
            timeout: self.timeout,
            live_path: self.live_path.clone(),
            params: self.params.clone(),
            follow: self.follow,
            longpoll: self.longpoll,
            vsn: self.vsn,
        }
    }
}

/// Client arguments that parse one by one but not together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL cannot be made into a socket URL.
    #[error(transparent)]
    Url(#[from] endpoint::UrlError),
    #[error(
        "`{0}` is for TLS, but this connection is not encrypted; \
         use a wss:// or https:// URL, or leave `{0}` out"
    )]
    TlsFlagWithoutTls(&'static str),
    #[error("`{0}` is not an origin; give one like `--origin https://example.com`")]
    NotAnOrigin(String),
    #[error("`--auth-token` needs a token; try `--auth-token abc123`")]
    EmptyAuthToken,
    #[error(
        "connect param `{0}` comes from both `--param-cmd {0}=…` and `-p`/the URL; \
         keep one of them"
    )]
    ParamTwice(String),
    #[error("`--param-cmd {0}=…` is given twice; keep one command per param")]
    ParamCmdTwice(String),
    #[error(
        "`--auth-token-cmd` and `--auth-token` (or PHX_REPL_AUTH_TOKEN) both give the auth \
         token; keep one of them"
    )]
    AuthTokenTwice,
}

impl ClientArgs {
    /// Validates and normalises the client arguments.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let target = match &self.url {
            Some(u) => Target::Url(
                endpoint::normalize_for(
                    u,
                    &self.params,
                    self.vsn,
                    self.transport == Transport::Longpoll,
                )
                .map_err(ConfigError::Url)?,
            ),
            None => Target::BuiltIn,
        };
        let tls_flag = if self.insecure {
            Some("--insecure")
        } else {
            self.ca_cert.as_ref().map(|_| "--ca-cert")
        };
        let tls_url = matches!(&target, Target::Url(u) if matches!(u.scheme(), "wss" | "https"));
        if let Some(flag) = tls_flag
            && !tls_url
        {
            return Err(ConfigError::TlsFlagWithoutTls(flag));
        }
        let fresh = self.fresh_sources(&target)?;
        let mut headers = self.headers;
        if let Some(origin) = self.origin {
            if url::Url::parse(&origin).is_err() {
                return Err(ConfigError::NotAnOrigin(origin));
            }
            headers.push(("Origin".to_owned(), origin));
        }
        if let Some(token) = &self.auth_token {
            if token.is_empty() {
                return Err(ConfigError::EmptyAuthToken);
            }
            headers.push(endpoint::auth_token_header(token));
        }
        Ok(Config {
            target,
            params: self.params,
            headers,
            longpoll: self.transport == Transport::Longpoll,
            trust: Trust {
                ca_cert: self.ca_cert,
                insecure: self.insecure,
            },
            vsn: self.vsn,
            heartbeat: (!self.heartbeat.is_zero()).then_some(self.heartbeat),
            timeout: self.timeout,
            json: self.json,
            color: self.color,
            display: crate::output::Display {
                timestamps: self.timestamps,
                pretty: self.pretty,
                raw: self.raw,
                full: self.full,
            },
            show_heartbeats: self.show_heartbeats,
            fail: self.fail,
            history: !self.no_history,
            show_secrets: self.show_secrets,
            bail: self.bail,
            quiet: self.quiet,
            first: if self.first.is_empty() {
                // Built by `try_parse_from` in tests: -e lines, then -f files.
                self.exec
                    .into_iter()
                    .map(First::Exec)
                    .chain(self.file.into_iter().map(First::File))
                    .collect()
            } else {
                self.first
            },
            exit: self.exit,
            record: self.record,
            junit: self.junit,
            reconnect: !self.no_reconnect,
            retry: self.retry,
            max_retries: self.max_retries,
            fresh,
            name: self.name,
            clients: self.clients,
            gql_topic: self.gql_topic,
            ramp: self.ramp,
            verbose: self.verbose,
            live_path: self.live_path,
            follow: self.follow,
        })
    }

    /// The `--param-cmd` and `--auth-token-cmd` commands, each value given
    /// one way only.
    fn fresh_sources(&self, target: &Target) -> Result<Vec<Source>, ConfigError> {
        let mut fresh = Vec::new();
        for (key, command) in &self.param_cmds {
            let given = self.params.iter().any(|(k, _)| k == key)
                || matches!(target, Target::Url(u) if u.query_pairs().any(|(k, _)| k == *key));
            if given {
                return Err(ConfigError::ParamTwice(key.clone()));
            }
            if fresh
                .iter()
                .any(|s: &Source| s.slot == Slot::Param(key.clone()))
            {
                return Err(ConfigError::ParamCmdTwice(key.clone()));
            }
            fresh.push(Source {
                slot: Slot::Param(key.clone()),
                command: command.clone(),
            });
        }
        if let Some(command) = &self.auth_token_cmd {
            if self.auth_token.is_some() {
                return Err(ConfigError::AuthTokenTwice);
            }
            fresh.push(Source {
                slot: Slot::AuthToken,
                command: command.clone(),
            });
        }
        Ok(fresh)
    }
}

/// `HOST:PORT` for `serve --listen`; the host is resolved when binding.
fn parse_listen(s: &str) -> Result<String, String> {
    let usage = "expected --listen HOST:PORT, e.g. 127.0.0.1:4000 (port 0 picks a free one)";
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(s.to_owned()),
        Some((host, port)) if !host.is_empty() && port.parse::<u64>().is_ok() => {
            Err(format!("port {port} is out of range: {usage}"))
        }
        _ => Err(usage.to_owned()),
    }
}

/// Seconds as a whole or decimal number (`30`, `0.5`).
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds; try `30` or `0.5`"))?;
    if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!("`{s}` is out of range; give seconds from 0 up"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Like `parse_secs`, but zero is refused: every reply would time out.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err("a timeout of 0 would time out every reply; try `--timeout 10`".to_owned());
    }
    Ok(d)
}

fn parse_vsn(s: &str) -> Result<Vsn, String> {
    Vsn::from_param(s.trim())
        .ok_or_else(|| format!("`{s}` is not a serializer version; use `2.0.0` or `1.0.0`"))
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE; try `-p token=abc`")),
    }
}

fn parse_param_cmd(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, c)) if !k.is_empty() && !c.trim().is_empty() => Ok((k.to_owned(), c.to_owned())),
        _ => Err(format!(
            "`{s}` is not KEY=COMMAND; try `--param-cmd 'token=cat ~/.phx-token'`"
        )),
    }
}

fn parse_token_cmd(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("the command is empty; try `--auth-token-cmd 'cat ~/.phx-token'`".into());
    }
    Ok(s.to_owned())
}

/// Clients at most in one fan-out: each needs a socket, and past this a
/// single machine measures itself more than the server.
pub const MAX_CLIENTS: usize = 100_000;

/// `--clients N`: from 1 to `MAX_CLIENTS`.
fn parse_clients(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("--clients needs at least 1; try `--clients 10`".to_owned()),
        Ok(n) if n > MAX_CLIENTS => Err(format!(
            "--clients {n} is more than {MAX_CLIENTS}, the most one process opens; \
             for more load, run a distributed load tool such as Tsung"
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{s}` is not a number of clients; try `--clients 100`"
        )),
    }
}

/// `--ramp PER_SECOND`: a positive rate.
fn parse_ramp(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "`{s}` is not a rate; give clients per second, e.g. `--ramp 100`"
        )),
    }
}

/// `phx-repl live URL`'s page, with a scheme: a bare `host:port/path` is
/// `http://…` (`https://…` on port 443), as the main command takes one
/// for `ws://…`. A `ws(s)://` URL stands for its `http(s)` twin.
pub fn page_url(typed: &str) -> Result<String, String> {
    let has_scheme = typed.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let with_scheme = if has_scheme {
        typed.to_owned()
    } else {
        let host = typed.split(['/', '?', '#']).next().unwrap_or_default();
        let tls = host.rsplit_once(':').is_some_and(|(_, port)| port == "443");
        format!("{}://{typed}", if tls { "https" } else { "http" })
    };
    let bad = |why: &str| {
        format!("`{typed}` is not a page URL ({why}); try `http://localhost:4000/counter`")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
        return Err(bad(&format!(
            "a page is http:// or https://, not {}://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    Ok(with_scheme)
}

/// `--as NAME`: a name `@NAME` can use.
/// `--live-path`: a path starting with `/`.
fn parse_live_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') && !s.contains(char::is_whitespace) {
        Ok(s.trim_end_matches('/').to_owned())
            .map(|p| if p.is_empty() { "/".to_owned() } else { p })
    } else {
        Err(format!("`{s}` is not a path; try `--live-path /live`"))
    }
}

fn parse_client_name(s: &str) -> Result<String, String> {
    match crate::lang::clients::split_client(&format!("@{s} x")) {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, value))
            if !name.trim().is_empty() && !name.trim().contains(char::is_whitespace) =>
        {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!(
            "`{s}` is not a header; try `-H 'Authorization: Bearer abc'`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("phx-repl").chain(args.iter().copied()))
    }

    #[test]
    fn serve_liveview_says_it_covers_every_page() {
        let serve = command().find_subcommand("serve").unwrap().clone();
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id() == "liveview")
            .unwrap();
        let help = arg.get_help().unwrap().to_string();
        assert!(
            help.contains("every page (/counter, /chat, /demo"),
            "{help}"
        );
    }

    #[test]
    fn a_page_without_a_scheme_is_http_and_a_bad_one_shows_a_page_url() {
        assert_eq!(
            page_url("127.0.0.1:4000/counter").unwrap(),
            "http://127.0.0.1:4000/counter"
        );
        assert_eq!(
            page_url("example.com:443/x").unwrap(),
            "https://example.com:443/x"
        );
        assert_eq!(page_url("https://h/x").unwrap(), "https://h/x");
        let bad = page_url("http://[x/counter").unwrap_err();
        assert!(
            bad.ends_with("try `http://localhost:4000/counter`"),
            "{bad}"
        );
        assert!(page_url("ftp://h/x").unwrap_err().contains("not ftp://"));
    }
    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    fn resolve(args: &[&str]) -> Result<Config, String> {
        parse(args)
            .map_err(|e| e.to_string())?
            .client
            .resolve()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn credential_commands_become_sources_in_order() {
        let cfg = resolve(&[
            "ws://h/socket",
            "--param-cmd",
            "token=vault read -field=token x",
            "--auth-token-cmd",
            "cat t",
        ])
        .unwrap();
        assert_eq!(
            cfg.fresh,
            [
                Source {
                    slot: Slot::Param("token".into()),
                    command: "vault read -field=token x".into(),
                },
                Source {
                    slot: Slot::AuthToken,
                    command: "cat t".into(),
                },
            ]
        );
    }

    #[test]
    fn a_value_from_a_command_and_from_a_flag_is_refused() {
        let twice = resolve(&["ws://h/socket", "--param-cmd", "token=x", "-p", "token=y"]);
        assert!(twice.unwrap_err().contains("keep one of them"));
        let in_url = resolve(&["ws://h/socket?token=y", "--param-cmd", "token=x"]);
        assert!(in_url.unwrap_err().contains("`--param-cmd token=…`"));
        let cmd_twice = resolve(&["ws://h/s", "--param-cmd", "k=a", "--param-cmd", "k=b"]);
        assert!(cmd_twice.unwrap_err().contains("given twice"));
        let token = resolve(&["ws://h/s", "--auth-token-cmd", "x", "--auth-token", "y"]);
        assert!(
            token
                .unwrap_err()
                .contains("`--auth-token-cmd` and `--auth-token`")
        );
        // Other keys are fine together.
        assert!(resolve(&["ws://h/s", "--param-cmd", "token=x", "-p", "user=y"]).is_ok());
    }

    #[test]
    fn a_credential_command_must_say_something() {
        assert!(
            resolve(&["--param-cmd", "token"])
                .unwrap_err()
                .contains("KEY=COMMAND")
        );
        assert!(
            resolve(&["--param-cmd", "=cat t"])
                .unwrap_err()
                .contains("KEY=COMMAND")
        );
        assert!(
            resolve(&["--auth-token-cmd", " "])
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn exec_and_file_keep_their_order() {
        let m = command()
            .try_get_matches_from(["phx-repl", "-f", "a.phx", "-e", "join x", "-f", "b.phx"])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert_eq!(
            first_lines_in_order(&m, &cli.client),
            vec![
                First::File("a.phx".into()),
                First::Exec("join x".into()),
                First::File("b.phx".into())
            ]
        );
    }

    #[test]
    fn exit_needs_something_to_run() {
        assert!(parse(&["--exit"]).is_err());
        assert!(parse(&["-e", "topics", "--exit"]).is_ok());
    }

    #[test]
    fn completions_take_a_shell() {
        assert!(matches!(
            parse(&["completions", "bash"]).unwrap().command,
            Some(Sub::Completions { .. })
        ));
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn help_lists_every_repl_command() {
        let help = after_help();
        for c in command::COMMANDS {
            assert!(help.contains(&format!("  {}", c.name)), "{}", c.name);
        }
    }

    #[test]
    fn help_says_a_failed_expectation_exits_1() {
        assert!(after_help().contains("1 a line failed (invalid, a failed expect or wait,"));
    }

    #[test]
    fn no_arguments_means_the_built_in_server() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let cfg = cli.client.resolve().unwrap();
        assert_eq!(cfg.target, Target::BuiltIn);
        assert_eq!(cfg.heartbeat, Some(Duration::from_secs(30)));
        assert_eq!(cfg.timeout, Duration::from_secs(10));
    }

    #[test]
    fn heartbeat_zero_turns_heartbeats_off() {
        let cfg = parse(&["--heartbeat", "0"])
            .unwrap()
            .client
            .resolve()
            .unwrap();
        assert_eq!(cfg.heartbeat, None);
    }

    #[test]
    fn fractional_seconds_are_accepted() {
        let cfg = parse(&["--timeout", "0.25"])
            .unwrap()
            .client
            .resolve()
            .unwrap();
        assert_eq!(cfg.timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(parse(&["--timeout", "soon"]).is_err());
        assert!(parse(&["--timeout", "0"]).is_err());
        assert!(parse(&["-p", "novalue"]).is_err());
        assert!(parse(&["-H", "NoColon"]).is_err());
        assert!(parse(&["--color", "sometimes"]).is_err());
    }

    #[test]
    fn reconnect_flags_resolve() {
        let cfg = parse(&[]).unwrap().client.resolve().unwrap();
        assert!(cfg.reconnect && !cfg.retry);
        assert_eq!(cfg.max_retries, None);
        let cfg = parse(&["--no-reconnect", "--retry", "--max-retries", "3"])
            .unwrap()
            .client
            .resolve()
            .unwrap();
        assert!(!cfg.reconnect && cfg.retry);
        assert_eq!(cfg.max_retries, Some(3));
        assert!(parse(&["--max-retries", "-1"]).is_err());
    }

    #[test]
    fn params_and_headers_repeat() {
        let cli = parse(&["ws://h/socket", "-p", "a=1", "-p", "b=x=y", "-H", "X-A: 1"]).unwrap();
        assert_eq!(
            cli.client.params,
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert_eq!(cli.client.headers, vec![("X-A".into(), "1".into())]);
    }

    #[test]
    fn vsn_picks_the_serializer_and_the_url_wins() {
        let cfg = |args: &[&str]| parse(args).unwrap().client.resolve().unwrap();
        assert_eq!(cfg(&[]).vsn, Vsn::V2);
        assert_eq!(cfg(&["--vsn", "1.0.0"]).vsn, Vsn::V1);
        match cfg(&["ws://h/socket?vsn=2.0.0", "--vsn", "1.0.0"]).target {
            Target::Url(u) => assert_eq!(endpoint::vsn_of(&u), Vsn::V2),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["--vsn", "3"]).is_err());
    }

    #[test]
    fn auth_token_goes_in_the_subprotocol_header_without_padding() {
        assert_eq!(
            endpoint::auth_token_header("abc1"),
            (
                "Sec-WebSocket-Protocol".to_owned(),
                "phoenix, base64url.bearer.phx.YWJjMQ".to_owned()
            )
        );
        let cfg = parse(&["--auth-token", "t", "--origin", "http://a.example"])
            .unwrap()
            .client
            .resolve()
            .unwrap();
        assert!(
            cfg.headers
                .contains(&("Origin".into(), "http://a.example".into()))
        );
        assert!(
            cfg.headers
                .iter()
                .any(|(k, _)| k == "Sec-WebSocket-Protocol")
        );
    }

    #[test]
    fn tls_flags_without_tls_are_usage_errors() {
        let resolve = |args: &[&str]| parse(args).unwrap().client.resolve();
        assert!(
            resolve(&["ws://h/socket", "--insecure"])
                .unwrap_err()
                .to_string()
                .contains("`--insecure`")
        );
        assert!(resolve(&["--ca-cert", "ca.pem"]).is_err());
        assert!(resolve(&["wss://h/socket", "--insecure"]).is_ok());
        assert!(
            resolve(&[
                "wss://h/socket",
                "--transport",
                "longpoll",
                "--ca-cert",
                "c"
            ])
            .is_ok()
        );
    }

    #[test]
    fn bad_origin_and_tls_flags_are_usage_errors() {
        assert!(
            parse(&["--origin", "nope"])
                .unwrap()
                .client
                .resolve()
                .is_err()
        );
        assert!(parse(&["--insecure", "--ca-cert", "x.pem"]).is_err());
        assert!(parse(&["serve", "--tls-cert", "c.pem"]).is_err());
    }

    #[test]
    fn serve_refuses_a_listen_address_without_a_port() {
        for bad in [
            "nonsense",
            "127.0.0.1",
            ":4000",
            "127.0.0.1:99999",
            "host:port",
        ] {
            let e = parse(&["serve", "--listen", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(
                e.to_string()
                    .contains("--listen HOST:PORT, e.g. 127.0.0.1:4000"),
                "{e}"
            );
        }
        assert!(parse(&["serve", "--listen", "[::1]:0"]).is_ok());
        assert!(parse(&["serve", "--listen", "localhost:4000"]).is_ok());
    }

    #[test]
    fn test_takes_paths_and_checks_what_it_passes_on() {
        match parse(&["test", "smoke/", "a.phx", "--jobs", "2", "--timeout", "0.5"])
            .unwrap()
            .command
        {
            Some(Sub::Test(t)) => {
                assert_eq!(t.paths, ["smoke/", "a.phx"]);
                assert_eq!(t.jobs, Some(2));
                assert_eq!(t.timeout.as_deref(), Some("0.5"));
            }
            other => panic!("{other:?}"),
        }
        let options = match parse(&["test", "a.phx", "-p", "k=v", "--transport", "longpoll"])
            .unwrap()
            .command
        {
            Some(Sub::Test(t)) => t.into_options(),
            other => panic!("{other:?}"),
        };
        assert_eq!(options.pass, ["--param", "k=v", "--transport", "longpoll"]);
        assert!(parse(&["test"]).is_err());
        assert!(parse(&["test", "a.phx", "--jobs", "0"]).is_err());
        assert!(parse(&["test", "a.phx", "--timeout", "0"]).is_err());
        assert!(parse(&["test", "a.phx", "--vsn", "3"]).is_err());
    }

    #[test]
    fn serve_takes_a_listen_address() {
        let cli = parse(&["serve", "--listen", "127.0.0.1:0"]).unwrap();
        match cli.command {
            Some(Sub::Serve(s)) => assert_eq!(s.listen, "127.0.0.1:0"),
            other => panic!("{other:?}"),
        }
    }
}

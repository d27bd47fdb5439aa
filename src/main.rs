//! phx-repl: arguments → mode (serve | interactive | script) → exit code.
//!
//! This file wires the pieces together and is the one place that prints a
//! fatal `phx-repl: error: …` and picks the exit code.

use phx_repl::core::endpoint;
use phx_repl::runner::{prompt, recorder};
use phx_repl::transport::{fresh, longpoll, net, tls};
use phx_repl::{cli, output, runner, server, suite};

use std::io::{self, IsTerminal, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

use cli::{ColorChoice, Config, Sub, Target};
use nix::sys::signal::{SigSet, Signal};
use output::Style;
use runner::{
    EXIT_CONNECTION, EXIT_FAILED, Input, Mode, Outcome, ReadAhead, Runner, Settings, Sink,
    spawn_stdin_reader,
};

/// Script lines read ahead of the one running, at most.
const SCRIPT_READ_AHEAD: usize = 64;
/// Failed connection attempts in a row after which a script gives up
/// (`--max-retries`); at the prompt there is no limit by default.
const SCRIPT_MAX_RETRIES: u32 = 10;

/// Exit codes (documented in the README and `--help`).
const EXIT_USAGE: u8 = 2;
const EXIT_SIGINT: u8 = 130;
const EXIT_SIGTERM: u8 = 143;

/// A fatal error: what to print after `phx-repl: error:`, and which kind
/// of failure it is, which decides the exit code (in [`Fatal::code`]).
enum Fatal {
    /// The arguments or a file they name are wrong: exit 2.
    Usage(String),
    /// The server could not be reached or the connection was lost: exit 3.
    Connection(String),
    /// Anything else that stops the run: exit 1.
    Failed(String),
}

impl Fatal {
    fn usage(message: impl Into<String>) -> Fatal {
        Fatal::Usage(message.into())
    }

    fn connection(message: impl Into<String>) -> Fatal {
        Fatal::Connection(message.into())
    }

    fn failed(message: impl Into<String>) -> Fatal {
        Fatal::Failed(message.into())
    }

    fn message(&self) -> &str {
        match self {
            Fatal::Usage(m) | Fatal::Connection(m) | Fatal::Failed(m) => m,
        }
    }

    /// The one place a fatal error becomes an exit code.
    fn code(&self) -> u8 {
        match self {
            Fatal::Usage(_) => EXIT_USAGE,
            Fatal::Connection(_) => EXIT_CONNECTION,
            Fatal::Failed(_) => EXIT_FAILED,
        }
    }
}

fn main() -> ExitCode {
    one_malloc_arena();
    let cli = cli::parse();
    // Nothing to hide until the client's arguments say otherwise.
    let mut redactor = endpoint::Redactor::default();
    let result = match cli.command {
        Some(Sub::Serve(args)) => serve(&args),
        Some(Sub::Completions { shell }) => {
            let mut cmd = cli::command();
            clap_complete::generate(shell, &mut cmd, "phx-repl", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Test(args)) => test(args),
        Some(Sub::Man) => clap_mangen::Man::new(cli::command())
            .render(&mut io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .or_else(|e| {
                // `phx-repl man | head` is fine.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    Ok(ExitCode::SUCCESS)
                } else {
                    Err(Fatal::failed(e.to_string()))
                }
            }),
        Some(Sub::Live(args)) => {
            redactor = secrets(&args.client);
            let scrub = redactor.clone();
            live(args.client, scrub)
        }
        None => {
            redactor = secrets(&cli.client);
            let scrub = redactor.clone();
            cli.client
                .resolve()
                .map_err(|e| Fatal::usage(e.to_string()))
                .and_then(|config| client(config, scrub, None))
        }
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            // Not eprintln: a closed stderr is no reason to panic.
            let message = redactor.scrub(f.message());
            let _ = writeln!(io::stderr(), "phx-repl: error: {message}");
            ExitCode::from(f.code())
        }
    }
}

fn serve(args: &cli::ServeArgs) -> Result<ExitCode, Fatal> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(tls::server_config(cert, key).map_err(|e| Fatal::usage(e.to_string()))?)
        }
        _ => None,
    };
    let listener = TcpListener::bind(&args.listen).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            "; the port is taken: pick another, or `--listen 127.0.0.1:0` for a free one"
        } else {
            ""
        };
        Fatal::connection(format!("cannot listen on `{}`: {e}{hint}", args.listen))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Fatal::connection(e.to_string()))?;
    // Tests and scripts read this line for the port. A closed stdout is no
    // reason to stop serving.
    let mut stdout = io::stdout();
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let _ = writeln!(stdout, "listening on {scheme}://{addr}/socket").and_then(|()| stdout.flush());
    let options = server::Options {
        idle_timeout: args.idle_timeout,
        log: true,
        tls,
        policy: server::Policy {
            require_auth_token: args.require_auth_token.clone(),
            check_origin: args.check_origin.clone(),
        },
        liveview: args.liveview,
    };
    server::run(listener, options).map_err(|e| Fatal::connection(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// `phx-repl test`: the files run against `--url`, `PHX_REPL_URL`, or
/// the built-in server started here once for all of them.
fn test(args: cli::TestArgs) -> Result<ExitCode, Fatal> {
    match args.color {
        ColorChoice::Always => colored::control::set_override(true),
        ColorChoice::Never => colored::control::set_override(false),
        ColorChoice::Auto => {}
    }
    let url = match &args.url {
        Some(u) => u.clone(),
        None => {
            let cannot_start =
                |e: io::Error| Fatal::connection(format!("cannot start the built-in server: {e}"));
            let listener = TcpListener::bind("127.0.0.1:0").map_err(cannot_start)?;
            let addr = server::spawn(listener, built_in_options()).map_err(cannot_start)?;
            format!("ws://{addr}/socket")
        }
    };
    match suite::run(&args.into_options(), &url) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e @ suite::Error::Usage(_)) => Err(Fatal::usage(e.to_string())),
        Err(e) => Err(Fatal::failed(e.to_string())),
    }
}

/// How the built-in server runs inside the client's process.
fn built_in_options() -> server::Options {
    server::Options {
        idle_timeout: Duration::from_secs(60),
        log: false,
        tls: None,
        policy: server::Policy::default(),
        liveview: server::LiveFormat::default(),
    }
}

/// `phx-repl live [URL]`: the page is fetched first (the built-in
/// server's `/counter` without a URL), then the first client connects to
/// its `/live` socket and joins its view.
fn live(mut args: cli::ClientArgs, redactor: endpoint::Redactor) -> Result<ExitCode, Fatal> {
    if args.clients.is_some() {
        return Err(Fatal::usage(
            "--clients runs a channel script on N sockets and does not open pages; \
             to put several users on one page, open each in the script with \
             `connect NAME live URL`",
        ));
    }
    // The page's URL is resolved as a socket URL only for the checks on
    // the flags (TLS flags need an https page); the socket is its `/live`.
    args.url = args
        .url
        .as_deref()
        .map(cli::page_url)
        .transpose()
        .map_err(Fatal::usage)?;
    let page = args.url.clone();
    // `-p` goes on the `/live` socket, as a LiveSocket's `params` do; the
    // page's URL keeps its own query.
    let params = std::mem::take(&mut args.params);
    let mut config = args.resolve().map_err(|e| Fatal::usage(e.to_string()))?;
    config.params = params;
    let (page, started) = match page {
        Some(p) => (p, None),
        None => {
            let (url, started) = start_built_in(&config, LIVE_HINT)?;
            let origin = format!(
                "http://{}:{}/counter",
                url.host_str().unwrap_or("127.0.0.1"),
                url.port().unwrap_or(80)
            );
            (origin, Some(started))
        }
    };
    let prepared = runner::prepare(&page, None, config.live_options()).map_err(|e| match e {
        // What was typed is wrong, not the network.
        runner::LiveError::NotAUrl(_) | runner::LiveError::SocketUrl { .. } => {
            Fatal::usage(e.to_string())
        }
        e => Fatal::connection(e.to_string()),
    })?;
    config.target = Target::Url(prepared.socket.clone());
    config.headers = prepared.headers.clone();
    client(config, redactor, Some((prepared, started)))
}

/// The first client is a LiveView (`phx-repl live`): its page, and the
/// built-in server's announcement when it was started for it.
type FirstLive = (runner::Prepared, Option<(String, String)>);

fn client(
    config: Config,
    redactor: endpoint::Redactor,
    live: Option<FirstLive>,
) -> Result<ExitCode, Fatal> {
    // Before any thread starts, so that every thread inherits the mask and
    // only the signal thread sees SIGINT and SIGTERM.
    let signals = block_signals();
    // The prompt thread may still be inside rustyline (raw mode) when the
    // run ends; put the terminal back as we found it whatever happens.
    let _terminal = TerminalGuard::save();
    set_color(config.color);
    let first = first_lines(&config.first)?;
    let junit = junit_target(&config)?;
    if let Some(n) = config.clients {
        return fan_out(config, n, first, redactor, signals);
    }
    // With --exit nothing is read after the -e and -f lines, so there is no prompt.
    let interactive = io::stdin().is_terminal() && !config.exit;
    let style = style(&config, interactive);
    let (live, live_started) = live.unzip();
    let (url, started) = match &config.target {
        Target::Url(u) => (u.clone(), live_started.flatten()),
        Target::BuiltIn => start_built_in(&config, SOCKET_HINT).map(|(url, s)| (url, Some(s)))?,
    };
    let shown_url = if config.show_secrets {
        url.to_string()
    } else {
        endpoint::redact(&with_fresh_params(&url, &config.fresh))
    };
    let page_url = live.as_ref().map(|p| match config.show_secrets {
        true => p.page_url().to_string(),
        false => endpoint::redact(p.page_url()),
    });
    let record = record(&config, &shown_url, page_url.as_deref())?;

    let (tx, rx) = mpsc::channel::<Input>();
    if !first.is_empty() {
        let _ = tx.send(Input::First(first));
    }
    if let Some(set) = signals {
        spawn_signal_thread(set, interactive, tx.clone())
            .map_err(|e| Fatal::failed(format!("cannot watch for signals: {e}")))?;
    }
    let base = base(&config, &url, &redactor, interactive);
    let net = start_network(&base, tx.clone())?;
    let inputs = tx.clone();
    let (sink, mode) = if interactive {
        prompt_front_end(&config, &url, tx)?
    } else {
        script_front_end(&config, tx)?
    };

    let mut runner = Runner::new(
        rx,
        net,
        sink,
        Settings {
            style,
            timeout: config.timeout,
            fail: config.fail,
            bail: config.bail,
            summary: !interactive && !config.quiet,
            mode,
            shown_url,
            page_url,
            name: config.name.clone(),
            base,
            gql_topic: config.gql_topic.clone(),
            record: record.map(|r| r.scrubbing(redactor.clone())),
            redactor,
            insecure: config.trust.insecure && url.scheme() == "wss",
            junit,
            inputs: Some(inputs),
        },
    );
    if let Some((text, url)) = started {
        runner.info(output::Info::ServerStarted { url: &url }, &text);
    }
    if let Some(prepared) = live {
        runner.install_live(prepared);
    }
    match runner.run() {
        Outcome::CouldNotConnect(message) => Err(Fatal::connection(message)),
        outcome => Ok(ExitCode::from(outcome.exit_code())),
    }
}

fn set_color(choice: ColorChoice) {
    match choice {
        ColorChoice::Always => colored::control::set_override(true),
        ColorChoice::Never => colored::control::set_override(false),
        ColorChoice::Auto => {}
    }
}

/// `--record FILE`, created before connecting so a bad path fails at once.
fn record(
    config: &Config,
    shown_url: &str,
    page_url: Option<&str>,
) -> Result<Option<recorder::Recorder>, Fatal> {
    let Some(path) = &config.record else {
        return Ok(None);
    };
    recorder::Recorder::create(path, shown_url, page_url)
        .map(Some)
        .map_err(|e| Fatal::usage(format!("cannot record to `{}`: {e}", path.display())))
}

/// `--junit FILE` for a normal run: a script (piped, or `-f` with
/// `--exit`) and a file that can be written, checked before connecting.
fn junit_target(config: &Config) -> Result<Option<runner::report::Junit>, Fatal> {
    let Some(path) = &config.junit else {
        return Ok(None);
    };
    if config.clients.is_some() {
        return Err(Fatal::usage(
            "--junit reports on one script run; leave out --clients, \
             or run the files with `phx-repl test FILE… --junit FILE`",
        ));
    }
    if io::stdin().is_terminal() && !config.exit {
        return Err(Fatal::usage(
            "--junit reports on a script; pipe one in (`phx-repl URL --junit report.xml < smoke.phx`), \
             or give it with `-f smoke.phx --exit`",
        ));
    }
    output::junit::check_writable(path).map_err(|e| {
        Fatal::usage(format!(
            "cannot write the JUnit report `{}`: {e}",
            path.display()
        ))
    })?;
    let files: Vec<_> = config
        .first
        .iter()
        .filter_map(|f| match f {
            cli::First::File(p) => Some(p.display().to_string()),
            cli::First::Exec(_) => None,
        })
        .collect();
    let file = match files.as_slice() {
        [one] if config.exit => one.clone(),
        _ => "stdin".to_owned(),
    };
    Ok(Some(runner::report::Junit {
        path: path.clone(),
        file,
        fail: config.fail,
    }))
}

/// `--clients N`: the script (`-f`/`-e`, else stdin) on N clients at once.
fn fan_out(
    config: Config,
    n: usize,
    first: Vec<String>,
    redactor: endpoint::Redactor,
    signals: Option<SigSet>,
) -> Result<ExitCode, Fatal> {
    if config.record.is_some() {
        return Err(Fatal::usage(
            "--record writes one session as a script; leave out --clients, \
             or add --json to get every client's records",
        ));
    }
    let text = if !first.is_empty() {
        first.join("\n")
    } else if io::stdin().is_terminal() {
        return Err(Fatal::usage(
            "--clients runs a script on every client; pipe one in, as in \
             `phx-repl --clients 10 URL < script.phx`, or give it with -f",
        ));
    } else {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Fatal::usage(format!("cannot read the script from stdin: {e}")))?;
        text
    };
    let script = runner::fanout::script(&text).map_err(Fatal::usage)?;
    runner::fanout::open_files_for(n, matches!(config.target, Target::BuiltIn))
        .map_err(Fatal::usage)?;
    let url = match &config.target {
        Target::Url(u) => u.clone(),
        Target::BuiltIn => start_built_in(&config, SOCKET_HINT)?.0,
    };
    let (tx, rx) = mpsc::channel::<Input>();
    if let Some(set) = signals {
        spawn_signal_thread(set, false, tx.clone())
            .map_err(|e| Fatal::failed(format!("cannot watch for signals: {e}")))?;
    }
    let out = runner::fanout::Output::new(
        style(&config, false),
        config.verbose,
        !config.quiet,
        redactor.clone(),
    );
    let mut base = base(&config, &url, &redactor, false);
    // Nothing looks at a push's or broadcast's contents: the network
    // thread only counts them, which is most of the work under a busy
    // topic.
    base.options.count_messages = !out.verbose() && !runner::fanout::watches_messages(&script);
    let first = runner::fanout::target_for(&base.target, 0);
    let template = std::mem::replace(&mut base.target, first);
    let net = start_network(&base, tx)?;
    base.target = template;
    let settings = runner::fanout::Settings {
        clients: n,
        ramp: config.ramp,
        timeout: config.timeout,
        fail: config.fail,
        bail: config.bail,
        quiet: config.quiet,
        target: base.target,
        options: base.options,
    };
    // Every client's failure to connect has printed with its name, and
    // the summary counts them: no error line to add, only the exit code.
    let outcome = runner::fanout::FanOut::new(rx, net, settings, script, out).run();
    Ok(ExitCode::from(outcome.exit_code()))
}

/// How events are shown, from the flags and whether there is a prompt.
fn style(config: &Config, interactive: bool) -> Style {
    Style {
        json: config.json,
        dim_sent: interactive,
        at_prompt: interactive,
        show_heartbeats: config.show_heartbeats,
        display: config.display,
        // For --raw; a vsn in the URL wins, as when connecting.
        vsn: match &config.target {
            Target::Url(u) => endpoint::vsn_of(u),
            Target::BuiltIn => config.vsn,
        },
    }
}

/// How to run against one's own app instead, after the built-in server's
/// announcement: a socket URL for `phx-repl`, a page for `phx-repl live`.
const SOCKET_HINT: &str = "phx-repl ws://localhost:4000/socket";
const LIVE_HINT: &str = "phx-repl live http://localhost:4000/PAGE";

/// Starts the built-in server in this process on a free loopback port.
/// Returns the URL to connect to, and the line announcing the server (with
/// `hint`) with its URL as JSON.
fn start_built_in(config: &Config, hint: &str) -> Result<(url::Url, (String, String)), Fatal> {
    let cannot_start =
        |e: io::Error| Fatal::connection(format!("cannot start the built-in server: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").map_err(cannot_start)?;
    let addr = server::spawn(listener, built_in_options()).map_err(cannot_start)?;
    let base = format!("ws://{addr}/socket");
    let started = (
        format!("no URL given: started the built-in server at {base} (for your app: {hint})"),
        base.clone(),
    );
    let url = endpoint::normalize_for(&base, &config.params, config.vsn, config.longpoll)
        .map_err(|e| Fatal::usage(e.to_string()))?;
    Ok((url, started))
}

/// The URL as shown: `--param-cmd` params are in it too, as `REDACTED`
/// (their values come before each connect).
fn with_fresh_params(url: &url::Url, fresh: &[fresh::Source]) -> url::Url {
    let mut shown = url.clone();
    for source in fresh {
        if let fresh::Slot::Param(key) = &source.slot {
            shown.query_pairs_mut().append_pair(key, "REDACTED");
        }
    }
    shown
}

/// The first client's socket, from the flags: where `net::start` connects
/// and what `connect NAME` starts from.
fn base(
    config: &Config,
    url: &url::Url,
    redactor: &endpoint::Redactor,
    interactive: bool,
) -> runner::Base {
    runner::Base {
        url: url.clone(),
        target: net::Target {
            url: url.clone(),
            headers: config.headers.clone(),
            trust: config.trust.clone(),
            // Fresh values are learnt by the screen's redactor too.
            fresh: fresh::Fresh {
                sources: config.fresh.clone(),
                redactor: redactor.clone(),
            },
        },
        options: net::Options {
            // Long-poll sends no heartbeats, as in the JS client (§5).
            heartbeat: config
                .heartbeat
                .filter(|_| longpoll::endpoint(url).is_none()),
            timeout: config.timeout,
            vsn: endpoint::vsn_of(url),
            reconnect: config.reconnect,
            retry: config.retry,
            max_retries: config
                .max_retries
                .or((!interactive).then_some(SCRIPT_MAX_RETRIES)),
            count_messages: false,
        },
        show_secrets: config.show_secrets,
        longpoll: config.longpoll,
        live: config.live_options(),
    }
}

/// Starts the network thread; its event batches reach the runner as input.
fn start_network(base: &runner::Base, tx: mpsc::Sender<Input>) -> Result<net::Handle, Fatal> {
    net::start(base.target.clone(), base.options.clone(), move |events| {
        tx.send(Input::Net(events)).is_ok()
    })
    .map_err(|e| Fatal::connection(format!("cannot start the network thread: {e}")))
}

/// The prompt: a line editor on its own thread, printing through
/// rustyline's external printer when stdout is the terminal.
fn prompt_front_end(
    config: &Config,
    url: &url::Url,
    tx: mpsc::Sender<Input>,
) -> Result<(Sink, Mode), Fatal> {
    let host = url.host_str().unwrap_or("?").to_owned();
    let base = match url.port() {
        Some(p) => format!("phx-repl {host}:{p}"),
        None => format!("phx-repl {host}"),
    };
    let history = config.history.then(history_path).flatten();
    let ready = Arc::new(AtomicBool::new(false));
    let (words_tx, words_rx) = mpsc::channel();
    let mut ed = prompt::editor(history.as_deref(), Arc::clone(&ready), tx.clone(), words_rx)
        .map_err(|e| Fatal::failed(format!("cannot start the line editor: {e}")))?;
    let sink = match ed.create_external_printer() {
        Ok(p) if io::stdout().is_terminal() => Sink::Printer(Box::new(p)),
        _ => Sink::Stdout {
            errors_to_stderr: false,
        },
    };
    let (prompt_tx, prompt_rx) = mpsc::channel();
    // Not joined: the thread may be blocked reading the terminal when
    // the run ends for another reason.
    let connecting = format!("{base} (connecting)> ");
    let _prompt_thread = prompt::spawn(ed, history, prompt_rx, tx, connecting)
        .map_err(|e| Fatal::failed(format!("cannot start the prompt: {e}")))?;
    Ok((
        sink,
        Mode::Interactive {
            prompt: prompt_tx,
            base,
            ready,
            words: words_tx,
        },
    ))
}

/// A script: lines from stdin (unless `--exit`), output to stdout, errors
/// to stderr unless `--json` keeps everything on one stream.
fn script_front_end(config: &Config, tx: mpsc::Sender<Input>) -> Result<(Sink, Mode), Fatal> {
    let read_ahead = Arc::new(ReadAhead::new(SCRIPT_READ_AHEAD));
    if config.exit {
        let _ = tx.send(Input::Eof);
    } else {
        // Not joined either: it may be blocked reading stdin.
        let _stdin_thread = spawn_stdin_reader(tx, Arc::clone(&read_ahead))
            .map_err(|e| Fatal::failed(format!("cannot read stdin: {e}")))?;
    }
    Ok((
        Sink::Stdout {
            errors_to_stderr: !config.json,
        },
        Mode::Script { read_ahead },
    ))
}

/// Asks glibc for a single malloc arena, before any thread starts. By
/// default the network thread gets an arena of its own, and memory freed
/// in one arena cannot serve the other: under a flood of 60-byte frames
/// the process then peaked at 8.0-8.4 MiB, against 7.1-7.5 MiB with one
/// arena, at the same CPU per frame (BENCHMARKS.md). The flood path
/// allocates next to nothing, so the two threads rarely meet at the lock.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; it is called
    // before any other thread exists, and a refusal (0) is harmless.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The lines of `-e` commands and `-f` scripts, in order.
fn first_lines(first: &[cli::First]) -> Result<Vec<String>, Fatal> {
    let mut lines = Vec::new();
    for f in first {
        match f {
            cli::First::Exec(line) => lines.push(line.clone()),
            cli::First::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Fatal::usage(format!("cannot read the script `{}`: {e}", path.display()))
                })?;
                lines.extend(text.lines().map(|l| l.trim_end_matches('\r').to_owned()));
            }
        }
    }
    Ok(lines)
}

/// What must never be printed: secret connect params, `--auth-token` and
/// credential headers (none with `--show-secrets`).
fn secrets(args: &cli::ClientArgs) -> endpoint::Redactor {
    if args.show_secrets {
        return endpoint::Redactor::disabled();
    }
    let mut headers = args.headers.clone();
    if let Some(token) = &args.auth_token {
        headers.push(endpoint::auth_token_header(token));
    }
    endpoint::Redactor::new(
        args.url.as_deref(),
        &args.params,
        &headers,
        args.auth_token.as_deref(),
    )
}

/// Blocks SIGINT and SIGTERM in this thread (and so in every thread it
/// starts); `None` if that fails, leaving the default (immediate exit).
fn block_signals() -> Option<SigSet> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().ok().map(|()| set)
}

/// Waits for SIGINT and SIGTERM and hands them to the runner, which closes
/// the socket with a normal close and exits 128 + the signal number (130,
/// 143), like a shell reports it. At the prompt SIGINT is Ctrl-C: it
/// cancels what is pending.
fn spawn_signal_thread(
    set: SigSet,
    interactive: bool,
    tx: mpsc::Sender<Input>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                let input = match sig {
                    Signal::SIGINT if interactive => Input::Interrupt,
                    Signal::SIGINT => Input::Terminate(EXIT_SIGINT),
                    _ => Input::Terminate(EXIT_SIGTERM),
                };
                if tx.send(input).is_err() {
                    return;
                }
            }
        })
}

/// Restores the terminal's mode, saved at start, when dropped.
struct TerminalGuard(Option<nix::sys::termios::Termios>);

impl TerminalGuard {
    fn save() -> TerminalGuard {
        let stdin = io::stdin();
        TerminalGuard(if stdin.is_terminal() {
            nix::sys::termios::tcgetattr(&stdin).ok()
        } else {
            None
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(mode) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin(),
                nix::sys::termios::SetArg::TCSADRAIN,
                mode,
            );
            // Clear a prompt the editor may still show on the last line,
            // and turn off the bracketed paste it turns on while reading.
            let mut out = io::stdout();
            if out.is_terminal() {
                let _ = out
                    .write_all(b"\r\x1b[K\x1b[?2004l")
                    .and_then(|()| out.flush());
            }
        }
    }
}

/// `$PHX_REPL_HISTORY`, else `$XDG_DATA_HOME/phx-repl/history`, else
/// `~/.local/share/phx-repl/history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PHX_REPL_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("phx-repl").join("history"))
}

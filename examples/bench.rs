//! The benchmark behind the README's Performance section.
//!
//! ```text
//! cargo run --release --example bench              # the full run, a few minutes
//! cargo run --release --example bench -- --quick   # one pass, smaller floods
//! ```
//!
//! It builds the release binary, starts the built-in server (`phx-repl
//! serve`, its own process) and runs each scenario several times,
//! alternating phx-repl with a floor client and, when `websocat` is on
//! PATH, with websocat. The floor is this same executable run as `bench
//! floor …`: a raw tungstenite client that parses the five-element envelope
//! and writes one line per frame, the least any Phoenix-aware client does.
//!
//! Every figure is a whole-process measurement of a child: wall time from
//! spawn to exit, CPU time (user + system) and peak resident memory from the
//! child's `wait4` rusage. The server's CPU time comes from
//! `/proc/PID/stat` before and after. Medians are printed as a Markdown
//! table, then each performance target with the figure that decides it.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The figures websocat reached in the reference measurement, used for the
/// websocat-relative targets when websocat is not installed.
const WEBSOCAT_REFERENCE_FPS: f64 = 1.25e6;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("pty-floor") {
        return match pty_floor(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pty-floor: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("floor") {
        return match floor::run(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("floor: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How big and how often.
struct Plan {
    runs: usize,
    join_runs: usize,
    big_runs: usize,
    flood: u64,
    big_flood: u64,
    round_trips: u64,
    heartbeat_flood: u64,
    pty_flood: u64,
}

impl Plan {
    fn from_args(args: &[String]) -> Result<Plan, String> {
        let mut plan = Plan {
            runs: 5,
            join_runs: 24,
            big_runs: 3,
            flood: 1_000_000,
            big_flood: 10_000_000,
            round_trips: 10_000,
            heartbeat_flood: 3_000_000,
            pty_flood: 100_000,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => {
                    plan.runs = 1;
                    plan.join_runs = 6;
                    plan.big_runs = 1;
                    plan.big_flood = 2_000_000;
                    plan.heartbeat_flood = 1_000_000;
                }
                "--runs" => {
                    plan.runs = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--runs takes a positive number, e.g. `--runs 7`")?;
                }
                other => {
                    return Err(format!(
                        "unknown argument `{other}`; try `--quick` or `--runs 7`"
                    ));
                }
            }
        }
        Ok(plan)
    }
}

/// One whole-process measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    rss_kib: u64,
    server_cpu: Duration,
}

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    PhxRepl,
    PhxReplJson,
    Floor,
    Websocat,
    /// Reads WebSocket frames and discards them: what the server alone can do.
    Drain,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::PhxRepl => "phx-repl",
            Tool::PhxReplJson => "phx-repl --json",
            Tool::Floor => "floor",
            Tool::Websocat => "websocat",
            Tool::Drain => "drain (server only)",
        }
    }
}

/// The samples of one (scenario, tool) pair.
struct Row {
    scenario: String,
    tool: Tool,
    /// Frames or round trips per run, for rates.
    units: u64,
    samples: Vec<Sample>,
    failures: usize,
}

impl Row {
    fn new(scenario: &str, tool: Tool, units: u64) -> Row {
        Row {
            scenario: scenario.to_owned(),
            tool,
            units,
            samples: Vec::new(),
            failures: 0,
        }
    }

    fn record(&mut self, result: Result<Sample, String>) {
        match result {
            Ok(s) => self.samples.push(s),
            Err(e) => {
                eprintln!("  {} / {}: {e}", self.scenario, self.tool.name());
                self.failures += 1;
            }
        }
    }

    fn wall(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.wall))
    }

    fn cpu(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.cpu))
    }

    fn server_cpu(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.server_cpu))
    }

    /// The highest peak over the runs.
    fn rss_kib(&self) -> Option<u64> {
        self.samples.iter().map(|s| s.rss_kib).max()
    }

    fn rate(&self) -> Option<f64> {
        self.wall().map(|w| self.units as f64 / w.as_secs_f64())
    }
}

fn median(values: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut v: Vec<Duration> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// Everything a scenario needs.
struct Env {
    phx: PathBuf,
    me: PathBuf,
    websocat: Option<PathBuf>,
    server: ServerProc,
    dir: TempDir,
}

impl Env {
    /// `ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0`, for the raw clients.
    fn socket_url(&self) -> String {
        format!("{}/websocket?vsn=2.0.0", self.server.url)
    }

    /// phx-repl reading `script` from stdin, output discarded.
    fn phx(&self, script: &Path, extra: &[&str]) -> Result<Sample, String> {
        let mut cmd = Command::new(&self.phx);
        // --quiet: no summary line on stderr after each run.
        cmd.arg("--quiet")
            .args(extra)
            .arg(&self.server.url)
            .stdin(open(script)?)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        measure(cmd, &self.server)
    }

    /// The floor client in `mode`, output discarded.
    fn floor(&self, mode: &str, n: u64) -> Result<Sample, String> {
        let mut cmd = Command::new(&self.me);
        cmd.args(["floor", mode, &self.socket_url(), &n.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        measure(cmd, &self.server)
    }

    /// websocat sending `frame`, until a line containing `until` arrives.
    fn websocat(&self, frame: &str, until: &str) -> Result<Sample, String> {
        let Some(path) = &self.websocat else {
            return Err("websocat is not on PATH".into());
        };
        let mut cmd = Command::new(path);
        cmd.arg(self.socket_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        measure_with(cmd, &self.server, |child| {
            // websocat does not know when a flood is over: read its output
            // until the last frame, then close its stdin so it closes the
            // socket and exits.
            let mut stdin = child.stdin.take().ok_or("no stdin")?;
            let mut stdout = child.stdout.take().ok_or("no stdout")?;
            stdin
                .write_all(format!("{frame}\n").as_bytes())
                .map_err(|e| e.to_string())?;
            stdin.flush().map_err(|e| e.to_string())?;
            read_until(&mut stdout, until.as_bytes())?;
            drop(stdin);
            io::copy(&mut stdout, &mut io::sink()).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    /// A script file in the temp dir.
    fn script(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.dir.0.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

fn open(path: &Path) -> Result<fs::File, String> {
    fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Reads `r` until `needle` has appeared, across read boundaries.
fn read_until(r: &mut impl Read, needle: &[u8]) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = r.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "output ended before `{}`",
                String::from_utf8_lossy(needle)
            ));
        }
        carry.extend_from_slice(&buf[..n]);
        if carry.windows(needle.len()).any(|w| w == needle) {
            return Ok(());
        }
        let keep = needle.len().saturating_sub(1).min(carry.len());
        carry.drain(..carry.len() - keep);
    }
}

fn measure(cmd: Command, server: &ServerProc) -> Result<Sample, String> {
    measure_with(cmd, server, |_| Ok(()))
}

/// Spawns `cmd`, lets `drive` talk to it, and reaps it with `wait4`.
fn measure_with(
    mut cmd: Command,
    server: &ServerProc,
    drive: impl FnOnce(&mut Child) -> Result<(), String>,
) -> Result<Sample, String> {
    let server_before = server.cpu();
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let driven = drive(&mut child);
    if driven.is_err() {
        let _ = child.kill();
    }
    let (ok, cpu, rss_kib) = wait4(child.id())?;
    let wall = start.elapsed();
    driven?;
    if !ok {
        return Err("the client did not exit with status 0".into());
    }
    Ok(Sample {
        wall,
        cpu,
        rss_kib,
        server_cpu: server.cpu().saturating_sub(server_before),
    })
}

/// Reaps `pid`: (exited with 0, user + system CPU, peak RSS in KiB).
fn wait4(pid: u32) -> Result<(bool, Duration, u64), String> {
    let pid = libc::pid_t::try_from(pid).map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; `pid` is our own child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(format!("wait4: {e}"));
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((
        ok,
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss as u64,
    ))
}

/// The built-in server as a child process, killed on drop.
struct ServerProc {
    child: Child,
    /// `ws://127.0.0.1:PORT/socket`
    url: String,
    ticks_per_sec: u64,
}

impl ServerProc {
    fn start(phx: &Path) -> Result<ServerProc, String> {
        let mut child = Command::new(phx)
            .args(["serve", "--listen", "127.0.0.1:0", "--idle-timeout", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| e.to_string())?;
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line from the server: {first:?}"))?
            .to_owned();
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Ok(ServerProc {
            child,
            url,
            ticks_per_sec: u64::try_from(ticks).unwrap_or(100).max(1),
        })
    }

    /// CPU time (user + system, all threads) the server has used so far.
    fn cpu(&self) -> Duration {
        let stat =
            fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which ends with the last ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        Duration::from_micros(ticks * 1_000_000 / self.ticks_per_sec)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let path = std::env::temp_dir().join(format!("phx-repl-bench-{}", std::process::id()));
        fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Builds the release binary (the same profile as `cargo install`) and
/// returns its path.
fn build_phx_repl(me: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release binary…");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "phx-repl"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("`cargo build --release` failed".into());
    }
    // target/release/examples/bench → target/release/phx-repl
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("phx-repl"))
        .ok_or("cannot locate target/release")?;
    if !bin.exists() {
        return Err(format!("{} was not built", bin.display()));
    }
    Ok(bin)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn bench(args: &[String]) -> Result<(), String> {
    let plan = Plan::from_args(args)?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    if cfg!(debug_assertions) {
        eprintln!("warning: built without --release; run `cargo run --release --example bench`");
    }
    let phx = build_phx_repl(&me)?;
    let server = ServerProc::start(&phx)?;
    let env = Env {
        phx,
        me,
        websocat: find_on_path("websocat"),
        server,
        dir: TempDir::new()?,
    };
    let load_before = load_average();
    let mut report = String::new();
    let _ = writeln!(report, "{}", machine());
    let _ = writeln!(report, "load average at start: {load_before}");
    match &env.websocat {
        Some(p) => {
            let _ = writeln!(report, "websocat: {}", websocat_version(p));
        }
        None => {
            let _ = writeln!(
                report,
                "websocat: not on PATH (its targets use the reference {:.2}M frames/s)",
                WEBSOCAT_REFERENCE_FPS / 1e6
            );
        }
    }
    eprint!("{report}");

    let mut rows: Vec<Row> = Vec::new();

    // Connect, join, reply, exit.
    let join = env.script("join.txt", "join room:lobby\n")?;
    let mut r_phx = Row::new("join + reply + exit", Tool::PhxRepl, 1);
    let mut r_floor = Row::new("join + reply + exit", Tool::Floor, 1);
    let mut r_ws = Row::new("join + reply + exit", Tool::Websocat, 1);
    progress("join + reply + exit", plan.join_runs);
    // One untimed run of each first: the first start of a binary that was
    // just built pays for loading it.
    let _ = env.phx(&join, &[]);
    let _ = env.floor("join", 1);
    // phx-repl and the floor alternate, each going first every other
    // round. websocat's runs come after them, as a block: a start-up of a
    // few milliseconds right after websocat's much bigger process runs
    // with colder caches (1-2 ms slower here), which would weigh on
    // whichever client happened to follow it.
    for round in 0..plan.join_runs {
        if round % 2 == 0 {
            r_phx.record(env.phx(&join, &[]));
            r_floor.record(env.floor("join", 1));
        } else {
            r_floor.record(env.floor("join", 1));
            r_phx.record(env.phx(&join, &[]));
        }
    }
    if env.websocat.is_some() {
        for _ in 0..plan.join_runs {
            r_ws.record(env.websocat(JOIN_FRAME, "\"phx_reply\""));
        }
    }
    rows.extend([r_phx, r_floor]);
    if env.websocat.is_some() {
        rows.push(r_ws);
    }

    // The flood, piped.
    let n = plan.flood;
    let label = format!("{} frames flooded, piped", count(n));
    let flood = env.script("flood.txt", &flood_script(n))?;
    let mut r_phx = Row::new(&label, Tool::PhxRepl, n);
    let mut r_json = Row::new(&label, Tool::PhxReplJson, n);
    let mut r_floor = Row::new(&label, Tool::Floor, n);
    let mut r_ws = Row::new(&label, Tool::Websocat, n);
    let mut r_drain = Row::new(&label, Tool::Drain, n);
    progress(&label, plan.runs);
    for round in 0..plan.runs {
        for turn in 0..5 {
            // Rotated, and every other round backwards (see the joins).
            let turn = if round % 2 == 0 { turn } else { 4 - turn };
            match (round + turn) % 5 {
                0 => r_phx.record(env.phx(&flood, &[])),
                1 => r_floor.record(env.floor("flood", n)),
                2 => r_json.record(env.phx(&flood, &["--json"])),
                3 if env.websocat.is_some() => {
                    r_ws.record(env.websocat(&flood_join_frame(n), "\"done\",{\"count\":"));
                }
                3 => {}
                _ => r_drain.record(env.floor("drain", n)),
            }
        }
    }
    let (i_phx, i_json, i_floor) = (rows.len(), rows.len() + 1, rows.len() + 2);
    rows.extend([r_phx, r_json, r_floor]);
    let i_ws = env.websocat.is_some().then(|| {
        rows.push(r_ws);
        rows.len() - 1
    });
    let i_drain = rows.len();
    rows.push(r_drain);

    // The big flood, for memory.
    let big = plan.big_flood;
    let label = format!("{} frames flooded, piped", count(big));
    let big_script = env.script("big.txt", &flood_script(big))?;
    let mut r_phx = Row::new(&label, Tool::PhxRepl, big);
    let mut r_floor = Row::new(&label, Tool::Floor, big);
    progress(&label, plan.big_runs);
    for _ in 0..plan.big_runs {
        r_phx.record(env.phx(&big_script, &[]));
        r_floor.record(env.floor("flood", big));
    }
    let (i_big, i_big_floor) = (rows.len(), rows.len() + 1);
    rows.extend([r_phx, r_floor]);

    // Sequential round trips.
    let rt = plan.round_trips;
    let label = format!("{} sequential push/reply round trips", count(rt));
    let rt_script = env.script("round-trips.txt", &round_trip_script(rt))?;
    let mut r_phx = Row::new(&label, Tool::PhxRepl, rt);
    let mut r_floor = Row::new(&label, Tool::Floor, rt);
    progress(&label, plan.runs);
    for _ in 0..plan.runs {
        r_phx.record(env.phx(&rt_script, &[]));
        r_floor.record(env.floor("round-trips", rt));
    }
    let (i_rt, i_rt_floor) = (rows.len(), rows.len() + 1);
    rows.extend([r_phx, r_floor]);

    // Heartbeats during a sustained flood.
    progress("heartbeats during a flood", 1);
    let heartbeats = heartbeat_run(&env, plan.heartbeat_flood);

    // At the prompt: a flood printed above a half-typed line.
    let pn = plan.pty_flood;
    let label = format!("{} frames at the prompt (pty)", count(pn));
    let piped_label = format!("{} frames flooded, piped", count(pn));
    let pty_script = env.script("pty-flood.txt", &flood_script(pn))?;
    let mut r_pty = Row::new(&label, Tool::PhxRepl, pn);
    let mut r_pty_floor = Row::new(&label, Tool::Floor, pn);
    let mut r_piped = Row::new(&piped_label, Tool::PhxRepl, pn);
    let mut survived = 0;
    progress(&label, plan.runs);
    for _ in 0..plan.runs {
        r_piped.record(env.phx(&pty_script, &[]));
        match pty_run(&env, pn) {
            Ok((sample, kept)) => {
                survived += usize::from(kept);
                r_pty.samples.push(sample);
            }
            Err(e) => r_pty.record(Err(e)),
        }
        r_pty_floor.record(pty_floor_run(&env, pn));
    }
    let (i_pty, i_pty_floor, i_pty_piped) = (rows.len(), rows.len() + 1, rows.len() + 2);
    rows.extend([r_pty, r_pty_floor, r_piped]);

    let load_after = load_average();
    let _ = writeln!(report, "load average at end: {load_after}");
    let _ = writeln!(report);
    table(&rows, &mut report);
    let _ = writeln!(report);

    // The targets.
    let _ = writeln!(report, "| target | measured | met |");
    let _ = writeln!(report, "|---|---|---|");
    let ws_fps = i_ws
        .and_then(|i| rows[i].rate())
        .unwrap_or(WEBSOCAT_REFERENCE_FPS);
    let ws_from = if i_ws.is_some() {
        "websocat"
    } else {
        "websocat reference"
    };
    if let Some(fps) = rows[i_phx].rate() {
        target(
            &mut report,
            &format!("{} flood, human: ≥ 2× websocat's frames/s", count(n)),
            &format!("{:.2}× {ws_from}", fps / ws_fps),
            fps / ws_fps >= 2.0,
        );
    }
    if let Some(fps) = rows[i_json].rate() {
        target(
            &mut report,
            &format!("{} flood, --json: ≥ 1.5× websocat's frames/s", count(n)),
            &format!("{:.2}× {ws_from}", fps / ws_fps),
            fps / ws_fps >= 1.5,
        );
    }
    if let (Some(a), Some(b)) = (rows[i_phx].cpu(), rows[i_floor].cpu()) {
        let r = a.as_secs_f64() / b.as_secs_f64();
        target(
            &mut report,
            "CPU per frame (human) ≤ 1.3× the floor's",
            &format!("{r:.2}×"),
            r <= 1.3,
        );
    }
    if let (Some(small), Some(large)) = (rows[i_phx].rss_kib(), rows[i_big].rss_kib()) {
        target(
            &mut report,
            &format!("peak memory of the {} flood < 8 MiB", count(n)),
            &mib(small),
            small < 8 * 1024,
        );
        // Page-granular noise aside (5%), the bigger flood must not need more.
        target(
            &mut report,
            &format!(
                "peak memory flat: {} flood no higher than {}",
                count(big),
                count(n)
            ),
            &format!("{} vs {}", mib(large), mib(small)),
            large as f64 <= small as f64 * 1.05,
        );
    }
    if let (Some(a), Some(b)) = (rows[i_rt].wall(), rows[i_rt_floor].wall()) {
        let r = a.as_secs_f64() / b.as_secs_f64();
        target(
            &mut report,
            &format!("{} round trips ≤ 1.5× the floor's time", count(rt)),
            &format!(
                "{r:.2}× ({:.1} µs vs {:.1} µs each)",
                a.as_secs_f64() * 1e6 / rt as f64,
                b.as_secs_f64() * 1e6 / rt as f64
            ),
            r <= 1.5,
        );
    }
    if let Some(w) = rows[0].wall() {
        target(
            &mut report,
            "piped join + exit < 5 ms",
            &fmt_dur(w),
            w < Duration::from_millis(5),
        );
    }
    match &heartbeats {
        Ok(h) => target(
            &mut report,
            "heartbeats on schedule during a flood",
            &h.summary(),
            h.on_schedule(),
        ),
        Err(e) => target(
            &mut report,
            "heartbeats on schedule during a flood",
            e,
            false,
        ),
    }
    if let (Some(p), Some(q)) = (rows[i_pty].wall(), rows[i_pty_piped].wall()) {
        let r = p.as_secs_f64() / q.as_secs_f64();
        let runs = rows[i_pty].samples.len();
        target(
            &mut report,
            &format!(
                "{} flood at the prompt ≤ 3× piped, the typed line survives",
                count(pn)
            ),
            &format!(
                "{r:.2}× ({} vs {}); line kept in {survived} of {runs} runs; \
                 the pty alone (floor) takes {}",
                fmt_dur(p),
                fmt_dur(q),
                rows[i_pty_floor].wall().map_or("?".into(), fmt_dur)
            ),
            r <= 3.0 && runs > 0 && survived == runs,
        );
    }
    if let (Some(d), Some(f)) = (rows[i_drain].wall(), rows[i_floor].wall()) {
        let per_frame = rows[i_drain]
            .server_cpu()
            .map(|c| c.as_secs_f64() * 1e9 / n as f64)
            .unwrap_or(f64::NAN);
        target(
            &mut report,
            "the built-in server's flood is not the bottleneck",
            &format!(
                "drain {} vs floor {} ({per_frame:.0} ns server CPU per frame)",
                fmt_dur(d),
                fmt_dur(f)
            ),
            d < f,
        );
    }
    let _ = i_big_floor;
    println!("{report}");
    Ok(())
}

const JOIN_FRAME: &str = r#"["1","1","room:lobby","phx_join",{}]"#;

fn flood_join_frame(n: u64) -> String {
    format!(r#"["1","1","flood:{n}","phx_join",{{}}]"#)
}

fn flood_script(n: u64) -> String {
    format!("join flood:{n}\nwait flood:{n} done 600s\n")
}

fn round_trip_script(n: u64) -> String {
    let mut s = String::from("join room:bench\n");
    for i in 1..=n {
        let _ = writeln!(s, "push room:bench echo {{\"n\":{i}}}");
    }
    s
}

fn progress(what: &str, runs: usize) {
    eprintln!("running: {what} ({runs}×)");
}

fn target(report: &mut String, what: &str, measured: &str, met: bool) {
    let _ = writeln!(
        report,
        "| {what} | {measured} | {} |",
        if met { "yes" } else { "**no**" }
    );
}

/// The results table, in Markdown.
fn table(rows: &[Row], out: &mut String) {
    let _ = writeln!(
        out,
        "| scenario | client | wall (median) | rate | CPU per unit | peak RSS | wall vs floor |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for row in rows {
        let floor = rows
            .iter()
            .find(|r| r.scenario == row.scenario && r.tool == Tool::Floor)
            .and_then(Row::wall);
        let (wall, rate, cpu) = match (row.wall(), row.rate(), row.cpu()) {
            (Some(w), Some(r), Some(c)) => {
                let per = c.as_secs_f64() / row.units as f64;
                let (rate, per) = if row.units > 1 {
                    let unit = if row.scenario.contains("round trip") {
                        "round trips/s"
                    } else {
                        "frames/s"
                    };
                    (
                        format!("{} {unit}", si(r)),
                        if per < 1e-6 {
                            format!("{:.0} ns", per * 1e9)
                        } else {
                            format!("{:.1} µs", per * 1e6)
                        },
                    )
                } else {
                    ("".into(), fmt_dur(c))
                };
                (fmt_dur(w), rate, per)
            }
            _ => ("failed".into(), String::new(), String::new()),
        };
        let vs = match (row.wall(), floor) {
            (Some(w), Some(f)) if row.tool != Tool::Floor => {
                format!("{:.2}×", w.as_secs_f64() / f.as_secs_f64())
            }
            _ => String::new(),
        };
        let rss = row.rss_kib().map(mib).unwrap_or_default();
        let failures = if row.failures > 0 {
            format!(" ({} failed)", row.failures)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {}{failures} | {wall} | {rate} | {cpu} | {rss} | {vs} |",
            row.scenario,
            row.tool.name()
        );
    }
}

fn count(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.1 {
        format!("{:.0} ms", s * 1e3)
    } else if s >= 0.001 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU model, core count and kernel, for the README.
fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {model}, {cores} cores available, Linux {}",
        kernel.trim()
    )
}

fn websocat_version(path: &Path) -> String {
    Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| path.display().to_string())
}

/// What the heartbeat scenario saw.
struct Heartbeats {
    interval: Duration,
    flood: Duration,
    sent: usize,
    due: usize,
    longest_gap: Duration,
    slowest_reply_ms: f64,
}

impl Heartbeats {
    fn summary(&self) -> String {
        format!(
            "every {} during a {} flood: {} sent ({} due), longest gap {}, slowest reply {:.1} ms",
            fmt_dur(self.interval),
            fmt_dur(self.flood),
            self.sent,
            self.due,
            fmt_dur(self.longest_gap),
            self.slowest_reply_ms
        )
    }

    /// None missed, none late by more than an interval.
    fn on_schedule(&self) -> bool {
        self.due > 0 && self.sent >= self.due && self.longest_gap < self.interval * 2
    }
}

/// phx-repl with 100 ms heartbeats through a flood: reads its NDJSON and
/// checks the heartbeats' send times (the records' `time`, ms resolution).
fn heartbeat_run(env: &Env, n: u64) -> Result<Heartbeats, String> {
    let interval = Duration::from_millis(100);
    let script = env.script("heartbeat-flood.txt", &flood_script(n))?;
    let mut child = Command::new(&env.phx)
        .args([
            "--quiet",
            "--json",
            "--show-heartbeats",
            "--heartbeat",
            "0.1",
        ])
        .arg(&env.server.url)
        .stdin(open(&script)?)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::with_capacity(256 * 1024, stdout);
    let mut line = String::new();
    let mut sends: Vec<f64> = Vec::new();
    let mut slowest = 0f64;
    let (mut start, mut end) = (None, None);
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let interesting = line.contains("heartbeat")
            || line.contains("\"phx_join\"")
            || line.contains("\"done\"");
        if !interesting {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let t = v["time"].as_str().and_then(seconds_of_day).unwrap_or(0.0);
        match (
            v["type"].as_str(),
            v["event"].as_str(),
            v["request"].as_str(),
        ) {
            (Some("sent"), Some("heartbeat"), _) => sends.push(t),
            (Some("reply"), _, Some("heartbeat")) => {
                slowest = slowest.max(v["latency_ms"].as_f64().unwrap_or(0.0));
            }
            (Some("reply"), _, Some("phx_join")) => start = Some(t),
            (Some("message"), Some("done"), _) => end = Some(t),
            _ => {}
        }
    }
    let (ok, _, _) = wait4(child.id())?;
    if !ok {
        return Err("phx-repl failed".into());
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err("the flood's join reply or done message is missing".into());
    };
    let flood = Duration::from_secs_f64((end - start).max(0.0));
    let during: Vec<f64> = sends
        .iter()
        .copied()
        .filter(|&t| t >= start && t <= end)
        .collect();
    // Gaps between consecutive heartbeats, and from the flood's start and
    // to its end.
    let mut points = vec![start];
    points.extend(&during);
    points.push(end);
    let longest = points.windows(2).map(|w| w[1] - w[0]).fold(0f64, f64::max);
    Ok(Heartbeats {
        interval,
        flood,
        sent: during.len(),
        due: (flood.as_secs_f64() / interval.as_secs_f64()) as usize,
        longest_gap: Duration::from_secs_f64(longest.max(0.0)),
        slowest_reply_ms: slowest,
    })
}

/// phx-repl at an interactive prompt in a pseudo-terminal: types `join
/// flood:N`, then half of another line while the flood prints, and
/// finishes that line after `done`. The sample's wall time runs from the
/// Enter to the `done` line; true if the half-typed line was kept (its join
/// was answered).
fn pty_run(env: &Env, n: u64) -> Result<(Sample, bool), String> {
    let mut cmd = Command::new(&env.phx);
    cmd.args([env.server.url.as_str(), "--no-history", "--color", "never"]);
    in_pty(env, cmd, |term, fd| {
        term.until(fd, b"connected to ")?;
        term.until(fd, b"> ")?;
        term.type_text(&format!("join flood:{n}\r"))?;
        let start = Instant::now();
        term.until(fd, b"push msg {\"i\":1}")?;
        term.type_text("join room:lob")?;
        term.until(fd, format!("push done {{\"count\":{n}}}").as_bytes())?;
        let wall = start.elapsed();
        term.type_text("by\r")?;
        let kept = term.until(fd, b"room:lobby reply ok to phx_join").is_ok();
        term.type_text("quit\r")?;
        Ok((wall, kept))
    })
}

/// The floor of the prompt's flood: this program writing the flood's
/// lines to the same kind of pseudo-terminal, 64 KiB at a time, read the
/// same way. What is left is what the terminal itself costs.
fn pty_floor_run(env: &Env, n: u64) -> Result<Sample, String> {
    let mut cmd = Command::new(&env.me);
    cmd.args(["pty-floor", &n.to_string()]);
    let (sample, _) = in_pty(env, cmd, |term, fd| {
        term.until(fd, b"ready")?;
        term.type_text("go\r")?;
        let start = Instant::now();
        term.until(fd, format!("push done {{\"count\":{n}}}").as_bytes())?;
        Ok((start.elapsed(), true))
    })?;
    Ok(sample)
}

/// Writes the lines of a flood of `n` to stdout once a line is read from
/// stdin (see `pty_floor_run`).
fn pty_floor(args: &[String]) -> Result<(), String> {
    let n: u64 = match args {
        [n] => n.parse().map_err(|e| format!("{e}"))?,
        _ => return Err("usage: bench pty-floor N".into()),
    };
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut line = String::new();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .and_then(|()| io::stdin().read_line(&mut line))
        .map_err(|e| e.to_string())?;
    for i in 1..=n {
        writeln!(out, "← flood:{n} push msg {{\"i\":{i}}}").map_err(|e| e.to_string())?;
    }
    writeln!(out, "← flood:{n} push done {{\"count\":{n}}}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Runs `cmd` on a new pseudo-terminal (40×120, `TERM=xterm`) and lets
/// `drive` talk to it; the wall time is the one `drive` measures.
fn in_pty(
    env: &Env,
    mut cmd: Command,
    drive: impl FnOnce(&mut Terminal, libc::c_int) -> Result<(Duration, bool), String>,
) -> Result<(Sample, bool), String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;

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
        return Err(format!("openpty: {}", io::Error::last_os_error()));
    }
    // SAFETY: openpty returned two fresh descriptors that we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| e.to_string());
    cmd.env("TERM", "xterm")
        .stdin(Stdio::from(dup(&slave)?))
        .stdout(Stdio::from(dup(&slave)?))
        .stderr(Stdio::from(dup(&slave)?));
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
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    drop(slave);
    drop(cmd);
    let mut term = Terminal {
        file: fs::File::from(master),
        seen: Vec::new(),
        searched: 0,
    };
    let fd = term.file.as_raw_fd();
    let result = drive(&mut term, fd);
    if result.is_err() {
        let _ = child.kill();
    }
    // Keep reading so the child can print its last lines and exit.
    let reader = std::thread::spawn(move || {
        let _ = io::copy(&mut term.file, &mut io::sink());
    });
    let (ok, cpu, rss_kib) = wait4(child.id())?;
    let _ = reader.join();
    let (wall, kept) = result?;
    if !ok {
        return Err("the program on the pseudo-terminal did not exit with status 0".into());
    }
    Ok((
        Sample {
            wall,
            cpu,
            rss_kib,
            server_cpu: env.server.cpu().saturating_sub(server_before),
        },
        kept,
    ))
}

/// The controlling side of a pseudo-terminal, with everything read so far.
struct Terminal {
    file: fs::File,
    seen: Vec<u8>,
    /// Where the next search starts (earlier matches were consumed).
    searched: usize,
}

impl Terminal {
    fn type_text(&mut self, text: &str) -> Result<(), String> {
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())
    }

    /// Reads until `needle` appears after the previous match; gives up
    /// after 60 s without it.
    fn until(&mut self, fd: libc::c_int, needle: &[u8]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(at) = self.seen[self.searched..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                self.searched += at + needle.len();
                return Ok(());
            }
            // Only the tail can still hold the start of a match.
            self.searched = self
                .searched
                .max(self.seen.len().saturating_sub(needle.len() - 1));
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no `{}` at the prompt within 60 s",
                    String::from_utf8_lossy(needle)
                ));
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
                continue;
            }
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => return Err("the prompt's terminal closed".into()),
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
}

/// `…THH:MM:SS.mmmZ` → seconds since midnight (a run does not span one).
fn seconds_of_day(t: &str) -> Option<f64> {
    let clock = t.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = clock.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The floor: the least a client that understands Phoenix frames must do.
mod floor {
    use super::*;

    type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

    /// The five-element envelope, borrowed from the frame's text. The
    /// server under test escapes nothing in topics and events.
    #[derive(Deserialize)]
    struct Envelope<'a>(
        serde::de::IgnoredAny,
        Option<&'a str>,
        &'a str,
        &'a str,
        &'a RawValue,
    );

    pub fn run(args: &[String]) -> Result<(), String> {
        let (mode, url, n) = match args {
            [mode, url, n] => (mode.as_str(), url.as_str(), n.parse::<u64>()),
            _ => return Err("usage: bench floor MODE URL N".into()),
        };
        let n = n.map_err(|e| e.to_string())?;
        let (mut ws, _) = tungstenite::connect(url).map_err(|e| e.to_string())?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_nodelay(true).map_err(|e| e.to_string())?;
        }
        let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
        match mode {
            "flood" => flood(&mut ws, n, &mut out, true)?,
            "drain" => flood(&mut ws, n, &mut out, false)?,
            "round-trips" => round_trips(&mut ws, n, &mut out)?,
            "join" => {
                send(&mut ws, JOIN_FRAME)?;
                until_reply(&mut ws, "1", &mut out)?;
            }
            other => return Err(format!("unknown floor mode `{other}`")),
        }
        out.flush().map_err(|e| e.to_string())?;
        close(&mut ws)
    }

    fn send(ws: &mut Socket, text: &str) -> Result<(), String> {
        ws.send(Message::text(text)).map_err(|e| e.to_string())
    }

    /// Writes one line per frame: `topic event payload`.
    fn print(out: &mut impl Write, env: &Envelope<'_>) -> Result<(), String> {
        out.write_all(env.2.as_bytes())
            .and_then(|()| out.write_all(b" "))
            .and_then(|()| out.write_all(env.3.as_bytes()))
            .and_then(|()| out.write_all(b" "))
            .and_then(|()| out.write_all(env.4.get().as_bytes()))
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| e.to_string())
    }

    fn flood(ws: &mut Socket, n: u64, out: &mut impl Write, parse: bool) -> Result<(), String> {
        send(ws, &flood_join_frame(n))?;
        // The join reply, n pushes and `done`.
        let mut left = n + 2;
        while left > 0 {
            match ws.read().map_err(|e| e.to_string())? {
                Message::Text(text) => {
                    left -= 1;
                    if parse {
                        let env: Envelope<'_> =
                            serde_json::from_str(&text).map_err(|e| e.to_string())?;
                        print(out, &env)?;
                    }
                }
                Message::Close(_) => return Err("closed by the server".into()),
                _ => {}
            }
        }
        Ok(())
    }

    fn round_trips(ws: &mut Socket, n: u64, out: &mut impl Write) -> Result<(), String> {
        send(ws, r#"["1","1","room:bench","phx_join",{}]"#)?;
        until_reply(ws, "1", out)?;
        for i in 2..n + 2 {
            let ref_ = i.to_string();
            send(
                ws,
                &format!(r#"["1","{ref_}","room:bench","echo",{{"n":{i}}}]"#),
            )?;
            until_reply(ws, &ref_, out)?;
        }
        Ok(())
    }

    /// Reads (and prints) frames until the reply with `ref_`.
    fn until_reply(ws: &mut Socket, ref_: &str, out: &mut impl Write) -> Result<(), String> {
        loop {
            match ws.read().map_err(|e| e.to_string())? {
                Message::Text(text) => {
                    let env: Envelope<'_> =
                        serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    print(out, &env)?;
                    if env.3 == "phx_reply" && env.1 == Some(ref_) {
                        return Ok(());
                    }
                }
                Message::Close(_) => return Err("closed by the server".into()),
                _ => {}
            }
        }
    }

    /// A normal close, waiting for the server's answer.
    fn close(ws: &mut Socket) -> Result<(), String> {
        ws.close(None).map_err(|e| e.to_string())?;
        loop {
            match ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

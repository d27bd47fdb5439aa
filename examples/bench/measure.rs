//! Measuring a child process: building the `dist` binary, starting the
//! built-in server, running each client once (phx-repl, alone or fanned
//! out, the floor, websocat, the optional phoenix.js reference) and reaping
//! it with `wait4` for its CPU time and peak memory.
//! What to run and how often is left to `scenarios`; what the figures mean
//! is left to `report` and `targets`.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Frames;
use crate::error::BenchError;
use crate::report::Tool;

/// One whole-process measurement.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub rss_kib: u64,
    pub server_cpu: Duration,
}

/// Everything a scenario needs.
pub struct Env {
    /// `target/dist/phx-repl`.
    pub phx: PathBuf,
    /// This executable, for `bench floor …` and `bench pty-floor …`.
    pub me: PathBuf,
    pub websocat: Option<PathBuf>,
    /// Node, for the optional phoenix.js reference (`--js FILE`).
    pub node: Option<PathBuf>,
    pub server: ServerProc,
    dir: TempDir,
}

impl Env {
    /// Builds the binary, starts the server, looks for websocat.
    pub fn start() -> Result<Env, BenchError> {
        let me = std::env::current_exe()?;
        let phx = build_phx_repl(&me)?;
        let server = ServerProc::start(&phx)?;
        Ok(Env {
            phx,
            me,
            websocat: find_on_path("websocat"),
            node: find_on_path("node"),
            server,
            dir: TempDir::new()?,
        })
    }

    /// `ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0`, for the raw clients.
    pub fn socket_url(&self) -> String {
        format!("{}/websocket?vsn=2.0.0", self.server.url)
    }

    /// phx-repl reading `script` from stdin, output discarded.
    pub fn phx(&self, script: &Path, extra: &[&str]) -> Result<Sample, BenchError> {
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

    /// `phx-repl --clients n` reading `script`, output discarded.
    pub fn fanout(&self, script: &Path, n: usize) -> Result<Sample, BenchError> {
        self.phx(script, &["--clients", &n.to_string()])
    }

    /// The phoenix.js reference: `node FILE URL N [own]`, the script of
    /// BENCHMARKS.md, its own output discarded. `own`: each socket on its
    /// own topic.
    pub fn phoenix_js(&self, js: &Path, n: usize, own: bool) -> Result<Sample, BenchError> {
        let node = self.node.as_ref().ok_or(BenchError::NoNode)?;
        let mut cmd = Command::new(node);
        cmd.arg(js)
            .arg(&self.server.url)
            .arg(n.to_string())
            .args(own.then_some("own"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        measure(cmd, &self.server)
    }

    /// The floor client in `mode`, output discarded.
    pub fn floor(&self, mode: &str, n: u64) -> Result<Sample, BenchError> {
        let mut cmd = Command::new(&self.me);
        cmd.args(["floor", mode, &self.socket_url(), &n.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        measure(cmd, &self.server)
    }

    /// One run of `tool` through a flood of `n` `frames`; `script` is
    /// phx-repl's (see [`Frames::script`]).
    pub fn flood(
        &self,
        tool: Tool,
        frames: Frames,
        n: u64,
        script: &Path,
    ) -> Result<Sample, BenchError> {
        match tool {
            Tool::PhxRepl => self.phx(script, &[]),
            Tool::PhxReplJson => self.phx(script, &["--json"]),
            Tool::Floor => self.floor(crate::floor::flood_mode(frames), n),
            Tool::Websocat => self.websocat(&frames.join_frame(n), "\"done\",{\"count\":"),
            Tool::Drain => self.floor("drain", n),
            Tool::Fanout | Tool::PhoenixJs => Err(BenchError::NotAFloodClient),
        }
    }

    /// websocat sending `frame`, until a line containing `until` arrives.
    pub fn websocat(&self, frame: &str, until: &str) -> Result<Sample, BenchError> {
        let Some(path) = &self.websocat else {
            return Err(BenchError::NoWebsocat);
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
            let mut stdin = child.stdin.take().ok_or(BenchError::NoPipe("stdin"))?;
            let mut stdout = child.stdout.take().ok_or(BenchError::NoPipe("stdout"))?;
            stdin.write_all(format!("{frame}\n").as_bytes())?;
            stdin.flush()?;
            read_until(&mut stdout, until.as_bytes())?;
            drop(stdin);
            io::copy(&mut stdout, &mut io::sink())?;
            Ok(())
        })
    }

    /// A script file in the temp dir.
    pub fn script(&self, name: &str, text: &str) -> Result<PathBuf, BenchError> {
        let path = self.dir.0.join(name);
        match fs::write(&path, text) {
            Ok(()) => Ok(path),
            Err(source) => Err(BenchError::WriteScript { path, source }),
        }
    }
}

pub fn open(path: &Path) -> Result<fs::File, BenchError> {
    fs::File::open(path).map_err(|source| BenchError::OpenScript {
        path: path.to_owned(),
        source,
    })
}

/// Reads `r` until `needle` has appeared, across read boundaries.
fn read_until(r: &mut impl Read, needle: &[u8]) -> Result<(), BenchError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Err(BenchError::OutputEnded(
                String::from_utf8_lossy(needle).into_owned(),
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

fn measure(cmd: Command, server: &ServerProc) -> Result<Sample, BenchError> {
    measure_with(cmd, server, |_| Ok(()))
}

/// Spawns `cmd`, lets `drive` talk to it, and reaps it with `wait4`.
fn measure_with(
    mut cmd: Command,
    server: &ServerProc,
    drive: impl FnOnce(&mut Child) -> Result<(), BenchError>,
) -> Result<Sample, BenchError> {
    let server_before = server.cpu();
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| BenchError::Spawn {
        program: cmd.get_program().to_owned(),
        source,
    })?;
    let driven = drive(&mut child);
    if driven.is_err() {
        let _ = child.kill();
    }
    let reaped = wait4(&child)?;
    let wall = start.elapsed();
    driven?;
    if !reaped.ok {
        return Err(BenchError::ClientFailed);
    }
    Ok(Sample {
        wall,
        cpu: reaped.cpu,
        rss_kib: reaped.rss_kib,
        server_cpu: server.cpu().saturating_sub(server_before),
    })
}

/// What `wait4` tells of a child that ended.
pub struct Reaped {
    /// It exited with status 0.
    pub ok: bool,
    /// User + system CPU time.
    pub cpu: Duration,
    /// Peak resident memory, KiB.
    pub rss_kib: u64,
}

/// Reaps `child`.
pub fn wait4(child: &Child) -> Result<Reaped, BenchError> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| BenchError::Wait4(io::ErrorKind::InvalidInput.into()))?;
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
            return Err(BenchError::Wait4(e));
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(Reaped {
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_kib: usage.ru_maxrss as u64,
    })
}

/// The built-in server as a child process, killed on drop.
pub struct ServerProc {
    child: Child,
    /// `ws://127.0.0.1:PORT/socket`
    pub url: String,
    ticks_per_sec: u64,
}

impl ServerProc {
    fn start(phx: &Path) -> Result<ServerProc, BenchError> {
        let mut child = Command::new(phx)
            .args(["serve", "--listen", "127.0.0.1:0", "--idle-timeout", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(BenchError::ServerStart)?;
        let stdout = child
            .stdout
            .take()
            .ok_or(BenchError::NoPipe("server stdout"))?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| BenchError::ServerFirstLine(first.clone()))?
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
    pub fn cpu(&self) -> Duration {
        cpu_of(self.child.id(), self.ticks_per_sec)
    }

    /// Waits until the server has used no CPU for a while (at most
    /// `SETTLE_LIMIT`): after a fan-out its threads still send the leaves'
    /// presence diffs, which would weigh on the next run.
    pub fn settle(&self) {
        let start = Instant::now();
        let mut quiet = 0;
        let mut last = self.cpu();
        while quiet < 3 && start.elapsed() < SETTLE_LIMIT {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.cpu();
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
    }

    /// Clock ticks per second, for [`cpu_of`].
    pub fn ticks_per_sec(&self) -> u64 {
        self.ticks_per_sec
    }
}

/// How long [`ServerProc::settle`] waits at most.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// CPU time (user + system, all threads) process `pid` has used so far,
/// from `/proc/PID/stat`; zero once it is gone.
pub fn cpu_of(pid: u32, ticks_per_sec: u64) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which ends with the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_micros(ticks * 1_000_000 / ticks_per_sec)
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
    fn new() -> Result<TempDir, BenchError> {
        let path = std::env::temp_dir().join(format!("phx-repl-bench-{}", std::process::id()));
        fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Builds the `dist` binary (fat LTO, one codegen unit: what is shipped)
/// and returns its path, `target/dist/phx-repl`, whatever profile this
/// harness was built with.
fn build_phx_repl(me: &Path) -> Result<PathBuf, BenchError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the dist binary (fat LTO: minutes when it has changed)…");
    let status = Command::new(cargo)
        .args(["build", "--profile", "dist", "--quiet", "--bin", "phx-repl"])
        .status()
        .map_err(BenchError::Cargo)?;
    if !status.success() {
        return Err(BenchError::BuildFailed);
    }
    // target/<profile>/examples/bench → target/dist/phx-repl
    let bin = me
        .ancestors()
        .nth(3)
        .map(|target| target.join("dist").join("phx-repl"))
        .ok_or(BenchError::NoTargetDir)?;
    if !bin.exists() {
        return Err(BenchError::NotBuilt(bin));
    }
    Ok(bin)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

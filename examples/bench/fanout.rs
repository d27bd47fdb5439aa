//! Fan-out: `phx-repl --clients N` running one script on N clients of one
//! process, against the separate server. Three measurements: the busy one
//! (each client joins `room:fan`, then makes ten sequential echo round
//! trips, checking each reply), alternated with the optional phoenix.js
//! reference (`--js FILE`, the script in BENCHMARKS.md, N sockets in one
//! Node process); the same with each client on its own topic, which shows
//! what the shared topic's presence traffic costs; and the idle one (N
//! joined clients with the default 30 s heartbeats, whose CPU time is read
//! from `/proc` over one heartbeat interval). This module owns these
//! scenarios, the presence observer that tells when every client has
//! joined, and raising the open-files limit they need. Judging the figures
//! is left to `targets`.

use std::collections::HashSet;
use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::Plan;
use crate::error::BenchError;
use crate::measure::{Env, cpu_of, open, wait4};
use crate::report::{Scenario, Tool, count, progress};

/// Echo round trips each client makes after its join.
pub const ROUND_TRIPS: u64 = 10;

/// The phoenix.js client's median wall time for 1,000 clients, measured
/// against the built-in server on a 2-core VM (BENCHMARKS.md, "Fan-out").
/// Used when `--js` does not measure it in the same run. The server's
/// speed is part of it: measured again whenever that changes.
pub const PHOENIX_JS_REFERENCE: Duration = Duration::from_millis(2_540);

/// The clients [`PHOENIX_JS_REFERENCE`] was measured with.
pub const PHOENIX_JS_REFERENCE_CLIENTS: usize = 1000;

/// How long every client may take to join in the idle scenario.
const JOIN_LIMIT: Duration = Duration::from_secs(60);

/// From the last join to the start of the idle window: the joins' last
/// presence diffs are still being read.
const QUIET_AFTER_JOINS: Duration = Duration::from_secs(2);

/// The busy scenarios' figures and the idle one's.
pub struct Fanout {
    pub clients: usize,
    /// phx-repl, and phoenix.js when `--js` is given, on `room:fan`.
    pub busy: Scenario,
    /// The same, each client on its own topic.
    pub own: Scenario,
    pub idle: Result<Idle, BenchError>,
}

/// N joined clients doing nothing but heartbeats.
pub struct Idle {
    /// From spawning phx-repl to the observer seeing every client present.
    pub joined_after: Duration,
    pub window: Duration,
    /// The client's CPU time (user + system) during the window.
    pub cpu: Duration,
    pub rss_kib: u64,
}

impl Idle {
    /// CPU time as a share of one core, in percent.
    pub fn percent_of_core(&self) -> f64 {
        self.cpu.as_secs_f64() * 100.0 / self.window.as_secs_f64()
    }
}

/// Where the clients meet: one topic, or each its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topics {
    /// Every client joins `room:fan`: each join is a presence diff to every
    /// client already there, half a million frames for 1,000 clients.
    Shared,
    /// Client N joins `room:fanN`: the same requests without that fan-in,
    /// to show what the presence traffic costs.
    Own,
}

impl Topics {
    fn topic(self) -> &'static str {
        match self {
            Topics::Shared => "room:fan",
            Topics::Own => "room:fan${N}",
        }
    }

    /// The name of the scenario, in the table.
    fn label(self, n: usize) -> String {
        let n = count(n as u64);
        match self {
            Topics::Shared => format!("{n} clients: join + {ROUND_TRIPS} echo round trips each"),
            Topics::Own => {
                format!(
                    "{n} clients, each its own topic: join + {ROUND_TRIPS} echo round trips each"
                )
            }
        }
    }
}

/// The script every client runs: join, then ten echoes, each checked.
pub fn script(topics: Topics) -> String {
    let topic = topics.topic();
    let mut text = format!("join {topic} {{\"user\":\"u${{N}}\"}}\n");
    for i in 1..=ROUND_TRIPS {
        text.push_str(&format!(
            "push {topic} echo {{\"i\":{i}}}\nexpect ok {{\"i\":{i}}}\n"
        ));
    }
    text
}

/// The busy runs, then the idle one.
pub fn run(env: &Env, plan: &Plan) -> Result<Fanout, BenchError> {
    let n = plan.fan_clients;
    let shared = busy(env, plan, Topics::Shared)?;
    let own = busy(env, plan, Topics::Own)?;
    progress(&format!("{} idle clients", count(n as u64)), 1);
    let idle = idle(env, n, plan.idle_window);
    if let Err(e) = &idle {
        eprintln!("  idle clients: {e}");
    }
    env.server.settle();
    Ok(Fanout {
        clients: n,
        busy: shared,
        own,
        idle,
    })
}

/// phx-repl, alternating with phoenix.js when `--js` is given.
fn busy(env: &Env, plan: &Plan, topics: Topics) -> Result<Scenario, BenchError> {
    let n = plan.fan_clients;
    let name = match topics {
        Topics::Shared => "fanout.txt",
        Topics::Own => "fanout-own.txt",
    };
    let script = env.script(name, &script(topics))?;
    let mut tools = vec![Tool::Fanout];
    tools.extend(plan.js.is_some().then_some(Tool::PhoenixJs));
    let label = topics.label(n);
    let mut s = Scenario::new(&label, n as u64 * ROUND_TRIPS, &tools);
    progress(&label, plan.fan_runs);
    env.server.settle();
    for round in 0..plan.fan_runs {
        // Each goes first every other round, as in the joins.
        let mut order = tools.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for tool in order {
            let sample = match (tool, &plan.js) {
                (Tool::PhoenixJs, Some(js)) => env.phoenix_js(js, n, topics == Topics::Own),
                _ => env.fanout(&script, n),
            };
            s.record(tool, sample);
            // The closes' presence diffs keep the server busy for a while.
            env.server.settle();
        }
    }
    Ok(s)
}

/// N clients join and sleep; their CPU time is read over `window`,
/// starting shortly after the observer has seen every one of them join.
fn idle(env: &Env, n: usize, window: Duration) -> Result<Idle, BenchError> {
    // Long enough that no copy's sleep ends within the window, even the
    // first to join; the process is killed once the window is over.
    let sleep = JOIN_LIMIT + QUIET_AFTER_JOINS + window + Duration::from_secs(10);
    let text = format!(
        "join room:fan {{\"user\":\"u${{N}}\"}}\nsleep {}s\n",
        sleep.as_secs()
    );
    let script = env.script("fanout-idle.txt", &text)?;
    let mut observer = Observer::join(&env.socket_url())?;
    let mut child = Command::new(&env.phx)
        .args(["--quiet", "--clients", &n.to_string()])
        .arg(&env.server.url)
        .stdin(open(&script)?)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| BenchError::Spawn {
            program: env.phx.clone().into_os_string(),
            source,
        })?;
    let start = Instant::now();
    // Every client, and the observer itself.
    let joined = observer.until_present(n + 1, JOIN_LIMIT);
    // Its leave is one diff to each client, before the window.
    observer.close();
    let measured = joined.map(|()| {
        let joined_after = start.elapsed();
        std::thread::sleep(QUIET_AFTER_JOINS);
        let ticks = env.server.ticks_per_sec();
        let before = cpu_of(child.id(), ticks);
        let t0 = Instant::now();
        std::thread::sleep(window);
        let cpu = cpu_of(child.id(), ticks).saturating_sub(before);
        (joined_after, t0.elapsed(), cpu)
    });
    let _ = child.kill();
    let reaped = wait4(&child)?;
    let (joined_after, window, cpu) = measured?;
    Ok(Idle {
        joined_after,
        window,
        cpu,
        rss_kib: reaped.rss_kib,
    })
}

/// Who is present on a topic, from its `presence_state` and
/// `presence_diff` frames.
#[derive(Default)]
struct Presence(HashSet<String>);

impl Presence {
    /// Notes the keys a presence frame adds and removes.
    fn see(&mut self, text: &str) -> Result<(), BenchError> {
        let frame: serde_json::Value = serde_json::from_str(text)?;
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        match frame[3].as_str() {
            Some("presence_state") => self.0.extend(keys(&frame[4])),
            Some("presence_diff") => {
                self.0.extend(keys(&frame[4]["joins"]));
                for k in keys(&frame[4]["leaves"]) {
                    self.0.remove(&k);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A raw client joined to `room:fan` that counts who is present there.
struct Observer {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    presence: Presence,
}

impl Observer {
    fn join(url: &str) -> Result<Observer, BenchError> {
        let (mut ws, _) = tungstenite::connect(url)?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            // Short reads, so the deadline is checked.
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
        }
        ws.send(Message::text(
            r#"["1","1","room:fan","phx_join",{"user":"observer"}]"#,
        ))?;
        Ok(Observer {
            ws,
            presence: Presence::default(),
        })
    }

    /// Reads until `want` keys are present, or `limit` has passed.
    fn until_present(&mut self, want: usize, limit: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + limit;
        while self.presence.0.len() < want {
            if Instant::now() > deadline {
                return Err(BenchError::NotAllJoined {
                    // The observer is one of them.
                    seen: self.presence.0.len().saturating_sub(1),
                    want: want - 1,
                    secs: limit.as_secs(),
                });
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => self.presence.see(&text)?,
                Ok(Message::Close(_)) => return Err(BenchError::ClosedByServer),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Closes without waiting for the server's answer: the window must not
    /// wait on it.
    fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

/// Raises this process's soft open-files limit to its hard limit, so the
/// server and the clients it starts can open `clients` sockets each; a
/// warning when even the hard limit is too low.
pub fn raise_open_files(clients: usize) -> Option<String> {
    // Sockets, plus the executable's own files and pipes.
    let need = clients as u64 + 64;
    // SAFETY: rlimit is plain old data; getrlimit fills it in.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: a valid pointer to a local.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    (lim.rlim_cur < need).then(|| {
        format!(
            "warning: the open-files limit is {}; {clients} clients need about {need}: \
             raise it with `ulimit -n 4096` (or ask for a higher hard limit)",
            lim.rlim_cur
        )
    })
}

/// The JS file given to `--js`, checked before the long run starts.
pub fn check_js(path: &Path, env: &Env) -> Result<(), BenchError> {
    if env.node.is_none() {
        return Err(BenchError::NoNode);
    }
    open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_checks_every_echo() {
        let s = script(Topics::Shared);
        assert!(s.starts_with("join room:fan {\"user\":\"u${N}\"}\n"));
        assert!(script(Topics::Own).contains("push room:fan${N} echo {\"i\":1}\n"));
        assert_eq!(
            s.matches("push room:fan echo").count(),
            ROUND_TRIPS as usize
        );
        assert!(s.ends_with("expect ok {\"i\":10}\n"));
    }

    #[test]
    fn presence_frames_add_and_remove_keys() {
        let mut p = Presence::default();
        p.see(r#"[null,null,"room:fan","presence_state",{"a":{"metas":[]},"b":{"metas":[]}}]"#)
            .unwrap();
        p.see(r#"[null,null,"room:fan","presence_diff",{"joins":{"c":{}},"leaves":{"a":{}}}]"#)
            .unwrap();
        p.see(r#"["1","2","room:fan","phx_reply",{"status":"ok","response":{"a":{}}}]"#)
            .unwrap();
        let mut keys: Vec<&str> = p.0.iter().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["b", "c"]);
    }

    #[test]
    fn idle_share_is_of_one_core() {
        let idle = Idle {
            joined_after: Duration::from_secs(3),
            window: Duration::from_secs(30),
            cpu: Duration::from_millis(150),
            rss_kib: 1024,
        };
        assert!((idle.percent_of_core() - 0.5).abs() < 1e-9);
    }
}

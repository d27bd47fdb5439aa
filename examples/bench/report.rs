//! The figures and how they are printed: a client's samples (`Row`), the
//! rows of one scenario (`Scenario`), the run's header, the Markdown
//! results table and the number formats. Taking the samples is left to
//! `measure` and `scenarios`; judging them, to `targets`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::BenchError;
use crate::measure::{Env, Sample};

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    PhxRepl,
    PhxReplJson,
    Floor,
    Websocat,
    /// Reads WebSocket frames and discards them: what the server alone can do.
    Drain,
    /// `phx-repl --clients N`.
    Fanout,
    /// The official Phoenix JS client in Node, N sockets in one process.
    PhoenixJs,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::PhxRepl => "phx-repl",
            Tool::PhxReplJson => "phx-repl --json",
            Tool::Floor => "floor",
            Tool::Websocat => "websocat",
            Tool::Drain => "drain (server only)",
            Tool::Fanout => "phx-repl --clients",
            Tool::PhoenixJs => "phoenix.js (node)",
        }
    }
}

/// The samples of one (scenario, tool) pair.
pub struct Row {
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

    /// Keeps a sample, or prints why there is none.
    pub fn record(&mut self, result: Result<Sample, BenchError>) {
        match result {
            Ok(s) => self.samples.push(s),
            Err(e) => {
                eprintln!("  {} / {}: {e}", self.scenario, self.tool.name());
                self.failures += 1;
            }
        }
    }

    pub fn wall(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.wall))
    }

    pub fn cpu(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.cpu))
    }

    pub fn server_cpu(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.server_cpu))
    }

    /// The highest peak over the runs.
    pub fn rss_kib(&self) -> Option<u64> {
        self.samples.iter().map(|s| s.rss_kib).max()
    }

    pub fn rate(&self) -> Option<f64> {
        self.wall().map(|w| self.units as f64 / w.as_secs_f64())
    }
}

/// The rows of one scenario, one per client, in the table's order.
pub struct Scenario {
    pub rows: Vec<Row>,
}

impl Scenario {
    pub fn new(label: &str, units: u64, tools: &[Tool]) -> Scenario {
        Scenario {
            rows: tools.iter().map(|&t| Row::new(label, t, units)).collect(),
        }
    }

    pub fn get(&self, tool: Tool) -> Option<&Row> {
        self.rows.iter().find(|r| r.tool == tool)
    }

    /// Records a run of `tool`, which must be one of the scenario's.
    pub fn record(&mut self, tool: Tool, result: Result<Sample, BenchError>) {
        match self.rows.iter_mut().find(|r| r.tool == tool) {
            Some(row) => row.record(result),
            None => unreachable!("{} is not part of this scenario", tool.name()),
        }
    }

    pub fn wall(&self, tool: Tool) -> Option<Duration> {
        self.get(tool).and_then(Row::wall)
    }

    pub fn cpu(&self, tool: Tool) -> Option<Duration> {
        self.get(tool).and_then(Row::cpu)
    }

    pub fn rate(&self, tool: Tool) -> Option<f64> {
        self.get(tool).and_then(Row::rate)
    }

    pub fn rss_kib(&self, tool: Tool) -> Option<u64> {
        self.get(tool).and_then(Row::rss_kib)
    }

    /// How many runs of `tool` gave a sample.
    pub fn runs(&self, tool: Tool) -> usize {
        self.get(tool).map_or(0, |r| r.samples.len())
    }
}

pub fn median(values: impl Iterator<Item = Duration>) -> Option<Duration> {
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

/// The machine, the load and websocat's version, before any figure.
pub fn header(env: &Env, out: &mut String) {
    let _ = writeln!(out, "{}", machine());
    let _ = writeln!(out, "load average at start: {}", load_average());
    match &env.websocat {
        Some(p) => {
            let _ = writeln!(out, "websocat: {}", websocat_version(p));
        }
        None => {
            let _ = writeln!(
                out,
                "websocat: not on PATH (its targets use the reference {:.2}M frames/s)",
                crate::WEBSOCAT_REFERENCE_FPS / 1e6
            );
        }
    }
}

pub fn progress(what: &str, runs: usize) {
    eprintln!("running: {what} ({runs}×)");
}

/// One line of the targets table.
pub fn target(out: &mut String, what: &str, measured: &str, met: bool) {
    let _ = writeln!(
        out,
        "| {what} | {measured} | {} |",
        if met { "yes" } else { "**no**" }
    );
}

/// A target this run cannot decide, and why.
pub fn target_skipped(out: &mut String, what: &str, why: &str) {
    let _ = writeln!(out, "| {what} | {why} | – |");
}

/// The results table, in Markdown.
pub fn table(rows: &[&Row], out: &mut String) {
    let _ = writeln!(
        out,
        "| scenario | client | wall (median) | rate | CPU per unit | peak RSS | wall vs floor |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for row in rows {
        let floor = rows
            .iter()
            .find(|r| r.scenario == row.scenario && r.tool == Tool::Floor)
            .and_then(|r| r.wall());
        let (wall, rate, cpu) = match (row.wall(), row.rate(), row.cpu()) {
            (Some(w), Some(r), Some(c)) => {
                let (rate, cpu) = per_unit(row, r, c);
                (fmt_dur(w), rate, cpu)
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

/// The rate and CPU-per-unit cells of a row whose median rate is `rate`
/// and median CPU time `cpu`.
fn per_unit(row: &Row, rate: f64, cpu: Duration) -> (String, String) {
    if row.units <= 1 {
        return (String::new(), fmt_dur(cpu));
    }
    let unit = if row.scenario.contains("round trip") {
        "round trips/s"
    } else {
        "frames/s"
    };
    let per = cpu.as_secs_f64() / row.units as f64;
    let per = if per < 1e-6 {
        format!("{:.0} ns", per * 1e9)
    } else {
        format!("{:.1} µs", per * 1e6)
    };
    (format!("{} {unit}", si(rate)), per)
}

pub fn count(n: u64) -> String {
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

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn fmt_dur(d: Duration) -> String {
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

pub fn load_average() -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = |v: &[u64]| median(v.iter().map(|&m| Duration::from_millis(m)));
        assert_eq!(ms(&[]), None);
        assert_eq!(ms(&[3, 1, 2]), Some(Duration::from_millis(2)));
        assert_eq!(ms(&[4, 1, 2, 3]), Some(Duration::from_micros(2500)));
    }

    #[test]
    fn counts_use_the_largest_exact_unit() {
        assert_eq!(count(1_000_000), "1M");
        assert_eq!(count(100_000), "100k");
        assert_eq!(count(1_500_000), "1500k");
        assert_eq!(count(1234), "1234");
    }

    #[test]
    fn durations_keep_three_or_four_figures() {
        assert_eq!(fmt_dur(Duration::from_micros(2870)), "2.87 ms");
        assert_eq!(fmt_dur(Duration::from_millis(144)), "144 ms");
        assert_eq!(fmt_dur(Duration::from_millis(1330)), "1.33 s");
        assert_eq!(fmt_dur(Duration::from_micros(81)), "81 µs");
    }
}

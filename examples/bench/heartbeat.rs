//! Heartbeats during a sustained flood: phx-repl with 100 ms heartbeats
//! reads a flood with `--json --show-heartbeats`, and its NDJSON records'
//! times (ms resolution) show whether every heartbeat that was due went
//! out on time. Judging the result is left to `targets`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Frames;
use crate::error::BenchError;
use crate::measure::{Env, open, wait4};
use crate::report::fmt_dur;

/// What the heartbeat scenario saw.
pub struct Heartbeats {
    interval: Duration,
    flood: Duration,
    sent: usize,
    due: usize,
    longest_gap: Duration,
    slowest_reply_ms: f64,
}

impl Heartbeats {
    pub fn summary(&self) -> String {
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
    pub fn on_schedule(&self) -> bool {
        self.due > 0 && self.sent >= self.due && self.longest_gap < self.interval * 2
    }
}

/// The times that matter in phx-repl's NDJSON, in seconds of the day.
#[derive(Default)]
struct Log {
    sends: Vec<f64>,
    slowest_reply_ms: f64,
    /// The flood's join reply.
    start: Option<f64>,
    /// Its `done` message.
    end: Option<f64>,
}

impl Log {
    /// Notes one NDJSON line, if it is about a heartbeat or the flood's
    /// ends.
    fn see(&mut self, line: &str) -> Result<(), BenchError> {
        let interesting = line.contains("heartbeat")
            || line.contains("\"phx_join\"")
            || line.contains("\"done\"");
        if !interesting {
            return Ok(());
        }
        let v: serde_json::Value = serde_json::from_str(line)?;
        let t = v["time"].as_str().and_then(seconds_of_day).unwrap_or(0.0);
        match (
            v["type"].as_str(),
            v["event"].as_str(),
            v["request"].as_str(),
        ) {
            (Some("sent"), Some("heartbeat"), _) => self.sends.push(t),
            (Some("reply"), _, Some("heartbeat")) => {
                let ms = v["latency_ms"].as_f64().unwrap_or(0.0);
                self.slowest_reply_ms = self.slowest_reply_ms.max(ms);
            }
            (Some("reply"), _, Some("phx_join")) => self.start = Some(t),
            (Some("message"), Some("done"), _) => self.end = Some(t),
            _ => {}
        }
        Ok(())
    }

    fn heartbeats(self, interval: Duration) -> Result<Heartbeats, BenchError> {
        let (Some(start), Some(end)) = (self.start, self.end) else {
            return Err(BenchError::FloodIncomplete);
        };
        let flood = Duration::from_secs_f64((end - start).max(0.0));
        let during: Vec<f64> = self
            .sends
            .iter()
            .copied()
            .filter(|&t| t >= start && t <= end)
            .collect();
        // Gaps between consecutive heartbeats, and from the flood's start
        // and to its end.
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
            slowest_reply_ms: self.slowest_reply_ms,
        })
    }
}

/// phx-repl with 100 ms heartbeats through a flood of `n`.
pub fn run(env: &Env, n: u64) -> Result<Heartbeats, BenchError> {
    let interval = Duration::from_millis(100);
    let script = env.script("heartbeat-flood.txt", &Frames::Counter.script(n))?;
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
        .spawn()?;
    let stdout = child.stdout.take().ok_or(BenchError::NoPipe("stdout"))?;
    let mut reader = BufReader::with_capacity(256 * 1024, stdout);
    let mut line = String::new();
    let mut log = Log::default();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        log.see(&line)?;
    }
    if !wait4(&child)?.ok {
        return Err(BenchError::PhxReplFailed);
    }
    log.heartbeats(interval)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_of_day_reads_the_clock() {
        assert_eq!(seconds_of_day("2026-12-06T01:02:03.500Z"), Some(3723.5));
        assert_eq!(seconds_of_day("no clock"), None);
    }

    #[test]
    fn a_log_measures_gaps_from_the_flood_ends() {
        let mut log = Log::default();
        let at = |s: &str| format!("\"time\":\"2026-12-06T00:00:{s}Z\"");
        let lines = [
            format!(
                r#"{{"type":"reply","request":"phx_join",{}}}"#,
                at("00.000")
            ),
            format!(r#"{{"type":"sent","event":"heartbeat",{}}}"#, at("00.100")),
            format!(
                r#"{{"type":"reply","request":"heartbeat","latency_ms":2.5,{}}}"#,
                at("00.102")
            ),
            format!(r#"{{"type":"sent","event":"heartbeat",{}}}"#, at("00.200")),
            format!(r#"{{"type":"message","event":"done",{}}}"#, at("00.350")),
        ];
        for line in &lines {
            log.see(line).unwrap();
        }
        let h = log.heartbeats(Duration::from_millis(100)).unwrap();
        assert_eq!((h.sent, h.due), (2, 3));
        assert!((h.longest_gap.as_secs_f64() - 0.15).abs() < 1e-6);
        assert_eq!(h.slowest_reply_ms, 2.5);
        assert!(!h.on_schedule());
    }

    #[test]
    fn a_log_without_the_flood_ends_is_an_error() {
        let log = Log::default();
        assert!(matches!(
            log.heartbeats(Duration::from_millis(100)),
            Err(BenchError::FloodIncomplete)
        ));
    }
}

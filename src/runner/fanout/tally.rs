//! What a fan-out run adds up across its clients: clients connected and
//! failed, replies, expectations, reply latency and frames, and how its
//! summary reads (pure).

use std::time::Duration;

use crate::output::records;
use crate::output::records::Ms;
use crate::runner::checks::Tally;

/// Failing lines printed in full; later ones are only counted.
pub const SHOWN_FAILURES: usize = 20;

#[derive(Debug, Default)]
pub struct FanTally {
    pub clients: usize,
    /// Clients that connected at least once.
    pub connected: usize,
    /// Clients that never connected, or lost their socket for good.
    pub clients_failed: usize,
    /// Of the failed, those that had connected first: the summary counts
    /// them as failed only, so that the two counts add up to the clients.
    pub lost_after_connecting: usize,
    /// What a script run counts (commands, replies, expectations), over
    /// every copy.
    pub(in crate::runner) counts: Tally,
    /// Failing lines of any kind (bad lines and failed clients too).
    pub failures: usize,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Reply latencies in microseconds.
    latencies: Vec<u32>,
}

/// Reply latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl FanTally {
    pub fn latency(&mut self, d: Duration) {
        self.latencies
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    /// Nearest-rank percentiles; `None` without a reply.
    pub fn percentiles(&mut self) -> Option<Percentiles> {
        if self.latencies.is_empty() {
            return None;
        }
        self.latencies.sort_unstable();
        let l = &self.latencies;
        let at = |p: f64| {
            let rank = ((p / 100.0) * l.len() as f64).ceil() as usize;
            Duration::from_micros(u64::from(l[rank.clamp(1, l.len()) - 1]))
        };
        Some(Percentiles {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: Duration::from_micros(u64::from(*l.last().unwrap_or(&0))),
        })
    }

    /// Clients that connected and were not lost for good.
    fn still_connected(&self) -> usize {
        self.connected.saturating_sub(self.lost_after_connecting)
    }

    /// The summary, one line per kind of count.
    pub fn lines(&mut self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "clients: {} connected, {} failed (of {})",
                self.still_connected(),
                self.clients_failed,
                self.clients
            ),
            format!(
                "replies: {} ok, {} error, {} timed out{}",
                self.counts.ok,
                self.counts.error,
                self.counts.timed_out,
                if self.counts.unanswered > 0 {
                    format!(", {} unanswered", self.counts.unanswered)
                } else {
                    String::new()
                }
            ),
            format!(
                "expectations: {} passed, {} failed",
                self.counts.passed, self.counts.failed
            ),
        ];
        if let Some(p) = self.percentiles() {
            let f = crate::output::fmt_latency;
            lines.push(format!(
                "reply latency: p50 {}, p95 {}, p99 {}, max {}",
                f(p.p50),
                f(p.p95),
                f(p.p99),
                f(p.max)
            ));
        }
        lines.push(format!(
            "frames: {} in, {} out",
            self.frames_in, self.frames_out
        ));
        if self.failures > SHOWN_FAILURES {
            lines.push(format!(
                "failing lines: {} ({} not shown)",
                self.failures,
                self.failures - SHOWN_FAILURES
            ));
        }
        lines
    }

    /// The `summary` record, with the fan-out fields.
    pub fn record(&mut self, exit_code: u8) -> records::Summary {
        let mut summary = self.counts.record(Some(exit_code));
        summary.latency_ms = self.percentiles().map(|p| records::SummaryLatency {
            p50: Ms(p.p50),
            p95: Ms(p.p95),
            p99: Ms(p.p99),
            max: Ms(p.max),
        });
        summary.clients = Some(records::SummaryClients {
            total: self.clients,
            connected: self.still_connected(),
            failed: self.clients_failed,
        });
        summary.frames = Some(records::SummaryFrames {
            r#in: self.frames_in,
            out: self.frames_out,
        });
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut t = FanTally::default();
        assert_eq!(t.percentiles(), None);
        for ms in (1..=100).rev() {
            t.latency(Duration::from_millis(ms));
        }
        let p = t.percentiles().unwrap();
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.p95, Duration::from_millis(95));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
    }

    #[test]
    fn the_summary_counts_clients_replies_and_frames() {
        let mut t = FanTally {
            clients: 3,
            connected: 2,
            clients_failed: 1,
            counts: Tally {
                ok: 4,
                passed: 2,
                ..Tally::default()
            },
            frames_in: 9,
            frames_out: 7,
            failures: 25,
            ..FanTally::default()
        };
        let lines = t.lines();
        assert_eq!(lines[0], "clients: 2 connected, 1 failed (of 3)");
        assert_eq!(lines[1], "replies: 4 ok, 0 error, 0 timed out");
        assert_eq!(lines[3], "frames: 9 in, 7 out");
        assert_eq!(lines[4], "failing lines: 25 (5 not shown)");
    }

    #[test]
    fn a_client_lost_after_connecting_counts_as_failed_only() {
        let mut t = FanTally {
            clients: 5,
            connected: 4,
            clients_failed: 2,
            lost_after_connecting: 1,
            ..FanTally::default()
        };
        assert_eq!(t.lines()[0], "clients: 3 connected, 2 failed (of 5)");
        let record = serde_json::to_value(t.record(1)).unwrap();
        assert_eq!(record["clients"]["connected"], 3);
        assert_eq!(record["clients"]["failed"], 2);
    }
}

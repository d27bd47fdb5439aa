//! The automatic heartbeat's bookkeeping (docs/PROTOCOL.md §5): which beat is
//! still unanswered, since when one has been, and the figures `status`
//! shows.
//!
//! When to send a beat and when to give the connection up as dead is the
//! network thread's rule; this only records what it sent and what came
//! back. The heartbeat's request itself is pending like any other
//! (`pending.rs`), without a reply deadline.

use std::time::{Duration, Instant};

/// Heartbeat figures for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatStats {
    /// Round-trip time of the last answered heartbeat.
    pub last_rtt: Option<Duration>,
    /// Heartbeat timeouts, over the whole session: a heartbeat with no
    /// reply by the time the next was due while no other frame arrived
    /// either, for which the connection was closed as dead. A beat let
    /// pass because frames kept arriving is not counted (see `waiting`).
    pub missed: u64,
    /// How long the oldest heartbeat still unanswered has waited: it grows
    /// past the interval only while other frames keep the connection
    /// counted as alive (see the heartbeat rule in `transport::net`).
    pub waiting: Option<Duration>,
}

/// The automatic heartbeats of one session.
#[derive(Debug, Default)]
pub(super) struct Heartbeat {
    /// The beat awaiting its reply: ref and when it was sent.
    awaiting: Option<(String, Instant)>,
    /// When the oldest beat without a reply went out; any heartbeat reply
    /// clears it.
    since: Option<Instant>,
    stats: HeartbeatStats,
}

impl Heartbeat {
    /// Beat `r` went out at `now`.
    pub(super) fn sent(&mut self, r: String, now: Instant) {
        self.awaiting = Some((r, now));
        self.since.get_or_insert(now);
    }

    /// The reply to the beat with ref `r` came back after `latency`.
    pub(super) fn answered(&mut self, r: Option<&str>, latency: Duration) {
        if self
            .awaiting
            .as_ref()
            .is_some_and(|(awaited, _)| Some(awaited.as_str()) == r)
        {
            self.awaiting = None;
        }
        self.since = None;
        self.stats.last_rtt = Some(latency);
    }

    /// When the beat still waiting for its reply was sent.
    pub(super) fn unanswered(&self) -> Option<Instant> {
        self.awaiting.as_ref().map(|(_, at)| *at)
    }

    pub(super) fn missed(&mut self) {
        self.stats.missed += 1;
    }

    pub(super) fn stats(&self, now: Instant) -> HeartbeatStats {
        HeartbeatStats {
            waiting: self.since.map(|t| now.saturating_duration_since(t)),
            ..self.stats
        }
    }

    /// The transport is gone, and no beat will be answered; the figures
    /// stay, for the whole session.
    pub(super) fn disconnected(&mut self) {
        self.awaiting = None;
        self.since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::session::tests::{T, reply};
    use crate::core::session::{Request, Session};

    #[test]
    fn automatic_heartbeats_wait_for_the_next_beat_not_the_timeout() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        s.prepare(Request::Heartbeat { auto: true }, t0).unwrap();
        assert_eq!(s.next_deadline(), None);
        assert_eq!(s.unanswered_heartbeat(), Some(t0));
        assert!(s.expire(t0 + T + T).is_empty());
        // A second beat while the first is unanswered: the wait counts
        // from the first.
        let t1 = t0 + Duration::from_secs(30);
        s.prepare(Request::Heartbeat { auto: true }, t1).unwrap();
        assert_eq!(s.unanswered_heartbeat(), Some(t1));
        let waited = s.heartbeat_stats(t1 + Duration::from_secs(5)).waiting;
        assert_eq!(waited, Some(Duration::from_secs(35)));
        let r = reply(
            &mut s,
            r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
            t1 + Duration::from_millis(3),
        );
        assert!(r.auto);
        assert_eq!(s.unanswered_heartbeat(), None);
        let stats = s.heartbeat_stats(t1);
        assert_eq!(stats.last_rtt, Some(Duration::from_millis(3)));
        assert_eq!(stats.waiting, None);
    }
}

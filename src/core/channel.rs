//! One topic's channel lifecycle, and the two backoff schedules (pure).
//!
//! A [`Channel`] is the client's view of one server channel: its state
//! (joining, joined, leaving, closed, errored, named as in the JS client),
//! the join_ref of the current instance, the payload it was joined with, and
//! whether and when it should be rejoined. Every transition is a method
//! taking the current time; nothing here sleeps, sends or prints. The
//! session (`session/`) decides which transition a frame means and sends
//! the rejoins this module says are due.
//!
//! The rules follow the official JS client (docs/PROTOCOL.md §5) except where a
//! REPL user is better served, as the README says:
//! - `phx_error` → errored, rejoin after 1 s, 2 s, 5 s, then every 10 s,
//!   with the original join payload and a new join_ref.
//! - A join timeout → errored and rejoined on the same schedule.
//! - A join refused by the server (an error reply) → errored, and no
//!   automatic rejoin: the server said no; the user reads why and retries.
//!   (The JS client keeps retrying, which against `private:*` style topics
//!   only repeats the refusal every 10 s.)
//! - `phx_close` → closed, no rejoin.
//! - The transport drops → joined and joining channels are errored and
//!   rejoin as soon as the socket opens again; so does an errored channel
//!   that was waiting for its rejoin timer.

use std::time::{Duration, Instant};

use crate::core::protocol::Payload;

/// Reconnect delays of the JS client, in ms: then 5 s for every later
/// attempt (docs/PROTOCOL.md §4).
const RECONNECT_DELAYS_MS: [u64; 9] = [10, 50, 100, 150, 200, 250, 500, 1000, 2000];
const RECONNECT_LAST_MS: u64 = 5000;
/// Rejoin delays of the JS client, in ms: then 10 s (docs/PROTOCOL.md §4).
const REJOIN_DELAYS_MS: [u64; 3] = [1000, 2000, 5000];
const REJOIN_LAST_MS: u64 = 10_000;

/// How long to wait before reconnect attempt `attempt` (1 is the first).
pub fn reconnect_delay(attempt: u32) -> Duration {
    Duration::from_millis(step(&RECONNECT_DELAYS_MS, RECONNECT_LAST_MS, attempt))
}

/// How long to wait before rejoin attempt `attempt` (1 is the first).
pub fn rejoin_delay(attempt: u32) -> Duration {
    Duration::from_millis(step(&REJOIN_DELAYS_MS, REJOIN_LAST_MS, attempt))
}

fn step(table: &[u64], last: u64, attempt: u32) -> u64 {
    let i = attempt.max(1) as usize - 1;
    table.get(i).copied().unwrap_or(last)
}

/// The lifecycle state of a channel, named as in the JS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Joining,
    Joined,
    Leaving,
    Closed,
    Errored,
}

impl ChannelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Joining => "joining",
            ChannelState::Joined => "joined",
            ChannelState::Leaving => "leaving",
            ChannelState::Closed => "closed",
            ChannelState::Errored => "errored",
        }
    }

    /// Whether the server may have a channel instance for it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ChannelState::Joining | ChannelState::Joined | ChannelState::Leaving
        )
    }
}

/// When an errored channel is joined again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejoin {
    /// Not automatically: the channel is fine, was left or closed, or the
    /// server refused the join.
    Never,
    /// As soon as the socket is open again.
    OnReconnect,
    /// At this time (while connected).
    At(Instant),
}

/// The client's view of one channel on a topic.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Ref of the `phx_join` that created the current instance.
    pub join_ref: String,
    pub state: ChannelState,
    /// What the topic was joined with; every rejoin sends it again.
    pub payload: Payload,
    pub rejoin: Rejoin,
    /// Rejoins since the channel was last joined, for the backoff.
    pub attempts: u32,
    /// Joins answered ok since the user's join: a LiveView rejoins with
    /// it as `_mounts` (docs/PROTOCOL.md §10).
    pub mounts: u32,
}

impl Channel {
    /// A channel the user has just asked to join with `join_ref`.
    pub fn joining(join_ref: String, payload: Payload) -> Channel {
        Channel {
            join_ref,
            state: ChannelState::Joining,
            payload,
            rejoin: Rejoin::Never,
            attempts: 0,
            mounts: 0,
        }
    }

    /// The user joins the topic again (a new payload, a fresh schedule).
    pub fn join(&mut self, join_ref: String, payload: Payload) {
        *self = Channel::joining(join_ref, payload);
    }

    /// An automatic rejoin went out under `join_ref`, with the old payload.
    pub fn rejoin(&mut self, join_ref: String) {
        self.join_ref = join_ref;
        self.state = ChannelState::Joining;
        self.rejoin = Rejoin::Never;
    }

    /// The current join was answered ok.
    pub fn join_ok(&mut self) {
        self.state = ChannelState::Joined;
        self.rejoin = Rejoin::Never;
        self.attempts = 0;
        self.mounts += 1;
    }

    /// The server refused the current join: no automatic retry.
    pub fn join_refused(&mut self) {
        self.state = ChannelState::Errored;
        self.rejoin = Rejoin::Never;
    }

    /// The current join got no reply in time, or the channel crashed
    /// (`phx_error`): errored, and rejoined after the next backoff step.
    pub fn errored(&mut self, now: Instant) {
        self.state = ChannelState::Errored;
        self.attempts += 1;
        self.rejoin = Rejoin::At(now + rejoin_delay(self.attempts));
    }

    /// The server closed the channel (`phx_close`), or said it has none.
    pub fn closed(&mut self) {
        self.state = ChannelState::Closed;
        self.rejoin = Rejoin::Never;
    }

    /// The user leaves: no more rejoins. False when there is nothing on
    /// the server to leave (the channel stays as it is).
    pub fn leaving(&mut self) -> bool {
        self.rejoin = Rejoin::Never;
        match self.state {
            ChannelState::Joining | ChannelState::Joined | ChannelState::Errored => {
                self.state = ChannelState::Leaving;
                true
            }
            ChannelState::Leaving | ChannelState::Closed => false,
        }
    }

    /// The leave was answered (or the channel closed while leaving).
    pub fn left(&mut self) {
        if self.state == ChannelState::Leaving {
            self.closed();
        }
    }

    /// The socket is gone, and every server channel with it. Joined and
    /// joining channels (and errored ones waiting for a rejoin) come back
    /// when it reopens; a channel being left is simply closed.
    pub fn transport_lost(&mut self) {
        match self.state {
            ChannelState::Joining | ChannelState::Joined => {
                self.state = ChannelState::Errored;
                self.rejoin = Rejoin::OnReconnect;
            }
            ChannelState::Errored if self.rejoin != Rejoin::Never => {
                self.rejoin = Rejoin::OnReconnect;
            }
            ChannelState::Leaving => self.closed(),
            ChannelState::Errored | ChannelState::Closed => {}
        }
    }

    /// The socket is open again: a channel waiting for it rejoins now.
    pub fn reconnected(&mut self, now: Instant) {
        if self.rejoin == Rejoin::OnReconnect {
            self.rejoin = Rejoin::At(now);
        }
    }

    /// When the channel should be rejoined, if it is waiting for a timer.
    pub fn rejoin_at(&self) -> Option<Instant> {
        match self.rejoin {
            Rejoin::At(t) => Some(t),
            _ => None,
        }
    }

    /// Whether a rejoin is due at `now`.
    pub fn rejoin_due(&self, now: Instant) -> bool {
        self.rejoin_at().is_some_and(|t| t <= now)
    }

    /// Whether the channel is on its way back (joining, or errored with a
    /// rejoin coming): pushes to it wait for the join instead of failing.
    pub fn coming_back(&self) -> bool {
        self.state == ChannelState::Joining
            || (self.state == ChannelState::Errored && self.rejoin != Rejoin::Never)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::{Payload, raw};

    fn json(text: &str) -> Payload {
        raw(text.into()).into()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn channel() -> Channel {
        Channel::joining("1".into(), json(r#"{"user":"ana"}"#))
    }

    fn joined() -> Channel {
        let mut ch = channel();
        ch.join_ok();
        ch
    }

    #[test]
    fn reconnect_backoff_follows_the_js_client_then_stays_at_five_seconds() {
        let got: Vec<u64> = (1..=12)
            .map(|a| reconnect_delay(a).as_millis() as u64)
            .collect();
        assert_eq!(
            got,
            [
                10, 50, 100, 150, 200, 250, 500, 1000, 2000, 5000, 5000, 5000
            ]
        );
        assert_eq!(reconnect_delay(u32::MAX), ms(5000));
    }

    #[test]
    fn rejoin_backoff_is_one_two_five_then_ten_seconds() {
        let got: Vec<u64> = (1..=6)
            .map(|a| rejoin_delay(a).as_millis() as u64)
            .collect();
        assert_eq!(got, [1000, 2000, 5000, 10_000, 10_000, 10_000]);
    }

    #[test]
    fn attempt_zero_counts_as_the_first() {
        assert_eq!(reconnect_delay(0), ms(10));
        assert_eq!(rejoin_delay(0), ms(1000));
    }

    #[test]
    fn a_new_channel_is_joining_and_keeps_its_payload() {
        let ch = channel();
        assert_eq!(ch.state, ChannelState::Joining);
        assert_eq!(ch.payload.to_json(), r#"{"user":"ana"}"#);
        assert_eq!(ch.rejoin, Rejoin::Never);
        assert!(ch.coming_back());
    }

    #[test]
    fn join_ok_joins() {
        let ch = joined();
        assert_eq!(ch.state, ChannelState::Joined);
        assert!(!ch.coming_back());
    }

    #[test]
    fn a_refused_join_errors_without_a_rejoin() {
        let mut ch = channel();
        ch.join_refused();
        assert_eq!(ch.state, ChannelState::Errored);
        assert_eq!(ch.rejoin, Rejoin::Never);
        assert!(!ch.coming_back());
        ch.transport_lost();
        assert_eq!(ch.rejoin, Rejoin::Never, "a reconnect does not retry it");
    }

    #[test]
    fn crashes_back_off_one_two_five_ten_seconds() {
        let t0 = Instant::now();
        let mut ch = joined();
        let mut delays = Vec::new();
        for _ in 0..5 {
            ch.errored(t0);
            assert_eq!(ch.state, ChannelState::Errored);
            assert!(ch.coming_back());
            delays.push(ch.rejoin_at().unwrap() - t0);
            ch.rejoin("2".into());
        }
        assert_eq!(
            delays,
            [ms(1000), ms(2000), ms(5000), ms(10_000), ms(10_000)]
        );
    }

    #[test]
    fn a_rejoin_keeps_the_payload_and_takes_the_new_join_ref() {
        let t0 = Instant::now();
        let mut ch = joined();
        ch.errored(t0);
        assert!(!ch.rejoin_due(t0 + ms(999)));
        assert!(ch.rejoin_due(t0 + ms(1000)));
        ch.rejoin("7".into());
        assert_eq!(ch.state, ChannelState::Joining);
        assert_eq!(ch.join_ref, "7");
        assert_eq!(ch.payload.to_json(), r#"{"user":"ana"}"#);
        assert_eq!(ch.rejoin, Rejoin::Never);
    }

    #[test]
    fn joining_again_resets_the_backoff() {
        let t0 = Instant::now();
        let mut ch = joined();
        ch.errored(t0);
        ch.rejoin("2".into());
        ch.join_ok();
        ch.errored(t0);
        assert_eq!(ch.rejoin_at(), Some(t0 + ms(1000)));
    }

    #[test]
    fn the_user_joining_again_replaces_the_payload() {
        let mut ch = joined();
        ch.join("5".into(), json(r#"{"user":"bo"}"#));
        assert_eq!(ch.state, ChannelState::Joining);
        assert_eq!(
            (ch.join_ref.as_str(), ch.payload.to_json()),
            ("5", r#"{"user":"bo"}"#.into())
        );
    }

    #[test]
    fn a_join_timeout_errors_and_schedules_a_rejoin() {
        let t0 = Instant::now();
        let mut ch = channel();
        ch.errored(t0);
        assert_eq!(ch.state, ChannelState::Errored);
        assert_eq!(ch.rejoin_at(), Some(t0 + ms(1000)));
    }

    #[test]
    fn phx_close_closes_for_good() {
        let t0 = Instant::now();
        let mut ch = joined();
        ch.closed();
        assert_eq!(ch.state, ChannelState::Closed);
        ch.transport_lost();
        ch.reconnected(t0);
        assert_eq!(ch.state, ChannelState::Closed);
        assert_eq!(ch.rejoin, Rejoin::Never);
    }

    #[test]
    fn leaving_then_left_closes() {
        let mut ch = joined();
        assert!(ch.leaving());
        assert_eq!(ch.state, ChannelState::Leaving);
        ch.left();
        assert_eq!(ch.state, ChannelState::Closed);
    }

    #[test]
    fn leaving_an_errored_channel_cancels_its_rejoin() {
        let t0 = Instant::now();
        let mut ch = joined();
        ch.errored(t0);
        assert!(ch.leaving());
        assert_eq!(ch.rejoin, Rejoin::Never);
        assert_eq!(ch.state, ChannelState::Leaving);
    }

    #[test]
    fn leaving_a_closed_channel_changes_nothing() {
        let mut ch = joined();
        ch.closed();
        assert!(!ch.leaving());
        assert_eq!(ch.state, ChannelState::Closed);
    }

    #[test]
    fn left_only_closes_a_leaving_channel() {
        let mut ch = joined();
        ch.left();
        assert_eq!(ch.state, ChannelState::Joined);
    }

    #[test]
    fn losing_the_transport_errors_joined_and_joining_channels_until_reconnect() {
        let t0 = Instant::now();
        for mut ch in [joined(), channel()] {
            ch.transport_lost();
            assert_eq!(ch.state, ChannelState::Errored);
            assert_eq!(ch.rejoin, Rejoin::OnReconnect);
            assert!(ch.coming_back());
            assert!(!ch.rejoin_due(t0 + ms(60_000)), "not while offline");
            ch.reconnected(t0);
            assert!(ch.rejoin_due(t0), "at once after reconnecting");
        }
    }

    #[test]
    fn a_pending_rejoin_timer_waits_for_the_reconnect_instead() {
        let t0 = Instant::now();
        let mut ch = joined();
        ch.errored(t0);
        ch.transport_lost();
        assert_eq!(ch.rejoin, Rejoin::OnReconnect);
    }

    #[test]
    fn losing_the_transport_while_leaving_closes() {
        let mut ch = joined();
        ch.leaving();
        ch.transport_lost();
        assert_eq!(ch.state, ChannelState::Closed);
        assert_eq!(ch.rejoin, Rejoin::Never);
    }

    #[test]
    fn states_have_the_js_names() {
        let names: Vec<&str> = [
            ChannelState::Joining,
            ChannelState::Joined,
            ChannelState::Leaving,
            ChannelState::Closed,
            ChannelState::Errored,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["joining", "joined", "leaving", "closed", "errored"]);
    }
}

//! Requests sent and not yet answered: their refs, reply deadlines, and the
//! memory of given-up ones that lets a late reply still find its request.
//!
//! [`Requests`] only keeps the books: which ref is pending, which have
//! timed out or been orphaned, what to report. What a reply or a timeout
//! does to a channel is the session's (`mod.rs`); the automatic heartbeat's
//! own figures are `heartbeat.rs`'s.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::core::protocol::{PHOENIX_TOPIC, PHX_CLOSE, PHX_JOIN, PHX_LEAVE};

/// How many timed-out requests are remembered so a late reply can still be
/// matched to its request.
pub(super) const LATE_MEMORY: usize = 1024;

/// A request sent and not yet answered (or given up on and remembered).
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) topic: String,
    pub(super) event: String,
    pub(super) sent_at: Instant,
    pub(super) auto: bool,
    /// Sent with `cast`: no deadline, never given up on.
    pub(super) cast: bool,
    /// Given up on: timed out, or orphaned by a crash or close. A reply is
    /// still matched to its request, and marked late.
    pub(super) timed_out: bool,
    /// Orphaned by a `phx_error` or `phx_close` of its channel: a reply
    /// that still comes (the server's `unmatched topic` for a request that
    /// reached it after the crash) must not move the channel's state.
    pub(super) orphaned: bool,
}

/// A request whose reply did not arrive in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub ref_: String,
    pub topic: String,
    pub event: String,
    pub auto: bool,
    /// The timeout it was given. Not the time measured since sending: time
    /// spent paused behind a slow reader or a backlog does not count against
    /// a reply, so the measured wait can be longer than the budget.
    pub after: Duration,
}

impl Expired {
    /// A push of the user's (not a join, leave or heartbeat): one whose
    /// handler may answer `{:noreply, socket}`, so `cast` was meant.
    pub fn is_push(&self) -> bool {
        self.topic != PHOENIX_TOPIC && self.event != PHX_JOIN && self.event != PHX_LEAVE
    }
}

/// A request that will never be answered because its channel crashed or
/// closed before replying (`push room:lobby crash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub ref_: String,
    pub topic: String,
    pub event: String,
    /// `phx_error`, `phx_close`, or `disconnected` (the socket dropped).
    pub because: &'static str,
}

/// The pending requests of one connection, by ref.
#[derive(Debug)]
pub(super) struct Requests {
    /// How long a request waits for its reply.
    pub(super) timeout: Duration,
    pub(super) pending: HashMap<String, Pending>,
    /// Refs in send order; deadlines are monotonic because the timeout is fixed.
    pub(super) deadlines: VecDeque<(Instant, String)>,
    /// Timed-out refs still remembered for late replies, oldest first.
    late: VecDeque<String>,
    /// Requests orphaned by a channel crash or close, not yet collected.
    unanswered: Vec<Unanswered>,
    /// Refs of casts not yet answered, oldest first: most never are, so
    /// only the latest `LATE_MEMORY` are kept matchable.
    casts: VecDeque<String>,
}

impl Requests {
    pub(super) fn new(timeout: Duration) -> Requests {
        Requests {
            timeout,
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            late: VecDeque::new(),
            unanswered: Vec::new(),
            casts: VecDeque::new(),
        }
    }

    /// Records a sent request as pending. Automatic heartbeats have no
    /// reply deadline: they are judged when the next one is due (§5).
    /// Casts have none either: a handler that returns `{:noreply, socket}`
    /// never answers them (§3).
    pub(super) fn track(
        &mut self,
        r: String,
        topic: &str,
        event: &str,
        auto: bool,
        cast: bool,
        now: Instant,
    ) {
        self.pending.insert(
            r.clone(),
            Pending {
                topic: topic.to_owned(),
                event: event.to_owned(),
                sent_at: now,
                auto,
                cast,
                timed_out: false,
                orphaned: false,
            },
        );
        if cast {
            self.casts.push_back(r);
            if self.casts.len() > LATE_MEMORY
                && let Some(old) = self.casts.pop_front()
            {
                self.pending.remove(&old);
            }
        } else if !auto {
            self.deadlines.push_back((now + self.timeout, r));
        }
    }

    /// The request a reply with ref `r` answers, no longer pending (nor
    /// remembered as late).
    pub(super) fn answer(&mut self, r: &str) -> Option<Pending> {
        let p = self.pending.remove(r)?;
        if p.timed_out {
            self.late.retain(|late| late != r);
        }
        if p.cast {
            self.casts.retain(|c| c != r);
        }
        Some(p)
    }

    /// The channel on `topic` is gone: its unanswered requests are reported
    /// as such. They stay matchable, like timed-out ones: a request that
    /// reached the server after the crash is still answered (`unmatched
    /// topic`), and that reply belongs to it, marked late.
    ///
    /// A `phx_leave` outlives the `phx_close`: a LiveView sends the close
    /// first and the leave's reply after it (docs/PROTOCOL.md §10).
    pub(super) fn orphan(&mut self, topic: &str, because: &'static str) {
        let refs: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.topic == topic && !p.timed_out)
            .filter(|(_, p)| !(because == PHX_CLOSE && p.event == PHX_LEAVE))
            .map(|(r, _)| r.clone())
            .collect();
        for r in refs {
            if let Some(p) = self.pending.get_mut(&r) {
                if p.cast {
                    // Expected no answer: not reported, but a reply that
                    // still comes moves no state either.
                    p.orphaned = true;
                    continue;
                }
                p.timed_out = true;
                p.orphaned = true;
                self.unanswered.push(Unanswered {
                    ref_: r.clone(),
                    topic: p.topic.clone(),
                    event: p.event.clone(),
                    because,
                });
                self.remember_late(r);
            }
        }
        self.unanswered.sort_by_key(|u| ref_order(&u.ref_));
    }

    /// Requests orphaned since the last call (see `Unanswered`).
    pub(super) fn take_unanswered(&mut self) -> Vec<Unanswered> {
        std::mem::take(&mut self.unanswered)
    }

    pub(super) fn has_unanswered(&self) -> bool {
        !self.unanswered.is_empty()
    }

    /// Marks requests whose deadline has passed as timed out and returns
    /// them, in send order. Their replies are still matched if they arrive
    /// later.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let (_, r) = self.deadlines.pop_front().expect("front exists");
            let Some(p) = self.pending.get_mut(&r).filter(|p| !p.timed_out) else {
                continue; // answered in time, or orphaned by a crash
            };
            p.timed_out = true;
            out.push(Expired {
                ref_: r.clone(),
                topic: p.topic.clone(),
                event: p.event.clone(),
                auto: p.auto,
                after: self.timeout,
            });
            self.remember_late(r);
        }
        out
    }

    /// Keeps a given-up request matchable for a late reply, forgetting the
    /// oldest beyond `LATE_MEMORY`.
    fn remember_late(&mut self, r: String) {
        self.late.push_back(r);
        if self.late.len() > LATE_MEMORY
            && let Some(old) = self.late.pop_front()
        {
            self.pending.remove(&old);
        }
    }

    /// When the next pending request times out.
    ///
    /// Entries of answered requests are dropped from the front here, so a
    /// long script of request/reply pairs costs O(1) per call.
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some((deadline, r)) = self.deadlines.front() {
            if self.pending.get(r).is_some_and(|p| !p.timed_out) {
                return Some(*deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// Moves every deadline `by` later.
    pub(super) fn postpone(&mut self, by: Duration) {
        for (deadline, _) in &mut self.deadlines {
            *deadline += by;
        }
    }

    /// The transport is gone: no pending request will be answered. Those
    /// not already reported (timed out or orphaned) and not automatic
    /// heartbeats are reported as unanswered, and nothing is remembered.
    pub(super) fn disconnected(&mut self) {
        let mut orphans: Vec<Unanswered> = self
            .pending
            .drain()
            .filter(|(_, p)| !p.timed_out && !p.auto && !p.cast)
            .map(|(r, p)| Unanswered {
                ref_: r,
                topic: p.topic,
                event: p.event,
                because: "disconnected",
            })
            .collect();
        orphans.sort_by_key(|u| ref_order(&u.ref_));
        self.unanswered.extend(orphans);
        self.deadlines.clear();
        self.late.clear();
        self.casts.clear();
    }
}

/// Refs are counted up from 1, so their numbers are their send order.
fn ref_order(r: &str) -> u64 {
    r.parse::<u64>().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::session::tests::{T, joined, message, push, reply, state};
    use crate::core::session::{ChannelState, Session};

    #[test]
    fn a_crash_orphans_the_channels_pending_requests() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "crash", t0);
        push(&mut s, "room:b", "other", t0);
        message(&mut s, r#"["1","1","room:a","phx_error",{}]"#, t0);
        assert_eq!(
            s.take_unanswered(),
            vec![Unanswered {
                ref_: "2".into(),
                topic: "room:a".into(),
                event: "crash".into(),
                because: "phx_error",
            }]
        );
        assert!(s.take_unanswered().is_empty());
        let expired = s.expire(t0 + T);
        assert_eq!(expired.len(), 1, "only room:b's push is still pending");
        assert_eq!(expired[0].topic, "room:b");
    }

    #[test]
    fn a_reply_to_an_orphaned_request_is_its_own_and_moves_no_state() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "crash", t0);
        push(&mut s, "room:a", "echo", t0);
        message(&mut s, r#"["1","1","room:a","phx_error",{}]"#, t0);
        assert_eq!(s.take_unanswered().len(), 2);
        // The rejoin is already on its way when the echo's answer comes.
        let rejoin = s.rejoins_due(t0 + Duration::from_secs(1));
        assert_eq!(rejoin.len(), 1);
        let r = reply(
            &mut s,
            r#"[null,"3","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#,
            t0,
        );
        assert_eq!(r.request.as_deref(), Some("echo"));
        assert!(r.late, "reported unanswered before, so it is late");
        assert_eq!(state(&s, "room:a"), ChannelState::Joining);
        assert!(s.expire(t0 + T * 3).iter().all(|e| e.event != "echo"));
    }

    #[test]
    fn requests_time_out_and_late_replies_are_marked() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "noreply", t0);
        assert_eq!(s.next_deadline(), Some(t0 + T));
        assert!(s.expire(t0 + T - Duration::from_millis(1)).is_empty());
        let expired = s.expire(t0 + T);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].ref_, "1");
        assert_eq!(expired[0].event, "noreply");
        assert_eq!(s.next_deadline(), None);
        let r = reply(
            &mut s,
            r#"[null,"1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0 + T + T,
        );
        assert!(r.late);
        assert_eq!(r.request.as_deref(), Some("noreply"));
    }

    #[test]
    fn answered_requests_never_time_out() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "echo", t0);
        reply(
            &mut s,
            r#"[null,"1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert_eq!(s.next_deadline(), None);
        assert!(s.expire(t0 + T + T).is_empty());
    }

    #[test]
    fn answered_requests_do_not_pile_up_in_the_deadlines() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        for i in 1..=1000 {
            push(&mut s, "room:a", "echo", t0);
            reply(
                &mut s,
                &format!(r#"[null,"{i}","room:a","phx_reply",{{"status":"ok","response":{{}}}}]"#),
                t0,
            );
            assert_eq!(s.next_deadline(), None);
        }
        assert!(s.requests.deadlines.is_empty());
    }

    #[test]
    fn postponed_deadlines_move_later() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "room:a", "echo", t0);
        s.postpone(Duration::from_secs(3));
        assert!(s.expire(t0 + T).is_empty());
        assert_eq!(s.expire(t0 + T + Duration::from_secs(3)).len(), 1);
    }

    #[test]
    fn late_memory_is_bounded() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        for _ in 0..LATE_MEMORY + 10 {
            push(&mut s, "t", "e", t0);
        }
        s.expire(t0 + T);
        assert_eq!(s.requests.pending.len(), LATE_MEMORY);
    }

    #[test]
    fn a_cast_never_times_out_nor_is_orphaned_and_its_reply_is_matched() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.prepare(
            crate::core::session::Request::Push {
                topic: "room:a".into(),
                event: "new_msg".into(),
                payload: crate::core::protocol::empty_object().into(),
                cast: true,
            },
            t0,
        )
        .unwrap();
        assert_eq!(s.next_deadline(), None);
        assert!(s.expire(t0 + T * 2).is_empty());
        let r = reply(
            &mut s,
            r#"["1","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert!(r.cast && !r.late);
        assert_eq!(r.request.as_deref(), Some("new_msg"));
        s.prepare(
            crate::core::session::Request::Push {
                topic: "room:a".into(),
                event: "new_msg".into(),
                payload: crate::core::protocol::empty_object().into(),
                cast: true,
            },
            t0,
        )
        .unwrap();
        message(&mut s, r#"["1","1","room:a","phx_error",{}]"#, t0);
        assert!(s.take_unanswered().is_empty());
        s.requests.disconnected();
        assert!(s.take_unanswered().is_empty());
    }

    #[test]
    fn unanswered_casts_are_forgotten_beyond_the_late_memory() {
        let mut r = Requests::new(T);
        let t0 = Instant::now();
        for i in 0..LATE_MEMORY + 10 {
            r.track(i.to_string(), "room:a", "e", false, true, t0);
        }
        assert_eq!(r.pending.len(), LATE_MEMORY);
        assert!(r.deadlines.is_empty());
    }
}

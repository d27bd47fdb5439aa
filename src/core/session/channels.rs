//! The session's channels: joining and leaving topics, recording each
//! change of state, the automatic rejoins, and the `topics` and `status`
//! listings.
//!
//! One topic's lifecycle rules are `core::channel`'s; here is what ties
//! the topics to the rest of the session: a change of state is reported
//! as a [`Transition`] and releases or drops the pushes held for the topic
//! (`held.rs`), and a rejoin is tracked like any request (`pending.rs`).

use std::time::{Duration, Instant};

use super::{Session, SessionError};
use crate::core::channel::{Channel, ChannelState, Rejoin};
use crate::core::protocol::{Frame, PHX_JOIN, PHX_LEAVE, Payload, empty_object};

/// One row of the `topics` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub topic: String,
    pub join_ref: String,
    pub state: ChannelState,
}

/// One topic in `status`: `TopicInfo` plus what it was joined with and
/// when it comes back.
#[derive(Debug, Clone)]
pub struct TopicStatus {
    pub topic: String,
    pub join_ref: String,
    pub state: ChannelState,
    pub payload: Payload,
    /// Time left before the rejoin, `Some(ZERO)` when it waits for the
    /// socket; `None` when no rejoin is planned.
    pub rejoin_in: Option<Duration>,
    /// Rejoins since it was last joined.
    pub attempts: u32,
}

/// A channel changed state (for `--json` `channel_state` records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub topic: String,
    /// `None` for a topic seen for the first time.
    pub from: Option<ChannelState>,
    pub to: ChannelState,
    /// What caused it: `join`, `joined`, `join refused`, `join timed out`,
    /// `phx_error`, `phx_close`, `leave`, `left`, `left while offline`,
    /// `unmatched topic`, `disconnected`, `rejoin`.
    pub why: &'static str,
    /// When an errored channel will be rejoined: `Some(ZERO)` when it waits
    /// for the socket to reopen.
    pub rejoin_in: Option<Duration>,
}

/// An automatic rejoin to send.
#[derive(Debug, Clone)]
pub struct Rejoining {
    pub frame: Frame,
    /// 1 for the first rejoin since the channel was last joined.
    pub attempt: u32,
}

impl Session {
    /// Applies `f` to the channel on `topic` and records the change, if any.
    /// Pushes held for the topic are released once it is joined and dropped
    /// once it is not coming back.
    pub(super) fn change(
        &mut self,
        topic: &str,
        now: Instant,
        why: &'static str,
        f: impl FnOnce(&mut Channel),
    ) {
        let Some(ch) = self.channels.get_mut(topic) else {
            return;
        };
        let from = ch.state;
        f(ch);
        let (to, coming_back, rejoin) = (ch.state, ch.coming_back(), ch.rejoin);
        if to != from {
            self.transitions.push(Transition {
                topic: topic.to_owned(),
                from: Some(from),
                to,
                why,
                rejoin_in: rejoin_in(rejoin, now),
            });
        }
        if to == ChannelState::Joined {
            self.held.release(topic);
        } else if !coming_back {
            let why = match to {
                ChannelState::Leaving => "the topic is being left",
                ChannelState::Closed => "the channel closed",
                _ => "the join failed",
            };
            self.held.drop_topic(topic, why);
        }
    }

    /// The `phx_join` for `topic`, with a new ref as its join_ref.
    pub(super) fn join_frame(&mut self, topic: String, payload: Payload, now: Instant) -> Frame {
        let r = self.next_ref();
        // A join of a topic already joined replaces it, as Phoenix
        // does (§3): frames for the old join_ref become stale.
        let frame = Frame {
            join_ref: Some(r.as_str().into()),
            ref_: Some(r.as_str().into()),
            topic: topic.as_str().into(),
            event: PHX_JOIN.into(),
            payload: payload.clone(),
        };
        if self.channels.contains_key(&topic) {
            self.change(&topic, now, "join", |ch| ch.join(r, payload));
        } else {
            self.channels
                .insert(topic.clone(), Channel::joining(r, payload));
            self.transitions.push(Transition {
                topic,
                from: None,
                to: ChannelState::Joining,
                why: "join",
                rejoin_in: None,
            });
        }
        frame
    }

    /// The `phx_leave` for `topic`, or for the one topic joined.
    pub(super) fn leave_frame(
        &mut self,
        topic: Option<String>,
        now: Instant,
    ) -> Result<Frame, SessionError> {
        let topic = match topic {
            Some(t) => t,
            None => self.only_joined_topic()?,
        };
        // The last join_ref even for a channel we think is dead: if
        // it is alive after all (a join that timed out, say) only
        // the matching join_ref leaves it, and a dead one is
        // answered ok whatever the join_ref (§3).
        let join_ref = self.channels.get(&topic).map(|ch| ch.join_ref.clone());
        self.change(&topic, now, "leave", |ch| {
            ch.leaving();
        });
        let r = self.next_ref();
        Ok(Frame {
            join_ref: join_ref.map(Into::into),
            ref_: Some(r.into()),
            topic: topic.into(),
            event: PHX_LEAVE.into(),
            payload: empty_object().into(),
        })
    }

    /// The user leaves `topic` while the socket is down. Its server channel
    /// went with the connection, so it is closed here at once, as the JS
    /// client does, and not rejoined; the `phx_leave` itself still goes out
    /// once the socket is back (and is answered ok).
    pub fn leave_offline(&mut self, topic: &str, now: Instant) {
        self.change(topic, now, "left while offline", |ch| {
            if ch.leaving() {
                ch.left();
            }
        });
    }

    /// Joins again every channel whose rejoin is due, with its join payload
    /// and a new join_ref.
    pub fn rejoins_due(&mut self, now: Instant) -> Vec<Rejoining> {
        let due: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.rejoin_due(now))
            .map(|(t, _)| t.clone())
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for topic in due {
            let r = self.next_ref();
            let Some(ch) = self.channels.get(&topic) else {
                continue;
            };
            let payload = rejoin_payload(&topic, &ch.payload, ch.mounts);
            let attempt = ch.attempts.max(1);
            self.change(&topic, now, "rejoin", |ch| ch.rejoin(r.clone()));
            let frame = Frame {
                join_ref: Some(r.as_str().into()),
                ref_: Some(r.as_str().into()),
                topic: topic.into(),
                event: PHX_JOIN.into(),
                payload,
            };
            self.track(&frame, r, false, false, now);
            out.push(Rejoining { frame, attempt });
        }
        out
    }

    /// When the next timed rejoin is due.
    pub fn next_rejoin(&self) -> Option<Instant> {
        self.channels.values().filter_map(Channel::rejoin_at).min()
    }

    /// The socket is open again: channels waiting for it rejoin now.
    pub fn reconnected(&mut self, now: Instant) {
        for ch in self.channels.values_mut() {
            ch.reconnected(now);
        }
    }

    /// Every topic seen, with its join_ref and state, sorted by topic.
    pub fn topics(&self) -> Vec<TopicInfo> {
        self.channels
            .iter()
            .map(|(t, ch)| TopicInfo {
                topic: t.clone(),
                join_ref: ch.join_ref.clone(),
                state: ch.state,
            })
            .collect()
    }

    /// `None` when `topic` is joined or on its way there; otherwise the
    /// joined topics, sorted, for a push to it to say so.
    pub fn not_joined(&self, topic: &str) -> Option<Vec<String>> {
        if self
            .channels
            .get(topic)
            .is_some_and(|ch| ch.state == ChannelState::Joined || ch.coming_back())
        {
            return None;
        }
        Some(
            self.channels
                .iter()
                .filter(|(_, ch)| ch.state == ChannelState::Joined)
                .map(|(t, _)| t.clone())
                .collect(),
        )
    }

    /// Every topic with its join payload and rejoin countdown, sorted.
    pub fn topic_status(&self, now: Instant) -> Vec<TopicStatus> {
        self.channels
            .iter()
            .map(|(t, ch)| TopicStatus {
                topic: t.clone(),
                join_ref: ch.join_ref.clone(),
                state: ch.state,
                payload: ch.payload.clone(),
                rejoin_in: rejoin_in(ch.rejoin, now),
                attempts: ch.attempts,
            })
            .collect()
    }

    /// The join_ref to put on a message for `topic`, if its channel is live.
    pub fn current_join_ref(&self, topic: &str) -> Option<&str> {
        self.channels
            .get(topic)
            .filter(|ch| ch.state.is_live())
            .map(|ch| ch.join_ref.as_str())
    }

    fn only_joined_topic(&self) -> Result<String, SessionError> {
        let live: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| matches!(ch.state, ChannelState::Joined | ChannelState::Joining))
            .map(|(t, _)| t.clone())
            .collect();
        if live.len() == 1 {
            Ok(live.into_iter().next().expect("one element"))
        } else {
            Err(SessionError::WhichTopic(live))
        }
    }
}

/// What a rejoin sends: the join's payload, but for a LiveView (`lv:…`
/// with `params._mounts`), whose `_mounts` counts the joins that
/// succeeded, as the JS client sends it (docs/PROTOCOL.md §10).
fn rejoin_payload(topic: &str, payload: &Payload, mounts: u32) -> Payload {
    if !topic.starts_with("lv:") {
        return payload.clone();
    }
    let Some(json) = payload.json() else {
        return payload.clone();
    };
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(json.get()) else {
        return payload.clone();
    };
    match value.pointer_mut("/params/_mounts") {
        Some(m) => *m = serde_json::Value::from(mounts),
        None => return payload.clone(),
    }
    crate::core::protocol::raw(value.to_string()).into()
}

fn rejoin_in(rejoin: Rejoin, now: Instant) -> Option<Duration> {
    match rejoin {
        Rejoin::Never => None,
        Rejoin::OnReconnect => Some(Duration::ZERO),
        Rejoin::At(t) => Some(t.saturating_duration_since(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::raw;
    use crate::core::session::Request;
    use crate::core::session::tests::{T, crash, join, joined, push, reply, state};

    #[test]
    fn not_joined_names_the_joined_topics_unless_the_topic_is_on_its_way() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        assert_eq!(s.not_joined("room:x"), Some(vec![]));
        joined(&mut s, "room:lobby", t0);
        join(&mut s, "room:b", t0);
        assert_eq!(s.not_joined("room:lobby"), None);
        assert_eq!(s.not_joined("room:b"), None, "joining");
        assert_eq!(s.not_joined("room:lobyy"), Some(vec!["room:lobby".into()]));
    }

    #[test]
    fn join_uses_its_ref_as_join_ref() {
        let mut s = Session::new(T);
        let f = join(&mut s, "room:lobby", Instant::now());
        assert_eq!(f.encode(), r#"["1","1","room:lobby","phx_join",{}]"#);
        assert_eq!(state(&s, "room:lobby"), ChannelState::Joining);
    }

    #[test]
    fn leave_without_topic_needs_exactly_one_joined() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        let none = s.prepare(Request::Leave { topic: None }, t0).unwrap_err();
        assert_eq!(none, SessionError::WhichTopic(vec![]));
        join(&mut s, "room:a", t0);
        let f = s.prepare(Request::Leave { topic: None }, t0).unwrap();
        assert_eq!(f.encode(), r#"["1","2","room:a","phx_leave",{}]"#);
        join(&mut s, "room:b", t0);
        join(&mut s, "room:c", t0);
        let two = s.prepare(Request::Leave { topic: None }, t0).unwrap_err();
        assert_eq!(
            two,
            SessionError::WhichTopic(vec!["room:b".into(), "room:c".into()])
        );
        assert!(two.to_string().contains("`leave room:b`"));
    }

    #[test]
    fn leave_of_an_errored_channel_keeps_its_join_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.expire(t0 + T);
        let f = s
            .prepare(
                Request::Leave {
                    topic: Some("room:a".into()),
                },
                t0,
            )
            .unwrap();
        assert_eq!(f.join_ref.as_deref(), Some("1"));
    }

    #[test]
    fn a_leave_while_offline_closes_the_topic_for_good() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.transport_closed(t0);
        s.take_transitions();
        s.leave_offline("room:a", t0);
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
        let t = s.take_transitions();
        assert_eq!((t.len(), t[0].why), (1, "left while offline"));
        s.reconnected(t0);
        assert!(s.rejoins_due(t0).is_empty());
    }

    #[test]
    fn a_crashed_channel_rejoins_with_its_payload_and_a_new_join_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        s.prepare(
            Request::Join {
                topic: "room:a".into(),
                payload: raw(r#"{"user":"ana"}"#.into()).into(),
            },
            t0,
        )
        .unwrap();
        reply(
            &mut s,
            r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        crash(&mut s, "room:a", "1", t0);
        assert_eq!(s.next_rejoin(), Some(t0 + Duration::from_secs(1)));
        assert!(s.rejoins_due(t0 + Duration::from_millis(999)).is_empty());
        let due = s.rejoins_due(t0 + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempt, 1);
        assert_eq!(
            due[0].frame.encode(),
            r#"["2","2","room:a","phx_join",{"user":"ana"}]"#
        );
        assert_eq!(state(&s, "room:a"), ChannelState::Joining);
        assert_eq!(s.next_rejoin(), None);
    }

    #[test]
    fn a_liveview_rejoins_with_mounts_counting_the_joins_that_succeeded() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        let join = r#"{"params":{"_csrf_token":"t","_mounts":0},"session":"S"}"#;
        s.prepare(
            Request::Join {
                topic: "lv:phx-1".into(),
                payload: raw(join.into()).into(),
            },
            t0,
        )
        .unwrap();
        reply(
            &mut s,
            r#"["1","1","lv:phx-1","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        crash(&mut s, "lv:phx-1", "1", t0);
        let due = s.rejoins_due(t0 + Duration::from_secs(1));
        assert_eq!(
            due[0].frame.encode(),
            r#"["2","2","lv:phx-1","phx_join",{"params":{"_csrf_token":"t","_mounts":1},"session":"S"}]"#
        );
        reply(
            &mut s,
            r#"["2","2","lv:phx-1","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        crash(&mut s, "lv:phx-1", "2", t0);
        let due = s.rejoins_due(t0 + Duration::from_secs(2));
        assert!(due[0].frame.encode().contains(r#""_mounts":2"#));
    }

    #[test]
    fn transitions_are_reported_with_their_cause() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        crash(&mut s, "room:a", "1", t0);
        let got: Vec<(Option<ChannelState>, ChannelState, &str, Option<Duration>)> = s
            .take_transitions()
            .into_iter()
            .map(|t| (t.from, t.to, t.why, t.rejoin_in))
            .collect();
        use ChannelState::*;
        assert_eq!(
            got,
            [
                (None, Joining, "join", None),
                (Some(Joining), Joined, "joined", None),
                (
                    Some(Joined),
                    Errored,
                    "phx_error",
                    Some(Duration::from_secs(1))
                ),
            ]
        );
        assert!(s.take_transitions().is_empty());
    }

    #[test]
    fn a_lost_transport_orphans_requests_and_rejoins_on_reconnect() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        joined(&mut s, "room:b", t0);
        push(&mut s, "room:a", "echo", t0);
        s.transport_closed(t0);
        let orphans = s.take_unanswered();
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].because, "disconnected");
        assert!(s.rejoins_due(t0 + T).is_empty(), "not while offline");
        s.reconnected(t0 + T);
        let topics: Vec<String> = s
            .rejoins_due(t0 + T)
            .into_iter()
            .map(|r| r.frame.topic.into_string())
            .collect();
        assert_eq!(topics, ["room:a", "room:b"]);
    }

    #[test]
    fn status_shows_payloads_and_rejoin_countdowns() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        crash(&mut s, "room:a", "1", t0);
        let st = s.topic_status(t0 + Duration::from_millis(400));
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].state, ChannelState::Errored);
        assert_eq!(st[0].payload.to_json(), "{}");
        assert_eq!(st[0].rejoin_in, Some(Duration::from_millis(600)));
        assert_eq!(st[0].attempts, 1);
    }
}

//! What a received frame means (docs/PROTOCOL.md §3, §8): a reply matched to
//! its request, or a push, broadcast, crash or close, current or stale,
//! and what each does to its channel.
//!
//! The frame is already decoded (`core::protocol`); the requests it may
//! answer are `pending.rs`'s, and the state changes go through the
//! session's `change` (`channels.rs`).

use std::time::{Duration, Instant};

use super::Session;
use crate::core::channel::{Channel, ChannelState};
use crate::core::protocol::{
    Frame, PHX_CLOSE, PHX_ERROR, PHX_JOIN, PHX_LEAVE, PHX_REPLY, Payload, parse_reply,
};

/// A reply (`phx_reply`) with what it answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub frame: Frame,
    /// `None` when the payload has no string `status` (a malformed reply).
    pub status: Option<String>,
    pub response: Payload,
    /// The event of the matched request, if any.
    pub request: Option<String>,
    pub latency: Option<Duration>,
    /// The request had already been reported as timed out.
    pub late: bool,
    /// The reply to a periodic heartbeat.
    pub auto: bool,
    /// The reply to a `cast`: `expect` does not check it.
    pub cast: bool,
}

impl Reply {
    pub fn is_error(&self) -> bool {
        self.status.as_deref() != Some("ok")
    }
}

/// What kind of non-reply frame arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A push from the channel to this client (has a join_ref).
    Push,
    /// A broadcast to the topic (null join_ref).
    Broadcast,
    /// `phx_error`: the channel crashed.
    Error,
    /// `phx_close`: the channel closed. `requested` when it follows our leave.
    Close { requested: bool },
}

/// A non-reply frame.
#[derive(Debug, Clone)]
pub struct Message {
    pub frame: Frame,
    pub kind: MessageKind,
    /// Carries a join_ref that is not the topic's current one: it belongs to
    /// an earlier instance of the channel and does not change its state.
    pub stale: bool,
}

/// What a received frame is.
#[derive(Debug, Clone)]
pub enum Incoming {
    Reply(Reply),
    Message(Message),
}

impl Session {
    /// Classifies a received frame and applies it to the channel states.
    pub fn receive(&mut self, frame: Frame, now: Instant) -> Incoming {
        if frame.event == PHX_REPLY {
            return Incoming::Reply(self.receive_reply(frame, now));
        }
        let (kind, stale) = self.receive_message(&frame, now);
        Incoming::Message(Message { frame, kind, stale })
    }

    /// [`Session::receive`] for a frame that is not a `phx_reply`: what kind
    /// of message it is and whether it is stale. The frame is only looked
    /// at, so the network thread moves it once, into its batch.
    pub fn receive_message(&mut self, frame: &Frame, now: Instant) -> (MessageKind, bool) {
        self.receive_parts(
            frame.join_ref.as_deref(),
            frame.ref_.as_deref(),
            &frame.topic,
            &frame.event,
            now,
        )
    }

    /// [`Session::receive_message`] for a frame's parts, which need not be
    /// a [`Frame`] yet.
    pub fn receive_parts(
        &mut self,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        now: Instant,
    ) -> (MessageKind, bool) {
        let current = self.channels.get(topic);
        // Phoenix sends phx_close and phx_error with ref = join_ref (§8.2),
        // so the ref tells the instance even where the frame has no join_ref
        // (V1): the old instance's close after a duplicate join must not
        // close the new one.
        let instance = match (join_ref, event) {
            (None, PHX_CLOSE | PHX_ERROR) => ref_,
            (jr, _) => jr,
        };
        let stale = match (instance, current) {
            (None, _) => false,
            (Some(jr), Some(ch)) => jr != ch.join_ref,
            (Some(_), None) => true,
        };
        let kind = match event {
            PHX_ERROR => MessageKind::Error,
            PHX_CLOSE => MessageKind::Close {
                requested: current.is_some_and(|ch| {
                    matches!(ch.state, ChannelState::Leaving | ChannelState::Closed)
                }),
            },
            _ if join_ref.is_none() => MessageKind::Broadcast,
            _ => MessageKind::Push,
        };
        if !stale && current.is_some() {
            match kind {
                MessageKind::Error => {
                    self.change(topic, now, "phx_error", |ch| {
                        if ch.state != ChannelState::Leaving {
                            ch.errored(now);
                        } else {
                            ch.left();
                        }
                    });
                    self.requests.orphan(topic, PHX_ERROR);
                }
                MessageKind::Close { .. } => {
                    self.change(topic, now, "phx_close", Channel::closed);
                    self.requests.orphan(topic, PHX_CLOSE);
                }
                _ => {}
            }
        }
        (kind, stale)
    }

    /// [`Session::receive`] for a `phx_reply`.
    pub fn receive_reply(&mut self, frame: Frame, now: Instant) -> Reply {
        let parsed = parse_reply(&frame.payload);
        let (status, response) = match parsed {
            Some(p) => (Some(p.status), p.response),
            None => (None, frame.payload.clone()),
        };
        let pending = frame
            .ref_
            .as_ref()
            .and_then(|r| self.requests.answer(r.as_str()));
        let Some(p) = pending else {
            return Reply {
                frame,
                status,
                response,
                request: None,
                latency: None,
                late: false,
                auto: false,
                cast: false,
            };
        };
        let latency = now.saturating_duration_since(p.sent_at);
        if p.auto {
            self.heartbeat.answered(frame.ref_.as_deref(), latency);
        }
        let ok = status.as_deref() == Some("ok");
        if let Some(ch) = self.channels.get(&p.topic).filter(|_| !p.orphaned) {
            let is_current = frame.ref_.as_deref() == Some(ch.join_ref.as_str());
            let state = ch.state;
            match p.event.as_str() {
                // Only the reply to the current join moves the channel: a
                // reply to a replaced join must not. A late ok still joins.
                PHX_JOIN
                    if is_current
                        && matches!(state, ChannelState::Joining | ChannelState::Errored) =>
                {
                    if ok {
                        self.change(&p.topic, now, "joined", Channel::join_ok);
                    } else {
                        self.change(&p.topic, now, "join refused", Channel::join_refused);
                    }
                }
                PHX_LEAVE if state == ChannelState::Leaving => {
                    self.change(&p.topic, now, "left", Channel::left);
                }
                // "unmatched topic" with a null join_ref: the server has no
                // channel for this topic (§8.5), whatever we thought.
                _ if !ok
                    && frame.join_ref.is_none()
                    && state.is_live()
                    && is_unmatched_topic(&response) =>
                {
                    self.change(&p.topic, now, "unmatched topic", Channel::closed);
                }
                _ => {}
            }
        }
        Reply {
            frame,
            status,
            response,
            request: Some(p.event),
            latency: Some(latency),
            late: p.timed_out,
            auto: p.auto,
            cast: p.cast,
        }
    }
}

/// Whether a reply's response is Phoenix's `{"reason":"unmatched topic"}`.
fn is_unmatched_topic(response: &Payload) -> bool {
    let Some(response) = response.json() else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Reason<'a> {
        #[serde(borrow)]
        reason: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Reason<'_>>(response.get())
        .ok()
        .and_then(|r| r.reason)
        .is_some_and(|r| r == "unmatched topic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::session::Request;
    use crate::core::session::tests::{T, join, joined, message, push, reply, state};

    #[test]
    fn join_reply_ok_joins_and_reports_latency() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:lobby", t0);
        let r = reply(
            &mut s,
            r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{"joined":"room:lobby"}}]"#,
            t0 + Duration::from_millis(2),
        );
        assert_eq!(r.status.as_deref(), Some("ok"));
        assert_eq!(r.request.as_deref(), Some("phx_join"));
        assert_eq!(r.latency, Some(Duration::from_millis(2)));
        assert_eq!(r.response.to_json(), r#"{"joined":"room:lobby"}"#);
        assert_eq!(state(&s, "room:lobby"), ChannelState::Joined);
    }

    #[test]
    fn join_error_reply_errors_the_channel() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "private:x", t0);
        let r = reply(
            &mut s,
            r#"["1","1","private:x","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#,
            t0,
        );
        assert!(r.is_error());
        assert_eq!(state(&s, "private:x"), ChannelState::Errored);
    }

    #[test]
    fn a_liveview_close_before_the_leave_reply_leaves_the_leave_answered() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "lv:a", t0);
        s.prepare(
            Request::Leave {
                topic: Some("lv:a".into()),
            },
            t0,
        )
        .unwrap();
        let m = message(&mut s, r#"["1","1","lv:a","phx_close",{}]"#, t0);
        assert_eq!(m.kind, MessageKind::Close { requested: true });
        assert!(s.take_unanswered().is_empty());
        let r = reply(
            &mut s,
            r#"["1","2","lv:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert_eq!(r.request.as_deref(), Some("phx_leave"));
        assert!(!r.late);
        assert_eq!(state(&s, "lv:a"), ChannelState::Closed);
    }

    #[test]
    fn leave_reply_then_close_closes_as_requested() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.prepare(
            Request::Leave {
                topic: Some("room:a".into()),
            },
            t0,
        )
        .unwrap();
        assert_eq!(state(&s, "room:a"), ChannelState::Leaving);
        let r = reply(
            &mut s,
            r#"["1","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        assert_eq!(r.request.as_deref(), Some("phx_leave"));
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert_eq!(m.kind, MessageKind::Close { requested: true });
        assert!(!m.stale);
    }

    #[test]
    fn unmatched_topic_means_the_channel_is_gone() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        push(&mut s, "room:a", "x", t0);
        reply(
            &mut s,
            r#"[null,"2","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#,
            t0,
        );
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
    }

    #[test]
    fn a_late_ok_to_a_timed_out_join_joins() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        s.expire(t0 + T);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        let r = reply(
            &mut s,
            r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0 + T,
        );
        assert!(r.late);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
    }

    #[test]
    fn server_close_is_unrequested() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert_eq!(m.kind, MessageKind::Close { requested: false });
        assert_eq!(state(&s, "room:a"), ChannelState::Closed);
    }

    #[test]
    fn phx_error_errors_the_channel() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        let m = message(
            &mut s,
            r#"["1","1","room:a","phx_error",{"reason":"channel_crash"}]"#,
            t0,
        );
        assert_eq!(m.kind, MessageKind::Error);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
        assert_eq!(push(&mut s, "room:a", "x", t0).join_ref, None);
    }

    #[test]
    fn without_a_join_ref_a_close_or_error_is_told_apart_by_its_ref() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        reply(
            &mut s,
            r#"[null,"2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        // V1 frames carry no join_ref; the ref of a close is the join_ref.
        let m = message(&mut s, r#"[null,"1","room:a","phx_close",{}]"#, t0);
        assert!(m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
        let m = message(&mut s, r#"[null,"2","room:a","phx_error",{}]"#, t0);
        assert!(!m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Errored);
    }

    #[test]
    fn a_stale_close_orphans_nothing() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert!(s.take_unanswered().is_empty());
    }

    #[test]
    fn duplicate_join_close_for_old_join_ref_is_stale() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        join(&mut s, "room:a", t0);
        reply(
            &mut s,
            r#"["2","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        let m = message(&mut s, r#"["1","1","room:a","phx_close",{}]"#, t0);
        assert!(m.stale);
        assert_eq!(state(&s, "room:a"), ChannelState::Joined);
        assert_eq!(s.current_join_ref("room:a"), Some("2"));
    }

    #[test]
    fn broadcasts_and_pushes_are_told_apart() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        let b = message(&mut s, r#"[null,null,"room:a","shout",{}]"#, t0);
        assert_eq!((b.kind, b.stale), (MessageKind::Broadcast, false));
        let p = message(&mut s, r#"["1",null,"room:a","msg",{}]"#, t0);
        assert_eq!((p.kind, p.stale), (MessageKind::Push, false));
        let old = message(&mut s, r#"["9",null,"room:a","msg",{}]"#, t0);
        assert!(old.stale);
    }

    #[test]
    fn unmatched_replies_have_no_request() {
        let mut s = Session::new(T);
        let r = reply(
            &mut s,
            r#"[null,"42","x","phx_reply",{"status":"ok","response":{}}]"#,
            Instant::now(),
        );
        assert_eq!((r.request, r.latency), (None, None));
    }

    #[test]
    fn malformed_reply_payload_has_no_status() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        push(&mut s, "t", "e", t0);
        let r = reply(&mut s, r#"[null,"1","t","phx_reply",[1]]"#, t0);
        assert_eq!(r.status, None);
        assert!(r.is_error());
        assert_eq!(r.response.to_json(), "[1]");
    }
}

//! Pushes held back until their topic has (re)joined, as the JS client
//! buffers them, and what becomes of them: released in order once the
//! topic joins, dropped once it is not coming back or the reply timeout
//! passes.
//!
//! [`Holding`] keeps the lists; which topics are coming back and when one
//! has joined is the session's call (`mod.rs`, `channels.rs`).

use std::time::{Duration, Instant};

use super::Request;
use crate::core::protocol::Payload;

/// A push held until its topic has (re)joined.
#[derive(Debug)]
struct Held {
    id: u64,
    topic: String,
    event: String,
    payload: Payload,
    cast: bool,
    deadline: Instant,
}

/// A held push that will not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub id: u64,
    pub topic: String,
    pub event: String,
    pub why: String,
}

/// Held pushes, and those released or dropped but not yet collected.
#[derive(Debug, Default)]
pub(super) struct Holding {
    /// Pushes waiting for their topic to join, in arrival order.
    held: Vec<Held>,
    /// Held pushes whose topic joined, not yet collected.
    released: Vec<(u64, Request)>,
    /// Held pushes given up on, not yet collected.
    dropped: Vec<Dropped>,
}

impl Holding {
    /// Holds push `id` until `deadline`.
    pub(super) fn hold(
        &mut self,
        id: u64,
        topic: String,
        event: String,
        payload: Payload,
        cast: bool,
        deadline: Instant,
    ) {
        self.held.push(Held {
            id,
            topic,
            event,
            payload,
            cast,
            deadline,
        });
    }

    /// `topic` has joined: its held pushes are released, in order.
    pub(super) fn release(&mut self, topic: &str) {
        let (go, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.topic == topic);
        self.held = keep;
        self.released.extend(go.into_iter().map(|h| {
            (
                h.id,
                Request::Push {
                    topic: h.topic,
                    event: h.event,
                    payload: h.payload,
                    cast: h.cast,
                },
            )
        }));
    }

    /// `topic` is not coming back: its held pushes are dropped.
    pub(super) fn drop_topic(&mut self, topic: &str, why: &str) {
        self.drop_where(|h| h.topic == topic, why);
    }

    /// Drops the pushes held past their deadline, saying that their topic
    /// did not join within `timeout`.
    pub(super) fn expire(&mut self, now: Instant, timeout: Duration) {
        if self.held.iter().any(|h| h.deadline <= now) {
            let ms = timeout.as_millis();
            let why = if ms.is_multiple_of(1000) {
                format!("its topic did not join within {} s", ms / 1000)
            } else {
                format!("its topic did not join within {ms} ms")
            };
            self.drop_where(|h| h.deadline <= now, &why);
        }
    }

    fn drop_where(&mut self, which: impl Fn(&Held) -> bool, why: &str) {
        let (gone, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| which(h));
        self.held = keep;
        self.dropped.extend(gone.into_iter().map(|h| Dropped {
            id: h.id,
            topic: h.topic,
            event: h.event,
            why: why.to_owned(),
        }));
    }

    /// The earliest deadline of a held push.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.deadline).min()
    }

    /// Moves every deadline `by` later.
    pub(super) fn postpone(&mut self, by: Duration) {
        for h in &mut self.held {
            h.deadline += by;
        }
    }

    /// Whether anything was released or dropped and not yet collected.
    pub(super) fn has_effects(&self) -> bool {
        !(self.released.is_empty() && self.dropped.is_empty())
    }

    pub(super) fn take_released(&mut self) -> Vec<(u64, Request)> {
        std::mem::take(&mut self.released)
    }

    pub(super) fn take_dropped(&mut self) -> Vec<Dropped> {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::empty_object;
    use crate::core::session::tests::{T, join, joined, reply};
    use crate::core::session::{Request, Session};

    #[test]
    fn pushes_to_a_rejoining_topic_are_held_until_it_joins() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        joined(&mut s, "room:a", t0);
        s.transport_closed(t0);
        let req = Request::Push {
            topic: "room:a".into(),
            event: "echo".into(),
            payload: empty_object().into(),
            cast: false,
        };
        assert!(s.hold(7, req, t0).is_ok());
        let other = Request::Push {
            topic: "room:b".into(),
            event: "echo".into(),
            payload: empty_object().into(),
            cast: false,
        };
        assert!(s.hold(8, other, t0).is_err(), "room:b is not coming back");
        s.reconnected(t0);
        s.rejoins_due(t0);
        assert!(s.take_released().is_empty());
        reply(
            &mut s,
            r#"["2","2","room:a","phx_reply",{"status":"ok","response":{}}]"#,
            t0,
        );
        let released = s.take_released();
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].0, 7);
    }

    #[test]
    fn held_pushes_are_dropped_after_the_timeout_or_a_refusal() {
        let mut s = Session::new(T);
        let t0 = Instant::now();
        join(&mut s, "room:a", t0);
        join(&mut s, "private:x", t0);
        let p = |t: &str| Request::Push {
            topic: t.into(),
            event: "e".into(),
            payload: empty_object().into(),
            cast: false,
        };
        s.hold(1, p("room:a"), t0).unwrap();
        s.hold(2, p("private:x"), t0).unwrap();
        reply(
            &mut s,
            r#"["2","2","private:x","phx_reply",{"status":"error","response":{}}]"#,
            t0,
        );
        let dropped = s.take_dropped();
        assert_eq!(
            (dropped[0].id, dropped[0].why.as_str()),
            (2, "the join failed")
        );
        assert_eq!(s.next_deadline(), Some(t0 + T));
        s.expire(t0 + T);
        let dropped = s.take_dropped();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].why, "its topic did not join within 10 s");
    }
}

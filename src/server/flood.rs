//! The `flood:N` demo channel's pushes: what a flood is ([`Flood`], decided
//! by `routes.rs` on join) and how its frames are written ([`FloodRun`]).
//!
//! Pure: `peer.rs` owns the pacing (batches, backpressure, stopping when
//! the channel instance goes). This file only turns "push number `i`" into
//! the text of that frame, without any allocation but the frame itself:
//! a flood is what the benchmark measures.

use crate::core::protocol::{self, Frame, Side, Vsn, Wire};

/// A flood the connection loop generates lazily: pushes
/// `[join_ref, null, topic, "msg", {"i": i}]` for `i` in `1..=count`
/// (`{"i": i, "body": body}` when the join gave a `body` string), then
/// `[join_ref, null, topic, "done", {"count": count}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flood {
    pub topic: String,
    pub join_ref: Option<String>,
    /// The channel instance that owns the flood; it stops as soon as that
    /// instance is gone (left, closed, crashed or replaced by a new join).
    pub instance: u64,
    pub count: u64,
    /// The join payload's `body` string, repeated in every push.
    pub body: Option<String>,
}

/// A flood in progress: its spec, how far it got, and the fixed text
/// around each push's number.
pub struct FloodRun {
    pub spec: Flood,
    /// Messages written so far; the next one is `i = sent + 1`.
    pub sent: u64,
    /// `[join_ref,null,topic,"msg",{"i":` — everything before the number.
    prefix: String,
    /// `}]`, or `,"body":BODY}]` — everything after it.
    suffix: String,
}

impl FloodRun {
    pub fn new(spec: Flood) -> FloodRun {
        let mut prefix = String::from("[");
        protocol::push_opt_str(&mut prefix, spec.join_ref.as_deref());
        prefix.push_str(",null,");
        protocol::push_json_str(&mut prefix, &spec.topic);
        prefix.push_str(",\"msg\",{\"i\":");
        let mut suffix = String::new();
        if let Some(body) = &spec.body {
            suffix.push_str(",\"body\":");
            protocol::push_json_str(&mut suffix, body);
        }
        suffix.push_str("}]");
        FloodRun {
            spec,
            sent: 0,
            prefix,
            suffix,
        }
    }

    /// Whether every push has been written.
    pub fn finished(&self) -> bool {
        self.sent >= self.spec.count
    }

    /// Push number `i` as `vsn` encodes it.
    pub fn message(&self, vsn: Vsn, i: u64) -> String {
        match vsn {
            Vsn::V2 => self.v2_message(i),
            // V1 floods are rare: the general encoder will do.
            Vsn::V1 => {
                let mut payload = String::from("{\"i\":");
                payload.push_str(itoa::Buffer::new().format(i));
                payload.push_str(&self.suffix[..self.suffix.len() - 1]);
                let jr = self.spec.join_ref.as_deref();
                let payload = protocol::raw(payload);
                let frame = Frame::new(jr, None, &self.spec.topic, "msg", payload);
                match Vsn::V1.encode(&frame, Side::Server) {
                    Ok(Wire::Text(text)) => text,
                    _ => unreachable!("a JSON payload encodes as text"),
                }
            }
        }
    }

    /// Push number `i` in V2, in a string of exactly its length: `Bytes`
    /// then takes the buffer over without a second allocation.
    fn v2_message(&self, i: u64) -> String {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(i);
        let mut s = String::with_capacity(self.prefix.len() + digits.len() + self.suffix.len());
        s.push_str(&self.prefix);
        s.push_str(digits);
        s.push_str(&self.suffix);
        s
    }

    /// The `done` push that ends the flood.
    pub fn done(&self) -> Frame {
        let jr = self.spec.join_ref.as_deref();
        let payload = protocol::raw(format!("{{\"count\":{}}}", self.spec.count));
        Frame::new(jr, None, &self.spec.topic, "done", payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: Option<&str>) -> FloodRun {
        FloodRun::new(Flood {
            topic: "flood:3".to_owned(),
            join_ref: Some("7".to_owned()),
            instance: 1,
            count: 3,
            body: body.map(str::to_owned),
        })
    }

    #[test]
    fn pushes_carry_their_number() {
        let r = run(None);
        assert_eq!(
            r.message(Vsn::V2, 1),
            r#"["7",null,"flood:3","msg",{"i":1}]"#
        );
        assert_eq!(
            r.message(Vsn::V2, 18_446_744_073_709_551_615),
            r#"["7",null,"flood:3","msg",{"i":18446744073709551615}]"#
        );
        assert_eq!(
            r.message(Vsn::V1, 2),
            r#"{"topic":"flood:3","event":"msg","payload":{"i":2},"ref":null}"#
        );
    }

    #[test]
    fn a_body_from_the_join_rides_in_every_push() {
        let r = run(Some("hi \"x\""));
        assert_eq!(
            r.message(Vsn::V2, 10),
            r#"["7",null,"flood:3","msg",{"i":10,"body":"hi \"x\""}]"#
        );
        assert_eq!(
            r.message(Vsn::V1, 3),
            r#"{"topic":"flood:3","event":"msg","payload":{"i":3,"body":"hi \"x\""},"ref":null}"#
        );
    }

    #[test]
    fn a_v2_push_fills_its_buffer_exactly() {
        let m = run(Some("b")).message(Vsn::V2, 123);
        assert_eq!(m.len(), m.capacity());
    }

    #[test]
    fn done_reports_the_count() {
        assert_eq!(
            run(None).done().encode(),
            r#"["7",null,"flood:3","done",{"count":3}]"#
        );
    }
}

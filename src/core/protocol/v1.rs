//! V1 text frames (docs/PROTOCOL.md §2): the JSON object
//! `{"topic", "event", "payload", "ref", "join_ref"}`, both ways.
//!
//! The serializer of `vsn 1.0.0`: no binary frames (the parent's `Vsn`
//! refuses them), and the server's frames carry no `join_ref`. Refs are
//! read as V2 reads them (`v2::RefField`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::v2::RefField;
use super::{DecodeError, Frame, Json, Payload, Side, push_json_str, push_opt_str};

/// `{"topic":…,"event":…,"payload":…,"ref":…,"join_ref":…}`; the server's
/// frames have no `join_ref` (docs/PROTOCOL.md §2, V1).
pub(super) fn encode_v1(frame: &Frame, payload: &Json, side: Side) -> String {
    let mut out = String::with_capacity(64 + frame.topic.len() + payload.get().len());
    out.push_str("{\"topic\":");
    push_json_str(&mut out, &frame.topic);
    out.push_str(",\"event\":");
    push_json_str(&mut out, &frame.event);
    out.push_str(",\"payload\":");
    out.push_str(payload.get());
    out.push_str(",\"ref\":");
    push_opt_str(&mut out, frame.ref_.as_deref());
    if side == Side::Client {
        out.push_str(",\"join_ref\":");
        push_opt_str(&mut out, frame.join_ref.as_deref());
    }
    out.push('}');
    out
}

/// Decodes a V1 object. Keys may come in any order and unknown keys are
/// ignored; `ref` and `join_ref` may be missing (null).
pub fn decode_v1(text: &str) -> Result<Frame, DecodeError> {
    #[derive(Deserialize)]
    struct V1<'a> {
        #[serde(borrow)]
        topic: Cow<'a, str>,
        #[serde(borrow)]
        event: Cow<'a, str>,
        #[serde(borrow)]
        payload: &'a RawValue,
        #[serde(rename = "ref", default)]
        ref_: RefField,
        #[serde(default)]
        join_ref: RefField,
    }
    let v: V1<'_> = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        if e.is_data() {
            DecodeError::NotV1Frame(msg)
        } else {
            DecodeError::NotJson(msg)
        }
    })?;
    Ok(Frame {
        join_ref: v.join_ref.0,
        ref_: v.ref_.0,
        topic: v.topic.as_ref().into(),
        event: v.event.as_ref().into(),
        payload: Payload::Json(v.payload.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::Vsn;
    use crate::core::protocol::tests::{p, show, text};

    #[test]
    fn v1_client_frames_are_objects_with_join_ref() {
        let f = Frame::new(
            Some("1"),
            Some("2"),
            "room:lobby",
            "new_msg",
            p(r#"{"a":1}"#),
        );
        assert_eq!(
            text(Vsn::V1.encode(&f, Side::Client)),
            r#"{"topic":"room:lobby","event":"new_msg","payload":{"a":1},"ref":"2","join_ref":"1"}"#
        );
        let hb = Frame::new(None, Some("3"), "phoenix", "heartbeat", p("{}"));
        assert_eq!(
            text(Vsn::V1.encode(&hb, Side::Client)),
            r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"3","join_ref":null}"#
        );
    }

    #[test]
    fn v1_server_frames_have_no_join_ref() {
        let f = Frame::new(Some("1"), Some("2"), "t", "phx_reply", p("{}"));
        assert_eq!(
            text(Vsn::V1.encode(&f, Side::Server)),
            r#"{"topic":"t","event":"phx_reply","payload":{},"ref":"2"}"#
        );
    }

    #[test]
    fn v1_round_trips_and_reads_keys_in_any_order() {
        let f = Frame::new(Some("1"), Some("2"), "a\"b", "é", p(r#"{ "x" : [1] }"#));
        let back = decode_v1(&text(Vsn::V1.encode(&f, Side::Client))).unwrap();
        assert_eq!(show(&back), show(&f));
        let g = decode_v1(
            r#"{"ref":null,"payload":{"status":"ok","response":{}},"event":"phx_reply","topic":"room:lobby","extra":1}"#,
        )
        .unwrap();
        assert_eq!(
            show(&g),
            r#"None None room:lobby phx_reply json {"status":"ok","response":{}}"#
        );
        let n = decode_v1(r#"{"topic":"t","event":"e","payload":{},"ref":7}"#).unwrap();
        assert_eq!(n.ref_.as_deref(), Some("7"));
        assert_eq!(n.join_ref, None);
    }

    #[test]
    fn v1_rejects_wrong_shapes_with_a_reason() {
        for bad in [
            r#"["1","1","t","e",{}]"#,
            r#"{"topic":"t","event":"e"}"#,
            r#"{"topic":1,"event":"e","payload":{}}"#,
        ] {
            let err = decode_v1(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("expected a V1 frame"),
                "{bad}: {err}"
            );
        }
        assert!(
            decode_v1("{")
                .unwrap_err()
                .to_string()
                .starts_with("not valid JSON")
        );
    }
}

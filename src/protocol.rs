//! Phoenix Channels wire format: the `Frame` envelope and its V2 JSON text
//! encoding (`[join_ref, ref, topic, event, payload]`, PROTOCOL.md §2).
//!
//! Pure: no I/O, clock or colour. Decoding parses only the five-element
//! envelope; the payload stays raw JSON text until something needs to look
//! inside it (a reply's status, a presence diff), which keeps a flood of
//! frames cheap. Shared by the client and the built-in server.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Event names reserved by the protocol.
pub const PHX_JOIN: &str = "phx_join";
pub const PHX_LEAVE: &str = "phx_leave";
pub const PHX_REPLY: &str = "phx_reply";
pub const PHX_ERROR: &str = "phx_error";
pub const PHX_CLOSE: &str = "phx_close";
pub const HEARTBEAT: &str = "heartbeat";
pub const PHOENIX_TOPIC: &str = "phoenix";

/// One Phoenix message, whichever direction it travels.
#[derive(Debug, Clone)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    /// The payload exactly as it appeared on the wire (valid JSON).
    pub payload: Box<RawValue>,
}

impl Frame {
    pub fn new(
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: Box<RawValue>,
    ) -> Frame {
        Frame {
            join_ref: join_ref.map(str::to_owned),
            ref_: ref_.map(str::to_owned),
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        }
    }

    /// V2 text encoding of this frame.
    pub fn encode(&self) -> String {
        encode(
            self.join_ref.as_deref(),
            self.ref_.as_deref(),
            &self.topic,
            &self.event,
            &self.payload,
        )
    }
}

/// Why an incoming text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Encodes a V2 text frame. Strings are JSON-escaped; the payload is copied
/// verbatim (it is already valid JSON).
pub fn encode(
    join_ref: Option<&str>,
    ref_: Option<&str>,
    topic: &str,
    event: &str,
    payload: &RawValue,
) -> String {
    let mut out = String::with_capacity(32 + topic.len() + event.len() + payload.get().len());
    out.push('[');
    push_opt_str(&mut out, join_ref);
    out.push(',');
    push_opt_str(&mut out, ref_);
    out.push(',');
    push_json_str(&mut out, topic);
    out.push(',');
    push_json_str(&mut out, event);
    out.push(',');
    out.push_str(payload.get());
    out.push(']');
    out
}

/// Appends `s` as a JSON string literal, or `null`.
pub fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_json_str(out, s),
        None => out.push_str("null"),
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A JSON string literal for `s`.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// Decodes a V2 text frame. Refs may be strings, numbers or null (Phoenix
/// echoes the JSON type it was sent); extra elements are ignored, as the
/// Phoenix serializer ignores them.
pub fn decode(text: &str) -> Result<Frame, DecodeError> {
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| DecodeError(describe(&e)))?;
    Ok(Frame {
        join_ref: env.join_ref,
        ref_: env.ref_,
        topic: env.topic.into_owned(),
        event: env.event.into_owned(),
        payload: env.payload.to_owned(),
    })
}

fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("invalid type") || msg.starts_with("invalid length") {
        format!("expected a V2 frame [join_ref, ref, topic, event, payload]: {msg}")
    } else {
        format!("not valid JSON: {msg}")
    }
}

struct Envelope<'a> {
    join_ref: Option<String>,
    ref_: Option<String>,
    topic: Cow<'a, str>,
    event: Cow<'a, str>,
    payload: &'a RawValue,
}

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EnvelopeVisitor(std::marker::PhantomData))
    }
}

struct EnvelopeVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EnvelopeVisitor<'a> {
    type Value = Envelope<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of 5 elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let missing = |n| de::Error::invalid_length(n, &"an array of 5 elements");
        let join_ref: RefField = seq.next_element()?.ok_or_else(|| missing(0))?;
        let ref_: RefField = seq.next_element()?.ok_or_else(|| missing(1))?;
        let topic: Cow<'a, str> = seq
            .next_element::<StrField<'a>>()?
            .ok_or_else(|| missing(2))?
            .0;
        let event: Cow<'a, str> = seq
            .next_element::<StrField<'a>>()?
            .ok_or_else(|| missing(3))?
            .0;
        let payload: &'a RawValue = seq.next_element()?.ok_or_else(|| missing(4))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Envelope {
            join_ref: join_ref.0,
            ref_: ref_.0,
            topic,
            event,
            payload,
        })
    }
}

/// A string that borrows from the input when it has no escapes.
struct StrField<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for StrField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StrField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrField(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrField(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrField(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A ref or join_ref: string, number (kept as its text) or null.
struct RefField(Option<String>);

impl<'de> Deserialize<'de> for RefField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RefField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ref (string, number or null)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RefField(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RefField(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The parts of a `phx_reply` payload: `{"status": S, "response": R}`.
#[derive(Debug, Clone)]
pub struct ReplyPayload {
    pub status: String,
    pub response: Box<RawValue>,
}

/// Reads a `phx_reply` payload. A payload without a string `status` is not a
/// well-formed reply and yields `None`; a missing `response` reads as `{}`.
pub fn parse_reply(payload: &RawValue) -> Option<ReplyPayload> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        status: Cow<'a, str>,
        #[serde(borrow)]
        response: Option<&'a RawValue>,
    }
    let raw: Raw<'_> = serde_json::from_str(payload.get()).ok()?;
    Some(ReplyPayload {
        status: raw.status.into_owned(),
        response: raw.response.map_or_else(empty_object, |r| r.to_owned()),
    })
}

/// Builds the payload of a `phx_reply`.
pub fn reply_payload(status: &str, response: &RawValue) -> Box<RawValue> {
    let mut s = String::with_capacity(32 + response.get().len());
    s.push_str("{\"status\":");
    push_json_str(&mut s, status);
    s.push_str(",\"response\":");
    s.push_str(response.get());
    s.push('}');
    raw(s)
}

/// `{}` as a raw payload.
pub fn empty_object() -> Box<RawValue> {
    raw("{}".to_owned())
}

/// Wraps JSON text that the caller built and knows to be valid.
///
/// # Panics
/// If `json` is not valid JSON, which is a bug in the caller.
pub fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json).expect("caller built valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Box<RawValue> {
        raw(s.to_owned())
    }

    #[test]
    fn encodes_a_join_as_a_five_element_array() {
        let f = Frame::new(
            Some("1"),
            Some("1"),
            "room:lobby",
            "phx_join",
            p(r#"{"user":"x"}"#),
        );
        assert_eq!(
            f.encode(),
            r#"["1","1","room:lobby","phx_join",{"user":"x"}]"#
        );
    }

    #[test]
    fn encodes_null_refs_as_null() {
        let s = encode(None, Some("4"), "phoenix", "heartbeat", &p("{}"));
        assert_eq!(s, r#"[null,"4","phoenix","heartbeat",{}]"#);
    }

    #[test]
    fn escapes_strings_when_encoding() {
        let s = encode(None, None, "a\"b\\c\n\u{1b}", "é", &p("{}"));
        assert_eq!(s, r#"[null,null,"a\"b\\c\n\u001b","é",{}]"#);
        assert_eq!(decode(&s).unwrap().topic, "a\"b\\c\n\u{1b}");
    }

    #[test]
    fn decodes_a_reply_and_keeps_the_payload_text() {
        let f =
            decode(r#"["1","2","room:lobby","phx_reply",{"status":"ok","response":{ "a" : 1 }}]"#)
                .unwrap();
        assert_eq!(f.join_ref.as_deref(), Some("1"));
        assert_eq!(f.ref_.as_deref(), Some("2"));
        assert_eq!(f.event, "phx_reply");
        assert_eq!(f.payload.get(), r#"{"status":"ok","response":{ "a" : 1 }}"#);
        let r = parse_reply(&f.payload).unwrap();
        assert_eq!(r.status, "ok");
        assert_eq!(r.response.get(), r#"{ "a" : 1 }"#);
    }

    #[test]
    fn decodes_numeric_and_null_refs() {
        let f = decode(r#"[null,7,"t","e",{}]"#).unwrap();
        assert_eq!(f.join_ref, None);
        assert_eq!(f.ref_.as_deref(), Some("7"));
    }

    #[test]
    fn ignores_extra_elements_like_phoenix() {
        let f = decode(r#"[null,null,"t","e",{},"extra",[1]]"#).unwrap();
        assert_eq!(f.event, "e");
    }

    #[test]
    fn rejects_wrong_shapes_with_a_reason() {
        for bad in [
            r#"{"topic":"t"}"#,
            r#"[null,null,"t","e"]"#,
            r#"[null,null,1,"e",{}]"#,
            r#"[[],null,"t","e",{}]"#,
        ] {
            let err = decode(bad).unwrap_err();
            assert!(err.0.starts_with("expected a V2 frame"), "{bad}: {err}");
        }
        assert!(decode("nope").unwrap_err().0.starts_with("not valid JSON"));
    }

    #[test]
    fn reply_payload_without_status_is_not_a_reply() {
        assert!(parse_reply(&p(r#"{"response":{}}"#)).is_none());
        assert!(parse_reply(&p("[]")).is_none());
        let r = parse_reply(&p(r#"{"status":"error"}"#)).unwrap();
        assert_eq!(r.response.get(), "{}");
    }

    #[test]
    fn builds_reply_payloads() {
        let r = reply_payload("ok", &p(r#"{"x":1}"#));
        assert_eq!(r.get(), r#"{"status":"ok","response":{"x":1}}"#);
    }
}

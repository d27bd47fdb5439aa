//! V2 text frames (docs/PROTOCOL.md §2): the JSON array
//! `[join_ref, ref, topic, event, payload]`, both ways.
//!
//! Decoding has two paths. The plain one ([`decode_view`]) reads the common
//! shape of a frame in place, without serde and without copying; anything
//! else goes the general way through serde, which decodes it or says what
//! is wrong. The fuzz target `decode_v2` checks the two agree. The byte
//! scanning both rely on is in `scan`; the `Frame` they build is the
//! parent's.

use std::fmt;

use compact_str::ToCompactString;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::scan::{plain_json, string_end};
use super::{
    DecodeError, Frame, PHX_CLOSE, PHX_ERROR, PHX_REPLY, Payload, Text, View, push_json_str,
    push_opt_str,
};

/// Encodes a V2 text frame. Strings are JSON-escaped; the payload is copied
/// verbatim (it is already valid JSON).
pub fn encode(
    join_ref: Option<&str>,
    ref_: Option<&str>,
    topic: &str,
    event: &str,
    payload: &RawValue,
) -> String {
    encode_str(join_ref, ref_, topic, event, payload.get())
}

pub(super) fn encode_str(
    join_ref: Option<&str>,
    ref_: Option<&str>,
    topic: &str,
    event: &str,
    payload: &str,
) -> String {
    let mut out = String::with_capacity(32 + topic.len() + event.len() + payload.len());
    out.push('[');
    push_opt_str(&mut out, join_ref);
    out.push(',');
    push_opt_str(&mut out, ref_);
    out.push(',');
    push_json_str(&mut out, topic);
    out.push(',');
    push_json_str(&mut out, event);
    out.push(',');
    out.push_str(payload);
    out.push(']');
    out
}

/// Decodes a V2 text frame. Refs may be strings, numbers or null (Phoenix
/// echoes the JSON type it was sent); extra elements are ignored, as the
/// Phoenix serializer ignores them.
pub fn decode(text: &str) -> Result<Frame, DecodeError> {
    match decode_plain(text) {
        Some(frame) => Ok(frame),
        None => decode_general(text),
    }
}

/// [`decode`] without its fast path for plain frames: every frame goes
/// through serde. Public for the fuzz target that checks both agree.
#[doc(hidden)]
pub fn decode_general(text: &str) -> Result<Frame, DecodeError> {
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| describe(&e))?;
    Ok(Frame {
        join_ref: env.join_ref,
        ref_: env.ref_,
        topic: env.topic.0,
        event: env.event.0,
        payload: Payload::Json(env.payload.into()),
    })
}

/// The common shape of a V2 frame, read without serde's machinery and
/// without copying: no whitespace around the envelope's elements, refs that
/// are null or strings, and strings without escapes. Anything else (numeric
/// refs, escapes, extra elements, errors) is `None` and goes the general
/// way ([`decode`]), which gives the same frame or says what is wrong. The
/// payload is still checked to be one valid JSON value.
pub fn decode_view(text: &str) -> Option<View<'_>> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut rest = inner;
    let join_ref = plain_ref(&mut rest)?;
    let ref_ = plain_ref(&mut rest)?;
    let topic = plain_str(&mut rest)?;
    let event = plain_str(&mut rest)?;
    // The rest is the payload alone: a fifth element followed by more
    // is not one value and goes the general way.
    let payload = plain_json(rest)?;
    Some(View {
        join_ref,
        ref_,
        topic,
        event,
        payload,
    })
}

/// Whether `text` is a V2 push or broadcast: no ref, and an event other
/// than `phx_reply`, `phx_error` and `phx_close`, so a message that
/// changes no channel's state. Read from the envelope alone, for one that
/// is only counted: unlike [`decode_view`], the payload is not checked.
/// An envelope outside the fast path's shape is `false`.
pub fn is_message(text: &str) -> bool {
    let Some(mut rest) = text.strip_prefix('[') else {
        return false;
    };
    let event = plain_ref(&mut rest)
        .and_then(|_| rest.strip_prefix("null,"))
        .and_then(|after_ref| {
            rest = after_ref;
            plain_str(&mut rest)
        })
        .and_then(|_| plain_str(&mut rest));
    matches!(event, Some(e) if e != PHX_REPLY && e != PHX_ERROR && e != PHX_CLOSE)
        && rest.len() > 1
        && text.ends_with(']')
}

fn decode_plain(text: &str) -> Option<Frame> {
    decode_view(text).map(|v| v.to_frame())
}

/// `null,` or a plain string and `,`, taken off the front of `rest`.
fn plain_ref<'a>(rest: &mut &'a str) -> Option<Option<&'a str>> {
    if rest.as_bytes().first_chunk::<5>() == Some(b"null,") {
        *rest = &rest[5..];
        return Some(None);
    }
    plain_str(rest).map(Some)
}

/// A string without escapes or control characters and its `,`, taken off
/// the front of `rest`.
fn plain_str<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let body = rest.strip_prefix('"')?;
    let end = string_end(body.as_bytes())?;
    if body.as_bytes()[end] != b'"' || body.as_bytes().get(end + 1) != Some(&b',') {
        return None;
    }
    *rest = &body[end + 2..];
    Some(&body[..end])
}

/// What serde's refusal of a V2 frame means: a wrong shape, or no JSON.
fn describe(e: &serde_json::Error) -> DecodeError {
    let msg = e.to_string();
    if msg.starts_with("invalid type") || msg.starts_with("invalid length") {
        DecodeError::NotV2Frame(msg)
    } else {
        DecodeError::NotJson(msg)
    }
}

struct Envelope<'a> {
    join_ref: Option<Text>,
    ref_: Option<Text>,
    topic: StrField,
    event: StrField,
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
        let topic: StrField = seq.next_element()?.ok_or_else(|| missing(2))?;
        let event: StrField = seq.next_element()?.ok_or_else(|| missing(3))?;
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

/// A string field, unescaped into a [`Text`].
struct StrField(Text);

impl<'de> Deserialize<'de> for StrField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrField(Text::from(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A ref or join_ref: string, number (kept as its text) or null.
#[derive(Default)]
pub(super) struct RefField(pub(super) Option<Text>);

impl<'de> Deserialize<'de> for RefField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RefField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ref (string, number or null)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RefField(Some(Text::from(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_compact_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_compact_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RefField(Some(v.to_string().into())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::parse_reply;
    use crate::core::protocol::tests::{p, show};

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
        assert_eq!(
            f.payload.to_json(),
            r#"{"status":"ok","response":{ "a" : 1 }}"#
        );
        let r = parse_reply(&f.payload).unwrap();
        assert_eq!(r.status, "ok");
        assert_eq!(r.response.to_json(), r#"{ "a" : 1 }"#);
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
            assert!(
                err.to_string().starts_with("expected a V2 frame"),
                "{bad}: {err}"
            );
        }
        assert!(
            decode("nope")
                .unwrap_err()
                .to_string()
                .starts_with("not valid JSON")
        );
    }

    #[test]
    fn the_plain_path_decodes_exactly_as_the_general_one() {
        let plain = [
            r#"["1","2","room:lobby","new_msg",{"body":"hi"}]"#,
            r#"[null,null,"t","e",{}]"#,
            r#"["1",null,"flood:10","msg",{"i":1}]"#,
            r#"[null,"7","t","e",[1,2]]"#,
            r#"["","","","",""]"#,
            r#"["1","1","t","e", {"a" : 1} ]"#,
            r#"["1","1","t","e",null]"#,
            r#"["1","1","ünï","cödé","snow ☃ \u2603"]"#,
            r#"["1","1","t","e",{"s":"a\"b]"}]"#,
        ];
        for text in plain {
            let fast = decode_plain(text).unwrap_or_else(|| panic!("not plain: {text}"));
            let general = decode_general(text).unwrap();
            assert_eq!(show(&fast), show(&general), "{text}");
        }
        // These take the general way: it decodes or refuses them.
        let general = [
            r#"[1,2,"t","e",{}]"#,
            r#"["1","2","a\"b","e",{}]"#,
            r#"["1","2","t","e\u00e9",{}]"#,
            r#" ["1","2","t","e",{}]"#,
            r#"["1", "2","t","e",{}]"#,
            r#"["1","2","t","e",{},"extra"]"#,
            r#"["1","2","t","e",{}"#,
            r#"["1","2","t","e",{]"#,
            r#"["1","2","t","e",]"#,
            r#"["1","2","t","e"]"#,
            r#"["1","2","t",{}]"#,
            "[\"1\",\"2\",\"t\tab\",\"e\",{}]",
            r#"["1","2","t","e",{},]"#,
            r#"["1","2","t","e",{} {}]"#,
            r#"[]"#,
            r#"["#,
            r#"]"#,
        ];
        for text in general {
            assert!(decode_plain(text).is_none(), "plain: {text}");
        }
        assert_eq!(
            show(&decode(r#"[1,2,"t","e",{}]"#).unwrap()),
            show(&decode(r#"["1","2","t","e",{}]"#).unwrap())
        );
        assert!(decode(r#"["1","2","t","e",{}"#).is_err());
        assert!(decode(r#"["1","2","t","e",{},]"#).is_err());
    }

    #[test]
    fn a_push_or_broadcast_is_known_by_its_envelope_alone() {
        assert!(is_message(
            r#"[null,null,"room:1","presence_diff",{"joins":{},"leaves":{}}]"#
        ));
        assert!(is_message(r#"["1",null,"room:1","presence_state",{}]"#));
        // The payload is not looked at.
        assert!(is_message(r#"[null,null,"room:1","new_msg",{"body":]"#));
        for not in [
            // A reply, a channel's error or close, no payload.
            r#"["1","2","room:1","phx_reply",{}]"#,
            r#"[null,"2","room:1","phx_reply",{}]"#,
            r#"["1","1","room:1","phx_error",{}]"#,
            r#"["1",null,"room:1","phx_close",{}]"#,
            r#"[null,null,"room:1","phx_error",{}]"#,
            r#"[null,null,"room:1","phx_close",{}]"#,
            r#"[null,null,"room:1","new_msg",]"#,
            r#"[null,null,"room:1","new_msg"]"#,
            // Outside the fast path's shape, or not V2 at all.
            r#"[null, null,"room:1","new_msg",{}]"#,
            r#"[null,null,"room:\u0031","new_msg",{}]"#,
            r#"{"topic":"room:1","event":"new_msg","payload":{},"ref":null}"#,
            r#"[null,null,"room:1","new_msg",{}"#,
        ] {
            assert!(!is_message(not), "{not}");
        }
    }
}

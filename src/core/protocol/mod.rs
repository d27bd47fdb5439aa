//! Phoenix Channels wire format: the `Frame` envelope and its encodings
//! (docs/PROTOCOL.md §2): V2 JSON text (`[join_ref, ref, topic, event, payload]`),
//! V1 JSON objects (`{"topic", "event", "payload", "ref", "join_ref"}`) and
//! V2 binary frames (kinds 0, 1 and 2).
//!
//! Pure: no I/O, clock or colour. Decoding parses only the five-element
//! envelope; the payload stays raw JSON text until something needs to look
//! inside it (a reply's status, a presence diff), which keeps a flood of
//! frames cheap. Binary frames are a separate path (`decode_binary`), so the
//! text path pays nothing for them. Shared by the client and the built-in
//! server.
//!
//! This file owns what every format shares: the [`Frame`] and its
//! [`Payload`], [`Json`] text, the reserved names, reply payloads, JSON
//! string escaping, the errors, and [`Vsn`], which picks the format. Each
//! format lives in its own file: `v2` text, `v1` text and `binary`
//! frames; `scan` holds the byte scanning they share.

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;
use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::value::RawValue;

mod binary;
mod scan;
mod v1;
mod v2;

pub use binary::decode_binary;
pub use scan::printable_ascii;
pub use v1::decode_v1;
pub use v2::{decode, decode_general, decode_view, encode, is_message};

/// Event names reserved by the protocol.
pub const PHX_JOIN: &str = "phx_join";
pub const PHX_LEAVE: &str = "phx_leave";
pub const PHX_REPLY: &str = "phx_reply";
pub const PHX_ERROR: &str = "phx_error";
pub const PHX_CLOSE: &str = "phx_close";
pub const HEARTBEAT: &str = "heartbeat";
pub const PHOENIX_TOPIC: &str = "phoenix";

/// One Phoenix message, whichever direction it travels.
///
/// The strings are [`Text`]: short ones (refs, most topics and events, small
/// payloads) live inside the frame itself, so decoding a typical frame
/// allocates nothing. That matters in a flood, where frames are decoded on
/// the network thread and dropped on the front end's: memory allocated on
/// one thread and freed on another makes both contend for the allocator.
#[derive(Debug, Clone)]
pub struct Frame {
    pub join_ref: Option<Text>,
    pub ref_: Option<Text>,
    pub topic: Text,
    pub event: Text,
    pub payload: Payload,
}

/// A frame's string: up to 24 bytes are stored inline, without allocating.
pub type Text = CompactString;

/// Valid JSON text (a payload as it arrived, or one we built), stored like
/// [`Text`].
#[derive(Clone)]
pub struct Json(Text);

impl Json {
    /// Wraps text the caller knows to be valid JSON (it was parsed as a
    /// JSON value, or built from valid parts).
    fn trusted(text: impl Into<Text>) -> Json {
        Json(text.into())
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// As a `RawValue`, for code that deserializes or stores it.
    pub fn to_raw(&self) -> Box<RawValue> {
        raw(self.0.to_string())
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Box<RawValue>> for Json {
    fn from(json: Box<RawValue>) -> Json {
        Json::trusted(json.get())
    }
}

impl From<&RawValue> for Json {
    fn from(json: &RawValue) -> Json {
        Json::trusted(json.get())
    }
}

/// What a frame carries: JSON text, or the bytes of a V2 binary frame.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The payload exactly as it appeared on the wire (valid JSON).
    Json(Json),
    /// The data of a binary push (kind 0) or broadcast (kind 2).
    Binary(Vec<u8>),
    /// A binary reply (kind 1, event `phx_reply`): the status travels in the
    /// event slot and the data is the raw response (docs/PROTOCOL.md §2).
    BinaryReply { status: String, response: Vec<u8> },
}

impl Payload {
    /// The JSON text, if this is a JSON payload.
    pub fn json(&self) -> Option<&Json> {
        match self {
            Payload::Json(j) => Some(j),
            _ => None,
        }
    }

    pub fn is_binary(&self) -> bool {
        !matches!(self, Payload::Json(_))
    }

    /// The payload as JSON text: JSON as it arrived, binary data as the
    /// documented `{"binary":"<base64>"}` (a binary reply as a reply
    /// payload whose response is that object).
    pub fn to_json(&self) -> Cow<'_, str> {
        match self {
            Payload::Json(j) => Cow::Borrowed(j.get()),
            Payload::Binary(data) => Cow::Owned(binary_json(data)),
            Payload::BinaryReply { status, response } => {
                let mut s = String::from("{\"status\":");
                push_json_str(&mut s, status);
                s.push_str(",\"response\":");
                s.push_str(&binary_json(response));
                s.push('}');
                Cow::Owned(s)
            }
        }
    }
}

impl Payload {
    /// The payload as a JSON value of its own (see [`Payload::to_json`]),
    /// for code that keeps payloads as JSON.
    pub fn json_value(&self) -> Json {
        match self {
            Payload::Json(j) => j.clone(),
            other => Json::trusted(other.to_json()),
        }
    }
}

impl From<Box<RawValue>> for Payload {
    fn from(json: Box<RawValue>) -> Payload {
        Payload::Json(json.into())
    }
}

impl From<Json> for Payload {
    fn from(json: Json) -> Payload {
        Payload::Json(json)
    }
}

/// `{"binary":"<base64>"}`: how binary data shows in JSON output.
pub fn binary_json(data: &[u8]) -> String {
    let mut s = String::with_capacity(14 + data.len().div_ceil(3) * 4);
    s.push_str("{\"binary\":\"");
    s.push_str(&BASE64.encode(data));
    s.push_str("\"}");
    s
}

impl Frame {
    pub fn new(
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: impl Into<Json>,
    ) -> Frame {
        Frame {
            join_ref: join_ref.map(Text::from),
            ref_: ref_.map(Text::from),
            topic: topic.into(),
            event: event.into(),
            payload: Payload::Json(payload.into()),
        }
    }

    /// V2 text encoding of this frame. A binary payload, which has no text
    /// form on the wire, shows as `{"binary":"<base64>"}` (for logs and
    /// tests; `Vsn::encode` sends it as a binary frame).
    pub fn encode(&self) -> String {
        let json;
        let payload: &str = match &self.payload {
            Payload::Json(j) => j.get(),
            other => {
                json = other.to_json();
                &json
            }
        };
        v2::encode_str(
            self.join_ref.as_deref(),
            self.ref_.as_deref(),
            &self.topic,
            &self.event,
            payload,
        )
    }
}

/// Why an incoming frame could not be decoded. The text is what the user
/// sees (and what the built-in server gives as its close reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all (V1 or V2 text); serde's own words follow.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not a V2 envelope (a wrong type or length).
    #[error("expected a V2 frame [join_ref, ref, topic, event, payload]: {0}")]
    NotV2Frame(String),
    /// JSON, but not a V1 object (a key missing or of the wrong type).
    #[error("expected a V1 frame {{\"topic\",\"event\",\"payload\",\"ref\"}}: {0}")]
    NotV1Frame(String),
    /// A binary frame of no bytes at all.
    #[error("empty binary frame")]
    EmptyBinary,
    /// A binary frame whose first byte is no kind `sender` sends.
    #[error("binary frame of unknown kind {kind} (expected {})", binary::kinds_sent_by(*.sender))]
    UnknownKind { kind: u8, sender: Side },
    /// Fewer bytes than the kind's length bytes.
    #[error("binary frame of kind {kind} is {len} bytes, too short for its {fields} length bytes")]
    TooShort { kind: u8, len: usize, fields: usize },
    /// A length byte names more bytes than are left.
    #[error(
        "binary frame of kind {kind} is truncated: a field of {field} bytes \
         does not fit in the {left} bytes left"
    )]
    Truncated { kind: u8, field: usize, left: usize },
    /// A string field of a binary frame is not UTF-8.
    #[error("binary frame of kind {kind} has a field that is not UTF-8")]
    NotUtf8 { kind: u8 },
    /// A binary frame where the serializer has none (vsn 1.0.0).
    #[error("a binary frame on a V1 (vsn 1.0.0) connection")]
    BinaryOnV1,
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
    if printable_ascii(s.as_bytes(), true) {
        out.push_str(s);
        out.push('"');
        return;
    }
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

/// A V2 frame read in place: every part borrows the frame's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<'a> {
    pub join_ref: Option<&'a str>,
    pub ref_: Option<&'a str>,
    pub topic: &'a str,
    pub event: &'a str,
    /// The payload's JSON text (one valid JSON value).
    pub payload: &'a str,
}

impl Frame {
    /// The frame's parts as a [`View`], with `payload` as its payload's
    /// JSON text (the caller's: a binary payload has none of its own).
    pub fn view<'a>(&'a self, payload: &'a str) -> View<'a> {
        View {
            join_ref: self.join_ref.as_deref(),
            ref_: self.ref_.as_deref(),
            topic: &self.topic,
            event: &self.event,
            payload,
        }
    }
}

impl View<'_> {
    pub fn to_frame(&self) -> Frame {
        Frame {
            join_ref: self.join_ref.map(Text::from),
            ref_: self.ref_.map(Text::from),
            topic: Text::from(self.topic),
            event: Text::from(self.event),
            payload: Payload::Json(Json::trusted(self.payload)),
        }
    }
}

/// The parts of a `phx_reply` payload: `{"status": S, "response": R}`.
#[derive(Debug, Clone)]
pub struct ReplyPayload {
    pub status: String,
    pub response: Payload,
}

/// Reads a `phx_reply` payload. A payload without a string `status` is not a
/// well-formed reply and yields `None`; a missing `response` reads as `{}`.
/// A binary reply (kind 1) has its status beside the data.
pub fn parse_reply(payload: &Payload) -> Option<ReplyPayload> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        status: Cow<'a, str>,
        #[serde(borrow)]
        response: Option<&'a RawValue>,
    }
    let json = match payload {
        Payload::Json(j) => j,
        Payload::Binary(_) => return None,
        Payload::BinaryReply { status, response } => {
            return Some(ReplyPayload {
                status: status.clone(),
                response: Payload::Binary(response.clone()),
            });
        }
    };
    let raw: Raw<'_> = serde_json::from_str(json.get()).ok()?;
    Some(ReplyPayload {
        status: raw.status.into_owned(),
        response: Payload::Json(raw.response.map_or_else(|| Json::trusted("{}"), Json::from)),
    })
}

/// Builds the payload of a `phx_reply`.
pub fn reply_payload(status: &str, response: &Json) -> Json {
    let mut s = String::with_capacity(32 + response.get().len());
    s.push_str("{\"status\":");
    push_json_str(&mut s, status);
    s.push_str(",\"response\":");
    s.push_str(response.get());
    s.push('}');
    Json::trusted(s)
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

/// The serializer a connection speaks, picked by the `vsn` connect param
/// (docs/PROTOCOL.md §1, §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vsn {
    /// `1.x.y`: JSON objects, no binary frames.
    V1,
    /// `2.x.y`: JSON arrays, plus binary frames for binary payloads.
    #[default]
    V2,
}

/// Which end sends a frame: the binary layouts and V1's `join_ref` key
/// differ by direction (docs/PROTOCOL.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// An encoded frame, ready for a WebSocket text or binary message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    Text(String),
    Binary(Vec<u8>),
}

/// Why a frame cannot be sent as asked. Nothing goes out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Binary payloads exist only in the V2 serializer.
    #[error(
        "binary payloads need the V2 serializer, and this connection speaks vsn 1.0.0; \
         send JSON instead, or reconnect without `--vsn 1.0.0`"
    )]
    BinaryOnV1,
    /// A binary frame gives each string field one length byte.
    #[error(
        "the {field} is {len} bytes long, but a binary frame allows at most 255; \
         use a shorter {field} or a JSON payload"
    )]
    TooLong { field: &'static str, len: usize },
}

/// The most bytes a string field of a binary frame may have.
pub const BINARY_FIELD_MAX: usize = 255;

impl Vsn {
    /// The serializer for a `vsn` value: `1.x.y` or `2.x.y` (full semver,
    /// as Phoenix requires). `None` for anything else.
    pub fn from_param(vsn: &str) -> Option<Vsn> {
        let parts: Vec<&str> = vsn.split('.').collect();
        let semver = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        match (semver, parts[0]) {
            (true, "1") => Some(Vsn::V1),
            (true, "2") => Some(Vsn::V2),
            _ => None,
        }
    }

    /// The `vsn` param value that asks for this serializer.
    pub fn as_param(self) -> &'static str {
        match self {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        }
    }

    /// Whether a frame with these fields can be encoded; checked before a
    /// request takes a ref, so a refused one leaves no trace.
    pub fn check(self, topic: &str, event: &str, payload: &Payload) -> Result<(), EncodeError> {
        if !payload.is_binary() {
            return Ok(());
        }
        if self == Vsn::V1 {
            return Err(EncodeError::BinaryOnV1);
        }
        binary::check_len("topic", topic)?;
        binary::check_len("event", event).map(drop)
    }

    /// Encodes `frame` as `side` sends it.
    pub fn encode(self, frame: &Frame, side: Side) -> Result<Wire, EncodeError> {
        match (&frame.payload, self) {
            (Payload::Json(p), Vsn::V2) => Ok(Wire::Text(v2::encode_str(
                frame.join_ref.as_deref(),
                frame.ref_.as_deref(),
                &frame.topic,
                &frame.event,
                p.get(),
            ))),
            (Payload::Json(p), Vsn::V1) => Ok(Wire::Text(v1::encode_v1(frame, p, side))),
            (_, Vsn::V1) => Err(EncodeError::BinaryOnV1),
            (_, Vsn::V2) => binary::encode_binary(frame, side).map(Wire::Binary),
        }
    }

    /// Decodes a text frame.
    pub fn decode(self, text: &str) -> Result<Frame, DecodeError> {
        match self {
            Vsn::V2 => decode(text),
            Vsn::V1 => decode_v1(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn p(s: &str) -> Box<RawValue> {
        raw(s.to_owned())
    }
    #[test]
    fn reply_payload_without_status_is_not_a_reply() {
        assert!(parse_reply(&p(r#"{"response":{}}"#).into()).is_none());
        assert!(parse_reply(&p("[]").into()).is_none());
        assert!(parse_reply(&Payload::Binary(vec![1])).is_none());
        let r = parse_reply(&p(r#"{"status":"error"}"#).into()).unwrap();
        assert_eq!(r.response.to_json(), "{}");
    }

    #[test]
    fn builds_reply_payloads() {
        let r = reply_payload("ok", &p(r#"{"x":1}"#).into());
        assert_eq!(r.get(), r#"{"status":"ok","response":{"x":1}}"#);
    }

    pub(super) fn frame(
        jr: Option<&str>,
        r: Option<&str>,
        topic: &str,
        event: &str,
        payload: Payload,
    ) -> Frame {
        Frame {
            join_ref: jr.map(Text::from),
            ref_: r.map(Text::from),
            topic: topic.into(),
            event: event.into(),
            payload,
        }
    }

    pub(super) fn text(w: Result<Wire, EncodeError>) -> String {
        match w.unwrap() {
            Wire::Text(t) => t,
            other => panic!("{other:?}"),
        }
    }

    pub(super) fn bytes(w: Result<Wire, EncodeError>) -> Vec<u8> {
        match w.unwrap() {
            Wire::Binary(b) => b,
            other => panic!("{other:?}"),
        }
    }

    /// Fields compared as text: `Frame` holds a `RawValue`, which has no `Eq`.
    pub(super) fn show(f: &Frame) -> String {
        format!(
            "{:?} {:?} {} {} {}",
            f.join_ref,
            f.ref_,
            f.topic,
            f.event,
            match &f.payload {
                Payload::Json(j) => format!("json {}", j.get()),
                other => format!("{other:?}"),
            }
        )
    }

    #[test]
    fn vsn_params_need_full_semver() {
        assert_eq!(Vsn::from_param("2.0.0"), Some(Vsn::V2));
        assert_eq!(Vsn::from_param("1.0.0"), Some(Vsn::V1));
        assert_eq!(Vsn::from_param("1.2.3"), Some(Vsn::V1));
        for bad in ["2.0", "3.0.0", "", "2.0.0-rc", "v2.0.0", "2..0"] {
            assert_eq!(Vsn::from_param(bad), None, "{bad}");
        }
    }

    #[test]
    fn v2_text_through_vsn_is_the_plain_encoding() {
        let f = Frame::new(Some("1"), Some("1"), "t", "phx_join", p("{}"));
        assert_eq!(text(Vsn::V2.encode(&f, Side::Client)), f.encode());
        assert_eq!(show(&Vsn::V2.decode(&f.encode()).unwrap()), show(&f));
    }

    #[test]
    fn binary_is_refused_on_v1() {
        let bin = Payload::Binary(vec![1]);
        assert_eq!(Vsn::V1.check("t", "e", &bin), Err(EncodeError::BinaryOnV1));
        let f = frame(None, Some("1"), "t", "e", bin);
        assert_eq!(
            Vsn::V1.encode(&f, Side::Client),
            Err(EncodeError::BinaryOnV1)
        );
        assert!(EncodeError::BinaryOnV1.to_string().contains("--vsn 1.0.0"));
    }

    #[test]
    fn binary_payloads_show_as_base64_json() {
        assert_eq!(
            Payload::Binary(vec![0xde, 0xad, 0xbe, 0xef]).to_json(),
            r#"{"binary":"3q2+7w=="}"#
        );
        let r = Payload::BinaryReply {
            status: "ok".into(),
            response: vec![],
        };
        assert_eq!(r.to_json(), r#"{"status":"ok","response":{"binary":""}}"#);
    }

    /// Users and the server's close reasons see these texts: they stay
    /// word for word what they were when the error was a plain string.
    #[test]
    fn decode_errors_read_as_they_always_have() {
        let cases = [
            (DecodeError::NotJson("x".into()), "not valid JSON: x"),
            (
                DecodeError::NotV2Frame("x".into()),
                "expected a V2 frame [join_ref, ref, topic, event, payload]: x",
            ),
            (
                DecodeError::NotV1Frame("x".into()),
                r#"expected a V1 frame {"topic","event","payload","ref"}: x"#,
            ),
            (DecodeError::EmptyBinary, "empty binary frame"),
            (
                DecodeError::UnknownKind {
                    kind: 7,
                    sender: Side::Server,
                },
                "binary frame of unknown kind 7 (expected 0 push, 1 reply or 2 broadcast)",
            ),
            (
                DecodeError::UnknownKind {
                    kind: 2,
                    sender: Side::Client,
                },
                "binary frame of unknown kind 2 (expected 0 push)",
            ),
            (
                DecodeError::TooShort {
                    kind: 0,
                    len: 2,
                    fields: 4,
                },
                "binary frame of kind 0 is 2 bytes, too short for its 4 length bytes",
            ),
            (
                DecodeError::Truncated {
                    kind: 2,
                    field: 5,
                    left: 3,
                },
                "binary frame of kind 2 is truncated: a field of 5 bytes does not fit in the 3 bytes left",
            ),
            (
                DecodeError::NotUtf8 { kind: 1 },
                "binary frame of kind 1 has a field that is not UTF-8",
            ),
            (
                DecodeError::BinaryOnV1,
                "a binary frame on a V1 (vsn 1.0.0) connection",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(
            EncodeError::BinaryOnV1.to_string(),
            "binary payloads need the V2 serializer, and this connection speaks vsn 1.0.0; \
             send JSON instead, or reconnect without `--vsn 1.0.0`"
        );
        assert_eq!(
            EncodeError::TooLong {
                field: "topic",
                len: 300
            }
            .to_string(),
            "the topic is 300 bytes long, but a binary frame allows at most 255; \
             use a shorter topic or a JSON payload"
        );
    }
}

//! Phoenix Channels wire format: the `Frame` envelope and its encodings
//! (PROTOCOL.md §2): V2 JSON text (`[join_ref, ref, topic, event, payload]`),
//! V1 JSON objects (`{"topic", "event", "payload", "ref", "join_ref"}`) and
//! V2 binary frames (kinds 0, 1 and 2).
//!
//! Pure: no I/O, clock or colour. Decoding parses only the five-element
//! envelope; the payload stays raw JSON text until something needs to look
//! inside it (a reply's status, a presence diff), which keeps a flood of
//! frames cheap. Binary frames are a separate path (`decode_binary`), so the
//! text path pays nothing for them. Shared by the client and the built-in
//! server.

use std::borrow::Cow;
use std::fmt;

use compact_str::{CompactString, ToCompactString};
use data_encoding::BASE64;
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
    /// event slot and the data is the raw response (PROTOCOL.md §2).
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
        encode_str(
            self.join_ref.as_deref(),
            self.ref_.as_deref(),
            &self.topic,
            &self.event,
            payload,
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
    encode_str(join_ref, ref_, topic, event, payload.get())
}

fn encode_str(
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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero, and possibly of bytes
/// above such a byte (so the lowest one marked is exact).
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Marks the bytes of `w` that end a plain JSON string body: `"`, `\` and
/// control characters (lowest mark exact, as for `zero_bytes`).
fn string_stops(w: u64) -> u64 {
    zero_bytes(w ^ (ONES * u64::from(b'"')))
        | zero_bytes(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

/// Whether every byte is printable ASCII (space to `~`); with `json`, also
/// none is `"` or `\`, so the text needs no escaping in a JSON string.
/// Eight bytes at a time: this decides most topics, events and payloads of
/// a flood.
pub fn printable_ascii(s: &[u8], json: bool) -> bool {
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // Not ASCII; below 0x20 (subtracting 0x20 borrows); 0x7f (adding 1
        // reaches 0x80). Borrows and carries only start at bytes already
        // found out.
        if (w | w.wrapping_sub(ONES * 0x20) | w.wrapping_add(ONES)) & HIGHS != 0 {
            return false;
        }
        if json && string_stops(w) != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && !(json && (b == b'"' || b == b'\\')))
}

/// Where the body of a JSON string that starts `s` stops: the index of the
/// first `"`, `\` or control character.
fn string_end(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let stops = string_stops(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        if stops != 0 {
            return Some(at + stops.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
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
    match decode_plain(text) {
        Some(frame) => Ok(frame),
        None => decode_general(text),
    }
}

/// [`decode`] without its fast path for plain frames: every frame goes
/// through serde. Public for the fuzz target that checks both agree.
#[doc(hidden)]
pub fn decode_general(text: &str) -> Result<Frame, DecodeError> {
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| DecodeError(describe(&e)))?;
    Ok(Frame {
        join_ref: env.join_ref,
        ref_: env.ref_,
        topic: env.topic.0,
        event: env.event.0,
        payload: Payload::Json(env.payload.into()),
    })
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

fn decode_plain(text: &str) -> Option<Frame> {
    decode_view(text).map(|v| v.to_frame())
}

/// `s` without the whitespace around it, if it is exactly one JSON value
/// (RFC 8259). `None` when it is not, and also when it might be but the
/// check does not go that far (nesting over 64 levels, `\u` escapes of
/// surrogates): the caller then asks serde, which decides. It never
/// accepts what serde refuses; the decode fuzz target checks that the two
/// decoders agree.
fn plain_json(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let start = skip_space(b, 0);
    let end = json_value(b, start, 0)?;
    (skip_space(b, end) == b.len()).then(|| &s[start..end])
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the JSON value that starts at `b[i]`.
fn json_value(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    match *b.get(i)? {
        b'"' => json_string(b, i),
        b'{' | b'[' if depth >= 64 => None,
        b'{' => {
            let mut i = skip_space(b, i + 1);
            if b.get(i) == Some(&b'}') {
                return Some(i + 1);
            }
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                i = skip_space(b, json_string(b, i)?);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = skip_space(b, json_value(b, skip_space(b, i + 1), depth + 1)?);
                match *b.get(i)? {
                    b',' => i = skip_space(b, i + 1),
                    b'}' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            let mut i = skip_space(b, i + 1);
            if b.get(i) == Some(&b']') {
                return Some(i + 1);
            }
            loop {
                i = skip_space(b, json_value(b, i, depth + 1)?);
                match *b.get(i)? {
                    b',' => i = skip_space(b, i + 1),
                    b']' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b't' => json_literal(b, i, b"true"),
        b'f' => json_literal(b, i, b"false"),
        b'n' => json_literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => json_number(b, i),
        _ => None,
    }
}

fn json_literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// The end of the string whose opening quote is `b[i]`.
fn json_string(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    loop {
        i += string_end(b.get(i..)?)?;
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    let mut unit = 0u32;
                    for &h in hex {
                        unit = unit * 16 + char::from(h).to_digit(16)?;
                    }
                    if (0xd800..0xe000).contains(&unit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            // A control character, which must be escaped.
            _ => return None,
        }
    }
}

/// The end of the number that starts at `b[i]`.
fn json_number(b: &[u8], mut i: usize) -> Option<usize> {
    fn digits(b: &[u8], mut i: usize) -> Option<usize> {
        let from = i;
        while let Some(b'0'..=b'9') = b.get(i) {
            i += 1;
        }
        (i > from).then_some(i)
    }
    if b[i] == b'-' {
        i += 1;
    }
    i = match *b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
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

fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("invalid type") || msg.starts_with("invalid length") {
        format!("expected a V2 frame [join_ref, ref, topic, event, payload]: {msg}")
    } else {
        format!("not valid JSON: {msg}")
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
struct RefField(Option<Text>);

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
/// (PROTOCOL.md §1, §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vsn {
    /// `1.x.y`: JSON objects, no binary frames.
    V1,
    /// `2.x.y`: JSON arrays, plus binary frames for binary payloads.
    #[default]
    V2,
}

/// Which end sends a frame: the binary layouts and V1's `join_ref` key
/// differ by direction (PROTOCOL.md §2).
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Binary payloads exist only in the V2 serializer.
    BinaryOnV1,
    /// A binary frame gives each string field one length byte.
    TooLong { field: &'static str, len: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BinaryOnV1 => f.write_str(
                "binary payloads need the V2 serializer, and this connection speaks vsn 1.0.0; \
                 send JSON instead, or reconnect without `--vsn 1.0.0`",
            ),
            EncodeError::TooLong { field, len } => write!(
                f,
                "the {field} is {len} bytes long, but a binary frame allows at most 255; \
                 use a shorter {field} or a JSON payload"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

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
        check_len("topic", topic)?;
        check_len("event", event).map(drop)
    }

    /// Encodes `frame` as `side` sends it.
    pub fn encode(self, frame: &Frame, side: Side) -> Result<Wire, EncodeError> {
        match (&frame.payload, self) {
            (Payload::Json(p), Vsn::V2) => Ok(Wire::Text(encode_str(
                frame.join_ref.as_deref(),
                frame.ref_.as_deref(),
                &frame.topic,
                &frame.event,
                p.get(),
            ))),
            (Payload::Json(p), Vsn::V1) => Ok(Wire::Text(encode_v1(frame, p, side))),
            (_, Vsn::V1) => Err(EncodeError::BinaryOnV1),
            (_, Vsn::V2) => encode_binary(frame, side).map(Wire::Binary),
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

fn check_len(field: &'static str, s: &str) -> Result<u8, EncodeError> {
    u8::try_from(s.len()).map_err(|_| EncodeError::TooLong {
        field,
        len: s.len(),
    })
}

/// `{"topic":…,"event":…,"payload":…,"ref":…,"join_ref":…}`; the server's
/// frames have no `join_ref` (PROTOCOL.md §2, V1).
fn encode_v1(frame: &Frame, payload: &Json, side: Side) -> String {
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
            DecodeError(format!(
                "expected a V1 frame {{\"topic\",\"event\",\"payload\",\"ref\"}}: {msg}"
            ))
        } else {
            DecodeError(format!("not valid JSON: {msg}"))
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

/// Message kinds of V2 binary frames (PROTOCOL.md §2).
const KIND_PUSH: u8 = 0;
const KIND_REPLY: u8 = 1;
const KIND_BROADCAST: u8 = 2;

/// Encodes a frame with a binary payload. The client sends pushes only
/// (kind 0 with four strings); the server sends a reply as kind 1, a frame
/// without refs as a broadcast (kind 2) and any other as a push (kind 0,
/// no ref).
fn encode_binary(frame: &Frame, side: Side) -> Result<Vec<u8>, EncodeError> {
    let jr = frame.join_ref.as_deref().unwrap_or("");
    let r = frame.ref_.as_deref().unwrap_or("");
    let (kind, fields, data): (u8, Vec<(&'static str, &str)>, &[u8]) = match (&frame.payload, side)
    {
        (Payload::Json(_), _) => unreachable!("JSON payloads are text frames"),
        (Payload::BinaryReply { status, response }, Side::Server) => (
            KIND_REPLY,
            vec![
                ("join_ref", jr),
                ("ref", r),
                ("topic", &frame.topic),
                ("status", status),
            ],
            response,
        ),
        (Payload::Binary(data), Side::Server)
            if frame.join_ref.is_none() && frame.ref_.is_none() =>
        {
            (
                KIND_BROADCAST,
                vec![("topic", &frame.topic), ("event", &frame.event)],
                data,
            )
        }
        (Payload::Binary(data), Side::Server) => (
            KIND_PUSH,
            vec![
                ("join_ref", jr),
                ("topic", &frame.topic),
                ("event", &frame.event),
            ],
            data,
        ),
        (Payload::Binary(data) | Payload::BinaryReply { response: data, .. }, Side::Client) => (
            KIND_PUSH,
            vec![
                ("join_ref", jr),
                ("ref", r),
                ("topic", &frame.topic),
                ("event", &frame.event),
            ],
            data,
        ),
    };
    let strings: usize = fields.iter().map(|(_, s)| s.len()).sum();
    let mut out = Vec::with_capacity(1 + fields.len() + strings + data.len());
    out.push(kind);
    for (name, s) in &fields {
        out.push(check_len(name, s)?);
    }
    for (_, s) in &fields {
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Decodes a V2 binary frame sent by `side`: from the server kinds 0, 1
/// and 2; from the client kind 0 only (the server decodes nothing else).
pub fn decode_binary(bytes: &[u8], side: Side) -> Result<Frame, DecodeError> {
    let (&kind, rest) = bytes
        .split_first()
        .ok_or_else(|| DecodeError("empty binary frame".to_owned()))?;
    let fields = match (side, kind) {
        (Side::Client, KIND_PUSH) | (Side::Server, KIND_REPLY) => 4,
        (Side::Server, KIND_PUSH) => 3,
        (Side::Server, KIND_BROADCAST) => 2,
        _ => {
            return Err(DecodeError(format!(
                "binary frame of unknown kind {kind} (expected {})",
                if side == Side::Server {
                    "0 push, 1 reply or 2 broadcast"
                } else {
                    "0 push"
                }
            )));
        }
    };
    if rest.len() < fields {
        return Err(DecodeError(format!(
            "binary frame of kind {kind} is {} bytes, too short for its {fields} length bytes",
            bytes.len()
        )));
    }
    let (lens, mut body) = rest.split_at(fields);
    let mut strings: Vec<Text> = Vec::with_capacity(fields);
    for &len in lens {
        let len = usize::from(len);
        if body.len() < len {
            return Err(DecodeError(format!(
                "binary frame of kind {kind} is truncated: a field of {len} bytes \
                 does not fit in the {} bytes left",
                body.len()
            )));
        }
        let (s, after) = body.split_at(len);
        let s = std::str::from_utf8(s).map_err(|_| {
            DecodeError(format!(
                "binary frame of kind {kind} has a field that is not UTF-8"
            ))
        })?;
        strings.push(s.into());
        body = after;
    }
    let data = body.to_vec();
    let nonempty = |s: Text| (!s.is_empty()).then_some(s);
    let mut it = strings.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(match (side, kind) {
        (Side::Client, _) => Frame {
            join_ref: nonempty(next()),
            ref_: nonempty(next()),
            topic: next(),
            event: next(),
            payload: Payload::Binary(data),
        },
        (_, KIND_REPLY) => Frame {
            join_ref: nonempty(next()),
            ref_: nonempty(next()),
            topic: next(),
            event: PHX_REPLY.into(),
            payload: Payload::BinaryReply {
                status: next().into_string(),
                response: data,
            },
        },
        (_, KIND_PUSH) => Frame {
            join_ref: nonempty(next()),
            ref_: None,
            topic: next(),
            event: next(),
            payload: Payload::Binary(data),
        },
        _ => Frame {
            join_ref: None,
            ref_: None,
            topic: next(),
            event: next(),
            payload: Payload::Binary(data),
        },
    })
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
            assert!(err.0.starts_with("expected a V2 frame"), "{bad}: {err}");
        }
        assert!(decode("nope").unwrap_err().0.starts_with("not valid JSON"));
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
    fn byte_scans_agree_with_the_plain_definition() {
        let mut samples: Vec<Vec<u8>> = vec![Vec::new()];
        let specials = [0u8, 0x1f, 0x20, b'"', b'\\', b'a', 0x7e, 0x7f, 0x80, 0xff];
        for len in [1usize, 7, 8, 9, 15, 16, 17, 24] {
            for pos in 0..len {
                for &b in &specials {
                    let mut v = vec![b'x'; len];
                    v[pos] = b;
                    samples.push(v.clone());
                    v[len - 1] = b'"';
                    samples.push(v);
                }
            }
        }
        for s in &samples {
            let printable = s.iter().all(|&b| (0x20..0x7f).contains(&b));
            let json = printable && !s.iter().any(|&b| b == b'"' || b == b'\\');
            assert_eq!(printable_ascii(s, false), printable, "{s:?}");
            assert_eq!(printable_ascii(s, true), json, "{s:?}");
            let end = s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            assert_eq!(string_end(s), end, "{s:?}");
        }
    }

    #[test]
    fn the_payload_check_accepts_only_what_serde_accepts() {
        let samples = [
            "{}",
            "[]",
            " {} ",
            "\t[1, 2 ,3]\n",
            "0",
            "-0",
            "12",
            "-12.5e+3",
            "1E9",
            "0.0",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/\b\f\n\r\t""#,
            r#""\u00e9\u2603\uFFFF""#,
            r#"{"a":{"b":[{"c":null}]}}"#,
            r#"{"a" : 1 , "b":[ ]}"#,
            "\"snow ☃\"",
            "\"del \u{7f}\"",
            // Refused, by both or by the quick check alone.
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "--1",
            "1 2",
            "{} {}",
            "[1,]",
            "{,}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            "{1:2}",
            "[",
            "]",
            "{",
            "tru",
            "nul",
            "truex",
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            r#""\u+123""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            "\"tab\there\"",
            "\"nl\nhere\"",
            "[1]]",
            "NaN",
            "Infinity",
        ];
        for text in samples {
            let serde = serde_json::from_str::<&RawValue>(text)
                .ok()
                .map(|r| r.get());
            if let Some(quick) = plain_json(text) {
                assert_eq!(Some(quick), serde, "{text:?}");
            }
        }
        assert!(plain_json(&"[".repeat(65)).is_none());
        let deep = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(plain_json(&deep), Some(deep.as_str()));
        // The quick check does accept the common shapes.
        for text in [
            "{}",
            r#"{"i":1}"#,
            r#"{"body":"hi \u00e9","n":[1,2.5,-3e2,true,null]}"#,
        ] {
            assert_eq!(plain_json(text), Some(text));
        }
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

    fn frame(
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

    fn text(w: Result<Wire, EncodeError>) -> String {
        match w.unwrap() {
            Wire::Text(t) => t,
            other => panic!("{other:?}"),
        }
    }

    fn bytes(w: Result<Wire, EncodeError>) -> Vec<u8> {
        match w.unwrap() {
            Wire::Binary(b) => b,
            other => panic!("{other:?}"),
        }
    }

    /// Fields compared as text: `Frame` holds a `RawValue`, which has no `Eq`.
    fn show(f: &Frame) -> String {
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
            assert!(err.0.starts_with("expected a V1 frame"), "{bad}: {err}");
        }
        assert!(decode_v1("{").unwrap_err().0.starts_with("not valid JSON"));
    }

    #[test]
    fn v2_text_through_vsn_is_the_plain_encoding() {
        let f = Frame::new(Some("1"), Some("1"), "t", "phx_join", p("{}"));
        assert_eq!(text(Vsn::V2.encode(&f, Side::Client)), f.encode());
        assert_eq!(show(&Vsn::V2.decode(&f.encode()).unwrap()), show(&f));
    }

    #[test]
    fn client_binary_push_has_four_length_prefixed_strings() {
        let f = frame(
            Some("1"),
            Some("12"),
            "room:a",
            "up",
            Payload::Binary(vec![0xde, 0xad]),
        );
        let b = bytes(Vsn::V2.encode(&f, Side::Client));
        assert_eq!(
            b,
            b"\x00\x01\x02\x06\x021\x2012room:aup\xde\xad"
                .iter()
                .copied()
                .filter(|&c| c != 0x20)
                .collect::<Vec<u8>>()
        );
        assert_eq!(show(&decode_binary(&b, Side::Client).unwrap()), show(&f));
    }

    #[test]
    fn null_refs_become_empty_strings_in_binary_frames() {
        let f = frame(None, None, "t", "e", Payload::Binary(vec![]));
        let b = bytes(Vsn::V2.encode(&f, Side::Client));
        assert_eq!(b, b"\x00\x00\x00\x01\x01te");
        assert_eq!(show(&decode_binary(&b, Side::Client).unwrap()), show(&f));
    }

    #[test]
    fn server_binary_push_reply_and_broadcast_round_trip() {
        let push = frame(
            Some("3"),
            None,
            "room:a",
            "img",
            Payload::Binary(vec![1, 2, 3]),
        );
        let b = bytes(Vsn::V2.encode(&push, Side::Server));
        assert_eq!(b, b"\x00\x01\x06\x033room:aimg\x01\x02\x03");
        assert_eq!(show(&decode_binary(&b, Side::Server).unwrap()), show(&push));

        let reply = frame(
            Some("3"),
            Some("4"),
            "room:a",
            PHX_REPLY,
            Payload::BinaryReply {
                status: "ok".into(),
                response: vec![0xff],
            },
        );
        let b = bytes(Vsn::V2.encode(&reply, Side::Server));
        assert_eq!(b, b"\x01\x01\x01\x06\x0234room:aok\xff");
        let back = decode_binary(&b, Side::Server).unwrap();
        assert_eq!(show(&back), show(&reply));
        let r = parse_reply(&back.payload).unwrap();
        assert_eq!(r.status, "ok");
        assert!(matches!(r.response, Payload::Binary(ref d) if d == &[0xff]));

        let cast = frame(None, None, "room:a", "img", Payload::Binary(vec![9]));
        let b = bytes(Vsn::V2.encode(&cast, Side::Server));
        assert_eq!(b, b"\x02\x06\x03room:aimg\x09");
        assert_eq!(show(&decode_binary(&b, Side::Server).unwrap()), show(&cast));
    }

    #[test]
    fn string_fields_of_0_1_254_and_255_bytes_round_trip() {
        for len in [0, 1, 254, 255] {
            let topic = "t".repeat(len);
            let event = "é".repeat(len / 2) + &"e".repeat(len % 2);
            assert_eq!(event.len(), len);
            let data: Vec<u8> = (0..=255).collect();
            let f = frame(Some("1"), Some("2"), &topic, &event, Payload::Binary(data));
            assert!(Vsn::V2.check(&topic, &event, &f.payload).is_ok());
            let b = bytes(Vsn::V2.encode(&f, Side::Client));
            assert_eq!(
                show(&decode_binary(&b, Side::Client).unwrap()),
                show(&f),
                "{len}"
            );
            let b = bytes(Vsn::V2.encode(&f, Side::Server));
            assert_eq!(show(&decode_binary(&b, Side::Server).unwrap()).len(), {
                let mut pushed = f.clone();
                pushed.ref_ = None;
                show(&pushed).len()
            });
        }
    }

    #[test]
    fn string_fields_over_255_bytes_are_refused() {
        let long = "x".repeat(256);
        let bin = Payload::Binary(vec![1]);
        let e = Vsn::V2.check(&long, "e", &bin).unwrap_err();
        assert_eq!(
            e,
            EncodeError::TooLong {
                field: "topic",
                len: 256
            }
        );
        assert!(e.to_string().contains("at most 255"), "{e}");
        assert_eq!(
            Vsn::V2.check("t", &long, &bin).unwrap_err(),
            EncodeError::TooLong {
                field: "event",
                len: 256
            }
        );
        let f = frame(None, None, &long, "e", bin.clone());
        assert!(Vsn::V2.encode(&f, Side::Client).is_err());
        // A JSON payload has no length bytes, so no limit.
        assert!(Vsn::V2.check(&long, &long, &p("{}").into()).is_ok());
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
    fn malformed_binary_frames_are_errors_not_panics() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"\x07abc", "unknown kind 7"),
            (b"\x00\x01", "too short"),
            (b"\x02\x05\x01abc", "truncated"),
            (b"\x02\x01\x01\xff\xfe", "not UTF-8"),
        ];
        for (bytes, want) in cases {
            let e = decode_binary(bytes, Side::Server).unwrap_err();
            assert!(e.0.contains(want), "{bytes:?}: {e}");
        }
        // The server decodes kind 0 only.
        assert!(decode_binary(b"\x02\x01\x01te", Side::Client).is_err());
        // Every prefix of a valid frame is handled.
        let f = frame(
            Some("1"),
            Some("2"),
            "room",
            "ev",
            Payload::Binary(vec![1, 2]),
        );
        let b = bytes(Vsn::V2.encode(&f, Side::Client));
        for cut in 0..b.len() {
            let _ = decode_binary(&b[..cut], Side::Client);
            let _ = decode_binary(&b[..cut], Side::Server);
        }
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
}

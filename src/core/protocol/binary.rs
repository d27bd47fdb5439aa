//! V2 binary frames (docs/PROTOCOL.md §2): kind 0 (push), 1 (reply) and 2
//! (broadcast), each a kind byte, one length byte per string field, the
//! strings, then the raw data.
//!
//! Which kinds and fields a frame has depends on who sends it ([`Side`]).
//! The text formats are `v2` and `v1`; the `Frame` is the parent's.

use super::{DecodeError, EncodeError, Frame, PHX_REPLY, Payload, Side, Text};

/// `s`'s length as the one byte a binary frame gives a string field
/// (at most [`BINARY_FIELD_MAX`](super::BINARY_FIELD_MAX)).
pub(super) fn check_len(field: &'static str, s: &str) -> Result<u8, EncodeError> {
    u8::try_from(s.len()).map_err(|_| EncodeError::TooLong {
        field,
        len: s.len(),
    })
}

/// Message kinds of V2 binary frames (docs/PROTOCOL.md §2).
const KIND_PUSH: u8 = 0;
const KIND_REPLY: u8 = 1;
const KIND_BROADCAST: u8 = 2;

/// Encodes a frame with a binary payload. The client sends pushes only
/// (kind 0 with four strings); the server sends a reply as kind 1, a frame
/// without refs as a broadcast (kind 2) and any other as a push (kind 0,
/// no ref).
pub(super) fn encode_binary(frame: &Frame, side: Side) -> Result<Vec<u8>, EncodeError> {
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

/// The kinds `sender` sends, as a decode error names them.
pub(super) fn kinds_sent_by(sender: Side) -> &'static str {
    match sender {
        Side::Server => "0 push, 1 reply or 2 broadcast",
        Side::Client => "0 push",
    }
}

/// Decodes a V2 binary frame sent by `side`: from the server kinds 0, 1
/// and 2; from the client kind 0 only (the server decodes nothing else).
pub fn decode_binary(bytes: &[u8], side: Side) -> Result<Frame, DecodeError> {
    let (&kind, rest) = bytes.split_first().ok_or(DecodeError::EmptyBinary)?;
    let fields = match (side, kind) {
        (Side::Client, KIND_PUSH) | (Side::Server, KIND_REPLY) => 4,
        (Side::Server, KIND_PUSH) => 3,
        (Side::Server, KIND_BROADCAST) => 2,
        _ => return Err(DecodeError::UnknownKind { kind, sender: side }),
    };
    if rest.len() < fields {
        return Err(DecodeError::TooShort {
            kind,
            len: bytes.len(),
            fields,
        });
    }
    let (lens, mut body) = rest.split_at(fields);
    let mut strings: Vec<Text> = Vec::with_capacity(fields);
    for &len in lens {
        let len = usize::from(len);
        if body.len() < len {
            return Err(DecodeError::Truncated {
                kind,
                field: len,
                left: body.len(),
            });
        }
        let (s, after) = body.split_at(len);
        let s = std::str::from_utf8(s).map_err(|_| DecodeError::NotUtf8 { kind })?;
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
    use crate::core::protocol::tests::{bytes, frame, p, show};
    use crate::core::protocol::{Vsn, parse_reply};

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
            assert!(e.to_string().contains(want), "{bytes:?}: {e}");
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
}

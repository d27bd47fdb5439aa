//! Property tests on the pure parts: encode → decode round trips, the
//! command parser against what it should rebuild, terminal-safe payloads,
//! and URL normalisation. Inputs come from a small seeded generator, so
//! every run checks the same few thousand cases and a failure names its
//! seed. The fuzz targets in `fuzz/` explore further (see the README).

use phx_repl::core::endpoint::{normalize, redact};
use phx_repl::core::protocol::{Frame, Payload, Side, Vsn, Wire, decode_binary};
use phx_repl::core::session::Request;
use phx_repl::lang::command::{Command, parse_line};
use phx_repl::output::display_json;
use serde_json::Value;
use serde_json::value::RawValue;

const CASES: u64 = 2000;

/// xorshift64*: small, seedable, good enough to spread test inputs.
struct Gen(u64);

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Any character, weighted towards the ones that need care: quotes,
    /// backslashes, controls (C0, DEL, C1), bidi overrides, non-ASCII.
    fn char(&mut self) -> char {
        match self.below(10) {
            0 => *self.pick(&[
                '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1b}', '\u{7f}',
            ]),
            1 => char::from_u32(0x80 + self.below(0x20) as u32).unwrap(),
            2 => *self.pick(&[
                '\u{202e}', '\u{2066}', '\u{200b}', 'é', '€', '🦈', '\u{feff}',
            ]),
            3 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('?'),
            _ => char::from(b' ' + self.below(95) as u8),
        }
    }

    fn string(&mut self, max: u64) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| self.char()).collect()
    }

    /// A word with no whitespace, as a topic or event typed on one line.
    fn word(&mut self) -> String {
        let n = 1 + self.below(12);
        (0..n)
            .map(|_| {
                loop {
                    let c = self.char();
                    if !c.is_whitespace() && !c.is_control() {
                        break c;
                    }
                }
            })
            .collect()
    }

    fn json(&mut self, depth: u32) -> Value {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::from(self.next() as i64),
            // Dyadic fractions: serde_json reads them back exactly.
            3 => Value::from((self.below(1 << 24) as f64) / 8.0 - 1e6),
            4 => Value::String(self.string(12)),
            5 => Value::Array((0..self.below(4)).map(|_| self.json(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.string(6), self.json(depth + 1)))
                    .collect(),
            ),
        }
    }

    fn object(&mut self) -> Value {
        Value::Object(
            (0..self.below(5))
                .map(|_| (self.string(6), self.json(1)))
                .collect(),
        )
    }

    fn opt_ref(&mut self) -> Option<String> {
        match self.below(3) {
            0 => None,
            1 => Some(self.below(100_000).to_string()),
            _ => Some(self.string(6)),
        }
    }
}

fn raw(v: &Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

#[test]
fn every_json_frame_survives_encode_then_decode_in_both_serializers() {
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let payload = g.json(0);
        let frame = Frame {
            join_ref: g.opt_ref().map(Into::into),
            ref_: g.opt_ref().map(Into::into),
            topic: g.string(20).into(),
            event: g.string(12).into(),
            payload: raw(&payload).into(),
        };
        for vsn in [Vsn::V2, Vsn::V1] {
            for side in [Side::Client, Side::Server] {
                let Ok(Wire::Text(text)) = vsn.encode(&frame, side) else {
                    panic!("seed {seed}: a JSON frame encodes as text");
                };
                let back = vsn
                    .decode(&text)
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}: {text}"));
                // V1 frames from the server carry no join_ref.
                let join_ref = if (vsn, side) == (Vsn::V1, Side::Server) {
                    None
                } else {
                    frame.join_ref.clone()
                };
                let what = format!("seed {seed}, {vsn:?} from {side:?}: {text}");
                assert_eq!(back.join_ref, join_ref, "{what}");
                assert_eq!(back.ref_, frame.ref_, "{what}");
                assert_eq!(back.topic, frame.topic, "{what}");
                assert_eq!(back.event, frame.event, "{what}");
                let got = back.payload.json().expect("a JSON payload").get();
                assert_eq!(got, payload.to_string(), "{what}");
                // And the encoding is plain JSON any server can read.
                serde_json::from_str::<Value>(&text).unwrap();
            }
        }
    }
}

#[test]
fn every_binary_push_survives_encode_then_decode() {
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        // Binary frames give each string one length byte: keep them short,
        // and refs are either absent or non-empty (empty means absent).
        let short = |g: &mut Gen, max| loop {
            let s = g.string(max);
            if s.len() <= 255 {
                break s;
            }
        };
        let opt = |g: &mut Gen| match g.below(2) {
            0 => None,
            _ => Some((1 + g.below(99_999)).to_string()),
        };
        let data: Vec<u8> = (0..g.below(64)).map(|_| g.next() as u8).collect();
        let frame = Frame {
            join_ref: opt(&mut g).map(Into::into),
            ref_: opt(&mut g).map(Into::into),
            topic: short(&mut g, 20).into(),
            event: short(&mut g, 12).into(),
            payload: Payload::Binary(data.clone()),
        };
        let Ok(Wire::Binary(bytes)) = Vsn::V2.encode(&frame, Side::Client) else {
            panic!("seed {seed}: a binary push encodes as binary");
        };
        let back = decode_binary(&bytes, Side::Client)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}: {bytes:?}"));
        assert_eq!(back.join_ref, frame.join_ref, "seed {seed}");
        assert_eq!(back.ref_, frame.ref_, "seed {seed}");
        assert_eq!(back.topic, frame.topic, "seed {seed}");
        assert_eq!(back.event, frame.event, "seed {seed}");
        match back.payload {
            Payload::Binary(d) => assert_eq!(d, data, "seed {seed}"),
            other => panic!("seed {seed}: {other:?}"),
        }
        // The server's broadcast of the same data.
        let broadcast = Frame {
            join_ref: None,
            ref_: None,
            ..frame.clone()
        };
        let Ok(Wire::Binary(bytes)) = Vsn::V2.encode(&broadcast, Side::Server) else {
            panic!("seed {seed}: a binary broadcast encodes as binary");
        };
        let back = decode_binary(&bytes, Side::Server).unwrap();
        assert_eq!((back.topic, back.event), (frame.topic, frame.event));
    }
}

#[test]
fn a_typed_push_sends_the_topic_event_and_payload_it_names() {
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let topic = loop {
            let w = g.word();
            if !w.starts_with(['{', '<', '[', '#']) && !w.contains('=') {
                break w;
            }
        };
        let event = g.word();
        let payload = g.object();
        let line = format!("push {topic} {event} {payload}");
        match parse_line(&line) {
            Ok(Some(Command::Request(Request::Push {
                topic: t,
                event: e,
                payload: p,
                ..
            }))) => {
                assert_eq!(t, topic, "seed {seed}: {line}");
                assert_eq!(e, event, "seed {seed}: {line}");
                let p: Value = serde_json::from_str(p.json().expect("JSON").get()).unwrap();
                assert_eq!(p, payload, "seed {seed}: {line}");
            }
            other => panic!("seed {seed}: {line:?} parsed as {other:?}"),
        }
    }
}

#[test]
fn payloads_shown_on_the_terminal_keep_their_value_and_lose_their_controls() {
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let payload = g.json(0);
        // Pretty-printed too: newlines and indentation outside strings.
        let texts = [
            payload.to_string(),
            serde_json::to_string_pretty(&payload).unwrap(),
        ];
        for text in texts {
            let shown = display_json(&text);
            assert!(
                !shown.chars().any(|c| c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
                "seed {seed}: {shown:?}"
            );
            let back: Value = serde_json::from_str(&shown).unwrap();
            assert_eq!(back, payload, "seed {seed}");
        }
    }
}

#[test]
fn a_normalised_url_normalises_to_itself_and_its_secrets_stay_hidden() {
    let hosts = [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "example.com",
        "a-b.example.org",
    ];
    let schemes = ["", "ws://", "wss://", "http://", "https://"];
    let paths = [
        "",
        "/",
        "/socket",
        "/socket/",
        "/socket/websocket",
        "/a/b/c",
    ];
    let keys = [
        "token", "Token", "AUTH", "apikey", "api_key", "password", "secret", "jwt",
    ];
    for seed in 0..CASES {
        let mut g = Gen::new(seed);
        let mut input = format!("{}{}", g.pick(&schemes), g.pick(&hosts));
        if g.below(2) == 0 {
            input.push_str(&format!(":{}", 1 + g.below(65_535)));
        }
        let path = *g.pick(&paths);
        input.push_str(path);
        let secret = format!("s3cr3t{}", g.next());
        let key = *g.pick(&keys);
        let params = vec![
            (key.to_owned(), secret.clone()),
            ("room".to_owned(), g.word()),
        ];
        let url = normalize(&input, &params).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(url.path().ends_with("/websocket"), "seed {seed}: {url}");
        let again = normalize(url.as_str(), &[]).unwrap();
        assert_eq!(again, url, "seed {seed}");
        let shown = redact(&url);
        assert!(!shown.contains(&secret), "seed {seed}: {shown}");
        assert!(shown.contains("REDACTED"), "seed {seed}: {shown}");
    }
}

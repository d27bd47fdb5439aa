//! Rendering: events in, text lines out, for people or as NDJSON.
//!
//! [`Style`] is what the runner holds and calls: it says how to render and
//! hands each call to one of two renderers behind the [`Render`] trait,
//! `human` (coloured lines) or `ndjson` (`--json` records, defined in
//! `records` and encoded by `encode`). Both only append to a `String`;
//! every line ends with `\n`. Whether to colour is decided once in `main`
//! (through `colored`'s global switch). Text from the server is made safe
//! for the terminal by `safe` before it is shown, so a server cannot move
//! the cursor or retitle the window. Wall-clock text is `clock`'s and
//! durations in words are `fmt`'s.

pub mod clock;
mod encode;
mod fmt;
mod human;
pub mod jsonfmt;
pub mod junit;
pub mod live;
mod ndjson;
pub mod records;
pub mod safe;

use std::ops::Range;

use crate::core::event::{Event, Status};
use crate::core::packed::Packed;
use crate::core::presence::{Applied, State};
use crate::core::protocol::{View, Vsn};
use crate::core::session::{Expired, Unanswered};

pub use clock::{clock, rfc3339};
pub use fmt::{fmt_latency, fmt_latency_short};
pub use human::human_payload;
pub use records::Info;
pub use safe::{clean, display_json, excerpt};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub json: bool,
    /// Dim echoed frames (interactive mode).
    pub dim_sent: bool,
    /// At the prompt: long payloads are cut unless `display.full`.
    pub at_prompt: bool,
    pub show_heartbeats: bool,
    /// Human-mode display switches (`--timestamps`, `--pretty`, `--raw`).
    pub display: Display,
    /// The serializer on the wire, for `--raw`.
    pub vsn: Vsn,
}

/// How human-mode lines look; switchable at the prompt with `display`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Display {
    /// Start each event line with the wall clock (UTC) to the millisecond.
    pub timestamps: bool,
    /// Payloads indented over several lines.
    pub pretty: bool,
    /// Frames exactly as sent and received (in the connection's serializer).
    pub raw: bool,
    /// Payloads in full at the prompt too (`--full`); otherwise those
    /// longer than [`CUT_AT`] are cut there.
    pub full: bool,
}

/// Bytes of payload text shown at the prompt before it is cut: about a
/// screen (50 lines of 80 columns), so any ordinary reply shows whole,
/// while a 600 KB one no longer scrolls everything else away. Scripts,
/// `--json` and recordings keep everything.
pub const CUT_AT: usize = 4096;

impl Display {
    pub const PLAIN: Display = Display {
        timestamps: false,
        pretty: false,
        raw: false,
        full: false,
    };
}

impl Style {
    /// The payload length beyond which human lines are cut.
    pub fn cut_at(&self) -> usize {
        if self.at_prompt && !self.json && !self.display.full {
            CUT_AT
        } else {
            usize::MAX
        }
    }
}

/// What `Style::wait_passed` shows.
pub struct WaitPass<'a> {
    /// What followed `wait `: `TOPIC EVENT [JSON]`.
    pub expected: &'a str,
    pub topic: &'a str,
    pub event: &'a str,
    /// The matched message's payload, JSON text.
    pub payload: &'a str,
    pub line: Option<usize>,
}

/// What `Style::expectation` shows.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    pub passed: bool,
    /// The command on a pass; on a failure, what went wrong, in one line.
    pub summary: &'a str,
    pub expected: &'a str,
    pub got: &'a str,
    /// Where a response differed (`at .body expected "hi", got "ho"`).
    pub detail: Option<&'a str>,
    pub line: Option<usize>,
}

/// What a renderer draws. Each method appends whole lines to `out`, or
/// nothing.
pub trait Render {
    /// A network event (automatic heartbeats already filtered out).
    fn event(&self, ev: &Event, out: &mut String);
    /// Packed pushes and broadcasts `range`, in order, a line each;
    /// `seen` is shown each message after its line. When `seen` returns
    /// true the run stops after that message (so the caller can print
    /// something right under it); the index to go on from is returned.
    fn plain_messages(
        &self,
        pack: &Packed,
        range: Range<usize>,
        out: &mut String,
        seen: &mut dyn FnMut(usize, &View<'_>) -> bool,
    ) -> usize;
    /// The `status` report: one `info` record with `event: "status"`, or
    /// a short table.
    fn status(&self, st: &Status, url: &str, out: &mut String);
    /// An announcement: the `info` record, or `text` for people.
    fn info(&self, info: &Info<'_>, text: &str, out: &mut String);
    /// Bad input or a failed script step (`line` is the script's line).
    fn error(&self, message: &str, line: Option<usize>, out: &mut String);
    /// A request that got no reply in time, from script line `line`;
    /// `hint` adds what to do if the handler never replies.
    fn timeout(&self, e: &Expired, line: Option<usize>, hint: bool, out: &mut String);
    /// Help text.
    fn help(&self, text: &str, out: &mut String);
    /// The outcome of `expect`, or of a `wait` with a payload that failed.
    fn expectation(&self, e: &Expectation<'_>, out: &mut String);
    /// A `wait` that found its message: `✓ wait …`, or a `wait_passed`
    /// record.
    fn wait_passed(&self, w: &WaitPass<'_>, out: &mut String);
    /// A `refute` whose window passed with nothing matching: `✓ refute
    /// …`, or a `refute_passed` record; `expected` is the line after
    /// `refute `.
    fn refute_passed(&self, expected: &str, line: Option<usize>, out: &mut String);
    /// A value kept by `let`: `* let id = 42`, or a `let` record.
    fn let_value(&self, name: &str, value: &str, line: Option<usize>, out: &mut String);
    /// A request given up on (its channel crashed or closed, or the
    /// connection dropped), with the script line that sent it.
    fn unanswered(&self, u: &Unanswered, line: Option<usize>, out: &mut String);
    /// What a presence state or diff changed.
    fn presence(&self, applied: &Applied, out: &mut String);
    /// The `presence` command: who is present on each topic.
    fn presence_list(&self, lists: &[(&str, &State)], out: &mut String);
}

impl Style {
    /// Calls `f` with the renderer this style picks.
    fn with<T>(&self, f: impl FnOnce(&dyn Render) -> T) -> T {
        if self.json {
            f(&ndjson::Ndjson)
        } else {
            f(&human::Human { style: self })
        }
    }

    /// Automatic heartbeats, their replies and their timeouts are shown
    /// only with `--show-heartbeats`.
    fn hidden(&self, ev: &Event) -> bool {
        let auto = match ev {
            Event::Sent { auto, .. } => *auto,
            Event::Reply(r) => r.auto,
            Event::TimedOut(e) => e.auto,
            _ => false,
        };
        auto && !self.show_heartbeats
    }

    /// Renders a network event; appends nothing for hidden events.
    pub fn event(&self, ev: &Event, out: &mut String) {
        if !self.hidden(ev) {
            self.with(|r| r.event(ev, out));
        }
    }

    /// [`Render::plain_messages`]: what `event` renders for each packed
    /// message, the line most of a flood is made of.
    pub fn plain_messages(
        &self,
        pack: &Packed,
        range: Range<usize>,
        out: &mut String,
        mut seen: impl FnMut(usize, &View<'_>) -> bool,
    ) -> usize {
        self.with(|r| r.plain_messages(pack, range, out, &mut seen))
    }

    /// [`Render::status`].
    pub fn status(&self, st: &Status, url: &str, out: &mut String) {
        self.with(|r| r.status(st, url, out));
    }

    /// A `*` line of the runner's own in human mode (none in `--json`).
    pub fn note(&self, text: &str, out: &mut String) {
        if !self.json {
            human::note(text, out);
        }
    }

    /// [`Render::info`].
    pub fn info(&self, info: &Info<'_>, text: &str, out: &mut String) {
        self.with(|r| r.info(info, text, out));
    }

    /// [`Render::error`].
    pub fn error(&self, message: &str, line: Option<usize>, out: &mut String) {
        self.with(|r| r.error(message, line, out));
    }

    /// [`Render::timeout`].
    pub fn timeout(&self, e: &Expired, line: Option<usize>, hint: bool, out: &mut String) {
        self.with(|r| r.timeout(e, line, hint, out));
    }

    /// `--timestamps` on lines the runner writes itself (a LiveView's):
    /// the wall clock before the first line from `start`, or before each
    /// line when `each` (change lines, one event each). Human mode only.
    pub fn stamp(&self, start: usize, each: bool, out: &mut String) {
        if self.json || !self.display.timestamps || out.len() <= start {
            return;
        }
        let mut stamp = String::with_capacity(16);
        clock(std::time::SystemTime::now(), &mut stamp);
        stamp.push(' ');
        let stamp = human::dim(&stamp);
        let mut at = start;
        while at < out.len() {
            out.insert_str(at, &stamp);
            if !each {
                break;
            }
            at = out[at..].find('\n').map_or(out.len(), |i| at + i + 1);
        }
    }

    /// [`Render::help`].
    pub fn help(&self, text: &str, out: &mut String) {
        self.with(|r| r.help(text, out));
    }

    /// [`Render::expectation`]: a pass is one line; a failure shows
    /// expected vs got.
    pub fn expectation(&self, e: &Expectation<'_>, out: &mut String) {
        self.with(|r| r.expectation(e, out));
    }

    /// [`Render::wait_passed`].
    pub fn wait_passed(&self, w: &WaitPass<'_>, out: &mut String) {
        self.with(|r| r.wait_passed(w, out));
    }

    /// [`Render::refute_passed`].
    pub fn refute_passed(&self, expected: &str, line: Option<usize>, out: &mut String) {
        self.with(|r| r.refute_passed(expected, line, out));
    }

    /// [`Render::let_value`].
    pub fn let_value(&self, name: &str, value: &str, line: Option<usize>, out: &mut String) {
        self.with(|r| r.let_value(name, value, line, out));
    }

    /// [`Render::unanswered`].
    pub fn unanswered(&self, u: &Unanswered, line: Option<usize>, out: &mut String) {
        self.with(|r| r.unanswered(u, line, out));
    }

    /// [`Render::presence`]: `+ alice (2 sessions)` and `- bob` lines, or
    /// one `presence` record with `joins` and `leaves`.
    pub fn presence(&self, applied: &Applied, out: &mut String) {
        self.with(|r| r.presence(applied, out));
    }

    /// [`Render::presence_list`].
    pub fn presence_list(&self, lists: &[(&str, &State)], out: &mut String) {
        self.with(|r| r.presence_list(lists, out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::core::protocol::{Payload, View, decode, raw};
    use crate::core::session::{
        ChannelState, Expired, Message, MessageKind, Reply, TopicInfo, Unanswered,
    };

    const HUMAN: Style = Style {
        display: Display::PLAIN,
        json: false,
        dim_sent: false,
        at_prompt: false,
        show_heartbeats: false,
        vsn: Vsn::V2,
    };
    const JSON: Style = Style {
        display: Display::PLAIN,
        json: true,
        dim_sent: false,
        at_prompt: false,
        show_heartbeats: false,
        vsn: Vsn::V2,
    };

    #[test]
    fn presence_lines_skip_joins_and_leaves_that_change_nothing() {
        use crate::core::presence::{Applied, Tracker};
        let mut t = Tracker::new();
        t.joining("room:1", Some("1"));
        let p = |s: &str| s.to_owned();
        let mut out = String::new();
        for a in t
            .on_state(
                "room:1",
                &p(r#"{"bob":{"metas":[{"phx_ref":"a"},{"phx_ref":"b"}]}}"#),
            )
            .unwrap()
        {
            HUMAN.presence(&a, &mut out);
        }
        let diffs = [
            // Our view already has `b`, and never had `z`: nothing to show.
            r#"{"joins":{"bob":{"metas":[{"phx_ref":"b"}]}},"leaves":{"bob":{"metas":[{"phx_ref":"z"}]}}}"#,
            r#"{"joins":{},"leaves":{"bob":{"metas":[{"phx_ref":"a"}]}}}"#,
        ];
        for d in diffs {
            let a: Applied = t.on_diff("room:1", &p(d)).unwrap().unwrap();
            HUMAN.presence(&a, &mut out);
        }
        assert_eq!(
            out,
            "  room:1 + bob (2 sessions)\n  room:1 - bob (1 session left)\n"
        );
    }

    fn render(style: Style, ev: &Event) -> String {
        colored::control::set_override(false);
        let mut out = String::new();
        style.event(ev, &mut out);
        out
    }

    fn reply_event() -> Event {
        Event::Reply(Box::new(Reply {
            frame: decode(r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{"joined":"room:lobby"}}]"#).unwrap(),
            status: Some("ok".into()),
            response: raw(r#"{"joined":"room:lobby"}"#.into()).into(),
            request: Some("phx_join".into()),
            latency: Some(Duration::from_micros(1900)),
            late: false,
            auto: false,
            cast: false,
        }))
    }

    fn without_time(s: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        let time = v["time"].as_str().unwrap();
        assert_eq!(time.len(), 24, "{time}");
        let mut v = v;
        v.as_object_mut().unwrap().remove("time");
        v.to_string()
    }

    #[test]
    fn human_reply_names_request_status_and_latency() {
        assert_eq!(
            render(HUMAN, &reply_event()),
            "← room:lobby reply ok to phx_join (ref 1, 1.9 ms) {\"joined\":\"room:lobby\"}\n"
        );
    }

    #[test]
    fn status_before_the_first_connection_says_connecting_not_reconnecting() {
        colored::control::set_override(false);
        let st = |first| Status {
            up: None,
            session: Duration::from_secs(1),
            reconnects: 0,
            next_attempt: Some((3, Duration::from_millis(80))),
            first,
            heartbeat_interval: Some(Duration::from_secs(30)),
            heartbeat: crate::core::session::HeartbeatStats::default(),
            topics: Vec::new(),
        };
        let url = "ws://h/socket/websocket";
        let human = |first| {
            let mut out = String::new();
            HUMAN.status(&st(first), url, &mut out);
            out.lines().next().unwrap_or_default().to_owned()
        };
        assert_eq!(
            human(true),
            "  connection  connecting to ws://h/socket/websocket: not up yet, retrying in 80 ms (attempt 3) (0 reconnects in 1 s)"
        );
        assert!(
            human(false).contains("reconnecting to ws://h/socket/websocket: attempt 3 in 80 ms")
        );
        let json = |first| {
            let mut out = String::new();
            JSON.status(&st(first), url, &mut out);
            out
        };
        assert!(
            json(true).contains("\"state\":\"connecting\""),
            "{}",
            json(true)
        );
        assert!(
            json(false).contains("\"state\":\"reconnecting\""),
            "{}",
            json(false)
        );
    }

    #[test]
    fn status_says_when_a_heartbeat_reply_is_slow_or_overdue() {
        colored::control::set_override(false);
        let heartbeat_line_with = |last_rtt: Option<Duration>, waiting: Option<Duration>| {
            let st = Status {
                up: Some(Duration::from_secs(60)),
                session: Duration::from_secs(60),
                reconnects: 0,
                next_attempt: None,
                first: false,
                heartbeat_interval: Some(Duration::from_secs(30)),
                heartbeat: crate::core::session::HeartbeatStats {
                    last_rtt,
                    missed: 0,
                    waiting,
                },
                topics: Vec::new(),
            };
            let mut out = String::new();
            HUMAN.status(&st, "ws://h/socket/websocket", &mut out);
            out.lines().nth(1).unwrap_or_default().to_owned()
        };
        let heartbeat_line =
            |waiting| heartbeat_line_with(Some(Duration::from_micros(200)), waiting);
        let base = "  heartbeat   every 30 s, last round trip 200 µs, 0 missed";
        assert_eq!(heartbeat_line(None), base);
        assert_eq!(heartbeat_line(Some(Duration::from_millis(3))), base);
        assert_eq!(
            heartbeat_line(Some(Duration::from_millis(12_500))),
            format!("{base}, waiting 12.5 s for a reply")
        );
        assert_eq!(
            heartbeat_line(Some(Duration::from_secs(45))),
            format!(
                "{base}, no reply for 45 s (overdue, but other frames keep arriving, so the connection still counts as alive)"
            )
        );
        // Never answered: the wait says it, once.
        assert_eq!(
            heartbeat_line_with(None, None),
            "  heartbeat   every 30 s, no reply yet, 0 missed"
        );
        assert_eq!(
            heartbeat_line_with(None, Some(Duration::from_secs(3))),
            "  heartbeat   every 30 s, 0 missed, waiting 3 s for a reply"
        );
    }

    #[test]
    fn status_says_what_a_missed_heartbeat_did() {
        colored::control::set_override(false);
        let line = |missed| {
            let st = Status {
                up: Some(Duration::from_secs(60)),
                session: Duration::from_secs(60),
                reconnects: missed as u32,
                next_attempt: None,
                first: false,
                heartbeat_interval: Some(Duration::from_secs(30)),
                heartbeat: crate::core::session::HeartbeatStats {
                    last_rtt: Some(Duration::from_micros(200)),
                    missed,
                    waiting: None,
                },
                topics: Vec::new(),
            };
            let mut out = String::new();
            HUMAN.status(&st, "ws://h/socket/websocket", &mut out);
            out.lines().nth(1).unwrap_or_default().to_owned()
        };
        let base = "  heartbeat   every 30 s, last round trip 200 µs, ";
        assert_eq!(line(0), format!("{base}0 missed"));
        assert_eq!(
            line(1),
            format!("{base}1 missed (the connection was closed as dead for it)")
        );
        assert_eq!(
            line(2),
            format!("{base}2 missed (each closed the connection as dead)")
        );
    }

    #[test]
    fn json_reply_has_the_documented_fields() {
        let line = render(JSON, &reply_event());
        assert!(line.ends_with("}\n"));
        assert_eq!(
            without_time(&line),
            r#"{"join_ref":"1","latency_ms":1.9,"ref":"1","request":"phx_join","response":{"joined":"room:lobby"},"status":"ok","topic":"room:lobby","type":"reply"}"#
        );
    }

    #[test]
    fn sent_frames_are_echoed() {
        let f = decode(r#"["1","1","room:lobby","phx_join",{"user":"ana"}]"#).unwrap();
        let ev = Event::Sent {
            id: Some(1),
            frame: f,
            auto: false,
            cast: false,
        };
        assert_eq!(
            render(HUMAN, &ev),
            "→ room:lobby phx_join {\"user\":\"ana\"}  (ref 1)\n"
        );
        assert_eq!(
            without_time(&render(JSON, &ev)),
            r#"{"event":"phx_join","join_ref":"1","payload":{"user":"ana"},"ref":"1","topic":"room:lobby","type":"sent"}"#
        );
    }

    #[test]
    fn a_cast_is_marked_in_its_echo_and_its_record() {
        let f = decode(r#"["1","4","room:lobby","new_msg",{"body":"hi"}]"#).unwrap();
        let ev = Event::Sent {
            id: Some(1),
            frame: f,
            auto: false,
            cast: true,
        };
        assert_eq!(
            render(HUMAN, &ev),
            "→ room:lobby new_msg {\"body\":\"hi\"}  (ref 4, cast)\n"
        );
        assert_eq!(
            without_time(&render(JSON, &ev)),
            r#"{"cast":true,"event":"new_msg","join_ref":"1","payload":{"body":"hi"},"ref":"4","topic":"room:lobby","type":"sent"}"#
        );
    }

    #[test]
    fn automatic_heartbeats_are_hidden() {
        let f = decode(r#"[null,"1","phoenix","heartbeat",{}]"#).unwrap();
        let ev = Event::Sent {
            id: None,
            frame: f,
            auto: true,
            cast: false,
        };
        assert_eq!(render(HUMAN, &ev), "");
        let shown = Style {
            show_heartbeats: true,
            ..HUMAN
        };
        assert!(render(shown, &ev).contains("heartbeat"));
    }

    #[test]
    fn messages_are_told_apart() {
        let m = |text: &str, kind| {
            Event::Message(Message {
                frame: decode(text).unwrap(),
                kind,
                stale: false,
            })
        };
        assert_eq!(
            render(
                HUMAN,
                &m(
                    r#"[null,null,"room:a","shout",{"b":1}]"#,
                    MessageKind::Broadcast
                )
            ),
            "← room:a broadcast shout {\"b\":1}\n"
        );
        assert_eq!(
            render(
                HUMAN,
                &m(r#"["1",null,"room:a","msg",{}]"#, MessageKind::Push)
            ),
            "← room:a push msg {}\n"
        );
        assert!(
            render(
                HUMAN,
                &m(r#"["1","1","room:a","phx_error",{}]"#, MessageKind::Error)
            )
            .contains("phx_error: the channel crashed")
        );
        assert_eq!(
            without_time(&render(
                JSON,
                &m(
                    r#"[null,null,"room:a","shout",{"b":1}]"#,
                    MessageKind::Broadcast
                )
            )),
            r#"{"event":"shout","join_ref":null,"payload":{"b":1},"ref":null,"topic":"room:a","type":"message"}"#
        );
    }

    #[test]
    fn stale_messages_say_so() {
        let ev = Event::Message(Message {
            frame: decode(r#"["1","1","room:a","phx_close",{}]"#).unwrap(),
            kind: MessageKind::Close { requested: false },
            stale: true,
        });
        assert!(render(HUMAN, &ev).contains("[stale join_ref 1"));
        assert!(render(JSON, &ev).contains(r#""stale":true"#));
    }

    #[test]
    fn control_characters_from_the_server_are_escaped() {
        let ev = Event::Message(Message {
            frame: decode("[null,null,\"room:\\u001b]0;pwned\\u0007\",\"e\\r\",{}]").unwrap(),
            kind: MessageKind::Broadcast,
            stale: false,
        });
        let out = render(HUMAN, &ev);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\r'),
            "{out:?}"
        );
        assert!(out.contains("room:\\u{1b}]0;pwned\\u{7}"), "{out}");
    }

    #[test]
    fn topics_listing() {
        let ev = Event::Topics {
            id: 1,
            topics: vec![TopicInfo {
                topic: "room:lobby".into(),
                join_ref: "1".into(),
                state: ChannelState::Joined,
            }],
        };
        assert_eq!(render(HUMAN, &ev), "  room:lobby  joined    join_ref 1\n");
        assert_eq!(
            without_time(&render(JSON, &ev)),
            r#"{"event":"topics","topics":[{"join_ref":"1","state":"joined","topic":"room:lobby"}],"type":"info"}"#
        );
    }

    #[test]
    fn timeouts_are_error_records() {
        let ev = Event::TimedOut(Expired {
            ref_: "3".into(),
            topic: "room:a".into(),
            event: "noreply".into(),
            auto: false,
            after: Duration::from_secs(10),
        });
        assert_eq!(
            render(HUMAN, &ev),
            "timeout: no reply to noreply on room:a (ref 3) within 10 s\n"
        );
        assert!(render(JSON, &ev).starts_with(r#"{"type":"error","time":""#));
    }

    #[test]
    fn a_long_payload_is_cut_at_the_prompt_on_a_char_boundary() {
        let prompt = Style {
            at_prompt: true,
            ..HUMAN
        };
        // `é` is two bytes and straddles the cut: it is not split.
        let text = format!(
            "{{\"s\":\"{}é{}\"}}",
            "a".repeat(CUT_AT - 7),
            "b".repeat(100)
        );
        let ev = Event::Message(Message {
            frame: decode(&format!(r#"[null,null,"room:a","shout",{text}]"#)).unwrap(),
            kind: MessageKind::Broadcast,
            stale: false,
        });
        colored::control::set_override(false);
        let out = render(prompt, &ev);
        let more = text.len() - (CUT_AT - 1);
        assert!(
            out.ends_with(&format!("aaa … ({more} more bytes; display full on)\n")),
            "{}",
            &out[out.len() - 60..]
        );
        let full = Style {
            display: Display {
                full: true,
                ..Display::PLAIN
            },
            ..prompt
        };
        assert!(render(full, &ev).ends_with("bb\"}\n"));
        assert!(render(HUMAN, &ev).ends_with("bb\"}\n"));
    }

    #[test]
    fn raw_shows_the_frame_as_on_the_wire() {
        let raw = Style {
            display: Display {
                raw: true,
                ..Display::PLAIN
            },
            ..HUMAN
        };
        let ev = Event::Message(Message {
            frame: decode(r#"[null,null,"room:a","shout",{"b":1}]"#).unwrap(),
            kind: MessageKind::Broadcast,
            stale: false,
        });
        colored::control::set_override(false);
        assert_eq!(
            render(raw, &ev),
            "← [null,null,\"room:a\",\"shout\",{\"b\":1}]\n"
        );
    }

    #[test]
    fn raw_follows_the_serializer_and_shows_binary_frames_as_bytes() {
        let v1 = Style {
            display: Display {
                raw: true,
                ..Display::PLAIN
            },
            vsn: Vsn::V1,
            ..HUMAN
        };
        let ev = Event::Message(Message {
            frame: decode(r#"[null,null,"room:a","shout",{"b":1}]"#).unwrap(),
            kind: MessageKind::Broadcast,
            stale: false,
        });
        colored::control::set_override(false);
        assert_eq!(
            render(v1, &ev),
            "← {\"topic\":\"room:a\",\"event\":\"shout\",\"payload\":{\"b\":1},\"ref\":null}\n"
        );
        let mut frame = decode(r#"[null,null,"t","e",{}]"#).unwrap();
        frame.payload = Payload::Binary(vec![0xff]);
        let ev = Event::Message(Message {
            frame,
            kind: MessageKind::Broadcast,
            stale: false,
        });
        let v2 = Style { vsn: Vsn::V2, ..v1 };
        assert_eq!(render(v2, &ev), "← binary hex:0201017465ff\n");
    }

    #[test]
    fn pretty_spreads_a_payload_over_lines() {
        let pretty = Style {
            display: Display {
                pretty: true,
                ..Display::PLAIN
            },
            ..HUMAN
        };
        let ev = Event::Message(Message {
            frame: decode(r#"[null,null,"room:a","shout",{"b":1}]"#).unwrap(),
            kind: MessageKind::Broadcast,
            stale: false,
        });
        colored::control::set_override(false);
        assert_eq!(
            render(pretty, &ev),
            "← room:a broadcast shout {\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn error_lines_name_the_line_number() {
        let mut out = String::new();
        colored::control::set_override(false);
        HUMAN.error("unknown command `x`", Some(3), &mut out);
        assert_eq!(out, "error: line 3: unknown command `x`\n");
    }
    /// One of every event the network thread reports that renders, with
    /// text a terminal must not obey in names, reasons and payloads.
    fn every_event() -> Vec<Event> {
        use crate::core::packed::Packed;
        use crate::core::session::Transition;
        let frame = |text: &str| decode(text).unwrap();
        let mut binary = frame(r#"[null,null,"room:a","bin",{}]"#);
        binary.payload = Payload::Binary(vec![1, 2, 3]);
        let mut pack = Packed::with_capacity(2, 64);
        for payload in ["{\"n\":1}", "{\"s\":\"\u{9b}x\"}"] {
            let v = View {
                join_ref: Some("1"),
                ref_: None,
                topic: "room:a",
                event: "new_msg",
                payload,
            };
            assert!(pack.push(&v));
        }
        let late = Reply {
            frame: frame(r#"["1","7","room:a","phx_reply",{}]"#),
            status: None,
            response: Payload::Binary(vec![0xff; 4]),
            request: None,
            latency: None,
            late: true,
            auto: false,
            cast: false,
        };
        vec![
            Event::Connected,
            Event::ConnectFailed("refused".into()),
            Event::Sent {
                id: Some(1),
                frame: frame(
                    "[\"1\",\"2\",\"room:\\u202e\\u0008\",\"phx_join\",{\"user\": \"ana\\u0008\u{85}\",\n \"n\": [1, 2]}]",
                ),
                auto: false,
                cast: false,
            },
            Event::SentRaw {
                id: 2,
                text: "[\"x\"]\u{7f}\u{200b}".into(),
            },
            Event::Rejected {
                id: 3,
                message: "not joined: `room:\u{1b}`".into(),
            },
            reply_event(),
            Event::Reply(Box::new(late)),
            Event::Message(Message {
                frame: frame(r#"[null,null,"room:a","shout",{"b":1}]"#),
                kind: MessageKind::Broadcast,
                stale: false,
            }),
            Event::Message(Message {
                frame: frame(r#"["1","1","room:a","phx_close",{}]"#),
                kind: MessageKind::Close { requested: false },
                stale: true,
            }),
            Event::Message(Message {
                frame: binary,
                kind: MessageKind::Push,
                stale: false,
            }),
            Event::Messages(Box::new(pack)),
            Event::TimedOut(Expired {
                ref_: "3".into(),
                topic: "room:a".into(),
                event: "noreply".into(),
                auto: false,
                after: Duration::from_millis(10_500),
            }),
            Event::Unanswered(Unanswered {
                ref_: "4".into(),
                topic: "room:a".into(),
                event: "ping".into(),
                because: "phx_error",
            }),
            Event::Topics {
                id: 5,
                topics: vec![TopicInfo {
                    topic: "room:lobby".into(),
                    join_ref: "1".into(),
                    state: ChannelState::Joined,
                }],
            },
            Event::Undecodable {
                error: "not an array".into(),
                text: "{\u{1b}[2J".into(),
            },
            Event::Disconnected {
                code: Some(1000),
                reason: "bye\u{8}".into(),
                by_client: true,
            },
            Event::Reconnecting {
                attempt: 2,
                delay: Duration::from_millis(2500),
                error: Some("refused".into()),
                repeated: false,
                first: false,
            },
            Event::Reconnecting {
                attempt: 1,
                delay: Duration::from_millis(100),
                error: None,
                repeated: false,
                first: true,
            },
            Event::HeartbeatTimeout {
                after: Duration::from_secs(30),
            },
            Event::HeartbeatTimeout {
                after: Duration::from_micros(1500),
            },
            Event::Rejoining {
                topic: "room:a".into(),
                attempt: 2,
            },
            Event::ChannelState(Transition {
                topic: "room:a".into(),
                from: Some(ChannelState::Joined),
                to: ChannelState::Errored,
                why: "phx_error",
                rejoin_in: Some(Duration::from_millis(1000)),
            }),
            Event::ChannelState(Transition {
                topic: "room:b".into(),
                from: None,
                to: ChannelState::Joining,
                why: "join",
                rejoin_in: None,
            }),
            Event::Queued {
                id: 6,
                topic: None,
                until: "offline",
            },
            Event::Queued {
                id: 7,
                topic: Some("room:a".into()),
                until: "joining",
            },
            Event::Closed {
                code: None,
                reason: String::new(),
                by_client: false,
                lost: true,
                reported: false,
            },
            Event::Closed {
                code: None,
                reason: String::new(),
                by_client: false,
                lost: true,
                reported: true,
            },
        ]
    }

    fn a_status() -> Status {
        use crate::core::session::{HeartbeatStats, TopicStatus};
        Status {
            up: Some(Duration::from_micros(61_500_250)),
            session: Duration::from_secs(62),
            reconnects: 1,
            next_attempt: None,
            first: false,
            heartbeat_interval: Some(Duration::from_secs(30)),
            heartbeat: HeartbeatStats {
                last_rtt: Some(Duration::from_micros(420)),
                missed: 0,
                waiting: None,
            },
            topics: vec![TopicStatus {
                topic: "room:a".into(),
                join_ref: "1".into(),
                state: ChannelState::Errored,
                payload: Payload::Json(raw_json("{\"token\": \"t\u{202e}\"}")),
                rejoin_in: Some(Duration::from_millis(250)),
                attempts: 2,
            }],
        }
    }

    /// Presence from a state and a diff, and the tracker that saw them.
    fn some_presence() -> (
        Vec<crate::core::presence::Applied>,
        crate::core::presence::Tracker,
    ) {
        let mut t = crate::core::presence::Tracker::new();
        t.joining("room:1", Some("1"));
        let mut applied = t
            .on_state(
                "room:1",
                r#"{"bob":{"metas":[{"phx_ref":"a","s":"\u0008"},{"phx_ref":"b"}]},"al":{"metas":[{"phx_ref":"c"}],"x":1}}"#,
            )
            .unwrap();
        applied.extend(
            t.on_diff(
                "room:1",
                r#"{"joins":{"cy":{"metas":[{"phx_ref":"d"}]}},"leaves":{"bob":{"metas":[{"phx_ref":"a"}]}}}"#,
            )
            .unwrap(),
        );
        (applied, t)
    }

    /// `"time":"…"` as `"time":"T"`, after checking it is RFC 3339 UTC
    /// with milliseconds.
    fn mask_time(text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            let (head, rest) = line.split_once(",\"time\":\"").unwrap();
            let (time, tail) = rest.split_at(24);
            assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
            out.push_str(head);
            out.push_str(",\"time\":\"T");
            out.push_str(tail);
            out.push('\n');
        }
        out
    }

    fn raw_json(s: &str) -> crate::core::protocol::Json {
        raw(s.to_owned()).into()
    }

    /// Everything but the announcements of the runner and `main`.
    fn render_all_but_infos(style: Style, out: &mut String) {
        colored::control::set_override(false);
        for ev in every_event() {
            style.event(&ev, out);
        }
        style.status(&a_status(), "ws://h/socket/websocket", out);
        style.error("unknown command `\u{1b}x`", Some(3), out);
        style.error("no topic", None, out);
        style.help("commands:\n  join TOPIC\n", out);
        let pass = Expectation {
            passed: true,
            summary: "expect ok",
            expected: "ok {\"a\":1}",
            got: "",
            detail: None,
            line: None,
        };
        style.expectation(&pass, out);
        let fail = Expectation {
            passed: false,
            summary: "expected ok, got error",
            expected: "ok {\"a\":1}",
            got: "error {\"a\":2}",
            detail: Some("at .a expected 1, got \"x\""),
            line: Some(4),
        };
        style.expectation(&fail, out);
        style.expectation(
            &Expectation {
                line: Some(2),
                ..pass
            },
            out,
        );
        let wait = WaitPass {
            expected: "room:a shout {\"b\":1}",
            topic: "room:a",
            event: "shout",
            payload: "{\"b\":1.50,\"c\":\"\u{1b}\"}",
            line: Some(5),
        };
        style.wait_passed(&wait, out);
        let unanswered = Unanswered {
            ref_: "6".into(),
            topic: "room:a".into(),
            event: "crash".into(),
            because: "phx_error",
        };
        style.unanswered(&unanswered, Some(6), out);
        let (applied, tracker) = some_presence();
        for a in &applied {
            style.presence(a, out);
        }
        style.presence_list(&[("room:1", tracker.list("room:1").unwrap())], out);
    }

    fn render_infos(style: Style, out: &mut String) {
        let url = "ws://h/socket/websocket";
        let infos = [
            Info::Connected {
                url,
                reconnects: None,
            },
            Info::Connected {
                url,
                reconnects: Some(2),
            },
            Info::Insecure,
            Info::Interrupted,
            Info::Bail,
            Info::Display {
                timestamps: true,
                pretty: false,
                raw: false,
                full: false,
            },
            Info::Record { file: None },
            Info::Record {
                file: Some("~/s\u{202e}.txt"),
            },
            Info::Muted {
                muted: &["presence_diff", "room:*"],
            },
            Info::ServerStarted {
                url: "ws://127.0.0.1:4000/socket",
            },
            Info::NotJoined {
                topic: "room:lobyy",
                joined: &["room:lobby".to_string()],
                suggestion: Some("room:lobby"),
            },
            Info::NotJoined {
                topic: "room:x",
                joined: &[],
                suggestion: None,
            },
        ];
        for info in &infos {
            style.info(info, "", out);
        }
    }

    /// Every kind of `--json` record, byte for byte (the time masked):
    /// field names, their order, number spelling and escapes.
    #[test]
    fn every_record_is_pinned_byte_for_byte() {
        let mut out = String::new();
        render_all_but_infos(JSON, &mut out);
        render_infos(JSON, &mut out);
        let got = mask_time(&out);
        for (got, want) in got.lines().zip(EVERY_RECORD.lines()) {
            assert_eq!(got, want);
        }
        assert_eq!(got, EVERY_RECORD);
    }

    /// The same for people, colour off.
    #[test]
    fn every_human_line_is_pinned_byte_for_byte() {
        let mut out = String::new();
        render_all_but_infos(HUMAN, &mut out);
        for (got, want) in out.lines().zip(EVERY_HUMAN_LINE.lines()) {
            assert_eq!(got, want);
        }
        assert_eq!(out, EVERY_HUMAN_LINE);
    }

    const EVERY_RECORD: &str = r##"{"type":"sent","time":"T","join_ref":"1","ref":"2","topic":"room:\u202e\u0008","event":"phx_join","payload":{"user": "ana\u0008\u0085", "n": [1, 2]}}
{"type":"sent","time":"T","raw":"[\"x\"]\u007f\u200b"}
{"type":"error","time":"T","message":"not joined: `room:\u001b`"}
{"type":"reply","time":"T","join_ref":"1","ref":"1","topic":"room:lobby","status":"ok","response":{"joined":"room:lobby"},"request":"phx_join","latency_ms":1.9}
{"type":"reply","time":"T","join_ref":"1","ref":"7","topic":"room:a","status":null,"response":{"binary":"/////w=="},"request":null,"latency_ms":null,"late":true}
{"type":"message","time":"T","join_ref":null,"ref":null,"topic":"room:a","event":"shout","payload":{"b":1}}
{"type":"message","time":"T","join_ref":"1","ref":"1","topic":"room:a","event":"phx_close","payload":{},"stale":true}
{"type":"message","time":"T","join_ref":null,"ref":null,"topic":"room:a","event":"bin","payload":{"binary":"AQID"}}
{"type":"message","time":"T","join_ref":"1","ref":null,"topic":"room:a","event":"new_msg","payload":{"n":1}}
{"type":"message","time":"T","join_ref":"1","ref":null,"topic":"room:a","event":"new_msg","payload":{"s":"\u009bx"}}
{"type":"error","time":"T","message":"no reply to noreply on room:a (ref 3) within 10.5 s","kind":"timeout","ref":"3","topic":"room:a","event":"noreply"}
{"type":"info","time":"T","event":"unanswered","ref":"4","topic":"room:a","request":"ping","reason":"phx_error"}
{"type":"info","time":"T","event":"topics","topics":[{"topic":"room:lobby","join_ref":"1","state":"joined"}]}
{"type":"error","time":"T","message":"received a frame that is not a V2 Phoenix frame (not an array): {\\u{1b}[2J","kind":"protocol","frame":"{\u001b[2J"}
{"type":"info","time":"T","event":"disconnected","code":1000,"reason":"bye\u0008","by_client":true}
{"type":"info","time":"T","event":"reconnecting","attempt":2,"delay_ms":2500,"error":"refused"}
{"type":"info","time":"T","event":"reconnecting","attempt":1,"delay_ms":100,"error":null}
{"type":"info","time":"T","event":"heartbeat_timeout","after_ms":30000}
{"type":"info","time":"T","event":"heartbeat_timeout","after_ms":1.5}
{"type":"info","time":"T","event":"rejoining","topic":"room:a","attempt":2}
{"type":"info","time":"T","event":"channel_state","topic":"room:a","from":"joined","to":"errored","why":"phx_error","rejoin_in_ms":1000}
{"type":"info","time":"T","event":"channel_state","topic":"room:b","from":null,"to":"joining","why":"join","rejoin_in_ms":null}
{"type":"info","time":"T","event":"queued","topic":null,"until":"offline"}
{"type":"info","time":"T","event":"queued","topic":"room:a","until":"joining"}
{"type":"info","time":"T","event":"disconnected","code":null,"reason":"","by_client":false}
{"type":"info","time":"T","event":"status","state":"connected","url":"ws://h/socket/websocket","uptime_ms":61500.25,"session_ms":62000,"reconnects":1,"reconnect_attempt":null,"reconnect_in_ms":null,"heartbeat_interval_ms":30000,"heartbeat_rtt_ms":0.42,"heartbeats_missed":0,"heartbeat_waiting_ms":null,"topics":[{"topic":"room:a","state":"errored","join_ref":"1","payload":{"token": "t\u202e"},"rejoin_in_ms":250,"rejoin_attempts":2}]}
{"type":"error","time":"T","message":"unknown command `\u001bx`","line":3}
{"type":"error","time":"T","message":"no topic"}
{"type":"info","time":"T","event":"help","text":"commands:\n  join TOPIC\n"}
{"type":"info","time":"T","event":"expect_passed","expected":"ok {\"a\":1}"}
{"type":"error","time":"T","message":"expected ok, got error","kind":"expect","line":4,"expected":"ok {\"a\":1}","got":"error {\"a\":2}","detail":"at .a expected 1, got \"x\""}
{"type":"info","time":"T","event":"expect_passed","line":2,"expected":"ok {\"a\":1}"}
{"type":"info","time":"T","event":"wait_passed","line":5,"expected":"room:a shout {\"b\":1}","topic":"room:a","awaited":"shout","payload":{"b":1.50,"c":"\u001b"}}
{"type":"info","time":"T","event":"unanswered","ref":"6","topic":"room:a","request":"crash","reason":"phx_error","line":6}
{"type":"presence","time":"T","topic":"room:1","joins":{"al":{"metas":[{"phx_ref":"c"}],"x":1},"bob":{"metas":[{"phx_ref":"a","s":"\b"},{"phx_ref":"b"}]}},"leaves":{}}
{"type":"presence","time":"T","topic":"room:1","joins":{"cy":{"metas":[{"phx_ref":"d"}]}},"leaves":{"bob":{"metas":[{"phx_ref":"a"}]}}}
{"type":"presence","time":"T","topic":"room:1","state":{"al":{"metas":[{"phx_ref":"c"}],"x":1},"bob":{"metas":[{"phx_ref":"b"}]},"cy":{"metas":[{"phx_ref":"d"}]}}}
{"type":"info","time":"T","event":"connected","url":"ws://h/socket/websocket"}
{"type":"info","time":"T","event":"connected","url":"ws://h/socket/websocket","reconnects":2}
{"type":"info","time":"T","event":"insecure"}
{"type":"info","time":"T","event":"interrupted"}
{"type":"info","time":"T","event":"bail"}
{"type":"info","time":"T","event":"display","timestamps":true,"pretty":false,"raw":false,"full":false}
{"type":"info","time":"T","event":"record"}
{"type":"info","time":"T","event":"record","file":"~/s\u202e.txt"}
{"type":"info","time":"T","event":"muted","muted":["presence_diff","room:*"]}
{"type":"info","time":"T","event":"server_started","url":"ws://127.0.0.1:4000/socket"}
{"type":"info","time":"T","event":"not_joined","topic":"room:lobyy","joined":["room:lobby"],"suggestion":"room:lobby"}
{"type":"info","time":"T","event":"not_joined","topic":"room:x","joined":[],"suggestion":null}
"##;

    const EVERY_HUMAN_LINE: &str = r##"→ room:\u{202e}\u{8} phx_join {"user": "ana\u0008\u0085", "n": [1, 2]}  (ref 2)
→ raw ["x"]\u{7f}\u{200b}
error: not joined: `room:\u{1b}`
← room:lobby reply ok to phx_join (ref 1, 1.9 ms) {"joined":"room:lobby"}
← room:a reply (no status) to an unknown request (ref 7) late hex:ffffffff
← room:a broadcast shout {"b":1}
← room:a phx_close: the server closed the channel {} [stale join_ref 1: an earlier instance of the channel]
← room:a push bin hex:010203
← room:a push new_msg {"n":1}
← room:a push new_msg {"s":"\u009bx"}
timeout: no reply to noreply on room:a (ref 3) within 10.5 s
* no reply to ping on room:a (ref 4): the channel crashed
  room:lobby  joined    join_ref 1
protocol: received a frame that is not a V2 Phoenix frame (not an array): {\u{1b}[2J
* connection closed: code 1000 (bye\u{8})
* reconnecting in 2.5 s (attempt 2); the last attempt failed: refused
* retrying in 100 ms (attempt 1)
* no reply to the heartbeat within 30 s: the connection is dead, closing it
* no reply to the heartbeat within 0 s: the connection is dead, closing it
* rejoining room:a with its join payload (attempt 2)
* room:a errored (phx_error); rejoining in 1 s
* not connected: queued until the connection is back
* room:a is not joined yet: queued until it has joined
* disconnected by the server without a close frame
  connection  connected to ws://h/socket/websocket, up 1m01s (1 reconnect in 1m02s)
  heartbeat   every 30 s, last round trip 420 µs, 0 missed
  topics
    room:a  errored   join_ref 1  payload {"token": "t\u202e"}  rejoining in 250 ms (attempt 2)
error: line 3: unknown command `\u{1b}x`
error: no topic
commands:
  join TOPIC
✓ expect ok
failed: line 4: expected ok, got error
  expected: ok {"a":1}
  got:      error {"a":2}
  (at .a expected 1, got "x")
✓ expect ok
✓ wait room:a shout {"b":1}
* line 6: no reply to crash on room:a (ref 6): the channel crashed
  room:1 + al
  room:1 + bob (2 sessions)
  room:1 + cy
  room:1 - bob (1 session left)
  room:1: 3 present (3 sessions)
    al
      {"phx_ref":"c"}
      (also {"x":1})
    bob
      {"phx_ref":"b"}
    cy
      {"phx_ref":"d"}
"##;
}

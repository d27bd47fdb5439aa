//! Rendering: events in, text lines out, human (coloured) or NDJSON.
//!
//! Whether to colour is decided once in `main` (through `colored`'s global
//! switch); this module only appends to a `String` (JSON records also read
//! the wall clock for `time`). Every line ends with `\n`. Text from the
//! server is made safe before it reaches the terminal so a server cannot
//! move the cursor or retitle the window: topics, events and reasons have
//! control characters escaped, and payloads are compacted onto one line with
//! terminal controls inside strings turned into JSON `\u` escapes.

pub mod jsonfmt;

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use colored::Colorize;

use crate::core::event::{Event, Status};
use data_encoding::HEXLOWER;

use crate::core::packed::Packed;
use crate::core::presence::{Applied, Change, State};
use crate::core::protocol::{self, Frame, Payload, Side, View, Vsn, Wire};
use crate::core::session::{
    ChannelState, Expired, Message, MessageKind, Reply, TopicInfo, Transition, Unanswered,
};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub json: bool,
    /// Dim echoed frames (interactive mode).
    pub dim_sent: bool,
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
}

impl Display {
    pub const PLAIN: Display = Display {
        timestamps: false,
        pretty: false,
        raw: false,
    };
}

impl Style {
    /// Renders a network event; appends nothing for hidden events.
    pub fn event(&self, ev: &Event, out: &mut String) {
        if let Event::Messages(pack) = ev {
            if self.display.raw && !self.json {
                // As sent: the frame is needed again.
                for v in pack.iter() {
                    let m = Message {
                        frame: v.to_frame(),
                        kind: crate::core::packed::kind(&v),
                        stale: false,
                    };
                    self.event(&Event::Message(m), out);
                }
                return;
            }
            // A line each, each with its own timestamp.
            self.plain_messages(pack, 0..pack.len(), out, |_, _| {});
            return;
        }
        let start = out.len();
        self.render_event(ev, out);
        self.stamp(start, out);
    }

    /// What [`Style::event`] renders for a push or a broadcast with a JSON
    /// payload from a channel's current instance: the line most of a flood
    /// is made of, rendered straight from the frame's text.
    pub fn plain_message(&self, v: &View<'_>, broadcast: bool, out: &mut String) {
        let start = out.len();
        self.plain_message_line(v, broadcast, out);
        self.stamp(start, out);
    }

    /// [`Style::plain_message`] for packed messages `range`, in order;
    /// `seen` is shown each message after its line.
    pub fn plain_messages(
        &self,
        pack: &Packed,
        range: Range<usize>,
        out: &mut String,
        mut seen: impl FnMut(usize, &View<'_>),
    ) {
        // The flood's usual case: plain human lines, no colour, and text
        // that is printable ASCII, so there is nothing to make safe. The
        // line is then the parts as they are, as `plain_message_line`
        // would write them.
        let bare = !self.json
            && !self.display.pretty
            && !self.display.timestamps
            && !colored::control::SHOULD_COLORIZE.should_colorize();
        for i in range {
            let v = pack.get(i);
            let broadcast = crate::core::packed::kind(&v) == MessageKind::Broadcast;
            if bare && pack.ascii(i) {
                out.push_str("← ");
                out.push_str(v.topic);
                out.push_str(if broadcast { " broadcast " } else { " push " });
                out.push_str(v.event);
                out.push(' ');
                out.push_str(v.payload);
                out.push('\n');
            } else {
                self.plain_message(&v, broadcast, out);
            }
            seen(i, &v);
        }
    }

    /// `--timestamps`: the wall clock before the human line(s) from `start`.
    fn stamp(&self, start: usize, out: &mut String) {
        if self.display.timestamps && !self.json && out.len() > start {
            let mut stamp = String::with_capacity(16);
            clock(SystemTime::now(), &mut stamp);
            stamp.push(' ');
            out.insert_str(start, &stamp.dimmed().to_string());
        }
    }

    /// A frame as it travels (`--raw`): its text in the connection's
    /// serializer, or a binary frame's bytes as `hex:…`.
    fn wire(&self, f: &Frame, side: Side, colour: bool) -> String {
        match self.vsn.encode(f, side) {
            Ok(Wire::Text(text)) => self.human_json(&text, colour).into_owned(),
            Ok(Wire::Binary(data)) => {
                format!("binary {}", human_payload(&Payload::Binary(data)))
            }
            Err(_) => self.human_json(&f.encode(), colour).into_owned(),
        }
    }

    /// A payload for a human line: safe, then coloured and indented as set.
    fn human_json<'a>(&self, text: &'a str, colour: bool) -> Cow<'a, str> {
        let safe = display_json(text);
        let colour = colour && colored::control::SHOULD_COLORIZE.should_colorize();
        if !colour && !self.display.pretty {
            return safe;
        }
        Cow::Owned(crate::output::jsonfmt::render(
            &safe,
            self.display.pretty && !self.display.raw,
            colour,
        ))
    }

    /// `human_payload`, with JSON coloured and indented as set.
    fn styled_payload<'a>(&self, p: &'a Payload, colour: bool) -> Cow<'a, str> {
        match p {
            Payload::Json(j) => self.human_json(j.get(), colour),
            other => human_payload(other),
        }
    }

    fn render_event(&self, ev: &Event, out: &mut String) {
        match ev {
            // Announced by the runner, which knows the URL; a failure is
            // the fatal error.
            Event::Connected | Event::ConnectFailed(_) => {}
            Event::Sent { frame, auto, .. } => {
                if !*auto || self.show_heartbeats {
                    self.sent(frame, out);
                }
            }
            Event::SentRaw { text, .. } => self.sent_raw(text, out),
            Event::Rejected { message, .. } => self.error(message, None, out),
            Event::Reply(r) => {
                if !r.auto || self.show_heartbeats {
                    self.reply(r, out);
                }
            }
            Event::Message(m) => self.message(m, out),
            // Rendered by `event`, a line each.
            Event::Messages(_) => {}
            Event::TimedOut(e) => {
                if !e.auto || self.show_heartbeats {
                    self.timed_out(e, out);
                }
            }
            Event::Unanswered(u) => self.unanswered(u, out),
            Event::Topics { topics, .. } => self.topics(topics, out),
            Event::Undecodable { error, text } => self.undecodable(error, text, out),
            Event::Closed {
                code,
                reason,
                by_client,
                reported: false,
                ..
            } => self.closed(*code, reason, *by_client, out),
            Event::Closed { reported: true, .. } => {}
            Event::Disconnected {
                code,
                reason,
                by_client,
            } => self.closed(*code, reason, *by_client, out),
            Event::Reconnecting {
                attempt,
                delay,
                error,
                repeated,
                first,
            } => {
                let verb = if *first { "retrying" } else { "reconnecting" };
                let error = error.as_deref();
                self.reconnecting(verb, *attempt, *delay, error, *repeated, out);
            }
            Event::HeartbeatTimeout { after } => self.info(
                "heartbeat_timeout",
                &format!(
                    "no reply to the heartbeat within {}: the connection is dead, closing it",
                    fmt_secs(*after)
                ),
                &[("after_ms", ms(*after).to_string())],
                out,
            ),
            Event::Rejoining { topic, attempt } => self.info(
                "rejoining",
                &format!(
                    "rejoining {} with its join payload (attempt {attempt})",
                    clean(topic)
                ),
                &[
                    ("topic", json_string(topic)),
                    ("attempt", attempt.to_string()),
                ],
                out,
            ),
            Event::ChannelState(t) => self.channel_state(t, out),
            // Rendered by the runner, which knows the URL (`status`).
            Event::Status { .. } => {}
            Event::Queued { topic, until, .. } => {
                let text = match (until, topic) {
                    (&"offline", Some(t)) => format!(
                        "not connected: queued until the connection is back and {} has joined",
                        clean(t)
                    ),
                    (&"offline", None) => {
                        "not connected: queued until the connection is back".to_owned()
                    }
                    (_, Some(t)) => {
                        format!("{} is not joined yet: queued until it has joined", clean(t))
                    }
                    (_, None) => {
                        "the topic is not joined yet: queued until it has joined".to_owned()
                    }
                };
                let topic_json = topic
                    .as_deref()
                    .map_or_else(|| "null".to_owned(), json_string);
                self.info(
                    "queued",
                    &text,
                    &[("topic", topic_json), ("until", json_string(until))],
                    out,
                );
            }
        }
    }

    fn reconnecting(
        &self,
        verb: &str,
        attempt: u32,
        delay: Duration,
        error: Option<&str>,
        repeated: bool,
        out: &mut String,
    ) {
        let mut text = format!("{verb} in {} (attempt {attempt})", fmt_latency_short(delay));
        match error {
            Some(_) if repeated => text.push_str("; the last attempt failed the same way"),
            Some(e) => {
                let _ = write!(text, "; the last attempt failed: {}", clean(e));
            }
            None => {}
        }
        let error_json = error.map_or_else(|| "null".to_owned(), json_string);
        self.info(
            "reconnecting",
            &text,
            &[
                ("attempt", attempt.to_string()),
                ("delay_ms", delay.as_millis().to_string()),
                ("error", error_json),
            ],
            out,
        );
    }

    /// The `status` report: one `info` record with `event: "status"` in
    /// JSON, a short table for humans.
    pub fn status(&self, st: &Status, url: &str, out: &mut String) {
        let opt_ms =
            |d: Option<Duration>| d.map_or_else(|| "null".to_owned(), |d| ms(d).to_string());
        let state = match (st.up, st.next_attempt) {
            (Some(_), _) => "connected",
            (None, Some(_)) if !st.first => "reconnecting",
            (None, _) => "connecting",
        };
        if self.json {
            let mut topics = String::from("[");
            for (i, t) in st.topics.iter().enumerate() {
                if i > 0 {
                    topics.push(',');
                }
                topics.push_str("{\"topic\":");
                push_json_str(&mut topics, &t.topic);
                topics.push_str(",\"state\":");
                push_json_str(&mut topics, t.state.as_str());
                topics.push_str(",\"join_ref\":");
                push_json_str(&mut topics, &t.join_ref);
                topics.push_str(",\"payload\":");
                topics.push_str(&json_payload(&t.payload));
                let _ = write!(
                    topics,
                    ",\"rejoin_in_ms\":{},\"rejoin_attempts\":{}}}",
                    opt_ms(t.rejoin_in),
                    t.attempts
                );
            }
            topics.push(']');
            self.info(
                "status",
                "",
                &[
                    ("state", json_string(state)),
                    ("url", json_string(url)),
                    ("uptime_ms", opt_ms(st.up)),
                    ("session_ms", ms(st.session).to_string()),
                    ("reconnects", st.reconnects.to_string()),
                    (
                        "reconnect_attempt",
                        st.next_attempt
                            .map_or_else(|| "null".to_owned(), |(n, _)| n.to_string()),
                    ),
                    ("reconnect_in_ms", opt_ms(st.next_attempt.map(|(_, d)| d))),
                    ("heartbeat_interval_ms", opt_ms(st.heartbeat_interval)),
                    ("heartbeat_rtt_ms", opt_ms(st.heartbeat.last_rtt)),
                    ("heartbeats_missed", st.heartbeat.missed.to_string()),
                    ("heartbeat_waiting_ms", opt_ms(st.heartbeat.waiting)),
                    ("topics", topics),
                ],
                out,
            );
            return;
        }
        let conn = match (st.up, st.next_attempt) {
            (Some(up), _) => format!("connected to {url}, up {}", fmt_uptime(up)),
            (None, Some((n, left))) if st.first => format!(
                "connecting to {url}: not up yet, retrying in {} (attempt {n})",
                fmt_latency_short(left)
            ),
            (None, Some((n, left))) => format!(
                "reconnecting to {url}: attempt {n} in {}",
                fmt_latency_short(left)
            ),
            (None, None) => format!("connecting to {url}"),
        };
        let reconnects = match st.reconnects {
            1 => "1 reconnect".to_owned(),
            n => format!("{n} reconnects"),
        };
        let _ = writeln!(
            out,
            "  connection  {conn} ({reconnects} in {})",
            fmt_uptime(st.session)
        );
        let beat = match st.heartbeat_interval {
            None => "off (--heartbeat 0)".to_owned(),
            Some(every) => {
                let rtt = match (st.heartbeat.last_rtt, st.heartbeat.waiting) {
                    (Some(d), _) => format!("last round trip {}, ", fmt_latency(d)),
                    // The wait below says it.
                    (None, Some(w)) if w >= Duration::from_secs(1) => String::new(),
                    (None, _) => "no reply yet, ".to_owned(),
                };
                // "Missed" is a heartbeat timeout: no reply by the time the
                // next beat was due while nothing else arrived either, so
                // the connection was closed as dead. Beats let pass while
                // frames kept arriving are the wait below, not this count.
                let missed = match st.heartbeat.missed {
                    0 => "0 missed".to_owned(),
                    1 => "1 missed (the connection was closed as dead for it)".to_owned(),
                    n => format!("{n} missed (each closed the connection as dead)"),
                };
                let mut line = format!("every {}, {rtt}{missed}", fmt_latency_short(every));
                // A reply normally comes within milliseconds: say when one
                // is slow, and when it is overdue but let pass because
                // frames keep arriving.
                match st.heartbeat.waiting {
                    Some(w) if w >= every => {
                        let _ = write!(
                            line,
                            ", no reply for {} (overdue, but other frames keep arriving, so the connection still counts as alive)",
                            fmt_latency_short(w)
                        );
                    }
                    Some(w) if w >= Duration::from_secs(1) => {
                        let _ = write!(line, ", waiting {} for a reply", fmt_latency_short(w));
                    }
                    _ => {}
                }
                line
            }
        };
        let _ = writeln!(out, "  heartbeat   {beat}");
        if st.topics.is_empty() {
            out.push_str("  topics      none yet; try `join room:lobby`\n");
            return;
        }
        out.push_str("  topics\n");
        let width = st
            .topics
            .iter()
            .map(|t| t.topic.chars().count())
            .max()
            .unwrap_or(0);
        for t in &st.topics {
            let mut line = format!(
                "    {:<width$}  {:<8}  join_ref {}  payload {}",
                clean(&t.topic),
                t.state.as_str(),
                clean(&t.join_ref),
                human_payload(&t.payload)
            );
            match t.rejoin_in {
                Some(d) if d.is_zero() && st.up.is_none() => {
                    line.push_str("  rejoins once reconnected");
                }
                Some(d) => {
                    let _ = write!(
                        line,
                        "  rejoining in {} (attempt {})",
                        fmt_latency_short(d),
                        t.attempts.max(1)
                    );
                }
                None => {}
            }
            out.push_str(&line);
            out.push('\n');
        }
    }

    fn channel_state(&self, t: &Transition, out: &mut String) {
        if self.json {
            let from = t
                .from
                .map_or_else(|| "null".to_owned(), |f| json_string(f.as_str()));
            let rejoin = t
                .rejoin_in
                .map_or_else(|| "null".to_owned(), |d| d.as_millis().to_string());
            self.info(
                "channel_state",
                "",
                &[
                    ("topic", json_string(&t.topic)),
                    ("from", from),
                    ("to", json_string(t.to.as_str())),
                    ("why", json_string(t.why)),
                    ("rejoin_in_ms", rejoin),
                ],
                out,
            );
            return;
        }
        // At the terminal only what the frames do not already say: that an
        // errored channel will come back, and when, or that a channel left
        // while offline will not.
        let topic = clean(&t.topic);
        if t.to == ChannelState::Closed && t.why == "left while offline" {
            let line = format!(
                "{topic} closed: left while not connected (its server channel went with the connection); it will not be rejoined"
            );
            let _ = writeln!(out, "{} {}", "*".yellow(), line.yellow());
            return;
        }
        if t.to != ChannelState::Errored {
            return;
        }
        let line = match t.rejoin_in {
            Some(d) if d.is_zero() && t.why == "disconnected" => {
                format!("{topic} errored (disconnected); it rejoins once reconnected")
            }
            Some(d) => format!(
                "{topic} errored ({}); rejoining in {}",
                t.why,
                fmt_latency_short(d)
            ),
            None => format!(
                "{topic} errored ({}); not rejoined automatically, `join {topic}` to retry",
                t.why
            ),
        };
        let _ = writeln!(out, "{} {}", "*".yellow(), line.yellow());
    }

    fn sent(&self, f: &Frame, out: &mut String) {
        if self.json {
            self.record_start("sent", out);
            frame_fields(f, out);
            out.push_str(",\"payload\":");
            out.push_str(&json_payload(&f.payload));
            out.push_str("}\n");
            return;
        }
        // An echo dimmed at the prompt is not coloured: colour resets would undo the dimming.
        let colour = !self.dim_sent;
        if self.display.raw {
            let line = format!("→ {}", self.wire(f, Side::Client, colour));
            self.push_sent_line(&line, out);
            return;
        }
        let mut line = format!(
            "→ {} {} {}",
            clean(&f.topic),
            clean(&f.event),
            self.styled_payload(&f.payload, colour)
        );
        if let Some(r) = &f.ref_ {
            let _ = write!(line, "  (ref {})", clean(r));
        }
        self.push_sent_line(&line, out);
    }

    fn sent_raw(&self, text: &str, out: &mut String) {
        if self.json {
            self.record_start("sent", out);
            out.push_str(",\"raw\":");
            push_json_str(out, text);
            out.push_str("}\n");
            return;
        }
        let line = format!("→ raw {}", clean(text));
        self.push_sent_line(&line, out);
    }

    fn push_sent_line(&self, line: &str, out: &mut String) {
        if self.dim_sent {
            let _ = writeln!(out, "{}", line.dimmed());
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }

    fn reply(&self, r: &Reply, out: &mut String) {
        let f = &r.frame;
        if self.json {
            self.record_start("reply", out);
            address_fields(f, out);
            out.push_str(",\"status\":");
            push_opt_str(out, r.status.as_deref());
            out.push_str(",\"response\":");
            out.push_str(&json_payload(&r.response));
            out.push_str(",\"request\":");
            push_opt_str(out, r.request.as_deref());
            out.push_str(",\"latency_ms\":");
            match r.latency {
                Some(l) => {
                    let _ = write!(out, "{}", ms(l));
                }
                None => out.push_str("null"),
            }
            if r.late {
                out.push_str(",\"late\":true");
            }
            out.push_str("}\n");
            return;
        }
        if self.display.raw {
            let _ = writeln!(out, "← {}", self.wire(f, Side::Server, true));
            return;
        }
        let status = r.status.as_deref().unwrap_or("(no status)");
        let status_shown = match status {
            "ok" => status.green().to_string(),
            "error" => status.red().bold().to_string(),
            other => clean(other).yellow().to_string(),
        };
        let _ = write!(out, "← {} reply {}", clean(&f.topic), status_shown);
        match &r.request {
            Some(req) => {
                let _ = write!(out, " to {}", clean(req));
            }
            None => out.push_str(" to an unknown request"),
        }
        out.push_str(" (ref ");
        out.push_str(&clean(f.ref_.as_deref().unwrap_or("null")));
        if let Some(l) = r.latency {
            let _ = write!(out, ", {}", fmt_latency(l));
        }
        out.push(')');
        if r.late {
            let _ = write!(out, " {}", "late".yellow());
        }
        out.push(' ');
        out.push_str(&self.styled_payload(&r.response, true));
        out.push('\n');
    }

    /// [`Style::plain_message`] without the timestamp. The human line is
    /// written straight into `out`, with no temporary line and no colour
    /// objects when colour is off.
    fn plain_message_line(&self, v: &View<'_>, broadcast: bool, out: &mut String) {
        if self.json {
            self.record_start("message", out);
            out.push_str(",\"join_ref\":");
            push_opt_str(out, v.join_ref);
            out.push_str(",\"ref\":");
            push_opt_str(out, v.ref_);
            out.push_str(",\"topic\":");
            push_json_str(out, v.topic);
            out.push_str(",\"event\":");
            push_json_str(out, v.event);
            out.push_str(",\"payload\":");
            out.push_str(&display_json(v.payload));
            out.push_str("}\n");
            return;
        }
        out.push_str("← ");
        out.push_str(&clean(v.topic));
        out.push_str(if broadcast { " broadcast " } else { " push " });
        push_bold(out, &clean(v.event));
        out.push(' ');
        out.push_str(&self.human_json(v.payload, true));
        out.push('\n');
    }

    fn message(&self, m: &Message, out: &mut String) {
        let f = &m.frame;
        if let Payload::Json(payload) = &f.payload
            && !m.stale
            && matches!(m.kind, MessageKind::Push | MessageKind::Broadcast)
            && (self.json || !self.display.raw)
        {
            let v = f.view(payload.get());
            self.plain_message_line(&v, m.kind == MessageKind::Broadcast, out);
            return;
        }
        if self.json {
            self.record_start("message", out);
            frame_fields(f, out);
            out.push_str(",\"payload\":");
            out.push_str(&json_payload(&f.payload));
            if m.stale {
                out.push_str(",\"stale\":true");
            }
            out.push_str("}\n");
            return;
        }
        if self.display.raw {
            let line = format!("← {}", self.wire(f, Side::Server, !m.stale));
            if m.stale {
                let _ = writeln!(out, "{}", line.dimmed());
            } else {
                let _ = writeln!(out, "{line}");
            }
            return;
        }
        let topic = clean(&f.topic);
        let payload = self.styled_payload(&f.payload, !m.stale);
        let line = match m.kind {
            MessageKind::Broadcast => {
                format!("← {topic} broadcast {} {payload}", clean(&f.event).bold())
            }
            MessageKind::Push => format!("← {topic} push {} {payload}", clean(&f.event).bold()),
            MessageKind::Error => format!(
                "← {topic} {} {payload}",
                "phx_error: the channel crashed".red().bold()
            ),
            MessageKind::Close { requested: true } => {
                format!("← {topic} phx_close: channel closed {payload}")
            }
            MessageKind::Close { requested: false } => format!(
                "← {topic} {} {payload}",
                "phx_close: the server closed the channel".yellow()
            ),
        };
        if m.stale {
            // A V1 close or error has no join_ref; its ref names the instance.
            let jr = clean(
                f.join_ref
                    .as_deref()
                    .or(f.ref_.as_deref())
                    .unwrap_or("null"),
            );
            let note = format!("{line} [stale join_ref {jr}: an earlier instance of the channel]");
            let _ = writeln!(out, "{}", note.dimmed());
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }

    fn timed_out(&self, e: &Expired, out: &mut String) {
        let msg = format!(
            "no reply to {} on {} (ref {}) within {}",
            clean(&e.event),
            clean(&e.topic),
            clean(&e.ref_),
            fmt_secs(e.after)
        );
        if self.json {
            self.record_start("error", out);
            out.push_str(",\"message\":");
            push_json_str(out, &msg);
            out.push_str(",\"kind\":\"timeout\",\"ref\":");
            push_json_str(out, &e.ref_);
            out.push_str(",\"topic\":");
            push_json_str(out, &e.topic);
            out.push_str(",\"event\":");
            push_json_str(out, &e.event);
            out.push_str("}\n");
        } else {
            let _ = writeln!(out, "{} {msg}", "timeout:".red().bold());
        }
    }

    fn unanswered(&self, u: &Unanswered, out: &mut String) {
        let what = match u.because {
            "phx_error" => "the channel crashed",
            "disconnected" => "the connection dropped",
            _ => "the channel closed",
        };
        let text = format!(
            "no reply to {} on {} (ref {}): {what}",
            clean(&u.event),
            clean(&u.topic),
            clean(&u.ref_)
        );
        self.info(
            "unanswered",
            &text,
            &[
                ("ref", json_string(&u.ref_)),
                ("topic", json_string(&u.topic)),
                ("request", json_string(&u.event)),
                ("reason", json_string(u.because)),
            ],
            out,
        );
    }

    fn topics(&self, topics: &[TopicInfo], out: &mut String) {
        if self.json {
            self.record_start("info", out);
            out.push_str(",\"event\":\"topics\",\"topics\":[");
            for (i, t) in topics.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"topic\":");
                push_json_str(out, &t.topic);
                out.push_str(",\"join_ref\":");
                push_json_str(out, &t.join_ref);
                out.push_str(",\"state\":");
                push_json_str(out, t.state.as_str());
                out.push('}');
            }
            out.push_str("]}\n");
            return;
        }
        if topics.is_empty() {
            out.push_str("no topics yet; try `join room:lobby`\n");
            return;
        }
        let width = topics
            .iter()
            .map(|t| t.topic.chars().count())
            .max()
            .unwrap_or(0);
        for t in topics {
            let _ = writeln!(
                out,
                "  {:<width$}  {:<8}  join_ref {}",
                clean(&t.topic),
                t.state.as_str(),
                clean(&t.join_ref)
            );
        }
    }

    fn undecodable(&self, error: &str, text: &str, out: &mut String) {
        let shown = excerpt(text, 200);
        let msg = format!("received a frame that is not a V2 Phoenix frame ({error}): {shown}");
        if self.json {
            self.record_start("error", out);
            out.push_str(",\"message\":");
            push_json_str(out, &msg);
            out.push_str(",\"kind\":\"protocol\",\"frame\":");
            push_json_str(out, text);
            out.push_str("}\n");
        } else {
            let _ = writeln!(out, "{} {msg}", "protocol:".red().bold());
        }
    }

    fn closed(&self, code: Option<u16>, reason: &str, by_client: bool, out: &mut String) {
        // "By the server" only when it said so with a close frame; a reset,
        // a read error or a heartbeat timeout is a lost connection.
        let mut text = String::from(if by_client {
            "connection closed"
        } else if code.is_some() || reason.is_empty() {
            "disconnected by the server"
        } else {
            "connection lost"
        });
        if let Some(c) = code {
            let _ = write!(text, ": code {c}");
        }
        if !reason.is_empty() {
            let _ = write!(text, " ({})", clean(reason));
        }
        if !by_client && code.is_none() && reason.is_empty() {
            text.push_str(" without a close frame");
        }
        let mut fields = vec![(
            "code",
            code.map_or_else(|| "null".to_owned(), |c| c.to_string()),
        )];
        let mut reason_json = String::new();
        push_json_str(&mut reason_json, reason);
        fields.push(("reason", reason_json));
        fields.push(("by_client", by_client.to_string()));
        if self.json || by_client {
            self.info("disconnected", &text, &fields, out);
        } else {
            let _ = writeln!(out, "{} {}", "*".red(), text.red());
        }
    }

    /// An `info` record: `event` plus extra fields (values are JSON text).
    pub fn info(&self, event: &str, text: &str, fields: &[(&str, String)], out: &mut String) {
        if self.json {
            self.record_start("info", out);
            out.push_str(",\"event\":");
            push_json_str(out, event);
            for (k, v) in fields {
                out.push(',');
                push_json_str(out, k);
                out.push(':');
                out.push_str(v);
            }
            out.push_str("}\n");
        } else {
            let _ = writeln!(out, "{} {text}", "*".cyan());
        }
    }

    /// An `error` record for bad input or a failed script step.
    pub fn error(&self, message: &str, line: Option<usize>, out: &mut String) {
        if self.json {
            self.record_start("error", out);
            out.push_str(",\"message\":");
            push_json_str(out, message);
            if let Some(n) = line {
                let _ = write!(out, ",\"line\":{n}");
            }
            out.push_str("}\n");
        } else {
            // Messages quote what was typed or received: keep them on one
            // line and free of terminal controls.
            let message = clean(message);
            match line {
                Some(n) => {
                    let _ = writeln!(out, "{} line {n}: {message}", "error:".red().bold());
                }
                None => {
                    let _ = writeln!(out, "{} {message}", "error:".red().bold());
                }
            }
        }
    }

    /// Help text (an `info` record with `text` in JSON mode).
    pub fn help(&self, text: &str, out: &mut String) {
        if self.json {
            let mut t = String::new();
            push_json_str(&mut t, text);
            self.info("help", text, &[("text", t)], out);
        } else {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }

    /// The outcome of `expect`, or of a `wait` with a payload that failed.
    /// A pass is one line; a failure shows expected vs got.
    pub fn expectation(&self, e: &Expectation<'_>, out: &mut String) {
        if self.json {
            if e.passed {
                self.info(
                    "expect_passed",
                    "",
                    &[("expected", json_string(e.expected))],
                    out,
                );
                return;
            }
            self.record_start("error", out);
            out.push_str(",\"message\":");
            push_json_str(out, e.summary);
            out.push_str(",\"kind\":\"expect\"");
            if let Some(n) = e.line {
                let _ = write!(out, ",\"line\":{n}");
            }
            out.push_str(",\"expected\":");
            push_json_str(out, e.expected);
            out.push_str(",\"got\":");
            push_json_str(out, e.got);
            if let Some(d) = e.detail {
                out.push_str(",\"detail\":");
                push_json_str(out, d);
            }
            out.push_str("}\n");
            return;
        }
        if e.passed {
            let _ = writeln!(out, "{} {}", "✓".green(), e.summary);
            return;
        }
        let head = match e.line {
            Some(n) => format!("{} line {n}: {}", "failed:".red().bold(), e.summary),
            None => format!("{} {}", "failed:".red().bold(), e.summary),
        };
        let _ = writeln!(out, "{head}");
        let _ = writeln!(out, "  expected: {}", e.expected);
        let _ = writeln!(out, "  got:      {}", e.got);
        if let Some(d) = e.detail {
            let _ = writeln!(out, "  ({d})");
        }
    }

    /// What a presence state or diff changed: `+ alice (2 sessions)` and
    /// `- bob` lines, or one `presence` record with `joins` and `leaves`.
    pub fn presence(&self, applied: &Applied, out: &mut String) {
        if self.json {
            let mut joins = serde_json::Map::new();
            let mut leaves = serde_json::Map::new();
            for c in &applied.changes {
                match c {
                    Change::Join { key, joined, .. } => {
                        joins.insert(key.clone(), joined.to_value());
                    }
                    Change::Leave { key, left, .. } => {
                        leaves.insert(key.clone(), left.to_value());
                    }
                }
            }
            self.record_start("presence", out);
            out.push_str(",\"topic\":");
            push_json_str(out, &applied.topic);
            out.push_str(",\"joins\":");
            out.push_str(&display_json(&serde_json::Value::Object(joins).to_string()));
            out.push_str(",\"leaves\":");
            out.push_str(&display_json(
                &serde_json::Value::Object(leaves).to_string(),
            ));
            out.push_str("}\n");
            return;
        }
        let topic = clean(&applied.topic);
        for c in &applied.changes {
            match c {
                Change::Join {
                    key,
                    previous,
                    entry,
                    ..
                } => {
                    // A join that adds no meta (our own join, seen in the
                    // state and again in the diff) changes nothing.
                    if previous
                        .as_ref()
                        .is_some_and(|p| p.metas.len() == entry.metas.len())
                    {
                        continue;
                    }
                    let n = entry.metas.len();
                    let _ = write!(out, "  {topic} {} {}", "+".green().bold(), clean(key));
                    if n > 1 {
                        let _ = write!(out, " ({n} sessions)");
                    }
                    out.push('\n');
                }
                Change::Leave {
                    key,
                    remaining,
                    removed,
                    ..
                } => {
                    // A leave of metas already gone changes nothing.
                    if *removed == 0 {
                        continue;
                    }
                    let _ = write!(out, "  {topic} {} {}", "-".red().bold(), clean(key));
                    match remaining.metas.len() {
                        0 => {}
                        1 => out.push_str(" (1 session left)"),
                        n => {
                            let _ = write!(out, " ({n} sessions left)");
                        }
                    }
                    out.push('\n');
                }
            }
        }
    }

    /// The `presence` command: who is present on each topic, with metas.
    pub fn presence_list(&self, lists: &[(&str, &State)], out: &mut String) {
        if self.json {
            for (topic, state) in lists {
                let value: serde_json::Map<String, serde_json::Value> = state
                    .iter()
                    .map(|(k, e)| (k.clone(), e.to_value()))
                    .collect();
                self.record_start("presence", out);
                out.push_str(",\"topic\":");
                push_json_str(out, topic);
                out.push_str(",\"state\":");
                out.push_str(&display_json(&serde_json::Value::Object(value).to_string()));
                out.push_str("}\n");
            }
            return;
        }
        if lists.is_empty() {
            out.push_str(
                "no presence yet: it comes from a channel that sends presence_state after the join\n",
            );
            return;
        }
        for (topic, state) in lists {
            let sessions: usize = state.values().map(|e| e.metas.len()).sum();
            let _ = writeln!(
                out,
                "  {}: {} present ({sessions} session{})",
                clean(topic),
                state.len(),
                if sessions == 1 { "" } else { "s" }
            );
            for (key, entry) in state.iter() {
                let _ = writeln!(out, "    {}", clean(key).bold());
                for meta in &entry.metas {
                    let _ = writeln!(out, "      {}", display_json(&meta.to_string()));
                }
                if !entry.rest.is_empty() {
                    let rest = serde_json::Value::Object(entry.rest.clone()).to_string();
                    let _ = writeln!(out, "      (also {})", display_json(&rest));
                }
            }
        }
    }

    fn record_start(&self, kind: &str, out: &mut String) {
        out.push_str("{\"type\":\"");
        out.push_str(kind);
        out.push_str("\",\"time\":\"");
        push_now(out);
        out.push('"');
    }
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

/// `join_ref`, `ref` and `topic` of a JSON record.
fn address_fields(f: &Frame, out: &mut String) {
    out.push_str(",\"join_ref\":");
    push_opt_str(out, f.join_ref.as_deref());
    out.push_str(",\"ref\":");
    push_opt_str(out, f.ref_.as_deref());
    out.push_str(",\"topic\":");
    push_json_str(out, &f.topic);
}

/// `join_ref`, `ref`, `topic` and `event` of a JSON record.
fn frame_fields(f: &Frame, out: &mut String) {
    address_fields(f, out);
    out.push_str(",\"event\":");
    push_json_str(out, &f.event);
}

/// Milliseconds with microsecond precision, as a JSON number.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

fn fmt_latency(d: Duration) -> String {
    let m = ms(d);
    if m < 1.0 {
        format!("{} µs", d.as_micros())
    } else if m < 10.0 {
        format!("{m:.1} ms")
    } else if m < 1000.0 {
        format!("{m:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `45 s`, `12m05s`, `3h02m`: how long something has been up.
fn fmt_uptime(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// `10 ms`, `1 s`, `2.5 s`: a delay, as short as it reads well.
fn fmt_latency_short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() < 0.01 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// Appends `s` as a JSON string literal that is safe on a terminal: besides
/// what JSON requires, C1 controls and bidi and zero-width formatting
/// characters become `\u` escapes (the same JSON value).
fn push_json_str(out: &mut String, s: &str) {
    if !s.chars().any(is_unsafe_char) {
        protocol::push_json_str(out, s);
        return;
    }
    let mut plain = String::with_capacity(s.len());
    protocol::push_json_str(&mut plain, s);
    for c in plain.chars() {
        if is_unsafe_char(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_json_str(out, s),
        None => out.push_str("null"),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// Escapes control characters (C0, DEL, C1) so server text cannot drive the
/// terminal.
pub fn clean(s: &str) -> Cow<'_, str> {
    // Printable ASCII, the usual topic or event, is decided byte by byte.
    if crate::core::protocol::printable_ascii(s.as_bytes(), false) || !s.chars().any(is_unsafe_char)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Appends `s` in bold, or as it is when colour is off.
fn push_bold(out: &mut String, s: &str) {
    if colored::control::SHOULD_COLORIZE.should_colorize() {
        let _ = write!(out, "{}", s.bold());
    } else {
        out.push_str(s);
    }
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` on one line for a message: control characters escaped, cut to
/// `max` characters with `…`.
pub fn excerpt(s: &str, max: usize) -> String {
    let cleaned = clean(s);
    match cleaned.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &cleaned[..cut]),
        None => cleaned.into_owned(),
    }
}

/// A payload made safe to print on one line: whitespace outside strings is
/// dropped, and characters that could drive the terminal (DEL, C1 controls,
/// bidi and zero-width formatting), which JSON allows raw inside strings,
/// become `\uXXXX` escapes. The result is the same JSON value.
/// Binary payloads up to this many bytes are shown in full in human mode.
const BINARY_SHOWN: usize = 32;

/// A payload for a human line: JSON compacted and made safe; binary data as
/// `hex:…`, in full when short, else its first bytes and its length.
pub fn human_payload(p: &Payload) -> Cow<'_, str> {
    match p {
        Payload::Json(j) => display_json(j.get()),
        Payload::Binary(data) | Payload::BinaryReply { response: data, .. } => {
            if data.len() <= BINARY_SHOWN {
                Cow::Owned(format!("hex:{}", HEXLOWER.encode(data)))
            } else {
                Cow::Owned(format!(
                    "hex:{}… ({} bytes)",
                    HEXLOWER.encode(&data[..BINARY_SHOWN / 2]),
                    data.len()
                ))
            }
        }
    }
}

/// A payload as a JSON value for `--json`: JSON made safe; binary data in
/// full as `{"binary":"<base64>"}`.
pub fn json_payload(p: &Payload) -> Cow<'_, str> {
    match p {
        Payload::Json(j) => display_json(j.get()),
        Payload::Binary(data) | Payload::BinaryReply { response: data, .. } => {
            Cow::Owned(crate::core::protocol::binary_json(data))
        }
    }
}

pub fn display_json(s: &str) -> Cow<'_, str> {
    let plain = crate::core::protocol::printable_ascii(s.as_bytes(), false);
    let needs_work = !plain
        && s.chars()
            .any(|c| matches!(c, '\n' | '\r' | '\t') || is_unsafe_char(c));
    if !needs_work {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    for c in s.chars() {
        if is_unsafe_char(c) && !matches!(c, '\n' | '\r' | '\t') {
            // Only possible inside a string: outside, JSON allows nothing
            // but structural characters and plain whitespace.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
            escaped = false;
            continue;
        }
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !matches!(c, '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Appends the current time as `rfc3339` does. Records come in bursts
/// within one millisecond, so the text is kept and reused until the clock
/// moves on.
fn push_now(out: &mut String) {
    thread_local! {
        static LAST: RefCell<(u128, String)> = const { RefCell::new((u128::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    LAST.with_borrow_mut(|(last_ms, text)| {
        if *last_ms != ms {
            text.clear();
            rfc3339(now, text);
            *last_ms = ms;
        }
        out.push_str(text);
    });
}

/// Appends `t` as RFC 3339 UTC with milliseconds: `2026-11-27T19:25:04.123Z`.
pub fn rfc3339(t: SystemTime, out: &mut String) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    );
}

/// `HH:MM:SS.mmm` in UTC, for `--timestamps`.
pub fn clock(t: SystemTime, out: &mut String) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let rem = d.as_secs() % 86_400;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    );
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::{decode, raw};
    use crate::core::session::{ChannelState, Reply};

    const HUMAN: Style = Style {
        display: Display::PLAIN,
        json: false,
        dim_sent: false,
        show_heartbeats: false,
        vsn: Vsn::V2,
    };
    const JSON: Style = Style {
        display: Display::PLAIN,
        json: true,
        dim_sent: false,
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
    fn latencies_read_in_a_fitting_unit() {
        assert_eq!(fmt_latency(Duration::from_micros(43)), "43 µs");
        assert_eq!(fmt_latency(Duration::from_micros(1900)), "1.9 ms");
        assert_eq!(fmt_latency(Duration::from_millis(25)), "25 ms");
        assert_eq!(fmt_latency(Duration::from_millis(2500)), "2.50 s");
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
    fn automatic_heartbeats_are_hidden() {
        let f = decode(r#"[null,"1","phoenix","heartbeat",{}]"#).unwrap();
        let ev = Event::Sent {
            id: None,
            frame: f,
            auto: true,
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
    fn multi_line_payloads_are_compacted() {
        assert_eq!(
            display_json("{\n  \"a\": \"x\\ny\",\n\t\"b\": [1,\r\n 2]\n}"),
            "{  \"a\": \"x\\ny\",\"b\": [1, 2]}"
        );
        assert!(matches!(display_json("{\"a\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_controls_inside_payload_strings_are_escaped_as_json() {
        let raw_payload = "{\"a\":\"x\u{9b}31mRED\u{202e}evil\u{7f}\"}";
        let shown = display_json(raw_payload);
        assert_eq!(shown, "{\"a\":\"x\\u009b31mRED\\u202eevil\\u007f\"}");
        let a: serde_json::Value = serde_json::from_str(raw_payload).unwrap();
        let b: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(a, b, "the same JSON value");
        assert!(matches!(display_json("{\"a\":\"żółw\"}"), Cow::Borrowed(_)));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("a\nb", 10), "a\\nb");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("żółw", 4), "żółw");
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
    fn formats_rfc3339_utc_with_millis() {
        let mut s = String::new();
        rfc3339(
            UNIX_EPOCH + Duration::from_millis(1_795_807_504_123),
            &mut s,
        );
        assert_eq!(s, "2026-11-27T19:25:04.123Z");
        s.clear();
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), &mut s);
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_clock_has_milliseconds() {
        let mut s = String::new();
        clock(
            UNIX_EPOCH + Duration::from_millis(1_795_807_504_123),
            &mut s,
        );
        assert_eq!(s, "19:25:04.123");
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
}

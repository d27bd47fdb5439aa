//! The renderer for people: one line per event (several with `--pretty`
//! or for a listing), coloured when `colored` says so, with the display
//! switches (`--timestamps`, `--pretty`, `--raw`) applied.
//!
//! Everything from the server goes through `output::safe` before it is
//! shown. Payload colours and indentation are `output::jsonfmt`'s; the
//! `status` table and presence lines are `human::status` and
//! `human::presence`'s. The text of an announcement from the runner is
//! the runner's; this file only marks it.

mod presence;
mod status;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use colored::Colorize;
use data_encoding::HEXLOWER;

use crate::core::event::{Event, Status};
use crate::core::packed::Packed;
use crate::core::presence::{Applied, State};
use crate::core::protocol::{Frame, Payload, Side, View, Wire};
use crate::core::session::{
    ChannelState, Expired, Message, MessageKind, Reply, TopicInfo, Transition, Unanswered,
};
use crate::output::clock::clock;
use crate::output::fmt::{
    fmt_latency, fmt_latency_short, fmt_secs, timeout_text, undecodable_message,
};
use crate::output::records::Info;
use crate::output::safe::{clean, display_json};
use crate::output::{Expectation, Render, Style, WaitPass};

/// Binary payloads up to this many bytes are shown in full.
const BINARY_SHOWN: usize = 32;

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders lines for people, as `style` says.
pub struct Human<'a> {
    pub style: &'a Style,
}

fn colour_on() -> bool {
    colored::control::SHOULD_COLORIZE.should_colorize()
}

impl Render for Human<'_> {
    fn event(&self, ev: &Event, out: &mut String) {
        if let Event::Messages(pack) = ev {
            if self.style.display.raw {
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
            self.plain_messages(pack, 0..pack.len(), out, &mut |_, _| false);
            return;
        }
        let start = out.len();
        self.render_event(ev, out);
        self.stamp(start, out);
    }

    fn plain_messages(
        &self,
        pack: &Packed,
        range: Range<usize>,
        out: &mut String,
        seen: &mut dyn FnMut(usize, &View<'_>) -> bool,
    ) -> usize {
        // The flood's usual case: plain lines, no colour, and text that is
        // printable ASCII, so there is nothing to make safe. The line is
        // then the parts as they are, as `plain_message_line` would write
        // them.
        let d = self.style.display;
        let bare = !d.pretty && !d.timestamps && !colour_on();
        let cut_at = self.style.cut_at();
        let range_end = range.end;
        for i in range {
            let v = pack.get(i);
            let broadcast = crate::core::packed::kind(&v) == MessageKind::Broadcast;
            if bare && pack.ascii(i) && v.payload.len() <= cut_at {
                out.push_str("← ");
                out.push_str(v.topic);
                out.push_str(if broadcast { " broadcast " } else { " push " });
                out.push_str(v.event);
                out.push(' ');
                out.push_str(v.payload);
                out.push('\n');
            } else {
                let start = out.len();
                self.plain_message_line(&v, broadcast, out);
                self.stamp(start, out);
            }
            if seen(i, &v) {
                return i + 1;
            }
        }
        range_end
    }

    fn status(&self, st: &Status, url: &str, out: &mut String) {
        status::table(st, url, out);
    }

    fn info(&self, _info: &Info<'_>, text: &str, out: &mut String) {
        note(text, out);
    }

    fn error(&self, message: &str, line: Option<usize>, out: &mut String) {
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

    fn timeout(&self, e: &Expired, line: Option<usize>, hint: bool, out: &mut String) {
        let msg = timeout_text(e, hint);
        let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
        let _ = writeln!(out, "{} {at}{msg}", "timeout:".red().bold());
    }

    fn help(&self, text: &str, out: &mut String) {
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }

    fn expectation(&self, e: &Expectation<'_>, out: &mut String) {
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

    fn wait_passed(&self, w: &WaitPass<'_>, out: &mut String) {
        let _ = writeln!(out, "{} wait {}", "✓".green(), clean(w.expected));
    }

    fn refute_passed(&self, expected: &str, _line: Option<usize>, out: &mut String) {
        let _ = writeln!(out, "{} refute {}", "✓".green(), clean(expected));
    }

    fn let_value(&self, name: &str, value: &str, _line: Option<usize>, out: &mut String) {
        note(&format!("let {name} = {}", clean(value)), out);
    }

    fn unanswered(&self, u: &Unanswered, line: Option<usize>, out: &mut String) {
        unanswered(u, line, out);
    }

    fn presence(&self, applied: &Applied, out: &mut String) {
        presence::changes(applied, out);
    }

    fn presence_list(&self, lists: &[(&str, &State)], out: &mut String) {
        presence::list(lists, out);
    }
}

/// An announcement: `* text`.
/// `text` dimmed, as timestamps are.
pub(super) fn dim(text: &str) -> String {
    text.dimmed().to_string()
}

pub(super) fn note(text: &str, out: &mut String) {
    let _ = writeln!(out, "{} {text}", "*".cyan());
}

impl Human<'_> {
    fn render_event(&self, ev: &Event, out: &mut String) {
        match ev {
            // Announced by the runner, which knows the URL; a failure is
            // the fatal error. `status` is the runner's too.
            // The runner writes these itself.
            Event::Client(_)
            | Event::Connected
            | Event::ConnectFailed(_)
            | Event::Status { .. }
            | Event::NotJoined { .. } => {}
            Event::Sent { frame, cast, .. } => self.sent(frame, *cast, out),
            Event::SentRaw { text, .. } => {
                self.push_sent_line(&format!("→ raw {}", clean(text)), out);
            }
            Event::Rejected { message, .. } => self.error(message, None, out),
            Event::Reply(r) => self.reply(r, out),
            Event::Message(m) => self.message(m, out),
            // Rendered by `event`, a line each; counts are a fan-out's.
            Event::Messages(_) | Event::Counted(_) => {}
            Event::TimedOut(e) => self.timeout(e, None, false, out),
            Event::Unanswered(u) => unanswered(u, None, out),
            Event::Topics { topics, .. } => topics_list(topics, out),
            Event::Undecodable { error, text } => {
                let msg = undecodable_message(error, text);
                let _ = writeln!(out, "{} {msg}", "protocol:".red().bold());
            }
            Event::Closed {
                code,
                reason,
                by_client,
                reported: false,
                ..
            } => closed(*code, reason, *by_client, out),
            Event::Closed { reported: true, .. } => {}
            Event::Disconnected {
                code,
                reason,
                by_client,
            } => closed(*code, reason, *by_client, out),
            Event::Reconnecting {
                attempt,
                delay,
                error,
                repeated,
                first,
            } => reconnecting(*first, *attempt, *delay, error.as_deref(), *repeated, out),
            Event::HeartbeatTimeout { after } => note(
                &format!(
                    "no reply to the heartbeat within {}: the connection is dead, closing it",
                    fmt_secs(*after)
                ),
                out,
            ),
            Event::Rejoining { topic, attempt } => note(
                &format!(
                    "rejoining {} with its join payload (attempt {attempt})",
                    clean(topic)
                ),
                out,
            ),
            Event::ChannelState(t) => channel_state(t, out),
            Event::Queued { topic, until, .. } => queued(topic.as_deref(), until, out),
        }
    }

    /// `--timestamps`: the wall clock before the line(s) from `start`.
    fn stamp(&self, start: usize, out: &mut String) {
        if self.style.display.timestamps && out.len() > start {
            let mut stamp = String::with_capacity(16);
            clock(SystemTime::now(), &mut stamp);
            stamp.push(' ');
            out.insert_str(start, &stamp.dimmed().to_string());
        }
    }

    /// A frame as it travels (`--raw`): its text in the connection's
    /// serializer, or a binary frame's bytes as `hex:…`.
    fn wire(&self, f: &Frame, side: Side, colour: bool) -> String {
        match self.style.vsn.encode(f, side) {
            Ok(Wire::Text(text)) => self.json(&text, colour).into_owned(),
            Ok(Wire::Binary(data)) => {
                format!("binary {}", human_payload(&Payload::Binary(data)))
            }
            Err(_) => self.json(&f.encode(), colour).into_owned(),
        }
    }

    /// A JSON payload: safe, then coloured and indented as set.
    fn json<'a>(&self, text: &'a str, colour: bool) -> Cow<'a, str> {
        let cut_at = self.style.cut_at();
        if text.len() > cut_at {
            // Cut before it is made safe and coloured, so no escape is
            // left open: each coloured token carries its own reset.
            let shown = &text[..floor_char_boundary(text, cut_at)];
            let mut s = self.json(shown, colour).into_owned();
            let _ = write!(
                s,
                " … ({} more bytes; display full on)",
                text.len() - shown.len()
            );
            return Cow::Owned(s);
        }
        let safe = display_json(text);
        let colour = colour && colour_on();
        let d = self.style.display;
        if !colour && !d.pretty {
            return safe;
        }
        Cow::Owned(crate::output::jsonfmt::render(
            &safe,
            d.pretty && !d.raw,
            colour,
        ))
    }

    /// `human_payload`, with JSON coloured and indented as set.
    fn payload<'a>(&self, p: &'a Payload, colour: bool) -> Cow<'a, str> {
        match p {
            Payload::Json(j) => self.json(j.get(), colour),
            other => human_payload(other),
        }
    }

    fn sent(&self, f: &Frame, cast: bool, out: &mut String) {
        // An echo dimmed at the prompt is not coloured: colour resets would undo the dimming.
        let colour = !self.style.dim_sent;
        if self.style.display.raw {
            let line = format!("→ {}", self.wire(f, Side::Client, colour));
            self.push_sent_line(&line, out);
            return;
        }
        let mut line = format!(
            "→ {} {} {}",
            clean(&f.topic),
            clean(&f.event),
            self.payload(&f.payload, colour)
        );
        match &f.ref_ {
            Some(r) if cast => {
                let _ = write!(line, "  (ref {}, cast)", clean(r));
            }
            Some(r) => {
                let _ = write!(line, "  (ref {})", clean(r));
            }
            None => {}
        }
        self.push_sent_line(&line, out);
    }

    fn push_sent_line(&self, line: &str, out: &mut String) {
        if self.style.dim_sent {
            let _ = writeln!(out, "{}", line.dimmed());
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }

    fn reply(&self, r: &Reply, out: &mut String) {
        let f = &r.frame;
        if self.style.display.raw {
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
        out.push_str(&self.payload(&r.response, true));
        out.push('\n');
    }

    /// A push or broadcast with a JSON payload from a channel's current
    /// instance, without the timestamp: written straight into `out`, with
    /// no temporary line and no colour objects when colour is off.
    fn plain_message_line(&self, v: &View<'_>, broadcast: bool, out: &mut String) {
        out.push_str("← ");
        out.push_str(&clean(v.topic));
        out.push_str(if broadcast { " broadcast " } else { " push " });
        push_bold(out, &clean(v.event));
        out.push(' ');
        out.push_str(&self.json(v.payload, true));
        out.push('\n');
    }

    fn message(&self, m: &Message, out: &mut String) {
        let f = &m.frame;
        if let Payload::Json(payload) = &f.payload
            && !m.stale
            && matches!(m.kind, MessageKind::Push | MessageKind::Broadcast)
            && !self.style.display.raw
        {
            let v = f.view(payload.get());
            self.plain_message_line(&v, m.kind == MessageKind::Broadcast, out);
            return;
        }
        if self.style.display.raw {
            let line = format!("← {}", self.wire(f, Side::Server, !m.stale));
            if m.stale {
                let _ = writeln!(out, "{}", line.dimmed());
            } else {
                let _ = writeln!(out, "{line}");
            }
            return;
        }
        let topic = clean(&f.topic);
        let payload = self.payload(&f.payload, !m.stale);
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
}

fn reconnecting(
    first: bool,
    attempt: u32,
    delay: Duration,
    error: Option<&str>,
    repeated: bool,
    out: &mut String,
) {
    let verb = if first { "retrying" } else { "reconnecting" };
    let mut text = format!("{verb} in {} (attempt {attempt})", fmt_latency_short(delay));
    match error {
        Some(_) if repeated => text.push_str("; the last attempt failed the same way"),
        Some(e) => {
            let _ = write!(text, "; the last attempt failed: {}", clean(e));
        }
        None => {}
    }
    note(&text, out);
}

fn queued(topic: Option<&str>, until: &str, out: &mut String) {
    let text = match (until, topic) {
        ("offline", Some(t)) => format!(
            "not connected: queued until the connection is back and {} has joined",
            clean(t)
        ),
        ("offline", None) => "not connected: queued until the connection is back".to_owned(),
        (_, Some(t)) => format!("{} is not joined yet: queued until it has joined", clean(t)),
        (_, None) => "the topic is not joined yet: queued until it has joined".to_owned(),
    };
    note(&text, out);
}

fn channel_state(t: &Transition, out: &mut String) {
    // Only what the frames do not already say: that an errored channel
    // will come back, and when, or that a channel left while offline will
    // not.
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

fn unanswered(u: &Unanswered, line: Option<usize>, out: &mut String) {
    let what = match u.because {
        "phx_error" => "the channel crashed",
        "disconnected" => "the connection dropped",
        _ => "the channel closed",
    };
    let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
    let text = format!(
        "{at}no reply to {} on {} (ref {}): {what}",
        clean(&u.event),
        clean(&u.topic),
        clean(&u.ref_)
    );
    note(&text, out);
}

fn topics_list(topics: &[TopicInfo], out: &mut String) {
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

fn closed(code: Option<u16>, reason: &str, by_client: bool, out: &mut String) {
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
    if by_client {
        note(&text, out);
    } else {
        let _ = writeln!(out, "{} {}", "*".red(), text.red());
    }
}

/// Appends `s` in bold, or as it is when colour is off.
fn push_bold(out: &mut String, s: &str) {
    if colour_on() {
        let _ = write!(out, "{}", s.bold());
    } else {
        out.push_str(s);
    }
}

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

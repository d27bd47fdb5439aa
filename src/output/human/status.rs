//! The `status` report for people: the connection, the heartbeat and each
//! topic, as a short table. The same facts as a record are
//! `output::ndjson`'s; the numbers come from the network thread.

use std::fmt::Write as _;
use std::time::Duration;

use crate::core::event::Status;
use crate::core::session::HeartbeatStats;
use crate::output::fmt::{fmt_latency, fmt_latency_short, fmt_uptime};
use crate::output::human::human_payload;
use crate::output::safe::clean;

/// Appends the table for `st`; `url` is the one shown for the connection.
pub fn table(st: &Status, url: &str, out: &mut String) {
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
        None if url.contains("/longpoll") => "off (long-poll sends none)".to_owned(),
        None => "off (--heartbeat 0)".to_owned(),
        Some(every) => heartbeat(every, &st.heartbeat),
    };
    let _ = writeln!(out, "  heartbeat   {beat}");
    topics(st, out);
}

/// The heartbeat's line, when one is sent `every` so often.
fn heartbeat(every: Duration, hb: &HeartbeatStats) -> String {
    let rtt = match (hb.last_rtt, hb.waiting) {
        (Some(d), _) => format!("last round trip {}, ", fmt_latency(d)),
        // The wait below says it.
        (None, Some(w)) if w >= Duration::from_secs(1) => String::new(),
        (None, _) => "no reply yet, ".to_owned(),
    };
    // "Missed" is a heartbeat timeout: no reply by the time the next beat
    // was due while nothing else arrived either, so the connection was
    // closed as dead. Beats let pass while frames kept arriving are the
    // wait below, not this count.
    let missed = match hb.missed {
        0 => "0 missed".to_owned(),
        1 => "1 missed (the connection was closed as dead for it)".to_owned(),
        n => format!("{n} missed (each closed the connection as dead)"),
    };
    let mut line = format!("every {}, {rtt}{missed}", fmt_latency_short(every));
    // A reply normally comes within milliseconds: say when one is slow,
    // and when it is overdue but let pass because frames keep arriving.
    match hb.waiting {
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

/// A topic's join payload; a LiveView's signed tokens (hundreds of bytes
/// each, of no use to read) shortened to their start and size.
fn topic_payload(topic: &str, payload: &crate::core::protocol::Payload) -> String {
    const KEEP: usize = 12;
    let parsed = topic
        .starts_with("lv:")
        .then(|| payload.json())
        .flatten()
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j.get()).ok());
    let Some(mut v) = parsed else {
        return human_payload(payload).into_owned();
    };
    for key in ["session", "static"] {
        if let Some(serde_json::Value::String(s)) = v.get_mut(key)
            && s.len() > KEEP + 8
        {
            let head: String = s.chars().take(KEEP).collect();
            *s = format!("{head}…({} bytes)", s.len());
        }
    }
    clean(&v.to_string()).into_owned()
}

/// A line per topic, names padded to one width.
fn topics(st: &Status, out: &mut String) {
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
            topic_payload(&t.topic, &t.payload)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_liveviews_tokens_are_shortened_and_other_payloads_kept() {
        let long = "SFMyNTY.g2gDaAJhBXQAAAAIZAACaWRtAAAAFHBoeC1GM1pmNlE4";
        let text = format!(r#"{{"session":"{long}","static":null,"url":"http://h/c"}}"#);
        let payload: crate::core::protocol::Payload = crate::core::protocol::raw(text).into();
        assert_eq!(
            topic_payload("lv:phx-1", &payload),
            format!(
                r#"{{"session":"SFMyNTY.g2gD…({} bytes)","static":null,"url":"http://h/c"}}"#,
                long.len()
            )
        );
        assert!(topic_payload("room:1", &payload).contains(long));
    }
}

//! The `--json` renderer: each event, answer and announcement becomes one
//! of the records in `output::records`, one line each.
//!
//! This file only decides which record and fills it from borrowed parts;
//! the encoding (and terminal safety of what is encoded) is
//! `output::encode`'s. Nothing here is coloured or depends on the display
//! switches, which are for people.

use std::ops::Range;

use serde_json::{Map, Value};

use crate::core::event::{Event, Status};
use crate::core::packed::Packed;
use crate::core::presence::{Applied, Change, State};
use crate::core::protocol::{Frame, View};
use crate::core::session::{Expired, Message as PhxMessage, Reply, Transition, Unanswered};
use crate::output::clock;
use crate::output::fmt::{timeout_text, undecodable_message};
use crate::output::records::{self as rec, Info, Ms, Notice, Payload};
use crate::output::{Expectation, Render, WaitPass};

/// Renders NDJSON records.
pub struct Ndjson;

impl Render for Ndjson {
    fn event(&self, ev: &Event, out: &mut String) {
        match ev {
            // The runner says these (it knows the URL), or they are fatal.
            Event::Client(_)
            | Event::Connected
            | Event::ConnectFailed(_)
            | Event::Status { .. }
            | Event::NotJoined { .. }
            // Only a fan-out asks for counts, and it does not print them.
            | Event::Counted(_) => {}
            Event::Sent { frame, cast, .. } => sent(frame, *cast, out),
            Event::SentRaw { text, .. } => rec::push(out, &rec::SentRaw { raw: text }),
            Event::Rejected { message, .. } => self.error(message, None, out),
            Event::Reply(r) => reply(r, out),
            Event::Message(m) => message(m, out),
            Event::Messages(pack) => {
                self.plain_messages(pack, 0..pack.len(), out, &mut |_, _| false);
            }
            Event::TimedOut(e) => self.timeout(e, None, false, out),
            Event::Unanswered(u) => self.unanswered(u, None, out),
            Event::Topics { topics, .. } => notice(
                out,
                Notice::Topics {
                    topics: rec::Topics(topics),
                },
            ),
            Event::Undecodable { error, text } => {
                let msg = undecodable_message(error, text);
                rec::push(out, &rec::Protocol::new(&msg, text));
            }
            Event::Closed { reported: true, .. } => {}
            Event::Closed {
                code,
                reason,
                by_client,
                ..
            }
            | Event::Disconnected {
                code,
                reason,
                by_client,
            } => notice(
                out,
                Notice::Disconnected {
                    code: *code,
                    reason,
                    by_client: *by_client,
                },
            ),
            Event::Reconnecting {
                attempt,
                delay,
                error,
                ..
            } => notice(
                out,
                Notice::Reconnecting {
                    attempt: *attempt,
                    delay_ms: delay.as_millis(),
                    error: error.as_deref(),
                },
            ),
            Event::HeartbeatTimeout { after } => notice(
                out,
                Notice::HeartbeatTimeout {
                    after_ms: Ms(*after),
                },
            ),
            Event::Rejoining { topic, attempt } => notice(
                out,
                Notice::Rejoining {
                    topic,
                    attempt: *attempt,
                },
            ),
            Event::ChannelState(t) => channel_state(t, out),
            Event::Queued { topic, until, .. } => notice(
                out,
                Notice::Queued {
                    topic: topic.as_deref(),
                    until,
                },
            ),
        }
    }

    fn plain_messages(
        &self,
        pack: &Packed,
        range: Range<usize>,
        out: &mut String,
        seen: &mut dyn FnMut(usize, &View<'_>) -> bool,
    ) -> usize {
        // Written in one go: one reading of the clock serves them all.
        let now = clock::with_now(str::to_owned);
        let range_end = range.end;
        for i in range {
            let v = pack.get(i);
            plain_message(&v, &now, out);
            if seen(i, &v) {
                return i + 1;
            }
        }
        range_end
    }

    fn status(&self, st: &Status, url: &str, out: &mut String) {
        let state = match (st.up, st.next_attempt) {
            (Some(_), _) => "connected",
            (None, Some(_)) if !st.first => "reconnecting",
            (None, _) => "connecting",
        };
        let status = rec::Status {
            state,
            url,
            uptime_ms: st.up.map(Ms),
            session_ms: Ms(st.session),
            reconnects: st.reconnects,
            reconnect_attempt: st.next_attempt.map(|(n, _)| n),
            reconnect_in_ms: st.next_attempt.map(|(_, d)| Ms(d)),
            heartbeat_interval_ms: st.heartbeat_interval.map(Ms),
            heartbeat_rtt_ms: st.heartbeat.last_rtt.map(Ms),
            heartbeats_missed: st.heartbeat.missed,
            heartbeat_waiting_ms: st.heartbeat.waiting.map(Ms),
            topics: rec::StatusTopics(&st.topics),
        };
        notice(out, Notice::Status(status));
    }

    fn info(&self, info: &Info<'_>, _text: &str, out: &mut String) {
        rec::push(out, info);
    }

    fn error(&self, message: &str, line: Option<usize>, out: &mut String) {
        rec::push(out, &rec::Error { message, line });
    }

    fn timeout(&self, e: &Expired, line: Option<usize>, hint: bool, out: &mut String) {
        let msg = timeout_text(e, hint);
        let mut record = rec::Timeout::new(&msg, &e.ref_, &e.topic, &e.event);
        record.line = line;
        rec::push(out, &record);
    }

    fn help(&self, text: &str, out: &mut String) {
        notice(out, Notice::Help { text });
    }

    fn expectation(&self, e: &Expectation<'_>, out: &mut String) {
        if e.passed {
            notice(
                out,
                Notice::ExpectPassed {
                    line: e.line,
                    expected: e.expected,
                },
            );
        } else {
            let failed = rec::ExpectFailed::new(e.summary, e.line, e.expected, e.got, e.detail);
            rec::push(out, &failed);
        }
    }

    fn wait_passed(&self, w: &WaitPass<'_>, out: &mut String) {
        notice(
            out,
            Notice::WaitPassed(rec::WaitPassed {
                line: w.line,
                expected: w.expected,
                topic: w.topic,
                awaited: w.event,
                payload: Payload::Json(w.payload),
            }),
        );
    }

    fn refute_passed(&self, expected: &str, line: Option<usize>, out: &mut String) {
        notice(out, Notice::RefutePassed { line, expected });
    }

    fn let_value(&self, name: &str, value: &str, line: Option<usize>, out: &mut String) {
        notice(out, Notice::Let { line, name, value });
    }

    fn unanswered(&self, u: &Unanswered, line: Option<usize>, out: &mut String) {
        notice(
            out,
            Notice::Unanswered {
                ref_: &u.ref_,
                topic: &u.topic,
                request: &u.event,
                reason: u.because,
                line,
            },
        );
    }

    fn presence(&self, applied: &Applied, out: &mut String) {
        // Keyed maps with the keys in order, as the entries' own objects.
        let mut joins = Map::new();
        let mut leaves = Map::new();
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
        let (joins, leaves) = (
            Value::Object(joins).to_string(),
            Value::Object(leaves).to_string(),
        );
        let diff = rec::PresenceDiff {
            topic: &applied.topic,
            joins: Payload::Json(&joins),
            leaves: Payload::Json(&leaves),
        };
        rec::push(out, &diff);
    }

    fn presence_list(&self, lists: &[(&str, &State)], out: &mut String) {
        for (topic, state) in lists {
            let value: Map<String, Value> = state
                .iter()
                .map(|(k, e)| (k.clone(), e.to_value()))
                .collect();
            let value = Value::Object(value).to_string();
            let state = rec::PresenceState {
                topic,
                state: Payload::Json(&value),
            };
            rec::push(out, &state);
        }
    }
}

fn notice(out: &mut String, n: Notice<'_>) {
    rec::push(out, &n);
}

fn sent(f: &Frame, cast: bool, out: &mut String) {
    let sent = rec::Sent {
        join_ref: f.join_ref.as_deref(),
        ref_: f.ref_.as_deref(),
        topic: &f.topic,
        event: &f.event,
        payload: Payload::from(&f.payload),
        cast,
    };
    rec::push(out, &sent);
}

fn reply(r: &Reply, out: &mut String) {
    let f = &r.frame;
    let reply = rec::Reply {
        join_ref: f.join_ref.as_deref(),
        ref_: f.ref_.as_deref(),
        topic: &f.topic,
        status: r.status.as_deref(),
        response: Payload::from(&r.response),
        request: r.request.as_deref(),
        latency_ms: r.latency.map(Ms),
        late: r.late,
    };
    rec::push(out, &reply);
}

/// A push or broadcast with a JSON payload: most of a flood, written
/// straight from the frame's text.
fn plain_message(v: &View<'_>, now: &str, out: &mut String) {
    let m = rec::Message {
        join_ref: v.join_ref,
        ref_: v.ref_,
        topic: v.topic,
        event: v.event,
        payload: Payload::Json(v.payload),
        stale: false,
    };
    rec::push_at(out, &m, now);
}

fn message(m: &PhxMessage, out: &mut String) {
    let f = &m.frame;
    let record = rec::Message {
        join_ref: f.join_ref.as_deref(),
        ref_: f.ref_.as_deref(),
        topic: &f.topic,
        event: &f.event,
        payload: Payload::from(&f.payload),
        stale: m.stale,
    };
    rec::push(out, &record);
}

fn channel_state(t: &Transition, out: &mut String) {
    notice(
        out,
        Notice::ChannelState {
            topic: &t.topic,
            from: t.from.map(|f| f.as_str()),
            to: t.to.as_str(),
            why: t.why,
            rejoin_in_ms: t.rejoin_in.map(|d| d.as_millis()),
        },
    );
}

//! What each network event does: it is recorded, fed to completion,
//! printed (unless muted), followed for presence, and then moves the step,
//! the checks and the tally along.
//!
//! Batches arrive whole (`Input::Net`); packed messages (most of a flood)
//! take a shorter path when nothing but printing and `wait` needs them.
//! Rendering is `output`'s; the connection's own events are `link`'s.

use super::Runner;
use super::checks::LastReply;
use super::flow::Step;
use super::link::ReconnectLine;
use super::screen::FLUSH_AT;
use crate::core::event::{Event, Status};
use crate::core::packed::Packed;
use crate::core::protocol::{Frame, PHX_JOIN, Payload};
use crate::core::session::{Expired, Message as PhxMessage, MessageKind, Reply, Unanswered};
use crate::lang::vocab::Word;

/// `room:lobyy is not joined (joined: room:lobby); did you mean `room:lobby`?`
fn not_joined_text(topic: &str, joined: &[String], suggestion: Option<&str>) -> String {
    let mut text = if joined.is_empty() {
        format!("{topic} is not joined (no topic is joined)")
    } else {
        format!("{topic} is not joined (joined: {})", joined.join(", "))
    };
    if let Some(s) = suggestion {
        text.push_str(&format!("; did you mean `{s}`?"));
    }
    text
}

/// Packed messages are printed this many at a time (see `FLUSH_AT`).
const FLUSH_EVERY: usize = 256;

/// Bytes of frames and text a batch may hold on its way back to the
/// network thread (see `Input::Net`); a bigger one is freed here.
const HELD_BYTES: usize = 256 * 1024;

impl Runner {
    /// A batch of network events, in order.
    pub(super) fn on_batch(&mut self, mut events: Vec<Event>) {
        let mut held = 0;
        // A batch begins with the first client's events.
        if self.clients.many {
            self.enter(0);
        }
        for ev in &mut events {
            held += held_len(ev);
            match ev {
                Event::Client(id) => self.enter(*id),
                Event::Messages(pack) => self.on_messages(pack),
                ev => self.on_net(ev),
            }
        }
        // The events go back to the network thread, which drops
        // them when it reuses the batch: memory is then freed by
        // the thread that allocated it, which keeps the two threads
        // from contending for the allocator in a flood. A batch
        // holding much (big frames, a long undecodable one) is freed
        // here instead, so it is not kept on the way back.
        if held > HELD_BYTES {
            events.clear();
        }
        self.net.batch_done(events);
    }

    pub(super) fn on_net(&mut self, ev: &Event) {
        // These are about the connection or a command, not a frame: they
        // are neither recorded nor printed the usual way.
        match ev {
            Event::Connected => return self.on_connected(),
            Event::ConnectFailed(message) => return self.on_connect_failed(message),
            Event::Rejected { id, message } => return self.on_rejected(*id, message),
            Event::NotJoined { topic, joined } => return self.on_not_joined(topic, joined),
            _ => {}
        }
        let rejoin = self.peer.replies.rejoin(ev);
        self.observe(ev, rejoin);
        match ev {
            Event::Sent {
                id: Some(id),
                frame,
                cast,
                ..
            } => self.on_sent(*id, frame, *cast),
            Event::SentRaw { id, .. } | Event::Topics { id, .. } => self.sent(*id),
            Event::Reply(r) => self.on_reply(r, rejoin),
            Event::Message(m) => self.on_message(m),
            Event::TimedOut(e) => self.on_timed_out(e),
            Event::Unanswered(u) => self.on_unanswered(u),
            Event::Disconnected { .. } => self.on_disconnected(),
            Event::Status { id, status } => self.on_status(*id, status),
            Event::Queued { id, .. } => {
                // At the prompt the line is done; a script line waits for
                // the push to go out (or be given up on).
                if self.interactive() {
                    self.sent(*id);
                }
            }
            Event::Closed { lost, .. } => self.on_closed(*lost),
            Event::Sent { id: None, .. }
            // Handled by `on_messages`; counts are a fan-out's.
            | Event::Messages(_)
            | Event::Counted(_)
            | Event::Undecodable { .. }
            | Event::Connected
            | Event::ConnectFailed(_)
            | Event::Rejected { .. }
            | Event::NotJoined { .. }
            | Event::Reconnecting { .. }
            | Event::HeartbeatTimeout { .. }
            | Event::Rejoining { .. }
            | Event::ChannelState(_)
            | Event::Client(_) => {}
        }
    }

    /// A push or cast to a topic that is not joined: a note, with the
    /// joined topic it was likely meant for. It still goes out.
    fn on_not_joined(&mut self, topic: &str, joined: &[String]) {
        let suggestion = crate::lang::command::closest(topic, joined);
        let text = not_joined_text(topic, joined, suggestion);
        self.info(
            crate::output::Info::NotJoined {
                topic,
                joined,
                suggestion,
            },
            &text,
        );
    }

    /// What every event gets before its own handling: it is recorded
    /// (unless it answers an automatic rejoin), fed to completion,
    /// printed, and followed for presence.
    fn observe(&mut self, ev: &Event, rejoin: bool) {
        let is_error =
            matches!(ev, Event::Undecodable { .. }) || matches!(ev, Event::TimedOut(e) if !e.auto);
        if !rejoin {
            self.record_event(ev);
        }
        if self.interactive() {
            self.learn(ev);
        }
        if !rejoin {
            self.report.event(ev);
        }
        // A LiveView's frames are handled (and shown readably) first.
        let live = self.shown_as_live(ev);
        // (A LiveView's muted push is counted there already.)
        let mut hidden = live || self.hidden(ev);
        if let Event::Reconnecting { attempt, delay, .. } = ev
            && !self.settings.style.json
        {
            match self
                .peer
                .link
                .reconnect_line(*attempt, *delay, std::time::Instant::now())
            {
                ReconnectLine::Full => {}
                ReconnectLine::Hidden => hidden = true,
                ReconnectLine::Summary(text) => {
                    hidden = true;
                    let mut s = std::mem::take(&mut self.screen.out);
                    self.settings.style.note(&text, &mut s);
                    self.screen.out = s;
                }
            }
        }
        if !hidden {
            hidden = self.shown_as_gql(ev);
        }
        if !hidden {
            let timeout = match ev {
                Event::TimedOut(e) if !e.auto => Some((e, self.timeout_context(e))),
                _ => None,
            };
            let mut s = std::mem::take(if is_error {
                &mut self.screen.err
            } else {
                &mut self.screen.out
            });
            match (timeout, ev) {
                (Some((e, (line, hint))), _) => {
                    self.report.timeout(e, line, hint);
                    self.settings.style.timeout(e, line, hint, &mut s);
                }
                (None, Event::Unanswered(u)) => {
                    let line = self.awaited_line(&u.ref_);
                    self.settings.style.unanswered(u, line, &mut s);
                }
                (None, _) => self.settings.style.event(ev, &mut s),
            }
            if is_error {
                self.screen.err = s;
                self.flush_errors();
            } else {
                self.screen.out = s;
            }
        }
        // A muted presence message still moves the list, without its lines.
        self.track_presence(ev, hidden);
        if let Event::ChannelState(t) = ev {
            self.gql_channel(t);
            if t.to.is_live() {
                self.peer.topics.insert(t.topic.clone());
            } else {
                self.peer.topics.remove(&t.topic);
            }
        }
        if let Event::ChannelState(t) = ev
            && !t.to.is_live()
            && t.rejoin_in.is_none()
        {
            // Left, closed, or refused: a replay should not join it.
            self.recording.gone(self.clients.active, &t.topic);
        }
    }

    /// GraphQL's frames are shown readably by `runner::gql` instead (unless
    /// `--raw`): a `doc`'s reply, its wait for the control join, and a
    /// subscription's data. True when `ev` is one of them.
    fn shown_as_gql(&mut self, ev: &Event) -> bool {
        if self.settings.style.display.raw && !self.settings.style.json {
            return false;
        }
        match ev {
            Event::Reply(r) => {
                !self.settings.style.json && self.peer.gql.answers(r.frame.ref_.as_deref())
            }
            Event::Queued { id, .. } => self.peer.gql.joining(*id),
            Event::Message(m) => !m.stale && self.gql_data(&m.frame),
            _ => false,
        }
    }

    /// A command could not be sent; reported with the script line it came
    /// from.
    fn on_rejected(&mut self, id: u64, message: &str) {
        let line = match self.step {
            Step::Sending { line, .. } => self.line_label(line),
            _ => None,
        };
        self.peer.replies.rejected(id);
        if let Some(rec) = &mut self.recording.recorder {
            rec.push_rejected(id);
        }
        let message = self.live_rejected(id, message);
        self.error(&message, line);
        self.sent(id);
        self.mark_failed();
    }

    /// Request `id` went out: a scripted line now waits for its reply
    /// (a cast's line is done).
    fn on_sent(&mut self, id: u64, frame: &Frame, cast: bool) {
        self.pending_join_sent(id);
        self.peer.replies.sent(id, frame.ref_.as_deref());
        self.gql_sent(id, frame);
        if let Step::Sending {
            id: want,
            scripted,
            line,
        } = self.step
            && want == id
        {
            self.step = match &frame.ref_ {
                Some(ref_) if scripted && !cast => Step::Reply {
                    client: self.clients.active,
                    ref_: ref_.to_string(),
                    line: self.line_label(line),
                },
                _ => Step::Idle,
            };
        }
    }

    fn on_reply(&mut self, r: &Reply, rejoin: bool) {
        if r.auto {
            return;
        }
        if let Some(ref_) = &r.frame.ref_ {
            self.end_reply_wait(&ref_.clone());
        }
        // A GraphQL result with `errors` is an error reply, whatever its
        // status.
        let is_error = self.gql_reply(r) || r.is_error();
        self.channel_on_a_live_socket(r);
        if r.request.is_some() && !r.late && !rejoin {
            if is_error {
                self.checks.tally.error += 1;
            } else {
                self.checks.tally.ok += 1;
            }
        }
        if let Some(request) = &r.request
            && !r.late
            && !rejoin
            && !r.cast
        {
            let json = r.response.json_value();
            self.keep_value(
                format!("the reply to {request} on {}", r.frame.topic),
                json.get(),
            );
            self.peer.last_reply = Some(LastReply::Reply {
                what: format!("{request} on {}", r.frame.topic),
                status: if is_error && !r.is_error() {
                    Some("error".to_owned())
                } else {
                    r.status.clone()
                },
                response: r.response.json_value().to_raw(),
            });
        }
        if self.settings.fail && is_error {
            self.mark_failed();
        }
        // A reply that answers none of our requests (one to a `raw`
        // frame, say) is a message like any other for `wait`.
        if r.request.is_none() {
            self.saw(&r.frame);
        }
    }

    /// A channel joined on a LiveView client's `/live` socket is refused
    /// as `unmatched topic`: say where channels are.
    fn channel_on_a_live_socket(&mut self, r: &Reply) {
        if self.peer.live.is_none()
            || r.request.as_deref() != Some(PHX_JOIN)
            || !r.is_error()
            || r.frame.topic.starts_with("lv:")
            || !r.response.json_value().get().contains("unmatched topic")
        {
            return;
        }
        let text = format!(
            "{} was sent to this client's LiveView socket, which routes only lv: topics; \
             channels are on the app's socket: `connect NAME ws://HOST/socket`, then `@NAME join {}`",
            r.frame.topic, r.frame.topic
        );
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.note(&text, &mut s);
        self.screen.out = s;
    }

    fn on_message(&mut self, m: &PhxMessage) {
        if self.settings.fail
            && !m.stale
            && matches!(
                m.kind,
                MessageKind::Error | MessageKind::Close { requested: false }
            )
        {
            self.mark_failed();
        }
        // A stale frame is from a channel instance that no longer
        // exists (an earlier join of the topic): it satisfies no
        // `wait`, now or later.
        if !m.stale {
            self.saw(&m.frame);
        }
    }

    /// The script line of the request `ref_`, when a script line awaits
    /// its reply.
    pub(super) fn awaited_line(&self, ref_: &str) -> Option<usize> {
        match &self.step {
            Step::Reply {
                ref_: r,
                line,
                client,
            } if r == ref_ && *client == self.clients.active => *line,
            _ => None,
        }
    }

    /// The script line of a request that timed out, and whether to say
    /// that `cast` may be what it needed: for a push, each time in a
    /// script, once per session at the prompt.
    fn timeout_context(&mut self, e: &Expired) -> (Option<usize>, bool) {
        let line = self.awaited_line(&e.ref_);
        let hint = e.is_push() && (line.is_some() || !self.peer.replies.cast_hinted);
        if hint && line.is_none() {
            self.peer.replies.cast_hinted = true;
        }
        (line, hint)
    }

    fn on_timed_out(&mut self, e: &Expired) {
        if e.auto {
            return;
        }
        self.checks.tally.timed_out += 1;
        self.peer.last_reply = Some(LastReply::Missing {
            what: format!("{} on {}", e.event, e.topic),
            why: "timed out",
        });
        self.end_reply_wait(&e.ref_);
        self.mark_failed();
    }

    fn on_unanswered(&mut self, u: &Unanswered) {
        if u.event == "phx_leave" && self.peer.live.as_ref().is_some_and(|l| l.retired(&u.topic)) {
            // A LiveView left a view behind (its page closed or moved)
            // and the server closed it first: no request of the user's.
            return;
        }
        self.checks.tally.unanswered += 1;
        self.peer.last_reply = Some(LastReply::Missing {
            what: format!("{} on {}", u.event, u.topic),
            why: match u.because {
                "phx_error" => "the channel crashed",
                "disconnected" => "the connection dropped",
                _ => "the channel closed",
            },
        });
        self.end_reply_wait(&u.ref_);
    }

    fn on_status(&mut self, id: u64, status: &Status) {
        // A LiveView's views that a reload or navigation replaced are
        // history, not channels of this page.
        let kept;
        let status = match &self.peer.live {
            Some(live) if status.topics.iter().any(|t| live.retired(&t.topic)) => {
                let mut st = status.clone();
                st.topics.retain(|t| !live.retired(&t.topic));
                kept = st;
                &kept
            }
            _ => status,
        };
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.status(
            status,
            &self.clients.get(self.clients.active).shown_url,
            &mut s,
        );
        self.screen.out = s;
        self.gql_status();
        self.sent(id);
    }

    /// Packed messages from the network thread. Where the runner would only
    /// print them, keep them for `wait` and learn their names for tab
    /// completion (no recording, no mutes, no `--raw`), that is done
    /// straight from the packed text; otherwise each goes the usual way.
    fn on_messages(&mut self, pack: &mut Packed) {
        let style = self.settings.style;
        let plain = self.recording.recorder.is_none()
            && self.peer.gql.subs.is_empty()
            && self.peer.live.is_none()
            && (self.mutes.is_empty() || style.json)
            && (style.json || !style.display.raw);
        if !plain {
            for v in pack.iter() {
                let ev = Event::Message(PhxMessage {
                    frame: v.to_frame(),
                    kind: crate::core::packed::kind(&v),
                    stale: false,
                });
                self.on_net(&ev);
            }
            return;
        }
        // Printed a slice at a time, so the output buffer stays small.
        let mut taken = None;
        let mut at = 0;
        let interactive = self.interactive();
        // The names of the previous message: a flood repeats them.
        let (mut topic, mut event) = (String::new(), String::new());
        while at < pack.len() {
            let to = pack.len().min(at + FLUSH_EVERY);
            let mut out = std::mem::take(&mut self.screen.out);
            // A `wait` that passes stops the run there, so its `✓` line
            // comes right under the message it matched.
            let mut passed = None;
            let next = style.plain_messages(pack, at..to, &mut out, |i, v| {
                if taken.is_none()
                    && matches!(self.step, Step::Waiting(_))
                    && let Some(wait) = self.wait_takes(v)
                {
                    taken = Some(i);
                    let value = wait.value_of(v.topic, v.payload);
                    if self.recording.pending_wait.is_some() {
                        self.recording.took =
                            Some((v.topic.to_owned(), v.event.to_owned(), v.payload.to_owned()));
                    }
                    passed = Some((wait, value));
                }
                if interactive && (v.topic != topic || v.event != event) {
                    topic.clear();
                    topic.push_str(v.topic);
                    event.clear();
                    event.push_str(v.event);
                    if !self.told.has(v.topic, v.event) {
                        self.tell(Word::Seen {
                            topic: v.topic.to_owned(),
                            event: v.event.to_owned(),
                        });
                    }
                }
                passed.is_some()
            });
            self.screen.out = out;
            if let Some((wait, payload)) = passed {
                self.watch_hit(&wait, &payload);
                self.write_pending_wait();
            }
            if self.screen.out.len() >= FLUSH_AT {
                self.flush();
            }
            at = next;
        }
        self.peer.recent.keep(pack, taken);
    }
}

/// About how many bytes an event holds: its frame's strings and payload,
/// a reply's response, the text of a frame that did not decode.
fn held_len(ev: &Event) -> usize {
    fn frame_len(f: &Frame) -> usize {
        let payload = match &f.payload {
            Payload::Json(j) => j.get().len(),
            Payload::Binary(d) => d.len(),
            Payload::BinaryReply { response, .. } => response.len(),
        };
        f.topic.len() + f.event.len() + payload
    }
    match ev {
        Event::Message(m) => frame_len(&m.frame),
        Event::Reply(r) => frame_len(&r.frame) * 2,
        Event::Sent { frame, .. } => frame_len(frame),
        Event::SentRaw { text, .. } | Event::Undecodable { text, .. } => text.len(),
        Event::Messages(pack) => pack.text_len(),
        _ => 0,
    }
}

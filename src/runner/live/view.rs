//! What comes back from a LiveView (docs/PROTOCOL.md §10): the join's
//! answer (the tree, or `stale` and a reload, or a redirect), the diffs of
//! event replies and `diff` pushes, a crash and its rejoin, and
//! navigation. Each is printed readably: the page as lines after a join,
//! one line per change after a diff (from the diff, never by rendering the
//! whole page's text again), or as records with `--json`.

use std::time::Duration;

use serde_json::Value;

use super::fetch::Job;
use crate::core::event::{Event, ToNet};
use crate::core::live::{Rendered, Update, readable};
use crate::core::session::{Message as PhxMessage, MessageKind, Reply};
use crate::output::live as out;
use crate::output::records::{self, Payload};
use crate::runner::Runner;
use crate::runner::flow::Step;

/// Reloads after `stale` in a row before giving up: a rotated secret
/// that the page itself cannot satisfy must not loop forever.
const MAX_RELOADS: u32 = 3;
/// The wait before reload N (1-based) is this times 2^(N-1).
const RELOAD_BACKOFF: Duration = Duration::from_millis(200);

/// The join errors that mean "fetch the page again" (view.js: `stale`,
/// `unauthorized`, and a `reload` reason).
fn needs_reload(reason: &str) -> bool {
    matches!(reason, "stale" | "unauthorized" | "reload")
}

impl Runner {
    /// Whether the live client shows `ev` itself (its raw frame then stays
    /// hidden, unless `--raw`); handles it either way.
    pub(in crate::runner) fn shown_as_live(&mut self, ev: &Event) -> bool {
        let Some(live) = &self.peer.live else {
            return false;
        };
        let topic = live.topic.clone();
        // What is hidden is hidden from people; `--raw` and `--json` show
        // every frame and notice.
        let quiet = !self.settings.style.display.raw && !self.settings.style.json;
        if let Event::Queued { id, topic, .. } = ev {
            // A join that waits for its socket opening (the first of
            // `phx-repl live URL`, or the one after a reload or
            // navigation) is no outage in any format: nothing to say.
            // Nor, to people, is a leave of a view left behind.
            return live.pending_join == Some(*id)
                || (quiet
                    && (live.hushed.contains(id)
                        || topic.as_deref().is_some_and(|t| live.retired(t))));
        }
        if let Event::ChannelState(t) = ev {
            // The views a reload or navigation left (and the refusal
            // that led to a reload, already said) are no news; nor, to
            // people, is a view's crash past its own `◆` line.
            let crashed = t.why == "phx_error" && self.of_page(&t.topic);
            return quiet && (live.retired(&t.topic) || crashed);
        }
        if let Event::Rejoining { topic, .. } = ev {
            // The crash line said the view rejoins.
            return quiet && self.of_page(topic);
        }
        if let Event::Unanswered(u) = ev {
            // A leave of a view left behind, cut short by its close.
            if quiet && u.because == "phx_error" && self.of_page(&u.topic) {
                self.unanswered_by_crash(u);
                return true;
            }
            return quiet && live.retired(&u.topic);
        }
        if matches!(ev, Event::Disconnected { .. } | Event::Reconnecting { .. }) {
            // The socket moving to a new page's tokens: the navigation's
            // own lines say what happens.
            return quiet && live.retargeted;
        }
        if let Event::Message(m) = ev
            && m.stale
            && m.frame.topic.starts_with("lv:")
        {
            // An earlier instance of a view (a nested view closed after
            // its parent crashed): no news to people.
            return quiet;
        }
        // The script line a reply answers goes into the records it causes.
        let answering = match ev {
            Event::Reply(r) => r.frame.ref_.as_deref().and_then(|r| self.awaited_line(r)),
            _ => None,
        };
        // `mute lv:ID` (or `mute diff`) hides a view's pushed changes, as
        // it hides a channel's messages; never in JSON.
        let muted = matches!(ev, Event::Message(m) if !m.stale && m.frame.topic.starts_with("lv:"))
            && self.hidden(ev);
        if let Some(live) = &mut self.peer.live {
            live.answering = answering;
            live.muted = muted;
            // The event command's ref, to name it if a crash leaves it
            // unanswered.
            if let Event::Sent {
                id: Some(id),
                frame,
                ..
            } = ev
                && live.last_event.as_ref().is_some_and(|(e, _)| e == id)
            {
                live.last_event_ref = frame.ref_.as_deref().map(str::to_owned);
            }
        }
        let Some(live) = &self.peer.live else {
            return false;
        };
        let frame_topic = match ev {
            Event::Reply(r) => Some(&*r.frame.topic),
            Event::Message(m) if !m.stale => Some(&*m.frame.topic),
            Event::Sent { frame, .. } => Some(&*frame.topic),
            _ => None,
        };
        if let Some(at) = frame_topic.and_then(|t| self.child_on(t)) {
            match ev {
                Event::Reply(r) => {
                    let response = json_of(&r.response);
                    self.child_reply(at, r.request.as_deref(), &response);
                }
                Event::Message(m) => self.child_message(at, m),
                _ => {}
            }
            return quiet || muted;
        }
        if frame_topic.is_some_and(|t| live.retired(t)) {
            // The view a reload or navigation left: its last frames are
            // no news, unless the frames themselves are asked for.
            return quiet;
        }
        let on_view = frame_topic == Some(topic.as_str());
        if !on_view {
            return false;
        }
        match ev {
            Event::Reply(r) => self.live_reply(r),
            Event::Message(m) => self.live_message(m),
            _ => {}
        }
        quiet || muted
    }

    fn live_reply(&mut self, r: &Reply) {
        let response = json_of(&r.response);
        match r.request.as_deref() {
            Some("phx_join") if r.is_error() => self.join_refused(&response),
            Some("phx_join") => self.joined(&response, r.frame.ref_.as_deref()),
            Some("event") => {
                if let Some(diff) = response.get("diff") {
                    self.apply_diff(diff);
                    self.tell_page();
                }
                self.navigation(&response);
            }
            _ => {}
        }
    }

    /// A push or a crash on a child's topic.
    fn child_message(&mut self, at: usize, m: &PhxMessage) {
        match (m.kind, m.frame.event.as_str()) {
            (MessageKind::Error, _) => self.child_line(
                at,
                "crash",
                "the nested view crashed (phx_error); rejoining",
            ),
            (_, "diff") => self.child_diff(at, &json_of(&m.frame.payload)),
            _ => {}
        }
    }

    fn live_message(&mut self, m: &PhxMessage) {
        let payload = json_of(&m.frame.payload);
        match (m.kind, m.frame.event.as_str()) {
            (MessageKind::Error, _) => self.crashed(),
            (MessageKind::Close { .. }, _) => self.view_closed(),
            (_, "diff") => self.apply_diff(&payload),
            (_, "redirect" | "live_redirect" | "live_patch") => {
                let mut wrapped = serde_json::Map::new();
                wrapped.insert(m.frame.event.to_string(), payload);
                self.navigation(&Value::Object(wrapped));
            }
            _ => {}
        }
    }

    /// The join's ok reply: the tree, and the page as readable lines.
    fn joined(&mut self, response: &Value, answered: Option<&str>) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let rendered = response.get("rendered").cloned().unwrap_or(Value::Null);
        let tree = match Rendered::join(&rendered) {
            Ok((tree, _)) => tree,
            Err(e) => {
                let text = format!("the join's rendered tree cannot be read: {e}");
                self.error(&text, None);
                self.mark_failed();
                return;
            }
        };
        let mounts = live.mounts;
        live.mounts += 1;
        live.reloads = 0;
        // The leaves of the views left behind were held for this socket.
        live.hushed.clear();
        live.version = response
            .get("liveview_version")
            .and_then(Value::as_str)
            .map(str::to_owned);
        live.history.joined(&rendered);
        let html = tree.dead_html();
        live.tree = Some(tree);
        // A fresh tree: its children join afresh.
        live.children.clear();
        let lines = readable::page_lines(&html);
        let view = live.view_id.clone();
        let url = live.page_url.to_string();
        let version = live.version.clone();
        let title = live
            .tree
            .as_ref()
            .and_then(|t| t.title().map(str::to_owned));
        let v = version
            .as_deref()
            .map(|v| format!("LiveView {v}, "))
            .unwrap_or_default();
        let heading = format!("joined lv:{view} at {url} ({v}_mounts {mounts})");
        let record = out::LiveJoin {
            view: &view,
            url: &url,
            version: version.as_deref(),
            mounts,
            title: title.as_deref(),
            lines: &lines,
            line: self.answering_line(),
        };
        let mut s = std::mem::take(&mut self.screen.out);
        if self.settings.style.json {
            records::push(&mut s, &record);
        } else {
            let start = s.len();
            out::page(&heading, &lines, &mut s);
            self.settings.style.stamp(start, false, &mut s);
        }
        self.screen.out = s;
        // As the browser does, the views rendered inside it join too.
        self.join_children(answered);
        self.tell_page();
        self.page_changed();
    }

    /// A diff from a push or an event's reply: merged, and its changes
    /// printed.
    fn apply_diff(&mut self, diff: &Value) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let Some(tree) = &mut live.tree else {
            return;
        };
        let update = match tree.merge(diff) {
            Ok(u) => u,
            Err(e) => {
                let text = format!("a diff cannot be merged ({e}); the page may be out of date");
                self.error(&text, None);
                return;
            }
        };
        live.history.diff(diff);
        let view = live.view_id.clone();
        self.print_update(&view, diff, &update);
        self.page_changed();
    }

    fn print_update(&mut self, view: &str, diff: &Value, update: &Update) {
        if self.peer.live.as_ref().is_some_and(|l| l.muted) {
            return;
        }
        let changes: Vec<String> = update.changes.iter().map(ToString::to_string).collect();
        let events: Vec<(String, Value)> = update
            .events
            .iter()
            .map(|e| (e.name.clone(), e.payload.clone()))
            .collect();
        let mut s = std::mem::take(&mut self.screen.out);
        if self.settings.style.json {
            let text = diff.to_string();
            records::push(
                &mut s,
                &out::LiveDiff {
                    view,
                    diff: Payload::Json(&text),
                    changes: &changes,
                    title: update.title.as_deref(),
                    events: &events,
                    line: self.answering_line(),
                },
            );
        } else {
            let start = s.len();
            out::changes(&changes, update.title.as_deref(), &events, &mut s);
            self.settings.style.stamp(start, true, &mut s);
        }
        self.screen.out = s;
    }

    /// The script line the reply being handled answers, if any.
    pub(super) fn answering_line(&self) -> Option<usize> {
        self.peer.live.as_ref().and_then(|l| l.answering)
    }

    /// The current client's main view id, or "" without a view.
    pub(super) fn live_view_id(&self) -> String {
        self.peer
            .live
            .as_ref()
            .map(|l| l.view_id.clone())
            .unwrap_or_default()
    }

    /// A line about the view, or a `live_nav` record.
    pub(super) fn live_line(&mut self, kind: &str, to: Option<&str>, text: &str) {
        let view = self.live_view_id();
        let mut s = std::mem::take(&mut self.screen.out);
        if self.settings.style.json {
            records::push(
                &mut s,
                &out::LiveNav {
                    view: &view,
                    kind,
                    to,
                    action: text,
                    line: self.answering_line(),
                },
            );
        } else {
            let start = s.len();
            out::line(text, &mut s);
            self.settings.style.stamp(start, false, &mut s);
        }
        self.screen.out = s;
    }

    /// `phx_close` on the main view: part of a navigation under way, or
    /// the page is gone: its nested views are left, as the browser does,
    /// and the page's commands say it closed.
    fn view_closed(&mut self) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        if live.moving || live.closed {
            return;
        }
        self.close_page();
    }

    /// The page is gone (its view closed, or a navigation away from it
    /// failed), as in a browser: its views are left, quietly, and the
    /// page's commands say it closed and how to open it again.
    pub(super) fn close_page(&mut self) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        live.closed = true;
        let path = live.page_url.path().to_owned();
        let main = live.topic.clone();
        self.leave_children();
        if self.peer.topics.contains(&main) {
            // Still joined (a navigation's view the server kept): left
            // like its children.
            let id = self.issue_id();
            if let Some(live) = &mut self.peer.live {
                live.retire(main.clone());
                live.hushed.push(id);
            }
            self.peer.topics.remove(&main);
            let leave = crate::core::session::Request::Leave { topic: Some(main) };
            self.net
                .send_to(self.clients.active, ToNet::Request { id, request: leave });
        }
        let text = format!("the view closed; `live {path}` opens it again");
        self.live_line("close", None, &text);
    }

    /// Whether `topic` is the page's main view or one of its nested views.
    fn of_page(&self, topic: &str) -> bool {
        self.peer.live.as_ref().is_some_and(|l| l.topic == topic) || self.child_on(topic).is_some()
    }

    /// A request a view's crash left unanswered, said as the command that
    /// sent it (`line 2: no reply to click icn: the view crashed`); the
    /// crash line before it said the rest.
    fn unanswered_by_crash(&mut self, u: &crate::core::session::Unanswered) {
        let what = self
            .peer
            .live
            .as_ref()
            .filter(|l| l.last_event_ref.as_deref() == Some(u.ref_.as_str()))
            .and_then(|l| l.last_event.as_ref())
            .map_or_else(|| u.event.clone(), |(_, what)| what.clone());
        let at = self
            .awaited_line(&u.ref_)
            .map(|n| format!("line {n}: "))
            .unwrap_or_default();
        let text = format!("{at}no reply to {what}: the view crashed");
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.note(&text, &mut s);
        self.screen.out = s;
    }

    /// `phx_error`: the view crashed; the session rejoins it with the
    /// next `_mounts`.
    fn crashed(&mut self) {
        let Some(live) = &self.peer.live else {
            return;
        };
        let text = format!(
            "the view crashed (phx_error); rejoining with _mounts {}",
            live.mounts
        );
        self.live_line("crash", None, &text);
    }

    /// A refused join: a reload for `stale`, navigation for a redirect,
    /// else a failure.
    fn join_refused(&mut self, response: &Value) {
        let reason = response.get("reason").and_then(Value::as_str);
        if let Some(reason) = reason
            && needs_reload(reason)
        {
            return self.reload(reason);
        }
        if self.navigation(response) {
            return;
        }
        let text = format!("the view refused the join: {response}");
        self.error(&text, None);
        self.mark_failed();
    }

    /// What a browser's reload does after `stale`: fetch the page again,
    /// reconnect the socket with its new cookie and CSRF token (bound when
    /// the socket connects), and join with its new session, `_mounts` 0
    /// (`fetch.rs` does the rest once the page is back).
    fn reload(&mut self, reason: &str) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        live.reloads += 1;
        let attempt = live.reloads;
        if attempt > MAX_RELOADS {
            let text = format!(
                "the join is still refused ({reason}) after {MAX_RELOADS} reloads of the page; \
                 is the session cookie valid? pass a fresh one with -H 'Cookie: …'"
            );
            self.error(&text, None);
            self.mark_failed();
            return;
        }
        // Its refusal is this reload's business, not a join to retry.
        let topic = live.topic.clone();
        live.retire(topic);
        let Some(fetcher) = live.fetcher.take() else {
            // A fetch is under way already.
            return;
        };
        live.moving = true;
        let (url, opts) = (live.page_url.clone(), live.opts.clone());
        let text = format!(
            "join refused ({reason}): the page's session no longer holds; reloading {url} \
             ({attempt} of {MAX_RELOADS})"
        );
        self.live_line("reload", Some(url.as_str()), &text);
        // A short, growing pause, so a server that refuses every time is
        // not hammered.
        let delay = RELOAD_BACKOFF * 2u32.pow(attempt - 1);
        let job = Job::Reload {
            client: self.clients.active,
        };
        self.fetch_page(job, fetcher, url, opts, delay);
    }

    /// `redirect`, `live_redirect` or `live_patch` in a reply, a push or a
    /// join error; false when `response` holds none.
    fn navigation(&mut self, response: &Value) -> bool {
        let Some((kind, to)) = navigation_in(response) else {
            return false;
        };
        let Some(live) = &mut self.peer.live else {
            return false;
        };
        let Ok(target) = live.page_url.join(&to) else {
            return false;
        };
        match kind {
            "live_patch" => {
                live.page_url = target;
                self.live_line(kind, Some(&to), &format!("live_patch: the URL is now {to}"));
            }
            "redirect" if !live.opts.follow => {
                let text = format!(
                    "the view redirects to {to}; not followed (--follow follows it, or `live {to}`)"
                );
                self.live_line(kind, Some(&to), &text);
            }
            _ => {
                // One step the user asked for: the join there says the rest.
                self.live_line(kind, Some(&to), &format!("{kind} to {to}"));
                self.navigate(&target);
            }
        }
        true
    }

    /// Joins the view at `url` on the same client: its page is fetched
    /// (on a helper thread), the socket moved to its tokens, and its view
    /// joined (`fetch.rs`).
    fn navigate(&mut self, url: &url::Url) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let Some(fetcher) = live.fetcher.take() else {
            return;
        };
        live.moving = true;
        let opts = live.opts.clone();
        let wait = self.wait_for_navigation();
        let job = Job::Navigate {
            client: self.clients.active,
            wait,
        };
        self.fetch_page(job, fetcher, url.clone(), opts, Duration::ZERO);
    }
}

impl Runner {
    /// A script line waiting on this client (for the reply that asked for
    /// the navigation, or one still due when a pushed navigation comes)
    /// now waits for the new view's join instead, as a `live URL` line
    /// does: the next line must not run against the page left behind.
    /// The id the join will be sent under, if a line waits.
    fn wait_for_navigation(&mut self) -> Option<u64> {
        let line = match &self.step {
            Step::Reply { client, line, .. } if *client == self.clients.active => line.unwrap_or(0),
            _ => return None,
        };
        let id = self.issue_id();
        self.step = Step::Sending {
            id,
            line,
            scripted: true,
        };
        Some(id)
    }
}

/// A payload as a JSON value (`null` when it is not JSON).
fn json_of(p: &crate::core::protocol::Payload) -> Value {
    p.json()
        .and_then(|j| serde_json::from_str(j.get()).ok())
        .unwrap_or(Value::Null)
}

/// The navigation a reply, push or join error asks for: its kind and
/// where to (`{"live_redirect": {"to": "/x", "kind": "push"}}`).
fn navigation_in(response: &Value) -> Option<(&'static str, String)> {
    ["live_patch", "live_redirect", "redirect"]
        .into_iter()
        .find_map(|k| Some((k, response.get(k)?.get("to")?.as_str()?.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn navigation_is_found_in_any_of_its_three_shapes() {
        assert_eq!(
            navigation_in(&json!({"live_redirect": {"to": "/b", "kind": "push"}})),
            Some(("live_redirect", "/b".to_owned()))
        );
        assert_eq!(
            navigation_in(&json!({"diff": {}, "redirect": {"to": "/log-in"}})),
            Some(("redirect", "/log-in".to_owned()))
        );
        assert_eq!(
            navigation_in(&json!({"live_patch": {"to": "/c?page=2"}})),
            Some(("live_patch", "/c?page=2".to_owned()))
        );
        assert_eq!(navigation_in(&json!({"diff": {"0": "1"}})), None);
        assert!(needs_reload("stale") && needs_reload("unauthorized"));
        assert!(!needs_reload("join crashed"));
    }
}

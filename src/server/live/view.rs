//! The LiveViews of one `/live` connection, one per joined `lv:` topic,
//! each standing for the process LiveView would run: its assigns, the
//! dynamics it last sent (so a diff carries only what changed), its tick
//! timer, and the chat's PubSub notices (docs/PROTOCOL.md §10).
//!
//! `routes.rs` keeps the channel bookkeeping (join_refs, unmatched
//! topics) and hands joins, events and leaves of `lv:` topics here;
//! `peer.rs` asks for due ticks and passes on chat notices. Frames are
//! built here; the clock is passed in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::chat::{self, Chat, Post};
use super::counter::{self, Counter, NoClause};
use super::demo::{self, Demo, Nav};
use super::diff::{self, Dynamics, Format, Template};
use super::nested::{self, Child};
use super::{CHAT_TOPIC, SessionData, Shared, StaticData, token};
use crate::core::protocol::{self, Frame, Json};

/// How often the counter ticks.
const TICK: Duration = Duration::from_secs(1);

/// How long after `later` the demo navigates (its `Process.send_after`).
const LATER: Duration = Duration::from_millis(100);

/// A view's page and assigns.
#[derive(Debug)]
enum Page {
    Counter(Counter),
    Chat(Chat),
    Child(Child),
    /// A page without events (`/login`, `/private`): its dynamics never
    /// change.
    Fixed(&'static Template, Dynamics),
    /// The demo builds its own trees (`demo.rs`).
    Demo(Box<Demo>),
}

impl Page {
    /// The statics of a page whose trees `diff.rs` builds.
    fn template(&self) -> Option<&'static Template> {
        match self {
            Page::Counter(_) => Some(&counter::TEMPLATE),
            Page::Chat(_) => Some(&chat::TEMPLATE),
            Page::Child(_) => Some(&nested::CHILD),
            Page::Fixed(t, _) => Some(t),
            Page::Demo(_) => None,
        }
    }

    fn render(&self) -> Dynamics {
        match self {
            Page::Counter(c) => c.render(),
            Page::Chat(c) => c.render(),
            Page::Child(c) => c.render(),
            Page::Fixed(_, d) => d.clone(),
            Page::Demo(_) => Vec::new(),
        }
    }

    /// The join's `rendered` tree and what the client has after it.
    fn join_tree(&mut self, format: Format) -> (String, Dynamics) {
        match (self.template(), self) {
            (_, Page::Demo(d)) => (d.join_tree(format), Vec::new()),
            (Some(t), page) => diff::rendered(format, t, &page.render()),
            (None, _) => unreachable!("only the demo has no template"),
        }
    }
}

/// One joined view.
#[derive(Debug)]
struct View {
    join_ref: Option<String>,
    page: Page,
    /// What the client has: the dynamics of the join, with every diff since.
    sent: Dynamics,
    /// The next tick of a counter; `None` until the first [`Views::due`]
    /// after the join schedules it.
    next_tick: Option<Instant>,
    /// The demo's navigation after `later`: `Some(None)` until the next
    /// [`Views::due`] schedules it.
    navigate_at: Option<Option<Instant>>,
}

impl View {
    /// Renders the assigns and returns the diff from what was sent, which
    /// now counts as sent.
    fn rerender(&mut self, format: Format) -> Option<String> {
        let Some(template) = self.page.template() else {
            return match &mut self.page {
                Page::Demo(d) => d.diff(),
                _ => None,
            };
        };
        let now = self.page.render();
        let (out, client) = diff::diff(format, template, &self.sent, &now);
        self.sent = client;
        out
    }
}

/// What handling an event produced.
#[derive(Debug, Default)]
pub struct Handled {
    /// To send, in order.
    pub frames: Vec<Frame>,
    /// The view is gone: it crashed, or stopped after a redirect.
    pub stopped: bool,
    /// Tell other connections' views on this registry topic.
    pub publish: Option<&'static str>,
}

/// The join payload's fields that matter here.
#[derive(serde::Deserialize)]
struct JoinPayload {
    url: Option<String>,
    session: Option<String>,
    #[serde(rename = "static")]
    static_token: Option<String>,
}

/// The LiveViews of one connection.
pub struct Views {
    shared: Arc<Shared>,
    /// The upgrade's (or long-poll open's) `Cookie` header.
    cookie: Option<String>,
    /// The `_csrf_token` connect param.
    csrf_token: Option<String>,
    views: HashMap<String, View>,
    /// Topics whose views stopped on their own (a timer's navigation),
    /// for `routes.rs` to forget.
    ended: Vec<String>,
    /// Whether the connection is subscribed to [`CHAT_TOPIC`], and whether
    /// that subscription still has to be made.
    subscribed: bool,
    subscribe_pending: bool,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("views", &self.views)
            .field("subscribed", &self.subscribed)
            .finish_non_exhaustive()
    }
}

impl Views {
    pub fn new(shared: Arc<Shared>, cookie: Option<String>, csrf_token: Option<String>) -> Views {
        Views {
            shared,
            cookie,
            csrf_token,
            views: HashMap::new(),
            ended: Vec::new(),
            subscribed: false,
            subscribe_pending: false,
        }
    }

    fn format(&self) -> Format {
        self.shared.format
    }

    /// Joins `frame.topic` (replacing a view already there): the ok
    /// reply's response, or the error's reason.
    pub fn join(&mut self, frame: &Frame, join_ref: Option<&str>) -> Result<String, &'static str> {
        self.views.remove(frame.topic.as_str());
        let page = self.check_join(frame).ok_or("stale")?;
        if matches!(page, Page::Chat(_)) && !self.subscribed {
            self.subscribed = true;
            self.subscribe_pending = true;
        }
        let mut page = page;
        let (rendered, sent) = page.join_tree(self.format());
        self.views.insert(
            frame.topic.to_string(),
            View {
                join_ref: join_ref.map(str::to_owned),
                page,
                sent,
                next_tick: None,
                navigate_at: None,
            },
        );
        let mut response = String::from("{\"liveview_version\":");
        protocol::push_json_str(&mut response, self.format().version());
        response.push_str(",\"rendered\":");
        response.push_str(&rendered);
        response.push('}');
        Ok(response)
    }

    /// The cookie, the CSRF token and the session (and static, if sent)
    /// must all check out; then the view is mounted.
    fn check_join(&self, frame: &Frame) -> Option<Page> {
        let payload: JoinPayload = serde_json::from_str(frame.payload.json()?.get()).ok()?;
        let secret = self.shared.cookie_secret(self.cookie.as_deref())?;
        if !token::unmasks_to(self.csrf_token.as_deref()?, &secret) {
            return None;
        }
        let signer = self.shared.signer();
        let session: SessionData = serde_json::from_str(&signer.verify(&payload.session?)?).ok()?;
        if frame.topic.strip_prefix("lv:") != Some(session.id.as_str()) {
            return None;
        }
        if let Some(st) = payload.static_token {
            let st: StaticData = serde_json::from_str(&signer.verify(&st)?).ok()?;
            if st.id != session.id {
                return None;
            }
        }
        let url = payload.url.as_deref().and_then(|u| url::Url::parse(u).ok());
        match session.view.as_str() {
            "counter" => Some(Page::Counter(Counter::mount())),
            "chat" => {
                let from_url = url
                    .and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "user")
                            .map(|(_, v)| v.into_owned())
                    })
                    .filter(|u| !u.is_empty());
                let user = from_url.or(session.user)?;
                Some(Page::Chat(Chat::mount(user, self.shared.messages())))
            }
            "demo" => {
                // The connected render signs the nested view a session of
                // its own, naming this view as its parent.
                let child = signer.sign(&json_of(&SessionData {
                    id: demo::CHILD_ID.to_owned(),
                    view: "child".to_owned(),
                    user: None,
                    parent: Some(session.id.clone()),
                }));
                let container = demo::child_container(&session.id, &child);
                let query = url.as_ref().and_then(url::Url::query);
                Some(Page::Demo(Box::new(Demo::mount(query, container))))
            }
            "child" if session.parent.is_some() => Some(Page::Child(Child::default())),
            "login" => Some(Page::Fixed(&nested::LOGIN, Vec::new())),
            "private" => {
                let user = session.user?;
                Some(Page::Fixed(
                    &nested::PRIVATE,
                    nested::private_dynamics(&user),
                ))
            }
            _ => None,
        }
    }

    /// The chat subscription to make, once.
    pub fn take_subscription(&mut self) -> Option<&'static str> {
        std::mem::take(&mut self.subscribe_pending).then_some(CHAT_TOPIC)
    }

    /// The registry topic this connection subscribed to, if any.
    pub fn subscription(&self) -> Option<&'static str> {
        self.subscribed.then_some(CHAT_TOPIC)
    }

    /// `phx_leave`: the view stops, `phx_close`, then the ok reply.
    pub fn leave(&mut self, frame: &Frame, join_ref: Option<&str>) -> Vec<Frame> {
        self.views.remove(frame.topic.as_str());
        let topic = frame.topic.as_str();
        vec![close(join_ref, topic), reply(join_ref, frame, "{}")]
    }

    /// An `event` (or any other message) on a joined view.
    pub fn event(&mut self, frame: &Frame, join_ref: Option<&str>) -> Handled {
        let format = self.format();
        let Some(view) = self.views.get_mut(frame.topic.as_str()) else {
            return Handled::default();
        };
        let event = (frame.event == "event")
            .then(|| frame.payload.json())
            .flatten()
            .and_then(|j| serde_json::from_str::<Value>(j.get()).ok());
        let name = event.as_ref().and_then(|e| e["event"].as_str());
        let (Some(event), Some(name)) = (&event, name) else {
            return self.crash(frame, join_ref);
        };
        let cid = event.get("cid").and_then(Value::as_u64);
        let mut handled = Handled::default();
        let outcome = dispatch(
            &mut view.page,
            &self.shared,
            cid,
            name,
            &event["value"],
            &mut handled.publish,
        );
        let nav = match outcome {
            Err(NoClause) => return self.crash(frame, join_ref),
            // No component has this cid: LiveView replies `{}`, as for a
            // component just removed.
            Ok(None) => {
                handled.frames.push(reply(join_ref, frame, "{}"));
                return handled;
            }
            Ok(Some(nav)) => nav,
        };
        if nav == Nav::Later {
            view.navigate_at = Some(None);
        }
        let diff = view.rerender(format);
        if answer(nav, diff, frame, join_ref, &mut handled.frames) {
            handled.stopped = true;
            self.views.remove(frame.topic.as_str());
            return handled;
        }
        if handled.publish.is_some() {
            // This connection's other chat views hear of it here: the
            // registry skips the sender's connection.
            handled
                .frames
                .extend(self.refresh_chats(Some(&frame.topic)));
        }
        handled
    }

    /// The view dies: `phx_error` with the channel's join_ref, no reply.
    fn crash(&mut self, frame: &Frame, join_ref: Option<&str>) -> Handled {
        self.views.remove(frame.topic.as_str());
        let payload = match self.format() {
            Format::V0_20 => "{}",
            Format::V1_1 => "{\"reason\":\"channel_crash\"}",
        };
        Handled {
            frames: vec![Frame::new(
                join_ref,
                join_ref,
                &frame.topic,
                protocol::PHX_ERROR,
                protocol::raw(payload.to_owned()),
            )],
            stopped: true,
            publish: None,
        }
    }

    /// A registry notice for `topic`: the diffs it causes, or `None` when
    /// the topic is not one of ours.
    pub fn notice(&mut self, topic: &str) -> Option<Vec<Frame>> {
        (topic == CHAT_TOPIC).then(|| self.refresh_chats(None))
    }

    /// Every chat view but `except` takes the room as it is now and pushes
    /// what changed.
    fn refresh_chats(&mut self, except: Option<&str>) -> Vec<Frame> {
        let messages = self.shared.messages();
        let format = self.format();
        let mut out = Vec::new();
        for (topic, view) in &mut self.views {
            if Some(topic.as_str()) == except {
                continue;
            }
            if let Page::Chat(c) = &mut view.page {
                c.refresh(messages.clone());
                if let Some(d) = view.rerender(format) {
                    out.push(push_diff(view.join_ref.as_deref(), topic, d));
                }
            }
        }
        out
    }

    /// Runs the ticks due at `now` (and schedules those of new views): the
    /// diffs they push.
    pub fn due(&mut self, now: Instant) -> Vec<Frame> {
        let format = self.format();
        let mut out = Vec::new();
        let mut ended = Vec::new();
        for (topic, view) in &mut self.views {
            let jr = view.join_ref.as_deref();
            match view.navigate_at {
                Some(None) => view.navigate_at = Some(Some(now + LATER)),
                // `push_navigate` from `handle_info`: pushed, then the view
                // stops and its channel closes.
                Some(Some(at)) if at <= now => {
                    out.push(push(
                        jr,
                        topic,
                        "live_redirect",
                        demo::nav_payload(demo::NAVIGATE_TO),
                    ));
                    out.push(close(jr, topic));
                    ended.push(topic.clone());
                    continue;
                }
                _ => {}
            }
            let Page::Counter(c) = &mut view.page else {
                continue;
            };
            match view.next_tick {
                None => view.next_tick = Some(now + TICK),
                Some(at) if at <= now => {
                    c.tick();
                    // A late tick does not make the next ones bunch up,
                    // as `Process.send_after` from the handler would not.
                    let next = at + TICK;
                    view.next_tick = Some(if next <= now { now + TICK } else { next });
                    if let Some(d) = view.rerender(format) {
                        out.push(push_diff(view.join_ref.as_deref(), topic, d));
                    }
                }
                Some(_) => {}
            }
        }
        for topic in &ended {
            self.views.remove(topic);
        }
        self.ended.extend(ended);
        out
    }

    /// The topics whose views stopped in [`Views::due`] since last asked.
    pub fn take_ended(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ended)
    }

    /// When the next timer (a tick, a delayed navigation) is due.
    pub fn deadline(&self) -> Option<Instant> {
        let ticks = self.views.values().filter_map(|v| v.next_tick);
        let later = self.views.values().filter_map(|v| v.navigate_at.flatten());
        ticks.chain(later).min()
    }
}

/// Runs `handle_event/3` of `page` (or of its component `cid`): the
/// navigation it asks for, `None` for a cid no component has, or the
/// crash of an event no clause takes. A chat message is posted to the
/// room and `publish` set.
fn dispatch(
    page: &mut Page,
    shared: &Shared,
    cid: Option<u64>,
    name: &str,
    value: &Value,
    publish: &mut Option<&'static str>,
) -> Result<Option<Nav>, NoClause> {
    match (page, cid) {
        (Page::Demo(d), cid) => d.event(cid, name, value),
        // The other pages have no components.
        (_, Some(_)) => Ok(None),
        (Page::Counter(c), None) => c.event(name, value).map(|()| Some(Nav::None)),
        (Page::Child(c), None) => c.event(name, value).map(|()| Some(Nav::None)),
        (Page::Fixed(..), None) => Err(NoClause),
        (Page::Chat(c), None) => {
            if let Post::Message(m) = c.event(name, value)? {
                c.refresh(shared.post(m));
                *publish = Some(CHAT_TOPIC);
            }
            Ok(Some(Nav::None))
        }
    }
}

/// The frames that answer an event after which the view asks for `nav`
/// and has `diff` to send; whether the view stops.
fn answer(
    nav: Nav,
    diff: Option<String>,
    frame: &Frame,
    join_ref: Option<&str>,
    out: &mut Vec<Frame>,
) -> bool {
    let with_diff = match &diff {
        Some(d) => format!("{{\"diff\":{d}}}"),
        None => "{}".to_owned(),
    };
    let topic = frame.topic.as_str();
    match nav {
        Nav::None | Nav::Later => out.push(reply(join_ref, frame, &with_diff)),
        // `push_patch`: the `live_patch` is pushed, and the reply carries
        // the diff of `handle_params` (channel.ex `handle_changed` with a
        // pending live patch).
        Nav::Patch => {
            let to = demo::nav_payload(demo::PATCH_TO);
            out.push(push(join_ref, topic, "live_patch", to));
            out.push(reply(join_ref, frame, &with_diff));
        }
        // `push_navigate` and `redirect` answer in the reply; then the
        // view stops and the socket closes its channel.
        Nav::Navigate | Nav::Redirect => {
            let response = if nav == Nav::Navigate {
                let to = demo::nav_payload(demo::NAVIGATE_TO);
                format!("{{\"live_redirect\":{to}}}")
            } else {
                format!("{{\"redirect\":{{\"to\":\"{}\"}}}}", demo::REDIRECT_TO)
            };
            out.push(reply(join_ref, frame, &response));
            out.push(close(join_ref, topic));
            return true;
        }
    }
    false
}

/// An ok `phx_reply` to `to` with `response`.
fn reply(join_ref: Option<&str>, to: &Frame, response: &str) -> Frame {
    let response = Json::from(protocol::raw(response.to_owned()));
    Frame::new(
        join_ref,
        to.ref_.as_deref(),
        &to.topic,
        protocol::PHX_REPLY,
        protocol::reply_payload("ok", &response),
    )
}

/// A server-pushed `diff`: join_ref set, ref null.
fn push_diff(join_ref: Option<&str>, topic: &str, diff: String) -> Frame {
    push(join_ref, topic, "diff", diff)
}

/// A server push of `event` (join_ref set, ref null).
fn push(join_ref: Option<&str>, topic: &str, event: &str, payload: String) -> Frame {
    Frame::new(join_ref, None, topic, event, protocol::raw(payload))
}

/// The socket's `phx_close` for a channel whose view stopped (ref =
/// join_ref), as Phoenix sends on `{:socket_close, pid, reason}`.
fn close(join_ref: Option<&str>, topic: &str) -> Frame {
    Frame::new(
        join_ref,
        join_ref,
        topic,
        protocol::PHX_CLOSE,
        protocol::empty_object(),
    )
}

fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::live::page;

    fn attr(html: &str, name: &str) -> String {
        let start = html.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        let len = html[start..].find('"').unwrap();
        html[start..start + len].to_owned()
    }

    /// A counter page fetched and joined on a fresh connection.
    fn joined(format: Format) -> (Views, Frame) {
        joined_page(format, "/counter")
    }

    /// The page at `path` fetched and joined on a fresh connection.
    fn joined_page(format: Format, path: &str) -> (Views, Frame) {
        let shared = Arc::new(Shared::new(format));
        let resp = page::respond("GET", path, None, None, &shared);
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        let html = resp.body().clone().unwrap();
        let mut views = Views::new(shared, Some(cookie), Some(attr(&html, "content")));
        let payload = serde_json::json!({
            "url": "http://x/counter",
            "params": {},
            "session": attr(&html, "data-phx-session"),
            "static": attr(&html, "data-phx-static"),
        });
        let topic = format!("lv:{}", attr(&html, "id"));
        let join = Frame::new(
            Some("1"),
            Some("1"),
            &topic,
            protocol::PHX_JOIN,
            protocol::raw(payload.to_string()),
        );
        assert!(views.join(&join, Some("1")).is_ok());
        (views, join)
    }

    #[test]
    fn ticks_start_a_second_after_the_first_turn_and_do_not_bunch_up() {
        let (mut views, join) = joined(Format::V1_1);
        let t0 = Instant::now();
        assert!(views.due(t0).is_empty());
        assert_eq!(views.deadline(), Some(t0 + TICK));
        assert!(views.due(t0 + TICK / 2).is_empty());
        let first = views.due(t0 + TICK);
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].encode(),
            format!(r#"["1",null,"{}","diff",{{"1":"1"}}]"#, join.topic)
        );
        // Ten seconds late: one tick now, the next a second after it.
        let late = t0 + TICK * 11;
        assert_eq!(views.due(late).len(), 1);
        assert_eq!(views.deadline(), Some(late + TICK));
        assert!(views.due(late).is_empty());
    }

    #[test]
    fn a_crash_ends_the_view_with_the_format_s_payload() {
        for (format, payload) in [
            (Format::V0_20, "{}"),
            (Format::V1_1, r#"{"reason":"channel_crash"}"#),
        ] {
            let (mut views, join) = joined(format);
            let event = Frame::new(
                Some("1"),
                Some("2"),
                &join.topic,
                "event",
                protocol::raw(r#"{"type":"click","event":"nope","value":{}}"#.to_owned()),
            );
            let handled = views.event(&event, Some("1"));
            assert!(handled.stopped);
            let frames: Vec<String> = handled.frames.iter().map(Frame::encode).collect();
            assert_eq!(
                frames,
                [format!(
                    r#"["1","1","{}","phx_error",{payload}]"#,
                    join.topic
                )]
            );
            assert!(views.views.is_empty());
            assert_eq!(views.deadline(), None);
        }
    }

    #[test]
    fn a_join_needs_the_csrf_token_of_the_cookie() {
        let (views, join) = joined(Format::V1_1);
        let mut other = Views::new(
            Arc::clone(&views.shared),
            views.cookie.clone(),
            Some(token::mask("not-the-secret")),
        );
        assert_eq!(other.join(&join, Some("1")), Err("stale"));
        other.csrf_token = views.csrf_token.clone();
        assert!(other.join(&join, Some("1")).is_ok());
        views.shared.rotate();
        assert_eq!(other.join(&join, Some("1")), Err("stale"));
    }

    #[test]
    fn later_navigates_on_the_next_turns_and_the_view_ends() {
        let (mut views, join) = joined_page(Format::V1_1, "/demo");
        let event = Frame::new(
            Some("1"),
            Some("2"),
            &join.topic,
            "event",
            protocol::raw(r#"{"type":"click","event":"later","value":{}}"#.to_owned()),
        );
        let handled = views.event(&event, Some("1"));
        assert!(!handled.stopped);
        assert_eq!(handled.frames.len(), 1);
        let t0 = Instant::now();
        assert!(views.due(t0).is_empty());
        assert_eq!(views.deadline(), Some(t0 + LATER));
        let frames: Vec<String> = views.due(t0 + LATER).iter().map(Frame::encode).collect();
        assert_eq!(
            frames,
            [
                format!(
                    r#"["1",null,"{}","live_redirect",{{"kind":"push","to":"/counter"}}]"#,
                    join.topic
                ),
                format!(r#"["1","1","{}","phx_close",{{}}]"#, join.topic),
            ]
        );
        assert_eq!(views.take_ended(), [join.topic.to_string()]);
        assert!(views.take_ended().is_empty());
        assert_eq!(views.deadline(), None);
    }
}

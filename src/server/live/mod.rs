//! The built-in server's LiveView pages (docs/PROTOCOL.md §10): `GET /`
//! (an index), `GET /counter`, `/chat`, `/demo`, `/login` and `/private`
//! over plain HTTP, and the `/live` socket (`/live/websocket`,
//! `/live/longpoll`) whose `lv:*` channels run them, in LiveView 1.1.33's
//! format by default or 0.20.17's with `serve --liveview 0.20`.
//!
//! - `/counter`: the recorded app's counter (events, a tick, a list).
//! - `/chat`: one room, two users (PubSub pushes).
//! - `/demo`: a stateful component (cid 1, `toggle` targets it), a title
//!   (`rename`, form `title=…`), a `push_event` (`ping` → `pong`),
//!   navigation from events (`patch` → `live_patch` to `/demo?tab=2`,
//!   `go` → `live_redirect` to `/counter`, `leave` → `redirect` to `/`,
//!   `later` → a pushed `live_redirect` 100 ms on) and a nested view
//!   (`lv:demo-child`, event `bump`). `?tab=N` is its `handle_params`.
//! - `/private`: 302 to `/login` (a LiveView page with no events), as
//!   `require_authenticated_user` sends a generated Phoenix 1.8 app's
//!   visitor to its login page, unless the request carries the cookie
//!   `_phx_repl_user=NAME` (`phx-repl live … -H 'Cookie:
//!   _phx_repl_user=ana'`); then it is a LiveView page saying "Signed in
//!   as ana".
//!
//! - `token.rs`: signed tokens, random ids, CSRF masking. Pure but for
//!   the system's random numbers.
//! - `diff.rs`: the join's `rendered` tree and the diffs after it, in
//!   either format, for templates of strings and comprehensions. Pure.
//! - `counter.rs`, `chat.rs`, `nested.rs` (the demo's child, `/login`,
//!   `/private`): each page's statics, hand-written first render, assigns
//!   and events. Pure.
//! - `demo.rs`: the demo's statics, first render, assigns and events, and
//!   its trees (a component and a title are beyond `diff.rs`). Pure.
//! - `view.rs`: the LiveView "processes" of one connection: join checks
//!   (`stale`), events, navigation, timers, leave, crash, and the chat's
//!   PubSub.
//! - `page.rs`: the HTTP side: the pages, their cookie and tokens, the
//!   302 of `/private`.
//!
//! [`Shared`] here is what every connection shares: the format, the
//! signing secret and the chat room.
//!
//! # Where this differs from real LiveView
//!
//! - **No template engine.** Each page's statics are constants and its
//!   first render is HTML written by hand, so a client's renderer is
//!   checked against text no renderer made. The trees hold strings,
//!   comprehensions of string rows and (on `/demo`) one component; no
//!   nested trees, streams, `live_component`s sharing statics, or `"r"`
//!   replies from `handle_event`. What is sent
//!   changed is decided by comparing rendered values with those last
//!   sent, where LiveView tracks which assigns changed; for these
//!   templates both give the same diffs. In 1.1, comprehensions are keyed
//!   by position (a `for` without `:key`), and a changed entry carries
//!   only its changed parts.
//! - **Tokens.** Shaped like Plug's (`SFMyNTY.<payload>.<HMAC-SHA256>`),
//!   but their payloads are JSON, not Erlang terms, and they never expire
//!   (LiveView's sessions last two weeks). The cookie is
//!   `_phx_repl_key`, holding only the CSRF secret; the meta's token is
//!   that secret masked as Plug masks it. A join must bring a cookie that
//!   verifies, a `_csrf_token` connect param that unmasks to its secret,
//!   and a `session` that verifies and names the joined topic's id (and a
//!   `static`, when sent, for the same id); anything else gets
//!   `{"reason":"stale"}`, as every such failure does in LiveView. The
//!   join's `url` is not checked against the session's view, as the
//!   router would.
//! - **Secret rotation.** The `restart` fault injection (`hub.rs`) also
//!   replaces the signing secret, as redeploying an app with a new
//!   `secret_key_base` does: sessions and cookies issued before it then
//!   give `stale`, so a client's reload path can be tested. A page
//!   fetched after it issues a new cookie.
//! - **Events.** Only `event` is handled on an `lv:` topic (no
//!   `live_patch` from the client, uploads or `cids_*`); any other event,
//!   an event with no clause, or a payload no clause matches crashes the
//!   view (`phx_error`: `{}` in 0.20 mode as Phoenix 1.7 sends, else
//!   `{"reason":"channel_crash"}` as Phoenix 1.8.12 does) and no reply
//!   comes. An event for a cid no component has gets `{}`, as channel.ex's
//!   `component_handle` answers a cid that is gone (it logs nothing in
//!   the versions read). `phx_leave`
//!   answers `phx_close`, then the ok reply.
//! - **Navigation** takes channel.ex's shapes: `push_patch` pushes
//!   `live_patch` `{kind, to}` and then replies with the diff of
//!   `handle_params`; `push_navigate` and `redirect` reply
//!   `{"live_redirect": {kind, to}}` or `{"redirect": {to}}` (no `flash`:
//!   none is set) and the view stops, so its `phx_close` follows; from a
//!   timer, `live_redirect` is pushed, then `phx_close`. The patched URL
//!   is not checked against a router.
//! - **Component.** The toggle's tree carries `"r": 1`, the single-root
//!   mark LiveView puts on a component's first render, and its own
//!   statics list in both formats (1.1's `p` table is the view's only).
//!   The view's own template has several roots, so no `"r"` at its top.
//! - **Nested view.** As `live_render` renders a non-sticky child: the
//!   dead render's element has `data-phx-session=""`, a signed
//!   `data-phx-static` and `data-phx-parent-id`; the parent's join tree
//!   holds the connected container (a signed session naming the parent,
//!   `data-phx-static=""`, no content). The child joins `lv:demo-child`
//!   on its own; its join does not wait for or ask the parent's process,
//!   and the child does not stop when the parent does.
//! - **Title.** `/demo`'s `<title>` is `<.live_title>`'s
//!   (`data-suffix=" · phx-repl"`), and the join carries `"t": "Demo"`
//!   because `mount` assigns `page_title`.
//! - **Sign-in.** The 302 has `Phoenix.Controller.redirect`'s body but no
//!   flash and no stored return path (a real app sets both in its
//!   session cookie). The user cookie is taken as it is, unsigned.
//! - **Ticks.** The counter's one-second `:tick` (a LiveView process's
//!   `Process.send_after`) is a deadline of its connection thread's wait,
//!   beside the idle timeout; a late tick does not make the next ones
//!   bunch up.
//! - **Chat.** One room per server, kept in memory, the last
//!   [`chat::KEEP`] messages. It starts empty, so a join shows the
//!   skipped comprehension (`""`) and the first message brings its
//!   statics, as in LiveView. The name is the join URL's `user` param,
//!   else the one the page put in the session (`?user=` on the page, or
//!   `guest-N`).
//!   Other connections learn of a message through the hub's registry, as
//!   LiveView processes through PubSub; a connection subscribes once its
//!   first chat view joins and stays subscribed until it closes (the
//!   notices then reach no view).
//! - **Pages.** No JavaScript or CSS assets and no layout beyond a
//!   `<title>`; `x-request-id` is not sent. Other methods than GET and
//!   HEAD get 404 with a text body, as a router with only GET routes
//!   does (Phoenix renders its own 404 page). A page that brings a valid
//!   cookie keeps its CSRF secret and gets no `set-cookie`, as Plug does
//!   when the session is unchanged.

pub mod chat;
pub mod counter;
pub mod demo;
pub mod diff;
pub mod nested;
pub mod page;
pub mod token;
pub mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use diff::Format;
pub use view::Views;

use chat::Message;
use token::Signer;

/// The cookie that carries the session (here, just the CSRF secret).
pub const COOKIE: &str = "_phx_repl_key";

/// The registry topic on which chat views learn of new messages.
pub const CHAT_TOPIC: &str = "live:chat";

/// What every connection's LiveViews share.
pub struct Shared {
    pub format: Format,
    signer: RwLock<Arc<Signer>>,
    room: Mutex<Vec<Message>>,
    guests: AtomicU64,
}

impl Shared {
    pub fn new(format: Format) -> Shared {
        Shared {
            format,
            signer: RwLock::new(Arc::new(Signer::generate())),
            room: Mutex::new(Vec::new()),
            guests: AtomicU64::new(0),
        }
    }

    /// The current signing secret's signer.
    pub fn signer(&self) -> Arc<Signer> {
        Arc::clone(&self.signer.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A new signing secret: every token issued before fails to verify.
    pub fn rotate(&self) {
        *self.signer.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Signer::generate());
    }

    /// The chat room's messages, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.room
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds a message to the room; the messages after it.
    pub fn post(&self, message: Message) -> Vec<Message> {
        let mut room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
        room.push(message);
        let excess = room.len().saturating_sub(chat::KEEP);
        room.drain(..excess);
        room.clone()
    }

    /// A name for a chat user who gave none.
    pub fn guest_name(&self) -> String {
        format!("guest-{}", self.guests.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// The CSRF secret of a `Cookie` header, if it carries our cookie
    /// signed with the current secret.
    pub fn cookie_secret(&self, cookie_header: Option<&str>) -> Option<String> {
        let value = cookie_header?
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)?
            .1;
        let payload = self.signer().verify(value)?;
        serde_json::from_str::<CookieData>(&payload)
            .ok()
            .map(|c| c.csrf)
    }
}

/// What the cookie holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct CookieData {
    #[serde(rename = "_csrf_token")]
    pub csrf: String,
}

/// What a page's `data-phx-session` holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SessionData {
    pub id: String,
    pub view: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A nested view's parent's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// What a page's `data-phx-static` holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StaticData {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_fails_after_rotation() {
        let shared = Shared::new(Format::V1_1);
        let data = serde_json::to_string(&CookieData { csrf: "s3".into() }).unwrap();
        let header = format!("a=b; {COOKIE}={}; c=d", shared.signer().sign(&data));
        assert_eq!(shared.cookie_secret(Some(&header)).as_deref(), Some("s3"));
        assert_eq!(shared.cookie_secret(Some("a=b")), None);
        assert_eq!(shared.cookie_secret(None), None);
        shared.rotate();
        assert_eq!(shared.cookie_secret(Some(&header)), None);
    }

    #[test]
    fn the_room_keeps_the_newest_messages() {
        let shared = Shared::new(Format::V1_1);
        for i in 0..chat::KEEP + 5 {
            shared.post(Message {
                user: "u".into(),
                body: i.to_string(),
            });
        }
        let room = shared.messages();
        assert_eq!(room.len(), chat::KEEP);
        assert_eq!(room.last().unwrap().body, (chat::KEEP + 4).to_string());
    }
}

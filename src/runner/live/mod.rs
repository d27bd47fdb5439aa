//! A LiveView client (docs/PROTOCOL.md §10): `phx-repl live URL`, the
//! `live URL` command and `connect NAME live URL` open one; it is a
//! client like the others (its own socket, to the page's `/live`
//! endpoint), whose [`Live`] state sits in its `Peer`.
//!
//! - `open`: fetching the page, the socket to connect to, the join.
//! - `view`: the join's answer, diffs, crashes, navigation and the reload
//!   after `stale`, and what is printed about them.
//! - `act`: `click`, `submit`, `change`, `key`, `hook`; `html`, `text`.
//! - `check`: `expect`/`wait`/`refute` on the page's text and HTML, and
//!   the states kept for them.
//!
//! The tree, its diffs, the page's events and its readable lines are
//! `core::live`'s; the page fetch is `transport::page`'s.

mod act;
mod check;
mod fetch;
mod nested;
mod open;
mod view;

pub use fetch::Fetched;
pub use open::{LiveError, LiveOptions};

use serde_json::Value;
use url::Url;

use super::Runner;
use super::flow::Step;
use crate::core::event::ToNet;
use crate::core::live::Rendered;
use crate::core::session::Request;
use crate::lang::live::OpenFlags;
use crate::lang::vocab::Word;
use crate::output::Info;
use crate::transport::net::Target;
use crate::transport::page::Fetcher;
use check::History;
use open::JoinParts;

/// A LiveView client's state.
#[derive(Debug)]
pub(super) struct Live {
    /// The page's URL now (a `live_patch` changes it).
    pub page_url: Url,
    /// The page's cookie jar; away while a fetch runs on its thread.
    fetcher: Option<Fetcher>,
    opts: LiveOptions,
    /// The main view's id; its topic is `lv:ID`.
    pub view_id: String,
    pub topic: String,
    join: JoinParts,
    /// The view's tree, once joined.
    pub tree: Option<Rendered>,
    /// `liveview_version` of the last join reply.
    pub version: Option<String>,
    /// Joins answered ok since the client's own join: what the next
    /// rejoin sends as `_mounts` (the session sends it; this is for
    /// saying so).
    pub mounts: u32,
    /// Reloads after `stale` in a row, for the cap.
    reloads: u32,
    /// The topics a reload or navigation left behind (the view, its
    /// nested views), newest last: their last frames and the refusal that
    /// led to a reload are no news.
    retired: Vec<String>,
    /// Leaves of retired topics waiting for the new socket, whose
    /// `Queued` notice is not shown.
    hushed: Vec<u64>,
    /// Nested views, joined once the main view's tree shows them.
    pub children: Vec<nested::Child>,
    /// The states since the previous line began, for `wait text`.
    pub history: History,
    /// A join sent before its socket is open (the first of `phx-repl
    /// live URL`, whose answer the first line waits for, or one after a
    /// reload), whose `Queued` notice is not shown.
    pub pending_join: Option<u64>,
    /// The script line the reply being handled answers, for the records.
    pub(super) answering: Option<usize>,
    /// A navigation or reload is under way (its page being fetched, its
    /// socket moving): the old view's close and the socket's move are
    /// part of it, not news.
    moving: bool,
    /// The socket was moved to a new page's tokens and has not opened
    /// again yet: its drop and reconnect are not news.
    retargeted: bool,
    /// The main view closed (a redirect not followed, the server ended
    /// it): the page is gone, as in a browser.
    closed: bool,
    /// The push being handled is muted (`mute lv:ID`): merged, not
    /// printed.
    muted: bool,
    /// The last event command sent (its id, `click inc`), to name it if
    /// it is not sent.
    last_event: Option<(u64, String)>,
    /// The ref it went out with, to name it if a crash leaves it
    /// unanswered.
    last_event_ref: Option<String>,
}

/// `phx-repl live URL`: the page fetched before the network thread
/// starts; its socket is the first client's.
#[derive(Debug)]
pub struct Prepared {
    live: Box<Live>,
    /// The `/live` socket and its upgrade's headers.
    pub socket: Url,
    pub headers: Vec<(String, String)>,
}

impl Prepared {
    /// The page's URL.
    pub fn page_url(&self) -> &Url {
        &self.live.page_url
    }
}

/// Fetches `page` (a URL, or a path on `origin`) and reads its main view.
pub fn prepare(page: &str, origin: Option<&Url>, opts: LiveOptions) -> Result<Prepared, LiveError> {
    let url = open::page_url(page, origin)?;
    let mut fetcher = Fetcher::new(&opts.trust, &opts.headers, opts.timeout)?;
    let opened = open::open(&mut fetcher, &url, &opts)?;
    let socket = opened.socket.clone();
    let headers = opened.headers.clone();
    Ok(Prepared {
        live: Box::new(Live::new(opened, fetcher, opts)),
        socket,
        headers,
    })
}

impl Live {
    fn new(o: open::Opened, fetcher: Fetcher, opts: LiveOptions) -> Live {
        Live {
            page_url: o.page_url,
            fetcher: Some(fetcher),
            opts,
            topic: format!("lv:{}", o.view_id),
            view_id: o.view_id,
            join: o.join,
            tree: None,
            version: None,
            mounts: 0,
            reloads: 0,
            retired: Vec::new(),
            hushed: Vec::new(),
            children: Vec::new(),
            history: History::default(),
            pending_join: None,
            answering: None,
            moving: false,
            retargeted: false,
            closed: false,
            muted: false,
            last_event: None,
            last_event_ref: None,
        }
    }

    /// The join request, with `_mounts` 0: a fresh join (the session sends
    /// the count on its own rejoins).
    fn join_request(&self) -> Request {
        let payload = open::join_payload(&self.page_url, &self.join, 0);
        Request::Join {
            topic: self.topic.clone(),
            payload: json_payload(&payload),
        }
    }

    /// Notes a topic left behind (a few are kept: frames from older ones
    /// are long over).
    pub(super) fn retire(&mut self, topic: String) {
        const KEEP: usize = 16;
        if !self.retired.contains(&topic) {
            if self.retired.len() >= KEEP {
                self.retired.remove(0);
            }
            self.retired.push(topic);
        }
    }

    /// Whether `topic` is one a reload or navigation left behind.
    pub(super) fn retired(&self, topic: &str) -> bool {
        self.retired.iter().any(|t| t == topic)
    }

    /// Takes a freshly fetched page: its view, tokens and URL.
    fn take(&mut self, o: open::Opened) {
        let old = std::mem::take(&mut self.topic);
        self.retire(old);
        self.page_url = o.page_url;
        self.topic = format!("lv:{}", o.view_id);
        self.view_id = o.view_id;
        self.join = o.join;
        self.children.clear();
        self.tree = None;
        self.mounts = 0;
        self.history = History::default();
        self.moving = false;
        self.closed = false;
    }
}

/// A JSON value as a request's payload.
fn json_payload(v: &Value) -> crate::core::protocol::Payload {
    crate::core::protocol::raw(v.to_string()).into()
}

impl Runner {
    /// The LiveView options of this session (its flags).
    fn live_options(&self) -> LiveOptions {
        self.settings.base.live.clone()
    }

    /// `phx-repl live URL`: the first client is this LiveView; its join is
    /// queued now and goes out when the socket opens, and the first line
    /// waits for its answer.
    pub fn install_live(&mut self, prepared: Prepared) {
        let mut live = prepared.live;
        let id = self.issue_id();
        let request = live.join_request();
        live.pending_join = Some(id);
        self.peer.live = Some(live);
        self.learn_live_secrets();
        self.net.send_to(0, ToNet::Request { id, request });
    }

    /// The view's CSRF token is a secret like the URL's (where it is a
    /// connect param): kept out of everything printed and recorded.
    pub(super) fn learn_live_secrets(&mut self) {
        let Some(token) = self.peer.live.as_ref().and_then(|l| l.join.csrf.clone()) else {
            return;
        };
        self.screen.learn_secret(&token);
        if let Some(rec) = &mut self.recording.recorder {
            rec.learn_secret(&token);
        }
    }

    /// The origin a `live /path` resolves on: the current client's page,
    /// else its socket's host (`http` for `ws`, `https` for `wss`).
    fn live_origin(&self) -> Option<Url> {
        let current = self.clients.current;
        if let Some(live) = &self.peer_of(current).live {
            return Some(live.page_url.clone());
        }
        // The current client's socket (its shown URL keeps the host; only
        // secrets in the query are redacted), else the first client's.
        Url::parse(&self.clients.get(current).shown_url)
            .ok()
            .and_then(|u| open::origin_of(&u))
            .or_else(|| open::origin_of(&self.settings.base.url))
    }

    /// `live URL` (`name` `None`: `live`, `live2`, …) and `connect NAME
    /// live URL`: fetches the page (on a helper thread), then opens a
    /// client on its socket, joins its view and makes it current. A script
    /// waits for the join's answer.
    pub(super) fn open_live(
        &mut self,
        page: &str,
        name: Option<String>,
        flags: &OpenFlags,
        id: u64,
        n: usize,
    ) {
        self.screen.set_tag(None);
        let command = act::typed_open(page, name.as_deref());
        let name = match name {
            Some(name) => {
                if !self.name_free(&name, n) {
                    self.update_prompt();
                    return;
                }
                name
            }
            None => self.clients.free_name("live"),
        };
        let origin = self.live_origin();
        let opts = self.live_options_with(flags);
        let ready = open::page_url(page, origin.as_ref()).and_then(|url| {
            let fetcher =
                Fetcher::new(&opts.trust, &opts.headers, opts.timeout)?.opened_by(command);
            Ok((url, fetcher))
        });
        match ready {
            Ok((url, fetcher)) => {
                self.wait_for_page(id, n);
                let job = fetch::Job::Open { name, id, n };
                self.fetch_page(job, fetcher, url, opts, std::time::Duration::ZERO);
            }
            Err(e) => {
                self.error(&e.to_string(), self.line_label(n));
                self.mark_failed();
                self.update_prompt();
            }
        }
    }

    /// A page fetched for `live`: a client on its socket, named `name`,
    /// made current, and its view's join as line `n`'s command.
    fn open_client(
        &mut self,
        mut live: Box<Live>,
        socket: (Url, Vec<(String, String)>),
        name: String,
        id: u64,
        n: usize,
    ) {
        self.screen.set_tag(None);
        // The name may have been taken while the page was fetched.
        let name = if self.clients.find(&name).is_some() && !self.name_free(&name, n) {
            self.sent(id);
            self.update_prompt();
            return;
        } else {
            name
        };
        let shown = live.page_url.to_string();
        let mut target: Target = self.settings.base.target.clone();
        (target.url, target.headers) = socket;
        let first_of_many = !self.clients.many;
        if first_of_many {
            let first = self.clients.get(0).name.clone();
            self.tell(Word::Client(first));
        }
        self.tell(Word::Client(name.clone()));
        let client = self.clients.add(name.clone(), shown);
        if !self
            .net
            .open(client, target, self.settings.base.options.clone())
        {
            self.error(
                "the network thread has ended, so no client can be opened; type `quit`",
                self.line_label(n),
            );
            self.mark_failed();
            self.sent(id);
            self.update_prompt();
            return;
        }
        self.clients.current = client;
        self.info(
            Info::Using { client: &name },
            &format!("opened LiveView client {name}; lines without @NAME now go to it"),
        );
        // The prompt follows once the socket is open (`on_connected`), or
        // failed: the prompt thread waits for that one.
        self.enter(client);
        let request = live.join_request();
        // Its socket is not open yet: the join waits, silently.
        live.pending_join = Some(id);
        self.peer.live = Some(live);
        self.learn_live_secrets();
        self.send_live_join(request, id, n);
    }

    /// Sends a view's join as line `n`'s command: a script waits for its
    /// answer.
    fn send_live_join(&mut self, request: Request, id: u64, n: usize) {
        if self.interactive() {
            self.peer.replies.awaiting(id);
        }
        self.send(ToNet::Request { id, request }, id, n);
    }

    /// Whether `name` can name a new client; says why not.
    fn name_free(&mut self, name: &str, n: usize) -> bool {
        let Some(old) = self.clients.find(name) else {
            return true;
        };
        let link = &self.peer_of(old).link;
        if old != 0 && (link.ended || link.closing) {
            self.clients.retire(old);
            return true;
        }
        let text = format!(
            "client `{name}` is already open; pick another name, or `disconnect {name}` first"
        );
        self.error(&text, self.line_label(n));
        self.mark_failed();
        false
    }

    /// Once connected, the first line of `phx-repl live URL` waits for
    /// the first join to go out and (in a script) for its answer, as a
    /// script's `live` line would.
    pub(super) fn pending_join_step(&self) -> Option<Step> {
        let id = self.peer.live.as_ref()?.pending_join?;
        Some(Step::Sending {
            id,
            line: 0,
            scripted: !self.interactive(),
        })
    }

    /// Whether the socket that just opened is one a navigation or reload
    /// moved (its reconnect is then not news to people); forgets it.
    pub(super) fn live_retargeted(&mut self) -> bool {
        let quiet = !self.settings.style.display.raw && !self.settings.style.json;
        self.peer
            .live
            .as_mut()
            .is_some_and(|l| std::mem::take(&mut l.retargeted))
            && quiet
    }

    /// Leaves the main view's nested views (its page closed or moved), as
    /// the browser does, quietly: their leaves and last frames are no
    /// news.
    pub(super) fn leave_children(&mut self) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let topics: Vec<String> = live.children.drain(..).map(|c| c.topic).collect();
        for t in topics {
            let id = self.issue_id();
            if let Some(live) = &mut self.peer.live {
                live.retire(t.clone());
                live.hushed.push(id);
            }
            // Gone from `clients` now, not once the server has answered.
            self.peer.topics.remove(&t);
            let leave = Request::Leave { topic: Some(t) };
            self.net
                .send_to(self.clients.active, ToNet::Request { id, request: leave });
        }
    }

    /// A join sent before its socket was open went out.
    pub(super) fn pending_join_sent(&mut self, id: u64) {
        if let Some(live) = &mut self.peer.live
            && live.pending_join == Some(id)
        {
            live.pending_join = None;
        }
    }

    /// The client a LiveView command goes to has a view; else says how to
    /// open one.
    fn live_client(&mut self, n: usize) -> bool {
        if let Some(live) = &self.peer.live {
            if !live.closed {
                return true;
            }
            let text = format!(
                "the view at {} has closed; open it again with `live {}`",
                live.page_url,
                live.page_url.path()
            );
            self.error(&text, self.line_label(n));
            self.mark_failed();
            return false;
        }
        let name = self.clients.get(self.clients.active).name.clone();
        let text = format!("no LiveView on client {name}; open one with `live URL`");
        self.error(&text, self.line_label(n));
        self.mark_failed();
        false
    }
}

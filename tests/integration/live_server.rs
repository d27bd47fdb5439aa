//! The built-in server's LiveView pages over real sockets: a plain HTTP
//! GET of `/counter` and `/chat` (cookie, CSRF meta, main element), the
//! `/live` socket with tungstenite (and long-poll), joins checked for
//! `stale`, and frame sequences compared with the recorded LiveView 0.20.17
//! and 1.1.33 sessions. The join's tree, rendered by
//! `phx_repl::core::live`, must equal the page's hand-written dead render.

use std::time::{Duration, Instant};

use phx_repl::core::live::Rendered;
use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::stream::MaybeTlsStream;

use crate::support::live::{Socket, attr, http, next, send};
use crate::support::{DEADLINE, Server};

/// The counter's statics as LiveView 0.20.17 sent them (recorded).
const STATICS_0_20: &str = r#"{"0":"0","1":"0","2":" value=\"0\"","3":{"d":[["0"]],"s":["\n    <li>count ","</li>\n  "]},"s":["<h1>Count: ","</h1>\n<p>Ticks: ","</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\"",">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  ","\n</ul>"]}"#;

/// The same page's join tree from LiveView 1.1.33 (recorded).
const STATICS_1_1: &str = r#"{"0":"0","1":"0","2":" value=\"0\"","3":{"k":{"0":{"0":"0"},"kc":1},"s":0},"p":{"0":["\n    <li>count ","</li>\n  "],"1":["<h1>Count: ","</h1>\n<p>Ticks: ","</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\"",">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  ","\n</ul>"]},"s":1}"#;

/// The two formats: `serve` args, `liveview_version`, the recorded join
/// tree, the recorded replies to inc, inc, dec, set 42 (0.20 and 1.1
/// recorded different sequences; both are replayed), and the crash payload.
struct Mode {
    args: &'static [&'static str],
    version: &'static str,
    rendered: &'static str,
    events: &'static [(&'static str, &'static str)],
    crash: &'static str,
}

const V0_20: Mode = Mode {
    args: &["--liveview", "0.20"],
    version: "0.20.17",
    rendered: STATICS_0_20,
    events: &[
        (
            r#"{"type":"click","event":"inc","value":{}}"#,
            r#"{"diff":{"0":"1","2":" value=\"1\"","3":{"d":[["1"],["0"]]}}}"#,
        ),
        (
            r#"{"type":"click","event":"inc","value":{}}"#,
            r#"{"diff":{"0":"2","2":" value=\"2\"","3":{"d":[["2"],["1"],["0"]]}}}"#,
        ),
        (
            r#"{"type":"click","event":"dec","value":{}}"#,
            r#"{"diff":{"0":"1","2":" value=\"1\"","3":{"d":[["1"],["2"],["1"]]}}}"#,
        ),
        (
            r#"{"type":"form","event":"set","value":"value=42"}"#,
            r#"{"diff":{"0":"42","2":" value=\"42\"","3":{"d":[["42"],["1"],["2"]]}}}"#,
        ),
        (r#"{"type":"form","event":"set","value":"value=abc"}"#, "{}"),
    ],
    crash: "{}",
};

const V1_1: Mode = Mode {
    args: &[],
    version: "1.1.33",
    rendered: STATICS_1_1,
    events: &[
        (
            r#"{"type":"click","event":"inc","value":{}}"#,
            r#"{"diff":{"0":"1","2":" value=\"1\"","3":{"k":{"0":{"0":"1"},"1":{"0":"0"},"kc":2}}}}"#,
        ),
        (
            r#"{"type":"click","event":"inc","value":{}}"#,
            r#"{"diff":{"0":"2","2":" value=\"2\"","3":{"k":{"0":{"0":"2"},"1":{"0":"1"},"2":{"0":"0"},"kc":3}}}}"#,
        ),
        (
            r#"{"type":"click","event":"dec","value":{}}"#,
            r#"{"diff":{"0":"1","2":" value=\"1\"","3":{"k":{"0":{"0":"1"},"1":{"0":"2"},"2":{"0":"1"},"kc":3}}}}"#,
        ),
        (
            r#"{"type":"form","event":"set","value":"value=42"}"#,
            r#"{"diff":{"0":"42","2":" value=\"42\"","3":{"k":{"0":{"0":"42"},"1":{"0":"1"},"2":{"0":"2"},"kc":3}}}}"#,
        ),
        (r#"{"type":"form","event":"set","value":"value=abc"}"#, "{}"),
    ],
    crash: r#"{"reason":"channel_crash"}"#,
};

/// The counter after those events, written out by hand; `ticks` is
/// spliced in, as ticks arrive on their own clock.
fn counter_after_events(ticks: u64) -> String {
    format!(
        r#"<h1>Count: 42</h1>
<p>Ticks: {ticks}</p>
<button phx-click="inc">+1</button>
<button phx-click="dec">-1</button>
<form phx-submit="set">
  <input type="text" name="value" value="42">
  <button type="submit">Set</button>
</form>
<ul id="history">
  
    <li>count 42</li>
  
    <li>count 1</li>
  
    <li>count 2</li>
  
</ul>"#
    )
}

// ---------------------------------------------------------------- HTTP

/// A LiveView page as a browser reads it.
#[derive(Clone)]
struct Page {
    /// `name=value` of the cookie to send back.
    cookie: String,
    csrf: String,
    id: String,
    session: String,
    static_token: String,
    /// The main element's inner HTML: the dead render.
    inner: String,
    url: String,
}

/// GETs a live page with `cookie` (or none), as a browser would.
fn get_page(server: &Server, target: &str, cookie: Option<&str>) -> Page {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    let answer = http(server, "GET", target, &headers, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let cookie = match answer.header("set-cookie") {
        Some(set) => {
            assert!(set.ends_with("; path=/; HttpOnly; SameSite=Lax"), "{set}");
            set.split(';').next().unwrap().to_owned()
        }
        None => cookie
            .expect("a cookie is set when none was sent")
            .to_owned(),
    };
    assert!(cookie.starts_with("_phx_repl_key=SFMyNTY."), "{cookie}");
    let body = &answer.body;
    let main_at = body.find("<div id=\"phx-").expect("the main element");
    let main = &body[main_at..];
    let open_end = main.find('>').unwrap();
    assert!(
        main[..open_end].contains(" data-phx-main "),
        "{}",
        &main[..open_end]
    );
    let inner_end = main.rfind("</div>").unwrap();
    Page {
        cookie,
        csrf: attr(body, "content"),
        id: attr(main, "id"),
        session: attr(main, "data-phx-session"),
        static_token: attr(main, "data-phx-static"),
        inner: main[open_end + 1..inner_end].to_owned(),
        url: format!("http://{}{target}", server.addr()),
    }
}

/// HTML with runs of whitespace made one space, and none between tags.
fn squeeze(html: &str) -> String {
    let one = html.split_whitespace().collect::<Vec<_>>().join(" ");
    one.replace("> <", "><")
}

// ---------------------------------------------------------------- socket

/// A frame's first four fields: join_ref, ref, topic, event.
fn head(frame: &Value) -> Value {
    Value::Array(frame.as_array().expect("a frame is an array")[..4].to_vec())
}

/// A `/live` socket with `_csrf_token=csrf` and the `cookie` header.
fn live_socket(server: &Server, csrf: Option<&str>, cookie: Option<&str>) -> Socket {
    let mut url = format!("ws://{}/live/websocket?vsn=2.0.0", server.addr());
    if let Some(t) = csrf {
        url.push_str(&format!("&_csrf_token={t}"));
    }
    let mut req = url.into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut()
            .insert("cookie", HeaderValue::from_str(c).unwrap());
    }
    let (ws, _) = tungstenite::connect(req).expect("the upgrade is accepted");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    ws
}

fn join_frame(page: &Page, join_ref: &str, mounts: u32) -> Value {
    json!([join_ref, join_ref, format!("lv:{}", page.id), "phx_join", {
        "url": page.url,
        "params": {"_csrf_token": page.csrf, "_mounts": mounts},
        "session": page.session,
        "static": page.static_token,
    }])
}

/// A joined counter: the socket, its topic, the tree as merged so far and
/// the last tick seen.
struct Counter {
    ws: Socket,
    topic: String,
    join_ref: String,
    tree: Rendered,
    ticks: u64,
}

impl Counter {
    /// Joins `page` on a fresh socket; the reply must be ok.
    fn join(server: &Server, page: &Page, mode: &Mode) -> Counter {
        let mut ws = live_socket(server, Some(&page.csrf), Some(&page.cookie));
        send(&mut ws, &join_frame(page, "1", 0));
        let reply = next(&mut ws);
        let topic = format!("lv:{}", page.id);
        assert_eq!(head(&reply), json!(["1", "1", topic, "phx_reply"]));
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        let response = &reply[4]["response"];
        assert_eq!(response["liveview_version"], mode.version);
        let want: Value = serde_json::from_str(mode.rendered).unwrap();
        assert_eq!(response["rendered"], want, "the recorded tree");
        let (tree, _) = Rendered::join(&response["rendered"]).expect("a tree");
        Counter {
            ws,
            topic,
            join_ref: "1".into(),
            tree,
            ticks: 0,
        }
    }

    /// The next frame that is no tick; ticks met on the way are checked
    /// and merged.
    fn next_non_tick(&mut self) -> Value {
        loop {
            let frame = next(&mut self.ws);
            if frame[3] != "diff" {
                return frame;
            }
            self.tick(&frame);
        }
    }

    /// Checks and merges a tick: join_ref set, ref null, only the ticks.
    fn tick(&mut self, frame: &Value) {
        self.ticks += 1;
        assert_eq!(
            frame,
            &json!([self.join_ref, null, self.topic, "diff", {"1": self.ticks.to_string()}])
        );
        self.tree.merge(&frame[4]).expect("a tick merges");
    }

    /// Pushes `event` with ref `r`; its reply's response (merged).
    fn event(&mut self, r: &str, event: &Value) -> Value {
        let frame = json!([self.join_ref, r, self.topic, "event", event]);
        send(&mut self.ws, &frame);
        let reply = self.next_non_tick();
        assert_eq!(
            head(&reply),
            json!([self.join_ref, r, self.topic, "phx_reply"]),
            "{reply}"
        );
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        let response = reply[4]["response"].clone();
        if let Some(diff) = response.get("diff") {
            self.tree.merge(diff).expect("the diff merges");
        }
        response
    }
}

fn counter_session(mode: &Mode) {
    let server = Server::with_args(mode.args);
    let page = get_page(&server, "/counter", None);
    let mut c = Counter::join(&server, &page, mode);
    assert_eq!(squeeze(&c.tree.dead_html()), squeeze(&page.inner));
    assert_eq!(c.tree.dead_html(), page.inner, "the same whitespace, too");
    for (i, (event, want)) in mode.events.iter().enumerate() {
        let event: Value = serde_json::from_str(event).unwrap();
        let got = c.event(&(i + 2).to_string(), &event);
        assert_eq!(
            got,
            serde_json::from_str::<Value>(want).unwrap(),
            "after {event}"
        );
    }
    assert_eq!(
        squeeze(&c.tree.dead_html()),
        squeeze(&counter_after_events(c.ticks))
    );
    // Two ticks, as recorded: join_ref set, ref null, only the ticks.
    let wanted = c.ticks + 2;
    send(&mut c.ws, &json!([null, "90", "phoenix", "heartbeat", {}]));
    let beat = c.next_non_tick();
    assert_eq!(
        beat,
        json!([null, "90", "phoenix", "phx_reply", {"response": {}, "status": "ok"}])
    );
    while c.ticks < wanted {
        let frame = next(&mut c.ws);
        c.tick(&frame);
    }
    assert!(
        c.tree
            .dead_html()
            .contains(&format!("<p>Ticks: {}</p>", c.ticks))
    );
}

#[test]
fn the_counter_answers_as_recorded_in_1_1() {
    counter_session(&V1_1);
}

#[test]
fn the_counter_answers_as_recorded_in_0_20() {
    counter_session(&V0_20);
}

fn crash_leave_and_rejoin(mode: &Mode) {
    let server = Server::with_args(mode.args);
    let page = get_page(&server, "/counter", None);
    let mut c = Counter::join(&server, &page, mode);
    // No handle_event clause: phx_error with the join_ref, and no reply
    // (the heartbeat's reply is the next frame).
    send(
        &mut c.ws,
        &json!(["1", "2", c.topic, "event", {"type":"click","event":"nope","value":{}}]),
    );
    send(&mut c.ws, &json!([null, "3", "phoenix", "heartbeat", {}]));
    let crash: Value = serde_json::from_str(mode.crash).unwrap();
    assert_eq!(
        c.next_non_tick(),
        json!(["1", "1", c.topic, "phx_error", crash])
    );
    assert_eq!(c.next_non_tick()[1], "3");
    // The view is gone until rejoined, with the next _mounts.
    send(
        &mut c.ws,
        &json!(["1", "4", c.topic, "event", {"type":"click","event":"inc","value":{}}]),
    );
    let gone = c.next_non_tick();
    assert_eq!(
        gone,
        json!([null, "4", c.topic, "phx_reply", {"response": {"reason": "unmatched topic"}, "status": "error"}])
    );
    send(&mut c.ws, &join_frame(&page, "5", 1));
    let rejoined = c.next_non_tick();
    assert_eq!(rejoined[4]["status"], "ok", "{rejoined}");
    assert_eq!(
        rejoined[4]["response"]["rendered"],
        serde_json::from_str::<Value>(mode.rendered).unwrap()
    );
    c.join_ref = "5".into();
    c.ticks = 0;
    // phx_leave: phx_close first, then the ok reply.
    send(&mut c.ws, &json!(["5", "6", c.topic, "phx_leave", {}]));
    assert_eq!(
        c.next_non_tick(),
        json!(["5", "5", c.topic, "phx_close", {}])
    );
    assert_eq!(
        c.next_non_tick(),
        json!(["5", "6", c.topic, "phx_reply", {"response": {}, "status": "ok"}])
    );
}

#[test]
fn a_crash_errors_without_a_reply_and_leave_closes_before_its_reply_in_1_1() {
    crash_leave_and_rejoin(&V1_1);
}

#[test]
fn a_crash_errors_without_a_reply_and_leave_closes_before_its_reply_in_0_20() {
    crash_leave_and_rejoin(&V0_20);
}

/// Joins `page` on `ws` with `frame`'s changes; the reply's response.
fn join_reply(ws: &mut Socket, frame: Value) -> Value {
    send(ws, &frame);
    let reply = next(ws);
    assert_eq!(reply[3], "phx_reply", "{reply}");
    reply[4].clone()
}

fn stale() -> Value {
    json!({"response": {"reason": "stale"}, "status": "error"})
}

#[test]
fn a_join_without_the_cookie_csrf_token_or_session_is_stale() {
    let server = Server::start();
    let page = get_page(&server, "/counter", None);
    let other = get_page(&server, "/counter", None);
    // No cookie: the upgrade is accepted, the join is stale, the socket lives.
    let mut ws = live_socket(&server, Some(&page.csrf), None);
    assert_eq!(join_reply(&mut ws, join_frame(&page, "1", 0)), stale());
    send(&mut ws, &json!([null, "2", "phoenix", "heartbeat", {}]));
    assert_eq!(next(&mut ws)[4]["status"], "ok");
    // Another page's cookie does not go with this page's CSRF token.
    let mut ws = live_socket(&server, Some(&page.csrf), Some(&other.cookie));
    assert_eq!(join_reply(&mut ws, join_frame(&page, "1", 0)), stale());
    // A wrong or missing CSRF token.
    for csrf in [Some("wrong-token"), None] {
        let mut ws = live_socket(&server, csrf, Some(&page.cookie));
        assert_eq!(join_reply(&mut ws, join_frame(&page, "1", 0)), stale());
    }
    // A garbage session, another page's session, a static of another id.
    let mut ws = live_socket(&server, Some(&page.csrf), Some(&page.cookie));
    let mut bad = join_frame(&page, "1", 0);
    bad[4]["session"] = json!("garbage");
    assert_eq!(join_reply(&mut ws, bad), stale());
    let mut bad = join_frame(&page, "2", 0);
    bad[4]["session"] = json!(other.session);
    assert_eq!(join_reply(&mut ws, bad), stale());
    let mut bad = join_frame(&page, "3", 0);
    bad[4]["static"] = json!(other.static_token);
    assert_eq!(join_reply(&mut ws, bad), stale());
    // All three right: ok.
    assert_eq!(
        join_reply(&mut ws, join_frame(&page, "4", 0))["status"],
        "ok"
    );
    // A refused rejoin of a joined topic still closes the old view.
    let mut bad = join_frame(&page, "5", 1);
    bad[4]["session"] = json!("garbage");
    assert_eq!(join_reply(&mut ws, bad), stale());
    let topic = format!("lv:{}", page.id);
    loop {
        let f = next(&mut ws);
        if f[3] != "diff" {
            assert_eq!(f, json!(["4", "4", topic, "phx_close", {}]));
            break;
        }
    }
}

#[test]
fn restart_rotates_the_secret_so_old_pages_are_stale() {
    let server = Server::start();
    let page = get_page(&server, "/counter", None);
    // `restart` on the channel socket, with no downtime.
    let (mut admin, _) =
        tungstenite::connect(format!("ws://{}/socket/websocket?vsn=2.0.0", server.addr())).unwrap();
    if let MaybeTlsStream::Plain(tcp) = admin.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    send(&mut admin, &json!(["1", "1", "room:x", "phx_join", {}]));
    send(
        &mut admin,
        &json!(["1", "2", "room:x", "restart", {"ms": 0}]),
    );
    // The restart's reply, then the close.
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "no close after restart");
        match admin.read() {
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    let mut ws = live_socket(&server, Some(&page.csrf), Some(&page.cookie));
    assert_eq!(join_reply(&mut ws, join_frame(&page, "1", 0)), stale());
    // Reloading with the old cookie gets a new one, and a page that joins.
    let fresh = get_page(&server, "/counter", Some(&page.cookie));
    assert_ne!(fresh.cookie, page.cookie);
    let mut ws = live_socket(&server, Some(&fresh.csrf), Some(&fresh.cookie));
    assert_eq!(
        join_reply(&mut ws, join_frame(&fresh, "1", 0))["status"],
        "ok"
    );
}

#[test]
fn pages_index_and_not_found() {
    let server = Server::start();
    let index = http(&server, "GET", "/", &[], "");
    assert_eq!(index.status, 200);
    assert!(index.body.contains("href=\"/counter\""), "{}", index.body);
    assert_eq!(http(&server, "GET", "/nope", &[], "").status, 404);
    assert_eq!(http(&server, "POST", "/counter", &[], "x").status, 404);
    let head = http(&server, "HEAD", "/counter", &[], "");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert!(head.header("content-length").is_some_and(|n| n != "0"));
    let page = http(&server, "GET", "/counter", &[], "");
    assert!(
        page.body.contains("<title>Counter · phx-repl</title>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<meta name=\"csrf-token\" content=\""));
    // The /live socket routes only lv:* topics.
    let mut ws = live_socket(&server, None, None);
    send(&mut ws, &json!(["1", "1", "room:lobby", "phx_join", {}]));
    assert_eq!(
        next(&mut ws),
        json!([null, "1", "room:lobby", "phx_reply", {"response": {"reason": "unmatched topic"}, "status": "error"}])
    );
}

/// The chat's comprehension statics, as a 0.20 diff or a 1.1 `p` has them.
const CHAT_ROW: [&str; 3] = ["\n    <li><b>", "</b>: ", "</li>\n  "];

/// Two chat views, each on its own socket, and their merged trees.
struct Chat {
    pages: Vec<Page>,
    sockets: Vec<Socket>,
    trees: Vec<Rendered>,
    refs: u32,
}

impl Chat {
    /// Sends `body` from view `from`: the diff of its reply, which the
    /// other view must get as a push.
    fn say(&mut self, from: usize, body: &str) -> Value {
        self.refs += 1;
        let r = self.refs.to_string();
        let topic = |p: &Page| format!("lv:{}", p.id);
        let form = format!("body={}", body.replace(' ', "+"));
        let event = json!(["1", r, topic(&self.pages[from]), "event",
            {"type": "form", "event": "send", "value": form}]);
        send(&mut self.sockets[from], &event);
        let reply = next(&mut self.sockets[from]);
        assert_eq!(reply[1], r.as_str(), "{reply}");
        let diff = reply[4]["response"]["diff"].clone();
        self.trees[from].merge(&diff).unwrap();
        let other = 1 - from;
        let pushed = next(&mut self.sockets[other]);
        assert_eq!(
            head(&pushed),
            json!(["1", null, topic(&self.pages[other]), "diff"])
        );
        assert_eq!(pushed[4], diff, "both saw the same change");
        self.trees[other].merge(&pushed[4]).unwrap();
        diff
    }
}

fn chat_between_two(mode: &Mode) {
    let server = Server::with_args(mode.args);
    let pages = vec![
        get_page(&server, "/chat?user=ana", None),
        get_page(&server, "/chat?user=bob", None),
    ];
    assert!(
        pages[1].inner.contains("You are <b>bob</b>"),
        "{}",
        pages[1].inner
    );
    let mut chat = Chat {
        pages,
        sockets: Vec::new(),
        trees: Vec::new(),
        refs: 1,
    };
    for page in &chat.pages {
        let mut ws = live_socket(&server, Some(&page.csrf), Some(&page.cookie));
        let reply = join_reply(&mut ws, join_frame(page, "1", 0));
        assert_eq!(reply["status"], "ok", "{reply}");
        // The room is empty: its comprehension is skipped.
        assert_eq!(reply["response"]["rendered"]["1"], "");
        let (tree, _) = Rendered::join(&reply["response"]["rendered"]).unwrap();
        assert_eq!(squeeze(&tree.dead_html()), squeeze(&page.inner));
        chat.trees.push(tree);
        chat.sockets.push(ws);
    }
    // The first message brings the statics; the next one only its entry
    // (1.1) or every row again (0.20).
    let first = chat.say(0, "hi bob <3");
    let second = chat.say(1, "hey ana");
    if mode.version == "1.1.33" {
        let entry = json!({"0": "ana", "1": "hi bob &lt;3"});
        assert_eq!(
            first,
            json!({"1": {"k": {"0": entry, "kc": 1}, "s": 0}, "p": {"0": CHAT_ROW}})
        );
        assert_eq!(
            second,
            json!({"1": {"k": {"1": {"0": "bob", "1": "hey ana"}, "kc": 2}}})
        );
    } else {
        assert_eq!(
            first,
            json!({"1": {"d": [["ana", "hi bob &lt;3"]], "s": CHAT_ROW}})
        );
        assert_eq!(
            second,
            json!({"1": {"d": [["ana", "hi bob &lt;3"], ["bob", "hey ana"]]}})
        );
    }
    for tree in &chat.trees {
        let html = tree.dead_html();
        assert!(html.contains("<li><b>ana</b>: hi bob &lt;3</li>"), "{html}");
        assert!(html.contains("<li><b>bob</b>: hey ana</li>"), "{html}");
    }
    // An empty body changes nothing.
    let topic = format!("lv:{}", chat.pages[1].id);
    let empty = json!(["1", "9", topic, "event", {"type":"form","event":"send","value":"body="}]);
    send(&mut chat.sockets[1], &empty);
    assert_eq!(next(&mut chat.sockets[1])[4]["response"], json!({}));
    // A page fetched now shows the messages in its dead render.
    let late = get_page(&server, "/chat?user=cy", None);
    assert_eq!(
        squeeze(&chat.trees[1].dead_html()).replace("You are <b>bob", "You are <b>cy"),
        squeeze(&late.inner)
    );
}

#[test]
fn two_chat_users_see_each_others_messages_in_1_1() {
    chat_between_two(&V1_1);
}

#[test]
fn two_chat_users_see_each_others_messages_in_0_20() {
    chat_between_two(&V0_20);
}

#[test]
fn a_counter_over_long_poll() {
    let server = Server::start();
    let page = get_page(&server, "/counter", None);
    let cookie = [("Cookie", page.cookie.as_str())];
    let base = format!("/live/longpoll?_csrf_token={}&vsn=2.0.0", page.csrf);
    let open: Value = serde_json::from_str(&http(&server, "GET", &base, &cookie, "").body).unwrap();
    assert_eq!(open["status"], 410);
    let token = open["token"].as_str().unwrap();
    let target = format!("{base}&token={token}");
    let post = http(
        &server,
        "POST",
        &target,
        &[("Content-Type", "text/plain")],
        &join_frame(&page, "1", 0).to_string(),
    );
    assert_eq!(post.body, r#"{"status":200,"messages":[]}"#);
    let poll: Value = serde_json::from_str(&http(&server, "GET", &target, &[], "").body).unwrap();
    let reply: Value = serde_json::from_str(poll["messages"][0].as_str().unwrap()).unwrap();
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    assert_eq!(
        reply[4]["response"]["rendered"],
        serde_json::from_str::<Value>(STATICS_1_1).unwrap()
    );
}

#[test]
fn serve_refuses_an_unknown_liveview_version() {
    let out = std::process::Command::new(crate::support::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--liveview", "1.0"])
        .output()
        .expect("run the binary");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown LiveView version \"1.0\"; use 1.1 or 0.20"),
        "{stderr}"
    );
}

#[test]
fn the_client_s_page_parser_reads_both_pages() {
    let server = Server::start();
    for (path, title) in [
        ("/counter", "Counter · phx-repl"),
        ("/chat?user=ana", "Chat · phx-repl"),
    ] {
        let answer = http(&server, "GET", path, &[], "");
        let parsed = phx_repl::core::live::page::Page::parse(&answer.body);
        assert_eq!(parsed.title.as_deref(), Some(title));
        let ours = get_page(&server, path, None);
        assert!(
            parsed
                .csrf_token
                .as_ref()
                .is_some_and(|t| t.len() == ours.csrf.len())
        );
        assert_eq!(parsed.views.len(), 1);
        let main = parsed.main().expect("the main view");
        assert!(main.main && main.parent_id.is_none());
        assert!(main.id.starts_with("phx-") && main.id.len() == ours.id.len());
        assert!(main.session.starts_with("SFMyNTY.") && main.static_token.is_some());
        assert_eq!(squeeze(&main.inner_html), squeeze(&ours.inner));
    }
}

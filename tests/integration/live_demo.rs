//! The built-in server's `/demo` page and sign-in flow over real sockets
//! and HTTP, in both LiveView formats: a component and its targeted event
//! (`cid`), the title (`t`), a pushed event (`e`), the navigation replies
//! and pushes (`live_patch`, `live_redirect`, `redirect`), the nested view
//! joined on its own topic, and `/private` answering 302 to `/login`
//! unless a cookie signs the visitor in. Every join tree is rendered with
//! `phx_repl::core::live` and compared with the page's hand-written dead
//! render.

use std::time::Duration;

use phx_repl::core::live::Rendered;
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::stream::MaybeTlsStream;

use crate::support::Server;
use crate::support::live::{Answer, Socket, attr, http, next, send};

/// `serve` args and `liveview_version` of each format.
const FORMATS: [(&[&str], &str); 2] = [(&[], "1.1.33"), (&["--liveview", "0.20"], "0.20.17")];

/// One GET, with `cookie` if given.
fn get(server: &Server, target: &str, cookie: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    http(server, "GET", target, &headers, "")
}

/// A live page as a browser reads it.
struct Page {
    cookie: String,
    csrf: String,
    id: String,
    session: String,
    static_token: String,
    /// The main element's inner HTML: the dead render.
    inner: String,
    url: String,
    body: String,
}

fn get_page(server: &Server, target: &str, cookie: Option<&str>) -> Page {
    let answer = get(server, target, cookie);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let session_cookie = answer
        .header("set-cookie")
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("a first visit gets the session cookie");
    let cookie = match cookie {
        Some(c) => format!("{c}; {session_cookie}"),
        None => session_cookie,
    };
    let body = answer.body;
    let main_at = body.find("<div id=\"phx-").expect("the main element");
    let main = &body[main_at..];
    let open_end = main.find('>').unwrap();
    let inner_end = main.rfind("</div>\n  </body>").unwrap();
    Page {
        cookie,
        csrf: attr(&body, "content"),
        id: attr(main, "id"),
        session: attr(main, "data-phx-session"),
        static_token: attr(main, "data-phx-static"),
        inner: main[open_end + 1..inner_end].to_owned(),
        url: format!("http://{}{target}", server.addr()),
        body: body.clone(),
    }
}

fn live_socket(server: &Server, page: &Page) -> Socket {
    let url = format!(
        "ws://{}/live/websocket?_csrf_token={}&vsn=2.0.0",
        server.addr(),
        page.csrf
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(&page.cookie).unwrap());
    let (ws, _) = tungstenite::connect(req).expect("the upgrade is accepted");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    ws
}

/// Joins `topic` with `session` and `static_token` as join_ref `jr`; the
/// reply's payload.
fn join(ws: &mut Socket, page: &Page, topic: &str, jr: &str, session: &str, st: Value) -> Value {
    send(
        ws,
        &json!([jr, jr, topic, "phx_join", {
            "url": page.url,
            "params": {"_csrf_token": page.csrf, "_mounts": 0},
            "session": session,
            "static": st,
        }]),
    );
    let reply = next(ws);
    let head = Value::Array(reply.as_array().expect("a frame")[..4].to_vec());
    assert_eq!(head, json!([jr, jr, topic, "phx_reply"]), "{reply}");
    reply[4].clone()
}

/// A joined demo: its socket, topic, join_ref, the merged tree and the
/// join's tree as sent.
struct Demo {
    ws: Socket,
    page: Page,
    topic: String,
    jr: String,
    refs: u32,
    tree: Rendered,
    rendered: Value,
}

impl Demo {
    fn open(server: &Server, target: &str, version: &str) -> Demo {
        let page = get_page(server, target, None);
        let mut ws = live_socket(server, &page);
        let topic = format!("lv:{}", page.id);
        let payload = join(
            &mut ws,
            &page,
            &topic,
            "1",
            &page.session,
            json!(page.static_token),
        );
        assert_eq!(payload["status"], "ok", "{payload}");
        assert_eq!(payload["response"]["liveview_version"], version);
        let rendered = payload["response"]["rendered"].clone();
        let (tree, update) = Rendered::join(&rendered).expect("a tree");
        assert_eq!(update.title.as_deref(), Some("Demo"));
        Demo {
            ws,
            page,
            topic,
            jr: "1".into(),
            refs: 1,
            tree,
            rendered,
        }
    }

    /// Pushes an event; the frames up to and including its reply.
    fn push(&mut self, event: Value) -> Vec<Value> {
        self.refs += 1;
        let r = self.refs.to_string();
        send(
            &mut self.ws,
            &json!([self.jr, r, self.topic, "event", event]),
        );
        let mut frames = Vec::new();
        loop {
            let f = next(&mut self.ws);
            let done = f[1] == r.as_str();
            frames.push(f);
            if done {
                return frames;
            }
        }
    }

    /// Pushes an event whose only answer is an ok reply: its response,
    /// its diff merged.
    fn reply(&mut self, event: Value) -> Value {
        let frames = self.push(event);
        assert_eq!(frames.len(), 1, "{frames:?}");
        let reply = &frames[0];
        assert_eq!(reply[3], "phx_reply");
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        let response = reply[4]["response"].clone();
        if let Some(d) = response.get("diff") {
            self.tree.merge(d).expect("the diff merges");
        }
        response
    }

    fn close_frame(&self) -> Value {
        json!([self.jr, self.jr, self.topic, "phx_close", {}])
    }

    /// After the view stopped: an event finds no channel.
    fn assert_gone(&mut self) {
        let frames = self.push(json!({"type":"click","event":"ping","value":{}}));
        assert_eq!(
            frames.last().unwrap()[4],
            json!({"response": {"reason": "unmatched topic"}, "status": "error"})
        );
    }
}

fn click(event: &str) -> Value {
    json!({"type": "click", "event": event, "value": {}})
}

#[test]
fn the_demo_join_renders_its_dead_render_with_the_child_s_connected_container() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let d = Demo::open(&server, "/demo?tab=3", version);
        assert!(
            d.page
                .body
                .contains("<title data-suffix=\" · phx-repl\">Demo · phx-repl</title>"),
            "{}",
            d.page.body
        );
        assert_eq!(d.rendered["t"], "Demo");
        assert_eq!(d.rendered["1"], 1, "the component by cid");
        assert_eq!(d.rendered["c"]["1"]["r"], 1);
        assert!(d.rendered["c"]["1"]["s"].is_array(), "{}", d.rendered);
        assert_eq!(d.rendered.get("p").is_some(), version == "1.1.33");
        // The dead render holds the child's first render and no session;
        // the connected tree holds its container, empty, with a session.
        let child_at = d.page.inner.find("<div id=\"demo-child\"").unwrap();
        let dead_child = &d.page.inner[child_at..];
        assert_eq!(attr(dead_child, "data-phx-session"), "");
        assert_eq!(attr(dead_child, "data-phx-parent-id"), d.page.id);
        let html = d.tree.dead_html();
        assert_eq!(html[..child_at], d.page.inner[..child_at]);
        assert!(html.contains("<p>Tab: 3</p>"), "{html}");
        let container = d.rendered["2"].as_str().unwrap();
        assert_eq!(&html[child_at..], container);
        assert!(attr(container, "data-phx-session").starts_with("SFMyNTY."));
        assert_eq!(attr(container, "data-phx-static"), "");
        assert_eq!(attr(container, "data-phx-parent-id"), d.page.id);
        // The client's page parser sees both views.
        let parsed = phx_repl::core::live::page::Page::parse(&d.page.body);
        assert_eq!(parsed.views.len(), 2);
        let child = parsed.children(&d.page.id).next().expect("the child");
        assert_eq!(child.id, "demo-child");
    }
}

#[test]
fn a_component_event_answers_with_its_cid_s_diff_and_a_lost_cid_with_nothing() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let mut d = Demo::open(&server, "/demo", version);
        let mut toggle = click("toggle");
        toggle["cid"] = json!(1);
        assert_eq!(
            d.reply(toggle.clone()),
            json!({"diff": {"c": {"1": {"0": "on"}}}})
        );
        assert!(d.tree.dead_html().contains("<p>Toggle: on</p>"));
        toggle["cid"] = json!(9);
        assert_eq!(d.reply(toggle), json!({}));
        // The view's own handler has no `toggle`: without a cid it
        // crashes, and no reply comes.
        send(
            &mut d.ws,
            &json!([d.jr, "9", d.topic, "event", click("toggle")]),
        );
        let crash = next(&mut d.ws);
        assert_eq!(
            crash,
            json!([
                d.jr,
                d.jr,
                d.topic,
                "phx_error",
                if version == "1.1.33" {
                    json!({"reason": "channel_crash"})
                } else {
                    json!({})
                }
            ])
        );
    }
}

#[test]
fn rename_sends_the_title_and_ping_a_pushed_event() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let mut d = Demo::open(&server, "/demo", version);
        let rename = json!({"type": "form", "event": "rename", "value": "title=Hello+you"});
        assert_eq!(d.reply(rename), json!({"diff": {"t": "Hello you"}}));
        assert_eq!(d.tree.title(), Some("Hello you"));
        let pong = d.reply(click("ping"));
        assert_eq!(pong, json!({"diff": {"e": [["pong", {"pings": 1}]]}}));
        let update = d.tree.merge(&pong["diff"]).unwrap();
        assert_eq!(update.events.len(), 1);
        assert_eq!(update.events[0].name, "pong");
        // Renaming to the same title changes nothing.
        let again = json!({"type": "form", "event": "rename", "value": "title=Hello+you"});
        assert_eq!(d.reply(again), json!({}));
    }
}

#[test]
fn navigation_from_events_takes_channel_ex_s_shapes() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let mut d = Demo::open(&server, "/demo", version);
        // push_patch: the live_patch is pushed, then the reply brings the
        // diff of handle_params.
        let frames = d.push(click("patch"));
        assert_eq!(
            frames[0],
            json!([d.jr, null, d.topic, "live_patch", {"kind": "push", "to": "/demo?tab=2"}])
        );
        assert_eq!(frames[1][4]["response"], json!({"diff": {"0": "2"}}));
        assert_eq!(frames.len(), 2);
        // push_navigate: in the reply, then the channel closes.
        let frames = d.push(click("go"));
        assert_eq!(
            frames[0][4]["response"],
            json!({"live_redirect": {"kind": "push", "to": "/counter"}})
        );
        assert_eq!(next(&mut d.ws), d.close_frame());
        d.assert_gone();

        // redirect: the same, with `redirect`.
        let mut d = Demo::open(&server, "/demo", version);
        let frames = d.push(click("leave"));
        assert_eq!(frames[0][4]["response"], json!({"redirect": {"to": "/"}}));
        assert_eq!(next(&mut d.ws), d.close_frame());
        d.assert_gone();

        // From handle_info: the reply first, then the pushed live_redirect
        // and the close.
        let mut d = Demo::open(&server, "/demo", version);
        assert_eq!(d.reply(click("later")), json!({}));
        assert_eq!(
            next(&mut d.ws),
            json!([d.jr, null, d.topic, "live_redirect", {"kind": "push", "to": "/counter"}])
        );
        assert_eq!(next(&mut d.ws), d.close_frame());
        d.assert_gone();
    }
}

#[test]
fn the_nested_view_joins_on_its_own_topic_and_bumps() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let mut d = Demo::open(&server, "/demo", version);
        let container = d.rendered["2"].as_str().unwrap().to_owned();
        let dead_child =
            d.page.inner[d.page.inner.find("<div id=\"demo-child\"").unwrap()..].to_owned();
        let topic = "lv:demo-child";
        // The dead render's empty session does not join.
        let stale = join(&mut d.ws, &d.page, topic, "5", "", json!(null));
        assert_eq!(stale["response"], json!({"reason": "stale"}));
        // The connected session with the dead render's static does.
        let session = attr(&container, "data-phx-session");
        let ok = join(
            &mut d.ws,
            &d.page,
            topic,
            "6",
            &session,
            json!(attr(&dead_child, "data-phx-static")),
        );
        assert_eq!(ok["status"], "ok", "{ok}");
        assert_eq!(ok["response"]["liveview_version"], version);
        let (mut child, _) = Rendered::join(&ok["response"]["rendered"]).unwrap();
        let open_end = dead_child.find('>').unwrap();
        let child_inner = &dead_child[open_end + 1..dead_child.len() - "</div>".len()];
        assert_eq!(child.dead_html(), child_inner);
        send(
            &mut d.ws,
            &json!(["6", "7", topic, "event", {"type":"click","event":"bump","value":{}}]),
        );
        let reply = next(&mut d.ws);
        assert_eq!(
            reply,
            json!(["6", "7", topic, "phx_reply", {"response": {"diff": {"0": "1"}}, "status": "ok"}])
        );
        child.merge(&reply[4]["response"]["diff"]).unwrap();
        assert!(child.dead_html().contains("Child bumps: 1"));
        // The parent is untouched by it.
        assert_eq!(d.reply(click("ping"))["diff"]["e"][0][0], "pong");
    }
}

#[test]
fn private_sends_a_visitor_without_the_cookie_to_the_login_page() {
    for (args, version) in FORMATS {
        let server = Server::with_args(args);
        let index = get(&server, "/", None).body;
        assert!(index.contains("href=\"/demo\""), "{index}");
        assert!(index.contains("href=\"/private\""), "{index}");
        let away = get(&server, "/private", None);
        assert_eq!(away.status, 302, "{}", away.body);
        assert_eq!(away.header("location"), Some("/login"));
        // The login page is a LiveView of its own.
        let login = get_page(&server, "/login", None);
        let mut ws = live_socket(&server, &login);
        let topic = format!("lv:{}", login.id);
        let reply = join(
            &mut ws,
            &login,
            &topic,
            "1",
            &login.session,
            json!(login.static_token),
        );
        assert_eq!(reply["response"]["liveview_version"], version);
        let (tree, _) = Rendered::join(&reply["response"]["rendered"]).unwrap();
        assert_eq!(tree.dead_html(), login.inner);
        // With the cookie: the page, and a join that shows the user.
        let private = get_page(&server, "/private", Some("_phx_repl_user=ana"));
        assert!(
            private.inner.contains("Signed in as <b>ana</b>"),
            "{}",
            private.inner
        );
        let mut ws = live_socket(&server, &private);
        let topic = format!("lv:{}", private.id);
        let reply = join(
            &mut ws,
            &private,
            &topic,
            "1",
            &private.session,
            json!(private.static_token),
        );
        assert_eq!(reply["status"], "ok", "{reply}");
        let (tree, _) = Rendered::join(&reply["response"]["rendered"]).unwrap();
        assert_eq!(tree.dead_html(), private.inner);
    }
}

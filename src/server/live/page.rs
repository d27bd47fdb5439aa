//! The LiveView pages over plain HTTP: `GET /` (an index), `GET /counter`
//! and `GET /chat` (docs/PROTOCOL.md §10, "Getting in"). Each live page
//! carries the session cookie (when the request brought none that
//! verifies), the CSRF meta, a `<title>`, and the main element with its
//! signed session and static tokens around the page's hand-written first
//! render.
//!
//! `handshake.rs` hands over requests for these paths; the request head
//! is read and the answer written with `http.rs`.

use std::io::Write;

use tungstenite::http::{HeaderValue, Response, StatusCode, header};

use super::super::http;
use super::super::stream::ServerStream;
use super::{
    COOKIE, CookieData, SessionData, Shared, StaticData, chat, counter, demo, nested, token,
};

/// The paths served here.
const PAGES: [&str; 6] = ["/", "/counter", "/chat", "/demo", "/login", "/private"];

/// The cookie that signs a visitor in to `/private`.
pub const USER_COOKIE: &str = "_phx_repl_user";

/// Whether `path` is one of the pages.
pub fn is_page(path: &str) -> bool {
    PAGES.contains(&path)
}

/// Answers one request for a page on `stream`, of which `head` was read;
/// a line for the log.
pub fn answer(stream: &mut ServerStream, head: &[u8], shared: &Shared) -> String {
    let (response, line) = match http::parse_head(head) {
        Ok(h) => {
            let path = http::request_path(head).unwrap_or("/");
            let line = format!("{} {path}", h.method);
            (
                respond(h.method, path, h.query, h.header("cookie"), shared),
                line,
            )
        }
        Err(e) => (
            plain(StatusCode::BAD_REQUEST, format!("bad request: {e}")),
            format!("bad page request: {e}"),
        ),
    };
    let status = response.status();
    // HEAD gets GET's head, Content-Length included, and no body (Plug.Head).
    let mut response = response;
    if head.starts_with(b"HEAD ") {
        *response.body_mut() = None;
    }
    let _ = stream
        .write_all(&http::to_bytes(&response))
        .and_then(|()| stream.flush());
    stream.close_notify();
    format!("{line} -> {status}")
}

/// The response to `method path?query` with `cookie` (the request's
/// `Cookie` header).
pub fn respond(
    method: &str,
    path: &str,
    query: Option<&str>,
    cookie: Option<&str>,
    shared: &Shared,
) -> Response<Option<String>> {
    // The router has GET routes only (`live "/counter", …`); anything
    // else matches no route: 404, as Phoenix's NoRouteError.
    if method != "GET" && method != "HEAD" {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no route for {method} {path}; the pages answer GET"),
        );
    }
    let view = match path {
        "/counter" => "counter",
        "/chat" => "chat",
        "/demo" => "demo",
        "/login" => "login",
        "/private" => "private",
        _ => return html(INDEX.to_owned(), None),
    };
    // `require_authenticated_user`: no user, off to the login page.
    let user = cookie_value(cookie, USER_COOKIE).filter(|u| !u.is_empty());
    if view == "private" && user.is_none() {
        return found("/login");
    }
    live_page(view, query, user, cookie, shared)
}

/// A LiveView page: the session cookie if needed, the CSRF meta, the
/// title and the main element around `view`'s first render.
fn live_page(
    view: &str,
    query: Option<&str>,
    user: Option<&str>,
    cookie: Option<&str>,
    shared: &Shared,
) -> Response<Option<String>> {
    // A valid cookie keeps its CSRF secret, as a browser session does.
    let (secret, set_cookie) = match shared.cookie_secret(cookie) {
        Some(secret) => (secret, None),
        None => {
            let secret = token::random_string::<18>();
            let data = json(&CookieData {
                csrf: secret.clone(),
            });
            let value = shared.signer().sign(&data);
            (
                secret,
                Some(format!("{COOKIE}={value}; path=/; HttpOnly; SameSite=Lax")),
            )
        }
    };
    let id = format!("phx-{}", token::random_string::<12>());
    let signer = shared.signer();
    let (title, session_user, dead) = first_render(view, query, user, &id, shared);
    let session = signer.sign(&json(&SessionData {
        id: id.clone(),
        view: view.to_owned(),
        user: session_user,
        parent: None,
    }));
    let static_token = signer.sign(&json(&StaticData { id: id.clone() }));
    let csrf = token::mask(&secret);
    let body = format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="csrf-token" content="{csrf}">
    {title}
  </head>
  <body>
    <div id="{id}" data-phx-main data-phx-session="{session}" data-phx-static="{static_token}">{dead}</div>
  </body>
</html>
"#
    );
    html(body, set_cookie)
}

/// `view`'s `<title>` element, the user its session names, and its first
/// render inside the main element `id`.
fn first_render(
    view: &str,
    query: Option<&str>,
    user: Option<&str>,
    id: &str,
    shared: &Shared,
) -> (String, Option<String>, String) {
    match view {
        "chat" => {
            let user = crate::server::connect::param(query, "user")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| shared.guest_name());
            let dead = chat::dead_render(&user, &shared.messages());
            (plain_title(chat::TITLE), Some(user), dead)
        }
        "demo" => {
            // The nested view's static token; its session is signed when
            // the parent's connected render shows it.
            let child_static = shared.signer().sign(&json(&StaticData {
                id: demo::CHILD_ID.to_owned(),
            }));
            let dead = demo::dead_render(&demo::tab_of(query), id, &child_static);
            // `<.live_title>`: the title the join's `t` replaces, and the
            // suffix the browser keeps around it.
            let title = format!(
                "<title data-suffix=\"{suffix}\">{t}{suffix}</title>",
                t = demo::TITLE,
                suffix = demo::TITLE_SUFFIX
            );
            (title, None, dead)
        }
        "login" => (
            plain_title(nested::LOGIN_TITLE),
            None,
            nested::LOGIN_RENDER.to_owned(),
        ),
        "private" => {
            let user = user.unwrap_or_default().to_owned();
            let dead = nested::private_render(&user);
            (plain_title(nested::PRIVATE_TITLE), Some(user), dead)
        }
        _ => (
            plain_title(counter::TITLE),
            None,
            counter::DEAD_RENDER.to_owned(),
        ),
    }
}

/// `<title>T · phx-repl</title>`.
fn plain_title(title: &str) -> String {
    format!("<title>{title} · phx-repl</title>")
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie_value<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A 302 to `to`, with the body `Phoenix.Controller.redirect/2` sends.
fn found(to: &str) -> Response<Option<String>> {
    let body = format!("<html><body>You are being <a href=\"{to}\">redirected</a>.</body></html>");
    let mut resp = html(body, None);
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(location) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp
}

/// The index: links to the live pages, and no LiveView of its own.
const INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>phx-repl</title>
  </head>
  <body>
    <h1>phx-repl's built-in server</h1>
    <p>LiveView pages:</p>
    <ul>
      <li><a href="/counter">/counter</a>: a counter with a tick</li>
      <li><a href="/chat">/chat</a>: a chat room (add <code>?user=NAME</code>)</li>
      <li><a href="/demo">/demo</a>: a component, a title, a pushed event, navigation and a nested view</li>
      <li><a href="/private">/private</a>: sends you to <a href="/login">/login</a> unless the cookie <code>_phx_repl_user=NAME</code> signs you in</li>
    </ul>
    <p>Channels: <code>/socket/websocket</code>; Absinthe: <code>/gql/websocket</code>.</p>
  </body>
</html>
"#;

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs serialize")
}

/// A 200 HTML response, setting `cookie` if given.
fn html(body: String, cookie: Option<String>) -> Response<Option<String>> {
    let mut resp = Response::new(None);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, private, must-revalidate"),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    *resp.body_mut() = Some(body);
    resp
}

/// A text/plain response.
fn plain(status: StatusCode, body: String) -> Response<Option<String>> {
    let text = http::text_response(status, body);
    let (parts, body) = text.into_parts();
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::live::Format;

    fn body(resp: &Response<Option<String>>) -> &str {
        resp.body().as_deref().unwrap_or_default()
    }

    fn attr<'a>(html: &'a str, name: &str) -> &'a str {
        let start = html.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        let len = html[start..].find('"').unwrap();
        &html[start..start + len]
    }

    #[test]
    fn a_page_sets_the_cookie_whose_secret_its_csrf_token_masks() {
        let shared = Shared::new(Format::V1_1);
        let resp = respond("GET", "/counter", None, None, &shared);
        assert_eq!(resp.status(), StatusCode::OK);
        let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("_phx_repl_key=SFMyNTY."), "{cookie}");
        let pair = cookie.split(';').next().unwrap();
        let secret = shared.cookie_secret(Some(pair)).unwrap();
        let html = body(&resp);
        assert!(token::unmasks_to(attr(html, "content"), &secret));
        assert!(html.contains(&format!("data-phx-static=\"{}", "SFMyNTY.")));
        assert!(html.contains(counter::DEAD_RENDER));
        let id = attr(html, "id");
        let session = shared.signer().verify(attr(html, "data-phx-session"));
        assert!(session.unwrap().contains(id));
        // With that cookie, the next page keeps the secret and sets none.
        let again = respond("GET", "/counter", None, Some(pair), &shared);
        assert!(again.headers().get(header::SET_COOKIE).is_none());
        assert!(token::unmasks_to(attr(body(&again), "content"), &secret));
    }

    #[test]
    fn the_chat_page_names_its_user_and_other_methods_are_refused() {
        let shared = Shared::new(Format::V0_20);
        let resp = respond("GET", "/chat", Some("user=a%26b"), None, &shared);
        assert!(body(&resp).contains("You are <b>a&amp;b</b>"));
        let guest = respond("GET", "/chat", None, None, &shared);
        assert!(body(&guest).contains("You are <b>guest-1</b>"));
        let post = respond("POST", "/counter", None, None, &shared);
        assert_eq!(post.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            respond("HEAD", "/", None, None, &shared).status(),
            StatusCode::OK
        );
        assert!(body(&respond("GET", "/", None, None, &shared)).contains("href=\"/chat\""));
    }

    #[test]
    fn private_sends_a_visitor_without_the_user_cookie_to_login() {
        let shared = Shared::new(Format::V1_1);
        let away = respond("GET", "/private", None, Some("x=y"), &shared);
        assert_eq!(away.status(), StatusCode::FOUND);
        assert_eq!(away.headers()[header::LOCATION], "/login");
        assert!(body(&away).contains("href=\"/login\""));
        let cookie = "a=b; _phx_repl_user=a<b";
        let ok = respond("GET", "/private", None, Some(cookie), &shared);
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(body(&ok).contains("Signed in as <b>a&lt;b</b>"));
        assert_eq!(
            respond("GET", "/login", None, None, &shared).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn the_demo_page_has_its_child_without_a_session() {
        let shared = Shared::new(Format::V0_20);
        let resp = respond("GET", "/demo", Some("tab=4"), None, &shared);
        let html = body(&resp);
        assert!(html.contains("<p>Tab: 4</p>"), "{html}");
        let child = &html[html.find("<div id=\"demo-child\"").unwrap()..];
        assert_eq!(attr(child, "data-phx-session"), "");
        let st = shared.signer().verify(attr(child, "data-phx-static"));
        assert_eq!(st.as_deref(), Some(r#"{"id":"demo-child"}"#));
        let main_id = attr(html, "id");
        assert_eq!(attr(child, "data-phx-parent-id"), main_id);
    }
}

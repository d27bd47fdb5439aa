//! Getting into a LiveView (docs/PROTOCOL.md §10 "Getting in"): fetch the
//! page, find its main view, and work out the `/live` socket to connect to
//! (its CSRF token in the query, the page's cookie and origin on the
//! upgrade) and the join to send.
//!
//! The same steps serve `phx-repl live URL` (before the network thread
//! starts), the `live URL` command, live navigation, and the reload after
//! `stale`, which fetches the page again with the same cookie jar.

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use crate::core::endpoint;
use crate::core::live::page::Page;
use crate::core::protocol::Vsn;
use crate::transport::page::{Fetcher, PageError};
use crate::transport::tls::Trust;

/// What every LiveView of a session is opened with: the client's flags.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub trust: Trust,
    /// `-H` headers (an `Origin` among them wins over the page's), not
    /// the auth token's.
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// `--live-path`: the LiveView socket's path, `/live` by default.
    pub live_path: String,
    /// `-p`: connect params for the `/live` socket, after `_csrf_token`
    /// (an app's `LiveSocket` `params`).
    pub params: Vec<(String, String)>,
    /// `--follow`: follow a redirect away from the page.
    pub follow: bool,
    pub longpoll: bool,
    pub vsn: Vsn,
}

/// Why a LiveView could not be opened. One line each.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("no data-phx-session on {url} (HTTP {status}); is this a live route?")]
    NoLiveView { url: String, status: u16 },
    #[error(
        "`{0}` is not a page URL; give one such as http://localhost:4000/counter, or a path such as /counter"
    )]
    NotAUrl(String),
    #[error(
        "`{typed}` is a socket's URL; `live` opens a page and finds its socket itself: give the page, as in {page}"
    )]
    SocketUrl { typed: String, page: String },
    #[error("cannot make the LiveView socket's URL from {url}: {why}")]
    Socket { url: String, why: String },
}

/// What joining one view sends, read off its page.
#[derive(Debug, Clone)]
pub struct JoinParts {
    pub csrf: Option<String>,
    pub session: String,
    pub static_token: Option<String>,
}

/// A page fetched and read: everything needed to connect and join.
#[derive(Debug)]
pub struct Opened {
    /// Where the page was found (after redirects followed).
    pub page_url: Url,
    /// The main view's id (`lv:ID` is its topic).
    pub view_id: String,
    pub join: JoinParts,
    /// The socket to connect to, and the upgrade's headers.
    pub socket: Url,
    pub headers: Vec<(String, String)>,
}

/// The page URL `typed` names: a full `http(s)://` URL (a `ws(s)://` one
/// is taken as its `http(s)` twin), or a path on `origin`.
pub fn page_url(typed: &str, origin: Option<&Url>) -> Result<Url, LiveError> {
    let bad = || LiveError::NotAUrl(crate::output::excerpt(typed, 60));
    if typed.starts_with('/') {
        let origin = origin.ok_or_else(bad)?;
        return origin.join(typed).map_err(|_| bad());
    }
    let mut url = Url::parse(typed).map_err(|_| bad())?;
    if is_socket_path(&url) {
        return Err(LiveError::SocketUrl {
            typed: crate::output::excerpt(typed, 60),
            page: format!(
                "{}://{}/counter",
                if matches!(url.scheme(), "https" | "wss") {
                    "https"
                } else {
                    "http"
                },
                url.host_str().unwrap_or("localhost").to_owned()
                    + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
        });
    }
    let scheme = match url.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return Err(bad()),
    };
    if url.scheme() != scheme {
        url.set_scheme(scheme).map_err(|()| bad())?;
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url)
}

/// Whether `url` names a Phoenix socket rather than a page: `/socket`,
/// `/live`, or a transport's `…/websocket` or `…/longpoll`.
fn is_socket_path(url: &Url) -> bool {
    let path = url.path().trim_end_matches('/');
    matches!(path, "/socket" | "/live")
        || path.ends_with("/websocket")
        || path.ends_with("/longpoll")
}

/// The page origin a socket URL stands for: `http` for `ws`, `https` for
/// `wss`, with the socket's host and port.
pub fn origin_of(socket: &Url) -> Option<Url> {
    let scheme = match socket.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return None,
    };
    let host = socket.host_str()?;
    let port = socket.port().map(|p| format!(":{p}")).unwrap_or_default();
    Url::parse(&format!("{scheme}://{host}{port}/")).ok()
}

/// Fetches `url` and reads its main view; the socket's URL and headers
/// come with it.
pub fn open(fetcher: &mut Fetcher, url: &Url, opts: &LiveOptions) -> Result<Opened, LiveError> {
    let fetched = fetcher.get(url, opts.follow)?;
    let page = Page::parse(&fetched.body);
    let Some(main) = page.main() else {
        return Err(LiveError::NoLiveView {
            url: fetched.url.to_string(),
            status: fetched.status,
        });
    };
    let join = JoinParts {
        csrf: page.csrf_token.clone(),
        session: main.session.clone(),
        static_token: main.static_token.clone(),
    };
    let (socket, headers) = socket_for(fetcher, &fetched.url, join.csrf.as_deref(), opts)?;
    Ok(Opened {
        page_url: fetched.url,
        view_id: main.id.clone(),
        join,
        socket,
        headers,
    })
}

/// The `/live` socket of the page at `page` and its upgrade's headers:
/// `_csrf_token` and `vsn` in the query, the jar's cookies, and the page's
/// origin as `Origin` (what a browser sends, and what Phoenix's
/// `check_origin` checks) unless `-H` gave one.
fn socket_for(
    fetcher: &Fetcher,
    page: &Url,
    csrf: Option<&str>,
    opts: &LiveOptions,
) -> Result<(Url, Vec<(String, String)>), LiveError> {
    let failed = |why: String| LiveError::Socket {
        url: page.to_string(),
        why,
    };
    let mut base = page.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.set_path(&opts.live_path);
    let mut params: Vec<(String, String)> = csrf
        .map(|t| vec![("_csrf_token".to_owned(), t.to_owned())])
        .unwrap_or_default();
    params.extend(opts.params.iter().cloned());
    let socket = endpoint::normalize_for(base.as_str(), &params, opts.vsn, opts.longpoll)
        .map_err(|e| failed(e.to_string()))?;
    let mut headers: Vec<(String, String)> = opts
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
        .cloned()
        .collect();
    if let Some(cookie) = fetcher.cookie_header(&socket) {
        headers.push(("Cookie".to_owned(), cookie));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
    {
        let origin = page.origin().ascii_serialization();
        headers.push(("Origin".to_owned(), origin));
    }
    Ok((socket, headers))
}

/// The join payload of a view (docs/PROTOCOL.md §10): the page's URL, the
/// CSRF token and mount count as params, the session and static tokens.
pub fn join_payload(page: &Url, join: &JoinParts, mounts: u32) -> Value {
    let mut params = json!({ "_mounts": mounts });
    if let Some(t) = &join.csrf {
        params["_csrf_token"] = json!(t);
    }
    json!({
        "url": page.as_str(),
        "params": params,
        "session": join.session,
        "static": join.static_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_resolves_on_the_origin_and_ws_counts_as_http() {
        let origin = origin_of(&Url::parse("ws://127.0.0.1:4000/socket/websocket").unwrap());
        assert_eq!(
            page_url("/counter", origin.as_ref()).unwrap().as_str(),
            "http://127.0.0.1:4000/counter"
        );
        let tls = origin_of(&Url::parse("wss://example.com/socket").unwrap());
        assert_eq!(
            page_url("/chat?user=bob", tls.as_ref()).unwrap().as_str(),
            "https://example.com/chat?user=bob"
        );
        assert_eq!(page_url("wss://h/x", None).unwrap().as_str(), "https://h/x");
        assert!(page_url("/counter", None).is_err());
        assert!(page_url("ftp://h/x", None).is_err());
    }

    #[test]
    fn the_socket_carries_the_token_the_cookie_and_the_origin() {
        let opts = LiveOptions {
            trust: Trust::default(),
            headers: vec![("Cookie".into(), "_k=v".into()), ("X-A".into(), "1".into())],
            timeout: Duration::from_secs(1),
            live_path: "/live".into(),
            params: Vec::new(),
            follow: false,
            longpoll: false,
            vsn: Vsn::V2,
        };
        let mut f = Fetcher::new(&opts.trust, &opts.headers, opts.timeout).unwrap();
        let page = Url::parse("http://h:4000/counter?x=1").unwrap();
        // The jar learns `-H` cookies on the first fetch; none here.
        let _ = &mut f;
        let (socket, headers) = socket_for(&f, &page, Some("T"), &opts).unwrap();
        assert_eq!(
            socket.as_str(),
            "ws://h:4000/live/websocket?vsn=2.0.0&_csrf_token=T"
        );
        assert!(headers.contains(&("X-A".into(), "1".into())));
        assert!(headers.contains(&("Origin".into(), "http://h:4000".into())));
        assert!(!headers.iter().any(|(k, _)| k == "Cookie"));
        let join = JoinParts {
            csrf: Some("T".into()),
            session: "S".into(),
            static_token: None,
        };
        assert_eq!(
            join_payload(&page, &join, 2),
            json!({"url": "http://h:4000/counter?x=1",
                   "params": {"_csrf_token": "T", "_mounts": 2},
                   "session": "S", "static": null})
        );
    }
}

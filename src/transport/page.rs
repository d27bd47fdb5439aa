//! Fetching a LiveView page over HTTP(S): a GET with a cookie jar, the
//! user's `-H` headers, a timeout and a size cap, with the same TLS trust
//! as the socket (`tls.rs`: the bundled and system roots, `--ca-cert`,
//! `--insecure`).
//!
//! Redirects are taken one at a time, so that one away from the requested
//! page can be told instead of followed: the login page of a generated
//! Phoenix app is itself a LiveView, and joining it silently would test
//! the wrong page (docs/PROTOCOL.md §10 "Getting in"). A redirect to the
//! same path (a trailing slash added or dropped) is always followed.
//!
//! The jar outlives each fetch: the socket's upgrade (and every long-poll
//! request) carries its cookies for the page's origin, and a reload after
//! `stale` fetches the page again with them.

use std::io::Read;
use std::time::Duration;

use cookie_store::CookieStore;
use url::Url;

use super::tls::{self, TlsError, Trust};

/// The largest page read, so a hostile or mistaken URL cannot fill memory.
pub const MAX_PAGE: u64 = 8 * 1024 * 1024;
/// Redirects followed for one fetch, at most.
const MAX_REDIRECTS: usize = 10;

/// Why a page could not be fetched. Each is one line.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Connecting, TLS, or reading the answer failed.
    #[error("cannot fetch {url}: {why}")]
    Request { url: String, why: String },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}; is the address right?")]
    Status { url: String, status: u16 },
    /// Sent away from the requested page, and not followed.
    #[error("{from} redirected to {to} (HTTP {status}): the page needs a login; {hint}")]
    Redirect {
        from: String,
        to: String,
        status: u16,
        /// What to type instead, where the error is shown.
        hint: String,
    },
    /// A redirect with no usable `Location`.
    #[error("{url} answered HTTP {status} with no usable Location header")]
    BadRedirect { url: String, status: u16 },
    #[error("{url} redirected more than {MAX_REDIRECTS} times; is it a redirect loop?")]
    TooManyRedirects { url: String },
    #[error("the page at {url} is larger than {} MiB; is it a LiveView page?", MAX_PAGE / 1024 / 1024)]
    TooLarge { url: String },
}

/// A page as fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it was found, after the redirects followed.
    pub url: Url,
    pub status: u16,
    pub body: String,
}

/// Fetches pages with one cookie jar.
pub struct Fetcher {
    agent: ureq::Agent,
    jar: CookieStore,
    /// `-H` headers sent with every request (not `Cookie`: it went into
    /// the jar).
    headers: Vec<(String, String)>,
    /// The command that opened the page at the prompt (`live /private`),
    /// for a redirect's hint; `None` on the command line.
    command: Option<String>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher trusting what `trust` says, sending `headers`, giving up
    /// on a request after `timeout`.
    pub fn new(
        trust: &Trust,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Fetcher, PageError> {
        let tls = if trust.insecure {
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build()
        } else {
            let roots: Vec<ureq::tls::Certificate<'static>> = tls::root_certificates(trust)?
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            // The system's roots (and --ca-cert) when there are any; else
            // the bundled web roots, as the socket falls back to.
            let roots = if roots.is_empty() {
                ureq::tls::RootCerts::WebPki
            } else {
                ureq::tls::RootCerts::new_with_certs(&roots)
            };
            ureq::tls::TlsConfig::builder().root_certs(roots).build()
        };
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            // Each step on its own, so that the error can say which one
            // stalled: the connection, or the answer to the request.
            .timeout_connect(Some(timeout))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .tls_config(tls)
            .user_agent(concat!("phx-repl/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut fetcher = Fetcher {
            agent: ureq::Agent::new_with_config(config),
            jar: CookieStore::default(),
            headers: Vec::new(),
            command: None,
        };
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("cookie") {
                fetcher.pending_cookies(v);
            } else if !skipped(k) {
                fetcher.headers.push((k.clone(), v.clone()));
            }
        }
        Ok(fetcher)
    }

    /// The page was opened at the prompt by `command` (`live /private`):
    /// a redirect's hint is a line to type there, not a command-line flag.
    pub fn opened_by(mut self, command: String) -> Fetcher {
        self.command = Some(command);
        self
    }

    /// What to do about a redirect to a login page, where it is shown.
    fn redirect_hint(&self) -> String {
        match &self.command {
            None => "pass the session cookie with -H 'Cookie: …', or --follow to join the page \
                     it leads to"
                .to_owned(),
            Some(c) => format!(
                "pass the session cookie, as in `{c} -H 'Cookie: …'`, or type `{c} --follow` \
                 to join the page it leads to"
            ),
        }
    }

    /// A `Cookie: a=1; b=2` given with `-H`: kept until the first fetch
    /// says which origin the cookies are for.
    fn pending_cookies(&mut self, value: &str) {
        self.headers.push(("Cookie".to_owned(), value.to_owned()));
    }

    /// Moves `-H` cookies into the jar for `url`'s origin.
    fn settle_cookies(&mut self, url: &Url) {
        let mut given = Vec::new();
        self.headers.retain(|(k, v)| {
            if k == "Cookie" {
                given.push(v.clone());
                false
            } else {
                true
            }
        });
        for value in given {
            for pair in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                // Path=/ so that the socket's path gets them too.
                let _ = self.jar.parse(&format!("{pair}; Path=/"), url);
            }
        }
    }

    /// GETs `url`. A redirect to another path fails with
    /// [`PageError::Redirect`] unless `follow`.
    pub fn get(&mut self, url: &Url, follow: bool) -> Result<Fetched, PageError> {
        self.settle_cookies(url);
        let mut at = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let (status, location, body) = self.once(&at)?;
            if !(300..400).contains(&status) || status == 304 {
                if status >= 400 {
                    return Err(PageError::Status {
                        url: at.to_string(),
                        status,
                    });
                }
                return Ok(Fetched {
                    url: at,
                    status,
                    body,
                });
            }
            let to =
                location
                    .and_then(|l| at.join(&l).ok())
                    .ok_or_else(|| PageError::BadRedirect {
                        url: at.to_string(),
                        status,
                    })?;
            if !follow && !same_page(&at, &to) {
                return Err(PageError::Redirect {
                    from: at.to_string(),
                    to: shown_target(&at, &to),
                    status,
                    hint: self.redirect_hint(),
                });
            }
            at = to;
        }
        Err(PageError::TooManyRedirects {
            url: url.to_string(),
        })
    }

    /// One request: status, `Location`, body. Cookies set by the answer
    /// go into the jar.
    fn once(&mut self, url: &Url) -> Result<(u16, Option<String>, String), PageError> {
        let failed = |e: &ureq::Error| PageError::Request {
            url: url.to_string(),
            why: why(e, url),
        };
        let mut request = self.agent.get(url.as_str());
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        if let Some(cookie) = self.cookie_header(url) {
            request = request.header("Cookie", cookie);
        }
        let mut response = request.call().map_err(|e| failed(&e))?;
        let status = response.status().as_u16();
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in cookies {
            let _ = self.jar.parse(&c, url);
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        let read = response
            .body_mut()
            .as_reader()
            .take(MAX_PAGE + 1)
            .read_to_end(&mut bytes);
        read.map_err(|e| failed(&ureq::Error::Io(e)))?;
        if bytes.len() as u64 > MAX_PAGE {
            return Err(PageError::TooLarge {
                url: url.to_string(),
            });
        }
        Ok((
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    /// The `Cookie` header a request to `url` carries (`ws`/`wss` count as
    /// `http`/`https`), if any cookie applies.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let mut as_http = url.clone();
        let scheme = match url.scheme() {
            "ws" => "http",
            "wss" => "https",
            s => s,
        }
        .to_owned();
        let _ = as_http.set_scheme(&scheme);
        let mut pairs: Vec<String> = self
            .jar
            .get_request_values(&as_http)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // The jar's order is a hash map's: sorted, the header is the same
        // on every run.
        pairs.sort();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// Why a request failed, said as the socket's connect errors say it:
/// what to check.
fn why(e: &ureq::Error, url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let at = match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let timed_out =
        || format!("timed out on {at}; check the host, port and firewall, or raise --timeout");
    let no_answer = || {
        format!(
            "{at} accepted the connection but sent no answer; is it an HTTP server? \
             (raise --timeout if it is only slow)"
        )
    };
    match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => format!(
                "connection refused by {at}; is the server running (`mix phx.server`) on that port?"
            ),
            std::io::ErrorKind::TimedOut => timed_out(),
            // The resolver's failure comes as a plain I/O error.
            _ if io.to_string().contains("lookup address") => {
                format!("cannot resolve `{host}`; check the host name")
            }
            _ if io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(not_tls) =>
            {
                NOT_TLS.to_owned()
            }
            _ => e.to_string(),
        },
        ureq::Error::Rustls(r) if not_tls(r) => NOT_TLS.to_owned(),
        ureq::Error::HostNotFound => format!("cannot resolve `{host}`; check the host name"),
        ureq::Error::Timeout(
            ureq::Timeout::Resolve | ureq::Timeout::Connect | ureq::Timeout::SendRequest,
        ) => timed_out(),
        ureq::Error::Timeout(_) => no_answer(),
        e => e.to_string(),
    }
}

/// What an `https://` page on a plain-HTTP port gets, as the socket says it.
const NOT_TLS: &str = "this port does not speak TLS; try http://";

/// A TLS record of a type that does not exist is the first byte of a
/// plain answer, as `HTTP/1.1 400`: the port does not speak TLS.
fn not_tls(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
    )
}

/// Headers that belong to the socket, not to a page request.
fn skipped(name: &str) -> bool {
    name.eq_ignore_ascii_case("sec-websocket-protocol") || name.eq_ignore_ascii_case("host")
}

/// Whether a redirect stays on the requested page: same origin and path,
/// but for a trailing slash.
fn same_page(from: &Url, to: &Url) -> bool {
    from.origin() == to.origin()
        && from.path().trim_end_matches('/') == to.path().trim_end_matches('/')
}

/// A redirect's target as told: its path on the same origin, else in full.
fn shown_target(from: &Url, to: &Url) -> String {
    if from.origin() == to.origin() {
        let mut s = to.path().to_owned();
        if let Some(q) = to.query() {
            s.push('?');
            s.push_str(q);
        }
        s
    } else {
        to.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_trailing_slash_is_the_same_page_and_another_path_is_not() {
        assert!(same_page(
            &url("http://h/counter"),
            &url("http://h/counter/")
        ));
        assert!(!same_page(
            &url("http://h/counter"),
            &url("http://h/log-in")
        ));
        assert!(!same_page(&url("http://h/a"), &url("https://h/a")));
        assert_eq!(
            shown_target(&url("http://h/counter"), &url("http://h/users/log-in?x=1")),
            "/users/log-in?x=1"
        );
        assert_eq!(
            shown_target(&url("http://h/a"), &url("http://other/b")),
            "http://other/b"
        );
    }

    #[test]
    fn cookies_given_with_h_are_sent_to_the_page_and_the_socket() {
        let headers = vec![
            ("Cookie".to_owned(), "_app_key=abc; other=1".to_owned()),
            ("X-Test".to_owned(), "y".to_owned()),
        ];
        let mut f = Fetcher::new(&Trust::default(), &headers, Duration::from_secs(1)).unwrap();
        f.settle_cookies(&url("http://h:4000/counter"));
        assert_eq!(f.headers, vec![("X-Test".to_owned(), "y".to_owned())]);
        assert_eq!(
            f.cookie_header(&url("ws://h:4000/live/websocket"))
                .as_deref(),
            Some("_app_key=abc; other=1")
        );
        assert_eq!(f.cookie_header(&url("ws://elsewhere/live/websocket")), None);
    }

    #[test]
    fn a_refused_fetch_asks_whether_the_server_is_running() {
        let refused = ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(
            why(&refused, &url("http://127.0.0.1:1/counter")),
            "connection refused by 127.0.0.1:1; is the server running (`mix phx.server`) on that port?"
        );
        assert_eq!(
            why(&ureq::Error::HostNotFound, &url("https://nowhere.test/x")),
            "cannot resolve `nowhere.test`; check the host name"
        );
    }

    #[test]
    fn a_stalled_answer_is_not_a_stalled_connection() {
        let at = url("http://127.0.0.1:4000/x");
        assert!(why(&ureq::Error::Timeout(ureq::Timeout::Connect), &at).contains("firewall"));
        let slow = why(&ureq::Error::Timeout(ureq::Timeout::RecvResponse), &at);
        assert!(slow.starts_with("127.0.0.1:4000 accepted the connection but sent no answer"));
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert_eq!(why(&ureq::Error::Rustls(plain), &at), NOT_TLS);
    }

    #[test]
    fn the_redirect_error_says_where_and_what_to_do_there() {
        let f = Fetcher::new(&Trust::default(), &[], Duration::from_secs(1)).unwrap();
        let e = |hint: String| PageError::Redirect {
            from: "http://h/counter".into(),
            to: "/users/log-in".into(),
            status: 302,
            hint,
        };
        assert_eq!(
            e(f.redirect_hint()).to_string(),
            "http://h/counter redirected to /users/log-in (HTTP 302): the page needs a login; \
             pass the session cookie with -H 'Cookie: …', or --follow to join the page it leads to"
        );
        let f = f.opened_by("live /counter".into());
        assert!(e(f.redirect_hint()).to_string().ends_with(
            "the page needs a login; pass the session cookie, as in \
                 `live /counter -H 'Cookie: …'`, or type `live /counter --follow` to join the \
                 page it leads to"
        ));
    }
}

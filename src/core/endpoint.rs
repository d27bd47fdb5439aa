//! Socket URL normalisation and secret redaction (pure).
//!
//! Users type what they see in their app's `endpoint.ex` or browser:
//! `localhost:4000/socket`, `http://…`, `wss://…/socket/websocket?token=…`.
//! Phoenix serves the WebSocket transport at `<mount>/websocket` and picks
//! the serializer from `vsn` (docs/PROTOCOL.md §1), so both are filled in here.

use std::sync::{Arc, PoisonError, RwLock};

use url::Url;

use crate::core::protocol::Vsn;

/// Query keys whose values are never printed.
const SECRET_KEYS: &[&str] = &[
    "token",
    "auth",
    "auth_token",
    "authorization",
    "apikey",
    "api_key",
    "password",
    "passwd",
    "secret",
    "jwt",
    "access_token",
    "session",
    "key",
];

/// Why what the user typed is not a socket URL phx-repl can use. The text
/// is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL is empty; try `ws://localhost:4000/socket`")]
    Empty,
    /// The URL parser refused it.
    #[error("`{input}` is not a URL ({reason}); try `ws://localhost:4000/socket`")]
    NotAUrl {
        input: String,
        reason: url::ParseError,
    },
    #[error("unsupported scheme `{0}`; use ws://, wss://, http:// or https://")]
    UnsupportedScheme(String),
    /// The URL library would not switch it to `ws`/`wss`.
    #[error("cannot use `{0}` as a WebSocket URL")]
    NotWebSocket(String),
    /// The URL library would not switch it to `http`/`https`.
    #[error("cannot use `{0}` as a long-poll URL")]
    NotLongPoll(String),
    #[error("`{0}` has no host; try `ws://localhost:4000/socket`")]
    NoHost(String),
    /// A `vsn` that names no serializer Phoenix (and phx-repl) speaks.
    #[error(
        "`vsn={0}` asks for a serializer phx-repl does not speak; give `vsn=2.0.0` \
         (arrays, the default) or `vsn=1.0.0` (objects)"
    )]
    UnknownVsn(String),
}

/// The message alone, for callers that report their errors as text (the
/// command line's argument checks), so `?` works there.
/// Turns what the user typed into a WebSocket URL for Phoenix: maps
/// http(s) to ws(s), adds `ws://` to a bare `host:port/path`, appends
/// `/websocket`, adds `vsn=2.0.0` unless present, and appends `params`.
pub fn normalize(input: &str, params: &[(String, String)]) -> Result<Url, UrlError> {
    normalize_with(input, params, Vsn::V2)
}

/// Like [`normalize`], adding `vsn` for the given serializer unless the URL
/// or `params` already have one (which wins).
pub fn normalize_with(input: &str, params: &[(String, String)], vsn: Vsn) -> Result<Url, UrlError> {
    normalize_for(input, params, vsn, false)
}

/// Like [`normalize_with`]; with `longpoll` (or a URL that already ends in
/// `/longpoll`) the result is Phoenix's long-poll endpoint instead:
/// `http(s)://…/longpoll` (docs/PROTOCOL.md §7).
pub fn normalize_for(
    input: &str,
    params: &[(String, String)],
    vsn: Vsn,
    longpoll: bool,
) -> Result<Url, UrlError> {
    let input = input.trim();
    let mut url = parse_ws(input)?;
    to_transport(&mut url, input, longpoll)?;
    add_query(&mut url, params, vsn)?;
    Ok(url)
}

/// `input` as a `ws://` or `wss://` URL with a host: http(s) is mapped
/// to ws(s), and a bare `host:port/path` gets `ws://`.
fn parse_ws(input: &str) -> Result<Url, UrlError> {
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    // A scheme is letters, digits, `+`, `-`, `.` before `://`; a `://`
    // later on (in the query, say) does not make one.
    let has_scheme = input.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let with_scheme = if has_scheme {
        input.to_owned()
    } else {
        format!("ws://{input}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|reason| UrlError::NotAUrl {
        input: input.to_owned(),
        reason,
    })?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(UrlError::UnsupportedScheme(other.to_owned())),
    };
    if url.scheme() != scheme {
        // Switching between these special schemes is allowed by the URL spec.
        url.set_scheme(scheme)
            .map_err(|()| UrlError::NotWebSocket(input.to_owned()))?;
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost(input.to_owned()));
    }
    Ok(url)
}

/// Where Phoenix mounts the socket unless told otherwise
/// (`socket "/socket", UserSocket` in a generated endpoint.ex).
const DEFAULT_MOUNT: &str = "/socket";

/// Points `url` at the transport under the socket's mount: `/websocket`,
/// or with `longpoll` (or a path already ending in `/longpoll`) the
/// long-poll endpoint over http(s). A URL without a path (or just `/`)
/// means the default mount, `/socket`.
fn to_transport(url: &mut Url, input: &str, longpoll: bool) -> Result<(), UrlError> {
    let path = url.path().trim_end_matches('/');
    let longpoll = longpoll || path.ends_with("/longpoll");
    let mount = if path.is_empty() {
        DEFAULT_MOUNT
    } else {
        path.strip_suffix("/websocket")
            .or_else(|| path.strip_suffix("/longpoll"))
            .unwrap_or(path)
    };
    let new_path = if longpoll {
        format!("{mount}/longpoll")
    } else {
        format!("{mount}/websocket")
    };
    if new_path != url.path() {
        url.set_path(&new_path);
    }
    if longpoll {
        let http = if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        };
        url.set_scheme(http)
            .map_err(|()| UrlError::NotLongPoll(input.to_owned()))?;
    }
    Ok(())
}

/// Adds `vsn` for the serializer unless the URL or `params` give one
/// (which must be one Phoenix knows), then `params`.
fn add_query(url: &mut Url, params: &[(String, String)], vsn: Vsn) -> Result<(), UrlError> {
    let given = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(params.iter().cloned())
        .find(|(k, _)| k == "vsn")
        .map(|(_, v)| v);
    // Phoenix picks the serializer from vsn (docs/PROTOCOL.md §1) and refuses
    // anything but full semver it knows.
    if let Some(v) = &given
        && Vsn::from_param(v).is_none()
    {
        return Err(UrlError::UnknownVsn(v.clone()));
    }
    let mut q = url.query_pairs_mut();
    if given.is_none() {
        q.append_pair("vsn", vsn.as_param());
    }
    for (k, v) in params {
        q.append_pair(k, v);
    }
    Ok(())
}

/// The serializer a normalised URL asks for (its first `vsn`; V1 when it
/// has none, as Phoenix reads it).
pub fn vsn_of(url: &Url) -> Vsn {
    url.query_pairs()
        .find(|(k, _)| k == "vsn")
        .map_or(Vsn::V1, |(_, v)| Vsn::from_param(&v).unwrap_or_default())
}

/// Whether a query key or header name names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    SECRET_KEYS.contains(&k.as_str())
        || k.ends_with("token")
        || k.ends_with("secret")
        || k.ends_with("password")
        || k.ends_with("_key")
        || k == "cookie"
}

/// The URL as text, with the values of secret-looking query params and any
/// password in the authority replaced by `REDACTED`.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("REDACTED"));
    }
    if shown.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_key(&k) {
                    "REDACTED".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Hides known secret values wherever they appear in text about to be
/// printed or recorded: the values of secret-looking connect params, the
/// `--auth-token`, `Authorization`/`Cookie`/secret-named header values and
/// a URL password, in the forms they take on the wire (as typed, URL-encoded,
/// Base64 in the auth-token header). Structural redaction ([`redact`])
/// covers the URL line; this catches the rest, such as a server echoing a
/// token in an error body or a header quoted in an error.
///
/// Clones share what they know: a secret learnt through one (a fresh
/// `--auth-token-cmd` value on the network thread) is hidden by all (the
/// screen, the recording, the last error).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value that contains another is replaced whole.
    values: Arc<RwLock<Vec<String>>>,
    /// `--show-secrets`: nothing is hidden, not even secrets learnt later.
    disabled: bool,
}

/// Values shorter than this are not scrubbed from free text: hiding every
/// `1` or `on` in the output would garble it. The URL line still shows
/// them as `REDACTED`.
const MIN_SCRUBBED: usize = 4;

impl Redactor {
    /// The secrets among what the user passed: `url` as typed (its query
    /// and password), `-p` params, handshake headers (the auth-token header
    /// included) and the `--auth-token` itself.
    pub fn new(
        url: Option<&str>,
        params: &[(String, String)],
        headers: &[(String, String)],
        auth_token: Option<&str>,
    ) -> Redactor {
        let mut r = Redactor::default();
        if let Some(input) = url {
            if let Some((_, query)) = input.split_once('?') {
                let query = query.split('#').next().unwrap_or(query);
                for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
                    if is_secret_key(&k) {
                        r.add(&v);
                    }
                }
                // As typed, too, in case it was not encoded the usual way.
                for pair in query.split('&') {
                    if let Some((k, v)) = pair.split_once('=')
                        && is_secret_key(k)
                    {
                        r.add(v);
                    }
                }
            }
            let with_scheme = if input.contains("://") {
                input.to_owned()
            } else {
                format!("ws://{input}")
            };
            if let Ok(u) = Url::parse(&with_scheme)
                && let Some(pw) = u.password()
            {
                r.add(pw);
                if let Ok(decoded) = percent_decode(pw) {
                    r.add(&decoded);
                }
            }
        }
        for (k, v) in params {
            if is_secret_key(k) {
                r.add(v);
            }
        }
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if lower == "authorization" || lower == "proxy-authorization" || is_secret_key(name) {
                r.add(value);
                // `Bearer xyz`: the credentials alone, too.
                if let Some((_, cred)) = value.trim().split_once(' ') {
                    r.add(cred.trim());
                }
                if lower == "cookie" {
                    for c in value.split(';') {
                        if let Some((_, v)) = c.split_once('=') {
                            r.add(v.trim());
                        }
                    }
                }
            } else if lower == "sec-websocket-protocol" {
                // The auth-token header: `phoenix, base64url.bearer.phx.B64`.
                for proto in value.split(',') {
                    if let Some(b64) = proto.trim().strip_prefix(AUTH_TOKEN_PREFIX) {
                        r.add(b64);
                    }
                }
            }
        }
        if let Some(t) = auth_token {
            r.add(t);
        }
        r.sort();
        r
    }

    /// One that hides nothing, ever (`--show-secrets`).
    pub fn disabled() -> Redactor {
        Redactor {
            values: Arc::default(),
            disabled: true,
        }
    }

    /// Adds a secret met later: the value of a secret-named `${NAME}`, or
    /// a fresh `--param-cmd` value. Every clone hides it from now on.
    pub fn learn(&mut self, value: &str) {
        if self.disabled || self.read().iter().any(|v| v == value) {
            return;
        }
        self.add(value);
        self.sort();
    }

    /// Learns the secrets of headers and an auth token given while running
    /// (`connect bob URL -H 'Cookie: …'`, `live /page --auth-token T`),
    /// as [`Redactor::new`] finds them in the command line's.
    pub fn learn_headers(&mut self, headers: &[(String, String)], auth_token: Option<&str>) {
        let found = Redactor::new(None, &[], headers, auth_token);
        let values = found.read().clone();
        for v in &values {
            self.learn(v);
        }
    }

    /// Adds a fresh auth token: the token, and its Base64 as the
    /// subprotocol header carries it ([`auth_token_header`]).
    pub fn learn_auth_token(&mut self, token: &str) {
        self.learn(token);
        self.learn(&data_encoding::BASE64_NOPAD.encode(token.as_bytes()));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<String>> {
        self.values.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn sort(&self) {
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
    }

    fn add(&mut self, value: &str) {
        if value.len() < MIN_SCRUBBED {
            return;
        }
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        values.push(value.to_owned());
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        if encoded != value {
            values.push(encoded);
        }
        // As it would appear inside a JSON string.
        let json = crate::core::protocol::json_str(value);
        let json = &json[1..json.len() - 1];
        if json != value {
            values.push(json.to_owned());
        }
    }

    /// Whether there is anything to hide.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// `text` with every known secret replaced by `REDACTED`.
    pub fn scrub<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for v in self.read().iter() {
            if out.contains(v.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(v.as_str(), "REDACTED"));
            }
        }
        out
    }
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map_or(Ok(String::new()), |(_, v)| Ok(v.into_owned()))
}

/// The prefix of the subprotocol entry that carries an auth token
/// (docs/PROTOCOL.md §1).
pub const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

/// The Phoenix 1.8 way to send a token (docs/PROTOCOL.md §1): subprotocol
/// `phoenix` plus `base64url.bearer.phx.` and the token in standard Base64
/// without padding (what the JS client's `btoa` gives, `=` stripped).
pub fn auth_token_header(token: &str) -> (String, String) {
    let encoded = data_encoding::BASE64_NOPAD.encode(token.as_bytes());
    (
        "Sec-WebSocket-Protocol".to_owned(),
        format!("phoenix, {AUTH_TOKEN_PREFIX}{encoded}"),
    )
}

/// The token's bytes from the Base64 after [`AUTH_TOKEN_PREFIX`]: the
/// standard alphabet, with or without padding, as Phoenix decodes it.
pub fn decode_auth_token(encoded: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64_NOPAD
        .decode(encoded.trim_end_matches('=').as_bytes())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_redactor_hides_each_kind_of_secret_in_free_text() {
        let r = Redactor::new(
            Some("wss://user:pw%2Fsecret@h/socket?Token=tok+en%2F1&room=lobby"),
            &pairs(&[("api_key", "key-123456"), ("user", "ana-public")]),
            &pairs(&[
                ("Authorization", "Bearer bearer-abc"),
                ("Cookie", "a=1; session=cookie-xyz"),
                (
                    "Sec-WebSocket-Protocol",
                    "phoenix, base64url.bearer.phx.QUJDREVG",
                ),
            ]),
            Some("auth-tok-9"),
        );
        let text = "tok en/1 tok+en%2F1 key-123456 bearer-abc cookie-xyz QUJDREVG auth-tok-9 \
                    pw/secret ana-public lobby";
        assert_eq!(
            r.scrub(text),
            "REDACTED REDACTED REDACTED REDACTED REDACTED REDACTED REDACTED REDACTED \
             ana-public lobby"
        );
    }

    #[test]
    fn the_redactor_leaves_short_values_and_clean_text_alone() {
        let r = Redactor::new(None, &pairs(&[("token", "on")]), &[], None);
        assert!(r.is_empty());
        assert!(matches!(
            r.scrub("on and on"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    fn norm(s: &str) -> String {
        normalize(s, &[]).unwrap().to_string()
    }

    #[test]
    fn appends_websocket_and_vsn() {
        assert_eq!(
            norm("ws://localhost:4000/socket"),
            "ws://localhost:4000/socket/websocket?vsn=2.0.0"
        );
    }

    #[test]
    fn keeps_an_existing_websocket_suffix() {
        assert_eq!(
            norm("ws://localhost:4000/socket/websocket"),
            "ws://localhost:4000/socket/websocket?vsn=2.0.0"
        );
        assert_eq!(
            norm("ws://localhost:4000/socket/websocket/"),
            "ws://localhost:4000/socket/websocket?vsn=2.0.0"
        );
    }

    #[test]
    fn maps_http_schemes_to_websocket_schemes() {
        assert_eq!(norm("http://h/socket"), "ws://h/socket/websocket?vsn=2.0.0");
        assert_eq!(
            norm("https://h/socket"),
            "wss://h/socket/websocket?vsn=2.0.0"
        );
        assert_eq!(norm("wss://h/s"), "wss://h/s/websocket?vsn=2.0.0");
    }

    #[test]
    fn bare_host_port_path_means_ws() {
        assert_eq!(
            norm("localhost:4000/socket"),
            "ws://localhost:4000/socket/websocket?vsn=2.0.0"
        );
        assert_eq!(
            norm("example.com"),
            "ws://example.com/socket/websocket?vsn=2.0.0"
        );
    }

    #[test]
    fn no_path_means_the_default_socket_mount() {
        for input in [
            "localhost:4000",
            "localhost:4000/",
            "ws://localhost:4000",
            "http://localhost:4000/",
            "ws://localhost:4000//",
        ] {
            assert_eq!(
                norm(input),
                "ws://localhost:4000/socket/websocket?vsn=2.0.0",
                "{input}"
            );
        }
        assert_eq!(
            norm("https://h/?token=abc"),
            "wss://h/socket/websocket?token=abc&vsn=2.0.0"
        );
        let lp = |s: &str| normalize_for(s, &[], Vsn::V2, true).unwrap().to_string();
        assert_eq!(lp("ws://h:4000"), "http://h:4000/socket/longpoll?vsn=2.0.0");
        assert_eq!(lp("https://h/"), "https://h/socket/longpoll?vsn=2.0.0");
        // A path that names the transport keeps its mount, even the root.
        assert_eq!(norm("ws://h/websocket"), "ws://h/websocket?vsn=2.0.0");
        assert_eq!(lp("ws://h/longpoll"), "http://h/longpoll?vsn=2.0.0");
    }

    #[test]
    fn keeps_the_users_query_and_vsn() {
        assert_eq!(
            norm("ws://h/socket?token=abc&vsn=2.0.0"),
            "ws://h/socket/websocket?token=abc&vsn=2.0.0"
        );
        assert_eq!(
            norm("ws://h/socket?a=1"),
            "ws://h/socket/websocket?a=1&vsn=2.0.0"
        );
    }

    #[test]
    fn a_vsn_param_replaces_the_default() {
        let u = normalize("ws://h/socket", &[("vsn".into(), "2.0.0".into())]).unwrap();
        assert_eq!(u.as_str(), "ws://h/socket/websocket?vsn=2.0.0");
    }

    #[test]
    fn longpoll_urls_are_http_at_the_longpoll_path() {
        let lp = |s: &str| normalize_for(s, &[], Vsn::V2, true).unwrap().to_string();
        assert_eq!(lp("ws://h/socket"), "http://h/socket/longpoll?vsn=2.0.0");
        assert_eq!(
            lp("wss://h/socket/websocket"),
            "https://h/socket/longpoll?vsn=2.0.0"
        );
        // A URL that names the long-poll path means long-poll.
        assert_eq!(
            norm("http://h/socket/longpoll"),
            "http://h/socket/longpoll?vsn=2.0.0"
        );
        assert_eq!(
            norm("https://h/socket/longpoll/"),
            "https://h/socket/longpoll?vsn=2.0.0"
        );
    }

    #[test]
    fn unknown_serializer_versions_are_refused() {
        let e = normalize("ws://h/socket?vsn=3.0.0", &[]).unwrap_err();
        assert!(e.to_string().contains("`vsn=3.0.0`"), "{e}");
        assert!(normalize("ws://h/socket", &[("vsn".into(), "2.0".into())]).is_err());
    }

    #[test]
    fn the_vsn_option_adds_its_version_unless_the_url_has_one() {
        let v1 = normalize_with("ws://h/socket", &[], Vsn::V1).unwrap();
        assert_eq!(v1.as_str(), "ws://h/socket/websocket?vsn=1.0.0");
        assert_eq!(vsn_of(&v1), Vsn::V1);
        let url_wins = normalize_with("ws://h/socket?vsn=2.0.0", &[], Vsn::V1).unwrap();
        assert_eq!(vsn_of(&url_wins), Vsn::V2);
        let in_url = normalize("ws://h/socket?vsn=1.0.0", &[]).unwrap();
        assert_eq!(vsn_of(&in_url), Vsn::V1);
        let param = normalize("ws://h/socket", &[("vsn".into(), "1.0.0".into())]).unwrap();
        assert_eq!(vsn_of(&param), Vsn::V1);
    }

    #[test]
    fn a_url_in_the_query_is_not_a_scheme() {
        assert_eq!(
            norm("localhost:4000/socket?next=http://x"),
            "ws://localhost:4000/socket/websocket?next=http://x&vsn=2.0.0"
        );
    }

    #[test]
    fn appends_connect_params() {
        let u = normalize(
            "ws://h/socket",
            &[
                ("user".into(), "ana maria".into()),
                ("token".into(), "t&1".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "ws://h/socket/websocket?vsn=2.0.0&user=ana+maria&token=t%261"
        );
    }

    /// The texts users see stay word for word what they were when the
    /// error was a plain string.
    #[test]
    fn url_errors_read_as_they_always_have() {
        let cases = [
            (
                normalize(" ", &[]),
                "the URL is empty; try `ws://localhost:4000/socket`",
            ),
            (
                normalize("http://[::1", &[]),
                "`http://[::1` is not a URL (invalid IPv6 address); try `ws://localhost:4000/socket`",
            ),
            (
                normalize("ftp://h/socket", &[]),
                "unsupported scheme `ftp`; use ws://, wss://, http:// or https://",
            ),
            (
                normalize("ws://", &[]),
                "`ws://` is not a URL (empty host); try `ws://localhost:4000/socket`",
            ),
            (
                normalize("ws://h/socket?vsn=3.0.0", &[]),
                "`vsn=3.0.0` asks for a serializer phx-repl does not speak; give `vsn=2.0.0` \
                 (arrays, the default) or `vsn=1.0.0` (objects)",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap_err().to_string(), want);
        }
        assert_eq!(
            UrlError::NoHost("x".into()).to_string(),
            "`x` has no host; try `ws://localhost:4000/socket`"
        );
        assert_eq!(
            UrlError::NotWebSocket("x".into()).to_string(),
            "cannot use `x` as a WebSocket URL"
        );
        assert_eq!(
            UrlError::NotLongPoll("x".into()).to_string(),
            "cannot use `x` as a long-poll URL"
        );
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        assert!(
            normalize("ftp://h/socket", &[])
                .unwrap_err()
                .to_string()
                .contains("`ftp`")
        );
        assert!(normalize("", &[]).is_err());
        assert!(normalize("ws://", &[]).is_err());
        assert!(normalize("http://[::1", &[]).is_err());
    }

    #[test]
    fn redacts_secret_params_and_passwords() {
        let u = normalize(
            "ws://u:pw@h/socket?token=abc&user=ana&API_KEY=k&x_token=t",
            &[],
        )
        .unwrap();
        let shown = redact(&u);
        assert_eq!(
            shown,
            "ws://u:REDACTED@h/socket/websocket?token=REDACTED&user=ana&API_KEY=REDACTED&x_token=REDACTED&vsn=2.0.0"
        );
        assert!(!shown.contains("abc") && !shown.contains("pw@"));
    }

    #[test]
    fn secret_keys_are_case_insensitive() {
        for k in [
            "token",
            "Auth",
            "apikey",
            "PASSWORD",
            "secret",
            "jwt",
            "user_token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["user", "vsn", "room"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}

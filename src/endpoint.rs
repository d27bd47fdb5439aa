//! Socket URL normalisation and secret redaction (pure).
//!
//! Users type what they see in their app's `endpoint.ex` or browser:
//! `localhost:4000/socket`, `http://…`, `wss://…/socket/websocket?token=…`.
//! Phoenix serves the WebSocket transport at `<mount>/websocket` and picks
//! the serializer from `vsn` (PROTOCOL.md §1), so both are filled in here.

use url::Url;

use crate::protocol::Vsn;

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

/// Turns what the user typed into a WebSocket URL for Phoenix: maps
/// http(s) to ws(s), adds `ws://` to a bare `host:port/path`, appends
/// `/websocket`, adds `vsn=2.0.0` unless present, and appends `params`.
pub fn normalize(input: &str, params: &[(String, String)]) -> Result<Url, String> {
    normalize_with(input, params, Vsn::V2)
}

/// Like [`normalize`], adding `vsn` for the given serializer unless the URL
/// or `params` already have one (which wins).
pub fn normalize_with(input: &str, params: &[(String, String)], vsn: Vsn) -> Result<Url, String> {
    normalize_for(input, params, vsn, false)
}

/// Like [`normalize_with`]; with `longpoll` (or a URL that already ends in
/// `/longpoll`) the result is Phoenix's long-poll endpoint instead:
/// `http(s)://…/longpoll` (PROTOCOL.md §7).
pub fn normalize_for(
    input: &str,
    params: &[(String, String)],
    vsn: Vsn,
    longpoll: bool,
) -> Result<Url, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("the URL is empty; try `ws://localhost:4000/socket`".to_owned());
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
    let mut url = Url::parse(&with_scheme)
        .map_err(|e| format!("`{input}` is not a URL ({e}); try `ws://localhost:4000/socket`"))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(format!(
                "unsupported scheme `{other}`; use ws://, wss://, http:// or https://"
            ));
        }
    };
    if url.scheme() != scheme {
        // Switching between these special schemes is allowed by the URL spec.
        url.set_scheme(scheme)
            .map_err(|()| format!("cannot use `{input}` as a WebSocket URL"))?;
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{input}` has no host; try `ws://localhost:4000/socket`"
        ));
    }
    let path = url.path().trim_end_matches('/');
    let longpoll = longpoll || path.ends_with("/longpoll");
    let mount = path
        .strip_suffix("/websocket")
        .or_else(|| path.strip_suffix("/longpoll"))
        .unwrap_or(path);
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
            .map_err(|()| format!("cannot use `{input}` as a long-poll URL"))?;
    }
    let given = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(params.iter().cloned())
        .find(|(k, _)| k == "vsn")
        .map(|(_, v)| v);
    // Phoenix picks the serializer from vsn (PROTOCOL.md §1) and refuses
    // anything but full semver it knows.
    if let Some(v) = &given
        && Vsn::from_param(v).is_none()
    {
        return Err(format!(
            "`vsn={v}` asks for a serializer phx-repl does not speak; give `vsn=2.0.0` \
             (arrays, the default) or `vsn=1.0.0` (objects)"
        ));
    }
    {
        let mut q = url.query_pairs_mut();
        if given.is_none() {
            q.append_pair("vsn", vsn.as_param());
        }
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(url)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(norm("example.com"), "ws://example.com/websocket?vsn=2.0.0");
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
        assert!(e.contains("`vsn=3.0.0`"), "{e}");
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

    #[test]
    fn rejects_other_schemes_and_garbage() {
        assert!(
            normalize("ftp://h/socket", &[])
                .unwrap_err()
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

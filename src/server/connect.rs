//! What the built-in socket accepts on connect, whatever the transport:
//! where it is mounted, the `vsn` and connect params of the request
//! target, and the Origin and subprotocol (auth token) headers
//! (docs/PROTOCOL.md §1, the handshake table).
//!
//! Pure functions, the part of Phoenix's `Transport` and `connect/3` that
//! both transports share. `handshake.rs` runs them inside the WebSocket
//! upgrade and `longpoll.rs` when a session opens; each turns a
//! [`Refusal`] into its own kind of answer.

use tungstenite::http::StatusCode;

use crate::core::endpoint::{AUTH_TOKEN_PREFIX, decode_auth_token};
use crate::core::protocol::Vsn;

/// Where the socket is mounted: `socket "/socket", UserSocket` plus the
/// WebSocket transport suffix (docs/PROTOCOL.md §1).
pub const SOCKET_PATH: &str = "/socket/websocket";

/// The same socket's long-poll transport (docs/PROTOCOL.md §7).
pub const LONGPOLL_PATH: &str = "/socket/longpoll";

/// Which socket of the endpoint a connection reached: apps often mount
/// Absinthe on a socket of its own (docs/PROTOCOL.md §9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mount {
    /// `/socket`: every demo channel, and `__absinthe__:*`.
    #[default]
    Socket,
    /// `/gql`: `__absinthe__:*` only.
    Gql,
    /// `/live`: LiveView's `lv:*` only (docs/PROTOCOL.md §10).
    Live,
}

impl Mount {
    /// The mount whose WebSocket transport is at `path`.
    pub fn of_websocket(path: &str) -> Option<Mount> {
        match path {
            SOCKET_PATH => Some(Mount::Socket),
            "/gql/websocket" => Some(Mount::Gql),
            "/live/websocket" => Some(Mount::Live),
            _ => None,
        }
    }

    /// The mount whose long-poll transport is at `path`.
    pub fn of_longpoll(path: &str) -> Option<Mount> {
        match path {
            LONGPOLL_PATH => Some(Mount::Socket),
            "/gql/longpoll" => Some(Mount::Gql),
            "/live/longpoll" => Some(Mount::Live),
            _ => None,
        }
    }
}

/// The subprotocol a Phoenix socket answers with (docs/PROTOCOL.md §1).
pub const PHOENIX_SUBPROTOCOL: &str = "phoenix";

/// What the server checks in an upgrade request besides its target.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Refuse a request without this auth token (docs/PROTOCOL.md §1).
    pub require_auth_token: Option<String>,
    /// Refuse a request whose Origin is set and differs (check_origin).
    pub check_origin: Option<String>,
}

/// Why a connect was refused; the text is the body of the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no socket at {path}; try {SOCKET_PATH}")]
    NotFound { path: String },
    /// Phoenix answers 403 with an empty body; a short reason helps more.
    #[error("vsn {vsn} is not supported: the built-in server speaks 1.0.0 and 2.0.0")]
    UnsupportedVsn { vsn: String },
    /// `token=bad`: a stand-in for an app's `connect/3` refusing the params.
    #[error("connect refused: the token was rejected")]
    TokenRejected,
    #[error("origin {origin} is not allowed (check_origin allows {allowed})")]
    OriginNotAllowed { origin: String, allowed: String },
    #[error("none of the offered subprotocols ({offered}) is `phoenix`")]
    NoPhoenixSubprotocol { offered: String },
    #[error("the auth token entry is not Base64")]
    AuthTokenNotBase64,
    #[error("an auth token is required")]
    AuthTokenRequired,
    #[error("the auth token was rejected")]
    AuthTokenRejected,
}

impl Refusal {
    /// The HTTP status a WebSocket upgrade answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// Checks the request target of an upgrade: the socket path (which picks
/// the mount), `vsn` (the serializer to speak) and the `token` connect
/// param.
pub fn check_target(path: &str, query: Option<&str>) -> Result<(Mount, Vsn), Refusal> {
    let Some(mount) = Mount::of_websocket(path) else {
        return Err(Refusal::NotFound {
            path: path.to_owned(),
        });
    };
    let mut vsn = None;
    let mut bad_token = false;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "vsn" => vsn = Some(value.into_owned()),
            "token" if value == "bad" => bad_token = true,
            _ => {}
        }
    }
    // A missing vsn means V1 (docs/PROTOCOL.md §1); anything but full semver
    // 1.x.y or 2.x.y fails, as in Phoenix.
    let vsn = match vsn {
        None => Vsn::V1,
        Some(v) => Vsn::from_param(&v).ok_or(Refusal::UnsupportedVsn { vsn: v })?,
    };
    if bad_token {
        return Err(Refusal::TokenRejected);
    }
    Ok((mount, vsn))
}

/// What an accepted connect asked for, as the socket's `connect_info`
/// exposes it.
#[derive(Debug, Clone, Default)]
pub struct ConnectInfo {
    pub vsn: Vsn,
    /// The socket the connection reached, which decides its routes.
    pub mount: Mount,
    /// The `user` connect param, which keys the connection's presence.
    pub user: Option<String>,
    /// The auth token from the subprotocol header, as
    /// `connect_info[:auth_token]` exposes it.
    pub auth_token: Option<String>,
    /// The `Cookie` header, where a LiveView's session is read from.
    pub cookie: Option<String>,
    /// The `_csrf_token` connect param, checked against that session.
    pub csrf_token: Option<String>,
}

/// What the request's headers asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// Answer with subprotocol `phoenix`.
    pub subprotocol: bool,
    pub auth_token: Option<String>,
}

/// Checks the Origin and Sec-WebSocket-Protocol headers as a Phoenix 1.8
/// socket with `auth_token: true` and `check_origin` does: the token entry
/// is taken out and decoded (standard Base64, padding optional), and the
/// other offered subprotocols must include `phoenix`.
pub fn check_headers(
    origin: Option<&str>,
    protocols: &[&str],
    policy: &Policy,
) -> Result<Headers, Refusal> {
    if let (Some(allowed), Some(origin)) = (&policy.check_origin, origin)
        && !origin
            .trim_end_matches('/')
            .eq_ignore_ascii_case(allowed.trim_end_matches('/'))
    {
        return Err(Refusal::OriginNotAllowed {
            origin: origin.to_owned(),
            allowed: allowed.clone(),
        });
    }
    let mut auth_token = None;
    let mut offered = Vec::new();
    for p in protocols.iter().flat_map(|v| v.split(',')).map(str::trim) {
        match p.strip_prefix(AUTH_TOKEN_PREFIX) {
            Some(encoded) => {
                let bytes = decode_auth_token(encoded).ok_or(Refusal::AuthTokenNotBase64)?;
                auth_token = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            None if !p.is_empty() => offered.push(p),
            None => {}
        }
    }
    if !offered.is_empty() && !offered.contains(&PHOENIX_SUBPROTOCOL) {
        return Err(Refusal::NoPhoenixSubprotocol {
            offered: offered.join(", "),
        });
    }
    if let Some(required) = &policy.require_auth_token {
        match &auth_token {
            None => return Err(Refusal::AuthTokenRequired),
            Some(t) if t != required => return Err(Refusal::AuthTokenRejected),
            Some(_) => {}
        }
    }
    Ok(Headers {
        subprotocol: !offered.is_empty(),
        auth_token,
    })
}

/// The first value of query param `key`.
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vsn(query: &str) -> Vsn {
        check_target("/socket/websocket", Some(query)).unwrap().1
    }

    #[test]
    fn the_gql_socket_is_a_second_mount() {
        assert_eq!(
            check_target("/gql/websocket", Some("vsn=2.0.0")).unwrap(),
            (Mount::Gql, Vsn::V2)
        );
        assert_eq!(Mount::of_longpoll("/gql/longpoll"), Some(Mount::Gql));
        assert_eq!(Mount::of_longpoll("/socket/longpoll"), Some(Mount::Socket));
        assert!(check_target("/gql", None).is_err());
    }

    #[test]
    fn vsn_picks_the_serializer_and_none_means_v1() {
        assert_eq!(vsn("vsn=2.0.0"), Vsn::V2);
        assert_eq!(vsn("vsn=1.0.0"), Vsn::V1);
        assert_eq!(vsn("token=abc"), Vsn::V1);
    }

    fn status(path: &str, query: Option<&str>) -> Option<u16> {
        check_target(path, query).err().map(|e| e.status().as_u16())
    }

    #[test]
    fn accepts_vsn_2_0_0_at_the_socket_path() {
        assert_eq!(status("/socket/websocket", Some("vsn=2.0.0")), None);
        assert_eq!(
            status("/socket/websocket", Some("token=abc&vsn=2.0.0&x[y]=1")),
            None
        );
        assert_eq!(status("/socket/websocket", Some("vsn=2.1.3")), None);
    }

    #[test]
    fn other_paths_are_not_found_with_a_hint() {
        let e = check_target("/socket", Some("vsn=2.0.0")).unwrap_err();
        let (s, body) = (e.status(), e.to_string());
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, "no socket at /socket; try /socket/websocket");
    }

    #[test]
    fn vsn_other_than_full_1_x_y_or_2_x_y_is_forbidden() {
        for q in [
            Some("vsn=2.0"),
            Some("vsn=3.0.0"),
            Some("vsn=2.0.0-rc"),
            Some("vsn=2..0"),
        ] {
            assert_eq!(status("/socket/websocket", q), Some(403), "{q:?}");
        }
        let body = check_target("/socket/websocket", Some("vsn=3.0.0"))
            .unwrap_err()
            .to_string();
        assert!(body.contains("speaks 1.0.0 and 2.0.0"), "{body}");
    }

    #[test]
    fn token_bad_is_refused() {
        let e = check_target("/socket/websocket", Some("vsn=2.0.0&token=bad")).unwrap_err();
        let (s, body) = (e.status(), e.to_string());
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(body, "connect refused: the token was rejected");
    }

    fn headers(origin: Option<&str>, protocols: &[&str], policy: &Policy) -> Result<Headers, u16> {
        check_headers(origin, protocols, policy).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn the_auth_token_entry_is_decoded_and_phoenix_is_answered() {
        let h = headers(
            None,
            &["phoenix, base64url.bearer.phx.YWJjMQ"],
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(
            h,
            Headers {
                subprotocol: true,
                auth_token: Some("abc1".into())
            }
        );
        // Padding is accepted too.
        let h = headers(
            None,
            &["base64url.bearer.phx.YWJjMQ==", "phoenix"],
            &Policy::default(),
        );
        assert_eq!(h.unwrap().auth_token.as_deref(), Some("abc1"));
        assert_eq!(
            headers(None, &[], &Policy::default()).unwrap(),
            Headers {
                subprotocol: false,
                auth_token: None
            }
        );
    }

    #[test]
    fn other_subprotocols_and_bad_tokens_are_forbidden() {
        let p = Policy::default();
        assert_eq!(headers(None, &["mqtt"], &p), Err(403));
        assert_eq!(
            headers(None, &["phoenix, base64url.bearer.phx.!!"], &p),
            Err(403)
        );
    }

    #[test]
    fn a_required_token_must_match() {
        let p = Policy {
            require_auth_token: Some("abc1".into()),
            check_origin: None,
        };
        assert!(headers(None, &["phoenix, base64url.bearer.phx.YWJjMQ"], &p).is_ok());
        assert_eq!(headers(None, &[], &p), Err(403));
        assert_eq!(
            headers(None, &["phoenix, base64url.bearer.phx.eHl6"], &p),
            Err(403)
        );
    }

    #[test]
    fn check_origin_refuses_other_origins_but_not_a_missing_one() {
        let p = Policy {
            require_auth_token: None,
            check_origin: Some("https://app.example".into()),
        };
        assert!(headers(None, &[], &p).is_ok());
        assert!(headers(Some("https://APP.example/"), &[], &p).is_ok());
        let e = check_headers(Some("https://evil.example"), &[], &p).unwrap_err();
        let e = (e.status(), e.to_string());
        assert_eq!(e.0.as_u16(), 403);
        assert!(e.1.contains("check_origin"), "{}", e.1);
    }
}

//! Plain HTTP for the built-in server, for what is not a WebSocket upgrade:
//! reading a request head (with `httparse`, as tungstenite does) and
//! writing a response (with `http` types and tungstenite's writer).
//!
//! The upgrade itself is tungstenite's, in `handshake.rs`; what a request
//! means is up to `handshake.rs` and `longpoll.rs`.

use tungstenite::handshake::server::{ErrorResponse, write_response};
use tungstenite::http::{HeaderValue, Response, StatusCode, header};

/// The most headers a request may have (tungstenite's own limit).
const MAX_HEADERS: usize = 124;

/// Why a request head cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The head does not end within what was read.
    #[error("headers too long")]
    Incomplete,
    #[error("malformed request: {0}")]
    Malformed(#[from] httparse::Error),
    #[error("headers are not UTF-8")]
    NotUtf8,
}

/// A request's line and headers, borrowed from the bytes read.
#[derive(Debug)]
pub struct Head<'b> {
    pub method: &'b str,
    /// What follows the `?` of the request target.
    pub query: Option<&'b str>,
    pub headers: Vec<(&'b str, &'b str)>,
    /// Where the body starts.
    pub len: usize,
}

impl Head<'_> {
    /// The first value of header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Reads the request line and headers at the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Result<Head<'_>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Err(HeadError::Incomplete),
    };
    let query = req
        .path
        .and_then(|target| target.split_once('?'))
        .map(|(_, q)| q);
    let headers = req
        .headers
        .iter()
        .map(|h| {
            Ok((
                h.name,
                std::str::from_utf8(h.value).map_err(|_| HeadError::NotUtf8)?,
            ))
        })
        .collect::<Result<_, HeadError>>()?;
    Ok(Head {
        method: req.method.unwrap_or_default(),
        query,
        headers,
        len,
    })
}

/// The path of the request line in `head` (`GET /path?q HTTP/1.1`), even
/// when the headers after it are incomplete or malformed.
pub fn request_path(head: &[u8]) -> Option<&str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    // httparse fills in the request line before it reads the headers.
    let _ = req.parse(head);
    let target = req.path?;
    Some(target.split('?').next().unwrap_or(target))
}

/// A text/plain error response that closes the connection.
pub fn text_response(status: StatusCode, body: String) -> ErrorResponse {
    let mut resp = ErrorResponse::new(None);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    *resp.body_mut() = Some(body);
    resp
}

/// The long-poll transport's answer: always 200, with the real status in
/// the JSON `body` (docs/PROTOCOL.md §7), open to any origin, never cached, and
/// closing the connection.
pub fn json_response(body: String) -> Response<Option<String>> {
    let mut resp = Response::new(None);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-phoenix-authtoken"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    *resp.body_mut() = Some(body);
    resp
}

/// The bytes of `resp`: status line, headers, blank line, body.
pub fn to_bytes(resp: &Response<Option<String>>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec fails only on a header value that is not visible
    // ASCII, and every value above is.
    if write_response(&mut out, resp).is_ok() {
        out.extend_from_slice(resp.body().as_deref().unwrap_or_default().as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_path_reads_the_request_line() {
        assert_eq!(
            request_path(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n"),
            Some("/x")
        );
        assert_eq!(request_path(b"POST / HTTP/1.1\r\n"), Some("/"));
        assert_eq!(request_path(b"garbage"), None);
    }

    #[test]
    fn parse_head_splits_the_target_and_finds_the_body() {
        let req = b"POST /socket/longpoll?token=t&vsn=2.0.0 HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n[1]";
        let head = parse_head(req).unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.query, Some("token=t&vsn=2.0.0"));
        assert_eq!(head.header("content-type"), Some("text/plain"));
        assert_eq!(&req[head.len..], b"[1]");
    }

    #[test]
    fn a_head_without_its_end_is_incomplete() {
        let e = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap_err();
        assert_eq!(e.to_string(), "headers too long");
    }

    #[test]
    fn the_long_poll_answer_is_written_as_before() {
        let body = r#"{"status":204,"messages":[]}"#.to_owned();
        let bytes = to_bytes(&json_response(body.clone()));
        let expected = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             access-control-allow-origin: *\r\naccess-control-allow-headers: content-type, x-phoenix-authtoken\r\n\
             cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }
}

//! Raw LiveView plumbing for the tests that speak to the built-in
//! server's `/live` socket themselves: the socket type, sending a frame,
//! reading the next one within the deadline, an attribute of a page, and
//! a plain HTTP request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::{DEADLINE, Server};

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

pub fn send(ws: &mut Socket, frame: &Value) {
    ws.send(Message::text(frame.to_string())).expect("send");
}

/// The next frame, within the deadline.
pub fn next(ws: &mut Socket) -> Value {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).expect("JSON"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading: {e}"),
        }
    }
    panic!("no frame within {DEADLINE:?}");
}

/// The value of the first `name="…"` attribute in `html`.
pub fn attr(html: &str, name: &str) -> String {
    let needle = format!("{name}=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

/// An HTTP answer: status, headers (lower-case names) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a plain `TcpStream`, read to the close.
pub fn http(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut tcp = TcpStream::connect(server.addr()).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", server.addr());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    tcp.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).expect("read the answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let answer = Answer {
        status,
        headers,
        body: body.to_owned(),
    };
    if let Some(len) = answer.header("content-length").filter(|_| method != "HEAD") {
        assert_eq!(
            len.parse::<usize>().unwrap(),
            answer.body.len(),
            "content-length"
        );
    }
    answer
}

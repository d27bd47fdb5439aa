//! Raw LiveView plumbing for the tests that speak to the built-in
//! server's `/live` socket themselves: the socket type, sending a frame,
//! reading the next one within the deadline, and an attribute of a page.

use std::net::TcpStream;
use std::time::Instant;

use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::DEADLINE;

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

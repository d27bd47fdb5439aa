//! Servers that misbehave: a close frame without closing TCP, a drop while
//! the client closes, terminal controls inside payloads, and a client whose
//! stdout is slower than the server.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use support::{Script, Server, TempDir};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// A one-connection WebSocket peer on 127.0.0.1:0 that answers the first
/// frame (the join) with an ok reply, then runs `then` on the socket. The
/// thread keeps the socket open until the test ends.
fn peer(
    then: impl FnOnce(&mut tungstenite::WebSocket<std::net::TcpStream>) + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(stream).expect("handshake");
        if let Ok(Message::Text(t)) = ws.read() {
            let f: serde_json::Value = serde_json::from_str(&t).unwrap();
            let reply = serde_json::json!([f[0], f[1], f[2], "phx_reply", {"status": "ok", "response": {}}]);
            ws.send(Message::text(reply.to_string())).unwrap();
        }
        then(&mut ws);
        // Hold the TCP connection open until the test process ends.
        loop {
            thread::park();
        }
    });
    url
}

#[test]
fn a_close_frame_ends_the_connection_even_if_tcp_stays_open() {
    let url = peer(|ws| {
        ws.close(Some(CloseFrame {
            code: CloseCode::Library(4000),
            reason: "bye now".into(),
        }))
        .unwrap();
        let _ = ws.flush();
    });
    let out = Script::with_url(&url)
        .arg("--no-reconnect")
        .stdin("join room:lobby\nsleep 10s\npush room:lobby echo\n")
        .run();
    out.assert_code(3)
        .assert_stdout_contains("* disconnected by the server: code 4000 (bye now)\n");
    assert!(
        out.elapsed < Duration::from_secs(5),
        "reported at once, not at the next write: {:?}",
        out.elapsed
    );
}

#[test]
fn a_server_that_drops_the_connection_while_the_script_ends_exits_3() {
    // The built-in server closes the connection (1011) on an undecodable
    // frame; the script ends right after sending it.
    let server = Server::start();
    Script::new(&server)
        .arg("--no-reconnect")
        .stdin("raw garbage\n")
        .run()
        .assert_code(3)
        .assert_stdout_contains("disconnected by the server: code 1011");
}

#[test]
fn terminal_controls_in_payload_strings_are_escaped() {
    let server = Server::start();
    // Raw C1 CSI, a right-to-left override and DEL inside a JSON string:
    // valid JSON, which the server echoes back as it came.
    let payload = "{\"a\":\"x\u{9b}31mRED\u{202e}evil\u{7f}\"}";
    let out = Script::new(&server)
        .args(["--color", "always"])
        .stdin(&format!(
            "join room:lobby\npush room:lobby echo {payload}\n"
        ))
        .run();
    out.assert_success().assert_stdout_contains(
        "{\u{1b}[34m\"a\"\u{1b}[0m:\u{1b}[32m\"x\\u009b31mRED\\u202eevil\\u007f\"\u{1b}[0m}",
    );
    for bad in ['\u{9b}', '\u{202e}', '\u{7f}'] {
        assert!(
            !out.stdout.contains(bad),
            "raw {bad:?} reached the terminal"
        );
    }
}

#[test]
fn a_slow_reader_does_not_stop_heartbeats() {
    // The server drops connections silent for 1 s; the client's stdout is
    // not read for 2 s during a flood. Heartbeats must still go out.
    let server = Server::with_idle_timeout("1");
    let home = TempDir::new();
    let mut child = support::spawn_piped(
        &home,
        &[server.url.as_str(), "--heartbeat", "0.3"],
        "join flood:300000\nwait flood:300000 done 20s\n",
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("* connected"), "{first}");
    // The stimulus, not a wait for something to settle: a reader that
    // stalls for twice the server's idle timeout.
    thread::sleep(Duration::from_secs(2));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        rest.contains("← flood:300000 push done {\"count\":300000}"),
        "the flood finished: {}",
        &rest[rest.len().saturating_sub(300)..]
    );
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        &rest[rest.len().saturating_sub(300)..]
    );
}

#[test]
fn time_spent_behind_a_slow_reader_does_not_count_against_replies() {
    let server = Server::start();
    let home = TempDir::new();
    let mut child = support::spawn_piped(
        &home,
        // 2 s: the replies queue behind 300 000 frames, and reading them
        // counts against the timeout; on a loaded machine that alone can
        // take over a second. The stall below is still longer.
        &[server.url.as_str(), "--timeout", "2"],
        "join flood:300000\njoin room:lobby\npush room:lobby echo n:=1\n",
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // The stimulus: a reader that stalls longer than the reply timeout.
    thread::sleep(Duration::from_millis(2500));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("timeout"), "a false timeout: {err}");
    assert!(
        rest.contains("reply ok to echo"),
        "the echo was answered: {}\n{err}",
        &rest[rest.len().saturating_sub(1500)..]
    );
    assert_eq!(status.code(), Some(0), "{err}");
}

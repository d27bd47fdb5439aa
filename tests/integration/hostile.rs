//! Servers that misbehave, over real sockets: garbage and wrongly shaped
//! frames, invalid UTF-8, giant frames, a close mid-frame, a server that
//! never answers the upgrade or stops reading, terminal controls in
//! anything it sends, and a client whose stdout is slower than the server.
//!
//! The peer here is a small WebSocket server written for the test: it
//! does the handshake (or not), answers the join, then does what the test
//! tells it, down to raw frame bytes on the TCP stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::support::{self, Home, Script, Server};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

type Ws = tungstenite::WebSocket<TcpStream>;

/// A one-connection peer on 127.0.0.1:0 that hands the accepted TCP
/// stream to `then`, before any handshake. The thread keeps the stream
/// open until the test process ends unless `then` drops it.
fn raw_peer(then: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        then(stream);
    });
    url
}

/// A peer that reads the request, sends `status_line`, then a byte every
/// 200 ms, each well within any per-read timeout: only a deadline for the
/// whole exchange ends this.
fn trickling_peer(status_line: &'static [u8]) -> String {
    raw_peer(move |mut stream| {
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(status_line);
        while stream.write_all(b"X").is_ok() {
            thread::sleep(Duration::from_millis(200));
        }
    })
}

/// Answers the first frame (the join) with an ok reply.
fn answer_join(ws: &mut Ws) {
    if let Ok(Message::Text(t)) = ws.read() {
        let f: serde_json::Value = serde_json::from_str(&t).unwrap();
        let reply =
            serde_json::json!([f[0], f[1], f[2], "phx_reply", {"status": "ok", "response": {}}]);
        ws.send(Message::text(reply.to_string())).unwrap();
    }
}

/// A peer that does the handshake, answers the join, then runs `then` on
/// the socket, and holds the connection open until the test ends.
fn peer(then: impl FnOnce(&mut Ws) + Send + 'static) -> String {
    raw_peer(|stream| {
        let mut ws = tungstenite::accept(stream).expect("handshake");
        answer_join(&mut ws);
        then(&mut ws);
        loop {
            thread::park();
        }
    })
}

/// One unmasked server-to-client WebSocket frame, built by hand so the
/// test can send what a well-behaved library never would.
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let n = payload.len();
    if n < 126 {
        f.push(n as u8);
    } else if n <= 0xffff {
        f.push(126);
        f.extend((n as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend((n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// Writes raw bytes after whatever tungstenite has queued.
fn send_raw(ws: &mut Ws, bytes: &[u8]) {
    ws.flush().unwrap();
    ws.get_mut().write_all(bytes).unwrap();
}

/// Peak resident memory of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

const AFTER: &str = r#"[null,null,"room:lobby","after",{}]"#;

#[test]
fn frames_of_the_wrong_shape_are_reported_and_the_session_carries_on() {
    let url = peer(|ws| {
        for text in [
            "not json",
            "",
            r#"{"topic":"room:lobby","event":"x","payload":{},"ref":null}"#,
            r#"[null,null,"room:lobby","four"]"#,
            r#"[null,"1",2,"three",{}]"#,
            &format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        ] {
            ws.send(Message::text(text)).unwrap();
        }
        // Shapes Phoenix itself tolerates are shown as they came.
        for text in [
            r#"[null,null,"room:lobby","six",{},"extra"]"#,
            r#"[7,8,"room:lobby","numeric_refs",{}]"#,
            r#"[null,null,"room:lobby","list_payload",[1,2]]"#,
            r#"[null,null,"room:lobby","string_payload","hi"]"#,
        ] {
            ws.send(Message::text(text)).unwrap();
        }
        for bytes in [&[][..], &[9, 1, 2][..], &[0][..], &[0, 200, 1][..]] {
            ws.send(Message::binary(bytes.to_vec())).unwrap();
        }
        ws.send(Message::text(AFTER)).unwrap();
    });
    let out = Script::with_url(&url)
        .stdin("join room:lobby\nwait room:lobby after 10s\n")
        .run();
    out.assert_success();
    let reports = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .filter(|l| l.contains("not a V2 Phoenix frame"))
        .count();
    assert_eq!(reports, 10, "one report per bad frame\n{}", out.report());
    for shown in [
        "six {}",
        "numeric_refs {}",
        "list_payload [1,2]",
        "string_payload \"hi\"",
        "after {}",
    ] {
        out.assert_stdout_contains(shown);
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.report());
}

#[test]
fn invalid_utf8_in_a_text_frame_ends_the_session_with_a_clear_report() {
    let url = peer(|ws| {
        send_raw(
            ws,
            &ws_frame(0x1, b"[null,null,\"t\",\"e\",{\"a\":\"\xff\xfe\"}]"),
        )
    });
    let out = Script::with_url(&url)
        .arg("--no-reconnect")
        .stdin("join room:lobby\nwait room:lobby after 10s\n")
        .run();
    out.assert_code(3)
        .assert_stdout_contains("a text frame that is not valid UTF-8");
    assert!(!out.stderr.contains("panicked"), "{}", out.report());
}

#[test]
fn a_close_in_the_middle_of_a_frame_ends_the_session_with_a_clear_report() {
    let url = peer(|ws| {
        let frame = ws_frame(0x1, AFTER.as_bytes());
        send_raw(ws, &frame[..frame.len() / 2]);
        ws.get_mut().shutdown(std::net::Shutdown::Both).unwrap();
    });
    let out = Script::with_url(&url)
        .arg("--no-reconnect")
        .stdin("join room:lobby\nwait room:lobby after 10s\n")
        .run();
    out.assert_code(3)
        .assert_stdout_contains("* connection lost (");
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.contains("connection lost"))
            .count(),
        1,
        "{}",
        out.report()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.report());
}

#[test]
fn a_16_mib_frame_is_shown_whole() {
    let url = peer(|ws| {
        let body = "a".repeat(16 * 1024 * 1024 - 64);
        let text = format!(r#"[null,null,"room:lobby","big",{{"x":"{body}"}}]"#);
        ws.send(Message::text(text)).unwrap();
        ws.send(Message::text(AFTER)).unwrap();
    });
    let out = Script::with_url(&url)
        .stdin("join room:lobby\nwait room:lobby after 10s\n")
        .run();
    out.assert_success();
    let big = out
        .stdout
        .lines()
        .find(|l| l.contains(" big "))
        .expect("the big frame is shown");
    assert!(big.len() > 16 * 1000 * 1000, "{}", big.len());
}

#[test]
fn a_frame_over_the_size_limit_ends_the_session_with_a_clear_report() {
    let url = peer(|ws| {
        let mut header = vec![0x81, 127];
        header.extend((1u64 << 40).to_be_bytes());
        send_raw(ws, &header);
    });
    let out = Script::with_url(&url)
        .arg("--no-reconnect")
        .stdin("join room:lobby\nwait room:lobby after 10s\n")
        .run();
    out.assert_code(3)
        .assert_stdout_contains("over the limit of 16 MiB");
    assert!(!out.stderr.contains("panicked"), "{}", out.report());
}

#[test]
fn a_server_that_never_answers_the_upgrade_times_out() {
    let url = raw_peer(|stream| {
        // Hold the connection and say nothing.
        let _keep = stream;
        loop {
            thread::park();
        }
    });
    let out = Script::with_url(&url)
        .args(["--timeout", "1"])
        .stdin("join room:lobby\n")
        .run();
    out.assert_code(3)
        .assert_stderr_contains("did not answer the upgrade within 1 s");
}

#[test]
fn a_server_that_trickles_its_upgrade_answer_times_out_in_total() {
    let url = trickling_peer(b"HTTP/1.1 101 Switching Protocols\r\n");
    let out = Script::with_url(&url)
        .args(["--timeout", "1"])
        .stdin("join room:lobby\n")
        .run();
    out.assert_code(3)
        .assert_stderr_contains("did not answer the upgrade within 1 s");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

#[test]
fn a_server_that_stops_reading_does_not_hang_the_client() {
    let url = peer(|_ws| {
        // Answer the join, then never read again (the caller parks).
    });
    // `raw` lines do not wait for a reply: 24 MiB, far more than the
    // socket buffers hold, then a push whose reply never comes.
    let big = format!("raw {}\n", "b".repeat((1 << 20) - 8));
    let out = Script::with_url(&url)
        .args(["--timeout", "1"])
        .stdin(&format!(
            "join room:lobby\n{}push room:lobby echo\n",
            big.repeat(24)
        ))
        .run();
    out.assert_code(1)
        .assert_stderr_contains("timeout")
        .assert_stderr_lacks("panicked");
    assert!(!out.stderr.contains("panicked"), "{}", out.report());
}

#[test]
fn terminal_controls_anywhere_the_server_writes_are_escaped() {
    for mode in [
        &[][..],
        &["--json"][..],
        &["--color", "always"][..],
        &["--raw"][..],
        &["--pretty", "--timestamps"][..],
    ] {
        let url = controls_peer();
        let out = Script::with_url(&url)
            .args(mode)
            .arg("--no-reconnect")
            .stdin("join room:lobby\nsleep 10s\n")
            .run();
        out.assert_code(3);
        for bad in ['\u{1b}', '\u{9b}', '\u{202e}', '\u{7}'] {
            let allowed_colour = mode.contains(&"always") && bad == '\u{1b}';
            for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                let text = if allowed_colour {
                    strip_sgr(text)
                } else {
                    text.clone()
                };
                assert!(
                    !text.contains(bad),
                    "{mode:?}: raw {bad:?} in {name}\n{}",
                    out.report()
                );
            }
        }
    }
}

/// A peer that puts terminal controls in a topic, an event, a payload, an
/// undecodable frame and its close reason.
fn controls_peer() -> String {
    let esc_topic = "room:\u{1b}[2J";
    raw_peer(move |stream| {
        let mut ws = tungstenite::accept(stream).expect("handshake");
        answer_join(&mut ws);
        let frames = [
            serde_json::json!([null, null, esc_topic, "ev\u{1b}]0;title\u{7}", {"s": "\u{1b}[31m\u{9b}1m\u{202e}"}]).to_string(),
            "[\"\u{1b}[H\"".to_owned(),
        ];
        for f in frames {
            ws.send(Message::text(f)).unwrap();
        }
        ws.close(Some(CloseFrame {
            code: CloseCode::Library(4001),
            reason: "bye\u{1b}[2J\u{9b}".into(),
        }))
        .unwrap();
        let _ = ws.flush();
        loop {
            thread::park();
        }
    })
}

/// `text` without the colour sequences phx-repl itself writes.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\u{1b}[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        match tail.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(j) if tail[j..].starts_with('m') => rest = &tail[j + 1..],
            _ => {
                out.push_str(&rest[i..i + 2]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
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
    let home = Home::new();
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
    let home = Home::new();
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

#[test]
fn sigterm_and_sigint_close_the_socket_normally_and_exit_143_and_130() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    for (sig, code) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let (tx, rx) = mpsc::channel();
        let url = raw_peer(move |stream| {
            let mut ws = tungstenite::accept(stream).expect("handshake");
            answer_join(&mut ws);
            loop {
                match ws.read() {
                    Ok(Message::Close(f)) => {
                        let _ = tx.send(f.map(|f| u16::from(f.code)));
                        let _ = ws.flush();
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                }
            }
        });
        let mut client = Script::with_url(&url)
            .stdin("join room:lobby\nsleep 30s\n")
            .spawn();
        client.expect_line("with the join reply", |l| {
            l.contains("reply ok to phx_join")
        });
        kill(Pid::from_raw(client.pid() as i32), sig).expect("signal the client");
        let closed_with = rx.recv_timeout(support::DEADLINE);
        let out = client.finish();
        assert_eq!(
            closed_with,
            Ok(Some(1000)),
            "{sig}: a normal close\n{}",
            out.report()
        );
        out.assert_code(code);
        assert!(!out.stderr.contains("panicked"), "{}", out.report());
    }
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let server = Server::start();
    let home = Home::new();
    let mut child = support::spawn_piped(
        &home,
        &[server.url.as_str()],
        "join flood:100000\nwait flood:100000 done 20s\n",
    );
    // `phx-repl … | head -1`: one line, then the reader goes away.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    for bad in ["panicked", "error:", "Broken pipe"] {
        assert!(!err.contains(bad), "quiet on stderr: {err}");
    }
    assert_eq!(status.code(), Some(0));
}

#[test]
fn memory_stays_bounded_under_a_flood_of_big_frames_and_a_slow_reader() {
    const FRAMES: usize = 24;
    let (sent_tx, sent_rx) = mpsc::channel();
    let url = peer(move |ws| {
        let body = "f".repeat(4 << 20);
        for i in 0..FRAMES {
            let text = format!(r#"[null,null,"room:lobby","big{i}",{{"x":"{body}"}}]"#);
            if ws.send(Message::text(text)).is_err() {
                return;
            }
        }
        let _ = ws.send(Message::text(AFTER));
        let _ = sent_tx.send(());
    });
    let home = Home::new();
    // Stdin stays open so the client is still there to be measured.
    let mut child = support::command(&home)
        .arg(&url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the client");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"join room:lobby\nwait room:lobby after 60s\n")
        .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // The stimulus: a reader that stalls while ~100 MiB is on offer.
    thread::sleep(Duration::from_secs(2));
    let stalled_peak = peak_rss_kib(pid);
    // Then read everything; the client stays alive until stdin closes.
    let mut seen = 0;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if line.contains(" big") {
            seen += 1;
        }
        if line.contains(" after {}") {
            break;
        }
        line.clear();
    }
    assert!(
        sent_rx.recv_timeout(support::DEADLINE).is_ok(),
        "the peer sent everything"
    );
    let peak = peak_rss_kib(pid);
    drop(stdin);
    let status = child.wait().unwrap();
    assert_eq!(seen, FRAMES);
    assert_eq!(status.code(), Some(0));
    // 24 frames of 4 MiB were on offer; the client holds a few at a time.
    assert!(
        peak < 80 * 1024,
        "peak RSS {peak} KiB (while stalled: {stalled_peak} KiB)"
    );
}

#[test]
fn a_script_line_over_the_limit_is_refused_and_the_script_goes_on() {
    let server = Server::start();
    let long = "x".repeat(3 << 20);
    let out = Script::new(&server)
        .stdin(&format!(
            "join room:lobby\npush room:lobby echo {long}\npush room:lobby echo n:=1\n"
        ))
        .run();
    out.assert_code(1)
        .assert_stderr_contains(
            "error: line 2: the line is longer than 1 MiB, the limit for one command; nothing was sent",
        )
        .assert_stdout_contains("reply ok to echo");
}

#[test]
fn terminal_controls_in_an_http_error_body_are_escaped() {
    for mode in [&[][..], &["--json"][..]] {
        let url = raw_peer(|mut stream| {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "denied\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}1m";
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        });
        let out = Script::with_url(&url)
            .args(mode)
            .stdin("join room:lobby\n")
            .run();
        out.assert_code(3)
            .assert_stderr_contains("HTTP/1.1 403 Forbidden");
        for bad in ['\u{1b}', '\u{7}', '\u{9b}'] {
            assert!(
                !out.stderr.contains(bad) && !out.stdout.contains(bad),
                "{mode:?}: raw {bad:?}\n{}",
                out.report()
            );
        }
    }
}

#[test]
fn a_long_poll_endpoint_that_trickles_its_answer_times_out_in_total() {
    let url = trickling_peer(b"HTTP/1.1 200 OK\r\n");
    let out = Script::with_url(&url)
        .args(["--transport", "longpoll", "--timeout", "1"])
        .stdin("join room:lobby\n")
        .run();
    out.assert_code(3)
        .assert_stderr_contains("the long-poll endpoint gave no complete answer within 1 s");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

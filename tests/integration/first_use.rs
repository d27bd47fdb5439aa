//! The errors a new user meets on day one, over real sockets: a URL that
//! reaches a plain HTTP server (HTTP/1.0 or 1.1, any status), `wss://` or
//! `https://` to a port without TLS, and a URL without a path, which means
//! Phoenix's default `/socket`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use crate::support::{Script, Server};

/// A plain HTTP server on a loopback port that answers every request with
/// `answer`, then closes, as `python3 -m http.server` does. Returns its
/// `127.0.0.1:PORT`.
fn http_server(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr").to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            // A guard against a client that never finishes its request.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    addr
}

/// A server that reads what comes first, then hangs up without a word.
fn hanging_up_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr").to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.read(&mut [0u8; 4096]);
        }
    });
    addr
}

const NOT_FOUND_1_0: &str = "HTTP/1.0 404 Not Found\r\nServer: SimpleHTTP/0.6 Python/3.12\r\n\
    Content-Type: text/html;charset=utf-8\r\nContent-Length: 22\r\n\r\n<html>not found</html>";

#[test]
fn an_http_1_0_404_reads_as_a_status_not_a_protocol_error() {
    let addr = http_server(NOT_FOUND_1_0);
    Script::with_url(&format!("ws://{addr}/socket"))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stdout("")
        .assert_stderr(
            "phx-repl: error: the server answered HTTP/1.0 404 Not Found to /socket/websocket \
             instead of upgrading to a WebSocket; is this the socket path? Phoenix serves it \
             at /socket/websocket (the path of `socket \"/socket\", …` in endpoint.ex)\n",
        );
}

#[test]
fn a_200_from_a_web_server_says_it_did_not_upgrade_in_either_http_version() {
    for (answer, line) in [
        (
            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<!DOCTYPE html><html></html>",
            "HTTP/1.0 200 OK",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            "HTTP/1.1 200 OK",
        ),
    ] {
        let addr = http_server(answer);
        let out = Script::with_url(&format!("ws://{addr}/socket"))
            .stdin("join room:lobby\n")
            .run();
        out.assert_code(3)
            .assert_stderr_contains(&format!(
                "phx-repl: error: the server answered {line} to /socket/websocket instead of \
                 upgrading to a WebSocket"
            ))
            .assert_stderr_contains(
                "is this the socket path? Phoenix serves it at /socket/websocket",
            )
            .assert_stderr_lacks("HTTP version")
            .assert_stderr_lacks("<html>");
    }
}

#[test]
fn redirects_and_server_errors_say_what_they_mean() {
    let addr = http_server(
        "HTTP/1.0 301 Moved Permanently\r\nLocation: https://example.com/socket/websocket\r\n\r\n",
    );
    Script::with_url(&format!("ws://{addr}/socket"))
        .run()
        .assert_code(3)
        .assert_stderr(
            "phx-repl: error: the server answered HTTP/1.0 301 Moved Permanently to \
             /socket/websocket instead of upgrading to a WebSocket; it redirects to \
             https://example.com/socket/websocket: connect to that URL\n",
        );
    let addr = http_server("HTTP/1.0 500 Internal Server Error\r\n\r\nboom");
    Script::with_url(&format!("ws://{addr}/socket"))
        .run()
        .assert_code(3)
        .assert_stderr(
            "phx-repl: error: the server answered HTTP/1.0 500 Internal Server Error to \
             /socket/websocket instead of upgrading to a WebSocket (body: boom); the server \
             failed: its log says why\n",
        );
}

#[test]
fn long_poll_tells_an_unexpected_answer_in_its_own_words() {
    let addr = http_server(NOT_FOUND_1_0);
    Script::with_url(&format!("http://{addr}/socket"))
        .args(["--transport", "longpoll"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr(
            "phx-repl: error: the server answered HTTP/1.0 404 Not Found to /socket/longpoll \
             instead of a long-poll answer; is this the socket path? Phoenix serves it at \
             /socket/longpoll (the path of `socket \"/socket\", …` in endpoint.ex)\n",
        );
    let server = Server::start();
    Script::with_url(&format!("http://{}/wrong", server.addr()))
        .args(["--transport", "longpoll"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "HTTP/1.1 404 Not Found to /wrong/longpoll instead of a long-poll answer",
        )
        .assert_stderr_contains("Phoenix serves it at /socket/longpoll")
        .assert_stderr_lacks("upgrading")
        .assert_stderr_lacks("Phoenix serves it at /socket/websocket");
}

#[test]
fn tls_to_a_plain_port_says_the_port_does_not_speak_tls() {
    let server = Server::start();
    for (url, transport) in [
        (format!("wss://{}/socket", server.addr()), "websocket"),
        (format!("https://{}/socket", server.addr()), "websocket"),
        (format!("https://{}/socket", server.addr()), "longpoll"),
    ] {
        Script::with_url(&url)
            .args(["--transport", transport])
            .stdin("join room:lobby\n")
            .run()
            .assert_code(3)
            .assert_stdout("")
            .assert_stderr("phx-repl: error: this port does not speak TLS; try ws:// or http://\n");
    }
}

#[test]
fn a_server_that_hangs_up_on_the_tls_hello_is_named_as_such() {
    let addr = hanging_up_server();
    for transport in ["websocket", "longpoll"] {
        Script::with_url(&format!("https://{addr}/socket"))
            .args(["--transport", transport])
            .stdin("join room:lobby\n")
            .run()
            .assert_code(3)
            .assert_stderr(
                "phx-repl: error: the server closed the connection during the TLS handshake; \
                 if this port does not speak TLS, try ws:// or http://\n",
            );
    }
}

#[test]
fn a_url_without_a_path_connects_to_the_default_socket() {
    let server = Server::start();
    for url in [
        format!("ws://{}", server.addr()),
        server.addr(),
        format!("http://{}/", server.addr()),
    ] {
        Script::with_url(&url)
            .stdin("join room:lobby\n")
            .run()
            .assert_success()
            .assert_stdout_contains(
                "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0\n",
            )
            .assert_stdout_contains("reply ok to phx_join");
    }
    Script::with_url(&format!("ws://{}", server.addr()))
        .args(["--transport", "longpoll"])
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* connected to http://127.0.0.1:PORT/socket/longpoll?vsn=2.0.0\n")
        .assert_stdout_contains("reply ok to phx_join");
}

//! `--transport longpoll` against the built-in server's long-poll endpoint
//! (docs/PROTOCOL.md §7): the same commands and output as over a WebSocket,
//! broadcasts between long-poll and WebSocket clients, tokens, TLS, and no
//! heartbeats.

use crate::support::{Script, Server, joined, transcript};

#[test]
fn join_push_reply_and_broadcast_over_long_poll() {
    let server = Server::start();
    Script::new(&server)
        .args(["--transport", "longpoll", "-p", "user=ana"])
        .stdin(
            "join room:lobby\n\
             push room:lobby echo body=hi\n\
             push room:lobby echo hex:00ff\n\
             cast room:lobby shout {\"x\":1}\n\
             wait room:lobby shout\n\
             leave room:lobby\n",
        )
        .run()
        .assert_success()
        .assert_stdout(&transcript(&[
            "* connected to http://127.0.0.1:PORT/socket/longpoll?vsn=2.0.0&user=ana",
            &joined("room:lobby", "ana", 1, "P1"),
            r#"
            → room:lobby echo {"body":"hi"}  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {"body":"hi"}
            → room:lobby echo hex:00ff  (ref 3)
            ← room:lobby reply ok to echo (ref 3, _) hex:00ff
            → room:lobby shout {"x":1}  (ref 4, cast)
            ← room:lobby broadcast shout {"x":1}
            ✓ wait room:lobby shout
            → room:lobby phx_leave {}  (ref 5)
            ← room:lobby reply ok to phx_leave (ref 5, _) {}
            ← room:lobby phx_close: channel closed {}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn broadcasts_cross_between_long_poll_and_websocket_clients() {
    let server = Server::start();
    let mut polling = Script::new(&server)
        .args(["--transport", "longpoll", "-p", "user=lp"])
        .stdin("join room:mixed\n")
        .spawn();
    polling.expect_line("the long-poll join", |l| l.contains("reply ok to phx_join"));
    let mut socket = Script::new(&server)
        .args(["-p", "user=ws"])
        .stdin("join room:mixed\n")
        .spawn();
    socket.expect_line("the websocket join", |l| l.contains("reply ok to phx_join"));
    polling.expect_line("the websocket client's presence", |l| {
        l == "  room:mixed + ws"
    });
    socket.send_line("cast room:mixed shout from=ws");
    polling.expect_line("the websocket client's shout", |l| {
        l == "← room:mixed broadcast shout {\"from\":\"ws\"}"
    });
    polling.send_line("cast room:mixed shout from=lp");
    socket.expect_line("the long-poll client's shout", |l| {
        l == "← room:mixed broadcast shout {\"from\":\"lp\"}"
    });
    socket.finish().assert_success();
    polling.finish().assert_success();
}

#[test]
fn no_heartbeats_are_sent_on_long_poll() {
    let server = Server::start();
    Script::new(&server)
        .args([
            "--transport",
            "longpoll",
            "--heartbeat",
            "0.1",
            "--show-heartbeats",
        ])
        .stdin("join room:lobby\nsleep 600ms\npush room:lobby echo a=1\n")
        .run()
        .assert_success()
        .assert_stdout_lacks("heartbeat")
        .assert_stdout_contains("reply ok to echo");
}

#[test]
fn the_auth_token_travels_in_its_long_poll_header() {
    let server = Server::with_args(&["--require-auth-token", "s3cret"]);
    // --show-secrets: the server's echo of the token is otherwise REDACTED.
    Script::new(&server)
        .args([
            "--transport",
            "longpoll",
            "--auth-token",
            "s3cret",
            "--show-secrets",
        ])
        .stdin("join room:lobby\npush room:lobby connect_info\n")
        .run()
        .assert_success()
        .assert_stdout_contains("{\"auth_token\":\"s3cret\",");
    Script::new(&server)
        .args(["--transport", "longpoll", "--auth-token", "wrong"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("the long-poll endpoint refused the session (status 403)")
        .assert_stderr_lacks("WebSocket");
}

#[test]
fn a_url_ending_in_longpoll_means_long_poll() {
    let server = Server::start();
    Script::with_url(&format!("http://127.0.0.1:{}/socket/longpoll", server.port))
        .arg("--vsn")
        .arg("1.0.0")
        .stdin("join room:lobby\npush room:lobby echo a=1\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* connected to http://127.0.0.1:PORT/socket/longpoll?vsn=1.0.0\n")
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"a\":\"1\"}");
}

#[test]
fn a_lost_session_reconnects_and_rejoins() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--transport", "longpoll"])
        .stdin("join room:lobby\npush room:lobby restart\n")
        .spawn();
    client.expect_line("the session ending", |l| {
        l == "* disconnected by the server: code 3410 (session gone)"
    });
    client.expect_line("the rejoin's reply", |l| {
        l.starts_with("← room:lobby reply ok to phx_join (ref 3,")
    });
    client.send_line("push room:lobby echo a=1");
    client.expect_line("the echo", |l| l.contains("reply ok to echo (ref 4,"));
    client.finish().assert_success();
}

/// After a lost session, the rejoins go out back to back, so they may share
/// one POST. Phoenix reads NDJSON lines that do not start with `[` as
/// Base64, so V1 frames must not be batched that way (the built-in server
/// refuses such a POST as Phoenix does).
#[test]
fn v1_rejoins_of_several_topics_after_a_lost_session_are_accepted() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--transport", "longpoll", "--vsn", "1.0.0"])
        .stdin("join room:a\njoin room:b\njoin room:c\npush room:a restart\n")
        .spawn();
    client.expect_line("the session ending", |l| {
        l == "* disconnected by the server: code 3410 (session gone)"
    });
    for topic in ["room:a", "room:b", "room:c"] {
        client.expect_line("a rejoin's reply", |l| {
            l.starts_with(&format!("← {topic} reply ok to phx_join"))
        });
    }
    client.send_line("push room:c echo a=1");
    client.expect_line("the echo", |l| l.contains("reply ok to echo (ref 8,"));
    client
        .finish()
        .assert_success()
        .assert_stdout_lacks("code 1011");
}

#[test]
fn a_server_that_goes_away_is_a_lost_connection_in_long_poll_terms() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--transport", "longpoll", "--max-retries", "1"])
        .stdin("join room:lobby\nwait * nothing 60s\n")
        .spawn();
    client.expect_line("joined", |l| {
        l.starts_with("← room:lobby reply ok to phx_join")
    });
    drop(server);
    // The GET in flight ends without an answer (or a reset); no close
    // code is shown, as the server sent none.
    client.expect_line("the drop", |l| {
        l.starts_with("* connection lost (a long-poll GET failed: ")
    });
    client
        .finish()
        .assert_code(3)
        .assert_stdout_lacks("WebSocket handshake")
        .assert_stdout_lacks("code 1011");
}

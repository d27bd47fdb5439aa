//! Exit codes: 0 ok; 1 a line failed (invalid, reply or wait timeout, or an
//! error under --fail); 2 usage; 3 could not connect or the connection
//! dropped. Each test also checks what the user is told.

use std::time::Duration;

use crate::support::{self, Script, Server, lobby_joined, transcript, unused_port};

#[test]
fn successful_script_exits_0() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby echo\nleave\n")
        .run()
        .assert_success()
        .assert_stderr("");
}

#[test]
fn bad_line_exits_1_sends_nothing_and_later_lines_still_run() {
    let server = Server::start();
    // The echo takes ref 2: the bad line between used no ref.
    Script::new(&server)
        .stdin("join room:lobby\njion room:lobby\npush room:lobby echo\n")
        .run()
        .assert_code(1)
        .assert_stderr("error: line 2: unknown command `jion`; did you mean `join`?\n")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            → room:lobby echo {}  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn bad_payload_error_names_the_token_and_the_command() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby echo {bad\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("error: line 2: payload `{bad` is not valid JSON")
        .assert_stderr_contains("(after `push room:lobby echo`)")
        .assert_stdout_lacks("→ room:lobby echo");
}

#[test]
fn unknown_command_without_a_close_match_points_to_help() {
    let server = Server::start();
    Script::new(&server)
        .stdin("frobnicate\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "error: line 1: unknown command `frobnicate`; type `help` for the list of commands\n",
        );
}

#[test]
fn reply_timeout_exits_1_and_the_script_goes_on() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby noreply\npush room:lobby echo\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "timeout: line 2: no reply to noreply on room:lobby (ref 2) within 0.3 s; \
             if its handle_in returns {:noreply, socket}, use `cast` instead of `push`\n",
        )
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 3, _) {}\n");
}

#[test]
fn replies_within_a_short_timeout_exit_0_with_no_late_or_timeout_lines() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby echo\ncast room:lobby shout\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_lacks("late")
        .assert_stdout_lacks("timeout");
}

#[test]
fn wait_timeout_exits_1() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("join room:lobby\nwait room:lobby shout 300ms\n")
        .run();
    out.assert_code(1).assert_stderr(
        "error: line 2: no `shout` on `room:lobby` within 300 ms; raise it with `wait room:lobby shout 30s`\n",
    );
    assert!(
        out.elapsed >= Duration::from_millis(300),
        "{}",
        out.report()
    );
}

#[test]
fn wait_without_timeout_uses_the_timeout_flag() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("wait room:lobby shout\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("no `shout` on `room:lobby` within 300 ms");
}

#[test]
fn error_reply_exits_0_without_fail() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby fail\n")
        .run()
        .assert_success()
        .assert_stdout_contains(
            "← room:lobby reply error to fail (ref 2, _) {\"reason\":\"nope\"}\n",
        );
}

#[test]
fn error_reply_exits_1_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin("join room:lobby\npush room:lobby fail\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("reply error to fail");
}

#[test]
fn refused_join_exits_1_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin("join private:secret\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("{\"reason\":\"unauthorized\"}");
}

#[test]
fn crash_push_exits_1_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .args(["--fail", "--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby crash\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains(
            "← room:lobby phx_error: the channel crashed {\"reason\":\"channel_crash\"}\n",
        );
}

#[test]
fn a_push_that_crashes_its_channel_stops_waiting_at_once_and_exits_0() {
    let server = Server::start();
    // A 30 s timeout: the test would hit its own deadline if the script
    // waited for the reply that the crash made impossible. The next push
    // waits for the channel's rejoin (after 1 s) and then goes out.
    Script::new(&server)
        .args(["--timeout", "30"])
        .stdin("join room:lobby\npush room:lobby crash\npush room:lobby echo\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            → room:lobby crash {}  (ref 2)
            ← room:lobby phx_error: the channel crashed {"reason":"channel_crash"}
            * room:lobby errored (phx_error); rejoining in 1 s
            * line 2: no reply to crash on room:lobby (ref 2): the channel crashed
            * room:lobby is not joined yet: queued until it has joined
            * rejoining room:lobby with its join payload (attempt 1)
            → room:lobby phx_join {}  (ref 3)
            ← room:lobby reply ok to phx_join (ref 3, _) {"joined":"room:lobby"}
            → room:lobby echo {}  (ref 4)
            ← room:lobby broadcast presence_diff {"joins":{"user-1":{"metas":[{"phx_ref":"P2"}]}},"leaves":{}}
            ← room:lobby push presence_state {"user-1":{"metas":[{"phx_ref":"P2"}]}}
            ← room:lobby reply ok to echo (ref 4, _) {}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn a_reply_after_the_timeout_is_reported_then_printed_as_late() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby slow ms:=800\nsleep 1s\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "timeout: line 2: no reply to slow on room:lobby (ref 2) within 0.3 s; \
             if its handle_in returns {:noreply, socket}, use `cast` instead of `push`\n",
        )
        .assert_stdout_contains("← room:lobby reply ok to slow (ref 2, _) late {\"ms\":800}\n");
}

#[test]
fn zero_timeout_is_a_usage_error() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("a timeout of 0 would time out every reply");
}

// `raw` does not wait for a reply, so these two isolate the phx_error from
// the push's reply timeout.
#[test]
fn channel_crash_exits_0_without_fail() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\nraw [\"1\",\"2\",\"room:lobby\",\"crash\",{}]\nwait room:lobby phx_error 5s\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("phx_error: the channel crashed");
}

#[test]
fn channel_crash_exits_1_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin(
            "join room:lobby\nraw [\"1\",\"2\",\"room:lobby\",\"crash\",{}]\nwait room:lobby phx_error 5s\n",
        )
        .run()
        .assert_code(1)
        .assert_stdout_contains("phx_error: the channel crashed");
}

#[test]
fn unrequested_close_exits_1_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin("join room:lobby\npush room:lobby stop\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("phx_close: the server closed the channel");
}

#[test]
fn requested_close_after_leave_exits_0_with_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin("join room:lobby\nleave room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("← room:lobby phx_close: channel closed {}\n");
}

#[test]
fn http_403_exits_3_with_a_hint() {
    let server = Server::start();
    Script::new(&server)
        .args(["-p", "token=bad"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stdout("")
        .assert_stderr_contains("phx-repl: error: the server answered HTTP/1.1 403 Forbidden")
        .assert_stderr_contains("check -p token=");
}

#[test]
fn unreachable_port_exits_3_with_a_hint() {
    let port = unused_port();
    Script::with_url(&format!("ws://127.0.0.1:{port}/socket"))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stdout("")
        .assert_stderr(
            "phx-repl: error: connection refused by 127.0.0.1:PORT; is the server running (`mix phx.server`) on that port?\n",
        );
}

#[test]
fn wrong_path_exits_3_with_a_404_hint() {
    let server = Server::start();
    Script::with_url(&format!("ws://{}/wrong", server.addr()))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stdout("")
        .assert_stderr_contains("HTTP/1.1 404 Not Found to /wrong/websocket")
        .assert_stderr_contains("is this the socket path? Phoenix serves it at /socket/websocket");
}

#[test]
fn bad_flag_value_is_a_usage_error_exiting_2() {
    Script::without_url()
        .args(["--timeout", "soon"])
        .run()
        .assert_code(2)
        .assert_stdout("")
        .assert_stderr_contains("`soon` is not a number of seconds");
}

#[test]
fn serve_without_a_port_to_listen_on_is_a_usage_error_exiting_2() {
    let out = serve(&["--listen", "nonsense"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--listen HOST:PORT, e.g. 127.0.0.1:4000"),
        "{stderr}"
    );
}

#[test]
fn serve_on_a_port_in_use_suggests_a_free_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(&["--listen", &addr]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`--listen 127.0.0.1:0` for a free one"),
        "{stderr}"
    );
}

/// `phx-repl serve ARGS` run to its end (it ends at once when it cannot
/// listen).
fn serve(args: &[&str]) -> std::process::Output {
    std::process::Command::new(support::bin())
        .arg("serve")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn unsupported_url_scheme_is_a_usage_error_exiting_2() {
    Script::with_url("ftp://127.0.0.1/socket")
        .run()
        .assert_code(2)
        .assert_stderr_contains("unsupported scheme `ftp`");
}

#[test]
fn connection_dropped_mid_script_exits_3_without_running_the_rest() {
    let server = Server::with_idle_timeout("0.5");
    let out = Script::new(&server)
        .args(["--heartbeat", "0", "--no-reconnect"])
        .stdin("join room:lobby\nsleep 2s\npush room:lobby echo\n")
        .run();
    out.assert_code(3).assert_stdout(&transcript(&[
        "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
        &lobby_joined(),
        "* disconnected by the server: code 1000 (idle timeout)",
    ]));
    assert!(
        out.elapsed < Duration::from_secs(2),
        "the run did not end when the connection dropped\n{}",
        out.report()
    );
}

#[test]
fn malformed_raw_frame_makes_the_server_drop_the_connection_exit_3() {
    let server = Server::start();
    Script::new(&server)
        .arg("--no-reconnect")
        .stdin("raw not json\nsleep 5s\n")
        .run()
        .assert_code(3)
        .assert_stdout_contains("* disconnected by the server: code 1011");
}

#[test]
fn a_vsn_other_than_1_or_2_is_refused_before_connecting() {
    let server = Server::start();
    Script::with_url(&format!("{}?vsn=3.0.0", server.url))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(2)
        .assert_stdout("")
        .assert_stderr_contains("`vsn=3.0.0` asks for a serializer phx-repl does not speak");
}

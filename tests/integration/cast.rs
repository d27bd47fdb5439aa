//! `cast`: a push that waits for no reply, for handlers that answer with
//! `{:noreply, socket}` (docs/PROTOCOL.md §3). A script goes on as soon as the
//! frame is written; a reply that does come is still shown, matched to its
//! request, but `expect` never checks it.

use std::time::{Duration, Instant};

use crate::support::{self, Script, Server};

#[test]
fn a_cast_to_a_handler_that_never_replies_goes_on_at_once_and_exits_0() {
    let server = Server::start();
    let started = Instant::now();
    Script::new(&server)
        .args(["--timeout", "5"])
        .stdin("join room:lobby\ncast room:lobby noreply\npush room:lobby echo n:=1\nexpect ok {\"n\":1}\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("→ room:lobby noreply {}  (ref 2, cast)\n")
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 3, _) {\"n\":1}\n");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the cast waited for a reply: {:?}",
        started.elapsed()
    );
}

#[test]
fn expect_after_a_cast_checks_the_latest_push_not_the_cast() {
    let server = Server::start();
    // `echo` replies; the cast's reply, if any, is not what `expect` sees.
    Script::new(&server)
        .stdin(
            "join room:lobby\npush room:lobby echo n:=1\ncast room:lobby echo n:=2\n\
             sleep 200ms\nexpect ok {\"n\":1}\n",
        )
        .with_summary()
        .run()
        .assert_success()
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 3, _) {\"n\":2}\n")
        .assert_stderr_contains(
            "replies: 3 ok, 0 error, 0 timed out; expectations: 1 passed, 0 failed",
        );
}

#[test]
fn an_error_reply_to_a_cast_fails_the_run_only_under_fail() {
    let server = Server::start();
    let script = "join room:lobby\ncast room:lobby fail\nsleep 200ms\n";
    Script::new(&server)
        .stdin(script)
        .run()
        .assert_success()
        .assert_stdout_contains(
            "← room:lobby reply error to fail (ref 2, _) {\"reason\":\"nope\"}\n",
        );
    Script::new(&server)
        .arg("--fail")
        .stdin(script)
        .run()
        .assert_code(1);
}

#[test]
fn a_cast_that_crashes_its_channel_is_not_unanswered() {
    let server = Server::start();
    Script::new(&server)
        .with_summary()
        .stdin("join room:lobby\ncast room:lobby crash\nwait room:lobby phx_error 2s\n")
        .run()
        .assert_success()
        .assert_stdout_lacks("no reply to crash")
        .assert_stderr_contains("0 timed out");
}

#[test]
fn a_cast_in_json_carries_cast_true_and_a_push_does_not() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("join room:lobby\ncast room:lobby noreply\npush room:lobby echo\n")
        .run();
    out.assert_success();
    let sent: Vec<_> = out
        .json()
        .into_iter()
        .filter(|r| r["type"] == "sent")
        .collect();
    assert_eq!(sent.len(), 3, "{}", out.report());
    assert!(sent[0].get("cast").is_none());
    assert_eq!(sent[1]["cast"], true);
    assert_eq!(sent[1]["event"], "noreply");
    assert!(sent[2].get("cast").is_none());
}

#[test]
fn a_recorded_push_that_got_no_reply_is_written_as_cast() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("noreply.phx");
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .arg("--record")
        .arg(&file)
        .stdin("join room:lobby\npush room:lobby noreply\npush room:lobby echo n:=1\n")
        .run()
        .assert_code(1);
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.contains(
            "cast room:lobby noreply\n\
             # no reply to noreply on room:lobby (timed out; recorded as `cast`)\n\
             push room:lobby echo n:=1\n\
             # expect ok {\"n\":1}\n"
        ),
        "{recorded}"
    );
    // The replay does not wait out the timeout.
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .arg("-f")
        .arg(&file)
        .arg("--exit")
        .run()
        .assert_success()
        .assert_stderr("");
}

#[test]
fn cast_is_in_help_and_needs_an_event() {
    let server = Server::start();
    Script::new(&server)
        .stdin("help cast\ncast room:lobby\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("cast TOPIC EVENT [PAYLOAD]\n")
        .assert_stderr(
            "error: line 2: `cast room:lobby` needs an event; try `cast room:lobby new_msg {\"body\":\"hi\"}`\n",
        );
}

/// The chat channel of Phoenix's guide answers `new_msg` with a broadcast
/// and no reply, and so does the built-in server: `cast` then `wait` is
/// how a script talks to it, and it finishes at once.
#[test]
fn cast_then_wait_for_the_broadcast_exits_0_at_once() {
    let server = Server::start();
    let started = Instant::now();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             cast room:lobby new_msg {\"body\":\"hi\"}\n\
             wait room:lobby new_msg {\"body\":\"hi\"}\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("← room:lobby broadcast new_msg {\"body\":\"hi\"}\n")
        .assert_stdout_lacks("reply ok to new_msg");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

/// A `push` to such a handler waits out its timeout, and the message says
/// which line it was and what to use instead.
#[test]
fn a_push_to_a_broadcasting_handler_times_out_with_the_cast_hint() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby new_msg body=hi\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "timeout: line 2: no reply to new_msg on room:lobby (ref 2) within 0.3 s; \
             if its handle_in returns {:noreply, socket}, use `cast` instead of `push`\n",
        );
}

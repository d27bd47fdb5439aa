//! Piped scripts in human mode: whole transcripts, compared after
//! normalising latencies, and each REPL command's behaviour.

use std::time::Duration;

use crate::support::{Script, Server, dedent, joined, lobby_joined, transcript};

#[test]
fn lobby_session_transcript_is_exact() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             push room:lobby echo body=hi count:=3\n\
             cast room:lobby shout {\"x\":1}\n\
             wait room:lobby shout\n\
             topics\n\
             leave room:lobby\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            → room:lobby echo {"body":"hi","count":3}  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {"body":"hi","count":3}
            → room:lobby shout {"x":1}  (ref 3, cast)
            ← room:lobby broadcast shout {"x":1}
            ✓ wait room:lobby shout
              room:lobby  joined    join_ref 1
            → room:lobby phx_leave {}  (ref 4)
            ← room:lobby reply ok to phx_leave (ref 4, _) {}
            ← room:lobby phx_close: channel closed {}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn phoenix_guide_weather_example_gets_ok_replies() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join miami:weather <\"some\":\"param\">\n\
             push miami:weather report_emergency {\"category\":\"sharknado\"}\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            → miami:weather phx_join {"some":"param"}  (ref 1)
            ← miami:weather reply ok to phx_join (ref 1, _) {}
            → miami:weather report_emergency {"category":"sharknado"}  (ref 2)
            ← miami:weather reply ok to report_emergency (ref 2, _) {}
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn duplicate_join_shows_the_old_close_as_stale_and_keeps_the_new_join_ref() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\njoin room:lobby\ntopics\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            // As in Phoenix: the new join's reply, the old instance's
            // close, then what the new instance's `:after_join` sends.
            // The state lists our own key again under a new phx_ref: no
            // one came or went, so no `+`/`-` line.
            r#"
            → room:lobby phx_join {}  (ref 2)
            ← room:lobby reply ok to phx_join (ref 2, _) {"joined":"room:lobby"}
            ← room:lobby phx_close: the server closed the channel {} [stale join_ref 1: an earlier instance of the channel]
            ← room:lobby broadcast presence_diff {"joins":{"user-1":{"metas":[{"phx_ref":"P2"}]}},"leaves":{}}
            ← room:lobby push presence_state {"user-1":{"metas":[{"phx_ref":"P2"}]}}
              room:lobby  joined    join_ref 2
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn duplicate_join_stale_close_does_not_trip_fail() {
    let server = Server::start();
    Script::new(&server)
        .arg("--fail")
        .stdin("join room:lobby\njoin room:lobby\npush room:lobby echo\n")
        .run()
        .assert_success()
        .assert_stdout_contains("← room:lobby reply ok to echo");
}

#[test]
fn leave_without_topic_leaves_the_only_joined_topic() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\nleave\ntopics\n")
        .run()
        .assert_success()
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            → room:lobby phx_leave {}  (ref 2)
            ← room:lobby reply ok to phx_leave (ref 2, _) {}
            ← room:lobby phx_close: channel closed {}
              room:lobby  closed    join_ref 1
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn ambiguous_leave_is_an_error_and_sends_nothing() {
    let server = Server::start();
    // The push after the failed leave takes ref 3: the leave used no ref
    // and put no frame on the wire.
    Script::new(&server)
        .stdin("join room:a\njoin room:b\nleave\npush room:a echo\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "error: line 3: several topics are joined (room:a, room:b); say which: `leave room:a`\n",
        )
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &joined("room:a", "user-1", 1, "P1"),
            &joined("room:b", "user-1", 2, "P2"),
            r#"
            → room:a echo {}  (ref 3)
            ← room:a reply ok to echo (ref 3, _) {}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn leave_with_nothing_joined_is_an_error_and_sends_nothing() {
    let server = Server::start();
    Script::new(&server)
        .stdin("leave\n")
        .run()
        .assert_code(1)
        .assert_stderr(
            "error: line 1: no topic is joined, so `leave` needs a topic; try `leave room:lobby`\n",
        )
        .assert_stdout_lacks("→");
}

#[test]
fn send_is_an_alias_for_push() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\nsend room:lobby echo {\"a\":[1,2]}\n")
        .run()
        .assert_success()
        .assert_stdout_contains("→ room:lobby echo {\"a\":[1,2]}  (ref 2)\n")
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 2,");
}

#[test]
fn push_to_a_topic_not_joined_gets_a_note_and_still_goes_out() {
    let server = Server::start();
    // The same exit code as before the note: an error reply fails nothing.
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobyy echo\ncast room:x shout\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains(
            "* room:lobyy is not joined (joined: room:lobby); did you mean `room:lobby`?\n\
             → room:lobyy echo {}  (ref 2)\n\
             ← room:lobyy reply error to echo (ref 2, _) {\"reason\":\"unmatched topic\"}\n",
        )
        .assert_stdout_contains(
            "* room:x is not joined (joined: room:lobby)\n→ room:x shout {}  (ref 3, cast)\n",
        );
    Script::new(&server)
        .args(["--json"])
        .stdin("join room:lobby\npush room:lobyy echo\n")
        .run()
        .assert_success()
        .assert_stdout_contains(
            r#""event":"not_joined","topic":"room:lobyy","joined":["room:lobby"],"suggestion":"room:lobby""#,
        );
}

#[test]
fn push_error_reply_and_unjoined_topic_are_shown() {
    let server = Server::start();
    Script::new(&server)
        .stdin("push room:lobby echo\njoin room:lobby\npush room:lobby fail\njoin private:x\n")
        .run()
        .assert_success()
        .assert_stdout(&transcript(&[
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            * room:lobby is not joined (no topic is joined)
            → room:lobby echo {}  (ref 1)
            ← room:lobby reply error to echo (ref 1, _) {"reason":"unmatched topic"}
            "#,
            &joined("room:lobby", "user-1", 2, "P1"),
            r#"
            → room:lobby fail {}  (ref 3)
            ← room:lobby reply error to fail (ref 3, _) {"reason":"nope"}
            → private:x phx_join {}  (ref 4)
            ← private:x reply error to phx_join (ref 4, _) {"reason":"unauthorized"}
            * private:x errored (join refused); not rejoined automatically, `join private:x` to retry
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn heartbeat_command_sends_one_and_shows_its_reply() {
    let server = Server::start();
    Script::new(&server)
        .stdin("heartbeat\n")
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            → phoenix heartbeat {}  (ref 1)
            ← phoenix reply ok to heartbeat (ref 1, _) {}
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn raw_sends_the_text_exactly_and_its_reply_is_unmatched() {
    let server = Server::start();
    // `raw` does not wait for a reply, so the `wait` line keeps the
    // connection open until the server's answer has arrived.
    Script::new(&server)
        .stdin("raw [null,\"99\",\"phoenix\",\"heartbeat\",{}]\nwait phoenix phx_reply 5s\n")
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            → raw [null,"99","phoenix","heartbeat",{}]
            ← phoenix reply ok to an unknown request (ref 99) {}
            ✓ wait phoenix phx_reply
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn topics_before_any_join_says_how_to_join() {
    let server = Server::start();
    Script::new(&server)
        .stdin("topics\n")
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            no topics yet; try `join room:lobby`
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn topics_lists_every_state_with_join_refs() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin(
            "join room:a\n\
             join room:crashed\n\
             raw [\"2\",\"9\",\"room:crashed\",\"crash\",{}]\n\
             wait room:crashed phx_error 5s\n\
             join room:left\n\
             leave room:left\n\
             topics\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains(concat!(
            "\n  room:a        joined    join_ref 1\n",
            "  room:crashed  errored   join_ref 2\n",
            "  room:left     closed    join_ref 3\n",
        ));
}

#[test]
fn sleep_pauses_the_script() {
    let server = Server::start();
    let out = Script::new(&server).stdin("sleep 400ms\ntopics\n").run();
    out.assert_success();
    assert!(
        out.elapsed >= Duration::from_millis(400),
        "finished in {:?}\n{}",
        out.elapsed,
        out.report()
    );
}

#[test]
fn wait_counts_a_message_that_arrived_before_the_wait_line() {
    let server = Server::start();
    // The broadcast reaches the sender before the shout's reply, so it is
    // already there when `wait` runs; a short timeout proves it was found.
    Script::new(&server)
        .stdin("join room:lobby\ncast room:lobby shout {\"n\":1}\nwait room:lobby shout 100ms\n")
        .run()
        .assert_success()
        .assert_stderr("");
}

#[test]
fn each_message_satisfies_only_one_wait() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             cast room:lobby shout {\"n\":1}\n\
             wait room:lobby shout 1s\n\
             wait room:lobby shout 300ms\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr(
            "error: line 4: no `shout` on `room:lobby` within 300 ms; raise it with `wait room:lobby shout 30s`\n",
        );
}

#[test]
fn wait_accepts_wildcards() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             cast room:lobby shout {\"n\":1}\n\
             cast room:lobby shout {\"n\":2}\n\
             wait * shout 100ms\n\
             wait room:lobby * 100ms\n",
        )
        .run()
        .assert_success()
        .assert_stderr("");
}

#[test]
fn wait_sees_a_broadcast_from_another_client() {
    let server = Server::start();
    let mut listener = Script::new(&server)
        .stdin("join room:chat\nwait room:chat shout 10s\n")
        .spawn();
    listener.expect_line("with the join reply", |l| {
        l.contains("reply ok to phx_join")
    });
    Script::new(&server)
        .stdin("join room:chat\ncast room:chat shout {\"from\":\"b\"}\n")
        .run()
        .assert_success();
    listener
        .finish()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("← room:chat broadcast shout {\"from\":\"b\"}\n");
}

#[test]
fn flood_pushes_arrive_in_order_then_done() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join flood:3\nwait flood:3 done 5s\n")
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            → flood:3 phx_join {}  (ref 1)
            ← flood:3 reply ok to phx_join (ref 1, _) {}
            ← flood:3 push msg {"i":1}
            ← flood:3 push msg {"i":2}
            ← flood:3 push msg {"i":3}
            ← flood:3 push done {"count":3}
            ✓ wait flood:3 done
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn stop_reply_is_followed_by_an_unrequested_close() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby stop\n")
        .run()
        .assert_success()
        .assert_stdout_contains(&dedent(
            "
            ← room:lobby reply ok to stop (ref 2, _) {}
            ← room:lobby phx_close: the server closed the channel {}
            ",
        ));
}

#[test]
fn help_lists_every_command() {
    let server = Server::start();
    let out = Script::new(&server).stdin("help\n").run();
    out.assert_success().assert_stderr("");
    for usage in [
        "join TOPIC [PAYLOAD]",
        "leave [TOPIC]",
        "push TOPIC EVENT [PAYLOAD]",
        "heartbeat",
        "raw TEXT",
        "topics",
        "sleep DURATION",
        "wait TOPIC EVENT [TIMEOUT]",
        "help [COMMAND]",
        "quit",
    ] {
        out.assert_stdout_contains(&format!("\n  {usage} "));
    }
}

#[test]
fn help_for_one_command_shows_usage_and_example() {
    let server = Server::start();
    Script::new(&server)
        .stdin("help leave\n")
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            "
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            leave [TOPIC]
              leave a channel (TOPIC may be omitted when one topic is joined)
              example: leave room:lobby
            * connection closed: code 1000
            ",
        ));
}

#[test]
fn help_for_an_unknown_command_suggests_one() {
    let server = Server::start();
    Script::new(&server)
        .stdin("help jon\n")
        .run()
        .assert_code(1)
        .assert_stderr("error: line 1: no command `jon`; did you mean `join`?\n");
}

#[test]
fn lines_after_quit_do_not_run() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\nquit\npush room:lobby echo\nbogus line\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            "* connection closed: code 1000",
        ]));
}

#[test]
fn exit_is_an_alias_for_quit() {
    let server = Server::start();
    Script::new(&server)
        .stdin("exit\nheartbeat\n")
        .run()
        .assert_success()
        .assert_stdout_lacks("heartbeat");
}

#[test]
fn comments_and_blank_lines_do_nothing() {
    let server = Server::start();
    Script::new(&server)
        .stdin("# a comment\n\n   \n  # indented comment\njoin room:lobby\n\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            "* connection closed: code 1000",
        ]));
}

#[test]
fn crlf_line_endings_and_a_last_line_without_newline_are_read() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\r\npush room:lobby echo a=1")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 2,")
        .assert_stdout_contains("{\"a\":\"1\"}\n");
}

#[test]
fn push_waits_for_its_reply_before_the_next_line() {
    let server = Server::start();
    // With --json all records share stdout in order: the unanswered push's
    // timeout must come before the next line's frame goes out.
    let out = Script::new(&server)
        .args(["--json", "--timeout", "0.4"])
        .stdin("join room:lobby\npush room:lobby noreply\npush room:lobby echo\n")
        .run();
    out.assert_code(1);
    let records = out.json();
    let position = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        records
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("record missing\n{}", out.report()))
    };
    let timeout = position(&|r| r["type"] == "error" && r["event"] == "noreply");
    let echo_sent = position(&|r| r["type"] == "sent" && r["event"] == "echo");
    let join_reply = position(&|r| r["type"] == "reply" && r["request"] == "phx_join");
    let noreply_sent = position(&|r| r["type"] == "sent" && r["event"] == "noreply");
    assert!(
        join_reply < noreply_sent && timeout < echo_sent,
        "lines did not wait for their replies\n{}",
        out.report()
    );
    assert!(
        out.elapsed >= Duration::from_millis(400),
        "{}",
        out.report()
    );
}

#[test]
fn payload_shorthand_and_pairs_build_objects() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby <\"user\":\"ana\">\n\
             push room:lobby echo msg=\"two words\" tags:=[\"a\",\"b\"] ok:=true\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("→ room:lobby phx_join {\"user\":\"ana\"}  (ref 1)\n")
        .assert_stdout_contains(
            "← room:lobby reply ok to echo (ref 2, _) {\"msg\":\"two words\",\"tags\":[\"a\",\"b\"],\"ok\":true}\n",
        );
}

#[test]
fn control_characters_from_the_server_are_escaped() {
    let server = Server::start();
    // The server echoes the topic back in its reply; an OSC sequence in it
    // must not reach the terminal raw.
    let out = Script::new(&server)
        .stdin("join room:\u{1b}]0;pwned\u{7}x\n")
        .run();
    out.assert_success()
        .assert_stdout_contains("← room:\\u{1b}]0;pwned\\u{7}x reply ok to phx_join");
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'),
        "raw control characters in stdout\n{}",
        out.report()
    );
}

#[test]
fn piped_output_is_not_coloured_by_default() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("join room:lobby\npush room:lobby fail\nbogus\n")
        .run();
    out.assert_code(1);
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
        "escape codes in piped output\n{}",
        out.report()
    );
}

#[test]
fn color_always_colours_piped_output() {
    let server = Server::start();
    Script::new(&server)
        .args(["--color", "always"])
        .stdin("join room:lobby\npush room:lobby fail\n")
        .run()
        .assert_success()
        .assert_stdout_contains("\u{1b}[");
}

#[test]
fn a_long_payload_is_never_cut_in_a_piped_script() {
    let server = Server::start();
    let dir = crate::support::scratch_dir();
    let file = dir.path().join("big.json");
    let payload = format!("{{\"data\":\"{}\"}}", "x".repeat(100_000));
    std::fs::write(&file, &payload).unwrap();
    Script::new(&server)
        .stdin(&format!(
            "join room:lobby\npush room:lobby echo @{}\n",
            file.display()
        ))
        .run()
        .assert_success()
        .assert_stdout_contains(&format!("→ room:lobby echo {payload}  (ref 2)\n"))
        .assert_stdout_contains(&format!(") {payload}\n"))
        .assert_stdout_lacks("more bytes");
}

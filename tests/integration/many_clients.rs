//! Several clients in one session over real sockets: `connect NAME`,
//! `@NAME`, `use`, `clients` and `disconnect`, each client with its own
//! socket, refs, presence and reconnects on the one network thread; and
//! fan-out, one script on N clients with `--clients N`.

use crate::support::{Script, Server};

/// alice (the first client) and bob, both in `room:duo`.
const DUO: &str = "join room:duo\n\
                   connect bob -p user=bob\n\
                   @bob join room:duo\n";

#[test]
fn alice_cast_reaches_bob_wait_and_lines_say_whose_they_are() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["-p", "user=alice", "--as", "alice"])
        .stdin(&format!(
            "{DUO}cast room:duo new_msg body=hi\n@bob wait room:duo new_msg {{\"body\":\"hi\"}}\n"
        ))
        .with_summary()
        .run();
    out.assert_success()
        .assert_stdout_contains("bob   → room:duo phx_join {}  (ref 1)\n")
        .assert_stdout_contains("alice → room:duo new_msg {\"body\":\"hi\"}  (ref 2, cast)\n")
        .assert_stdout_contains("bob   ← room:duo broadcast new_msg {\"body\":\"hi\"}\n")
        .assert_stdout_contains("bob   ✓ wait room:duo new_msg {\"body\":\"hi\"}\n")
        .assert_stderr_contains("expectations: 1 passed, 0 failed");
}

#[test]
fn bob_waits_on_his_own_frames_only() {
    let server = Server::start();
    // alice gets her own broadcast; bob never joined, so his wait fails.
    Script::new(&server)
        .stdin(
            "join room:solo\nconnect bob\ncast room:solo new_msg body=x\n\
             wait room:solo new_msg\n@bob wait room:solo new_msg 300ms\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr_contains("no `new_msg` on `room:solo` within 300 ms");
}

#[test]
fn presence_lists_both_and_shows_the_leave_when_one_disconnects() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["-p", "user=alice"])
        .stdin(&format!(
            "{DUO}wait room:duo presence_diff {{\"joins\":{{\"bob\":{{}}}}}}\n\
             presence room:duo\n\
             disconnect bob\n\
             wait room:duo presence_diff {{\"leaves\":{{\"bob\":{{}}}}}}\n\
             clients\n"
        ))
        .run();
    out.assert_success()
        .assert_stdout_contains("main   room:duo + bob\n")
        .assert_stdout_contains("main   room:duo: 2 present (2 sessions)\n")
        .assert_stdout_contains("bob  * connection closed: code 1000\n")
        .assert_stdout_contains("main   room:duo - bob\n")
        .assert_stdout_contains("* main (current)  ws://127.0.0.1:")
        .assert_stdout_contains("* bob             ws://127.0.0.1:");
    // bob's line in `clients` says it is closed, with no topics.
    assert!(out_has_line(&out, "* bob ", "closed"), "{}", out.report());
}

/// A stdout line that starts with `start` and ends with `end`.
fn out_has_line(out: &crate::support::Output, start: &str, end: &str) -> bool {
    out.stdout
        .lines()
        .any(|l| l.starts_with(start) && l.ends_with(end))
}

#[test]
fn two_clients_count_their_refs_apart() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin(
            "connect bob\njoin room:a\n@bob join room:b\npush room:a echo n:=1\nexpect ok {\"n\":1}\n\
             @bob push room:b echo n:=2\n@bob expect ok {\"n\":2}\nexpect ok {\"n\":1}\n",
        )
        .run();
    out.assert_success();
    let sent: Vec<(String, String, String)> = out
        .json()
        .iter()
        .filter(|r| r["type"] == "sent")
        .map(|r| {
            (
                r["client"].as_str().unwrap_or("?").to_owned(),
                r["topic"].as_str().unwrap_or("?").to_owned(),
                r["ref"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let want = |c: &str, t: &str, r: &str| (c.to_owned(), t.to_owned(), r.to_owned());
    assert!(sent.contains(&want("main", "room:a", "1")), "{sent:?}");
    assert!(sent.contains(&want("bob", "room:b", "1")), "{sent:?}");
    assert!(sent.contains(&want("main", "room:a", "2")), "{sent:?}");
    assert!(sent.contains(&want("bob", "room:b", "2")), "{sent:?}");
    // Every record after the second client opened names its client.
    let summary = out.json().into_iter().last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["expectations"]["passed"], 3);
}

#[test]
fn one_clients_kick_does_not_touch_the_other() {
    let server = Server::start();
    Script::new(&server)
        .stdin(&format!(
            "{DUO}@bob wait room:duo presence_state\n\
             @bob push room:duo kick\n\
             @bob wait room:duo presence_state 5s\n\
             push room:duo echo n:=1\nexpect ok {{\"n\":1}}\n"
        ))
        .run()
        .assert_success()
        .assert_stdout_contains("bob  * reconnected to ws://127.0.0.1:")
        .assert_stdout_contains("main ← room:duo reply ok to echo")
        .assert_stdout_lacks("main * reconnected")
        .assert_stdout_lacks("main * disconnected");
}

#[test]
fn a_name_that_is_not_a_client_gets_a_suggestion_and_nothing_is_sent() {
    let server = Server::start();
    Script::new(&server)
        .stdin("connect bob\n@bobb join room:x\nconnect bob\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "line 2: no client `bobb` (clients: main, bob); did you mean `bob`?",
        )
        .assert_stderr_contains("line 3: client `bob` is already open; pick another name")
        .assert_stdout_lacks("room:x");
}

#[test]
fn a_named_client_that_cannot_connect_fails_the_run_and_it_goes_on() {
    let server = Server::start();
    let port = crate::support::unused_port();
    Script::new(&server)
        .stdin(&format!(
            "connect ghost ws://127.0.0.1:{port}/socket\njoin room:on\npush room:on echo\nexpect ok\n"
        ))
        .args(["--no-reconnect"])
        .with_summary()
        .run()
        .assert_code(1)
        .assert_stderr_contains("line 1: client `ghost` could not connect")
        .assert_stderr_contains("expectations: 1 passed, 0 failed");
}

#[test]
fn a_recorded_two_user_session_replays() {
    let server = Server::start();
    let dir = crate::support::scratch_dir();
    let file = dir.path().join("duo.phx");
    Script::new(&server)
        .args(["--record", file.to_str().unwrap()])
        .stdin(&format!(
            "{DUO}use bob\npush room:duo echo n:=1\n@main cast room:duo new_msg body=hi\n"
        ))
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("connect bob -p user=bob\n"), "{recorded}");
    assert!(recorded.contains("@bob push room:duo echo"), "{recorded}");
    Script::new(&server)
        .stdin(&recorded)
        .run()
        .assert_success()
        .assert_stdout_contains("bob  ← room:duo reply ok to echo");
}

#[test]
fn fan_out_runs_the_script_on_every_client_and_sums_it_up() {
    let server = Server::start();
    Script::new(&server)
        .args(["--clients", "200"])
        .with_summary()
        .stdin(
            "join room:fan {\"user\":\"u${N}\"}\npush room:fan echo {\"me\":\"${CLIENT}\"}\n\
             expect ok {\"me\":\"${CLIENT}\"}\n",
        )
        .run()
        .assert_success()
        .assert_stdout("")
        .assert_stderr_contains("clients: 200 connected, 0 failed (of 200)\n")
        .assert_stderr_contains("replies: 400 ok, 0 error, 0 timed out\n")
        .assert_stderr_contains("expectations: 200 passed, 0 failed\n")
        .assert_stderr_contains("reply latency: p50 ");
}

#[test]
fn fan_out_failures_name_client_and_line_and_are_capped() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--clients", "30"])
        .with_summary()
        .stdin("join room:f\npush room:f echo n:=1\nexpect ok {\"n\":2}\n")
        .run();
    out.assert_code(1)
        .assert_stderr_contains(
            "failed: line 3: echo on room:f replied ok with a different response",
        )
        .assert_stderr_contains("failing lines: 30 (10 not shown)");
    assert_eq!(out.stderr.matches("expected: ok {\"n\":2}").count(), 20);
}

#[test]
fn fan_out_with_no_server_exits_3_and_refuses_what_cannot_fan_out() {
    let port = crate::support::unused_port();
    let out = Script::with_url(&format!("ws://127.0.0.1:{port}/socket"))
        .args(["--clients", "5"])
        .with_summary()
        .stdin("join room:x\n")
        .run();
    out.assert_code(3)
        .assert_stderr_contains("clients: 0 connected, 5 failed (of 5)");
    // Said once per client, with its name, and not again after the summary.
    assert_eq!(
        out.stderr.matches("connection refused").count(),
        5,
        "{}",
        out.report()
    );
    let server = Server::start();
    Script::new(&server)
        .args(["--clients", "5"])
        .stdin("join room:x\nrecord out.phx\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("line 2: `record` does not run under --clients");
    Script::new(&server)
        .args(["--clients", "5", "--record", "out.phx"])
        .stdin("join room:x\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("--record writes one session as a script; leave out --clients");
    Script::new(&server)
        .args(["--clients", "0"])
        .stdin("join room:x\n")
        .run()
        .assert_code(2)
        .assert_stderr_contains("--clients needs at least 1");
}

#[test]
fn fan_out_substitutes_n_in_connect_params() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--clients", "3", "--json", "-p", "user=u${N}"])
        .stdin("join room:params\nwait room:params presence_state\n")
        .run();
    out.assert_success();
    let users: std::collections::BTreeSet<String> = out
        .json()
        .iter()
        .filter(|r| r["event"] == "presence_diff")
        .filter_map(|r| r["payload"]["joins"].as_object())
        .flat_map(|j| j.keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["u1", "u2", "u3"],
        "{}",
        out.report()
    );
}

#[test]
fn a_script_reuses_a_name_right_after_disconnect() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "connect bob\n@bob join room:a\ndisconnect bob\nconnect bob\n\
             @bob join room:a\n@bob expect ok\nclients\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("bob  ✓ expect ok\n");
}

#[test]
fn a_fan_out_refute_looks_back_to_the_previous_line() {
    let server = Server::start();
    // The broadcast comes while `push` waits for its reply, before the
    // refute begins: the refute still sees it.
    Script::new(&server)
        .args(["--clients", "2"])
        .with_summary()
        .stdin(
            "join room:r${N}\ncast room:r${N} new_msg body=hi\npush room:r${N} echo {}\n\
             refute room:r${N} new_msg 100ms\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr_contains("`new_msg` on `room:r1` came, and `refute` says it must not")
        .assert_stderr_contains("expectations: 0 passed, 2 failed\n");
    // A refute with a payload says which payload must not come.
    Script::new(&server)
        .args(["--clients", "1"])
        .stdin("join room:q\ncast room:q new_msg body=hi\nrefute room:q new_msg 100ms body=hi\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("expected: no room:q new_msg {\"body\":\"hi\"}");
}

#[test]
fn fan_out_counts_every_push_and_broadcast_whether_or_not_it_prints_them() {
    let server = Server::start();
    // Own topics, so every client gets the same frames: its join's reply,
    // presence_state and presence_diff, three new_msg, the echo's reply.
    let script = "join room:own${N} {\"user\":\"u${N}\"}\n\
                  cast room:own${N} new_msg body=1\ncast room:own${N} new_msg body=2\n\
                  cast room:own${N} new_msg body=3\npush room:own${N} echo {}\nexpect ok\n";
    for verbose in [false, true] {
        let mut run = Script::new(&server).args(["--clients", "3"]).with_summary();
        if verbose {
            run = run.arg("--verbose");
        }
        let out = run.stdin(script).run();
        out.assert_success()
            .assert_stderr_contains("frames: 21 in, 15 out\n");
        if verbose {
            assert_eq!(
                out.stdout.matches("new_msg").count(),
                9 * 2,
                "{}",
                out.report()
            );
        }
    }
}

#[test]
fn a_fan_out_ends_with_a_close_frame_on_every_socket() {
    let server = Server::start();
    Script::new(&server)
        .args(["--clients", "4"])
        .stdin("join room:bye {\"user\":\"u${N}\"}\n")
        .run()
        .assert_success();
    // Each socket closed with a normal close frame, not a dropped
    // connection, while the others' presence leaves were still coming.
    server.wait_log("four normal closes", |log| {
        log.matches("closed by client (1000)").count() == 4
    });
}

#[test]
fn a_fan_out_wait_or_refute_looks_back_no_further_than_the_previous_line() {
    let server = Server::start();
    // presence_state came during the join, three lines before.
    Script::new(&server)
        .args(["--clients", "3"])
        .with_summary()
        .stdin(
            "join room:rf${N}\npush room:rf${N} echo {}\nsleep 100ms\n\
             refute room:rf${N} presence_state 100ms\n",
        )
        .run()
        .assert_success()
        .assert_stderr_contains("expectations: 3 passed, 0 failed\n");
}

#[test]
fn a_fan_out_copy_sends_its_own_let_values() {
    let server = Server::start();
    Script::new(&server)
        .args(["--clients", "2"])
        .with_summary()
        .stdin(
            "join room:o${N}\npush room:o${N} echo p:={\"a\":\"${CLIENT}\"}\nlet v = .p\n\
             push room:o${N} echo ${v}\nexpect ok ${v}\n",
        )
        .run()
        .assert_success()
        .assert_stderr_contains("expectations: 2 passed, 0 failed\n");
}

#[test]
fn fan_out_failures_say_which_line_timed_out_or_failed_under_fail() {
    let server = Server::start();
    Script::new(&server)
        .args(["--clients", "2", "--timeout", "1"])
        .with_summary()
        .stdin("join room:t${N}\npush room:t${N} noreply\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "c1 timeout: line 2: no reply to noreply on room:t1 (ref 2) within 1 s; \
             if its handle_in returns {:noreply, socket}, use `cast` instead of `push`",
        );
    Script::new(&server)
        .args(["--clients", "2", "--fail"])
        .with_summary()
        .stdin("join room:f${N}\npush room:f${N} fail\npush room:f${N} crash\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("c2 error: line 2: fail on room:f2 replied error")
        .assert_stderr_contains("c2 error: line 3: `room:f2` crashed (phx_error)");
}

#[test]
fn fan_out_replies_count_the_scripts_requests_not_rejoins() {
    let server = Server::start();
    // Each copy: the join and the echo answer; the kick is unanswered and
    // its channel rejoins by itself.
    Script::new(&server)
        .args(["--clients", "3"])
        .with_summary()
        .stdin(
            "join room:kk${N}\npush room:kk${N} kick\nwait room:kk${N} presence_state 5s\n\
             push room:kk${N} echo a=1\nexpect ok a=1\n",
        )
        .run()
        .assert_success()
        .assert_stderr_contains("replies: 6 ok, 0 error, 0 timed out, 3 unanswered\n");
}

#[test]
fn a_fan_out_with_json_still_sums_up_on_stderr() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--clients", "2", "--json"])
        .with_summary()
        .stdin("join room:j${N}\n")
        .run();
    out.assert_success()
        .assert_stderr_contains("clients: 2 connected, 0 failed (of 2)\n");
    assert!(
        out.json().iter().any(|r| r["type"] == "summary"),
        "{}",
        out.report()
    );
}

#[test]
fn use_refuses_a_closed_client_and_disconnect_says_where_lines_go_as_main() {
    let server = Server::start();
    Script::new(&server)
        .stdin("connect bob\nuse bob\ndisconnect bob\nuse bob\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("main * lines without @NAME now go to main")
        .assert_stderr_contains(
            "line 4: client `bob` is closed, so lines could not go to it; `connect bob` opens it again",
        );
}

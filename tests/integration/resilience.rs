//! Reconnects, rejoins and heartbeat timeouts, over real sockets: the
//! built-in server's fault controls (`kick`, `restart`, `mute_heartbeats`,
//! `crash`, the idle timeout, or the server process going away) break the
//! connection and the client must bring every channel back.

use std::time::Duration;

use crate::support::{self, Script, Server, unused_port};

/// Restarts `server` from a second client, as a deploy would.
fn restart(server: &Server) {
    Script::new(server)
        .arg("--no-reconnect")
        .stdin("join room:admin\npush room:admin restart\n")
        .run();
}

#[test]
fn a_server_restart_reconnects_and_rejoins_every_topic_with_its_payload() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .stdin("join room:a {\"user\":\"ana\"}\njoin miami:weather {\"some\":\"param\"}\n")
        .spawn();
    client.expect_line("answering the second join", |l| {
        l.starts_with("← miami:weather reply ok to phx_join")
    });
    restart(&server);
    client.expect_line("saying the server went away", |l| {
        l == "* disconnected by the server: code 1012 (restart)"
    });
    client.expect_line("reconnecting", |l| l.starts_with("* reconnected to "));
    // Rejoins go out in topic order, refs 3 and 4.
    client.expect_line("room:a joined again", |l| {
        l.starts_with("← room:a reply ok to phx_join (ref 4")
    });
    client.send_line("push room:a echo n:=1");
    client.send_line("topics");
    let out = client.finish();
    out.assert_success()
        .assert_stderr("")
        .assert_stdout_contains("* rejoining room:a with its join payload (attempt 1)\n")
        .assert_stdout_contains("→ room:a phx_join {\"user\":\"ana\"}  (ref 4)\n")
        .assert_stdout_contains("→ miami:weather phx_join {\"some\":\"param\"}  (ref 3)\n")
        .assert_stdout_contains("← room:a reply ok to echo")
        .assert_stdout_contains("  room:a         joined")
        .assert_stdout_contains("  miami:weather  joined");
}

#[test]
fn a_script_survives_a_restart_without_rerunning_its_joins() {
    let server = Server::start();
    // The script waits for a shout that can only arrive once room:lobby has
    // been rejoined on the new connection.
    let mut client = Script::new(&server)
        .stdin("join room:lobby\nwait room:lobby shout 15s\npush room:lobby echo\n")
        .spawn();
    client.expect_line("joined", |l| {
        l.starts_with("← room:lobby reply ok to phx_join")
    });
    restart(&server);
    client.expect_line("rejoined", |l| {
        l.starts_with("← room:lobby reply ok to phx_join (ref 2")
    });
    Script::new(&server)
        .stdin("join room:lobby\ncast room:lobby shout body=back\n")
        .run()
        .assert_success();
    let out = client.finish();
    out.assert_success()
        .assert_stderr("")
        .assert_stdout_contains(r#"← room:lobby broadcast shout {"body":"back"}"#)
        .assert_stdout_contains("← room:lobby reply ok to echo");
}

#[test]
fn a_crashed_channel_is_rejoined_after_about_a_second() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("join room:lobby <\"user\":\"ana\">\npush room:lobby crash\npush room:lobby echo\n")
        .run();
    out.assert_success()
        .assert_stdout_contains("* room:lobby errored (phx_error); rejoining in 1 s\n")
        .assert_stdout_contains("* rejoining room:lobby with its join payload (attempt 1)\n")
        .assert_stdout_contains("→ room:lobby phx_join {\"user\":\"ana\"}  (ref 3)\n")
        .assert_stdout_contains("← room:lobby reply ok to echo (ref 4, _) {}\n");
    assert!(
        out.elapsed >= Duration::from_millis(950),
        "rejoined before the 1 s backoff\n{}",
        out.report()
    );
}

#[test]
fn a_reply_that_comes_after_the_crash_is_matched_to_its_request() {
    let server = Server::start();
    // The stall holds the crash and the echo unread on the server, so the
    // echo is sent before the phx_error comes back, and the server then
    // answers it with `unmatched topic`.
    let out = Script::new(&server)
        .stdin(
            "join room:lobby\npush room:lobby stall ms:=1000\n\
             raw [\"1\",\"50\",\"room:lobby\",\"crash\",{}]\n\
             push room:lobby echo body=after\n\
             wait room:lobby presence_state\nwait room:lobby presence_state 10s\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_contains(
            "* line 4: no reply to echo on room:lobby (ref 3): the channel crashed\n",
        )
        .assert_stdout_contains(
            "← room:lobby reply error to echo (ref 3, _) late {\"reason\":\"unmatched topic\"}\n",
        )
        .assert_stdout_lacks("unknown request")
        .assert_stdout_contains("← room:lobby reply ok to phx_join (ref 4, _)");
}

#[test]
fn a_recording_notes_a_late_reply_instead_of_expecting_it_from_the_next_line() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("late.phx");
    Script::new(&server)
        .arg("--record")
        .arg(&file)
        .stdin(
            "join room:lobby\npush room:lobby stall ms:=1000\n\
             raw [\"1\",\"50\",\"room:lobby\",\"crash\",{}]\n\
             push room:lobby echo body=after\n\
             wait room:lobby presence_state\nwait room:lobby presence_state 10s\n",
        )
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.contains(
            "# late reply to echo on room:lobby: error {\"reason\":\"unmatched topic\"}\n"
        ),
        "{recorded}"
    );
    assert!(!recorded.contains("# expect error"), "{recorded}");
}

#[test]
fn a_refused_join_is_not_retried() {
    let server = Server::start();
    let out = Script::new(&server).stdin("join private:x\ntopics\n").run();
    out.assert_success()
        .assert_stdout_contains(
            "* private:x errored (join refused); not rejoined automatically, `join private:x` to retry\n",
        )
        .assert_stdout_contains("  private:x  errored")
        .assert_stdout_lacks("rejoining");
}

#[test]
fn a_duplicate_join_keeps_the_topic_joined_under_the_new_join_ref() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:a\njoin room:a\npush room:a echo\ntopics\n")
        .run()
        .assert_success()
        .assert_stdout_contains("[stale join_ref 1: an earlier instance of the channel]")
        .assert_stdout_contains("← room:a reply ok to echo (ref 3, _)")
        .assert_stdout_contains("  room:a  joined    join_ref 2")
        .assert_stdout_lacks("rejoining");
}

#[test]
fn a_stale_frame_does_not_satisfy_a_wait() {
    let server = Server::start();
    // The first instance's phx_close arrives (stale) before the second
    // join's reply, so before the wait line runs.
    Script::new(&server)
        .stdin("join room:a\njoin room:a\nwait room:a phx_close 0.3s\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("← room:a phx_close")
        .assert_stdout_contains("[stale join_ref 1: an earlier instance of the channel]")
        .assert_stderr_contains("no `phx_close` on `room:a` within 300 ms");
}

#[test]
fn with_v1_a_duplicate_join_keeps_the_topic_joined_too() {
    let server = Server::start();
    Script::new(&server)
        .args(["--vsn", "1.0.0"])
        .stdin("join room:a\njoin room:a\npush room:a echo\ntopics\n")
        .run()
        .assert_success()
        .assert_stdout_contains("[stale join_ref 1: an earlier instance of the channel]")
        .assert_stdout_contains("→ room:a echo {}  (ref 3)")
        .assert_stdout_contains("  room:a  joined    join_ref 2");
}

#[test]
fn a_server_that_stops_answering_heartbeats_is_detected_and_left() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--heartbeat", "0.3"])
        .stdin("join room:lobby\npush room:lobby mute_heartbeats\n")
        .spawn();
    client.expect_line("a heartbeat timeout", |l| {
        l == "* no reply to the heartbeat within 0.3 s: the connection is dead, closing it"
    });
    client.expect_line("closing it", |l| {
        l == "* connection closed: code 1000 (heartbeat timeout)"
    });
    client.expect_line("a reconnect", |l| l.starts_with("* reconnected to "));
    client.expect_line("a rejoin", |l| {
        l.starts_with("← room:lobby reply ok to phx_join (ref ")
    });
    client.send_line("push room:lobby echo");
    client
        .finish()
        .assert_success()
        .assert_stdout_contains("← room:lobby reply ok to echo");
}

#[test]
fn a_heartbeat_timeout_without_reconnect_is_our_close_and_still_a_lost_connection() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--heartbeat", "0.3", "--no-reconnect"])
        .stdin("join room:lobby\npush room:lobby mute_heartbeats\nwait * nothing 30s\n")
        .run();
    let report = out.report();
    out.assert_code(3);
    let last = out
        .json()
        .into_iter()
        .rfind(|r| r["event"] == "disconnected")
        .unwrap_or_else(|| panic!("no disconnected record\n{report}"));
    assert_eq!(last["code"], 1000, "{report}");
    assert_eq!(last["reason"], "heartbeat timeout", "{report}");
    assert_eq!(last["by_client"], true, "{report}");
}

#[test]
fn heartbeats_keep_going_during_a_flood() {
    let server = Server::start();
    // A million pushes take several heartbeat intervals of 50 ms to print,
    // even from a release build; every heartbeat must be answered
    // meanwhile (no heartbeat timeout, no reconnect).
    let out = Script::new(&server)
        .args(["--heartbeat", "0.05", "--no-reconnect", "--show-heartbeats"])
        .stdin("join flood:1000000\nwait flood:1000000 done 60s\n")
        .run();
    out.assert_success()
        .assert_stdout_lacks("no reply to the heartbeat")
        .assert_stdout_lacks("disconnected");
    assert!(
        out.stdout.contains("← phoenix reply ok to heartbeat"),
        "no heartbeat was answered during the flood\n{}",
        &out.stdout[out.stdout.len().saturating_sub(2000)..]
    );
}

#[test]
fn an_idle_timeout_closes_with_a_close_frame_and_the_client_comes_back() {
    let server = Server::with_idle_timeout("0.5");
    let mut client = Script::new(&server)
        .args(["--heartbeat", "0"])
        .stdin("join room:lobby\n")
        .spawn();
    client.expect_line("the idle close", |l| {
        l == "* disconnected by the server: code 1000 (idle timeout)"
    });
    client.expect_line("a rejoin", |l| {
        l.starts_with("← room:lobby reply ok to phx_join (ref 2")
    });
    client.finish().assert_success();
}

#[test]
fn a_kick_with_no_reconnect_ends_the_run_with_exit_3() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--no-reconnect")
        .stdin("join room:lobby\npush room:lobby kick\npush room:lobby echo\n")
        .run();
    out.assert_code(3)
        .assert_stdout_contains("* disconnected by the server: code 1011 (kicked)\n")
        .assert_stdout_lacks("reconnecting")
        .assert_stdout_lacks("echo");
    // The cause comes first, then what it left unanswered; said once.
    let report = out.report();
    let drop = out
        .stdout
        .find("* disconnected by the server")
        .expect("checked");
    let unanswered = out
        .stdout
        .find("* line 2: no reply to kick on room:lobby (ref 2): the connection dropped")
        .unwrap_or_else(|| panic!("no unanswered line\n{report}"));
    assert!(drop < unanswered, "{report}");
    assert_eq!(out.stdout.matches("code 1011").count(), 1, "{report}");
}

#[test]
fn a_kick_reconnects_and_the_next_line_waits_for_the_rejoin() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby kick\npush room:lobby echo\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* disconnected by the server: code 1011 (kicked)\n")
        .assert_stdout_contains("* reconnecting in 10 ms (attempt 1)\n")
        .assert_stdout_contains("← room:lobby reply ok to echo");
}

#[test]
fn the_retry_budget_ends_a_script_with_exit_3_when_the_server_is_gone() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--max-retries", "3"])
        .stdin("join room:lobby\n")
        .spawn();
    client.expect_line("joined", |l| {
        l.starts_with("← room:lobby reply ok to phx_join")
    });
    drop(server);
    client.expect_line("the third attempt", |l| {
        l.starts_with("* reconnecting in 100 ms (attempt 3)")
    });
    client.expect_line("giving up", |l| {
        l.contains("gave up after 3 reconnect attempts")
    });
    client.finish().assert_code(3);
}

#[test]
fn retry_waits_for_a_server_that_is_not_up_yet() {
    let port = unused_port();
    let url = format!("ws://127.0.0.1:{port}/socket");
    let mut client = Script::with_url(&url)
        .args(["--retry", "--max-retries", "100"])
        .stdin("join room:lobby\n")
        .spawn();
    client.expect_line("a retry", |l| {
        l.starts_with(
            "* retrying in 10 ms (attempt 1); the last attempt failed: connection refused",
        )
    });
    let _server = Server::listening_on(&format!("127.0.0.1:{port}"), &[]);
    client.expect_line("connected", |l| l.starts_with("* connected to "));
    client
        .finish()
        .assert_success()
        .assert_stdout_contains("← room:lobby reply ok to phx_join");
}

#[test]
fn status_shows_the_connection_heartbeat_and_each_topic() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby <\"user\":\"ana\">\njoin private:x\nheartbeat\nstatus\n")
        .run()
        .assert_success()
        .assert_stdout_contains(
            "  connection  connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0, up 0 s (0 reconnects in 0 s)\n",
        )
        .assert_stdout_contains("  heartbeat   every 30 s, no reply yet, 0 missed\n")
        .assert_stdout_contains("    private:x   errored   join_ref 2  payload {}\n")
        .assert_stdout_contains("    room:lobby  joined    join_ref 1  payload {\"user\":\"ana\"}\n");
}

#[test]
fn a_long_outage_prints_three_reconnect_lines_and_status_tells_the_rest() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--max-retries", "100"])
        .stdin("join room:lobby\n")
        .spawn();
    client.expect_line("joined", |l| {
        l.starts_with("← room:lobby reply ok to phx_join")
    });
    drop(server);
    client.expect_line("the third attempt", |l| {
        l.starts_with("* reconnecting in 100 ms (attempt 3)")
    });
    // Ask `status` until it counts attempt 8 (the backoff is at 1 s by
    // then, a few seconds in): no reconnect line may come meanwhile, as
    // the next one is due only 30 s after the third.
    let extra = std::cell::Cell::new(0);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        assert!(
            std::time::Instant::now() < end,
            "attempt 8 not reached in 30 s"
        );
        client.send_line("sleep 0.2");
        client.send_line("status");
        let line = client.expect_line("the connection's status", |l| {
            if l.starts_with("* reconnecting") || l.starts_with("* still reconnecting") {
                extra.set(extra.get() + 1);
            }
            l.starts_with("  connection  ")
        });
        assert!(
            line.starts_with("  connection  reconnecting to ws://127.0.0.1:"),
            "{line}"
        );
        let attempt: u32 = line
            .split(": attempt ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no attempt in {line}"));
        if attempt >= 8 {
            break;
        }
    }
    assert_eq!(extra.get(), 0, "reconnect lines after the third");
    client.expect_line("the topic waiting", |l| {
        l.starts_with("    room:lobby  errored   join_ref 1  payload {}  rejoins once reconnected")
    });
}

#[test]
fn json_records_tell_the_whole_reconnect_story() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--heartbeat", "0.3"])
        .stdin(
            "join room:lobby\npush room:lobby kick\npush room:lobby mute_heartbeats\nwait * nothing 1.5s\nstatus\n",
        )
        .run();
    let records = out.json();
    let info = |event: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["type"] == "info" && r["event"] == event)
            .collect()
    };
    let report = out.report();
    let disconnected = info("disconnected");
    assert_eq!(disconnected[0]["code"], 1011, "{report}");
    assert_eq!(disconnected[0]["reason"], "kicked", "{report}");
    // The heartbeat timeout: we closed it ourselves, with 1000.
    let timeout = disconnected
        .iter()
        .find(|r| r["reason"] == "heartbeat timeout")
        .unwrap_or_else(|| panic!("no heartbeat-timeout disconnect\n{report}"));
    assert_eq!(timeout["code"], 1000, "{report}");
    assert_eq!(timeout["by_client"], true, "{report}");
    let reconnecting = info("reconnecting");
    assert_eq!(reconnecting[0]["attempt"], 1, "{report}");
    assert_eq!(reconnecting[0]["delay_ms"], 10, "{report}");
    assert_eq!(info("connected")[1]["reconnects"], 1, "{report}");
    assert_eq!(info("rejoining")[0]["topic"], "room:lobby", "{report}");
    assert!(!info("heartbeat_timeout").is_empty(), "{report}");
    let states: Vec<(String, String, String)> = info("channel_state")
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap_or("null").to_owned(),
                r["to"].as_str().unwrap_or_default().to_owned(),
                r["why"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = |from: &str, to: &str, why: &str| (from.to_owned(), to.to_owned(), why.to_owned());
    for s in [
        want("null", "joining", "join"),
        want("joining", "joined", "joined"),
        want("joined", "errored", "disconnected"),
        want("errored", "joining", "rejoin"),
    ] {
        assert!(states.contains(&s), "no channel_state {s:?}\n{report}");
    }
    let status = info("status");
    assert_eq!(status.len(), 1, "{report}");
    assert!(
        status[0]["heartbeats_missed"].as_u64() >= Some(1),
        "{report}"
    );
    // The count is exactly the heartbeat timeouts (each closed the
    // connection) reported before the status.
    let timeouts_before = records
        .iter()
        .take_while(|r| r["event"] != "status")
        .filter(|r| r["event"] == "heartbeat_timeout")
        .count() as u64;
    assert_eq!(
        status[0]["heartbeats_missed"].as_u64(),
        Some(timeouts_before),
        "{report}"
    );
    assert_eq!(status[0]["topics"][0]["topic"], "room:lobby", "{report}");
}

#[test]
fn a_push_held_while_offline_is_given_up_after_the_timeout() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--json", "--timeout", "0.5", "--max-retries", "100"])
        .stdin("join room:lobby\n")
        .spawn();
    client.expect_line("joined", |l| l.contains("\"request\":\"phx_join\""));
    drop(server);
    client.expect_line("reconnecting", |l| l.contains("\"event\":\"reconnecting\""));
    client.send_line("push room:lobby echo");
    client.expect_line("the push held", |l| {
        l.contains("\"event\":\"queued\"") && l.contains("\"until\":\"offline\"")
    });
    client.expect_line("the push given up", |l| {
        l.contains("\"type\":\"error\"")
            && l.contains(
                "push `echo` to `room:lobby` not sent: its topic did not join within 500 ms",
            )
    });
}

#[test]
fn a_leave_typed_while_reconnecting_closes_the_topic_and_it_is_not_rejoined() {
    let server = Server::start();
    let addr = server.addr();
    let mut client = Script::new(&server)
        .args(["--max-retries", "100"])
        .stdin("join room:a\njoin room:b\n")
        .spawn();
    client.expect_line("room:b joined", |l| {
        l.starts_with("← room:b reply ok to phx_join")
    });
    drop(server);
    client.expect_line("saying why", |l| {
        l == "* connection lost (the connection was reset without a close frame: the server stopped, or the network dropped it)"
    });
    client.expect_line("reconnecting", |l| l.starts_with("* reconnecting in "));
    client.send_line("leave room:b");
    client.expect_line("the leave waits for the connection", |l| {
        l == "* not connected: queued until the connection is back"
    });
    let _server = Server::listening_on(&addr, &[]);
    // The held leave goes out first, then the rejoin.
    client.expect_line("the leave answered", |l| {
        l.starts_with("← room:b reply ok to phx_leave (ref 3,")
    });
    client.expect_line("room:a rejoined", |l| {
        l.starts_with("← room:a reply ok to phx_join (ref 4,")
    });
    client.send_line("topics");
    let out = client.finish();
    out.assert_success()
        .assert_stdout_contains(
            "* room:b closed: left while not connected (its server channel went with the connection); it will not be rejoined\n",
        )
        .assert_stdout_contains("* rejoining room:a with its join payload")
        .assert_stdout_lacks("rejoining room:b")
        .assert_stdout_contains("  room:a  joined")
        .assert_stdout_contains("  room:b  closed");
}

#[test]
fn status_tells_how_long_a_heartbeat_has_waited_while_the_server_is_silent() {
    let server = Server::start();
    let mut client = Script::new(&server)
        .args(["--json", "--heartbeat", "2"])
        .stdin("join room:lobby\npush room:lobby stall ms:=10000\n")
        .spawn();
    client.expect_line("the stall begun", |l| l.contains("\"request\":\"stall\""));
    // The beat at 2 s goes unanswered; until the next one (4 s) declares
    // the connection dead, `status` says how long it has waited.
    loop {
        client.send_line("status");
        let line = client.expect_line("a status or the timeout", |l| {
            l.contains("\"event\":\"status\"") || l.contains("\"event\":\"heartbeat_timeout\"")
        });
        let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON record");
        assert_eq!(
            record["event"], "status",
            "timed out before a status showed the wait"
        );
        if record["heartbeat_waiting_ms"].as_f64() >= Some(500.0) {
            assert_eq!(record["state"], "connected");
            break;
        }
        client.send_line("sleep 100ms");
    }
    client.expect_line("the silent server detected", |l| {
        l.contains("\"event\":\"heartbeat_timeout\"")
    });
    let status = client.expect_line("reconnected", |l| l.contains("\"reconnects\":1"));
    assert!(status.contains("\"event\":\"connected\""), "{status}");
    client.send_line("status");
    let line = client.expect_line("a status", |l| l.contains("\"event\":\"status\""));
    assert!(line.contains("\"heartbeat_waiting_ms\":null"), "{line}");
}

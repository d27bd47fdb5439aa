//! Presence over real sockets: the built-in server tracks each `room:*`
//! socket by its `user` connect param and the client shows who joins and
//! leaves, lists the present with `presence`, and emits `presence` records
//! with `--json`.

use crate::support::{Script, Server};

#[test]
fn two_clients_see_each_other_join_and_leave() {
    let server = Server::start();
    let mut alice = Script::new(&server)
        .args(["-p", "user=alice"])
        .stdin("join room:lobby\n")
        .spawn();
    alice.expect_line("the join reply", |l| l.contains("reply ok to phx_join"));
    alice.expect_line("alice's own join", |l| l == "  room:lobby + alice");

    let mut bob = Script::new(&server)
        .args(["-p", "user=bob"])
        .stdin("join room:lobby\n")
        .spawn();
    bob.expect_line("bob's state with alice in it", |l| {
        l.starts_with("← room:lobby push presence_state ") && l.contains("\"alice\"")
    });
    alice.expect_line("bob joining", |l| l == "  room:lobby + bob");

    // A second connection for bob is a second session under one key.
    let bob2 = Script::new(&server)
        .args(["-p", "user=bob"])
        .stdin("join room:lobby\nwait room:lobby presence_state\npresence room:lobby\n")
        .run();
    bob2.assert_success()
        .assert_stdout_contains("  room:lobby + bob (2 sessions)\n")
        .assert_stdout_contains("  room:lobby: 2 present (3 sessions)\n    alice\n");
    alice.expect_line("bob's second session", |l| {
        l == "  room:lobby + bob (2 sessions)"
    });
    alice.expect_line("bob's second session leaving", |l| {
        l == "  room:lobby - bob (1 session left)"
    });

    bob.send_line("leave room:lobby");
    alice.expect_line("bob leaving", |l| l == "  room:lobby - bob");
    alice.send_line("presence");
    alice.expect_line("the list header", |l| {
        l == "  room:lobby: 1 present (1 session)"
    });
    alice.expect_line("alice in the list", |l| l == "    alice");
    bob.finish().assert_success();
    alice.finish().assert_success();
}

#[test]
fn a_socket_without_a_user_param_gets_a_generated_key() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("  room:lobby + user-1\n");
}

#[test]
fn json_has_presence_records_and_the_full_state_on_request() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "-p", "user=ana"])
        .stdin("join room:lobby\nwait room:lobby presence_state\npresence room:lobby\n")
        .run();
    out.assert_success();
    let records = out.json();
    let presence: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["type"] == "presence").collect();
    assert!(presence.len() >= 2, "{}", out.report());
    let first = presence[0];
    assert_eq!(first["topic"], "room:lobby");
    assert_eq!(first["joins"]["ana"]["metas"][0]["phx_ref"], "P1");
    assert_eq!(first["leaves"], serde_json::json!({}));
    let listing = presence.last().unwrap();
    assert_eq!(
        listing["state"],
        serde_json::json!({"ana": {"metas": [{"phx_ref": "P1"}]}})
    );
}

#[test]
fn presence_of_a_topic_without_presence_says_so() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join miami:weather\npresence miami:weather\n")
        .run()
        .assert_stderr_contains("no presence on `miami:weather` yet");
}

/// Our own rejoin lists our key again under a new phx_ref: that is no
/// second session that came and went, so people see neither half of it,
/// while another client's join still shows.
#[test]
fn our_own_rejoin_after_a_crash_is_not_a_session_that_came_and_went() {
    let server = Server::start();
    let mut us = Script::new(&server).stdin("join room:lobby\n").spawn();
    us.expect_line("our own join", |l| l == "  room:lobby + user-1");
    // The client rejoins the crashed channel by itself after about 1 s.
    us.send_line("push room:lobby crash");
    us.expect_line("the rejoin's reply", |l| {
        l.starts_with("← room:lobby reply ok to phx_join (ref 3,")
    });
    us.expect_line("the rejoin's state", |l| {
        l.starts_with("← room:lobby push presence_state ") && l.contains("\"P2\"")
    });

    let other = Script::new(&server)
        .stdin("join room:lobby\nwait room:lobby presence_state\n")
        .run();
    other
        .assert_success()
        .assert_stdout_contains("  room:lobby + user-1\n  room:lobby + user-2\n");
    us.expect_line("the other client's join", |l| l == "  room:lobby + user-2");
    us.expect_line("the other client's leave", |l| l == "  room:lobby - user-2");
    us.send_line("presence room:lobby");
    us.expect_line("the list header", |l| {
        l == "  room:lobby: 1 present (1 session)"
    });
    let out = us.finish();
    out.assert_stdout_lacks("session left")
        .assert_stdout_lacks("(2 sessions)\n")
        .assert_stdout_contains("    user-1\n      {\"phx_ref\":\"P2\"}\n");
}

/// With `--json` the records of the rejoin stay exact: the state's join of
/// the new ref and leave of the old one, as the JS client's syncState sees
/// them.
#[test]
fn json_keeps_the_rejoin_join_and_leave() {
    let server = Server::start();
    let mut us = Script::new(&server)
        .args(["--json", "-p", "user=ana"])
        .stdin("join room:lobby\nwait room:lobby presence_state\n")
        .spawn();
    us.expect_line("the first state's record", |l| {
        l.contains(r#""type":"presence""#) && l.contains(r#""P1""#)
    });
    us.send_line("push room:lobby crash");
    let line = us.expect_line("the rejoin state's record", |l| {
        l.contains(r#""type":"presence""#) && l.contains(r#""P2""#)
    });
    let rec: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        rec["joins"],
        serde_json::json!({"ana": {"metas": [{"phx_ref": "P2"}]}})
    );
    assert_eq!(
        rec["leaves"],
        serde_json::json!({"ana": {"metas": [{"phx_ref": "P1"}]}})
    );
    us.send_line("presence room:lobby");
    us.expect_line("the listing", |l| {
        l.contains(r#""state":{"ana":{"metas":[{"phx_ref":"P2"}]}}"#)
    });
    us.finish();
}

#[test]
fn muted_presence_diffs_still_move_the_list_without_their_lines() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "mute presence_diff\njoin room:m\nconnect bob -p user=bob\n@bob join room:m\n\
             @bob wait room:m presence_state\n\
             wait room:m presence_diff {\"joins\":{\"bob\":{}}}\npresence room:m\n",
        )
        .run()
        .assert_success()
        .assert_stdout_lacks("main   room:m + bob")
        .assert_stdout_contains("main   room:m: 2 present");
}

//! Serializers and binary payloads over real sockets: `--vsn 1.0.0`
//! against the built-in server, binary pushes, replies and broadcasts both
//! ways, and the clear refusals (binary on V1, fields over 255 bytes).

use crate::support::{Script, Server, lobby_joined, scratch_dir, transcript};

const LOBBY: &str = "join room:lobby\n\
                     push room:lobby echo body=hi count:=3\n\
                     cast room:lobby shout {\"x\":1}\n\
                     wait room:lobby shout\n\
                     topics\n\
                     leave room:lobby\n";

/// What `LOBBY` prints after the join.
const LOBBY_OUT: &str = r#"
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
    "#;

/// The same session prints the same lines whichever serializer is on the
/// wire, but for the one thing V1 cannot tell: a channel's push (here
/// presence_state) has no join_ref in V1, so it shows as a broadcast.
#[test]
fn v1_session_prints_what_v2_prints() {
    for (args, vsn, push) in [
        (&["--vsn", "1.0.0"][..], "1.0.0", "broadcast"),
        (&[][..], "2.0.0", "push"),
    ] {
        let server = Server::start();
        Script::new(&server)
            .args(args)
            .stdin(LOBBY)
            .run()
            .assert_success()
            .assert_stderr("")
            .assert_stdout(&transcript(&[
                &format!("* connected to ws://127.0.0.1:PORT/socket/websocket?vsn={vsn}"),
                &lobby_joined().replace(
                    "← room:lobby push presence_state",
                    &format!("← room:lobby {push} presence_state"),
                ),
                LOBBY_OUT,
            ]));
    }
}

#[test]
fn a_vsn_in_the_url_wins_over_the_option() {
    let server = Server::start();
    Script::with_url(&format!("{}?vsn=1.0.0", server.url))
        .args(["--vsn", "2.0.0"])
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("socket/websocket?vsn=1.0.0\n")
        .assert_stdout_contains("reply ok to phx_join");
}

/// V1 frames from the server carry no join_ref (docs/PROTOCOL.md §2), so
/// received records say `null` there; every other field is the same.
#[test]
fn v1_json_records_match_v2_records_but_for_the_join_ref_v1_lacks() {
    let records = |args: &[&str]| {
        let server = Server::start();
        let out = Script::new(&server)
            .arg("--json")
            .args(args)
            .stdin("join room:lobby\npush room:lobby echo a=1\n")
            .run();
        out.assert_success();
        out.json()
            .into_iter()
            .filter(|r| r["type"] != "info")
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("time");
                r.as_object_mut().unwrap().remove("latency_ms");
                if r["type"] != "sent" {
                    r.as_object_mut().unwrap().remove("join_ref");
                }
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(records(&["--vsn", "1.0.0"]), records(&[]));
}

#[test]
fn binary_push_gets_a_binary_reply_and_broadcast() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             push room:lobby echo hex:DEADBEEF\n\
             cast room:lobby shout base64:AQID\n\
             wait room:lobby shout\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            → room:lobby echo hex:deadbeef  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) hex:deadbeef
            → room:lobby shout hex:010203  (ref 3, cast)
            ← room:lobby broadcast shout hex:010203
            ✓ wait room:lobby shout
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn long_binary_is_abbreviated_for_humans_and_full_in_json() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("blob.bin");
    let data: Vec<u8> = (0..=255).collect();
    std::fs::write(&file, &data).unwrap();
    let script = format!(
        "join room:lobby\npush room:lobby echo @@{}\n",
        file.display()
    );

    Script::new(&server)
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stdout_contains(
            "← room:lobby reply ok to echo (ref 2, _) hex:000102030405060708090a0b0c0d0e0f… (256 bytes)\n",
        );

    let out = Script::new(&server).arg("--json").stdin(&script).run();
    out.assert_success();
    let reply = out
        .json()
        .into_iter()
        .find(|r| r["type"] == "reply" && r["request"] == "echo")
        .expect("the echo reply");
    let b64 = reply["response"]["binary"]
        .as_str()
        .expect("binary response");
    assert_eq!(data_encoding::BASE64.decode(b64.as_bytes()).unwrap(), data);
}

#[test]
fn binary_from_one_client_reaches_another() {
    let server = Server::start();
    let mut watcher = Script::new(&server)
        .stdin("join room:lobby\nwait room:lobby shout 30s\n")
        .spawn();
    watcher.expect_line("the watcher's join", |l| l.contains("reply ok to phx_join"));
    Script::new(&server)
        .stdin("join room:lobby\ncast room:lobby shout hex:cafe\n")
        .run()
        .assert_success();
    watcher.expect_line("the binary broadcast", |l| {
        l == "← room:lobby broadcast shout hex:cafe"
    });
    watcher.finish().assert_success();
}

#[test]
fn binary_on_v1_is_refused_and_nothing_is_sent() {
    let server = Server::start();
    Script::new(&server)
        .args(["--vsn", "1.0.0"])
        .stdin("join room:lobby\npush room:lobby echo hex:00\npush room:lobby echo a=1\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("binary payloads need the V2 serializer")
        .assert_stdout_lacks("hex:00")
        // The connection is still fine and the next ref is 2.
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"a\":\"1\"}");
}

#[test]
fn binary_with_a_topic_over_255_bytes_is_refused() {
    let server = Server::start();
    let topic = format!("room:{}", "x".repeat(251));
    Script::new(&server)
        .stdin(&format!("push {topic} echo hex:00\n"))
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "the topic is 256 bytes long, but a binary frame allows at most 255",
        );
}

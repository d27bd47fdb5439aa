//! Display switches (`--pretty`, `--raw`, `--timestamps`, `display`),
//! payload colours, and `mute`.

use crate::support::{Script, Server, dedent};

#[test]
fn pretty_and_raw_switch_at_runtime() {
    let server = Server::start();
    Script::new(&server)
        .arg("--pretty")
        .stdin(
            "join room:lobby\n\
             push room:lobby echo a:={\"b\":[1,2]}\n\
             display pretty off\n\
             display raw on\n\
             cast room:lobby shout x=1\n",
        )
        .run()
        .assert_success()
        .assert_stdout(&dedent(
            r#"
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            → room:lobby phx_join {}  (ref 1)
            ← room:lobby reply ok to phx_join (ref 1, _) {
              "joined": "room:lobby"
            }
            ← room:lobby broadcast presence_diff {
              "joins": {
                "user-1": {
                  "metas": [
                    {
                      "phx_ref": "P1"
                    }
                  ]
                }
              },
              "leaves": {}
            }
            ← room:lobby push presence_state {
              "user-1": {
                "metas": [
                  {
                    "phx_ref": "P1"
                  }
                ]
              }
            }
              room:lobby + user-1
            → room:lobby echo {
              "a": {
                "b": [
                  1,
                  2
                ]
              }
            }  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {
              "a": {
                "b": [
                  1,
                  2
                ]
              }
            }
            * display: timestamps off, pretty off, raw off, full off
            * display: timestamps off, pretty off, raw on, full off
            → ["1","3","room:lobby","shout",{"x":"1"}]
            ← [null,null,"room:lobby","shout",{"x":"1"}]
            * connection closed: code 1000
            "#,
        ));
}

#[test]
fn timestamps_start_event_lines() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--timestamps")
        .stdin("join room:lobby\n")
        .run();
    out.assert_success();
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("phx_join {}"))
        .expect("the join echo");
    let rest = after_stamp(line);
    assert!(rest.starts_with("→ room:lobby"), "{line}");
}

/// What follows the `12:34:56.789 ` that starts `line` (asserted).
fn after_stamp(line: &str) -> &str {
    let (stamp, rest) = line.split_once(' ').unwrap();
    assert_eq!(stamp.len(), "12:34:56.789".len(), "{line}");
    assert!(
        stamp
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.'),
        "{line}"
    );
    rest
}

#[test]
fn timestamps_start_every_line_of_a_flood() {
    // A flood's pushes are printed in runs; each line still gets its stamp.
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--timestamps")
        .stdin("join flood:300\nwait flood:300 done\n")
        .run();
    out.assert_success();
    let pushes: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(" ← flood:300 push "))
        .collect();
    assert_eq!(pushes.len(), 301, "{}", out.report());
    for line in pushes {
        assert!(after_stamp(line).starts_with("← flood:300 push "), "{line}");
    }
}

#[test]
fn payloads_are_coloured_only_when_asked_and_no_color_wins() {
    let server = Server::start();
    let script = "join room:lobby\npush room:lobby echo n:=1\n";
    let out = Script::new(&server)
        .args(["--color", "always"])
        .stdin(script)
        .run();
    out.assert_success();
    assert!(
        out.stdout
            .contains("\u{1b}[34m\"n\"\u{1b}[0m:\u{1b}[36m1\u{1b}[0m"),
        "{}",
        out.report()
    );
    for (args, env) in [
        (vec!["--color", "never"], None),
        (vec![], Some(("NO_COLOR", "1"))),
        (vec![], None),
    ] {
        let mut s = Script::new(&server).args(args).stdin(script);
        if let Some((k, v)) = env {
            s = s.env(k, v);
        }
        let out = s.run();
        out.assert_success();
        assert!(!out.stdout.contains('\u{1b}'), "{}", out.report());
    }
}

#[test]
fn muted_messages_are_hidden_and_counted_but_kept_in_json() {
    let server = Server::start();
    let script =
        "join room:lobby\nmute shout\ncast room:lobby shout x=1\nwait room:lobby shout\nmute\n";
    Script::new(&server)
        .stdin(script)
        .run()
        .assert_success()
        .assert_stdout_lacks("broadcast shout")
        .assert_stdout_contains("* muted for every client: shout (1 hidden)");
    let out = Script::new(&server).arg("--json").stdin(script).run();
    out.assert_success();
    assert!(
        out.json()
            .iter()
            .any(|r| r["type"] == "message" && r["event"] == "shout"),
        "{}",
        out.report()
    );
}

#[test]
fn a_prefix_mutes_a_family_of_topics() {
    let server = Server::start();
    Script::new(&server)
        .stdin("mute flood:*\njoin flood:3\nwait flood:3 done\nunmute\n")
        .run()
        .assert_success()
        .assert_stdout_lacks("push msg")
        .assert_stdout_lacks("push done")
        .assert_stdout_contains("reply ok to phx_join");
}

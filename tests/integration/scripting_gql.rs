//! The client's side of GraphQL over Absinthe (`gql`, `wait gql`,
//! `refute gql`, `gql unsubscribe`) and the script steps that carry values
//! and assert absence (`let`, `refute`), over real sockets against the
//! built-in server's `/socket` and `/gql` sockets.

use crate::support::{Script, Server};

/// The `/gql` socket of `server`, which routes only `__absinthe__:*`.
fn gql_url(server: &Server) -> String {
    let base = server.url.strip_suffix("/socket").expect("a /socket url");
    format!("{base}/gql")
}

const SMOKE: &str = r#"gql subscription($r: String!) { messageAdded(room: $r) { id body } } {"r":"lobby"}
expect ok
let sub = .subscriptionId
gql mutation { addMessage(room: "lobby", body: "hi") { id } }
expect ok {"data":{"addMessage":{}}}
let id = .data.addMessage.id
wait gql messageAdded {"id":"${id}","body":"hi"}
refute gql messageAdded 300ms
gql unsubscribe ${sub}
expect ok
"#;

#[test]
fn a_subscription_smoke_test_on_the_gql_socket_exits_0() {
    let server = Server::start();
    Script::with_url(&gql_url(&server))
        .stdin(SMOKE)
        .with_summary()
        .run()
        .assert_success()
        .assert_stdout_contains("* subscribed s1 messageAdded(room: \"lobby\")\n")
        .assert_stdout_contains("← gql s1 messageAdded {\"body\":\"hi\",\"id\":\"1\"}\n")
        .assert_stdout_contains("✓ wait gql messageAdded {\"body\":\"hi\",\"id\":\"1\"}\n")
        .assert_stdout_contains("✓ refute gql messageAdded\n")
        .assert_stdout_contains("* unsubscribed s1 messageAdded(room: \"lobby\")\n")
        .assert_stderr_contains("expectations: 5 passed, 0 failed");
}

#[test]
fn gql_records_name_the_subscription_and_its_data() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin(
            "gql subscription { messageAdded(room: \"r\") { body } }\n\
             gql mutation { addMessage(room: \"r\", body: \"x\") { id } }\n\
             wait gql s1\n",
        )
        .run();
    out.assert_success();
    let records = out.json();
    let sub = records
        .iter()
        .find(|r| r["type"] == "gql_result" && r["operation"] == "subscription")
        .expect("a gql_result for the subscription");
    assert_eq!(sub["short"], "s1");
    let id = sub["subscription_id"].as_str().unwrap();
    let data = records
        .iter()
        .find(|r| r["type"] == "gql_data")
        .expect("a gql_data record");
    assert_eq!(data["subscription_id"], id);
    assert_eq!(data["value"], serde_json::json!({"body": "x"}));
    let mutation = records
        .iter()
        .find(|r| r["type"] == "gql_result" && r["operation"] == "mutation")
        .unwrap();
    assert_eq!(mutation["data"]["addMessage"]["id"], "1");
}

#[test]
fn a_result_with_errors_is_an_error_reply() {
    let server = Server::start();
    Script::new(&server)
        .stdin("gql { nope }\nexpect ok\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("  error: Cannot query field \"nope\" on type \"RootQueryType\".")
        .assert_stdout_contains("(line 1, column 3)");
    Script::new(&server)
        .arg("--fail")
        .stdin("gql { nope }\n")
        .run()
        .assert_code(1);
    Script::new(&server)
        .stdin("gql { nope }\nexpect error\n")
        .run()
        .assert_success();
}

#[test]
fn a_syntax_error_warns_that_subscriptions_may_stop() {
    let server = Server::start();
    Script::new(&server)
        .stdin("gql { hello(name: ) }\n")
        .run()
        .assert_success()
        .assert_stdout_contains("syntax error before")
        .assert_stdout_contains("may stop delivering this socket's subscriptions");
}

#[test]
fn gql_on_a_socket_without_absinthe_says_so_and_fails() {
    // The built-in server's /socket serves Absinthe too; a control topic it
    // does not route stands in for a socket without it.
    let server = Server::start();
    Script::new(&server)
        .args(["--gql-topic", "nothing:here"])
        .stdin("gql { hello }\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "this socket does not serve GraphQL subscriptions (no nothing channel)",
        );
}

#[test]
fn the_control_channel_crashing_resubscribes_with_the_same_short_name() {
    let server = Server::start();
    // An unknown event on the control topic crashes it (as Absinthe's
    // channel does); it rejoins, and the subscription is made again.
    Script::new(&server)
        .stdin(
            "gql subscription { messageAdded(room: \"c\") { body } }\n\
             push __absinthe__:control bogus\n\
             wait __absinthe__:control phx_error\n\
             wait * * 3s {\"subscriptionId\":\"__absinthe__:doc:2:\"}\n",
        )
        .run()
        .assert_stdout_contains("the GraphQL control channel rejoined: subscribing again")
        .assert_stdout_contains("* resubscribed s1 messageAdded(room: \"c\"): __absinthe__:doc:1:");
}

#[test]
fn let_keeps_a_value_and_a_missing_path_fails_its_line() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:l\npush room:l echo user:={\"id\":7}\nlet uid = .user.id\n\
             push room:l echo n=${uid}\nexpect ok {\"n\":\"7\"}\nlet nope = .user.name\n",
        )
        .run()
        .assert_code(1)
        .assert_stdout_contains("* let uid = 7\n")
        .assert_stderr_contains(
            "line 6: `.user.name` finds nothing in the reply to echo on room:l",
        );
    Script::new(&server)
        .stdin("let x = .a\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("line 1: `let x = .a` has nothing to read yet");
}

#[test]
fn refute_fails_on_a_message_and_passes_when_none_comes() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:r\ncast room:r new_msg body=once\nrefute room:r new_msg 300ms body=once\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "`new_msg` on `room:r` came within 300 ms, and `refute` says it must not",
        );
    Script::new(&server)
        .stdin(
            "join room:r\ncast room:r new_msg body=once\nwait room:r new_msg\nrefute room:r new_msg 200ms\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("✓ refute room:r new_msg\n");
}

#[test]
fn a_topic_spelled_like_a_keyword_is_reached_with_topic() {
    let server = Server::start();
    Script::new(&server)
        .stdin("wait text x 100ms\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("`wait --topic text EVENT`");
    Script::new(&server)
        .stdin("join text\nrefute --topic text nothing 100ms\n")
        .run()
        .assert_success();
}

//! The built-in server's Absinthe channel, driven over real sockets with
//! today's commands (`join __absinthe__:control`, `push … doc {…}`) and
//! `--json` output: subscription data ahead of the mutation's reply, a
//! mutation on one socket feeding another, unsubscribe, Absinthe's error
//! shapes, and the `/gql` socket that routes nothing else.

use serde_json::{Value, json};

use crate::support::{Output, Script, Server};

const JOIN: &str = "join __absinthe__:control {}";
const SUBSCRIBE: &str = r#"push __absinthe__:control doc {"query":"subscription($r: String!){ messageAdded(room: $r){ id body room } }","variables":{"r":"lobby"}}"#;

fn mutation(body: &str) -> String {
    format!(
        r#"push __absinthe__:control doc {{"query":"mutation {{ addMessage(room: \"lobby\", body: \"{body}\") {{ id body room }} }}"}}"#
    )
}

/// The `/gql` socket of `server`.
fn gql_url(server: &Server) -> String {
    let base = server.url.strip_suffix("/socket").expect("a /socket url");
    format!("{base}/gql")
}

fn json_client(url: &str) -> Script {
    Script::with_url(url).arg("--json")
}

/// The records of type `kind`, in order.
fn of_type(out: &Output, kind: &str) -> Vec<Value> {
    out.json()
        .into_iter()
        .filter(|r| r["type"] == kind)
        .collect()
}

/// The reply to the push with ref `r`.
fn reply(out: &Output, r: &str) -> Value {
    of_type(out, "reply")
        .into_iter()
        .find(|rec| rec["ref"] == r)
        .unwrap_or_else(|| panic!("no reply to ref {r}\n{}", out.report()))
}

#[test]
fn subscription_data_arrives_on_its_id_before_the_mutation_reply() {
    let server = Server::start();
    let script = format!("{JOIN}\n{SUBSCRIBE}\n{}\n", mutation("hi"));
    let out = json_client(&gql_url(&server)).stdin(&script).run();
    out.assert_success();
    let id = reply(&out, "2")["response"]["subscriptionId"]
        .as_str()
        .expect("a subscription id")
        .to_owned();
    assert!(id.starts_with("__absinthe__:doc:"), "{id}");
    let records = out.json();
    let data_at = records
        .iter()
        .position(|r| r["event"] == "subscription:data")
        .unwrap_or_else(|| panic!("no data\n{}", out.report()));
    let reply_at = records
        .iter()
        .position(|r| r["type"] == "reply" && r["ref"] == "3")
        .expect("the mutation's reply");
    assert!(data_at < reply_at, "data after the reply\n{}", out.report());
    let data = &records[data_at];
    assert_eq!(
        (&data["join_ref"], &data["ref"], &data["topic"]),
        (&Value::Null, &Value::Null, &json!(id))
    );
    let message = json!({"body": "hi", "id": "1", "room": "lobby"});
    assert_eq!(
        data["payload"],
        json!({"result": {"data": {"messageAdded": message}}, "subscriptionId": id})
    );
    assert_eq!(
        reply(&out, "3")["response"],
        json!({"data": {"addMessage": message}})
    );
}

#[test]
fn a_mutation_on_another_socket_feeds_the_subscriber_until_it_unsubscribes() {
    let server = Server::start();
    let url = gql_url(&server);
    let mut a = json_client(&url)
        .stdin(&format!("{JOIN}\n{SUBSCRIBE}\n"))
        .spawn();
    let line = a.expect_line("with the subscription id", |l| {
        l.contains("\"reply\"") && l.contains("subscriptionId")
    });
    let record: Value = serde_json::from_str(&line).expect("json");
    let id = record["response"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_owned();

    let m = json_client(&url)
        .stdin(&format!("{JOIN}\n{}\n", mutation("from M")))
        .run();
    m.assert_success();
    assert_eq!(
        reply(&m, "2")["response"]["data"]["addMessage"]["body"],
        "from M"
    );
    let line = a.expect_line("with the data", |l| l.contains("subscription:data"));
    let data: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(data["topic"], json!(id));
    assert_eq!(
        data["payload"]["result"]["data"]["messageAdded"]["body"],
        "from M"
    );

    a.send_line(&format!(
        r#"push __absinthe__:control unsubscribe {{"subscriptionId":"{id}"}}"#
    ));
    a.expect_line("answering unsubscribe", |l| {
        l.contains("\"reply\"") && l.contains("\"ref\":\"3\"")
    });
    let m = json_client(&url)
        .stdin(&format!("{JOIN}\n{}\n", mutation("after")))
        .run();
    m.assert_success();
    // The mutation published before it replied; two round trips on A make
    // sure anything queued for A has been written by then.
    a.send_line(r#"push __absinthe__:control doc {"query":"{ hello }"}"#);
    a.send_line(r#"push __absinthe__:control doc {"query":"{ hello }"}"#);
    a.expect_line("answering the second hello", |l| {
        l.contains("\"reply\"") && l.contains("\"ref\":\"5\"")
    });
    let out = a.finish();
    out.assert_success();
    assert_eq!(
        reply(&out, "3")["response"],
        json!({"subscriptionId": id}),
        "{}",
        out.report()
    );
    let data = of_type(&out, "message");
    assert_eq!(data.len(), 1, "one delivery only\n{}", out.report());
}

#[test]
fn the_gql_socket_refuses_other_topics_as_unmatched() {
    let server = Server::start();
    let out = json_client(&gql_url(&server))
        .stdin("join room:lobby {}\n")
        .run();
    let r = reply(&out, "1");
    assert_eq!(
        (&r["status"], &r["response"]),
        (&json!("error"), &json!({"reason": "unmatched topic"}))
    );
}

#[test]
fn the_main_socket_serves_absinthe_with_no_url() {
    let out = Script::without_url()
        .arg("--json")
        .stdin(&format!(
            "{JOIN}\njoin room:lobby {{}}\npush __absinthe__:control doc {{\"query\":\"query($n: String){{ hello(name: $n) }}\",\"variables\":{{\"n\":\"phoenix\"}}}}\n"
        ))
        .run();
    out.assert_success();
    assert_eq!(reply(&out, "1")["status"], "ok");
    assert_eq!(reply(&out, "2")["status"], "ok");
    assert_eq!(
        reply(&out, "3")["response"],
        json!({"data": {"hello": "hello phoenix"}})
    );
}

#[test]
fn errors_are_shaped_as_absinthe_shapes_them() {
    let server = Server::start();
    let script = format!(
        "{JOIN}\n{}\n{}\n{}\n{}\n",
        r#"push __absinthe__:control doc {"query":"{ hello("}"#,
        r#"push __absinthe__:control doc {"query":"{ hello }","variables":"not-a-map"}"#,
        r#"push __absinthe__:control doc {"query":"subscription($r: String!){ messageAdded(room: $r){ id } }"}"#,
        r#"push __absinthe__:control doc {"query":"{ nope }"}"#,
    );
    let out = json_client(&gql_url(&server)).stdin(&script).run();
    let error = |r: &str| {
        let rec = reply(&out, r);
        assert_eq!(rec["status"], "error", "{}", out.report());
        rec["response"].clone()
    };
    assert_eq!(
        error("2"),
        json!({"errors": [{"message": "syntax error before: ", "locations": [{"line": 1, "column": 8}]}]})
    );
    assert_eq!(
        error("3"),
        json!({"error": "Could not parse variables as map"})
    );
    assert_eq!(
        error("4"),
        json!({"errors": [
            {"message": "In argument \"room\": Expected type \"String!\", found null.", "locations": [{"line": 1, "column": 41}]},
            {"message": "Variable \"r\": Expected non-null, found null.", "locations": [{"line": 1, "column": 14}]}
        ]})
    );
    let nope = error("5");
    let message = nope["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Cannot query field \"nope\" on type \"RootQueryType\".")
            && message.contains("addMessage"),
        "{message}"
    );
    // Unlike absinthe_phoenix 2.0, a syntax error leaves the channel whole:
    // a subscription after it still works.
    let script = format!(
        "{JOIN}\n{}\n{SUBSCRIBE}\n{}\n",
        r#"push __absinthe__:control doc {"query":"{ hello("}"#,
        mutation("still")
    );
    let out = json_client(&gql_url(&server)).stdin(&script).run();
    assert_eq!(reply(&out, "3")["status"], "ok", "{}", out.report());
    assert_eq!(of_type(&out, "message").len(), 1, "{}", out.report());
}

#[test]
fn the_gql_socket_has_a_long_poll_side_that_routes_the_same() {
    let server = Server::start();
    let url = gql_url(&server).replacen("ws://", "http://", 1);
    let out = Script::with_url(&url)
        .args(["--json", "--transport", "longpoll"])
        .stdin(&format!(
            "join room:lobby {{}}\n{JOIN}\npush __absinthe__:control doc {{\"query\":\"{{ hello }}\"}}\n"
        ))
        .run();
    assert_eq!(
        reply(&out, "1")["response"],
        json!({"reason": "unmatched topic"})
    );
    assert_eq!(reply(&out, "2")["status"], "ok");
    assert_eq!(
        reply(&out, "3")["response"],
        json!({"data": {"hello": "hello world"}})
    );
}

//! The built-in server's Absinthe channel, driven over real sockets with
//! today's commands (`join __absinthe__:control`, `push … doc {…}`) and
//! `--json` output: subscription data ahead of the mutation's reply, a
//! mutation on one socket feeding another, unsubscribe, Absinthe's error
//! shapes, the `/gql` socket that routes nothing else, and the recorded
//! absinthe_phoenix session played back frame by frame.

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

/// Section A of the recorded absinthe_phoenix 2.0.2 session on its `/gql`
/// socket, verbatim but for the frames of one mutation the recording does
/// not list: `>>` sent, `<<` received, in order.
const RECORDED: &str = r#"
>> ["1","1","__absinthe__:control","phx_join",{}]
<< ["1","1","__absinthe__:control","phx_reply",{"response":{},"status":"ok"}]
>> ["1","2","__absinthe__:control","doc",{"query":"subscription($r: String!){ messageAdded(room: $r){ id body room } }","variables":{"r":"lobby"}}]
<< ["1","2","__absinthe__:control","phx_reply",{"response":{"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"},"status":"ok"}]
>> ["1","3","__absinthe__:control","doc",{"query":"mutation { addMessage(room: \"lobby\", body: \"hi\") { id body room } }"}]
<< [null,null,"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32","subscription:data",{"result":{"data":{"messageAdded":{"body":"hi","id":"1","room":"lobby"}}},"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"}]
<< ["1","3","__absinthe__:control","phx_reply",{"response":{"data":{"addMessage":{"body":"hi","id":"1","room":"lobby"}}},"status":"ok"}]
>> ["1","4","__absinthe__:control","doc",{"query":"mutation { addMessage(room: \"other\", body: \"elsewhere\") { id body room } }"}]
<< ["1","4","__absinthe__:control","phx_reply",{"response":{"data":{"addMessage":{"body":"elsewhere","id":"2","room":"other"}}},"status":"ok"}]
>> ["1","5","__absinthe__:control","doc",{"query":"{ hello }"}]
<< ["1","5","__absinthe__:control","phx_reply",{"response":{"data":{"hello":"hello world"}},"status":"ok"}]
>> ["1","6","__absinthe__:control","doc",{"query":"query($n: String){ hello(name: $n) }","variables":{"n":"phoenix"}}]
<< ["1","6","__absinthe__:control","phx_reply",{"response":{"data":{"hello":"hello phoenix"}},"status":"ok"}]
>> ["1","7","__absinthe__:control","doc",{"query":"{ nope }"}]
<< ["1","7","__absinthe__:control","phx_reply",{"response":{"errors":[{"locations":[{"column":3,"line":1}],"message":"Cannot query field \"nope\" on type \"RootQueryType\"."}]},"status":"error"}]
>> ["1","8","__absinthe__:control","doc",{"query":"subscription($r: String!){ messageAdded(room: $r){ id body room } }"}]
<< ["1","8","__absinthe__:control","phx_reply",{"response":{"errors":[{"locations":[{"column":41,"line":1}],"message":"In argument \"room\": Expected type \"String!\", found null."},{"locations":[{"column":14,"line":1}],"message":"Variable \"r\": Expected non-null, found null."}]},"status":"error"}]
>> ["1","9","__absinthe__:control","doc",{"query":"{ hello }","variables":"not-a-map"}]
<< ["1","9","__absinthe__:control","phx_reply",{"response":{"error":"Could not parse variables as map"},"status":"error"}]
>> ["1","10","__absinthe__:control","doc",{"query":"{ hello("}]
<< ["1","10","__absinthe__:control","phx_reply",{"response":{"errors":[{"locations":[{"column":8,"line":1}],"message":"syntax error before: "}]},"status":"error"}]
>> ["1","11","__absinthe__:control","unsubscribe",{"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"}]
<< ["1","11","__absinthe__:control","phx_reply",{"response":{"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"},"status":"ok"}]
>> ["1","12","__absinthe__:control","unsubscribe",{"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"}]
<< ["1","12","__absinthe__:control","phx_reply",{"response":{"subscriptionId":"__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32"},"status":"ok"}]
>> ["15","15","room:lobby","phx_join",{}]
<< [null,"15","room:lobby","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
"#;

/// The recorded subscription id, which stands for whatever id the server
/// gave in its place.
const RECORDED_ID: &str = "__absinthe__:doc:-576460752303422047:2B62A3339D02A9D92AD39EA558A9BA71755A01FD00B81777159F72A215485F32";

/// `value` with every string equal to `from` replaced by `to`, and the
/// server's note of what its schema knows cut from error messages (the one
/// documented difference in wording).
fn normalised(value: Value, from: &str, to: &str) -> Value {
    match value {
        Value::String(s) if s == from => Value::String(to.to_owned()),
        Value::String(s) => match s.find(" The built-in server's schema knows only") {
            Some(cut) => Value::String(s[..cut].to_owned()),
            None => Value::String(s),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| normalised(v, from, to)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalised(v, from, to)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn the_recorded_absinthe_session_gets_the_same_frames() {
    use std::time::{Duration, Instant};
    use tungstenite::{Message, stream::MaybeTlsStream};

    let server = Server::start();
    let url = format!("{}/websocket?vsn=2.0.0", gql_url(&server));
    let (mut ws, _) = tungstenite::connect(url).expect("the WebSocket upgrade");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let started = Instant::now();
    let mut our_id: Option<String> = None;
    for line in RECORDED.lines().filter(|l| !l.is_empty()) {
        let (dir, frame) = line.split_at(3);
        let recorded: Value = serde_json::from_str(frame).expect("recorded JSON");
        if dir == ">> " {
            let id = our_id.as_deref().unwrap_or(RECORDED_ID);
            let sent = normalised(recorded, RECORDED_ID, id);
            ws.send(Message::text(sent.to_string())).expect("send");
            continue;
        }
        let got = loop {
            match ws.read().expect("a frame within the read timeout") {
                Message::Text(text) => break serde_json::from_str::<Value>(&text).expect("JSON"),
                _ => continue,
            }
        };
        if our_id.is_none()
            && let Some(id) = got[4]["response"]["subscriptionId"].as_str()
        {
            our_id = Some(id.to_owned());
        }
        let id = our_id.as_deref().unwrap_or(RECORDED_ID);
        assert_eq!(
            normalised(got, id, RECORDED_ID),
            normalised(recorded, "", ""),
            "after {:?}, at {line}",
            started.elapsed()
        );
    }
}

#[test]
fn a_crashed_control_channel_takes_its_subscriptions_with_it() {
    let server = Server::start();
    // The subscription, a crash (an event the channel has no clause for),
    // a rejoin, then a mutation in the room: nothing may be delivered.
    let script = format!(
        "{JOIN}\n{SUBSCRIBE}\npush __absinthe__:control nope {{}}\n{JOIN}\n{}\n",
        mutation("after the crash")
    );
    let out = json_client(&gql_url(&server)).stdin(&script).run();
    assert!(
        out.json().iter().any(|r| r["event"] == "phx_error"),
        "{}",
        out.report()
    );
    let last = of_type(&out, "reply").pop().expect("replies");
    assert_eq!(
        last["response"]["data"]["addMessage"]["body"],
        "after the crash",
        "{}",
        out.report()
    );
    assert!(
        !out.json().iter().any(|r| r["event"] == "subscription:data"),
        "{}",
        out.report()
    );
}

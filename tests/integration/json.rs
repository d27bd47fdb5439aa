//! `--json`: every stdout line is one JSON record with `type` and `time`,
//! errors included, and each record type carries its documented fields.

use crate::support::{Output, Script, Server};
use serde_json::{Value, json};

/// `2026-11-27T19:25:04.123Z`: RFC 3339, UTC, milliseconds.
fn is_rfc3339_millis_utc(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// The records of a run, after checking `type` and `time` on each.
fn records(out: &Output) -> Vec<Value> {
    let records = out.json();
    assert!(!records.is_empty(), "no records\n{}", out.report());
    for r in &records {
        assert!(
            r["type"].is_string(),
            "record without a type: {r}\n{}",
            out.report()
        );
        let time = r["time"].as_str().unwrap_or_default();
        assert!(
            is_rfc3339_millis_utc(time),
            "bad time {time:?} in {r}\n{}",
            out.report()
        );
    }
    records
}

/// The first record for which `pred` holds.
fn find<'a>(records: &'a [Value], out: &Output, pred: impl Fn(&Value) -> bool) -> &'a Value {
    records
        .iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no such record\n{}", out.report()))
}

/// `record` without its `time` (checked separately), for exact comparison.
fn timeless(record: &Value) -> Value {
    let mut r = record.clone();
    r.as_object_mut()
        .expect("records are objects")
        .remove("time");
    r
}

#[test]
fn time_format_check_rejects_near_misses() {
    assert!(is_rfc3339_millis_utc("2026-11-27T19:25:04.123Z"));
    assert!(!is_rfc3339_millis_utc("2026-11-27T19:25:04Z"));
    assert!(!is_rfc3339_millis_utc("2026-11-27T19:25:04.123+00:00"));
    assert!(!is_rfc3339_millis_utc("2026-11-27 19:25:04.123Z"));
}

#[test]
fn every_line_is_a_record_with_type_and_time() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--timeout", "0.3"])
        .stdin(
            "join room:lobby\n\
             cast room:lobby shout {\"x\":1}\n\
             push room:lobby noreply\n\
             bogus\n\
             topics\n\
             help\n",
        )
        .run();
    out.assert_code(1).assert_stderr("");
    let records = records(&out);
    for t in ["info", "sent", "reply", "message", "error"] {
        assert!(
            records.iter().any(|r| r["type"] == t),
            "no {t} record\n{}",
            out.report()
        );
    }
}

#[test]
fn connected_info_record_has_the_url() {
    let server = Server::start();
    let out = Script::new(&server).arg("--json").run();
    out.assert_success();
    let records = records(&out);
    assert_eq!(
        timeless(&records[0]),
        json!({
            "type": "info",
            "event": "connected",
            "url": format!("ws://{}/socket/websocket?vsn=2.0.0", server.addr()),
        })
    );
}

#[test]
fn sent_and_reply_records_have_refs_topic_status_request_and_latency() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("join room:lobby\npush room:lobby echo {\"a\":1}\n")
        .run();
    out.assert_success().assert_stderr("");
    let records = records(&out);

    let sent = find(&records, &out, |r| {
        r["type"] == "sent" && r["event"] == "echo"
    });
    assert_eq!(
        timeless(sent),
        json!({
            "type": "sent",
            "join_ref": "1",
            "ref": "2",
            "topic": "room:lobby",
            "event": "echo",
            "payload": {"a": 1},
        })
    );

    let reply = find(&records, &out, |r| r["type"] == "reply" && r["ref"] == "2");
    let latency = reply["latency_ms"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.0..10_000.0).contains(&latency),
        "latency_ms is not a plausible number: {reply}"
    );
    let mut fixed = timeless(reply);
    fixed.as_object_mut().unwrap().remove("latency_ms");
    assert_eq!(
        fixed,
        json!({
            "type": "reply",
            "join_ref": "1",
            "ref": "2",
            "topic": "room:lobby",
            "status": "ok",
            "response": {"a": 1},
            "request": "echo",
        })
    );

    let join_reply = find(&records, &out, |r| r["type"] == "reply" && r["ref"] == "1");
    assert_eq!(join_reply["request"], "phx_join");
    assert_eq!(join_reply["response"], json!({"joined": "room:lobby"}));
}

#[test]
fn broadcast_message_record_has_null_refs_and_the_payload() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("join room:lobby\ncast room:lobby shout {\"x\":1}\n")
        .run();
    out.assert_success();
    let records = records(&out);
    let message = find(&records, &out, |r| {
        r["type"] == "message" && r["event"] == "shout"
    });
    assert_eq!(
        timeless(message),
        json!({
            "type": "message",
            "join_ref": null,
            "ref": null,
            "topic": "room:lobby",
            "event": "shout",
            "payload": {"x": 1},
        })
    );
}

#[test]
fn stale_close_after_duplicate_join_is_flagged() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("join room:lobby\njoin room:lobby\ntopics\n")
        .run();
    out.assert_success();
    let records = records(&out);
    let close = find(&records, &out, |r| r["event"] == "phx_close");
    assert_eq!(close["type"], "message");
    assert_eq!(close["join_ref"], "1");
    assert_eq!(close["stale"], true);
    let topics = find(&records, &out, |r| r["event"] == "topics");
    assert_eq!(
        topics["topics"],
        json!([{"topic": "room:lobby", "join_ref": "2", "state": "joined"}])
    );
}

#[test]
fn bad_line_is_an_error_record_on_stdout_with_its_line_number() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("join room:lobby\n\njion room:lobby\n")
        .run();
    out.assert_code(1).assert_stderr("");
    let records = records(&out);
    let error = find(&records, &out, |r| r["type"] == "error");
    assert_eq!(
        timeless(error),
        json!({
            "type": "error",
            "message": "unknown command `jion`; did you mean `join`?",
            "line": 3,
        })
    );
}

#[test]
fn reply_timeout_is_an_error_record_with_ref_topic_and_event() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--timeout", "0.3"])
        .stdin("join room:lobby\npush room:lobby noreply\n")
        .run();
    out.assert_code(1).assert_stderr("");
    let records = records(&out);
    let error = find(&records, &out, |r| r["type"] == "error");
    assert_eq!(
        timeless(error),
        json!({
            "type": "error",
            "message": "no reply to noreply on room:lobby (ref 2) within 0.3 s; \
                        if its handle_in returns {:noreply, socket}, use `cast` instead of `push`",
            "kind": "timeout",
            "ref": "2",
            "topic": "room:lobby",
            "event": "noreply",
            "line": 2,
        })
    );
}

#[test]
fn wait_timeout_is_an_error_record_with_its_line() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin("wait room:lobby shout 200ms\n")
        .run();
    out.assert_code(1).assert_stderr("");
    let records = records(&out);
    let error = find(&records, &out, |r| r["type"] == "error");
    assert_eq!(error["line"], 1);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no `shout` on `room:lobby` within 200 ms")),
        "{error}"
    );
}

#[test]
fn help_is_an_info_record_with_the_text() {
    let server = Server::start();
    let out = Script::new(&server).arg("--json").stdin("help\n").run();
    out.assert_success();
    let records = records(&out);
    let help = find(&records, &out, |r| r["event"] == "help");
    assert_eq!(help["type"], "info");
    assert!(
        help["text"]
            .as_str()
            .is_some_and(|t| t.contains("push TOPIC EVENT [PAYLOAD]")),
        "{help}"
    );
}

#[test]
fn disconnect_is_an_info_record_saying_who_closed() {
    let server = Server::start();
    let out = Script::new(&server).arg("--json").run();
    out.assert_success();
    let records = records(&out);
    // The last but one: the summary record always ends a run.
    let last = &records[records.len() - 2];
    assert_eq!(records.last().unwrap()["type"], "summary");
    assert_eq!(
        timeless(last),
        json!({
            "type": "info",
            "event": "disconnected",
            "code": 1000,
            "reason": "",
            "by_client": true,
        })
    );
}

#[test]
fn connect_failure_is_an_error_record_and_exits_3() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "-p", "token=bad"])
        .run();
    out.assert_code(3);
    let records = records(&out);
    assert_eq!(records.len(), 1, "{}", out.report());
    assert_eq!(records[0]["type"], "error");
    assert!(
        records[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTTP/1.1 403 Forbidden")),
        "{}",
        out.report()
    );
}

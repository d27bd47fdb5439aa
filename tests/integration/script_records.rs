//! Scripts that explain themselves in CI logs: every pass and every
//! failure names its script line, a passing `wait` is shown, and a
//! `--json` run ends with one `summary` record.

use serde_json::{Value, json};

use crate::support::{Output, Script, Server};

/// The records of `out` without their `time`.
fn timeless(out: &Output) -> Vec<Value> {
    out.json()
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().expect("an object").remove("time");
            r
        })
        .collect()
}

const PASSING: &str = "join room:lobby\n\
                       expect ok {\"joined\":\"room:lobby\"}\n\
                       cast room:lobby shout {\"body\":\"hi\",\"n\":1.50}\n\
                       wait room:lobby shout {\"body\":\"hi\"}\n\
                       cast room:lobby shout body=again\n\
                       wait room:lobby shout 5s\n";

#[test]
fn a_passing_wait_prints_a_check_line() {
    let server = Server::start();
    let out = Script::new(&server).stdin(PASSING).run();
    out.assert_success()
        .assert_stderr("")
        .assert_stdout_contains("✓ expect ok {\"joined\":\"room:lobby\"}\n")
        .assert_stdout_contains(
            "← room:lobby broadcast shout {\"body\":\"hi\",\"n\":1.50}\n\
             ✓ wait room:lobby shout {\"body\":\"hi\"}\n",
        )
        // The timeout is not part of what was checked.
        .assert_stdout_contains(
            "← room:lobby broadcast shout {\"body\":\"again\"}\n\
             ✓ wait room:lobby shout\n",
        );
}

#[test]
fn a_passing_wait_is_a_wait_passed_record_with_its_line() {
    let server = Server::start();
    let out = Script::new(&server).arg("--json").stdin(PASSING).run();
    out.assert_success().assert_stderr("");
    let passes: Vec<Value> = timeless(&out)
        .into_iter()
        .filter(|r| r["event"] == "expect_passed" || r["event"] == "wait_passed")
        .collect();
    assert_eq!(
        passes,
        [
            json!({
                "type": "info",
                "event": "expect_passed",
                "line": 2,
                "expected": "ok {\"joined\":\"room:lobby\"}",
            }),
            json!({
                "type": "info",
                "event": "wait_passed",
                "line": 4,
                "expected": "room:lobby shout {\"body\":\"hi\"}",
                "topic": "room:lobby",
                "awaited": "shout",
                "payload": {"body": "hi", "n": 1.50},
            }),
            json!({
                "type": "info",
                "event": "wait_passed",
                "line": 6,
                "expected": "room:lobby shout",
                "topic": "room:lobby",
                "awaited": "shout",
                "payload": {"body": "again"},
            }),
        ],
        "{}",
        out.report()
    );
    // The matched payload is the message's text, numbers as sent.
    assert!(
        out.stdout.contains(r#""payload":{"body":"hi","n":1.50}}"#),
        "{}",
        out.report()
    );
}

/// One of each way a script line fails.
const FAILING: &str = "join room:lobby\n\
                       push room:lobby echo body=hi\n\
                       expect ok {\"body\":\"ho\"}\n\
                       wait room:lobby nothing 100ms\n\
                       cast room:lobby shout body=x\n\
                       wait room:lobby shout 200ms {\"body\":\"y\"}\n\
                       bogus\n\
                       push room:lobby echo ${PHX_REPL_TEST_UNSET}\n\
                       push room:lobby noreply\n\
                       push room:lobby crash\n\
                       expect error\n";

#[test]
fn every_failure_record_names_its_script_line() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--timeout", "0.3"])
        .stdin(FAILING)
        .run();
    out.assert_code(1).assert_stderr("");
    let records = timeless(&out);
    let errors: Vec<(Option<&str>, Option<u64>)> = records
        .iter()
        .filter(|r| r["type"] == "error")
        .map(|r| (r["kind"].as_str(), r["line"].as_u64()))
        .collect();
    assert_eq!(
        errors,
        [
            (Some("expect"), Some(3)),
            (None, Some(4)),
            (Some("expect"), Some(6)),
            (None, Some(7)),
            (None, Some(8)),
            (Some("timeout"), Some(9)),
            (Some("expect"), Some(11)),
        ],
        "{}",
        out.report()
    );
    let unanswered = records
        .iter()
        .find(|r| r["event"] == "unanswered")
        .unwrap_or_else(|| panic!("no unanswered record\n{}", out.report()));
    assert_eq!(unanswered["line"], 10, "{}", out.report());
}

#[test]
fn every_failure_names_its_script_line_in_human_output_too() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin(FAILING)
        .run();
    out.assert_code(1)
        .assert_stderr_contains("failed: line 3: ")
        .assert_stderr_contains("error: line 4: no `nothing` on `room:lobby`")
        .assert_stderr_contains("failed: line 6: ")
        .assert_stderr_contains("error: line 7: unknown command `bogus`")
        .assert_stderr_contains("error: line 8: environment variable `PHX_REPL_TEST_UNSET`")
        .assert_stderr_contains("timeout: line 9: no reply to noreply")
        .assert_stderr_contains("failed: line 11: ")
        .assert_stdout_contains("* line 10: no reply to crash on room:lobby");
}

#[test]
fn the_summary_record_ends_the_run_with_the_summary_lines_counts() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--json", "--timeout", "0.3"])
        .stdin(FAILING)
        .with_summary()
        .run();
    out.assert_code(1);
    let records = timeless(&out);
    assert_eq!(
        records.iter().filter(|r| r["type"] == "summary").count(),
        1,
        "{}",
        out.report()
    );
    let summary = records.last().unwrap();
    // The stderr line, as the numbers it holds.
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("summary: "))
        .unwrap_or_else(|| panic!("no summary line\n{}", out.report()));
    assert_eq!(
        line,
        "summary: 9 commands run; replies: 2 ok, 0 error, 1 timed out, 1 unanswered; \
         expectations: 0 passed, 4 failed",
        "{}",
        out.report()
    );
    assert_eq!(
        *summary,
        json!({
            "type": "summary",
            "commands": 9,
            "replies": {"ok": 2, "error": 0, "timed_out": 1, "unanswered": 1},
            "expectations": {"passed": 0, "failed": 4},
            "exit_code": 1,
        }),
        "{}",
        out.report()
    );
}

#[test]
fn a_passing_run_says_exit_code_0_in_its_summary_record() {
    let server = Server::start();
    let out = Script::new(&server).arg("--json").stdin(PASSING).run();
    out.assert_success();
    let records = timeless(&out);
    assert_eq!(
        records.last().unwrap(),
        &json!({
            "type": "summary",
            "commands": 6,
            "replies": {"ok": 1, "error": 0, "timed_out": 0, "unanswered": 0},
            "expectations": {"passed": 3, "failed": 0},
            "exit_code": 0,
        }),
        "{}",
        out.report()
    );
}

#[test]
fn a_payload_over_several_lines_is_sent_compact_in_its_order_and_spelling() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "join room:lobby\n\
             push room:lobby echo {\n  \"z\": [1,\n    2.50e0],\n  \"a\": \"s  p\"\n}\n\
             expect ok {\"a\":\"s  p\"}\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_contains("→ room:lobby echo {\"z\":[1,2.50e0],\"a\":\"s  p\"}  (ref 2)\n")
        .assert_stdout_contains("{\"z\":[1,2.50e0],\"a\":\"s  p\"}\n");
}

/// A `wait` that passes inside a run of messages that arrived together
/// prints its `✓` line right under the message it matched, in human
/// output and in `--json`. The server stalls (reads nothing) after the
/// `stall` reply, so the casts are answered in one burst while the `wait`
/// is already pending.
#[test]
fn a_wait_passing_inside_a_burst_is_shown_under_its_message() {
    let server = Server::start();
    let mut script = String::from("join room:burst\npush room:burst stall ms:=300\n");
    for n in 1..=40 {
        script.push_str(&format!("cast room:burst shout n:={n}\n"));
    }
    script.push_str("wait room:burst shout {\"n\":20}\nwait room:burst shout n:=40\n");
    let out = Script::new(&server).stdin(&script).run();
    out.assert_success().assert_stdout_contains(
        "← room:burst broadcast shout {\"n\":20}\n\
         ✓ wait room:burst shout {\"n\":20}\n\
         ← room:burst broadcast shout {\"n\":21}\n",
    );
    let out = Script::new(&server).arg("--json").stdin(&script).run();
    out.assert_success();
    let records = timeless(&out);
    let at = records
        .iter()
        .position(|r| r["event"] == "wait_passed")
        .unwrap_or_else(|| panic!("no wait_passed\n{}", out.report()));
    assert_eq!(
        records[at - 1]["payload"],
        json!({"n": 20}),
        "{}",
        out.report()
    );
    assert_eq!(records[at]["line"], 43, "{}", out.report());
    assert_eq!(
        records[at + 1]["payload"],
        json!({"n": 21}),
        "{}",
        out.report()
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r["event"] == "wait_passed")
            .count(),
        2,
        "{}",
        out.report()
    );
}

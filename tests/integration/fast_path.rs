//! Correctness of the fast path that prints incoming frames: under a flood
//! every frame is printed exactly once and in order, and payloads come out
//! byte for byte as the server sent them (unicode, escapes and spacing
//! included), in human and `--json` output, also behind a slow reader.
//! Speed is measured by `examples/bench.rs`, never asserted here.

use std::io::Read;
use std::thread;
use std::time::Duration;

use crate::support::{self, Home, Script, Server};

/// Large enough to cross every batch and buffer boundary many times.
const FLOOD: u64 = 50_000;

/// Payloads a channel might send, each on one line as a script needs it.
/// Every one must be printed exactly as sent.
const PAYLOADS: &[&str] = &[
    r#"{"s":"żółw 🐢 naïve — ünïcödé, 日本語"}"#,
    r#"{"q":"say \"hi\"","b":"back\\slash","n":"line\nbreak","t":"tab\tstop","cr":"\r"}"#,
    r#"{"u":"\u00e9\u0000\u001b[31m\ud83d\udc22","slash":"a\/b"}"#,
    r#"{ "spaced" : [ 1 , 2.5e10 , -0 , true , false , null ] }"#,
    r#"["nested",{"a":[[],{}]},"",{}]"#,
    r#""just a string""#,
    r#"42"#,
    r#"{"emoji":"🦀🐢","rtl":"שלום","combining":"e\u0301","raw combining":"é"}"#,
];

/// The numbers of the `msg` pushes among `lines`, in the order printed.
fn flood_numbers<'a>(lines: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<u64> {
    lines
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            rest.strip_prefix("{\"i\":")
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a flood payload: {rest:?}"))
        })
        .collect()
}

fn assert_one_to_n(numbers: &[u64], n: u64) {
    assert_eq!(numbers.len() as u64, n, "every push printed once");
    if let Some(i) = numbers.iter().zip(1..).position(|(&got, want)| got != want) {
        panic!(
            "push {} printed out of order or twice: got {:?} around it",
            i + 1,
            &numbers[i.saturating_sub(2)..(i + 3).min(numbers.len())]
        );
    }
}

#[test]
fn a_flood_prints_every_push_once_in_order() {
    let server = Server::start();
    let topic = format!("flood:{FLOOD}");
    let out = Script::new(&server)
        .stdin(&format!("join {topic}\nwait {topic} done 60s\n"))
        .run();
    out.assert_success();
    let pushes: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("← {topic} push ")))
        .collect();
    let numbers = flood_numbers(pushes.iter().copied(), &format!("← {topic} push msg "));
    assert_one_to_n(&numbers, FLOOD);
    assert_eq!(
        pushes.last().copied(),
        Some(format!("← {topic} push done {{\"count\":{FLOOD}}}").as_str()),
        "done comes last"
    );
}

#[test]
fn messages_of_a_flood_are_kept_for_a_later_wait_each_taken_once() {
    // A flood's messages travel packed; `wait` still finds one that came
    // before it, takes it once, and no longer finds one long dropped (only
    // the latest messages are kept).
    let server = Server::start();
    let topic = format!("flood:{FLOOD}");
    let late = FLOOD - 10;
    let out = Script::new(&server)
        .stdin(&format!(
            "join {topic}\nwait {topic} done 60s\n\
             wait {topic} msg 5s {{\"i\":{late}}}\n\
             wait {topic} msg 0.3s {{\"i\":{late}}}\n\
             wait {topic} msg 0.3s {{\"i\":1}}\n"
        ))
        .run();
    out.assert_code(1);
    let report = out.report();
    assert!(!out.stderr.contains("failed: line 3"), "{report}");
    out.assert_stderr_contains(&format!("failed: line 4: no `msg` on `{topic}`"));
    out.assert_stderr_contains(&format!("failed: line 5: no `msg` on `{topic}`"));
}

#[test]
fn a_flood_in_json_has_one_record_per_push_in_order() {
    let server = Server::start();
    let topic = format!("flood:{FLOOD}");
    let out = Script::new(&server)
        .arg("--json")
        .stdin(&format!("join {topic}\nwait {topic} done 60s\n"))
        .run();
    out.assert_success();
    let records = out.json();
    let messages: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["type"] == "message").collect();
    let numbers: Vec<u64> = messages
        .iter()
        .filter(|m| m["event"] == "msg")
        .map(|m| {
            assert_eq!(m["topic"], topic.as_str());
            m["payload"]["i"].as_u64().expect("a numbered push")
        })
        .collect();
    assert_one_to_n(&numbers, FLOOD);
    let last = messages.last().expect("messages");
    assert_eq!(last["event"], "done");
    assert_eq!(last["payload"]["count"], FLOOD);
}

#[test]
fn a_flood_behind_a_slow_reader_still_arrives_whole_and_in_order() {
    let server = Server::start();
    let home = Home::new();
    let topic = format!("flood:{FLOOD}");
    let mut child = support::spawn_piped(
        &home,
        &[server.url.as_str()],
        &format!("join {topic}\nwait {topic} done 60s\n"),
    );
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    // The stimulus: a reader that takes small sips with pauses at first,
    // so the client's buffers fill and it has to stop reading the socket.
    for _ in 0..200 {
        match stdout.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
        thread::sleep(Duration::from_millis(1));
    }
    stdout.read_to_end(&mut seen).expect("read the rest");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let text = String::from_utf8(seen).expect("UTF-8 output");
    let numbers = flood_numbers(text.lines(), &format!("← {topic} push msg "));
    assert_one_to_n(&numbers, FLOOD);
    assert!(
        text.contains(&format!("← {topic} push done {{\"count\":{FLOOD}}}\n")),
        "done printed"
    );
}

/// A script that shouts every payload (the server broadcasts each back).
fn shout_script() -> String {
    let mut s = String::from("join room:bytes\n");
    for p in PAYLOADS {
        s.push_str("cast room:bytes shout ");
        s.push_str(p);
        s.push('\n');
    }
    s
}

#[test]
fn payloads_are_printed_byte_for_byte() {
    let server = Server::start();
    let out = Script::new(&server).stdin(&shout_script()).run();
    out.assert_success();
    let shown: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("← room:bytes broadcast shout "))
        .collect();
    assert_eq!(shown, PAYLOADS, "{}", out.report());
    let sent: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("→ room:bytes shout "))
        .map(|l| l.rsplit_once("  (ref ").expect("a ref").0)
        .collect();
    assert_eq!(sent, PAYLOADS, "{}", out.report());
}

#[test]
fn payloads_are_embedded_byte_for_byte_in_json_records() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin(&shout_script())
        .run();
    out.assert_success();
    let records: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"message\"") && l.contains("\"event\":\"shout\""))
        .collect();
    assert_eq!(records.len(), PAYLOADS.len(), "{}", out.report());
    for (line, p) in records.iter().zip(PAYLOADS) {
        assert!(
            line.ends_with(&format!(",\"payload\":{p}}}")),
            "payload {p} not embedded as sent in {line}"
        );
        let record: serde_json::Value = serde_json::from_str(line).expect("a JSON record");
        let want: serde_json::Value = serde_json::from_str(p).expect("a JSON payload");
        assert_eq!(record["payload"], want);
    }
}

#[test]
fn terminal_controls_in_payloads_are_escaped_to_the_same_json_value() {
    // Raw C1 control, DEL and a bidi override inside strings: printed as
    // `\u` escapes, which JSON reads back as the same value.
    let payload = "{\"c1\":\"x\u{9b}31my\",\"del\":\"\u{7f}\",\"bidi\":\"\u{202e}abc\"}";
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(&format!("join room:ctl\ncast room:ctl shout {payload}\n"))
        .run();
    out.assert_success();
    let shown = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("← room:ctl broadcast shout "))
        .expect("the broadcast");
    assert_eq!(
        shown,
        r#"{"c1":"x\u009b31my","del":"\u007f","bidi":"\u202eabc"}"#
    );
    let a: serde_json::Value = serde_json::from_str(payload).unwrap();
    let b: serde_json::Value = serde_json::from_str(shown).unwrap();
    assert_eq!(a, b);
}

//! The built-in server against real Phoenix: the client frames of two
//! sections of a recorded Phoenix 1.7 session (an app whose channels are
//! shaped like the built-in server's) are played over a real socket, and
//! the frames that come back are compared with the recorded ones.
//!
//! Ids that vary from run to run (presence `phx_ref`s, `online_at`) are
//! ignored. The differences the server's module doc lists (`server/mod.rs`,
//! "Where this server differs from Phoenix") are applied to the recorded
//! frames first, and nothing else may differ: where Phoenix versions
//! differ the server follows 1.8.12 (a `phx_error` says
//! `{"reason":"channel_crash"}`, a message with a stale join_ref gets no
//! answer), `room:*` pushes no `welcome`, its join reply does not echo the
//! join's params, `slow` answers with its payload and `stop` with `{}`.

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::support::Server;

/// "V2 basics" of the recording, verbatim but for the timings: `>>` was
/// sent by the client, `<<` received.
const BASICS: &str = r#"
>> ["0","0","miami:weather","phx_join",{"some":"param"}]
<< ["0","0","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> [null,"2","phoenix","heartbeat",{}]
<< [null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]
>> ["0","3","miami:weather","report_emergency",{"category":"sharknado"}]
<< ["0","3","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> [null,null,"phoenix","heartbeat",{}]
<< [null,null,"phoenix","phx_reply",{"response":{},"status":"ok"}]
>> ["0","4","phoenix","heartbeat",{"x":1}]
<< [null,"4","phoenix","phx_reply",{"response":{},"status":"ok"}]
>> [null,"5","room:lobby","heartbeat",{}]
<< [null,"5","room:lobby","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["99","6","miami:weather","report_emergency",{}]
<< ["0","6","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> [null,"7","miami:weather","report_emergency",{}]
<< ["0","7","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> ["8","8","miami:weather","phx_join",{}]
<< ["8","8","miami:weather","phx_reply",{"response":{},"status":"ok"}]
<< ["0","0","miami:weather","phx_close",{}]
>> ["0","9","miami:weather","report_emergency",{}]
<< ["8","9","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> ["0","10","miami:weather","phx_leave",{}]
>> ["8","11","miami:weather","phx_leave",{}]
<< ["8","11","miami:weather","phx_reply",{"response":{},"status":"ok"}]
<< ["8","8","miami:weather","phx_close",{}]
>> ["8","12","miami:weather","report_emergency",{}]
<< [null,"12","miami:weather","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["13","13","miami:weather","phx_leave",{}]
<< ["13","13","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> [null,"14","room:nojoin","echo",{"a":1}]
<< [null,"14","room:nojoin","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["15","15","nochannel:1","phx_join",{}]
<< [null,"15","nochannel:1","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["16","16","private:x","phx_join",{}]
<< ["16","16","private:x","phx_reply",{"response":{"reason":"unauthorized"},"status":"error"}]
>> ["17","17","private:x","report_emergency",{}]
<< [null,"17","private:x","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["18","18","miami:weather","phx_join",null]
<< ["18","18","miami:weather","phx_reply",{"response":{},"status":"ok"}]
>> ["19","19","miami:weather","phx_join",{}]
<< ["19","19","miami:weather","phx_reply",{"response":{},"status":"ok"}]
<< ["18","18","miami:weather","phx_close",{}]
>> ["19","20","miami:weather","nosuchevent",{}]
<< ["19","19","miami:weather","phx_error",{}]
>> [null,"21","phoenix","heartbeat",{}]
<< [null,"21","phoenix","phx_reply",{"response":{},"status":"ok"}]
"#;

/// "V2 RoomChannel (user=raw-bob)" of the recording, verbatim but for the
/// timings.
const ROOM: &str = r#"
>> ["1","1","room:lobby","phx_join",{"some":"param"}]
<< ["1","1","room:lobby","phx_reply",{"response":{"joined":"room:lobby","params":{"some":"param"}},"status":"ok"}]
<< ["1",null,"room:lobby","welcome",{"topic":"room:lobby","user":"raw-bob"}]
<< [null,null,"room:lobby","presence_diff",{"joins":{"raw-bob":{"metas":[{"phx_ref":"GOv8vJkDaAgemwmi","online_at":1795806763}]}},"leaves":{}}]
<< ["1",null,"room:lobby","presence_state",{"raw-bob":{"metas":[{"phx_ref":"GOv8vJkDaAgemwmi","online_at":1795806763}]}}]
>> ["1","2","room:lobby","echo",{"hello":"world","n":[1,2.5,null,true]}]
<< ["1","2","room:lobby","phx_reply",{"response":{"hello":"world","n":[1,2.5,null,true]},"status":"ok"}]
>> ["1","3","room:lobby","fail",{}]
<< ["1","3","room:lobby","phx_reply",{"response":{"reason":"nope"},"status":"error"}]
>> ["1","4","room:lobby","noreply",{}]
>> ["1","5","room:lobby","shout",{"body":"hi all"}]
<< [null,null,"room:lobby","shout",{"body":"hi all"}]
>> ["1","6","room:lobby","slow",{"ms":1000}]
>> [null,"7","phoenix","heartbeat",{}]
>> ["1","8","room:lobby","echo",{"queued":"behind slow"}]
<< [null,"7","phoenix","phx_reply",{"response":{},"status":"ok"}]
<< ["1","6","room:lobby","phx_reply",{"response":{"slept":1000},"status":"ok"}]
<< ["1","8","room:lobby","phx_reply",{"response":{"queued":"behind slow"},"status":"ok"}]
>> ["1","9","room:lobby","bogus",{}]
<< ["1","1","room:lobby","phx_error",{}]
>> ["1","10","room:lobby","echo",{}]
<< [null,"10","room:lobby","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]
>> ["11","11","room:lobby","phx_join",{}]
<< ["11","11","room:lobby","phx_reply",{"response":{"joined":"room:lobby","params":{}},"status":"ok"}]
<< ["11",null,"room:lobby","welcome",{"topic":"room:lobby","user":"raw-bob"}]
<< [null,null,"room:lobby","presence_diff",{"joins":{"raw-bob":{"metas":[{"phx_ref":"GOv8vhGUTU4emwmy","online_at":1795806769}]}},"leaves":{}}]
<< ["11",null,"room:lobby","presence_state",{"raw-bob":{"metas":[{"phx_ref":"GOv8vhGUTU4emwmy","online_at":1795806769}]}}]
>> ["11","12","room:lobby","crash",{}]
<< ["11","11","room:lobby","phx_error",{}]
>> ["13","13","room:lobby","phx_join",{}]
<< ["13","13","room:lobby","phx_reply",{"response":{"joined":"room:lobby","params":{}},"status":"ok"}]
<< ["13",null,"room:lobby","welcome",{"topic":"room:lobby","user":"raw-bob"}]
<< [null,null,"room:lobby","presence_diff",{"joins":{"raw-bob":{"metas":[{"phx_ref":"GOv8vllpTTkemwnC","online_at":1795806770}]}},"leaves":{}}]
<< ["13",null,"room:lobby","presence_state",{"raw-bob":{"metas":[{"phx_ref":"GOv8vllpTTkemwnC","online_at":1795806770}]}}]
>> ["13","14","room:lobby","stop",{}]
<< ["13","14","room:lobby","phx_reply",{"response":{"stopping":true},"status":"ok"}]
<< ["13","13","room:lobby","phx_close",{}]
>> [null,"15","phoenix","heartbeat",{}]
<< [null,"15","phoenix","phx_reply",{"response":{},"status":"ok"}]
"#;

/// Client frames sent together, and the frames that came back.
struct Step {
    sent: Vec<Value>,
    got: Vec<Value>,
}

fn steps(transcript: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for line in transcript.lines().filter(|l| !l.is_empty()) {
        let (dir, frame) = line.split_at(3);
        let frame: Value = serde_json::from_str(frame).expect("a recorded frame");
        match (dir, out.last_mut()) {
            (">> ", Some(step)) if step.got.is_empty() => step.sent.push(frame),
            (">> ", _) => out.push(Step {
                sent: vec![frame],
                got: Vec::new(),
            }),
            ("<< ", Some(step)) => step.got.push(frame),
            _ => panic!("bad transcript line {line}"),
        }
    }
    out
}

/// A frame with what varies from run to run blanked out: presence refs and
/// `online_at`.
fn normal(mut frame: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("online_at");
                if let Some(r) = map.get_mut("phx_ref") {
                    *r = json!("_");
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut frame[4]);
    frame
}

/// The recorded answers as the built-in server gives them, by the
/// differences its module doc lists. `current` follows each topic's join_ref.
fn as_this_server(step: &Step, current: &mut HashMap<String, Value>) -> Vec<Value> {
    let stale = step.sent.iter().all(|f| {
        let (join_ref, topic, event) = (&f[0], f[2].as_str().unwrap(), &f[3]);
        !join_ref.is_null()
            && event != "phx_join"
            && current.get(topic).is_some_and(|jr| jr != join_ref)
    });
    let mut out = Vec::new();
    for f in &step.got {
        let mut f = f.clone();
        let topic = f[2].as_str().unwrap().to_owned();
        match f[3].as_str().unwrap() {
            // 1.8.12: a message for an older instance is dropped.
            _ if stale => continue,
            // The recorded app's own push.
            "welcome" => continue,
            "phx_error" => {
                current.remove(&topic);
                f[4] = json!({"reason": "channel_crash"});
            }
            "phx_close" if current.get(&topic) == Some(&f[0]) => {
                current.remove(&topic);
            }
            "phx_reply" => {
                let request = step.sent.iter().find(|s| s[1] == f[1]);
                match request.and_then(|s| s[3].as_str()) {
                    // `{"joined": topic}` only.
                    Some("phx_join") => {
                        if let Some(response) = f[4]["response"].as_object_mut() {
                            response.remove("params");
                        }
                    }
                    // The payload back, where the app says how long it slept.
                    Some("slow") => f[4]["response"] = request.unwrap()[4].clone(),
                    // `{:stop, :normal, :ok, socket}`: an empty response.
                    Some("stop") => f[4]["response"] = json!({}),
                    _ => {}
                }
            }
            _ => {}
        }
        out.push(normal(f));
    }
    // A join's ok reply makes its join_ref the topic's current one.
    for f in &step.sent {
        if f[3] == "phx_join"
            && step
                .got
                .iter()
                .any(|g| g[1] == f[1] && g[3] == "phx_reply" && g[4]["status"] == "ok")
        {
            current.insert(f[2].as_str().unwrap().to_owned(), f[0].clone());
        }
    }
    out
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(server: &Server, params: &str) -> Socket {
    let url = format!("{}/websocket?vsn=2.0.0{params}", server.url);
    let (ws, _) = tungstenite::connect(url).expect("the WebSocket upgrade");
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    ws
}

/// The frames that arrive until `want` have come and then nothing for a
/// while, or until a deadline.
fn receive(ws: &mut Socket, want: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut quiet_until = None;
    let mut got = Vec::new();
    loop {
        let now = Instant::now();
        if now >= deadline || quiet_until.is_some_and(|q| now >= q) {
            return got;
        }
        match ws.read() {
            Ok(Message::Text(text)) => {
                got.push(normal(serde_json::from_str(&text).unwrap()));
                if got.len() >= want {
                    quiet_until = Some(Instant::now() + Duration::from_millis(150));
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if want == 0 && quiet_until.is_none() {
                    quiet_until = Some(Instant::now() + Duration::from_millis(300));
                }
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
}

fn play(transcript: &str, params: &str) {
    let server = Server::start();
    let mut ws = connect(&server, params);
    let mut current = HashMap::new();
    for step in steps(transcript) {
        let want = as_this_server(&step, &mut current);
        for f in &step.sent {
            ws.send(Message::text(f.to_string())).unwrap();
        }
        let got = receive(&mut ws, want.len());
        let sent: Vec<String> = step.sent.iter().map(Value::to_string).collect();
        assert_eq!(
            got, want,
            "after sending {sent:?}: the built-in server's frames (left) differ from Phoenix's (right)"
        );
    }
    let _ = ws.close(None);
}

#[test]
fn the_basics_answer_as_phoenix_does() {
    play(BASICS, "");
}

#[test]
fn room_channel_frames_come_in_phoenixs_order() {
    play(ROOM, "&user=raw-bob");
}

/// Sends `frame` on `ws` and checks what `ws` and `other` receive next.
fn exchange(ws: &mut Socket, frame: &str, back: &[&str], other: &mut Socket, seen: &[&str]) {
    ws.send(Message::text(frame)).unwrap();
    let parse = |f: &&str| normal(serde_json::from_str(f).unwrap());
    let back: Vec<Value> = back.iter().map(parse).collect();
    let seen: Vec<Value> = seen.iter().map(parse).collect();
    assert_eq!(receive(ws, back.len()), back, "answers to {frame}");
    assert_eq!(
        receive(other, seen.len()),
        seen,
        "what the other saw of {frame}"
    );
}

/// "two clients on room:p" of the recording, as the built-in server gives
/// it: the recorded frames but for the `welcome` pushes, the join's params
/// and `online_at`.
#[test]
fn two_clients_see_presence_and_broadcasts_in_phoenixs_order() {
    let server = Server::start();
    let mut a = connect(&server, "&user=alice");
    let mut b = connect(&server, "&user=bob");
    let alice = r#"{"alice":{"metas":[{"phx_ref":"_"}]}}"#;
    let bob = r#"{"bob":{"metas":[{"phx_ref":"_"}]}}"#;
    let both = r#"{"alice":{"metas":[{"phx_ref":"_"}]},"bob":{"metas":[{"phx_ref":"_"}]}}"#;
    let joined = r#"{"response":{"joined":"room:p"},"status":"ok"}"#;
    exchange(
        &mut a,
        r#"["1","1","room:p","phx_join",{}]"#,
        &[
            &format!(r#"["1","1","room:p","phx_reply",{joined}]"#),
            &format!(r#"[null,null,"room:p","presence_diff",{{"joins":{alice},"leaves":{{}}}}]"#),
            &format!(r#"["1",null,"room:p","presence_state",{alice}]"#),
        ],
        &mut b,
        &[],
    );
    let bob_joins =
        format!(r#"[null,null,"room:p","presence_diff",{{"joins":{bob},"leaves":{{}}}}]"#);
    exchange(
        &mut b,
        r#"["7","7","room:p","phx_join",{}]"#,
        &[
            &format!(r#"["7","7","room:p","phx_reply",{joined}]"#),
            &bob_joins,
            &format!(r#"["7",null,"room:p","presence_state",{both}]"#),
        ],
        &mut a,
        &[&bob_joins],
    );
    let shout = r#"[null,null,"room:p","shout",{"from":"bob"}]"#;
    exchange(
        &mut b,
        r#"["7","8","room:p","shout",{"from":"bob"}]"#,
        &[shout],
        &mut a,
        &[shout],
    );
    let bob_leaves =
        format!(r#"[null,null,"room:p","presence_diff",{{"joins":{{}},"leaves":{bob}}}]"#);
    exchange(
        &mut b,
        r#"["7","9","room:p","phx_leave",{}]"#,
        &[
            r#"["7","9","room:p","phx_reply",{"response":{},"status":"ok"}]"#,
            r#"["7","7","room:p","phx_close",{}]"#,
        ],
        &mut a,
        &[&bob_leaves],
    );
    exchange(
        &mut b,
        r#"["10","10","room:p","phx_join",{}]"#,
        &[
            &format!(r#"["10","10","room:p","phx_reply",{joined}]"#),
            &bob_joins,
            &format!(r#"["10",null,"room:p","presence_state",{both}]"#),
        ],
        &mut a,
        &[&bob_joins],
    );
    // B closes its WebSocket without leaving.
    let _ = b.close(None);
    let _ = b.flush();
    let seen = receive(&mut a, 1);
    assert_eq!(seen, [normal(serde_json::from_str(&bob_leaves).unwrap())]);
    let _ = a.close(None);
}

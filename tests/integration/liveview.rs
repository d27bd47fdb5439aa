//! The LiveView client against the built-in server's pages, over real
//! HTTP and real sockets, in both formats: the issue's script, a crash and
//! its rejoin with the next `_mounts`, a stale session recovered by
//! fetching the page again, two users on the chat, `html`/`text`, and the
//! errors for a page without a LiveView and for a redirect.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use crate::support::pty::{self, type_keys};
use crate::support::{Home, Script, Server};

/// `serve` arguments for each LiveView format.
const FORMATS: [&[&str]; 2] = [&[], &["--liveview", "0.20"]];

fn page(server: &Server, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port)
}

#[test]
fn the_counter_script_passes_in_both_formats() {
    for args in FORMATS {
        let server = Server::with_args(args);
        let out = Script::new(&server)
            .stdin(
                "live /counter\n\
                 click inc\n\
                 click inc\n\
                 expect text \"Count: 2\"\n\
                 submit set value=42\n\
                 expect text \"Count: 42\"\n\
                 wait text \"Ticks: 2\" 5s\n",
            )
            .run();
        out.assert_success()
            .assert_stdout_contains("✓ expect text \"Count: 2\"")
            .assert_stdout_contains("✓ expect text \"Count: 42\"")
            .assert_stdout_contains("✓ wait text \"Ticks: 2\"");
        // The join printed the page as readable lines.
        out.assert_stdout_contains("[+1 → click inc]")
            .assert_stdout_contains("{form set: value=0 [Set]}");
    }
}

#[test]
fn phx_repl_live_url_joins_the_page_and_the_first_line_waits_for_it() {
    for args in FORMATS {
        let server = Server::with_args(args);
        let out = Script::without_url()
            .args(["live", &page(&server, "/counter"), "--json"])
            .stdin("click inc\nexpect text h1 \"Count: 1\"\n")
            .run();
        out.assert_success();
        let records = out.json();
        let join = records
            .iter()
            .find(|r| r["type"] == "live_join")
            .unwrap_or_else(|| panic!("a live_join record\n{}", out.report()));
        assert_eq!(join["mounts"], 0);
        let version = if args.is_empty() { "1.1.33" } else { "0.20.17" };
        assert_eq!(join["version"], version, "{}", out.report());
        let diff = records
            .iter()
            .find(|r| r["type"] == "live_diff")
            .unwrap_or_else(|| panic!("a live_diff record\n{}", out.report()));
        assert!(diff["diff"].is_object(), "{diff}");
        assert!(
            diff["changes"]
                .as_array()
                .is_some_and(|c| c.iter().any(|l| l.as_str().unwrap().contains("\"1\""))),
            "{diff}"
        );
    }
}

#[test]
fn the_page_and_its_socket_go_over_long_poll_too() {
    let server = Server::start();
    Script::without_url()
        .args([
            "live",
            &page(&server, "/counter"),
            "--transport",
            "longpoll",
        ])
        .stdin("click inc\nexpect text \"Count: 1\"\nwait text \"Ticks: 1\" 5s\n")
        .run()
        .assert_success()
        .assert_stdout_contains("connected to http://127.0.0.1:PORT/live/longpoll?");
}

#[test]
fn a_crash_rejoins_with_the_next_mounts() {
    let server = Server::start();
    let out = Script::new(&server)
        .arg("--json")
        .stdin(
            "live /counter\n\
             click inc\n\
             click nope\n\
             wait text \"Count: 0\" 5s\n",
        )
        .run();
    out.assert_success();
    let records = out.json();
    let rejoin = records.iter().find(|r| {
        r["type"] == "sent" && r["event"] == "phx_join" && r["payload"]["params"]["_mounts"] == 1
    });
    assert!(
        rejoin.is_some(),
        "a rejoin with _mounts 1\n{}",
        out.report()
    );
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "live_nav" && r["kind"] == "crash"),
        "{}",
        out.report()
    );
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "live_join" && r["mounts"] == 1),
        "{}",
        out.report()
    );
}

#[test]
fn a_stale_session_is_reported_and_recovered_by_fetching_the_page_again() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "join room:lobby\n\
             live /counter\n\
             click inc\n\
             @main push room:lobby restart {}\n\
             wait text \"Count: 0\" 10s\n\
             click inc\n\
             expect text \"Count: 1\"\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_contains("join refused (stale)")
        .assert_stdout_contains("fetched the page again")
        .assert_stdout_contains("✓ expect text \"Count: 1\"");
}

#[test]
fn a_reload_is_a_live_nav_record() {
    let server = Server::with_args(&["--liveview", "0.20"]);
    let out = Script::new(&server)
        .arg("--json")
        .stdin(
            "join room:lobby\n\
             live /counter\n\
             click inc\n\
             @main push room:lobby restart {}\n\
             @live wait text \"Count: 0\" 10s\n\
             @live click inc\n\
             @live expect text \"Count: 1\"\n",
        )
        .run();
    out.assert_success();
    let records = out.json();
    let reload = records
        .iter()
        .filter(|r| r["type"] == "live_nav" && r["kind"] == "reload")
        .count();
    assert_eq!(reload, 2, "said, then done\n{}", out.report());
    let joins: Vec<_> = records
        .iter()
        .filter(|r| r["type"] == "live_join")
        .map(|r| r["mounts"].clone())
        .collect();
    assert_eq!(
        joins,
        [0, 0],
        "a fresh join after the reload\n{}",
        out.report()
    );
}

#[test]
fn two_users_on_the_chat_see_each_others_messages() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "live /chat?user=ana\n\
             connect bob live /chat?user=bob\n\
             @live submit send body=\"hi bob\"\n\
             @bob wait text \"ana: hi bob\" 5s\n\
             @bob submit send body=hey\n\
             @live wait text \"bob: hey\" 5s\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("bob  ✓ wait text \"ana: hi bob\"")
        .assert_stdout_contains("live ✓ wait text \"bob: hey\"");
}

#[test]
fn html_and_text_show_the_page_or_what_a_selector_matches() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "live /counter\n\
             html h1\n\
             text \"ul#history li\"\n\
             expect html \"ul#history li\"\n\
             refute html \"#nothing\" 100ms\n\
             expect text h1 \"Count: 9\"\n",
        )
        .run();
    out.assert_code(1)
        .assert_stdout_contains("<h1>Count: 0</h1>")
        .assert_stdout_contains("count 0")
        .assert_stdout_contains("✓ expect html \"ul#history li\"");
    // The failure shows what the selector holds now.
    out.assert_stderr_contains("\"Count: 0\"");
}

#[test]
fn the_demo_page_in_both_formats_components_titles_events_nesting_and_navigation() {
    for args in FORMATS {
        let server = Server::with_args(args);
        Script::without_url()
            .args(["live", &page(&server, "/demo")])
            .stdin(
                "click toggle\n\
                 expect text \"#toggle p\" \"Toggle: on\"\n\
                 click ping\n\
                 submit rename title=Hello\n\
                 click bump\n\
                 expect text \"#demo-child\" \"Child bumps: 1\"\n\
                 click patch\n\
                 expect text \"Tab: 2\"\n\
                 click go\n\
                 wait text \"Count: 0\" 5s\n\
                 click inc\n\
                 expect text h1 \"Count: 1\"\n",
            )
            .run()
            .assert_success()
            .assert_stdout_contains("→ click toggle {} (component 1)")
            .assert_stdout_contains("push_event pong {\"pings\":1}")
            .assert_stdout_contains("title \"Hello\"")
            .assert_stdout_contains("joined nested view lv:demo-child")
            .assert_stdout_contains("[demo-child] ~ ")
            .assert_stdout_contains("live_patch: the URL is now /demo?tab=2")
            .assert_stdout_contains("◆ live_redirect to /counter\n")
            .assert_stdout_contains("✓ expect text h1 \"Count: 1\"");
    }
}

#[test]
fn a_page_behind_a_login_is_reported_and_its_cookie_lets_the_client_in() {
    let server = Server::start();
    let private = page(&server, "/private");
    Script::without_url()
        .args(["live", &private])
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "http://127.0.0.1:PORT/private redirected to /login (HTTP 302): the page needs a login",
        );
    // The cookie given with -H goes into the jar: the page and its socket
    // both get it.
    Script::without_url()
        .args(["live", &private, "-H", "Cookie: _phx_repl_user=ana"])
        .stdin("html h1\n")
        .run()
        .assert_success()
        .assert_stdout_contains("◆ joined lv:");
}

#[test]
fn a_page_without_a_liveview_is_told() {
    let server = Server::start();
    let index = page(&server, "/");
    let out = Script::without_url().args(["live", &index]).run();
    assert!(index.ends_with('/'));
    out.assert_code(3).assert_stderr_contains(
        "no data-phx-session on http://127.0.0.1:PORT/ (HTTP 200); is this a live route?",
    );
}

#[test]
fn event_commands_without_a_liveview_say_how_to_open_one() {
    let server = Server::start();
    Script::new(&server)
        .stdin("click inc\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("no LiveView on client main; open one with `live URL`");
}

/// A plain HTTP app on an OS-assigned port: each request's line (`GET
/// /counter HTTP/1.1`) gets the whole response `answer` gives for it.
fn http_app(answer: fn(&str) -> &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut first = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = stream.write_all(answer(&first).as_bytes());
        }
    });
    port
}

/// An HTTP app that answers every request with a redirect to
/// `/users/log-in`, and that page with no LiveView on it.
fn redirecting() -> u16 {
    http_app(|first| {
        if first.contains("/users/log-in") {
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nlogin"
        } else {
            "HTTP/1.1 302 Found\r\nLocation: /users/log-in\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
    })
}

#[test]
fn a_redirect_away_from_the_page_is_reported_and_followed_only_with_follow() {
    let port = redirecting();
    let url = format!("http://127.0.0.1:{port}/counter");
    Script::without_url()
        .args(["live", &url])
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "http://127.0.0.1:PORT/counter redirected to /users/log-in (HTTP 302): the page \
             needs a login; pass the session cookie with -H 'Cookie: …', or --follow to join \
             the page it leads to",
        );
    Script::without_url()
        .args(["live", &url, "--follow"])
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "no data-phx-session on http://127.0.0.1:PORT/users/log-in (HTTP 200)",
        );
}

#[test]
fn tab_completes_the_events_on_the_page_and_a_forms_fields() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&pty::prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "live /counter\r");
    // (The pty's reader takes bytes as Latin-1: ASCII needles only.)
    repl.exp_string("click inc] [").expect("the page");
    type_keys(&mut repl, "click de\t\r");
    repl.exp_string("click dec {}")
        .expect("the completed event");
    type_keys(&mut repl, "submit s\tva\t7\r");
    repl.exp_string("submit set value=7")
        .expect("the completed form and field");
    pty::quit(&mut repl);
}

/// The main view of the stand-in app's `/page`: a heading and a nested
/// view's element.
const MAIN_HTML: &str = "<h1>Main</h1><div id=\"phx-child\" data-phx-session=\"S2\" \
    data-phx-static=\"\" data-phx-parent-id=\"phx-main\"></div>";

/// A stand-in for a Phoenix app, over real HTTP and a real WebSocket:
/// `/page`, whose main view renders a nested view, and `/other`, another
/// view. On `/live/websocket` it answers the three views' joins (each
/// only with its own session), the child's `bump`, and the main view's
/// `go` (a `live_redirect` to `/other`), `patch` (a `live_patch`) and
/// `out` (a `redirect`).
fn stand_in_app() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            thread::spawn(move || serve_stand_in(stream));
        }
    });
    port
}

/// The HTML page at `path`: its main view's element around `inner`.
fn stand_in_page(path: &str) -> String {
    let (id, session, inner) = if path.starts_with("/other") {
        ("phx-other", "S3", "<h1>Other</h1>")
    } else {
        ("phx-main", "S1", MAIN_HTML)
    };
    format!(
        "<html><head><meta name=\"csrf-token\" content=\"T\"></head><body>\
         <div id=\"{id}\" data-phx-main data-phx-session=\"{session}\" data-phx-static=\"\">\
         {inner}</div></body></html>"
    )
}

fn serve_stand_in(mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("sec-websocket-key")
        {
            key = Some(value.trim().to_owned());
        }
    }
    let Some(key) = key else {
        let path = first.split_whitespace().nth(1).unwrap_or("/");
        let page = stand_in_page(path);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(answer.as_bytes());
        return;
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut ws =
        tungstenite::WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Server, None);
    while let Ok(msg) = ws.read() {
        let Ok(text) = msg.to_text() else { continue };
        let Ok(serde_json::Value::Array(f)) = serde_json::from_str::<serde_json::Value>(text)
        else {
            continue;
        };
        let reply = serde_json::json!([f[0], f[1], f[2], "phx_reply", stand_in_answer(&f)]);
        if ws
            .send(tungstenite::Message::text(reply.to_string()))
            .is_err()
        {
            break;
        }
    }
}

/// What the stand-in app answers to frame `f`.
fn stand_in_answer(f: &[serde_json::Value]) -> serde_json::Value {
    use serde_json::json;
    let (topic, event, payload) = (
        f[2].as_str().unwrap_or(""),
        f[3].as_str().unwrap_or(""),
        &f[4],
    );
    let ok = |response: serde_json::Value| json!({"status": "ok", "response": response});
    let rendered = |tree: serde_json::Value| ok(json!({"rendered": tree}));
    match (
        topic,
        event,
        payload["session"].as_str(),
        payload["event"].as_str(),
    ) {
        ("lv:phx-main", "phx_join", Some("S1"), _) => rendered(json!({"s": [MAIN_HTML]})),
        ("lv:phx-child", "phx_join", Some("S2"), _) => rendered(json!({
            "0": "0", "s": ["<p>Child: ", "</p><button phx-click=\"bump\">bump</button>"]
        })),
        ("lv:phx-other", "phx_join", Some("S3"), _) => rendered(json!({"s": ["<h1>Other</h1>"]})),
        (_, "phx_join", _, _) => json!({"status": "error", "response": {"reason": "stale"}}),
        ("lv:phx-child", "event", _, Some("bump")) => ok(json!({"diff": {"0": "1"}})),
        ("lv:phx-main", "event", _, Some("go")) => {
            ok(json!({"live_redirect": {"to": "/other", "kind": "push"}}))
        }
        ("lv:phx-main", "event", _, Some("patch")) => {
            ok(json!({"live_patch": {"to": "/page?tab=2"}}))
        }
        ("lv:phx-main", "event", _, Some("out")) => {
            ok(json!({"redirect": {"to": "/users/log-in"}}))
        }
        _ => ok(json!({})),
    }
}

#[test]
fn a_nested_view_is_joined_and_its_changes_show_under_its_id() {
    let port = stand_in_app();
    let url = format!("http://127.0.0.1:{port}/page");
    Script::without_url()
        .args(["live", &url])
        .stdin(
            "wait text \"Child: 0\" 5s\n\
             click bump\n\
             expect ok\n\
             expect text \"#phx-child p\" \"Child: 1\"\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("joined nested view lv:phx-child in lv:phx-main")
        .assert_stdout_contains("[phx-child] ~ p \"Child: 0\" → \"Child: 1\"")
        .assert_stdout_contains("✓ expect text \"#phx-child p\" \"Child: 1\"");
}

#[test]
fn live_patch_updates_the_url_redirect_is_reported_and_live_redirect_joins_the_new_view() {
    let port = stand_in_app();
    let url = format!("http://127.0.0.1:{port}/page");
    Script::without_url()
        .args(["live", &url])
        .stdin(
            "click patch\n\
             click out\n\
             expect text h1 \"Main\"\n\
             click go\n\
             wait text h1 \"Other\" 5s\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("live_patch: the URL is now /page?tab=2")
        .assert_stdout_contains(
            "the view redirects to /users/log-in; not followed (--follow follows it, or `live /users/log-in`)",
        )
        .assert_stdout_contains("◆ live_redirect to /other\n")
        .assert_stdout_contains("joined lv:phx-other at http://127.0.0.1:PORT/other")
        .assert_stdout_contains("✓ wait text h1 \"Other\"");
}

#[test]
fn a_recording_of_phx_repl_live_says_to_replay_it_with_live_and_replays() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counter.phx");
    let url = page(&server, "/counter");
    Script::without_url()
        .args(["live", &url, "--record", file.to_str().unwrap()])
        .stdin("click inc\nexpect text h1 \"Count: 1\"\n")
        .run()
        .assert_success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("opened the LiveView page {url}"))
            && text.contains("# Replay: phx-repl live URL < "),
        "{text}"
    );
    // Each join mounts its own counter, so the replay sees Count: 1 too.
    Script::without_url()
        .args(["live", &url])
        .stdin(&text)
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text h1 \"Count: 1\"");
}

// Part "state": the prompt, navigation and nested views.

#[test]
fn phx_repl_live_does_not_start_as_queued_or_offline() {
    let server = Server::start();
    let url = page(&server, "/counter");
    let out = Script::without_url()
        .args(["live", &url, "--json"])
        .stdin("click inc\n")
        .run();
    out.assert_success();
    assert!(
        !out.json().iter().any(|r| r["event"] == "queued"),
        "no queued record\n{}",
        out.report()
    );
    for flag in ["--raw", "--timestamps"] {
        Script::without_url()
            .args(["live", &url, flag])
            .stdin("click inc\n")
            .run()
            .assert_success()
            .assert_stdout_lacks("queued until the connection is back");
    }
}

#[test]
fn timestamps_stamp_the_liveview_lines_too() {
    let server = Server::start();
    let out = Script::without_url()
        .args(["live", &page(&server, "/counter"), "--timestamps"])
        .stdin("click inc\n")
        .run();
    out.assert_success();
    let stamped = |rest: &str| {
        out.stdout.lines().any(|l| {
            let (clock, after) = l.split_at(l.len().min(13));
            clock.len() == 13
                && clock.as_bytes()[2] == b':'
                && clock.as_bytes()[8] == b'.'
                && after.starts_with(rest)
        })
    };
    for rest in [
        "◆ joined lv:",
        "→ click inc",
        "  ~ h1 \"Count: 0\"",
        "  + li \"count 1\"",
    ] {
        assert!(stamped(rest), "a stamped `{rest}` line\n{}", out.report());
    }
}

#[test]
fn help_at_a_named_client_is_not_that_clients_output() {
    let server = Server::start();
    Script::new(&server)
        .stdin("live /counter\nhelp mute\n")
        .run()
        .assert_success()
        .assert_stdout_contains("\nmute [EVENT|TOPIC]")
        .assert_stdout_lacks("live mute [");
}

#[test]
fn the_prompt_names_the_new_live_client_at_once() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&pty::prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "live /counter\r");
    // The next prompt is the new client's, connected, not the old one.
    let live = format!("live@{}> ", server.addr());
    repl.exp_string(&live).expect("the live client's prompt");
    type_keys(&mut repl, "live /counter\r");
    let live2 = format!("live2@{}> ", server.addr());
    repl.exp_string(&live2)
        .expect("the second live client's prompt");
    pty::quit(&mut repl);
}

#[test]
fn a_closed_page_leaves_its_nested_views_and_says_it_closed() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("live /demo\nclick leave\nclients\ntext\n")
        .run();
    out.assert_stdout_contains("◆ the view closed; `live /demo` opens it again")
        .assert_stderr_contains(
            "line 4: the view at http://127.0.0.1:PORT/demo has closed; open it again with `live /demo`",
        )
        .assert_stdout_lacks("unanswered");
    let clients = out
        .stdout
        .lines()
        .find(|l| l.starts_with("* live (current)"))
        .unwrap_or_else(|| panic!("the live client listed\n{}", out.report()));
    assert!(!clients.contains("lv:"), "no view left\n{}", out.report());
}

#[test]
fn a_live_redirect_reads_as_one_step_and_moves_the_clients_url() {
    let server = Server::start();
    Script::new(&server)
        .stdin("live /demo\nclick go\nwait text \"Count: 0\" 5s\nclients\nstatus\n")
        .run()
        .assert_success()
        .assert_stdout_contains("◆ live_redirect to /counter\n")
        .assert_stdout_contains("◆ joined lv:")
        .assert_stdout_contains("live (current)  http://127.0.0.1:PORT/counter  connected  lv:phx-")
        .assert_stdout_lacks("connection lost")
        .assert_stdout_lacks("reconnecting")
        .assert_stdout_lacks("reconnected")
        .assert_stdout_lacks("lv:demo-child\n");
}

#[test]
fn status_after_a_reload_lists_the_new_view_with_its_tokens_shortened() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "join room:lobby\n\
             live /counter\n\
             click inc\n\
             @main push room:lobby restart {}\n\
             wait text \"Count: 0\" 10s\n\
             status\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_contains("\"session\":\"SFMyNTY.eyJp…(");
    let views = out
        .stdout
        .lines()
        .filter(|l| {
            l.trim_start_matches("live ")
                .trim_start()
                .starts_with("lv:")
        })
        .count();
    assert_eq!(views, 1, "only the new view\n{}", out.report());
}

#[test]
fn a_nested_views_close_after_a_crash_is_not_printed() {
    let server = Server::start();
    let mut run = Script::new(&server)
        .stdin("live /demo\nclick nope\n")
        .spawn();
    run.expect_line("of the rejoin", |l| l.contains("_mounts 1)"));
    run.expect_line("of the child's join", |l| l.contains("joined nested view"));
    run.send_line("click bump");
    run.expect_line("of the bump", |l| l.contains("\"Child bumps: 1\""));
    run.finish().assert_stdout_lacks("phx_close");
}

#[test]
fn muting_a_view_hides_its_pushed_changes_but_not_the_replies() {
    let server = Server::start();
    Script::new(&server)
        .stdin("live /counter\nmute lv:*\nwait text \"Ticks: 2\" 5s\nclick inc\nmute\n")
        .run()
        .assert_success()
        .assert_stdout_contains("✓ wait text \"Ticks: 2\"")
        .assert_stdout_lacks("Ticks: 1\"")
        .assert_stdout_contains("~ h1 \"Count: 0\" → \"Count: 1\"");
}

// Part "input": the `live` command's flags, bad input and its errors.

#[test]
fn live_and_connect_live_take_a_cookie_and_follow_at_the_prompt() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "connect ana live /private -H 'Cookie: _phx_repl_user=ana'\n\
             expect text \"Signed in as ana\"\n\
             live --follow /private\n\
             expect text \"Log in\"\n\
             live /private\n",
        )
        .run();
    out.assert_code(1)
        .assert_stdout_contains("✓ expect text \"Signed in as ana\"")
        .assert_stdout_contains("✓ expect text \"Log in\"");
    out.assert_stderr_contains(
        "pass the session cookie, as in `live /private -H 'Cookie: …'`, \
         or type `live /private --follow`",
    );
}

#[test]
fn a_page_on_a_closed_port_asks_whether_the_server_is_running() {
    let port = crate::support::unused_port();
    Script::without_url()
        .args(["live", &format!("http://127.0.0.1:{port}/counter")])
        .stdin("")
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "/counter: connection refused by 127.0.0.1:PORT; is the server running (`mix phx.server`)",
        );
}

#[test]
fn phx_repl_live_takes_host_port_path_and_refuses_clients_up_front() {
    let server = Server::start();
    let bare = format!("127.0.0.1:{}/counter", server.port);
    Script::without_url()
        .args(["live", &bare])
        .stdin("expect text h1 \"Count: 0\"\n")
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text h1 \"Count: 0\"");
    let out = Script::without_url()
        .args(["live", &page(&server, "/counter"), "--clients", "3"])
        .stdin("click inc\n")
        .run();
    out.assert_code(2)
        .assert_stderr_contains("--clients runs a channel script on N sockets")
        .assert_stderr_lacks("does not run under --clients");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.report());
}

#[test]
fn a_failed_refute_shows_the_page_text_quoted_once() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("live /counter\nrefute text \"Ticks\" 1s\n")
        .run();
    out.assert_code(1)
        .assert_stderr_contains("got:      page text \"Ticks\" \"Count: 0 Ticks: ")
        .assert_stderr_lacks("\\\"");
}

#[test]
fn a_misspelt_field_and_an_absent_component_are_warned_about_and_sent() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin(
            "live /counter\n\
             submit set valu=3\n\
             live /demo\n\
             click toggle --target 1\n\
             click toggle --target 9\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_contains(
            "warning: the form set has no field `valu`; did you mean `value`? sending it anyway",
        )
        .assert_stdout_contains("→ submit set value=0 valu=3")
        .assert_stdout_contains(
            "warning: the page has no component 9 (it has 1); sending it anyway",
        )
        .assert_stdout_lacks("no component 1 ");
}

/// An HTTP app whose `/counter` redirects to `/counter/`, a page with
/// no LiveView: where a fetch ends up shows in the error.
fn trailing_slash_app() -> u16 {
    http_app(|first| {
        if first.starts_with("GET /counter ") {
            "HTTP/1.1 301 Moved Permanently\r\nLocation: /counter/\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        } else {
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\
             Content-Length: 13\r\nConnection: close\r\n\r\n<p>plain</p>\n"
        }
    })
}

#[test]
fn a_redirect_that_only_adds_a_trailing_slash_is_followed() {
    let port = trailing_slash_app();
    Script::without_url()
        .args(["live", &format!("http://127.0.0.1:{port}/counter")])
        .stdin("")
        .run()
        .assert_code(3)
        .assert_stderr_contains("no data-phx-session on http://127.0.0.1:PORT/counter/ (HTTP 200)")
        .assert_stderr_lacks("redirected");
}

// Part "record2": typed secrets, recorded waits, mute, page errors.

#[test]
fn typed_cookie_headers_and_auth_tokens_are_redacted_in_the_recording() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("private.phx");
    let out = Script::without_url()
        .args([
            "live",
            &page(&server, "/counter"),
            "--record",
            file.to_str().unwrap(),
        ])
        .env("SESSION_COOKIE", "_phx_repl_user=bobby")
        .stdin(
            "connect ana live /private -H 'Cookie: _phx_repl_user=ana'\n\
             connect bob live /private -H \"Cookie: ${SESSION_COOKIE}\"\n\
             connect eve live /counter --auth-token s3cr3t-typed-token\n\
             @ana expect text \"Signed in as ana\"\n",
        )
        .run();
    out.assert_success()
        .assert_stdout_lacks("_phx_repl_user=")
        .assert_stdout_lacks("s3cr3t-typed-token");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("connect ana live /private -H 'Cookie: REDACTED'")
            && text.contains("connect bob live /private -H \"Cookie: ${SESSION_COOKIE}\"")
            && text.contains("connect eve live /counter --auth-token REDACTED")
            && !text.contains("_phx_repl_user=ana")
            && !text.contains("s3cr3t-typed-token"),
        "{text}"
    );
    // The `${…}` line replays as typed.
    Script::without_url()
        .args(["live", &page(&server, "/counter")])
        .env("SESSION_COOKIE", "_phx_repl_user=bob")
        .stdin("connect bob live /private -H \"Cookie: ${SESSION_COOKIE}\"\n@bob expect text \"Signed in as bob\"\n")
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text \"Signed in as bob\"");
}

#[test]
fn a_recording_writes_no_wait_on_a_view_topic_and_one_expect_per_navigation() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.phx");
    Script::without_url()
        .args([
            "live",
            &page(&server, "/demo"),
            "--record",
            file.to_str().unwrap(),
        ])
        .stdin("click patch\nclick go\nwait text \"Count: 0\" 5s\n")
        .run()
        .assert_success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("wait lv:"), "{text}");
    let after_go = text.split("click go\n").nth(1).unwrap_or_default();
    assert_eq!(after_go.matches("expect ok").count(), 1, "{text}");
}

#[test]
fn mute_says_it_is_every_clients_and_unmute_says_what_it_unmuted() {
    let server = Server::start();
    Script::without_url()
        .args(["live", &page(&server, "/counter")])
        .stdin("connect bob live /counter\n@main mute lv:*\nmute shout\nunmute lv:*\nunmute\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* muted for every client: lv:* (0 hidden)")
        .assert_stdout_contains("* unmuted lv:*; still muted for every client: shout (0 hidden)")
        .assert_stdout_contains("* unmuted shout\n")
        .assert_stdout_lacks("nothing is muted");
}

#[test]
fn an_https_page_on_a_plain_port_says_to_try_http() {
    let server = Server::start();
    Script::without_url()
        .args([
            "live",
            &format!("https://127.0.0.1:{}/counter", server.port),
        ])
        .stdin("")
        .run()
        .assert_code(3)
        .assert_stderr_contains("this port does not speak TLS; try http://")
        .assert_stderr_lacks("InvalidContentType");
}

#[test]
fn a_page_port_that_accepts_but_never_answers_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Holds each connection open, unanswered, until the test ends.
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    Script::without_url()
        .args([
            "live",
            &format!("http://127.0.0.1:{port}/counter"),
            "--timeout",
            "1",
        ])
        .stdin("")
        .run()
        .assert_code(3)
        .assert_stderr_contains("accepted the connection but sent no answer")
        .assert_stderr_lacks("check the host, port and firewall");
}

#[test]
fn phx_repl_live_without_a_url_hints_at_a_page_of_your_app() {
    Script::without_url()
        .args(["live"])
        .stdin("")
        .run()
        .assert_success()
        .assert_stdout_contains("(for your app: phx-repl live http://localhost:4000/PAGE)")
        .assert_stdout_lacks("phx-repl ws://localhost:4000/socket");
}

#[test]
fn long_poll_status_says_why_the_heartbeat_is_off() {
    let server = Server::start();
    Script::new(&server)
        .args(["--transport", "longpoll"])
        .stdin("status\n")
        .run()
        .assert_success()
        .assert_stdout_contains("heartbeat   off (long-poll sends none)")
        .assert_stdout_lacks("--heartbeat 0");
}

// Part "navigation": a script's line after a navigation, a failed
// `--follow`, and what a crash prints.

#[test]
fn the_line_after_a_navigating_click_runs_against_the_new_page() {
    let server = Server::start();
    let out = Script::new(&server)
        .stdin("live /demo\nclick go\ntext h1\nexpect text h1 \"Count: 0\"\n")
        .run();
    out.assert_success()
        .assert_stdout_contains("◆ live_redirect to /counter\n")
        .assert_stdout_contains("✓ expect text h1 \"Count: 0\"");
    // `text h1` printed the new page's heading, not the old one's.
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"live Count: 0") && !lines.contains(&"live Demo"),
        "the new page's h1\n{}",
        out.report()
    );
}

#[test]
fn a_followed_redirect_to_a_dead_page_closes_the_view_and_its_children() {
    let server = Server::start();
    let out = Script::without_url()
        .args(["live", &page(&server, "/demo"), "--follow"])
        .stdin("click leave\ntext h1\nclients\nclick bump\n")
        .run();
    out.assert_stdout_contains("◆ redirect to /\n")
        .assert_stderr_contains("following the navigation failed: no data-phx-session")
        .assert_stdout_contains("◆ the view closed; `live /demo` opens it again")
        .assert_stderr_contains(
            "line 2: the view at http://127.0.0.1:PORT/demo has closed; open it again with `live /demo`",
        )
        .assert_stderr_contains("line 4: the view at http://127.0.0.1:PORT/demo has closed")
        .assert_stdout_lacks("lv:demo-child\n")
        .assert_stdout_lacks("Child bumps: 1");
    assert_ne!(out.code, Some(0), "a failed run\n{}", out.report());
}

#[test]
fn a_crash_reads_as_its_own_line_and_the_command_it_left_unanswered() {
    let server = Server::start();
    let mut run = Script::new(&server)
        .stdin("live /counter\nclick icn\n")
        .spawn();
    run.expect_line("of the rejoin", |l| l.contains("_mounts 1)"));
    run.finish()
        .assert_stdout_contains("◆ the view crashed (phx_error); rejoining with _mounts 1\n")
        .assert_stdout_contains("* line 2: no reply to click icn: the view crashed\n")
        .assert_stdout_lacks("errored (phx_error)")
        .assert_stdout_lacks("no reply to event")
        .assert_stdout_lacks("with its join payload");
    // `--raw` keeps every notice.
    let mut raw = Script::new(&server)
        .args(["--raw"])
        .stdin("live /counter\nclick icn\n")
        .spawn();
    raw.expect_line("of the rejoin", |l| l.contains("_mounts\":1"));
    raw.finish()
        .assert_stdout_contains("errored (phx_error)")
        .assert_stdout_contains("no reply to event on lv:");
}

#[test]
fn live_help_lists_no_flags_that_live_refuses() {
    let out = Script::without_url().args(["live", "--help"]).run();
    out.assert_success()
        .assert_stdout_contains("--live-path")
        .assert_stdout_contains("--param-cmd <");
    for refused in ["--clients", "--ramp", "--verbose"] {
        out.assert_stdout_lacks(refused);
    }
}

#[test]
fn connect_params_go_on_the_live_socket() {
    let server = Server::start();
    Script::without_url()
        .args(["live", &page(&server, "/counter"), "-p", "locale=fr"])
        .args(["--show-secrets"])
        .stdin("text h1\n")
        .run()
        .assert_success()
        .assert_stdout_contains("/live/websocket?vsn=2.0.0&_csrf_token=")
        .assert_stdout_contains("&locale=fr");
}

#[test]
fn a_socket_url_given_to_live_asks_for_the_page() {
    Script::without_url()
        .args(["live", "ws://127.0.0.1:4000/socket"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "`ws://127.0.0.1:PORT/socket` is a socket's URL; `live` opens a page and finds its \
             socket itself: give the page, as in http://127.0.0.1:PORT/counter",
        );
}

#[test]
fn a_channel_joined_on_a_live_socket_is_sent_to_the_app_s_socket() {
    let server = Server::start();
    Script::without_url()
        .args(["live", &page(&server, "/counter")])
        .stdin("join room:lobby\n")
        .run()
        .assert_stdout_contains(
            "room:lobby was sent to this client's LiveView socket, which routes only lv: topics; \
             channels are on the app's socket: `connect NAME ws://HOST/socket`, then `@NAME join room:lobby`",
        );
}

//! The connection: heartbeats, the built-in server, URL forms, secret
//! redaction, and a closed stdout under a flood.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, Home, Script, Server, lobby_joined, transcript};

#[test]
fn heartbeats_keep_an_idle_connection_alive_and_show_when_asked() {
    let server = Server::with_idle_timeout("1");
    let out = Script::new(&server)
        .args(["--heartbeat", "0.3", "--show-heartbeats"])
        .stdin("join room:lobby\nsleep 2s\npush room:lobby echo\n")
        .run();
    out.assert_success()
        .assert_stderr("")
        .assert_stdout_lacks("disconnected")
        .assert_stdout_contains("← room:lobby reply ok to echo");
    // Every heartbeat shown is answered, under the same ref.
    let refs: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("→ phoenix heartbeat {}  (ref "))
        .filter_map(|rest| rest.strip_suffix(')'))
        .map(str::to_owned)
        .collect();
    assert!(
        refs.len() >= 3,
        "only {} heartbeats in 2 s\n{}",
        refs.len(),
        out.report()
    );
    for r in &refs {
        out.assert_stdout_contains(&format!(
            "← phoenix reply ok to heartbeat (ref {r}, _) {{}}\n"
        ));
    }
}

#[test]
fn heartbeats_are_hidden_by_default_but_still_sent() {
    let server = Server::with_idle_timeout("1");
    // Surviving 2 s of silence on a server with a 1 s idle timeout shows
    // the heartbeats went out; none is printed.
    Script::new(&server)
        .args(["--heartbeat", "0.3"])
        .stdin("join room:lobby\nsleep 2s\npush room:lobby echo\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_lacks("heartbeat")
        .assert_stdout_lacks("disconnected")
        .assert_stdout_contains("← room:lobby reply ok to echo");
}

#[test]
fn no_url_starts_the_built_in_server_and_a_script_runs_against_it() {
    Script::without_url()
        .stdin("join room:lobby\npush room:lobby echo n:=1\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            r#"
            * no URL given: started the built-in server at ws://127.0.0.1:PORT/socket (for your app: phx-repl ws://localhost:4000/socket)
            * connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0
            "#,
            &lobby_joined(),
            r#"
            → room:lobby echo {"n":1}  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {"n":1}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn built_in_server_and_connection_use_the_same_port() {
    let out = Script::without_url().arg("--json").run();
    out.assert_success();
    let records = out.json();
    let started = records[0]["url"].as_str().unwrap_or_default().to_owned();
    let connected = records[1]["url"].as_str().unwrap_or_default().to_owned();
    assert_eq!(records[0]["event"], "server_started", "{}", out.report());
    assert_eq!(
        format!("{started}/websocket?vsn=2.0.0"),
        connected,
        "{}",
        out.report()
    );
}

#[test]
fn http_url_connects() {
    let server = Server::start();
    Script::with_url(&format!("http://{}/socket", server.addr()))
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0\n")
        .assert_stdout_contains("← room:lobby reply ok to phx_join");
}

#[test]
fn bare_host_port_path_connects() {
    let server = Server::start();
    Script::with_url(&format!("{}/socket", server.addr()))
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0\n")
        .assert_stdout_contains("← room:lobby reply ok to phx_join");
}

#[test]
fn full_websocket_url_is_kept() {
    let server = Server::start();
    Script::with_url(&format!(
        "ws://{}/socket/websocket?vsn=2.0.0",
        server.addr()
    ))
    .stdin("join room:lobby\n")
    .run()
    .assert_success()
    .assert_stdout_contains("* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0\n");
}

#[test]
fn the_url_can_come_from_the_environment() {
    let server = Server::start();
    Script::without_url()
        .env("PHX_REPL_URL", &server.url)
        .env("PHX_REPL_TIMEOUT", "5")
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* connected to ws://127.0.0.1:PORT/socket/websocket")
        .assert_stdout_lacks("built-in server");
}

#[test]
fn token_param_is_redacted_but_sent() {
    let server = Server::start();
    for json in [false, true] {
        let mut script = Script::new(&server)
            .args(["-p", "token=secret123", "-p", "user=ana"])
            .stdin("join room:lobby\n");
        if json {
            script = script.arg("--json");
        }
        let out = script.run();
        out.assert_success()
            .assert_stdout_contains("token=REDACTED")
            .assert_stdout_contains("user=ana")
            .assert_stdout_contains("{\"joined\":\"room:lobby\"}")
            .assert_stdout_lacks("secret123");
        assert!(!out.stderr.contains("secret123"), "{}", out.report());
    }
}

#[test]
fn token_in_the_url_is_redacted_too() {
    let server = Server::start();
    let out = Script::with_url(&format!("{}?token=secret123", server.url))
        .stdin("join room:lobby\n")
        .run();
    out.assert_success()
        .assert_stdout_contains("token=REDACTED")
        .assert_stdout_lacks("secret123");
}

#[test]
fn closed_stdout_during_a_flood_ends_the_run_without_a_panic() {
    let server = Server::start();
    let home = Home::new();
    let mut child = support::spawn_piped(
        &home,
        &[server.url.as_str()],
        "join flood:100000\nwait flood:100000 done 10s\n",
    );
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
        // The reader drops here: the client's stdout is now a closed pipe.
    });
    let first = rx
        .recv_timeout(support::DEADLINE)
        .expect("a first line from the client");
    assert!(first.starts_with("* connected to "), "{first:?}");

    let stderr = child.stderr.take().unwrap();
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        let _ = err_tx.send(text);
    });

    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stderr = err_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    let status = status
        .unwrap_or_else(|| panic!("still running 10 s after stdout closed; stderr:\n{stderr}"));
    assert!(
        !stderr.contains("panicked"),
        "a panic was printed ({status}):\n{stderr}"
    );
    assert_ne!(status.code(), Some(101), "the client panicked:\n{stderr}");
    assert!(status.code().is_some(), "killed by a signal: {status}");
}

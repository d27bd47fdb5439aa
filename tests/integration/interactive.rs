//! The interactive REPL in a pseudo-terminal (rexpect): frames printed while
//! a line is half typed, Ctrl-D, and the history file.

use crate::support::pty::{self, assert_exited_cleanly, exit_status, in_pty, prompt, type_line};
use crate::support::{self, Home, Script, Server, command};
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

/// The client in a pty against `server`, with history in `home`, at its
/// first prompt.
fn spawn_repl(server: &Server, home: &Home) -> PtySession {
    let mut repl = pty::repl(server, home, &["--color", "never"]);
    repl.exp_string(&prompt(server)).expect("the prompt");
    repl
}

#[test]
fn half_typed_line_survives_an_incoming_broadcast() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    type_line(&mut repl, "join room:lobby");
    repl.exp_string("reply ok to phx_join")
        .expect("the join reply");

    // Half a line, no Enter; wait until the editor has echoed it.
    repl.send("push room:lobby ec").expect("type");
    repl.flush().expect("flush the pty");
    repl.exp_string("push room:lobby ec")
        .expect("the half line echoed");

    Script::new(&server)
        .stdin("join room:lobby\ncast room:lobby shout {\"x\":1}\n")
        .run()
        .assert_success();
    repl.exp_string("broadcast shout {\"x\":1}")
        .expect("the broadcast printed while typing");
    // The prompt and the half line are drawn again below the message.
    repl.exp_string(&format!("phx-repl {}> push room:lobby ec", server.addr()))
        .expect("the half line redrawn after the broadcast");

    type_line(&mut repl, "ho {\"a\":1}");
    repl.exp_regex(r#"reply ok to echo \(ref \d+, [^)]*\) \{"a":1\}"#)
        .expect("the echo reply to the completed line");
}

#[test]
fn ctrl_d_exits_with_status_0() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);
    type_line(&mut repl, "join room:lobby");
    repl.exp_string("reply ok to phx_join")
        .expect("the join reply");
    repl.send_control('d').expect("Ctrl-D");
    match exit_status(&mut repl) {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0, "exit status after Ctrl-D"),
        other => panic!("the REPL did not exit normally: {other:?}"),
    }
}

#[test]
fn history_file_is_private_and_keeps_typed_lines() {
    use std::os::unix::fs::PermissionsExt;

    let server = Server::start();
    let home = Home::new();
    let history = home.history();
    let mut repl = spawn_repl(&server, &home);
    type_line(&mut repl, "join room:lobby");
    repl.exp_string("reply ok to phx_join")
        .expect("the join reply");
    type_line(&mut repl, "push room:lobby echo {\"h\":1}");
    repl.exp_string("reply ok to echo").expect("the echo reply");
    repl.send_control('d').expect("Ctrl-D");
    assert_exited_cleanly(&mut repl);

    let meta = std::fs::metadata(&history)
        .unwrap_or_else(|e| panic!("no history file at {}: {e}", history.display()));
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "history file mode"
    );
    let text = std::fs::read_to_string(&history).expect("read the history");
    for line in ["join room:lobby", "push room:lobby echo {\"h\":1}"] {
        assert!(
            text.lines().any(|l| l == line),
            "history lacks {line:?}:\n{text}"
        );
    }
}

#[test]
fn history_from_an_earlier_run_is_recalled_with_the_up_arrow() {
    let server = Server::start();
    let home = Home::new();
    let mut first = spawn_repl(&server, &home);
    type_line(&mut first, "push room:lobby echo {\"again\":1}");
    first
        .exp_string("reply error to echo")
        .expect("the unjoined push's reply");
    first.send_control('d').expect("Ctrl-D");
    exit_status(&mut first);

    let mut second = spawn_repl(&server, &home);
    second.send("\x1b[A").expect("press Up");
    second.send("\r").expect("press Enter");
    second.flush().expect("flush the pty");
    second
        .exp_string("reply error to echo")
        .expect("the recalled line ran again");
}

#[test]
fn lines_typed_ahead_all_run_in_order() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    // Three lines in one write, as a fast typist or a plain paste delivers
    // them: none may be lost between one prompt and the next.
    repl.send("join room:lobby\rpush room:lobby echo n:=1\rpush room:lobby echo n:=2\r")
        .expect("type ahead");
    repl.flush().expect("flush the pty");
    // Output of lines entered together may interleave; what matters is
    // that each line ran.
    let (seen, _) = repl
        .exp_regex(r"reply ok to echo \(ref 3[^\n]*\n")
        .expect("the third line ran");
    for want in ["reply ok to phx_join (ref 1", "reply ok to echo (ref 2"] {
        assert!(seen.contains(want), "{want:?} missing from:\n{seen}");
    }
}

#[test]
fn enter_during_a_flood_does_not_freeze_the_prompt() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    type_line(&mut repl, "join flood:200000");
    repl.exp_string("push msg {\"i\":1}")
        .expect("the flood started");
    // Lines entered while frames pour in; each Enter ends a readline while
    // the printer may be handing over output.
    for _ in 0..5 {
        type_line(&mut repl, "topics");
    }
    repl.exp_string("push done {\"count\":200000}")
        .expect("the whole flood printed");
    type_line(&mut repl, "push flood:200000 x");
    repl.exp_string("phx_error")
        .expect("the prompt still runs commands after the flood");
    type_line(&mut repl, "quit");
    assert_exited_cleanly(&mut repl);
}

#[test]
fn ctrl_c_cancels_a_pending_sleep_and_the_lines_queued_behind_it() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    // Typed in one go while the editor has the terminal in raw mode, so
    // Ctrl-C stays a key read after the two lines. Typed a moment later it
    // could land between two reads, in cooked mode, and become a SIGINT
    // that overtakes lines the editor has not read yet.
    repl.send("sleep 60s\rpush room:lobby echo {\"queued\":1}\r\x03")
        .expect("type two lines and Ctrl-C");
    repl.flush().expect("flush the pty");
    repl.exp_string("cancelled the sleep")
        .expect("the sleep was cancelled");
    type_line(&mut repl, "push room:lobby echo {\"after\":1}");
    repl.exp_string("{\"after\":1}  (ref 1)")
        .expect("the next line runs at once, and the queued one never did");
}

#[test]
fn quit_during_a_flood_prints_every_frame_in_order_first() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    type_line(&mut repl, "join flood:30000");
    repl.exp_string("push msg {\"i\":1}")
        .expect("the flood started");
    type_line(&mut repl, "quit");
    let seen = repl
        .exp_string("connection closed")
        .expect("the close is reported");
    let numbers: Vec<u64> = seen
        .split("{\"i\":")
        .skip(1)
        .filter_map(|rest| rest.split('}').next()?.parse().ok())
        .collect();
    let first = 2; // 1 was consumed by the first expectation
    for (k, n) in numbers.iter().enumerate() {
        assert_eq!(
            *n,
            first + k as u64,
            "frame {n} out of place: lost or reordered output"
        );
    }
    assert_exited_cleanly(&mut repl);
}

#[test]
fn quit_behind_a_pending_sleep_ends_the_session_at_once() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    // The expect timeout (10 s) is far below the sleep: waiting it out
    // would fail the test.
    type_line(&mut repl, "sleep 60s");
    type_line(&mut repl, "quit");
    repl.exp_string("connection closed")
        .expect("closed without waiting for the sleep");
    assert_exited_cleanly(&mut repl);
}

#[test]
fn with_stdout_in_a_file_the_prompt_stays_on_the_terminal() {
    let server = Server::start();
    let home = Home::new();
    let out = home.path().join("out.ndjson");
    // The same clean environment as every other client, around a shell
    // that sends stdout to a file.
    let client = command(&home);
    let mut sh = std::process::Command::new("sh");
    for (key, value) in client.get_envs() {
        match value {
            Some(v) => sh.env(key, v),
            None => sh.env_remove(key),
        };
    }
    sh.env("TERM", "xterm").args([
        "-c",
        &format!(
            "exec {} {} --json > {}",
            support::bin(),
            server.url,
            out.display()
        ),
    ]);
    let mut repl = in_pty(sh);
    repl.exp_string(&prompt(&server))
        .expect("the prompt, on the terminal");
    type_line(&mut repl, "join room:lobby");
    type_line(&mut repl, "quit");
    assert_exited_cleanly(&mut repl);
    let text = std::fs::read_to_string(&out).expect("read the output file");
    assert!(text.contains("\"type\":\"reply\""), "{text}");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not NDJSON ({e}): {line:?}"));
    }
}

#[test]
fn at_the_prompt_a_push_to_a_rejoining_topic_is_queued_with_a_note_then_sent() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = spawn_repl(&server, &home);

    type_line(&mut repl, "join room:lobby <\"user\":\"ana\">");
    repl.exp_string("reply ok to phx_join").expect("joined");
    type_line(&mut repl, "push room:lobby crash");
    repl.exp_string("rejoining in 1 s")
        .expect("the rejoin is announced");
    type_line(&mut repl, "push room:lobby echo n:=7");
    repl.exp_string("room:lobby is not joined yet: queued until it has joined")
        .expect("the note says the push waits");
    repl.exp_string("room:lobby phx_join {\"user\":\"ana\"}  (ref 3)")
        .expect("the rejoin goes out with the payload");
    repl.exp_string("reply ok to echo")
        .expect("the queued push goes out after the rejoin");
    type_line(&mut repl, "quit");
    assert_exited_cleanly(&mut repl);
}

#[test]
fn at_the_prompt_a_push_that_times_out_suggests_cast_once() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never", "--timeout", "0.3"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_line(&mut repl, "join room:lobby");
    repl.exp_string("reply ok to phx_join")
        .expect("the join reply");
    type_line(&mut repl, "push room:lobby noreply");
    repl.exp_string(
        "timeout: no reply to noreply on room:lobby (ref 2) within 0.3 s; \
         if its handle_in returns {:noreply, socket}, use `cast` instead of `push`",
    )
    .expect("the first timeout, with the hint");
    type_line(&mut repl, "push room:lobby noreply");
    repl.exp_string("timeout: no reply to noreply on room:lobby (ref 3) within 0.3 s\r\n")
        .expect("the second timeout, without the hint");
    pty::quit(&mut repl);
}

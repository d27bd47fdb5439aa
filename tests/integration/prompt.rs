//! Prompt comforts in a pseudo-terminal (rexpect): tab completion, history
//! hints, multi-line JSON (typed and pasted), muting, and `-e` before the
//! prompt.

use crate::support::pty::{self, prompt, quit, type_keys};
use crate::support::{Home, Server};

#[test]
fn tab_completes_commands_topics_and_events() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    // `jo<Tab>` becomes `join `.
    type_keys(&mut repl, "jo\troom:lobby\r");
    repl.exp_string("reply ok to phx_join")
        .expect("the completed join ran");
    // A topic seen before, then an event seen on it.
    type_keys(&mut repl, "push ro\techo n:=1\r");
    repl.exp_regex(r#"reply ok to echo \(ref 2, [^)]*\) \{"n":1\}"#)
        .expect("the completed topic");
    type_keys(&mut repl, "push room:lobby ec\tn:=2\r");
    repl.exp_regex(r#"reply ok to echo \(ref 3, [^)]*\) \{"n":2\}"#)
        .expect("the completed event");
    quit(&mut repl);
}

#[test]
fn a_history_hint_is_taken_with_the_right_arrow() {
    let server = Server::start();
    let home = Home::new();
    std::fs::write(home.history(), "#V2\njoin room:hinted\n").unwrap();
    // Hints need colour to be dimmed, so they are only shown with colour.
    let mut repl = pty::repl(&server, &home, &["--color", "always"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:h");
    repl.exp_string("join room:hinted")
        .expect("the rest of the line offered as a hint");
    type_keys(&mut repl, "\x1b[C\r");
    repl.exp_string("reply ok to phx_join")
        .expect("the hinted line ran");
    quit(&mut repl);
}

#[test]
fn a_history_hint_is_taken_with_end_and_ctrl_e() {
    let server = Server::start();
    let home = Home::new();
    std::fs::write(home.history(), "#V2\njoin room:first\njoin room:second\n").unwrap();
    let mut repl = pty::repl(&server, &home, &["--color", "always"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    // End (as xterm sends it), then Enter.
    type_keys(&mut repl, "join room:f");
    repl.exp_string("irst").expect("the hint for room:first");
    type_keys(&mut repl, "\x1b[F\r");
    repl.exp_regex(r#"reply ok to phx_join \(ref 1, [^)]*\) \{"joined":"room:first"\}"#)
        .expect("End took the hint");
    type_keys(&mut repl, "join room:s");
    repl.exp_string("econd").expect("the hint for room:second");
    type_keys(&mut repl, "\x05\r");
    repl.exp_regex(r#"reply ok to phx_join \(ref 2, [^)]*\) \{"joined":"room:second"\}"#)
        .expect("Ctrl-E took the hint");
    quit(&mut repl);
}

#[test]
fn an_open_json_payload_continues_on_the_next_line() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:lobby\r");
    repl.exp_string("reply ok to phx_join").expect("joined");

    // Typed over three lines.
    type_keys(&mut repl, "push room:lobby echo {\r");
    repl.exp_string("... (Ctrl-C cancels) ")
        .expect("the continuation prompt");
    type_keys(&mut repl, "\"typed\": [1,\r");
    repl.exp_string("... (Ctrl-C cancels) ")
        .expect("still continuing");
    type_keys(&mut repl, "2]}\r");
    repl.exp_regex(r#"reply ok to echo \(ref 2, [^)]*\) \{"typed":\[1,2\]\}"#)
        .expect("one command from three lines, sent compact");

    // Pasted pretty JSON (bracketed paste), then Enter.
    type_keys(
        &mut repl,
        "\x1b[200~push room:lobby echo {\n  \"pasted\": true,\n  \"n\": 3\n}\x1b[201~\r",
    );
    repl.exp_regex(r#"reply ok to echo \(ref 3, [^)]*\) \{"pasted":true,"n":3\}"#)
        .expect("the pasted command, sent compact");
    quit(&mut repl);
}

#[test]
fn a_command_typed_under_an_open_payload_ends_it_instead_of_joining_it() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "push room:lobby echo {\"a\":\r");
    repl.exp_string("... ").expect("the continuation prompt");
    // `topics` starts a command: the open payload fails on its own, and
    // `topics` runs.
    type_keys(&mut repl, "topics\r");
    repl.exp_string("is not valid JSON")
        .expect("the unfinished payload is refused");
    repl.exp_string("no topics").expect("topics ran");
    quit(&mut repl);
}

#[test]
fn muted_events_are_hidden_at_the_prompt_and_counted() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:lobby\r");
    repl.exp_string("reply ok to phx_join").expect("joined");
    type_keys(&mut repl, "mute shout\r");
    repl.exp_string("muted for every client: shout (0 hidden)")
        .expect("muted");
    type_keys(&mut repl, "cast room:lobby shout body=quiet\r");
    repl.exp_string("(ref 2, cast)")
        .expect("the echo still shows");
    type_keys(&mut repl, "mute\r");
    let before = repl
        .exp_string("muted for every client: shout (1 hidden)")
        .expect("the hidden broadcast is counted");
    assert!(!before.contains("broadcast shout"), "{before}");
    type_keys(&mut repl, "unmute shout\r");
    repl.exp_string("unmuted shout").expect("unmuted");
    type_keys(&mut repl, "cast room:lobby shout body=loud\r");
    repl.exp_string("broadcast shout {\"body\":\"loud\"}")
        .expect("shown again");
    quit(&mut repl);
}

#[test]
fn exec_lines_run_before_the_prompt() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(
        &server,
        &home,
        &[
            "--color",
            "never",
            "-e",
            "join room:lobby",
            "-e",
            "expect ok",
        ],
    );
    repl.exp_string("reply ok to phx_join")
        .expect("the -e join ran");
    // (rexpect reads bytes as Latin-1, so the check mark is left out.)
    repl.exp_string(" expect ok\r\n")
        .expect("the -e expect ran");
    type_keys(&mut repl, "push room:lobby echo x=1\r");
    repl.exp_string("reply ok to echo")
        .expect("then the prompt");
    quit(&mut repl);
}

#[test]
fn an_expect_typed_before_the_reply_waits_for_it() {
    let server = Server::start();
    let home = Home::new();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:lobby\r");
    repl.exp_string("reply ok to phx_join").expect("joined");
    // The reply takes 300 ms; the expect is typed at once.
    type_keys(
        &mut repl,
        "push room:lobby slow ms:=300 x:=5\rexpect ok x:=5\r",
    );
    let before = repl
        .exp_string(" expect ok {\"x\":5}\r\n")
        .expect("the expect checked the slow reply");
    assert!(!before.contains("failed"), "{before}");
    assert!(before.contains("reply ok to slow"), "{before}");
    // Pasted together: the push waits for the join, the expect for both.
    type_keys(
        &mut repl,
        "\x1b[200~join room:pasted\npush room:pasted echo y:=6\nexpect ok y:=6\x1b[201~\r",
    );
    let before = repl
        .exp_string(" expect ok {\"y\":6}\r\n")
        .expect("the expect checked the echo");
    assert!(!before.contains("failed"), "{before}");
    quit(&mut repl);
}

#[test]
fn a_long_payload_is_cut_at_the_prompt_and_shown_whole_with_display_full() {
    let server = Server::start();
    let home = Home::new();
    let dir = crate::support::scratch_dir();
    let file = dir.path().join("big.json");
    // 100 011 bytes of JSON: 4096 are shown, 95 915 are not.
    std::fs::write(&file, format!("{{\"data\":\"{}\"}}", "x".repeat(100_000))).unwrap();
    let mut repl = pty::repl(&server, &home, &["--color", "never"]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:lobby\r");
    repl.exp_string("reply ok to phx_join").expect("joined");
    type_keys(
        &mut repl,
        &format!("push room:lobby echo @{}\r", file.display()),
    );
    repl.exp_string("reply ok to echo").expect("the reply");
    repl.exp_string(" (95915 more bytes; display full on)\r\n")
        .expect("the reply cut, with the marker (the ellipsis before it is not ASCII)");
    type_keys(&mut repl, "display full on\r");
    repl.exp_string("full on").expect("the switch set");
    type_keys(
        &mut repl,
        &format!("push room:lobby echo @{}\r", file.display()),
    );
    repl.exp_regex(r#"reply ok to echo \(ref 3, [^)]*\) \{"data":"x{100000}"\}"#)
        .expect("the reply in full");
    quit(&mut repl);
}

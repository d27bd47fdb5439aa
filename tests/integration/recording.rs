//! `record` at the prompt, where commands do not wait: each reply's
//! `# expect` is written under the line it answers, so the recording
//! replays with its expects turned into assertions.

use crate::support::pty::{self, prompt, quit, type_keys};
use crate::support::{Home, Script, Server, scratch_dir};

#[test]
fn an_expect_is_recorded_under_its_own_push_when_lines_were_typed_since() {
    let server = Server::start();
    let home = Home::new();
    let dir = scratch_dir();
    let file = dir.path().join("s.phx");
    let file_arg = file.to_str().unwrap();
    let mut repl = pty::repl(&server, &home, &["--color", "never", "--record", file_arg]);
    repl.exp_string(&prompt(&server)).expect("the prompt");
    type_keys(&mut repl, "join room:lobby\r");
    repl.exp_string("reply ok to phx_join").expect("joined");
    // The echo is typed before the slow reply comes (the channel answers
    // it after the slow one, as a Phoenix channel handles one at a time).
    type_keys(
        &mut repl,
        "push room:lobby slow ms:=300\rpush room:lobby echo q=1\r",
    );
    repl.exp_string("reply ok to slow").expect("the slow reply");
    repl.exp_string("reply ok to echo")
        .expect("the echo's reply");
    quit(&mut repl);

    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.contains(
            "push room:lobby slow ms:=300\n\
             # expect ok {\"ms\":300}\n\
             push room:lobby echo q=1\n\
             # expect ok {\"q\":\"1\"}\n"
        ),
        "{recorded}"
    );

    // Replayed with each `# expect` turned into an assertion, it passes.
    let script: String = recorded
        .lines()
        .map(|l| {
            l.strip_prefix("# expect ")
                .map_or(l.to_owned(), |e| format!("expect {e}"))
        })
        .map(|l| l + "\n")
        .collect();
    assert_eq!(script.matches("\nexpect ").count(), 3, "{script}");
    Script::new(&server)
        .args(["--fail"])
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stdout_lacks("failed");
}

#[test]
fn a_typed_wait_takes_its_message_out_of_the_comments() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("took.phx");
    Script::new(&server)
        .arg("--record")
        .arg(&file)
        .stdin("join room:took\ncast room:took shout body=hi\nwait room:took shout body=hi\n")
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        !recorded.contains("# wait room:took shout"),
        "the message the typed wait took is still a comment:\n{recorded}"
    );
    assert!(
        recorded.contains("cast room:took shout body=hi\nwait room:took shout body=hi\n"),
        "{recorded}"
    );
}

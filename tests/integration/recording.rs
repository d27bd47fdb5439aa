//! `record` at the prompt, where commands do not wait: each reply's
//! `# expect` is written under the line it answers, so the recording
//! replays with its expects turned into assertions. A LiveView session
//! recorded reads like the script a person would write: no join reply,
//! `# expect ok` for an event, `# expect text …` after `text`, and a
//! recording started later begins with the `live` line.

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

/// The recording's lines after its three header lines.
fn body(recorded: &str) -> Vec<&str> {
    recorded.lines().skip(3).collect()
}

/// The recording with each `# expect`/`# @NAME expect` comment turned
/// into an assertion.
fn asserting(recorded: &str) -> String {
    recorded
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(c) if c.starts_with("expect ") || c.starts_with('@') && c.contains(" expect ") => {
                c.to_owned()
            }
            _ => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect()
}

#[test]
fn a_liveview_session_is_recorded_as_its_script_and_replays() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("counter.phx");
    let url = format!("http://127.0.0.1:{}/counter", server.port);
    Script::without_url()
        .args(["live", &url, "--record"])
        .arg(&file)
        .stdin(
            "click inc\n\
             submit set value=7\n\
             text h1\n\
             html h1\n\
             html h2\n\
             wait text h1 \"Count: 7\"\n",
        )
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.contains("# Replay: phx-repl live URL <"),
        "{recorded}"
    );
    // No join reply, no diffs: the lines, their statuses, what was shown.
    assert_eq!(
        body(&recorded),
        [
            "click inc",
            "# expect ok",
            "submit set value=7",
            "# expect ok",
            "text h1",
            "# expect text h1 \"Count: 7\"",
            "html h1",
            "# expect html h1",
            "html h2",
            "wait text h1 \"Count: 7\"",
        ],
        "{recorded}"
    );

    let script = asserting(&recorded);
    assert_eq!(script.matches("\nexpect ").count(), 4, "{script}");
    Script::without_url()
        .args(["live", &url, "--fail"])
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text h1 \"Count: 7\"")
        .assert_stdout_contains("✓ expect html h1")
        .assert_stdout_lacks("failed");
}

#[test]
fn a_live_line_in_a_script_is_recorded_as_typed_and_replays() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("script.phx");
    Script::new(&server)
        .arg("--record")
        .arg(&file)
        .stdin("live /counter\nclick inc\ntext h1\n")
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        body(&recorded),
        [
            "live /counter",
            "@live click inc",
            "# @live expect ok",
            "@live text h1",
            "# @live expect text h1 \"Count: 1\"",
        ],
        "{recorded}"
    );
    Script::new(&server)
        .arg("--fail")
        .stdin(&asserting(&recorded))
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text h1 \"Count: 1\"")
        .assert_stdout_lacks("failed");
}

#[test]
fn a_recording_started_after_live_begins_with_its_live_line() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("late.phx");
    let record = format!("record {}\n", file.display());
    Script::new(&server)
        .stdin(&format!("live /counter\n{record}text h1\n"))
        .run()
        .assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        body(&recorded),
        [
            "# joined before the recording started:",
            "live /counter",
            "@live text h1",
            "# @live expect text h1 \"Count: 0\"",
        ],
        "{recorded}"
    );
    Script::new(&server)
        .arg("--fail")
        .stdin(&asserting(&recorded))
        .run()
        .assert_success()
        .assert_stdout_contains("✓ expect text h1 \"Count: 0\"");
}

//! The README's walkthrough works as written: its recording is what is
//! recorded, its smoke test passes against the built-in server with the
//! summary it shows, and a changed reply fails the way it shows.

use crate::support::{self, Script, Server};

const README: &str = include_str!("../../README.md");

/// The walkthrough's smoke test, as printed in step 3.
const SMOKE: &str = "\
join room:lobby {\"user\":\"ci\"}
expect ok {\"joined\":\"room:lobby\"}
push room:lobby echo body=ping
expect ok {\"body\":\"ping\"}
cast room:lobby shout body=hello
wait room:lobby shout {\"body\":\"hello\"}
push room:lobby fail
expect error {\"reason\":\"nope\"}
";

const SUMMARY: &str = "summary: 8 commands run; replies: 2 ok, 1 error, 0 timed out; expectations: 4 passed, 0 failed\n";

#[test]
fn the_walkthrough_smoke_test_passes_as_shown() {
    assert!(README.contains(SMOKE), "the README's step 3 changed");
    assert!(README.contains(SUMMARY), "the README's step 4 changed");
    let server = Server::start();
    Script::new(&server)
        .with_summary()
        .arg("--bail")
        .stdin(SMOKE)
        .run()
        .assert_success()
        .assert_stderr(SUMMARY);
}

#[test]
fn the_walkthrough_failure_reads_as_shown() {
    let shown = "\
failed: line 4: echo on room:lobby replied ok with a different response
  expected: ok {\"body\":\"ping\"}
  got:      ok {\"body\":\"pong\"}
  (at .body expected \"ping\", got \"pong\")
";
    assert!(
        README.contains(shown),
        "the README's failure example changed"
    );
    let server = Server::start();
    Script::new(&server)
        .arg("--bail")
        .stdin(&SMOKE.replace("echo body=ping", "echo body=pong"))
        .run()
        .assert_code(1)
        .assert_stderr(shown);
}

/// The fenced block that follows `marker` in the README.
fn block_after(marker: &str) -> String {
    let at = README.find(marker).expect("the marker is in the README");
    let rest = &README[at..];
    let start = rest.find("```text\n").expect("a text block follows") + "```text\n".len();
    let len = rest[start..].find("```\n").expect("the block ends");
    rest[start..start + len].to_owned()
}

/// The recording's first line without its start time.
fn without_start_time(recording: &str) -> String {
    let (first, rest) = recording.split_once('\n').expect("a header line");
    let (before, after) = first.split_once("started ").expect("the start time");
    let (_, after) = after.split_once(", ").expect("the start time ends");
    support::normalize(&format!("{before}started _, {after}\n{rest}"))
}

#[test]
fn the_walkthrough_recording_reads_as_shown() {
    let shown = block_after("**2. Look at the recording.**");
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("smoke.phx");
    // As at the prompt in step 1, the next line is typed after the
    // broadcast has come: a cast does not wait for it.
    let mut client = Script::new(&server)
        .arg("--record")
        .arg(&file)
        .stdin(
            "join room:lobby {\"user\":\"ci\"}\n\
             push room:lobby echo body=ping\n\
             cast room:lobby shout body=hello\n",
        )
        .spawn();
    client.expect_line("with the shout broadcast", |l| {
        l.starts_with("← room:lobby broadcast shout")
    });
    client.send_line("push room:lobby fail");
    client.finish().assert_success();
    // The README records to `smoke.phx` in the current directory.
    let recorded = std::fs::read_to_string(&file)
        .expect("the recording")
        .replace(file.to_str().expect("a UTF-8 temp path"), "smoke.phx");
    assert_eq!(
        without_start_time(&recorded),
        without_start_time(&shown),
        "the README's step 2 differs from what is recorded"
    );
}

#[test]
fn the_expectations_example_runs_and_fails_as_shown() {
    let script = block_after("`expect` and `wait` turn a script into a test.");
    let server = Server::start();
    Script::new(&server)
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stderr("");
    let failure = block_after("A failure names the line, what was expected");
    let changed = script.replace(
        "user:={\"name\":\"ana\",\"id\":7}",
        "user:={\"name\":\"bob\",\"id\":7}",
    );
    assert_ne!(changed, script, "the example pushes ana");
    Script::new(&server)
        .stdin(&changed)
        .run()
        .assert_code(1)
        .assert_stderr(&failure);
}

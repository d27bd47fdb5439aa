//! The README's walkthrough works as written: its smoke test passes against
//! the built-in server with the summary it shows, and a changed reply fails
//! the way it shows.

mod support;

use support::{Script, Server};

const README: &str = include_str!("../README.md");

/// The walkthrough's smoke test, as printed in step 3.
const SMOKE: &str = "\
join room:lobby {\"user\":\"ci\"}
expect ok {\"joined\":\"room:lobby\"}
push room:lobby echo body=ping
expect ok {\"body\":\"ping\"}
push room:lobby shout body=hello
wait room:lobby shout {\"body\":\"hello\"}
push room:lobby fail
expect error {\"reason\":\"nope\"}
";

const SUMMARY: &str = "summary: 8 commands run; replies: 3 ok, 1 error, 0 timed out; expectations: 4 passed, 0 failed\n";

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

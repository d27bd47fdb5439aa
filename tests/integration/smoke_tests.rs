//! Scripts as smoke tests: `expect`, `wait` with a payload, `--bail`,
//! `${NAME}` substitution and the summary line.

use crate::support::{self, Script, Server, dedent, lobby_joined, transcript};

#[test]
fn passing_expectations_exit_0_and_say_so() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             expect ok {\"joined\":\"room:lobby\"}\n\
             push room:lobby echo body=hi user:={\"name\":\"ana\",\"id\":7}\n\
             expect ok {\"user\":{\"name\":\"ana\"}}\n\
             push room:lobby fail\n\
             expect error reason=nope\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("✓ expect ok {\"joined\":\"room:lobby\"}\n")
        .assert_stdout_contains("✓ expect ok {\"user\":{\"name\":\"ana\"}}\n")
        .assert_stdout_contains("✓ expect error {\"reason\":\"nope\"}\n");
}

#[test]
fn a_wrong_status_fails_with_expected_and_got() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby fail\nexpect ok\npush room:lobby echo\n")
        .run()
        .assert_code(1)
        .assert_stderr(&dedent(
            r#"
            failed: line 3: fail on room:lobby replied error
              expected: ok
              got:      error {"reason":"nope"}
            "#,
        ))
        // Without --bail the script goes on.
        .assert_stdout_contains("reply ok to echo");
}

#[test]
fn a_different_response_names_the_first_difference() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby echo body=ho n:=1\nexpect ok body=hi\n")
        .run()
        .assert_code(1)
        .assert_stderr(&dedent(
            r#"
            failed: line 3: echo on room:lobby replied ok with a different response
              expected: ok {"body":"hi"}
              got:      ok {"body":"ho","n":1}
              (at .body expected "hi", got "ho")
            "#,
        ));
}

#[test]
fn expect_checks_timeouts_and_needs_a_reply() {
    let server = Server::start();
    Script::new(&server)
        .args(["--timeout", "0.3"])
        .stdin("expect ok\njoin room:lobby\npush room:lobby noreply\nexpect ok\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("failed: line 1: no reply to check yet")
        .assert_stderr_contains("failed: line 4: noreply on room:lobby got no reply (timed out)");
}

#[test]
fn bail_stops_at_the_first_failure() {
    let server = Server::start();
    Script::new(&server)
        .arg("--bail")
        .stdin(
            "join room:lobby\npush room:lobby echo a=1\nexpect ok a=2\npush room:lobby echo after=1\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr_contains("failed: line 3:")
        .assert_stdout_contains("* stopping at the first failure (--bail)")
        .assert_stdout_lacks("after");
}

#[test]
fn bail_also_stops_at_an_invalid_line() {
    let server = Server::start();
    Script::new(&server)
        .arg("--bail")
        .stdin("join room:lobby\njion room:lobby\npush room:lobby echo after=1\n")
        .run()
        .assert_code(1)
        .assert_stdout_lacks("after");
}

#[test]
fn wait_matches_the_payload() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             cast room:lobby shout body=first\n\
             cast room:lobby shout body=second n:=2\n\
             wait room:lobby shout 2s {\"body\":\"second\"}\n\
             wait room:lobby shout 2s body=first\n",
        )
        .run()
        .assert_success()
        .assert_stderr("");
}

#[test]
fn a_wait_whose_payload_never_matches_shows_the_nearest_message() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\ncast room:lobby shout body=hi\nwait room:lobby shout 300ms body=bye\n")
        .run()
        .assert_code(1)
        .assert_stderr(&dedent(
            r#"
            failed: line 3: no `shout` on `room:lobby` with a matching payload within 300 ms
              expected: {"body":"bye"}
              got:      {"body":"hi"}
              (at .body expected "bye", got "hi")
            "#,
        ));
}

#[test]
fn environment_variables_are_substituted() {
    let server = Server::start();
    Script::new(&server)
        .env("PHX_TEST_USER", "ana")
        .stdin(
            "join room:${PHX_TEST_USER}\n\
             push room:${PHX_TEST_USER} echo who=${PHX_TEST_USER} lit=$${PHX_TEST_USER}\n\
             expect ok {\"who\":\"ana\",\"lit\":\"$${PHX_TEST_USER}\"}\n\
             expect ok lit=$${PHX_TEST_USER}\n",
        )
        .run()
        .assert_success()
        .assert_stdout_contains("→ room:ana phx_join {}")
        .assert_stdout_contains(
            r#"reply ok to echo (ref 2, _) {"who":"ana","lit":"${PHX_TEST_USER}"}"#,
        );
}

#[test]
fn an_unset_variable_is_an_error_that_names_it_and_nothing_is_sent() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby token=${PHX_TEST_UNSET}\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("error: line 1: environment variable `PHX_TEST_UNSET` is not set")
        .assert_stdout_lacks("phx_join");
}

#[test]
fn piped_runs_end_with_a_summary_unless_quiet() {
    let server = Server::start();
    let script = "join room:lobby\nexpect ok\npush room:lobby fail\nexpect ok\ncast room:lobby shout\nwait room:lobby shout\n";
    Script::new(&server)
        .with_summary()
        .stdin(script)
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "summary: 6 commands run; replies: 1 ok, 1 error, 0 timed out; expectations: 2 passed, 1 failed\n",
        );
    Script::new(&server)
        .stdin(script)
        .run()
        .assert_code(1)
        .assert_stderr_lacks("summary");
}

#[test]
fn exec_lines_and_script_files_run_first_then_stdin() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("setup.phx");
    std::fs::write(&file, "# setup\njoin room:lobby\nexpect ok\n").unwrap();
    Script::new(&server)
        .arg("-f")
        .arg(&file)
        .args(["-e", "push room:lobby echo from=exec"])
        .stdin("expect ok from=exec\npush room:lobby echo from=stdin\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout(&transcript(&[
            "* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0",
            &lobby_joined(),
            r#"
            ✓ expect ok
            → room:lobby echo {"from":"exec"}  (ref 2)
            ← room:lobby reply ok to echo (ref 2, _) {"from":"exec"}
            ✓ expect ok {"from":"exec"}
            → room:lobby echo {"from":"stdin"}  (ref 3)
            ← room:lobby reply ok to echo (ref 3, _) {"from":"stdin"}
            * connection closed: code 1000
            "#,
        ]));
}

#[test]
fn exit_ignores_stdin_and_keeps_the_exit_code() {
    let server = Server::start();
    Script::new(&server)
        .args(["-e", "join room:lobby", "-e", "expect error", "--exit"])
        .stdin("push room:lobby echo from=stdin\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("failed: line 2: phx_join on room:lobby replied ok")
        .assert_stdout_lacks("stdin");
}

#[test]
fn a_missing_script_file_is_a_usage_error() {
    let server = Server::start();
    Script::new(&server)
        .args(["-f", "no-such-file.phx", "--exit"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("phx-repl: error: cannot read the script `no-such-file.phx`");
}

/// The reply and message lines of a run, for comparing two runs.
fn frames_in(stdout: &str) -> Vec<String> {
    support::normalize(stdout)
        .lines()
        .filter(|l| l.starts_with('←'))
        // Presence names each connection differently (user-N, phx_ref).
        .filter(|l| !l.contains(" presence_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_recording_replays_to_the_same_replies() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("session.phx");
    let first = Script::new(&server)
        .arg("--record")
        .arg(&file)
        .env("PHX_TEST_NAME", "ana")
        .stdin(
            "join room:lobby\n\
             push room:lobby echo who=${PHX_TEST_NAME}\n\
             cast room:lobby shout body=hi\n\
             help\n\
             push room:lobby fail\n",
        )
        .run();
    first.assert_success();
    let recorded = std::fs::read_to_string(&file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the recording is private");
    }
    let body: Vec<&str> = recorded
        .lines()
        .filter(|l| !l.starts_with("# ") || l.starts_with("# expect") || l.starts_with("# wait"))
        // The server's presence on room:* is not what this test is about.
        .filter(|l| !l.contains(" presence_"))
        .collect();
    assert_eq!(
        body,
        vec![
            "join room:lobby",
            "# expect ok {\"joined\":\"room:lobby\"}",
            "push room:lobby echo who=${PHX_TEST_NAME}",
            "# expect ok {\"who\":\"ana\"}",
            "cast room:lobby shout body=hi",
            "# wait room:lobby shout {\"body\":\"hi\"}",
            "push room:lobby fail",
            "# expect error {\"reason\":\"nope\"}",
        ],
        "{recorded}"
    );

    let replay = Script::new(&server)
        .env("PHX_TEST_NAME", "ana")
        .arg("-f")
        .arg(&file)
        .arg("--exit")
        .run();
    replay.assert_success();
    assert_eq!(frames_in(&replay.stdout), frames_in(&first.stdout));

    // Uncommented, the comments are a passing test.
    let test: String = recorded
        .lines()
        .filter(|l| !l.contains(" presence_"))
        .map(|l| {
            l.strip_prefix("# expect")
                .map(|r| format!("expect{r}"))
                .or_else(|| l.strip_prefix("# wait").map(|r| format!("wait{r}")))
                .unwrap_or_else(|| l.to_owned())
        })
        .collect::<Vec<_>>()
        .join("\n");
    Script::new(&server)
        .env("PHX_TEST_NAME", "ana")
        .arg("--bail")
        .with_summary()
        .stdin(&test)
        .run()
        .assert_success()
        .assert_stderr_contains("expectations: 4 passed, 0 failed");
}

#[test]
fn record_starts_and_stops_at_a_line() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("part.phx");
    let script = format!(
        "join room:lobby\nrecord {}\npush room:lobby echo n:=1\nrecord stop\npush room:lobby echo n:=2\n",
        file.display()
    );
    Script::new(&server)
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stdout_contains("* recording to ")
        .assert_stdout_contains("* stopped recording to ");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.contains("push room:lobby echo n:=1\n# expect ok {\"n\":1}\n"),
        "{recorded}"
    );
    // The join ran before the recording: it is written first, as such.
    assert!(
        recorded.contains(
            "# joined before the recording started:\njoin room:lobby\npush room:lobby echo n:=1\n"
        ),
        "{recorded}"
    );
    assert!(!recorded.contains("n:=2"), "{recorded}");
}

#[test]
fn a_recording_started_later_joins_the_live_topics_first_and_replays() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("later.phx");
    let other = dir.path().join("other.phx");
    let script = format!(
        "join room:lobby user=${{PHX_TEST_NAME}}\n\
         join room:gone\n\
         leave room:gone\n\
         join private:secret\n\
         record {}\n\
         record {}\n\
         push room:lobby echo n:=1\n",
        other.display(),
        file.display()
    );
    Script::new(&server)
        .env("PHX_TEST_NAME", "ana")
        .stdin(&script)
        .run()
        .assert_success()
        .assert_stdout_contains(&format!(
            "* stopped recording to {}; recording to {}",
            other.display(),
            file.display()
        ));
    let recorded = std::fs::read_to_string(&file).unwrap();
    let body: Vec<&str> = recorded
        .lines()
        .skip_while(|l| !l.starts_with("# joined before"))
        .collect();
    // Only the topic still joined, as typed (the variable unexpanded).
    assert_eq!(
        body,
        vec![
            "# joined before the recording started:",
            "join room:lobby user=${PHX_TEST_NAME}",
            "push room:lobby echo n:=1",
            "# expect ok {\"n\":1}",
        ],
        "{recorded}"
    );
    Script::new(&server)
        .env("PHX_TEST_NAME", "ana")
        .arg("--fail")
        .arg("-f")
        .arg(&file)
        .arg("--exit")
        .run()
        .assert_success()
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"n\":1}");
}

#[test]
fn pretty_printed_json_spans_lines_in_a_script() {
    let server = Server::start();
    Script::new(&server)
        .stdin(
            "join room:lobby\n\
             push room:lobby echo {\n  \"user\": {\n    \"name\": \"ana\"\n  },\n  \"tags\": [\"a\",\n \"b\"]\n}\n\
             expect ok {\n  \"user\": {\"name\": \"ana\"}\n}\n\
             push room:lobby echo n:=2\n",
        )
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("✓ expect ok {\"user\":{\"name\":\"ana\"}}")
        .assert_stdout_contains("reply ok to echo (ref 3, _) {\"n\":2}");
}

#[test]
fn an_unclosed_payload_does_not_swallow_the_next_command() {
    let server = Server::start();
    Script::new(&server)
        .stdin("join room:lobby\npush room:lobby echo {\"a\":\npush room:lobby echo n:=2\n")
        .run()
        .assert_code(1)
        .assert_stderr_contains("error: line 2: payload `{\"a\":` is not valid JSON")
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"n\":2}");
}

#[test]
fn a_payload_whose_brackets_cannot_match_is_refused_on_its_own_line() {
    let server = Server::start();
    // `}` closes a `[`: no later line can complete it, so it is not taken
    // as the start of a payload over several lines.
    Script::new(&server)
        .stdin(
            "join room:lobby\npush room:lobby echo {\"a\":[1}\n\"b\"]\npush room:lobby echo n:=2\n",
        )
        .run()
        .assert_code(1)
        .assert_stderr_contains("error: line 2: payload `{\"a\":[1}` is not valid JSON")
        .assert_stderr_contains("column 8")
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"n\":2}");
}

#[test]
fn expect_checks_the_request_not_an_automatic_rejoin() {
    let server = Server::start();
    let dir = support::scratch_dir();
    let file = dir.path().join("crash.phx");
    // The crash makes the client rejoin by itself after 1 s; the sleep
    // lets that happen before the expect.
    Script::new(&server)
        .arg("--record")
        .arg(&file)
        .with_summary()
        .stdin("join room:lobby\npush room:lobby crash\nsleep 1500ms\nexpect ok\n")
        .run()
        .assert_code(1)
        .assert_stdout_contains("← room:lobby reply ok to phx_join (ref 3, _)")
        .assert_stderr_contains(
            "failed: line 4: crash on room:lobby got no reply (the channel crashed)",
        )
        .assert_stderr_contains("replies: 1 ok, 0 error, 0 timed out, 1 unanswered");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        recorded
            .matches("# expect ok {\"joined\":\"room:lobby\"}")
            .count(),
        1,
        "{recorded}"
    );
}

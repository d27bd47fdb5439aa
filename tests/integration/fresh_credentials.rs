//! `--param-cmd KEY=COMMAND` and `--auth-token-cmd COMMAND`: the command
//! runs before every connect and reconnect, its value reaches the server
//! (the built-in server echoes it in `connect_info`), a failing command
//! stops the attempt with an error naming it, and the value is a secret.

use std::path::Path;

use crate::support::{Script, Server, scratch_dir};

const JOIN_AND_ASK: &str = "join room:lobby\npush room:lobby connect_info\n";

/// A command that prints `PREFIX-N`, N counting its runs (kept in `dir`).
fn counting(dir: &Path, prefix: &str) -> String {
    let n = dir.join("n");
    let n = n.display();
    format!("n=$(cat '{n}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{n}'; echo {prefix}-$n")
}

#[test]
fn the_auth_token_from_a_command_is_accepted_and_never_shown() {
    let server = Server::with_args(&["--require-auth-token", "Fr3shAuthTok"]);
    for mode in [&[][..], &["--json"][..]] {
        let out = Script::new(&server)
            .args(["--auth-token-cmd", "printf '  Fr3shAuthTok\\n'"])
            .args(mode)
            .stdin(JOIN_AND_ASK)
            .run();
        out.assert_success()
            .assert_stdout_contains("REDACTED")
            .assert_stdout_lacks("Fr3shAuthTok")
            .assert_stderr_lacks("Fr3shAuthTok");
    }
    Script::new(&server)
        .args(["--auth-token-cmd", "echo Fr3shAuthTok", "--show-secrets"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_success()
        .assert_stdout_contains(r#""auth_token":"Fr3shAuthTok""#);
}

#[test]
fn the_auth_token_from_a_command_works_over_long_poll() {
    let server = Server::with_args(&["--require-auth-token", "Fr3shAuthTok"]);
    Script::new(&server)
        .args(["--transport", "longpoll", "--show-secrets"])
        .args(["--auth-token-cmd", "echo Fr3shAuthTok"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_success()
        .assert_stdout_contains(r#""auth_token":"Fr3shAuthTok""#);
    // Once per long-poll session, not once per poll.
    let dir = scratch_dir();
    Script::new(&server)
        .args(["--transport", "longpoll", "--show-secrets"])
        .args(["--auth-token-cmd", "echo Fr3shAuthTok"])
        .args(["--param-cmd", &format!("user={}", counting(dir.path(), "Fr3sh"))])
        .stdin("join room:lobby\npush room:lobby echo\npush room:lobby echo\npush room:lobby connect_info\n")
        .run()
        .assert_success()
        .assert_stdout_contains(r#""user":"Fr3sh-1""#);
    let runs = std::fs::read_to_string(dir.path().join("n")).unwrap();
    assert_eq!(runs.trim(), "1", "the command ran once per poll");
}

#[test]
fn a_param_from_a_command_reaches_the_server_and_is_redacted() {
    let server = Server::start();
    // The built-in server refuses `token=bad`, as connect/3 would.
    Script::new(&server)
        .args(["--param-cmd", "token=echo bad"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_code(3)
        .assert_stderr_contains("403");
    for mode in [&[][..], &["--json"][..]] {
        let out = Script::new(&server)
            .args(["--param-cmd", "user=echo Fr3shUser"])
            .args(mode)
            .stdin(JOIN_AND_ASK)
            .run();
        out.assert_success()
            .assert_stdout_contains("user=REDACTED")
            .assert_stdout_lacks("Fr3shUser");
    }
    Script::new(&server)
        .args(["--param-cmd", "user=echo Fr3shUser", "--show-secrets"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_success()
        .assert_stdout_contains(r#""user":"Fr3shUser""#);
}

#[test]
fn the_command_runs_again_on_every_reconnect() {
    let server = Server::start();
    let dir = scratch_dir();
    Script::new(&server)
        .args(["--param-cmd", &format!("user={}", counting(dir.path(), "Fr3sh"))])
        .arg("--show-secrets")
        .stdin("join room:lobby\npush room:lobby connect_info\npush room:lobby kick\npush room:lobby connect_info\n")
        .run()
        .assert_success()
        .assert_stdout_contains("* disconnected by the server: code 1011 (kicked)\n")
        .assert_stdout_contains(r#""user":"Fr3sh-1""#)
        .assert_stdout_contains(r#""user":"Fr3sh-2""#);
}

#[test]
fn a_command_that_fails_on_a_reconnect_is_retried_with_the_backoff() {
    let server = Server::start();
    let dir = scratch_dir();
    let n = dir.path().join("n");
    let n = n.display();
    // Runs 1 and 3 print a user; run 2 fails.
    let command = format!(
        "n=$(cat '{n}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{n}'; \
         if [ $n = 2 ]; then echo vault sealed >&2; exit 5; fi; echo Fr3sh-$n"
    );
    let out = Script::new(&server)
        .args(["--param-cmd", &format!("user={command}"), "--show-secrets"])
        .stdin("join room:lobby\npush room:lobby kick\npush room:lobby connect_info\n")
        .run();
    out.assert_success()
        .assert_stdout_contains("failed with exit status 5: vault sealed")
        .assert_stdout_contains("(attempt 2)")
        .assert_stdout_contains(r#""user":"Fr3sh-3""#);
}

#[test]
fn a_failing_command_ends_a_first_connect_with_exit_3_naming_it() {
    let server = Server::start();
    Script::new(&server)
        .args(["--auth-token-cmd", "echo denied >&2; exit 7"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "`--auth-token-cmd echo denied >&2; exit 7` failed with exit status 7: denied",
        );
    Script::new(&server)
        .args(["--param-cmd", "token=true"])
        .stdin(JOIN_AND_ASK)
        .run()
        .assert_code(3)
        .assert_stderr_contains("`--param-cmd token=true` printed nothing");
}

#[test]
fn a_slow_command_times_out_with_timeout_and_is_killed() {
    let server = Server::start();
    let out = Script::new(&server)
        .args(["--param-cmd", "token=sleep 30", "--timeout", "1"])
        .stdin(JOIN_AND_ASK)
        .run();
    out.assert_code(3)
        .assert_stderr_contains("`--param-cmd token=sleep 30` timed out after 1 s (--timeout)");
    assert!(
        out.elapsed.as_secs() < 20,
        "it waited for the command\n{}",
        out.report()
    );
}

#[test]
fn the_loop_keeps_serving_while_a_reconnect_command_runs() {
    let server = Server::start();
    let dir = scratch_dir();
    let n = dir.path().join("n");
    let n = n.display();
    // The first run answers at once; the next ones hang.
    let command = format!(
        "n=$(cat '{n}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{n}'; \
         if [ $n -gt 1 ]; then sleep 60; fi; echo Fr3sh-$n"
    );
    let mut client = Script::new(&server)
        .args(["--param-cmd", &format!("user={command}"), "--timeout", "30"])
        .stdin("join room:lobby\npush room:lobby kick\n")
        .spawn();
    client.expect_line("kicked", |l| l.starts_with("* disconnected by the server"));
    client.send_line("status");
    client.expect_line("the status, answered offline", |l| {
        l.starts_with("  connection  ")
    });
    client.send_line("quit");
    let out = client.finish();
    assert!(
        out.elapsed.as_secs() < 25,
        "quit waited for the command\n{}",
        out.report()
    );
}

#[test]
fn a_value_given_two_ways_is_a_usage_error() {
    let server = Server::start();
    Script::new(&server)
        .args(["--param-cmd", "token=echo a", "-p", "token=b"])
        .run()
        .assert_code(2)
        .assert_stderr_contains(
            "connect param `token` comes from both `--param-cmd token=…` and `-p`/the URL",
        );
    Script::new(&server)
        .args(["--auth-token-cmd", "echo a", "--auth-token", "b"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("`--auth-token-cmd` and `--auth-token`");
}

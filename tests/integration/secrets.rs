//! Secrets stay secret: a known secret passed each way phx-repl takes one
//! (a URL query param, `-p` params of every secret-looking name, the
//! `--auth-token` flag and its environment variable, `Authorization` and
//! `Cookie` headers) appears nowhere in what it prints or records, in human
//! or JSON mode, in `status`, in errors, and when a server echoes it back,
//! unless `--show-secrets`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use crate::support::{Script, Server, scratch_dir};

/// One distinct secret per way in, so a leak names its way.
const SECRETS: &[(&str, &str)] = &[
    ("url-token", "S3cretUrlToken"),
    ("param-token", "S3cretParamTok"),
    ("param-auth", "S3cretParamAuth"),
    ("param-apikey", "S3cretApiKey1"),
    ("param-api_key", "S3cretApiKey2"),
    ("param-password", "S3cretPassword"),
    ("param-secret", "S3cretSecret"),
    ("param-jwt", "S3cretJwtValue"),
    ("auth-token", "S3cretAuthTok"),
    ("authorization", "S3cretBearer"),
    ("cookie", "S3cretCookie"),
];

fn secret(way: &str) -> &'static str {
    SECRETS.iter().find(|(w, _)| *w == way).unwrap().1
}

/// The arguments that pass every secret, for a server at `base`
/// (`ws://HOST:PORT/socket`). Names vary in case, as users type them.
fn args(base: &str) -> Vec<String> {
    vec![
        format!("{base}?Token={}", secret("url-token")),
        "-p".into(),
        format!("TOKEN={}", secret("param-token")),
        "-p".into(),
        format!("auth={}", secret("param-auth")),
        "-p".into(),
        format!("ApiKey={}", secret("param-apikey")),
        "-p".into(),
        format!("api_key={}", secret("param-api_key")),
        "-p".into(),
        format!("Password={}", secret("param-password")),
        "-p".into(),
        format!("secret={}", secret("param-secret")),
        "-p".into(),
        format!("jwt={}", secret("param-jwt")),
        "--auth-token".into(),
        secret("auth-token").into(),
        "-H".into(),
        format!("Authorization: Bearer {}", secret("authorization")),
        "-H".into(),
        format!("Cookie: theme=dark; session={}", secret("cookie")),
    ]
}

/// Fails naming every secret found in `text`.
fn assert_no_secret(what: &str, text: &str) {
    let leaks: Vec<&str> = SECRETS
        .iter()
        .filter(|(_, s)| text.contains(s))
        .map(|(w, _)| *w)
        .collect();
    assert!(leaks.is_empty(), "{what} leaks {leaks:?}:\n{text}");
}

#[test]
fn no_secret_is_printed_or_recorded_in_a_session() {
    let server = Server::start();
    for mode in [&[][..], &["--json"][..]] {
        let dir = scratch_dir();
        let record = dir.path().join("session.phx");
        let out = Script::with_url(&args(&server.url)[0])
            .args(&args(&server.url)[1..])
            .args(mode)
            .arg("--record")
            .arg(&record)
            .stdin("join room:lobby\nstatus\ntopics\npush room:lobby echo n:=1\n")
            .run();
        out.assert_success();
        assert!(
            out.stdout.contains("REDACTED"),
            "the URL line shows where a secret was\n{}",
            out.report()
        );
        assert_no_secret(&format!("stdout {mode:?}"), &out.stdout);
        assert_no_secret(&format!("stderr {mode:?}"), &out.stderr);
        let recorded = std::fs::read_to_string(&record).expect("the record file");
        assert_no_secret(&format!("the record file {mode:?}"), &recorded);
    }
}

#[test]
fn the_auth_token_from_the_environment_is_not_printed() {
    let server = Server::start();
    let out = Script::new(&server)
        .env("PHX_REPL_AUTH_TOKEN", secret("auth-token"))
        .args(["--json"])
        .stdin("status\n")
        .run();
    out.assert_success();
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
}

/// A server that refuses the upgrade and echoes the whole request back in
/// its error body, as some frameworks' debug pages do.
fn echoing_refuser() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("ws://{}/socket", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = String::from_utf8_lossy(&req).replace("\r\n", " | ");
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

#[test]
fn no_secret_is_printed_when_connecting_fails_or_the_server_echoes_it() {
    let base = echoing_refuser();
    for mode in [&[][..], &["--json"][..]] {
        let out = Script::with_url(&args(&base)[0])
            .args(&args(&base)[1..])
            .args(mode)
            .stdin("join room:lobby\n")
            .run();
        out.assert_code(3);
        assert!(
            out.stderr.contains("HTTP/1.1 403 Forbidden"),
            "the refusal is reported\n{}",
            out.report()
        );
        assert_no_secret(&format!("stdout {mode:?}"), &out.stdout);
        assert_no_secret(&format!("stderr {mode:?}"), &out.stderr);
    }
    // A usage error that quotes the URL as typed.
    let out = Script::with_url(&format!(
        "ftp://example.com/socket?token={}",
        secret("url-token")
    ))
    .run();
    out.assert_code(2);
    assert_no_secret("a usage error", &out.stderr);
}

#[test]
fn show_secrets_prints_them() {
    let server = Server::start();
    let out = Script::with_url(&args(&server.url)[0])
        .args(&args(&server.url)[1..])
        .arg("--show-secrets")
        .stdin("status\n")
        .run();
    out.assert_success()
        .assert_stdout_contains(secret("url-token"))
        .assert_stdout_contains(secret("param-password"));
}

#[test]
fn a_recording_started_at_a_line_is_scrubbed_too() {
    let server = Server::start();
    let dir = scratch_dir();
    let record = dir.path().join("later.phx");
    let token = secret("param-token");
    let out = Script::new(&server)
        .args(["-p", &format!("token={token}")])
        .stdin(&format!(
            "join room:lobby\nrecord {}\npush room:lobby echo t={token}\n",
            record.display()
        ))
        .run();
    out.assert_success();
    assert_no_secret("stdout", &out.stdout);
    let recorded = std::fs::read_to_string(&record).expect("the record file");
    assert!(
        recorded.contains("# expect ok {\"t\":\"REDACTED\"}"),
        "{recorded}"
    );
    assert_no_secret("the record file", &recorded);
}

#[test]
fn secret_named_variables_are_hidden_and_others_shown() {
    let server = Server::start();
    let dir = scratch_dir();
    let record = dir.path().join("vars.phx");
    let script = "join room:lobby token=${SMOKE_TOKEN}\n\
                  push room:lobby echo who=${PHX_TEST_WHO} pw=${DB_PASSWORD}\n";
    let run = |extra: &[&str]| {
        Script::new(&server)
            .env("SMOKE_TOKEN", "S3cretFromEnvTok")
            .env("DB_PASSWORD", "S3cretFromEnvPw")
            .env("PHX_TEST_WHO", "anastasia")
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdin(script)
            .run()
    };
    let out = run(&[]);
    out.assert_success()
        .assert_stdout_contains("phx_join {\"token\":\"REDACTED\"}")
        .assert_stdout_contains("{\"who\":\"anastasia\",\"pw\":\"REDACTED\"}");
    for text in [
        &out.stdout,
        &out.stderr,
        &std::fs::read_to_string(&record).unwrap(),
    ] {
        assert!(!text.contains("S3cretFromEnv"), "{text}");
    }
    // The file keeps the variables, so it replays.
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.contains("join room:lobby token=${SMOKE_TOKEN}\n"),
        "{recorded}"
    );
    run(&["--show-secrets"])
        .assert_success()
        .assert_stdout_contains("{\"token\":\"S3cretFromEnvTok\"}");
}

#[test]
fn a_typed_connects_secret_param_is_redacted_on_screen_and_in_the_recording() {
    let server = Server::start();
    let dir = scratch_dir();
    let file = dir.path().join("typed.phx");
    let out = Script::new(&server)
        .args(["--record", file.to_str().unwrap()])
        .stdin("connect bob -p token=s3cr3t-typed-param -p user=bob\n@bob join room:x\n")
        .run();
    out.assert_success()
        .assert_stdout_lacks("s3cr3t-typed-param")
        .assert_stdout_contains("token=REDACTED");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("connect bob -p token=REDACTED -p user=bob") && !text.contains("s3cr3t"),
        "{text}"
    );
}

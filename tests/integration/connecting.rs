//! Connecting options end to end: `--auth-token` (accepted and refused),
//! `--origin` against the server's origin check, and wss:// with a CA
//! generated for the test (trusted with `--ca-cert`, refused without it,
//! accepted with `--insecure` and its warning).

use std::path::PathBuf;

use crate::support::{Script, Server, scratch_dir};
use tempfile::TempDir;

#[test]
fn auth_token_is_accepted_and_exposed_by_the_server() {
    let server = Server::with_args(&["--require-auth-token", "s3cret"]);
    // --show-secrets: the server's echo of the token is otherwise REDACTED.
    Script::new(&server)
        .args(["--auth-token", "s3cret", "--show-secrets"])
        .stdin("join room:lobby\npush room:lobby connect_info\n")
        .run()
        .assert_success()
        .assert_stdout_contains("reply ok to connect_info (ref 2, _) {\"auth_token\":\"s3cret\",")
        // The token never shows in the connect line.
        .assert_stdout_contains("* connected to ws://127.0.0.1:PORT/socket/websocket?vsn=2.0.0\n");
}

#[test]
fn missing_or_wrong_auth_token_is_refused_with_403() {
    let server = Server::with_args(&["--require-auth-token", "s3cret"]);
    Script::new(&server)
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("HTTP/1.1 403 Forbidden")
        .assert_stderr_contains("an auth token is required");
    Script::new(&server)
        .args(["--auth-token", "guess"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("the auth token was rejected");
}

/// Phoenix 1.7 (and 1.8 without `auth_token: true`) upgrades without
/// choosing a subprotocol. The WebSocket library refuses that; the error
/// says what it means for the token.
#[test]
fn a_server_that_takes_no_auth_token_is_named_as_such() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        // tungstenite's server side answers no subprotocol.
        let _ws = tungstenite::accept(stream);
    });
    Script::with_url(&url)
        .args(["--auth-token", "s3cret"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains(
            "the server chose no subprotocol, so it does not take `--auth-token`",
        )
        .assert_stderr_contains("-p token=");
}

#[test]
fn origin_is_sent_and_a_wrong_one_gets_a_403_with_a_hint() {
    let server = Server::with_args(&["--check-origin", "https://app.example"]);
    Script::new(&server)
        .args(["--origin", "https://evil.example"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("origin https://evil.example is not allowed")
        .assert_stderr_contains("--origin");
    Script::new(&server)
        .args(["--origin", "https://app.example"])
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains("reply ok to phx_join");
}

/// A CA and a certificate signed by it (for `localhost` and 127.0.0.1
/// unless told otherwise), written as PEM files.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        Pki::for_names(&["localhost", "127.0.0.1"])
    }

    fn for_names(names: &[&str]) -> Pki {
        Pki::build(names, false)
    }

    /// A certificate that expired long ago.
    fn expired() -> Pki {
        Pki::build(&["localhost"], true)
    }

    fn build(names: &[&str], expired: bool) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "phx-repl test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf = CertificateParams::new(names).unwrap();
        if expired {
            leaf.not_before = rcgen::date_time_ymd(2000, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let leaf = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let dir = scratch_dir();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server(&self) -> Server {
        let cert = self.path("cert.pem");
        let key = self.path("key.pem");
        Server::with_args(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
    }
}

#[test]
fn ws_to_a_tls_server_suggests_wss() {
    let pki = Pki::new();
    let server = pki.server();
    Script::with_url(&format!("ws://localhost:{}/socket", server.port))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("if it speaks TLS, use a wss:// URL");
}

#[test]
fn wss_with_the_test_ca_works_end_to_end() {
    let pki = Pki::new();
    let server = pki.server();
    assert!(server.url.starts_with("wss://"), "{}", server.url);
    let url = format!("wss://localhost:{}/socket", server.port);
    Script::with_url(&url)
        .arg("--ca-cert")
        .arg(pki.path("ca.pem"))
        .stdin("join room:lobby\npush room:lobby echo hex:00ff\ncast room:lobby shout a=1\n")
        .run()
        .assert_success()
        .assert_stderr("")
        .assert_stdout_contains("reply ok to echo (ref 2, _) hex:00ff\n")
        .assert_stdout_contains("← room:lobby broadcast shout {\"a\":\"1\"}\n");
}

#[test]
fn wss_without_the_ca_is_refused_naming_the_flag_that_helps() {
    let pki = Pki::new();
    let server = pki.server();
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("unknown certificate authority")
        .assert_stderr_contains("--ca-cert");
}

#[test]
fn wss_to_a_name_the_certificate_lacks_says_so() {
    let pki = Pki::for_names(&["localhost"]);
    let server = pki.server();
    Script::with_url(&format!("wss://127.0.0.1:{}/socket", server.port))
        .arg("--ca-cert")
        .arg(pki.path("ca.pem"))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("not valid for this host name")
        .assert_stderr_contains("--insecure");
}

#[test]
fn an_expired_certificate_says_so() {
    let pki = Pki::expired();
    let server = pki.server();
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .arg("--ca-cert")
        .arg(pki.path("ca.pem"))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("it has expired")
        .assert_stderr_contains("--insecure");
}

#[test]
fn insecure_connects_with_a_warning() {
    let pki = Pki::new();
    let server = pki.server();
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .arg("--insecure")
        .stdin("join room:lobby\n")
        .run()
        .assert_success()
        .assert_stdout_contains(
            "* warning: --insecure: the server's TLS certificate was not verified",
        )
        .assert_stdout_contains("reply ok to phx_join");
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_clear_error() {
    let pki = Pki::new();
    let server = pki.server();
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .arg("--ca-cert")
        .arg(pki.path("key.pem"))
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("(--ca-cert)");
}

#[test]
fn long_poll_over_https_with_the_test_ca() {
    let pki = Pki::new();
    let server = pki.server();
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .args(["--transport", "longpoll", "--ca-cert"])
        .arg(pki.path("ca.pem"))
        .stdin("join room:lobby\npush room:lobby echo a=1\n")
        .run()
        .assert_success()
        .assert_stdout_contains(&format!(
            "* connected to https://localhost:{}/socket/longpoll?vsn=2.0.0\n",
            server.port
        ))
        .assert_stdout_contains("reply ok to echo (ref 2, _) {\"a\":\"1\"}");
    Script::with_url(&format!("wss://localhost:{}/socket", server.port))
        .args(["--transport", "longpoll"])
        .stdin("join room:lobby\n")
        .run()
        .assert_code(3)
        .assert_stderr_contains("--ca-cert");
}

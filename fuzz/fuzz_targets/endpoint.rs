//! URL normalisation on arbitrary input: it never panics, a normalised URL
//! normalises to itself, and redaction hides every secret-looking value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::core::endpoint::{is_secret_key, normalize, redact};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the URL; later `key=value` lines are connect params.
    let mut lines = text.split('\n');
    let input = lines.next().unwrap_or("");
    let params: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let Ok(url) = normalize(input, &params) else {
        return;
    };
    // WebSocket, or the long-poll transport a `/longpoll` URL asks for.
    match url.scheme() {
        "ws" | "wss" => assert!(url.path().ends_with("/websocket")),
        "http" | "https" => assert!(url.path().ends_with("/longpoll")),
        other => panic!("scheme {other}"),
    }
    let again = normalize(url.as_str(), &[]).expect("a normalised URL normalises");
    assert_eq!(url, again);
    let shown = redact(&url);
    let shown = url::Url::parse(&shown).expect("a redacted URL parses");
    for (k, v) in shown.query_pairs() {
        if is_secret_key(&k) {
            assert_eq!(v, "REDACTED");
        }
    }
});

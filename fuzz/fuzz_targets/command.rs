//! The command parser on arbitrary lines: it never panics, whatever parses
//! as a payload is JSON, and an error renders as one line with nothing
//! that could drive the terminal (it quotes the bad token back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::lang::command::{Command, parse_line};
use phx_repl::lang::payload::parse_payload;
use phx_repl::output::Style;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    colored::control::set_override(false);
    match parse_line(line) {
        Ok(Some(Command::Raw(text))) => assert!(!text.is_empty()),
        Ok(_) => {}
        Err(e) => {
            let style = Style {
                json: false,
                dim_sent: false,
                at_prompt: false,
                show_heartbeats: false,
                display: Default::default(),
                vsn: Default::default(),
            };
            let mut out = String::new();
            style.error(&e.to_string(), Some(1), &mut out);
            let body = out.strip_suffix('\n').expect("ends with a newline");
            assert!(
                !body.chars().any(char::is_control),
                "error with a control character: {out:?}"
            );
        }
    }
    if let Ok(payload) = parse_payload(line) {
        // Syntax only: `1e999` is valid JSON that no f64 holds.
        serde_json::from_str::<&serde_json::value::RawValue>(payload.get())
            .expect("payload is JSON");
    }
});

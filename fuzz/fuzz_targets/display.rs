//! Terminal safety on arbitrary server text: after escaping, nothing that
//! can drive a terminal is left, and a payload keeps its JSON value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::output::{clean, display_json};
use phx_repl::core::protocol::Vsn;

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(!clean(text).chars().any(unsafe_char));
    // Payloads come from decoded frames, so they are valid JSON.
    let Ok(frame) = Vsn::V2.decode(text) else {
        return;
    };
    let Some(payload) = frame.payload.json() else {
        return;
    };
    let payload = payload.get();
    let shown = display_json(payload);
    assert!(!shown.chars().any(unsafe_char), "{shown:?}");
    serde_json::from_str::<&serde_json::value::RawValue>(&shown).expect("still JSON");
    // Numbers such as `1e999` are valid JSON but no f64 holds them.
    if let Ok(before) = serde_json::from_str::<serde_json::Value>(payload) {
        let after: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(before, after);
    }
});

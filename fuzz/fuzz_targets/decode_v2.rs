//! The V2 text decoder on arbitrary frames: it never panics, and a decoded
//! frame survives encode → decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::protocol::decode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = decode(text) else {
        return;
    };
    let again = decode(&frame.encode()).expect("an encoded frame decodes");
    assert_eq!(frame.join_ref, again.join_ref);
    assert_eq!(frame.ref_, again.ref_);
    assert_eq!(frame.topic, again.topic);
    assert_eq!(frame.event, again.event);
    assert_eq!(frame.payload.get(), again.payload.get());
});

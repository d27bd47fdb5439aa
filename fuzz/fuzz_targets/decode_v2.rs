//! The V2 text decoder on arbitrary frames: it never panics, and a decoded
//! frame survives encode → decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::protocol::{Side, Vsn, Wire};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = Vsn::V2.decode(text) else {
        return;
    };
    let Ok(Wire::Text(again)) = Vsn::V2.encode(&frame, Side::Client) else {
        panic!("a decoded text frame encodes as text");
    };
    let back = Vsn::V2.decode(&again).expect("an encoded frame decodes");
    assert_eq!(frame.join_ref, back.join_ref);
    assert_eq!(frame.ref_, back.ref_);
    assert_eq!(frame.topic, back.topic);
    assert_eq!(frame.event, back.event);
    assert_eq!(
        frame.payload.json().map(|p| p.get()),
        back.payload.json().map(|p| p.get())
    );
});

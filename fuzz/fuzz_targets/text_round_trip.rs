//! Shared by the V1 and V2 text targets: a text frame that decodes survives
//! encode → decode unchanged.

use phx_repl::core::protocol::{Side, Vsn, Wire};

pub fn check(vsn: Vsn, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = vsn.decode(text) else {
        return;
    };
    let Ok(Wire::Text(again)) = vsn.encode(&frame, Side::Client) else {
        panic!("a decoded text frame encodes as text");
    };
    let back = vsn.decode(&again).expect("an encoded frame decodes");
    assert_eq!(frame.join_ref, back.join_ref);
    assert_eq!(frame.ref_, back.ref_);
    assert_eq!(frame.topic, back.topic);
    assert_eq!(frame.event, back.event);
    assert_eq!(
        frame.payload.json().map(|p| p.get()),
        back.payload.json().map(|p| p.get())
    );
}

//! The V2 binary frame decoder on arbitrary bytes, as sent by either side:
//! it never panics (truncated frames, unknown kinds, bad lengths, invalid
//! UTF-8), and a decoded client push re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::core::protocol::{Side, Vsn, Wire, decode_binary};

fuzz_target!(|data: &[u8]| {
    let _ = decode_binary(data, Side::Server);
    let Ok(frame) = decode_binary(data, Side::Client) else {
        return;
    };
    // Empty refs decode as absent and encode as empty: the bytes match
    // whenever the input had no length byte to spare.
    match Vsn::V2.encode(&frame, Side::Client) {
        Ok(Wire::Binary(again)) => {
            let back = decode_binary(&again, Side::Client).expect("re-decodes");
            assert_eq!(frame.join_ref, back.join_ref);
            assert_eq!(frame.ref_, back.ref_);
            assert_eq!(frame.topic, back.topic);
            assert_eq!(frame.event, back.event);
            assert_eq!(again, data);
        }
        other => panic!("a decoded binary push encodes as binary: {other:?}"),
    }
});

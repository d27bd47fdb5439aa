//! The V2 text decoder on arbitrary frames: it never panics, its fast path
//! for plain frames agrees with the general one, and a decoded frame
//! survives encode → decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::core::protocol::{self, Vsn};

mod text_round_trip;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let fast = protocol::decode(text);
        let general = protocol::decode_general(text);
        match (&fast, &general) {
            (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("the two decoders disagree: {fast:?} vs {general:?}"),
        }
    }
    text_round_trip::check(Vsn::V2, data);
});

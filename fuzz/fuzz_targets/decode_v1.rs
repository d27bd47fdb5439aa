//! The V1 (JSON object) text decoder on arbitrary frames: it never panics, and a
//! decoded frame survives encode → decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phx_repl::core::protocol::Vsn;

mod text_round_trip;

fuzz_target!(|data: &[u8]| text_round_trip::check(Vsn::V1, data));

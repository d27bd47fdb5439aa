//! phx-repl as a library: the modules behind the binary.
//!
//! The binary (`main.rs`) only wires these together. They are a library so
//! that fuzz targets, benchmarks and property tests can reach the pure parts
//! (command parsing, frame encoding and decoding, URL normalisation) directly.
//!
//! The folders are layers, and each imports only from the ones listed
//! before it (docs/ARCHITECTURE.md draws them):
//!
//! - [`core`]: the protocol, pure: frames and their formats, the session's
//!   refs and pending replies, channel states, presence, URLs.
//! - [`output`]: events in, text out (human or NDJSON), and terminal safety.
//! - [`lang`]: the command language, pure: parsing typed lines, `${NAME}`,
//!   multi-line payloads, matching for `expect`/`wait`, completion.
//! - [`transport`]: sockets: WebSocket, long-poll, TLS, and the network
//!   thread that owns them.
//! - [`runner`]: the consumer loop that runs lines and prints events, the
//!   prompt, and recording.
//! - [`suite`]: `phx-repl test`: script files run as tests, each in a
//!   child process, with per-file results and the JUnit report.
//! - [`server`]: the built-in server; it imports only `core` (its TLS
//!   config is built by `main` with `transport::tls`).

pub mod cli;
pub mod core;
pub mod lang;
pub mod output;
pub mod runner;
pub mod server;
pub mod suite;
pub mod transport;

//! phx-repl as a library: the modules behind the binary.
//!
//! The binary (`main.rs`) only wires these together. They are a library so
//! that fuzz targets, benchmarks and property tests can reach the pure parts
//! (command parsing, frame encoding and decoding, URL normalisation) directly.

pub mod channel;
pub mod cli;
pub mod command;
pub mod connection;
pub mod endpoint;
pub mod jsonfmt;
pub mod longpoll;
pub mod matcher;
pub mod multiline;
pub mod output;
pub mod presence;
pub mod protocol;
pub mod recent;
pub mod recorder;
pub mod repl;
pub mod runner;
pub mod server;
pub mod session;
pub mod tls;
pub mod vars;
pub mod vocab;

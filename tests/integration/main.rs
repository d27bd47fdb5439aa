//! The integration tests, as one test binary: each module is one area of
//! phx-repl, checked end to end through the built binary (or, for
//! `properties`, through the library's pure parts).
//!
//! One binary rather than one per file: cargo links every test target
//! against the whole dependency tree, so eighteen targets meant eighteen
//! links of the same code. Shared helpers live in `support`; what a module
//! needs only for itself stays in that module.

mod support;

mod cast;
mod commands;
mod completions;
mod connecting;
mod connection;
mod display;
mod exit_codes;
mod fast_path;
mod first_use;
mod fresh_credentials;
mod gql_server;
mod hostile;
mod interactive;
mod json;
mod live_demo;
mod live_server;
mod liveview;
mod longpoll;
mod many_clients;
mod net_clients;
mod phoenix_frames;
mod presence;
mod prompt;
mod properties;
mod protocols;
mod readme;
mod recording;
mod resilience;
mod script_records;
mod scripting_gql;
mod secrets;
mod smoke_tests;
mod test_mode;

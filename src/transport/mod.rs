//! Sockets: the WebSocket and long-poll transports, TLS, and the network
//! thread that owns the connection and reports `core::event::Event`s.
//!
//! `websocket` opens a WebSocket; `longpoll` opens a long-poll session
//! (using `websocket`'s TCP connect); `net` runs the thread and imports
//! both, and `fresh` for the credentials each attempt fetches first; `tls` builds the configurations for all of them and the server.

pub mod dial;
pub mod fresh;
pub mod longpoll;
pub mod net;
pub mod tls;
pub mod websocket;

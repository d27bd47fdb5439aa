//! Sockets: the WebSocket and long-poll transports, TLS, and the network
//! thread that owns every client's connection and reports
//! `core::event::Event`s.
//!
//! `websocket` holds the upgrade handshake and the words for every way
//! connecting fails; `dial` opens a socket without blocking (name lookup,
//! TCP, then `websocket`'s handshake, or a long-poll connect on a thread of
//! its own); `longpoll` opens a long-poll session (using `websocket`'s
//! blocking TCP connect on its own threads); `net` runs the thread and uses
//! `dial`, and `fresh` for the credentials each attempt fetches first;
//! `tls` builds the configurations for all of them and the server; `page`
//! fetches a LiveView page over HTTP(S) with a cookie jar.

pub mod dial;
pub mod fresh;
pub mod longpoll;
pub mod net;
pub mod page;
pub mod tls;
pub mod websocket;

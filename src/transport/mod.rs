//! Sockets: the WebSocket and long-poll transports, TLS, and the network
//! thread that owns the connection and reports `core::event::Event`s.

pub mod longpoll;
pub mod net;
pub mod tls;

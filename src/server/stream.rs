//! A connection's byte stream: plain TCP, or TLS over it (`--tls-cert`).
//!
//! Owns only the choice between the two and the pass-through of reads and
//! writes; the TLS configuration comes from the server's options, and what
//! is read or written is up to `handshake.rs`, `peer.rs` and `longpoll.rs`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A connection's byte stream: plain TCP, or TLS over it (`--tls-cert`).
#[derive(Debug)]
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl ServerStream {
    /// Wraps an accepted socket, in TLS when the server has a `tls`
    /// configuration. The TLS handshake itself happens inside the first read.
    pub fn new(stream: TcpStream, tls: Option<&Arc<ServerConfig>>) -> Result<Self, rustls::Error> {
        Ok(match tls {
            Some(config) => {
                let tls = ServerConnection::new(Arc::clone(config))?;
                ServerStream::Tls(Box::new(StreamOwned::new(tls, stream)))
            }
            None => ServerStream::Plain(stream),
        })
    }

    /// The TCP socket underneath, for timeouts and the poller.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(s) => s,
            ServerStream::Tls(s) => s.get_ref(),
        }
    }

    /// Ends TLS cleanly (close_notify) before the socket closes; plain TCP
    /// has nothing to say.
    pub fn close_notify(&mut self) {
        if let ServerStream::Tls(s) = self {
            s.conn.send_close_notify();
            // Best effort: the client may already be gone.
            let _ = s.flush();
        }
    }
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.write(buf),
            ServerStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(s) => s.flush(),
            ServerStream::Tls(s) => s.flush(),
        }
    }
}

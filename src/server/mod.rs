//! The built-in Phoenix-compatible server (stub; being written).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Close a connection after this long without a frame from its client.
    pub idle_timeout: Duration,
    /// Log connections and disconnections to stderr.
    pub log: bool,
}

/// Starts serving `listener` on background threads and returns at once.
pub fn spawn(listener: TcpListener, options: Options) -> io::Result<SocketAddr> {
    let _ = options;
    listener.local_addr()
}

/// Serves `listener` on the calling thread, forever.
pub fn run(listener: TcpListener, options: Options) -> io::Result<()> {
    let _ = (listener, options);
    Ok(())
}

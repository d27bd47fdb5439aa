//! The built-in Phoenix-compatible server: a Phoenix socket speaking V2
//! (text and binary) and V1, by the client's `vsn`, at
//! `/socket/websocket` (and long-poll at `/socket/longpoll`) with a few
//! demo channels (`room:*`, `miami:weather`, `private:*`, `flood:N`) and
//! Absinthe's GraphQL control channel (`__absinthe__:control`), for
//! trying the REPL out and for tests. A second socket, `/gql/websocket`
//! (and `/gql/longpoll`), routes only `__absinthe__:*`, as apps that give
//! Absinthe a socket of its own do. A third, `/live/websocket` (and
//! `/live/longpoll`), routes LiveView's `lv:*` for the LiveView pages served
//! over plain HTTP at `/counter`, `/chat`, `/demo`, `/login` and
//! `/private` (`live/`; `GET /` lists them),
//! in LiveView 1.1's format or, with `serve --liveview 0.20`, 0.20's.
//!
//! This file owns the public API ([`spawn`], [`run`]), the accept loop and
//! the dispatch of each new connection to the WebSocket or the long-poll
//! transport. Only `crate::core` is shared with the client.
//!
//! # Layout
//!
//! Dependencies inside `server/` point one way: each file imports only the
//! ones listed before it, and nothing imports this one.
//!
//! - `flood.rs`: a `flood:N` flood and the text of its pushes. Pure.
//! - `presence.rs`: who is tracked on which `room:*` topic, and the
//!   presence payloads.
//! - `connect.rs`: what a connect must carry (path, `vsn`, connect params,
//!   Origin, auth token), for both transports. Pure.
//! - `http.rs`: plain HTTP request heads (`httparse`) and responses.
//! - `stream.rs`: the byte stream, plain TCP or TLS.
//! - `live/` (uses `http`, `stream`, and `connect` for query params): the
//!   LiveView pages: their HTTP answers, tokens, trees and diffs, and the
//!   views a `/live` connection runs. Its module doc lists how it differs
//!   from real LiveView.
//! - `graphql/`: the recogniser of the demo schema's GraphQL documents
//!   (`parse.rs` lexes and parses, `mod.rs` checks against the schema),
//!   and Absinthe-shaped errors for anything else. Pure.
//! - `absinthe.rs` (uses `graphql`): the control channel's answers, the
//!   `subscription:data` frames and subscription ids. Pure.
//! - `routes.rs` (uses `absinthe`, `connect`, `flood`, `graphql`, `live`):
//!   what each client frame gets back; `lv:*` frames go to `live/`. Pure
//!   but for the LiveViews' shared state.
//! - `registry.rs`: how a broadcast reaches a topic's other connections
//!   (their mailboxes, and the registry's flusher and tracker threads).
//! - `hub.rs` (uses `absinthe`, `connect`, `graphql`, `live`, `presence`,
//!   `registry`): what every connection shares, and the registry of
//!   GraphQL subscriptions.
//! - `handshake.rs` (uses `connect`, `http`, `live`, `stream`): the
//!   WebSocket upgrade; page requests are handed back for `live/`.
//! - `link.rs` (uses `registry`, `routes`, `stream`): the part of a
//!   connection other threads may write broadcasts into, behind its lock.
//! - `peer.rs` (uses `connect`, `flood`, `hub`, `link`, `live`,
//!   `registry`, `routes`, `stream`): one WebSocket connection's thread,
//!   from the upgrade to the close, including the LiveViews' ticks and chat
//!   notices.
//! - `longpoll.rs` (uses `connect`, `http`, `hub`, `peer`, `stream`): the
//!   long-poll transport, bridged onto `peer.rs`.
//!
//! # Where this server differs from Phoenix
//!
//! It is a stand-in for a Phoenix app, built to make the client's paths
//! easy to reach and its transcripts exact. Facts about Phoenix are from
//! docs/PROTOCOL.md; what follows is everything known to differ, and why.
//!
//! The app (channels a real app would define its own way):
//!
//! - **Demo channels.** `room:*` answers test events: `echo` (reply with
//!   the payload), `shout`/`new_msg` (broadcast and no reply, as the
//!   guide's chat channel: `{:noreply, socket}`), `slow` (reply after
//!   `ms`), `fail` (error reply), `connect_info`, `noreply`, `stop`, `crash`
//!   and unknown events (`phx_error`), and fault injection (`kick`,
//!   `mute_heartbeats`, `stall`, `restart`). Where the recorded app has
//!   the same events its answers differ only in content: the `room:*` join
//!   reply is `{"joined": topic}` (the app adds the join's `params`),
//!   `slow` replies with its payload (the app with `{"slept": ms}`) and
//!   `stop` with `{}` (the app with `{"stopping": true}`). As a channel
//!   process handles one message at a time, what a channel answers while
//!   a `slow` reply is pending goes out after it; heartbeats, which the
//!   socket answers, do not wait. `miami:weather` takes
//!   `report_emergency` as in the guide's client example, `private:*`
//!   always refuses the join (`unauthorized`), and `flood:N` pushes N
//!   messages, for the benchmark and backpressure tests.
//! - **`flood:N`** pushes `msg {"i": i}` (with `"body"` when the join
//!   payload has a `body` string), then `done {"count": N}`, written only
//!   as fast as the client reads: a Phoenix channel would queue its pushes
//!   without bound. The flood stops when its channel instance goes.
//! - **After a join.** As in Phoenix, the join reply comes first and what
//!   an app's `handle_info(:after_join, …)` sends follows it (docs/PROTOCOL.md
//!   §3, "Order after a join"): for `room:*` the `presence_diff` broadcast
//!   of the join, then the `presence_state` push, the order of the recorded
//!   transcripts. Unlike the recorded app, `room:*` pushes no `welcome`
//!   message before them (an app's own choice; every transcript here would
//!   grow a line). On a duplicate join the new reply, then the old
//!   instance's `phx_close`, then the new instance's presence.
//! - **Presence.** `room:*` tracks each connection under its `user`
//!   connect param (or `user-<id>`), with metas that hold only a `phx_ref`
//!   of the form `P<n>` (no `online_at`, which the recorded app adds), so
//!   transcripts do not change from run to run. A leave's diff goes out
//!   from a thread of the registry after the connection is gone, as the
//!   tracker's does (docs/PROTOCOL.md §6). A join's diff is broadcast by
//!   the joining connection itself, before its `presence_state`: that
//!   fixes the order the recorded transcripts show, which Phoenix's
//!   separate broadcasting process only makes likely.
//! - **GraphQL.** `__absinthe__:control` speaks absinthe_phoenix's frames
//!   (docs/PROTOCOL.md §9) for a schema of query `hello(name)`, mutation
//!   `addMessage(room, body)` (ids `"1"`, `"2"`, … per server) and
//!   subscription `messageAdded(room)`, fed by mutations from any socket.
//!   It is no GraphQL engine: `graphql/` recognises these three fields
//!   (aliases, variables, literals, selections) and refuses anything else
//!   with Absinthe's wording where the transcripts show it, plus a note
//!   of what the schema knows. Subscription ids have Absinthe's shape
//!   with a per-server counter and a 64-bit hash instead of a unique
//!   integer and SHA-256 (clients treat them as opaque). Result keys are
//!   sorted, as Absinthe's Elixir maps come out, not in selection order.
//!   **The syntax-error bug is not copied**: in absinthe_phoenix 2.0 a
//!   document that fails to parse leaves the control channel without its
//!   PubSub, so its mutations publish nothing and its next subscribe
//!   crashes it. Here the channel keeps working, because the bug is an
//!   accident of that library, not a Phoenix behaviour worth rehearsing,
//!   and a client must survive the crash anyway (any `crash` shows that).
//! - **`connect/3`.** Any params are accepted except `token=bad`, which
//!   stands in for an app refusing them (403). `connect_info` exposes the
//!   auth token, the presence key and the `vsn`. The socket has no `id/1`,
//!   so a `"disconnect"` broadcast is not supported (Phoenix 1.8.8+ closes
//!   with 1001 on one, earlier versions with the adapter's default, 1000 on
//!   Cowboy). `kick` is not that: it stands for the connection process
//!   going down, and closes with 1011.
//!
//! The socket (where Phoenix itself would behave otherwise):
//!
//! - **Refusals have text bodies.** Phoenix answers a bad `vsn` or a
//!   refused connect with 403 and an empty body (docs/PROTOCOL.md §1); here the
//!   body says why. A path other than the socket's gets 404 with a hint
//!   (Phoenix's router would answer its own 404), and a request to the
//!   socket path that is no upgrade gets 400 with a text body.
//! - **Auth token.** An entry that is not standard Base64 gets 403 (Phoenix
//!   1.8.12 answers 500 for `-`/`_`), and a refused connect does not echo
//!   subprotocol `phoenix` (Phoenix does, docs/PROTOCOL.md §1).
//! - **`check_origin`** allows one origin, compared whole (scheme, host and
//!   port, any case, a trailing `/` ignored); Phoenix compares the host
//!   with `url[:host]` or a configured list.
//! - **Limits.** No limit on channels per connection (Phoenix: 100, then
//!   `too many channels joined`), and no join ever crashes (`join
//!   crashed`). Messages are capped at 64 MiB and frames at 16 MiB
//!   (tungstenite's defaults); Phoenix has no cap (docs/PROTOCOL.md §4).
//! - **Idle timeout.** 60 s as in Phoenix, but settable (`--idle-timeout`),
//!   and the close is ours: code 1000, reason `idle timeout` (Phoenix
//!   leaves the close to the HTTP adapter). A client has 10 s to send its
//!   upgrade request.
//! - **An undecodable frame** closes the connection with 1011 and reason
//!   `undecodable frame`; Phoenix's connection process crashes and the
//!   adapter closes it.
//! - **`restart`** closes every connection with 1012, as a Phoenix node
//!   shutting down does, but without sending `phx_drain` first, and drops
//!   new connections before the handshake while down. It also rotates the
//!   LiveView signing secret, as a redeploy with a new `secret_key_base`
//!   does, so LiveView sessions and cookies issued before it are `stale`.
//! - **Versions.** Where Phoenix versions differ this server follows
//!   1.8.12. A message with a stale join_ref is dropped silently and a
//!   null join_ref accepted (1.7, as in the recorded transcripts, delivers
//!   both; 1.8.3–1.8.11 drop null too); `phx_error` carries
//!   `{"reason":"channel_crash"}` as from 1.8.10 (`{}` before, as in the
//!   transcripts). The auth token follows 1.8 (1.7 has none).
//!
//! The LiveView pages (`live/`): see `live/mod.rs`, "Where this differs
//! from real LiveView" (no template engine, JSON token payloads that
//! never expire, only `event` handled on `lv:` topics, one chat room per
//! server, no assets).
//!
//! `tests/integration/phoenix_frames.rs` plays the client frames of the
//! recorded Phoenix transcripts against this server over a socket and
//! checks that nothing differs but what is listed here.

//!
//! Long-poll (`longpoll.rs`):
//!
//! - **A bridge.** Each session is a WebSocket connection served by
//!   `peer.rs` over a loopback socket pair, so channels behave exactly as
//!   over WebSocket; the session pings that socket so its idle timeout does
//!   not end a session whose client sends no heartbeats.
//! - **Tokens** are `lp.<n>.<hex>`, neither signed nor aged as Phoenix's
//!   are (docs/PROTOCOL.md §4: 1 209 600 s); a session dies after 15 s unpolled
//!   as in Phoenix. The token is read from the `token` param only, not the
//!   `x-phoenix-longpoll-token` header of Phoenix 1.8.10+.
//! - **POST** is answered 200 at once, never 408; an NDJSON batch has no
//!   100-line limit; a body over 8 MiB, a malformed request or a line that
//!   is neither `[…]` nor Base64 gets `{"status":400}` where Phoenix
//!   raises. A body must come with `content-length`: a chunked one is
//!   read as empty.
//! - **Answers** always carry `"messages"` (a refused open is
//!   `{"status":403,"messages":[]}`, Phoenix sends `{"status":403}`), and
//!   every answer closes its HTTP connection.

mod absinthe;
mod connect;
mod flood;
mod graphql;
mod handshake;
mod http;
mod hub;
mod link;
mod live;
mod longpoll;
mod peer;
mod presence;
mod registry;
mod routes;
mod stream;

pub use connect::Policy;
pub use hub::Options;
pub use live::Format as LiveFormat;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use tungstenite::protocol::WebSocketConfig;

use handshake::Refused;
use hub::Server;
use longpoll::Sessions;
use stream::ServerStream;

/// The read buffer of each server socket (see `Endpoint::serve`).
const SERVER_READ_BUFFER: usize = 4 * 1024;

/// How many connections may wait to be accepted: the default of Thousand
/// Island, the TCP layer of Bandit that Phoenix apps serve with. The
/// standard library listens with 128, and a burst of clients beyond that
/// (phoenix.js opening a thousand sockets at once) had some of its SYNs
/// dropped and retried a second later.
const LISTEN_BACKLOG: i32 = 1024;

/// Listens on `listener` with [`LISTEN_BACKLOG`] (on Linux, listening
/// again only changes the backlog).
fn widen_backlog(listener: &TcpListener) -> io::Result<()> {
    socket2::SockRef::from(listener).listen(LISTEN_BACKLOG)
}

/// Starts serving `listener` on background threads and returns at once.
pub fn spawn(listener: TcpListener, options: Options) -> io::Result<SocketAddr> {
    widen_backlog(&listener)?;
    let addr = listener.local_addr()?;
    let endpoint = Endpoint::new(options);
    thread::Builder::new()
        .name("phx-server-accept".to_owned())
        .spawn(move || {
            if let Err(e) = endpoint.accept_loop(&listener) {
                endpoint.server.log(format_args!("stopped accepting: {e}"));
            }
        })?;
    Ok(addr)
}

/// Serves `listener` on the calling thread, forever.
pub fn run(listener: TcpListener, options: Options) -> io::Result<()> {
    widen_backlog(&listener)?;
    Endpoint::new(options).accept_loop(&listener)
}

/// The socket's two transports and the state they share.
#[derive(Clone)]
struct Endpoint {
    server: Arc<Server>,
    longpoll: Arc<Sessions>,
}

impl Endpoint {
    fn new(options: Options) -> Endpoint {
        Endpoint {
            server: Arc::new(Server::new(options)),
            longpoll: Arc::new(Sessions::default()),
        }
    }

    /// Accepts connections until the listener fails for good, one thread each.
    fn accept_loop(&self, listener: &TcpListener) -> io::Result<()> {
        let server = &self.server;
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                // Not a listening socket: nothing will ever be accepted.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
                Err(e) => {
                    // Aborted handshakes and running out of descriptors or
                    // memory pass; the pause keeps the latter from spinning
                    // the CPU.
                    server.log(format_args!("accept failed: {e}"));
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                    ) {
                        thread::sleep(Duration::from_millis(50));
                    }
                    continue;
                }
            };
            if server.is_down() {
                // Restarting: the connection is dropped before the handshake.
                server.log(format_args!("{peer} refused: restarting"));
                drop(stream);
                continue;
            }
            let id = server.next_conn.fetch_add(1, Ordering::Relaxed);
            let endpoint = self.clone();
            let started = thread::Builder::new()
                .name(format!("phx-conn-{id}"))
                .spawn(move || endpoint.serve(stream, peer, id));
            if let Err(e) = started {
                server.log(format_args!("{peer} dropped: cannot start a thread: {e}"));
            }
        }
    }

    /// Serves one accepted TCP connection until it closes: a WebSocket, or
    /// one long-poll request.
    fn serve(&self, stream: TcpStream, peer: SocketAddr, id: u64) {
        let server = &self.server;
        let stream = match ServerStream::new(stream, server.options.tls.as_ref()) {
            Ok(stream) => stream,
            Err(e) => {
                server.log(format_args!("{peer} TLS setup failed: {e}"));
                return;
            }
        };
        // Clients send small frames: tungstenite's default 128 KiB read
        // buffer is zeroed before every read, which cost the server more
        // than a tenth of its time in a 1,000-socket fan-out. A larger
        // frame still grows the buffer as it needs.
        let config = WebSocketConfig::default().read_buffer_size(SERVER_READ_BUFFER);
        match handshake::accept(stream, config, &server.options.policy) {
            Ok((ws, info)) => peer::serve_upgraded(ws, info, peer, id, server),
            Err(Refused::LongPoll { stream, head }) => {
                longpoll::answer(stream, &head, peer, server, &self.longpoll);
            }
            Err(Refused::Page { mut stream, head }) => {
                let line = live::page::answer(&mut stream, &head, &server.live);
                server.log(format_args!("{peer} {line}"));
            }
            Err(refused) => server.log(format_args!("{peer} {refused}")),
        }
    }
}

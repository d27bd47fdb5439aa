//! Many clients on the one network thread, through the library API
//! (`transport::net::start`, `Handle::open`, `Handle::send_to`) against the
//! built-in server in this process: each client's events follow its
//! marker, its refs are its own, one client's close, failure or stuck
//! connect leaves the others working.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use phx_repl::core::event::{ClientId, Event, ToNet};
use phx_repl::core::protocol::{Payload, Vsn};
use phx_repl::core::session::Request;
use phx_repl::server;
use phx_repl::transport::fresh::Fresh;
use phx_repl::transport::net::{self, Handle, Options, Target};
use phx_repl::transport::tls::Trust;
use serde_json::value::RawValue;

use super::support::DEADLINE;

/// The built-in server on a free loopback port; its socket URL.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = server::spawn(
        listener,
        server::Options {
            idle_timeout: Duration::from_secs(60),
            log: false,
            tls: None,
            policy: server::Policy::default(),
            liveview: server::LiveFormat::default(),
        },
    )
    .expect("spawn the server");
    format!("ws://{addr}/socket/websocket?vsn=2.0.0")
}

fn target(url: &str) -> Target {
    Target {
        url: url.parse().expect("url"),
        headers: Vec::new(),
        trust: Trust::default(),
        fresh: Fresh::default(),
    }
}

fn options(heartbeat: Option<Duration>, timeout: Duration) -> Options {
    Options {
        heartbeat,
        timeout,
        vsn: Vsn::V2,
        reconnect: false,
        retry: false,
        max_retries: None,
        count_messages: false,
    }
}

fn payload(json: &str) -> Payload {
    Payload::from(phx_repl::core::protocol::Json::from(
        RawValue::from_string(json.to_owned()).expect("json"),
    ))
}

fn join(id: u64, topic: &str) -> ToNet {
    ToNet::Request {
        id,
        request: Request::Join {
            topic: topic.into(),
            payload: payload("{}"),
        },
    }
}

fn push(id: u64, topic: &str, event: &str, json: &str) -> ToNet {
    ToNet::Request {
        id,
        request: Request::Push {
            topic: topic.into(),
            event: event.into(),
            payload: payload(json),
            cast: false,
        },
    }
}

/// The network thread and every event it reported, each with the client
/// its batch's markers say it is from.
struct Clients {
    handle: Handle,
    rx: Receiver<Vec<Event>>,
    seen: Vec<(ClientId, Instant, Event)>,
}

impl Clients {
    fn start(url: &str, options: Options) -> Clients {
        let (tx, rx) = mpsc::channel();
        let handle = net::start(target(url), options, move |batch| tx.send(batch).is_ok())
            .expect("start the network thread");
        Clients {
            handle,
            rx,
            seen: Vec::new(),
        }
    }

    /// Takes batches until `done` holds of an event; that event's index.
    fn until(&mut self, what: &str, mut done: impl FnMut(ClientId, &Event) -> bool) -> usize {
        if let Some(i) = self.seen.iter().position(|(c, _, e)| done(*c, e)) {
            return i;
        }
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let mut batch = match self.rx.recv_timeout(left) {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {DEADLINE:?}; seen: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the thread ended before {what}; seen: {:#?}", self.seen)
                }
            };
            let now = Instant::now();
            // Every batch begins as client 0's.
            let mut client = 0;
            let mut found = None;
            for event in batch.drain(..) {
                if let Event::Client(c) = event {
                    client = c;
                    continue;
                }
                if found.is_none() && done(client, &event) {
                    found = Some(self.seen.len());
                }
                self.seen.push((client, now, event));
            }
            self.handle.batch_done(batch);
            if let Some(i) = found {
                return i;
            }
        }
    }

    /// Waits for the reply to request `id` of `client`; its status and
    /// response.
    fn reply(&mut self, client: ClientId, id: u64) -> (String, String) {
        // The reply's ref is the one the request's `Sent` carried.
        let sent = self.until(&format!("client {client}'s request {id}"), |c, e| {
            c == client && matches!(e, Event::Sent { id: Some(i), .. } if *i == id)
        });
        let Event::Sent { frame, .. } = &self.seen[sent].2 else {
            unreachable!()
        };
        let ref_ = frame.ref_.clone();
        let i = self.until(&format!("client {client}'s reply to {id}"), |c, e| {
            c == client && matches!(e, Event::Reply(r) if r.frame.ref_ == ref_)
        });
        let Event::Reply(r) = &self.seen[i].2 else {
            unreachable!()
        };
        (
            r.status.clone().unwrap_or_default(),
            r.response
                .json()
                .map(ToString::to_string)
                .unwrap_or_default(),
        )
    }

    /// The refs of client `client`'s requests, in order.
    fn refs(&self, client: ClientId) -> Vec<String> {
        self.seen
            .iter()
            .filter(|(c, _, _)| *c == client)
            .filter_map(|(_, _, e)| match e {
                Event::Sent {
                    frame, auto: false, ..
                } => frame.ref_.as_ref().map(ToString::to_string),
                _ => None,
            })
            .collect()
    }

    fn events_of(&self, client: ClientId) -> Vec<&Event> {
        self.seen
            .iter()
            .filter(|(c, _, _)| *c == client)
            .map(|(_, _, e)| e)
            .collect()
    }
}

fn connected(client: ClientId) -> impl FnMut(ClientId, &Event) -> bool {
    move |c, e| c == client && matches!(e, Event::Connected)
}

#[test]
fn several_clients_join_and_push_with_their_events_marked_and_their_refs_their_own() {
    let url = server();
    let mut net = Clients::start(&url, options(None, Duration::from_secs(5)));
    for client in [1, 2] {
        assert!(
            net.handle
                .open(client, target(&url), options(None, Duration::from_secs(5)))
        );
    }
    for client in [0, 1, 2] {
        net.until("connected", connected(client));
    }
    // Interleaved, so the batches mix clients.
    for client in [0, 1, 2] {
        assert!(net.handle.send_to(client, join(1, "room:lobby")));
    }
    for client in [2, 1, 0] {
        let body = format!(r#"{{"from":{client}}}"#);
        assert!(
            net.handle
                .send_to(client, push(2, "room:lobby", "echo", &body))
        );
    }
    for client in [0, 1, 2] {
        let (status, _) = net.reply(client, 1);
        assert_eq!(status, "ok");
        let (status, response) = net.reply(client, 2);
        assert_eq!(status, "ok");
        assert_eq!(response, format!(r#"{{"from":{client}}}"#));
        // Each session numbers its own requests from 1.
        assert_eq!(net.refs(client), ["1", "2"], "client {client}");
    }
    net.handle.join();
}

#[test]
fn one_clients_close_leaves_the_others_working() {
    let url = server();
    let mut net = Clients::start(&url, options(None, Duration::from_secs(5)));
    net.handle
        .open(1, target(&url), options(None, Duration::from_secs(5)));
    net.handle
        .open(2, target(&url), options(None, Duration::from_secs(5)));
    for client in [0, 1, 2] {
        net.until("connected", connected(client));
        net.handle.send_to(client, join(1, "room:lobby"));
        assert_eq!(net.reply(client, 1).0, "ok");
    }
    net.handle.send_to(1, ToNet::Close);
    net.until("client 1 closed", |c, e| {
        c == 1 && matches!(e, Event::Closed { lost: false, .. })
    });
    for client in [0, 2] {
        net.handle
            .send_to(client, push(2, "room:lobby", "echo", "{}"));
        assert_eq!(net.reply(client, 2).0, "ok");
    }
    // A closed client answers no more work, and says so.
    net.handle.send_to(1, ToNet::Topics { id: 5 });
    let i = net.until("the rejection", |c, e| {
        c == 1 && matches!(e, Event::Rejected { id: 5, .. })
    });
    let Event::Rejected { message, .. } = &net.seen[i].2 else {
        unreachable!()
    };
    assert!(message.contains("closed"), "{message}");
    // Nothing of client 1 follows its `Closed` but that answer.
    let after: Vec<_> = net
        .events_of(1)
        .into_iter()
        .skip_while(|e| !matches!(e, Event::Closed { .. }))
        .skip(1)
        .collect();
    assert!(
        after.iter().all(|e| matches!(e, Event::Rejected { .. })),
        "{after:?}"
    );
    // So does a client that was never opened.
    net.handle.send_to(9, ToNet::Status { id: 6 });
    net.until("the rejection", |c, e| {
        c == 9 && matches!(e, Event::Rejected { id: 6, .. })
    });
    net.handle.join();
}

#[test]
fn a_client_stuck_in_the_upgrade_does_not_delay_another_clients_heartbeats() {
    let url = server();
    // Takes TCP connections and never answers the upgrade.
    let stuck = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stuck_url = format!(
        "ws://{}/socket/websocket?vsn=2.0.0",
        stuck.local_addr().unwrap()
    );
    let held = thread::spawn(move || {
        let mut kept: Vec<TcpStream> = Vec::new();
        if let Ok((s, _)) = stuck.accept() {
            kept.push(s);
        }
        thread::sleep(Duration::from_secs(3));
        drop(kept);
    });

    let beat = Duration::from_millis(50);
    let mut net = Clients::start(&url, options(Some(beat), Duration::from_secs(5)));
    net.until("connected", connected(0));
    let opened_at = Instant::now();
    net.handle
        .open(1, target(&stuck_url), options(None, Duration::from_secs(1)));
    let failed = net.until("the stuck client's failure", |c, e| {
        c == 1 && matches!(e, Event::ConnectFailed(_))
    });
    let (_, failed_at, Event::ConnectFailed(message)) = &net.seen[failed] else {
        unreachable!()
    };
    assert_eq!(
        message,
        "WebSocket handshake failed: the server did not answer the upgrade within 1 s; \
         is this a Phoenix socket endpoint? (--timeout sets the limit)"
    );
    assert!(
        failed_at.duration_since(opened_at) >= Duration::from_secs(1),
        "failed before its deadline"
    );
    // Client 0's heartbeats were answered all along: no gap near the
    // second that client 1 spent connecting.
    let beats: Vec<Instant> = net
        .seen
        .iter()
        .filter(|(c, at, e)| {
            *c == 0
                && *at >= opened_at
                && *at <= *failed_at
                && matches!(e, Event::Reply(r) if r.auto)
        })
        .map(|(_, at, _)| *at)
        .collect();
    assert!(beats.len() >= 5, "only {} heartbeat replies", beats.len());
    let gap = beats
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    assert!(gap < Duration::from_millis(700), "a gap of {gap:?}");
    net.handle.join();
    held.join().unwrap();
}

#[test]
fn a_client_to_a_refused_port_reports_it_while_the_others_go_on() {
    let url = server();
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut net = Clients::start(&url, options(None, Duration::from_secs(5)));
    net.until("connected", connected(0));
    net.handle.open(
        1,
        target(&format!("ws://{addr}/socket/websocket?vsn=2.0.0")),
        options(None, Duration::from_secs(5)),
    );
    net.handle
        .open(2, target(&url), options(None, Duration::from_secs(5)));
    let i = net.until("the refusal", |c, e| {
        c == 1 && matches!(e, Event::ConnectFailed(_))
    });
    let Event::ConnectFailed(message) = &net.seen[i].2 else {
        unreachable!()
    };
    assert_eq!(
        message,
        &format!(
            "connection refused by {addr}; is the server running (`mix phx.server`) on that port?"
        )
    );
    net.until("connected", connected(2));
    for client in [0, 2] {
        net.handle.send_to(client, join(1, "room:lobby"));
        assert_eq!(net.reply(client, 1).0, "ok");
    }
    net.handle.join();
}

#[test]
fn a_flood_paused_by_a_slow_front_end_resumes_when_it_catches_up() {
    let url = server();
    let (tx, rx) = mpsc::channel();
    // No heartbeat: nothing but the front end's credits can wake the
    // network thread once the flood is all sent.
    let handle = net::start(
        target(&url),
        options(None, Duration::from_secs(5)),
        move |batch| tx.send(batch).is_ok(),
    )
    .expect("start the network thread");
    handle.send(join(1, "flood:20000"));
    let end = Instant::now() + DEADLINE;
    let mut held = std::collections::VecDeque::new();
    let mut messages = 0;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let mut batch = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the flood stopped after {messages} messages"));
        let mut done = false;
        for e in &batch {
            if let Event::Messages(pack) = e {
                messages += pack.len();
                done |= pack.iter().any(|v| v.event == "done");
            }
        }
        if done {
            break;
        }
        batch.clear();
        // Every credit stays taken until the server has sent what the
        // socket buffers take; then one goes back. Reading pauses after
        // each batch, and each resume must read and hand over the rest,
        // down to the flood's last frames.
        held.push_back(batch);
        if held.len() == 4 {
            thread::sleep(Duration::from_millis(20));
            handle.batch_done(held.pop_front().expect("held"));
        }
    }
    assert_eq!(messages, 20_001, "every push and the done");
    handle.join();
}

//! One client of the network thread, as a small state machine: waiting
//! before an attempt, fetching credentials, connecting, open, or done. Its
//! connection (`conn.rs`: the session, timers, commands held offline)
//! outlives each socket.
//!
//! The loop (`net/mod.rs`) calls in only when the client has something to
//! do: its socket is ready, a helper thread woke it, its deadline passed,
//! or a command came for it. Each call does what is due without blocking,
//! then caches the client's next deadline, so a client with nothing to do
//! costs the loop a comparison.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polling::{PollMode, Poller};
use tungstenite::protocol::WebSocketConfig;

use super::conn::{Conn, Ending, Link};
use super::flow::Flow;
use super::reconnect::{self, Next, Schedule, tries};
use super::{Options, Target};
use crate::core::event::{ClientId, Event, ToNet};
use crate::transport::dial::{Dest, Dial, Progress, Wake};
use crate::transport::fresh::{self, Running};
use crate::transport::longpoll;
use crate::transport::websocket::{Socket, tcp_of};

/// What a client needs from the loop while it is served.
pub(super) struct Cx<'a> {
    pub(super) poller: &'a Arc<Poller>,
    pub(super) flow: &'a mut Flow,
    /// Where helper threads say whom they woke.
    pub(super) woken: &'a Arc<Mutex<Vec<ClientId>>>,
}

/// Where a client is.
enum State {
    /// Until the next attempt (now, for the first).
    Waiting(Instant),
    /// The credential commands of `--param-cmd`/`--auth-token-cmd` run.
    Fetching(Fetch),
    /// Boxed: the handshake state is large and short-lived.
    Connecting(Box<Dial>),
    /// Boxed: moving the state in and out stays cheap.
    Open(Box<Link>),
    /// Its last event is out.
    Done,
}

/// The credential commands of one attempt.
struct Fetch {
    running: Vec<Running>,
    values: Vec<Option<String>>,
    until: Instant,
}

/// One client.
pub(super) struct Client {
    id: ClientId,
    pub(super) conn: Conn,
    target: Target,
    /// Buffer sizes for its WebSocket; `None`: tungstenite's defaults.
    config: Option<WebSocketConfig>,
    state: State,
    /// What the open socket is watched for: (readable, writable).
    watching: Option<(bool, bool)>,
    /// When it next has something to do, as of its last call.
    pub(super) deadline: Option<Instant>,
    /// Frames may be waiting in its socket or in tungstenite's buffer,
    /// where readiness cannot see them (the last read stopped at a full
    /// batch, or was skipped while paused).
    pub(super) unread: bool,
    /// In the loop's list of clients to serve this turn.
    pub(super) queued: bool,
}

/// What follows a socket that ended or an attempt that failed: the pure
/// part of the decision, over the reconnect schedule.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum After {
    /// No reconnect: the client ends.
    Finish,
    Next(Next),
}

/// Decides what follows; `again` is whether a reconnect may follow at all.
pub(super) fn after(
    schedule: &mut Schedule,
    by_client: bool,
    error: Option<String>,
    now: Instant,
) -> (bool, After) {
    let again = schedule.again(by_client);
    schedule.down();
    if !again {
        return (false, After::Finish);
    }
    (true, After::Next(schedule.next(error, now)))
}

/// The earliest of some instants.
pub(super) fn earliest(times: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    times.into_iter().flatten().min()
}

impl Client {
    pub(super) fn new(
        id: ClientId,
        target: Target,
        options: Options,
        config: Option<WebSocketConfig>,
    ) -> Client {
        let now = Instant::now();
        Client {
            id,
            conn: Conn::new(options),
            target,
            config,
            state: State::Waiting(now),
            watching: None,
            deadline: Some(now),
            unread: false,
            queued: false,
        }
    }

    pub(super) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Its socket is open and not closing: worth spinning for its next
    /// command.
    pub(super) fn serving(&self) -> bool {
        matches!(&self.state, State::Open(link) if link.closing.is_none())
    }

    /// Reading resumed: its open socket is not watched for reading, or
    /// frames may wait where readiness cannot see them.
    pub(super) fn to_read(&self) -> bool {
        matches!(self.state, State::Open(_))
            && (self.unread || self.watching.is_some_and(|(r, _)| !r))
    }

    /// Carries out one command from the front end. The loop serves the
    /// client afterwards, which sends what the command wrote.
    pub(super) fn command(&mut self, msg: ToNet, cx: &mut Cx<'_>) {
        cx.flow.serve(self.id);
        if let ToNet::Retarget { url, headers } = msg {
            return self.retarget(url, headers, cx);
        }
        match (&mut self.state, msg) {
            (State::Done, msg) => {
                if let Some(e) = reconnect::reject(msg, "the connection is closed") {
                    cx.flow.push(e);
                }
            }
            (State::Open(link), ToNet::Close) => {
                if link.closing.is_none() {
                    link.close();
                }
            }
            (State::Open(link), msg) if link.closing.is_some() => {
                if let Some(e) = reconnect::reject(msg, "the connection is closing") {
                    cx.flow.push(e);
                }
            }
            (State::Open(link), msg) => {
                if let Err(ending) = self.conn.command(&mut link.ws, msg, cx.flow) {
                    self.lost(ending, cx, Instant::now());
                }
            }
            (_, ToNet::Close) => {
                if let State::Connecting(dial) = std::mem::replace(&mut self.state, State::Done) {
                    dial.cancel(cx.poller);
                }
                self.finish(Ending::closed_by_client(), false, cx.flow);
            }
            (_, msg) => self.conn.command_offline(msg, cx.flow),
        }
    }

    /// Connects to `url` with `headers` from the next attempt on; an open
    /// socket is dropped as lost, so the usual reconnect (and its
    /// backoff) follows. An attempt under way finishes with the old ones.
    fn retarget(&mut self, url: url::Url, headers: Vec<(String, String)>, cx: &mut Cx<'_>) {
        self.target.url = url;
        self.target.headers = headers;
        if matches!(&self.state, State::Open(link) if link.closing.is_none()) {
            let why = "reconnecting with the page's new session".to_owned();
            self.lost(Ending::lost(why), cx, Instant::now());
        }
    }

    /// Does what is due now, then caches the next deadline.
    pub(super) fn serve(&mut self, cx: &mut Cx<'_>) {
        cx.flow.serve(self.id);
        let now = Instant::now();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Waiting(at) => {
                self.offline(cx, now);
                if now >= at {
                    self.attempt(cx, now);
                } else {
                    self.state = State::Waiting(at);
                }
            }
            State::Fetching(fetch) => {
                self.offline(cx, now);
                self.fetching(fetch, cx, now);
            }
            State::Connecting(dial) => {
                self.offline(cx, now);
                self.connecting(dial, cx, now);
            }
            State::Open(link) => self.serve_open(link, cx, now),
            State::Done => {}
        }
        self.refresh(cx.flow.paused());
    }

    /// Recomputes the cached deadline (after a call, or when reading is
    /// paused or resumed: reply timeouts do not run while paused).
    pub(super) fn refresh(&mut self, paused: bool) {
        let at = match &self.state {
            State::Open(link) => {
                self.deadline = self.conn.deadline(link, paused);
                return;
            }
            State::Done => {
                self.deadline = None;
                self.unread = false;
                return;
            }
            State::Waiting(at) => Some(*at),
            State::Fetching(f) => Some(f.until),
            State::Connecting(d) => d.deadline(),
        };
        self.unread = false;
        self.deadline = earliest([
            at,
            self.conn.offline.next_deadline(),
            // Pushes held for a topic give up on time, offline too.
            self.conn.session.next_deadline(),
        ]);
    }

    /// Reading stopped for every client: a backlog being read turns into
    /// the pause, and a heartbeat reply may sit unread.
    pub(super) fn pause_began(&mut self) {
        if let Some(since) = self.conn.backlog.take() {
            self.conn.session.postpone(since.elapsed());
        }
        self.conn.paused_since_beat = true;
        self.refresh(true);
    }

    /// Reading resumed after `paused`, which reply timeouts do not count.
    pub(super) fn resumed(&mut self, paused: Duration) {
        self.conn.session.postpone(paused);
        self.refresh(false);
    }

    /// The thread is ending: its socket leaves the poller.
    pub(super) fn abandon(&mut self, poller: &Poller) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Connecting(dial) => dial.cancel(poller),
            State::Open(link) => self.unwatch(&link, poller),
            _ => {}
        }
    }

    /// Between sockets: drops held commands past their deadline.
    fn offline(&mut self, cx: &mut Cx<'_>, now: Instant) {
        self.conn.expire_offline(now, cx.flow);
        let _ = self.conn.settle(None, cx.flow);
    }

    /// One attempt: fresh credentials first, if any, then the socket.
    fn attempt(&mut self, cx: &mut Cx<'_>, now: Instant) {
        let sources = &self.target.fresh.sources;
        if sources.is_empty() {
            let url = self.target.url.clone();
            let headers = self.target.headers.clone();
            return self.dial(&url, &headers, cx, now);
        }
        let mut running = Vec::with_capacity(sources.len());
        for source in sources {
            let wake = self.wake(cx);
            match source.start(move || wake.wake()) {
                Ok(run) => running.push(run),
                // Kills those already started.
                Err(e) => return self.failed(e.to_string(), cx, now),
            }
        }
        let fetch = Fetch {
            values: vec![None; running.len()],
            running,
            until: now + self.conn.options.timeout,
        };
        self.state = State::Fetching(fetch);
    }

    fn wake(&self, cx: &Cx<'_>) -> Wake {
        Wake {
            poller: Arc::clone(cx.poller),
            woken: Arc::clone(cx.woken),
            client: self.id,
        }
    }

    /// Collects what the credential commands have answered; dials once all
    /// have. A command that failed, or that is still running at the
    /// deadline, fails the attempt (and the others are killed).
    fn fetching(&mut self, mut fetch: Fetch, cx: &mut Cx<'_>, now: Instant) {
        let sources = &self.target.fresh.sources;
        for (i, run) in fetch.running.iter().enumerate() {
            if fetch.values[i].is_none() {
                match run.poll() {
                    Some(Ok(v)) => fetch.values[i] = Some(v),
                    Some(Err(e)) => return self.failed(e.to_string(), cx, now),
                    None => {}
                }
            }
        }
        if fetch.values.iter().all(Option::is_some) {
            let values: Vec<_> = sources
                .iter()
                .zip(fetch.values)
                .map(|(s, v)| (s.slot.clone(), v.unwrap_or_default()))
                .collect();
            // Learnt before anything can print them.
            fresh::learn(&mut self.target.fresh.redactor.clone(), &values);
            let (url, headers) = fresh::apply(&self.target.url, &self.target.headers, &values);
            return self.dial(&url, &headers, cx, now);
        }
        if now >= fetch.until {
            let timeout = self.conn.options.timeout;
            let late = sources.iter().zip(&fetch.values).find(|(_, v)| v.is_none());
            let e = late.map_or(sources[0].timed_out(timeout), |(s, _)| s.timed_out(timeout));
            return self.failed(e.to_string(), cx, now);
        }
        self.state = State::Fetching(fetch);
    }

    fn dial(
        &mut self,
        url: &url::Url,
        headers: &[(String, String)],
        cx: &mut Cx<'_>,
        now: Instant,
    ) {
        let dest = Dest {
            url,
            headers,
            trust: &self.target.trust,
        };
        let timeout = self.conn.options.timeout;
        match Dial::start(&dest, timeout, self.config, self.wake(cx), cx.poller) {
            Ok(dial) => self.connecting(Box::new(dial), cx, now),
            Err(e) => self.failed(e, cx, now),
        }
    }

    fn connecting(&mut self, mut dial: Box<Dial>, cx: &mut Cx<'_>, now: Instant) {
        match dial.advance(cx.poller, now) {
            Progress::Pending => self.state = State::Connecting(dial),
            Progress::Open(ws) => self.opened(*ws, cx, now),
            Progress::Failed(e) => self.failed(e, cx, now),
        }
    }

    /// A socket opened: what was typed while offline goes first, then the
    /// rejoins.
    fn opened(&mut self, ws: Socket, cx: &mut Cx<'_>, now: Instant) {
        self.conn.schedule.up(now);
        cx.flow.push(Event::Connected);
        self.conn.session.reconnected(now);
        let link = Box::new(Link::new(ws, self.conn.options.heartbeat));
        let Some(tcp) = tcp_of(&link.ws) else {
            return self.after(
                Ending::lost("unsupported stream".into()),
                true,
                None,
                cx,
                now,
            );
        };
        let key = self.id as usize;
        // SAFETY: the socket leaves the poller (`unwatch`) before the link
        // holding it is dropped.
        let added = unsafe {
            cx.poller
                .add_with_mode(tcp, polling::Event::readable(key), PollMode::Level)
        };
        if let Err(e) = added {
            let ending = Ending::lost(format!("cannot watch the socket: {e}"));
            return self.after(ending, true, None, cx, now);
        }
        self.watching = Some((true, false));
        self.state = State::Open(link);
        let State::Open(link) = &mut self.state else {
            unreachable!("just set")
        };
        match self.conn.opened(link, cx.flow) {
            Ok(()) => {
                let State::Open(link) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!("just set")
                };
                self.serve_open(link, cx, now);
            }
            Err(ending) => self.lost(ending, cx, now),
        }
    }

    /// Serves the open socket: what was written goes out, a batch is read,
    /// the timers run.
    fn serve_open(&mut self, mut link: Box<Link>, cx: &mut Cx<'_>, now: Instant) {
        match self.serve_link(&mut link, cx, now) {
            Ok(()) => self.state = State::Open(link),
            Err(ending) => {
                self.state = State::Open(link);
                self.lost(ending, cx, now);
            }
        }
    }

    fn serve_link(&mut self, link: &mut Link, cx: &mut Cx<'_>, now: Instant) -> Result<(), Ending> {
        let want_write = link.flush()?;
        let read = self.conn.read(link, cx.flow)?;
        // A heartbeat that went out ends the timers' pass early: the rest
        // (rejoins, reply timeouts) runs in a second.
        if self.conn.timers(link, now, cx.flow)? {
            self.conn.timers(link, now, cx.flow)?;
        }
        // Frames written since the flush above (rejoins, requests released
        // by a join reply, a heartbeat) must go out before the loop blocks.
        let want_write = link.flush()? || want_write;
        let paused = cx.flow.paused();
        // While paused nothing is read, so frames may wait: the loop looks
        // again once reading resumes.
        self.unread = !read.drained;
        let wanted = (!paused, want_write);
        if self.watching != Some(wanted)
            && let Some(tcp) = tcp_of(&link.ws)
        {
            let interest = polling::Event::new(self.id as usize, wanted.0, wanted.1);
            if cx
                .poller
                .modify_with_mode(tcp, interest, PollMode::Level)
                .is_ok()
            {
                self.watching = Some(wanted);
            }
        }
        Ok(())
    }

    fn unwatch(&mut self, link: &Link, poller: &Poller) {
        if self.watching.take().is_some()
            && let Some(tcp) = tcp_of(&link.ws)
        {
            let _ = poller.delete(tcp);
        }
    }

    /// The open socket ended (the state holds it).
    fn lost(&mut self, mut ending: Ending, cx: &mut Cx<'_>, now: Instant) {
        if let State::Open(link) = std::mem::replace(&mut self.state, State::Done) {
            self.unwatch(&link, cx.poller);
        }
        if ending.code == Some(longpoll::CLOSE_ERROR)
            && longpoll::endpoint(&self.target.url).is_some()
        {
            // The long-poll bridge's code for a failed request, not the
            // server's: a lost connection.
            ending.code = None;
        }
        self.after(ending, true, None, cx, now);
    }

    /// An attempt failed: fatal for a first connection without `--retry`.
    fn failed(&mut self, e: String, cx: &mut Cx<'_>, now: Instant) {
        if !self.conn.schedule.opened && !self.conn.options.retry {
            cx.flow.push(Event::ConnectFailed(e));
            self.state = State::Done;
            return;
        }
        self.after(Ending::lost(e.clone()), false, Some(e), cx, now);
    }

    /// After a socket or an attempt: reconnect with the JS client's
    /// backoff (docs/PROTOCOL.md §5), or end.
    fn after(
        &mut self,
        ending: Ending,
        was_open: bool,
        error: Option<String>,
        cx: &mut Cx<'_>,
        now: Instant,
    ) {
        let (again, next) = after(&mut self.conn.schedule, ending.by_client, error, now);
        if was_open {
            self.disconnected(&ending, again, cx.flow);
        }
        match next {
            After::Finish => self.finish(ending, was_open, cx.flow),
            After::Next(Next::GiveUp { max, error }) => self.give_up(max, error, cx.flow),
            After::Next(Next::Retry {
                attempt,
                delay,
                error,
                repeated,
                first,
                at,
            }) => {
                cx.flow.push(Event::Reconnecting {
                    attempt,
                    delay,
                    error,
                    repeated,
                    first,
                });
                self.state = State::Waiting(at);
            }
        }
    }

    /// The open socket ended: said first, before the requests it left
    /// unanswered; when no reconnect follows, `Closed` ends it without a
    /// line.
    fn disconnected(&mut self, ending: &Ending, again: bool, flow: &mut Flow) {
        flow.push(Event::Disconnected {
            code: ending.code,
            reason: ending.reason.clone(),
            by_client: ending.by_client || ending.dead_peer,
        });
        self.conn.session.transport_closed(Instant::now());
        if !again {
            // No channel is coming back: "rejoins once reconnected" would
            // be untrue.
            self.conn.session.take_transitions();
        }
        let _ = self.conn.settle(None, flow);
    }

    /// The retry budget is spent: after an open connection, it ends; before
    /// one, the last error is fatal.
    fn give_up(&mut self, max: u32, error: Option<String>, flow: &mut Flow) {
        let tries = tries(max);
        if self.conn.schedule.opened {
            let ending = Ending::lost(format!("gave up after {max} reconnect {tries}"));
            self.finish(ending, false, flow);
        } else {
            let last = error.unwrap_or_default();
            flow.push(Event::ConnectFailed(format!(
                "{last} (gave up after {max} more {tries})"
            )));
            self.state = State::Done;
        }
    }

    /// Reports the end of the connection (its last event); `reported`
    /// when a `Disconnected` event already told how it ended.
    fn finish(&mut self, ending: Ending, reported: bool, flow: &mut Flow) {
        // Commands still held will never run.
        for msg in self.conn.offline.take() {
            if let Some(rejected) = reconnect::reject(msg, "the connection is closed") {
                flow.push(rejected);
            }
        }
        flow.push(Event::Closed {
            code: ending.code,
            reason: ending.reason,
            by_client: ending.by_client || ending.dead_peer,
            lost: !ending.by_client,
            reported,
        });
        self.state = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::core::protocol::Vsn;
    use crate::core::session::Request;
    use crate::transport::fresh::Fresh;
    use crate::transport::tls::Trust;

    /// A client that has not tried to connect yet (nothing here does
    /// I/O but for the poller itself), and what it reports.
    fn waiting() -> (Client, Arc<Poller>, Flow, Receiver) {
        let target = Target {
            url: "ws://127.0.0.1:9/socket/websocket".parse().unwrap(),
            headers: Vec::new(),
            trust: Trust::default(),
            fresh: Fresh::default(),
        };
        let options = Options {
            heartbeat: None,
            timeout: Duration::from_secs(5),
            vsn: Vsn::V2,
            reconnect: true,
            retry: true,
            max_retries: None,
            count_messages: false,
        };
        let (tx, rx) = mpsc::channel();
        let (flow, credits) = super::super::flow::channel(Box::new(move |b| tx.send(b).is_ok()));
        let client = Client::new(3, target, options, None);
        (
            client,
            Arc::new(Poller::new().unwrap()),
            flow,
            (rx, credits),
        )
    }

    /// The batches, and the credits that keep the flow open.
    type Receiver = (mpsc::Receiver<Vec<Event>>, super::super::flow::Credits);

    fn events(flow: &mut Flow, (rx, _): &Receiver) -> Vec<String> {
        flow.deliver_last();
        rx.try_iter()
            .flatten()
            .map(|e| {
                format!("{e:?}")
                    .chars()
                    .take_while(|c| c.is_alphanumeric())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn offline_work_is_held_and_a_close_before_any_socket_ends_the_client() {
        let (mut client, poller, mut flow, rx) = waiting();
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut cx = Cx {
            poller: &poller,
            flow: &mut flow,
            woken: &woken,
        };
        // Held for the socket, and said so, under the client's marker.
        let request = Request::Leave {
            topic: Some("room:1".into()),
        };
        client.command(ToNet::Request { id: 7, request }, &mut cx);
        client.command(ToNet::Close, &mut cx);
        assert!(client.done());
        client.refresh(false);
        assert_eq!(client.deadline, None, "a finished client has no deadline");
        // Work for a finished client is refused, not lost.
        client.command(ToNet::Topics { id: 8 }, &mut cx);
        assert_eq!(
            events(&mut flow, &rx),
            ["Client", "Queued", "Rejected", "Closed", "Rejected"]
        );
    }

    #[test]
    fn a_retarget_before_any_socket_changes_where_the_next_attempt_goes() {
        let (mut client, poller, mut flow, rx) = waiting();
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut cx = Cx {
            poller: &poller,
            flow: &mut flow,
            woken: &woken,
        };
        let url: url::Url = "ws://127.0.0.1:9/live/websocket?_csrf_token=T&vsn=2.0.0"
            .parse()
            .unwrap();
        let headers = vec![("Cookie".to_owned(), "_k=v".to_owned())];
        client.command(
            ToNet::Retarget {
                url: url.clone(),
                headers: headers.clone(),
            },
            &mut cx,
        );
        assert_eq!(
            (&client.target.url, &client.target.headers),
            (&url, &headers)
        );
        assert!(!client.done(), "no socket to drop: it still connects");
        assert!(events(&mut flow, &rx).is_empty(), "nothing to say");
    }

    #[test]
    fn a_new_client_is_due_at_once_and_has_no_socket_to_read() {
        let (client, _poller, _flow, _rx) = waiting();
        assert!(client.deadline.is_some_and(|d| d <= Instant::now()));
        assert!(!client.unread && !client.serving() && !client.to_read() && !client.done());
    }

    #[test]
    fn an_ending_the_client_asked_for_finishes_and_a_lost_one_retries() {
        let now = Instant::now();
        let mut s = Schedule::new(true, false, None, now);
        s.up(now);
        assert_eq!(after(&mut s, true, None, now), (false, After::Finish));

        let mut s = Schedule::new(true, false, None, now);
        s.up(now);
        let (again, next) = after(&mut s, false, None, now);
        assert!(again);
        match next {
            After::Next(Next::Retry { attempt, at, .. }) => {
                assert_eq!(attempt, 1);
                assert!(at > now);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_budget_of_one_gives_up_on_the_second_failure() {
        let now = Instant::now();
        let mut s = Schedule::new(true, true, Some(1), now);
        let first = after(&mut s, false, Some("refused".into()), now);
        assert!(matches!(first, (true, After::Next(Next::Retry { .. }))));
        let second = after(&mut s, false, Some("refused".into()), now);
        assert!(matches!(
            second,
            (true, After::Next(Next::GiveUp { max: 1, .. }))
        ));
    }

    #[test]
    fn the_earliest_deadline_ignores_those_not_set() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest([None, Some(later), Some(now), None]), Some(now));
        assert_eq!(earliest([None, None]), None);
    }
}

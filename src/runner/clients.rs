//! The clients of one session: `main` (or `--as NAME`) and those opened
//! with `connect NAME`, each a socket of its own on the one network thread.
//!
//! What the runner keeps per client (its connection's state, presence,
//! the replies it awaits, what `expect` checks and what `wait` may still
//! find) is a [`Peer`]. The runner works on one peer at a time, its own
//! `peer` field: before it handles a client's events or runs a command
//! for it, [`Runner::enter`] parks the current one here and takes that
//! client's out. So the code that handles events and commands is the
//! same with one client or many, and knows nothing of the others.
//!
//! Also here: names (`@NAME`, `use`), the line prefix that says whose
//! output a line is once more than one client was opened, and the
//! `clients` listing.

use std::collections::BTreeSet;

use colored::{Color, Colorize};

use super::Runner;
use super::checks::LastReply;
use super::link::Link;
use super::replies::Replies;
use crate::core::event::ClientId;
use crate::core::packed::Recent;
use crate::core::presence;

/// Messages kept for `wait` to find, at most (oldest dropped first).
const WAIT_MEMORY: usize = 10_000;
/// And at most this much of them (their text, plus an estimate of the
/// bookkeeping), so a flood of large frames keeps memory flat.
const WAIT_MEMORY_BYTES: usize = 256 * 1024;

/// Colours of the name prefixes, in the order clients are opened.
const COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Yellow,
    Color::Green,
    Color::Blue,
    Color::Red,
];

/// What the runner keeps for one client.
pub(super) struct Peer {
    pub link: Link,
    /// Who is present on each topic.
    pub presence: presence::Tracker,
    pub replies: Replies,
    /// What the latest request got, for `expect`.
    pub last_reply: Option<LastReply>,
    /// Messages not yet consumed by `wait`.
    pub recent: Recent,
    /// Topics joined or joining, for `clients`.
    pub topics: BTreeSet<String>,
    /// Marks in `recent` taken when the previous line and the current
    /// line began: a `refute` counts what was kept since the first.
    pub marks: (u64, u64),
    /// GraphQL subscriptions over this client's socket.
    pub gql: super::gql::Gql,
    /// What `let` reads: the last reply's response, or the payload the
    /// last `wait` matched (its JSON text), with what it was.
    pub last_value: Option<(String, String)>,
    /// A LiveView client's page and view (`runner::live`).
    pub live: Option<Box<super::live::Live>>,
}

impl Peer {
    pub fn new() -> Peer {
        Peer {
            link: Link::default(),
            presence: presence::Tracker::new(),
            replies: Replies::default(),
            last_reply: None,
            recent: Recent::new(WAIT_MEMORY, WAIT_MEMORY_BYTES),
            topics: BTreeSet::new(),
            marks: (0, 0),
            gql: super::gql::Gql::default(),
            last_value: None,
            live: None,
        }
    }
}

/// One client as the session knows it.
pub(super) struct Client {
    pub name: String,
    /// Its URL as shown (secrets redacted).
    pub shown_url: String,
    /// Its state while another client's is the runner's `peer`.
    parked: Option<Peer>,
    /// The `connect` line that opened it, for a recording started later.
    connect_line: Option<String>,
    /// Closed, and its name given to a newer client.
    retired: bool,
}

/// Every client opened in this session, by id (ids are indexes).
pub(super) struct Clients {
    list: Vec<Client>,
    /// The client whose state is the runner's `peer`.
    pub active: ClientId,
    /// The client that commands without `@NAME` go to (`use`).
    pub current: ClientId,
    /// More than one client was opened: lines carry the client's name.
    pub many: bool,
    /// The `connect` line running now (see `set_connect_line`).
    connect_line: Option<String>,
}

impl Clients {
    /// The first of `base`, `base2`, `base3`, … that names no open
    /// client.
    pub fn free_name(&self, base: &str) -> String {
        (1..)
            .map(|n| {
                if n == 1 {
                    base.to_owned()
                } else {
                    format!("{base}{n}")
                }
            })
            .find(|name| self.find(name).is_none())
            .expect("some name is free")
    }

    pub fn new(main: String, shown_url: String) -> Clients {
        Clients {
            list: vec![Client {
                name: main,
                shown_url,
                parked: None,
                connect_line: None,
                retired: false,
            }],
            active: 0,
            current: 0,
            many: false,
            connect_line: None,
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn get(&self, id: ClientId) -> &Client {
        &self.list[id as usize]
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list
            .iter()
            .filter(|c| !c.retired)
            .map(|c| c.name.as_str())
    }

    pub fn find(&self, name: &str) -> Option<ClientId> {
        self.list
            .iter()
            .position(|c| c.name == name && !c.retired)
            .map(|i| i as ClientId)
    }

    /// A closed client gives its name up to a new one.
    pub fn retire(&mut self, id: ClientId) {
        self.list[id as usize].retired = true;
    }

    /// Whether `id` is still listed (not retired).
    pub fn listed(&self, id: ClientId) -> bool {
        !self.list[id as usize].retired
    }

    /// Adds a client; its id.
    pub fn add(&mut self, name: String, shown_url: String) -> ClientId {
        self.list.push(Client {
            name,
            shown_url,
            parked: Some(Peer::new()),
            connect_line: self.connect_line.take(),
            retired: false,
        });
        self.many = true;
        (self.list.len() - 1) as ClientId
    }

    /// The `connect` line about to run, for the client it opens.
    /// A LiveView client moved to another page: `clients` shows it.
    pub fn set_shown_url(&mut self, id: ClientId, url: String) {
        self.list[id as usize].shown_url = url;
    }

    pub fn set_connect_line(&mut self, typed: &str) {
        self.connect_line = Some(typed.trim().to_owned());
    }

    /// "no client `bobb` (clients: main, bob); did you mean `bob`?"
    pub fn unknown(&self, name: &str) -> String {
        let names: Vec<String> = self.names().map(str::to_owned).collect();
        let mut text = format!("no client `{name}` (clients: {})", names.join(", "));
        if let Some(s) = crate::lang::command::closest(name, &names) {
            text.push_str(&format!("; did you mean `{s}`?"));
        }
        text
    }

    /// What starts each line of client `id`'s output, once there are
    /// several: its name in its colour (human), or the `client` field
    /// (`--json`, written into each record after its `{`).
    pub fn tag(&self, id: ClientId, json: bool) -> Option<Tag> {
        if !self.many {
            return None;
        }
        let name = &self.get(id).name;
        Some(if json {
            Tag::Field(format!("\"client\":\"{name}\","))
        } else {
            let width = self.list.iter().map(|c| c.name.len()).max().unwrap_or(0);
            let colour = COLOURS[id as usize % COLOURS.len()];
            let padded = format!("{name:<width$}");
            Tag::Prefix(format!("{} ", padded.color(colour).bold()))
        })
    }
}

/// How lines are marked with their client (see [`Clients::tag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tag {
    /// Put before each line.
    Prefix(String),
    /// Put after the first character (`{`) of each record.
    Field(String),
}

impl Tag {
    /// Marks each line of `buf` from byte `from` on.
    pub fn apply(&self, buf: &mut String, from: usize) {
        if from >= buf.len() {
            return;
        }
        let tail = buf.split_off(from);
        for line in tail.split_inclusive('\n') {
            match self {
                Tag::Prefix(p) => {
                    buf.push_str(p);
                    buf.push_str(line);
                }
                Tag::Field(f) if line.starts_with('{') => {
                    buf.push('{');
                    buf.push_str(f);
                    buf.push_str(&line[1..]);
                }
                Tag::Field(_) => buf.push_str(line),
            }
        }
    }
}

impl Runner {
    /// Makes client `id`'s state the runner's `peer` (parking the one
    /// there), and marks the lines written from now on as its.
    pub(super) fn enter(&mut self, id: ClientId) {
        if id != self.clients.active {
            let into = self.clients.list[id as usize]
                .parked
                .take()
                .unwrap_or_else(Peer::new);
            let out = std::mem::replace(&mut self.peer, into);
            self.clients.list[self.clients.active as usize].parked = Some(out);
            self.clients.active = id;
        }
        let tag = self.clients.tag(id, self.settings.style.json);
        self.screen.set_tag(tag);
    }

    /// Client `id`'s state, wherever it is.
    pub(super) fn peer_of(&self, id: ClientId) -> &Peer {
        if id == self.clients.active {
            &self.peer
        } else {
            self.clients.list[id as usize]
                .parked
                .as_ref()
                .expect("a client that is not active is parked")
        }
    }

    /// The `connect` lines of the clients still open, oldest first.
    pub(super) fn open_connect_lines(&self) -> Vec<String> {
        self.client_ids()
            .filter(|&id| !self.peer_of(id).link.ended)
            .filter_map(|id| self.clients.get(id).connect_line.clone())
            .collect()
    }

    /// A line begins: every client's marks move on (see `Peer::marks`),
    /// and every LiveView's kept states.
    pub(super) fn mark_line(&mut self) {
        let shift = |p: &mut Peer| {
            p.marks = (p.marks.1, p.recent.pushed());
            if let Some(l) = &mut p.live {
                let tree = l.tree.clone();
                l.history.mark(tree.as_ref());
            }
        };
        shift(&mut self.peer);
        for c in &mut self.clients.list {
            if let Some(p) = &mut c.parked {
                shift(p);
            }
        }
    }

    /// The ids of every client.
    pub(super) fn client_ids(&self) -> impl Iterator<Item = ClientId> + use<> {
        0..self.clients.len() as ClientId
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_goes_before_every_line_written_after_the_mark() {
        let mut buf = "old\n".to_owned();
        Tag::Prefix("bob ".into()).apply(&mut buf, 4);
        assert_eq!(buf, "old\n");
        buf.push_str("one\ntwo\n");
        Tag::Prefix("bob ".into()).apply(&mut buf, 4);
        assert_eq!(buf, "old\nbob one\nbob two\n");
    }

    #[test]
    fn a_field_goes_into_each_record() {
        let mut buf = "{\"type\":\"a\"}\n{\"type\":\"b\"}\n".to_owned();
        Tag::Field("\"client\":\"bob\",".into()).apply(&mut buf, 0);
        assert_eq!(
            buf,
            "{\"client\":\"bob\",\"type\":\"a\"}\n{\"client\":\"bob\",\"type\":\"b\"}\n"
        );
    }

    #[test]
    fn one_client_has_no_tag_and_an_unknown_name_gets_a_suggestion() {
        let mut c = Clients::new("main".into(), "ws://x".into());
        assert_eq!(c.tag(0, true), None);
        c.add("bob".into(), "ws://x".into());
        assert_eq!(
            c.tag(1, true),
            Some(Tag::Field("\"client\":\"bob\",".into()))
        );
        assert_eq!(
            c.unknown("bobb"),
            "no client `bobb` (clients: main, bob); did you mean `bob`?"
        );
        assert_eq!(c.find("bob"), Some(1));
    }
}

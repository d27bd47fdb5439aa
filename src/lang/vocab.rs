//! What tab completion knows and offers (pure).
//!
//! The runner sees every frame; it tells the prompt, through a channel, of
//! each topic and event the first time it appears and of joins and leaves
//! (`Word`). The prompt keeps them in a `Vocabulary`, and `candidates`
//! turns a half-typed line into completions: command names from the shared
//! command table (so new commands complete too), topics (joined ones
//! first, then the others seen), events seen on the topic plus the reserved
//! ones, and `@` file paths, which the prompt completes from the disk.

use std::collections::HashMap;

use crate::core::protocol::{PHX_CLOSE, PHX_ERROR, PHX_JOIN, PHX_LEAVE, PHX_REPLY};
use crate::lang::command::{COMMANDS, Switch};

/// Topics and events kept at most, so a server inventing names cannot
/// grow the prompt's memory without bound.
const MAX_TOPICS: usize = 1000;
const MAX_EVENTS_PER_TOPIC: usize = 200;

/// Events every channel knows.
pub const RESERVED_EVENTS: [&str; 5] = [PHX_JOIN, PHX_LEAVE, PHX_REPLY, PHX_ERROR, PHX_CLOSE];

/// News for the prompt's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A topic or an event on it was seen (sent or received).
    Seen { topic: String, event: String },
    /// A join was answered ok.
    Joined(String),
    /// The topic was left, closed or crashed.
    Left(String),
    /// A client was opened (`connect NAME`), or is the first one.
    Client(String),
    /// A GraphQL subscription's short name (`s1`) or NAME.
    Subscription(String),
    /// The events the current LiveView page shows (replacing the last
    /// page's).
    Page(PageWords),
}

/// What a LiveView page offers to complete: its events by kind, and each
/// form event's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageWords {
    pub clicks: Vec<String>,
    pub submits: Vec<(String, Vec<String>)>,
    pub changes: Vec<(String, Vec<String>)>,
    pub keys: Vec<String>,
}

/// What the prompt knows.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Joined topics, oldest first.
    joined: Vec<String>,
    /// Every topic seen, oldest first.
    seen: Vec<String>,
    events: HashMap<String, Vec<String>>,
    /// Client names, for `@NAME`, `use` and `disconnect`.
    clients: Vec<String>,
    /// GraphQL subscriptions' short names and NAMEs.
    subscriptions: Vec<String>,
    /// The current LiveView page's events.
    page: PageWords,
}

impl Vocabulary {
    pub fn learn(&mut self, word: Word) {
        match word {
            Word::Seen { topic, event } => {
                if !self.seen.contains(&topic) {
                    if self.seen.len() >= MAX_TOPICS {
                        return;
                    }
                    self.seen.push(topic.clone());
                }
                let events = self.events.entry(topic).or_default();
                if !events.contains(&event) && events.len() < MAX_EVENTS_PER_TOPIC {
                    events.push(event);
                }
            }
            Word::Joined(topic) => {
                if !self.joined.contains(&topic) {
                    self.joined.push(topic.clone());
                }
                if !self.seen.contains(&topic) && self.seen.len() < MAX_TOPICS {
                    self.seen.push(topic);
                }
            }
            Word::Left(topic) => self.joined.retain(|t| *t != topic),
            Word::Client(name) => {
                if !self.clients.contains(&name) {
                    self.clients.push(name);
                }
            }
            Word::Subscription(name) => {
                if !self.subscriptions.contains(&name) && self.subscriptions.len() < MAX_TOPICS {
                    self.subscriptions.push(name);
                }
            }
            Word::Page(page) => self.page = page,
        }
    }

    /// The page's form events of `command` (`submit`/`change`) and their
    /// fields.
    fn forms(&self, command: &str) -> &[(String, Vec<String>)] {
        if command == "submit" {
            &self.page.submits
        } else {
            &self.page.changes
        }
    }

    /// Topics starting with `prefix`: joined ones first, then the others.
    pub fn topics(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in self.joined.iter().chain(&self.seen) {
            if t.starts_with(prefix) && !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// Events seen on `topic` (on any topic for `*`), then the reserved
    /// ones, that start with `prefix`.
    pub fn events(&self, topic: &str, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let seen: Vec<&String> = if topic == "*" {
            self.seen
                .iter()
                .filter_map(|t| self.events.get(t))
                .flatten()
                .collect()
        } else {
            self.events.get(topic).into_iter().flatten().collect()
        };
        let reserved = RESERVED_EVENTS
            .iter()
            .map(|e| (*e).to_owned())
            .collect::<Vec<_>>();
        for e in seen.into_iter().chain(&reserved) {
            if e.starts_with(prefix) && !out.contains(e) {
                out.push(e.clone());
            }
        }
        out
    }
}

/// Completions for an argument of `command`; `done` holds the words before
/// the one being typed (`word`, which starts at `start`).
fn arguments(
    vocab: &Vocabulary,
    command: &str,
    done: &[&str],
    word: &str,
    start: usize,
) -> Completion {
    let words = |words: Vec<String>| Completion::Words { start, words };
    let fixed = |list: &[&str]| {
        words(
            list.iter()
                .filter(|w| w.starts_with(word))
                .map(|w| (*w).to_owned())
                .collect(),
        )
    };
    let topics = |wild: bool| {
        let mut t = vocab.topics(word);
        if wild && "*".starts_with(word) {
            t.push("*".to_owned());
        }
        words(t)
    };
    match (command, done.len()) {
        ("gql", 2) | ("wait" | "refute", 2) if done[1] == "unsubscribe" || done[1] == "gql" => {
            let mut s = starting(&vocab.subscriptions, word);
            if done[0] == "gql" && "all".starts_with(word) {
                s.push("all".to_owned());
            }
            words(s)
        }
        ("join" | "leave", 1) => topics(false),
        ("push" | "send" | "cast", 1) => topics(false),

        ("push" | "send" | "cast" | "wait" | "refute", 2) => {
            let mut e = vocab.events(done[1], word);
            if matches!(command, "wait" | "refute") && "*".starts_with(word) {
                e.push("*".to_owned());
            }
            words(e)
        }
        ("mute" | "unmute", 1) => {
            let mut all = vocab.topics(word);
            for e in vocab.events("*", word) {
                if !all.contains(&e) {
                    all.push(e);
                }
            }
            words(all)
        }
        ("gql", 1) => fixed(&[
            "unsubscribe",
            "resubscribe",
            "query",
            "mutation",
            "subscription",
        ]),
        ("wait" | "refute", 1) => {
            let mut t = vocab.topics(word);
            if "gql".starts_with(word) {
                t.push("gql".to_owned());
            }
            if "*".starts_with(word) {
                t.push("*".to_owned());
            }
            words(t)
        }
        ("use" | "disconnect", 1) => words(starting(&vocab.clients, word)),
        ("click", 1) => words(starting(&vocab.page.clicks, word)),
        ("key", 1) => words(starting(&vocab.page.keys, word)),
        ("submit" | "change", 1) => {
            let names: Vec<String> = vocab
                .forms(command)
                .iter()
                .map(|(n, _)| n.clone())
                .collect();
            words(starting(&names, word))
        }
        ("submit" | "change", _) => {
            let fields = vocab
                .forms(command)
                .iter()
                .find(|(n, _)| n == done[1])
                .map(|(_, f)| f.iter().map(|f| format!("{f}=")).collect::<Vec<_>>())
                .unwrap_or_default();
            words(starting(&fields, word))
        }
        ("help", 1) => fixed(&COMMANDS.iter().map(|c| c.name).collect::<Vec<_>>()),
        ("expect", 1) => fixed(&["ok", "error"]),
        ("display", 1) => fixed(&Switch::ALL.map(Switch::name)),
        ("display", 2) => fixed(&["on", "off"]),
        ("record", 1) => {
            if "stop".starts_with(word) && !word.is_empty() {
                fixed(&["stop"])
            } else {
                Completion::Path { start }
            }
        }
        _ => words(Vec::new()),
    }
}

/// The names in `list` that start with `prefix`, in order.
fn starting(list: &[String], prefix: &str) -> Vec<String> {
    list.iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

/// What to offer at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Replace the text from `start` to the cursor with one of `words`.
    Words { start: usize, words: Vec<String> },
    /// Complete a file path that starts at `start` (after an `@`).
    Path { start: usize },
}

/// Completions for `line` with the cursor at `pos`.
pub fn candidates(vocab: &Vocabulary, line: &str, pos: usize) -> Completion {
    let before = &line[..pos];
    let start = before.rfind(char::is_whitespace).map_or(0, |i| {
        i + before[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &before[start..];
    let mut done: Vec<&str> = before[..start].split_whitespace().collect();
    if done.first().is_some_and(|w| w.starts_with('@')) {
        // `@bob …` completes as the line after it.
        done.remove(0);
    } else if done.is_empty()
        && let Some(name) = word.strip_prefix('@')
    {
        let names = starting(&vocab.clients, name);
        return Completion::Words {
            start,
            words: names.into_iter().map(|c| format!("@{c}")).collect(),
        };
    }
    if word.starts_with('@') {
        // A payload file; `@@` (a binary file) too.
        let at = word.len() - word.trim_start_matches('@').len();
        return Completion::Path { start: start + at };
    }
    let words = |words: Vec<String>| Completion::Words { start, words };
    let Some(&command) = done.first() else {
        let mut names: Vec<String> = COMMANDS
            .iter()
            .map(|c| c.name.to_owned())
            .filter(|n| n.starts_with(word))
            .collect();
        names.sort();
        return words(names);
    };
    arguments(vocab, command, &done, word, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_events_and_a_forms_fields_complete() {
        let mut v = Vocabulary::default();
        v.learn(Word::Page(PageWords {
            clicks: vec!["inc".into(), "dec".into()],
            submits: vec![("set".into(), vec!["value".into()])],
            changes: vec![],
            keys: vec![],
        }));
        let got = |line: &str| match candidates(&v, line, line.len()) {
            Completion::Words { words, .. } => words,
            other => panic!("{other:?}"),
        };
        assert_eq!(got("click d"), vec!["dec"]);
        assert_eq!(got("submit "), vec!["set"]);
        assert_eq!(got("submit set va"), vec!["value="]);
        assert_eq!(got("submit set value=1 "), vec!["value="]);
        assert!(got("change set ").is_empty());
    }

    fn vocab() -> Vocabulary {
        let mut v = Vocabulary::default();
        let seen = |t: &str, e: &str| Word::Seen {
            topic: t.into(),
            event: e.into(),
        };
        v.learn(seen("room:old", "phx_join"));
        v.learn(seen("room:lobby", "phx_join"));
        v.learn(seen("room:lobby", "shout"));
        v.learn(seen("room:lobby", "new_msg"));
        v.learn(Word::Joined("room:lobby".into()));
        v.learn(seen("rooms:x", "hello"));
        v
    }

    fn words(line: &str) -> Vec<String> {
        match candidates(&vocab(), line, line.len()) {
            Completion::Words { words, .. } => words,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_names_complete_after_at_and_use() {
        let mut v = vocab();
        v.learn(Word::Client("main".into()));
        v.learn(Word::Client("bob".into()));
        let got = |line: &str| match candidates(&v, line, line.len()) {
            Completion::Words { words, .. } => words,
            other => panic!("{other:?}"),
        };
        assert_eq!(got("@b"), vec!["@bob"]);
        assert_eq!(got("use m"), vec!["main"]);
        assert_eq!(got("disconnect "), vec!["main", "bob"]);
        // After `@bob`, the rest completes as a line of its own.
        assert_eq!(got("@bob jo"), vec!["join"]);
        assert_eq!(got("@bob join room:o"), vec!["room:old"]);
    }

    #[test]
    fn the_first_word_completes_to_command_names() {
        assert_eq!(words("jo"), vec!["join"]);
        assert_eq!(words("ex"), vec!["expect"]);
        assert!(words("").len() >= COMMANDS.len());
    }

    #[test]
    fn topics_come_joined_first_then_seen() {
        assert_eq!(
            words("push room"),
            vec!["room:lobby", "room:old", "rooms:x"]
        );
        assert_eq!(words("join room:o"), vec!["room:old"]);
        assert_eq!(
            words("wait "),
            vec!["room:lobby", "room:old", "rooms:x", "gql", "*"]
        );
    }

    #[test]
    fn a_left_topic_is_no_longer_first() {
        let mut v = vocab();
        v.learn(Word::Left("room:lobby".into()));
        assert_eq!(v.topics("room:"), vec!["room:old", "room:lobby"]);
    }

    #[test]
    fn events_are_those_seen_on_the_topic_then_reserved_ones() {
        assert_eq!(
            words("push room:lobby "),
            vec![
                "phx_join",
                "shout",
                "new_msg",
                "phx_leave",
                "phx_reply",
                "phx_error",
                "phx_close"
            ]
        );
        assert_eq!(words("push room:lobby sh"), vec!["shout"]);
        assert_eq!(words("cast room:lobby sh"), vec!["shout"]);
        assert_eq!(words("cast room:o"), vec!["room:old"]);
        assert_eq!(words("ca"), vec!["cast"]);
        assert_eq!(words("wait * he"), vec!["hello"]);
        assert_eq!(words("push room:none phx_l"), vec!["phx_leave"]);
    }

    #[test]
    fn fixed_arguments_complete() {
        assert_eq!(words("expect e"), vec!["error"]);
        assert_eq!(words("display p"), vec!["pretty"]);
        assert_eq!(words("display raw o"), vec!["on", "off"]);
        assert_eq!(words("help pu"), vec!["push"]);
        assert_eq!(words("mute sh"), vec!["shout"]);
    }

    #[test]
    fn at_signs_complete_file_paths() {
        assert_eq!(
            candidates(&vocab(), "push t e @pay", 13),
            Completion::Path { start: 10 }
        );
        assert_eq!(
            candidates(&vocab(), "push t e @@pay", 14),
            Completion::Path { start: 11 }
        );
        assert_eq!(
            candidates(&vocab(), "record sm", 9),
            Completion::Path { start: 7 }
        );
    }

    #[test]
    fn completion_stops_after_the_known_arguments() {
        assert_eq!(words("push room:lobby shout bo"), Vec::<String>::new());
    }

    #[test]
    fn memory_is_bounded() {
        let mut v = Vocabulary::default();
        for i in 0..MAX_TOPICS + 10 {
            v.learn(Word::Seen {
                topic: format!("t{i}"),
                event: "e".into(),
            });
        }
        assert_eq!(v.topics("t").len(), MAX_TOPICS);
    }
}

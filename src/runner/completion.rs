//! The completion feed: the topics and events the runner sees, sent to the
//! prompt's tab completion (see `vocab`), each pair once.
//!
//! Only the prompt completes, so in a script nothing is sent. What the
//! words are for, and how they are completed, is `lang::vocab`'s.

use std::collections::{HashMap, HashSet};

use super::{Mode, Runner};
use crate::core::event::Event;
use crate::core::protocol::{Frame, PHOENIX_TOPIC, PHX_JOIN, PHX_LEAVE};
use crate::core::session::MessageKind;
use crate::lang::vocab::Word;

/// Pairs told, at most: a server inventing names stops being heard.
const MAX_PAIRS: usize = 100_000;

/// The (topic, event) pairs already told to the prompt.
#[derive(Debug, Default)]
pub(super) struct Told {
    events: HashMap<String, HashSet<String>>,
    pairs: usize,
}

impl Told {
    pub fn has(&self, topic: &str, event: &str) -> bool {
        self.events
            .get(topic)
            .is_some_and(|events| events.contains(event))
    }

    /// Notes a pair: true if it is new and there is still room to tell it.
    fn note(&mut self, topic: &str, event: &str) -> bool {
        if self.pairs >= MAX_PAIRS || self.has(topic, event) {
            return false;
        }
        self.events
            .entry(topic.to_owned())
            .or_default()
            .insert(event.to_owned());
        self.pairs += 1;
        true
    }
}

impl Runner {
    /// Tells the prompt's completion about topics and events.
    pub(super) fn tell(&mut self, word: Word) {
        let Mode::Interactive { words, .. } = &self.settings.mode else {
            return;
        };
        if let Word::Seen { topic, event } = &word
            && !self.told.note(topic, event)
        {
            return;
        }
        let _ = words.send(word);
    }

    /// Feeds tab completion from a frame.
    pub(super) fn learn(&mut self, ev: &Event) {
        // Only the prompt completes; a flood repeats the same pair, which
        // is looked up without copying it.
        if !self.interactive() {
            return;
        }
        let seen = |f: &Frame| Word::Seen {
            topic: f.topic.to_string(),
            event: f.event.to_string(),
        };
        match ev {
            Event::Sent {
                frame, auto: false, ..
            } if frame.topic != PHOENIX_TOPIC => self.tell(seen(frame)),
            Event::Reply(r) if !r.auto => match r.request.as_deref() {
                Some(PHX_JOIN) if !r.is_error() => {
                    self.tell(Word::Joined(r.frame.topic.to_string()));
                }
                Some(PHX_LEAVE) => {
                    self.tell(Word::Left(r.frame.topic.to_string()));
                }
                _ => {}
            },
            Event::Message(m) => {
                if !self.told.has(&m.frame.topic, &m.frame.event) {
                    self.tell(seen(&m.frame));
                }
                if !m.stale && matches!(m.kind, MessageKind::Error | MessageKind::Close { .. }) {
                    self.tell(Word::Left(m.frame.topic.to_string()));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_is_told_once() {
        let mut t = Told::default();
        assert!(t.note("room:a", "shout"));
        assert!(!t.note("room:a", "shout"));
        assert!(t.note("room:a", "other"));
        assert!(t.note("room:b", "shout"));
        assert!(t.has("room:b", "shout"));
        assert!(!t.has("room:b", "other"));
    }

    #[test]
    fn a_server_inventing_names_stops_being_heard() {
        let mut t = Told {
            pairs: MAX_PAIRS - 1,
            ..Told::default()
        };
        assert!(t.note("room:a", "e1"));
        assert!(!t.note("room:a", "e2"));
        assert!(!t.has("room:a", "e2"));
    }
}

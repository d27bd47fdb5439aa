//! `mute` and `unmute`: events and topics whose messages are not shown,
//! each with how many it hid.
//!
//! The muted names are the session's, shared by every client.
//! Muting only hides: a muted message is still kept for `wait`, recorded
//! and counted. JSON output is never muted.

use super::Runner;
use crate::core::event::Event;
use crate::output::Info;

/// The muted names (exact, or a prefix ending in `*`), in the order given.
#[derive(Debug, Default)]
pub(super) struct Mutes {
    names: Vec<(String, u64)>,
}

impl Mutes {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Mutes `name`, once.
    fn add(&mut self, name: String) {
        if !self.names.iter().any(|(m, _)| *m == name) {
            self.names.push((name, 0));
        }
    }

    /// Unmutes `name`: false if it was not muted.
    fn remove(&mut self, name: &str) -> bool {
        let before = self.names.len();
        self.names.retain(|(m, _)| *m != name);
        self.names.len() != before
    }

    /// `for every client: NAME (N hidden), …`, if anything is muted. The
    /// names are the session's, not one client's: `@main mute lv:*` hides
    /// every LiveView client's pushed changes, so the text says so.
    fn listed(&self) -> Option<String> {
        if self.names.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .names
            .iter()
            .map(|(m, hidden)| format!("{m} ({hidden} hidden)"))
            .collect();
        Some(format!("for every client: {}", list.join(", ")))
    }

    /// Whether a message on `topic` with `event` is hidden; counts it if so.
    fn hides(&mut self, topic: &str, event: &str) -> bool {
        for (name, hidden) in &mut self.names {
            let hit = match name.strip_suffix('*') {
                Some(prefix) => topic.starts_with(prefix) || event.starts_with(prefix),
                None => name == topic || name == event,
            };
            if hit {
                *hidden += 1;
                return true;
            }
        }
        false
    }
}

impl Runner {
    /// `mute NAME` adds a name; `mute` alone lists them.
    pub(super) fn mute(&mut self, name: Option<String>) {
        if let Some(n) = name {
            self.mutes.add(n);
        }
        let text = match self.mutes.listed() {
            None => "nothing is muted; `mute EVENT` or `mute TOPIC` hides such messages \
                     (`mute lv:*` a LiveView's pushed changes)"
                .to_owned(),
            Some(list) => format!("muted {list}"),
        };
        self.show_mutes(&text);
    }

    /// `unmute NAME` removes a name, `unmute` all of them; then says what
    /// it unmuted and what is still muted.
    pub(super) fn unmute(&mut self, name: Option<String>, line: usize) {
        let unmuted = match name {
            None => {
                let all: Vec<String> = self.mutes.names.drain(..).map(|(m, _)| m).collect();
                if all.is_empty() {
                    return self.mute(None);
                }
                all.join(", ")
            }
            Some(name) => {
                if !self.mutes.remove(&name) {
                    let msg = format!(
                        "`{}` is not muted; `mute` lists what is",
                        crate::output::excerpt(&name, 40)
                    );
                    self.error(&msg, self.line_label(line));
                    return;
                }
                name
            }
        };
        let text = match self.mutes.listed() {
            None => format!("unmuted {unmuted}"),
            Some(list) => format!("unmuted {unmuted}; still muted {list}"),
        };
        self.show_mutes(&text);
    }

    fn show_mutes(&mut self, text: &str) {
        let names: Vec<&str> = self.mutes.names.iter().map(|(m, _)| m.as_str()).collect();
        let mut s = std::mem::take(&mut self.screen.out);
        let muted = Info::Muted { muted: &names };
        self.settings.style.info(&muted, text, &mut s);
        self.screen.out = s;
    }

    /// Whether a message is hidden by `mute` (never in JSON output).
    pub(super) fn hidden(&mut self, ev: &Event) -> bool {
        if self.mutes.is_empty() || self.settings.style.json {
            return false;
        }
        let Event::Message(m) = ev else {
            return false;
        };
        self.mutes.hides(&m.frame.topic, &m.frame.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_mutes_its_topic_or_event_and_counts() {
        let mut m = Mutes::default();
        m.add("shout".to_owned());
        m.add("shout".to_owned());
        assert_eq!(m.names.len(), 1);
        assert!(m.hides("room:a", "shout"));
        assert!(m.hides("shout", "other"));
        assert!(!m.hides("room:a", "shouts"));
        assert_eq!(m.names[0].1, 2);
    }

    #[test]
    fn a_star_mutes_a_prefix() {
        let mut m = Mutes::default();
        m.add("room:*".to_owned());
        assert!(m.hides("room:a", "x"));
        assert!(!m.hides("lobby", "x"));
        m.add("presence_*".to_owned());
        assert!(m.hides("lobby", "presence_diff"));
    }

    #[test]
    fn the_list_says_it_is_every_clients() {
        let mut m = Mutes::default();
        assert_eq!(m.listed(), None);
        m.add("lv:*".to_owned());
        m.hides("lv:phx-x", "diff");
        assert_eq!(
            m.listed().as_deref(),
            Some("for every client: lv:* (1 hidden)")
        );
    }

    #[test]
    fn unmuting_says_whether_it_was_muted() {
        let mut m = Mutes::default();
        m.add("a".to_owned());
        assert!(!m.remove("b"));
        assert!(m.remove("a"));
        assert!(m.is_empty());
    }
}

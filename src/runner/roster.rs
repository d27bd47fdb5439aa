//! Presence as the runner shows it: following joins and presence
//! messages, printing who joined and left, and the `presence` command.
//!
//! The presence state and its rules (docs/PROTOCOL.md §6) are
//! `core::presence`'s; how an entry looks is `output`'s.

use super::Runner;
use crate::core::event::Event;
use crate::core::presence::{self, PRESENCE_DIFF, PRESENCE_STATE};
use crate::core::protocol::PHX_JOIN;
use crate::core::session::MessageKind;

impl Runner {
    /// Follows joins and presence messages (docs/PROTOCOL.md §6) and shows who
    /// joined and left, unless `quiet` (the message was muted).
    pub(super) fn track_presence(&mut self, ev: &Event, quiet: bool) {
        let applied = match ev {
            Event::Sent { frame, .. } if frame.event == PHX_JOIN => {
                self.peer
                    .presence
                    .joining(&frame.topic, frame.join_ref.as_deref());
                return;
            }
            Event::Message(m) if !m.stale && matches!(m.kind, MessageKind::Close { .. }) => {
                self.peer.presence.forget(&m.frame.topic);
                return;
            }
            Event::Message(m) if !m.stale => {
                let Some(payload) = m.frame.payload.json() else {
                    return;
                };
                match m.frame.event.as_str() {
                    PRESENCE_STATE => self.peer.presence.on_state(&m.frame.topic, payload.get()),
                    PRESENCE_DIFF => self
                        .peer
                        .presence
                        .on_diff(&m.frame.topic, payload.get())
                        .map(|a| a.into_iter().collect()),
                    _ => return,
                }
            }
            _ => return,
        };
        match applied {
            Ok(_) if quiet => {}
            Ok(applied) => {
                let mut s = std::mem::take(&mut self.screen.out);
                for a in &applied {
                    // People are not shown our own rejoin as a session that
                    // came and went (`+ ana (2 sessions)`, `- ana (1 session
                    // left)`): nothing changed for them, and the channel's
                    // own lines already say it rejoined. Records keep it all.
                    if self.settings.style.json || a.rejoined.is_empty() {
                        self.settings.style.presence(a, &mut s);
                    } else {
                        self.settings.style.presence(&a.without_rejoined(), &mut s);
                    }
                }
                self.screen.out = s;
            }
            Err(e) => self.error(&e.to_string(), None),
        }
    }

    /// The `presence` command.
    pub(super) fn show_presence(&mut self, topic: Option<&str>) {
        let lists: Vec<(&str, &presence::State)> = match topic {
            Some(t) => match self.peer.presence.list(t) {
                Some(state) => vec![(t, state)],
                None => {
                    let message = format!(
                        "no presence on `{t}` yet; it arrives as presence_state after a join{}",
                        match self.peer.presence.topics().first() {
                            Some(known) => format!(" (try `presence {known}`)"),
                            None => String::new(),
                        }
                    );
                    self.error(&message, None);
                    return;
                }
            },
            None => self
                .peer
                .presence
                .topics()
                .into_iter()
                .filter_map(|t| self.peer.presence.list(t).map(|s| (t, s)))
                .collect(),
        };
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.presence_list(&lists, &mut s);
        self.screen.out = s;
    }
}

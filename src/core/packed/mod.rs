//! Messages packed side by side: a flood's messages travel from the
//! network thread to the front end as [`Packed`] runs, their texts in one
//! string with a small record of where each part starts, so a message is
//! copied once, when it is read off the socket.
//!
//! The front end keeps the latest runs for `wait` as they are ([`Recent`],
//! in `recent.rs`), and frees a message with its run. Pure: no I/O.

use crate::core::protocol::View;
use crate::core::session::MessageKind;

mod recent;

pub use recent::Recent;

/// What the session calls a packed message: only pushes (with a join_ref)
/// and broadcasts (without) are packed.
pub fn kind(v: &View<'_>) -> MessageKind {
    if v.join_ref.is_some() {
        MessageKind::Push
    } else {
        MessageKind::Broadcast
    }
}

/// Messages in arrival order, their texts in one string.
#[derive(Debug, Default)]
pub struct Packed {
    text: String,
    entries: Vec<Entry>,
}

/// One message: its join_ref, ref, topic, event and payload lie back to
/// back in [`Packed::text`], from where the previous message ends to `end`,
/// except that a topic and event the same as the previous message's are
/// not stored again (a flood repeats them): `names` is where they are.
/// Sixteen bytes, so a batch of small messages stays small.
#[derive(Debug, Clone, Copy)]
struct Entry {
    end: u32,
    names: u32,
    topic: u16,
    event: u16,
    /// `NONE` for null.
    join_ref: u8,
    ref_: u8,
    /// Every byte of the message is printable ASCII (space to `~`).
    ascii: bool,
}

const NONE: u8 = u8::MAX;

impl Entry {
    fn join_ref_len(&self) -> usize {
        if self.join_ref == NONE {
            0
        } else {
            usize::from(self.join_ref)
        }
    }

    fn ref_len(&self) -> usize {
        if self.ref_ == NONE {
            0
        } else {
            usize::from(self.ref_)
        }
    }
}

impl Packed {
    pub fn with_capacity(messages: usize, bytes: usize) -> Packed {
        Packed {
            text: String::with_capacity(bytes),
            entries: Vec::with_capacity(messages),
        }
    }

    /// Appends a message; false (and nothing appended) when a part is too
    /// long to pack: a ref of 255 bytes or more, a topic or event of 64 KiB
    /// or more, or a pack over 4 GiB.
    pub fn push(&mut self, v: &View<'_>) -> bool {
        let ascii = [
            v.join_ref.unwrap_or(""),
            v.ref_.unwrap_or(""),
            v.topic,
            v.event,
            v.payload,
        ]
        .iter()
        .all(|s| crate::core::protocol::printable_ascii(s.as_bytes(), false));
        self.push_checked(v, ascii)
    }

    /// Whether a message's refs, topic and event are short enough to pack
    /// (what else [`Packed::push`] refuses is a pack over 4 GiB).
    pub fn fits(v: &View<'_>) -> bool {
        Self::lengths(v).is_some()
    }

    /// The refs' lengths (`NONE` for null), the topic's and the event's.
    fn lengths(v: &View<'_>) -> Option<(u8, u8, u16, u16)> {
        let short = |s: Option<&str>| match s {
            None => Some(NONE),
            Some(s) => u8::try_from(s.len()).ok().filter(|&n| n != NONE),
        };
        Some((
            short(v.join_ref)?,
            short(v.ref_)?,
            u16::try_from(v.topic.len()).ok()?,
            u16::try_from(v.event.len()).ok()?,
        ))
    }

    /// [`Packed::push`] for a message whose every part is printable ASCII
    /// (or not) as `ascii` says. The caller may know it from the frame's
    /// whole text, which is cheaper to scan than the parts once copied.
    pub fn push_checked(&mut self, v: &View<'_>, ascii: bool) -> bool {
        let Some((join_ref, ref_, topic, event)) = Self::lengths(v) else {
            return false;
        };
        let start = self.text.len();
        let shared = self.entries.last().and_then(|last| {
            let at = last.names as usize;
            let names = self.text.get(at..at + v.topic.len() + v.event.len())?;
            (last.topic == topic
                && last.event == event
                && names.get(..v.topic.len()) == Some(v.topic)
                && names.get(v.topic.len()..) == Some(v.event))
            .then_some(last.names)
        });
        let len = v.join_ref.map_or(0, str::len)
            + v.ref_.map_or(0, str::len)
            + if shared.is_some() {
                0
            } else {
                v.topic.len() + v.event.len()
            }
            + v.payload.len();
        let Ok(end) = u32::try_from(start + len) else {
            return false;
        };
        self.text.push_str(v.join_ref.unwrap_or(""));
        self.text.push_str(v.ref_.unwrap_or(""));
        let names = match shared {
            Some(at) => at,
            None => {
                let at = self.text.len() as u32;
                self.text.push_str(v.topic);
                self.text.push_str(v.event);
                at
            }
        };
        self.text.push_str(v.payload);
        self.entries.push(Entry {
            end,
            names,
            topic,
            event,
            join_ref,
            ref_,
            ascii,
        });
        debug_assert_eq!(self.get(self.len() - 1), *v);
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Empties it, keeping its room.
    pub fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
    }

    /// The bytes it has room for.
    pub fn capacity(&self) -> usize {
        self.text.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The bytes of its room in use.
    pub fn used(&self) -> usize {
        self.text.len() + self.entries.len() * std::mem::size_of::<Entry>()
    }

    /// Where message `i` starts in the text (the text's end for `len()`).
    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(prev) => self.entries[prev].end as usize,
            None => 0,
        }
    }

    /// Message `i` (panics if there is none).
    pub fn get(&self, i: usize) -> View<'_> {
        let e = self.entries[i];
        let start = self.start(i);
        let text = &self.text[..e.end as usize];
        // `push` wrote each part from a `&str` at the offsets it recorded,
        // so every range is within `text` and on char boundaries: the
        // checked slicing below never panics.
        let part = |from: usize, len: usize| &text[from..from + len];
        let (jr, rf) = (e.join_ref_len(), e.ref_len());
        let join_ref = (e.join_ref != NONE).then(|| part(start, jr));
        let ref_ = (e.ref_ != NONE).then(|| part(start + jr, rf));
        let names = e.names as usize;
        let (topic, event) = (usize::from(e.topic), usize::from(e.event));
        // The payload follows the names if they are this message's own.
        let mut payload = start + jr + rf;
        if names == payload {
            payload += topic + event;
        }
        View {
            join_ref,
            ref_,
            topic: part(names, topic),
            event: part(names + topic, event),
            payload: part(payload, e.end as usize - payload),
        }
    }

    /// Whether every byte of message `i` is printable ASCII: it then needs
    /// nothing made safe for a terminal.
    pub fn ascii(&self, i: usize) -> bool {
        self.entries[i].ascii
    }

    pub fn iter(&self) -> impl Iterator<Item = View<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn view<'a>(topic: &'a str, event: &'a str, payload: &'a str) -> View<'a> {
        View {
            join_ref: Some("1"),
            ref_: None,
            topic,
            event,
            payload,
        }
    }

    #[test]
    fn packed_gives_back_every_part_byte_for_byte() {
        let mut p = Packed::default();
        let a = View {
            join_ref: Some("12"),
            ref_: Some("345"),
            topic: "room:ä",
            event: "new_msg",
            payload: r#"{"body":"héllo \"x\""}"#,
        };
        let b = View {
            join_ref: None,
            ref_: None,
            topic: "t",
            event: "",
            payload: "[]",
        };
        let c = View {
            join_ref: Some(""),
            ref_: Some(""),
            topic: "",
            event: "e",
            payload: "null",
        };
        for v in [&a, &b, &c] {
            assert!(p.push(v));
        }
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(0), a);
        assert_eq!(p.get(1), b);
        assert_eq!(p.get(2), c);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![a, b, c]);
    }

    #[test]
    fn packed_refuses_a_ref_too_long_to_pack() {
        let mut p = Packed::default();
        let long = "r".repeat(70_000);
        let v = View {
            join_ref: Some(&long),
            ref_: None,
            topic: "t",
            event: "e",
            payload: "{}",
        };
        assert!(!p.push(&v));
        assert!(p.is_empty());
        assert_eq!(p.text_len(), 0);
        let max = "r".repeat(usize::from(NONE) - 1);
        let v = View {
            ref_: Some(&max),
            join_ref: None,
            ..v
        };
        assert!(p.push(&v));
        assert_eq!(p.get(0).ref_, Some(max.as_str()));
    }

    #[test]
    fn packed_refuses_a_topic_too_long_to_pack() {
        let mut p = Packed::default();
        let long = "t".repeat(70_000);
        assert!(!p.push(&view(&long, "e", "{}")));
        assert!(!p.push(&view("t", &long, "{}")));
        assert!(p.push(&view("t", "e", &format!("\"{long}\""))));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn packed_knows_which_messages_are_printable_ascii() {
        let mut p = Packed::default();
        p.push(&view("room:1", "msg", r#"{"a":"b c ~"}"#));
        p.push(&view("room:ä", "msg", "{}"));
        p.push(&view("room:1", "msg", "{\"a\":\"\u{7f}\"}"));
        p.push(&view("room:1", "m\u{202e}", "{}"));
        p.push(&View {
            join_ref: Some("é"),
            ..view("t", "e", "{}")
        });
        let ascii: Vec<bool> = (0..p.len()).map(|i| p.ascii(i)).collect();
        assert_eq!(ascii, [true, false, false, false, false]);
    }

    #[test]
    fn a_topic_and_event_like_the_previous_ones_are_stored_once() {
        let mut p = Packed::default();
        let msgs = [
            view("flood:1", "msg", r#"{"i":1}"#),
            view("flood:1", "msg", r#"{"i":2}"#),
            view("flood:1", "done", r#"{"i":3}"#),
            view("flood:1", "done", "4"),
            view("flood:2", "done", "5"),
            View {
                join_ref: None,
                ref_: Some("7"),
                ..view("flood:2", "done", "6")
            },
        ];
        for v in &msgs {
            assert!(p.push(v));
        }
        assert_eq!(p.iter().collect::<Vec<_>>(), msgs);
        // Names stored three times: for messages 1, 3 and 5.
        let payloads: usize = msgs.iter().map(|v| v.payload.len()).sum();
        let refs = 5 + 1;
        assert_eq!(
            p.text_len(),
            payloads + refs + 3 * "flood:1".len() + 3 + 4 + 4
        );
    }
}

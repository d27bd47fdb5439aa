//! Messages packed side by side, and the recent ones kept for `wait`.
//!
//! A flood's messages travel from the network thread to the front end as
//! [`Packed`] runs: their texts in one string, with a small record of where
//! each part starts. The front end keeps the latest of them for `wait`
//! ([`Recent`]) by keeping whole runs, so a flood's message is copied once,
//! when it is read off the socket, and freed with its run (the few messages
//! of a sparse run are copied instead). Pure: no I/O.

use std::collections::VecDeque;

use crate::core::protocol::View;
use crate::core::session::MessageKind;

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
        // SAFETY: `push` wrote each part from a `&str` at the offsets it
        // recorded, so every range below is in bounds (within `text`,
        // itself checked) and starts and ends on char boundaries.
        let part = |from: usize, len: usize| {
            debug_assert!(text.is_char_boundary(from) && text.is_char_boundary(from + len));
            unsafe { text.get_unchecked(from..from + len) }
        };
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

    /// What messages `from..to` count against [`Recent`]'s byte limit.
    fn cost(&self, from: usize, to: usize) -> usize {
        self.start(to) - self.start(from) + (to - from) * ENTRY_COST
    }
}

/// The bookkeeping counted per kept message.
const ENTRY_COST: usize = 32;

/// A run the front end packs its own messages into grows to about this
/// much before a new one starts, so old runs can be freed.
const RUN_BYTES: usize = 64 * 1024;

/// The latest messages, oldest first, for `wait` to find: at most
/// `max_len` of them and, beyond the newest, at most `max_bytes` of text
/// (plus a little bookkeeping per message). A message taken by a `wait`
/// is not found again.
#[derive(Debug)]
pub struct Recent {
    runs: VecDeque<Run>,
    /// Messages kept (not dropped, not taken) and what they count.
    len: usize,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
    /// A pack using less than its room divided by this is sparse, and its
    /// messages are copied (see `keep`).
    sparse: usize,
    /// The latest run freed, to hand back by `keep`.
    spent: Option<Packed>,
}

#[derive(Debug)]
struct Run {
    packed: Packed,
    /// Messages before this one are dropped.
    first: usize,
    /// Messages at or after `first` taken by a `wait`, ascending.
    taken: Vec<usize>,
    /// The messages kept (from `first`, not taken) and what they count.
    len: usize,
    bytes: usize,
}

impl Run {
    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (self.first..self.packed.len()).filter(|i| self.taken.binary_search(i).is_err())
    }
}

impl Recent {
    pub fn new(max_len: usize, max_bytes: usize) -> Recent {
        Recent {
            runs: VecDeque::new(),
            len: 0,
            bytes: 0,
            max_len,
            max_bytes,
            sparse: 8,
            spent: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps one message. Its refs are dropped if too long to pack (a
    /// `wait` does not look at them); a message whose topic or event is
    /// 64 KiB or longer is not kept.
    pub fn push(&mut self, v: &View<'_>) {
        let stripped;
        let v = if Packed::fits(v) {
            v
        } else {
            stripped = View {
                join_ref: None,
                ref_: None,
                ..*v
            };
            if !Packed::fits(&stripped) {
                return;
            }
            &stripped
        };
        let room = self
            .runs
            .back()
            .is_some_and(|r| r.packed.text_len() < RUN_BYTES);
        if !room {
            self.runs.push_back(Run {
                packed: Packed::with_capacity(64, 1024),
                first: 0,
                taken: Vec::new(),
                len: 0,
                bytes: 0,
            });
        }
        let Some(run) = self.runs.back_mut() else {
            return;
        };
        if !run.packed.push(v) {
            // Over 4 GiB: not kept.
            if run.packed.is_empty() {
                self.runs.pop_back();
            }
            return;
        }
        let cost = run.packed.cost(run.packed.len() - 1, run.packed.len());
        run.len += 1;
        run.bytes += cost;
        self.len += 1;
        self.bytes += cost;
        self.trim();
    }

    /// Keeps the messages of `pack`, all but the one at `taken` (which a
    /// `wait` has just taken). A pack is kept whole, without copying, and
    /// `pack` is left holding an empty one to pack into again (one spent
    /// here, if there is one). The few messages of a sparse pack (using
    /// under an eighth of its room) are copied instead, so a trickle does
    /// not keep a big pack per message, and `pack` is left as it was: what
    /// is kept has at most eight times the room the limits allow for.
    pub fn keep(&mut self, pack: &mut Packed, taken: Option<usize>) {
        let taken = taken.filter(|&i| i < pack.len());
        let kept = pack.len() - usize::from(taken.is_some());
        if kept == 0 {
            return;
        }
        if pack.used().saturating_mul(self.sparse) < pack.capacity() {
            for i in (0..pack.len()).filter(|&i| Some(i) != taken) {
                self.push(&pack.get(i));
            }
            return;
        }
        let spare = self.spent.take().map_or_else(Packed::default, |mut p| {
            p.clear();
            p
        });
        let packed = std::mem::replace(pack, spare);
        let bytes = packed.cost(0, packed.len()) - taken.map_or(0, |i| packed.cost(i, i + 1));
        self.len += kept;
        self.bytes += bytes;
        self.runs.push_back(Run {
            packed,
            first: 0,
            taken: taken.into_iter().collect(),
            len: kept,
            bytes,
        });
        self.trim();
    }

    /// Takes the oldest kept message `pick` accepts; false if none does.
    pub fn take_first(&mut self, mut pick: impl FnMut(&View<'_>) -> bool) -> bool {
        for (r, run) in self.runs.iter_mut().enumerate() {
            let found = run.live().find(|&i| pick(&run.packed.get(i)));
            if let Some(i) = found {
                let at = run.taken.binary_search(&i).unwrap_or_else(|at| at);
                run.taken.insert(at, i);
                let cost = run.packed.cost(i, i + 1);
                run.len -= 1;
                run.bytes -= cost;
                self.len -= 1;
                self.bytes -= cost;
                if run.len == 0 {
                    // Nothing left in it: freed now, wherever it is.
                    self.spent = self.runs.remove(r).map(|r| r.packed);
                }
                return true;
            }
        }
        false
    }

    /// The kept messages, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = View<'_>> {
        self.runs
            .iter()
            .flat_map(|run| run.live().map(move |i| run.packed.get(i)))
    }

    /// Drops the oldest messages while over a limit; the newest stays
    /// however large it is.
    fn trim(&mut self) {
        let (max_len, max_bytes) = (self.max_len, self.max_bytes);
        let over = |len: usize, bytes: usize| len > max_len || (bytes > max_bytes && len > 1);
        while over(self.len, self.bytes) {
            self.drop_spent();
            let Some(run) = self.runs.front_mut() else {
                break;
            };
            if let Some(&t) = run.taken.first()
                && t == run.first
            {
                // Taken by a wait: no longer counted.
                run.taken.remove(0);
                run.first += 1;
            } else {
                // Up to the next taken message (rare), the messages lie back
                // to back, so what dropping `first..k` leaves is known
                // without looking at each: find the least `k` that is enough.
                let end = run.taken.first().copied().unwrap_or(run.packed.len());
                let (first, len, bytes) = (run.first, self.len, self.bytes);
                let left = |k: usize| (len - (k - first), bytes - run.packed.cost(first, k));
                let (mut lo, mut hi) = (first + 1, end);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let (l, b) = left(mid);
                    if over(l, b) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                let (l, b) = left(lo);
                run.len -= len - l;
                run.bytes -= bytes - b;
                run.first = lo;
                self.len = l;
                self.bytes = b;
            }
        }
        self.drop_spent();
    }

    /// Frees runs at the front with nothing kept in them.
    fn drop_spent(&mut self) {
        while let Some(run) = self.runs.front_mut() {
            while run.taken.first() == Some(&run.first) {
                run.taken.remove(0);
                run.first += 1;
            }
            if run.first < run.packed.len() {
                break;
            }
            self.spent = self.runs.pop_front().map(|r| r.packed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(topic: &'a str, event: &'a str, payload: &'a str) -> View<'a> {
        View {
            join_ref: Some("1"),
            ref_: None,
            topic,
            event,
            payload,
        }
    }

    fn events(r: &Recent) -> Vec<String> {
        check(r);
        r.iter().map(|v| v.event.to_string()).collect()
    }

    /// The counts kept agree with the messages kept.
    fn check(r: &Recent) {
        let mut len = 0;
        let mut bytes = 0;
        for run in &r.runs {
            let live: Vec<usize> = run.live().collect();
            let run_bytes: usize = live.iter().map(|&i| run.packed.cost(i, i + 1)).sum();
            assert_eq!(run.len, live.len());
            assert_eq!(run.bytes, run_bytes);
            len += run.len;
            bytes += run_bytes;
        }
        assert_eq!(r.len, len);
        assert_eq!(r.bytes, bytes);
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

    #[test]
    fn recent_keeps_the_latest_by_count() {
        let mut r = Recent::new(3, usize::MAX);
        for e in ["a", "b", "c", "d", "e"] {
            r.push(&view("t", e, "{}"));
        }
        assert_eq!(events(&r), ["c", "d", "e"]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn recent_keeps_the_latest_by_bytes_but_always_the_newest() {
        let each = 1 + 1 + 1 + 2 + ENTRY_COST; // join_ref, topic, event, payload
        let mut r = Recent::new(100, 2 * each);
        for e in ["a", "b", "c"] {
            r.push(&view("t", e, "{}"));
        }
        assert_eq!(events(&r), ["b", "c"]);
        let huge = format!("\"{}\"", "x".repeat(10 * each));
        r.push(&view("t", "big", &huge));
        assert_eq!(events(&r), ["big"]);
        r.push(&view("t", "small", "{}"));
        assert_eq!(events(&r), ["small"]);
    }

    #[test]
    fn kept_runs_count_and_drop_like_single_messages() {
        let mut r = Recent::new(4, usize::MAX);
        r.push(&view("t", "a", "{}"));
        let mut p = Packed::default();
        for e in ["b", "c", "d", "e", "f"] {
            p.push(&view("t", e, "{}"));
        }
        // A wait took `d` as the run arrived.
        r.sparse = usize::MAX;
        r.keep(&mut p, Some(2));
        assert!(p.is_empty(), "kept whole, an empty pack given back");
        assert_eq!(events(&r), ["b", "c", "e", "f"]);
        assert_eq!(r.len(), 4);
        r.push(&view("t", "g", "{}"));
        r.push(&view("t", "h", "{}"));
        assert_eq!(events(&r), ["e", "f", "g", "h"]);
        // The run that held `a` is spent and freed; `g` and `h` joined the
        // kept one.
        assert_eq!(r.runs.len(), 1);
    }

    #[test]
    fn take_first_takes_the_oldest_match_once() {
        let mut r = Recent::new(10, usize::MAX);
        for (t, e) in [("x", "a"), ("y", "a"), ("x", "b"), ("x", "a")] {
            r.push(&view(t, e, "{}"));
        }
        assert!(r.take_first(|v| v.event == "a" && v.topic == "x"));
        assert_eq!(
            r.iter().map(|v| (v.topic, v.event)).collect::<Vec<_>>(),
            [("y", "a"), ("x", "b"), ("x", "a")]
        );
        assert!(r.take_first(|v| v.topic == "x" && v.event == "a"));
        assert!(!r.take_first(|v| v.topic == "x" && v.event == "a"));
        assert_eq!(r.len(), 2);
        assert!(r.take_first(|v| v.topic == "y"));
        assert!(r.take_first(|v| v.topic == "x"));
        assert!(r.is_empty());
        assert!(r.runs.is_empty());
    }

    #[test]
    fn runs_of_own_messages_are_freed_as_they_age() {
        let mut r = Recent::new(usize::MAX, 4 * RUN_BYTES);
        let payload = format!("\"{}\"", "p".repeat(1000));
        for _ in 0..10_000 {
            r.push(&view("t", "e", &payload));
        }
        // About 4 runs' worth is kept; older runs are gone.
        assert!(r.runs.len() <= 6, "{} runs", r.runs.len());
        assert!(r.bytes <= 4 * RUN_BYTES);
    }

    /// Against a plain list of messages with the same limits, over a long
    /// mix of single messages, runs (some with one taken) and takes.
    #[test]
    fn recent_agrees_with_a_plain_list() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (max_len, max_bytes) in [(7, usize::MAX), (usize::MAX, 900), (12, 700), (1, 1)] {
            let mut r = Recent::new(max_len, max_bytes);
            let mut model: std::collections::VecDeque<(String, usize)> = Default::default();
            // Each message has a topic of its own (the payload), so none
            // shares its topic and event with the one before.
            let cost = |p: &str| 1 + p.len() + 1 + p.len() + ENTRY_COST;
            let model_trim = |m: &mut std::collections::VecDeque<(String, usize)>| loop {
                let bytes: usize = m.iter().map(|x| x.1).sum();
                if m.len() > max_len || (bytes > max_bytes && m.len() > 1) {
                    m.pop_front();
                } else {
                    break;
                }
            };
            let mut n = 0;
            for _ in 0..3000 {
                match next(3) {
                    0 => {
                        n += 1;
                        let p = format!("{n}{}", "x".repeat(next(40) as usize));
                        r.push(&view(&p, "e", &p));
                        model.push_back((p.clone(), cost(&p)));
                        model_trim(&mut model);
                    }
                    1 => {
                        let mut pack = Packed::default();
                        let k = next(20) as usize;
                        let mut ps = Vec::new();
                        for _ in 0..k {
                            n += 1;
                            let p = format!("{n}{}", "y".repeat(next(40) as usize));
                            pack.push(&view(&p, "e", &p));
                            ps.push(p);
                        }
                        let taken = (k > 0 && next(2) == 0).then(|| next(k as u64) as usize);
                        // Kept whole or copied, at random.
                        r.sparse = if next(2) == 0 { 0 } else { usize::MAX };
                        r.keep(&mut pack, taken);
                        for (i, p) in ps.into_iter().enumerate() {
                            if Some(i) != taken {
                                let c = cost(&p);
                                model.push_back((p, c));
                            }
                        }
                        model_trim(&mut model);
                    }
                    _ => {
                        // Take one whose payload ends in a given digit.
                        let d = char::from(b'0' + next(10) as u8);
                        let pick = |p: &str| p.trim_end_matches(['x', 'y']).ends_with(d);
                        let found = r.take_first(|v| pick(v.payload));
                        let at = model.iter().position(|(p, _)| pick(p));
                        assert_eq!(found, at.is_some());
                        if let Some(i) = at {
                            model.remove(i);
                        }
                    }
                }
                check(&r);
                let kept: Vec<&str> = r.iter().map(|v| v.payload).collect();
                let want: Vec<&str> = model.iter().map(|(p, _)| p.as_str()).collect();
                assert_eq!(kept, want);
            }
        }
    }

    #[test]
    fn packs_a_wait_took_whole_are_not_kept() {
        let mut r = Recent::new(10, usize::MAX);
        r.sparse = usize::MAX;
        for _ in 0..1000 {
            let mut p = Packed::default();
            p.push(&view("t", "e", "{}"));
            r.keep(&mut p, Some(0));
            assert_eq!(p.len(), 1, "left with the caller, to reuse");
        }
        assert!(r.runs.is_empty());
        assert!(r.is_empty());
    }

    #[test]
    fn a_trickle_is_copied_not_kept_a_pack_per_message() {
        let mut r = Recent::new(usize::MAX, 1 << 20);
        for i in 0..10_000 {
            let mut p = Packed::with_capacity(4096, 64 * 1024);
            p.push(&view("t", "e", &i.to_string()));
            r.keep(&mut p, None);
            assert_eq!(p.len(), 1, "left with the caller, to reuse");
        }
        assert_eq!(r.len(), 10_000);
        let held: usize = r.runs.iter().map(|run| run.packed.capacity()).sum();
        assert!(held < 1 << 20, "{held} bytes held");
    }

    #[test]
    fn refs_too_long_to_pack_are_dropped_and_names_too_long_not_kept() {
        let mut r = Recent::new(2, usize::MAX);
        let long = "r".repeat(300);
        r.push(&View {
            ref_: Some(&long),
            ..view("t", "e", "1")
        });
        let huge = "t".repeat(70_000);
        r.push(&view(&huge, "e", "2"));
        assert_eq!(
            r.iter().map(|v| (v.ref_, v.payload)).collect::<Vec<_>>(),
            [(None, "1")]
        );
        // Over the limit afterwards: no empty run is in the way.
        r.sparse = usize::MAX;
        let mut p = Packed::default();
        for e in ["a", "b", "c"] {
            p.push(&view("t", e, "{}"));
        }
        r.keep(&mut p, None);
        assert_eq!(events(&r), ["b", "c"]);
    }

    #[test]
    fn a_run_emptied_by_waits_is_freed_wherever_it_is() {
        let mut r = Recent::new(usize::MAX, usize::MAX);
        r.sparse = usize::MAX;
        for e in ["a", "b", "c"] {
            let mut p = Packed::default();
            p.push(&view("t", e, "{}"));
            p.push(&view("t", e, "[]"));
            r.keep(&mut p, None);
        }
        assert!(r.take_first(|v| v.event == "b"));
        assert!(r.take_first(|v| v.event == "b"));
        assert_eq!(r.runs.len(), 2);
        assert_eq!(events(&r), ["a", "a", "c", "c"]);
    }
}

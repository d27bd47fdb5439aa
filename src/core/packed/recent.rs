//! The latest messages, kept for `wait` to find: [`Recent`].
//!
//! It keeps whole [`Packed`] runs as they arrived, so a flood's message is
//! not copied again and is freed with its run (the few messages of a sparse
//! run are copied instead), within limits on count and bytes. How a run
//! stores its messages is the parent's (`mod.rs`). Pure: no I/O.

use std::collections::VecDeque;

use super::Packed;
use crate::core::protocol::View;

/// The bookkeeping counted per kept message.
const ENTRY_COST: usize = 32;

impl Packed {
    /// What messages `from..to` count against [`Recent`]'s byte limit.
    fn cost(&self, from: usize, to: usize) -> usize {
        self.start(to) - self.start(from) + (to - from) * ENTRY_COST
    }
}

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
    /// Messages ever kept (see [`Recent::pushed`]).
    pushed: u64,
    /// The latest run freed, to hand back by `keep`.
    spent: Option<Packed>,
}

#[derive(Debug)]
struct Run {
    packed: Packed,
    /// The sequence number of the message at index 0 (see `Recent::pushed`).
    seq0: u64,
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
            pushed: 0,
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
                seq0: self.pushed,
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
        self.pushed += 1;
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
        let seq0 = self.pushed;
        self.pushed += packed.len() as u64;
        self.runs.push_back(Run {
            packed,
            seq0,
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

    /// How many messages were ever kept: the sequence number the next one
    /// gets. A mark taken now finds, with [`Recent::find_since`], only
    /// what is kept from now on.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The oldest message still kept (not taken) that was kept at or after
    /// the mark `seq` and that `pick` accepts.
    pub fn find_since(
        &self,
        seq: u64,
        mut pick: impl FnMut(&View<'_>) -> bool,
    ) -> Option<View<'_>> {
        self.runs
            .iter()
            .filter(|run| run.seq0 + run.packed.len() as u64 > seq)
            .flat_map(|run| {
                run.live()
                    .filter(move |&i| run.seq0 + i as u64 >= seq)
                    .map(move |i| run.packed.get(i))
            })
            .find(|v| pick(v))
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

    #[test]
    fn find_since_sees_only_what_was_kept_after_the_mark_and_not_taken() {
        let v = |e: &'static str| View {
            join_ref: None,
            ref_: None,
            topic: "t",
            event: e,
            payload: "{}",
        };
        let mut r = Recent::new(100, 1 << 20);
        r.push(&v("old"));
        let mark = r.pushed();
        r.push(&v("new"));
        r.push(&v("taken"));
        assert!(r.find_since(mark, |m| m.event == "old").is_none());
        assert!(r.find_since(mark, |m| m.event == "new").is_some());
        assert!(r.take_first(|m| m.event == "taken"));
        assert!(r.find_since(mark, |m| m.event == "taken").is_none());
        assert!(r.find_since(0, |m| m.event == "old").is_some());
    }
    use crate::core::packed::tests::view;

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

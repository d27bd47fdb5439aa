//! The network thread's side of the hand-over to the front end: the batch
//! of events being filled, the credits that bound how many batches are in
//! flight, and the spare vectors and packs that come back to be reused.
//!
//! This is loop state, not connection state: however many connections the
//! thread serves, there is one front end and one batch to it. Events of
//! clients other than the first follow an `Event::Client` marker, which
//! the flow inserts itself: the loop says whose events come next
//! ([`Flow::serve`]), and the marker goes in only when that client's
//! first event does, and only if the batch's current client differs. What a pause
//! means for a connection (its reply timeouts stop, its heartbeat cannot be
//! judged) is for the caller to apply; [`Flow::deliver`] says when one began
//! or ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::core::event::{ClientId, Event};
use crate::core::packed::Packed;
use crate::core::protocol::View;

/// Event batches handed over but not yet taken by the front end. When they
/// run out, the network thread stops reading the socket (the server then
/// sees backpressure) but keeps sending commands and heartbeats.
pub(super) const BATCHES_IN_FLIGHT: usize = 4;
/// Events a batch holds before reading stops until it is handed over.
pub(super) const BATCH_EVENTS: usize = 4096;
/// The text a new pack has room for.
const PACK_BYTES: usize = 64 * 1024;
/// Packs handed back bigger than this are freed, not kept for reuse.
const SPARE_PACK_BYTES: usize = 256 * 1024;
/// How long the echo of a request may wait for more events (usually its
/// reply) before it is handed over alone: a script's round trip then wakes
/// the front end once instead of twice. Short enough not to be seen at the
/// prompt.
const ECHO_HOLD: Duration = Duration::from_millis(1);

/// Where events go: called with each batch, false once nobody listens.
pub(super) type Emit = Box<dyn FnMut(Vec<Event>) -> bool + Send>;

/// The front end's half of the credits: it gives each batch back when it
/// has handled it.
pub(super) struct Credits {
    /// One token per batch handed over; taking one back frees a slot.
    taken: Receiver<()>,
    /// Set while the network thread waits for a free slot: only then does
    /// freeing one need to wake it.
    starved: Arc<AtomicBool>,
    /// Emptied batches going back to the network thread.
    spare: SyncSender<Vec<Event>>,
}

impl Credits {
    /// Frees the slot of one handled batch and gives the vector back. True
    /// when the network thread waits for that slot and must be woken.
    pub(super) fn batch_done(&self, handled: Vec<Event>) -> bool {
        let _ = self.spare.try_send(handled);
        self.taken.try_recv().is_ok() && self.starved.load(Ordering::SeqCst)
    }
}

/// What [`Flow::deliver`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    /// The batch went over (or there was none). `resumed`: a pause of that
    /// length ended, which reply timeouts must not count.
    Handed { resumed: Option<Duration> },
    /// Every slot is taken: the batch waits, and reading stops until a
    /// slot frees up. Said on every try while it lasts.
    Paused,
    /// Nobody listens any more.
    Closed,
}

/// The network thread's half.
pub(super) struct Flow {
    emit: Emit,
    /// Events not yet handed over.
    batch: Vec<Event>,
    credits: SyncSender<()>,
    /// Shared with `Credits`: we wait for a slot.
    starved: Arc<AtomicBool>,
    /// Emptied batches handed back by the front end, to reuse.
    spares: Receiver<Vec<Event>>,
    /// Packed messages handed back in spent batches, to pack into again.
    spare_packs: Vec<Packed>,
    /// Every batch slot is taken since this instant: stop reading until one
    /// frees up.
    paused: Option<Instant>,
    /// The batch holds only echoes of sent requests, waiting until then
    /// for company (see `ECHO_HOLD`).
    echo_held: Option<Instant>,
    /// Whose events the batch holds at its end (a batch begins with
    /// client 0's).
    current: ClientId,
    /// Whose events are pushed next.
    who: ClientId,
}

/// A new hand-over: the network thread's half and the front end's.
pub(super) fn channel(emit: Emit) -> (Flow, Credits) {
    let (credits, taken) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
    let starved = Arc::new(AtomicBool::new(false));
    let (spare, spares) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
    let flow = Flow {
        emit,
        batch: Vec::new(),
        credits,
        starved: Arc::clone(&starved),
        spares,
        spare_packs: Vec::new(),
        paused: None,
        echo_held: None,
        current: 0,
        who: 0,
    };
    (
        flow,
        Credits {
            taken,
            starved,
            spare,
        },
    )
}

impl Flow {
    /// The events pushed from now on are `client`'s.
    pub(super) fn serve(&mut self, client: ClientId) {
        self.who = client;
    }

    /// Adds an event to the batch.
    pub(super) fn push(&mut self, event: Event) {
        self.mark();
        self.batch.push(event);
    }

    /// Puts a marker in if the batch's current client is not the one
    /// whose event comes next.
    fn mark(&mut self) {
        if self.who != self.current {
            self.current = self.who;
            self.batch.push(Event::Client(self.who));
        }
    }

    /// The batch holds as many events as one should: with many clients
    /// each reading its own share, it would otherwise grow with their
    /// number. Reading stops until it is handed over.
    pub(super) fn full(&self) -> bool {
        self.batch.len() >= BATCH_EVENTS
    }

    /// Reading is paused: every slot is taken.
    pub(super) fn paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Adds a message to the open pack at the end of the batch, opening
    /// one if need be; false if it cannot be packed (then it goes in as an
    /// event of its own). `ascii`: every part is printable ASCII.
    pub(super) fn pack(&mut self, v: &View<'_>, ascii: bool, capacity: usize) -> bool {
        // A marker ends the open pack: a pack never mixes clients.
        self.mark();
        // A message that does not fit (very long refs or names) takes no
        // new pack; in an open one, `push_checked` refuses.
        if !matches!(self.batch.last(), Some(Event::Messages(_))) && Packed::fits(v) {
            // Sized for a full batch of small messages at once: growing
            // step by step would touch far more memory.
            let pack = self
                .spare_packs
                .pop()
                .unwrap_or_else(|| Packed::with_capacity(capacity, PACK_BYTES));
            self.batch.push(Event::Messages(Box::new(pack)));
        }
        match self.batch.last_mut() {
            Some(Event::Messages(pack)) => pack.push_checked(v, ascii),
            _ => false,
        }
    }

    /// Counts one broadcast at the end of the batch.
    pub(super) fn count(&mut self) {
        self.mark();
        match self.batch.last_mut() {
            Some(Event::Counted(n)) if *n < u32::MAX => *n += 1,
            _ => self.batch.push(Event::Counted(1)),
        }
    }

    /// While the batch holds nothing but echoes of sent requests, and for
    /// at most `ECHO_HOLD`, says until when to keep it back.
    pub(super) fn hold_echoes(&mut self, now: Instant) -> Option<Instant> {
        let only_echoes = !self.batch.is_empty()
            && self
                .batch
                .iter()
                .all(|e| matches!(e, Event::Sent { .. } | Event::Client(_)));
        if !only_echoes {
            self.echo_held = None;
            return None;
        }
        let until = *self.echo_held.get_or_insert(now + ECHO_HOLD);
        (now < until).then_some(until)
    }

    /// Hands the batched events over if a slot is free.
    pub(super) fn deliver(&mut self) -> Delivery {
        if self.batch.is_empty() {
            return Delivery::Handed {
                resumed: self.resume(),
            };
        }
        match self.credits.try_send(()) {
            Ok(()) => self.hand_over(),
            Err(TrySendError::Full(())) => {
                // Say we are waiting, then look once more: a slot freed
                // before the flag was seen is found here, one freed after
                // it wakes us (see `Credits::batch_done`).
                self.starved.store(true, Ordering::SeqCst);
                if self.credits.try_send(()).is_ok() {
                    return self.hand_over();
                }
                self.paused.get_or_insert_with(Instant::now);
                Delivery::Paused
            }
            Err(TrySendError::Disconnected(())) => Delivery::Closed,
        }
    }

    /// Emits the batch, whose credit is taken.
    fn hand_over(&mut self) -> Delivery {
        let resumed = self.resume();
        let fresh = self.fresh_batch();
        let batch = std::mem::replace(&mut self.batch, fresh);
        self.current = 0;
        if (self.emit)(batch) {
            Delivery::Handed { resumed }
        } else {
            Delivery::Closed
        }
    }

    /// Hands over the final events, waiting for a slot if need be.
    pub(super) fn deliver_last(&mut self) {
        if self.credits.send(()).is_ok() {
            let batch = std::mem::take(&mut self.batch);
            self.current = 0;
            (self.emit)(batch);
        }
    }

    /// Reads again after a pause: how long it lasted.
    fn resume(&mut self) -> Option<Duration> {
        self.starved.store(false, Ordering::SeqCst);
        self.paused.take().map(|since| since.elapsed())
    }

    /// An empty batch, reused if the front end has given one back.
    fn fresh_batch(&mut self) -> Vec<Event> {
        match self.spares.try_recv() {
            Ok(mut handled) => {
                for ev in handled.drain(..) {
                    // One too small would grow step by step, one too big
                    // would keep memory.
                    if let Event::Messages(mut pack) = ev
                        && (PACK_BYTES..=SPARE_PACK_BYTES).contains(&pack.capacity())
                        && self.spare_packs.len() < BATCHES_IN_FLIGHT
                    {
                        pack.clear();
                        self.spare_packs.push(*pack);
                    }
                }
                handled
            }
            Err(_) => Vec::with_capacity(64),
        }
        .into_iter_capped()
    }
}

/// A spare batch bigger than this is freed rather than kept.
const SPARE_BATCH_EVENTS: usize = 4 * BATCH_EVENTS;

trait Capped {
    fn into_iter_capped(self) -> Self;
}

impl Capped for Vec<Event> {
    /// A batch that grew far beyond the usual size goes back to the
    /// allocator instead of being kept for reuse.
    fn into_iter_capped(self) -> Self {
        if self.capacity() > SPARE_BATCH_EVENTS {
            Vec::with_capacity(64)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::core::protocol::decode_view;

    /// A flow whose batches land in the returned list.
    fn flow() -> (Flow, Credits, Arc<Mutex<Vec<Vec<Event>>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let (flow, credits) = channel(Box::new(move |b| {
            sink.lock().unwrap().push(b);
            true
        }));
        (flow, credits, got)
    }

    fn handed(d: &Delivery) -> bool {
        matches!(d, Delivery::Handed { .. })
    }

    #[test]
    fn batches_stop_at_the_credit_limit_and_resume_when_one_is_handed_back() {
        let (mut flow, credits, got) = flow();
        for _ in 0..BATCHES_IN_FLIGHT {
            flow.push(Event::Connected);
            assert!(handed(&flow.deliver()));
        }
        flow.push(Event::Connected);
        assert_eq!(flow.deliver(), Delivery::Paused);
        assert!(flow.paused());
        assert_eq!(got.lock().unwrap().len(), BATCHES_IN_FLIGHT);

        // The network thread said it waits: freeing a slot must wake it.
        let first = got.lock().unwrap().remove(0);
        assert!(credits.batch_done(first));
        match flow.deliver() {
            Delivery::Handed { resumed } => assert!(resumed.is_some()),
            other => panic!("{other:?}"),
        }
        assert!(!flow.paused());
        // Nobody waits now: no wake-up needed.
        let next = got.lock().unwrap().remove(0);
        assert!(!credits.batch_done(next));
    }

    #[test]
    fn an_empty_batch_costs_no_credit() {
        let (mut flow, _credits, got) = flow();
        for _ in 0..BATCHES_IN_FLIGHT * 2 {
            assert_eq!(flow.deliver(), Delivery::Handed { resumed: None });
        }
        assert!(got.lock().unwrap().is_empty());
    }

    #[test]
    fn a_front_end_that_left_closes_the_flow() {
        let (mut flow, credits, _got) = flow();
        drop(credits);
        flow.push(Event::Connected);
        assert_eq!(flow.deliver(), Delivery::Closed);

        let (mut flow, _credits) = channel(Box::new(|_| false));
        flow.push(Event::Connected);
        assert_eq!(flow.deliver(), Delivery::Closed);
    }

    #[test]
    fn echoes_alone_are_held_briefly_and_anything_else_goes_at_once() {
        let (mut flow, _credits, _got) = flow();
        let now = Instant::now();
        assert_eq!(flow.hold_echoes(now), None);
        let frame = decode_view(r#"[null,"1","t","e",{}]"#).unwrap().to_frame();
        flow.push(Event::Sent {
            id: Some(1),
            frame,
            auto: false,
            cast: false,
        });
        assert_eq!(flow.hold_echoes(now), Some(now + ECHO_HOLD));
        // The hold does not restart.
        assert_eq!(flow.hold_echoes(now + ECHO_HOLD / 2), Some(now + ECHO_HOLD));
        assert_eq!(flow.hold_echoes(now + ECHO_HOLD), None);
        flow.push(Event::Connected);
        assert_eq!(flow.hold_echoes(now), None);
    }

    fn markers(flow: &Flow) -> Vec<String> {
        flow.batch
            .iter()
            .map(|e| match e {
                Event::Client(c) => format!("@{c}"),
                Event::Messages(p) => format!("m{}", p.len()),
                _ => "e".into(),
            })
            .collect()
    }

    #[test]
    fn a_marker_goes_in_when_the_client_changes_and_a_new_batch_starts_at_0() {
        let (mut flow, _credits, got) = flow();
        flow.serve(0);
        flow.push(Event::Connected);
        flow.serve(2);
        // Serving without an event adds nothing.
        flow.serve(1);
        flow.push(Event::Connected);
        flow.push(Event::Connected);
        flow.serve(0);
        flow.push(Event::Connected);
        assert_eq!(markers(&flow), ["e", "@1", "e", "e", "@0", "e"]);
        flow.serve(3);
        flow.push(Event::Connected);
        assert!(handed(&flow.deliver()));
        // The next batch begins as client 0's, so client 3 is marked again.
        flow.push(Event::Connected);
        assert_eq!(markers(&flow), ["@3", "e"]);
        flow.serve(0);
        flow.push(Event::Connected);
        assert_eq!(markers(&flow), ["@3", "e", "@0", "e"]);
        assert_eq!(got.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_pack_never_mixes_clients() {
        let (mut flow, _credits, _got) = flow();
        let text = r#"[null,null,"room:1","msg",{"n":1}]"#;
        let v = decode_view(text).unwrap();
        assert!(flow.pack(&v, true, 16));
        flow.serve(1);
        assert!(flow.pack(&v, true, 16));
        assert!(flow.pack(&v, true, 16));
        flow.serve(0);
        assert!(flow.pack(&v, true, 16));
        assert_eq!(markers(&flow), ["m1", "@1", "m2", "@0", "m1"]);
    }

    #[test]
    fn messages_in_a_row_share_one_pack() {
        let (mut flow, _credits, _got) = flow();
        let text = r#"[null,null,"room:1","msg",{"n":1}]"#;
        let v = decode_view(text).unwrap();
        assert!(flow.pack(&v, true, 16));
        assert!(flow.pack(&v, true, 16));
        flow.push(Event::Connected);
        assert!(flow.pack(&v, true, 16));
        let packs: Vec<usize> = flow
            .batch
            .iter()
            .filter_map(|e| match e {
                Event::Messages(p) => Some(p.len()),
                _ => None,
            })
            .collect();
        assert_eq!(packs, [2, 1]);
    }
}

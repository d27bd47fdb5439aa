//! Which replies the runner is waiting on: the ids it gives commands, the
//! latest request at the prompt until it is answered (an `expect` typed
//! before then waits for it), and the refs of automatic rejoins, whose
//! replies are not what `expect` checks, what the summary counts, or what
//! is recorded.
//!
//! Only bookkeeping lives here; what a reply does to the step, the tally
//! or the screen is decided in `events`.

use std::collections::HashSet;

use crate::core::event::Event;

#[derive(Debug, Default)]
pub(super) struct Replies {
    /// At the prompt, the latest request (its id, and its ref once sent)
    /// until its reply, timeout or failure.
    unreplied: Option<(u64, Option<String>)>,
    rejoins: Rejoins,
    /// At the prompt, a timed-out push has been told about `cast` once.
    pub cast_hinted: bool,
}

impl Replies {
    /// A request at the prompt: it is awaited by the next `expect`.
    pub fn awaiting(&mut self, id: u64) {
        self.unreplied = Some((id, None));
    }

    /// The latest request at the prompt, while unanswered.
    pub fn unreplied(&self) -> Option<&(u64, Option<String>)> {
        self.unreplied.as_ref()
    }

    /// Request `id` went out with `ref_` (none: nothing to wait for).
    pub fn sent(&mut self, id: u64, ref_: Option<&str>) {
        if matches!(self.unreplied, Some((u, _)) if u == id) {
            self.unreplied = ref_.map(|r| (id, Some(r.to_owned())));
        }
    }

    /// Request `id` was not sent.
    pub fn rejected(&mut self, id: u64) {
        if matches!(self.unreplied, Some((u, _)) if u == id) {
            self.unreplied = None;
        }
    }

    /// The request with `ref_` was answered, timed out or given up on.
    pub fn ended(&mut self, ref_: &str) {
        if matches!(&self.unreplied, Some((_, Some(r))) if r == ref_) {
            self.unreplied = None;
        }
    }

    /// See [`Rejoins::observe`].
    pub fn rejoin(&mut self, ev: &Event) -> bool {
        self.rejoins.observe(ev)
    }
}

/// The refs of the rejoins a client sent by itself, not yet answered: their
/// replies (or their being given up on) are not a script's.
#[derive(Debug, Default)]
pub(in crate::runner) struct Rejoins {
    refs: HashSet<String>,
}

impl Rejoins {
    /// Notes an automatic rejoin going out, and says whether `ev` is the
    /// reply to one (which is then forgotten).
    pub fn observe(&mut self, ev: &Event) -> bool {
        match ev {
            Event::Sent {
                id: None,
                auto: false,
                frame,
                ..
            } => {
                if let Some(r) = &frame.ref_ {
                    self.refs.insert(r.to_string());
                }
                false
            }
            Event::Reply(r) => r
                .frame
                .ref_
                .as_ref()
                .is_some_and(|x| self.refs.remove(x.as_str())),
            _ => false,
        }
    }

    /// Whether the request with `ref_`, given up on, was a rejoin (which
    /// is then forgotten).
    pub fn given_up(&mut self, ref_: &str) -> bool {
        self.refs.remove(ref_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_request_is_awaited_until_its_ref_is_answered() {
        let mut r = Replies::default();
        r.awaiting(3);
        assert_eq!(r.unreplied(), Some(&(3, None)));
        // Another request's send changes nothing.
        r.sent(2, Some("9"));
        assert_eq!(r.unreplied(), Some(&(3, None)));
        r.sent(3, Some("7"));
        assert_eq!(r.unreplied(), Some(&(3, Some("7".to_owned()))));
        r.ended("6");
        assert!(r.unreplied().is_some());
        r.ended("7");
        assert_eq!(r.unreplied(), None);
    }

    #[test]
    fn a_request_sent_without_a_ref_or_rejected_is_not_awaited() {
        let mut r = Replies::default();
        r.awaiting(1);
        r.sent(1, None);
        assert_eq!(r.unreplied(), None);
        r.awaiting(2);
        r.rejected(2);
        assert_eq!(r.unreplied(), None);
    }
}

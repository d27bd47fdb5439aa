//! Presence on the demo `room:*` topics, as Phoenix.Presence keeps it for
//! an app that tracks each socket by user (docs/PROTOCOL.md §6): which
//! connection is tracked under which key and `phx_ref`, and the
//! `presence_state` and `presence_diff` payloads that follow.
//!
//! Shared by every connection of one server behind a lock; `peer.rs`
//! decides when to track and untrack and sends the payloads.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::core::protocol::push_json_str;

/// One tracked presence: which connection, under which `phx_ref`.
#[derive(Debug, Clone)]
struct Tracked {
    conn: u64,
    phx_ref: String,
}

/// Presence on `room:*` topics, as Phoenix.Presence keeps it for an app
/// that tracks each socket by user (docs/PROTOCOL.md §6): topic → key → one
/// meta per connection.
#[derive(Default)]
pub struct PresenceRegistry {
    topics: Mutex<HashMap<String, BTreeMap<String, Vec<Tracked>>>>,
    next_ref: AtomicU64,
}

impl PresenceRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, Vec<Tracked>>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tracks connection `conn` on `topic` under `key`. Returns the
    /// `presence_state` payload (this connection included) and the
    /// `presence_diff` payload announcing it.
    pub fn track(&self, topic: &str, key: &str, conn: u64) -> (String, String) {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed) + 1;
        let tracked = Tracked {
            conn,
            phx_ref: format!("P{n}"),
        };
        let mut topics = self.lock();
        let keys = topics.entry(topic.to_owned()).or_default();
        keys.entry(key.to_owned())
            .or_default()
            .push(tracked.clone());
        let state = entries(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        let diff = diff_payload(Some((key, &tracked)), None);
        (state, diff)
    }

    /// Stops tracking `conn` on `topic`; the `presence_diff` payload for
    /// the leave, if it was tracked.
    pub fn untrack(&self, topic: &str, conn: u64) -> Option<String> {
        let mut topics = self.lock();
        let keys = topics.get_mut(topic)?;
        let (key, i) = keys.iter().find_map(|(k, v)| {
            v.iter()
                .position(|t| t.conn == conn)
                .map(|i| (k.clone(), i))
        })?;
        let list = keys.get_mut(&key)?;
        let left = list.remove(i);
        if list.is_empty() {
            keys.remove(&key);
        }
        if keys.is_empty() {
            topics.remove(topic);
        }
        Some(diff_payload(None, Some((&key, &left))))
    }
}

/// `{"key": {"metas": [{"phx_ref": …}, …]}, …}`.
fn entries<'a>(list: impl Iterator<Item = (&'a str, &'a [Tracked])>) -> String {
    let mut out = String::from("{");
    for (i, (key, tracked)) in list.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, key);
        out.push_str(":{\"metas\":[");
        for (j, t) in tracked.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"phx_ref\":");
            push_json_str(&mut out, &t.phx_ref);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push('}');
    out
}

/// `{"joins": {…}, "leaves": {…}}` with at most one key on each side.
fn diff_payload(join: Option<(&str, &Tracked)>, leave: Option<(&str, &Tracked)>) -> String {
    let side = |one: Option<(&str, &Tracked)>| {
        entries(one.map(|(k, t)| (k, std::slice::from_ref(t))).into_iter())
    };
    format!("{{\"joins\":{},\"leaves\":{}}}", side(join), side(leave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_tracks_each_connection_under_its_key() {
        let p = PresenceRegistry::default();
        let (state, diff) = p.track("room:a", "alice", 1);
        assert_eq!(state, r#"{"alice":{"metas":[{"phx_ref":"P1"}]}}"#);
        assert_eq!(
            diff,
            r#"{"joins":{"alice":{"metas":[{"phx_ref":"P1"}]}},"leaves":{}}"#
        );
        let (state, _) = p.track("room:a", "alice", 2);
        assert_eq!(
            state,
            r#"{"alice":{"metas":[{"phx_ref":"P1"},{"phx_ref":"P2"}]}}"#
        );
        assert_eq!(
            p.untrack("room:a", 1).unwrap(),
            r#"{"joins":{},"leaves":{"alice":{"metas":[{"phx_ref":"P1"}]}}}"#
        );
        assert!(p.untrack("room:a", 1).is_none());
        assert!(p.untrack("room:a", 2).is_some());
        assert!(p.lock().is_empty());
    }
}

//! Phoenix Presence on the client side (pure): the official client's
//! `syncState`/`syncDiff` merge, and per-topic tracking with the ordering
//! rules of docs/PROTOCOL.md §6 (diffs that arrive before the state for the
//! channel's current join are held back and applied after it).
//!
//! Fed by the runner with the join_ref of each join it sends and with the
//! payloads of `presence_state` and `presence_diff` messages; it returns what
//! joined and left, for the output to show. No I/O, no clock.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub const PRESENCE_STATE: &str = "presence_state";
pub const PRESENCE_DIFF: &str = "presence_diff";

/// One key's presence: its metas (each with a `phx_ref`) and any other
/// fields the app's `fetch/2` added beside them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    pub metas: Vec<Value>,
    pub rest: Map<String, Value>,
}

impl Entry {
    /// The entry as the JSON object the server sent: `{"metas": [...], ...}`.
    pub fn to_value(&self) -> Value {
        let mut m = self.rest.clone();
        m.insert("metas".to_owned(), Value::Array(self.metas.clone()));
        Value::Object(m)
    }

    fn refs(&self) -> Vec<&Value> {
        self.metas.iter().map(phx_ref).collect()
    }
}

fn phx_ref(meta: &Value) -> &Value {
    meta.get("phx_ref").unwrap_or(&Value::Null)
}

/// Keys to entries, in key order (so listings are stable).
pub type State = BTreeMap<String, Entry>;

/// A `presence_diff` payload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    pub joins: State,
    pub leaves: State,
}

/// What one merge step did, as the JS client's `onJoin`/`onLeave` see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `key` joined with `joined`'s metas; `entry` is the key's entry now.
    Join {
        key: String,
        previous: Option<Entry>,
        joined: Entry,
        entry: Entry,
    },
    /// `left`'s metas left `key`; `remaining` is what is left (empty when
    /// the key is gone); `removed` counts the metas that really were there
    /// (0 when the leave names refs the state no longer has, e.g. a diff
    /// held back until a state that already lacks them).
    Leave {
        key: String,
        remaining: Entry,
        left: Entry,
        removed: usize,
    },
}

/// Why a payload is not a presence state or diff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON; serde's own words.
    #[error("{0}")]
    NotJson(String),
    /// A state that is not an object of keys.
    #[error("expected an object of keys")]
    NotKeys,
    #[error("the entry of `{0}` is not an object")]
    EntryNotObject(String),
    #[error("the entry of `{0}` has no `metas` list")]
    NoMetas(String),
    /// A diff that is not an object.
    #[error("expected {{\"joins\": …, \"leaves\": …}}")]
    NotDiff,
    /// The `joins` or `leaves` of a diff is not a state.
    #[error("`{part}`: {error}")]
    DiffPart {
        part: &'static str,
        error: Box<PayloadError>,
    },
}

/// Why the tracker could not apply a presence message: its payload, on
/// its topic, is not presence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    #[error("presence_state on {topic} is not presence: {error}")]
    State { topic: String, error: PayloadError },
    #[error("presence_diff on {topic} is not a presence diff: {error}")]
    Diff { topic: String, error: PayloadError },
}

/// Parses `{"key": {"metas": [...]}, ...}`.
pub fn parse_state(payload: &str) -> Result<State, PayloadError> {
    let v: Value =
        serde_json::from_str(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    state_of(v)
}

fn state_of(v: Value) -> Result<State, PayloadError> {
    let Value::Object(map) = v else {
        return Err(PayloadError::NotKeys);
    };
    map.into_iter()
        .map(|(key, entry)| {
            let Value::Object(mut fields) = entry else {
                return Err(PayloadError::EntryNotObject(key));
            };
            let metas = match fields.remove("metas") {
                Some(Value::Array(metas)) => metas,
                _ => return Err(PayloadError::NoMetas(key)),
            };
            Ok((
                key,
                Entry {
                    metas,
                    rest: fields,
                },
            ))
        })
        .collect()
}

/// Parses `{"joins": {...}, "leaves": {...}}` (either may be missing).
pub fn parse_diff(payload: &str) -> Result<Diff, PayloadError> {
    let v: Value =
        serde_json::from_str(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let Value::Object(mut map) = v else {
        return Err(PayloadError::NotDiff);
    };
    let mut part = |name: &'static str| match map.remove(name) {
        None | Some(Value::Null) => Ok(State::new()),
        Some(v) => state_of(v).map_err(|e| PayloadError::DiffPart {
            part: name,
            error: Box::new(e),
        }),
    };
    Ok(Diff {
        joins: part("joins")?,
        leaves: part("leaves")?,
    })
}

/// syncState: turns `new`, a full state, into joins and leaves against
/// `state` and applies them with [`sync_diff`].
pub fn sync_state(state: &mut State, new: State) -> Vec<Change> {
    let mut diff = Diff::default();
    for (key, entry) in state.iter() {
        if !new.contains_key(key) {
            diff.leaves.insert(key.clone(), entry.clone());
        }
    }
    for (key, new_entry) in new {
        match state.get(&key) {
            Some(current) => {
                let new_refs = new_entry.refs();
                let cur_refs = current.refs();
                let joined: Vec<Value> = new_entry
                    .metas
                    .iter()
                    .filter(|m| !cur_refs.contains(&phx_ref(m)))
                    .cloned()
                    .collect();
                let left: Vec<Value> = current
                    .metas
                    .iter()
                    .filter(|m| !new_refs.contains(&phx_ref(m)))
                    .cloned()
                    .collect();
                if !joined.is_empty() {
                    let mut e = new_entry.clone();
                    e.metas = joined;
                    diff.joins.insert(key.clone(), e);
                }
                if !left.is_empty() {
                    let mut e = current.clone();
                    e.metas = left;
                    diff.leaves.insert(key, e);
                }
            }
            None => {
                diff.joins.insert(key, new_entry);
            }
        }
    }
    sync_diff(state, diff)
}

/// syncDiff: applies joins (first) and leaves to `state`.
pub fn sync_diff(state: &mut State, diff: Diff) -> Vec<Change> {
    let mut changes = Vec::new();
    for (key, joined) in diff.joins {
        let previous = state.get(&key).cloned();
        let mut entry = joined.clone();
        if let Some(cur) = &previous {
            let joined_refs = entry.refs();
            let kept: Vec<Value> = cur
                .metas
                .iter()
                .filter(|m| !joined_refs.contains(&phx_ref(m)))
                .cloned()
                .collect();
            entry.metas.splice(0..0, kept);
        }
        state.insert(key.clone(), entry.clone());
        changes.push(Change::Join {
            key,
            previous,
            joined,
            entry,
        });
    }
    for (key, left) in diff.leaves {
        let Some(current) = state.get_mut(&key) else {
            continue;
        };
        let gone = left.refs();
        let before = current.metas.len();
        current.metas.retain(|m| !gone.contains(&phx_ref(m)));
        let removed = before - current.metas.len();
        let remaining = current.clone();
        if remaining.metas.is_empty() {
            state.remove(&key);
        }
        changes.push(Change::Leave {
            key,
            remaining,
            left,
            removed,
        });
    }
    changes
}

/// A state or diff that was applied to a topic's presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub topic: String,
    /// From a `presence_state` (else a diff).
    pub from_state: bool,
    pub changes: Vec<Change>,
    /// Keys whose sessions our own rejoin replaced one for one: the state
    /// that resynced the topic after a rejoin of this channel (a crash, a
    /// reconnect, a second `join`) listed them with new `phx_ref`s and as
    /// many metas as before. `changes` still has their join and leave (the
    /// state is exactly the JS client's), but no one came or went.
    pub rejoined: Vec<String>,
}

impl Applied {
    /// The changes less those of [`Applied::rejoined`] keys: what people
    /// are shown.
    pub fn without_rejoined(&self) -> Applied {
        Applied {
            topic: self.topic.clone(),
            from_state: self.from_state,
            changes: self
                .changes
                .iter()
                .filter(|c| !self.rejoined.iter().any(|k| k == c.key()))
                .cloned()
                .collect(),
            rejoined: Vec::new(),
        }
    }
}

impl Change {
    /// The key that joined or left.
    pub fn key(&self) -> &str {
        match self {
            Change::Join { key, .. } | Change::Leave { key, .. } => key,
        }
    }
}

/// The keys that `changes` (a resync's) both joined and left with as many
/// metas after as before.
fn replaced_one_for_one(changes: &[Change]) -> Vec<String> {
    let mut keys = Vec::new();
    for c in changes {
        let Change::Join { key, previous, .. } = c else {
            continue;
        };
        let Some(before) = previous.as_ref().map(|p| p.metas.len()) else {
            continue;
        };
        let after = changes.iter().find_map(|c| match c {
            Change::Leave {
                key: k, remaining, ..
            } if k == key => Some(remaining.metas.len()),
            _ => None,
        });
        if after == Some(before) {
            keys.push(key.clone());
        }
    }
    keys
}

#[derive(Debug, Default)]
struct Topic {
    state: State,
    /// The channel's join_ref when the last state arrived; `None` before.
    synced_join_ref: Option<Option<String>>,
    /// The channel's current join_ref, as sent.
    channel_join_ref: Option<String>,
    pending: Vec<Diff>,
}

impl Topic {
    fn in_pending_sync(&self) -> bool {
        self.synced_join_ref.as_ref() != Some(&self.channel_join_ref)
    }
}

/// Presence for every topic of one connection.
#[derive(Debug, Default)]
pub struct Tracker {
    topics: BTreeMap<String, Topic>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A `phx_join` for `topic` went out with `join_ref`: from now on only
    /// a state for this join resyncs it (the JS client's `channel.joinRef()`).
    pub fn joining(&mut self, topic: &str, join_ref: Option<&str>) {
        let t = self.topics.entry(topic.to_owned()).or_default();
        t.channel_join_ref = join_ref.map(str::to_owned);
    }

    /// A `presence_state` arrived: merge it, then the diffs held back.
    pub fn on_state(&mut self, topic: &str, payload: &str) -> Result<Vec<Applied>, TrackError> {
        let new = parse_state(payload).map_err(|error| TrackError::State {
            topic: topic.to_owned(),
            error,
        })?;
        let t = self.topics.entry(topic.to_owned()).or_default();
        // A state for a new join of a channel that had one already: our own
        // rejoin, which lists our key again under a new phx_ref.
        let rejoin = t
            .synced_join_ref
            .as_ref()
            .is_some_and(|synced| synced != &t.channel_join_ref);
        t.synced_join_ref = Some(t.channel_join_ref.clone());
        let changes = sync_state(&mut t.state, new);
        let rejoined = if rejoin {
            replaced_one_for_one(&changes)
        } else {
            Vec::new()
        };
        let mut out = vec![Applied {
            topic: topic.to_owned(),
            from_state: true,
            changes,
            rejoined,
        }];
        for diff in std::mem::take(&mut t.pending) {
            out.push(Applied {
                topic: topic.to_owned(),
                from_state: false,
                changes: sync_diff(&mut t.state, diff),
                rejoined: Vec::new(),
            });
        }
        Ok(out)
    }

    /// A `presence_diff` arrived: merged now, or held until the state for
    /// the current join (then `Ok(None)`).
    pub fn on_diff(&mut self, topic: &str, payload: &str) -> Result<Option<Applied>, TrackError> {
        let diff = parse_diff(payload).map_err(|error| TrackError::Diff {
            topic: topic.to_owned(),
            error,
        })?;
        let t = self.topics.entry(topic.to_owned()).or_default();
        if t.in_pending_sync() {
            t.pending.push(diff);
            return Ok(None);
        }
        Ok(Some(Applied {
            topic: topic.to_owned(),
            from_state: false,
            changes: sync_diff(&mut t.state, diff),
            rejoined: Vec::new(),
        }))
    }

    /// The channel on `topic` closed: its presence list is gone with it.
    pub fn forget(&mut self, topic: &str) {
        self.topics.remove(topic);
    }

    /// The presence list of `topic`, if a state has arrived for it.
    pub fn list(&self, topic: &str) -> Option<&State> {
        self.topics
            .get(topic)
            .filter(|t| t.synced_join_ref.is_some())
            .map(|t| &t.state)
    }

    /// Topics with a presence list.
    pub fn topics(&self) -> Vec<&str> {
        self.topics
            .iter()
            .filter(|(_, t)| t.synced_join_ref.is_some())
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(v: Value) -> State {
        state_of(v).unwrap()
    }

    fn diff(v: Value) -> Diff {
        parse_diff(&v.to_string()).unwrap()
    }

    fn raw(v: Value) -> String {
        v.to_string()
    }

    fn show(s: &State) -> Value {
        Value::Object(s.iter().map(|(k, e)| (k.clone(), e.to_value())).collect())
    }

    fn summary(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Join {
                    key,
                    previous,
                    entry,
                    ..
                } => format!(
                    "+{key} {}->{}",
                    previous.as_ref().map_or(0, |p| p.metas.len()),
                    entry.metas.len()
                ),
                Change::Leave { key, remaining, .. } => {
                    format!("-{key} {}", remaining.metas.len())
                }
            })
            .collect()
    }

    // The cases below follow the official client's presence tests.

    #[test]
    fn a_leave_of_refs_the_state_lacks_removes_nothing_and_says_so() {
        let mut st = state(json!({"bob": {"metas": [{"phx_ref": "2"}]}}));
        let changes = sync_diff(
            &mut st,
            diff(json!({"leaves": {"bob": {"metas": [{"phx_ref": "1"}]}}})),
        );
        assert!(
            matches!(&changes[..], [Change::Leave { removed: 0, remaining, .. }] if remaining.metas.len() == 1)
        );
        let changes = sync_diff(
            &mut st,
            diff(json!({"leaves": {"bob": {"metas": [{"phx_ref": "2"}]}}})),
        );
        assert!(matches!(&changes[..], [Change::Leave { removed: 1, .. }]));
        assert!(st.is_empty());
    }

    #[test]
    fn sync_state_on_empty_state_joins_everyone() {
        let mut s = State::new();
        let changes = sync_state(
            &mut s,
            state(json!({"u1": {"metas": [{"id": 1, "phx_ref": "1"}]}})),
        );
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"id": 1, "phx_ref": "1"}]}})
        );
        assert_eq!(summary(&changes), ["+u1 0->1"]);
    }

    #[test]
    fn sync_state_computes_joins_and_leaves() {
        let mut s = state(json!({
            "u1": {"metas": [{"id": 1, "phx_ref": "1"}]},
            "u2": {"metas": [{"id": 2, "phx_ref": "2"}]},
        }));
        let new = state(json!({
            "u1": {"metas": [{"id": 1, "phx_ref": "1"}]},
            "u3": {"metas": [{"id": 3, "phx_ref": "3"}]},
        }));
        let changes = sync_state(&mut s, new.clone());
        assert_eq!(show(&s), show(&new));
        assert_eq!(summary(&changes), ["+u3 0->1", "-u2 0"]);
    }

    #[test]
    fn sync_state_diffs_metas_of_a_key_by_phx_ref() {
        let mut s = state(json!({"u1": {"metas": [{"id": 1, "phx_ref": "1"}]}}));
        let new = state(json!({"u1": {"metas": [
            {"id": 1, "phx_ref": "1"}, {"id": 1, "phx_ref": "1.2"}
        ]}}));
        let changes = sync_state(&mut s, new);
        assert_eq!(summary(&changes), ["+u1 1->2"]);
        match &changes[0] {
            Change::Join { joined, .. } => {
                assert_eq!(joined.metas, [json!({"id": 1, "phx_ref": "1.2"})]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"id": 1, "phx_ref": "1"}, {"id": 1, "phx_ref": "1.2"}]}})
        );
        // And the reverse: a meta missing from the new state leaves.
        let changes = sync_state(
            &mut s,
            state(json!({"u1": {"metas": [{"id": 1, "phx_ref": "1.2"}]}})),
        );
        assert_eq!(summary(&changes), ["-u1 1"]);
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"id": 1, "phx_ref": "1.2"}]}})
        );
    }

    #[test]
    fn sync_diff_adds_joins_in_front_of_kept_metas_and_removes_leaves() {
        let mut s = state(json!({
            "u1": {"metas": [{"id": 1, "phx_ref": "1"}]},
            "u2": {"metas": [{"id": 2, "phx_ref": "2"}]},
        }));
        let changes = sync_diff(
            &mut s,
            diff(json!({
                "joins": {"u1": {"metas": [{"id": 1, "phx_ref": "1.2"}]}},
                "leaves": {"u2": {"metas": [{"id": 2, "phx_ref": "2"}]}},
            })),
        );
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"id": 1, "phx_ref": "1"}, {"id": 1, "phx_ref": "1.2"}]}})
        );
        assert_eq!(summary(&changes), ["+u1 1->2", "-u2 0"]);
    }

    #[test]
    fn sync_diff_keeps_a_key_with_metas_left() {
        let mut s = state(json!({"u1": {"metas": [
            {"id": 1, "phx_ref": "1"}, {"id": 1, "phx_ref": "1.2"}
        ]}}));
        let changes = sync_diff(
            &mut s,
            diff(json!({"joins": {}, "leaves": {"u1": {"metas": [{"id": 1, "phx_ref": "1"}]}}})),
        );
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"id": 1, "phx_ref": "1.2"}]}})
        );
        assert_eq!(summary(&changes), ["-u1 1"]);
    }

    #[test]
    fn sync_diff_ignores_leaves_of_unknown_keys() {
        let mut s = State::new();
        let changes = sync_diff(
            &mut s,
            diff(json!({"leaves": {"ghost": {"metas": [{"phx_ref": "9"}]}}})),
        );
        assert!(changes.is_empty());
        assert!(s.is_empty());
    }

    #[test]
    fn an_update_is_a_join_and_a_leave_in_one_diff() {
        let mut s = state(json!({"u1": {"metas": [{"status": "away", "phx_ref": "1"}]}}));
        let changes = sync_diff(
            &mut s,
            diff(json!({
                "joins": {"u1": {"metas": [{"status": "online", "phx_ref": "2", "phx_ref_prev": "1"}]}},
                "leaves": {"u1": {"metas": [{"status": "away", "phx_ref": "1"}]}},
            })),
        );
        assert_eq!(
            show(&s),
            json!({"u1": {"metas": [{"status": "online", "phx_ref": "2", "phx_ref_prev": "1"}]}})
        );
        assert_eq!(summary(&changes), ["+u1 1->2", "-u1 1"]);
    }

    #[test]
    fn fields_beside_metas_are_kept() {
        let mut s = State::new();
        sync_state(
            &mut s,
            state(json!({"u1": {"metas": [{"phx_ref": "1"}], "user": {"name": "Ana"}}})),
        );
        assert_eq!(s["u1"].rest["user"], json!({"name": "Ana"}));
    }

    #[test]
    fn keys_like_proto_are_plain_keys() {
        let mut s = State::new();
        sync_state(
            &mut s,
            state(json!({"__proto__": {"metas": [{"phx_ref": "1"}]}})),
        );
        assert!(s.contains_key("__proto__"));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(parse_state("[]").is_err());
        assert!(parse_state(r#"{"u1": {"no": 1}}"#).is_err());
        assert!(parse_state(r#"{"u1": 3}"#).is_err());
        assert!(parse_diff(r#"{"joins": []}"#).is_err());
        assert!(parse_diff("1").is_err());
        assert_eq!(parse_diff("{}").unwrap(), Diff::default());
    }

    /// Users see these texts: they stay word for word what they were when
    /// the errors were plain strings.
    #[test]
    fn errors_read_as_they_always_have() {
        let mut t = Tracker::new();
        let cases = [
            (
                t.on_state("room:1", "[]").unwrap_err(),
                "presence_state on room:1 is not presence: expected an object of keys",
            ),
            (
                t.on_state("room:1", r#"{"u1": 3}"#).unwrap_err(),
                "presence_state on room:1 is not presence: the entry of `u1` is not an object",
            ),
            (
                t.on_state("room:1", r#"{"u1": {"no": 1}}"#).unwrap_err(),
                "presence_state on room:1 is not presence: the entry of `u1` has no `metas` list",
            ),
            (
                t.on_diff("room:1", "1").map(drop).unwrap_err(),
                "presence_diff on room:1 is not a presence diff: \
                 expected {\"joins\": …, \"leaves\": …}",
            ),
            (
                t.on_diff("room:1", r#"{"leaves": []}"#)
                    .map(drop)
                    .unwrap_err(),
                "presence_diff on room:1 is not a presence diff: \
                 `leaves`: expected an object of keys",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
        let e = t.on_state("room:1", "{").unwrap_err().to_string();
        assert!(
            e.starts_with("presence_state on room:1 is not presence: EOF while parsing"),
            "{e}"
        );
    }

    #[test]
    fn diffs_before_the_first_state_wait_for_it() {
        let mut t = Tracker::new();
        t.joining("room:a", Some("1"));
        let held = t
            .on_diff(
                "room:a",
                &raw(json!({"joins": {"u2": {"metas": [{"phx_ref": "2"}]}}, "leaves": {}})),
            )
            .unwrap();
        assert_eq!(held, None);
        assert!(t.list("room:a").is_none());
        let applied = t
            .on_state("room:a", &raw(json!({"u1": {"metas": [{"phx_ref": "1"}]}})))
            .unwrap();
        assert_eq!(applied.len(), 2);
        assert!(applied[0].from_state && !applied[1].from_state);
        assert_eq!(summary(&applied[1].changes), ["+u2 0->1"]);
        assert_eq!(
            t.list("room:a").unwrap().keys().collect::<Vec<_>>(),
            ["u1", "u2"]
        );
        // In sync now: the next diff applies at once.
        let now = t
            .on_diff(
                "room:a",
                &raw(json!({"leaves": {"u1": {"metas": [{"phx_ref": "1"}]}}})),
            )
            .unwrap()
            .unwrap();
        assert_eq!(summary(&now.changes), ["-u1 0"]);
    }

    #[test]
    fn after_a_rejoin_diffs_wait_for_the_new_state_which_resyncs() {
        let mut t = Tracker::new();
        t.joining("room:a", Some("1"));
        t.on_state(
            "room:a",
            &raw(json!({"u1": {"metas": [{"phx_ref": "1"}]}, "u2": {"metas": [{"phx_ref": "2"}]}})),
        )
        .unwrap();
        // The channel rejoins (reconnect): new join_ref.
        t.joining("room:a", Some("5"));
        let held = t
            .on_diff(
                "room:a",
                &raw(json!({"joins": {"u3": {"metas": [{"phx_ref": "3"}]}}})),
            )
            .unwrap();
        assert_eq!(held, None);
        // u2 left while we were away; the new state says so.
        let applied = t
            .on_state(
                "room:a",
                &raw(json!({"u1": {"metas": [{"phx_ref": "1"}]}, "u3": {"metas": [{"phx_ref": "3"}]}})),
            )
            .unwrap();
        assert_eq!(summary(&applied[0].changes), ["+u3 0->1", "-u2 0"]);
        // The held diff re-joins u3 with the same ref: no new metas.
        assert_eq!(summary(&applied[1].changes), ["+u3 1->1"]);
        assert_eq!(
            show(t.list("room:a").unwrap()),
            json!({"u1": {"metas": [{"phx_ref": "1"}]}, "u3": {"metas": [{"phx_ref": "3"}]}})
        );
    }

    #[test]
    fn our_own_rejoin_marks_keys_replaced_one_for_one() {
        let mut t = Tracker::new();
        t.joining("room:a", Some("1"));
        let first = t
            .on_state(
                "room:a",
                &raw(json!({"ana": {"metas": [{"phx_ref": "1"}]}, "bo": {"metas": [{"phx_ref": "2"}]}})),
            )
            .unwrap();
        assert!(first[0].rejoined.is_empty(), "a first join is no rejoin");
        t.joining("room:a", Some("3"));
        // As the server sends them: our diff (held), then the state.
        assert_eq!(
            t.on_diff(
                "room:a",
                &raw(json!({"joins": {"ana": {"metas": [{"phx_ref": "4"}]}}}))
            )
            .unwrap(),
            None
        );
        let applied = t
            .on_state(
                "room:a",
                &raw(json!({
                    "ana": {"metas": [{"phx_ref": "4"}]},
                    "bo": {"metas": [{"phx_ref": "2"}, {"phx_ref": "5"}]},
                })),
            )
            .unwrap();
        // The changes stay syncState's; only ana was replaced one for one.
        assert_eq!(
            summary(&applied[0].changes),
            ["+ana 1->2", "+bo 1->2", "-ana 1"]
        );
        assert_eq!(applied[0].rejoined, ["ana"]);
        assert_eq!(
            summary(&applied[0].without_rejoined().changes),
            ["+bo 1->2"]
        );
        assert_eq!(summary(&applied[1].changes), ["+ana 1->1"]);
        assert_eq!(
            show(t.list("room:a").unwrap()),
            json!({"ana": {"metas": [{"phx_ref": "4"}]}, "bo": {"metas": [{"phx_ref": "2"}, {"phx_ref": "5"}]}})
        );
        // A state sent again for the same join is no rejoin.
        let again = t
            .on_state(
                "room:a",
                &raw(json!({"ana": {"metas": [{"phx_ref": "6"}]}})),
            )
            .unwrap();
        assert!(again[0].rejoined.is_empty());
    }

    #[test]
    fn a_closed_channel_forgets_its_presence() {
        let mut t = Tracker::new();
        t.joining("room:a", Some("1"));
        t.on_state("room:a", &raw(json!({}))).unwrap();
        t.forget("room:a");
        assert!(t.list("room:a").is_none());
    }

    #[test]
    fn topics_lists_only_synced_topics() {
        let mut t = Tracker::new();
        t.joining("room:a", Some("1"));
        t.joining("room:b", Some("2"));
        t.on_state("room:b", &raw(json!({}))).unwrap();
        assert_eq!(t.topics(), ["room:b"]);
    }
}

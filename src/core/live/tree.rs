//! The rendered tree of one LiveView and the merging of diffs into it, with
//! the rules of the official JS client (`rendered.js`), described in
//! docs/PROTOCOL.md §10.
//!
//! The tree is kept resolved: every statics list is a shared `Arc<[String]>`,
//! integer `"s"` indices into template tables (`"p"`) are looked up when a
//! diff is merged, and components sharing another component's statics get
//! their own copy of that tree. The JS client resolves the same references
//! when it renders, right after each merge, and then drops the tables; doing
//! it at merge time gives the same HTML and a tree that needs no tables.
//!
//! Both formats are handled by the same code: LiveView 0.20 comprehensions
//! (`{"s": [...], "d": [[...], ...]}`, the rows resent whole) and LiveView
//! 1.1 keyed comprehensions (`{"s": N, "k": {"0": {...}, "kc": COUNT}}`, only
//! the changed entries sent, a number meaning "the entry that was at that old
//! position", `[old, diff]` meaning moved and changed).
//!
//! A merge costs what the diff holds: entries a keyed diff does not mention
//! are not visited, rendered or copied. (A component the diff changes is
//! copied whole before the change, as the JS client copies it.)
//!
//! Streams are kept as ordinary rows (the latest rows the server sent); the
//! browser's insert/delete bookkeeping for `phx-update="stream"` containers
//! is a DOM matter that this tree does not model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::change::{Change, Recorder, Step, path_string};
use super::component::merge_components;
use super::html::{HtmlMode, render_dyn, render_node, render_row};

/// One statics list, shared between the rows of a comprehension, the users
/// of a template and components that share statics.
pub type Statics = Arc<[String]>;

/// A template table (`"p"`): statics by index.
pub(crate) type Templates = BTreeMap<u64, Statics>;

/// A dynamic part: what sits between two statics.
#[derive(Debug, Clone, PartialEq)]
pub enum Dyn {
    /// Text, already HTML-escaped by the server.
    Text(String),
    /// A nested tree with its own statics.
    Tree(Box<Node>),
    /// A stateful component, by cid.
    Cid(i64),
    /// A comprehension (`for`), in either format.
    List(Box<List>),
}

/// A tree: statics interleaved with dynamics; `dyns.len() + 1 ==
/// statics.len()` always holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub statics: Statics,
    pub dyns: Vec<Dyn>,
}

/// A comprehension: every row renders with the same statics.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub statics: Statics,
    /// Each row holds `statics.len() - 1` dynamics.
    pub rows: Vec<Vec<Dyn>>,
    /// Whether the last diff used the 1.1 keyed form (`k`) or 0.20's `d`.
    pub keyed: bool,
    /// The comprehension's own template table. LiveView 0.20 sends it with
    /// the first rows and may leave it out of later `d` diffs whose rows
    /// still point into it, so it is kept.
    templates: Option<Arc<Templates>>,
}

/// An event the server pushed with `push_event` (`"e"` in a diff).
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    pub name: String,
    pub payload: Value,
}

/// What one merge brought besides the tree itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// A new page title (`"t"`).
    pub title: Option<String>,
    /// Events pushed with `push_event` (`"e"`), in order.
    pub events: Vec<PushEvent>,
    /// The map an event handler replied with (`"r"` at the top of an event
    /// reply's diff). A bare `1` there is the root-element marker of the
    /// view's template, not a reply, and is left out.
    pub reply: Option<Value>,
    /// What changed, one entry per region; empty for the join.
    pub changes: Vec<Change>,
}

/// A tree or diff the client cannot use. `at` is the path of the part, in
/// the notation of [`Change`](super::Change) (`root`, `3[1].0`, `c2.0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("LiveView tree at {at}: expected {expected}, got {got}")]
    Shape {
        at: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("LiveView tree at {at}: no statics (\"s\") for a part the client has not seen")]
    MissingStatics { at: String },
    #[error("LiveView tree at {at}: template {index} is not in any \"p\" table in scope")]
    MissingTemplate { at: String, index: u64 },
    #[error("LiveView tree at {at}: dynamic {index} is missing ({need} expected)")]
    MissingDynamic {
        at: String,
        index: usize,
        need: usize,
    },
    #[error("LiveView tree at {at}: dynamic {index} does not exist (the part has {len})")]
    NoSuchDynamic {
        at: String,
        index: usize,
        len: usize,
    },
    #[error("LiveView tree at {at}: entry {index} is missing")]
    MissingEntry { at: String, index: usize },
    #[error("LiveView tree at {at}: component {cid} is not known")]
    MissingComponent { at: String, cid: i64 },
    #[error("LiveView tree at {at}: {what}")]
    Malformed { at: String, what: String },
}

pub(crate) type Result<T> = std::result::Result<T, TreeError>;

/// The rendered state of one LiveView: its tree, its components and its
/// title.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    root: Option<Node>,
    components: BTreeMap<i64, Node>,
    title: Option<String>,
}

/// What a merge needs besides the part being merged: the components as they
/// were before this diff (for rendering "before" text), and the recorder
/// that tracks the path and what changed.
pub(crate) struct Cx<'a> {
    pub(crate) comps: &'a BTreeMap<i64, Node>,
    pub(crate) rec: Recorder,
}

impl Cx<'_> {
    pub(crate) fn at(&self) -> String {
        path_string(&self.rec.path)
    }

    pub(crate) fn shape(&self, expected: &'static str, got: &Value) -> TreeError {
        TreeError::Shape {
            at: self.at(),
            expected,
            got: kind(got),
        }
    }

    pub(crate) fn malformed(&self, what: impl Into<String>) -> TreeError {
        TreeError::Malformed {
            at: self.at(),
            what: what.into(),
        }
    }

    /// Runs `f` with `step` appended to the path.
    fn within<T>(&mut self, step: Step, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.rec.path.push(step);
        let out = f(self);
        self.rec.path.pop();
        out
    }
}

impl Rendered {
    /// The tree of a join reply's `rendered`. The update holds its title and
    /// events; it lists no changes.
    pub fn join(rendered: &Value) -> Result<(Rendered, Update)> {
        let mut r = Rendered::default();
        let update = r.merge(rendered)?;
        Ok((r, update))
    }

    /// Merges a diff (an event reply's `diff`, or a `diff` push). After an
    /// error the tree may hold part of the diff; the browser reloads then,
    /// and so should the caller (rejoin).
    pub fn merge(&mut self, diff: &Value) -> Result<Update> {
        let on = self.root.is_some();
        let m = match diff {
            Value::Object(m) => m,
            other => {
                return Err(TreeError::Shape {
                    at: "root".into(),
                    expected: "an object",
                    got: kind(other),
                });
            }
        };
        let mut update = extract(m)?;
        let mut rec = Recorder::new(on);
        if m.contains_key("s") {
            // A new root template: the client starts over, components too
            // (rendered.js keeps only the components of this diff, and the
            // server renders them afresh with new cids).
            let mut cx = Cx {
                comps: &self.components,
                rec,
            };
            let fresh = parse_node(m, None, &mut cx)?;
            if let Some(old) = &self.root
                && cx.rec.wants()
            {
                let before = render_node(old, cx.comps, HtmlMode::Dead);
                cx.rec.region(Some(before));
            }
            rec = cx.rec;
            let none = BTreeMap::new();
            let mut cx = Cx { comps: &none, rec };
            let comps = components_of(m, &mut cx)?;
            rec = cx.rec;
            self.root = Some(fresh);
            self.components = comps;
        } else {
            let Some(root) = &mut self.root else {
                return Err(TreeError::MissingStatics { at: "root".into() });
            };
            let mut cx = Cx {
                comps: &self.components,
                rec,
            };
            merge_node(root, m, None, &mut cx)?;
            let comps = components_of(m, &mut cx)?;
            rec = cx.rec;
            self.components.extend(comps);
        }
        if let Some(t) = &update.title {
            self.title = Some(t.clone());
        }
        update.changes = rec.finish(self);
        Ok(update)
    }

    /// The view's tree, once joined.
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// The view's stateful components by cid.
    pub fn components(&self) -> &BTreeMap<i64, Node> {
        &self.components
    }

    /// The last page title the server sent.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
}

/// The components a diff brings (`"c"`), resolved.
fn components_of(m: &Map<String, Value>, cx: &mut Cx) -> Result<BTreeMap<i64, Node>> {
    match m.get("c") {
        Some(Value::Object(c)) => merge_components(c, cx),
        Some(other) => Err(cx.shape("an object of components", other)),
        None => Ok(BTreeMap::new()),
    }
}

/// Takes the title, events and reply off the top of a diff (the JS client's
/// `Rendered.extract`).
fn extract(m: &Map<String, Value>) -> Result<Update> {
    let at = || "root".to_string();
    let title = match m.get("t") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(TreeError::Shape {
                at: at(),
                expected: "a string title (\"t\")",
                got: kind(other),
            });
        }
    };
    let mut events = Vec::new();
    match m.get("e") {
        None => {}
        Some(Value::Array(list)) => {
            for e in list {
                match e.as_array().map(Vec::as_slice) {
                    Some([Value::String(name), payload]) => events.push(PushEvent {
                        name: name.clone(),
                        payload: payload.clone(),
                    }),
                    _ => {
                        return Err(TreeError::Shape {
                            at: at(),
                            expected: "events (\"e\") as [name, payload] pairs",
                            got: kind(e),
                        });
                    }
                }
            }
        }
        Some(other) => {
            return Err(TreeError::Shape {
                at: at(),
                expected: "a list of events (\"e\")",
                got: kind(other),
            });
        }
    }
    let reply = m.get("r").filter(|r| r.is_object()).cloned();
    Ok(Update {
        title,
        events,
        reply,
        changes: Vec::new(),
    })
}

/// The JSON type of a value, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A node's or comprehension's own template table, if it carries one.
fn templates_of(m: &Map<String, Value>, cx: &Cx) -> Result<Option<Templates>> {
    let Some(p) = m.get("p") else {
        return Ok(None);
    };
    let Value::Object(p) = p else {
        return Err(cx.shape("a template table (\"p\") object", p));
    };
    let mut out = Templates::new();
    for (k, v) in p {
        let index = k
            .parse::<u64>()
            .map_err(|_| cx.malformed(format!("template key {k:?} is not an index")))?;
        out.insert(index, statics_list(v, cx)?);
    }
    Ok(Some(out))
}

fn statics_list(v: &Value, cx: &Cx) -> Result<Statics> {
    let Value::Array(items) = v else {
        return Err(cx.shape("a list of statics", v));
    };
    if items.is_empty() {
        return Err(cx.malformed("an empty list of statics"));
    }
    items
        .iter()
        .map(|s| match s {
            Value::String(s) => Ok(s.clone()),
            other => Err(cx.shape("statics that are strings", other)),
        })
        .collect()
}

/// `"s"`: a list of strings, or (1.1) an index into the templates in scope.
fn resolve_statics(s: &Value, scope: Option<&Templates>, cx: &Cx) -> Result<Statics> {
    match s {
        Value::Array(_) => statics_list(s, cx),
        Value::Number(n) => {
            let index = n
                .as_u64()
                .ok_or_else(|| cx.malformed(format!("template index {n} is not an index")))?;
            scope
                .and_then(|t| t.get(&index))
                .cloned()
                .ok_or_else(|| TreeError::MissingTemplate { at: cx.at(), index })
        }
        other => Err(cx.shape("statics (\"s\") as a list or template index", other)),
    }
}

/// A dynamic the client has not seen before.
fn parse_dyn(v: &Value, scope: Option<&Templates>, cx: &mut Cx) -> Result<Dyn> {
    match v {
        Value::String(s) => Ok(Dyn::Text(s.clone())),
        Value::Number(n) => n
            .as_i64()
            .map(Dyn::Cid)
            .ok_or_else(|| cx.malformed(format!("component id {n} is not an integer"))),
        Value::Object(m) if m.contains_key("k") || m.contains_key("d") => {
            Ok(Dyn::List(Box::new(parse_list(m, scope, cx)?)))
        }
        Value::Object(m) if m.contains_key("s") => {
            Ok(Dyn::Tree(Box::new(parse_node(m, scope, cx)?)))
        }
        Value::Object(_) => Err(TreeError::MissingStatics { at: cx.at() }),
        other => Err(cx.shape("a string, component id or tree", other)),
    }
}

/// A tree with its statics. Its own `"p"` (1.1) applies to it and below.
pub(crate) fn parse_node(
    m: &Map<String, Value>,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<Node> {
    let own = templates_of(m, cx)?;
    let scope = own.as_ref().or(scope);
    let s = m
        .get("s")
        .ok_or_else(|| TreeError::MissingStatics { at: cx.at() })?;
    let statics = resolve_statics(s, scope, cx)?;
    let dyns = parse_dyns(|i| m.get(&i.to_string()), statics.len() - 1, scope, cx)?;
    Ok(Node { statics, dyns })
}

/// `need` fresh dynamics, the i-th from `get(i)`.
fn parse_dyns<'v>(
    get: impl Fn(usize) -> Option<&'v Value>,
    need: usize,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<Vec<Dyn>> {
    let mut dyns = Vec::with_capacity(need);
    for i in 0..need {
        let v = get(i).ok_or_else(|| TreeError::MissingDynamic {
            at: cx.at(),
            index: i,
            need,
        })?;
        dyns.push(cx.within(Step::Dyn(i), |cx| parse_dyn(v, scope, cx))?);
    }
    Ok(dyns)
}

/// A comprehension the client has not seen: `{"s", "d"}` (0.20) or
/// `{"s", "k"}` (1.1), perhaps with its own `"p"` for its rows.
fn parse_list(m: &Map<String, Value>, scope: Option<&Templates>, cx: &mut Cx) -> Result<List> {
    let own = templates_of(m, cx)?.map(Arc::new);
    // The rows use the templates of the enclosing tree when there are any,
    // else the comprehension's own (rendered.js `templates || p`).
    let row_scope = scope.or(own.as_deref());
    let s = m
        .get("s")
        .ok_or_else(|| TreeError::MissingStatics { at: cx.at() })?;
    let statics = resolve_statics(s, row_scope, cx)?;
    let need = statics.len() - 1;
    let (rows, keyed) = if let Some(k) = m.get("k") {
        let Value::Object(k) = k else {
            return Err(cx.shape("keyed entries (\"k\") as an object", k));
        };
        let count = keyed_count(k, cx)?;
        let mut rows = Vec::with_capacity(count.min(k.len()));
        for i in 0..count {
            let entry = k
                .get(&i.to_string())
                .ok_or_else(|| TreeError::MissingEntry {
                    at: cx.at(),
                    index: i,
                })?;
            let row = cx.within(Step::Row(i), |cx| match entry {
                Value::Object(e) => parse_dyns(|j| e.get(&j.to_string()), need, row_scope, cx),
                other => Err(cx.shape("a new entry as an object", other)),
            })?;
            rows.push(row);
        }
        (rows, true)
    } else {
        (parse_d_rows(m.get("d"), need, row_scope, cx)?, false)
    };
    Ok(List {
        statics,
        rows,
        keyed,
        templates: own,
    })
}

/// 0.20 rows: `"d": [[dyn, …], …]`.
fn parse_d_rows(
    d: Option<&Value>,
    need: usize,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<Vec<Vec<Dyn>>> {
    let Some(Value::Array(d)) = d else {
        return Err(cx.malformed("a comprehension without rows (\"d\" or \"k\")"));
    };
    let mut rows = Vec::with_capacity(d.len());
    for (i, row) in d.iter().enumerate() {
        let row = cx.within(Step::Row(i), |cx| match row {
            Value::Array(items) => parse_dyns(|j| items.get(j), need, scope, cx),
            other => Err(cx.shape("a row as a list", other)),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

fn keyed_count(k: &Map<String, Value>, cx: &Cx) -> Result<usize> {
    match k.get("kc") {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| cx.malformed(format!("entry count \"kc\" {n} is not a count"))),
        Some(other) => Err(cx.shape("an entry count (\"kc\")", other)),
        None => Err(cx.malformed("keyed entries without a count (\"kc\")")),
    }
}

/// Merges a diff value into a dynamic: objects without statics merge into
/// the tree or comprehension already there; anything else replaces it.
fn merge_dyn(target: &mut Dyn, v: &Value, scope: Option<&Templates>, cx: &mut Cx) -> Result<()> {
    match (&mut *target, v) {
        (Dyn::Tree(node), Value::Object(m)) if !m.contains_key("s") => {
            merge_node(node, m, scope, cx)
        }
        (Dyn::List(list), Value::Object(m)) if !m.contains_key("s") => {
            merge_list(list, m, scope, cx)
        }
        _ => {
            let fresh = parse_dyn(v, scope, cx)?;
            if cx.rec.wants() {
                let before = render_dyn(target, cx.comps, HtmlMode::Dead);
                cx.rec.region(Some(before));
            }
            *target = fresh;
            Ok(())
        }
    }
}

/// Merges a diff without statics into a tree: each numbered dynamic it
/// carries is merged in; a `"p"` it carries applies to it and below.
pub(crate) fn merge_node(
    node: &mut Node,
    m: &Map<String, Value>,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<()> {
    if m.contains_key("k") || m.contains_key("d") {
        return Err(cx.malformed("comprehension rows for a part that is not a comprehension"));
    }
    let own = templates_of(m, cx)?;
    merge_dyns(&mut node.dyns, m, own.as_ref().or(scope), cx)
}

/// A key that names a dynamic or entry: decimal digits only.
fn dyn_index(key: &str) -> Option<usize> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// Merges a diff without statics into a comprehension: 0.20's `"d"`
/// replaces the rows, 1.1's `"k"` changes the entries it names.
fn merge_list(
    list: &mut List,
    m: &Map<String, Value>,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<()> {
    if let Some(own) = templates_of(m, cx)? {
        list.templates = Some(Arc::new(own));
    }
    let own = list.templates.clone();
    let row_scope = scope.or(own.as_deref());
    let need = list.statics.len() - 1;
    if m.contains_key("d") {
        let rows = parse_d_rows(m.get("d"), need, row_scope, cx)?;
        let before = cx.rec.wants().then(|| {
            (0..list.rows.len())
                .map(|i| render_row(list, i, cx.comps, HtmlMode::Dead))
                .collect()
        });
        if let Some(before) = before {
            cx.rec.rows_window(0, before);
        }
        list.rows = rows;
        list.keyed = false;
        Ok(())
    } else if let Some(k) = m.get("k") {
        let Value::Object(k) = k else {
            return Err(cx.shape("keyed entries (\"k\") as an object", k));
        };
        merge_keyed(list, k, row_scope, cx)
    } else {
        Ok(())
    }
}

/// One entry of a keyed diff.
enum Entry<'v> {
    /// The entry at this position changed in place (or is new).
    Diff(&'v Map<String, Value>),
    /// The entry that was at `old` moved here, perhaps changed.
    Moved(usize, Option<&'v Map<String, Value>>),
}

fn keyed_entries<'v>(
    k: &'v Map<String, Value>,
    count: usize,
    old_len: usize,
    cx: &Cx,
) -> Result<Vec<(usize, Entry<'v>)>> {
    let mut out = Vec::new();
    for (key, v) in k {
        let Some(i) = dyn_index(key) else { continue };
        if i >= count {
            return Err(cx.malformed(format!("entry {i} is beyond the entry count {count}")));
        }
        let old_index = |n: &Value| {
            n.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n < old_len)
                .ok_or_else(|| cx.malformed(format!("entry {i} moves from {n}, not an old entry")))
        };
        let entry = match v {
            Value::Object(d) => Entry::Diff(d),
            Value::Number(_) => Entry::Moved(old_index(v)?, None),
            Value::Array(pair) => match pair.as_slice() {
                [old, Value::Object(d)] => Entry::Moved(old_index(old)?, Some(d)),
                _ => return Err(cx.shape("a moved entry as [old index, diff]", v)),
            },
            other => return Err(cx.shape("an entry diff, old index or [old, diff]", other)),
        };
        out.push((i, entry));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// 1.1 keyed entries (rendered.js `mergeKeyed`): positions the diff does
/// not name keep their entry; positions at `kc` and beyond are dropped.
fn merge_keyed(
    list: &mut List,
    k: &Map<String, Value>,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<()> {
    let count = keyed_count(k, cx)?;
    let old_len = list.rows.len();
    let entries = keyed_entries(k, count, old_len, cx)?;
    // Every position the list grows by must be given.
    let new_given = entries.iter().filter(|(i, _)| *i >= old_len).count();
    if count > old_len && new_given < count - old_len {
        let given: BTreeSet<usize> = entries.iter().map(|(i, _)| *i).collect();
        let index = (old_len..count)
            .find(|i| !given.contains(i))
            .unwrap_or(old_len);
        return Err(TreeError::MissingEntry { at: cx.at(), index });
    }
    // Moves read the entries as they were before this diff.
    let mut moved_from: HashMap<usize, Vec<Dyn>> = HashMap::new();
    for (_, e) in &entries {
        if let Entry::Moved(old, _) = e {
            moved_from
                .entry(*old)
                .or_insert_with(|| list.rows[*old].clone());
        }
    }
    if cx.rec.wants() {
        record_keyed(list, &entries, count, cx);
    }
    if count > old_len {
        list.rows.resize_with(count, Vec::new);
    }
    // Changes inside an entry are reported for the entry as a whole.
    cx.rec.pause();
    let applied = apply_entries(list, entries, &moved_from, old_len, scope, cx);
    cx.rec.resume();
    applied?;
    list.rows.truncate(count);
    list.keyed = true;
    Ok(())
}

fn apply_entries(
    list: &mut List,
    entries: Vec<(usize, Entry)>,
    moved_from: &HashMap<usize, Vec<Dyn>>,
    old_len: usize,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<()> {
    let need = list.statics.len() - 1;
    for (i, e) in entries {
        cx.within(Step::Row(i), |cx| {
            let (row, diff) = match e {
                Entry::Moved(old, diff) => {
                    (moved_from.get(&old).cloned().unwrap_or_default(), diff)
                }
                Entry::Diff(d) if i < old_len => (std::mem::take(&mut list.rows[i]), Some(d)),
                Entry::Diff(d) => {
                    let row = parse_dyns(|j| d.get(&j.to_string()), need, scope, cx)?;
                    (row, None)
                }
            };
            list.rows[i] = row;
            if let Some(d) = diff {
                merge_dyns(&mut list.rows[i], d, scope, cx)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Merges the numbered keys of a diff into a tree's or an entry's
/// dynamics, in numeric order (so changes are reported in page order).
fn merge_dyns(
    dyns: &mut [Dyn],
    d: &Map<String, Value>,
    scope: Option<&Templates>,
    cx: &mut Cx,
) -> Result<()> {
    let mut keyed: Vec<(usize, &Value)> = d
        .iter()
        .filter_map(|(key, v)| Some((dyn_index(key)?, v)))
        .collect();
    keyed.sort_by_key(|(j, _)| *j);
    for (j, v) in keyed {
        let len = dyns.len();
        let slot = dyns.get_mut(j).ok_or_else(|| TreeError::NoSuchDynamic {
            at: cx.at(),
            index: j,
            len,
        })?;
        cx.within(Step::Dyn(j), |cx| merge_dyn(slot, v, scope, cx))?;
    }
    Ok(())
}

/// Notes the rows a keyed diff touches, as they were. When the diff names
/// every position from its first one to the end (a prepend, say), the
/// changes are worked out over that window as a whole, so an added row
/// reads as one added row rather than every row after it changing.
fn record_keyed(list: &List, entries: &[(usize, Entry)], count: usize, cx: &mut Cx) {
    let old_len = list.rows.len();
    let first = entries.first().map(|(i, _)| *i);
    let lo = match first {
        Some(f) if count < old_len => f.min(count),
        Some(f) => f,
        None if count < old_len => count,
        None => return,
    };
    let row = |i| render_row(list, i, cx.comps, HtmlMode::Dead);
    if entries.len() == count - lo {
        let before = (lo..old_len).map(row).collect();
        cx.rec.rows_window(lo, before);
    } else {
        let mut at: Vec<(usize, Option<String>)> = entries
            .iter()
            .map(|(i, _)| (*i, (*i < old_len).then(|| row(*i))))
            .collect();
        at.extend((count..old_len).map(|i| (i, Some(row(i)))));
        cx.rec.rows_at(at);
    }
}

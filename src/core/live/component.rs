//! The components of a LiveView diff (`"c"`), merged as rendered.js
//! `mergeDiff`/`cachedFindComponent` do (docs/PROTOCOL.md §10): a
//! component's `"s"` may be the cid of another component whose tree it
//! starts from — positive for one in the same diff, negative for one the
//! client already has — and a component without `"s"` is a diff for the one
//! already known. All are resolved against the components as they were
//! before the diff, and only then stored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::change::Step;
use super::html::{HtmlMode, render_node};
use super::tree::{Cx, Node, Result, TreeError, merge_node, parse_node};

/// The deepest chain of components sharing statics that is followed before
/// the diff is called malformed.
const MAX_SHARE_CHAIN: usize = 256;

/// The components of a diff (`"c"`), resolved against the old ones as
/// rendered.js `cachedFindComponent` does: `"s"` may be the cid of a
/// component in this diff (positive) or of an old one (negative) whose tree
/// this one starts from.
pub(crate) fn merge_components(c: &Map<String, Value>, cx: &mut Cx) -> Result<BTreeMap<i64, Node>> {
    let mut diffs: BTreeMap<i64, &Map<String, Value>> = BTreeMap::new();
    for (key, v) in c {
        let cid = key
            .parse::<i64>()
            .map_err(|_| cx.malformed(format!("component key {key:?} is not a cid")))?;
        match v {
            Value::Object(m) => {
                diffs.insert(cid, m);
            }
            other => {
                cx.rec.path.push(Step::Comp(cid));
                let err = cx.shape("a component as an object", other);
                cx.rec.path.pop();
                return Err(err);
            }
        }
    }
    let mut done = BTreeMap::new();
    for &cid in diffs.keys() {
        let mut chain = Vec::new();
        resolve_component(cid, &diffs, &mut done, &mut chain, cx)?;
    }
    Ok(done)
}

fn resolve_component(
    cid: i64,
    diffs: &BTreeMap<i64, &Map<String, Value>>,
    done: &mut BTreeMap<i64, Node>,
    chain: &mut Vec<i64>,
    cx: &mut Cx,
) -> Result<()> {
    if done.contains_key(&cid) {
        return Ok(());
    }
    if chain.contains(&cid) || chain.len() > MAX_SHARE_CHAIN {
        return Err(cx.malformed(format!("components share statics in a cycle at {cid}")));
    }
    chain.push(cid);
    let m = diffs[&cid];
    let saved = std::mem::take(&mut cx.rec.path);
    cx.rec.path.push(Step::Comp(cid));
    let node = component_tree(cid, m, diffs, done, chain, cx);
    cx.rec.path = saved;
    chain.pop();
    done.insert(cid, node?);
    Ok(())
}

fn component_tree(
    cid: i64,
    m: &Map<String, Value>,
    diffs: &BTreeMap<i64, &Map<String, Value>>,
    done: &mut BTreeMap<i64, Node>,
    chain: &mut Vec<i64>,
    cx: &mut Cx,
) -> Result<Node> {
    let comps = cx.comps;
    let old = comps.get(&cid);
    let whole = |cx: &mut Cx| {
        if cx.rec.wants() {
            let before = old.map(|n| render_node(n, comps, HtmlMode::Dead));
            cx.rec.region(before);
        }
    };
    match m.get("s") {
        Some(Value::Number(n)) => {
            let scid = n
                .as_i64()
                .ok_or_else(|| cx.malformed(format!("shared statics cid {n} is not an integer")))?;
            let mut base = if scid > 0 && diffs.contains_key(&scid) {
                let path = std::mem::take(&mut cx.rec.path);
                let resolved = resolve_component(scid, diffs, done, chain, cx);
                cx.rec.path = path;
                resolved?;
                done[&scid].clone()
            } else {
                let from = if scid > 0 { None } else { scid.checked_neg() };
                from.and_then(|c| comps.get(&c)).cloned().ok_or_else(|| {
                    TreeError::MissingComponent {
                        at: cx.at(),
                        cid: scid.unsigned_abs() as i64,
                    }
                })?
            };
            whole(cx);
            cx.rec.pause();
            let merged = merge_node(&mut base, m, None, cx);
            cx.rec.resume();
            merged?;
            Ok(base)
        }
        Some(_) => {
            whole(cx);
            cx.rec.pause();
            let fresh = parse_node(m, None, cx);
            cx.rec.resume();
            fresh
        }
        None => {
            let mut node = old
                .cloned()
                .ok_or_else(|| TreeError::MissingStatics { at: cx.at() })?;
            merge_node(&mut node, m, None, cx)?;
            Ok(node)
        }
    }
}

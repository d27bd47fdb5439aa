//! What a diff changed, kept for reading the HTML around a change as it
//! was before the diff (the "before" text of `element.rs`).
//!
//! A neighbouring dynamic the diff replaced reads as its old HTML; a nested
//! tree or component changed inside reads as its parts as they were, with
//! a component the diff brought new reading as nothing. A comprehension
//! whose rows changed cannot be read as it was (the old rows are not kept),
//! so an element holding one keeps the path form. Components are followed
//! where they sit as a neighbour or inside a neighbour the diff changed;
//! one inside an unchanged nested tree is read as it is now.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::{Change, Step};
use crate::core::live::html::render_dyn_within;
use crate::core::live::tree::{Dyn, Rendered};

/// What a neighbouring piece was before the diff.
pub(super) enum Was<'a> {
    /// What it is now: the diff changed nothing in it.
    Same,
    Html(Cow<'a, str>),
    /// Rows inside it changed, and the old rows are not kept.
    Unknown,
}

/// What the diff changed, for reading neighbours as they were.
pub(super) struct Past<'a> {
    r: &'a Rendered,
    /// Dynamics replaced, and whole components (`None` when new).
    regions: HashMap<&'a [Step], Option<&'a str>>,
    /// Comprehensions whose rows changed.
    rows: HashSet<&'a [Step]>,
    /// Components with any change.
    comps: HashSet<i64>,
    paths: Vec<&'a [Step]>,
}

impl<'a> Past<'a> {
    pub(super) fn of(r: &'a Rendered, changes: &'a [Change]) -> Self {
        let mut past = Past {
            r,
            regions: HashMap::new(),
            rows: HashSet::new(),
            comps: HashSet::new(),
            paths: Vec::with_capacity(changes.len()),
        };
        for c in changes {
            let path = c.path.as_slice();
            match path {
                [list @ .., Step::Row(_)] => {
                    past.rows.insert(list);
                }
                _ => {
                    past.regions.insert(path, c.before.as_deref());
                }
            }
            if let Some(Step::Comp(cid)) = path.first() {
                past.comps.insert(*cid);
            }
            past.paths.push(path);
        }
        past
    }

    /// Whether a change sits strictly inside the part at `at`.
    fn inside(&self, at: &[Step]) -> bool {
        self.paths
            .iter()
            .any(|p| p.len() > at.len() && p.starts_with(at))
    }

    /// The dynamic `d` at `at` as it was, within `cap` bytes.
    pub(super) fn dyn_was(&self, d: &Dyn, at: &[Step], cap: usize) -> Was<'a> {
        if !self.touched(d, at) {
            return Was::Same;
        }
        let mut out = String::new();
        match self.write_was(d, &mut at.to_vec(), cap, &mut out) {
            Some(()) => Was::Html(Cow::Owned(out)),
            None => Was::Unknown,
        }
    }

    /// Whether the diff changed `d` (at `at`) or anything in it.
    fn touched(&self, d: &Dyn, at: &[Step]) -> bool {
        self.regions.contains_key(at)
            || self.inside(at)
            || matches!(d, Dyn::Cid(c) if self.comps.contains(c))
    }

    pub(super) fn rows_were(&self, list: &[Step]) -> Was<'a> {
        if self.rows.contains(list) {
            Was::Unknown
        } else {
            Was::Same
        }
    }

    /// Writes `d` as it was to `out`; `None` when that is not known or
    /// `out` grows past `cap`.
    fn write_was(&self, d: &Dyn, at: &mut Vec<Step>, cap: usize, out: &mut String) -> Option<()> {
        if let Some(was) = self.regions.get(at.as_slice()) {
            out.push_str(was.unwrap_or_default());
            return (out.len() <= cap).then_some(());
        }
        if !self.touched(d, at) {
            let room = cap.checked_sub(out.len())?;
            out.push_str(&render_dyn_within(d, self.r.components(), room)?);
            return Some(());
        }
        match d {
            Dyn::Text(t) => out.push_str(t),
            Dyn::Tree(n) => self.write_parts(&n.statics, &n.dyns, at, cap, out)?,
            Dyn::List(l) => {
                if self.rows.contains(at.as_slice()) {
                    return None;
                }
                for (j, row) in l.rows.iter().enumerate() {
                    at.push(Step::Row(j));
                    let wrote = self.write_parts(&l.statics, row, at, cap, out);
                    at.pop();
                    wrote?;
                }
            }
            Dyn::Cid(c) => {
                let mut at = vec![Step::Comp(*c)];
                match self.regions.get(at.as_slice()) {
                    Some(was) => out.push_str(was.unwrap_or_default()),
                    None => {
                        let n = self.r.components().get(c)?;
                        self.write_parts(&n.statics, &n.dyns, &mut at, cap, out)?;
                    }
                }
            }
        }
        (out.len() <= cap).then_some(())
    }

    fn write_parts(
        &self,
        statics: &[String],
        dyns: &[Dyn],
        at: &mut Vec<Step>,
        cap: usize,
        out: &mut String,
    ) -> Option<()> {
        out.push_str(statics.first()?);
        for (k, (d, s)) in dyns.iter().zip(&statics[1..]).enumerate() {
            at.push(Step::Dyn(k));
            let wrote = self.write_was(d, at, cap, out);
            at.pop();
            wrote?;
            out.push_str(s);
            if out.len() > cap {
                return None;
            }
        }
        Some(())
    }
}

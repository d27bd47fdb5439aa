//! The element a change sits in, named for the change lines of
//! [`super`], with that element's visible text before and after.
//!
//! A changed dynamic's HTML sits between the statics of its part, and
//! further out between the statics of the parts around that. The element
//! enclosing it is found by reading that HTML outward from the dynamic, at
//! most [`BUDGET`] bytes each way: statics as they are, neighbouring
//! dynamics (text, nested trees, components, other rows) rendered only
//! while they fit in what is left of the budget (and at most
//! [`MAX_PIECES`] pieces), so a long comprehension stops the reading at the
//! budget instead of being rendered. The page as a whole is never rendered.
//!
//! To the left, the tags are read forward from the start of what was
//! gathered (from the first tag when the budget cut it short); the innermost
//! element still open at the dynamic encloses it, and a tag left unclosed
//! means the dynamic is inside that tag (an attribute). To the right, tags
//! are read forward to that element's end tag. Markup that does not nest
//! the way it must (an end tag that closes nothing open) gives up, and the
//! line keeps its path.
//!
//! The text before reads every neighbour as it was before the diff
//! (`past.rs`), so several dynamics of one element make one line.

use std::borrow::Cow;
use std::collections::HashSet;

use super::past::{Past, Was};
use super::{Change, Element, Step};
use crate::core::live::html::{render_dyn_within, render_row_within, text_of};
use crate::core::live::source::{Tag, tags};
use crate::core::live::tree::{Dyn, List, Rendered};

/// How many bytes of HTML are read on each side of a change.
const BUDGET: usize = 2048;

/// The most pieces gathered on each side: empty dynamics add no bytes but
/// still cost a step.
const MAX_PIECES: usize = 512;

/// Elements with no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

fn is_void(name: &str) -> bool {
    VOID.contains(&name)
}

/// Where a piece of the gathered HTML came from: a static of the part at a
/// path, or the dynamic or row at a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PieceAt {
    Static(Vec<Step>, usize),
    Part(Vec<Step>),
}

/// Where an element's start tag is: its piece and the distance of its `<`
/// from the piece's end (the end, since a piece cut by the budget keeps its
/// end on the left side).
type Anchor = (PieceAt, usize);

/// Sets each change's [`Element`], and drops the lines of further dynamics
/// of an element already named: the first line's texts cover them all.
pub(super) fn name_elements(r: &Rendered, changes: &mut Vec<Change>) {
    let past = Past::of(r, changes);
    let mut seen = HashSet::new();
    let mut named = Vec::with_capacity(changes.len());
    for c in changes.iter() {
        let found = match c.path.as_slice() {
            [.., Step::Row(_)] | [Step::Comp(_)] => fragment(c).map(|e| (e, None)),
            [.., Step::Dyn(_)] => dynamic(r, c, &past),
            _ => None,
        };
        let keep = match &found {
            Some((_, Some(anchor))) => seen.insert(anchor.clone()),
            _ => true,
        };
        named.push((found.map(|(e, _)| e), keep));
    }
    let mut named = named.into_iter();
    changes.retain_mut(|c| {
        let Some((element, keep)) = named.next() else {
            return true;
        };
        c.element = element;
        keep
    });
}

/// A row or component: its own root element, when it is one element.
fn fragment(c: &Change) -> Option<Element> {
    let name = [&c.after, &c.before]
        .into_iter()
        .flatten()
        .find_map(|h| root_element(h))?;
    Some(Element {
        name,
        in_tag: false,
        before: c.before_text(),
        after: c.after_text(),
    })
}

/// A dynamic: the region itself when it is one element before and after
/// (an `if` block's `<p class="notice">`), else the element around it; the
/// anchor is set when several dynamics may share the line.
fn dynamic(r: &Rendered, c: &Change, past: &Past) -> Option<(Element, Option<Anchor>)> {
    let own = |h: &Option<String>| h.as_deref().and_then(root_element);
    let (b, a) = (own(&c.before), own(&c.after));
    if let (Some(b), Some(a)) = (&b, &a)
        && a == b
    {
        return fragment(c).map(|e| (e, None));
    }
    if let Some(found) = enclosing(r, c, past) {
        return Some(found);
    }
    // No element around it in reach: one side being an element names it.
    if b.is_some() || a.is_some() {
        return fragment(c).map(|e| (e, None));
    }
    None
}

/// The label of the element whose HTML is `html`, when `html` is one
/// element (whitespace and comments aside).
fn root_element(html: &str) -> Option<String> {
    let Some(Tag::Start {
        name,
        attrs,
        self_closing,
        start,
        end,
    }) = tags(html).next()
    else {
        return None;
    };
    if !html[..end].ends_with('>') || !text_of(&html[..start]).is_empty() {
        return None;
    }
    let close = if self_closing || is_void(&name) {
        end
    } else {
        let rest = &html[end..];
        end + closing(rest, &name)?
    };
    let after = &html[close..];
    (tags(after).next().is_none() && text_of(after).is_empty()).then(|| label(&name, &attrs, false))
}

/// Where the end tag of the element `name` ends, reading from inside it;
/// `None` when it is not in `src` or the tags on the way do not nest.
fn closing(src: &str, name: &str) -> Option<usize> {
    let mut open: Vec<String> = Vec::new();
    for t in tags(src) {
        match t {
            Tag::Start {
                name: n,
                self_closing,
                ..
            } => {
                if !self_closing && !is_void(&n) {
                    open.push(n);
                }
            }
            Tag::End { name: n, end, .. } => {
                if !src[..end].ends_with('>') {
                    return None;
                }
                if open.is_empty() {
                    return (n == name).then_some(end);
                }
                if open.last() != Some(&n) {
                    return None;
                }
                open.pop();
            }
        }
    }
    None
}

/// `tag`, `tag#id`, `tag.class`, or in a tag `tag[name=N]`.
fn label(tag: &str, attrs: &[(String, &str)], in_tag: bool) -> String {
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if in_tag && let Some(n) = get("name") {
        return format!("{tag}[name={n}]");
    }
    if let Some(id) = get("id") {
        return format!("{tag}#{id}");
    }
    if let Some(class) = get("class").and_then(|c| c.split_whitespace().next()) {
        return format!("{tag}.{class}");
    }
    tag.to_owned()
}

/// One step out from the change: the part it sits in, at dynamic `i`, or
/// the comprehension its row sits in, at row `j`.
enum Level<'a> {
    Parts {
        statics: &'a [String],
        dyns: &'a [Dyn],
        i: usize,
        at: Vec<Step>,
    },
    Rows {
        list: &'a List,
        j: usize,
        at: Vec<Step>,
    },
}

/// The levels from the top (the view or the component) down to the
/// dynamic at `path`.
fn levels<'a>(r: &'a Rendered, path: &[Step]) -> Option<Vec<Level<'a>>> {
    let (node, rest, mut at) = match path.first() {
        Some(Step::Comp(c)) => (r.components().get(c)?, &path[1..], vec![Step::Comp(*c)]),
        _ => (r.root()?, path, Vec::new()),
    };
    let (mut statics, mut dyns): (&[String], &[Dyn]) = (&node.statics, &node.dyns);
    let mut out = Vec::new();
    let mut steps = rest.iter().peekable();
    while let Some(step) = steps.next() {
        let Step::Dyn(i) = *step else { return None };
        // Every part holds one static more than dynamics (a row left short
        // by a diff that failed part way would not).
        if statics.len() != dyns.len() + 1 {
            return None;
        }
        out.push(Level::Parts {
            statics,
            dyns,
            i,
            at: at.clone(),
        });
        at.push(Step::Dyn(i));
        let d = dyns.get(i)?;
        match (steps.peek(), d) {
            (None, _) => break,
            (Some(Step::Row(j)), Dyn::List(l)) => {
                let j = *j;
                steps.next();
                out.push(Level::Rows {
                    list: l,
                    j,
                    at: at.clone(),
                });
                at.push(Step::Row(j));
                (statics, dyns) = (&l.statics, l.rows.get(j)?);
            }
            (Some(Step::Dyn(_)), Dyn::Tree(n)) => (statics, dyns) = (&n.statics, &n.dyns),
            _ => return None,
        }
    }
    Some(out)
}

struct Piece<'a> {
    after: Cow<'a, str>,
    before: Was<'a>,
    at: PieceAt,
}

impl Piece<'_> {
    /// The piece's HTML now, or as it was `before` the diff.
    fn html(&self, before: bool) -> Option<&str> {
        match (&self.before, before) {
            (_, false) | (Was::Same, true) => Some(&self.after),
            (Was::Html(h), true) => Some(h),
            (Was::Unknown, true) => None,
        }
    }
}

/// The HTML gathered on one side of the change, nearest piece first.
struct Side<'a> {
    pieces: Vec<Piece<'a>>,
    used: usize,
    /// The budget ran out (or a neighbour did not fit in it).
    full: bool,
    left: bool,
}

impl<'a> Side<'a> {
    fn new(left: bool) -> Self {
        Side {
            pieces: Vec::new(),
            used: 0,
            full: false,
            left,
        }
    }

    fn room(&self) -> usize {
        BUDGET - self.used
    }

    fn add_static(&mut self, s: &'a str, at: PieceAt) {
        self.full |= self.pieces.len() >= MAX_PIECES;
        if self.full {
            return;
        }
        let room = self.room();
        let s = if s.len() <= room {
            s
        } else {
            self.full = true;
            if self.left {
                let mut i = s.len() - room;
                while !s.is_char_boundary(i) {
                    i += 1;
                }
                &s[i..]
            } else {
                let mut i = room;
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                &s[..i]
            }
        };
        self.used += s.len();
        self.pieces.push(Piece {
            after: Cow::Borrowed(s),
            before: Was::Same,
            at,
        });
    }

    /// A neighbouring dynamic or row, rendered by `render` within the room
    /// left (`None` when it does not fit).
    fn add_part(
        &mut self,
        render: impl FnOnce(usize) -> Option<String>,
        was: impl FnOnce(&[Step], usize) -> Was<'a>,
        at: Vec<Step>,
    ) {
        self.full |= self.pieces.len() >= MAX_PIECES;
        if self.full {
            return;
        }
        match render(self.room()) {
            Some(html) => {
                self.used += html.len();
                let before = was(&at, self.room());
                self.pieces.push(Piece {
                    after: Cow::Owned(html),
                    before,
                    at: PieceAt::Part(at),
                });
            }
            None => self.full = true,
        }
    }
}

fn with(at: &[Step], step: Step) -> Vec<Step> {
    let mut p = at.to_vec();
    p.push(step);
    p
}

/// The HTML on each side of the change, innermost level first.
fn gather<'a>(r: &'a Rendered, levels: &[Level<'a>], past: &Past<'a>) -> (Side<'a>, Side<'a>) {
    let comps = r.components();
    let (mut left, mut right) = (Side::new(true), Side::new(false));
    for level in levels.iter().rev() {
        match level {
            Level::Parts {
                statics,
                dyns,
                i,
                at,
            } => {
                let i = *i;
                left.add_static(&statics[i], PieceAt::Static(at.clone(), i));
                for k in (0..i).rev() {
                    if left.full {
                        break;
                    }
                    let d = &dyns[k];
                    left.add_part(
                        |cap| render_dyn_within(d, comps, cap),
                        |at, cap| past.dyn_was(d, at, cap),
                        with(at, Step::Dyn(k)),
                    );
                    left.add_static(&statics[k], PieceAt::Static(at.clone(), k));
                }
                right.add_static(&statics[i + 1], PieceAt::Static(at.clone(), i + 1));
                for k in i + 1..dyns.len() {
                    if right.full {
                        break;
                    }
                    let d = &dyns[k];
                    right.add_part(
                        |cap| render_dyn_within(d, comps, cap),
                        |at, cap| past.dyn_was(d, at, cap),
                        with(at, Step::Dyn(k)),
                    );
                    right.add_static(&statics[k + 1], PieceAt::Static(at.clone(), k + 1));
                }
            }
            Level::Rows { list, j, at } => {
                for k in (0..*j).rev() {
                    if left.full {
                        break;
                    }
                    left.add_part(
                        |cap| render_row_within(list, k, comps, cap),
                        |_, _| past.rows_were(at),
                        with(at, Step::Row(k)),
                    );
                }
                for k in j + 1..list.rows.len() {
                    if right.full {
                        break;
                    }
                    right.add_part(
                        |cap| render_row_within(list, k, comps, cap),
                        |_, _| past.rows_were(at),
                        with(at, Step::Row(k)),
                    );
                }
            }
        }
    }
    (left, right)
}

/// The start of the innermost element open at the end of `s`, and whether
/// `s` ends inside that element's start tag. After a cut `s` may begin
/// inside a tag, so reading begins at its first `<`.
fn open_at_end(s: &str, cut: bool) -> Option<(usize, bool)> {
    let from = if cut { s.find('<')? } else { 0 };
    let mut open: Vec<(String, usize)> = Vec::new();
    for t in tags(&s[from..]) {
        match t {
            Tag::Start {
                name,
                self_closing,
                start,
                end,
                ..
            } => {
                if !s[..from + end].ends_with('>') {
                    return Some((from + start, true));
                }
                if !self_closing && !is_void(&name) {
                    open.push((name, from + start));
                }
            }
            // An end tag with nothing open to close closes an element
            // from before the cut.
            Tag::End { name, .. } => {
                if let Some(p) = open.iter().rposition(|(n, _)| *n == name) {
                    open.truncate(p);
                }
            }
        }
    }
    open.pop().map(|(_, at)| (at, false))
}

/// The element enclosing a changed dynamic (see the module doc).
fn enclosing(r: &Rendered, c: &Change, past: &Past) -> Option<(Element, Option<Anchor>)> {
    let levels = levels(r, &c.path)?;
    let (left, right) = gather(r, &levels, past);
    let fwd: Vec<&Piece> = left.pieces.iter().rev().collect();
    let l_after: String = fwd.iter().map(|p| &*p.after).collect();
    let r_after: String = right.pieces.iter().map(|p| &*p.after).collect();
    let (open, in_tag) = open_at_end(&l_after, left.full)?;
    let region_after = c.after.as_deref().unwrap_or_default();
    if in_tag {
        let end = tag_end(&r_after)?;
        let whole = format!("{}{region_after}{}", &l_after[open..], &r_after[..end]);
        let Some(Tag::Start { name, attrs, .. }) = tags(&whole).next() else {
            return None;
        };
        let element = Element {
            name: label(&name, &attrs, true),
            in_tag: true,
            before: c.before_text(),
            after: c.after_text(),
        };
        return Some((element, None));
    }
    let Some(Tag::Start { name, attrs, .. }) = tags(&l_after[open..]).next() else {
        return None;
    };
    let close = closing(&r_after, &name)?;
    let side = |before: bool| {
        let region = if before {
            c.before.as_deref()
        } else {
            c.after.as_deref()
        };
        let mut html = join_left(&fwd, open, before)?;
        html.push_str(region.unwrap_or_default());
        join_right(&right.pieces, close, before, &mut html)?;
        Some(text_of(&html))
    };
    let element = Element {
        name: label(&name, &attrs, false),
        in_tag: false,
        before: Some(side(true)?),
        after: Some(side(false)?),
    };
    Some((element, Some(anchor(&fwd, open))))
}

/// The first `>` outside quotes: the end of the tag a change sits in.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The left pieces' HTML from the start tag at `open`, as it was `before`
/// the diff or is now; `None` when what it was is not known.
fn join_left(fwd: &[&Piece], open: usize, before: bool) -> Option<String> {
    let mut out = String::new();
    let mut start = 0;
    for p in fwd {
        let end = start + p.after.len();
        if end > open {
            if start <= open {
                out.push_str(&p.after[open - start..]);
            } else {
                out.push_str(p.html(before)?);
            }
        }
        start = end;
    }
    Some(out)
}

/// The right pieces' HTML up to `close`, appended to `out`.
fn join_right(pieces: &[Piece], close: usize, before: bool, out: &mut String) -> Option<()> {
    let mut start = 0;
    for p in pieces {
        if start >= close {
            break;
        }
        let end = start + p.after.len();
        if end > close {
            out.push_str(&p.after[..close - start]);
        } else {
            out.push_str(p.html(before)?);
        }
        start = end;
    }
    Some(())
}

fn anchor(fwd: &[&Piece], open: usize) -> Anchor {
    let mut start = 0;
    for p in fwd {
        let end = start + p.after.len();
        if open < end {
            return (p.at.clone(), end - open);
        }
        start = end;
    }
    (PieceAt::Part(Vec::new()), 0)
}

//! What a diff changed, as lines a person scanning a terminal can follow
//! (docs/PROTOCOL.md §10).
//!
//! A merge notes each region it replaced, with the region's HTML before;
//! once the merge is done the HTML after is read from the new tree. Only the
//! regions the diff names are rendered, so the cost follows the diff, not
//! the page.
//!
//! A region is the deepest dynamic the diff replaced, a whole comprehension
//! row, or a whole component when its statics changed. Rows are compared as
//! a window when the diff names every row from some position to the end (a
//! 0.20 `d` always does): rows equal at both ends of the window are left
//! out, so a row added at the top reads as one added row.
//!
//! Each line names the element the change sits in rather than the region's
//! path in the tree; `element.rs` finds it within a small budget (see
//! there), reading the neighbours as they were for the text before with
//! `past.rs`, and the path form is the fallback.
//!
//! # Line format
//!
//! ```text
//! ~ ELEMENT "text before" → "text after"
//! ~ ELEMENT attrs before → attrs after
//! + ELEMENT "text"
//! - ELEMENT "text"
//! ```
//!
//! `~` a region changed, `+` a row or component appeared, `-` a row went.
//!
//! - A dynamic in an element's content: ELEMENT is the element it sits in,
//!   as its tag name with `#id`, else `.first-class` (`h1`, `ul#history`,
//!   `p.notice`); the texts are that whole element's visible text before
//!   and after (`~ h1 "Count: 1" → "Count: 2"`). Several dynamics of one
//!   element changed by one diff make one line.
//! - A dynamic inside a tag (its attributes): ELEMENT is the tag with its
//!   `name`, else `#id`, else `.first-class`, and the attribute text is
//!   shown bare, `(none)` when empty:
//!   `~ input[name=value] value="1" → value="2"`.
//! - A comprehension row or a whole component: ELEMENT is its root element
//!   (`+ li "count 2"`, `- li "count 0"`, `+ div.card "three"`).
//!
//! When no element is found (a row or component that is not one element,
//! a dynamic outside any element, an element longer than the budget, or
//! markup the scan cannot follow), ELEMENT is the region's path instead:
//! dynamic indices joined by `.`, a comprehension row as `[i]`, a component
//! as `cN` (`0`, `3[1]`, `3[1].0`, `c2.0`; `root` is the whole view), with
//! the region's own text. The path is kept in [`Change::path`] either way.
//!
//! The texts are visible text ([`text_of`](super::text_of)) as JSON
//! strings, cut to 80 characters with `…`; two texts that first differ
//! past that are shown from a little before the difference, after a `…`.
//! When the visible text did not change (only markup did) the region's HTML
//! is shown instead, after the word `html`: `~ p html "<b>a</b>" → "<i>a</i>"`.

mod element;
mod past;

use std::fmt;

use super::html::{HtmlMode, list_at, render_at, render_row, text_of};
use super::tree::Rendered;

/// One step of a path into the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The i-th dynamic of a tree or row.
    Dyn(usize),
    /// The i-th row (entry) of a comprehension.
    Row(usize),
    /// A component, by cid (only first in a path).
    Comp(i64),
}

/// A path in the notation of the module doc.
pub fn path_string(path: &[Step]) -> String {
    if path.is_empty() {
        return "root".into();
    }
    let mut out = String::new();
    for step in path {
        match step {
            Step::Dyn(i) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&i.to_string());
            }
            Step::Row(i) => out.push_str(&format!("[{i}]")),
            Step::Comp(c) => out.push_str(&format!("c{c}")),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One changed region, with its HTML before and after, and the element
/// the line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: Vec<Step>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The element the change sits in; `None` when it was not found and the
    /// line names the path.
    pub element: Option<Element>,
}

/// The element a change is shown in (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// `h1`, `ul#history`, `input[name=value]`, …
    pub name: String,
    /// Whether the change is to the tag's attributes rather than its
    /// content.
    pub in_tag: bool,
    /// The element's visible text before and after (the attribute text
    /// when `in_tag`); `None` where the region did not exist.
    pub before: Option<String>,
    pub after: Option<String>,
}

const MAX_SHOWN: usize = 80;

impl Change {
    pub fn kind(&self) -> ChangeKind {
        match (&self.before, &self.after) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        }
    }

    /// The region's own visible text before.
    pub fn before_text(&self) -> Option<String> {
        self.before.as_deref().map(text_of)
    }

    /// The region's own visible text after.
    pub fn after_text(&self) -> Option<String> {
        self.after.as_deref().map(text_of)
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() > MAX_SHOWN {
        let mut c: String = s.chars().take(MAX_SHOWN - 1).collect();
        c.push('…');
        c
    } else {
        s.to_owned()
    }
}

fn shown(s: &str) -> String {
    serde_json::Value::String(cut(s)).to_string()
}

/// Characters kept before the first difference when the start of two
/// long texts is left out.
const LEAD: usize = 20;

/// Two texts, from a little before where they first differ when that is
/// past what the cut would show (a long paragraph whose end changed).
fn shown_pair(before: &str, after: &str) -> (String, String) {
    let same = before
        .chars()
        .zip(after.chars())
        .take_while(|(b, a)| b == a)
        .count();
    if same + LEAD < MAX_SHOWN {
        return (shown(before), shown(after));
    }
    // Start at a word when one starts in the lead (the texts agree there).
    let lead: Vec<char> = before.chars().skip(same - LEAD).take(LEAD).collect();
    let word = lead
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let from = |s: &str| {
        let mut t = String::from("…");
        t.extend(s.chars().skip(same - LEAD + word));
        shown(&t)
    };
    (from(before), from(after))
}

/// Attribute text, bare: quotes read as they are in the HTML.
fn shown_attrs(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => cut(s),
        _ => "(none)".into(),
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, before, after) = match &self.element {
            Some(e) if e.in_tag => {
                let (b, a) = (e.before.as_deref(), e.after.as_deref());
                return write!(f, "~ {} {} → {}", e.name, shown_attrs(b), shown_attrs(a));
            }
            Some(e) => (e.name.clone(), e.before.clone(), e.after.clone()),
            None => (
                path_string(&self.path),
                self.before_text(),
                self.after_text(),
            ),
        };
        match (before, after) {
            (None, Some(a)) => write!(f, "+ {name} {}", shown(&a)),
            (Some(b), None) => write!(f, "- {name} {}", shown(&b)),
            (Some(b), Some(a)) if b != a => {
                let (b, a) = shown_pair(&b, &a);
                write!(f, "~ {name} {b} → {a}")
            }
            _ => {
                let b = self.before.as_deref().unwrap_or_default();
                let a = self.after.as_deref().unwrap_or_default();
                write!(f, "~ {name} html {} → {}", shown(b), shown(a))
            }
        }
    }
}

/// A region a merge touched, as it was.
enum Touch {
    /// One region (dynamic, component or the root); `before` is `None` for
    /// a component that is new.
    Region {
        path: Vec<Step>,
        before: Option<String>,
    },
    /// Rows of the comprehension at `path`, from row `lo` to the end.
    Window {
        path: Vec<Step>,
        lo: usize,
        before: Vec<String>,
    },
    /// Single rows of the comprehension at `path`.
    Rows {
        path: Vec<Step>,
        rows: Vec<(usize, Option<String>)>,
    },
}

/// Tracks the path a merge is at and the regions it touched.
pub(crate) struct Recorder {
    pub(crate) path: Vec<Step>,
    on: bool,
    paused: u32,
    touches: Vec<Touch>,
}

impl Recorder {
    /// `on` is false for the join, where everything is new.
    pub(crate) fn new(on: bool) -> Self {
        Recorder {
            path: Vec::new(),
            on,
            paused: 0,
            touches: Vec::new(),
        }
    }

    /// Whether touches are being noted here (so the caller renders the
    /// "before" HTML only when it is needed).
    pub(crate) fn wants(&self) -> bool {
        self.on && self.paused == 0
    }

    /// Inside a region already noted as a whole, nothing finer is noted.
    pub(crate) fn pause(&mut self) {
        self.paused += 1;
    }

    pub(crate) fn resume(&mut self) {
        self.paused = self.paused.saturating_sub(1);
    }

    pub(crate) fn region(&mut self, before: Option<String>) {
        if self.wants() {
            self.touches.push(Touch::Region {
                path: self.path.clone(),
                before,
            });
        }
    }

    pub(crate) fn rows_window(&mut self, lo: usize, before: Vec<String>) {
        if self.wants() {
            self.touches.push(Touch::Window {
                path: self.path.clone(),
                lo,
                before,
            });
        }
    }

    pub(crate) fn rows_at(&mut self, rows: Vec<(usize, Option<String>)>) {
        if self.wants() {
            self.touches.push(Touch::Rows {
                path: self.path.clone(),
                rows,
            });
        }
    }

    /// The changes, reading the "after" side from the merged tree.
    pub(crate) fn finish(self, r: &Rendered) -> Vec<Change> {
        let mut out = Vec::new();
        let mode = HtmlMode::Dead;
        for touch in self.touches {
            match touch {
                Touch::Region { path, before } => {
                    let after = render_at(r, &path, mode);
                    if before != after {
                        out.push(Change {
                            path,
                            before,
                            after,
                            element: None,
                        });
                    }
                }
                Touch::Window { path, lo, before } => {
                    let after = match list_at(r, &path) {
                        Some(l) => (lo..l.rows.len())
                            .map(|i| render_row(l, i, r.components(), mode))
                            .collect(),
                        None => Vec::new(),
                    };
                    diff_rows(&path, lo, before, after, &mut out);
                }
                Touch::Rows { path, rows } => {
                    let list = list_at(r, &path);
                    for (i, before) in rows {
                        let after = list
                            .filter(|l| i < l.rows.len())
                            .map(|l| render_row(l, i, r.components(), mode));
                        if before != after {
                            out.push(row_change(&path, i, before, after));
                        }
                    }
                }
            }
        }
        element::name_elements(r, &mut out);
        out
    }
}

fn row_change(path: &[Step], i: usize, before: Option<String>, after: Option<String>) -> Change {
    let mut path = path.to_vec();
    path.push(Step::Row(i));
    Change {
        path,
        before,
        after,
        element: None,
    }
}

/// Above this many row pairs the rows between the equal ends are paired up
/// by position instead of aligned (aligning costs their product).
const MAX_ALIGN: usize = 250_000;

/// Rows `lo..` before and after. Equal rows at both ends are dropped; the
/// rest are aligned on their longest common subsequence, and in each gap
/// between aligned rows the rows pair up as changed, the rest added or
/// removed. Removed rows are numbered by their old position, others by
/// their new one.
fn diff_rows(
    path: &[Step],
    lo: usize,
    before: Vec<String>,
    after: Vec<String>,
    out: &mut Vec<Change>,
) {
    let prefix = before
        .iter()
        .zip(&after)
        .take_while(|(b, a)| b == a)
        .count();
    let room = before.len().min(after.len()) - prefix;
    let suffix = before
        .iter()
        .rev()
        .zip(after.iter().rev())
        .take(room)
        .take_while(|(b, a)| b == a)
        .count();
    let old = &before[prefix..before.len() - suffix];
    let new = &after[prefix..after.len() - suffix];
    let at = lo + prefix;
    let mut gap = |(oi, oj): (usize, usize), (ni, nj): (usize, usize)| {
        let paired = (oj - oi).min(nj - ni);
        for k in 0..paired {
            let (b, a) = (&old[oi + k], &new[ni + k]);
            // Unaligned gaps (past MAX_ALIGN) may pair equal rows.
            if b == a {
                continue;
            }
            out.push(row_change(
                path,
                at + ni + k,
                Some(b.clone()),
                Some(a.clone()),
            ));
        }
        for (k, a) in new.iter().enumerate().take(nj).skip(ni + paired) {
            out.push(row_change(path, at + k, None, Some(a.clone())));
        }
        for (k, b) in old.iter().enumerate().take(oj).skip(oi + paired) {
            out.push(row_change(path, at + k, Some(b.clone()), None));
        }
    };
    if old.is_empty() || new.is_empty() || old.len() * new.len() > MAX_ALIGN {
        gap((0, old.len()), (0, new.len()));
        return;
    }
    // lcs[i][j]: the longest common subsequence of old[i..] and new[j..].
    let w = new.len() + 1;
    let mut lcs = vec![0u32; (old.len() + 1) * w];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i * w + j] = if old[i] == new[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j, mut oi, mut ni) = (0, 0, 0, 0);
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            gap((oi, i), (ni, j));
            i += 1;
            j += 1;
            (oi, ni) = (i, j);
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    gap((oi, old.len()), (ni, new.len()));
}

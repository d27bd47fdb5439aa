//! The HTML a LiveView's rendered tree stands for, and its visible text
//! (docs/PROTOCOL.md §10).
//!
//! HTML is statics interleaved with dynamics, comprehension rows one after
//! another, components in place of their cid — the JS client's `toString`
//! and the server's `Diff.to_iodata`. Two modes:
//!
//! - [`HtmlMode::Dead`]: exactly what the server's static (dead) render puts
//!   inside the view's element. The server adds nothing to components there.
//! - [`HtmlMode::Browser`]: what the JS client hands to the DOM, as far as a
//!   terminal needs it: each component's root element gets
//!   `data-phx-component="CID"` (inserted right after the tag name, as
//!   rendered.js `modifyRoot` does), so selectors and `--target` can find
//!   components. The client's own bookkeeping attributes (`data-phx-id`
//!   magic ids, `data-phx-skip`, and 1.1's `data-phx-view`) are left out:
//!   they only serve its DOM patching.
//!
//! [`text_of`] turns HTML into the text a person sees: tags dropped (and
//! the contents of `script`, `style` and `template`), entities decoded,
//! block boundaries and whitespace runs made single spaces.

use std::collections::BTreeMap;

use super::change::Step;
use super::tree::{Dyn, List, Node, Rendered};

/// How deep components may nest inside each other when rendering. A
/// component that (through others) contains itself would otherwise recurse
/// forever; deeper ones render as nothing.
const MAX_COMPONENT_DEPTH: u32 = 128;

/// Which HTML to produce; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtmlMode {
    Dead,
    Browser,
}

struct Out<'a> {
    buf: String,
    comps: &'a BTreeMap<i64, Node>,
    mode: HtmlMode,
    depth: u32,
    /// The most bytes to produce; past it rendering stops and `over` is
    /// set (for the bounded renders of [`render_dyn_within`]).
    cap: usize,
    over: bool,
}

impl Rendered {
    /// The view's HTML as the browser holds it: components carry
    /// `data-phx-component`. Empty before the join.
    pub fn to_html(&self) -> String {
        self.html(HtmlMode::Browser)
    }

    /// The view's HTML as the server's dead render has it.
    pub fn dead_html(&self) -> String {
        self.html(HtmlMode::Dead)
    }

    pub fn html(&self, mode: HtmlMode) -> String {
        self.root()
            .map(|n| render_node(n, self.components(), mode))
            .unwrap_or_default()
    }

    /// The view's visible text (see [`text_of`]).
    pub fn text(&self) -> String {
        text_of(&self.dead_html())
    }
}

pub(crate) fn render_node(n: &Node, comps: &BTreeMap<i64, Node>, mode: HtmlMode) -> String {
    let mut o = Out::new(comps, mode);
    o.node(n);
    o.buf
}

pub(crate) fn render_dyn(d: &Dyn, comps: &BTreeMap<i64, Node>, mode: HtmlMode) -> String {
    let mut o = Out::new(comps, mode);
    o.dyn_(d);
    o.buf
}

/// One row of a comprehension; empty when there is no such row.
pub(crate) fn render_row(
    list: &List,
    i: usize,
    comps: &BTreeMap<i64, Node>,
    mode: HtmlMode,
) -> String {
    let mut o = Out::new(comps, mode);
    if let Some(row) = list.rows.get(i) {
        o.parts(&list.statics, row);
    }
    o.buf
}

/// A dynamic's HTML when it is at most `cap` bytes; `None` past that, with
/// no more than about `cap` bytes rendered, so a long comprehension costs
/// the cap and not its length.
pub(crate) fn render_dyn_within(
    d: &Dyn,
    comps: &BTreeMap<i64, Node>,
    cap: usize,
) -> Option<String> {
    let mut o = Out::new(comps, HtmlMode::Dead);
    o.cap = cap;
    o.dyn_(d);
    (!o.over).then_some(o.buf)
}

/// A comprehension row's HTML when it is at most `cap` bytes.
pub(crate) fn render_row_within(
    list: &List,
    i: usize,
    comps: &BTreeMap<i64, Node>,
    cap: usize,
) -> Option<String> {
    let mut o = Out::new(comps, HtmlMode::Dead);
    o.cap = cap;
    o.parts(&list.statics, list.rows.get(i)?);
    (!o.over).then_some(o.buf)
}

/// What a path names in the tree: a tree, a dynamic or a comprehension row.
enum Target<'a> {
    Node(&'a Node),
    Dyn(&'a Dyn),
    Row(&'a List, usize),
}

impl<'a> Target<'a> {
    fn dyns(&self) -> Option<&'a [Dyn]> {
        match *self {
            Target::Node(n) => Some(&n.dyns),
            Target::Dyn(Dyn::Tree(n)) => Some(&n.dyns),
            Target::Row(l, i) => l.rows.get(i).map(Vec::as_slice),
            Target::Dyn(_) => None,
        }
    }
}

fn find<'a>(r: &'a Rendered, path: &[Step]) -> Option<Target<'a>> {
    let (mut cur, rest) = match path.first() {
        Some(Step::Comp(c)) => (Target::Node(r.components().get(c)?), &path[1..]),
        _ => (Target::Node(r.root()?), path),
    };
    for step in rest {
        cur = match (*step, &cur) {
            (Step::Dyn(i), _) => Target::Dyn(cur.dyns()?.get(i)?),
            (Step::Row(i), Target::Dyn(Dyn::List(l))) if i < l.rows.len() => Target::Row(l, i),
            _ => return None,
        };
    }
    Some(cur)
}

/// The HTML of the part a path names, if it exists.
pub(crate) fn render_at(r: &Rendered, path: &[Step], mode: HtmlMode) -> Option<String> {
    let comps = r.components();
    Some(match find(r, path)? {
        Target::Node(n) => render_node(n, comps, mode),
        Target::Dyn(d) => render_dyn(d, comps, mode),
        Target::Row(l, i) => render_row(l, i, comps, mode),
    })
}

/// The comprehension a path names, if it names one.
pub(crate) fn list_at<'a>(r: &'a Rendered, path: &[Step]) -> Option<&'a List> {
    match find(r, path)? {
        Target::Dyn(Dyn::List(l)) => Some(l),
        _ => None,
    }
}

impl<'a> Out<'a> {
    fn new(comps: &'a BTreeMap<i64, Node>, mode: HtmlMode) -> Self {
        Out {
            buf: String::new(),
            comps,
            mode,
            depth: 0,
            cap: usize::MAX,
            over: false,
        }
    }

    /// Appends `s` if it fits under the cap.
    fn push(&mut self, s: &str) {
        if self.over || self.buf.len().saturating_add(s.len()) > self.cap {
            self.over = true;
        } else {
            self.buf.push_str(s);
        }
    }

    fn node(&mut self, n: &Node) {
        self.parts(&n.statics, &n.dyns);
    }

    /// `s[0] d[0] s[1] … s[n]`.
    fn parts(&mut self, statics: &[String], dyns: &[Dyn]) {
        let mut statics = statics.iter();
        if let Some(first) = statics.next() {
            self.push(first);
        }
        for (s, d) in statics.zip(dyns) {
            if self.over {
                return;
            }
            self.dyn_(d);
            self.push(s);
        }
    }

    fn dyn_(&mut self, d: &Dyn) {
        match d {
            Dyn::Text(t) => self.push(t),
            Dyn::Tree(n) => self.node(n),
            Dyn::List(l) => {
                for row in &l.rows {
                    if self.over {
                        break;
                    }
                    self.parts(&l.statics, row);
                }
            }
            Dyn::Cid(cid) => self.component(*cid),
        }
    }

    fn component(&mut self, cid: i64) {
        let Some(n) = self.comps.get(&cid) else {
            return;
        };
        if self.depth >= MAX_COMPONENT_DEPTH {
            return;
        }
        self.depth += 1;
        match self.mode {
            HtmlMode::Dead => self.node(n),
            HtmlMode::Browser => {
                let start = self.buf.len();
                self.node(n);
                let attr = format!(" data-phx-component=\"{cid}\"");
                if let Some(at) = after_root_tag_name(&self.buf[start..]) {
                    self.buf.insert_str(start + at, &attr);
                }
            }
        }
        self.depth -= 1;
    }
}

/// Where the root element's tag name ends, after leading whitespace and
/// comments; `None` when the HTML does not start with an element.
fn after_root_tag_name(html: &str) -> Option<usize> {
    let mut i = 0;
    let b = html.as_bytes();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if html[i..].starts_with("<!--") {
            i += html[i..].find("-->")? + 3;
        } else {
            break;
        }
    }
    if b.get(i) != Some(&b'<') {
        return None;
    }
    let name_len = html[i + 1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(html.len() - i - 1);
    (name_len > 0).then_some(i + 1 + name_len)
}

/// Elements whose boundaries do not separate words.
const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "ins", "kbd", "label", "mark", "output", "q", "s", "samp", "small", "span", "strong", "sub",
    "sup", "time", "tt", "u", "var",
];

/// Elements whose contents are not text a person sees.
const HIDDEN: &[&str] = &["script", "style", "template"];

/// The visible text of an HTML fragment: tags removed, entities decoded,
/// whitespace collapsed, trimmed. Text inside a tag (an attribute fragment
/// like ` value="1"`) is kept as text, so it still shows as something.
pub fn text_of(html: &str) -> String {
    let mut out = Text::default();
    let mut rest = html;
    while let Some(lt) = rest.find(['<', '&']) {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if rest.starts_with('&') {
            let (c, used) = entity(rest);
            match c {
                Some(c) => out.push(c),
                None => out.push_str(&rest[..used]),
            }
            rest = &rest[used..];
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
        } else if let Some((name, closing, used)) = tag(rest) {
            rest = &rest[used..];
            if !closing && is_one_of(name, HIDDEN) {
                rest = skip_hidden(rest, name);
            }
            if !is_one_of(name, INLINE) {
                out.push(' ');
            }
        } else {
            out.push('<');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out.0
}

/// Text with whitespace runs collapsed to one space as it is pushed, and
/// no space at either end.
#[derive(Default)]
struct Text(String, bool);

impl Text {
    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.1 = !self.0.is_empty();
        } else {
            if self.1 {
                self.0.push(' ');
                self.1 = false;
            }
            self.0.push(c);
        }
    }

    fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push(c));
    }
}

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// A tag at the start of `s`: its name, whether it closes, and its
/// length. Quoted attribute values may hold `>`.
fn tag(s: &str) -> Option<(&str, bool, usize)> {
    let body = &s[1..];
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let first = body.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '!' || first == '?') {
        return None;
    }
    let name_len = body
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(body.len());
    let name = &body[..name_len];
    let mut quote = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if i > name_len => quote = Some(c),
            (None, '>') => {
                let used = s.len() - body.len() + i + 1;
                return Some((name, closing, used));
            }
            _ => {}
        }
    }
    Some((name, closing, s.len()))
}

/// The rest after the closing tag of a hidden element.
fn skip_hidden<'s>(s: &'s str, name: &str) -> &'s str {
    let mut from = 0;
    while let Some(at) = s[from..].find("</") {
        let start = from + at + 2;
        let end = start + name.len();
        if s.get(start..end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            return s[end..].find('>').map_or("", |gt| &s[end + gt + 1..]);
        }
        from = start;
    }
    ""
}

/// An entity at the start of `s` (which starts with `&`): its character,
/// if it is one this knows, and its length (1 for a lone `&`).
fn entity(s: &str) -> (Option<char>, usize) {
    let end = s
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i);
    let Some(end) = end else {
        return (None, 1);
    };
    let name = &s[1..end];
    let decoded = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
        }
    };
    match decoded {
        Some(c) => (Some(c), end + 1),
        None => (None, 1),
    }
}

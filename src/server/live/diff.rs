//! The `rendered` tree a view sends at join and the diffs after it, in
//! LiveView 0.20's format or 1.1's (docs/PROTOCOL.md §10, "The rendered
//! tree"), as `diff.ex` emits them for a template of fixed statics whose
//! dynamics are strings and comprehensions of string rows.
//!
//! There is no template engine here: a page declares its statics as
//! constants ([`Template`]) and renders its assigns into [`Dynamics`]. A
//! diff compares the dynamics with those last sent, which is what
//! LiveView's change tracking amounts to for such a template: a part is
//! sent when its value changed. Comprehensions are keyed by position, as
//! a `for` without `:key` is in 1.1 (only changed entries, with `kc`);
//! 0.20 resends every row in `d`.
//!
//! JSON is written by hand so keys come in the order Elixir's maps print
//! them (integers in numeric order, then letters), as in the transcripts.

use crate::core::protocol::push_json_str;

/// Which LiveView the server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// LiveView 0.20.17 (Phoenix 1.7): `d` comprehensions, no `p` table.
    V0_20,
    /// LiveView 1.1.33 (Phoenix 1.8): a `p` table, keyed `k`/`kc`.
    #[default]
    V1_1,
}

impl Format {
    /// The `liveview_version` of the join reply.
    pub fn version(self) -> &'static str {
        match self {
            Format::V0_20 => "0.20.17",
            Format::V1_1 => "1.1.33",
        }
    }

    /// `0.20` or `1.1`, as `serve --liveview` takes it.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "0.20" | "0.20.17" => Some(Format::V0_20),
            "1.1" | "1.1.33" => Some(Format::V1_1),
            _ => None,
        }
    }
}

/// A page's fixed statics: the root's, and each comprehension's.
#[derive(Debug)]
pub struct Template {
    pub root: &'static [&'static str],
    /// The statics of the comprehensions, by [`Dyn::Rows`]' index.
    pub lists: &'static [&'static [&'static str]],
}

/// One dynamic of the root: already-escaped text, or the rows of
/// comprehension `list`, each row the already-escaped texts between that
/// comprehension's statics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dyn {
    Text(String),
    Rows { list: usize, rows: Vec<Vec<String>> },
}

/// A view's dynamics, in order: what it rendered from its assigns.
pub type Dynamics = Vec<Dyn>;

/// The join reply's `rendered` tree for `dynamics`, and what the client
/// has after it (an empty comprehension is skipped: `""`).
pub fn rendered(format: Format, template: &Template, dynamics: &[Dyn]) -> (String, Dynamics) {
    let client = dynamics
        .iter()
        .map(|d| match d {
            Dyn::Rows { rows, .. } if rows.is_empty() => Dyn::Text(String::new()),
            other => other.clone(),
        })
        .collect();
    let mut out = String::from("{");
    // 1.1's table: the statics of the comprehensions rendered, numbered
    // as met, then the root's (the order diff.ex numbers them in).
    let mut table: Vec<&[&str]> = Vec::new();
    for (i, d) in dynamics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_key(&mut out, i);
        match d {
            Dyn::Text(text) => push_json_str(&mut out, text),
            // diff.ex skips an empty comprehension not yet rendered; its
            // statics come with the diff that first fills it.
            Dyn::Rows { rows, .. } if rows.is_empty() => out.push_str("\"\""),
            Dyn::Rows { list, rows } => match format {
                Format::V0_20 => {
                    out.push_str("{\"d\":");
                    push_rows(&mut out, rows);
                    out.push_str(",\"s\":");
                    push_statics(&mut out, template.lists[*list]);
                    out.push('}');
                }
                Format::V1_1 => {
                    out.push_str("{\"k\":");
                    push_entries(&mut out, rows.iter().enumerate(), rows.len());
                    out.push_str(&format!(",\"s\":{}}}", table.len()));
                    table.push(template.lists[*list]);
                }
            },
        }
    }
    if !dynamics.is_empty() {
        out.push(',');
    }
    match format {
        Format::V0_20 => {
            out.push_str("\"s\":");
            push_statics(&mut out, template.root);
        }
        Format::V1_1 => {
            table.push(template.root);
            out.push_str("\"p\":{");
            for (i, statics) in table.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_key(&mut out, i);
                push_statics(&mut out, statics);
            }
            out.push_str(&format!("}},\"s\":{}", table.len() - 1));
        }
    }
    out.push('}');
    (out, client)
}

/// The diff from `old` (what the client has) to `new` (the same
/// template), or `None` when nothing changed, for which LiveView replies
/// `{}` and pushes nothing; and what the client has after it.
pub fn diff(
    format: Format,
    template: &Template,
    old: &[Dyn],
    new: &[Dyn],
) -> (Option<String>, Dynamics) {
    let mut out = String::from("{");
    let mut templates = Vec::new();
    let mut client = Vec::with_capacity(new.len());
    for (i, (before, after)) in old.iter().zip(new).enumerate() {
        let unchanged = before == after || (is_unrendered(before) && is_empty_rows(after));
        if unchanged {
            client.push(before.clone());
            continue;
        }
        client.push(after.clone());
        if out.len() > 1 {
            out.push(',');
        }
        push_key(&mut out, i);
        match (before, after) {
            (Dyn::Rows { rows: was, .. }, Dyn::Rows { rows, .. }) => match format {
                Format::V0_20 => {
                    out.push_str("{\"d\":");
                    push_rows(&mut out, rows);
                    out.push('}');
                }
                Format::V1_1 => push_keyed_diff(&mut out, was, rows),
            },
            (_, Dyn::Text(text)) => push_json_str(&mut out, text),
            // A comprehension the client has no statics for (1.1 skipped
            // it while empty): whole, its statics by an index into this
            // diff's own `p`, numbered from 0 in each diff.
            (_, Dyn::Rows { list, rows }) => match format {
                Format::V0_20 => {
                    out.push_str("{\"d\":");
                    push_rows(&mut out, rows);
                    out.push_str(",\"s\":");
                    push_statics(&mut out, template.lists[*list]);
                    out.push('}');
                }
                Format::V1_1 => {
                    out.push_str("{\"k\":");
                    push_entries(&mut out, rows.iter().enumerate(), rows.len());
                    out.push_str(&format!(",\"s\":{}}}", templates.len()));
                    templates.push(*list);
                }
            },
        }
    }
    if out.len() == 1 {
        return (None, client);
    }
    if !templates.is_empty() {
        out.push_str(",\"p\":{");
        for (n, list) in templates.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_key(&mut out, n);
            push_statics(&mut out, template.lists[*list]);
        }
        out.push('}');
    }
    out.push('}');
    (Some(out), client)
}

/// How the client holds a comprehension skipped while empty.
fn is_unrendered(d: &Dyn) -> bool {
    matches!(d, Dyn::Text(t) if t.is_empty())
}

fn is_empty_rows(d: &Dyn) -> bool {
    matches!(d, Dyn::Rows { rows, .. } if rows.is_empty())
}

/// A 1.1 keyed comprehension's diff: the entries whose position holds a
/// different row (only their changed parts), new positions whole, and
/// the count `kc` (`diff.ex` `traverse_keyed`).
fn push_keyed_diff(out: &mut String, was: &[Vec<String>], rows: &[Vec<String>]) {
    let changed: Vec<(usize, String)> = rows
        .iter()
        .enumerate()
        .filter_map(|(j, row)| match was.get(j) {
            Some(old) if old == row => None,
            Some(old) => {
                let mut entry = String::from("{");
                for (f, (a, b)) in old.iter().zip(row).enumerate() {
                    if a != b {
                        if entry.len() > 1 {
                            entry.push(',');
                        }
                        push_key(&mut entry, f);
                        push_json_str(&mut entry, b);
                    }
                }
                entry.push('}');
                Some((j, entry))
            }
            None => Some((j, entry_json(row))),
        })
        .collect();
    // `kc` always sits inside `k`, alone when only the count changed.
    out.push_str("{\"k\":{");
    for (j, entry) in &changed {
        push_key(out, *j);
        out.push_str(entry);
        out.push(',');
    }
    out.push_str(&format!("\"kc\":{}}}}}", rows.len()));
}

/// `{"0":{…},"1":{…},"kc":N}` for whole entries.
fn push_entries<'r>(
    out: &mut String,
    entries: impl Iterator<Item = (usize, &'r Vec<String>)>,
    count: usize,
) {
    out.push('{');
    for (j, row) in entries {
        push_key(out, j);
        out.push_str(&entry_json(row));
        out.push(',');
    }
    out.push_str(&format!("\"kc\":{count}}}"));
}

/// One row as a keyed entry, `{"0":"…","1":"…"}`.
fn entry_json(row: &[String]) -> String {
    let mut entry = String::from("{");
    for (f, text) in row.iter().enumerate() {
        if f > 0 {
            entry.push(',');
        }
        push_key(&mut entry, f);
        push_json_str(&mut entry, text);
    }
    entry.push('}');
    entry
}

/// `[["…","…"],…]`.
fn push_rows(out: &mut String, rows: &[Vec<String>]) {
    out.push('[');
    for (j, row) in rows.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        out.push('[');
        for (f, text) in row.iter().enumerate() {
            if f > 0 {
                out.push(',');
            }
            push_json_str(out, text);
        }
        out.push(']');
    }
    out.push(']');
}

fn push_statics(out: &mut String, statics: &[&str]) {
    out.push('[');
    for (i, s) in statics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, s);
    }
    out.push(']');
}

/// `"N":`.
fn push_key(out: &mut String, n: usize) {
    out.push('"');
    out.push_str(itoa::Buffer::new().format(n));
    out.push_str("\":");
}

/// HTML-escapes text for a dynamic, as `Phoenix.HTML` does.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Template = Template {
        root: &["<h1>", "</h1><ul>", "</ul>"],
        lists: &[&["<li>", "</li>"]],
    };

    fn dyns(title: &str, rows: &[&str]) -> Dynamics {
        vec![
            Dyn::Text(title.to_owned()),
            Dyn::Rows {
                list: 0,
                rows: rows.iter().map(|r| vec![(*r).to_owned()]).collect(),
            },
        ]
    }

    #[test]
    fn the_join_tree_in_each_format() {
        let d = dyns("a", &["1", "0"]);
        assert_eq!(
            rendered(Format::V0_20, &T, &d).0,
            r#"{"0":"a","1":{"d":[["1"],["0"]],"s":["<li>","</li>"]},"s":["<h1>","</h1><ul>","</ul>"]}"#
        );
        assert_eq!(
            rendered(Format::V1_1, &T, &d).0,
            r#"{"0":"a","1":{"k":{"0":{"0":"1"},"1":{"0":"0"},"kc":2},"s":0},"p":{"0":["<li>","</li>"],"1":["<h1>","</h1><ul>","</ul>"]},"s":1}"#
        );
        // 1.1 skips an empty comprehension at join, and its statics.
        assert_eq!(
            rendered(Format::V1_1, &T, &dyns("a", &[])).0,
            r#"{"0":"a","1":"","p":{"0":["<h1>","</h1><ul>","</ul>"]},"s":0}"#
        );
    }

    #[test]
    fn diffs_carry_only_what_changed() {
        let (a, b) = (dyns("a", &["0"]), dyns("a", &["1", "0"]));
        assert_eq!(diff(Format::V1_1, &T, &a, &a).0, None);
        assert_eq!(
            diff(Format::V1_1, &T, &a, &b).0.unwrap(),
            r#"{"1":{"k":{"0":{"0":"1"},"1":{"0":"0"},"kc":2}}}"#
        );
        assert_eq!(
            diff(Format::V0_20, &T, &a, &b).0.unwrap(),
            r#"{"1":{"d":[["1"],["0"]]}}"#
        );
        // An entry that kept its place is left out; a shorter list only
        // says its count.
        let c = dyns("b", &["1", "9"]);
        assert_eq!(
            diff(Format::V1_1, &T, &b, &c).0.unwrap(),
            r#"{"0":"b","1":{"k":{"1":{"0":"9"},"kc":2}}}"#
        );
        assert_eq!(
            diff(Format::V1_1, &T, &c, &dyns("b", &["1"])).0.unwrap(),
            r#"{"1":{"k":{"kc":1}}}"#
        );
    }

    #[test]
    fn a_changed_entry_sends_only_its_changed_parts() {
        let was = vec![vec!["ana".to_owned(), "hi".to_owned()]];
        let now = vec![vec!["ana".to_owned(), "yo".to_owned()]];
        let mut out = String::new();
        push_keyed_diff(&mut out, &was, &now);
        assert_eq!(out, r#"{"k":{"0":{"1":"yo"},"kc":1}}"#);
    }

    #[test]
    fn a_list_first_filled_in_1_1_brings_its_template_once() {
        let (_, joined) = rendered(Format::V1_1, &T, &dyns("a", &[]));
        let (_, still) = diff(Format::V1_1, &T, &joined, &dyns("a", &[]));
        assert_eq!(still, joined, "still empty: nothing to send");
        let (d, filled) = diff(Format::V1_1, &T, &still, &dyns("a", &["x"]));
        assert_eq!(
            d.unwrap(),
            r#"{"1":{"k":{"0":{"0":"x"},"kc":1},"s":0},"p":{"0":["<li>","</li>"]}}"#
        );
        // Emptied and filled again, it is a keyed diff: the client has
        // the statics now.
        let (d, empty) = diff(Format::V1_1, &T, &filled, &dyns("a", &[]));
        assert_eq!(d.unwrap(), r#"{"1":{"k":{"kc":0}}}"#);
        let (d, _) = diff(Format::V1_1, &T, &empty, &dyns("a", &["y"]));
        assert_eq!(d.unwrap(), r#"{"1":{"k":{"0":{"0":"y"},"kc":1}}}"#);
    }

    /// The HTML `dynamics` stand for, put together directly.
    fn html_of(t: &Template, dynamics: &[Dyn]) -> String {
        let mut out = String::new();
        for (i, s) in t.root.iter().enumerate() {
            out.push_str(s);
            match dynamics.get(i) {
                Some(Dyn::Text(text)) => out.push_str(text),
                Some(Dyn::Rows { list, rows }) => {
                    for row in rows {
                        let statics = t.lists[*list];
                        for (j, st) in statics.iter().enumerate() {
                            out.push_str(st);
                            out.push_str(row.get(j).map_or("", String::as_str));
                        }
                    }
                }
                None => {}
            }
        }
        out
    }

    #[test]
    fn the_client_tree_follows_every_diff_in_both_formats() {
        use crate::core::live::Rendered;
        let steps: [(&str, &[&str]); 7] = [
            ("a", &[]),
            ("a", &["x"]),
            ("b", &["y", "x"]),
            ("b", &["y", "x", "w"]),
            ("b", &["y"]),
            ("c", &[]),
            ("c", &["z", "z"]),
        ];
        for format in [Format::V0_20, Format::V1_1] {
            let first = dyns(steps[0].0, steps[0].1);
            let (join, mut client) = rendered(format, &T, &first);
            let join: serde_json::Value = serde_json::from_str(&join).unwrap();
            let (mut tree, _) = Rendered::join(&join).unwrap();
            assert_eq!(tree.dead_html(), html_of(&T, &first));
            for (title, rows) in &steps[1..] {
                let now = dyns(title, rows);
                let (d, after) = diff(format, &T, &client, &now);
                let d = d.expect("a change");
                tree.merge(&serde_json::from_str(&d).unwrap())
                    .unwrap_or_else(|e| panic!("{format:?} {d}: {e}"));
                assert_eq!(tree.dead_html(), html_of(&T, &now), "{format:?} after {d}");
                client = after;
            }
        }
    }

    #[test]
    fn escape_is_phoenix_html_s() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

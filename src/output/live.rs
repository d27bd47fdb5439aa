//! What a LiveView client prints: its NDJSON records (`live_join`,
//! `live_diff`, `live_nav`, `live_html`) and its human lines (the page as
//! readable lines after a join, one line per change after a diff).
//!
//! The lines themselves come from `core::live` (`readable::page_lines`,
//! `Change`); this file only lays them out.

use std::fmt::Write as _;

use serde::Serialize;

use crate::output::records::{Payload, Record};
use crate::output::safe::clean;

/// `live_join`: a view was joined (again, after a crash or a reload).
#[derive(Serialize)]
pub struct LiveJoin<'a> {
    /// The view's id (its topic is `lv:ID`).
    pub view: &'a str,
    pub url: &'a str,
    /// `liveview_version` from the join reply, when the server sends it.
    pub version: Option<&'a str>,
    /// `_mounts` the join was sent with.
    pub mounts: u32,
    pub title: Option<&'a str>,
    /// The page as readable lines.
    pub lines: &'a [String],
    /// The script line whose command this answers, in a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Record for LiveJoin<'_> {
    const TYPE: &'static str = "live_join";
}

/// `live_diff`: a diff merged into the view, from a push or an event's
/// reply.
#[derive(Serialize)]
pub struct LiveDiff<'a> {
    pub view: &'a str,
    /// The diff as received.
    pub diff: Payload<'a>,
    /// One line per region it changed.
    pub changes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    /// `push_event` events: `[name, payload]` pairs.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub events: &'a [(String, serde_json::Value)],
    /// The script line whose command this answers, in a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Record for LiveDiff<'_> {
    const TYPE: &'static str = "live_diff";
}

/// `live_nav`: navigation (`live_patch`, `live_redirect`, `redirect`) or
/// a reload after `stale`.
#[derive(Serialize)]
pub struct LiveNav<'a> {
    pub view: &'a str,
    /// `live_patch`, `live_redirect`, `redirect`, `reload`, `crash`.
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<&'a str>,
    /// What the client does about it, in words.
    pub action: &'a str,
    /// The script line whose command this answers, in a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Record for LiveNav<'_> {
    const TYPE: &'static str = "live_nav";
}

/// `live_html`: the answer to `html` or `text`.
#[derive(Serialize)]
pub struct LiveHtml<'a> {
    pub view: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<&'a str>,
    /// `html` or `text`.
    pub what: &'a str,
    /// Each match's HTML or text (one item without a selector).
    pub matches: &'a [String],
    /// The script line whose command this answers, in a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Record for LiveHtml<'_> {
    const TYPE: &'static str = "live_html";
}

/// The readable page after a join, indented under its heading line.
pub fn page(heading: &str, lines: &[String], out: &mut String) {
    let _ = writeln!(out, "◆ {}", clean(heading));
    for l in lines {
        let _ = writeln!(out, "  {}", clean(l));
    }
}

/// One line per change, the title, the pushed events.
pub fn changes(
    changes: &[String],
    title: Option<&str>,
    events: &[(String, serde_json::Value)],
    out: &mut String,
) {
    for c in changes {
        let _ = writeln!(out, "  {}", clean(c));
    }
    if let Some(t) = title {
        let _ = writeln!(
            out,
            "  title {}",
            clean(&serde_json::Value::from(t).to_string())
        );
    }
    for (name, payload) in events {
        let _ = writeln!(
            out,
            "  push_event {} {}",
            clean(name),
            clean(&payload.to_string())
        );
    }
}

/// A line about the view (navigation, a crash, a reload step).
pub fn line(text: &str, out: &mut String) {
    let _ = writeln!(out, "◆ {}", clean(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_a_heading_and_indented_lines() {
        let mut out = String::new();
        page(
            "joined lv:phx-1",
            &["# Counter".into(), "[+1 → click inc]".into()],
            &mut out,
        );
        assert_eq!(out, "◆ joined lv:phx-1\n  # Counter\n  [+1 → click inc]\n");
        let mut out = String::new();
        changes(
            &["~ h1 \"Count: 1\" → \"Count: 2\"".into()],
            Some("Two"),
            &[("beep".into(), serde_json::json!({"n": 1}))],
            &mut out,
        );
        assert_eq!(
            out,
            "  ~ h1 \"Count: 1\" → \"Count: 2\"\n  title \"Two\"\n  push_event beep {\"n\":1}\n"
        );
    }
}

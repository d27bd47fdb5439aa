//! Presence for people: `+ alice (2 sessions)` and `- bob` lines for what
//! a state or diff changed, and the `presence` command's listing. Tracking
//! who is present is `core::presence`'s.

use std::fmt::Write as _;

use colored::Colorize;

use crate::core::presence::{Applied, Change, State};
use crate::output::safe::{clean, display_json};

/// What `applied` changed, a line per key that gained or lost a session.
pub fn changes(applied: &Applied, out: &mut String) {
    let topic = clean(&applied.topic);
    for c in &applied.changes {
        match c {
            Change::Join {
                key,
                previous,
                entry,
                ..
            } => {
                // A join that adds no meta (our own join, seen in the
                // state and again in the diff) changes nothing.
                if previous
                    .as_ref()
                    .is_some_and(|p| p.metas.len() == entry.metas.len())
                {
                    continue;
                }
                let n = entry.metas.len();
                let _ = write!(out, "  {topic} {} {}", "+".green().bold(), clean(key));
                if n > 1 {
                    let _ = write!(out, " ({n} sessions)");
                }
                out.push('\n');
            }
            Change::Leave {
                key,
                remaining,
                removed,
                ..
            } => {
                // A leave of metas already gone changes nothing.
                if *removed == 0 {
                    continue;
                }
                let _ = write!(out, "  {topic} {} {}", "-".red().bold(), clean(key));
                match remaining.metas.len() {
                    0 => {}
                    1 => out.push_str(" (1 session left)"),
                    n => {
                        let _ = write!(out, " ({n} sessions left)");
                    }
                }
                out.push('\n');
            }
        }
    }
}

/// Who is present on each topic, with their metas.
pub fn list(lists: &[(&str, &State)], out: &mut String) {
    if lists.is_empty() {
        out.push_str(
            "no presence: no joined channel has had a presence_state (an app's channel pushes one after the join)\n",
        );
        return;
    }
    for (topic, state) in lists {
        let sessions: usize = state.values().map(|e| e.metas.len()).sum();
        let _ = writeln!(
            out,
            "  {}: {} present ({sessions} session{})",
            clean(topic),
            state.len(),
            if sessions == 1 { "" } else { "s" }
        );
        for (key, entry) in state.iter() {
            let _ = writeln!(out, "    {}", clean(key).bold());
            for meta in &entry.metas {
                let _ = writeln!(out, "      {}", display_json(&meta.to_string()));
            }
            if !entry.rest.is_empty() {
                let rest = serde_json::Value::Object(entry.rest.clone()).to_string();
                let _ = writeln!(out, "      (also {})", display_json(&rest));
            }
        }
    }
}

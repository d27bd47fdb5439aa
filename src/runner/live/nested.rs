//! Nested LiveViews: views rendered inside the main one (`live_render`),
//! each an element with `data-phx-session` and `data-phx-parent-id`. As
//! the browser does, each is joined on the same socket (`lv:CHILD`) once
//! the main view's tree shows it; its changes print under its id, and its
//! HTML is put into its element wherever the page's HTML is needed
//! (`html`, `text`, the checks, the events found).
//!
//! Only the main view's children are joined (not grandchildren), and the
//! states kept for `wait text` are the main view's.

use serde_json::Value;

use super::open::{self, JoinParts};
use crate::core::event::ToNet;
use crate::core::live::page::Page;
use crate::core::live::{Rendered, readable};
use crate::core::session::Request;
use crate::output::live as out;
use crate::output::records::{self, Payload};
use crate::runner::Runner;
use crate::runner::flow::Step;

/// A nested view.
#[derive(Debug)]
pub(in crate::runner) struct Child {
    pub id: String,
    pub topic: String,
    pub tree: Option<Rendered>,
}

/// `html` with `inner` as the content of the element whose id is `id`;
/// `None` when there is no such element (or it is not closed).
pub(super) fn splice(html: &str, id: &str, inner: &str) -> Option<String> {
    let attr = format!("id=\"{id}\"");
    let at = html.find(&attr)?;
    let open = html[..at].rfind('<')?;
    let name: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if name.is_empty() {
        return None;
    }
    let body = at + html[at..].find('>')? + 1;
    // The matching end tag: same-named tags opened and closed in between.
    let (open_tag, close_tag) = (format!("<{name}"), format!("</{name}>"));
    let mut depth = 1;
    let mut pos = body;
    loop {
        let next_close = pos + html[pos..].find(&close_tag)?;
        match html[pos..next_close].find(&open_tag) {
            Some(o) => {
                let after = html[pos + o + open_tag.len()..].chars().next();
                if after.is_some_and(|c| c.is_whitespace() || c == '>') {
                    depth += 1;
                }
                pos += o + open_tag.len();
            }
            None => {
                depth -= 1;
                if depth == 0 {
                    let mut out = String::with_capacity(html.len() + inner.len());
                    out.push_str(&html[..body]);
                    out.push_str(inner);
                    out.push_str(&html[next_close..]);
                    return Some(out);
                }
                pos = next_close + close_tag.len();
            }
        }
    }
}

impl Runner {
    /// The page's HTML: the main view's, with each joined child's in its
    /// element.
    pub(super) fn composed_html(&self) -> Option<String> {
        let live = self.peer.live.as_ref()?;
        let mut html = live.tree.as_ref()?.to_html();
        for c in &live.children {
            if let Some(t) = &c.tree
                && let Some(with) = splice(&html, &c.id, &t.to_html())
            {
                html = with;
            }
        }
        Some(html)
    }

    /// Joins the main view's children that are not joined yet. When a
    /// line waits for the main view's join (the reply `answered`), it now
    /// waits for the children's too, so its next line finds their HTML.
    pub(super) fn join_children(&mut self, answered: Option<&str>) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let Some(html) = live.tree.as_ref().map(Rendered::to_html) else {
            return;
        };
        let page = Page::parse(&html);
        let main = live.view_id.clone();
        let mut joins = Vec::new();
        for v in page.views {
            if v.parent_id.as_deref() != Some(main.as_str())
                || live.children.iter().any(|c| c.id == v.id)
            {
                continue;
            }
            let join = JoinParts {
                csrf: live.join.csrf.clone(),
                session: v.session,
                static_token: v.static_token,
            };
            let payload = open::join_payload(&live.page_url, &join, 0);
            let topic = format!("lv:{}", v.id);
            joins.push(Request::Join {
                topic: topic.clone(),
                payload: super::json_payload(&payload),
            });
            live.children.push(Child {
                id: v.id,
                topic,
                tree: None,
            });
        }
        let active = self.clients.active;
        let line = match &self.step {
            Step::Reply { client, ref_, line }
                if *client == active && Some(ref_.as_str()) == answered =>
            {
                Some(line.unwrap_or(0))
            }
            _ => None,
        };
        let last = joins.len().saturating_sub(1);
        for (i, request) in joins.into_iter().enumerate() {
            let id = self.issue_id();
            if let Some(line) = line
                && i == last
            {
                // The reply that ended the wait is the last child's now.
                self.step = Step::Sending {
                    id,
                    line,
                    scripted: true,
                };
            }
            self.net.send_to(active, ToNet::Request { id, request });
        }
    }

    /// The index of the child on `topic`.
    pub(super) fn child_on(&self, topic: &str) -> Option<usize> {
        let live = self.peer.live.as_ref()?;
        live.children.iter().position(|c| c.topic == topic)
    }

    /// A child's join answer, or its event's reply.
    pub(super) fn child_reply(&mut self, at: usize, request: Option<&str>, response: &Value) {
        match request {
            Some("phx_join") => {
                let rendered = response.get("rendered").cloned();
                let tree = rendered.as_ref().and_then(|r| Rendered::join(r).ok());
                let Some((tree, _)) = tree else {
                    let text = format!("the nested view's join was refused: {response}");
                    return self.child_line(at, "nested", &text);
                };
                let lines = readable::page_lines(&tree.dead_html());
                let Some(live) = &mut self.peer.live else {
                    return;
                };
                let child = &mut live.children[at];
                child.tree = Some(tree);
                let heading = format!("joined nested view lv:{} in lv:{}", child.id, live.view_id);
                let id = child.id.clone();
                let url = live.page_url.to_string();
                let mut s = std::mem::take(&mut self.screen.out);
                if self.settings.style.json {
                    let record = out::LiveJoin {
                        view: &id,
                        url: &url,
                        version: None,
                        mounts: 0,
                        title: None,
                        lines: &lines,
                        line: None,
                    };
                    records::push(&mut s, &record);
                } else {
                    let start = s.len();
                    out::page(&heading, &lines, &mut s);
                    self.settings.style.stamp(start, false, &mut s);
                }
                self.screen.out = s;
                self.tell_page();
                self.page_changed();
            }
            Some("event") => {
                if let Some(diff) = response.get("diff") {
                    self.child_diff(at, diff);
                    self.tell_page();
                }
            }
            _ => {}
        }
    }

    /// A diff for a child: merged, its changes printed under its id.
    pub(super) fn child_diff(&mut self, at: usize, diff: &Value) {
        let Some(live) = &mut self.peer.live else {
            return;
        };
        let child = &mut live.children[at];
        let Some(tree) = &mut child.tree else {
            return;
        };
        let Ok(update) = tree.merge(diff) else {
            let text = "a diff of this nested view cannot be merged; its HTML may be out of date";
            return self.child_line(at, "nested", text);
        };
        if live.muted {
            self.page_changed();
            return;
        }
        let id = child.id.clone();
        let changes: Vec<String> = update
            .changes
            .iter()
            .map(|c| format!("[{id}] {c}"))
            .collect();
        let mut s = std::mem::take(&mut self.screen.out);
        if self.settings.style.json {
            let text = diff.to_string();
            records::push(
                &mut s,
                &out::LiveDiff {
                    view: &id,
                    diff: Payload::Json(&text),
                    changes: &changes,
                    title: update.title.as_deref(),
                    events: &[],
                    line: self.answering_line(),
                },
            );
        } else {
            let start = s.len();
            out::changes(&changes, update.title.as_deref(), &[], &mut s);
            self.settings.style.stamp(start, true, &mut s);
        }
        self.screen.out = s;
        self.page_changed();
    }

    /// A line about a child.
    pub(super) fn child_line(&mut self, at: usize, kind: &str, text: &str) {
        let id = self
            .peer
            .live
            .as_ref()
            .map(|l| l.children[at].id.clone())
            .unwrap_or_default();
        self.live_line(kind, None, &format!("[{id}] {text}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_childs_html_goes_into_its_element_past_nested_tags() {
        let html = "<h1>Main</h1><div id=\"phx-c\" data-phx-session=\"S\"></div><p>after</p>";
        assert_eq!(
            splice(html, "phx-c", "<p>child</p>").as_deref(),
            Some(
                "<h1>Main</h1><div id=\"phx-c\" data-phx-session=\"S\"><p>child</p></div><p>after</p>"
            )
        );
        let nested = "<div id=\"a\"><div><div>x</div></div></div><div>y</div>";
        assert_eq!(
            splice(nested, "a", "z").as_deref(),
            Some("<div id=\"a\">z</div><div>y</div>")
        );
        assert_eq!(splice(html, "nope", "x"), None);
        assert_eq!(splice("<div id=\"a\">open", "a", "x"), None);
    }
}

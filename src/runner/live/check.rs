//! Checks on a LiveView page: `expect text|html …` on the page as it is,
//! and `wait`/`refute text|html …`, which also look at every state the
//! page went through since the previous line began, so a 1 s tick cannot
//! race past a `wait text "Ticks: 2"`.
//!
//! Those states are not rendered as they come: [`History`] keeps the tree
//! as it was when each of the last two lines began and the joins and diffs
//! since, and replays them only when a `wait` or `refute` on the page
//! starts. Rendering is `core::live`'s.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::core::live::{Rendered, dom, text_of};
use crate::lang::live::PageCheck;
use crate::output::Expectation;
use crate::runner::Runner;
use crate::runner::checks::Wait;
use crate::runner::flow::Step;

/// Joins and diffs kept between two line starts, at most; past it the
/// oldest states are given up on (only later ones are checked).
const MAX_STEPS: usize = 2_000;

/// One change of the page's tree.
#[derive(Debug, Clone)]
enum Change {
    Join(Value),
    Diff(Value),
}

/// The page's states since the previous line began, kept cheaply.
#[derive(Debug, Default)]
pub(in crate::runner) struct History {
    /// The tree when the previous line began (`None`: not joined then, or
    /// given up on).
    before_prev: Option<Rendered>,
    /// The tree when the current line began.
    before_cur: Option<Rendered>,
    /// Every change since the previous line began.
    changes: Vec<Change>,
    /// Where the current line's changes start in `changes`.
    cur_from: usize,
}

impl History {
    pub fn joined(&mut self, rendered: &Value) {
        self.push(Change::Join(rendered.clone()));
    }

    pub fn diff(&mut self, diff: &Value) {
        self.push(Change::Diff(diff.clone()));
    }

    fn push(&mut self, c: Change) {
        if self.changes.len() >= MAX_STEPS {
            // Too much to keep: the states so far are given up on.
            self.changes.clear();
            self.cur_from = 0;
            self.before_prev = None;
            self.before_cur = None;
        }
        self.changes.push(c);
    }

    /// A line begins with the tree as `now`.
    pub fn mark(&mut self, now: Option<&Rendered>) {
        self.changes.drain(..self.cur_from.min(self.changes.len()));
        self.before_prev = self.before_cur.take();
        self.before_cur = now.cloned();
        self.cur_from = self.changes.len();
    }

    /// Every state since the previous line began, oldest first, as HTML;
    /// stops at the first for which `hit` is true and returns it.
    pub fn find(&self, mut hit: impl FnMut(&str) -> bool) -> Option<String> {
        let mut tree = self.before_prev.clone();
        let mut check = |t: &Option<Rendered>| {
            let html = t.as_ref().map(Rendered::to_html)?;
            hit(&html).then_some(html)
        };
        if let Some(h) = check(&tree) {
            return Some(h);
        }
        for c in &self.changes {
            match c {
                Change::Join(r) => tree = Rendered::join(r).ok().map(|(t, _)| t),
                Change::Diff(d) => {
                    if let Some(t) = &mut tree
                        && t.merge(d).is_err()
                    {
                        tree = None;
                    }
                }
            }
            if let Some(h) = check(&tree) {
                return Some(h);
            }
        }
        None
    }
}

/// Whether `check` holds on `html`; `Err` for a bad selector.
pub(in crate::runner) fn holds(check: &PageCheck, html: &str) -> Result<bool, String> {
    match check {
        PageCheck::Text {
            selector: None,
            text,
        } => Ok(text_of(html).contains(text.as_str())),
        PageCheck::Text {
            selector: Some(sel),
            text,
        } => Ok(dom::select_text(html, sel)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|t| t.contains(text.as_str()))),
        PageCheck::Html { selector } => Ok(!dom::select_html(html, selector)
            .map_err(|e| e.to_string())?
            .is_empty()),
    }
}

/// What the page shows where `check` looks, for a failure.
fn current(check: &PageCheck, html: &str) -> String {
    let quoted = |v: Vec<String>| -> String {
        if v.is_empty() {
            return "nothing matches".to_owned();
        }
        v.iter()
            .map(|t| Value::String(crate::output::excerpt(t, 200)).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match check {
        PageCheck::Text { selector: None, .. } => {
            Value::String(crate::output::excerpt(&text_of(html), 300)).to_string()
        }
        PageCheck::Text {
            selector: Some(s), ..
        } => quoted(dom::select_text(html, s).unwrap_or_default()),
        PageCheck::Html { selector } => {
            quoted(dom::select_html(html, selector).unwrap_or_default())
        }
    }
}

/// What a check that holds found, as the JSON value `let` reads: the
/// page's text, or the selected text or HTML (an array when several
/// elements match).
fn found(check: &PageCheck, html: &str) -> Value {
    let one_or_many = |mut v: Vec<String>| match v.len() {
        1 => Value::String(v.remove(0)),
        _ => Value::Array(v.into_iter().map(Value::String).collect()),
    };
    match check {
        PageCheck::Text { selector: None, .. } => {
            Value::String(crate::output::excerpt(&text_of(html), 300))
        }
        PageCheck::Text {
            selector: Some(s), ..
        } => one_or_many(dom::select_text(html, s).unwrap_or_default()),
        PageCheck::Html { selector } => {
            one_or_many(dom::select_html(html, selector).unwrap_or_default())
        }
    }
}

impl Runner {
    /// `expect text …` / `expect html …` on the page as it is.
    pub(in crate::runner) fn expect_page(&mut self, check: &PageCheck, n: usize) {
        let Some(html) = self.page_html(n) else {
            return;
        };
        let passed = match holds(check, &html) {
            Ok(p) => p,
            Err(e) => {
                self.error(&e, self.line_label(n));
                self.mark_failed();
                return;
            }
        };
        let expected = check.describe();
        let got = current(check, &html);
        let summary = if passed {
            format!("expect {expected}")
        } else {
            format!("the page does not have {expected}")
        };
        self.page_verdict(passed, &summary, &expected, &got, n);
    }

    fn page_verdict(&mut self, passed: bool, summary: &str, expected: &str, got: &str, n: usize) {
        self.expectation(Expectation {
            passed,
            summary,
            expected,
            got,
            detail: None,
            line: self.line_label(n),
        });
        if passed {
            self.checks.tally.passed += 1;
        } else {
            self.checks.tally.failed += 1;
            self.mark_failed();
        }
    }

    /// `wait text|html …` passes at once if the page matches now or did
    /// since the previous line began; `refute` fails at once if it did.
    /// Otherwise each change is checked until the deadline.
    pub(in crate::runner) fn start_page_watch(
        &mut self,
        check: PageCheck,
        timeout: Option<Duration>,
        refute: bool,
        n: usize,
    ) {
        if !self.live_client(n) {
            return;
        }
        // While the view (re)joins there is no page yet: the watch waits
        // for it like for any change.
        let now = self.composed_html();
        // A bad selector is told at once, page or not.
        if let Err(e) = holds(&check, now.as_deref().unwrap_or_default()) {
            self.error(&e, self.line_label(n));
            self.mark_failed();
            return;
        }
        let mut wait = Wait::start(
            "page".to_owned(),
            check.describe(),
            None,
            timeout,
            self.settings.timeout,
            refute,
            n,
        );
        wait.client = self.clients.active;
        let seen = self.peer.live.as_ref().and_then(|l| {
            let hit = |h: &str| holds(&check, h).unwrap_or(false);
            match &now {
                Some(now) if hit(now) => Some(now.clone()),
                _ => l.history.find(hit),
            }
        });
        wait.page = Some(check);
        match seen {
            Some(html) => self.page_watch_hit(wait, &html),
            None => {
                wait.deadline = Instant::now() + wait.timeout;
                self.step = Step::Waiting(wait);
            }
        }
    }

    /// The page changed: a `wait`/`refute` on it looks again.
    pub(super) fn page_changed(&mut self) {
        let active = self.clients.active;
        let Step::Waiting(wait) = &self.step else {
            return;
        };
        let Some(check) = &wait.page else {
            return;
        };
        if wait.client != active {
            return;
        }
        let Some(html) = self.composed_html() else {
            return;
        };
        if !holds(check, &html).unwrap_or(false) {
            return;
        }
        if let Step::Waiting(wait) = std::mem::replace(&mut self.step, Step::Idle) {
            self.page_watch_hit(wait, &html);
            self.write_pending_wait();
        }
    }

    fn page_watch_hit(&mut self, wait: Wait, html: &str) {
        let check = wait.page.clone().expect("a page watch");
        self.watch_hit(&wait, &found(&check, html).to_string());
    }

    /// A `wait` on the page whose deadline passed: what the page shows.
    pub(in crate::runner) fn page_wait_missed(&mut self, wait: &Wait) {
        let check = wait.page.as_ref().expect("a page watch");
        let html = self
            .peer_of(wait.client)
            .live
            .as_ref()
            .and_then(|l| l.tree.as_ref())
            .map(Rendered::to_html)
            .unwrap_or_default();
        let expected = check.describe();
        let summary = format!(
            "the page did not have {expected} within {} s; raise it with `wait {expected} 30s`",
            wait.timeout.as_secs_f64()
        );
        let got = current(check, &html);
        self.expectation(Expectation {
            passed: false,
            summary: &summary,
            expected: &expected,
            got: &got,
            detail: None,
            line: self.line_label(wait.line),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(n: u32) -> Value {
        json!({"s": ["<p>Ticks: ", "</p>"], "0": n.to_string()})
    }

    #[test]
    fn a_state_since_the_previous_line_is_found_and_older_ones_are_not() {
        let mut h = History::default();
        h.joined(&tree(0));
        let (t0, _) = Rendered::join(&tree(0)).unwrap();
        h.mark(Some(&t0));
        h.diff(&json!({"0": "1"}));
        let mut t1 = t0.clone();
        t1.merge(&json!({"0": "1"})).unwrap();
        h.mark(Some(&t1));
        h.diff(&json!({"0": "2"}));
        h.diff(&json!({"0": "3"}));
        let has = |h: &History, s: &str| h.find(|html| text_of(html).contains(s)).is_some();
        assert!(has(&h, "Ticks: 1"));
        assert!(has(&h, "Ticks: 2"));
        assert!(has(&h, "Ticks: 3"));
        assert!(
            has(&h, "Ticks: 0"),
            "the state when the previous line began"
        );
        let mut t3 = t1.clone();
        t3.merge(&json!({"0": "3"})).unwrap();
        h.mark(Some(&t3));
        assert!(!has(&h, "Ticks: 0"));
        assert!(has(&h, "Ticks: 2"));
    }

    #[test]
    fn checks_look_at_text_selected_text_and_elements() {
        let html = "<h1>Count: 2</h1><ul id=\"h\"><li>a b</li></ul>";
        let text = |s: Option<&str>, t: &str| PageCheck::Text {
            selector: s.map(str::to_owned),
            text: t.to_owned(),
        };
        assert_eq!(holds(&text(None, "Count: 2"), html), Ok(true));
        assert_eq!(holds(&text(Some("h1"), "a b"), html), Ok(false));
        assert_eq!(holds(&text(Some("#h li"), "a b"), html), Ok(true));
        let el = PageCheck::Html {
            selector: "ul#h li".into(),
        };
        assert_eq!(holds(&el, html), Ok(true));
        assert!(holds(&text(Some("h1["), "x"), html).is_err());
        assert_eq!(current(&text(Some("h1"), "x"), html), "\"Count: 2\"");
        // What a hit found is a JSON value, quoted once.
        assert_eq!(
            found(&text(None, "Count"), html).to_string(),
            "\"Count: 2 a b\""
        );
        assert_eq!(
            found(&text(Some("h1, li"), "Count"), html),
            serde_json::json!(["Count: 2", "a b"])
        );
    }
}

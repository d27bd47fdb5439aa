//! The counter page, `/counter`: the LiveView of the recorded app
//! (docs/PROTOCOL.md §10; the LiveView sections of the recorded frames),
//! with the same statics, dynamics and events: `inc`/`dec` clicks, a `set`
//! form, a tick every second, and the last three counts newest first.
//!
//! Its statics are constants and its first render is HTML written out by
//! hand ([`DEAD_RENDER`]), so a client that renders the join's tree can be
//! checked against text no renderer produced.

use serde_json::Value;

use super::diff::{Dyn, Dynamics, Template};

/// The statics of the recorded counter, verbatim.
pub const TEMPLATE: Template = Template {
    root: &[
        "<h1>Count: ",
        "</h1>\n<p>Ticks: ",
        "</p>\n<button phx-click=\"inc\">+1</button>\n<button phx-click=\"dec\">-1</button>\n<form phx-submit=\"set\">\n  <input type=\"text\" name=\"value\"",
        ">\n  <button type=\"submit\">Set</button>\n</form>\n<ul id=\"history\">\n  ",
        "\n</ul>",
    ],
    lists: &[&["\n    <li>count ", "</li>\n  "]],
};

/// The page's first render, the inner HTML of its main element: every
/// mount starts at count 0 and tick 0. Written by hand, not rendered.
pub const DEAD_RENDER: &str = r#"<h1>Count: 0</h1>
<p>Ticks: 0</p>
<button phx-click="inc">+1</button>
<button phx-click="dec">-1</button>
<form phx-submit="set">
  <input type="text" name="value" value="0">
  <button type="submit">Set</button>
</form>
<ul id="history">
  
    <li>count 0</li>
  
</ul>"#;

/// The page's `<title>`.
pub const TITLE: &str = "Counter";

/// How many counts the history keeps (the recorded app's three).
const HISTORY: usize = 3;

/// An event no `handle_event` clause matches: the view's process crashes.
#[derive(Debug, PartialEq, Eq)]
pub struct NoClause;

/// A counter view's assigns.
#[derive(Debug)]
pub struct Counter {
    count: i64,
    ticks: u64,
    /// Newest first.
    history: Vec<i64>,
}

impl Counter {
    /// `mount/3`.
    pub fn mount() -> Counter {
        Counter {
            count: 0,
            ticks: 0,
            history: vec![0],
        }
    }

    pub fn render(&self) -> Dynamics {
        vec![
            Dyn::Text(self.count.to_string()),
            Dyn::Text(self.ticks.to_string()),
            Dyn::Text(format!(" value=\"{}\"", self.count)),
            Dyn::Rows {
                list: 0,
                rows: self.history.iter().map(|n| vec![n.to_string()]).collect(),
            },
        ]
    }

    /// `handle_event/3` for the event `name` with `value` (the payload's
    /// `value`).
    pub fn event(&mut self, name: &str, value: &Value) -> Result<(), NoClause> {
        match name {
            "inc" => self.set(self.count.saturating_add(1)),
            "dec" => self.set(self.count.saturating_sub(1)),
            // A form's value is its URL-encoded fields; a value that is
            // not a number leaves everything alone (reply `{}`).
            "set" => {
                let form = value.as_str().ok_or(NoClause)?;
                let n = url::form_urlencoded::parse(form.as_bytes())
                    .find(|(k, _)| k == "value")
                    .and_then(|(_, v)| v.trim().parse::<i64>().ok());
                if let Some(n) = n {
                    self.set(n);
                }
            }
            _ => return Err(NoClause),
        }
        Ok(())
    }

    /// `handle_info(:tick, …)`.
    pub fn tick(&mut self) {
        self.ticks += 1;
    }

    fn set(&mut self, n: i64) {
        self.count = n;
        self.history.insert(0, n);
        self.history.truncate(HISTORY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn history(c: &Counter) -> Vec<i64> {
        c.history.clone()
    }

    #[test]
    fn events_change_the_count_and_the_history_as_recorded() {
        let mut c = Counter::mount();
        c.event("inc", &json!({})).unwrap();
        c.event("inc", &json!({})).unwrap();
        assert_eq!(history(&c), [2, 1, 0]);
        c.event("dec", &json!({})).unwrap();
        assert_eq!(history(&c), [1, 2, 1]);
        c.event("set", &json!("value=42")).unwrap();
        assert_eq!((c.count, history(&c)), (42, vec![42, 1, 2]));
        c.event("set", &json!("value=abc")).unwrap();
        assert_eq!(c.count, 42);
        assert_eq!(c.event("nope", &json!({})), Err(NoClause));
        assert_eq!(c.event("set", &json!({})), Err(NoClause));
    }
}

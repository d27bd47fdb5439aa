//! The demo page, `/demo`: the LiveView shapes the counter and the chat do
//! not show (docs/PROTOCOL.md §10): a stateful component (`"c"`, cid 1)
//! whose button targets it, a page title (`"t"`), a `push_event` (`"e"`),
//! navigation from events (`push_patch` with its `handle_params`,
//! `push_navigate`, `redirect`, and a `push_navigate` from `handle_info`
//! a moment after an event), and a nested LiveView (`nested.rs`) rendered
//! inside it.
//!
//! Its statics are constants; its first render is HTML written out by
//! hand ([`dead_render`]). Its trees are built here rather than by
//! `diff.rs`, whose engine knows only strings and comprehensions: a
//! component id is a number in the tree, and the component's own tree
//! sits under `"c"`.

use serde_json::{Map, Value, json};

use super::counter::NoClause;
use super::diff::{Format, escape};

/// The root's statics: the tab, the component (cid 1), the nested view's
/// container.
const ROOT: [&str; 4] = [
    "<h1>Demo</h1>\n<p>Tab: ",
    "</p>\n",
    "\n<form phx-submit=\"rename\">\n  <input type=\"text\" name=\"title\" value=\"\">\n  <button type=\"submit\">Rename</button>\n</form>\n<button phx-click=\"ping\">Ping</button>\n<button phx-click=\"patch\">Tab 2</button>\n<button phx-click=\"go\">Counter</button>\n<button phx-click=\"leave\">Home</button>\n<button phx-click=\"later\">Counter, in a moment</button>\n",
    "",
];

/// The toggle component's statics: its state, then its `phx-target`
/// attribute (`phx-target={@myself}` is a dynamic in HEEx).
const TOGGLE: [&str; 3] = [
    "<div id=\"toggle\">\n  <p>Toggle: ",
    "</p>\n  <button phx-click=\"toggle\"",
    ">Toggle</button>\n</div>",
];

/// The toggle's cid: LiveView numbers components from 1.
pub const CID: u64 = 1;

/// The nested view's element id (`live_render(…, id: "demo-child")`).
pub const CHILD_ID: &str = "demo-child";

/// The title `mount/3` assigns.
pub const TITLE: &str = "Demo";

/// The suffix of the page's `<.live_title>`.
pub const TITLE_SUFFIX: &str = " · phx-repl";

/// Where `patch` sends the page (`push_patch`).
pub const PATCH_TO: &str = "/demo?tab=2";

/// Where `go` and `later` navigate (`push_navigate`), and where `leave`
/// redirects (`redirect`).
pub const NAVIGATE_TO: &str = "/counter";
pub const REDIRECT_TO: &str = "/";

/// The page's first render for `tab`, inside the main element whose id is
/// `parent_id`; the nested view's element carries `child_static` and its
/// own first render, and no session (as `live_render` renders a
/// non-sticky child when disconnected). Written by hand.
pub fn dead_render(tab: &str, parent_id: &str, child_static: &str) -> String {
    format!(
        r#"<h1>Demo</h1>
<p>Tab: {tab}</p>
<div id="toggle">
  <p>Toggle: off</p>
  <button phx-click="toggle" phx-target="1">Toggle</button>
</div>
<form phx-submit="rename">
  <input type="text" name="title" value="">
  <button type="submit">Rename</button>
</form>
<button phx-click="ping">Ping</button>
<button phx-click="patch">Tab 2</button>
<button phx-click="go">Counter</button>
<button phx-click="leave">Home</button>
<button phx-click="later">Counter, in a moment</button>
<div id="{CHILD_ID}" data-phx-session="" data-phx-static="{child_static}" data-phx-parent-id="{parent_id}"><p>Child bumps: 0</p>
<button phx-click="bump">Bump</button></div>"#,
        tab = escape(tab),
    )
}

/// The nested view's container as the connected render has it: its
/// session, an empty static and no content (the content comes with the
/// child's own join).
pub fn child_container(parent_id: &str, child_session: &str) -> String {
    format!(
        "<div id=\"{CHILD_ID}\" data-phx-session=\"{child_session}\" data-phx-static=\"\" data-phx-parent-id=\"{}\"></div>",
        escape(parent_id)
    )
}

/// The tab a URL's query asks for (`handle_params`): `?tab=N`, else 1.
pub fn tab_of(query: Option<&str>) -> String {
    query
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "tab")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "1".to_owned())
}

/// What an event asks of the channel besides the diff.
#[derive(Debug, PartialEq, Eq)]
pub enum Nav {
    /// Nothing: reply with the diff.
    None,
    /// `push_patch`: push `live_patch`, then reply with the diff of
    /// `handle_params`.
    Patch,
    /// `push_navigate`: reply `live_redirect`, then the view stops.
    Navigate,
    /// `redirect`: reply `redirect`, then the view stops.
    Redirect,
    /// `Process.send_after(self(), :navigate, …)`: reply now, push
    /// `live_redirect` later.
    Later,
}

/// What the client has of the demo's dynamics.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    tab: String,
    on: bool,
    title: String,
}

/// A demo view's assigns, and the toggle component's.
#[derive(Debug)]
pub struct Demo {
    tab: String,
    title: String,
    on: bool,
    pings: u64,
    /// The nested view's container (a string dynamic).
    child: String,
    /// `push_event`s not sent yet.
    events: Vec<Value>,
    sent: Option<Sent>,
}

impl Demo {
    /// `mount/3` and `handle_params/3` for a join of `url_query`.
    pub fn mount(url_query: Option<&str>, child: String) -> Demo {
        Demo {
            tab: tab_of(url_query),
            title: TITLE.to_owned(),
            on: false,
            pings: 0,
            child,
            events: Vec::new(),
            sent: None,
        }
    }

    fn sent_now(&self) -> Sent {
        Sent {
            tab: self.tab.clone(),
            on: self.on,
            title: self.title.clone(),
        }
    }

    /// The toggle's tree: whole (with statics and the single-root mark
    /// `"r": 1` of a stateful component's template), or only its state.
    fn toggle_tree(&self, whole: bool) -> Value {
        let mut c = Map::new();
        c.insert("0".into(), json!(if self.on { "on" } else { "off" }));
        if whole {
            c.insert("1".into(), json!(format!(" phx-target=\"{CID}\"")));
            c.insert("r".into(), json!(1));
            c.insert("s".into(), json!(TOGGLE));
        }
        Value::Object(c)
    }

    /// The join's `rendered` tree; from now on diffs are against it.
    pub fn join_tree(&mut self, format: Format) -> String {
        let mut t = Map::new();
        t.insert("0".into(), json!(escape(&self.tab)));
        t.insert("1".into(), json!(CID));
        t.insert("2".into(), json!(self.child));
        t.insert(
            "c".into(),
            json!({ (CID.to_string()): self.toggle_tree(true) }),
        );
        self.put_events(&mut t);
        match format {
            Format::V0_20 => {
                t.insert("s".into(), json!(ROOT));
            }
            // 1.1 puts the view's statics in its template table; a
            // component's tree keeps its own list.
            Format::V1_1 => {
                t.insert("p".into(), json!({ "0": ROOT }));
                t.insert("s".into(), json!(0));
            }
        }
        t.insert("t".into(), json!(self.title));
        self.sent = Some(self.sent_now());
        Value::Object(t).to_string()
    }

    /// The diff since the last join or diff, `None` when nothing changed.
    pub fn diff(&mut self) -> Option<String> {
        let now = self.sent_now();
        let was = self
            .sent
            .replace(now.clone())
            .unwrap_or_else(|| now.clone());
        let mut d = Map::new();
        if now.tab != was.tab {
            d.insert("0".into(), json!(escape(&now.tab)));
        }
        if now.on != was.on {
            d.insert(
                "c".into(),
                json!({ (CID.to_string()): self.toggle_tree(false) }),
            );
        }
        self.put_events(&mut d);
        if now.title != was.title {
            d.insert("t".into(), json!(now.title));
        }
        (!d.is_empty()).then(|| Value::Object(d).to_string())
    }

    /// `"e"`, at the top of the tree, when events are pending.
    fn put_events(&mut self, tree: &mut Map<String, Value>) {
        if !self.events.is_empty() {
            tree.insert("e".into(), Value::Array(std::mem::take(&mut self.events)));
        }
    }

    /// `handle_event/3` of the view (`cid` `None`) or of the component.
    /// `Ok(None)` for a cid that does not exist: LiveView answers `{}`
    /// then (the component may have just been removed).
    pub fn event(
        &mut self,
        cid: Option<u64>,
        name: &str,
        value: &Value,
    ) -> Result<Option<Nav>, NoClause> {
        match cid {
            Some(CID) if name == "toggle" => {
                self.on = !self.on;
                Ok(Some(Nav::None))
            }
            Some(CID) => Err(NoClause),
            Some(_) => Ok(None),
            None => self.view_event(name, value).map(Some),
        }
    }

    fn view_event(&mut self, name: &str, value: &Value) -> Result<Nav, NoClause> {
        Ok(match name {
            "rename" => {
                let form = value.as_str().ok_or(NoClause)?;
                let title = url::form_urlencoded::parse(form.as_bytes())
                    .find(|(k, _)| k == "title")
                    .map(|(_, v)| v.trim().to_owned())
                    .unwrap_or_default();
                // An empty title keeps the old one, as a `page_title`
                // assigned only when given would.
                if !title.is_empty() {
                    self.title = title;
                }
                Nav::None
            }
            "ping" => {
                self.pings += 1;
                self.events.push(json!(["pong", { "pings": self.pings }]));
                Nav::None
            }
            "patch" => {
                self.tab = tab_of(PATCH_TO.split_once('?').map(|(_, q)| q));
                Nav::Patch
            }
            "go" => Nav::Navigate,
            "leave" => Nav::Redirect,
            "later" => Nav::Later,
            _ => return Err(NoClause),
        })
    }
}

/// `{"kind":"push","to":…}`: a `live_patch` or `live_redirect`.
pub fn nav_payload(to: &str) -> String {
    json!({ "kind": "push", "to": to }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Demo {
        Demo::mount(None, child_container("phx-p", "S"))
    }

    #[test]
    fn the_join_tree_in_each_format() {
        let mut d = demo();
        let tree: Value = serde_json::from_str(&d.join_tree(Format::V1_1)).unwrap();
        assert_eq!(tree["1"], 1);
        assert_eq!(tree["s"], 0);
        assert_eq!(tree["p"]["0"], json!(ROOT));
        assert_eq!(tree["t"], "Demo");
        assert_eq!(tree["c"]["1"]["r"], 1);
        assert_eq!(tree["c"]["1"]["s"], json!(TOGGLE));
        let mut d = demo();
        let tree: Value = serde_json::from_str(&d.join_tree(Format::V0_20)).unwrap();
        assert_eq!(tree["s"], json!(ROOT));
        assert!(tree.get("p").is_none());
    }

    #[test]
    fn diffs_carry_what_each_event_changed() {
        let mut d = demo();
        d.join_tree(Format::V1_1);
        assert_eq!(d.diff(), None);
        assert_eq!(d.event(Some(1), "toggle", &json!({})), Ok(Some(Nav::None)));
        assert_eq!(d.diff().unwrap(), r#"{"c":{"1":{"0":"on"}}}"#);
        assert_eq!(d.event(Some(7), "toggle", &json!({})), Ok(None));
        assert_eq!(d.event(Some(1), "nope", &json!({})), Err(NoClause));
        d.event(None, "rename", &json!("title=Hello+you")).unwrap();
        assert_eq!(d.diff().unwrap(), r#"{"t":"Hello you"}"#);
        d.event(None, "ping", &json!({})).unwrap();
        assert_eq!(d.diff().unwrap(), r#"{"e":[["pong",{"pings":1}]]}"#);
        assert_eq!(d.event(None, "patch", &json!({})), Ok(Some(Nav::Patch)));
        assert_eq!(d.diff().unwrap(), r#"{"0":"2"}"#);
        assert_eq!(d.event(None, "patch", &json!({})), Ok(Some(Nav::Patch)));
        assert_eq!(d.diff(), None);
        assert_eq!(d.event(None, "boom", &json!({})), Err(NoClause));
    }

    #[test]
    fn the_tab_comes_from_the_query() {
        assert_eq!(tab_of(Some("tab=3&x=1")), "3");
        assert_eq!(tab_of(Some("x=1")), "1");
        assert_eq!(tab_of(None), "1");
    }
}

//! Acting on a LiveView: `click`, `submit`, `change`, `key`, `hook` push
//! an `event` with the payload the JS client builds (`core::live::payload`),
//! a form starting from its current field values (`core::live::events`);
//! and `html`/`text` print the page or what a selector matches.
//!
//! An event name the page does not show gets a warning with a did-you-mean,
//! but is sent: a page need not show every event it handles.

use serde_json::Value;

use crate::core::event::ToNet;
use crate::core::live::events::{self, EventKind as Bound, PageEvent as Found};
use crate::core::live::{dom, payload, readable, text_of};
use crate::core::session::Request;
use crate::lang::live::{EventKind, LiveCommand, OpenFlags, PageEvent};
use crate::lang::vocab::{PageWords, Word};
use crate::output::live as out;
use crate::output::records;
use crate::runner::Runner;
use crate::runner::live::LiveOptions;

/// The bindings an event command can mean.
fn bound_kinds(kind: EventKind) -> &'static [Bound] {
    match kind {
        EventKind::Click => &[Bound::Click],
        EventKind::Submit => &[Bound::Submit],
        EventKind::Change => &[Bound::Change],
        EventKind::KeyDown | EventKind::KeyUp => &[Bound::KeyDown, Bound::KeyUp],
        EventKind::Hook => &[],
    }
}

impl Runner {
    /// A LiveView command (`live` itself is `open_live`'s).
    pub(in crate::runner) fn live_command(&mut self, cmd: LiveCommand, id: u64, n: usize) {
        match cmd {
            LiveCommand::Open { url, flags } => self.open_live(&url, None, &flags, id, n),
            LiveCommand::Html(sel) => self.show_page(true, sel.as_deref(), n),
            LiveCommand::Text(sel) => self.show_page(false, sel.as_deref(), n),
            LiveCommand::Event(e) => self.send_event(e, id, n),
        }
    }

    /// The session's LiveView options with a `live` line's flags over
    /// them: its `-H` headers after the session's, its auth token instead
    /// of the session's.
    pub(super) fn live_options_with(&mut self, flags: &OpenFlags) -> LiveOptions {
        let mut opts = self.live_options();
        opts.headers.extend(flags.headers.iter().cloned());
        opts.follow |= flags.follow;
        opts.params.extend(flags.params.iter().cloned());
        if let Some(token) = &flags.auth_token {
            opts.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("sec-websocket-protocol"));
            opts.headers
                .push(crate::core::endpoint::auth_token_header(token));
            self.screen.learn_secret(token);
        }
        opts
    }

    /// The current view's HTML (the browser's view of it), if joined.
    pub(super) fn page_html(&mut self, n: usize) -> Option<String> {
        if !self.live_client(n) {
            return None;
        }
        let live = self.peer.live.as_ref()?;
        match &live.tree {
            Some(_) => self.composed_html(),
            None => {
                let text = format!("{} is not joined yet; wait for its page first", live.topic);
                self.error(&text, self.line_label(n));
                self.mark_failed();
                None
            }
        }
    }

    /// `html [SELECTOR]` / `text [SELECTOR]`.
    fn show_page(&mut self, html: bool, selector: Option<&str>, n: usize) {
        let Some(page) = self.page_html(n) else {
            return;
        };
        let matches = match selector {
            None if html => vec![page.clone()],
            None => readable::page_lines(&page),
            Some(sel) => {
                let found = if html {
                    dom::select_html(&page, sel)
                } else {
                    dom::select_text(&page, sel)
                };
                match found {
                    Ok(m) => m,
                    Err(e) => {
                        self.error(&e.to_string(), self.line_label(n));
                        self.mark_failed();
                        return;
                    }
                }
            }
        };
        let view = self.live_view_id();
        let mut s = std::mem::take(&mut self.screen.out);
        if self.settings.style.json {
            records::push(
                &mut s,
                &out::LiveHtml {
                    view: &view,
                    selector,
                    what: if html { "html" } else { "text" },
                    matches: &matches,
                    line: self.line_label(n),
                },
            );
        } else if matches.is_empty() {
            out::line(
                &format!("nothing matches {}", selector.unwrap_or_default()),
                &mut s,
            );
        } else {
            for m in &matches {
                for l in m.lines() {
                    s.push_str(&crate::output::clean(l));
                    s.push('\n');
                }
            }
        }
        self.screen.out = s;
        self.record_shown(html, selector, &matches, &page);
    }

    /// `click`, `submit`, `change`, `key`, `hook`: the `event` push.
    fn send_event(&mut self, e: PageEvent, id: u64, n: usize) {
        let Some(page) = self.page_html(n) else {
            return;
        };
        let found = events::find(&page);
        let kinds = bound_kinds(e.kind);
        let binding = found
            .iter()
            .find(|f| kinds.contains(&f.kind) && f.name == e.event);
        if binding.is_none() && e.kind != EventKind::Hook {
            self.unknown_event(&e, &found, kinds);
        }
        for text in unknown_fields(&e, binding) {
            self.warn(&text);
        }
        if let Some(cid) = e.target
            && let Some(text) = self.unknown_component(cid)
        {
            self.warn(&text);
        }
        let cid = e
            .target
            .map(|t| t as i64)
            .or_else(|| binding.and_then(|b| b.cid));
        let value = build(&e, binding, cid);
        let Some(live) = &self.peer.live else {
            return;
        };
        // The view whose HTML shows the binding gets the event, as the
        // browser sends it to the view that owns the element.
        let topic = live
            .children
            .iter()
            .find(|c| {
                c.tree.as_ref().is_some_and(|t| {
                    events::find(&t.to_html())
                        .iter()
                        .any(|f| kinds.contains(&f.kind) && f.name == e.event)
                })
            })
            .map_or_else(|| live.topic.clone(), |c| c.topic.clone());
        let request = Request::Push {
            topic,
            event: "event".to_owned(),
            payload: crate::core::protocol::raw(value.to_string()).into(),
            cast: false,
        };
        if !self.settings.style.json && !self.settings.style.display.raw {
            let mut s = std::mem::take(&mut self.screen.out);
            let start = s.len();
            s.push_str("→ ");
            s.push_str(&crate::output::clean(&describe(&e, &value)));
            s.push('\n');
            self.settings.style.stamp(start, false, &mut s);
            self.screen.out = s;
        }
        if let Some(live) = &mut self.peer.live {
            live.last_event = Some((id, format!("{} {}", e.kind.word(), e.event)));
        }
        if self.interactive() {
            self.peer.replies.awaiting(id);
        }
        self.send(ToNet::Request { id, request }, id, n);
    }

    /// The message for command `id`, which was not sent: an event
    /// command is named as typed, and a view that was rejoining is said
    /// to be (the push waited for a join that failed: a reload's).
    pub(in crate::runner) fn live_rejected<'a>(
        &self,
        id: u64,
        message: &'a str,
    ) -> std::borrow::Cow<'a, str> {
        let Some((_, what)) = self
            .peer
            .live
            .as_ref()
            .and_then(|l| l.last_event.as_ref())
            .filter(|(sent, _)| *sent == id)
        else {
            return message.into();
        };
        not_sent(what, message).into()
    }

    /// Tells the prompt's completion what the page offers (at a join and
    /// after an event's reply, not on every pushed diff: it renders the
    /// whole page).
    pub(super) fn tell_page(&mut self) {
        if !self.interactive() {
            return;
        }
        let Some(html) = self.composed_html() else {
            return;
        };
        let found = events::find(&html);
        let mut page = PageWords::default();
        for f in &found {
            let fields = || f.fields.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
            match f.kind {
                Bound::Click => push_new(&mut page.clicks, &f.name),
                Bound::KeyDown | Bound::KeyUp => push_new(&mut page.keys, &f.name),
                Bound::Submit if !page.submits.iter().any(|(n, _)| *n == f.name) => {
                    page.submits.push((f.name.clone(), fields()));
                }
                Bound::Change if !page.changes.iter().any(|(n, _)| *n == f.name) => {
                    page.changes.push((f.name.clone(), fields()));
                }
                _ => {}
            }
        }
        self.tell(Word::Page(page));
    }

    /// A warning, with a did-you-mean, for an event the page does not show.
    fn unknown_event(&mut self, e: &PageEvent, found: &[Found], kinds: &[Bound]) {
        let names: Vec<String> = found
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .map(|f| f.name.clone())
            .collect();
        let mut text = format!("warning: the page shows no {} `{}`", e.kind.word(), e.event);
        if let Some(s) = crate::lang::command::closest(&e.event, &names) {
            text.push_str(&format!("; did you mean `{s}`?"));
        } else if !names.is_empty() {
            text.push_str(&format!(" (it shows: {})", names.join(", ")));
        }
        text.push_str("; sending it anyway");
        self.warn(&text);
    }

    /// A warning for `--target CID` when no component CID is on the page
    /// (the main view's tree or a nested view's holds its components).
    fn unknown_component(&self, cid: u64) -> Option<String> {
        let live = self.peer.live.as_ref()?;
        let trees = live
            .tree
            .iter()
            .chain(live.children.iter().filter_map(|c| c.tree.as_ref()));
        let cids: Vec<i64> = trees.flat_map(|t| t.components().keys().copied()).collect();
        if cids.iter().any(|c| u64::try_from(*c) == Ok(cid)) {
            return None;
        }
        let shown = if cids.is_empty() {
            "it has none".to_owned()
        } else {
            let list: Vec<String> = cids.iter().map(i64::to_string).collect();
            format!("it has {}", list.join(", "))
        };
        Some(format!(
            "warning: the page has no component {cid} ({shown}); sending it anyway"
        ))
    }

    /// A note on the screen, as a warning.
    fn warn(&mut self, text: &str) {
        let mut s = std::mem::take(&mut self.screen.out);
        self.settings.style.note(text, &mut s);
        self.screen.out = s;
    }
}

/// Warnings, with a did-you-mean, for the fields a `submit` or `change`
/// gives that its form does not have (they are sent all the same, as a
/// form's inputs may change).
fn unknown_fields(e: &PageEvent, binding: Option<&Found>) -> Vec<String> {
    let Some(form) = binding.filter(|_| matches!(e.kind, EventKind::Submit | EventKind::Change))
    else {
        return Vec::new();
    };
    let names: Vec<String> = form.fields.iter().map(|(k, _)| k.clone()).collect();
    e.values
        .iter()
        .filter(|(k, _)| !names.contains(k))
        .map(|(k, _)| {
            let hint = match crate::lang::command::closest(k, &names) {
                Some(s) => format!("; did you mean `{s}`?"),
                None if names.is_empty() => " (it has none);".to_owned(),
                None => format!(" (it has {});", names.join(", ")),
            };
            format!(
                "warning: the form {} has no field `{k}`{hint} sending it anyway",
                form.name
            )
        })
        .collect()
}

/// `what` (`click inc`) was not sent, as the network thread's `message`
/// says (`push \`event\` to \`lv:…\` not sent: WHY`).
fn not_sent(what: &str, message: &str) -> String {
    let why = message
        .rsplit_once(" not sent: ")
        .map_or(message, |(_, w)| w);
    if why == "the join failed" {
        format!(
            "`{what}` not sent: the view is rejoining; try again once it has joined, \
             or `wait text …` first"
        )
    } else {
        format!("`{what}` not sent: {why}")
    }
}

/// How a page was opened at the prompt, for a hint to type it again.
pub(super) fn typed_open(page: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("connect {name} live {page}"),
        None => format!("live {page}"),
    }
}

fn push_new(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

/// The payload of an event command, as the JS client builds it: a click's
/// `phx-value-*` with the user's pairs over them; a form's current fields
/// with the user's pairs over them (a change names the first pair's field,
/// else the form's first field, as `_target`).
fn build(e: &PageEvent, binding: Option<&Found>, cid: Option<i64>) -> Value {
    let mut values: Vec<(String, String)> = binding.map(|b| b.values.clone()).unwrap_or_default();
    match e.kind {
        EventKind::Click => {
            values.extend(e.values.iter().cloned());
            payload::click(&e.event, &values, cid)
        }
        EventKind::Submit | EventKind::Change => {
            let mut fields: Vec<(String, String)> =
                binding.map(|b| b.fields.clone()).unwrap_or_default();
            for (k, v) in &e.values {
                match fields.iter_mut().find(|(f, _)| f == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => fields.push((k.clone(), v.clone())),
                }
            }
            let target = (e.kind == EventKind::Change).then(|| {
                e.values
                    .first()
                    .or(fields.first())
                    .map(|(k, _)| k.clone())
                    .unwrap_or_default()
            });
            payload::form(&e.event, &fields, target.as_deref(), cid)
        }
        EventKind::KeyDown | EventKind::KeyUp => {
            let kind = if e.kind == EventKind::KeyUp {
                payload::KeyKind::Up
            } else {
                payload::KeyKind::Down
            };
            let key = e.key.as_deref().unwrap_or_default();
            payload::key(kind, &e.event, key, &values, cid)
        }
        EventKind::Hook => payload::hook(
            &e.event,
            e.hook.clone().unwrap_or(Value::Object(Default::default())),
            cid,
        ),
    }
}

/// `click inc {"value":{}}`-like echo of what goes out, short.
fn describe(e: &PageEvent, value: &Value) -> String {
    let v = value.get("value").cloned().unwrap_or(Value::Null);
    let shown = match &v {
        // A form, as its fields rather than URL-encoded.
        Value::String(s) => form_shown(s),
        other => other.to_string(),
    };
    let target = value
        .get("cid")
        .map(|c| format!(" (component {c})"))
        .unwrap_or_default();
    format!("{} {} {}{target}", e.kind.word(), e.event, text_of(&shown))
}

/// `body=hi+bob&to=x` as `body="hi bob" to=x`: each field decoded, a
/// value quoted when it has spaces or is empty.
fn form_shown(encoded: &str) -> String {
    url::form_urlencoded::parse(encoded.as_bytes())
        .map(|(k, v)| {
            if v.is_empty() || v.contains(char::is_whitespace) || v.contains('"') {
                format!("{k}={}", Value::String(v.into_owned()))
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_form_is_shown_as_its_fields() {
        assert_eq!(
            form_shown("body=hi+bob&to=x&n="),
            "body=\"hi bob\" to=x n=\"\""
        );
        assert_eq!(form_shown("value=42"), "value=42");
    }

    fn cmd(kind: EventKind, event: &str, values: &[(&str, &str)]) -> PageEvent {
        PageEvent {
            kind,
            event: event.into(),
            values: values
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            key: None,
            hook: None,
            target: None,
        }
    }

    #[test]
    fn a_submit_starts_from_the_forms_fields_and_a_change_names_its_target() {
        let form = Found {
            kind: Bound::Submit,
            name: "set".into(),
            values: vec![],
            target: None,
            cid: None,
            fields: vec![("value".into(), "0".into()), ("note".into(), "a b".into())],
        };
        let v = build(
            &cmd(EventKind::Submit, "set", &[("value", "42")]),
            Some(&form),
            None,
        );
        assert_eq!(
            v,
            json!({"type": "form", "event": "set", "value": "value=42&note=a+b"})
        );
        let v = build(
            &cmd(EventKind::Change, "set", &[("note", "x")]),
            Some(&form),
            Some(2),
        );
        assert_eq!(v["value"], json!("value=0&note=x&_target=note"));
        assert_eq!(v["cid"], json!(2));
        assert_eq!(
            unknown_fields(
                &cmd(EventKind::Submit, "set", &[("valu", "3"), ("note", "x")]),
                Some(&form)
            ),
            ["warning: the form set has no field `valu`; did you mean `value`? sending it anyway"]
        );
        assert_eq!(
            unknown_fields(
                &cmd(EventKind::Change, "set", &[("zzzzzz", "3")]),
                Some(&form)
            ),
            ["warning: the form set has no field `zzzzzz` (it has value, note); sending it anyway"]
        );
        assert_eq!(
            not_sent(
                "click inc",
                "push `event` to `lv:phx-1` not sent: the join failed"
            ),
            "`click inc` not sent: the view is rejoining; try again once it has joined, \
             or `wait text …` first"
        );
        assert_eq!(
            not_sent(
                "click inc",
                "push `event` to `lv:phx-1` not sent: the channel closed"
            ),
            "`click inc` not sent: the channel closed"
        );
        let v = build(&cmd(EventKind::Click, "inc", &[("by", "2")]), None, None);
        assert_eq!(
            v,
            json!({"type": "click", "event": "inc", "value": {"by": "2"}})
        );
    }
}

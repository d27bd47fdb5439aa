//! The events a LiveView's HTML offers: every `phx-click`, `phx-submit`,
//! `phx-change`, `phx-keydown`, `phx-keyup`, `phx-blur` and `phx-focus`
//! binding, with what the JS client would send for it (docs/PROTOCOL.md §10
//! "Events and server pushes"): the element's `phx-value-*`, its
//! `phx-target`, and for a form event the fields the browser would submit.
//! Used for tab completion and as the defaults a `click`/`submit`/`change`
//! command starts from before the user's own `k=v`.
//!
//! The fields are what `new FormData(form)` lists, in document order:
//! named, enabled controls only (a `disabled` attribute on the control or
//! on an enclosing `fieldset` removes it); text-like inputs and hidden ones
//! with their `value` attribute (or `""`); checkboxes and radios only when
//! `checked`, valued `on` without a `value`; each selected option of a
//! select (the first enabled option when a single select marks none),
//! valued by its `value` attribute or else its text; textareas with their
//! text. Buttons, `file`, `image`, `reset` and `submit` inputs are left
//! out (a submit button is only sent as the submitter, which the user
//! names). An input with its own `phx-change` sends only its own field.
//!
//! A click's values also get the element's `value`, as view.js
//! `extractMeta` adds it, when a `<button>` or `<input>` has a `value`
//! attribute (and a checkbox or radio is checked); the browser would also
//! send `""` for a button without one, which tells the server nothing.

use scraper::{ElementRef, Html};

use super::dom;

/// The binding an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Click,
    Submit,
    Change,
    KeyDown,
    KeyUp,
    Blur,
    Focus,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Click,
        EventKind::Submit,
        EventKind::Change,
        EventKind::KeyDown,
        EventKind::KeyUp,
        EventKind::Blur,
        EventKind::Focus,
    ];

    /// The attribute that binds it: `phx-click`, …
    pub fn attribute(self) -> &'static str {
        match self {
            EventKind::Click => "phx-click",
            EventKind::Submit => "phx-submit",
            EventKind::Change => "phx-change",
            EventKind::KeyDown => "phx-keydown",
            EventKind::KeyUp => "phx-keyup",
            EventKind::Blur => "phx-blur",
            EventKind::Focus => "phx-focus",
        }
    }

    /// The word a person types for it: `click`, `submit`, `change`,
    /// `keydown`, `keyup`, `blur`, `focus`.
    pub fn as_str(self) -> &'static str {
        &self.attribute()[4..]
    }

    /// Whether it sends a form (`{"type":"form"}`).
    pub fn is_form(self) -> bool {
        matches!(self, EventKind::Submit | EventKind::Change)
    }
}

/// `phx-target`: a component id, or a selector whose element's component
/// (or view) gets the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Cid(i64),
    Selector(String),
}

/// One event binding found in the HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEvent {
    pub kind: EventKind,
    /// The event name, the binding's value (`inc`).
    pub name: String,
    /// `phx-value-*` (without the prefix), in attribute order, then a
    /// click's element `value` (see the module doc).
    pub values: Vec<(String, String)>,
    /// `phx-target`, when set.
    pub target: Option<Target>,
    /// The component the event goes to: a numeric `phx-target`, or the
    /// `data-phx-component` enclosing the first element a selector target
    /// matches (view.js `targetComponentID`). `None` sends it to the view.
    pub cid: Option<i64>,
    /// For a form event, the fields a browser would submit; else empty.
    pub fields: Vec<(String, String)>,
}

/// Every event binding of `html` (a view's HTML or a whole page), in
/// document order; an element with several bindings gives them in
/// [`EventKind::ALL`]'s order.
pub fn find(html: &str) -> Vec<PageEvent> {
    let doc = dom::parse(html);
    let mut out = Vec::new();
    for el in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        for kind in EventKind::ALL {
            let Some(name) = el.value().attr(kind.attribute()) else {
                continue;
            };
            let target = el.value().attr("phx-target").map(parse_target);
            out.push(PageEvent {
                kind,
                name: name.to_owned(),
                values: values_of(el, kind),
                cid: target.as_ref().and_then(|t| cid_of(&doc, t)),
                target,
                fields: if kind.is_form() {
                    fields_for(el)
                } else {
                    Vec::new()
                },
            });
        }
    }
    out
}

/// The names of the events of `kind` in `html`, each once, in order: what
/// `click`/`submit`/… complete to.
pub fn names(events: &[PageEvent], kind: EventKind) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in events.iter().filter(|e| e.kind == kind) {
        if !out.contains(&e.name.as_str()) {
            out.push(&e.name);
        }
    }
    out
}

fn parse_target(s: &str) -> Target {
    match s.trim().parse::<i64>() {
        Ok(n) => Target::Cid(n),
        Err(_) => Target::Selector(s.to_owned()),
    }
}

fn cid_of(doc: &Html, target: &Target) -> Option<i64> {
    match target {
        Target::Cid(n) => Some(*n),
        Target::Selector(s) => {
            let sel = dom::selector(s).ok()?;
            let el = doc.select(&sel).next()?;
            std::iter::once(el)
                .chain(el.ancestors().filter_map(ElementRef::wrap))
                .find_map(|a| a.value().attr("data-phx-component")?.trim().parse().ok())
        }
    }
}

fn values_of(el: ElementRef<'_>, kind: EventKind) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = el
        .value()
        .attrs()
        .filter_map(|(n, v)| Some((n.strip_prefix("phx-value-")?.to_owned(), v.to_owned())))
        .collect();
    if !kind.is_form()
        && let Some(v) = own_value(el)
    {
        values.push(("value".into(), v));
    }
    values
}

/// The `value` extractMeta adds for a click, key or focus event.
fn own_value(el: ElementRef<'_>) -> Option<String> {
    let e = el.value();
    let value = e.attr("value")?;
    match e.name() {
        "button" => Some(value.to_owned()),
        "input" if is_checkable(el) => e.attr("checked").map(|_| value.to_owned()),
        "input" => Some(value.to_owned()),
        _ => None,
    }
}

fn is_checkable(el: ElementRef<'_>) -> bool {
    matches!(input_type(el).as_str(), "checkbox" | "radio")
}

fn input_type(el: ElementRef<'_>) -> String {
    el.value()
        .attr("type")
        .unwrap_or("text")
        .to_ascii_lowercase()
}

/// The fields a form event on `el` sends: the form's, or only the input's
/// own when the binding sits on a control inside a form.
fn fields_for(el: ElementRef<'_>) -> Vec<(String, String)> {
    if el.value().name() == "form" {
        return form_fields(el);
    }
    let mut own = Vec::new();
    push_control(el, &mut own);
    own
}

/// What `new FormData(form)` holds (see the module doc).
pub fn form_fields(form: ElementRef<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for el in form.descendants().filter_map(ElementRef::wrap) {
        if disabled(el, form) {
            continue;
        }
        push_control(el, &mut out);
    }
    out
}

fn push_control(el: ElementRef<'_>, out: &mut Vec<(String, String)>) {
    let e = el.value();
    let Some(name) = e.attr("name").filter(|n| !n.is_empty()) else {
        return;
    };
    let name = name.to_owned();
    match e.name() {
        "input" => {
            let ty = input_type(el);
            match ty.as_str() {
                "submit" | "button" | "reset" | "image" | "file" => {}
                "checkbox" | "radio" => {
                    if e.attr("checked").is_some() {
                        out.push((name, e.attr("value").unwrap_or("on").to_owned()));
                    }
                }
                _ => out.push((name, e.attr("value").unwrap_or_default().to_owned())),
            }
        }
        "textarea" => out.push((name, el.text().collect())),
        "select" => {
            for v in selected_options(el) {
                out.push((name.clone(), v));
            }
        }
        _ => {}
    }
}

fn selected_options(select: ElementRef<'_>) -> Vec<String> {
    let options: Vec<ElementRef<'_>> = select
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|o| o.value().name() == "option")
        .collect();
    let value = |o: &ElementRef<'_>| match o.value().attr("value") {
        Some(v) => v.to_owned(),
        None => o
            .text()
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let chosen: Vec<String> = options
        .iter()
        .filter(|o| o.value().attr("selected").is_some())
        .map(value)
        .collect();
    let multiple = select.value().attr("multiple").is_some();
    if multiple {
        return chosen;
    }
    match chosen.last() {
        // A single select shows the last option marked selected.
        Some(last) => vec![last.clone()],
        None => options
            .iter()
            .find(|o| o.value().attr("disabled").is_none())
            .map(value)
            .into_iter()
            .collect(),
    }
}

/// A control is disabled by its own attribute or by a disabled fieldset
/// between it and the form (except inside that fieldset's first legend,
/// which a form here does not need).
fn disabled(el: ElementRef<'_>, form: ElementRef<'_>) -> bool {
    if el.value().attr("disabled").is_some() {
        return true;
    }
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .take_while(|a| a.id() != form.id())
        .any(|a| a.value().name() == "fieldset" && a.value().attr("disabled").is_some())
}

#[cfg(test)]
mod tests {
    use super::super::frames::DEAD_V020;
    use super::*;

    fn ev(kind: EventKind, name: &str) -> PageEvent {
        PageEvent {
            kind,
            name: name.into(),
            values: vec![],
            target: None,
            cid: None,
            fields: vec![],
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_counter_page_offers_inc_dec_and_the_set_form() {
        let found = find(DEAD_V020);
        let set = PageEvent {
            fields: pairs(&[("value", "0")]),
            ..ev(EventKind::Submit, "set")
        };
        assert_eq!(
            found,
            [
                ev(EventKind::Click, "inc"),
                ev(EventKind::Click, "dec"),
                set
            ]
        );
        assert_eq!(names(&found, EventKind::Click), ["inc", "dec"]);
        assert_eq!(names(&found, EventKind::Submit), ["set"]);
    }

    #[test]
    fn values_targets_and_components() {
        let html = r##"<div data-phx-component="3"><button id="b" phx-click="del" phx-value-id="7" phx-value-kind="a b" phx-target="2">x</button>
<li phx-click="pick" phx-target="#b" phx-keydown="nav" phx-value-i="1"></li></div>
<button phx-click="go" value="v1"></button><input type="checkbox" phx-click="t" value="on-val"><input phx-blur="left" phx-focus="came" value="typed">"##;
        let found = find(html);
        let kinds: Vec<(EventKind, &str)> =
            found.iter().map(|e| (e.kind, e.name.as_str())).collect();
        use EventKind::*;
        assert_eq!(
            kinds,
            [
                (Click, "del"),
                (Click, "pick"),
                (KeyDown, "nav"),
                (Click, "go"),
                (Click, "t"),
                (Blur, "left"),
                (Focus, "came")
            ]
        );
        assert_eq!(found[0].values, pairs(&[("id", "7"), ("kind", "a b")]));
        assert_eq!(
            (found[0].target.clone(), found[0].cid),
            (Some(Target::Cid(2)), Some(2))
        );
        assert_eq!(found[1].target, Some(Target::Selector("#b".into())));
        assert_eq!(
            found[1].cid,
            Some(3),
            "the selector's element sits in component 3"
        );
        assert_eq!(found[3].values, pairs(&[("value", "v1")]));
        assert!(
            found[4].values.is_empty(),
            "an unchecked checkbox adds no value"
        );
        assert_eq!(found[5].values, pairs(&[("value", "typed")]));
        let none = find(r#"<a phx-click="x" phx-target=".missing"></a>"#);
        assert_eq!((none[0].cid, none[0].target.is_some()), (None, true));
    }

    #[test]
    fn form_fields_are_what_a_browser_submits() {
        let html = r#"<form phx-submit="save" phx-change="validate" phx-value-step="2">
  <input type="hidden" name="_csrf_token" value="T">
  <input name="user[name]" value="Ana María"><input name="empty"><input value="no name">
  <input type="checkbox" name="tags[]" value="a" checked><input type="checkbox" name="tags[]" value="b">
  <input type="checkbox" name="agree" checked>
  <input type="radio" name="color" value="red"><input type="radio" name="color" value="blue" checked>
  <select name="size"><option value="s">S</option><option selected>  Large  one </option></select>
  <select name="first"><option disabled>-</option><option value="x">X</option></select>
  <select name="many" multiple><option value="1" selected>1</option><option value="2">2</option><option value="3" selected>3</option></select>
  <textarea name="bio">line 1
line 2</textarea>
  <input name="off" value="1" disabled>
  <fieldset disabled><input name="fs" value="1"></fieldset>
  <input type="submit" name="go" value="Go"><button name="b" value="1">B</button><input type="file" name="f">
</form>"#;
        let found = find(html);
        assert_eq!(found.len(), 2);
        let want = pairs(&[
            ("_csrf_token", "T"),
            ("user[name]", "Ana María"),
            ("empty", ""),
            ("tags[]", "a"),
            ("agree", "on"),
            ("color", "blue"),
            ("size", "Large one"),
            ("first", "x"),
            ("many", "1"),
            ("many", "3"),
            ("bio", "line 1\nline 2"),
        ]);
        assert_eq!(found[0].kind, EventKind::Submit);
        assert_eq!(found[0].fields, want);
        assert_eq!(found[1].kind, EventKind::Change);
        assert_eq!(found[1].fields, want);
        assert_eq!(
            found[0].values,
            pairs(&[("step", "2")]),
            "a form's own value is not sent"
        );
    }

    #[test]
    fn an_input_with_its_own_change_sends_its_own_field() {
        let html = r#"<form phx-submit="s"><input name="a" value="1"><input name="q" value="x" phx-change="suggest"></form>"#;
        let found = find(html);
        assert_eq!(found[0].fields, pairs(&[("a", "1"), ("q", "x")]));
        assert_eq!(found[1].kind, EventKind::Change);
        assert_eq!(found[1].fields, pairs(&[("q", "x")]));
    }
}

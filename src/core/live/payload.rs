//! The payloads of the `event` messages a LiveView client pushes, built the
//! way the official JS client builds them (docs/PROTOCOL.md §10 "Events and
//! server pushes", from view.js `pushEvent`, `pushInput`, `pushFormSubmit`,
//! `pushHookEvent` and `serializeForm`):
//!
//! - [`click`] — `{"type":"click","event":E,"value":{…}}`, the value holding
//!   the element's `phx-value-*` attributes;
//! - [`form`] — `{"type":"form","event":E,"value":"a=1&b=x+y"}`, the form
//!   URL-encoded as a browser's `URLSearchParams` does; a change event
//!   (`target` given) appends `_target=FIELD` after the fields and carries
//!   `"uploads":{}`, as `pushInput` does;
//! - [`key`] — `{"type":"keydown"|"keyup","event":E,"value":{"key":K,…}}`;
//! - [`focus`] — `{"type":"blur"|"focus","event":E,"value":{…}}`;
//! - [`hook`] — `{"type":"hook","event":E,"value":ANY}`.
//!
//! Each adds `"cid": N` when the event targets a component, and leaves the
//! key out otherwise (the JS client deletes a `cid` that is not a number).
//! Pure: the caller decides the values (from the page, see
//! [`super::events`], and from what the user typed).

use serde_json::{Map, Value, json};

/// Which key event: `phx-keydown` or `phx-keyup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Down,
    Up,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Down => "keydown",
            KeyKind::Up => "keyup",
        }
    }
}

/// Which focus event: `phx-blur` or `phx-focus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusKind {
    Blur,
    Focus,
}

impl FocusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FocusKind::Blur => "blur",
            FocusKind::Focus => "focus",
        }
    }
}

/// A click on an element with `phx-click`. `values` are its `phx-value-*`
/// attributes (name without the prefix) and anything the user adds; a
/// later pair overrides an earlier one with the same name, as the JS
/// client's object assignment does.
pub fn click<K: AsRef<str>, V: AsRef<str>>(
    event: &str,
    values: &[(K, V)],
    cid: Option<i64>,
) -> Value {
    envelope("click", event, Value::Object(object(values)), cid)
}

/// A form event: a submit when `target` is `None`, a change of the field
/// named `target` otherwise. `fields` are the form's entries in document
/// order, as `FormData` lists them.
pub fn form<K: AsRef<str>, V: AsRef<str>>(
    event: &str,
    fields: &[(K, V)],
    target: Option<&str>,
    cid: Option<i64>,
) -> Value {
    let mut v = envelope(
        "form",
        event,
        Value::String(form_value(fields, target)),
        cid,
    );
    if target.is_some() {
        // pushInput always sends the serialised uploads: an empty object
        // when the form has no file inputs.
        v["uploads"] = json!({});
    }
    v
}

/// The URL-encoded form body: each field, then `_target` for a change.
/// Spaces become `+` and everything but ASCII alphanumerics and `*-._` is
/// percent-encoded (`application/x-www-form-urlencoded`, what
/// `URLSearchParams.toString()` produces).
pub fn form_value<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], target: Option<&str>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        ser.append_pair(k.as_ref(), v.as_ref());
    }
    if let Some(t) = target {
        ser.append_pair("_target", t);
    }
    ser.finish()
}

/// A key event on an element with `phx-keydown`/`phx-keyup`: the value
/// holds `key` (the browser's `KeyboardEvent.key`, e.g. `Enter`, `a`),
/// then the element's `phx-value-*` and, for an input, its `value`.
pub fn key<K: AsRef<str>, V: AsRef<str>>(
    kind: KeyKind,
    event: &str,
    key: &str,
    values: &[(K, V)],
    cid: Option<i64>,
) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), Value::String(key.into()));
    m.extend(object(values));
    envelope(kind.as_str(), event, Value::Object(m), cid)
}

/// A blur or focus event (`phx-blur`/`phx-focus`), valued like a click.
pub fn focus<K: AsRef<str>, V: AsRef<str>>(
    kind: FocusKind,
    event: &str,
    values: &[(K, V)],
    cid: Option<i64>,
) -> Value {
    envelope(kind.as_str(), event, Value::Object(object(values)), cid)
}

/// A hook's `pushEvent(event, payload)`: the payload goes as it is.
pub fn hook(event: &str, value: Value, cid: Option<i64>) -> Value {
    envelope("hook", event, value, cid)
}

fn envelope(kind: &str, event: &str, value: Value, cid: Option<i64>) -> Value {
    let mut v = json!({"type": kind, "event": event, "value": value});
    if let Some(cid) = cid {
        v["cid"] = json!(cid);
    }
    v
}

fn object<K: AsRef<str>, V: AsRef<str>>(values: &[(K, V)]) -> Map<String, Value> {
    values
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), Value::String(v.as_ref().to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[(&str, &str)] = &[];

    #[test]
    fn click_is_the_recorded_frame() {
        // The transcripts' `["1","2","lv:…","event",{"type":"click","event":"inc","value":{}}]`.
        let recorded: Value =
            serde_json::from_str(r#"{"type":"click","event":"inc","value":{}}"#).unwrap();
        assert_eq!(click("inc", NONE, None), recorded);
        assert_eq!(
            click("del", &[("id", "7"), ("id", "8"), ("kind", "a b")], Some(3)),
            json!({"type":"click","event":"del","value":{"id":"8","kind":"a b"},"cid":3})
        );
    }

    #[test]
    fn submit_is_url_encoded_as_a_browser_does() {
        assert_eq!(
            form("set", &[("value", "42")], None, None),
            json!({"type":"form","event":"set","value":"value=42"})
        );
        assert_eq!(
            form_value(
                &[("user[name]", "ana maría"), ("note", "a+b&c=d/é*~-._!")],
                None
            ),
            "user%5Bname%5D=ana+mar%C3%ADa&note=a%2Bb%26c%3Dd%2F%C3%A9*%7E-._%21"
        );
        assert_eq!(form_value(NONE, None), "");
    }

    #[test]
    fn change_adds_target_after_the_fields_and_empty_uploads() {
        assert_eq!(
            form("validate", &[("q", "x y"), ("n", "")], Some("q"), Some(1)),
            json!({"type":"form","event":"validate","value":"q=x+y&n=&_target=q","uploads":{},"cid":1})
        );
    }

    #[test]
    fn key_focus_and_hook() {
        assert_eq!(
            key(KeyKind::Down, "nav", "Enter", &[("value", "hi")], None),
            json!({"type":"keydown","event":"nav","value":{"key":"Enter","value":"hi"}})
        );
        assert_eq!(key(KeyKind::Up, "k", "a", NONE, Some(2))["type"], "keyup");
        assert_eq!(
            focus(FocusKind::Blur, "left", &[("f", "1")], None),
            json!({"type":"blur","event":"left","value":{"f":"1"}})
        );
        assert_eq!(
            hook("moved", json!({"x":1,"y":[2]}), Some(5)),
            json!({"type":"hook","event":"moved","value":{"x":1,"y":[2]},"cid":5})
        );
    }
}

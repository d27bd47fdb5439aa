//! Terminal safety: what a server sends is made harmless before it is shown.
//!
//! A server must not be able to move the cursor, retitle the window or
//! reorder text on screen. This file owns the rule for which characters are
//! unsafe ([`is_unsafe_char`]) and the three ways text is made safe:
//! [`clean`] for names and messages, [`excerpt`] for quoted text cut short,
//! and [`display_json`] for payloads. JSON string literals in `--json`
//! records follow the same rule through `output::encode`; colouring and
//! layout are left to the renderers.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::core::protocol::printable_ascii;

/// Whether `c` could drive the terminal or disguise text: control
/// characters (C0, DEL, C1) and the zero-width and bidi formatting marks.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Escapes control characters (C0, DEL, C1) so server text cannot drive the
/// terminal.
pub fn clean(s: &str) -> Cow<'_, str> {
    // Printable ASCII, the usual topic or event, is decided byte by byte.
    if printable_ascii(s.as_bytes(), false) || !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` on one line for a message: control characters escaped, cut to
/// `max` characters with `…`.
pub fn excerpt(s: &str, max: usize) -> String {
    let cleaned = clean(s);
    match cleaned.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &cleaned[..cut]),
        None => cleaned.into_owned(),
    }
}

/// A payload made safe to print on one line: whitespace outside strings is
/// dropped, and characters that could drive the terminal (DEL, C1 controls,
/// bidi and zero-width formatting), which JSON allows raw inside strings,
/// become `\uXXXX` escapes. The result is the same JSON value.
pub fn display_json(s: &str) -> Cow<'_, str> {
    let plain = printable_ascii(s.as_bytes(), false);
    let needs_work = !plain
        && s.chars()
            .any(|c| matches!(c, '\n' | '\r' | '\t') || is_unsafe_char(c));
    if !needs_work {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    for c in s.chars() {
        if is_unsafe_char(c) && !matches!(c, '\n' | '\r' | '\t') {
            // Only possible inside a string: outside, JSON allows nothing
            // but structural characters and plain whitespace.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
            escaped = false;
            continue;
        }
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !matches!(c, '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_payloads_are_compacted() {
        assert_eq!(
            display_json("{\n  \"a\": \"x\\ny\",\n\t\"b\": [1,\r\n 2]\n}"),
            "{  \"a\": \"x\\ny\",\"b\": [1, 2]}"
        );
        assert!(matches!(display_json("{\"a\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_controls_inside_payload_strings_are_escaped_as_json() {
        let raw_payload = "{\"a\":\"x\u{9b}31mRED\u{202e}evil\u{7f}\"}";
        let shown = display_json(raw_payload);
        assert_eq!(shown, "{\"a\":\"x\\u009b31mRED\\u202eevil\\u007f\"}");
        let a: serde_json::Value = serde_json::from_str(raw_payload).unwrap();
        let b: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(a, b, "the same JSON value");
        assert!(matches!(display_json("{\"a\":\"żółw\"}"), Cow::Borrowed(_)));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("a\nb", 10), "a\\nb");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("żółw", 4), "żółw");
    }
}

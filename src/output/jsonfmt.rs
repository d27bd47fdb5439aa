//! JSON payloads for people: syntax colours and optional indentation (pure).
//!
//! Works on the text of a valid JSON value that `output::safe::display_json` has
//! already made safe for the terminal, token by token, so key order and
//! number spelling stay exactly as the server sent them (no parse into a
//! map). Whether to colour is the caller's decision (`output` asks
//! `colored`, whose switch `main` sets from `--color` and `NO_COLOR`).

/// Renders `json` with colours (keys, strings, numbers, literals) when
/// `color`, and indented over several lines when `pretty`.
pub fn render(json: &str, pretty: bool, color: bool) -> String {
    if !pretty && !color {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + json.len() / 2);
    let mut depth = 0usize;
    // Just after `{` or `[`: a closer right here keeps `{}` / `[]` together.
    let mut opened = false;
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'"' => {
                let end = string_end(json, i);
                let token = &json[i..end];
                if opened && pretty {
                    newline(&mut out, depth);
                }
                opened = false;
                let is_key = json[end..].trim_start().starts_with(':');
                push(
                    &mut out,
                    token,
                    color,
                    if is_key { Kind::Key } else { Kind::Str },
                );
                i = end;
                continue;
            }
            b'{' | b'[' => {
                if opened && pretty {
                    newline(&mut out, depth);
                }
                out.push(c as char);
                depth += 1;
                opened = true;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if pretty && !opened {
                    newline(&mut out, depth);
                }
                opened = false;
                out.push(c as char);
            }
            b',' => {
                out.push(',');
                if pretty {
                    newline(&mut out, depth);
                }
            }
            b':' => {
                out.push(':');
                if pretty {
                    out.push(' ');
                }
            }
            _ => {
                let end = json[i..]
                    .find([',', '}', ']', ':', ' ', '\t', '\n', '\r'])
                    .map_or(json.len(), |n| i + n);
                let token = &json[i..end];
                if opened && pretty {
                    newline(&mut out, depth);
                }
                opened = false;
                let kind =
                    if token.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
                        Kind::Number
                    } else {
                        Kind::Literal
                    };
                push(&mut out, token, color, kind);
                i = end.max(i + 1);
                continue;
            }
        }
        i += 1;
    }
    out
}

const BLUE: &str = "\x1b[34m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

#[derive(Clone, Copy)]
enum Kind {
    Key,
    Str,
    Number,
    Literal,
}

fn push(out: &mut String, token: &str, color: bool, kind: Kind) {
    if !color {
        out.push_str(token);
        return;
    }
    out.push_str(match kind {
        Kind::Key => BLUE,
        Kind::Str => GREEN,
        Kind::Number => CYAN,
        Kind::Literal => YELLOW,
    });
    out.push_str(token);
    out.push_str(RESET);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// The index just past the string that starts at `start` (a `"`).
fn string_end(s: &str, start: usize) -> usize {
    let bytes = s.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(render(r#"{"a": 1}"#, false, false), r#"{"a": 1}"#);
    }

    #[test]
    fn pretty_indents_nested_values_and_keeps_key_order() {
        assert_eq!(
            render(
                r#"{"z":1,"a":{"b":[1,2],"e":{}},"s":"x,]\"y"}"#,
                true,
                false
            ),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ],\n    \"e\": {}\n  },\n  \"s\": \"x,]\\\"y\"\n}"
        );
        assert_eq!(render("[]", true, false), "[]");
        assert_eq!(render("3.5e2", true, false), "3.5e2");
    }

    #[test]
    fn colours_mark_keys_strings_numbers_and_literals() {
        let out = render(r#"{"k":"v","n":-1.5,"t":true,"z":null}"#, false, true);
        let (k, s, n, l, r) = (BLUE, GREEN, CYAN, YELLOW, RESET);
        assert_eq!(
            out,
            format!(
                "{{{k}\"k\"{r}:{s}\"v\"{r},{k}\"n\"{r}:{n}-1.5{r},{k}\"t\"{r}:{l}true{r},{k}\"z\"{r}:{l}null{r}}}"
            )
        );
    }
}

//! jq-like paths for `let NAME = PATH` (pure): parsing `.user.id`,
//! `.items[0].id`, `.["odd key"]`, `.a[-1]` and `.`, finding what a path
//! names inside a JSON value, and the text a found value substitutes as.
//!
//! Only the part of jq that picks one value is here: keys and indexes, no
//! filters, pipes or iteration. A key is a name of letters, digits, `_`
//! and `-` after a `.`, or any string in `["…"]` (with JSON's escapes).

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use thiserror::Error;

/// What is wrong with a path, at which character (1-based), with an
/// example of one that works.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    #[error(
        "a path starts with `.`, as in `.data.id` (`.` alone is the whole value); `{0}` does not"
    )]
    NoLeadingDot(String),
    #[error(
        "`{path}`: a key is missing after the `.` at character {at}; write one, as in `.user.id`, or quote it, as in `.[\"odd key\"]`"
    )]
    MissingKey { path: String, at: usize },
    #[error(
        "`{path}`: unexpected `{found}` at character {at}; keys follow `.` and indexes sit in brackets, as in `.items[0].id`"
    )]
    Unexpected {
        path: String,
        found: char,
        at: usize,
    },
    #[error(
        "`{path}`: the `[` at character {at} needs a whole number or a quoted key and a `]`, as in `.items[0]`, `.items[-1]` or `.[\"odd key\"]`"
    )]
    BadBracket { path: String, at: usize },
}

/// One step down into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object's member.
    Key(String),
    /// An array's element; negative counts from the end (`-1` is the last).
    Index(i64),
}

/// A parsed path: the steps from the value it starts at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    pub steps: Vec<Step>,
}

impl Path {
    /// Parses a path; errors say where it went wrong.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let text = text.trim();
        if !text.starts_with('.') {
            return Err(PathError::NoLeadingDot(crate::output::excerpt(text, 40)));
        }
        let path = || crate::output::excerpt(text, 60);
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let (_, c) = chars[i];
            match c {
                '.' => {
                    let name_len = chars[i + 1..]
                        .iter()
                        .take_while(|(_, c)| is_key_char(*c))
                        .count();
                    if name_len > 0 {
                        let key: String = chars[i + 1..i + 1 + name_len]
                            .iter()
                            .map(|(_, c)| c)
                            .collect();
                        steps.push(Step::Key(key));
                    } else {
                        // `.` alone, or `.[…]`; anything else lacks a key.
                        let next = chars.get(i + 1).map(|(_, c)| *c);
                        let whole = i == 0 && next.is_none();
                        if !whole && next != Some('[') {
                            return Err(PathError::MissingKey {
                                path: path(),
                                at: i + 1,
                            });
                        }
                    }
                    i += 1 + name_len;
                }
                '[' => {
                    let (step, len) =
                        bracket(text, &chars, i).ok_or_else(|| PathError::BadBracket {
                            path: path(),
                            at: i + 1,
                        })?;
                    steps.push(step);
                    i += len;
                }
                found => {
                    return Err(PathError::Unexpected {
                        path: path(),
                        found,
                        at: i + 1,
                    });
                }
            }
        }
        Ok(Path { steps })
    }

    /// What the path names inside `value`, if anything.
    pub fn find<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.steps
            .iter()
            .try_fold(value, |v, step| match (step, v) {
                (Step::Key(k), Value::Object(map)) => map.get(k),
                (Step::Index(n), Value::Array(items)) => {
                    let len = items.len() as i64;
                    let at = if *n < 0 { len + n } else { *n };
                    usize::try_from(at).ok().and_then(|at| items.get(at))
                }
                _ => None,
            })
    }
}

/// `[…]` at `chars[i]`: the step and how many characters it took.
fn bracket(text: &str, chars: &[(usize, char)], i: usize) -> Option<(Step, usize)> {
    let close = if chars.get(i + 1)?.1 == '"' {
        // A JSON string: its closing quote is the first unescaped `"`.
        let mut j = i + 2;
        let mut escaped = false;
        loop {
            let (_, c) = *chars.get(j)?;
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => break,
                _ => {}
            }
            j += 1;
        }
        j + 1
    } else {
        i + 1 + chars[i + 1..].iter().take_while(|(_, c)| *c != ']').count()
    };
    if chars.get(close)?.1 != ']' {
        return None;
    }
    let inner = &text[chars[i + 1].0..chars[close].0];
    let step = if inner.starts_with('"') {
        Step::Key(serde_json::from_str::<String>(inner).ok()?)
    } else {
        let digits = inner.strip_prefix('-').unwrap_or(inner);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Step::Index(inner.parse().ok()?)
    };
    Some((step, close + 1 - i))
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Back to path text, in the form `parse` reads.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str(".");
        }
        for step in &self.steps {
            match step {
                Step::Key(k) if !k.is_empty() && k.chars().all(is_key_char) => write!(f, ".{k}")?,
                Step::Key(k) => write!(f, ".[{}]", Value::String(k.clone()))?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The text a found value stands for in `${NAME}`: a string as its text,
/// anything else as compact JSON.
pub fn substitution(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Option<Value> {
        Path::parse(path).unwrap().find(v).cloned()
    }

    #[test]
    fn keys_and_indexes() {
        let v = json!({"user": {"id": 7}, "items": [{"id": "a"}, {"id": "b"}],
            "data": {"addMessage": {"id": "m1"}}, "odd key": 1, "a-b": 2, "é": 3});
        assert_eq!(find(".user.id", &v), Some(json!(7)));
        assert_eq!(find(".items[0].id", &v), Some(json!("a")));
        assert_eq!(find(".items[-1].id", &v), Some(json!("b")));
        assert_eq!(find(".items[-2].id", &v), Some(json!("a")));
        assert_eq!(find(".data.addMessage.id", &v), Some(json!("m1")));
        assert_eq!(find(".", &v), Some(v.clone()));
        assert_eq!(find(".[\"odd key\"]", &v), Some(json!(1)));
        assert_eq!(find(".a-b", &v), Some(json!(2)));
        assert_eq!(find(".é", &v), Some(json!(3)));
        assert_eq!(find(" .items.[1] ", &v), Some(json!({"id": "b"})));
        assert_eq!(find(".[\"items\"][1][\"id\"]", &v), Some(json!("b")));
    }

    #[test]
    fn finding_nothing() {
        let v = json!({"items": [1, 2], "s": "x"});
        for path in [
            ".nope",
            ".items[2]",
            ".items[-3]",
            ".items.id",
            ".s[0]",
            ".s.x",
            ".[0]",
        ] {
            assert_eq!(find(path, &v), None, "{path}");
        }
        assert_eq!(find(".a", &json!(null)), None);
    }

    #[test]
    fn escapes_in_quoted_keys() {
        let v = json!({"a\"]b": 1, "x.y": 2});
        assert_eq!(find(r#".["a\"]b"]"#, &v), Some(json!(1)));
        assert_eq!(find(r#".["x.y"]"#, &v), Some(json!(2)));
        assert_eq!(find(r#".["\u0078.y"]"#, &v), Some(json!(2)));
    }

    #[test]
    fn errors_name_the_character_and_show_an_example() {
        let cases = [
            (
                "user.id",
                "a path starts with `.`, as in `.data.id` (`.` alone is the whole value); `user.id` does not",
            ),
            (
                ".a..b",
                "`.a..b`: a key is missing after the `.` at character 3; write one, as in `.user.id`, or quote it, as in `.[\"odd key\"]`",
            ),
            (
                ".a.",
                "`.a.`: a key is missing after the `.` at character 3; write one, as in `.user.id`, or quote it, as in `.[\"odd key\"]`",
            ),
            (
                ".a b",
                "`.a b`: unexpected ` ` at character 3; keys follow `.` and indexes sit in brackets, as in `.items[0].id`",
            ),
            (
                ".items[x]",
                "`.items[x]`: the `[` at character 7 needs a whole number or a quoted key and a `]`, as in `.items[0]`, `.items[-1]` or `.[\"odd key\"]`",
            ),
        ];
        for (path, want) in cases {
            assert_eq!(Path::parse(path).unwrap_err().to_string(), want, "{path}");
        }
        for bad in [
            ".a[",
            ".a[1",
            ".a[]",
            ".a[-]",
            ".a[1.5]",
            ".[\"x]",
            ".[\"x\"",
            ".[\"\\q\"]",
            "",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_as_it_parses() {
        for text in [".", ".a.b", ".items[0].id", ".a[-1]", ".[\"odd key\"].x"] {
            let p = Path::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
            assert_eq!(Path::parse(&p.to_string()).unwrap(), p);
        }
        assert_eq!(Path::parse(".[\"k\"]").unwrap().to_string(), ".k");
    }

    #[test]
    fn substitution_text() {
        assert_eq!(substitution(&json!("a b")), "a b");
        assert_eq!(substitution(&json!(42)), "42");
        assert_eq!(substitution(&json!({"a": [1, "x"]})), r#"{"a":[1,"x"]}"#);
        assert_eq!(substitution(&json!(null)), "null");
        assert_eq!(substitution(&json!("")), "");
    }
}

//! Subset matching of JSON values, for `expect` and `wait` (pure).
//!
//! An expected object matches when each of its keys is present in the
//! actual object and its value matches, recursively; extra keys in the
//! actual object are fine. Arrays and scalars must be equal (numbers by
//! value, so `1` and `1.0` are equal). A mismatch names the path to the
//! first difference so a failed expectation says exactly what differed.

use serde_json::Value;

/// Where and how an actual value differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `.body`, `.tags[1]`, or empty for the whole value.
    pub path: String,
    /// What was expected there (compact JSON).
    pub expected: String,
    /// What was there instead: compact JSON, or `nothing` for a missing key.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "expected {}, got {}", self.expected, self.got)
        } else {
            write!(
                f,
                "at {} expected {}, got {}",
                self.path, self.expected, self.got
            )
        }
    }
}

/// `None` when `actual` contains `expected`; else the first difference.
pub fn subset(expected: &Value, actual: &Value) -> Option<Mismatch> {
    let mut path = String::new();
    walk(expected, actual, &mut path)
}

/// Parses both texts and matches them; text that is not JSON never matches.
pub fn subset_text(expected: &Value, actual: &str) -> Option<Mismatch> {
    match serde_json::from_str::<Value>(actual) {
        Ok(v) => subset(expected, &v),
        Err(_) => Some(Mismatch {
            path: String::new(),
            expected: expected.to_string(),
            got: crate::output::excerpt(actual, 200),
        }),
    }
}

fn walk(expected: &Value, actual: &Value, path: &mut String) -> Option<Mismatch> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, w) in want {
                let len = path.len();
                push_key(path, key);
                let found = match have.get(key) {
                    Some(h) => walk(w, h, path),
                    None => Some(Mismatch {
                        path: path.clone(),
                        expected: w.to_string(),
                        got: "nothing".to_owned(),
                    }),
                };
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                if !equal(w, h) {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let m = Mismatch {
                        path: path.clone(),
                        expected: w.to_string(),
                        got: h.to_string(),
                    };
                    path.truncate(len);
                    return Some(m);
                }
            }
            None
        }
        _ if equal(expected, actual) => None,
        _ => Some(Mismatch {
            path: path.clone(),
            expected: expected.to_string(),
            got: actual.to_string(),
        }),
    }
}

/// Exact equality, except that numbers compare by value.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| equal(p, q)))
        }
        _ => a == b,
    }
}

fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&crate::core::protocol::json_str(key));
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(expected: Value, actual: Value) -> bool {
        subset(&expected, &actual).is_none()
    }

    #[test]
    fn an_object_matches_when_its_keys_match() {
        assert!(ok(json!({"a": 1}), json!({"a": 1, "b": 2})));
        assert!(ok(json!({}), json!({"a": 1})));
        assert!(!ok(json!({"a": 1}), json!({"a": 2})));
        assert!(!ok(json!({"a": 1}), json!({"b": 1})));
    }

    #[test]
    fn nested_objects_match_recursively() {
        assert!(ok(
            json!({"user": {"name": "ana"}}),
            json!({"user": {"name": "ana", "id": 7}, "x": null})
        ));
        assert!(!ok(
            json!({"user": {"name": "ana"}}),
            json!({"user": {"name": "bo"}})
        ));
    }

    #[test]
    fn arrays_must_be_equal() {
        assert!(ok(json!({"t": [1, 2]}), json!({"t": [1, 2]})));
        assert!(!ok(json!({"t": [1]}), json!({"t": [1, 2]})));
        assert!(!ok(json!({"t": [2, 1]}), json!({"t": [1, 2]})));
        // Objects inside arrays are compared whole, not as subsets.
        assert!(!ok(json!([{"a": 1}]), json!([{"a": 1, "b": 2}])));
    }

    #[test]
    fn scalars_must_be_equal_and_numbers_compare_by_value() {
        assert!(ok(json!("hi"), json!("hi")));
        assert!(ok(json!(1), json!(1.0)));
        assert!(!ok(json!(1), json!("1")));
        assert!(!ok(json!(null), json!(false)));
        assert!(!ok(json!({"a": 1}), json!([1])));
    }

    #[test]
    fn a_mismatch_names_the_path_and_both_values() {
        let m = subset(
            &json!({"user": {"tags": ["a", "b"]}}),
            &json!({"user": {"tags": ["a", "c"]}}),
        )
        .unwrap();
        assert_eq!(m.path, ".user.tags[1]");
        assert_eq!(m.to_string(), r#"at .user.tags[1] expected "b", got "c""#);
        let m = subset(&json!({"two words": 1}), &json!({})).unwrap();
        assert_eq!(m.to_string(), r#"at ["two words"] expected 1, got nothing"#);
        let m = subset(&json!(1), &json!(2)).unwrap();
        assert_eq!(m.to_string(), "expected 1, got 2");
    }

    #[test]
    fn text_that_is_not_json_never_matches() {
        assert!(subset_text(&json!({}), "{nope").is_some());
        assert!(subset_text(&json!({"a": 1}), r#"{"a":1}"#).is_none());
    }
}

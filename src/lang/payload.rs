//! Payload arguments, pure but for `@FILE`: the forms a typed payload
//! takes (JSON, the `<…>` shorthand, `key=value`/`key:=JSON` pairs, binary
//! as `hex:`/`base64:`/`@@FILE`, JSON from `@FILE`) turned into what is
//! sent, and the compacting of JSON typed over several lines.
//!
//! `command.rs` calls these for each command's payload and wraps their
//! [`PayloadError`] with the command it came after.

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};
use serde_json::value::RawValue;

use crate::core::protocol::{Payload, json_str, push_json_str, raw};
use crate::lang::command::{shorten, split_word};
use crate::lang::error::PayloadError;

/// Parses a payload: empty → `{}`; JSON; `<…>` shorthand; or key=value pairs.
///
/// A payload typed over several lines is sent compact, as [`compact`]
/// makes it; one typed on one line is kept as typed.
pub fn parse_payload(text: &str) -> Result<Box<RawValue>, PayloadError> {
    let payload = parse_payload_as_typed(text)?;
    if text.trim().contains('\n') {
        Ok(raw(compact(payload.get())))
    } else {
        Ok(payload)
    }
}

/// Valid JSON `json` without the whitespace outside its strings: keys stay
/// in their order and numbers as they were spelled.
pub fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else if c == '"' {
            in_str = true;
        }
        out.push(c);
    }
    out
}

fn parse_payload_as_typed(text: &str) -> Result<Box<RawValue>, PayloadError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(raw("{}".to_owned()));
    }
    if let Some(inner) = text.strip_prefix('<') {
        let Some(inner) = inner.strip_suffix('>') else {
            return Err(PayloadError::ShorthandNotClosed(shorten(text)));
        };
        let json = format!("{{{inner}}}");
        return RawValue::from_string(json).map_err(|e| PayloadError::ShorthandNotJson {
            text: shorten(text),
            error: e.to_string(),
        });
    }
    let first = text.split_whitespace().next().unwrap_or("");
    if looks_like_pair(first) {
        return parse_pairs(text);
    }
    RawValue::from_string(text.to_owned()).map_err(|e| PayloadError::NotJson {
        text: shorten(text),
        error: e.to_string(),
    })
}

/// Parses a payload in any form: binary `hex:…`, `base64:…` or `@@FILE`
/// (the file's bytes), JSON from `@FILE`, or what [`parse_payload`] takes.
///
/// The one piece of I/O in this module: `@FILE` and `@@FILE` read the file
/// when the line is parsed, so a missing file is an error on that line and
/// nothing is sent.
pub fn payload_form(text: &str) -> Result<Payload, PayloadError> {
    let text = text.trim();
    // `hex:=…` and `base64:=…` are key:=JSON pairs, not binary.
    let binary_prefix = |p: &str| text.starts_with(p) && !text[p.len()..].starts_with('=');
    if binary_prefix("hex:")
        && let Some(hex) = text.strip_prefix("hex:")
    {
        let digits: String = hex.split_whitespace().collect();
        return HEXLOWER_PERMISSIVE
            .decode(digits.as_bytes())
            .map(Payload::Binary)
            .map_err(|e| PayloadError::NotHex {
                text: shorten(text),
                error: e.to_string(),
            });
    }
    if binary_prefix("base64:")
        && let Some(b64) = text.strip_prefix("base64:")
    {
        let digits: String = b64.split_whitespace().collect();
        return BASE64
            .decode(digits.as_bytes())
            .map(Payload::Binary)
            .map_err(|e| PayloadError::NotBase64 {
                text: shorten(text),
                error: e.to_string(),
            });
    }
    if let Some(path) = text.strip_prefix("@@") {
        return read_file(path).map(Payload::Binary);
    }
    if let Some(path) = text.strip_prefix('@') {
        let bytes = read_file(path)?;
        let json =
            String::from_utf8(bytes).map_err(|_| PayloadError::FileNotText(path.to_owned()))?;
        return RawValue::from_string(json.trim().to_owned())
            .map(Payload::from)
            .map_err(|e| PayloadError::FileNotJson {
                path: path.to_owned(),
                error: e.to_string(),
            });
    }
    parse_payload(text).map(Payload::from)
}

fn read_file(path: &str) -> Result<Vec<u8>, PayloadError> {
    if path.is_empty() {
        return Err(PayloadError::NoFileName);
    }
    std::fs::read(path).map_err(|e| PayloadError::CannotRead {
        path: path.to_owned(),
        error: e.to_string(),
    })
}

/// `key=value` or `key:=json`, where key is a bare word.
fn looks_like_pair(token: &str) -> bool {
    let key_end = token.find(['=', ':']);
    let Some(i) = key_end else { return false };
    let key = &token[..i];
    let op_ok = token[i..].starts_with('=') || token[i..].starts_with(":=");
    op_ok
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
}

fn parse_pairs(text: &str) -> Result<Box<RawValue>, PayloadError> {
    let mut out = String::from("{");
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (token, _) = split_word(rest);
        if !looks_like_pair(token) {
            return Err(PayloadError::NotAPair(shorten(token)));
        }
        let i = token.find(['=', ':']).expect("looks_like_pair found it");
        let key = &token[..i];
        let is_json = rest[i..].starts_with(":=");
        let value_start = i + if is_json { 2 } else { 1 };
        let after = &rest[value_start..];
        let (value_json, consumed) = if is_json || after.starts_with('"') {
            let mut it = serde_json::Deserializer::from_str(after).into_iter::<&RawValue>();
            match it.next() {
                Some(Ok(v)) if is_json || v.get().starts_with('"') => {
                    (v.get().to_owned(), it.byte_offset())
                }
                Some(Err(e)) => {
                    let what = if is_json { "JSON" } else { "a JSON string" };
                    return Err(PayloadError::BadPairValue {
                        key: key.to_owned(),
                        what,
                        error: e.to_string(),
                    });
                }
                _ => {
                    return Err(PayloadError::NoPairValue(key.to_owned()));
                }
            }
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (json_str(&after[..end]), end)
        };
        let after_value = &after[consumed..];
        if !after_value.is_empty() && !after_value.starts_with(char::is_whitespace) {
            return Err(PayloadError::AfterPairValue {
                token: shorten(after_value),
                key: key.to_owned(),
            });
        }
        if seen.iter().any(|k| k == key) {
            return Err(PayloadError::DuplicateKey(key.to_owned()));
        }
        seen.push(key.to_owned());
        if out.len() > 1 {
            out.push(',');
        }
        push_json_str(&mut out, key);
        out.push(':');
        out.push_str(&value_json);
        rest = after_value.trim_start();
    }
    out.push('}');
    Ok(raw(out))
}

//! Byte scanning for the text formats: printable-ASCII checks, where a
//! plain JSON string ends, and a small JSON validator for the payloads of
//! plain V2 frames.
//!
//! Eight bytes at a time where it counts (SWAR), since these decide most
//! topics, events and payloads of a flood. The validator only ever says
//! "valid" where serde would: what it cannot decide goes to serde (`v2`).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero, and possibly of bytes
/// above such a byte (so the lowest one marked is exact).
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Marks the bytes of `w` that end a plain JSON string body: `"`, `\` and
/// control characters (lowest mark exact, as for `zero_bytes`).
fn string_stops(w: u64) -> u64 {
    zero_bytes(w ^ (ONES * u64::from(b'"')))
        | zero_bytes(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

/// Whether every byte is printable ASCII (space to `~`); with `json`, also
/// none is `"` or `\`, so the text needs no escaping in a JSON string.
/// Eight bytes at a time: this decides most topics, events and payloads of
/// a flood.
pub fn printable_ascii(s: &[u8], json: bool) -> bool {
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // Not ASCII; below 0x20 (subtracting 0x20 borrows); 0x7f (adding 1
        // reaches 0x80). Borrows and carries only start at bytes already
        // found out.
        if (w | w.wrapping_sub(ONES * 0x20) | w.wrapping_add(ONES)) & HIGHS != 0 {
            return false;
        }
        if json && string_stops(w) != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && !(json && (b == b'"' || b == b'\\')))
}

/// Where the body of a JSON string that starts `s` stops: the index of the
/// first `"`, `\` or control character.
pub(super) fn string_end(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let stops = string_stops(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        if stops != 0 {
            return Some(at + stops.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

/// `s` without the whitespace around it, if it is exactly one JSON value
/// (RFC 8259). `None` when it is not, and also when it might be but the
/// check does not go that far (nesting over 64 levels, `\u` escapes of
/// surrogates): the caller then asks serde, which decides. It never
/// accepts what serde refuses; the decode fuzz target checks that the two
/// decoders agree.
pub(super) fn plain_json(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let start = skip_space(b, 0);
    let end = json_value(b, start, 0)?;
    (skip_space(b, end) == b.len()).then(|| &s[start..end])
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the JSON value that starts at `b[i]`.
fn json_value(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    match *b.get(i)? {
        b'"' => json_string(b, i),
        b'{' | b'[' if depth >= 64 => None,
        b'{' => {
            let mut i = skip_space(b, i + 1);
            if b.get(i) == Some(&b'}') {
                return Some(i + 1);
            }
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                i = skip_space(b, json_string(b, i)?);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = skip_space(b, json_value(b, skip_space(b, i + 1), depth + 1)?);
                match *b.get(i)? {
                    b',' => i = skip_space(b, i + 1),
                    b'}' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            let mut i = skip_space(b, i + 1);
            if b.get(i) == Some(&b']') {
                return Some(i + 1);
            }
            loop {
                i = skip_space(b, json_value(b, i, depth + 1)?);
                match *b.get(i)? {
                    b',' => i = skip_space(b, i + 1),
                    b']' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b't' => json_literal(b, i, b"true"),
        b'f' => json_literal(b, i, b"false"),
        b'n' => json_literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => json_number(b, i),
        _ => None,
    }
}

fn json_literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// The end of the string whose opening quote is `b[i]`.
fn json_string(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    loop {
        i += string_end(b.get(i..)?)?;
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    let mut unit = 0u32;
                    for &h in hex {
                        unit = unit * 16 + char::from(h).to_digit(16)?;
                    }
                    if (0xd800..0xe000).contains(&unit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            // A control character, which must be escaped.
            _ => return None,
        }
    }
}

/// The end of the number that starts at `b[i]`.
fn json_number(b: &[u8], mut i: usize) -> Option<usize> {
    fn digits(b: &[u8], mut i: usize) -> Option<usize> {
        let from = i;
        while let Some(b'0'..=b'9') = b.get(i) {
            i += 1;
        }
        (i > from).then_some(i)
    }
    if b[i] == b'-' {
        i += 1;
    }
    i = match *b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn byte_scans_agree_with_the_plain_definition() {
        let mut samples: Vec<Vec<u8>> = vec![Vec::new()];
        let specials = [0u8, 0x1f, 0x20, b'"', b'\\', b'a', 0x7e, 0x7f, 0x80, 0xff];
        for len in [1usize, 7, 8, 9, 15, 16, 17, 24] {
            for pos in 0..len {
                for &b in &specials {
                    let mut v = vec![b'x'; len];
                    v[pos] = b;
                    samples.push(v.clone());
                    v[len - 1] = b'"';
                    samples.push(v);
                }
            }
        }
        for s in &samples {
            let printable = s.iter().all(|&b| (0x20..0x7f).contains(&b));
            let json = printable && !s.iter().any(|&b| b == b'"' || b == b'\\');
            assert_eq!(printable_ascii(s, false), printable, "{s:?}");
            assert_eq!(printable_ascii(s, true), json, "{s:?}");
            let end = s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            assert_eq!(string_end(s), end, "{s:?}");
        }
    }

    #[test]
    fn the_payload_check_accepts_only_what_serde_accepts() {
        let samples = [
            "{}",
            "[]",
            " {} ",
            "\t[1, 2 ,3]\n",
            "0",
            "-0",
            "12",
            "-12.5e+3",
            "1E9",
            "0.0",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/\b\f\n\r\t""#,
            r#""\u00e9\u2603\uFFFF""#,
            r#"{"a":{"b":[{"c":null}]}}"#,
            r#"{"a" : 1 , "b":[ ]}"#,
            "\"snow ☃\"",
            "\"del \u{7f}\"",
            // Refused, by both or by the quick check alone.
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "--1",
            "1 2",
            "{} {}",
            "[1,]",
            "{,}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            "{1:2}",
            "[",
            "]",
            "{",
            "tru",
            "nul",
            "truex",
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            r#""\u+123""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            "\"tab\there\"",
            "\"nl\nhere\"",
            "[1]]",
            "NaN",
            "Infinity",
        ];
        for text in samples {
            let serde = serde_json::from_str::<&RawValue>(text)
                .ok()
                .map(|r| r.get());
            if let Some(quick) = plain_json(text) {
                assert_eq!(Some(quick), serde, "{text:?}");
            }
        }
        assert!(plain_json(&"[".repeat(65)).is_none());
        let deep = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(plain_json(&deep), Some(deep.as_str()));
        // The quick check does accept the common shapes.
        for text in [
            "{}",
            r#"{"i":1}"#,
            r#"{"body":"hi \u00e9","n":[1,2.5,-3e2,true,null]}"#,
        ] {
            assert_eq!(plain_json(text), Some(text));
        }
    }
}

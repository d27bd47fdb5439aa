//! NDJSON encoding: a record (any `Serialize`) becomes one line of JSON
//! appended to the output `String`, safe for a terminal.
//!
//! [`Encoder`] is a small serde `Serializer` that writes straight into the
//! `String`: no intermediate buffer and no allocation per record, so a
//! `--json` flood costs about what hand-written text did. It owns how a value is
//! spelled: strings escaped for the terminal as well as for JSON, numbers
//! as Rust prints them, and the two field types of this file: [`Payload`],
//! raw JSON passed through unparsed (compacted and made safe), and [`Ms`],
//! a duration in milliseconds. Which records exist is `output::records`'.

use std::fmt::{self, Write as _};
use std::time::Duration;

use data_encoding::BASE64;
use serde::ser::{self, SerializeMap};
use serde::{Serialize, Serializer};

use crate::core::protocol::{self, printable_ascii};
use crate::output::safe::{display_json, is_unsafe_char};

/// Appends the fields of `record`, a struct or a map, to the JSON object
/// the caller opened in `out` at `start` (e.g. `{"type":"info"`), closes
/// it and adds a newline. If the record fails to encode, `out` is cut back
/// to `start`.
pub fn push_fields(out: &mut String, start: usize, record: &impl Serialize) {
    encode(out, start, true, record);
}

fn encode(out: &mut String, start: usize, splice: bool, record: &impl Serialize) {
    let mut enc = Encoder {
        out,
        raw: false,
        splice,
    };
    if record.serialize(&mut enc).is_ok() {
        out.push('\n');
    } else {
        out.truncate(start);
    }
}

/// Appends `s` as a JSON string literal that is safe on a terminal, as
/// every string in a record is.
#[inline]
fn push_str(out: &mut String, s: &str) {
    if printable_ascii(s.as_bytes(), true) {
        // Most names in a flood: nothing to escape.
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        push_str_literal(out, s);
    }
}

/// The name by which [`Payload`] tells [`Encoder`] that the string inside
/// is JSON text to write as it is. Another serializer sees a string.
const RAW: &str = "phx_repl::output::encode::Raw";

/// Writes compact JSON into a `String`.
///
/// Inside strings, besides what JSON requires, DEL, C1 controls and the
/// bidi and zero-width marks become `\u` escapes (the same JSON value, but
/// a terminal would obey them raw), and control characters without a
/// short escape are `\u00XX`. Floats are written as Rust's `Display`
/// writes them (`1.9`, `1000`). Map keys are expected to be strings.
struct Encoder<'a> {
    out: &'a mut String,
    /// The next string is raw JSON text ([`Payload::Json`]).
    raw: bool,
    /// The next struct or map continues an object already open.
    splice: bool,
}

/// What a record's `Serialize` reported. Only a custom `Serialize` can
/// report anything, and the records have none that do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct EncodeError(String);

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// Appends `s` as a JSON string literal that is safe on a terminal.
fn push_str_literal(out: &mut String, s: &str) {
    if !s.chars().any(is_unsafe_char) {
        protocol::push_json_str(out, s);
        return;
    }
    let mut plain = String::with_capacity(s.len() + 8);
    protocol::push_json_str(&mut plain, s);
    for c in plain.chars() {
        if is_unsafe_char(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

impl Encoder<'_> {
    fn push_display(&mut self, v: impl fmt::Display) {
        let _ = write!(self.out, "{v}");
    }

    fn push_float(&mut self, v: f64) {
        if v.is_finite() {
            self.push_display(v);
        } else {
            self.out.push_str("null");
        }
    }

    /// `{"variant":` before an enum variant's value, for the few shapes
    /// that wrap one.
    fn open_variant(&mut self, variant: &str) {
        self.out.push('{');
        push_str_literal(self.out, variant);
        self.out.push(':');
    }
}

/// A sequence, map or struct being written.
struct Compound<'e, 'a> {
    enc: &'e mut Encoder<'a>,
    first: bool,
    /// What ends it: `]`, `}`, or `]}` / `}}` inside a variant.
    close: &'static str,
}

impl<'e, 'a> Compound<'e, 'a> {
    fn open(enc: &'e mut Encoder<'a>, open: char, close: &'static str) -> Self {
        enc.out.push(open);
        Compound {
            enc,
            first: true,
            close,
        }
    }

    /// A struct or map: its own object, or the rest of one (`splice`).
    fn object(enc: &'e mut Encoder<'a>) -> Self {
        if std::mem::take(&mut enc.splice) {
            Compound {
                enc,
                first: false,
                close: "}",
            }
        } else {
            Compound::open(enc, '{', "}")
        }
    }

    #[inline]
    fn comma(&mut self) {
        if !self.first {
            self.enc.out.push(',');
        }
        self.first = false;
    }

    fn element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), EncodeError> {
        self.comma();
        v.serialize(&mut *self.enc)
    }

    /// A struct's field. Its name is a Rust identifier or a `rename` in
    /// this crate's source: nothing in it needs escaping.
    #[inline]
    fn field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), EncodeError> {
        debug_assert!(printable_ascii(key.as_bytes(), true), "{key}");
        self.comma();
        self.enc.out.push('"');
        self.enc.out.push_str(key);
        self.enc.out.push_str("\":");
        v.serialize(&mut *self.enc)
    }

    fn finish(self) -> Result<(), EncodeError> {
        self.enc.out.push_str(self.close);
        Ok(())
    }
}

impl<'e, 'a> Serializer for &'e mut Encoder<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'e, 'a>;
    type SerializeTuple = Compound<'e, 'a>;
    type SerializeTupleStruct = Compound<'e, 'a>;
    type SerializeTupleVariant = Compound<'e, 'a>;
    type SerializeMap = Compound<'e, 'a>;
    type SerializeStruct = Compound<'e, 'a>;
    type SerializeStructVariant = Compound<'e, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        self.push_display(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        self.push_display(v);
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        self.push_display(v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        self.push_display(v);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }

    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.serialize_u64(v.into())
    }

    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        self.push_float(v.into());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        self.push_float(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        if std::mem::take(&mut self.raw) {
            self.out.push_str(&display_json(v));
        } else {
            push_str(self.out, v);
        }
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        let mut seq = Compound::open(self, '[', "]");
        for b in v {
            seq.element(b)?;
        }
        seq.finish()
    }

    #[inline]
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push_str("null");
        Ok(())
    }

    #[inline]
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), EncodeError> {
        v.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), EncodeError> {
        self.raw = name == RAW;
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), EncodeError> {
        self.open_variant(variant);
        v.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'e, 'a>, EncodeError> {
        Ok(Compound::open(self, '[', "]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'e, 'a>, EncodeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'e, 'a>, EncodeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'e, 'a>, EncodeError> {
        self.open_variant(variant);
        Ok(Compound::open(self, '[', "]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'e, 'a>, EncodeError> {
        Ok(Compound::object(self))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'e, 'a>, EncodeError> {
        Ok(Compound::object(self))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'e, 'a>, EncodeError> {
        self.open_variant(variant);
        Ok(Compound::open(self, '{', "}}"))
    }
}

/// The four serde traits of a JSON array differ only in their names: each
/// writes its elements in order and closes the array.
macro_rules! array_compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = EncodeError;

            fn $method<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), EncodeError> {
                self.element(v)
            }

            fn end(self) -> Result<(), EncodeError> {
                self.finish()
            }
        }
    )*};
}

array_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.element(key)?;
        self.enc.out.push(':');
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), EncodeError> {
        v.serialize(&mut *self.enc)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), EncodeError> {
        self.field(key, v)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), EncodeError> {
        self.field(key, v)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// A payload field: JSON text written as it came (compacted and made safe
/// by `display_json`), or binary data as `{"binary":"<base64>"}`.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// One valid JSON value, as the server or the user wrote it.
    Json(&'a str),
    Binary(&'a [u8]),
}

impl<'a> From<&'a protocol::Payload> for Payload<'a> {
    fn from(p: &'a protocol::Payload) -> Payload<'a> {
        match p {
            protocol::Payload::Json(j) => Payload::Json(j.get()),
            protocol::Payload::Binary(data)
            | protocol::Payload::BinaryReply { response: data, .. } => Payload::Binary(data),
        }
    }
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Not parsed: the text was checked to be JSON where it came in.
            Payload::Json(text) => s.serialize_newtype_struct(RAW, text),
            Payload::Binary(data) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("binary", &BASE64.encode(data))?;
                map.end()
            }
        }
    }
}

/// A duration as milliseconds with microsecond precision (`1.9`, `1000`).
#[derive(Debug, Clone, Copy)]
pub struct Ms(pub Duration);

impl Serialize for Ms {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(crate::output::fmt::ms(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fmt::ms;

    #[derive(Serialize)]
    struct Sample<'a> {
        s: &'a str,
        payload: Payload<'a>,
        ms: Ms,
    }

    /// A record as its own object, on a line.
    fn push_record(out: &mut String, record: &impl Serialize) {
        encode(out, out.len(), false, record);
    }

    fn line(record: &impl Serialize) -> String {
        let mut out = String::new();
        push_record(&mut out, record);
        out
    }

    #[test]
    fn milliseconds_are_spelled_as_rust_prints_them() {
        for micros in [0, 1, 420, 1500, 1900, 30_000_000, 61_500_250, 62_000_000] {
            let d = Duration::from_micros(micros);
            let sample = Sample {
                s: "",
                payload: Payload::Json("1"),
                ms: Ms(d),
            };
            let want = format!("{{\"s\":\"\",\"payload\":1,\"ms\":{}}}\n", ms(d));
            assert_eq!(line(&sample), want, "{micros} µs");
        }
    }

    #[test]
    fn strings_and_payloads_are_safe_for_a_terminal() {
        let sample = Sample {
            s: "a\u{8}\u{c}\n\u{1b}\u{7f}\u{85}\u{200b}\u{202e}\u{2069}ż\"\\",
            payload: Payload::Json("{\"k\": \"\u{9b}\",\n \"n\": [1, 2]}"),
            ms: Ms(Duration::ZERO),
        };
        assert_eq!(
            line(&sample),
            "{\"s\":\"a\\u0008\\u000c\\n\\u001b\\u007f\\u0085\\u200b\\u202e\\u2069ż\\\"\\\\\",\
             \"payload\":{\"k\": \"\\u009b\", \"n\": [1, 2]},\"ms\":0}\n"
        );
    }

    #[test]
    fn binary_payloads_are_base64() {
        let sample = Sample {
            s: "",
            payload: Payload::Binary(&[1, 2, 3]),
            ms: Ms(Duration::from_micros(1900)),
        };
        assert_eq!(
            line(&sample),
            "{\"s\":\"\",\"payload\":{\"binary\":\"AQID\"},\"ms\":1.9}\n"
        );
    }

    #[test]
    fn a_record_that_fails_writes_nothing() {
        struct Failing;
        impl Serialize for Failing {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                map.serialize_entry("half", "written")?;
                Err(ser::Error::custom("no"))
            }
        }
        let mut out = String::from("kept\n");
        push_record(&mut out, &Failing);
        assert_eq!(out, "kept\n");
    }

    #[test]
    fn the_shapes_records_do_not_use_still_make_json() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, char),
            Struct { f: f64 },
        }
        let v = (
            vec![
                E::Unit,
                E::New(1),
                E::Tuple(2, 'c'),
                E::Struct { f: f64::NAN },
            ],
            -3i8,
            (),
        );
        let mut out = String::new();
        push_record(&mut out, &v);
        assert_eq!(
            out,
            "[[\"Unit\",{\"New\":1},{\"Tuple\":[2,\"c\"]},{\"Struct\":{\"f\":null}}],-3,null]\n"
        );
        let _: serde_json::Value = serde_json::from_str(&out).unwrap();
    }
}

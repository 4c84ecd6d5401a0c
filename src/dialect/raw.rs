//! `RawObject`: a JSON object kept as its members' original bytes, in order.
//!
//! Same-format forwarding needs to change a member or two (`model`, `id`) and keep everything
//! else exactly as sent, including fields we do not understand and number formatting. Parsing
//! into `serde_json::Value` and back would lose both; this keeps each value as `&RawValue`.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object: keys (borrowed unless they had escapes) and raw values, in document order.
#[derive(Debug, Default, Clone)]
pub struct RawObject<'a> {
    members: Vec<(Cow<'a, str>, Cow<'a, RawValue>)>,
}

/// Why a body could not be read as a JSON object.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl<'a> RawObject<'a> {
    /// Parses a JSON object; fails on any other JSON value and on duplicate keys.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RawError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The value of `key` exactly as sent; `None` when absent (a JSON `null` is `Some`).
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// Sets `key` to an already-serialised JSON value, replacing it in place or appending it.
    pub fn set(&mut self, key: &'a str, value: Box<RawValue>) {
        match self.members.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(value),
            None => self.members.push((Cow::Borrowed(key), Cow::Owned(value))),
        }
    }

    /// Sets `key` to a serialisable value.
    pub fn set_value<T: serde::Serialize + ?Sized>(&mut self, key: &'a str, value: &T) {
        let raw = serde_json::value::to_raw_value(value).expect("serialising a plain value cannot fail");
        self.set(key, raw);
    }

    /// Takes `key` out so it is not forwarded (gateway-only fields); the rest keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Cow<'a, RawValue>> {
        let index = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(index).1)
    }

    /// Member names, unescaped, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_ref())
    }

    /// Writes the object back: untouched members byte for byte.
    pub fn to_vec(&self) -> Vec<u8> {
        let size = self.members.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum::<usize>() + 2;
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        for (i, (key, value)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, key.as_ref()).expect("writing to a Vec cannot fail");
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// Where `inner`, a slice borrowed from `outer` (a `&RawValue` parsed from it), sits in it: so
/// a value can be replaced in the original bytes without writing the rest back.
///
/// # Panics
/// When `inner` does not lie within `outer`.
pub fn span_in(outer: &str, inner: &str) -> Range<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize).expect("slice of outer");
    assert!(start + inner.len() <= outer.len(), "slice of outer");
    start..start + inner.len()
}

/// Writes `source` to `out` with each `(span, bytes)` of `edits` (spans from `span_in`, not
/// overlapping) replaced by its bytes, and `append` inserted before the object's closing brace:
/// a few members changed, every other byte as it came.
pub fn splice_into(out: &mut impl bytes::BufMut, source: &str, edits: &mut [(Range<usize>, &[u8])], append: &[u8]) {
    edits.sort_unstable_by_key(|(span, _)| span.start);
    let source = source.as_bytes();
    let close =
        if append.is_empty() { source.len() } else { source.iter().rposition(|&b| b == b'}').unwrap_or(source.len()) };
    let mut at = 0;
    for (span, bytes) in edits.iter() {
        out.put_slice(&source[at..span.start]);
        out.put_slice(bytes);
        at = span.end;
    }
    out.put_slice(&source[at..close]);
    out.put_slice(append);
    out.put_slice(&source[close..]);
}

/// Whether `text` is a JSON object (so far as its first byte tells): typed views of an object
/// would also read an array, positionally.
pub fn looks_like_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// A map key that borrows from the input when it can.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(Cow<'de, str>, Cow<'de, RawValue>)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(key)) = map.next_key()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!("duplicate field '{key}'")));
                    }
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, Cow::Borrowed(value)));
                }
                Ok(RawObject { members })
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_members_keep_their_bytes_and_order() {
        let body = br#"{"b" : 1.50, "model":"x","z":{"k":[1e3, "\u00e9"]},"a\u0041":null}"#;
        let mut obj = RawObject::parse(body).unwrap();
        obj.set_value("model", "gpt-5.4");
        obj.set_value("added", &true);
        let out = String::from_utf8(obj.to_vec()).unwrap();
        assert_eq!(out, r#"{"b":1.50,"model":"gpt-5.4","z":{"k":[1e3, "\u00e9"]},"aA":null,"added":true}"#);
    }

    #[test]
    fn splicing_replaces_values_and_appends_before_the_closing_brace() {
        let text = r#"{"a" : 1,"id":"x", "m":[2] }  "#;
        let obj: RawObject = RawObject::parse(text.as_bytes()).unwrap();
        let (id, m) = (span_in(text, obj.get("id").unwrap().get()), span_in(text, obj.get("m").unwrap().get()));
        let mut out = Vec::new();
        splice_into(&mut out, text, &mut [(m, b"null"), (id, b"\"y\"")], b",\"z\":true");
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a" : 1,"id":"y", "m":null ,"z":true}  "#);
        assert!(looks_like_object(" {}") && !looks_like_object("[{}]"));
    }

    #[test]
    fn rejects_non_objects_and_duplicate_keys() {
        assert!(RawObject::parse(b"[1,2]").is_err());
        assert!(
            RawObject::parse(b"{\"model\":\"a\",\"model\":\"b\"}")
                .unwrap_err()
                .to_string()
                .contains("duplicate field 'model'")
        );
        assert!(RawObject::parse(b"{\"a\":1} trailing").is_err());
    }
}

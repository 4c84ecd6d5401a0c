//! Finding a JSON object's members without parsing their values.
//!
//! The same-format stream forwards each upstream chunk as its own bytes and only needs a few
//! members found (`id`, `model`, `usage`, `error`, and in `choices` the finish reason and how
//! much text came). Parsing every value with serde was a third of the gateway's instructions
//! per chunk; this walks the structure instead, skipping strings with `memchr`. Values are
//! skipped, not validated: the bytes reach the client as the upstream sent them. Anything the
//! scanner does not expect (an escaped key, a stray byte) is `Unreadable`, and the caller takes
//! the careful way (`RawObject`, which validates everything).

/// The text is not something the scanner reads; parse it properly instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// A position in JSON text, read in one pass: `object` and `array` hand each member or element
/// to a callback with the cursor at its value, which the callback consumes (`value` to skip
/// it and get its text, or `object`/`array` to go in).
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`; nothing is read until a method asks.
    pub fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Unreadable> {
        self.skip_ws();
        if self.bytes().get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Unreadable)
        }
    }

    /// Whether the next byte (after whitespace) is `byte`, taking it if so.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.bytes().get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// Reads an object, calling `member` with each key (keys with escapes are `Unreadable`).
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Result<(), Unreadable>,
    ) -> Result<(), Unreadable> {
        self.expect(b'{')?;
        if self.take(b'}') {
            return Ok(());
        }
        loop {
            self.skip_ws();
            let start = self.at;
            if self.bytes().get(start) != Some(&b'"') {
                return Err(Unreadable);
            }
            let (end, escaped) = skip_string(self.bytes(), start)?;
            if escaped {
                return Err(Unreadable);
            }
            self.at = end;
            let key = &self.text[start + 1..end - 1];
            self.expect(b':')?;
            self.skip_ws();
            member(self, key)?;
            if !self.take(b',') {
                return self.expect(b'}');
            }
        }
    }

    /// Reads an array, calling `element` with the cursor at each element.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Result<(), Unreadable>) -> Result<(), Unreadable> {
        self.expect(b'[')?;
        if self.take(b']') {
            return Ok(());
        }
        loop {
            self.skip_ws();
            element(self)?;
            if !self.take(b',') {
                return self.expect(b']');
            }
        }
    }

    /// Skips the value here and returns its text: a string, an object or array (brackets
    /// balanced, strings inside skipped), or a bare scalar (`true`, `null`, a number).
    pub fn value(&mut self) -> Result<&'a str, Unreadable> {
        self.skip_ws();
        let start = self.at;
        self.at = skip_value(self.bytes(), start)?;
        Ok(&self.text[start..self.at])
    }

    /// Whether the value here is `null` (without consuming it).
    pub fn at_null(&mut self) -> bool {
        self.skip_ws();
        self.text[self.at..].starts_with("null")
    }

    /// Succeeds when nothing but whitespace is left.
    pub fn end(&mut self) -> Result<(), Unreadable> {
        self.skip_ws();
        if self.at == self.text.len() { Ok(()) } else { Err(Unreadable) }
    }
}

/// The contents of a JSON string value, when it has no escapes (`None` otherwise, or when
/// `value` is not a string).
pub fn plain_string(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

/// The end (one past the closing quote) of the string starting at `at`, and whether it has
/// escapes.
#[inline(always)]
fn skip_string(bytes: &[u8], at: usize) -> Result<(usize, bool), Unreadable> {
    let mut escaped = false;
    let mut i = at + 1;
    loop {
        i = quote_or_backslash(bytes, i).ok_or(Unreadable)?;
        if bytes[i] == b'\\' {
            escaped = true;
            i += 2; // the escaped byte, whatever it is
        } else {
            return Ok((i + 1, escaped));
        }
    }
}

/// The first `"` or `\\` at or after `from`. Most strings in a chunk (keys, ids, a token of
/// text) end within a few words, so those are tested eight bytes at a time (the zero-byte
/// test of "Bit Twiddling Hacks", exact for the lowest byte it flags) before `memchr`, whose
/// set-up costs more than such a string.
#[inline(always)]
fn quote_or_backslash(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = from;
    for _ in 0..4 {
        let Some(word) = bytes.get(i..i + 8) else { break };
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let hits = zero_bytes(word ^ QUOTES) | zero_bytes(word ^ BACKSLASHES);
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr2(b'"', b'\\', bytes.get(i..)?).map(|found| i + found)
}

fn skip_value(bytes: &[u8], at: usize) -> Result<usize, Unreadable> {
    match bytes.get(at) {
        None => Err(Unreadable),
        Some(b'"') => skip_string(bytes, at).map(|(end, _)| end),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = skip_string(bytes, i)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(Unreadable)
        }
        Some(b'}' | b']' | b',' | b':') => Err(Unreadable),
        Some(_) => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Ok(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::dialect::raw::RawObject;

    /// Every top-level member of `text` as (key, value text).
    fn all(text: &str) -> Result<Vec<(&str, &str)>, Unreadable> {
        let mut out = Vec::new();
        let mut cursor = Cursor::new(text);
        cursor.object(|c, key| {
            out.push((key, c.value()?));
            Ok(())
        })?;
        cursor.end()?;
        Ok(out)
    }

    #[test]
    fn finds_members_and_their_exact_value_text() {
        let text = r#" { "a" : 1.50e1 , "s":"x\"}\\" ,"o":{"k":[1,{"z":"]"}]},"n":null,"e":[] } "#;
        assert_eq!(
            all(text).unwrap(),
            vec![("a", "1.50e1"), ("s", r#""x\"}\\""#), ("o", r#"{"k":[1,{"z":"]"}]}"#), ("n", "null"), ("e", "[]")]
        );
        assert_eq!(all("{}").unwrap(), vec![]);
        let mut els = Vec::new();
        Cursor::new(r#"[ {"a":1}, "b" ,3]"#)
            .array(|c| {
                els.push(c.value()?);
                Ok(())
            })
            .unwrap();
        assert_eq!(els, vec![r#"{"a":1}"#, r#""b""#, "3"]);
        assert_eq!(plain_string(r#""stop""#), Some("stop"));
        assert_eq!(plain_string(r#""a\nb""#), None);
        assert!(Cursor::new(" null").at_null());
    }

    #[test]
    fn what_it_does_not_expect_is_unreadable() {
        for text in [
            "",
            "[1]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":"open}"#,
            r#"{"a":[1,2}"#,
            r#"{a:1}"#,
            r#"{"\u0061":1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{,"a":1}"#,
        ] {
            assert!(all(text).is_err(), "{text:?} should be unreadable");
        }
    }

    proptest! {
        /// Never panics, and wherever serde reads an object, the scanner finds the same members
        /// with the same value text, or declines.
        #[test]
        fn agrees_with_serde_or_declines(text in r#"[{}\[\]",: a-c0-9\\nultre.]{0,40}"#) {
            let scanned = all(&text);
            if let (Ok(members), Ok(parsed)) = (scanned, RawObject::parse(text.as_bytes())) {
                let keys: Vec<&str> = parsed.keys().collect();
                let scanned_keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
                prop_assert_eq!(keys, scanned_keys);
                for (key, value) in members {
                    prop_assert_eq!(parsed.get(key).unwrap().get(), value);
                }
            }
        }

        /// The word-at-a-time search finds what a byte loop finds, wherever it starts, high
        /// bytes (UTF-8, the zero-byte test's weak spot) included.
        #[test]
        fn quote_search_matches_a_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), any::<u8>()], 0..80),
            from in 0usize..80,
        ) {
            let expected = bytes.get(from..).and_then(|rest| rest.iter().position(|b| matches!(b, b'"' | b'\\'))).map(|p| p + from);
            prop_assert_eq!(quote_or_backslash(&bytes, from), expected);
        }

        #[test]
        fn real_objects_are_read(value in proptest::collection::btree_map("[a-z\"\\\\é]{1,6}", "[ -~é]{0,12}", 0..6)) {
            let text = serde_json::to_string(&value).unwrap();
            let scanned = all(&text);
            if value.keys().any(|k| k.contains('"') || k.contains('\\')) {
                prop_assert!(scanned.is_err());
            } else {
                let scanned = scanned.unwrap();
                prop_assert_eq!(scanned.len(), value.len());
                for (key, raw) in scanned {
                    prop_assert_eq!(serde_json::from_str::<String>(raw).unwrap(), value[key].clone());
                }
            }
        }
    }
}

//! Server-sent events: an incremental decoder for upstream byte streams (any re-chunking of the
//! same bytes gives the same frames) and the few writers the surfaces need.
//!
//! Works on bytes, not `str`, so a multi-byte character split across reads is never mangled.

use bytes::{BufMut, Bytes, BytesMut};

/// Longest line accepted from an upstream before the stream is declared broken.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// The upstream sent something that is not a usable event stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("upstream event stream line longer than {MAX_LINE} bytes")]
pub struct SseError;

/// Incremental SSE parser (WHATWG rules: `\n`, `\r\n` or `\r` line ends; comments skipped).
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`; a leading `\n` in the next one belongs to it.
    skip_lf: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// Feeds bytes; complete frames are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseFrame>) -> Result<(), SseError> {
        // An empty chunk between a `\r` and its `\n` must not forget the `\r` (found by
        // `tests/fuzz.rs`: the `\n` then ended an extra, empty line and dispatched early).
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let [b'\n', rest @ ..] = bytes {
                bytes = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let (line, rest) = bytes.split_at(end);
            let line_end = rest[0];
            bytes = &rest[1..];
            if line_end == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.skip_lf = true,
                    Some(_) => {}
                }
            }
            if self.line.is_empty() {
                self.take_line(line, out);
            } else {
                let mut full = std::mem::take(&mut self.line);
                full.extend_from_slice(line);
                self.take_line(&full, out);
            }
        }
        if self.line.len() + bytes.len() > MAX_LINE {
            return Err(SseError);
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<SseFrame>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseFrame { event: self.event.take(), data: std::mem::take(&mut self.data) });
            }
            self.event = None;
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        // Valid UTF-8 is the rule: the plain check is several times cheaper than a lossy pass.
        let value = match std::str::from_utf8(value) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {} // id, retry, unknown fields: not needed by any surface
        }
    }
}

/// `data: <json>\n\n`. JSON text never contains a raw line break, so it cannot forge events.
pub fn data_frame(json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(json.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// The OpenAI stream terminator.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The comment sent on the OpenAI surface while the upstream is silent.
pub const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b": hello\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\ndata: \xc3\xa9t\xc3\xa9\r\rdata: [DONE]\n\n";

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Vec<SseFrame> {
        let mut dec = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in bytes.chunks(piece) {
            dec.push(chunk, &mut out).unwrap();
        }
        out
    }

    /// Regression (found by `tests/fuzz.rs`): an empty read between `\r` and `\n`.
    #[test]
    fn an_empty_chunk_between_cr_and_lf_changes_nothing() {
        let mut dec = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in [&b"data: x\r"[..], b"", b"\n"] {
            dec.push(chunk, &mut out).unwrap();
        }
        assert!(out.is_empty(), "the \\r\\n is one line end, not two: {out:?}");
        dec.push(b"\r\n", &mut out).unwrap();
        assert_eq!(out, vec![SseFrame { event: None, data: "x".into() }]);
    }

    #[test]
    fn decodes_all_line_endings_comments_and_multiline_data() {
        let frames = decode_in_pieces(SAMPLE, SAMPLE.len());
        assert_eq!(
            frames,
            vec![
                SseFrame { event: Some("message_start".into()), data: "{\"a\":1}".into() },
                SseFrame { event: None, data: "x\ny".into() },
                SseFrame { event: None, data: "été".into() },
                SseFrame { event: None, data: "[DONE]".into() },
            ]
        );
    }

    #[test]
    fn any_rechunking_gives_the_same_frames() {
        let whole = decode_in_pieces(SAMPLE, SAMPLE.len());
        for piece in 1..SAMPLE.len() {
            assert_eq!(decode_in_pieces(SAMPLE, piece), whole, "piece size {piece}");
        }
    }

    #[test]
    fn an_unfinished_frame_is_not_dispatched() {
        assert!(decode_in_pieces(b"data: {\"partial\":", 4).is_empty());
        assert!(decode_in_pieces(b"data: {}\n", 4).is_empty());
    }
}

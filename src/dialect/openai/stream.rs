//! Same-format stream rewriting: each upstream `chat.completion.chunk` keeps its bytes except
//! `id`, `model` and `usage` (which gains `cost`). A stateful struct, fed one SSE frame at a
//! time, that also meters usage on the way through.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::response::Identity;
use super::usage;
use crate::dialect::raw::{RawObject, span_in, splice_into};
use crate::dialect::scan::{self, Cursor, Unreadable};
use crate::error::{ApiError, ErrorKind};
use crate::sse::{self, SseFrame};
use crate::usage::{Pricing, Usage, estimate_tokens};

/// What one upstream frame turns into.
#[derive(Debug)]
pub enum Step {
    /// Bytes for the client (may be empty when a frame is swallowed).
    Forward(Bytes),
    /// The upstream finished with `[DONE]`; these are the last bytes.
    Done(Bytes),
    /// The upstream reported an error in-band, or sent garbage; these bytes (a final error
    /// chunk) end the stream.
    Failed(Bytes, ApiError),
}

/// What the `choices` of a chunk say for metering, read without collecting them.
#[derive(Default)]
struct ChoicesSeen<'a> {
    any: bool,
    generated_bytes: usize,
    /// The last choice's `finish_reason`, when one has it.
    finish_reason: Option<Cow<'a, str>>,
}

impl ChoicesSeen<'_> {
    /// Counts one of a delta's `content`, `tool_calls` or `reasoning` (its JSON text).
    fn count_part(&mut self, part: &str) {
        if part != "null" {
            self.generated_bytes += part.len();
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ChoicesSeen<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ChoicesVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for ChoicesVisitor<'a> {
            type Value = ChoicesSeen<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut seen = ChoicesSeen::default();
                while let Some(choice) = seq.next_element::<Choice<'a>>()? {
                    seen.any = true;
                    if let Some(delta) = &choice.delta {
                        for part in [delta.content, delta.tool_calls, delta.reasoning].into_iter().flatten() {
                            seen.count_part(part.get());
                        }
                    }
                    if choice.finish_reason.is_some() {
                        seen.finish_reason = choice.finish_reason;
                    }
                }
                Ok(seen)
            }
        }
        d.deserialize_seq(ChoicesVisitor(std::marker::PhantomData))
    }
}

/// `ChoicesSeen` from a scan of `choices` (an array of objects) at `cursor`; `Unreadable` when
/// anything in it is not what the deserialising reader would accept.
fn scan_choices<'a>(cursor: &mut Cursor<'a>) -> Result<ChoicesSeen<'a>, Unreadable> {
    let mut seen = ChoicesSeen::default();
    cursor.array(|c| {
        seen.any = true;
        let (mut delta_seen, mut finish_reason) = (false, None);
        c.object(|c, key| match key {
            "delta" if delta_seen => Err(Unreadable),
            "delta" => {
                delta_seen = true;
                if c.at_null() {
                    return c.value().map(drop);
                }
                let mut parts = [false; 3];
                c.object(|c, key| {
                    let index = match key {
                        "content" => 0,
                        "tool_calls" => 1,
                        "reasoning" => 2,
                        _ => return c.value().map(drop),
                    };
                    if std::mem::replace(&mut parts[index], true) {
                        return Err(Unreadable);
                    }
                    seen.count_part(c.value()?);
                    Ok(())
                })
            }
            "finish_reason" if finish_reason.is_some() => Err(Unreadable),
            "finish_reason" => {
                finish_reason = Some(c.value()?);
                Ok(())
            }
            _ => c.value().map(drop),
        })?;
        if let Some(reason) = finish_reason.filter(|r| *r != "null") {
            seen.finish_reason = Some(Cow::Borrowed(scan::plain_string(reason).ok_or(Unreadable)?));
        }
        Ok(())
    })?;
    Ok(seen)
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct UpstreamError<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

/// OpenRouter's mid-stream error shape: a full chunk (`id`, `object`, `created`, `model`, one
/// choice with `finish_reason: "error"`) plus a top-level `error`. Sent last; nothing follows.
/// Shared by the same-format rewriter and the translating `encode::StreamEncoder`.
pub fn error_chunk(id: &str, model: &str, created: i64, err: &ApiError) -> Bytes {
    let mut body = err.body();
    body["id"] = id.into();
    body["object"] = "chat.completion.chunk".into();
    body["created"] = created.into();
    body["model"] = model.into();
    body["choices"] = serde_json::json!([{ "index": 0, "delta": { "content": "" }, "finish_reason": "error" }]);
    sse::data_frame(&serde_json::to_vec(&body).expect("JSON value serialises"))
}

/// An upstream's in-band `{"error":…}` event. The upstream's own text goes to debug logs only:
/// it may name hosts or accounts.
pub(crate) fn upstream_error(raw: &RawValue) -> ApiError {
    let message = serde_json::from_str::<UpstreamError>(raw.get()).ok().and_then(|e| e.message);
    tracing::debug!(upstream_message = ?message, "upstream reported an error mid-stream");
    ApiError::new(ErrorKind::UpstreamFailed, "upstream error during streaming")
}

/// An upstream event that is not a JSON chunk.
pub(crate) fn invalid_event() -> ApiError {
    ApiError::new(ErrorKind::UpstreamFailed, "invalid stream event from upstream")
}

/// The upstream closed the stream before `[DONE]`.
pub(crate) fn ended_unexpectedly() -> ApiError {
    ApiError::new(ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly")
}

/// Rewrites a same-format OpenAI stream and meters it.
#[derive(Debug)]
pub struct StreamRewriter {
    id: String,
    model: String,
    /// `id` and `model` as JSON strings, spliced into every chunk.
    id_json: String,
    model_json: String,
    pricing: Option<Pricing>,
    prompt_bytes: usize,
    /// Whether the client gets the final `choices: []` usage chunk.
    wants_usage_chunk: bool,
    /// `created` of the upstream chunks, reused for a gateway-made error chunk.
    created: i64,
    usage: Option<Usage>,
    /// Bytes of generated content seen, for an estimate if usage never arrives.
    generated_bytes: usize,
    finish_reason: Option<String>,
    /// Whether any chunk reached the client (fallback is only possible before that).
    forwarded_any: bool,
}

/// The metered result of a stream, however it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Metered {
    pub usage: Usage,
    /// True when the upstream never reported usage and `usage` is the gateway's estimate.
    pub estimated: bool,
    /// In nano-USD; 0 for an unpriced model.
    pub cost_nano: i64,
    /// `None` when the answer never said why it ended (cut short, or an error).
    pub finish_reason: Option<String>,
}

impl Metered {
    /// What a request used: the upstream's `usage` when it reported one, else an estimate from
    /// the bytes of prompt and of generated output seen; priced with `pricing`.
    pub fn from_counts(
        usage: Option<Usage>,
        prompt_bytes: usize,
        generated_bytes: usize,
        pricing: Option<&Pricing>,
        finish_reason: Option<String>,
    ) -> Self {
        let (usage, estimated) = match usage {
            Some(usage) => (usage, false),
            None => (
                Usage {
                    prompt_tokens: estimate_tokens(prompt_bytes),
                    completion_tokens: estimate_tokens(generated_bytes),
                    ..Usage::default()
                },
                true,
            ),
        };
        let cost_nano = pricing.map_or(0, |p| p.cost(&usage));
        Self { usage, estimated, cost_nano, finish_reason }
    }
}

impl StreamRewriter {
    /// `wants_usage_chunk`: send the final usage chunk (on unless the client set `include_usage`
    /// to false); `created` (Unix seconds) dates a gateway-made error chunk.
    pub fn new(who: Identity<'_>, wants_usage_chunk: bool, created: i64) -> Self {
        Self {
            id: who.id.to_owned(),
            model: who.model.to_owned(),
            id_json: serde_json::to_string(who.id).expect("a string serialises"),
            model_json: serde_json::to_string(who.model).expect("a string serialises"),
            pricing: who.pricing.copied(),
            prompt_bytes: who.prompt_bytes,
            wants_usage_chunk,
            created,
            usage: None,
            generated_bytes: 0,
            finish_reason: None,
            forwarded_any: false,
        }
    }

    /// Whether any chunk has reached the client; until one has, a failure can still fall back to
    /// another provider.
    pub fn forwarded_any(&self) -> bool {
        self.forwarded_any
    }

    /// Handles one upstream frame.
    pub fn push(&mut self, frame: &SseFrame) -> Step {
        if frame.data == "[DONE]" {
            return Step::Done(Bytes::from_static(sse::DONE));
        }
        // Errors, usage, a missing `id` or `model`, or a chunk the scan cannot read (a strange
        // `choices`, say): the careful way, once or twice a stream.
        self.push_plain(&frame.data).unwrap_or_else(|| self.push_rebuilt(frame))
    }

    /// The common chunk (`id` and `model`, no `usage` or `error`): metered from a scan of its
    /// structure and forwarded as its own bytes with those two values spliced. `None` for any
    /// other chunk.
    fn push_plain(&mut self, data: &str) -> Option<Step> {
        let (mut id, mut model, mut created, mut choices) = (None, None, None, None);
        let mut cursor = Cursor::new(data);
        cursor
            .object(|c, key| {
                let slot = match key {
                    "id" => &mut id,
                    "model" => &mut model,
                    "created" => &mut created,
                    "choices" if choices.is_some() => return Err(Unreadable),
                    "choices" if c.at_null() => return c.value().map(drop),
                    "choices" => {
                        choices = Some(scan_choices(c)?);
                        return Ok(());
                    }
                    "usage" if c.at_null() => return c.value().map(drop),
                    "usage" | "error" => return Err(Unreadable), // not a plain chunk
                    _ => return c.value().map(drop),
                };
                match slot.replace(c.value()?) {
                    Some(_) => Err(Unreadable), // repeated: the careful way refuses it
                    None => Ok(()),
                }
            })
            .ok()?;
        cursor.end().ok()?;
        let (id, model) = (id?, model?);
        self.note_created(created);
        if let Some(seen) = choices {
            self.note_choices(seen);
        }
        self.forwarded_any = true;
        Some(Step::Forward(self.splice_identity(data, id, model)))
    }

    /// The chunk's own bytes with the values of `id` and `model` replaced by the gateway's.
    fn splice_identity(&self, data: &str, id: &str, model: &str) -> Bytes {
        let mut edits =
            [(span_in(data, id), self.id_json.as_bytes()), (span_in(data, model), self.model_json.as_bytes())];
        let mut out = BytesMut::with_capacity(data.len() + self.id_json.len() + self.model_json.len() + 8);
        out.put_slice(b"data: ");
        splice_into(&mut out, data, &mut edits, b"");
        out.put_slice(b"\n\n");
        out.freeze()
    }

    fn note_created(&mut self, created: Option<&str>) {
        if let Some(created) = created.and_then(|c| c.parse().ok()) {
            self.created = created;
        }
    }

    fn note_choices(&mut self, seen: ChoicesSeen<'_>) {
        self.generated_bytes += seen.generated_bytes;
        if let Some(reason) = seen.finish_reason {
            self.finish_reason = Some(reason.into_owned());
        }
    }

    /// Any chunk, taken apart member by member and written back.
    fn push_rebuilt(&mut self, frame: &SseFrame) -> Step {
        let mut chunk = match RawObject::parse(frame.data.as_bytes()) {
            Ok(chunk) => chunk,
            Err(_) => return self.fail(invalid_event()),
        };
        if let Some(raw) = chunk.get("error") {
            return self.fail(upstream_error(raw));
        }
        self.note_created(chunk.get("created").map(RawValue::get));
        let mut has_choices = false;
        if let Some(Ok(seen)) = chunk.get("choices").map(|raw| serde_json::from_str::<ChoicesSeen>(raw.get())) {
            has_choices = seen.any;
            self.note_choices(seen);
        }
        let mut carries_usage = false;
        if let Some((usage, raw)) = chunk.get("usage").and_then(|raw| Some((usage::parse(raw)?, raw))) {
            let cost = self.pricing.map_or(0, |p| p.cost(&usage));
            let priced = usage::with_cost_raw(raw, cost);
            chunk.set("usage", priced);
            self.usage = Some(usage);
            carries_usage = true;
        }
        if carries_usage && !has_choices && !self.wants_usage_chunk {
            return Step::Forward(Bytes::new());
        }
        chunk.set_value("id", self.id.as_str());
        chunk.set_value("model", self.model.as_str());
        self.forwarded_any = true;
        Step::Forward(sse::data_frame(&chunk.to_vec()))
    }

    /// The upstream closed without `[DONE]`: the final error chunk to send.
    pub fn cut_short(&mut self) -> (Bytes, ApiError) {
        match self.fail(ended_unexpectedly()) {
            Step::Failed(bytes, err) => (bytes, err),
            _ => unreachable!("fail always returns Step::Failed"),
        }
    }

    /// A gateway-made final chunk carrying `err` (OpenRouter's mid-stream error shape).
    pub fn error_chunk(&self, err: &ApiError) -> Bytes {
        error_chunk(&self.id, &self.model, self.created, err)
    }

    /// The stream is given up on for `err` (idle, deadline, garbage): the final error chunk,
    /// with the finish reason recorded as `error`.
    pub fn abort(&mut self, err: &ApiError) -> Bytes {
        self.finish_reason = Some("error".into());
        self.error_chunk(err)
    }

    fn fail(&mut self, err: ApiError) -> Step {
        self.finish_reason = Some("error".into());
        Step::Failed(self.error_chunk(&err), err)
    }

    /// Usage and cost of everything seen so far; estimated when the upstream sent none.
    pub fn metered(&self) -> Metered {
        Metered::from_counts(
            self.usage,
            self.prompt_bytes,
            self.generated_bytes,
            self.pricing.as_ref(),
            self.finish_reason.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseDecoder;

    const UPSTREAM: &str = concat!(
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-5.4-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-5.4-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-5.4-x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-5.4-x\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"total_tokens\":12}}\n\n",
        "data: [DONE]\n\n",
    );

    fn frames(text: &str) -> Vec<SseFrame> {
        let mut out = Vec::new();
        SseDecoder::default().push(text.as_bytes(), &mut out).unwrap();
        out
    }

    fn run(wants_usage: bool) -> (String, StreamRewriter) {
        let pricing = Pricing { prompt: 1_000_000_000, completion: 2_000_000_000, ..Pricing::default() };
        let who = Identity { id: "gen-7-x", model: "openai/gpt-5.4", pricing: Some(&pricing), prompt_bytes: 0 };
        let mut rw = StreamRewriter::new(who, wants_usage, 0);
        let mut out = String::new();
        for frame in frames(UPSTREAM) {
            match rw.push(&frame) {
                Step::Forward(b) | Step::Done(b) => out.push_str(std::str::from_utf8(&b).unwrap()),
                Step::Failed(..) => panic!("unexpected failure"),
            }
        }
        (out, rw)
    }

    #[test]
    fn rewrites_identity_prices_usage_and_ends_with_done() {
        let (out, rw) = run(true);
        let events: Vec<&str> = out.split("\n\n").filter(|s| !s.is_empty()).collect();
        assert_eq!(events.len(), 5);
        assert!(events[1].contains(r#""id":"gen-7-x""#) && events[1].contains(r#""model":"openai/gpt-5.4""#));
        assert!(events[1].contains(r#""delta":{"content":"Hel"}"#));
        assert!(events[3].contains(r#""choices":[]"#), "{}", events[3]);
        assert!(events[3].contains(r#""cost":0.000014"#), "{}", events[3]);
        assert_eq!(events[4], "data: [DONE]");
        let m = rw.metered();
        assert_eq!(
            (m.usage.prompt_tokens, m.usage.completion_tokens, m.cost_nano, m.estimated),
            (10, 2, 14_000, false)
        );
        assert_eq!(m.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn a_plain_chunk_keeps_every_byte_but_the_id_and_model_values() {
        let who = Identity { id: "gen-\"q\"", model: "openai/gpt-5.4", pricing: None, prompt_bytes: 0 };
        let mut rw = StreamRewriter::new(who, true, 0);
        let data = r#"{"model" : "gpt-5.4-x","x_extra":{"n":1.50e0},"choices":[{"index":0,"delta":{"content":"H\u00e9"},"finish_reason":null}],"created":9,"id":"chatcmpl-1","usage":null}"#;
        let Step::Forward(out) = rw.push(&SseFrame { event: None, data: data.into() }) else { panic!("forwarded") };
        let expected = r#"data: {"model" : "openai/gpt-5.4","x_extra":{"n":1.50e0},"choices":[{"index":0,"delta":{"content":"H\u00e9"},"finish_reason":null}],"created":9,"id":"gen-\"q\"","usage":null}"#;
        assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{expected}\n\n"));
        assert_eq!(rw.created, 9);
        assert_eq!(rw.generated_bytes, r#""H\u00e9""#.len());
        assert!(rw.forwarded_any());
    }

    #[test]
    fn the_scan_and_the_careful_way_agree_on_bytes_and_metering() {
        let chunks = [
            r#"{"id":"c","model":"m","created":3,"choices":[{"index":0,"delta":{"content":"a\"b\\"},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":[1]}"}}]}},{"delta":{"reasoning":"hm","content":null},"finish_reason":"tool_calls"}],"id":"c","model":"m"}"#,
            r#"{"id":"c","model":"m","choices":[{"delta":null,"finish_reason":"length"}],"x":{"nested":["]","}"]}}"#,
            r#"{"id":"c","model":"m","choices":[{"delta":{"content":"é"},"finish_reason":"sto\u0070"}]}"#,
            r#"{"id":"c","model":"m","choices":null,"usage":null}"#,
            r#"{"id":"c","model":"m","choices":[{"delta":"odd"}]}"#,
        ];
        let who = Identity { id: "gen-9", model: "openai/m", pricing: None, prompt_bytes: 0 };
        for data in chunks {
            let frame = SseFrame { event: None, data: data.into() };
            let (mut fast, mut careful) = (StreamRewriter::new(who, true, 0), StreamRewriter::new(who, true, 0));
            let (Step::Forward(a), Step::Forward(b)) = (fast.push(&frame), careful.push_rebuilt(&frame)) else {
                panic!("forwarded: {data}")
            };
            assert_eq!(a, b, "{data}");
            assert_eq!(fast.metered(), careful.metered(), "{data}");
            assert_eq!(fast.created, careful.created, "{data}");
        }
    }

    #[test]
    fn chunks_without_an_id_or_with_odd_choices_are_still_rewritten() {
        let who = Identity { id: "gen-2", model: "openai/m", pricing: None, prompt_bytes: 0 };
        let mut rw = StreamRewriter::new(who, true, 0);
        let frame =
            SseFrame { event: None, data: r#"{"choices":[{"delta":{"content":"ab"},"finish_reason":"stop"}]}"#.into() };
        let Step::Forward(out) = rw.push(&frame) else { panic!("forwarded") };
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.contains(r#""id":"gen-2""#) && text.contains(r#""model":"openai/m""#), "{text}");
        assert_eq!(rw.finish_reason.as_deref(), Some("stop"));
        // `choices` that is not an array of choices is forwarded, rewritten, and not counted.
        let frame = SseFrame { event: None, data: r#"{"id":"c","model":"m","choices":"?"}"#.into() };
        let Step::Forward(out) = rw.push(&frame) else { panic!("forwarded") };
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "data: {\"id\":\"gen-2\",\"model\":\"openai/m\",\"choices\":\"?\"}\n\n"
        );
        assert_eq!(rw.generated_bytes, 4);
    }

    #[test]
    fn usage_chunk_is_dropped_when_the_client_opted_out_but_still_metered() {
        let (out, rw) = run(false);
        assert!(!out.contains(r#""choices":[]"#));
        assert_eq!(rw.metered().usage.completion_tokens, 2);
    }

    #[test]
    fn in_band_errors_and_garbage_end_the_stream_with_an_error_chunk() {
        let who = Identity { id: "gen-1", model: "openai/m", pricing: None, prompt_bytes: 8 };
        let mut rw = StreamRewriter::new(who, true, 5);
        let frame =
            SseFrame { event: None, data: r#"{"error":{"message":"secret upstream detail at api.internal"}}"#.into() };
        let Step::Failed(bytes, err) = rw.push(&frame) else { panic!("expected failure") };
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains(r#""finish_reason":"error""#) && text.contains(r#""code":502"#));
        assert!(!text.contains("api.internal"));
        assert_eq!(err.kind, ErrorKind::UpstreamFailed);
        let garbage = SseFrame { event: None, data: "{not json".into() };
        assert!(matches!(rw.push(&garbage), Step::Failed(..)));
        let m = rw.metered();
        assert!(m.estimated);
        assert_eq!(m.usage.prompt_tokens, 2);
    }
}

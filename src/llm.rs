//! The neutral chat model every wire format translates through (DESIGN §3 "one hub").
//!
//! Pure data, no I/O and no wire details: each format in `dialect` has a decoder into these
//! types and an encoder out of them, for requests, responses and stream events. Same-format
//! traffic never comes here; it is forwarded as bytes.
//!
//! Conventions: the system prompt is lifted out of the turns; tool results are parts of a user
//! turn (Anthropic's and Gemini's shape, which OpenAI's `tool` messages map onto); tool call
//! arguments are JSON objects (`Value`), not strings; usage follows OpenAI's convention
//! (`crate::usage::Usage`: prompt includes cached tokens, completion includes reasoning).

pub mod event;
pub mod request;
pub mod response;

pub use event::{Event, EventStream};
pub use request::{ChatRequest, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice};
pub use response::{ChatResponse, FinishReason};

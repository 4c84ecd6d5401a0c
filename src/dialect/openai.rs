//! OpenAI Chat Completions and embeddings: request validation and forwarding (`request`),
//! response rewriting (`response`), stream rewriting (`stream`), usage (`usage`), and the
//! translation hub's converters: `decode` (OpenAI → `llm`) and `encode` (`llm` → OpenAI).

pub mod decode;
pub mod encode;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

pub use request::{ChatRequest, EmbeddingsRequest};
pub use stream::StreamRewriter;

#[cfg(test)]
mod roundtrip_tests;

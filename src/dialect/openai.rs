//! OpenAI Chat Completions and embeddings: request validation and forwarding (`request`),
//! response rewriting (`response`), stream rewriting (`stream`), usage (`usage`).

pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

pub use request::{ChatRequest, EmbeddingsRequest};
pub use stream::StreamRewriter;

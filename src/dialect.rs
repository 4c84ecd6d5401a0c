//! Wire formats, one module per format, pure (no I/O). Each models its format once and is used
//! by both the inbound surface and the outbound provider of that format.
//!
//! * `raw`: a JSON object whose member values stay the client's (or upstream's) exact bytes,
//!   for same-format forwarding with a few members rewritten.
//! * `openai`: Chat Completions and embeddings.

pub mod openai;
pub mod raw;

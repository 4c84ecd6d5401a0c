//! Write coalescing on client connections: the first write of a response goes out at once,
//! later writes of the same response wait for the end of the scheduler's round, so that what
//! other tasks produce in that round (the rest of an upstream burst) joins them in one `writev`.
//!
//! hyper flushes a response body whenever the body has nothing ready, and our streams get the
//! upstream body one HTTP chunk at a time (hyper's client hands chunks over through a channel
//! of one), so without this every SSE event costs one `writev` to the client, about 2.7 µs of
//! kernel time on loopback, more than everything else a passed-through chunk costs. Event-loop
//! proxies get the same effect by writing at the end of a loop iteration (Envoy), or by reading
//! the upstream burst whole before writing (nginx).
//!
//! What waits and for how long:
//! - A write that follows bytes read from the client (a new request, a non-stream response,
//!   the head and first event of a stream) is never held: time to first byte is unchanged.
//! - A later write that comes within `BURST_GAP` of the previous one (the upstream is sending
//!   a burst) is held for one round of the runtime's queue, and again while the bytes hyper
//!   offers keep growing, for at most `MAX_HOLD` in all or until `MAX_HELD_BYTES`.
//! - A write after a longer quiet (tokens paced as real models pace them) goes at once: holding
//!   it would cost a task poll and save nothing.
//! - A write that follows one the socket refused (`Pending`) goes as soon as hyper retries:
//!   a full socket already coalesces.
//!
//! Holding is only ever `Pending` with this task woken first, so it costs one task poll and
//! cannot stall the connection.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Duration, Instant};

/// Writes closer together than this are a burst, worth holding to join. Far below the gap
/// between tokens of any model (a millisecond at a thousand tokens a second), far above the
/// gap between events the upstream sent together.
const BURST_GAP: Duration = Duration::from_micros(250);

/// Longest a write is held while more bytes keep joining it: the most this adds to a chunk's
/// delivery, however busy the runtime (a round is one poll of every ready task).
const MAX_HOLD: Duration = Duration::from_millis(1);

/// A write this large goes at once: more bytes would not save a syscall worth waiting for.
const MAX_HELD_BYTES: usize = 32 * 1024;

/// A client connection's socket (or anything that reads and writes) with coalesced writes.
pub struct CoalescingIo<T> {
    inner: T,
    /// Bytes were read since the last write: the next write answers them and goes at once.
    answering: bool,
    /// The socket refused or cut short the last write: the retry goes at once.
    backed_up: bool,
    /// The write being held: bytes offered when it was last held, and since when.
    held: Option<Held>,
    /// When the socket last took a whole write.
    last_write: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Held {
    bytes: usize,
    since: Instant,
}

impl<T> CoalescingIo<T> {
    /// Wraps a freshly accepted connection (its first write, the first response, goes at once).
    pub fn new(inner: T) -> Self {
        Self { inner, answering: true, backed_up: false, held: None, last_write: None }
    }

    /// Whether a write of `bytes` should wait a round; records the hold when it does.
    fn hold(&mut self, bytes: usize) -> bool {
        if self.answering || self.backed_up || bytes >= MAX_HELD_BYTES {
            return false;
        }
        match self.held {
            None => {
                let now = Instant::now();
                let in_burst = self.last_write.is_some_and(|at| now - at < BURST_GAP);
                if in_burst {
                    self.held = Some(Held { bytes, since: now });
                }
                in_burst
            }
            Some(held) if bytes > held.bytes && held.since.elapsed() < MAX_HOLD => {
                self.held = Some(Held { bytes, ..held });
                true
            }
            Some(_) => false,
        }
    }

    /// Book-keeping after the socket was asked to take `offered` bytes.
    fn wrote(&mut self, offered: usize, result: &Poll<io::Result<usize>>) {
        self.answering = false;
        self.held = None;
        match result {
            Poll::Ready(Ok(n)) if *n >= offered => {
                self.backed_up = false;
                self.last_write = Some(Instant::now());
            }
            Poll::Ready(Ok(_)) | Poll::Pending => self.backed_up = true,
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CoalescingIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.answering = true;
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescingIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.hold(buf.len()) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(buf.len(), &result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let offered = bufs.iter().map(|b| b.len()).sum();
        if self.hold(offered) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(offered, &result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;

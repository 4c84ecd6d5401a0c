use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

use super::*;

/// A writer that records each write it takes, and refuses (`Pending`) when told to.
#[derive(Default)]
struct Recorder {
    writes: Vec<Vec<u8>>,
    refuse_next: bool,
}

impl AsyncWrite for Recorder {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if std::mem::take(&mut self.refuse_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.writes.push(buf.to_vec());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Recorder {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        buf.put_slice(b"GET / HTTP/1.1\r\n\r\n");
        Poll::Ready(Ok(()))
    }
}

/// Counts wake-ups, so a test sees that a held write scheduled its own retry.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn write(io: &mut CoalescingIo<Recorder>, wakes: &Arc<Wakes>, bytes: &[u8]) -> Poll<io::Result<usize>> {
    let waker = std::task::Waker::from(wakes.clone());
    Pin::new(io).poll_write(&mut Context::from_waker(&waker), bytes)
}

fn read(io: &mut CoalescingIo<Recorder>) {
    let mut space = [0u8; 64];
    let mut buf = ReadBuf::new(&mut space);
    let waker = std::task::Waker::noop();
    assert!(Pin::new(io).poll_read(&mut Context::from_waker(waker), &mut buf).is_ready());
}

#[test]
fn the_answer_to_a_read_goes_at_once_and_later_writes_wait_a_round() {
    let wakes = Arc::new(Wakes::default());
    let mut io = CoalescingIo::new(Recorder::default());
    assert!(matches!(write(&mut io, &wakes, b"head+first"), Poll::Ready(Ok(10))), "a new connection's first write");
    assert!(write(&mut io, &wakes, b"second").is_pending(), "a later write waits");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "and schedules its own retry");
    assert!(matches!(write(&mut io, &wakes, b"second"), Poll::Ready(Ok(6))), "nothing joined: it goes");
    assert_eq!(io.inner.writes, [b"head+first".to_vec(), b"second".to_vec()]);

    read(&mut io);
    assert!(write(&mut io, &wakes, b"next answer").is_ready(), "bytes read: the answer is not held");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
}

/// The clock is tokio's, paused: the test moves it.
#[tokio::test(start_paused = true)]
async fn a_write_is_held_while_it_grows_for_at_most_max_hold() {
    let wakes = Arc::new(Wakes::default());
    let mut io = CoalescingIo::new(Recorder::default());
    assert!(write(&mut io, &wakes, b"h").is_ready());
    let step = MAX_HOLD / 5;
    let mut offered = b"x".to_vec();
    for held_for in 0..5 {
        assert!(write(&mut io, &wakes, &offered).is_pending(), "held {held_for} steps and growing: held again");
        tokio::time::advance(step).await;
        offered.push(b'x');
    }
    assert!(write(&mut io, &wakes, &offered).is_ready(), "held MAX_HOLD: it goes however it grows");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 5, "each hold scheduled its retry");
    assert_eq!(io.inner.writes.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_write_after_a_quiet_gap_goes_at_once() {
    let wakes = Arc::new(Wakes::default());
    let mut io = CoalescingIo::new(Recorder::default());
    assert!(write(&mut io, &wakes, b"h").is_ready());
    tokio::time::advance(BURST_GAP).await;
    assert!(write(&mut io, &wakes, b"a paced token").is_ready(), "not part of a burst: nothing to join");
    tokio::time::advance(BURST_GAP / 2).await;
    assert!(write(&mut io, &wakes, b"burst").is_pending(), "soon after a write: held");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
}

#[test]
fn large_writes_and_retries_after_a_full_socket_are_not_held() {
    let wakes = Arc::new(Wakes::default());
    let mut io = CoalescingIo::new(Recorder::default());
    assert!(write(&mut io, &wakes, b"h").is_ready());
    assert!(write(&mut io, &wakes, &vec![b'x'; MAX_HELD_BYTES]).is_ready(), "large enough to go alone");

    io.inner.refuse_next = true;
    assert!(write(&mut io, &wakes, b"abc").is_pending(), "held a round");
    assert!(write(&mut io, &wakes, b"abc").is_pending(), "refused by the socket");
    assert!(write(&mut io, &wakes, b"abcdef").is_ready(), "the retry after a full socket goes at once");
}

/// Counts the writes that reach the socket.
struct Counted<T> {
    inner: T,
    writes: Arc<AtomicUsize>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if result.is_ready() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if result.is_ready() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
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

/// Serves one request with hyper over `CoalescingIo` on a real socket, the body fed by another
/// task one chunk at a time (as the upstream connection feeds it), `pause` between chunks;
/// returns the events the client read and the number of writes that reached the socket.
async fn stream_through_hyper(chunks: usize, pause: Duration) -> (Vec<String>, usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let writes = Arc::new(AtomicUsize::new(0));
    let server_writes = writes.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let io = CoalescingIo::new(Counted { inner: tcp, writes: server_writes });
        let service = hyper::service::service_fn(|_request| async {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
            tokio::spawn(async move {
                for i in 0..chunks {
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    tx.send(Bytes::from(format!("data: {i}\n\n"))).await.unwrap();
                }
            });
            let frames = tokio_stream::wrappers::ReceiverStream::new(rx)
                .map(|bytes| Ok::<_, std::convert::Infallible>(Frame::data(bytes)));
            Ok::<_, std::convert::Infallible>(hyper::Response::new(StreamBody::new(frames)))
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(io), service)
            .await
            .unwrap();
    });

    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    server.await.unwrap();

    let text = String::from_utf8(response).unwrap();
    let (_head, body) = text.split_once("\r\n\r\n").unwrap();
    let events = body.split("data: ").skip(1).map(|e| e.split('\n').next().unwrap().to_owned()).collect();
    (events, writes.load(Ordering::SeqCst))
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// A burst: every chunk reaches the client, in order, in a few writes instead of one each.
/// The clock is paused so a slow machine cannot stretch the burst past `BURST_GAP`.
#[tokio::test(start_paused = true)]
async fn a_burst_fed_one_chunk_at_a_time_goes_out_in_few_writes() {
    let (events, writes) = stream_through_hyper(60, Duration::ZERO).await;
    assert_eq!(events, numbers(60), "every chunk, in order");
    assert!(writes <= 60 / 4, "{writes} writes for 60 chunks");
}

/// Paced chunks (1 ms apart, as tokens come) are not held: each goes out in its own write.
#[tokio::test(start_paused = true)]
async fn paced_chunks_go_out_as_they_come() {
    let (events, writes) = stream_through_hyper(20, Duration::from_millis(1)).await;
    assert_eq!(events, numbers(20));
    assert!(writes > 20, "{writes} writes for 20 paced chunks and the head");
}

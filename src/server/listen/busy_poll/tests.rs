use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap()
}

/// Runtime busy time of all workers so far: spinning shows up here, sleeping does not.
fn busy(runtime: &tokio::runtime::Runtime) -> Duration {
    let metrics = runtime.metrics();
    (0..metrics.num_workers()).map(|w| metrics.worker_total_busy_duration(w)).sum()
}

/// The workers' busy time over `pause` after `start` ran.
fn busy_over(runtime: &tokio::runtime::Runtime, pause: Duration, start: impl FnOnce()) -> Duration {
    let before = busy(runtime);
    start();
    std::thread::sleep(pause);
    busy(runtime) - before
}

#[test]
fn workers_spin_only_inside_the_window_after_a_request() {
    let rt = runtime(2);
    let busy_poll = BusyPoll::new(Duration::from_millis(30));
    let spinners = rt.block_on(async { busy_poll.spawn_spinners() });
    assert_eq!(spinners.len(), 2, "one spinner per worker");

    std::thread::sleep(Duration::from_millis(50));
    let idle = busy_over(&rt, Duration::from_millis(100), || {});
    assert!(idle < Duration::from_millis(20), "no request yet, so the workers sleep: busy {idle:?}");

    let spinning = busy_over(&rt, Duration::from_millis(30), || busy_poll.request_arrived());
    assert!(spinning > Duration::from_millis(5), "inside the window the workers poll: busy {spinning:?}");

    std::thread::sleep(Duration::from_millis(50));
    let after = busy_over(&rt, Duration::from_millis(100), || {});
    assert!(after < Duration::from_millis(20), "after the window they sleep again: busy {after:?}");

    // A later request opens the window again.
    let again = busy_over(&rt, Duration::from_millis(25), || busy_poll.request_arrived());
    assert!(again > Duration::from_millis(5), "a second window spins as well: busy {again:?}");
    drop(spinners);
}

#[test]
fn sockets_are_served_while_the_only_worker_spins() {
    let rt = runtime(1);
    rt.block_on(async {
        let busy_poll = BusyPoll::new(Duration::from_secs(1).min(MAX_WINDOW));
        let _spinners = busy_poll.spawn_spinners();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                socket.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        let exchange = async {
            for i in 0..200u32 {
                busy_poll.request_arrived();
                client.write_all(&i.to_le_bytes()).await.unwrap();
                let mut back = [0u8; 4];
                client.read_exact(&mut back).await.unwrap();
                assert_eq!(u32::from_le_bytes(back), i);
            }
        };
        tokio::time::timeout(Duration::from_secs(10), exchange).await.expect("the spinner starves no socket");
        drop(client);
        echo.await.unwrap();
    });
}

#[test]
fn the_window_is_capped() {
    let busy_poll = BusyPoll::new(Duration::from_secs(5));
    assert_eq!(busy_poll.window_ns, MAX_WINDOW.as_nanos() as u64);
}

//! Opt-in busy polling (`--busy-poll-us`): for a short window after each request, the runtime's
//! workers keep polling their sockets instead of going to sleep in `epoll_wait`.
//!
//! On a virtual machine an idle vCPU halts, and waking it for the next packet takes the
//! hypervisor tens of microseconds; a proxy waits twice per request (for the request, for the
//! upstream's answer), so at low concurrency those wake-ups are most of its added latency
//! (nginx `proxy_pass` adds 120–150 µs at concurrency 1 on the benchmark's Firecracker VM,
//! almost all of it this). HAProxy's `busy-polling` option answers the same problem the same
//! way. The price is CPU: each worker stays busy while requests keep arriving and for
//! `window` after the last, then sleeps as usual, so an idle gateway still costs nothing.
//!
//! How: one spinner task per worker thread yields in a loop while the window is open. tokio
//! runs a yielded task only after polling the I/O driver without blocking, so each turn of the
//! loop is one non-blocking `epoll_wait`, and sockets that became ready are served first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Longest window accepted: past a few milliseconds the spinning costs a core and wins nothing
/// a sleeping worker would not also catch in time.
pub const MAX_WINDOW: Duration = Duration::from_millis(100);

/// Turns of a spinner's loop (each one non-blocking poll of the sockets) between looks at the
/// clock.
const TURNS_PER_CLOCK_READ: usize = 16;

/// When requests last arrived, and the spinners that watch it.
#[derive(Debug)]
pub struct BusyPoll {
    window_ns: u64,
    epoch: Instant,
    /// Nanoseconds after `epoch` of the latest request.
    last_request_ns: AtomicU64,
    /// Some spinner is awake (or about to look at `last_request_ns` again).
    spinning: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// `window` is capped at `MAX_WINDOW`; nothing spins until `spawn_spinners`.
    pub fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            window_ns: u64::try_from(window.min(MAX_WINDOW).as_nanos()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            last_request_ns: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    /// Starts one spinner per runtime worker; they stop when the returned set is dropped.
    pub fn spawn_spinners(self: &Arc<Self>) -> JoinSet<()> {
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let mut spinners = JoinSet::new();
        for _ in 0..workers.max(1) {
            spinners.spawn(Arc::clone(self).spin());
        }
        spinners
    }

    /// A request arrived: open (or extend) the window, waking the spinners if they sleep.
    pub fn request_arrived(&self) {
        self.last_request_ns.store(self.now_ns(), Ordering::SeqCst);
        if !self.spinning.swap(true, Ordering::SeqCst) {
            self.wake.notify_waiters();
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn window_open(&self) -> bool {
        let last = self.last_request_ns.load(Ordering::SeqCst);
        last != 0 && self.now_ns().saturating_sub(last) < self.window_ns
    }

    async fn spin(self: Arc<Self>) {
        loop {
            // A clock read costs about as much as a turn on a VM (kvm-clock): look every few turns.
            while self.window_open() {
                for _ in 0..TURNS_PER_CLOCK_READ {
                    tokio::task::yield_now().await;
                }
            }
            let notified = self.wake.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the last look, so a request after it still wakes this task.
            notified.as_mut().enable();
            self.spinning.store(false, Ordering::SeqCst);
            // A request that came between the look and the store saw `spinning` still set.
            if self.window_open() {
                self.spinning.store(true, Ordering::SeqCst);
                continue;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests;

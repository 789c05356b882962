//! How an [`EventLoop`] waits: `epoll_wait`, first polled without sleeping
//! for up to `busy_poll` when that is on, and giving up its CPU now and then
//! while it keeps finding work.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::Events as MioEvents;

use super::EventLoop;

/// How often a busy-polling loop that keeps finding work gives up its CPU
/// (see `maybe_yield`): 0–500 µs cut the echo benchmark's p99 alike, 1–3 ms
/// less reliably; 200 µs keeps it to ≤ 5,000 `sched_yield` calls per second.
const YIELD_EVERY: Duration = Duration::from_micros(200);

impl EventLoop {
    /// After a turn that did work, gives up the CPU if the last such yield
    /// is [`YIELD_EVERY`] old — only when busy polling is on. A busy-polling
    /// loop looks to the scheduler like a thread that never sleeps, and a
    /// thread waiting for this core (another loop, the application, a client
    /// on the same machine) would otherwise wait for the scheduler's tick
    /// (4 ms here): echo p99 4.4 ms → 2.1 ms on the benchmark machine.
    pub(super) fn maybe_yield(&mut self, worked: bool) {
        if worked
            && !self.core.config.busy_poll.is_zero()
            && self.last_yield.elapsed() >= YIELD_EVERY
        {
            std::thread::yield_now();
            self.last_yield = Instant::now();
        }
    }

    /// Waits for events for up to `timeout` (`None`: until there are some).
    /// With `busy_poll` set, first polls without sleeping — yielding the CPU
    /// between polls — for up to that long.
    pub(super) fn wait(
        &mut self,
        events: &mut MioEvents,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return self.poll.poll(events, timeout);
        }
        // Broadcasts another loop's callback gathered for this one (see
        // `gather.rs`): it wakes this loop only while marked sleeping.
        let idx = self.idx;
        self.core.loops[idx].sleeping.store(true, Ordering::SeqCst);
        let res = if self.core.lanes_into_full(idx) {
            self.poll.poll(events, Some(Duration::ZERO))
        } else {
            self.sleep(events, timeout)
        };
        self.core.loops[idx]
            .sleeping
            .store(false, Ordering::Relaxed);
        res
    }

    fn sleep(&mut self, events: &mut MioEvents, timeout: Option<Duration>) -> io::Result<()> {
        let spin = self.core.config.busy_poll;
        if spin.is_zero() {
            return self.poll.poll(events, timeout);
        }
        let spin = timeout.map_or(spin, |t| t.min(spin));
        let start = Instant::now();
        loop {
            self.poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            let spun = start.elapsed();
            if spun >= spin {
                return self
                    .poll
                    .poll(events, timeout.map(|t| t.saturating_sub(spun)));
            }
            std::thread::yield_now();
        }
    }
}

//! An I/O thread's waker, released when the thread ends.
//!
//! A mio [`Waker`] is an `eventfd` registered with the thread's poller.
//! Handles, the pull queue's counters and other threads wake the thread
//! through it, so they all hold it; a plain `Arc<Waker>` kept the
//! descriptor open for as long as any of them lived — after `stop()` or
//! `close()`, one descriptor per loop of a stopped server and one per
//! closed client, for as long as the application kept the object (a
//! Python program keeping 200 closed clients in a list held 200). The
//! thread now releases it as it ends ([`Wake::release`], from a guard, so
//! a panic releases it too), and a wake after that does nothing: there is
//! nobody left to wake.

use std::io;
use std::sync::{PoisonError, RwLock};

use mio::Waker;

/// The waker of one I/O thread (server loop or client), shared by everyone
/// who wakes it.
#[derive(Debug)]
pub(crate) struct Wake {
    /// `None` once the thread ended. Read-locked per wake (the first
    /// command after the thread drained its queue, not every message);
    /// write-locked once, by the ending thread.
    waker: RwLock<Option<Waker>>,
}

impl Wake {
    pub fn new(waker: Waker) -> Wake {
        Wake {
            waker: RwLock::new(Some(waker)),
        }
    }

    /// Wakes the thread, if it still runs.
    pub fn wake(&self) -> io::Result<()> {
        match &*self.waker.read().unwrap_or_else(PoisonError::into_inner) {
            Some(w) => w.wake(),
            None => Ok(()),
        }
    }

    /// Closes the waker's descriptor: its thread has ended.
    pub fn release(&self) {
        let taken = self
            .waker
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(taken);
    }

    /// Whether [`release`](Wake::release) was called.
    #[cfg(test)]
    pub fn released(&self) -> bool {
        self.waker
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

/// Releases a thread's [`Wake`] when dropped: held by the thread for its
/// whole run, so it ends with the thread however that ends.
#[derive(Debug)]
pub(crate) struct ReleaseOnExit(pub std::sync::Arc<Wake>);

impl Drop for ReleaseOnExit {
    fn drop(&mut self) {
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_waker_closes_its_descriptor_and_wakes_nobody() {
        let poll = mio::Poll::new().expect("poll");
        let fds = || std::fs::read_dir("/proc/self/fd").map(|d| d.count()).ok();
        let wake = std::sync::Arc::new(Wake::new(
            Waker::new(poll.registry(), mio::Token(0)).expect("waker"),
        ));
        wake.wake().expect("wake a live thread's waker");
        let before = fds();
        {
            let _guard = ReleaseOnExit(wake.clone());
        }
        assert!(wake.released());
        wake.wake().expect("waking after the release is no error");
        // (Other tests of this binary open descriptors in parallel: only a
        // rough check here; `rust/tests/released_wakers.rs` counts exactly.)
        if let (Some(b), Some(a)) = (before, fds()) {
            assert!(a <= b + 8, "{b} -> {a}");
        }
    }
}

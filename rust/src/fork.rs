//! Forks: `fork()` copies only the calling thread, so in the child a server
//! or client started before the fork has none of its I/O threads. Waiting
//! for them there (`stop()`, `close()`, dropping the last handle, a
//! language runtime's exit) would wait for good; joining them is undefined.
//! Each server and client records the fork generation it started in
//! ([`Origin`]); in a child forked after that, its handles act as stopped
//! (closed): sends fail with `NotRunning`, stopping waits for nothing,
//! taking events waits for none either — it answers as a stopped server's
//! (a closed client's) empty queue does (`None`, `NotRunning`): no loop
//! here will ever queue one, and those queued at the fork are the parent's
//! — and a server lists no clients.
//! Its sockets stay the parent's to serve — the child never touches them
//! (no shutdown, no reset).
//! A [`ReadyFd`](crate::ReadyFd) made before the fork is the parent's
//! descriptor too (one open eventfd): arming it in the child reads nothing
//! (that would take the parent's wakeup) and answers "take" at once.
//! A child forked inside a callback is a copy of the I/O thread running
//! it (a server's loop, a client's thread), whose epoll instance, sockets
//! and queues are the parent's: once the callback returns, the child ends
//! at once (`_exit(0)`, or 101 if the callback panicked; see
//! [`end_if_forked_since`], called by `shared::call_guarded`), running
//! nothing more of the loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// How many forks separate this process from the first one that used
/// tcphub: bumped in every child (`pthread_atfork`), before `fork()`
/// returns there.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The fork generation now (see [`end_if_forked_since`]).
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Ends this process at once (`_exit`: no exit handlers, no stdio flush)
/// when it was forked since `before` — a child forked inside the callback
/// that just returned: its thread is a copy of the I/O thread, whose
/// epoll instance, sockets and queues are the parent's, so it must run
/// nothing more of the loop (it took the parent's clients' input and never
/// ended). Exit code 0, or 101 (Rust's for a panic) if `panicked`.
#[inline]
pub(crate) fn end_if_forked_since(before: u64, panicked: bool) {
    if generation() != before {
        // SAFETY: `_exit` is async-signal-safe and ends the (one-threaded)
        // child without touching what it shares with the parent.
        unsafe { libc::_exit(if panicked { 101 } else { 0 }) };
    }
}

extern "C" fn in_child() {
    // Async-signal-safe: one atomic add, in the single-threaded child.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The fork generation a server or client started in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin(u64);

impl Origin {
    /// This process, now (the first call registers the fork handler).
    pub fn here() -> Origin {
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            // SAFETY: registers a handler that only does an atomic add; no
            // handler for the parent's side of the fork.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            if rc != 0 {
                log::warn!("tcphub: pthread_atfork failed ({rc}): a forked child may wait for threads it lacks");
            }
        });
        Origin(GENERATION.load(Ordering::Relaxed))
    }

    /// Whether this is a child forked since: the I/O threads are not here.
    #[inline]
    pub fn forked(&self) -> bool {
        GENERATION.load(Ordering::Relaxed) != self.0
    }
}

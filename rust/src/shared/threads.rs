//! Joining and waiting for I/O threads, with and without a deadline.

use std::sync::{Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Joins the threads in `slot` (a `Vec` or an `Option` of handles),
/// holding its lock meanwhile, so that a caller racing this one waits for
/// the end too instead of finding no thread.
pub(crate) fn join_all<C>(slot: &Mutex<C>, what: &str)
where
    C: Default + IntoIterator<Item = JoinHandle<()>>,
{
    let mut threads = slot.lock().unwrap_or_else(|p| p.into_inner());
    join_each(std::mem::take(&mut *threads), what);
}

/// Joins the threads in `slot` if every one has finished; whether none is
/// left. Does not wait for the lock: whoever holds it (`join_all`, for up
/// to a linger time) is joining them, and they are gone once it lets go.
pub(crate) fn join_if_finished<C>(slot: &Mutex<C>, what: &str) -> bool
where
    C: Default + IntoIterator<Item = JoinHandle<()>>,
    for<'a> &'a C: IntoIterator<Item = &'a JoinHandle<()>>,
{
    let mut threads = match slot.try_lock() {
        Ok(t) => t,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    if !(&*threads).into_iter().all(JoinHandle::is_finished) {
        return false;
    }
    join_each(std::mem::take(&mut *threads), what);
    true
}

/// In a forked child: lets go of the parent's threads in `slot` without
/// joining or detaching them (they do not exist here; see `fork.rs`).
/// Never waits for the lock: held at the fork by a parent's thread that was
/// joining them (`join_all`, for up to a linger time), it stays held for
/// good here, where that thread does not exist — and the handles in it are
/// never joined either.
pub(crate) fn forget_threads<C>(slot: &Mutex<C>)
where
    C: Default,
{
    let mut threads = match slot.try_lock() {
        Ok(t) => t,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    std::mem::forget(std::mem::take(&mut *threads));
}

fn join_each(threads: impl IntoIterator<Item = JoinHandle<()>>, what: &str) {
    for t in threads {
        if t.join().is_err() {
            log::error!("tcphub: {what} panicked");
        }
    }
}

/// Polls `done` (every few milliseconds) until it holds or `limit` has
/// passed; whether it held. For the rare waits with a deadline on threads
/// ending (`stop_within`, `close_within`), where `join` has none.
pub(crate) fn wait_finished(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = deadline_after(limit);
    let mut nap = Duration::from_micros(100);
    loop {
        if done() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

/// `Instant::now() + d`, saturating far in the future instead of panicking
/// on overflow (callers may pass `Duration::MAX` to mean "forever").
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

//! The server's input gate, closed for good by `stop_input()` (and by
//! `stop()`): once `stop_input()` returns (or `stop()` has begun:
//! `is_running()` reads false), no loop hands out another message — none
//! is queued for `events()`, no `on_message` starts.
//!
//! The gate itself is the server's `reading` flag, which each loop looks at
//! before it hands out a message. A look alone leaves a window: a loop that
//! looked, found the gate open and was preempted before its push could
//! queue the message after `stop_input()` had closed the gate and returned.
//! So each loop also marks, in a flag of its own ([`Passing`]), the moments
//! it hands a message out past the gate — from its look at the gate to the
//! message's push into the pull queue, or to the start of `on_message` —
//! and [`close`] waits for the loops inside such a moment. Both sides
//! store, then load, sequentially consistent (the loop its mark, then the
//! gate; the closer the gate, then the marks), so either the loop sees the
//! gate closed or the closer sees the loop's mark.
//!
//! A moment holds no lock but the pull queue's own, runs no application
//! code (the mark is let go before `on_message` starts) and never waits for
//! room (a push into the pull queue does not), so a closer waits for a
//! loop's push or backlog move at most (microseconds); a callback calling
//! `stop_input()` or `stop()` finds its own loop's mark let go.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One loop's mark: set while it hands out a message it found the gate open
/// for. Padded to its own cache lines: the loop writes it for every message,
/// a closer reads it once.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Passing(AtomicBool);

/// A loop's moment of handing out past the gate; let go when dropped (also
/// when unwinding, so a closer never waits for a loop that is gone).
#[must_use = "the moment ends when the pass is dropped"]
pub(crate) struct Pass<'a>(&'a AtomicBool);

impl Drop for Pass<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Passing {
    /// Marks this loop as handing out, then looks at the gate `open`: a
    /// pass while it is open (hand the message out, then drop the pass),
    /// `None` once it is closed (drop the message).
    #[inline]
    pub fn enter<'a>(&'a self, open: &AtomicBool) -> Option<Pass<'a>> {
        let pass = self.hold();
        // SeqCst, after the mark's SeqCst store: see the module's docs.
        open.load(Ordering::SeqCst).then_some(pass)
    }

    /// Marks this loop as handing out without a look at the gate: for a
    /// caller that looks at it itself, item by item, with `Ordering::SeqCst`
    /// (the pull queue's backlog, moved as room comes).
    #[inline]
    pub fn hold(&self) -> Pass<'_> {
        self.0.store(true, Ordering::SeqCst);
        Pass(&self.0)
    }
}

/// One loop's way through the gate, for a part of the loop that hands
/// input out at its own pace (the pull queue's backlog, `outbox.rs`): the
/// gate, the loops' marks and which one is this loop's.
#[derive(Debug, Clone)]
pub(crate) struct LoopGate {
    open: Arc<AtomicBool>,
    marks: Arc<[Passing]>,
    idx: usize,
}

impl LoopGate {
    pub fn new(open: Arc<AtomicBool>, marks: Arc<[Passing]>, idx: usize) -> LoopGate {
        LoopGate { open, marks, idx }
    }

    /// Marks this loop as handing out, until the pass drops; look with
    /// [`is_open`](LoopGate::is_open) before each item handed out meanwhile.
    #[inline]
    pub fn hold(&self) -> Pass<'_> {
        self.marks[self.idx].hold()
    }

    /// Whether the gate is open (SeqCst: after the mark's store).
    #[inline]
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Whether this loop is marked right now (for tests).
    #[cfg(test)]
    pub fn marked(&self) -> bool {
        self.marks[self.idx].0.load(Ordering::SeqCst)
    }
}

/// Closes the gate `open` (idempotent) and waits until no loop of
/// `passing` is still handing out a message it found the gate open for;
/// returns whether this call closed it. Every caller waits, not only the
/// first: each was promised no message after it returns.
pub(crate) fn close(open: &AtomicBool, passing: &[Passing]) -> bool {
    let first = open.swap(false, Ordering::SeqCst);
    for p in passing {
        // A few instructions of the loop's at most, unless the loop's thread
        // was preempted inside them: give it the core.
        while p.0.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    /// The closer waits for a loop that found the gate open and has not
    /// handed its message out yet, and not for one that let its mark go.
    #[test]
    fn close_waits_for_a_loop_inside_its_moment() {
        let open = Arc::new(AtomicBool::new(true));
        let passing: Arc<[Passing]> = (0..2).map(|_| Passing::default()).collect();
        let pass = passing[1].enter(&open).expect("the gate is open");
        let (done_tx, done_rx) = mpsc::channel();
        let closer = {
            let (open, passing) = (open.clone(), passing.clone());
            std::thread::spawn(move || {
                let first = close(&open, &passing);
                done_tx.send(first).expect("the test waits");
            })
        };
        // (Cannot pass early: a correct closer never returns while the pass
        // lives; a wrong one would return at once.)
        assert!(
            done_rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "the closer returned while a loop was handing out"
        );
        assert!(!open.load(Ordering::SeqCst), "closed before it waits");
        drop(pass);
        let first = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the closer returns once the pass is dropped");
        assert!(first, "the first close closed it");
        closer.join().expect("closer");
        assert!(!close(&open, &passing), "idempotent");
        assert!(passing[0].enter(&open).is_none(), "closed: no pass");
        assert!(
            !passing[0].0.load(Ordering::SeqCst),
            "a refused look lets go"
        );
    }

    /// A held mark is let go when the pass drops, also while unwinding.
    #[test]
    fn a_pass_lets_go_when_dropped_or_unwound() {
        let passing = Passing::default();
        let pass = passing.hold();
        assert!(passing.0.load(Ordering::SeqCst));
        drop(pass);
        assert!(!passing.0.load(Ordering::SeqCst));
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _pass = passing.hold();
            panic!("inside the moment");
        }));
        assert!(unwound.is_err());
        assert!(!passing.0.load(Ordering::SeqCst), "let go while unwinding");
    }
}

//! Broadcasts gathered on their way from a loop's callbacks to the loops.
//!
//! A relay's `on_message` calls `send_all` once per message it reads. Sent
//! one by one, every message would cost a shared buffer of its own and, for
//! each other loop of the server, a channel entry (a node allocated and
//! freed on two threads) and a wakeup check. Instead, a callback running on
//! an event loop frames its broadcast straight into a buffer per target
//! loop: its own loop's in a thread-local [`Gathered`]
//! (`shared::LocalLoop`), each other loop's in the [`Lane`] from this loop to
//! that one. A run of broadcasts to the same audience becomes one shared
//! buffer and one command when the loop that gathered it pumps (after each
//! read, so after every message of the read was handed to the callbacks),
//! or earlier when anything else is posted to that loop.
//!
//! Order is kept as if every message had been posted at its `send_all`:
//! whoever posts anything to a loop first moves what the lanes into that
//! loop hold into its channel (`Core::flush_lanes_into`), under the lane's
//! lock, so a command posted after a gathered broadcast (on any thread, e.g.
//! a worker the callback told) is applied after it; and a loop moves what
//! its lanes hold into its own channel before each drain, so what another
//! loop's callback gathered reaches it even while that callback runs on.
//! Gathered messages count in the target loop's backlog (`pending`) when
//! they are gathered, exactly as posted ones do, so the backlog bound and a
//! graceful stop's wait see them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::broadcast::Run;
use crate::framing::Framing;
use crate::shared::{Audience, Command, Core};

/// Framed messages longer than this are not gathered: they go out in a
/// buffer of their own, as from any other thread (a copy into the gathering
/// buffer and again into the run would cost more than the allocation saved).
pub(crate) const GATHER_SMALL: usize = 1024;

/// Room a gathering buffer keeps once its run is taken: a busy lane grows it
/// again, up to a batch ([`BATCH_MAX`](crate::broadcast::BATCH_MAX)), with a
/// few reallocations; an idle one holds little.
const BYTES_KEPT: usize = 16 * 1024;
const ENDS_KEPT: usize = 256;

/// Broadcasts gathered for one loop: framed messages back to back, all for
/// the same audience.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    bytes: Vec<u8>,
    /// Where each message ends in `bytes`.
    ends: Vec<u32>,
    audience: Option<Audience>,
}

impl Gathered {
    /// Whether a message of `len` framed bytes for `audience` can join what
    /// is gathered (nothing yet, or the same audience within `cap` bytes).
    pub fn joins(&self, audience: Audience, len: usize, cap: usize) -> bool {
        match self.audience {
            None => true,
            Some(a) => a == audience && self.bytes.len() + len <= cap,
        }
    }

    /// Frames `msg` onto what is gathered (the caller checked
    /// [`joins`](Gathered::joins)).
    pub fn push(&mut self, framing: &Framing, msg: &[u8], audience: Audience) {
        framing.encode_into(msg, &mut self.bytes);
        self.ends.push(self.bytes.len() as u32);
        self.audience = Some(audience);
    }

    /// What is gathered, as one command (one shared buffer); `None` when
    /// nothing is.
    pub fn take(&mut self) -> Option<Command> {
        let audience = self.audience.take()?;
        let joined: Arc<[u8]> = Arc::from(&self.bytes[..]);
        let ends = (self.ends.len() > 1).then(|| Box::from(&self.ends[..]));
        self.bytes.clear();
        self.ends.clear();
        self.bytes.shrink_to(BYTES_KEPT);
        self.ends.shrink_to(ENDS_KEPT);
        Some(Command::Broadcast(Run { joined, ends }, audience))
    }
}

/// Broadcasts a loop's callbacks gathered for another loop of the server.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// Something is gathered: set by the gathering loop under the lock,
    /// cleared under it once the run is in the target's channel.
    full: AtomicBool,
    gathered: Mutex<Gathered>,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, Gathered> {
        // Nothing panics while holding it; a poisoned lane is still whole.
        self.gathered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The lanes between the loops of a server: `n × n`, the one from loop `s`
/// to loop `d` at `s * n + d` (those from a loop to itself unused).
#[derive(Debug)]
pub(crate) struct Lanes {
    n: usize,
    lanes: Box<[Lane]>,
}

impl Lanes {
    /// Lanes between `n` loops (none for a single loop).
    pub fn new(n: usize) -> Lanes {
        let count = if n > 1 { n * n } else { 0 };
        Lanes {
            n,
            lanes: (0..count).map(|_| Lane::default()).collect(),
        }
    }

    fn get(&self, from: usize, to: usize) -> &Lane {
        &self.lanes[from * self.n + to]
    }
}

impl Core {
    /// Most bytes gathered into one run (as the loops coalesce: a batch
    /// normally fits into a queue that already holds something).
    pub fn batch_cap(&self) -> usize {
        crate::broadcast::BATCH_MAX.min(self.config.max_queue_bytes / 2)
    }

    /// Moves what the lanes into loop `to` hold (but the one from `skip`)
    /// into its channel. Called before anything else is posted to `to`, so
    /// that it comes after the gathered broadcasts, and by `to` before it
    /// drains its channel. `wake`: wake the loop for it (not needed when
    /// the loop itself calls, and then drains its channel). Whether
    /// anything was moved.
    pub fn flush_lanes_into(&self, to: usize, skip: Option<usize>, wake: bool) -> bool {
        let mut moved = false;
        if self.lanes.n < 2 {
            return moved;
        }
        for from in 0..self.lanes.n {
            if from == to || Some(from) == skip {
                continue;
            }
            let lane = self.lanes.get(from, to);
            if lane.full.load(Ordering::Acquire) {
                let mut g = lane.lock();
                moved |= self.flush_locked(lane, &mut g, to, wake);
            }
        }
        moved
    }

    /// Moves what loop `from`'s callbacks gathered for the other loops into
    /// their channels and wakes them (the loop's pump, once a read's
    /// messages were handed out).
    pub fn flush_lanes_from(&self, from: usize) {
        if self.lanes.n < 2 {
            return;
        }
        for to in 0..self.lanes.n {
            if to == from {
                continue;
            }
            let lane = self.lanes.get(from, to);
            if lane.full.load(Ordering::Acquire) {
                let mut g = lane.lock();
                self.flush_locked(lane, &mut g, to, true);
            }
        }
    }

    /// Gathers `msg` (framed, for `audience`) into the lane from loop
    /// `from` to loop `to`, its bytes already counted in `to`'s backlog.
    pub fn gather_into_lane(&self, from: usize, to: usize, msg: &[u8], audience: Audience) {
        // Another loop's gathered broadcasts may have been seen by this
        // callback (through a thread it told): they go first.
        self.flush_lanes_into(to, Some(from), true);
        let framing = &self.config.framing;
        let len = framing.framed_len(msg).unwrap_or(msg.len());
        let lane = self.lanes.get(from, to);
        let mut g = lane.lock();
        if !g.joins(audience, len, self.batch_cap()) {
            self.flush_locked(lane, &mut g, to, true);
        }
        g.push(framing, msg, audience);
        // `full` changes only under the lock.
        if !lane.full.load(Ordering::Relaxed) {
            // A loop about to sleep marks itself, then looks at its lanes
            // (`lanes_into_full`); this sets the flag, then looks at the
            // mark (both SeqCst): one of the two sees the other, so a
            // sleeping loop is woken for what a callback that goes on
            // running (even one waiting for that loop's clients) gathered.
            lane.full.store(true, Ordering::SeqCst);
            let remote = &self.loops[to];
            if remote.sleeping.load(Ordering::SeqCst)
                && !remote.notified.swap(true, Ordering::AcqRel)
            {
                let _ = remote.waker.wake();
            }
        }
    }

    /// Whether a lane into loop `to` holds something (SeqCst: see
    /// `gather_into_lane`).
    pub fn lanes_into_full(&self, to: usize) -> bool {
        (0..self.lanes.n)
            .any(|from| from != to && self.lanes.get(from, to).full.load(Ordering::SeqCst))
    }

    /// Sends the run `g` (lane `lane`, locked) holds to loop `to`. The send
    /// happens under the lock and `full` is cleared only after it: a poster
    /// that finds the lane empty (or waits for its lock) knows the run is
    /// in the channel ahead of what it posts.
    /// Whether there was a run.
    fn flush_locked(&self, lane: &Lane, g: &mut Gathered, to: usize, wake: bool) -> bool {
        let run = g.take();
        let sent = run.is_some();
        if let Some(cmd) = run {
            self.deliver(to, cmd, wake);
        }
        lane.full.store(false, Ordering::Release);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(below: u64) -> Audience {
        Audience { below, except: 0 }
    }

    #[test]
    fn gathers_a_run_for_one_audience_within_the_cap() {
        let framing = Framing::length_prefixed();
        let mut g = Gathered::default();
        assert!(g.take().is_none(), "nothing gathered, nothing to send");
        assert!(g.joins(to(5), 10, 20));
        g.push(&framing, b"abc", to(5));
        g.push(&framing, b"de", to(5));
        assert!(!g.joins(to(6), 1, 100), "another audience starts a new run");
        assert!(!g.joins(to(5), 10, 20), "over the cap");
        assert!(g.joins(to(5), 10, 40));
        let Some(Command::Broadcast(run, a)) = g.take() else {
            panic!("a run was gathered");
        };
        assert_eq!(a, to(5));
        assert_eq!(&run.joined[..], b"\0\0\0\x03abc\0\0\0\x02de");
        assert_eq!(run.ends.as_deref(), Some(&[7, 13][..]));
        assert_eq!(run.messages(), 2);
        assert!(g.take().is_none());
        assert!(g.joins(to(6), 1, 1), "empty again: anything joins");
        g.push(&framing, b"x", to(6));
        let Some(Command::Broadcast(run, _)) = g.take() else {
            panic!("a run was gathered");
        };
        assert!(run.ends.is_none(), "a single message needs no bounds");
        assert_eq!(run.messages(), 1);
    }
}

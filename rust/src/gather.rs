//! What a loop's callbacks send, gathered on its way to the loops.
//!
//! A relay's `on_message` calls `send_all` once per message it reads, an
//! echo's `send` once per message. Sent one by one, every message would
//! cost a shared buffer of its own and, for a loop other than the
//! callback's, a channel entry (a node allocated and freed on two threads)
//! and a wakeup check. Instead, a callback running on an event loop frames
//! a small message straight into a buffer per target loop: its own loop's
//! in a thread-local [`Gathered`] (`shared::LocalLoop`), each other loop's
//! in the [`Lane`] from this loop to that one. A run of messages for the
//! same [`Target`] (a broadcast's audience, or one client: a client's run
//! collects its messages among other clients', up to the next broadcast,
//! see [`Gathered`]) becomes one
//! shared buffer and one command when the loop that gathered it pumps
//! (after each read, so after every message of the read was handed to the
//! callbacks), or earlier when anything else is posted to that loop.
//!
//! An application thread (any thread that is no tcphub I/O thread: `main`,
//! a worker, the Python dispatcher, a C caller) gathers the same way, into
//! one more lane per loop, shared by all such threads (the *outside* lane,
//! under its lock): an application thread broadcasting in a loop costs no
//! shared buffer and no channel entry per message either. Nobody pumps for
//! it, so the target loop takes what it holds at its own next pump — the
//! first message into an empty lane wakes the loop if it sleeps — or
//! whoever posts to that loop first moves it on, as below. Such a thread
//! still waits while the loop is too far behind (`Core::wait_for_room`),
//! before its message is counted.
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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::broadcast::Run;
use crate::error::{Error, Result};
use crate::event::ClientId;
use crate::framing::{Filling, Framing};
use crate::registry::FastMap;
use crate::shared::{self, Audience, Command, Core, LocalLoop};

/// Framed messages longer than this are not gathered: they go out in a
/// buffer of their own, as from any other thread (a copy into the gathering
/// buffer and again into the run would cost more than the allocation saved).
pub(crate) const GATHER_SMALL: usize = 1024;

/// Room a gathering buffer keeps once its run is taken: a busy lane grows it
/// again, up to a batch ([`BATCH_MAX`](crate::broadcast::BATCH_MAX)), with a
/// few reallocations; an idle one holds little.
const BYTES_KEPT: usize = 16 * 1024;
const ENDS_KEPT: usize = 256;

/// Who a gathered run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A broadcast's audience.
    All(Audience),
    /// One client (`send`, `send_to`).
    Client(ClientId),
}

/// Most runs gathered for one loop before they go out (each becomes a
/// command of its own).
const MAX_RUNS: usize = 1024;
const RUNS_KEPT: usize = 64;

/// Messages gathered for one loop, framed back to back in the order
/// gathered, in runs: a run per target, so that sends to several clients
/// in turn (a relay written by hand) become a run per client, not a run
/// per message. A broadcast is a barrier: a client's message after it
/// opens a new run for that client (its earlier run goes out first), so
/// every client gets its messages and the broadcasts in the order sent.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    bytes: Vec<u8>,
    /// Per message: where it ends in `bytes`, and its run (in `runs`).
    msgs: Vec<(u32, u32)>,
    /// Each run's target, in the order the runs were opened.
    runs: Vec<Target>,
    /// The clients with a run opened since the last broadcast run, but the
    /// last run's: where (see `open_run`).
    clients: FastMap<ClientId, u32>,
}

impl Gathered {
    /// Whether nothing is gathered.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Whether a message of `len` framed bytes can join what is gathered
    /// (within `cap` bytes in all, and [`MAX_RUNS`] runs).
    #[inline]
    pub fn fits(&self, len: usize, cap: usize) -> bool {
        self.runs.is_empty() || (self.bytes.len() + len <= cap && self.runs.len() < MAX_RUNS)
    }

    /// Frames `msg` onto what is gathered, in `target`'s run (the caller
    /// checked [`fits`](Gathered::fits)).
    #[inline]
    pub fn push(&mut self, framing: &Framing, msg: &[u8], target: Target) {
        let run = self.run_for(target);
        framing.encode_into(msg, &mut self.bytes);
        self.msgs.push((self.bytes.len() as u32, run as u32));
    }

    /// The run a message for `target` joins, opened if need be.
    #[inline]
    fn run_for(&mut self, target: Target) -> usize {
        // The common case: the same target as the message before.
        if self.runs.last() == Some(&target) {
            return self.runs.len() - 1;
        }
        self.open_run(target)
    }

    /// A run other than the last for `target`, or a new one. `clients`
    /// names every client's run since the last broadcast but the last run
    /// (added as the next one opens): a run of sends to one client, an
    /// echo's, costs no hashing.
    #[inline(never)]
    fn open_run(&mut self, target: Target) -> usize {
        let at = self.runs.len();
        match target {
            // A barrier: what clients get next comes after it.
            Target::All(_) => self.clients.clear(),
            Target::Client(id) => {
                if let Some(&Target::Client(last)) = self.runs.last() {
                    self.clients.insert(last, at as u32 - 1);
                }
                if let Some(&run) = self.clients.get(&id) {
                    return run as usize;
                }
            }
        }
        self.runs.push(target);
        at
    }

    /// Hands what is gathered to `f`, a command (one shared buffer) per
    /// run, in the order the runs were opened; nothing when nothing is.
    pub fn take_each(&mut self, mut f: impl FnMut(Command)) {
        match self.runs.len() {
            0 => return,
            // The common case: one run, its messages back to back already.
            1 => {
                let joined: Arc<[u8]> = Arc::from(&self.bytes[..]);
                let ends =
                    (self.msgs.len() > 1).then(|| self.msgs.iter().map(|&(end, _)| end).collect());
                f(command(self.runs[0], Run { joined, ends }));
            }
            _ => {
                // Each run's bytes and messages counted, then its messages
                // copied once, straight into its shared buffer.
                let mut sizes = vec![(0usize, 0usize); self.runs.len()];
                let mut start = 0;
                for &(end, run) in &self.msgs {
                    let (bytes, msgs) = &mut sizes[run as usize];
                    *bytes += end as usize - start;
                    *msgs += 1;
                    start = end as usize;
                }
                let mut parts: Vec<(Filling, Vec<u32>)> = sizes
                    .iter()
                    .map(|&(bytes, msgs)| {
                        let ends = if msgs > 1 {
                            Vec::with_capacity(msgs)
                        } else {
                            Vec::new()
                        };
                        (Filling::new(bytes), ends)
                    })
                    .collect();
                let mut start = 0;
                for &(end, run) in &self.msgs {
                    let (buf, ends) = &mut parts[run as usize];
                    buf.push(&self.bytes[start..end as usize]);
                    // Room for ends was made only for a run of several
                    // messages (`Run::ends` is `None` for one).
                    if ends.capacity() > 0 {
                        ends.push(buf.written() as u32);
                    }
                    start = end as usize;
                }
                for (&target, (buf, ends)) in self.runs.iter().zip(parts) {
                    let joined = buf.finish();
                    let ends = (!ends.is_empty()).then(|| ends.into_boxed_slice());
                    f(command(target, Run { joined, ends }));
                }
            }
        }
        self.bytes.clear();
        self.msgs.clear();
        self.runs.clear();
        if self.bytes.capacity() > BYTES_KEPT {
            self.bytes.shrink_to(BYTES_KEPT);
        }
        if self.msgs.capacity() > ENDS_KEPT {
            self.msgs.shrink_to(ENDS_KEPT);
        }
        if self.runs.capacity() > RUNS_KEPT {
            self.runs.shrink_to(RUNS_KEPT);
        }
        if !self.clients.is_empty() {
            self.clients.clear();
        }
        // Also when a broadcast last emptied it (a barrier clears the map
        // but keeps its room): a burst of sends to many clients ended by a
        // broadcast would otherwise keep room for up to MAX_RUNS clients in
        // this lane for good. (Twice RUNS_KEPT: the room `shrink_to` leaves
        // for RUNS_KEPT is more than that, and must not be shrunk again at
        // every take.)
        if self.clients.capacity() > 2 * RUNS_KEPT {
            self.clients.shrink_to(RUNS_KEPT);
        }
    }
}

/// The command that delivers `run` to `target`.
fn command(target: Target, run: Run) -> Command {
    match target {
        Target::All(audience) => Command::Broadcast(run, audience),
        Target::Client(id) => Command::Send(id, run),
    }
}

/// Messages a loop's callbacks gathered for another loop of the server.
/// Aligned to its own cache lines: the lanes of different pairs of loops
/// are written by different threads at once.
#[derive(Debug, Default)]
#[repr(align(128))]
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

/// Most loops a server gathers messages across. The lanes are one per pair
/// of loops: with more loops, their memory (~90 bytes a lane, up to
/// [`BYTES_KEPT`] kept by each busy one) would grow with the square of the
/// loops (1.4 GiB of lanes at `MAX_THREADS`), so such a server's callbacks
/// and application threads post their messages one by one instead.
pub(crate) const GATHER_MAX_LOOPS: usize = 16;

/// The lanes between the loops of a server: `n × n`, the one from loop `s`
/// to loop `d` at `s * n + d` (those from a loop to itself unused), then
/// the `n` outside lanes, from application threads to loop `d` at
/// `n * n + d` (source index `n`).
#[derive(Debug)]
pub(crate) struct Lanes {
    /// The server's loops; 0 when it has more than [`GATHER_MAX_LOOPS`]
    /// (no lanes: nothing is gathered).
    n: usize,
    lanes: Box<[Lane]>,
    /// Per target loop, how many lanes into it hold something, the outside
    /// one included (changed with a lane's `full`, under its lock): a post
    /// to a loop no lane holds anything for looks at one counter, not at
    /// every lane.
    full_into: Box<[Counter]>,
}

/// A count on cache lines of its own (see [`Lanes::full_into`]).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Counter(AtomicUsize);

impl std::ops::Deref for Counter {
    type Target = AtomicUsize;
    fn deref(&self) -> &AtomicUsize {
        &self.0
    }
}

impl Lanes {
    /// Lanes between `n` loops and from the application threads to each
    /// (none for more than [`GATHER_MAX_LOOPS`]).
    pub fn new(n: usize) -> Lanes {
        let n = if n > GATHER_MAX_LOOPS { 0 } else { n };
        let count = n * (n + 1);
        Lanes {
            n,
            lanes: (0..count).map(|_| Lane::default()).collect(),
            full_into: (0..n).map(|_| Counter::default()).collect(),
        }
    }

    /// Whether a server of `loops` loops gathers the messages sent to it.
    pub fn gathering(&self, loops: usize) -> bool {
        self.n == loops
    }

    fn get(&self, from: usize, to: usize) -> &Lane {
        &self.lanes[from * self.n + to]
    }

    /// The source index of the outside lanes (see [`Lanes`]).
    fn outside(&self) -> usize {
        self.n
    }
}

impl Core {
    /// Most bytes gathered into one run (as the loops coalesce: a batch
    /// normally fits into a queue that already holds something).
    pub fn batch_cap(&self) -> usize {
        crate::broadcast::BATCH_MAX.min(self.config.max_queue_bytes / 2)
    }

    /// `send_all` from a callback running on one of this server's loops or
    /// from an application thread: gathers the message (for `audience`,
    /// `framed_len` bytes framed) for every loop instead of posting it.
    /// `None` on another tcphub I/O thread, or for a message too large to
    /// gather: the caller posts it (see [`gathering`](Core::gathering)).
    pub fn gather_broadcast(
        &self,
        msg: &[u8],
        framed_len: usize,
        audience: Audience,
    ) -> Option<Result<()>> {
        let target = Target::All(audience);
        self.gathering(
            framed_len,
            |ll| {
                let here = ll.idx;
                let others = |idx: usize| idx != here;
                self.count_gathered(framed_len, others)?;
                self.gather_here(ll, msg, framed_len, target);
                for idx in (0..self.loops.len()).filter(|&i| others(i)) {
                    self.gather_into_lane(here, idx, msg, framed_len, target);
                }
                Ok(())
            },
            || self.gather_from_outside(msg, framed_len, target, |_| true),
        )
    }

    /// `send`/`send_to` (to client `id`, of loop `idx`): gathered, as
    /// [`gather_broadcast`](Core::gather_broadcast) does, into a run for
    /// that client; `None` when the caller posts it instead.
    pub fn gather_send(
        &self,
        idx: usize,
        id: ClientId,
        msg: &[u8],
        framed_len: usize,
    ) -> Option<Result<()>> {
        let target = Target::Client(id);
        self.gathering(
            framed_len,
            |ll| {
                if idx == ll.idx {
                    self.gather_here(ll, msg, framed_len, target);
                } else {
                    self.count_gathered(framed_len, |i| i == idx)?;
                    self.gather_into_lane(ll.idx, idx, msg, framed_len, target);
                }
                Ok(())
            },
            || self.gather_from_outside(msg, framed_len, target, |i| i == idx),
        )
    }

    /// When the server has at most [`GATHER_MAX_LOOPS`] and the message
    /// (`framed_len` bytes framed) is small enough to gather: runs
    /// `on_loop` with the calling loop when on one of this server's loops,
    /// `outside` on an application thread (no tcphub I/O thread at all);
    /// `NotRunning` in a forked child (no loop reads here). `None` (post
    /// the message) otherwise: on another server's loop, which never waits
    /// for room but pauses its own reading instead (`Core::post`), or on a
    /// client's I/O thread (its callbacks bridging to this server post as
    /// before).
    fn gathering(
        &self,
        framed_len: usize,
        on_loop: impl FnOnce(&mut LocalLoop) -> Result<()>,
        outside: impl FnOnce() -> Result<()>,
    ) -> Option<Result<()>> {
        if framed_len > GATHER_SMALL || !self.lanes.gathering(self.loops.len()) {
            return None;
        }
        if self.origin.forked() {
            return Some(Err(Error::NotRunning));
        }
        if let Some(done) = shared::on_own_loop(self, on_loop) {
            return Some(done);
        }
        if shared::on_any_io_thread() {
            return None;
        }
        Some(outside())
    }

    /// Gathers `msg` (`framed_len` bytes framed, for `target`) from an
    /// application thread into the outside lanes to the loops `to` picks:
    /// as `post_message` does, it first waits while a loop is too far
    /// behind, then counts the message and checks the server still runs.
    fn gather_from_outside(
        &self,
        msg: &[u8],
        framed_len: usize,
        target: Target,
        to: impl Fn(usize) -> bool,
    ) -> Result<()> {
        for (idx, remote) in self.loops.iter().enumerate() {
            if to(idx) {
                self.wait_for_room(remote);
            }
        }
        self.count_gathered(framed_len, &to)?;
        let from = self.lanes.outside();
        for idx in (0..self.loops.len()).filter(|&i| to(i)) {
            self.gather_into_lane(from, idx, msg, framed_len, target);
        }
        Ok(())
    }

    /// Counts a gathered message of `framed_len` bytes in the backlog of
    /// the loops `to` picks, then checks the server still runs, as
    /// `post_message` does for a message it posts (see there); on
    /// `NotRunning` the counts are given back.
    fn count_gathered(&self, framed_len: usize, to: impl Fn(usize) -> bool) -> Result<()> {
        let cost = framed_len + crate::connection::ENTRY_OVERHEAD;
        for (idx, remote) in self.loops.iter().enumerate() {
            if to(idx) {
                remote.pending.fetch_add(cost, Ordering::SeqCst);
            }
        }
        if self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        for (idx, remote) in self.loops.iter().enumerate() {
            if to(idx) {
                remote.uncount(cost);
            }
        }
        Err(Error::NotRunning)
    }

    /// Gathers `msg` for `target` among the clients of the calling loop
    /// (`ll`'s), after what was posted to it before (as a local post does).
    fn gather_here(&self, ll: &mut LocalLoop, msg: &[u8], framed_len: usize, target: Target) {
        self.catch_up(ll);
        if !ll.gathered.fits(framed_len, self.batch_cap()) {
            ll.flush_gathered();
        }
        ll.gathered.push(&self.config.framing, msg, target);
    }

    /// Before a callback on loop `ll` queues anything for that loop itself:
    /// moves what the lanes into it hold into its channel, then what is in
    /// the channel ahead of what `ll` queues (`LocalLoop::catch_up`).
    pub fn catch_up(&self, ll: &mut LocalLoop) {
        let moved = self.flush_lanes_into(ll.idx, None, false);
        ll.catch_up(&self.loops[ll.idx], moved);
    }

    /// Moves what the lanes into loop `to` hold (but the one from `skip`)
    /// into its channel. Called before anything else is posted to `to`, so
    /// that it comes after the gathered broadcasts, and by `to` before it
    /// drains its channel. `wake`: wake the loop for it (not needed when
    /// the loop itself calls, and then drains its channel). Whether
    /// anything was moved.
    #[inline]
    pub fn flush_lanes_into(&self, to: usize, skip: Option<usize>, wake: bool) -> bool {
        if self.lanes.n == 0 {
            return false;
        }
        let mut full = self.lanes.full_into[to].load(Ordering::Acquire);
        if let Some(from) = skip {
            // Not counting the caller's own lane. Its flag and its count
            // change together only as seen by the caller: for a loop's lane
            // because only that loop fills it (and a flusher elsewhere
            // clears the flag before giving its count back, so a count read
            // after that is never paired with the flag still set); for the
            // outside lane, which any application thread fills, because the
            // caller holds its lock (`gather_into_lane`; review: without
            // it, another thread's flag set but not yet counted made the
            // caller skip a full loop lane).
            let own = self.lanes.get(from, to).full.load(Ordering::Relaxed);
            full = full.saturating_sub(usize::from(own));
        }
        if full == 0 {
            return false;
        }
        self.flush_full_lanes_into(to, skip, wake)
    }

    #[inline(never)]
    fn flush_full_lanes_into(&self, to: usize, skip: Option<usize>, wake: bool) -> bool {
        let mut moved = false;
        // The loops' lanes, then the outside one (an application thread
        // that saw a loop's gathered message gathers after flushing it).
        for from in 0..=self.lanes.outside() {
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

    /// Gathers `msg` (`framed_len` bytes framed, for `target`) into the
    /// lane from loop `from` to loop `to`, its bytes already counted in
    /// `to`'s backlog.
    fn gather_into_lane(
        &self,
        from: usize,
        to: usize,
        msg: &[u8],
        framed_len: usize,
        target: Target,
    ) {
        // Another loop's gathered broadcasts may have been seen by this
        // callback (through a thread it told): they go first. The outside
        // lane, shared by the application threads, is locked first, so that
        // its flag and count are settled while the others are looked at
        // (see `flush_lanes_into`); a loop's own lane after, as two loops
        // flushing into each other's targets would otherwise deadlock (the
        // outside lane's lock is the only one ever held while another is
        // taken).
        let lane = self.lanes.get(from, to);
        let held = (from == self.lanes.outside()).then(|| lane.lock());
        self.flush_lanes_into(to, Some(from), true);
        let mut g = held.unwrap_or_else(|| lane.lock());
        if !g.fits(framed_len, self.batch_cap()) {
            self.flush_locked(lane, &mut g, to, true);
        }
        g.push(&self.config.framing, msg, target);
        // `full` changes only under the lock.
        if !lane.full.load(Ordering::Relaxed) {
            // A loop about to sleep marks itself, then looks at its lanes
            // (`lanes_into_full`); this counts the lane, then looks at the
            // mark (both SeqCst): one of the two sees the other, so a
            // sleeping loop is woken for what a callback that goes on
            // running (even one waiting for that loop's clients) gathered.
            lane.full.store(true, Ordering::Release);
            self.lanes.full_into[to].fetch_add(1, Ordering::SeqCst);
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
        self.lanes.n > 0 && self.lanes.full_into[to].load(Ordering::SeqCst) > 0
    }

    /// Sends the run `g` (lane `lane`, locked) holds to loop `to`. The send
    /// happens under the lock and `full` is cleared only after it: a poster
    /// that finds the lane empty (or waits for its lock) knows the run is
    /// in the channel ahead of what it posts.
    /// Whether there was a run.
    fn flush_locked(&self, lane: &Lane, g: &mut Gathered, to: usize, wake: bool) -> bool {
        // Empty exactly when not `full` (both change under the lock): a
        // flusher that looked at `full` before another took the run finds
        // nothing here.
        if g.is_empty() {
            return false;
        }
        g.take_each(|cmd| {
            self.deliver(to, cmd, wake);
        });
        lane.full.store(false, Ordering::Release);
        self.lanes.full_into[to].fetch_sub(1, Ordering::AcqRel);
        true
    }
}

#[cfg(test)]
mod tests;

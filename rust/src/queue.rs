//! The pull-mode event queue between I/O threads and the application: a
//! FIFO behind one mutex, with a condition variable for receivers that
//! wait. Its bounds (events and bytes) are counted outside it, by
//! [`QueueLoad`](crate::outbox::QueueLoad), so it needs none of its own.
//!
//! It replaces an unbounded crossbeam channel, whose list of 31-slot blocks
//! cost a zeroed allocation every 31 events on the sending thread and a free
//! on the receiving one — a producer–consumer pattern glibc's allocator
//! answers with `malloc_consolidate` on every block (callgrind: ~460
//! instructions per event, sending and taking, of a pull-mode relay's
//! ~1,970). Here one ring buffer is reused, a send or take is one
//! uncontended lock, and a batch of takes is one lock for all of them.
//!
//! Sending never waits for the receivers (the lock is held for a push);
//! a sender wakes a receiver only when one is asleep, so the common case
//! makes no system call. As with the channel, a send wakes one receiver
//! waiting to take and every one waiting only to see that something can be
//! taken ([`Receiver::wait_ready`]): a waiter that looks without taking must
//! not be the one wakeup an item gets while a taker sleeps on.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) use crossbeam_channel::{RecvTimeoutError, TryRecvError};

/// A queue keeps room for this many items at least; beyond, its ring
/// buffer is shrunk to twice what it holds once it holds a quarter of its
/// room or less, so one burst does not hold its memory for the server's
/// life (nor while the consumer keeps a few events waiting). The ring
/// grows by doubling, so at its largest it is twice the most items the
/// queue's bounds let it hold (`outbox::slot_cost` counts that).
const KEEP_ROOM: usize = 4096;

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// Live [`Sender`]s: at 0 (and empty) the queue has ended.
    senders: usize,
    /// Receivers waiting on `takers` to take an item.
    takers: usize,
    /// Receivers waiting on `watchers` to see an item (or the end).
    watchers: usize,
    /// Items sent so far (wrapping): a receiver only looking returns once
    /// one was sent during its wait, even if another receiver took it
    /// before it woke, as a channel's `Select` did.
    sent: u64,
    /// Readiness descriptors ([`ReadyFd`](crate::ReadyFd)) watching the
    /// queue, each with whether it is armed: an armed one is made
    /// readable (and disarmed) by the next send or by the end.
    notes: Vec<(Arc<Notifier>, bool)>,
    /// How many of `notes` are armed: a send looks at them only then.
    armed: usize,
}

impl<T> State<T> {
    /// Disarms every armed notifier, returning them to be made readable
    /// once the lock is given back; `None` when none is armed, the common
    /// case of a send, which costs it one comparison.
    #[inline]
    fn take_armed(&mut self) -> Option<Vec<Arc<Notifier>>> {
        if self.armed == 0 {
            return None;
        }
        Some(self.disarm_all())
    }

    #[cold]
    fn disarm_all(&mut self) -> Vec<Arc<Notifier>> {
        self.armed = 0;
        self.notes
            .iter_mut()
            .filter(|(_, armed)| *armed)
            .map(|(n, armed)| {
                *armed = false;
                n.clone()
            })
            .collect()
    }

    /// The count of receivers asleep to take (`taker`) or to look.
    fn sleepers(&mut self, taker: bool) -> &mut usize {
        if taker {
            &mut self.takers
        } else {
            &mut self.watchers
        }
    }
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    /// Woken one per item sent.
    takers: Condvar,
    /// Woken all at once.
    watchers: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held; a poisoned lock still
        // holds a consistent queue.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A new, empty queue: its first sender and its receiver (both clone).
/// (Crate-private, so the example runs as the unit tests below do.)
///
/// ```text
/// let (tx, rx) = queue::<u32>();
/// tx.send(7);
/// assert_eq!(rx.try_recv(), Ok(7));
/// drop(tx);
/// assert!(rx.recv().is_none());
/// ```
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            takers: 0,
            watchers: 0,
            sent: 0,
            notes: Vec::new(),
            armed: 0,
        }),
        takers: Condvar::new(),
        watchers: Condvar::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

/// The sending side; the queue ends once every sender is dropped.
#[derive(Debug)]
pub(crate) struct Sender<T>(Arc<Shared<T>>);

impl<T> Sender<T> {
    /// Appends `item`, waking one sleeping receiver.
    pub fn send(&self, item: T) {
        let mut s = self.0.lock();
        s.items.push_back(item);
        s.sent = s.sent.wrapping_add(1);
        let (taker, watchers) = (s.takers > 0, s.watchers > 0);
        let notes = s.take_armed();
        drop(s);
        if taker {
            self.0.takers.notify_one();
        }
        if watchers {
            self.0.watchers.notify_all();
        }
        if let Some(notes) = notes {
            notes.iter().for_each(|n| n.notify());
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders -= 1;
        let ended = s.senders == 0;
        let (takers, watchers) = (ended && s.takers > 0, ended && s.watchers > 0);
        let notes = if ended { s.take_armed() } else { None };
        drop(s);
        if let Some(notes) = notes {
            notes.iter().for_each(|n| n.notify());
        }
        if takers {
            self.0.takers.notify_all();
        }
        if watchers {
            self.0.watchers.notify_all();
        }
    }
}

/// The receiving side; clones take from the same queue (each item goes to
/// one of them).
#[derive(Debug)]
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        Receiver(self.0.clone())
    }
}

/// How a wait for items ended.
enum Waited {
    /// Items are queued.
    Ready,
    /// Nothing is queued and no sender is left.
    Ended,
    TimedOut,
}

impl<T> Receiver<T> {
    /// Takes the front item, shrinking a ring buffer left large by a burst.
    fn pop(s: &mut State<T>) -> Option<T> {
        let item = s.items.pop_front();
        shrink(s);
        item
    }

    /// Waits on `s` until an item is queued, every sender is gone, or
    /// `deadline` (`None`: no limit) has passed; gives the lock back. A
    /// `taker` means to take what it finds; otherwise it only looks, and
    /// an item sent during the wait makes it ready even if another
    /// receiver has taken it by the time it wakes (it was woken for it).
    fn wait<'a>(
        &'a self,
        mut s: MutexGuard<'a, State<T>>,
        deadline: Option<Instant>,
        taker: bool,
    ) -> (MutexGuard<'a, State<T>>, Waited) {
        let cv = if taker {
            &self.0.takers
        } else {
            &self.0.watchers
        };
        let sent = s.sent;
        loop {
            if !s.items.is_empty() || (!taker && s.sent != sent) {
                return (s, Waited::Ready);
            }
            if s.senders == 0 {
                return (s, Waited::Ended);
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.saturating_duration_since(Instant::now()) {
                    left if left.is_zero() => return (s, Waited::TimedOut),
                    left => Some(left),
                },
            };
            *s.sleepers(taker) += 1;
            s = match left {
                None => cv.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(left) => {
                    cv.wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            *s.sleepers(taker) -= 1;
        }
    }

    /// The front item if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = self.0.lock();
        match Self::pop(&mut s) {
            Some(item) => Ok(item),
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the front item; `None` once the queue has ended.
    pub fn recv(&self) -> Option<T> {
        match self.wait(self.0.lock(), None, true) {
            (mut s, Waited::Ready) => Self::pop(&mut s),
            _ => None,
        }
    }

    /// Waits up to `timeout` for an item to take: the lock, with one queued.
    fn ready(&self, timeout: Duration) -> Result<MutexGuard<'_, State<T>>, RecvTimeoutError> {
        match self.wait(self.0.lock(), deadline(timeout), true) {
            (s, Waited::Ready) => Ok(s),
            (_, Waited::Ended) => Err(RecvTimeoutError::Disconnected),
            (_, Waited::TimedOut) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Waits up to `timeout` for the front item.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let mut s = self.ready(timeout)?;
        Ok(Self::pop(&mut s).expect("an item is queued"))
    }

    /// Waits up to `timeout` for an item, then moves it and up to `max - 1`
    /// more already queued into `out`, under one lock, weighing each with
    /// `weigh`. Returns how many were moved and their total weight.
    pub fn take_batch(
        &self,
        out: &mut Vec<T>,
        max: usize,
        timeout: Duration,
        weigh: impl Fn(&T) -> usize,
    ) -> Result<(usize, usize), RecvTimeoutError> {
        let mut s = self.ready(timeout)?;
        let n = max.min(s.items.len());
        let mut weight = 0;
        out.reserve(n);
        for item in s.items.drain(..n) {
            weight += weigh(&item);
            out.push(item);
        }
        shrink(&mut s);
        Ok((n, weight))
    }

    /// Waits up to `timeout` until an item is queued or the queue has
    /// ended, taking nothing; `false` on timeout. An item sent meanwhile
    /// counts even when another receiver took it first.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        !matches!(
            self.wait(self.0.lock(), deadline(timeout), false).1,
            Waited::TimedOut
        )
    }

    /// Items queued right now.
    pub fn len(&self) -> usize {
        self.0.lock().items.len()
    }

    /// Registers `note` to be armed by [`arm`](Receiver::arm).
    pub fn watch(&self, note: &Arc<Notifier>) {
        self.0.lock().notes.push((note.clone(), false));
    }

    /// Unregisters `note` (a [`ReadyFd`](crate::ReadyFd) dropped).
    pub fn unwatch(&self, note: &Arc<Notifier>) {
        let mut s = self.0.lock();
        if let Some(i) = s.notes.iter().position(|(n, _)| Arc::ptr_eq(n, note)) {
            if s.notes.swap_remove(i).1 {
                s.armed -= 1;
            }
        }
    }

    /// `false` when an item can be taken now or the queue has ended;
    /// otherwise arms `note` (registered with [`watch`](Receiver::watch)),
    /// which the next send or the end makes readable, and returns `true`.
    /// Under the lock a send takes too, so no item comes between the look
    /// and the arming unseen.
    pub fn arm(&self, note: &Arc<Notifier>) -> bool {
        let mut s = self.0.lock();
        if !s.items.is_empty() || s.senders == 0 {
            return false;
        }
        let mut newly = false;
        if let Some((_, armed)) = s.notes.iter_mut().find(|(n, _)| Arc::ptr_eq(n, note)) {
            newly = !*armed;
            *armed = true;
        }
        if newly {
            s.armed += 1;
        }
        true
    }
}

/// A readiness descriptor: `read` is handed out, readable from a notice
/// (when the queue an armed notifier watches gets an item or ends) until
/// [`drain`](Notifier::drain). On Linux one `eventfd`, read and written;
/// elsewhere the two ends of a Unix socket pair (`read`, and `write`, which
/// gets a byte per notice).
#[derive(Debug)]
pub(crate) struct Notifier {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) read: std::os::fd::OwnedFd,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) read: std::os::unix::net::UnixStream,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: std::os::unix::net::UnixStream,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Notifier {
    pub(crate) fn new() -> std::io::Result<Notifier> {
        use std::os::fd::FromRawFd;
        // SAFETY: a plain system call; the descriptor it returns is new
        // and ours alone.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is open and owned by nothing else.
        let read = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Notifier { read })
    }

    /// Makes `read` readable (adds 1 to the counter; a counter at its
    /// maximum already is readable: the failed write is dropped).
    fn notify(&self) {
        use std::os::fd::AsRawFd;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our open descriptor.
        let _ = unsafe { libc::write(self.read.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Zeroes the counter, so `read` is not readable until the next notice.
    pub(crate) fn drain(&self) {
        use std::os::fd::AsRawFd;
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our open
        // descriptor (non-blocking: nothing to read is EAGAIN, ignored).
        let _ = unsafe { libc::read(self.read.as_raw_fd(), (&raw mut count).cast(), 8) };
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Notifier {
    pub(crate) fn new() -> std::io::Result<Notifier> {
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        Ok(Notifier { read, write })
    }

    /// Makes `read` readable (a full buffer already is: the failed write
    /// is dropped).
    fn notify(&self) {
        use std::io::Write;
        let _ = (&self.write).write(&[1]);
    }

    /// Reads what made `read` readable, so it is not until the next
    /// notice.
    pub(crate) fn drain(&self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while matches!((&self.read).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Gives back the room of a ring buffer left large by a burst (see
/// [`KEEP_ROOM`]); geometric, so each shrink is paid for by the takes
/// before it.
#[inline]
fn shrink<T>(s: &mut State<T>) {
    let room = s.items.capacity();
    if room > KEEP_ROOM && s.items.len() <= room / 4 {
        s.items.shrink_to((2 * s.items.len()).max(KEEP_ROOM));
    }
}

/// When a wait of `timeout` from now ends (`None`: too far to represent,
/// so no limit).
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    const LONG: Duration = Duration::from_secs(20);

    #[test]
    fn items_come_out_in_order_and_the_queue_ends_after_its_last_sender() {
        let (tx, rx) = queue::<u32>();
        let tx2 = tx.clone();
        tx.send(1);
        tx2.send(2);
        drop(tx);
        tx2.send(3);
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.try_recv(), Ok(1));
        drop(tx2);
        // Ended, but what was sent is still taken first.
        assert_eq!(rx.recv_timeout(LONG), Ok(2));
        assert_eq!(rx.recv(), Some(3));
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
        assert!(
            rx.wait_ready(LONG),
            "an ended queue is ready: the next take answers at once"
        );
    }

    #[test]
    fn an_empty_queue_times_out_and_is_not_ready() {
        let (tx, rx) = queue::<u32>();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let t = Duration::from_millis(20);
        assert_eq!(rx.recv_timeout(t), Err(RecvTimeoutError::Timeout));
        assert!(!rx.wait_ready(t));
        let mut out = Vec::new();
        assert_eq!(
            rx.take_batch(&mut out, 8, t, |_| 1),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        drop(tx);
    }

    #[test]
    fn a_batch_takes_what_is_queued_up_to_its_limit_and_weighs_it() {
        let (tx, rx) = queue::<usize>();
        for i in 1..=5 {
            tx.send(i);
        }
        let mut out = vec![99];
        assert_eq!(rx.take_batch(&mut out, 3, LONG, |&i| i * 10), Ok((3, 60)));
        assert_eq!(out, [99, 1, 2, 3]);
        assert_eq!(rx.take_batch(&mut out, 100, LONG, |_| 1), Ok((2, 2)));
        assert_eq!(out, [99, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn sleeping_receivers_are_woken_by_a_send_and_by_the_end() {
        let (tx, rx) = queue::<u32>();
        let waiters: Vec<_> = (0..3)
            .map(|k| {
                let rx = rx.clone();
                thread::spawn(move || match k {
                    0 => rx.recv(),
                    1 => rx.recv_timeout(LONG).ok(),
                    _ => rx.wait_ready(LONG).then_some(0),
                })
            })
            .collect();
        // Let them fall asleep (not needed for correctness: a send before
        // a wait is found by it).
        thread::sleep(Duration::from_millis(50));
        tx.send(7);
        drop(tx); // wakes whoever is still asleep
        let got: Vec<_> = waiters
            .into_iter()
            .map(|w| w.join().expect("waiter"))
            .collect();
        // The 7 went to a taker, or a wait_ready saw it and left it queued.
        let taken = got[..2].iter().filter(|g| **g == Some(7)).count();
        assert_eq!(taken + rx.len(), 1, "{got:?}");
        assert_eq!(
            got[2],
            Some(0),
            "the ready-waiter returns ready (item or end)"
        );
    }

    /// A receiver only looking (`wait_ready`, as a consumer's helper
    /// thread does) does not take the one wakeup a send gives a
    /// receiver waiting to take it.
    #[test]
    fn a_waiter_that_only_looks_does_not_swallow_a_takers_wakeup() {
        let (tx, rx) = queue::<u32>();
        let watcher = {
            let rx = rx.clone();
            thread::spawn(move || rx.wait_ready(LONG))
        };
        // The watcher asleep first, so that it would be the one woken.
        while rx.0.lock().watchers == 0 {
            thread::yield_now();
        }
        let (got_tx, got) = std::sync::mpsc::channel();
        let taker = {
            let rx = rx.clone();
            thread::spawn(move || got_tx.send(rx.recv()).expect("the test waits"))
        };
        while rx.0.lock().takers == 0 {
            thread::yield_now();
        }
        tx.send(7);
        assert!(watcher.join().expect("watcher"));
        let taken = got.recv_timeout(Duration::from_secs(10));
        drop(tx); // (ends the taker's wait if it slept through the send)
        taker.join().expect("taker");
        assert_eq!(taken, Ok(Some(7)), "the taker slept through the send");
    }

    /// A receiver only looking returns once an item was sent during its
    /// wait even when another receiver took it first, as the channel's
    /// `Select` did ("it may still find nothing if another receiver took
    /// the event first"): a wait_ready that slept on could leave an
    /// asyncio consumer waiting out its whole slice while the events it
    /// waits for sit in the binding's shared batch (`Pull::pending`).
    #[test]
    fn a_waiter_that_only_looks_returns_for_an_item_another_took_first() {
        for round in 0..20 {
            let (tx, rx) = queue::<u32>();
            let (done_tx, done) = std::sync::mpsc::channel();
            let watcher = {
                let rx = rx.clone();
                thread::spawn(move || done_tx.send(rx.wait_ready(LONG)).expect("the test waits"))
            };
            while rx.0.lock().watchers == 0 {
                thread::yield_now();
            }
            // Sent and taken at once: the woken watcher finds it gone.
            tx.send(7);
            assert_eq!(rx.try_recv(), Ok(7));
            let ready = done.recv_timeout(Duration::from_secs(10));
            drop(tx); // (ends the watcher's wait if it slept through the send)
            watcher.join().expect("watcher");
            assert_eq!(
                ready,
                Ok(true),
                "round {round}: the watcher slept through the send"
            );
        }
    }

    /// Several senders and several receivers of every kind: each item is
    /// taken exactly once and no receiver sleeps through a send (a lost
    /// wakeup would show as a receiver stuck until the end of the queue
    /// while items wait, and the run would not finish its count in time).
    #[test]
    fn many_senders_and_receivers_take_each_item_once() {
        const SENDERS: usize = 4;
        const EACH: usize = 50_000;
        let (tx, rx) = queue::<usize>();
        let seen: Arc<Vec<AtomicUsize>> =
            Arc::new((0..SENDERS * EACH).map(|_| AtomicUsize::new(0)).collect());
        let receivers: Vec<_> = (0..4)
            .map(|kind| {
                let rx = rx.clone();
                let seen = seen.clone();
                thread::spawn(move || {
                    let mut batch = Vec::new();
                    loop {
                        let got: Vec<usize> = match kind {
                            0 => match rx.recv() {
                                Some(i) => vec![i],
                                None => return,
                            },
                            1 => match rx.recv_timeout(Duration::from_millis(1)) {
                                Ok(i) => vec![i],
                                Err(RecvTimeoutError::Timeout) => continue,
                                Err(RecvTimeoutError::Disconnected) => return,
                            },
                            2 => match rx.take_batch(&mut batch, 64, LONG, |_| 0) {
                                Ok(_) => std::mem::take(&mut batch),
                                Err(_) => return,
                            },
                            _ => {
                                if !rx.wait_ready(LONG) {
                                    continue;
                                }
                                match rx.try_recv() {
                                    Ok(i) => vec![i],
                                    Err(TryRecvError::Empty) => continue,
                                    Err(TryRecvError::Disconnected) => return,
                                }
                            }
                        };
                        for i in got {
                            seen[i].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        tx.send(s * EACH + i);
                        if i % 1000 == 0 {
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for s in senders {
            s.join().expect("sender");
        }
        for r in receivers {
            r.join().expect("receiver");
        }
        let wrong: Vec<_> = (0..SENDERS * EACH)
            .filter(|&i| seen[i].load(Ordering::Relaxed) != 1)
            .take(5)
            .collect();
        assert!(wrong.is_empty(), "items not taken exactly once: {wrong:?}");
        assert_eq!(rx.len(), 0);
    }

    #[test]
    fn a_queue_gives_back_the_room_of_a_burst_as_it_drains() {
        let (tx, rx) = queue::<[u8; 64]>();
        for _ in 0..100_000 {
            tx.send([0; 64]);
        }
        let cap = |rx: &Receiver<[u8; 64]>| rx.0.lock().items.capacity();
        assert!(cap(&rx) >= 100_000);
        let mut out = Vec::new();
        let mut shrunk = 0;
        while rx.len() > 10 {
            let before = cap(&rx);
            let n = (rx.len() - 10).min(1000);
            rx.take_batch(&mut out, n, LONG, |_| 0).expect("batch");
            out.clear();
            // Never more than four times what it holds (and some room).
            let (room, len) = (cap(&rx), rx.len());
            assert!(
                room <= (4 * len + 4).max(KEEP_ROOM),
                "{room} slots for {len} items"
            );
            shrunk += usize::from(room < before);
        }
        assert!(shrunk <= 8, "shrunk {shrunk} times: not geometric");
        // A few items left waiting: their ring is small already.
        assert!(
            cap(&rx) <= KEEP_ROOM,
            "kept {} slots for 10 items",
            cap(&rx)
        );
        tx.send([0; 64]);
        while rx.try_recv().is_ok() {}
        assert!(cap(&rx) <= KEEP_ROOM, "kept {} slots", cap(&rx));
    }

    /// A receiver only looking (`Events::wait_ready`, on a consumer's
    /// helper thread) on an empty queue is woken by the end — the last
    /// sender dropped, as when the server stops — and not left asleep for
    /// its whole timeout (for ever with no limit). In the test above a
    /// send wakes it first, so the end's own wakeup went untested.
    #[test]
    fn review_mu3_a_waiter_that_only_looks_is_woken_by_the_end() {
        let (tx, rx) = queue::<u32>();
        let tx2 = tx.clone();
        let (done_tx, done) = std::sync::mpsc::channel();
        {
            let rx = rx.clone();
            // No limit: only a wakeup ends this wait. (Left behind if the
            // test fails: nothing else would end it.)
            thread::spawn(move || done_tx.send(rx.wait_ready(Duration::MAX)));
        }
        while rx.0.lock().watchers == 0 {
            thread::yield_now();
        }
        drop(tx); // not the last sender: no wakeup due
        drop(tx2); // the end
        assert_eq!(
            done.recv_timeout(Duration::from_secs(20)),
            Ok(true),
            "the end did not wake a receiver waiting only to look"
        );
    }

    /// A shrink leaves room for twice what the queue holds (`KEEP_ROOM`'s
    /// "shrunk to twice what it holds"), not just for what it holds: a
    /// ring shrunk to its length would be grown again by the next send,
    /// and a consumer keeping a few thousand events waiting would make
    /// the sender reallocate and copy them over and over.
    #[test]
    fn review_mu3_a_shrink_leaves_room_for_twice_what_is_held() {
        let (tx, rx) = queue::<u32>();
        for i in 0..100_000 {
            tx.send(i);
        }
        let cap = |rx: &Receiver<u32>| rx.0.lock().items.capacity();
        let mut out = Vec::new();
        let mut shrinks = 0;
        while rx.len() > 10 {
            let before = cap(&rx);
            let n = (rx.len() - 10).min(1000);
            rx.take_batch(&mut out, n, LONG, |_| 0).expect("batch");
            let (room, len) = (cap(&rx), rx.len());
            if room < before {
                shrinks += 1;
                assert!(
                    room >= (2 * len).max(KEEP_ROOM),
                    "shrunk to {room} slots for {len} items"
                );
            }
        }
        assert!(shrinks > 0, "never shrunk");
        // Taken in order: nothing lost or reordered by the shrinks.
        assert_eq!(out, (0..99_990).collect::<Vec<_>>());
        drop(tx);
    }
}

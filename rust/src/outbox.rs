//! The sending side of a bounded pull-mode event queue, for an I/O thread
//! that must never block: what does not fit waits in a local backlog, in
//! order, and the thread stops reading its sockets while the backlog is not
//! empty (so the backlog holds at most one read's worth of events), asleep
//! until the receiving side has emptied half the queue and wakes it. The
//! queue is bounded by its capacity in events and by the bytes its items
//! hold ([`Weigh`]; the receiving side gives back what it takes). Both
//! bounds are counted here ([`QueueLoad`]) over an unbounded queue
//! ([`queue`](crate::queue)), which takes memory as events arrive: a
//! preallocated one would allocate (and touch) room for its whole capacity
//! at once — megabytes per server and per client by default, used or not.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::input_gate::LoopGate;
use crate::queue::Sender;
use crate::shared::EVENT_QUEUE_BYTES;

/// The events and bytes in a queue, on a cache line of their own: the loops
/// add to them and the consumer subtracts from them for every event.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct QueueLoad {
    events: AtomicUsize,
    bytes: AtomicUsize,
    /// Most events the queue holds (`event_capacity`).
    capacity: usize,
    /// Set by a sender that found no room and stopped reading its sockets:
    /// the receiving side wakes the senders once the queue is half empty,
    /// so a stalled I/O thread sleeps instead of polling for room.
    stalled: AtomicBool,
    /// The senders' I/O threads, to wake when `stalled` clears.
    wakers: Vec<Arc<crate::wake::Wake>>,
    /// Items waiting for room in all the senders' backlogs together: the
    /// server's accepting loop holds back new clients while too many do,
    /// wherever they wait (see [`held_back`](QueueLoad::held_back)).
    waiting: AtomicUsize,
    /// The limit of a sender holding back until no more than that many
    /// items wait (0: nobody): whoever brings `waiting` down to it wakes
    /// the senders, since the one holding back may have no backlog of its
    /// own to drain and nothing else to wake it.
    held_at: AtomicUsize,
    /// Whether the application holds events it took and has not called for
    /// more since (odd), bumped at each change so that a loop looking twice
    /// can tell one long hold from many short ones (see
    /// [`holding`](QueueLoad::holding)).
    taking: AtomicU64,
}

impl QueueLoad {
    /// An empty queue's count, for at most `capacity` events, filled by the
    /// I/O threads `wakers` wake.
    pub fn new(capacity: usize, wakers: Vec<Arc<crate::wake::Wake>>) -> QueueLoad {
        QueueLoad {
            events: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            capacity,
            stalled: AtomicBool::new(false),
            wakers,
            waiting: AtomicUsize::new(0),
            held_at: AtomicUsize::new(0),
            taking: AtomicU64::new(0),
        }
    }

    /// The application took events (and will work on them before it calls
    /// for more): it holds them from now.
    #[inline]
    pub fn took(&self) {
        self.step_from(0);
    }

    /// The application calls for events: done with what it took before.
    #[inline]
    pub fn back(&self) {
        self.step_from(1);
    }

    /// Moves `taking` on by one if its parity is `parity`. (Several
    /// consumers: one that lost the race finds it moved already, as it
    /// would have moved it.)
    #[inline]
    fn step_from(&self, parity: u64) {
        let v = self.taking.load(Ordering::Relaxed);
        if v & 1 == parity {
            let _ = self
                .taking
                .compare_exchange(v, v + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Which hold the application is in (`None`: it holds nothing taken, or
    /// it is calling for events): the same value at two looks means it has
    /// not called for events in between. With several threads taking
    /// events, a call by any of them ends the hold.
    pub fn holding(&self) -> Option<u64> {
        let v = self.taking.load(Ordering::Relaxed);
        (v & 1 == 1).then_some(v)
    }

    /// Whether more than `limit` (> 0) items wait for room in the senders'
    /// backlogs, all senders together. While so, the caller is woken (with
    /// every sender) once no more than `limit` do.
    pub fn held_back(&self, limit: usize) -> bool {
        debug_assert!(limit > 0, "0 means nobody holds back");
        // SeqCst with `backlog_shrank`: either the second look sees the
        // backlogs shorter, or the sender that shortened them sees
        // `held_at` and wakes us.
        if self.waiting.load(Ordering::SeqCst) <= limit {
            return false;
        }
        self.held_at.store(limit, Ordering::SeqCst);
        self.waiting.load(Ordering::SeqCst) > limit
    }

    fn backlog_grew(&self, n: usize) {
        self.waiting.fetch_add(n, Ordering::SeqCst);
    }

    fn backlog_shrank(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.waiting.fetch_sub(n, Ordering::SeqCst) - n;
        let at = self.held_at.load(Ordering::SeqCst);
        if at != 0 && now <= at && self.held_at.swap(0, Ordering::SeqCst) != 0 {
            for w in &self.wakers {
                let _ = w.wake();
            }
        }
    }

    /// Counts one more event of `n` bytes, unless the queue is full: it
    /// holds `capacity` events, or that would take a queue holding some
    /// bytes past [`EVENT_QUEUE_BYTES`] (so any one item fits an empty
    /// queue).
    fn reserve(&self, n: usize) -> bool {
        // SeqCst here and in `stall`/`sub`: a sender that sets `stalled`
        // and then finds no room, and a receiver that makes room and then
        // finds `stalled` clear, cannot both happen (no lost wakeup).
        // A try that finds no room leaves both counts as they were: had it
        // counted itself for a moment, a receiver taking the last events
        // meanwhile would see a queue fuller than it is and wake nobody.
        let bytes_fit = |b: usize| (b == 0 || b + n <= EVENT_QUEUE_BYTES).then_some(b + n);
        if n > 0
            && self
                .bytes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, bytes_fit)
                .is_err()
        {
            return false;
        }
        let capacity = self.capacity;
        let one_more = |e: usize| (e < capacity).then_some(e + 1);
        if self
            .events
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, one_more)
            .is_err()
        {
            // The bytes counted this one for a moment: give them back as a
            // receiver does, waking the stalled senders if one missed that
            // there was room (the count was full then, so there is room
            // now only if receivers took events meanwhile).
            self.sub(0, n);
            return false;
        }
        true
    }

    fn give_back(&self, events: usize, bytes: usize) {
        if events > 0 {
            self.events.fetch_sub(events, Ordering::SeqCst);
        }
        if bytes > 0 {
            self.bytes.fetch_sub(bytes, Ordering::SeqCst);
        }
    }

    /// Gives back `events` events holding `bytes` bytes taken out of the
    /// queue, and wakes stalled senders once it is half empty.
    pub fn sub(&self, events: usize, bytes: usize) {
        self.give_back(events, bytes);
        if self.stalled.load(Ordering::SeqCst)
            && self.events.load(Ordering::SeqCst) <= self.capacity / 2
            && self.bytes.load(Ordering::SeqCst) <= EVENT_QUEUE_BYTES / 2
            && self.stalled.swap(false, Ordering::SeqCst)
        {
            for w in &self.wakers {
                let _ = w.wake();
            }
        }
    }

    /// Marks a sender as waiting for room (see `stalled`); it must try once
    /// more afterwards, in case the room came just before.
    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

/// Bytes an item holds, for the queue's byte bound: its message's bytes
/// plus [`slot_cost`] (so many tiny messages are bounded too).
pub(crate) trait Weigh: Sized {
    /// Bytes of the message the item carries (0 for other kinds).
    fn message_len(&self) -> usize;

    /// Whether the item is input a closed gate drops (see
    /// [`Outbox::with_gate`]): a message, not a connect or disconnect.
    fn is_input(&self) -> bool {
        false
    }

    fn weight(&self) -> usize {
        slot_cost::<Self>() + self.message_len()
    }
}

/// Memory an item of type `T` takes in a queue besides its message's bytes:
/// the item in the queue's ring buffer and as much again of the ring's
/// spare room (it doubles as it grows), and the allocator's header and
/// rounding for its message. A one-byte message takes about 180 bytes in
/// the server's queue: counting only its byte, 4 Mi of them took ~450 MiB
/// under a 64 MiB bound.
pub(crate) const fn slot_cost<T>() -> usize {
    2 * std::mem::size_of::<T>() + 32
}

/// A queue's sender plus the backlog in front of it.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    /// `None` in callback mode: nothing is queued.
    tx: Option<Sender<T>>,
    /// Items that did not fit, oldest first.
    backlog: VecDeque<T>,
    /// Events and bytes in the queue, shared by every sender and the
    /// receivers: the queue's bounds.
    load: Arc<QueueLoad>,
    /// While this reads false, waiting input is dropped rather than moved
    /// into the queue (`with_gate`).
    gate: Option<LoopGate>,
}

impl<T: Weigh> Outbox<T> {
    pub fn new(tx: Option<Sender<T>>, load: Arc<QueueLoad>) -> Outbox<T> {
        Outbox {
            tx,
            backlog: VecDeque::new(),
            load,
            gate: None,
        }
    }

    /// Once `gate` reads false (the server's `reading`, cleared by
    /// `stop_input()` and `stop()`), input items ([`Weigh::is_input`])
    /// waiting for room are dropped, not queued: each item's move from the
    /// backlog into the queue looks, so none slips in between the flag's
    /// change and the loop's handling of it; and the loop is marked as
    /// handing out while it moves, so `stop_input()` waits for a move that
    /// has just looked (see `input_gate.rs`). Items pushed while the
    /// backlog is empty go straight in: the caller stops making input
    /// items once the gate is closed (and marks its own push).
    pub fn with_gate(mut self, gate: LoopGate) -> Outbox<T> {
        self.gate = Some(gate);
        self
    }

    /// Sends `item` if the queue has room for it (count and bytes).
    fn try_put(tx: &Sender<T>, load: &QueueLoad, item: T) -> Result<(), T> {
        let w = item.weight();
        if !load.reserve(w) {
            return Err(item);
        }
        tx.send(item);
        Ok(())
    }

    /// Whether there is a queue at all (pull mode).
    pub fn is_active(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether items are waiting for room: the caller should stop reading.
    pub fn blocked(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Whether more than `limit` items wait for room in the backlogs of
    /// all the queue's senders together; see [`QueueLoad::held_back`].
    pub fn held_back(&self, limit: usize) -> bool {
        self.load.held_back(limit)
    }

    /// Queues `item` behind anything already waiting; never blocks. Dropped
    /// when there is no queue (callback mode).
    pub fn push(&mut self, item: T) {
        let Some(tx) = &self.tx else { return };
        if !self.backlog.is_empty() {
            self.backlog.push_back(item);
            self.load.backlog_grew(1);
            return;
        }
        if let Err(item) = Self::try_put(tx, &self.load, item) {
            self.backlog.push_back(item);
            self.load.backlog_grew(1);
            self.load.stall();
            self.move_what_fits();
        }
    }

    /// As [`push`](Outbox::push), but while items wait for room an `item`
    /// that `supersedes` the last of them takes its place instead: nobody
    /// has seen that one yet, and what happens while the consumer does not
    /// read (e.g. a client's reconnect attempts) must not pile up.
    pub fn push_superseding(&mut self, item: T, supersedes: impl Fn(&T) -> bool) {
        match self.backlog.back_mut() {
            Some(last) if self.tx.is_some() && supersedes(last) => *last = item,
            _ => self.push(item),
        }
    }

    /// Moves waiting items into the queue as room allows. While some are
    /// left, the receiving side wakes this thread when room comes.
    pub fn drain(&mut self) {
        if !self.move_what_fits() {
            self.load.stall();
            self.move_what_fits();
        }
    }

    /// Moves waiting items into the queue as room allows; whether none is left.
    fn move_what_fits(&mut self) -> bool {
        if self.backlog.is_empty() {
            return true;
        }
        // Marked while it moves (`input_gate.rs`); each look after the mark.
        let _pass = self.gate.as_ref().map(LoopGate::hold);
        let closed = |gate: &Option<LoopGate>| gate.as_ref().is_some_and(|g| !g.is_open());
        if closed(&self.gate) {
            // All at once, room or not: what waits counts against accepting.
            let before = self.backlog.len();
            self.backlog.retain(|item| !item.is_input());
            self.load.backlog_shrank(before - self.backlog.len());
        }
        let Some(tx) = &self.tx else { return true };
        let mut moved = 0;
        let mut all = true;
        while let Some(item) = self.backlog.pop_front() {
            // (Looked at for each item: a move under way when the gate
            // closes goes on for as long as the consumer makes room.)
            if item.is_input() && closed(&self.gate) {
                moved += 1; // dropped: out of the backlog all the same
                continue;
            }
            if let Err(item) = Self::try_put(tx, &self.load, item) {
                self.backlog.push_front(item);
                all = false;
                break;
            }
            moved += 1;
        }
        self.load.backlog_shrank(moved);
        all
    }

    /// At the end of the I/O thread: moves what fits into the queue and
    /// hands the rest to `leftovers`, which the receiving side yields after
    /// the queue. Never waits: the consumer may be the very thread that is
    /// joining this one.
    pub fn hand_over(&mut self, leftovers: &Mutex<VecDeque<T>>) {
        self.drain();
        if !self.backlog.is_empty() {
            self.load.backlog_shrank(self.backlog.len());
            leftovers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(self.backlog.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input_gate::Passing;
    use std::time::Duration;

    /// An event said to carry a message of this many bytes.
    #[derive(Debug)]
    struct Item(usize);

    impl Weigh for Item {
        fn message_len(&self) -> usize {
            self.0
        }

        fn is_input(&self) -> bool {
            self.0 > 0
        }
    }

    /// A `QueueLoad` for `capacity` events whose one waker wakes the poll.
    fn watched_load(capacity: usize) -> (mio::Poll, Arc<QueueLoad>) {
        let poll = mio::Poll::new().expect("poll");
        let waker = Arc::new(crate::wake::Wake::new(
            mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"),
        ));
        (poll, Arc::new(QueueLoad::new(capacity, vec![waker])))
    }

    /// Whether the load's waker woke the poll (a look without a wait).
    fn woken(poll: &mut mio::Poll) -> bool {
        let mut events = mio::Events::with_capacity(8);
        poll.poll(&mut events, Some(Duration::ZERO)).expect("poll");
        !events.is_empty()
    }

    /// An item `weight`ed (as each is when put into the queue) notes
    /// whether its loop was marked as handing out then.
    #[derive(Debug)]
    struct Watched(Arc<Mutex<Option<LoopGate>>>, Arc<Mutex<Vec<bool>>>);

    impl Weigh for Watched {
        fn message_len(&self) -> usize {
            if let Some(g) = &*self.0.lock().unwrap() {
                self.1.lock().unwrap().push(g.marked());
            }
            1
        }

        fn is_input(&self) -> bool {
            true
        }
    }

    /// A move from the backlog into the queue is marked for
    /// `stop_input()` to wait on (`input_gate.rs`) from before its look at
    /// the gate until its put, and the mark is let go after: without it a
    /// move that had looked could put a message after `stop_input()`
    /// returned (a window of a few instructions no integration test hit).
    #[test]
    fn a_move_from_the_backlog_is_marked_while_it_looks_and_puts() {
        let (_poll, load) = watched_load(1);
        let (tx, rx) = crate::queue::queue::<Watched>();
        let marks: Arc<[Passing]> = Arc::new([Passing::default()]);
        let gate = LoopGate::new(Arc::new(AtomicBool::new(true)), marks, 0);
        let mut outbox = Outbox::new(Some(tx), load.clone()).with_gate(gate.clone());
        let (watching, seen) = (Arc::new(Mutex::new(None)), Arc::default());
        for _ in 0..3 {
            outbox.push(Watched(watching.clone(), Arc::clone(&seen)));
        }
        assert!(outbox.blocked(), "two wait for room");
        let first = rx.recv_timeout(Duration::from_secs(10)).expect("an item");
        load.sub(1, first.weight());
        *watching.lock().unwrap() = Some(gate.clone());
        outbox.drain();
        let seen = seen.lock().unwrap();
        assert!(
            !seen.is_empty() && seen.iter().all(|&m| m),
            "put while marked: {seen:?}"
        );
        assert!(!gate.marked(), "let go after the move");
        assert!(outbox.blocked(), "one still waits");
    }

    /// Once the gate is closed (`stop_input()`), the input waiting for room
    /// is dropped at the next move, the rest keeps its order, and the
    /// backlog's count goes down with it.
    #[test]
    fn a_closed_gate_drops_waiting_input_and_keeps_the_rest() {
        let (_poll, load) = watched_load(1);
        let (tx, rx) = crate::queue::queue::<Item>();
        let gate = Arc::new(AtomicBool::new(true));
        let marks: Arc<[Passing]> = Arc::new([Passing::default()]);
        let mut outbox =
            Outbox::new(Some(tx), load.clone()).with_gate(LoopGate::new(gate.clone(), marks, 0));
        for item in [Item(0), Item(5), Item(0), Item(7), Item(0)] {
            outbox.push(item);
        }
        assert!(outbox.held_back(3), "four wait for room");
        gate.store(false, Ordering::SeqCst);
        let mut got = Vec::new();
        while got.len() < 3 {
            let item = rx.recv_timeout(Duration::from_secs(10)).expect("an item");
            load.sub(1, item.weight());
            got.push(item.0);
            outbox.drain();
        }
        assert_eq!(got, [0, 0, 0], "the messages were dropped");
        assert!(!outbox.blocked());
        assert_eq!(load.waiting.load(Ordering::SeqCst), 0, "the backlog count");
        assert!(rx.try_recv().is_err());
    }

    /// A sender whose last try for room fails just as the consumer takes
    /// the last event must still be woken: its failed try counted itself
    /// in the queue for a moment, and the consumer, seeing that count, must
    /// not be the only one to decide whether there is room.
    #[test]
    fn a_stalled_sender_is_woken_even_when_its_failed_try_overlaps_the_last_take() {
        const ITEMS: usize = 100_000;
        let (mut poll, load) = watched_load(1);
        let (tx, rx) = crate::queue::queue::<Item>();
        let consumer = {
            let load = load.clone();
            std::thread::spawn(move || {
                for i in 0..ITEMS {
                    let item = rx
                        .recv_timeout(Duration::from_secs(10))
                        .unwrap_or_else(|_| panic!("item {i} never came: the sender sleeps"));
                    load.sub(1, item.weight());
                }
            })
        };
        let mut outbox = Outbox::new(Some(tx), load);
        let mut events = mio::Events::with_capacity(8);
        for _ in 0..ITEMS {
            outbox.push(Item(0));
            while outbox.blocked() {
                poll.poll(&mut events, Some(Duration::from_secs(10)))
                    .expect("poll");
                assert!(
                    !events.is_empty() || !outbox.blocked(),
                    "a stalled sender was never woken"
                );
                outbox.drain();
            }
        }
        consumer.join().expect("consumer");
    }

    /// Review mt: a caller held back by more than `limit` items waiting in
    /// the senders' backlogs is woken once no more than `limit` wait, not
    /// before (each backlog's shrinking looks).
    #[test]
    fn review_mt_one_held_back_is_woken_once_no_more_than_its_limit_wait() {
        let (mut poll, load) = watched_load(1);
        load.backlog_grew(7);
        assert!(!load.held_back(7), "7 wait: not more than 7");
        load.backlog_grew(3);
        assert!(load.held_back(7), "10 wait");
        load.backlog_shrank(1);
        load.backlog_shrank(1);
        assert!(!woken(&mut poll), "woken with 8 waiting");
        load.backlog_shrank(1);
        assert!(woken(&mut poll), "not woken with 7 waiting");
        assert!(!load.held_back(7));
    }

    /// Review mt: while items wait for room, an item superseding the last
    /// of them (a client's `Reconnecting` after another) takes its place,
    /// and only then: one that does not supersede it (a `Reconnecting`
    /// after a `Disconnected` or a message) queues behind it, so the
    /// consumer still gets every item before it, in order.
    #[test]
    fn review_mt_only_a_superseding_item_takes_the_place_of_the_last_waiting() {
        let (_poll, load) = watched_load(1);
        let (tx, rx) = crate::queue::queue::<Item>();
        let mut outbox = Outbox::new(Some(tx), load.clone());
        // Items of 100 bytes or more stand for `Reconnecting` here.
        let supersedes = |last: &Item| last.0 >= 100;
        outbox.push_superseding(Item(1), supersedes); // queued
        outbox.push_superseding(Item(2), supersedes); // waits
        outbox.push_superseding(Item(100), supersedes); // waits behind it
        outbox.push_superseding(Item(101), supersedes); // takes 100's place
        outbox.push(Item(3));
        outbox.push_superseding(Item(102), supersedes); // 3 is no `Reconnecting`
        let mut got = Vec::new();
        while let Ok(item) = rx.try_recv() {
            load.sub(1, item.weight());
            got.push(item.0);
            outbox.drain();
        }
        assert_eq!(got, [1, 2, 101, 3, 102]);
        assert!(!outbox.blocked());
    }

    /// Review mt: a stalled sender sleeps until the receiving side has
    /// emptied half the queue, by its count of events and by its bytes
    /// alike, and is woken then: not at the first event taken, nor only
    /// once the queue is empty.
    #[test]
    fn review_mt_a_stalled_sender_is_woken_once_half_the_queue_is_taken() {
        const MIB: usize = 1024 * 1024;
        // By count: 4 events fit, a fifth waits.
        let (mut poll, load) = watched_load(4);
        let (tx, rx) = crate::queue::queue::<Item>();
        let mut outbox = Outbox::new(Some(tx), load.clone());
        for _ in 0..5 {
            outbox.push(Item(0));
        }
        assert!(outbox.blocked());
        assert!(!woken(&mut poll), "woken though nothing was taken");
        let take = || load.sub(1, rx.try_recv().expect("an event").weight());
        take(); // 3 of 4 left
        assert!(
            !woken(&mut poll),
            "woken with more than half the queue left"
        );
        take(); // 2 of 4 left
        assert!(woken(&mut poll), "not woken once half the queue was taken");
        outbox.drain();
        assert!(!outbox.blocked());

        // By bytes: 10 + 30 + 20 MiB fit, 10 more wait (past 64 MiB).
        let (mut poll, load) = watched_load(16);
        let (tx, rx) = crate::queue::queue::<Item>();
        let mut outbox = Outbox::new(Some(tx), load.clone());
        for size in [10 * MIB, 30 * MIB, 20 * MIB, 10 * MIB] {
            outbox.push(Item(size));
        }
        assert!(outbox.blocked());
        let take = || load.sub(1, rx.try_recv().expect("an event").weight());
        take(); // 50 MiB left: more than half of the bytes
        assert!(
            !woken(&mut poll),
            "woken with more than half the bytes left"
        );
        take(); // 20 MiB left
        assert!(woken(&mut poll), "not woken once half the bytes were taken");
        outbox.drain();
        assert!(!outbox.blocked());
    }

    /// A message too big for what the queue holds (a large `max_len`) is
    /// waited for asleep: its failed tries wake no one, the sender
    /// included, until the application takes something.
    #[test]
    fn a_sender_waiting_for_room_for_a_big_message_sleeps() {
        const MIB: usize = 1024 * 1024;
        let (mut poll, load) = watched_load(16);
        let (tx, rx) = crate::queue::queue::<Item>();
        let mut outbox = Outbox::new(Some(tx), load.clone());
        outbox.push(Item(10 * MIB));
        outbox.push(Item(60 * MIB)); // 70 MiB would not fit: waits
        assert!(outbox.blocked());
        let mut events = mio::Events::with_capacity(8);
        for _ in 0..3 {
            outbox.drain();
            poll.poll(&mut events, Some(Duration::from_millis(50)))
                .expect("poll");
            assert!(events.is_empty(), "woken though nothing was taken");
        }
        let first = rx.try_recv().expect("the first message");
        load.sub(1, first.weight());
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .expect("poll");
        assert!(!events.is_empty(), "not woken once the queue was empty");
        outbox.drain();
        assert!(!outbox.blocked());
        assert_eq!(rx.try_recv().expect("the big message").0, 60 * MIB);
    }
}

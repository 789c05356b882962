//! The sending side of a bounded pull-mode event queue, for an I/O thread
//! that must never block: what does not fit waits in a local backlog, in
//! order, and the thread stops reading its sockets while the backlog is not
//! empty (so the backlog holds at most one read's worth of events). The
//! queue is bounded by its capacity in events and by the bytes its items
//! hold ([`Weigh`]; the receiving side subtracts what it takes).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Sender, TrySendError};

use crate::shared::EVENT_QUEUE_BYTES;

/// The bytes in a queue, on a cache line of its own: the loops add to it
/// and the consumer subtracts from it for every message.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct QueuedBytes(AtomicUsize);

impl QueuedBytes {
    /// Counts `n` more bytes, unless that takes a queue holding some past
    /// [`EVENT_QUEUE_BYTES`] (so any one item fits an empty queue).
    fn reserve(&self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let before = self.0.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > EVENT_QUEUE_BYTES {
            self.sub(n);
            return false;
        }
        true
    }

    /// Gives back `n` bytes taken out of the queue.
    pub fn sub(&self, n: usize) {
        if n > 0 {
            self.0.fetch_sub(n, Ordering::AcqRel);
        }
    }
}

/// Bytes an item holds, for the queue's byte bound.
pub(crate) trait Weigh {
    fn weight(&self) -> usize;
}

/// A bounded channel's sender plus the backlog in front of it.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    /// `None` in callback mode: nothing is queued.
    tx: Option<Sender<T>>,
    /// Items that did not fit, oldest first.
    backlog: VecDeque<T>,
    /// Bytes in the queue, shared by every sender and the receivers.
    bytes: Arc<QueuedBytes>,
}

impl<T: Weigh> Outbox<T> {
    pub fn new(tx: Option<Sender<T>>, bytes: Arc<QueuedBytes>) -> Outbox<T> {
        Outbox {
            tx,
            backlog: VecDeque::new(),
            bytes,
        }
    }

    /// Sends `item` if the queue has room for it (count and bytes).
    fn try_put(tx: &Sender<T>, bytes: &QueuedBytes, item: T) -> Result<(), T> {
        let w = item.weight();
        if !bytes.reserve(w) {
            return Err(item);
        }
        match tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => {
                bytes.sub(w);
                Ok(()) // nobody will take it: dropped
            }
            Err(TrySendError::Full(item)) => {
                bytes.sub(w);
                Err(item)
            }
        }
    }

    /// Whether there is a queue at all (pull mode).
    pub fn is_active(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether items are waiting for room: the caller should stop reading.
    pub fn blocked(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Queues `item` behind anything already waiting; never blocks. Dropped
    /// when there is no queue or its receivers are gone.
    pub fn push(&mut self, item: T) {
        let Some(tx) = &self.tx else { return };
        if !self.backlog.is_empty() {
            self.backlog.push_back(item);
            return;
        }
        if let Err(item) = Self::try_put(tx, &self.bytes, item) {
            self.backlog.push_back(item);
        }
    }

    /// Moves waiting items into the queue as room allows.
    pub fn drain(&mut self) {
        let Some(tx) = &self.tx else { return };
        while let Some(item) = self.backlog.pop_front() {
            // (With every receiver gone, `try_put` drops each item.)
            if let Err(item) = Self::try_put(tx, &self.bytes, item) {
                self.backlog.push_front(item);
                return;
            }
        }
    }

    /// At the end of the I/O thread: moves what fits into the queue and
    /// hands the rest to `leftovers`, which the receiving side yields after
    /// the queue. Never waits: the consumer may be the very thread that is
    /// joining this one.
    pub fn hand_over(&mut self, leftovers: &Mutex<VecDeque<T>>) {
        self.drain();
        if !self.backlog.is_empty() {
            leftovers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(self.backlog.drain(..));
        }
    }
}

//! The sending side of a bounded pull-mode event queue, for an I/O thread
//! that must never block: what does not fit waits in a local backlog, in
//! order, and the thread stops reading its sockets while the backlog is not
//! empty (so the backlog holds at most one read's worth of events).

use std::collections::VecDeque;
use std::sync::Mutex;

use crossbeam_channel::{Sender, TrySendError};

/// A bounded channel's sender plus the backlog in front of it.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    /// `None` in callback mode: nothing is queued.
    tx: Option<Sender<T>>,
    /// Items that did not fit, oldest first.
    backlog: VecDeque<T>,
}

impl<T> Outbox<T> {
    pub fn new(tx: Option<Sender<T>>) -> Outbox<T> {
        Outbox {
            tx,
            backlog: VecDeque::new(),
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
        match tx.try_send(item) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(item)) => self.backlog.push_back(item),
        }
    }

    /// Moves waiting items into the queue as room allows.
    pub fn drain(&mut self) {
        let Some(tx) = &self.tx else { return };
        while let Some(item) = self.backlog.pop_front() {
            match tx.try_send(item) {
                Ok(()) => {}
                Err(TrySendError::Full(item)) => {
                    self.backlog.push_front(item);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    return;
                }
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

//! `pause_client` with callbacks: the events of a paused client that wait
//! for the dispatcher thread are held back from the callbacks until
//! `resume_client`, as Rust's callback pause takes effect at once.
//!
//! The core stops reading a paused client when its loop gets the command,
//! but what it read before then is already queued for the dispatcher (with
//! one read of 64 KiB, hundreds of messages). The dispatcher keeps such
//! events aside (its `Stash`, one queue per held client) instead of calling
//! `on_message`, and hands them out, first and in order, once the client is
//! resumed. A callback among them that pauses the client again holds the
//! rest. The client's end (`Disconnected`: a reset while paused, a kick, the
//! stop) ends the hold: what is held goes out before it, through the same
//! skips as any event (a kicked client's messages, and any message after
//! the stop or `stop_input()`, are not handed out).
//!
//! [`Holds`] is shared by the dispatcher and the methods of the server
//! (`pause_client`/`resume_client`, any thread); the `Stash` is the
//! dispatcher's alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tcphub::Event;

/// How long the dispatcher waits for events at a time while it holds some:
/// a `resume_client` from another thread is noticed within this.
pub(crate) const HELD_WAIT: Duration = Duration::from_millis(10);

#[derive(Default)]
struct State {
    /// The clients whose `Connected` the dispatcher has handed out and
    /// whose `Disconnected` it has not (at most the clients connected,
    /// plus a stop's leftovers). Only these are held: a pause of a client
    /// whose end has gone out holds nothing (and leaves nothing behind).
    live: HashSet<u64>,
    /// The paused clients (among `live`).
    held: HashSet<u64>,
    /// Clients resumed since the dispatcher last looked, in order.
    resumed: Vec<u64>,
}

/// The clients paused and resumed, for the dispatcher.
#[derive(Default)]
pub(crate) struct Holds {
    state: Mutex<State>,
    /// Whether any client is held or resumed: the dispatcher's fast path
    /// takes no lock per event while none is.
    any: AtomicBool,
}

impl Holds {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_any(&self, s: &State) {
        let any = !s.held.is_empty() || !s.resumed.is_empty();
        self.any.store(any, Ordering::Release);
    }

    /// `pause_client(id)` succeeded: hold its events from now on.
    pub(crate) fn pause(&self, id: u64) {
        let mut s = self.lock();
        if s.live.contains(&id) && s.held.insert(id) {
            self.note_any(&s);
        }
    }

    /// `resume_client(id)`: hand out what is held of it.
    pub(crate) fn resume(&self, id: u64) {
        let mut s = self.lock();
        if s.held.remove(&id) {
            s.resumed.push(id);
            self.note_any(&s);
        }
    }

    /// The dispatcher hands out `id`'s `Connected`.
    pub(crate) fn connected(&self, id: u64) {
        self.lock().live.insert(id);
    }

    /// The dispatcher has `id`'s `Disconnected`: its hold ends.
    pub(crate) fn disconnected(&self, id: u64) {
        let mut s = self.lock();
        s.live.remove(&id);
        if s.held.remove(&id) {
            self.note_any(&s);
        }
    }

    /// Whether the dispatcher has handed out `id`'s `Connected` and not its
    /// `Disconnected`.
    pub(crate) fn is_live(&self, id: u64) -> bool {
        self.lock().live.contains(&id)
    }

    /// Whether `id` is held (the dispatcher, per message).
    fn is_held(&self, id: u64) -> bool {
        self.any.load(Ordering::Acquire) && self.lock().held.contains(&id)
    }

    /// The clients resumed since the last call, into `out`.
    fn take_resumed(&self, out: &mut Vec<u64>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.lock();
        out.append(&mut s.resumed);
        self.note_any(&s);
    }
}

/// The dispatcher's held events, per client, in the order taken.
#[derive(Default)]
pub(crate) struct Stash {
    queues: HashMap<u64, VecDeque<Event>>,
    /// Reused for [`Holds::take_resumed`].
    resumed: Vec<u64>,
}

impl Stash {
    /// Whether nothing is held (the dispatcher's waits can be long).
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Keeps `ev` aside if its client is held, or has events kept aside
    /// (resumed since, not yet handed out: they go first); otherwise gives
    /// it back, to be handed out now.
    pub(crate) fn keep(&mut self, holds: &Holds, ev: Event) -> Option<Event> {
        let Event::Message(c, _) = &ev else {
            return Some(ev);
        };
        let id = c.id;
        if !self.queues.is_empty() {
            if let Some(q) = self.queues.get_mut(&id) {
                q.push_back(ev);
                return None;
            }
        }
        if holds.is_held(id) {
            self.queues.entry(id).or_default().push_back(ev);
            return None;
        }
        Some(ev)
    }

    /// Hands out, with `deliver`, what is kept of the clients resumed since
    /// the last call, each client's in order, until it is paused again (by a
    /// callback among them).
    pub(crate) fn release_resumed(&mut self, holds: &Holds, mut deliver: impl FnMut(Event)) {
        holds.take_resumed(&mut self.resumed);
        let resumed = std::mem::take(&mut self.resumed);
        for &id in &resumed {
            self.release(holds, id, &mut deliver);
        }
        self.resumed = resumed;
        self.resumed.clear();
    }

    /// Hands out what is kept of `id` while it is not held.
    fn release(&mut self, holds: &Holds, id: u64, deliver: &mut impl FnMut(Event)) {
        while !holds.is_held(id) {
            let Some(q) = self.queues.get_mut(&id) else {
                return;
            };
            match q.pop_front() {
                Some(ev) => deliver(ev),
                None => {
                    self.queues.remove(&id);
                    return;
                }
            }
        }
    }

    /// `id` has ended (its `Disconnected` is next; its hold is over): hands
    /// out all that is kept of it.
    pub(crate) fn release_ended(&mut self, id: u64, mut deliver: impl FnMut(Event)) {
        if let Some(q) = self.queues.remove(&id) {
            q.into_iter().for_each(&mut deliver);
        }
    }

    /// The events stop: hands out everything kept, client by client.
    pub(crate) fn release_all(&mut self, mut deliver: impl FnMut(Event)) {
        for (_, q) in self.queues.drain() {
            q.into_iter().for_each(&mut deliver);
        }
    }
}

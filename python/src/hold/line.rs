//! [`Line`]: the events held while input is paused, in order, counted per
//! client (see the module above).

use std::collections::{HashMap, VecDeque};

use tcphub::Event;

/// Events held while input is paused, in order, with how many each client
/// has among them: whether a client has any is a look-up, not a pass over
/// them (`settle` asked it per owed client: with input paused, 65,536 events
/// held and 2,000 clients paused and resumed one by one, that pass took the
/// callback thread 20 s, under the holds' lock).
///
/// The messages of a client that ended skipped ([`drop_of`](Line::drop_of))
/// stay in `events` but count no more: each is dropped when its turn comes,
/// or by a pass over `events` once they are the most of it (a pass per
/// dropped half: linear in all). `events` always has an event counted, or
/// nothing.
#[derive(Default)]
pub(super) struct Line {
    events: VecDeque<Event>,
    count: HashMap<u64, usize>,
    /// The clients whose events in `events` are dropped, with how many.
    dropped: HashMap<u64, usize>,
    /// Their sum.
    dropped_total: usize,
}

impl Line {
    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub(super) fn has(&self, id: u64) -> bool {
        self.count.contains_key(&id)
    }

    pub(super) fn push_back(&mut self, ev: Event) {
        *self.count.entry(client_of(&ev)).or_default() += 1;
        self.events.push_back(ev);
    }

    pub(super) fn push_front(&mut self, ev: Event) {
        *self.count.entry(client_of(&ev)).or_default() += 1;
        self.events.push_front(ev);
    }

    /// The first event counted (dropping those before it).
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        loop {
            let ev = self.events.pop_front()?;
            let id = client_of(&ev);
            if let Some(n) = self.dropped.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    self.dropped.remove(&id);
                }
                self.dropped_total -= 1;
                continue;
            }
            self.uncount(id, 1);
            if self.count.is_empty() {
                self.purge(); // (only dropped ones left)
            }
            return Some(ev);
        }
    }

    pub(super) fn uncount(&mut self, id: u64, n: usize) {
        if let Some(c) = self.count.get_mut(&id) {
            *c -= n;
            if *c == 0 {
                self.count.remove(&id);
            }
        }
    }

    /// What it has of `id`, in order, out of it.
    pub(super) fn take_of(&mut self, id: u64) -> VecDeque<Event> {
        if !self.has(id) {
            return VecDeque::new();
        }
        self.purge(); // (first: while `id` is counted, its events stay)
        self.count.remove(&id);
        let (mine, others) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|ev| client_of(ev) == id);
        self.events = others;
        mine
    }

    /// Drops what it has of `id` (ended, its messages to be skipped),
    /// each in its turn, or with the others dropped (see [`Line`]).
    pub(super) fn drop_of(&mut self, id: u64) {
        let Some(n) = self.count.remove(&id) else {
            return;
        };
        *self.dropped.entry(id).or_default() += n;
        self.dropped_total += n;
        if self.count.is_empty() || self.dropped_total * 2 > self.events.len() {
            self.purge();
        }
    }

    /// Takes out the dropped events.
    pub(super) fn purge(&mut self) {
        if self.count.is_empty() {
            self.events.clear();
        } else if !self.dropped.is_empty() {
            let dropped = &self.dropped;
            self.events
                .retain(|ev| !dropped.contains_key(&client_of(ev)));
        }
        self.dropped.clear();
        self.dropped_total = 0;
    }

    /// Drops every message, keeping the rest (clients' ends) in order.
    pub(super) fn drop_messages(&mut self) {
        self.purge();
        self.events.retain(|ev| !matches!(ev, Event::Message(..)));
        self.count.clear();
        for ev in &self.events {
            *self.count.entry(client_of(ev)).or_default() += 1;
        }
    }

    /// The events counted, in order.
    pub(super) fn into_events(mut self) -> VecDeque<Event> {
        self.purge();
        self.events
    }
}

pub(super) fn client_of(ev: &Event) -> u64 {
    match ev {
        Event::Connected(c) | Event::Message(c, _) | Event::Disconnected(c, _) => c.id,
    }
}

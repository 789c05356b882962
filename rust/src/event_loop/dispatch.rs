//! How an [`EventLoop`](super::EventLoop) hands events to the application:
//! the callbacks, called on the loop thread (a panic caught and counted),
//! or the bounded pull queue, through an [`Outbox`] whose backlog pauses
//! reading while the queue is full.

use super::accept;
use crate::event::{Client, DisconnectReason, Event};
use crate::handle::ServerHandle;
use crate::input_gate::Pass;
use crate::outbox::Outbox;
use crate::shared::{self, Core};
use crate::stats::LoopCounters;

/// Delivers events to the application: callbacks, or the bounded pull queue
/// (through an [`Outbox`] that pauses reading while the queue is full).
pub(super) struct Dispatch {
    pub(super) handle: ServerHandle,
    pub(super) outbox: Outbox<Event>,
    /// Kicks this loop's callbacks have posted to it (shared with the
    /// thread's `LocalLoop`): the read path asks `shared::done_here`
    /// only when it moved.
    pub(super) kicks: std::rc::Rc<std::cell::Cell<u64>>,
    /// The loop's index: its mark in `Core::passing`.
    pub(super) idx: usize,
}

impl Dispatch {
    fn core(&self) -> &Core {
        self.handle.core()
    }

    pub(super) fn blocked(&self) -> bool {
        self.outbox.blocked()
    }

    /// Pull mode: whether so many events wait for room in the queue, in
    /// the backlogs of all the loops together, that new clients are not
    /// accepted (see `accept::ACCEPT_PAUSE_BACKLOG`). While so, this loop
    /// is woken once they are few enough (the backlogs may be other
    /// loops', with nothing of its own to wake it).
    pub(super) fn full_for_new_clients(&self) -> bool {
        self.outbox.held_back(accept::ACCEPT_PAUSE_BACKLOG)
    }

    pub(super) fn push(&mut self, ev: Event) {
        self.outbox.push(ev);
    }

    /// Moves backlog into the queue as room allows; after `stop_input()`
    /// the messages in it are dropped instead (the outbox's gate).
    pub(super) fn drain_backlog(&mut self) {
        self.outbox.drain();
    }

    /// Runs callback `what` for `client`; a panic is caught, counted and
    /// logged, naming the client (review lg).
    pub(super) fn guarded(
        &self,
        counters: &LoopCounters,
        what: &str,
        client: &Client,
        f: impl FnOnce(),
    ) {
        if shared::call_guarded(f) {
            LoopCounters::add(&counters.callback_panics, 1);
            log::error!(
                "tcphub: the {what} callback for client {client} panicked; the server keeps running"
            );
        }
    }

    pub(super) fn connected(&mut self, counters: &LoopCounters, client: &Client) {
        match &self.core().callbacks.on_connect {
            Some(cb) => self.guarded(counters, "on_connect", client, || cb(&self.handle, client)),
            None => self.push(Event::Connected(*client)),
        }
    }

    /// Hands out `msg`, which `pass` let past the input gate: the pass is
    /// dropped once the message is queued, or before `on_message` starts
    /// (a callback may call `stop_input()`, which waits for passes).
    pub(super) fn message(
        &mut self,
        counters: &LoopCounters,
        client: &Client,
        msg: &[u8],
        pass: Pass<'_>,
    ) {
        match &self.core().callbacks.on_message {
            Some(cb) => {
                drop(pass);
                // (Panics are caught inside `guarded`: the mark is cleared.)
                let speaker = self.handle.speaker.as_ref();
                if let Some(s) = speaker {
                    s.set(client.id);
                }
                self.guarded(counters, "on_message", client, || {
                    cb(&self.handle, client, msg)
                });
                if let Some(s) = speaker {
                    s.set(0);
                }
            }
            None => {
                self.push(Event::Message(*client, msg.to_vec()));
                drop(pass);
            }
        }
    }

    pub(super) fn disconnected(
        &mut self,
        counters: &LoopCounters,
        client: &Client,
        why: &DisconnectReason,
    ) {
        match &self.core().callbacks.on_disconnect {
            Some(cb) => self.guarded(counters, "on_disconnect", client, || {
                cb(&self.handle, client, why)
            }),
            None => self.push(Event::Disconnected(*client, why.clone())),
        }
    }
}

//! Pull mode's answer to a peer that finishes sending (end-of-stream, e.g.
//! `shutdown(SHUT_WR)` after a request): its `Disconnected` is reported at
//! once, in order after its last messages, but the connection stays open so
//! the replies the application makes to those messages still reach it. When
//! the application takes that event (`Command::Taken`) the linger time
//! starts again; its next call for events releases the connection at once
//! (`Command::Release`, both posted by `Events` through `Releases`). The
//! first linger time, from the end-of-stream, frees the connections of an
//! application that never takes its events (a peer that closed fully is
//! held the same way: TCP cannot tell the two apart until we write). With
//! callbacks there is nothing to wait for: they ran before the end-of-stream
//! was handled. With `hold_for_replies` set the hold is the application's,
//! in both modes: it ends at its `disconnect` (a `Kick`), or that long after
//! the report (pull mode: after the take, if later), not at its next call.

use std::time::{Duration, Instant};

use super::EventLoop;
use crate::event::{ClientId, DisconnectReason};
use crate::shared::deadline_after;
use crate::stats::LoopCounters;

impl EventLoop {
    /// Holds connection `t`, whose peer finished sending, open for replies
    /// and reports its `Disconnected` now.
    pub(super) fn hold(&mut self, t: usize, reason: DisconnectReason) {
        // With `hold_for_replies` in pull mode the window runs from the
        // take (`taken`); until then the stop, or the consumer, ends it
        // (the places held count toward `max_clients`).
        let deadline = match self.core.config.hold_for_replies {
            Some(_) if !self.core.callbacks.any() => deadline_after(Duration::MAX),
            _ => deadline_after(self.hold_time()),
        };
        let Some(conn) = self.conn_mut(t) else {
            return;
        };
        if conn.closing.is_some() || conn.held {
            return;
        }
        conn.held = true;
        let client = conn.client;
        self.held.insert(client.id, (t, deadline));
        self.held_due = self.held_due.min(deadline);
        // Gone as far as listing and counting go; `send` still reaches it.
        self.core.registry.hide(client.id);
        log::debug!("tcphub: client {client} finished sending: {reason}; held for replies");
        let counters = &self.core.counters[self.idx];
        // Counted now, with the report (`close` will not count it again).
        LoopCounters::add(&counters.disconnected, 1);
        self.dispatch.disconnected(counters, &client, &reason);
    }

    /// The application took client `id`'s `Disconnected`: it gets the
    /// linger time from now for its replies.
    pub(super) fn taken(&mut self, id: ClientId) {
        let later = deadline_after(self.hold_time());
        let own = self.core.config.hold_for_replies.is_some();
        if let Some((_, deadline)) = self.held.get_mut(&id) {
            // The default hold gets at least the linger time from the take;
            // one the application asked for gets its window from the take.
            *deadline = if own { later } else { (*deadline).max(later) };
            self.held_due = self.held_due.min(*deadline);
        }
    }

    /// A socket event on held connection `t`: its peer, done sending, may
    /// have reset it since (or keepalive found it gone). Nothing is left
    /// to read but the error: close it for that (its end was reported when
    /// it was held, so the close queues no event: `read` calls this even
    /// while reading is paused).
    pub(super) fn held_event(&mut self, t: usize) {
        let Some(conn) = self.conn_mut(t) else {
            return;
        };
        if let Ok(Some(err)) | Err(err) = conn.stream.take_error() {
            self.close(t, DisconnectReason::from_io(&err));
        }
    }

    /// How long a connection is held: `hold_for_replies`, else the linger
    /// time (from the end, then from the take).
    fn hold_time(&self) -> std::time::Duration {
        let config = &self.core.config;
        config.hold_for_replies.unwrap_or(config.linger)
    }

    /// The application asked for its next events, past client `id`'s
    /// `Disconnected`: that ends the default hold, not one it asked for
    /// with `hold_for_replies` (its `disconnect` ends that).
    pub(super) fn released(&mut self, id: ClientId) {
        if self.core.config.hold_for_replies.is_none() {
            self.release(id);
        }
    }

    /// Client `id`'s hold is over: close it once its queue is written.
    fn release(&mut self, id: ClientId) {
        let Some((t, _)) = self.held.remove(&id) else {
            return; // closed meanwhile (written out, failed, or the deadline)
        };
        let ours = self
            .conns
            .get(t)
            .and_then(|c| c.as_ref())
            .is_some_and(|c| c.client.id == id && c.held && c.closing.is_none());
        if ours {
            // (The reason only decides how the socket is shut: politely.)
            self.close_after_flush(t, DisconnectReason::ClosedByPeer);
        }
    }

    /// Releases held connections whose deadline has passed.
    pub(super) fn check_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = Instant::now();
        if now < self.held_due {
            return;
        }
        let due: Vec<ClientId> = self
            .held
            .iter()
            .filter(|(_, &(_, deadline))| deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.release(id);
        }
        let next = self.held.values().map(|&(_, deadline)| deadline).min();
        self.held_due = next.unwrap_or_else(|| deadline_after(Duration::MAX));
    }

    /// When a held connection's deadline may come (none earlier).
    pub(super) fn next_hold_deadline(&self) -> Option<Instant> {
        (!self.held.is_empty()).then_some(self.held_due)
    }
}

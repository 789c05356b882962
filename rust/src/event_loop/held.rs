//! Pull mode's answer to a peer that finishes sending (end-of-stream, e.g.
//! `shutdown(SHUT_WR)` after a request): its `Disconnected` is reported at
//! once, in order after its last messages, but the connection stays open so
//! the replies the application makes to those messages still reach it. The
//! application's next call for events releases it (`Events` posts
//! [`Command::Release`](crate::shared::Command::Release)); the linger time
//! after the end-of-stream bounds the wait. With callbacks there is nothing
//! to wait for: they ran before the end-of-stream was handled.

use std::time::Instant;

use super::EventLoop;
use crate::event::{ClientId, DisconnectReason};
use crate::shared::deadline_after;

impl EventLoop {
    /// Holds connection `t`, whose peer finished sending, open for replies
    /// and reports its `Disconnected` now.
    pub(super) fn hold(&mut self, t: usize, reason: DisconnectReason) {
        let deadline = deadline_after(self.core.config.linger);
        let Some(conn) = self.conn_mut(t) else {
            return;
        };
        if conn.closing.is_some() || conn.held.is_some() {
            return;
        }
        let client = conn.client;
        conn.held = Some((reason.clone(), deadline));
        self.held.push((t, client.id));
        // Gone as far as listing and counting go; `send` still reaches it.
        self.core.registry.hide(client.id);
        log::debug!("tcphub: client {client} finished sending: {reason}; held for replies");
        let counters = &self.core.counters[self.idx];
        self.dispatch.disconnected(counters, &client, &reason);
    }

    /// The application is past client `id`'s `Disconnected`: close it once
    /// its queue is written.
    pub(super) fn release(&mut self, id: ClientId) {
        let Some(&t) = self.by_id.get(&id) else {
            return; // closed meanwhile (written out, failed, or the deadline)
        };
        let reason = match self.conns.get(t).and_then(|c| c.as_ref()) {
            Some(c) if c.closing.is_none() => match &c.held {
                Some((reason, _)) => reason.clone(),
                None => return,
            },
            _ => return,
        };
        self.close_after_flush(t, reason);
    }

    /// Releases held connections whose deadline has passed; forgets those
    /// closed or released meanwhile.
    pub(super) fn check_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = Instant::now();
        let list = std::mem::take(&mut self.held);
        for (t, id) in list {
            let due = match self.conns.get(t).and_then(|c| c.as_ref()) {
                Some(c) if c.client.id == id && c.closing.is_none() => match &c.held {
                    Some((_, deadline)) => *deadline <= now,
                    None => continue,
                },
                _ => continue,
            };
            if due {
                self.release(id);
            } else {
                self.held.push((t, id));
            }
        }
    }

    /// The earliest deadline of a held connection.
    pub(super) fn next_hold_deadline(&self) -> Option<Instant> {
        self.held
            .iter()
            .filter_map(
                |&(t, id)| match self.conns.get(t).and_then(|c| c.as_ref()) {
                    Some(c) if c.client.id == id && c.closing.is_none() => {
                        c.held.as_ref().map(|h| h.1)
                    }
                    _ => None,
                },
            )
            .min()
    }
}

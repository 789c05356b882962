//! The server's side of [`crate::vanish`]: each loop looks, every
//! keepalive interval, at its connections written to since the last look,
//! and disconnects those whose peer vanished with `Io(TimedOut)`.

use std::time::Instant;

use super::EventLoop;
use crate::event::{ClientId, DisconnectReason};
use crate::registry::FastMap;
use crate::vanish::{look, Look, Schedule, Suspect};

/// The watch of one loop (`EventLoop::vanish`; `None` without keepalive).
#[derive(Debug)]
pub(super) struct Vanish {
    schedule: Schedule,
    /// Clients found unanswered, and since which look.
    suspects: FastMap<ClientId, Suspect>,
}

impl Vanish {
    /// The watch for keepalive `idle`, or `None` without keepalive.
    pub(super) fn new(idle: Option<std::time::Duration>, now: Instant) -> Option<Vanish> {
        Some(Vanish {
            schedule: Schedule::new(idle, now)?,
            suspects: FastMap::default(),
        })
    }

    /// When the loop must wake for the next look.
    pub(super) fn next(&self) -> Instant {
        self.schedule.next
    }
}

impl EventLoop {
    /// Disconnects the clients whose peer vanished with our output
    /// unacknowledged, when a look is due.
    pub(super) fn check_vanished(&mut self) {
        let Some(v) = &mut self.vanish else {
            return; // (before reading the clock: this runs every turn)
        };
        let now = Instant::now();
        if !v.schedule.due(now) {
            return;
        }
        let detect = v.schedule.detect;
        let mut gone: Vec<(usize, ClientId)> = Vec::new();
        // Those found unanswered now, with the look that first found them
        // so: those answered since, or gone for another reason, drop out.
        let mut suspects = FastMap::default();
        for (t, c) in self.conns.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            // (Closing connections end by their own deadlines. A held one
            // is watched: `hold_for_replies` may hold it long, and its end
            // was reported, so closing it reports nothing more.)
            if c.closing.is_some() || c.write_failed.is_some() {
                continue;
            }
            let id = c.client.id;
            match look(c, v.suspects.get(&id).copied(), now, detect) {
                Look::Fine => {}
                Look::Suspect(s) => {
                    suspects.insert(id, s);
                }
                Look::Gone => gone.push((t, id)),
            }
        }
        v.suspects = suspects;
        for (t, id) in gone {
            // Closing one may run callbacks that close another and hand its
            // slot to a new client: act only on the client found gone.
            let Some(c) = self.conns.get(t).and_then(|c| c.as_ref()) else {
                continue;
            };
            if c.client.id != id {
                continue;
            }
            log::debug!("tcphub: client {id}: no answer for {detect:?} with output unacknowledged");
            // Reset, not FIN: the kernel would otherwise go on resending
            // to the vanished peer after the close.
            crate::connection::reset_on_close(&c.stream);
            // As when a write finds it gone: what it sent before it
            // vanished and is still unread (a paused client's) is read and
            // handed out first, then it is closed.
            self.close_for_write_error(t, DisconnectReason::Io(std::io::ErrorKind::TimedOut));
        }
    }
}

//! The idle and frame timeouts: the loop's timer clock kept still while
//! the loop does not read (`note_pause`; the clock is `clock.rs`), and the
//! periodic look for clients past a timeout (`check_timers`).

use std::time::{Duration, Instant};

use super::EventLoop;
use crate::connection::Connection;
use crate::event::{ClientId, DisconnectReason};
use crate::shared::Config;

impl EventLoop {
    /// Keeps the idle and frame clocks still while the loop does not read:
    /// a client cannot finish a frame while we leave its bytes in the kernel
    /// (and TCP stops its writes), so a pause is not its delay; nor is a
    /// client idle while a message it sent waits in the backlog of a full
    /// pull queue (it may be waiting for the answer to it), as input a pause
    /// left stashed counts as arriving when it is decoded. Notes when
    /// reading paused and when it resumed: the clocks are stamped in the
    /// loop's `clock`, which stands still in between (a client idle through
    /// the pause has the rest of its time after it; one stamped during it,
    /// or read in the resume's turn before this saw it, counts as active
    /// at its end). Constant time: no connection is looked at. A turn held
    /// up (a slow callback, much work) stops the clocks too, for most of
    /// what it took past `clock::STALL` (see `TimerClock::busy`), and so
    /// does a pull-mode application's hold of what it took
    /// (`QueueLoad::holding`, see `TimerClock::hold_on`).
    /// Returns the time it looked at (`None`: no timeout is set).
    pub(super) fn note_pause(&mut self) -> Option<Instant> {
        if !self.timers_on() {
            return None;
        }
        let now = Instant::now();
        let paused = self.read_paused();
        let holding = self.core.event_load.holding();
        self.clock.look(now, paused, holding);
        Some(now)
    }

    /// Whether an idle or a frame timeout is set: only then does the loop
    /// keep its timer `clock`.
    #[inline]
    pub(super) fn timers_on(&self) -> bool {
        let config = &self.core.config;
        config.frame_timeout.is_some() || config.idle_timeout.is_some()
    }

    /// Disconnects clients past the idle timeout (nothing received) or the
    /// frame timeout (a frame started and not finished), at `now` (as
    /// `note_pause` just took it; `None`: no timeout is set).
    pub(super) fn check_timers(&mut self, now: Option<Instant>) {
        let (Some(at), Some(now)) = (self.next_timer_check, now) else {
            return;
        };
        if now < at {
            return;
        }
        let config = &self.core.config;
        let (idle, frame) = (config.idle_timeout, config.frame_timeout);
        self.next_timer_check = timer_tick(config).map(|t| now + t);
        // (`clock.stopped()`: a pause that ended since `note_pause` looked —
        // `resume_input()` on another thread — has not set the clock going
        // yet; the turn's next `note_pause` does.)
        if self.clock.stopped() || self.read_paused() || self.input_stopped() || self.discarding() {
            // We are not reading anyone (the pull queue is full, a loop we
            // post to is far behind, the input was stopped, or the server
            // is stopping and only flushes): a client waiting on us is not
            // idle or slow. Look again next tick (a stop reports everyone
            // `ServerStopped`).
            return;
        }
        // (Where the clocks are stamped: real time less the pauses and the
        // stalled turns.)
        let now = self.clock.at(now);
        let expired = |c: &Connection| {
            if idle.is_some_and(|t| now.duration_since(c.last_active) >= t) {
                Some(DisconnectReason::IdleTimeout)
            } else if frame
                .zip(c.frame_started)
                .is_some_and(|(t, started)| now.duration_since(started) >= t)
            {
                Some(DisconnectReason::FrameTimeout)
            } else {
                None
            }
        };
        // (A held connection's peer is done, a paused one is not read: no
        // timeouts apply.)
        let live = |c: &Connection| c.closing.is_none() && !c.held && !c.paused;
        let due: Vec<(usize, ClientId)> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(t, c)| match c {
                Some(c) if live(c) && expired(c).is_some() => Some((t, c.client.id)),
                _ => None,
            })
            .collect();
        for (t, id) in due {
            // Closing one may run commands that close another and hand its
            // slot to a new client: act only on the client found expired.
            if !self
                .conn_mut(t)
                .is_some_and(|c| c.client.id == id && live(c))
            {
                continue;
            }
            // What it sent while this loop was busy elsewhere (a slow
            // callback) may wait unread, its readiness not polled yet: read
            // it first, as the next turn would, then look again. All of it:
            // a short read does not mean drained (it ends at an urgent mark).
            // A read that stopped at its budget may have left more (a large
            // frame's rest, sent in time): the next turns read it, and the
            // next tick looks again.
            let unread = self.read(t, true);
            self.pump();
            if self.read_paused() {
                return; // not reading any more: look again next tick
            }
            if unread {
                continue;
            }
            let why = match self.conns.get(t).and_then(|c| c.as_ref()) {
                Some(c) if c.client.id == id && live(c) => expired(c),
                _ => None,
            };
            let Some(why) = why else {
                continue;
            };
            self.close_after_flush(t, why); // (counts the timeout)
            self.pump();
        }
    }
}

/// How often to scan for clients past a timeout: a quarter of the shorter
/// of the idle and frame timeouts, 10 ms..1 s; `None` when neither is set.
pub(super) fn timer_tick(config: &Config) -> Option<Duration> {
    let shortest = match (config.idle_timeout, config.frame_timeout) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TcpServer;

    fn tick(idle: Option<u64>, frame: Option<u64>) -> Option<Duration> {
        let mut server = TcpServer::new(0, 1);
        if let Some(ms) = idle {
            server = server.idle_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = frame {
            server = server.frame_timeout(Duration::from_millis(ms));
        }
        timer_tick(server.test_config())
    }

    /// Review mu2 (mutation testing): the scan period bounds how late a
    /// timeout fires ("a quarter of the shorter timeout at the latest",
    /// `TcpServer::idle_timeout`), and no test looked at it: a tick of four
    /// times the timeout (`*` for `/`: a 100 ms idle timeout scanned every
    /// 400 ms, not 25 ms) or of zero (a scan every turn) passed every test.
    #[test]
    fn review_mu2_timer_tick_is_a_quarter_of_the_shorter_timeout() {
        let ms = Duration::from_millis;
        assert_eq!(tick(None, None), None);
        assert_eq!(tick(Some(2_000), None), Some(ms(500)));
        assert_eq!(tick(None, Some(400)), Some(ms(100)));
        assert_eq!(tick(Some(2_000), Some(400)), Some(ms(100)));
        assert_eq!(tick(Some(400), Some(2_000)), Some(ms(100)));
        // Clamped to 10 ms..1 s.
        assert_eq!(tick(Some(20), None), Some(ms(10)));
        assert_eq!(tick(Some(60_000), None), Some(ms(1_000)));
    }
}

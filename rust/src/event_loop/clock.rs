//! The clock of a loop's idle and frame timeouts: real time less the
//! loop's read pauses. It stands still while reading is paused (as
//! `EventLoop::note_pause` sees it), so a pause costs nothing to end: the
//! connections' clocks (`Connection::last_active`, `frame_started`) are
//! stamped in it and never moved, where moving each of them on by every
//! pause took a pass over all of a loop's connections at each resume.
//!
//! Exactly what that pass did: a stamp taken before a pause counts the
//! pause out, and one taken during it — a client adopted, resumed, or read
//! in the turn of the resume before the pause was seen to end — counts as
//! taken at its end.

use std::time::{Duration, Instant};

/// See the module's doc.
#[derive(Debug, Default)]
pub(super) struct TimerClock {
    /// How long the pauses that ended lasted, in total (from the first look
    /// that found each to the first that found it over).
    paused: Duration,
    /// Since when reading is paused, as `note_pause` last saw it.
    since: Option<Instant>,
}

impl TimerClock {
    /// The time now: real time less the pauses. (Never before the loop's
    /// start, so the subtraction cannot overflow: the pauses are stretches
    /// of the loop's life.)
    #[inline]
    pub(super) fn now(&self) -> Instant {
        self.at(Instant::now())
    }

    /// The time at real instant `real` (not before the last pause or resume).
    #[inline]
    pub(super) fn at(&self, real: Instant) -> Instant {
        match self.since {
            Some(since) => since - self.paused,
            // (Spares a read the subtraction's overflow check, ~16
            // instructions, while no pause has ended.)
            None if self.paused.is_zero() => real,
            None => real - self.paused,
        }
    }

    /// Whether it stands still: a pause that has not been seen to end.
    pub(super) fn stopped(&self) -> bool {
        self.since.is_some()
    }

    /// Reading paused at `now`: the clock stands still from then.
    pub(super) fn pause(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// Reading resumed at `now`: the clock runs again from where it stood.
    pub(super) fn resume(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.paused += now.saturating_duration_since(since);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clocks as the loop kept them before: real instants, each moved
    /// on by a pause once it ended (no later than its end).
    struct Shifted {
        clocks: Vec<Instant>,
        since: Option<Instant>,
    }

    impl Shifted {
        fn resume(&mut self, now: Instant) {
            if let Some(since) = self.since.take() {
                let pause = now.saturating_duration_since(since);
                for c in &mut self.clocks {
                    *c = (*c + pause).min(now);
                }
            }
        }
    }

    /// Pauses back to back, stamps before, during and between them and in
    /// the turn of a resume (before it is seen): every client has as long
    /// left, at every look between pauses, as the per-client shift gave.
    #[test]
    fn elapsed_times_match_moving_each_clock_on_by_the_pauses() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut clock = TimerClock::default();
        let mut old = Shifted {
            clocks: Vec::new(),
            since: None,
        };
        let mut stamps = Vec::new();
        // (time, what): 's' stamps a new client, 'p' pauses, 'r' resumes,
        // 'l' looks (only between pauses, as `check_timers` does).
        let script = [
            (0, 's'),
            (5, 's'),
            (10, 'l'),
            (10, 'p'),
            (12, 's'), // adopted or resumed during the pause
            (30, 's'), // read in the resume's turn, not seen to end yet
            (31, 'r'),
            (31, 'l'),
            (40, 's'),
            (45, 'l'),
            (50, 'p'), // back to back: a few ms of reading between
            (70, 'r'),
            (72, 's'),
            (73, 'p'),
            (74, 's'),
            (90, 'r'),
            (90, 'l'),
            (200, 'l'),
            (200, 'p'),
            (200, 'r'), // a pause seen to end at once
            (201, 's'),
            (300, 'l'),
        ];
        for (at, what) in script {
            let now = ms(at);
            match what {
                's' => {
                    stamps.push(clock.at(now));
                    old.clocks.push(now);
                }
                'p' => {
                    clock.pause(now);
                    old.since.get_or_insert(now);
                }
                'r' => {
                    clock.resume(now);
                    old.resume(now);
                }
                _ => {
                    assert!(!clock.stopped());
                    let virtual_now = clock.at(now);
                    for (s, c) in stamps.iter().zip(&old.clocks) {
                        assert!(*s <= virtual_now, "a stamp in the future at {at}");
                        assert_eq!(
                            virtual_now.duration_since(*s),
                            now.duration_since(*c),
                            "at {at} ms"
                        );
                    }
                }
            }
        }
    }
}

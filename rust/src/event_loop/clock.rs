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
//!
//! It also stands still for most of a turn of the loop that takes
//! [`STALL`] or longer — a slow callback, or much work in one turn (many
//! callbacks, a flood of input): no other socket of the loop was read
//! meanwhile. A client with more of a frame to send than the kernel's
//! buffers hold was kept from sending it (TCP flow control), and one whose
//! requests the turn's callbacks were working on was waiting for the
//! answers, not idle. Not all of it: the clock runs for `STALL` or an
//! eighth of such a turn ([`STALL_SHARE`]), whichever is longer, so a loop
//! whose turns are always long — clients flooding it, say — still times
//! its clients out, at worst eight times later.
//!
//! In pull mode it also stands still, the same way, while the application
//! works on events it took without calling for more (`QueueLoad::holding`):
//! a pull-mode application handling a request is as slow a callback, and
//! its client waits for the answer. (The loops keep reading meanwhile; a
//! client that sends is stamped as usual.)

use std::time::{Duration, Instant};

/// How long a turn of a loop may take before the clock stands still for
/// most of the rest of it (see the module's doc). Turns take microseconds
/// to a few milliseconds when no callback blocks: reading a full batch of
/// 1,024 events at 64 KiB each is about 64 MB of copying.
pub(super) const STALL: Duration = Duration::from_millis(50);

/// The clock runs for at least 1 / `STALL_SHARE` of a stalled turn.
const STALL_SHARE: u32 = 8;

/// See the module's doc.
#[derive(Debug, Default)]
pub(super) struct TimerClock {
    /// How long the pauses that ended lasted, in total (from the first look
    /// that found each to the first that found it over).
    paused: Duration,
    /// Since when reading is paused, as `note_pause` last saw it.
    since: Option<Instant>,
    /// Since when the loop has been busy: its last wakeup, or the last
    /// look at its stalls (`busy`), pause or resume.
    busy_since: Option<Instant>,
    /// The application's hold of events it took (pull mode), as the looks
    /// last saw it.
    hold: Option<Hold>,
}

/// A pull-mode application's hold of events it took, as the looks saw it.
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// Which hold (`QueueLoad::holding`): another value is another hold.
    value: u64,
    /// Since when it counts: the first look that found it, or the end of a
    /// pause during it (the pause counts its own time).
    since: Instant,
    /// How long of it since `since` the clock has stood still.
    stood: Duration,
}

impl TimerClock {
    /// The time now: real time less the pauses. (Never before the loop's
    /// start, so the subtraction cannot overflow: the pauses are stretches
    /// of the loop's life.)
    #[inline]
    pub(super) fn now(&self) -> Instant {
        self.at(Instant::now())
    }

    /// The time at real instant `real` (not before the last pause, resume or
    /// stall). A stamp taken during a stalled turn can be later than the
    /// time after it: it counts as taken then (`Instant::duration_since`
    /// saturates).
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

    /// A look at `now` (twice a turn), with reading `paused` or not and
    /// the application `holding` events it took or not: the turn so far
    /// may have stalled (`busy`), or the application's hold gone on
    /// (`hold_on`) — whichever, looked at first, so that a stall up to a
    /// pause counts — and a pause may have begun or ended.
    pub(super) fn look(&mut self, now: Instant, paused: bool, holding: Option<u64>) {
        match self.hold {
            Some(hold) if holding == Some(hold.value) => self.hold = Some(self.hold_on(hold, now)),
            _ => {
                // (A hold that ended since the last look: its time after
                // that look ran on the clock.)
                self.busy(now);
                self.hold = holding.map(|value| Hold {
                    value,
                    since: now,
                    stood: Duration::ZERO,
                });
            }
        }
        if paused != self.stopped() {
            if paused {
                self.pause(now);
            } else {
                self.resume(now);
            }
        }
    }

    /// The application still holds what it took at the last look: a
    /// pull-mode application working on a request is as slow a callback
    /// (the client waits for the answer, it is not idle), so the clock
    /// stands still for all of the hold but `STALL` or an eighth of it,
    /// whichever is longer — an application that takes an event and never
    /// calls for more still has its clients timed out, at worst eight times
    /// later. (Counted from the first look that found the hold: the loop
    /// looks at its next wakeup, a timer tick at the latest. The hold
    /// counts the turn's time meanwhile, so `busy` counts none of it; a
    /// pause counts its own.) Returns the hold as counted now.
    fn hold_on(&mut self, mut hold: Hold, now: Instant) -> Hold {
        if self.busy_since.is_some() {
            self.busy_since = Some(now);
        }
        if self.since.is_some() {
            return hold;
        }
        let stand = stands(now.saturating_duration_since(hold.since));
        if stand > hold.stood {
            self.paused += stand - hold.stood;
            hold.stood = stand;
        }
        hold
    }

    /// Reading paused at `now`: the clock stands still from then.
    fn pause(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// Reading resumed at `now`: the clock runs again from where it stood.
    fn resume(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.paused += now.saturating_duration_since(since);
        }
        if self.busy_since.is_some() {
            self.busy_since = Some(now); // (no stall spans a pause's end)
        }
        if let Some(hold) = &mut self.hold {
            hold.since = now; // (nor a hold)
            hold.stood = Duration::ZERO;
        }
    }

    /// The loop woke up at `now` (its wait for events returned): a turn
    /// begins.
    pub(super) fn woke(&mut self, now: Instant) {
        self.busy_since = Some(now);
    }

    /// A look at the turn at `now`: if it has been busy for [`STALL`] or
    /// longer since it began (or since the last look that found it so),
    /// the clock stands still for all of that but `STALL` or an eighth of
    /// it, whichever is longer. (Not while reading is paused: the pause
    /// stops the clock already. Each stretch ends where a pause begins or
    /// ends, so no time counts twice, and the pauses and stalls stay within
    /// the loop's life.)
    fn busy(&mut self, now: Instant) {
        let Some(since) = self.busy_since else {
            return;
        };
        let busy = now.saturating_duration_since(since);
        if busy < STALL {
            return;
        }
        self.busy_since = Some(now);
        if self.since.is_none() {
            self.paused += stands(busy);
        }
    }
}

/// How much of a stalled `stretch` (a long turn, or an application's hold)
/// the clock stands still for: all of it but [`STALL`] or an eighth of it
/// ([`STALL_SHARE`]), whichever is longer; none of a stretch up to `STALL`.
fn stands(stretch: Duration) -> Duration {
    stretch.saturating_sub((stretch / STALL_SHARE).max(STALL))
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

    /// A turn held up past `STALL` stops the clock for most of the rest of
    /// it, once (however often it is looked at): it runs for `STALL` or an
    /// eighth of the turn, whichever is longer. Short turns do not stop
    /// it; a stall during a pause, or up to one, does not count the pause
    /// twice.
    #[test]
    fn stalled_turns_stop_the_clock_for_most_of_the_rest() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let stall = STALL.as_millis() as u64;
        let mut clock = TimerClock::default();
        // Short turns: real time.
        clock.woke(ms(0));
        clock.busy(ms(stall - 1));
        clock.woke(ms(stall + 10));
        clock.busy(ms(2 * stall));
        assert_eq!(clock.at(ms(2 * stall)), ms(2 * stall));
        // A turn of 200 ms: the clock ran for `STALL` of it.
        clock.woke(ms(300));
        clock.busy(ms(500));
        let mut lost = 200 - stall;
        assert_eq!(clock.at(ms(500)), ms(500 - lost));
        // A turn of 5 s, looked at twice: the clock ran for an eighth.
        clock.woke(ms(1_000));
        clock.busy(ms(6_000));
        clock.busy(ms(6_000 + stall - 1));
        lost += 5_000 - 5_000 / 8;
        assert_eq!(clock.at(ms(6_000)), ms(6_000 - lost));
        // A stall up to a pause, then one during it: the pause counts its
        // own time, the first stall the rest.
        clock.woke(ms(7_000));
        clock.look(ms(8_000), true, None);
        lost += 1_000 - 1_000 / 8;
        clock.look(ms(9_000), true, None);
        clock.look(ms(10_000), false, None);
        lost += 2_000;
        assert_eq!(clock.at(ms(10_000)), ms(10_000 - lost));
        // The resume began a new stretch: a look soon after finds no stall.
        clock.busy(ms(10_000 + stall - 1));
        assert_eq!(clock.at(ms(10_100)), ms(10_100 - lost));
        // A stall that began before the resume's turn ended counts from
        // the resume only.
        clock.busy(ms(10_000 + 3 * stall));
        lost += 2 * stall;
        assert_eq!(clock.at(ms(11_000)), ms(11_000 - lost));
        assert!(clock.at(ms(11_000)) >= t0, "before the loop began");
    }

    /// Review mt: a turn found busy for exactly `STALL` has stalled ("for
    /// `STALL` or longer"), standing for none of it (the clock runs for
    /// `STALL` of each stretch), and the next stretch begins at that look:
    /// looked at again `STALL` later, it stands for none of that either.
    #[test]
    fn review_mt_a_turn_of_exactly_stall_begins_a_new_stretch() {
        let t0 = Instant::now();
        let mut clock = TimerClock::default();
        clock.woke(t0);
        clock.busy(t0 + STALL);
        assert_eq!(clock.at(t0 + STALL), t0 + STALL);
        clock.busy(t0 + 2 * STALL);
        assert_eq!(clock.at(t0 + 2 * STALL), t0 + 2 * STALL);
    }

    /// An application's hold stops the clock as a long turn does: for all
    /// of it but `STALL` or an eighth, from the first look that found it;
    /// short holds do not; a pause or a turn during a hold counts once.
    #[test]
    fn an_application_hold_stops_the_clock_for_most_of_it() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let stall = STALL.as_millis() as u64;
        let mut clock = TimerClock::default();
        clock.look(ms(100), false, Some(1));
        clock.look(ms(100 + stall), false, Some(1));
        assert_eq!(clock.at(ms(200)), ms(200), "a hold of STALL: the clock ran");
        // 4 s of it: the clock ran for an eighth; 8 s: still an eighth.
        clock.look(ms(4_100), false, Some(1));
        let mut lost = 4_000 - 4_000 / 8;
        assert_eq!(clock.at(ms(4_100)), ms(4_100 - lost));
        clock.look(ms(8_100), false, Some(1));
        lost = 8_000 - 8_000 / 8;
        assert_eq!(clock.at(ms(8_100)), ms(8_100 - lost));
        assert!(
            !clock.stopped(),
            "a hold is no pause: the timers are checked"
        );
        // Called for events: it runs on.
        clock.look(ms(8_200), false, None);
        assert_eq!(clock.at(ms(8_200)), ms(8_200 - lost));
        // Short holds back to back (each another value): it keeps running.
        for (i, t) in (8_200..10_000).step_by(10).enumerate() {
            clock.look(ms(t), false, Some(3 + 2 * i as u64));
        }
        clock.look(ms(10_000), false, None);
        assert_eq!(clock.at(ms(10_000)), ms(10_000 - lost));
        // A hold through a pause: the hold counts up to the pause, the
        // pause its own time, the hold again from the resume on.
        clock.look(ms(10_000), false, Some(101));
        clock.look(ms(11_000), true, Some(101));
        lost += 1_000 - 1_000 / 8;
        clock.look(ms(12_000), true, Some(101));
        clock.look(ms(13_000), false, Some(101));
        lost += 2_000;
        assert_eq!(clock.at(ms(13_000)), ms(13_000 - lost));
        clock.look(ms(13_800), false, Some(101));
        lost += 800 - 800 / 8;
        assert_eq!(clock.at(ms(13_800)), ms(13_800 - lost));
        // A turn during the hold: the hold counts it up to its look, the
        // turn only what comes after the hold's end.
        clock.woke(ms(14_000));
        clock.look(ms(14_000), false, Some(101));
        lost += (1_000 - 1_000 / 8) - (800 - 800 / 8);
        assert_eq!(clock.at(ms(14_000)), ms(14_000 - lost));
        clock.look(ms(15_000), false, None);
        lost += 1_000 - 1_000 / 8;
        assert_eq!(clock.at(ms(15_000)), ms(15_000 - lost));
        assert!(clock.at(ms(15_000)) >= t0, "before the loop began");
    }

    /// Review ho: wakeups and looks in random orders, with reading paused
    /// or not and holds begun, gone on and ended between them: from one
    /// look to the next the clock never loses more than the real time
    /// between them (no stretch counted twice by a hold, a stall and a
    /// pause), nor gains more, nor goes before the loop's start.
    #[test]
    fn review_ho_holds_stalls_and_pauses_never_count_a_stretch_twice() {
        let t0 = Instant::now();
        for seed in 0..2000u64 {
            let mut x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut rnd = move |n: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % n
            };
            let mut clock = TimerClock::default();
            let mut t = 0u64;
            let mut last = t0;
            let mut last_real = t0;
            let mut hold: u64 = 0;
            for _ in 0..200 {
                t += [0, 1, 10, 49, 50, 51, 300, 1000, 5000][rnd(9) as usize];
                let now = t0 + Duration::from_millis(t);
                match rnd(3) {
                    0 => {
                        clock.woke(now);
                        continue;
                    }
                    _ => {
                        if rnd(3) == 0 {
                            hold += 1;
                        }
                        let holding = (hold & 1 == 1).then_some(hold);
                        clock.look(now, rnd(4) == 0, holding);
                    }
                }
                let v = clock.at(now);
                assert!(v >= last, "seed {seed}: backwards at {t}");
                assert!(v >= t0);
                assert!(
                    v - last <= now - last_real,
                    "seed {seed}: faster than real time"
                );
                last = v;
                last_real = now;
            }
        }
    }
}

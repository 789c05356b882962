//! Peers that vanished while we had output for them. TCP keepalive finds
//! a peer whose host went away only while nothing we sent waits for its
//! acknowledgement: as long as something does, the kernel resends it
//! instead of probing, for up to ~15 minutes (`tcp_retries2`) — and in a
//! busy hub a client almost always has something in flight. So with
//! keepalive on, the server's loops (`event_loop/vanished.rs`) and a
//! client's I/O thread (`client_loop.rs`) also look, every keepalive
//! interval, at the connections they wrote to since the last look: one
//! whose output the kernel has been resending (or whose closed window it
//! has been probing) without any answer for the keepalive detection time
//! (`idle + 3 × interval`, what the probes take) is ended with
//! `Io(TimedOut)`, as keepalive would have ended it.
//!
//! Unlike `TCP_USER_TIMEOUT`, this does not cut a live peer that merely
//! stopped reading: it answers the window probes
//! (`rust/tests/keepalive_dead_peer.rs`). And a connection is given up only
//! after two looks — the first finding it unanswered, a later one finding
//! no acknowledgement since and the kernel having sent again in vain
//! meanwhile — for the acknowledgement clock of a peer that had nothing to
//! answer for a while is old without meaning anything: a zero-window peer
//! is asked only every few seconds once the window probes back off, so one
//! probe lost to a short outage leaves the clock old until the next
//! (`rust/tests/review_vanish.rs`). And only once the kernel has tried
//! [`TRIES_IN_VAIN`] times in a row: on a congested path its resends back
//! off to seconds apart, and a live peer that lost two of them had gone
//! without answering for longer than the detection time
//! (`rust/tests/review_lossy_path.rs`). Linux only: elsewhere the kernel
//! does not say (no `TCP_INFO` of this shape), and keepalive alone is left.

use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::connection::{keepalive_interval, Connection, KEEPALIVE_PROBES};

/// Output of ours the peer has not acknowledged, as the kernel sees it
/// (`SIOCOUTQ`, then `TCP_INFO`): keepalive does not probe while there is
/// some, so a peer that vanished then is found by watching this instead
/// (`event_loop/vanished.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outstanding {
    /// Time since the peer last acknowledged anything (`tcpi_last_ack_recv`).
    pub since_ack: Duration,
    /// How many times in a row the kernel has resent it, or probed a window
    /// that stays closed, without an answer (`tcpi_retransmits +
    /// tcpi_probes`): more than 0 while it goes unanswered.
    pub tries: u32,
}

/// What of ours waits for the peer on `stream`; `None` when nothing does
/// (or the kernel could not say).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn outstanding(stream: &TcpStream) -> Option<Outstanding> {
    use std::os::fd::AsRawFd;
    if crate::connection::outq(stream)? <= 0 {
        return None;
    }
    let fd = stream.as_raw_fd();
    // SAFETY: a zeroed `tcp_info` is valid; the kernel writes at most `len`
    // bytes of it and says how many.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and `len` for its size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0).then(|| Outstanding {
        since_ack: Duration::from_millis(u64::from(info.tcpi_last_ack_recv)),
        tries: u32::from(info.tcpi_retransmits) + u32::from(info.tcpi_probes),
    })
}

/// What of ours waits for the peer on `stream`: elsewhere than on Linux the
/// kernel does not say (no `TCP_INFO` of this shape), so no connection is
/// found vanished this way, and keepalive alone finds dead peers.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn outstanding(_stream: &TcpStream) -> Option<Outstanding> {
    None
}

/// How many times in a row the kernel must have resent (or probed) in vain
/// before a connection is given up, whatever the time without an answer.
///
/// The time alone says little on a congested path: each resend lost
/// doubles the kernel's retransmission timeout, so a live peer behind a
/// full router queue that lost two resends in a row (a 1.3 s timeout:
/// the second went out 3.9 s after the last answer, the third was due
/// 5.2 s later) was past the detection time of a 1 s keepalive (4 s) and
/// was cut, though a later resend would have been answered (`rust/tests/review_lossy_path.rs`).
/// Keepalive itself gives up only after 3 probes in vain; the kernel's
/// first resends come in a burst (0.2 s, 0.4 s, 0.8 s apart at the
/// shortest), lost to the same congestion, so one more is asked for. Four
/// is what the kernel sends within 3 s of the last answer on a short path
/// (200 ms timeout), inside the shortest detection time: a peer that
/// vanished there is still found in keepalive's time, while a live one
/// must lose 4 resends in a row — 15 of its timeouts without an answer —
/// to be taken for gone.
pub(crate) const TRIES_IN_VAIN: u32 = 4;

/// When to look, for keepalive `idle`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// How often: the keepalive interval.
    pub every: Duration,
    /// How long without an answer means gone: what keepalive's probes take.
    pub detect: Duration,
    /// The next look.
    pub next: Instant,
}

impl Schedule {
    /// The schedule for keepalive `idle` (whole seconds, as
    /// `keepalive_secs` made it), or `None` without keepalive.
    pub(crate) fn new(idle: Option<Duration>, now: Instant) -> Option<Schedule> {
        let idle = idle?;
        let every = keepalive_interval(idle);
        Some(Schedule {
            every,
            detect: idle + every * KEEPALIVE_PROBES,
            next: now + every,
        })
    }

    /// Whether a look is due at `now`; if so, schedules the next one.
    pub(crate) fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.every;
        true
    }
}

/// A connection found unanswered: since which look, and how many times
/// the kernel had tried in vain then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suspect {
    pub since: Instant,
    pub tries: u32,
}

/// What one look found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// Nothing unanswered.
    Fine,
    /// Unanswered, watched since this look.
    Suspect(Suspect),
    /// Unanswered for the detection time: the peer is gone.
    Gone,
}

/// Looks at `c` (only if it was written to since everything was last
/// found acknowledged), which an earlier look found unanswered (`suspect`).
pub(crate) fn look(
    c: &mut Connection,
    suspect: Option<Suspect>,
    now: Instant,
    detect: Duration,
) -> Look {
    if !c.unconfirmed {
        return Look::Fine;
    }
    match outstanding(&c.stream) {
        None => {
            c.unconfirmed = false; // all acknowledged
            Look::Fine
        }
        Some(o) if o.tries > 0 => {
            let first = Suspect {
                since: now,
                tries: o.tries,
            };
            let s = suspect.unwrap_or(first);
            let waited = now.saturating_duration_since(s.since);
            if o.since_ack < waited {
                // An answer came after the look that found it unanswered:
                // a live, lossy peer. Watch anew.
                Look::Suspect(first)
            } else if !waited.is_zero()
                && o.tries > s.tries
                && o.tries >= TRIES_IN_VAIN
                && o.since_ack >= detect
            {
                // Sent again since, and still no answer, after enough
                // tries (`TRIES_IN_VAIN`) for the time to mean something.
                Look::Gone
            } else {
                Look::Suspect(s)
            }
        }
        Some(_) => Look::Fine, // in flight, answered so far
    }
}

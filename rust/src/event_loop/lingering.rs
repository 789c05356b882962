//! Lingering close. A connection we end politely (`shutdown(SHUT_WR)`, so
//! FIN follows our last bytes) may still have output in the kernel that the
//! peer has not acknowledged. If the peer is still sending when we close the
//! socket, the kernel answers its data with RST and throws that output away:
//! a client kicked (or cut for an oversize frame, or at `stop()`) while it
//! keeps writing would lose the replies "written first", and a connection
//! refused for `max_clients` the rest of the `full_message`. So such a socket
//! stays open, its input read and discarded, until the peer has everything
//! (nothing unacknowledged), ends its side, fails, or the linger time runs
//! out. It is no client any more: reported, unregistered, not counted. (A
//! peer quiet at the close is waited for too: its next write may be just
//! about to arrive.)

use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::EventLoop;
use crate::connection::{discard_input, unacknowledged_data, PeerInput};
use crate::registry::FastMap;
use crate::shared::deadline_after;

/// Tokens from here up (below the listener's and the waker's) are
/// lingering sockets; connections use their slot number.
pub(super) const LINGER_BASE: usize = 1 << (usize::BITS - 2);

/// Reads per lingering socket per event (fairness, as `READ_BUDGET`).
const DISCARD_READS: usize = 8;

/// Most sockets a loop keeps lingering (and never more than `max_clients`);
/// past it a closed connection is dropped at once, as before lingering
/// existed. Lingering sockets hold descriptors outside `max_clients`:
/// clients cut (for an oversize frame, say) as fast as they connect must
/// not pile them up without bound.
const MAX_LINGERING: usize = 1024;

/// How often the loop asks the kernel (one `ioctl` per lingering socket)
/// whether a quiet peer has acknowledged everything; a loop with sockets
/// lingering wakes up for it (`next_lingering_check`). Events need no scan:
/// a peer that sends or ends its side is looked at when it does.
const ACK_SCAN: Duration = Duration::from_millis(50);

/// Whether event token `t` is a lingering socket's (not a connection's,
/// the listener's or the waker's).
pub(super) fn is_lingering(t: usize) -> bool {
    (LINGER_BASE..usize::MAX - 1).contains(&t)
}

/// A loop's lingering sockets.
#[derive(Debug)]
pub(super) struct Lingering {
    /// By token: the socket, when it closes anyway, and whether it is a
    /// connection refused for `max_clients` (see `EventLoop::linger_refused`).
    socks: FastMap<usize, (TcpStream, Instant, bool)>,
    /// How many of `socks` are refused connections'.
    refused: usize,
    /// Sockets whose reads stopped at their budget (`PeerInput::More`):
    /// read again next turn, as no new edge comes for what is left — an
    /// end behind it included, which would otherwise be found only once
    /// the peer acknowledged everything, or at the deadline (and then the
    /// unread input made the close a reset that threw our last bytes away).
    again: Vec<usize>,
    /// Token for the next one (offset from `LINGER_BASE`).
    seq: usize,
    /// When `check_lingering` next asks the kernel about quiet peers.
    scan: Instant,
    /// When `check_lingering` has something to do next (the earliest
    /// deadline or `scan`); meaningful while any linger.
    due: Instant,
}

impl Default for Lingering {
    fn default() -> Lingering {
        let now = Instant::now();
        Lingering {
            socks: FastMap::default(),
            refused: 0,
            again: Vec::new(),
            seq: 0,
            scan: now,
            due: now,
        }
    }
}

impl EventLoop {
    /// Ends `stream` (shut down and drained by `close_politely`, which
    /// found its peer doing `input`): dropped now unless the peer may still
    /// send while our data is unacknowledged (see the module docs).
    pub(super) fn linger(&mut self, stream: TcpStream, input: PeerInput) {
        self.linger_as(stream, input, false);
    }

    /// As [`linger`](EventLoop::linger), for a connection refused for
    /// `max_clients` (its `full_message` on its way). It only borrows a
    /// place: refusals come exactly when the server is full, and a peer
    /// refused again and again must not use up the places a client cut
    /// meanwhile needs for its last replies — a client's socket that finds
    /// every place taken takes a refused one's (whose peer then gets the
    /// rest of its notice only if it is not sending, as before refused
    /// connections lingered).
    pub(super) fn linger_refused(&mut self, stream: TcpStream, input: PeerInput) {
        self.linger_as(stream, input, true);
    }

    fn linger_as(&mut self, mut stream: TcpStream, input: PeerInput, refused: bool) {
        let full = self.lingering.socks.len() >= MAX_LINGERING.min(self.core.config.max_clients);
        if input == PeerInput::Done
            || (full && (refused || self.lingering.refused == 0))
            || !unacknowledged_data(&stream)
        {
            return;
        }
        if full {
            // A client's socket: the refused connection's that closes first
            // makes room.
            let oldest = self
                .lingering
                .socks
                .iter()
                .filter(|(_, &(_, _, r))| r)
                .min_by_key(|(_, &(_, deadline, _))| deadline)
                .map(|(&t, _)| t);
            if let Some(t) = oldest {
                self.end_lingering(t);
            }
        }
        let token = LINGER_BASE + self.lingering.seq;
        self.lingering.seq = (self.lingering.seq + 1) % (usize::MAX - 2 - LINGER_BASE);
        if self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
            .is_err()
        {
            return;
        }
        let deadline = deadline_after(self.core.config.linger);
        if self.lingering.socks.is_empty() {
            self.lingering.scan = Instant::now() + ACK_SCAN;
            self.lingering.due = deadline.min(self.lingering.scan);
        } else {
            self.lingering.due = self.lingering.due.min(deadline);
        }
        self.lingering.refused += usize::from(refused);
        self.lingering
            .socks
            .insert(token, (stream, deadline, refused));
        if input == PeerInput::More {
            self.lingering.again.push(token);
        }
    }

    /// The peer of lingering socket `token` sent something or ended.
    pub(super) fn linger_event(&mut self, token: usize) {
        let Some((stream, _, _)) = self.lingering.socks.get_mut(&token) else {
            return;
        };
        let input = discard_input(stream, &mut self.rbuf, DISCARD_READS);
        if input == PeerInput::Done || !unacknowledged_data(stream) {
            self.end_lingering(token);
        } else if input == PeerInput::More && !self.lingering.again.contains(&token) {
            self.lingering.again.push(token);
        }
    }

    fn end_lingering(&mut self, token: usize) {
        if let Some((mut stream, _, refused)) = self.lingering.socks.remove(&token) {
            let _ = self.poll.registry().deregister(&mut stream);
            self.lingering.refused -= usize::from(refused);
        }
    }

    /// Reads on the lingering sockets whose last reads stopped at their
    /// budget, then closes lingering sockets whose time is up or (at most every
    /// [`ACK_SCAN`], not on every turn of a busy loop) whose output the
    /// peer has acknowledged meanwhile.
    pub(super) fn check_lingering(&mut self) {
        if self.lingering.socks.is_empty() {
            self.lingering.again.clear(); // (ended meanwhile)
            return;
        }
        // (Tokens of sockets ended meanwhile are not in `socks`: skipped.)
        for t in std::mem::take(&mut self.lingering.again) {
            self.linger_event(t);
        }
        let now = Instant::now();
        if now < self.lingering.due {
            return; // nothing due: a busy loop does not walk the list every turn
        }
        let scan = now >= self.lingering.scan;
        if scan {
            self.lingering.scan = now + ACK_SCAN;
        }
        let due: Vec<usize> = self
            .lingering
            .socks
            .iter()
            .filter(|(_, (s, deadline, _))| *deadline <= now || (scan && !unacknowledged_data(s)))
            .map(|(&t, _)| t)
            .collect();
        for t in due {
            self.end_lingering(t);
        }
        let first = self.lingering.socks.values().map(|&(_, d, _)| d).min();
        self.lingering.due = first.map_or(self.lingering.scan, |d| d.min(self.lingering.scan));
    }

    /// When `check_lingering` must run next while sockets linger: the
    /// earliest deadline, or the next acknowledgement scan if sooner. A
    /// peer that sends or ends its side wakes the loop by itself, but one
    /// that has everything and keeps its side open sends nothing: without
    /// the scan a quiet loop would keep its socket (a descriptor, and one of
    /// the `MAX_LINGERING` places) for the whole linger time. (One with
    /// input left to read needs the next turn at once:
    /// [`lingering_input_left`](EventLoop::lingering_input_left).)
    pub(super) fn next_lingering_check(&self) -> Option<Instant> {
        (!self.lingering.socks.is_empty()).then_some(self.lingering.due)
    }

    /// Whether a lingering socket has input left to read
    /// (`Lingering::again`): the loop polls without sleeping. (Not as a
    /// deadline of "now": taken after the caller's own now, it left a few
    /// nanoseconds to wait, which `epoll_wait` rounds up to a millisecond
    /// — a sleep before every 512 KiB re-read.)
    pub(super) fn lingering_input_left(&self) -> bool {
        !self.lingering.again.is_empty() && !self.lingering.socks.is_empty()
    }

    /// After the loop's last client is closed at `stop()`: lets lingering
    /// sockets finish until `deadline` (the stop's linger time).
    pub(super) fn linger_out(&mut self, deadline: Instant) {
        let mut events = mio::Events::with_capacity(256);
        while !self.lingering.socks.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = if self.lingering_input_left() {
                Duration::ZERO
            } else {
                self.next_lingering_check()
                    .map_or(deadline, |t| t.min(deadline))
                    .saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                // A signal (the application's Ctrl-C handler, a profiler)
                // interrupts `epoll_wait`: no reason to give up on the peers.
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for ev in events.iter() {
                let Token(t) = ev.token();
                if is_lingering(t) {
                    self.linger_event(t);
                }
            }
            self.check_lingering();
        }
        for t in self.lingering.socks.keys().copied().collect::<Vec<_>>() {
            self.end_lingering(t);
        }
    }
}

//! Counters: each event-loop thread owns one [`LoopCounters`] (single
//! writer, no contention); [`Stats`] is their sum, ends read first (see [`sum`]).

use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// A snapshot of a server's counters since it started.
///
/// # Examples
///
/// ```
/// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let s = server.stats();
/// assert_eq!(s.clients, 0);
/// assert_eq!(s.accepted, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Clients connected now. A connection held open for replies after its
    /// [`Disconnected`](crate::Event::Disconnected) (pull mode, or
    /// [`hold_for_replies`](crate::TcpServer::hold_for_replies)) is not
    /// counted here but in `disconnected`, though it keeps its place
    /// toward `max_clients` until it closes.
    pub clients: u64,
    /// Connections accepted and admitted.
    pub accepted: u64,
    /// Connections refused because `max_clients` places were taken (by the
    /// clients connected and those held open for replies; see `clients`):
    /// accepted, then closed at once.
    pub rejected: u64,
    /// Connections refused because
    /// [`max_clients_per_ip`](crate::TcpServer::max_clients_per_ip) were
    /// connected from the same IP address (not counted in `rejected`).
    pub rejected_per_ip: u64,
    /// Admitted connections (see `accepted`) that have ended, for any
    /// reason; a refused one counts only in `rejected`.
    pub disconnected: u64,
    /// Messages (frames) received from clients: decoded from what was read,
    /// including the rest of a read that a callback cut short by kicking
    /// its client (received, but not handed to `on_message`).
    pub msgs_in: u64,
    /// Bytes read from client sockets (framing included).
    pub bytes_in: u64,
    /// Messages queued for delivery, counted once per recipient.
    pub msgs_out: u64,
    /// Bytes written to client sockets (framing included): admitted
    /// clients', the server's notices to them (e.g.
    /// [`idle_timeout_message`](crate::TcpServer::idle_timeout_message))
    /// included, not the notice to a refused connection
    /// ([`full_message`](crate::TcpServer::full_message)).
    pub bytes_out: u64,
    /// Messages dropped for a client whose queue was full (drop policy).
    pub dropped: u64,
    /// Messages for one client that were not queued because the client had
    /// left, or was leaving, by the time its event loop got to them: a
    /// [`send`](crate::ServerHandle::send),
    /// [`send_to`](crate::ServerHandle::send_to) or
    /// [`send_many`](crate::ServerHandle::send_many) (once per client it
    /// counted) that returned `Ok` while
    /// the client was disconnecting (a kick, its peer closing, a timeout) or
    /// the server stopping ran out of linger time before it got to them;
    /// the message (a broadcast's too) whose overflow cut a client as a
    /// slow consumer under [`Overflow::Disconnect`](crate::Overflow::Disconnect);
    /// and messages (broadcasts too) that did not fit the queue of a
    /// client held open for replies (pull mode, or `hold_for_replies`) after its
    /// [`Disconnected`](crate::Event::Disconnected) under
    /// [`Overflow::Disconnect`](crate::Overflow::Disconnect) (the first
    /// ends the hold and closes the client, so later broadcasts skip it: at
    /// most one broadcast message counts per held client; under [`Overflow::DropMessage`](crate::Overflow::DropMessage)
    /// they count in [`dropped`](Stats::dropped), like anyone's). A broadcast is otherwise not counted here: its count is a
    /// snapshot (see [`send_all`](crate::ServerHandle::send_all)). Messages
    /// that were queued and then cut off unwritten count in
    /// [`unwritten`](Stats::unwritten) instead.
    pub undelivered: u64,
    /// Clients disconnected as slow consumers (each also reported with
    /// [`DisconnectReason::SlowConsumer`](crate::DisconnectReason::SlowConsumer)).
    /// A client held open for replies after its `Disconnected` (pull mode,
    /// or `hold_for_replies`) whose queue overflows is closed but not counted here: it had already
    /// left, and was counted with the reason it was reported with.
    pub slow_consumers: u64,
    /// Messages queued for a client (so counted in `msgs_out`) that were
    /// not written to it in full because its connection ended first: it
    /// was cut as a slow consumer, its linger time ran out while it closed
    /// (a kick, a timeout, its leaving, the stop), a write failed, or it
    /// reset. Such a connection is reset, so its peer sees an error, not a
    /// clean end. "Written" means taken by the kernel: bytes it had taken
    /// but not yet delivered when the peer vanished are not known here.
    /// Under [`Framing::Raw`](crate::Framing::Raw), which has no message
    /// boundaries on the wire, a run of sends joined into one write that
    /// was partly written counts whole.
    pub unwritten: u64,
    /// Clients disconnected for sending an oversize frame.
    pub frame_too_large: u64,
    /// Clients disconnected for idling.
    pub idle_timeouts: u64,
    /// Clients disconnected for not finishing a frame in time (slowloris).
    pub frame_timeouts: u64,
    /// Callbacks that panicked (caught and logged).
    pub callback_panics: u64,
}

/// One loop's counters, padded to its own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct LoopCounters {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub rejected_per_ip: AtomicU64,
    pub disconnected: AtomicU64,
    pub msgs_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub msgs_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped: AtomicU64,
    pub undelivered: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub unwritten: AtomicU64,
    pub frame_too_large: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub frame_timeouts: AtomicU64,
    pub callback_panics: AtomicU64,
}

impl LoopCounters {
    /// Adds `n` to a counter owned by this loop (single writer). Released,
    /// so that a reader who sees it also sees what the loop counted before
    /// (a plain store on x86, as a relaxed one; see [`sum`]).
    #[inline]
    pub fn add(c: &AtomicU64, n: u64) {
        c.store(c.load(Relaxed).wrapping_add(n), Release);
    }

    /// The counter of clients the server cut off for `why`, when `why` is a
    /// timeout or an oversize frame (counted when that close is the one
    /// that happens: `EventLoop::close_after_flush`).
    pub fn cut_for(&self, why: &crate::event::DisconnectReason) -> Option<&AtomicU64> {
        match why {
            crate::event::DisconnectReason::IdleTimeout => Some(&self.idle_timeouts),
            crate::event::DisconnectReason::FrameTimeout => Some(&self.frame_timeouts),
            crate::event::DisconnectReason::FrameTooLarge => Some(&self.frame_too_large),
            _ => None,
        }
    }
}

/// Sums the loops' counters, `clients` giving the clients connected now.
///
/// Ends are read before beginnings: first every loop's `disconnected` and
/// `unwritten`, then `clients`, then the rest (acquiring what [`add`]
/// released). A client's end is counted after its leaving the registry,
/// which follows its admission, and a message is counted unwritten after it
/// was queued; so every snapshot, even one taken during traffic, has
/// `disconnected + clients <= accepted` and `unwritten <= msgs_out` (read
/// the other way round, a client admitted and gone between two reads
/// showed more ends than admissions).
///
/// [`add`]: LoopCounters::add
pub(crate) fn sum(loops: &[LoopCounters], clients: impl FnOnce() -> u64) -> Stats {
    let mut s = Stats::default();
    for l in loops {
        s.disconnected += l.disconnected.load(Acquire);
        s.unwritten += l.unwritten.load(Acquire);
    }
    s.clients = clients();
    for l in loops {
        s.accepted += l.accepted.load(Acquire);
        s.rejected += l.rejected.load(Acquire);
        s.rejected_per_ip += l.rejected_per_ip.load(Acquire);
        s.msgs_in += l.msgs_in.load(Acquire);
        s.bytes_in += l.bytes_in.load(Acquire);
        s.msgs_out += l.msgs_out.load(Acquire);
        s.bytes_out += l.bytes_out.load(Acquire);
        s.dropped += l.dropped.load(Acquire);
        s.undelivered += l.undelivered.load(Acquire);
        s.slow_consumers += l.slow_consumers.load(Acquire);
        s.frame_too_large += l.frame_too_large.load(Acquire);
        s.idle_timeouts += l.idle_timeouts.load(Acquire);
        s.frame_timeouts += l.frame_timeouts.load(Acquire);
        s.callback_panics += l.callback_panics.load(Acquire);
    }
    s
}

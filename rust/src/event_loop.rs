//! The I/O threads. Each runs one [`EventLoop`] over its own `mio::Poll`
//! (epoll): it owns a share of the connections, reads and decodes their
//! frames, hands them to the callbacks or the pull queue, applies the
//! commands handles send it, and flushes outbound queues with gathering `sendmsg` calls.
//! Loop 0 also owns the listening socket and deals each accepted connection
//! to the loop owning the fewest clients (in turn among equals).

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::TcpListener;
use mio::{Events as MioEvents, Interest, Poll, Token, Waker};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::event::{ClientId, DisconnectReason, Event};
use crate::framing::Decoder;
use crate::handle::ServerHandle;
use crate::input_gate::LoopGate;
use crate::outbox::Outbox;
use crate::registry::FastMap;
use crate::shared::{self, deadline_after, Command, Core, LoopRemote};
use crate::stats::LoopCounters;

mod accept;
mod clock;
mod dispatch;
mod held;
mod idle;
mod input;
mod lingering;
mod output;
mod timers;
mod vanished;

pub(crate) use accept::{listen, Dealt};
use dispatch::Dispatch;
use timers::timer_tick;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);
/// Size of the loop's shared read buffer: connections own no read buffer.
const READ_BUF: usize = 64 * 1024;
/// Reads per connection per turn before others get theirs (fairness).
const READ_BUDGET: usize = 8;
/// What a connection is polled for. Priority (`EPOLLPRI`, urgent data) too
/// where there is such an interest: Linux ends a read at the urgent mark,
/// and the bytes after it, already received, would wait for the peer's
/// next segment (a read shorter than the buffer is taken for drained).
#[cfg(any(target_os = "linux", target_os = "android"))]
const CONNECTION_INTEREST: Interest = Interest::READABLE
    .add(Interest::WRITABLE)
    .add(Interest::PRIORITY);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CONNECTION_INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);
/// Retry delay while another loop is too far behind (see `others_behind`).
/// (A full pull queue needs none: its receiving side wakes the loop.)
const BACKOFF: Duration = Duration::from_millis(2);

/// A loop's poller and command receiver, created before the thread starts.
#[derive(Debug)]
pub(crate) struct LoopParts {
    poll: Poll,
    rx: Receiver<Command>,
}

impl LoopParts {
    pub fn new() -> Result<(LoopParts, LoopRemote)> {
        let io_err = |source| Error::Io {
            context: "creating an event loop",
            source,
        };
        let poll = Poll::new().map_err(io_err)?;
        let waker = Arc::new(crate::wake::Wake::new(
            Waker::new(poll.registry(), WAKER).map_err(io_err)?,
        ));
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok((
            LoopParts { poll, rx },
            LoopRemote {
                tx,
                waker,
                notified: std::sync::atomic::AtomicBool::new(false),
                control: std::sync::atomic::AtomicBool::new(false),
                sleeping: std::sync::atomic::AtomicBool::new(false),
                pending: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
                clients: std::sync::atomic::AtomicUsize::new(0),
            },
        ))
    }
}

/// Starts loop `idx` on its own thread.
pub(crate) fn spawn(
    idx: usize,
    parts: LoopParts,
    handle: ServerHandle,
    mut listener: Option<TcpListener>,
    events_tx: Option<crate::queue::Sender<Event>>,
) -> Result<JoinHandle<()>> {
    // Registered here, before the thread: a failure (out of memory, past
    // `fs.epoll.max_user_watches`) is `start()`'s error, not a server that
    // stops itself after `start()` returned Ok.
    if let Some(l) = listener.as_mut() {
        parts
            .poll
            .registry()
            .register(l, LISTENER, Interest::READABLE)
            .map_err(|source| Error::Io {
                context: "registering the listener",
                source,
            })?;
    }
    std::thread::Builder::new()
        .name(format!("tcphub-io-{idx}"))
        .spawn(move || {
            let core = handle.core().clone();
            // Its waker's descriptor closes with the thread (`wake.rs`).
            let _release = crate::wake::ReleaseOnExit(core.loops[idx].waker.clone());
            let kicks = shared::enter_loop(&core, idx, parts.rx.clone());
            EventLoop::new(idx, parts, handle, listener, events_tx, kicks).run();
            shared::leave_loop();
        })
        .map_err(|source| Error::Io {
            context: "spawning an event loop thread",
            source,
        })
}

/// One I/O thread's state.
struct EventLoop {
    idx: usize,
    core: Arc<Core>,
    poll: Poll,
    rx: Receiver<Command>,
    listener: Option<TcpListener>,
    /// Connections by token; `free` lists reusable slots.
    conns: Vec<Option<Connection>>,
    free: Vec<usize>,
    by_id: FastMap<ClientId, usize>,
    dispatch: Dispatch,
    /// Shared read buffer for all of this loop's connections.
    rbuf: Box<[u8]>,
    /// Connections with queued output to write this turn.
    to_flush: Vec<usize>,
    /// Connections with input left unread (read budget used up, or pull
    /// queue full), to read again without waiting for a new edge.
    to_read: Vec<usize>,
    /// Input read but not decoded yet, per client: the rest of a read that
    /// `pause_input()` cut short (at most one per loop per pause: the
    /// other connections are not read while paused). Decoded first when
    /// the client is read again; dropped with the connection.
    stashed: Vec<(ClientId, Vec<u8>)>,
    /// Commands to apply, oldest first: those other threads posted (taken
    /// from the channel) and those callbacks on this thread queued.
    work: VecDeque<Command>,
    /// Set while `pump` runs, so a nested call leaves the work to it.
    pumping: bool,
    /// Reusable list of where the frames of a broadcast batch end.
    ends: Vec<u32>,
    next_target: usize,
    /// When accept failed for lack of resources (EMFILE), retry after this.
    accept_retry: Option<Instant>,
    /// The last accept stopped at its budget with connections perhaps left
    /// in the backlog (see `accept::ACCEPT_BUDGET`), or stopped for a full
    /// pull queue: accept again next turn (once the queue has room).
    accept_more: bool,
    /// Since when accept keeps failing that way: it is logged once (and
    /// again every [`accept::REPEAT_LOG`]), not at every retry.
    accept_failing: Option<accept::Run>,
    /// Since when connections are refused because the server is full:
    /// logged once (and again every [`accept::REPEAT_LOG`]), not per
    /// connection.
    refusing: Option<accept::Run>,
    /// Since when new connections cannot be registered with the poller
    /// (dropped): logged once (and again every [`accept::REPEAT_LOG`]),
    /// not per connection.
    register_failing: Option<accept::Run>,
    /// Connections refused at `max_clients_per_ip`: a run, over once it
    /// has been quiet for [`accept::REPEAT_LOG`] (other addresses are
    /// admitted meanwhile, so no admission ends it).
    refusing_per_ip: accept::PerIpRefusals,
    /// Connections closing once their queue is written (see `close_after_flush`).
    draining: Vec<usize>,
    /// Connections held open after their peer finished (see `hold`), by
    /// client: slot and deadline.
    held: FastMap<ClientId, (usize, Instant)>,
    /// No held connection's deadline is earlier (`check_held` looks through
    /// them only from then: with `hold_for_replies` they may be many).
    held_due: Instant,
    /// Set when shutdown began: the deadline for flushing.
    stopping: Option<Instant>,
    /// Next scan for clients past the idle or frame timeout (`None`: neither is set).
    next_timer_check: Option<Instant>,
    /// The idle and frame timeouts' clock: it stands still while reading
    /// is paused, as `note_pause` last saw it.
    clock: clock::TimerClock,
    /// When the loop last gave up its CPU after a turn (`maybe_yield`).
    last_yield: Instant,
    /// Closed connections kept open while their peer still sends and our
    /// last output is not acknowledged (`lingering.rs`).
    lingering: lingering::Lingering,
    /// With keepalive on: the watch for peers that vanished with our
    /// output unacknowledged (`vanished.rs`).
    vanish: Option<vanished::Vanish>,
}

impl EventLoop {
    fn new(
        idx: usize,
        parts: LoopParts,
        handle: ServerHandle,
        listener: Option<TcpListener>,
        events_tx: Option<crate::queue::Sender<Event>>,
        kicks: std::rc::Rc<std::cell::Cell<u64>>,
    ) -> EventLoop {
        let core = handle.core().clone();
        let next_timer_check = timer_tick(&core.config).map(|t| Instant::now() + t);
        let vanish = vanished::Vanish::new(core.config.keepalive, Instant::now());
        let refusing_per_ip = accept::PerIpRefusals::new(core.config.per_ip_ipv6_prefix);
        let outbox = Outbox::new(events_tx, core.event_load.clone()).with_gate(LoopGate::new(
            core.reading.clone(),
            core.passing.clone(),
            idx,
        ));
        EventLoop {
            idx,
            core,
            poll: parts.poll,
            rx: parts.rx,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            by_id: FastMap::default(),
            dispatch: Dispatch {
                handle,
                outbox,
                kicks,
                idx,
            },
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            to_flush: Vec::new(),
            to_read: Vec::new(),
            stashed: Vec::new(),
            work: VecDeque::new(),
            pumping: false,
            ends: Vec::new(),
            next_target: 0,
            accept_retry: None,
            accept_more: false,
            accept_failing: None,
            refusing: None,
            register_failing: None,
            refusing_per_ip,
            draining: Vec::new(),
            held: FastMap::default(),
            held_due: Instant::now(),
            stopping: None,
            next_timer_check,
            clock: clock::TimerClock::default(),
            last_yield: Instant::now(),
            lingering: lingering::Lingering::default(),
            vanish,
        }
    }

    fn counters(&self) -> &LoopCounters {
        &self.core.counters[self.idx]
    }

    fn run(&mut self) {
        let mut events = MioEvents::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.wait(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("tcphub: poll failed on loop {}: {e}", self.idx);
                    self.core.stop();
                    self.stopping.get_or_insert_with(Instant::now);
                }
            }
            if self.timers_on() {
                self.clock.woke(Instant::now());
            }
            // Work this turn: events, or input (or connections) left over
            // from the last one.
            let worked = !events.is_empty()
                || !self.to_read.is_empty()
                || (self.accept_more && !self.dispatch.full_for_new_clients());
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    LISTENER => {
                        self.accept_all();
                        // An `on_connect` may have kicked a client whose
                        // input is next in this batch: the kick stops its
                        // messages at once (as from any callback of ours).
                        self.pump();
                    }
                    Token(t) if lingering::is_lingering(t) => self.linger_event(t),
                    Token(t) => {
                        if ev.is_writable() {
                            if let Some(c) = self.conn_mut(t) {
                                c.writable = true;
                                self.flush(t);
                            }
                        }
                        if ev.is_error() {
                            self.error_event(t); // (a paused client's)
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            // Urgent data (`MSG_OOB`): a read ends at its
                            // mark, so a short one does not mean drained.
                            let drain = ev.is_read_closed() || ev.is_error() || ev.is_priority();
                            self.read(t, drain);
                        }
                        self.pump();
                        // Write replies now rather than after the whole batch of
                        // events: lower latency, and the frames queued by one
                        // read still leave in one sendmsg per connection.
                        self.flush_scheduled();
                    }
                }
            }
            if let Some(at) = self.accept_retry {
                if Instant::now() >= at {
                    self.accept_retry = None;
                    self.accept_all();
                }
            }
            if self.accept_more && !self.dispatch.full_for_new_clients() {
                self.accept_all();
            }
            self.pump();
            self.dispatch.drain_backlog();
            self.read_again();
            self.flush_scheduled();
            let now = self.note_pause();
            self.check_timers(now);
            self.check_vanished();
            self.check_held();
            self.check_draining();
            self.check_lingering();
            if self.refusing_per_ip.due().is_some() {
                self.end_quiet_per_ip_run(); // logs only once the run is quiet
            }
            // The disconnect callbacks of clients those two closed may have
            // queued output for others: write it now, not at the next wakeup
            // (which may never come on a quiet loop).
            self.pump();
            self.flush_scheduled();
            self.note_pause();
            self.maybe_yield(worked);
            if let Some(deadline) = self.stopping {
                // A message a handle counted in `pending` before it saw the
                // stop is on its way: wait for it (`Core::post_message`).
                let posting = self.core.loops[self.idx].pending.load(Ordering::SeqCst) > 0;
                if (!posting && self.conns.iter().flatten().all(|c| c.queued_bytes() == 0))
                    || Instant::now() >= deadline
                {
                    self.finish_shutdown();
                    self.linger_out(deadline);
                    return;
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        let paused = self.read_paused();
        let accept_now =
            self.accept_more && self.stopping.is_none() && !self.dispatch.full_for_new_clients();
        if (!self.to_read.is_empty() && (!paused || self.discarding()))
            || accept_now
            || self.lingering_input_left()
        {
            return Some(Duration::ZERO);
        }
        let mut t: Option<Duration> = None;
        let mut consider = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        if paused && self.others_behind() {
            consider(BACKOFF);
        }
        let now = Instant::now();
        if let Some(at) = self.refusing_per_ip.due() {
            consider(at.saturating_duration_since(now));
        }
        if let Some(at) = self.accept_retry {
            // Not `BACKOFF`: out of descriptors, a 2 ms wakeup only finds
            // the retry not due yet (~500 wakeups a second).
            consider(at.saturating_duration_since(now));
        }
        // Connections closing after their flush must close by their deadline
        // even if nothing else happens on this loop.
        for &d in &self.draining {
            if let Some(Connection {
                closing: Some((_, deadline)),
                ..
            }) = self.conns.get(d).and_then(|c| c.as_ref())
            {
                consider(deadline.saturating_duration_since(now));
            }
        }
        if let Some(at) = self.next_timer_check {
            consider(at.saturating_duration_since(now));
        }
        if let Some(v) = &self.vanish {
            consider(v.next().saturating_duration_since(now));
        }
        if let Some(at) = self.next_hold_deadline() {
            consider(at.saturating_duration_since(now));
        }
        if let Some(at) = self.next_lingering_check() {
            consider(at.saturating_duration_since(now));
        }
        if let Some(deadline) = self.stopping {
            consider(
                deadline
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(50)),
            );
        }
        t
    }

    fn conn_mut(&mut self, t: usize) -> Option<&mut Connection> {
        self.conns.get_mut(t).and_then(|c| c.as_mut())
    }

    // ---- accepting: see `accept.rs` ------------------------------------

    fn adopt(&mut self, mut dealt: Dealt) {
        if self.stopping.is_some() {
            return; // dropped unadopted: `Dealt` gives its count back
        }
        let client = dealt.client;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if let Err(e) =
            self.poll
                .registry()
                .register(dealt.stream_mut(), Token(slot), CONNECTION_INTEREST)
        {
            self.register_failed(&client, &e);
            self.free.push(slot);
            return; // as above
        }
        self.registering_again();
        // Ours now: `close` gives the count back.
        let stream = dealt.adopt();
        // Counted here, not at accept: a client dealt to a loop that is
        // stopping is dropped unreported, so it must not count either.
        LoopCounters::add(&self.counters().accepted, 1);
        let decoder = Decoder::new(self.core.config.framing);
        let now = self.clock.now();
        self.conns[slot] = Some(Connection::new(stream, client, decoder, now));
        self.by_id.insert(client.id, slot);
        self.core.registry.insert(client, self.idx);
        log::debug!("tcphub: client {client} connected");
        let counters = &self.core.counters[self.idx];
        self.dispatch.connected(counters, &client);
    }

    // ---- closing -----------------------------------------------------------

    /// Ends connection `t` once what is queued for it — replies callbacks
    /// just queued included, so it pumps first — is written, or the linger
    /// time has passed; it is not read any more meanwhile.
    fn close_after_flush(&mut self, t: usize, reason: DisconnectReason) {
        let Some(id) = self.conn_mut(t).map(|c| c.client.id) else {
            return;
        };
        // A no-op when called from inside pump (FIFO order holds there). The
        // commands it applies may close this client, and an `Adopt` among
        // them may then reuse the slot: only the same client is closed below.
        self.pump();
        let deadline = deadline_after(self.core.config.linger);
        // The server's notice for a timeout, after what was queued before
        // (bounded by its own limit, so taken past the queue's).
        let notice = self.core.config.notice_for(&reason).cloned();
        let Some(conn) = self.conn_mut(t) else {
            return;
        };
        if conn.client.id != id || conn.closing.is_some() {
            return;
        }
        let scheduled = notice.is_some_and(|n| {
            conn.write_failed.is_none()
                && matches!(
                    conn.enqueue(n, usize::MAX),
                    crate::connection::Queued::Yes { needs_flush: true }
                )
        });
        conn.closing = Some((reason.clone(), deadline));
        // A timeout or an oversize frame counts once this close is the one
        // that happens (a kick the pump applied first is reported instead),
        // before the flush.
        if let Some(counter) = self.counters().cut_for(&reason) {
            LoopCounters::add(counter, 1);
        }
        if scheduled {
            self.to_flush.push(t);
        }
        self.draining.push(t);
        self.flush(t); // closes it at once when nothing is queued
    }

    /// Closes draining connections whose linger time is up.
    fn check_draining(&mut self) {
        if self.draining.is_empty() {
            return;
        }
        let now = Instant::now();
        let list = std::mem::take(&mut self.draining);
        for t in list {
            let due = match self.conns.get(t).and_then(|c| c.as_ref()) {
                Some(Connection {
                    closing: Some((reason, deadline)),
                    ..
                }) => (*deadline <= now).then(|| reason.clone()),
                _ => continue, // closed meanwhile (the slot may be reused)
            };
            match due {
                Some(reason) => {
                    self.close(t, reason);
                    self.pump();
                }
                None => self.draining.push(t),
            }
        }
    }

    fn close(&mut self, t: usize, reason: DisconnectReason) {
        let Some(mut conn) = self.conns.get_mut(t).and_then(|c| c.take()) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(t);
        let client = conn.client;
        if !self.stashed.is_empty() {
            self.stashed.retain(|(id, _)| *id != client.id);
        }
        // A held connection's end was reported when it was held.
        let reported = conn.held;
        if reported {
            self.held.remove(&client.id);
        }
        self.by_id.remove(&client.id);
        self.core.registry.remove(&client);
        self.core.release_client(self.idx, client.addr.ip());
        self.count_unwritten(&conn);
        match reason {
            DisconnectReason::Reset | DisconnectReason::Io(_) => drop(conn),
            // Given up with output unwritten (a slow consumer, the linger
            // time): a FIN would tell the peer it got everything — after a
            // frame's start, a lines client would even take the part for a
            // whole last line. Reset instead.
            _ if conn.frame_cut() || conn.queued_bytes() > 0 => {
                crate::connection::reset_on_close(&conn.stream);
                drop(conn);
            }
            // A slow consumer is not reading: no use waiting for it to.
            DisconnectReason::SlowConsumer => {
                conn.close_gracefully(&mut self.rbuf);
            }
            _ => {
                let input = conn.close_gracefully(&mut self.rbuf);
                self.linger(conn.stream, input);
            }
        }
        let counters = &self.core.counters[self.idx];
        log::debug!("tcphub: client {client} disconnected: {reason}");
        if !reported {
            LoopCounters::add(&counters.disconnected, 1);
            self.dispatch.disconnected(counters, &client, &reason);
        }
    }

    /// Counts the messages still queued for `conn`, which is giving up its
    /// output, in `Stats::unwritten` (its cut-off notice aside).
    fn count_unwritten(&self, conn: &Connection) {
        if conn.queued_bytes() == 0 {
            return;
        }
        let config = &self.core.config;
        let notice = conn
            .closing
            .as_ref()
            .and_then(|(why, _)| config.notice_for(why));
        let lost = conn.unwritten_messages(config.framing, notice);
        LoopCounters::add(&self.core.counters[self.idx].unwritten, lost);
    }

    fn begin_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(deadline_after(self.core.config.linger));
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.to_read.clear();
    }

    fn finish_shutdown(&mut self) {
        self.end_per_ip_run_at_stop();
        for t in 0..self.conns.len() {
            if let Some(c) = &self.conns[t] {
                let reason = c
                    .closing
                    .as_ref()
                    .map_or(DisconnectReason::ServerStopped, |(r, _)| r.clone());
                self.close(t, reason);
            }
        }
        // What is still queued (callbacks' last commands included) is moot
        // now; connections handed to us but not yet adopted give their count
        // back as they drop (`Dealt`; so do any that still arrive before
        // the channel goes with this thread).
        let mut moved = 0;
        shared::take_local_into(&mut self.work, &mut moved);
        let remote = &self.core.loops[self.idx];
        remote.applied(moved); // (moot: off the count at once)
        let since = Instant::now();
        loop {
            // (Runs other loops' callbacks gathered for this one included.)
            self.core.flush_lanes_into(self.idx, None, false);
            let moved = remote.drain_into(&self.rx, &mut self.work);
            remote.applied(moved);
            // A send counted in `pending` before it saw the stop may still
            // be on its way into the channel or a lane (microseconds; the
            // linger time can end first, at once when it is zero): wait for
            // it, so that it is counted below, not lost uncounted in a
            // channel nobody reads. One counted after this look sees the
            // stop and gives its count back (`Core::post_message`).
            let in_flight = remote.pending.load(Ordering::SeqCst);
            if in_flight == 0 {
                break;
            }
            if since.elapsed() >= IN_FLIGHT_WAIT {
                log::warn!(
                    "tcphub: event loop {} finished with {in_flight} bytes of sends \
                     counted that never reached it",
                    self.idx
                );
                break;
            }
            std::thread::yield_now();
        }
        // Sends that returned `Ok` and never got out (the linger time ran
        // out first) are counted like a send to a client that left.
        let unsent = self
            .work
            .iter()
            .map(|c| match c {
                Command::Send(_, run) => run.messages(),
                Command::SendMany(run, ids) => run.messages() * ids.len(),
                _ => 0,
            })
            .sum::<usize>();
        LoopCounters::add(&self.counters().undelivered, unsent as u64);
        self.work.clear();
        // Nothing waits in the channel any more: loops of other servers that
        // bridge to this one must not stay paused on a stale count.
        self.core.loops[self.idx]
            .pending
            .store(0, Ordering::Release);
        // Pull mode: what does not fit in the queue now is handed over (the
        // consumer may be the very thread that called stop()).
        self.dispatch.outbox.hand_over(&self.core.leftovers);
        log::debug!("tcphub: event loop {} finished", self.idx);
    }
}

/// Longest a finishing loop waits for sends already counted in its backlog
/// to reach its channel (see `EventLoop::finish_shutdown`); they are
/// microseconds away unless their thread is descheduled.
const IN_FLIGHT_WAIT: Duration = Duration::from_millis(500);

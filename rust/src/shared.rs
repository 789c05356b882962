//! State shared between the handles and the event-loop threads ([`Core`]),
//! and the commands handles send to loops. The thread-local shortcut that
//! lets a callback's sends to its own loop skip the channel and the wakeup
//! is in `local.rs`; joining the I/O threads in `threads.rs`.

mod local;
mod threads;

pub(crate) use local::*;
pub(crate) use threads::*;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::event::{Client, ClientId, DisconnectReason, Event};
use crate::framing::Framing;
use crate::handle::ServerHandle;
use crate::registry::Registry;
use crate::stats::LoopCounters;

/// What happens when a message does not fit in a client's outbound queue.
///
/// # Examples
///
/// ```
/// use tcphub::{Overflow, TcpServer};
/// let server = TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .overflow(Overflow::DropMessage)
///     .start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Disconnect the client with [`DisconnectReason::SlowConsumer`] (default).
    /// The message that did not fit is not delivered and is counted in
    /// [`Stats::undelivered`](crate::Stats::undelivered).
    #[default]
    Disconnect,
    /// Drop this message for this client and count it in [`Stats::dropped`](crate::Stats::dropped).
    DropMessage,
}

/// Server settings, fixed at `start()`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    pub max_clients: usize,
    /// Most clients from one IP address at a time (`None`: no limit).
    pub max_clients_per_ip: Option<usize>,
    /// How many leading bits of an IPv6 client's address count as its
    /// address for `max_clients_per_ip` (128: all of it).
    pub per_ip_ipv6_prefix: u8,
    pub framing: Framing,
    pub threads: usize,
    pub max_queue_bytes: usize,
    pub overflow: Overflow,
    pub idle_timeout: Option<Duration>,
    pub frame_timeout: Option<Duration>,
    pub keepalive: Option<Duration>,
    pub nodelay: bool,
    pub backlog: i32,
    pub linger: Duration,
    /// How long a client that finished sending is held open for replies
    /// (`TcpServer::hold_for_replies`); `None`: the default hold (none with
    /// callbacks, until the next call for events in pull mode).
    pub hold_for_replies: Option<Duration>,
    pub event_capacity: usize,
    /// How long an idle loop keeps polling before it sleeps (zero: off).
    pub busy_poll: Duration,
    /// The application's notice for connections refused at `max_clients`,
    /// as given (framed at `start()`, when the framing is final).
    pub full_message: Option<Arc<[u8]>>,
    /// That notice framed, written to each refused connection before it is
    /// closed, so the peer learns why instead of seeing a bare EOF.
    pub full_frame: Option<Arc<[u8]>>,
    /// Likewise for connections refused at `max_clients_per_ip`.
    pub per_ip_full_message: Option<Arc<[u8]>>,
    pub per_ip_full_frame: Option<Arc<[u8]>>,
    /// The notice for clients cut off by `idle_timeout`, as given, and
    /// framed at `start()`: queued before the connection is closed.
    pub idle_message: Option<Arc<[u8]>>,
    pub idle_frame: Option<Arc<[u8]>>,
    /// Likewise for `frame_timeout`.
    pub frame_timeout_message: Option<Arc<[u8]>>,
    pub frame_timeout_frame: Option<Arc<[u8]>>,
    /// Likewise for clients cut off for a frame over the framing's limit.
    pub frame_too_large_message: Option<Arc<[u8]>>,
    pub frame_too_large_frame: Option<Arc<[u8]>>,
}

impl Config {
    /// The framed notice for a client cut off for `why`, if one is set
    /// (the timeouts and an oversize frame can have one).
    pub fn notice_for(&self, why: &crate::event::DisconnectReason) -> Option<&Arc<[u8]>> {
        match why {
            crate::event::DisconnectReason::IdleTimeout => self.idle_frame.as_ref(),
            crate::event::DisconnectReason::FrameTimeout => self.frame_timeout_frame.as_ref(),
            crate::event::DisconnectReason::FrameTooLarge => self.frame_too_large_frame.as_ref(),
            _ => None,
        }
    }
}

/// Longest framed [`full_message`](crate::TcpServer::full_message): it is
/// written once, without waiting, into a new connection's send buffer. The
/// timeout notices ([`idle_timeout_message`](crate::TcpServer::idle_timeout_message),
/// [`frame_timeout_message`](crate::TcpServer::frame_timeout_message)),
/// queued past the client's queue bound, have the same limit.
///
/// # Examples
///
/// ```
/// // Lines framing adds one byte (the newline): 4095 bytes of text fit.
/// let notice = vec![b'x'; tcphub::MAX_FULL_MESSAGE];
/// let too_long = tcphub::TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .framing(tcphub::Framing::lines())
///     .full_message(&notice)
///     .start();
/// assert!(matches!(too_long, Err(tcphub::Error::InvalidConfig(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_FULL_MESSAGE: usize = 4096;

pub(crate) type ConnectFn = dyn Fn(&ServerHandle, &Client) + Send + Sync;
pub(crate) type MessageFn = dyn Fn(&ServerHandle, &Client, &[u8]) + Send + Sync;
pub(crate) type DisconnectFn = dyn Fn(&ServerHandle, &Client, &DisconnectReason) + Send + Sync;

/// The application's callbacks; all `None` means pull mode.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub on_connect: Option<Box<ConnectFn>>,
    pub on_message: Option<Box<MessageFn>>,
    pub on_disconnect: Option<Box<DisconnectFn>>,
}

impl Callbacks {
    pub fn any(&self) -> bool {
        self.on_connect.is_some() || self.on_message.is_some() || self.on_disconnect.is_some()
    }
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks")
            .field("on_connect", &self.on_connect.is_some())
            .field("on_message", &self.on_message.is_some())
            .field("on_disconnect", &self.on_disconnect.is_some())
            .finish()
    }
}

/// A request from a handle to the loop that owns the connection(s).
#[derive(Debug)]
pub(crate) enum Command {
    /// Take over a freshly accepted connection.
    Adopt(Box<crate::event_loop::Dealt>),
    /// Queue framed messages (one, or a run a loop's callbacks gathered)
    /// for one client.
    Send(ClientId, crate::broadcast::Run),
    /// Queue framed messages (one, or a run a loop's callbacks gathered)
    /// for every client of the audience (the clients that were connected
    /// when `send_all` was called, perhaps but one).
    Broadcast(crate::broadcast::Run, Audience),
    /// Queue one framed message (a run of one), shared, for each of these
    /// clients of the loop (`send_many`; sorted, no id twice).
    SendMany(crate::broadcast::Run, Box<[ClientId]>),
    /// Disconnect a client with `Kicked`.
    Kick(ClientId),
    /// `pause_client()`: read nothing more from this client until resumed.
    PauseClient(ClientId),
    /// `resume_client()`: read this client again, what it sent meanwhile
    /// first.
    ResumeClient(ClientId),
    /// Pull mode: the application has taken this held client's
    /// `Disconnected`; the linger time for its replies starts now.
    Taken(ClientId),
    /// Pull mode: the application has dealt with everything up to this
    /// client's `Disconnected`; a connection held open after the peer
    /// finished sending may close now (see `EventLoop::hold`).
    Release(ClientId),
    /// `stop_input()` was called: drop what waits for room in the pull
    /// queue and read what was left unread, to drop it.
    StopInput,
    /// `resume_input()` was called: read the connections left unread
    /// while input was paused.
    ResumeInput,
    /// Begin graceful shutdown.
    Shutdown,
}

/// Who a broadcast goes to: the clients with an id below `below` (those
/// connected when `send_all` was called: ids only grow) except `except`
/// (0, which no client has, for nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audience {
    pub below: ClientId,
    pub except: ClientId,
}

impl Audience {
    /// Whether client `id` is in the audience.
    pub fn has(&self, id: ClientId) -> bool {
        id < self.below && id != self.except
    }
}

/// A handle's way into one loop.
#[derive(Debug)]
pub(crate) struct LoopRemote {
    pub tx: Sender<Command>,
    /// Released by the loop as it ends (`wake.rs`).
    pub waker: Arc<crate::wake::Wake>,
    /// Set by producers, cleared by the loop before it drains the channel:
    /// only the first command after a drain pays for the `eventfd` write.
    pub notified: AtomicBool,
    /// Set by a thread that put a `PauseClient` or `Kick` into the channel
    /// (after it did), cleared by the loop before it drains the channel.
    /// The loop looks at it around each read and applies the commands
    /// before it hands out what it read: a pause or kick from another
    /// thread then holds back (or drops) whatever the client sent after
    /// the call returned, not only what the loop reads from its next turn.
    pub control: AtomicBool,
    /// Message bytes (and pauses, resumes and kicks) posted through the
    /// channel and not yet applied by the loop (taken off once applied, not
    /// once taken from the channel: see `drain_into`): bounds the channel
    /// and what the loop took from it, so a thread that sends faster than the
    /// loops can write waits instead of growing memory without limit. Shared
    /// with the loops of other servers that post here from their callbacks
    /// (they stop reading while it is over the bound); zeroed when the loop
    /// ends.
    pub pending: Arc<AtomicUsize>,
    /// Set while the loop may sleep in `epoll_wait`: a thread that fills an
    /// empty lane into it (another loop's callback, an application thread)
    /// wakes it (see `gather.rs`).
    pub sleeping: AtomicBool,
    /// Clients this loop owns or is being handed (counted when loop 0
    /// admits them): new connections go to the loop with the fewest.
    pub clients: AtomicUsize,
}

/// How far (in message bytes) a loop's command channel may run ahead of the
/// loop before non-I/O threads posting to it wait.
pub(crate) const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// Most message bytes the pull-mode event queue holds (besides its
/// capacity in events), each event counting the memory it takes besides its
/// message's bytes too (about 100 bytes), so many tiny messages are bounded
/// as well; a single larger message still fits an empty queue.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::EVENT_QUEUE_BYTES, 64 * 1024 * 1024);
/// ```
pub const EVENT_QUEUE_BYTES: usize = 64 * 1024 * 1024;

impl LoopRemote {
    /// Moves what `rx` (this loop's channel) holds into `out`, in order;
    /// returns what it moved counts in the loop's backlog. The caller takes
    /// that off the count (`pending`) once it has applied those commands,
    /// not now: taken off at the move, a thread posting as fast as the loop
    /// moves never waited, while what was moved piled up unapplied (a
    /// thread toggling pauses stalled an echoing loop, 2 GB in 4 s).
    #[must_use]
    pub fn drain_into(&self, rx: &Receiver<Command>, out: &mut impl Extend<Command>) -> usize {
        // Mostly empty (a loop drains at every pump): two loads instead of
        // a `try_recv`'s ~70 instructions. A send completing meanwhile
        // wakes the loop, as it would after a `try_recv` that missed it.
        if rx.is_empty() {
            return 0;
        }
        let mut moved = 0;
        // What the channel holds now, not what producers add meanwhile: a
        // thread posting as fast as this takes (pauses and resumes toggled
        // in a tight loop) kept the loop here for good, serving nobody, its
        // work queue growing. The rest comes at the next pump: its posts
        // woke the loop again (`notified` was cleared before this).
        for _ in 0..rx.len() {
            let Ok(cmd) = rx.try_recv() else {
                break;
            };
            moved += cmd.payload_len();
            out.extend(Some(cmd));
        }
        moved
    }

    /// Takes `applied` (see [`drain_into`](LoopRemote::drain_into)) off the
    /// loop's backlog count.
    pub fn applied(&self, applied: usize) {
        if applied > 0 {
            self.pending.fetch_sub(applied, Ordering::AcqRel);
        }
    }
}

impl Command {
    /// Message bytes this command carries plus the memory it takes beyond
    /// them (counted against `MAX_PENDING_BYTES`); for a pause, resume or
    /// kick of a client, the command's size.
    pub fn payload_len(&self) -> usize {
        match self {
            Command::Send(_, run) | Command::Broadcast(run, _) => {
                run.joined.len() + run.messages() * crate::connection::ENTRY_OVERHEAD
            }
            // One buffer, an entry per recipient, and the id list.
            Command::SendMany(run, ids) => {
                run.joined.len()
                    + ids.len() * crate::connection::ENTRY_OVERHEAD
                    + ids.len() * std::mem::size_of::<ClientId>()
            }
            // A client's pause, resume or kick: the command itself, so a
            // thread that toggles pauses in a tight loop is bounded as a
            // sender is (it grew the channel without limit: 1.7 GB in 4 s).
            Command::PauseClient(_) | Command::ResumeClient(_) | Command::Kick(_) => {
                std::mem::size_of::<Command>()
            }
            _ => 0,
        }
    }
}

/// The next client id, shared by every server in the process: an id names
/// one connection of one server, ever — a `Client` (or id) kept from another
/// server, or from a previous run of this one, names no client here
/// ([`Error::NoSuchClient`](crate::Error::NoSuchClient)) rather than a
/// stranger. Also the bound that keeps `send_all` from the clients admitted
/// after it was called (`Audience::below`): a client admitted later, by any
/// server, gets a higher id — needed where the loop takes such a client in
/// before it applies the message (loop 0's own clients of an accept batch;
/// a client dealt to another loop has its `Adopt` queued behind the
/// message, unless it got its id between the call's read and its post).
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// A new client's id (see [`NEXT_CLIENT_ID`]).
pub fn new_client_id() -> ClientId {
    NEXT_CLIENT_ID.fetch_add(1, Ordering::AcqRel)
}

/// Every client admitted so far, by any server, has an id below this.
pub fn client_ids_below() -> ClientId {
    NEXT_CLIENT_ID.load(Ordering::Acquire)
}

/// Everything the handles and the loops share.
#[derive(Debug)]
pub(crate) struct Core {
    pub config: Config,
    pub local_addr: SocketAddr,
    /// False once `stop()` was called: new sends fail with `NotRunning`.
    pub running: AtomicBool,
    /// False once `stop_input()` or `stop()` was called: the loops read no
    /// more input and hand out no more messages — also the pull queue's
    /// gate (`Outbox::with_gate`), which then drops the messages waiting
    /// for room instead of queueing them.
    pub reading: Arc<AtomicBool>,
    /// Per loop, whether it is handing out a message it found `reading`
    /// set for: `stop_input()` and `stop()` wait for those (see `input_gate.rs`).
    pub passing: Arc<[crate::input_gate::Passing]>,
    /// True between `pause_input()` and `resume_input()`: the loops do not
    /// read (as while the pull queue is full).
    pub input_paused: AtomicBool,
    /// Where the loops run: in a child forked since, they do not (see
    /// `fork.rs`), and this server acts as stopped there.
    pub origin: crate::fork::Origin,
    pub loops: Vec<LoopRemote>,
    /// Messages gathered for the loops by the other loops' callbacks and by
    /// application threads (see `gather.rs`).
    pub lanes: crate::gather::Lanes,
    /// One counter block per loop, so counting never contends.
    pub counters: Box<[LoopCounters]>,
    pub registry: Registry,
    /// Admitted connections not yet closed (including ones in flight to their
    /// loop), checked against `max_clients` at accept.
    pub active: AtomicUsize,
    /// Those of `active` per IP address, checked against
    /// `max_clients_per_ip` at accept (empty without that limit; touched
    /// only at accept and close). SipHash, not the registry's fast hash:
    /// the keys are the peers' to choose (an IPv6 host has 2^64 of them).
    pub per_ip: Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    pub callbacks: Callbacks,
    /// Pull-mode queue; loops hold the senders, so it ends when they exit.
    pub events_rx: crate::queue::Receiver<Event>,
    /// Pull-mode events that did not fit in the queue when the loops
    /// finished (e.g. the consumer itself called `stop()`): yielded by
    /// `Events` after the queue, so no `Disconnected` is ever lost.
    pub leftovers: Arc<Mutex<VecDeque<Event>>>,
    /// Pull mode: ends of half-closed clients handed to the application,
    /// released at its next call for events (see `event_loop::held`). One
    /// per server: `events()` may be called afresh for every take.
    pub releases: Arc<crate::event::Releases>,
    /// Events and message bytes in the pull-mode queue (bounded by
    /// `event_capacity` and [`EVENT_QUEUE_BYTES`]): added by the loops'
    /// `Outbox`es, subtracted by `Events` as it hands events out.
    pub event_load: Arc<crate::outbox::QueueLoad>,
    /// Loop threads, joined by the first `stop()` not running on one of them.
    pub threads: Mutex<Vec<JoinHandle<()>>>,
    /// The user-facing stop-on-drop token, for handles cloned inside callbacks.
    pub user_token: OnceLock<Weak<StopGuard>>,
}

/// Stops the server when the last user handle is dropped.
#[derive(Debug)]
pub(crate) struct StopGuard {
    pub core: Arc<Core>,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.core.stop();
    }
}

/// Runs an application callback, catching its panic; whether it panicked.
/// The panic's payload is the application's value too (`panic_any`), and
/// dropping it may panic again, outside the first catch: that would end
/// the I/O thread. Its drop is caught as well, and a payload of that second
/// panic is leaked rather than dropped (it could do the same).
///
/// A child forked inside the callback ends when it returns (see
/// [`crate::fork::end_if_forked_since`]).
pub(crate) fn call_guarded(f: impl FnOnce()) -> bool {
    let generation = crate::fork::generation();
    let Err(payload) = catch_unwind(AssertUnwindSafe(f)) else {
        crate::fork::end_if_forked_since(generation, false);
        return false;
    };
    crate::fork::end_if_forked_since(generation, true);
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
    true
}

/// Takes `len` off a loop's backlog count `pending` for a message that did
/// not reach the loop, never below zero: a finished loop zeroes the count,
/// which may already have left this message out.
fn give_back(pending: &AtomicUsize, len: usize) {
    if len > 0 {
        let _ = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
            Some(p.saturating_sub(len))
        });
    }
}

impl LoopRemote {
    /// Gives back `len` counted for a message that found the server
    /// stopping (see `Core::post_message`), and wakes the loop: it may be
    /// waiting for its count to reach zero.
    pub(crate) fn uncount(&self, len: usize) {
        give_back(&self.pending, len);
        if !self.notified.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

impl Core {
    /// Forgets one client of loop `idx` (closed, or dealt to it and never
    /// adopted): it no longer counts against `max_clients`, that loop, or
    /// `max_clients_per_ip` for its address `ip`.
    pub fn release_client(&self, idx: usize, ip: std::net::IpAddr) {
        self.active.fetch_sub(1, Ordering::AcqRel);
        self.loops[idx].clients.fetch_sub(1, Ordering::Relaxed);
        if self.config.max_clients_per_ip.is_some() {
            let ip = crate::server::per_ip_network(ip, self.config.per_ip_ipv6_prefix);
            let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }

    /// Counts a connection from `ip` against `max_clients_per_ip`: `false`
    /// (and nothing counted) when that many from `ip` (its IPv6 network,
    /// with `per_ip_ipv6_prefix` under 128) are connected.
    pub fn admit_ip(&self, ip: std::net::IpAddr) -> bool {
        let Some(max) = self.config.max_clients_per_ip else {
            return true;
        };
        let ip = crate::server::per_ip_network(ip, self.config.per_ip_ipv6_prefix);
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// Delivers a command to loop `idx`: directly when called from that loop's
    /// own thread (inside a callback), otherwise through its channel + waker.
    ///
    /// A thread that is not a tcphub event loop (of any server) waits while
    /// the loop is more than [`MAX_PENDING_BYTES`] behind (backpressure).
    /// Event-loop threads never wait here — not for their own server's loops
    /// nor for another server's — so loops cannot deadlock each other; a loop
    /// that posts to a loop of its own server that is behind pauses reading
    /// its sockets instead (`EventLoop::read_paused`).
    pub fn post(&self, idx: usize, cmd: Command) {
        // Only a message can be refused, and only a message is not posted.
        let _ = self.post_message(idx, cmd);
    }

    /// [`post`](Core::post) for a message (`Send`, `Broadcast`) from a
    /// handle that found the server running: `Err(NotRunning)`, the message
    /// not posted, when the server has begun stopping meanwhile. The check
    /// comes after the message is counted in the loop's `pending`, and a
    /// stopping loop ends only once `pending` is zero (`EventLoop::run`):
    /// either the loop sees the count and takes the message before it ends,
    /// or this sees the stop — a message accepted here is never left in the
    /// channel of a loop that has finished.
    pub fn post_message(&self, idx: usize, cmd: Command) -> crate::error::Result<()> {
        if self.origin.forked() {
            return Err(crate::error::Error::NotRunning); // no loop reads here
        }
        let len = cmd.payload_len();
        let message = matches!(
            cmd,
            Command::Send(..) | Command::Broadcast(..) | Command::SendMany(..)
        );
        let (cmd, on_loop) = match with_local(|l| match l {
            Some(ll) if std::ptr::eq(ll.core, self) && ll.idx == idx => {
                // What other threads gathered or posted for this loop, then
                // what this one gathered: all older than this command (see
                // `gather.rs`).
                self.catch_up(ll);
                ll.flush_gathered();
                match cmd {
                    Command::Kick(id) => {
                        ll.kicked.push(id);
                        ll.kicks.set(ll.kicks.get().wrapping_add(1));
                    }
                    Command::PauseClient(id) => {
                        ll.paused_clients.push(id);
                        ll.kicks.set(ll.kicks.get().wrapping_add(1));
                    }
                    _ => {}
                }
                ll.cmds.push(cmd);
                None
            }
            Some(ll) => {
                if !std::ptr::eq(ll.core, self) && len > 0 {
                    ll.watch(&self.loops[idx].pending);
                }
                Some((cmd, true))
            }
            None => Some((cmd, false)),
        }) {
            None => return Ok(()),
            Some(c) => c,
        };
        let remote = &self.loops[idx];
        if len > 0 {
            if !on_loop {
                self.wait_for_room(remote);
            }
            // Counted, then checked (see above; SeqCst, as the loop's check).
            remote.pending.fetch_add(len, Ordering::SeqCst);
            // (A pause, resume or kick is posted still, as before it was
            // counted: a stopping loop takes it, or `deliver` gives it back.)
            if message && !self.running.load(Ordering::SeqCst) {
                remote.uncount(len);
                return Err(crate::error::Error::NotRunning);
            }
        }
        // Broadcasts the loops' callbacks gathered for this loop go first.
        self.flush_lanes_into(idx, None, true);
        let control = matches!(cmd, Command::PauseClient(_) | Command::Kick(_));
        if self.deliver(idx, cmd, true) {
            if control {
                remote.control.store(true, Ordering::Release);
            }
            Ok(())
        } else {
            Err(crate::error::Error::NotRunning)
        }
    }

    /// Puts `cmd` (its message bytes counted in the loop's `pending`) into
    /// loop `idx`'s channel and, if `wake`, wakes the loop unless a command
    /// before already did; false (the count given back) when the loop is
    /// gone: the server has stopped. (An `Adopt`, dealt by loop 0 before it
    /// saw the stop, gives its count back as it drops: `Dealt`.)
    pub(crate) fn deliver(&self, idx: usize, cmd: Command, wake: bool) -> bool {
        let remote = &self.loops[idx];
        let len = cmd.payload_len();
        if remote.tx.send(cmd).is_err() {
            give_back(&remote.pending, len);
            return false;
        }
        if wake && !remote.notified.swap(true, Ordering::AcqRel) {
            if let Err(e) = remote.waker.wake() {
                log::error!("tcphub: cannot wake event loop {idx}: {e}");
            }
        }
        true
    }

    /// Waits (briefly sleeping) while loop `remote` is too far behind,
    /// unless the server is stopping.
    pub(crate) fn wait_for_room(&self, remote: &LoopRemote) {
        let mut nap = Duration::from_micros(20);
        while remote.pending.load(Ordering::Acquire) > MAX_PENDING_BYTES
            && self.running.load(Ordering::Acquire)
        {
            if !remote.notified.swap(true, Ordering::AcqRel) {
                let _ = remote.waker.wake();
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(1));
        }
    }

    /// Starts a graceful stop (idempotent) without waiting for the loops
    /// (only, microseconds at most, for one handing out a message: see
    /// `input_gate.rs`).
    pub fn begin_stop(&self) {
        // (Before `running`: a loop that sees the stop reads nothing more.)
        // Through the input gate, as `stop_input()` closes it: once `running`
        // reads false no loop is still handing out a message it found
        // `reading` set for (a store alone let a loop that had just looked
        // queue one more, or start `on_message`, after).
        self.close_input();
        // SeqCst: ordered with `post_message`'s count and check.
        if self.running.swap(false, Ordering::SeqCst) && !self.origin.forked() {
            log::debug!("tcphub: stopping server on {}", self.local_addr);
            for idx in 0..self.loops.len() {
                self.post(idx, Command::Shutdown);
            }
        }
    }

    /// Clears `reading` (idempotent) through the input gate: once this
    /// returns, no loop is still handing out a message it found `reading`
    /// set for (`input_gate.rs`; every caller waits, not only the first).
    /// Returns whether the loops are to be told: this call cleared it, in
    /// the process the loops run in (a forked child only clears it: the
    /// loops are the parent's, their marks copied as they were at the fork).
    pub fn close_input(&self) -> bool {
        if self.origin.forked() {
            self.reading.store(false, Ordering::SeqCst);
            return false;
        }
        crate::input_gate::close(&self.reading, &self.passing)
    }

    /// Starts a graceful stop (idempotent) and, unless called on a tcphub
    /// I/O thread (an event loop of any server, a client's I/O thread), waits
    /// for the loops to finish. An I/O thread never waits for another one:
    /// two of them stopping or closing each other from their callbacks would
    /// deadlock, and one alone would stall its own peers for a linger time.
    pub fn stop(&self) {
        self.begin_stop();
        if on_any_io_thread() {
            return;
        }
        if self.origin.forked() {
            forget_threads(&self.threads);
            return;
        }
        join_all(&self.threads, "an event loop thread");
    }

    /// As [`stop`](Core::stop), but waits at most `limit` for the loops;
    /// whether they have finished (on a tcphub I/O thread, without
    /// waiting: whether they had already).
    pub fn stop_within(&self, limit: Duration) -> bool {
        self.begin_stop();
        if self.origin.forked() {
            forget_threads(&self.threads);
            return true;
        }
        let limit = if on_any_io_thread() {
            Duration::ZERO
        } else {
            limit
        };
        wait_finished(limit, || {
            join_if_finished(&self.threads, "an event loop thread")
        })
    }
}

// A command is moved through every loop's channel and work queue: the
// `send_many` variant must not make all of them larger.
const _: () = assert!(std::mem::size_of::<Command>() <= 56);

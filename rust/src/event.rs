//! What the server tells the application: [`Client`], [`Event`],
//! [`DisconnectReason`], and the pull-mode receiver [`Events`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::queue::{Receiver, RecvTimeoutError, TryRecvError};

use crate::shared::{Command, Core};

/// Identifies one connection: unique in the process and never reused —
/// across servers and across a server's restarts — so an id kept from
/// another server, or from a client that left, names nobody
/// ([`Error::NoSuchClient`](crate::Error::NoSuchClient)) rather than
/// someone else. Ids grow in accept order (with gaps: other servers take
/// numbers too).
///
/// # Examples
///
/// ```
/// let id: tcphub::ClientId = 7;
/// assert_eq!(id, 7u64);
/// ```
pub type ClientId = u64;

/// A connected client: its id and remote address.
///
/// # Examples
///
/// ```
/// let c = tcphub::Client { id: 1, addr: "127.0.0.1:5000".parse().unwrap() };
/// assert_eq!(c.to_string(), "#1 127.0.0.1:5000");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    /// Its id: unique in the process, never reused (see [`ClientId`]).
    pub id: ClientId,
    /// The client's remote ip:port, as `send_to` expects it.
    pub addr: SocketAddr,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.id, self.addr)
    }
}

/// Why a connection ended.
///
/// # Examples
///
/// ```
/// use tcphub::DisconnectReason;
/// assert_eq!(DisconnectReason::SlowConsumer.to_string(), "slow consumer");
/// assert_eq!(DisconnectReason::SlowConsumer.code(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer closed its side cleanly (EOF between frames).
    ClosedByPeer,
    /// The peer reset the connection (RST).
    Reset,
    /// Another I/O failure, including EOF in the middle of a
    /// `LengthPrefixed` frame (`UnexpectedEof`; under `Lines` an
    /// unterminated last line is a message, and the end `ClosedByPeer`).
    Io(io::ErrorKind),
    /// The peer sent a frame larger than the framing's `max_len`.
    FrameTooLarge,
    /// The client's outbound queue overflowed because it does not read fast enough.
    SlowConsumer,
    /// Nothing was received from the client for the configured idle timeout.
    IdleTimeout,
    /// The application called `disconnect` for this client.
    Kicked,
    /// The server is stopping.
    ServerStopped,
    /// This side closed the connection (`TcpClient::close`), and did so
    /// first: a peer that ended its side before the close's flush was done
    /// gives [`ClosedByPeer`](DisconnectReason::ClosedByPeer).
    ClosedLocally,
    /// The client started a frame and did not finish it within the configured
    /// frame timeout (a "slowloris" client, see
    /// [`TcpServer::frame_timeout`](crate::TcpServer::frame_timeout)).
    FrameTimeout,
    /// A client's reconnecting gave up: `attempts` attempts in a row failed
    /// (its [`Reconnect::max_attempts`](crate::Reconnect::max_attempts)),
    /// and the client is closed for good. Only
    /// [`TcpClient::disconnect_reason`](crate::TcpClient::disconnect_reason)
    /// gives it, as the final reason; the `Disconnected` event before the
    /// attempts says why the connection dropped.
    ReconnectGaveUp {
        /// The failed attempts (the configured maximum).
        attempts: u32,
    },
}

impl DisconnectReason {
    /// A stable integer for the bindings (C `TCPHUB_REASON_*` constants).
    ///
    /// 0 ClosedByPeer, 1 Reset, 2 Io, 3 FrameTooLarge, 4 SlowConsumer,
    /// 5 IdleTimeout, 6 Kicked, 7 ServerStopped, 8 ClosedLocally, 9 FrameTimeout,
    /// 10 ReconnectGaveUp.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcphub::DisconnectReason::ServerStopped.code(), 7);
    /// ```
    pub fn code(&self) -> i32 {
        match self {
            DisconnectReason::ClosedByPeer => 0,
            DisconnectReason::Reset => 1,
            DisconnectReason::Io(_) => 2,
            DisconnectReason::FrameTooLarge => 3,
            DisconnectReason::SlowConsumer => 4,
            DisconnectReason::IdleTimeout => 5,
            DisconnectReason::Kicked => 6,
            DisconnectReason::ServerStopped => 7,
            DisconnectReason::ClosedLocally => 8,
            DisconnectReason::FrameTimeout => 9,
            DisconnectReason::ReconnectGaveUp { .. } => 10,
        }
    }

    /// The reason for an I/O error: resets become [`DisconnectReason::Reset`].
    pub(crate) fn from_io(e: &io::Error) -> DisconnectReason {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => DisconnectReason::Reset,
            k => DisconnectReason::Io(k),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClosedByPeer => f.write_str("closed by peer"),
            DisconnectReason::Reset => f.write_str("connection reset"),
            DisconnectReason::Io(io::ErrorKind::UnexpectedEof) => {
                f.write_str("closed in the middle of a frame")
            }
            DisconnectReason::Io(k) => write!(f, "i/o error: {k}"),
            DisconnectReason::FrameTooLarge => f.write_str("frame too large"),
            DisconnectReason::SlowConsumer => f.write_str("slow consumer"),
            DisconnectReason::IdleTimeout => f.write_str("idle timeout"),
            DisconnectReason::Kicked => f.write_str("kicked"),
            DisconnectReason::ServerStopped => f.write_str("server stopped"),
            DisconnectReason::ClosedLocally => f.write_str("closed locally"),
            DisconnectReason::FrameTimeout => f.write_str("frame not finished in time"),
            DisconnectReason::ReconnectGaveUp { attempts: 1 } => {
                f.write_str("gave up reconnecting after 1 attempt")
            }
            DisconnectReason::ReconnectGaveUp { attempts } => {
                write!(f, "gave up reconnecting after {attempts} attempts")
            }
        }
    }
}

/// One thing that happened on the server, in pull mode.
///
/// Events of one client arrive in order: `Connected`, its `Message`s, then
/// exactly one `Disconnected`.
///
/// # Examples
///
/// ```
/// use tcphub::{Event, TcpServer};
/// use std::io::Write;
/// use std::time::Duration;
///
/// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let mut sock = std::net::TcpStream::connect(server.local_addr())?;
/// sock.write_all(b"hello")?;
/// let events = server.events();
/// assert!(matches!(events.recv_timeout(Duration::from_secs(10))?, Event::Connected(_)));
/// match events.recv_timeout(Duration::from_secs(10))? {
///     Event::Message(_, bytes) => assert_eq!(bytes, b"hello"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A client connected.
    Connected(Client),
    /// A client sent a message (one frame).
    Message(Client, Vec<u8>),
    /// A client left; no more events follow for it.
    ///
    /// In pull mode, when the client only finished sending
    /// ([`DisconnectReason::ClosedByPeer`], or an unfinished last frame),
    /// its connection stays open for replies to its last messages: until
    /// your next call for events on this server (from any receiver or
    /// thread: taking one, [`recv_batch`](Events::recv_batch) or
    /// [`wait_ready`](Events::wait_ready), not [`len`](Events::len)), or
    /// the linger time (2 s by default) after you took this event — or after the client's end, if you take it later than that
    /// (raise [`linger`](crate::TcpServer::linger) for a consumer that runs
    /// further behind). Meanwhile `send`, `send_to` and broadcasts still
    /// reach it, though it is no longer listed or counted (it still counts
    /// toward `max_clients`, as its socket is open; leave it out of a
    /// notice about its leaving with `send_all_except`). With several
    /// consumer threads, another thread's next call ends the hold while one
    /// may still be answering: reply before asking for more, or consume from
    /// one thread. A `linger` of zero turns the hold off.
    ///
    /// With [`hold_for_replies`](crate::TcpServer::hold_for_replies) set
    /// (for answers made on other threads, later) the hold is yours, with
    /// callbacks too: it ends when you
    /// [`disconnect`](crate::ServerHandle::disconnect) the client or that
    /// long after you took this event, not at your next call.
    Disconnected(Client, DisconnectReason),
}

impl Event {
    /// The client the event is about.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = tcphub::Client { id: 3, addr: "127.0.0.1:9".parse().unwrap() };
    /// assert_eq!(tcphub::Event::Connected(c).client().id, 3);
    /// ```
    pub fn client(&self) -> &Client {
        match self {
            Event::Connected(c) | Event::Message(c, _) | Event::Disconnected(c, _) => c,
        }
    }
}

/// The pull-mode event receiver returned by [`ServerHandle::events`](crate::ServerHandle::events).
///
/// Iterating blocks for the next event and ends once the server has stopped
/// and every event has been taken. Cloning gives another receiver on the same
/// queue (each event goes to one of them). The queue is bounded; while it is
/// full the server stops reading from clients (TCP backpressure) rather than
/// dropping or buffering without limit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let events = server.events();
/// assert!(events.try_recv().is_none());
/// assert!(events.recv_timeout(Duration::from_millis(10)).is_err());
/// server.stop();
/// assert_eq!(events.count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Events {
    pub(crate) rx: Receiver<Event>,
    /// Events that did not fit in the queue when the server stopped; taken
    /// after the queue is empty and closed.
    pub(crate) leftovers: Arc<Mutex<VecDeque<Event>>>,
    /// The server (weak: a receiver kept after the server is gone must not
    /// keep its sockets): for releasing held connections (`Releases`).
    pub(crate) core: Weak<Core>,
    /// The server's `Releases`, checked without reaching the server on
    /// every call.
    pub(crate) releases: Arc<Releases>,
    /// Events and message bytes in the queue (`Core::event_load`): what is
    /// handed out is subtracted, making room for the loops.
    pub(crate) load: Arc<crate::outbox::QueueLoad>,
    /// The server's fork generation: in a child forked since, no loop
    /// queues events, and none is waited for (see `fork.rs`).
    pub(crate) origin: crate::fork::Origin,
    /// The server runs in callback mode: nothing is ever queued here, and
    /// the calls that can say so answer [`Error::CallbackMode`](crate::Error::CallbackMode).
    pub(crate) callback_mode: bool,
}

/// The backlog ([`len`](Events::len)), as `ServerHandle` shows its address
/// and state: not the queue's locks, counters and the loops' wakers.
impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("pending", &self.len())
            .finish()
    }
}

impl crate::outbox::Weigh for Event {
    fn message_len(&self) -> usize {
        match self {
            Event::Message(_, data) => data.len(),
            _ => 0,
        }
    }

    fn is_input(&self) -> bool {
        matches!(self, Event::Message(..))
    }
}

/// Ends of half-closed clients (`Disconnected(ClosedByPeer)` or an
/// unfinished last frame) that the application has taken while their loop
/// holds the connection open for replies (`event_loop::held`). Taking one
/// posts `Command::Taken` (its linger clock starts); the application's next
/// call for events, on any receiver of the server, means it has dealt with
/// them: each is posted to its loop as `Command::Release`.
#[derive(Debug, Default)]
pub(crate) struct Releases {
    taken: Mutex<Vec<ClientId>>,
    /// `taken` is not empty (saves the lock on every call).
    any: AtomicBool,
}

impl Releases {
    /// Notes a taken event that may end a held connection.
    fn note(&self, core: &Core, ev: &Event) {
        if let Event::Disconnected(c, why) = ev {
            if matches!(
                why,
                DisconnectReason::ClosedByPeer | DisconnectReason::Io(io::ErrorKind::UnexpectedEof)
            ) {
                if let Some(idx) = core.registry.loop_of(c.id) {
                    core.post(idx, Command::Taken(c.id));
                }
                self.taken
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(c.id);
                self.any.store(true, Ordering::Release);
            }
        }
    }

    /// Releases every client noted so far.
    fn post_all(&self, core: &Core) {
        if !self.any.swap(false, Ordering::AcqRel) {
            return;
        }
        let ids = std::mem::take(&mut *self.taken.lock().unwrap_or_else(|p| p.into_inner()));
        for id in ids {
            if let Some(idx) = core.registry.loop_of(id) {
                core.post(idx, Command::Release(id));
            }
        }
    }
}

impl Events {
    /// Waits up to `timeout` for the next event.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) when nothing arrived in time;
    /// [`Error::NotRunning`](crate::Error::NotRunning) when the server has
    /// stopped and all events were taken;
    /// [`Error::CallbackMode`](crate::Error::CallbackMode) at once when the
    /// server has callbacks (its events go to them).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let r = server.events().recv_timeout(std::time::Duration::from_millis(1));
    /// assert!(matches!(r, Err(tcphub::Error::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> crate::Result<Event> {
        if self.origin.forked() {
            return Err(crate::Error::NotRunning);
        }
        if self.callback_mode {
            return Err(crate::Error::CallbackMode);
        }
        self.settle();
        match self.rx.recv_timeout(timeout) {
            Ok(e) => Ok(self.noted(e)),
            Err(RecvTimeoutError::Timeout) => Err(crate::Error::Timeout),
            Err(RecvTimeoutError::Disconnected) => self.leftover().ok_or(crate::Error::NotRunning),
        }
    }

    /// Hands `e` out, noting it if it may end a held connection.
    fn noted(&self, e: Event) -> Event {
        self.load.sub(1, crate::outbox::Weigh::weight(&e));
        self.load.took();
        self.note_taken(&e);
        e
    }

    /// Notes a taken event if it may end a held connection (a batch gives
    /// its room back at once).
    fn note_taken(&self, e: &Event) {
        // (Not in a forked child: no loop there to release a client, and
        // the locks `note` takes may be held for good, see `fork.rs`.)
        if matches!(e, Event::Disconnected(..)) && !self.origin.forked() {
            if let Some(core) = self.core.upgrade() {
                self.releases.note(&core, e);
            }
        }
    }

    /// A call for events: the application has dealt with what it took
    /// before, so held connections whose end it took may close.
    fn settle(&self) {
        // Not holding what it took any more (the loops' timer clocks run
        // again, see `event_loop/clock.rs`).
        self.load.back();
        // One atomic load on every call; the server only when there is work.
        if !self.releases.any.load(Ordering::Acquire) {
            return;
        }
        if let Some(core) = self.core.upgrade() {
            self.releases.post_all(&core);
        }
    }

    /// The next event left over at stop, once the queue itself has ended.
    fn leftover(&self) -> Option<Event> {
        self.leftovers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// Takes the next event if one is waiting, without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(server.events().try_recv().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&self) -> Option<Event> {
        if self.origin.forked() {
            return None;
        }
        self.settle();
        match self.rx.try_recv() {
            Ok(e) => Some(self.noted(e)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.leftover(),
        }
    }

    /// Blocks until the next event; `None` once the server stopped and the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let events = server.events();
    /// server.stop();
    /// assert!(events.recv().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&self) -> Option<Event> {
        if self.origin.forked() {
            return None;
        }
        self.settle();
        match self.rx.recv() {
            Some(e) => Some(self.noted(e)),
            None => self.leftover(),
        }
    }

    /// Appends up to `max` events to `out`, waiting up to `timeout` for the
    /// first one and taking the rest only if already queued. Returns how many
    /// were added. This is the cheap way to consume a busy server. A `max`
    /// of 0 takes nothing and returns `Ok(0)` at once, without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`](crate::Error::NotRunning) when the server has
    /// stopped and nothing is left;
    /// [`Error::CallbackMode`](crate::Error::CallbackMode) at once when the
    /// server has callbacks. A timeout is not an error: it returns `Ok(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let mut batch = Vec::new();
    /// let n = server.events().recv_batch(&mut batch, 64, std::time::Duration::from_millis(1))?;
    /// assert_eq!(n, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_batch(
        &self,
        out: &mut Vec<Event>,
        max: usize,
        timeout: Duration,
    ) -> crate::Result<usize> {
        let start = out.len();
        let n = self.recv_batch_staged(out, max, timeout)?;
        for e in &out[start..] {
            self.hand_out(e);
        }
        Ok(n)
    }

    /// As [`recv_batch`](Events::recv_batch), for a consumer that keeps
    /// the batch and passes its events on one at a time later (a
    /// dispatcher thread calling handlers, an iterator of a language
    /// binding): the events count as taken only when passed to
    /// [`hand_out`](Events::hand_out), one by one. That matters for
    /// clients held for replies: with
    /// [`hold_for_replies`](crate::TcpServer::hold_for_replies) the window
    /// of a client that half-closed runs from the take of its
    /// [`Event::Disconnected`], and a slow handler earlier in the same
    /// batch must not use it up.
    ///
    /// Pass every event to `hand_out` as it is passed on (or dropped): a
    /// `Disconnected` never handed out keeps its client held — with
    /// `hold_for_replies` until the server stops, in its place among
    /// `max_clients`; otherwise for the linger time after its end.
    ///
    /// # Errors
    ///
    /// As [`recv_batch`](Events::recv_batch).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 4).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.send(b"job")?;
    /// let events = server.events();
    /// let mut staged = Vec::new();
    /// while staged.len() < 2 {
    ///     events.recv_batch_staged(&mut staged, 64, Duration::from_secs(10))?;
    /// }
    /// for ev in staged.drain(..) {
    ///     events.hand_out(&ev); // taken now, not with the batch
    ///     if let tcphub::Event::Message(c, job) = &ev {
    ///         assert_eq!(job, b"job");
    ///         server.send(c.id, b"done")?;
    ///     }
    /// }
    /// assert_eq!(client.recv_timeout(Duration::from_secs(10))?, b"done");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_batch_staged(
        &self,
        out: &mut Vec<Event>,
        max: usize,
        timeout: Duration,
    ) -> crate::Result<usize> {
        if self.origin.forked() {
            return Err(crate::Error::NotRunning);
        }
        if self.callback_mode {
            return Err(crate::Error::CallbackMode);
        }
        self.settle();
        if max == 0 {
            return Ok(0);
        }
        let (n, bytes) = match self
            .rx
            .take_batch(out, max, timeout, crate::outbox::Weigh::weight)
        {
            Ok(taken) => taken,
            Err(RecvTimeoutError::Timeout) => return Ok(0),
            Err(RecvTimeoutError::Disconnected) => {
                let mut left = self.leftovers.lock().unwrap_or_else(|p| p.into_inner());
                if left.is_empty() {
                    return Err(crate::Error::NotRunning);
                }
                let n = max.min(left.len());
                out.extend(left.drain(..n));
                return Ok(n);
            }
        };
        self.load.sub(n, bytes); // one write to the shared counters per batch
        if n > 0 {
            self.load.took();
        }
        Ok(n)
    }

    /// Marks `event`, taken with
    /// [`recv_batch_staged`](Events::recv_batch_staged), as taken now: the
    /// application holds it until its next call for events (the idle and
    /// frame clocks slow down meanwhile, see
    /// [`idle_timeout`](crate::TcpServer::idle_timeout)) — also when a
    /// call for events came between the batch's take and this; if it ends
    /// a client held for replies, that hold's window starts, and the next
    /// call for events may release the client (see
    /// [`Event::Disconnected`]). Pass each event once: a second pass
    /// restarts the window.
    ///
    /// # Examples
    ///
    /// See [`recv_batch_staged`](Events::recv_batch_staged).
    pub fn hand_out(&self, event: &Event) {
        // (A consumer that keeps a batch may call for events before it
        // passes the rest on: Python's iterators take from what they kept
        // after a call for events that ended the batch's hold.)
        self.load.took();
        self.note_taken(event);
    }

    /// Waits up to `timeout` until an event can be taken or the server has
    /// stopped, without taking anything. Returns `true` when a following
    /// [`try_recv`](Events::try_recv) or [`recv_batch`](Events::recv_batch)
    /// will not wait (it may still find nothing if another receiver took the
    /// event first), `false` on timeout.
    ///
    /// This lets a consumer that must not lose events to cancellation wait
    /// on a helper thread and take the events on its own thread afterwards
    /// (an event loop waits on a [`ready_fd`](Events::ready_fd) instead).
    ///
    /// It is a call for events as the ones that take them are: it ends the
    /// hold of every client whose [`Event::Disconnected`] was taken before
    /// (see there), so send the replies to those first.
    /// ([`len`](Events::len) and [`is_empty`](Events::is_empty) end none.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let events = server.events();
    /// assert!(!events.wait_ready(Duration::from_millis(1)));
    /// server.stop();
    /// assert!(events.wait_ready(Duration::from_secs(10))); // stopped: nothing more will come
    /// assert!(events.try_recv().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        if self.origin.forked() {
            return true; // the next call answers at once
        }
        self.settle(); // asking for more: done with what was taken
        self.rx.wait_ready(timeout)
    }

    /// A file descriptor that becomes readable when an event can be taken,
    /// for waiting in another event loop (asyncio, tokio's `AsyncFd`,
    /// `poll(2)`) rather than in a thread; see [`ReadyFd`](crate::ReadyFd),
    /// whose `arm` before each wait is, like `wait_ready`, a call for
    /// events.
    ///
    /// # Errors
    ///
    /// [`Error::CallbackMode`](crate::Error::CallbackMode) for a server with
    /// callbacks (no event is ever queued); `Io` when the system gives no
    /// descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let ready = server.events().ready_fd()?;
    /// assert!(ready.arm()); // nothing to take yet: wait for the descriptor
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready_fd(&self) -> crate::Result<crate::ReadyFd> {
        if self.callback_mode {
            return Err(crate::Error::CallbackMode);
        }
        let note = crate::ready_fd::notifier()?;
        if !self.origin.forked() {
            // (In a forked child the queue's lock may be held for good, by
            // a parent's thread at the fork; `arm` answers at once there.)
            self.rx.watch(&note);
        }
        Ok(crate::ReadyFd::new(Box::new(self.clone()), note))
    }

    /// Events waiting in the queue right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(server.events().len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        if self.origin.forked() {
            return 0; // none to take here (see `recv_timeout`)
        }
        self.rx.len()
            + self
                .leftovers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len()
    }

    /// Whether no event is waiting right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(server.events().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Iterator for Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

/// Iterating a borrowed receiver takes events as the owned one does
/// ([`recv`](Events::recv)), and leaves the receiver to the caller: a loop
/// may stop early and the rest be taken later.
///
/// # Examples
///
/// ```
/// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let events = server.events();
/// let client = tcphub::TcpClient::connect(server.local_addr())?;
/// for ev in &events {
///     if matches!(ev, tcphub::Event::Connected(_)) {
///         break;
///     }
/// }
/// client.close();
/// let left = (&events).next(); // the same receiver, still usable
/// assert!(matches!(left, Some(tcphub::Event::Disconnected(..))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Iterator for &Events {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

impl crate::ready_fd::Watched for Events {
    fn ready_or_arm(&self, note: &Arc<crate::queue::Notifier>) -> bool {
        if self.origin.forked() {
            return true; // the next call answers at once
        }
        self.settle(); // asking for more, as `wait_ready`
        !self.rx.arm(note)
    }

    fn unwatch(&self, note: &Arc<crate::queue::Notifier>) {
        if self.origin.forked() {
            return; // the queue's lock may be held for good here (`fork.rs`)
        }
        self.rx.unwatch(note);
    }
}

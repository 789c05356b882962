//! The client side: [`TcpClient`] connects to a server, sends framed
//! messages through a bounded queue, and receives messages by callback or
//! pull, optionally reconnecting with backoff. Its I/O runs on one
//! background thread (see `client_loop.rs`).

use std::net::ToSocketAddrs;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::queue::{RecvTimeoutError, TryRecvError};

use crate::addr::{bracketed_pair, describe_target, empty_host, lookup_name, numeric_host};
use crate::client_builder::{
    ClientBuilder, ClientCallbacks, ClientConfig, ClientEvent, DEFAULT_CONNECT_TIMEOUT,
};
use crate::client_loop::ClientCmd;
use crate::error::{Error, Result};
use crate::framing::Framing;
use crate::server::{DEFAULT_EVENT_CAPACITY, DEFAULT_LINGER, DEFAULT_MAX_QUEUE_BYTES};

pub(crate) use crate::client_core::{ClientCore, ClientGuard};

/// A connection to a tcphub (or any compatible) server.
///
/// Cheap to clone, `Send + Sync`. `send` never blocks: it frames the message
/// and queues it for the I/O thread, failing with [`Error::QueueFull`] when
/// the bounded queue is full ([`send_timeout`](TcpClient::send_timeout)
/// waits for room instead, and [`flush`](TcpClient::flush) until what was
/// queued is written). Messages arrive through the callbacks given to
/// the [`ClientBuilder`] or, without callbacks, through
/// [`recv_timeout`](TcpClient::recv_timeout) / [`next_event`](TcpClient::next_event).
/// Dropping the last handle closes the connection, as
/// [`close`](TcpClient::close) does. A clone made inside a callback counts:
/// when it is the last handle and is dropped there, the close begins
/// without waiting for the I/O thread (as `close()` in a callback does).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tcphub::{Framing, TcpClient, TcpServer};
///
/// let server = TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .framing(Framing::lines())
///     .on_message(|srv, c, msg| { let _ = srv.send(c.id, msg); })
///     .start()?;
/// let client = TcpClient::builder(server.local_addr()).framing(Framing::lines()).connect()?;
/// client.send(b"ping")?;
/// assert_eq!(client.recv_timeout(Duration::from_secs(10))?, b"ping");
/// client.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the last handle closes the connection"]
pub struct TcpClient {
    pub(crate) core: Arc<ClientCore>,
    /// Present on handles the application owns: the last one dropped closes.
    pub(crate) guard: Option<Arc<ClientGuard>>,
}

impl std::fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (local, peer) = self.core.addrs();
        f.debug_struct("TcpClient")
            .field("local_addr", &local)
            .field("peer_addr", &peer)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Clone for TcpClient {
    fn clone(&self) -> TcpClient {
        let guard = match &self.guard {
            Some(g) => Some(g.clone()),
            None => self.core.user_token.get().and_then(|w| w.upgrade()),
        };
        TcpClient {
            core: self.core.clone(),
            guard,
        }
    }
}

impl TcpClient {
    /// Connects to `addr` with default options ([`Framing::Raw`], no reconnect).
    ///
    /// # Errors
    ///
    /// As [`ClientBuilder::connect`]: [`Error::Connect`] naming the address
    /// (every address, when a name resolved to several and none connected),
    /// [`Error::Resolve`] for a name that does not resolve (or an address
    /// without a port), [`Error::InvalidConfig`] for an empty host or port 0,
    /// [`Error::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.peer_addr(), server.local_addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect<A: ToSocketAddrs + std::fmt::Debug>(addr: A) -> Result<TcpClient> {
        TcpClient::builder(addr).connect()
    }

    /// Connects with a timeout for the attempt (for each address, when a
    /// name resolved to several).
    ///
    /// # Errors
    ///
    /// As [`connect`](TcpClient::connect): [`Error::Connect`] naming the
    /// address (e.g. timed out), [`Error::Resolve`], and
    /// [`Error::InvalidConfig`] also for a zero `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let c = tcphub::TcpClient::connect_timeout(server.local_addr(), std::time::Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout<A: ToSocketAddrs + std::fmt::Debug>(
        addr: A,
        timeout: Duration,
    ) -> Result<TcpClient> {
        TcpClient::builder(addr).connect_timeout(timeout).connect()
    }

    /// A builder for options and callbacks. Name resolution happens here;
    /// a failure is reported by [`ClientBuilder::connect`], as is an empty
    /// host (`("", port)`, `":port"`), which is not looked up, and a host
    /// in numbers and dots that is no IPv4 address (`"127.0.0.010"`, which
    /// the system's resolver reads as 127.0.0.8: a leading zero is octal;
    /// [`Error::InvalidConfig`] for both). An IPv6 host
    /// may be written with or without brackets, in a pair too
    /// (`("[::1]", 8001)`, `("::1", 8001)` and `"[::1]:8001"` are the same).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("localhost:8001");
    /// ```
    pub fn builder<A: ToSocketAddrs + std::fmt::Debug>(addr: A) -> ClientBuilder {
        ClientBuilder {
            name: lookup_name(&addr),
            target: if empty_host(&addr) {
                // The resolver would look the empty name up and say it
                // cannot resolve ":port", which hides the mistake.
                Err(Error::InvalidConfig(
                    "the host is empty: give the server's name or IP address".into(),
                ))
            } else if let Some(why) = lookup_name(&addr).and_then(|(h, _)| numeric_host(&h)) {
                // "127.0.0.010": the resolver reads 127.0.0.8.
                Err(Error::InvalidConfig(why))
            } else {
                // ("[::1]", port): std would look "[::1]" up as a name.
                match bracketed_pair(&addr) {
                    Some((host, port)) => (host.as_str(), port)
                        .to_socket_addrs()
                        .map(Iterator::collect),
                    None => addr.to_socket_addrs().map(Iterator::collect),
                }
                .map_err(|source| Error::Resolve {
                    target: describe_target(&addr),
                    source,
                })
            },
            config: ClientConfig {
                framing: Framing::Raw,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                reconnect: None,
                max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
                nodelay: true,
                keepalive: None,
                event_capacity: DEFAULT_EVENT_CAPACITY,
                linger: DEFAULT_LINGER,
                write_after_server_eof: false,
            },
            callbacks: ClientCallbacks::default(),
            cancel: None,
        }
    }

    /// Frames `msg` and queues it for sending. Never blocks (see
    /// [`send_timeout`](TcpClient::send_timeout) to wait for room, and
    /// [`flush`](TcpClient::flush) to wait until it is written).
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] once closed (or dropped for good without
    /// reconnect) or after [`shutdown_write`](TcpClient::shutdown_write),
    /// [`Error::QueueFull`] when the bounded queue has no room,
    /// [`Error::FrameTooLarge`] when `msg` exceeds the framing's limit,
    /// [`Error::InvalidMessage`] when it contains `\n` under
    /// [`Framing::Lines`] (it would arrive as several
    /// lines). Nothing is queued then.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.send(b"hello")?;
    /// client.close();
    /// assert!(matches!(client.send(b"late"), Err(tcphub::Error::NotRunning)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        if self.core.origin.forked() {
            // Before the gate: a thread of the parent may have held it (or
            // waited to write it) at the fork, and it stays so here.
            return Err(Error::NotRunning);
        }
        let _gate = self
            .core
            .send_gate
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if !self.is_open() || self.core.write_shut.load(Ordering::Acquire) {
            return Err(Error::NotRunning);
        }
        let len = self.core.config.framing.framed_len(msg)?;
        if len == 0 {
            return Ok(()); // an empty Raw message: nothing to write
        }
        // A large message gets a buffer of its own (before it is counted:
        // the checks are `framed_len`'s, it cannot fail now).
        let large = if len > crate::client_queue::SMALL {
            Some(self.core.config.framing.encode(msg)?)
        } else {
            None
        };
        let frames = self.core.queued_frames.load(Ordering::Acquire);
        let mut cur = self.core.queued.load(Ordering::Acquire);
        loop {
            if self.core.over_limit(cur, frames, len) {
                let limit = self.core.config.max_queue_bytes;
                return Err(Error::QueueFull { queued: cur, limit });
            }
            match self.core.queued.compare_exchange_weak(
                cur,
                cur + len,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.core.queued_frames.fetch_add(1, Ordering::AcqRel);
        self.core.post_message(msg, large);
        Ok(())
    }

    /// Waits up to `timeout` for the next message (pull mode: no callbacks
    /// set). Other events (drops, reconnects) are skipped; use
    /// [`next_event`](TcpClient::next_event) to see them.
    ///
    /// Unlike [`flush`](TcpClient::flush) and `close`, it does wait inside
    /// a server's callback, holding up that callback's event loop: a reply
    /// the loop itself would have to handle (a server asking itself) never
    /// comes meanwhile. Keep the timeout short there, or take replies in
    /// the client's own callbacks.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when nothing came in time; [`Error::NotRunning`]
    /// once the client is closed for good and every message was taken,
    /// and at once in callback mode (any callback set: nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// let r = client.recv_timeout(std::time::Duration::from_millis(10));
    /// assert!(matches!(r, Err(tcphub::Error::Timeout)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Vec<u8>> {
        // What is already waiting is taken without reading the clock (three
        // reads a message otherwise: ours and the channel's deadlines).
        while let Some(ev) = self.take_ready()? {
            if let ClientEvent::Message(m) = ev {
                return Ok(m);
            }
        }
        let deadline = crate::shared::deadline_after(timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left)? {
                ClientEvent::Message(m) => return Ok(m),
                _ => continue,
            }
        }
    }

    /// Blocks for the next message; `None` once closed for good (at once
    /// in callback mode, where nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// server.stop(); // the client sees EOF
    /// assert_eq!(client.recv(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&self) -> Option<Vec<u8>> {
        loop {
            match self.next_event(Duration::from_secs(3600)) {
                Ok(ClientEvent::Message(m)) => return Some(m),
                Ok(_) | Err(Error::Timeout) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Waits up to `timeout` until an event can be taken or the client has
    /// ended, without taking anything (pull mode). Returns `true` when a
    /// following [`next_event`](TcpClient::next_event) or
    /// [`recv_timeout`](TcpClient::recv_timeout) with a zero timeout will not
    /// wait for the network (another thread may still take the event first),
    /// `false` on timeout.
    ///
    /// For a consumer that must not lose a message to cancellation: one
    /// waiting on a helper thread takes the message on its own thread
    /// afterwards, so a cancelled wait takes nothing (an event loop waits
    /// on a [`ready_fd`](TcpClient::ready_fd) instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(!client.wait_ready(Duration::from_millis(1)));
    /// server.stop(); // the client sees EOF: an event to take
    /// assert!(client.wait_ready(Duration::from_secs(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        if self.core.closed_seen.load(Ordering::Acquire) || self.core.origin.forked() {
            return true; // next_event answers NotRunning at once
        }
        self.core.events_rx.wait_ready(timeout)
    }

    /// A file descriptor that becomes readable when an event can be taken
    /// or the client has ended (pull mode), for waiting in another event
    /// loop (asyncio, tokio's `AsyncFd`, `poll(2)`) rather than in a
    /// thread; see [`ReadyFd`](crate::ReadyFd). In callback mode nothing
    /// is queued, and its `arm` answers `false` (take: `next_event` says
    /// `NotRunning`).
    ///
    /// # Errors
    ///
    /// `Io` when the system gives no descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// let ready = client.ready_fd()?;
    /// assert!(ready.arm()); // nothing to take yet
    /// server.stop(); // the client sees EOF: an event to take
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready_fd(&self) -> Result<crate::ReadyFd> {
        let note = crate::ready_fd::notifier()?;
        if !self.core.origin.forked() {
            // (In a forked child the queue's lock may be held for good, by
            // a parent's thread at the fork; `arm` answers at once there.)
            self.core.events_rx.watch(&note);
        }
        Ok(crate::ReadyFd::new(
            Box::new(crate::ready_fd::ClientWatch(self.core.clone())),
            note,
        ))
    }

    /// Waits up to `timeout` for the next [`ClientEvent`] (pull mode).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`]; [`Error::NotRunning`] after `Closed` was taken,
    /// and at once in callback mode (any callback set: nothing is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{ClientEvent, TcpClient, TcpServer};
    /// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = TcpClient::connect(server.local_addr())?;
    /// client.close();
    /// let t = std::time::Duration::from_secs(5);
    /// assert!(matches!(client.next_event(t)?, ClientEvent::Disconnected(_)));
    /// assert_eq!(client.next_event(t)?, ClientEvent::Closed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_event(&self, timeout: Duration) -> Result<ClientEvent> {
        if let Some(ev) = self.take_ready()? {
            return Ok(ev);
        }
        match self.core.events_rx.recv_timeout(timeout) {
            Ok(ev) => Ok(self.taken(ev)),
            Err(RecvTimeoutError::Timeout) => Err(Error::Timeout),
            Err(RecvTimeoutError::Disconnected) => self.leftover(),
        }
    }

    /// The next event if one is waiting, taken without waiting or reading
    /// the clock; `Ok(None)` when none is (see
    /// [`next_event`](TcpClient::next_event) for the errors).
    fn take_ready(&self) -> Result<Option<ClientEvent>> {
        if self.core.closed_seen.load(Ordering::Acquire) || self.core.origin.forked() {
            // (In a forked child no I/O thread queues events: see `fork.rs`.)
            return Err(Error::NotRunning);
        }
        match self.core.events_rx.try_recv() {
            Ok(ev) => Ok(Some(self.taken(ev))),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => self.leftover().map(Some),
        }
    }

    /// Accounts for `ev`, just taken from the queue.
    fn taken(&self, ev: ClientEvent) -> ClientEvent {
        self.core
            .event_load
            .sub(1, crate::outbox::Weigh::weight(&ev));
        self.seen(ev)
    }

    /// The I/O thread has ended: what did not fit in the queue comes last.
    fn leftover(&self) -> Result<ClientEvent> {
        let ev = self
            .core
            .leftovers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .ok_or(Error::NotRunning)?;
        Ok(self.seen(ev))
    }

    /// Notes that `Closed` was taken: later calls end at once.
    fn seen(&self, ev: ClientEvent) -> ClientEvent {
        if ev == ClientEvent::Closed {
            self.core.closed_seen.store(true, Ordering::Release);
        }
        ev
    }

    /// Closes gracefully: flush what is queued (up to the linger time), shut
    /// the connection down and stop the I/O thread. The socket stays open
    /// (what arrives is discarded) until the server has acknowledged all of
    /// it, or has ended its side, within the linger time: closed under the
    /// server's writes, it would be reset and what the system had not sent
    /// yet lost; past the linger time it is reported as `Io(TimedOut)`,
    /// as below, and what the server has not acknowledged is left to the
    /// system, which goes on sending it after the close: it may still
    /// arrive, nothing confirms it ([`unacknowledged_bytes`](TcpClient::unacknowledged_bytes)
    /// shows how much that is before the call). With a reconnect policy,
    /// a client between connections (waiting to reconnect) with messages
    /// queued, or whose connection drops while it flushes, connects at once,
    /// without waiting out the backoff (further attempts after that one do
    /// wait it out), and flushes them within the linger time (what the lost
    /// connection had already taken may be lost with it); if that fails they
    /// are dropped. Messages still queued when the linger time runs out are
    /// dropped too (the connection is then reset, so the server does not
    /// take its end for all there was, nor a partly written message's
    /// start for a whole one; the reset also discards what the system had
    /// taken but not yet sent), and the
    /// connection's end is then reported as
    /// `Disconnected(Io(TimedOut))` rather than `ClosedLocally` (see
    /// [`disconnect_reason`](TcpClient::disconnect_reason)); when the
    /// server ends its side before the flush is done (before the call,
    /// too), the end is reported as `ClosedByPeer`: the server closed
    /// first. Messages are
    /// delivered up to the call and not after it: what the client had read
    /// when it was called is delivered (all of that read, though the call
    /// lands while it is being decoded), what arrives meanwhile is
    /// discarded, and a close from `on_message` also drops the rest of what
    /// was read with that message. Idempotent; callable from
    /// a callback — of this client, another client or a server — and then it
    /// returns without waiting (a later `close()` or drop elsewhere waits).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.close();
    /// client.close();
    /// assert!(!client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.core.close();
    }

    /// Closes like [`close`](TcpClient::close), but waits at most `timeout`
    /// for the flush and the I/O thread to end; returns whether they did.
    /// If not, the close goes on (within the linger time): a later
    /// `close()`, `close_timeout` or dropping the last handle finishes
    /// waiting for it. For a caller that must stay responsive, e.g. a
    /// binding checking for Ctrl-C between short waits. From a callback it
    /// does not wait, as `close()` returns there without waiting: it
    /// answers whether the I/O thread had already ended (`false` for a
    /// close it has just begun).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// while !client.close_timeout(Duration::from_millis(50)) {}
    /// assert!(!client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_timeout(&self, timeout: std::time::Duration) -> bool {
        self.core.close_within(timeout)
    }

    /// Finishes sending (a TCP half-close): what is queued is written, then
    /// the connection's sending side is shut, so the server reads
    /// end-of-stream. Messages keep arriving until the server closes its
    /// side; that ends the client for good — no reconnect — with
    /// `Disconnected(ClosedByPeer)` and `Closed`. Later [`send`](TcpClient::send)s
    /// fail with [`Error::NotRunning`]. While the client is reconnecting the
    /// shutdown waits for the next connection and its flush. Idempotent;
    /// callable from callbacks.
    ///
    /// A tcphub server answers end-of-stream by writing the replies to the
    /// messages before it and then closing: replies its callbacks queue, and
    /// in pull mode (Python callbacks too) replies made until the
    /// application asks for its next event or the server's linger time
    /// (2 s by default) passes.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] once the client is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .on_message(|srv, client, msg| {
    ///         let _ = srv.send(client.id, msg); // echo
    ///     })
    ///     .start()?;
    /// let client = TcpClient::builder(server.local_addr())
    ///     .framing(Framing::lines())
    ///     .connect()?;
    /// client.send(b"last request")?;
    /// client.shutdown_write()?;
    /// assert_eq!(client.recv_timeout(Duration::from_secs(10))?, b"last request");
    /// // The server closed after replying: nothing more comes.
    /// assert!(matches!(
    ///     client.recv_timeout(Duration::from_secs(10)),
    ///     Err(tcphub::Error::NotRunning)
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_write(&self) -> Result<()> {
        if !self.is_open() {
            return Err(Error::NotRunning);
        }
        let _gate = self
            .core
            .send_gate
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if !self.core.write_shut.swap(true, Ordering::AcqRel) {
            self.core.post(ClientCmd::ShutdownWrite);
            self.core.drain.notify(); // `send_timeout` waiting: refused now
        }
        Ok(())
    }

    pub(crate) fn core(&self) -> &Arc<ClientCore> {
        &self.core
    }
}

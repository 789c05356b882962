//! The client side: [`TcpClient`] connects to a server, sends framed
//! messages through a bounded queue, and receives messages by callback or
//! pull, optionally reconnecting with backoff. Its I/O runs on one
//! background thread (see `client_loop.rs`).

use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mio::Waker;

use crate::client_loop::{self, ClientCmd};
use crate::error::{Error, Result};
use crate::event::DisconnectReason;
use crate::framing::Framing;
use crate::server::{DEFAULT_EVENT_CAPACITY, DEFAULT_LINGER, DEFAULT_MAX_QUEUE_BYTES};

/// Default time allowed for one connection attempt: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Automatic reconnection: exponential backoff, capped, with jitter.
///
/// After the connection drops, attempt *n* waits a random time between half
/// and all of `min(initial × 2ⁿ⁻¹, max)`, so a crowd of clients cut off at
/// once does not come back in lockstep. While reconnecting, `send` keeps
/// accepting messages into the same bounded queue (and fails with
/// [`Error::QueueFull`] when it is full); they are written once a connection
/// is up again. Messages already handed to the old socket may be lost with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let policy = tcphub::Reconnect {
///     initial: Duration::from_millis(50),
///     max: Duration::from_secs(5),
///     max_attempts: Some(20),
/// };
/// assert_eq!(tcphub::Reconnect::default().max_attempts, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Delay cap for the first attempt.
    pub initial: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The wait before attempt `attempt` (1-based), jittered by `rand01` in `[0, 1)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = tcphub::Reconnect { initial: Duration::from_millis(100), max: Duration::from_secs(1), max_attempts: None };
    /// assert_eq!(r.delay(1, 0.999_999).as_millis(), 99);
    /// assert_eq!(r.delay(3, 0.0), Duration::from_millis(200));
    /// assert_eq!(r.delay(30, 0.0), Duration::from_millis(500));
    /// ```
    pub fn delay(&self, attempt: u32, rand01: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let cap = self
            .initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        cap.mul_f64(0.5 + 0.5 * rand01.clamp(0.0, 1.0))
    }
}

/// What happened on a client connection, in pull mode.
///
/// # Examples
///
/// ```
/// let ev = tcphub::ClientEvent::Message(b"hi".to_vec());
/// assert!(matches!(ev, tcphub::ClientEvent::Message(m) if m == b"hi"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// One message from the server.
    Message(Vec<u8>),
    /// The connection ended. With reconnect on, `Reconnecting` follows.
    Disconnected(DisconnectReason),
    /// A reconnect attempt is scheduled after `delay`.
    Reconnecting {
        /// 1 for the first attempt after a drop.
        attempt: u32,
        /// Wait before this attempt.
        delay: Duration,
    },
    /// A reconnect attempt succeeded.
    Reconnected {
        /// The attempt that succeeded.
        attempt: u32,
        /// The new local address.
        local_addr: SocketAddr,
    },
    /// The client is closed for good; no more events follow.
    Closed,
}

pub(crate) type MsgFn = dyn Fn(&TcpClient, &[u8]) + Send + Sync;
pub(crate) type DiscFn = dyn Fn(&TcpClient, &DisconnectReason) + Send + Sync;
pub(crate) type EventFn = dyn Fn(&TcpClient, &ClientEvent) + Send + Sync;

#[derive(Default)]
pub(crate) struct ClientCallbacks {
    pub on_message: Option<Box<MsgFn>>,
    pub on_disconnect: Option<Box<DiscFn>>,
    pub on_event: Option<Box<EventFn>>,
}

impl ClientCallbacks {
    pub fn any(&self) -> bool {
        self.on_message.is_some() || self.on_disconnect.is_some() || self.on_event.is_some()
    }
}

impl std::fmt::Debug for ClientCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCallbacks")
            .field("on_message", &self.on_message.is_some())
            .field("on_disconnect", &self.on_disconnect.is_some())
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub framing: Framing,
    pub connect_timeout: Duration,
    pub reconnect: Option<Reconnect>,
    pub max_queue_bytes: usize,
    pub nodelay: bool,
    pub event_capacity: usize,
    pub linger: Duration,
}

/// Builder for a [`TcpClient`] with options and callbacks.
///
/// # Examples
///
/// ```
/// use tcphub::{Framing, TcpClient, TcpServer};
/// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).framing(Framing::lines()).start()?;
/// let client = TcpClient::builder(server.local_addr())
///     .framing(Framing::lines())
///     .connect_timeout(std::time::Duration::from_secs(2))
///     .on_message(|_c, msg| println!("got {msg:?}"))
///     .connect()?;
/// client.send(b"hello")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientBuilder {
    target: std::result::Result<Vec<SocketAddr>, std::io::Error>,
    config: ClientConfig,
    callbacks: ClientCallbacks,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

impl ClientBuilder {
    /// Same framing options as the server (default [`Framing::Raw`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").framing(tcphub::Framing::length_prefixed());
    /// ```
    pub fn framing(mut self, framing: Framing) -> ClientBuilder {
        self.config.framing = framing;
        self
    }

    /// Time allowed for each connection attempt (default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").connect_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.config.connect_timeout = timeout;
        self
    }

    /// Reconnect automatically after the connection drops (default: off).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").reconnect(tcphub::Reconnect::default());
    /// ```
    pub fn reconnect(mut self, policy: Reconnect) -> ClientBuilder {
        self.config.reconnect = Some(policy);
        self
    }

    /// Bound on bytes accepted by `send` but not yet written (default 4 MiB).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").max_queue_bytes(64 * 1024);
    /// ```
    pub fn max_queue_bytes(mut self, bytes: usize) -> ClientBuilder {
        self.config.max_queue_bytes = bytes;
        self
    }

    /// `TCP_NODELAY` (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").nodelay(false);
    /// ```
    pub fn nodelay(mut self, on: bool) -> ClientBuilder {
        self.config.nodelay = on;
        self
    }

    /// How long `close()` keeps flushing queued messages (default 2 s).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").linger(std::time::Duration::ZERO);
    /// ```
    pub fn linger(mut self, linger: Duration) -> ClientBuilder {
        self.config.linger = linger;
        self
    }

    /// Capacity of the pull-mode event queue (default 65,536). While it is
    /// full the client stops reading from the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").event_capacity(128);
    /// ```
    pub fn event_capacity(mut self, events: usize) -> ClientBuilder {
        self.config.event_capacity = events;
        self
    }

    /// Called for each message, on the client's I/O thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").on_message(|client, msg| {
    ///     let _ = client.send(msg); // echo back
    /// });
    /// ```
    pub fn on_message<F>(mut self, f: F) -> ClientBuilder
    where
        F: Fn(&TcpClient, &[u8]) + Send + Sync + 'static,
    {
        self.callbacks.on_message = Some(Box::new(f));
        self
    }

    /// Called each time the connection ends, on the client's I/O thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").on_disconnect(|_c, why| eprintln!("lost: {why}"));
    /// ```
    pub fn on_disconnect<F>(mut self, f: F) -> ClientBuilder
    where
        F: Fn(&TcpClient, &DisconnectReason) + Send + Sync + 'static,
    {
        self.callbacks.on_disconnect = Some(Box::new(f));
        self
    }

    /// Called for every [`ClientEvent`] (messages, drops, reconnects, close),
    /// after the specific callbacks.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").on_event(|_c, ev| eprintln!("{ev:?}"));
    /// ```
    pub fn on_event<F>(mut self, f: F) -> ClientBuilder
    where
        F: Fn(&TcpClient, &ClientEvent) + Send + Sync + 'static,
    {
        self.callbacks.on_event = Some(Box::new(f));
        self
    }

    /// Connects (blocking, up to the connect timeout per address) and starts
    /// the I/O thread.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] naming the address (connection refused, timed out),
    /// [`Error::Resolve`] for a name that does not resolve,
    /// [`Error::InvalidConfig`], [`Error::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // now closed
    /// let err = tcphub::TcpClient::builder(("127.0.0.1", port)).connect().unwrap_err();
    /// assert!(err.to_string().contains("connection refused"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(self) -> Result<TcpClient> {
        let ClientBuilder {
            target,
            config,
            callbacks,
        } = self;
        config.framing.validate()?;
        if config.max_queue_bytes == 0 || config.event_capacity == 0 {
            return Err(Error::InvalidConfig(
                "max_queue_bytes and event_capacity must be at least 1".into(),
            ));
        }
        let addrs = target.map_err(|source| Error::Resolve { source })?;
        let mut last = None;
        let mut stream = None;
        for addr in &addrs {
            match std::net::TcpStream::connect_timeout(addr, config.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(source) => {
                    last = Some(Error::Connect {
                        addr: *addr,
                        source,
                    })
                }
            }
        }
        let Some(stream) = stream else {
            return Err(last.unwrap_or_else(|| Error::Resolve {
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "it resolved to no address",
                ),
            }));
        };
        let io_err = |context| move |source| Error::Io { context, source };
        let peer = stream
            .peer_addr()
            .map_err(io_err("reading the peer address"))?;
        let local = stream
            .local_addr()
            .map_err(io_err("reading the local address"))?;
        stream
            .set_nodelay(config.nodelay)
            .map_err(io_err("setting TCP_NODELAY"))?;
        stream
            .set_nonblocking(true)
            .map_err(io_err("setting non-blocking mode"))?;
        let poll = mio::Poll::new().map_err(io_err("creating a poller"))?;
        let waker =
            Waker::new(poll.registry(), client_loop::WAKER).map_err(io_err("creating a waker"))?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::bounded(config.event_capacity);
        let pull = !callbacks.any();
        let core = Arc::new(ClientCore {
            config,
            callbacks,
            tx,
            waker,
            notified: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            connected: AtomicBool::new(true),
            addrs: Mutex::new((local, peer)),
            events_rx: ev_rx,
            leftovers: Mutex::new(VecDeque::new()),
            closed_seen: AtomicBool::new(false),
            thread: Mutex::new(None),
            thread_id: OnceLock::new(),
            user_token: OnceLock::new(),
        });
        let guard = Arc::new(ClientGuard { core: core.clone() });
        let _ = core.user_token.set(Arc::downgrade(&guard));
        let internal = TcpClient {
            core: core.clone(),
            guard: None,
        };
        let handle = client_loop::spawn(
            internal,
            poll,
            rx,
            mio::net::TcpStream::from_std(stream),
            peer,
            if pull { Some(ev_tx) } else { None },
        )?;
        let _ = core.thread_id.set(handle.thread().id());
        *core.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(TcpClient {
            core,
            guard: Some(guard),
        })
    }
}

/// State shared by the client handles and its I/O thread.
#[derive(Debug)]
pub(crate) struct ClientCore {
    pub config: ClientConfig,
    pub callbacks: ClientCallbacks,
    pub tx: Sender<ClientCmd>,
    pub waker: Waker,
    /// Only the first command after a drain pays for the wakeup.
    pub notified: AtomicBool,
    /// Bytes accepted by `send` and not yet written: the queue bound.
    pub queued: AtomicUsize,
    /// False once closed (by `close()`, or for good after a drop).
    pub open: AtomicBool,
    /// Whether a connection is up right now.
    pub connected: AtomicBool,
    /// (local, peer) of the current or last connection.
    pub addrs: Mutex<(SocketAddr, SocketAddr)>,
    pub events_rx: Receiver<ClientEvent>,
    /// Pull-mode events that did not fit in the queue when the I/O thread
    /// ended (e.g. the consumer itself called `close()` without reading):
    /// yielded after the queue, so the final `Disconnected` and `Closed`
    /// are never lost and `close()` never waits for the consumer.
    pub leftovers: Mutex<VecDeque<ClientEvent>>,
    /// A pull consumer has taken `Closed`: later waits end at once.
    closed_seen: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: OnceLock<ThreadId>,
    user_token: OnceLock<Weak<ClientGuard>>,
}

impl ClientCore {
    fn on_io_thread(&self) -> bool {
        self.thread_id.get() == Some(&std::thread::current().id())
    }

    pub fn post(&self, cmd: ClientCmd) {
        if self.tx.send(cmd).is_ok() && !self.notified.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }

    fn close(&self) {
        if self.open.swap(false, Ordering::AcqRel) {
            self.post(ClientCmd::Close);
        }
        if self.on_io_thread() {
            return;
        }
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            if t.join().is_err() {
                log::error!("tcphub: the client I/O thread panicked");
            }
        }
    }
}

#[derive(Debug)]
struct ClientGuard {
    core: Arc<ClientCore>,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.core.close();
    }
}

/// A connection to a tcphub (or any compatible) server.
///
/// Cheap to clone, `Send + Sync`. `send` never blocks: it frames the message
/// and queues it for the I/O thread, failing with [`Error::QueueFull`] when
/// the bounded queue is full. Messages arrive through the callbacks given to
/// the [`ClientBuilder`] or, without callbacks, through
/// [`recv_timeout`](TcpClient::recv_timeout) / [`next_event`](TcpClient::next_event).
/// Dropping the last handle closes the connection.
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
pub struct TcpClient {
    core: Arc<ClientCore>,
    /// Present on handles the application owns: the last one dropped closes.
    guard: Option<Arc<ClientGuard>>,
}

impl std::fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (local, peer) = *self.core.addrs.lock().unwrap_or_else(|p| p.into_inner());
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
    /// [`Error::Connect`] naming the address.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.peer_addr(), server.local_addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> Result<TcpClient> {
        TcpClient::builder(addr).connect()
    }

    /// Connects with a timeout for the attempt.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] naming the address (e.g. timed out).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let c = tcphub::TcpClient::connect_timeout(server.local_addr(), std::time::Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_timeout<A: ToSocketAddrs>(addr: A, timeout: Duration) -> Result<TcpClient> {
        TcpClient::builder(addr).connect_timeout(timeout).connect()
    }

    /// A builder for options and callbacks. Name resolution happens here;
    /// a failure is reported by [`ClientBuilder::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("localhost:8001");
    /// ```
    pub fn builder<A: ToSocketAddrs>(addr: A) -> ClientBuilder {
        ClientBuilder {
            target: addr.to_socket_addrs().map(Iterator::collect),
            config: ClientConfig {
                framing: Framing::Raw,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                reconnect: None,
                max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
                nodelay: true,
                event_capacity: DEFAULT_EVENT_CAPACITY,
                linger: DEFAULT_LINGER,
            },
            callbacks: ClientCallbacks::default(),
        }
    }

    /// Frames `msg` and queues it for sending. Never blocks.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] once closed (or dropped for good without
    /// reconnect), [`Error::QueueFull`] when the bounded queue has no room,
    /// [`Error::FrameTooLarge`] when `msg` exceeds the framing's limit.
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
        if !self.is_open() {
            return Err(Error::NotRunning);
        }
        let frame = self.core.config.framing.encode(msg)?;
        let limit = self.core.config.max_queue_bytes;
        let len = frame.len();
        let mut cur = self.core.queued.load(Ordering::Acquire);
        loop {
            if cur > 0 && cur + len > limit {
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
        self.core.post(ClientCmd::Send(frame));
        Ok(())
    }

    /// Waits up to `timeout` for the next message (pull mode: no callbacks
    /// set). Other events (drops, reconnects) are skipped; use
    /// [`next_event`](TcpClient::next_event) to see them.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when nothing came in time; [`Error::NotRunning`]
    /// once the client is closed for good and every message was taken.
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
        let deadline = crate::shared::deadline_after(timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left)? {
                ClientEvent::Message(m) => return Ok(m),
                _ => continue,
            }
        }
    }

    /// Blocks for the next message; `None` once closed for good.
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

    /// Waits up to `timeout` for the next [`ClientEvent`] (pull mode).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`]; [`Error::NotRunning`] after `Closed` was taken.
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
        if self.core.closed_seen.load(Ordering::Acquire) {
            return Err(Error::NotRunning);
        }
        let ev = match self.core.events_rx.recv_timeout(timeout) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => return Err(Error::Timeout),
            // The I/O thread has ended: what did not fit comes last.
            Err(RecvTimeoutError::Disconnected) => self
                .core
                .leftovers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
                .ok_or(Error::NotRunning)?,
        };
        if ev == ClientEvent::Closed {
            self.core.closed_seen.store(true, Ordering::Release);
        }
        Ok(ev)
    }

    /// Local address of the current (or last) connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.local_addr().ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.core.addrs.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// The server's address.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.peer_addr(), server.local_addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.core.addrs.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Whether `send` is accepted: not closed, and not given up after a drop.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_open(&self) -> bool {
        self.core.open.load(Ordering::Acquire)
    }

    /// Whether a connection is up right now (false while reconnecting).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.core.connected.load(Ordering::Acquire)
    }

    /// Bytes accepted by `send` and not yet written to the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.queued_bytes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued_bytes(&self) -> usize {
        self.core.queued.load(Ordering::Acquire)
    }

    /// Closes gracefully: flush what is queued (up to the linger time), shut
    /// the connection down and stop the I/O thread. Idempotent; callable from
    /// a callback (then it returns without waiting).
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

    pub(crate) fn core(&self) -> &Arc<ClientCore> {
        &self.core
    }
}

//! Configuring a client: [`ClientBuilder`] (framing, timeouts, queue
//! bounds, reconnection, callbacks) and [`ClientBuilder::connect`], which
//! opens the connection and starts the client's I/O thread; the types the
//! builder takes ([`Reconnect`], [`ClientEvent`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use mio::Waker;

use crate::addr::canonical;
use crate::client::{ClientCore, ClientGuard, TcpClient};
use crate::client_dial::{cancelled_error, dial, ConnectCancel, Dialled};
use crate::client_loop;
use crate::error::{at_least_one, more_than_zero, Error, Result};
use crate::event::DisconnectReason;
use crate::framing::Framing;

/// Default time allowed for one connection attempt: 10 s.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_CONNECT_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Automatic reconnection: exponential backoff, capped, with jitter.
///
/// After the connection drops, attempt *n* waits a random time between half
/// and all of `min(initial × 2ⁿ⁻¹, max)`, so a crowd of clients cut off at
/// once does not come back in lockstep. A connection that drops within a
/// second of being made counts as a failed attempt: the count goes on (and
/// `max_attempts` applies) instead of starting again at 1, so a server that
/// accepts and closes at once is not hammered. Each attempt dials the address
/// that worked last, then the other addresses the server's name resolved to,
/// in turn, each within the connect timeout. A server named by a host name
/// is looked up again for the redials (on a thread of its own, started when
/// a redial is scheduled; the attempt dials what the latest finished lookup
/// found), so one that comes back at another address — a restarted
/// container given a new IP, a DNS failover — is found there; while the
/// name does not resolve, the redials dial the addresses it had. While
/// reconnecting, `send` keeps
/// accepting messages into the same bounded queue (and fails with
/// [`Error::QueueFull`] when it is full); they are written once a connection
/// is up again. Messages already handed to the old socket may be lost with it.
/// A message the old socket took only part of is written again whole on the
/// new connection: the old one is reset rather than ended after the
/// message's start, so with lines or length-prefixed framing the server
/// drops the unfinished frame with it and gets the message once; with [`Framing::Raw`], which has no frames,
/// the server may see that message's start twice.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reconnect {
    /// Delay cap for the first attempt.
    pub initial: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
    /// Give up after this many failed attempts in a row (`None`: never);
    /// at least 1 (`Some(0)` is refused as [`Error::InvalidConfig`]).
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
        // (A NaN jitter counts as 0; a product past `Duration::MAX` is the cap.)
        let jitter = if rand01.is_nan() {
            0.0
        } else {
            rand01.clamp(0.0, 1.0)
        };
        Duration::try_from_secs_f64(cap.as_secs_f64() * (0.5 + 0.5 * jitter)).unwrap_or(cap)
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
    /// The connection ended. With reconnect on, `Reconnecting` follows —
    /// unless the client is closing with nothing left to flush, or this
    /// drop used up [`Reconnect::max_attempts`] (a connection lost within
    /// a second of a reconnect counts as a failed attempt, as a full
    /// server's notice-and-close does): then `Closed` follows, the final
    /// reason [`DisconnectReason::ReconnectGaveUp`].
    Disconnected(DisconnectReason),
    /// A reconnect attempt is scheduled after `delay`. In pull mode, while
    /// the event queue is full, this event for the next attempt replaces
    /// the one for the previous attempt if that is still waiting for room,
    /// so a long outage does not fill memory with them: the consumer may see
    /// attempt numbers skip.
    Reconnecting {
        /// 1 for the first attempt after a drop.
        attempt: u32,
        /// Wait before this attempt: zero when a connection lost during
        /// [`close`](TcpClient::close) is redialled at once to flush what is
        /// queued. (A `close()` while already waiting dials at once too,
        /// cutting short the delay reported before it.)
        delay: Duration,
    },
    /// A reconnect attempt succeeded.
    Reconnected {
        /// The attempt that succeeded.
        attempt: u32,
        /// The new local address (IPv4-mapped IPv6 given as IPv4, as
        /// [`TcpClient::local_addr`] gives it).
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
    /// TCP keepalive idle time (whole seconds once `connect` checked it).
    pub keepalive: Option<Duration>,
    pub event_capacity: usize,
    pub linger: Duration,
    /// Whether queued messages are still written after the server ended
    /// its sending side (see `ClientBuilder::write_after_server_eof`).
    pub write_after_server_eof: bool,
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
#[must_use = "a builder does nothing until `connect()`"]
pub struct ClientBuilder {
    /// The resolved addresses, or why there are none (reported by
    /// `connect`): what the resolver said about the name, or an empty host.
    pub(crate) target: Result<Vec<SocketAddr>>,
    /// The server's host name and port, when it was named by name: looked
    /// up again for the redials.
    pub(crate) name: Option<(String, u16)>,
    pub(crate) config: ClientConfig,
    pub(crate) callbacks: ClientCallbacks,
    /// Ends `connect` from another thread (`cancel_with`).
    pub(crate) cancel: Option<ConnectCancel>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .field("cancel", &self.cancel)
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

    /// Time allowed for each connection attempt (default 10 s); zero is
    /// refused by [`connect`](ClientBuilder::connect) as [`Error::InvalidConfig`].
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
    /// The first connection is not retried: a server that is not there yet
    /// makes [`connect`](ClientBuilder::connect) fail with
    /// [`Error::Connect`], as without a policy.
    /// Both delays of `policy` must be more than zero, and its
    /// `max_attempts`, if any, at least 1
    /// ([`connect`](ClientBuilder::connect) refuses them as
    /// [`Error::InvalidConfig`]): zero delays would redial a server that is
    /// down in a busy loop, and zero attempts is no reconnect at all.
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
    /// Each queued message also counts 48 bytes for the memory it takes
    /// beyond its bytes, so tiny messages are bounded too. As on the server,
    /// one message larger than the bound is still accepted when the queue is
    /// empty (so any message can be sent). Zero is refused by
    /// [`connect`](ClientBuilder::connect) as [`Error::InvalidConfig`]. There
    /// is no unbounded setting, but `usize::MAX` (like any bound beyond the
    /// memory) in effect removes the bound: `send` then never fails with
    /// [`Error::QueueFull`], and what waits for a slow (or, while
    /// reconnecting, absent) server stays in memory.
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

    /// Enables TCP keepalive probes after `idle` without traffic (default:
    /// off), on every connection (reconnects included), so a server whose
    /// host vanished without a FIN is found (the connection ends with
    /// [`DisconnectReason::Io`], and reconnects
    /// if set) even by a client that only listens: `Io(TimedOut)` about
    /// `2 × idle` after the server's last traffic, as the server's
    /// [`keepalive`](crate::TcpServer::keepalive) times it — also while
    /// messages sent to it wait for its acknowledgement. The kernel counts whole
    /// seconds: `idle` is rounded up to them (at least 1 s).
    ///
    /// # Errors
    ///
    /// [`connect`](ClientBuilder::connect) fails with
    /// [`Error::InvalidConfig`] for a zero `idle` (leave keepalive off by not
    /// calling this), and for one over 32,767 s, the most the kernel takes.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001")
    ///     .keepalive(std::time::Duration::from_secs(30));
    /// ```
    pub fn keepalive(mut self, idle: Duration) -> ClientBuilder {
        self.config.keepalive = Some(idle);
        self
    }

    /// How long `close()` keeps flushing queued messages, until the server
    /// has acknowledged them (default 2 s); also, under
    /// [`write_after_server_eof(true)`](ClientBuilder::write_after_server_eof)
    /// and without reconnect, how long they are still written after the
    /// server ended its sending side (see
    /// [`TcpClient::disconnect_reason`](crate::TcpClient::disconnect_reason)).
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

    /// What happens to messages still queued here when the server ends its
    /// sending side (end-of-stream) and reconnecting is off (or the client
    /// is closing). `false`, the default: the server's end-of-stream ends
    /// the connection at once
    /// ([`ClosedByPeer`](crate::DisconnectReason::ClosedByPeer)): nothing
    /// more is written on it, and the messages left are dropped and counted
    /// in [`TcpClient::unsent`] — or, with reconnecting on and the client
    /// closing, written on a new connection within the linger time, as
    /// `close()` does after any lost connection. `true`: they are written
    /// on, within the [`linger`](ClientBuilder::linger) time — a server
    /// that half-closed may still read them — and the end is reported as
    /// `ClosedByPeer` once they are. With reconnecting on and not closing,
    /// the end-of-stream ends the connection either way, and the queue
    /// waits for the next one.
    ///
    /// The default suits a tcphub server, and any server that closes
    /// rather than half-closes: a tcphub server that has ended a connection
    /// (it stopped, kicked the client, or timed it out) reads and discards
    /// what still arrives, so written on, those messages would be lost with
    /// an end that looks clean; dropped, they show in `unsent`. Choose
    /// `true` for a server known to half-close and read on — one that sends
    /// its last request and half-closes to wait for the answer, say: by
    /// default a reply sent from `on_message` to that request is dropped
    /// too. (What was
    /// written before the end-of-stream came can still have been discarded
    /// unread: only a reply from the server shows it was read.)
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{DisconnectReason, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = TcpClient::connect(server.local_addr())?;
    /// server.stop(); // the client sees end-of-stream
    /// assert_eq!(client.recv(), None);
    /// assert_eq!(client.disconnect_reason(), Some(DisconnectReason::ClosedByPeer));
    /// assert_eq!(client.unsent(), 0); // nothing was queued
    ///
    /// // For a server that half-closes and reads on:
    /// let b = TcpClient::builder("127.0.0.1:8001").write_after_server_eof(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_after_server_eof(mut self, on: bool) -> ClientBuilder {
        self.config.write_after_server_eof = on;
        self
    }

    /// Capacity of the pull-mode event queue (default 65,536). While it is
    /// full — or its messages hold [`EVENT_QUEUE_BYTES`](crate::EVENT_QUEUE_BYTES)
    /// (64 MiB) — the client stops reading from the socket. That holds for
    /// a connection found gone by a write, too: what the server sent before
    /// the end is delivered as you take events, and its `Disconnected` (and
    /// a reconnect) follows it ([`TcpClient::is_connected`] is false
    /// meanwhile). Zero is refused
    /// by [`connect`](ClientBuilder::connect) as [`Error::InvalidConfig`];
    /// `usize::MAX` in effect removes the bound on the number of messages,
    /// and the byte bound still holds.
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

    /// Called for each message, on the client's I/O thread. Use the
    /// `TcpClient` it is given: a handle captured by the closure itself keeps
    /// the client alive (dropping your handles then no longer closes it).
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
    /// Any callback puts the client in callback mode: nothing is queued for
    /// [`recv`](TcpClient::recv) / [`next_event`](TcpClient::next_event). So
    /// with `on_disconnect` alone, messages from the server go nowhere; set
    /// [`on_message`](ClientBuilder::on_message) (or
    /// [`on_event`](ClientBuilder::on_event)) too if you want them.
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

    /// Lets `cancel` end [`connect`](ClientBuilder::connect) from another
    /// thread: once [`ConnectCancel::cancel`] is called, a connect under
    /// way is given up at once and no further address is dialled (see
    /// [`ConnectCancel`]). Only the first connect: a client's redials end
    /// with its [`close`](TcpClient::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let cancel = tcphub::ConnectCancel::new();
    /// let b = tcphub::TcpClient::builder("127.0.0.1:8001").cancel_with(&cancel);
    /// // Another thread may now call `cancel.cancel()` while `b.connect()` waits.
    /// ```
    pub fn cancel_with(mut self, cancel: &ConnectCancel) -> ClientBuilder {
        self.cancel = Some(cancel.clone());
        self
    }

    /// Connects (blocking, up to the connect timeout per address, unless
    /// [cancelled](ClientBuilder::cancel_with)) and starts the I/O thread. A name was looked up by [`TcpClient::builder`]
    /// (blocking, with the system resolver's own time limit, not this one).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] naming the address (connection refused, timed out)
    /// — every address with its error when the name resolved to several
    /// and none connected; an [`Interrupted`](std::io::ErrorKind::Interrupted)
    /// source once the [`cancel_with`](ClientBuilder::cancel_with) token is
    /// cancelled —
    /// [`Error::Resolve`] for a name that does not resolve,
    /// [`Error::InvalidConfig`] (also for an empty host and for port 0),
    /// [`Error::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // now closed
    /// let err = tcphub::TcpClient::builder(("127.0.0.1", port)).connect().unwrap_err();
    /// assert!(err.to_string().contains("connection refused"), "{err}");
    ///
    /// // Several addresses (as a name may resolve to): each is named.
    /// let other = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?; // closed too
    /// let first = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    /// let err = tcphub::TcpClient::builder(&[first, other][..]).connect().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     format!("cannot connect to {first}: connection refused; {other}: connection refused")
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(self) -> Result<TcpClient> {
        let ClientBuilder {
            target,
            name,
            mut config,
            callbacks,
            cancel,
        } = self;
        config.framing.validate()?;
        // One message each, naming the one that is wrong (as the server's).
        at_least_one("max_queue_bytes", config.max_queue_bytes)?;
        at_least_one("event_capacity", config.event_capacity)?;
        if config
            .reconnect
            .is_some_and(|r| r.initial.is_zero() || r.max.is_zero())
        {
            // Every delay would be zero: a server that is down would be
            // redialled in a busy loop (~30,000 attempts a second on
            // loopback), each one an event in the pull queue.
            return Err(Error::InvalidConfig(
                "reconnect delays (initial and max) must be more than zero".into(),
            ));
        }
        if config.reconnect.is_some_and(|r| r.max_attempts == Some(0)) {
            // "Give up before the first attempt" is no reconnect at all (and
            // the C API's 0 means "never give up": one number, two
            // opposite meanings). `None` is no limit.
            return Err(Error::InvalidConfig(
                "reconnect max_attempts must be at least 1 (None: no limit)".into(),
            ));
        }
        more_than_zero("keepalive", config.keepalive)?;
        config.keepalive = config
            .keepalive
            .map(crate::connection::keepalive_secs)
            .transpose()?;
        if config.connect_timeout.is_zero() {
            // No attempt can succeed in no time (std refuses a zero timeout,
            // and every reconnect would time out at once).
            return Err(Error::InvalidConfig(
                "connect_timeout must be more than zero".into(),
            ));
        }
        let addrs = target?;
        if let Some(addr) = addrs.iter().find(|a| a.port() == 0) {
            // The kernel would refuse it ("connection refused" on Linux),
            // which reads as if the server were down.
            return Err(Error::InvalidConfig(format!(
                "cannot connect to {addr}: port 0 is no server's port"
            )));
        }
        let io_err = |context| move |source| Error::Io { context, source };
        // Every address in turn; if none connects, the error names each
        // with its own failure (the first one leading, see `Error::Connect`).
        let mut failed = Vec::new();
        let mut stream = None;
        for addr in &addrs {
            match dial(*addr, config.connect_timeout, cancel.as_ref()) {
                Dialled::Connected(s) => {
                    let (peer, local) = (s.peer_addr(), s.local_addr());
                    match peer {
                        // Connected, then lost before this look (a server
                        // that resets at accept): a failed attempt, with
                        // the socket's own error ("connection reset"),
                        // not a failure to read an address.
                        Err(e) => failed.push((*addr, s.take_error().ok().flatten().unwrap_or(e))),
                        Ok(peer) if local.as_ref().is_ok_and(|l| *l == peer) => {
                            failed.push((*addr, refused_by_itself(*addr)));
                        }
                        Ok(peer) => {
                            stream = Some((s, (peer, local)));
                            break;
                        }
                    }
                }
                Dialled::Failed(source) => failed.push((*addr, source)),
                Dialled::Cancelled => {
                    // The address it was dialling (or was to dial) leads;
                    // those that failed before it follow.
                    return Err(Error::Connect {
                        addr: *addr,
                        source: cancelled_error(),
                        others: failed,
                    });
                }
            }
        }
        let Some((stream, (peer, local))) = stream else {
            let mut failed = failed.into_iter();
            return Err(match failed.next() {
                Some((addr, source)) => Error::Connect {
                    addr,
                    source,
                    others: failed.collect(),
                },
                None => Error::Resolve {
                    target: "(an empty address list)".into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "it resolved to no address",
                    ),
                },
            });
        };
        // `peer` is the address dialled (redials look for it among `addrs`);
        // what the client reports is canonical, as the server reports it.
        let local = local.map_err(io_err("reading the local address"))?;
        stream
            .set_nodelay(config.nodelay)
            .map_err(io_err("setting TCP_NODELAY"))?;
        if let Some(idle) = config.keepalive {
            crate::connection::set_keepalive(&stream, idle)
                .map_err(io_err("setting TCP keepalive"))?;
        }
        // (Non-blocking already, as `dial` made it.)
        let poll = mio::Poll::new().map_err(io_err("creating a poller"))?;
        let waker = Arc::new(crate::wake::Wake::new(
            Waker::new(poll.registry(), client_loop::WAKER).map_err(io_err("creating a waker"))?,
        ));
        // Bounded by `event_load` (count and bytes), not by preallocation.
        let (ev_tx, ev_rx) = crate::queue::queue();
        let event_load = Arc::new(crate::outbox::QueueLoad::new(
            config.event_capacity,
            vec![waker.clone()],
        ));
        let pull = !callbacks.any();
        let core = Arc::new(ClientCore {
            config,
            callbacks,
            posted: Mutex::new(crate::client_queue::Posted::default()),
            waker,
            notified: AtomicBool::new(false),
            origin: crate::fork::Origin::here(),
            queued: AtomicUsize::new(0),
            queued_frames: AtomicUsize::new(0),
            unsent: std::sync::atomic::AtomicU64::new(0),
            drain: Default::default(),
            write_shut: AtomicBool::new(false),
            send_gate: std::sync::RwLock::new(()),
            open: AtomicBool::new(true),
            connected: AtomicBool::new(true),
            addrs: RwLock::new((canonical(local), canonical(peer))),
            first_addrs: (canonical(local), canonical(peer)),
            last_disconnect: RwLock::new(None),
            socket: Default::default(),
            events_rx: ev_rx,
            event_load,
            leftovers: Mutex::new(VecDeque::new()),
            closed_seen: AtomicBool::new(false),
            closed_by_callback: AtomicBool::new(false),
            io_thread: OnceLock::new(),
            thread: Mutex::new(None),
            user_token: OnceLock::new(),
        });
        let guard = Arc::new(ClientGuard { core: core.clone() });
        let _ = core.user_token.set(Arc::downgrade(&guard));
        let internal = TcpClient {
            core: core.clone(),
            guard: None,
        };
        // Held while the thread starts: a callback of the new thread may hand a
        // clone to another thread whose `close()` must find the thread to join
        // (as `TcpServer::start` holds its lock while spawning the loops).
        let mut slot = core.thread.lock().unwrap_or_else(|p| p.into_inner());
        let handle = client_loop::spawn(
            internal,
            poll,
            mio::net::TcpStream::from_std(stream),
            peer,
            addrs,
            name,
            if pull { Some(ev_tx) } else { None },
        )?;
        *slot = Some(handle);
        drop(slot);
        Ok(TcpClient {
            core,
            guard: Some(guard),
        })
    }
}

impl crate::outbox::Weigh for ClientEvent {
    fn message_len(&self) -> usize {
        match self {
            ClientEvent::Message(m) => m.len(),
            _ => 0,
        }
    }
}

/// What a connection the kernel reports made to itself (local address ==
/// peer address; the connects check) stands for. Dialling a port of this
/// host that nobody listens on, Linux may pick that very port as the
/// source (it walks its ephemeral range without looking at the
/// destination), and TCP's simultaneous open connects the socket to itself
/// — about one connect in the range's size (~14,000) to such a port. The
/// client would read back what it sends, for good, and hold the port, so
/// its server could not come back on it; Go's `net` checks the same.
/// Nobody listens on `addr` (else the kernel could not have picked that
/// port), so the connect is refused, with the errno a refusal has. The
/// socket is dropped, which closes it.
pub(crate) fn refused_by_itself(addr: SocketAddr) -> std::io::Error {
    log::debug!("tcphub: connecting to {addr} connected the socket to itself: refused");
    std::io::Error::from_raw_os_error(libc::ECONNREFUSED)
}

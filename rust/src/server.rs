//! The public face of the server: the [`TcpServer`] builder, which checks
//! the settings, binds, starts the event loops (`server/start.rs`) and
//! returns a [`ServerHandle`] (in `handle.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[cfg(doc)]
use crate::error::Error; // (the docs' links)
use crate::error::Result;
#[cfg(doc)]
use crate::event::DisconnectReason;
use crate::framing::Framing;
use crate::handle::ServerHandle;
use crate::shared::{Callbacks, Config, Overflow};

mod callbacks;
mod check;
mod notices;
mod per_ip;
mod start;
use check::check;

pub(crate) use per_ip::{per_ip_network, per_ip_source};

/// Default bound on each client's outbound queue: 4 MiB.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_MAX_QUEUE_BYTES, 4 * 1024 * 1024);
/// // Half the default, for clients on a small machine:
/// let b = tcphub::TcpServer::new(0, 10).max_queue_bytes(tcphub::DEFAULT_MAX_QUEUE_BYTES / 2);
/// ```
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Default time `stop()` spends flushing queued data before closing: 2 s.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_LINGER, std::time::Duration::from_secs(2));
/// ```
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);
/// Default listen backlog (the kernel caps it at `net.core.somaxconn`).
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_BACKLOG, 4096);
/// ```
pub const DEFAULT_BACKLOG: i32 = 4096;
/// Default capacity of the pull-mode event queue.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_EVENT_CAPACITY, 65_536);
/// ```
pub const DEFAULT_EVENT_CAPACITY: usize = 65_536;
/// Default time an event loop that ran out of work keeps polling before it
/// sleeps: 5 µs, about what one sleep and wakeup cost (see
/// [`TcpServer::busy_poll`]).
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::DEFAULT_BUSY_POLL, std::time::Duration::from_micros(5));
/// ```
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(5);
/// Longest [`TcpServer::busy_poll`]: 1 s. A loop that spins this long
/// after every wakeup is already a loop that never sleeps; a longer spin
/// (a `u64::MAX` microseconds from a command line) is a mistake, refused
/// by `start()` rather than left to keep a core busy for nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let too_long = tcphub::TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .busy_poll(tcphub::MAX_BUSY_POLL + Duration::from_millis(1))
///     .start();
/// assert!(matches!(too_long, Err(tcphub::Error::InvalidConfig(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_BUSY_POLL: Duration = Duration::from_secs(1);
/// Most event-loop threads a server may have ([`TcpServer::threads`]): far
/// beyond any core count, and small enough that the per-loop bookkeeping
/// sized by it at `start()` can always be allocated.
///
/// # Examples
///
/// ```
/// let too_many = tcphub::TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .threads(tcphub::MAX_THREADS + 1)
///     .start();
/// assert!(matches!(too_many, Err(tcphub::Error::InvalidConfig(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_THREADS: usize = 4096;

/// Builder for a server: port, client limit, framing, callbacks, options.
///
/// Nothing happens until [`start`](TcpServer::start), which binds, listens and
/// spawns the event-loop threads.
///
/// # Examples
///
/// The socket tutorial's relay, properly:
///
/// ```
/// use tcphub::{Framing, TcpServer};
///
/// let server = TcpServer::new(0, 100)
///     .bind("127.0.0.1".parse()?)
///     .framing(Framing::lines())
///     .on_connect(|_srv, c| println!("{} joined", c.addr))
///     .on_message(|srv, _c, msg| {
///         srv.send_all(msg);
///     })
///     .on_disconnect(|_srv, c, why| println!("{} left: {why}", c.addr))
///     .start()?;
/// println!("listening on {}", server.local_addr());
/// server.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `start()`"]
pub struct TcpServer {
    config: Config,
    callbacks: Callbacks,
}

impl std::fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpServer")
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

impl TcpServer {
    /// A server for `port` (0 picks a free one) admitting at most `max_clients`
    /// (at least 1) at once, bound to `0.0.0.0` with [`Framing::Raw`] until
    /// told otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = tcphub::TcpServer::new(8001, 100);
    /// ```
    pub fn new(port: u16, max_clients: usize) -> TcpServer {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        TcpServer {
            config: Config {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
                max_clients,
                max_clients_per_ip: None,
                per_ip_ipv6_prefix: 128,
                framing: Framing::Raw,
                threads,
                max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
                overflow: Overflow::Disconnect,
                idle_timeout: None,
                frame_timeout: None,
                keepalive: None,
                nodelay: true,
                backlog: DEFAULT_BACKLOG,
                linger: DEFAULT_LINGER,
                hold_for_replies: None,
                event_capacity: DEFAULT_EVENT_CAPACITY,
                busy_poll: DEFAULT_BUSY_POLL,
                full_message: None,
                full_frame: None,
                per_ip_full_message: None,
                per_ip_full_frame: None,
                idle_message: None,
                idle_frame: None,
                frame_timeout_message: None,
                frame_timeout_frame: None,
                frame_too_large_message: None,
                frame_too_large_frame: None,
            },
            callbacks: Callbacks::default(),
        }
    }

    /// The local address to listen on. `"::"` listens on IPv6 and IPv4 (dual stack).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 10).bind("::1".parse()?).start()?;
    /// assert!(s.local_addr().is_ipv6());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(mut self, ip: IpAddr) -> TcpServer {
        self.config.addr.set_ip(ip);
        self
    }

    /// How messages are delimited (default [`Framing::Raw`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).framing(tcphub::Framing::Lines { max_len: 1024 });
    /// ```
    pub fn framing(mut self, framing: Framing) -> TcpServer {
        self.config.framing = framing;
        self
    }

    /// Number of event-loop threads (default: one per core; from 1 to
    /// [`MAX_THREADS`], or [`start`](TcpServer::start) fails with
    /// [`Error::InvalidConfig`]).
    ///
    /// Each loop owns the clients it is given for their whole life (each new
    /// client goes to the loop owning the fewest, in turn among equals), so
    /// more loops spread more clients over more cores. When the cores are shared with other busy threads —
    /// the application's own workers, or a load generator in a benchmark —
    /// fewer loops than cores can be faster and have a shorter tail: on the
    /// 2-core benchmark machine, with the generator on the same cores and
    /// busy polling off, one loop beat two in echo (1.10 M vs 0.82 M msgs/s,
    /// p99 1.0 ms vs 4.6 ms) and in fan-out to 1000 clients (39 M vs 26 M
    /// deliveries/s). With the default [`busy_poll`](TcpServer::busy_poll)
    /// the lead has varied with the host: in the latest full run one loop
    /// led in echo (1.54 M vs 1.43 M msgs/s, p99 0.82 ms vs 1.84 ms) and in
    /// fan-out to 100 and 1000 clients, two loops in accepting (41.7 k vs
    /// 33.2 k connections/s). A loop's clients wait while it waits for a
    /// CPU, so the tail grows when loops and other busy threads outnumber
    /// the cores; see BENCHMARKS.md.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).threads(1).start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn threads(mut self, n: usize) -> TcpServer {
        self.config.threads = n;
        self
    }

    /// Bound on bytes waiting to be written to one client (default 4 MiB).
    /// What happens beyond it is set by [`overflow`](TcpServer::overflow).
    /// Each queued message also counts 48 bytes for the memory it takes
    /// beyond its bytes, so the bound holds for tiny messages too. A single
    /// message larger than the bound is still queued when the queue is empty
    /// (while it is being written, the messages after it meet the bound by
    /// themselves, so a client reading it gets them too: the queue holds at
    /// most that message plus the bound), and the server's own notice to a client it cuts off for a timeout
    /// ([`idle_timeout_message`](TcpServer::idle_timeout_message), at most
    /// [`MAX_FULL_MESSAGE`](crate::MAX_FULL_MESSAGE) bytes) past a full one.
    /// Zero is refused by [`start`](TcpServer::start) as
    /// [`Error::InvalidConfig`]; any other value is taken as the bound. There
    /// is no unbounded setting, but `usize::MAX` (like any bound beyond the
    /// memory) in effect removes the bound: a client that does not read then
    /// keeps in memory everything sent to it.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).max_queue_bytes(256 * 1024);
    /// ```
    pub fn max_queue_bytes(mut self, bytes: usize) -> TcpServer {
        self.config.max_queue_bytes = bytes;
        self
    }

    /// Policy for a full outbound queue (default [`Overflow::Disconnect`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).overflow(tcphub::Overflow::DropMessage);
    /// ```
    pub fn overflow(mut self, policy: Overflow) -> TcpServer {
        self.config.overflow = policy;
        self
    }

    /// Disconnects clients that send nothing for `timeout` with
    /// [`DisconnectReason::IdleTimeout`] (default: never). A zero `timeout`
    /// is refused by [`start`](TcpServer::start) as [`Error::InvalidConfig`]:
    /// it would cut every client at once.
    ///
    /// Every received byte restarts the clock, so a client that drips a frame
    /// one byte at a time never idles out; [`frame_timeout`](TcpServer::frame_timeout)
    /// bounds that case. The clock does not run while the server is not
    /// reading (its pull-mode event queue full, input paused, or another loop
    /// far behind): a client's last message may be waiting for room in the
    /// queue meanwhile, and the client for the answer to it. Nor for most
    /// of a turn of its loop that takes over 50 ms (a slow callback, or many
    /// callbacks' work in one turn, whoever's messages called them: the
    /// loop reads nothing else meanwhile): it runs for 50 ms or an eighth of
    /// such a turn, whichever is longer, so a loop whose turns are all that
    /// long still times clients out, at worst eight times later. In pull
    /// mode, likewise while the application works on events it took
    /// without calling for more (a call for events — `recv`, `try_recv`,
    /// `recv_batch`, `wait_ready`, a `ReadyFd` arm — ends the hold; with
    /// several threads taking events, a call by any of them): the client
    /// may be waiting for the answer. The clock runs for 50 ms or an eighth
    /// of such a hold, and until a loop first sees it (at its next wakeup,
    /// a quarter of the shorter timeout at the latest), so an application
    /// that takes an event and never calls for more still has its clients
    /// timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).idle_timeout(std::time::Duration::from_secs(300));
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> TcpServer {
        self.config.idle_timeout = Some(timeout);
        self
    }

    /// Disconnects clients that take longer than `timeout` to finish a frame
    /// they have started, with [`DisconnectReason::FrameTimeout`] (default:
    /// never). A zero `timeout` is refused by [`start`](TcpServer::start) as
    /// [`Error::InvalidConfig`]: it would cut any frame split over two reads.
    ///
    /// The clock starts when the first byte of a frame arrives and stops when
    /// its last byte does; it does not run while the server is not reading
    /// (its pull-mode event queue full, or another loop far behind: TCP then
    /// holds the client's bytes back), nor for most of a turn of its loop
    /// that takes over 50 ms or of a pull-mode application's hold of what
    /// it took, as the idle clock (see
    /// [`idle_timeout`](TcpServer::idle_timeout)). A client idle *between* frames is not
    /// affected (see [`idle_timeout`](TcpServer::idle_timeout) for that).
    /// This is the defence against "slowloris" clients that hold a
    /// connection and a partial-frame buffer by sending a frame one byte at
    /// a time. It applies to
    /// [`Framing::Lines`] and [`Framing::LengthPrefixed`]; with [`Framing::Raw`]
    /// every read is a whole message, so no frame is ever unfinished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .frame_timeout(Duration::from_millis(200))
    ///     .start()?;
    /// let mut sock = std::net::TcpStream::connect(server.local_addr())?;
    /// sock.write_all(b"a line that never ends")?;
    /// // The server gives up on the line and closes the connection.
    /// let mut rest = Vec::new();
    /// sock.read_to_end(&mut rest)?;
    /// assert!(rest.is_empty());
    /// assert_eq!(server.stats().frame_timeouts, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn frame_timeout(mut self, timeout: Duration) -> TcpServer {
        self.config.frame_timeout = Some(timeout);
        self
    }

    /// Enables TCP keepalive probes after `idle` without traffic (default: off),
    /// so a client whose host vanished without a FIN is disconnected with
    /// [`DisconnectReason::Io`]`(TimedOut)`:
    /// probes go every `idle / 3` (at least 1 s), and 3 unanswered ones end
    /// the connection, about `2 × idle` after the client's last traffic.
    /// While data sent to it waits for acknowledgement the kernel resends
    /// it instead of probing (for up to ~15 minutes), so the server's loops
    /// then watch the connection themselves and drop it, with the same
    /// reason, once the kernel has had no answer for as long and has resent
    /// 4 times in a row in vain (on a congested path its resends back off
    /// to seconds apart: a live client that lost two is kept). A live client
    /// that merely stopped reading answers the kernel's window probes and
    /// is not dropped (see [`max_queue_bytes`](TcpServer::max_queue_bytes)
    /// and [`idle_timeout`](TcpServer::idle_timeout) for those).
    /// The kernel counts whole seconds: `idle` is rounded up to them (at least 1 s).
    ///
    /// # Errors
    ///
    /// [`start`](TcpServer::start) fails with [`Error::InvalidConfig`] for
    /// a zero `idle` (leave keepalive off by not calling this), and for one
    /// over 32,767 s, the most the kernel takes.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).keepalive(std::time::Duration::from_secs(60));
    /// ```
    pub fn keepalive(mut self, idle: Duration) -> TcpServer {
        self.config.keepalive = Some(idle);
        self
    }

    /// Sets `TCP_NODELAY` on accepted sockets (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).nodelay(false);
    /// ```
    pub fn nodelay(mut self, on: bool) -> TcpServer {
        self.config.nodelay = on;
        self
    }

    /// Listen backlog (default 4096; the kernel caps it at `somaxconn`). It
    /// must be at least 1, or [`start`](TcpServer::start) fails with
    /// [`Error::InvalidConfig`] (Linux would take a negative value as
    /// `somaxconn`, the opposite of what was asked for).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).backlog(1024);
    /// ```
    pub fn backlog(mut self, backlog: i32) -> TcpServer {
        self.config.backlog = backlog;
        self
    }

    /// How long `stop()` keeps flushing queued messages before closing
    /// (default 2 s); likewise how long a client on its way out — kicked by
    /// [`disconnect`](ServerHandle::disconnect), past a timeout, over the
    /// frame limit, or (callback mode) at its end-of-stream — gets for what
    /// is queued for it, and a connection refused for `max_clients` for
    /// the [`full_message`](TcpServer::full_message). In pull mode it is also how long a client that
    /// finished sending is held open for your replies after you took its
    /// `Disconnected` (see [`Event::Disconnected`](crate::Event::Disconnected)),
    /// unless [`hold_for_replies`](TcpServer::hold_for_replies) sets that.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).linger(std::time::Duration::from_millis(500));
    /// ```
    pub fn linger(mut self, linger: Duration) -> TcpServer {
        self.config.linger = linger;
        self
    }

    /// Keeps a client that finished sending open for your replies for up
    /// to `window` (default: off), with callbacks and in pull mode alike:
    /// for a request/response service whose answers come from worker
    /// threads, to clients that end their sending side after a request
    /// (`shutdown(SHUT_WR)`, `nc -N`).
    ///
    /// At such a client's end of input its last messages are handed out,
    /// then its leaving is reported as usual (`on_disconnect` or
    /// [`Event::Disconnected`](crate::Event::Disconnected), with
    /// [`DisconnectReason::ClosedByPeer`], or an unfinished last frame's
    /// reason), but its connection stays open: `send`, `send_to` and
    /// broadcasts still reach it, though it is no longer listed or counted
    /// (it still counts toward `max_clients`: its socket is open). It is
    /// closed once what is queued for it is written (up to the
    /// [`linger`](TcpServer::linger) time) when you call
    /// [`disconnect`](ServerHandle::disconnect) for it — do, once it is
    /// answered: the client is waiting for that end —, when `window` has
    /// passed since its leaving was reported (in pull mode: since you took
    /// that event; until then it is held, keeping its place), when a write
    /// to it fails or the client resets it (a peer that closed both sides
    /// answers a write with a reset), when [`keepalive`](TcpServer::keepalive)
    /// finds it gone, or at the stop. No second leaving is reported.
    ///
    /// Off, a server with callbacks closes such a client once the callbacks
    /// for its last messages have returned and what they queued is written;
    /// a pull-mode server holds it until your next call for events (see
    /// [`Event::Disconnected`](crate::Event::Disconnected)). A zero
    /// `window` is refused by [`start`](TcpServer::start) as
    /// [`Error::InvalidConfig`].
    ///
    /// # Examples
    ///
    /// A worker thread answers a client that closed its sending side after
    /// its request:
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::{Shutdown, TcpStream};
    /// use std::sync::{mpsc, Mutex};
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let (to_worker, jobs) = mpsc::channel();
    /// let to_worker = Mutex::new(to_worker);
    /// let server = TcpServer::new(0, 100)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .hold_for_replies(Duration::from_secs(30))
    ///     .on_message(move |_srv, c, msg| {
    ///         let _ = to_worker.lock().unwrap().send((c.id, msg.to_vec()));
    ///     })
    ///     .start()?;
    /// let srv = server.clone();
    /// let worker = std::thread::spawn(move || -> tcphub::Result<()> {
    ///     let (id, job): (tcphub::ClientId, Vec<u8>) = jobs.recv().unwrap();
    ///     std::thread::sleep(Duration::from_millis(50)); // the work
    ///     srv.send(id, &job.to_ascii_uppercase())?;
    ///     srv.disconnect(id) // answered: close once written
    /// });
    /// let mut client = TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"hello\n")?;
    /// client.shutdown(Shutdown::Write)?; // the request is complete
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer)?;
    /// assert_eq!(answer, "HELLO\n");
    /// worker.join().unwrap()?;
    /// server.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hold_for_replies(mut self, window: Duration) -> TcpServer {
        self.config.hold_for_replies = Some(window);
        self
    }

    /// Capacity of the pull-mode event queue (default 65,536 events). While
    /// it is full — or its messages hold [`EVENT_QUEUE_BYTES`](crate::EVENT_QUEUE_BYTES)
    /// (64 MiB), so large messages cannot fill memory — the server stops
    /// reading from clients: each event loop stops once its own event
    /// finds the queue full (so with several loops, another loop's client
    /// may be read once more, its events waiting in that loop until there
    /// is room; none is dropped). Zero is refused by [`start`](TcpServer::start)
    /// as [`Error::InvalidConfig`]; `usize::MAX` in effect removes the bound
    /// on the number of events, and the byte bound still holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).event_capacity(1024);
    /// ```
    pub fn event_capacity(mut self, events: usize) -> TcpServer {
        self.config.event_capacity = events;
        self
    }

    /// Lets an event loop that has run out of work keep polling for up to
    /// `spin` before it sleeps (default [`DEFAULT_BUSY_POLL`], 5 µs;
    /// `Duration::ZERO` turns it off). Between polls it yields its CPU to any
    /// other runnable thread.
    ///
    /// Under steady load most sleeps are short, and each costs a context
    /// switch and a wakeup; polling a little longer avoids them. On the
    /// benchmark machine (2 cores shared with the load generator, 2 loops)
    /// 5 µs raised echo throughput from 0.83–0.92 M to 1.18 M msgs/s (and
    /// lowered the server's CPU per message), with fan-out unchanged; 20–50 µs
    /// gained no more. The price is at most `spin` of CPU per wakeup that
    /// finds nothing more to do: nothing for an idle server, a few per cent
    /// of a core for a lightly loaded one; set it to zero to sleep at once.
    ///
    /// A busy-polling loop that keeps finding work also gives up its CPU
    /// (`sched_yield`) after a turn at most every 200 µs, so a thread waiting
    /// for that core runs now instead of at the scheduler's next tick. On the
    /// benchmark machine this halved the echo p99 (4.4 → 2.1 ms; p99.9 8.4 →
    /// 3.8 ms) at unchanged throughput; the median round trip rose from 340
    /// to 690 µs (the mean is fixed by the throughput: the distribution got
    /// narrower). With `spin` zero the loop never yields.
    ///
    /// At most [`MAX_BUSY_POLL`] (1 s); [`start`](TcpServer::start) refuses
    /// more.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = tcphub::TcpServer::new(0, 10).busy_poll(std::time::Duration::ZERO);
    /// ```
    pub fn busy_poll(mut self, spin: Duration) -> TcpServer {
        self.config.busy_poll = spin;
        self
    }

    /// A message sent to each connection refused because `max_clients`
    /// clients are connected, framed like every other message, just before
    /// the server closes it — as Redis answers "max number of clients
    /// reached" — so the peer learns why instead of seeing a bare
    /// end-of-stream. Default: none. Keep it short: it is written once,
    /// without waiting, so its frame may be at most
    /// [`MAX_FULL_MESSAGE`](crate::MAX_FULL_MESSAGE) (4096) bytes. Until
    /// the peer has acknowledged the notice, the refused socket lingers
    /// (its input read and discarded, for up to the
    /// [`linger`](TcpServer::linger) time), so a peer that keeps sending
    /// (say, a message written the instant it connected) still gets all of
    /// it rather than a reset that would throw its unsent rest away. At
    /// most 1,024 sockets (nor more than `max_clients`) linger per event
    /// loop, and a refused connection's place goes to a client's socket
    /// that needs it: a refused socket without a place is closed at once,
    /// and its peer, if still sending, may get a reset instead of the rest
    /// of the notice.
    ///
    /// # Errors
    ///
    /// [`start`](TcpServer::start) fails with [`Error::InvalidConfig`] when
    /// the framed message is longer than that or over the framing's
    /// `max_len`, or when it contains `\n` under
    /// [`Framing::Lines`] (the framing refuses it as
    /// any send does, [`Error::InvalidMessage`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 1)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .full_message("server full, try later")
    ///     .start()?;
    /// let first = tcphub::TcpClient::connect(server.local_addr())?;
    /// while server.client_count() < 1 {
    ///     std::thread::yield_now();
    /// }
    /// let mut second = std::net::TcpStream::connect(server.local_addr())?;
    /// let mut notice = String::new();
    /// second.read_to_string(&mut notice)?; // the notice, then end-of-stream
    /// assert_eq!(notice, "server full, try later\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn full_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.full_message = Some(Arc::from(msg.as_ref()));
        self
    }

    /// Checks the settings as [`start`](TcpServer::start) does, without
    /// binding or spawning anything: for a caller (such as a binding's
    /// constructor) that wants a mistake refused where it was made rather
    /// than where the server is started. `start` checks them again.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for zero `max_clients` or `max_clients_per_ip`, a
    /// [`per_ip_ipv6_prefix`](TcpServer::per_ip_ipv6_prefix) of 0 or over 128, zero threads or
    /// more than [`MAX_THREADS`], zero `max_len`, a zero queue bound or
    /// event capacity, a backlog below 1, a zero idle or frame timeout or
    /// keepalive, a keepalive over [`MAX_KEEPALIVE`](crate::MAX_KEEPALIVE),
    /// a busy poll over [`MAX_BUSY_POLL`], a
    /// [`full_message`](TcpServer::full_message),
    /// [`per_ip_full_message`](TcpServer::per_ip_full_message),
    /// [`idle_timeout_message`](TcpServer::idle_timeout_message),
    /// [`frame_timeout_message`](TcpServer::frame_timeout_message) or
    /// [`frame_too_large_message`](TcpServer::frame_too_large_message) that
    /// is too long framed (or holds a `\n` under `Lines`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{Error, TcpServer};
    /// assert!(TcpServer::new(0, 10).validate().is_ok());
    /// let err = TcpServer::new(0, 0).validate().unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig(_)));
    /// assert_eq!(err.to_string(), "invalid configuration: max_clients must be at least 1");
    /// ```
    pub fn validate(&self) -> Result<()> {
        check(&self.config).map(drop)
    }

    /// Binds, listens and spawns the event-loop threads.
    ///
    /// With no callbacks set, the server runs in pull mode: everything is
    /// delivered to [`ServerHandle::events`], and the application must take
    /// it. Events nobody takes fill the bounded queue
    /// ([`event_capacity`](TcpServer::event_capacity)); the server then
    /// stops reading from clients — so it no longer sees them leave, and
    /// [`clients`](ServerHandle::clients) and `send_all` still count them —
    /// and, once about a thousand more events wait, stops accepting new
    /// ones. A server that only sends (a broadcaster whose clients never
    /// speak) still gets a `Connected` and a `Disconnected` per client:
    /// take them, or set a callback (even an empty `on_disconnect`) to run
    /// in callback mode.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] when the address cannot be bound (in use, permission
    /// denied), [`Error::InvalidConfig`] for zero `max_clients` or `max_clients_per_ip`, a
    /// [`per_ip_ipv6_prefix`](TcpServer::per_ip_ipv6_prefix) of 0 or over 128, zero threads
    /// or more than [`MAX_THREADS`], zero `max_len`, a zero queue bound or
    /// event capacity, a backlog below 1, a zero idle or frame timeout or
    /// keepalive, a keepalive over [`MAX_KEEPALIVE`](crate::MAX_KEEPALIVE),
    /// a busy poll over [`MAX_BUSY_POLL`], a
    /// [`full_message`](TcpServer::full_message),
    /// [`per_ip_full_message`](TcpServer::per_ip_full_message),
    /// [`idle_timeout_message`](TcpServer::idle_timeout_message),
    /// [`frame_timeout_message`](TcpServer::frame_timeout_message) or
    /// [`frame_too_large_message`](TcpServer::frame_too_large_message) that
    /// is too long framed or holds a `\n` under `Lines` (the checks of
    /// [`validate`](TcpServer::validate)); [`Error::Io`]
    /// when the OS refuses a thread or poller.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(self) -> Result<ServerHandle> {
        start::start(self)
    }
}

/// The settings, for the crate's unit tests of code that reads them.
#[cfg(test)]
impl TcpServer {
    pub(crate) fn test_config(&self) -> &Config {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine sets `TCP_NODELAY` once, on the listener, and relies on
    /// accepted sockets inheriting it; this checks the inheritance both ways.
    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn accepted_sockets_inherit_nodelay() {
        for on in [true, false] {
            let server = TcpServer::new(0, 1)
                .bind(IpAddr::from([127, 0, 0, 1]))
                .nodelay(on);
            let listener = crate::event_loop::listen(&server.config).expect("listen");
            let _peer = std::net::TcpStream::connect(listener.local_addr().expect("addr"))
                .expect("connect");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(std::time::Instant::now() < deadline, "nothing to accept");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            };
            assert_eq!(stream.nodelay().expect("nodelay"), on, "nodelay({on})");
        }
    }
}

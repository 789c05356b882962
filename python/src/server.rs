//! `tcphub.TcpServer`: the core server run in pull mode, plus one dispatcher
//! thread that calls the Python callbacks.
//!
//! Threads and the GIL:
//!
//! - The core's I/O threads never touch Python. The binding always starts the
//!   core server *without* Rust callbacks, so every event goes to its bounded
//!   pull queue.
//! - With Python callbacks set, one dispatcher thread (`tcphub-dispatch`)
//!   waits on that queue detached from the interpreter, takes events in
//!   batches, and attaches once per batch to call the callbacks in order.
//! - Without callbacks the application pulls: `events()`, `poll()`,
//!   `aevents()`. Blocking waits are detached and cut into short slices so
//!   Ctrl-C (`check_signals`) is seen promptly in the main thread.
//! - `stop()` detaches for the whole stop: the core joins its I/O threads,
//!   then we wait for the dispatcher (which may need the GIL to run the last
//!   `on_disconnect` callbacks), in slices so Ctrl-C interrupts the wait;
//!   concurrent `stop()` calls all wait for it. Called on a dispatcher thread
//!   — inside a callback of this server or of any other — it only starts the
//!   stop and returns: the dispatcher drains the remaining events and ends by
//!   itself, and two servers stopping each other cannot deadlock.
//! - Dropping a running server stops it with the GIL released, without
//!   waiting for its dispatcher (a drop may come from the garbage
//!   collector, anywhere): its last callbacks run after it, and the
//!   interpreter's exit waits for them (`dispatch::wait_all`). Dropped
//!   inside a callback, it stops on a thread of its own, which the exit
//!   waits for too. The
//!   callbacks are visible to Python's garbage collector, so a server whose
//!   callbacks refer back to it is collected once it is stopped and
//!   unreferenced.
//! - Once Ctrl-C has ended a `stop()`'s wait, neither dropping the server
//!   nor the exit waits for that stop again (`server/stopping.rs`).
//! - The only Rust locks here guard plain data; they are taken with
//!   `lock_py_attached` (or while detached) and never held across a call into
//!   Python.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::{PyTraverseError, PyVisit};
use tcphub::Event;

use crate::args::Data;
use crate::dispatch::Callbacks;
use crate::errors::{invalid_config, IntoPy};
use crate::settings::{overflow_from_str, Settings};
use crate::{deadline_after, duration, framing_from_str, framing_name};

mod info;
mod pull;
mod running;
mod sending;
mod starting;
mod stopping;

use running::Running;

/// A multi-client TCP server.
///
/// ``TcpServer(port, max_clients)`` configures a server; ``start()`` binds and
/// starts it (or use it as a context manager). Port 0 picks a free port; read
/// the real one from ``port``.
///
/// Register callbacks with the ``on_connect`` / ``on_message`` /
/// ``on_disconnect`` decorators before ``start()``: they run on one
/// dispatcher thread, in order per client, never on the I/O threads (so
/// they are plain functions: an ``async def`` one raises ``TypeError``;
/// from asyncio, consume ``aevents()`` instead). An
/// exception in a callback is passed to ``on_error`` if set, otherwise to
/// ``sys.unraisablehook``; the server keeps running. (Once ``stop()`` has
/// begun, no more messages reach ``on_message`` — those read but not yet
/// handed to it are dropped — but a callback already running finishes,
/// and a reply it sends raises ``NotRunning``: without ``on_error`` that
/// one is counted in ``callback_errors`` but not reported.) Without
/// callbacks the server runs in pull mode: consume ``events()``,
/// ``poll()`` or ``aevents()``.
///
/// Every method is thread-safe and may be called from inside a callback,
/// ``stop()`` included. Servers still running at interpreter exit are stopped.
/// A running server that is dropped stops as ``stop()`` does: the dropping
/// thread waits up to ``linger`` (the GIL released; Ctrl-C does not cut
/// that wait) — on an asyncio event loop's thread, a thread of its own
/// does instead, so the loop runs on.
/// A running server is not stopped by ``del`` when its callbacks refer back
/// to it (an application object holding both): the cycle keeps it serving
/// until ``stop()`` or exit, so stop servers explicitly (``with`` does).
///
/// Constructor parameters (nothing is bound until ``start()``; durations
/// are in seconds):
///
/// - ``port``: TCP port, 0 for any free one. ``max_clients``: most clients
///   connected at once (more are accepted and closed).
///   ``max_clients_per_ip``: most clients from one IP address at once
///   (``None``, the default: no limit but ``max_clients``); more from it
///   are accepted and closed, counted in ``stats().rejected_per_ip``, so
///   one host cannot take all of ``max_clients``. A client's place comes
///   back when its connection is closed (in pull mode a client that
///   finished sending is held for replies until the next call for
///   events). An IPv4 client on a dual-stack listener counts as its IPv4
///   address, an IPv6 one by all 128 bits unless ``per_ip_ipv6_prefix``
///   says otherwise; clients behind one NAT share an address. When the
///   server is full as well, ``max_clients`` decides: the connection
///   counts in ``stats().rejected``.
///   ``per_ip_ipv6_prefix``: IPv6 clients whose addresses share their
///   first this many bits (1 to 128; default 128: each address on its
///   own) share one ``max_clients_per_ip`` limit. An IPv6 host is commonly
///   given a whole /64 and can connect from any address in it; 64 counts
///   such a host once. IPv4 clients always count by their whole address.
/// - ``framing``: how messages are delimited — ``"raw"`` (each read is a
///   message), ``"lines"`` (newline-terminated; sending a message holding a
///   newline raises ``InvalidMessage``, and one ending in ``\r`` arrives
///   without it) or ``"length"`` (4-byte big-endian length prefix).
///   ``max_len``: longest accepted message for lines/length framing
///   (default ``DEFAULT_MAX_LINE`` / ``DEFAULT_MAX_FRAME``).
/// - ``bind``: local IP address (``"::"`` for IPv6 and IPv4; IPv6 also in
///   brackets, ``"[::1]"``).
/// - ``threads``: event-loop threads (``None``: one per core).
/// - ``max_queue_bytes``: bound of each client's outbound queue (default
///   ``DEFAULT_MAX_QUEUE_BYTES``, 4 MiB); ``overflow``: ``"disconnect"`` a
///   client whose queue is full (reason ``"slow consumer"``), or ``"drop"``
///   the message.
/// - ``idle_timeout`` cuts a client that sends nothing for that long,
///   ``frame_timeout`` one that takes longer than that to complete a
///   started frame (slowloris defence); their clocks do not run while the
///   server is not reading (e.g. its event queue full), and they run at an
///   eighth of the speed while the application works on events it took
///   (a slow callback, or the body of a loop over ``events()``; 50 ms of
///   it at least) until it asks for more — with several threads taking
///   events, until any of them does: their clients wait for the
///   answers; ``None`` (the default) turns either off, and 0 is
///   ``InvalidConfig``. ``keepalive``:
///   TCP keepalive probes after that long without traffic (``None``: off;
///   at most 32,767 s), then every third of it; 3 unanswered end the
///   connection (reason ``"i/o error: timed out"``), about twice that time
///   after the client's last traffic (also while data sent to it waits to
///   be acknowledged).
/// - ``nodelay``: ``TCP_NODELAY`` on accepted sockets. ``backlog``: listen
///   backlog (default 4096).
/// - ``linger``: how long ``stop()`` keeps flushing, and how long a client
///   that finished sending is held open for replies after its disconnect
///   event was taken (pull mode, callbacks included).
/// - ``hold_for_replies``: seconds a client that finished sending (a
///   half-close after its request, as ``nc -N`` does) is kept open for
///   replies — for answers that come from worker threads. Its disconnect
///   is reported as usual, but ``send()`` and broadcasts still reach it
///   until you ``disconnect()`` it (do, once it is answered: the client
///   waits for that end), that long has passed since its disconnect event
///   was handed out (to ``on_disconnect``, or by ``events()``,
///   ``poll()`` or ``aevents()``), a write to it fails or the client
///   resets it, or the stop. ``None`` (the default): held only until the
///   next event is taken, as above.
/// - ``event_capacity``: events the server's event queue holds (default
///   65,536; and at most ``EVENT_QUEUE_BYTES`` of messages); while it is
///   full, the server stops reading from clients. What was taken out of
///   it in a batch waits besides: the rest of a batch an iterator took
///   and has not handed out (up to ``max_batch`` events, counted in
///   ``pending_events``, which may exceed ``event_capacity`` by that
///   much), the batch the callback thread is running (up to 256) and
///   the messages it holds back for a pause (``pause_client``).
/// - ``busy_poll``: how long an I/O thread that ran out of work keeps
///   polling (yielding the CPU) before it sleeps — fewer wakeups under
///   steady load, at most that much CPU per wakeup; default 5e-6, 0 turns
///   it off, at most 1 (``InvalidConfig`` beyond).
/// - ``full_message``: bytes sent (framed) to each connection refused
///   because ``max_clients`` are connected, just before it is closed, so
///   the peer learns why; at most 4096 bytes framed.
///   ``per_ip_full_message``: likewise, for each connection refused because
///   ``max_clients_per_ip`` from its address are connected.
/// - ``idle_timeout_message``, ``frame_timeout_message``: bytes sent
///   (framed) to each client cut off by ``idle_timeout`` or
///   ``frame_timeout``, after what was queued for it and before its
///   connection is closed, so the peer learns why instead of seeing a bare
///   end-of-stream (the disconnect event still gives the timeout as the
///   reason); queued even when the client's queue is full, at most 4096
///   bytes framed, not counted in ``stats().msgs_out`` (its bytes, once
///   written, are in ``bytes_out``).
/// - ``frame_too_large_message``: likewise, for each client cut off for a
///   frame over ``max_len`` (what it sends after is read and discarded
///   until the notice is acknowledged); a peer speaking another framing
///   learns that it was cut off, though it may not decode the notice.
///   Never sent under raw framing, where no frame is too large.
///
/// Raises ``InvalidConfig`` (a ``ValueError``) for bad values — every value
/// ``start()`` would refuse (zero ``max_clients``, ``threads``,
/// ``max_queue_bytes``, ``event_capacity`` or ``max_len``, a ``backlog``
/// below 1, a zero timeout or ``max_clients_per_ip``, a ``per_ip_ipv6_prefix``
/// outside 1 to 128, a notice
/// (``full_message``, ``per_ip_full_message``, ``idle_timeout_message``,
/// ``frame_timeout_message``, ``frame_too_large_message``) too long or,
/// under lines framing, holding a newline) is refused here,
/// and so is a negative or too large count (``max_clients=-1``), the
/// message naming the argument; a ``port`` outside 0–65535 raises
/// ``OverflowError``, as ``socket`` does.
///
/// Example (a chat relay; port 0 picks a free port)::
///
///     server = TcpServer(0, 100, framing="lines")
///
///     @server.on_message
///     def relay(client, data):
///         server.send_all(f"{client}: ".encode() + data, exclude=client)
///
///     with server:  # start(); stop() when the block ends
///         print("listening on port", server.port)
///         server.wait()  # until a stop (Ctrl-C interrupts)
///
/// Its properties (``port``, ``address``, ``framing``, ``max_len``,
/// ``max_clients``, ``running``, ``client_count``...) read back the settings
/// and the state as in this example.
#[pyclass(name = "TcpServer", module = "tcphub", frozen, weakref)]
pub(crate) struct PyTcpServer {
    settings: Settings,
    callbacks: Mutex<Callbacks>,
    /// Set while a `start()` is under way or done, so two threads cannot both start.
    starting: AtomicBool,
    /// A `stop()` came while a `start()` was under way: that start stops
    /// the server it just started.
    stop_requested: AtomicBool,
    /// A `stop()` came before any `start()` (or during one that failed): the
    /// server counts as stopped, and `start()` refuses, so that a shutdown
    /// asked for early (a signal handler, another thread) is not lost.
    /// Never set once `running` is.
    stopped_unstarted: AtomicBool,
    running: OnceLock<Running>,
    /// Ctrl-C ended a `stop()`'s wait and no `stop()` finished since: see
    /// `give_up_waiting` (`stopping.rs`).
    interrupted: AtomicBool,
    /// Pull mode: events taken from the queue in a batch and not handed out
    /// yet, for whichever consumer asks next (see `events::Pull`).
    pending: Arc<Mutex<VecDeque<Event>>>,
}

#[pymethods]
impl PyTcpServer {
    // The parameters are documented on the class: Python shows only the
    // class docstring for the constructor.
    #[new]
    #[pyo3(signature = (
        port = 0,
        max_clients = 1024,
        *,
        max_clients_per_ip = None,
        per_ip_ipv6_prefix = 128,
        framing = "raw",
        bind = "0.0.0.0",
        max_len = None,
        threads = None,
        max_queue_bytes = 4194304, // DEFAULT_MAX_QUEUE_BYTES (checked in lib.rs)
        overflow = "disconnect",
        idle_timeout = None,
        frame_timeout = None,
        keepalive = None,
        nodelay = true,
        backlog = 4096, // DEFAULT_BACKLOG
        linger = 2.0,
        hold_for_replies = None,
        event_capacity = 65536, // DEFAULT_EVENT_CAPACITY
        busy_poll = 5e-6,
        full_message = None,
        per_ip_full_message = None,
        idle_timeout_message = None,
        frame_timeout_message = None,
        frame_too_large_message = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::args::port_arg)] port: u16,
        #[pyo3(from_py_with = crate::args::max_clients_arg)] max_clients: usize,
        #[pyo3(from_py_with = crate::args::max_clients_per_ip_arg)] max_clients_per_ip: Option<
            usize,
        >,
        #[pyo3(from_py_with = crate::args::per_ip_ipv6_prefix_arg)] per_ip_ipv6_prefix: u8,
        framing: &str,
        bind: &str,
        #[pyo3(from_py_with = crate::args::max_len_arg)] max_len: Option<usize>,
        #[pyo3(from_py_with = crate::args::threads_arg)] threads: Option<usize>,
        #[pyo3(from_py_with = crate::args::max_queue_bytes_arg)] max_queue_bytes: usize,
        overflow: &str,
        idle_timeout: Option<f64>,
        frame_timeout: Option<f64>,
        keepalive: Option<f64>,
        nodelay: bool,
        #[pyo3(from_py_with = crate::args::backlog_arg)] backlog: i32,
        linger: f64,
        hold_for_replies: Option<f64>,
        #[pyo3(from_py_with = crate::args::event_capacity_arg)] event_capacity: usize,
        busy_poll: f64,
        full_message: Option<Data>,
        per_ip_full_message: Option<Data>,
        idle_timeout_message: Option<Data>,
        frame_timeout_message: Option<Data>,
        frame_too_large_message: Option<Data>,
    ) -> PyResult<PyTcpServer> {
        // IPv6 also in brackets, as tcphub prints addresses ("[::1]:8001")
        // and `tcphub serve --bind` takes them; no zone: the server binds
        // an address alone.
        let bind: IpAddr = tcphub::parse_bind_ip(bind)
            .ok_or_else(|| invalid_config(py, format!("bind: not an IP address: {bind:?}")))?;
        let overflow = overflow_from_str(py, overflow)?;
        let settings = Settings {
            port,
            max_clients,
            bind,
            framing: framing_from_str(py, framing, max_len)?,
            threads,
            max_queue_bytes,
            overflow,
            idle_timeout: idle_timeout
                .map(|s| crate::positive_duration(py, s, "idle_timeout"))
                .transpose()?,
            frame_timeout: frame_timeout
                .map(|s| crate::positive_duration(py, s, "frame_timeout"))
                .transpose()?,
            keepalive: keepalive
                .map(|s| crate::positive_duration(py, s, "keepalive"))
                .transpose()?,
            nodelay,
            backlog,
            linger: duration(py, linger, "linger")?,
            hold_for_replies: hold_for_replies
                .map(|s| crate::positive_duration(py, s, "hold_for_replies"))
                .transpose()?,
            event_capacity,
            busy_poll: duration(py, busy_poll, "busy_poll")?,
            full_message: full_message.map(|m| m.to_vec()),
            max_clients_per_ip,
            per_ip_ipv6_prefix,
            per_ip_full_message: per_ip_full_message.map(|m| m.to_vec()),
            idle_timeout_message: idle_timeout_message.map(|m| m.to_vec()),
            frame_timeout_message: frame_timeout_message.map(|m| m.to_vec()),
            frame_too_large_message: frame_too_large_message.map(|m| m.to_vec()),
        };
        // Everything `start()` would refuse is refused here, where the
        // mistake is made (same class and message).
        settings.builder().validate().py_err(py)?;
        Ok(PyTcpServer {
            settings,
            callbacks: Mutex::new(Callbacks::default()),
            starting: AtomicBool::new(false),
            stop_requested: AtomicBool::new(false),
            stopped_unstarted: AtomicBool::new(false),
            running: OnceLock::new(),
            interrupted: AtomicBool::new(false),
            pending: Arc::default(),
        })
    }

    /// Decorator: ``func(client)`` is called when a client connects.
    ///
    /// A server's callbacks run one at a time, in order, on its dispatcher
    /// thread (not the I/O threads): they never run at the same time. Any
    /// callback puts the server in callback mode: an event whose callback
    /// is not set is dropped, and ``events()``/``poll()``/``aevents()``
    /// raise ``RuntimeError`` — with ``on_connect`` or ``on_disconnect``
    /// alone, the clients' messages go nowhere. A callback must not be
    /// ``async def``.
    ///
    /// The callbacks run after the fact, not on the I/O threads as Rust's
    /// and C's do: by the time one runs, its client may already have left
    /// (it reset, or was cut off for a frame over ``max_len`` or as a slow
    /// consumer; its ``on_disconnect`` comes next), and a reply to it —
    /// a welcome from ``on_connect`` included — raises ``NoSuchClient``
    /// (``send_to``: ``NoSuchAddr``, one) and ``client()`` gives ``None``.
    /// Catch it where you reply; a client that only finished sending is
    /// still reached (see ``Event``).
    ///
    /// Example (``on_disconnect`` too)::
    ///
    ///     @server.on_connect
    ///     def joined(client):
    ///         try:
    ///             server.send(client, f"welcome, {client.ip}:{client.port}".encode())
    ///         except tcphub.NoSuchClient:
    ///             pass  # it left before this ran (see above)
    ///
    ///     @server.on_disconnect
    ///     def left(client, reason):
    ///         print(client, "left:", reason)  # 127.0.0.1:50312 left: closed by peer
    fn on_connect(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.set_callback(py, "on_connect", |c| &mut c.on_connect, func)
    }

    /// Decorator: ``func(client, data: bytes)`` is called for each message
    /// (one frame), in order per client. Its client may already have left,
    /// as for ``on_connect``: a reply raises ``NoSuchClient`` then.
    ///
    /// Example: see the class's (a relay).
    fn on_message(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.set_callback(py, "on_message", |c| &mut c.on_message, func)
    }

    /// Decorator: ``func(client, reason: str)`` is called once when a
    /// client leaves (see ``Event.reason`` for the reasons). It is the
    /// client's last callback — the place to drop what you keep about it,
    /// keyed by ``client.id`` (never reused while the server runs).
    ///
    /// Example: see ``on_connect``.
    fn on_disconnect(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.set_callback(py, "on_disconnect", |c| &mut c.on_disconnect, func)
    }

    /// Decorator: ``func(exc, event)`` is called when another callback raises
    /// (instead of ``sys.unraisablehook``). What ``func`` itself raises goes
    /// to ``sys.unraisablehook``, with ``exc`` as its ``__context__``.
    ///
    /// Example::
    ///
    ///     @server.on_message
    ///     def handle(client, data):
    ///         int(data)  # raises ValueError for b"x"
    ///
    ///     @server.on_error
    ///     def oops(exc, event):
    ///         print(f"{event.kind} from {event.client}: {exc!r}")
    fn on_error(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.set_callback(py, "on_error", |c| &mut c.on_error, func)
    }

    /// Binds, listens and starts serving; returns the server itself.
    ///
    /// Raises ``BindError`` (an ``OSError`` with ``errno``, e.g. ``EADDRINUSE``)
    /// when the address cannot be bound (bad settings were refused by the
    /// constructor), ``RuntimeError`` when already started (a stopped server cannot be
    /// restarted: create a new one) or stopped before it was started.
    ///
    /// Example::
    ///
    ///     server = TcpServer(0, 10).start()
    ///     print(server.port)  # the port the system picked
    fn start<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        slf.get().start_core(slf.py())?;
        // Stopped at interpreter exit if the application does not.
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_track", (slf,))?;
        Ok(slf.clone())
    }

    /// Stops gracefully: stop accepting, flush queued messages (up to
    /// ``linger`` seconds), report every client as disconnected with reason
    /// ``"server stopped"``, wait for the last callbacks and release the port.
    /// Idempotent; concurrent calls all wait. Ctrl-C interrupts the wait for
    /// the flush and the last callbacks (the server is stopping by then; a
    /// later ``stop()`` waits for the rest, but the interpreter's exit and
    /// dropping the server do not: the flush goes on in the background while
    /// the process lives). Inside a callback
    /// — of this server or of any other — it starts the stop and returns;
    /// the remaining callbacks run after the current one returns. Once the
    /// stop has begun no message is handed to ``on_message`` (those received
    /// but not handed out yet are dropped: a reply to them could not be
    /// sent); ``on_connect`` and ``on_disconnect`` still run. Before
    /// ``start()`` it marks the server stopped (``start()`` then raises
    /// ``RuntimeError``), so a stop asked for early is not lost.
    ///
    /// ``timeout`` (seconds; ``None``: no limit) bounds the wait, flush and
    /// last callbacks together (give or take a tenth of a second): past it
    /// the stop goes on in the background and a later ``stop()`` waits for
    /// the rest. Returns whether the server has stopped (``False`` when the
    /// time ran out, and inside a callback)::
    ///
    ///     if not server.stop(timeout=5.0):
    ///         print("a callback is still running")
    #[pyo3(signature = (timeout = None))]
    fn stop(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) => crate::deadline_after(duration(py, t, "timeout")?),
            None => None,
        };
        if !self.starting.swap(true, Ordering::SeqCst) {
            // Never started: it stays stopped, and start() refuses.
            self.stopped_unstarted.store(true, Ordering::SeqCst);
            return Ok(true);
        }
        self.stop_requested.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst); // see start()
        self.stop_waiting(py, deadline)
    }

    /// Like ``stop()``, but waits at most ``timeout`` seconds for a callback
    /// that does not return (used at interpreter exit). Returns whether the
    /// callback thread finished. Waits for nothing when Ctrl-C ended a
    /// ``stop()`` of this server, and Ctrl-C ends its own wait for the flush.
    #[pyo3(signature = (timeout))]
    fn _stop_with_timeout(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let t = duration(py, timeout, "timeout")?;
        self.stop_at_exit(py, t)
    }

    /// The application gave up waiting for this server's stop (Ctrl-C
    /// ended the program while an ``astop()`` waited): as after an
    /// interrupted ``stop()``, neither the exit nor dropping the server
    /// waits for its flush or its last callbacks. Used by ``astop()``.
    fn _give_up(&self) {
        self.give_up_waiting();
    }

    /// Waits up to ``timeout`` seconds for the callback threads of every
    /// server to finish — those of servers dropped without ``stop()``
    /// included, which were stopped but not waited for — and returns
    /// whether they all did. Used at interpreter exit, after the servers
    /// still referenced were stopped. Ctrl-C ends the wait
    /// (``KeyboardInterrupt``), as it does a callback's own wait.
    #[staticmethod]
    fn _wait_for_callbacks(py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let limit = duration(py, timeout, "timeout")?;
        if crate::dispatch::on_dispatcher() {
            return Ok(false); // (it never waits for dispatchers there)
        }
        let waited = crate::wait_sliced(py, crate::deadline_after(limit), |slice| {
            Ok(crate::dispatch::wait_all(slice).then_some(()))
        })?;
        Ok(matches!(waited, crate::Waited::Got(())))
    }

    /// Blocks until the server has stopped (by ``stop()`` from another
    /// thread or a callback) — its queues flushed (up to ``linger``), its
    /// clients closed — and its last callbacks (the ``"server stopped"``
    /// disconnects) have run, or ``timeout`` seconds passed; returns whether
    /// it stopped. Ctrl-C interrupts the wait. Inside a callback it does not
    /// wait for the callbacks (they run after it).
    /// Raises ``NotRunning`` before ``start()`` (there is nothing to wait
    /// for: without it, ``wait()`` would block for good), unless ``stop()``
    /// came first: then the server has stopped, and it returns ``True``.
    ///
    /// Example::
    ///
    ///     @server.on_message
    ///     def command(client, data):
    ///         if data == b"quit":
    ///             server.stop()  # from a callback: starts the stop, returns
    ///
    ///     server.start()
    ///     server.wait()  # returns True once the "quit" stopped it
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.stopped_unstarted.load(Ordering::SeqCst) {
            return Ok(true);
        }
        let r = self.started(py)?;
        let deadline = timeout
            .map(|t| duration(py, t, "timeout"))
            .transpose()?
            .and_then(deadline_after);
        self.wait_stopped(py, r, deadline)
    }

    /// The first half of a two-phase shutdown: the server takes no more
    /// input — no ``on_message`` call (messages received but not handed out
    /// yet are dropped) and no message event from now on — while everything
    /// else goes on: sends reach the clients, the events already queued stay
    /// to take, and the answers your worker threads are still making get
    /// out. Then call ``stop()``, which flushes and closes as usual.
    /// The server goes on reading, to drop what comes: a client that keeps
    /// writing is not held up, and one that leaves is closed and reported
    /// as usual. Meanwhile the idle and frame timeouts wait, and new clients
    /// are still accepted (the stop closes them). Idempotent, no undo; harmless
    /// on a stopped server. Raises ``NotRunning`` before ``start()`` (unless
    /// ``stop()`` came first)::
    ///
    ///     server.stop_input()      # no more requests...
    ///     pool.shutdown(wait=True) # ...the ones taken are answered
    ///     server.stop()
    fn stop_input(&self, py: Python<'_>) -> PyResult<()> {
        self.with_input(py, |r| {
            if let Some(d) = &r.dispatcher {
                d.note_stop_input();
            }
            r.handle.stop_input();
        })
    }

    /// Pauses reading from every client until ``resume_input()``:
    /// backpressure for when your work queue is full (a worker pool fed by
    /// ``on_message``). The server leaves what clients send in the kernel, so
    /// TCP slows the senders down; nothing is lost. Sends, broadcasts and
    /// accepting go on. With callbacks it takes effect at once: from the call
    /// on, ``on_message`` is not called until ``resume_input()`` — the
    /// messages read before and waiting for the callback thread are held back
    /// (not counted in ``pending_events``) and handed out first at the
    /// resume, in order — so a work queue paused at its bound gets nothing
    /// more (called from another thread, one ``on_message`` the callback
    /// thread was already starting may still run); connects still come,
    /// and a client's end comes after its held
    /// messages. In pull mode it takes effect at each I/O thread's next
    /// read: the events already queued stay to take, and so does the rest
    /// of a read in hand (at most 64 KiB of input per I/O thread; while the
    /// queue is full it waits for room, not counted in ``pending_events``).
    /// While paused the idle and frame timeouts wait, and a client that
    /// leaves is noticed once input resumes. Not counted: one
    /// ``resume_input()`` ends any number of pauses. Any thread, also a
    /// callback; harmless on a stopped server. Raises ``NotRunning`` before ``start()`` (unless
    /// ``stop()`` came first). Decide the pause and the resume under one
    /// lock: checked and acted on apart, a pause can land after the workers'
    /// last look at an emptied queue, and nobody resumes::
    ///
    ///     def on_message(client, data):
    ///         with lock:
    ///             jobs.append((client, data))
    ///             if len(jobs) >= LIMIT:
    ///                 server.pause_input()  # a worker resumes it
    fn pause_input(&self, py: Python<'_>) -> PyResult<()> {
        self.with_input(py, |r| match &r.dispatcher {
            Some(d) => d.holds.pause_input(|| r.handle.pause_input()),
            None => r.handle.pause_input(),
        })
    }

    /// Ends ``pause_input()``: the server reads what clients sent
    /// meanwhile; with callbacks, the messages held back go out first, and
    /// the server reads again once they have.
    /// Harmless when not paused and on a stopped server; raises
    /// ``NotRunning`` before ``start()`` (unless ``stop()`` came first).
    ///
    /// Example: see ``pause_input()``.
    fn resume_input(&self, py: Python<'_>) -> PyResult<()> {
        self.with_input(py, |r| match &r.dispatcher {
            Some(d) => d.holds.resume_input(|| r.handle.resume_input()),
            None => r.handle.resume_input(),
        })
    }

    /// Whether input is paused (``pause_input()`` without a
    /// ``resume_input()`` since); ``False`` before ``start()``.
    #[getter]
    fn input_paused(&self) -> bool {
        self.running.get().is_some_and(|r| {
            // (A resume the callback thread is to apply counts already.)
            r.handle.input_paused() && !r.dispatcher.as_ref().is_some_and(|d| d.holds.input_owed())
        })
    }

    /// Starts the server (unless it is running) and returns it. Raises
    /// ``RuntimeError`` for a server that was stopped (it cannot be restarted).
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        if slf
            .get()
            .running
            .get()
            .is_some_and(|r| r.handle.is_running())
        {
            return Ok(slf.clone());
        }
        Self::start(slf)
    }

    /// Stops the server.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.stop(py, None)?;
        Ok(false)
    }

    /// ``stop()`` for asyncio: ``await server.astop()`` stops the server on
    /// a helper thread, so the event loop keeps running while queued
    /// messages are flushed (up to ``linger`` seconds) and the last callbacks
    /// run. ``timeout`` and the result are ``stop()``'s. Cancelling the
    /// awaiting task (Ctrl-C ending ``asyncio.run`` too) does not cancel the
    /// stop but gives up waiting for it, as Ctrl-C does a ``stop()``:
    /// neither the exit nor dropping the server waits for the flush or the
    /// last callbacks (``timeout`` bounds the wait instead).
    #[pyo3(signature = (timeout = None))]
    /// Example::
    ///
    ///     async def main():
    ///         server = TcpServer(0, 10).start()
    ///         ...
    ///         await server.astop(timeout=5)
    fn astop<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_astop", (slf, timeout))
    }

    /// ``async with TcpServer(...) as server:`` starts the server (unless it
    /// is running) and returns it, as ``with`` does.
    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let server = Self::__enter__(slf)?;
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_ready", (server,))
    }

    /// Stops the server as ``astop()`` does, without blocking the event loop;
    /// an exception raised in the block propagates. A block left by a
    /// cancellation (Ctrl-C ending ``asyncio.run`` too) begins the stop
    /// and gives up waiting for it, as a cancelled ``astop()`` does.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        _exc_type: Option<Bound<'py, PyType>>,
        _exc: Option<Bound<'py, PyAny>>,
        _tb: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_exit_after", (slf, _exc_type))
    }

    /// Lets Python's garbage collector see the callbacks, so a server whose
    /// callbacks refer back to it (`def relay(c, d): s.send_all(d)`) is
    /// collected once stopped and unreferenced. While running, the
    /// dispatcher's own references keep such a server alive.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Never wait in the collector: callbacks being set right now are
        // skipped this time.
        if let Ok(cbs) = self.callbacks.try_lock() {
            let all = [
                &cbs.on_connect,
                &cbs.on_message,
                &cbs.on_disconnect,
                &cbs.on_error,
            ];
            for f in all.into_iter().flatten() {
                visit.call(f)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        let taken = self
            .callbacks
            .try_lock()
            .map(|mut c| std::mem::take(&mut *c));
        drop(taken); // the references go here, with the GIL held
    }

    fn __repr__(&self) -> String {
        let (ip, port) = self.address();
        let state = match self.running.get() {
            None if self.stopped_unstarted.load(Ordering::Acquire) => "stopped".to_string(),
            None if self.starting.load(Ordering::Acquire) => "starting".to_string(),
            None => "not started".to_string(),
            Some(r) if r.handle.is_running() => match r.handle.client_count() {
                1 => "running, 1 client".to_string(),
                n => format!("running, {n} clients"),
            },
            Some(_) => "stopped".to_string(),
        };
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip
        };
        format!(
            "<TcpServer {host}:{port} {} ({state})>",
            framing_name(self.settings.framing)
        )
    }
}

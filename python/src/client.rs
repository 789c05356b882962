//! `tcphub.TcpClient`: the core client in pull mode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::asyncio::CancelledError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction, PyTuple, PyType};
use tcphub::{Error, TcpClient};

use crate::args::{Data, Port};
use crate::errors::IntoPy;
use crate::types::PyClientEvent;
use crate::{deadline_after, duration, framing_name, wait_in_slices, wait_sliced, Waited};

mod closing;
mod connect;

use closing::close_all;
use connect::ConnectArgs;

/// A connection to a tcphub (or any compatible) server.
///
/// ``TcpClient(host, port, framing="lines")`` connects at once (raising
/// ``ConnectError``, a ``ConnectionError`` with ``errno``, on failure);
/// from asyncio, ``await TcpClient.aconnect(host, port, ...)`` connects
/// without blocking the event loop.
/// ``send()`` never blocks by default: it frames the message and queues it
/// for a background I/O thread, raising ``QueueFull`` when the bounded queue
/// is full — or, given a ``timeout``, waits that long for room.
/// ``flush()`` waits until what was queued has been written.
/// ``recv()`` returns the next message. With ``reconnect=True`` a
/// dropped connection is re-established with capped, jittered exponential
/// backoff while ``send()`` keeps queueing. Use it as a context manager or
/// call ``close()``; iterating yields messages until the connection closes.
/// Clients still open at interpreter exit are closed (flushed, as
/// ``close()`` does) once the servers still running were stopped.
///
/// Constructor parameters (durations are in seconds):
///
/// - ``host``, ``port``: the server — a name or an IP address (an IPv6
///   address also in brackets, ``"[::1]"``, as tcphub prints addresses),
///   and its port apart: ``"127.0.0.1:8001"`` as the host is
///   ``InvalidConfig``, as are an empty host, port 0 and numbers and dots
///   that are no IPv4 address (``"127.0.0.010"``, which the system's
///   resolver would read as 127.0.0.8: a leading zero is octal).
///   The name lookup and the connect run with the GIL released; Ctrl-C
///   interrupts the wait for them and ends the connect (a name lookup
///   under way finishes on its helper thread). They block the calling thread (up to
///   ``connect_timeout`` per address): from asyncio, use
///   ``await TcpClient.aconnect(host, port, ...)``, which takes the same
///   arguments and runs them on a helper thread. An
///   empty host or port 0 raises
///   ``InvalidConfig`` (a ``ValueError``), not ``ConnectError``.
/// - ``framing``: ``"raw"``, ``"lines"`` or ``"length"``, as the server's
///   (under ``"lines"``, ``send`` raises ``InvalidMessage`` for a message
///   holding a newline);
///   ``max_len``: longest message for lines/length framing, both ways
///   (default ``DEFAULT_MAX_LINE`` / ``DEFAULT_MAX_FRAME``).
/// - ``connect_timeout``: time allowed for each connection attempt.
/// - ``reconnect``: re-establish dropped connections, waiting between
///   ``reconnect_initial`` and ``reconnect_max`` seconds (both more than
///   zero, else ``InvalidConfig``), giving up after
///   ``reconnect_max_attempts`` failed attempts in a row (``None``: never;
///   at least 1; given without ``reconnect=True``, ``InvalidConfig``).
///   Attempt *n* waits between half and all of
///   ``min(reconnect_initial * 2**(n-1), reconnect_max)``. A connection
///   that drops less than a second after it was made counts as a failed
///   attempt: the count (and the backoff) goes on instead of starting
///   again at 1, so a server that accepts and closes at once is not
///   hammered — and ``reconnect_max_attempts`` applies across such drops.
///   A ``host`` name is looked up again for the redials, so a server back
///   at another address (a restarted container, a DNS failover) is found
///   there.
/// - ``max_queue_bytes`` bounds what ``send()`` has queued (default
///   ``DEFAULT_MAX_QUEUE_BYTES``, 4 MiB; past it, ``QueueFull``).
/// - ``nodelay``: ``TCP_NODELAY`` on the socket. ``keepalive``: TCP
///   keepalive probes after that long without traffic, on every connection
///   (``None``, the default: off; 0 or over 32,767 s is
///   ``InvalidConfig``), so a server whose host vanished is found even by a
///   client that only receives, about twice that time after its last
///   traffic.
/// - ``linger``: how long ``close()`` keeps flushing and waiting for the
///   server to acknowledge what it wrote (also when an open client is
///   dropped, by ``del`` or the garbage collector: the dropping thread
///   waits, the GIL released, and Ctrl-C does not cut that wait; call
///   ``close(timeout=...)`` to bound it; on an asyncio event loop's thread
///   a thread of its own waits instead, so the loop runs on), and, with
///   ``write_after_server_eof=True`` and without ``reconnect``, how long
///   what is queued is still written after the server ended its sending
///   side.
/// - ``write_after_server_eof`` (default ``False``): what happens to
///   messages still queued when the server ends its sending side without
///   ``reconnect`` (or while closing). ``False``: the server's end ends
///   the connection at once and they are dropped, counted in ``unsent``.
///   ``True``: they are still written, within ``linger`` (a server that
///   half-closed may still read them); ``disconnect_reason`` is
///   ``"closed by peer"`` either way. The default suits a tcphub server,
///   and any server that closes rather than half-closes: one that ended
///   the connection (stopped, kicked or timed out the client) reads and
///   discards what still arrives, so written on, those messages would be
///   lost with an end that looks clean. Choose ``True`` for a server known
///   to half-close and read on (one that sends its last request and
///   half-closes to wait for the answer, say). With ``reconnect`` the queue waits
///   for the next connection either way.
/// - ``event_capacity`` bounds the events waiting to be taken: received
///   messages (``recv()``), and the drops and reconnects ``next_event()``
///   reports, which ``recv()`` skips (default 65,536; while full, the
///   client stops reading).
///
/// Raises ``InvalidConfig`` (a ``ValueError``) for bad values, a negative
/// or too large count (``event_capacity=-1``) included, before it dials.
///
/// Example::
///
///     with TcpClient("127.0.0.1", 8001, framing="lines") as client:
///         client.send(b"hello")
///         print(client.recv(timeout=5))  # the server's answer
///     # closed here: what was queued was flushed first
///
/// Its properties (``local_address``, ``peer_address``, ``is_open``,
/// ``is_connected``, ``queued_bytes``, ``unsent``, ``disconnect_reason``...)
/// answer where the client stands, e.g. ``client.disconnect_reason`` after
/// a ``recv()`` that returned ``None``.
#[pyclass(name = "TcpClient", module = "tcphub", frozen, weakref)]
pub(crate) struct PyTcpClient {
    client: TcpClient,
    framing: tcphub::Framing,
    /// Set when Ctrl-C ended a `close()`'s wait for the flush (cleared by
    /// a `close()` that finished): the application gave up waiting for it,
    /// so dropping the client — at the interpreter's exit too — leaves the
    /// rest of the flush to a thread of its own instead of waiting again.
    /// Shared with its entry in the registry of open clients ([`closing`]).
    interrupted: Arc<AtomicBool>,
    /// Its entry in the registry of open clients ([`closing`]).
    key: u64,
    /// Set by `close()` (`aclose()`, `with`): entering it again raises.
    closed: AtomicBool,
}

impl PyTcpClient {
    /// `err` as Python's, but a `NotRunning` (from `send()` or
    /// `shutdown_write()`), which the core words the same whatever
    /// the cause, says why.
    fn refused(&self, py: Python<'_>, err: Error) -> PyErr {
        if !matches!(err, Error::NotRunning) {
            return crate::errors::to_pyerr(py, err);
        }
        let why = self
            .client
            .send_refusal()
            .unwrap_or_else(|| err.to_string());
        crate::errors::not_running(py, why)
    }
}

#[pymethods]
impl PyTcpClient {
    // The parameters are documented on the class: Python shows only the
    // class docstring for the constructor. `aconnect` takes the same ones
    // (a test compares the two signatures).
    #[new]
    #[pyo3(signature = (
        host,
        port,
        *,
        framing = "raw",
        max_len = None,
        connect_timeout = 10.0,
        reconnect = false,
        reconnect_initial = 0.1,
        reconnect_max = 30.0,
        reconnect_max_attempts = None,
        max_queue_bytes = 4194304, // DEFAULT_MAX_QUEUE_BYTES (checked in lib.rs)
        nodelay = true,
        linger = 2.0,
        event_capacity = 65536, // DEFAULT_EVENT_CAPACITY
        keepalive = None,
        write_after_server_eof = false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new<'py>(
        py: Python<'py>,
        host: String,
        port: Port,
        framing: &str,
        #[pyo3(from_py_with = crate::args::max_len_arg)] max_len: Option<usize>,
        connect_timeout: f64,
        reconnect: bool,
        reconnect_initial: f64,
        reconnect_max: f64,
        #[pyo3(from_py_with = crate::args::max_attempts_arg)] reconnect_max_attempts: Option<u32>,
        #[pyo3(from_py_with = crate::args::max_queue_bytes_arg)] max_queue_bytes: usize,
        nodelay: bool,
        linger: f64,
        #[pyo3(from_py_with = crate::args::event_capacity_arg)] event_capacity: usize,
        keepalive: Option<f64>,
        write_after_server_eof: bool,
    ) -> PyResult<PyTcpClient> {
        // Ctrl-C ends the wait.
        ConnectArgs::check(
            py,
            host,
            port,
            framing,
            max_len,
            connect_timeout,
            reconnect,
            reconnect_initial,
            reconnect_max,
            reconnect_max_attempts,
            max_queue_bytes,
            nodelay,
            linger,
            event_capacity,
            keepalive,
            write_after_server_eof,
        )?
        .connect(py, || py.check_signals())
    }

    /// Connects without blocking the event loop, for asyncio:
    /// ``client = await TcpClient.aconnect(host, port, ...)`` takes the
    /// constructor's arguments and returns the connected ``TcpClient``.
    ///
    /// A bad argument raises what the constructor raises: at the call for
    /// most (a type, a framing, a negative duration, an empty host, a host
    /// with the port written into it, port 0), from the ``await`` for
    /// those the connect itself checks before it dials (a zero
    /// ``keepalive`` or reconnect setting), as the constructor checks them
    /// on its connect thread. The name lookup and the connect
    /// run on a helper thread, and fail as the constructor's do
    /// (``ConnectError``: a ``ConnectionRefusedError`` for a refused
    /// connect, also a ``socket.gaierror`` for a name that does not
    /// resolve). Cancelling the awaiting task (``asyncio.wait_for``, a task
    /// group) gives the connect up: the connect under way ends (within
    /// 0.1 s), and a connection made just before is closed.
    ///
    /// Example::
    ///
    ///     async with await TcpClient.aconnect("127.0.0.1", 8001, framing="lines") as client:
    ///         client.send(b"hello")
    ///         reply = await client.arecv(timeout=5)
    #[staticmethod]
    #[pyo3(signature = (
        host,
        port,
        *,
        framing = "raw",
        max_len = None,
        connect_timeout = 10.0,
        reconnect = false,
        reconnect_initial = 0.1,
        reconnect_max = 30.0,
        reconnect_max_attempts = None,
        max_queue_bytes = 4194304, // DEFAULT_MAX_QUEUE_BYTES (checked in lib.rs)
        nodelay = true,
        linger = 2.0,
        event_capacity = 65536, // DEFAULT_EVENT_CAPACITY
        keepalive = None,
        write_after_server_eof = false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn aconnect<'py>(
        py: Python<'py>,
        host: String,
        port: Port,
        framing: &str,
        #[pyo3(from_py_with = crate::args::max_len_arg)] max_len: Option<usize>,
        connect_timeout: f64,
        reconnect: bool,
        reconnect_initial: f64,
        reconnect_max: f64,
        #[pyo3(from_py_with = crate::args::max_attempts_arg)] reconnect_max_attempts: Option<u32>,
        #[pyo3(from_py_with = crate::args::max_queue_bytes_arg)] max_queue_bytes: usize,
        nodelay: bool,
        linger: f64,
        #[pyo3(from_py_with = crate::args::event_capacity_arg)] event_capacity: usize,
        keepalive: Option<f64>,
        write_after_server_eof: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = ConnectArgs::check(
            py,
            host,
            port,
            framing,
            max_len,
            connect_timeout,
            reconnect,
            reconnect_initial,
            reconnect_max,
            reconnect_max_attempts,
            max_queue_bytes,
            nodelay,
            linger,
            event_capacity,
            keepalive,
            write_after_server_eof,
        )?;
        // Called on the helper thread with a `threading.Event` that is set
        // when the awaiting task gives up: the wait ends at the next slice
        // (the error goes to no one) and cancels the connect, whose thread
        // then ends at once; a connection made just before is dropped,
        // which closes it.
        let connect = PyCFunction::new_closure(
            py,
            Some(c"connect"),
            None,
            move |call: &Bound<'_, PyTuple>, _| -> PyResult<PyTcpClient> {
                let py = call.py();
                let gave_up = call.get_item(0)?;
                args.clone().connect(py, || {
                    if gave_up.call_method0("is_set")?.is_truthy()? {
                        return Err(CancelledError::new_err("the awaiting task gave up"));
                    }
                    Ok(())
                })
            },
        )?;
        py.import("tcphub._runtime")?
            .call_method1("_aconnect", (connect,))
    }

    /// Queues ``data`` (framed) for sending. With ``timeout=0`` (the
    /// default) it never blocks: a full queue raises ``QueueFull`` at once.
    /// A positive ``timeout`` waits up to that many seconds for room in the
    /// queue (``None``: as long as it takes) and raises ``QueueFull`` when
    /// none came; a message larger than ``max_queue_bytes`` by itself waits
    /// for the queue to empty (only an empty queue takes it). The wait
    /// releases the GIL; Ctrl-C interrupts it.
    ///
    /// Raises ``QueueFull``, ``FrameTooLarge``, ``InvalidMessage`` (a
    /// newline in ``data`` under lines framing, at once: nothing is
    /// queued), or ``NotRunning`` once closed
    /// or after ``shutdown_write()`` (its message says which; also when that
    /// happens during the wait).
    ///
    /// Example::
    ///
    ///     for i in range(100_000):
    ///         client.send(b"%d" % i, timeout=1.0)  # waits for room instead of QueueFull
    ///     client.flush(timeout=5)
    #[pyo3(signature = (data, timeout = 0.0))]
    fn send(&self, py: Python<'_>, data: Data, timeout: Option<f64>) -> PyResult<()> {
        let deadline = match timeout.map(|t| duration(py, t, "timeout")).transpose()? {
            Some(t) if t.is_zero() => {
                return py
                    .detach(|| self.client.send(&data))
                    .map_err(|e| self.refused(py, e));
            }
            Some(t) => deadline_after(t),
            None => None,
        };
        // The last slice's `QueueFull` is the error when the time runs out
        // (its numbers as a send that does not wait gives them).
        let full = Mutex::new(None);
        let waited = wait_sliced(py, deadline, |slice| {
            match self.client.send_timeout(&data, slice) {
                Ok(()) => Ok(Some(())),
                Err(e @ Error::QueueFull { .. }) => {
                    *full.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })?;
        match waited {
            Waited::Got(()) => Ok(()),
            Waited::TimedOut => Err(full
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("only a slice that ended in QueueFull lets the time run out"))
            .py_err(py),
            Waited::Stopped => Err(self.refused(py, Error::NotRunning)),
        }
    }

    /// Waits until every message queued before the call has been written
    /// to the socket (handed to the system, not yet acknowledged by the
    /// server: ``close()`` waits for that), up to ``timeout`` seconds
    /// (``None``: as long as it takes). Returns at once when nothing is
    /// queued; messages other threads send meanwhile are not waited for.
    /// With ``reconnect=True`` it keeps waiting while the client is between
    /// connections. The wait releases the GIL; Ctrl-C interrupts it.
    ///
    /// Raises ``Timeout`` (a ``TimeoutError``) when the time ran out, and
    /// ``NotRunning`` when the messages will never be written: the client
    /// was closed (the close's own flush is waited for) or its connection
    /// ended for good with them unsent.
    ///
    /// Example: see ``send()``.
    #[pyo3(signature = (timeout = None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let deadline = timeout
            .map(|t| duration(py, t, "timeout"))
            .transpose()?
            .and_then(deadline_after);
        // One mark for every slice: what other threads send meanwhile is
        // not waited for.
        let mark = self.client.flush_mark();
        let waited = wait_sliced(py, deadline, |slice| {
            match self.client.flush_to(mark, slice) {
                Ok(()) => Ok(Some(())),
                Err(Error::Timeout) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        match waited {
            Waited::Got(()) => Ok(()),
            Waited::TimedOut => Err(Error::Timeout).py_err(py),
            Waited::Stopped => Err(self.refused(py, Error::NotRunning)),
        }
    }

    /// The next message, waiting up to ``timeout`` seconds (``None``: until one
    /// comes). Returns ``None`` once the connection is closed for good (like
    /// ``socket.recv`` returning ``b""``). Raises ``Timeout`` (a
    /// ``TimeoutError``) when nothing came in time. Ctrl-C interrupts the wait.
    ///
    /// Example::
    ///
    ///     while (msg := client.recv()) is not None:  # until the server closes
    ///         print(msg)
    ///     print("ended:", client.disconnect_reason)  # e.g. closed by peer
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let msg = wait_in_slices(py, timeout, |t| self.client.recv_timeout(t))?;
        Ok(msg.map(|m| PyBytes::new(py, &m)))
    }

    /// The next event on the connection — a message, a drop, a reconnect
    /// attempt or its success, the final close (see ``ClientEvent``) —
    /// waiting up to ``timeout`` seconds (``None``: no limit). ``None`` once
    /// the ``"closed"`` event was taken. Raises ``Timeout`` (a
    /// ``TimeoutError``) when nothing came in time. It shares the queue
    /// with ``recv()``, which skips all but messages: with ``reconnect=True``
    /// a ``"reconnected"`` event is where to log in or subscribe again.
    /// Ctrl-C interrupts the wait.
    ///
    /// Example: see ``ClientEvent``.
    #[pyo3(signature = (timeout = None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyClientEvent>> {
        let ev = wait_in_slices(py, timeout, |t| self.client.next_event(t))?;
        Ok(ev.map(|e| PyClientEvent::new(py, e)))
    }

    /// The next message, for asyncio: ``await client.arecv()``. ``None``
    /// once the connection is closed for good; raises ``Timeout`` when none
    /// came within ``timeout`` seconds (``None``: no limit). It waits on a
    /// ``ready_fd()`` the event loop watches (``add_reader``), one per client
    /// and loop, no thread; the wait takes nothing, so cancelling the
    /// awaiting task (``asyncio.wait_for``, a task group) loses no message.
    ///
    /// Example::
    ///
    ///     async def read_all(client):
    ///         async for msg in client:  # arecv() until the connection ends
    ///             print(msg)
    ///         reply = await client.arecv(timeout=5)  # None: it has ended
    #[pyo3(signature = (timeout = None))]
    fn arecv<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(t) = timeout {
            duration(slf.py(), t, "timeout")?;
        }
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_arecv", (slf, timeout))
    }

    /// ``async for message in client``: the messages until the connection
    /// is closed for good, for asyncio (waiting as ``arecv()`` does).
    fn __aiter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_aiter_client", (slf,))
    }

    /// A ``ReadyFd``: a file descriptor that becomes readable when a
    /// message (or the end) can be taken (after its ``arm()``), for waiting
    /// in an event loop of your own; ``arecv()`` and ``async for`` wait on
    /// one. Raises ``IoError`` when the system gives no descriptors.
    ///
    /// Example (as ``ReadyFd``'s, taking with ``recv(timeout=0)``)::
    ///
    ///     ready = client.ready_fd()
    ///     sel.register(ready, selectors.EVENT_READ)
    ///     if ready.arm():
    ///         sel.select(timeout=5.0)
    ///     try:
    ///         msg = client.recv(timeout=0)
    ///     except tcphub.Timeout:
    ///         pass  # a spurious wakeup: arm again
    fn ready_fd(&self, py: Python<'_>) -> PyResult<crate::ready::PyReadyFd> {
        let fd = self
            .client
            .ready_fd()
            .map_err(|e| crate::errors::to_pyerr(py, e))?;
        Ok(crate::ready::PyReadyFd::new(fd, None))
    }

    /// Finishes sending (a TCP half-close): what is queued is written, then
    /// the sending side is shut so the server reads end-of-stream. Messages
    /// keep arriving until the server closes its side, which ends the client
    /// for good (no reconnect); later ``send`` calls raise ``NotRunning``.
    /// Idempotent. Raises ``NotRunning`` once closed.
    ///
    /// Example (a last request, then its answer)::
    ///
    ///     client.send(b"last request")
    ///     client.shutdown_write()  # the server reads end-of-stream after it
    ///     answer = client.recv(timeout=5)
    ///     assert client.recv(timeout=5) is None  # the server closed
    fn shutdown_write(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.client.shutdown_write())
            .map_err(|e| self.refused(py, e))
    }

    /// Closes gracefully: flush what is queued (up to ``linger`` seconds),
    /// shut the connection down and stop the I/O thread. Once everything is
    /// written the socket stays open (what arrives is discarded) until the
    /// server has acknowledged all of it or ended its side, within the same
    /// ``linger``. When ``linger`` runs out first, what is still queued is
    /// dropped (counted by ``unsent``) and the connection is reset, so the
    /// server does not take its end for all there was (the reset drops
    /// what was written but not yet sent too); with only the
    /// acknowledgement missing, what was written is left to the system,
    /// which goes on sending it after the close: it may still arrive,
    /// nothing confirms it; ``disconnect_reason`` then says ``"i/o error: timed out"`` instead of ``"closed locally"``
    /// (``"connection reset"`` if the server reset it meanwhile); a
    /// server that ended its side before the flush was done (before the
    /// call, too) closed first: ``"closed by peer"``.
    /// Messages received before the call can still be taken; what arrives
    /// after it is discarded. Idempotent. Ctrl-C
    /// interrupts the wait for the flush (the client is closing by then; a
    /// later ``close()`` waits for the rest, but dropping the client, at
    /// exit too, does not: the flush goes on in the background while the
    /// process lives).
    ///
    /// ``timeout`` (seconds; ``None``, the default: as long as the flush
    /// takes) bounds the wait: ``close(timeout)`` returns ``True`` once
    /// closed, ``False`` when the close was still under way at the timeout
    /// — it goes on in the background, and a later ``close()`` waits for
    /// the rest. Inside a server's callback it starts the close and
    /// returns at once, as a server's ``stop()`` does there (a callback
    /// waiting up to ``linger`` would hold up every later callback):
    /// ``True`` only if the close had already finished.
    ///
    /// Example::
    ///
    ///     if not client.close(timeout=5):
    ///         print("still flushing")  # goes on in the background
    ///     elif client.disconnect_reason != "closed locally":
    ///         print("close:", client.disconnect_reason)  # e.g. i/o error: timed out
    #[pyo3(signature = (timeout = None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.closed.store(true, Ordering::Release);
        if crate::dispatch::on_dispatcher() {
            let _ = timeout.map(|t| duration(py, t, "timeout")).transpose()?;
            return Ok(py.detach(|| self.client.close_timeout(std::time::Duration::ZERO)));
        }
        let deadline = timeout
            .map(|t| duration(py, t, "timeout"))
            .transpose()?
            .and_then(deadline_after);
        match wait_sliced(py, deadline, |slice| {
            Ok(self.client.close_timeout(slice).then_some(()))
        }) {
            Ok(Waited::Got(())) => {
                self.interrupted.store(false, Ordering::Release);
                Ok(true)
            }
            // (Never `Stopped`: the attempt gives no error.)
            Ok(Waited::TimedOut | Waited::Stopped) => Ok(false),
            Err(e) => {
                // Ctrl-C: the only error the wait can end with.
                self.interrupted.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// The application gave up waiting for this client's close (Ctrl-C
    /// ended the program while an ``aclose()`` waited): as after an
    /// interrupted ``close()``, neither the exit nor dropping the client
    /// waits for its flush, which goes on in the background while the
    /// process lives. Used by ``aclose()``.
    fn _give_up(&self) {
        self.interrupted.store(true, Ordering::Release);
    }

    /// Closes every client not dropped yet as ``close()`` does, one after
    /// the other (used at interpreter exit, after the servers were
    /// stopped). Ctrl-C ends the wait: the clients still closing are then
    /// left to finish in the background, as after an interrupted
    /// ``close()``.
    #[staticmethod]
    fn _close_all(py: Python<'_>) -> PyResult<()> {
        close_all(py)
    }

    /// ``(ip, port)`` of this end of the current (or last) connection.
    #[getter]
    fn local_address(&self) -> (String, u16) {
        let a = self.client.local_addr();
        (a.ip().to_string(), a.port())
    }

    /// ``(ip, port)`` of the server.
    #[getter]
    fn peer_address(&self) -> (String, u16) {
        let a = self.client.peer_addr();
        (a.ip().to_string(), a.port())
    }

    /// Why the most recent connection ended, as the server's disconnect
    /// events say it (``"closed by peer"``, ``"closed locally"``,
    /// ``"connection reset"``, ``"frame too large"``,
    /// ``"closed in the middle of a frame"``, ...); ``None`` while none has. Once ``recv()``
    /// returns ``None`` it tells a clean close from a fault. With
    /// ``reconnect=True`` it keeps the last drop's reason while
    /// reconnecting; once reconnecting gave up (after
    /// ``reconnect_max_attempts`` failed attempts) it is the final reason,
    /// ``"gave up reconnecting after N attempts"``; likewise a ``close()``
    /// between connections whose redial to flush the queued messages fails
    /// gives that dial's error (``"i/o error: connection refused"``, say)
    /// as they are dropped.
    #[getter]
    fn disconnect_reason(&self) -> Option<String> {
        self.client.disconnect_reason().map(|r| r.to_string())
    }

    /// Whether the client is open: not closed, and not given up after a drop
    /// (after ``shutdown_write()`` it stays open to receive while ``send``
    /// raises ``NotRunning``).
    #[getter]
    fn is_open(&self) -> bool {
        self.client.is_open()
    }

    /// Whether a connection is up right now (false while reconnecting).
    #[getter]
    fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// Bytes accepted by ``send`` and not yet written to the socket.
    #[getter]
    fn queued_bytes(&self) -> usize {
        self.client.queued_bytes()
    }

    /// Bytes written to the connection that the server's system has not
    /// acknowledged yet (sent but not known to have arrived); with
    /// ``queued_bytes``, what stands between ``send`` and the server having
    /// it. ``None`` while no connection is up and where the system does not
    /// say (it does on Linux). Watching it fall tells a slow but steady
    /// reader from a stopped one, e.g. before a ``close()`` whose
    /// ``linger`` would run out while the server is still taking the data.
    #[getter]
    fn unacknowledged_bytes(&self) -> Option<usize> {
        self.client.unacknowledged_bytes()
    }

    /// Messages accepted by ``send`` that were never written whole: those
    /// still queued when the client ended for good and were dropped (the
    /// connection lost without ``reconnect`` or reconnecting gave up,
    /// ``close()`` out of ``linger`` time, or the server's end of its
    /// sending side under ``write_after_server_eof=False``). 0 while the
    /// client is open: what is queued then may still be written. Messages
    /// written but never read by the server are not counted.
    #[getter]
    fn unsent(&self) -> u64 {
        self.client.unsent()
    }

    /// The framing name: ``"raw"``, ``"lines"`` or ``"length"``.
    #[getter]
    fn framing(&self) -> &'static str {
        framing_name(self.framing)
    }

    /// The message size limit of the framing (``send`` refuses longer
    /// messages with ``FrameTooLarge``; a longer one from the server ends
    /// the connection), ``None`` for raw.
    #[getter]
    fn max_len(&self) -> Option<usize> {
        self.framing.max_len()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.recv(py, None)
    }

    /// Returns the client itself; raises ``NotRunning`` once ``close()``d.
    fn __enter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.not_closed(slf.py())?;
        Ok(slf)
    }

    /// Closes the client.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py, None)?;
        Ok(false)
    }

    /// ``close()`` for asyncio: ``await client.aclose()`` closes the client
    /// on a helper thread, so the event loop keeps running while what is
    /// queued is flushed (up to ``linger`` seconds). ``timeout`` and the
    /// result are ``close()``'s. Cancelling the awaiting task (Ctrl-C ending
    /// ``asyncio.run`` too) does not cancel the close but gives up waiting
    /// for it, as Ctrl-C does a ``close()``: neither the exit nor dropping
    /// the client waits for the flush, which goes on in the background
    /// while the process lives (``timeout`` bounds the wait instead).
    ///
    /// Example::
    ///
    ///     client = await TcpClient.aconnect("127.0.0.1", 8001)
    ///     client.send(b"bye")
    ///     await client.aclose(timeout=5)
    #[pyo3(signature = (timeout = None))]
    fn aclose<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_aclose", (slf, timeout))
    }

    /// ``async with TcpClient(...) as client:`` returns the client itself.
    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.get().not_closed(slf.py())?;
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_ready", (slf,))
    }

    /// Closes the client as ``aclose()`` does, without blocking the event
    /// loop. A block left by a cancellation (Ctrl-C ending ``asyncio.run``
    /// too) begins the close and gives up waiting for it, as a cancelled
    /// ``aclose()`` does.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        _exc_type: Option<Bound<'py, PyType>>,
        _exc: Option<Bound<'py, PyAny>>,
        _tb: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Through `_exit_after`, which returns False: `aclose()` gives
        // `close()`'s True, which would swallow the block's exception.
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_exit_after", (slf, _exc_type))
    }

    fn __repr__(&self) -> String {
        format!(
            "<TcpClient {} -> {} {} ({})>",
            self.client.local_addr(),
            self.client.peer_addr(),
            framing_name(self.framing),
            if self.client.is_open() {
                "open"
            } else {
                "closed"
            }
        )
    }
}

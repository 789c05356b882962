//! `TcpServer`'s sends: `send_all`, `send_many`, `send_to`, `send`, and
//! what acts on one client: `disconnect`, `pause_client`, `resume_client`.

use pyo3::prelude::*;
use tcphub::Error;

use crate::args::{client_ids, ClientId, Data, Port};
use crate::dispatch::{kick, kicks_pending};
use crate::errors::{invalid_argument, IntoPy};

use super::PyTcpServer;

#[pymethods]
impl PyTcpServer {
    /// Queues ``data`` for every connected client, or every one but client
    /// ``exclude`` (an id or a ``Client``, e.g. the sender of a message being
    /// relayed; one not connected excludes nobody); returns how many clients were
    /// connected at the call (0 when the server is not running), each of
    /// which gets it unless it leaves first or its queue is full (under
    /// ``overflow="drop"`` it is dropped for that one). A client that
    /// finished sending and is held open for replies (see ``Event``) gets
    /// it too but is not counted, its own leave notice included: pass
    /// ``exclude=client.id`` for that. Raises ``FrameTooLarge`` when
    /// ``data`` exceeds the framing's ``max_len``, ``InvalidMessage`` when
    /// it contains a newline under lines framing (no client gets it then).
    ///
    /// Example: see the class's (a relay). ``send_all(b"news")`` reaches every
    /// client; with ``exclude=sender`` every one but the sender.
    #[pyo3(signature = (data, *, exclude = None))]
    fn send_all(&self, py: Python<'_>, data: Data, exclude: Option<ClientId>) -> PyResult<usize> {
        let Some(r) = self.running.get() else {
            return Ok(0);
        };
        let exclude = match exclude {
            Some(ClientId::Id(id)) => Some(id),
            _ => None, // an id no client has excludes nobody
        };
        let sent = py.detach(|| match exclude {
            Some(id) => r.handle.try_send_all_except(id, &data),
            None => r.handle.try_send_all(&data),
        });
        match sent {
            Ok(n) => Ok(n),
            Err(Error::NotRunning) => Ok(0),
            Err(e) => Err(e).py_err(py),
        }
    }

    /// Queues ``data`` for each connected client among ``clients`` (an
    /// iterable of ids or ``Client`` objects: a topic's subscribers, a room's
    /// members), framed once into one buffer they share; returns how many
    /// distinct listed clients were connected at the call (0 when the
    /// server is not running). A client that is not connected is skipped,
    /// not an error (unlike ``send``), and one listed twice gets it once;
    /// one that finished sending and is held open for replies (see
    /// ``Event``) is reached and counted, as ``send`` reaches it.
    /// Each gets it unless it leaves first or its queue is full, in the
    /// order of everything sent to it. Cheaper than a ``send`` per client
    /// for many clients: one buffer and one call into the engine. Raises
    /// ``FrameTooLarge``, ``InvalidMessage`` (a newline in ``data`` under
    /// lines framing; no client gets it then), ``TypeError`` when
    /// ``clients`` is not an iterable of ids or ``Client`` objects (a
    /// ``str``, ``bytes``, ``bytearray`` or memoryview of bytes is refused:
    /// it would iterate as characters or byte values).
    ///
    /// Example::
    ///
    ///     members = rooms["lobby"]  # a set of client ids
    ///     reached = server.send_many(members, b"lobby: hello")
    fn send_many(&self, py: Python<'_>, clients: &Bound<'_, PyAny>, data: Data) -> PyResult<usize> {
        let ids = client_ids(clients)?;
        let Some(r) = self.running.get() else {
            return Ok(0);
        };
        match py.detach(|| r.handle.try_send_many(&ids, &data)) {
            Ok(n) => Ok(n),
            Err(Error::NotRunning) => Ok(0),
            Err(e) => Err(e).py_err(py),
        }
    }

    /// Queues ``data`` for the client whose remote address is ``ip:port``.
    /// ``ip`` as ``Client.ip`` gives it, or in brackets (``"[::1]"``, as in
    /// ``str(client)``), with an IPv6 zone (``"fe80::1%eth0"``, ignored), or
    /// an IPv4 client's IPv4-mapped address (``"::ffff:127.0.0.1"``).
    /// A client is found from its ``on_connect`` (or ``Connected`` event)
    /// on, not from the moment its ``connect()`` returns: the kernel
    /// completes the handshake before the server accepts it. Should two
    /// connected clients share the address (a server on ``0.0.0.0``
    /// reached at two of its addresses from one host's same port, or the
    /// same IPv6 link-local address on two interfaces, the zone being
    /// ignored), it goes to the one that connected last; ``send`` with its
    /// id reaches either.
    ///
    /// Raises ``NoSuchAddr`` when no client is connected from there,
    /// ``NotRunning``, ``FrameTooLarge``, ``InvalidMessage`` (a newline in
    /// ``data`` under lines framing); ``InvalidConfig`` (a ``ValueError``)
    /// for an ``ip`` that is no IP address — a host name included: it is not
    /// resolved, since clients are found by the address they connected from.
    ///
    /// Example::
    ///
    ///     server.send_to("127.0.0.1", 50312, b"hello")  # as str(client) names it
    fn send_to(&self, py: Python<'_>, ip: &str, port: Port, data: Data) -> PyResult<()> {
        let ip = tcphub::parse_client_ip(ip).map_err(|why| invalid_argument(py, why))?;
        let r = self.started(py)?;
        py.detach(|| r.handle.send_to(ip, port.0, &data))
            .py_err(py)
            .map_err(|e| self.refused(py, e))
    }

    /// Queues ``data`` for client ``client_id`` (an id, or the ``Client``
    /// itself, as a callback or an event gives it).
    ///
    /// Raises ``NoSuchClient`` when it is not connected, ``NotRunning``,
    /// ``FrameTooLarge``, ``InvalidMessage`` (a newline in ``data`` under
    /// lines framing: it would arrive as several messages).
    ///
    /// Example::
    ///
    ///     try:
    ///         server.send(client_id, b"your turn")
    ///     except tcphub.NoSuchClient:
    ///         pass  # it left meanwhile
    fn send(&self, py: Python<'_>, client_id: ClientId, data: Data) -> PyResult<()> {
        let r = self.started(py)?;
        let client_id = client_id
            .known(py, r.handle.is_running())
            .map_err(|e| self.refused(py, e))?;
        py.detach(|| r.handle.send(client_id, &data))
            .py_err(py)
            .map_err(|e| self.refused(py, e))
    }

    /// Disconnects client ``client_id`` (an id or a ``Client``; its
    /// disconnect reason is ``"kicked"``); called from a callback of this server (e.g. that
    /// client's own ``on_message``), the rest of what the client sent is
    /// dropped, not handed to ``on_message``; from any other thread,
    /// nothing it sends after the call returned is handed out (what was
    /// read of it by then may still be). Like a send, it may wait while the
    /// server is over 64 MiB of commands behind (a kick counts its size). Raises ``NoSuchClient``,
    /// ``NotRunning``.
    ///
    /// Example::
    ///
    ///     @server.on_message
    ///     def command(client, data):
    ///         if data == b"bye":
    ///             server.send(client, b"see you")  # written before the close
    ///             server.disconnect(client)
    fn disconnect(&self, py: Python<'_>, client_id: ClientId) -> PyResult<()> {
        let r = self.started(py)?;
        let client_id = client_id
            .known(py, r.handle.is_running())
            .map_err(|e| self.refused(py, e))?;
        kick(&r.handle, r.dispatcher.as_ref(), client_id)
            .py_err(py)
            .map_err(|e| self.refused(py, e))
    }

    /// Backpressure for one client (an id or a ``Client``): the server reads
    /// nothing more from it until ``resume_client()``, so what it sends waits
    /// in the kernel and TCP slows it down, while the others are served;
    /// sends to it go on. With callbacks it takes effect at once (also for
    /// a client listed by ``clients()`` whose ``on_connect`` has not come
    /// yet: that still comes): from the call on, no callback gets more of the
    /// client — what was read of it before and waits for the callback thread
    /// is held back (not counted in ``pending_events``) — until
    /// ``resume_client()``, which hands that out first, in order (called
    /// from another thread, one ``on_message`` of the client that the
    /// callback thread was already starting may still run). A callback
    /// that pauses its own client (``on_message``) gets the client's next
    /// message only after the resume. In pull mode what the client sends
    /// after the call returned waits for the resume; what its I/O thread
    /// had read of it by then is still handed out. While paused its idle and frame timeouts wait, and its end is
    /// noticed at the resume (or at once, after what it sent, held or not,
    /// when it resets, keepalive finds it gone or a write to it fails). Not
    /// counted: one ``resume_client()`` ends any number of pauses. Like a
    /// send, it (and ``resume_client()``) may wait while the server is over
    /// 64 MiB of commands behind (each pause or resume counts its size). Raises
    /// ``NoSuchClient``, ``NotRunning``.
    ///
    /// Example (one client at a time per job; see ``pause_input()`` for all)::
    ///
    ///     @server.on_message
    ///     def job(client, data):
    ///         server.pause_client(client)  # no more from it until done
    ///         pool.submit(work, client, data).add_done_callback(
    ///             lambda _: server.resume_client(client))
    fn pause_client(&self, py: Python<'_>, client_id: ClientId) -> PyResult<()> {
        let holds = self.holds();
        self.for_client(py, client_id, |h, id| match holds {
            Some(holds) => holds.pause(id, || h.pause_client(id), || h.client(id).is_some()),
            None => h.pause_client(id),
        })
    }

    /// Ends ``pause_client()``: the server reads the client again, what it
    /// sent meanwhile first; with callbacks, what the callback thread held
    /// of it goes out before that (called from a callback: right after
    /// it), and the server reads it again once that has gone out. Harmless
    /// when it is not paused. Raises ``NoSuchClient``, ``NotRunning``.
    ///
    /// Example: see ``pause_client()``.
    fn resume_client(&self, py: Python<'_>, client_id: ClientId) -> PyResult<()> {
        let holds = self.holds();
        self.for_client(py, client_id, |h, id| match holds {
            // What is held goes out even when the client has just gone (its
            // end would release it too). Resumed later by the callback
            // thread, it stays paused meanwhile: its pause is the check
            // that it is there, with the errors of a resume.
            Some(holds) => holds.resume(id, |now| {
                if now {
                    h.resume_client(id)
                } else {
                    h.pause_client(id)
                }
            }),
            None => h.resume_client(id),
        })
    }

    /// Internal, for the tests: called from a callback, how many clients
    /// its kicks left the callback thread skipping the messages of (until
    /// their disconnect event); 0 on any other thread.
    fn _kicks_pending(&self) -> usize {
        kicks_pending()
    }

    /// Internal, for the tests: with callbacks, how many clients the
    /// callback thread's holds track as live, as ending (their end taken,
    /// not yet handed out), as paused, as resumed but not yet seen by that
    /// thread, and as resumed but still paused in the server until that
    /// thread has handed out what it held; ``(0, 0, 0, 0, 0)`` without
    /// callbacks or before ``start()``.
    fn _holds_sizes(&self) -> (usize, usize, usize, usize, usize) {
        self.holds().map_or((0, 0, 0, 0, 0), |h| h.sizes())
    }
}

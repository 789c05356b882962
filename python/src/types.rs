//! Plain value classes handed to Python: [`PyClient`], [`PyEvent`], [`PyStats`]
//! (picklable: each pickles as a call of a private rebuilder at the end).

use std::net::SocketAddr;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use tcphub::{Client, ClientEvent, Event, Stats};

/// A connected client: its id and remote address. Like ``Event``,
/// ``ClientEvent`` and ``Stats``, a value that pickles (e.g. for a process
/// pool) and copies.
///
/// Example (its properties)::
///
///     @server.on_connect
///     def joined(client):
///         print(client)          # 127.0.0.1:50312 (IPv6: [::1]:50312)
///         print(client.id)       # 3
///         print(client.address)  # ('127.0.0.1', 50312): client.ip, client.port
#[pyclass(name = "Client", module = "tcphub", frozen, eq, hash)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyClient {
    pub(crate) id: u64,
    addr: SocketAddr,
}

impl From<Client> for PyClient {
    fn from(c: Client) -> PyClient {
        PyClient {
            id: c.id,
            addr: c.addr,
        }
    }
}

#[pymethods]
impl PyClient {
    /// Unique in the process and never reused — across servers and a
    /// server's restarts — growing in accept order. A ``Client`` passed
    /// to a server's methods stands for its id alone; given to another
    /// server, it names no client there (``NoSuchClient``, or ``None``).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The client's remote IP address as text (what ``send_to`` expects).
    #[getter]
    fn ip(&self) -> String {
        self.addr.ip().to_string()
    }

    /// The client's remote port.
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// ``(ip, port)``, like ``socket.getpeername()``.
    #[getter]
    fn address(&self) -> (String, u16) {
        (self.ip(), self.port())
    }

    fn __repr__(&self) -> String {
        format!(
            "Client(id={}, ip='{}', port={})",
            self.id,
            self.addr.ip(),
            self.addr.port()
        )
    }

    /// ``ip:port`` (``[ip]:port`` for IPv6), as the chat hub prints it.
    fn __str__(&self) -> String {
        self.addr.to_string()
    }

    /// Pickles (and copies) as ``_client(id, ip, port)``.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let args = (self.id, self.ip(), self.port());
        Ok((rebuild(py, "_client")?, args.into_pyobject(py)?))
    }
}

/// The arguments a frozen value class pickles with (its `__reduce__`): its
/// fields, compared and hashed as a tuple.
fn reduce_args<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.call_method0("__reduce__")?.get_item(1)
}

/// `__eq__` of a value class: the same class and equal fields
/// (`NotImplemented` for another type, as Python expects).
fn value_eq<T: pyo3::PyClass>(slf: &Bound<'_, T>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    if !other.is_instance_of::<T>() {
        return Ok(py.NotImplemented());
    }
    let same = reduce_args(slf.as_any())?.eq(reduce_args(other)?)?;
    Ok(pyo3::types::PyBool::new(py, same)
        .to_owned()
        .into_any()
        .unbind())
}

/// `__hash__` of a value class, consistent with [`value_eq`].
fn value_hash<T: pyo3::PyClass>(slf: &Bound<'_, T>) -> PyResult<isize> {
    reduce_args(slf.as_any())?.hash()
}

/// One thing that happened on a server: a client connected, sent a message,
/// or disconnected.
///
/// ``kind`` is ``"connect"``, ``"message"`` or ``"disconnect"``; ``data`` is
/// the message for ``"message"`` events and ``reason`` the disconnect reason
/// for ``"disconnect"`` events (``None`` otherwise). Events of one client
/// arrive in order: connect, its messages, then exactly one disconnect.
/// When a client only finished sending (reason ``"closed by peer"``, or
/// ``"closed in the middle of a frame"``), its connection stays open for
/// replies to its last messages until the next event is asked for, by any
/// thread (or ``linger`` passes; with ``hold_for_replies`` set, until you
/// ``disconnect()`` it or that time passes): ``send`` and ``send_all`` still reach it
/// (``send_all`` does not count it). So does a notice about its leaving sent
/// on this event (in ``on_disconnect`` too): leave it out with
/// ``send_all(data, exclude=client.id)``.
///
/// Example (its properties)::
///
///     for event in server.events():
///         if event.kind == "message":
///             server.send(event.client, b"pong: " + event.data)
///         elif event.kind == "disconnect":
///             print(event.client, "left:", event.reason)  # ... left: closed by peer
#[pyclass(name = "Event", module = "tcphub", frozen)]
#[derive(Debug)]
pub(crate) struct PyEvent {
    kind: &'static str,
    client: PyClient,
    data: Option<Py<PyBytes>>,
    reason: Option<String>,
}

impl PyEvent {
    /// Converts a core event (copies a message's bytes into a `bytes` once).
    pub(crate) fn new(py: Python<'_>, ev: Event) -> PyEvent {
        match ev {
            Event::Connected(c) => PyEvent {
                kind: "connect",
                client: c.into(),
                data: None,
                reason: None,
            },
            Event::Message(c, data) => PyEvent {
                kind: "message",
                client: c.into(),
                data: Some(PyBytes::new(py, &data).unbind()),
                reason: None,
            },
            Event::Disconnected(c, why) => PyEvent {
                kind: "disconnect",
                client: c.into(),
                data: None,
                reason: Some(why.to_string()),
            },
        }
    }
}

#[pymethods]
impl PyEvent {
    /// Equal to an ``Event`` with the same fields (as a pickled copy).
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        value_eq(slf, other)
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        value_hash(slf)
    }

    /// ``"connect"``, ``"message"`` or ``"disconnect"``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The client the event is about.
    #[getter]
    fn client(&self) -> PyClient {
        self.client
    }

    /// The message (one frame) for ``"message"`` events, else ``None``.
    #[getter]
    fn data(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.data.as_ref().map(|d| d.clone_ref(py))
    }

    /// Why the client left, for ``"disconnect"`` events, else ``None``: one of
    /// ``"closed by peer"``, ``"connection reset"``,
    /// ``"closed in the middle of a frame"``, ``"i/o error: ..."``,
    /// ``"frame too large"``, ``"slow consumer"``,
    /// ``"idle timeout"``, ``"frame not finished in time"`` (``frame_timeout``),
    /// ``"kicked"``, ``"server stopped"``.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.reason.clone()
    }

    /// Pickles (and copies) as ``_event(kind, client, data, reason)``.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let args = (
            self.kind,
            self.client,
            self.data.as_ref().map(|d| d.clone_ref(py)),
            self.reason.clone(),
        );
        Ok((rebuild(py, "_event")?, args.into_pyobject(py)?))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let client = self.client.__repr__();
        Ok(match (&self.data, &self.reason) {
            (Some(d), _) => format!(
                "Event(kind='message', client={client}, data={})",
                data_repr(d.bind(py))?
            ),
            (_, Some(r)) => format!(
                "Event(kind='disconnect', client={client}, reason={})",
                text_repr(py, r)?
            ),
            _ => format!("Event(kind='{}', client={client})", self.kind),
        })
    }
}

/// One thing that happened on a client's connection, from
/// ``client.next_event()``.
///
/// ``kind`` is ``"message"`` (``data`` holds it), ``"disconnect"`` (the
/// connection ended; ``reason`` says why), ``"reconnecting"`` (attempt
/// ``attempt`` comes after ``delay`` seconds), ``"reconnected"`` (attempt
/// ``attempt`` succeeded from ``local_address`` — the place to log in or
/// subscribe again) or ``"closed"`` (the client is closed for good; the
/// last event). Fields that do not apply are ``None``.
///
/// Example (its properties; with ``reconnect=True``)::
///
///     while (event := client.next_event()) is not None:  # None after "closed"
///         if event.kind == "message":
///             print(event.data)
///         elif event.kind == "disconnect":
///             print("lost:", event.reason)  # lost: closed by peer
///         elif event.kind == "reconnecting":
///             print(f"attempt {event.attempt} in {event.delay:.2f} s")
///         elif event.kind == "reconnected":
///             client.send(b"login alice")  # log in again
#[pyclass(name = "ClientEvent", module = "tcphub", frozen, get_all)]
#[derive(Debug)]
pub(crate) struct PyClientEvent {
    /// ``"message"``, ``"disconnect"``, ``"reconnecting"``, ``"reconnected"``
    /// or ``"closed"``.
    kind: &'static str,
    /// The message, for ``"message"``.
    data: Option<Py<PyBytes>>,
    /// Why the connection ended, for ``"disconnect"`` (as ``disconnect_reason``).
    reason: Option<String>,
    /// The reconnect attempt, for ``"reconnecting"`` and ``"reconnected"``:
    /// 1 for the first after a drop, unless the connection that dropped
    /// lasted under a second — then the count goes on from the attempt
    /// that made it (see ``TcpClient``'s ``reconnect``). While the event
    /// queue is full, a ``"reconnecting"`` still waiting for room is
    /// replaced by the next attempt's, so attempt numbers may skip.
    attempt: Option<u32>,
    /// Seconds until that attempt, for ``"reconnecting"`` (0 when a
    /// connection lost during ``close()`` is redialled at once to flush
    /// what is queued).
    delay: Option<f64>,
    /// ``(ip, port)`` of this end of the new connection, for ``"reconnected"``.
    local_address: Option<(String, u16)>,
}

impl PyClientEvent {
    /// Converts a core client event (copies a message's bytes once).
    pub(crate) fn new(py: Python<'_>, ev: ClientEvent) -> PyClientEvent {
        let mut out = PyClientEvent {
            kind: "closed",
            data: None,
            reason: None,
            attempt: None,
            delay: None,
            local_address: None,
        };
        match ev {
            ClientEvent::Message(m) => {
                out.kind = "message";
                out.data = Some(PyBytes::new(py, &m).unbind());
            }
            ClientEvent::Disconnected(why) => {
                out.kind = "disconnect";
                out.reason = Some(why.to_string());
            }
            ClientEvent::Reconnecting { attempt, delay } => {
                out.kind = "reconnecting";
                out.attempt = Some(attempt);
                out.delay = Some(delay.as_secs_f64());
            }
            ClientEvent::Reconnected {
                attempt,
                local_addr,
            } => {
                out.kind = "reconnected";
                out.attempt = Some(attempt);
                out.local_address = Some((local_addr.ip().to_string(), local_addr.port()));
            }
            // `Closed`, and any kind a later core adds (`non_exhaustive`):
            // the binding reports it as the end rather than fail.
            _ => {}
        }
        out
    }
}

#[pymethods]
impl PyClientEvent {
    /// Equal to a ``ClientEvent`` with the same fields (as a pickled copy).
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        value_eq(slf, other)
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        value_hash(slf)
    }

    /// Pickles (and copies) as ``_client_event(kind, data, reason,
    /// attempt, delay, local_address)``.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let args = (
            self.kind,
            self.data.as_ref().map(|d| d.clone_ref(py)),
            self.reason.clone(),
            self.attempt,
            self.delay,
            self.local_address.clone(),
        );
        Ok((rebuild(py, "_client_event")?, args.into_pyobject(py)?))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![format!("kind='{}'", self.kind)];
        if let Some(d) = &self.data {
            parts.push(format!("data={}", data_repr(d.bind(py))?));
        }
        if let Some(r) = &self.reason {
            parts.push(format!("reason={}", text_repr(py, r)?));
        }
        if let Some(a) = self.attempt {
            parts.push(format!("attempt={a}"));
        }
        if let Some(d) = self.delay {
            let delay = pyo3::types::PyFloat::new(py, d).repr()?;
            parts.push(format!("delay={delay}"));
        }
        if let Some((ip, port)) = &self.local_address {
            parts.push(format!("local_address=('{ip}', {port})"));
        }
        Ok(format!("ClientEvent({})", parts.join(", ")))
    }
}

/// A snapshot of a server's counters since it started (``server.stats()``).
///
/// Example (its properties)::
///
///     s = server.stats()
///     print(f"{s.clients} connected, {s.accepted} accepted, {s.msgs_in} in")
///     log.info("tcphub %s", s.as_dict())  # {'accepted': 3, 'bytes_in': ...}
#[pyclass(name = "Stats", module = "tcphub", frozen, get_all, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyStats {
    /// Clients connected now. A connection held open for replies after its
    /// disconnect event is not counted here but in ``disconnected``, though
    /// it keeps its place toward ``max_clients`` until it closes.
    clients: u64,
    /// Connections accepted and admitted.
    accepted: u64,
    /// Connections refused because ``max_clients`` were connected.
    rejected: u64,
    /// Connections refused because ``max_clients_per_ip`` were connected
    /// from the same IP address (not counted in ``rejected``).
    rejected_per_ip: u64,
    /// Admitted connections (see ``accepted``) that have ended, for any
    /// reason; a refused one counts only in ``rejected``.
    disconnected: u64,
    /// Messages (frames) received from clients.
    msgs_in: u64,
    /// Bytes read from client sockets (framing included).
    bytes_in: u64,
    /// Messages queued for delivery, counted once per recipient.
    msgs_out: u64,
    /// Bytes written to client sockets (framing included): admitted
    /// clients', the server's notices to them included, not the notice to a
    /// refused connection (``full_message``).
    bytes_out: u64,
    /// Messages dropped for a client whose queue was full (``overflow="drop"``).
    dropped: u64,
    /// Messages for one client that were not queued because the client had
    /// left, or was leaving, by the time the server got to them: a ``send``,
    /// ``send_to`` or ``send_many`` (once per client it counted) that
    /// returned while the client was disconnecting or
    /// the server stopping ran out of linger time before it got to them; the
    /// message (a broadcast's too) whose overflow cut a client as a slow
    /// consumer under ``overflow="disconnect"``; and messages (broadcasts too) that did not fit the queue of a client held
    /// open for replies after its disconnect event, under
    /// ``overflow="disconnect"`` (the first ends the hold and closes the
    /// client, so later broadcasts skip it: at most one broadcast message
    /// counts per held client; under
    /// ``overflow="drop"`` they count in ``dropped``, like anyone's).
    /// Broadcasts are otherwise not counted here.
    undelivered: u64,
    /// Clients disconnected as slow consumers (reason ``"slow consumer"``).
    /// A client held open for replies after its disconnect event whose queue
    /// overflows under ``overflow="disconnect"`` is closed but not counted
    /// here: it had already left.
    slow_consumers: u64,
    /// Messages queued for a client (so counted in ``msgs_out``) that were
    /// not written to it in full because its connection ended first: it was
    /// cut as a slow consumer, its linger time ran out while it closed (a
    /// kick, a timeout, its leaving, the stop), a write failed, or it reset.
    /// Such a connection is reset, so its peer sees an error, not a clean
    /// end. Written means taken by the kernel. Under ``framing="raw"``, which
    /// has no message boundaries on the wire, a run of sends joined into one
    /// write that was partly written counts whole.
    unwritten: u64,
    /// Clients disconnected for sending an oversize frame.
    frame_too_large: u64,
    /// Clients disconnected for idling.
    idle_timeouts: u64,
    /// Clients disconnected for not completing a frame in time (``frame_timeout``).
    frame_timeouts: u64,
    /// Exceptions raised by the callbacks (each went to ``on_error``, or to
    /// ``sys.unraisablehook`` — but for a ``NotRunning`` raised after
    /// ``stop()`` began); the server keeps running after each.
    callback_errors: u64,
}

impl From<Stats> for PyStats {
    fn from(s: Stats) -> PyStats {
        PyStats {
            clients: s.clients,
            accepted: s.accepted,
            rejected: s.rejected,
            rejected_per_ip: s.rejected_per_ip,
            disconnected: s.disconnected,
            msgs_in: s.msgs_in,
            bytes_in: s.bytes_in,
            msgs_out: s.msgs_out,
            bytes_out: s.bytes_out,
            dropped: s.dropped,
            undelivered: s.undelivered,
            slow_consumers: s.slow_consumers,
            unwritten: s.unwritten,
            frame_too_large: s.frame_too_large,
            idle_timeouts: s.idle_timeouts,
            frame_timeouts: s.frame_timeouts,
            callback_errors: 0,
        }
    }
}

impl PyStats {
    /// With the count of exceptions the Python callbacks raised (the core
    /// never sees them: they run on the binding's dispatcher thread).
    pub(crate) fn with_callback_errors(mut self, n: u64) -> PyStats {
        self.callback_errors = n;
        self
    }

    fn fields(&self) -> [(&'static str, u64); 17] {
        [
            ("clients", self.clients),
            ("accepted", self.accepted),
            ("rejected", self.rejected),
            ("rejected_per_ip", self.rejected_per_ip),
            ("disconnected", self.disconnected),
            ("msgs_in", self.msgs_in),
            ("bytes_in", self.bytes_in),
            ("msgs_out", self.msgs_out),
            ("bytes_out", self.bytes_out),
            ("dropped", self.dropped),
            ("undelivered", self.undelivered),
            ("slow_consumers", self.slow_consumers),
            ("unwritten", self.unwritten),
            ("frame_too_large", self.frame_too_large),
            ("idle_timeouts", self.idle_timeouts),
            ("frame_timeouts", self.frame_timeouts),
            ("callback_errors", self.callback_errors),
        ]
    }
}

#[pymethods]
impl PyStats {
    /// The counters as a ``dict`` (e.g. for logging or JSON).
    ///
    /// Example: see ``Stats``.
    fn as_dict(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.fields().into_iter().collect()
    }

    /// Pickles (and copies) as ``_stats(stats.as_dict())``.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let args = (self.as_dict(),);
        Ok((rebuild(py, "_stats")?, args.into_pyobject(py)?))
    }

    fn __repr__(&self) -> String {
        let body: Vec<String> = self
            .fields()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("Stats({})", body.join(", "))
    }
}

/// A message longer than this shows only its start in a `repr()`.
const REPR_DATA_MAX: usize = 64;

/// How much of a longer message a `repr()` shows.
const REPR_DATA_HEAD: usize = 48;

/// A message as a value class's `repr()` shows it: whole up to
/// [`REPR_DATA_MAX`] bytes, else its start and its length
/// (`b'GET / HTTP/1.1'... (1048576 bytes)`), so that a log line, a
/// traceback or a failed assertion does not print megabytes.
fn data_repr(data: &Bound<'_, PyBytes>) -> PyResult<String> {
    let bytes = data.as_bytes();
    if bytes.len() <= REPR_DATA_MAX {
        return Ok(data.repr()?.to_string());
    }
    let head = PyBytes::new(data.py(), &bytes[..REPR_DATA_HEAD]);
    Ok(format!("{}... ({} bytes)", head.repr()?, bytes.len()))
}

/// Text as Python's `repr()` quotes it (a quote inside escaped).
fn text_repr(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(pyo3::types::PyString::new(py, text).repr()?.to_string())
}

/// The module function `name` that rebuilds a pickled value (one of those
/// below, or `errors::_os_error`: pickle names it, so it lives in
/// `tcphub._tcphub`).
pub(crate) fn rebuild<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("tcphub._tcphub")?.getattr(name)
}

/// A kind name as the `'static` text the value classes keep, or `ValueError`.
fn known_kind(kind: &str, kinds: &[&'static str]) -> PyResult<&'static str> {
    kinds
        .iter()
        .find(|k| **k == kind)
        .copied()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown kind {kind:?}")))
}

/// Rebuilds a pickled `Client`.
#[pyfunction]
pub(crate) fn _client(id: u64, ip: &str, port: u16) -> PyResult<PyClient> {
    let ip: std::net::IpAddr = ip.parse().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("not an IP address: {ip:?}"))
    })?;
    Ok(PyClient {
        id,
        addr: SocketAddr::new(ip, port),
    })
}

/// Rebuilds a pickled `Event`.
#[pyfunction]
pub(crate) fn _event(
    kind: &str,
    client: Bound<'_, PyClient>,
    data: Option<Py<PyBytes>>,
    reason: Option<String>,
) -> PyResult<PyEvent> {
    Ok(PyEvent {
        kind: known_kind(kind, &["connect", "message", "disconnect"])?,
        client: *client.get(),
        data,
        reason,
    })
}

/// Rebuilds a pickled `ClientEvent`.
#[pyfunction]
pub(crate) fn _client_event(
    kind: &str,
    data: Option<Py<PyBytes>>,
    reason: Option<String>,
    attempt: Option<u32>,
    delay: Option<f64>,
    local_address: Option<(String, u16)>,
) -> PyResult<PyClientEvent> {
    Ok(PyClientEvent {
        kind: known_kind(
            kind,
            &[
                "message",
                "disconnect",
                "reconnecting",
                "reconnected",
                "closed",
            ],
        )?,
        data,
        reason,
        attempt,
        delay,
        local_address,
    })
}

/// Rebuilds a pickled `Stats` from its `as_dict()` (a counter it lacks is 0).
#[pyfunction]
pub(crate) fn _stats(counters: std::collections::HashMap<String, u64>) -> PyStats {
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    PyStats {
        clients: get("clients"),
        accepted: get("accepted"),
        rejected: get("rejected"),
        rejected_per_ip: get("rejected_per_ip"),
        disconnected: get("disconnected"),
        msgs_in: get("msgs_in"),
        bytes_in: get("bytes_in"),
        msgs_out: get("msgs_out"),
        bytes_out: get("bytes_out"),
        dropped: get("dropped"),
        undelivered: get("undelivered"),
        slow_consumers: get("slow_consumers"),
        unwritten: get("unwritten"),
        frame_too_large: get("frame_too_large"),
        idle_timeouts: get("idle_timeouts"),
        frame_timeouts: get("frame_timeouts"),
        callback_errors: get("callback_errors"),
    }
}

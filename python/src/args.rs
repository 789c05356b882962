//! Argument conversions shared by the classes: ports, bounded integers
//! (`*_arg` for `#[pyo3(from_py_with = ...)]`), message data (any
//! bytes-like object) and client references (an id or a `Client`), each
//! raising the error Python's own `socket` would.

use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::types::PyClient;

/// A TCP port argument. Any int outside 0–65535 raises ``OverflowError``
/// saying so, as Python's own ``socket`` does ("port must be 0-65535"),
/// instead of pyo3's bare "out of range integral type conversion".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Port(pub(crate) u16);

impl Port {
    /// `n` as a port, or the `OverflowError` above.
    pub(crate) fn new(n: i64) -> PyResult<Port> {
        u16::try_from(n)
            .map(Port)
            .map_err(|_| out_of_range(&n.to_string()))
    }
}

fn out_of_range(shown: &str) -> PyErr {
    pyo3::exceptions::PyOverflowError::new_err(format!("port must be 0-65535, got {shown}"))
}

/// For a `#[pyo3(from_py_with = ...)]` port argument that needs a literal
/// default (so the runtime signature shows it): the same checks as `Port`.
pub(crate) fn port_arg(obj: &Bound<'_, PyAny>) -> PyResult<u16> {
    Ok(obj.extract::<Port>()?.0)
}

impl<'a, 'py> FromPyObject<'a, 'py> for Port {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Port> {
        match obj.extract::<i64>() {
            Ok(n) => Port::new(n),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(obj.py()) => {
                let shown = obj.repr().map(|r| r.to_string()).unwrap_or_default();
                Err(out_of_range(&shown))
            }
            Err(e) => Err(e),
        }
    }
}

/// An int argument that counts or sizes something (`max_clients`,
/// `max_len`, ...): one outside `T`'s range — negative, or past what the
/// core can hold — raises `InvalidConfig` (a `ValueError`, as zero does
/// where the core refuses it) naming the argument and its range, instead
/// of pyo3's bare `OverflowError` ("can't convert negative int to
/// unsigned"). Values in range are the core's to check.
fn int_arg<'py, T>(obj: &Bound<'py, PyAny>, what: &str, min: T, max: T) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr> + std::fmt::Display,
{
    obj.extract::<T>().map_err(|e| {
        let py = obj.py();
        if !e.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) {
            return e;
        }
        let shown = obj.repr().map(|r| r.to_string()).unwrap_or_default();
        crate::errors::invalid_config(
            py,
            format!("{what} must be a whole number from {min} to {max}, not {shown}"),
        )
    })
}

/// `fn name(obj) -> PyResult<T>` for `#[pyo3(from_py_with = ...)]`, with
/// [`int_arg`]'s checks; `opt` for an argument that may be `None`.
macro_rules! int_args {
    ($($f:ident: $t:ty = $name:literal from $min:literal to $max:expr;)*) => {$(
        pub(crate) fn $f(obj: &Bound<'_, PyAny>) -> PyResult<$t> {
            int_arg(obj, $name, $min, $max)
        }
    )*};
    ($(opt $f:ident: $t:ty = $name:literal from $min:literal to $max:expr;)*) => {$(
        pub(crate) fn $f(obj: &Bound<'_, PyAny>) -> PyResult<Option<$t>> {
            if obj.is_none() {
                return Ok(None);
            }
            int_arg(obj, $name, $min, $max).map(Some)
        }
    )*};
}

int_args! {
    max_clients_arg: usize = "max_clients" from 1 to usize::MAX;
    max_queue_bytes_arg: usize = "max_queue_bytes" from 1 to usize::MAX;
    event_capacity_arg: usize = "event_capacity" from 1 to usize::MAX;
    backlog_arg: i32 = "backlog" from 1 to i32::MAX;
    per_ip_ipv6_prefix_arg: u8 = "per_ip_ipv6_prefix" from 1 to 128;
    max_events_arg: usize = "max_events" from 0 to usize::MAX;
    max_batch_arg: usize = "max_batch" from 0 to usize::MAX;
}

int_args! {
    opt max_len_arg: usize = "max_len" from 1 to usize::MAX;
    opt max_clients_per_ip_arg: usize = "max_clients_per_ip" from 1 to usize::MAX;
    opt threads_arg: usize = "threads" from 1 to tcphub::MAX_THREADS;
    opt max_attempts_arg: u32 = "reconnect_max_attempts" from 1 to u32::MAX;
}

/// A message argument: any bytes-like object, as ``socket.send`` takes —
/// ``bytes`` and ``bytearray`` directly (``bytes`` without a copy), others
/// (``memoryview``, ``array``, ...) copied once through a ``memoryview``
/// (the limited API has no buffer protocol before Python 3.11). Anything
/// else is the ``TypeError`` ``socket`` raises, a ``str`` with a hint.
pub(crate) struct Data(pyo3::pybacked::PyBackedBytes);

impl std::ops::Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Data {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Data> {
        if let Ok(b) = obj.extract() {
            return Ok(Data(b));
        }
        let py = obj.py();
        match pyo3::types::PyMemoryView::from(&obj) {
            Ok(view) => Ok(Data(view.call_method0("tobytes")?.extract()?)),
            Err(e) if !e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => Err(e),
            Err(_) => {
                let name = obj.get_type().name()?;
                let hint = if obj.is_instance_of::<pyo3::types::PyString>() {
                    " (encode it: text.encode())"
                } else {
                    ""
                };
                Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "a bytes-like object is required, not '{name}'{hint}"
                )))
            }
        }
    }
}

/// A client id argument: an int, or a `Client` (the one a callback or an
/// event hands out), which stands for its id. Ids are `u64`s assigned from
/// 1; any other int names no client, as the id of one that left does
/// (`client()` gives `None`, `send()` and `disconnect()` raise
/// `NoSuchClient`, `exclude` excludes nobody), instead of pyo3's
/// `OverflowError`.
#[derive(Debug)]
pub(crate) enum ClientId {
    /// An id a client may have.
    Id(u64),
    /// An int out of `u64`'s range: no client has it.
    Nobody(Py<PyAny>),
}

impl ClientId {
    /// The id, or for an int no client has the error the core gives for
    /// an id not connected: `NotRunning` unless the server is `running`,
    /// else `NoSuchClient` naming the int given.
    pub(crate) fn known(&self, py: Python<'_>, running: bool) -> PyResult<u64> {
        match self {
            ClientId::Id(id) => Ok(*id),
            ClientId::Nobody(_) if !running => Err(tcphub::Error::NotRunning).py_err(py),
            ClientId::Nobody(n) => Err(crate::errors::no_such_client(py, n.bind(py))),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for ClientId {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<ClientId> {
        if let Ok(client) = obj.cast::<PyClient>() {
            return Ok(ClientId::Id(client.get().id));
        }
        match obj.extract::<u64>() {
            Ok(id) => Ok(ClientId::Id(id)),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(obj.py()) => {
                Ok(ClientId::Nobody(obj.to_owned().unbind()))
            }
            Err(e) => Err(e),
        }
    }
}

/// Most ids `client_ids` reserves room for up front (64 KiB), whatever the
/// iterable's `len()` says.
const ID_HINT_MAX: usize = 8192;

/// The ids `send_many` was given: an iterable of ids or `Client`s (an int
/// out of range names nobody and is left out).
pub(crate) fn client_ids(clients: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    let not_iterable = || {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "send_many takes an iterable of client ids or Clients, not {}",
            clients
                .get_type()
                .name()
                .map_or_else(|_| "that".into(), |n| n.to_string())
        ))
    };
    // Text and bytes-like data (the message, passed first by mistake)
    // iterate as characters or byte values, not as ids: refused. A
    // memoryview of wider items (an `array('Q')` of ids) is a list of ids.
    let bytes_like = clients.is_instance_of::<pyo3::types::PyByteArray>()
        || (clients.is_instance_of::<pyo3::types::PyMemoryView>()
            && clients.getattr("itemsize")?.extract::<usize>()? == 1);
    if clients.is_instance_of::<pyo3::types::PyString>()
        || clients.is_instance_of::<pyo3::types::PyBytes>()
        || bytes_like
    {
        return Err(not_iterable());
    }
    // `len()` is only a hint (any `__len__` may claim more than memory
    // holds: reserving that panicked or aborted the interpreter); the
    // list grows as the iteration finds more. As for `list()` (PEP 424),
    // no `__len__` is no hint, but another error from it is raised.
    let hint = match clients.len() {
        Ok(n) => n.min(ID_HINT_MAX),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(clients.py()) => 0,
        Err(e) => return Err(e),
    };
    let mut ids = Vec::with_capacity(hint);
    for item in clients.try_iter().map_err(|_| not_iterable())? {
        if let ClientId::Id(id) = item?.extract::<ClientId>()? {
            ids.push(id);
        }
    }
    Ok(ids)
}

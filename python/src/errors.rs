//! The Python exception classes and the one place a [`tcphub::Error`] becomes
//! a Python exception.
//!
//! Every variant maps to exactly one class (see [`to_pyerr`]). The classes
//! also derive from the matching built-in exception, so code that knows
//! nothing about tcphub still catches them sensibly: a bind failure is an
//! `OSError` with `errno` set (like `socket.bind`), a timeout is a
//! `TimeoutError`, an unknown client a `LookupError`. An OS failure whose
//! `errno` has a finer built-in class (as `OSError(errno, ...)` picks:
//! `ConnectionRefusedError`, `PermissionError`, `TimeoutError`, ...) is raised
//! as a subclass of both, named as its tcphub class ([`for_errno`]), so
//! `except ConnectionRefusedError` catches a refused `TcpClient` as it does
//! a refused `socket.create_connection`; a name that does not resolve is
//! likewise also a `socket.gaierror` ([`for_unresolved`]).
//!
//! ```text
//! TcpHubError(Exception)
//! ├── InvalidConfig(TcpHubError, ValueError)      Error::InvalidConfig
//! ├── BindError(TcpHubError, OSError)             Error::Bind       (errno)
//! ├── ConnectError(TcpHubError, ConnectionError)  Error::Connect    (errno), Error::Resolve
//! ├── NoSuchClient(TcpHubError, LookupError)      Error::NoSuchClient(ClientRef::Id)
//! │   └── NoSuchAddr                              Error::NoSuchClient(ClientRef::Addr)
//! ├── NotRunning(TcpHubError)                     Error::NotRunning, Error::CallbackMode
//! ├── FrameTooLarge(TcpHubError, ValueError)      Error::FrameTooLarge
//! ├── InvalidMessage(TcpHubError, ValueError)     Error::InvalidMessage
//! ├── QueueFull(TcpHubError)                      Error::QueueFull
//! ├── Timeout(TcpHubError, TimeoutError)          Error::Timeout
//! └── IoError(TcpHubError, OSError)               Error::Io         (errno)
//! ```

use pyo3::exceptions::{
    PyConnectionError, PyException, PyLookupError, PyOSError, PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use tcphub::{ClientRef, Error};

/// The classes, created once when the module is first imported.
struct Classes {
    base: Py<PyType>,
    invalid_config: Py<PyType>,
    bind: Py<PyType>,
    connect: Py<PyType>,
    no_such_client: Py<PyType>,
    no_such_addr: Py<PyType>,
    not_running: Py<PyType>,
    frame_too_large: Py<PyType>,
    invalid_message: Py<PyType>,
    queue_full: Py<PyType>,
    timeout: Py<PyType>,
    io: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// Creates `class name(*bases)` with `__module__ = "tcphub"` and a docstring.
fn new_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: &[&Bound<'py, PyType>],
    doc: &str,
) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "tcphub")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let cls = py
        .get_type::<PyType>()
        .call1((name, bases, ns))?
        .cast_into::<PyType>()?;
    Ok(cls.unbind())
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let base = new_class(
            py,
            "TcpHubError",
            &[&py.get_type::<PyException>()],
            "Base class of every error raised by tcphub.\n\n\
             Example::\n\n    \
             try:\n        \
             server.send(client_id, data)\n    \
             except tcphub.NoSuchClient:\n        \
             pass  # it left meanwhile\n    \
             except tcphub.TcpHubError as e:\n        \
             print(\"not sent:\", e)",
        )?;
        let b = base.bind(py);
        let no_such_client = new_class(
            py,
            "NoSuchClient",
            &[b, &py.get_type::<PyLookupError>()],
            "No connected client has this id (it never existed or has disconnected).\n\n\
             Attribute ``client_id`` holds the id that was asked for.",
        )?;
        let no_such_addr = new_class(
            py,
            "NoSuchAddr",
            &[no_such_client.bind(py)],
            "No connected client has this remote address (``send_to``).\n\n\
             Attribute ``address`` holds the ``(ip, port)`` that was asked for, the ip \
             as ``Client.ip`` gives it (``\"[::1]\"`` and ``\"::1%1\"`` as ``\"::1\"``, \
             ``\"::ffff:127.0.0.1\"`` as ``\"127.0.0.1\"``).",
        )?;
        Ok(Classes {
            invalid_config: new_class(
                py,
                "InvalidConfig",
                &[b, &py.get_type::<PyValueError>()],
                "A configuration value is out of range (e.g. zero threads or max_len).",
            )?,
            bind: new_class(
                py,
                "BindError",
                &[b, &py.get_type::<PyOSError>()],
                "The listening socket could not be bound (address in use, permission denied).\n\n\
                 An ``OSError`` with ``errno`` set, as ``socket.bind`` raises; attribute \
                 ``address`` holds the ``(ip, port)`` that was asked for.",
            )?,
            connect: new_class(
                py,
                "ConnectError",
                &[b, &py.get_type::<PyConnectionError>()],
                "An outgoing connection could not be established (refused, timed out).\n\n\
                 A ``ConnectionError`` with ``errno`` set where the OS gave one (``ETIMEDOUT`` \
                 for ``connect_timeout``), and an instance of the built-in class that \
                 ``errno`` has, as ``socket``'s errors are (``ConnectionRefusedError``, \
                 ``TimeoutError``); attribute \
                 ``address`` holds the ``(ip, port)`` that was dialled (the first one, \
                 whose ``errno`` this is, when a name resolved to several: the message \
                 names each address tried with its error). A name that does not \
                 resolve raises a ``ConnectError`` that is also a ``socket.gaierror``, \
                 with ``address`` ``None``.",
            )?,
            no_such_client,
            no_such_addr,
            not_running: new_class(
                py,
                "NotRunning",
                &[b],
                "The server or client is not running: never started, stopped or closed.",
            )?,
            frame_too_large: new_class(
                py,
                "FrameTooLarge",
                &[b, &py.get_type::<PyValueError>()],
                "A message is longer than the framing allows.\n\n\
                 Attributes ``length`` (the message) and ``limit`` (the framing's max_len).",
            )?,
            invalid_message: new_class(
                py,
                "InvalidMessage",
                &[b, &py.get_type::<PyValueError>()],
                "A message the framing cannot carry as it is: under lines framing, \
                 one containing a newline (it would arrive as several messages). \
                 Raised by every send before anything is queued; use length framing \
                 for binary or multi-line messages.",
            )?,
            queue_full: new_class(
                py,
                "QueueFull",
                &[b],
                "A bounded outbound queue has no room for the message.\n\n\
                 Attributes ``queued`` (bytes waiting) and ``limit`` (the bound).",
            )?,
            timeout: new_class(
                py,
                "Timeout",
                &[b, &py.get_type::<PyTimeoutError>()],
                "A timed wait ran out (a ``TimeoutError``, like ``socket.timeout``).",
            )?,
            io: new_class(
                py,
                "IoError",
                &[b, &py.get_type::<PyOSError>()],
                "Any other operating-system failure, with ``errno`` set where known.",
            )?,
            base,
        })
    })
}

/// Whether `err` is a `tcphub.NotRunning` (or a subclass of it).
pub(crate) fn is_not_running(py: Python<'_>, err: &PyErr) -> bool {
    classes(py).is_ok_and(|c| err.is_instance(py, c.not_running.bind(py)))
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    for (name, cls) in [
        ("TcpHubError", &c.base),
        ("InvalidConfig", &c.invalid_config),
        ("BindError", &c.bind),
        ("ConnectError", &c.connect),
        ("NoSuchClient", &c.no_such_client),
        ("NoSuchAddr", &c.no_such_addr),
        ("NotRunning", &c.not_running),
        ("FrameTooLarge", &c.frame_too_large),
        ("InvalidMessage", &c.invalid_message),
        ("QueueFull", &c.queue_full),
        ("Timeout", &c.timeout),
        ("IoError", &c.io),
    ] {
        m.add(name, cls.bind(py))?;
    }
    Ok(())
}

/// Builds an instance of `cls` from `args`, then sets `attrs` on it.
fn make(
    py: Python<'_>,
    cls: &Py<PyType>,
    args: Bound<'_, PyTuple>,
    attrs: &[(&str, Bound<'_, PyAny>)],
) -> PyResult<PyErr> {
    let exc = cls.bind(py).call1(args)?;
    for (k, v) in attrs {
        exc.setattr(*k, v)?;
    }
    Ok(PyErr::from_value(exc))
}

/// [`make`] for an `OSError`-derived class: with an `errno` that has a
/// finer built-in class, the instance is of [`for_errno`]'s subclass.
fn make_os(
    py: Python<'_>,
    cls: &Py<PyType>,
    args: Bound<'_, PyTuple>,
    attrs: &[(&str, Bound<'_, PyAny>)],
) -> PyResult<PyErr> {
    let errno = match args.len() {
        2 => args.get_item(0)?.extract::<i32>().ok(),
        _ => None,
    };
    match errno {
        Some(errno) => make(py, &for_errno(py, cls, errno)?, args, attrs),
        None => make(py, cls, args, attrs),
    }
}

/// The subclasses made by [`with_builtin`], by `(tcphub class, built-in class)`.
static BY_ERRNO: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// `cls` (an `OSError`-derived tcphub class) for `errno`: `cls` itself
/// when `OSError(errno, ...)` is a plain `OSError` (`EADDRINUSE`), else a
/// subclass of `cls` and of the built-in class `OSError` picks for it
/// (`ECONNREFUSED`: `ConnectionRefusedError`), made once. It bears `cls`'s
/// name, module and docstring, so tracebacks and `except cls` read as
/// before, and pickles as itself (see [`_os_error`]).
fn for_errno(py: Python<'_>, cls: &Py<PyType>, errno: i32) -> PyResult<Py<PyType>> {
    let os_error = py.get_type::<PyOSError>();
    let builtin = os_error.call1((errno, ""))?.get_type();
    if builtin.is(&os_error) || cls.bind(py).is_subclass(&builtin)? {
        return Ok(cls.clone_ref(py));
    }
    with_builtin(py, cls, &builtin)
}

/// `cls` (an `OSError`-derived tcphub class) for a name that did not
/// resolve: a subclass of it and of `socket.gaierror`, as
/// `socket.getaddrinfo` raises (so `except socket.gaierror` catches it).
fn for_unresolved(py: Python<'_>, cls: &Py<PyType>) -> PyResult<Py<PyType>> {
    let gaierror = py
        .import("socket")?
        .getattr("gaierror")?
        .cast_into::<PyType>()?;
    with_builtin(py, cls, &gaierror)
}

/// The subclass of `cls` and of the built-in class `builtin`, made once:
/// it bears `cls`'s name, module and docstring, so tracebacks and `except
/// cls` read as before, and pickles as itself (see [`_os_error`]).
fn with_builtin(
    py: Python<'_>,
    cls: &Py<PyType>,
    builtin: &Bound<'_, PyType>,
) -> PyResult<Py<PyType>> {
    let cache = BY_ERRNO
        .get_or_init(py, || PyDict::new(py).unbind())
        .bind(py);
    let key = (cls.clone_ref(py), builtin.clone());
    if let Some(sub) = cache.get_item(&key)? {
        return Ok(sub.cast_into::<PyType>()?.unbind());
    }
    let base = cls.bind(py);
    let doc: String = base.getattr("__doc__")?.extract().unwrap_or_default();
    let sub = new_class(py, &base.name()?.to_string(), &[base, builtin], &doc)?;
    // Pickled as `_os_error(cls, args, builtin)` plus its attributes: by
    // the name it bears, pickle would find `cls` instead and refuse.
    let reduce = wrap_pyfunction!(reduce_os_error, py)?;
    py.import("copyreg")?
        .call_method1("pickle", (sub.bind(py), reduce))?;
    cache.set_item(key, sub.bind(py))?;
    Ok(sub)
}

/// Rebuilds a pickled instance of a [`with_builtin`] subclass of `cls` and
/// `builtin` (a module function, so pickle can name it).
#[pyfunction]
pub(crate) fn _os_error<'py>(
    py: Python<'py>,
    cls: Py<PyType>,
    args: Bound<'py, PyTuple>,
    builtin: Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    with_builtin(py, &cls, &builtin)?.bind(py).call1(args)
}

/// `copyreg` reducer of the [`with_builtin`] subclasses:
/// `(_os_error, (tcphub class, args, built-in class), attributes)`.
#[pyfunction]
fn reduce_os_error<'py>(exc: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let py = exc.py();
    let bases = exc.get_type().getattr("__bases__")?;
    let rebuild = crate::types::rebuild(py, "_os_error")?;
    let args = PyTuple::new(
        py,
        [bases.get_item(0)?, exc.getattr("args")?, bases.get_item(1)?],
    )?;
    PyTuple::new(py, [rebuild, args.into_any(), exc.getattr("__dict__")?])
}

/// An `(ip, port)` tuple for an address.
pub(crate) fn addr_tuple<'py>(
    py: Python<'py>,
    addr: &std::net::SocketAddr,
) -> PyResult<Bound<'py, PyAny>> {
    Ok((addr.ip().to_string(), addr.port())
        .into_pyobject(py)?
        .into_any())
}

/// This system's `ETIMEDOUT`, as Python's `errno` module has it (110 on
/// Linux, 60 on macOS).
fn etimedout(py: Python<'_>) -> Option<i32> {
    py.import("errno")
        .and_then(|m| m.getattr("ETIMEDOUT"))
        .and_then(|v| v.extract())
        .ok()
}

/// Translates a core error into its Python exception (the one mapping).
pub(crate) fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    let msg = err.to_string();
    let resolver_code = err.resolver_code();
    let built = (|| -> PyResult<PyErr> {
        let c = classes(py)?;
        // OSError subclasses get (errno, message) so `errno` is set like socket's.
        let os_args = |e: Option<&std::io::Error>| -> PyResult<Bound<'_, PyTuple>> {
            // A timeout the core measured itself (a connect timeout) has no
            // OS code: give it ETIMEDOUT's, as a timed-out `connect(2)` has.
            let errno = e.and_then(|e| {
                e.raw_os_error().or_else(|| {
                    (e.kind() == std::io::ErrorKind::TimedOut).then(|| etimedout(py))?
                })
            });
            match errno {
                Some(errno) => PyTuple::new(
                    py,
                    [
                        errno.into_pyobject(py)?.into_any(),
                        msg.clone().into_pyobject(py)?.into_any(),
                    ],
                ),
                None => PyTuple::new(py, [msg.clone()]),
            }
        };
        let plain = || PyTuple::new(py, [msg.clone()]);
        match &err {
            Error::InvalidConfig(_) => make(py, &c.invalid_config, plain()?, &[]),
            Error::Bind { addr, source } => make_os(
                py,
                &c.bind,
                os_args(Some(source))?,
                &[("address", addr_tuple(py, addr)?)],
            ),
            Error::Connect { addr, source, .. } => make_os(
                py,
                &c.connect,
                os_args(Some(source))?,
                &[("address", addr_tuple(py, addr)?)],
            ),
            Error::Resolve { source, .. } => make(
                py,
                &for_unresolved(py, &c.connect)?,
                // `errno` the resolver's code, as `socket.gaierror` has it.
                match source.raw_os_error().or(resolver_code) {
                    Some(code) => PyTuple::new(
                        py,
                        [
                            code.into_pyobject(py)?.into_any(),
                            msg.clone().into_pyobject(py)?.into_any(),
                        ],
                    )?,
                    None => os_args(Some(source))?,
                },
                &[("address", py.None().into_bound(py))],
            ),
            Error::NoSuchClient(ClientRef::Id(id)) => make(
                py,
                &c.no_such_client,
                plain()?,
                &[("client_id", id.into_pyobject(py)?.into_any())],
            ),
            Error::NoSuchClient(ClientRef::Addr(addr)) => make(
                py,
                &c.no_such_addr,
                plain()?,
                &[
                    ("address", addr_tuple(py, addr)?),
                    ("client_id", py.None().into_bound(py)),
                ],
            ),
            // (The Python server pulls from the core itself: its calls
            // never meet `CallbackMode`; mapped as the C binding maps it.)
            Error::NotRunning | Error::CallbackMode => make(py, &c.not_running, plain()?, &[]),
            Error::FrameTooLarge { len, max } => make(
                py,
                &c.frame_too_large,
                plain()?,
                &[
                    ("length", len.into_pyobject(py)?.into_any()),
                    ("limit", max.into_pyobject(py)?.into_any()),
                ],
            ),
            Error::InvalidMessage { .. } => make(py, &c.invalid_message, plain()?, &[]),
            Error::QueueFull { queued, limit } => make(
                py,
                &c.queue_full,
                plain()?,
                &[
                    ("queued", queued.into_pyobject(py)?.into_any()),
                    ("limit", limit.into_pyobject(py)?.into_any()),
                ],
            ),
            Error::Timeout => make(py, &c.timeout, plain()?, &[]),
            Error::Io { source, .. } => make_os(py, &c.io, os_args(Some(source))?, &[]),
            // `Error` is non-exhaustive: a variant added later still surfaces
            // as a tcphub error until it gets its own class.
            _ => make(py, &c.base, plain()?, &[]),
        }
    })();
    built.unwrap_or_else(|e| e)
}

/// `Result<T, tcphub::Error>` → `PyResult<T>`.
pub(crate) trait IntoPy<T> {
    /// Converts the error side with [`to_pyerr`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}

/// The `InvalidConfig` class, for argument checks done in the binding.
pub(crate) fn invalid_config(py: Python<'_>, msg: String) -> PyErr {
    to_pyerr(py, Error::InvalidConfig(msg))
}

/// The `InvalidConfig` class (the class of `Error::InvalidConfig`, C's
/// `TCPHUB_ERR_INVALID_ARG`) for a bad argument to a call rather than a bad
/// setting: the message as given, without "invalid configuration: ".
pub(crate) fn invalid_argument(py: Python<'_>, msg: String) -> PyErr {
    classes(py)
        .and_then(|c| make(py, &c.invalid_config, PyTuple::new(py, [msg])?, &[]))
        .unwrap_or_else(|e| e)
}

/// `NoSuchClient` for an int no client id can be (negative, past `u64`),
/// as the core's own for an id not connected.
pub(crate) fn no_such_client(py: Python<'_>, client_id: &Bound<'_, PyAny>) -> PyErr {
    classes(py)
        .and_then(|c| {
            let msg = format!("no client with id {client_id} is connected");
            make(
                py,
                &c.no_such_client,
                PyTuple::new(py, [msg])?,
                &[("client_id", client_id.clone())],
            )
        })
        .unwrap_or_else(|e| e)
}

/// `NotRunning` with a message saying why (the core's says only "not
/// running").
pub(crate) fn not_running(py: Python<'_>, msg: String) -> PyErr {
    classes(py)
        .and_then(|c| make(py, &c.not_running, PyTuple::new(py, [msg])?, &[]))
        .unwrap_or_else(|e| e)
}

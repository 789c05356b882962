//! `ReadyFd`: the core's readiness descriptor for Python — what
//! `TcpServer.ready_fd()` and `TcpClient.ready_fd()` return, and what
//! `aevents()`, `arecv()` and `async for` wait on (`loop.add_reader`).

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use tcphub::Event;

/// A file descriptor that becomes readable when events can be taken, for
/// waiting in an event loop of your own (``selectors``, trio's
/// ``wait_readable``, GLib) instead of a thread blocked in ``recv``;
/// asyncio's ``aevents()``, ``arecv()`` and ``async for`` wait on one.
///
/// Call ``arm()`` before each wait: ``False`` means something can be taken
/// now (take it with ``poll()`` / ``recv(timeout=0)``, then arm again);
/// ``True`` means wait for the descriptor to become readable — at the next
/// event, or when nothing more can come (the server stopped, the client
/// closed: the takes then say so). It stays readable until the next
/// ``arm()``, which reads what made it so; do not read it yourself. A
/// wakeup may be spurious (another consumer took the event first): take
/// what there is and arm again. ``close()`` (or dropping it) closes the
/// descriptor.
///
/// Example::
///
///     import selectors
///     ready = server.ready_fd()
///     sel = selectors.DefaultSelector()
///     sel.register(ready, selectors.EVENT_READ)
///     while True:
///         for event in server.poll(timeout=0):  # NotRunning once stopped and drained
///             handle(event)
///         if ready.arm():
///             sel.select(timeout=1.0)
#[pyclass(name = "ReadyFd", module = "tcphub", frozen)]
pub(crate) struct PyReadyFd {
    fd: Mutex<Option<tcphub::ReadyFd>>,
    /// A server's events taken from the queue but not handed out yet
    /// (`Pull::pending`): while any wait, something can be taken.
    pending: Option<Arc<Mutex<VecDeque<Event>>>>,
}

impl PyReadyFd {
    pub(crate) fn new(
        fd: tcphub::ReadyFd,
        pending: Option<Arc<Mutex<VecDeque<Event>>>>,
    ) -> PyReadyFd {
        PyReadyFd {
            fd: Mutex::new(Some(fd)),
            pending,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&tcphub::ReadyFd) -> T) -> PyResult<T> {
        let fd = self.fd.lock().unwrap_or_else(|p| p.into_inner());
        match fd.as_ref() {
            Some(fd) => Ok(f(fd)),
            None => Err(pyo3::exceptions::PyValueError::new_err(
                "I/O operation on a closed ReadyFd",
            )),
        }
    }
}

#[pymethods]
impl PyReadyFd {
    /// The descriptor (for ``selectors``, ``loop.add_reader`` and the like).
    /// Raises ``ValueError`` once closed.
    ///
    /// Example: see the class's.
    fn fileno(&self) -> PyResult<i32> {
        self.with(|fd| fd.as_raw_fd())
    }

    /// Readies the descriptor for a wait: ``True`` when nothing can be
    /// taken now, and the descriptor becomes readable at the next event (or
    /// the end); ``False`` when something can be taken now, without arming.
    /// Takes nothing. For a server it counts as asking for more events, as
    /// a wait does (it ends the default hold of clients whose
    /// ``Disconnected`` was taken). Raises ``ValueError`` once closed.
    ///
    /// Example: see the class's.
    fn arm(&self) -> PyResult<bool> {
        if let Some(pending) = &self.pending {
            if !pending.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                return Ok(false);
            }
        }
        self.with(|fd| fd.arm())
    }

    /// Closes the descriptor (and stops watching the queue). Idempotent.
    ///
    /// Example::
    ///
    ///     with server.ready_fd() as ready:  # closed when the block ends
    ///         sel.register(ready, selectors.EVENT_READ)
    ///         ...
    fn close(&self) {
        let fd = self.fd.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(fd);
    }

    /// Whether ``close()`` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.fd.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Returns the descriptor itself; raises ``ValueError`` once closed.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().with(|_| ())?;
        Ok(slf)
    }

    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        match &*self.fd.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(fd) => format!("ReadyFd(fd={})", fd.as_raw_fd()),
            None => "ReadyFd(closed)".to_string(),
        }
    }
}

//! `TcpServer`'s pull mode: `events()`, `poll()`, `aevents()`,
//! `ready_fd()`, `pending_events`.

use pyo3::prelude::*;

use crate::duration;
use crate::types::PyEvent;

use super::PyTcpServer;

#[pymethods]
impl PyTcpServer {
    /// How many events wait to be taken right now, as Rust's
    /// ``events().len()``: in pull mode, by ``events()``, ``poll()`` or
    /// ``aevents()`` (those an iterator took in a batch and has not handed
    /// out included) — the consumer's backlog; with callbacks, by the
    /// callback thread (not counting the batch it is running, nor what it
    /// holds back for a pause) — how far the callbacks are behind. While the queue is at ``event_capacity`` (or
    /// its messages hold 64 MiB) the server stops reading from clients; the
    /// rest of the read that filled it (at most 64 KiB of input per I/O
    /// thread) waits for room, not counted here.
    /// Events queued at a stop count until taken; 0 before ``start()``.
    /// Asking takes nothing and does not end a finished client's hold (see
    /// ``Event``).
    #[getter]
    fn pending_events(&self) -> usize {
        let Some(r) = self.running.get() else {
            return 0;
        };
        let batch = if r.callback_mode {
            0
        } else {
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
        };
        r.handle.events().len() + batch
    }

    /// The pull-mode events as an iterator (see ``EventIterator``).
    ///
    /// With ``timeout=None`` the iteration ends when the server has stopped and
    /// every event was taken; with a timeout it also ends when no event
    /// arrives for ``timeout`` seconds. An iterator that has ended stays
    /// exhausted (later events go to the next ``events()``, ``poll()`` or
    /// ``aevents()``). Ctrl-C interrupts the wait.
    /// Raises ``NotRunning`` before ``start()`` and ``RuntimeError`` when the
    /// server has callbacks.
    ///
    /// Example (pull mode: no callbacks)::
    ///
    ///     server = TcpServer(0, 100, framing="lines").start()
    ///     for event in server.events():  # until the server stops
    ///         if event.kind == "message":
    ///             server.send(event.client, b"pong: " + event.data)
    ///         elif event.kind == "disconnect":
    ///             print(event.client, "left:", event.reason)
    #[pyo3(signature = (timeout = None, *, max_batch = 256))]
    fn events(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        #[pyo3(from_py_with = crate::args::max_batch_arg)] max_batch: usize,
    ) -> PyResult<crate::events::EventIterator> {
        let timeout = timeout.map(|t| duration(py, t, "timeout")).transpose()?;
        Ok(crate::events::EventIterator::new(
            self.pull_events(py)?,
            timeout,
            max_batch.max(1),
        ))
    }

    /// Takes up to ``max_events`` events, waiting up to ``timeout`` seconds
    /// for the first one (0: do not wait; ``None``: until one comes);
    /// returns a list, empty on timeout. Ctrl-C interrupts the wait.
    ///
    /// The cheap way to consume a busy server: one call per batch. Raises
    /// ``NotRunning`` once the server has stopped and every event was taken
    /// (or before ``start()``), ``RuntimeError`` when the server has callbacks.
    ///
    /// Example::
    ///
    ///     while running:
    ///         for event in server.poll(max_events=1024, timeout=0.5):
    ///             handle(event)
    ///         do_other_work()
    #[pyo3(signature = (max_events = 256, timeout = 0.0))]
    fn poll(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::args::max_events_arg)] max_events: usize,
        timeout: Option<f64>,
    ) -> PyResult<Vec<PyEvent>> {
        let pull = self.pull_events(py)?;
        let timeout = timeout.map(|t| duration(py, t, "timeout")).transpose()?;
        crate::events::poll(py, &pull, max_events, timeout)
    }

    /// The pull-mode events as an async iterator for asyncio:
    /// ``async for event in server.aevents(): ...``. Ends when the server has
    /// stopped and every event was taken. It waits on a ``ready_fd()`` the
    /// event loop watches (``add_reader``), one per server and loop: no
    /// thread, not the loop's default executor; leaving the loop
    /// (``break``, cancelling the consuming task) loses no event: those
    /// already taken in a batch go to the next ``aevents()``, ``events()``
    /// or ``poll()``; after an ``anext()`` cancelled by a timeout
    /// (``asyncio.wait_for``) the iteration goes on.
    ///
    /// Example::
    ///
    ///     async def serve(server):
    ///         async for event in server.aevents():
    ///             if event.kind == "message":
    ///                 server.send(event.client, event.data)  # echo
    #[pyo3(signature = (*, max_batch = 256))]
    fn aevents<'py>(
        slf: &Bound<'py, Self>,
        #[pyo3(from_py_with = crate::args::max_batch_arg)] max_batch: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.get().pull_events(slf.py())?;
        slf.py()
            .import("tcphub._runtime")?
            .call_method1("_aevents", (slf, max_batch.max(1)))
    }

    /// A ``ReadyFd``: a file descriptor that becomes readable when an event
    /// can be taken (after its ``arm()``), for waiting in an event loop of
    /// your own; ``aevents()`` waits on one. Raises ``NotRunning`` before
    /// ``start()``, ``RuntimeError`` when the server has callbacks,
    /// ``IoError`` when the system gives no descriptors.
    ///
    /// Example: see ``ReadyFd``.
    fn ready_fd(&self, py: Python<'_>) -> PyResult<crate::ready::PyReadyFd> {
        let pull = self.pull_events(py)?;
        let fd = pull
            .events
            .ready_fd()
            .map_err(|e| crate::errors::to_pyerr(py, e))?;
        Ok(crate::ready::PyReadyFd::new(fd, Some(pull.pending)))
    }

    /// The next event if one can be taken without waiting, else ``None``;
    /// raises ``NotRunning`` once the server has stopped and every event was
    /// taken. Used by ``aevents()``.
    fn _next_ready(&self, py: Python<'_>, max_batch: usize) -> PyResult<Option<PyEvent>> {
        let pull = self.pull_events(py)?;
        crate::events::next_ready(py, &pull, max_batch.max(1))
    }
}

//! The parts of a started `TcpServer` (`Running`) and how the methods that
//! need them refuse a server that is not started, or stopped: a
//! `NotRunning` saying which, and the pull-mode events, which callback mode
//! keeps for the dispatcher.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tcphub::ServerHandle;

use super::PyTcpServer;
use crate::dispatch::Dispatcher;
use crate::events::Pull;

/// What exists once `start()` succeeded.
pub(super) struct Running {
    pub(super) handle: ServerHandle,
    /// Callbacks were set: the dispatcher owns the event queue.
    pub(super) callback_mode: bool,
    pub(super) dispatcher: Option<Dispatcher>,
}

impl PyTcpServer {
    /// The running parts, or `NotRunning` saying the server is not started.
    pub(super) fn started(&self, py: Python<'_>) -> PyResult<&Running> {
        self.running.get().ok_or_else(|| self.not_running(py))
    }

    /// The body of `stop_input`, `pause_input` and `resume_input`: `f` on
    /// the running parts; nothing on a server stopped before its start
    /// (there is no input), `NotRunning` on one never started.
    pub(super) fn with_input(&self, py: Python<'_>, f: impl FnOnce(&Running)) -> PyResult<()> {
        if self
            .stopped_unstarted
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        f(self.started(py)?);
        Ok(())
    }

    /// The body of the methods acting on one client (`pause_client`,
    /// `resume_client`): `f` on the handle and the client's id, the errors
    /// Python's (`NoSuchClient`, `NotRunning` saying why).
    pub(super) fn for_client(
        &self,
        py: Python<'_>,
        client_id: crate::args::ClientId,
        f: impl FnOnce(&ServerHandle, tcphub::ClientId) -> tcphub::Result<()>,
    ) -> PyResult<()> {
        use crate::errors::IntoPy;
        let r = self.started(py)?;
        let id = client_id
            .known(py, r.handle.is_running())
            .map_err(|e| self.refused(py, e))?;
        f(&r.handle, id).py_err(py).map_err(|e| self.refused(py, e))
    }

    /// `NotRunning` saying why, where the core's cannot tell
    /// whatever the cause: a server never started (the newcomer's mistake:
    /// `start()` or `with` forgotten) reads differently from a stopped one.
    pub(super) fn not_running(&self, py: Python<'_>) -> PyErr {
        let why = if self.running.get().is_some() {
            "the server is stopped"
        } else if self
            .stopped_unstarted
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            "the server is stopped (stop() came before start())"
        } else {
            "the server is not started: call start() first (or use it in a with block)"
        };
        crate::errors::not_running(py, why.into())
    }

    /// `err` as Python's, a `NotRunning` with [`not_running`](Self::not_running)'s message.
    pub(super) fn refused(&self, py: Python<'_>, err: PyErr) -> PyErr {
        if crate::errors::is_not_running(py, &err) {
            self.not_running(py)
        } else {
            err
        }
    }

    /// With callbacks, the paused clients whose events the dispatcher holds.
    pub(super) fn holds(&self) -> Option<&crate::hold::Holds> {
        let d = self.running.get()?.dispatcher.as_ref()?;
        Some(&d.holds)
    }

    /// The pull-mode events, refusing callback mode (the dispatcher owns them).
    pub(super) fn pull_events(&self, py: Python<'_>) -> PyResult<Pull> {
        let r = self.started(py)?;
        if r.callback_mode {
            return Err(PyRuntimeError::new_err(
                "this server has callbacks: its events go to them, not to events()/poll()",
            ));
        }
        Ok(Pull {
            events: r.handle.events(),
            pending: self.pending.clone(),
        })
    }
}

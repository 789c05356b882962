//! Starting a `TcpServer`: the callbacks, set before `start()` and refused
//! after, and `start()`'s own work — the core server, the dispatcher thread
//! when callbacks are set, and a `stop()` that came while it started.

use std::sync::atomic::Ordering;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use tcphub::Error;

use super::{PyTcpServer, Running};
use crate::dispatch::{Callbacks, Dispatcher};
use crate::errors::IntoPy;

impl PyTcpServer {
    /// Sets one of the callbacks (`which`, the decorator `name`): refused
    /// when not callable, when an `async def` one, and once `start()` began.
    pub(super) fn set_callback(
        &self,
        py: Python<'_>,
        name: &str,
        which: fn(&mut Callbacks) -> &mut Option<Py<PyAny>>,
        func: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if !func.bind(py).is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "the callback must be callable",
            ));
        }
        crate::dispatch::refuse_async(py, name, func.bind(py))?;
        let old = {
            let mut cbs = self
                .callbacks
                .lock_py_attached(py)
                .unwrap_or_else(|p| p.into_inner());
            // Checked under the lock start() copies the callbacks under, so
            // a callback is either in that copy or refused, never ignored.
            if self.starting.load(Ordering::Acquire) {
                return Err(PyRuntimeError::new_err(
                    "callbacks must be set before start()",
                ));
            }
            which(&mut cbs).replace(func.clone_ref(py))
        };
        drop(old); // outside the lock: dropping may run Python code
        Ok(func)
    }

    /// `start()` but for registering the server to be stopped at exit:
    /// starts the core server and, with callbacks set, the dispatcher;
    /// `RuntimeError` when a `start()` came first. A `stop()` that came
    /// meanwhile stops what was started.
    pub(super) fn start_core(&self, py: Python<'_>) -> PyResult<()> {
        if self.starting.swap(true, Ordering::AcqRel) {
            if self.stopped_unstarted.load(Ordering::SeqCst) {
                return Err(PyRuntimeError::new_err(
                    "stop() came before the server was started: it cannot be started; \
                     create a new TcpServer",
                ));
            }
            return Err(match self.running.get() {
                Some(r) if !r.handle.is_running() => PyRuntimeError::new_err(
                    "the server was stopped and cannot be restarted: create a new TcpServer",
                ),
                _ => PyRuntimeError::new_err("the server was already started"),
            });
        }
        let callbacks = self
            .callbacks
            .lock_py_attached(py)
            .unwrap_or_else(|p| p.into_inner())
            .clone_ref(py);
        let builder = self.settings.builder();
        let handle = match py.detach(move || builder.start()).py_err(py) {
            Ok(h) => h,
            Err(e) => {
                self.start_failed();
                return Err(e);
            }
        };
        let callback_mode = callbacks.any_event();
        let dispatcher = if callback_mode {
            match Dispatcher::spawn(handle.events(), handle.clone(), callbacks) {
                Ok(d) => Some(d),
                Err(e) => {
                    py.detach(|| handle.stop());
                    self.start_failed();
                    return Err(Error::Io {
                        context: "starting the callback thread",
                        source: e,
                    })
                    .py_err(py);
                }
            }
        } else {
            drop(callbacks);
            None
        };
        let _ = self.running.set(Running {
            handle,
            callback_mode,
            dispatcher,
        });
        // A stop() on another thread either finds the server just set, or
        // left this flag for us to find: each side writes, fences, then
        // reads the other's, so at least one of them sees the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.stop_requested.load(Ordering::SeqCst) {
            py.detach(|| self.stop_detached(None));
        }
        Ok(())
    }

    /// A `start()` that failed: the server may be started again — unless a
    /// `stop()` came meanwhile, which leaves it stopped, as one before
    /// `start()` does.
    fn start_failed(&self) {
        if self.stop_requested.swap(false, Ordering::SeqCst) {
            self.stopped_unstarted.store(true, Ordering::SeqCst);
        } else {
            self.starting.store(false, Ordering::Release);
        }
    }
}

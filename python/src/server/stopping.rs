//! Stopping a `TcpServer`: the core's stop and the wait for the callback
//! thread, detached from the interpreter, from `stop()` and its variants
//! and from dropping a server that is still running.

use std::time::Duration;

use pyo3::prelude::*;

use super::PyTcpServer;
use crate::dispatch::{on_dispatcher, Dispatcher};

impl PyTcpServer {
    /// Stops the core and waits up to `limit` for the dispatcher; returns
    /// whether it has finished. Must be called detached. On a dispatcher
    /// thread (inside any server's callback) it only starts the stop.
    pub(super) fn stop_detached(&self, limit: Option<Duration>) -> bool {
        self.stop_detached_with(limit, limit)
    }

    /// [`stop_detached`](Self::stop_detached) with separate limits for the
    /// loops' flush and for the dispatcher.
    pub(super) fn stop_detached_with(
        &self,
        flush: Option<Duration>,
        limit: Option<Duration>,
    ) -> bool {
        let Some(r) = self.running.get() else {
            return true;
        };
        if let Some(d) = &r.dispatcher {
            d.note_stop();
        }
        if on_dispatcher() {
            r.handle.begin_stop();
            return r.dispatcher.as_ref().is_none_or(Dispatcher::finished);
        }
        // The loops' flush may take up to `linger`: wait for it in slices
        // too, so that Ctrl-C gets through between them.
        if !r.handle.stop_timeout(flush.unwrap_or(Duration::MAX)) {
            return false;
        }
        r.dispatcher.as_ref().is_none_or(|d| d.wait(limit))
    }
}

impl Drop for PyTcpServer {
    /// A running server dropped without `stop()` stops here: its I/O threads
    /// are joined (up to `linger`) with the GIL released, so other Python
    /// threads keep running meanwhile.
    fn drop(&mut self) {
        let Some(r) = self.running.take() else {
            return;
        };
        if let Some(d) = &r.dispatcher {
            d.note_stop();
        }
        let finish = move || {
            r.handle.stop();
            drop(r);
        };
        // A closure that cannot run (interpreter finalizing) drops `r`
        // itself, which stops the server the same way.
        let _ = Python::try_attach(|py| py.detach(finish));
    }
}

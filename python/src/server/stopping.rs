//! Stopping a `TcpServer`: the core's stop and the wait for the callback
//! thread, detached from the interpreter, from `stop()` and its variants
//! and from dropping a server that is still running; what Ctrl-C ending
//! such a wait changes.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::{PyTcpServer, Running};
use crate::dispatch::{on_dispatcher, Dispatcher};
use crate::{next_slice, SIGNAL_SLICE};

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
        // The loops' flush may take up to `linger`: the callers wait for it
        // in slices too, so that Ctrl-C gets through between them.
        if !self.flushed_within(flush.unwrap_or(Duration::MAX)) {
            return false;
        }
        let Some(r) = self.running.get() else {
            return true;
        };
        if on_dispatcher() {
            // The stop was only begun: no waiting on a callback thread.
            // Stopped means the loops have ended too (a pull-mode server,
            // without a dispatcher, may still be flushing).
            return r.handle.stop_timeout(Duration::ZERO)
                && r.dispatcher.as_ref().is_none_or(Dispatcher::finished);
        }
        r.dispatcher.as_ref().is_none_or(|d| d.wait(limit))
    }

    /// `stop()`: waits in slices up to `deadline` (`None`: no limit), so
    /// that Ctrl-C gets through (and, if it does,
    /// [`give_up_waiting`](Self::give_up_waiting)); whether the stop has
    /// finished (on a dispatcher thread, which only starts it, at once:
    /// whether it had already).
    pub(super) fn stop_waiting(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<bool> {
        loop {
            let slice = next_slice(deadline);
            if py.detach(|| self.stop_detached(Some(slice))) {
                self.interrupted.store(false, Ordering::Release);
                return Ok(true);
            }
            if on_dispatcher() {
                return Ok(false); // the dispatcher ends by itself
            }
            if let Err(e) = py.check_signals() {
                self.give_up_waiting();
                return Err(e);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false); // the stop goes on; a later stop() waits for it
            }
        }
    }

    /// `wait()` for the started server `r`: in slices up to `deadline`
    /// (`None`: no limit), until it has stopped and its dispatcher has run
    /// the last callbacks (not waited for on a dispatcher thread); whether
    /// it has. Ctrl-C ends the wait.
    pub(super) fn wait_stopped(
        &self,
        py: Python<'_>,
        r: &Running,
        deadline: Option<Instant>,
    ) -> PyResult<bool> {
        loop {
            // Stopped and the loops ended, as the core's wait has it (not
            // just stopping: the flush may last up to `linger`); then the
            // dispatcher, which runs the last callbacks.
            let slice = next_slice(deadline);
            if py.detach(|| r.handle.wait_timeout(slice)) {
                let Some(d) = &r.dispatcher else {
                    return Ok(true);
                };
                if on_dispatcher() {
                    return Ok(true); // the dispatcher cannot wait for itself
                }
                let slice = next_slice(deadline);
                if py.detach(|| d.wait(Some(slice))) {
                    return Ok(true);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            py.check_signals()?;
        }
    }

    /// `_stop_with_timeout()`, at the interpreter's exit: the flush
    /// (bounded by `linger`) in slices that let Ctrl-C through, then up to
    /// `limit` for a callback that does not return; whether the dispatcher
    /// finished. Waits for nothing when Ctrl-C ended a `stop()` of it.
    pub(super) fn stop_at_exit(&self, py: Python<'_>, limit: Duration) -> PyResult<bool> {
        if self.interrupted.load(Ordering::Acquire) {
            py.detach(|| self.stop_detached_with(Some(Duration::ZERO), Some(Duration::ZERO)));
            return Ok(false);
        }
        while !py.detach(|| self.flushed_within(SIGNAL_SLICE)) {
            if let Err(e) = py.check_signals() {
                self.give_up_waiting();
                return Err(e);
            }
        }
        Ok(py.detach(|| self.stop_detached_with(None, Some(limit))))
    }

    /// Begins the stop and waits up to `limit` for the loops' flush (not
    /// for the dispatcher); whether they have finished. Must be called
    /// detached.
    fn flushed_within(&self, limit: Duration) -> bool {
        let Some(r) = self.running.get() else {
            return true;
        };
        if let Some(d) = &r.dispatcher {
            d.note_stop();
        }
        if on_dispatcher() {
            r.handle.begin_stop();
            return true; // no waiting on a callback thread (as above)
        }
        r.handle.stop_timeout(limit)
    }

    /// Ctrl-C ended a wait for this server's stop: the application gave
    /// up on it, so the interpreter's exit does not wait for its last
    /// callbacks, and dropping it does not wait for its flush.
    pub(super) fn give_up_waiting(&self) {
        self.interrupted.store(true, Ordering::Release);
        if let Some(d) = self.running.get().and_then(|r| r.dispatcher.as_ref()) {
            d.abandon();
        }
    }
}

impl Drop for PyTcpServer {
    /// A running server dropped without `stop()` stops here: its I/O threads
    /// are joined (up to `linger`) with the GIL released, so other Python
    /// threads keep running meanwhile — or, when Ctrl-C ended a `stop()` of
    /// it or when it is dropped inside a callback, on a thread of their
    /// own, without waiting (the interpreter's exit waits for the latter,
    /// within its bound on the last callbacks).
    fn drop(&mut self) {
        let Some(r) = self.running.take() else {
            return;
        };
        if let Some(d) = &r.dispatcher {
            d.note_stop();
        }
        // Also inside a callback (of any server): a drop there waiting up
        // to `linger` would hold up every later callback; and on a thread
        // running an asyncio event loop, which would stand still. The interpreter's
        // exit waits for that stop (not for one Ctrl-C gave up on).
        let interrupted = self.interrupted.load(Ordering::Acquire);
        let r = if interrupted || on_dispatcher() || crate::dispatch::on_event_loop() {
            let (tx, rx) = crossbeam_channel::bounded::<Running>(1);
            let done = (!interrupted).then(crate::dispatch::note_unfinished_stop);
            let started = std::thread::Builder::new()
                .name("tcphub-stop".into())
                .spawn(move || {
                    if let Ok(r) = rx.recv() {
                        r.handle.stop();
                    }
                    drop(done); // the exit's wait for it is over
                });
            match started {
                Ok(_) => match tx.send(r) {
                    Ok(()) => return,
                    Err(back) => back.into_inner(),
                },
                Err(_) => r, // no thread: stop here, as below
            }
        } else {
            r
        };
        let finish = move || {
            r.handle.stop();
            drop(r);
        };
        // A closure that cannot run (interpreter finalizing) drops `r`
        // itself, which stops the server the same way.
        let _ = Python::try_attach(|py| py.detach(finish));
    }
}

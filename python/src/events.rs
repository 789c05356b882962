//! Pull-mode consumption: the blocking [`EventIterator`], [`poll`] and
//! [`next_ready`] (for `aevents()`).
//!
//! Waits are detached from the interpreter and cut into slices of
//! [`SIGNAL_SLICE`] so a Ctrl-C in the main thread
//! raises `KeyboardInterrupt` promptly.
//!
//! Events are taken from the core's queue in batches; those of a batch not
//! handed out yet wait in the server's [`Pull::pending`], shared by every
//! consumer of the server, so an iteration left mid-batch (`break`, a
//! dropped iterator, a cancelled `aevents()`) leaves them to the next one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tcphub::{Error, Event, Events};

use crate::errors::IntoPy;
use crate::types::PyEvent;
use crate::{deadline_after, next_slice, wait_sliced, Waited, SIGNAL_SLICE};

/// Waits up to `timeout` (forever with `None`) for at least one event and
/// takes up to `max` of them, checking for signals between slices.
fn wait_batch(
    py: Python<'_>,
    events: &Events,
    max: usize,
    timeout: Option<Duration>,
) -> PyResult<Waited<Vec<Event>>> {
    wait_sliced(py, timeout.and_then(deadline_after), |slice| {
        let mut got = Vec::new();
        let n = events.recv_batch(&mut got, max, slice)?;
        Ok((n > 0).then_some(got))
    })
}

/// A server's pull-mode events: the core's receiver, and the events taken
/// from it in a batch and not handed out yet (shared by every consumer).
///
/// Taking from `pending` is a call for events all the same: it releases
/// the clients held for replies whose end was handed out before (`settle`),
/// as the docs promise ("until the next event is asked for"). Batches are
/// taken staged
/// (`recv_batch_staged`), and each event is handed out (`Events::hand_out`)
/// as it leaves for Python: a `hold_for_replies` window runs from there,
/// not from its batch's take.
pub(crate) struct Pull {
    pub(crate) events: Events,
    pub(crate) pending: Arc<Mutex<VecDeque<Event>>>,
}

impl Pull {
    fn pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next event if one can be taken without waiting: a pending one,
    /// or the first of a batch of up to `max_batch` taken from the queue,
    /// the rest kept. The batch is taken and kept under the `pending` lock,
    /// so that remainders join `pending` in the queue's order even when
    /// several consumers take batches at once (one client's events stay in
    /// order for whoever takes them next). `NotRunning` once the server has
    /// stopped and every event was taken.
    fn try_take(&self, max_batch: usize) -> tcphub::Result<Option<Event>> {
        self.settle();
        let mut pending = self.pending();
        if let Some(ev) = pending.pop_front() {
            return Ok(Some(self.handed_out(ev)));
        }
        let mut got = Vec::new();
        self.events
            .recv_batch_staged(&mut got, max_batch.max(1), Duration::ZERO)?;
        let mut got = got.into_iter();
        let first = got.next();
        pending.extend(got);
        Ok(first.map(|ev| self.handed_out(ev)))
    }

    /// A call for events: the clients held for replies (the default hold)
    /// whose end was handed out before are released — also when the next
    /// event comes from `pending`, not from the core. (Taking nothing.)
    fn settle(&self) {
        let _ = self
            .events
            .recv_batch_staged(&mut Vec::new(), 0, Duration::ZERO);
    }

    /// `ev`, taken staged, leaves for Python now.
    fn handed_out(&self, ev: Event) -> Event {
        self.events.hand_out(&ev);
        ev
    }

    /// [`try_take`](Self::try_take), waiting (detached, in slices that let
    /// Ctrl-C through) up to `timeout` (`None`: for good) while there is
    /// nothing to take.
    fn take(
        &self,
        py: Python<'_>,
        max_batch: usize,
        timeout: Option<Duration>,
    ) -> PyResult<Waited<Event>> {
        let deadline = timeout.and_then(deadline_after);
        loop {
            match self.try_take(max_batch) {
                Ok(Some(ev)) => return Ok(Waited::Got(ev)),
                Ok(None) => {}
                Err(Error::NotRunning) => return Ok(Waited::Stopped),
                Err(e) => return Err(e).py_err(py),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Waited::TimedOut);
            }
            let slice = next_slice(deadline);
            py.detach(|| self.events.wait_ready(slice));
            py.check_signals()?;
        }
    }
}

/// `server.poll()`: up to `max` events, waiting up to `timeout` for the
/// first (`None`: for good).
pub(crate) fn poll(
    py: Python<'_>,
    pull: &Pull,
    max: usize,
    timeout: Option<Duration>,
) -> PyResult<Vec<PyEvent>> {
    // A call for events, even for none or for pending ones only.
    pull.settle();
    if max == 0 {
        return Ok(Vec::new());
    }
    let kept: Vec<Event> = {
        let mut pending = pull.pending();
        let n = max.min(pending.len());
        pending.drain(..n).collect()
    };
    if !kept.is_empty() {
        return Ok(kept
            .into_iter()
            .map(|e| PyEvent::new(py, pull.handed_out(e)))
            .collect());
    }
    // (A batch handed out whole: taken, and handed out, by `recv_batch`.)
    match wait_batch(py, &pull.events, max, timeout)? {
        Waited::Got(evs) => Ok(evs.into_iter().map(|e| PyEvent::new(py, e)).collect()),
        Waited::TimedOut => Ok(Vec::new()),
        Waited::Stopped => Err(crate::errors::not_running(
            py,
            "the server is stopped and every event was taken".into(),
        )),
    }
}

/// The next event if one can be taken without waiting (`aevents()`); the
/// rest of a batch taken for it is kept. `NotRunning` once the server has
/// stopped and every event was taken.
pub(crate) fn next_ready(
    py: Python<'_>,
    pull: &Pull,
    max_batch: usize,
) -> PyResult<Option<PyEvent>> {
    match pull.try_take(max_batch) {
        Ok(ev) => Ok(ev.map(|e| PyEvent::new(py, e))),
        Err(e) => Err(e).py_err(py),
    }
}

/// Iterator over a server's events, returned by ``TcpServer.events()``.
///
/// Each step blocks (without holding the GIL) until the next event. The
/// iteration ends when the server has stopped and every event was taken, or,
/// with a ``timeout``, when no event arrived for that many seconds. Events
/// are fetched in batches internally, so iterating a busy server is cheap;
/// leaving the iteration (``break``) loses none of them: those already
/// fetched go to the next ``events()``, ``poll()`` or ``aevents()``.
/// One iterator may be shared by several threads: they take turns, and each
/// event goes to exactly one of them. (A client that finished sending is
/// held open for replies until the next event is asked for — by any
/// thread: with several, reply before asking for more; or, with
/// ``hold_for_replies``, until you ``disconnect()`` it.)
///
/// Once the iteration has ended (the server stopped, or the ``timeout``
/// passed without an event) the iterator stays exhausted, as Python's
/// iterator protocol asks: events that come later are left for the next
/// ``events()``, ``poll()`` or ``aevents()``.
///
/// Example::
///
///     for event in server.events(timeout=1.0):  # ends after 1 s without one
///         handle(event)
///     # no event for a second: do something else, then iterate again
#[pyclass(name = "EventIterator", module = "tcphub", frozen)]
pub(crate) struct EventIterator {
    pull: Pull,
    timeout: Option<Duration>,
    max_batch: usize,
    /// The process whose thread is taking the next event (its waits
    /// included; `None`: the turn is free). The others wait for `turn`
    /// detached and in slices, so Ctrl-C reaches a main thread waiting for
    /// its turn too. In a child forked while a parent's thread had the
    /// turn, that thread does not exist: the turn is free there.
    busy: Mutex<Option<u32>>,
    turn: Condvar,
    /// Set when a step ended the iteration (a timeout, the server stopped):
    /// every later step ends it too, rather than yield events that came
    /// after the end (an iterator that raised `StopIteration` keeps
    /// raising it).
    exhausted: AtomicBool,
}

/// A thread's turn to take the next event; ends on drop.
struct Turn<'a>(&'a EventIterator);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.0.turn.notify_one();
    }
}

impl EventIterator {
    pub(crate) fn new(pull: Pull, timeout: Option<Duration>, max_batch: usize) -> Self {
        EventIterator {
            pull,
            timeout,
            max_batch,
            busy: Mutex::new(None),
            turn: Condvar::new(),
            exhausted: AtomicBool::new(false),
        }
    }

    /// Waits for this thread's turn, detached and checking for signals
    /// between slices: the thread whose turn it is may wait for events for
    /// good and needs the GIL between its own slices.
    fn take_turn(&self, py: Python<'_>) -> PyResult<Turn<'_>> {
        loop {
            let got = py.detach(|| {
                let here = std::process::id();
                let busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
                let (mut busy, _) = self
                    .turn
                    .wait_timeout_while(busy, SIGNAL_SLICE, |b| *b == Some(here))
                    .unwrap_or_else(|p| p.into_inner());
                if *busy == Some(here) {
                    return false;
                }
                *busy = Some(here);
                true
            });
            if got {
                return Ok(Turn(self));
            }
            py.check_signals()?;
        }
    }
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyEvent>> {
        if self.exhausted.load(Ordering::Acquire) {
            return Ok(None);
        }
        let _turn = self.take_turn(py)?;
        // (Another thread may have ended the iteration while this one
        // waited for its turn.)
        if self.exhausted.load(Ordering::Acquire) {
            return Ok(None);
        }
        // (Pending events first; once the server has stopped and every
        // event was taken, `take` says so at once, without waiting.)
        match self.pull.take(py, self.max_batch, self.timeout)? {
            Waited::Got(ev) => Ok(Some(PyEvent::new(py, ev))),
            Waited::TimedOut | Waited::Stopped => {
                self.exhausted.store(true, Ordering::Release);
                Ok(None)
            }
        }
    }
}

//! Pull-mode consumption: the blocking [`EventIterator`] and [`poll`].
//!
//! Waits are detached from the interpreter and cut into slices of
//! [`SIGNAL_SLICE`](crate::SIGNAL_SLICE) so a Ctrl-C in the main thread
//! raises `KeyboardInterrupt` promptly.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tcphub::{Error, Event, Events};

use crate::errors::IntoPy;
use crate::types::PyEvent;
use crate::{deadline_after, next_slice, SIGNAL_SLICE};

/// What one bounded wait produced.
enum Waited {
    Got(Vec<Event>),
    TimedOut,
    Stopped,
}

/// Waits up to `timeout` (forever with `None`) for at least one event and
/// takes up to `max` of them, checking for signals between slices.
fn wait_batch(
    py: Python<'_>,
    events: &Events,
    max: usize,
    timeout: Option<Duration>,
) -> PyResult<Waited> {
    let deadline = timeout.and_then(deadline_after);
    loop {
        let slice = next_slice(deadline);
        let mut got = Vec::new();
        match py.detach(|| events.recv_batch(&mut got, max, slice)) {
            Ok(0) => {}
            Ok(_) => return Ok(Waited::Got(got)),
            Err(Error::NotRunning) => return Ok(Waited::Stopped),
            Err(e) => return Err(e).py_err(py),
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Waited::TimedOut);
        }
    }
}

/// `server.poll()`: up to `max` events, waiting up to `timeout` for the first.
pub(crate) fn poll(
    py: Python<'_>,
    events: &Events,
    max: usize,
    timeout: Duration,
) -> PyResult<Vec<PyEvent>> {
    if max == 0 {
        // Still a call for events: releases clients held for replies.
        let _ = events.recv_batch(&mut Vec::new(), 0, Duration::ZERO);
        return Ok(Vec::new());
    }
    match wait_batch(py, events, max, Some(timeout))? {
        Waited::Got(evs) => Ok(evs.into_iter().map(|e| PyEvent::new(py, e)).collect()),
        Waited::TimedOut => Ok(Vec::new()),
        Waited::Stopped => Err(Error::NotRunning).py_err(py),
    }
}

/// Iterator over a server's events, returned by ``TcpServer.events()``.
///
/// Each step blocks (without holding the GIL) until the next event. The
/// iteration ends when the server has stopped and every event was taken, or,
/// with a ``timeout``, when no event arrived for that many seconds. Events
/// are fetched in batches internally, so iterating a busy server is cheap.
/// One iterator may be shared by several threads: they take turns, and each
/// event goes to exactly one of them. (A client that finished sending is
/// held open for replies until the next event is asked for — by any
/// thread: with several, reply before asking for more.)
#[pyclass(name = "EventIterator", module = "tcphub", frozen)]
pub(crate) struct EventIterator {
    events: Events,
    timeout: Option<Duration>,
    max_batch: usize,
    /// Whether a thread is taking the next event (its waits included). The
    /// others wait for `turn` detached and in slices, so Ctrl-C reaches a
    /// main thread waiting for its turn too.
    busy: Mutex<bool>,
    turn: Condvar,
    /// Only touched by the thread whose turn it is.
    state: Mutex<IterState>,
}

/// A thread's turn to take the next event; ends on drop.
struct Turn<'a>(&'a EventIterator);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.turn.notify_one();
    }
}

struct IterState {
    /// Events already taken from the queue and not yet handed out.
    buffer: VecDeque<Event>,
    finished: bool,
}

impl EventIterator {
    pub(crate) fn new(events: Events, timeout: Option<Duration>, max_batch: usize) -> Self {
        EventIterator {
            events,
            timeout,
            max_batch,
            busy: Mutex::new(false),
            turn: Condvar::new(),
            state: Mutex::new(IterState {
                buffer: VecDeque::new(),
                finished: false,
            }),
        }
    }

    /// Waits for this thread's turn, detached and checking for signals
    /// between slices: the thread whose turn it is may wait for events for
    /// good and needs the GIL between its own slices.
    fn take_turn(&self, py: Python<'_>) -> PyResult<Turn<'_>> {
        loop {
            let got = py.detach(|| {
                let busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
                let (mut busy, _) = self
                    .turn
                    .wait_timeout_while(busy, SIGNAL_SLICE, |b| *b)
                    .unwrap_or_else(|p| p.into_inner());
                !std::mem::replace(&mut *busy, true)
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
        let _turn = self.take_turn(py)?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ev) = st.buffer.pop_front() {
            return Ok(Some(PyEvent::new(py, ev)));
        }
        if st.finished {
            return Ok(None);
        }
        match wait_batch(py, &self.events, self.max_batch, self.timeout)? {
            Waited::Got(evs) => {
                st.buffer.extend(evs);
                Ok(st.buffer.pop_front().map(|ev| PyEvent::new(py, ev)))
            }
            Waited::TimedOut => Ok(None),
            Waited::Stopped => {
                st.finished = true;
                Ok(None)
            }
        }
    }
}

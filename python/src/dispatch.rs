//! The dispatcher thread of a `tcphub.TcpServer` with Python callbacks: it
//! takes the core's pull-mode events in batches, detached from the
//! interpreter, and attaches once per batch to call the callbacks in order
//! (see `server.rs` for the threads and the GIL as a whole).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use pyo3::prelude::*;
use tcphub::{Event, Events, ServerHandle};

use crate::hold::{Holds, Stash};
use crate::types::{PyClient, PyEvent};

thread_local! {
    /// Set on every server's dispatcher thread (where callbacks run).
    static ON_DISPATCHER: Cell<bool> = const { Cell::new(false) };
    /// On a dispatcher thread: the clients its callbacks disconnected whose
    /// `Disconnected` has not come yet. Their messages still in the queue
    /// (read before the kick took effect) are not handed to `on_message`,
    /// as the core does for a kick from a callback (see `disconnect`).
    /// Only clients whose `Disconnected` is still to come are noted
    /// (`note_kick`), and that event removes them: at most one entry per
    /// client connected, never one left behind.
    /// (A set, none while no kick is pending: a list made 3,000 clients
    /// kicked from one callback quadratic, in look-ups per message and per
    /// kick.)
    static KICKED: RefCell<Option<HashSet<u64>>> = const { RefCell::new(None) };
}

/// Whether `ev` is a message taken once this server's stop has begun, or
/// its `stop_input()` (`input_stopped`, set by both): not handed to
/// `on_message` (after a stop a reply to it could not be sent: the core
/// refuses sends from the stop on; and the core itself hands out no message
/// read after either — these were read before and queued for this thread).
/// Connects and disconnects still go out, each connect with its disconnect.
fn after_stop(ev: &Event, input_stopped: &AtomicBool) -> bool {
    matches!(ev, Event::Message(..)) && input_stopped.load(Ordering::Acquire)
}

/// Whether this thread's callbacks have kicked `id` (its messages are
/// skipped until its `Disconnected`).
fn kicked(id: u64) -> bool {
    KICKED.with(|k| k.borrow().as_ref().is_some_and(|k| k.contains(&id)))
}

/// Whether the dispatcher must skip `ev`: a message of a client its
/// callbacks have kicked. A `Disconnected` ends that.
fn after_kick(ev: &Event) -> bool {
    match ev {
        Event::Message(c, _) => {
            KICKED.with(|k| k.borrow().as_ref().is_some_and(|k| k.contains(&c.id)))
        }
        Event::Connected(_) => false,
        Event::Disconnected(c, _) => {
            KICKED.with(|k| {
                let mut k = k.borrow_mut();
                if let Some(set) = k.as_mut() {
                    if set.remove(&c.id) && set.is_empty() {
                        *k = None;
                    }
                }
            });
            false
        }
    }
}

/// How many events the dispatcher takes per attach.
const DISPATCH_BATCH: usize = 256;

/// The Python callbacks. Set before `start()`, then moved (as new
/// references) to the dispatcher thread.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) on_connect: Option<Py<PyAny>>,
    pub(crate) on_message: Option<Py<PyAny>>,
    pub(crate) on_disconnect: Option<Py<PyAny>>,
    pub(crate) on_error: Option<Py<PyAny>>,
}

impl Callbacks {
    pub(crate) fn any_event(&self) -> bool {
        self.on_connect.is_some() || self.on_message.is_some() || self.on_disconnect.is_some()
    }

    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Callbacks {
        let c = |o: &Option<Py<PyAny>>| o.as_ref().map(|f| f.clone_ref(py));
        Callbacks {
            on_connect: c(&self.on_connect),
            on_message: c(&self.on_message),
            on_disconnect: c(&self.on_disconnect),
            on_error: c(&self.on_error),
        }
    }

    /// Calls the callback for `ev`; whether it raised. An exception goes to
    /// `on_error`, or to `sys.unraisablehook` (also when `on_error` itself
    /// raises) — except, without `on_error`, a `NotRunning` raised once
    /// this server's stop has begun (`stopping`): the reply of a callback
    /// running when the stop began, or an `on_disconnect` telling the
    /// others of a client the stop let go, which the program's own stop
    /// makes fail (an echo server stopped at exit reported one traceback
    /// per message still queued, before those were skipped: `after_stop`).
    /// It is still counted. A message is looked at again with `skipped`
    /// once its call's arguments are made, just before the call (see
    /// below).
    fn deliver(
        &self,
        py: Python<'_>,
        ev: Event,
        stopping: &AtomicBool,
        skipped: impl Fn(&Event) -> bool,
    ) -> bool {
        let (cb, name, result) = match &ev {
            Event::Connected(c) => match &self.on_connect {
                Some(cb) => (cb, "on_connect", call(py, cb, (PyClient::from(*c),))),
                None => return false,
            },
            Event::Message(c, data) => match &self.on_message {
                Some(cb) => {
                    // Made before the last look: making objects can run
                    // Python code (before 3.12 a garbage collection runs
                    // finalizers at an allocation), which may stop the input
                    // or kick the client, or let another thread do so; no
                    // `on_message` is called after that (test_stop_input.py).
                    let args =
                        (PyClient::from(*c), pyo3::types::PyBytes::new(py, data)).into_pyobject(py);
                    if skipped(&ev) {
                        return false;
                    }
                    let result = args.and_then(|args| call(py, cb, args));
                    (cb, "on_message", result)
                }
                None => return false,
            },
            Event::Disconnected(c, why) => match &self.on_disconnect {
                Some(cb) => (
                    cb,
                    "on_disconnect",
                    call(py, cb, (PyClient::from(*c), why.to_string())),
                ),
                None => return false,
            },
        };
        let Err(err) = result.and_then(|r| not_awaitable(py, name, r)) else {
            return false;
        };
        if let Some(on_error) = &self.on_error {
            // With its traceback: before Python 3.12 a raised exception's
            // traceback is kept beside it, not on it (`__traceback__`).
            let exc = err.into_value(py);
            let handled = call(py, on_error, (exc.clone_ref(py), PyEvent::new(py, ev)))
                .and_then(|r| not_awaitable(py, "on_error", r));
            if let Err(e2) = handled {
                chain_to(py, &e2, exc);
                write_unraisable(py, e2, on_error);
            }
            return true;
        }
        if !(stopping.load(Ordering::Acquire) && crate::errors::is_not_running(py, &err)) {
            write_unraisable(py, err, cb);
        }
        true
    }
}

/// Why an `async def` callback is refused (`refuse_async`) or, when its
/// coroutine turns up anyway, reported (`not_awaitable`).
const NOT_AWAITED: &str = "callbacks are called on tcphub's dispatcher thread, outside any \
     event loop, so a coroutine would never run: use a plain def, or consume \
     server.aevents() from asyncio";

/// Refuses an `async def` (or async generator) function as the callback
/// `name`: calling it only makes a coroutine, which nobody would await —
/// the callback would silently never run.
pub(crate) fn refuse_async(py: Python<'_>, name: &str, func: &Bound<'_, PyAny>) -> PyResult<()> {
    let inspect = py.import("inspect")?;
    let is_async = inspect
        .call_method1("iscoroutinefunction", (func,))?
        .is_truthy()?
        || inspect
            .call_method1("isasyncgenfunction", (func,))?
            .is_truthy()?;
    if is_async {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name} takes a plain function, not an async one: {NOT_AWAITED}"
        )));
    }
    Ok(())
}

/// What the callback `name` returned, unless it is a coroutine (or another
/// awaitable, or an async generator) — made by a callable `refuse_async`
/// could not recognise, an object with an `async def __call__`: a coroutine
/// (`astop()`'s and `aclose()`'s too) is closed (no "never awaited" warning)
/// and it becomes the callback's `TypeError`.
fn not_awaitable(py: Python<'_>, name: &str, returned: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let r = returned.bind(py);
    {
        use pyo3::types::{PyBool, PyBytes, PyInt, PyString};
        // The usual results (`None`; a `send_all` count from a lambda),
        // without a look at `inspect`.
        if r.is_none()
            || r.is_exact_instance_of::<PyInt>()
            || r.is_exact_instance_of::<PyBool>()
            || r.is_exact_instance_of::<PyString>()
            || r.is_exact_instance_of::<PyBytes>()
        {
            return Ok(returned);
        }
    }
    // Each through `call`: these run Python code (`isinstance` reads the
    // result's `__class__`, `close()` runs the coroutine's `finally`), which
    // an exit may end with a forced unwind (see `HangOnThreadExit`).
    let inspect = py.import("inspect")?;
    let ask = |what: &str| -> PyResult<bool> {
        let f = inspect.getattr(what)?.unbind();
        call(py, &f, (r.clone(),))?.bind(py).is_truthy()
    };
    let is_async = ask("isawaitable")? || ask("isasyncgen")?;
    if !is_async {
        return Ok(returned);
    }
    let what = r.get_type().name()?.to_string();
    // (An async generator's close() is itself a coroutine: left alone.) A
    // `collections.abc.Coroutine`, not only a native one: `astop()` and
    // `aclose()` return tcphub's own wrapper of theirs
    // (`_runtime._BeginsIfCancelledFirst`), whose coroutine warned.
    let coroutine = py.import("collections.abc")?.getattr("Coroutine")?;
    let isinstance = py.import("builtins")?.getattr("isinstance")?.unbind();
    if call(py, &isinstance, (r.clone(), coroutine))?
        .bind(py)
        .is_truthy()?
    {
        call(py, &r.getattr("close")?.unbind(), ())?;
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "{name} returned a {what}: {NOT_AWAITED}"
    )))
}

/// `on_error` raised `err` while handling `exc`: as Python does for an
/// exception raised in an `except` block, `exc` becomes the `__context__`
/// at the end of `err`'s chain (unless it is in that chain already, as when
/// `on_error` re-raises it), so both are reported.
fn chain_to(py: Python<'_>, err: &PyErr, exc: Py<pyo3::exceptions::PyBaseException>) {
    let mut last = err.clone_ref(py);
    // Bounded: a chain can be long, and a cycle in it must not hang us.
    for _ in 0..100 {
        if last.value(py).is(&exc) {
            return;
        }
        match last.context(py) {
            Some(next) => last = next,
            None => {
                last.set_context(py, Some(PyErr::from_value(exc.into_bound(py).into_any())));
                return;
            }
        }
    }
}

/// The `done` receivers of the dispatchers that may still run (finished
/// ones are pruned as new ones start), for the interpreter's exit: a
/// server dropped without `stop()` stops, but does not wait for its
/// dispatcher (see [`wait_all`]). With the id of the process it runs in:
/// in a child forked since, it does not run (see `Dispatcher::wait`).
static UNFINISHED: Mutex<Vec<(u32, Receiver<()>)>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<(u32, Receiver<()>)>> {
    UNFINISHED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Drops the finished dispatchers, and those of another process, from the
/// list.
fn prune(list: &mut Vec<(u32, Receiver<()>)>) {
    let here = std::process::id();
    list.retain(|(pid, done)| *pid == here && !is_finished(done));
}

fn is_finished(done: &Receiver<()>) -> bool {
    matches!(
        done.try_recv(),
        Err(crossbeam_channel::TryRecvError::Disconnected)
    )
}

/// Counts a stop running on a thread of its own (a server dropped inside
/// a callback) among what the interpreter's exit waits for ([`wait_all`]):
/// it is over when the returned sender is dropped.
pub(crate) fn note_unfinished_stop() -> crossbeam_channel::Sender<()> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let mut list = unfinished();
    prune(&mut list);
    list.push((std::process::id(), done_rx));
    done_tx
}

/// Waits up to `limit` for every server's dispatcher to finish, those of
/// servers dropped without `stop()` included (their loops have ended:
/// the dispatchers end once they have run the last callbacks); whether
/// they all did. Used at the interpreter's exit, after the servers still
/// referenced were stopped. On a dispatcher thread it does not wait.
pub(crate) fn wait_all(limit: Duration) -> bool {
    if on_dispatcher() {
        return false;
    }
    let deadline = crate::deadline_after(limit);
    let waiting: Vec<Receiver<()>> = {
        let mut list = unfinished();
        prune(&mut list);
        list.iter().map(|(_, done)| done.clone()).collect()
    };
    let all = waiting.iter().all(|done| match deadline {
        Some(d) => !matches!(done.recv_deadline(d), Err(RecvTimeoutError::Timeout)),
        None => {
            let _ = done.recv();
            true
        }
    });
    prune(&mut unfinished());
    all
}

/// The dispatcher thread and the way to wait for it with a bound.
pub(crate) struct Dispatcher {
    /// Taken by the first waiter that sees the dispatcher finished.
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The dispatcher thread (where this server's callbacks run).
    pub(crate) thread_id: std::thread::ThreadId,
    /// Disconnects (its sender is dropped) when the dispatcher finishes;
    /// every `stop()` waits on its own clone.
    done: Receiver<()>,
    /// Exceptions the callbacks raised (`Stats.callback_errors`): counted
    /// by the dispatcher thread, read by `stats()` on any thread.
    errors: Arc<AtomicU64>,
    /// The process the thread runs in: a child forked since has no such
    /// thread, and waits for none (the core's servers act as stopped there).
    pid: u32,
    /// Set when this server's stop begins (`note_stop`), before the core
    /// is told: from then on a callback's `NotRunning` is the stop's doing
    /// and not reported (see `Callbacks::deliver`).
    stopping: Arc<AtomicBool>,
    /// Set when this server's stop or `stop_input()` begins: the messages
    /// still queued for the thread are skipped (see `after_stop`).
    input_stopped: Arc<AtomicBool>,
    /// The paused clients, whose events the thread holds back (`hold.rs`).
    pub(crate) holds: Arc<Holds>,
}

impl Dispatcher {
    /// Waits up to `limit` (`None`: for good) for the dispatcher to finish,
    /// then joins it; returns whether it finished.
    pub(crate) fn wait(&self, limit: Option<Duration>) -> bool {
        if self.pid != std::process::id() {
            // Neither join nor detach a thread this process does not have.
            let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
            std::mem::forget(t);
            return true;
        }
        let finished = match limit {
            None => {
                let _ = self.done.recv();
                true
            }
            Some(t) => !matches!(self.done.recv_timeout(t), Err(RecvTimeoutError::Timeout)),
        };
        if finished {
            let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(t) = t {
                let _ = t.join();
            }
        }
        finished
    }

    pub(crate) fn finished(&self) -> bool {
        self.pid != std::process::id() || is_finished(&self.done)
    }

    /// This server's stop begins (called before the core's `stop`).
    pub(crate) fn note_stop(&self) {
        self.input_stopped.store(true, Ordering::Release);
        self.stopping.store(true, Ordering::Release);
    }

    /// This server's `stop_input()` begins (called before the core's).
    pub(crate) fn note_stop_input(&self) {
        self.input_stopped.store(true, Ordering::Release);
    }

    /// Ctrl-C ended a wait for this dispatcher: the interpreter's exit
    /// ([`wait_all`]) no longer waits for it either.
    pub(crate) fn abandon(&self) {
        unfinished().retain(|(_, done)| !done.same_channel(&self.done));
    }
}

/// Whether this thread is a dispatcher thread (of any server): a callback
/// is running, so waiting for a dispatcher here could deadlock.
pub(crate) fn on_dispatcher() -> bool {
    ON_DISPATCHER.with(Cell::get)
}

/// Whether this thread is running an asyncio event loop: a drop waiting
/// here up to `linger` would stop every task of the loop (a task cancelled
/// while it held an open client outside `async with`), so it closes on a
/// thread of its own, as inside a callback. (The error indicator the
/// caller may have set is kept: this runs in a drop.)
pub(crate) fn on_event_loop() -> bool {
    Python::try_attach(|py| {
        let pending = PyErr::take(py);
        let running = py
            .import("sys")
            .and_then(|sys| sys.getattr("modules"))
            .and_then(|modules| modules.get_item("asyncio"))
            .and_then(|asyncio| asyncio.call_method0("_get_running_loop"))
            .is_ok_and(|lp| !lp.is_none());
        let _ = PyErr::take(py);
        if let Some(e) = pending {
            e.restore(py);
        }
        running
    })
    .unwrap_or(false)
}

/// `handle.disconnect(client_id)`; from a callback of this server (on its
/// `dispatcher`'s thread), its messages still queued (read before the kick
/// took effect) are skipped too.
pub(crate) fn kick(
    handle: &ServerHandle,
    dispatcher: Option<&Dispatcher>,
    client_id: u64,
) -> tcphub::Result<()> {
    let here = std::thread::current().id();
    let ours = dispatcher.filter(|d| d.thread_id == here);
    // Listed before the kick: its `Disconnected` is still to come.
    let listed = ours.is_some() && handle.client(client_id).is_some();
    handle.disconnect(client_id)?;
    if let Some(d) = ours {
        note_kick(client_id, listed || d.holds.is_live(client_id));
    }
    Ok(())
}

/// A callback of this thread's server disconnected `client_id`: skip its
/// messages still queued until its `Disconnected` (see `after_kick`), if
/// that is still `to_come`: the client was listed (by the server, just
/// before the kick: its `Disconnected` was not even queued then), or this
/// dispatcher has handed out its `Connected` but not its `Disconnected`
/// (`Holds::is_live`: also one taken and held behind its messages). Kicking a client held open for replies after its
/// `Disconnected` was handed out notes nothing (it used to stay noted for
/// good).
fn note_kick(client_id: u64, to_come: bool) {
    if !to_come {
        return;
    }
    KICKED.with(|k| {
        k.borrow_mut()
            .get_or_insert_with(HashSet::new)
            .insert(client_id);
    });
}

/// How many clients this thread's dispatcher skips the messages of (0 on
/// any other thread); for the tests.
pub(crate) fn kicks_pending() -> usize {
    KICKED.with(|k| k.borrow().as_ref().map_or(0, HashSet::len))
}

impl Dispatcher {
    /// Starts the dispatcher thread for `events`, calling `callbacks`;
    /// `handle` resumes in the server what was resumed while the thread
    /// kept events (see `hold.rs`).
    pub(crate) fn spawn(
        events: Events,
        handle: ServerHandle,
        callbacks: Callbacks,
    ) -> std::io::Result<Dispatcher> {
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let errors = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&errors);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop_seen = Arc::clone(&stopping);
        let input_stopped = Arc::new(AtomicBool::new(false));
        let skip = Arc::clone(&input_stopped);
        let holds = Arc::new(Holds::new()?);
        let held = Arc::clone(&holds);
        let t = std::thread::Builder::new()
            .name("tcphub-dispatch".into())
            .spawn(move || {
                let run = Run {
                    events: &events,
                    handle: &handle,
                    callbacks: &callbacks,
                    errors: &counter,
                    stopping: &stop_seen,
                    input_stopped: &skip,
                    holds: &held,
                };
                let kept = dispatch_loop(&run);
                // Its waits are over: a stopped server the application
                // keeps holds no descriptor.
                held.release();
                // Release the callbacks' references with the GIL held, if
                // still possible (that may run Python code: a closure's
                // last reference). The kept thread state goes with the
                // last attach; if the interpreter is shutting down it is
                // left to the interpreter's own cleanup.
                let _ = attached(move |_py| {
                    drop(callbacks);
                    if let Some(kept) = kept {
                        // SAFETY: attached, so the count stays above zero
                        // until the attach itself ends, which deletes the
                        // thread state.
                        unsafe { pyo3::ffi::PyGILState_Release(kept) };
                    }
                });
                drop(handle); // (before the stop's wait ends)
                drop(done_tx); // stop() sees the dispatcher has finished
            })?;
        {
            let mut all = unfinished();
            prune(&mut all);
            all.push((std::process::id(), done_rx.clone()));
        }
        Ok(Dispatcher {
            thread_id: t.thread().id(),
            thread: Mutex::new(Some(t)),
            done: done_rx,
            errors,
            stopping,
            input_stopped,
            holds,
            pid: std::process::id(),
        })
    }

    /// How many exceptions the callbacks have raised.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Held while the dispatcher runs Python code: Python before 3.14 ends a
/// thread that wants the GIL back while the interpreter finalizes with
/// `pthread_exit`, a forced unwind. Unwinding on into the attach guard would
/// release a GIL this thread no longer holds, which is a fatal error (an
/// abort, at the exit of a program whose callback was still computing when
/// `EXIT_TIMEOUT` ran out). Dropped by that unwind, this parks the thread
/// for good instead, as pyo3 does where it attaches; the process ends
/// without it. A Rust panic unwinds as before, and normal code forgets it.
struct HangOnThreadExit;

impl Drop for HangOnThreadExit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        loop {
            std::thread::park();
        }
    }
}

/// `cb(*args)`, as `Py::call1`, but a `pthread_exit` inside the callback
/// (see [`HangOnThreadExit`]) parks this thread before anything is
/// released on the way out. `call1` drops its argument tuple as it
/// unwinds: a `Py_DECREF` without the GIL while the main thread runs the
/// interpreter's last garbage collection, which freed the tuple under the
/// collector (SIGSEGV at the exit of a program whose callback was still
/// computing, 11 of 20 runs of a debug build). Here the tuple belongs to
/// this frame, which releases it only after the guard, and the call goes
/// through a pointer declared `C-unwind` so the guard's landing pad stays.
pub(crate) fn call<'py>(
    py: Python<'py>,
    cb: &Py<PyAny>,
    args: impl IntoPyObject<
        'py,
        Target = pyo3::types::PyTuple,
        Output = Bound<'py, pyo3::types::PyTuple>,
    >,
) -> PyResult<Py<PyAny>> {
    type RawCall = unsafe extern "C-unwind" fn(
        *mut pyo3::ffi::PyObject,
        *mut pyo3::ffi::PyObject,
        *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject;
    let args = args.into_pyobject(py).map_err(Into::into)?;
    // SAFETY: the same function and signature; only the ABI's unwinding
    // differs, which is what we need declared.
    let raw: RawCall = std::hint::black_box(unsafe {
        std::mem::transmute::<
            unsafe extern "C" fn(
                *mut pyo3::ffi::PyObject,
                *mut pyo3::ffi::PyObject,
                *mut pyo3::ffi::PyObject,
            ) -> *mut pyo3::ffi::PyObject,
            RawCall,
        >(pyo3::ffi::PyObject_Call)
    });
    let exiting = HangOnThreadExit;
    // SAFETY: attached (`py`); `cb` and `args` are live objects, no kwargs.
    let returned = unsafe { raw(cb.as_ptr(), args.as_ptr(), std::ptr::null_mut()) };
    std::mem::forget(exiting);
    // SAFETY: PyObject_Call returns a new reference, or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, returned) }.map(Bound::unbind)
}

/// `err.write_unraisable(py, Some(obj))` — `sys.unraisablehook`, which may
/// be the application's Python code — as [`call`] does a call: through a
/// pointer declared `C-unwind`, a `pthread_exit` inside it parking this
/// thread (pyo3 declares `PyErr_WriteUnraisable` `extern "C"`: that forced
/// unwind aborted the process at exit).
fn write_unraisable(py: Python<'_>, err: PyErr, obj: &Py<PyAny>) {
    type RawWrite = unsafe extern "C-unwind" fn(*mut pyo3::ffi::PyObject);
    // SAFETY: the same function and signature (`void
    // PyErr_WriteUnraisable(PyObject *)`); only the ABI's unwinding
    // differs, which is what we need declared.
    let raw: RawWrite = std::hint::black_box(unsafe {
        std::mem::transmute::<unsafe extern "C" fn(*mut pyo3::ffi::PyObject), RawWrite>(
            pyo3::ffi::PyErr_WriteUnraisable,
        )
    });
    err.restore(py);
    let exiting = HangOnThreadExit;
    // SAFETY: attached (`py`), the exception just set; `obj` is live.
    unsafe { raw(obj.as_ptr()) };
    std::mem::forget(exiting);
}

/// `f` attached to the interpreter, if it can be (see [`HangOnThreadExit`]).
pub(crate) fn attached<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    Python::try_attach(|py| {
        let exiting = HangOnThreadExit;
        let r = opaque_call(f, py);
        std::mem::forget(exiting);
        r
    })
}

/// Calls `f` through a function pointer the optimizer cannot see through,
/// so the call may unwind as far as it knows and the guard around it keeps
/// its landing pad. The Python C API is declared `extern "C"`, which Rust
/// takes as never unwinding; with the whole program optimized at once
/// (one codegen unit, LTO) the compiler proved `f` nounwind and dropped the
/// guard's cleanup, so `pthread_exit`'s forced unwind went past it into the
/// thread's `catch_unwind` ("FATAL: exception not rethrown", SIGABRT).
fn opaque_call<F: FnOnce(Python<'_>) -> R, R>(f: F, py: Python<'_>) -> R {
    fn call<F: FnOnce(Python<'_>) -> R, R>(f: F, py: Python<'_>) -> R {
        f(py)
    }
    let call: fn(F, Python<'_>) -> R = std::hint::black_box(call::<F, R>);
    call(f, py)
}

/// What the dispatcher thread works with.
struct Run<'a> {
    events: &'a Events,
    /// Resumes in the server what was resumed while events were kept.
    handle: &'a ServerHandle,
    callbacks: &'a Callbacks,
    /// Exceptions the callbacks raised (see `Dispatcher::errors`).
    errors: &'a AtomicU64,
    stopping: &'a AtomicBool,
    input_stopped: &'a AtomicBool,
    holds: &'a Holds,
}

impl Run<'_> {
    /// Takes `ev` in its turn: a held message is kept in `stash` (see
    /// `hold.rs`); what was resumed goes out first.
    fn take(&self, py: Python<'_>, stash: &mut Stash, ev: Event) {
        stash.release_resumed(self.holds, |held| self.hand_out(py, held));
        match &ev {
            Event::Connected(c) => self.holds.connected(c.id),
            Event::Disconnected(c, _) => {
                self.holds.disconnected(c.id);
                if self.input_stopped.load(Ordering::Acquire) {
                    stash.drop_stopped_input(c.id);
                }
            }
            Event::Message(..) => {}
        }
        let skipped = |id| kicked(id) || self.input_stopped.load(Ordering::Acquire);
        stash.take(self.holds, ev, skipped, |ev| self.hand_out(py, ev));
    }

    /// Hands `ev` out: to its callback, unless it is to be skipped.
    fn hand_out(&self, py: Python<'_>, ev: Event) {
        self.events.hand_out(&ev);
        if let Event::Disconnected(c, _) = &ev {
            self.holds.ended(c.id);
        }
        let skipped = |ev: &Event| after_kick(ev) || after_stop(ev, self.input_stopped);
        if !skipped(&ev) && self.callbacks.deliver(py, ev, self.stopping, skipped) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs the callbacks until the events end (or the interpreter does);
/// returns the thread state it kept, to be released attached.
fn dispatch_loop(run: &Run<'_>) -> Option<pyo3::ffi::PyGILState_STATE> {
    ON_DISPATCHER.with(|d| d.set(true));
    // This thread's Python thread state, kept for the dispatcher's life: a
    // `PyGILState_Ensure` of our own under the first attach keeps the
    // state's count above zero, so each batch's attach only takes the GIL
    // (and its release only gives it back) instead of creating the thread
    // state and deleting it again — work per batch, and each time under
    // the interpreter's lock of thread states, which a `fork()` from
    // another thread must not catch held (the child would wait for it for
    // ever in its after-fork cleanup).
    let Some(kept) = attached(|_py| {
        // SAFETY: attached; released once, attached, as the thread ends
        // (`Dispatcher::spawn`); left to the interpreter's cleanup if the
        // interpreter is shutting down by then, or if this loop panics.
        unsafe { pyo3::ffi::PyGILState_Ensure() }
    }) else {
        return None; // the interpreter is shutting down
    };
    let mut batch = Vec::with_capacity(DISPATCH_BATCH);
    let mut stash = Stash::default();
    let mut ready = None;
    loop {
        batch.clear();
        // Not attached here: the wait holds no GIL. Holding events, it
        // also ends at a resume (`hold::wait`).
        // Staged: each event counts as taken when its turn comes (a
        // `hold_for_replies` window runs from there, not from the batch).
        let taken = crate::hold::wait(
            run.events,
            run.holds,
            &stash,
            &mut ready,
            &mut batch,
            DISPATCH_BATCH,
        );
        match taken {
            Ok(0) if stash.is_empty() || !run.holds.any_resumed() => continue,
            Ok(_) => {
                let delivered = attached(|py| {
                    run.holds.handing_out();
                    stash.release_resumed(run.holds, |held| run.hand_out(py, held));
                    for ev in batch.drain(..) {
                        run.take(py, &mut stash, ev);
                    }
                    stash.settle(
                        run.holds,
                        |id| {
                            let _ = run.handle.resume_client(id);
                        },
                        || run.handle.resume_input(),
                    );
                });
                if delivered.is_none() {
                    break; // the interpreter is shutting down
                }
            }
            Err(_) => {
                // Stopped and drained: what is still held goes out (its
                // messages skipped, as any after the stop).
                let _ = attached(|py| stash.release_all(|held| run.hand_out(py, held)));
                break;
            }
        }
    }
    Some(kept)
}

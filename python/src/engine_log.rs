//! The core's own log lines — an accept that fails (out of descriptors),
//! connections refused at a full server or per address, a callback that
//! panicked, a client's redials — passed to Python's `logging`, under the
//! logger named after the line's Rust module (`tcphub.event_loop.accept`,
//! a child of `tcphub`). Without this they went nowhere: a server out of
//! descriptors stopped taking clients without a word.
//!
//! The lines come from the event-loop threads, which must never wait for
//! the GIL: [`EngineLog`] only puts each line in a bounded queue (a line
//! that finds it full is counted, and the count logged with the next line
//! that fits). One "tcphub-log" thread, started at the first line (again
//! in a forked child, where it is missing), attaches to the interpreter
//! and hands the lines to `logging`. Lines at info and above are taken
//! from the engine ([`set_engine_log_level`] changes that; `python -m
//! tcphub serve -v` takes debug lines too); `logging`'s own levels and
//! handlers decide what is shown — by default, warnings and errors on
//! stderr, through `logging`'s last resort, with the "tcphub: " the line
//! began with kept (see [`forward`]).

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// Lines waiting for the "tcphub-log" thread at most.
const QUEUED_MAX: usize = 1024;

/// What the core's lines begin with (see [`EngineLog::log`]).
const PREFIX: &str = "tcphub: ";

/// One line: Python's level number, the logger's name, the message, and
/// how many lines were lost just before it (see [`LOST`]).
type Line = (u8, String, String, u64);

/// The queue to the "tcphub-log" thread, and the process it runs in.
struct Forwarder {
    pid: u32,
    tx: Sender<Line>,
}

/// This process's [`Forwarder`] (a parent's, in a forked child that has not
/// logged yet; null before the first line). Set from leaked boxes only,
/// never freed. Read without a lock: a lock held by another thread when a
/// program forks stays held for good in the child, and `try_lock` instead
/// lost any line logged while another thread held it (two event loops
/// logging at once).
static FORWARDER: AtomicPtr<Forwarder> = AtomicPtr::new(std::ptr::null_mut());

/// The process in which a thread is starting the "tcphub-log" thread (0:
/// none). A parent's, caught by a fork, is another process's: the child
/// starts its own.
static STARTING: AtomicU32 = AtomicU32::new(0);

/// Lines lost (a full queue) since the last one queued: told with the next
/// line queued, the first after them.
static LOST: AtomicU64 = AtomicU64::new(0);

/// The `log` logger that queues the core's lines for Python (see the module).
struct EngineLog;

impl Log for EngineLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => 40,
            Level::Warn => 30,
            Level::Info => 20,
            Level::Debug => 10,
            Level::Trace => 5,
        };
        let name = record.target().replace("::", ".");
        let mut text = record.args().to_string();
        // The core's lines begin with "tcphub: " for a plain stderr; the
        // logger's name says it here.
        if text.starts_with(PREFIX) {
            text.drain(..PREFIX.len());
        }
        let Some(tx) = sender() else {
            LOST.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let lost = LOST.swap(0, Ordering::Relaxed);
        match tx.try_send((level, name, text, lost)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                LOST.fetch_add(lost + 1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// The queue to this process's "tcphub-log" thread, started if missing.
fn sender() -> Option<&'static Sender<Line>> {
    let pid = std::process::id();
    loop {
        // SAFETY: null or a leaked box, never freed.
        if let Some(f) = unsafe { FORWARDER.load(Ordering::Acquire).as_ref() } {
            if f.pid == pid {
                return Some(&f.tx);
            }
        }
        let starting = STARTING.load(Ordering::Acquire);
        if starting == pid {
            // Another thread of this process is starting it: a moment
            // (once per process).
            std::thread::yield_now();
            continue;
        }
        if STARTING
            .compare_exchange(starting, pid, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return start(pid);
        }
    }
}

/// Starts this process's "tcphub-log" thread (the caller has claimed
/// [`STARTING`]): its queue, or `None` (and the claim given up) if no
/// thread could be started.
fn start(pid: u32) -> Option<&'static Sender<Line>> {
    let (tx, rx) = crossbeam_channel::bounded(QUEUED_MAX);
    let started = std::thread::Builder::new()
        .name("tcphub-log".into())
        .spawn(move || forward(&rx));
    if started.is_err() {
        STARTING.store(0, Ordering::Release);
        return None;
    }
    let f: &'static Forwarder = Box::leak(Box::new(Forwarder { pid, tx }));
    FORWARDER.store(std::ptr::from_ref(f).cast_mut(), Ordering::Release);
    Some(&f.tx)
}

/// The "tcphub-log" thread: hands each line to `logging` until the
/// interpreter shuts down.
fn forward(rx: &Receiver<Line>) {
    // This thread's Python thread state, kept for its life, as the
    // dispatcher keeps its own (`dispatch_loop`): each line's attach then
    // only takes the GIL, and never the interpreter's lock of thread
    // states, which a `fork()` from another thread must not catch held.
    let Some(kept) = crate::dispatch::attached(|_py| {
        // SAFETY: attached (the interpreter is initialized, and this
        // thread's state current). Never released: the thread lives until
        // the interpreter's end, whose cleanup deletes the state (see the
        // end of this function).
        unsafe { pyo3::ffi::PyGILState_Ensure() }
    }) else {
        return; // the interpreter is shutting down
    };
    // Every call into Python goes through `dispatch::call`, as the
    // dispatcher's callbacks do: a handler that waits (for its lock, which
    // `logging.shutdown` takes at exit, for a slow stream) as the
    // interpreter finalizes ends the thread with `pthread_exit`, and that
    // forced unwind through pyo3's own calls (`call_method1`) aborted the
    // process (SIGABRT at the exit of a program whose engine was still
    // logging). `__import__` and the attribute lookups run no Python code.
    let get_logger = crate::dispatch::attached(|py| {
        let import = py.import("builtins")?.getattr("__import__")?.unbind();
        let logging = crate::dispatch::call(py, &import, ("logging",))?;
        PyResult::Ok(logging.bind(py).getattr("getLogger")?.unbind())
    });
    let Some(Ok(get_logger)) = get_logger else {
        return; // the interpreter is shutting down (or has no `logging`)
    };
    while let Ok((level, name, mut text, lost)) = rx.recv() {
        if lost > 0 {
            text = format!("{text} ({lost} earlier lines lost: the log queue was full)");
        }
        let delivered = crate::dispatch::attached(|py| {
            let logged =
                crate::dispatch::call(py, &get_logger, (name.as_str(),)).and_then(|logger| {
                    let logger = logger.bind(py);
                    // No handler for it anywhere: `logging`'s last resort prints
                    // the bare message, so it keeps the "tcphub: " that says
                    // whose it is (a handler's format has the logger's name).
                    let has_handlers = logger.getattr("hasHandlers")?.unbind();
                    let handled = crate::dispatch::call(py, &has_handlers, ())?;
                    let line = if handled.bind(py).is_truthy()? {
                        text
                    } else {
                        format!("{PREFIX}{text}")
                    };
                    let log = logger.getattr("log")?.unbind();
                    crate::dispatch::call(py, &log, (level, "%s", line))
                });
            if let Err(e) = logged {
                show(py, &e); // (a handler that raised: shown, not lost silently)
            }
        });
        if delivered.is_none() {
            return; // the interpreter is shutting down: its cleanup takes `kept`
        }
    }
    // (The queue's sender stays in `FORWARDER` for the process's life, so
    // the loop ends only with the interpreter; `kept` is left to its
    // cleanup.)
    let _ = kept;
}

/// Shows `e` as an uncaught exception would be (`sys.excepthook`), through
/// `dispatch::call` (see [`forward`]); an exception from the hook itself is
/// dropped.
fn show(py: Python<'_>, e: &PyErr) {
    let Ok(hook) = py.import("sys").and_then(|sys| sys.getattr("excepthook")) else {
        return;
    };
    let args = (e.get_type(py), e.value(py), e.traceback(py));
    let _ = crate::dispatch::call(py, &hook.unbind(), args);
}

static LOGGER: EngineLog = EngineLog;

/// Passes the core's log lines to `logging` from now on: done at import,
/// at info and up (see the module).
pub(crate) fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// `tcphub.set_engine_log_level(level)`: passes the engine's own lines at
/// `level` and above (a `logging` level: `logging.DEBUG` for its debug
/// lines, `5` for trace) to `logging` from now on; the default is
/// `logging.INFO`. Only lowers or raises what the engine sends:
/// `logging`'s levels and handlers still decide what is shown.
///
/// ```python
/// import logging, tcphub
/// logging.basicConfig(level=logging.DEBUG)
/// tcphub.set_engine_log_level(logging.DEBUG)
/// ```
///
/// Any int is a level, as for `Logger.setLevel`: one past 64 bits is above
/// every line (none passed) or, negative, below every line (all passed).
#[pyfunction]
pub(crate) fn set_engine_log_level(level: &Bound<'_, PyAny>) -> PyResult<()> {
    let level = match level.extract::<i64>() {
        Ok(n) => n,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(level.py()) => {
            if level.gt(0)? {
                i64::MAX
            } else {
                i64::MIN
            }
        }
        Err(e) => return Err(e),
    };
    log::set_max_level(match level {
        ..=5 => LevelFilter::Trace,
        6..=10 => LevelFilter::Debug,
        11..=20 => LevelFilter::Info,
        21..=30 => LevelFilter::Warn,
        31..=40 => LevelFilter::Error,
        _ => LevelFilter::Off,
    });
    Ok(())
}

/// The level of the engine's lines passed to `logging` now (see
/// [`set_engine_log_level`]): `logging`'s number for it, 5 for trace, or
/// 50 (`logging.CRITICAL`) when none are.
#[pyfunction]
pub(crate) fn engine_log_level() -> i64 {
    match log::max_level() {
        LevelFilter::Trace => 5,
        LevelFilter::Debug => 10,
        LevelFilter::Info => 20,
        LevelFilter::Warn => 30,
        LevelFilter::Error => 40,
        LevelFilter::Off => 50,
    }
}

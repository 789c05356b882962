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
//! from the engine (`python -m tcphub serve -v`: debug too); `logging`'s
//! own levels and handlers decide what is shown — by default, warnings
//! and errors on stderr.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// Lines waiting for the "tcphub-log" thread at most.
const QUEUED_MAX: usize = 1024;

/// What the core's lines begin with (see [`EngineLog::log`]).
const PREFIX: &str = "tcphub: ";

/// One line: Python's level number, the logger's name, the message.
type Line = (u8, String, String);

/// The queue to the "tcphub-log" thread, and the process it runs in.
struct Forwarder {
    pid: u32,
    tx: Sender<Line>,
}

static FORWARDER: Mutex<Option<Forwarder>> = Mutex::new(None);

/// Lines lost to a full queue since the last one delivered.
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
        match tx.try_send((level, name, text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                LOST.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// The queue to this process's "tcphub-log" thread, started if missing.
fn sender() -> Option<Sender<Line>> {
    let mut slot = FORWARDER.try_lock().ok()?; // (held by a parent's thread at a fork: lost)
    let pid = std::process::id();
    if let Some(f) = slot.as_ref().filter(|f| f.pid == pid) {
        return Some(f.tx.clone());
    }
    let (tx, rx) = crossbeam_channel::bounded(QUEUED_MAX);
    std::thread::Builder::new()
        .name("tcphub-log".into())
        .spawn(move || forward(&rx))
        .ok()?;
    *slot = Some(Forwarder {
        pid,
        tx: tx.clone(),
    });
    Some(tx)
}

/// The "tcphub-log" thread: hands each line to `logging` until the
/// interpreter shuts down.
fn forward(rx: &Receiver<Line>) {
    // This thread's Python thread state, kept for its life, as the
    // dispatcher keeps its own (`dispatch_loop`): each line's attach then
    // only takes the GIL, and never the interpreter's lock of thread
    // states, which a `fork()` from another thread must not catch held.
    let Some(kept) = crate::dispatch::attached(|_py| {
        // SAFETY: attached; released once, attached, below.
        unsafe { pyo3::ffi::PyGILState_Ensure() }
    }) else {
        return; // the interpreter is shutting down
    };
    while let Ok((level, name, mut text)) = rx.recv() {
        let lost = LOST.swap(0, Ordering::Relaxed);
        if lost > 0 {
            text = format!("{text} ({lost} earlier lines lost: the log queue was full)");
        }
        let delivered = crate::dispatch::attached(|py| {
            let logged = py
                .import("logging")
                .and_then(|logging| logging.call_method1("getLogger", (name.as_str(),)))
                .and_then(|logger| logger.call_method1("log", (level, "%s", text.as_str())));
            if let Err(e) = logged {
                e.print(py); // (a handler that raised: shown, not lost silently)
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

static LOGGER: EngineLog = EngineLog;

/// Passes the core's log lines to `logging` from now on: done at import,
/// at info and up (see the module).
pub(crate) fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Which of the core's lines to pass on: `verbose` 0 info and up, 1 debug
/// too, 2 or more trace too (private: for `python -m tcphub serve -v`).
#[pyfunction]
pub(crate) fn _engine_log_level(verbose: u8) {
    log::set_max_level(match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    });
}

//! `tcphub_set_log_callback`: the engine's own log lines — an accept that
//! fails (out of descriptors), connections refused at a full server or per
//! address, connections the poller would not take, a client's redials, and
//! at debug each client's arrival and end — handed to a C function. Without
//! it a C program saw none of them: a server out of descriptors stopped
//! taking clients without a word.
//!
//! The lines come from the event-loop threads, which must never wait for
//! the application, nor call it while they hold anything: the `log` logger
//! ([`CLog`]) only puts each line in a bounded queue (a line that finds it
//! full is counted, and the count told with the next line that fits). One
//! "tcphub-log" thread takes them from the queue and calls the callback,
//! one line at a time, so the callback never runs twice at once and may
//! call tcphub functions (but not set the callback). The queue is made once per process (again in
//! a forked child); the thread runs while a callback is set.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::boundary::{boundary, c_text, callback, Fail, UserPtr};
use crate::codes::*;

/// No engine lines (the default).
pub const TCPHUB_LOG_OFF: c_int = 0;
/// Errors: a callback that panicked, a failure the engine cannot recover
/// from for a connection.
pub const TCPHUB_LOG_ERROR: c_int = 1;
/// Warnings: server-wide trouble (accepts failing for lack of descriptors,
/// connections the poller would not take), once per run and then at most
/// every 10 s with counts.
pub const TCPHUB_LOG_WARN: c_int = 2;
/// Information: refused connections (server full, per-address limit) once
/// per run, a client's redials, recoveries.
pub const TCPHUB_LOG_INFO: c_int = 3;
/// Debugging: each client's arrival and end, with its id, address and
/// reason.
pub const TCPHUB_LOG_DEBUG: c_int = 4;
/// Tracing (the engine writes none at present).
pub const TCPHUB_LOG_TRACE: c_int = 5;

/// Receives one of the engine's log lines: its `TCPHUB_LOG_*` level, the
/// part of the engine that wrote it (`target`, e.g.
/// "tcphub::event_loop::accept") and the line itself, without a trailing
/// newline. Both strings are valid only during the call. Called on the
/// library's "tcphub-log" thread, one line at a time, never from an
/// event loop; it may call any tcphub function but
/// `tcphub_set_log_callback`. A callback that blocks delays only the lines
/// behind it (a queue of 1024 full loses lines, counted in the next line
/// delivered).
pub type tcphub_log_cb = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: c_int,
        target: *const c_char,
        message: *const c_char,
    ),
>;

type LogFn = unsafe extern "C" fn(*mut c_void, c_int, *const c_char, *const c_char);

/// Lines waiting for the "tcphub-log" thread at most.
const QUEUED_MAX: usize = 1024;

/// One line: its level, target, text, and how many lines were lost just
/// before it ([`LOST`]); or the thread's signal to end.
enum Msg {
    Line(c_int, String, String, u64),
    Stop,
}

/// This process's queue (a parent's, in a forked child that has not set a
/// callback yet; null before the first). Leaked boxes, never freed: the
/// logger reads it without a lock (a lock held by another thread when a
/// program forks stays held for good in the child).
static QUEUE: AtomicPtr<Queue> = AtomicPtr::new(std::ptr::null_mut());

/// A queue and the process it was made in.
struct Queue {
    pid: u32,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

/// Lines lost (a full queue, or no queue in this process) since the last
/// one queued: told with the next line queued.
static LOST: AtomicU64 = AtomicU64::new(0);

/// Where lines go: the callback and its pointer, the thread delivering
/// them, and which callback a delivery under way belongs to.
struct Sink {
    f: Option<(LogFn, UserPtr)>,
    /// Counts the callbacks set; `calling` holds the one a call under way
    /// was made with, so a setter can wait for the calls of older ones.
    generation: u64,
    calling: Option<u64>,
    /// The "tcphub-log" thread, with the process it runs in.
    thread: Option<(u32, JoinHandle<()>)>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    f: None,
    generation: 0,
    calling: None,
    thread: None,
});

/// Signalled when a delivery ends.
static CALLED: Condvar = Condvar::new();

/// Held by `tcphub_set_log_callback` throughout: one setter at a time, so
/// one "tcphub-log" thread at a time (a thread told to stop has ended
/// before another starts). The thread never takes it.
static CONTROL: Mutex<()> = Mutex::new(());

thread_local! {
    /// Set on the "tcphub-log" thread: the callback may not set the
    /// callback (it would wait for its own call to end).
    static ON_LOG_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn sink() -> MutexGuard<'static, Sink> {
    SINK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `log` logger that queues the engine's lines (see the module).
struct CLog;

impl Log for CLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // SAFETY: null or a leaked box, never freed.
        let queue = unsafe { QUEUE.load(Ordering::Acquire).as_ref() };
        let Some(q) = queue.filter(|q| q.pid == std::process::id()) else {
            LOST.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let level = match record.level() {
            Level::Error => TCPHUB_LOG_ERROR,
            Level::Warn => TCPHUB_LOG_WARN,
            Level::Info => TCPHUB_LOG_INFO,
            Level::Debug => TCPHUB_LOG_DEBUG,
            Level::Trace => TCPHUB_LOG_TRACE,
        };
        let lost = LOST.swap(0, Ordering::Relaxed);
        let line = Msg::Line(
            level,
            record.target().to_owned(),
            record.args().to_string(),
            lost,
        );
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = q.tx.try_send(line) {
            LOST.fetch_add(lost + 1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

static LOGGER: CLog = CLog;

/// Whether [`LOGGER`] is the process's `log` logger (set once).
fn installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok())
}

/// This process's queue, made if missing.
fn queue() -> &'static Queue {
    let pid = std::process::id();
    // SAFETY: null or a leaked box, never freed.
    if let Some(q) = unsafe { QUEUE.load(Ordering::Acquire).as_ref() } {
        if q.pid == pid {
            return q;
        }
    }
    // Only under `CONTROL` (from `tcphub_set_log_callback`): no two threads
    // make one at once.
    let (tx, rx) = crossbeam_channel::bounded(QUEUED_MAX);
    let q: &'static Queue = Box::leak(Box::new(Queue { pid, tx, rx }));
    QUEUE.store(std::ptr::from_ref(q).cast_mut(), Ordering::Release);
    q
}

/// The "tcphub-log" thread: delivers each line to the callback set when it
/// is taken, until told to stop.
fn deliver(rx: &Receiver<Msg>) {
    ON_LOG_THREAD.with(|on| on.set(true));
    while let Ok(Msg::Line(level, target, mut text, lost)) = rx.recv() {
        let (f, ud) = {
            let mut s = sink();
            let Some(f) = s.f else {
                continue; // (set to none since this line was queued)
            };
            s.calling = Some(s.generation);
            f
        };
        if lost > 0 {
            text = format!("{text} ({lost} earlier lines lost: the log queue was full)");
        }
        let (target, text) = (c_text(&target), c_text(&text));
        // SAFETY: the application set `f` for exactly these arguments; the
        // strings outlive the call.
        callback("log", || unsafe {
            f(ud.get(), level, target.as_ptr(), text.as_ptr())
        });
        sink().calling = None;
        CALLED.notify_all();
    }
}

/// Sends the engine's own log lines at `level` and more severe (a
/// `TCPHUB_LOG_*` value; `TCPHUB_LOG_OFF`, or `cb` NULL, for none) to `cb`,
/// with `userdata`, from now on, for every server and client in the
/// process. By default no line goes anywhere. Replaces the callback set
/// before: when this returns, the previous callback is not running and
/// will not be called again, so its `userdata` may be freed. Setting none
/// also ends the "tcphub-log" thread.
///
/// The lines are those a Rust program gets through the `log` crate and the
/// `tcphub` command prints on stderr; see `tcphub_log_cb` for how they are
/// delivered. A process has one logger: if another Rust library in it (or
/// the tcphub Python module) installed one first, this fails.
///
/// Returns `TCPHUB_OK`; `TCPHUB_ERR_INVALID_ARG` for a `level` outside 0 to
/// 5, or when called from inside the log callback; `TCPHUB_ERR_ALREADY_RUNNING`
/// when another logger is installed in the process; `TCPHUB_ERR_IO` when
/// the thread cannot be started. Thread-safe (calls wait for each other).
///
/// ```c
/// static void on_log(void *userdata, int level, const char *target, const char *message) {
///     (void)userdata;
///     fprintf(stderr, "tcphub [%d] %s: %s\n", level, target, message);
/// }
///
/// // warnings and errors: a server out of descriptors says so
/// tcphub_set_log_callback(on_log, TCPHUB_LOG_WARN, NULL);
/// // ...
/// tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL);
/// ```
///
/// # Safety
/// `cb`, if not NULL, must be a function of this type; `userdata` must stay
/// usable until another call of this function returns.
#[no_mangle]
pub unsafe extern "C" fn tcphub_set_log_callback(
    cb: tcphub_log_cb,
    level: c_int,
    userdata: *mut c_void,
) -> c_int {
    boundary("tcphub_set_log_callback", || {
        let filter = match level {
            TCPHUB_LOG_OFF => LevelFilter::Off,
            TCPHUB_LOG_ERROR => LevelFilter::Error,
            TCPHUB_LOG_WARN => LevelFilter::Warn,
            TCPHUB_LOG_INFO => LevelFilter::Info,
            TCPHUB_LOG_DEBUG => LevelFilter::Debug,
            TCPHUB_LOG_TRACE => LevelFilter::Trace,
            other => {
                return Err(Fail::invalid(format!(
                    "level {other} is not a TCPHUB_LOG_* level (0 to 5)"
                )))
            }
        };
        if ON_LOG_THREAD.with(std::cell::Cell::get) {
            return Err(Fail::invalid(
                "called from inside the log callback: it would wait for its own call to end",
            ));
        }
        if !installed() {
            return Err(Fail::new(
                TCPHUB_ERR_ALREADY_RUNNING,
                "another logger is installed in this process (by another Rust library \
                 or the tcphub Python module): the engine's lines go there",
            ));
        }
        let _control = CONTROL.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        let f = cb.filter(|_| filter != LevelFilter::Off);
        let mut s = sink();
        // A forked child has the parent's record but not its thread.
        if s.thread.as_ref().is_some_and(|(p, _)| *p != pid) {
            std::mem::forget(s.thread.take());
        }
        s.generation += 1;
        let Some(f) = f else {
            s.f = None;
            log::set_max_level(LevelFilter::Off);
            if let Some((_, t)) = s.thread.take() {
                drop(s);
                // Lines queued before it are dropped (no callback).
                let _ = queue().tx.send(Msg::Stop);
                let _ = t.join();
            }
            return Ok(TCPHUB_OK);
        };
        if s.thread.is_none() {
            let rx = queue().rx.clone();
            let t = std::thread::Builder::new()
                .name("tcphub-log".into())
                .spawn(move || deliver(&rx))
                .map_err(|e| {
                    Fail::new(TCPHUB_ERR_IO, format!("cannot start the log thread: {e}"))
                })?;
            s.thread = Some((pid, t));
        }
        s.f = Some((f, UserPtr(userdata)));
        log::set_max_level(filter);
        // A call of the previous callback under way ends first.
        let now = s.generation;
        while s.calling.is_some_and(|g| g < now) {
            s = CALLED.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        Ok(TCPHUB_OK)
    })
}

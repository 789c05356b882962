//! Python bindings for tcphub: the native module `tcphub._tcphub`, re-exported
//! by the `tcphub` package (`python/tcphub/__init__.py`).
//!
//! This crate only translates: every decision about sockets, framing, queues
//! and threads is the core crate's. Built with maturin (`pip install .` at the
//! repository root); tested from Python in `tests/python/`.
//!
//! # Layout
//!
//! - `server.rs` — `TcpServer`: the core server in pull mode, start/stop
//!   and the GIL rules; under `server/`: `running.rs` (the parts of a
//!   started server, and `NotRunning` saying why), `starting.rs` (the
//!   callbacks and `start()`'s work), `stopping.rs` (stopping, waiting and
//!   dropping); `settings.rs` — its constructor's settings and the core
//!   builder made from them.
//! - `dispatch.rs` — the dispatcher thread that runs the Python callbacks
//!   (and skips a kicked client's queued messages); `hold.rs` — what it
//!   holds back of a paused client until its resume.
//! - `events.rs` — pull consumption: `EventIterator` and `poll`.
//! - `ready.rs` — `ReadyFd`, the readiness descriptor the asyncio methods
//!   wait on.
//! - `client.rs` — `TcpClient`; under `client/`: `connect.rs` (its
//!   arguments checked, and the connect on a helper thread), `closing.rs`
//!   (the clients left open, closed when dropped and at exit).
//! - `types.rs` — value classes: `Client`, `Event`, `ClientEvent`, `Stats`;
//!   `args.rs` — argument conversions (ports, bounded ints, bytes-like data,
//!   client references).
//! - `errors.rs` — the exception classes and the `tcphub::Error` mapping.
//! - `engine_log.rs` — the core's own log lines, passed to `logging`
//!   (loggers `tcphub.*`) by a "tcphub-log" thread.
//!
//! The pure-Python side (`python/tcphub/`) adds `aevents()` for asyncio, the
//! interpreter-exit cleanup, and `python -m tcphub serve`.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::errors::IntoPy;

mod args;
mod client;
mod dispatch;
mod engine_log;
mod errors;
mod events;
mod hold;
mod ready;
mod server;
mod settings;
mod types;

/// Longest a blocking wait stays detached before checking for signals, so
/// Ctrl-C interrupts it promptly.
pub(crate) const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// How long the next detached wait may last: until `deadline` (`None`: no
/// deadline), but at most [`SIGNAL_SLICE`]. Zero once the deadline passed.
pub(crate) fn next_slice(deadline: Option<Instant>) -> Duration {
    deadline.map_or(SIGNAL_SLICE, |d| {
        d.saturating_duration_since(Instant::now())
            .min(SIGNAL_SLICE)
    })
}

/// What one bounded wait produced (see [`wait_sliced`]).
pub(crate) enum Waited<T> {
    Got(T),
    TimedOut,
    Stopped,
}

/// Runs `attempt` — one wait of at most the slice it is given, `Ok(None)`
/// when nothing came in it — detached from the interpreter, in slices up
/// to `deadline` (`None`: no limit), checking for Ctrl-C between them.
/// `NotRunning` from it means the source has ended.
pub(crate) fn wait_sliced<T: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    attempt: impl Fn(Duration) -> tcphub::Result<Option<T>> + Sync,
) -> PyResult<Waited<T>> {
    loop {
        let slice = next_slice(deadline);
        match py.detach(|| attempt(slice)) {
            Ok(Some(v)) => return Ok(Waited::Got(v)),
            Ok(None) => {}
            Err(tcphub::Error::NotRunning) => return Ok(Waited::Stopped),
            Err(e) => return Err(e).py_err(py),
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Waited::TimedOut);
        }
    }
}

/// `take` (a wait of a client's pull queue, `Timeout` when nothing came)
/// in slices up to `timeout` seconds (`None`: no limit), so Ctrl-C is seen
/// between them: what it took, `None` once the client has ended
/// (`NotRunning`), or `Timeout` when nothing came in time.
pub(crate) fn wait_in_slices<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    take: impl Fn(Duration) -> tcphub::Result<T> + Sync,
) -> PyResult<Option<T>> {
    let deadline = timeout
        .map(|t| duration(py, t, "timeout"))
        .transpose()?
        .and_then(deadline_after);
    let waited = wait_sliced(py, deadline, |slice| match take(slice) {
        Err(tcphub::Error::Timeout) => Ok(None),
        r => r.map(Some),
    })?;
    match waited {
        Waited::Got(v) => Ok(Some(v)),
        Waited::Stopped => Ok(None),
        Waited::TimedOut => Err(tcphub::Error::Timeout).py_err(py),
    }
}

/// The deadline `d` from now; `None` (no deadline) when that is beyond what
/// `Instant` can hold, as a "forever" timeout like `sys.maxsize` seconds is.
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// Parses a framing name (`"raw"`, `"lines"`, `"length"`/`"len"`) with an
/// optional `max_len`.
pub(crate) fn framing_from_str(
    py: Python<'_>,
    name: &str,
    max_len: Option<usize>,
) -> PyResult<tcphub::Framing> {
    use tcphub::Framing;
    let f = match name {
        "raw" => Framing::Raw,
        "lines" => Framing::Lines {
            max_len: max_len.unwrap_or(tcphub::DEFAULT_MAX_LINE),
        },
        "length" | "len" => Framing::LengthPrefixed {
            max_len: max_len.unwrap_or(tcphub::DEFAULT_MAX_FRAME),
        },
        other => {
            return Err(errors::invalid_config(
                py,
                format!(
                    "framing must be \"raw\", \"lines\" or \"length\" (or \"len\"), not {other:?}"
                ),
            ))
        }
    };
    if max_len.is_some() && f == Framing::Raw {
        return Err(errors::invalid_config(
            py,
            "max_len applies to \"lines\" and \"length\" framing, not \"raw\"".into(),
        ));
    }
    Ok(f)
}

/// The Python name of a framing.
pub(crate) fn framing_name(f: tcphub::Framing) -> &'static str {
    match f {
        tcphub::Framing::Raw => "raw",
        tcphub::Framing::Lines { .. } => "lines",
        tcphub::Framing::LengthPrefixed { .. } => "length",
    }
}

/// Seconds (a float) to a `Duration`, refusing negative, NaN and huge values:
/// for an argument that takes zero (a timeout of 0 does not wait).
pub(crate) fn duration(py: Python<'_>, secs: f64, what: &str) -> PyResult<Duration> {
    seconds(py, secs, what, "non-negative")
}

/// [`duration`] for an argument whose zero is refused too (by the core's
/// checks or the caller's own, with a message of their own, so zero still
/// passes here): its message for a negative value asks for a positive
/// number, not a "non-negative" one, which zero is. A positive value that
/// rounds to zero (`1e-10`) is refused here, with a message that says so:
/// the zero's would call it "not more than zero".
pub(crate) fn positive_duration(py: Python<'_>, secs: f64, what: &str) -> PyResult<Duration> {
    let d = seconds(py, secs, what, "positive")?;
    if d.is_zero() && secs > 0.0 {
        return Err(errors::invalid_config(
            py,
            format!(
                "{what} of {} seconds is less than a nanosecond, the shortest it can be",
                shown(secs)
            ),
        ));
    }
    Ok(d)
}

/// [`duration`] and [`positive_duration`]: `sign` is what a negative or NaN
/// value's message asks for instead.
fn seconds(py: Python<'_>, secs: f64, what: &str, sign: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        let msg = if secs >= 0.0 {
            // Infinity or past `Duration`'s range: "not a non-negative
            // number" would be false. `Duration::MAX` as a float rounds up
            // to 2**64 s, itself refused: the bound is exclusive.
            format!(
                "{what} must be a finite number of seconds below {:e}, not {}",
                Duration::MAX.as_secs_f64(),
                shown(secs)
            )
        } else {
            format!(
                "{what} must be a {sign} number of seconds, not {}",
                shown(secs)
            )
        };
        errors::invalid_config(py, msg)
    })
}

/// A float as Python's `repr` shows it, near enough: in full between
/// 1e-4 and 1e16 (`-0.5`, `-1`), with an exponent outside (`{}` prints
/// -1e300 as 301 digits and -1e-300 as "-0." and 300 more).
fn shown(secs: f64) -> String {
    let size = secs.abs();
    if size.is_finite() && size != 0.0 && !(1e-4..1e16).contains(&size) {
        format!("{secs:e}")
    } else {
        format!("{secs}")
    }
}

// The constructors' signatures write these defaults as literals: pyo3
// shows a default that is a path (`tcphub::DEFAULT_BACKLOG`) as `...` in
// `help()` and `inspect.signature`, which read as the value to pass.
// The build fails if the core's constants change without them.
const _: () = assert!(tcphub::DEFAULT_MAX_QUEUE_BYTES == 4194304);
const _: () = assert!(tcphub::DEFAULT_EVENT_CAPACITY == 65536);
const _: () = assert!(tcphub::DEFAULT_BACKLOG == 4096);

/// The native module.
#[pymodule]
fn _tcphub(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    engine_log::install(); // the core's log lines go to `logging`
    m.add("DEFAULT_MAX_LINE", tcphub::DEFAULT_MAX_LINE)?;
    m.add("DEFAULT_MAX_FRAME", tcphub::DEFAULT_MAX_FRAME)?;
    m.add("DEFAULT_MAX_QUEUE_BYTES", tcphub::DEFAULT_MAX_QUEUE_BYTES)?;
    m.add("MAX_THREADS", tcphub::MAX_THREADS)?;
    m.add("MAX_BUSY_POLL", tcphub::MAX_BUSY_POLL.as_secs_f64())?;
    m.add("MAX_KEEPALIVE", tcphub::MAX_KEEPALIVE.as_secs_f64())?;
    m.add("DEFAULT_BUSY_POLL", tcphub::DEFAULT_BUSY_POLL.as_secs_f64())?;
    m.add("DEFAULT_LINGER", tcphub::DEFAULT_LINGER.as_secs_f64())?;
    m.add("DEFAULT_BACKLOG", tcphub::DEFAULT_BACKLOG)?;
    m.add("DEFAULT_EVENT_CAPACITY", tcphub::DEFAULT_EVENT_CAPACITY)?;
    m.add(
        "DEFAULT_CONNECT_TIMEOUT",
        tcphub::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
    )?;
    m.add("MAX_FULL_MESSAGE", tcphub::MAX_FULL_MESSAGE)?;
    m.add("EVENT_QUEUE_BYTES", tcphub::EVENT_QUEUE_BYTES)?;
    m.add_class::<server::PyTcpServer>()?;
    m.add_class::<client::PyTcpClient>()?;
    m.add_class::<types::PyClient>()?;
    m.add_class::<types::PyEvent>()?;
    m.add_class::<types::PyClientEvent>()?;
    m.add_class::<types::PyStats>()?;
    m.add_class::<events::EventIterator>()?;
    m.add_class::<ready::PyReadyFd>()?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(engine_log::set_engine_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(engine_log::engine_log_level, m)?)?;
    // Private (pickle's rebuilders): set, not added (`add` would list
    // them in `__all__`).
    m.setattr("_os_error", wrap_pyfunction!(errors::_os_error, m)?)?;
    m.setattr("_client", wrap_pyfunction!(types::_client, m)?)?;
    m.setattr("_event", wrap_pyfunction!(types::_event, m)?)?;
    m.setattr("_client_event", wrap_pyfunction!(types::_client_event, m)?)?;
    m.setattr("_stats", wrap_pyfunction!(types::_stats, m)?)?;
    Ok(())
}

//! Stopping without blocking for long: `tcphub_server_stop_timeout`,
//! `tcphub_server_begin_stop`, and `tcphub_server_wait` for a server that a
//! callback or another thread stops.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use crate::boundary::{boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// How often `tcphub_server_wait` looks whether the server still runs.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// `timeout_ms` as C callers give it: negative means no limit.
fn limit(timeout_ms: c_int) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

fn still_stopping() -> Fail {
    Fail::new(
        TCPHUB_ERR_TIMEOUT,
        "the server is still stopping (flushing, running its last callbacks)",
    )
}

/// Stops gracefully like `tcphub_server_stop`, but waits at most
/// `timeout_ms` milliseconds for the flush, the last callbacks and the
/// event-loop threads. If they have not finished by then the stop goes on:
/// a later `tcphub_server_stop`, `_stop_timeout`, `_wait` or `_free`
/// finishes waiting. For a caller that must stay responsive (checking for
/// a signal between short waits, a service manager's deadline). From inside
/// a callback it starts the stop and returns `TCPHUB_ERR_TIMEOUT` at once,
/// as `tcphub_server_stop` does not wait there.
///
/// Returns `TCPHUB_OK` once stopped (also for a server never started),
/// `TCPHUB_ERR_TIMEOUT` while the stop is still under way.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_stop_timeout(
    s: *mut tcphub_server,
    timeout_ms: u64,
) -> c_int {
    boundary("tcphub_server_stop_timeout", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        match srv.last_handle() {
            Some(h) if !h.stop_timeout(Duration::from_millis(timeout_ms)) => Err(still_stopping()),
            _ => Ok(TCPHUB_OK),
        }
    })
}

/// Starts a graceful stop and returns at once, without waiting for the
/// event-loop threads (a later `tcphub_server_stop`, `_wait` or `_free`
/// waits for them). For threads that must not block, such as a
/// signal-handling thread. Idempotent; a server never started is not an
/// error.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_begin_stop(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_begin_stop", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        if let Some(h) = srv.last_handle() {
            h.begin_stop();
        }
        Ok(TCPHUB_OK)
    })
}

/// Waits up to `timeout_ms` milliseconds (negative: without limit) until
/// the server has stopped — by `tcphub_server_stop` or `_begin_stop` from
/// a callback or another thread — and its event-loop threads have ended.
/// The way for a main thread to run a server that a callback (a "shutdown"
/// command) ends.
///
/// Returns `TCPHUB_OK` once stopped, `TCPHUB_ERR_TIMEOUT` when it still
/// runs (or is still stopping) at the deadline, `TCPHUB_ERR_NOT_RUNNING`
/// for a server never started.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_wait(s: *mut tcphub_server, timeout_ms: c_int) -> c_int {
    boundary("tcphub_server_wait", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let Some(h) = srv.last_handle() else {
            return Err(Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server was never started",
            ));
        };
        let deadline = limit(timeout_ms).and_then(|t| Instant::now().checked_add(t));
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        while h.is_running() {
            match left() {
                Some(l) if l.is_zero() => {
                    return Err(Fail::new(TCPHUB_ERR_TIMEOUT, "the server still runs"))
                }
                Some(l) => std::thread::sleep(l.min(WAIT_POLL)),
                None => std::thread::sleep(WAIT_POLL),
            }
        }
        // Stopped: now wait for the loops (the flush, the last callbacks).
        match left() {
            None => {
                h.stop();
                Ok(TCPHUB_OK)
            }
            Some(l) if h.stop_timeout(l) => Ok(TCPHUB_OK),
            Some(_) => Err(still_stopping()),
        }
    })
}

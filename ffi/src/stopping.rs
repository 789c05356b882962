//! Stopping without blocking for long: `tcphub_server_stop_timeout`,
//! `tcphub_server_begin_stop`, and `tcphub_server_wait` for a server that a
//! callback or another thread stops; `tcphub_server_stop_input`, the first
//! half of a two-phase shutdown.

use std::ffi::c_int;
use std::time::Duration;

use crate::boundary::{self, boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

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
/// a callback it starts the stop and returns at once, as
/// `tcphub_server_stop` does not wait there: `TCPHUB_ERR_TIMEOUT` unless
/// the server had already stopped (always from one of its own callbacks).
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
            Ok(Some(h)) if !h.stop_timeout(Duration::from_millis(timeout_ms)) => {
                Err(still_stopping())
            }
            _ => Ok(TCPHUB_OK),
        }
    })
}

/// Starts a graceful stop and returns at once, without waiting for the
/// event-loop threads (a later `tcphub_server_stop`, `_wait` or `_free`
/// waits for them). For threads that must not block, such as a thread
/// that `sigwait()`s for SIGINT — but not a signal handler: like every
/// tcphub function it is not async-signal-safe (see the threading rules at
/// the top). Idempotent; a server never started is not an error.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_begin_stop(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_begin_stop", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        if let Ok(Some(h)) = srv.last_handle() {
            h.begin_stop();
        }
        Ok(TCPHUB_OK)
    })
}

/// The first half of a two-phase shutdown: the server reads no more input
/// from any client — no `on_message` call and no message event from now on
/// — while everything else goes on: sends reach the clients, the events
/// already queued stay there to take, and the answers your worker threads
/// are still making get out. Then call `tcphub_server_stop`, which flushes
/// and closes as usual. What was read but not handed out yet (in pull mode
/// also the messages waiting for room in a full queue), and what clients
/// send afterwards, is dropped: the server goes on reading to drop it, so a
/// client that keeps writing is not held up, and one that leaves is closed
/// and reported as usual. Meanwhile the idle and frame timeouts wait, and
/// new clients are still accepted (the stop closes them). Idempotent, no
/// undo; callable from any thread and from inside a callback.
///
/// Returns `TCPHUB_OK` (also for a server already stopped),
/// `TCPHUB_ERR_NOT_RUNNING` for a server never started (there is no input
/// to stop yet).
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_stop_input(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_stop_input", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        crate::input::with_handle(srv, |h| h.stop_input())
    })
}

/// Waits up to `timeout_ms` milliseconds (negative: without limit) until
/// the server has stopped — by `tcphub_server_stop` or `_begin_stop` from
/// a callback or another thread — and its event-loop threads have ended.
/// The way for a main thread to run a server that a callback (a "shutdown"
/// command) ends. Inside a callback — of this server or of any other — it
/// never waits for event-loop threads (inside one of this server's, the
/// loops cannot end while it runs; two servers' loops waiting for each
/// other would deadlock): once the server has stopped it returns at once,
/// whatever `timeout_ms`: `TCPHUB_OK` if the server's loops had already
/// ended, else `TCPHUB_ERR_TIMEOUT`; while the server runs it waits like
/// anywhere else — holding up the calling loop's clients, and with a
/// negative `timeout_ms` until another thread stops the server.
///
/// Returns `TCPHUB_OK` once stopped (inside a callback: only once its loops
/// had ended, never inside one of its own callbacks),
/// `TCPHUB_ERR_TIMEOUT` when it still runs (or is still stopping) at the
/// deadline, `TCPHUB_ERR_NOT_RUNNING` for a server never started.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_wait(s: *mut tcphub_server, timeout_ms: c_int) -> c_int {
    boundary("tcphub_server_wait", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let Ok(h) = srv.last_handle() else {
            // A forked child, whose parent used the server at the fork: the
            // run is the parent's, stopped here.
            return Ok(TCPHUB_OK);
        };
        let Some(h) = h else {
            return Err(Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server was never started",
            ));
        };
        let limit = boundary::timeout(timeout_ms).unwrap_or(Duration::MAX);
        match h.wait_timeout(limit) {
            true => Ok(TCPHUB_OK),
            false if h.is_running() => Err(Fail::new(TCPHUB_ERR_TIMEOUT, "the server still runs")),
            false => Err(still_stopping()),
        }
    })
}

//! Readiness descriptors: `tcphub_server_ready_fd`, `tcphub_client_ready_fd`,
//! `tcphub_ready_fd_fileno`, `tcphub_ready_fd_arm`, `tcphub_ready_fd_free`
//! (the C view of the core's [`ReadyFd`](tcphub_core::ReadyFd)).

use std::ffi::c_int;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::boundary::{boundary, non_null, Fail};
use crate::client::{client, tcphub_client};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// A file descriptor that becomes readable when pull-mode events can be
/// taken: for waiting on a server's (`tcphub_server_ready_fd`) or a
/// client's (`tcphub_client_ready_fd`) events in your own event loop
/// (`poll`, `epoll`, libuv, GLib) instead of a thread blocked in
/// `tcphub_server_next_event`. Opaque; freed with `tcphub_ready_fd_free`.
#[derive(Debug)]
pub struct tcphub_ready_fd {
    fd: tcphub_core::ReadyFd,
    /// A server's: the server's count of runs started, and the number of
    /// the run the descriptor watches. Only the count, not the server: the
    /// descriptor may outlive the server, and a reference to the server
    /// taken here, even for a moment, could be its last one — its release
    /// (and the userdata destructor) would then run in
    /// `tcphub_ready_fd_arm` on this thread, after `tcphub_server_free`
    /// had returned.
    run: Option<(Arc<AtomicU64>, u64)>,
}

impl tcphub_ready_fd {
    /// Fails when the server has been restarted since the descriptor was
    /// made: it watches the ended run, whose queue answers "take" for good,
    /// while `tcphub_server_next_event` takes from the new one (a consumer
    /// loop would spin).
    fn check_run(&self) -> Result<(), Fail> {
        let Some((started, run)) = &self.run else {
            return Ok(());
        };
        // (A freed server's count stays: the run has ended, as the queue says.)
        let runs = started.load(Ordering::Acquire);
        if runs != *run {
            return Err(Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server was started again since this descriptor was made: \
                 it watches the ended run; make a new one with tcphub_server_ready_fd",
            ));
        }
        Ok(())
    }
}

/// Stores in `*ready_out` a new readiness descriptor for the pull-mode
/// events of `s`: call `tcphub_ready_fd_arm` before each wait on its
/// `tcphub_ready_fd_fileno` (0: an event can be taken now, do not wait);
/// it then becomes readable at the next event, or once the server has
/// stopped (`tcphub_server_next_event` then says so). Take the events
/// with `tcphub_server_next_event(s, &ev, 0)` until it returns
/// `TCPHUB_ERR_TIMEOUT`, then arm again. Any number may watch one server,
/// each armed by its own consumer. Free it with `tcphub_ready_fd_free`
/// (before or after the server).
///
/// Returns `TCPHUB_ERR_NOT_RUNNING` (never started; or the server has
/// callbacks: no event is ever queued), `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`
/// (no descriptors left). On failure `*ready_out` is set to NULL.
///
/// ```c
/// tcphub_ready_fd *r;
/// tcphub_server_ready_fd(s, &r);
/// struct pollfd p = { .fd = tcphub_ready_fd_fileno(r), .events = POLLIN };
/// for (;;) {
///     tcphub_event ev;
///     int rc;
///     while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
///         handle(&ev);
///         tcphub_event_release(&ev);
///     }
///     if (rc != TCPHUB_ERR_TIMEOUT) break; // stopped, every event taken
///     int armed = tcphub_ready_fd_arm(r);
///     if (armed < 0) break; // the server was started again: make a new one
///     if (armed == 1) poll(&p, 1, -1); // with your other fds
/// }
/// tcphub_ready_fd_free(r);
/// ```
///
/// Break on the end as above: once the server has stopped, arming answers
/// 0 for good, and a loop that never looks at the return code would spin.
/// A descriptor watches the run current when it was made: once the server
/// is started again, arming it returns `TCPHUB_ERR_NOT_RUNNING`.
///
/// # Safety
///
/// `s` is NULL or a live server; `ready_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_ready_fd(
    s: *mut tcphub_server,
    ready_out: *mut *mut tcphub_ready_fd,
) -> c_int {
    boundary("tcphub_server_ready_fd", || {
        // SAFETY: the caller's promise.
        let out = unsafe { cleared(ready_out)? };
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let (handle, run) = srv.pull_run()?;
        let fd = handle.events().ready_fd()?;
        *out = Box::into_raw(Box::new(tcphub_ready_fd {
            fd,
            run: Some((srv.started_runs(), run)),
        }));
        Ok(TCPHUB_OK)
    })
}

/// As `tcphub_server_ready_fd`, for the messages and events of client `c`
/// (taken with `tcphub_client_recv` / `tcphub_client_next_event` with
/// timeout 0): readable at the next one, or once the client has ended for
/// good.
///
/// Returns `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`. On failure `*ready_out` is
/// set to NULL.
///
/// # Safety
///
/// `c` is NULL or a live client; `ready_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_ready_fd(
    c: *mut tcphub_client,
    ready_out: *mut *mut tcphub_ready_fd,
) -> c_int {
    boundary("tcphub_client_ready_fd", || {
        // SAFETY: the caller's promise.
        let out = unsafe { cleared(ready_out)? };
        // SAFETY: the caller's promise.
        let fd = unsafe { client(c)? }.ready_fd()?;
        *out = Box::into_raw(Box::new(tcphub_ready_fd { fd, run: None }));
        Ok(TCPHUB_OK)
    })
}

/// `*out`, set to NULL first, as a place to store the new descriptor.
///
/// # Safety
///
/// `out` is NULL or writable.
unsafe fn cleared<'a>(
    out: *mut *mut tcphub_ready_fd,
) -> Result<&'a mut *mut tcphub_ready_fd, Fail> {
    if out.is_null() {
        return Err(Fail::new(TCPHUB_ERR_NULL, "ready_out is NULL"));
    }
    // SAFETY: non-NULL and writable by the caller's promise.
    unsafe {
        out.write(std::ptr::null_mut());
        Ok(&mut *out)
    }
}

/// The file descriptor to wait on for reading (`POLLIN`); -1 for NULL.
/// Owned by `r`: do not read or close it.
///
/// # Safety
///
/// `r` is NULL or a live readiness descriptor.
#[no_mangle]
pub unsafe extern "C" fn tcphub_ready_fd_fileno(r: *const tcphub_ready_fd) -> c_int {
    boundary("tcphub_ready_fd_fileno", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { non_null(r, "ready")? }.fd.as_raw_fd())
    })
    .max(-1)
}

/// Readies `r` for a wait: 1 when nothing can be taken now, and its
/// descriptor becomes readable at the next event (or the end); 0 when
/// something can be taken now (or the server stopped, the client ended),
/// and it is not armed: take, do not wait. Either way what made the
/// descriptor readable before is read, so it is readable again only for
/// what comes after this call. Takes nothing. A wakeup may be spurious
/// (another thread took the event first): take until the take times out,
/// then arm again. For a server it counts as asking for more events, as a
/// wait does (it ends the default hold of clients whose
/// `TCPHUB_EVENT_DISCONNECTED` was taken).
///
/// Returns 1, 0, `TCPHUB_ERR_NULL`, or `TCPHUB_ERR_NOT_RUNNING` for a
/// server's descriptor made before the server was started again: it
/// watches the ended run (make a new one for the new run).
///
/// # Safety
///
/// `r` is NULL or a live readiness descriptor.
#[no_mangle]
pub unsafe extern "C" fn tcphub_ready_fd_arm(r: *mut tcphub_ready_fd) -> c_int {
    boundary("tcphub_ready_fd_arm", || {
        // SAFETY: the caller's promise.
        let r = unsafe { non_null(r, "ready")? };
        r.check_run()?;
        Ok(c_int::from(r.fd.arm()))
    })
}

/// Closes the descriptor and frees `r`. NULL is ignored.
///
/// # Safety
///
/// `r` is NULL or a live readiness descriptor, not used again.
#[no_mangle]
pub unsafe extern "C" fn tcphub_ready_fd_free(r: *mut tcphub_ready_fd) {
    boundary("tcphub_ready_fd_free", || {
        if !r.is_null() {
            // SAFETY: made by Box::into_raw above, freed once (the caller's promise).
            drop(unsafe { Box::from_raw(r) });
        }
        Ok(())
    })
}

//! Backpressure: `tcphub_server_pause_input`, `tcphub_server_resume_input`
//! and `tcphub_server_input_paused`; for one client,
//! `tcphub_server_pause_client` and `tcphub_server_resume_client`.

use std::ffi::c_int;

use crate::boundary::{boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// Pauses reading from every client until `tcphub_server_resume_input`:
/// backpressure for an application whose work queue is full (a worker pool
/// fed by `on_message`, say). The server leaves what clients send in the
/// kernel, so TCP slows the senders down; nothing is lost or dropped.
/// Sends, broadcasts and accepting go on, and queued events stay to take.
///
/// From a callback of this server it takes effect at once: no `on_message`
/// on that event loop after it (the rest of what was read waits). From
/// another thread it takes effect at each loop's next read (the rest of a
/// read in hand, at most 64 KiB, is still handed out); events already
/// queued stay to take. While paused the idle and
/// frame timeouts wait, and a client that leaves or resets is noticed only
/// once input resumes. Not counted: one resume ends any number of pauses.
/// After `tcphub_server_stop_input` input is read to be dropped, paused or
/// not. Any thread, also inside a callback.
///
/// Returns `TCPHUB_OK` (also for a server already stopped),
/// `TCPHUB_ERR_NOT_RUNNING` for a server never started.
///
/// Decide the pause and the resume under your queue's lock: checked and
/// acted on apart, a pause can land after the workers' last look at an
/// emptied queue, and nobody resumes.
///
/// ```c
/// // on_message, under the queue's lock: queue the job; at the bound, pause
/// if (++q->len >= QUEUE_MAX) tcphub_server_pause_input(q->server);
/// // a worker, under the same lock, after taking a job
/// if (--q->len <= QUEUE_MAX / 2 && tcphub_server_input_paused(q->server))
///     tcphub_server_resume_input(q->server);
/// ```
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_pause_input(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_pause_input", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        with_handle(srv, |h| h.pause_input())
    })
}

/// Ends `tcphub_server_pause_input`: the server reads what its clients
/// sent meanwhile. Harmless when not paused and on a stopped server.
///
/// Returns `TCPHUB_OK`, `TCPHUB_ERR_NOT_RUNNING` for a server never
/// started.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_resume_input(s: *mut tcphub_server) -> c_int {
    boundary("tcphub_server_resume_input", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        with_handle(srv, |h| h.resume_input())
    })
}

/// Whether input is paused (`tcphub_server_pause_input` without a
/// `tcphub_server_resume_input` since). False for NULL and for a server
/// never started.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_input_paused(s: *const tcphub_server) -> bool {
    boundary("tcphub_server_input_paused", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        Ok(matches!(srv.last_handle(), Ok(Some(h)) if h.input_paused()))
    })
}

/// Backpressure for one client: its event loop reads nothing more from
/// client `client_id` until `tcphub_server_resume_client`, so what it sends
/// waits in the kernel and TCP slows it down, while the other clients are
/// served. Sends to it go on as usual. From a callback on that client's
/// own message it takes effect at once (the rest of the read in hand waits
/// for the resume); from another thread, what the client sends after the
/// call returned waits for the resume (what its loop had read of it by
/// then may still be handed out). While paused its idle and frame timeouts wait (the clocks
/// start again at the resume), and its end is noticed only at the resume,
/// unless it is gone (it reset, keepalive found it gone, or a write to it
/// failed): then what it sent is read and handed out, and it is closed.
/// Not counted: one resume ends any number of pauses. Independent of
/// `tcphub_server_pause_input`: a client is read when neither holds it.
/// Like a send, called from an application thread it (and
/// `tcphub_server_resume_client`) waits while the client's event loop is
/// more than 64 MiB behind (each pause or resume counts its command's
/// size); called from inside a callback it never waits.
///
/// ```c
/// // on_message: a client with too many jobs in flight waits
/// if (++jobs_of(id) >= PER_CLIENT_MAX) tcphub_server_pause_client(srv, id);
/// // a worker, once a job of that client is done
/// if (--jobs_of(id) == PER_CLIENT_MAX / 2) tcphub_server_resume_client(srv, id);
/// ```
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_pause_client(
    s: *mut tcphub_server,
    client_id: u64,
) -> c_int {
    boundary("tcphub_server_pause_client", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        srv.with_handle(|h| Ok(h.pause_client(client_id)?))?;
        Ok(TCPHUB_OK)
    })
}

/// Ends `tcphub_server_pause_client`: the client's loop reads it again,
/// what it sent meanwhile first. `TCPHUB_OK` for a client that is not
/// paused.
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_resume_client(
    s: *mut tcphub_server,
    client_id: u64,
) -> c_int {
    boundary("tcphub_server_resume_client", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        srv.with_handle(|h| Ok(h.resume_client(client_id)?))?;
        Ok(TCPHUB_OK)
    })
}

/// Runs `f` on the handle of the server's last start: `TCPHUB_OK`, or
/// `TCPHUB_ERR_NOT_RUNNING` for a server never started. In a forked child
/// (the run is the parent's) there is nothing to do.
pub(crate) fn with_handle(
    srv: &tcphub_server,
    f: impl FnOnce(&tcphub_core::ServerHandle),
) -> Result<c_int, Fail> {
    match srv.last_handle() {
        Ok(Some(h)) => f(&h),
        Err(_) => {}
        Ok(None) => {
            return Err(Fail::new(
                TCPHUB_ERR_NOT_RUNNING,
                "the server was never started",
            ))
        }
    }
    Ok(TCPHUB_OK)
}

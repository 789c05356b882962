//! The C callbacks of a `tcphub_server`: their types, their registration
//! (`tcphub_server_on_*`, `tcphub_server_set_userdata_free`), how they are
//! handed to the core's builder, and the mark telling the API which
//! server's callback runs on this thread (`in_callback`): sends from a
//! callback use the handle the engine passed in, without a lock.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

use tcphub_core::{Client, ServerHandle, TcpServer};

use crate::boundary::{boundary, callback, UserPtr};
use crate::codes::*;
use crate::server::{server, setter, tcphub_server, State};

/// Called when a client connects: its id, and its remote IP address (text,
/// e.g. "127.0.0.1" or "::1") and port. `ip` is valid only during the call.
/// Ids are unique in the process and never reused — across servers and
/// across a server's restarts — and grow in accept order: a send to the id
/// of a client that is gone, or of another server's client, or of a
/// previous run's, never reaches anyone (`TCPHUB_ERR_NO_SUCH_CLIENT`).
pub type tcphub_connect_cb = Option<
    unsafe extern "C" fn(userdata: *mut c_void, client_id: u64, ip: *const c_char, port: u16),
>;

/// Called for each message (one frame), in order per client. `data` is
/// valid only during the call; copy what you keep. `data` is never NULL.
pub type tcphub_message_cb = Option<
    unsafe extern "C" fn(userdata: *mut c_void, client_id: u64, data: *const u8, len: usize),
>;

/// Called once when a client's connection ends, with a `TCPHUB_REASON_*` value.
/// Who it was: `tcphub_server_client_info(s, client_id, &info)` from inside
/// the callback.
pub type tcphub_disconnect_cb =
    Option<unsafe extern "C" fn(userdata: *mut c_void, client_id: u64, reason: c_int)>;

/// Releases a userdata pointer given to `tcphub_server_on_*`.
pub type tcphub_userdata_free_cb = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

pub(crate) type ConnectFn = unsafe extern "C" fn(*mut c_void, u64, *const c_char, u16);
pub(crate) type MessageFn = unsafe extern "C" fn(*mut c_void, u64, *const u8, usize);
pub(crate) type DisconnectFn = unsafe extern "C" fn(*mut c_void, u64, c_int);
pub(crate) type FreeFn = unsafe extern "C" fn(*mut c_void);

/// The callbacks of `st`, each wrapped to run marked ([`in_callback`]) and
/// guarded ([`callback`]), added to the core builder `b`. Each closure holds
/// `keep`, so the C object lives as long as any event loop that may call it.
pub(crate) fn wire(st: &State, mut b: TcpServer, keep: &Arc<tcphub_server>) -> TcpServer {
    if let Some((f, ud)) = st.on_connect {
        let keep = keep.clone();
        b = b.on_connect(move |srv, client| {
            in_callback(&keep, srv, None, || {
                callback("on_connect", || {
                    let ip = CString::new(client.addr.ip().to_string())
                        .expect("an IP address has no NUL byte");
                    // SAFETY: the application registered `f` for exactly
                    // these arguments; `ip` outlives the call.
                    unsafe { f(ud.get(), client.id, ip.as_ptr(), client.addr.port()) }
                })
            });
        });
    }
    if let Some((f, ud)) = st.on_message {
        let keep = keep.clone();
        b = b.on_message(move |srv, client, msg| {
            in_callback(&keep, srv, None, || {
                // SAFETY: as above; `msg` outlives the call.
                callback("on_message", || unsafe {
                    f(ud.get(), client.id, msg.as_ptr(), msg.len())
                })
            });
        });
    }
    if let Some((f, ud)) = st.on_disconnect {
        let keep = keep.clone();
        b = b.on_disconnect(move |srv, client, why| {
            crate::boundary::note_disconnect(why);
            in_callback(&keep, srv, Some(client), || {
                // SAFETY: as above.
                callback("on_disconnect", || unsafe {
                    f(ud.get(), client.id, why.code())
                })
            });
        });
    }
    b
}

/// What [`IN_CALLBACK`] holds: the server whose callback runs, the core
/// handle the engine passed to it, and the client leaving (in
/// `on_disconnect`; null in the other callbacks).
pub(crate) type Mark = (*const tcphub_server, *const ServerHandle, *const Client);

thread_local! {
    /// The server whose callback runs on this thread right now, and the core
    /// handle the engine passed to that callback (null when none runs).
    static IN_CALLBACK: Cell<Mark> =
        const { Cell::new((std::ptr::null(), std::ptr::null(), std::ptr::null())) };
}

/// Runs `f`, a callback of server `s` that the engine passed `handle` (and,
/// in `on_disconnect`, the client `leaving`), marked as running on this
/// thread; the outer mark (a callback of another server it is nested in) is
/// restored after, on unwind too. One access to the thread-local for both
/// (each is a `__tls_get_addr` call in a shared library).
fn in_callback(
    s: &Arc<tcphub_server>,
    handle: &ServerHandle,
    leaving: Option<&Client>,
    f: impl FnOnce(),
) {
    struct Restore<'a>(&'a Cell<Mark>, Mark);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    let now = (
        Arc::as_ptr(s),
        handle as *const ServerHandle,
        leaving.map_or(std::ptr::null(), |c| c as *const Client),
    );
    IN_CALLBACK.with(|mark| {
        let _restore = Restore(mark, mark.replace(now));
        f();
    });
}

/// The mark of the callback running on this thread (all null when none).
pub(crate) fn current() -> Mark {
    IN_CALLBACK.with(Cell::get)
}

/// Sets the callback for new clients (NULL `cb` removes it). With no
/// callback set at all the server runs in pull mode (`tcphub_server_next_event`).
/// With any callback set it runs in callback mode: an event whose callback
/// is not set is dropped, and `tcphub_server_next_event` returns
/// `TCPHUB_ERR_NOT_RUNNING` — so with `on_connect` or `on_disconnect`
/// alone, e.g. for logging, the clients' messages go nowhere.
/// Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `cb` and `userdata` may be called from the
/// event-loop threads until the last callback (see the threading rules above).
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_on_connect(
    s: *mut tcphub_server,
    cb: tcphub_connect_cb,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_on_connect", s, |st| {
            st.remember(UserPtr(userdata));
            st.on_connect = cb.map(|f| (f, UserPtr(userdata)));
            Ok(())
        })
    }
}

/// Sets the callback for messages (NULL `cb` removes it). See
/// `tcphub_server_on_connect`.
///
/// Returns as `tcphub_server_on_connect`: `TCPHUB_ERR_ALREADY_RUNNING`
/// while the server runs, `TCPHUB_ERR_NULL` for a NULL `s`.
///
/// A server echoing lines:
/// ```c
/// static void echo(void *userdata, uint64_t id, const uint8_t *data, size_t len) {
///     tcphub_server_send(userdata, id, data, len); // userdata: the server
/// }
///
/// tcphub_server *s = tcphub_server_new(port, 100);
/// tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0);
/// tcphub_server_on_message(s, echo, s);
/// if (tcphub_server_start(s) != TCPHUB_OK) {
///     fprintf(stderr, "%s\n", tcphub_last_error());
///     tcphub_server_free(s);
///     return 1;
/// }
/// ```
///
/// # Safety
///
/// As for `tcphub_server_on_connect`.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_on_message(
    s: *mut tcphub_server,
    cb: tcphub_message_cb,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_on_message", s, |st| {
            st.remember(UserPtr(userdata));
            st.on_message = cb.map(|f| (f, UserPtr(userdata)));
            Ok(())
        })
    }
}

/// Sets the callback for departures (NULL `cb` removes it). See
/// `tcphub_server_on_connect`. Every client that was reported connected is
/// reported disconnected exactly once, including when the server stops
/// (`TCPHUB_REASON_SERVER_STOPPED`). It is the client's last callback (a
/// client's callbacks run in order on one thread: no `on_message` for it
/// runs during or after it), so it is the place to free what you keep
/// for `client_id` (ids are not reused within a run of the server).
///
/// Returns as `tcphub_server_on_connect`: `TCPHUB_ERR_ALREADY_RUNNING`
/// while the server runs, `TCPHUB_ERR_NULL` for a NULL `s`.
///
/// # Safety
///
/// As for `tcphub_server_on_connect`.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_on_disconnect(
    s: *mut tcphub_server,
    cb: tcphub_disconnect_cb,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        setter("tcphub_server_on_disconnect", s, |st| {
            st.remember(UserPtr(userdata));
            st.on_disconnect = cb.map(|f| (f, UserPtr(userdata)));
            Ok(())
        })
    }
}

/// Sets a destructor for userdata: it is called once for each distinct
/// non-NULL userdata ever registered by a `tcphub_server_on_*` call that
/// returned `TCPHUB_OK` (with a NULL callback too; the userdata of a call
/// that failed stays the caller's), after the last callback has returned — when the server object is released (by
/// `tcphub_server_free`, or by the last event-loop thread if the server was
/// freed from inside a callback). NULL removes it. Unlike the other
/// setters it may also be called while the server runs: the destructor is
/// used only when the object is released.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_userdata_free(
    s: *mut tcphub_server,
    free_fn: tcphub_userdata_free_cb,
) -> c_int {
    boundary("tcphub_server_set_userdata_free", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        srv.lock()?.userdata_free = free_fn;
        Ok(TCPHUB_OK)
    })
}

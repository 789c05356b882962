//! Sending and disconnecting: `tcphub_server_send_all`, `_send_all_except`,
//! `_send_many`, `_send_to`, `_send`, `_disconnect`. Each frames through the core's
//! handle (from inside a callback, the one the engine passed to it).

use std::ffi::{c_char, c_int};

use crate::boundary::{self, boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// Queues `len` bytes at `data` (framed once) for every connected client.
/// If `queued_out` is not NULL it receives the number of clients connected
/// at the call, each of which gets the message unless it leaves first or
/// its queue overflows (0 when the call fails). `data` may be NULL when
/// `len` is 0. A client held open for replies after its leaving was
/// reported (pull mode, see `tcphub_server_next_event`, or
/// `tcphub_server_set_hold_for_replies`) gets it too but is not
/// counted — a notice about its own leaving included: leave it out with
/// `tcphub_server_send_all_except`.
///
/// Does not wait for the network. Called from an application thread it
/// waits only while the event loop is more than 64 MiB of messages behind
/// (backpressure, e.g. while a slow callback holds that loop up); called
/// from inside a callback it never waits.
///
/// Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
/// `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
/// `TCPHUB_FRAMING_LINES`): on an error no client gets the message.
///
/// # Safety
///
/// `s` is NULL or a live server; `data` is NULL or `len` readable bytes;
/// `queued_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_send_all(
    s: *mut tcphub_server,
    data: *const u8,
    len: usize,
    queued_out: *mut usize,
) -> c_int {
    boundary("tcphub_server_send_all", || {
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise. Zeroed
            // before any check: a failed call queued the message for nobody.
            unsafe { queued_out.write(0) };
        }
        // SAFETY: the caller's promise.
        let (srv, msg) = unsafe { (server(s)?, boundary::bytes(data, len)?) };
        let n = srv.with_handle(|h| Ok(h.try_send_all(msg)?))?;
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { queued_out.write(n) };
        }
        Ok(TCPHUB_OK)
    })
}

/// Queues `len` bytes at `data` (framed once) for every connected client
/// except client `except_id` — typically everyone but the sender of the
/// message being relayed. An `except_id` that is not connected excludes
/// nobody. If `queued_out` is not NULL it receives the number of those
/// clients connected at the call, each of which gets the message unless it
/// leaves first or its queue overflows (0 when the call fails). Otherwise
/// exactly as `tcphub_server_send_all` (waiting included).
///
/// Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
/// `TCPHUB_ERR_INVALID_MESSAGE`, as `tcphub_server_send_all`.
///
/// # Safety
///
/// `s` is NULL or a live server; `data` is NULL or `len` readable bytes;
/// `queued_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_send_all_except(
    s: *mut tcphub_server,
    except_id: u64,
    data: *const u8,
    len: usize,
    queued_out: *mut usize,
) -> c_int {
    boundary("tcphub_server_send_all_except", || {
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise; zeroed
            // first, as in `tcphub_server_send_all`.
            unsafe { queued_out.write(0) };
        }
        // SAFETY: the caller's promise.
        let (srv, msg) = unsafe { (server(s)?, boundary::bytes(data, len)?) };
        let n = srv.with_handle(|h| Ok(h.try_send_all_except(except_id, msg)?))?;
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { queued_out.write(n) };
        }
        Ok(TCPHUB_OK)
    })
}

/// Queues `len` bytes at `data`, framed once into one buffer they share,
/// for each client among the `n_ids` ids at `ids` that is connected — a
/// topic's subscribers, a room's members. An id that is not connected is
/// skipped (no error, unlike `tcphub_server_send`), and one listed twice
/// gets the message once. If `queued_out` is not NULL it receives how many
/// distinct listed clients were connected at the call (0 when the call
/// fails); each gets the message unless it leaves first or its queue
/// overflows. A client held open for replies after its leaving was
/// reported (pull mode, or `tcphub_server_set_hold_for_replies`) is
/// reached and counted, as by `tcphub_server_send`. Each client gets the message in the order of everything sent to it.
/// `ids` may be NULL when `n_ids` is 0, `data` when `len` is 0. Waits only
/// as `tcphub_server_send_all` does (an application thread, a loop more
/// than 64 MiB behind).
///
/// Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
/// `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
/// `TCPHUB_FRAMING_LINES`): on these no client gets the message, but
/// for a stop begun by another thread during the call: that gives
/// `TCPHUB_ERR_NOT_RUNNING` too, though the clients of the event loops
/// the call reached first may still get it (a stop writes what was
/// queued); `TCPHUB_ERR_NULL` when `ids` is NULL with `n_ids` above 0,
/// `TCPHUB_ERR_INVALID_ARG` when `ids` is not aligned for `uint64_t`.
///
/// # Safety
///
/// `s` is NULL or a live server; `ids` is NULL or `n_ids` readable ids;
/// `data` is NULL or `len` readable bytes; `queued_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_send_many(
    s: *mut tcphub_server,
    ids: *const u64,
    n_ids: usize,
    data: *const u8,
    len: usize,
    queued_out: *mut usize,
) -> c_int {
    boundary("tcphub_server_send_many", || {
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise; zeroed
            // first, as in `tcphub_server_send_all`.
            unsafe { queued_out.write(0) };
        }
        // SAFETY: the caller's promise.
        let (srv, ids, msg) = unsafe {
            (
                server(s)?,
                boundary::client_ids(ids, n_ids)?,
                boundary::bytes(data, len)?,
            )
        };
        let n = srv.with_handle(|h| Ok(h.try_send_many(ids, msg)?))?;
        if !queued_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { queued_out.write(n) };
        }
        Ok(TCPHUB_OK)
    })
}

/// Queues a message for the client whose remote address is `ip`:`port`
/// (as reported to `on_connect`). An IPv6 `ip` may also be written in brackets
/// (`"[::1]"`) or with an IPv6 zone ("fe80::1%eth0", ignored), and an IPv4
/// client may be named by its IPv4-mapped address ("::ffff:127.0.0.1").
/// A client is found from its `on_connect` (or `TCPHUB_EVENT_CONNECTED`)
/// on, not from the moment its `connect()` returns: the kernel completes
/// the handshake before the server accepts it. Should two connected
/// clients share the address (a server on 0.0.0.0 reached at two of its
/// addresses from one host's same port, or the same IPv6 link-local
/// address on two interfaces, the zone being ignored), it goes to the one
/// that connected last; `tcphub_server_send` with its id reaches either.
/// Waits only as `tcphub_server_send_all`
/// does (an application thread, a loop more than 64 MiB behind).
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT` when no client is connected from
/// there, `TCPHUB_ERR_INVALID_ARG` when `ip` is not an IP address (a host
/// name included: it is not resolved, since clients are found by the
/// address they connected from), `TCPHUB_ERR_NOT_RUNNING`,
/// `TCPHUB_ERR_FRAME_TOO_LARGE`, `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in
/// the message under `TCPHUB_FRAMING_LINES`).
///
/// # Safety
///
/// `s` is NULL or a live server; `ip` is NULL or a NUL-terminated string;
/// `data` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_send_to(
    s: *mut tcphub_server,
    ip: *const c_char,
    port: u16,
    data: *const u8,
    len: usize,
) -> c_int {
    boundary("tcphub_server_send_to", || {
        // SAFETY: the caller's promise.
        let (srv, text, msg) = unsafe {
            (
                server(s)?,
                boundary::c_str(ip, "ip")?,
                boundary::bytes(data, len)?,
            )
        };
        let ip = tcphub_core::parse_client_ip(text).map_err(Fail::invalid)?;
        srv.with_handle(|h| Ok(h.send_to(ip, port, msg)?))?;
        Ok(TCPHUB_OK)
    })
}

/// Queues a message for client `client_id`. Messages to one client are
/// written in the order queued. Waits only as `tcphub_server_send_all`
/// does (an application thread, a loop more than 64 MiB behind).
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`,
/// `TCPHUB_ERR_FRAME_TOO_LARGE`, `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in
/// the message under `TCPHUB_FRAMING_LINES`).
///
/// # Safety
///
/// `s` is NULL or a live server; `data` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_send(
    s: *mut tcphub_server,
    client_id: u64,
    data: *const u8,
    len: usize,
) -> c_int {
    boundary("tcphub_server_send", || {
        // SAFETY: the caller's promise.
        let (srv, msg) = unsafe { (server(s)?, boundary::bytes(data, len)?) };
        srv.with_handle(|h| Ok(h.send(client_id, msg)?))?;
        Ok(TCPHUB_OK)
    })
}

/// Disconnects client `client_id`; its disconnect is reported with
/// `TCPHUB_REASON_KICKED`. What was queued for it before this call is
/// still written (for up to the linger time, 2 s unless set with
/// `tcphub_server_set_linger`); what is queued after it is not, even
/// though `tcphub_server_send` may still return `TCPHUB_OK` (and a second
/// `tcphub_server_disconnect` for it `TCPHUB_OK`) until the disconnect has
/// taken effect. Nothing the client sends after this call returned is
/// handed out (what its loop had read of it by then may still be; from a
/// callback of its own loop, the rest of the read in hand is dropped).
/// Like a send, called from an application thread it waits while the
/// client's event loop is more than 64 MiB behind (a kick counts its
/// command's size); called from inside a callback it never waits.
///
/// Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_disconnect(s: *mut tcphub_server, client_id: u64) -> c_int {
    boundary("tcphub_server_disconnect", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        srv.with_handle(|h| Ok(h.disconnect(client_id)?))?;
        Ok(TCPHUB_OK)
    })
}

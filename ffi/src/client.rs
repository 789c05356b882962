//! `tcphub_client`: the core's [`TcpClient`] in pull mode.

use std::ffi::{c_char, c_int};
use std::net::SocketAddr;
use std::time::Duration;

use tcphub_core::TcpClient;

use crate::boundary::{self, boundary, non_null, Fail};
use crate::codes::*;
use crate::events::ip_text;

/// A connection to a server (tcphub or any other speaking the same framing).
/// Create with `tcphub_client_connect`, release with `tcphub_client_free`.
/// Sends never block: they go through a bounded queue written by the
/// client's own I/O thread.
#[derive(Debug)]
pub struct tcphub_client {
    client: TcpClient,
}

/// A message received by `tcphub_client_recv`. Owned by the caller until
/// `tcphub_message_release`. A zeroed struct is a valid empty message.
#[repr(C)]
#[derive(Debug)]
pub struct tcphub_message {
    /// The bytes; NULL when `len` is 0.
    pub data: *mut u8,
    /// Length of `data` in bytes.
    pub len: usize,
}

impl tcphub_client {
    /// `client` as a pointer for C, released by `tcphub_client_free`.
    pub(crate) fn boxed(client: TcpClient) -> *mut tcphub_client {
        Box::into_raw(Box::new(tcphub_client { client }))
    }
}

/// # Safety
///
/// `c` is NULL or a live client.
pub(crate) unsafe fn client<'a>(c: *const tcphub_client) -> Result<&'a TcpClient, Fail> {
    // SAFETY: forwarded caller promise.
    Ok(&unsafe { non_null(c, "client")? }.client)
}

/// `err` from a send (or `shutdown_write`) of `client` as a `Fail`, a
/// `NotRunning` saying why (closed, half-closed, the connection lost),
/// where the core's cannot tell which cause it is.
fn refused(client: &TcpClient, err: tcphub_core::Error) -> Fail {
    match (&err, client.send_refusal()) {
        (tcphub_core::Error::NotRunning, Some(why)) => Fail::new(TCPHUB_ERR_NOT_RUNNING, why),
        _ => err.into(),
    }
}

/// `err` from a receive (`tcphub_client_recv`, `tcphub_client_next_event`)
/// of `client` as a `Fail`: a `NotRunning` (nothing more to receive) says
/// why, as a refused send does, where the core's says only that it is not
/// running.
pub(crate) fn ended(client: &TcpClient, err: tcphub_core::Error) -> Fail {
    match err {
        tcphub_core::Error::NotRunning if !client.is_open() => Fail::new(
            TCPHUB_ERR_NOT_RUNNING,
            format!(
                "{}: nothing more to receive",
                client
                    .send_refusal()
                    .unwrap_or_else(|| "the client is closed".into())
            ),
        ),
        _ => err.into(),
    }
}

/// Connects to `host`:`port` (an IP address — IPv6 also in brackets,
/// `"[::1]"`, as tcphub prints addresses — or a name such as "localhost";
/// blocks for the name lookup, which has no time limit of its own, then up
/// to 10 s per resolved address) using the given framing
/// (`max_len` 0: the framing's default; RAW takes only 0) and stores the new client in
/// `*client_out`. Messages from the server are taken with `tcphub_client_recv`.
/// The other settings are the defaults of `tcphub_client_options_init`;
/// `tcphub_client_connect_with` takes them all (reconnect included).
///
/// Returns `TCPHUB_ERR_CONNECT` (refused, timed out, unresolvable;
/// `tcphub_last_error()` names every address tried, each with its error),
/// `TCPHUB_ERR_INVALID_ARG` (an empty `host`, a `host` with a port in it
/// such as "127.0.0.1:8001" (give the port as `port`), numbers and dots
/// that are no IPv4 address such as "127.0.0.010" (the system's resolver
/// would read 127.0.0.8: a leading zero is octal), `port` 0, an
/// unknown framing, a `max_len` other than 0 with RAW), `TCPHUB_ERR_NULL` (`host` or `client_out` NULL),
/// `TCPHUB_ERR_IO`. On failure `*client_out` is set to NULL.
///
/// # Safety
///
/// `host` is NULL or a NUL-terminated string; `client_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_connect(
    host: *const c_char,
    port: u16,
    framing: tcphub_framing,
    max_len: usize,
    client_out: *mut *mut tcphub_client,
) -> c_int {
    boundary("tcphub_client_connect", || {
        if client_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "client_out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { client_out.write(std::ptr::null_mut()) };
        // SAFETY: the caller's promise.
        let host = unsafe { boundary::host(host)? };
        let framing = boundary::framing(framing, max_len)?;
        let client = TcpClient::builder((host, port))
            .framing(framing)
            .connect()?;
        // SAFETY: as above.
        unsafe { client_out.write(tcphub_client::boxed(client)) };
        Ok(TCPHUB_OK)
    })
}

/// Frames and queues `len` bytes at `data` for the server. Never blocks
/// (`tcphub_client_send_timeout` waits for room; `tcphub_client_flush`
/// for what is queued to be written). `data` may be NULL when `len` is 0.
///
/// Returns `TCPHUB_ERR_QUEUE_FULL` (past `max_queue_bytes`, see
/// `tcphub_client_options`), `TCPHUB_ERR_FRAME_TOO_LARGE`,
/// `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
/// `TCPHUB_FRAMING_LINES`; nothing is queued),
/// `TCPHUB_ERR_NOT_RUNNING` (closed, or the server went away).
///
/// # Safety
///
/// `c` is NULL or a live client; `data` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_send(
    c: *mut tcphub_client,
    data: *const u8,
    len: usize,
) -> c_int {
    boundary("tcphub_client_send", || {
        // SAFETY: the caller's promise.
        let (client, msg) = unsafe { (client(c)?, boundary::bytes(data, len)?) };
        client.send(msg).map_err(|e| refused(client, e))?;
        Ok(TCPHUB_OK)
    })
}

/// Frames and queues `len` bytes at `data` as `tcphub_client_send` does,
/// but when the queue has no room waits up to `timeout_ms` milliseconds for
/// the I/O thread to make some (0: never waits, as `tcphub_client_send`).
/// A message larger than `max_queue_bytes` by itself is taken, as by
/// `tcphub_client_send`, only into an empty queue: this waits for the queue
/// to empty. From inside a tcphub callback (a server's) it does not wait:
/// the thread that writes may be the one running the callback.
/// `data` may be NULL when `len` is 0.
///
/// Returns `TCPHUB_ERR_QUEUE_FULL` when there was no room in time,
/// `TCPHUB_ERR_FRAME_TOO_LARGE` and `TCPHUB_ERR_INVALID_MESSAGE` at once,
/// `TCPHUB_ERR_NOT_RUNNING` (closed,
/// or the server went away for good — also during the wait).
///
/// # Safety
///
/// `c` is NULL or a live client; `data` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_send_timeout(
    c: *mut tcphub_client,
    data: *const u8,
    len: usize,
    timeout_ms: u64,
) -> c_int {
    boundary("tcphub_client_send_timeout", || {
        // SAFETY: the caller's promise.
        let (client, msg) = unsafe { (client(c)?, boundary::bytes(data, len)?) };
        client
            .send_timeout(msg, Duration::from_millis(timeout_ms))
            .map_err(|e| refused(client, e))?;
        Ok(TCPHUB_OK)
    })
}

/// Waits up to `timeout_ms` milliseconds until every message queued before
/// the call has been written to the socket (handed to the kernel, not yet
/// acknowledged by the server; `tcphub_client_close` waits for that).
/// Messages other threads send meanwhile are not waited for. With
/// reconnect on it goes on waiting while the client is between
/// connections. From inside a tcphub callback (a server's) it does not
/// wait: it answers as with a timeout of 0.
///
/// Returns `TCPHUB_OK` once written (at once when nothing is queued),
/// `TCPHUB_ERR_TIMEOUT` when the time ran out first,
/// `TCPHUB_ERR_NOT_RUNNING` when they never will be: the client was closed
/// (the close's flush is waited for) or its connection ended for good with
/// them unwritten.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_flush(c: *mut tcphub_client, timeout_ms: u64) -> c_int {
    boundary("tcphub_client_flush", || {
        // SAFETY: the caller's promise.
        unsafe { client(c)? }.flush(Duration::from_millis(timeout_ms))?;
        Ok(TCPHUB_OK)
    })
}

/// Where `tcphub_client_flush` called now would wait for: every message
/// queued so far written. With `tcphub_client_flush_to`, a caller that
/// waits in short slices (to check a signal flag between them) waits for
/// the same messages across all of them, not also for those other threads
/// queue in between. 0 for NULL.
///
/// ```c
/// uint64_t mark = tcphub_client_flush_mark(c);
/// int rc;
/// while ((rc = tcphub_client_flush_to(c, mark, 100)) == TCPHUB_ERR_TIMEOUT && !stop_requested)
///     ;
/// ```
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_flush_mark(c: *const tcphub_client) -> u64 {
    boundary("tcphub_client_flush_mark", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.flush_mark().to_bits())
    })
}

/// As `tcphub_client_flush`, for the messages queued before `mark` was
/// taken with `tcphub_client_flush_mark` (of this client: another
/// client's mark means nothing here; 0 waits for nothing).
///
/// Returns as `tcphub_client_flush`.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_flush_to(
    c: *mut tcphub_client,
    mark: u64,
    timeout_ms: u64,
) -> c_int {
    boundary("tcphub_client_flush_to", || {
        // SAFETY: the caller's promise.
        unsafe { client(c)? }.flush_to(
            tcphub_core::FlushMark::from_bits(mark),
            Duration::from_millis(timeout_ms),
        )?;
        Ok(TCPHUB_OK)
    })
}

/// Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
/// look) for the next message from the server and stores it in `*msg_out`
/// (overwritten without release; free it with `tcphub_message_release`).
///
/// Returns `TCPHUB_ERR_TIMEOUT` when nothing came in time,
/// `TCPHUB_ERR_NOT_RUNNING` once the connection is gone and every message
/// was taken. On failure `*msg_out` is zeroed.
///
/// ```c
/// tcphub_message m;
/// int rc;
/// while ((rc = tcphub_client_recv(c, &m, 5000)) == TCPHUB_OK) {
///     handle_message(m.data, m.len);
///     tcphub_message_release(&m);
/// }
/// // TCPHUB_ERR_NOT_RUNNING: the connection ended; TCPHUB_ERR_TIMEOUT: 5 s of silence
/// ```
///
/// # Safety
///
/// `c` is NULL or a live client; `msg_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_recv(
    c: *mut tcphub_client,
    msg_out: *mut tcphub_message,
    timeout_ms: c_int,
) -> c_int {
    boundary("tcphub_client_recv", || {
        if msg_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "msg_out is NULL"));
        }
        // SAFETY: non-NULL and writable. Zeroed before any other check: on
        // every failure it is released safely.
        unsafe {
            msg_out.write(tcphub_message {
                data: std::ptr::null_mut(),
                len: 0,
            })
        };
        // SAFETY: the caller's promise.
        let client = unsafe { client(c)? };
        let msg = match boundary::timeout(timeout_ms) {
            Some(t) => client.recv_timeout(t),
            None => client.recv().ok_or(tcphub_core::Error::NotRunning),
        }
        .map_err(|e| ended(client, e))?;
        if !msg.is_empty() {
            let boxed = msg.into_boxed_slice();
            let len = boxed.len();
            let data = Box::into_raw(boxed).cast::<u8>();
            // SAFETY: as above.
            unsafe { msg_out.write(tcphub_message { data, len }) };
        }
        Ok(TCPHUB_OK)
    })
}

/// Frees a message's bytes and zeroes it. NULL and released messages are fine.
///
/// # Safety
///
/// `msg` is NULL or a zeroed message or one filled in by `tcphub_client_recv`.
#[no_mangle]
pub unsafe extern "C" fn tcphub_message_release(msg: *mut tcphub_message) {
    boundary("tcphub_message_release", || {
        if msg.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and valid by the caller's promise.
        let m = unsafe { &mut *msg };
        if !m.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(m.data, m.len);
            // SAFETY: made from a `Box<[u8]>` in `tcphub_client_recv`, and
            // reset below so it is freed once.
            drop(unsafe { Box::from_raw(slice) });
        }
        m.data = std::ptr::null_mut();
        m.len = 0;
        Ok(())
    })
}

/// The local port of the client's connection (what the server sees as the
/// client's port), or 0 for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_local_port(c: *const tcphub_client) -> u16 {
    boundary("tcphub_client_local_port", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.local_addr().port())
    })
}

/// Writes the address `addr` gives to `ip_out` as NUL-terminated text and
/// its port to `*port_out`. Both are zeroed first, so they are defined on
/// every failure (of `addr` too).
///
/// # Safety
///
/// `ip_out` is NULL or has room for `TCPHUB_IP_LEN` chars; `port_out` is
/// NULL or writable.
pub(crate) unsafe fn write_addr(
    ip_out: *mut c_char,
    port_out: *mut u16,
    addr: impl FnOnce() -> Result<SocketAddr, Fail>,
) -> Result<c_int, Fail> {
    let ip_out = ip_out.cast::<[c_char; TCPHUB_IP_LEN]>();
    if !ip_out.is_null() {
        // SAFETY: non-NULL with room for `TCPHUB_IP_LEN` chars (an array
        // of them is byte-aligned) by the caller's promise.
        unsafe { ip_out.write([0; TCPHUB_IP_LEN]) };
    }
    if !port_out.is_null() {
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { port_out.write(0) };
    }
    if ip_out.is_null() {
        return Err(Fail::new(TCPHUB_ERR_NULL, "ip_out is NULL"));
    }
    if port_out.is_null() {
        return Err(Fail::new(TCPHUB_ERR_NULL, "port_out is NULL"));
    }
    let addr = addr()?;
    // SAFETY: as above.
    unsafe {
        ip_out.write(ip_text(addr));
        port_out.write(addr.port());
    }
    Ok(TCPHUB_OK)
}

/// The server's address: writes its IP as NUL-terminated text (e.g.
/// "127.0.0.1" or "::1", as `tcphub_client_info.ip`; a server dialled as
/// "::ffff:127.0.0.1" is "127.0.0.1") to `ip_out` and its
/// port to `*port_out`. That of the current connection, or of the last
/// one once it has ended (with reconnect on, a host name may resolve to
/// another address next time). Any thread.
///
/// Returns `TCPHUB_ERR_NULL` for a NULL argument. On failure `ip_out` is
/// the empty string and `*port_out` 0.
///
/// # Safety
///
/// `c` is NULL or a live client; `ip_out` is NULL or has room for
/// `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_peer_addr(
    c: *const tcphub_client,
    ip_out: *mut c_char,
    port_out: *mut u16,
) -> c_int {
    boundary("tcphub_client_peer_addr", || {
        // SAFETY: the caller's promise.
        unsafe { write_addr(ip_out, port_out, || Ok(client(c)?.peer_addr())) }
    })
}

/// The client's own address on its connection (what the server sees as
/// the client's ip and port): writes the IP as NUL-terminated text to
/// `ip_out` and the port (as `tcphub_client_local_port`) to `*port_out`.
/// That of the current connection, or of the last one once it has ended.
/// Any thread.
///
/// Returns `TCPHUB_ERR_NULL` for a NULL argument. On failure `ip_out` is
/// the empty string and `*port_out` 0.
///
/// # Safety
///
/// `c` is NULL or a live client; `ip_out` is NULL or has room for
/// `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_local_addr(
    c: *const tcphub_client,
    ip_out: *mut c_char,
    port_out: *mut u16,
) -> c_int {
    boundary("tcphub_client_local_addr", || {
        // SAFETY: the caller's promise.
        unsafe { write_addr(ip_out, port_out, || Ok(client(c)?.local_addr())) }
    })
}

/// Whether the connection is up. False for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_is_connected(c: *const tcphub_client) -> bool {
    boundary("tcphub_client_is_connected", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.is_connected())
    })
}

/// Whether the client is open: not closed (`tcphub_client_close`,
/// `_close_timeout`) and not ended for good (the server closed and
/// reconnect is off, or reconnect gave up). Unlike
/// `tcphub_client_is_connected` it stays true while reconnecting, and after
/// `tcphub_client_shutdown_write` until the server closes. False for NULL.
/// Any thread.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_is_open(c: *const tcphub_client) -> bool {
    boundary("tcphub_client_is_open", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.is_open())
    })
}

/// Bytes accepted by `tcphub_client_send` and not yet written to the
/// socket (the message bytes with their framing), or 0 for NULL. Against
/// `max_queue_bytes` each queued message also counts 48 bytes of
/// bookkeeping. 0 again once the client has ended (what was still queued is
/// dropped then). Any thread.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_queued_bytes(c: *const tcphub_client) -> usize {
    boundary("tcphub_client_queued_bytes", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.queued_bytes())
    })
}

/// Bytes written to the connection that the server's system has not
/// acknowledged yet (sent but not known to have arrived); with
/// `tcphub_client_queued_bytes`, what stands between `tcphub_client_send`
/// and the server having it. -1 while no connection is up (connecting,
/// between reconnects, closed), where the system does not say (it does on
/// Linux), and for NULL. Watching it fall tells a slow but steady reader
/// from a stopped one, e.g. before a `tcphub_client_close` whose linger
/// time would run out while the server is still taking the data. Any
/// thread.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_unacknowledged_bytes(c: *const tcphub_client) -> i64 {
    boundary("tcphub_client_unacknowledged_bytes", || {
        // SAFETY: the caller's promise.
        let n = unsafe { client(c)? }.unacknowledged_bytes();
        Ok(n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)))
    })
}

/// Messages accepted by `tcphub_client_send` that were never written whole,
/// or 0 for NULL: those still queued when the client ended for good and
/// were dropped — the connection lost without reconnect (or reconnecting
/// gave up), `tcphub_client_close` / `_close_timeout` out of linger time,
/// or the server's end-of-stream (unless `write_after_server_eof` is set
/// in `tcphub_client_options`). 0 while the client is open: what is queued
/// then may still be written. A message cut off in the middle counts as
/// unsent (the server gets none of it as a message); messages written but
/// never read by the server are not counted (the client cannot see those).
/// Any thread.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_unsent(c: *const tcphub_client) -> u64 {
    boundary("tcphub_client_unsent", || {
        // SAFETY: the caller's promise.
        Ok(unsafe { client(c)? }.unsent())
    })
}

/// Why the client's most recent connection ended: stores its
/// `TCPHUB_REASON_*` in `*reason_out`, or -1 while no connection has ended.
/// Once `tcphub_client_recv` returns `TCPHUB_ERR_NOT_RUNNING` it tells a
/// clean close (`TCPHUB_REASON_CLOSED_BY_PEER`, `TCPHUB_REASON_CLOSED_LOCALLY`)
/// from a fault: `TCPHUB_REASON_RESET`, `TCPHUB_REASON_FRAME_TOO_LARGE` (the
/// server sent a frame over `max_len`), `TCPHUB_REASON_IO` (e.g. closed in
/// the middle of a frame). With reconnect on, it keeps the last reason after
/// a reconnect; once reconnecting gave up (`reconnect_max_attempts` failed
/// attempts) it is `TCPHUB_REASON_RECONNECT_GAVE_UP`, the final reason,
/// rather than the drop before the attempts; likewise a close between
/// connections whose redial to flush the queued messages fails gives
/// `TCPHUB_REASON_IO` (the dial's error) as they are dropped.
///
/// Returns `TCPHUB_ERR_NULL` for a NULL argument (`*reason_out`, if it can
/// be written, is then -1).
///
/// # Safety
///
/// `c` is NULL or a live client; `reason_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_disconnect_reason(
    c: *const tcphub_client,
    reason_out: *mut c_int,
) -> c_int {
    boundary("tcphub_client_disconnect_reason", || {
        if reason_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "reason_out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's promise. Set before
        // any check, as the other out-parameters are on failure.
        unsafe { reason_out.write(-1) };
        // SAFETY: the caller's promise.
        let client = unsafe { client(c)? };
        let reason = client.disconnect_reason().map_or(-1, |r| {
            crate::boundary::note_disconnect(&r);
            r.code()
        });
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { reason_out.write(reason) };
        Ok(TCPHUB_OK)
    })
}

/// Finishes sending (a TCP half-close): what is queued is written, then the
/// sending side is shut so the server reads end-of-stream. Messages keep
/// arriving until the server closes its side, which ends the client for good
/// (no reconnect). Later `tcphub_client_send` calls return
/// `TCPHUB_ERR_NOT_RUNNING`. Idempotent. A tcphub server answers it with
/// the replies to the messages before it, then closes.
///
/// Returns `TCPHUB_ERR_NOT_RUNNING` once the client is closed.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_shutdown_write(c: *mut tcphub_client) -> c_int {
    boundary("tcphub_client_shutdown_write", || {
        // SAFETY: the caller's promise.
        let client = unsafe { client(c)? };
        client.shutdown_write().map_err(|e| refused(client, e))?;
        Ok(TCPHUB_OK)
    })
}

/// Closes gracefully: writes what is queued (for up to the linger time, 2 s
/// unless set with `tcphub_client_connect_with`), shuts the
/// connection down and stops the I/O thread. Once everything is written the
/// socket stays open (what arrives is discarded) until the server has
/// acknowledged all of it or ended its side, within the same linger time.
/// When the linger time runs out first, what is still queued is dropped
/// (counted by `tcphub_client_unsent`) and the connection is reset, so the
/// server does not take its end for all there was (the reset drops what
/// was written but not yet sent too); with only the acknowledgement
/// missing, what was written is left to the system, which goes on sending
/// it after the close: it may still arrive, nothing confirms it;
/// `tcphub_client_disconnect_reason` then says
/// `TCPHUB_REASON_IO` instead of `TCPHUB_REASON_CLOSED_LOCALLY` (and
/// `TCPHUB_REASON_RESET` when the server reset the connection meanwhile); a
/// server that ended its side before the flush was done (before the call,
/// too) closed first: `TCPHUB_REASON_CLOSED_BY_PEER`.
/// Blocks until then; `tcphub_client_close_timeout` bounds the wait. From
/// inside a tcphub callback (a server's: the C client has no callbacks of
/// its own) it starts the close and returns `TCPHUB_OK` at once without
/// waiting: the thread it would wait for may be the one running the
/// callback. Idempotent. Messages received before the close can still be
/// taken with `tcphub_client_recv`; what arrives after it is discarded.
/// Threads waiting in `tcphub_client_recv` or `_next_event` meanwhile get
/// those messages (and events), then `TCPHUB_ERR_NOT_RUNNING`: close first,
/// then join them, then `tcphub_client_free`.
///
/// Returns `TCPHUB_OK` however the close went (`TCPHUB_ERR_NULL` for NULL):
/// whether everything queued reached the server is told by
/// `tcphub_client_disconnect_reason` (`TCPHUB_REASON_CLOSED_LOCALLY`), not
/// by this code.
///
/// ```c
/// tcphub_client_close(c);
/// int reason;
/// if (tcphub_client_disconnect_reason(c, &reason) == TCPHUB_OK && reason != TCPHUB_REASON_CLOSED_LOCALLY)
///     fprintf(stderr, "close: %s\n", tcphub_disconnect_detail()); // "i/o error: timed out", say
/// ```
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_close(c: *mut tcphub_client) -> c_int {
    boundary("tcphub_client_close", || {
        // SAFETY: the caller's promise.
        unsafe { client(c)? }.close();
        Ok(TCPHUB_OK)
    })
}

/// Closes like `tcphub_client_close`, but waits at most `timeout_ms`
/// milliseconds for the flush and the I/O thread. If they have not finished
/// by then the close goes on (within the linger time): a later
/// `tcphub_client_close`, `_close_timeout` or `_free` finishes waiting. For
/// a caller that must stay responsive (checking for a signal between short
/// waits). Any thread; from inside a tcphub callback it starts the close and
/// answers at once, as `tcphub_client_close` does not wait there:
/// `TCPHUB_ERR_TIMEOUT` unless the client's I/O thread had already ended.
///
/// Returns `TCPHUB_OK` once closed (also for a client already closed, or
/// whose server went away), `TCPHUB_ERR_TIMEOUT` while the close is still
/// under way.
///
/// # Safety
///
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_close_timeout(
    c: *mut tcphub_client,
    timeout_ms: u64,
) -> c_int {
    boundary("tcphub_client_close_timeout", || {
        // SAFETY: the caller's promise.
        if unsafe { client(c)? }.close_timeout(Duration::from_millis(timeout_ms)) {
            Ok(TCPHUB_OK)
        } else {
            Err(Fail::new(
                TCPHUB_ERR_TIMEOUT,
                "the client is still closing (writing what is queued)",
            ))
        }
    })
}

/// Closes (as `tcphub_client_close`) and releases `c`. NULL is a no-op.
/// Call it exactly once, when no other thread uses `c`: a thread waiting in
/// `tcphub_client_recv` or `_next_event` would be left with a freed client.
/// Call `tcphub_client_close` first, which makes such waits return.
///
/// # Safety
///
/// `c` is NULL or a live client, not used again after this call.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_free(c: *mut tcphub_client) {
    boundary("tcphub_client_free", || {
        if c.is_null() {
            return Ok(());
        }
        // SAFETY: made by `Box::into_raw` in `tcphub_client_connect`; the
        // caller gives it up now.
        let boxed = unsafe { Box::from_raw(c) };
        boxed.client.close();
        drop(boxed);
        Ok(())
    })
}

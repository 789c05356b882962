//! Pull mode: `tcphub_event` and `tcphub_server_next_event`, a C view of
//! the core's [`Events`](tcphub_core::Events) receiver.

use std::ffi::{c_char, c_int};
use std::net::SocketAddr;

use tcphub_core::{Client, Event};

use crate::boundary::{self, boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// One thing that happened on a server in pull mode, filled in by
/// `tcphub_server_next_event`. Release it with `tcphub_event_release` (which
/// frees `data`) before reusing or discarding it. A zeroed struct is a valid
/// empty event.
#[repr(C)]
#[derive(Debug)]
pub struct tcphub_event {
    /// `TCPHUB_EVENT_CONNECTED`, `TCPHUB_EVENT_MESSAGE` or `TCPHUB_EVENT_DISCONNECTED`.
    pub kind: c_int,
    /// The client the event is about.
    pub client_id: u64,
    /// The client's remote IP address as NUL-terminated text.
    pub ip: [c_char; TCPHUB_IP_LEN],
    /// The client's remote port.
    pub port: u16,
    /// For `TCPHUB_EVENT_MESSAGE`: the message, owned by the event until
    /// `tcphub_event_release`; NULL when `len` is 0 and for other kinds.
    pub data: *mut u8,
    /// Length of `data` in bytes.
    pub len: usize,
    /// For `TCPHUB_EVENT_DISCONNECTED`: a `TCPHUB_REASON_*` value; else 0.
    pub reason: c_int,
}

/// `addr`'s IP as NUL-terminated text in a `TCPHUB_IP_LEN` array.
pub(crate) fn ip_text(addr: SocketAddr) -> [c_char; TCPHUB_IP_LEN] {
    let text = addr.ip().to_string();
    let mut ip = [0; TCPHUB_IP_LEN];
    // Any IP text is shorter than INET6_ADDRSTRLEN; the last byte stays NUL.
    for (dst, src) in ip.iter_mut().zip(text.bytes().take(TCPHUB_IP_LEN - 1)) {
        *dst = src as c_char;
    }
    ip
}

fn write_addr(ev: &mut tcphub_event, addr: SocketAddr) {
    ev.ip = ip_text(addr);
    ev.port = addr.port();
}

fn fill(ev: &mut tcphub_event, event: Event) {
    let (kind, client, payload, reason): (c_int, Client, Option<Vec<u8>>, c_int) = match event {
        Event::Connected(c) => (TCPHUB_EVENT_CONNECTED, c, None, 0),
        Event::Message(c, msg) => (TCPHUB_EVENT_MESSAGE, c, Some(msg), 0),
        Event::Disconnected(c, why) => {
            crate::boundary::note_disconnect(&why);
            (TCPHUB_EVENT_DISCONNECTED, c, None, why.code())
        }
    };
    ev.kind = kind;
    ev.client_id = client.id;
    write_addr(ev, client.addr);
    ev.reason = reason;
    ev.data = std::ptr::null_mut();
    ev.len = 0;
    if let Some(msg) = payload.filter(|m| !m.is_empty()) {
        let boxed: Box<[u8]> = msg.into_boxed_slice();
        ev.len = boxed.len();
        ev.data = Box::into_raw(boxed).cast::<u8>();
    }
}

/// Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
/// look) for the next event of a server running in pull mode (no callbacks
/// set) and writes it to `*event_out`, overwriting it without releasing it
/// (the event owns its message: free it with `tcphub_event_release`).
/// Events of one client come in order: CONNECTED, its MESSAGEs, then one
/// DISCONNECTED. Several threads may wait at once; each event goes to one.
/// A client that finished sending (`TCPHUB_REASON_CLOSED_BY_PEER`, or
/// `TCPHUB_REASON_IO` when it ended in the middle of a frame) is held open
/// after its DISCONNECTED so `tcphub_server_send` (and `_send_to`,
/// `_send_all`) still reach it, until the next call of this function (by
/// any thread) or the linger time (2 s unless set with
/// `tcphub_server_set_linger`) after it was taken: reply to a client's
/// messages before asking for the next event (or hold it for answers made
/// later with `tcphub_server_set_hold_for_replies`).
/// Events still queued when the server stops can be taken after the stop.
///
/// Returns `TCPHUB_OK` with an event, `TCPHUB_ERR_TIMEOUT` when none came in
/// time, `TCPHUB_ERR_NOT_RUNNING` when the server was never started, runs
/// in callback mode (its events go to the callbacks), or has stopped and
/// every event was taken. On failure `*event_out` is zeroed.
///
/// A pull-mode loop:
/// ```c
/// tcphub_event ev;
/// int rc;
/// while ((rc = tcphub_server_next_event(s, &ev, -1)) == TCPHUB_OK) {
///     if (ev.kind == TCPHUB_EVENT_MESSAGE)
///         tcphub_server_send(s, ev.client_id, ev.data, ev.len); // echo, before the next event
///     handle(&ev);
///     tcphub_event_release(&ev); // frees ev.data
/// }
/// // TCPHUB_ERR_NOT_RUNNING: stopped, and every event was taken
/// ```
///
/// # Safety
///
/// `s` is NULL or a live server; `event_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_next_event(
    s: *mut tcphub_server,
    event_out: *mut tcphub_event,
    timeout_ms: c_int,
) -> c_int {
    boundary("tcphub_server_next_event", || {
        if event_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "event_out is NULL"));
        }
        // SAFETY: non-NULL and writable; a zeroed `tcphub_event` is valid.
        // Zeroed before any other check: on every failure it is released
        // safely.
        let ev = unsafe {
            event_out.write(std::mem::zeroed());
            &mut *event_out
        };
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        let events = srv.pull_handle()?.events();
        // Nothing more to take: said as the server's other calls say it.
        let event = match boundary::timeout(timeout_ms) {
            Some(t) => events.recv_timeout(t),
            None => events.recv().ok_or(tcphub_core::Error::NotRunning),
        }
        .map_err(|e| Fail::from(e).stopped())?;
        fill(ev, event);
        Ok(TCPHUB_OK)
    })
}

/// How many events wait in a pull-mode server's queue to be taken by
/// `tcphub_server_next_event` right now, as Rust's `events().len()`: the
/// backlog of a consumer that falls behind. While it is at the capacity
/// (`tcphub_server_set_event_capacity`, 65536 by default) or its messages
/// hold 64 MiB, the server stops reading from clients. Events queued
/// before a stop count until taken. Asking takes nothing and does not end
/// the hold of a client that finished sending (see
/// `tcphub_server_next_event`). 0 for NULL, a server never started, and
/// one with callbacks (they run as events happen: nothing waits).
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_pending_events(s: *const tcphub_server) -> usize {
    boundary("tcphub_server_pending_events", || {
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        Ok(srv.with_started(|h| h.events().len()).unwrap_or(0))
    })
}

/// Frees the message data an event owns and zeroes the event. NULL and
/// already released (or zeroed) events are fine.
///
/// # Safety
///
/// `event` is NULL or points to an event that is zeroed or was filled in by
/// `tcphub_server_next_event`.
#[no_mangle]
pub unsafe extern "C" fn tcphub_event_release(event: *mut tcphub_event) {
    boundary("tcphub_event_release", || {
        if event.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and valid by the caller's promise.
        let ev = unsafe { &mut *event };
        if !ev.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(ev.data, ev.len);
            // SAFETY: `data`/`len` were made from a `Box<[u8]>` in `fill`
            // and are reset below, so this runs once per message.
            drop(unsafe { Box::from_raw(slice) });
        }
        // SAFETY: a zeroed `tcphub_event` is valid.
        *ev = unsafe { std::mem::zeroed() };
        Ok(())
    })
}

//! Every event of a client in pull mode — messages, drops, reconnect
//! attempts and successes, the final close: `tcphub_client_event`,
//! `tcphub_client_next_event`, `tcphub_client_event_release` (the C view of
//! the core's [`ClientEvent`]).

use std::ffi::{c_char, c_int};

use tcphub_core::ClientEvent;

use crate::boundary::{self, boundary, Fail};
use crate::client::{client, tcphub_client, tcphub_message, tcphub_message_release};
use crate::codes::*;
use crate::events::ip_text;

/// One thing that happened on a client's connection, filled in by
/// `tcphub_client_next_event`. Release it with `tcphub_client_event_release`
/// (which frees `message`) before reusing or discarding it. A zeroed struct
/// is a valid empty event.
#[repr(C)]
#[derive(Debug)]
pub struct tcphub_client_event {
    /// `TCPHUB_CLIENT_EVENT_MESSAGE`, `_DISCONNECTED`, `_RECONNECTING`,
    /// `_RECONNECTED` or `_CLOSED`.
    pub kind: c_int,
    /// For `TCPHUB_CLIENT_EVENT_MESSAGE`: the message, owned by the event
    /// until `tcphub_client_event_release`; empty for other kinds.
    pub message: tcphub_message,
    /// For `TCPHUB_CLIENT_EVENT_DISCONNECTED`: a `TCPHUB_REASON_*`; else 0.
    pub reason: c_int,
    /// For `_RECONNECTING` and `_RECONNECTED`: the attempt, 1 for the first
    /// after a drop (the count goes on when the connection that dropped
    /// lasted under a second: see `TCPHUB_CLIENT_EVENT_RECONNECTING`); else 0.
    pub attempt: u32,
    /// For `_RECONNECTING`: milliseconds until the attempt (0 when a
    /// connection lost during `tcphub_client_close` is redialled at once to
    /// flush what is queued); else 0.
    pub delay_ms: u64,
    /// For `_RECONNECTED`: this end's new IP address as NUL-terminated text;
    /// else empty.
    pub local_ip: [c_char; TCPHUB_IP_LEN],
    /// For `_RECONNECTED`: this end's new port; else 0.
    pub local_port: u16,
}

fn fill(ev: &mut tcphub_client_event, event: ClientEvent) {
    match event {
        ClientEvent::Message(msg) => {
            ev.kind = TCPHUB_CLIENT_EVENT_MESSAGE;
            if !msg.is_empty() {
                let boxed = msg.into_boxed_slice();
                ev.message.len = boxed.len();
                ev.message.data = Box::into_raw(boxed).cast::<u8>();
            }
        }
        ClientEvent::Disconnected(why) => {
            crate::boundary::note_disconnect(&why);
            ev.kind = TCPHUB_CLIENT_EVENT_DISCONNECTED;
            ev.reason = why.code();
        }
        ClientEvent::Reconnecting { attempt, delay } => {
            ev.kind = TCPHUB_CLIENT_EVENT_RECONNECTING;
            ev.attempt = attempt;
            ev.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        }
        ClientEvent::Reconnected {
            attempt,
            local_addr,
        } => {
            ev.kind = TCPHUB_CLIENT_EVENT_RECONNECTED;
            ev.attempt = attempt;
            ev.local_ip = ip_text(local_addr);
            ev.local_port = local_addr.port();
        }
        // `Closed`, and any kind a later core adds (`non_exhaustive`): the
        // end, rather than an event C cannot name.
        _ => ev.kind = TCPHUB_CLIENT_EVENT_CLOSED,
    }
}

/// Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
/// look) for the client's next event and writes it to `*event_out`,
/// overwriting it without releasing it (the event owns its message: free
/// it with `tcphub_client_event_release`). It shares the queue with
/// `tcphub_client_recv`, which skips all but messages: with reconnect on, a
/// `TCPHUB_CLIENT_EVENT_RECONNECTED` is where to log in or subscribe again.
/// The events come in order: messages, then DISCONNECTED (with reconnect:
/// RECONNECTING, RECONNECTED or another RECONNECTING, …), and CLOSED last.
///
/// Returns `TCPHUB_OK` with an event, `TCPHUB_ERR_TIMEOUT` when none came in
/// time, `TCPHUB_ERR_NOT_RUNNING` once CLOSED was taken. On failure
/// `*event_out` is zeroed.
///
/// ```c
/// tcphub_client_event ev;
/// while (tcphub_client_next_event(c, &ev, -1) == TCPHUB_OK) {
///     if (ev.kind == TCPHUB_CLIENT_EVENT_MESSAGE)
///         handle_message(ev.message.data, ev.message.len);
///     else if (ev.kind == TCPHUB_CLIENT_EVENT_RECONNECTED)
///         tcphub_client_send(c, (const uint8_t *)"login alice", 11); // log in again
///     tcphub_client_event_release(&ev);
/// } // ends once TCPHUB_CLIENT_EVENT_CLOSED was taken
/// ```
///
/// # Safety
///
/// `c` is NULL or a live client; `event_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_next_event(
    c: *mut tcphub_client,
    event_out: *mut tcphub_client_event,
    timeout_ms: c_int,
) -> c_int {
    boundary("tcphub_client_next_event", || {
        if event_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "event_out is NULL"));
        }
        // SAFETY: non-NULL and writable; a zeroed event is valid. Zeroed
        // before any other check: on every failure it is released safely.
        let ev = unsafe {
            event_out.write(std::mem::zeroed());
            &mut *event_out
        };
        // SAFETY: the caller's promise.
        let client = unsafe { client(c)? };
        let event = match boundary::timeout(timeout_ms) {
            Some(t) => client.next_event(t),
            None => loop {
                match client.next_event(std::time::Duration::from_secs(3600)) {
                    Err(tcphub_core::Error::Timeout) => continue,
                    other => break other,
                }
            },
        }
        .map_err(|e| crate::client::ended(client, e))?;
        fill(ev, event);
        Ok(TCPHUB_OK)
    })
}

/// Frees the message an event owns and zeroes the event. NULL and already
/// released (or zeroed) events are fine.
///
/// # Safety
///
/// `event` is NULL or points to an event that is zeroed or was filled in by
/// `tcphub_client_next_event`.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_event_release(event: *mut tcphub_client_event) {
    boundary("tcphub_client_event_release", || {
        if event.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and valid by the caller's promise; its message
        // was made as `tcphub_client_recv` makes one.
        unsafe {
            tcphub_message_release(&mut (*event).message);
            *event = std::mem::zeroed();
        }
        Ok(())
    })
}

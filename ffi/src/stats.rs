//! `tcphub_stats`: a server's counters.

use std::ffi::c_int;

use tcphub_core::Stats;

use crate::boundary::{boundary, Fail};
use crate::codes::*;
use crate::server::{server, tcphub_server};

/// A snapshot of a server's counters since it started (all 0 before).
/// Fields may be added at the end in a later version, with a new SONAME.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct tcphub_stats {
    /// Clients connected now. A connection held open for replies after its
    /// DISCONNECTED (pull mode, or `tcphub_server_set_hold_for_replies`) is
    /// not counted here but in `disconnected`, though it keeps its place
    /// toward `max_clients` until it closes.
    pub clients: u64,
    /// Connections accepted and admitted.
    pub accepted: u64,
    /// Connections refused because `max_clients` were connected (accepted,
    /// then closed at once).
    pub rejected: u64,
    /// Admitted connections (see `accepted`) that have ended, for any
    /// reason; a refused one counts only in `rejected`.
    pub disconnected: u64,
    /// Messages (frames) received from clients.
    pub msgs_in: u64,
    /// Bytes read from client sockets (framing included).
    pub bytes_in: u64,
    /// Messages queued for delivery, counted once per recipient.
    pub msgs_out: u64,
    /// Bytes written to client sockets (framing included): admitted
    /// clients', the server's notices to them included, not the notice to a
    /// refused connection (`tcphub_server_set_full_message`).
    pub bytes_out: u64,
    /// Messages dropped for a client whose queue was full
    /// (`TCPHUB_OVERFLOW_DROP_MESSAGE`).
    pub dropped: u64,
    /// Clients disconnected as slow consumers (reported with
    /// `TCPHUB_REASON_SLOW_CONSUMER`). A client held open for replies after
    /// its DISCONNECTED (pull mode, or `tcphub_server_set_hold_for_replies`)
    /// whose queue overflows under
    /// `TCPHUB_OVERFLOW_DISCONNECT` is closed but not counted here: it had
    /// already left (see `undelivered`).
    pub slow_consumers: u64,
    /// Clients disconnected for sending an oversize frame.
    pub frame_too_large: u64,
    /// Clients disconnected for idling.
    pub idle_timeouts: u64,
    /// Clients disconnected for not finishing a frame in time.
    pub frame_timeouts: u64,
    /// Rust callbacks that panicked (caught and logged): always 0 from C. A
    /// C callback cannot panic, and a failure of tcphub's own code around
    /// one is caught at the C boundary — printed on stderr and left in that
    /// thread's `tcphub_last_error()` — without being counted here.
    pub callback_panics: u64,
    /// Messages for one client that were not queued because the client had
    /// left, or was leaving, by the time its event loop got to them: a
    /// `tcphub_server_send`, `_send_to` or `_send_many` (once per client
    /// it counted) that returned `TCPHUB_OK` while
    /// the client was disconnecting or the server stopping ran out of
    /// linger time before it got to them; the message (a broadcast's too)
    /// whose overflow cut a client as a slow consumer under
    /// `TCPHUB_OVERFLOW_DISCONNECT`; and messages (broadcasts too) that did
    /// not fit the queue of a client held open for replies (pull mode, or
    /// `tcphub_server_set_hold_for_replies`) after its DISCONNECTED under
    /// `TCPHUB_OVERFLOW_DISCONNECT` (the first ends the hold and closes the
    /// client, so later broadcasts skip it: at most one broadcast message
    /// counts per held client; under `TCPHUB_OVERFLOW_DROP_MESSAGE` they count in
    /// `dropped`, like anyone's). Broadcasts are otherwise not counted here.
    pub undelivered: u64,
    /// Connections refused because `tcphub_server_set_max_clients_per_ip`
    /// clients from the same IP address were connected (not counted in
    /// `rejected`).
    pub rejected_per_ip: u64,
    /// Messages queued for a client (so counted in `msgs_out`) that were not
    /// written to it in full because its connection ended first: it was cut
    /// as a slow consumer, its linger time ran out while it closed (a kick, a
    /// timeout, its leaving, the stop), a write failed, or it reset. Such a
    /// connection is reset, so its peer sees an error, not a clean end.
    /// Written means taken by the kernel. Under `TCPHUB_FRAMING_RAW`, which
    /// has no message boundaries on the wire, a run of sends joined into one
    /// write that was partly written counts whole.
    pub unwritten: u64,
}

impl From<Stats> for tcphub_stats {
    fn from(s: Stats) -> tcphub_stats {
        tcphub_stats {
            clients: s.clients,
            accepted: s.accepted,
            rejected: s.rejected,
            disconnected: s.disconnected,
            msgs_in: s.msgs_in,
            bytes_in: s.bytes_in,
            msgs_out: s.msgs_out,
            bytes_out: s.bytes_out,
            dropped: s.dropped,
            slow_consumers: s.slow_consumers,
            frame_too_large: s.frame_too_large,
            idle_timeouts: s.idle_timeouts,
            frame_timeouts: s.frame_timeouts,
            callback_panics: s.callback_panics,
            undelivered: s.undelivered,
            rejected_per_ip: s.rejected_per_ip,
            unwritten: s.unwritten,
        }
    }
}

/// Fills `*stats_out` with the server's counters: while it runs, and after
/// it stopped (the final counts, until `tcphub_server_free`); all 0 for a
/// server never started. Callable from any thread, callbacks included.
///
/// Returns `TCPHUB_ERR_NULL` when `s` or `stats_out` is NULL (`*stats_out`
/// is zeroed when it can be).
///
/// ```c
/// tcphub_stats st;
/// if (tcphub_server_stats(s, &st) == TCPHUB_OK)
///     printf("%llu clients, %llu messages in\n",
///            (unsigned long long)st.clients, (unsigned long long)st.msgs_in);
/// ```
///
/// # Safety
///
/// `s` is NULL or a live server; `stats_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_stats(
    s: *const tcphub_server,
    stats_out: *mut tcphub_stats,
) -> c_int {
    boundary("tcphub_server_stats", || {
        if stats_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "stats_out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's promise; zeroed
        // first so that it is defined on every failure.
        unsafe { stats_out.write(tcphub_stats::default()) };
        // SAFETY: the caller's promise.
        let srv = unsafe { server(s)? };
        if let Some(stats) = srv.with_started(|h| h.stats()) {
            // SAFETY: as above.
            unsafe { stats_out.write(stats.into()) };
        }
        Ok(TCPHUB_OK)
    })
}

//! The less common server settings: overflow policy, linger, the hold for
//! replies to half-closed clients, keepalive, `TCP_NODELAY`, listen
//! backlog, the pull-mode queue capacity, the per-address limit and the
//! server's notices (to refused connections, to clients cut off for a
//! timeout). Each setter stores its value; `tcphub_server_start` hands
//! them to the core's builder (see `Tuning::apply`).

use std::ffi::{c_int, c_uint};
use std::time::Duration;

use tcphub_core::{Overflow, TcpServer};

use crate::boundary::Fail;
use crate::codes::*;
use crate::server::{tcphub_server, tune};

/// The settings of this module; `None` / 0 keep the core's defaults.
#[derive(Debug, Default)]
pub(crate) struct Tuning {
    overflow: Option<Overflow>,
    linger_ms: Option<u64>,
    /// How long a half-closed client is held for replies, in milliseconds
    /// (0 = the default hold).
    hold_for_replies_ms: u64,
    /// Keepalive idle time in milliseconds (0 = off, the default).
    keepalive_ms: u64,
    nodelay: Option<bool>,
    backlog: Option<i32>,
    event_capacity: Option<usize>,
    /// The notice for connections refused at `max_clients`.
    full_message: Option<Vec<u8>>,
    /// Most clients from one IP address (`None`: no limit), and the notice
    /// for connections refused at it.
    max_clients_per_ip: Option<usize>,
    per_ip_full_message: Option<Vec<u8>>,
    /// The leading bits of an IPv6 address counted for it (`None`: 128).
    per_ip_ipv6_prefix: Option<u8>,
    /// The notices for clients cut off by the idle and the frame timeout,
    /// and for an oversize frame.
    idle_timeout_message: Option<Vec<u8>>,
    frame_timeout_message: Option<Vec<u8>>,
    frame_too_large_message: Option<Vec<u8>>,
}

impl Tuning {
    /// `b` with these settings.
    pub(crate) fn apply(&self, mut b: TcpServer) -> TcpServer {
        if let Some(p) = self.overflow {
            b = b.overflow(p);
        }
        if let Some(ms) = self.linger_ms {
            b = b.linger(Duration::from_millis(ms));
        }
        if self.hold_for_replies_ms > 0 {
            b = b.hold_for_replies(Duration::from_millis(self.hold_for_replies_ms));
        }
        if self.keepalive_ms > 0 {
            b = b.keepalive(Duration::from_millis(self.keepalive_ms));
        }
        if let Some(on) = self.nodelay {
            b = b.nodelay(on);
        }
        if let Some(n) = self.backlog {
            b = b.backlog(n);
        }
        if let Some(n) = self.event_capacity {
            b = b.event_capacity(n);
        }
        if let Some(msg) = &self.full_message {
            b = b.full_message(msg);
        }
        if let Some(n) = self.max_clients_per_ip {
            b = b.max_clients_per_ip(n);
        }
        if let Some(msg) = &self.per_ip_full_message {
            b = b.per_ip_full_message(msg);
        }
        if let Some(bits) = self.per_ip_ipv6_prefix {
            b = b.per_ip_ipv6_prefix(bits);
        }
        if let Some(msg) = &self.idle_timeout_message {
            b = b.idle_timeout_message(msg);
        }
        if let Some(msg) = &self.frame_timeout_message {
            b = b.frame_timeout_message(msg);
        }
        if let Some(msg) = &self.frame_too_large_message {
            b = b.frame_too_large_message(msg);
        }
        b
    }
}

/// What happens when a message does not fit a client's queue (see
/// `tcphub_server_set_max_queue_bytes`): `TCPHUB_OVERFLOW_DISCONNECT` (the
/// default) disconnects the client with `TCPHUB_REASON_SLOW_CONSUMER`;
/// `TCPHUB_OVERFLOW_DROP_MESSAGE` drops that message for that client and
/// counts it in `tcphub_stats.dropped`. Takes effect at the next
/// `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_INVALID_ARG` for another value,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_overflow(s: *mut tcphub_server, policy: c_int) -> c_int {
    let policy = match policy {
        TCPHUB_OVERFLOW_DISCONNECT => Ok(Overflow::Disconnect),
        TCPHUB_OVERFLOW_DROP_MESSAGE => Ok(Overflow::DropMessage),
        other => Err(Fail::new(
            TCPHUB_ERR_INVALID_ARG,
            format!("unknown overflow policy {other}"),
        )),
    };
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_overflow", s, |t| {
            t.overflow = Some(policy?);
            Ok(())
        })
    }
}

/// How long `tcphub_server_stop` (and `tcphub_server_free`) keep writing
/// queued messages before closing the connections, in milliseconds
/// (default 2000; 0 closes at once). In pull mode it is also how long a
/// client that finished sending is held open for replies after its
/// `TCPHUB_EVENT_DISCONNECTED` was taken. Takes effect at the next
/// `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_linger(s: *mut tcphub_server, linger_ms: u64) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_linger", s, |t| {
            t.linger_ms = Some(linger_ms);
            Ok(())
        })
    }
}

/// Keeps a client that finished sending (`shutdown(SHUT_WR)` after its
/// request, as `nc -N` does) open for your replies for up to `window_ms`
/// milliseconds, with callbacks and in pull mode alike (0, the default:
/// off) — for answers that come from worker threads. Its last messages are
/// handed out and its leaving is reported as usual (`on_disconnect` or
/// `TCPHUB_EVENT_DISCONNECTED`, `TCPHUB_REASON_CLOSED_BY_PEER`), but
/// `tcphub_server_send`, `_send_to` and broadcasts still reach it (it is
/// no longer listed or counted; it still counts toward `max_clients`). It
/// is closed, once what is queued for it is written (up to the linger
/// time), when you call `tcphub_server_disconnect` for it — do, once it is
/// answered: the client waits for that end —, when `window_ms` has passed
/// since its leaving was reported (in pull mode: since you took that
/// event; until then it is held, keeping its place), when a write to it
/// fails or the client resets it, when keepalive finds it gone, or at the
/// stop; no second leaving is reported. Off, a server with callbacks closes such a client
/// once the callbacks for its last messages have returned, and a
/// pull-mode server holds it until the next `tcphub_server_next_event`.
/// Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_hold_for_replies(
    s: *mut tcphub_server,
    window_ms: u64,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_hold_for_replies", s, |t| {
            t.hold_for_replies_ms = window_ms;
            Ok(())
        })
    }
}

/// Enables TCP keepalive probes on client connections after `idle_ms`
/// milliseconds without traffic (0, the default, leaves them off), so
/// peers that vanish without closing are disconnected
/// (`TCPHUB_REASON_IO`): probes go every third of the idle time (at least
/// 1 s), and 3 unanswered ones end the connection, about twice the idle
/// time after the peer's last traffic — also while data sent to it waits
/// for acknowledgement (the kernel resends it then instead of probing; the
/// server watches such connections itself). A live client that merely
/// stopped reading is not dropped for it. The kernel counts whole seconds:
/// `idle_ms` is rounded up to them; over 32,767 s (the most it takes)
/// `tcphub_server_start` fails with
/// `TCPHUB_ERR_INVALID_ARG`. Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_keepalive(s: *mut tcphub_server, idle_ms: u64) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_keepalive", s, |t| {
            t.keepalive_ms = idle_ms;
            Ok(())
        })
    }
}

/// Sets `TCP_NODELAY` on client connections (default true: small messages
/// go out at once instead of waiting to be coalesced). Takes effect at the
/// next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_nodelay(s: *mut tcphub_server, on: bool) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_nodelay", s, |t| {
            t.nodelay = Some(on);
            Ok(())
        })
    }
}

/// The listen backlog: connections the kernel completes and queues while
/// the server is busy (default 4096; the kernel caps it at
/// `net.core.somaxconn`). Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_INVALID_ARG` when `backlog` is below 1,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_backlog(s: *mut tcphub_server, backlog: c_int) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_backlog", s, |t| {
            if backlog < 1 {
                return Err(Fail::new(
                    TCPHUB_ERR_INVALID_ARG,
                    format!("backlog must be at least 1, not {backlog}"),
                ));
            }
            t.backlog = Some(backlog);
            Ok(())
        })
    }
}

/// Pull mode (no callbacks set): how many events the queue of
/// `tcphub_server_next_event` holds at most (0: the default, 65536). While
/// the queue is full, or its messages hold 64 MiB, the server stops reading
/// from clients until events are taken (TCP backpressure, bounded memory).
/// What comes past a full queue — the rest of the read that found it full
/// (at most 64 KiB of input per event loop), clients arriving and
/// leaving — waits in the event loops for room (once 1,024 events wait
/// so, no new connection is accepted: it waits in the listen backlog, and
/// a stop meanwhile closes the listener without admitting it), and at a
/// stop it comes after the queue, with the clients' last
/// `TCPHUB_EVENT_DISCONNECTED`s: then more events than this wait to be
/// taken (as `tcphub_server_pending_events` says), so size no array by it.
/// Any other value is the bound as given, as for the Rust core's
/// `TcpServer::event_capacity`: `SIZE_MAX` in effect removes the bound on
/// the number of events, and the 64 MiB bound still holds. Takes effect at
/// the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_event_capacity(
    s: *mut tcphub_server,
    events: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_event_capacity", s, |t| {
            t.event_capacity = (events > 0).then_some(events);
            Ok(())
        })
    }
}

/// A message (`len` bytes at `msg`) sent to each connection refused because
/// `max_clients` clients are connected, framed like every other message,
/// just before the server closes it — so the peer learns why instead of
/// seeing a bare end-of-stream. `msg` NULL (with `len` 0) removes it; none
/// is the default. Until the peer has acknowledged the notice, the refused
/// socket lingers (input read and discarded, up to the linger time), so a
/// peer that keeps sending still gets all of it rather than a reset; past
/// 1,024 lingering sockets per event loop (or `max_clients`, if fewer) a
/// refused socket is closed at once and a peer still sending may get a
/// reset instead of the notice's rest. The bytes are copied. It is written once without
/// waiting, so `tcphub_server_start` fails with `TCPHUB_ERR_INVALID_ARG`
/// when its frame is longer than 4096 bytes, the message is over the
/// framing's `max_len`, or it contains `\n` under `TCPHUB_FRAMING_LINES`.
/// Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_full_message(
    s: *mut tcphub_server,
    msg: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_full_message", s, |t| {
            t.full_message = notice(msg, len)?;
            Ok(())
        })
    }
}

/// At most `n` clients from one IP address at a time (0, the default: no
/// limit but `max_clients`), so that one host cannot take all of
/// `max_clients`. A connection past it is accepted and closed at once, as
/// one past `max_clients` is, after the notice of
/// `tcphub_server_set_per_ip_full_message` if set, and counted in
/// `tcphub_stats.rejected_per_ip`; a client's place is given back when its
/// connection is closed, as its place among `max_clients` is (a client held
/// open for replies after its DISCONNECTED keeps it until then: in pull
/// mode until the next `tcphub_server_next_event`). An IPv4 client on a
/// dual-stack listener counts as its IPv4 address, an IPv6 one by all 128
/// bits unless `tcphub_server_set_per_ip_ipv6_prefix` says otherwise;
/// clients behind one NAT share an address. When the server is full
/// as well, `max_clients` decides: the connection gets the full notice and
/// counts in `tcphub_stats.rejected`. Takes effect at the next `tcphub_server_start`.
///
/// ```c
/// tcphub_server *srv = tcphub_server_new(8001, 1000);
/// tcphub_server_set_max_clients_per_ip(srv, 8);
/// ```
///
/// Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_max_clients_per_ip(
    s: *mut tcphub_server,
    n: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_max_clients_per_ip", s, |t| {
            t.max_clients_per_ip = (n > 0).then_some(n);
            Ok(())
        })
    }
}

/// Counts IPv6 clients for `tcphub_server_set_max_clients_per_ip` by
/// network: those whose addresses share their first `bits` bits (1 to 128;
/// 128, the default: each address on its own) share one limit. An IPv6
/// host is commonly given a whole /64 and can connect from any address in
/// it; 64 counts such a host once. IPv4 clients always count by their
/// whole address. The engine's log lines of refusals (at
/// `TCPHUB_LOG_INFO`, see `tcphub_set_log_callback`) name the network,
/// `2001:db8:1:2::/64`; the counts are in `tcphub_server_stats`. Takes
/// effect at the next `tcphub_server_start`.
///
/// ```c
/// tcphub_server_set_max_clients_per_ip(srv, 8);
/// tcphub_server_set_per_ip_ipv6_prefix(srv, 64);
/// ```
///
/// Returns `TCPHUB_ERR_INVALID_ARG` for `bits` of 0 or over 128,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_per_ip_ipv6_prefix(
    s: *mut tcphub_server,
    bits: c_uint,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_per_ip_ipv6_prefix", s, |t| {
            match u8::try_from(bits) {
                Ok(b @ 1..=128) => t.per_ip_ipv6_prefix = Some(b),
                _ => {
                    return Err(Fail::new(
                        TCPHUB_ERR_INVALID_ARG,
                        format!("per_ip_ipv6_prefix must be 1 to 128, not {bits}"),
                    ))
                }
            }
            Ok(())
        })
    }
}

/// Like `tcphub_server_set_full_message`, for connections refused because
/// `tcphub_server_set_max_clients_per_ip` clients from their IP address are
/// connected.
///
/// Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_per_ip_full_message(
    s: *mut tcphub_server,
    msg: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_per_ip_full_message", s, |t| {
            t.per_ip_full_message = notice(msg, len)?;
            Ok(())
        })
    }
}

/// A message (`len` bytes at `msg`) sent, framed like every other message,
/// to each client cut off by the idle timeout
/// (`tcphub_server_set_idle_timeout`), before its connection is closed —
/// so the peer learns why instead of seeing a bare end-of-stream. It is
/// queued after what was already queued for the client (which gets the
/// linger time to take it all), even when the client's queue is full, and
/// is not counted in `tcphub_stats.msgs_out` (its bytes, once written, are
/// in `bytes_out`); the application's event still
/// says `TCPHUB_REASON_IDLE_TIMEOUT`. `msg` NULL (with `len` 0) removes it;
/// none is the default. The bytes are copied. `tcphub_server_start` fails
/// with `TCPHUB_ERR_INVALID_ARG` when its frame is longer than 4096 bytes,
/// the message is over the framing's `max_len`, or it contains `\n` under
/// `TCPHUB_FRAMING_LINES`. Takes effect at the next `tcphub_server_start`.
///
/// Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_idle_timeout_message(
    s: *mut tcphub_server,
    msg: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_idle_timeout_message", s, |t| {
            t.idle_timeout_message = notice(msg, len)?;
            Ok(())
        })
    }
}

/// Like `tcphub_server_set_idle_timeout_message`, for clients cut off by
/// the frame timeout (`tcphub_server_set_frame_timeout`: a frame begun
/// and not finished in time; the event says
/// `TCPHUB_REASON_FRAME_TIMEOUT`).
///
/// Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_frame_timeout_message(
    s: *mut tcphub_server,
    msg: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_frame_timeout_message", s, |t| {
            t.frame_timeout_message = notice(msg, len)?;
            Ok(())
        })
    }
}

/// Like `tcphub_server_set_idle_timeout_message`, for clients cut off for
/// a frame over the framing's `max_len` (the event says
/// `TCPHUB_REASON_FRAME_TOO_LARGE`): what the client sends after it is read
/// and discarded until the notice is acknowledged. A peer that speaks
/// another framing learns that it was cut off rather than seeing a bare
/// end-of-stream. Under `TCPHUB_FRAMING_RAW` no frame is too large: it is
/// never sent.
///
/// ```c
/// const char *why = "disconnected: message too long";
/// tcphub_server_set_frame_too_large_message(srv, (const uint8_t *)why, strlen(why));
/// ```
///
/// Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
/// `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
///
/// # Safety
///
/// `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcphub_server_set_frame_too_large_message(
    s: *mut tcphub_server,
    msg: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe {
        tune("tcphub_server_set_frame_too_large_message", s, |t| {
            t.frame_too_large_message = notice(msg, len)?;
            Ok(())
        })
    }
}

/// A notice setting's bytes, copied: `None` for `msg` NULL with `len` 0.
///
/// # Safety
///
/// `msg` is NULL or `len` readable bytes.
unsafe fn notice(msg: *const u8, len: usize) -> Result<Option<Vec<u8>>, Fail> {
    if msg.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: the caller's promise.
    Ok(Some(
        unsafe { crate::boundary::named_bytes("msg", msg, len) }?.to_vec(),
    ))
}

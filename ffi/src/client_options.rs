//! `tcphub_client_options` and `tcphub_client_connect_with`: a client with
//! every setting of the core's `ClientBuilder` (reconnect, timeouts, queue
//! bound, linger, `TCP_NODELAY`, keepalive, pull-queue capacity, writing
//! after the server's end-of-stream, a token to cancel the connect).

use std::ffi::{c_char, c_int};
use std::time::Duration;

use tcphub_core::{
    Reconnect, TcpClient, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_CAPACITY, DEFAULT_LINGER,
    DEFAULT_MAX_QUEUE_BYTES,
};

use crate::boundary::{self, boundary, Fail};
use crate::client::tcphub_client;
use crate::codes::*;
use crate::connect_cancel::tcphub_connect_cancel;

/// Settings for `tcphub_client_connect_with`. Fill one with
/// `tcphub_client_options_init` (the defaults), then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tcphub_client_options {
    /// `sizeof(tcphub_client_options)`, set by `tcphub_client_options_init`,
    /// so that `tcphub_client_connect_with` refuses options that were not
    /// (a zeroed struct, say). It is no promise across versions: the layout
    /// changes only with the library's ABI version, which is in its SONAME
    /// (`libtcphub.so.0.1` for 0.1.x, see `scripts/install-c.sh`), so a
    /// program built against one layout never loads a library with another.
    pub size: usize,
    /// `TCPHUB_FRAMING_*`, as the server's (default `TCPHUB_FRAMING_RAW`).
    pub framing: tcphub_framing,
    /// Largest frame (0, the default: the framing's own default). RAW has
    /// no frames: with it, anything but 0 is refused
    /// (`TCPHUB_ERR_INVALID_ARG`).
    pub max_len: usize,
    /// Time allowed for each connection attempt, in milliseconds (default
    /// 10000; must be more than 0).
    pub connect_timeout_ms: u64,
    /// Reconnect automatically after the connection drops (default false).
    /// Messages sent while it is down wait in the queue. A host name is
    /// looked up again for the redials, so a server back at another address
    /// is found there.
    pub reconnect: bool,
    /// Reconnect backoff: the first delay's cap, doubling per failed attempt
    /// up to `reconnect_max_ms`, each delay jittered below its cap (defaults
    /// 100 and 30000; both must be more than 0).
    pub reconnect_initial_ms: u64,
    /// See `reconnect_initial_ms`.
    pub reconnect_max_ms: u64,
    /// Give up after this many failed attempts in a row (0, the default:
    /// never). A connection that drops less than a second after it was made
    /// counts as a failed attempt: the count and the backoff go on instead
    /// of starting again at 1 (a server that accepts and closes at once is
    /// not hammered), so this bound applies across such drops. Set without
    /// `reconnect`, `tcphub_client_connect_with` refuses it
    /// (`TCPHUB_ERR_INVALID_ARG`): the client would not reconnect at all.
    pub reconnect_max_attempts: u32,
    /// Bound on bytes accepted by `tcphub_client_send` and not yet written
    /// (default 4 MiB); past it sends return `TCPHUB_ERR_QUEUE_FULL`. One
    /// message larger than the bound is still accepted when nothing is
    /// queued (so any message can be sent); later sends return
    /// `TCPHUB_ERR_QUEUE_FULL` until it is written. It must be more than 0 (unlike `tcphub_server_set_max_queue_bytes`, 0 is
    /// no default here). There is no "no limit" value, but `SIZE_MAX` (like
    /// any bound beyond the memory) in effect removes the bound: sends then
    /// never return `TCPHUB_ERR_QUEUE_FULL`, and what waits for a slow (or,
    /// with `reconnect`, absent) server stays in memory.
    pub max_queue_bytes: usize,
    /// How long `tcphub_client_close` / `_free` keep writing what is queued
    /// and waiting for the server to acknowledge it, in milliseconds
    /// (default 2000); also, with `write_after_server_eof` and without
    /// reconnect, how long it is still written after the server ended its
    /// sending side.
    pub linger_ms: u64,
    /// `TCP_NODELAY` (default true).
    pub nodelay: bool,
    /// How many events the queue holds at most (default 65536): received
    /// messages (`tcphub_client_recv`), and also the drops and reconnects
    /// `tcphub_client_next_event` reports, which `tcphub_client_recv` skips.
    /// While full, or while its messages hold 64 MiB, the client stops
    /// reading the socket; the rest of the read that filled it (at most
    /// 64 KiB of input) waits in the I/O thread for room, and once the
    /// client has ended (closed, or the connection lost for good) it comes
    /// after the queue, with DISCONNECTED and CLOSED: more events than this
    /// may then be taken. It must be more than 0; `SIZE_MAX` in effect
    /// removes the bound on the number of events, and the 64 MiB bound still
    /// holds.
    pub event_capacity: usize,
    /// TCP keepalive probes after this many milliseconds without traffic, on
    /// every connection (reconnects included), so a server whose host
    /// vanished without a FIN is found even by a client that only receives
    /// (0, the default: off). Rounded up to whole seconds, at most 32,767 s,
    /// as `tcphub_server_set_keepalive`.
    pub keepalive_ms: u64,
    /// What happens to messages still queued when the server ends its
    /// sending side (end-of-stream) without `reconnect`, or while closing.
    /// False, the default: the server's end-of-stream ends the connection at
    /// once (`TCPHUB_REASON_CLOSED_BY_PEER`), nothing more is written, and
    /// the messages left are dropped and counted in `tcphub_client_unsent`.
    /// True: they are still written, within `linger_ms` (a server that
    /// half-closed may still read them), and the end is
    /// `TCPHUB_REASON_CLOSED_BY_PEER` once they are. With `reconnect` (and
    /// not closing) the end-of-stream ends the connection either way, and
    /// the queue waits for the next one. The default suits a tcphub server,
    /// and any server that closes rather than half-closes: a tcphub server
    /// that has ended a connection (stopped, kicked or timed out the
    /// client) reads and discards what still arrives, so written on, those
    /// messages would be lost with an end that looks clean. Set it true for
    /// a server known to half-close and read on (one that sends its last
    /// request and half-closes to wait for the answer, say: otherwise a
    /// reply to that request is dropped too).
    pub write_after_server_eof: bool,
    /// A token another thread may cancel the connect with (NULL, the
    /// default: none); see `tcphub_connect_cancel`. The connect takes its
    /// own share of it as it starts.
    pub cancel: *const tcphub_connect_cancel,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Default for tcphub_client_options {
    fn default() -> tcphub_client_options {
        let r = Reconnect::default();
        tcphub_client_options {
            size: std::mem::size_of::<tcphub_client_options>(),
            framing: TCPHUB_FRAMING_RAW,
            max_len: 0,
            connect_timeout_ms: millis(DEFAULT_CONNECT_TIMEOUT),
            reconnect: false,
            reconnect_initial_ms: millis(r.initial),
            reconnect_max_ms: millis(r.max),
            reconnect_max_attempts: 0,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            linger_ms: millis(DEFAULT_LINGER),
            nodelay: true,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            keepalive_ms: 0,
            write_after_server_eof: false,
            cancel: std::ptr::null(),
        }
    }
}

/// Fills `*options` with the defaults (see each field). NULL is a no-op.
///
/// # Safety
///
/// `options` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_options_init(options: *mut tcphub_client_options) {
    boundary("tcphub_client_options_init", || {
        if !options.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { options.write(tcphub_client_options::default()) };
        }
        Ok(())
    })
}

/// Connects to `host`:`port` as `tcphub_client_connect` does, with the
/// settings in `*options` (made by `tcphub_client_options_init`), and stores
/// the new client in `*client_out`. The first connection must succeed;
/// with `reconnect` set, later drops are redialled with backoff while
/// `tcphub_client_is_connected` is false, and `tcphub_client_recv` keeps
/// returning messages across them.
///
/// Returns `TCPHUB_ERR_CONNECT` (refused, timed out, unresolvable;
/// `tcphub_last_error()` names every address tried, each with its error;
/// cancelled through `options->cancel`, with `tcphub_last_errno()` `EINTR`),
/// `TCPHUB_ERR_INVALID_ARG` (an empty `host`, a `host` with a port in it,
/// `port` 0, `options->size`
/// smaller than this version's struct, an unknown framing, a zero
/// `connect_timeout_ms`, zero reconnect delays with `reconnect` set, a
/// `reconnect_max_attempts` without `reconnect`, a zero
/// `max_queue_bytes` or `event_capacity`, a `keepalive_ms` over
/// 32,767 s), `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`. On failure
/// `*client_out` is set to NULL.
///
/// ```c
/// tcphub_client_options o;
/// tcphub_client_options_init(&o); // the defaults, and o.size
/// o.framing = TCPHUB_FRAMING_LINES;
/// o.reconnect = true;
/// o.reconnect_max_attempts = 10;
/// tcphub_client *c;
/// if (tcphub_client_connect_with(host, port, &o, &c) != TCPHUB_OK)
///     fprintf(stderr, "%s\n", tcphub_last_error()); // c is NULL
/// ```
///
/// # Safety
///
/// `host` is NULL or a NUL-terminated string; `options` is NULL or
/// readable, and its `cancel` NULL or a live token; `client_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tcphub_client_connect_with(
    host: *const c_char,
    port: u16,
    options: *const tcphub_client_options,
    client_out: *mut *mut tcphub_client,
) -> c_int {
    boundary("tcphub_client_connect_with", || {
        if client_out.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "client_out is NULL"));
        }
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { client_out.write(std::ptr::null_mut()) };
        // SAFETY: the caller's promise.
        let host = unsafe { boundary::host(host)? };
        if options.is_null() {
            return Err(Fail::new(TCPHUB_ERR_NULL, "options is NULL"));
        }
        // SAFETY: non-NULL; `size` is the first field, readable in any
        // version of the struct.
        let size = unsafe { options.cast::<usize>().read() };
        let want = std::mem::size_of::<tcphub_client_options>();
        if size < want {
            return Err(Fail::invalid(format!(
                "options->size is {size}, this version needs {want}: \
                 fill the options with tcphub_client_options_init"
            )));
        }
        // SAFETY: readable, and at least this version's size.
        let o = unsafe { options.read() };
        if o.reconnect_max_attempts > 0 && !o.reconnect {
            // Taken and ignored, it read as a limit on reconnecting while
            // the client did not reconnect at all (Python refuses it too).
            return Err(Fail::invalid(
                "reconnect_max_attempts applies only with reconnect set",
            ));
        }
        let mut b = TcpClient::builder((host, port))
            .framing(boundary::framing(o.framing, o.max_len)?)
            .connect_timeout(Duration::from_millis(o.connect_timeout_ms))
            .max_queue_bytes(o.max_queue_bytes)
            .linger(Duration::from_millis(o.linger_ms))
            .nodelay(o.nodelay)
            .event_capacity(o.event_capacity)
            .write_after_server_eof(o.write_after_server_eof);
        if o.keepalive_ms > 0 {
            b = b.keepalive(Duration::from_millis(o.keepalive_ms));
        }
        // SAFETY: NULL or a live token, by the caller's promise.
        if let Some(cancel) = unsafe { o.cancel.as_ref() } {
            b = b.cancel_with(cancel.token());
        }
        if o.reconnect {
            b = b.reconnect(Reconnect {
                initial: Duration::from_millis(o.reconnect_initial_ms),
                max: Duration::from_millis(o.reconnect_max_ms),
                max_attempts: (o.reconnect_max_attempts > 0).then_some(o.reconnect_max_attempts),
            });
        }
        let client = tcphub_client::boxed(b.connect()?);
        // SAFETY: as above.
        unsafe { client_out.write(client) };
        Ok(TCPHUB_OK)
    })
}

//! Integer constants of the C API and the two functions that explain them.
//!
//! Error codes are the negation of [`tcphub_core::Error::code`] and reasons
//! are [`tcphub_core::DisconnectReason::code`]; the literals below exist only
//! because cbindgen needs literals, and the unit tests at the end check each
//! one against the core.

use std::ffi::{c_char, c_int, CStr};

use crate::boundary::{self, boundary};

/// Success. Every function returning `int` returns `TCPHUB_OK` or one of
/// the negative `TCPHUB_ERR_*` codes, but `tcphub_last_errno` and
/// `tcphub_last_gai_error` (an `errno` or `EAI_*` value),
/// `tcphub_ready_fd_fileno` (a descriptor, or -1) and `tcphub_ready_fd_arm`
/// (1 or 0 on success).
pub const TCPHUB_OK: c_int = 0;
/// A required pointer argument was NULL.
pub const TCPHUB_ERR_NULL: c_int = -1;
/// An argument or setting is invalid: an unparsable IP address, an unknown
/// framing value, zero threads, a string that is not UTF-8, ...
pub const TCPHUB_ERR_INVALID_ARG: c_int = -2;
/// The server could not listen on its address (in use, permission denied).
pub const TCPHUB_ERR_BIND: c_int = -3;
/// The client could not connect (refused, timed out, unresolvable host).
pub const TCPHUB_ERR_CONNECT: c_int = -4;
/// No connected client has this id (or this ip:port, for `tcphub_server_send_to`).
pub const TCPHUB_ERR_NO_SUCH_CLIENT: c_int = -5;
/// The server or client is not running: never started, or stopped/closed.
pub const TCPHUB_ERR_NOT_RUNNING: c_int = -6;
/// The message is longer than the framing's `max_len` (under
/// `TCPHUB_FRAMING_LENGTH_PREFIXED` at most 4 GiB − 1 bytes, what its 4-byte
/// length can say, whatever `max_len` is set).
pub const TCPHUB_ERR_FRAME_TOO_LARGE: c_int = -7;
/// The client's bounded send queue is full.
pub const TCPHUB_ERR_QUEUE_FULL: c_int = -8;
/// A timed wait ran out before anything arrived or finished; also what
/// `tcphub_server_stop_timeout` and `tcphub_client_close_timeout` return at
/// once from inside a callback, where they do not wait
/// (`tcphub_server_wait` there does wait, blocking that loop, while the
/// server runs; see each function).
pub const TCPHUB_ERR_TIMEOUT: c_int = -9;
/// Another operating-system failure; `tcphub_last_error()` says which.
pub const TCPHUB_ERR_IO: c_int = -10;
/// The framing cannot carry the message as it is: under
/// `TCPHUB_FRAMING_LINES`, one containing `\n` (it would arrive as several
/// messages). Nothing was queued.
pub const TCPHUB_ERR_INVALID_MESSAGE: c_int = -11;
/// `tcphub_server_start` or a setter was called while the server runs (or
/// `tcphub_server_start` from inside one of the server's own callbacks).
/// (Codes from -100 on exist only in the C binding.)
pub const TCPHUB_ERR_ALREADY_RUNNING: c_int = -100;
/// A bug inside tcphub was caught at the boundary; the call did nothing
/// further. Please report it with `tcphub_last_error()`.
pub const TCPHUB_ERR_PANIC: c_int = -101;

/// Disconnect reason: the peer closed its side cleanly.
pub const TCPHUB_REASON_CLOSED_BY_PEER: c_int = 0;
/// Disconnect reason: the peer reset the connection.
pub const TCPHUB_REASON_RESET: c_int = 1;
/// Disconnect reason: another I/O error, including EOF in the middle of a
/// `TCPHUB_FRAMING_LENGTH_PREFIXED` frame (under `TCPHUB_FRAMING_LINES` an
/// unterminated last line is a message, and the end `TCPHUB_REASON_CLOSED_BY_PEER`).
pub const TCPHUB_REASON_IO: c_int = 2;
/// Disconnect reason: the peer sent a frame longer than the framing's `max_len`.
pub const TCPHUB_REASON_FRAME_TOO_LARGE: c_int = 3;
/// Disconnect reason: the client's outbound queue overflowed (it reads too slowly).
pub const TCPHUB_REASON_SLOW_CONSUMER: c_int = 4;
/// Disconnect reason: the client sent nothing for the idle timeout.
pub const TCPHUB_REASON_IDLE_TIMEOUT: c_int = 5;
/// Disconnect reason: `tcphub_server_disconnect` was called for it.
pub const TCPHUB_REASON_KICKED: c_int = 6;
/// Disconnect reason: the server is stopping.
pub const TCPHUB_REASON_SERVER_STOPPED: c_int = 7;
/// Disconnect reason: this side closed the connection (client API), and
/// did so first: a server that ended its side before the close's flush was
/// done gives `TCPHUB_REASON_CLOSED_BY_PEER`.
pub const TCPHUB_REASON_CLOSED_LOCALLY: c_int = 8;
/// Disconnect reason: a started frame was not completed within the frame
/// timeout (`tcphub_server_set_frame_timeout`).
pub const TCPHUB_REASON_FRAME_TIMEOUT: c_int = 9;
/// Disconnect reason (`tcphub_client_disconnect_reason` only): the client's
/// reconnecting gave up after `reconnect_max_attempts` failed attempts, and
/// it is closed for good.
pub const TCPHUB_REASON_RECONNECT_GAVE_UP: c_int = 10;

/// A value of `TCPHUB_FRAMING_*`. An `int` rather than an `enum` so that an
/// unknown value is reported as `TCPHUB_ERR_INVALID_ARG`.
pub type tcphub_framing = c_int;
/// No framing: each read's bytes are one message; sends write bytes as-is.
pub const TCPHUB_FRAMING_RAW: tcphub_framing = 0;
/// One message per line: `\n` ends a message (a trailing `\r` is dropped);
/// sending appends `\n` to the message, so send a line without its own
/// `\n`: a message containing `\n` — at its end too — is
/// refused by every send with `TCPHUB_ERR_INVALID_MESSAGE`; one ending in
/// `\r` is sent as it is and arrives without that `\r`: use
/// `TCPHUB_FRAMING_LENGTH_PREFIXED` for binary or multi-line messages.
/// A last line without its `\n` at the peer's clean end of stream is
/// handed out as a message too, and the end is
/// `TCPHUB_REASON_CLOSED_BY_PEER` (a length-prefixed frame cut short is
/// dropped, with `TCPHUB_REASON_IO`). `max_len` 0 means 64 KiB.
pub const TCPHUB_FRAMING_LINES: tcphub_framing = 1;
/// A 4-byte big-endian length, then the payload. `max_len` 0 means 8 MiB.
pub const TCPHUB_FRAMING_LENGTH_PREFIXED: tcphub_framing = 2;

/// `tcphub_server_set_overflow`: disconnect a client whose queue is full,
/// with `TCPHUB_REASON_SLOW_CONSUMER` (the default).
pub const TCPHUB_OVERFLOW_DISCONNECT: c_int = 0;
/// `tcphub_server_set_overflow`: drop the message that does not fit, for
/// that client only, and count it in `tcphub_stats.dropped`.
pub const TCPHUB_OVERFLOW_DROP_MESSAGE: c_int = 1;

/// `tcphub_event.kind`: nothing (a zeroed or released event).
pub const TCPHUB_EVENT_NONE: c_int = 0;
/// `tcphub_event.kind`: a client connected.
pub const TCPHUB_EVENT_CONNECTED: c_int = 1;
/// `tcphub_event.kind`: a client sent a message (`data`, `len`).
pub const TCPHUB_EVENT_MESSAGE: c_int = 2;
/// `tcphub_event.kind`: a client left (`reason`); no more events for its id.
pub const TCPHUB_EVENT_DISCONNECTED: c_int = 3;

/// `tcphub_client_event.kind`: nothing (a zeroed or released event).
pub const TCPHUB_CLIENT_EVENT_NONE: c_int = 0;
/// `tcphub_client_event.kind`: a message from the server (`message`).
pub const TCPHUB_CLIENT_EVENT_MESSAGE: c_int = 1;
/// `tcphub_client_event.kind`: the connection ended (`reason`).
pub const TCPHUB_CLIENT_EVENT_DISCONNECTED: c_int = 2;
/// `tcphub_client_event.kind`: a reconnect attempt (`attempt`) comes after
/// `delay_ms`. `attempt` is 1 for the first after a drop, unless the
/// connection that dropped lasted under a second: then the count goes on
/// (see `reconnect_max_attempts`). While the event queue is full, one
/// still waiting for room is replaced by the next attempt's, so attempt
/// numbers may skip.
pub const TCPHUB_CLIENT_EVENT_RECONNECTING: c_int = 3;
/// `tcphub_client_event.kind`: reconnect attempt `attempt` succeeded, from
/// `local_ip`:`local_port` — the place to log in or subscribe again.
pub const TCPHUB_CLIENT_EVENT_RECONNECTED: c_int = 4;
/// `tcphub_client_event.kind`: the client is closed for good; the last event.
pub const TCPHUB_CLIENT_EVENT_CLOSED: c_int = 5;

/// Size of `tcphub_event.ip`: room for any IPv6 text and its NUL (INET6_ADDRSTRLEN).
pub const TCPHUB_IP_LEN: usize = 46;

/// The core error behind a code, and its fixed description.
fn describe(code: c_int) -> &'static CStr {
    match code {
        TCPHUB_OK => c"success",
        TCPHUB_ERR_NULL => c"a required pointer argument was NULL",
        TCPHUB_ERR_INVALID_ARG => c"invalid argument",
        TCPHUB_ERR_BIND => c"cannot listen on the address",
        TCPHUB_ERR_CONNECT => c"cannot connect",
        TCPHUB_ERR_NO_SUCH_CLIENT => c"no such client",
        TCPHUB_ERR_NOT_RUNNING => c"not running",
        TCPHUB_ERR_FRAME_TOO_LARGE => c"message exceeds the frame limit",
        TCPHUB_ERR_QUEUE_FULL => c"outbound queue full",
        TCPHUB_ERR_TIMEOUT => c"timed out",
        TCPHUB_ERR_IO => c"i/o error",
        TCPHUB_ERR_INVALID_MESSAGE => c"invalid message: a newline under lines framing",
        TCPHUB_ERR_ALREADY_RUNNING => c"already running",
        TCPHUB_ERR_PANIC => c"internal error (panic caught at the C boundary)",
        _ => c"unknown error code",
    }
}

/// A static, human-readable description of `code` (a `TCPHUB_OK` or
/// `TCPHUB_ERR_*` value); "unknown error code" for anything else. Never NULL;
/// never free it.
#[no_mangle]
pub extern "C" fn tcphub_strerror(code: c_int) -> *const c_char {
    boundary("tcphub_strerror", || Ok(describe(code).as_ptr()))
}

/// The fixed description of a disconnect reason.
fn describe_reason(reason: c_int) -> &'static CStr {
    match reason {
        TCPHUB_REASON_CLOSED_BY_PEER => c"closed by peer",
        TCPHUB_REASON_RESET => c"connection reset",
        TCPHUB_REASON_IO => c"i/o error",
        TCPHUB_REASON_FRAME_TOO_LARGE => c"frame too large",
        TCPHUB_REASON_SLOW_CONSUMER => c"slow consumer",
        TCPHUB_REASON_IDLE_TIMEOUT => c"idle timeout",
        TCPHUB_REASON_KICKED => c"kicked",
        TCPHUB_REASON_SERVER_STOPPED => c"server stopped",
        TCPHUB_REASON_CLOSED_LOCALLY => c"closed locally",
        TCPHUB_REASON_FRAME_TIMEOUT => c"frame not finished in time",
        TCPHUB_REASON_RECONNECT_GAVE_UP => c"gave up reconnecting",
        _ => c"unknown reason",
    }
}

/// A static, human-readable description of a disconnect reason (a
/// `TCPHUB_REASON_*` value, as `on_disconnect`, `tcphub_event.reason` and
/// `tcphub_client_disconnect_reason` give it), e.g. "closed by peer" — the
/// words the Rust and Python APIs use; "unknown reason" for anything else.
/// Never NULL; never free it.
///
/// ```c
/// printf("client %llu left (%s)\n", (unsigned long long)id, tcphub_reason_str(reason));
/// ```
#[no_mangle]
pub extern "C" fn tcphub_reason_str(reason: c_int) -> *const c_char {
    boundary("tcphub_reason_str", || Ok(describe_reason(reason).as_ptr()))
}

/// The full text of the last disconnect reason handed to *this thread*,
/// e.g. "i/o error: timed out" (a keepalive timeout) or "closed in the
/// middle of a frame" where the code says only `TCPHUB_REASON_IO`, or
/// "gave up reconnecting after 5 attempts": that of the `on_disconnect` running
/// on this thread (call it there), of the disconnect event
/// `tcphub_server_next_event` or `tcphub_client_next_event` last gave this
/// thread, or of the reason `tcphub_client_disconnect_reason` last gave
/// it. Empty before any. Never NULL; it belongs to the thread and stays
/// valid until the next of those on it; copy it to keep it.
///
/// ```c
/// static void on_disconnect(void *ud, uint64_t id, int reason) {
///     printf("client %llu left (%s)\n", (unsigned long long)id, tcphub_disconnect_detail());
/// }
/// ```
#[no_mangle]
pub extern "C" fn tcphub_disconnect_detail() -> *const c_char {
    boundary("tcphub_disconnect_detail", || {
        Ok(boundary::last_disconnect_ptr())
    })
}

/// Details of the last call on *this thread* that failed: which function and
/// why (e.g. "tcphub_server_start: cannot listen on 127.0.0.1:8001: address
/// in use"). Empty before any failure; successful calls leave it unchanged.
/// Never NULL. The string belongs to the thread and stays valid until its
/// next failing tcphub call; copy it to keep it.
#[no_mangle]
pub extern "C" fn tcphub_last_error() -> *const c_char {
    boundary("tcphub_last_error", || Ok(boundary::last_error_ptr()))
}

/// The operating-system error number (an `errno` value) behind the last
/// call on *this thread* that failed, or 0 when that failure had none: it
/// goes with `tcphub_last_error()`, and like it is 0 before any failure
/// and left unchanged by successful calls. It tells apart what the code
/// alone does not, without parsing the text: `EADDRINUSE` or `EACCES`
/// behind `TCPHUB_ERR_BIND`, `ECONNREFUSED`, `ETIMEDOUT` (a connect
/// timeout too) or `EHOSTUNREACH` behind `TCPHUB_ERR_CONNECT`, the cause of
/// a `TCPHUB_ERR_IO` — as Rust's `Error::io_error()` and Python's
/// `OSError.errno` give it. Failures no system call reported (a full queue,
/// an unknown client, a bad argument, a host name that did not resolve:
/// see `tcphub_last_gai_error()`) leave 0. tcphub never sets the C
/// `errno` itself: read this instead.
///
/// ```c
/// if (tcphub_server_start(s) == TCPHUB_ERR_BIND && tcphub_last_errno() == EADDRINUSE)
///     fprintf(stderr, "port %u is taken\n", port);
/// ```
#[no_mangle]
pub extern "C" fn tcphub_last_errno() -> c_int {
    boundary("tcphub_last_errno", || Ok(boundary::last_errno()))
}

/// The resolver's code behind the last call on *this thread* that failed,
/// or 0 when that failure had none: for a `TCPHUB_ERR_CONNECT` whose host
/// name did not resolve, the `EAI_*` value `getaddrinfo` returned, as
/// `<netdb.h>` defines it (`EAI_NONAME`: no such name; `EAI_AGAIN`: no name
/// server answered, try later), as Python's `socket.gaierror` has it in
/// `errno`; `gai_strerror()` names it. Like `tcphub_last_errno()` it goes
/// with `tcphub_last_error()`: 0 before any failure, unchanged by
/// successful calls. A resolver failure the system reported as an OS error
/// (`EAI_SYSTEM`) leaves 0 here and sets `tcphub_last_errno()`.
///
/// ```c
/// tcphub_client *c = NULL;
/// if (tcphub_client_connect(host, port, TCPHUB_FRAMING_LINES, 0, &c) == TCPHUB_ERR_CONNECT
///     && tcphub_last_gai_error() == EAI_NONAME)
///     fprintf(stderr, "no such host: %s\n", host);
/// ```
#[no_mangle]
pub extern "C" fn tcphub_last_gai_error() -> c_int {
    boundary("tcphub_last_gai_error", || Ok(boundary::last_gai_error()))
}

/// The major version of the library this header came with, for `#if`
/// (`tcphub_version()` names the library actually loaded), e.g.
/// `#if TCPHUB_VERSION_MAJOR == 0 && TCPHUB_VERSION_MINOR < 2`.
pub const TCPHUB_VERSION_MAJOR: u32 = 0;
/// The minor version of the library this header came with (see
/// `TCPHUB_VERSION_MAJOR`).
pub const TCPHUB_VERSION_MINOR: u32 = 1;
/// The patch version of the library this header came with (see
/// `TCPHUB_VERSION_MAJOR`).
pub const TCPHUB_VERSION_PATCH: u32 = 0;

/// The library version, e.g. "0.1.0"; the same as the header's
/// `TCPHUB_VERSION_MAJOR`, `_MINOR` and `_PATCH` unless the program runs
/// with another build of the library than it was compiled against.
/// Static; never free it.
#[no_mangle]
pub extern "C" fn tcphub_version() -> *const c_char {
    boundary("tcphub_version", || {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_macros_are_the_crates_version() {
        let want = [
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_PATCH"),
        ]
        .map(|v| v.parse::<u32>().unwrap());
        assert_eq!(
            [
                TCPHUB_VERSION_MAJOR,
                TCPHUB_VERSION_MINOR,
                TCPHUB_VERSION_PATCH
            ],
            want,
            "update the TCPHUB_VERSION_* constants in ffi/src/codes.rs with the version"
        );
    }
    use std::io;
    use tcphub_core::{ClientRef, DisconnectReason, Error};

    #[test]
    fn error_codes_are_the_negated_core_codes() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let io = || io::Error::from(io::ErrorKind::Other);
        let pairs = [
            (Error::InvalidConfig("x".into()), TCPHUB_ERR_INVALID_ARG),
            (Error::Bind { addr, source: io() }, TCPHUB_ERR_BIND),
            (
                Error::Connect {
                    addr,
                    source: io(),
                    others: Vec::new(),
                },
                TCPHUB_ERR_CONNECT,
            ),
            (
                Error::Resolve {
                    target: "nowhere:1".into(),
                    source: io(),
                },
                TCPHUB_ERR_CONNECT,
            ),
            (
                Error::NoSuchClient(ClientRef::Id(1)),
                TCPHUB_ERR_NO_SUCH_CLIENT,
            ),
            (
                Error::NoSuchClient(ClientRef::Addr(addr)),
                TCPHUB_ERR_NO_SUCH_CLIENT,
            ),
            (Error::NotRunning, TCPHUB_ERR_NOT_RUNNING),
            (Error::CallbackMode, TCPHUB_ERR_NOT_RUNNING),
            (
                Error::FrameTooLarge { len: 2, max: 1 },
                TCPHUB_ERR_FRAME_TOO_LARGE,
            ),
            (
                Error::QueueFull {
                    queued: 1,
                    limit: 1,
                },
                TCPHUB_ERR_QUEUE_FULL,
            ),
            (Error::Timeout, TCPHUB_ERR_TIMEOUT),
            (
                Error::Io {
                    context: "x",
                    source: io(),
                },
                TCPHUB_ERR_IO,
            ),
            (
                Error::InvalidMessage { reason: "x" },
                TCPHUB_ERR_INVALID_MESSAGE,
            ),
        ];
        for (err, code) in pairs {
            assert_eq!(-err.code(), code, "{err:?}");
        }
        // Code 1 is reserved by the core for the C binding's NULL argument.
        assert_eq!(TCPHUB_ERR_NULL, -1);
    }

    #[test]
    fn last_errno_is_the_os_error_behind_the_failure() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let os = |code| io::Error::from_raw_os_error(code);
        let cases = [
            (
                Error::Bind {
                    addr,
                    source: os(libc::EADDRINUSE),
                },
                libc::EADDRINUSE,
            ),
            (
                Error::Connect {
                    addr,
                    source: os(libc::ECONNREFUSED),
                    others: Vec::new(),
                },
                libc::ECONNREFUSED,
            ),
            // A connect timeout the core measured itself has no OS code.
            (
                Error::Connect {
                    addr,
                    source: io::Error::from(io::ErrorKind::TimedOut),
                    others: Vec::new(),
                },
                libc::ETIMEDOUT,
            ),
            (
                Error::Resolve {
                    target: "nowhere.invalid:1".into(),
                    source: io::Error::other("failed to lookup address information"),
                },
                0,
            ),
            (
                Error::Io {
                    context: "x",
                    source: os(libc::EMFILE),
                },
                libc::EMFILE,
            ),
            (Error::NotRunning, 0),
            (
                Error::QueueFull {
                    queued: 1,
                    limit: 1,
                },
                0,
            ),
        ];
        for (err, errno) in cases {
            let shown = format!("{err:?}");
            let code = boundary::<c_int>("f", || Err(err.into()));
            assert!(code < 0, "{shown}");
            assert_eq!(tcphub_last_errno(), errno, "{shown}");
        }
        // A failure of the binding's own (a NULL argument) has none either,
        // and a successful call leaves the last one alone.
        let _ = boundary::<c_int>("f", || Err(boundary::Fail::new(TCPHUB_ERR_NULL, "x")));
        assert_eq!(tcphub_last_errno(), 0);
        let _ = boundary::<c_int>("f", || {
            Err(Error::Bind {
                addr,
                source: os(libc::EACCES),
            }
            .into())
        });
        assert_eq!(boundary::<c_int>("f", || Ok(TCPHUB_OK)), TCPHUB_OK);
        assert_eq!(tcphub_last_errno(), libc::EACCES);
    }

    #[test]
    fn reason_codes_match_the_core() {
        let pairs = [
            (DisconnectReason::ClosedByPeer, TCPHUB_REASON_CLOSED_BY_PEER),
            (DisconnectReason::Reset, TCPHUB_REASON_RESET),
            (
                DisconnectReason::Io(io::ErrorKind::UnexpectedEof),
                TCPHUB_REASON_IO,
            ),
            (
                DisconnectReason::FrameTooLarge,
                TCPHUB_REASON_FRAME_TOO_LARGE,
            ),
            (DisconnectReason::SlowConsumer, TCPHUB_REASON_SLOW_CONSUMER),
            (DisconnectReason::IdleTimeout, TCPHUB_REASON_IDLE_TIMEOUT),
            (DisconnectReason::Kicked, TCPHUB_REASON_KICKED),
            (
                DisconnectReason::ServerStopped,
                TCPHUB_REASON_SERVER_STOPPED,
            ),
            (
                DisconnectReason::ClosedLocally,
                TCPHUB_REASON_CLOSED_LOCALLY,
            ),
            (DisconnectReason::FrameTimeout, TCPHUB_REASON_FRAME_TIMEOUT),
            (
                DisconnectReason::ReconnectGaveUp { attempts: 3 },
                TCPHUB_REASON_RECONNECT_GAVE_UP,
            ),
        ];
        for (reason, code) in pairs {
            assert_eq!(reason.code(), code, "{reason:?}");
            // The same words as the core's Display, but for the details a
            // code cannot carry (the I/O error kind, the attempts).
            let text = describe_reason(code).to_str().unwrap();
            let shown = reason.to_string();
            match reason {
                DisconnectReason::Io(_) => assert_eq!(text, "i/o error"),
                DisconnectReason::ReconnectGaveUp { .. } => {
                    assert!(shown.starts_with(text), "{shown:?} / {text:?}")
                }
                _ => assert_eq!(text, shown, "{reason:?}"),
            }
        }
        assert_eq!(describe_reason(-1).to_str().unwrap(), "unknown reason");
        assert_eq!(describe_reason(11).to_str().unwrap(), "unknown reason");
    }

    #[test]
    fn every_code_has_its_own_description() {
        let codes = [
            TCPHUB_OK,
            TCPHUB_ERR_NULL,
            TCPHUB_ERR_INVALID_ARG,
            TCPHUB_ERR_BIND,
            TCPHUB_ERR_CONNECT,
            TCPHUB_ERR_NO_SUCH_CLIENT,
            TCPHUB_ERR_NOT_RUNNING,
            TCPHUB_ERR_FRAME_TOO_LARGE,
            TCPHUB_ERR_QUEUE_FULL,
            TCPHUB_ERR_TIMEOUT,
            TCPHUB_ERR_IO,
            TCPHUB_ERR_INVALID_MESSAGE,
            TCPHUB_ERR_ALREADY_RUNNING,
            TCPHUB_ERR_PANIC,
        ];
        let texts: std::collections::HashSet<_> = codes.iter().map(|&c| describe(c)).collect();
        assert_eq!(texts.len(), codes.len());
        assert!(!texts.contains(describe(12345)));
    }
}

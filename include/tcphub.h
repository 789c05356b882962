/*
 * tcphub.h — C API of tcphub, a multi-client TCP server (and client) library.
 * Link with -ltcphub (see `pkg-config --cflags --libs tcphub`).
 *
 * Return values
 *   Functions returning int return TCPHUB_OK (0) or a negative
 *   TCPHUB_ERR_* code — all but tcphub_last_errno and
 *   tcphub_last_gai_error (an errno or EAI_* value),
 *   tcphub_ready_fd_fileno (a descriptor, or -1) and tcphub_ready_fd_arm
 *   (1 or 0 on success); tcphub_strerror(code) names a code and
 *   tcphub_last_error() gives the details of the calling thread's last
 *   failure (tcphub_last_errno() the OS error number behind it, e.g.
 *   EADDRINUSE; tcphub_last_gai_error() the resolver's EAI_* code behind
 *   a host name that did not resolve). NULL or invalid arguments
 *   (bad IP text, unknown framing value) return an error code; they never
 *   crash. No Rust panic ever crosses into C: one is reported as
 *   TCPHUB_ERR_PANIC.
 *   A setter (tcphub_server_set_*, tcphub_server_on_*) checks a NULL server
 *   first (TCPHUB_ERR_NULL), then whether the server runs
 *   (TCPHUB_ERR_ALREADY_RUNNING, whatever the argument), then its argument
 *   (a NULL pointer, an unknown or out-of-range value). The exception is
 *   tcphub_server_set_userdata_free, which may be called at any time.
 *
 * Threads
 *   - A started server runs its own event-loop threads (one per core by
 *     default). Callbacks (on_connect, on_message, on_disconnect) run on those
 *     threads, never on the thread that called tcphub_server_start: all
 *     callbacks of one client run on the same thread, in order; callbacks of
 *     different clients may run at the same time on different threads.
 *     Keep them short: a slow callback delays the other clients of its loop.
 *   - Pointer arguments of a callback (ip, data) are valid only during the
 *     call; copy what you keep.
 *   - Any tcphub function may be called from inside a callback, including
 *     tcphub_server_stop (it then starts the stop and returns at once).
 *     Prefer calling tcphub_server_free from outside callbacks. The waits
 *     for input do wait there: tcphub_client_recv, tcphub_client_next_event,
 *     tcphub_server_next_event, tcphub_client_connect and (while the server
 *     runs) tcphub_server_wait block the callback's
 *     loop, and a reply that this loop would have to handle (a client of
 *     its own server asking it) never comes while it waits — give them a
 *     short timeout, or take the reply in the client's own callbacks.
 *   - tcphub_server_stop and tcphub_server_free called from outside the
 *     callbacks wait for the event-loop threads, which still run callbacks
 *     meanwhile (on_disconnect with TCPHUB_REASON_SERVER_STOPPED for every
 *     client): do not call them while holding a lock those callbacks take.
 *   - A handle (tcphub_server *, tcphub_client *) may be used from several
 *     threads at once, except that *_free must be called exactly once, when
 *     no other thread uses the handle any more.
 *   - userdata is passed back untouched to the callbacks on the event-loop
 *     threads; it must be safe to use from there. The optional destructor
 *     (tcphub_server_set_userdata_free) runs after the last callback.
 *   - Callbacks must return normally: no longjmp, no C++ exception.
 *   - No tcphub function is async-signal-safe (they lock and allocate):
 *     never call one from a signal handler, not even
 *     tcphub_server_begin_stop. To stop on SIGINT/SIGTERM, block them with
 *     pthread_sigmask before tcphub_server_start (its threads inherit the
 *     mask) and have a thread that sigwait()s for them call
 *     tcphub_server_begin_stop (or _stop; examples/c/chat_server.c), or set
 *     a volatile sig_atomic_t flag in the handler and check it between
 *     short waits (tcphub_server_next_event, _wait, _stop_timeout).
 *   - fork(): in the child, a server or client started before the fork
 *     acts as stopped (closed) — its threads were not copied. Sends return
 *     TCPHUB_ERR_NOT_RUNNING, and so do tcphub_client_recv,
 *     tcphub_client_next_event and tcphub_server_next_event at once,
 *     whatever the timeout (what the parent had queued is the parent's);
 *     it lists no clients; stop, close and free return at once and leave
 *     the sockets to the parent, which goes on serving. Free there does
 *     not run the userdata destructor (tcphub_server_set_userdata_free):
 *     the run it started is the parent's, which still uses the userdata.
 *     A tcphub_ready_fd made before the fork is the parent's descriptor
 *     too: tcphub_ready_fd_arm answers 0 there without reading it. A
 *     child forked inside a callback is a copy of the I/O thread running
 *     it: end it with _exit or exec before the callback returns. If it
 *     returns, the child is ended there with _exit(0) (no atexit
 *     handlers, no stdio flush), running nothing more of the server (the
 *     sockets are the parent's).
 *     Rare case: if a thread of the parent was inside a call on that
 *     server at the instant of the fork (holding its state lock), the
 *     child cannot change that server at all: setters and
 *     tcphub_server_start fail with TCPHUB_ERR_IO (last error: "a thread
 *     of the parent process held the server's state at fork()"),
 *     tcphub_server_port returns 0, and sends and
 *     tcphub_server_client_info return TCPHUB_ERR_NOT_RUNNING ("the
 *     server's run is the parent process's (forked)"). Create a new server
 *     in the child instead.
 *
 * Language: C99 or later (it uses <stdbool.h> and <stdint.h>; GCC also
 * takes it as C89/C90), or C++98 or later.
 */

#ifndef TCPHUB_H
#define TCPHUB_H

/* Generated by cbindgen from ffi/src; do not edit. Regenerate with: TCPHUB_BLESS=1 cargo test -p tcphub-ffi --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif /* __cplusplus */

/**
 * Success. Every function returning `int` returns `TCPHUB_OK` or one of
 * the negative `TCPHUB_ERR_*` codes, but `tcphub_last_errno` and
 * `tcphub_last_gai_error` (an `errno` or `EAI_*` value),
 * `tcphub_ready_fd_fileno` (a descriptor, or -1) and `tcphub_ready_fd_arm`
 * (1 or 0 on success).
 */
#define TCPHUB_OK 0

/**
 * A required pointer argument was NULL.
 */
#define TCPHUB_ERR_NULL -1

/**
 * An argument or setting is invalid: an unparsable IP address, an unknown
 * framing value, zero threads, a string that is not UTF-8, ...
 */
#define TCPHUB_ERR_INVALID_ARG -2

/**
 * The server could not listen on its address (in use, permission denied).
 */
#define TCPHUB_ERR_BIND -3

/**
 * The client could not connect (refused, timed out, unresolvable host).
 */
#define TCPHUB_ERR_CONNECT -4

/**
 * No connected client has this id (or this ip:port, for `tcphub_server_send_to`).
 */
#define TCPHUB_ERR_NO_SUCH_CLIENT -5

/**
 * The server or client is not running: never started, or stopped/closed.
 */
#define TCPHUB_ERR_NOT_RUNNING -6

/**
 * The message is longer than the framing's `max_len` (under
 * `TCPHUB_FRAMING_LENGTH_PREFIXED` at most 4 GiB − 1 bytes, what its 4-byte
 * length can say, whatever `max_len` is set).
 */
#define TCPHUB_ERR_FRAME_TOO_LARGE -7

/**
 * The client's bounded send queue is full.
 */
#define TCPHUB_ERR_QUEUE_FULL -8

/**
 * A timed wait ran out before anything arrived or finished; also what
 * `tcphub_server_stop_timeout` and `tcphub_client_close_timeout` return at
 * once from inside a callback, where they do not wait
 * (`tcphub_server_wait` there does wait, blocking that loop, while the
 * server runs; see each function).
 */
#define TCPHUB_ERR_TIMEOUT -9

/**
 * Another operating-system failure; `tcphub_last_error()` says which.
 */
#define TCPHUB_ERR_IO -10

/**
 * The framing cannot carry the message as it is: under
 * `TCPHUB_FRAMING_LINES`, one containing `\n` (it would arrive as several
 * messages). Nothing was queued.
 */
#define TCPHUB_ERR_INVALID_MESSAGE -11

/**
 * `tcphub_server_start` or a setter was called while the server runs (or
 * `tcphub_server_start` from inside one of the server's own callbacks).
 * (Codes from -100 on exist only in the C binding.)
 */
#define TCPHUB_ERR_ALREADY_RUNNING -100

/**
 * A bug inside tcphub was caught at the boundary; the call did nothing
 * further. Please report it with `tcphub_last_error()`.
 */
#define TCPHUB_ERR_PANIC -101

/**
 * Disconnect reason: the peer closed its side cleanly.
 */
#define TCPHUB_REASON_CLOSED_BY_PEER 0

/**
 * Disconnect reason: the peer reset the connection.
 */
#define TCPHUB_REASON_RESET 1

/**
 * Disconnect reason: another I/O error, including EOF in the middle of a
 * `TCPHUB_FRAMING_LENGTH_PREFIXED` frame (under `TCPHUB_FRAMING_LINES` an
 * unterminated last line is a message, and the end `TCPHUB_REASON_CLOSED_BY_PEER`).
 */
#define TCPHUB_REASON_IO 2

/**
 * Disconnect reason: the peer sent a frame longer than the framing's `max_len`.
 */
#define TCPHUB_REASON_FRAME_TOO_LARGE 3

/**
 * Disconnect reason: the client's outbound queue overflowed (it reads too slowly).
 */
#define TCPHUB_REASON_SLOW_CONSUMER 4

/**
 * Disconnect reason: the client sent nothing for the idle timeout.
 */
#define TCPHUB_REASON_IDLE_TIMEOUT 5

/**
 * Disconnect reason: `tcphub_server_disconnect` was called for it.
 */
#define TCPHUB_REASON_KICKED 6

/**
 * Disconnect reason: the server is stopping.
 */
#define TCPHUB_REASON_SERVER_STOPPED 7

/**
 * Disconnect reason: this side closed the connection (client API), and
 * did so first: a server that ended its side before the close's flush was
 * done gives `TCPHUB_REASON_CLOSED_BY_PEER`.
 */
#define TCPHUB_REASON_CLOSED_LOCALLY 8

/**
 * Disconnect reason: a started frame was not completed within the frame
 * timeout (`tcphub_server_set_frame_timeout`).
 */
#define TCPHUB_REASON_FRAME_TIMEOUT 9

/**
 * Disconnect reason (`tcphub_client_disconnect_reason` only): the client's
 * reconnecting gave up after `reconnect_max_attempts` failed attempts, and
 * it is closed for good.
 */
#define TCPHUB_REASON_RECONNECT_GAVE_UP 10

/**
 * `tcphub_server_set_overflow`: disconnect a client whose queue is full,
 * with `TCPHUB_REASON_SLOW_CONSUMER` (the default).
 */
#define TCPHUB_OVERFLOW_DISCONNECT 0

/**
 * `tcphub_server_set_overflow`: drop the message that does not fit, for
 * that client only, and count it in `tcphub_stats.dropped`.
 */
#define TCPHUB_OVERFLOW_DROP_MESSAGE 1

/**
 * `tcphub_event.kind`: nothing (a zeroed or released event).
 */
#define TCPHUB_EVENT_NONE 0

/**
 * `tcphub_event.kind`: a client connected.
 */
#define TCPHUB_EVENT_CONNECTED 1

/**
 * `tcphub_event.kind`: a client sent a message (`data`, `len`).
 */
#define TCPHUB_EVENT_MESSAGE 2

/**
 * `tcphub_event.kind`: a client left (`reason`); no more events for its id.
 */
#define TCPHUB_EVENT_DISCONNECTED 3

/**
 * `tcphub_client_event.kind`: nothing (a zeroed or released event).
 */
#define TCPHUB_CLIENT_EVENT_NONE 0

/**
 * `tcphub_client_event.kind`: a message from the server (`message`).
 */
#define TCPHUB_CLIENT_EVENT_MESSAGE 1

/**
 * `tcphub_client_event.kind`: the connection ended (`reason`).
 */
#define TCPHUB_CLIENT_EVENT_DISCONNECTED 2

/**
 * `tcphub_client_event.kind`: a reconnect attempt (`attempt`) comes after
 * `delay_ms`. `attempt` is 1 for the first after a drop, unless the
 * connection that dropped lasted under a second: then the count goes on
 * (see `reconnect_max_attempts`). While the event queue is full, one
 * still waiting for room is replaced by the next attempt's, so attempt
 * numbers may skip.
 */
#define TCPHUB_CLIENT_EVENT_RECONNECTING 3

/**
 * `tcphub_client_event.kind`: reconnect attempt `attempt` succeeded, from
 * `local_ip`:`local_port` — the place to log in or subscribe again.
 */
#define TCPHUB_CLIENT_EVENT_RECONNECTED 4

/**
 * `tcphub_client_event.kind`: the client is closed for good; the last event.
 */
#define TCPHUB_CLIENT_EVENT_CLOSED 5

/**
 * Size of `tcphub_event.ip`: room for any IPv6 text and its NUL (INET6_ADDRSTRLEN).
 */
#define TCPHUB_IP_LEN 46

/**
 * The major version of the library this header came with, for `#if`
 * (`tcphub_version()` names the library actually loaded), e.g.
 * `#if TCPHUB_VERSION_MAJOR == 0 && TCPHUB_VERSION_MINOR < 2`.
 */
#define TCPHUB_VERSION_MAJOR 0

/**
 * The minor version of the library this header came with (see
 * `TCPHUB_VERSION_MAJOR`).
 */
#define TCPHUB_VERSION_MINOR 1

/**
 * The patch version of the library this header came with (see
 * `TCPHUB_VERSION_MAJOR`).
 */
#define TCPHUB_VERSION_PATCH 0

/**
 * No engine lines (the default).
 */
#define TCPHUB_LOG_OFF 0

/**
 * Errors: a callback that panicked, a failure the engine cannot recover
 * from for a connection.
 */
#define TCPHUB_LOG_ERROR 1

/**
 * Warnings: server-wide trouble (accepts failing for lack of descriptors,
 * connections the poller would not take), once per run and then at most
 * every 10 s with counts.
 */
#define TCPHUB_LOG_WARN 2

/**
 * Information: refused connections (server full, per-address limit) once
 * per run, a client's redials, recoveries.
 */
#define TCPHUB_LOG_INFO 3

/**
 * Debugging: each client's arrival and end, with its id, address and
 * reason.
 */
#define TCPHUB_LOG_DEBUG 4

/**
 * Tracing (the engine writes none at present).
 */
#define TCPHUB_LOG_TRACE 5

/**
 * A connection to a server (tcphub or any other speaking the same framing).
 * Create with `tcphub_client_connect`, release with `tcphub_client_free`.
 * Sends never block: they go through a bounded queue written by the
 * client's own I/O thread.
 */
typedef struct tcphub_client tcphub_client;

/**
 * Cancels a client's connect from another thread. Create one with
 * `tcphub_connect_cancel_new`, put it in `tcphub_client_options.cancel`,
 * and call `tcphub_connect_cancel_cancel` from any thread (a "Stop" button,
 * a shutdown): the `tcphub_client_connect_with` under way returns at once
 * with `TCPHUB_ERR_CONNECT`, `tcphub_last_errno()` `EINTR` and "connect
 * cancelled" in `tcphub_last_error()`; no further address is dialled (none
 * at all once it is cancelled first). A name lookup cannot be cancelled:
 * one under way ends first. A cancelled token stays cancelled; one token
 * may serve several connects. It is no concern of a client already
 * connected: its redials end with `tcphub_client_close`.
 */
typedef struct tcphub_connect_cancel tcphub_connect_cancel;

/**
 * A file descriptor that becomes readable when pull-mode events can be
 * taken: for waiting on a server's (`tcphub_server_ready_fd`) or a
 * client's (`tcphub_client_ready_fd`) events in your own event loop
 * (`poll`, `epoll`, libuv, GLib) instead of a thread blocked in
 * `tcphub_server_next_event`. Opaque; freed with `tcphub_ready_fd_free`.
 */
typedef struct tcphub_ready_fd tcphub_ready_fd;

/**
 * A tcphub server. Create with `tcphub_server_new`, configure, then
 * `tcphub_server_start`; release with `tcphub_server_free`.
 *
 * The pointer is reference counted on the Rust side: the event loops of a
 * started server hold a reference, so the object outlives the last callback
 * even when `tcphub_server_free` is called from inside one.
 */
typedef struct tcphub_server tcphub_server;

/**
 * A value of `TCPHUB_FRAMING_*`. An `int` rather than an `enum` so that an
 * unknown value is reported as `TCPHUB_ERR_INVALID_ARG`.
 */
typedef int tcphub_framing;

/**
 * Settings for `tcphub_client_connect_with`. Fill one with
 * `tcphub_client_options_init` (the defaults), then change what you need.
 */
typedef struct tcphub_client_options {
  /**
   * `sizeof(tcphub_client_options)`, set by `tcphub_client_options_init`,
   * so that `tcphub_client_connect_with` refuses options that were not
   * (a zeroed struct, say). It is no promise across versions: the layout
   * changes only with the library's ABI version, which is in its SONAME
   * (`libtcphub.so.0.1` for 0.1.x, see `scripts/install-c.sh`), so a
   * program built against one layout never loads a library with another.
   */
  size_t size;
  /**
   * `TCPHUB_FRAMING_*`, as the server's (default `TCPHUB_FRAMING_RAW`).
   */
  tcphub_framing framing;
  /**
   * Largest frame (0, the default: the framing's own default). RAW has
   * no frames: with it, anything but 0 is refused
   * (`TCPHUB_ERR_INVALID_ARG`).
   */
  size_t max_len;
  /**
   * Time allowed for each connection attempt, in milliseconds (default
   * 10000; must be more than 0).
   */
  uint64_t connect_timeout_ms;
  /**
   * Reconnect automatically after the connection drops (default false).
   * Messages sent while it is down wait in the queue. A host name is
   * looked up again for the redials, so a server back at another address
   * is found there.
   */
  bool reconnect;
  /**
   * Reconnect backoff: the first delay's cap, doubling per failed attempt
   * up to `reconnect_max_ms`, each delay jittered below its cap (defaults
   * 100 and 30000; both must be more than 0).
   */
  uint64_t reconnect_initial_ms;
  /**
   * See `reconnect_initial_ms`.
   */
  uint64_t reconnect_max_ms;
  /**
   * Give up after this many failed attempts in a row (0, the default:
   * never). A connection that drops less than a second after it was made
   * counts as a failed attempt: the count and the backoff go on instead
   * of starting again at 1 (a server that accepts and closes at once is
   * not hammered), so this bound applies across such drops. Set without
   * `reconnect`, `tcphub_client_connect_with` refuses it
   * (`TCPHUB_ERR_INVALID_ARG`): the client would not reconnect at all.
   */
  uint32_t reconnect_max_attempts;
  /**
   * Bound on bytes accepted by `tcphub_client_send` and not yet written
   * (default 4 MiB); past it sends return `TCPHUB_ERR_QUEUE_FULL`. One
   * message larger than the bound is still accepted when nothing is
   * queued (so any message can be sent); later sends return
   * `TCPHUB_ERR_QUEUE_FULL` until it is written. It must be more than 0 (unlike `tcphub_server_set_max_queue_bytes`, 0 is
   * no default here). There is no "no limit" value, but `SIZE_MAX` (like
   * any bound beyond the memory) in effect removes the bound: sends then
   * never return `TCPHUB_ERR_QUEUE_FULL`, and what waits for a slow (or,
   * with `reconnect`, absent) server stays in memory.
   */
  size_t max_queue_bytes;
  /**
   * How long `tcphub_client_close` / `_free` keep writing what is queued
   * and waiting for the server to acknowledge it, in milliseconds
   * (default 2000); also, with `write_after_server_eof` and without
   * reconnect, how long it is still written after the server ended its
   * sending side.
   */
  uint64_t linger_ms;
  /**
   * `TCP_NODELAY` (default true).
   */
  bool nodelay;
  /**
   * How many events the queue holds at most (default 65536): received
   * messages (`tcphub_client_recv`), and also the drops and reconnects
   * `tcphub_client_next_event` reports, which `tcphub_client_recv` skips.
   * While full, or while its messages hold 64 MiB, the client stops
   * reading the socket; the rest of the read that filled it (at most
   * 64 KiB of input) waits in the I/O thread for room, and once the
   * client has ended (closed, or the connection lost for good) it comes
   * after the queue, with DISCONNECTED and CLOSED: more events than this
   * may then be taken. It must be more than 0; `SIZE_MAX` in effect
   * removes the bound on the number of events, and the 64 MiB bound still
   * holds.
   */
  size_t event_capacity;
  /**
   * TCP keepalive probes after this many milliseconds without traffic, on
   * every connection (reconnects included), so a server whose host
   * vanished without a FIN is found even by a client that only receives
   * (0, the default: off). Rounded up to whole seconds, at most 32,767 s,
   * as `tcphub_server_set_keepalive`.
   */
  uint64_t keepalive_ms;
  /**
   * What happens to messages still queued when the server ends its
   * sending side (end-of-stream) without `reconnect`, or while closing.
   * False, the default: the server's end-of-stream ends the connection at
   * once (`TCPHUB_REASON_CLOSED_BY_PEER`), nothing more is written, and
   * the messages left are dropped and counted in `tcphub_client_unsent`.
   * True: they are still written, within `linger_ms` (a server that
   * half-closed may still read them), and the end is
   * `TCPHUB_REASON_CLOSED_BY_PEER` once they are. With `reconnect` (and
   * not closing) the end-of-stream ends the connection either way, and
   * the queue waits for the next one. The default suits a tcphub server,
   * and any server that closes rather than half-closes: a tcphub server
   * that has ended a connection (stopped, kicked or timed out the
   * client) reads and discards what still arrives, so written on, those
   * messages would be lost with an end that looks clean. Set it true for
   * a server known to half-close and read on (one that sends its last
   * request and half-closes to wait for the answer, say: otherwise a
   * reply to that request is dropped too).
   */
  bool write_after_server_eof;
  /**
   * A token another thread may cancel the connect with (NULL, the
   * default: none); see `tcphub_connect_cancel`. The connect takes its
   * own share of it as it starts.
   */
  const struct tcphub_connect_cancel *cancel;
} tcphub_client_options;

/**
 * A message received by `tcphub_client_recv`. Owned by the caller until
 * `tcphub_message_release`. A zeroed struct is a valid empty message.
 */
typedef struct tcphub_message {
  /**
   * The bytes; NULL when `len` is 0.
   */
  uint8_t *data;
  /**
   * Length of `data` in bytes.
   */
  size_t len;
} tcphub_message;

/**
 * One thing that happened on a client's connection, filled in by
 * `tcphub_client_next_event`. Release it with `tcphub_client_event_release`
 * (which frees `message`) before reusing or discarding it. A zeroed struct
 * is a valid empty event.
 */
typedef struct tcphub_client_event {
  /**
   * `TCPHUB_CLIENT_EVENT_MESSAGE`, `_DISCONNECTED`, `_RECONNECTING`,
   * `_RECONNECTED` or `_CLOSED`.
   */
  int kind;
  /**
   * For `TCPHUB_CLIENT_EVENT_MESSAGE`: the message, owned by the event
   * until `tcphub_client_event_release`; empty for other kinds.
   */
  struct tcphub_message message;
  /**
   * For `TCPHUB_CLIENT_EVENT_DISCONNECTED`: a `TCPHUB_REASON_*`; else 0.
   */
  int reason;
  /**
   * For `_RECONNECTING` and `_RECONNECTED`: the attempt, 1 for the first
   * after a drop (the count goes on when the connection that dropped
   * lasted under a second: see `TCPHUB_CLIENT_EVENT_RECONNECTING`); else 0.
   */
  uint32_t attempt;
  /**
   * For `_RECONNECTING`: milliseconds until the attempt (0 when a
   * connection lost during `tcphub_client_close` is redialled at once to
   * flush what is queued); else 0.
   */
  uint64_t delay_ms;
  /**
   * For `_RECONNECTED`: this end's new IP address as NUL-terminated text;
   * else empty.
   */
  char local_ip[TCPHUB_IP_LEN];
  /**
   * For `_RECONNECTED`: this end's new port; else 0.
   */
  uint16_t local_port;
} tcphub_client_event;

/**
 * One thing that happened on a server in pull mode, filled in by
 * `tcphub_server_next_event`. Release it with `tcphub_event_release` (which
 * frees `data`) before reusing or discarding it. A zeroed struct is a valid
 * empty event.
 */
typedef struct tcphub_event {
  /**
   * `TCPHUB_EVENT_CONNECTED`, `TCPHUB_EVENT_MESSAGE` or `TCPHUB_EVENT_DISCONNECTED`.
   */
  int kind;
  /**
   * The client the event is about.
   */
  uint64_t client_id;
  /**
   * The client's remote IP address as NUL-terminated text.
   */
  char ip[TCPHUB_IP_LEN];
  /**
   * The client's remote port.
   */
  uint16_t port;
  /**
   * For `TCPHUB_EVENT_MESSAGE`: the message, owned by the event until
   * `tcphub_event_release`; NULL when `len` is 0 and for other kinds.
   */
  uint8_t *data;
  /**
   * Length of `data` in bytes.
   */
  size_t len;
  /**
   * For `TCPHUB_EVENT_DISCONNECTED`: a `TCPHUB_REASON_*` value; else 0.
   */
  int reason;
} tcphub_event;

/**
 * A connected client: its id and remote address.
 */
typedef struct tcphub_client_info {
  /**
   * The id callbacks and events carry.
   */
  uint64_t client_id;
  /**
   * The client's remote IP address as NUL-terminated text (an IPv4
   * client of a dual-stack server as plain IPv4).
   */
  char ip[TCPHUB_IP_LEN];
  /**
   * The client's remote port.
   */
  uint16_t port;
} tcphub_client_info;

/**
 * Called when a client connects: its id, and its remote IP address (text,
 * e.g. "127.0.0.1" or "::1") and port. `ip` is valid only during the call.
 * Ids are unique in the process and never reused — across servers and
 * across a server's restarts — and grow in accept order: a send to the id
 * of a client that is gone, or of another server's client, or of a
 * previous run's, never reaches anyone (`TCPHUB_ERR_NO_SUCH_CLIENT`).
 */
typedef void (*tcphub_connect_cb)(void *userdata, uint64_t client_id, const char *ip, uint16_t port);

/**
 * Called once when a client's connection ends, with a `TCPHUB_REASON_*` value.
 * Who it was: `tcphub_server_client_info(s, client_id, &info)` from inside
 * the callback.
 */
typedef void (*tcphub_disconnect_cb)(void *userdata, uint64_t client_id, int reason);

/**
 * Called for each message (one frame), in order per client. `data` is
 * valid only during the call; copy what you keep. `data` is never NULL.
 */
typedef void (*tcphub_message_cb)(void *userdata, uint64_t client_id, const uint8_t *data, size_t len);

/**
 * Releases a userdata pointer given to `tcphub_server_on_*`.
 */
typedef void (*tcphub_userdata_free_cb)(void *userdata);

/**
 * A snapshot of a server's counters since it started (all 0 before).
 * Fields may be added at the end in a later version, with a new SONAME.
 */
typedef struct tcphub_stats {
  /**
   * Clients connected now. A connection held open for replies after its
   * DISCONNECTED (pull mode, or `tcphub_server_set_hold_for_replies`) is
   * not counted here but in `disconnected`, though it keeps its place
   * toward `max_clients` until it closes.
   */
  uint64_t clients;
  /**
   * Connections accepted and admitted.
   */
  uint64_t accepted;
  /**
   * Connections refused because `max_clients` were connected (accepted,
   * then closed at once).
   */
  uint64_t rejected;
  /**
   * Admitted connections (see `accepted`) that have ended, for any
   * reason; a refused one counts only in `rejected`.
   */
  uint64_t disconnected;
  /**
   * Messages (frames) received from clients.
   */
  uint64_t msgs_in;
  /**
   * Bytes read from client sockets (framing included).
   */
  uint64_t bytes_in;
  /**
   * Messages queued for delivery, counted once per recipient.
   */
  uint64_t msgs_out;
  /**
   * Bytes written to client sockets (framing included): admitted
   * clients', the server's notices to them included, not the notice to a
   * refused connection (`tcphub_server_set_full_message`).
   */
  uint64_t bytes_out;
  /**
   * Messages dropped for a client whose queue was full
   * (`TCPHUB_OVERFLOW_DROP_MESSAGE`).
   */
  uint64_t dropped;
  /**
   * Clients disconnected as slow consumers (reported with
   * `TCPHUB_REASON_SLOW_CONSUMER`). A client held open for replies after
   * its DISCONNECTED (pull mode, or `tcphub_server_set_hold_for_replies`)
   * whose queue overflows under
   * `TCPHUB_OVERFLOW_DISCONNECT` is closed but not counted here: it had
   * already left (see `undelivered`).
   */
  uint64_t slow_consumers;
  /**
   * Clients disconnected for sending an oversize frame.
   */
  uint64_t frame_too_large;
  /**
   * Clients disconnected for idling.
   */
  uint64_t idle_timeouts;
  /**
   * Clients disconnected for not finishing a frame in time.
   */
  uint64_t frame_timeouts;
  /**
   * Rust callbacks that panicked (caught and logged): always 0 from C. A
   * C callback cannot panic, and a failure of tcphub's own code around
   * one is caught at the C boundary — printed on stderr and left in that
   * thread's `tcphub_last_error()` — without being counted here.
   */
  uint64_t callback_panics;
  /**
   * Messages for one client that were not queued because the client had
   * left, or was leaving, by the time its event loop got to them: a
   * `tcphub_server_send`, `_send_to` or `_send_many` (once per client
   * it counted) that returned `TCPHUB_OK` while
   * the client was disconnecting or the server stopping ran out of
   * linger time before it got to them; the message (a broadcast's too)
   * whose overflow cut a client as a slow consumer under
   * `TCPHUB_OVERFLOW_DISCONNECT`; and messages (broadcasts too) that did
   * not fit the queue of a client held open for replies (pull mode, or
   * `tcphub_server_set_hold_for_replies`) after its DISCONNECTED under
   * `TCPHUB_OVERFLOW_DISCONNECT` (the first ends the hold and closes the
   * client, so later broadcasts skip it: at most one broadcast message
   * counts per held client; under `TCPHUB_OVERFLOW_DROP_MESSAGE` they count in
   * `dropped`, like anyone's). Broadcasts are otherwise not counted here.
   */
  uint64_t undelivered;
  /**
   * Connections refused because `tcphub_server_set_max_clients_per_ip`
   * clients from the same IP address were connected (not counted in
   * `rejected`).
   */
  uint64_t rejected_per_ip;
  /**
   * Messages queued for a client (so counted in `msgs_out`) that were not
   * written to it in full because its connection ended first: it was cut
   * as a slow consumer, its linger time ran out while it closed (a kick, a
   * timeout, its leaving, the stop), a write failed, or it reset. Such a
   * connection is reset, so its peer sees an error, not a clean end.
   * Written means taken by the kernel. Under `TCPHUB_FRAMING_RAW`, which
   * has no message boundaries on the wire, a run of sends joined into one
   * write that was partly written counts whole.
   */
  uint64_t unwritten;
} tcphub_stats;

/**
 * Receives one of the engine's log lines: its `TCPHUB_LOG_*` level, the
 * part of the engine that wrote it (`target`, e.g.
 * "tcphub::event_loop::accept") and the line itself, without a trailing
 * newline. Both strings are valid only during the call. Called on the
 * library's "tcphub-log" thread, one line at a time, never from an
 * event loop; it may call any tcphub function but
 * `tcphub_set_log_callback`. A callback that blocks delays only the lines
 * behind it (a queue of 1024 full loses lines, counted in the next line
 * delivered).
 */
typedef void (*tcphub_log_cb)(void *userdata, int level, const char *target, const char *message);

/**
 * No framing: each read's bytes are one message; sends write bytes as-is.
 */
#define TCPHUB_FRAMING_RAW 0

/**
 * One message per line: `\n` ends a message (a trailing `\r` is dropped);
 * sending appends `\n` to the message, so send a line without its own
 * `\n`: a message containing `\n` — at its end too — is
 * refused by every send with `TCPHUB_ERR_INVALID_MESSAGE`; one ending in
 * `\r` is sent as it is and arrives without that `\r`: use
 * `TCPHUB_FRAMING_LENGTH_PREFIXED` for binary or multi-line messages.
 * A last line without its `\n` at the peer's clean end of stream is
 * handed out as a message too, and the end is
 * `TCPHUB_REASON_CLOSED_BY_PEER` (a length-prefixed frame cut short is
 * dropped, with `TCPHUB_REASON_IO`). `max_len` 0 means 64 KiB.
 */
#define TCPHUB_FRAMING_LINES 1

/**
 * A 4-byte big-endian length, then the payload. `max_len` 0 means 8 MiB.
 */
#define TCPHUB_FRAMING_LENGTH_PREFIXED 2

/**
 * Closes gracefully: writes what is queued (for up to the linger time, 2 s
 * unless set with `tcphub_client_connect_with`), shuts the
 * connection down and stops the I/O thread. Once everything is written the
 * socket stays open (what arrives is discarded) until the server has
 * acknowledged all of it or ended its side, within the same linger time.
 * When the linger time runs out first, what is still queued is dropped
 * (counted by `tcphub_client_unsent`) and the connection is reset, so the
 * server does not take its end for all there was (the reset drops what
 * was written but not yet sent too); with only the acknowledgement
 * missing, what was written is left to the system, which goes on sending
 * it after the close: it may still arrive, nothing confirms it;
 * `tcphub_client_disconnect_reason` then says
 * `TCPHUB_REASON_IO` instead of `TCPHUB_REASON_CLOSED_LOCALLY` (and
 * `TCPHUB_REASON_RESET` when the server reset the connection meanwhile); a
 * server that ended its side before the flush was done (before the call,
 * too) closed first: `TCPHUB_REASON_CLOSED_BY_PEER`.
 * Blocks until then; `tcphub_client_close_timeout` bounds the wait. From
 * inside a tcphub callback (a server's: the C client has no callbacks of
 * its own) it starts the close and returns `TCPHUB_OK` at once without
 * waiting: the thread it would wait for may be the one running the
 * callback. Idempotent. Messages received before the close can still be
 * taken with `tcphub_client_recv`; what arrives after it is discarded.
 * Threads waiting in `tcphub_client_recv` or `_next_event` meanwhile get
 * those messages (and events), then `TCPHUB_ERR_NOT_RUNNING`: close first,
 * then join them, then `tcphub_client_free`.
 *
 * Returns `TCPHUB_OK` however the close went (`TCPHUB_ERR_NULL` for NULL):
 * whether everything queued reached the server is told by
 * `tcphub_client_disconnect_reason` (`TCPHUB_REASON_CLOSED_LOCALLY`), not
 * by this code.
 *
 * ```c
 * tcphub_client_close(c);
 * int reason;
 * if (tcphub_client_disconnect_reason(c, &reason) == TCPHUB_OK && reason != TCPHUB_REASON_CLOSED_LOCALLY)
 *     fprintf(stderr, "close: %s\n", tcphub_disconnect_detail()); // "i/o error: timed out", say
 * ```
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int tcphub_client_close(struct tcphub_client *c);

/**
 * Closes like `tcphub_client_close`, but waits at most `timeout_ms`
 * milliseconds for the flush and the I/O thread. If they have not finished
 * by then the close goes on (within the linger time): a later
 * `tcphub_client_close`, `_close_timeout` or `_free` finishes waiting. For
 * a caller that must stay responsive (checking for a signal between short
 * waits). Any thread; from inside a tcphub callback it starts the close and
 * answers at once, as `tcphub_client_close` does not wait there:
 * `TCPHUB_ERR_TIMEOUT` unless the client's I/O thread had already ended.
 *
 * Returns `TCPHUB_OK` once closed (also for a client already closed, or
 * whose server went away), `TCPHUB_ERR_TIMEOUT` while the close is still
 * under way.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int tcphub_client_close_timeout(struct tcphub_client *c, uint64_t timeout_ms);

/**
 * Connects to `host`:`port` (an IP address — IPv6 also in brackets,
 * `"[::1]"`, as tcphub prints addresses — or a name such as "localhost";
 * blocks for the name lookup, which has no time limit of its own, then up
 * to 10 s per resolved address) using the given framing
 * (`max_len` 0: the framing's default; RAW takes only 0) and stores the new client in
 * `*client_out`. Messages from the server are taken with `tcphub_client_recv`.
 * The other settings are the defaults of `tcphub_client_options_init`;
 * `tcphub_client_connect_with` takes them all (reconnect included).
 *
 * Returns `TCPHUB_ERR_CONNECT` (refused, timed out, unresolvable;
 * `tcphub_last_error()` names every address tried, each with its error),
 * `TCPHUB_ERR_INVALID_ARG` (an empty `host`, a `host` with a port in it
 * such as "127.0.0.1:8001" (give the port as `port`), numbers and dots
 * that are no IPv4 address such as "127.0.0.010" (the system's resolver
 * would read 127.0.0.8: a leading zero is octal), `port` 0, an
 * unknown framing, a `max_len` other than 0 with RAW), `TCPHUB_ERR_NULL` (`host` or `client_out` NULL),
 * `TCPHUB_ERR_IO`. On failure `*client_out` is set to NULL.
 *
 * # Safety
 *
 * `host` is NULL or a NUL-terminated string; `client_out` is NULL or writable.
 */
int tcphub_client_connect(const char *host, uint16_t port, tcphub_framing framing, size_t max_len, struct tcphub_client **client_out);

/**
 * Connects to `host`:`port` as `tcphub_client_connect` does, with the
 * settings in `*options` (made by `tcphub_client_options_init`), and stores
 * the new client in `*client_out`. The first connection must succeed;
 * with `reconnect` set, later drops are redialled with backoff while
 * `tcphub_client_is_connected` is false, and `tcphub_client_recv` keeps
 * returning messages across them.
 *
 * Returns `TCPHUB_ERR_CONNECT` (refused, timed out, unresolvable;
 * `tcphub_last_error()` names every address tried, each with its error;
 * cancelled through `options->cancel`, with `tcphub_last_errno()` `EINTR`),
 * `TCPHUB_ERR_INVALID_ARG` (an empty `host`, a `host` with a port in it,
 * `port` 0, `options->size`
 * smaller than this version's struct, an unknown framing, a zero
 * `connect_timeout_ms`, zero reconnect delays with `reconnect` set, a
 * `reconnect_max_attempts` without `reconnect`, a zero
 * `max_queue_bytes` or `event_capacity`, a `keepalive_ms` over
 * 32,767 s), `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`. On failure
 * `*client_out` is set to NULL.
 *
 * ```c
 * tcphub_client_options o;
 * tcphub_client_options_init(&o); // the defaults, and o.size
 * o.framing = TCPHUB_FRAMING_LINES;
 * o.reconnect = true;
 * o.reconnect_max_attempts = 10;
 * tcphub_client *c;
 * if (tcphub_client_connect_with(host, port, &o, &c) != TCPHUB_OK)
 *     fprintf(stderr, "%s\n", tcphub_last_error()); // c is NULL
 * ```
 *
 * # Safety
 *
 * `host` is NULL or a NUL-terminated string; `options` is NULL or
 * readable, and its `cancel` NULL or a live token; `client_out` is NULL
 * or writable.
 */
int tcphub_client_connect_with(const char *host, uint16_t port, const struct tcphub_client_options *options, struct tcphub_client **client_out);

/**
 * Why the client's most recent connection ended: stores its
 * `TCPHUB_REASON_*` in `*reason_out`, or -1 while no connection has ended.
 * Once `tcphub_client_recv` returns `TCPHUB_ERR_NOT_RUNNING` it tells a
 * clean close (`TCPHUB_REASON_CLOSED_BY_PEER`, `TCPHUB_REASON_CLOSED_LOCALLY`)
 * from a fault: `TCPHUB_REASON_RESET`, `TCPHUB_REASON_FRAME_TOO_LARGE` (the
 * server sent a frame over `max_len`), `TCPHUB_REASON_IO` (e.g. closed in
 * the middle of a frame). With reconnect on, it keeps the last reason after
 * a reconnect; once reconnecting gave up (`reconnect_max_attempts` failed
 * attempts) it is `TCPHUB_REASON_RECONNECT_GAVE_UP`, the final reason,
 * rather than the drop before the attempts; likewise a close between
 * connections whose redial to flush the queued messages fails gives
 * `TCPHUB_REASON_IO` (the dial's error) as they are dropped.
 *
 * Returns `TCPHUB_ERR_NULL` for a NULL argument (`*reason_out`, if it can
 * be written, is then -1).
 *
 * # Safety
 *
 * `c` is NULL or a live client; `reason_out` is NULL or writable.
 */
int tcphub_client_disconnect_reason(const struct tcphub_client *c, int *reason_out);

/**
 * Frees the message an event owns and zeroes the event. NULL and already
 * released (or zeroed) events are fine.
 *
 * # Safety
 *
 * `event` is NULL or points to an event that is zeroed or was filled in by
 * `tcphub_client_next_event`.
 */
void tcphub_client_event_release(struct tcphub_client_event *event);

/**
 * Waits up to `timeout_ms` milliseconds until every message queued before
 * the call has been written to the socket (handed to the kernel, not yet
 * acknowledged by the server; `tcphub_client_close` waits for that).
 * Messages other threads send meanwhile are not waited for. With
 * reconnect on it goes on waiting while the client is between
 * connections. From inside a tcphub callback (a server's) it does not
 * wait: it answers as with a timeout of 0.
 *
 * Returns `TCPHUB_OK` once written (at once when nothing is queued),
 * `TCPHUB_ERR_TIMEOUT` when the time ran out first,
 * `TCPHUB_ERR_NOT_RUNNING` when they never will be: the client was closed
 * (the close's flush is waited for) or its connection ended for good with
 * them unwritten.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int tcphub_client_flush(struct tcphub_client *c, uint64_t timeout_ms);

/**
 * Where `tcphub_client_flush` called now would wait for: every message
 * queued so far written. With `tcphub_client_flush_to`, a caller that
 * waits in short slices (to check a signal flag between them) waits for
 * the same messages across all of them, not also for those other threads
 * queue in between. 0 for NULL.
 *
 * ```c
 * uint64_t mark = tcphub_client_flush_mark(c);
 * int rc;
 * while ((rc = tcphub_client_flush_to(c, mark, 100)) == TCPHUB_ERR_TIMEOUT && !stop_requested)
 *     ;
 * ```
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
uint64_t tcphub_client_flush_mark(const struct tcphub_client *c);

/**
 * As `tcphub_client_flush`, for the messages queued before `mark` was
 * taken with `tcphub_client_flush_mark` (of this client: another
 * client's mark means nothing here; 0 waits for nothing).
 *
 * Returns as `tcphub_client_flush`.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int tcphub_client_flush_to(struct tcphub_client *c, uint64_t mark, uint64_t timeout_ms);

/**
 * Closes (as `tcphub_client_close`) and releases `c`. NULL is a no-op.
 * Call it exactly once, when no other thread uses `c`: a thread waiting in
 * `tcphub_client_recv` or `_next_event` would be left with a freed client.
 * Call `tcphub_client_close` first, which makes such waits return.
 *
 * # Safety
 *
 * `c` is NULL or a live client, not used again after this call.
 */
void tcphub_client_free(struct tcphub_client *c);

/**
 * Whether the connection is up. False for NULL.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
bool tcphub_client_is_connected(const struct tcphub_client *c);

/**
 * Whether the client is open: not closed (`tcphub_client_close`,
 * `_close_timeout`) and not ended for good (the server closed and
 * reconnect is off, or reconnect gave up). Unlike
 * `tcphub_client_is_connected` it stays true while reconnecting, and after
 * `tcphub_client_shutdown_write` until the server closes. False for NULL.
 * Any thread.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
bool tcphub_client_is_open(const struct tcphub_client *c);

/**
 * The client's own address on its connection (what the server sees as
 * the client's ip and port): writes the IP as NUL-terminated text to
 * `ip_out` and the port (as `tcphub_client_local_port`) to `*port_out`.
 * That of the current connection, or of the last one once it has ended.
 * Any thread.
 *
 * Returns `TCPHUB_ERR_NULL` for a NULL argument. On failure `ip_out` is
 * the empty string and `*port_out` 0.
 *
 * # Safety
 *
 * `c` is NULL or a live client; `ip_out` is NULL or has room for
 * `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
 */
int tcphub_client_local_addr(const struct tcphub_client *c, char *ip_out, uint16_t *port_out);

/**
 * The local port of the client's connection (what the server sees as the
 * client's port), or 0 for NULL.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
uint16_t tcphub_client_local_port(const struct tcphub_client *c);

/**
 * Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
 * look) for the client's next event and writes it to `*event_out`,
 * overwriting it without releasing it (the event owns its message: free
 * it with `tcphub_client_event_release`). It shares the queue with
 * `tcphub_client_recv`, which skips all but messages: with reconnect on, a
 * `TCPHUB_CLIENT_EVENT_RECONNECTED` is where to log in or subscribe again.
 * The events come in order: messages, then DISCONNECTED (with reconnect:
 * RECONNECTING, RECONNECTED or another RECONNECTING, …), and CLOSED last.
 *
 * Returns `TCPHUB_OK` with an event, `TCPHUB_ERR_TIMEOUT` when none came in
 * time, `TCPHUB_ERR_NOT_RUNNING` once CLOSED was taken. On failure
 * `*event_out` is zeroed.
 *
 * ```c
 * tcphub_client_event ev;
 * while (tcphub_client_next_event(c, &ev, -1) == TCPHUB_OK) {
 *     if (ev.kind == TCPHUB_CLIENT_EVENT_MESSAGE)
 *         handle_message(ev.message.data, ev.message.len);
 *     else if (ev.kind == TCPHUB_CLIENT_EVENT_RECONNECTED)
 *         tcphub_client_send(c, (const uint8_t *)"login alice", 11); // log in again
 *     tcphub_client_event_release(&ev);
 * } // ends once TCPHUB_CLIENT_EVENT_CLOSED was taken
 * ```
 *
 * # Safety
 *
 * `c` is NULL or a live client; `event_out` is NULL or writable.
 */
int tcphub_client_next_event(struct tcphub_client *c, struct tcphub_client_event *event_out, int timeout_ms);

/**
 * Fills `*options` with the defaults (see each field). NULL is a no-op.
 *
 * # Safety
 *
 * `options` is NULL or writable.
 */
void tcphub_client_options_init(struct tcphub_client_options *options);

/**
 * The server's address: writes its IP as NUL-terminated text (e.g.
 * "127.0.0.1" or "::1", as `tcphub_client_info.ip`; a server dialled as
 * "::ffff:127.0.0.1" is "127.0.0.1") to `ip_out` and its
 * port to `*port_out`. That of the current connection, or of the last
 * one once it has ended (with reconnect on, a host name may resolve to
 * another address next time). Any thread.
 *
 * Returns `TCPHUB_ERR_NULL` for a NULL argument. On failure `ip_out` is
 * the empty string and `*port_out` 0.
 *
 * # Safety
 *
 * `c` is NULL or a live client; `ip_out` is NULL or has room for
 * `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
 */
int tcphub_client_peer_addr(const struct tcphub_client *c, char *ip_out, uint16_t *port_out);

/**
 * Bytes accepted by `tcphub_client_send` and not yet written to the
 * socket (the message bytes with their framing), or 0 for NULL. Against
 * `max_queue_bytes` each queued message also counts 48 bytes of
 * bookkeeping. 0 again once the client has ended (what was still queued is
 * dropped then). Any thread.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
size_t tcphub_client_queued_bytes(const struct tcphub_client *c);

/**
 * As `tcphub_server_ready_fd`, for the messages and events of client `c`
 * (taken with `tcphub_client_recv` / `tcphub_client_next_event` with
 * timeout 0): readable at the next one, or once the client has ended for
 * good.
 *
 * Returns `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`. On failure `*ready_out` is
 * set to NULL.
 *
 * # Safety
 *
 * `c` is NULL or a live client; `ready_out` is NULL or writable.
 */
int tcphub_client_ready_fd(struct tcphub_client *c, struct tcphub_ready_fd **ready_out);

/**
 * Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
 * look) for the next message from the server and stores it in `*msg_out`
 * (overwritten without release; free it with `tcphub_message_release`).
 *
 * Returns `TCPHUB_ERR_TIMEOUT` when nothing came in time,
 * `TCPHUB_ERR_NOT_RUNNING` once the connection is gone and every message
 * was taken. On failure `*msg_out` is zeroed.
 *
 * ```c
 * tcphub_message m;
 * int rc;
 * while ((rc = tcphub_client_recv(c, &m, 5000)) == TCPHUB_OK) {
 *     handle_message(m.data, m.len);
 *     tcphub_message_release(&m);
 * }
 * // TCPHUB_ERR_NOT_RUNNING: the connection ended; TCPHUB_ERR_TIMEOUT: 5 s of silence
 * ```
 *
 * # Safety
 *
 * `c` is NULL or a live client; `msg_out` is NULL or writable.
 */
int tcphub_client_recv(struct tcphub_client *c, struct tcphub_message *msg_out, int timeout_ms);

/**
 * Frames and queues `len` bytes at `data` for the server. Never blocks
 * (`tcphub_client_send_timeout` waits for room; `tcphub_client_flush`
 * for what is queued to be written). `data` may be NULL when `len` is 0.
 *
 * Returns `TCPHUB_ERR_QUEUE_FULL` (past `max_queue_bytes`, see
 * `tcphub_client_options`), `TCPHUB_ERR_FRAME_TOO_LARGE`,
 * `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
 * `TCPHUB_FRAMING_LINES`; nothing is queued),
 * `TCPHUB_ERR_NOT_RUNNING` (closed, or the server went away).
 *
 * # Safety
 *
 * `c` is NULL or a live client; `data` is NULL or `len` readable bytes.
 */
int tcphub_client_send(struct tcphub_client *c, const uint8_t *data, size_t len);

/**
 * Frames and queues `len` bytes at `data` as `tcphub_client_send` does,
 * but when the queue has no room waits up to `timeout_ms` milliseconds for
 * the I/O thread to make some (0: never waits, as `tcphub_client_send`).
 * A message larger than `max_queue_bytes` by itself is taken, as by
 * `tcphub_client_send`, only into an empty queue: this waits for the queue
 * to empty. From inside a tcphub callback (a server's) it does not wait:
 * the thread that writes may be the one running the callback.
 * `data` may be NULL when `len` is 0.
 *
 * Returns `TCPHUB_ERR_QUEUE_FULL` when there was no room in time,
 * `TCPHUB_ERR_FRAME_TOO_LARGE` and `TCPHUB_ERR_INVALID_MESSAGE` at once,
 * `TCPHUB_ERR_NOT_RUNNING` (closed,
 * or the server went away for good — also during the wait).
 *
 * # Safety
 *
 * `c` is NULL or a live client; `data` is NULL or `len` readable bytes.
 */
int tcphub_client_send_timeout(struct tcphub_client *c, const uint8_t *data, size_t len, uint64_t timeout_ms);

/**
 * Finishes sending (a TCP half-close): what is queued is written, then the
 * sending side is shut so the server reads end-of-stream. Messages keep
 * arriving until the server closes its side, which ends the client for good
 * (no reconnect). Later `tcphub_client_send` calls return
 * `TCPHUB_ERR_NOT_RUNNING`. Idempotent. A tcphub server answers it with
 * the replies to the messages before it, then closes.
 *
 * Returns `TCPHUB_ERR_NOT_RUNNING` once the client is closed.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int tcphub_client_shutdown_write(struct tcphub_client *c);

/**
 * Bytes written to the connection that the server's system has not
 * acknowledged yet (sent but not known to have arrived); with
 * `tcphub_client_queued_bytes`, what stands between `tcphub_client_send`
 * and the server having it. -1 while no connection is up (connecting,
 * between reconnects, closed), where the system does not say (it does on
 * Linux), and for NULL. Watching it fall tells a slow but steady reader
 * from a stopped one, e.g. before a `tcphub_client_close` whose linger
 * time would run out while the server is still taking the data. Any
 * thread.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
int64_t tcphub_client_unacknowledged_bytes(const struct tcphub_client *c);

/**
 * Messages accepted by `tcphub_client_send` that were never written whole,
 * or 0 for NULL: those still queued when the client ended for good and
 * were dropped — the connection lost without reconnect (or reconnecting
 * gave up), `tcphub_client_close` / `_close_timeout` out of linger time,
 * or the server's end-of-stream (unless `write_after_server_eof` is set
 * in `tcphub_client_options`). 0 while the client is open: what is queued
 * then may still be written. A message cut off in the middle counts as
 * unsent (the server gets none of it as a message); messages written but
 * never read by the server are not counted (the client cannot see those).
 * Any thread.
 *
 * # Safety
 *
 * `c` is NULL or a live client.
 */
uint64_t tcphub_client_unsent(const struct tcphub_client *c);

/**
 * Cancels the connects given `c` (and those given it later). Any thread,
 * any number of times; it never blocks for long.
 *
 * Returns `TCPHUB_ERR_NULL` for NULL.
 *
 * # Safety
 *
 * `c` is NULL or a live token.
 */
int tcphub_connect_cancel_cancel(const struct tcphub_connect_cancel *c);

/**
 * Releases `c`. NULL is a no-op. A connect under way keeps its own share
 * of the token (cancelling it is then no longer possible from here), but
 * free it only once no `tcphub_client_connect_with` given it can still be
 * starting: one reads the pointer as it starts.
 *
 * # Safety
 *
 * `c` is NULL or a live token, not used again after this call.
 */
void tcphub_connect_cancel_free(struct tcphub_connect_cancel *c);

/**
 * Whether `c` was cancelled (false for NULL).
 *
 * # Safety
 *
 * `c` is NULL or a live token.
 */
bool tcphub_connect_cancel_is_cancelled(const struct tcphub_connect_cancel *c);

/**
 * A new token, not cancelled. Returns NULL only if it cannot be created
 * (see `tcphub_last_error`). Release it with `tcphub_connect_cancel_free`.
 *
 * A connect another thread can end (`cancel` made here, freed once the connect returned):
 * ```c
 * tcphub_client_options o;
 * tcphub_client_options_init(&o);
 * o.connect_timeout_ms = 60000;
 * o.cancel = cancel;
 * tcphub_client *c;
 * int rc = tcphub_client_connect_with(host, port, &o, &c); // TCPHUB_ERR_CONNECT once cancelled
 *
 * // another thread, to give up:
 * tcphub_connect_cancel_cancel(cancel); // the connect ends now
 * ```
 */
struct tcphub_connect_cancel *tcphub_connect_cancel_new(void);

/**
 * The full text of the last disconnect reason handed to *this thread*,
 * e.g. "i/o error: timed out" (a keepalive timeout) or "closed in the
 * middle of a frame" where the code says only `TCPHUB_REASON_IO`, or
 * "gave up reconnecting after 5 attempts": that of the `on_disconnect` running
 * on this thread (call it there), of the disconnect event
 * `tcphub_server_next_event` or `tcphub_client_next_event` last gave this
 * thread, or of the reason `tcphub_client_disconnect_reason` last gave
 * it. Empty before any. Never NULL; it belongs to the thread and stays
 * valid until the next of those on it; copy it to keep it.
 *
 * ```c
 * static void on_disconnect(void *ud, uint64_t id, int reason) {
 *     printf("client %llu left (%s)\n", (unsigned long long)id, tcphub_disconnect_detail());
 * }
 * ```
 */
const char *tcphub_disconnect_detail(void);

/**
 * Frees the message data an event owns and zeroes the event. NULL and
 * already released (or zeroed) events are fine.
 *
 * # Safety
 *
 * `event` is NULL or points to an event that is zeroed or was filled in by
 * `tcphub_server_next_event`.
 */
void tcphub_event_release(struct tcphub_event *event);

/**
 * The operating-system error number (an `errno` value) behind the last
 * call on *this thread* that failed, or 0 when that failure had none: it
 * goes with `tcphub_last_error()`, and like it is 0 before any failure
 * and left unchanged by successful calls. It tells apart what the code
 * alone does not, without parsing the text: `EADDRINUSE` or `EACCES`
 * behind `TCPHUB_ERR_BIND`, `ECONNREFUSED`, `ETIMEDOUT` (a connect
 * timeout too) or `EHOSTUNREACH` behind `TCPHUB_ERR_CONNECT`, the cause of
 * a `TCPHUB_ERR_IO` — as Rust's `Error::io_error()` and Python's
 * `OSError.errno` give it. Failures no system call reported (a full queue,
 * an unknown client, a bad argument, a host name that did not resolve:
 * see `tcphub_last_gai_error()`) leave 0. tcphub never sets the C
 * `errno` itself: read this instead.
 *
 * ```c
 * if (tcphub_server_start(s) == TCPHUB_ERR_BIND && tcphub_last_errno() == EADDRINUSE)
 *     fprintf(stderr, "port %u is taken\n", port);
 * ```
 */
int tcphub_last_errno(void);

/**
 * Details of the last call on *this thread* that failed: which function and
 * why (e.g. "tcphub_server_start: cannot listen on 127.0.0.1:8001: address
 * in use"). Empty before any failure; successful calls leave it unchanged.
 * Never NULL. The string belongs to the thread and stays valid until its
 * next failing tcphub call; copy it to keep it.
 */
const char *tcphub_last_error(void);

/**
 * The resolver's code behind the last call on *this thread* that failed,
 * or 0 when that failure had none: for a `TCPHUB_ERR_CONNECT` whose host
 * name did not resolve, the `EAI_*` value `getaddrinfo` returned, as
 * `<netdb.h>` defines it (`EAI_NONAME`: no such name; `EAI_AGAIN`: no name
 * server answered, try later), as Python's `socket.gaierror` has it in
 * `errno`; `gai_strerror()` names it. Like `tcphub_last_errno()` it goes
 * with `tcphub_last_error()`: 0 before any failure, unchanged by
 * successful calls. A resolver failure the system reported as an OS error
 * (`EAI_SYSTEM`) leaves 0 here and sets `tcphub_last_errno()`.
 *
 * ```c
 * tcphub_client *c = NULL;
 * if (tcphub_client_connect(host, port, TCPHUB_FRAMING_LINES, 0, &c) == TCPHUB_ERR_CONNECT
 *     && tcphub_last_gai_error() == EAI_NONAME)
 *     fprintf(stderr, "no such host: %s\n", host);
 * ```
 */
int tcphub_last_gai_error(void);

/**
 * Frees a message's bytes and zeroes it. NULL and released messages are fine.
 *
 * # Safety
 *
 * `msg` is NULL or a zeroed message or one filled in by `tcphub_client_recv`.
 */
void tcphub_message_release(struct tcphub_message *msg);

/**
 * Readies `r` for a wait: 1 when nothing can be taken now, and its
 * descriptor becomes readable at the next event (or the end); 0 when
 * something can be taken now (or the server stopped, the client ended),
 * and it is not armed: take, do not wait. Either way what made the
 * descriptor readable before is read, so it is readable again only for
 * what comes after this call. Takes nothing. A wakeup may be spurious
 * (another thread took the event first): take until the take times out,
 * then arm again. For a server it counts as asking for more events, as a
 * wait does (it ends the default hold of clients whose
 * `TCPHUB_EVENT_DISCONNECTED` was taken).
 *
 * Returns 1, 0, `TCPHUB_ERR_NULL`, or `TCPHUB_ERR_NOT_RUNNING` for a
 * server's descriptor made before the server was started again: it
 * watches the ended run (make a new one for the new run).
 *
 * # Safety
 *
 * `r` is NULL or a live readiness descriptor.
 */
int tcphub_ready_fd_arm(struct tcphub_ready_fd *r);

/**
 * The file descriptor to wait on for reading (`POLLIN`); -1 for NULL.
 * Owned by `r`: do not read or close it.
 *
 * # Safety
 *
 * `r` is NULL or a live readiness descriptor.
 */
int tcphub_ready_fd_fileno(const struct tcphub_ready_fd *r);

/**
 * Closes the descriptor and frees `r`. NULL is ignored.
 *
 * # Safety
 *
 * `r` is NULL or a live readiness descriptor, not used again.
 */
void tcphub_ready_fd_free(struct tcphub_ready_fd *r);

/**
 * A static, human-readable description of a disconnect reason (a
 * `TCPHUB_REASON_*` value, as `on_disconnect`, `tcphub_event.reason` and
 * `tcphub_client_disconnect_reason` give it), e.g. "closed by peer" — the
 * words the Rust and Python APIs use; "unknown reason" for anything else.
 * Never NULL; never free it.
 *
 * ```c
 * printf("client %llu left (%s)\n", (unsigned long long)id, tcphub_reason_str(reason));
 * ```
 */
const char *tcphub_reason_str(int reason);

/**
 * Starts a graceful stop and returns at once, without waiting for the
 * event-loop threads (a later `tcphub_server_stop`, `_wait` or `_free`
 * waits for them). For threads that must not block, such as a thread
 * that `sigwait()`s for SIGINT — but not a signal handler: like every
 * tcphub function it is not async-signal-safe (see the threading rules at
 * the top). Idempotent; a server never started is not an error.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_begin_stop(struct tcphub_server *s);

/**
 * Number of clients connected right now: 0 for NULL, a server never
 * started or one whose stop has finished (while a stop flushes, the
 * clients it still writes to count, as `tcphub_server_clients` lists them).
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
size_t tcphub_server_client_count(const struct tcphub_server *s);

/**
 * Writes client `client_id`'s address to `*info_out`.
 *
 * Inside `on_disconnect`, the client leaving is found too (that callback
 * is passed only its id), as is every client in its own `on_connect` and
 * `on_message`.
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT` when it is not connected (also once
 * a stop has finished; while a stop flushes, a client still written to is
 * found), `TCPHUB_ERR_NOT_RUNNING` for a server never started,
 * `TCPHUB_ERR_NULL`. On failure `*info_out` is zeroed.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `info_out` is NULL or writable.
 */
int tcphub_server_client_info(const struct tcphub_server *s, uint64_t client_id, struct tcphub_client_info *info_out);

/**
 * Lists the connected clients: writes up to `capacity` of them to
 * `clients_out` (in no particular order) and their total number to
 * `*count_out` — more than `capacity` means the list was cut short; call
 * again with more room. `clients_out` may be NULL when `capacity` is 0
 * (just count). A server never started, or whose stop has finished, has
 * none; while a stop flushes, the clients it still writes to are listed
 * (as `tcphub_server_client_count` counts them). Clients come and go
 * meanwhile: the list is one moment's.
 *
 * Returns `TCPHUB_ERR_NULL` for a NULL `s` or `count_out`, or a NULL
 * `clients_out` with `capacity` above 0 (`*count_out` is then 0).
 *
 * ```c
 * size_t cap = 64, n;
 * tcphub_client_info *list = malloc(cap * sizeof *list);
 * while (tcphub_server_clients(s, list, cap, &n) == TCPHUB_OK && n > cap) {
 *     cap = n + 16; // more came: make room and ask again
 *     list = realloc(list, cap * sizeof *list);
 * }
 * for (size_t i = 0; i < n && i < cap; i++)
 *     printf("%llu %s:%u\n", (unsigned long long)list[i].client_id, list[i].ip, (unsigned)list[i].port);
 * free(list);
 * ```
 *
 * # Safety
 *
 * `s` is NULL or a live server; `clients_out` is NULL or has room for
 * `capacity` entries; `count_out` is NULL or writable.
 */
int tcphub_server_clients(const struct tcphub_server *s, struct tcphub_client_info *clients_out, size_t capacity, size_t *count_out);

/**
 * Disconnects client `client_id`; its disconnect is reported with
 * `TCPHUB_REASON_KICKED`. What was queued for it before this call is
 * still written (for up to the linger time, 2 s unless set with
 * `tcphub_server_set_linger`); what is queued after it is not, even
 * though `tcphub_server_send` may still return `TCPHUB_OK` (and a second
 * `tcphub_server_disconnect` for it `TCPHUB_OK`) until the disconnect has
 * taken effect. Nothing the client sends after this call returned is
 * handed out (what its loop had read of it by then may still be; from a
 * callback of its own loop, the rest of the read in hand is dropped).
 * Like a send, called from an application thread it waits while the
 * client's event loop is more than 64 MiB behind (a kick counts its
 * command's size); called from inside a callback it never waits.
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_disconnect(struct tcphub_server *s, uint64_t client_id);

/**
 * Stops the server (as `tcphub_server_stop`) and releases `s`. NULL is a
 * no-op. Call it exactly once per server, and not while another thread may
 * still use `s`. Prefer calling it outside callbacks: from inside one the
 * memory is released only when the last event-loop thread ends.
 *
 * # Safety
 *
 * `s` is NULL or a live server, not used again after this call.
 */
void tcphub_server_free(struct tcphub_server *s);

/**
 * Whether input is paused (`tcphub_server_pause_input` without a
 * `tcphub_server_resume_input` since). False for NULL and for a server
 * never started.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
bool tcphub_server_input_paused(const struct tcphub_server *s);

/**
 * Whether the server runs: started and not stopped. False for NULL.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
bool tcphub_server_is_running(const struct tcphub_server *s);

/**
 * The address the server listens on: writes its IP as NUL-terminated text
 * to `ip_out` (e.g. "127.0.0.1", "::" for a dual-stack server) and its
 * port to `*port_out` — the real one when it was created with port 0, as
 * `tcphub_server_port`. After a stop, the last run's address (no longer
 * listening). Any thread.
 *
 * ```c
 * char ip[TCPHUB_IP_LEN];
 * uint16_t port;
 * if (tcphub_server_local_addr(s, ip, &port) == TCPHUB_OK)
 *     printf("listening on %s port %u\n", ip, (unsigned)port);
 * ```
 *
 * Returns `TCPHUB_ERR_NULL` for a NULL argument,
 * `TCPHUB_ERR_NOT_RUNNING` when the server was never started. On failure
 * `ip_out` is the empty string and `*port_out` 0.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `ip_out` is NULL or has room for
 * `TCPHUB_IP_LEN` chars; `port_out` is NULL or writable.
 */
int tcphub_server_local_addr(const struct tcphub_server *s, char *ip_out, uint16_t *port_out);

/**
 * Creates a server for `port` (0: the system picks a free one, see
 * `tcphub_server_port`) admitting at most `max_clients` clients at once
 * (at least 1: `tcphub_server_start` refuses 0 with
 * `TCPHUB_ERR_INVALID_ARG`).
 * It listens on 0.0.0.0 with `TCPHUB_FRAMING_RAW` and one event-loop thread
 * per core unless configured otherwise. Nothing is bound until
 * `tcphub_server_start`.
 *
 * Returns NULL only if the object cannot be created (see `tcphub_last_error`).
 * Release it with `tcphub_server_free`.
 * A whole server, from new to start: see `tcphub_server_on_message`.
 */
struct tcphub_server *tcphub_server_new(uint16_t port, size_t max_clients);

/**
 * Waits up to `timeout_ms` milliseconds (negative: without limit, 0: just
 * look) for the next event of a server running in pull mode (no callbacks
 * set) and writes it to `*event_out`, overwriting it without releasing it
 * (the event owns its message: free it with `tcphub_event_release`).
 * Events of one client come in order: CONNECTED, its MESSAGEs, then one
 * DISCONNECTED. Several threads may wait at once; each event goes to one.
 * A client that finished sending (`TCPHUB_REASON_CLOSED_BY_PEER`, or
 * `TCPHUB_REASON_IO` when it ended in the middle of a frame) is held open
 * after its DISCONNECTED so `tcphub_server_send` (and `_send_to`,
 * `_send_all`) still reach it, until the next call of this function (by
 * any thread) or the linger time (2 s unless set with
 * `tcphub_server_set_linger`) after it was taken: reply to a client's
 * messages before asking for the next event (or hold it for answers made
 * later with `tcphub_server_set_hold_for_replies`).
 * Events still queued when the server stops can be taken after the stop.
 *
 * Returns `TCPHUB_OK` with an event, `TCPHUB_ERR_TIMEOUT` when none came in
 * time, `TCPHUB_ERR_NOT_RUNNING` when the server was never started, runs
 * in callback mode (its events go to the callbacks), or has stopped and
 * every event was taken. On failure `*event_out` is zeroed.
 *
 * A pull-mode loop:
 * ```c
 * tcphub_event ev;
 * int rc;
 * while ((rc = tcphub_server_next_event(s, &ev, -1)) == TCPHUB_OK) {
 *     if (ev.kind == TCPHUB_EVENT_MESSAGE)
 *         tcphub_server_send(s, ev.client_id, ev.data, ev.len); // echo, before the next event
 *     handle(&ev);
 *     tcphub_event_release(&ev); // frees ev.data
 * }
 * // TCPHUB_ERR_NOT_RUNNING: stopped, and every event was taken
 * ```
 *
 * # Safety
 *
 * `s` is NULL or a live server; `event_out` is NULL or writable.
 */
int tcphub_server_next_event(struct tcphub_server *s, struct tcphub_event *event_out, int timeout_ms);

/**
 * Sets the callback for new clients (NULL `cb` removes it). With no
 * callback set at all the server runs in pull mode (`tcphub_server_next_event`).
 * With any callback set it runs in callback mode: an event whose callback
 * is not set is dropped, and `tcphub_server_next_event` returns
 * `TCPHUB_ERR_NOT_RUNNING` — so with `on_connect` or `on_disconnect`
 * alone, e.g. for logging, the clients' messages go nowhere.
 * Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `cb` and `userdata` may be called from the
 * event-loop threads until the last callback (see the threading rules above).
 */
int tcphub_server_on_connect(struct tcphub_server *s, tcphub_connect_cb cb, void *userdata);

/**
 * Sets the callback for departures (NULL `cb` removes it). See
 * `tcphub_server_on_connect`. Every client that was reported connected is
 * reported disconnected exactly once, including when the server stops
 * (`TCPHUB_REASON_SERVER_STOPPED`). It is the client's last callback (a
 * client's callbacks run in order on one thread: no `on_message` for it
 * runs during or after it), so it is the place to free what you keep
 * for `client_id` (ids are not reused within a run of the server).
 *
 * Returns as `tcphub_server_on_connect`: `TCPHUB_ERR_ALREADY_RUNNING`
 * while the server runs, `TCPHUB_ERR_NULL` for a NULL `s`.
 *
 * # Safety
 *
 * As for `tcphub_server_on_connect`.
 */
int tcphub_server_on_disconnect(struct tcphub_server *s, tcphub_disconnect_cb cb, void *userdata);

/**
 * Sets the callback for messages (NULL `cb` removes it). See
 * `tcphub_server_on_connect`.
 *
 * Returns as `tcphub_server_on_connect`: `TCPHUB_ERR_ALREADY_RUNNING`
 * while the server runs, `TCPHUB_ERR_NULL` for a NULL `s`.
 *
 * A server echoing lines:
 * ```c
 * static void echo(void *userdata, uint64_t id, const uint8_t *data, size_t len) {
 *     tcphub_server_send(userdata, id, data, len); // userdata: the server
 * }
 *
 * tcphub_server *s = tcphub_server_new(port, 100);
 * tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0);
 * tcphub_server_on_message(s, echo, s);
 * if (tcphub_server_start(s) != TCPHUB_OK) {
 *     fprintf(stderr, "%s\n", tcphub_last_error());
 *     tcphub_server_free(s);
 *     return 1;
 * }
 * ```
 *
 * # Safety
 *
 * As for `tcphub_server_on_connect`.
 */
int tcphub_server_on_message(struct tcphub_server *s, tcphub_message_cb cb, void *userdata);

/**
 * Backpressure for one client: its event loop reads nothing more from
 * client `client_id` until `tcphub_server_resume_client`, so what it sends
 * waits in the kernel and TCP slows it down, while the other clients are
 * served. Sends to it go on as usual. From a callback on that client's
 * own message it takes effect at once (the rest of the read in hand waits
 * for the resume); from another thread, what the client sends after the
 * call returned waits for the resume (what its loop had read of it by
 * then may still be handed out). While paused its idle and frame timeouts wait (the clocks
 * start again at the resume), and its end is noticed only at the resume,
 * unless it is gone (it reset, keepalive found it gone, or a write to it
 * failed): then what it sent is read and handed out, and it is closed.
 * Not counted: one resume ends any number of pauses. Independent of
 * `tcphub_server_pause_input`: a client is read when neither holds it.
 * Like a send, called from an application thread it (and
 * `tcphub_server_resume_client`) waits while the client's event loop is
 * more than 64 MiB behind (each pause or resume counts its command's
 * size); called from inside a callback it never waits.
 *
 * ```c
 * // on_message: a client with too many jobs in flight waits
 * if (++jobs_of(id) >= PER_CLIENT_MAX) tcphub_server_pause_client(srv, id);
 * // a worker, once a job of that client is done
 * if (--jobs_of(id) == PER_CLIENT_MAX / 2) tcphub_server_resume_client(srv, id);
 * ```
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_pause_client(struct tcphub_server *s, uint64_t client_id);

/**
 * Pauses reading from every client until `tcphub_server_resume_input`:
 * backpressure for an application whose work queue is full (a worker pool
 * fed by `on_message`, say). The server leaves what clients send in the
 * kernel, so TCP slows the senders down; nothing is lost or dropped.
 * Sends, broadcasts and accepting go on, and queued events stay to take.
 *
 * From a callback of this server it takes effect at once: no `on_message`
 * on that event loop after it (the rest of what was read waits). From
 * another thread it takes effect at each loop's next read (the rest of a
 * read in hand, at most 64 KiB, is still handed out); events already
 * queued stay to take. While paused the idle and
 * frame timeouts wait, and a client that leaves or resets is noticed only
 * once input resumes. Not counted: one resume ends any number of pauses.
 * After `tcphub_server_stop_input` input is read to be dropped, paused or
 * not. Any thread, also inside a callback.
 *
 * Returns `TCPHUB_OK` (also for a server already stopped),
 * `TCPHUB_ERR_NOT_RUNNING` for a server never started.
 *
 * Decide the pause and the resume under your queue's lock: checked and
 * acted on apart, a pause can land after the workers' last look at an
 * emptied queue, and nobody resumes.
 *
 * ```c
 * // on_message, under the queue's lock: queue the job; at the bound, pause
 * if (++q->len >= QUEUE_MAX) tcphub_server_pause_input(q->server);
 * // a worker, under the same lock, after taking a job
 * if (--q->len <= QUEUE_MAX / 2 && tcphub_server_input_paused(q->server))
 *     tcphub_server_resume_input(q->server);
 * ```
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_pause_input(struct tcphub_server *s);

/**
 * How many events wait in a pull-mode server's queue to be taken by
 * `tcphub_server_next_event` right now, as Rust's `events().len()`: the
 * backlog of a consumer that falls behind. While it is at the capacity
 * (`tcphub_server_set_event_capacity`, 65536 by default) or its messages
 * hold 64 MiB, the server stops reading from clients. Events queued
 * before a stop count until taken. Asking takes nothing and does not end
 * the hold of a client that finished sending (see
 * `tcphub_server_next_event`). 0 for NULL, a server never started, and
 * one with callbacks (they run as events happen: nothing waits).
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
size_t tcphub_server_pending_events(const struct tcphub_server *s);

/**
 * The port the server listens on (the real one when created with port 0),
 * or 0 if it was never started or `s` is NULL. After a stop it is still the
 * port of the last run (no longer listening).
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
uint16_t tcphub_server_port(const struct tcphub_server *s);

/**
 * Stores in `*ready_out` a new readiness descriptor for the pull-mode
 * events of `s`: call `tcphub_ready_fd_arm` before each wait on its
 * `tcphub_ready_fd_fileno` (0: an event can be taken now, do not wait);
 * it then becomes readable at the next event, or once the server has
 * stopped (`tcphub_server_next_event` then says so). Take the events
 * with `tcphub_server_next_event(s, &ev, 0)` until it returns
 * `TCPHUB_ERR_TIMEOUT`, then arm again. Any number may watch one server,
 * each armed by its own consumer. Free it with `tcphub_ready_fd_free`
 * (before or after the server).
 *
 * Returns `TCPHUB_ERR_NOT_RUNNING` (never started; or the server has
 * callbacks: no event is ever queued), `TCPHUB_ERR_NULL`, `TCPHUB_ERR_IO`
 * (no descriptors left). On failure `*ready_out` is set to NULL.
 *
 * ```c
 * tcphub_ready_fd *r;
 * tcphub_server_ready_fd(s, &r);
 * struct pollfd p = { .fd = tcphub_ready_fd_fileno(r), .events = POLLIN };
 * for (;;) {
 *     tcphub_event ev;
 *     int rc;
 *     while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
 *         handle(&ev);
 *         tcphub_event_release(&ev);
 *     }
 *     if (rc != TCPHUB_ERR_TIMEOUT) break; // stopped, every event taken
 *     int armed = tcphub_ready_fd_arm(r);
 *     if (armed < 0) break; // the server was started again: make a new one
 *     if (armed == 1) poll(&p, 1, -1); // with your other fds
 * }
 * tcphub_ready_fd_free(r);
 * ```
 *
 * Break on the end as above: once the server has stopped, arming answers
 * 0 for good, and a loop that never looks at the return code would spin.
 * A descriptor watches the run current when it was made: once the server
 * is started again, arming it returns `TCPHUB_ERR_NOT_RUNNING`.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `ready_out` is NULL or writable.
 */
int tcphub_server_ready_fd(struct tcphub_server *s, struct tcphub_ready_fd **ready_out);

/**
 * Ends `tcphub_server_pause_client`: the client's loop reads it again,
 * what it sent meanwhile first. `TCPHUB_OK` for a client that is not
 * paused.
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_resume_client(struct tcphub_server *s, uint64_t client_id);

/**
 * Ends `tcphub_server_pause_input`: the server reads what its clients
 * sent meanwhile. Harmless when not paused and on a stopped server.
 *
 * Returns `TCPHUB_OK`, `TCPHUB_ERR_NOT_RUNNING` for a server never
 * started.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_resume_input(struct tcphub_server *s);

/**
 * Queues a message for client `client_id`. Messages to one client are
 * written in the order queued. Waits only as `tcphub_server_send_all`
 * does (an application thread, a loop more than 64 MiB behind).
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT`, `TCPHUB_ERR_NOT_RUNNING`,
 * `TCPHUB_ERR_FRAME_TOO_LARGE`, `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in
 * the message under `TCPHUB_FRAMING_LINES`).
 *
 * # Safety
 *
 * `s` is NULL or a live server; `data` is NULL or `len` readable bytes.
 */
int tcphub_server_send(struct tcphub_server *s, uint64_t client_id, const uint8_t *data, size_t len);

/**
 * Queues `len` bytes at `data` (framed once) for every connected client.
 * If `queued_out` is not NULL it receives the number of clients connected
 * at the call, each of which gets the message unless it leaves first or
 * its queue overflows (0 when the call fails). `data` may be NULL when
 * `len` is 0. A client held open for replies after its leaving was
 * reported (pull mode, see `tcphub_server_next_event`, or
 * `tcphub_server_set_hold_for_replies`) gets it too but is not
 * counted — a notice about its own leaving included: leave it out with
 * `tcphub_server_send_all_except`.
 *
 * Does not wait for the network. Called from an application thread it
 * waits only while the event loop is more than 64 MiB of messages behind
 * (backpressure, e.g. while a slow callback holds that loop up); called
 * from inside a callback it never waits.
 *
 * Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
 * `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
 * `TCPHUB_FRAMING_LINES`): on an error no client gets the message.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `data` is NULL or `len` readable bytes;
 * `queued_out` is NULL or writable.
 */
int tcphub_server_send_all(struct tcphub_server *s, const uint8_t *data, size_t len, size_t *queued_out);

/**
 * Queues `len` bytes at `data` (framed once) for every connected client
 * except client `except_id` — typically everyone but the sender of the
 * message being relayed. An `except_id` that is not connected excludes
 * nobody. If `queued_out` is not NULL it receives the number of those
 * clients connected at the call, each of which gets the message unless it
 * leaves first or its queue overflows (0 when the call fails). Otherwise
 * exactly as `tcphub_server_send_all` (waiting included).
 *
 * Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
 * `TCPHUB_ERR_INVALID_MESSAGE`, as `tcphub_server_send_all`.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `data` is NULL or `len` readable bytes;
 * `queued_out` is NULL or writable.
 */
int tcphub_server_send_all_except(struct tcphub_server *s, uint64_t except_id, const uint8_t *data, size_t len, size_t *queued_out);

/**
 * Queues `len` bytes at `data`, framed once into one buffer they share,
 * for each client among the `n_ids` ids at `ids` that is connected — a
 * topic's subscribers, a room's members. An id that is not connected is
 * skipped (no error, unlike `tcphub_server_send`), and one listed twice
 * gets the message once. If `queued_out` is not NULL it receives how many
 * distinct listed clients were connected at the call (0 when the call
 * fails); each gets the message unless it leaves first or its queue
 * overflows. A client held open for replies after its leaving was
 * reported (pull mode, or `tcphub_server_set_hold_for_replies`) is
 * reached and counted, as by `tcphub_server_send`. Each client gets the message in the order of everything sent to it.
 * `ids` may be NULL when `n_ids` is 0, `data` when `len` is 0. Waits only
 * as `tcphub_server_send_all` does (an application thread, a loop more
 * than 64 MiB behind).
 *
 * Returns `TCPHUB_ERR_NOT_RUNNING`, `TCPHUB_ERR_FRAME_TOO_LARGE`,
 * `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in the message under
 * `TCPHUB_FRAMING_LINES`): on these no client gets the message, but
 * for a stop begun by another thread during the call: that gives
 * `TCPHUB_ERR_NOT_RUNNING` too, though the clients of the event loops
 * the call reached first may still get it (a stop writes what was
 * queued); `TCPHUB_ERR_NULL` when `ids` is NULL with `n_ids` above 0,
 * `TCPHUB_ERR_INVALID_ARG` when `ids` is not aligned for `uint64_t`.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `ids` is NULL or `n_ids` readable ids;
 * `data` is NULL or `len` readable bytes; `queued_out` is NULL or
 * writable.
 */
int tcphub_server_send_many(struct tcphub_server *s, const uint64_t *ids, size_t n_ids, const uint8_t *data, size_t len, size_t *queued_out);

/**
 * Queues a message for the client whose remote address is `ip`:`port`
 * (as reported to `on_connect`). An IPv6 `ip` may also be written in brackets
 * (`"[::1]"`) or with an IPv6 zone ("fe80::1%eth0", ignored), and an IPv4
 * client may be named by its IPv4-mapped address ("::ffff:127.0.0.1").
 * A client is found from its `on_connect` (or `TCPHUB_EVENT_CONNECTED`)
 * on, not from the moment its `connect()` returns: the kernel completes
 * the handshake before the server accepts it. Should two connected
 * clients share the address (a server on 0.0.0.0 reached at two of its
 * addresses from one host's same port, or the same IPv6 link-local
 * address on two interfaces, the zone being ignored), it goes to the one
 * that connected last; `tcphub_server_send` with its id reaches either.
 * Waits only as `tcphub_server_send_all`
 * does (an application thread, a loop more than 64 MiB behind).
 *
 * Returns `TCPHUB_ERR_NO_SUCH_CLIENT` when no client is connected from
 * there, `TCPHUB_ERR_INVALID_ARG` when `ip` is not an IP address (a host
 * name included: it is not resolved, since clients are found by the
 * address they connected from), `TCPHUB_ERR_NOT_RUNNING`,
 * `TCPHUB_ERR_FRAME_TOO_LARGE`, `TCPHUB_ERR_INVALID_MESSAGE` (a `\n` in
 * the message under `TCPHUB_FRAMING_LINES`).
 *
 * # Safety
 *
 * `s` is NULL or a live server; `ip` is NULL or a NUL-terminated string;
 * `data` is NULL or `len` readable bytes.
 */
int tcphub_server_send_to(struct tcphub_server *s, const char *ip, uint16_t port, const uint8_t *data, size_t len);

/**
 * The listen backlog: connections the kernel completes and queues while
 * the server is busy (default 4096; the kernel caps it at
 * `net.core.somaxconn`). Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_INVALID_ARG` when `backlog` is below 1,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_backlog(struct tcphub_server *s, int backlog);

/**
 * Sets the local IP address to listen on, as text: "127.0.0.1", "::1",
 * "0.0.0.0" (the default), or "::" (IPv6 and IPv4); an IPv6 address may
 * also come in brackets (`"[::1]"`), as tcphub prints addresses.
 *
 * Returns `TCPHUB_ERR_INVALID_ARG` for text that is not an IP address
 * (a host name, a port, an IPv6 zone: the server binds an address alone),
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `ip` is NULL or a NUL-terminated string.
 */
int tcphub_server_set_bind_ip(struct tcphub_server *s, const char *ip);

/**
 * Lets an event loop that has run out of work keep polling for up to
 * `micros` microseconds, yielding its CPU between polls, before it sleeps
 * (default 5; 0 turns it off). Fewer sleep/wake cycles under steady load,
 * at the price of at most that much CPU per wakeup that finds nothing more
 * to do. While on, a loop that keeps finding work also yields its CPU
 * after a turn at most every 200 µs, so threads waiting for its core are
 * not held off until the scheduler tick. Takes effect at the next
 * `tcphub_server_start`, which fails with `TCPHUB_ERR_INVALID_ARG` for
 * more than 1000000 (1 s).
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_busy_poll(struct tcphub_server *s, uint64_t micros);

/**
 * Pull mode (no callbacks set): how many events the queue of
 * `tcphub_server_next_event` holds at most (0: the default, 65536). While
 * the queue is full, or its messages hold 64 MiB, the server stops reading
 * from clients until events are taken (TCP backpressure, bounded memory).
 * What comes past a full queue — the rest of the read that found it full
 * (at most 64 KiB of input per event loop), clients arriving and
 * leaving — waits in the event loops for room (once 1,024 events wait
 * so, no new connection is accepted: it waits in the listen backlog, and
 * a stop meanwhile closes the listener without admitting it), and at a
 * stop it comes after the queue, with the clients' last
 * `TCPHUB_EVENT_DISCONNECTED`s: then more events than this wait to be
 * taken (as `tcphub_server_pending_events` says), so size no array by it.
 * Any other value is the bound as given, as for the Rust core's
 * `TcpServer::event_capacity`: `SIZE_MAX` in effect removes the bound on
 * the number of events, and the 64 MiB bound still holds. Takes effect at
 * the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_event_capacity(struct tcphub_server *s, size_t events);

/**
 * A frame that has started must be complete within `timeout_ms`
 * milliseconds, else the client is cut with `TCPHUB_REASON_FRAME_TIMEOUT`
 * (defends against clients that drip a frame byte by byte; 0, the default,
 * turns it off). The clock does not run while the server is not reading
 * (its pull-mode event queue full, or another event loop far behind: TCP
 * then holds the client's bytes back), nor for most of a turn of an event
 * loop that takes over 50 ms or of a pull-mode application's work on the
 * event it took, as the idle clock
 * (`tcphub_server_set_idle_timeout`). Takes effect at the next
 * `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_frame_timeout(struct tcphub_server *s, uint64_t timeout_ms);

/**
 * Like `tcphub_server_set_idle_timeout_message`, for clients cut off by
 * the frame timeout (`tcphub_server_set_frame_timeout`: a frame begun
 * and not finished in time; the event says
 * `TCPHUB_REASON_FRAME_TIMEOUT`).
 *
 * Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
 */
int tcphub_server_set_frame_timeout_message(struct tcphub_server *s, const uint8_t *msg, size_t len);

/**
 * Like `tcphub_server_set_idle_timeout_message`, for clients cut off for
 * a frame over the framing's `max_len` (the event says
 * `TCPHUB_REASON_FRAME_TOO_LARGE`): what the client sends after it is read
 * and discarded until the notice is acknowledged. A peer that speaks
 * another framing learns that it was cut off rather than seeing a bare
 * end-of-stream. Under `TCPHUB_FRAMING_RAW` no frame is too large: it is
 * never sent.
 *
 * ```c
 * const char *why = "disconnected: message too long";
 * tcphub_server_set_frame_too_large_message(srv, (const uint8_t *)why, strlen(why));
 * ```
 *
 * Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
 */
int tcphub_server_set_frame_too_large_message(struct tcphub_server *s, const uint8_t *msg, size_t len);

/**
 * Sets how messages are delimited: `TCPHUB_FRAMING_RAW` (default),
 * `TCPHUB_FRAMING_LINES` or `TCPHUB_FRAMING_LENGTH_PREFIXED`, with the
 * largest accepted message in bytes (`max_len` 0: the framing's default;
 * RAW, which has no frames, takes only 0). Messages sent are framed the
 * same way.
 *
 * Returns `TCPHUB_ERR_INVALID_ARG` for an unknown framing value or a
 * `max_len` other than 0 with `TCPHUB_FRAMING_RAW` (the setting is then
 * left as it was),
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_framing(struct tcphub_server *s, tcphub_framing framing, size_t max_len);

/**
 * A message (`len` bytes at `msg`) sent to each connection refused because
 * `max_clients` clients are connected, framed like every other message,
 * just before the server closes it — so the peer learns why instead of
 * seeing a bare end-of-stream. `msg` NULL (with `len` 0) removes it; none
 * is the default. Until the peer has acknowledged the notice, the refused
 * socket lingers (input read and discarded, up to the linger time), so a
 * peer that keeps sending still gets all of it rather than a reset; past
 * 1,024 lingering sockets per event loop (or `max_clients`, if fewer) a
 * refused socket is closed at once and a peer still sending may get a
 * reset instead of the notice's rest. The bytes are copied. It is written once without
 * waiting, so `tcphub_server_start` fails with `TCPHUB_ERR_INVALID_ARG`
 * when its frame is longer than 4096 bytes, the message is over the
 * framing's `max_len`, or it contains `\n` under `TCPHUB_FRAMING_LINES`.
 * Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
 */
int tcphub_server_set_full_message(struct tcphub_server *s, const uint8_t *msg, size_t len);

/**
 * Keeps a client that finished sending (`shutdown(SHUT_WR)` after its
 * request, as `nc -N` does) open for your replies for up to `window_ms`
 * milliseconds, with callbacks and in pull mode alike (0, the default:
 * off) — for answers that come from worker threads. Its last messages are
 * handed out and its leaving is reported as usual (`on_disconnect` or
 * `TCPHUB_EVENT_DISCONNECTED`, `TCPHUB_REASON_CLOSED_BY_PEER`), but
 * `tcphub_server_send`, `_send_to` and broadcasts still reach it (it is
 * no longer listed or counted; it still counts toward `max_clients`). It
 * is closed, once what is queued for it is written (up to the linger
 * time), when you call `tcphub_server_disconnect` for it — do, once it is
 * answered: the client waits for that end —, when `window_ms` has passed
 * since its leaving was reported (in pull mode: since you took that
 * event; until then it is held, keeping its place), when a write to it
 * fails or the client resets it, when keepalive finds it gone, or at the
 * stop; no second leaving is reported. Off, a server with callbacks closes such a client
 * once the callbacks for its last messages have returned, and a
 * pull-mode server holds it until the next `tcphub_server_next_event`.
 * Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_hold_for_replies(struct tcphub_server *s, uint64_t window_ms);

/**
 * Disconnects clients that send nothing for `timeout_ms` milliseconds with
 * `TCPHUB_REASON_IDLE_TIMEOUT` (0, the default, turns it off). The clock
 * does not run while the server is not reading (its pull-mode event queue
 * full, input paused, or another event loop far behind: a client's last
 * message may be waiting for room meanwhile), nor for most of a turn of
 * an event loop that takes over 50 ms (a slow callback, or many callbacks'
 * work in one turn): it runs for 50 ms or an eighth of such a turn,
 * whichever is longer, so a loop whose turns are all that long still
 * times clients out, at worst eight times later. In pull mode, likewise
 * while the application works on the event it took before it calls
 * `tcphub_server_next_event` again or arms its ready fd (with several
 * threads taking events, a call by any of them ends it; the client may
 * be waiting for the answer): the clock runs for 50 ms or an eighth of
 * that time, and until an event loop first sees it (at its next
 * wakeup, a quarter of the shorter timeout at the latest).
 * Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_idle_timeout(struct tcphub_server *s, uint64_t timeout_ms);

/**
 * A message (`len` bytes at `msg`) sent, framed like every other message,
 * to each client cut off by the idle timeout
 * (`tcphub_server_set_idle_timeout`), before its connection is closed —
 * so the peer learns why instead of seeing a bare end-of-stream. It is
 * queued after what was already queued for the client (which gets the
 * linger time to take it all), even when the client's queue is full, and
 * is not counted in `tcphub_stats.msgs_out` (its bytes, once written, are
 * in `bytes_out`); the application's event still
 * says `TCPHUB_REASON_IDLE_TIMEOUT`. `msg` NULL (with `len` 0) removes it;
 * none is the default. The bytes are copied. `tcphub_server_start` fails
 * with `TCPHUB_ERR_INVALID_ARG` when its frame is longer than 4096 bytes,
 * the message is over the framing's `max_len`, or it contains `\n` under
 * `TCPHUB_FRAMING_LINES`. Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
 */
int tcphub_server_set_idle_timeout_message(struct tcphub_server *s, const uint8_t *msg, size_t len);

/**
 * Enables TCP keepalive probes on client connections after `idle_ms`
 * milliseconds without traffic (0, the default, leaves them off), so
 * peers that vanish without closing are disconnected
 * (`TCPHUB_REASON_IO`): probes go every third of the idle time (at least
 * 1 s), and 3 unanswered ones end the connection, about twice the idle
 * time after the peer's last traffic — also while data sent to it waits
 * for acknowledgement (the kernel resends it then instead of probing; the
 * server watches such connections itself). A live client that merely
 * stopped reading is not dropped for it. The kernel counts whole seconds:
 * `idle_ms` is rounded up to them; over 32,767 s (the most it takes)
 * `tcphub_server_start` fails with
 * `TCPHUB_ERR_INVALID_ARG`. Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_keepalive(struct tcphub_server *s, uint64_t idle_ms);

/**
 * How long `tcphub_server_stop` (and `tcphub_server_free`) keep writing
 * queued messages before closing the connections, in milliseconds
 * (default 2000; 0 closes at once). In pull mode it is also how long a
 * client that finished sending is held open for replies after its
 * `TCPHUB_EVENT_DISCONNECTED` was taken. Takes effect at the next
 * `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_linger(struct tcphub_server *s, uint64_t linger_ms);

/**
 * At most `n` clients from one IP address at a time (0, the default: no
 * limit but `max_clients`), so that one host cannot take all of
 * `max_clients`. A connection past it is accepted and closed at once, as
 * one past `max_clients` is, after the notice of
 * `tcphub_server_set_per_ip_full_message` if set, and counted in
 * `tcphub_stats.rejected_per_ip`; a client's place is given back when its
 * connection is closed, as its place among `max_clients` is (a client held
 * open for replies after its DISCONNECTED keeps it until then: in pull
 * mode until the next `tcphub_server_next_event`). An IPv4 client on a
 * dual-stack listener counts as its IPv4 address, an IPv6 one by all 128
 * bits unless `tcphub_server_set_per_ip_ipv6_prefix` says otherwise;
 * clients behind one NAT share an address. When the server is full
 * as well, `max_clients` decides: the connection gets the full notice and
 * counts in `tcphub_stats.rejected`. Takes effect at the next `tcphub_server_start`.
 *
 * ```c
 * tcphub_server *srv = tcphub_server_new(8001, 1000);
 * tcphub_server_set_max_clients_per_ip(srv, 8);
 * ```
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_max_clients_per_ip(struct tcphub_server *s, size_t n);

/**
 * Bounds the bytes waiting to be written to each client (0: the default,
 * 4 MiB); each queued message also counts 48 bytes of bookkeeping. A client
 * whose queue would grow past it is disconnected with
 * `TCPHUB_REASON_SLOW_CONSUMER` — or, under `TCPHUB_OVERFLOW_DROP_MESSAGE`
 * (`tcphub_server_set_overflow`), keeps its connection and loses that
 * message. One message larger than the bound is still queued when the
 * client's queue is empty (so any message can be sent); while it is being
 * written, what follows it meets the bound by itself (so a client reading
 * it gets that too; the queue holds at most that message plus the bound);
 * a timeout notice
 * (`tcphub_server_set_idle_timeout_message`, at most 4096 bytes) is
 * queued past it. Any other value is the bound as given, as for the Rust core's
 * `TcpServer::max_queue_bytes`; there is no "no limit" value, but
 * `SIZE_MAX` (like any bound beyond the memory) in effect removes the
 * bound: a client that does not read then keeps in memory everything sent
 * to it. Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_max_queue_bytes(struct tcphub_server *s, size_t bytes);

/**
 * Sets `TCP_NODELAY` on client connections (default true: small messages
 * go out at once instead of waiting to be coalesced). Takes effect at the
 * next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_nodelay(struct tcphub_server *s, bool on);

/**
 * What happens when a message does not fit a client's queue (see
 * `tcphub_server_set_max_queue_bytes`): `TCPHUB_OVERFLOW_DISCONNECT` (the
 * default) disconnects the client with `TCPHUB_REASON_SLOW_CONSUMER`;
 * `TCPHUB_OVERFLOW_DROP_MESSAGE` drops that message for that client and
 * counts it in `tcphub_stats.dropped`. Takes effect at the next
 * `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_INVALID_ARG` for another value,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_overflow(struct tcphub_server *s, int policy);

/**
 * Like `tcphub_server_set_full_message`, for connections refused because
 * `tcphub_server_set_max_clients_per_ip` clients from their IP address are
 * connected.
 *
 * Returns `TCPHUB_ERR_NULL` for `msg` NULL with `len` > 0,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server; `msg` is NULL or `len` readable bytes.
 */
int tcphub_server_set_per_ip_full_message(struct tcphub_server *s, const uint8_t *msg, size_t len);

/**
 * Counts IPv6 clients for `tcphub_server_set_max_clients_per_ip` by
 * network: those whose addresses share their first `bits` bits (1 to 128;
 * 128, the default: each address on its own) share one limit. An IPv6
 * host is commonly given a whole /64 and can connect from any address in
 * it; 64 counts such a host once. IPv4 clients always count by their
 * whole address. The engine's log lines of refusals (at
 * `TCPHUB_LOG_INFO`, see `tcphub_set_log_callback`) name the network,
 * `2001:db8:1:2::/64`; the counts are in `tcphub_server_stats`. Takes
 * effect at the next `tcphub_server_start`.
 *
 * ```c
 * tcphub_server_set_max_clients_per_ip(srv, 8);
 * tcphub_server_set_per_ip_ipv6_prefix(srv, 64);
 * ```
 *
 * Returns `TCPHUB_ERR_INVALID_ARG` for `bits` of 0 or over 128,
 * `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_per_ip_ipv6_prefix(struct tcphub_server *s, unsigned int bits);

/**
 * Sets the number of event-loop threads (default: one per core). Zero and
 * more than 4096 are reported by `tcphub_server_start` as
 * `TCPHUB_ERR_INVALID_ARG`. Takes effect at the next `tcphub_server_start`.
 *
 * Returns `TCPHUB_ERR_ALREADY_RUNNING` while the server runs.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_threads(struct tcphub_server *s, size_t threads);

/**
 * Sets a destructor for userdata: it is called once for each distinct
 * non-NULL userdata ever registered by a `tcphub_server_on_*` call that
 * returned `TCPHUB_OK` (with a NULL callback too; the userdata of a call
 * that failed stays the caller's), after the last callback has returned — when the server object is released (by
 * `tcphub_server_free`, or by the last event-loop thread if the server was
 * freed from inside a callback). NULL removes it. Unlike the other
 * setters it may also be called while the server runs: the destructor is
 * used only when the object is released.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_set_userdata_free(struct tcphub_server *s, tcphub_userdata_free_cb free_fn);

/**
 * Binds, listens and starts the event-loop threads. A stopped server may
 * be started again (with the same settings, on a new socket; created with
 * port 0, on a new port the system picks) — but not
 * from inside one of its own callbacks, where its previous run is still
 * ending on the calling thread. A restart first waits for a stop still
 * under way (`tcphub_server_begin_stop`, or a `_stop_timeout` that timed
 * out) to finish: its flush, its last callbacks. Client ids are never
 * reused: an id kept from a previous run names no client of the new one. When a restart fails, the server stays the
 * stopped previous run: `tcphub_server_port` and the events queued at its
 * stop are still there. A restart that succeeds discards the previous
 * run's events not yet taken (its last `TCPHUB_EVENT_DISCONNECTED`s among
 * them): in pull mode, take them first — `tcphub_server_next_event` until
 * it returns `TCPHUB_ERR_NOT_RUNNING`.
 *
 * Returns `TCPHUB_ERR_BIND` when the address cannot be bound (in use,
 * permission denied), `TCPHUB_ERR_INVALID_ARG` for an invalid setting,
 * `TCPHUB_ERR_ALREADY_RUNNING` (running; called from inside one of this
 * server's callbacks; or from a callback of another server or of a
 * client while the previous run is still stopping, which a callback
 * cannot wait for), `TCPHUB_ERR_IO`.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_start(struct tcphub_server *s);

/**
 * Fills `*stats_out` with the server's counters: while it runs, and after
 * it stopped (the final counts, until `tcphub_server_free`); all 0 for a
 * server never started. Callable from any thread, callbacks included.
 *
 * Returns `TCPHUB_ERR_NULL` when `s` or `stats_out` is NULL (`*stats_out`
 * is zeroed when it can be).
 *
 * ```c
 * tcphub_stats st;
 * if (tcphub_server_stats(s, &st) == TCPHUB_OK)
 *     printf("%llu clients, %llu messages in\n",
 *            (unsigned long long)st.clients, (unsigned long long)st.msgs_in);
 * ```
 *
 * # Safety
 *
 * `s` is NULL or a live server; `stats_out` is NULL or writable.
 */
int tcphub_server_stats(const struct tcphub_server *s, struct tcphub_stats *stats_out);

/**
 * Stops gracefully: stop accepting, flush queued messages (up to the
 * linger time, 2 s unless set with `tcphub_server_set_linger`),
 * report every remaining client as `TCPHUB_REASON_SERVER_STOPPED`, join the
 * event-loop threads and release the port. Idempotent; stopping a server
 * that was never started is not an error. From inside a callback — of this
 * server or of any other — it starts the stop and returns at once (a thread
 * cannot join itself, and two servers stopping each other would deadlock);
 * the next stop or free from another thread waits for the loops. Once
 * the stop has begun no more input is read: no message is handed to
 * `on_message` (or queued for `tcphub_server_next_event`) whose reply
 * would be refused; only a callback already running when another thread
 * stops the server gets `TCPHUB_ERR_NOT_RUNNING` from its sends.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_stop(struct tcphub_server *s);

/**
 * The first half of a two-phase shutdown: the server reads no more input
 * from any client — no `on_message` call and no message event from now on
 * — while everything else goes on: sends reach the clients, the events
 * already queued stay there to take, and the answers your worker threads
 * are still making get out. Then call `tcphub_server_stop`, which flushes
 * and closes as usual. What was read but not handed out yet (in pull mode
 * also the messages waiting for room in a full queue), and what clients
 * send afterwards, is dropped: the server goes on reading to drop it, so a
 * client that keeps writing is not held up, and one that leaves is closed
 * and reported as usual. Meanwhile the idle and frame timeouts wait, and
 * new clients are still accepted (the stop closes them). Idempotent, no
 * undo; callable from any thread and from inside a callback.
 *
 * Returns `TCPHUB_OK` (also for a server already stopped),
 * `TCPHUB_ERR_NOT_RUNNING` for a server never started (there is no input
 * to stop yet).
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_stop_input(struct tcphub_server *s);

/**
 * Stops gracefully like `tcphub_server_stop`, but waits at most
 * `timeout_ms` milliseconds for the flush, the last callbacks and the
 * event-loop threads. If they have not finished by then the stop goes on:
 * a later `tcphub_server_stop`, `_stop_timeout`, `_wait` or `_free`
 * finishes waiting. For a caller that must stay responsive (checking for
 * a signal between short waits, a service manager's deadline). From inside
 * a callback it starts the stop and returns at once, as
 * `tcphub_server_stop` does not wait there: `TCPHUB_ERR_TIMEOUT` unless
 * the server had already stopped (always from one of its own callbacks).
 *
 * Returns `TCPHUB_OK` once stopped (also for a server never started),
 * `TCPHUB_ERR_TIMEOUT` while the stop is still under way.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_stop_timeout(struct tcphub_server *s, uint64_t timeout_ms);

/**
 * Waits up to `timeout_ms` milliseconds (negative: without limit) until
 * the server has stopped — by `tcphub_server_stop` or `_begin_stop` from
 * a callback or another thread — and its event-loop threads have ended.
 * The way for a main thread to run a server that a callback (a "shutdown"
 * command) ends. Inside a callback — of this server or of any other — it
 * never waits for event-loop threads (inside one of this server's, the
 * loops cannot end while it runs; two servers' loops waiting for each
 * other would deadlock): once the server has stopped it returns at once,
 * whatever `timeout_ms`: `TCPHUB_OK` if the server's loops had already
 * ended, else `TCPHUB_ERR_TIMEOUT`; while the server runs it waits like
 * anywhere else — holding up the calling loop's clients, and with a
 * negative `timeout_ms` until another thread stops the server.
 *
 * Returns `TCPHUB_OK` once stopped (inside a callback: only once its loops
 * had ended, never inside one of its own callbacks),
 * `TCPHUB_ERR_TIMEOUT` when it still runs (or is still stopping) at the
 * deadline, `TCPHUB_ERR_NOT_RUNNING` for a server never started.
 *
 * # Safety
 *
 * `s` is NULL or a live server.
 */
int tcphub_server_wait(struct tcphub_server *s, int timeout_ms);

/**
 * Sends the engine's own log lines at `level` and more severe (a
 * `TCPHUB_LOG_*` value; `TCPHUB_LOG_OFF`, or `cb` NULL, for none) to `cb`,
 * with `userdata`, from now on, for every server and client in the
 * process. By default no line goes anywhere. Replaces the callback set
 * before: when this returns, the previous callback is not running and
 * will not be called again, so its `userdata` may be freed. Setting none
 * also ends the "tcphub-log" thread.
 *
 * The lines are those a Rust program gets through the `log` crate and the
 * `tcphub` command prints on stderr; see `tcphub_log_cb` for how they are
 * delivered. A process has one logger: if another Rust library in it (or
 * the tcphub Python module) installed one first, this fails.
 *
 * Returns `TCPHUB_OK`; `TCPHUB_ERR_INVALID_ARG` for a `level` outside 0 to
 * 5, or when called from inside the log callback; `TCPHUB_ERR_ALREADY_RUNNING`
 * when another logger is installed in the process; `TCPHUB_ERR_IO` when
 * the thread cannot be started. Thread-safe (calls wait for each other).
 *
 * ```c
 * static void on_log(void *userdata, int level, const char *target, const char *message) {
 *     (void)userdata;
 *     fprintf(stderr, "tcphub [%d] %s: %s\n", level, target, message);
 * }
 *
 * // warnings and errors: a server out of descriptors says so
 * tcphub_set_log_callback(on_log, TCPHUB_LOG_WARN, NULL);
 * // ...
 * tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL);
 * ```
 *
 * # Safety
 * `cb`, if not NULL, must be a function of this type; `userdata` must stay
 * usable until another call of this function returns.
 */
int tcphub_set_log_callback(tcphub_log_cb cb, int level, void *userdata);

/**
 * A static, human-readable description of `code` (a `TCPHUB_OK` or
 * `TCPHUB_ERR_*` value); "unknown error code" for anything else. Never NULL;
 * never free it.
 */
const char *tcphub_strerror(int code);

/**
 * The library version, e.g. "0.1.0"; the same as the header's
 * `TCPHUB_VERSION_MAJOR`, `_MINOR` and `_PATCH` unless the program runs
 * with another build of the library than it was compiled against.
 * Static; never free it.
 */
const char *tcphub_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif /* __cplusplus */

#endif /* TCPHUB_H */

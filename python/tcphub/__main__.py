"""``python -m tcphub serve``: the chat/relay/echo hub of the ``tcphub`` command.

The flags of ``tcphub serve`` (the Rust CLI)::

    python -m tcphub serve [--bind 0.0.0.0] [--port 8001] [--max 100]
        [--framing lines|len|raw] [--mode chat|relay|echo]
        [--idle-timeout SECS] [--frame-timeout SECS] [--keepalive SECS]
        [--stats SECS] [--threads N] [--busy-poll-us MICROS] [-v]

- ``chat`` (default): joins and leaves are announced to everyone
  (``client <ip:port> connected`` / ``client <ip:port> disconnected (<why>)``,
  each ending with a newline under ``raw`` framing) and each message is
  relayed to all as ``<ip:port>: <text>``; one that the prefix takes over
  the frame limit goes to no one, and its sender gets
  ``message not relayed: ...``; a connection over ``--max`` gets
  ``server full (<max> connected)`` before it is closed, and a client cut
  off by ``--idle-timeout`` or ``--frame-timeout`` is told why
  (``disconnected: nothing sent for <secs> s (idle timeout)``,
  ``disconnected: a message not finished within <secs> s (frame timeout)``).
- ``relay``: every frame goes verbatim to every client, sender included.
- ``echo``: every frame goes back to its sender.

SIGINT and SIGTERM stop the server gracefully (exit code 0); a second one while
the stop waits for slow clients ends it at once (exit code 128 + the signal's
number). A bind failure is
one line on stderr and exit code 1.

The log, the ``--stats`` lines and the ``tcphub: ...`` complaints go to
stderr and never wait for it, as in ``tcphub serve``: a line it cannot
take at once (a pipe nobody reads, full) is dropped and counted, and the
next one written is preceded by ``tcphub: N log lines dropped (stderr was
full)``. (A plain write there waited for a reader: the dispatcher thread
in a join's log line, running no callback any more, and the main thread
in "signal 15: stopping".)
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import select
import signal
import sys
import threading
import traceback
from typing import Callable, List, Optional

from . import (
    DEFAULT_MAX_FRAME,
    DEFAULT_MAX_LINE,
    MAX_BUSY_POLL,
    MAX_KEEPALIVE,
    MAX_THREADS,
    BindError,
    Client,
    FrameTooLarge,
    NoSuchClient,
    NotRunning,
    Stats,
    TcpHubError,
    TcpServer,
    __version__,
    set_engine_log_level,
)

log = logging.getLogger("tcphub")


class _Stderr:
    """Writes to stderr (descriptor 2) that never wait for it: a line it
    cannot take at once is dropped and counted, and the next line written
    is preceded by ``tcphub: N log lines dropped (stderr was full)``, as
    ``tcphub serve`` does (``cli/src/stderr.rs``). A failing write (a
    closed pipe, ``2>/dev/full``) is ignored, as a dropped line."""

    #: What a pipe takes in one piece once it has room for anything
    #: (``PIPE_BUF``): a line that long goes whole or not at all.
    PIECE = 4096

    def __init__(self, fd: int = 2) -> None:
        self._fd = fd
        # Re-entrant: a signal handler on the main thread may log while
        # that thread is writing a line. Held only for non-blocking calls.
        self._lock = threading.RLock()
        self._dropped = 0

    def write(self, text: str) -> None:
        """Writes ``text`` (whole lines, each ending with a newline) if
        stderr takes it now; drops and counts it otherwise."""
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        data = text.encode(encoding, "backslashreplace")
        with self._lock:
            if not self._writable_now():
                self._dropped += 1
                return
            if self._dropped:
                n, self._dropped = self._dropped, 0
                note = f"tcphub: {n} log line{'' if n == 1 else 's'} dropped (stderr was full)\n"
                data = note.encode() + data
            self._put(data)

    def _put(self, data: bytes) -> None:
        """Writes ``data`` a ``PIECE`` at a time, each once stderr has
        room; the rest of a line it stops taking midway is dropped."""
        view = memoryview(data)
        for start in range(0, len(view), self.PIECE):
            if start and not self._writable_now():
                self._dropped += 1
                return
            piece = view[start:start + self.PIECE]
            try:
                while piece:
                    # Room for a PIPE_BUF piece: taken whole, at once.
                    piece = piece[os.write(self._fd, piece):]
            except OSError:
                return

    def _writable_now(self) -> bool:
        """Whether stderr takes a write now without waiting; also when a
        write would fail at once (no reader, a closed descriptor): the
        write says so and is ignored."""
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        return bool(poller.poll(0))


_stderr = _Stderr()


class _StderrHandler(logging.Handler):
    """The log's handler: each record, formatted, through ``_stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        _stderr.write(line)

    def handleError(self, record: logging.LogRecord) -> None:
        """As ``logging``'s, through ``_stderr`` (not waiting either)."""
        if logging.raiseExceptions:
            _stderr.write(f"--- Logging error ---\n{traceback.format_exc()}")


#: The longest time the engine takes, in seconds (Rust's ``Duration::MAX``),
#: as ``tcphub serve`` says it.
_MAX_SECONDS = 18446744073709551615.999999999


#: The largest count the engine takes (Rust's ``usize::MAX``: 2**64 - 1 on a
#: 64-bit machine), as ``tcphub serve --max`` and ``TcpServer`` take it.
_SIZE_MAX = sys.maxsize * 2 + 1


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    # As `tcphub serve`: past the engine's range, or below its nanosecond,
    # a usage error here rather than a failed start.
    if not value < _MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds below {_MAX_SECONDS:e}, got {text}")
    if value < 1e-9:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, 1e-9 at least, got {text}")
    return value


def _stats_seconds(text: str) -> float:
    value = _positive_seconds(text)
    if value > threading.TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {threading.TIMEOUT_MAX:.0f} seconds, got {text}")
    return value


def _seconds_text(value: float) -> str:
    """``value`` seconds as ``tcphub serve`` writes them in its notices: to
    the nanosecond, without trailing zeros ("300", "1.5", "0.25")."""
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _ip(text: str) -> str:
    # IPv6 also in brackets, as "listening on [::1]:PORT" prints it; no
    # %zone (the server binds an address alone), as in `tcphub serve`.
    bracketed = text.startswith("[") and text.endswith("]")
    try:
        ip = ipaddress.ip_address(text[1:-1] if bracketed else text)
    except ValueError:
        ip = None
    if ip is None or "%" in text or (bracketed and ip.version != 6):
        raise argparse.ArgumentTypeError(
            f"not an IP address: {text!r} (e.g. 0.0.0.0, 127.0.0.1, :: or [::1])"
        )
    return str(ip)


def _int_in(low: int, high: int) -> "Callable[[str], int]":
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text}")
        return value

    return parse


def _micros(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of microseconds: {text!r}") from None
    most = MAX_BUSY_POLL * 1e6
    if not 0 <= value <= most:
        raise argparse.ArgumentTypeError(f"must be from 0 to {most:.0f} microseconds, got {text}")
    return value


def _keepalive_seconds(text: str) -> float:
    value = _positive_seconds(text)
    if value > MAX_KEEPALIVE:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_KEEPALIVE:.0f} seconds (the most the kernel takes), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``serve`` is the only command)."""
    parser = argparse.ArgumentParser(prog="python -m tcphub", description="tcphub from Python.")
    # As `tcphub --version` prints it.
    parser.add_argument("--version", action="version", version=f"tcphub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a chat/relay/echo hub")
    # Out-of-range values are usage errors (exit code 2), as in the Rust CLI.
    serve.add_argument("--bind", type=_ip, default="0.0.0.0",
                       help='local address ("::" for IPv6 + IPv4)')
    serve.add_argument("--port", type=_int_in(0, 65535), default=8001,
                       help="port (0 picks a free one)")
    serve.add_argument("--max", type=_int_in(1, _SIZE_MAX), default=100,
                       help="most clients connected at once")
    serve.add_argument("--max-per-ip", type=_int_in(1, _SIZE_MAX), metavar="N",
                       help="most clients from one IP address at once (default: no limit but --max)")
    # (None until given: only with --max-per-ip, as in `tcphub serve`.)
    serve.add_argument("--per-ip-v6-prefix", type=_int_in(1, 128), metavar="BITS",
                       help="count IPv6 clients for --max-per-ip by the first BITS bits of their "
                            "address (default 128: each address; 64: a host's whole /64); "
                            "needs --max-per-ip")
    # "length" is also taken for "len", as by `tcphub serve`.
    serve.add_argument("--framing", choices=["lines", "len", "raw"], default="lines",
                       type=lambda text: "len" if text == "length" else text)
    serve.add_argument("--mode", choices=["chat", "relay", "echo"], default="chat")
    serve.add_argument("--idle-timeout", type=_positive_seconds, metavar="SECS",
                       help="disconnect clients silent for this many seconds")
    serve.add_argument("--frame-timeout", type=_positive_seconds, metavar="SECS",
                       help="disconnect clients that start a message and do not finish it "
                            "within this many seconds (slowloris defence)")
    serve.add_argument("--keepalive", type=_keepalive_seconds, metavar="SECS",
                       help="TCP keepalive: probe clients after this many seconds without traffic "
                            "and drop those whose host vanished (3 unanswered probes)")
    serve.add_argument("--stats", type=_stats_seconds, metavar="SECS",
                       help="print a one-line summary to stderr every SECS seconds")
    serve.add_argument("--threads", type=_int_in(1, MAX_THREADS), help="event-loop threads (default: one per core)")
    serve.add_argument("--busy-poll-us", type=_micros, default=5.0, metavar="MICROS",
                       help="how long an idle event loop keeps polling before it sleeps")
    serve.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def make_hub(args: argparse.Namespace) -> TcpServer:
    """A configured (not started) server for ``args``."""
    # The hub's own notices are lines; raw framing adds no line end itself.
    end = "\n" if args.framing == "raw" else ""
    chat = args.mode == "chat"
    full = f"server full ({args.max} connected){end}".encode() if chat else None
    per_ip_full: Optional[bytes] = None
    if chat and args.max_per_ip is not None:
        most = args.max_per_ip
        per_ip_full = f"too many connections from your address (at most {most}){end}".encode()
    # A client cut off by a timeout is told why, as a refused one is.
    idle_note: Optional[bytes] = None
    frame_note: Optional[bytes] = None
    if chat and args.idle_timeout is not None:
        secs = _seconds_text(args.idle_timeout)
        idle_note = f"disconnected: nothing sent for {secs} s (idle timeout){end}".encode()
    if args.framing == "raw" and args.frame_timeout is not None:
        log.warning("--frame-timeout has no effect under raw framing (it has no frames)")
    if chat and args.frame_timeout is not None:
        secs = _seconds_text(args.frame_timeout)
        frame_note = (
            f"disconnected: a message not finished within {secs} s (frame timeout){end}".encode()
        )
    # So is one cut off for a message over the limit (a client of another
    # framing too: its line read as a length header).
    too_large_note: Optional[bytes] = None
    if chat and args.framing != "raw":
        limit = DEFAULT_MAX_LINE if args.framing == "lines" else DEFAULT_MAX_FRAME
        too_large_note = f"disconnected: a message over {limit} bytes (frame too large)".encode()
    server = TcpServer(
        args.port,
        args.max,
        framing=args.framing,
        bind=args.bind,
        idle_timeout=args.idle_timeout,
        frame_timeout=args.frame_timeout,
        keepalive=args.keepalive,
        threads=args.threads,
        busy_poll=args.busy_poll_us / 1e6,
        full_message=full,
        max_clients_per_ip=args.max_per_ip,
        per_ip_ipv6_prefix=128 if args.per_ip_v6_prefix is None else args.per_ip_v6_prefix,
        per_ip_full_message=per_ip_full,
        idle_timeout_message=idle_note,
        frame_timeout_message=frame_note,
        frame_too_large_message=too_large_note,
    )

    # (A client that half-closed, `printf 'hi\n' | ncat`, is held open for
    # replies until the next events are taken, broadcasts included, so
    # send_all brings its last lines back to it too, as `tcphub serve` does.)

    @server.on_connect
    def joined(client: Client) -> None:
        log.info("client %s connected", client)
        if args.mode == "chat":
            server.send_all(f"client {client} connected{end}".encode())

    @server.on_message
    def message(client: Client, data: bytes) -> None:
        if args.mode == "chat":
            try:
                server.send_all(f"{client}: ".encode() + data)
            except FrameTooLarge as e:
                # The address prefix took a line within the limit over it:
                # tell the sender instead of dropping it silently.
                notice = (
                    f"message not relayed: {e.length} bytes with the address prefix, "
                    f"over the frame limit of {e.limit}"
                )
                # Debug: the client's own doing, and it is told; a line per
                # message at the default level was the client's to flood
                # the log with (review lg).
                log.debug("client #%d %s: %s", client.id, client, notice)
                try:
                    server.send(client.id, notice.encode())
                except (NoSuchClient, NotRunning):
                    pass
        elif args.mode == "relay":
            server.send_all(data)
        else:
            try:
                server.send(client.id, data)
            except (NoSuchClient, NotRunning):
                pass  # it left (or we are stopping) meanwhile

    @server.on_disconnect
    def left(client: Client, reason: str) -> None:
        log.info("client %s disconnected (%s)", client, reason)
        if args.mode == "chat":
            # (A client that half-closed is still held open for replies
            # now: it must not get its own leave notice.)
            notice = f"client {client} disconnected ({reason}){end}".encode()
            server.send_all(notice, exclude=client.id)

    return server


def _count(n: int, what: str) -> str:
    """``n`` and ``what``, plural unless one: "1 client", "2 clients"."""
    return f"{n} {what}{'' if n == 1 else 's'}"


def _lost(s: Stats) -> int:
    """Messages a send took that did not reach their client, beyond the
    drops of full queues: sent after it left, or cut off unwritten."""
    return s.undelivered + s.unwritten


def _summary(a: Stats, b: Stats, secs: float) -> str:
    def rate(x: int, y: int) -> float:
        return max(y - x, 0) / max(secs, 1e-9)

    return (
        f"stats: clients {b.clients} | msgs/s in {rate(a.msgs_in, b.msgs_in):.0f} "
        f"out {rate(a.msgs_out, b.msgs_out):.0f} | bytes/s in {rate(a.bytes_in, b.bytes_in):.0f} "
        f"out {rate(a.bytes_out, b.bytes_out):.0f} | drops {b.dropped} lost {_lost(b)} slow {b.slow_consumers} "
        f"rejected {b.rejected + b.rejected_per_ip}"
    )


def _report(server: TcpServer, every: float, done: threading.Event) -> None:
    import time

    last, at = server.stats(), time.monotonic()
    while not done.wait(every):
        now, t = server.stats(), time.monotonic()
        _stderr.write(_summary(last, now, t - at) + "\n")
        last, at = now, t


def serve(args: argparse.Namespace) -> int:
    """Runs the hub until SIGINT/SIGTERM; returns the exit code."""
    try:
        server = make_hub(args)
    except TcpHubError as e:  # a value the constructor refuses (--threads 5000)
        _stderr.write(f"tcphub: {e}\n")
        return 1
    done = threading.Event()
    reporter: Optional[threading.Thread] = None
    # One try from here on: a signal that comes at any point (right after
    # the "listening on" line too) stops the hub gracefully, never a traceback.
    try:
        # SIGTERM ends the wait like Ctrl-C does. SIGINT too, set here: Python
        # leaves it ignored when it started so (a background job of a script),
        # while `tcphub serve` stops on it whatever it inherited.
        signal.signal(signal.SIGTERM, _first_signal)
        signal.signal(signal.SIGINT, _first_signal)
        try:
            server.start()
        except BindError as e:
            _stderr.write(f"tcphub: {e.strerror or e}\n")
            return 1
        except TcpHubError as e:
            _stderr.write(f"tcphub: {e}\n")
            return 1
        host, port = server.address
        if ":" in host:
            host = f"[{host}]"  # IPv6, written as tcphub serve (and `connect`) do
        log.info("listening on %s:%d (%s mode, %s framing, at most %s)",
                 host, port, args.mode, args.framing, _count(args.max, "client"))
        if args.stats:
            reporter = threading.Thread(
                target=_report, args=(server, args.stats, done), daemon=True
            )
            reporter.start()
        server.wait()
    except KeyboardInterrupt:
        # (No signal recorded: a KeyboardInterrupt raised otherwise, as
        # Python's default SIGINT handler would.)
        signum = _stop_asked[0] if _stop_asked is not None else int(signal.SIGINT)
        log.info("signal %d: stopping", signum)
    finally:
        done.set()  # no more summary lines: the hub is stopping
        # (Not started yet when the stop came as it was starting: it then
        # finds `done` set and writes nothing. Joining it raised.)
        if reporter is not None and reporter.is_alive():
            reporter.join()
        _stop(server)
    s = server.stats()
    # The refusals and the messages not delivered too, as `tcphub serve` says them.
    tail = f", {_count(s.rejected, 'connection')} refused (server full)" if s.rejected else ""
    if s.rejected_per_ip:
        tail += f", {_count(s.rejected_per_ip, 'connection')} refused (too many from one address)"
    not_delivered = s.dropped + _lost(s)
    if not_delivered:
        tail += (f", {_count(not_delivered, 'message')} not delivered (dropped from full queues, "
                 "sent after the client left, or cut off unwritten)")
    log.info("stopped: %s served, %s in, %d out%s", _count(s.accepted, "client"), _count(s.msgs_in, "message"),
             s.msgs_out, tail)
    return 0


#: A repeat of the signal that began the stop sooner than this (seconds)
#: after it is the same request, as in ``tcphub serve``: ``timeout`` signals
#: the process and then its group, microseconds apart.
_SAME_REQUEST = 0.3

#: The signal that began the stop, and when (``time.monotonic()``).
_stop_asked: "tuple[int, float] | None" = None


def _first_signal(signum: int, _frame: object) -> None:
    """Stops the hub (``KeyboardInterrupt`` ends its wait); a second signal
    from now on ends the process at once (see ``_signalled_again``)."""
    global _stop_asked
    import time

    _stop_asked = (signum, time.monotonic())
    signal.signal(signal.SIGTERM, _signalled_again)
    signal.signal(signal.SIGINT, _signalled_again)
    raise KeyboardInterrupt


def _signalled_again(signum: int, _frame: object) -> None:
    """A signal while the hub stops: exit now, code 128 + its number —
    unless it repeats the first one at once (the same request)."""
    import time

    if _stop_asked is not None and _stop_asked[0] == signum and time.monotonic() - _stop_asked[1] < _SAME_REQUEST:
        return
    log.warning("signal %d again: exiting without waiting for the clients", signum)
    logging.shutdown()
    os._exit(128 + signum)


def _stop(server: TcpServer) -> None:
    """Stops ``server`` gracefully, on a thread of its own.

    The stop waits (up to the linger time) for clients to take what is
    queued for them; a second SIGINT/SIGTERM means "now", as in ``tcphub
    serve``. Python runs signal handlers on the main thread only, so that
    thread stays free for them instead of blocking in ``stop()``.
    """
    stopper = threading.Thread(target=server.stop, name="tcphub-stop", daemon=True)
    stopper.start()
    while stopper.is_alive():
        stopper.join(0.1)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m tcphub``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        if args.per_ip_v6_prefix is not None and args.max_per_ip is None:
            # A usage error, as clap's `requires` makes it in `tcphub serve`.
            parser.error("argument --per-ip-v6-prefix: needs --max-per-ip")
    level = [logging.INFO, logging.DEBUG][min(args.verbose, 1)]
    # Through `_stderr`: a full stderr drops lines instead of stalling the hub.
    logging.basicConfig(level=level, format="%(levelname)s tcphub: %(message)s",
                        handlers=[_StderrHandler()])
    # The core's own lines (an accept failure, refusals at a full hub) come
    # through `logging` as "tcphub.*" records; -v: its debug lines too.
    set_engine_log_level([logging.INFO, logging.DEBUG, 5][min(args.verbose, 2)])
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover  (argparse requires a command)


if __name__ == "__main__":
    sys.exit(main())

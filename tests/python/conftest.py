"""Shared helpers for the Python tests.

Every server binds 127.0.0.1 port 0; every wait is bounded. pytest is
configured (pyproject.toml) so an exception reaching ``sys.unraisablehook``
fails the run; a test that expects one installs ``unraisable`` below, which
records instead.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator, List, Optional, TextIO, Tuple

import pytest

import tcphub

#: Upper bound for any wait in the tests (generous: 2 shared cores, noisy).
WAIT = 30.0


#: A test still running after this many seconds is hung: dump every thread's
#: stack and exit the run (non-zero) instead of stalling CI.
HANG = 180.0


#: Where a hang's stack dump goes: the run's stderr as it was before pytest
#: captured it for the test (a dump into the capture was lost with the run:
#: a hung run exited 1 without a word about which test hung, or where).
_HANG_OUT: Optional[TextIO] = None


def pytest_configure(config: pytest.Config) -> None:
    global _HANG_OUT
    _HANG_OUT = open(os.dup(2), "w")  # capture is suspended here


def pytest_unconfigure(config: pytest.Config) -> None:
    global _HANG_OUT
    if _HANG_OUT is not None:
        _HANG_OUT.close()
        _HANG_OUT = None


@pytest.fixture(autouse=True)
def _hang_watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG, exit=True, file=_HANG_OUT or sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


def wait_until(pred: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
    """Polls ``pred`` until true; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def finish(proc: "subprocess.Popen[str]") -> Tuple[str, str]:
    """Waits (at most WAIT) for a child process to end: its stdout and
    stderr; kills it and fails the test if it does not end."""
    try:
        return proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child did not finish\nstdout: {out}\nstderr: {err}")


#: The Python examples (``examples/python``).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def spawn_python(code: str, *args: str) -> "subprocess.Popen[str]":
    """A child Python running ``code`` (dedented; none: only ``args``)
    with ``args``, its output piped as text."""
    return subprocess.Popen(
        [sys.executable, *(["-c", textwrap.dedent(code)] if code else []), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dash_m_hub(*flags: str) -> tcphub.TcpServer:
    """The hub ``python -m tcphub serve FLAGS`` runs, built in this process
    on 127.0.0.1, port 0, and started."""
    from tcphub.__main__ import build_parser, make_hub

    args = build_parser().parse_args(["serve", "--bind", "127.0.0.1", "--port", "0", *flags])
    server = make_hub(args)
    server.start()
    return server


def example_server(name: str, *args: str) -> "Tuple[subprocess.Popen[str], int]":
    """Starts example ``name`` (in ``EXAMPLES``, with ``args``) on 127.0.0.1
    and a free port: the process and the port its first line says it
    listens on."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), "--port", "0", "--bind", "127.0.0.1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"no listening line: {line!r}{out!r}\nstderr: {err}")
    return proc, int(m.group(1))


class Ended:
    """What a stopped example printed (set once it has ended)."""

    out: str = ""
    err: str = ""


@contextlib.contextmanager
def running_example(name: str, *args: str,
                    stop: signal.Signals = signal.SIGINT) -> Iterator[Tuple[int, Ended]]:
    """Example ``name`` running as :func:`example_server` starts it: its
    port, and what it printed once the block is over and ``stop`` has
    ended it, which it must do with exit code 0 and no traceback."""
    proc, port = example_server(name, *args)
    ended = Ended()
    try:
        yield port, ended
    finally:
        proc.send_signal(stop)
        ended.out, ended.err = finish(proc)
    assert proc.returncode == 0, ended.err
    assert "Traceback" not in ended.err, ended.err


def connect(server: tcphub.TcpServer) -> socket.socket:
    """A plain stdlib socket connected to ``server``."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return s


@contextlib.contextmanager
def full_backlog_listener() -> Iterator[Tuple[socket.socket, List[socket.socket]]]:
    """A loopback listener whose accept backlog is full: the kernel drops
    the SYNs of further connects, so they neither succeed nor fail (until
    their timeout) while it stays full. Yields the listener and the
    sockets that fill it (some connected, the rest still retrying); all
    are closed afterwards."""
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        fill: List[socket.socket] = []
        try:
            for _ in range(4):
                s = socket.socket()
                fill.append(s)
                s.setblocking(False)
                try:
                    s.connect(lst.getsockname())
                except BlockingIOError:
                    pass
            _, connected, _ = select.select([], fill, [], WAIT)
            assert any(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for s in connected)
            yield lst, fill
        finally:
            for s in fill:
                s.close()


def flushing_pull_server(linger: float) -> Tuple[tcphub.TcpServer, socket.socket]:
    """A running pull-mode server (length framing) whose one client never
    reads, with ~6 MB queued for it: its stop flushes for up to ``linger``.
    Returns the server and the client's socket (close it to let the stop
    end)."""
    server = tcphub.TcpServer(0, 10, bind="127.0.0.1", framing="length", linger=linger,
                              max_queue_bytes=64 << 20).start()
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", server.port))
    wait_until(lambda: server.client_count == 1, what="the client")
    (client,) = server.clients()
    for _ in range(100):
        server.send(client, b"x" * 60000)  # ~6 MB the reader never takes
    return server, reader


def read_to_eof(sock: socket.socket) -> "int | str":
    """Reads ``sock`` until the peer closes (each read bounded by WAIT):
    how many bytes came, or, if it failed, what came and the error."""
    n = 0
    sock.settimeout(WAIT)
    try:
        while chunk := sock.recv(1 << 20):
            n += len(chunk)
    except OSError as e:
        return f"{n} bytes, then {e!r}"
    return n


class LineReader:
    """Reads newline-framed messages from a stdlib socket, with a bound."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self, timeout: float = WAIT) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timed out waiting for a line (have {self.buf!r})")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                pytest.fail(f"connection closed while waiting for a line (have {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def lines(self, n: int, timeout: float = WAIT) -> List[bytes]:
        return [self.line(timeout) for _ in range(n)]


@contextlib.contextmanager
def held_backlog(
    server: tcphub.TcpServer,
    clients: int,
    per: int,
    on_held: Callable[[tcphub.Client, int, int], None],
) -> Iterator[Tuple[List[socket.socket], int]]:
    """Starts a callback server (length framing, one loop, an
    ``event_capacity`` of at least ``clients * per``) with ``clients + 1``
    clients connected, and leaves it with input paused and a backlog of
    ``per`` messages from each of ``clients`` clients taken from the queue
    by the callback thread and held back for the paused input: the first
    client's message kept ``on_message`` busy while the others' were
    queued. Each held message, once handed out, goes to ``on_held(client,
    who, seq)`` (``who`` counts the senders from 0). Yields the sockets
    (the busy one first; it sends nothing more) and that client's id; at
    the end the callback is let go and the sockets closed. (A caller's own
    ``on_disconnect`` is set before this.)"""
    gate = threading.Event()
    first: List[int] = []

    def on_message(c: tcphub.Client, data: bytes) -> None:
        if data == b"first":
            first.append(c.id)
            gate.wait(4 * WAIT)
            return
        who, seq = struct.unpack(">II", data)
        on_held(c, who, seq)

    server.on_message(on_message)
    server.start()
    socks: List[socket.socket] = []
    try:
        for _ in range(clients + 1):
            socks.append(socket.create_connection(("127.0.0.1", server.port)))
        wait_until(lambda: len(server.clients()) == clients + 1, what="all connected")
        socks[0].sendall(struct.pack(">I", 5) + b"first")
        wait_until(lambda: bool(first), what="the callback thread busy")
        # The callback thread is busy: everything sent now queues.
        for who, s in enumerate(socks[1:]):
            s.sendall(b"".join(struct.pack(">III", 8, who, seq) for seq in range(per)))
        wait_until(lambda: server.pending_events == clients * per,
                   what="every message queued")
        server.pause_input()
        gate.set()
        # The callback thread takes the queue and holds it all for input.
        wait_until(lambda: server.pending_events == 0, what="the queue taken")
        yield socks, first[0]
    finally:
        gate.set()
        for s in socks:
            s.close()


@pytest.fixture
def make_server() -> Iterator[Callable[..., tcphub.TcpServer]]:
    """Creates servers on 127.0.0.1:0 (not started) and stops them after the test."""
    servers: List[tcphub.TcpServer] = []

    def make(max_clients: int = 100, **kw: object) -> tcphub.TcpServer:
        kw.setdefault("bind", "127.0.0.1")
        s = tcphub.TcpServer(0, max_clients, **kw)  # type: ignore[arg-type]
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def echo_server(make_server: Callable[..., tcphub.TcpServer]) -> tcphub.TcpServer:
    """A started lines-framed server that sends each message back to its sender."""
    server = make_server(framing="lines")

    @server.on_message
    def echo(client: tcphub.Client, data: bytes) -> None:
        try:
            server.send(client.id, data)
        except (tcphub.NoSuchClient, tcphub.NotRunning):
            pass  # the client left, or the test is stopping the server

    return server.start()


def callback_errors_of_a_line(server: tcphub.TcpServer) -> List[BaseException]:
    """Starts the lines-framed ``server``, sends it one line from a client
    with ``RuntimeWarning`` an error (a coroutine left unawaited fails), and
    returns what its ``on_error`` (set here) got once the first came; the
    server is stopped."""
    reported: List[BaseException] = []
    done = threading.Event()

    @server.on_error
    def on_error(exc: BaseException, event: tcphub.Event) -> None:
        reported.append(exc)
        done.set()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with server:
            with tcphub.TcpClient("127.0.0.1", server.port, framing="lines") as client:
                client.send(b"hi")
                assert done.wait(WAIT), "no callback error reported"
    return reported


class Unraisables:
    """Records ``sys.unraisablehook`` calls (from any thread)."""

    def __init__(self) -> None:
        self.seen: List["sys.UnraisableHookArgs"] = []
        self.cond = threading.Condition()

    def __call__(self, args: "sys.UnraisableHookArgs") -> None:
        with self.cond:
            self.seen.append(args)
            self.cond.notify_all()

    def wait(self, n: int = 1, timeout: float = WAIT) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.seen) >= n, timeout):
                pytest.fail(f"expected {n} unraisable exception(s), saw {len(self.seen)}")


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> Unraisables:
    """Installs a recording ``sys.unraisablehook`` for a test that expects one."""
    rec = Unraisables()
    monkeypatch.setattr(sys, "unraisablehook", rec)
    return rec

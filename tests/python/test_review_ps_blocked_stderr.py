"""Review ps: ``python -m tcphub serve`` whose stderr is a pipe nobody reads
(full at 64 KiB: ``subprocess.Popen(stderr=PIPE)`` never read, a ``2>&1 |``
reader that stopped), as ``tcphub serve`` in
``cli/tests/review_sg_blocked_stderr.rs``. Its ``logging`` handler waited
in a write to the full pipe, holding the handler's lock: the dispatcher
thread waited in a join's log line (no callback ran any more: no echo),
and the main thread in "signal 15: stopping" (no SIGTERM stopped it). A
line stderr cannot take now is dropped and counted instead, and the next
one that goes through says ``tcphub: N log lines dropped (stderr was
full)``."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from typing import Iterator, Optional

import pytest

from conftest import WAIT, LineReader


class PipedHub:
    """``python -m tcphub serve`` on 127.0.0.1 whose stderr is a pipe held
    here, read up to its "listening on" line, then no more until
    :meth:`drain`."""

    def __init__(self, *flags: str) -> None:
        r, w = os.pipe2(os.O_CLOEXEC)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1", "--port", "0", *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=w,
        )
        self._r = r
        self._w: Optional[int] = w  # another descriptor of the write end
        self._filled = 0
        self.port = int(self._read_until(rb"listening on 127\.0\.0\.1:(\d+) ").group(1))

    def _read_until(self, pattern: bytes) -> "re.Match[bytes]":
        """Reads the hub's stderr a byte at a time (nothing past the line
        matching ``pattern``)."""
        line = b""
        while True:
            b = os.read(self._r, 1)
            assert b, f"the hub's stderr ended: {line!r}"
            line += b
            if b == b"\n":
                m = re.search(pattern, line)
                if m:
                    return m
                line = b""

    def fill(self) -> None:
        """Fills the pipe to the brim: from now on a write of the hub's to
        stderr waits until :meth:`drain` — or would, were it a plain one."""
        assert self._w is not None
        # A description of our own, non-blocking: O_NONBLOCK on a dup would
        # set it on the hub's stderr too.
        fill = os.open(f"/proc/self/fd/{self._w}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.close(self._w)
        self._w = None
        try:
            for size in (4096, 1):
                chunk = b"x" * size
                while True:
                    try:
                        self._filled += os.write(fill, chunk)
                    except BlockingIOError:
                        break
        finally:
            os.close(fill)

    def drain(self) -> "queue.Queue[Optional[str]]":
        """Reads the hub's stderr from now on: the filling at once, then
        its lines (None at its end) into the queue returned."""
        filling = b""
        while len(filling) < self._filled:
            part = os.read(self._r, self._filled - len(filling))
            assert part, "the hub's stderr ended"
            filling += part
        assert filling == b"x" * self._filled, "the hub wrote in the middle of it"
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def read() -> None:
            with os.fdopen(self._r, "rb", closefd=False) as f:
                for line in f:
                    lines.put(line.decode(errors="replace"))
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        return lines

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._w is not None:
            os.close(self._w)


@contextlib.contextmanager
def piped_hub(*flags: str) -> Iterator[PipedHub]:
    hub = PipedHub(*flags)
    try:
        yield hub
    finally:
        hub.close()


def wait_line(lines: "queue.Queue[Optional[str]]", what: str) -> str:
    """The first line coming containing ``what`` (within WAIT)."""
    while True:
        try:
            line = lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no line with {what!r} within {WAIT} s")
        assert line is not None, f"the hub's stderr ended before a line with {what!r}"
        if what in line:
            return line


def echoed(port: int, text: bytes) -> socket.socket:
    """A client that sent ``text`` and got its echo (the read times out
    after WAIT)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.sendall(text + b"\n")
    assert LineReader(s).line() == text
    return s


def test_python_dash_m_serve_a_full_stderr_does_not_stall_the_hub() -> None:
    with piped_hub("--mode", "echo") as hub:
        hub.fill()
        # Its join is logged on the dispatcher thread: it waited there and
        # no callback ran, the echo never came (the read timed out).
        a = echoed(hub.port, b"still served")
        lines = hub.drain()
        b = echoed(hub.port, b"and again")
        note = wait_line(lines, "dropped (stderr was full)")
        assert note.startswith("tcphub: 1 log line dropped (stderr was full)"), note
        wait_line(lines, "client %s:%d connected" % b.getsockname())
        a.close()
        b.close()


def test_python_dash_m_serve_a_full_stderr_does_not_keep_the_hub_from_stopping() -> None:
    with piped_hub("--mode", "echo") as hub:
        hub.fill()
        # Taken in (its join logged, or dropped) before the stop.
        a = echoed(hub.port, b"in")
        hub.proc.send_signal(signal.SIGTERM)
        # It waited in "signal 15: stopping".
        try:
            code = hub.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail("the hub did not exit after SIGTERM")
        assert code == 0
        assert a.recv(100) == b""  # the hub closed it on the way out
        a.close()


def test_python_dash_m_serve_a_full_stderr_stops_on_sigterm_with_no_client() -> None:
    # Nothing but the main thread's "signal 15: stopping" in the way.
    with piped_hub("--mode", "echo") as hub:
        hub.fill()
        hub.proc.send_signal(signal.SIGTERM)
        try:
            code = hub.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail("the hub did not exit after SIGTERM")
        assert code == 0


def test_python_dash_m_serve_stats_lines_do_not_wait_for_stderr() -> None:
    # The --stats reporter wrote its lines with print(), which waits for a
    # full stderr as the log did (and the stop joins it); they go through
    # the same writer now, dropped and counted alike.
    with piped_hub("--mode", "echo", "--stats", "0.05") as hub:
        hub.fill()
        a = echoed(hub.port, b"in")  # its join's line was dropped, at least
        lines = hub.drain()
        note = wait_line(lines, "dropped (stderr was full)")
        assert re.match(r"tcphub: \d+ log lines? dropped \(stderr was full\)$", note), note
        wait_line(lines, "stats: clients 1 |")
        hub.proc.send_signal(signal.SIGTERM)
        wait_line(lines, "stopped: 1 client served")
        assert hub.proc.wait(timeout=WAIT) == 0
        a.close()


def test_python_dash_m_serve_stops_with_stderr_full_to_the_end() -> None:
    # Full all along, --stats too: exit 0, and nothing written past the
    # filling (no line cut short into it).
    with piped_hub("--mode", "echo", "--stats", "0.05") as hub:
        hub.fill()
        a = echoed(hub.port, b"in")
        hub.proc.send_signal(signal.SIGTERM)
        try:
            code = hub.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail("the hub did not exit after SIGTERM")
        assert code == 0
        assert a.recv(100) == b""
        a.close()
        lines = hub.drain()
        assert lines.get(timeout=WAIT) is None  # nothing after the filling

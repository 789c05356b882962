"""``python -m tcphub serve`` and signals while it stops (as ``tcphub serve``)."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator, Tuple

from conftest import WAIT


@contextlib.contextmanager
def _lingering_hub() -> Iterator[Tuple["subprocess.Popen[str]", socket.socket]]:
    """An echo hub whose graceful stop lingers (up to the linger time): a
    client sent it 2 MB and reads none of the echo, so most of it waits in
    the hub, past this socket's receive window. Yields the hub's process
    and the client; kills the hub if it is still running after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcphub", "serve", "--bind", "127.0.0.1",
         "--port", "0", "--mode", "echo", "--framing", "raw"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        assert m, line
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=WAIT) as s:
            s.sendall(b"x" * (2 << 20))
            assert len(s.recv(1, socket.MSG_PEEK)) == 1, "the echo started"
            yield proc, s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_python_dash_m_serve_exits_at_once_on_a_second_signal_while_stopping() -> None:
    # The graceful stop waits (up to the linger time) for a client that does
    # not read; a second signal meanwhile was ignored. Now it ends the hub
    # at once with the shell's code for the signal, as `tcphub serve` does.
    with _lingering_hub() as (proc, _):
        assert proc.stderr is not None
        proc.send_signal(signal.SIGTERM)
        while "stopping" not in (line := proc.stderr.readline()):
            assert line, "the hub ended without saying it was stopping"
        # Which signal, as `tcphub serve` says it.
        assert f"signal {int(signal.SIGTERM)}: stopping" in line, line
        # Another signal (the same one at once would be the same request:
        # see below).
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        assert proc.wait(timeout=WAIT) == 128 + signal.SIGINT, err
    assert "again: exiting without waiting" in err, err


def test_python_dash_m_serve_takes_one_request_delivered_twice_for_one_graceful_stop() -> None:
    # `timeout` signals the process and then its group: one request, two
    # SIGTERMs microseconds apart, which must not skip the graceful stop
    # (`tcphub serve` did, in 6 of 12 runs: a review).
    with _lingering_hub() as (proc, s):
        assert proc.stderr is not None
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        got = 0
        while chunk := s.recv(1 << 16):
            got += len(chunk)
        err = proc.stderr.read()
        assert proc.wait(timeout=WAIT) == 0, err
    assert got == 2 << 20, (got, err)
    assert "again" not in err, err
